"""What check and audit read, and what they say of what they could not
(issue 20, findings 4 and 6). Symbolic links are followed, to files and to
directories, without looping; a tree deeper than the walk goes, a dangling
link or a file that cannot be opened is reported for what it is and makes
the exit status 1; what is skipped on purpose (a directory reached twice,
a FIFO met in a directory) is listed, and never waited on.

Environment: VULTFS_BIN, VULTFS_MKVAULT, VULTFS_FIXTURES (optional).
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_store_cli import (FIXTURES, VULTFS, import_ok, mkvault, needs_fixtures, new_vault,
                            pp, run, store)  # noqa: F401

SCAN_MAX_DEPTH = 256  # fs/scan.h


def audit_json(*args):
    r = run([VULTFS, "audit", "--json", *args])
    return r.returncode, json.loads(r.stdout)


def check_json(*args):
    r = run([VULTFS, "check", "--json", *args])
    return r.returncode, {Path(f["path"]).name: f for f in json.loads(r.stdout)["files"]}


def pair(where):
    """Two devices' shares of one 2-of-2 vault: together they can sign."""
    where.mkdir(parents=True, exist_ok=True)
    a = new_vault(where / "a.vult", "--name", "Pair", "--device", "a", "--signers", "a,b")
    b = mkvault(where / "b.vult", "--from", a, "--device", "b", "--tag", "b")
    return a, b


@needs_fixtures
def test_the_issues_symlinks_to_the_fixtures(tmp_path):
    """The report: two links to the two shares of a 2-of-2 vault said "0
    shares read", exit 0; the files themselves say CAN SIGN, exit 1."""
    os.symlink(Path(FIXTURES) / "Test-part1of2.vult", tmp_path / "a.vult")
    os.symlink(Path(FIXTURES) / "Test-part2of2.vult", tmp_path / "b.vult")
    r = run([VULTFS, "audit", tmp_path / "a.vult", tmp_path / "b.vult"], cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert r.stdout.count("CAN SIGN") == 2
    assert "this place alone can sign" in r.stdout


def test_links_to_files_and_directories_are_followed(tmp_path):
    a, b = pair(tmp_path / "elsewhere")
    place = tmp_path / "place"
    place.mkdir()
    os.symlink(a, place / "a.vult")  # a file, through a link
    os.symlink(b.parent, place / "folder")  # a directory, through a link
    status, report = audit_json(place)
    assert status == 1
    assert report["shares_read"] == 3  # a.vult, and folder/ with a.vult and b.vult
    assert report["findings"][0]["can_sign"] is True
    assert report["unreadable"] == [] and report["skipped"] == []
    status, files = check_json(place)
    assert status == 0 and {f["status"] for f in files.values()} == {"backup"}


def test_a_link_back_up_the_tree_ends_there(tmp_path):
    top = tmp_path / "top"
    a, b = pair(top / "sub")
    os.symlink("..", top / "sub" / "up")  # top/sub/up/sub/up/... forever
    os.symlink(top, top / "sub" / "again")
    status, report = audit_json(top)
    assert status == 1  # the pair; nothing unreadable
    assert report["shares_read"] == 2
    assert report["unreadable"] == []
    assert sorted(Path(s["path"]).name for s in report["skipped"]) == ["again", "up"]
    assert all("already scanned" in s["note"] for s in report["skipped"])
    r = run([VULTFS, "check", top])
    assert r.returncode == 0, r.stdout
    assert "2 skipped" in r.stdout.splitlines()[-1]


def test_a_dangling_link_is_unreadable(tmp_path):
    d = tmp_path / "d"
    pair(d)
    os.remove(d / "b.vult")
    os.symlink(tmp_path / "gone.vult", d / "b.vult")
    status, report = audit_json(d)
    assert status == 1 and report["findings"] == []
    assert [Path(u["path"]).name for u in report["unreadable"]] == ["b.vult"]
    assert "dangling" in report["unreadable"][0]["note"]
    status, files = check_json(d)
    assert status == 1 and files["b.vult"]["status"] == "unreadable"
    r = run([VULTFS, "audit", d])
    assert "1 could not be read" in r.stdout and "dangling" in r.stdout


def test_deeper_than_the_old_limit_and_past_the_walks_depth(tmp_path):
    deep = tmp_path / "deep"
    at40 = deep.joinpath(*["d"] * 40)
    pair(at40)
    status, report = audit_json(deep)
    assert status == 1 and report["shares_read"] == 2  # 40 levels: read (32 was the end)
    beyond = deep.joinpath("e", *["d"] * (SCAN_MAX_DEPTH + 5))
    beyond.mkdir(parents=True)
    status, report = audit_json(deep)
    assert report["shares_read"] == 2
    assert len(report["unreadable"]) == 1
    assert f"more than {SCAN_MAX_DEPTH} directories deep" in report["unreadable"][0]["note"]
    # said, and an exit status of 1 even where nothing else is found
    shutil.rmtree(at40)
    status, files = check_json(deep)
    assert status == 1 and [f["status"] for f in files.values()] == ["unreadable"]


def test_a_fifo_is_never_opened(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    a = new_vault(d / "a.vult")
    os.mkfifo(d / "pipe.vult")  # no writer: opening it would wait forever
    r = run([VULTFS, "check", d], timeout=20)
    assert r.returncode == 0, r.stdout  # skipped, listed, not a failure
    rows = [line.split()[0] for line in r.stdout.splitlines()[1:-1]]
    assert rows == ["backup", "skipped"]
    assert "FIFO" in r.stdout and "1 skipped" in r.stdout
    status, report = audit_json(d)
    assert status == 0 and report["shares_read"] == 1
    assert [Path(s["path"]).name for s in report["skipped"]] == ["pipe.vult"]
    # named on the command line it was asked for: it could not be read
    status, files = check_json(a, d / "pipe.vult")
    assert status == 1 and files["pipe.vult"]["status"] == "unreadable"


def test_a_store_among_checks_paths_is_listed(tmp_path, store, pp):
    a = new_vault(tmp_path / "a.vult")
    import_ok(store, pp, a)
    status, files = check_json(tmp_path)
    assert files["store"]["status"] == "skipped"
    assert "give it first" in files["store"]["note"]


def without_dac_override(args):
    """args run so that file modes bind: root loses the capabilities that
    read anything (a test as another user cannot reach pytest's tmp)."""
    if os.geteuid() != 0:
        return args
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("root, and no setpriv to drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *args]


def test_a_file_that_cannot_be_opened_says_why(tmp_path):
    """Finding 6: it was "encrypted, and no password given fits"."""
    d = tmp_path / "d"
    a, b = pair(d)
    b.chmod(0)
    r = subprocess.run([str(x) for x in without_dac_override([VULTFS, "check", "--json", d])],
                       capture_output=True, text=True, timeout=30)
    files = {Path(f["path"]).name: f for f in json.loads(r.stdout)["files"]}
    assert r.returncode == 1
    assert files["b.vult"]["status"] == "unreadable"
    assert files["b.vult"]["note"] == "cannot read it: " + os.strerror(13)
    r = subprocess.run([str(x) for x in without_dac_override([VULTFS, "audit", d])],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "Permission denied" in r.stdout and "password" not in r.stdout
