"""vultfs audit: shares of two or more devices of one vault and generation
in the places scanned, and whether they reach the signing threshold (2 of 2,
2 of 3, ceil(2n/3) of n). On synthetic vaults (mkvault), on stores found
among the paths, and on the real fixtures.

Environment: VULTFS_BIN, VULTFS_MKVAULT, VULTFS_FIXTURES (optional).
"""
import json
import shutil
from pathlib import Path

import pytest

from test_store_cli import (FIXTURES, VULTFS, import_ok, mkvault, needs_fixtures, new_vault,
                            pp, run, snapshot, store, write_secret)
from test_check import FIXTURE_PASSWORDS


def audit(*args):
    return run([VULTFS, "audit", *args])


def audit_json(*args, status):
    r = audit("--json", *args)
    assert r.returncode == status, (r.stdout, r.stderr)
    assert r.stderr == ""
    report = json.loads(r.stdout)
    assert report["ok"] is (status == 0)
    return report


def by_vault(report):
    return {f["vault"]: f for f in report["findings"]}


def test_two_of_three_together_can_sign_one_alone_cannot(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    a = new_vault(disk / "a.vult", "--name", "Trio", "--device", "a", "--signers", "a,b,c")
    report = audit_json(disk, status=0)
    assert report["findings"] == [] and report["shares_read"] == 1
    (disk / "deep" / "er").mkdir(parents=True)
    mkvault(disk / "deep" / "er" / "b.vult", "--from", a, "--device", "b", "--tag", "b")
    f = by_vault(audit_json(disk, status=1))["Trio"]
    assert (f["devices"], f["threshold"], f["signers"], f["can_sign"]) == (2, 2, 3, True)
    assert sorted(s["device"] for s in f["shares"]) == ["a", "b"]


def test_below_threshold_is_reported_but_cannot_sign(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    a = new_vault(disk / "a.vult", "--name", "Quad", "--device", "a", "--signers", "a,b,c,d")
    mkvault(disk / "b.vult", "--from", a, "--device", "b", "--tag", "b")
    r = audit(disk)
    assert r.returncode == 1
    assert "together" in r.stdout and "CAN SIGN" not in r.stdout
    assert "vultfs: audit: vault 'Quad': shares of 2 devices" in r.stdout
    assert "3 of 4 needed to sign" in r.stdout
    mkvault(disk / "c.vult", "--from", a, "--device", "c", "--tag", "c")
    f = by_vault(audit_json(disk, status=1))["Quad"]
    assert (f["devices"], f["threshold"], f["can_sign"]) == (3, 3, True)


def test_different_generations_are_not_together(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    a = new_vault(disk / "old-a.vult", "--device", "a", "--signers", "a,b")
    mkvault(disk / "new-b.vult", "--from", a, "--device", "b", "--signers", "a,b,c",
            "--tag", "n")
    r = audit(disk)
    assert r.returncode == 0, r.stdout
    assert "no vault has shares of two devices of one generation here" in r.stdout


def test_a_store_among_the_paths(tmp_path, store, pp):
    a = new_vault(tmp_path / "a.vult", "--name", "Kept", "--device", "a", "--signers", "a,b")
    import_ok(store, pp, a)
    disk = tmp_path / "disk"
    disk.mkdir()
    b = mkvault(disk / "b.vult", "--from", a, "--device", "b", "--tag", "b")
    before = snapshot(store, with_lock=True)
    f = by_vault(audit_json("--passphrase-file", pp, store, disk, status=1))["Kept"]
    assert f["can_sign"] is True
    assert any("store" in s["where"] and s["device"] == "a" for s in f["shares"])
    assert snapshot(store, with_lock=True) == before
    # without its passphrase the store is reported as unreadable: exit 1
    report = audit_json(store, disk, status=1)
    assert report["findings"] == []
    assert [u["path"] for u in report["unreadable"]] == [str(store)]


def test_usage(tmp_path):
    assert audit().returncode == 2
    assert audit("--nope", tmp_path).returncode == 2
    r = audit("--help")
    assert r.returncode == 0 and "usage: vultfs audit" in r.stdout


@needs_fixtures
def test_fixtures_every_vault_can_sign_from_that_folder(tmp_path):
    pw = write_secret(tmp_path / "pw.txt", FIXTURE_PASSWORDS)
    report = audit_json("--import-passwords", pw, FIXTURES, status=1)
    found = by_vault(report)
    assert found["QA Secure Vault 01"]["devices"] == 3
    assert found["QA Secure Vault 01"]["threshold"] == 2
    assert found["TestFastVault"]["can_sign"] is True
    assert found["TestVault"]["threshold"] == 2  # 3 signers, 2 of them here
    assert "JP Honeypot Vault" not in found  # one device's share only
    assert report["unreadable"] == []


@needs_fixtures
def test_fixture_pair_split_over_two_places(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    shutil.copy(Path(FIXTURES) / "Test-part1of2.vult", one)
    shutil.copy(Path(FIXTURES) / "Test-part2of2.vult", two)
    assert audit(one).returncode == 0
    assert audit(two).returncode == 0
    assert by_vault(audit_json(one, two, status=1))["Test private key vault"]["can_sign"]


def test_a_zip_and_a_file_on_one_disk(tmp_path):
    import zipfile
    disk = tmp_path / "disk"
    disk.mkdir()
    a = new_vault(tmp_path / "a.vult", "--name", "Zipped", "--device", "a", "--signers", "a,b")
    mkvault(disk / "b.vult", "--from", a, "--device", "b", "--tag", "b")
    assert audit(disk).returncode == 0
    with zipfile.ZipFile(disk / "vaults_backup_2026-01-02_030405.zip", "w") as z:
        z.writestr("Zipped-0001-share1of2.vult", a.read_bytes())
    f = by_vault(audit_json(disk, status=1))["Zipped"]
    assert f["can_sign"] is True
    assert any(s["where"].endswith(".zip:Zipped-0001-share1of2.vult") for s in f["shares"])
