"""Issue 7's import rules through the mount: one device's line (item 1),
history slots (item 4) and the repair of a damaged record (item 10)."""
import errno
import os

import pytest

from test_import import NAME, needs_fixtures, refused

BAD_SLOTS = ["epoch-4294967295.vult", "epoch-2147483647.vult", "epoch-0.vult", "epoch-01.vult",
             "epoch-+5.vult", "epoch-1000001.vult", "epoch-18446744073709551616.vult",
             "epoch-99999999999999999999999999.vult"]


# ---- item 1: one device's line -----------------------------------------------------

@needs_fixtures
def test_relabelled_other_device_is_colocation(m, vaults, lib):
    part1 = lib.fixture("Test-part1of2.vult")
    bypass = vaults.make(from_=lib.fixture("Test-part2of2.vult"),
                         signers="Pixel 5a-a9b,iPhone-EC4,x")
    assert lib.write_close(m / "part1.vult", part1.read_bytes()) is None
    (directory,) = os.listdir(m.mnt)
    refused(m, lib, bypass.read_bytes(), "bypass.vult", errno.EPERM,
            r"import of /bypass\.vult: co-location")
    refused(m, lib, bypass.read_bytes(), f"{directory}/share.vult", errno.EPERM,
            r"/share\.vult: co-location")
    assert os.listdir(m / directory / "history") == []
    assert os.getxattr(m / directory / "share.vult", "user.vult.device") == b"Pixel 5a-a9b"


def test_relabelled_other_device_is_colocation_synthetic(m, vaults, lib):
    mine = vaults.make()
    theirs = vaults.make(from_=mine, device="demo-device-2", tag="theirs")
    bypass = vaults.make(from_=theirs, signers="demo-device-1,demo-device-2,x")
    altered = vaults.make(from_=mine, signers="demo-device-1,demo-device-3")
    assert lib.write_close(m / "mine.vult", mine.read_bytes()) is None
    refused(m, lib, bypass.read_bytes(), "bypass.vult", errno.EPERM,
            r"import of /bypass\.vult: co-location")
    refused(m, lib, bypass.read_bytes(), f"{NAME}/share.vult", errno.EPERM,
            r"/share\.vult: co-location")
    refused(m, lib, altered.read_bytes(), f"{NAME}/share.vult", errno.EEXIST,
            r"/share\.vult: conflict")
    refused(m, lib, bypass.read_bytes(), f"{NAME}/history/epoch-2.vult", errno.EPERM,
            r"/history/epoch-2\.vult: co-location")
    assert os.getxattr(m / NAME / "share.vult", "user.vult.device") == b"demo-device-1"


# ---- item 4: history slots are 1..1,000,000 --------------------------------------------

@pytest.mark.parametrize("name", BAD_SLOTS)
def test_bad_history_slot_is_refused(m, vaults, lib, tmp_path, name):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    assert lib.write_close(m / "gen2.vult", gen2.read_bytes()) is None
    before = lib.snapshot(m.mnt)
    target = m / NAME / "history" / name
    # never stored as another number: the create itself is refused
    assert lib.write_close(target, gen1.read_bytes()) == ("open", errno.EINVAL)
    with pytest.raises(FileNotFoundError):
        os.stat(target)
    assert lib.snapshot(m.mnt) == before
    with open(m / NAME / "vault.json") as f:
        assert '"epoch": 1,' in f.read()
    # a copy of the whole mount still works
    lib.run(["cp", "-a", m.mnt, tmp_path / "copy"])
    assert sorted(os.listdir(tmp_path / "copy" / NAME)) == ["history", "share.vult", "vault.json"]
    assert os.listdir(tmp_path / "copy" / NAME / "history") == []


def test_highest_history_slot(m, vaults, lib, tmp_path):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    assert lib.write_close(m / "gen2.vult", gen2.read_bytes()) is None
    assert lib.write_close(m / NAME / "history" / "epoch-1000000.vult",
                           gen1.read_bytes()) is None
    assert os.listdir(m / NAME / "history") == ["epoch-1000000.vult"]
    assert os.getxattr(m / NAME / "history" / "epoch-1000000.vult",
                       "user.vult.epoch") == b"1000000"
    assert os.getxattr(m / NAME / "share.vult", "user.vult.epoch") == b"1000001"
    with open(m / NAME / "vault.json") as f:
        text = f.read()
    assert '"current_epoch": 1000001' in text and "history/epoch-1000000.vult" in text
    lib.run(["cp", "-a", m.mnt, tmp_path / "copy"])
    assert os.listdir(tmp_path / "copy" / NAME / "history") == ["epoch-1000000.vult"]
    # and the same after a remount
    m.restart()
    assert os.getxattr(m / NAME / "share.vult", "user.vult.epoch") == b"1000001"


# ---- item 10: a damaged record ------------------------------------------------------------

def test_damaged_record_logs_fsck_and_reimport_repairs(m, vaults, lib):
    gen1 = vaults.make()
    gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
    assert lib.write_close(m / "gen1.vult", gen1.read_bytes()) is None
    assert lib.write_close(m / NAME / "share.vult", gen2.read_bytes()) is None
    good = {p: (m / NAME / p).read_bytes() for p in ("share.vult", "history/epoch-1.vult")}
    m.stop()
    for record in (m.store / "shares").iterdir():
        data = bytearray(record.read_bytes())
        data[len(data) // 2] ^= 0x01
        record.write_bytes(bytes(data))
    m.start()
    m.expect(r"reading /Demo Vault \(synthetic\)/(share|history/epoch-1)\.vult: the record of "
             r"vault 'Demo Vault \(synthetic\)' is damaged .*run vultfs fsck")
    for p in good:
        with pytest.raises(OSError) as e:
            (m / NAME / p).read_bytes()
        assert e.value.errno in (errno.EIO, errno.EBADMSG)
    # one line per failed read (the log file; stderr has the same lines)
    log = m.log_path.read_text().splitlines()
    assert len([line for line in log if "run vultfs fsck" in line]) == 2

    # a good copy of each share, written where it belongs, rewrites its record
    assert lib.write_close(m / NAME / "share.vult", gen2.read_bytes()) is None
    assert lib.write_close(m / NAME / "history" / "epoch-1.vult", gen1.read_bytes()) is None
    assert m.log_has(r"/share\.vult: unchanged: .*rewritten")
    assert m.log_has(r"/history/epoch-1\.vult: unchanged: .*rewritten")
    for p, data in good.items():
        assert (m / NAME / p).read_bytes() == data
    m.stop()
    r = lib.run([lib.VULTFS, "fsck", "--passphrase-file", m.pp, m.store])
    assert "2 records ok, 0 damaged, 0 missing, 0 unreferenced" in r.stdout
