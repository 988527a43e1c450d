# shellcheck shell=bash
# Sourced by bench.sh after its small-store lines: issue 8's workloads on a
# store of $scale_n vaults, each against tmpfs, a plain disk directory, a
# gocryptfs mount holding the same tree and (for reads) bindfs over the
# plain directory, measured in the same run (median of $srun). Uses
# bench.sh's vultfs, mkvault, durable_bin, pp, log, work, die, say, now_us,
# timed, median, print_table, can_drop, drop_caches, mount_fs/unmount_fs
# ($store, $mnt, $fs_pid).

srun=${BENCH_SCALE_RUNS:-3}
mount_wait_s=600 # a big store mounts slowly today (issue 8)
gen_batch=5000   # --figures-only: inputs made and imported this many at a time
case $srun in '' | *[!0-9]* | 0) die "BENCH_SCALE_RUNS must be a positive number" ;; esac
sdir=$work/scale
s_in=$sdir/in
tmpfs=$sdir/tmpfs
disk=$sdir/disk
gc_cipher=$sdir/gc-cipher gc_mnt=$sdir/gc-mnt gc_pass=$sdir/gc-pass
bind_mnt=$sdir/bind-mnt
kept_store=$sdir/store
restic_pw='bench restic password (synthetic vaults only)'
gen_pids=()
gen_jobs=$(nproc 2>/dev/null || echo 1)
mkdir -p "$s_in" "$tmpfs" "$disk" "$gc_mnt" "$bind_mnt"
mount -t tmpfs -o mode=0700 vultfs-bench "$tmpfs" || die "cannot mount a tmpfs at $tmpfs"
tmpfs_mounted=1

have_gc=0 have_bind=0
if ((figures_only)); then
    : # no baselines
else
    if command -v gocryptfs >/dev/null; then
        have_gc=1
    else
        say "note: gocryptfs is missing (scripts/deps.sh bench): its baseline is skipped"
    fi
    if command -v bindfs >/dev/null; then
        have_bind=1
    else
        say "note: bindfs is missing (scripts/deps.sh bench): the FUSE floor of the reads is skipped"
    fi
fi

# Called by bench.sh's cleanup: a generator still running, the gocryptfs
# and bindfs mounts, the tmpfs.
scale_cleanup() {
    local m p
    for p in "${gen_pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    gen_pids=()
    for m in "$gc_mnt" "$bind_mnt"; do
        if is_mounted "$m"; then
            timeout 20 fusermount3 -u "$m" 2>/dev/null || timeout 20 fusermount3 -uz "$m" || true
        fi
    done
    if [ "${tmpfs_mounted:-0}" = 1 ]; then
        timeout 20 umount "$tmpfs" 2>/dev/null || timeout 20 umount -l "$tmpfs" || true
        tmpfs_mounted=0
    fi
}

# wait_mounted DIR WHAT: up to 20 s for DIR to show in mountinfo
wait_mounted() {
    local i
    for ((i = 0; i < 2000; i++)); do
        is_mounted "$1" && return 0
        sleep 0.01
    done
    die "the $2 mount did not appear within 20 s"
}
gc_mount() {
    local t0 t1
    now_us t0
    timeout 60 gocryptfs -q -nosyslog -passfile "$gc_pass" "$gc_cipher" "$gc_mnt" || die "gocryptfs mount failed"
    wait_mounted "$gc_mnt" gocryptfs
    now_us t1
    gc_mount_us=$((t1 - t0))
}
gc_unmount() {
    local i
    timeout 20 fusermount3 -u "$gc_mnt" || die "cannot unmount gocryptfs"
    for ((i = 0; i < 2000; i++)); do
        is_mounted "$gc_mnt" || return 0
        sleep 0.01
    done
    die "gocryptfs stayed mounted"
}
# bindfs of the plain disk directory, default options (single-threaded,
# libfuse's 1 s entry and attribute timeouts, page cache dropped on open):
# a FUSE filesystem that only passes requests through, the floor of what
# any FUSE filesystem can read at. Not used for imports: bindfs does not
# pass a directory's fsync on (no FSYNCDIR), so a new name through it is
# not made durable and the baseline would not keep vultfs's promise.
bind_mount() {
    timeout 60 bindfs "$disk" "$bind_mnt" || die "bindfs mount failed"
    wait_mounted "$bind_mnt" bindfs
}

