"""The store commands (init, import, export, list, fsck, forget, passwd), as a
user runs them.

Each test checks the exit status and the one line a user reads (stdout for
success, stderr for a refusal), and, where the command must not change the
store, that every file of it is byte-identical afterwards. Stores are made
with `--cost min` (cheap Argon2id); one test uses the default cost.

Environment: VULTFS_BIN (the vultfs binary), VULTFS_MKVAULT (tests/mkvault),
VULTFS_FIXTURES (optional: fixture tests skip without it).
"""
import fcntl
import json
import os
import select
import shutil
import stat
import subprocess
import termios
import time
from pathlib import Path

import pytest

VULTFS = os.environ.get("VULTFS_BIN", "build/fs/vultfs")
MKVAULT = os.environ.get("VULTFS_MKVAULT", "build/tests/mkvault")
FIXTURES = os.environ.get("VULTFS_FIXTURES")

needs_fixtures = pytest.mark.skipif(
    not FIXTURES or not Path(FIXTURES).is_dir(), reason="VULTFS_FIXTURES is not set"
)

FAKE_MARKER = "FAKEKEYSHARE"
PASSPHRASE = "correct horse battery staple"
MiB = 1 << 20


# ---- helpers -----------------------------------------------------------------

def run(args, timeout=30, **kwargs):
    """Runs a command without a terminal (no test may hang on one)."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([str(a) for a in args], capture_output=True, encoding="utf-8",
                          errors="replace", timeout=timeout, start_new_session=True, **kwargs)


def write_secret(path, text):
    path = Path(path)
    path.write_text(text + "\n" if text else "", encoding="utf-8")
    return path


def vultfs(command, store, *operands, pp):
    """vultfs COMMAND --passphrase-file PP STORE OPERANDS... (no other options)."""
    return run([VULTFS, command, "--passphrase-file", pp, store, *operands])


def vultfs_opts(command, opts, store, *operands, pp):
    """The same with options (opts) before STORE."""
    return run([VULTFS, command, "--passphrase-file", pp, *opts, store, *operands])


def assert_one_error_line(r, *words):
    """Exit 1, nothing on stdout, exactly one 'vultfs:' line on stderr with the words."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("vultfs: "), lines[0]
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    return lines[0]


def assert_ok_one_line(r, *words):
    """Exit 0, nothing on stderr, exactly one 'vultfs:' line on stdout with the words."""
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stderr == "", r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("vultfs: "), lines[0]
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    return lines[0]


_key_counter = [0]


def fresh_ecdsa():
    """A distinct, realistic-looking compressed ECDSA public key per vault."""
    _key_counter[0] += 1
    return "02" + f"{os.getpid():08x}{_key_counter[0]:08x}" + "5eed" * 12


def mkvault(out, *args):
    r = run([MKVAULT, *args, out])
    assert r.returncode == 0, r.stderr
    return Path(out)


def new_vault(out, *args, name=None):
    extra = ["--ecdsa", fresh_ecdsa()]
    if name:
        extra += ["--name", name]
    return mkvault(out, *extra, *args)


def snapshot(store, with_lock=False):
    """Every file of the store: mode, bytes and mtime; directories: mode."""
    out = {}
    store = Path(store)
    for p in sorted(store.rglob("*")):
        rel = p.relative_to(store).as_posix()
        if rel == "lock" and not with_lock:
            continue
        st = p.lstat()
        if stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            out[rel] = ("file", stat.S_IMODE(st.st_mode), p.read_bytes(), st.st_mtime_ns)
    return out


def share_files(store):
    return {p.name: p.read_bytes() for p in (Path(store) / "shares").iterdir()}


def inspect_json(path, password_file=None):
    args = [VULTFS, "inspect"]
    if password_file is not None:
        args += ["--password-file", password_file]
    r = run(args + [path])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def listing(store, pp):
    """`vultfs list --json`: (its text, the parsed JSON)."""
    r = vultfs_opts("list", ["--json"], store, pp=pp)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return r.stdout, json.loads(r.stdout)


def dirs(store, pp):
    return sorted(v["directory"] for v in listing(store, pp)[1])


@pytest.fixture
def pp(tmp_path):
    return write_secret(tmp_path / "passphrase.txt", PASSPHRASE)


@pytest.fixture
def store(tmp_path, pp):
    path = tmp_path / "store"
    r = run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", path])
    assert r.returncode == 0, r.stderr
    return path


GENERATIONS_WARNING = "vultfs: warning: this import brought "


def import_ok(store, pp, *files, **kw):
    """Every file imported; nothing on stderr but, when the files bring two
    generations of a vault at once, the warning that says import order
    decided which is current (test_promote.py checks it)."""
    r = run([VULTFS, "import", "--passphrase-file", pp, store, *files], **kw)
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert all(line.startswith(GENERATIONS_WARNING) for line in lines), r.stderr
    assert not lines or len(files) > 1, r.stderr
    return r


# ---- init ----------------------------------------------------------------------

