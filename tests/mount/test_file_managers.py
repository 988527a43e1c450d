"""The code paths of GNOME Files (gio: list, info, copy, move, trash) and KDE
Dolphin (kioclient5 copy and move; scripts/deps.sh installs kde-cli-tools)
on a mount, and the bookkeeping files they try to make: the
trash (.Trash-UID at the root), .directory, .hidden and thumbnails. Each
gets a quiet, correct answer: a refused delete says so once (EPERM, one
log line), nothing is left behind, and the log holds no warnings (the
mount fixture fails a test on any it did not expect).
"""
import errno
import os
import re
import shutil
import subprocess

import pytest

TIMEOUT = 60
NAME = "Demo Vault (synthetic)"

needs_gio = pytest.mark.skipif(shutil.which("gio") is None,
                               reason="gio (libglib2.0-bin) is not installed")


def gio(*args, check=True):
    # the local backend, as Files uses for a local mount (no session bus here)
    env = dict(os.environ, GIO_USE_VFS="local")
    r = subprocess.run(["gio", *[str(a) for a in args]], capture_output=True, text=True,
                       timeout=TIMEOUT, env=env)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def log_count(m, pattern):
    """Lines of the --log-file (stderr has each line too) that match."""
    lines = m.log_path.read_text().splitlines() if m.log_path.exists() else []
    return sum(1 for line in lines if re.search(pattern, line))


def with_vault(m, vaults, lib):
    lib.run(["cp", vaults.make(), m.mnt])
    return m / NAME


def no_bookkeeping_left(m):
    for d, dirs, files in os.walk(m.mnt):
        for name in dirs + files:
            assert not name.startswith((".Trash", ".directory", ".hidden", ".thumbnails",
                                        ".sh_thumbnails", ".goutputstream")), (d, name)


@needs_gio
def test_gio_list_and_info(m, vaults, lib):
    vault = with_vault(m, vaults, lib)
    r = gio("list", "-a", "standard::type,standard::size", m.mnt)
    assert r.stdout.splitlines() == [f"{NAME}\t0\t(directory)"]
    r = gio("list", "-a", "standard::size", vault)
    listed = {line.split("\t")[0]: int(line.split("\t")[1]) for line in r.stdout.splitlines()}
    assert set(listed) == {"history", "vault.json", "share.vult"}
    assert listed["share.vult"] == (vault / "share.vult").stat().st_size
    info = gio("info", vault / "share.vult").stdout
    assert f"standard::size: {(vault / 'share.vult').stat().st_size}" in info
    assert "type: regular" in info


