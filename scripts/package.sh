#!/usr/bin/env bash
# Build the Debian package: rtpproxy_VERSION_amd64.deb (debian/, dpkg-buildpackage).
#
#   scripts/package.sh [OUTDIR]        the .deb lands in OUTDIR (default: build-deb/)
#
# VERSION is meson.build's project version. The working tree (tracked and untracked files
# that git does not ignore) is copied to a temporary directory and built there, so build/
# and the checkout stay untouched. What is missing to build is installed first (root):
# the packaging tools (scripts/bootstrap.sh --package) and debian/control's Build-Depends.
# Prints the path of the .deb on its last line. Environment: PACKAGE_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-build-deb}

log() { printf 'package: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

version=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" meson.build | head -n1)
[ -n "$version" ] || die "no project version found in meson.build"

bash scripts/bootstrap.sh --package

# debian/control's Build-Depends that are not installed yet (dpkg-checkbuilddeps names them)
unmet=$(dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p' |
	sed -e 's/([^)]*)//g' -e 's/|[^ ]*//g' || true)
if [ -n "$unmet" ]; then
	log "installing Build-Depends: $unmet"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
		-o DPkg::Lock::Timeout=300 install $unmet </dev/null >&2 ||
		die "apt-get install failed for Build-Depends: $unmet"
	dpkg-checkbuilddeps || die "Build-Depends still unmet"
fi

work=$(mktemp -d /tmp/rtpproxy-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/rtpproxy-$version
mkdir -p "$src"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	# tracked and untracked-but-not-ignored files: what `git status` shows, without build dirs
	git -C "$ROOT" ls-files -z -c -o --exclude-standard |
		tar -C "$ROOT" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$src" -xf -
else
	tar -C "$ROOT" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$src" -xf -
fi

# The changelog's top entry carries the version; one is added (here only) for a newer
# meson.build version, so a version bump alone still packages.
top=$(cd "$src" && dpkg-parsechangelog -S Version)
if [ "$top" != "$version" ]; then
	log "debian/changelog is at $top, meson.build at $version: adding an entry for $version"
	{
		printf 'rtpproxy (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Version %s (from meson.build).\n\n' "$version"
		printf ' -- %s  %s\n\n' "$(cd "$src" && dpkg-parsechangelog -S Maintainer)" "$(date -R)"
		cat "$src/debian/changelog"
	} > "$work/changelog" && mv "$work/changelog" "$src/debian/changelog"
fi

log "building rtpproxy $version in $src"
start=$(date +%s)
(cd "$src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=${PACKAGE_JOBS:-2}" \
	dpkg-buildpackage -b -us -uc) > "$work/build.log" 2>&1 ||
	{ tail -n 60 "$work/build.log" >&2; die "dpkg-buildpackage failed (log above)"; }
deb=$work/rtpproxy_${version}_amd64.deb
[ -f "$deb" ] || { tail -n 30 "$work/build.log" >&2; die "no $(basename "$deb") was built"; }
mkdir -p "$OUT"
cp "$deb" "$OUT/"
log "built in $(( $(date +%s) - start )) s"
echo "$(cd "$OUT" && pwd)/$(basename "$deb")"