def test_init_creates_private_store(tmp_path, pp):
    path = tmp_path / "new-store"
    r = run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", path])
    assert_ok_one_line(r, "created store", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert (path / "shares").is_dir()
    assert stat.S_IMODE((path / "shares").stat().st_mode) == 0o700
    assert stat.S_IMODE((path / "vaults").stat().st_mode) == 0o700
    for name in ("vultfs.json", "vaults/manifest"):
        assert (path / name).is_file(), name
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o600, name
    assert not (path / "index.rec").exists()
    config = json.loads((path / "vultfs.json").read_text())
    assert config["format"] == 2 and len(config["id"]) == 32


def test_store_reveals_no_vault_name_device_or_key(store, pp, tmp_path):
    name, device = "Grep Me Treasury Vault", "grep-me-device-7f3a"
    ecdsa, eddsa = fresh_ecdsa(), "ed" * 31 + "0001"
    src = mkvault(tmp_path / "v.vult", "--name", name, "--device", device,
                  "--signers", f"{device},other-device-9c1b", "--ecdsa", ecdsa, "--eddsa", eddsa)
    r = import_ok(store, pp, src)
    assert "new vault" in r.stdout
    # one more epoch, so that history is on disk too
    reshared = mkvault(tmp_path / "r.vult", "--from", src, "--signers",
                       f"{device},other-device-9c1b,third-device-0d0d", "--tag", "e2")
    import_ok(store, pp, reshared)
    files = [p for p in store.rglob("*")]
    assert any(p.parent.name == "shares" and p.is_file() for p in files)
    secrets = [name, device, "other-device-9c1b", "third-device-0d0d", ecdsa, eddsa,
               ecdsa.upper(), FAKE_MARKER, "Grep Me"]
    for p in files:
        for s in secrets:
            assert s not in p.name, (p, s)
        if p.is_file():
            data = p.read_bytes()
            for s in secrets:
                assert s.encode() not in data, (p, s)
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        else:
            assert stat.S_IMODE(p.stat().st_mode) == 0o700, p


def test_init_into_non_empty_directory(tmp_path, pp):
    path = tmp_path / "busy"
    path.mkdir()
    (path / "somebody-elses-file").write_text("keep me")
    before = snapshot(path, with_lock=True)
    r = run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", path])
    assert_one_error_line(r, "not empty", str(path))
    assert snapshot(path, with_lock=True) == before


def test_init_into_existing_empty_directory_makes_it_private(tmp_path, pp):
    path = tmp_path / "empty-dir"
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)
    assert_ok_one_line(run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", path]),
                       "created store")
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_init_twice_refused(store, pp):
    before = snapshot(store, with_lock=True)
    r = run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", store])
    assert_one_error_line(r, "not empty")
    assert snapshot(store, with_lock=True) == before


def test_init_empty_passphrase_file(tmp_path):
    empty = write_secret(tmp_path / "empty.txt", "")
    path = tmp_path / "s"
    r = run([VULTFS, "init", "--passphrase-file", empty, "--cost", "min", path])
    assert_one_error_line(r, "empty")
    assert not (path / "vultfs.json").exists()


def test_init_without_terminal_or_passphrase_file(tmp_path):
    path = tmp_path / "s"
    r = run([VULTFS, "init", "--cost", "min", path])
    assert_one_error_line(r, "passphrase", "terminal")
    assert not (path / "vultfs.json").exists()