@needs_gio
def test_gio_trash_is_refused_once_and_leaves_nothing(m, vaults, lib):
    vault = with_vault(m, vaults, lib)
    share = vault / "share.vult"
    r = gio("trash", share, check=False)
    assert r.returncode != 0 and "trash" in r.stderr.lower(), r.stderr
    assert share.exists()
    assert os.listdir(m.mnt) == [NAME]  # no .Trash-UID
    assert log_count(m, rf"mkdir of /\.Trash-{os.getuid()} refused: the mount has no trash") == 1
    assert log_count(m, r" refused: ") == 1
    # what Files offers next, "delete permanently", is refused once too
    r = gio("remove", share, check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    assert log_count(m, r"unlink of .*share\.vult refused") == 1
    no_bookkeeping_left(m)


def test_bookkeeping_files_are_refused_and_never_shown(m, vaults, lib):
    vault = with_vault(m, vaults, lib)
    for where in (m.mnt, vault, vault / "history"):
        for name in (".directory", ".hidden"):
            assert lib.write_close(where / name, b"[Dolphin]\nViewMode=1\n") \
                == ("open", errno.EPERM), (where, name)
        # Qt's QSaveFile, as KConfig writes .directory: a temporary, renamed
        tmp = where / ".directory.aBc123"
        assert lib.write_close(tmp, b"[Dolphin]\n") is None
        with pytest.raises(PermissionError):
            os.rename(tmp, where / ".directory")
        os.unlink(tmp)  # what QSaveFile does when the rename fails
        for name in (".thumbnails", ".sh_thumbnails", ".Trash", ".Trash-1000"):
            with pytest.raises(PermissionError):
                os.mkdir(where / name)
        # readers (Files reads .hidden, thumbnailers .sh_thumbnails) find nothing
        assert not (where / ".hidden").exists()
    assert os.listdir(m.mnt) == [NAME]
    assert sorted(os.listdir(vault)) == ["history", "share.vult", "vault.json"]
    assert os.listdir(vault / "history") == []
    assert log_count(m, r" refused: ") == 6  # the trash directories' mkdirs, one line each


# ---- copy and move, GNOME and KDE -------------------------------------------------

needs_kio = pytest.mark.skipif(shutil.which("kioclient5") is None,
                               reason="kioclient5 (kde-cli-tools) is not installed")


def kio(*args, check=True):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run(["kioclient5", "--noninteractive", *[str(a) for a in args]],
                       capture_output=True, text=True, timeout=TIMEOUT, env=env)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


# gio writes a .goutputstream temporary, KDE a .part: renamed, they import
FILE_MANAGERS = [pytest.param(gio, marks=needs_gio, id="gio"),
                 pytest.param(kio, marks=needs_kio, id="kioclient5")]


@pytest.mark.parametrize("fm", FILE_MANAGERS)
def test_copy_in_and_out(fm, m, vaults, tmp_path):
    fm("copy", vaults.make(), m.mnt)
    assert os.listdir(m.mnt) == [NAME]
    out = tmp_path / "out"
    out.mkdir()
    fm("copy", m / NAME / "share.vult", out)
    assert (out / "share.vult").read_bytes() == (m / NAME / "share.vult").read_bytes()
    no_bookkeeping_left(m)


@pytest.mark.parametrize("fm", FILE_MANAGERS)
def test_move_in_imports_and_move_out_is_refused_once(fm, m, vaults, tmp_path):
    src = vaults.make()
    fm("move", src, m.mnt)
    assert not src.exists() and os.listdir(m.mnt) == [NAME]
    out = tmp_path / "out"
    out.mkdir()
    share = m / NAME / "share.vult"
    r = fm("move", share, out, check=False)
    assert r.returncode != 0 and share.exists(), (r.stdout, r.stderr)
    assert log_count(m, r"unlink of .*share\.vult refused") == 1
    # renaming inside the mount is refused too, and leaves the share in place
    r = fm("move", share, m / "renamed.vult", check=False)
    assert r.returncode != 0 and share.exists() and not (m / "renamed.vult").exists()
    no_bookkeeping_left(m)


def test_what_kde_sets_after_closing_a_copy_is_accepted(m, vaults, lib):
    """KDE's file copy sets the mode by name right after its open, and
    again (and the group) after it closed the file; the import has taken
    the name by then. That must not fail the copy or a move (which then
    deletes its source): the name answers for a moment as the file just
    written, is never listed or read, and a copy to it again is a new
    import. A file nobody set a mode on by name leaves at once."""
    src = vaults.make()
    dst = m / "copied.vult"
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    os.chmod(dst, 0o644)
    os.write(fd, src.read_bytes())
    os.close(fd)
    os.chmod(dst, 0o644)
    os.chown(dst, -1, os.getgid())
    os.utime(dst, (1, 1))
    assert os.stat(dst).st_size == src.stat().st_size
    assert os.listdir(m.mnt) == [NAME]
    with pytest.raises(FileNotFoundError):
        open(dst, "rb").close()
    # at once again, and another vault's backup under the same name
    lib.run(["cp", src, dst])
    other = vaults.make(name="Other", ecdsa="02" + "ab" * 32)
    lib.run(["cp", other, dst])
    assert sorted(os.listdir(m.mnt)) == [NAME, "Other"]
    plain = m / "plain.vult"
    lib.run(["cp", vaults.make(name="Third", ecdsa="02" + "cd" * 32), plain])
    assert not plain.exists()  # cp set no mode by name: it left at once
