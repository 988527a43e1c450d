"""2024 .dat backups, as a user imports them: all four forms of the fixtures'
MANIFEST, built here (no real sample is public): plain hex of JSON with and
without the {version, vault} wrapper, iOS's raw AES-GCM blob and Android's
base64 lines of AES-256-CBC (tests/tools/mkdat.js, with node's crypto). Each imports
into a store, exports as a current .vult, and `inspect` shows the same
facts for the .dat and for the export. Damaged ones fail with one line and
leave the store as it was.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from test_store_cli import (VULTFS, assert_one_error_line, import_ok, pp, run, snapshot,  # noqa: F401
                            store, write_secret)

PASSWORD = "dat password 2024"
UNIX_CREATED = "2024-04-16T22:40:00.5Z"

MKDAT = Path(__file__).resolve().parents[1] / "tools" / "mkdat.js"
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def mkdat(form, password=PASSWORD, vault=None):
    """The bytes of a .dat in FORM (tests/tools/mkdat.js); vault None: its
    default synthetic vault."""
    r = subprocess.run(["node", MKDAT, form, password],
                       input=json.dumps(vault).encode() if vault else b"",
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def plain_dat(wrapped=True, **fields):
    """A plain .dat of mkdat's default vault with some fields replaced."""
    doc = json.loads(bytes.fromhex(mkdat("plain-bare").decode()))
    doc.update(fields)
    return mkdat("plain-wrapped" if wrapped else "plain-bare", vault=doc)


def build(form):
    return mkdat(form)


def inspect_facts(path, password_file=None):
    args = [VULTFS, "inspect"] + (["--password-file", password_file] if password_file else [])
    r = run(args + [path])
    assert r.returncode == 0, r.stderr
    facts = json.loads(r.stdout)
    assert "FAKEKEYSHARE" not in r.stdout
    for volatile in ("encrypted", "scheme"):
        facts.pop(volatile)
    return facts


FORMS = ["plain-wrapped", "plain-bare", "ios", "android"]


@needs_node
@pytest.mark.parametrize("form", FORMS)
def test_dat_imports_and_exports_as_vult(store, pp, tmp_path, form):
    dat = tmp_path / "vultisig-Old Vault 2024-2024-04-1of2-5a5a-iPhone-1A2.dat"
    dat.write_bytes(build(form))
    pw = write_secret(tmp_path / "pw.txt", PASSWORD)
    facts = inspect_facts(dat, pw if form in ("ios", "android") else None)
    assert facts["name"] == "Old Vault 2024"
    assert facts["lib_type"] == "GG20"
    assert facts["created_at"] == UNIX_CREATED  # iOS's 2001 epoch, read as such
    assert facts["complete"] is True
    assert facts["suggested_filename"] == "Old Vault 2024-5a5a-part1of2.vult"

    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store, dat])
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = tmp_path / "export.vult"
    r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password", "none",
             store, "Old Vault 2024", out])
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:4] != dat.read_bytes()[:4]  # a .vult now, not a .dat
    assert inspect_facts(out) == facts
    # The store's own encrypted export reads back the same, too.
    encrypted = tmp_path / "export-encrypted.vult"
    r = run([VULTFS, "export", "--passphrase-file", pp, store, "Old Vault 2024", encrypted])
    assert r.returncode == 0, r.stderr
    assert inspect_facts(encrypted, pp) == facts


@needs_node
def test_every_form_is_the_same_share(store, pp, tmp_path):
    """All four forms of one vault carry one share: after the first, each
    is "unchanged", and nothing in the store changes."""
    pw = write_secret(tmp_path / "pw.txt", PASSWORD)
    files = []
    for form in FORMS:
        f = tmp_path / f"{form}.dat"
        f.write_bytes(build(form))
        files.append(f)
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store,
             files[0]])
    assert r.returncode == 0, r.stderr
    before = snapshot(store)
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store,
             *files[1:]])
    assert r.returncode == 0, r.stderr
    assert r.stdout.lower().count("unchanged") == 3, r.stdout
    assert snapshot(store) == before


def _damaged():
    hex_text = mkdat("plain-wrapped")
    ios = mkdat("ios")
    android = mkdat("android")
    return {
        "odd hex": (hex_text[:-1], "not a vultisig backup"),
        "cut hex": (hex_text[:len(hex_text) // 2], "not a vultisig backup"),
        "bad hex": (hex_text[:100] + b"g" + hex_text[101:], "not a vultisig backup"),
        "no name": (json.dumps({"version": "v1", "vault": {"signers": []}}).encode().hex().encode(),
                    "not a vultisig backup"),
        "ios cut": (ios[:-5], "password"),
        "ios wrong password": (mkdat("ios", password="other"), "password"),
        "android cut line": (android[:-3], "not a vultisig backup"),
        "android wrong password": (mkdat("android", password="other"), "password"),
    }


@needs_node
def test_damaged_dat_fails_cleanly(store, pp, tmp_path):
    pw = write_secret(tmp_path / "pw.txt", PASSWORD)
    before = snapshot(store)
    for case, (data, words) in _damaged().items():
        bad = tmp_path / "bad.dat"
        bad.write_bytes(data)
        r = run([VULTFS, "inspect", "--password-file", pw, bad])
        assert_one_error_line(r, words)
        r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store, bad])
        assert r.returncode == 1, (case, r.stdout, r.stderr)
        assert words in r.stderr.lower() or words in r.stdout.lower(), (case, r.stdout, r.stderr)
        assert snapshot(store) == before, case


@needs_node
def test_android_zero_date_and_unix_seconds(tmp_path):
    """Android writes createdAt 0.0 (no date); Unix seconds pass unchanged."""
    dat = tmp_path / "a.dat"
    dat.write_bytes(plain_dat(createdAt=0.0, id="uuid", coins=[]))
    assert inspect_facts(dat)["created_at"] == ""
    dat.write_bytes(plain_dat(createdAt=1713307200.5))
    assert inspect_facts(dat)["created_at"] == UNIX_CREATED
