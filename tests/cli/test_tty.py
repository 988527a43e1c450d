"""The terminal prompts (passphrases, forget's confirmation) on a real
pseudo-terminal: an answer typed at once is never lost, a signal never
leaves the terminal without echo, and a confirmation (not a secret) is
shown as it is typed.

Environment: VULTFS_BIN (the vultfs binary), VULTFS_MKVAULT (tests/mkvault).
"""
import fcntl
import os
import signal
import subprocess
import termios

from test_store_cli import VULTFS, dirs, drain, import_ok, new_vault, read_until

SECRET = "typed at once 7"
TIMEOUT = 15  # seconds for any one prompt or exit


class Terminal:
    """args running with a new pseudo-terminal as its controlling terminal.
    The test keeps the terminal's own end open too (tty), to read its mode
    after the program is gone."""

    def __init__(self, args):
        self.master, slave = os.openpty()
        self.tty = os.open(os.ttyname(slave), os.O_RDWR | os.O_NOCTTY)

        def take_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([str(a) for a in args], stdin=slave,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=take_terminal)
        os.close(slave)

    def echo_is_on(self):
        return bool(termios.tcgetattr(self.tty)[3] & termios.ECHO)

    def wait(self):
        """The exit status (negative: the signal that ended it)."""
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError("the program hung at a prompt: " + drain(self.master))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        os.close(self.tty)
        os.close(self.master)


def test_init_answered_at_once_never_hangs(tmp_path):
    """Both answers typed the moment the first prompt shows (as a script on
    a pty does): 30 runs, each completes and the store opens with it."""
    for run in range(30):
        path = tmp_path / f"s{run}"
        t = Terminal([VULTFS, "init", "--cost", "min", path])
        try:
            read_until(t.master, "passphrase: ", timeout=TIMEOUT)
            os.write(t.master, f"{SECRET}\n{SECRET}\n".encode())
            assert t.wait() == 0, (run, t.proc.stderr.read())
            assert t.echo_is_on()
            assert SECRET not in drain(t.master)  # typed without echo
        finally:
            t.close()
    pp = tmp_path / "pp"
    pp.write_text(SECRET + "\n")
    assert dirs(path, pp) == []


def test_a_signal_at_the_prompt_restores_echo(tmp_path):
    """SIGINT, SIGTERM or SIGHUP while the passphrase is asked (echo off):
    the program ends by that signal, the terminal echoes again, and no
    store is made."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        path = tmp_path / f"s{sig}"
        t = Terminal([VULTFS, "init", "--cost", "min", path])
        try:
            read_until(t.master, "passphrase: ", timeout=TIMEOUT)
            assert not t.echo_is_on()  # asking
            t.proc.send_signal(sig)
            assert t.wait() == -sig
            assert t.echo_is_on(), signal.Signals(sig).name
        finally:
            t.close()
        assert not path.exists()


def test_a_stop_at_the_prompt_asks_again(tmp_path):
    """SIGTSTP at the prompt: the terminal is restored for the stop, and the
    prompt shows again afterwards (here the stop itself is discarded: the
    program leads its own session, an orphaned process group)."""
    path = tmp_path / "s"
    t = Terminal([VULTFS, "init", "--cost", "min", path])
    try:
        read_until(t.master, "passphrase: ", timeout=TIMEOUT)
        t.proc.send_signal(signal.SIGTSTP)
        read_until(t.master, "passphrase: ", timeout=TIMEOUT)
        os.write(t.master, f"{SECRET}\n".encode())
        read_until(t.master, "Repeat it: ", timeout=TIMEOUT)
        os.write(t.master, f"{SECRET}\n".encode())
        assert t.wait() == 0
        assert t.echo_is_on()
    finally:
        t.close()
    assert path.is_dir()


def test_forget_confirmation_is_echoed(tmp_path):
    """The vault's name typed to confirm forget is not a secret: it shows."""
    pp = tmp_path / "pp"
    pp.write_text(SECRET + "\n")
    store = tmp_path / "store"
    t = Terminal([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", store])
    assert t.wait() == 0
    t.close()
    import_ok(store, pp, new_vault(tmp_path / "a.vult", name="Echo Me"))
    t = Terminal([VULTFS, "forget", "--passphrase-file", pp, store, "Echo Me"])
    try:
        read_until(t.master, "confirm: ", timeout=TIMEOUT)
        assert t.echo_is_on()
        os.write(t.master, b"Echo Me\n")
        assert "Echo Me" in read_until(t.master, "Echo Me", timeout=TIMEOUT)
        assert t.wait() == 0
    finally:
        t.close()
    assert dirs(store, pp) == []


def test_forget_prompt_shows_the_name_escaped(tmp_path):
    """Issue 20, finding 5: the prompt names the vault, and a backup chose
    that name: an escape sequence in it shows, it does not act."""
    pp = tmp_path / "pp"
    pp.write_text(SECRET + "\n")
    store = tmp_path / "store"
    t = Terminal([VULTFS, "init", "--passphrase-file", pp, "--cost", "min", store])
    assert t.wait() == 0
    t.close()
    import_ok(store, pp, new_vault(tmp_path / "a.vult", name="x\x1b[2Jy"))
    t = Terminal([VULTFS, "forget", "--passphrase-file", pp, store, "x\x1b[2Jy"])
    try:
        prompt = read_until(t.master, "confirm: ", timeout=TIMEOUT)
        assert "'x\\x1b[2Jy'" in prompt and "\x1b" not in prompt, repr(prompt)
        os.write(t.master, b"no\n")
        assert t.wait() == 1
    finally:
        t.close()
    assert dirs(store, pp) == ["x\x1b[2Jy"]
