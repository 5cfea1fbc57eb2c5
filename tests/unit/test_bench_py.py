#!/usr/bin/python3
"""bench_py: the benchmark driver (scripts/bench.py, bench_rig.py, bench_results.py) without
root, DPDK or a single process of the rig. Every file compiles and `bash -n scripts/bench.sh`
passes; importing them starts nothing; what they parse (rtpgen's answers, rtpproxyctl's stats
and bench JSON, dmesg, smaps, /proc stat lines, perf reports) and compute (the zero-loss search,
cycles per packet from stats samples, medians, bytes per session, ratios) is checked against
known values; then a whole --quick run of the cases with fake DUTs and a fake generator whose
answers are known: every figure of bench-results.json is what those answers imply, and each
case has exactly the keys of the same case in docs/bench-results-2026-11-27.json.

usage: test_bench_py.py [SCRIPTS_DIR]      prints "bench_py: N passed, M failed"
"""
import contextlib
import io
import json
import os
import py_compile
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True          # nothing written into the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "scripts")
DOC_RESULTS = os.path.join(SCRIPTS, "..", "docs", "bench-results-2026-11-27.json")
sys.path.insert(0, HERE)
from checks import check, eq, summary  # noqa: E402


def raises(fn, exc, text=""):
    try:
        fn()
    except exc as e:
        return text in str(e)
    return False


def check_files():
    with tempfile.TemporaryDirectory() as d:
        for f in ("bench.py", "bench_rig.py", "bench_results.py"):
            try:
                py_compile.compile(os.path.join(SCRIPTS, f), cfile=f"{d}/{f}c", doraise=True)
                check(True, f"{f} compiles")
            except py_compile.PyCompileError as e:
                check(False, f"{f} compiles", str(e))
    r = subprocess.run(["bash", "-n", os.path.join(SCRIPTS, "bench.sh")], capture_output=True,
                       text=True)
    eq(r.returncode, 0, "bash -n scripts/bench.sh")


# ---------------------------------------------------------------- the pure pieces

