"""vultfs as mount(8) and fstab know it: `mount -t fuse.vultfs STORE MNT
-o passphrase_file=F,...` through mount.fuse3, an fstab line, the store as
the source in /proc/mounts, refusing to stack on a vultfs mount, libfuse's
messages in our log, and where refusals go in the background.

mount.fuse3 runs the program named by the type ("vultfs") from a fixed
PATH, so these tests run in a private mount namespace (unshare -m) where a
directory holding only a link to the built binary is bound over
/usr/local/bin. Each script unmounts on exit (trap), and every command has
a timeout."""
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

NAME = "Mount8 Vault"

needs_mount8 = pytest.mark.skipif(
    shutil.which("unshare") is None or not os.path.exists("/sbin/mount.fuse3"),
    reason="needs unshare and mount.fuse3")


def store_with_vault(lib, vaults, tmp_path):
    """A store holding one vault, and its passphrase file."""
    pp = tmp_path / "pp"
    pp.write_text(lib.PASSPHRASE + "\n")
    store = tmp_path / "store, with a comma"  # fsname must survive -o escaping
    lib.run([lib.VULTFS, "init", "--passphrase-file", pp, "--cost", "min", store])
    lib.run([lib.VULTFS, "import", "--passphrase-file", pp, store,
             vaults.make(name=NAME, ecdsa=lib.ecdsa(8))])
    return store, pp


def in_namespace(lib, tmp_path, body, **env):
    """Runs the bash script body in a private mount namespace where
    `vultfs` on mount's PATH is the built binary. $MNT is unmounted when the
    script ends, whatever happens."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "vultfs").exists():
        (bin_dir / "vultfs").symlink_to(lib.VULTFS)
    script = f"""
set -u
mount --bind {str(bin_dir)!r} /usr/local/bin || exit 90
cleanup() {{
    if mountpoint -q "$MNT"; then umount "$MNT" || umount -l "$MNT"; fi
    # the daemon exits once unmounted; it holds the store until then
    for i in $(seq 100); do
        vultfs list --passphrase-file "$PP" "$STORE" >/dev/null 2>&1 && break
        sleep 0.1
    done
}}
trap cleanup EXIT
{body}
"""
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", script],
                       capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, **{k: str(v) for k, v in env.items()}))
    if r.returncode == 90:
        pytest.skip("cannot bind-mount in a private mount namespace")
    return r


def unescape(field):
    """/proc/mounts writes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_line(out, mnt):
    """The /proc/mounts line for mnt in the script's output: (source, type)."""
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == str(mnt):
            return unescape(fields[0]), fields[2]
    return None


def store_is_free(lib, store, pp):
    """The daemon has exited: the store opens again (waits up to 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = lib.run([lib.VULTFS, "list", "--passphrase-file", pp, store], check=False)
        if r.returncode == 0:
            return True
        time.sleep(0.1)
    return False


@needs_mount8
def test_mount_t_fuse_vultfs(lib, vaults, tmp_path):
    store, pp = store_with_vault(lib, vaults, tmp_path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "log.txt"
    pw = tmp_path / "export-pw"
    pw.write_text("export password\n")
    more = tmp_path / "import-pws"
    more.write_text("another\n")
    copy = tmp_path / "copy.vult"
    r = in_namespace(lib, tmp_path, """
mount -t fuse.vultfs "$STORE" "$MNT" \
    -o "passphrase_file=$PP,export_password_file=$PW,export_scheme=legacy,import_passwords=$MORE,log_file=$LOG,allow_other" \
    || exit 1
cat /proc/self/mounts
ls "$MNT"
cp "$MNT/$NAME/share.vult" "$COPY"
umount "$MNT"
""", STORE=store, MNT=mnt, PP=pp, PW=pw, MORE=more, LOG=log, NAME=NAME, COPY=copy)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mount_line(r.stdout, mnt) == (str(store), "fuse.vultfs"), r.stdout
    assert NAME in r.stdout
    assert "serving on" in log.read_text()
    assert "allow_other" in next(l for l in r.stdout.splitlines() if str(mnt) in l)
    assert store_is_free(lib, store, pp)
    # the options reached the mount: share.vult was encrypted with the
    # export password, in the legacy scheme
    facts = json.loads(lib.run([lib.VULTFS, "inspect", "--password-file", pw, copy]).stdout)
    assert (facts["name"], facts["scheme"]) == (NAME, "legacy"), facts


@needs_mount8
def test_fstab_line(lib, vaults, tmp_path):
    store, pp = store_with_vault(lib, vaults, tmp_path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "log.txt"
    fstab = tmp_path / "fstab"
    escaped = str(store).replace(" ", "\\040")
    fstab.write_text(f"{escaped} {mnt} fuse.vultfs passphrase_file={pp},log_file={log},nofail 0 0\n")
    r = in_namespace(lib, tmp_path, """
