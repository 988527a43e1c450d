"""The tree and reading: names, listing order, sizes, vault.json, and
everything stable across remounts."""
import errno
import json
import os
import signal
import stat

import pytest

NAME = "Demo Vault (synthetic)"


def with_history(m, vaults, lib, **kw):
    g1 = vaults.make(**kw)
    g2 = vaults.make(from_=g1, signers="demo-device-1,demo-device-7", tag="two")
    lib.run(["cp", g1, m.mnt])
    lib.run(["cp", g2, m.mnt])
    return g1, g2


def test_listing_order_and_modes(m, vaults, lib):
    with_history(m, vaults, lib)
    lib.run(["cp", vaults.make(name="Another", ecdsa=lib.ecdsa(9)), m.mnt])
    os.mkdir(m / "Made")
    # root: vaults in store order, then new directories
    assert os.listdir(m.mnt) == [NAME, "Another", "Made"]
    # history first, share.vult last (DESIGN, "The tree")
    assert os.listdir(m / NAME) == ["history", "vault.json", "share.vult"]
    assert os.listdir(m / NAME / "history") == ["epoch-1.vult"]
    modes = {p: stat.S_IMODE(os.stat(m / p).st_mode) for p in
             (NAME, f"{NAME}/history", f"{NAME}/share.vult", f"{NAME}/vault.json",
              f"{NAME}/history/epoch-1.vult")}
    assert modes == {NAME: 0o700, f"{NAME}/history": 0o700, f"{NAME}/share.vult": 0o600,
                     f"{NAME}/vault.json": 0o600, f"{NAME}/history/epoch-1.vult": 0o400}
    st = os.stat(m / NAME / "share.vult")
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    sv = os.statvfs(m.mnt)
    assert sv.f_bsize > 0 and sv.f_namemax >= 255


def test_exact_sizes_and_deterministic_reads(m, vaults, lib):
    with_history(m, vaults, lib)
    for rel in ("share.vult", "vault.json", "history/epoch-1.vult"):
        p = m / NAME / rel
        data = p.read_bytes()
        assert len(data) == p.stat().st_size, rel
        assert p.read_bytes() == data
    # KDE copies exactly st_size bytes
    with open(m / NAME / "share.vult", "rb") as f:
        assert len(f.read(os.stat(m / NAME / "share.vult").st_size)) > 0


def test_unencrypted_export_is_the_backup(mount_factory, vaults, lib):
    m = mount_factory("plain", ["--export-password", "none"])
    src = vaults.make()
    lib.run(["cp", src, m.mnt])
    r = lib.run([lib.VULTFS, "inspect", m / NAME / "share.vult"])
    assert json.loads(r.stdout)["scheme"] == "none"


def test_vault_json(m, vaults, lib):
    g1, g2 = with_history(m, vaults, lib)
    text = (m / NAME / "vault.json").read_text()
    assert text.endswith("\n")
    facts = json.loads(text)
    assert facts["name"] == NAME and facts["current_epoch"] == 2
    assert [e["file"] for e in facts["epochs"]] == ["history/epoch-1.vult", "share.vult"]
    assert [e["superseded"] for e in facts["epochs"]] == [True, False]
    assert "FAKEKEYSHARE" not in text and "keyshare" not in text.lower()
    assert "imported" not in text  # no local times


def test_name_sanitizing_and_clash(m, vaults, lib):
    lib.run(["cp", vaults.make(name="a/b", ecdsa=lib.ecdsa(1)), m.mnt])
    lib.run(["cp", vaults.make(name="Same", ecdsa="02" + "ab" * 31 + "c0de"), m.mnt])
    lib.run(["cp", vaults.make(name="Same", ecdsa="02" + "cd" * 31 + "beef"), m.mnt])
    assert os.listdir(m.mnt) == ["a_b", "Same", "Same-beef"]
    assert os.getxattr(m / "Same-beef", "user.vult.pubkey.ecdsa").decode().endswith("beef")


