"""One usage, everywhere a person reads it: each command's `--help`, the
list in `vultfs --help`, the man page's SYNOPSIS and the README's command
line block show the same forms of each command, and every option a form
names is one the command takes.

Everything is derived from the program: the commands are those
`vultfs --help` lists, and each command's own `--help` is the reference.
A command or option added later needs no change here; the test says what
differs where.

Environment: VULTFS_BIN (the vultfs binary).
"""
import os
import re
import subprocess
from pathlib import Path

import pytest

VULTFS = os.environ.get("VULTFS_BIN", "build/fs/vultfs")
ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "docs" / "vultfs.1"
README = ROOT / "README.md"


def run(*args):
    return subprocess.run([VULTFS, *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def normal(text):
    return " ".join(text.split())


def is_form_start(text):
    return text.startswith("vultfs ") or text.startswith("mount -t fuse.vultfs ")


def forms_of_lines(lines):
    """Forms from indented synopsis lines: a line that starts a form
    (`vultfs ...`, `mount -t fuse.vultfs ...`) at the least indentation,
    continued by the deeper lines under it; other lines end a form."""
    forms, current, indent = [], None, None
    for line in lines:
        text = line.strip()
        depth = len(line) - len(line.lstrip())
        if text and is_form_start(text) and (indent is None or depth <= indent):
            current, indent = [text], depth
            forms.append(current)
        elif text and current is not None and depth > indent:
            current.append(text)
        else:
            current = None
    return [normal(" ".join(f)) for f in forms]


def help_forms(command):
    """The forms of `vultfs COMMAND --help`: its lines before the first
    blank one, "usage: " taken off."""
    r = run(command, "--help")
    assert r.returncode == 0 and r.stdout.startswith(f"usage: vultfs {command}"), r
    head = r.stdout.split("\n\n", 1)[0].splitlines()
    return forms_of_lines([" " * 7 + head[0][len("usage: "):]] + head[1:])


def program_forms():
    """{command: forms} from `vultfs --help` (every command it lists)."""
    r = run("--help")
    assert r.returncode == 0, r
    listed = r.stdout.split("commands:\n", 1)[1]
    forms = forms_of_lines(listed.splitlines())
    commands = []
    for f in forms:
        if f.startswith("vultfs "):
            name = f.split()[1]
            if name not in commands:
                commands.append(name)
    assert commands, r.stdout
    return commands, forms


def man_forms():
    text = MAN.read_text()
    synopsis = text.split(".SH SYNOPSIS\n", 1)[1].split("\n.SH ", 1)[0]
    forms = []
    for chunk in synopsis.split("\n.br\n"):
        words = []
        for line in chunk.splitlines():
            if line.startswith(".B "):
                line = line[3:]
            elif line.startswith("."):
                raise AssertionError(f"{MAN}: SYNOPSIS uses a macro this test cannot read: {line}")
            words.append(line)
        plain = re.sub(r"\\f[BIRP]", "", " ".join(words)).replace("\\-", "-")
        forms.append(normal(plain))
    return forms


def readme_forms():
    text = README.read_text()
    block = text.split("## Command line\n", 1)[1].split("```\n", 2)[1]
    # a comment ends a line: two spaces and a '#'
    return forms_of_lines(re.sub(r"\s+#.*$", "", line) for line in block.splitlines())


@pytest.fixture(scope="module")
def reference():
    commands, _ = program_forms()
    return commands, [f for c in commands for f in help_forms(c)]


def test_vultfs_help_shows_each_commands_own_usage(reference):
    commands, expected = reference
    _, listed = program_forms()
    assert listed == expected, "vultfs --help differs from the commands' own --help"


def test_man_page_synopsis_is_the_programs(reference):
    _, expected = reference
    missing = [f for f in expected if f not in man_forms()]
    extra = [f for f in man_forms() if f not in expected]
    assert not missing and not extra, (
        f"{MAN} SYNOPSIS drifted from the program's usage:\n"
        f"  only in --help: {missing}\n  only in the man page: {extra}")


def test_readme_command_line_is_the_programs(reference):
    _, expected = reference
    missing = [f for f in expected if f not in readme_forms()]
    extra = [f for f in readme_forms() if f not in expected]
    assert not missing and not extra, (
        f"{README} 'Command line' drifted from the program's usage:\n"
        f"  only in --help: {missing}\n  only in the README: {extra}")


def options_of(form):
    """(option, a value for it or None) for each option a form names."""
    tokens = re.sub(r"([\[\]|])", r" \1 ", form).split()
    found = []
    for i, token in enumerate(tokens):
        if not re.fullmatch(r"--?[a-zA-Z][\w-]*", token):
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else "]"
        value = None if following in "[]|" or following.startswith("-") else following
        found.append((token, value))
    return found


def test_every_option_in_a_usage_is_taken_by_its_command(reference):
    """Run without operands, the command stops at the operand count, after
    its options were parsed: an option it does not take says so."""
    commands, _ = reference
    checked = 0
    for command in commands:
        for form in help_forms(command):
            if not form.startswith(f"vultfs {command}"):
                continue  # mount(8)'s form: its options are the mount's
            for option, value in options_of(form):
                args = [command, option] + ([value] if value else [])
                r = run(*args)
                assert "unknown option" not in r.stderr, (args, r.stderr)
                assert r.returncode == 2, (args, r.returncode, r.stderr)
                checked += 1
    assert checked > len(commands)

