#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, makes their seed corpora and
# fuzzes each for a while.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGETs among vult config index record
# import (default all). One line per target at the end:
#   fuzz: TARGET ok (N runs)
#   fuzz: TARGET FAILED: reproducer build-fuzz/fuzz-artifacts/TARGET.X/crash-...
# Exit status: 0 when every target ran clean, 1 when one failed, 2 when the
# targets could not be built or seeded.
#
# Seeds, all made here (nothing is committed): small synthetic backups from
# mkvault (new vaults, a reshare, another device, a conflicting share,
# encrypted ones with the targets' fixed password), 2024 .dat files from
# tests/tools/mkdat.js, ../shared/fixtures when it exists, and what
# fuzz_seeds writes from a real store that imported them (its config, its
# indexes, records sealed under the fixed fuzz key). The corpora grow in
# build-fuzz/fuzz-corpus/TARGET/, the last run's log is
# build-fuzz/fuzz-TARGET.log; scratch stores live on tmpfs (/dev/shm).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(vult config index record import)
build=build-fuzz
password=fuzz-password # FUZZ_PASSWORD in fuzz.h

die() { echo "fuzz: $*" >&2; exit 2; }

for t in "${targets[@]}"; do
    case $t in
    vult | config | index | record | import) ;;
    *) die "unknown target '$t' (vult config index record import)" ;;
    esac
done

./scripts/deps.sh || die "scripts/deps.sh could not install clang-14 and libclang-rt-14-dev"
command -v clang-14 >/dev/null || die "clang-14 is not installed"
if [ ! -f "$build/build.ninja" ]; then
    CC=clang-14 meson setup "$build" -Dfuzz=true >/dev/null || die "meson setup failed"
fi
ninja -C "$build" tests/mkvault tests/fuzz/fuzz_seeds \
    $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}") >/dev/null || die "the build failed"

scratch_parent=/dev/shm
[ -d "$scratch_parent" ] && [ -w "$scratch_parent" ] || scratch_parent=${TMPDIR:-/tmp}
FUZZ_TMP=$(mktemp -d "$scratch_parent/vultfs-fuzz.XXXXXX")
export FUZZ_TMP
pwfile=$(mktemp)
trap 'rm -rf "$FUZZ_TMP" "$pwfile"' EXIT
printf '%s\n' "$password" >"$pwfile"

# ---- seeds ---------------------------------------------------------------
seeds=$build/fuzz-seeds
rm -rf "$seeds"
backups=$seeds/backups
mkdir -p "$backups"
mkvault=$build/tests/mkvault
{
    "$mkvault" "$backups/plain.vult"
    "$mkvault" --password-file "$pwfile" --scheme legacy "$backups/legacy.vult"
    "$mkvault" --password-file "$pwfile" --scheme current "$backups/current.vult"
    "$mkvault" --from "$backups/plain.vult" --signers demo-device-1,demo-device-3 \
        "$backups/reshare.vult"
    "$mkvault" --from "$backups/plain.vult" --device demo-device-2 "$backups/other-device.vult"
    "$mkvault" --from "$backups/plain.vult" --tag conflict "$backups/conflict.vult"
    "$mkvault" --incomplete --lib gg20 --prefix 2c5e9ced --signers a,b,c --device b \
        "$backups/gg20.vult"
    "$mkvault" --lib gg20 --name "GG20 vault" --ecdsa 03aa00000000000000000000000000000000000000000000000000000000000011 --prefix 11 --signers a,b \
        --device a "$backups/gg20-complete.vult"
    "$mkvault" --lib keyimport --name "Key import" --ecdsa 02bb00000000000000000000000000000000000000000000000000000000000022 --tag other \
        "$backups/keyimport.vult"
    # the 2026 layouts: KEYIMPORT as each app writes it, an ML-DSA upgrade
    # (it grows plain.vult's epoch), a locked share, an early DKLS file
    for layout in keyimport-ios-early keyimport-ios keyimport-android keyimport-desktop \
        keyimport-server; do
        "$mkvault" --layout "$layout" --chains 6 --name "$layout" \
            --ecdsa "02cc$(printf '%s' "$layout" | sha256sum | cut -c1-62)" "$backups/$layout.vult"
    done
    "$mkvault" --from "$backups/plain.vult" --mldsa "$backups/mldsa-upgrade.vult"
    "$mkvault" --from "$backups/plain.vult" --lock "$backups/locked.vult"
    "$mkvault" --from "$backups/plain.vult" --no-lib-type --tag early "$backups/early-dkls.vult"
} >/dev/null || die "mkvault could not write the seeds"
# The raw Vault protobuf inside plain.vult, for fuzz_vult's direct parse path.
/usr/bin/python3 - "$backups/plain.vult" "$backups/plain.vault.pb" <<'EOF'
import base64, sys
outer = base64.b64decode(open(sys.argv[1], "rb").read())
i, n, shift = 3, 0, 0          # 08 01 12 <varint length> <base64 Vault>
while True:
    b = outer[i]; i += 1; n |= (b & 0x7f) << shift; shift += 7
    if not b & 0x80:
        break
