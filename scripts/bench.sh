#!/usr/bin/env bash
# The benchmark of issue 5 (docs/PERFORMANCE.md explains the rig and every figure).
#
#   sudo scripts/bench.sh [--quick] [--build-dir DIR] [--out FILE]
#
# --cases A,B,... runs only those (reference, udp-1, udp-1000, udp-1000-bidir, udp-100000,
# udp-1000000, udp-N-bidir, control); the ratios need the reference in the same run.
# --quick (a few minutes): reference forwarder, rtpproxy with 1 and 1 000 sessions (and 1 000
# bidirectional), control plane. Full (about 10-15 minutes): the same with longer trials, plus
# 100 000 and 250 000 sessions. Both end by writing bench-results.json (a JSON array, one object
# per case) in the current directory and printing a table; logs, rtpgen's raw JSON and perf
# profiles stay in BUILD_DIR/bench-logs/.
#
# The rig (docs/TESTING.md, "Benchmarks are not tests"): two cores, two busy processes.
#   rtpgen (lcore on cpu 0)  memif m0 (gen port0 -> DUT port0)  DUT worker on cpu 1
#                            memif m1 (DUT port1 -> gen port1)
# The DUT is dpdk-testpmd --forward-mode=io (the reference) or rtpproxy (in a private network
# namespace, for its TAP exception interfaces). One rtpgen --serve per DUT lifetime takes every
# run of the case as a line on its stdin; the DUT is stopped before it (a memif client leaving
# a running DPDK 22.11 memif server can crash it), and a DUT that exits fails its case.
# Hugepages are reserved on a private hugetlbfs mount and given back on exit, whatever happens
# (trap); every process is ours, by pid, and every run is bounded in time. Addresses are
# 198.18.0.0/15 only; memif is shared memory on this machine only. Not a test: never run from
# meson test or CI.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit "${1:-0}"
}

main() {
	ORIG_ARGS="$*"
	QUICK=0
	CASES=
	ROOT=$(cd "$(dirname "$0")/.." && pwd)
	BUILD=$ROOT/build-bench
	OUT=$PWD/bench-results.json
	while [ $# -gt 0 ]; do
		case "$1" in
		--quick) QUICK=1 ;;
		--build-dir) BUILD=$(realpath -m "$2"); shift ;;
		--out) OUT=$(realpath -m "$2"); shift ;;
		--cases) CASES=$2; shift ;;
		-h|--help) usage 0 ;;
		*) echo "bench.sh: unknown argument '$1'" >&2; usage 2 ;;
		esac
		shift
	done

	die() { echo "bench.sh: $*" >&2; exit 1; }
	[ "$(id -u)" -eq 0 ] || die "needs root (hugepages, a network namespace for rtpproxy's TAPs)"
	[ "$(nproc)" -ge 2 ] || die "needs 2 cpus (generator on cpu 0, DUT worker on cpu 1)"
	for tool in dpdk-testpmd meson ninja ip mount /usr/bin/python3; do
		command -v "$tool" >/dev/null || die "$tool not found (scripts/bootstrap.sh installs the packages)"
	done

	# ---- build (release, its own directory) ----
	if [ ! -f "$BUILD/build.ninja" ]; then
		meson setup --buildtype=release "$BUILD" "$ROOT" >/dev/null
	fi
	ninja -C "$BUILD" app/rtpproxy app/rtpgen/rtpgen control/rtpproxyctl \
		tests/bench/bench_worker >/dev/null || die "build failed: ninja -C $BUILD"

	# ---- the run's private state ----
	T=$(mktemp -d /tmp/rtpbench.XXXXXX)
	PFX=rpb$$                      # DPDK --file-prefix stem, netns name, TAP names
	NS=$PFX
	LOGS=$BUILD/bench-logs
	PY_PID=
	WD_PID=
	if [ "$QUICK" = 1 ]; then PAGES=1024; LIMIT=900; else PAGES=3072; LIMIT=3600; fi

	cleanup() {
		local rc=$? pid
		trap - EXIT INT TERM
		if [ -n "$WD_PID" ]; then
			pkill -P "$WD_PID" 2>/dev/null || true     # its sleep, by parent pid
			kill "$WD_PID" 2>/dev/null || true
		fi
		if [ -n "$PY_PID" ] && kill -0 "$PY_PID" 2>/dev/null; then
			kill -TERM "$PY_PID" 2>/dev/null || true
			for _ in $(seq 100); do kill -0 "$PY_PID" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$PY_PID" 2>/dev/null || true
		fi
		# whatever the driver started and did not reap (it records every pid it spawns)
		if [ -f "$T/pids" ]; then
			while read -r pid; do
				[ -n "$pid" ] && grep -qa "$PFX\|$T" "/proc/$pid/cmdline" 2>/dev/null || continue
				kill -KILL "$pid" 2>/dev/null || true
			done < "$T/pids"
		fi
		ip netns del "$NS" 2>/dev/null || true
		"$ROOT/scripts/hugepages.sh" release "$T/huge.state" || true
		rm -rf /var/run/dpdk/"$PFX"-* "$T"
		exit "$rc"
	}
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	# the worker's cost in process, before the rig (no hugepages, no generator)
	run_bench_worker "$T/inproc"

	"$ROOT/scripts/hugepages.sh" reserve "$PAGES" "$T/huge" "$T/huge.state"
	ip netns add "$NS"
	# no IPv6 on the TAPs rtpproxy creates: router solicitations would only add exception traffic
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$NS" ip link set lo up
	rm -rf "$LOGS"
	mkdir -p "$LOGS"

	# the whole run is bounded: past LIMIT seconds, stop everything (the EXIT trap cleans up)
	# (its own stderr goes nowhere: the shell would report the sleep we kill at the end)
	exec 3>&2
	( sleep "$LIMIT"; echo "bench.sh: time limit ${LIMIT}s reached, stopping" >&3
	  kill -TERM $$ ) 2>/dev/null &
	WD_PID=$!

	write_driver "$T/bench.py"
	BENCH_TMP=$T BENCH_HUGE=$T/huge BENCH_BUILD=$BUILD BENCH_NS=$NS BENCH_PREFIX=$PFX \
	BENCH_LOGS=$LOGS BENCH_QUICK=$QUICK BENCH_OUT=$OUT BENCH_CASES=$CASES BENCH_INPROC=$T/inproc BENCH_CMD="scripts/bench.sh${ORIG_ARGS:+ $ORIG_ARGS}" \
		/usr/bin/python3 "$T/bench.py" &
	PY_PID=$!
	set +e
	wait "$PY_PID"
	rc=$?
	set -e
	PY_PID=
	exit "$rc"
}

# bench_worker (tests/bench/bench_worker.c): the worker's cycles per packet in process, 1 000
# and 1 000 000 forward flows, on the DUT's cpu; DIR/inproc-N.json for the driver to merge into
# the udp-N cases ("worker_cycles_per_pkt_inproc"...). A failure is reported, not fatal.
run_bench_worker() {
	local dir=$1 n pkts=20000000
	mkdir -p "$dir"
	[ "$QUICK" = 1 ] && pkts=5000000
	for n in 1000 1000000; do
		echo "bench.sh: bench_worker --flows $n (in process, no rig)" >&2
		timeout 300 "$BUILD/tests/bench/bench_worker" --flows "$n" --packets "$pkts" \
			--cpu 1 --json >"$dir/inproc-$n.json" 2>"$dir/inproc-$n.err" ||
			echo "bench.sh: bench_worker --flows $n failed: $(tail -3 "$dir/inproc-$n.err")" >&2
	done
}

