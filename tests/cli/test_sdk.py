"""Interop with the published Vultisig SDK (@vultisig/sdk on npm).

The SDK reads the legacy export scheme and unencrypted files, so for every
real app export (VULTFS_FIXTURES) and a few synthetic vaults (mkvault) this
checks both directions:
  - vultfs -> SDK: the file goes into a store; `vultfs export --export-scheme
    legacy` (with an export password) and `--export-password none` give
    files the SDK imports with the same public keys, signers, device and key
    shares as it reads from the original file, and as `vultfs inspect` shows;
  - SDK -> vultfs: the SDK exports the original with and without a password;
    vultfs imports both (the second is the same share), shows the facts the
    SDK file carries and exports it unencrypted byte for byte.
The SDK's own exports are compared with what the SDK wrote, not with the
original: SDK 0.2.0-beta.9 writes only the fields it models, so it drops
reshare_prefix (honeypot.bak's "2c5e9ced" comes out empty), the sub-second
part of created_at, key shares beyond the ECDSA and EdDSA ones (the
.bak files' third), chain_public_keys and the ML-DSA key with its share,
and has no KEYIMPORT lib type.

The SDK runs in node (sdk_interop.mjs, which refuses all network use: a file
import needs none). It is installed once per version with npm into
$VULTFS_SDK_CACHE or $XDG_CACHE_HOME/vultfs-sdk/VERSION (~/.cache without
XDG_CACHE_HOME) and reused; the first install downloads about 650 MB and
takes a minute or more. Everything is skipped when node or npm is missing or
the npm registry cannot be reached.

The work runs once per module (two node runs in all, not one per file);
each test then checks one case.

Environment: VULTFS_BIN, VULTFS_MKVAULT, VULTFS_FIXTURES (optional: fixture
cases are left out without it).
"""
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

VULTFS = os.environ.get("VULTFS_BIN", "build/fs/vultfs")
MKVAULT = os.environ.get("VULTFS_MKVAULT", "build/tests/mkvault")
FIXTURES = os.environ.get("VULTFS_FIXTURES")
SDK_VERSION = "0.2.0-beta.9"
SCRIPT = Path(__file__).with_name("sdk_interop.mjs")
# The first install only (about a minute here); later runs reuse the cache.
# Bounded well inside test.sh's limit for all pytest suites.
NPM_INSTALL_TIMEOUT = 180
NETWORK_ERRORS = ("ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED",
                  "ENETUNREACH", "network")

PASSPHRASE = "sdk interop store passphrase"
EXPORT_PASSWORD = "sdk interop export password"
SYNTHETIC_PASSWORD = "synthetic input password"
FAKE_MARKER = "FAKEKEYSHARE"

# From ../shared/fixtures/MANIFEST.md: every .vult and .bak file and its
# password (None: unencrypted).
FIXTURE_PASSWORDS = {
    "Test-part1of2.vult": None,
    "Test-part2of2.vult": None,
    "Test Fast Vault DKLS-8d9b-share1of2-nopass.vult": None,
    "Test Fast Vault DKLS-8d9b-share2of2.vult": None,
    "TestFastVault-44fd-share1of2-Vultiserver.vult": "Password123!",
    "TestFastVault-44fd-share2of2-Password123!.vult": "Password123!",
    "TestSecureVault-cfa0-share1of2-Password123!.vult": "Password123!",
    "TestSecureVault-cfa0-share2of2-NoPassword.vult": None,
    "qa-fast-share1of2.vult": None,
    "qa-fast-share2of2.vult": "vulticli01",
    "qa-secure-share1of3.vult": None,
    "qa-secure-share2of3.vult": None,
    "qa-secure-share3of3.vult": None,
    "honeypot.bak": None,
    "test_android_vault_backup.bak": "android_test_pwd",
    "test_ios_vault_backup.bak": "ios_test_pwd",
}

