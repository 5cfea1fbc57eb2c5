#!/usr/bin/env bash
# The end-to-end lab of docs TESTING.md: three network namespaces joined by two veth pairs.
#
#   PREFIX-cli  veth-cli0 <-> veth-dut0  PREFIX-dut (rtpproxy)  veth-dut1 <-> veth-dst0  PREFIX-dst
#   198.18.1.2/24             port0 198.18.1.1/24   port1 198.18.2.1/24            198.18.2.2/24
#
# The dut ends carry no address: rtpproxy owns them through net_af_packet
# (device = net_af_packet0,iface=veth-dut0 / net_af_packet1,iface=veth-dut1), and the dut
# kernel is told to ignore them (no ARP replies, reverse-path filter, no IPv6), so only the
# appliance answers on them. Addresses come from 198.18.0.0/15 and exist only inside the
# namespaces made here. tests/e2e/lab.py builds the same topology from Python.
#
# up6 adds IPv6 on the host ends (2001:db8::/32 documentation space; no DAD, no router
# solicitations), as tests/e2e/lab.py's Lab(ipv6=True); the appliance's own IPv6 addresses go
# in its config (address = 198.18.1.1/24, 2001:db8:1::1/64):
#   PREFIX-cli 2001:db8:1::2/64   port0 2001:db8:1::1/64   port1 2001:db8:2::1/64   PREFIX-dst 2001:db8:2::2/64
#
# usage: scripts/lab.sh up|up6|down|status PREFIX
set -euo pipefail

usage() { echo "usage: $0 up|up6|down|status PREFIX" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 prefix=$2
[[ $prefix =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$ ]] || { echo "lab.sh: bad prefix '$prefix'" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "lab.sh: network namespaces need root" >&2; exit 1; }

CLI=$prefix-cli DUT=$prefix-dut DST=$prefix-dst
# Fixed, locally administered MACs: handy for static neighbours and captures.
MAC_CLI=02:52:50:01:00:02 MAC_DUT0=02:52:50:01:00:01
MAC_DUT1=02:52:50:02:00:01 MAC_DST=02:52:50:02:00:02

ns_exists() { [ -e "/var/run/netns/$1" ]; }

# Ends what still runs inside our own namespaces (by pid), then deletes them. Never fails.
lab_down() {
	local ns pids pid
	for ns in "$CLI" "$DUT" "$DST"; do
		ns_exists "$ns" || continue
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
			for _ in $(seq 20); do
				pids=$(ip netns pids "$ns" 2>/dev/null || true)
				[ -z "$pids" ] && break
				sleep 0.1
			done
			for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
		fi
		ip netns del "$ns" 2>/dev/null || true
	done
	return 0
}

# A host end: no offloads (real frames with complete checksums), no IPv6 chatter.
host_end() { # ns ifname addr/len peer-net gateway
	local ns=$1 ifc=$2 addr=$3 net=$4 gw=$5
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$ns" ethtool -K "$ifc" tx off tso off gso off gro off rx off >/dev/null
	ip -n "$ns" addr add "$addr" dev "$ifc"
	ip -n "$ns" link set "$ifc" up
	ip -n "$ns" route add "$net" via "$gw" dev "$ifc"
}

# up6: a host end's IPv6 too (sysctls before the address: usable at once, nothing but ours).
host_end6() { # ns ifname addr/len peer-net gateway
	local ns=$1 ifc=$2 addr=$3 net=$4 gw=$5 c k keys=()
	for c in all default "$ifc"; do
		for k in disable_ipv6=0 accept_dad=0 dad_transmits=0 accept_ra=0 autoconf=0 \
			router_solicitations=0; do
			keys+=("net.ipv6.conf.$c.$k")
		done
	done
	ip netns exec "$ns" sysctl -q -w "${keys[@]}"
	ip -n "$ns" -6 addr add "$addr" dev "$ifc" nodad
	ip -n "$ns" -6 route add "$net" via "$gw" dev "$ifc"
}

# A dut end: DPDK's. The dut kernel must neither answer ARP nor accept IP on it.
dut_end() { # ifname
	local ifc=$1
	ip netns exec "$DUT" sysctl -q -w \
		"net.ipv6.conf.$ifc.disable_ipv6=1" \
		"net.ipv4.conf.$ifc.arp_ignore=8" \
		"net.ipv4.conf.$ifc.rp_filter=1"
	ip netns exec "$DUT" ethtool -K "$ifc" tso off gso off gro off >/dev/null
	ip -n "$DUT" link set "$ifc" promisc on up
}

lab_up() {
	lab_down
	trap 'echo "lab.sh: up failed, tearing down" >&2; lab_down' ERR
	ip netns add "$CLI"
	ip netns add "$DUT"
	ip netns add "$DST"
	for ns in "$CLI" "$DUT" "$DST"; do ip -n "$ns" link set lo up; done
	ip -n "$CLI" link add veth-cli0 address "$MAC_CLI" type veth \
		peer name veth-dut0 address "$MAC_DUT0" netns "$DUT"
	ip -n "$DST" link add veth-dst0 address "$MAC_DST" type veth \
		peer name veth-dut1 address "$MAC_DUT1" netns "$DUT"
	dut_end veth-dut0
	dut_end veth-dut1
	host_end "$CLI" veth-cli0 198.18.1.2/24 198.18.2.0/24 198.18.1.1
	host_end "$DST" veth-dst0 198.18.2.2/24 198.18.1.0/24 198.18.2.1
	if [ "${1:-}" = 6 ]; then
		host_end6 "$CLI" veth-cli0 2001:db8:1::2/64 2001:db8:2::/64 2001:db8:1::1
		host_end6 "$DST" veth-dst0 2001:db8:2::2/64 2001:db8:1::/64 2001:db8:2::1
	fi
	trap - ERR
}

lab_status() {
	local ns
	for ns in "$CLI" "$DUT" "$DST"; do
		if ns_exists "$ns"; then
			echo "== $ns"
			ip -n "$ns" -br addr
		else
			echo "== $ns: absent"
		fi
	done
}

case $cmd in
up) lab_up ;;
up6) lab_up 6 ;;
down) lab_down ;;
status) lab_status ;;
*) usage ;;
esac
