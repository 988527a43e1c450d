"""What a tool writes into the mount must not stay behind in the daemon's
ordinary memory: once the bytes are staged (locked memory, wiped when
freed), libfuse's buffers that carried them are wiped too. Read through
/proc/PID/mem, as anyone able to read a core dump or ptrace the daemon
could."""
import os

import pytest


def readable_regions(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if fields[1].startswith("r") and name not in ("[vvar]", "[vsyscall]", "[vdso]"):
                yield start, end


def memory_holds(pid, marker):
    """Whether any readable mapping of pid holds marker (regions that
    cannot be read are skipped; a marker split across two is not sought)."""
    try:
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    except PermissionError as e:  # ptrace restricted (Yama) or not root
        pytest.skip(f"cannot read the daemon's memory: {e}")
    with mem:
        for start, end in readable_regions(pid):
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            if data and marker in data:
                return True
    return False


def test_written_bytes_leave_no_copy_in_the_daemon(mount_factory, lib):
    """A temporary written and then deleted (never imported): its bytes
    appear nowhere in the daemon's memory afterwards. 256 KiB of a marker
    that exists nowhere else, in writes of 128 KiB and of 4 KiB."""
    m = mount_factory("a")
    marker = b"UNWIPED-" + os.urandom(12).hex().encode() + b"!"
    data = (marker * (256 * 1024 // len(marker) + 1))[:256 * 1024]
    for chunk in (128 * 1024, 4096):
        path = m / f".staged-{chunk}.tmp"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for off in range(0, len(data), chunk):
                assert os.pwrite(fd, data[off:off + chunk], off) == chunk
        finally:
            os.close(fd)
        assert os.path.getsize(path) == len(data)
        # the scan finds the staged copy (in locked memory, until deleted)
        assert memory_holds(m.proc.pid, marker)
        os.unlink(path)
    assert not memory_holds(m.proc.pid, marker)
