"""The import rules DESIGN added for issue 7, as a user meets them with
`vultfs import`: one device's line (item 1), no reused key shares (item 2),
lib_type in the generation, and the repair of a damaged record by
re-importing a good copy (item 10).

Every refusal exits 1 with one line naming the file and the outcome, and
leaves every file of the store byte-identical. The fixture cases skip
without VULTFS_FIXTURES; each has a synthetic twin that always runs.
"""
from pathlib import Path

from test_store_cli import (FIXTURES, VULTFS, assert_one_error_line, fresh_ecdsa,  # noqa: F401
                            import_ok, listing, mkvault, needs_fixtures, pp, run, snapshot,
                            store, vultfs)


def epochs_of(store, pp, directory):
    """[(epoch, current, device, signers)] of one vault, from `vultfs list`."""
    (vault,) = [v for v in listing(store, pp)[1] if v["directory"] == directory]
    return [(e["epoch"], e["current"], e["device"], ",".join(e["signers"]))
            for e in vault["epochs"]]


def refused(store, pp, path, outcome):
    """Imports path, which must be refused with outcome, changing nothing."""
    before = snapshot(store)
    r = vultfs("import", store, path, pp=pp)
    line = assert_one_error_line(r, str(path), "refused", outcome)
    assert snapshot(store) == before
    return line


def unchanged(store, pp, path):
    before = snapshot(store)
    r = import_ok(store, pp, path)
    assert "unchanged" in r.stdout, r.stdout
    assert snapshot(store) == before
    return r


# ---- item 1: one device's line ------------------------------------------------

@needs_fixtures
def test_other_devices_share_of_new_generation_is_colocation(store, pp, tmp_path):
    """Test-part2of2 is the other device's share of Test-part1of2's vault.
    Relabelled as a 'new generation' that still lists Pixel 5a-a9b (the
    held device), it would put both devices' key shares in one store."""
    part1 = Path(FIXTURES) / "Test-part1of2.vult"
    import_ok(store, pp, part1)
    (directory,) = [v["directory"] for v in listing(store, pp)[1]]
    held = epochs_of(store, pp, directory)
    bypass = mkvault(tmp_path / "bypass.vult", "--from", Path(FIXTURES) / "Test-part2of2.vult",
                     "--signers", "Pixel 5a-a9b,iPhone-EC4,x")
    refused(store, pp, bypass, "co-location")
    assert epochs_of(store, pp, directory) == held
    unchanged(store, pp, part1)


def test_other_devices_share_of_new_generation_is_colocation_synthetic(store, pp, tmp_path):
    key = fresh_ecdsa()
    mine = mkvault(tmp_path / "a.vult", "--ecdsa", key, "--name", "Line", "--device", "dev-a",
                   "--signers", "dev-a,dev-b")
    import_ok(store, pp, mine)
    theirs = mkvault(tmp_path / "b.vult", "--ecdsa", key, "--name", "Line", "--device", "dev-b",
                     "--signers", "dev-a,dev-b", "--tag", "b")
    refused(store, pp, theirs, "co-location")
    bypass = mkvault(tmp_path / "bypass.vult", "--from", theirs, "--signers", "dev-a,dev-b,x")
    refused(store, pp, bypass, "co-location")
    assert epochs_of(store, pp, "Line") == [(1, True, "dev-a", "dev-a,dev-b")]
    # once dev-a has left the signers, its successor's share is this location's
    successor = mkvault(tmp_path / "c.vult", "--from", theirs, "--signers", "dev-b,dev-c",
                        "--tag", "reshared")
    import_ok(store, pp, successor)
    assert epochs_of(store, pp, "Line") == [(1, False, "dev-a", "dev-a,dev-b"),
                                            (2, True, "dev-b", "dev-b,dev-c")]


# ---- item 2: altered signers take nothing over ---------------------------------

