"""Import order decides which generation is current (issue 20, finding 9):
a backup file does not say which generation came later, so `vultfs import
S new.vult old.vult` makes the older share current. One batch that brings
two generations of a vault says so, once, with the way back; `vultfs
promote --epoch N` makes a superseded epoch current again, losing nothing,
and only where the store's line of devices holds.

Environment: VULTFS_BIN, VULTFS_MKVAULT (see test_store_cli.py).
"""
import json
import zipfile

from test_store_cli import (GENERATIONS_WARNING, VULTFS, assert_one_error_line, listing,  # noqa: F401
                            mkvault, new_vault, pp, run, snapshot, store, vultfs, vultfs_opts)


def epochs(store, pp, vault):
    """[(epoch, current, signers)] of a vault, as `list --json` has them."""
    (v,) = [v for v in listing(store, pp)[1] if v["directory"] == vault]
    return [(e["epoch"], e["current"], ",".join(e["signers"])) for e in v["epochs"]]


def check_status(store, pp, path):
    r = run([VULTFS, "check", "--json", "--passphrase-file", pp, store, path])
    return json.loads(r.stdout)["files"][0]["status"]


def export_none(store, pp, vault, out, epoch=None):
    opts = ["--export-password", "none"] + (["--epoch", str(epoch)] if epoch else [])
    r = vultfs_opts("export", opts, store, vault, out, pp=pp)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def generations(tmp_path):
    old = new_vault(tmp_path / "old.vult", "--device", "a", "--signers", "a,b", name="Order")
    new = mkvault(tmp_path / "new.vult", "--from", old, "--signers", "a,b,c", "--tag", "2")
    return old, new


def test_one_batch_of_two_generations_says_order_decided(store, pp, tmp_path):
    old, new = generations(tmp_path)
    r = run([VULTFS, "import", "--passphrase-file", pp, store, new, old])
    assert r.returncode == 0, r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith(GENERATIONS_WARNING), line
    assert '2 generations of vault "Order"' in line and "import order decides" in line
    assert f"vultfs promote --epoch 1 {store} " in line, line
    # the older share became current, and check calls the newest stale
    assert epochs(store, pp, "Order") == [(1, False, "a,b,c"), (2, True, "a,b")]
    assert check_status(store, pp, new) == "stale"
    # one file at a time is no batch: no warning
    other_old = new_vault(tmp_path / "o1.vult", "--device", "a", "--signers", "a,b")
    other_new = mkvault(tmp_path / "o2.vult", "--from", other_old, "--signers", "a,b,d",
                        "--tag", "2")
    for f in (other_old, other_new):
        r = run([VULTFS, "import", "--passphrase-file", pp, store, f])
        assert r.returncode == 0 and r.stderr == "", r.stderr


def test_a_zip_with_two_generations_says_so(store, pp, tmp_path):
    old, new = generations(tmp_path)
    z = tmp_path / "vaults.zip"
    with zipfile.ZipFile(z, "w") as out:
        out.writestr("b-new.vult", new.read_bytes())
        out.writestr("a-old.vult", old.read_bytes())
    r = run([VULTFS, "import", "--passphrase-file", pp, store, z])
    assert r.returncode == 0, r.stderr
    assert any(line.startswith(GENERATIONS_WARNING) and '"Order"' in line
               for line in r.stderr.splitlines()), r.stderr


def test_promote_makes_the_newer_generation_current_again(store, pp, tmp_path):
    old, new = generations(tmp_path)
    run([VULTFS, "import", "--passphrase-file", pp, store, new, old])
    old_share = export_none(store, pp, "Order", tmp_path / "e-old.vult", epoch=2)
    new_share = export_none(store, pp, "Order", tmp_path / "e-new.vult", epoch=1)
    before = snapshot(store)
    r = vultfs("promote", store, "Order", pp=pp)  # no --epoch
    assert r.returncode == 2 and "--epoch" in r.stderr, r.stderr
    r = vultfs_opts("promote", ["--epoch", "1"], store, "Order", pp=pp)  # no terminal
    assert_one_error_line(r, "terminal", "--yes")
    assert snapshot(store) == before
    r = vultfs_opts("promote", ["--epoch", "1", "--yes"], store, "Order", pp=pp)
    assert r.returncode == 0, r.stderr
    assert "epoch 1 of vault 'Order' is current again, as epoch 3" in r.stdout, r.stdout
    # the newer generation is the newest epoch; nothing was removed
    assert epochs(store, pp, "Order") == [(2, False, "a,b"), (3, True, "a,b,c")]
    assert export_none(store, pp, "Order", tmp_path / "now.vult") == new_share
    assert export_none(store, pp, "Order", tmp_path / "then.vult", epoch=2) == old_share
    assert check_status(store, pp, new) == "current"
    assert check_status(store, pp, old) == "stale"
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 0, r.stdout
    # and it is current: promoting it again is refused, changing nothing
    before = snapshot(store)
    r = vultfs_opts("promote", ["--epoch", "3", "--yes"], store, "Order", pp=pp)
    assert_one_error_line(r, "already the current epoch")
    assert snapshot(store) == before


def test_promote_keeps_one_devices_line(store, pp, tmp_path):
    """Device a's share, then device c's after a left the vault: a's epoch
    may not come after c's while c still signs in a's generation."""
    first = new_vault(tmp_path / "first.vult", "--device", "a", "--signers", "a,c", name="Line")
    later = mkvault(tmp_path / "later.vult", "--from", first, "--device", "c",
                    "--signers", "c,d", "--tag", "2")
    r = run([VULTFS, "import", "--passphrase-file", pp, store, first, later])
    assert r.returncode == 0, r.stderr
    assert epochs(store, pp, "Line") == [(1, False, "a,c"), (2, True, "c,d")]
    before = snapshot(store)
    r = vultfs_opts("promote", ["--epoch", "1", "--yes"], store, "Line", pp=pp)
    assert_one_error_line(r, "device line", "epoch 3")
    assert snapshot(store) == before
    r = vultfs_opts("promote", ["--epoch", "9", "--yes"], store, "Line", pp=pp)
    assert_one_error_line(r, "no epoch 9")
