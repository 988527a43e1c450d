"""`vultfs inspect`, as a user runs it.

Real app exports (../shared/fixtures, via VULTFS_FIXTURES) must show the
facts their MANIFEST gives and never any key share material; synthetic
backups from mkvault (VULTFS_MKVAULT) cover all three encryption modes and
incomplete backups; bad passwords, corrupt files and bad command lines must
fail with the documented exit code and one clear line on stderr.

Environment: VULTFS_BIN (the vultfs binary), VULTFS_MKVAULT (tests/mkvault),
VULTFS_FIXTURES (optional: fixture tests skip without it).
"""
import base64
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

VULTFS = os.environ.get("VULTFS_BIN", "build/fs/vultfs")
MKVAULT = os.environ.get("VULTFS_MKVAULT", "build/tests/mkvault")
FIXTURES = os.environ.get("VULTFS_FIXTURES")

needs_fixtures = pytest.mark.skipif(
    not FIXTURES or not Path(FIXTURES).is_dir(), reason="VULTFS_FIXTURES is not set"
)

FAKE_MARKER = "FAKEKEYSHARE"
WINDOW = 40  # a leak of this many characters of a key share is a leak

# From ../shared/fixtures/MANIFEST.md: file, password (None: unencrypted),
# lib, vault name, device (local_party_id), number of signers.
MANIFEST = [
    ("Test-part1of2.vult", None, "GG20", "Test private key vault", "Pixel 5a-a9b", 2),
    ("Test-part2of2.vult", None, "GG20", "Test private key vault", "iPhone-EC4", 2),
    ("Test Fast Vault DKLS-8d9b-share1of2-nopass.vult", None, "DKLS",
     "Test Fast Vault DKLS", "Server-06287", 2),
    ("Test Fast Vault DKLS-8d9b-share2of2.vult", None, "DKLS",
     "Test Fast Vault DKLS", "Dorian\u2019s Mac mini-ABC", 2),
    ("TestFastVault-44fd-share1of2-Vultiserver.vult", "Password123!", "DKLS",
     "TestFastVault", "Server-94060", 2),
    ("TestFastVault-44fd-share2of2-Password123!.vult", "Password123!", "DKLS",
     "TestFastVault", "iPhone-5C9", 2),
    ("TestSecureVault-cfa0-share1of2-Password123!.vult", "Password123!", "DKLS",
     "TestSecureVault", "iPhone-5C9", 2),
    ("TestSecureVault-cfa0-share2of2-NoPassword.vult", None, "DKLS",
     "TestSecureVault", "jp\u2019s MacBook Air-EE5", 2),
    ("qa-fast-share1of2.vult", None, "DKLS", "vulticli01", "iPhone-CBC", 2),
    ("qa-fast-share2of2.vult", "vulticli01", "DKLS", "vulticli01", "Server-97859", 2),
    ("qa-secure-share1of3.vult", None, "DKLS", "QA Secure Vault 01", "windows-227", 3),
    ("qa-secure-share2of3.vult", None, "DKLS", "QA Secure Vault 01", "iPhone-CBC", 3),
    ("qa-secure-share3of3.vult", None, "DKLS", "QA Secure Vault 01",
     "Tony\u2019s MacBook Air-C4E", 3),
    ("honeypot.bak", None, "GG20", "JP Honeypot Vault", "iPad-D3842FFB838E", 3),
    ("test_android_vault_backup.bak", "android_test_pwd", "GG20", "TestVault",
     "PCT-L29-919", 3),
    ("test_ios_vault_backup.bak", "ios_test_pwd", "GG20", "TestVault",
     "admin\u2019s Mac mini-17A", 3),
]
ENCRYPTED_FIXTURE = "TestFastVault-44fd-share2of2-Password123!.vult"


# ---- helpers -----------------------------------------------------------------

def run(args, **kwargs):
    """Runs a command without a terminal (CI has none; no test may hang on one)."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(args, capture_output=True, encoding="utf-8", errors="replace",
                          timeout=60, start_new_session=True, **kwargs)


def inspect(path, password_file=None):
    args = [VULTFS, "inspect"]
    if password_file is not None:
        args += ["--password-file", str(password_file)]
    return run(args + [str(path)])


def inspect_json(path, password_file=None):
    r = inspect(path, password_file)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return r.stdout, json.loads(r.stdout)


def stderr_lines(r):
    return r.stderr.splitlines()


def assert_one_error_line(r, *words):
    """Exit 1, nothing on stdout, exactly one 'vultfs:' line naming the cause."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = stderr_lines(r)
    assert len(lines) == 1, lines
    assert lines[0].startswith("vultfs: ")
    for word in words:
        assert word in lines[0].lower(), lines[0]


