"""Extended attributes: user.vult.* on vault directories and every .vult
file, read-only, except setting the value already there."""
import errno
import os

import pytest

NAME = "Demo Vault (synthetic)"
NAMES = ["user.vult.epoch", "user.vult.device", "user.vult.reshare_prefix",
         "user.vult.pubkey.ecdsa", "user.vult.pubkey.eddsa", "user.vult.signers",
         "user.vult.lib_type", "user.vult.created_at"]


@pytest.fixture
def two_epochs(m, vaults, lib):
    g1 = vaults.make(lib="gg20")
    g2 = vaults.make(from_=g1, prefix="0badf00d", tag="two")
    lib.run(["cp", g1, m.mnt])
    lib.run(["cp", g2, m.mnt])
    return m


def test_listxattr(two_epochs):
    m = two_epochs
    assert sorted(os.listxattr(m / NAME)) == sorted(NAMES)
    assert sorted(os.listxattr(m / NAME / "share.vult")) == sorted(NAMES)
    assert sorted(os.listxattr(m / NAME / "history" / "epoch-1.vult")) == \
        sorted(NAMES + ["user.vult.superseded"])
    assert os.listxattr(m / NAME / "vault.json") == []
    assert os.listxattr(m.mnt) == []


def test_values(two_epochs):
    m = two_epochs
    d = {n: os.getxattr(m / NAME, n) for n in NAMES}
    assert d["user.vult.epoch"] == b"2"  # the directory shows the current epoch
    assert d["user.vult.reshare_prefix"] == b"0badf00d"
    assert d["user.vult.lib_type"] == b"GG20"
    assert d["user.vult.device"] == b"demo-device-1"
    assert d["user.vult.signers"] == b"demo-device-1,demo-device-2"
    old = m / NAME / "history" / "epoch-1.vult"
    assert os.getxattr(old, "user.vult.superseded") == b"true"
    assert os.getxattr(old, "user.vult.reshare_prefix") == b""
    with pytest.raises(OSError) as err:
        os.getxattr(m / NAME / "share.vult", "user.vult.superseded")
    assert err.value.errno == errno.ENODATA
    with pytest.raises(OSError) as err:
        os.getxattr(m / NAME / "share.vult", "user.other")
    assert err.value.errno == errno.ENOTSUP


def test_getfattr_setfattr(two_epochs, lib):
    m = two_epochs
    share = m / NAME / "share.vult"
    r = lib.run(["getfattr", "-d", share])
    assert 'user.vult.epoch="2"' in r.stdout and 'user.vult.device="demo-device-1"' in r.stdout
    for p in (share, m / NAME, m / NAME / "history" / "epoch-1.vult"):
        for name, value in lib.xattrs(p).items():
            lib.run(["setfattr", "-n", name, "-v", value.decode() or '""', p])
    r = lib.run(["setfattr", "-n", "user.vult.epoch", "-v", "9", share], check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    r = lib.run(["setfattr", "-n", "user.comment", "-v", "x", share], check=False)
    assert r.returncode != 0 and "Operation not supported" in r.stderr
    r = lib.run(["setfattr", "-x", "user.vult.epoch", share], check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    r = lib.run(["setfattr", "-x", "user.comment", share], check=False)
    assert r.returncode != 0 and "Operation not supported" in r.stderr
    with pytest.raises(OSError) as err:
        os.setxattr(m / NAME / "vault.json", "user.vult.epoch", b"2")
    assert err.value.errno == errno.EPERM
    assert os.getxattr(share, "user.vult.epoch") == b"2"


def test_set_while_staged_or_new_directory(m, vaults, lib):
    data = vaults.make().read_bytes()
    fd = os.open(m / "new.vult", os.O_WRONLY | os.O_CREAT)
    os.write(fd, data)
    os.setxattr(m / "new.vult", "user.vult.epoch", b"42")  # accepted, ignored
    os.close(fd)
    assert os.getxattr(m / NAME / "share.vult", "user.vult.epoch") == b"1"
    os.mkdir(m / "Fresh")
    os.setxattr(m / "Fresh", "user.vult.device", b"anything")
    assert os.listxattr(m / "Fresh") == []
