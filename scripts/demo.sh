#!/usr/bin/env bash
# rtpproxy in five steps, in the network-namespace lab (needs root):
#   lab up (prefix "demo") -> rtpproxy in demo-dut -> a session made with rtpproxyctl ->
#   100 real RTP packets from demo-cli, counted in demo-dst -> get / stats / destroy.
# Everything is torn down on exit, whatever happens. Bounded in time (about a minute at most).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

PREFIX=demo
BUILD=${BUILD_DIR:-build}
GRPC=127.0.0.1:50051                   # inside demo-dut
WORK=$(mktemp -d /tmp/rtpproxy-demo.XXXXXX)
RTP_PID=

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
	local rc=$?
	if [ -n "$RTP_PID" ] && kill -0 "$RTP_PID" 2>/dev/null; then
		kill -TERM "$RTP_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$RTP_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$RTP_PID" 2>/dev/null || true
	fi
	bash scripts/lab.sh down "$PREFIX" || true
	if [ "$rc" -ne 0 ] && [ -f "$WORK/rtpproxy.log" ]; then
		echo "--- rtpproxy log (last 30 lines) ---"
		tail -n 30 "$WORK/rtpproxy.log"
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "demo.sh: needs root (network namespaces)" >&2; exit 1; }

say "bootstrap and build"
bash scripts/bootstrap.sh
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
RTPPROXY=$REPO/$BUILD/app/rtpproxy
CTL=$REPO/$BUILD/control/rtpproxyctl

say "lab up: $PREFIX-cli (198.18.1.2) <-> $PREFIX-dut (rtpproxy) <-> $PREFIX-dst (198.18.2.2)"
bash scripts/lab.sh up "$PREFIX"
bash scripts/lab.sh status "$PREFIX"

say "start rtpproxy in $PREFIX-dut (gRPC on $GRPC there)"
cat >"$WORK/rtpproxy.conf" <<EOF
[eal]
args = -l 0-1 --no-huge -m 512 --no-pci --no-shconf --file-prefix rtpproxy-demo
[dataplane]
workers = 1
idle_sleep_us = 50
[port0]
device = net_af_packet0,iface=veth-dut0
address = 198.18.1.1/24
exception = rtp0
[port1]
device = net_af_packet1,iface=veth-dut1
address = 198.18.2.1/24
exception = rtp1
[grpc]
listen = $GRPC
EOF
RTPPROXY_LOG=info ip netns exec "$PREFIX-dut" "$RTPPROXY" -c "$WORK/rtpproxy.conf" \
	</dev/null >"$WORK/rtpproxy.log" 2>&1 &
RTP_PID=$!

ctl() { ip netns exec "$PREFIX-dut" timeout 10 "$CTL" --server "$GRPC" "$@"; }

for i in $(seq 200); do                 # 20 s at most
	kill -0 "$RTP_PID" 2>/dev/null || { echo "rtpproxy exited during start-up" >&2; exit 1; }
	ctl stats >/dev/null 2>&1 && break
	[ "$i" -lt 200 ] || { echo "rtpproxy did not answer within 20 s" >&2; exit 1; }
	sleep 0.1
done
echo "rtpproxy (pid $RTP_PID) is up"

say "ping the appliance from $PREFIX-cli (through its exception path)"
ip netns exec "$PREFIX-cli" ping -n -c 3 -i 0.2 -W 1 198.18.1.1

say "rtpproxyctl create"
echo "+ rtpproxyctl create --listen 198.18.1.1:20000 --forward 198.18.2.1:30000 --destination 198.18.2.2:40000 --id demo-1"
ctl create --listen 198.18.1.1:20000 --forward 198.18.2.1:30000 \
	--destination 198.18.2.2:40000 --id demo-1

say "100 RTP packets: $PREFIX-cli -> 198.18.1.1:20000 -> (rtpproxy) -> 198.18.2.2:40000 in $PREFIX-dst"
timeout 60 /usr/bin/python3 - "$REPO/tests/e2e" "$PREFIX" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import lab
L = lab.Lab(sys.argv[2], create=False)          # the namespaces scripts/lab.sh made
rx = lab.udp_socket(L, "dst", bind=(lab.DST_ADDR, 40000))
tx = lab.udp_socket(L, "cli", bind=(lab.CLI_ADDR, 0))
pkts = [lab.rtp_packet(i, i * 160, 0xDE30, payload=lab.payload_for("demo", i)) for i in range(100)]
got = lab.relay_exact(tx, rx, (lab.DUT0_ADDR, 20000), pkts, timeout=5)
same = sum(1 for (d, _), p in zip(got, pkts) if d == p)
srcs = sorted({f"{a}:{p}" for _, (a, p) in got})
print(f"sent 100 RTP packets from {lab.CLI_ADDR}:{tx.getsockname()[1]}; "
      f"received {len(got)} at {lab.DST_ADDR}:40000 from {', '.join(srcs) or '-'}; "
      f"{same} byte-identical and in order")
sys.exit(0 if len(got) == 100 and same == 100 else 1)
EOF

say "rtpproxyctl get demo-1"
ctl get demo-1
say "rtpproxyctl stats"
ctl stats
say "rtpproxyctl destroy demo-1"
ctl destroy demo-1

say "stop rtpproxy (SIGTERM)"
kill -TERM "$RTP_PID"
rc=0
for _ in $(seq 100); do kill -0 "$RTP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$RTP_PID" || rc=$?
RTP_PID=
echo "rtpproxy exited with status $rc"
say "lab down (on exit)"
exit $rc
