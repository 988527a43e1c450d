"""The way out when the file an epoch keeps is the damaged one (issue 20):
an import never lets a file with other key shares replace the one an
epoch holds (a damaged or altered file must not replace a good one), so
the good file is refused as a conflict; `vultfs replace` is the explicit,
offline, confirmed way to put it in, and it destroys nothing: the file it
replaces stays in the store, checked by fsck, counted by list, removed
only by forget.

Environment: VULTFS_BIN, VULTFS_MKVAULT (see test_store_cli.py).
"""
from test_store_cli import (VULTFS, assert_one_error_line, listing, mkvault, new_vault,  # noqa: F401
                            pp, run, share_files, snapshot, store, vultfs, vultfs_opts)


def export_none(store, pp, vault, out):
    r = vultfs_opts("export", ["--export-password", "none"], store, vault, out, pp=pp)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def damaged_first(store, pp, tmp_path):
    """A store that took a damaged file of a vault first: its key shares
    are not the good file's (mkvault's --tag stands for the damage)."""
    good = new_vault(tmp_path / "good.vult", "--device", "a", "--signers", "a,b",
                     name="Held Wrong")
    bad = mkvault(tmp_path / "bad.vult", "--from", good, "--tag", "flipped")
    r = run([VULTFS, "import", "--passphrase-file", pp, store, bad])
    assert r.returncode == 0, r.stderr
    r = run([VULTFS, "import", "--passphrase-file", pp, store, good])
    assert r.returncode == 1 and "conflict" in r.stderr, r.stderr
    return good, bad


def test_replace_puts_the_good_file_in_and_keeps_the_other(store, pp, tmp_path):
    good, bad = damaged_first(store, pp, tmp_path)
    bad_share = export_none(store, pp, "Held Wrong", tmp_path / "was.vult")
    records = set(share_files(store))
    before = snapshot(store)
    r = vultfs("replace", store, "Held Wrong", good, pp=pp)  # no terminal, no --yes
    assert_one_error_line(r, "terminal", "--yes")
    assert snapshot(store) == before
    r = vultfs_opts("replace", ["--yes"], store, "Held Wrong", good, pp=pp)
    assert r.returncode == 0, r.stderr
    assert "now keeps" in r.stdout and "stays in the store" in r.stdout, r.stdout
    # the good file is the epoch's, the other kept beside it
    assert export_none(store, pp, "Held Wrong", tmp_path / "now.vult") != bad_share
    assert records < set(share_files(store))
    (v,) = listing(store, pp)[1]
    assert [(e["epoch"], e["current"], e.get("replaced_files")) for e in v["epochs"]] == \
        [(1, True, 1)]
    table = vultfs("list", store, pp=pp).stdout
    assert "1 file that vultfs replace put aside" in table, table
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 0, r.stdout
    assert "2 records ok, 0 damaged, 0 missing, 0 unreferenced" in r.stdout
    # the good file is the one held now; the other is what is refused
    r = run([VULTFS, "import", "--passphrase-file", pp, store, good])
    assert r.returncode == 0 and "unchanged" in r.stdout, r.stdout
    r = run([VULTFS, "import", "--passphrase-file", pp, store, bad])
    assert r.returncode == 1 and "conflict" in r.stderr, r.stderr
    # forget removes both files with the vault
    r = run([VULTFS, "forget", "--yes", "--passphrase-file", pp, store, "Held Wrong"])
    assert r.returncode == 0, r.stderr
    assert share_files(store) == {}


def test_replace_refuses_what_is_not_the_same_vault_generation_and_device(store, pp,
                                                                         tmp_path):
    good, bad = damaged_first(store, pp, tmp_path)
    cases = {
        "another vault": new_vault(tmp_path / "other.vult", "--device", "a",
                                   "--signers", "a,b"),
        "another generation": mkvault(tmp_path / "gen.vult", "--from", good,
                                      "--signers", "a,b,c", "--tag", "g"),
        "another device": mkvault(tmp_path / "dev.vult", "--from", good, "--device", "b",
                                  "--tag", "d"),
        "the same share": bad,
    }
    before = snapshot(store)
    for what, path in cases.items():
        r = vultfs_opts("replace", ["--yes"], store, "Held Wrong", path, pp=pp)
        word = {"another vault": "another vault", "another generation": "another generation",
                "another device": "another device", "the same share": "same share"}[what]
        assert_one_error_line(r, word)
    r = vultfs_opts("replace", ["--yes", "--epoch", "2"], store, "Held Wrong", good, pp=pp)
    assert_one_error_line(r, "no", "epoch 2")
    assert snapshot(store) == before
