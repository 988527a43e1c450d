# shellcheck shell=bash
# Sourced by bench.sh and crash-test.sh after common.sh: mount a vultfs
# store in the foreground (so the daemon's pid is ours) and always unmount
# it, every wait bounded. The caller sets: vultfs (binary), pp (passphrase
# file), store, mnt, log (daemon stderr), fs_pid (empty), and defines die().

# Whether DIR (default $mnt) is a mount point; builtin only (no fork), so
# that polling for the mount costs nothing.
is_mounted() {
    local lines
    mapfile -t lines </proc/self/mountinfo
    [[ " ${lines[*]} " == *" ${1:-$mnt} "* ]]
}

# mount_fs [VULTFS MOUNT OPTIONS]: mounts $store at $mnt, waits up to 20 s
# (or $mount_wait_s) for the mount point; sets fs_pid and mount_us.
mount_fs() {
    local t0 t1 i
    now_us t0
    "$vultfs" mount -f --passphrase-file "$pp" "$@" "$store" "$mnt" 2>>"$log" &
    fs_pid=$!
    for ((i = 0; ; i++)); do
        is_mounted && break
        if ! kill -0 "$fs_pid" 2>/dev/null; then
            tail -n 5 "$log" >&2
            fs_pid=
            die "vultfs mount exited before the mount was ready"
        fi
        now_us t1
        ((t1 - t0 < ${mount_wait_s:-20} * 1000000)) || die "the mount was not ready after ${mount_wait_s:-20} s"
        ((i < 200)) || sleep 0.001
    done
    now_us t1
    mount_us=$((t1 - t0))
}

# Unmounts $mnt and waits (bounded) for the daemon to exit. Interrupted
# mid-mount, the mount may appear only later: keep looking, and send SIGTERM
# (vultfs unmounts on it) when the daemon outlives 1 s.
unmount_fs() {
    local i
    for ((i = 0; i < 500; i++)); do
        if is_mounted; then
            timeout 10 fusermount3 -u "$mnt" 2>/dev/null || true
        fi
        [ -n "$fs_pid" ] && kill -0 "$fs_pid" 2>/dev/null || break
        ((i != 100)) || kill -TERM "$fs_pid" 2>/dev/null || true
        sleep 0.01
    done
    if [ -n "$fs_pid" ]; then
        kill -KILL "$fs_pid" 2>/dev/null || true
        wait "$fs_pid" 2>/dev/null || true
        fs_pid=
    fi
    if is_mounted; then
        timeout 10 fusermount3 -uz "$mnt" 2>/dev/null || true
    fi
}
