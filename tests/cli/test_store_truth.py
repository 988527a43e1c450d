"""Share records are the truth (issue 20, finding 1): a vault record that
is deleted, or an older copy of one restored, must never lead to a share
record being deleted. fsck names the vault whose record is missing or
older than its shares, and exits 1; a change is refused until
`vultfs fsck --repair` rebuilds the record from the share records, losing
nothing. A whole store restored from an older copy is seen through the
state file outside it, and refused until --accept-rollback.

Each test fails on the code before issue 20: there the next import of any
vault deleted the orphaned vault's share record, and fsck called it
"left by an interrupted import".

Environment: VULTFS_BIN, VULTFS_MKVAULT (see test_store_cli.py).
"""
import json
import os
import shutil
from pathlib import Path

import pytest

from test_golden import copy_store
from test_store_cli import (VULTFS, assert_one_error_line, dirs, import_ok, mkvault,  # noqa: F401
                            new_vault, pp, run, share_files, snapshot, store, vultfs,
                            vultfs_opts)


def records(store):
    return set((Path(store) / "vaults").glob("*.rec"))


def export_none(store, pp, vault, out, epoch=None):
    opts = ["--export-password", "none"] + (["--epoch", str(epoch)] if epoch else [])
    r = vultfs_opts("export", opts, store, vault, out, pp=pp)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def two_vaults(store, pp, tmp_path):
    """Alpha then Beta, one import each; the vault record of each."""
    import_ok(store, pp, new_vault(tmp_path / "a.vult", name="Alpha"))
    alpha = records(store)
    import_ok(store, pp, new_vault(tmp_path / "b.vult", name="Beta"))
    (beta,) = records(store) - alpha
    return alpha.pop(), beta


@pytest.mark.parametrize("which", ["first", "last"])
def test_a_deleted_vault_record_destroys_no_share(store, pp, tmp_path, which):
    alpha, beta = two_vaults(store, pp, tmp_path)
    gone, kept_name = (alpha, "Beta") if which == "first" else (beta, "Alpha")
    lost_name = "Alpha" if which == "first" else "Beta"
    share = export_none(store, pp, lost_name, tmp_path / "share.vult")
    shares = share_files(store)
    gone.unlink()

    r = vultfs("list", store, pp=pp)
    assert r.returncode == 0 and kept_name in r.stdout and lost_name not in r.stdout
    assert "warning" in r.stderr and gone.name in r.stderr, r.stderr
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1, r.stdout
    assert f"vault record vaults/{gone.name} is missing" in r.stdout, r.stdout
    assert f'a share of vault "{lost_name}"' in r.stdout and "no vault record" in r.stdout
    assert "left by an interrupted import" not in r.stdout

    # the next import of any vault changes nothing, and says why
    before = snapshot(store)
    r = vultfs("import", store, new_vault(tmp_path / "c.vult", name="Gamma"), pp=pp)
    assert_one_error_line(r, "vultfs fsck", gone.name)
    assert snapshot(store) == before
    assert share_files(store) == shares

    r = vultfs_opts("fsck", ["--repair"], store, pp=pp)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert f'vault "{lost_name}": its record rebuilt from the manifest' in r.stdout
    assert dirs(store, pp) == ["Alpha", "Beta"]
    assert export_none(store, pp, lost_name, tmp_path / "again.vult") == share
    assert share_files(store) == shares
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 0 and "2 records ok, 0 damaged, 0 missing, 0 unreferenced" in r.stdout
    import_ok(store, pp, tmp_path / "c.vult")


def test_an_older_vault_record_restored_destroys_no_share(store, pp, tmp_path):
    """Epoch 2's share stays when epoch 1's copy of the vault record comes
    back; fsck calls the record an older copy, and --repair makes epoch 2
    current again with its import time."""
    old = new_vault(tmp_path / "old.vult", "--device", "a", "--signers", "a,b", name="Aged")
    new = mkvault(tmp_path / "new.vult", "--from", old, "--signers", "a,b,c", "--tag", "2")
    import_ok(store, pp, old)
    (record,) = records(store)
    older_copy = record.read_bytes()
    import_ok(store, pp, new)
    listed = json.loads(vultfs_opts("list", ["--json"], store, pp=pp).stdout)
    shares = share_files(store)
    record.write_bytes(older_copy)

    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1, r.stdout
    assert f"vault record vaults/{record.name} is an older copy" in r.stdout, r.stdout
    assert 'a share of vault "Aged" that its vault record does not name' in r.stdout
    before = snapshot(store)
    r = vultfs("import", store, new_vault(tmp_path / "x.vult", name="Other"), pp=pp)
    assert_one_error_line(r, "older copy")
    assert snapshot(store) == before
    r = vultfs_opts("fsck", ["--repair"], store, pp=pp)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert json.loads(vultfs_opts("list", ["--json"], store, pp=pp).stdout) == listed
    assert share_files(store) == shares


