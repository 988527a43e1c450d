"""Load: 8 writers and 8 readers through one mount, a few thousand
operations. Every outcome is the one DESIGN's import table gives (the only
errors are the refusals the writers provoke on purpose), every read shows
one of the shares that vault really had, nothing acknowledged is lost after
a remount, and the daemon's memory does not grow with repeated work.
"""
import errno
import json
import os
import random
import threading

PLAIN = ["--export-password", "none"]  # an export is then the imported file
WRITERS = 8
READERS = 8
VAULTS_PER_WRITER = 10
READS_PER_READER = 200
MIB = 1024 * 1024
# RSS growth allowed over a repeat of the same work (nothing new to store):
# a leak of 1 KiB per operation would exceed it.
RSS_GROWTH_BOUND = 3 * MIB


class Vault:
    """One vault's files: gen1 (new vault), gen2 (a reshare by the same
    device), other (another signer's share of gen2: co-location)."""

    def __init__(self, vaults, lib, writer, k):
        self.name = f"Load {writer:02d}-{k:03d}"
        gen1 = vaults.make(name=self.name, ecdsa=lib.ecdsa(1000 * (writer + 1) + k))
        self.gen1 = gen1.read_bytes()
        gen2 = vaults.make(from_=gen1, signers="demo-device-1,demo-device-3", tag="g2")
        self.gen2 = gen2.read_bytes()
        self.other = vaults.make(from_=gen2, device="demo-device-3", tag="o").read_bytes()


def vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class Load:
    def __init__(self, m, lib, vaults_by_name):
        self.m = m
        self.lib = lib
        self.by_name = vaults_by_name
        self.errors = []
        self.lock = threading.Lock()
        self.ops = 0

    def fail(self, what):
        with self.lock:
            self.errors.append(what)

    def count(self, n=1):
        with self.lock:
            self.ops += n

    def write(self, where, data, expect, what):
        got = self.lib.write_close(self.m / where, data)
        self.count()
        if got != expect:
            self.fail(f"{what} of {where}: {got}, expected {expect}")

    def writer(self, mine, first_time):
        # The reshare and the refused shares are written over share.vult,
        # while readers read it (test_concurrent_reads.py has the details).
        for v in mine:
            share = f"{v.name}/share.vult"
            if first_time:
                self.write(f"{v.name}.new.vult", v.gen1, None, "new vault")
                self.write(share, v.gen2, None, "reshare")
            self.write(f"{v.name}.again.vult", v.gen2, None, "same share again")
            self.write(share, v.gen1, ("close", errno.EEXIST), "stale share")
            self.write(share, v.other, ("close", errno.EPERM), "co-location")

    def reader(self, seed):
        rnd = random.Random(seed)
        for _ in range(READS_PER_READER):
            try:
                self.read_one(rnd)
            except OSError as e:
                self.fail(f"reader: {e}")

    def read_one(self, rnd):
        listed = os.listdir(self.m.mnt)
        self.count()
        # a file being written shows under its name until close() imports it
        names = [n for n in listed if n in self.by_name]
        odd = [n for n in listed if n not in self.by_name and not n.endswith(".vult")]
        if odd:
            self.fail(f"the listing shows {odd}, which no writer wrote")
        if not names:
            return
        name = rnd.choice(names)
        v = self.by_name[name]
        d = self.m / name
        share = (d / "share.vult").read_bytes()
        if share not in (v.gen1, v.gen2):
            what = "the refused other device's share" if share == v.other else "no share"
            self.fail(f"{name}/share.vult read {len(share)} bytes, {what} (gen1 {len(v.gen1)},"
                      f" gen2 {len(v.gen2)}, other {len(v.other)} bytes)")
        facts = json.loads((d / "vault.json").read_text())
        if not isinstance(facts, dict):
            self.fail(f"{name}/vault.json is not an object")
        epoch = os.getxattr(d / "share.vult", "user.vult.epoch")
        if epoch not in (b"1", b"2"):
            self.fail(f"{name}/share.vult: epoch {epoch!r}")
        os.listxattr(d)
        self.count(4)

    def run(self, groups, first_time):
        threads = [threading.Thread(target=self.writer, args=(g, first_time)) for g in groups]
        threads += [threading.Thread(target=self.reader, args=(i,)) for i in range(READERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a load thread did not finish within 120 s"
        assert self.errors == [], "\n".join(self.errors[:20])


def test_writers_and_readers(mount_factory, vaults, lib):
    m = mount_factory("load", PLAIN)
    m.expect(r": stale", r": co-location")
    groups = [[Vault(vaults, lib, w, k) for k in range(VAULTS_PER_WRITER)]
              for w in range(WRITERS)]
    by_name = {v.name: v for g in groups for v in g}
    load = Load(m, lib, by_name)

    load.run(groups, first_time=True)
    # once more, so that every allocation a first run makes (caches, arenas
    # of the daemon's threads) is made; then twice the same work is measured
    load.run(groups, first_time=False)
    rss_before = vm_rss(m.proc.pid)
    load.run(groups, first_time=False)
    load.run(groups, first_time=False)
    rss_after = vm_rss(m.proc.pid)
    assert load.ops > 3000, load.ops
    assert rss_after - rss_before <= RSS_GROWTH_BOUND, (rss_before, rss_after, load.ops)

    m.restart()
    assert sorted(os.listdir(m.mnt)) == sorted(by_name)
    for v in by_name.values():
        d = m / v.name
        assert (d / "share.vult").read_bytes() == v.gen2, v.name
        assert os.listdir(d / "history") == ["epoch-1.vult"], v.name
        assert (d / "history" / "epoch-1.vult").read_bytes() == v.gen1, v.name
        assert os.getxattr(d / "share.vult", "user.vult.epoch") == b"2", v.name