mount -a -T "$FSTAB" || exit 1
cat /proc/self/mounts
ls "$MNT"
umount "$MNT"
""", STORE=store, MNT=mnt, PP=pp, FSTAB=fstab)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mount_line(r.stdout, mnt) == (str(store), "fuse.vultfs"), r.stdout
    assert NAME in r.stdout
    assert store_is_free(lib, store, pp)


@needs_mount8
def test_mount_helper_form_refuses_bad_options(lib, vaults, tmp_path):
    """A mistyped mount option is one clear line and nothing mounted."""
    store, pp = store_with_vault(lib, vaults, tmp_path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    before = sorted(p.name for p in store.iterdir())
    r = in_namespace(lib, tmp_path, """
mount -t fuse.vultfs "$STORE" "$MNT" -o "passphrase_file=$PP,export_scheme=rot13"
echo "rc=$?"
mountpoint -q "$MNT" && echo MOUNTED
true
""", STORE=store, MNT=mnt, PP=pp)
    assert "rc=0" not in r.stdout and "MOUNTED" not in r.stdout, r.stdout + r.stderr
    assert "vultfs: error: --export-scheme is 'current' or 'legacy', not 'rot13'" in r.stderr
    assert sorted(p.name for p in store.iterdir()) == before


def vultfs_mounts_at(path):
    return [l for l in Path("/proc/self/mounts").read_text().splitlines()
            if l.split()[1] == str(path) and l.split()[2] == "fuse.vultfs"]


def test_refuses_to_stack_on_a_vultfs_mount(mount_factory, lib, tmp_path):
    a = mount_factory("a")
    b = mount_factory("b", start=False)
    for store in (b.store, a.store):  # another store, and the same one
        # in the background: a mount that wrongly succeeds returns at once
        r = lib.run([lib.VULTFS, "mount", "--passphrase-file", b.pp, "--log-file", b.log_path,
                     store, a.mnt], check=False, stdin=subprocess.DEVNULL)
        stacked = len(vultfs_mounts_at(a.mnt)) - 1
        for _ in range(stacked):
            lib.run(["fusermount3", "-u", a.mnt], check=False)
        assert stacked == 0
        assert r.returncode == 1, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(f"vultfs: error: {a.mnt} is already a vultfs mount (of "
                                   f"{a.store})"), lines[0]
        b.expect("already a vultfs mount")
    assert len(vultfs_mounts_at(a.mnt)) == 1


def test_libfuse_messages_go_through_the_log(mount_factory, lib, tmp_path):
    m = mount_factory("a", start=False)
    log = tmp_path / "fuse-log.txt"
    r = lib.run([lib.VULTFS, "mount", "-f", "--passphrase-file", m.pp, "--log-file", log,
                 "-o", "no_such_fuse_option", m.store, m.mnt], check=False,
                stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert not os.path.ismount(m.mnt)
    lines = r.stderr.strip().splitlines()
    assert any("no_such_fuse_option" in l for l in lines), r.stderr
    assert all(l.startswith("vultfs: ") for l in lines), r.stderr
    assert "no_such_fuse_option" in log.read_text()


@pytest.mark.skipif(os.path.exists("/dev/log"), reason="a syslog socket exists here")
def test_background_without_syslog_says_where_refusals_go(mount_factory, lib, tmp_path):
    m = mount_factory("a", start=False)
    r = lib.run([lib.VULTFS, "mount", "--passphrase-file", m.pp, m.store, m.mnt], check=False,
                stdin=subprocess.DEVNULL)
    try:
        assert r.returncode == 0, r.stderr
        assert os.path.ismount(m.mnt)
        assert "no syslog socket (/dev/log) and no --log-file" in r.stderr, r.stderr
        assert "--log-file F" in r.stderr
    finally:
        if os.path.ismount(m.mnt):
            lib.run(["fusermount3", "-u", m.mnt], check=False)
    assert store_is_free(lib, m.store, m.pp)
    # with a log file there is nothing to say
    log = tmp_path / "bg-log.txt"
    r = lib.run([lib.VULTFS, "mount", "--passphrase-file", m.pp, "--log-file", log, m.store,
                 m.mnt], check=False, stdin=subprocess.DEVNULL)
    try:
        assert r.returncode == 0, r.stderr
        assert "syslog" not in r.stderr
    finally:
        if os.path.ismount(m.mnt):
            lib.run(["fusermount3", "-u", m.mnt], check=False)
    assert store_is_free(lib, m.store, m.pp)
