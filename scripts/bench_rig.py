"""The benchmark's rig (scripts/bench.py): its settings, the processes it runs (rtpgen --serve,
dpdk-testpmd, rtpproxy), each started by us, recorded by pid and ended by pid, and what it reads
about them in /proc. Importing it starts nothing; bench.py fills S before anything runs.

One rtpgen --serve process per DUT lifetime (running() below): started once the DUT is ready,
every run of the case is a line on its stdin (its options, as on rtpgen's command line) and one
JSON line back. DPDK 22.11's memif PMD handles a client's disconnection in the DUT's interrupt
thread, unmapping the shared regions while the DUT's worker may be polling them (SIGSEGV in the
DUT): the DUT must never see rtpgen go away while it runs. So it is stopped first, and rtpgen,
which does not touch its ports while it waits for a line, after it.
"""
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
import types

from bench_results import (BenchError, PAYLOAD, ADDRS, parse_gen_answer, testpmd_forwarding,
                           parse_ctl_stats, memif_rss_bytes, thread_ticks, involuntary_switches,
                           idle_iteration_cycles)

GEN_CPU, DUT_CPU, MAIN_CPU = 0, 1, 0   # generator lcore; DUT worker; DUT control/main lcore
MAC_GEN0, MAC_GEN1 = "02:00:00:00:01:02", "02:00:00:00:02:02"   # rtpgen 198.18.1.2 / .2.2
MAC_DUT0, MAC_DUT1 = "02:00:00:00:01:01", "02:00:00:00:02:01"

# The run's settings (bench.py's configure() fills them): tmp (the private directory), huge
# (hugetlbfs mount), build, ns (network namespace), pfx (DPDK --file-prefix stem), logs, quick,
# hz (TSC), rsize (memif rings, log2), the tools' paths and timings() of the mode.
S = types.SimpleNamespace()


class Live:
    """What changes while the run goes: every process started, the current case, its DUT and
    generator, and what the report notes about the rig."""

    def __init__(self):
        self.children = []     # Popen objects not yet ended
        self.pids = []         # every pid we started (the last sweep at exit)
        self.gen_no = 0        # generator runs, for the log names
        self.serve_no = 0      # rtpgen processes
        self.gen = None        # the rtpgen --serve of the DUT running now
        self.dut = None        # the DUT running now
        self.case = ""
        self.dut_exits = []    # DUTs that exited while they should have run
        self.far_runs = []     # runs measured with the vCPUs apart
        self.gate_waited = 0.0
        self.gen_extra = []    # rtpgen options of every run of the case (VARIANTS)


L = Live()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def spawn(cmd, logname, stdin=subprocess.DEVNULL, stdout=None):
    """Start cmd in its own session (a ^C reaches us, not it), stderr (and stdout unless
    given) to LOGS/logname headed by the command line; recorded by pid."""
    f = open(logname if os.path.isabs(logname) else f"{S.logs}/{logname}", "wb")
    f.write((" ".join(cmd) + "\n\n").encode())
    f.flush()
    p = subprocess.Popen(cmd, stdin=stdin, stdout=stdout or f, stderr=f,
                         start_new_session=True)
    f.close()
    L.pids.append(p.pid)
    L.children.append(p)
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
    if p in L.children:
        L.children.remove(p)


def end_all():
    """Every child still running, then any recorded pid still alive that is ours (its command
    line names our prefix or directory: a pid reused by someone else is left alone)."""
    for p in list(L.children):
        end(p, signal.SIGINT, 20)
    for pid in L.pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if S.pfx.encode() in cmdline or S.tmp.encode() in cmdline:
                os.kill(pid, signal.SIGKILL)
        except (OSError, AttributeError):
            pass


def wait_for(cond, secs, what):
    end_t = time.time() + secs
    while time.time() < end_t:
        if cond():
            return
        time.sleep(0.1)
    raise BenchError(f"timed out after {secs} s waiting for {what}")


def eal(name):
    return ["--huge-dir", S.huge, "--huge-unlink", "--no-pci", "--log-level", "warning",
            "--file-prefix", f"{S.pfx}-{name}"]


def memif(i, role, mac):
    return (f"net_memif{i},role={role},socket={S.tmp}/m{i}.sock,id=0,mac={mac},"
            f"rsize={S.rsize},socket-abstract=no")


def rm_sockets():
    for s in ("m0.sock", "m1.sock", "grpc.sock"):
        try:
            os.unlink(f"{S.tmp}/{s}")
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------- /proc

