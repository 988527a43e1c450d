"""DESIGN's import table, row by row, through the mount.

Each refusal is checked twice: with plain syscalls (the errno must surface
at close(), as the table says) and with cp (exit status 1), and the tree
must be exactly as before. Each accepted row checks what the tree shows.
"""
import errno
import json
import os
import re
import time

import pytest

FIXTURES = os.environ.get("VULTFS_FIXTURES")
needs_fixtures = pytest.mark.skipif(not FIXTURES or not os.path.isdir(FIXTURES),
                                    reason="VULTFS_FIXTURES is not set")

NAME = "Demo Vault (synthetic)"


def refused(m, lib, data, where, err, pattern):
    """Writes data at where (relative to the mount): refused with err at
    close, by syscalls and by cp, and nothing changes."""
    m.expect(pattern)
    before = lib.snapshot(m.mnt)
    assert lib.write_close(m / where, data) == ("close", err)
    src = m.base / "cp-src.vult"
    src.write_bytes(data)
    r = lib.run(["cp", src, m / where], check=False)
    assert r.returncode == 1, r.stderr
    assert os.strerror(err) in r.stderr
    assert lib.snapshot(m.mnt) == before
    assert not os.path.exists(m / where) or where.endswith("share.vult")


def test_new_vault_then_same_share(m, vaults, lib):
    a = vaults.make().read_bytes()
    assert lib.write_close(m / "a.vult", a) is None
    assert os.listdir(m.mnt) == [NAME]  # the written name vanished
    share = m / NAME / "share.vult"
    assert os.getxattr(share, "user.vult.epoch") == b"1"
    assert os.getxattr(share, "user.vult.device") == b"demo-device-1"
    assert m.log_has(r"import of /a\.vult: new vault: ")
    before = lib.snapshot(m.mnt)
    assert lib.write_close(m / "again.vult", a) is None
    assert lib.write_close(share, a) is None
    assert m.log_has(r"import of /again\.vult: unchanged")
    assert lib.snapshot(m.mnt) == before


def test_new_generation_and_stale(m, vaults, lib):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    assert lib.write_close(m / "g1.vult", gen1.read_bytes()) is None
    assert lib.write_close(m / NAME / "share.vult", gen2.read_bytes()) is None
    assert os.listdir(m / NAME / "history") == ["epoch-1.vult"]
    assert os.getxattr(m / NAME / "share.vult", "user.vult.epoch") == b"2"
    assert os.getxattr(m / NAME / "history" / "epoch-1.vult", "user.vult.superseded") == b"true"
    assert m.log_has(r"import of /Demo Vault \(synthetic\)/share\.vult: new epoch")
    refused(m, lib, gen1.read_bytes(), "stale.vult", errno.EEXIST, r"import of /stale\.vult: stale")


def test_colocation(m, vaults, lib):
    mine = vaults.make()
    other = vaults.make(from_=mine, device="demo-device-2")
    assert lib.write_close(m / "mine.vult", mine.read_bytes()) is None
    refused(m, lib, other.read_bytes(), "other.vult", errno.EPERM,
            r"import of /other\.vult: co-location")
    refused(m, lib, other.read_bytes(), f"{NAME}/share.vult", errno.EPERM,
            r"/share\.vult: co-location")


def test_conflict(m, vaults, lib):
    good = vaults.make()
    tampered = vaults.make(from_=good, tag="tampered")
    assert lib.write_close(m / "good.vult", good.read_bytes()) is None
    refused(m, lib, tampered.read_bytes(), "bad.vult", errno.EEXIST,
            r"import of /bad\.vult: conflict")


def test_wrong_password(m, vaults, lib):
    pw = m.base / "other-password"
    pw.write_text("not the passphrase\n")
    enc = vaults.make(password_file=pw, scheme="legacy")
    refused(m, lib, enc.read_bytes(), "enc.vult", errno.EACCES,
            r"import of /enc\.vult: wrong password")


