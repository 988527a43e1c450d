"""Long commands show progress on a terminal: passwd --rekey, fsck, import
(of many files, and of the apps' zip), export --zip and audit draw one
line on stderr, redrawn in place, with done/total, the rate and the time
left, and erase it when they end. With stderr not a terminal (a script, a
pipe) they print exactly what they printed before: no byte more.

Each command runs twice on the same work, once with stderr on a
pseudo-terminal and once on a pipe; stdout is a pipe both times.

Environment: VULTFS_BIN (the vultfs binary), VULTFS_MKVAULT (tests/mkvault).
"""
import os
import re
import select
import shutil
import subprocess
import time

import pytest

from test_store_cli import MKVAULT, PASSPHRASE, VULTFS, write_secret

COUNT = 300  # vaults: enough for a few redraws, a second or so in all
TIMEOUT = 120
FRAME = re.compile(rb"\r\x1b\[Kvultfs: ([a-z -]+): (\d+)/(\d+) ([a-z]+), ([\d.]+)/s, "
                   rb"(\d+ s|\d+ min \d+ s|\d+ h \d+ min|\?) left")
CLEAR = b"\r\x1b[K"


def run(args, tty):
    """(exit status, stdout, stderr) with stderr on a new pseudo-terminal
    (tty) or a pipe."""
    args = [str(a) for a in args]
    if not tty:
        r = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        return r.returncode, r.stdout, r.stderr
    master, slave = os.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    err = b""
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every holder of the terminal is gone
                break
            if not chunk:
                break
            err += chunk
        out = proc.stdout.read()
        status = proc.wait(timeout=TIMEOUT)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the terminal turns \n into \r\n on output
    return status, out, err.replace(b"\r\n", b"\n")


def frames_of(err):
    """The progress frames drawn, and what stderr holds besides them."""
    frames = [(m.group(1).decode(), int(m.group(2)), int(m.group(3)), m.group(4).decode(),
               float(m.group(5)), m.group(6).decode()) for m in FRAME.finditer(err)]
    rest = FRAME.sub(b"", err).replace(CLEAR, b"")
    return frames, rest


def assert_progress(tty_run, pipe_run, what, unit, total):
    status, out, err = tty_run
    p_status, p_out, p_err = pipe_run
    assert status == p_status == 0, (tty_run, pipe_run)
    # a script sees what it always saw: no progress, no control bytes
    assert b"\r" not in p_err and b"\x1b" not in p_err and b"left" not in p_err, p_err
    frames, rest = frames_of(err)
    assert frames, err
    assert {f[0] for f in frames} == {what} and {f[3] for f in frames} == {unit}, frames
    assert {f[2] for f in frames} == {total}, frames
    done = [f[1] for f in frames]
    assert done == sorted(done) and 0 < done[0] and done[-1] <= total, done
    assert all(f[4] > 0 for f in frames), frames  # a rate once anything is done
    # it is erased at the end, and the terminal got nothing else the pipe did not
    assert err.endswith(CLEAR), err[-80:]
    assert rest == p_err, (rest, p_err)
    assert out == p_out


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """COUNT backups of COUNT vaults, a store holding them, and the
    apps' zip of them."""
    base = tmp_path_factory.mktemp("progress")
    pp = write_secret(base / "pp", PASSPHRASE)
    files = base / "files"
    files.mkdir()
    for i in range(COUNT):
        r = subprocess.run([MKVAULT, "--name", f"Vault {i}", "--ecdsa", "02" + f"{i + 1:064x}",
                            files / f"v{i}.vult"], capture_output=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
    store = base / "store"
    subprocess.run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", store],
                   check=True, capture_output=True, timeout=TIMEOUT)
    r = subprocess.run([VULTFS, "import", "--passphrase-file", pp, store,
                        *sorted(files.iterdir())], capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    zipped = base / "all.zip"
    r = subprocess.run([VULTFS, "export", "--zip", "--passphrase-file", pp,
                        "--export-password", "none", store, zipped],
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    return base, pp, files, store, zipped


def fresh_store(base, name, pp):
    store = base / name
    shutil.rmtree(store, ignore_errors=True)
    subprocess.run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", store],
                   check=True, capture_output=True, timeout=TIMEOUT)
    return store


def test_import_of_many_files(work):
    base, pp, files, _, _ = work
    names = sorted(files.iterdir())
    runs = [run([VULTFS, "import", "--passphrase-file", pp,
                 fresh_store(base, f"import-{tty}", pp), *names], tty) for tty in (True, False)]
    assert_progress(*runs, "import", "files", COUNT)
    assert runs[1][1].count(b"new vault") == COUNT


def test_import_of_a_large_zip(work):
    base, pp, _, _, zipped = work
    runs = [run([VULTFS, "import", "--passphrase-file", pp,
                 fresh_store(base, f"zip-{tty}", pp), zipped], tty) for tty in (True, False)]
    # the zip is one file to do, then as many as its entries
    assert_progress(*runs, "import", "files", COUNT)


def test_fsck(work):
    _, pp, _, store, _ = work
    runs = [run([VULTFS, "fsck", "--passphrase-file", pp, store], tty) for tty in (True, False)]
    assert_progress(*runs, "fsck", "vaults", COUNT)
    assert f"{COUNT} records ok".encode() in runs[1][1]


def test_export_zip(work):
    base, pp, _, store, _ = work
    runs = [run([VULTFS, "export", "--zip", "--passphrase-file", pp, store,
                 base / f"export-{tty}.zip"], tty) for tty in (True, False)]
    # the two runs name different files: compare all but the name
    for r, tty in zip(runs, (True, False)):
        assert r[1] == f"vultfs: exported {COUNT} vaults to {base}/export-{tty}.zip\n".encode()
    runs = [(s, b"", e) for s, _, e in runs]
    assert_progress(*runs, "export --zip", "vaults", COUNT)


def test_audit_of_a_large_folder(work):
    _, _, files, _, _ = work
    runs = [run([VULTFS, "audit", files], tty) for tty in (True, False)]
    assert_progress(*runs, "audit", "files", COUNT)


def test_passwd_rekey(work, monkeypatch):
    base, pp, _, store, _ = work
    new = write_secret(base / "new-pp", "another passphrase")
    runs = []
    for tty in (True, False):
        copy = base / f"rekey-{tty}"
        shutil.copytree(store, copy)
        # each copy a store of its own: its own last change seen
        monkeypatch.setenv("XDG_STATE_HOME", str(base / f"state-{tty}"))
        runs.append(run([VULTFS, "passwd", "--passphrase-file", pp, "--new-passphrase-file",
                         new, "--rekey", copy], tty))
    # one record per share, then the index
    assert_progress(*runs, "passwd --rekey", "records", COUNT + 1)
