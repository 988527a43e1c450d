"""The read-only commands work on a store on read-only media (issue 9):
list, export (one vault and --zip), fsck, check, audit and inspect read a
store through a read-only bind mount; import says why it cannot. Needs root
and mount(8); skipped otherwise.

Environment: VULTFS_BIN, VULTFS_MKVAULT.
"""
import json
import os
import subprocess

import pytest

from test_store_cli import VULTFS, import_ok, mkvault, new_vault, pp, run, snapshot, store


@pytest.fixture
def readonly(tmp_path, store):
    """The store, seen through a read-only bind mount."""
    if os.geteuid() != 0:
        pytest.skip("a bind mount needs root")
    ro = tmp_path / "ro"
    ro.mkdir()
    r = subprocess.run(["mount", "--bind", "-o", "ro", str(store), str(ro)],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot bind mount: {r.stderr.decode().strip()}")
    try:
        # older mount(8) ignores ro on the first call of a bind mount
        subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True,
                       timeout=30, check=True)
        yield ro
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True, timeout=30)


def test_read_only_commands_on_read_only_media(tmp_path, store, pp, readonly):
    old = new_vault(tmp_path / "old.vult", "--name", "Media", "--device", "a", "--signers", "a,b")
    new = mkvault(tmp_path / "new.vult", "--from", old, "--signers", "a,b,c", "--tag", "2")
    import_ok(store, pp, old, new)
    with pytest.raises(OSError):
        (readonly / "probe").write_text("the bind mount must be read-only")
    before = snapshot(store, with_lock=True)

    r = run([VULTFS, "list", "--json", "--passphrase-file", pp, readonly])
    assert r.returncode == 0, r.stderr
    assert [len(v["epochs"]) for v in json.loads(r.stdout)] == [2]
    out = tmp_path / "out.vult"
    r = run([VULTFS, "export", "--passphrase-file", pp, "--epoch", "1", readonly, "Media", out])
    assert r.returncode == 0, r.stderr
    r = run([VULTFS, "inspect", "--password-file", pp, out])
    assert r.returncode == 0 and json.loads(r.stdout)["signers"] == ["a", "b"], r.stderr
    r = run([VULTFS, "export", "--zip", "--passphrase-file", pp, readonly, tmp_path / "all.zip"])
    assert r.returncode == 0, r.stderr
    r = run([VULTFS, "fsck", "--passphrase-file", pp, readonly])
    assert r.returncode == 0 and "2 records ok" in r.stdout, r.stderr
    r = run([VULTFS, "check", "--json", "--passphrase-file", pp, readonly, old, new])
    assert r.returncode == 1, r.stderr  # old is stale
    assert [f["status"] for f in json.loads(r.stdout)["files"]] == ["stale", "current"]
    r = run([VULTFS, "audit", "--json", "--passphrase-file", pp, readonly])
    assert r.returncode == 0 and json.loads(r.stdout)["shares_read"] == 2, r.stdout

    r = run([VULTFS, "import", "--passphrase-file", pp, readonly, new])
    assert r.returncode == 1 and "Read-only file system" in r.stderr, r.stderr
    assert snapshot(store, with_lock=True) == before
