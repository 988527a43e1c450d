"""The README's "Backups" recipes that no other mount test runs as written:
restic from inside the mount and restored straight into an empty mount, a
tar restore run twice, a copy of another store's mount restored with that
store's export password given by --import-passwords, and a second rsync of
an unchanged mount that copies nothing."""
from test_backup_tools import populate, restic  # noqa: F401 (restic: a fixture)

PLAIN = ["--export-password", "none"]


def test_restic_from_inside_the_mount_restores_into_an_empty_mount(mount_factory, vaults,
                                                                     lib, restic):
    """cd MNT && restic backup . ; cd NEW && restic restore latest --target ."""
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    before = lib.snapshot(src.mnt)
    restic("backup", "-q", ".", cwd=src.mnt)
    dst = mount_factory("dst", PLAIN)
    r = restic("restore", "latest", "--target", ".", cwd=dst.mnt)
    assert "error" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    assert lib.snapshot(dst.mnt) == before
    dst.restart()
    assert lib.snapshot(dst.mnt) == before


def test_tar_restore_run_again_with_skip_old_files(mount_factory, vaults, lib, tmp_path):
    """A second tar -x into the restored mount: plain tar would unlink every
    file first (and shares are not deleted that way); --skip-old-files
    leaves what is there, and finishes without a word."""
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    before = lib.snapshot(src.mnt)
    archive = tmp_path / "vaults.tar"
    lib.run(["tar", "--xattrs", "-C", src.mnt, "-cf", archive, "."])
    dst = mount_factory("dst", PLAIN)
    for _ in range(2):
        r = lib.run(["tar", "--xattrs", "--skip-old-files", "-C", dst.mnt, "-xf", archive])
        assert r.stderr == "", r.stderr
        assert lib.snapshot(dst.mnt) == before


def test_restore_another_stores_copy_needs_its_export_password(mount_factory, vaults, lib,
                                                               tmp_path):
    """Exports are encrypted with the source store's export password (its
    passphrase by default). A new store with another passphrase refuses them
    until that password is given with --import-passwords."""
    src = mount_factory("src", passphrase="the old store's passphrase")
    populate(src, vaults, lib)
    before = lib.snapshot(src.mnt, content=False)
    copy = tmp_path / "copy"
    copy.mkdir()
    lib.run(["cp", "-a", f"{src.mnt}/.", copy])

    blind = mount_factory("blind", passphrase="the new store's passphrase")
    blind.expect(r"password")
    r = lib.run(["cp", "-a", f"{copy}/.", blind.mnt], check=False)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
    assert not any(blind.mnt.glob("*/share.vult"))

    passwords = tmp_path / "import-passwords"
    passwords.write_text("the old store's passphrase\n")
    dst = mount_factory("dst", ["--import-passwords", passwords],
                        passphrase="the new store's passphrase")
    r = lib.run(["cp", "-a", f"{copy}/.", dst.mnt])
    assert r.stderr == "", r.stderr
    assert lib.snapshot(dst.mnt, content=False) == before


def test_rsync_again_copies_nothing(mount_factory, vaults, lib, tmp_path):
    """rsync's quick check (size and mtime) finds an unchanged mount
    unchanged, also after a remount: a second rsync -aX transfers nothing."""
    src = mount_factory("src", PLAIN)
    populate(src, vaults, lib)
    out = tmp_path / "copy"
    lib.run(["rsync", "-aX", f"{src.mnt}/", f"{out}/"])
    src.restart()
    r = lib.run(["rsync", "-aX", "--itemize-changes", f"{src.mnt}/", f"{out}/"])
    assert r.stdout == "", r.stdout