# wait_gen: waits (bounded: an hour) for the input generators started in
# the background, and fails when one failed.
wait_gen() {
    local i p bad=0
    for ((i = 0; i < 72000; i++)); do
        kill -0 "${gen_pids[@]}" 2>/dev/null || break
        sleep 0.05
    done
    for p in "${gen_pids[@]}"; do
        kill -0 "$p" 2>/dev/null || continue
        kill "$p" 2>/dev/null || true
        bad=1
    done
    ((bad == 0)) || die "making the inputs took more than an hour"
    for p in "${gen_pids[@]}"; do wait "$p" || bad=1; done
    gen_pids=()
    ((bad == 0)) || die "mkvault failed"
}

# ---- inputs: N vaults from a GG20 and a DKLS fixture, or ~1 KB synthetic -------
# Each vault gets its own ECDSA key, 33 bytes as a real one (66 hex digits):
# mkvault --from then makes the key share again as large as it was (the
# DKLS share keeps its 157 KB; its GG20 fake share is JSON of about 4 KB).
# A shorter key made every key share a small fake one, so that the inputs
# were about 1-4 KB whatever the fixtures.
scale_src_a= scale_src_b=
if [ -f "$fixtures/Test-part1of2.vult" ] && [ -f "$fixtures/qa-fast-share1of2.vult" ]; then
    scale_src_a=$fixtures/Test-part1of2.vult
    scale_src_b=$fixtures/qa-fast-share1of2.vult
fi
scale_vault() { # OUT INDEX
    local key name
    printf -v key '03%064x' "$2"
    printf -v name 'Scale Vault %06d' "$2"
    if [ -z "$scale_src_a" ]; then
        "$mkvault" --name "$name" --ecdsa "$key" "$1"
    elif (($2 % 2)); then
        "$mkvault" --from "$scale_src_a" --name "$name" --ecdsa "$key" "$1"
    else
        "$mkvault" --from "$scale_src_b" --name "$name" --ecdsa "$key" "$1"
    fi
}
# gen_range DIR FIRST LAST [STEP]: inputs FIRST, FIRST+STEP, ... up to
# LAST as DIR/vNNNNNN.vult
gen_range() {
    local i f
    mkdir -p "$1"
    for ((i = $2; i <= $3; i += ${4:-1})); do
        printf -v f '%s/v%06d.vult' "$1" "$i"
        scale_vault "$f" "$i" || return 1
    done
}
# With --figures-only only the first 100 inputs are kept (the store of
# 100); the store of N is made from batches made and removed as it grows
# (big_store). Otherwise every input is kept: the import workloads copy them.
gen_n=$scale_n
((figures_only == 0)) || gen_n=$((scale_n < 100 ? scale_n : 100))
files=() extras=()
for ((i = 1; i <= gen_n; i++)); do
    printf -v f '%s/v%06d.vult' "$s_in" "$i"
    files+=("$f")
done
# The first two inputs (one of each fixture) tell the size of an input,
# for the disk check below, before the others are made.
gen_range "$s_in" 1 $((gen_n < 2 ? gen_n : 2)) || die "mkvault failed"
in_avg_kib=$(du -k "${files[@]:0:2}" | awk '{ s += $1 } END { printf "%d", NR ? s / NR : 0 }')
say ""
if [ -n "$scale_src_a" ]; then
    in_kind="from the GG20 and DKLS fixtures alternately: $(($(stat -c %s "${files[0]}") / 1000)) KB and $(($(stat -c %s "${files[1]:-${files[0]}}") / 1000)) KB"
