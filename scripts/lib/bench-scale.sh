# shellcheck shell=bash
# Sourced by bench.sh after its small-store lines: issue 8's workloads on a
# store of $scale_n vaults, each against tmpfs, a plain disk directory and a
# gocryptfs mount holding the same tree, measured in the same run (median of
# $srun). Uses bench.sh's vultfs, mkvault, pp, log, work, die, say, now_us,
# timed, median, print_table, drop_caches, mount_fs/unmount_fs ($store, $mnt,
# $fs_pid).

srun=${BENCH_SCALE_RUNS:-3}
mount_wait_s=600 # a big store mounts slowly today (issue 8)
case $srun in '' | *[!0-9]* | 0) die "BENCH_SCALE_RUNS must be a positive number" ;; esac
sdir=$work/scale
s_in=$sdir/in
tmpfs=$sdir/tmpfs
disk=$sdir/disk
gc_cipher=$sdir/gc-cipher gc_mnt=$sdir/gc-mnt gc_pass=$sdir/gc-pass
kept_store=$sdir/store
restic_pw='bench restic password (synthetic vaults only)'
mkdir -p "$s_in" "$tmpfs" "$disk" "$gc_mnt"
mount -t tmpfs -o mode=0700 vultfs-bench "$tmpfs" || die "cannot mount a tmpfs at $tmpfs"
tmpfs_mounted=1

have_gc=0
if ((figures_only)); then
    : # no baselines
elif command -v gocryptfs >/dev/null; then
    have_gc=1
else
    say "note: gocryptfs is missing (scripts/deps.sh bench): its baseline is skipped"
fi

# Called by bench.sh's cleanup: the gocryptfs mount and the tmpfs.
scale_cleanup() {
    if is_mounted "$gc_mnt"; then
        timeout 20 fusermount3 -u "$gc_mnt" 2>/dev/null || timeout 20 fusermount3 -uz "$gc_mnt" || true
    fi
    if [ "${tmpfs_mounted:-0}" = 1 ]; then
        timeout 20 umount "$tmpfs" 2>/dev/null || timeout 20 umount -l "$tmpfs" || true
        tmpfs_mounted=0
    fi
}

