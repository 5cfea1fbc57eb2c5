#!/usr/bin/env bash
# The container image: a Debian 12 root file system made from Debian's packages (mmdebstrap,
# this machine's apt sources; no registry involved), the rtpproxy .deb installed in it with
# apt, imported into podman, plus the image's metadata (HEALTHCHECK, entrypoint).
#
#   scripts/container.sh [DEB]    build localhost/rtpproxy:VERSION (and :latest)
#
# DEB: the package to install (default: build-deb/rtpproxy_VERSION_amd64.deb, built by
# scripts/package.sh when missing). Needs root; installs mmdebstrap and podman when missing
# (scripts/bootstrap.sh --container). Prints the image name on its last line.
#
# Running it (rootful podman; docs/DEPLOYMENT.md). The appliance owns NICs, hugepages and
# the host's management address, so it shares the host's network namespace, gets the VFIO
# devices of its NICs, and keeps only the capabilities of rtpproxy.service:
#
#   podman run -d --name rtpproxy --network host --user rtpproxy \
#       --cap-drop all --cap-add NET_ADMIN,NET_RAW,IPC_LOCK --ulimit memlock=-1:-1 \
#       --security-opt unmask=/proc/sys \
#       --device /dev/net/tun --device /dev/vfio/vfio --device /dev/vfio/42 \
#       -v /etc/rtpproxy:/etc/rtpproxy:ro \
#       localhost/rtpproxy:VERSION
#
#   --network host        gRPC/HTTP on the management address, the exception TAPs (rtp0...)
#                         and the nftables table in the host's namespace, as without podman
#   --user rtpproxy       the package's system user (as rtpproxy.service); podman hands it
#                         the added capabilities as ambient ones
#   --cap-*               NET_ADMIN: TAPs, netlink, nftables, net sysctls; NET_RAW: af_packet
#                         ports, SO_BINDTODEVICE; IPC_LOCK: VFIO's pinned DMA memory
#                         (no-IOMMU hosts add SYS_ADMIN and SYS_RAWIO, as in rtpproxy.service)
#   unmask=/proc/sys      rtpproxy sets its TAPs' rp_filter (and tcp_tw_reuse): /proc/sys is
#                         read-only in a container otherwise
#   --device /dev/vfio/N  the IOMMU group of each NIC bound to vfio-pci (readlink
#                         /sys/bus/pci/devices/0000:03:00.0/iommu_group), readable by the
#                         container's rtpproxy user (uid/gid of the image: id rtpproxy inside)
#   hugepages             reserved on the host (vm.nr_hugepages); the shipped config uses
#                         --in-memory, which needs no hugetlbfs mount in the container (with
#                         page files instead, add -v /dev/hugepages:/dev/hugepages)
#   /etc/rtpproxy         your rtpproxy.conf (and tokens, certificates), readable by rtpproxy
#
# On a host with cgroup v1 and v2 controllers both mounted ("hybrid"), crun refuses to run
# containers: use runc (podman --runtime runc). tests/package/test_container.py runs this
# (in a namespace of its own, an af_packet port) and polls the HEALTHCHECK until healthy.
#
# The HEALTHCHECK runs `rtpproxyctl health` (grpc.health.v1: exit 0 when SERVING) against
# the default 127.0.0.1:50051; with another [grpc] listen, override it (--health-cmd).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'container: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, rootful podman)"
version=$(sed -n "s/^[[:space:]]*version:[[:space:]]*'\([^']*\)'.*/\1/p" meson.build | head -n1)
[ -n "$version" ] || die "no project version found in meson.build"
deb=${1:-build-deb/rtpproxy_${version}_amd64.deb}
if [ ! -f "$deb" ]; then
	[ $# -eq 0 ] || die "$deb: no such file"
	deb=$(bash scripts/package.sh build-deb | tail -n1)
fi
deb=$(readlink -f "$deb")
bash scripts/bootstrap.sh --container

work=$(mktemp -d /tmp/rtpproxy-container.XXXXXX)
trap 'rm -rf "$work"' EXIT

# rtpproxyctl health (grpc.health.v1) is the check; stats for a package older than it
health=(/usr/bin/rtpproxyctl health)
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/bin/rtpproxyctl > "$work/rtpproxyctl"
if ! grep -q 'grpc.health.v1' "$work/rtpproxyctl"; then
	health=(/usr/bin/rtpproxyctl stats)
fi
name=$(basename "$deb")
start=$(date +%s)
# minbase + the .deb with apt (its Depends from the mirror); no docs, no apt lists: smaller
mmdebstrap --variant=minbase \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/rtpproxy/*' \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
	--customize-hook="copy-in $deb /tmp" \
	--customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -q -y /tmp/$name" \
	--customize-hook="rm -f \"\$1\"/tmp/$name" \
	bookworm "$work/rootfs.tar" /etc/apt/sources.list.d/debian.sources > "$work/mmdebstrap.log" 2>&1 ||
	{ tail -n 40 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed (log above)"; }
log "root file system: $(du -h "$work/rootfs.tar" | cut -f1) in $(( $(date +%s) - start )) s"

podman import --quiet --change "LABEL org.opencontainers.image.title=rtpproxy" \
	"$work/rootfs.tar" "localhost/rtpproxy-rootfs:$version" >/dev/null ||
	die "podman import failed"
{
	echo "FROM localhost/rtpproxy-rootfs:$version"
	echo "LABEL org.opencontainers.image.title=rtpproxy org.opencontainers.image.version=$version"
	printf 'HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 CMD ["%s"' "${health[0]}"
	printf ', "%s"' "${health[@]:1}"
	printf ']\n'
	echo "EXPOSE 50051/tcp 9464/tcp"
	echo "STOPSIGNAL SIGTERM"
	echo 'ENTRYPOINT ["/usr/bin/rtpproxy"]'
	echo 'CMD ["-c", "/etc/rtpproxy/rtpproxy.conf"]'
} > "$work/Containerfile"
# docker format: OCI images have no HEALTHCHECK
podman build --quiet --format docker -t "localhost/rtpproxy:$version" -t localhost/rtpproxy:latest \
	-f "$work/Containerfile" "$work" >/dev/null || die "podman build failed"
podman rmi --force "localhost/rtpproxy-rootfs:$version" >/dev/null 2>&1 || true
# earlier builds, now untagged (an image and then its root file system), unless in use
for pass in 1 2; do
	for id in $(podman images -q --filter dangling=true \
			--filter label=org.opencontainers.image.title=rtpproxy); do
		podman rmi "$id" >/dev/null 2>&1 || true
	done
done
log "built in $(( $(date +%s) - start )) s (health check: ${health[*]})"
echo "localhost/rtpproxy:$version"