def check_parsing(res):
    dmesg = ("[0.0] tsc: Detected 2595.124 MHz processor\n"
             "[1.2] tsc: Refined TSC clocksource calibration: 2595.000 MHz\n")
    eq(res.tsc_hz(dmesg, ""), 2595.0e6, "TSC: the refined calibration wins")
    eq(res.tsc_hz(dmesg.splitlines()[0], ""), 2595.124e6, "TSC: else the detected one")
    eq(res.tsc_hz("", "model name : x\ncpu MHz\t\t: 2400.5\n"), 2400.5e6,
       "TSC: else /proc/cpuinfo")
    eq(res.tsc_hz("", ""), None, "TSC: nothing known")

    g = res.parse_gen_answer('{"rx_mpps": 1.5, "lost": 0}', "001-gen-max0.log")
    eq(g, {"rx_mpps": 1.5, "lost": 0}, "rtpgen answer parsed")
    check(raises(lambda: res.parse_gen_answer('{"error": "link down"}', "007-x.log"),
                 res.BenchError, "rtpgen (007-x.log): link down"), "rtpgen error answer")
    check(raises(lambda: res.parse_gen_answer("EAL: oops", "8"), res.BenchError,
                 "not JSON: EAL: oops"), "rtpgen answer that is not JSON")
    check(raises(lambda: res.parse_gen_answer("[1]", "9"), res.BenchError, "not a JSON object"),
          "rtpgen answer that is not an object")
    check(res.testpmd_forwarding("Start ...\nPress enter to exit\n"), "testpmd forwarding")
    check(not res.testpmd_forwarding("Configuring Port 0\n"), "testpmd not yet forwarding")

    stats = json.dumps({"uptime_ms": "1500", "sessions_active": 7,
                        "workers": [{"relayed": "10", "iterations": 100, "busy_iterations": 5,
                                     "busy_cycles": "4000"},
                                    {"relayed": 32, "iterations": 50, "busy_cycles": 1000}],
                        "drops": {"no_flow": "3", "malformed": 1}})
    eq(res.parse_ctl_stats(stats),
       {"uptime_ms": 1500, "relayed": 42, "iterations": 150, "busy": 5, "busy_cycles": 5000,
        "sessions_active": 7, "drops": {"no_flow": 3, "malformed": 1}},
       "rtpproxyctl stats: workers summed, strings as numbers")
    eq(res.parse_ctl_stats("{}")["relayed"], 0, "rtpproxyctl stats: no workers")

    out = 'connecting\n{"creates_per_s": 21000.5, "errors": 0}\n'
    eq(res.parse_ctl_bench(out, "", "e-c8")["creates_per_s"], 21000.5, "ctl bench JSON line")
    check(raises(lambda: res.parse_ctl_bench('{"errors": 3}', "", "e-c8"), res.BenchError,
                 "3 errors, see ctl-bench-e-c8.log"), "ctl bench with failed calls")
    check(raises(lambda: res.parse_ctl_bench("", "x" * 400 + "refused\n", "t"), res.BenchError,
                 "rtpproxyctl bench failed: " + "x" * 293 + "refused"), "ctl bench without JSON")

    smaps = ["7f00-7f10 rw-s 0 00:01 5 /memfd:memif_region_0 (deleted)\n", "Size: 64 kB\n",
             "Rss:  48 kB\n", "7f10-7f20 rw-p 0 00:00 0\n", "Rss: 1000 kB\n",
             "7f20-7f30 rw-s 0 00:01 6 /memfd:memif_region_1 (deleted)\n", "Rss: 16 kB\n"]
    eq(res.memif_rss_bytes(smaps), 64 * 1024, "memif regions' RSS from smaps")
    stat = "4242 (rte (x) 1) S 1 2 3 0 -1 4194560 10 0 0 0 700 45 0 0 20 0 3 0 1"
    eq(res.thread_ticks(stat), ("rte (x) 1", 745), "thread stat: comm with ')', utime + stime")
    eq(res.involuntary_switches("voluntary_ctxt_switches:\t9\nnonvoluntary_ctxt_switches:\t17\n"),
       17, "involuntary context switches")
    perf = ("    61.20%  librte_net_memif.so.23.0  \n    20.00%  rtpproxy\n"
            "     5.30%  librte_mempool.so.23.0\n     3.50%  librte_ring.so.23\n"
            "    10.00%  [kernel.kallsyms]\n")
    check(abs(res.pmd_share(perf) - 0.70) < 1e-9, "PMD share of a perf dso report",
          str(res.pmd_share(perf)))


