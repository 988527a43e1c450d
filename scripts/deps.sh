#!/usr/bin/env bash
# Installs the Debian packages vultfs needs to build and test, and only those
# that are missing: quick and silent when everything is there.
#   scripts/deps.sh          build, unit, mount and fuzz tests
#   scripts/deps.sh fuzz     the same (clang is in the default set now)
#   scripts/deps.sh bench    also the baselines of scripts/bench.sh: gocryptfs (encrypted)
#                            and bindfs (a passthrough FUSE mount: the FUSE floor)
set -euo pipefail

packages=(
    # build
    meson ninja-build pkg-config gcc
    libfuse3-dev fuse3 libsodium-dev libjansson-dev libxxhash-dev
    nettle-dev  # AES-256-CBC (.dat), PBKDF2 with the CPU's SHA extensions
    libzip-dev  # the apps' multi-vault .zip backups: a well-kept reader, not ours
    libsystemd-dev  # sd-bus: desktop notifications of refused imports
    # tests: mount tests drive real tools
    python3 python3-pytest attr rsync tar nodejs libglib2.0-bin
    restic borgbackup rclone strace
    # tests/mount/test_desktop_notify.py: a session bus (dbus-run-session) and
    # the notification service the test runs on it
    dbus-daemon python3-dbus python3-gi
    # tests/mount/test_file_managers.py: KDE Dolphin's copy and move (kioclient5)
    kde-cli-tools
    # tests/cli/test_package.py: scripts/package.sh builds the .deb, lintian checks it
    dpkg-dev debhelper lintian groff-base
    # tests/fuzz (scripts/test.sh runs each target): libFuzzer, ASan, UBSan
    clang-14 libclang-rt-14-dev
)
for extra in "$@"; do
    case "$extra" in
    fuzz) ;; # kept for old callers: the default set has it
    bench) packages+=(gocryptfs bindfs) ;;
    *) echo "vultfs: deps.sh: unknown group '$extra' (only: fuzz, bench)" >&2; exit 2 ;;
    esac
done

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
        missing+=("$pkg")
    fi
done

# node may come from outside Debian (it does on the dev machines); accept any.
if command -v node >/dev/null 2>&1; then
    filtered=()
    for pkg in "${missing[@]}"; do [ "$pkg" = nodejs ] || filtered+=("$pkg"); done
    missing=("${filtered[@]+"${filtered[@]}"}")
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "vultfs: missing packages: ${missing[*]}; run as root or install them" >&2
    exit 1
fi
echo "vultfs: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
