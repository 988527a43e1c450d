"""The 2026 vault format through a mount (issue 17): a KEYIMPORT backup of
several MB copied in with cp, an ML-DSA upgrade copied over share.vult,
the new facts in xattrs and vault.json, refusals with their errnos, and a
vault directory made with mkdir shown whole once its share is in."""
import errno
import json
import os

import pytest

LAYOUT_ARGS = ["--layout", "keyimport-ios-early", "--chains", "40", "--real-size",
               "--signers", "demo-device-1,demo-device-2,demo-device-3"]


def test_cp_of_a_large_keyimport_backup(m, vaults, lib):
    """Finding 1: a 40-chain KEYIMPORT backup of a 3-party vault (over
    12 MB) was refused as too large; now cp works, and the export reads
    back as the same share."""
    big = vaults.make(*LAYOUT_ARGS, name="Big", ecdsa=lib.ecdsa(40))
    assert big.stat().st_size > 12 << 20
    lib.run(["cp", big, m.mnt])
    assert os.listdir(m.mnt) == ["Big"]
    x = lib.xattrs(m / "Big")
    assert x["user.vult.lib_type"] == b"KEYIMPORT"
    chains = x["user.vult.chains"].decode().split(",")
    assert len(chains) == 40 and chains[:2] == ["Bitcoin", "Ethereum"]
    doc = json.loads((m / "Big" / "vault.json").read_text())
    assert len(doc["chains"]) == 40 and doc["chains"][0]["chain"] == "Bitcoin"
    out = vaults.where / "back.vult"
    lib.run([lib.VULTFS, "inspect", "--password-file", m.pp, m / "Big" / "share.vult"])
    lib.run(["cp", m / "Big" / "share.vult", out])
    assert out.stat().st_size == (m / "Big" / "share.vult").stat().st_size


def test_ml_dsa_upgrade_over_share_vult(m, vaults, lib):
    """Finding 4: the ML-DSA upgrade of a held backup was a conflict; now it
    replaces the epoch's file (same epoch), the xattr and vault.json show
    the key, and the older file is refused as stale."""
    base = vaults.make(name="Upgrade", ecdsa=lib.ecdsa(41))
    grown = vaults.make("--mldsa", from_=base)
    lib.run(["cp", base, m.mnt])
    x = lib.xattrs(m / "Upgrade")
    assert "user.vult.pubkey.mldsa44" not in x and "user.vult.chains" not in x
    old_size = (m / "Upgrade" / "share.vult").stat().st_size
    lib.run(["cp", grown, m / "Upgrade" / "share.vult"])
    assert m.log_has(r"import of /Upgrade/share\.vult: grown: .*ML-DSA")
    x = lib.xattrs(m / "Upgrade" / "share.vult")
    assert x["user.vult.epoch"] == b"1"
    assert len(x["user.vult.pubkey.mldsa44"]) == 2 * 1312
    assert os.listdir(m / "Upgrade" / "history") == []
    assert (m / "Upgrade" / "share.vult").stat().st_size > old_size
    doc = json.loads((m / "Upgrade" / "vault.json").read_text())
    assert doc["public_key_mldsa44"] == x["user.vult.pubkey.mldsa44"].decode()
    # the older backup: out of date, EEXIST
    m.expect(r"import of /Upgrade/share\.vult: out of date")
    assert lib.write_close(m / "Upgrade" / "share.vult", base.read_bytes()) == \
        ("close", errno.EEXIST)
    # setting the new xattrs to their value is a no-op, another value EPERM
    os.setxattr(m / "Upgrade", "user.vult.pubkey.mldsa44", x["user.vult.pubkey.mldsa44"])
    with pytest.raises(OSError) as err:
        os.setxattr(m / "Upgrade", "user.vult.pubkey.mldsa44", b"00")
    assert err.value.errno == errno.EPERM


@pytest.mark.parametrize("flags,words", [
    (["--lock"], r"locked by the app's passcode"),
    (["--mldsa", "--omit", "mldsa"], r"ML-DSA"),
    (["--layout", "keyimport-android", "--omit", "chain:Solana"], r"chain Solana"),
])
def test_incomplete_copies_fail_with_einval(flags, words, m, vaults, lib):
    f = vaults.make(*flags, ecdsa=lib.ecdsa(42))
    m.expect(r"incomplete: .*" + words)
    assert lib.write_close(m / "x.vult", f.read_bytes()) == ("close", errno.EINVAL)
    assert os.listdir(m.mnt) == []


def test_vault_made_by_mkdir_is_shown_whole(m, vaults, lib):
    """Finding 9: `mkdir V && cp backup V/share.vult` imported, but V then
    listed only share.vult, and V/history was ENOENT, until a remount."""
    f = vaults.make(name="vulticli01", ecdsa=lib.ecdsa(43))
    os.mkdir(m / "vulticli01")
    lib.run(["cp", f, m / "vulticli01" / "share.vult"])
    assert sorted(os.listdir(m / "vulticli01")) == ["history", "share.vult", "vault.json"]
    assert os.listdir(m / "vulticli01" / "history") == []
    assert json.loads((m / "vulticli01" / "vault.json").read_text())["name"] == "vulticli01"


