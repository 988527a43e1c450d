"""Passphrases and passwords from files that are not plain files (issue 20,
finding 8), for the store commands: a FIFO no one writes fails in a bounded
time with one line and changes nothing; a process substitution, <(...),
works as a file does.

Environment: VULTFS_BIN, VULTFS_MKVAULT.
"""
import os
import subprocess
import time

import pytest

from test_store_cli import (PASSPHRASE, VULTFS, assert_one_error_line, new_vault, pp,
                            snapshot, store, write_secret)  # noqa: F401

WAIT = 2  # VULTFS_TEST_SECRET_WAIT
BOUND = 20


def run_bounded(args, shell=False):
    env = dict(os.environ, VULTFS_TEST_SECRET_WAIT=str(WAIT))
    try:
        return subprocess.run(args if shell else [str(a) for a in args], capture_output=True,
                              text=True, timeout=BOUND, env=env, stdin=subprocess.DEVNULL,
                              shell=shell, executable="/bin/bash" if shell else None,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still waiting after {BOUND} s: {args}")


@pytest.mark.parametrize("option", ["--passphrase-file", "--import-passwords"])
def test_import_from_a_fifo_no_one_writes(tmp_path, store, pp, option):
    src = new_vault(tmp_path / "a.vult")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    before = snapshot(store)
    args = [VULTFS, "import", option, fifo, store, src]
    if option != "--passphrase-file":
        args[2:2] = ["--passphrase-file", pp]
    start = time.monotonic()
    r = run_bounded(args)
    assert WAIT <= time.monotonic() - start < BOUND
    assert_one_error_line(r, str(fifo), f"nothing to read within {WAIT} s", "FIFO")
    assert snapshot(store) == before


def test_process_substitution_works(tmp_path, store):
    pw = "the file's own password"
    src = new_vault(tmp_path / "enc.vult", "--password-file",
                    write_secret(tmp_path / "pw", pw))
    r = run_bounded(f"{VULTFS} import --passphrase-file <(printf '%s\\n' '{PASSPHRASE}') "
                    f"--import-passwords <(printf 'other\\n%s\\n' \"{pw}\") {store} {src}",
                    shell=True)
    assert r.returncode == 0, r.stderr
    assert "new vault" in r.stdout
    r = run_bounded(f"{VULTFS} list --passphrase-file <(printf '%s' '{PASSPHRASE}') {store}",
                    shell=True)
    assert r.returncode == 0 and "Demo Vault" in r.stdout, r.stderr
