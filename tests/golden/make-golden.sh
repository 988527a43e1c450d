#!/usr/bin/env bash
# How each golden store under tests/golden/ was made, kept for the record.
# It is run once, by the build that writes the format being kept (never by
# today's code, which would only test itself):
#   tests/golden/make-golden.sh OLD_BUILD_DIR OUT_DIR
# OLD_BUILD_DIR is that commit's meson build (fs/vultfs, tests/mkvault).
# OUT_DIR gets store/ (the store, as written), passphrase, and expected.json:
# what that build listed and exported, which every later build must
# reproduce from the store after opening (and migrating) it.
set -euo pipefail
build=$(cd "$1" && pwd)
out=$2
vultfs=$build/fs/vultfs
mkvault=$build/tests/mkvault
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf 'golden-store-passphrase\n' >"$out/passphrase"
pass=(--passphrase-file "$out/passphrase")
store=$out/store
"$vultfs" init "${pass[@]}" --cost min "$store"

# Alpha: GG20, reshared once (epoch 1 in history, epoch 2 current).
"$mkvault" --name Alpha --lib gg20 --device a-1 --signers a-1,a-2 \
    --ecdsa 02aa00000000000000000000000000000000000000000000000000000000000001 \
    "$work/alpha1.vult"
"$mkvault" --from "$work/alpha1.vult" --prefix 1f2e3d4c --tag alpha2 "$work/alpha2.vult"
# Beta: DKLS, one epoch, encrypted with the legacy scheme.
printf 'beta-password\n' >"$work/beta-pw"
"$mkvault" --name Beta --lib dkls --device b-1 --signers b-1,b-2,b-3 \
    --ecdsa 02bb00000000000000000000000000000000000000000000000000000000000002 \
    --password-file "$work/beta-pw" --scheme legacy "$work/beta.vult"
# A second vault named Beta (another key): its directory gets "-<last 4>".
"$mkvault" --name Beta --lib dkls --device c-1 --signers c-1,c-2 \
    --ecdsa 02cc00000000000000000000000000000000000000000000000000000000000003 \
    "$work/beta2.vult"
# Gamma: three DKLS generations; the device changes when the old one left.
"$mkvault" --name 'Gamma ’s vault' --lib dkls --device g-1 --signers g-1,g-2 \
    --ecdsa 02dd00000000000000000000000000000000000000000000000000000000000004 \
    "$work/gamma1.vult"
"$mkvault" --from "$work/gamma1.vult" --signers g-1,g-2,g-3 --tag gamma2 "$work/gamma2.vult"
"$mkvault" --from "$work/gamma2.vult" --signers g-2,g-3,g-4 --device g-4 --tag gamma3 \
    "$work/gamma3.vult"

printf 'beta-password\n' >"$work/import-pw"
"$vultfs" import "${pass[@]}" --import-passwords "$work/import-pw" "$store" \
    "$work/alpha1.vult" "$work/alpha2.vult" "$work/beta.vult" "$work/beta2.vult" \
    "$work/gamma1.vult" "$work/gamma2.vult" "$work/gamma3.vult"

# Where the build has it, one superseded epoch destroyed on purpose: the
# vault keeps a marker of that generation.
if "$vultfs" forget --help 2>&1 | grep -q -- --epoch; then
    "$vultfs" forget "${pass[@]}" --epoch 1 --yes "$store" 'Gamma ’s vault'
fi

# Where the build keeps an export stamp (export-stamp.rec), one mount
# writes it: the exports' settings and when they last changed.
if "$vultfs" mount --help 2>&1 | grep -q -- --log-file; then
    mkdir "$work/mnt"
    "$vultfs" mount "${pass[@]}" -f "$store" "$work/mnt" 2>"$work/mount.log" &
    for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.1; done
    cat "$work/mnt/Alpha/share.vult" >/dev/null
    fusermount3 -u "$work/mnt"
    wait
fi

# What this build shows: the listing, and each epoch's unencrypted export
# (the Vault bytes as imported: the same in any store).
"$vultfs" list "${pass[@]}" --json "$store" >"$work/list.json" 2>/dev/null ||
    "$vultfs" list "${pass[@]}" "$store" >"$work/list.json"
/usr/bin/python3 - "$vultfs" "$out/passphrase" "$store" "$work/list.json" \
    "$out/expected.json" "$work" <<'PY'
import hashlib, json, os, subprocess, sys
vultfs, passfile, store, listing, expected, tmp = sys.argv[1:]
data = json.load(open(listing))
exports = {}
for v in data:
    for e in v["epochs"]:
        out = os.path.join(tmp, "export.vult")
        subprocess.run([vultfs, "export", "--passphrase-file", passfile,
                        "--export-password", "none", "--epoch", str(e["epoch"]),
                        store, v["directory"], out], check=True)
        with open(out, "rb") as f:
            exports[f'{v["directory"]}/{e["epoch"]}'] = hashlib.sha256(f.read()).hexdigest()
        os.unlink(out)
json.dump({"list": data, "exports_sha256": exports}, open(expected, "w"), indent=2,
          sort_keys=True)
PY
rm -f "$store/lock"
