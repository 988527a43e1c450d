#!/usr/bin/env bash
# Builds the libFuzzer target with clang, makes a seed corpus and fuzzes the
# .vult codec for a while.
#
#   tests/fuzz/run.sh [SECONDS]      default 60
#
# Seeds: small synthetic backups from mkvault (unencrypted, and encrypted
# with the target's fixed password in both schemes), the raw Vault bytes of
# one of them, and ../shared/fixtures when it exists. Crashes land in
# build-fuzz/fuzz-artifacts/; the corpus grows in build-fuzz/fuzz-corpus/.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
build=build-fuzz
password=fuzz-password # FUZZ_PASSWORD in fuzz_vult.c

./scripts/deps.sh fuzz
if [ ! -f "$build/build.ninja" ]; then
    CC=clang-14 meson setup "$build" -Dfuzz=true >/dev/null
fi
ninja -C "$build" >/dev/null

seeds=$build/fuzz-seeds
corpus=$build/fuzz-corpus
artifacts=$build/fuzz-artifacts
mkdir -p "$seeds" "$corpus" "$artifacts"

mkvault=$build/tests/mkvault
pwfile=$(mktemp)
trap 'rm -f "$pwfile"' EXIT
printf '%s\n' "$password" >"$pwfile"

"$mkvault" "$seeds/plain.vult"
"$mkvault" --password-file "$pwfile" --scheme legacy "$seeds/legacy.vult"
"$mkvault" --password-file "$pwfile" --scheme current "$seeds/current.vult"
"$mkvault" --incomplete --lib gg20 --prefix 2c5e9ced --signers a,b,c --device b "$seeds/gg20.vult"
"$mkvault" --lib keyimport --tag other "$seeds/keyimport.vult"
# The raw Vault protobuf inside plain.vult, for the direct parse path.
/usr/bin/python3 - "$seeds/plain.vult" "$seeds/plain.vault.pb" <<'EOF'
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
# itself for the target's .dat JSON path.
if command -v node >/dev/null; then
    for form in plain-wrapped plain-bare ios android; do
        node tests/tools/mkdat.js "$form" "$password" </dev/null >"$seeds/$form.dat"
    done
    /usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read()))' \
        "$seeds/plain-wrapped.dat" >"$seeds/dat.json"
fi
if [ -d ../shared/fixtures ]; then
    find ../shared/fixtures -maxdepth 1 -type f \( -name '*.vult' -o -name '*.bak' \) \
        -exec cp -f {} "$seeds/" \;
fi

# -max_len covers the largest fixture (313 KB) so the seeds are read whole.
log=$build/fuzz.log
status=0
UBSAN_OPTIONS=print_stacktrace=1 "$build/tests/fuzz/fuzz_vult" \
    -max_total_time="$seconds" -max_len=400000 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$corpus" "$seeds" 2>&1 | tee "$log" || status=$?

# Reports that did not stop the run (see meson.build) still count.
if grep -q 'runtime error' "$log"; then
    echo "fuzz: undefined behaviour reported (full stacks in $log):" >&2
    grep 'runtime error' "$log" | sort -u >&2
    [ "$status" -ne 0 ] || status=1
fi
exit "$status"