def test_init_default_cost_is_not_the_test_cost(tmp_path, pp):
    """The one test at the default (moderate) cost: the store works and its
    KDF is stronger than --cost min's."""
    path = tmp_path / "s"
    r = run([VULTFS, "init", "--passphrase-file", pp, path], timeout=60)
    assert_ok_one_line(r, "created store")
    kdf = json.loads((path / "vultfs.json").read_text())["kdf"]
    assert kdf["algorithm"] == "argon2id13"
    assert kdf["memlimit"] >= 64 * MiB and kdf["opslimit"] >= 2, kdf
    r = run([VULTFS, "list", "--json", "--passphrase-file", pp, path], timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


# ---- import: accepted outcomes ----------------------------------------------------

def test_import_new_unchanged_new_epoch(store, pp, tmp_path):
    a = new_vault(tmp_path / "a.vult", name="Alpha")
    assert_ok_one_line(vultfs("import", store, a, pp=pp), str(a), "new vault", "Alpha/")
    before = snapshot(store)
    assert_ok_one_line(vultfs("import", store, a, pp=pp), str(a), "unchanged")
    assert snapshot(store) == before
    b = mkvault(tmp_path / "b.vult", "--from", a, "--signers",
                "demo-device-1,demo-device-2,demo-device-3", "--tag", "epoch2")
    assert_ok_one_line(vultfs("import", store, b, pp=pp), str(b), "new epoch", "Alpha/")
    _, (vault,) = listing(store, pp)
    assert [(e["epoch"], e["current"]) for e in vault["epochs"]] == [(1, False), (2, True)]


def test_import_gg20_reshare_by_prefix(store, pp, tmp_path):
    a = new_vault(tmp_path / "a.vult", "--lib", "gg20", "--prefix", "0a0b0c0d")
    import_ok(store, pp, a)
    b = mkvault(tmp_path / "b.vult", "--from", a, "--prefix", "11223344", "--tag", "r2")
    assert_ok_one_line(vultfs("import", store, b, pp=pp), "new epoch")
    _, (vault,) = listing(store, pp)
    assert [e["reshare_prefix"] for e in vault["epochs"]] == ["0a0b0c0d", "11223344"]


def test_import_signer_order_is_ignored(store, pp, tmp_path):
    a = new_vault(tmp_path / "a.vult", "--signers", "demo-device-1,demo-device-2")
    import_ok(store, pp, a)
    before = snapshot(store)
    b = mkvault(tmp_path / "b.vult", "--from", a, "--signers", "demo-device-2,demo-device-1")
    assert_ok_one_line(vultfs("import", store, b, pp=pp), str(b), "unchanged")
    assert snapshot(store) == before


def test_import_size_cap_boundary(store, pp, tmp_path):
    """32 MiB (the default cap: a KEYIMPORT backup of 40 chains of a 3-party
    vault is about 19 MB) is read, and found not to be a backup; one byte
    more is too large, and the refusal names the cap and how to raise it."""
    at_cap, over = tmp_path / "at-cap.vult", tmp_path / "over.vult"
    at_cap.write_bytes(b"A" * (32 * MiB))
    over.write_bytes(b"A" * (32 * MiB + 1))
    assert_one_error_line(vultfs("import", store, at_cap, pp=pp), str(at_cap), "unreadable")
    assert_one_error_line(vultfs("import", store, over, pp=pp), str(over), "too large",
                          "32 MiB", "--max-import", "max_import=")


def test_import_size_cap_is_an_option(store, pp, tmp_path):
    """--max-import sets the cap of `vultfs import`, as -o max_import does
    for a mount; a bad size is a usage error."""
    at_cap, over = tmp_path / "at-cap.vult", tmp_path / "over.vult"
    at_cap.write_bytes(b"A" * MiB)
    over.write_bytes(b"A" * (MiB + 1))
    opts = ["--max-import", "1M"]
    assert_one_error_line(vultfs_opts("import", opts, store, at_cap, pp=pp), "unreadable")
    assert_one_error_line(vultfs_opts("import", opts, store, over, pp=pp), "too large",
                          "1 MiB")
    r = vultfs_opts("import", ["--max-import", "64M"], store, over, pp=pp)
    assert_one_error_line(r, "unreadable")
    r = vultfs_opts("import", ["--max-import", "lots"], store, over, pp=pp)
    assert r.returncode == 2 and "max_import" in r.stderr, r.stderr


def test_vault_name_with_slash(store, pp, tmp_path):
    v = new_vault(tmp_path / "v.vult", name="Savings/2024")
    r = import_ok(store, pp, v)
    (directory,) = dirs(store, pp)
    assert "/" not in directory and directory.startswith("Savings")
    assert directory + "/" in r.stdout
    out = tmp_path / "out.vult"
    r = vultfs_opts("export", ["--export-password", "none"], store, directory, out, pp=pp)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == v.read_bytes()
    r = run([VULTFS, "forget", "--yes", "--passphrase-file", pp, store, directory])
    assert_ok_one_line(r, "forgot")
    assert dirs(store, pp) == []


def test_import_passwords_file_missing(store, pp, tmp_path):
    v = new_vault(tmp_path / "v.vult")
    before = snapshot(store)
    missing = tmp_path / "no-passwords.txt"
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", missing, store, v])
    assert_one_error_line(r, str(missing))
    assert snapshot(store) == before


def test_import_one_line_per_file(store, pp, tmp_path):
    files = [new_vault(tmp_path / f"v{i}.vult", name=f"Vault {i}") for i in range(3)]
    r = import_ok(store, pp, *files)
    lines = r.stdout.splitlines()
    assert len(lines) == 3, lines
    for f, line in zip(files, lines):
        assert str(f) in line and "new vault" in line
    assert dirs(store, pp) == ["Vault 0", "Vault 1", "Vault 2"]


def test_import_name_clash_gets_key_suffix(store, pp, tmp_path):
    a = new_vault(tmp_path / "a.vult", name="Same Name")
    b = new_vault(tmp_path / "b.vult", name="Same Name")
    import_ok(store, pp, a, b)
    b_key = inspect_json(b)["public_key_ecdsa"]
    assert dirs(store, pp) == ["Same Name", "Same Name-" + b_key[-4:]]


# ---- import: refusals -------------------------------------------------------------

@pytest.fixture(scope="module")
def refusal_base(tmp_path_factory):
    """A store holding vault A (epoch 1 only) and vault B (reshared: epoch 1
    in history, epoch 2 current), with the refused files of every case."""
    d = tmp_path_factory.mktemp("refusals")
    pp = write_secret(d / "pp.txt", PASSPHRASE)
    store = d / "store"
    r = run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", store])
    assert r.returncode == 0, r.stderr
    a = new_vault(d / "a.vult", name="Vault A")
    b1 = new_vault(d / "b1.vult", name="Vault B")
    b2 = mkvault(d / "b2.vult", "--from", b1, "--signers",
                 "demo-device-1,demo-device-2,demo-device-3", "--tag", "b-epoch2")
    for f in (a, b1, b2):
        import_ok(store, pp, f)
    other_pw = write_secret(d / "other-pw.txt", "a password the store does not know")
    text = a.read_bytes()
    files = {
        "stale": b1,
        "co-location": mkvault(d / "a-dev2.vult", "--from", a, "--device", "demo-device-2",
                               "--tag", "dev2"),
        "conflict": mkvault(d / "a-tampered.vult", "--from", a, "--tag", "tampered"),
        "incomplete": new_vault(d / "incomplete.vult", "--incomplete"),
        "wrong password": new_vault(d / "encrypted.vult", "--password-file", other_pw),
    }
    (d / "truncated.vult").write_bytes(text[: len(text) // 2])
    files["truncated"] = d / "truncated.vult"
    corrupt = bytearray(text)
    corrupt[3] ^= 0x01
    (d / "corrupt.vult").write_bytes(bytes(corrupt))
    files["corrupt"] = d / "corrupt.vult"
    (d / "notes.txt").write_text("this is not a backup\n")
    files["not a backup"] = d / "notes.txt"
    with open(d / "huge.vult", "wb") as f:
        f.truncate(40 * MiB)  # sparse: past the 32 MiB cap
    files["too large"] = d / "huge.vult"
    (d / "empty.vult").write_bytes(b"")
    files["empty"] = d / "empty.vult"
    return {"dir": d, "pp": pp, "store": store, "files": files, "a": a}


REFUSALS = [
    # case, words the one line must hold
    ("stale", ["stale", "refused"]),
    ("co-location", ["co-location", "refused"]),
    ("conflict", ["conflict", "refused"]),
    ("incomplete", ["incomplete", "refused"]),
    ("wrong password", ["wrong password", "refused"]),
    ("truncated", ["refused", "corrupt"]),
    ("corrupt", ["refused", "corrupt"]),
    ("not a backup", ["refused", "not a vultisig backup"]),
    ("too large", ["too large", "refused"]),
    ("empty", ["refused"]),
]


@pytest.fixture
def refusal_store(refusal_base, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(refusal_base["store"], store, symlinks=True)
    return store


@pytest.mark.parametrize("case,words", REFUSALS, ids=[c for c, _ in REFUSALS])
def test_import_refusal(case, words, refusal_base, refusal_store):
    f = refusal_base["files"][case]
    before = snapshot(refusal_store)
    r = vultfs("import", refusal_store, f, pp=refusal_base["pp"])
    assert_one_error_line(r, str(f), *words)
    assert snapshot(refusal_store) == before


def test_import_missing_file(refusal_base, refusal_store, tmp_path):
    missing = tmp_path / "no-such.vult"
    before = snapshot(refusal_store)
    assert_one_error_line(vultfs("import", refusal_store, missing, pp=refusal_base["pp"]),
                          str(missing))
    assert snapshot(refusal_store) == before


def test_import_mixed_batch(refusal_base, refusal_store, tmp_path):
    pp = refusal_base["pp"]
    good1 = new_vault(tmp_path / "good1.vult", name="Good One")
    good2 = new_vault(tmp_path / "good2.vult", name="Good Two")
    bad = refusal_base["files"]["conflict"]
    r = run([VULTFS, "import", "--passphrase-file", pp, refusal_store, good1, bad, good2])
    assert r.returncode == 1, (r.stdout, r.stderr)
    out, err = r.stdout.splitlines(), r.stderr.splitlines()
    assert len(out) == 2 and len(err) == 1, (out, err)
    assert str(good1) in out[0] and "new vault" in out[0]
    assert str(good2) in out[1] and "new vault" in out[1]
    assert str(bad) in err[0] and "conflict" in err[0]
    assert dirs(refusal_store, pp) == ["Good One", "Good Two", "Vault A", "Vault B"]


def test_import_passwords_file_lets_encrypted_in(refusal_base, refusal_store, tmp_path):
    pp = refusal_base["pp"]
    f = refusal_base["files"]["wrong password"]
    pw = tmp_path / "passwords.txt"
    pw.write_text("first wrong guess\na password the store does not know\nlast\n")
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw,
             refusal_store, f])
    assert_ok_one_line(r, str(f), "new vault")


# ---- the lock ------------------------------------------------------------------------

def fuse_available():
    return os.path.exists("/dev/fuse") and shutil.which("fusermount3") is not None


@pytest.mark.skipif(not fuse_available(), reason="no /dev/fuse or fusermount3")
def test_second_opener_while_mounted(store, pp, tmp_path):
    a = new_vault(tmp_path / "a.vult", name="Mounted")
    import_ok(store, pp, a)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = open(tmp_path / "mount.log", "w")
    proc = subprocess.Popen([VULTFS, "mount", "-f", "--passphrase-file", str(pp), str(store),
                             str(mnt)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while not os.path.ismount(mnt):
            assert proc.poll() is None, (tmp_path / "mount.log").read_text()
            assert time.monotonic() < deadline, "mount did not appear"
            time.sleep(0.05)
        before = snapshot(store)
        b = new_vault(tmp_path / "b.vult")
        # what changes the store waits for the lock; readers need none (issue 9)
        for r in (vultfs("import", store, b, pp=pp), vultfs("passwd", store, pp=pp),
                  run([VULTFS, "forget", "--yes", "--passphrase-file", pp, store, "Mounted"])):
            assert_one_error_line(r, "in use by pid %d" % proc.pid)
        for r in (vultfs("list", store, pp=pp), vultfs("fsck", store, pp=pp)):
            assert r.returncode == 0 and r.stderr == "", r.stderr
        assert snapshot(store) == before
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True, timeout=15,
                       stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=5)
        log.close()
    # released: the store opens again
    assert dirs(store, pp) == ["Mounted"]


def spawn_on_terminal(args):
    """Starts args with a new pseudo-terminal as its controlling terminal."""
    master, slave = os.openpty()

    def take_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([str(a) for a in args], stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=take_terminal)
    os.close(slave)
    return proc, master


def read_until(fd, text, timeout=10):
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode("utf-8", "replace")


def test_forget_prompt_holds_the_store_and_confirms(store, pp, tmp_path):
    """forget without --yes on a terminal asks for the vault's name; while it
    asks, the store is held, and a wrong answer keeps the vault."""
    import_ok(store, pp, new_vault(tmp_path / "a.vult", name="Keep Me"))
    proc, master = spawn_on_terminal([VULTFS, "forget", "--passphrase-file", pp, store,
                                      "Keep Me"])
    try:
        assert "Type its name to confirm" in read_until(master, "confirm: ")
        r = vultfs("import", store, tmp_path / "a.vult", pp=pp)
        assert_one_error_line(r, "in use by pid %d" % proc.pid)
        os.write(master, b"Keep Mx\n")
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        os.close(master)
    assert proc.returncode == 1
    assert "not confirmed" in err.decode()
    assert dirs(store, pp) == ["Keep Me"]

    proc, master = spawn_on_terminal([VULTFS, "forget", "--passphrase-file", pp, store,
                                      "Keep Me"])
    try:
        read_until(master, "confirm: ")
        os.write(master, "Keep Me\n".encode())
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        os.close(master)
    assert proc.returncode == 0, err
    assert "forgot vault 'Keep Me'" in out.decode()
    assert dirs(store, pp) == []


# ---- export --------------------------------------------------------------------------

@pytest.fixture
def exported(store, pp, tmp_path):
    """A store with one unencrypted synthetic vault, reshared once."""
    e1 = new_vault(tmp_path / "e1.vult", "--device", "dev-x", "--signers", "dev-x,dev-y",
                   name="Export Me")
    e2 = mkvault(tmp_path / "e2.vult", "--from", e1, "--signers", "dev-x,dev-y,dev-z",
                 "--tag", "second")
    import_ok(store, pp, e1, e2)
    return {"e1": e1, "e2": e2}


PUBLIC_FACTS = ("name", "public_key_ecdsa", "public_key_eddsa", "signers", "local_party_id",
                "reshare_prefix", "lib_type", "created_at", "hex_chain_code", "key_shares",
                "complete", "suggested_filename")


def facts(d):
    return {k: d[k] for k in PUBLIC_FACTS}


def test_export_is_deterministic_and_decodes(store, pp, exported, tmp_path):
    o1, o2 = tmp_path / "o1.vult", tmp_path / "o2.vult"
    for o in (o1, o2):
        r = vultfs("export", store, "Export Me", o, pp=pp)
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        assert stat.S_IMODE(o.stat().st_mode) == 0o600
    assert o1.read_bytes() == o2.read_bytes()
    got = inspect_json(o1, pp)
    assert got["encrypted"] is True and got["scheme"] == "current"
    assert facts(got) == facts(inspect_json(exported["e2"]))
    assert FAKE_MARKER not in o1.read_text()


def test_export_password_none_gives_the_input_bytes(store, pp, exported, tmp_path):
    out = tmp_path / "plain.vult"
    r = vultfs_opts("export", ["--export-password", "none"], store, "Export Me", out, pp=pp)
    assert r.returncode == 0, r.stderr
    got = inspect_json(out)  # no password needed
    assert got["encrypted"] is False
    assert out.read_bytes() == exported["e2"].read_bytes()


def test_export_legacy_scheme(store, pp, exported, tmp_path):
    out = tmp_path / "legacy.vult"
    r = vultfs_opts("export", ["--export-scheme", "legacy"], store, "Export Me", out, pp=pp)
    assert r.returncode == 0, r.stderr
    got = inspect_json(out, pp)
    assert got["scheme"] == "legacy"
    assert facts(got) == facts(inspect_json(exported["e2"]))


def test_export_password_file(store, pp, exported, tmp_path):
    pw = write_secret(tmp_path / "export-pw.txt", "export only \u00e9")
    out = tmp_path / "pw.vult"
    r = vultfs_opts("export", ["--export-password-file", pw], store, "Export Me", out, pp=pp)
    assert r.returncode == 0, r.stderr
    assert inspect_json(out, pw)["local_party_id"] == "dev-x"
    r = run([VULTFS, "inspect", "--password-file", pp, out])
    assert_one_error_line(r, "password")


def test_export_history_epoch(store, pp, exported, tmp_path):
    out = tmp_path / "epoch1.vult"
    r = vultfs_opts("export", ["--export-password", "none", "--epoch", "1"], store,
                    "Export Me", out, pp=pp)
    assert r.returncode == 0, r.stderr
    assert inspect_json(out)["signers"] == ["dev-x", "dev-y"]
    assert out.read_bytes() == exported["e1"].read_bytes()
    r = vultfs_opts("export", ["--epoch", "7"], store, "Export Me", tmp_path / "e7.vult", pp=pp)
    assert_one_error_line(r, "no epoch 7")
    assert not (tmp_path / "e7.vult").exists()


def test_export_unknown_vault(store, pp, exported, tmp_path):
    out = tmp_path / "x.vult"
    assert_one_error_line(vultfs("export", store, "No Such Vault", out, pp=pp),
                          "no vault", "No Such Vault")
    assert not out.exists()


def test_export_never_overwrites(store, pp, exported, tmp_path):
    out = tmp_path / "taken.vult"
    out.write_bytes(b"precious")
    assert_one_error_line(vultfs("export", store, "Export Me", out, pp=pp), str(out))
    assert out.read_bytes() == b"precious"


# ---- list ----------------------------------------------------------------------------

def test_list_is_json_of_public_facts(store, pp, exported, tmp_path):
    import_ok(store, pp, new_vault(tmp_path / "o.vult", "--device", "demo-device-2",
                                   name="Other"))
    text, data = listing(store, pp)
    assert FAKE_MARKER not in text
    by_dir = {v["directory"]: v for v in data}
    assert sorted(by_dir) == ["Export Me", "Other"]
    v = by_dir["Export Me"]
    assert v["name"] == "Export Me"
    assert v["public_key_ecdsa"] == inspect_json(exported["e1"])["public_key_ecdsa"]
    assert [(e["epoch"], e["current"], e["device"]) for e in v["epochs"]] == [
        (1, False, "dev-x"), (2, True, "dev-x")]
    assert v["epochs"][1]["signers"] == ["dev-x", "dev-y", "dev-z"]
    assert [(e["epoch"], e["current"], e["device"]) for e in by_dir["Other"]["epochs"]] == [
        (1, True, "demo-device-2")]


def test_list_empty_store(store, pp):
    assert listing(store, pp)[1] == []


def test_list_no_store(tmp_path, pp):
    missing = tmp_path / "nothing-here"
    assert_one_error_line(vultfs("list", missing, pp=pp), "no store", str(missing))
    assert not missing.exists()


# ---- fsck ----------------------------------------------------------------------------

@pytest.fixture
def one_vault(store, pp, tmp_path):
    """A store with one vault of two epochs and another vault; returns the
    record files of the first vault."""
    import_ok(store, pp, new_vault(tmp_path / "bystander.vult", name="Bystander"))
    before = set(share_files(store))
    v1 = new_vault(tmp_path / "f1.vult", name="Fsck Me")
    v2 = mkvault(tmp_path / "f2.vult", "--from", v1, "--signers",
                 "demo-device-1,demo-device-2,demo-device-3", "--tag", "second")
    import_ok(store, pp, v1, v2)
    records = sorted(set(share_files(store)) - before)
    assert len(records) == 2
    return records


def test_fsck_clean(store, pp, one_vault):
    before = snapshot(store)
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stderr == ""
    assert r.stdout.splitlines() == ["vultfs: fsck: 3 records ok, 0 damaged, 0 missing, "
                                     "0 unreferenced, 0 temporary"]
    assert snapshot(store) == before


def test_fsck_empty_store(store, pp):
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 0, r.stderr
    assert "0 records ok, 0 damaged" in r.stdout


def test_fsck_finds_flipped_byte(store, pp, one_vault):
    victim = store / "shares" / one_vault[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    before = snapshot(store)
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1, (r.stdout, r.stderr)
    findings = [line for line in r.stdout.splitlines() if "records ok" not in line]
    assert len(findings) == 1, r.stdout
    assert victim.name in findings[0]
    assert "2 records ok, 1 damaged, 0 missing" in r.stdout
    assert snapshot(store) == before
    # the store still opens: the damage is one record's, not the store's
    assert dirs(store, pp) == ["Bystander", "Fsck Me"]
    assert snapshot(store) == before


@pytest.mark.parametrize("where", ["start", "end"])
def test_fsck_finds_damage_at_record_edges(store, pp, one_vault, where):
    victim = store / "shares" / one_vault[1]
    data = bytearray(victim.read_bytes())
    data[0 if where == "start" else -1] ^= 0x80
    victim.write_bytes(bytes(data))
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert victim.name in r.stdout
    assert "1 damaged" in r.stdout


def test_fsck_finds_missing_record(store, pp, one_vault):
    victim = store / "shares" / one_vault[0]
    victim.unlink()
    before = snapshot(store)
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1, (r.stdout, r.stderr)
    findings = [line for line in r.stdout.splitlines() if "records ok" not in line]
    assert len(findings) == 1, r.stdout
    assert "missing" in findings[0] and victim.name in findings[0]
    assert "2 records ok, 0 damaged, 1 missing" in r.stdout
    assert snapshot(store) == before


def test_fsck_names_an_unreferenced_share_and_no_change_removes_it(store, pp, one_vault,
                                                                   tmp_path, own_state_dir):
    """A share record no vault record names, as an import that was killed
    after writing it leaves one: fsck says whose share it is, one line,
    exit 1, changing nothing; no change removes it (it may be the share of
    a vault whose record was lost); importing the same file again takes it
    in (issue 20: share records are the truth)."""
    earlier = tmp_path / "earlier"
    shutil.copytree(store, earlier)
    late = new_vault(tmp_path / "late.vult", name="Came Late")
    before_names = set(share_files(store))
    import_ok(store, pp, late)
    (record,) = set(share_files(store)) - before_names
    # the copy, as it would be had the import been killed after the share
    # record: a store of its own, so its own state directory
    shutil.copy2(store / "shares" / record, earlier / "shares" / record)
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "earlier-state"))
    snap = snapshot(earlier)
    r = run([VULTFS, "fsck", "--passphrase-file", pp, earlier], env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    findings = [line for line in r.stdout.splitlines() if "records ok" not in line]
    assert len(findings) == 1 and record in findings[0], findings
    assert "unreferenced" in findings[0] and '"Came Late"' in findings[0], findings
    assert "3 records ok, 0 damaged, 0 missing, 1 unreferenced" in r.stdout
    assert snapshot(earlier) == snap
    r = run([VULTFS, "import", "--passphrase-file", pp, earlier,
             new_vault(tmp_path / "other.vult", name="Another")], env=env)
    assert r.returncode == 0, r.stderr
    assert (earlier / "shares" / record).exists()
    r = run([VULTFS, "import", "--passphrase-file", pp, earlier, late], env=env)
    assert r.returncode == 0 and "new vault: Came Late/" in r.stdout, (r.stdout, r.stderr)
    r = run([VULTFS, "fsck", "--passphrase-file", pp, earlier], env=env)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "5 records ok, 0 damaged, 0 missing, 0 unreferenced" in r.stdout


def test_fsck_reports_leftover_temporary_files_and_changes_nothing(store, pp, one_vault):
    """A crash between create and rename leaves '.<name>.tmp.<pid>'. fsck
    'reports what it finds; never changes the store' (its usage): the
    leftover must be reported (store_fsck has the line for it) and stay."""
    leftovers = [store / ".index.rec.tmp.4242", store / "shares" / (".%s.tmp.4242" % one_vault[0])]
    for p in leftovers:
        p.write_bytes(b"half-written")
        os.chmod(p, 0o600)
    before = snapshot(store)
    r = vultfs("fsck", store, pp=pp)
    assert all(p.exists() for p in leftovers), "fsck deleted the leftover temporary files"
    assert snapshot(store) == before
    assert "leftover temporary file" in r.stdout, r.stdout


def test_damaged_record_fails_export_cleanly(store, pp, tmp_path):
    v = new_vault(tmp_path / "v.vult", name="Only")
    import_ok(store, pp, v)
    (record,) = (store / "shares").iterdir()
    data = bytearray(record.read_bytes())
    data[len(data) // 2] ^= 0x01
    record.write_bytes(bytes(data))
    out = tmp_path / "out.vult"
    r = vultfs_opts("export", ["--export-password", "none"], store, "Only", out, pp=pp)
    assert_one_error_line(r, "Only")
    assert not out.exists()


def test_damaged_vault_record_is_named_and_rebuilt(store, pp, tmp_path):
    """A vault record that does not open: list shows the other vaults and
    says on stderr what is wrong; fsck names the record and whose share is
    left without one, changing nothing; a change is refused (it would be
    decided on a store that lacks the vault); fsck --repair rebuilds the
    record from the manifest and the share record."""
    import_ok(store, pp, new_vault(tmp_path / "w.vult", name="Bystander"))
    others = set((store / "vaults").glob("*.rec"))
    import_ok(store, pp, new_vault(tmp_path / "v.vult", name="Damaged Index"))
    (damaged,) = set((store / "vaults").glob("*.rec")) - others
    import_ok(store, pp, new_vault(tmp_path / "u.vult", name="Later"))
    out = tmp_path / "before.vult"
    assert vultfs_opts("export", ["--export-password", "none"], store, "Damaged Index", out,
                       pp=pp).returncode == 0
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    before = snapshot(store)
    r = vultfs("list", store, pp=pp)
    assert r.returncode == 0 and "Bystander" in r.stdout and "Damaged Index" not in r.stdout
    assert "Later" in r.stdout
    (line,) = r.stderr.splitlines()
    assert "warning" in line and damaged.name in line and "damaged" in line, line
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1, r.stdout
    assert f"vault record vaults/{damaged.name} is damaged" in r.stdout
    assert '"Damaged Index"' in r.stdout and "has no vault record" in r.stdout
    r = vultfs("import", store, new_vault(tmp_path / "x.vult", name="Third"), pp=pp)
    assert_one_error_line(r, "vultfs fsck", damaged.name)
    assert snapshot(store) == before
    r = vultfs_opts("fsck", ["--repair"], store, pp=pp)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert dirs(store, pp) == ["Bystander", "Damaged Index", "Later"]
    again = tmp_path / "after.vult"
    assert vultfs_opts("export", ["--export-password", "none"], store, "Damaged Index", again,
                       pp=pp).returncode == 0
    assert again.read_bytes() == out.read_bytes()


# ---- forget --------------------------------------------------------------------------

def test_forget_yes_removes_the_vault_and_its_records(store, pp, one_vault, tmp_path):
    r = run([VULTFS, "forget", "--yes", "--passphrase-file", pp, store, "Fsck Me"])
    assert_ok_one_line(r, "forgot", "Fsck Me")
    assert dirs(store, pp) == ["Bystander"]
    left = set(share_files(store))
    assert not left & set(one_vault)
    assert len(left) == 1
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 0, r.stdout
    r = vultfs("export", store, "Fsck Me", tmp_path / "gone.vult", pp=pp)
    assert_one_error_line(r, "no vault")


def test_forget_without_yes_and_terminal(store, pp, one_vault):
    before = snapshot(store)
    r = vultfs("forget", store, "Fsck Me", pp=pp)
    assert_one_error_line(r, "terminal", "--yes")
    assert snapshot(store) == before
    assert dirs(store, pp) == ["Bystander", "Fsck Me"]


def test_forget_unknown_vault(store, pp, one_vault):
    before = snapshot(store)
    r = run([VULTFS, "forget", "--yes", "--passphrase-file", pp, store, "Nobody"])
    assert_one_error_line(r, "no vault", "Nobody")
    assert snapshot(store) == before


# ---- passwd --------------------------------------------------------------------------

def test_passwd_changes_the_passphrase_only(store, pp, one_vault, tmp_path):
    shares_before = share_files(store)
    before = snapshot(store)
    kdf_before = json.loads((store / "vultfs.json").read_text())["kdf"]
    new = write_secret(tmp_path / "new.txt", "a brand new passphrase")
    r = run([VULTFS, "passwd", "--passphrase-file", pp, "--new-passphrase-file", new, store])
    assert_ok_one_line(r, "passphrase changed")
    assert share_files(store) == shares_before
    # only the configuration (the wrapped master key) is rewritten
    after = snapshot(store)
    assert {k for k in before if before[k] != after.get(k)} == {"vultfs.json"}
    assert set(after) == set(before)
    kdf_after = json.loads((store / "vultfs.json").read_text())["kdf"]
    assert kdf_after["salt"] != kdf_before["salt"]
    assert (kdf_after["opslimit"], kdf_after["memlimit"]) == (kdf_before["opslimit"],
                                                              kdf_before["memlimit"])
    assert_one_error_line(vultfs("list", store, pp=pp), "wrong passphrase")
    assert dirs(store, new) == ["Bystander", "Fsck Me"]
    r = vultfs("fsck", store, pp=new)
    assert r.returncode == 0, r.stdout


def test_passwd_empty_new_passphrase(store, pp, one_vault, tmp_path):
    before = snapshot(store)
    empty = write_secret(tmp_path / "empty.txt", "")
    r = run([VULTFS, "passwd", "--passphrase-file", pp, "--new-passphrase-file", empty, store])
    assert_one_error_line(r, "empty")
    assert snapshot(store) == before
    assert dirs(store, pp) == ["Bystander", "Fsck Me"]


def test_passwd_without_terminal_or_new_file(store, pp, one_vault):
    before = snapshot(store)
    assert_one_error_line(vultfs("passwd", store, pp=pp), "terminal")
    assert snapshot(store) == before


# ---- wrong passphrase, newer format --------------------------------------------------------

def wrong_passphrase_commands(store, tmp_path, wrong, vault_file):
    return {
        "import": [VULTFS, "import", "--passphrase-file", wrong, store, vault_file],
        "export": [VULTFS, "export", "--passphrase-file", wrong, store, "Fsck Me",
                   tmp_path / "out.vult"],
        "list": [VULTFS, "list", "--passphrase-file", wrong, store],
        "fsck": [VULTFS, "fsck", "--passphrase-file", wrong, store],
        "forget": [VULTFS, "forget", "--yes", "--passphrase-file", wrong, store, "Fsck Me"],
        "passwd": [VULTFS, "passwd", "--passphrase-file", wrong, "--new-passphrase-file",
                   wrong, store],
    }


COMMANDS = ["import", "export", "list", "fsck", "forget", "passwd"]


@pytest.mark.parametrize("command", COMMANDS)
def test_wrong_passphrase(command, store, pp, one_vault, tmp_path):
    wrong = write_secret(tmp_path / "wrong.txt", PASSPHRASE + "!")
    v = new_vault(tmp_path / "v.vult")
    assert (store / "lock").exists()
    time.sleep(0.01)  # an mtime change of the lock would show
    before = snapshot(store, with_lock=True)
    args = wrong_passphrase_commands(store, tmp_path, wrong, v)[command]
    assert_one_error_line(run(args), "wrong passphrase", str(store))
    assert snapshot(store, with_lock=True) == before
    assert not (tmp_path / "out.vult").exists()


def test_wrong_passphrase_creates_no_lock(store, tmp_path):
    assert not (store / "lock").exists()
    wrong = write_secret(tmp_path / "wrong.txt", "nope")
    assert_one_error_line(vultfs("list", store, pp=wrong), "wrong passphrase")
    assert not (store / "lock").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_newer_format_refused(command, store, pp, one_vault, tmp_path):
    config = store / "vultfs.json"
    data = json.loads(config.read_text())
    data["format"] = 99
    config.write_text(json.dumps(data, indent=2))
    v = new_vault(tmp_path / "v.vult")
    before = snapshot(store, with_lock=True)
    args = wrong_passphrase_commands(store, tmp_path, pp, v)[command]
    assert_one_error_line(run(args), "newer format", "upgrade")
    assert snapshot(store, with_lock=True) == before


# ---- usage errors ----------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["init"], ["import", "STORE"], ["export", "STORE", "V"], ["list"], ["fsck"],
    ["forget", "STORE"], ["passwd"], ["list", "--no-such-option", "STORE"],
    ["export", "--export-password", "hunter2", "STORE", "V", "OUT"],
    ["export", "--export-scheme", "rot13", "STORE", "V", "OUT"],
    ["export", "--epoch", "0", "STORE", "V", "OUT"],
    ["init", "--cost", "extreme", "STORE"],
], ids=lambda a: " ".join(a))
def test_usage_errors_exit_2(args, tmp_path):
    args = [str(tmp_path / a) if a in ("STORE", "OUT") else a for a in args]
    r = run([VULTFS, *args])
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert "usage: vultfs" in r.stderr or r.stderr.startswith("vultfs: "), r.stderr
    assert not (tmp_path / "STORE").exists()


@pytest.mark.parametrize("command", ["init", "import", "export", "list", "fsck", "forget",
                                     "passwd"])
def test_store_command_help(command):
    r = run([VULTFS, command, "--help"])
    assert r.returncode == 0
    assert r.stdout.startswith("usage: vultfs " + command)
    assert r.stderr == ""


def test_export_password_file_and_none_together(store, pp, tmp_path):
    pw = write_secret(tmp_path / "pw.txt", "x")
    r = vultfs_opts("export", ["--export-password", "none", "--export-password-file", pw],
                    store, "V", tmp_path / "o.vult", pp=pp)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and "not both" in r.stderr


# ---- real app backups ------------------------------------------------------------------

@needs_fixtures
def test_fixture_encrypted_needs_import_passwords(store, pp, tmp_path):
    f = Path(FIXTURES) / "TestFastVault-44fd-share2of2-Password123!.vult"
    before = snapshot(store)
    assert_one_error_line(vultfs("import", store, f, pp=pp), str(f), "wrong password")
    assert snapshot(store) == before
    pw = tmp_path / "passwords.txt"
    pw.write_text("android_test_pwd\nPassword123!\n")
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store, f])
    assert_ok_one_line(r, str(f), "new vault", "TestFastVault/")
    # the other device's share of the same vault: refused, co-location
    other = Path(FIXTURES) / "TestFastVault-44fd-share1of2-Vultiserver.vult"
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store, other])
    assert_one_error_line(r, str(other), "co-location")
    # the export decodes to the same facts
    out = tmp_path / "out.vult"
    r = vultfs("export", store, "TestFastVault", out, pp=pp)
    assert r.returncode == 0, r.stderr
    src_pw = write_secret(tmp_path / "src.txt", "Password123!")
    assert facts(inspect_json(out, pp)) == facts(inspect_json(f, src_pw))


