# shellcheck shell=bash
# Sourced by bench.sh (not with --figures-only): the small-store lines, 20
# vaults, each against a plain-file baseline, and their table. Uses
# bench.sh's vultfs, mkvault, pp, log, work, mnt, store, runs, nvaults,
# fixtures, row, say, die, now_us, timed, drop_caches, print_table and
# mount_fs/unmount_fs.

src_a= src_b=
if [ -f "$fixtures/qa-fast-share1of2.vult" ] && [ -f "$fixtures/qa-secure-share1of3.vult" ]; then
    src_a=$fixtures/qa-fast-share1of2.vult
    src_b=$fixtures/qa-secure-share1of3.vult
    say "inputs: real DKLS shares from $fixtures (qa-fast 157 KB, qa-secure 313 KB), re-keyed by mkvault --from"
else
    say "inputs: synthetic mkvault backups (~1 KB each; no fixtures at $fixtures)"
fi
# make_vault OUT INDEX: a distinct vault (its own ECDSA key) of real size.
# The key has 33 bytes (66 hex digits) as a real one: mkvault --from then
# makes the key share again as large as it was; a shorter key got a small
# fake share, and the 20 exports were 28 KB instead of 4.7 MB.
make_vault() {
    local key name src
    printf -v key '02%064x' "$2"
    name=$(printf 'Bench Vault %04d' "$2")
    if [ -n "$src_a" ]; then
        if (($2 % 2)); then src=$src_a; else src=$src_b; fi
        "$mkvault" --from "$src" --name "$name" --ecdsa "$key" "$1"
    else
        "$mkvault" --name "$name" --ecdsa "$key" "$1"
    fi
}
vaults=()
for ((i = 1; i <= nvaults; i++)); do
    f=$(printf '%s/in/v%02d.vult' "$work" "$i")
    make_vault "$f" "$i"
    vaults+=("$f")
done
extra=()
for ((i = 1; i <= runs; i++)); do
    f=$(printf '%s/in/x%02d.vult' "$work" "$i")
    make_vault "$f" $((1000 + i))
    extra+=("$f")
done

timeout 60 "$vultfs" init --cost min --passphrase-file "$pp" "$store" >/dev/null
timeout 60 "$vultfs" import --passphrase-file "$pp" "$store" "${vaults[@]}" >>"$log" 2>&1

exports=()
for ((i = 1; i <= nvaults; i++)); do
    exports+=("$(printf '%s/Bench Vault %04d/share.vult' "$mnt" "$i")")
done

# The baseline files are the exports themselves (unencrypted exports are the
# imported bytes), copied to a plain directory next to the store.
mount_fs --export-password none
plain=()
for ((i = 1; i <= nvaults; i++)); do
    cp "${exports[i - 1]}" "$work/plain/p$i.vult"
    plain+=("$work/plain/p$i.vult")
done
bytes=$(cat "${plain[@]}" | wc -c)
unmount_fs
say "store: Argon2id --cost min; $nvaults vaults, $bytes bytes of exports; page cache drop: $([ "$can_drop" = 1 ] && echo yes || echo 'no (cold baselines are warm)')"

# ---- 1. cold read, unencrypted exports ---------------------------------------
cold_v=() cold_b=()
for ((r = 0; r < runs; r++)); do
    mount_fs --export-password none
    drop_caches
    timed cold_v cat "${exports[@]}" >/dev/null
    unmount_fs
    drop_caches
    timed cold_b cat "${plain[@]}" >/dev/null
done
row "1 cold read, $nvaults exports (--export-password none; remount + drop caches)" cold_v cold_b "cat, plain files, dropped caches"

# ---- 2. warm re-read ----------------------------------------------------------
warm_v=() warm_b=()
mount_fs --export-password none
cat "${exports[@]}" >/dev/null
cat "${plain[@]}" >/dev/null
for ((r = 0; r < runs; r++)); do
    timed warm_v cat "${exports[@]}" >/dev/null
    timed warm_b cat "${plain[@]}" >/dev/null