def tree_facts(m):
    out = {}
    for dirpath, dirnames, filenames in os.walk(m.mnt):
        with os.scandir(dirpath) as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                assert entry.inode() == st.st_ino, entry.path  # readdir agrees with stat
                data = None if entry.is_dir() else open(entry.path, "rb").read()
                out[os.path.relpath(entry.path, m.mnt)] = (
                    st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode, data)
    out["."] = os.stat(m.mnt).st_ino
    return out


def test_stable_across_remounts(m, vaults, lib):
    with_history(m, vaults, lib)
    lib.run(["cp", vaults.make(name="Other", ecdsa=lib.ecdsa(4)), m.mnt])
    before = tree_facts(m)
    share = m / NAME / "share.vult"
    assert before[f"{NAME}/share.vult"][2] == before[f"{NAME}/share.vult"][3]  # mtime == ctime
    m.restart()
    assert tree_facts(m) == before
    inos = [v[0] for k, v in before.items() if k != "."]
    assert len(set(inos)) == len(inos)
    assert share.stat().st_ino == before[f"{NAME}/share.vult"][0]


def test_import_changes_what_is_read(m, vaults, lib):
    """An import replaces share.vult: the next read sees the new export
    (size, mtime, bytes), never a cached old one."""
    g1 = vaults.make()
    lib.run(["cp", g1, m.mnt])
    share = m / NAME / "share.vult"
    old = share.read_bytes()
    old_st = share.stat()
    g2 = vaults.make(from_=g1, signers="demo-device-1,demo-device-7,demo-device-8", tag="big")
    lib.run(["cp", g2, share])
    new = share.read_bytes()
    assert new != old and len(new) == share.stat().st_size
    assert share.stat().st_mtime_ns != old_st.st_mtime_ns
    assert (m / NAME / "history" / "epoch-1.vult").read_bytes() == old
    # imported under another name, right after a read of share.vult
    g3 = vaults.make(from_=g1, signers="demo-device-1,demo-device-9", tag="three")
    with open(share, "rb") as f:
        assert f.read() == new
    lib.run(["cp", g3, m / "g3.vult"])
    with open(share, "rb") as f:
        third = f.read()
    assert third != new and len(third) == share.stat().st_size
    assert os.getxattr(share, "user.vult.epoch") == b"3"


def test_sigterm_and_sigint_unmount_durably(mount_factory, vaults, lib):
    for sig in (signal.SIGTERM, signal.SIGINT):
        m = mount_factory(f"sig{int(sig)}")
        lib.run(["cp", vaults.make(name=f"S{int(sig)}", ecdsa=lib.ecdsa(int(sig))), m.mnt])
        m.proc.send_signal(sig)
        assert m.proc.wait(timeout=15) == 0
        assert not os.path.ismount(m.mnt)
        m.proc = None
        m.stderr.close()
        m.start()
        assert os.listdir(m.mnt) == [f"S{int(sig)}"]


def test_links_and_special_files_are_refused(m, vaults, lib):
    """Only vault shares live here: links, symlinks, FIFOs and devices get a
    plain EPERM (not ENOSYS), and the tree stays as it was."""
    with_history(m, vaults, lib)
    before = sorted(os.listdir(m.mnt))
    share = m / NAME / "share.vult"
    attempts = [
        lambda: os.symlink("share.vult", m / NAME / "link.vult"),
        lambda: os.link(share, m / NAME / "hard.vult"),
        lambda: os.mkfifo(m / "fifo"),
        lambda: os.mknod(m / "node", stat.S_IFCHR | 0o600, os.makedev(1, 3)),
    ]
    for attempt in attempts:
        with pytest.raises(OSError) as err:
            attempt()
        assert err.value.errno == errno.EPERM
    assert sorted(os.listdir(m.mnt)) == before
    assert os.listdir(m / NAME) == ["history", "vault.json", "share.vult"]
