"""Mount tests: a real vultfs mount driven by real tools.

Every test gets a fresh store (cheap Argon2id: `vultfs init --cost min`)
mounted in the foreground in a subprocess. The fixture waits for the mount
with a timeout, ALWAYS unmounts in teardown (fusermount3 -u, then -uz, then
kill), and then scans the daemon's stderr and --log-file for warning and
error lines: a test declares the refusals it provokes with `m.expect(...)`;
any other warning or error fails it.

Environment: VULTFS_BIN (build/fs/vultfs), VULTFS_MKVAULT
(build/tests/mkvault), VULTFS_FIXTURES (optional; fixture tests skip).
Runs as root with /dev/fuse; skips everything without /dev/fuse or
fusermount3.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

# fixtures of wider scope run before own_state_dir (below): they too keep
# the state vultfs keeps outside a store away from the home directory
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="vultfs-test-state-")

ROOT = Path(__file__).resolve().parents[2]
VULTFS = os.environ.get("VULTFS_BIN") or str(ROOT / "build" / "fs" / "vultfs")
MKVAULT = os.environ.get("VULTFS_MKVAULT") or str(ROOT / "build" / "tests" / "mkvault")
FIXTURES = os.environ.get("VULTFS_FIXTURES")
PASSPHRASE = "correct horse battery staple"
TIMEOUT = 60  # seconds, for any one tool run

CAN_MOUNT = os.path.exists("/dev/fuse") and shutil.which("fusermount3") is not None


def pytest_collection_modifyitems(config, items):
    if CAN_MOUNT:
        return
    skip = pytest.mark.skip(reason="no /dev/fuse or fusermount3")
    for item in items:
        if "tests/mount" in str(item.fspath):
            item.add_marker(skip)


def run(args, check=True, **kw):
    """A subprocess with a timeout; text output captured."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    res = subprocess.run([str(a) for a in args], timeout=TIMEOUT, **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{args} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
    return res


def fixture(name):
    return Path(FIXTURES) / name


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    """The state vultfs keeps outside a store (the last change seen of it,
    $XDG_STATE_HOME/vultfs), per test: nothing left in the home directory,
    and no test's store looks rolled back to another's."""
    state = tmp_path / "xdg-state"
    state.mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


class Vaults:
    """Synthetic backups from mkvault, written into a directory."""

    def __init__(self, where):
        self.where = Path(where)
        self.where.mkdir(exist_ok=True)
        self.count = 0

    def make(self, *flags, out=None, **kw):
        """mkvault FLAGS --key value... OUT (from_=F gives --from F)."""
        self.count += 1
        out = self.where / (out or f"v{self.count}.vult")
        args = [MKVAULT, *flags]
        for key, value in kw.items():
            args += [f"--{key.rstrip('_').replace('_', '-')}", value]
        run(args + [out])
        return out


def ecdsa(n):
    """A distinct fake ECDSA public key (hex) per n."""
    return "02" + f"{n:064x}"


class Mount:
    def __init__(self, base, name="a", extra=None, store=None, passphrase=PASSPHRASE):
        self.base = Path(base)
        self.store = Path(store) if store else self.base / f"store-{name}"
        self.mnt = self.base / f"mnt-{name}"
        self.stderr_path = self.base / f"stderr-{name}.txt"
        self.log_path = self.base / f"log-{name}.txt"
        self.pp = self.base / f"pp-{name}"
        self.pp.write_text(passphrase + "\n")
        self.extra = list(extra or [])
        self.secret_args = ["--passphrase-file", self.pp]  # how the daemon gets it
        self.expected = []
        self.proc = None
        self.mnt.mkdir(exist_ok=True)
        if not (self.store / "vultfs.json").exists():
            run([VULTFS, "init", "--passphrase-file", self.pp, "--cost", "min", self.store])

    def expect(self, *patterns):
        """Warnings or errors the test provokes (regular expressions)."""
        self.expected += patterns

    def start(self):
        self.stderr = open(self.stderr_path, "a")
        self.proc = subprocess.Popen(
            [VULTFS, "mount", "-f", *self.secret_args, "--log-file", self.log_path,
             *self.extra, self.store, self.mnt],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)
        deadline = time.monotonic() + 10
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None:
                raise AssertionError(f"vultfs mount exited {self.proc.returncode}:\n"
                                     + self.stderr_path.read_text())
            if time.monotonic() > deadline:
                raise AssertionError("the mount did not appear within 10 s")
            time.sleep(0.05)
        return self

    def stop(self):
        """Unmounts and waits for the daemon; returns its exit status."""
        if self.proc is None:
            return None
        if os.path.ismount(self.mnt):
            r = subprocess.run(["fusermount3", "-u", str(self.mnt)], capture_output=True,
                               timeout=TIMEOUT)
            if r.returncode != 0:
                subprocess.run(["fusermount3", "-uz", str(self.mnt)], capture_output=True,
                               timeout=TIMEOUT)
        try:
            status = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait(timeout=15)
        self.proc = None
        self.stderr.close()
        return status

    def restart(self):
        self.stop()
        return self.start()

    def __truediv__(self, rel):
        return self.mnt / rel

    def lines(self):
        out = []
        for p in (self.stderr_path, self.log_path):
            if p.exists():
                out += p.read_text(errors="replace").splitlines()
        return out

    def unexpected(self):
        bad = []
        for line in self.lines():
            if not re.search(r"warning|error", line, re.I):
                continue
            if any(re.search(p, line) for p in self.expected):
                continue
            bad.append(line)
        return bad

    def log_has(self, pattern):
        return any(re.search(pattern, line) for line in self.lines())