def check_figures(res):
    eq((res.spread(32000), res.spread(32001)), (1, 32), "one address up to 32 000 sessions")
    eq(res.session_parts(1000), [(0, 1000)], "1 000 sessions: one part")
    parts = res.session_parts(1000000)
    eq((len(parts), parts[0], parts[-1]), (32, (0, 31250), (31, 31250)), "1M: 32 parts")
    check(raises(lambda: res.session_parts(1000001), res.BenchError, "multiple of 32"),
          "sessions that cannot be split evenly")
    eq(res.streams_args(1000000), ["--streams", 1000000, "--dst-base", "198.18.1.10",
                                   "--dst-addrs", 32, "--dst-port-base", 1024], "streams of 1M")
    eq(res.limited_by({"tx_dropped": 51, "tx_pkts": 1000}), "dut", "limited by the DUT")
    eq(res.limited_by({"tx_dropped": 50, "tx_pkts": 1000}), "generator", "limited by rtpgen")
    eq(res.median_run([{"rx_mpps": v} for v in (3, 1, 2, 5, 4)])["rx_mpps"], 3, "median run")

    def trial(i, rate):          # a DUT that forwards up to 1.3 Mpps without loss
        ok = rate <= 1.3
        return {"rx_mpps": rate if ok else 1.3, "tx_mpps": rate, "lost": 0 if ok else 9,
                "rx_pkts": 10, "tx_pkts": 10 if ok else 19}
    best, trials = res.zero_loss_search({"lost": 5, "rx_pkts": 1, "tx_pkts": 2, "tx_mpps": 2.0,
                                         "rx_mpps": 1.3}, 5, trial)
    eq(best, 1.25, "zero-loss: the highest rate that lost nothing")
    eq([(t["rate_mpps"], t["ok"]) for t in trials],
       [(1.0, True), (1.5, False), (1.25, True), (1.375, False), (1.3125, False)],
       "zero-loss: the bisection's trials")
    eq(res.zero_loss_search({"lost": 0, "rx_pkts": 5, "tx_pkts": 5, "tx_mpps": 2, "rx_mpps": 1.9},
                            5, None), (1.9, []), "zero-loss: no search after a clean max run")
    check(not res.zero_loss_ok({"lost": 0, "rx_pkts": 5, "tx_pkts": 5, "tx_mpps": 0.97}, 1.0),
          "zero-loss: an offered rate below 98 % does not count")

    snaps = [{"relayed": r, "uptime_ms": 300 * i, "iterations": 1000 * i, "busy": 500 * i,
              "busy_cycles": 4000 * r // 100, "drops": {"no_flow": 2 * i}}
             for i, r in enumerate((0, 100, 1100, 2100, 2200, 2200))]
    g = res.sampled_cycles(snaps, 2.6e9)
    # inside the traffic: samples 1..3 (relayed 100 -> 2100 over 0.6 s)
    eq(g["cycles_per_pkt"], 40.0, "cycles/packet: busy cycles per relayed packet")
    check(abs(g["cycles_per_pkt_all"] - 2.6e9 * 0.6 / 2000) < 1e-6, "cycles/packet: all cycles")
    eq(g["dut_busy_iterations_pct"], 50.0, "busy iterations %")
    eq(g["dut_drops"], {"no_flow": 10}, "drops between the first and last sample")
    eq(res.sampled_cycles(snaps[:3], 2.6e9)["cycles_per_pkt"], None,
       "cycles/packet: too few samples inside the traffic")
    eq(res.idle_iteration_cycles({"uptime_ms": 0, "iterations": 0},
                                 {"uptime_ms": 1000, "iterations": 2600000}, 2.6e9), 1000.0,
       "idle iteration cycles")
    eq(res.delta_or_none(3, 5), 2, "counter delta")
    eq((res.delta_or_none(None, 5), res.delta_or_none(5, 3)), (None, None), "no delta")
    eq(res.fill_rate([{"creates_per_s": 10000}, {"creates_per_s": 40000}], 25000), 16000.0,
       "fill rate: total sessions over total time")


# ---------------------------------------------------------------- a --quick run, faked

# Mpps each DUT forwards without loss; rtpproxy: 1.3
CAP = {"reference": 2.6, "udp6-1000": 1.17, "udp-4to6-1000": 1.04}
OFFERED = {"reference": 4.0}       # Mpps rtpgen offers at max; rtpproxy: 2.0
OFFSETS = [0.0, -0.02, 0.02, -0.01, 0.01]
HZ = 2.6e9


class FakeGen:
    """rtpgen: max runs get CAP + OFFSETS[i % 5] back (OFFERED offered, losing), rate runs lose
    nothing up to CAP; latency runs' percentiles cycle through known values."""

    def __init__(self, case):
        self.cap, self.offered = CAP.get(case, 1.3), OFFERED.get(case, 2.0)
        self.max_no = self.lat_no = 0

    def answer(self, what, args):
        a = [str(x) for x in args]
        g = {"loop_max_gap_us": 7, "lat_min_us": 0.45, "tx_dropped": 0}
        if "--rate" in a and what.startswith("lat50"):
            i, self.lat_no = self.lat_no % 3, self.lat_no + 1
            rate = int(a[a.index("--rate") + 1]) / 1e6
            g.update(rx_mpps=rate, tx_mpps=rate, lost=0, rx_pkts=10, tx_pkts=10,
                     lat_p50_us=(5, 6, 4)[i], lat_p99_us=(12.0, 30.0, 14.0)[i],
                     lat_p999_us=(20, 40, 30)[i], lat_max_us=(50, 900, 60)[i],
                     loop_max_gap_us=(7, 99, 7)[i])
        elif "--rate" in a:
            rate = int(a[a.index("--rate") + 1]) / 1e6
            ok = rate <= self.cap
            g.update(rx_mpps=min(rate, self.cap), tx_mpps=rate, lost=0 if ok else 1000,
                     rx_pkts=10, tx_pkts=10 if ok else 1010)
        else:
            rx = round(self.cap + OFFSETS[self.max_no % 5], 3)
            self.max_no += 1
            g.update(rx_mpps=rx, tx_mpps=self.offered, lost=1000, rx_pkts=10, tx_pkts=1010,
                     tx_dropped=500)
        return g

    def run(self, what, args, limit=None):
        return self.answer(what, args)

    def send(self, what, args, limit=None):
        return {"what": what, "args": args, "polls": 0}

    def poll(self, run, timeout):
        run["polls"] += 1        # the answer on the 5th poll: 5 stats samples per max run
        return self.answer(run["what"], run["args"]) if run["polls"] == 5 else None

    def finish(self, run):
        return self.answer(run["what"], run["args"])


class FakeDut:
    kind, worker_comm = "testpmd", "rte-worker-1"

    def __init__(self, name="reference", max_sessions=0, idle_sleep_us=0, variant=None):
        self.name, self.max_sessions, self.pid = name, max_sessions, 1
        self.variant = variant
        self.calls = self.mem_calls = self.sessions = 0
        self.idle_cycles = 123.44


class FakeRtpproxy(FakeDut):
    """Stats that grow by known steps per sample; memory: 100 000 000 bytes + 512 per session
    it is sized for + 1024 per session made; sessions_active: what rtpgen was asked to make."""
    kind = "rtpproxy"

    def try_stats(self):
        self.calls += 1
        c = self.calls
        return {"uptime_ms": 300 * c, "relayed": 100000 * c, "iterations": 1000 * c,
                "busy": 500 * c, "busy_cycles": 4000000 * c, "drops": {"no_flow": 2 * c},
                "sessions_active": 100000 if self.name == "control" else self.max_sessions}

    stats = try_stats

    def memory(self):
        self.mem_calls += 1
        made = self.max_sessions if self.mem_calls > 1 else 0
        heap = 100000000 + 512 * self.max_sessions + 1024 * made
        return (200 + 10 * self.mem_calls) * 2**20, heap


def fake_ctl_bench(args, tag):
    c = int(args[args.index("--concurrency") + 1])
    if tag.startswith("fill"):
        return {"creates_per_s": 10000.0}
    k = 1 if tag.startswith("e") else 0.5
    return {"creates_per_s": {8: 20000.0, 16: 25000.0, 32: 22000.0}[c] * k,
            "create_p50_ms": 0.3, "create_p99_ms": 1.5 / k, "create_max_ms": 9.0,
            "destroys_per_s": 30000.0, "destroy_p99_ms": 1.0}


def install_fakes(bench, rig):
    @contextlib.contextmanager
    def running(dut, case, gen=True):
        rig.L.case = case
        if hasattr(dut, "start"):
            dut.start()
        rig.L.gen = FakeGen(case) if gen else None
        yield dut
        rig.L.gen = None
    ctxsw = iter(range(10, 1000, 3))
    ticks = iter(x / 2 for x in range(2, 1000))
    for name, v in {"running": running, "Testpmd": FakeDut, "Rtpproxy": FakeRtpproxy,
                    "run_gen": lambda what, args, limit=None: rig.L.gen.run(what, args),
                    "placement_gate": lambda: (True, 0.45), "profile": lambda d, s, n: 0.25,
                    "create_sessions": lambda n, bidir: 50000.0, "cpu_busy": lambda s=1: 1.0,
                    "ctl_bench": fake_ctl_bench, "log": lambda msg: None,
                    "thread_ctxsw": lambda pid, comm: next(ctxsw),
                    "cpu_ticks": lambda pid, comm: next(ticks),
                    "netns_ipv6": lambda on: None}.items():
        setattr(bench, name, v)
    rig.S.__dict__.update(bench.timings(True), quick=True, cases=[], hz=HZ, perf=None)


def check_quick_run(bench, rig, res, logs):
    install_fakes(bench, rig)
    results = bench.run_cases()
    eq([r["case"] for r in results],
       ["reference", "udp-1", "udp-1000", "udp-1000-bidir", "udp6-1000", "udp-4to6-1000",
        "vlan-1000"] + ["control"] * 6, "--quick: the cases, in order")
    by = {r["case"]: r for r in results}
    ref, k, b = by["reference"], by["udp-1000"], by["udp-1000-bidir"]
    eq(ref["mpps_max_runs"], [2.6, 2.58, 2.62, 2.59, 2.61] * 2, "reference: 5 + 5 max runs")
    eq(ref["mpps_max"], 2.6, "reference: the median of both sets")
    eq(ref["mpps_zero_loss"], 2.5, "reference: zero loss (bisection from 4 Mpps)")
    eq((k["mpps_max"], k["limited_by"], k["offered_mpps_max"]), (1.3, "dut", 2.0),
       "udp-1000: median max run, limited by the DUT")
    eq(k["mpps_zero_loss"], 1.25, "udp-1000: zero loss")
    check(abs(k["ratio"] - 0.5) < 1e-12 and abs(k.get("ratio_zero_loss", 0) - 0.5) < 1e-12,
          "udp-1000: ratios to the reference", f"{k['ratio']} {k.get('ratio_zero_loss')}")
    eq(k["ref_mpps_max"], 2.6, "udp-1000: the reference's figure")
    eq((k["cycles_per_pkt"], k["cycles_per_pkt_runs"]), (40.0, [40] * 5),
       "udp-1000: busy cycles per packet from the samples")
    check(abs(k["cycles_per_pkt_all"] - HZ * 0.6 / 200000) < 1e-9, "udp-1000: all cycles")
    eq((k["pmd_share"], k["cycles_per_pkt_excl_pmd"]), (0.25, 30.0), "udp-1000: without PMD")
    eq((k["dut_busy_iterations_pct"], k["dut_drops_at_max"]), (50.0, {"no_flow": 8}),
       "udp-1000: busy iterations, drops at max")
    eq((k["lat_p50_us"], k["lat_p99_us"], k["lat_p999_us"], k["lat_max_us"]),
       (5, 14.0, 30, 60), "udp-1000: latency, the median of each percentile")
    eq((k["lat_p99_us_runs"], k["lost_at_50pct"], k["gen_max_stall_us"]),
       ([12.0, 30.0, 14.0], 0, 99), "udp-1000: latency runs, loss, longest stall")
    eq((k["rss_mib"], k["bytes_per_session"], k["bytes_per_session_static"],
        k["bytes_per_session_dynamic"]), (220.0, 1535, 511, 1024),
       "udp-1000: memory against udp-1's start")
    eq(by["udp-1"]["bytes_per_session"], None, "udp-1: no bytes per session")
    eq((k["dut_worker_preempted"], k["dut_idle_iteration_cycles"], k["rtpgen_creates_per_s"]),
       (3, 123.4, 50000.0), "udp-1000: preemptions, idle cycles, creates/s")
    eq((b["reverse_mpps_max"], b["reverse_lost_at_max"]), (1.3, 1000),
       "udp-1000-bidir: the reverse direction")
    for case, want in (("udp6-1000", 0.9), ("udp-4to6-1000", 0.8), ("vlan-1000", 1.0)):
        v = by[case]
        check(abs(v["ratio_to_udp_1000"] - want) < 1e-12 and
              abs(v["ratio_to_udp_1000_zero_loss"] - want) < 0.03,
              f"{case}: {want} x udp-1000 (max and zero loss)",
              f"{v['ratio_to_udp_1000']} {v['ratio_to_udp_1000_zero_loss']}")
        eq((v["udp_1000_mpps_max"], v["sessions"], v["bidirectional"], v["variant"]),
           (1.3, 1000, False, res.VARIANTS[case][0]), f"{case}: its base, sessions, what varies")
    ctl = [r for r in results if r["case"] == "control"]
    eq([(r["sessions_present"], r["concurrency"], r["headline"]) for r in ctl],
       [(0, 8, False), (0, 16, True), (0, 32, False), (100000, 8, False),
        (100000, 16, True), (100000, 32, False)], "control: rows and headlines")
    eq(ctl[4].get("fill_creates_per_s"), 10000.0, "control: fill rate on the headline")

    with open(DOC_RESULTS) as f:
        doc = {}
        for r in json.load(f):
            doc.setdefault(r["case"], set()).update(r)
    inproc = {1000: {"worker_cycles_per_pkt": 55.0, "worker_cycles_per_pkt_min": 50.0,
                     "worker_cycles_per_pkt_reps": [50.0, 55.0, 60.0],
                     "total_cycles_per_pkt": 140.0, "ok": True},
              1000000: {"worker_cycles_per_pkt": 200.0, "ok": True}}
    rig.S.out, rig.S.logs = f"{logs}/bench-results.json", logs
    meta = {"cpu": "Fake CPU", "cpus": 2, "kernel": "6.0", "tsc_mhz": 2600.0, "dpdk": "22.11",
            "date": "2026-12-01 00:00:00 UTC", "command": "scripts/bench.sh --quick"}
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        rc = bench.write_results(results, meta, inproc)
    eq(rc, 0, "no case failed: exit status 0")
    with open(rig.S.out) as f:
        written = json.load(f)
    eq(written, json.loads(json.dumps(results)), "bench-results.json: the results")
    for case in ("reference", "udp-1", "udp-1000", "udp-1000-bidir"):
        got = set(by[case])
        eq(sorted(got ^ doc[case]), [], f"{case}: the keys of the documented run")
    extra = {"variant", "udp_1000_mpps_max", "ratio_to_udp_1000", "ratio_to_udp_1000_zero_loss"}
    for case in res.VARIANTS:
        eq(sorted(set(by[case]) ^ (doc["udp-1000"] | extra) - {
            "worker_cycles_per_pkt_inproc", "worker_cycles_per_pkt_inproc_min",
            "worker_cycles_per_pkt_inproc_reps", "total_cycles_per_pkt_inproc",
            "worker_inproc_ok", "rss_mib", "rss_mib_before_sessions", "heap_mib",
            "bytes_per_session", "bytes_per_session_static", "bytes_per_session_dynamic"}), [],
           f"{case}: udp-1000's keys (no memory or in-process figures) and its ratios")
    eq(sorted(set().union(*ctl) ^ doc["control"]), [], "control: the keys of the documented run")
    eq(k["worker_cycles_per_pkt_inproc"], 55.0, "udp-1000: bench_worker's figure merged")
    with open(f"{logs}/meta.json") as f:
        m = json.load(f)
    eq(sorted(m["worker_inproc"]), ["1000", "1000000"], "meta: bench_worker's answers")
    t = text.getvalue()
    for line in ("  MISSED 1 000 sessions >= 0.8 x reference: 0.50",
                 "  n/a    1M sessions >= 0.6 x reference (largest run: 1000): not measured",
                 "  MET    <= 60 worker cycles/packet excluding the PMD (1 000 sessions): 30 "
                 "(all: 40)",
                 "  MET    <= 60 worker cycles/packet, in process (bench_worker, 1 000 flows): "
                 "55 (1M flows: -)",
                 "  MET    p99 <= 20 us at 50% load (1 000 sessions, generator round trip): "
                 "14.0 us (reference 14.0 us)",
                 "  MET    <= 2 KiB per UDP session: 1535 bytes",
                 "  MET    >= 20 000 CreateSession/s: 25000/s (with 100 000 present: 12500/s)",
                 "  MET    CreateSession p99 <= 5 ms with 100 000 present: 3.000 ms",
                 "control plane *      0 sessions present: 25000 CreateSession/s",
                 "  udp6-1000       IPv6 -> IPv6                       0.90 x / 0.90 x",
                 "  udp-4to6-1000   IPv4 -> IPv6 (interworking)        0.80 x / 0.80 x",
                 "  vlan-1000       802.1Q, VLAN 100 in, VLAN 200 out  1.00 x / 1.00 x"):
        check(line in t, f"table: {line.strip()[:60]}", t[-1500:])

    # a failing case is recorded and the others go on; exit status 1
    bench.Rtpproxy = type("Broken", (FakeRtpproxy,), {"memory": lambda self: 1 / 0})
    rig.S.cases = ["udp-1", "control"]
    with contextlib.redirect_stderr(io.StringIO()):
        results = bench.run_cases()
    eq([(r["case"], r.get("error")) for r in results][:1], [("udp-1", "division by zero")],
       "--cases: a failing case recorded with its error")
    eq(len(results), 7, "--cases: only those cases, the control rows still made")
    with contextlib.redirect_stdout(io.StringIO()):
        eq(bench.write_results(results, meta, {}), 1, "a failed case: exit status 1")

    # an appliance without IPv6: its configuration refused, or its sessions: skipped, not failed
    def refuse(n, bidir):
        if "--sink-addr" not in rig.L.gen_extra:       # IPv4 sessions: made
            return 50000.0
        raise res.BenchError("rtpgen (create0): CreateSession b0-0: INVALID_ARGUMENT: "
                             "IPv6 is not supported yet")

    def no_start(self):
        raise res.BenchError("rtpproxy exited at start, see x.log")
    bench.Rtpproxy = type("NoVlan", (FakeRtpproxy,), {"start": no_start})
    bench.dut_refusal = lambda name: "x.conf: [port0] vlan: unknown key"
    rig.S.cases = ["vlan-1000"]
    results = bench.run_cases()
    eq(results, [{"case": "vlan-1000", "skipped": "the appliance refuses its configuration "
                  "(802.1Q, VLAN 100 in, VLAN 200 out): x.conf: [port0] vlan: unknown key"}],
       "vlan-1000: skipped, with rtpproxy's reason")
    bench.Rtpproxy = FakeRtpproxy
    bench.create_sessions = refuse
    rig.S.cases = ["udp-1000", "udp6-1000"]
    results = bench.run_cases()
    eq([(r["case"], r.get("skipped", "")[:37]) for r in results],
       [("udp-1000", ""), ("udp6-1000", "the appliance refuses these sessions:")],
       "udp6-1000: skipped when CreateSession refuses IPv6")
    check("IPv6 is not supported yet" in results[1]["skipped"], "the skip says why")
    eq(rig.L.gen_extra, [], "the case's rtpgen options are gone after it")
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        rc = bench.write_results(results, meta, {})
    eq(rc, 0, "a skipped case: exit status 0")
    check("udp6-1000: skipped: the appliance refuses these sessions" in text.getvalue(),
          "the table says it was skipped", text.getvalue()[-800:])


def check_driver(bench, rig):
    eq(rig.S.__dict__, {}, "importing starts nothing: the settings are empty")
    eq(signal.getsignal(signal.SIGTERM), signal.SIG_DFL, "importing installs no handler")
    a = bench.parse_args([])
    eq((a.quick, a.cases, a.out), (False, [], os.path.realpath("bench-results.json")),
       "defaults: full run, all cases, ./bench-results.json")
    eq(a.build_dir, os.path.realpath(os.path.join(SCRIPTS, "..", "build-bench")),
       "default build directory")
    a = bench.parse_args(["--quick", "--cases", "reference,udp-1000", "--out", "/tmp/x.json",
                          "--build-dir", "/tmp/b"])
    eq((a.quick, a.cases, a.out, a.build_dir), (True, ["reference", "udp-1000"], "/tmp/x.json",
                                                "/tmp/b"), "options parsed")
    for argv, code in ((["--cases", "udp-7"], 2), (["--bogus"], 2), (["--help"], 0)):
        with contextlib.redirect_stderr(io.StringIO()) as err, \
                contextlib.redirect_stdout(io.StringIO()) as out:
            try:
                bench.parse_args(argv)
                got = None
            except SystemExit as e:
                got = e.code
        eq(got, code, f"{' '.join(argv)}: exit {code}")
        if argv[0] == "--cases":
            check("--cases: unknown case udp-7" in err.getvalue(), "the error names the field",
                  err.getvalue())
        if argv[0] == "--help":
            check("--quick" in out.getvalue() and "The rig" in out.getvalue(),
                  "--help tells the options and the rig")
    eq((bench.timings(True)["pages"], bench.timings(True)["limit"],
        bench.timings(False)["pages"], bench.timings(False)["limit"]), (1024, 900, 3072, 3600),
       "hugepages and time limit per mode")
    eq(rig.gen_line_args(["--streams", 5, "--rate", 1000]),
       ["--tx-port", "0", "--rx-port", "1", "--dst-mac", "02:00:00:00:01:01", "--no-arp",
        "--payload", "160", "--link-wait", "10", "--json", "--streams", "5", "--rate", "1000"],
       "rtpgen line: shared options, then the run's")
    rig.L.gen_extra = ["--tx-vlan", 100]
    eq(rig.gen_line_args(["--streams", 5])[-4:], ["--streams", "5", "--tx-vlan", "100"],
       "rtpgen line: the case's options last")
    rig.L.gen_extra = []
    rig.S.__dict__.update(pfx="rpb9", tmp="/tmp/t", huge="/tmp/t/huge", rsize=12,
                          grpc="unix:/tmp/t/grpc.sock")
    conf = rig.rtpproxy_conf(1000, 50, "ipv6")
    for want in ("address = 198.18.1.10-198.18.1.40/24, 2001:db8:1::10/64",
                 "neighbors = 198.18.2.2@02:00:00:00:02:02, [2001:db8:2::2]@02:00:00:00:02:02",
                 "allowed_destinations = 198.18.0.0/15, 2001:db8::/32"):
        check(want in conf, f"rtpproxy config, IPv6: {want[:50]}", conf)
    check("vlan" not in conf, "rtpproxy config, IPv6: no vlan key")
    conf = rig.rtpproxy_conf(1000, 50, "vlan")
    check("exception = rpb9a\nneighbors = 198.18.1.2@02:00:00:00:01:02\nvlan = 100\n[port1]"
          in conf and "vlan = 200\n[grpc]" in conf and "2001:" not in conf,
          "rtpproxy config, VLAN: port0 on 100, port1 on 200", conf)
    conf = rig.rtpproxy_conf(1000, 50)
    for want in ("max_sessions = 1000", "idle_sleep_us = 50", "exception = rpb9a",
                 "address = 198.18.2.10-198.18.2.41/24",
                 "device = net_memif0,role=server,socket=/tmp/t/m0.sock,id=0,"
                 "mac=02:00:00:00:01:01,rsize=12,socket-abstract=no",
                 "--file-prefix rpb9-dut", "listen = unix:/tmp/t/grpc.sock"):
        check(want in conf, f"rtpproxy config: {want[:50]}", conf)
    rig.S.__dict__.clear()


def main():
    check_files()
    sys.path.insert(0, SCRIPTS)
    import bench_results as res
    import bench_rig as rig
    import bench
    check_driver(bench, rig)
    check_parsing(res)
    check_figures(res)
    with tempfile.TemporaryDirectory() as logs:
        check_quick_run(bench, rig, res, logs)
    return summary("bench_py")


if __name__ == "__main__":
    sys.exit(main())