# The driver (Python 3, stdlib only): starts the DUTs and rtpgen, searches, measures, writes
# the JSON, prints the table.
write_driver() {
	cat > "$1" <<'PY'
import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

E = os.environ
T, HUGE, BUILD, NS, PFX, LOGS = (E[k] for k in ("BENCH_TMP", "BENCH_HUGE", "BENCH_BUILD",
                                                 "BENCH_NS", "BENCH_PREFIX", "BENCH_LOGS"))
QUICK = E["BENCH_QUICK"] == "1"
OUT = E["BENCH_OUT"]
RTPGEN = f"{BUILD}/app/rtpgen/rtpgen"
RTPPROXY = f"{BUILD}/app/rtpproxy"
CTL = f"{BUILD}/control/rtpproxyctl"
TESTPMD = shutil.which("dpdk-testpmd")
PERF = shutil.which("perf")
GRPC = f"unix:{T}/grpc.sock"

GEN_CPU, DUT_CPU, MAIN_CPU = 0, 1, 0   # generator lcore; DUT worker; DUT control/main lcore
MAC_GEN0, MAC_GEN1 = "02:00:00:00:01:02", "02:00:00:00:02:02"   # rtpgen 198.18.1.2 / .2.2
MAC_DUT0, MAC_DUT1 = "02:00:00:00:01:01", "02:00:00:00:02:01"
RSIZE = int(E.get("BENCH_RSIZE", "12"))    # memif rings of 4096 slots (log2)
PAYLOAD = 160                  # RTP payload: 214-byte frames
if QUICK:
    D_MAX, D_STEP, STEPS, D_LAT, D_PROF = 1.5, 2.0, 5, 2.0, 2.0
else:
    D_MAX, D_STEP, STEPS, D_LAT, D_PROF = 2.0, 3.0, 6, 3.0, 3.0
WARM = 0.5
LAT_RUNS = 3
CTL_CONC = [(8, 1), (16, 2), (32, 2)]      # (calls in flight, client threads)
PROBE_NEAR_US = 1.0
GATE_TRIES = 10 if QUICK else 20
GATE_BUDGET = 90 if QUICK else 300
GATE_WAITED = 0.0
MAX_RUNS = 5
CASES = [c for c in E.get("BENCH_CASES", "").split(",") if c]

children = []


class BenchError(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def on_term(sig, frame):
    raise SystemExit(128 + sig)


signal.signal(signal.SIGTERM, on_term)


def record_pid(pid):
    with open(f"{T}/pids", "a") as f:
        f.write(f"{pid}\n")


def spawn(cmd, logname, stdin=subprocess.DEVNULL):
    f = open(f"{LOGS}/{logname}", "wb")
    f.write((" ".join(cmd) + "\n\n").encode())
    f.flush()
    p = subprocess.Popen(cmd, stdin=stdin, stdout=f, stderr=subprocess.STDOUT,
                         start_new_session=True)
    record_pid(p.pid)
    children.append(p)
    return p


def end(p, first_sig=signal.SIGINT, wait_s=20):
    """Stop a child we started: first_sig, then SIGKILL; always reaped."""
    if p.poll() is None:
        try:
            p.send_signal(first_sig)
            p.wait(wait_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    if p in children:
        children.remove(p)


def wait_for(cond, secs, what):
    end_t = time.time() + secs
    while time.time() < end_t:
        if cond():
            return
        time.sleep(0.1)
    raise BenchError(f"timed out after {secs} s waiting for {what}")


def eal(name):
    return ["--huge-dir", HUGE, "--huge-unlink", "--no-pci", "--log-level", "warning",
            "--file-prefix", f"{PFX}-{name}"]


def memif(i, role, mac):
    return (f"net_memif{i},role={role},socket={T}/m{i}.sock,id=0,mac={mac},rsize={RSIZE},"
            "socket-abstract=no")


def rm_sockets():
    for s in ("m0.sock", "m1.sock", "grpc.sock"):
        try:
            os.unlink(f"{T}/{s}")
        except FileNotFoundError:
            pass


def tsc_hz():
    try:
        d = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout
        m = re.findall(r"Refined TSC clocksource calibration: ([\d.]+) MHz", d) or \
            re.findall(r"tsc: Detected ([\d.]+) MHz", d)
        if m:
            return float(m[-1]) * 1e6
    except (OSError, subprocess.SubprocessError):
        pass
    with open("/proc/cpuinfo") as f:
        return float(re.search(r"cpu MHz\s*:\s*([\d.]+)", f.read()).group(1)) * 1e6


HZ = tsc_hz()

# ---------------------------------------------------------------- the generator
#
# One rtpgen --serve process per DUT lifetime (running() below): started once the DUT is ready,
# every run of the case is a line on its stdin (its options, as on rtpgen's command line) and
# one JSON line back. DPDK 22.11's memif PMD handles a client's disconnection in the DUT's
# interrupt thread, unmapping the shared regions while the DUT's worker may be polling them
# (SIGSEGV in the DUT): the DUT must never see rtpgen go away while it runs. So it is stopped
# first, and rtpgen, which does not touch its ports while it waits for a line, after it.

gen_no = 0        # runs, for the log names
serve_no = 0      # rtpgen processes
GEN = None        # the rtpgen --serve of the DUT running now
DUT = None        # the DUT running now
DUT_EXITS = []    # DUTs that exited while they should have run: each fails its case


def gen_line_args(args):
    """A run's options: what every run shares, then its own (a later option wins)."""
    return ["--tx-port", "0", "--rx-port", "1", "--dst-mac", MAC_DUT0, "--no-arp",
            "--payload", str(PAYLOAD), "--link-wait", "10", "--json", *map(str, args)]


def dut_alive(when):
    """A BenchError (recorded) if the DUT has exited: no recovery, its case fails."""
    if DUT is not None and DUT.p.poll() is not None:
        DUT_EXITS.append(f"{CUR_CASE}: {DUT.kind} exited ({DUT.p.returncode}) {when}")
        raise BenchError(f"the DUT ({DUT.kind}) exited ({DUT.p.returncode}) {when}")


class Gen:
    """rtpgen --serve on both memif ports, for the lifetime of one DUT."""

    def __init__(self, tag):
        global serve_no
        serve_no += 1
        self.log = f"{LOGS}/gen{serve_no}-{tag}.log"
        self.cmd = [RTPGEN, "-l", str(GEN_CPU), *eal("gen"),
                    "--vdev", memif(0, "client", MAC_GEN0), "--vdev", memif(1, "client", MAC_GEN1),
                    "--", "--serve"]
        with open(self.log, "wb") as f:
            f.write((" ".join(self.cmd) + "\n\n").encode())
            f.flush()
            self.p = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=f, start_new_session=True)
        record_pid(self.p.pid)
        children.append(self.p)
        self.buf = b""

    def send(self, what, args, limit=None):
        """Start a run (a line to rtpgen); finish() or poll() gets its answer."""
        global gen_no
        gen_no += 1
        run = {"what": what, "name": f"{gen_no:03d}-gen-{what}.log",
               "line": " ".join(gen_line_args(args)), "limit": limit or 60,
               "t0": time.time()}
        dut_alive(f"before {what}")
        try:
            self.p.stdin.write((run["line"] + "\n").encode())
            self.p.stdin.flush()
        except OSError:
            raise BenchError(f"rtpgen exited ({self.p.poll()}) before {what}: {self.tail()}")
        return run

    def poll(self, run, timeout):
        """The run's answer (parsed), or None if it did not come within timeout s. Raises if
        rtpgen exits, the run goes past its limit, rtpgen answers an error or the DUT died."""
        fd = self.p.stdout.fileno()
        end_t = min(time.time() + timeout, run["t0"] + run["limit"])
        while b"\n" not in self.buf:
            left = end_t - time.time()
            if left <= 0:
                if time.time() >= run["t0"] + run["limit"]:
                    raise BenchError(f"rtpgen ({run['name']}) did not answer in "
                                     f"{run['limit']:.0f} s")
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.p.wait(10)
                    raise BenchError(f"rtpgen exited ({self.p.returncode}) during "
                                     f"{run['name']}: {self.tail()}")
                self.buf += chunk
        out, self.buf = self.buf.split(b"\n", 1)
        out = out.decode(errors="replace")
        with open(f"{LOGS}/{run['name']}", "w") as f:
            f.write(f"{run['line']}\n\n--- answer after {time.time() - run['t0']:.1f} s\n"
                    f"{out}\n")
        try:
            g = json.loads(out)
        except ValueError:
            raise BenchError(f"rtpgen ({run['name']}): not JSON: {out[:300]}")
        if "error" in g:
            raise BenchError(f"rtpgen ({run['name']}): {g['error']}")
        dut_alive(f"during {run['what']}")
        return g

    def finish(self, run):
        while True:
            g = self.poll(run, 5)
            if g is not None:
                return g

    def run(self, what, args, limit=None):
        return self.finish(self.send(what, args, limit))

    def tail(self):
        try:
            with open(self.log, errors="replace") as f:
                lines = [l for l in f.read().splitlines() if l and "TELEMETRY" not in l]
            return " | ".join(lines[-3:])
        except OSError:
            return "?"

    def close(self):
        """EOF on its stdin: rtpgen closes its ports and exits (after the DUT has stopped)."""
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            log("rtpgen did not exit 30 s after EOF: interrupting it")
        end(self.p, signal.SIGINT, 10)
        if self.p.returncode != 0:
            log(f"rtpgen exited {self.p.returncode} (see {self.log})")
        return self.p.returncode


def run_gen(what, args, limit=None):
    if GEN is None:
        raise BenchError(f"{what}: no rtpgen running")
    return GEN.run(what, args, limit)


@contextlib.contextmanager
def running(dut, case, gen=True):
    """The DUT, and (gen) one rtpgen --serve connected to it, for one case. At the end, or on
    an error, the DUT stops first (its workers stop before its ports close), then rtpgen gets
    EOF and exits: see Gen. A DUT that exited on its own fails the case."""
    global DUT, GEN, CUR_CASE
    CUR_CASE = case
    try:
        dut.start()
        DUT = dut
        if gen:
            GEN = Gen(case)
        yield dut
        dut_alive("before the end of the case")
    finally:
        DUT = None
        was = dut.p.poll() if hasattr(dut, "p") else None
        rc = dut.stop()
        if was is None and rc not in (None, 0):
            DUT_EXITS.append(f"{case}: {dut.kind} exited ({rc}) when stopped")
            log(f"{case}: the DUT ({dut.kind}) exited ({rc}) when stopped")
        if GEN is not None:
            GEN.close()
            GEN = None


FAR_RUNS = []
CUR_CASE = ""


def placement_gate():
    """This VM's two vCPUs sometimes sit on host cores that share an L3 and sometimes not (the
    host moves them, every few tens of seconds to minutes): a cache line between them then
    takes ~350 ns instead of ~100, and memif (shared memory between the two cores) forwards
    about 3x slower, for the reference and the DUT alike. A short probe (one stream, 200 kpps)
    tells: its minimum latency through the DUT is ~0.45 us near, ~1.3 us apart. Wait (bounded)
    until they are near, so that every measured run sees the same rig."""
    global GATE_WAITED
    # bounded: GATE_TRIES probes per run, and GATE_BUDGET seconds of waiting in the whole run
    tries = GATE_TRIES if GATE_WAITED < GATE_BUDGET else 1
    t0 = time.time()
    for i in range(tries):
        g = run_gen("probe", ["--streams", 1, "--dst-base", "198.18.1.10", "--dst-addrs", 1,
                              "--dst-port-base", 1024, "--rate", 200000, "--duration", 0.3,
                              "--warmup", 0.1])
        if g["rx_pkts"] > 0 and g["lat_min_us"] < PROBE_NEAR_US:
            GATE_WAITED += time.time() - t0 if i else 0
            return True, g["lat_min_us"]
        if i == 0:
            log(f"vCPUs apart (probe: min latency {g['lat_min_us']:.2f} us): waiting, up to "
                f"{tries} probes, 2 s apart")
        time.sleep(2)
    GATE_WAITED += time.time() - t0
    log(f"vCPUs still apart after {tries} probe(s): measuring anyway (flagged)")
    return False, g["lat_min_us"]


def run_gated(what, args, limit=None):
    near, lm = placement_gate()
    g = run_gen(what, args, limit)
    g["near"], g["probe_min_us"] = near, lm
    if not near:
        FAR_RUNS.append(f"{CUR_CASE}/{what}")
    return g


# ---------------------------------------------------------------- the DUTs

def thread_ctxsw(pid, comm):
    """Involuntary context switches of a process' thread named comm (None if not found)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != comm:
                    continue
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                return int(re.search(r"nonvoluntary_ctxt_switches:\s*(\d+)", f.read()).group(1))
    except (OSError, AttributeError):
        pass
    return None


def cpu_ticks(pid, skip_comm):
    """CPU time (s) of a process' threads, the one named skip_comm left out."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            if comm == skip_comm:
                continue
            v = st[st.rindex(")") + 2:].split()
            total += int(v[11]) + int(v[12])
    except (OSError, ValueError, IndexError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


class Testpmd:
    kind = "testpmd"
    worker_comm = f"rte-worker-{DUT_CPU}"

    def start(self):
        rm_sockets()
        # stdbuf: testpmd's stdout is a file, and its "Press enter" line must get there now
        cmd = ["stdbuf", "-oL", TESTPMD, "-l", f"{MAIN_CPU},{DUT_CPU}", "--main-lcore", str(MAIN_CPU),
               *eal("ref"), "--vdev", memif(0, "server", MAC_DUT0),
               "--vdev", memif(1, "server", MAC_DUT1),
               "--", "--forward-mode=io", "--nb-cores=1", "--rxq=1", "--txq=1",
               f"--rxd={1 << RSIZE}", f"--txd={1 << RSIZE}", "--disable-link-check"]
        # non-interactive testpmd forwards until a line arrives on stdin (no --stats-period:
        # its stats loop would spin on the generator's cpu). A memif client that connects
        # before the server's port is started never gets its link up: wait for the prompt
        # that follows the start, not just for the sockets.
        self.p = spawn(cmd, "ref-testpmd.log", stdin=subprocess.PIPE)

        def ready():
            with open(f"{LOGS}/ref-testpmd.log", errors="replace") as f:
                return self.p.poll() is not None or "Press enter to exit" in f.read()
        wait_for(ready, 60, "testpmd to start forwarding")
        if self.p.poll() is not None:
            raise BenchError(f"testpmd exited at start, see {LOGS}/ref-testpmd.log")
        self.pid = self.p.pid

    def stop(self):
        """A line on its stdin: testpmd stops forwarding, then closes its ports. Exit code."""
        if not hasattr(self, "p"):
            return None
        try:
            self.p.stdin.write(b"\n")
            self.p.stdin.close()
            self.p.wait(15)
        except (OSError, subprocess.TimeoutExpired):
            pass
        end(self.p)
        return self.p.returncode


def memif_rss(pid):
    """Bytes of the memif regions (the client's memfds, "memif_region_N") resident in a DUT.
    rtpgen stays connected for the whole case now, so they are mapped whenever the DUT's memory
    is read; they belong to the rig (rings and buffers of rtpgen's making), not to a session."""
    total, inside = 0, False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
                    inside = "memif_region" in line
                elif inside and line.startswith("Rss:"):
                    total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    return total


ADDRS = 32          # listen addresses on port0, forward addresses on port1: 198.18.{1,2}.10..41


def addrs(net):
    return f"198.18.{net}.10-198.18.{net}.{10 + ADDRS - 1}/24"


class Rtpproxy:
    kind = "rtpproxy"
    worker_comm = f"rte-worker-{DUT_CPU}"

    def __init__(self, name, max_sessions, idle_sleep_us=0):
        self.name, self.max_sessions = name, max_sessions
        self.idle_sleep_us = idle_sleep_us

    def start(self):
        rm_sockets()
        conf = f"{T}/{self.name}.conf"
        with open(conf, "w") as f:
            f.write(f"""[eal]
args = -l {MAIN_CPU}-{DUT_CPU} --main-lcore {MAIN_CPU} {' '.join(eal('dut'))}
[dataplane]
workers = 1
idle_sleep_us = {self.idle_sleep_us}
[port0]
device = {memif(0, 'server', MAC_DUT0)}
address = {addrs(1)}
exception = {PFX}a
neighbors = 198.18.1.2@{MAC_GEN0}
[port1]
device = {memif(1, 'server', MAC_DUT1)}
address = {addrs(2)}
exception = {PFX}b
neighbors = 198.18.2.2@{MAC_GEN1}
[grpc]
listen = {GRPC}
[sessions]
max_sessions = {self.max_sessions}
port_min = 1024
port_max = 65535
idle_timeout_secs = 3600
allowed_destinations = 198.18.0.0/15
""")
        shutil.copy(conf, f"{LOGS}/{self.name}-rtpproxy.conf")
        self.p = spawn(["ip", "netns", "exec", NS, RTPPROXY, "-c", conf],
                       f"{self.name}-rtpproxy.log")
        self.pid = self.p.pid      # ip netns exec execs the program in place
        wait_for(lambda: self.p.poll() is not None or self.try_stats() is not None, 60,
                 "rtpproxy's gRPC socket")
        if self.p.poll() is not None:
            raise BenchError(f"rtpproxy exited at start, see {LOGS}/{self.name}-rtpproxy.log")
        # net_tap (DPDK 22.11) reads its fd (a readv syscall) on every poll until the kernel has
        # sent it a first frame (its SIGIO "trigger" starts at 0): with IPv6 off nothing does,
        # and every idle worker iteration would cost ~1 us. One datagram per port from the
        # kernel side arms it, as the kernel's own chatter does on a production box.
        subprocess.run(["ip", "netns", "exec", NS, "/usr/bin/python3", "-c",
                        "import socket; s = socket.socket(2, 2)\n"
                        "for a in ('198.18.1.2', '198.18.2.2'): s.sendto(b'x', (a, 9))"],
                       timeout=10, check=False)
        time.sleep(0.3)
        # the cost of an idle loop iteration, to take idle time out of cycles per packet
        a = self.stats()
        time.sleep(1.0)
        b = self.stats()
        dt = (b["uptime_ms"] - a["uptime_ms"]) / 1e3
        di = b["iterations"] - a["iterations"]
        self.idle_cycles = HZ * dt / di if di > 0 else 0.0
        if self.idle_cycles > 1000:
            log(f"WARNING: an idle worker iteration costs {self.idle_cycles:.0f} cycles "
                "(net_tap still reading its fd on every poll?)")

    def try_stats(self):
        try:
            # pinned to cpu 0: never on the DUT worker's cpu
            r = subprocess.run(["taskset", "-c", str(GEN_CPU), CTL, "--server", GRPC, "--json",
                                "--timeout", "10000", "stats"],
                               capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            self.stats_err = "rtpproxyctl stats: no answer in 20 s"
            return None
        if r.returncode != 0:
            self.stats_err = r.stderr.strip()[-300:]
            return None
        d = json.loads(r.stdout)
        w = d.get("workers") or [{}]
        return {"uptime_ms": int(d.get("uptime_ms", 0)),
                "relayed": sum(int(x.get("relayed", 0)) for x in w),
                "iterations": sum(int(x.get("iterations", 0)) for x in w),
                "busy": sum(int(x.get("busy_iterations", 0)) for x in w),
                "busy_cycles": sum(int(x.get("busy_cycles", 0)) for x in w),
                "sessions_active": int(d.get("sessions_active", 0)),
                "drops": {k: int(v) for k, v in d.get("drops", {}).items()}}

    def stats(self):
        for _ in range(3):
            s = self.try_stats()
            if s is not None:
                return s
            if self.p.poll() is not None:
                break
            time.sleep(1)
        state = "alive" if self.p.poll() is None else f"exited ({self.p.returncode})"
        raise BenchError(f"GetProxyStats failed (rtpproxy {state}): "
                         f"{getattr(self, 'stats_err', '?')}")

    def memory(self):
        """(VmRSS + hugetlb pages mapped, VmRSS + bytes allocated in the DPDK heaps), bytes;
        VmRSS without the memif regions rtpgen shares with it (see memif_rss)."""
        with open(f"/proc/{self.pid}/status") as f:
            st = f.read()
        rss = int(re.search(r"VmRSS:\s*(\d+)", st).group(1)) * 1024 - memif_rss(self.pid)
        huge = int(re.search(r"HugetlbPages:\s*(\d+)", st).group(1)) * 1024
        heap = None
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(5)
            s.connect(f"/var/run/dpdk/{PFX}-dut/dpdk_telemetry.v2")
            s.recv(16384)
            s.send(b"/eal/heap_list")
            heap = 0
            for h in json.loads(s.recv(16384))["/eal/heap_list"]:
                s.send(f"/eal/heap_info,{h}".encode())
                heap += int(json.loads(s.recv(16384))["/eal/heap_info"]["Alloc_size"])
            s.close()
        except (OSError, ValueError, KeyError):
            heap = None
        return rss + huge, (rss + heap) if heap is not None else None

    def stop(self):
        """SIGINT: rtpproxy stops its workers before it closes its ports. Exit code."""
        if not hasattr(self, "p"):
            return None
        end(self.p, signal.SIGINT, 60)
        return self.p.returncode


# ---------------------------------------------------------------- measurements

def spread(n):
    """Addresses the sessions are spread over: one up to 32 000 sessions, else all ADDRS
    (an address has 32 256 RTP/RTCP port pairs in 1024..65535)."""
    return 1 if n <= 32000 else ADDRS


def streams_args(n):
    """Stream i -> listen 198.18.1.(10 + i % K):(1024 + 2 * (i / K)), K = spread(n) (what
    create_sessions made)."""
    k = spread(n)
    return ["--streams", n, "--dst-base", "198.18.1.10", "--dst-addrs", k,
            "--dst-port-base", 1024]


def create_sessions(n, bidir):
    """rtpgen creates the sessions (and keeps them): in one go up to 32 000, else in K parts,
    part j on listen address 198.18.1.(10 + j) with forward address 198.18.2.(10 + j), so
    that the union is exactly streams_args(n). Returns creates/s as rtpgen measured it."""
    k = spread(n)
    parts = [(j, n // k) for j in range(k)]
    if n % k or n // k > 32000:
        raise BenchError(f"{n} sessions: need a multiple of {k}, at most {k * 32000}")
    made, secs = 0, 0.0
    for j, k in parts:
        args = ["--streams", k, "--dst-base", f"198.18.1.{10 + j}", "--dst-addrs", 1,
                "--dst-port-base", 1024, "--fwd-addr", f"198.18.2.{10 + j}",
                "--create-sessions", GRPC, "--keep-sessions", "--session-prefix", f"b{j}-",
                "--rpc-threads", 8, "--count", k, "--duration", 5]
        if bidir:
            args += ["--bidirectional", "--fwd-port-base", 1024]
        g = run_gen(f"create{j}", args, limit=120 + k / 200)
        if g.get("sessions_created") != k:
            raise BenchError(f"rtpgen created {g.get('sessions_created')} of {k} sessions")
        made += k
        secs += k / g["creates_per_s"] if g.get("creates_per_s") else 0
    return made / secs if secs > 0 else None


def profile(dut, streams, name):
    """perf (cpu-clock samples, no PMU needed) on the DUT worker's cpu while rtpgen sends at
    max: what share of the worker's time is the memif PMD (its DSO, plus mempool/ring)."""
    if not PERF:
        return None
    pdata = f"{LOGS}/perf-{name}.data"
    run = GEN.send("profile", streams + ["--duration", D_PROF + 1.5, "--warmup", WARM])
    try:
        s0 = dut.stats()
        wait_for(lambda: dut.stats()["relayed"] > s0["relayed"] + 100000, 20, "traffic")
        rec = subprocess.run([PERF, "record", "-q", "-e", "cpu-clock", "-C", str(DUT_CPU),
                              "-o", pdata, "--", "sleep", str(D_PROF)],
                             capture_output=True, timeout=D_PROF + 30)
    finally:
        GEN.finish(run)
    if rec.returncode != 0:
        return None
    sel = ["--pid", str(dut.pid), "--comm", dut.worker_comm, "--percentage", "relative"]
    rep = subprocess.run([PERF, "report", "-i", pdata, "--stdio", "-q", "--sort", "dso", *sel],
                         capture_output=True, text=True, timeout=120).stdout
    syms = subprocess.run([PERF, "report", "-i", pdata, "--stdio", "-q", "--sort", "dso,sym",
                           *sel],
                          capture_output=True, text=True, timeout=120).stdout
    with open(f"{LOGS}/perf-{name}.txt", "w") as f:
        f.write(rep + "\n" + "\n".join(syms.splitlines()[:60]) + "\n")
    pmd = 0.0
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m and re.search(r"librte_net_memif|librte_mempool|librte_ring", m.group(2)):
            pmd += float(m.group(1))
    return pmd / 100.0


def zero_loss(streams, gmax):
    """RFC 2544-style binary search on the offered rate, bounded to STEPS trials: the highest
    rate (Mpps received) at which nothing was lost."""
    if gmax["lost"] == 0 and gmax["rx_pkts"] >= gmax["tx_pkts"]:
        return gmax["rx_mpps"], []
    lo, hi, best, trials = 0.0, gmax["tx_mpps"], 0.0, []
    for i in range(STEPS):
        rate = (lo + hi) / 2
        g = run_gated(f"zl{i}", streams + ["--rate", int(rate * 1e6), "--duration", D_STEP,
                                           "--warmup", WARM])
        ok = (g["lost"] == 0 and g["rx_pkts"] >= g["tx_pkts"] and
              g["tx_mpps"] >= 0.98 * rate)
        trials.append({"rate_mpps": round(rate, 4), "rx_mpps": round(g["rx_mpps"], 4),
                       "lost": g["lost"], "ok": ok})
        if ok:
            lo, best = rate, g["rx_mpps"]
        else:
            hi = rate
    return best, trials


def max_runs(name, dut, streams):
    """R runs at max offered load. R > 1 because this VM's two vCPUs are sometimes on cores
    that share an L3 and sometimes not (the host moves them; a cache line between them takes
    ~100 ns or ~350 ns): memif, shared memory between the cores, then runs ~3x slower."""
    global CUR_CASE
    CUR_CASE = name
    rtp = dut.kind == "rtpproxy"
    out = []
    log(f"{name}: max offered load, {MAX_RUNS} x {D_MAX:g} s")
    for i in range(MAX_RUNS):
        args = streams + ["--duration", D_MAX, "--warmup", WARM]
        if not rtp:
            g = run_gated(f"max{i}", args)
        else:
            g = max_run_sampled(dut, f"max{i}", args)
        # memif pushes back: a generator that keeps finding the DUT's ring full is held by
        # the DUT
        g["limited_by"] = "dut" if g["tx_dropped"] > 0.05 * g["tx_pkts"] else "generator"
        out.append(g)
    return out


def max_run_sampled(dut, what, args):
    """A max-load run while GetProxyStats is sampled every 300 ms (from cpu 0): cycles per
    packet come from the samples taken while traffic flowed, so that the generator's start and
    end (idle polling, link up/down) stay out of the figure."""
    dut.stats()
    near, lm = placement_gate()
    run = GEN.send(what, args)
    snaps = []
    while True:
        s = dut.try_stats()
        if s is not None:
            snaps.append(s)
        g = GEN.poll(run, 0.3)
        if g is not None:
            break
    g["near"], g["probe_min_us"] = near, lm
    if not near:
        FAR_RUNS.append(f"{CUR_CASE}/{what}")
    g["cycles_per_pkt"] = g["cycles_per_pkt_all"] = g["dut_busy_iterations_pct"] = None
    g["dut_drops"] = {}
    # samples strictly inside the traffic: relayed grew just before and just after them
    inside = [k for k in range(1, len(snaps) - 1)
              if snaps[k - 1]["relayed"] < snaps[k]["relayed"] < snaps[k + 1]["relayed"]]
    if len(inside) >= 2:
        a, b = snaps[inside[0]], snaps[inside[-1]]
        dt = (b["uptime_ms"] - a["uptime_ms"]) / 1e3
        di, db, dn = (b["iterations"] - a["iterations"], b["busy"] - a["busy"],
                      b["relayed"] - a["relayed"])
        dc = b["busy_cycles"] - a["busy_cycles"]
        if dt > 0 and di > 0 and dn > 0:
            # the worker's busy iterations' TSC cycles (it counts them) per relayed packet:
            # the issue's "busy iterations only"; and every cycle of its core, empty polls
            # included, for comparison
            g["cycles_per_pkt"] = dc / dn if dc > 0 else None
            g["cycles_per_pkt_all"] = HZ * dt / dn
            g["dut_busy_iterations_pct"] = round(100.0 * db / di, 1)
    if len(snaps) >= 2:
        a, b = snaps[0], snaps[-1]
        g["dut_drops"] = {k: v - a["drops"].get(k, 0) for k, v in b["drops"].items()
                          if v != a["drops"].get(k, 0)}
    return g


def median_run(runs):
    return sorted(runs, key=lambda x: x["rx_mpps"])[len(runs) // 2]


def measure(name, dut, streams, sessions, bidir, ref):
    r = {"case": name, "sessions": sessions, "bidirectional": bidir}
    rtp = dut.kind == "rtpproxy"
    stalls = []
    csw0 = thread_ctxsw(dut.pid, dut.worker_comm)

    runs = max_runs(name, dut, streams)
    g = median_run(runs)
    stalls += [x["loop_max_gap_us"] for x in runs]
    r["mpps_max"] = g["rx_mpps"]
    r["mpps_max_runs"] = [round(x["rx_mpps"], 3) for x in runs]
    r["probe_min_us_runs"] = [x["probe_min_us"] for x in runs]
    r["offered_mpps_max"] = g["tx_mpps"]
    r["lost_at_max"] = g["lost"]
    r["limited_by"] = g["limited_by"]
    if rtp:
        r["cycles_per_pkt"] = g["cycles_per_pkt"]
        r["cycles_per_pkt_runs"] = [round(x["cycles_per_pkt"]) if x["cycles_per_pkt"] else None
                                    for x in runs]
        r["cycles_per_pkt_all"] = g["cycles_per_pkt_all"]
        r["dut_busy_iterations_pct"] = g["dut_busy_iterations_pct"]
        r["dut_drops_at_max"] = g["dut_drops"]

    if rtp:
        log(f"{name}: perf profile of the worker at max load")
        try:
            share = profile(dut, streams, name)
        except BenchError as e:
            log(f"{name}: profile skipped: {e}")
            share = None
        r["pmd_share"] = round(share, 3) if share is not None else None
        c = r["cycles_per_pkt"]
        r["cycles_per_pkt_excl_pmd"] = c * (1 - share) if c is not None and share is not None \
            else None

    log(f"{name}: zero-loss search")
    r["mpps_zero_loss"], r["zero_loss_trials"] = zero_loss(streams, g)

    rate = int(0.5 * r["mpps_max"] * 1e6)
    if rate < 1000:
        raise BenchError(f"{name}: nothing came back through the DUT at max load")
    # three runs, the median of each percentile: one multi-millisecond stall of a vCPU (the
    # host's doing, not ours) in a run otherwise decides its p99
    log(f"{name}: latency at 50% of max ({rate / 1e6:.3f} Mpps), {LAT_RUNS} x {D_LAT:g} s")
    runs = []
    c0, t0 = cpu_ticks(dut.pid, dut.worker_comm), time.time()
    for i in range(LAT_RUNS):
        g = run_gated(f"lat50-{i}", streams + ["--rate", rate, "--duration", D_LAT,
                                               "--warmup", WARM])
        stalls.append(g["loop_max_gap_us"])
        runs.append(g)
    for k in ("lat_p50_us", "lat_p99_us", "lat_p999_us", "lat_max_us"):
        r[k] = sorted(g[k] for g in runs)[len(runs) // 2]
    r["lat_p99_us_runs"] = [g["lat_p99_us"] for g in runs]
    c1 = cpu_ticks(dut.pid, dut.worker_comm)
    # the DUT's threads but the worker (control lcore, gRPC, TCP relay): they share cpu 0
    # with the generator, so their bursts of work delay what the generator receives
    r["dut_other_threads_cpu_pct"] = round(100 * (c1 - c0) / (time.time() - t0), 2) \
        if c0 is not None and c1 is not None and c1 >= c0 else None
    r["lost_at_50pct"] = sum(g["lost"] for g in runs)

    csw1 = thread_ctxsw(dut.pid, dut.worker_comm)
    r["dut_worker_preempted"] = csw1 - csw0 if csw0 is not None and csw1 is not None and \
        csw1 >= csw0 else None
    r["gen_max_stall_us"] = max(stalls)
    return r


def run_reference(again=None):
    """The reference forwarder; `again`: its result from the start of the run, to which a
    second set of max runs at the end is added (the placement of the vCPUs drifts)."""
    dut = Testpmd()
    log("reference: dpdk-testpmd --forward-mode=io over the same memif links"
        + (" (again, at the end)" if again else ""))
    busy = cpu_busy(0.5)
    with running(dut, "reference"):
        if again:
            runs = max_runs("reference", dut, streams_args(1000))
            again["mpps_max_runs"] += [round(x["rx_mpps"], 3) for x in runs]
            v = sorted(again["mpps_max_runs"])
            again["mpps_max"] = v[len(v) // 2]
            return again
        r = measure("reference", dut, streams_args(1000), 1000, False, None)
        r["dut"] = "dpdk-testpmd --forward-mode=io"
        r["cpu_busy_before_pct"] = round(busy, 1)
        return r


def run_udp(n, bidir, ref, mem_base, base_out=None):
    name = f"udp-{n}" + ("-bidir" if bidir else "")
    dut = Rtpproxy(name, max_sessions=n)
    log(f"{name}: rtpproxy, max_sessions {n}")
    busy = cpu_busy(0.5)
    with running(dut, name):
        mem0 = dut.memory()
        if base_out is not None:
            base_out["mem"] = mem0[1]
        log(f"{name}: creating {n} {'bidirectional ' if bidir else ''}sessions")
        cps = create_sessions(n, bidir)
        st = dut.stats()
        if st["sessions_active"] != n:
            raise BenchError(f"{st['sessions_active']} sessions active, wanted {n}")
        mem1 = dut.memory()
        r = measure(name, dut, streams_args(n), n, bidir, ref)
        r["rtpgen_creates_per_s"] = cps
        r["cpu_busy_before_pct"] = round(busy, 1)
        r["rss_mib"] = round(mem1[0] / 2**20, 1)
        r["dut_idle_iteration_cycles"] = round(dut.idle_cycles, 1)
        if mem_base is not None and mem1[1] is not None and n >= 1000:
            r["bytes_per_session"] = round((mem1[1] - mem_base) / n)
            r["bytes_per_session_static"] = round((mem0[1] - mem_base) / n)
            r["bytes_per_session_dynamic"] = round((mem1[1] - mem0[1]) / n)
        else:
            r["bytes_per_session"] = None
        if bidir and spread(n) > 1:
            # rtpgen's source port for stream i is 40000 + 2i, but a session made in part j
            # of create_sessions has destination port 40000 + 2 * (its index in the part)
            log(f"{name}: reverse direction not measured (sessions spread over addresses)")
        elif bidir:
            # the reverse direction: from the destination (rtpgen's port1, 198.18.2.2:40000+2i)
            # to the forward endpoints (198.18.2.10:1024+2i), relayed to the latched client
            log(f"{name}: reverse direction at max offered load")
            g = run_gated("reverse", ["--tx-port", 1, "--rx-port", 0, "--dst-mac", MAC_DUT1,
                                    "--src", "198.18.2.2", "--src-port-base", 40000,
                                    "--streams", n, "--dst-base", "198.18.2.10",
                                    "--dst-addrs", 1, "--dst-port-base", 1024,
                                    "--duration", D_MAX, "--warmup", WARM])
            r["reverse_mpps_max"] = g["rx_mpps"]
            r["reverse_lost_at_max"] = g["lost"]
        return r, mem0


def ctl_bench(args, tag):
    cmd = [CTL, "--server", GRPC, "--json", "bench", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    with open(f"{LOGS}/ctl-bench-{tag}.log", "w") as f:
        f.write(" ".join(cmd) + f"\n\nexit {r.returncode}\n{r.stdout}\n{r.stderr}")
    js = next((l for l in r.stdout.splitlines() if l.startswith("{")), None)
    if js is None:
        raise BenchError(f"rtpproxyctl bench failed: {r.stderr.strip()[-300:]}")
    d = json.loads(js)
    if d.get("errors"):
        raise BenchError(f"rtpproxyctl bench: {d['errors']} errors, see ctl-bench-{tag}.log")
    return d


def run_control():
    """CreateSession/s and latency from rtpproxyctl bench (C calls in flight from T client
    threads, one channel each), with 0 and with 100 000 sessions present, for each CTL_CONC
    (the best is the headline). No traffic here, so the worker naps when idle
    (idle_sleep_us 50): with a busy-polling worker the control lcore and the client would
    share the one cpu left, where in production the client is another machine."""
    m = 20000 if QUICK else 30000
    dut = Rtpproxy("control", max_sessions=100000 + m + 1000, idle_sleep_us=50)
    log("control: rtpproxy for the control-plane figures")
    out = []

    def sweep(present, tag):
        """One object per client count; the fastest is the headline (the target's figure)."""
        rows = []
        for c, th in CTL_CONC:
            log(f"control: {m} CreateSession + DestroySession, {c} in flight from {th} "
                f"thread(s), {present} present")
            d = ctl_bench(["--sessions", m, "--concurrency", c, "--threads", th, "--listen",
                           ",".join(f"198.18.1.{10 + i}" for i in range(4)),
                           "--forward", "198.18.2.10", "--port-base", 1024,
                           "--prefix", f"{tag}c{c}"], f"{tag}-c{c}")
            rows.append({"case": "control", "sessions_present": present,
                         "creates_per_s": d["creates_per_s"],
                         "create_p50_ms": d["create_p50_ms"], "create_p99_ms": d["create_p99_ms"],
                         "create_max_ms": d["create_max_ms"],
                         "destroys_per_s": d["destroys_per_s"],
                         "destroy_p99_ms": d["destroy_p99_ms"], "sessions": m,
                         "concurrency": c, "client_threads": th, "headline": False})
        best = max(rows, key=lambda x: x["creates_per_s"])
        best["headline"] = True
        out.extend(rows)
        return best

    with running(dut, "control", gen=False):
        sweep(0, "e")
        log("control: filling the table with 100 000 sessions (kept)")
        fill = []
        for j in range(4):
            fill.append(ctl_bench(["--sessions", 25000, "--concurrency", 8,
                                   "--listen", f"198.18.1.{14 + j}",
                                   "--forward", f"198.18.2.{14 + j}", "--port-base", 1024,
                                   "--prefix", f"f{j}", "--keep"], f"fill{j}"))
        present = dut.stats()["sessions_active"]
        if present != 100000:
            raise BenchError(f"{present} sessions present after the fill, wanted 100000")
        r = sweep(present, "f")
        r["fill_creates_per_s"] = round(100000 / sum(25000 / f["creates_per_s"] for f in fill), 1)
        if PERF:
            # where the control lcore's time goes (both cpus: the client threads too)
            log("control: perf profile of a create/destroy round")
            pdata = f"{LOGS}/perf-control.data"
            subprocess.run([PERF, "record", "-q", "-e", "cpu-clock", "-a", "-o", pdata, "--",
                            CTL, "--server", GRPC, "--json", "bench", "--sessions", str(m),
                            "--concurrency", str(r["concurrency"]), "--listen",
                            ",".join(f"198.18.1.{10 + i}" for i in range(4)),
                            "--forward", "198.18.2.10", "--port-base", "1024",
                            "--prefix", "prof"], capture_output=True, timeout=300)
            rep = subprocess.run([PERF, "report", "-i", pdata, "--stdio", "-q",
                                  "--sort", "cpu,comm", "--percentage", "relative"],
                                 capture_output=True, text=True, timeout=120).stdout
            syms = subprocess.run([PERF, "report", "-i", pdata, "--stdio", "-q", "--pid",
                                   str(dut.pid), "--sort", "comm,dso,sym"],
                                  capture_output=True, text=True, timeout=120).stdout
            with open(f"{LOGS}/perf-control.txt", "w") as f:
                f.write(rep + "\n" + "\n".join(syms.splitlines()[:70]) + "\n")
        return out


# ---------------------------------------------------------------- report

def fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.+)", lscpu)
    return {"cpu": model.group(1).strip() if model else "?", "cpus": os.cpu_count(),
            "kernel": os.uname().release, "tsc_mhz": round(HZ / 1e6, 1),
            "dpdk": subprocess.run(["pkg-config", "--modversion", "libdpdk"],
                                   capture_output=True, text=True).stdout.strip(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": E.get("BENCH_CMD", "scripts/bench.sh"),
            "loadavg_before": open("/proc/loadavg").read().split()[:3]}


def cpu_busy(secs=1.0):
    """% of both cpus busy over secs (before we start: anything is someone else's)."""
    def snap():
        with open("/proc/stat") as f:
            v = list(map(int, f.readline().split()[1:]))
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(secs)
    t1, i1 = snap()
    return 100.0 * (1 - (i1 - i0) / max(1, t1 - t0))


def table(results, meta):
    lines = [f"rtpproxy benchmark  {meta['date']}  {meta['command']}",
             f"machine: {meta['cpu']}, {meta['cpus']} cpus, TSC {meta['tsc_mhz']} MHz, kernel "
             f"{meta['kernel']}, DPDK {meta['dpdk']}; {PAYLOAD + 54}-byte frames over net_memif",
             ""]
    hdr = (f"{'case':<17}{'sessions':>9} {'Mpps max':>9} {'0-loss':>8} {'ratio':>6} "
           f"{'cyc/pkt':>8} {'-PMD':>6} {'lat p50/p99/p999 us @50%':>26} {'RSS MiB':>8} "
           f"{'B/sess':>7}  limit")
    lines += [hdr, "-" * len(hdr)]
    for r in results:
        if r["case"] == "control" or "error" in r:
            continue
        lat = f"{fmt(r.get('lat_p50_us'), '{:.1f}')}/{fmt(r.get('lat_p99_us'), '{:.1f}')}/" \
              f"{fmt(r.get('lat_p999_us'), '{:.1f}')}"
        lines.append(
            f"{r['case']:<17}{r['sessions']:>9} {fmt(r['mpps_max'], '{:.3f}'):>9} "
            f"{fmt(r['mpps_zero_loss'], '{:.3f}'):>8} {fmt(r.get('ratio')):>6} "
            f"{fmt(r.get('cycles_per_pkt'), '{:.0f}'):>8} "
            f"{fmt(r.get('cycles_per_pkt_excl_pmd'), '{:.0f}'):>6} {lat:>26} "
            f"{fmt(r.get('rss_mib'), '{:.0f}'):>8} {fmt(r.get('bytes_per_session'), '{:.0f}'):>7}"
            f"  {r.get('limited_by', '')}"
            + (f"  (reverse {r['reverse_mpps_max']:.3f} Mpps)" if "reverse_mpps_max" in r
               else ""))
    lines.append("")
    for r in results:
        if r["case"] == "control" and "error" not in r:
            lines.append(f"control plane{' *' if r.get('headline') else '  '} "
                         f"{r['sessions_present']:>6} sessions present: "
                         f"{r['creates_per_s']:.0f} CreateSession/s, p50 {r['create_p50_ms']:.3f}"
                         f" ms, p99 {r['create_p99_ms']:.3f} ms ({r['concurrency']} in flight, "
                         f"{r.get('client_threads', 1)} threads); "
                         f"destroy {r['destroys_per_s']:.0f}/s")
    if any(r["case"] == "control" for r in results):
        lines.append("(* the fastest client count: the figure the targets are judged on)")
    for r in results:
        if "error" in r:
            lines.append(f"{r['case']}: FAILED: {r['error']}")
    if meta.get("runs_with_vcpus_apart"):
        lines.append("note: measured with the vCPUs apart (slower rig), after waiting: "
                     + ", ".join(meta["runs_with_vcpus_apart"]))
    for x in meta.get("dut_exits", []):
        lines.append(f"note: the DUT exited when it should not have: {x}")
    lines += ["", "targets (issue 5):"] + targets(results)
    return "\n".join(lines)


def targets(results):
    by = {r["case"]: r for r in results if r["case"] != "control" and "error" not in r}
    ctl = {r["sessions_present"]: r for r in results
           if r["case"] == "control" and "error" not in r and r.get("headline", True)}
    big = max((r for r in by.values() if r["case"].startswith("udp-") and not r["bidirectional"]),
              key=lambda r: r["sessions"], default=None)
    k = by.get("udp-1000", {})
    out = []

    def t(what, val, ok, shown):
        out.append(f"  {'MET   ' if ok else 'MISSED' if ok is not None else 'n/a   '} {what}: "
                   f"{shown if val is not None else 'not measured'}")

    v = k.get("ratio")
    t("1 000 sessions >= 0.8 x reference", v, v >= 0.8 if v is not None else None, fmt(v))
    v = big.get("ratio") if big and big["sessions"] >= 100000 else None
    t(f"1M sessions >= 0.6 x reference (largest run: {big['sessions'] if big else '-'})", v,
      v >= 0.6 if v is not None else None, fmt(v))
    v = k.get("cycles_per_pkt_excl_pmd")
    t("<= 60 worker cycles/packet excluding the PMD (1 000 sessions)", v,
      v <= 60 if v is not None else None,
      f"{fmt(v, '{:.0f}')} (all: {fmt(k.get('cycles_per_pkt'), '{:.0f}')})")
    v = k.get("worker_cycles_per_pkt_inproc")
    t("<= 60 worker cycles/packet, in process (bench_worker, 1 000 flows)", v,
      v <= 60 if v is not None else None,
      f"{fmt(v, '{:.0f}')} (1M flows: "
      f"{fmt(by.get('udp-1000000', {}).get('worker_cycles_per_pkt_inproc'), '{:.0f}')})")
    v = k.get("lat_p99_us")
    t("p99 <= 20 us at 50% load (1 000 sessions, generator round trip)", v,
      v <= 20 if v is not None else None,
      f"{fmt(v, '{:.1f}')} us (reference {fmt(by.get('reference', {}).get('lat_p99_us'), '{:.1f}')} us)")
    v = (big or {}).get("bytes_per_session") or k.get("bytes_per_session")
    t("<= 2 KiB per UDP session", v, v <= 2048 if v is not None else None, f"{v} bytes")
    v = ctl.get(0, {}).get("creates_per_s")
    t(">= 20 000 CreateSession/s", v, v >= 20000 if v is not None else None,
      f"{fmt(v, '{:.0f}')}/s (with 100 000 present: "
      f"{fmt(ctl.get(100000, {}).get('creates_per_s'), '{:.0f}')}/s)")
    v = ctl.get(100000, {}).get("create_p99_ms")
    t("CreateSession p99 <= 5 ms with 100 000 present", v, v <= 5 if v is not None else None,
      f"{fmt(v, '{:.3f}')} ms")
    return out


def merge_inproc(results, meta):
    """bench_worker's figures (run by bench.sh before the rig) as extra keys of udp-N."""
    d = E.get("BENCH_INPROC")
    meta["worker_inproc"] = {}
    for n in (1000, 1000000):
        try:
            with open(f"{d}/inproc-{n}.json") as f:
                j = json.load(f)
            shutil.copy(f"{d}/inproc-{n}.json", f"{LOGS}/bench_worker-{n}.json")
        except (OSError, TypeError, ValueError):
            continue
        meta["worker_inproc"][str(n)] = j
        extra = {"worker_cycles_per_pkt_inproc": j.get("worker_cycles_per_pkt"),
                 "worker_cycles_per_pkt_inproc_min": j.get("worker_cycles_per_pkt_min"),
                 "worker_cycles_per_pkt_inproc_reps": j.get("worker_cycles_per_pkt_reps"),
                 "total_cycles_per_pkt_inproc": j.get("total_cycles_per_pkt"),
                 "worker_inproc_ok": j.get("ok")}
        for r in results:
            if r["case"] == f"udp-{n}" and "error" not in r:
                r.update(extra)


def main():
    meta = machine()
    busy = cpu_busy()
    meta["cpu_busy_before_pct"] = round(busy, 1)
    log(f"{meta['cpu']}, {meta['cpus']} cpus, kernel {meta['kernel']}, TSC {HZ / 1e6:.1f} MHz")
    if busy > 5:
        top = subprocess.run(["ps", "-eo", "pcpu,pid,comm", "--sort=-pcpu"], capture_output=True,
                             text=True).stdout.splitlines()[1:6]
        log(f"WARNING: the cpus are {busy:.0f}% busy before we start: the figures may be "
            "disturbed. Busiest: " + "; ".join(" ".join(l.split()) for l in top))
    results = []

    def attempt(name, fn):
        if CASES and name not in CASES:
            return None
        try:
            return fn()
        except Exception as e:         # one case failing must not lose the others
            if not isinstance(e, BenchError):
                import traceback
                traceback.print_exc()
            log(f"{name}: FAILED: {e}")
            results.append({"case": name, "error": str(e)})
            return None

    ref = attempt("reference", run_reference)
    if ref:
        results.append(ref)
    base = {}             # memory of rtpproxy sized for one session, with none: udp-1's start
    sizes = [1, 1000] if QUICK else [1, 1000, 100000, 1000000]
    for n in sizes:
        got = attempt(f"udp-{n}", lambda: run_udp(n, False, ref, base.get("mem"),
                                                  base if n == 1 else None))
        if got:
            results.append(got[0])
    for n in [1000] if QUICK else sizes:
        got = attempt(f"udp-{n}-bidir", lambda: run_udp(n, True, ref, base.get("mem")))
        if got:
            results.append(got[0])
    ctl = attempt("control", run_control)
    if ctl:
        results.extend(ctl)
    if ref:
        attempt("reference", lambda: run_reference(again=ref))
        for r in results:
            if r["case"].startswith("udp-") and "error" not in r:
                r["ref_mpps_max"] = ref["mpps_max"]
                r["ratio"] = r["mpps_max"] / ref["mpps_max"] if ref["mpps_max"] else None
                r["ratio_zero_loss"] = r["mpps_zero_loss"] / ref["mpps_zero_loss"] \
                    if ref.get("mpps_zero_loss") else None

    merge_inproc(results, meta)
    meta["dut_exits"] = DUT_EXITS
    meta["runs_with_vcpus_apart"] = FAR_RUNS
    meta["seconds_waited_for_vcpus"] = round(GATE_WAITED)
    meta["cpu_busy_after_pct"] = round(cpu_busy(), 1)
    meta["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    with open(OUT, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    with open(f"{LOGS}/meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    text = table(results, meta)
    with open(f"{LOGS}/table.txt", "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"\nwrote {OUT}; logs in {LOGS}")
    return 1 if any("error" in r for r in results) else 0


try:
    rc = main()
finally:
    for p in list(children):
        end(p, signal.SIGINT, 20)
sys.exit(rc)
PY
}

main "$@"