@pytest.fixture
def vaults(tmp_path):
    return Vaults(tmp_path / "in")


@pytest.fixture
def mount_factory(tmp_path):
    """mount_factory(name, extra args) -> a started Mount; all are
    unmounted and their logs checked at teardown."""
    mounts = []

    def make(name="a", extra=None, start=True, **kw):
        m = Mount(tmp_path, name, extra, **kw)
        mounts.append(m)
        return m.start() if start else m

    yield make
    problems = []
    for m in mounts:
        try:
            m.stop()
        except Exception as e:  # keep unmounting the others
            problems.append(f"{m.mnt}: unmount failed: {e}")
        problems += [f"{m.mnt}: unexpected: {line}" for line in m.unexpected()]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def m(mount_factory):
    """One mounted, empty store (exports encrypted with the passphrase)."""
    return mount_factory("a")


# ---- helpers the tests share (through the `lib` fixture) -------------------

def write_close(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    """Writes with plain syscalls. Returns None, or (step, errno) of the
    first failing step: 'open', 'write' or 'close' (close is always tried)."""
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        return ("open", e.errno)
    failed = None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as e:
        failed = ("write", e.errno)
    try:
        os.close(fd)
    except OSError as e:
        failed = failed or ("close", e.errno)
    return failed


def xattrs(path):
    return {name: os.getxattr(path, name, follow_symlinks=False)
            for name in os.listxattr(path, follow_symlinks=False)}


def snapshot(root, content=True):
    """{relative path: (kind, size, xattrs, bytes or None)} of a tree."""
    root = Path(root)
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            is_dir = p.is_dir()
            data = None if is_dir or not content else p.read_bytes()
            out[rel] = ("dir" if is_dir else "file", 0 if is_dir else st.st_size, xattrs(p), data)
    return out


def vault_dir(mnt, name):
    return Path(mnt) / name


def add_reshared_vaults(m, vaults):
    """Into mount m: Alpha, DKLS, reshared twice (the signers change:
    epoch 3, history 1 and 2); Gamma, GG20, reshared once (a new reshare
    prefix: epoch 2, history 1)."""
    a1 = vaults.make(name="Alpha", ecdsa=ecdsa(1))
    a2 = vaults.make(from_=a1, signers="demo-device-1,demo-device-3", tag="a2")
    a3 = vaults.make(from_=a1, signers="demo-device-1,demo-device-4,demo-device-5", tag="a3")
    for src in (a1, a2, a3):
        run(["cp", src, m.mnt])
    g1 = vaults.make(name="Gamma", ecdsa=ecdsa(3), lib="gg20")
    g2 = vaults.make(from_=g1, prefix="2c5e9ced", tag="g2")
    run(["cp", g1, m.mnt])
    run(["cp", g2, m / "Gamma" / "share.vult"])


class Lib:
    run = staticmethod(run)
    ecdsa = staticmethod(ecdsa)
    fixture = staticmethod(fixture)
    write_close = staticmethod(write_close)
    xattrs = staticmethod(xattrs)
    snapshot = staticmethod(snapshot)
    add_reshared_vaults = staticmethod(add_reshared_vaults)
    VULTFS = VULTFS
    MKVAULT = MKVAULT
    PASSPHRASE = PASSPHRASE


@pytest.fixture
def lib():
    return Lib