@needs_fixtures
def test_altered_signers_are_a_conflict(store, pp, tmp_path):
    """The same key shares with one byte of the signer list changed: not a
    new generation (a reshare renews every key share), so the good share
    stays current and re-imports as unchanged."""
    part1 = Path(FIXTURES) / "Test-part1of2.vult"
    import_ok(store, pp, part1)
    (directory,) = [v["directory"] for v in listing(store, pp)[1]]
    held = epochs_of(store, pp, directory)
    altered = mkvault(tmp_path / "altered.vult", "--from", part1, "--signers",
                      "Pixel 5a-a9b,iPhone-EC5")
    refused(store, pp, altered, "conflict")
    assert epochs_of(store, pp, directory) == held
    unchanged(store, pp, part1)


def test_altered_signers_are_a_conflict_synthetic(store, pp, tmp_path):
    key = fresh_ecdsa()
    good = mkvault(tmp_path / "good.vult", "--ecdsa", key, "--name", "Altered",
                   "--device", "dev-a", "--signers", "dev-a,dev-b")
    import_ok(store, pp, good)
    for n, signers in enumerate(["dev-a,dev-c", "dev-a,dev-b,dev-c", "dev-a"]):
        altered = mkvault(tmp_path / f"altered{n}.vult", "--from", good, "--signers", signers)
        refused(store, pp, altered, "conflict")
    prefixed = mkvault(tmp_path / "prefixed.vult", "--from", good, "--prefix", "0badc0de")
    refused(store, pp, prefixed, "conflict")
    unchanged(store, pp, good)
    assert epochs_of(store, pp, "Altered") == [(1, True, "dev-a", "dev-a,dev-b")]


def test_gg20_to_dkls_migration_is_a_new_epoch(store, pp, tmp_path):
    key = fresh_ecdsa()
    gg20 = mkvault(tmp_path / "gg20.vult", "--ecdsa", key, "--name", "Migrated",
                   "--device", "dev-a", "--signers", "dev-a,dev-b", "--lib", "gg20")
    dkls = mkvault(tmp_path / "dkls.vult", "--from", gg20, "--lib", "dkls", "--tag", "dkls")
    import_ok(store, pp, gg20)
    r = import_ok(store, pp, dkls)
    assert "new epoch" in r.stdout, r.stdout
    refused(store, pp, gg20, "stale")
    (vault,) = listing(store, pp)[1]
    assert [(e["epoch"], e["current"], e["lib_type"]) for e in vault["epochs"]] == [
        (1, False, "GG20"), (2, True, "DKLS")]


# ---- item 10: re-importing a good copy repairs a damaged record ----------------

def test_reimport_repairs_damaged_record(store, pp, tmp_path):
    key = fresh_ecdsa()
    first = mkvault(tmp_path / "first.vult", "--ecdsa", key, "--name", "Repair",
                    "--device", "dev-a", "--signers", "dev-a,dev-b")
    second = mkvault(tmp_path / "second.vult", "--from", first, "--signers", "dev-a,dev-c",
                     "--tag", "second")
    import_ok(store, pp, first, second)
    for victim in (store / "shares").iterdir():
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x01
        victim.write_bytes(bytes(data))
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1 and "2 damaged" in r.stdout, r.stdout
    r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password", "none", store,
             "Repair", tmp_path / "out.vult"])
    assert r.returncode == 1

    r = import_ok(store, pp, second)
    assert "unchanged" in r.stdout and "rewritten" in r.stdout, r.stdout
    r = vultfs("fsck", store, pp=pp)
    assert r.returncode == 1 and "1 records ok, 1 damaged" in r.stdout, r.stdout
    r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password", "none", store,
             "Repair", tmp_path / "out.vult"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.vult").read_bytes() == second.read_bytes()
    # intact now: importing again changes nothing
    r = unchanged(store, pp, second)
    assert "rewritten" not in r.stdout
    # the history epoch's share is stale as a current one (a history record
    # is repaired by writing it to history/epoch-N.vult in the mount)
    assert vultfs("import", store, first, pp=pp).returncode == 1