# ../shared/more-fixtures (its MANIFEST.md): more real backups, from the
# vault server, the plugin verifier and the apps.
MORE_FIXTURE_PASSWORDS = {
    "vultisig-payroll-0000-02659f817fae6c3ac300f4e375e57d2bb3ccec4e3d7cdd1032da3f5445991a4d94"
    ".vult": "test123",
    "vault_unencrypted.vult": None,
    "plugin-tests-fixture-vault_b64.vult": "Saggy@Commotion@Occupier@Registry1",
    "plugin-tests-fixture-server_vault_b64.vult": "Saggy@Commotion@Occupier@Registry1",
    "Fast Vault #2-0985-part1of2-Vultiserver.vult": "888717",
    "Fast Vault #2-0985-part2of2.vult": "888717",
    "02ed4e6f3ca22bfdef3f4afe4a94210436b5c4a29140944bfb180ad5737444fef2.bak": "test123",
}
MORE_FIXTURES = Path(FIXTURES).parent / "more-fixtures" if FIXTURES else None

# Synthetic vaults: id, mkvault options, and how the file given to vultfs is
# encrypted (None, or a scheme; "current" is one the SDK cannot read itself,
# which is what `--export-scheme legacy` is for).
SYNTHETIC = [
    ("dkls-fast-plain", ["--lib", "dkls", "--name", "SDK Fast (synthetic)",
                         "--device", "sdk-dev-1", "--signers", "sdk-dev-1,Server-40404"], None),
    ("gg20-reshared-legacy", ["--lib", "gg20", "--prefix", "1a2b3c4d", "--name", "SDK GG20",
                              "--device", "sdk-dev-b",
                              "--signers", "sdk-dev-a,sdk-dev-b,sdk-dev-c"], "legacy"),
    ("dkls-unicode-current", ["--lib", "dkls", "--name", "Jo\u2019s / Vault",
                              "--device", "Jo\u2019s Mac-1F2",
                              "--signers", "Jo\u2019s Mac-1F2,iPhone-7A1,Pixel-22"], "current"),
    # a vault that gained an ML-DSA key (2026): the SDK keeps its two keys
    ("dkls-ml-dsa", ["--lib", "dkls", "--mldsa", "--name", "SDK ML-DSA",
                     "--device", "sdk-dev-1", "--signers", "sdk-dev-1,Server-50505"], None),
]

# The facts the SDK keeps from a file (sdk_interop.mjs) that a Vultisig
# user relies on; "encrypted" is what tells the files of one share apart.
IDENTITY = ("name", "public_key_ecdsa", "public_key_eddsa", "signers", "local_party_id",
            "lib_type", "hex_chain_code", "key_shares")
# The same facts as `vultfs inspect` names them (it never shows key shares).
INSPECTED = ("name", "public_key_ecdsa", "public_key_eddsa", "signers", "local_party_id",
             "lib_type", "hex_chain_code")
# What inspect shows of a file that a faithful store gives back unchanged.
INSPECT_FACTS = INSPECTED + ("reshare_prefix", "created_at", "key_shares", "complete")


# ---- helpers -----------------------------------------------------------------