def write_password(tmp_path, password, name="password.txt"):
    path = tmp_path / name
    path.write_text(password + "\n", encoding="utf-8")
    return path


def mkvault(out, *args):
    r = run([MKVAULT, *args, str(out)])
    assert r.returncode == 0, r.stderr
    return out


def vault_protobuf(path):
    """The Vault bytes of an unencrypted .vult, decoded here in Python."""
    outer = base64.b64decode(Path(path).read_bytes(), validate=True)
    fields = dict(protobuf_fields(outer))
    assert fields.get(3, 0) == 0, "encrypted"
    return base64.b64decode(fields[2], validate=True)


def protobuf_fields(data):
    def varint(i):
        value = shift = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value, i

    i = 0
    while i < len(data):
        tag, i = varint(i)
        kind = tag & 7
        if kind == 0:
            value, i = varint(i)
        elif kind == 2:
            n, i = varint(i)
            value, i = data[i:i + n], i + n
        elif kind == 1:
            value, i = data[i:i + 8], i + 8
        elif kind == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError("unexpected wire type")
        yield tag >> 3, value


def key_shares(path, password, tmp_path):
    """Every key share string of a backup. Encrypted ones are first written
    out unencrypted by mkvault --from (which changes nothing else)."""
    if password is not None:
        plain = tmp_path / "plain.vult"
        mkvault(plain, "--from", str(path),
                "--from-password-file", str(write_password(tmp_path, password, "from.txt")))
        path = plain
    shares = []
    for field, value in protobuf_fields(vault_protobuf(path)):
        if field == 7:
            share = dict(protobuf_fields(value)).get(2, b"")
            shares.append(share.decode("utf-8", "replace"))
    return shares


def public_values(facts):
    values = [v for v in facts.values() if isinstance(v, str)]
    return values + list(facts["signers"])


# ---- real app exports ----------------------------------------------------------

@needs_fixtures
@pytest.mark.parametrize("entry", MANIFEST, ids=[m[0] for m in MANIFEST])
def test_fixture_shows_manifest_facts(entry, tmp_path):
    file, password, lib, name, device, signer_count = entry
    pw_file = write_password(tmp_path, password) if password else None
    _, facts = inspect_json(Path(FIXTURES) / file, pw_file)
    assert facts["name"] == name
    assert facts["local_party_id"] == device
    assert facts["lib_type"] == lib
    assert facts["encrypted"] is (password is not None)
    assert facts["scheme"] == ("legacy" if password else "none")
    assert len(facts["signers"]) == signer_count
    assert device in facts["signers"]
    assert facts["complete"] is True  # every app export can sign
    if file == "honeypot.bak":
        assert facts["reshare_prefix"] == "2c5e9ced"
    if lib == "DKLS":
        assert facts["reshare_prefix"] == ""


@needs_fixtures
@pytest.mark.parametrize("entry", MANIFEST, ids=[m[0] for m in MANIFEST])
def test_fixture_output_has_no_key_share_material(entry, tmp_path):
    file, password = entry[0], entry[1]
    path = Path(FIXTURES) / file
    pw_file = write_password(tmp_path, password) if password else None
    out, facts = inspect_json(path, pw_file)
    shares = key_shares(path, password, tmp_path)
    assert shares and all(len(s) > WINDOW for s in shares)
    assert facts["key_shares"] == len(shares)
    # GG20 key shares are JSON that repeat the public keys and chain code;
    # those are public and shown on purpose. Everything else of a share is
    # secret: no 40 characters of it may appear in the output.
    public = sorted(public_values(facts), key=len, reverse=True)
    windows = {out[i:i + WINDOW] for i in range(len(out) - WINDOW + 1)}
    for share in shares:
        for value in public:
            if len(value) >= 8:
                share = share.replace(value, "\0")
        leaked = [w for w in windows if w in share]
        assert not leaked, leaked[:3]


