"""vultfs check: is each backup current? Against a store (synthetic reshares
made with mkvault, and the real fixtures) and, with no store, the files
against each other. check changes nothing and works while the store is
locked by a mount.

Environment: VULTFS_BIN, VULTFS_MKVAULT, VULTFS_FIXTURES (optional).
"""
import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from test_store_cli import (FIXTURES, VULTFS, import_ok, mkvault, needs_fixtures, new_vault,
                            pp, run, snapshot, store, write_secret)

FIXTURE_PASSWORDS = "Password123!\nvulticli01\nandroid_test_pwd\nios_test_pwd"


def check(*args):
    return run([VULTFS, "check", *args])


def check_json(*args, status):
    r = check("--json", *args)
    assert r.returncode == status, (r.stdout, r.stderr)
    assert r.stderr == ""
    report = json.loads(r.stdout)
    assert report["ok"] is (status == 0)
    return {Path(f["path"]).name: f for f in report["files"]}


@pytest.fixture
def reshared(tmp_path, store, pp):
    """A vault of devices a and b, reshared to a, b, c; the store holds a's line."""
    d = tmp_path / "files"
    d.mkdir()
    old = new_vault(d / "old-a.vult", "--device", "a", "--signers", "a,b")
    new = mkvault(d / "new-a.vult", "--from", old, "--signers", "a,b,c", "--tag", "g2")
    import_ok(store, pp, old, new)
    return d, old, new


def test_stale_current_other_device_and_strangers(tmp_path, store, pp, reshared):
    d, old, new = reshared
    mkvault(d / "old-b.vult", "--from", old, "--device", "b", "--tag", "b1")
    mkvault(d / "new-c.vult", "--from", new, "--device", "c", "--tag", "c2")
    mkvault(d / "newer-a.vult", "--from", new, "--signers", "a,c", "--tag", "g3")
    new_vault(d / "stranger.vult")
    (d / "notes.txt").write_text("not a backup\n")
    (d / "broken.vult").write_text("this is no base64 at all!")
    before = snapshot(store, with_lock=True)

    files = check_json("--passphrase-file", pp, store, d, status=1)
    assert files["old-a.vult"]["status"] == "stale"
    assert files["old-a.vult"]["epoch"] == 1
    assert files["old-a.vult"]["superseded_by"] == 2
    assert len(files["old-a.vult"]["superseded_on"]) == 10  # YYYY-MM-DD
    assert files["old-b.vult"]["status"] == "stale"  # another device, old generation
    assert files["new-a.vult"]["status"] == "current"
    assert files["new-a.vult"]["device"] == "a"
    assert files["new-c.vult"]["status"] == "other-device"
    assert files["newer-a.vult"]["status"] == "newer"
    assert files["stranger.vult"]["status"] == "not-held"
    assert files["notes.txt"]["status"] == "not-a-backup"
    assert files["broken.vult"]["status"] == "unreadable"
    assert snapshot(store, with_lock=True) == before


def test_table_for_people_and_exit_zero_when_all_current(store, pp, reshared):
    d, old, new = reshared
    r = check("--passphrase-file", pp, store, new)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["STATUS", "VAULT", "DEVICE", "FILE"]
    assert lines[1].startswith("current ")
    assert str(new) in lines[1]
    r = check("--passphrase-file", pp, store, old)
    assert r.returncode == 1
    assert "superseded by epoch 2" in r.stdout


