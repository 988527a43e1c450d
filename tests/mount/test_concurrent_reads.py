"""Reads of a share.vult that changes meanwhile must show one whole share:
the stored one, before or after, never a mix, never a writer's unchecked
bytes. A backup tool running while someone copies a backup in would
otherwise save a corrupt file under the vault's name.

Found by the load test (test_load.py). An open handle reads its own
snapshot of the export, with direct I/O (one page cache per file would mix
the snapshots of handles opened before and after an import), and a file
being written over shows the stored one until an import is accepted.
"""
import errno
import os
import threading

PLAIN = ["--export-password", "none"]  # an export is then the imported file

def test_share_being_overwritten_reads_the_stored_share(mount_factory, vaults, lib):
    """While share.vult is open for writing (O_TRUNC), readers see the
    stored share (bytes, size and xattrs), and still do after the import is
    refused. (It was 0 bytes after the open, then the writer's bytes, and
    getxattr failed with ENODATA.)"""
    m = mount_factory("a", PLAIN)
    m.expect(r"import of /Held/share\.vult: unreadable")
    gen1 = vaults.make(name="Held", ecdsa=lib.ecdsa(1))
    other = vaults.make(from_=gen1, device="demo-device-2", tag="o")
    lib.run(["cp", gen1, m.mnt])
    share = m / "Held" / "share.vult"
    stored = share.read_bytes()
    fd = os.open(share, os.O_WRONLY | os.O_TRUNC)
    try:
        assert share.read_bytes() == stored
        os.write(fd, other.read_bytes()[:100])
        assert share.read_bytes() == stored
        assert os.stat(share).st_size == len(stored)
        assert os.getxattr(share, "user.vult.epoch") == b"1"
    finally:
        try:
            os.close(fd)
            closed = None
        except OSError as e:
            closed = e.errno
    assert closed == errno.EINVAL  # 100 bytes are not a backup
    assert share.read_bytes() == stored


def test_reads_during_a_reshare_show_one_whole_share(mount_factory, vaults, lib):
    """Readers racing a reshare's import read gen1 or gen2 whole. (It was,
    in about half of the vaults, gen2's size with gen1's bytes, padded with
    zeros or with gen2's last bytes: the inode's page cache mixed the
    handles opened before the import with those opened after.)"""
    m = mount_factory("a", PLAIN)
    mixed = []
    for k in range(20):
        gen1 = vaults.make(name=f"V{k}", ecdsa=lib.ecdsa(k + 1))
        gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
        lib.run(["cp", gen1, m.mnt])
        share = m / f"V{k}" / "share.vult"
        whole = (gen1.read_bytes(), gen2.read_bytes())
        stop = threading.Event()

        def reader():
            while not stop.is_set():
                data = share.read_bytes()
                if data not in whole:
                    mixed.append((k, len(data), len(whole[0]), len(whole[1])))

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            lib.run(["cp", gen2, m.mnt])
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert share.read_bytes() == whole[1]
    assert mixed == []  # (vault, bytes read, gen1 bytes, gen2 bytes)
