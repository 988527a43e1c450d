#!/usr/bin/env bash
# Builds vultfs and shows it working on a demo backup: a SYNTHETIC vault share
# (fake key material, made by tests/tools/mkvault) in ./demo/, encrypted with
# the password in ./demo/password.txt. Run it as root on Debian 12 (deps.sh
# installs what is missing). Safe to run again: it keeps an existing demo.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
demo=demo
vultfs=$build/fs/vultfs
mkvault=$build/tests/mkvault
demo_file=$demo/demo-vault-share1of2.vult
demo_password=$demo/password.txt

say() { printf '%s\n' "$*"; }

install_deps() {
    ./scripts/deps.sh
}

build_tree() {
    if [ -f "$build/build.ninja" ]; then
        meson setup --reconfigure "$build" >/dev/null
    else
        meson setup "$build" >/dev/null
    fi
    ninja -C "$build" >/dev/null
}

make_demo_backup() {
    if [ -f "$demo_file" ] && [ -f "$demo_password" ]; then
        say "Using the demo backup in $demo/."
        return
    fi
    mkdir -p "$demo"
    (umask 077 && printf '%s\n' 'demo-password' >"$demo_password")
    "$mkvault" --name "Demo Vault (synthetic)" --device demo-device-1 \
        --signers demo-device-1,demo-device-2 \
        --password-file "$demo_password" --scheme current "$demo_file"
    say "Made a synthetic demo backup: $demo_file (password in $demo_password)."
}

inspect_demo() {
    say ""
    say "\$ $vultfs inspect --password-file $demo_password $demo_file"
    "$vultfs" inspect --password-file "$demo_password" "$demo_file"
}

# The FUSE mount (vultfs init + vultfs mount) is not written yet; when it is,
# this step creates a demo store, mounts it and copies the demo backup in.
mount_demo() {
    if ! "$vultfs" --help | grep -q '^  mount'; then
        return
    fi
    say "(vultfs mount exists now: add the demo mount to scripts/run.sh.)"
}

what_next() {
    cat <<EOF

What next:
  - Inspect a real backup:  $vultfs inspect [--password-file F] FILE.vult
    (without --password-file an encrypted file asks for its password).
  - Make more synthetic backups:  $mkvault --help
  - Run the tests:  ./scripts/test.sh
  - The filesystem itself (vultfs init / mount) is coming; see README.md.
EOF
}

install_deps
build_tree
make_demo_backup
inspect_demo
mount_demo
what_next
