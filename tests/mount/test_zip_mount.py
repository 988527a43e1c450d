"""The apps' multi-vault .zip copied into the mount root: every entry is
imported under the usual rules; close() succeeds when each was stored or
unchanged, else it returns the first refusal's errno; one log line per
entry."""
import errno
import io
import os
import zipfile


def zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_into_the_root_imports_every_vault(m, vaults, lib):
    a = vaults.make(name="Zip A", ecdsa="02" + "a1" * 32).read_bytes()
    b = vaults.make(name="Zip B", ecdsa="02" + "b2" * 32).read_bytes()
    data = zip_bytes([("Zip A-a1a1-share1of2.vult", a), ("Zip B-b2b2-share1of2.vult", b),
                      ("__MACOSX/._Zip A-a1a1-share1of2.vult", b"junk")])
    assert lib.write_close(m / "vultisig_backups_1700000000.zip", data) is None
    assert sorted(os.listdir(m.mnt)) == ["Zip A", "Zip B"]
    assert m.log_has(r"import of /vultisig_backups_1700000000\.zip: Zip A-a1a1-share1of2\.vult: "
                     r"new vault")
    assert m.log_has(r"__MACOSX/\._Zip A-a1a1-share1of2\.vult: skipped")
    # the same zip again: every entry unchanged, close succeeds
    assert lib.write_close(m / "again.zip", data) is None


def test_zip_with_a_refused_entry_fails_close_with_its_errno(m, vaults, lib):
    mine = vaults.make(name="Zip C", ecdsa="02" + "c3" * 32)
    other = vaults.make(from_=mine, device="demo-device-2").read_bytes()
    fresh = vaults.make(name="Zip D", ecdsa="02" + "d4" * 32).read_bytes()
    assert lib.write_close(m / "mine.vult", mine.read_bytes()) is None
    m.expect(r"other\.vult: refused, co-location", r"not every entry was imported")
    data = zip_bytes([("other.vult", other), ("fresh.vult", fresh)])
    assert lib.write_close(m / "mixed.zip", data) == ("close", errno.EPERM)
    assert sorted(os.listdir(m.mnt)) == ["Zip C", "Zip D"]  # the good entry was stored


def test_two_devices_of_one_vault_in_one_zip(m, vaults, lib):
    """Two devices' shares of one vault in one zip: the first is kept, the
    second refused (co-location, EPERM) on what is on disk, never both."""
    first = vaults.make(name="Zip F", ecdsa="02" + "f6" * 32,
                        signers="demo-device-1,demo-device-2")
    second = vaults.make(from_=first, device="demo-device-2", tag="d2").read_bytes()
    fresh = vaults.make(name="Zip G", ecdsa="02" + "a7" * 32).read_bytes()
    m.expect(r"two\.vult: refused, co-location", r"not every entry was imported")
    data = zip_bytes([("one.vult", first.read_bytes()), ("two.vult", second),
                      ("fresh.vult", fresh)])
    assert lib.write_close(m / "both.zip", data) == ("close", errno.EPERM)
    assert sorted(os.listdir(m.mnt)) == ["Zip F", "Zip G"]
    assert os.getxattr(m / "Zip F", "user.vult.device") == b"demo-device-1"


def test_a_zip_larger_than_the_import_cap_can_be_copied_in(m, vaults, lib, tmp_path):
    """A backup zip may hold several KEYIMPORT vaults; a .vult is capped at
    max_import (32 MiB by default). A zip in the root gets the zip's cap
    (97 MiB), so cp of a 3 MiB zip works, and one larger than any backup
    zip can be is refused."""
    import shutil
    a = vaults.make(name="Zip E", ecdsa="02" + "e5" * 32).read_bytes()
    big = tmp_path / "vaults_backup_2026-01-02_030405.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as z:
        z.writestr("Zip E-e5e5-share1of2.vult", a)
        z.writestr("photo.jpg", os.urandom(3 << 20))  # not a backup: skipped
    assert big.stat().st_size > 3 << 20
    shutil.copyfile(big, m / big.name)
    assert os.listdir(m.mnt) == ["Zip E"]
    assert m.log_has(r"photo\.jpg: skipped")

    m.expect(r"too large: larger than the import limit")
    huge = tmp_path / "huge.zip"
    with zipfile.ZipFile(huge, "w", zipfile.ZIP_STORED) as z:
        z.writestr("huge.vult", os.urandom(98 << 20))
    with open(huge, "rb") as f:
        assert lib.write_close(m / "huge.zip", f.read()) == ("write", errno.EFBIG)
    assert os.listdir(m.mnt) == ["Zip E"]
    # and a .vult stays held to the import cap
    assert lib.write_close(m / "big.vult", b"x" * (33 << 20)) == ("write", errno.EFBIG)
