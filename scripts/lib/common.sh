# shellcheck shell=bash
# Sourced by bench.sh and crash-test.sh: checks, the build, timing and the
# table printer. The caller defines die().

# Root, /dev/fuse and fusermount3, which every mount needs.
require_fuse() {
    [ "$(id -u)" = 0 ] || die "run as root (FUSE mounts${1:+, $1})"
    [ -c /dev/fuse ] || die "/dev/fuse is missing"
    command -v fusermount3 >/dev/null || die "fusermount3 is missing (run scripts/deps.sh)"
}

# Builds into $build when needed; sets vultfs and mkvault to absolute paths.
build_binaries() {
    if [ ! -f "$build/build.ninja" ]; then
        timeout 600 meson setup "$build" >/dev/null || die "meson setup $build failed"
    fi
    timeout 600 ninja -C "$build" >/dev/null || die "ninja -C $build failed"
    vultfs=$(realpath "$build/fs/vultfs")
    mkvault=$(realpath "$build/tests/mkvault")
}

# Microseconds from bash's own clock ($EPOCHREALTIME, no fork) into $1.
now_us() {
    local t=${EPOCHREALTIME/./}
    printf -v "$1" '%s' "$((10#$t))"
}

# timed ARRAY CMD...: runs CMD and appends its wall time in microseconds to
# the array named ARRAY; returns CMD's status (redirections of the call
# reach CMD: timing writes nothing).
timed() {
    local -n timed_into_=$1
    local timed_t0_ timed_t1_ timed_rc_=0
    shift
    now_us timed_t0_
    "$@" || timed_rc_=$?
    now_us timed_t1_
    timed_into_+=($((timed_t1_ - timed_t0_)))
    return "$timed_rc_"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Prints "a|b|c" lines from stdin as an aligned table; the second line is
# the rule under the header.
print_table() {
    awk -F'|' '
    { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) }
      if (NF > nf) nf = NF; n = NR }
    END {
        for (r = 1; r <= n; r++) {
            line = ""
            for (i = 1; i <= nf; i++) {
                cell = c[r, i]
                if (r == 2) { cell = ""; while (length(cell) < w[i]) cell = cell "-" }
                line = line sprintf(i == 1 ? "%-*s" : " | %*s", w[i], cell)
            }
            print line
        }
    }'
}