def test_encrypted_with_passphrase_imports(m, vaults, lib):
    enc = vaults.make(password_file=m.pp, scheme="current")
    assert lib.write_close(m / "enc.vult", enc.read_bytes()) is None
    assert os.listdir(m.mnt) == [NAME]


def test_not_a_backup_truncated_corrupt(m, vaults, lib):
    good = vaults.make().read_bytes()
    refused(m, lib, b"hello, world\n", "text.vult", errno.EINVAL,
            r"import of /text\.vult: unreadable")
    refused(m, lib, good[: len(good) // 2], "half.vult", errno.EINVAL,
            r"import of /half\.vult: unreadable")
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01
    flipped = bytes(flipped)
    m.expect(r"import of /flip\.vult: (unreadable|incomplete)")
    assert lib.write_close(m / "flip.vult", flipped) in (("close", errno.EINVAL), None)


def test_incomplete(m, vaults, lib):
    inc = vaults.make("--incomplete")
    refused(m, lib, inc.read_bytes(), "inc.vult", errno.EINVAL,
            r"import of /inc\.vult: incomplete")


def test_too_large(m, lib):
    big = b"A" * ((32 << 20) + (512 << 10))  # past the default cap of 32 MiB
    m.expect(r"import of /big2?\.vult: too large")
    fd = os.open(m / "big.vult", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with pytest.raises(OSError) as write_err:
        view = memoryview(big)
        while view:
            view = view[os.write(fd, view):]
    assert write_err.value.errno == errno.EFBIG
    with pytest.raises(OSError) as close_err:
        os.close(fd)
    assert close_err.value.errno == errno.EFBIG
    src = m.base / "big.vult"
    src.write_bytes(big)
    r = lib.run(["cp", src, m / "big2.vult"], check=False)
    assert r.returncode == 1 and os.strerror(errno.EFBIG) in r.stderr
    assert os.listdir(m.mnt) == []


def test_staged_temporaries_are_bounded(m, lib):
    """Temporary names stay staged (in locked memory) until renamed; a tool
    that leaves many behind gets ENOSPC once they hold the largest backup
    zip (97 MiB) in all, never unbounded memory, and unlinking them frees
    the room again."""
    chunk = b"T" * (1 << 20)
    written = []
    with pytest.raises(OSError) as err:
        for i in range(120):
            path = m / f".left-behind.{i}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            written.append(path)
            try:
                os.write(fd, chunk)
            finally:
                os.close(fd)
    assert err.value.errno == errno.ENOSPC
    assert 40 <= len(written) < 110  # buffers grow by doubling: up to twice the bytes
    for path in written:
        os.unlink(path)
    fd = os.open(m / ".again", os.O_WRONLY | os.O_CREAT)
    os.write(fd, chunk)
    os.close(fd)
    os.unlink(m / ".again")
    assert os.listdir(m.mnt) == []


def test_max_import_option(mount_factory, vaults, lib):
    m = mount_factory("small", ["-o", "max_import=512"])
    m.expect(r"import of /v\.vult: too large")
    data = vaults.make(out="v.vult").read_bytes()
    assert len(data) > 512
    assert lib.write_close(m / "v.vult", data) == ("write", errno.EFBIG)


def test_other_vaults_directory(m, vaults, lib):
    a = vaults.make()
    b = vaults.make(name="Other Vault", ecdsa=lib.ecdsa(7))
    assert lib.write_close(m / "a.vult", a.read_bytes()) is None
    refused(m, lib, b.read_bytes(), f"{NAME}/b.vult", errno.EINVAL,
            r"import of /Demo Vault \(synthetic\)/b\.vult: wrong place")
    refused(m, lib, b.read_bytes(), f"{NAME}/share.vult", errno.EINVAL,
            r"/share\.vult: wrong place")


def test_history_slot_insert(m, vaults, lib):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    assert lib.write_close(m / "gen2.vult", gen2.read_bytes()) is None
    assert os.getxattr(m / NAME / "share.vult", "user.vult.epoch") == b"1"
    assert lib.write_close(m / NAME / "history" / "epoch-1.vult", gen1.read_bytes()) is None
    assert m.log_has(r"/history/epoch-1\.vult: restored to history")
    # inserted as epoch 1, never made current: the current one is now epoch 2
    assert os.getxattr(m / NAME / "share.vult", "user.vult.epoch") == b"2"
    assert os.getxattr(m / NAME / "share.vult", "user.vult.signers") == \
        b"demo-device-1,demo-device-3"
    assert os.getxattr(m / NAME / "history" / "epoch-1.vult", "user.vult.epoch") == b"1"
    # only epoch-N names are taken in history/
    assert lib.write_close(m / NAME / "history" / "other.vult", gen1.read_bytes()) == \
        ("open", errno.EPERM)


def test_vault_json_rules(m, vaults, lib):
    a = vaults.make()
    assert lib.write_close(m / "a.vult", a.read_bytes()) is None
    vj = m / NAME / "vault.json"
    same = vj.read_bytes()
    assert lib.write_close(vj, same) is None  # no-op
    m.expect(r"write of /Demo Vault \(synthetic\)/vault\.json: refused")
    assert lib.write_close(vj, same.replace(b"DKLS", b"GG20")) == ("close", errno.EPERM)
    assert vj.read_bytes() == same
    # by rename of a temporary, as rsync does
    assert lib.write_close(m / NAME / ".vault.json.AbC123", same) is None
    os.rename(m / NAME / ".vault.json.AbC123", vj)
    assert ".vault.json.AbC123" not in os.listdir(m / NAME)


# ../shared/fixtures (MANIFEST.md): each vault's backups, one per device.
FIXTURE_VAULTS = {
    "Test private key vault": ["Test-part1of2.vult", "Test-part2of2.vult"],
    "Test Fast Vault DKLS": ["Test Fast Vault DKLS-8d9b-share1of2-nopass.vult",
                             "Test Fast Vault DKLS-8d9b-share2of2.vult"],
    "TestFastVault": ["TestFastVault-44fd-share1of2-Vultiserver.vult",
                      "TestFastVault-44fd-share2of2-Password123!.vult"],
    "TestSecureVault": ["TestSecureVault-cfa0-share1of2-Password123!.vult",
                        "TestSecureVault-cfa0-share2of2-NoPassword.vult"],
    "vulticli01": ["qa-fast-share1of2.vult", "qa-fast-share2of2.vult"],
    "QA Secure Vault 01": ["qa-secure-share1of3.vult", "qa-secure-share2of3.vult",
                           "qa-secure-share3of3.vult"],
    "JP Honeypot Vault": ["honeypot.bak"],
    "TestVault": ["test_android_vault_backup.bak", "test_ios_vault_backup.bak"],
}


@needs_fixtures
def test_real_backups(mount_factory, lib):
    """Real app exports: each vault's first share is accepted (encrypted ones
    with --import-passwords), another device's is refused as co-location;
    every export reads back as a complete backup."""
    m = mount_factory("fx", start=False)
    passwords = m.base / "import-passwords"
    passwords.write_text("Password123!\nvulticli01\nandroid_test_pwd\nios_test_pwd\n")
    m.extra = ["--import-passwords", str(passwords)]
    m.start()
    for vault, files in FIXTURE_VAULTS.items():
        first, *others = files
        assert lib.write_close(m / first, lib.fixture(first).read_bytes()) is None, first
        assert os.path.isdir(m / vault)
        for other in others:
            m.expect(rf"import of /{re.escape(other)}: co-location")
            assert lib.write_close(m / other, lib.fixture(other).read_bytes()) == \
                ("close", errno.EPERM), other
    assert sorted(os.listdir(m.mnt)) == sorted(FIXTURE_VAULTS)
    for vault in FIXTURE_VAULTS:
        share = m / vault / "share.vult"
        data = share.read_bytes()
        assert len(data) == share.stat().st_size
        r = lib.run([lib.VULTFS, "inspect", "--password-file", m.pp, share])
        facts = json.loads(r.stdout)
        assert facts["complete"] is True and facts["name"] == vault
        assert facts["scheme"] == "current"
        assert os.getxattr(m / vault, "user.vult.pubkey.ecdsa").decode() == \
            facts["public_key_ecdsa"]


def test_fsync_imports(m, vaults, lib):
    """fsync asks for the bytes to be checked and stored: it imports (the
    refusal is its errno, the import is done when it returns), and the close
    after it reports the same result without importing again. dd conv=fsync
    fails on a refused file."""
    m.expect(r"import of /(bad|dd)\.vult: unreadable")
    good = vaults.make().read_bytes()
    fd = os.open(m / "good.vult", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, good)
        os.fsync(fd)
        assert os.listdir(m.mnt) == [NAME]  # stored before close
    finally:
        os.close(fd)
    fd = os.open(m / "bad.vult", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, b"not a backup\n")
        with pytest.raises(OSError) as err:
            os.fsync(fd)
        assert err.value.errno == errno.EINVAL
    finally:
        with pytest.raises(OSError) as err:
            os.close(fd)
        assert err.value.errno == errno.EINVAL
    log = m.log_path.read_text().splitlines()
    for name in ("good", "bad"):
        assert len([x for x in log if f"import of /{name}.vult:" in x]) == 1, name
    src = m.base / "dd-src"
    src.write_bytes(b"still not a backup\n")
    r = lib.run(["dd", f"if={src}", f"of={m / 'dd.vult'}", "conv=fsync", "status=none"],
                check=False)
    assert r.returncode == 1 and os.strerror(errno.EINVAL) in r.stderr, r.stderr
    assert os.listdir(m.mnt) == [NAME]


TTL = 4  # seconds, for the mount (VULTFS_TEST_STAGING_TTL), instead of 60


def wait_until(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_staged_files_expire(mount_factory, monkeypatch):
    """DESIGN: a closed temporary that no handle holds and nobody renamed
    vanishes after a while (60 s; TTL here), as does an empty file created
    and closed without a write; one that a handle holds stays."""
    monkeypatch.setenv("VULTFS_TEST_STAGING_TTL", str(TTL))
    m = mount_factory("ttl")
    (m / "touched.vult").touch()
    (m / ".left-behind.tmp").write_bytes(b"never renamed")
    held = os.open(m / ".held.tmp", os.O_WRONLY | os.O_CREAT)
    try:
        os.write(held, b"still being written")
        assert sorted(os.listdir(m.mnt)) == [".held.tmp", ".left-behind.tmp", "touched.vult"]
        wait_until(lambda: os.listdir(m.mnt) == [".held.tmp"], "closed files expire")
        time.sleep(TTL + 1)
        assert os.listdir(m.mnt) == [".held.tmp"]
    finally:
        os.close(held)
    wait_until(lambda: os.listdir(m.mnt) == [], "the held one expires once closed")


def test_stale_temporaries_stop_blocking_imports(mount_factory, vaults, lib, monkeypatch):
    """64 temporaries of 1 MiB left behind fill all the room staging has;
    once they expire, imports work again (not only after unmount)."""
    monkeypatch.setenv("VULTFS_TEST_STAGING_TTL", str(TTL))
    m = mount_factory("full")
    # each try refused meanwhile says why at its close
    m.expect(r"import of /try\d+\.vult: refused, nothing imported: files being copied in, "
             r"and temporaries left behind, filled the \d+ MiB")
    chunk = b"T" * (1 << 20)
    for i in range(64):
        fd = os.open(m / f".left-behind.{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, chunk)
        except OSError as e:
            assert e.errno == errno.ENOSPC
        finally:
            os.close(fd)
    good = vaults.make().read_bytes()
    tries = []

    def imported():
        tries.append(lib.write_close(m / f"try{len(tries)}.vult", good))
        return tries[-1] is None

    wait_until(imported, "an import after the temporaries expired")
    # the refused tries were empty files: they expire too
    wait_until(lambda: os.listdir(m.mnt) == [NAME], "only the vault is left")
