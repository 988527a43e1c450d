"""A whole mount copied out (cp -a, rsync -aX, tar --xattrs) and back into
an empty mount of a new store must come back identical: the same files,
the same shares in the same epochs, the same xattrs, the same bytes where
exports are unencrypted, and no error from the tool either way."""
import os

import pytest

FIXTURES = os.environ.get("VULTFS_FIXTURES")
needs_fixtures = pytest.mark.skipif(not FIXTURES or not os.path.isdir(FIXTURES),
                                    reason="VULTFS_FIXTURES is not set")

PLAIN = ["--export-password", "none"]


def populate(m, vaults, lib):
    """Vaults with history (DKLS signers change, GG20 reshare prefix), one
    holding only history, one with a sanitized name."""
    lib.add_reshared_vaults(m, vaults)
    h = vaults.make(name="Hist", ecdsa=lib.ecdsa(4))
    os.mkdir(m / "Hist")
    os.mkdir(m / "Hist" / "history")
    lib.run(["cp", h, m / "Hist" / "history" / "epoch-1.vult"])
    s = vaults.make(name="Slash/Name", ecdsa=lib.ecdsa(5))
    lib.run(["cp", s, m.mnt])
    # a directory made by mkdir shows only what was put into it (its
    # vault.json once written) until the next mount
    assert os.listdir(m / "Hist") == ["history"]
    m.restart()


def copy_out(tool, src, dst, lib):
    os.makedirs(dst, exist_ok=True)
    if tool == "cp":
        lib.run(["cp", "-a", f"{src}/.", dst])
    elif tool == "rsync":
        lib.run(["rsync", "-aX", f"{src}/", f"{dst}/"])
    else:
        lib.run(["tar", "--xattrs", "-C", src, "-cf", f"{dst}.tar", "."])


def copy_in(tool, src, dst, lib):
    if tool == "cp":
        r = lib.run(["cp", "-a", f"{src}/.", dst])
    elif tool == "rsync":
        r = lib.run(["rsync", "-aX", f"{src}/", f"{dst}/"])
    else:
        r = lib.run(["tar", "--xattrs", "-C", dst, "-xf", f"{src}.tar"])
    assert r.stderr == "", r.stderr  # no error, and no warning either


def check_tree(m):
    assert sorted(os.listdir(m.mnt)) == ["Alpha", "Gamma", "Hist", "Slash_Name"]
    assert os.listdir(m / "Alpha" / "history") == ["epoch-1.vult", "epoch-2.vult"]
    assert os.getxattr(m / "Alpha" / "share.vult", "user.vult.epoch") == b"3"
    assert os.getxattr(m / "Gamma" / "share.vult", "user.vult.reshare_prefix") == b"2c5e9ced"
    assert os.listdir(m / "Hist") == ["history", "vault.json"]


@pytest.mark.parametrize("tool", ["cp", "rsync", "tar"])
def test_copy_out_and_restore(mount_factory, vaults, lib, tmp_path, tool):
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    check_tree(src)
    before = lib.snapshot(src.mnt)
    copy_out(tool, src.mnt, tmp_path / "copy", lib)
    if tool != "tar":
        assert lib.snapshot(tmp_path / "copy") == before
    dst = mount_factory("dst", PLAIN)
    copy_in(tool, tmp_path / "copy", dst.mnt, lib)
    check_tree(dst)
    assert lib.snapshot(dst.mnt) == before
    dst.restart()
    assert lib.snapshot(dst.mnt) == before


def test_restore_encrypted_exports(mount_factory, vaults, lib, tmp_path):
    """Exports encrypted with the passphrase: the new store (same passphrase)
    decrypts them; its own exports differ in bytes, never in facts."""
    src = mount_factory("src")
    populate(src, vaults, lib)
    before = lib.snapshot(src.mnt, content=False)
    copy_out("cp", src.mnt, tmp_path / "copy", lib)
    dst = mount_factory("dst")
    copy_in("cp", tmp_path / "copy", dst.mnt, lib)
    assert lib.snapshot(dst.mnt, content=False) == before
    assert (dst / "Alpha" / "share.vult").read_bytes() != \
        (src / "Alpha" / "share.vult").read_bytes()


def test_restore_in_any_order(mount_factory, vaults, lib, tmp_path):
    """share.vult before history/, vault.json in the middle, all with O_EXCL
    as cp does into directories it made."""
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    before = lib.snapshot(src.mnt)
    copy_out("cp", src.mnt, tmp_path / "copy", lib)
    dst = mount_factory("dst", PLAIN)
    excl = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for vault in sorted(os.listdir(tmp_path / "copy"), reverse=True):
        v = tmp_path / "copy" / vault
        os.mkdir(dst / vault)
        for name in ("share.vult", "vault.json"):
            if (v / name).exists():
                assert lib.write_close(dst / vault / name, (v / name).read_bytes(), excl) is None
        os.mkdir(dst / vault / "history")
        for name in sorted(os.listdir(v / "history"), reverse=True):
            data = (v / "history" / name).read_bytes()
            assert lib.write_close(dst / vault / "history" / name, data, excl) is None
        for name, value in lib.xattrs(v).items():
            os.setxattr(dst / vault, name, value)
    assert lib.snapshot(dst.mnt) == before


@needs_fixtures
def test_restore_real_backups(mount_factory, lib, tmp_path):
    src = mount_factory("src", PLAIN)
    names = ["Test-part1of2.vult", "Test Fast Vault DKLS-8d9b-share2of2.vult",
             "honeypot.bak", "qa-secure-share3of3.vult"]
    for name in names:
        lib.run(["cp", lib.fixture(name), src.mnt])
    before = lib.snapshot(src.mnt)
    # unencrypted exports keep the app's Vault bytes, so they decode alike
    copy_out("rsync", src.mnt, tmp_path / "copy", lib)
    dst = mount_factory("dst", PLAIN)
    copy_in("rsync", tmp_path / "copy", dst.mnt, lib)
    assert lib.snapshot(dst.mnt) == before