gc_mount() {
    local t0 t1 i
    now_us t0
    timeout 60 gocryptfs -q -nosyslog -passfile "$gc_pass" "$gc_cipher" "$gc_mnt" || die "gocryptfs mount failed"
    for ((i = 0; i < 2000; i++)); do
        is_mounted "$gc_mnt" && break
        sleep 0.01
    done
    is_mounted "$gc_mnt" || die "the gocryptfs mount did not appear within 20 s"
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

# ---- inputs: N vaults of 26 KB (GG20) and 157 KB (DKLS), or ~1 KB synthetic --
scale_src_a= scale_src_b=
if [ -f "$fixtures/Test-part1of2.vult" ] && [ -f "$fixtures/qa-fast-share1of2.vult" ]; then
    scale_src_a=$fixtures/Test-part1of2.vult
    scale_src_b=$fixtures/qa-fast-share1of2.vult
fi
scale_vault() { # OUT INDEX
    local key name
    key=03$(printf '%062x' "$2")
    name=$(printf 'Scale Vault %05d' "$2")
    if [ -z "$scale_src_a" ]; then
        "$mkvault" --name "$name" --ecdsa "$key" "$1"
    elif (($2 % 2)); then
        "$mkvault" --from "$scale_src_a" --name "$name" --ecdsa "$key" "$1"
    else
        "$mkvault" --from "$scale_src_b" --name "$name" --ecdsa "$key" "$1"
    fi
}
files=() extras=()
for ((i = 1; i <= scale_n; i++)); do
    files+=("$(printf '%s/v%05d.vult' "$s_in" "$i")")
    scale_vault "${files[-1]}" "$i"
done
for ((i = 1; i <= 2 * srun; i++)); do
    extras+=("$s_in/x$i.vult")
    scale_vault "${extras[-1]}" $((100000 + i))
done
say ""
say "scale: $scale_n vaults ($(du -sh "$s_in" | cut -f1) of backups$([ -n "$scale_src_a" ] && echo ', 26 KB GG20 and 157 KB DKLS alternately' || echo ', synthetic ~1 KB')), median of $srun"

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

# copy_files MODE DEST FIRST STEP: files FIRST, FIRST+STEP, ... into DEST,
# one process per file: MODE cp (the vultfs import, durable at close) or
# fsync (dd conv=fsync: the durable baseline).
copy_files() {
    local i
    for ((i = $3; i < ${#files[@]}; i += $4)); do
        if [ "$1" = cp ]; then
            timeout 60 cp "${files[i]}" "$2/" || return 1
        else
            timeout 60 dd if="${files[i]}" of="$2/${files[i]##*/}" bs=1M conv=fsync status=none || return 1
        fi
    done
}

# timed_import MODE DEST STREAMS: appends the time of importing every file
# with STREAMS parallel copiers to the array named by $import_samples.
timed_import() {
    local t0 t1 s i pids=() bad=0
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

# import_workload STREAMS LABEL: vultfs (a fresh store each run) against
# fsync'd copies into a plain disk directory, gocryptfs and tmpfs. Every
# run writes into new directories, and nothing is removed until both
# workloads are done (import_cleanup): ext4 without a journal (this
# machine's) skips inodes freed in the last minute or more when it
# allocates one, scanning them all each time, so a run right after the
# previous run's rm -rf paid for that scan on every file it created:
# twice per vault for vultfs (a share record and a vault record), once
# for the others. Measured: 2.45 ms an import into a fresh directory, 3.3
# ms right after 3,000 files were removed beside it.
import_round=0
import_workload() {
    local r d
    import_samples=iv iv=() id=() ig=() it=()
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
        mkdir "$disk/$d" "$tmpfs/$d"
        import_samples=id timed_import fsync "$disk/$d" "$1"
        import_samples=it timed_import fsync "$tmpfs/$d" "$1"
        if ((have_gc)); then
            mkdir "$gc_mnt/$d"
            import_samples=ig timed_import fsync "$gc_mnt/$d" "$1"
        fi
    done
    srow "$2" iv ig id it
}

# What the import workloads wrote, removed once they are done.
import_cleanup() {
    local r
    for ((r = 0; r < import_round; r++)); do
        rm -rf "$disk/imp-$r" "$tmpfs/imp-$r" "$gc_mnt/imp-$r" "$sdir/store-imp-$r"
    done
}

# ---- the table ----------------------------------------------------------------
declare -a srows=()
declare -A sval=() # median vultfs / gocryptfs / disk / tmpfs per workload key
sec() { awk -v u="$1" 'BEGIN { if (u == "") print "-"; else printf "%.2f s", u / 1e6 }'; }
# srow LABEL VULTFS GOCRYPTFS DISK TMPFS (names of sample arrays, may be empty)
srow() {
    local label=$1 cells=() name
    shift
    for name in "$@"; do
        local ref="${name}[@]" samples=()
        [ -z "$name" ] || samples=("${!ref}")
        if [ ${#samples[@]} -gt 0 ]; then
            sval[$label,$name]=$(median "${samples[@]}")
            cells+=("$(sec "${sval[$label,$name]}")")
        else
            sval[$label,$name]=
            cells+=("-")
        fi
    done
    srows+=("$label|${cells[0]}|${cells[1]}|${cells[2]}|${cells[3]}")
}
ratio() { # NAME NUMERATOR DENOMINATOR
    if [ -n "$2" ] && [ -n "$3" ] && [ "$3" != 0 ]; then
        awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "RATIO %s %.2f\n", n, a / b }'
    else
        say "RATIO $1 skipped"
    fi
}

# ---- 1. imports, one cp at a time and 8 streams ------------------------------
if ((figures_only)); then
    offline_store "$kept_store" "$scale_n"
else
    import_workload 1 "import $scale_n, one cp at a time (durable)"
    import_workload 8 "import $scale_n, 8 parallel streams (durable)"
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
srow "cp of 1 more vault into a store of $scale_n" one_more "" "" ""
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
srow "cp of a 40-chain KEYIMPORT backup (3 parties)" keyimport "" "" ""

# ---- 3. the same tree in tmpfs, on disk and in gocryptfs -----------------------
if ((figures_only == 0)); then
    mount_fs --export-password none
    timeout 3600 cp -r "$mnt/." "$tmpfs/tree" || die "cp -r of the mount failed"
    unmount_fs
    timeout 3600 cp -r "$tmpfs/tree" "$disk/tree"
    ((have_gc == 0)) || timeout 3600 cp -r "$tmpfs/tree" "$gc_mnt/tree"
    sync -f "$disk/tree"
fi

# ---- 4. mount time ---------------------------------------------------------------
mv_=() mg_=()
for ((r = 0; r < srun; r++)); do
    mount_fs --export-password none
    mv_+=("$mount_us")
    unmount_fs
    if ((have_gc)); then
        gc_unmount
        gc_mount
        mg_+=("$gc_mount_us")
    fi
done
srow "mount, $scale_n vaults (vultfs --cost min)" mv_ mg_ "" ""

# ---- 5. cp -r out, cold (remount, drop caches) and warm; RSS after --------------
# copy_out SRC SAMPLES: cp -r SRC into the tmpfs, timed, then removed
copy_out() {
    local -n out=$2
    timed out timeout 3600 cp -r "$1/." "$tmpfs/out" || die "cp -r out of $1 failed"
    rm -rf "$tmpfs/out"
}
cv=() wv=() cg=() wg=() cd_=() wd=() ct=() wt=()
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
    drop_caches
    copy_out "$disk/tree" cd_
    copy_out "$disk/tree" wd
    copy_out "$tmpfs/tree" ct
    copy_out "$tmpfs/tree" wt
done
srow "cp -r out of $scale_n vaults, cold" cv cg cd_ ct
srow "cp -r out of $scale_n vaults, warm" wv wg wd wt

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
((figures_only)) || srow "metadata walk (ls -lR + find -ls)" lv lg ld lt

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
((figures_only)) || srow "second restic backup, unchanged" rv rg rd rt

# ---- table, ratios, figures --------------------------------------------------------
say ""
{
    say "workload|vultfs|gocryptfs|plain disk|tmpfs"
    say "---|---|---|---|---"
    printf '%s\n' "${srows[@]}"
} | print_table
say ""
seq_l="import $scale_n, one cp at a time (durable)"
par_l="import $scale_n, 8 parallel streams (durable)"
cold_l="cp -r out of $scale_n vaults, cold"
warm_l="cp -r out of $scale_n vaults, warm"
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
fi
awk -v u="$(median "${mv_[@]}")" 'BEGIN { printf "FIGURE mount_ms %d\n", u / 1000 }'
awk -v k="$rss_kib" 'BEGIN { printf "FIGURE rss_mib %.1f\n", k / 1024 }'
awk -v u="$(median "${one_100[@]}")" 'BEGIN { printf "FIGURE import_ms_at_100 %.1f\n", u / 1000 }'
awk -v u="$(median "${keyimport[@]}")" 'BEGIN { printf "FIGURE import_ms_keyimport %.1f\n", u / 1000 }'
if ((scale_n >= 10000)); then
    awk -v u="$(median "${one_more[@]}")" -v n="$scale_n" \
        'BEGIN { printf "FIGURE import_ms_at_10000 %.1f\n", u / 1000 }'
else
    say "FIGURE import_ms_at_10000 skipped (run with --full or --vaults 10000)"
fi
say "daemon locked memory (VmLck) after the cp -r: $(awk -v k="$lck_kib" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
say ""
if ((figures_only)); then
    say "--figures-only: the store made by vultfs import; mount and one-more-vault medians of $srun runs,"
    say "memory after one cold and one warm cp -r of the whole mount (wall clock; no baselines)."
    return 0
fi
say "medians of $srun runs, wall clock; tmpfs and disk imports are dd conv=fsync per file,"
say "gocryptfs imports too (forward mode, -scryptn 10); cold = remount + page-cache drop."
