"""Names a backup chooses never act on a terminal or a log (issue 20,
finding 5). A vault or device name is whatever the file says: "x\\n\\e[2Jy"
printed raw clears the screen and starts a line that looks like one of
vultfs's own. Every command that prints a name (import, check, audit,
forget, list, export) shows it escaped, on one line; JSON keeps it exact.
"""
import json

from test_store_cli import (VULTFS, import_ok, mkvault, new_vault, pp, run, store,  # noqa: F401
                            vultfs, vultfs_opts)

EVIL_NAME = "x\n\x1b[2Jy"
EVIL_DEVICE = "dev\x1b]0;owned\x07\r"
SHOWN_NAME = "x\\n\\x1b[2Jy"
SHOWN_DEVICE = "dev\\x1b]0;owned\\x07\\r"


def evil_vault(path):
    return new_vault(path, "--name", EVIL_NAME, "--device", EVIL_DEVICE,
                     "--signers", f"{EVIL_DEVICE},other")


def assert_inert(text):
    """No control character at all but the newlines that end lines."""
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or ord(c) == 0x7f]
    assert not bad, (bad, text)


def test_import_check_forget_print_names_escaped(tmp_path, store, pp):
    src = evil_vault(tmp_path / "evil.vult")
    r = import_ok(store, pp, src)
    assert_inert(r.stdout)
    assert r.stdout.count("\n") == 1, r.stdout  # one result line, not two
    assert SHOWN_NAME in r.stdout and SHOWN_DEVICE in r.stdout

    for args in (["check", "--passphrase-file", pp, store, src], ["check", src],
                 ["audit", src]):
        r = run([VULTFS, *args])
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert_inert(r.stdout + r.stderr)
    r = run([VULTFS, "check", "--passphrase-file", pp, store, src])
    rows = r.stdout.splitlines()
    assert len(rows) == 2 and rows[1].startswith("current ")  # the header and one row
    assert SHOWN_NAME in rows[1] and SHOWN_DEVICE in rows[1]

    # --json keeps the name exact: JSON escapes control characters itself
    r = run([VULTFS, "check", "--json", "--passphrase-file", pp, store, src])
    assert_inert(r.stdout)
    assert json.loads(r.stdout)["files"][0]["vault"] == EVIL_NAME

    r = vultfs("list", store, pp=pp)
    assert_inert(r.stdout)
    (tmp_path / "out").mkdir()  # into a directory: it says the name it chose
    r = vultfs_opts("export", ["--export-password", "none"], store, EVIL_NAME,
                    tmp_path / "out", pp=pp)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout)
    assert SHOWN_NAME in r.stdout

    r = vultfs_opts("forget", ["--yes"], store, EVIL_NAME, pp=pp)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout + r.stderr)
    assert r.stdout == f"vultfs: forgot vault '{SHOWN_NAME}'\n"


def test_refusals_and_unknown_names_are_escaped_on_stderr(tmp_path, store, pp):
    src = evil_vault(tmp_path / "evil.vult")
    import_ok(store, pp, src)
    # another device's share: the refusal names the device the store keeps
    other = mkvault(tmp_path / "other.vult", "--from", src, "--device", "other", "--tag", "o")
    r = run([VULTFS, "import", "--passphrase-file", pp, store, other])
    assert r.returncode == 1 and "co-location" in r.stderr, r.stderr
    assert_inert(r.stderr)
    assert r.stderr.count("\n") == 1 and SHOWN_DEVICE in r.stderr
    r = vultfs_opts("forget", ["--yes"], store, "no such\x1b[2J", pp=pp)
    assert r.returncode == 1
    assert_inert(r.stderr)
    assert "no such\\x1b[2J" in r.stderr
    # a file name is a name too: one that is not UTF-8, in check's JSON
    odd = tmp_path / "dir"
    odd.mkdir()
    (odd / "a\udcffb.vult").write_bytes(src.read_bytes())
    r = run([VULTFS, "check", "--json", odd])
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["files"][0]["path"].endswith("a\\xffb.vult")
    r = run([VULTFS, "audit", "--json", odd])
    assert r.returncode == 0, (r.stdout, r.stderr)
