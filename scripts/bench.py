#!/usr/bin/python3
"""The benchmark of issue 5 (docs/PERFORMANCE.md explains the rig and every figure).

  sudo scripts/bench.sh [--quick] [--build-dir DIR] [--out FILE] [--cases A,B,...]

--cases runs only those (reference, udp-1, udp-1000, udp-1000-bidir, udp-100000, udp-1000000,
udp-N-bidir, udp6-1000, udp-4to6-1000, vlan-1000, control); the ratios need the reference (and
for the last three udp-1000) in the same run.
--quick (a few minutes): reference forwarder, rtpproxy with 1 and 1 000 sessions (and 1 000
bidirectional), 1 000 sessions IPv6 -> IPv6, IPv4 -> IPv6 and VLAN 100 -> 200, control plane.
Full (about 10-15 minutes): the same with longer trials, plus 100 000 and 1 000 000 sessions,
each one-way and bidirectional. An appliance that refuses IPv6 (or VLAN) configuration or
sessions has those cases skipped, with its reason in the table. Both end by writing
bench-results.json (a JSON array, one object per case) in the current directory and printing a
table; logs, rtpgen's raw JSON and perf profiles stay in BUILD_DIR/bench-logs/.

The rig (docs/TESTING.md, "Benchmarks are not tests"): two cores, two busy processes.
  rtpgen (lcore on cpu 0)  memif m0 (gen port0 -> DUT port0)  DUT worker on cpu 1
                           memif m1 (DUT port1 -> gen port1)
The DUT is dpdk-testpmd --forward-mode=io (the reference) or rtpproxy (in a private network
namespace, for its TAP exception interfaces). One rtpgen --serve per DUT lifetime takes every
run of the case as a line on its stdin; the DUT is stopped before it (a memif client leaving a
running DPDK 22.11 memif server can crash it), and a DUT that exits fails its case. Before the
rig, bench_worker measures the worker's cycles per packet in process.
Hugepages are reserved on a private hugetlbfs mount and given back on exit, whatever happens;
every process is ours, by pid, and every run is bounded in time, the whole run too (15 min
quick, 60 min full). Addresses are 198.18.0.0/15 only; memif is shared memory on this machine
only. Not a test: never run from meson test or CI.

Files: this one (the command line, the rig's set-up, the cases), bench_rig.py (the processes:
rtpgen --serve, testpmd, rtpproxy), bench_results.py (pure: parsing, figures, the JSON, the
table; tests/unit/test_bench_py.py checks it). Python 3 standard library only.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_results as res  # noqa: E402
from bench_results import BenchError, spread, streams_args, session_parts  # noqa: E402
from bench_rig import (S, L, log, DUT_CPU, MAC_DUT1, Testpmd, Rtpproxy, running,  # noqa: E402
                       run_gen, wait_for, cpu_busy, cpu_ticks, thread_ctxsw, end_all,
                       netns_ipv6, dut_refusal)

WARM = 0.5                                  # s of traffic before a run counts
LAT_RUNS = 3
MAX_RUNS = 5
CTL_CONC = [(8, 1), (16, 2), (32, 2)]       # (calls in flight, client threads)
PROBE_NEAR_US = 1.0
FULL_SIZES = [1, 1000, 100000, 1000000]
TOOLS = ["dpdk-testpmd", "meson", "ninja", "ip", "mount", "/usr/bin/python3"]
TARGETS = ["app/rtpproxy", "app/rtpgen/rtpgen", "control/rtpproxyctl",
           "tests/bench/bench_worker"]


def case_names():
    """Every case a run can have (--cases picks among them)."""
    return (["reference"] + [f"udp-{n}" for n in FULL_SIZES] +
            [f"udp-{n}-bidir" for n in FULL_SIZES] + list(res.VARIANTS) + ["control"])


def timings(quick):
    """The mode's durations (s) and bounds: each max run, zero-loss step and latency run; the
    zero-loss steps; the placement gate's tries and total waiting; hugepages; the run's time
    limit; bench_worker's packets; the control case's sessions per sweep."""
    if quick:
        return dict(d_max=1.5, d_step=2.0, steps=5, d_lat=2.0, d_prof=2.0, gate_tries=10,
                    gate_budget=90, pages=1024, limit=900, worker_pkts=5000000,
                    ctl_sessions=20000)
    return dict(d_max=2.0, d_step=3.0, steps=6, d_lat=3.0, d_prof=3.0, gate_tries=20,
                gate_budget=300, pages=3072, limit=3600, worker_pkts=20000000,
                ctl_sessions=30000)


def parse_args(argv, prog="scripts/bench.sh"):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                                epilog=__doc__.split("\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="short trials; reference, 1 and 1 000 sessions, control plane")
    p.add_argument("--build-dir", metavar="DIR",
                   help="release build to use (made if missing); default ROOT/build-bench")
    p.add_argument("--out", metavar="FILE", default="bench-results.json",
                   help="the results (default: bench-results.json in the current directory)")
    p.add_argument("--cases", metavar="A,B,...", default="",
                   help="only these cases: " + ", ".join(case_names()))
    a = p.parse_args(argv)
    a.cases = [c for c in a.cases.split(",") if c]
    bad = [c for c in a.cases if c not in case_names()]
    if bad:
        p.error(f"--cases: unknown case {', '.join(bad)} (known: {', '.join(case_names())})")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    a.root = root
    a.build_dir = os.path.realpath(a.build_dir or f"{root}/build-bench")
    a.out = os.path.realpath(a.out)
    return a


# ---------------------------------------------------------------- before the rig

def die(msg):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)


def check_host():
    if os.geteuid() != 0:
        die("needs root (hugepages, a network namespace for rtpproxy's TAPs)")
    if (os.cpu_count() or 1) < 2:
        die("needs 2 cpus (generator on cpu 0, DUT worker on cpu 1)")
    for tool in TOOLS:
        if not shutil.which(tool):
            die(f"{tool} not found (scripts/bootstrap.sh installs the packages)")


def build(root, build_dir):
    """A release build in its own directory: made once, brought up to date every run."""
    if not os.path.isfile(f"{build_dir}/build.ninja"):
        r = subprocess.run(["meson", "setup", "--buildtype=release", build_dir, root],
                           stdout=subprocess.DEVNULL)
        if r.returncode != 0:
            die(f"meson setup --buildtype=release {build_dir} failed")
    r = subprocess.run(["ninja", "-C", build_dir, *TARGETS], stdout=subprocess.DEVNULL)
    if r.returncode != 0:
        die(f"build failed: ninja -C {build_dir}")


def read_tsc_hz():
    try:
        dmesg = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        dmesg = ""
    with open("/proc/cpuinfo") as f:
        return res.tsc_hz(dmesg, f.read())


def configure(a, prog):
    """S: the run's settings; its private directory, prefix and namespace (by our pid)."""
    S.root, S.build, S.out, S.quick, S.cases = a.root, a.build_dir, a.out, a.quick, a.cases
    S.command = prog + "".join(f" {x}" for x in sys.argv[1:])
    S.__dict__.update(timings(a.quick))
    S.tmp = tempfile.mkdtemp(prefix="rtpbench.", dir="/tmp")
    S.pfx = f"rpb{os.getpid()}"        # DPDK --file-prefix stem, netns name, TAP names
    S.ns = S.pfx
    S.huge = f"{S.tmp}/huge"
    S.huge_state = f"{S.tmp}/huge.state"
    S.netns_made = False
    S.logs = f"{S.build}/bench-logs"
    S.rsize = int(os.environ.get("BENCH_RSIZE", "12"))   # memif rings of 4096 slots (log2)
    S.rtpgen = f"{S.build}/app/rtpgen/rtpgen"
    S.rtpproxy = f"{S.build}/app/rtpproxy"
    S.ctl = f"{S.build}/control/rtpproxyctl"
    S.bench_worker = f"{S.build}/tests/bench/bench_worker"
    S.testpmd = shutil.which("dpdk-testpmd")
    S.perf = shutil.which("perf")
    S.grpc = f"unix:{S.tmp}/grpc.sock"
    S.hz = read_tsc_hz()


