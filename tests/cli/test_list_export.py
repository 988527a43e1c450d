"""What `vultfs list` and `vultfs export` tell and give a person, and what a
refusal says: the table of `list` (with --json for scripts), export to
stdout and into a directory under the apps' own file name, and refusal
lines that name the vault, the device the store keeps, and how to pass a
password.

Environment: VULTFS_BIN, VULTFS_MKVAULT, VULTFS_FIXTURES (fixture tests
skip without it).
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
# a fresh store (--cost min) and its passphrase file
from test_store_cli import pp, store  # noqa: F401

VULTFS = os.environ.get("VULTFS_BIN", "build/fs/vultfs")
MKVAULT = os.environ.get("VULTFS_MKVAULT", "build/tests/mkvault")
FIXTURES = os.environ.get("VULTFS_FIXTURES")

needs_fixtures = pytest.mark.skipif(
    not FIXTURES or not Path(FIXTURES).is_dir(), reason="VULTFS_FIXTURES is not set")


def run(args, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([str(a) for a in args], capture_output=True, timeout=60,
                          start_new_session=True, **kw)


def text(r):
    return r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def vultfs(command, store, pp, *rest, opts=()):
    return run([VULTFS, command, "--passphrase-file", pp, *opts, store, *rest])


def mkvault(out, *args):
    r = run([MKVAULT, *args, out])
    assert r.returncode == 0, r.stderr
    return Path(out)


def import_ok(store, pp, *files, opts=()):
    r = vultfs("import", store, pp, *files, opts=opts)
    assert r.returncode == 0, text(r)


def fixture(name):
    return Path(FIXTURES) / name


def inspect(path, password_file=None):
    args = [VULTFS, "inspect"] + (["--password-file", password_file] if password_file else [])
    r = run(args + [path])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# ---- list ------------------------------------------------------------------------

def table(store, pp):
    r = vultfs("list", store, pp)
    out, err = text(r)
    assert r.returncode == 0 and err == "", err
    return out.splitlines()


def test_list_is_a_table_with_warnings(store, pp, tmp_path):
    """One line per vault under a header, the columns lined up; under a vault
    with history, a warning that says how many superseded epochs it holds."""
    key = "02" + "ab" * 32
    e1 = mkvault(tmp_path / "e1.vult", "--name", "Reshared \u2019Vault", "--ecdsa", key,
                 "--device", "dev-x", "--signers", "dev-x,dev-y")
    e2 = mkvault(tmp_path / "e2.vult", "--from", e1, "--signers", "dev-x,dev-y,dev-z",
                 "--tag", "2")
    e3 = mkvault(tmp_path / "e3.vult", "--from", e1, "--signers", "dev-x,dev-z", "--tag", "3")
    other = mkvault(tmp_path / "o.vult", "--name", "Plain", "--ecdsa", "02" + "cd" * 32,
                    "--device", "phone-1", "--signers", "laptop-2,phone-1")
    import_ok(store, pp, e1, e2, e3, other)
    lines = table(store, pp)
    header = lines[0].split()
    assert header[:5] == ["VAULT", "EPOCHS", "DEVICE", "KEYS", "SIGNERS"]
    assert lines[0].endswith("LAST IMPORT")
    rows = {line.split("  ")[0]: line for line in lines[1:] if not line.startswith(" ")}
    assert set(rows) == {"Reshared \u2019Vault", "Plain"}
    cells = re.split(r"\s{2,}", rows["Reshared \u2019Vault"])
    assert cells[1:5] == ["3 (current 3)", "dev-x", "ECDSA+EdDSA", "dev-x, dev-z"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", cells[5]), cells
    assert re.split(r"\s{2,}", rows["Plain"])[1:5] == ["1 (current 1)", "phone-1",
                                                        "ECDSA+EdDSA", "laptop-2, phone-1"]
    # every column starts at the same character on every line (U+2019 is one)
    for line in lines[1:]:
        if not line.startswith(" "):
            assert line.index(re.split(r"\s{2,}", line)[1]) == lines[0].index("EPOCHS")
    # the warning sits under its vault, and says how many
    at = lines.index(rows["Reshared \u2019Vault"])
    assert "history holds 2 superseded epochs" in lines[at + 1]
    assert lines[at + 1].startswith("  warning:")
    plain_at = lines.index(rows["Plain"])
    assert plain_at + 1 == len(lines) or not lines[plain_at + 1].startswith(" ")


def test_list_one_superseded_epoch_is_singular(store, pp, tmp_path):
    a = mkvault(tmp_path / "a.vult", "--name", "Once", "--ecdsa", "02" + "11" * 32)
    b = mkvault(tmp_path / "b.vult", "--from", a, "--signers",
                "demo-device-1,demo-device-3", "--tag", "b")
    import_ok(store, pp, a, b)
    assert "  warning: history holds 1 superseded epoch:" in "\n".join(table(store, pp))


def test_list_shows_no_control_characters(store, pp, tmp_path):
    """Names come from backup files: an escape sequence in a device name
    must not reach the terminal through the table."""
    a = mkvault(tmp_path / "a.vult", "--name", "Esc", "--ecdsa", "02" + "77" * 32,
                "--device", "dev\x1b]0;owned\x07", "--signers", "dev\x1b]0;owned\x07,b")
    import_ok(store, pp, a)
    out = "\n".join(table(store, pp))
    assert "\x1b" not in out and "\x07" not in out
    assert "dev\\x1b]0;owned\\x07" in out  # shown escaped, as every name printed


def test_list_empty_store_says_so(store, pp):
    assert table(store, pp) == ["no vaults in this store"]


def test_list_json_is_the_scripts_form(store, pp, tmp_path):
    a = mkvault(tmp_path / "a.vult", "--name", "Json", "--ecdsa", "02" + "22" * 32)
    import_ok(store, pp, a)
    r = vultfs("list", store, pp, opts=["--json"])
    assert r.returncode == 0, r.stderr
    (vault,) = json.loads(r.stdout)
    assert vault["directory"] == "Json" and vault["epochs"][0]["device"] == "demo-device-1"
    # --json belongs to list alone
    r = vultfs("fsck", store, pp, opts=["--json"])
    assert r.returncode == 2 and b"--json" in r.stderr


@needs_fixtures
def test_list_table_of_fixtures(store, pp):
    import_ok(store, pp, fixture("Test-part1of2.vult"), fixture("qa-secure-share3of3.vult"))
    out = "\n".join(table(store, pp))
    assert re.search(r"Test private key vault\s+1 \(current 1\)\s+Pixel 5a-a9b\s+"
                     r"ECDSA\+EdDSA\s+Pixel 5a-a9b, iPhone-EC4\s", out), out
    assert "Tony\u2019s MacBook Air-C4E" in out
    assert "warning" not in out


# ---- export ------------------------------------------------------------------------

def test_export_to_stdout(store, pp, tmp_path):
    a = mkvault(tmp_path / "a.vult", "--name", "Out", "--ecdsa", "02" + "33" * 32)
    import_ok(store, pp, a)
    r = vultfs("export", store, pp, "Out", "-", opts=["--export-password", "none"])
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert r.stdout == a.read_bytes()
    # encrypted, stdout gives what a file gets
    f = tmp_path / "f.vult"
    assert vultfs("export", store, pp, "Out", f).returncode == 0
    r = vultfs("export", store, pp, "Out", "-")
    assert r.returncode == 0 and r.stdout == f.read_bytes()
    assert not (Path.cwd() / "-").exists()


@pytest.mark.parametrize("lib, word", [("dkls", "share"), ("gg20", "part")])
def test_export_into_a_directory_takes_the_apps_name(store, pp, tmp_path, lib, word):
    """<name>-<last 4 hex>-share<i>of<n>.vult, i the device's place among the
    signers; GG20 says part, so that the desktop app does not take it for DKLS."""
    key = "02" + "44" * 31 + "9f3c"
    a = mkvault(tmp_path / "a.vult", "--name", "Dir/Out", "--ecdsa", key, "--lib", lib,
                "--device", "mac-2", "--signers", "phone-1,mac-2,server-3")
    import_ok(store, pp, a)
    outdir = tmp_path / "exports"
    outdir.mkdir()
    r = vultfs("export", store, pp, "Dir_Out", outdir, opts=["--export-password", "none"])
    assert r.returncode == 0, r.stderr
    assert [p.name for p in outdir.iterdir()] == [f"Dir_Out-9f3c-{word}2of3.vult"]
    assert text(r)[0] == f"vultfs: exported vault 'Dir_Out' to {outdir}/Dir_Out-9f3c-" \
        f"{word}2of3.vult\n"
    (written,) = outdir.iterdir()
    assert inspect(written)["suggested_filename"] == written.name
    # a second export never overwrites the first
    r = vultfs("export", store, pp, "Dir_Out", outdir, opts=["--export-password", "none"])
    assert r.returncode == 1 and b"exists" in r.stderr


@needs_fixtures
@pytest.mark.parametrize("name", ["Test-part2of2.vult", "qa-secure-share3of3.vult",
                                  "honeypot.bak"])
def test_export_of_fixtures_into_a_directory(store, pp, tmp_path, name):
    import_ok(store, pp, fixture(name))
    r = vultfs("list", store, pp, opts=["--json"])
    (vault,) = json.loads(r.stdout)
    outdir = tmp_path / "out"
    outdir.mkdir()
    r = vultfs("export", store, pp, vault["directory"], outdir)
    assert r.returncode == 0, r.stderr
    (written,) = outdir.iterdir()
    assert written.name == inspect(fixture(name))["suggested_filename"]
    if name == "honeypot.bak":
        assert written.name.endswith("-part1of3.vult")


# ---- what refusals say ---------------------------------------------------------------

@needs_fixtures
def test_colocation_names_the_vault_and_the_kept_device(store, pp):
    import_ok(store, pp, fixture("Test-part1of2.vult"))
    r = vultfs("import", store, pp, fixture("Test-part2of2.vult"))
    _, err = text(r)
    assert r.returncode == 1 and len(err.splitlines()) == 1, err
    assert "refused, co-location:" in err
    assert 'the store keeps device "Pixel 5a-a9b"\'s share of vault "Test private key vault"' \
        in err, err
    assert '"iPhone-EC4"' in err


def test_stale_and_conflict_name_the_vault(store, pp, tmp_path):
    a = mkvault(tmp_path / "a.vult", "--name", "Named Vault", "--ecdsa", "02" + "55" * 32)
    b = mkvault(tmp_path / "b.vult", "--from", a, "--signers", "demo-device-1,demo-device-3",
                "--tag", "b")
    import_ok(store, pp, a, b)
    conflict = mkvault(tmp_path / "c.vult", "--from", b, "--tag", "c")
    for f, outcome in ((a, "stale"), (conflict, "conflict")):
        r = vultfs("import", store, pp, f)
        _, err = text(r)
        assert r.returncode == 1 and f"refused, {outcome}:" in err, err
        assert 'vault "Named Vault"' in err, err


def test_wrong_password_says_how_to_give_one(store, pp, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("the file's own password\n")
    enc = mkvault(tmp_path / "enc.vult", "--password-file", pw, "--ecdsa", "02" + "66" * 32)
    r = vultfs("import", store, pp, enc)
    _, err = text(r)
    assert r.returncode == 1 and "refused, wrong password" in err
    assert "--import-passwords FILE" in err and "import_passwords=FILE" in err
    import_ok(store, pp, enc, opts=["--import-passwords", pw])
