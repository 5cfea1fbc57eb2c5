#!/usr/bin/env bash
# Install what rtpproxy needs to build and test, from Debian 12's packages.
#
# Idempotent and quiet: asks dpkg what is missing, and only then runs `apt-get update` once and
# installs the missing packages, non-interactively (works as root with no stdin, as in CI).
# Exits non-zero with a message naming what failed.
set -euo pipefail

# Needed to build and to run every test.
REQUIRED=(
	gcc pkg-config meson ninja-build
	dpdk dpdk-dev libdpdk-dev libnuma-dev
	libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
	protobuf-compiler python3 python3-grpcio python3-protobuf
	iproute2 ethtool iputils-ping tshark
	clang libclang-rt-dev          # fuzzers (libFuzzer runtime is in libclang-rt-dev)
	nftables libnftables-dev openssl   # the exception path's filter (1.3); test certificates
	libssl-dev                     # gRPC TLS: the key checked against the certificate at start
	libmicrohttpd-dev              # [http]: /metrics, /healthz, the web view (API.md 1.4)
	libhiredis-dev redis-server python3-redis   # [state] backend = redis (1.6); its tests
	prometheus                     # tests: promtool check metrics, a real server scraping /metrics
	chromium chromium-driver python3-selenium   # the web view's browser test (e2e_webview)
)
# Nice to have: a failure to install these is reported but not fatal.
OPTIONAL=(valgrind)

# Only when asked, so that building and testing stay as they are for everyone else:
#   --package    scripts/package.sh and the package test (a .deb, a fresh root by mmdebstrap)
#   --container  scripts/container.sh (the root file system imported into podman)
PACKAGING=(dpkg-dev debhelper fakeroot build-essential mmdebstrap systemd)
CONTAINER=("${PACKAGING[@]}" podman runc)   # runc: crun refuses hybrid cgroup v1+v2 hosts
case ${1:-} in
--package) REQUIRED=("${PACKAGING[@]}"); OPTIONAL=() ;;
--container) REQUIRED=("${CONTAINER[@]}"); OPTIONAL=() ;;
"") ;;
*) echo "usage: $0 [--package | --container]" >&2; exit 2 ;;
esac

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing_of() {
	local p
	for p in "$@"; do
		is_installed "$p" || printf '%s\n' "$p"
	done
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script needs Debian 12 (bookworm)"

mapfile -t missing < <(missing_of "${REQUIRED[@]}")
mapfile -t missing_opt < <(missing_of "${OPTIONAL[@]}")
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_opt[@]} -eq 0 ]; then
	exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO=(sudo -n)
	else
		die "missing packages (${missing[*]} ${missing_opt[*]}) and not root (no password-less sudo): run as root"
	fi
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-q -y --no-install-recommends
	-o DPkg::Lock::Timeout=300
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# tshark asks whether non-root users may capture: answer "no" up front so nothing prompts.
echo 'wireshark-common wireshark-common/install-setuid boolean false' |
	"${SUDO[@]}" debconf-set-selections ||
	die "debconf-set-selections failed (preseeding wireshark-common)"

log "installing: ${missing[*]} ${missing_opt[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update </dev/null >/tmp/rtpproxy-bootstrap-update.log 2>&1 ||
	{ cat /tmp/rtpproxy-bootstrap-update.log >&2; die "apt-get update failed"; }

if [ ${#missing[@]} -gt 0 ]; then
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install "${missing[@]}" </dev/null ||
		die "apt-get install failed for: ${missing[*]}"
fi
if [ ${#missing_opt[@]} -gt 0 ]; then
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install "${missing_opt[@]}" </dev/null ||
		log "warning: optional packages not installed: ${missing_opt[*]}"
fi

mapfile -t still < <(missing_of "${REQUIRED[@]}")
[ ${#still[@]} -eq 0 ] || die "still missing after install: ${still[*]}"
log "done"
