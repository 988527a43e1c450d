"""The store's lock holds while a mount runs, whatever happens to the
`lock` file: it is a flock on the store directory itself, and the file
only names the holder's pid. Deleting or replacing the file must not let a
second opener in (it would write an index the mount then overwrites, and an
acknowledged import would be lost).
"""
import os

import pytest


@pytest.mark.parametrize("what", ["deleted", "replaced", "symlinked"])
def test_lock_file_gone_still_locks(mount_factory, vaults, lib, tmp_path, what):
    m = mount_factory("a")
    a = vaults.make(name="Before", ecdsa=lib.ecdsa(1))
    lib.run(["cp", a, m.mnt])

    lock = m.store / "lock"
    assert lock.read_text().strip() == str(m.proc.pid)
    lock.unlink()
    if what == "replaced":
        lock.write_text("999999\n")
    elif what == "symlinked":
        os.symlink(tmp_path / "elsewhere", lock)

    # a second opener is refused: an import from the command line ...
    b = vaults.make(name="Outsider", ecdsa=lib.ecdsa(2))
    r = lib.run([lib.VULTFS, "import", "--passphrase-file", m.pp, m.store, b], check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "in use" in r.stderr, r.stderr
    # ... and a second mount
    second = mount_factory("b", store=m.store, start=False)
    r = lib.run([lib.VULTFS, "mount", "-f", "--passphrase-file", second.pp, m.store, second.mnt],
                check=False)
    assert r.returncode != 0 and "in use" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.ismount(second.mnt)

    # the first mount's imports, before and after, all survive
    c = vaults.make(name="After", ecdsa=lib.ecdsa(3))
    lib.run(["cp", c, m.mnt])
    assert sorted(os.listdir(m.mnt)) == ["After", "Before"]
    m.stop()
    if what == "symlinked":  # a store file that is a link is refused, never followed
        # (a command that changes the store: readers never open the lock)
        r = lib.run([lib.VULTFS, "import", "--passphrase-file", m.pp, m.store, c], check=False)
        assert r.returncode == 1 and "lock is a symbolic link" in r.stderr, r.stderr
        lock.unlink()
    m.start()  # the store, mounted again, holds both
    assert sorted(os.listdir(m.mnt)) == ["After", "Before"]
    assert not (tmp_path / "elsewhere").exists()  # the link was never followed
