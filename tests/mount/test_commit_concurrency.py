"""Imports and the mount's lock (issue 8): an import decodes (PBKDF2, up
to a second per candidate password) and waits for its flush without the
lock, so reads, listings and xattrs of other vaults answer meanwhile;
concurrent imports share flushes (group commit) and are still decided one
at a time: two devices' shares of one vault are never both kept.

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
import threading
import time
import zipfile

import pytest

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


def cp_through_pauses(src, dst, fifo):
    """cp src dst, letting it through every pause it reaches (a store's
    first change is committed at once: it may reach none)."""
    return through_pauses(subprocess.Popen(["cp", src, dst]), fifo)


def through_pauses(cp, fifo):
    """cp's exit status, once it was let through every pause it reached."""
    deadline = time.monotonic() + WAIT
    while cp.poll() is None:
        try:
            release(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
        assert time.monotonic() < deadline, "cp did not finish"
        time.sleep(0.01)
    return cp.returncode


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


def other_answers_while_paused(m, other, fifo):
    """Once an import waits at its pause: a read, a listing and an xattr
    of the vault Other (stored from other) answer, and rightly; then the
    import is let go."""
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


@pytest.mark.parametrize("stage", ["decode", "flush"])
def test_reads_answer_while_an_import_waits(mount_factory, vaults, lib, tmp_path, monkeypatch,
                                            stage):
    """A read, a listing and an xattr of another vault answer while an
    import waits in its decode, or for its batch's flush (group commit).
    (The mount held its one lock for the whole import, decode and fsyncs
    included: they would wait.)"""
    fifo = tmp_path / "pause"
    os.mkfifo(fifo)
    monkeypatch.setenv("VULTFS_TEST_PAUSE", f"{stage}:{fifo}")
    m = mount_factory("a", PLAIN)
    other = vaults.make(name="Other", ecdsa=lib.ecdsa(2))
    paused = vaults.make(name="Paused", ecdsa=lib.ecdsa(1))
    assert cp_through_pauses(other, m.mnt, fifo) == 0

    cp_paused = subprocess.Popen(["cp", paused, m.mnt])
    other_answers_while_paused(m, other, fifo)
    assert cp_paused.wait(timeout=60) == 0
    assert (m / "Paused" / "share.vult").read_bytes() == paused.read_bytes()


def test_reads_answer_while_a_zip_import_decodes(mount_factory, vaults, lib, tmp_path,
                                                 monkeypatch):
    """The apps' "all vaults" zip copied into the root: a read, a listing
    and an xattr of another vault answer while the zip's import waits in
    the decode of an entry; then every vault of the zip is stored and the
    store is whole. (The zip was unzipped, decoded and imported entry by
    entry under the mount's lock, with no pause: it never got here.)"""
    fifo = tmp_path / "pause"
    os.mkfifo(fifo)
    monkeypatch.setenv("VULTFS_TEST_PAUSE", f"decode:{fifo}")
    m = mount_factory("a", PLAIN)
    other = vaults.make(name="Other", ecdsa=lib.ecdsa(2))
    assert cp_through_pauses(other, m.mnt, fifo) == 0
    zipped = tmp_path / "vultisig_backups_1700000000.zip"
    files = [vaults.make(name=f"Zipped {k}", ecdsa=lib.ecdsa(300 + k)) for k in range(3)]
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.write(f, f"{f.stem}.vult")

    cp_zip = subprocess.Popen(["cp", zipped, m.mnt])
    other_answers_while_paused(m, other, fifo)
    assert through_pauses(cp_zip, fifo) == 0
    for k, f in enumerate(files):
        assert (m / f"Zipped {k}" / "share.vult").read_bytes() == f.read_bytes()
    m.stop()
    fsck = lib.run([lib.VULTFS, "fsck", "--passphrase-file", m.pp, m.store])
    assert "4 records ok, 0 damaged, 0 missing, 0 unreferenced, 0 temporary" in fsck.stdout


@pytest.mark.parametrize("flush", ["auto", "files"])
def test_parallel_imports_of_many_vaults(mount_factory, vaults, lib, flush):
    """8 streams of cp, 48 vaults: every one is accepted and stored (their
    changes share flushes: one syncfs, or each file's fsync with
    -o flush=files), and the store is whole afterwards."""
    m = mount_factory("a", PLAIN + ["-o", f"flush={flush}"])
    files = [vaults.make(name=f"Par {k}", ecdsa=lib.ecdsa(100 + k)) for k in range(48)]
    streams = [subprocess.Popen(["sh", "-c", 'for f; do cp "$f" "$0" || exit 1; done',
                                 str(m.mnt), *map(str, files[i::8])]) for i in range(8)]
    assert [s.wait(timeout=120) for s in streams] == [0] * 8
    for k, f in enumerate(files):
        assert (m / f"Par {k}" / "share.vult").read_bytes() == f.read_bytes()
    m.stop()
    fsck = lib.run([lib.VULTFS, "fsck", "--passphrase-file", m.pp, m.store])
    assert "48 records ok, 0 damaged, 0 missing, 0 unreferenced, 0 temporary" in fsck.stdout
    m.start()
    assert len([p for p in m.mnt.iterdir() if p.name.startswith("Par ")]) == 48


def test_two_devices_of_one_vault_at_once(mount_factory, vaults, lib):
    """Two devices' shares of one vault written at the same moment, again
    and again: exactly one is kept, the other refused (co-location,
    EPERM), never both."""
    m = mount_factory("a", PLAIN)
    m.expect(r"co-location")
    for k in range(20):
        first = vaults.make(name=f"Race {k}", ecdsa=lib.ecdsa(200 + k),
                            signers="demo-device-1,demo-device-2")
        second = vaults.make(from_=first, device="demo-device-2", tag=f"d2-{k}")
        barrier = threading.Barrier(2)
        results = {}

        def write(name, src):
            data = src.read_bytes()
            barrier.wait(timeout=30)
            results[name] = lib.write_close(m / f"{name}-{k}.vult", data)

        threads = [threading.Thread(target=write, args=(n, f))
                   for n, f in (("one", first), ("two", second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        outcomes = sorted(results.values(), key=str)
        assert outcomes == sorted([None, ("close", errno.EPERM)], key=str), (k, results)
        kept = first if results["one"] is None else second
        assert (m / f"Race {k}" / "share.vult").read_bytes() == kept.read_bytes()