else
    in_kind="synthetic, ${in_avg_kib} KB"
fi
say "scale: $scale_n vaults (about $((in_avg_kib * scale_n / 1024)) MiB of backups, $in_kind), median of $srun"

# Refuse to start what would fill the disk: a rough count of what the run
# writes there (the store takes about an input and two blocks per vault).
per_vault_kib=$((in_avg_kib + 8))
if ((figures_only)); then
    need_kib=$((per_vault_kib * (scale_n + 2 * gen_batch) + 1048576))
else
    # inputs, the kept store, 2 x srun import runs (a store, dd and
    # durable copies on disk, the same twice in gocryptfs), the tree on
    # disk and in gocryptfs, and four restic repositories
    need_kib=$((per_vault_kib * scale_n * (2 + 2 * srun * 5 + 2 + 4) + 1048576))
fi
free_kib=$(df -Pk "$sdir" | awk 'NR == 2 { print $4 }')
say "disk: about $((need_kib / 1048576 + 1)) GiB needed under $sdir, $((free_kib / 1048576)) GiB free"
((free_kib > need_kib)) || die "not enough free disk under $sdir for $scale_n vaults (set BENCH_DIR to a larger disk)"

((gen_n <= 2)) || gen_range "$s_in" 3 "$gen_n" || die "mkvault failed"
for ((i = 1; i <= 2 * srun; i++)); do
    extras+=("$s_in/x$i.vult")
    scale_vault "${extras[-1]}" $((1000000 + i)) || die "mkvault failed"
done

if ((have_gc)); then
    (umask 077 && printf '%s\n' 'bench gocryptfs password' >"$gc_pass")
    mkdir -p "$gc_cipher"
    timeout 120 gocryptfs -init -q -scryptn 10 -passfile "$gc_pass" "$gc_cipher" >/dev/null ||
        die "gocryptfs -init failed"
    gc_mount
fi

new_store() { # DIR: an empty store, --cost min
    rm -rf "$1"
    timeout 60 "$vultfs" init --cost min --passphrase-file "$pp" "$1" >/dev/null || die "vultfs init $1 failed"
}

# offline_store DIR COUNT: a new store of the first COUNT inputs, made by
# `vultfs import` (the import path of a cp into the mount, without one
# process and one mount request per file), a thousand files per process.
offline_store() {
    local i
    new_store "$1"
    for ((i = 0; i < $2; i += 1000)); do
        timeout 3600 "$vultfs" import --passphrase-file "$pp" "$1" "${files[@]:i:$(($2 - i < 1000 ? $2 - i : 1000))}" \
            >>"$log" 2>&1 || die "offline import into $1 failed"
    done
}

