"""vultfs check and audit work while the store is mounted: they read the
store without its lock, see what the mount imported, and change nothing."""
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
