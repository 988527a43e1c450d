"""The kernel caches entries, attributes (for a second) and file pages
(across opens), and the mount tells it of every change it makes: what a
tool sees right after an import, a vault.json write or a file leaving the
tree is the new state, never the cached one. Each check runs right after
the change, well within the cache's second, and most would fail without
the mount's invalidations (fs/notify.c).
"""
import errno
import json
import os
import time

import pytest

PLAIN = ["--export-password", "none"]  # an export is then the imported file


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def vault_and_reshare(m, vaults, lib, name, k):
    """A vault (gen1, copied in) and a reshare with one more signer (gen2)."""
    gen1 = vaults.make(name=name, ecdsa=lib.ecdsa(k))
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3,demo-device-4",
                       tag="g2")
    lib.run(["cp", gen1, m.mnt])
    return gen1, gen2


def test_a_reader_who_cached_share_vult_reads_the_new_export(mount_factory, vaults, lib):
    """share.vult read (its pages and size cached), then a reshare copied
    in: the next read and stat show the new share, whole."""
    m = mount_factory("a", PLAIN)
    gen1, gen2 = vault_and_reshare(m, vaults, lib, "Cached", 1)
    share = m / "Cached" / "share.vult"
    assert read_all(share) == gen1.read_bytes()
    assert read_all(share) == gen1.read_bytes()  # now from the page cache
    assert os.stat(share).st_size == gen1.stat().st_size
    lib.run(["cp", gen2, m.mnt])
    assert os.stat(share).st_size == gen2.stat().st_size
    assert read_all(share) == gen2.read_bytes()
    assert os.getxattr(share, "user.vult.epoch") == b"2"


def test_vault_json_shows_its_new_size_and_text_at_once(mount_factory, vaults, lib):
    """vault.json read, then a reshare with more signers: its size and text
    are the new ones (a stale size would cut the text short)."""
    m = mount_factory("a", PLAIN)
    _, gen2 = vault_and_reshare(m, vaults, lib, "Facts", 2)
    facts = m / "Facts" / "vault.json"
    before = read_all(facts)
    assert os.stat(facts).st_size == len(before)
    lib.run(["cp", gen2, m.mnt])
    after = read_all(facts)
    assert after != before
    assert os.stat(facts).st_size == len(after)
    assert "demo-device-4" in json.dumps(json.loads(after))


def test_a_new_vault_shows_in_the_root_at_once(mount_factory, vaults, lib):
    """The root's link count (find and ls rely on it) and a lookup of the
    new directory's name, made before the import, show the new vault."""
    m = mount_factory("a", PLAIN)
    first = vaults.make(name="First", ecdsa=lib.ecdsa(3))
    second = vaults.make(name="Second", ecdsa=lib.ecdsa(4))
    lib.run(["cp", first, m.mnt])
    assert os.stat(m.mnt).st_nlink == 3
    assert not os.path.exists(m / "Second")
    lib.run(["cp", second, m.mnt])
    assert os.path.isdir(m / "Second")
    assert sorted(os.listdir(m.mnt)) == ["First", "Second"]
    assert os.stat(m.mnt).st_nlink == 4


