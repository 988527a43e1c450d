#!/usr/bin/env bash
# Crash test: cp a stream of synthetic vaults, reshares and history files
# into a mount, SIGKILL the daemon at random moments, unmount (-uz), fsck,
# remount, and check that every import whose cp returned 0 is still there,
# byte for byte (exports use --export-password none, so an export is the
# imported file). Usage: scripts/crash-test.sh [KILLS] (default 100).
#
# Last line: kills=N acknowledged=M lost=L corrupt=C. Exits 1 on any loss or
# corruption (a failing fsck, an unreadable file), 2 on a usage error.
# Run as root with /dev/fuse, after scripts/deps.sh. Environment:
#   CRASH_SEED=N     seed of the kill moments (default: random, printed)
#   CRASH_KEEP=1     keep the work directory (store, logs) afterwards
#   VULTFS_BUILD=DIR build directory (default ./build)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

kills=${1:-100}
build=${VULTFS_BUILD:-build}
case $kills in '' | *[!0-9]* | 0) echo "usage: $0 [KILLS]" >&2; exit 2 ;; esac

die() { printf 'crash-test: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib/common.sh
. scripts/lib/common.sh
require_fuse
build_binaries

work=$(realpath "$(mktemp -d "${TMPDIR:-/tmp}/vultfs-crash.XXXXXX")")
# the last change seen of the store is kept beside it, not in $HOME
export XDG_STATE_HOME=$work/state
mnt=$work/mnt store=$work/store pp=$work/passphrase log=$work/vultfs.log
in=$work/in acks=$work/acks
fs_pid= writer_pid=
# shellcheck source=scripts/lib/mount.sh
. scripts/lib/mount.sh

cleanup() {
    if [ -n "$writer_pid" ]; then
        kill -KILL "$writer_pid" 2>/dev/null || true
        wait "$writer_pid" 2>/dev/null || true
    fi
    unmount_fs
    if [ "${CRASH_KEEP:-0}" = 1 ]; then echo "crash-test: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

seed=${CRASH_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
mkdir -p "$mnt" "$in"
: >"$acks"
(umask 077 && printf '%s\n' 'crash test passphrase (synthetic vaults only)' >"$pp")
timeout 60 "$vultfs" init --cost min --passphrase-file "$pp" "$store" >/dev/null

# The stream: for vault k, op 3k-2 is a new vault (cp into the root), 3k-1 a
# reshare by the same device (new signers and key shares: a new epoch), 3k
# a third generation written as history/epoch-3.vult. Each op is a line
# "SOURCE<TAB>TARGET (relative to the mount)<TAB>VAULT" in $work/ops.
nops=0
add_vault() {
    local k=$1 name v r h
    name=$(printf 'Crash %05d' "$k")
    v=$in/v$k.vult r=$in/r$k.vult h=$in/h$k.vult
    "$mkvault" --name "$name" --ecdsa "02$(printf '%064x' "$k")" --device d1 --signers d1,d2 "$v"
    "$mkvault" --from "$v" --signers d1,d3 --tag "r$k" "$r"
    "$mkvault" --from "$v" --signers d1,d4 --tag "h$k" "$h"
    printf '%s\t%s\t%s\n' "$v" "v$k.vult" "$name" "$r" "r$k.vult" "$name" \
        "$h" "$name/history/epoch-3.vult" "$name" >>"$work/ops"
    nops=$((nops + 3))
}

# writer FIRST: cps ops FIRST.. in order until one fails (the daemon died);
# appends each op whose cp returned 0 to $acks. A failed history write may
# have failed before its directory existed: mkdir -p first (a no-op then).
writer() {
    local i=0 src dst name
    while IFS=$'\t' read -r src dst name; do
        i=$((i + 1))
        ((i >= $1)) || continue
        if [[ $dst == */history/* ]]; then
            timeout 20 mkdir -p "$mnt/$name/history" 2>/dev/null || return 0
        fi
        timeout 20 cp "$src" "$mnt/$dst" 2>>"$work/cp-errors" || return 0
        printf '%s\n' "$i" >>"$acks"
    done <"$work/ops"
}

next=1 # first op not yet acknowledged
corrupt=0
mount_fs --export-password none
for ((kill_no = 1; kill_no <= kills; kill_no++)); do
    while ((nops < next + 40)); do add_vault $((nops / 3 + 1)); done
    writer "$next" &
    writer_pid=$!
    sleep "0.$(printf '%03d' $((RANDOM % 400)))"
    kill -KILL "$fs_pid"
    wait "$fs_pid" 2>/dev/null || true
    fs_pid=
    # the writer's next cp fails on the dead mount (ENOTCONN); unmount only
    # after it stopped, or it would write into the bare mount point
    for ((i = 0; i < 6000; i++)); do
        kill -0 "$writer_pid" 2>/dev/null || break
        sleep 0.01
    done
    if kill -0 "$writer_pid" 2>/dev/null; then
        die "the writer was still running 60 s after kill $kill_no"
    fi
    wait "$writer_pid" 2>/dev/null || true
    writer_pid=
    timeout 10 fusermount3 -uz "$mnt" || die "fusermount3 -uz failed after kill $kill_no"
    [ -z "$(ls -A "$mnt")" ] || die "files were written into the bare mount point"
    last=$(tail -n 1 "$acks")
    next=$((${last:-0} + 1))
    # a kill may leave an unreferenced share record (fsck exits 1: it is
    # kept, and the op's next cp takes it in): corruption is a damaged or
    # missing record, a vault record the manifest does not match, or no answer
    timeout 120 "$vultfs" fsck --passphrase-file "$pp" "$store" >"$work/fsck.out" 2>&1 || true
    if ! grep -q ' 0 damaged, 0 missing, ' "$work/fsck.out"; then
        corrupt=$((corrupt + 1))
        echo "crash-test: fsck failed after kill $kill_no:" >&2
        cat "$work/fsck.out" >&2
    fi
    mount_fs --export-password none
done

# Every acknowledged op's file must be one of its vault's files, unchanged.
acknowledged=0 lost=0
mapfile -t ops <"$work/ops"
while read -r i; do
    acknowledged=$((acknowledged + 1))
    IFS=$'\t' read -r src dst name <<<"${ops[i - 1]}"
    found=0 unreadable=0
    for f in "$mnt/$name/share.vult" "$mnt/$name"/history/epoch-*.vult; do
        [ -e "$f" ] || continue
        if ! timeout 20 cat "$f" >"$work/read" 2>/dev/null; then
            unreadable=1
        elif cmp -s "$src" "$work/read"; then
            found=1
            break
        fi
    done
    if ((found == 0)); then
        if ((unreadable)); then corrupt=$((corrupt + 1)); else lost=$((lost + 1)); fi
        echo "crash-test: acknowledged op $i ($dst) is not in /$name/" >&2
    fi
done <"$acks"
unmount_fs
refused=$(grep -c . "$work/cp-errors" 2>/dev/null || true)
echo "seed=$seed ops=$((next - 1)) cp failures (kills and refusals)=${refused:-0}"
echo "kills=$kills acknowledged=$acknowledged lost=$lost corrupt=$corrupt"
((lost == 0 && corrupt == 0))
