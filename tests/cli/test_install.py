"""`meson install`: what a packager or a user building from source gets.

Installs the build into a temporary DESTDIR and checks what lands there: the
program, the man page, the systemd units (which systemd itself must accept)
and bash completion; and that the program is built hardened (PIE, full
RELRO, stack protector, _FORTIFY_SOURCE).

Environment: VULTFS_BIN (build/fs/vultfs): its build directory is installed.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

VULTFS = Path(os.environ.get("VULTFS_BIN", "build/fs/vultfs")).resolve()
BUILD = VULTFS.parents[1]


def run(args, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                          **kw)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if not (BUILD / "build.ninja").exists():
        pytest.skip(f"no meson build directory at {BUILD}")
    dest = tmp_path_factory.mktemp("destdir")
    res = run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", dest])
    assert res.returncode == 0, res.stdout + res.stderr
    prefix = run(["meson", "introspect", "--buildoptions", BUILD])
    import json
    opts = {o["name"]: o["value"] for o in json.loads(prefix.stdout)}
    return dest, Path(dest) / Path(opts["prefix"]).relative_to("/")


def test_install_puts_every_piece_in_place(installed):
    _, root = installed
    for rel in ["bin/vultfs", "share/man/man1/vultfs.1",
                "lib/systemd/system/vultfs@.service", "lib/systemd/user/vultfs@.service",
                "share/bash-completion/completions/vultfs"]:
        assert (root / rel).is_file(), f"{rel} not installed"
    assert os.access(root / "bin/vultfs", os.X_OK)
    res = run([root / "bin/vultfs", "--version"])
    assert res.returncode == 0 and res.stdout.startswith("vultfs ")
    # test programs are not installed
    assert not list(root.rglob("mkvault")) and not list(root.rglob("test_*"))


def test_man_page_documents_the_units(installed):
    _, root = installed
    text = (root / "share/man/man1/vultfs.1").read_text()
    assert "vultfs@" in text and "systemd-creds" in text and "LoadCredential" in text
    assert "fuse.vultfs" in text and "passphrase_file=" in text


@pytest.mark.parametrize("kind", ["system", "user"])
def test_systemd_accepts_the_units(installed, tmp_path, kind):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    dest, root = installed
    unit = (root / f"lib/systemd/{kind}/vultfs@.service").read_text()
    # the unit runs the installed program: point it at where DESTDIR put it
    prefix = str(root)[len(str(dest)):]
    assert f"ExecStart={prefix}/bin/vultfs mount -f --passphrase-file " in unit
    (tmp_path / "vultfs@.service").write_text(unit.replace(f"{prefix}/bin/", f"{root}/bin/"))
    (tmp_path / "vultfs@demo.service").symlink_to("vultfs@.service")
    args = ["systemd-analyze", "verify", "--man=no"]
    if kind == "user":
        args.append("--user")
    res = run(args + [tmp_path / "vultfs@demo.service"],
              env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)})
    assert res.returncode == 0, res.stdout + res.stderr
    # the passphrase never travels in argv or the environment
    assert "Environment=PASS" not in unit and "--passphrase " not in unit


def test_bash_completion_completes_commands_and_options(installed):
    if not shutil.which("bash"):
        pytest.skip("no bash")
    _, root = installed
    script = root / "share/bash-completion/completions/vultfs"

    def complete(*words):
        line = " ".join(f"'{w}'" for w in words)
        # it reads the usage of the vultfs that is on PATH, as installed
        res = run(["bash", "-c", f'PATH="{root}/bin:$PATH"; source "{script}"; '
                   f'COMP_WORDS=(vultfs {line}); COMP_CWORD={len(words)}; _vultfs; '
                   f'printf "%s\\n" "${{COMPREPLY[@]}}"'])
        assert res.returncode == 0, res.stderr
        return set(res.stdout.split())

    assert complete("mo") == {"mount"}
    assert "fsck" in complete("")
    assert complete("mount", "--export-s") == {"--export-scheme"}
    assert complete("mount", "--export-scheme", "l") == {"legacy"}
    assert complete("init", "--cost", "m") == {"moderate", "min"}
    # what each command's usage shows, and nothing after a number's option
    assert complete("import", "--f") == {"--flush"}
    assert complete("mount", "--notify", "") == {"yes", "no"}
    assert complete("export", "--epoch", "") == set()
    assert complete("list", "--") == {"--passphrase-file", "--json", "--help"}


def test_program_is_hardened(installed):
    if not shutil.which("readelf"):
        pytest.skip("no readelf")
    _, root = installed
    binary = root / "bin/vultfs"
    header = run(["readelf", "-h", binary]).stdout
    assert "DYN (Position-Independent Executable" in header
    dynamic = run(["readelf", "-d", binary]).stdout
    assert "BIND_NOW" in dynamic or "NOW" in dynamic
    segments = run(["readelf", "-lW", binary]).stdout
    assert "GNU_RELRO" in segments
    symbols = run(["readelf", "--dyn-syms", "-W", binary]).stdout
    assert "__stack_chk_fail" in symbols
    assert "_chk@" in symbols.replace("__stack_chk_fail@", ""), "no _FORTIFY_SOURCE checks"
