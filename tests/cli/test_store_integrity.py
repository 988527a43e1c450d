"""The store's own files as an attacker or bad luck leaves them: a store
directory another user owns or can write to, links, FIFOs and devices in
place of store files, and a damaged vultfs.json. Each gives one clear
error line quickly (every run has a timeout: a hang fails the test), and
nothing outside the store is touched.

Runs as root (ownership tests chown to nobody).
"""
import base64
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from test_store_cli import (VULTFS, assert_one_error_line, dirs, import_ok, new_vault,  # noqa: F401
                            pp, run, snapshot, store, vultfs)

NOBODY = 65534
QUICK = 10  # seconds: far above a cheap store's open, far below a hang

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown)")


def quick(command, store, *operands, pp):
    if command == "import" and not operands:
        operands = (new_vault(Path(store).parent / "b.vult", name="Beta"),)
    return run([VULTFS, command, "--passphrase-file", pp, store, *operands], timeout=QUICK)


@pytest.fixture
def filled(store, pp, tmp_path):
    import_ok(store, pp, new_vault(tmp_path / "a.vult", name="Alpha"))
    return store


def a_record(store):
    return next((Path(store) / "shares").glob("*.rec"))


# ---- ownership and mode (item 7) ---------------------------------------------

@needs_root
def test_init_refuses_a_directory_another_user_owns(tmp_path, pp):
    target = tmp_path / "theirs"
    target.mkdir(mode=0o755)
    os.chown(target, NOBODY, NOBODY)
    r = run([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", target], timeout=QUICK)
    assert_one_error_line(r, str(target), "owned by another user")
    assert os.listdir(target) == []
    st = target.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY, 0o755)


@needs_root
def test_store_owned_by_another_user_is_refused(filled, pp):
    for p in [filled, *Path(filled).rglob("*")]:
        os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
    before = snapshot(filled, with_lock=True)
    for command in ("list", "fsck", "import", "passwd"):
        r = quick(command, filled, pp=pp)
        assert_one_error_line(r, str(filled), "owned by another user", "uid %d" % NOBODY)
    assert snapshot(filled, with_lock=True) == before


@pytest.mark.parametrize("bits", [stat.S_IWGRP, stat.S_IWOTH])
def test_store_writable_by_others_is_refused(filled, pp, bits):
    os.chmod(filled, 0o700 | bits)
    before = snapshot(filled, with_lock=True)
    r = quick("list", filled, pp=pp)
    assert_one_error_line(r, str(filled), "writable by group or others", "chmod 700")
    assert snapshot(filled, with_lock=True) == before
    os.chmod(filled, 0o700)
    os.chmod(filled / "shares", 0o700 | bits)
    r = quick("list", filled, pp=pp)
    assert_one_error_line(r, "shares/ is writable by group or others", "chmod 700")
    os.chmod(filled / "shares", 0o700)
    assert quick("list", filled, pp=pp).returncode == 0


# ---- links, FIFOs and devices in place of store files (item 7) ---------------

STORE_FILES = ["vultfs.json", "vaults", "vault record", "lock", "shares", "record"]


def replace_with(store, name, kind, victim):
    if name == "record":
        path = a_record(store)
    elif name == "vault record":
        path = next((Path(store) / "vaults").glob("*.rec"))
    else:
        path = Path(store) / name
    if path.is_dir():
        os.rename(path, Path(store).parent / (path.name + "-moved"))
    elif path.exists():
        os.rename(path, Path(store).parent / (path.name + ".moved"))
    if kind == "symlink":
        os.symlink(victim, path)
    elif kind == "fifo":
        os.mkfifo(path, 0o600)
    else:
        os.symlink("/dev/null", path)  # a link to a device: refused as a link
        os.unlink(path)
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null
    return "vaults/" + path.name if name == "vault record" else path.name


@needs_root
@pytest.mark.parametrize("kind", ["symlink", "fifo", "device"])
@pytest.mark.parametrize("name", STORE_FILES)
def test_no_link_fifo_or_device_is_followed_or_waited_on(filled, pp, tmp_path, name, kind):
    victim = tmp_path / "victim.txt"
    victim.write_text("the victim's own bytes\n")
    victim_stat = victim.stat()
    shown = replace_with(filled, name, kind, victim)
    kinds = {"symlink": "a symbolic link", "fifo": "a FIFO", "device": "a device"}
    # the store opens with a bad record, which fsck reports; any other
    # bad file stops every command (the lock file only those that change
    # the store: readers take no lock and never open it)
    if name == "record":
        commands = ("fsck",)
    elif name == "lock":
        commands = ("import",)
    else:
        commands = ("list", "fsck", "import")
    for command in commands:
        try:
            r = quick(command, filled, pp=pp)
        except subprocess.TimeoutExpired:
            pytest.fail(f"vultfs {command} hung on a {kind} in place of {name}")
        assert r.returncode == 1, (command, r.stdout, r.stderr)
        if name == "record":
            assert "0 records ok, 1 damaged" in r.stdout, r.stdout
        else:
            assert_one_error_line(r, str(filled), f"{shown} is {kinds[kind]}")
    assert victim.read_text() == "the victim's own bytes\n"
    assert victim.stat().st_mtime_ns == victim_stat.st_mtime_ns


# ---- vultfs.json's values (item 8) ---------------------------------------------

def config_path(store):
    return Path(store) / "vultfs.json"


def edit_config(store, change, keep_checksum=True):
    path = config_path(store)
    config = json.loads(path.read_text())
    if not keep_checksum:
        config.pop("checksum", None)
    change(config)
    path.write_text(json.dumps(config, indent=2))


def set_kdf(key, value):
    return lambda c: c["kdf"].__setitem__(key, value)


OTHER_SALT = base64.b64encode(bytes(range(16))).decode()
DAMAGE = {
    "opslimit 2^32-1": set_kdf("opslimit", 4294967295),
    "opslimit 13": set_kdf("opslimit", 13),
    "opslimit 0": set_kdf("opslimit", 0),
    "opslimit text": set_kdf("opslimit", "2"),
    "memlimit 2^62": set_kdf("memlimit", 1 << 62),
    "memlimit 1 GiB + 1": set_kdf("memlimit", (1 << 30) + 1),
    "memlimit 0": set_kdf("memlimit", 0),
    "another salt": set_kdf("salt", OTHER_SALT),
    "short salt": set_kdf("salt", base64.b64encode(bytes(15)).decode()),
    "salt not canonical": set_kdf("salt", OTHER_SALT[:-3] + "B=="),
    "algorithm": set_kdf("algorithm", "argon2i13"),
    "format 0": lambda c: c.__setitem__("format", 0),
    "no kdf": lambda c: c.pop("kdf"),
    "master key shortened": lambda c: c.__setitem__("master_key", c["master_key"][4:]),
    "checksum": lambda c: c.__setitem__("checksum", "0" * 16),
}


@pytest.mark.parametrize("keep_checksum", [True, False], ids=["with checksum", "without"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_config_is_reported_as_damaged(filled, pp, damage, keep_checksum):
    if damage == "checksum" and not keep_checksum:
        pytest.skip("nothing to damage")
    if damage == "another salt" and not keep_checksum:
        pytest.skip("without the checksum a changed salt is a wrong passphrase")
    edit_config(filled, DAMAGE[damage], keep_checksum)
    before = snapshot(filled, with_lock=True)
    for command in ("list", "passwd"):
        try:
            r = quick(command, filled, pp=pp)
        except subprocess.TimeoutExpired:
            pytest.fail(f"vultfs {command} hung on {damage}")
        line = assert_one_error_line(r, str(filled), "vultfs.json is damaged")
        assert "passphrase" not in line.lower()
    assert snapshot(filled, with_lock=True) == before


def test_config_that_is_not_json_is_damaged(filled, pp):
    config_path(filled).write_text('{"format": 1, "kdf": ')
    assert_one_error_line(quick("list", filled, pp=pp), "vultfs.json is damaged")


def test_config_without_checksum_opens_and_gets_one(filled, pp, tmp_path):
    """A store written before the checksum existed opens; the next config
    write (passwd) adds it."""
    edit_config(filled, lambda c: None, keep_checksum=False)
    assert "checksum" not in json.loads(config_path(filled).read_text())
    assert quick("list", filled, pp=pp).returncode == 0
    new_pp = tmp_path / "new-pp"
    new_pp.write_text("another passphrase\n")
    r = run([VULTFS, "passwd", "--passphrase-file", pp, "--new-passphrase-file", new_pp, filled])
    assert r.returncode == 0, r.stderr
    config = json.loads(config_path(filled).read_text())
    assert len(config["checksum"]) == 16
    assert dirs(filled, new_pp) == ["Alpha"]


def test_wrong_passphrase_is_still_a_wrong_passphrase(filled, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    assert_one_error_line(quick("list", filled, pp=wrong), "wrong passphrase")
