#!/usr/bin/env bash
# Builds vultfs and runs every test suite:
#   1. the C unit tests of core/ and fs/tree.c, fs/staging.c (meson test,
#      without its cli and mount suites);
#   2. the same unit tests built with AddressSanitizer and UBSan;
#   3. the pytest suites tests/cli and tests/mount, against the built binaries;
#   4. a short run of each libFuzzer target (tests/fuzz/run.sh, clang-14):
#      one pass per target that ran clean, one failure per target that
#      found something (its reproducer is printed) or could not be built.
# The last line is always "N passed, N failed", summed over the suites
# (skipped tests count in neither). Exits non-zero when a test failed or a
# suite could not run. Needs no terminal; run it as root on Debian 12 so
# scripts/deps.sh can install what is missing.
set -uo pipefail
cd "$(dirname "$0")/.."

build=build
passed=0
failed=0
broken=0 # a step or suite that could not run

finish() {
    echo "$passed passed, $failed failed"
    if [ "$failed" -ne 0 ] || [ "$broken" -ne 0 ]; then
        exit 1
    fi
    exit 0
}

note() { echo "test.sh: $*" >&2; }

# Reads KEY=VALUE lines (passed, failed) from a counting helper.
add_counts() {
    local p f
    p=$(sed -n 's/^passed=//p' <<<"$1")
    f=$(sed -n 's/^failed=//p' <<<"$1")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
}

build_tree() {
    if ! ./scripts/deps.sh; then
        note "scripts/deps.sh failed: cannot install the build and test dependencies"
        return 1
    fi
    if [ -f "$build/build.ninja" ]; then
        meson setup --reconfigure "$build" >/dev/null ||
            meson setup --wipe "$build" >/dev/null || return 1
    else
        meson setup "$build" >/dev/null || return 1
    fi
    ninja -C "$build" || return 1
}

# A second build of the same tree with AddressSanitizer and UBSan, for the
# unit tests: memory errors in core/ fail CI, not just a hand-run check.
build_sanitized() {
    local dir=$1
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null ||
            return 1
    fi
    ninja -C "$dir" >/dev/null || return 1
}

# meson test in build dir $1, counted from its JSON log: OK passes; FAIL,
# TIMEOUT, ERROR and UNEXPECTEDPASS fail; SKIP and EXPECTEDFAIL are neither.
# The pytest suites registered with meson (cli, mount) are left out here:
# run_pytest runs them and counts each test once.
run_unit() {
    local dir=$1
    local log=$dir/meson-logs/testlog.json counts rc=0
    rm -f "$log"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        timeout --kill-after=10 300 meson test -C "$dir" --print-errorlogs \
        --no-suite cli --no-suite mount </dev/null || rc=$?
    if [ ! -s "$log" ]; then
        note "meson test did not run (exit $rc)"
        broken=1
        return
    fi
    counts=$(/usr/bin/python3 - "$log" <<'EOF'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    if line.strip():
        result = json.loads(line).get("result")
        ok += result == "OK"
        bad += result in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS")
print(f"passed={ok}\nfailed={bad}")
EOF
    ) || { note "cannot read $log"; broken=1; return; }
    add_counts "$counts"
    # A non-zero exit with nothing failed means meson itself broke (timeout).
    if [ "$rc" -ne 0 ] && [ "$(sed -n 's/^failed=//p' <<<"$counts")" = 0 ]; then
        note "meson test exited $rc"
        broken=1
    fi
}

# pytest over the suites that exist, counted from its JUnit XML. Exit code 5
# (no tests collected) is zero tests, not a failure.
run_pytest() {
    local dirs=() d xml=$build/pytest-junit.xml counts rc=0
    for d in tests/cli tests/mount; do
        [ -d "$d" ] && dirs+=("$d")
    done
    if [ ${#dirs[@]} -eq 0 ]; then
        note "no pytest suites yet"
        return
    fi
    export VULTFS_BIN=$PWD/$build/fs/vultfs
    export VULTFS_MKVAULT=$PWD/$build/tests/mkvault
    if [ -d ../shared/fixtures ]; then
        VULTFS_FIXTURES=$(cd ../shared/fixtures && pwd)
        export VULTFS_FIXTURES
    else
        unset VULTFS_FIXTURES
    fi
    rm -f "$xml"
    timeout --kill-after=10 900 /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        --junitxml="$xml" "${dirs[@]}" </dev/null || rc=$?
    case $rc in
    0 | 1 | 5) ;;
    *)
        note "pytest could not run the suites (exit $rc)"
        broken=1
        ;;
    esac
    [ -s "$xml" ] || { [ "$rc" -eq 5 ] || broken=1; return; }
    counts=$(/usr/bin/python3 - "$xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
ok = bad = 0
for s in suites:
    tests, fails, errors, skips = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    ok += tests - fails - errors - skips
    bad += fails + errors
print(f"passed={ok}\nfailed={bad}")
EOF
    ) || { note "cannot read $xml"; broken=1; return; }
    add_counts "$counts"
    if [ "$rc" -eq 1 ] && [ "$(sed -n 's/^failed=//p' <<<"$counts")" = 0 ]; then
        broken=1
    fi
}

# A short run of each fuzz target. tests/fuzz/run.sh prints one line per
# target ("fuzz: T ok" or "fuzz: T FAILED: reproducer ..."); a build that
# fails (no clang: scripts/deps.sh could not install it) fails the step.
fuzz_seconds=${VULTFS_FUZZ_SECONDS:-20}
fuzz_targets=(vult config index record import)
run_fuzz() {
    local out rc=0 ok bad
    out=$(timeout --kill-after=10 $((fuzz_seconds * ${#fuzz_targets[@]} + 600)) \
        tests/fuzz/run.sh "$fuzz_seconds" "${fuzz_targets[@]}" </dev/null) || rc=$?
    [ -z "$out" ] || echo "$out"
    ok=$(grep -c '^fuzz: [a-z]* ok' <<<"$out")
    bad=$(grep -c '^fuzz: [a-z]* FAILED' <<<"$out")
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ $((ok + bad)) -ne ${#fuzz_targets[@]} ]; then
        note "the fuzz targets did not all run (tests/fuzz/run.sh exit $rc)"
        failed=$((failed + ${#fuzz_targets[@]} - ok - bad))
    fi
}

if ! build_tree; then
    note "the build failed; no tests ran"
    broken=1
    finish
fi
run_unit "$build"
if build_sanitized build-sanitize; then
    run_unit build-sanitize
else
    note "the sanitizer build failed; its unit tests did not run"
    broken=1
fi
run_pytest
run_fuzz
finish
