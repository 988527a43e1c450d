"""vultfs forget --epoch N: removes one superseded epoch on purpose, after a
confirmation naming the vault, its device and the epoch's date; never the
current epoch; a refusal leaves the store byte for byte as it was.

Environment: VULTFS_BIN, VULTFS_MKVAULT, VULTFS_FIXTURES (optional).
"""
from pathlib import Path

from test_store_cli import (FIXTURES, VULTFS, import_ok, listing, mkvault, needs_fixtures,
                            new_vault, pp, run, snapshot, store)


def three_epochs(tmp_path, store, pp, name="Thrice"):
    e1 = new_vault(tmp_path / "e1.vult", "--device", "a", "--signers", "a,b", name=name)
    e2 = mkvault(tmp_path / "e2.vult", "--from", e1, "--signers", "a,b,c", "--tag", "2")
    e3 = mkvault(tmp_path / "e3.vult", "--from", e2, "--signers", "a,c", "--tag", "3")
    import_ok(store, pp, e1, e2, e3)
    return e1, e2, e3


def epochs(store, pp, name):
    vault = next(v for v in listing(store, pp)[1] if v["directory"] == name)
    return [(e["epoch"], e["current"]) for e in vault["epochs"]]


def test_forget_one_superseded_epoch(tmp_path, store, pp):
    three_epochs(tmp_path, store, pp)
    r = run([VULTFS, "forget", "--passphrase-file", pp, "--epoch", "2", "--yes", store, "Thrice"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("vultfs: forgot epoch 2 of vault 'Thrice' (device a, imported on ")
    assert epochs(store, pp, "Thrice") == [(1, False), (3, True)]
    shares = list((store / "shares").iterdir())
    assert len(shares) == 2  # the record is gone, not just unlisted
    fsck = run([VULTFS, "fsck", "--passphrase-file", pp, store])
    assert fsck.returncode == 0 and "0 unreferenced" in fsck.stdout


def test_a_forgotten_epoch_stays_stale(tmp_path, store, pp):
    """Re-importing the share of a forgotten epoch is refused as stale, not
    taken as a new epoch (which would make an old share current again)."""
    e1, e2, e3 = three_epochs(tmp_path, store, pp)
    r = run([VULTFS, "forget", "--passphrase-file", pp, "--epoch", "2", "--yes", store, "Thrice"])
    assert r.returncode == 0, r.stderr
    before = snapshot(store)
    for share in (e2, e1):
        r = run([VULTFS, "import", "--passphrase-file", pp, store, share])
        assert r.returncode == 1, (share, r.stdout)
        assert "refused, stale" in r.stderr
    assert "epoch 2, destroyed on purpose" in run(
        [VULTFS, "import", "--passphrase-file", pp, store, e2]).stderr
    assert snapshot(store) == before
    assert epochs(store, pp, "Thrice") == [(1, False), (3, True)]
    r = run([VULTFS, "check", "--json", "--passphrase-file", pp, store, e2])
    assert r.returncode == 1 and '"status": "stale"' in r.stdout, r.stdout
    # a new generation after it still gets a new number
    e4 = mkvault(tmp_path / "e4.vult", "--from", e3, "--signers", "a,d", "--tag", "4")
    import_ok(store, pp, e4)
    assert epochs(store, pp, "Thrice") == [(1, False), (3, False), (4, True)]


def test_never_the_current_epoch_and_nothing_changes(tmp_path, store, pp):
    three_epochs(tmp_path, store, pp)
    before = snapshot(store)
    for args, words in ((["--epoch", "3", "--yes"], "current epoch"),
                        (["--epoch", "9", "--yes"], "has no epoch 9"),
                        (["--epoch", "1"], "needs a terminal")):
        r = run([VULTFS, "forget", "--passphrase-file", pp, *args, store, "Thrice"])
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("vultfs: ") and words in r.stderr, r.stderr
    r = run([VULTFS, "forget", "--passphrase-file", pp, "--epoch", "1", "--yes", store, "Nope"])
    assert r.returncode == 1 and "no vault 'Nope'" in r.stderr
    assert snapshot(store) == before
    for bad in ("0", "x", "-1"):
        r = run([VULTFS, "forget", "--passphrase-file", pp, "--epoch", bad, store, "Thrice"])
        assert r.returncode == 2, bad
    assert snapshot(store) == before


def test_confirmation_names_vault_device_and_date(tmp_path, store, pp):
    """The prompt goes to the terminal: run it under a pseudo-terminal."""
    import os
    import pty
    import select
    import time
    three_epochs(tmp_path, store, pp)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(VULTFS, [VULTFS, "forget", "--passphrase-file", str(pp), "--epoch", "1",
                          str(store), "Thrice"])
    seen, deadline = b"", time.time() + 30
    while b"to confirm" not in seen and time.time() < deadline:
        if select.select([fd], [], [], 1)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    assert b"epoch 1 of vault 'Thrice' (device a, imported on " in seen, seen
    os.write(fd, b"Thrice\n")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WEXITSTATUS(status) == 0
    assert epochs(store, pp, "Thrice") == [(2, False), (3, True)]


@needs_fixtures
def test_forget_the_real_share_after_a_reshare(tmp_path, store, pp):
    real = Path(FIXTURES) / "Test-part1of2.vult"
    reshare = mkvault(tmp_path / "r.vult", "--from", real, "--prefix", "0badcafe", "--tag", "r")
    import_ok(store, pp, real, reshare)
    name = listing(store, pp)[1][0]["directory"]
    r = run([VULTFS, "forget", "--passphrase-file", pp, "--epoch", "1", "--yes", store, name])
    assert r.returncode == 0, r.stderr
    assert "device Pixel 5a-a9b" in r.stdout
    assert epochs(store, pp, name) == [(2, True)]