def run(args, timeout=60, **kwargs):
    """A command without a terminal, with a timeout."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([str(a) for a in args], capture_output=True, encoding="utf-8",
                          errors="replace", timeout=timeout, start_new_session=True, **kwargs)


def secret_file(path, text):
    Path(path).write_text(text + "\n", encoding="utf-8")
    return Path(path)


def first_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[0] if lines else "(no output)"


def inspect(path, password_file=None):
    args = [VULTFS, "inspect"] + (["--password-file", password_file] if password_file else [])
    r = run(args + [path])
    assert r.returncode == 0, (path, r.stderr)
    return json.loads(r.stdout)


def subset(facts, keys):
    return {k: facts[k] for k in keys}


# ---- the SDK, installed once into a cache --------------------------------------

def sdk_cache():
    base = os.environ.get("VULTFS_SDK_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = os.path.join(xdg, "vultfs-sdk")
    return Path(base) / SDK_VERSION


def sdk_installed(prefix):
    package = prefix / "node_modules" / "@vultisig" / "sdk" / "package.json"
    if not (prefix / ".complete").exists() or not package.exists():
        return False
    return json.loads(package.read_text())["version"] == SDK_VERSION


def npm(args, timeout, cwd=None):
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
               npm_config_audit="false", npm_config_loglevel="error")
    return run(["npm", *args], timeout=timeout, env=env, cwd=cwd)


def install_sdk(prefix):
    """npm install into PREFIX.partial-PID, then rename: an interrupted
    install never looks like a complete one."""
    try:
        # No retries: an offline machine skips in seconds, not minutes.
        r = npm(["view", "--fetch-retries=0", "--fetch-timeout=20000",
                 f"@vultisig/sdk@{SDK_VERSION}", "version"], timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("the npm registry did not answer within 60 s")
    if r.returncode != 0 or SDK_VERSION not in r.stdout:
        pytest.skip(f"the npm registry is unreachable: {first_line(r.stderr)}")
    staging = prefix.with_name(f"{prefix.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "package.json").write_text('{"private": true}\n')
    try:
        # --ignore-scripts: no package's install script runs; the SDK needs none.
        r = npm(["install", "--ignore-scripts", "--omit=dev",
                 f"@vultisig/sdk@{SDK_VERSION}"], timeout=NPM_INSTALL_TIMEOUT, cwd=staging)
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"npm install of @vultisig/sdk took over {NPM_INSTALL_TIMEOUT} s "
                    "(npm's own cache keeps what it fetched: the next run goes further)")
    if r.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        if any(word in r.stderr for word in NETWORK_ERRORS):
            pytest.skip(f"npm install could not reach the registry: {first_line(r.stderr)}")
        pytest.fail(f"npm install of @vultisig/sdk@{SDK_VERSION} failed:\n{r.stderr[-2000:]}")
    (staging / ".complete").write_text(SDK_VERSION + "\n")
    shutil.rmtree(prefix, ignore_errors=True)
    staging.rename(prefix)


@pytest.fixture(scope="module")
def sdk_prefix():
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    prefix = sdk_cache()
    if not sdk_installed(prefix):
        install_sdk(prefix)
    return prefix


def sdk(prefix, home, job):
    """Runs sdk_interop.mjs on JOB; no network use may have been tried."""
    r = run(["node", SCRIPT, prefix], timeout=120, input=json.dumps(job),
            env=dict(os.environ, HOME=str(home)), stdin=None)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout)
    assert result["network"] == [], result["network"]
    for facts in result["read"]:
        if "key_shares" in facts:
            facts["key_shares"] = digest(facts["key_shares"])
    return result


def digest(shares):
    """Key shares as short digests (a failing comparison prints these, not
    100 KB of share), and whether they are mkvault's fake ones."""
    out = {alg: f"{hashlib.sha256(s.encode()).hexdigest()[:16]} ({len(s)} chars)"
           for alg, s in shares.items()}
    out["fake"] = all(FAKE_MARKER in s for s in shares.values())
    out["sizes"] = sorted(len(s) for s in shares.values())
    out["distinct"] = len(set(shares.values())) == len(shares)
    return out


# ---- the cases: all the work, once per module -------------------------------------

@dataclass
class Case:
    """One share: the file vultfs imports, and a file of the same share that
    the SDK itself can read (the file itself unless it uses the current scheme)."""
    id: str
    file: Path
    password: str
    reference: Path
    ref_password: str
    dir: Path = None
    export_password_file: Path = None
    out: dict = field(default_factory=dict)  # step -> file written
    output: dict = field(default_factory=dict)  # step -> what vultfs printed
    errors: dict = field(default_factory=dict)  # step -> why it failed
    sdk: dict = field(default_factory=dict)  # step -> what the SDK read or wrote


def fixture_cases():
    if not FIXTURES or not Path(FIXTURES).is_dir():
        return []
    cases = [Case(name, Path(FIXTURES) / name, pw, Path(FIXTURES) / name, pw)
             for name, pw in FIXTURE_PASSWORDS.items()]
    if MORE_FIXTURES.is_dir():
        cases += [Case(name, MORE_FIXTURES / name, pw, MORE_FIXTURES / name, pw)
                  for name, pw in MORE_FIXTURE_PASSWORDS.items()]
    return cases


