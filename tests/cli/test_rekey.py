"""`vultfs passwd --rekey`: a new passphrase and a new master key, every
record sealed again. An old copy of vultfs.json (with the old passphrase)
then opens nothing; the vaults, their exports' contents and fsck are as
before; and a SIGKILL at any write, fsync, rename or unlink (strace's fault
injection, as in test_crash.py) leaves a store that opens with the old
passphrase or the new one, holding the same vaults.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

from test_store_cli import (VULTFS, assert_ok_one_line, exported, import_ok,  # noqa: F401
                            inspect_json, listing, new_vault, pp, run, store, vultfs,
                            vultfs_opts,
                            write_secret)

EXPORT_FACTS = ("name", "public_key_ecdsa", "signers", "local_party_id", "key_shares")


def rekey(store, old, new, check=True):
    r = run([VULTFS, "passwd", "--rekey", "--passphrase-file", old, "--new-passphrase-file", new,
             store])
    if check:
        assert_ok_one_line(r, "master key changed")
    return r


def vaults_of(store, pp):
    return listing(store, pp)[1]


def fsck_clean(store, pp, unreferenced_allowed=False):
    """fsck finds nothing damaged or missing; an interrupted rekey may leave
    unreferenced records (a finding: fsck exits 1), which the next change
    removes."""
    r = vultfs("fsck", store, pp=pp)
    if unreferenced_allowed and r.returncode == 1:
        assert " 0 damaged, 0 missing," in r.stdout, r.stdout + r.stderr
        return
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 damaged, 0 missing" in r.stdout, r.stdout
    return r.stdout


@pytest.fixture
def two_vaults(store, pp, exported, tmp_path):
    """Export Me (two epochs) and Beta."""
    import_ok(store, pp, new_vault(tmp_path / "b.vult", name="Beta"))
    return store


def export_of(store, pp, vault, out, password):
    r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password-file", password,
             store, vault, out])
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def test_rekey_leaves_an_old_config_copy_nothing_to_open(two_vaults, pp, tmp_path):
    store = two_vaults
    old_config = (store / "vultfs.json").read_bytes()
    old_index = {p.name: p.read_bytes() for p in (store / "vaults").iterdir()}
    old_records = sorted(p.name for p in (store / "shares").glob("*.rec"))
    vaults = vaults_of(store, pp)
    export_pw = write_secret(tmp_path / "export-pw", "export password")
    before = export_of(store, pp, "Export Me", tmp_path / "before.vult", export_pw)

    new = write_secret(tmp_path / "new-pp", "the new passphrase")
    rekey(store, pp, new)

    # the store is whole under the new passphrase; every record is new
    assert vaults_of(store, new) == vaults
    assert "3 records ok, 0 damaged, 0 missing, 0 unreferenced" in fsck_clean(store, new)
    new_records = sorted(p.name for p in (store / "shares").glob("*.rec"))
    assert len(new_records) == 3 and not set(new_records) & set(old_records)
    # exports hold the same share; their bytes change (salt and nonce derive
    # from the master key)
    after = export_of(store, new, "Export Me", tmp_path / "after.vult", export_pw)
    assert after != before
    got, want = inspect_json(tmp_path / "after.vult", export_pw), inspect_json(
        tmp_path / "before.vult", export_pw)
    assert {k: got[k] for k in EXPORT_FACTS} == {k: want[k] for k in EXPORT_FACTS}

    # an old vultfs.json with the old passphrase opens no share: not with
    # today's index, and not with the old index (its records are gone and
    # the new ones are sealed under the new key)
    (store / "vultfs.json").write_bytes(old_config)
    r = vultfs("list", store, pp=pp)
    assert r.returncode == 1 and "index does not verify" in r.stderr, r.stderr
    shutil.rmtree(store / "vaults")
    (store / "vaults").mkdir(mode=0o700)
    for name, data in old_index.items():
        (store / "vaults" / name).write_bytes(data)
    r = vultfs("fsck", store, pp=pp)
    assert "0 records ok, 0 damaged, 3 missing, 3 unreferenced" in r.stdout, r.stdout
    r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password-file", export_pw,
             store, "Export Me", tmp_path / "stolen.vult"])
    assert r.returncode == 1
    assert not (tmp_path / "stolen.vult").exists()


def test_plain_passwd_still_keeps_the_key(two_vaults, pp, tmp_path):
    """Without --rekey the records stay (the documented difference)."""
    records = sorted(p.name for p in (two_vaults / "shares").glob("*.rec"))
    new = write_secret(tmp_path / "new-pp", "the new passphrase")
    r = run([VULTFS, "passwd", "--passphrase-file", pp, "--new-passphrase-file", new, two_vaults])
    assert_ok_one_line(r, "passphrase changed")
    assert sorted(p.name for p in (two_vaults / "shares").glob("*.rec")) == records


def opens_with(store, *pps):
    """The passphrases (of pps) the store opens with."""
    return [p for p in pps if vultfs_opts("list", ["--json"], store, pp=p).returncode == 0]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize("syscall", ["write", "fsync", "renameat", "unlinkat"])
def test_kill_at_every_step_of_a_rekey(two_vaults, pp, tmp_path, syscall, monkeypatch):
    pristine = tmp_path / "pristine"
    shutil.copytree(two_vaults, pristine)
    new = write_secret(tmp_path / "new-pp", "the new passphrase")
    vaults = vaults_of(two_vaults, pp)
    killed = 0
    for n in range(1, 80):
        store = tmp_path / f"s{n}"
        shutil.copytree(pristine, store)
        # each copy is a store of its own, with its own last change seen
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / f"state{n}"))
        res = subprocess.run(
            ["strace", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}",
             "-e", f"inject={syscall}:signal=KILL:when={n}",
             VULTFS, "passwd", "--rekey", "--passphrase-file", str(pp),
             "--new-passphrase-file", str(new), str(store)],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        works = opens_with(store, pp, new)
        assert len(works) == 1, (n, works)  # one passphrase, never neither
        assert vaults_of(store, works[0]) == vaults, n
        fsck_clean(store, works[0], unreferenced_allowed=res.returncode != 0)
        if res.returncode == 0:
            assert works == [new]
            break
        killed += 1
        # running it again finishes the job; what the crash left goes
        rekey(store, works[0], new)
        assert vaults_of(store, new) == vaults
        assert " 0 unreferenced, 0 temporary" in fsck_clean(store, new), n
        shutil.rmtree(store)
    else:
        pytest.fail("the rekey never completed")
    assert killed >= 3  # records, the config twice, the index each had their turn
