"""The Debian package: scripts/package.sh builds it from a clean clone of
the committed tree with dpkg-buildpackage (debian/: debhelper and meson),
lintian finds no error in it, it holds what a user installs it for (the
program, the manual page, the systemd units, bash completion) and the
packaged program works. Built once per run, without the unit tests
(DEB_BUILD_OPTIONS=nocheck: the suite runs them itself).

The package is not installed on the machine running the tests (other
tests use the built program); apt resolves its dependencies on this
Debian instead, and the packaged program runs from the unpacked tree.

Environment: VULTFS_BIN (the built vultfs, for its version),
VULTFS_MKVAULT (tests/mkvault).
"""
import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_store_cli import MKVAULT, PASSPHRASE, VULTFS, write_secret

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 900

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dpkg-buildpackage", "lintian", "git", "dpkg-deb")) or
    not (ROOT / ".git").exists(),
    reason="needs a git checkout, dpkg-dev, debhelper and lintian (scripts/deps.sh)")


def run(args, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("timeout", 120)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    r = run([ROOT / "scripts" / "package.sh", out], env=env, timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    deb = Path(r.stdout.strip().splitlines()[-1])
    assert deb.is_file() and deb.parent == out, r.stdout
    unpacked = tmp_path_factory.mktemp("unpacked")
    assert run(["dpkg-deb", "-x", deb, unpacked]).returncode == 0
    return deb, unpacked, r.stderr


def test_lintian_finds_no_error(package):
    _, _, log = package
    assert not [line for line in log.splitlines() if line.startswith("E: ")], log


def test_it_holds_what_a_user_installs_it_for(package):
    deb, _, _ = package
    listed = run(["dpkg-deb", "-c", deb]).stdout
    paths = {line.split()[-1].lstrip(".") for line in listed.splitlines()}
    for wanted in ["/usr/bin/vultfs", "/usr/share/man/man1/vultfs.1.gz",
                   "/lib/systemd/system/vultfs@.service", "/usr/lib/systemd/user/vultfs@.service",
                   "/usr/share/bash-completion/completions/vultfs",
                   "/usr/share/doc/vultfs/copyright"]:
        assert wanted in paths, (wanted, listed)
    # nothing of the tests and no build leftovers
    assert not [p for p in paths if re.search(r"mkvault|/test_|\.h$|\.a$|meson", p)], paths
    fields = {k: run(["dpkg-deb", "-f", deb, k]).stdout.strip()
              for k in ("Package", "Version", "Depends")}
    assert fields["Package"] == "vultfs"
    built = run([VULTFS, "--version"]).stdout.split()[1]
    assert fields["Version"] == built
    # FUSE at run time, and the libraries it links (sd-bus among them)
    for dep in ("fuse3", "libfuse3-3", "libsodium23", "libsystemd0"):
        assert re.search(rf"(^|, ){dep}\b", fields["Depends"]), fields["Depends"]


def test_apt_resolves_it_on_this_debian(package):
    deb, _, _ = package
    r = run(["apt-get", "-s", "install", deb], timeout=300)
    assert r.returncode == 0 and re.search(r"^Inst vultfs ", r.stdout, re.M), r.stdout + r.stderr


def test_the_packaged_program_works(package, tmp_path):
    _, unpacked, _ = package
    vultfs = unpacked / "usr" / "bin" / "vultfs"
    r = run([vultfs, "--version"])
    assert r.returncode == 0 and r.stdout == run([VULTFS, "--version"]).stdout
    pp = write_secret(tmp_path / "pp", PASSPHRASE)
    backup = tmp_path / "v.vult"
    assert run([MKVAULT, backup]).returncode == 0
    store = tmp_path / "store"
    assert run([vultfs, "init", "--passphrase-file", pp, "--cost", "min", store]).returncode == 0
    r = run([vultfs, "import", "--passphrase-file", pp, store, backup])
    assert r.returncode == 0 and "new vault" in r.stdout, r.stdout + r.stderr
    r = run([vultfs, "list", "--passphrase-file", pp, "--json", store])
    assert r.returncode == 0 and "Demo Vault (synthetic)" in r.stdout, r.stderr


def test_its_units_run_the_packaged_program_and_its_man_page_renders(package):
    _, unpacked, _ = package
    for unit in (unpacked / "lib/systemd/system/vultfs@.service",
                 unpacked / "usr/lib/systemd/user/vultfs@.service"):
        assert "ExecStart=/usr/bin/vultfs mount " in unit.read_text(), unit
    page = gzip.decompress((unpacked / "usr/share/man/man1/vultfs.1.gz").read_bytes())
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=page,
                       capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode(errors="replace")
    assert b"SYNOPSIS" in page
