#!/usr/bin/env bash
# Builds the Debian package (debian/: debhelper with meson) from a clean
# clone of the committed tree, as a packager would, and checks it with
# lintian (any error fails the build).
#   scripts/package.sh [OUTDIR]     the .deb lands in OUTDIR (default ./dist)
# The C unit tests run during the build unless DEB_BUILD_OPTIONS has
# nocheck. Needs what scripts/deps.sh installs (debhelper, lintian).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# committed files only: what a clone from the repository builds
git clone --quiet --no-hardlinks "$root" "$work/vultfs"
cd "$work/vultfs"
dpkg-checkbuilddeps
dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log" >&2; echo "vultfs: package.sh: dpkg-buildpackage failed" >&2; exit 1; }
cd "$work"
changes=$(ls vultfs_*.changes)
# lintian exits non-zero on an error; warnings are printed for a person to read
lintian --fail-on error --tag-display-limit 0 "$changes" >&2
deb=$(ls vultfs_*.deb)
cp "$deb" "$out/"
echo "$out/$deb"
