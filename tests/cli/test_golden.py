"""Stores written by earlier builds (tests/golden/) open in this one: the
same vaults, epochs and facts, the same exported shares, a clean fsck,
and a first change that migrates them without losing anything."""
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from test_store_cli import VULTFS, new_vault, run  # noqa: F401

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
STORES = sorted(p.name for p in GOLDEN.iterdir() if (p / "store").is_dir())


def copy_store(name, tmp_path):
    """The golden store in a private copy, with the modes a store needs."""
    src = GOLDEN / name
    dst = tmp_path / "store"
    shutil.copytree(src / "store", dst)
    for root, dirs, files in os.walk(dst):
        os.chmod(root, 0o700)
        for f in files:
            os.chmod(os.path.join(root, f), 0o600)
    return dst, src / "passphrase", json.loads((src / "expected.json").read_text())


def listing(store, pp):
    r = run([VULTFS, "list", "--json", "--passphrase-file", pp, store])
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    return data if isinstance(data, list) else data["vaults"]


def assert_shows(expected, shown):
    """Every fact the old build listed is listed the same way now (newer
    builds may list more)."""
    by_dir = {v["directory"]: v for v in shown}
    assert sorted(by_dir) == sorted(v["directory"] for v in expected)
    for old in expected:
        new = by_dir[old["directory"]]
        for key, value in old.items():
            if key != "epochs":
                assert new[key] == value, (old["directory"], key)
        assert [e["epoch"] for e in new["epochs"]] == [e["epoch"] for e in old["epochs"]]
        for e_old, e_new in zip(old["epochs"], new["epochs"]):
            for key, value in e_old.items():
                assert e_new[key] == value, (old["directory"], e_old["epoch"], key)


def assert_exports(store, pp, expected, tmp_path):
    for where, digest in expected["exports_sha256"].items():
        directory, epoch = where.rsplit("/", 1)
        out = tmp_path / "export.vult"
        r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password", "none",
                 "--epoch", epoch, store, directory, out])
        assert r.returncode == 0, r.stderr
        assert hashlib.sha256(out.read_bytes()).hexdigest() == digest, where
        out.unlink()


@pytest.mark.parametrize("name", STORES)
def test_golden_store_opens_as_written(name, tmp_path):
    store, pp, expected = copy_store(name, tmp_path)
    assert_shows(expected["list"], listing(store, pp))
    assert_exports(store, pp, expected, tmp_path)
    r = run([VULTFS, "fsck", "--passphrase-file", pp, store])
    assert r.returncode == 0, (r.stdout, r.stderr)


@pytest.mark.parametrize("name", STORES)
def test_golden_store_migrates_on_its_first_change(name, tmp_path):
    store, pp, expected = copy_store(name, tmp_path)
    added = new_vault(tmp_path / "new.vult", name="Added later")
    r = run([VULTFS, "import", "--passphrase-file", pp, store, added])
    assert r.returncode == 0, r.stderr
    shown = listing(store, pp)
    assert_shows(expected["list"], [v for v in shown if v["directory"] != "Added later"])
    assert "Added later" in [v["directory"] for v in shown]
    assert_exports(store, pp, expected, tmp_path)
    assert not (store / "index.rec").exists()
    r = run([VULTFS, "fsck", "--passphrase-file", pp, store])
    assert r.returncode == 0, (r.stdout, r.stderr)


@pytest.mark.parametrize("name", STORES)
def test_golden_store_keeps_its_rules(name, tmp_path):
    """A held generation stays held: another device's share of Alpha's
    current epoch is refused as co-location, the old epoch as stale."""
    store, pp, expected = copy_store(name, tmp_path)
    r = run([VULTFS, "export", "--passphrase-file", pp, "--export-password", "none",
             "--epoch", "1", store, "Alpha", tmp_path / "alpha1.vult"])
    assert r.returncode == 0, r.stderr
    r = run([VULTFS, "import", "--passphrase-file", pp, store, tmp_path / "alpha1.vult"])
    assert r.returncode == 1 and "stale" in r.stderr, (r.stdout, r.stderr)
