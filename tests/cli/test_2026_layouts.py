"""The 2026 vault format (issue 17), as a user meets it on the command line:
KEYIMPORT backups in every app's layout and of any size, an ML-DSA key
added to a vault with no reshare, passcode-locked shares, the new facts,
and the names exports get. Synthetic backups come from mkvault (shaped as
the apps' are); real ones from ../shared where they exist."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_store_cli import (FIXTURES, MKVAULT, VULTFS, MiB, assert_one_error_line,  # noqa: F401
                            fresh_ecdsa, import_ok, inspect_json, listing, mkvault,
                            needs_fixtures, pp, run, snapshot, store, vultfs, vultfs_opts)

LAYOUTS = ["keyimport-ios-early", "keyimport-ios", "keyimport-android", "keyimport-desktop",
           "keyimport-server"]


def keyimport(path, layout, *args, chains=20):
    return mkvault(path, "--layout", layout, "--chains", str(chains), "--ecdsa", fresh_ecdsa(),
                   "--name", f"KI {layout}", *args)


def fixture(name):
    return Path(FIXTURES) / name


MORE = Path(FIXTURES).parent / "more-fixtures" if FIXTURES else None


# ---- every layout in, at every size (findings 1-3) ---------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_keyimport_layout_imports(layout, store, pp, tmp_path):
    f = keyimport(tmp_path / "k.vult", layout)
    r = import_ok(store, pp, f)
    assert "new vault" in r.stdout
    facts = inspect_json(f)
    assert facts["lib_type"] == "KEYIMPORT" and facts["complete"] is True
    assert len(facts["chains"]) == 20 + (3 if layout == "keyimport-server" else 0)
    if layout == "keyimport-server":
        assert facts["public_key_frozt"] and facts["public_key_fromt"]
        assert {"ZcashSapling", "Monero", "SaplingExtras"} <= {c["chain"] for c in facts["chains"]}


def test_android_keyimport_of_20_chains_is_not_too_large(store, pp, tmp_path):
    """Finding 1: 20 chains of a 2-party vault in Android's layout (about
    1.3 MB) was refused as too large at a 1 MiB cap."""
    f = keyimport(tmp_path / "k.vult", "keyimport-android", "--real-size")
    assert f.stat().st_size > 1 << 20
    assert "new vault" in import_ok(store, pp, f).stdout


def test_keyimport_of_40_chains_of_a_3_party_vault(store, pp, tmp_path):
    """Finding 1: the largest real layout (40 chains, 3 parties, iOS's one
    share per chain) is well over 10 MB, and the default cap takes it."""
    f = keyimport(tmp_path / "k.vult", "keyimport-ios-early", "--real-size",
                  "--signers", "demo-device-1,demo-device-2,demo-device-3", chains=40)
    assert f.stat().st_size > 12 * MiB
    assert "new vault" in import_ok(store, pp, f).stdout
    r = vultfs_opts("import", ["--max-import", "8M"], store, f, pp=pp)
    assert_one_error_line(r, "too large", "8 MiB", "--max-import")


def test_ios_keyimport_of_39_key_shares_is_not_corrupt(store, pp, tmp_path):
    """Finding 2: more than 32 key shares was "unreadable ... corrupt"."""
    f = keyimport(tmp_path / "k.vult", "keyimport-ios-early", chains=39)
    assert inspect_json(f)["key_shares"] == 39
    assert "new vault" in import_ok(store, pp, f).stdout


def test_early_ios_keyimport_without_master_shares_is_complete(store, pp, tmp_path):
    """Finding 3: iOS (Dec 2025 - Apr 2026) wrote a share per chain key and
    none for the master keys; such files sign, chain by chain."""
    f = keyimport(tmp_path / "k.vult", "keyimport-ios-early")
    facts = inspect_json(f)
    assert facts["complete"] is True
    assert "new vault" in import_ok(store, pp, f).stdout


def test_keyimport_missing_a_chain_share_is_incomplete(store, pp, tmp_path):
    f = keyimport(tmp_path / "k.vult", "keyimport-android", "--omit", "chain:Solana")
    assert "Solana" in inspect_json(f)["incomplete"]
    before = snapshot(store)
    assert_one_error_line(vultfs("import", store, f, pp=pp), "incomplete", "chain Solana")
    assert snapshot(store) == before


# ---- ML-DSA (findings 4, 5) ------------------------------------------------------

def ml_dsa_upgrade(store, pp, tmp_path, base):
    """Imports base, then its ML-DSA upgrade: the epoch grows in place."""
    import_ok(store, pp, base)
    grown = mkvault(tmp_path / "grown.vult", "--from", base, "--mldsa")
    r = import_ok(store, pp, grown)
    assert "grown" in r.stdout and "ML-DSA" in r.stdout and "epoch 1" in r.stdout
    (vault,) = listing(store, pp)[1]
    assert [e["epoch"] for e in vault["epochs"]] == [1]
    assert vault["epochs"][0]["public_key_mldsa44"] == inspect_json(grown)["public_key_mldsa44"]
    # the lesser file is not destroyed: it stays, listed beside its epoch
    assert vault["epochs"][0]["replaced_files"] == 1
    return grown


def test_ml_dsa_key_added_replaces_the_epoch_in_place(store, pp, tmp_path):
    base = mkvault(tmp_path / "base.vult", "--ecdsa", fresh_ecdsa())
    grown = ml_dsa_upgrade(store, pp, tmp_path, base)
    # the older backup is out of date now: refused, and the store unchanged
    before = snapshot(store)
    assert_one_error_line(vultfs("import", store, base, pp=pp), "out of date",
                          "newer backup of epoch 1")
    assert snapshot(store) == before
    assert "unchanged" in import_ok(store, pp, grown).stdout
    # the export is the grown file's share
    out = tmp_path / "out.vult"
    r = vultfs_opts("export", ["--export-password", "none"], store, "Demo Vault (synthetic)",
                    out, pp=pp)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == grown.read_bytes()
    assert run([VULTFS, "fsck", "--passphrase-file", pp, store]).returncode == 0


@needs_fixtures
def test_ml_dsa_upgrade_of_a_real_backup(store, pp, tmp_path):
    """Finding 4, as the issue tried it: qa-fast-share1of2.vult, then the
    same file with public_key_mldsa44 and one more key share."""
    ml_dsa_upgrade(store, pp, tmp_path, fixture("qa-fast-share1of2.vult"))


def test_backup_without_its_ml_dsa_share_is_incomplete(store, pp, tmp_path):
    """Finding 5: it was accepted, and inspect said complete."""
    f = mkvault(tmp_path / "f.vult", "--ecdsa", fresh_ecdsa(), "--mldsa", "--omit", "mldsa")
    facts = inspect_json(f)
    assert facts["complete"] is False and "ML-DSA" in facts["incomplete"]
    before = snapshot(store)
    assert_one_error_line(vultfs("import", store, f, pp=pp), "incomplete", "ML-DSA")
    assert snapshot(store) == before


def test_other_changed_key_shares_stay_a_conflict(store, pp, tmp_path):
    base = mkvault(tmp_path / "base.vult", "--ecdsa", fresh_ecdsa())
    import_ok(store, pp, base)
    altered = mkvault(tmp_path / "alt.vult", "--from", base, "--tag", "altered", "--mldsa")
    assert_one_error_line(vultfs("import", store, altered, pp=pp), "conflict")


# ---- locked shares (finding 6) ---------------------------------------------------

@pytest.mark.parametrize("source", ["synthetic", "qa-fast-share1of2.vult"])
def test_passcode_locked_share_is_refused(source, store, pp, tmp_path):
    if source == "synthetic":
        base = mkvault(tmp_path / "base.vult", "--ecdsa", fresh_ecdsa())
    elif not FIXTURES:
        pytest.skip("VULTFS_FIXTURES is not set")
    else:
        base = fixture(source)
    locked = mkvault(tmp_path / "locked.vult", "--from", base, "--lock")
    assert inspect_json(locked)["complete"] is False
    before = snapshot(store)
    assert_one_error_line(vultfs("import", store, locked, pp=pp), "incomplete", "locked",
                          "passcode", "export it again")
    assert snapshot(store) == before


# ---- the facts (finding 7) -------------------------------------------------------

def test_new_facts_in_inspect_and_list(store, pp, tmp_path):
    f = keyimport(tmp_path / "k.vult", "keyimport-desktop", "--mldsa")
    facts = inspect_json(f)
    assert len(facts["public_key_mldsa44"]) == 2 * 1312
    assert facts["chains"][0] == {"chain": "Bitcoin", "public_key": facts["chains"][0]["public_key"],
                                  "is_eddsa": False}
    import_ok(store, pp, f)
    (vault,) = listing(store, pp)[1]
    epoch = vault["epochs"][0]
    assert epoch["public_key_mldsa44"] == facts["public_key_mldsa44"]
    assert epoch["chains"] == facts["chains"]
    r = run([VULTFS, "list", "--passphrase-file", pp, store])
    assert r.returncode == 0, r.stderr
    assert "KEYS" in r.stdout and "ML-DSA" in r.stdout and "20 chains" in r.stdout


def test_older_vaults_list_as_before(store, pp, tmp_path):
    """A vault with none of the 2026 keys lists no new fields."""
    import_ok(store, pp, mkvault(tmp_path / "v.vult", "--ecdsa", fresh_ecdsa()))
    (vault,) = listing(store, pp)[1]
    assert "public_key_mldsa44" not in vault["epochs"][0]
    assert "chains" not in vault["epochs"][0]


# ---- names (finding 8) -----------------------------------------------------------

def test_early_dkls_without_lib_type_exports_as_share(store, pp, tmp_path):
    """Finding 8: an early DKLS file lacks lib_type (it reads as GG20); its
    export was named part<i>of<n>, which Android takes for GG20."""
    f = mkvault(tmp_path / "early.vult", "--ecdsa", fresh_ecdsa(), "--name", "Early",
                "--no-lib-type")
    assert inspect_json(f)["lib_type"] == "GG20"
    assert inspect_json(f)["suggested_filename"].endswith("-share1of2.vult")
    import_ok(store, pp, f)
    out = tmp_path / "out"
    out.mkdir()
    r = vultfs_opts("export", ["--export-password", "none"], store, "Early", out, pp=pp)
    assert r.returncode == 0, r.stderr
    (name,) = os.listdir(out)
    assert name.startswith("Early-") and name.endswith("-share1of2.vult"), name
    gg20 = mkvault(tmp_path / "gg20.vult", "--ecdsa", fresh_ecdsa(), "--name", "Old", "--lib",
                   "gg20")
    import_ok(store, pp, gg20)
    r = vultfs_opts("export", ["--export-password", "none"], store, "Old", out, pp=pp)
    assert r.returncode == 0, r.stderr
    assert any(n.startswith("Old-") and n.endswith("-part1of2.vult") for n in os.listdir(out))


@needs_fixtures
def test_real_early_dkls_without_lib_type(store, pp, tmp_path):
    nolib = mkvault(tmp_path / "nolib.vult", "--from",
                    fixture("Test Fast Vault DKLS-8d9b-share1of2-nopass.vult"), "--no-lib-type")
    assert inspect_json(nolib)["suggested_filename"].endswith("-share1of2.vult")


# ---- check and audit ---------------------------------------------------------------

def test_check_calls_the_upgraded_away_backup_out_of_date(store, pp, tmp_path):
    base = mkvault(tmp_path / "base.vult", "--ecdsa", fresh_ecdsa())
    grown = ml_dsa_upgrade(store, pp, tmp_path, base)
    r = run([VULTFS, "check", "--json", "--passphrase-file", pp, store, base, grown])
    assert r.returncode == 1, r.stderr
    rows = {Path(f["path"]).name: f for f in json.loads(r.stdout)["files"]}
    assert rows["base.vult"]["status"] == "out-of-date"
    assert "ML-DSA" in rows["base.vult"]["note"]
    assert rows["grown.vult"]["status"] == "current"
    # without a store: the files against each other
    r = run([VULTFS, "check", "--json", base, grown])
    assert r.returncode == 1
    rows = {Path(f["path"]).name: f for f in json.loads(r.stdout)["files"]}
    assert rows["base.vult"]["status"] == "out-of-date" and "grown.vult" in rows["base.vult"]["note"]
    # only the fuller one: all clear
    assert run([VULTFS, "check", "--passphrase-file", pp, store, grown]).returncode == 0


def test_audit_counts_both_as_one_device(tmp_path):
    base = mkvault(tmp_path / "base.vult", "--ecdsa", fresh_ecdsa())
    mkvault(tmp_path / "grown.vult", "--from", base, "--mldsa")
    r = run([VULTFS, "audit", "--json", tmp_path])
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["findings"] == []
    other = mkvault(tmp_path / "other.vult", "--from", base, "--device", "demo-device-2",
                    "--tag", "other")
    r = run([VULTFS, "audit", "--json", tmp_path])
    assert r.returncode == 1
    (finding,) = json.loads(r.stdout)["findings"]
    assert finding["devices"] == 2, finding
    other.unlink()


# ---- the real backups of ../shared/more-fixtures (finding 10) ----------------------

MORE_FILES = [
    ("vultisig-payroll-0000-02659f817fae6c3ac300f4e375e57d2bb3ccec4e3d7cdd1032da3f5445991a4d94"
     ".vult", "test123", "Fast Vault #1"),
    ("vault_unencrypted.vult", None, "Fast Vault #2 [git]"),
    ("plugin-tests-fixture-vault_b64.vult", "Saggy@Commotion@Occupier@Registry1", "Plugin tests"),
    ("Fast Vault #2-0985-part2of2.vult", "888717", "Fast Vault #2"),
    ("02ed4e6f3ca22bfdef3f4afe4a94210436b5c4a29140944bfb180ad5737444fef2.bak", "test123",
     "FastVault-6"),
]


@needs_fixtures
@pytest.mark.parametrize("name,password,vault", MORE_FILES, ids=[m[2] for m in MORE_FILES])
def test_more_fixtures_import_and_export(name, password, vault, store, pp, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text((password or "unused") + "\n")
    r = vultfs_opts("import", ["--import-passwords", pw], store, MORE / name, pp=pp)
    assert r.returncode == 0 and "new vault" in r.stdout, (r.stdout, r.stderr)
    (listed,) = listing(store, pp)[1]
    assert listed["name"] == vault
    out = tmp_path / "export"
    out.mkdir()
    r = vultfs_opts("export", ["--export-password", "none"], store, listed["directory"], out,
                    pp=pp)
    assert r.returncode == 0, r.stderr
    (exported,) = out.iterdir()
    facts = inspect_json(exported)
    assert facts["complete"] is True and facts["name"] == vault
    # the export is what the apps would name it, and it imports as the same share
    assert exported.name == facts["suggested_filename"]
    assert "unchanged" in import_ok(store, pp, exported).stdout
    assert run([VULTFS, "check", "--passphrase-file", pp, store, exported]).returncode == 0


@needs_fixtures
def test_more_fixtures_pairs_are_co_located(store, pp, tmp_path):
    """The two pairs of one vault: each other's device is refused; audit
    sees both pairs and says each can sign."""
    pw = tmp_path / "pw"
    pw.write_text("888717\nSaggy@Commotion@Occupier@Registry1\n")
    pairs = [("Fast Vault #2-0985-part2of2.vult", "Fast Vault #2-0985-part1of2-Vultiserver.vult"),
             ("plugin-tests-fixture-vault_b64.vult", "plugin-tests-fixture-server_vault_b64.vult")]
    for mine, theirs in pairs:
        r = vultfs_opts("import", ["--import-passwords", pw], store, MORE / mine, pp=pp)
        assert r.returncode == 0, r.stderr
        r = vultfs_opts("import", ["--import-passwords", pw], store, MORE / theirs, pp=pp)
        assert_one_error_line(r, "co-location")
    d = tmp_path / "pairs"
    d.mkdir()
    for mine, theirs in pairs:
        shutil.copy(MORE / mine, d)
        shutil.copy(MORE / theirs, d)
    r = run([VULTFS, "audit", "--json", "--import-passwords", pw, d])
    assert r.returncode == 1, r.stderr
    findings = json.loads(r.stdout)["findings"]
    assert len(findings) == 2 and all(f["can_sign"] for f in findings), findings


@needs_fixtures
def test_seven_digit_reshare_prefix(store, pp, tmp_path):
    """The FastVault-6 .bak: a GG20 reshare_prefix of 7 digits, and key
    shares that state none (the server's): both taken as they are."""
    name = MORE_FILES[4][0]
    facts = inspect_json(MORE / name, password_file=_pw(tmp_path, "test123"))
    assert facts["reshare_prefix"] == "2f9b875" and facts["complete"] is True


def _pw(tmp_path, text):
    p = tmp_path / "one-pw"
    p.write_text(text + "\n")
    return p


# ---- memory: a large backup and the memory-lock limit ----------------------------

def unprivileged(limit_bytes, *args):
    """args run as root without CAP_IPC_LOCK and with RLIMIT_MEMLOCK at
    limit_bytes: what a user's mount or import meets."""
    if not shutil.which("setpriv") or not shutil.which("prlimit"):
        pytest.skip("setpriv or prlimit missing")
    r = run(["prlimit", f"--memlock={limit_bytes}:{limit_bytes}", "setpriv",
             "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", *args], timeout=120)
    if "failed to set the MEMLOCK" in r.stderr:
        pytest.skip(f"this machine's hard RLIMIT_MEMLOCK is below {limit_bytes} bytes")
    return r


def test_large_backup_past_the_memory_lock_limit(store, pp, tmp_path):
    """A KEYIMPORT backup that cannot be held in locked memory is refused,
    never decoded into swappable memory, and the message names the limit
    and the remedy; with room it imports."""
    f = keyimport(tmp_path / "k.vult", "keyimport-android", "--real-size", chains=36)
    assert f.stat().st_size > 1.5 * MiB
    before = snapshot(store)
    # 1 MiB: the file itself does not fit; 3 MiB: it does, its decoding not
    for limit in (1 * MiB, 3 * MiB):
        r = unprivileged(limit, VULTFS, "import", "--passphrase-file", pp, store, f)
        assert_one_error_line(r, "RLIMIT_MEMLOCK", f"{limit >> 10} KiB", "ulimit -l",
                              "LimitMEMLOCK")
        assert snapshot(store) == before
    r = unprivileged(8 * MiB, VULTFS, "import", "--passphrase-file", pp, store, f)
    assert r.returncode == 0 and "new vault" in r.stdout, (r.stdout, r.stderr)
