"""2024 .dat backups copied into the mount: each of the four forms becomes
a vault whose share.vult is a current .vult (encrypted with the export
password) with the facts of the .dat; a damaged one is refused at close()
and changes nothing. The files come from tests/tools/mkdat.js (node).
"""
import errno
import json
import shutil
import subprocess
from pathlib import Path

import pytest

MKDAT = Path(__file__).resolve().parents[1] / "tools" / "mkdat.js"
NAME = "Old Vault 2024"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def mkdat(form, password):
    r = subprocess.run(["node", MKDAT, form, password], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("form", ["plain-wrapped", "plain-bare", "ios", "android"])
def test_dat_copied_in_becomes_a_vault(m, lib, tmp_path, form):
    src = tmp_path / f"vultisig-{NAME}-2024-04-1of2-5a5a-iPhone-1A2.dat"
    src.write_bytes(mkdat(form, lib.PASSPHRASE))  # the mount tries its passphrase
    lib.run(["cp", src, m.mnt])
    assert sorted(p.name for p in m.mnt.iterdir()) == [NAME]
    share = m / NAME / "share.vult"
    assert lib.xattrs(share)["user.vult.created_at"] == b"2024-04-16T22:40:00.5Z"
    assert lib.xattrs(share)["user.vult.lib_type"] == b"GG20"
    assert m.log_has(r"new vault")

    out = tmp_path / "export.vult"
    shutil.copyfile(share, out)
    r = lib.run([lib.VULTFS, "inspect", "--password-file", m.pp, out])
    facts = json.loads(r.stdout)
    assert facts["scheme"] == "current" and facts["name"] == NAME
    assert facts["local_party_id"] == "iPhone-1A2" and facts["complete"] is True
    assert "FAKEKEYSHARE" not in r.stdout


def test_damaged_dat_is_refused_at_close(m, lib):
    m.expect(r"import of /bad\.dat: (unreadable|wrong password)")
    before = lib.snapshot(m.mnt)
    good = mkdat("android", lib.PASSPHRASE)
    assert lib.write_close(m / "bad.dat", good[:-3]) == ("close", errno.EINVAL)
    wrong = mkdat("ios", "not the passphrase")
    assert lib.write_close(m / "bad.dat", wrong) == ("close", errno.EACCES)
    assert lib.snapshot(m.mnt) == before
