"""`vultfs mount` itself: options, and one clear line for every way it can
fail before mounting."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

NAME = "Demo Vault (synthetic)"


def mount_fails(lib, args, pattern):
    r = lib.run([lib.VULTFS, "mount", *args], check=False, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and pattern in lines[0] and lines[0].startswith("vultfs: "), r.stderr
    return lines[0]


def test_failures_before_mounting(mount_factory, lib, tmp_path):
    m = mount_factory("a")
    pp = m.pp
    other = tmp_path / "other-mnt"
    other.mkdir()
    mount_fails(lib, ["-f", "--passphrase-file", pp, tmp_path / "nowhere", other],
                "no store at")
    line = mount_fails(lib, ["-f", "--passphrase-file", pp, m.store, other], "is in use by pid")
    assert str(m.proc.pid) in line
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    m.stop()
    mount_fails(lib, ["-f", "--passphrase-file", wrong, m.store, other], "wrong passphrase")
    mount_fails(lib, ["-f", "--passphrase-file", pp, m.store, tmp_path / "no-such-dir"],
                "mountpoint")
    mount_fails(lib, ["-f", "--passphrase-file", pp, m.store, pp], "not a directory")
    mount_fails(lib, ["-f", m.store, other], "no terminal")
    mount_fails(lib, ["-f", "--extpass", "exit 3", m.store, other], "--extpass")
    mount_fails(lib, ["-o", "max_import=lots", m.store, other], "max_import")
    r = lib.run([lib.VULTFS, "mount", "--export-password", "hunter2", m.store, other],
                check=False)
    assert r.returncode == 2
    assert not os.path.ismount(other)


def test_max_import_refuses_overflow_and_garbage(lib, tmp_path):
    """A size that wraps when its suffix is applied (17592186044417M is 1M
    modulo 2^64), a sign, spaces or a suffix we do not know: one clear
    line, nothing mounted."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for size in ("17592186044417M", "18446744073709551617", "262145k", "257M", "0", "-1",
                 "+1", " 1", "1Mx", "1MiB", "1k5", "1e3", "0x10", ""):
        line = mount_fails(lib, ["-o", f"max_import={size}", tmp_path / "store", mnt],
                           "max_import")
        assert "256M" in line, line
        assert not os.path.ismount(mnt)


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to act as another user")
def test_allow_other_honours_the_modes(mount_factory, vaults, lib):
    """With -o allow_other, another user reaches the mount but not the
    mounting user's shares: the directories are 0700 and the shares 0600,
    and the kernel applies them (default_permissions)."""
    public = Path(tempfile.mkdtemp(prefix="vultfs-allow-other-"))
    m = mount_factory("o", ["-o", "allow_other"], start=False)
    try:
        public.chmod(0o755)  # the test's own tmp_path is private to root
        intruder = public / "intruder.vult"  # readable by the other user
        shutil.copy(vaults.make(name="Intruder"), intruder)
        intruder.chmod(0o644)
        m.mnt = public / "mnt"
        m.mnt.mkdir(mode=0o755)
        m.start()
        lib.run(["cp", vaults.make(), m.mnt])
        share = m / NAME / "share.vult"
        assert len(share.read_bytes()) > 0  # the owner reads it
        st = os.stat(share)
        assert (st.st_uid, st.st_mode & 0o777) == (0, 0o600)
        # the other user gets as far as the mount, and no further
        r = lib.run(NOBODY + ["stat", "-c", "%u %a", m.mnt], check=False)
        assert (r.returncode, r.stdout.split()) == (0, ["0", "700"]), r.stderr
        for args in (["cat", share], ["ls", m.mnt], ["getfattr", "-d", share],
                     ["cp", intruder, m.mnt]):
            r = lib.run(NOBODY + args, check=False)
            assert r.returncode != 0 and "Permission denied" in r.stderr, (args, r.stdout)
        assert os.listdir(m.mnt) == [NAME]
    finally:
        m.stop()
        shutil.rmtree(public, ignore_errors=True)


def test_extpass_export_options(mount_factory, vaults, lib, tmp_path):
    m = mount_factory("x", start=False)
    export_pw = tmp_path / "export-pw"
    export_pw.write_text("export secret\n")
    m.secret_args = ["--extpass", f"cat '{m.pp}'"]
    m.extra = ["--export-password-file", str(export_pw), "--export-scheme", "legacy"]
    m.start()
    lib.run(["cp", vaults.make(), m.mnt])
    r = lib.run([lib.VULTFS, "inspect", "--password-file", export_pw, m / NAME / "share.vult"])
    assert json.loads(r.stdout)["scheme"] == "legacy"
    # a copy encrypted with the export password imports back (unchanged)
    lib.run(["cp", m / NAME / "share.vult", m / "back.vult"])
    assert m.log_has(r"import of /back\.vult: unchanged")


def test_daemon_mode(mount_factory, vaults, lib, tmp_path):
    """Without -f: the passphrase is read, the store opened, then it goes
    to the background; fusermount3 -u ends it."""
    m = mount_factory("d", start=False)
    r = lib.run([lib.VULTFS, "mount", "--passphrase-file", m.pp, "--log-file", m.log_path,
                 m.store, m.mnt])
    assert r.returncode == 0 and os.path.ismount(m.mnt)
    try:
        lib.run(["cp", vaults.make(), m.mnt])
        assert os.listdir(m.mnt) == [NAME]
        # the store names the daemon (not the parent that exited) as its holder
        r = lib.run([lib.VULTFS, "import", "--passphrase-file", m.pp, m.store,
                     vaults.make()], check=False, stdin=subprocess.DEVNULL)
        assert r.returncode == 1 and "is in use by pid" in r.stderr
        pid = int(r.stderr.split("pid")[1].split()[0])
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
        assert b"mount" in cmdline and str(m.mnt).encode() in cmdline
    finally:
        lib.run(["fusermount3", "-u", m.mnt], check=False)
    assert not os.path.ismount(m.mnt)
    assert m.log_has(r"import of /v1\.vult: new vault")