@needs_fixtures
def test_fixture_store_reveals_nothing(store, pp, tmp_path):
    f = Path(FIXTURES) / "honeypot.bak"
    r = vultfs("import", store, f, pp=pp)
    assert_ok_one_line(r, "new vault", "JP Honeypot Vault/")
    info = inspect_json(f)
    needles = [info["name"], info["local_party_id"], info["public_key_ecdsa"],
               info["public_key_eddsa"], info["hex_chain_code"], info["reshare_prefix"]]
    for p in store.rglob("*"):
        data = p.read_bytes() if p.is_file() else b""
        for n in needles:
            assert n not in p.name and n.encode() not in data, (p, n)
    out = tmp_path / "plain.vult"
    r = vultfs_opts("export", ["--export-password", "none"], store, "JP Honeypot Vault", out,
                    pp=pp)
    assert r.returncode == 0, r.stderr
    assert facts(inspect_json(out)) == facts(info)


@needs_fixtures
def test_fixture_gg20_bak_pair_is_co_location(store, pp, tmp_path):
    a = Path(FIXTURES) / "test_android_vault_backup.bak"
    b = Path(FIXTURES) / "test_ios_vault_backup.bak"
    pw = tmp_path / "passwords.txt"
    pw.write_text("android_test_pwd\nios_test_pwd\n")
    r = run([VULTFS, "import", "--passphrase-file", pp, "--import-passwords", pw, store, a, b])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert len(r.stdout.splitlines()) == 1 and "new vault" in r.stdout and str(a) in r.stdout
    assert len(r.stderr.splitlines()) == 1 and "co-location" in r.stderr and str(b) in r.stderr


