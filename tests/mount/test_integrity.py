"""What the mount does with a store whose files were damaged or rolled back
(issue 20): a damaged export-stamp.rec is reported by fsck and written
again by the next mount, which says so in its log (finding 3); a vault
record deleted, or a whole store restored from an older copy, is refused
at mount with a message that says what to do, and nothing is destroyed.
"""
import os
import shutil
import subprocess
from pathlib import Path

from conftest import TIMEOUT, VULTFS, ecdsa, run


def fsck(m):
    return run([VULTFS, "fsck", "--passphrase-file", m.pp, m.store], check=False)


def refused_mount(m, *extra):
    """`vultfs mount -f` that must fail: its exit status and stderr."""
    r = subprocess.run([VULTFS, "mount", "-f", "--passphrase-file", str(m.pp), *extra,
                        str(m.store), str(m.mnt)], capture_output=True, text=True,
                       timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert not os.path.ismount(m.mnt)
    return r


def test_a_damaged_export_stamp_is_reported_and_its_rewrite_logged(mount_factory, vaults):
    m = mount_factory("a")
    src = vaults.make(name="Stamped", ecdsa=ecdsa(20))
    run(["cp", src, m.mnt])
    shown = os.stat(m / "Stamped" / "share.vult")
    m.stop()
    stamp = m.store / "export-stamp.rec"
    data = bytearray(stamp.read_bytes())
    data[50] ^= 0x01
    stamp.write_bytes(bytes(data))
    r = fsck(m)
    assert r.returncode == 1, r.stdout
    assert "export-stamp.rec is not the one last written" in r.stdout, r.stdout
    m.expect(r"export-stamp\.rec was damaged")
    m.start()
    assert m.log_has(r"export-stamp\.rec was damaged.*written again")
    # every export shows as changed once, as the log says
    assert os.stat(m / "Stamped" / "share.vult").st_mtime_ns > shown.st_mtime_ns
    m.stop()
    r = fsck(m)
    assert r.returncode == 0, r.stdout


def test_a_store_restored_from_an_older_copy_is_refused_at_mount(mount_factory, vaults,
                                                                 tmp_path):
    m = mount_factory("a")
    run(["cp", vaults.make(name="Early", ecdsa=ecdsa(21)), m.mnt])
    m.stop()
    older = tmp_path / "older"
    shutil.copytree(m.store, older)
    m.start()
    run(["cp", vaults.make(name="Late", ecdsa=ecdsa(22)), m.mnt])
    m.stop()
    shutil.rmtree(m.store)
    shutil.copytree(older, m.store)
    r = refused_mount(m)
    assert r.returncode == 1, (r.stdout, r.stderr)
    (line,) = r.stderr.splitlines()
    assert "older than the one last seen here" in line and "-o accept_rollback" in line, line
    m.extra = ["-o", "accept_rollback"]
    m.start()
    assert sorted(os.listdir(m.mnt)) == ["Early"]


def test_a_deleted_vault_record_is_refused_at_mount_until_repaired(mount_factory, vaults):
    m = mount_factory("a")
    run(["cp", vaults.make(name="One", ecdsa=ecdsa(23)), m.mnt])
    before = set((m.store / "vaults").glob("*.rec"))
    run(["cp", vaults.make(name="Two", ecdsa=ecdsa(24)), m.mnt])
    m.stop()
    (two,) = set((m.store / "vaults").glob("*.rec")) - before
    shares = sorted(p.name for p in (m.store / "shares").iterdir())
    two.unlink()
    r = refused_mount(m)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "vultfs fsck" in r.stderr and two.name in r.stderr, r.stderr
    assert sorted(p.name for p in (m.store / "shares").iterdir()) == shares
    r = run([VULTFS, "fsck", "--repair", "--passphrase-file", m.pp, m.store])
    assert "rebuilt from the manifest" in r.stdout, r.stdout
    m.start()
    assert sorted(os.listdir(m.mnt)) == ["One", "Two"]
    assert Path(m / "Two" / "share.vult").read_bytes()