def synthetic_cases(where):
    cases = []
    pw_file = secret_file(where / "synthetic-password.txt", SYNTHETIC_PASSWORD)
    for n, (case_id, options, scheme) in enumerate(SYNTHETIC):
        ecdsa = "02" + f"{os.getpid():08x}{n:08x}" + "5d" * 24
        plain = where / f"{case_id}.vult"
        r = run([MKVAULT, *options, "--ecdsa", ecdsa, plain])
        assert r.returncode == 0, r.stderr
        case = Case(case_id, plain, None, plain, None)
        if scheme:
            case.file, case.password = where / f"{case_id}-{scheme}.vult", SYNTHETIC_PASSWORD
            r = run([MKVAULT, "--from", plain, "--password-file", pw_file, "--scheme", scheme,
                     case.file])
            assert r.returncode == 0, r.stderr
        cases.append(case)
    return cases


class Store:
    """A fresh store (cheap Argon2id) that records each step in a Case."""

    def __init__(self, path, secrets):
        self.path, self.secrets = path, secrets
        r = run([VULTFS, "init", "--passphrase-file", secrets["pp"], "--cost", "min", path])
        assert r.returncode == 0, r.stderr

    def step(self, case, step, command, options, operands):
        """vultfs COMMAND OPTIONS STORE OPERANDS, filed under STEP."""
        r = run([VULTFS, command, "--passphrase-file", self.secrets["pp"], *options, self.path,
                 *operands])
        case.output[step] = r.stdout + r.stderr
        if r.returncode != 0:
            case.errors[step] = r.stderr.strip()
        return r

    def import_file(self, case, step, path):
        r = self.step(case, step, "import", ["--import-passwords", self.secrets["imports"]],
                      [path])
        return r.returncode == 0

    def export(self, case, step, *options):
        r = run([VULTFS, "list", "--json", "--passphrase-file", self.secrets["pp"], self.path])
        assert r.returncode == 0, r.stderr
        directory = json.loads(r.stdout)[0]["directory"]
        out = case.dir / f"{step}.vult"
        if self.step(case, step, "export", options, [directory, out]).returncode == 0:
            case.out[step] = out


def vultfs_exports(case, secrets):
    """Phase 1: the case's file into a store, and out as legacy and plain."""
    store = Store(case.dir / "store", secrets)
    if store.import_file(case, "import", case.file):
        store.export(case, "legacy", "--export-scheme", "legacy",
                     "--export-password-file", secrets["export"])
        store.export(case, "plain", "--export-password", "none")


def sdk_jobs(cases):
    """Phase 2: the SDK reads the reference and both exports, and exports
    the reference itself, without and with a password."""
    reads, exports = [], []
    for c in cases:
        reads.append((c, "reference", {"file": str(c.reference), "password": c.ref_password}))
        for step, pw in (("legacy", EXPORT_PASSWORD), ("plain", None)):
            if step in c.out:
                reads.append((c, step, {"file": str(c.out[step]), "password": pw}))
        for step, pw in (("sdk-plain", None), ("sdk-encrypted", EXPORT_PASSWORD)):
            exports.append((c, step, {"file": str(c.reference), "password": c.ref_password,
                                      "out": str(c.dir / f"{step}.vult"),
                                      "export_password": pw}))
    return reads, exports


def sdk_round(prefix, home, reads, exports=()):
    """One node run for many files; each result is filed under its case."""
    got = sdk(prefix, home, {"read": [r[2] for r in reads], "export": [e[2] for e in exports]})
    for kind, jobs in (("read", reads), ("export", exports)):
        for (case, step, item), result in zip(jobs, got[kind]):
            case.sdk[step] = result
            if "error" in result:
                case.errors[f"sdk {kind} {step}"] = result["error"]
            elif kind == "export":
                case.out[step] = Path(item["out"])


def sdk_exports_back(case, secrets):
    """Phase 3: both SDK exports into a fresh store (the second is the same
    share), and out again unencrypted."""
    if "sdk-plain" not in case.out or "sdk-encrypted" not in case.out:
        return
    store = Store(case.dir / "store-from-sdk", secrets)
    if (store.import_file(case, "import sdk-plain", case.out["sdk-plain"])
            and store.import_file(case, "import sdk-encrypted", case.out["sdk-encrypted"])):
        store.export(case, "back", "--export-password", "none")


