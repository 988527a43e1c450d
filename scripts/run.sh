#!/usr/bin/env bash
# Builds vultfs, creates a demo store if there is none, and mounts it at
# ./mnt so the vaults show at once. The demo vaults are SYNTHETIC (fake key
# material, made by tests/tools/mkvault), and the demo passphrase is in
# ./demo/passphrase.txt: never put a real share in the demo store.
# Run it as root on Debian 12 (deps.sh installs what is missing). Running it
# again reuses the demo store and remounts it.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
demo=demo
store=$demo/store
mnt=mnt
vultfs=$build/fs/vultfs
mkvault=$build/tests/mkvault
passphrase=$demo/passphrase.txt
log=$demo/vultfs.log
reshared_key=02d3e0000000000000000000000000000000000000000000000000000000000b0b

say() { printf '%s\n' "$*"; }

build_tree() {
    ./scripts/deps.sh
    if [ -f "$build/build.ninja" ]; then
        meson setup --reconfigure "$build" >/dev/null
    else
        meson setup "$build" >/dev/null
    fi
    ninja -C "$build" >/dev/null
}

# Two synthetic vaults: a plain 2-of-2, and one reshared once (its first
# epoch stays in history/).
make_demo_store() {
    if [ -f "$store/vultfs.json" ]; then
        say "Using the demo store in $store."
        return
    fi
    local b=$demo/backups
    mkdir -p "$b"
    (umask 077 && printf '%s\n' 'demo passphrase (synthetic vaults only)' >"$passphrase")
    "$vultfs" init --passphrase-file "$passphrase" "$store" >/dev/null
    "$mkvault" --name "Demo Vault (synthetic)" --device demo-laptop \
        --signers demo-laptop,demo-phone "$b/demo-share1of2.vult"
    "$mkvault" --name "Demo Reshared Vault (synthetic)" --lib gg20 --device demo-laptop \
        --ecdsa "$reshared_key" --signers demo-laptop,demo-phone,demo-tablet \
        --prefix aaaa0001 --tag epoch1 "$b/reshared-epoch1.vult"
    "$mkvault" --name "Demo Reshared Vault (synthetic)" --lib gg20 --device demo-laptop \
        --ecdsa "$reshared_key" --signers demo-laptop,demo-phone \
        --prefix bbbb0002 --tag epoch2 "$b/reshared-epoch2.vult"
    "$vultfs" import --passphrase-file "$passphrase" "$store" \
        "$b/demo-share1of2.vult" "$b/reshared-epoch1.vult" "$b/reshared-epoch2.vult"
    say "Created the demo store $store (synthetic vaults, passphrase in $passphrase)."
}

mount_demo() {
    mkdir -p "$mnt"
    if mountpoint -q "$mnt"; then
        fusermount3 -u "$mnt"
    fi
    "$vultfs" mount --passphrase-file "$passphrase" --log-file "$log" "$store" "$mnt"
    for _ in $(seq 50); do
        mountpoint -q "$mnt" && break
        sleep 0.1
    done
    if ! mountpoint -q "$mnt"; then
        say "vultfs: the mount did not come up; see $log" >&2
        exit 1
    fi
    say ""
    say "Mounted $store at $mnt:"
    ls -l "$mnt" "$mnt"/*/
}

what_next() {
    cat <<EOF

Look around:
  ls -la '$mnt/Demo Reshared Vault (synthetic)/history'
  getfattr -d '$mnt/Demo Vault (synthetic)/share.vult'
  cat '$mnt/Demo Vault (synthetic)/vault.json'
  cp '$mnt/Demo Vault (synthetic)/share.vult' /tmp/demo.vult    # an export the apps import
  $vultfs inspect --password-file $passphrase /tmp/demo.vult
Import by copying a .vult file into $mnt: refusals show as errors of cp
and in $log. Unmount with:  fusermount3 -u $mnt
EOF
}

build_tree
make_demo_store
mount_demo
what_next
