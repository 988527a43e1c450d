"""Every CLI test keeps the state vultfs keeps outside a store (the last
change seen of each store, $XDG_STATE_HOME/vultfs) in its own directory:
one test's store never looks rolled back to another's, and nothing is left
in the home directory of whoever runs the suite."""
import os
import tempfile

import pytest

# fixtures of wider scope (a module's store) run before the one below: they
# too keep their state away from the home directory
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="vultfs-test-state-")


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    state = tmp_path / "xdg-state"
    state.mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state
