"""Every kind of store file flipped, truncated, swapped, deleted and rolled
back (issue 20): vultfs.json, vaults/*.rec, the manifest, shares/*.rec,
export-stamp.rec and the state file outside the store. fsck sees each (exit
1, a line naming what is wrong), a mount that would decide on it is
refused (or, for the export stamp, writes it again and says so), and no
command destroys a share record on the way.

The two exceptions are by design and checked as such: a deleted or older
state file only makes the rollback check start again from the store as it
is (the store itself is whole), as CryFS's local state does.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import MKVAULT, PASSPHRASE, TIMEOUT, VULTFS, ecdsa, run

OTHER_PASSPHRASE = "another store, another passphrase"


def vultfs(args, env, check=False):
    return subprocess.run([VULTFS, *[str(a) for a in args]], capture_output=True, text=True,
                          timeout=TIMEOUT, env=env, stdin=subprocess.DEVNULL)


def mounted(store, mnt, pp, env, *extra, then=None):
    """Mounts store in the foreground, runs then(mnt), unmounts."""
    proc = subprocess.Popen([VULTFS, "mount", "-f", "--passphrase-file", pp, *extra, store, mnt],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for _ in range(200):
            if os.path.ismount(mnt) or proc.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
        if os.path.ismount(mnt) and then:
            then(Path(mnt))
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True, timeout=TIMEOUT)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            subprocess.run(["fusermount3", "-uz", str(mnt)], capture_output=True)
            proc.kill()
            out, _ = proc.communicate(timeout=15)
    return proc.returncode, out


def make_vault(where, name, *args):
    run([MKVAULT, *args, where / name])
    return where / name


class Template:
    """A store made through mounts (so that it has an export stamp), with
    a copy of each of its files as they were before its last changes, and
    another store to swap files with."""

    def __init__(self, base):
        self.base = base
        self.pp = base / "pp"
        self.pp.write_text(PASSPHRASE + "\n")
        self.other_pp = base / "other-pp"
        self.other_pp.write_text(OTHER_PASSPHRASE + "\n")
        self.store, self.state = base / "store", base / "state"
        self.state.mkdir()
        self.env = dict(os.environ, XDG_STATE_HOME=str(self.state))
        mnt = base / "mnt"
        mnt.mkdir()
        src = base / "in"
        src.mkdir()
        a1 = make_vault(src, "a1.vult", "--name", "Alpha", "--ecdsa", ecdsa(31),
                        "--device", "d1", "--signers", "d1,d2")
        a2 = make_vault(src, "a2.vult", "--from", a1, "--signers", "d1,d3", "--tag", "2")
        b1 = make_vault(src, "b1.vult", "--name", "Beta", "--ecdsa", ecdsa(32))
        run([VULTFS, "init", "--cost", "min", "--passphrase-file", self.pp, self.store],
            env=self.env)
        status, out = mounted(self.store, mnt, self.pp, self.env,
                              then=lambda m: run(["cp", a1, m]))
        assert status == 0, out
        self.early = base / "early"
        shutil.copytree(self.store, self.early)
        shutil.copytree(self.state, base / "early-state")
        # other export settings (a new stamp), a reshare and a new vault
        status, out = mounted(self.store, mnt, self.pp, self.env, "--export-password", "none",
                              then=lambda m: (run(["cp", a2, m / "Alpha" / "share.vult"]),
                                              run(["cp", b1, m])))
        assert status == 0, out
        self.other = base / "other"
        other_env = dict(self.env, XDG_STATE_HOME=str(base / "other-state"))
        run([VULTFS, "init", "--cost", "min", "--passphrase-file", self.other_pp, self.other])
        status, out = mounted(self.other, mnt, self.other_pp, other_env,
                              then=lambda m: run(["cp", make_vault(src, "c.vult", "--name",
                                                                   "Gamma", "--ecdsa",
                                                                   ecdsa(33)), m]))
        assert status == 0, out
        r = vultfs(["fsck", "--passphrase-file", self.pp, self.store], self.env)
        assert r.returncode == 0, r.stdout


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    if not (os.path.exists("/dev/fuse") and shutil.which("fusermount3")):
        pytest.skip("no /dev/fuse or fusermount3")
    return Template(tmp_path_factory.mktemp("tamper"))


class Case:
    def __init__(self, template, base):
        self.t = template
        self.store = base / "store"
        self.state = base / "state"
        self.mnt = base / "mnt"
        self.mnt.mkdir()
        shutil.copytree(template.store, self.store)
        shutil.copytree(template.state, self.state)
        self.env = dict(os.environ, XDG_STATE_HOME=str(self.state))

    def files(self, pattern):
        return sorted(self.store.glob(pattern))

    def state_file(self):
        (f,) = (self.state / "vultfs").iterdir()
        return f

    def shares(self):
        return {p.name: p.read_bytes() for p in (self.store / "shares").iterdir()}


# ---- what is done to a file ---------------------------------------------------------------

def flip(path, at=None):
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def swap(a, b):
    tmp = a.with_name(a.name + ".swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


def early(case, rel):
    return case.t.early / rel


def tamper_config(case, how):
    config = case.store / "vultfs.json"
    if how == "flip":
        text = config.read_text().replace('"memlimit": 8192', '"memlimit": 8193')
        config.write_text(text)
    elif how == "truncate":
        truncate(config)
    elif how == "swap":
        shutil.copy(case.t.other / "vultfs.json", config)
    elif how == "delete":
        config.unlink()
    elif how == "rollback":
        # the vultfs.json of before a rekey: its master key opens nothing
        new_pp = case.store.parent / "new-pp"
        new_pp.write_text("the passphrase after the rekey\n")
        kept = config.read_bytes()
        r = vultfs(["passwd", "--rekey", "--passphrase-file", case.t.pp,
                    "--new-passphrase-file", new_pp, case.store], case.env)
        assert r.returncode == 0, r.stderr
        config.write_bytes(kept)


def tamper_vault_record(case, how):
    records = case.files("vaults/*.rec")
    if how == "flip":
        flip(records[0])
    elif how == "truncate":
        truncate(records[0])
    elif how == "swap":
        swap(records[0], records[1])
    elif how == "delete":
        records[0].unlink()
    elif how == "rollback":
        # Alpha's record as it was before its reshare
        (older,) = sorted(early(case, "vaults").glob("*.rec"))
        shutil.copy(older, case.store / "vaults" / older.name)


def tamper_manifest(case, how):
    manifest = case.store / "vaults" / "manifest"
    if how == "flip":
        flip(manifest, at=60)  # inside the snapshot
    elif how == "truncate":
        truncate(manifest)
    elif how == "swap":
        shutil.copy(case.t.other / "vaults" / "manifest", manifest)
    elif how == "delete":
        manifest.unlink()
    elif how == "rollback":
        shutil.copy(early(case, "vaults/manifest"), manifest)


def tamper_share_record(case, how):
    records = case.files("shares/*.rec")
    if how == "flip":
        flip(records[0])
    elif how == "truncate":
        truncate(records[0])
    elif how == "swap":
        swap(records[0], records[1])
    elif how == "delete":
        records[0].unlink()
    elif how == "rollback":
        # shares/ as it was: the records made since are gone
        shutil.rmtree(case.store / "shares")
        shutil.copytree(early(case, "shares"), case.store / "shares")


def tamper_stamp(case, how):
    stamp = case.store / "export-stamp.rec"
    if how == "flip":
        flip(stamp, at=50)
    elif how == "truncate":
        truncate(stamp)
    elif how == "swap":
        shutil.copy(case.t.other / "export-stamp.rec", stamp)
    elif how == "delete":
        stamp.unlink()
    elif how == "rollback":
        shutil.copy(early(case, "export-stamp.rec"), stamp)  # of the earlier settings


def tamper_state(case, how):
    state = case.state_file()
    if how == "flip":
        data = bytearray(state.read_bytes())
        data[11] ^= 0x01  # a digit of the change number
        state.write_bytes(bytes(data))
    elif how == "truncate":
        truncate(state)
    elif how == "swap":
        text = json.loads(state.read_text())
        text["store"] = "0" * 32  # another store's file under this one's name
        state.write_text(json.dumps(text))
    elif how == "delete":
        state.unlink()
    elif how == "rollback":
        (older,) = (case.t.base / "early-state" / "vultfs").iterdir()
        shutil.copy(older, state)


# what fsck must say (a regular expression) for each file and tampering
EXPECTED = {
    "vultfs.json": (tamper_config, {
        "flip": r"vultfs\.json is damaged", "truncate": r"vultfs\.json is damaged",
        "swap": r"wrong passphrase", "delete": r"no store at",
        "rollback": r"index does not verify"}),
    "vault record": (tamper_vault_record, {
        "flip": r"vault record vaults/\w+\.rec is damaged",
        "truncate": r"vault record vaults/\w+\.rec is damaged",
        "swap": r"vault record vaults/\w+\.rec is damaged",
        "delete": r"vault record vaults/\w+\.rec is missing",
        "rollback": r"vault record vaults/\w+\.rec is an older copy"}),
    "manifest": (tamper_manifest, {
        "flip": r"vaults/manifest is damaged", "truncate": r"not in the manifest|is not the one",
        "swap": r"vaults/manifest is damaged", "delete": r"vaults/manifest is missing",
        "rollback": r"is not in the manifest|older copy|is not the one"}),
    "share record": (tamper_share_record, {
        "flip": r"share record \w+\.rec: (checksum mismatch|does not verify)",
        "truncate": r"share record \w+\.rec: (checksum mismatch|does not verify)",
        "swap": r"share record \w+\.rec: does not verify",
        "delete": r"missing share record", "rollback": r"missing share record"}),
    "export stamp": (tamper_stamp, {
        "flip": r"export-stamp\.rec is not the one last written",
        "truncate": r"export-stamp\.rec is not the one last written",
        "swap": r"export-stamp\.rec is not the one last written",
        "delete": r"export-stamp\.rec is missing",
        "rollback": r"export-stamp\.rec is not the one last written"}),
    "state file": (tamper_state, {
        "flip": r"state file .* is damaged", "truncate": r"state file .* is damaged",
        "swap": r"state file .* is damaged", "delete": None, "rollback": None}),
}

# a mount on it is refused; the export stamp is written again; a share
# record is reported when read, and its vault is served meanwhile
MOUNT_REFUSED = {"vultfs.json", "vault record", "manifest", "state file"}


@pytest.mark.parametrize("how", ["flip", "truncate", "swap", "delete", "rollback"])
@pytest.mark.parametrize("what", sorted(EXPECTED))
def test_tampering_is_seen_and_destroys_nothing(template, tmp_path, what, how):
    case = Case(template, tmp_path)
    tamper, expected = EXPECTED[what]
    shares = case.shares()
    tamper(case, how)
    tampered = case.shares()  # what is left to keep (the tampered file itself included)
    pp = template.pp
    r = vultfs(["fsck", "--passphrase-file", pp, case.store], case.env)
    if expected[how] is None:
        # by design: the state file only remembers; without it (or with an
        # older one) the check starts again from the store as it is
        assert r.returncode == 0, r.stdout + r.stderr
        r = vultfs(["import", "--passphrase-file", pp, case.store,
                    make_vault(tmp_path, "n.vult", "--name", "New", "--ecdsa", ecdsa(34))],
                   case.env)
        assert r.returncode == 0, r.stderr
        assert set(shares) < set(case.shares())
        return
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert re.search(expected[how], out), (expected[how], out)
    # reading and trying to write destroy nothing
    vultfs(["list", "--passphrase-file", pp, case.store], case.env)
    vultfs(["import", "--passphrase-file", pp, case.store,
            make_vault(tmp_path, "n.vult", "--name", "New", "--ecdsa", ecdsa(34))], case.env)
    if what in MOUNT_REFUSED:
        status, log = mounted(case.store, case.mnt, pp, case.env)
        assert status != 0, log
        assert re.search(r"error: .*(vultfs fsck|damaged|passphrase|no store|older than|"
                         r"state file|does not verify)", log), log
    elif what == "export stamp":
        status, log = mounted(case.store, case.mnt, pp, case.env, "--log-file",
                              tmp_path / "log")
        assert status == 0, log
        assert "export-stamp.rec was damaged, missing or not the one last written" in \
            (tmp_path / "log").read_text()
    assert set(tampered) <= set(case.shares()), "a share record went"
    for name, data in tampered.items():
        assert case.shares()[name] == data, f"{name} changed"