open(sys.argv[2], "wb").write(base64.b64decode(outer[i:i + n]))
EOF
# 2024 .dat seeds (tests/tools/mkdat.js): plain hex, iOS (AES-GCM) and
# Android (AES-CBC, base64 lines) with the fixed password, and the JSON
# itself for fuzz_vult's .dat JSON path.
if command -v node >/dev/null; then
    for form in plain-wrapped plain-bare ios android; do
        node tests/tools/mkdat.js "$form" "$password" </dev/null >"$backups/$form.dat"
    done
    /usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read()))' \
        "$backups/plain-wrapped.dat" >"$backups/dat.json"
fi
# fuzz_import gets the fixtures up to 64 KB: the larger ones are as many
# times slower per run, and their parts are the codec's (fuzz_vult's).
imports=$seeds/import
mkdir -p "$imports"
cp "$backups"/* "$imports/"
for fixtures in ../shared/fixtures ../shared/more-fixtures; do
    [ -d "$fixtures" ] || continue
    find "$fixtures" -maxdepth 1 -type f \( -name '*.vult' -o -name '*.bak' \) \
        -size -400001c -exec cp -f {} "$backups/" \;
    find "$fixtures" -maxdepth 1 -type f \( -name '*.vult' -o -name '*.bak' \) \
        -size -65537c -exec cp -f {} "$imports/" \;
done
# A real store's config, indexes and records (fuzz_seeds, see its header).
# The order makes new vaults, a new epoch (history) and refusals.
"$build/tests/fuzz/fuzz_seeds" "$seeds" "$backups/plain.vult" "$backups/gg20-complete.vult" \
    "$backups/reshare.vult" "$backups/other-device.vult" "$backups/keyimport.vult" \
    "$backups/current.vult" "$backups/keyimport-server.vult" "$backups/mldsa-upgrade.vult" \
    || die "fuzz_seeds failed"

seeds_of() {
    case $1 in
    vult) echo "$backups" ;;
    *) echo "$seeds/$1" ;;
    esac
}

# ---- runs ----------------------------------------------------------------
# -max_len covers the largest fixture (313 KB) so backups are read whole;
# fuzz_import's seeds stop at 64 KB (see above).
max_len_of() {
    case $1 in
    import) echo 65536 ;;
    *) echo 400000 ;;
    esac
}

run_target() {
    local t=$1 corpus=$build/fuzz-corpus/$1 artifacts log=$build/fuzz-$1.log status=0 found
    mkdir -p "$corpus" "$build/fuzz-artifacts"
    artifacts=$(mktemp -d "$build/fuzz-artifacts/$t.XXXXXX")
    UBSAN_OPTIONS=print_stacktrace=1 "$build/tests/fuzz/fuzz_$t" \
        -max_total_time="$seconds" -max_len="$(max_len_of "$t")" -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 \
        "$corpus" "$(seeds_of "$t")" >"$log" 2>&1 || status=$?
    found=$(find "$artifacts" -type f | head -1)
    if [ "$status" -eq 0 ] && [ -z "$found" ] && ! grep -q 'runtime error' "$log"; then
        rmdir "$artifacts"
        echo "fuzz: $t ok ($(sed -n 's/^stat::number_of_executed_units: *//p' "$log") runs)"
        return 0
    fi
    grep -E 'ERROR|runtime error|check failed|SUMMARY' "$log" | sort -u | head -5 >&2 || true
    echo "fuzz: $t FAILED: reproducer ${found:-none (see $log)}; log $log"
    return 1
}

failed=0
for t in "${targets[@]}"; do
    run_target "$t" || failed=1
done
exit "$failed"
