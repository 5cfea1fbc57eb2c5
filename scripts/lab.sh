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
# up-pair builds lab.py's topology "pair" instead (the hot standby of API.md 1.6): a second
# appliance namespace PREFIX-sby with the same addresses, both on one client and one
# destination segment (a bridge in PREFIX-cli and PREFIX-dst carries the host's address), and
# a management link for Redis, mgmt0 198.18.3.1/24 (dut) <-> mgmt0 198.18.3.2/24 (sby):
#
#   PREFIX-cli br-cli ─ cli-a <-> veth-dut0  PREFIX-dut  veth-dut1 <-> dst-a ─ br-dst PREFIX-dst
#                     └ cli-b <-> veth-dut0  PREFIX-sby  veth-dut1 <-> dst-b ┘
#
# usage: scripts/lab.sh up|up-pair|down|status PREFIX
set -euo pipefail

usage() { echo "usage: $0 up|up-pair|down|status PREFIX" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 prefix=$2
[[ $prefix =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$ ]] || { echo "lab.sh: bad prefix '$prefix'" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "lab.sh: network namespaces need root" >&2; exit 1; }

CLI=$prefix-cli DUT=$prefix-dut DST=$prefix-dst SBY=$prefix-sby
# Fixed, locally administered MACs: handy for static neighbours and captures.
MAC_CLI=02:52:50:01:00:02 MAC_DUT0=02:52:50:01:00:01
MAC_DUT1=02:52:50:02:00:01 MAC_DST=02:52:50:02:00:02
MAC_SBY0=02:52:50:01:00:03 MAC_SBY1=02:52:50:02:00:03      # pair: the standby's ports

ns_exists() { [ -e "/var/run/netns/$1" ]; }

# Ends what still runs inside our own namespaces (by pid), then deletes them. Never fails.
lab_down() {
	local ns pids pid
	for ns in "$CLI" "$DUT" "$DST" "$SBY"; do
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

# A dut end: DPDK's. The dut kernel must neither answer ARP nor accept IP on it.
dut_end() { # ifname [ns]
	local ifc=$1 ns=${2:-$DUT}
	ip netns exec "$ns" sysctl -q -w \
		"net.ipv6.conf.$ifc.disable_ipv6=1" \
		"net.ipv4.conf.$ifc.arp_ignore=8" \
		"net.ipv4.conf.$ifc.rp_filter=1"
	ip netns exec "$ns" ethtool -K "$ifc" tso off gso off gro off >/dev/null
	ip -n "$ns" link set "$ifc" promisc on up
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
	trap - ERR
}

# A host segment of the pair: a bridge with the host's address, a veth to each appliance.
pair_segment() { # ns bridge mac addr/len peer-net gateway dut-ifname port-a mac-a port-b mac-b
	local ns=$1 br=$2 mac=$3 addr=$4 net=$5 gw=$6 dif=$7
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link add "$br" address "$mac" type bridge forward_delay 0 stp_state 0
	ip -n "$ns" link add "$8" type veth peer name "$dif" address "$9" netns "$DUT"
	ip -n "$ns" link add "${10}" type veth peer name "$dif" address "${11}" netns "$SBY"
	for ifc in "$8" "${10}"; do
		ip netns exec "$ns" ethtool -K "$ifc" tx off tso off gso off gro off rx off >/dev/null
		ip -n "$ns" link set "$ifc" master "$br" up
	done
	ip netns exec "$ns" ethtool -K "$br" tx off tso off gso off gro off >/dev/null 2>&1 || true
	ip -n "$ns" addr add "$addr" dev "$br"
	ip -n "$ns" link set "$br" up
	ip -n "$ns" route add "$net" via "$gw" dev "$br"
}

lab_up_pair() {
	lab_down
	trap 'echo "lab.sh: up-pair failed, tearing down" >&2; lab_down' ERR
	for ns in "$CLI" "$DUT" "$SBY" "$DST"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	pair_segment "$CLI" br-cli "$MAC_CLI" 198.18.1.2/24 198.18.2.0/24 198.18.1.1 veth-dut0 \
		cli-a "$MAC_DUT0" cli-b "$MAC_SBY0"
	pair_segment "$DST" br-dst "$MAC_DST" 198.18.2.2/24 198.18.1.0/24 198.18.2.1 veth-dut1 \
		dst-a "$MAC_DUT1" dst-b "$MAC_SBY1"
	for ns in "$DUT" "$SBY"; do
		dut_end veth-dut0 "$ns"
		dut_end veth-dut1 "$ns"
	done
	ip -n "$DUT" link add mgmt0 type veth peer name mgmt0 netns "$SBY"
	ip -n "$DUT" addr add 198.18.3.1/24 dev mgmt0
	ip -n "$SBY" addr add 198.18.3.2/24 dev mgmt0
	ip -n "$DUT" link set mgmt0 up
	ip -n "$SBY" link set mgmt0 up
	trap - ERR
}

lab_status() {
	local ns
	for ns in "$CLI" "$DUT" "$SBY" "$DST"; do
		[ "$ns" = "$SBY" ] && ! ns_exists "$ns" && continue    # only with up-pair
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
up-pair) lab_up_pair ;;
down) lab_down ;;
status) lab_status ;;
*) usage ;;
esac
