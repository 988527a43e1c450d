"""Two vaults with the same name (different ECDSA keys) in one store show as
"NAME" and "NAME-<last 4 hex of its ECDSA key>". A copy of the mount
restored into an empty mount of a new store must give the same two names
for the same keys, whichever directory the copy brings first (DESIGN:
"Restoring a copy of a whole mount ... in any copy order")."""
import os

import pytest

PLAIN = ["--export-password", "none"]
NAME = "Same"
KEY_FIRST = "02" + "ab" * 31 + "c0de"   # imported first: plain "Same"
KEY_SECOND = "02" + "cd" * 31 + "beef"  # imported second: "Same-beef"
CLASH = f"{NAME}-beef"


def populate(m, vaults, lib):
    first = vaults.make(name=NAME, ecdsa=KEY_FIRST)
    # a reshare of the second one, so that its directory holds history/ too
    s1 = vaults.make(name=NAME, ecdsa=KEY_SECOND)
    s2 = vaults.make(from_=s1, signers="demo-device-1,demo-device-3", tag="s2")
    lib.run(["cp", first, m.mnt])
    lib.run(["cp", s1, m.mnt])
    lib.run(["cp", s2, m / CLASH / "share.vult"])


def names_to_keys(mnt):
    return {d: os.getxattr(os.path.join(mnt, d), "user.vult.pubkey.ecdsa").decode()
            for d in sorted(os.listdir(mnt))}


def check(mnt):
    assert names_to_keys(mnt) == {NAME: KEY_FIRST, CLASH: KEY_SECOND}
    for d in (NAME, CLASH):
        assert os.getxattr(os.path.join(mnt, d, "share.vult"),
                           "user.vult.pubkey.ecdsa").decode() == names_to_keys(mnt)[d]
    assert os.getxattr(os.path.join(mnt, CLASH, "share.vult"), "user.vult.epoch") == b"2"
    assert os.listdir(os.path.join(mnt, CLASH, "history")) == ["epoch-1.vult"]


@pytest.fixture
def copied(mount_factory, vaults, lib, tmp_path):
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    check(src.mnt)
    assert sorted(os.listdir(src.mnt)) == [NAME, CLASH]
    out = tmp_path / "copy"
    out.mkdir()
    lib.run(["cp", "-a", f"{src.mnt}/.", out])
    return out, lib.snapshot(src.mnt)


def test_cp_a(mount_factory, lib, copied):
    out, before = copied
    dst = mount_factory("dst", PLAIN)
    r = lib.run(["cp", "-a", f"{out}/.", dst.mnt])
    assert r.stderr == "", r.stderr
    check(dst.mnt)
    assert lib.snapshot(dst.mnt) == before
    dst.restart()
    check(dst.mnt)
    assert lib.snapshot(dst.mnt) == before


def restore_dir_by_hand(out, dst, d, lib):
    """mkdir D, its share.vult FIRST, then history/ and its files, then
    vault.json (identical content: a no-op), all with O_EXCL like cp."""
    excl = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    os.mkdir(dst / d)
    data = (out / d / "share.vult").read_bytes()
    assert lib.write_close(dst / d / "share.vult", data, excl) is None
    os.mkdir(dst / d / "history")
    for name in sorted(os.listdir(out / d / "history")):
        data = (out / d / "history" / name).read_bytes()
        assert lib.write_close(dst / d / "history" / name, data, excl) is None
    data = (out / d / "vault.json").read_bytes()
    assert lib.write_close(dst / d / "vault.json", data) is None


def test_suffixed_directory_first(mount_factory, lib, copied):
    """By hand: all of "Same-beef/" (its share.vult first) before "Same/"
    exists at all; then "Same/"."""
    out, before = copied
    dst = mount_factory("dst", PLAIN)
    restore_dir_by_hand(out, dst.mnt, CLASH, lib)
    assert names_to_keys(dst.mnt) == {CLASH: KEY_SECOND}
    restore_dir_by_hand(out, dst.mnt, NAME, lib)
    check(dst.mnt)
    assert lib.snapshot(dst.mnt) == before
    dst.restart()
    check(dst.mnt)
    assert lib.snapshot(dst.mnt) == before