def test_a_file_imported_in_the_root_leaves_at_once(mount_factory, vaults, lib):
    """/x.vult is imported at close and leaves the tree: it no longer
    stats, and the same name can be written again (a shell's > opens
    without O_EXCL)."""
    m = mount_factory("a", PLAIN)
    v = vaults.make(name="Leaves", ecdsa=lib.ecdsa(5))
    dropped = m / "drop.vult"
    assert lib.write_close(dropped, v.read_bytes()) is None
    assert not os.path.exists(dropped)
    assert lib.write_close(dropped, v.read_bytes(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC) is None
    assert not os.path.exists(dropped)
    assert os.listdir(m.mnt) == ["Leaves"]


def test_a_file_imported_in_a_vault_directory_leaves_at_once(mount_factory, vaults, lib):
    """The same in a vault's directory, where the kernel's entry cannot be
    dropped by name: the file stats no more, and writing it again works."""
    m = mount_factory("a", PLAIN)
    gen1 = vaults.make(name="Inside", ecdsa=lib.ecdsa(6))
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    lib.run(["cp", gen1, m.mnt])
    other = m / "Inside" / "reshare.vult"
    assert lib.write_close(other, gen2.read_bytes()) is None
    assert not os.path.exists(other)
    assert read_all(m / "Inside" / "share.vult") == gen2.read_bytes()
    assert lib.write_close(other, gen2.read_bytes()) is None  # the same again: no change
    assert not os.path.exists(other)
    assert sorted(os.listdir(m / "Inside")) == ["history", "share.vult", "vault.json"]


def test_a_directory_made_by_mkdir_shows_the_vault_it_became(mount_factory, vaults, lib):
    """mkdir, then a share copied into it: the directory's inode number is
    the vault's at once (readdir and stat agree), and rmdir of another
    directory made by mkdir makes it vanish."""
    m = mount_factory("a", PLAIN)
    v = vaults.make(name="Restored", ecdsa=lib.ecdsa(7))
    d = m / "Restored"
    os.mkdir(d)
    made = os.stat(d).st_ino
    lib.run(["cp", v, d / "share.vult"])
    listed = {e.name: e.inode() for e in os.scandir(m.mnt)}
    assert os.stat(d).st_ino == listed["Restored"] != made
    os.mkdir(m / "Empty")
    assert os.path.isdir(m / "Empty")
    os.rmdir(m / "Empty")
    assert not os.path.exists(m / "Empty")
    try:
        os.stat(m / "Empty")
        gone = None
    except OSError as e:
        gone = e.errno
    assert gone == errno.ENOENT


def test_directories_show_the_time_of_an_import_made_elsewhere(mount_factory, vaults, lib):
    """A reshare copied into the root changes the vault's directory (its
    time); one written over share.vult changes the root's. Neither is an
    operation on that directory, so only the mount can tell the kernel."""
    m = mount_factory("a", PLAIN)
    gen1 = vaults.make(name="Timed", ecdsa=lib.ecdsa(8))
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    gen3 = vaults.make(from_=gen2, signers="demo-device-1,demo-device-4", tag="g3")
    lib.run(["cp", gen1, m.mnt])
    d = m / "Timed"
    before = (os.stat(m.mnt).st_mtime_ns, os.stat(d).st_mtime_ns)
    lib.run(["cp", gen2, m.mnt])
    changed = os.stat(d / "share.vult").st_mtime_ns
    assert changed > before[1]
    assert os.stat(d).st_mtime_ns == changed
    lib.run(["cp", gen3, d / "share.vult"])
    changed = os.stat(d / "share.vult").st_mtime_ns
    assert os.stat(m.mnt).st_mtime_ns == changed > before[0]
    assert os.stat(d).st_mtime_ns == changed


def test_a_long_listing_comes_whole_with_its_attributes(mount_factory, vaults, lib):
    """A root too long for one readdir buffer (long names: several calls,
    each going on at an offset) lists every vault once, and what the
    listing gives the kernel (readdirplus) is what stat gives."""
    m = mount_factory("a", PLAIN)
    # about 350 bytes an entry: more than the kernel's largest readdir buffer (128 KiB)
    names = [f"{'Long vault name ' * 12}{k:03d}" for k in range(400)]
    files = [vaults.make(name=n, ecdsa=lib.ecdsa(100 + k)) for k, n in enumerate(names)]
    lib.run(["cp", *files, m.mnt])
    listed = os.listdir(m.mnt)
    assert sorted(listed) == sorted(names)
    inodes = {e.name: e.stat(follow_symlinks=False).st_ino for e in os.scandir(m.mnt)}
    assert inodes == {n: os.stat(m / n).st_ino for n in names}
    shown = lib.run(["ls", "-ln", m / names[-1]]).stdout.splitlines()
    sizes = {line.split()[-1]: int(line.split()[4]) for line in shown[1:]}
    d = m / names[-1]
    assert sizes == {n: os.stat(d / n).st_size for n in ("history", "share.vult", "vault.json")}
    assert sizes["share.vult"] == files[-1].stat().st_size


TTL = 2  # seconds a closed staged file stays (VULTFS_TEST_STAGING_TTL), instead of 60


def staged_then_expired(m, paths):
    """Leaves each path (a temporary) behind, lists its directory (the
    kernel then holds its entry and attributes for a second) shortly
    before it expires, and returns once it has expired or that second is
    over, whichever comes first."""
    for p in paths:
        p.write_bytes(b"left behind")
    closed = time.monotonic()
    time.sleep(TTL - 0.4)
    for p in paths:
        assert p.name in os.listdir(p.parent)  # readdirplus: entry and attributes cached
    cached_until = time.monotonic() + 0.9
    while time.monotonic() < cached_until and any(os.path.lexists(p) for p in paths):
        time.sleep(0.02)
    assert time.monotonic() - closed >= TTL - 0.4


def test_an_expired_temporary_is_gone_at_once(mount_factory, vaults, lib, monkeypatch):
    """A temporary a tool left behind expires (TTL) with nothing else
    happening in the mount: right after, a stat of it fails and its
    directory's listing no longer shows it, although the kernel had both
    cached a moment before (it keeps them for a second)."""
    monkeypatch.setenv("VULTFS_TEST_STAGING_TTL", str(TTL))
    m = mount_factory("a", PLAIN)
    lib.run(["cp", vaults.make(name="Kept", ecdsa=lib.ecdsa(7)), m.mnt])
    in_root, in_vault = m / ".left.tmp", m / "Kept" / ".share.vult.Ab12Cd"
    staged_then_expired(m, [in_root, in_vault])
    for p in (in_root, in_vault):
        assert not os.path.lexists(p), p
        with pytest.raises(FileNotFoundError):
            os.stat(p)
    assert os.listdir(m.mnt) == ["Kept"]
    assert sorted(os.listdir(m / "Kept")) == ["history", "share.vult", "vault.json"]
    assert m.log_has(r"/\.left\.tmp dropped: staged and unused")
