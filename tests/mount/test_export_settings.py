"""Exports follow the export password. After a remount with another export
password or scheme, or `vultfs passwd` (the passphrase is the default
export password), every share.vult has new bytes of the same size; its
mtime and ctime move to when the settings changed, so that rsync's quick
check, restic and borg take the new bytes instead of silently keeping the
old ones. With the same settings, nothing moves.
"""
import os
from types import SimpleNamespace
import time

# the restic and borg fixtures: a repository each, in tmp_path
from test_backup_tools import borg, restic  # noqa: F401


def exports(root):
    """{relative path: bytes} of every .vult under root."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".vult"):
                p = os.path.join(d, f)
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, root)] = fh.read()
    return out


def stats(root):
    """What backup tools compare, per export: inode, size, mtime, ctime, mode.
    Not st_dev: a remount may get another device number on a busy machine
    (another FUSE mount took the old one), which vultfs does not choose."""
    out = {}
    for rel in exports(root):
        st = os.stat(os.path.join(root, rel))
        out[rel] = SimpleNamespace(st_ino=st.st_ino, st_size=st.st_size, st_mode=st.st_mode,
                                   st_mtime_ns=st.st_mtime_ns, st_ctime_ns=st.st_ctime_ns)
    return out


def populated(mount_factory, vaults, lib, tmp_path, name="src"):
    pw_a = tmp_path / "pw-a"
    pw_a.write_text("first export password\n")
    m = mount_factory(name, ["--export-password-file", pw_a])
    lib.add_reshared_vaults(m, vaults)
    # the settings change must fall in a later second than the imports
    time.sleep(1.1)
    return m


def remount_with(m, extra):
    m.stop()
    m.extra = list(extra)
    m.start()


def other_password(tmp_path):
    pw_b = tmp_path / "pw-b"
    pw_b.write_text("second export password\n")
    return ["--export-password-file", pw_b]


def test_times_move_with_the_settings_and_only_then(mount_factory, vaults, lib, tmp_path):
    m = populated(mount_factory, vaults, lib, tmp_path)
    first, first_bytes = stats(m.mnt), exports(m.mnt)
    assert len(first) == 5  # Alpha: 3 epochs, Gamma: 2
    remount_with(m, m.extra)  # the same settings: nothing moves
    assert stats(m.mnt) == first and exports(m.mnt) == first_bytes

    json_mtime = (m / "Alpha" / "vault.json").stat().st_mtime_ns
    remount_with(m, other_password(tmp_path))
    # vault.json does not depend on the password: it keeps its time
    assert (m / "Alpha" / "vault.json").stat().st_mtime_ns == json_mtime
    second, second_bytes = stats(m.mnt), exports(m.mnt)
    for rel, st in second.items():
        old = first[rel]
        assert second_bytes[rel] != first_bytes[rel], rel
        assert (st.st_size, st.st_ino) == (old.st_size, old.st_ino), rel
        assert st.st_mtime_ns > old.st_mtime_ns and st.st_ctime_ns > old.st_ctime_ns, rel
        assert st.st_mtime_ns == st.st_ctime_ns
    remount_with(m, m.extra)  # the new settings again: stable from now on
    assert stats(m.mnt) == second

    time.sleep(1.1)
    remount_with(m, m.extra + ["--export-scheme", "legacy"])
    third = stats(m.mnt)
    assert all(third[rel].st_mtime_ns > second[rel].st_mtime_ns for rel in third)


def test_rsync_copies_the_new_bytes(mount_factory, vaults, lib, tmp_path):
    m = populated(mount_factory, vaults, lib, tmp_path)
    backup = tmp_path / "backup"
    lib.run(["rsync", "-a", f"{m.mnt}/", f"{backup}/"])
    assert exports(backup) == exports(m.mnt)
    remount_with(m, other_password(tmp_path))
    r = lib.run(["rsync", "-a", "--itemize-changes", f"{m.mnt}/", f"{backup}/"])
    assert exports(backup) == exports(m.mnt), r.stdout
    # and then, unchanged, rsync finds nothing to do
    r = lib.run(["rsync", "-a", "--itemize-changes", f"{m.mnt}/", f"{backup}/"])
    assert [line for line in r.stdout.splitlines() if line.startswith(">f")] == []


def test_passwd_gives_new_exports_to_rsync(mount_factory, vaults, lib, tmp_path):
    """The default export password is the passphrase: after vultfs passwd,
    the next mount serves new bytes, and rsync takes them."""
    m = mount_factory("src")
    lib.add_reshared_vaults(m, vaults)
    time.sleep(1.1)
    backup = tmp_path / "backup"
    lib.run(["rsync", "-a", f"{m.mnt}/", f"{backup}/"])
    m.stop()
    new_pp = tmp_path / "new-pp"
    new_pp.write_text("a brand new passphrase\n")
    lib.run([lib.VULTFS, "passwd", "--passphrase-file", m.pp, "--new-passphrase-file", new_pp,
             m.store])
    m.secret_args = ["--passphrase-file", new_pp]
    m.start()
    old = exports(backup)
    lib.run(["rsync", "-a", f"{m.mnt}/", f"{backup}/"])
    now = exports(m.mnt)
    assert exports(backup) == now
    assert all(now[rel] != old[rel] for rel in now)


def test_restic_stores_the_new_bytes(mount_factory, vaults, lib, tmp_path, restic):
    m = populated(mount_factory, vaults, lib, tmp_path)
    restic("backup", "-q", "--host", "t", ".", cwd=m.mnt)
    remount_with(m, other_password(tmp_path))
    restic("backup", "-q", "--host", "t", ".", cwd=m.mnt)
    for rel, data in exports(m.mnt).items():
        assert restic("dump", "-q", "latest", "/" + rel).stdout == data.decode(), rel


def test_borg_stores_the_new_bytes(mount_factory, vaults, lib, tmp_path, borg):
    m = populated(mount_factory, vaults, lib, tmp_path)
    # borg never caches the files with the newest ctime of a run: a newer
    # file outside the mount lets it cache every file of the mount
    (tmp_path / "newest").write_text("after the imports\n")
    mnt = m.mnt.name
    borg("create", "::a", mnt, "newest", cwd=tmp_path)
    remount_with(m, other_password(tmp_path))
    (tmp_path / "newest").write_text("after the remount\n")
    borg("create", "::b", mnt, "newest", cwd=tmp_path)
    for rel, data in exports(m.mnt).items():
        got = borg("extract", "--stdout", "::b", f"{mnt}/{rel}", cwd=tmp_path).stdout
        assert got == data.decode(), rel