def run_bench_worker():
    """bench_worker (tests/bench/bench_worker.c): the worker's cycles per packet in process,
    1 000 and 1 000 000 forward flows, on the DUT's cpu, before the rig (no hugepages, no
    generator). {flows: its JSON answer}; a failure is reported, not fatal. It exits non-zero
    when a flow's counters are wrong but still prints its figures ("ok": false): kept."""
    out = {}
    for n in (1000, 1000000):
        log(f"bench_worker --flows {n} (in process, no rig)")
        try:
            r = subprocess.run([S.bench_worker, "--flows", str(n), "--packets",
                                str(S.worker_pkts), "--cpu", str(DUT_CPU), "--json"],
                               capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            log(f"bench_worker --flows {n} failed: {e}")
            continue
        if r.returncode != 0:
            log(f"bench_worker --flows {n} failed: "
                + " | ".join(r.stderr.strip().splitlines()[-3:]))
        try:
            out[n] = json.loads(r.stdout)
        except ValueError:
            pass
    return out


# ---------------------------------------------------------------- the rig

def rig_up():
    """Hugepages on a private mount (scripts/hugepages.sh: only what is missing is added), the
    namespace rtpproxy runs in, an empty log directory."""
    subprocess.run([f"{S.root}/scripts/hugepages.sh", "reserve", str(S.pages), S.huge,
                    S.huge_state], check=True)
    subprocess.run(["ip", "netns", "add", S.ns], check=True)
    S.netns_made = True
    # no IPv6 on the TAPs rtpproxy creates: router solicitations would only add exception
    # traffic
    subprocess.run(["ip", "netns", "exec", S.ns, "sysctl", "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1"], check=True)
    subprocess.run(["ip", "netns", "exec", S.ns, "ip", "link", "set", "lo", "up"], check=True)
    shutil.rmtree(S.logs, ignore_errors=True)
    os.makedirs(S.logs)


def rig_down():
    """Undo everything, whatever happened: our processes, the namespace, the hugepages, DPDK's
    run files, the private directory. Never raises."""
    for step in (end_all,
                 lambda: S.netns_made and subprocess.run(["ip", "netns", "del", S.ns],
                                                         stderr=subprocess.DEVNULL),
                 lambda: subprocess.run([f"{S.root}/scripts/hugepages.sh", "release",
                                         S.huge_state]),
                 rm_dpdk_run_files,
                 lambda: shutil.rmtree(S.tmp, ignore_errors=True)):
        try:
            step()
        except Exception as e:         # the other steps still run
            log(f"clean-up: {e}")


def rm_dpdk_run_files():
    """DPDK's runtime directories of our --file-prefix (/var/run/dpdk/PFX-*)."""
    if os.path.isdir("/var/run/dpdk"):
        for d in os.listdir("/var/run/dpdk"):
            if d.startswith(f"{S.pfx}-"):
                shutil.rmtree(f"/var/run/dpdk/{d}", ignore_errors=True)


def on_signal(sig, frame):
    if sig == signal.SIGALRM:
        log(f"time limit {S.limit}s reached, stopping")
        sig = signal.SIGTERM
    raise SystemExit(128 + sig)


# ---------------------------------------------------------------- runs of the generator

def placement_gate():
    """This VM's two vCPUs sometimes sit on host cores that share an L3 and sometimes not (the
    host moves them, every few tens of seconds to minutes): a cache line between them then
    takes ~350 ns instead of ~100, and memif (shared memory between the two cores) forwards
    about 3x slower, for the reference and the DUT alike. A short probe (one stream, 200 kpps)
    tells: its minimum latency through the DUT is ~0.45 us near, ~1.3 us apart. Wait (bounded)
    until they are near, so that every measured run sees the same rig."""
    # bounded: gate_tries probes per run, and gate_budget seconds of waiting in the whole run
    tries = S.gate_tries if L.gate_waited < S.gate_budget else 1
    t0 = time.time()
    for i in range(tries):
        g = run_gen("probe", ["--streams", 1, "--dst-base", "198.18.1.10", "--dst-addrs", 1,
                              "--dst-port-base", 1024, "--rate", 200000, "--duration", 0.3,
                              "--warmup", 0.1])
        if g["rx_pkts"] > 0 and g["lat_min_us"] < PROBE_NEAR_US:
            L.gate_waited += time.time() - t0 if i else 0
            return True, g["lat_min_us"]
        if i == 0:
            log(f"vCPUs apart (probe: min latency {g['lat_min_us']:.2f} us): waiting, up to "
                f"{tries} probes, 2 s apart")
        time.sleep(2)
    L.gate_waited += time.time() - t0
    log(f"vCPUs still apart after {tries} probe(s): measuring anyway (flagged)")
    return False, g["lat_min_us"]


def note_placement(g, what, near, lat_min):
    g["near"], g["probe_min_us"] = near, lat_min
    if not near:
        L.far_runs.append(f"{L.case}/{what}")
    return g


def run_gated(what, args, limit=None):
    near, lat_min = placement_gate()
    return note_placement(run_gen(what, args, limit), what, near, lat_min)


def create_sessions(n, bidir):
    """rtpgen creates the sessions (and keeps them), in the parts of session_parts(n), part j
    with forward address 198.18.2.(10 + j). Returns creates/s as rtpgen measured it."""
    made, secs = 0, 0.0
    for j, k in session_parts(n):
        args = ["--streams", k, "--dst-base", f"198.18.1.{10 + j}", "--dst-addrs", 1,
                "--dst-port-base", 1024, "--fwd-addr", f"198.18.2.{10 + j}",
                "--create-sessions", S.grpc, "--keep-sessions", "--session-prefix", f"b{j}-",
                "--rpc-threads", 8, "--count", k, "--duration", 5]
        if bidir:
            args += ["--bidirectional", "--fwd-port-base", 1024]
        g = run_gen(f"create{j}", args, limit=120 + k / 200)
        if g.get("sessions_created") != k:
            raise BenchError(f"rtpgen created {g.get('sessions_created')} of {k} sessions")
        made += k
        secs += k / g["creates_per_s"] if g.get("creates_per_s") else 0
    return made / secs if secs > 0 else None


def perf_report(pdata, *opts):
    return subprocess.run([S.perf, "report", "-i", pdata, "--stdio", "-q", *opts],
                          capture_output=True, text=True, timeout=120).stdout


def profile(dut, streams, name):
    """perf (cpu-clock samples, no PMU needed) on the DUT worker's cpu while rtpgen sends at
    max: what share of the worker's time is the memif PMD (its DSO, plus mempool/ring)."""
    if not S.perf:
        return None
    pdata = f"{S.logs}/perf-{name}.data"
    run = L.gen.send("profile", streams + ["--duration", S.d_prof + 1.5, "--warmup", WARM])
    try:
        s0 = dut.stats()
        wait_for(lambda: dut.stats()["relayed"] > s0["relayed"] + 100000, 20, "traffic")
        rec = subprocess.run([S.perf, "record", "-q", "-e", "cpu-clock", "-C", str(DUT_CPU),
                              "-o", pdata, "--", "sleep", str(S.d_prof)],
                             capture_output=True, timeout=S.d_prof + 30)
    finally:
        L.gen.finish(run)
    if rec.returncode != 0:
        return None
    sel = ["--pid", str(dut.pid), "--comm", dut.worker_comm, "--percentage", "relative"]
    rep = perf_report(pdata, "--sort", "dso", *sel)
    syms = perf_report(pdata, "--sort", "dso,sym", *sel)
    with open(f"{S.logs}/perf-{name}.txt", "w") as f:
        f.write(rep + "\n" + "\n".join(syms.splitlines()[:60]) + "\n")
    return res.pmd_share(rep)


def max_run_sampled(dut, what, args):
    """A max-load run while GetProxyStats is sampled every 300 ms (from cpu 0): cycles per
    packet come from the samples taken while traffic flowed (res.sampled_cycles)."""
    dut.stats()
    near, lat_min = placement_gate()
    run = L.gen.send(what, args)
    snaps = []
    while True:
        s = dut.try_stats()
        if s is not None:
            snaps.append(s)
        g = L.gen.poll(run, 0.3)
        if g is not None:
            break
    note_placement(g, what, near, lat_min)
    g.update(res.sampled_cycles(snaps, S.hz))
    return g


def max_runs(name, dut, streams):
    """MAX_RUNS runs at max offered load. More than one because this VM's two vCPUs are
    sometimes on cores that share an L3 and sometimes not (see placement_gate)."""
    L.case = name
    out = []
    log(f"{name}: max offered load, {MAX_RUNS} x {S.d_max:g} s")
    for i in range(MAX_RUNS):
        args = streams + ["--duration", S.d_max, "--warmup", WARM]
        if dut.kind == "rtpproxy":
            g = max_run_sampled(dut, f"max{i}", args)
        else:
            g = run_gated(f"max{i}", args)
        g["limited_by"] = res.limited_by(g)
        out.append(g)
    return out


def latency_runs(name, dut, streams, mpps_max):
    """LAT_RUNS runs at 50 % of max; the runs and the CPU share of the DUT's threads but the
    worker (control lcore, gRPC, TCP relay: they share cpu 0 with the generator, so their
    bursts of work delay what the generator receives)."""
    rate = int(0.5 * mpps_max * 1e6)
    if rate < 1000:
        raise BenchError(f"{name}: nothing came back through the DUT at max load")
    log(f"{name}: latency at 50% of max ({rate / 1e6:.3f} Mpps), {LAT_RUNS} x {S.d_lat:g} s")
    runs = []
    c0, t0 = cpu_ticks(dut.pid, dut.worker_comm), time.time()
    for i in range(LAT_RUNS):
        runs.append(run_gated(f"lat50-{i}", streams + ["--rate", rate, "--duration", S.d_lat,
                                                       "--warmup", WARM]))
    c1 = cpu_ticks(dut.pid, dut.worker_comm)
    d = res.delta_or_none(c0, c1)
    return runs, round(100 * d / (time.time() - t0), 2) if d is not None else None


def measure(name, dut, streams, sessions, bidir):
    """A case's figures: max runs, (rtpproxy) the worker's profile, the zero-loss search,
    latency at 50 %, the worker's preemptions and the generator's longest stall."""
    r = {"case": name, "sessions": sessions, "bidirectional": bidir}
    rtp = dut.kind == "rtpproxy"
    csw0 = thread_ctxsw(dut.pid, dut.worker_comm)
    runs = max_runs(name, dut, streams)
    r.update(res.max_fields(runs, rtp))
    if rtp:
        log(f"{name}: perf profile of the worker at max load")
        try:
            share = profile(dut, streams, name)
        except BenchError as e:
            log(f"{name}: profile skipped: {e}")
            share = None
        r.update(res.pmd_fields(r["cycles_per_pkt"], share))

    log(f"{name}: zero-loss search")
    r["mpps_zero_loss"], r["zero_loss_trials"] = res.zero_loss_search(
        res.median_run(runs), S.steps,
        lambda i, rate: run_gated(f"zl{i}", streams + ["--rate", int(rate * 1e6),
                                                       "--duration", S.d_step,
                                                       "--warmup", WARM]))
    lat, r["dut_other_threads_cpu_pct"] = latency_runs(name, dut, streams, r["mpps_max"])
    r.update(res.latency_fields(lat))
    r["dut_worker_preempted"] = res.delta_or_none(csw0, thread_ctxsw(dut.pid, dut.worker_comm))
    r["gen_max_stall_us"] = max(x["loop_max_gap_us"] for x in runs + lat)
    return r


# ---------------------------------------------------------------- the cases

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
            again["mpps_max"] = res.median_of_runs(again["mpps_max_runs"])
            return again
        r = measure("reference", dut, streams_args(1000), 1000, False)
        r["dut"] = "dpdk-testpmd --forward-mode=io"
        r["cpu_busy_before_pct"] = round(busy, 1)
        return r


def reverse_run(name, n):
    """The reverse direction: from the destination (rtpgen's port1, 198.18.2.2:40000+2i) to
    the forward endpoints (198.18.2.10:1024+2i), relayed to the latched client."""
    log(f"{name}: reverse direction at max offered load")
    g = run_gated("reverse", ["--tx-port", 1, "--rx-port", 0, "--dst-mac", MAC_DUT1,
                              "--src", "198.18.2.2", "--src-port-base", 40000,
                              "--streams", n, "--dst-base", "198.18.2.10",
                              "--dst-addrs", 1, "--dst-port-base", 1024,
                              "--duration", S.d_max, "--warmup", WARM])
    return {"reverse_mpps_max": g["rx_mpps"], "reverse_lost_at_max": g["lost"]}


def run_udp(n, bidir, mem_base, base_out=None):
    """rtpproxy with n sessions made by rtpgen (bidir: bidirectional, latched); base_out, if
    given, gets the memory of the DUT with none ("mem"), the others' baseline."""
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
        r = measure(name, dut, streams_args(n), n, bidir)
        r["rtpgen_creates_per_s"] = cps
        r["cpu_busy_before_pct"] = round(busy, 1)
        r["dut_idle_iteration_cycles"] = round(dut.idle_cycles, 1)
        r.update(res.memory_fields(n, mem0, mem1, mem_base))
        if bidir and spread(n) > 1:
            # rtpgen's source port for stream i is 40000 + 2i, but a session made in part j
            # of create_sessions has destination port 40000 + 2 * (its index in the part)
            log(f"{name}: reverse direction not measured (sessions spread over addresses)")
        elif bidir:
            r.update(reverse_run(name, n))
        return r


def run_variant(name, n=1000):
    """A VARIANTS case: udp-1000 with one thing changed (the address family of one or both
    sides, or 802.1Q tags), measured the same way; its ratio to udp-1000 comes at the end. The
    appliance refusing its configuration or its sessions skips it (not a failure)."""
    what, extra, variant = res.VARIANTS[name]
    dut = Rtpproxy(name, max_sessions=n, variant=variant)
    log(f"{name}: rtpproxy, {what}, {n} sessions")
    started = False
    L.gen_extra = list(extra)
    try:
        if variant == "ipv6":
            netns_ipv6(True)
        busy = cpu_busy(0.5)
        with running(dut, name):
            started = True
            try:
                cps = create_sessions(n, False)
            except BenchError as e:
                return res.skipped(name, f"the appliance refuses these sessions: {e}")
            st = dut.stats()
            if st["sessions_active"] != n:
                raise BenchError(f"{st['sessions_active']} sessions active, wanted {n}")
            r = measure(name, dut, streams_args(n), n, False)
            r["variant"] = what
            r["rtpgen_creates_per_s"] = cps
            r["cpu_busy_before_pct"] = round(busy, 1)
            r["dut_idle_iteration_cycles"] = round(dut.idle_cycles, 1)
            return r
    except BenchError as e:
        if not started and "exited at start" in str(e):
            return res.skipped(name, f"the appliance refuses its configuration ({what}): "
                               f"{dut_refusal(name)}")
        raise
    finally:
        L.gen_extra = []
        if variant == "ipv6":
            netns_ipv6(False)


def ctl_bench(args, tag):
    cmd = [S.ctl, "--server", S.grpc, "--json", "bench", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    with open(f"{S.logs}/ctl-bench-{tag}.log", "w") as f:
        f.write(" ".join(cmd) + f"\n\nexit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return res.parse_ctl_bench(r.stdout, r.stderr, tag)


def ctl_sweep(present, tag):
    """One row per CTL_CONC client count (res.mark_headline picks the headline)."""
    m, rows = S.ctl_sessions, []
    for c, th in CTL_CONC:
        log(f"control: {m} CreateSession + DestroySession, {c} in flight from {th} "
            f"thread(s), {present} present")
        d = ctl_bench(["--sessions", m, "--concurrency", c, "--threads", th, "--listen",
                       ",".join(f"198.18.1.{10 + i}" for i in range(4)),
                       "--forward", "198.18.2.10", "--port-base", 1024,
                       "--prefix", f"{tag}c{c}"], f"{tag}-c{c}")
        rows.append(res.control_row(d, present, m, c, th))
    return rows


def profile_control(dut, concurrency):
    """Where the control lcore's time goes (both cpus: the client threads too)."""
    log("control: perf profile of a create/destroy round")
    pdata = f"{S.logs}/perf-control.data"
    subprocess.run([S.perf, "record", "-q", "-e", "cpu-clock", "-a", "-o", pdata, "--",
                    S.ctl, "--server", S.grpc, "--json", "bench",
                    "--sessions", str(S.ctl_sessions), "--concurrency", str(concurrency),
                    "--listen", ",".join(f"198.18.1.{10 + i}" for i in range(4)),
                    "--forward", "198.18.2.10", "--port-base", "1024",
                    "--prefix", "prof"], capture_output=True, timeout=300)
    rep = perf_report(pdata, "--sort", "cpu,comm", "--percentage", "relative")
    syms = perf_report(pdata, "--pid", str(dut.pid), "--sort", "comm,dso,sym")
    with open(f"{S.logs}/perf-control.txt", "w") as f:
        f.write(rep + "\n" + "\n".join(syms.splitlines()[:70]) + "\n")


def run_control():
    """CreateSession/s and latency from rtpproxyctl bench (C calls in flight from T client
    threads, one channel each), with 0 and with 100 000 sessions present, for each CTL_CONC
    (the best is the headline). No traffic here, so the worker naps when idle
    (idle_sleep_us 50): with a busy-polling worker the control lcore and the client would
    share the one cpu left, where in production the client is another machine."""
    dut = Rtpproxy("control", max_sessions=100000 + S.ctl_sessions + 1000, idle_sleep_us=50)
    log("control: rtpproxy for the control-plane figures")
    out = []
    with running(dut, "control", gen=False):
        rows = ctl_sweep(0, "e")
        res.mark_headline(rows)
        out += rows
        log("control: filling the table with 100 000 sessions (kept)")
        fill = [ctl_bench(["--sessions", 25000, "--concurrency", 8,
                           "--listen", f"198.18.1.{14 + j}",
                           "--forward", f"198.18.2.{14 + j}", "--port-base", 1024,
                           "--prefix", f"f{j}", "--keep"], f"fill{j}") for j in range(4)]
        present = dut.stats()["sessions_active"]
        if present != 100000:
            raise BenchError(f"{present} sessions present after the fill, wanted 100000")
        rows = ctl_sweep(present, "f")
        best = res.mark_headline(rows)
        best["fill_creates_per_s"] = res.fill_rate(fill, 25000)
        out += rows
        if S.perf:
            profile_control(dut, best["concurrency"])
    return out


# ---------------------------------------------------------------- the run and its results

def machine():
    """What the figures were measured on, and when."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines()
                  if l.startswith("Model name:")), "?")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"cpu": model, "cpus": os.cpu_count(),
            "kernel": os.uname().release, "tsc_mhz": round(S.hz / 1e6, 1),
            "dpdk": subprocess.run(["pkg-config", "--modversion", "libdpdk"],
                                   capture_output=True, text=True).stdout.strip(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": S.command, "loadavg_before": load}


def warn_if_busy(meta):
    busy = cpu_busy()
    meta["cpu_busy_before_pct"] = round(busy, 1)
    log(f"{meta['cpu']}, {meta['cpus']} cpus, kernel {meta['kernel']}, "
        f"TSC {S.hz / 1e6:.1f} MHz")
    if busy > 5:
        top = subprocess.run(["ps", "-eo", "pcpu,pid,comm", "--sort=-pcpu"], capture_output=True,
                             text=True).stdout.splitlines()[1:6]
        log(f"WARNING: the cpus are {busy:.0f}% busy before we start: the figures may be "
            "disturbed. Busiest: " + "; ".join(" ".join(l.split()) for l in top))


def run_cases():
    """Every case of the mode (or of --cases), in order; a case that fails is recorded as
    {"case", "error"} and the others go on. The reference runs again at the end and the
    ratios use both of its sets of runs."""
    results = []

    def attempt(name, fn):
        if S.cases and name not in S.cases:
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
    base = {}          # memory of rtpproxy sized for one session, with none: udp-1's start
    sizes = [1, 1000] if S.quick else FULL_SIZES
    for n in sizes:
        got = attempt(f"udp-{n}", lambda: run_udp(n, False, base.get("mem"),
                                                  base if n == 1 else None))
        if got:
            results.append(got)
    for n in [1000] if S.quick else sizes:
        got = attempt(f"udp-{n}-bidir", lambda: run_udp(n, True, base.get("mem")))
        if got:
            results.append(got)
    for name in res.VARIANTS:
        got = attempt(name, lambda: run_variant(name))
        if got:
            results.append(got)
    ctl = attempt("control", run_control)
    if ctl:
        results.extend(ctl)
    if ref:
        attempt("reference", lambda: run_reference(again=ref))
        res.add_ratios(results, ref)
    res.add_variant_ratios(results)
    return results


def write_results(results, meta, inproc):
    """bench_worker's figures merged, OUT (the JSON array), LOGS/meta.json, the table printed
    and kept. Exit status: 1 if a case failed."""
    res.merge_inproc(results, inproc)
    meta["worker_inproc"] = {str(n): j for n, j in inproc.items()}
    for n, j in inproc.items():
        with open(f"{S.logs}/bench_worker-{n}.json", "w") as f:
            json.dump(j, f, indent=1)
    meta["dut_exits"] = L.dut_exits
    meta["runs_with_vcpus_apart"] = L.far_runs
    meta["seconds_waited_for_vcpus"] = round(L.gate_waited)
    meta["cpu_busy_after_pct"] = round(cpu_busy(), 1)
    with open("/proc/loadavg") as f:
        meta["loadavg_after"] = f.read().split()[:3]
    with open(S.out, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    with open(f"{S.logs}/meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    text = res.table(results, meta)
    with open(f"{S.logs}/table.txt", "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"\nwrote {S.out}; logs in {S.logs}")
    return 1 if any("error" in r for r in results) else 0


def main(argv=None):
    prog = os.environ.get("BENCH_PROG", "scripts/bench.py")
    a = parse_args(sys.argv[1:] if argv is None else argv, prog)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(sig, on_signal)
    check_host()
    build(a.root, a.build_dir)
    configure(a, prog)
    try:
        inproc = run_bench_worker()
        try:
            rig_up()
        except (OSError, subprocess.CalledProcessError) as e:
            log(f"setting up the rig failed: {e}")
            return 1
        signal.alarm(S.limit)          # the whole run is bounded: past it, SIGALRM stops it
        meta = machine()
        warn_if_busy(meta)
        return write_results(run_cases(), meta, inproc)
    finally:
        signal.alarm(0)
        for sig in (signal.SIGINT, signal.SIGTERM):   # the clean-up is bounded: let it end
            signal.signal(sig, signal.SIG_IGN)
        rig_down()


if __name__ == "__main__":
    sys.exit(main())