@needs_fixtures
def test_fixture_wrong_password_is_one_line(tmp_path):
    r = inspect(Path(FIXTURES) / ENCRYPTED_FIXTURE, write_password(tmp_path, "not-it"))
    assert_one_error_line(r, "password")


@needs_fixtures
def test_fixture_encrypted_without_terminal_or_password_file(tmp_path):
    r = inspect(Path(FIXTURES) / ENCRYPTED_FIXTURE)
    assert_one_error_line(r, "password", "terminal")


@needs_fixtures
def test_fixture_bit_flips_fail_cleanly(tmp_path):
    original = (Path(FIXTURES) / ENCRYPTED_FIXTURE).read_bytes()
    pw_file = write_password(tmp_path, "Password123!")
    bad = tmp_path / "flipped.vult"
    for pos in (0, 5, 100, len(original) // 2, len(original) - 30, len(original) - 3):
        data = bytearray(original)
        data[pos] ^= 0x01
        bad.write_bytes(bytes(data))
        assert_one_error_line(inspect(bad, pw_file))


# ---- synthetic backups -----------------------------------------------------------

@pytest.mark.parametrize("scheme", ["none", "legacy", "current"])
def test_synthetic_backup_in_every_scheme(scheme, tmp_path):
    path = tmp_path / f"{scheme}.vult"
    args = ["--name", "Synthetic Test", "--device", "dev-b", "--signers", "dev-a,dev-b,dev-c",
            "--lib", "gg20", "--prefix", "0a1b2c3d"]
    pw_file = None
    if scheme != "none":
        pw_file = write_password(tmp_path, "synthetic pass \u00e9")
        args += ["--password-file", str(pw_file), "--scheme", scheme]
    mkvault(path, *args)
    out, facts = inspect_json(path, pw_file)
    assert facts["name"] == "Synthetic Test"
    assert facts["local_party_id"] == "dev-b"
    assert facts["signers"] == ["dev-a", "dev-b", "dev-c"]
    assert facts["lib_type"] == "GG20"
    assert facts["reshare_prefix"] == "0a1b2c3d"
    assert facts["encrypted"] is (scheme != "none")
    assert facts["scheme"] == scheme
    assert facts["complete"] is True
    assert facts["key_shares"] == 2
    assert facts["suggested_filename"].endswith("-part2of3.vult")
    assert FAKE_MARKER not in out
    if scheme != "none":
        assert_one_error_line(inspect(path, write_password(tmp_path, "wrong", "w.txt")),
                              "password")
        assert_one_error_line(inspect(path), "password", "terminal")


def test_synthetic_defaults_show_as_demo_vault(tmp_path):
    out, facts = inspect_json(mkvault(tmp_path / "x.vult"))
    assert facts["name"] == "Demo Vault (synthetic)"
    assert facts["local_party_id"] == "demo-device-1"
    assert facts["signers"] == ["demo-device-1", "demo-device-2"]
    assert facts["lib_type"] == "DKLS"
    assert (facts["encrypted"], facts["scheme"], facts["complete"]) == (False, "none", True)
    assert FAKE_MARKER not in out


def test_incomplete_backup_shows_complete_false(tmp_path):
    out, facts = inspect_json(mkvault(tmp_path / "inc.vult", "--incomplete"))
    assert facts["complete"] is False
    assert facts["key_shares"] == 1
    assert FAKE_MARKER not in out


def test_other_key_shares_change_nothing_public(tmp_path):
    """mkvault --tag gives a share of the same vault, device and generation
    with other key shares: inspect shows exactly the same public facts."""
    a = mkvault(tmp_path / "a.vult")
    b = mkvault(tmp_path / "b.vult", "--from", str(a), "--tag", "conflict")
    assert vault_protobuf(a) != vault_protobuf(b)
    assert inspect_json(a)[1] == inspect_json(b)[1]


@needs_fixtures
def test_mkvault_from_reshare_keeps_vault_identity(tmp_path):
    """A DKLS reshare made by mkvault: new signers, same keys and chain code."""
    path = Path(FIXTURES) / "qa-secure-share2of3.vult"
    _, before = inspect_json(path)
    out = mkvault(tmp_path / "reshared.vult", "--from", str(path),
                  "--signers", "iPhone-CBC,windows-227,new-device", "--tag", "epoch2")
    _, after = inspect_json(out)
    assert after["signers"] == ["iPhone-CBC", "windows-227", "new-device"]
    for key in ("name", "public_key_ecdsa", "public_key_eddsa", "hex_chain_code",
                "local_party_id", "lib_type", "created_at", "key_shares", "complete"):
        assert after[key] == before[key], key


# ---- corrupt and missing files ---------------------------------------------------

@pytest.fixture
def synthetic_text(tmp_path):
    return mkvault(tmp_path / "good.vult").read_bytes()


def test_truncated_files_fail_cleanly(synthetic_text, tmp_path):
    bad = tmp_path / "truncated.vult"
    for keep in (0, 1, 4, 8, len(synthetic_text) // 2, len(synthetic_text) - 4,
                 len(synthetic_text) - 1):
        bad.write_bytes(synthetic_text[:keep])
        assert_one_error_line(inspect(bad), "not a vultisig backup")


def test_bit_flip_in_structure_fails_cleanly(synthetic_text, tmp_path):
    bad = tmp_path / "flipped.vult"
    # The container header: version, the vault field's tag and length.
    for pos in range(8):
        data = bytearray(synthetic_text)
        data[pos] ^= 0x01
        bad.write_bytes(bytes(data))
        assert_one_error_line(inspect(bad), "not a vultisig backup")


def test_random_bytes_fail_cleanly(tmp_path):
    """Random base64 is no backup, and nor is random binary under a
    backup's name. Named .dat, random binary of a blob's size is what an
    encrypted iOS .dat looks like (an AES-GCM blob), so without a password
    it is refused for want of one; too short for a blob, it is no backup."""
    rng = random.Random(20240501)
    bad = tmp_path / "random.vult"
    dat = tmp_path / "random.dat"
    for size in (16, 1000, 50000):
        raw = bytes(rng.getrandbits(8) for _ in range(size))
        bad.write_bytes(base64.b64encode(raw))
        assert_one_error_line(inspect(bad), "not a vultisig backup")
        bad.write_bytes(raw)
        assert_one_error_line(inspect(bad), "not a vultisig backup")
        dat.write_bytes(raw)
        assert_one_error_line(inspect(dat), "not a vultisig backup" if size < 28 else "password")


def test_huge_file_is_refused_before_reading(tmp_path):
    """A file past the codec's 256 MiB cap (a sparse one: nothing is
    written) is refused as too large, not read into memory."""
    huge = tmp_path / "huge.vult"
    with open(huge, "wb") as f:
        f.truncate(300 << 20)
    assert_one_error_line(inspect(huge), "too large")


def test_directory_and_incomplete_dat_backup(tmp_path):
    assert_one_error_line(inspect(tmp_path))
    dat = tmp_path / "old.dat"
    dat.write_text(json.dumps({"version": "v1", "vault": {"name": "x"}}).encode().hex())
    assert_one_error_line(inspect(dat), "not a vultisig backup")


def test_missing_file(tmp_path):
    missing = tmp_path / "no-such.vult"
    r = inspect(missing)
    assert_one_error_line(r)
    assert str(missing) in r.stderr


# ---- the command line ---------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag):
    r = run([VULTFS, flag])
    assert r.returncode == 0
    assert "inspect" in r.stdout
    assert r.stdout.startswith("usage: vultfs")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    r = run([VULTFS, flag])
    assert r.returncode == 0
    assert r.stdout.startswith("vultfs ")
    assert r.stdout.split()[1][0].isdigit()


def test_inspect_help():
    r = run([VULTFS, "inspect", "--help"])
    assert r.returncode == 0
    assert "--password-file" in r.stdout


def test_unknown_command():
    r = run([VULTFS, "frobnicate"])
    assert r.returncode == 2
    assert r.stdout == ""
    lines = stderr_lines(r)
    assert len(lines) == 1 and "frobnicate" in lines[0]


def test_inspect_usage_errors(tmp_path):
    path = mkvault(tmp_path / "x.vult")
    assert run([VULTFS, "inspect"]).returncode == 2
    assert run([VULTFS, "inspect", str(path), str(path)]).returncode == 2
    assert run([VULTFS, "inspect", "--no-such-option", str(path)]).returncode == 2