done
unmount_fs
row "2 warm re-read, $nvaults exports (--export-password none; same mount)" warm_v warm_b "cat, plain files, page cache"

# ---- 5. mount time ------------------------------------------------------------
mnt_none=() mnt_cur=() mnt_true=()
for ((r = 0; r < runs; r++)); do
    mount_fs --export-password none
    mnt_none+=("$mount_us")
    unmount_fs
    mount_fs --export-scheme current
    mnt_cur+=("$mount_us")
    unmount_fs
    timed mnt_true /bin/true
done

# ---- 6. current scheme: first read after mount vs later reads -----------------
first_v=() later_v=()
for ((r = 0; r < runs; r++)); do
    mount_fs --export-scheme current
    drop_caches
    timed first_v cat "${exports[@]}" >/dev/null
    timed later_v cat "${exports[@]}" >/dev/null
    unmount_fs
done

# ---- 3. cp of one backup into the mount (an import) ----------------------------
# Two baselines: dd conv=fsync (the file's data durable, not its name) and
# durable-copy (data, then the directory, fsynced: what an import promises).
cp_v=() cp_b=() cp_d=()
mkdir "$work/durable"
mount_fs --export-password none
for ((r = 0; r < runs; r++)); do
    f=${extra[r]}
    timed cp_v cp "$f" "$mnt/"
    timed cp_b dd if="$f" of="$work/plain/cp$r.vult" bs=1M conv=fsync status=none
    timed cp_d "$durable_bin" "$f" "$work/durable"
done
shown=$(find "$mnt" -mindepth 1 -maxdepth 1 -type d | wc -l)
unmount_fs
[ "$shown" = $((nvaults + runs)) ] || die "expected $((nvaults + runs)) vaults after the cp imports, the mount shows $shown"

# ---- 4. offline import of 20 files ----------------------------------------------
durable_copy='
import os, sys, time
dest = sys.argv[1]
t0 = time.perf_counter()
dfd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
for i, src in enumerate(sys.argv[2:]):
    with open(src, "rb") as f:
        data = f.read()
    tmp = os.path.join(dest, ".tmp%d" % i)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, os.path.join(dest, "f%d.vult" % i))
    os.fsync(dfd)
os.close(dfd)
print(int((time.perf_counter() - t0) * 1e6))
'
imp_v=() imp_b=()
for ((r = 0; r < runs; r++)); do
    s=$work/imp$r
    timeout 60 "$vultfs" init --cost min --passphrase-file "$pp" "$s" >/dev/null
    timed imp_v timeout 60 "$vultfs" import --passphrase-file "$pp" "$s" "${vaults[@]}" >>"$log" 2>&1
    rm -rf "$s"
    mkdir "$work/dcopy$r"
    imp_b+=("$(timeout 60 python3 -c "$durable_copy" "$work/dcopy$r" "${vaults[@]}")")
    rm -rf "$work/dcopy$r"
done
row "3 cp of 1 backup into the mount (import, fsynced)" cp_v cp_b "dd conv=fsync, plain dir"
row "3 the same, against a durable write" cp_v cp_d "durable-copy: fsync file + dir"
row "4 vultfs import of $nvaults files, offline (incl. store open)" imp_v imp_b "python: write+fsync+rename+fsync dir"
row "5 mount to ready, --export-password none (Argon2id min)" mnt_none mnt_true "/bin/true"
row "5 mount to ready, current scheme (+ PBKDF2 600k)" mnt_cur mnt_true "/bin/true"
row "6 current scheme: first read of $nvaults exports after mount" first_v later_v "same, later read"

# ---- table --------------------------------------------------------------------
say ""
{
    say "what|vultfs|baseline|ratio"
    say "---|---|---|---"
    printf '%s\n' "${rows[@]}"
} | print_table
say ""
say "ratio = vultfs / baseline (medians of $runs runs); times are wall clock, each one command"
say "(cat of all $nvaults files, one cp, one vultfs import of $nvaults files, one mount)."
