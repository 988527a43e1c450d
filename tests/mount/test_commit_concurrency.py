"""Imports and the mount's lock (issue 8): an import decodes (PBKDF2, up
to a second per candidate password) without the lock, so reads, listings
and xattrs of other vaults answer meanwhile.

The daemon's test hook VULTFS_TEST_PAUSE=STAGE:FIFO makes each import wait
at STAGE, without the lock, until the test writes a byte into FIFO: the
test knows the import is paused there (its open of the FIFO for writing
succeeds only once the daemon opened it) and lets it go when it has seen
what it wanted. No timing: every wait is bounded and fails the test.
"""
import errno
import os
import subprocess
import sys
import time

PLAIN = ["--export-password", "none"]  # an export is then the imported file
WAIT = 30  # seconds, for the daemon to reach a pause


def wait_for_pause(fifo):
    """The write end of fifo, once an import waits at the pause."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
        assert time.monotonic() < deadline, "no import reached the pause"
        time.sleep(0.01)


def release(fd):
    os.write(fd, b"x")
    os.close(fd)


def run_while_paused(fd, commands):
    """Runs commands at once while an import waits at its pause (fd) and
    lets it go; their outputs, or the commands that did not answer within
    WAIT seconds. A blocked child cannot be killed (it waits on a lock in
    the kernel), so the pause is released before they are waited for."""
    children = [subprocess.Popen([str(a) for a in c], stdout=subprocess.PIPE, text=True)
                for c in commands]
    outputs, blocked = [], []
    try:
        for c, child in zip(commands, children):
            try:
                outputs.append(child.communicate(timeout=WAIT)[0])
            except subprocess.TimeoutExpired:
                blocked.append(c)
    finally:
        release(fd)
        for child in children:
            child.communicate(timeout=60)
    return outputs, blocked


GETXATTR = [sys.executable, "-c",
            "import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())"]


def test_reads_answer_while_an_import_decodes(mount_factory, vaults, lib, tmp_path,
                                              monkeypatch):
    """A read, a listing and an xattr of another vault answer while an
    import waits in its decode. (The mount held its one lock for the whole
    import, decode and fsyncs included: they would wait.)"""
    fifo = tmp_path / "pause"
    os.mkfifo(fifo)
    monkeypatch.setenv("VULTFS_TEST_PAUSE", f"decode:{fifo}")
    m = mount_factory("a", PLAIN)
    other = vaults.make(name="Other", ecdsa=lib.ecdsa(2))
    paused = vaults.make(name="Paused", ecdsa=lib.ecdsa(1))
    cp_other = subprocess.Popen(["cp", other, m.mnt])
    release(wait_for_pause(fifo))
    assert cp_other.wait(timeout=60) == 0

    cp_paused = subprocess.Popen(["cp", paused, m.mnt])
    fd = wait_for_pause(fifo)
    outputs, blocked = run_while_paused(fd, [
        ["cat", m / "Other" / "share.vult"],
        ["ls", m.mnt],
        GETXATTR + [m / "Other", "user.vult.device"],
    ])
    assert not blocked
    assert outputs[0] == other.read_text()
    assert "Other" in outputs[1].split()
    assert outputs[2] == "demo-device-1"
    assert cp_paused.wait(timeout=60) == 0
    assert (m / "Paused" / "share.vult").read_bytes() == paused.read_bytes()
