"""`vultfs mount` never waits forever, never mounts over its own store,
and says each failure in one line (issue 20, finding 8).

An --extpass command that does not end, or a passphrase, password or log
file that is a FIFO no one writes (or reads), used to hang the mount for
good. Every wait on a passphrase source is bounded (VULTFS_TEST_SECRET_WAIT
shortens it here), then the mount fails with one line and the store is as
it was; a process substitution, <(...), still works. A mount point that is
the store or inside it is refused: it would hide the store. An unknown -o
option's error came out split over three lines.
"""
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

WAIT = 2  # seconds: VULTFS_TEST_SECRET_WAIT
BOUND = 20  # no run may take longer: one that does, hangs


def store_files(store):
    return {p: p.read_bytes() for p in Path(store).rglob("*") if p.is_file() and p.name != "lock"}


def mount_bounded(lib, args):
    """vultfs mount -f ARGS, which must fail: it ends within BOUND seconds,
    or the test fails."""
    env = dict(os.environ, VULTFS_TEST_SECRET_WAIT=str(WAIT))
    cmd = [str(a) for a in [lib.VULTFS, "mount", "-f", *args]]
    start = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=BOUND, env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"vultfs mount still waiting after {BOUND} s: {cmd}")
    return r, time.monotonic() - start


def one_error_line(r, *words):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vultfs: error: "), r.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def no_process_running(marker):
    """No process's command line holds marker (a command that was stopped,
    and what it started)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if marker.encode() in cmdline and ") Z " not in status:
            return False
    return True


@pytest.fixture
def quiet_store(mount_factory):
    """A store and a mount point, not mounted."""
    m = mount_factory("w", start=False)
    return m


def test_extpass_that_never_ends_is_stopped(quiet_store, lib):
    m = quiet_store
    before = store_files(m.store)
    marker = "987.25"  # sleep's argument: found again only if it still runs
    r, took = mount_bounded(lib, ["--extpass", f"sleep {marker}", m.store, m.mnt])
    one_error_line(r, "--extpass", f"within {WAIT} s")
    assert WAIT <= took < BOUND
    assert not os.path.ismount(m.mnt)
    deadline = time.monotonic() + 5
    while not no_process_running(f"sleep\0{marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert no_process_running(f"sleep\0{marker}"), "the command's own child is still running"
    assert store_files(m.store) == before


@pytest.mark.parametrize("option", ["--passphrase-file", "--import-passwords",
                                    "--export-password-file", "--log-file"])
def test_a_fifo_no_one_opens_fails_in_time(quiet_store, lib, tmp_path, option):
    m = quiet_store
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    before = store_files(m.store)
    args = [option, fifo, m.store, m.mnt]
    if option != "--passphrase-file":
        args = ["--passphrase-file", m.pp] + args
    r, took = mount_bounded(lib, args)
    line = one_error_line(r, str(fifo), f"within {WAIT} s")
    assert "FIFO" in line
    assert took < BOUND
    assert not os.path.ismount(m.mnt)
    assert store_files(m.store) == before


def test_a_fifo_written_in_time_is_read(quiet_store, lib, tmp_path):
    """A writer that comes a little later is waited for: the bound is on
    waiting for nothing, not on a slow writer."""
    m = quiet_store
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write_later():
        time.sleep(0.5)
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:  # until the mount opened it to read
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.05)
                continue
            os.write(fd, (lib.PASSPHRASE + "\n").encode())
            os.close(fd)
            return

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        m.secret_args = ["--passphrase-file", fifo]
        m.start()
        assert os.path.ismount(m.mnt)
    finally:
        writer.join(timeout=BOUND)
        m.stop()


def test_process_substitution_keeps_working(quiet_store, lib, tmp_path):
    """<(...) is a pipe the shell has already filled: passphrase, import
    passwords and a log that is >(...) all work, and the mount serves."""
    m = quiet_store
    log = tmp_path / "through-a-pipe.log"
    script = (f"exec {lib.VULTFS} mount -f --passphrase-file <(printf '%s\\n' '{lib.PASSPHRASE}')"
              f" --import-passwords <(printf 'one\\ntwo\\n') --log-file >(cat > {log})"
              f" {m.store} {m.mnt}")
    proc = subprocess.Popen(["/bin/bash", "-c", script], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + BOUND
        while not os.path.ismount(m.mnt):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "not mounted in time"
            time.sleep(0.05)
        assert os.listdir(m.mnt) == []
    finally:
        subprocess.run(["fusermount3", "-u", str(m.mnt)], capture_output=True, timeout=BOUND)
        try:
            proc.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            proc.kill()
            subprocess.run(["fusermount3", "-uz", str(m.mnt)], capture_output=True,
                           timeout=BOUND)
            pytest.fail("the mount did not end after fusermount3 -u")
    assert proc.returncode == 0, proc.communicate()
    deadline = time.monotonic() + 5
    while "serving on" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "serving on" in log.read_text()


def test_mount_point_that_is_the_store_or_inside_it_is_refused(quiet_store, lib, tmp_path):
    m = quiet_store
    before = store_files(m.store)
    link = tmp_path / "link-to-store"
    link.symlink_to(m.store)
    targets = {m.store: "is the store itself", link: "is the store itself",
               m.store / "shares": "inside the store"}
    try:
        for target, words in targets.items():
            r, took = mount_bounded(lib, ["--passphrase-file", m.pp, m.store, target])
            one_error_line(r, words)
            assert not os.path.ismount(target)
    finally:  # the old code mounted, and was killed waiting in the foreground
        mounted = Path("/proc/mounts").read_text()
        for target in targets:
            if f" {os.path.realpath(target)} " in mounted:  # ismount is False once it is dead
                subprocess.run(["fusermount3", "-uz", str(target)], capture_output=True,
                               timeout=BOUND)
    assert store_files(m.store) == before


def test_unknown_fuse_option_in_one_line(quiet_store, lib):
    m = quiet_store
    r, took = mount_bounded(lib, ["--passphrase-file", m.pp, "-o", "no_such_option=1,other",
                                  m.store, m.mnt])
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    unknown = [line for line in lines if "unknown option" in line]
    assert len(unknown) == 1, lines
    assert "no_such_option=1" in unknown[0] and "other" in unknown[0], lines
    assert all(line.startswith("vultfs: ") for line in lines)
    assert not os.path.ismount(m.mnt)
