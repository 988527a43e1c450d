"""Strict input at the codec boundary, as a user meets it: a byte outside the
base64 alphabet in either layer of a .vult (Debian's libsodium 1.0.18 reads
0x80-0xFF as '/', so such a file used to import with altered key bytes), and
key shares that are neither JSON text (GG20) nor canonical base64 (DKLS).

Each refusal is one "not a Vultisig backup" line and leaves the store byte
for byte as it was.
"""
import base64
import json
from pathlib import Path

import pytest

from test_store_cli import (FIXTURES, VULTFS, assert_one_error_line, import_ok, mkvault,
                            needs_fixtures, new_vault, pp, run, snapshot, store)  # noqa: F401

QA_FAST = "qa-fast-share1of2.vult"


def inspect(path):
    return run([VULTFS, "inspect", path])


def import_files(store, pp, *files):
    return run([VULTFS, "import", "--passphrase-file", pp, store, *files])


def with_byte(data, pos, byte):
    changed = bytearray(data)
    changed[pos] = byte
    return bytes(changed)


def inner_with_byte(vult_text, pos, byte):
    """The .vult text with `byte` at `pos` of the inner base64 (the vault
    field of the container), the outer layer re-encoded cleanly."""
    outer = bytearray(base64.b64decode(vult_text, validate=True))
    assert outer[:3] == b"\x08\x01\x12"
    start = 3
    while outer[start] & 0x80:
        start += 1
    outer[start + 1 + pos] = byte
    return base64.b64encode(bytes(outer))


def assert_refused_everywhere(store, pp, bad):
    assert_one_error_line(inspect(bad), "not a vultisig backup")
    before = snapshot(store)
    r = import_files(store, pp, bad)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "not a vultisig backup" in r.stderr.lower(), r.stderr
    assert snapshot(store) == before


@needs_fixtures
@pytest.mark.parametrize("byte", [0x80, 0xAF, 0xFF])
def test_fixture_with_high_byte_at_100000_is_refused(store, pp, tmp_path, byte):
    original = (Path(FIXTURES) / QA_FAST).read_bytes()
    assert original[100000:100001].isalnum() or original[100000:100001] in (b"+", b"/")
    bad = tmp_path / QA_FAST
    bad.write_bytes(with_byte(original, 100000, byte))
    assert_refused_everywhere(store, pp, bad)
    # The untouched file still imports: the refusal is about the byte.
    good = tmp_path / "good.vult"
    good.write_bytes(original)
    import_ok(store, pp, good)


@pytest.mark.parametrize("layer", ["outer", "inner"])
@pytest.mark.parametrize("byte", [0x80, 0xC3, 0xFF])
def test_synthetic_high_byte_in_either_layer_is_refused(store, pp, tmp_path, layer, byte):
    text = new_vault(tmp_path / "v.vult").read_bytes()
    pos = len(text) // 2 if layer == "outer" else 40
    bad = tmp_path / "bad.vult"
    bad.write_bytes(with_byte(text, pos, byte) if layer == "outer"
                    else inner_with_byte(text, pos, byte))
    assert_refused_everywhere(store, pp, bad)


def test_non_canonical_padding_is_refused(store, pp, tmp_path):
    text = new_vault(tmp_path / "v.vult").read_bytes()
    stripped = text.rstrip(b"=")
    assert stripped != text or len(text) % 4 == 0
    bad = tmp_path / "bad.vult"
    # Padding in the middle, and padding where none belongs.
    bad.write_bytes(text[:8] + b"=" + text[9:])
    assert_refused_everywhere(store, pp, bad)
    if stripped != text:
        bad.write_bytes(stripped)
        assert_refused_everywhere(store, pp, bad)


@pytest.mark.parametrize("lib", ["gg20", "dkls"])
def test_key_share_of_the_wrong_shape_is_refused(store, pp, tmp_path, lib):
    """A key share that is neither JSON text nor canonical base64 (here an
    altered letter turned into '-') is a damaged file, never a share."""
    good = new_vault(tmp_path / "v.vult", "--lib", lib)
    outer = base64.b64decode(good.read_bytes(), validate=True)
    start = 3
    while outer[start] & 0x80:
        start += 1
    vault = bytearray(base64.b64decode(outer[start + 1:], validate=True))
    marker = vault.find(b"FAKEKEYSHARE")
    assert marker > 0
    if lib == "dkls":
        vault[marker + 1] = ord("-")  # base64 no more
    else:
        vault[marker - 2] = ord("x")  # the JSON text's opening brace
    inner = base64.b64encode(bytes(vault))
    container = b"\x08\x01\x12" + _varint(len(inner)) + inner
    bad = tmp_path / "bad.vult"
    bad.write_bytes(base64.b64encode(container))
    assert_refused_everywhere(store, pp, bad)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


# ---- export passwords the apps refuse (issue 7 item 15) -------------------------

def _store_with_vault(store, pp, tmp_path):
    import_ok(store, pp, new_vault(tmp_path / "v.vult", name="Blank Test"))
    return "Blank Test"


@pytest.mark.parametrize("password", [" ", "   \t ", "\u00a0\u3000"])
def test_export_with_blank_password_is_refused(store, pp, tmp_path, password):
    vault = _store_with_vault(store, pp, tmp_path)
    pw = tmp_path / "export-password.txt"
    pw.write_text(password + "\n", encoding="utf-8")
    out = tmp_path / "out.vult"
    before = snapshot(store)
    r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password-file", pw,
             store, vault, out])
    assert_one_error_line(r, "export password", "blank")
    assert not out.exists()
    assert snapshot(store) == before
    # A password with a letter in it works.
    pw.write_text(password + "x\n", encoding="utf-8")
    r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password-file", pw,
             store, vault, out])
    assert r.returncode == 0, r.stderr


def test_mount_with_blank_export_password_is_refused(store, pp, tmp_path):
    """Refused before anything is mounted (so no /dev/fuse is needed when
    the fix is in; without it the mount happens and is undone here)."""
    pw = tmp_path / "export-password.txt"
    pw.write_text("  \n", encoding="utf-8")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        r = run([VULTFS, "mount", "--passphrase-file", pp, "--export-password-file", pw,
                 store, mnt], timeout=30)
        assert_one_error_line(r, "export password", "blank")
    finally:
        run(["fusermount3", "-u", mnt])


# ---- the store's own base64 (config salt, sealed master key) --------------------

def test_config_salt_with_high_bytes_is_damage_not_a_passphrase(store, pp, tmp_path):
    """libsodium 1.0.18 reads a UTF-8 "\u00ff" (bytes C3 BF) as "//": a salt
    edited that way decoded to another salt and the store said "wrong
    passphrase". The strict decoder refuses it as a damaged config."""
    config = store / "vultfs.json"
    doc = json.loads(config.read_text(encoding="utf-8"))
    salts = [obj for obj in _objects(doc) if isinstance(obj.get("salt"), str)]
    assert salts
    salt = salts[0]["salt"]
    salts[0]["salt"] = salt[:2] + "\u00ff" + salt[4:]
    config.write_text(json.dumps(doc), encoding="utf-8")
    assert len(salts[0]["salt"].encode()) == len(salt)
    before = snapshot(store)
    r = run([VULTFS, "list", "--passphrase-file", pp, store])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "wrong passphrase" not in r.stderr.lower(), r.stderr
    assert snapshot(store) == before


def _objects(doc):
    if isinstance(doc, dict):
        yield doc
        for v in doc.values():
            yield from _objects(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _objects(v)
