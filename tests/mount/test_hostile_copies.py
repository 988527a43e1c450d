"""What the mount makes of copies an attacker or an unlucky user makes
(issue 20): a vault name that is a terminal escape, in the log (finding
5); random bytes or a zip in a vault's directory (finding 6); six large
copies at once (finding 7). Each gets a clear errno and one log line that
says what happened, and the tree is as it was.
"""
import errno
import io
import os
import re
import subprocess
import threading
import time
import zipfile

NAME = "Demo Vault (synthetic)"
MiB = 1 << 20


def test_a_vault_name_cannot_forge_log_lines(m, vaults, lib):
    """Finding 5: "x\\n\\e[2Jy" as a vault name cleared the screen of whoever
    read the log, and its second half looked like a line of its own."""
    evil = vaults.make(name="x\n\x1b[2Jy", device="dev\x1b]0;owned\x07", signers=
                       "dev\x1b]0;owned\x07,other", ecdsa="02" + "e1" * 32)
    other = vaults.make(from_=evil, device="other", tag="o")
    assert lib.write_close(m / "evil.vult", evil.read_bytes()) is None
    m.expect(r"co-location")
    assert lib.write_close(m / "other.vult", other.read_bytes()) == ("close", errno.EPERM)
    text = m.log_path.read_text()
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), repr(text)
    lines = text.splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ vultfs\[\d+\]: ", line)
               for line in lines), lines  # every line is one of ours, whole
    assert any("new vault: /x\\n\\x1b[2Jy/" in line for line in lines), lines
    assert any("co-location" in line and "dev\\x1b]0;owned\\x07" in line for line in lines)


def a_zip(entries, method=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in entries:
            z.writestr(name, data)
    return out.getvalue()


def test_random_bytes_or_a_zip_in_a_vault_directory(m, vaults, lib):
    """Finding 6: they were EACCES, "wrong password"; DESIGN says EINVAL."""
    share = vaults.make().read_bytes()
    assert lib.write_close(m / "a.vult", share) is None
    m.expect(r"unreadable: not a Vultisig backup")
    before = lib.snapshot(m.mnt)
    cases = {
        f"{NAME}/share.vult": os.urandom(8000),
        f"{NAME}/noise.bin": os.urandom(8000),
        f"{NAME}/vaults_backup_2026-01-02_030405.zip": a_zip([("a.vult", share)]),
        "not-a-zip-name.vult": a_zip([("a.vult", share)], zipfile.ZIP_DEFLATED),
    }
    for where, data in cases.items():
        assert lib.write_close(m / where, data) == ("close", errno.EINVAL), where
        src = m.base / "cp-src"
        src.write_bytes(data)
        r = lib.run(["cp", src, m / where], check=False)
        assert r.returncode == 1 and os.strerror(errno.EINVAL) in r.stderr, r.stderr
    assert lib.snapshot(m.mnt) == before
    refusals = [line for line in m.log_path.read_text().splitlines()
                if "not a Vultisig backup" in line]
    assert len(refusals) == 2 * len(cases)
    assert not any("password" in line for line in refusals), refusals
    assert sum("a zip" in line for line in refusals) == 4


def big_zip(vaults, size=20 * MiB):
    """An apps' zip of about size bytes: one vault, and a photo (skipped)."""
    share = vaults.make(name="Big Zip", ecdsa="02" + "b1" * 32).read_bytes()
    data = a_zip([("Big Zip-b1b1-share1of2.vult", share),
                  ("photo.jpg", os.urandom(size - len(share) - 1024))])
    assert size - 4096 < len(data) <= size
    return data


def write_all(fd, data):
    """None once all of data is written, else the errno of the write that
    failed (after a short one, as the kernel reports a refusal part-way)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as e:
        return e.errno
    return None


def test_large_copies_held_at_once_finish_and_newcomers_are_told(m, vaults, lib):
    """Finding 7: six 20 MiB zips open at once, each written a little, then
    to the end. Before, all six (or all but the first ones) ran out of room
    half-way and were then "not a zip, damaged". Now the copies that got
    room first finish and are imported; the others are refused within their
    first 2 MiB, with ENOSPC, at close too, and a log line that says why;
    copied again afterwards, they go in."""
    data = big_zip(vaults)
    m.expect(r"no room to hold it while \d+ other large files? \(over 1 MiB\)")
    fds = [os.open(m / f"copy{i}.zip", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
           for i in range(6)]
    try:
        # all six under way: 2 MiB each
        first = {i: write_all(fd, data[:2 * MiB]) for i, fd in enumerate(fds)}
        admitted = [i for i in range(6) if first[i] is None]
        newcomers = [i for i in range(6) if first[i] is not None]
        assert admitted and newcomers, first  # some let in, some told at once
        assert admitted == list(range(len(admitted))), first  # first come, first in
        assert all(first[i] == errno.ENOSPC for i in newcomers), first
        for i in admitted:  # each admitted copy finishes
            assert write_all(fds[i], data[2 * MiB:]) is None, i
    finally:
        closed = {}
        for i, fd in enumerate(fds):
            try:
                os.close(fd)
                closed[i] = 0
            except OSError as e:
                closed[i] = e.errno
    assert all(closed[i] == 0 for i in admitted), closed
    assert all(closed[i] == errno.ENOSPC for i in newcomers), closed  # never EINVAL
    assert os.listdir(m.mnt) == ["Big Zip"]
    lines = m.lines()
    assert not any("damaged" in line for line in lines), lines
    for i in newcomers:
        assert any(f"import of /copy{i}.zip: refused, nothing imported: no room" in line
                   for line in lines), lines
    # copied again once the others are done (their release follows close
    # a moment later), they go in
    deadline = time.monotonic() + 10
    while lib.write_close(m / "again.zip", data) is not None:
        assert time.monotonic() < deadline, "no room even after the others were done"
        time.sleep(0.2)
    assert os.listdir(m.mnt) == ["Big Zip"]


def test_six_cp_of_a_large_zip_at_once(m, vaults, lib, tmp_path):
    """The report's own case: six cp at once. Whatever the order, each
    either goes in or fails with ENOSPC, never "damaged", and at least
    one goes in."""
    src = tmp_path / "vaults_backup_2026-01-02_030405.zip"
    src.write_bytes(big_zip(vaults))
    m.expect(r"no room to hold it")
    start = threading.Barrier(6)
    results = [None] * 6

    def copy(i):
        start.wait(timeout=30)
        results[i] = subprocess.run(["cp", str(src), str(m / f"cp{i}.zip")],
                                    capture_output=True, text=True, timeout=120)

    threads = [threading.Thread(target=copy, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=150)
    assert all(r is not None for r in results), "a cp did not end"
    ok = [r for r in results if r.returncode == 0]
    refused = [r for r in results if r.returncode != 0]
    assert ok, [r.stderr for r in results]
    assert all(os.strerror(errno.ENOSPC) in r.stderr for r in refused), [r.stderr for r in refused]
    assert os.listdir(m.mnt) == ["Big Zip"]
    assert not any("damaged" in line for line in m.lines())
