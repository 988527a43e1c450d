#!/usr/bin/env bash
# Benchmarks vultfs against plain-file baselines measured in the same run
# and prints their ratios. Speed is judged by these ratios, never by timed
# assertions in tests. See docs/performance.md for what each line means.
#
# Run as root (it mounts with /dev/fuse and may drop the page cache), after
# scripts/deps.sh bench. It builds into ./build when needed, works in a
# temporary directory and always unmounts and cleans up on exit.
#
#   scripts/bench.sh [--vaults N | --full] [--figures-only]
#
# --figures-only: only the FIGURE lines (mount time cold and warm, daemon
# memory, the cost of one import at 100 and at N vaults) and the vultfs
# rows they come from, on a store of N vaults made the fastest correct way
# (`vultfs import` of generated backups, made and imported a few thousand
# at a time, the next batch made while the last is imported, and removed
# once imported: the disk holds the store and two batches); no baselines.
# On a busy 2-CPU VM: about a minute at --vaults 10000, ten at 100000
# (a 5 GB store, made in about 5 minutes).
#
# First the small-store lines (20 vaults, about 10-30 seconds), then issue
# 8's workloads on a store of N vaults (default 1,000; --full: 10,000)
# against tmpfs, a plain disk directory, gocryptfs and, for reads, bindfs
# over the plain directory (scripts/deps.sh bench), with RATIO and FIGURE
# lines. The import baselines are made twice: with dd conv=fsync (the lines
# kept from issue 8) and with durable-copy (scripts/lib/durable-copy.c,
# built here with cc: write, fsync the file, fsync its directory, one
# process per file, as durable as an accepted import). At 1,000 vaults the
# run takes about 4-10 minutes on a busy 2-CPU machine; at 10,000 most of
# it is making and copying the inputs and the trees (tens of GB: the run
# refuses to start when the disk has not room for its estimate).
#
# Environment:
#   BENCH_SCALE_RUNS=N    runs per scale workload, the median (default 3)
#   BENCH_RUNS=N          runs per measurement, the median is shown (default 7)
#   BENCH_DIR=D           where to put the store and the plain baseline dir
#                         (default: a new directory under ${TMPDIR:-/tmp});
#                         both are on the same filesystem
#   BENCH_DROP_CACHES=0   never write /proc/sys/vm/drop_caches (no cold mount)
#   BENCH_KEEP=1          keep the work directory (store, logs) afterwards
#   VULTFS_BUILD=DIR      build directory (default ./build)
#   VULTFS_FIXTURES=DIR   real app backups (default ../shared/fixtures); when
#                         absent the vaults are synthetic mkvault output (~1 KB)
#   CC=cc                 the compiler of durable-copy
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

runs=${BENCH_RUNS:-7}
nvaults=20
scale_n=1000
figures_only=0
while [ $# -gt 0 ]; do
    case $1 in
    --vaults) scale_n=${2:-}; shift 2 || { echo "bench: --vaults needs a number" >&2; exit 2; } ;;
    --full) scale_n=10000; shift ;;
    --figures-only) figures_only=1; shift ;;
    *) echo "usage: $0 [--vaults N | --full] [--figures-only]" >&2; exit 2 ;;
    esac
done
case $scale_n in '' | *[!0-9]* | 0) echo "bench: --vaults needs a positive number" >&2; exit 2 ;; esac
build=${VULTFS_BUILD:-build}
fixtures=${VULTFS_FIXTURES:-../shared/fixtures}

say() { printf '%s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib/common.sh
. scripts/lib/common.sh

case $runs in '' | *[!0-9]* | 0) die "BENCH_RUNS must be a positive number" ;; esac
require_fuse drop_caches
command -v python3 >/dev/null || die "python3 is missing (run scripts/deps.sh)"

# ---- build ------------------------------------------------------------------
build_binaries

# ---- work directory, cleanup ------------------------------------------------
if [ -n "${BENCH_DIR:-}" ]; then
    mkdir -p "$BENCH_DIR"
    work=$(mktemp -d "$BENCH_DIR/vultfs-bench.XXXXXX")
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/vultfs-bench.XXXXXX")
fi
work=$(realpath "$work")
# the stores made here are thrown away: so is what is kept of each outside it
export XDG_STATE_HOME=$work/state
mnt=$work/mnt
store=$work/store
pp=$work/passphrase
log=$work/vultfs.log
fs_pid=
# shellcheck source=scripts/lib/mount.sh
. scripts/lib/mount.sh

cleanup() {
    unmount_fs
    ! declare -F scale_cleanup >/dev/null || scale_cleanup
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        say "bench: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- timing helpers ---------------------------------------------------------
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }

can_drop=0
if [ "${BENCH_DROP_CACHES:-1}" != 0 ] && [ -w /proc/sys/vm/drop_caches ] &&
    sync -f "$work" && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
    can_drop=1
fi
drop_caches() {
    if [ "$can_drop" = 1 ]; then
        sync -f "$work"
        echo 3 >/proc/sys/vm/drop_caches
    fi
}

declare -a rows=()
# row WHAT VULTFS_SAMPLES_NAME BASELINE_SAMPLES_NAME BASELINE_LABEL
row() {
    local -n vs=$2 bs=$3
    local v b
    v=$(median "${vs[@]}")
    b=$(median "${bs[@]}")
    rows+=("$1|$(ms "$v")|$(ms "$b") ($4)|$(awk -v v="$v" -v b="$b" 'BEGIN { if (b > 0) printf "%.1fx", v / b; else print "-" }')")
}

# ---- the durable baseline: durable-copy SRC DESTDIR, one process per file -----
durable_bin=
if ((figures_only == 0)); then
    durable_bin=$work/durable-copy
    timeout 120 "${CC:-cc}" -std=c11 -O2 -Wall -Wextra -o "$durable_bin" scripts/lib/durable-copy.c ||
        die "cannot build scripts/lib/durable-copy.c (cc: scripts/deps.sh installs gcc)"
fi

# ---- inputs -----------------------------------------------------------------
say "vultfs benchmark: $runs runs per line (median), $(nproc) CPUs, work dir $work ($(stat -f -c %T "$work"))"
(umask 077 && printf '%s\n' 'bench passphrase (synthetic vaults only)' >"$pp")
mkdir -p "$mnt" "$work/in" "$work/plain"
# shellcheck source=scripts/lib/bench-small.sh
((figures_only)) || . scripts/lib/bench-small.sh

# ---- issue 8's workloads at scale ----------------------------------------------
# shellcheck source=scripts/lib/bench-scale.sh
. scripts/lib/bench-scale.sh