def thread_ctxsw(pid, comm):
    """Involuntary context switches of a process' thread named comm (None if not found)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != comm:
                    continue
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                return involuntary_switches(f.read())
    except OSError:
        pass
    return None


def cpu_ticks(pid, skip_comm):
    """CPU time (s) of a process' threads, the one named skip_comm left out."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                comm, ticks = thread_ticks(f.read())
            if comm != skip_comm:
                total += ticks
    except (OSError, ValueError, IndexError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def memif_rss(pid):
    """Bytes of the memif regions (the client's memfds, "memif_region_N") resident in a DUT.
    rtpgen stays connected for the whole case, so they are mapped whenever the DUT's memory is
    read; they belong to the rig (rings and buffers of rtpgen's making), not to a session."""
    try:
        with open(f"/proc/{pid}/smaps") as f:
            return memif_rss_bytes(f)
    except OSError:
        return 0


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


# ---------------------------------------------------------------- the generator

def gen_line_args(args):
    """A run's options: what every run shares, then its own (a later option wins), then the
    case's (L.gen_extra: a VARIANTS case's family or tags)."""
    return ["--tx-port", "0", "--rx-port", "1", "--dst-mac", MAC_DUT0, "--no-arp",
            "--payload", str(PAYLOAD), "--link-wait", "10", "--json", *map(str, args),
            *map(str, L.gen_extra)]


def dut_alive(when):
    """A BenchError (recorded) if the DUT has exited: no recovery, its case fails."""
    d = L.dut
    if d is not None and d.p.poll() is not None:
        L.dut_exits.append(f"{L.case}: {d.kind} exited ({d.p.returncode}) {when}")
        raise BenchError(f"the DUT ({d.kind}) exited ({d.p.returncode}) {when}")


class Gen:
    """rtpgen --serve on both memif ports, for the lifetime of one DUT."""

    def __init__(self, tag):
        L.serve_no += 1
        self.log = f"{S.logs}/gen{L.serve_no}-{tag}.log"
        self.cmd = [S.rtpgen, "-l", str(GEN_CPU), *eal("gen"),
                    "--vdev", memif(0, "client", MAC_GEN0), "--vdev", memif(1, "client", MAC_GEN1),
                    "--", "--serve"]
        self.p = spawn(self.cmd, self.log, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buf = b""

    def send(self, what, args, limit=None):
        """Start a run (a line to rtpgen); finish() or poll() gets its answer."""
        L.gen_no += 1
        run = {"what": what, "name": f"{L.gen_no:03d}-gen-{what}.log",
               "line": " ".join(gen_line_args(args)), "limit": limit or 60,
               "t0": time.time()}
        dut_alive(f"before {what}")
        try:
            self.p.stdin.write((run["line"] + "\n").encode())
            self.p.stdin.flush()
        except OSError:
            raise BenchError(f"rtpgen exited ({self.p.poll()}) before {what}: {self.tail()}")
        return run

    def read_line(self, run, timeout):
        """rtpgen's next line, or None if none came within timeout s (raises past the run's
        limit or if rtpgen exits)."""
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
        return out.decode(errors="replace")

    def poll(self, run, timeout):
        """The run's answer (parsed, kept in LOGS), or None if it did not come within timeout
        s. Raises if rtpgen exits, the run goes past its limit, rtpgen answers an error or the
        DUT died."""
        out = self.read_line(run, timeout)
        if out is None:
            return None
        with open(f"{S.logs}/{run['name']}", "w") as f:
            f.write(f"{run['line']}\n\n--- answer after {time.time() - run['t0']:.1f} s\n"
                    f"{out}\n")
        g = parse_gen_answer(out, run["name"])
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
    if L.gen is None:
        raise BenchError(f"{what}: no rtpgen running")
    return L.gen.run(what, args, limit)


@contextlib.contextmanager
def running(dut, case, gen=True):
    """The DUT, and (gen) one rtpgen --serve connected to it, for one case. At the end, or on
    an error, the DUT stops first (its workers stop before its ports close), then rtpgen gets
    EOF and exits: see Gen. A DUT that exited on its own fails the case."""
    L.case = case
    try:
        dut.start()
        L.dut = dut
        if gen:
            L.gen = Gen(case)
        yield dut
        dut_alive("before the end of the case")
    finally:
        L.dut = None
        was = dut.p.poll() if hasattr(dut, "p") else None
        rc = dut.stop()
        if was is None and rc not in (None, 0):
            L.dut_exits.append(f"{case}: {dut.kind} exited ({rc}) when stopped")
            log(f"{case}: the DUT ({dut.kind}) exited ({rc}) when stopped")
        if L.gen is not None:
            L.gen.close()
            L.gen = None


# ---------------------------------------------------------------- the DUTs

class Testpmd:
    """The reference forwarder: dpdk-testpmd --forward-mode=io between the two memif ports."""
    kind = "testpmd"
    worker_comm = f"rte-worker-{DUT_CPU}"

    def start(self):
        rm_sockets()
        # stdbuf: testpmd's stdout is a file, and its "Press enter" line must get there now
        cmd = ["stdbuf", "-oL", S.testpmd, "-l", f"{MAIN_CPU},{DUT_CPU}",
               "--main-lcore", str(MAIN_CPU), *eal("ref"),
               "--vdev", memif(0, "server", MAC_DUT0), "--vdev", memif(1, "server", MAC_DUT1),
               "--", "--forward-mode=io", "--nb-cores=1", "--rxq=1", "--txq=1",
               f"--rxd={1 << S.rsize}", f"--txd={1 << S.rsize}", "--disable-link-check"]
        # non-interactive testpmd forwards until a line arrives on stdin (no --stats-period:
        # its stats loop would spin on the generator's cpu). A memif client that connects
        # before the server's port is started never gets its link up: wait for the prompt
        # that follows the start, not just for the sockets.
        self.p = spawn(cmd, "ref-testpmd.log", stdin=subprocess.PIPE)

        def ready():
            with open(f"{S.logs}/ref-testpmd.log", errors="replace") as f:
                return self.p.poll() is not None or testpmd_forwarding(f.read())
        wait_for(ready, 60, "testpmd to start forwarding")
        if self.p.poll() is not None:
            raise BenchError(f"testpmd exited at start, see {S.logs}/ref-testpmd.log")
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


def netns_ipv6(on):
    """IPv6 in the DUT's namespace, for the IPv6 cases only (its TAPs carry the ports' IPv6
    addresses): no router solicitations or duplicate address detection, which would only add
    exception traffic and delays."""
    keys = [f"net.ipv6.conf.{c}.disable_ipv6={0 if on else 1}" for c in ("all", "default")]
    if on:
        keys += ["net.ipv6.conf.default.router_solicitations=0",
                 "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.accept_ra=0"]
    subprocess.run(["ip", "netns", "exec", S.ns, "sysctl", "-qw", *keys], check=True)


def dut_refusal(name):
    """The last lines rtpproxy logged (why it would not start)."""
    try:
        with open(f"{S.logs}/{name}-rtpproxy.log", errors="replace") as f:
            lines = [l for l in f.read().splitlines()[1:] if l.strip() and "TELEMETRY" not in l]
        return " | ".join(lines[-2:])
    except OSError:
        return "?"


def addrs(net, n=ADDRS):
    return f"198.18.{net}.10-198.18.{net}.{10 + n - 1}/24"


def rtpproxy_conf(max_sessions, idle_sleep_us, variant=None):
    """The DUT's configuration: one worker on DUT_CPU, the two memif servers, ADDRS addresses
    on each port, the generator's ports as static neighbours, gRPC on a unix socket. variant
    "ipv6": an IPv6 address on each port too (2001:db8:{1,2}::10) and rtpgen's as static
    neighbours; "vlan": port0 on VLAN 100, port1 on VLAN 200."""
    a6 = {1: "", 2: ""}
    n6 = {1: "", 2: ""}
    vlan = {1: "", 2: ""}
    dests = "198.18.0.0/15"
    a4 = {k: addrs(k) for k in (1, 2)}
    if variant == "ipv6":
        # a port owns at most 32 addresses of both families: one IPv4 fewer (the variants
        # use only the first)
        a4 = {k: addrs(k, ADDRS - 1) for k in (1, 2)}
        a6 = {k: f", 2001:db8:{k}::10/64" for k in (1, 2)}
        n6 = {1: f", [2001:db8:1::2]@{MAC_GEN0}", 2: f", [2001:db8:2::2]@{MAC_GEN1}"}
        dests += ", 2001:db8::/32"
    elif variant == "vlan":
        vlan = {1: "vlan = 100\n", 2: "vlan = 200\n"}
    return f"""[eal]
args = -l {MAIN_CPU}-{DUT_CPU} --main-lcore {MAIN_CPU} {' '.join(eal('dut'))}
[dataplane]
workers = 1
idle_sleep_us = {idle_sleep_us}
[port0]
device = {memif(0, 'server', MAC_DUT0)}
address = {a4[1]}{a6[1]}
exception = {S.pfx}a
neighbors = 198.18.1.2@{MAC_GEN0}{n6[1]}
{vlan[1]}[port1]
device = {memif(1, 'server', MAC_DUT1)}
address = {a4[2]}{a6[2]}
exception = {S.pfx}b
neighbors = 198.18.2.2@{MAC_GEN1}{n6[2]}
{vlan[2]}[grpc]
listen = {S.grpc}
[sessions]
max_sessions = {max_sessions}
port_min = 1024
port_max = 65535
idle_timeout_secs = 3600
allowed_destinations = {dests}
"""


class Rtpproxy:
    """rtpproxy in the run's network namespace (for its TAP exception interfaces)."""
    kind = "rtpproxy"
    worker_comm = f"rte-worker-{DUT_CPU}"

    def __init__(self, name, max_sessions, idle_sleep_us=0, variant=None):
        self.name, self.max_sessions = name, max_sessions
        self.idle_sleep_us = idle_sleep_us
        self.variant = variant

    def start(self):
        rm_sockets()
        conf = f"{S.tmp}/{self.name}.conf"
        with open(conf, "w") as f:
            f.write(rtpproxy_conf(self.max_sessions, self.idle_sleep_us, self.variant))
        shutil.copy(conf, f"{S.logs}/{self.name}-rtpproxy.conf")
        self.p = spawn(["ip", "netns", "exec", S.ns, S.rtpproxy, "-c", conf],
                       f"{self.name}-rtpproxy.log")
        self.pid = self.p.pid      # ip netns exec execs the program in place
        wait_for(lambda: self.p.poll() is not None or self.try_stats() is not None, 60,
                 "rtpproxy's gRPC socket")
        if self.p.poll() is not None:
            raise BenchError(f"rtpproxy exited at start, see {S.logs}/{self.name}-rtpproxy.log")
        self.arm_taps()
        # the cost of an idle loop iteration, to take idle time out of cycles per packet
        a = self.stats()
        time.sleep(1.0)
        self.idle_cycles = idle_iteration_cycles(a, self.stats(), S.hz)
        if self.idle_cycles > 1000:
            log(f"WARNING: an idle worker iteration costs {self.idle_cycles:.0f} cycles "
                "(net_tap still reading its fd on every poll?)")

    def arm_taps(self):
        """net_tap (DPDK 22.11) reads its fd (a readv syscall) on every poll until the kernel
        has sent it a first frame (its SIGIO "trigger" starts at 0): with IPv6 off nothing
        does, and every idle worker iteration would cost ~1 us. One datagram per port from the
        kernel side arms it, as the kernel's own chatter does on a production box."""
        subprocess.run(["ip", "netns", "exec", S.ns, "/usr/bin/python3", "-c",
                        "import socket; s = socket.socket(2, 2)\n"
                        "for a in ('198.18.1.2', '198.18.2.2'): s.sendto(b'x', (a, 9))"],
                       timeout=10, check=False)
        time.sleep(0.3)

    def try_stats(self):
        try:
            # pinned to cpu 0: never on the DUT worker's cpu
            r = subprocess.run(["taskset", "-c", str(GEN_CPU), S.ctl, "--server", S.grpc,
                                "--json", "--timeout", "10000", "stats"],
                               capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            self.stats_err = "rtpproxyctl stats: no answer in 20 s"
            return None
        if r.returncode != 0:
            self.stats_err = r.stderr.strip()[-300:]
            return None
        return parse_ctl_stats(r.stdout)

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

    def heap_bytes(self):
        """Bytes allocated in the DPDK heaps, from the DUT's telemetry socket (None if it
        does not answer)."""
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(5)
            s.connect(f"/var/run/dpdk/{S.pfx}-dut/dpdk_telemetry.v2")
            s.recv(16384)
            s.send(b"/eal/heap_list")
            heap = 0
            for h in json.loads(s.recv(16384))["/eal/heap_list"]:
                s.send(f"/eal/heap_info,{h}".encode())
                heap += int(json.loads(s.recv(16384))["/eal/heap_info"]["Alloc_size"])
            s.close()
            return heap
        except (OSError, ValueError, KeyError):
            return None

    def memory(self):
        """(VmRSS + hugetlb pages mapped, VmRSS + bytes allocated in the DPDK heaps), bytes;
        VmRSS without the memif regions rtpgen shares with it (see memif_rss)."""
        with open(f"/proc/{self.pid}/status") as f:
            st = f.read()
        rss = int(re.search(r"VmRSS:\s*(\d+)", st).group(1)) * 1024 - memif_rss(self.pid)
        huge = int(re.search(r"HugetlbPages:\s*(\d+)", st).group(1)) * 1024
        heap = self.heap_bytes()
        return rss + huge, (rss + heap) if heap is not None else None

    def stop(self):
        """SIGINT: rtpproxy stops its workers before it closes its ports. Exit code."""
        if not hasattr(self, "p"):
            return None
        end(self.p, signal.SIGINT, 60)
        return self.p.returncode