def test_works_while_the_store_is_locked_by_a_mount(store, pp, reshared):
    d, old, new = reshared
    with open(store / "lock", "r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = run([VULTFS, "import", "--passphrase-file", pp, store, new])
        assert busy.returncode == 1 and "in use" in busy.stderr  # the lock is held
        files = check_json("--passphrase-file", pp, store, old, new, status=1)
    assert files["old-a.vult"]["status"] == "stale"
    assert files["new-a.vult"]["status"] == "current"


def test_wrong_passphrase_and_usage(tmp_path, store, reshared):
    d, old, new = reshared
    wrong = write_secret(tmp_path / "wrong.txt", "not the passphrase")
    r = check("--passphrase-file", wrong, store, new)
    assert r.returncode == 1
    assert r.stderr.startswith("vultfs: ") and "wrong passphrase" in r.stderr
    assert check().returncode == 2
    assert check("--passphrase-file", wrong, store).returncode == 2
    assert check("--bogus", new).returncode == 2


def test_without_store_files_against_each_other(tmp_path):
    d = tmp_path / "usb"
    d.mkdir()
    a = new_vault(d / "a.vult", "--device", "a", "--signers", "a,b")
    mkvault(d / "b.vult", "--from", a, "--device", "b", "--tag", "b")
    files = check_json(d, status=0)
    assert {f["status"] for f in files.values()} == {"backup"}
    assert {f["device"] for f in files.values()} == {"a", "b"}
    mkvault(d / "sub-reshared.vult", "--from", a, "--signers", "a,b,c", "--tag", "r")
    files = check_json(d, status=1)
    assert files["sub-reshared.vult"]["status"] == "mixed"
    assert "generation 2 of the 2" in files["sub-reshared.vult"]["note"]
    assert "generation 1 of the 2" in files["a.vult"]["note"]


@needs_fixtures
def test_fixtures_against_a_store(tmp_path, store, pp):
    fixtures = Path(FIXTURES)
    pw = write_secret(tmp_path / "pw.txt", FIXTURE_PASSWORDS)
    import_ok(store, pp, fixtures / "Test-part1of2.vult")
    run_ = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store,
                fixtures / "TestFastVault-44fd-share2of2-Password123!.vult"])
    assert run_.returncode == 0, run_.stderr
    files = check_json("--passphrase-file", pp, "--import-passwords", pw, store, fixtures,
                       status=0)
    assert files["Test-part1of2.vult"]["status"] == "current"
    assert files["Test-part2of2.vult"]["status"] == "other-device"
    assert files["TestFastVault-44fd-share2of2-Password123!.vult"]["status"] == "current"
    assert files["TestFastVault-44fd-share1of2-Vultiserver.vult"]["status"] == "other-device"
    assert files["honeypot.bak"]["status"] == "not-held"
    assert files["MANIFEST.md"]["status"] == "not-a-backup"
    # without the passwords the encrypted fixtures are unreadable: exit 1
    files = check_json("--passphrase-file", pp, store, fixtures, status=1)
    assert files["qa-fast-share2of2.vult"]["status"] == "unreadable"


@needs_fixtures
def test_fixture_reshared_leaves_the_real_file_stale(tmp_path, store, pp):
    real = Path(FIXTURES) / "Test-part1of2.vult"
    reshare = mkvault(tmp_path / "reshared.vult", "--from", real, "--prefix", "0badcafe",
                      "--tag", "r1")
    import_ok(store, pp, real, reshare)
    files = check_json("--passphrase-file", pp, store, real, reshare, status=1)
    assert files["Test-part1of2.vult"]["status"] == "stale"
    assert files["reshared.vult"]["status"] == "current"


def test_looks_inside_the_apps_zips(tmp_path, store, pp, reshared):
    import zipfile
    d, old, new = reshared
    z = d / "vultisig_backups_1700000000.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("old-a.vult", old.read_bytes())
        out.writestr("__MACOSX/._old-a.vult", b"junk")
    files = check_json("--passphrase-file", pp, store, z, new, status=1)
    assert set(files) == {"vultisig_backups_1700000000.zip:old-a.vult", "new-a.vult"}
    assert files["vultisig_backups_1700000000.zip:old-a.vult"]["status"] == "stale"
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK\x03\x04 not a zip at all")
    files = check_json("--passphrase-file", pp, store, fake, new, status=0)
    assert files["fake.zip"]["status"] == "not-a-backup"
