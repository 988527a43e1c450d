"""What `ls -la` and `find` read of directories: every directory lists `.`
and `..` (with their inode numbers), and a directory's link count is 2 plus
its subdirectories, as on other Linux filesystems: the root 2 + its vaults,
a vault's directory 3 (history/), history/ 2.
"""
import os


def ls_la_names(path, lib):
    """The names `ls -la` prints (its last column)."""
    out = lib.run(["ls", "-la", path]).stdout.splitlines()[1:]  # after "total N"
    return [line.split(None, 8)[8] for line in out]


def test_ls_la_shows_dot_and_dotdot(m, vaults, lib):
    lib.add_reshared_vaults(m, vaults)
    for rel in ("", "Alpha", "Alpha/history"):
        names = ls_la_names(m / rel, lib)
        assert names[:2] == [".", ".."], (rel, names)
    # readdir's .. is the directory above: the inode a lookup gives it
    entries = {e.name: e.inode() for e in os.scandir(m / "Alpha" / "history")}
    assert entries == {"epoch-1.vult": (m / "Alpha" / "history" / "epoch-1.vult").stat().st_ino,
                       "epoch-2.vult": (m / "Alpha" / "history" / "epoch-2.vult").stat().st_ino}
    out = lib.run(["ls", "-ai", m / "Alpha" / "history"]).stdout.split()
    pairs = dict(zip(out[1::2], (int(x) for x in out[0::2])))
    assert pairs[".."] == (m / "Alpha").stat().st_ino
    assert pairs["."] == (m / "Alpha" / "history").stat().st_ino
    out = lib.run(["ls", "-ai", m / "Alpha"]).stdout.split()
    assert dict(zip(out[1::2], (int(x) for x in out[0::2])))[".."] == m.mnt.stat().st_ino


def test_link_counts_count_subdirectories(m, vaults, lib):
    lib.add_reshared_vaults(m, vaults)  # Alpha and Gamma
    assert os.stat(m.mnt).st_nlink == 2 + 2
    for vault in ("Alpha", "Gamma"):
        assert os.stat(m / vault).st_nlink == 3
        assert os.stat(m / vault / "history").st_nlink == 2
        assert os.stat(m / vault / "share.vult").st_nlink == 1
    # a directory made for a restore counts too, and its history/ once made
    os.mkdir(m / "Restoring")
    assert os.stat(m.mnt).st_nlink == 2 + 3
    assert os.stat(m / "Restoring").st_nlink == 2
    os.mkdir(m / "Restoring" / "history")
    assert os.stat(m / "Restoring").st_nlink == 3
    # find's leaf optimisation relies on these counts: it finds every file
    found = lib.run(["find", m.mnt, "-name", "*.vult"]).stdout.split("\n")
    assert len([f for f in found if f]) == 5