# big_store DIR: --figures-only's store of $scale_n vaults, made by `vultfs
# import` as offline_store does, but from inputs made $gen_batch at a time
# and removed once imported, so that the disk holds at most two batches of
# inputs beside the store; the next batch is made (mkvault, one process per
# CPU) while the last one is imported. The first 100 inputs ($files) are
# kept for the store of 100.
big_store() {
    local lo=$((gen_n + 1)) hi j k=0 dir prev= t0 t1 done_n=0
    new_store "$1"
    now_us t0
    local cur=("${files[@]}")
    while :; do
        dir=
        if ((lo <= scale_n)); then
            hi=$((lo + gen_batch - 1 < scale_n ? lo + gen_batch - 1 : scale_n))
            dir=$s_in/batch-$k
            mkdir -p "$dir"
            for ((j = 0; j < gen_jobs; j++)); do
                # stopped (scale_cleanup), it ends after its mkvault does,
                # so that nothing writes into a directory being removed
                (
                    trap 'exit 1' TERM INT
                    gen_range "$dir" $((lo + j)) "$hi" "$gen_jobs"
                ) &
                gen_pids+=($!)
            done
        fi
        # relative names (env -C, not a subshell that a signal could end
        # while its import goes on): argv stays small whatever $work's path
        if ((${#cur[@]})); then
            timeout 3600 env -C "${prev:-$s_in}" "$vultfs" import --passphrase-file "$pp" "$1" "${cur[@]##*/}" \
                >>"$log" 2>&1 || die "offline import into $1 failed"
            done_n=$((done_n + ${#cur[@]}))
            now_us t1
            say "  store: $done_n of $scale_n vaults imported, $(((t1 - t0) / 1000000)) s" >&2
        fi
        [ -z "$prev" ] || rm -rf "$prev"
        [ -n "$dir" ] || break
        wait_gen
        cur=("$dir"/v*.vult)
        prev=$dir lo=$((hi + 1)) k=$((k + 1))
    done
    now_us t1
    say "store: $scale_n vaults made in $(((t1 - t0) / 1000000)) s ($(du -sh "$1" | cut -f1) on disk)"
}

# copy_files MODE DEST FIRST STEP: files FIRST, FIRST+STEP, ... into DEST,
# one process per file: MODE cp (the vultfs import, durable at close),
# fsync (dd conv=fsync: the file's data durable, not its name) or durable
# (durable-copy: the data, then the directory, fsynced: what an import
# into vultfs promises).
copy_files() {
    local i
    for ((i = $3; i < ${#files[@]}; i += $4)); do
        case $1 in
        cp) timeout 60 cp "${files[i]}" "$2/" || return 1 ;;
        fsync) timeout 60 dd if="${files[i]}" of="$2/${files[i]##*/}" bs=1M conv=fsync status=none || return 1 ;;
        durable) timeout 60 "$durable_bin" "${files[i]}" "$2" || return 1 ;;
        esac
    done
}

# timed_import MODE DEST STREAMS: makes the directory DEST (unless it is
# the mount) and appends the time of importing every file into it with
# STREAMS parallel copiers to the array named by $import_samples.
timed_import() {
    local t0 t1 s i pids=() bad=0
    [ "$2" = "$mnt" ] || mkdir "$2" || die "cannot make $2"
    now_us t0
    if (($3 == 1)); then
        copy_files "$1" "$2" 0 1 || bad=1
    else
        for ((s = 0; s < $3; s++)); do
            copy_files "$1" "$2" "$s" "$3" &
            pids+=($!)
        done
        for ((i = 0; i < 360000; i++)); do # every copy is bounded by timeout 60
            kill -0 "${pids[@]}" 2>/dev/null || break
            sleep 0.005
        done
        for s in "${pids[@]}"; do wait "$s" || bad=1; done
    fi
    now_us t1
    ((bad == 0)) || die "an import into $2 failed ($1, $3 streams)"
    local -n out=$import_samples
    out+=($((t1 - t0)))
}

# import_workload STREAMS LABEL DURABLE_LABEL: vultfs (a fresh store each
# run) against copies into a plain disk directory, gocryptfs and tmpfs,
# each made twice: by dd conv=fsync (LABEL, the lines kept from issue 8)
# and by durable-copy (DURABLE_LABEL, issue 21: data and name durable, as
# an import is). Every run writes into new directories, and nothing on
# disk is removed until both workloads are done (import_cleanup): ext4
# without a journal (this machine's) skips inodes freed in the last minute
# or more when it allocates one, scanning them all each time, so a run
# right after the previous run's rm -rf paid for that scan on every file
# it created: twice per vault for vultfs (a share record and a vault
# record), once for the others. Measured: 2.45 ms an import into a fresh
# directory, 3.3 ms right after 3,000 files were removed beside it. The
# tmpfs copies go at once (memory, not ext4).
import_round=0
import_workload() {
    local r d
    import_samples=iv iv=() id=() ig=() it=() jd=() jg=() jt=()
    for ((r = 0; r < srun; r++)); do
        d=imp-$((import_round++))
        store=$sdir/store-$d
        new_store "$store"
        mount_fs --export-password none
        import_samples=iv timed_import cp "$mnt" "$1"
        unmount_fs
        if (($1 == 1 && r == srun - 1)); then
            rm -rf "$kept_store"
            mv "$store" "$kept_store"
        fi
        import_samples=id timed_import fsync "$disk/$d" "$1"
        import_samples=jd timed_import durable "$disk/$d-durable" "$1"
        import_samples=it timed_import fsync "$tmpfs/$d" "$1"
        rm -rf "$tmpfs/$d"
        import_samples=jt timed_import durable "$tmpfs/$d-durable" "$1"
        rm -rf "$tmpfs/$d-durable"
        if ((have_gc)); then
            import_samples=ig timed_import fsync "$gc_mnt/$d" "$1"
            import_samples=jg timed_import durable "$gc_mnt/$d-durable" "$1"
        fi
    done
    srow "$2" iv ig "" id it
    srow "$3" iv jg "" jd jt
}

# What the import workloads wrote, removed once they are done.
import_cleanup() {
    local r
    for ((r = 0; r < import_round; r++)); do
        rm -rf "$disk/imp-$r" "$disk/imp-$r-durable" "$gc_mnt/imp-$r" "$gc_mnt/imp-$r-durable" "$sdir/store-imp-$r"
    done
}

# ---- the table ----------------------------------------------------------------
declare -a srows=()
declare -A sval=() # median per workload label and sample array
sec() { awk -v u="$1" 'BEGIN { if (u == "") print "-"; else printf "%.2f s", u / 1e6 }'; }
# srow LABEL VULTFS GOCRYPTFS BINDFS DISK TMPFS (names of sample arrays, may
# be empty; missing trailing ones are empty)
srow() {
    local label=$1 cells=() name
    shift
    set -- "$@" "" "" "" "" ""
    for name in "${@:1:5}"; do
        local ref="${name}[@]" samples=()
        [ -z "$name" ] || samples=("${!ref}")
        if [ ${#samples[@]} -gt 0 ]; then
            sval[$label,$name]=$(median "${samples[@]}")
            cells+=("$(sec "${sval[$label,$name]}")")
        else
            [ -z "$name" ] || sval[$label,$name]=
            cells+=("-")
        fi
    done
    srows+=("$label|${cells[0]}|${cells[1]}|${cells[2]}|${cells[3]}|${cells[4]}")
}
ratio() { # NAME NUMERATOR DENOMINATOR
    if [ -n "$2" ] && [ -n "$3" ] && [ "$3" != 0 ]; then
        awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "RATIO %s %.2f\n", n, a / b }'
    else
        say "RATIO $1 skipped"
    fi
}

# ---- 1. imports, one cp at a time and 8 streams ------------------------------
seq_l="import $scale_n, one cp at a time (durable)"
seqd_l="  the same; baselines fsync file + directory"
par_l="import $scale_n, 8 parallel streams (durable)"
pard_l="  the same, 8 streams; fsync file + directory"
if ((figures_only)); then
    big_store "$kept_store"
else
    import_workload 1 "$seq_l" "$seqd_l"
    import_workload 8 "$par_l" "$pard_l"
    import_cleanup
fi

# ---- 2. one more vault into the store of N; and into a store of 100 -----------
# one_more SAMPLES FIRST: mounts $store, cps extras FIRST.. one at a time
one_more() {
    local r
    local -n out=$1
    mount_fs --export-password none
    for ((r = 0; r < srun; r++)); do
        timed out timeout 600 cp "${extras[$2 + r]}" "$mnt/" || die "cp of one more vault failed"
    done
    unmount_fs
}
store=$kept_store
one_more=() one_100=()
one_more one_more 0
srow "cp of 1 more vault into a store of $scale_n" one_more
store=$sdir/store-100
offline_store "$store" $((scale_n < 100 ? scale_n : 100))
one_more one_100 "$srun"
rm -rf "$store"
store=$kept_store

# ---- 2b. one KEYIMPORT backup of 40 chains of a 3-party vault (about 16 MB,
# iOS's share per chain, as large as the apps' shares), cp'd into the store
keyimport=()
mount_fs --export-password none
for ((r = 0; r < srun; r++)); do
    big=$sdir/keyimport-$r.vult
    "$mkvault" --layout keyimport-ios-early --chains 40 --real-size \
        --signers demo-device-1,demo-device-2,demo-device-3 --name "Key import $r" \
        --ecdsa "$(printf '02%064x' $((900000 + r)))" "$big" || die "mkvault keyimport failed"
    timed keyimport timeout 600 cp "$big" "$mnt/" || die "cp of a KEYIMPORT backup failed"
    rm -f "$big"
done
unmount_fs
srow "cp of a 40-chain KEYIMPORT backup (3 parties)" keyimport

# ---- 3. the same tree in tmpfs, on disk, in gocryptfs; bindfs over the disk's ---
if ((figures_only == 0)); then
    mount_fs --export-password none
    timeout 3600 cp -r "$mnt/." "$tmpfs/tree" || die "cp -r of the mount failed"
    unmount_fs
    timeout 3600 cp -r "$tmpfs/tree" "$disk/tree"
    ((have_gc == 0)) || timeout 3600 cp -r "$tmpfs/tree" "$gc_mnt/tree"
    sync -f "$disk/tree"
    ((have_bind == 0)) || bind_mount
fi

# ---- 4. mount time: cold (page cache dropped) then warm ---------------------------
# Cold: echo 3 > /proc/sys/vm/drop_caches right before the mount, so that
# whatever the mount reads comes from the disk; warm: the next mount.
mc_=() mv_=() mgc_=() mg_=()
for ((r = 0; r < srun; r++)); do
    if ((can_drop)); then
        drop_caches
        mount_fs --export-password none
        mc_+=("$mount_us")
        unmount_fs
    fi
    mount_fs --export-password none
    mv_+=("$mount_us")
    unmount_fs
    if ((have_gc)); then
        gc_unmount
        if ((can_drop)); then
            drop_caches
            gc_mount
            mgc_+=("$gc_mount_us")
            gc_unmount
        fi
        gc_mount
        mg_+=("$gc_mount_us")
    fi
done
srow "mount, $scale_n vaults (vultfs --cost min)" mv_ mg_
srow "mount, $scale_n vaults, cold (page cache dropped)" mc_ mgc_

# ---- 5. read everything, cold (remount, drop caches) and warm; RSS after --------
# copy_out SRC SAMPLES: cp -r SRC into the tmpfs, timed, then removed. With
# --figures-only, a tree too large for memory (its exports, about the size
# of the inputs, more than a quarter of what is available) is read with
# cat into /dev/null instead: the daemon does the same work, and nothing
# is held.
read_how=cp
if ((figures_only)); then
    avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
    ((in_avg_kib * scale_n * 4 < avail_kib)) || read_how=cat
fi
copy_out() {
    local -n out=$2
    if [ "$read_how" = cp ]; then
        timed out timeout 3600 cp -r "$1/." "$tmpfs/out" || die "cp -r out of $1 failed"
        rm -rf "$tmpfs/out"
    else
        timed out timeout 3600 find "$1/" -type f -exec cat {} + >/dev/null || die "reading $1 failed"
    fi
}
cv=() wv=() cg=() wg=() cb=() wb=() cd_=() wd=() ct=() wt=()
for ((r = 0; r < srun; r++)); do
    drop_caches
    mount_fs --export-password none
    copy_out "$mnt" cv
    copy_out "$mnt" wv
    rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$fs_pid/status")
    lck_kib=$(awk '/^VmLck:/ { print $2 }' "/proc/$fs_pid/status")
    unmount_fs
    ((figures_only == 0)) || break # the daemon's memory: one run is enough
    if ((have_gc)); then
        gc_unmount
        drop_caches
        gc_mount
        copy_out "$gc_mnt/tree" cg
        copy_out "$gc_mnt/tree" wg
    fi
    if ((have_bind)); then
        drop_caches
        copy_out "$bind_mnt/tree" cb
        copy_out "$bind_mnt/tree" wb
    fi
    drop_caches
    copy_out "$disk/tree" cd_
    copy_out "$disk/tree" wd
    copy_out "$tmpfs/tree" ct
    copy_out "$tmpfs/tree" wt
done
if [ "$read_how" = cp ]; then
    cold_l="cp -r out of $scale_n vaults, cold"
    warm_l="cp -r out of $scale_n vaults, warm"
else
    cold_l="read every file of $scale_n vaults (find + cat), cold"
    warm_l="read every file of $scale_n vaults (find + cat), warm"
fi
srow "$cold_l" cv cg cb cd_ ct
srow "$warm_l" wv wg wb wd wt

# ---- 6. metadata walk: ls -lR and find -ls ---------------------------------------
# (6 and 7 make no FIGURE: not with --figures-only)
walk() { # DIR SAMPLES
    local t0 t1
    local -n out=$2
    now_us t0
    timeout 3600 ls -lR "$1" >/dev/null || die "ls -lR $1 failed"
    timeout 3600 find "$1" -ls >/dev/null || die "find $1 -ls failed"
    now_us t1
    out+=($((t1 - t0)))
}
lv=() lg=() ld=() lt=()
((figures_only)) || mount_fs --export-password none
for ((r = 0; r < srun * (1 - figures_only); r++)); do
    walk "$mnt" lv
    ((have_gc == 0)) || walk "$gc_mnt/tree" lg
    walk "$disk/tree" ld
    walk "$tmpfs/tree" lt
done
((figures_only)) || srow "metadata walk (ls -lR + find -ls)" lv lg "" ld lt

# ---- 7. second restic backup of an unchanged tree --------------------------------
restic_second() { # DIR KIND SAMPLES
    local t0 t1 r
    local -n out=$3
    export RESTIC_REPOSITORY=$sdir/restic-$2 RESTIC_CACHE_DIR=$sdir/restic-cache-$2
    export RESTIC_PASSWORD=$restic_pw
    timeout 600 restic init -q >/dev/null || die "restic init failed"
    (cd "$1" && timeout 3600 restic backup -q --host bench . >/dev/null) || die "restic backup of $1 failed"
    for ((r = 0; r < srun; r++)); do
        now_us t0
        (cd "$1" && timeout 3600 restic backup -q --host bench . >/dev/null) || die "restic backup of $1 failed"
        now_us t1
        out+=($((t1 - t0)))
    done
    unset RESTIC_REPOSITORY RESTIC_CACHE_DIR RESTIC_PASSWORD
}
rv=() rg=() rd=() rt=()
if ((figures_only)); then
    : # no restic line
elif command -v restic >/dev/null; then
    restic_second "$mnt" vultfs rv
    ((have_gc == 0)) || restic_second "$gc_mnt/tree" gocryptfs rg
    restic_second "$disk/tree" disk rd
    restic_second "$tmpfs/tree" tmpfs rt
else
    say "note: restic is missing (scripts/deps.sh): its workload is skipped"
fi
unmount_fs
((figures_only)) || srow "second restic backup, unchanged" rv rg "" rd rt

# ---- table, ratios, figures --------------------------------------------------------
say ""
{
    say "workload|vultfs|gocryptfs|bindfs|plain disk|tmpfs"
    say "---|---|---|---|---|---"
    printf '%s\n' "${srows[@]}"
} | print_table
say ""
walk_l="metadata walk (ls -lR + find -ls)"
rest_l="second restic backup, unchanged"
if ((figures_only == 0)); then
    ratio read_vs_gocryptfs "${sval[$cold_l,cv]}" "${sval[$cold_l,cg]}"
    ratio read_warm_vs_gocryptfs "${sval[$warm_l,wv]}" "${sval[$warm_l,wg]}"
    ratio read_vs_tmpfs "${sval[$warm_l,wv]}" "${sval[$warm_l,wt]}"
    ratio read_cold_vs_tmpfs "${sval[$cold_l,cv]}" "${sval[$cold_l,ct]}"
    ratio import_vs_fsync_floor "${sval[$seq_l,iv]}" "${sval[$seq_l,id]}"
    ratio import_vs_gocryptfs "${sval[$seq_l,iv]}" "${sval[$seq_l,ig]}"
    ratio import_parallel_vs_gocryptfs "${sval[$par_l,iv]}" "${sval[$par_l,ig]}"
    ratio lsR_vs_gocryptfs "${sval[$walk_l,lv]}" "${sval[$walk_l,lg]}"
    ratio restic_vs_gocryptfs "${sval[$rest_l,rv]}" "${sval[$rest_l,rg]}"
    # issue 21: the FUSE floor, and baselines as durable as an import
    ratio read_warm_vs_bindfs "${sval[$warm_l,wv]}" "${sval[$warm_l,wb]}"
    ratio read_cold_vs_disk "${sval[$cold_l,cv]}" "${sval[$cold_l,cd_]}"
    ratio import_vs_durable_disk "${sval[$seqd_l,iv]}" "${sval[$seqd_l,jd]}"
    ratio import_vs_gocryptfs_durable "${sval[$seqd_l,iv]}" "${sval[$seqd_l,jg]}"
    ratio import_parallel_vs_gocryptfs_durable "${sval[$pard_l,iv]}" "${sval[$pard_l,jg]}"
fi
awk -v u="$(median "${mv_[@]}")" 'BEGIN { printf "FIGURE mount_ms %d\n", u / 1000 }'
if ((${#mc_[@]})); then
    awk -v u="$(median "${mc_[@]}")" -v n="$scale_n" 'BEGIN { printf "FIGURE mount_cold_ms_at_%d %d\n", n, u / 1000 }'
else
    say "FIGURE mount_cold_ms_at_$scale_n skipped (cannot drop the page cache)"
fi
awk -v k="$rss_kib" 'BEGIN { printf "FIGURE rss_mib %.1f\n", k / 1024 }'
awk -v u="$(median "${one_100[@]}")" 'BEGIN { printf "FIGURE import_ms_at_100 %.1f\n", u / 1000 }'
awk -v u="$(median "${keyimport[@]}")" 'BEGIN { printf "FIGURE import_ms_keyimport %.1f\n", u / 1000 }'
if ((scale_n != 100)); then
    awk -v u="$(median "${one_more[@]}")" -v n="$scale_n" \
        'BEGIN { printf "FIGURE import_ms_at_%d %.1f\n", n, u / 1000 }'
fi
((scale_n >= 10000)) || say "FIGURE import_ms_at_10000 skipped (run with --full or --vaults 10000)"
say "daemon locked memory (VmLck) after reading everything: $(awk -v k="$lck_kib" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
say ""
if ((figures_only)); then
    say "--figures-only: the store made by vultfs import; mount and one-more-vault medians of $srun runs,"
    say "memory after one cold and one warm read of the whole mount (wall clock; no baselines)."
    return 0
fi
say "medians of $srun runs, wall clock. Imports: one process per file on every side; the first"
say "line of each pair has dd conv=fsync baselines (the file's data durable, not its name), the"
say "second (indented, the same vultfs time) durable-copy: write, fsync the file, fsync its"
say "directory, as an import promises; on tmpfs both are the cost of the process starts."
say "gocryptfs: forward mode, -scryptn 10. bindfs: over the plain disk directory, default options."
say "cold = remount + page-cache drop."
