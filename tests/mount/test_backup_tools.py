"""Real backup tools (restic, borg, rclone) against a mount of several vaults.

DESIGN, "Reading": exports are deterministic and inode, size, mtime and
ctime are stable across remounts, so an incremental backup of an unchanged
mount sees no new or changed file, before and after a remount. DESIGN,
"Restoring a copy of a whole mount": what the tool restores, copied into
an empty mount of a new store, gives the same tree, epochs, xattrs and
(with unencrypted exports) bytes.
"""
import json
import os
import shutil
import subprocess

import pytest

PLAIN = ["--export-password", "none"]
TIMEOUT = 60


def tool_run(args, env, cwd=None):
    res = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=TIMEOUT)
    if res.returncode != 0:
        raise AssertionError(f"{args} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
    return res


def populate(m, vaults, lib):
    """Alpha: DKLS, two reshares (signers change); Gamma: GG20 reshare
    (prefix); Beta: one epoch."""
    lib.add_reshared_vaults(m, vaults)
    lib.run(["cp", vaults.make(name="Beta", ecdsa=lib.ecdsa(2)), m.mnt])


def check_tree(mnt):
    assert sorted(os.listdir(mnt)) == ["Alpha", "Beta", "Gamma"]
    assert os.listdir(mnt / "Alpha" / "history") == ["epoch-1.vult", "epoch-2.vult"]
    assert os.getxattr(mnt / "Alpha" / "share.vult", "user.vult.epoch") == b"3"
    assert os.getxattr(mnt / "Alpha" / "history" / "epoch-1.vult", "user.vult.superseded") \
        == b"true"
    assert os.getxattr(mnt / "Gamma" / "share.vult", "user.vult.epoch") == b"2"
    assert os.getxattr(mnt / "Gamma" / "share.vult", "user.vult.reshare_prefix") == b"2c5e9ced"
    assert os.getxattr(mnt / "Beta" / "share.vult", "user.vult.epoch") == b"1"


def regular_files(mnt):
    return sorted(os.path.relpath(os.path.join(d, f), mnt)
                  for d, _, files in os.walk(mnt) for f in files)


def without_xattrs(snap):
    return {k: (kind, size, data) for k, (kind, size, _x, data) in snap.items()}


def restore_into_new_mount(copy, before, mount_factory, lib):
    """cp -a the tool's restored tree into an empty mount of a new store."""
    dst = mount_factory("dst", PLAIN)
    r = lib.run(["cp", "-a", f"{copy}/.", dst.mnt])
    assert r.stderr == "", r.stderr
    check_tree(dst.mnt)
    assert lib.snapshot(dst.mnt) == before
    dst.restart()
    assert lib.snapshot(dst.mnt) == before
    return dst


# ---- restic -----------------------------------------------------------------

@pytest.fixture
def restic(tmp_path):
    if shutil.which("restic") is None:
        pytest.skip("restic is not installed")
    pw = tmp_path / "restic-pw"
    pw.write_text("restic test password\n")
    env = dict(os.environ, RESTIC_REPOSITORY=str(tmp_path / "restic-repo"),
               RESTIC_PASSWORD_FILE=str(pw), RESTIC_CACHE_DIR=str(tmp_path / "restic-cache"),
               RESTIC_PROGRESS_FPS="0.016", HOME=str(tmp_path))
    tool_run(["restic", "init", "-q"], env)

    def call(*args, cwd=None):
        return tool_run(["restic", *args], env, cwd=cwd)
    return call


def restic_backup(restic, path):
    """The summary of `restic backup --json PATH`."""
    out = restic("backup", "--json", "--host", "vultfs-test", path).stdout
    summaries = [json.loads(line) for line in out.splitlines()
                 if line.startswith("{") and '"summary"' in line]
    assert len(summaries) == 1, out
    return summaries[0]


def restic_nodes(restic, snapshot, under):
    """{path: what restic stored of it} for everything below UNDER."""
    nodes = map(json.loads, restic("ls", "--json", snapshot).stdout.splitlines())
    return {n["path"]: n for n in nodes
            if n.get("struct_type") == "node" and n["path"].startswith(f"{under}/")}


def test_restic(mount_factory, vaults, lib, tmp_path, restic):
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    check_tree(src.mnt)
    files = regular_files(src.mnt)
    before = lib.snapshot(src.mnt)

    first = restic_backup(restic, src.mnt)
    assert first["files_new"] == len(files), first
    second = restic_backup(restic, src.mnt)
    assert (second["files_new"], second["files_changed"], second["files_unmodified"]) \
        == (0, 0, len(files)), second

    src.restart()  # inode, size, mtime, ctime stable across remounts
    third = restic_backup(restic, src.mnt)
    assert (third["files_new"], third["files_changed"], third["files_unmodified"]) \
        == (0, 0, len(files)), third
    # no new data, and every file and directory of the mount stored as it
    # was (restic also stores the mount's parent directories, and on a
    # shared machine /tmp changes under it: data_added counts that too)
    assert third["data_blobs"] == 0, third
    kept = restic_nodes(restic, second["snapshot_id"], src.mnt)
    assert len(kept) == len(lib.snapshot(src.mnt))
    assert restic_nodes(restic, third["snapshot_id"], src.mnt) == kept

    target = tmp_path / "restic-restore"
    restic("restore", "latest", "--target", target)
    copy = target / str(src.mnt).lstrip("/")
    restored = lib.snapshot(copy)
    assert without_xattrs(restored) == without_xattrs(before)
    assert restored == before  # restic 0.14 restores user.* xattrs
    restore_into_new_mount(copy, before, mount_factory, lib)


# ---- borg -------------------------------------------------------------------

@pytest.fixture
def borg(tmp_path):
    if shutil.which("borg") is None:
        pytest.skip("borg is not installed")
    env = dict(os.environ, BORG_PASSPHRASE="borg test passphrase",
               BORG_BASE_DIR=str(tmp_path / "borg-base"), BORG_REPO=str(tmp_path / "borg-repo"),
               BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes",
               BORG_RELOCATED_REPO_ACCESS_IS_OK="yes", BORG_DISPLAY_PASSPHRASE="no",
               BORG_EXIT_CODES="modern", HOME=str(tmp_path))
    tool_run(["borg", "init", "-e", "repokey"], env)

    def call(*args, cwd=None):
        return tool_run(["borg", *args], env, cwd=cwd)
    return call


def borg_listed(borg, archive, cwd, *paths):
    """The `--list --filter=AME` lines of a borg create: added, modified,
    error (borg writes the list to stderr)."""
    res = borg("create", "--list", "--filter=AME", f"::{archive}", *paths, cwd=cwd)
    return [line for line in (res.stderr + res.stdout).splitlines() if line.strip()]


def test_borg(mount_factory, vaults, lib, tmp_path, borg):
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    check_tree(src.mnt)
    files = regular_files(src.mnt)
    before = lib.snapshot(src.mnt)
    # borg's files cache keeps inode, size and ctime per file, but never
    # remembers the files with the newest ctime of a run (they might still
    # change within the timestamp granularity). A file outside the mount,
    # made after every import, takes that role so that every file of the
    # mount is remembered; it is left out of the comparisons below.
    (tmp_path / "newest").write_text("made after the imports\n")
    mnt = src.mnt.name  # borg runs in tmp_path: relative paths in the archive

    first = borg_listed(borg, "a", tmp_path, mnt, "newest")
    assert sorted(line.split(" ", 1)[1] for line in first if line.startswith("A ")) \
        == sorted([f"{mnt}/{f}" for f in files] + ["newest"]), first
    second = borg_listed(borg, "b", tmp_path, mnt, "newest")
    assert [line for line in second if mnt in line] == [], second

    src.restart()  # the files cache is keyed by path; inode/size/ctime must match
    third = borg_listed(borg, "c", tmp_path, mnt, "newest")
    assert [line for line in third if mnt in line] == [], third

    out = tmp_path / "borg-extract"
    out.mkdir()
    borg("extract", "::c", mnt, cwd=out)
    copy = out / mnt
    assert lib.snapshot(copy) == before  # borg restores user.* xattrs
    restore_into_new_mount(copy, before, mount_factory, lib)


def test_borg_extract_into_mount(mount_factory, vaults, lib, tmp_path, borg):
    """borg extract run inside an empty mount of a new store restores it
    directly: the same tree, epochs, xattrs and bytes, no error from borg."""
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    before = lib.snapshot(src.mnt)
    borg("create", "::a", ".", cwd=src.mnt)
    dst = mount_factory("dst", PLAIN)
    res = borg("extract", "::a", cwd=dst.mnt)
    assert res.stderr == "", res.stderr
    check_tree(dst.mnt)
    assert lib.snapshot(dst.mnt) == before
    dst.restart()
    assert lib.snapshot(dst.mnt) == before


# ---- rclone -----------------------------------------------------------------

def test_rclone_sync_out_and_copy_back(mount_factory, vaults, lib, tmp_path):
    """rclone sync of a mount to a folder, then rclone copy of that folder
    into an empty mount of a new store. rclone copies in parallel, in no
    fixed order, and checks each file's size right after writing it: a
    vault.json that lands before all of its vault's epochs are back shows
    its size of the moment, and rclone retries (its default --retries 3).
    Within those retries it ends with exit 0, and the result is identical."""
    if shutil.which("rclone") is None:
        pytest.skip("rclone is not installed")
    env = dict(os.environ, RCLONE_CONFIG=str(tmp_path / "rclone.conf"), HOME=str(tmp_path))
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    before = lib.snapshot(src.mnt)
    out = tmp_path / "rclone-out"
    # rclone leaves empty directories (a vault's empty history/) behind
    # unless told otherwise
    tool_run(["rclone", "sync", "--create-empty-src-dirs", src.mnt, out], env)
    assert regular_files(out) == regular_files(src.mnt)
    # an unchanged mount: the second sync transfers nothing
    again = tool_run(["rclone", "sync", "-v", "--create-empty-src-dirs", src.mnt, out], env)
    assert "Copied" not in again.stderr, again.stderr

    dst = mount_factory("dst", PLAIN)
    tool_run(["rclone", "copy", "--create-empty-src-dirs", out, dst.mnt], env)
    check_tree(dst.mnt)
    assert without_xattrs(lib.snapshot(dst.mnt)) == without_xattrs(before)
    check = tool_run(["rclone", "check", src.mnt, dst.mnt], env)
    assert "0 differences found" in check.stderr
