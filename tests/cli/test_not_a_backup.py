"""Answers that say what happened (issue 20, finding 6). Random bytes or a
zip given as a backup were "encrypted, and none of the passwords fits":
only a 2024 iOS .dat is binary, and the apps named every one .dat, so such
bytes under another name are not a Vultisig backup (EINVAL in the mount),
and no password is asked for. A zip entry over the import limit was said
to be a zip over its caps. Each refusal leaves the store as it was.

Environment: VULTFS_BIN, VULTFS_MKVAULT.
"""
import io
import os
import zipfile

from test_store_cli import (VULTFS, assert_one_error_line, new_vault, pp, run,  # noqa: F401
                            snapshot, store)

MiB = 1 << 20


def a_zip(entries, method=zipfile.ZIP_DEFLATED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in entries:
            z.writestr(name, data)
    return out.getvalue()


def not_backups(tmp_path):
    """Files a user may give by mistake, named as backups."""
    share = new_vault(tmp_path / "share.vult").read_bytes()
    cases = {
        "random.vult": os.urandom(6000),
        "photo.bak": b"\x89PNG\r\n\x1a\n" + os.urandom(4000),
        # the apps' zip under a backup's name: not imported entry by entry
        "vaults.vult": a_zip([("Alpha-0001-share1of2.vult", share)]),
        "packed.vult": a_zip([("x.bin", os.urandom(4000))]),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    return [tmp_path / name for name in cases]


def test_import_says_not_a_backup_not_wrong_password(tmp_path, store, pp):
    before = snapshot(store)
    for path in not_backups(tmp_path):
        r = run([VULTFS, "import", "--passphrase-file", pp, store, path])
        line = assert_one_error_line(r, str(path), "not a Vultisig backup")
        assert "password" not in line, line
        if path.name in ("vaults.vult", "packed.vult"):
            assert "a zip" in line and "FILE.zip" in line, line
    assert snapshot(store) == before


def test_inspect_asks_for_no_password(tmp_path):
    for path in not_backups(tmp_path):
        r = run([VULTFS, "inspect", path])  # no terminal: a prompt would fail
        assert_one_error_line(r, "not a Vultisig backup")


def test_check_says_not_a_backup(tmp_path):
    paths = not_backups(tmp_path)
    r = run([VULTFS, "check", *paths])
    assert r.returncode == 1  # named as backups: they may be damaged ones
    rows = r.stdout.splitlines()[1:-1]
    assert len(rows) == len(paths)
    assert all("not a Vultisig backup" in row and "password" not in row for row in rows), rows


def test_a_dat_may_be_binary(tmp_path, store, pp):
    """The other side: binary bytes named .dat may be an encrypted iOS .dat
    (nothing tells them from random bytes), so the password is what is
    missing, and it says so."""
    path = tmp_path / "vultisig-Old-2024-04-1of2-5a5a-iPhone.dat"
    path.write_bytes(os.urandom(6000))
    r = run([VULTFS, "import", "--passphrase-file", pp, store, path])
    assert_one_error_line(r, "wrong password")


def test_zip_entry_over_the_import_limit_is_not_the_zips_caps(tmp_path, store, pp):
    share = new_vault(tmp_path / "a.vult", name="Small").read_bytes()
    big = tmp_path / "big.zip"
    big.write_bytes(a_zip([("Small-0001-share1of2.vult", share),
                           ("Huge-0002-share1of2.vult", b"A" * (2 * MiB))]))  # within a zip's caps
    r = run([VULTFS, "import", "--passphrase-file", pp, "--max-import", "1M", store, big])
    assert r.returncode == 1
    assert "Small-0001-share1of2.vult: new vault: Small/" in r.stdout
    assert "Huge-0002-share1of2.vult: refused, too large: larger than the import limit" in r.stderr
    assert "backup zip can be" not in r.stderr, r.stderr  # the zip's own caps
    assert "1 of 2 refused" in r.stderr
