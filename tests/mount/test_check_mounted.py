"""The read-only commands work while the store is mounted (issue 9): check,
audit, list, export, fsck and inspect read the store without its lock, see
what the mount imported, and change nothing. Commands that change the store
are still refused while the mount holds it."""
import json
import os

from conftest import VULTFS, run

NAME = "Demo Vault (synthetic)"


def test_check_and_audit_a_mounted_store(m, vaults, lib):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    assert lib.write_close(m / "g1.vult", gen1.read_bytes()) is None
    assert lib.write_close(m / NAME / "share.vult", gen2.read_bytes()) is None
    before = lib.snapshot(m.mnt)

    r = run([VULTFS, "check", "--json", "--passphrase-file", m.pp, m.store, gen1, gen2],
            check=False)
    assert r.returncode == 1, r.stderr
    files = {os.path.basename(f["path"]): f for f in json.loads(r.stdout)["files"]}
    assert files[gen1.name]["status"] == "stale"
    assert files[gen1.name]["superseded_by"] == 2
    assert files[gen2.name]["status"] == "current"

    other = vaults.make(from_=gen2, device="demo-device-3", tag="c")
    r = run([VULTFS, "audit", "--json", "--passphrase-file", m.pp, m.store, other], check=False)
    assert r.returncode == 1, r.stderr
    found = json.loads(r.stdout)["findings"]
    assert [f["can_sign"] for f in found] == [True]  # 2 of 3: the store and the file
    assert lib.snapshot(m.mnt) == before
    assert os.path.ismount(m.mnt)


def test_list_export_fsck_inspect_a_mounted_store(m, vaults, lib, tmp_path):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    assert lib.write_close(m / "g1.vult", gen1.read_bytes()) is None
    assert lib.write_close(m / NAME / "share.vult", gen2.read_bytes()) is None
    before = lib.snapshot(m.mnt)
    store_files = sorted(p.name for p in m.store.rglob("*"))

    r = run([VULTFS, "list", "--json", "--passphrase-file", m.pp, m.store], check=False)
    assert r.returncode == 0, r.stderr
    [vault] = json.loads(r.stdout)
    assert [(e["epoch"], e["current"]) for e in vault["epochs"]] == [(1, False), (2, True)]

    out = tmp_path / "out.vult"
    r = run([VULTFS, "export", "--passphrase-file", m.pp, m.store, NAME, out], check=False)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == (m / NAME / "share.vult").read_bytes()  # the mount's own bytes
    zipped = tmp_path / "all.zip"
    r = run([VULTFS, "export", "--zip", "--passphrase-file", m.pp, m.store, zipped], check=False)
    assert r.returncode == 0 and zipped.exists(), r.stderr

    r = run([VULTFS, "fsck", "--passphrase-file", m.pp, m.store], check=False)
    assert r.returncode == 0 and "2 records ok" in r.stdout, (r.stdout, r.stderr)
    r = run([VULTFS, "inspect", "--password-file", m.pp, m / NAME / "share.vult"], check=False)
    assert r.returncode == 0 and json.loads(r.stdout)["name"] == NAME, r.stderr

    # what changes the store still waits for the lock
    r = run([VULTFS, "import", "--passphrase-file", m.pp, m.store, gen2], check=False)
    assert r.returncode == 1 and "in use by pid" in r.stderr
    assert lib.snapshot(m.mnt) == before
    assert sorted(p.name for p in m.store.rglob("*")) == store_files