@pytest.fixture(scope="module")
def interop(sdk_prefix, tmp_path_factory):
    work = tmp_path_factory.mktemp("sdk")
    passwords = [p for p in FIXTURE_PASSWORDS.values() if p]
    passwords += [p for p in MORE_FIXTURE_PASSWORDS.values() if p]
    passwords += [SYNTHETIC_PASSWORD, EXPORT_PASSWORD]
    secrets = {"pp": secret_file(work / "passphrase.txt", PASSPHRASE),
               "export": secret_file(work / "export-password.txt", EXPORT_PASSWORD),
               "imports": secret_file(work / "import-passwords.txt", "\n".join(passwords))}
    cases = fixture_cases() + synthetic_cases(work)
    for n, case in enumerate(cases):
        case.dir = work / f"case{n}"
        case.dir.mkdir()
        case.export_password_file = secrets["export"]
        vultfs_exports(case, secrets)
    sdk_round(sdk_prefix, work, *sdk_jobs(cases))
    for case in cases:
        sdk_exports_back(case, secrets)
    sdk_round(sdk_prefix, work, [(c, "back", {"file": str(c.out["back"]), "password": None})
                                 for c in cases if "back" in c.out])
    return {c.id: c for c in cases}


SYNTHETIC_IDS = [s[0] for s in SYNTHETIC]
CASE_IDS = SYNTHETIC_IDS
if FIXTURES and Path(FIXTURES).is_dir():
    CASE_IDS = list(FIXTURE_PASSWORDS) + CASE_IDS
    if MORE_FIXTURES.is_dir():
        CASE_IDS = list(MORE_FIXTURE_PASSWORDS) + CASE_IDS


@pytest.fixture(params=CASE_IDS)
def case(request, interop):
    return interop[request.param]


def sdk_read(case, step):
    """What the SDK read from the file of STEP; fails with every earlier error."""
    assert step in case.sdk and "error" not in case.sdk[step], case.errors
    return case.sdk[step]


# ---- vultfs -> SDK ---------------------------------------------------------------

def test_sdk_reads_the_original_as_vultfs_inspect_does(case):
    """The reference the other tests compare with: the SDK and vultfs inspect
    agree on the file, and the SDK found both key shares."""
    got = sdk_read(case, "reference")
    pw = None
    if case.ref_password:
        pw = secret_file(case.dir / "ref-password.txt", case.ref_password)
    assert subset(got, INSPECTED) == subset(inspect(case.reference, pw), INSPECTED)
    assert got["encrypted"] is (case.ref_password is not None)
    shares = got["key_shares"]
    assert shares["sizes"][0] > 40 and shares["distinct"], shares
    assert shares["fake"] is (case.id in SYNTHETIC_IDS)


def test_sdk_imports_the_legacy_export(case):
    got = sdk_read(case, "legacy")
    assert got["encrypted"] is True
    assert subset(got, IDENTITY) == subset(sdk_read(case, "reference"), IDENTITY)
    facts = inspect(case.out["legacy"], case.export_password_file)
    assert facts["scheme"] == "legacy"


def test_sdk_imports_the_unencrypted_export(case):
    got = sdk_read(case, "plain")
    assert got["encrypted"] is False
    assert subset(got, IDENTITY) == subset(sdk_read(case, "reference"), IDENTITY)


# ---- SDK -> vultfs ---------------------------------------------------------------

def test_vultfs_imports_the_sdk_exports(case):
    """Both SDK exports are one share to vultfs; the store gives back what
    the SDK wrote, and the SDK reads that as the share it started from."""
    got = sdk_read(case, "back")
    assert "new vault" in case.output["import sdk-plain"]
    assert "unchanged" in case.output["import sdk-encrypted"]
    sdk_file = case.out["sdk-plain"]
    assert case.out["back"].read_bytes() == sdk_file.read_bytes()
    written = inspect(sdk_file)
    assert written["encrypted"] is False
    encrypted = inspect(case.out["sdk-encrypted"], case.export_password_file)
    assert encrypted["scheme"] == "legacy"
    assert subset(encrypted, INSPECT_FACTS) == subset(written, INSPECT_FACTS)
    assert subset(inspect(case.out["back"]), INSPECT_FACTS) == subset(written, INSPECT_FACTS)
    assert subset(got, IDENTITY) == subset(sdk_read(case, "reference"), IDENTITY)
