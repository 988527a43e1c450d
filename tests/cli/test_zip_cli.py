"""The apps' multi-vault .zip: `vultfs import STORE FILE.zip` (each entry
under the usual rules, one line per entry, hidden and macOS entries
skipped, the apps' caps) and `vultfs export --zip STORE OUT.zip` (every
current share with the apps' names and one password), round trip into a
new store, on synthetic vaults and the fixtures.

Environment: VULTFS_BIN, VULTFS_MKVAULT, VULTFS_FIXTURES (optional).
"""
import json
import stat
import zipfile
from pathlib import Path

import pytest

from test_store_cli import (FIXTURES, PASSPHRASE, VULTFS, fresh_ecdsa, import_ok, listing,
                            mkvault, needs_fixtures, new_vault, pp, run, snapshot, store,
                            write_secret)

MiB = 1 << 20


def make_zip(path, entries, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in entries:
            z.writestr(name, data)
    return path


def vault_names(store, pp):
    return sorted(v["directory"] for v in listing(store, pp)[1])


def test_import_zip_each_entry_one_line(tmp_path, store, pp):
    a = new_vault(tmp_path / "a.vult", name="Alpha").read_bytes()
    b = new_vault(tmp_path / "b.vult", name="Beta").read_bytes()
    z = make_zip(tmp_path / "vaults_backup_2026-01-02_030405.zip", [
        ("Alpha-0001-share1of2.vult", a), ("nested/Beta-0002-share1of2.bak", b),
        ("__MACOSX/._Alpha-0001-share1of2.vult", b"mac"), (".DS_Store", b"x"),
        ("._Beta.vult", b"x"), ("notes.txt", b"hello")])
    r = run([VULTFS, "import", "--passphrase-file", pp, store, z])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 6 and all(l.startswith("vultfs: import of ") for l in lines)
    assert "Alpha-0001-share1of2.vult: new vault: Alpha/" in lines[0]
    assert "nested/Beta-0002-share1of2.bak: new vault: Beta/" in lines[1]
    assert sum("skipped" in l for l in lines) == 4
    assert vault_names(store, pp) == ["Alpha", "Beta"]
    r = run([VULTFS, "import", "--passphrase-file", pp, store, z])
    assert r.returncode == 0 and r.stdout.count(": unchanged: ") == 2


def test_import_zip_refusal_is_reported_and_others_stored(tmp_path, store, pp):
    mine = new_vault(tmp_path / "mine.vult", "--device", "a", "--signers", "a,b")
    import_ok(store, pp, mine)
    other = mkvault(tmp_path / "other.vult", "--from", mine, "--device", "b").read_bytes()
    fresh = new_vault(tmp_path / "fresh.vult", name="Fresh").read_bytes()
    z = make_zip(tmp_path / "all.zip", [("other.vult", other), ("fresh.vult", fresh)])
    r = run([VULTFS, "import", "--passphrase-file", pp, store, z])
    assert r.returncode == 1
    assert "other.vult: refused, co-location" in r.stderr
    assert "fresh.vult: new vault: Fresh/" in r.stdout
    assert "Fresh" in vault_names(store, pp)


def test_import_zip_caps_and_garbage_change_nothing(tmp_path, store, pp):
    a = new_vault(tmp_path / "a.vult").read_bytes()
    before = snapshot(store)
    many = make_zip(tmp_path / "many.zip", [(f"v{i}.vult", a) for i in range(1001)],
                    zipfile.ZIP_STORED)
    # an entry past 64 MiB, or 96 MiB inflated in all: larger than any backup
    # zip (KEYIMPORT backups of up to about 19 MB each included), so a bomb
    big_entry = make_zip(tmp_path / "big.zip", [("a.vult", a), ("big.vult", b"A" * (64 * MiB + 1))])
    inflated = make_zip(tmp_path / "inflated.zip",
                        [("a.vult", a)] + [(f"z{i}.vult", b"A" * (30 * MiB)) for i in range(4)])
    for z in (many, big_entry, inflated):
        r = run([VULTFS, "import", "--passphrase-file", pp, store, z])
        assert r.returncode == 1, (z, r.stdout, r.stderr)
        assert "larger than a backup zip can be" in r.stderr, r.stderr
        assert r.stdout == ""
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04 this is not really a zip")
    empty = make_zip(tmp_path / "empty.zip", [("readme.txt", b"nothing here")])
    for z in (garbage, empty):
        r = run([VULTFS, "import", "--passphrase-file", pp, store, z])
        assert r.returncode == 1
        assert "not a zip, damaged, or no .vult" in r.stderr
    assert snapshot(store) == before


def test_export_zip_round_trip_into_a_new_store(tmp_path, store, pp):
    gg20 = new_vault(tmp_path / "g.vult", "--lib", "gg20", "--device", "b",
                     "--signers", "a,b,c", name="Gee")
    dkls = new_vault(tmp_path / "d.vult", "--device", "x", "--signers", "x,y", name="Dee/Kay")
    import_ok(store, pp, gg20, dkls)
    out = tmp_path / "vultisig_backups_1.zip"
    r = run([VULTFS, "export", "--zip", "--passphrase-file", pp, store, out])
    assert r.returncode == 0, r.stderr
    assert "exported 2 vaults" in r.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    names = sorted(zipfile.ZipFile(out).namelist())
    ecdsa_g = json.loads(run([VULTFS, "inspect", gg20]).stdout)["public_key_ecdsa"]
    ecdsa_d = json.loads(run([VULTFS, "inspect", dkls]).stdout)["public_key_ecdsa"]
    assert names == sorted([f"Dee_Kay-{ecdsa_d[-4:]}-share1of2.vult",
                            f"Gee-{ecdsa_g[-4:]}-part2of3.vult"])
    # exports are encrypted with the store passphrase by default
    entry = zipfile.ZipFile(out).read(names[0])
    assert b"FAKE" not in entry
    second = tmp_path / "second"
    assert run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", second]).returncode == 0
    r = run([VULTFS, "import", "--passphrase-file", pp, second, out])
    assert r.returncode == 0, r.stderr
    assert vault_names(second, pp) == vault_names(store, pp)
    # refuses to overwrite
    r = run([VULTFS, "export", "--zip", "--passphrase-file", pp, store, out])
    assert r.returncode == 1 and "exists" in r.stderr


def test_export_zip_usage(tmp_path, store, pp):
    assert run([VULTFS, "export", "--zip", "--passphrase-file", pp, store]).returncode == 2
    r = run([VULTFS, "export", "--zip", "--export-password", "hunter2", store, tmp_path / "o.zip"])
    assert r.returncode == 2


@needs_fixtures
def test_fixtures_zip_names_match_the_apps_and_round_trip(tmp_path, store, pp):
    fixtures = Path(FIXTURES)
    pw = write_secret(tmp_path / "pw.txt", "Password123!")
    src = make_zip(tmp_path / "apps.zip", [
        (n, (fixtures / n).read_bytes()) for n in (
            "TestFastVault-44fd-share2of2-Password123!.vult",
            "TestSecureVault-cfa0-share1of2-Password123!.vult", "Test-part1of2.vult",
            "qa-secure-share2of3.vult")])
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store, src])
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out.zip"
    r = run([VULTFS, "export", "--zip", "--passphrase-file", pp, "--export-password-file", pw,
             "--export-scheme", "legacy", store, out])
    assert r.returncode == 0, r.stderr
    names = sorted(zipfile.ZipFile(out).namelist())
    assert "TestFastVault-44fd-share2of2.vult" in names
    assert "TestSecureVault-cfa0-share1of2.vult" in names
    # every name is what the apps call that share (inspect reads the real file)
    expected = []
    for n in zipfile.ZipFile(src).namelist():
        r = run([VULTFS, "inspect", "--password-file", pw, fixtures / n])
        if r.returncode != 0:  # unencrypted fixtures need no password
            r = run([VULTFS, "inspect", fixtures / n])
        expected.append(json.loads(r.stdout)["suggested_filename"])
    assert names == sorted(expected)
    assert "Test private key vault-6f1d-part1of2.vult" in names
    assert "QA Secure Vault 01-a3d7-share1of3.vult" in names  # position in its own signers
    second = tmp_path / "second"
    assert run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", second]).returncode == 0
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, second, out])
    assert r.returncode == 0, r.stderr
    assert vault_names(second, pp) == vault_names(store, pp)


def test_export_zip_more_vaults_than_the_export_cache_holds(tmp_path, store, pp):
    """The export cache keeps about 2 MiB (a few hundred small exports):
    every entry of the zip is still its own vault's export."""
    keys = [fresh_ecdsa() for _ in range(300)]
    files = [mkvault(tmp_path / f"v{i}.vult", "--ecdsa", key, "--name", f"Many {i}")
             for i, key in enumerate(keys)]
    import_ok(store, pp, *files)
    out = tmp_path / "many.zip"
    r = run([VULTFS, "export", "--zip", "--passphrase-file", pp, "--export-password", "none",
             store, out])
    assert r.returncode == 0, r.stderr
    assert f"exported {len(keys)} vaults" in r.stdout
    found = set()
    with zipfile.ZipFile(out) as z:
        for i, name in enumerate(z.namelist()):
            entry = tmp_path / f"entry{i}.vult"
            entry.write_bytes(z.read(name))
            shown = json.loads(run([VULTFS, "inspect", entry]).stdout)
            assert name.startswith(shown["name"] + "-"), name
            found.add(shown["public_key_ecdsa"])
    assert found == set(keys)