def drain(fd):
    """What a terminal still holds after its program ended."""
    seen = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode("utf-8", "replace")


def answer_prompts(args, answers):
    """Runs args on a new terminal, typing each answer after each prompt;
    returns (exit code, everything the terminal showed, stderr)."""
    proc, master = spawn_on_terminal(args)
    shown = ""
    try:
        for prompt, answer in answers:
            shown += read_until(master, prompt)
            os.write(master, answer.encode() + b"\n")
        code = proc.wait(timeout=30)
        shown += drain(master)
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        os.close(master)
    return code, shown, stderr


def test_passphrase_from_the_terminal_with_echo_off(tmp_path):
    """init asks twice on the terminal; what is typed is never echoed, and
    the store then opens with that passphrase (asked for again by list)."""
    secret = "typed passphrase 42"
    path = tmp_path / "s"
    code, shown, _ = answer_prompts([VULTFS, "init", "--cost", "min", path],
                                    [("passphrase: ", secret), ("Repeat it: ", secret)])
    assert code == 0
    assert secret not in shown
    code, shown, stderr = answer_prompts([VULTFS, "list", path],
                                         [("Store passphrase: ", secret)])
    assert code == 0, stderr
    assert secret not in shown


def test_mistyped_repeat_creates_nothing(tmp_path):
    path = tmp_path / "s"
    code, shown, stderr = answer_prompts([VULTFS, "init", "--cost", "min", path],
                                         [("passphrase: ", "one"), ("Repeat it: ", "two")])
    assert code == 1
    assert "differ" in stderr
    assert not path.exists()