def test_restore_into_a_made_directory_still_works(mount_factory, vaults, lib, tmp_path):
    """The placeholder stays while one tool restores the tree (cp -a makes
    the directory and its files itself, expecting it empty of the rest),
    in whatever order the copy lists share.vult, vault.json and history/."""
    src = mount_factory("src")
    lib.run(["cp", vaults.make(name="Copied", ecdsa=lib.ecdsa(44)), src.mnt])
    copy = tmp_path / "copy"
    lib.run(["cp", "-a", src / "Copied", copy])
    dst = mount_factory("dst")
    lib.run(["cp", "-a", copy, dst / "Copied"])
    assert sorted(os.listdir(dst / "Copied")) == ["history", "share.vult", "vault.json"]


@pytest.mark.skipif(not os.environ.get("VULTFS_FIXTURES"), reason="VULTFS_FIXTURES is not set")
@pytest.mark.parametrize("name,password", [
    ("vultisig-payroll-0000-02659f817fae6c3ac300f4e375e57d2bb3ccec4e3d7cdd1032da3f5445991a4d94"
     ".vult", "test123"),
    ("vault_unencrypted.vult", None),
    ("Fast Vault #2-0985-part2of2.vult", "888717"),
])
def test_more_fixtures_through_the_mount(name, password, mount_factory, tmp_path, lib):
    """Finding 10: the real backups of ../shared/more-fixtures, copied in
    and read back as exports the apps import."""
    more = os.path.join(os.path.dirname(os.environ["VULTFS_FIXTURES"]), "more-fixtures")
    extra = []
    if password:
        pw = tmp_path / "pw"
        pw.write_text(password + "\n")
        extra = ["--import-passwords", pw]
    m = mount_factory("more", extra)
    lib.run(["cp", os.path.join(more, name), m.mnt])
    (vault,) = os.listdir(m.mnt)
    share = m / vault / "share.vult"
    facts = json.loads(lib.run([lib.VULTFS, "inspect", "--password-file", m.pp, share]).stdout)
    assert facts["complete"] is True and facts["name"] == vault
    x = lib.xattrs(m / vault)
    assert x["user.vult.device"].decode() == facts["local_party_id"]


@pytest.mark.parametrize("tool", ["cp", "rsync", "tar"])
def test_2026_vaults_restore_in_any_order(tool, mount_factory, vaults, lib, tmp_path):
    """A mount holding a KEYIMPORT vault, a vault grown by an ML-DSA key
    (with a reshare since, so the grown epoch is in history) and an early
    iOS file, copied out and restored into an empty mount, comes back with
    the same tree, epochs and xattrs, the new ones included."""
    src = mount_factory("src", ["--export-password", "none"])
    ki = vaults.make("--layout", "keyimport-server", "--chains", "12", name="KI",
                     ecdsa=lib.ecdsa(50))
    early = vaults.make("--layout", "keyimport-ios-early", "--chains", "12", name="Early",
                        ecdsa=lib.ecdsa(51))
    base = vaults.make(name="Grown", ecdsa=lib.ecdsa(52))
    grown = vaults.make("--mldsa", from_=base)
    reshared = vaults.make(from_=grown, signers="demo-device-1,demo-device-3", tag="r2")
    for f in (ki, early, base):
        lib.run(["cp", f, src.mnt])
    lib.run(["cp", grown, src / "Grown" / "share.vult"])
    lib.run(["cp", reshared, src / "Grown" / "share.vult"])
    assert os.listdir(src / "Grown" / "history") == ["epoch-1.vult"]
    assert "user.vult.pubkey.mldsa44" in lib.xattrs(src / "Grown" / "history" / "epoch-1.vult")
    before = lib.snapshot(src.mnt)
    out = tmp_path / "copy"
    dst = mount_factory("dst", ["--export-password", "none"])
    if tool == "cp":
        lib.run(["cp", "-a", f"{src.mnt}/.", out])
        r = lib.run(["cp", "-a", f"{out}/.", dst.mnt])
    elif tool == "rsync":
        lib.run(["rsync", "-aX", f"{src.mnt}/", f"{out}/"])
        r = lib.run(["rsync", "-aX", f"{out}/", f"{dst.mnt}/"])
    else:
        lib.run(["tar", "--xattrs", "-C", src.mnt, "-cf", f"{out}.tar", "."])
        r = lib.run(["tar", "--xattrs", "-C", dst.mnt, "-xf", f"{out}.tar"])
    assert r.stderr == "", r.stderr
    assert lib.snapshot(dst.mnt) == before