def test_a_store_of_format_1_names_the_vault_and_repairs_from_shares_alone(tmp_path):
    """A store of format 1 has no manifest: a deleted vault record shows as
    shares of a vault with no record, kept through every change, and
    --repair rebuilds it from its share records alone."""
    store, pp, expected = copy_store("format2-vaults-dir", tmp_path)
    vaults = sorted(v["directory"] for v in expected["list"])
    shares = share_files(store)
    first = sorted(records(store))[0]
    first.unlink()
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1 and "no vault record" in r.stdout, r.stdout
    left = dirs(store, pp)
    (lost,) = set(vaults) - set(left)
    assert f'a share of vault "{lost}' in r.stdout or lost.startswith("Alpha"), r.stdout
    import_ok(store, pp, new_vault(tmp_path / "n.vult", name="Newcomer"))
    assert set(shares) <= set(share_files(store))
    r = vultfs_opts("fsck", ["--repair"], store, pp=pp)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "rebuilt from its share records alone" in r.stdout, r.stdout
    assert dirs(store, pp) == sorted(vaults + ["Newcomer"])
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 0, r.stdout


def test_a_store_restored_from_an_older_copy_is_refused_until_accepted(store, pp, tmp_path,
                                                                      own_state_dir):
    import_ok(store, pp, new_vault(tmp_path / "a.vult", name="Kept"))
    older = tmp_path / "older-copy"
    shutil.copytree(store, older)
    import_ok(store, pp, new_vault(tmp_path / "b.vult", name="Newer"))
    (state,) = (own_state_dir / "vultfs").iterdir()
    shutil.rmtree(store)
    shutil.copytree(older, store)  # a restore of the whole store from its older copy

    before = snapshot(store)
    for command, args in (("import", [new_vault(tmp_path / "c.vult")]),
                          ("forget", ["--yes", store, "Kept"])):
        args = args if command == "forget" else [store, *args]
        r = run([VULTFS, command, "--passphrase-file", pp, *args])
        line = assert_one_error_line(r, "older than the one last seen", "--accept-rollback")
        assert "restored from an older copy" in line
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1 and "older than the one last seen here" in r.stdout, r.stdout
    r = vultfs("list", store, pp=pp)  # reading it still works, and says so
    assert r.returncode == 0 and "Kept" in r.stdout and "older than" in r.stderr
    assert snapshot(store) == before

    # a deliberate restore: taken, and from then on it is the store seen
    r = run([VULTFS, "import", "--accept-rollback", "--passphrase-file", pp, store,
             tmp_path / "b.vult"])
    assert r.returncode == 0 and "new vault: Newer/" in r.stdout, (r.stdout, r.stderr)
    assert vultfs("fsck", store, pp=pp).returncode == 0
    assert json.loads(state.read_text())["change"] > 0


def test_a_damaged_state_file_is_seen(store, pp, tmp_path, own_state_dir):
    import_ok(store, pp, new_vault(tmp_path / "a.vult", name="Kept"))
    (state,) = (own_state_dir / "vultfs").iterdir()
    data = bytearray(state.read_bytes())
    data[11] ^= 1  # a digit of the change number
    state.write_bytes(bytes(data))
    r = vultfs("import", store, new_vault(tmp_path / "b.vult"), pp=pp)
    assert_one_error_line(r, "state file", "damaged", "--accept-rollback")
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1 and "state file" in r.stdout, r.stdout
    r = vultfs_opts("import", ["--accept-rollback"], store, tmp_path / "b.vult", pp=pp)
    assert r.returncode == 0, r.stderr
    assert vultfs("fsck", store, pp=pp).returncode == 0
    # an empty one (what a crash can leave of a file written without fsync)
    state.write_bytes(b"")
    import_ok(store, pp, new_vault(tmp_path / "c.vult"))
    assert json.loads(state.read_text())["change"] > 0


def test_the_state_lives_under_xdg_state_home(store, pp, tmp_path, own_state_dir):
    """$XDG_STATE_HOME/vultfs/store-<id>, private; ~/.local/state without it."""
    import_ok(store, pp, new_vault(tmp_path / "a.vult"))
    store_id = json.loads((store / "vultfs.json").read_text())["id"]
    state = own_state_dir / "vultfs" / f"store-{store_id}"
    assert state.is_file()
    assert (os.stat(own_state_dir / "vultfs").st_mode & 0o777) == 0o700
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "XDG_STATE_HOME"}
    env["HOME"] = str(home)
    r = run([VULTFS, "import", "--passphrase-file", pp, store, new_vault(tmp_path / "b.vult")],
            env=env)
    assert r.returncode == 0, r.stderr
    assert (home / ".local" / "state" / "vultfs" / f"store-{store_id}").is_file()
