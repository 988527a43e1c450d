"""A refused copy into the mount tells the desktop why (desktop.c): a file
manager shows only "Operation not permitted", so the mount also sends an
org.freedesktop.Notifications notification with the file's name and the
refusal's reason to the session bus of the mounting user.

Each test runs a session bus of its own (dbus-run-session) with a
notification service of the test's (notification_service.py), which
records what a person would read; files are copied in as GNOME Files does
(`gio copy`). The text is checked against the mount's own log line, and
for the facts a person needs (the vault, the device whose share is kept).
"""
import html
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

TIMEOUT = 60
HERE = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"
NAME = "Demo Vault (synthetic)"


def _have_service_deps():
    r = subprocess.run([PYTHON, "-c", "import dbus, dbus.mainloop.glib, gi.repository.GLib"],
                       capture_output=True, timeout=TIMEOUT)
    return r.returncode == 0


pytestmark = [
    pytest.mark.skipif(shutil.which("dbus-run-session") is None,
                       reason="dbus-run-session (dbus-daemon) is not installed"),
    pytest.mark.skipif(shutil.which("gio") is None, reason="gio (libglib2.0-bin) is not installed"),
    pytest.mark.skipif(not _have_service_deps(), reason="python3-dbus or python3-gi is missing"),
]


class Desktop:
    """A session bus with a notification service on it."""

    def __init__(self, where, markup=True):
        self.records = where / "notifications.jsonl"
        ready = where / "bus-address"
        self.proc = subprocess.Popen(
            ["dbus-run-session", "--", PYTHON, HERE / "notification_service.py", self.records,
             ready, "markup" if markup else "plain"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        deadline = time.monotonic() + 15
        while not ready.exists():
            if self.proc.poll() is not None:
                raise AssertionError("the notification service exited: "
                                     + self.proc.stderr.read().decode(errors="replace"))
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("the notification service did not start within 15 s")
            time.sleep(0.05)
        self.address = ready.read_text()

    def notes(self):
        if not self.records.exists():
            return []
        return [json.loads(line) for line in self.records.read_text().splitlines()]

    def wait_for(self, count, timeout=15):
        deadline = time.monotonic() + timeout
        while len(self.notes()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.notes()

    def stop(self):
        # the whole session: the service, dbus-run-session and its bus
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)


@pytest.fixture
def desktop(tmp_path, monkeypatch):
    d = Desktop(tmp_path)
    # the mount inherits it, as a mount started in the desktop's terminal does
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", d.address)
    yield d
    d.stop()


def gio_copy(src, dst):
    """GNOME Files' copy: a .goutputstream temporary, renamed onto the name."""
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env["GIO_USE_VFS"] = "local"
    return subprocess.run(["gio", "copy", str(src), str(dst)], capture_output=True, text=True,
                          timeout=TIMEOUT, env=env)


def logged(text):
    """text as the log writes it (fs/escape.h): controls, separators and
    bidirectional marks spelt out, a backslash doubled."""
    out = []
    for ch in text:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif o < 0x20 or o == 0x7f:
            out.append(f"\\x{o:02x}")
        elif 0x80 <= o <= 0x9f or o in (0x2028, 0x2029) or 0x202a <= o <= 0x202e \
                or 0x2066 <= o <= 0x2069:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def logged_refusal(m, name):
    """(outcome, reason) of the mount's log line for the import of /name."""
    for line in m.log_path.read_text().splitlines():
        found = re.search(r"import of /" + re.escape(logged(name)) + r": ([^:]+): (.*)$", line)
        if found:
            return found.group(1), found.group(2)
    raise AssertionError(f"no log line for /{name}:\n" + m.log_path.read_text())


def refuse(m, desktop, src, name):
    """Copies src into the mount as name with gio: refused, it tells one
    notification. Returns that notification and the log's (outcome, reason)."""
    before = len(desktop.notes())
    dst = m.mnt / name
    r = gio_copy(src, dst)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert not dst.exists()
    notes = desktop.wait_for(before + 1)
    assert len(notes) == before + 1, notes
    return notes[-1], logged_refusal(m, name)


def assert_says(note, name, outcome, reason):
    """What a person reads: the file's name, and the log's reason."""
    assert note["app_name"] == "vultfs"
    assert note["summary"] == f"Not imported: {name}"
    assert html.unescape(note["body"]) == f"{outcome}: {reason}", note


def refused_kinds(vaults, lib, tmp_path):
    """Each kind of refusal a copy can meet, against a mount holding
    `held` (device demo-device-1, reshared once: its first generation is
    in history/). {kind: (file, facts the notification must name)}."""
    first = vaults.make()
    held = vaults.make(from_=first, signers="demo-device-1,demo-device-3", tag="reshared")
    other = vaults.make(from_=held, device="demo-device-3")
    password = tmp_path / "pw"
    password.write_text("a password this store does not know\n")
    locked = vaults.make(name="Locked", ecdsa=lib.ecdsa(9), password_file=password)
    incomplete = vaults.make("--incomplete", name="Lacking", ecdsa=lib.ecdsa(10))
    corrupt = tmp_path / "corrupt.vult"
    corrupt.write_bytes(held.read_bytes()[:200])
    return (first, held), {
        "co-location": (other, [NAME, "demo-device-1", "demo-device-3"]),
        "stale": (first, [NAME]),
        "wrong password": (locked, ["password"]),
        "incomplete": (incomplete, ["Lacking"]),
        "corrupt": (corrupt, []),
    }


@pytest.mark.parametrize("kind", ["co-location", "stale", "wrong password", "incomplete",
                                  "corrupt"])
def test_each_refused_copy_tells_why(kind, desktop, mount_factory, vaults, lib, tmp_path):
    m = mount_factory("a")
    m.expect(r"import of /")
    (first, held), kinds = refused_kinds(vaults, lib, tmp_path)
    for accepted in (first, held):
        lib.run(["cp", accepted, m.mnt])
    assert desktop.notes() == []  # accepted imports say nothing
    src, facts = kinds[kind]
    name = f"{kind.replace(' ', '-')}.vult"
    note, (outcome, reason) = refuse(m, desktop, src, name)
    assert_says(note, name, outcome, reason)
    for fact in facts:
        assert fact in html.unescape(note["body"]), (fact, note)
    # the refusal left nothing: the vault still holds its current share only
    assert os.listdir(m.mnt) == [NAME]


def test_the_apps_colocation_example(desktop, mount_factory, lib):
    """The issue's own case, with the apps' files: Test-part2of2 into a
    mount that holds Test-part1of2."""
    if not os.environ.get("VULTFS_FIXTURES"):
        pytest.skip("VULTFS_FIXTURES is not set")
    m = mount_factory("a")
    m.expect(r"import of /")
    lib.run(["cp", lib.fixture("Test-part1of2.vult"), m.mnt])
    note, (outcome, reason) = refuse(m, desktop, lib.fixture("Test-part2of2.vult"),
                                     "Test-part2of2.vult")
    assert_says(note, "Test-part2of2.vult", outcome, reason)
    body = html.unescape(note["body"])
    for fact in ("Test private key vault", "Pixel 5a-a9b", "iPhone-EC4"):
        assert fact in body, (fact, body)


def test_a_folder_of_refusals_raises_one_notification_per_vault(desktop, mount_factory, vaults,
                                                                lib, tmp_path):
    m = mount_factory("a")
    m.expect(r"import of /")
    held = vaults.make()
    lib.run(["cp", held, m.mnt])
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(2, 8):  # six other devices of the held vault
        shutil.copy(vaults.make(from_=held, device=f"demo-device-{i}"), folder / f"device{i}.vult")
    password = tmp_path / "pw"
    password.write_text("unknown\n")
    for i in range(2):  # two files no password opens: their vault is unknown
        shutil.copy(vaults.make(name=f"Locked {i}", ecdsa=lib.ecdsa(20 + i),
                                password_file=password), folder / f"locked{i}.vult")
    started = time.monotonic()
    r = subprocess.run(["cp", *sorted(folder.iterdir()), m.mnt], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode != 0 and r.stderr.count("Operation not permitted") == 6, r.stderr
    # one at once for each vault, and one more when its window closes,
    # counting what it held back
    notes = desktop.wait_for(4, timeout=20)
    elapsed = time.monotonic() - started
    assert len(notes) == 4, notes
    first = {n["summary"]: n for n in notes[:2]}
    assert set(first) == {"Not imported: device2.vult", "Not imported: locked0.vult"}, notes
    held_back = {n["summary"]: html.unescape(n["body"]) for n in notes[2:]}
    assert set(held_back) == {"Not imported: 5 more files", "Not imported: 1 more file"}, notes
    assert NAME in held_back["Not imported: 5 more files"]
    assert elapsed >= 3, "the held-back refusals were told within a few seconds"
    time.sleep(1)
    assert len(desktop.notes()) == 4
    for i in range(2, 8):
        assert logged_refusal(m, f"device{i}.vult")[0] == "co-location"


def test_notify_no_turns_it_off(desktop, mount_factory, vaults, lib):
    short = mount_factory("short", ["-o", "notify=no"])
    long = mount_factory("long", ["--notify", "no"])
    on = mount_factory("on", ["-o", "notify=yes"])
    held = vaults.make()
    other = vaults.make(from_=held, device="demo-device-2")
    for m in (short, long, on):
        m.expect(r"import of /")
        lib.run(["cp", held, m.mnt])
    for m in (short, long):
        assert gio_copy(other, m.mnt / "off.vult").returncode != 0
        assert logged_refusal(m, "off.vult")[0] == "co-location"
    note, _ = refuse(on, desktop, other, "on.vult")
    assert note["summary"] == "Not imported: on.vult"
    time.sleep(1)  # the same bus: the others' would have come before it
    assert [n["summary"] for n in desktop.notes()] == ["Not imported: on.vult"]


def test_bad_notify_value_is_a_usage_error(mount_factory, lib):
    m = mount_factory("a", ["-o", "notify=maybe"], start=False)
    r = lib.run([lib.VULTFS, "mount", "-f", "--passphrase-file", m.pp, "-o", "notify=maybe",
                 m.store, m.mnt], check=False)
    assert r.returncode == 2 and "--notify takes yes or no" in r.stderr, r.stderr


@pytest.mark.parametrize("markup", [True, False], ids=["markup", "plain"])
def test_names_cannot_restyle_the_notification(markup, tmp_path, monkeypatch, mount_factory,
                                               vaults, lib):
    """A vault or file name from a backup may hold a newline, an escape
    sequence or tags: the person sees them spelt out, never obeyed."""
    d = Desktop(tmp_path, markup=markup)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", d.address)
    try:
        m = mount_factory("a")
        m.expect(r"import of /")
        evil = "Evil\nvault \x1b[31m<b>red</b> \u202eoops"
        held = vaults.make(name=evil)
        lib.run(["cp", held, m.mnt])
        other = vaults.make(from_=held, device="demo-device-2")
        name = "copy\x1b[2Jof.vult"
        note, _ = refuse(m, d, other, name)
        for text in (note["summary"], note["body"]):
            assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), text
        assert note["summary"] == "Not imported: copy\\x1b[2Jof.vult"
        shown = logged(evil)  # as the log and every other output spell it
        if markup:  # the server would take <b> for bold: it gets entities
            assert "<b>" not in note["body"] and html.escape(shown, quote=False) in note["body"]
        else:
            assert shown in note["body"]
    finally:
        d.stop()
