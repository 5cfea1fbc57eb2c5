"""The pure half of the benchmark (scripts/bench.py): what it reads from the tools' output, the
figures it computes from that, the result objects of bench-results.json, the table and the
targets. Nothing here starts a process, reads /proc or touches a file, so that
tests/unit/test_bench_py.py can check every piece against known values without root or DPDK.
"""
import json
import re

PAYLOAD = 160      # RTP payload: 214-byte frames
ADDRS = 32         # listen addresses on port0, forward addresses on port1: 198.18.{1,2}.10..41
PART_MAX = 32000   # sessions per listen address (32 256 RTP/RTCP port pairs in 1024..65535)


# The cases that vary one thing against udp-1000 (issue 13), each reported as a ratio to
# udp-1000 of the same run: what differs, rtpgen's options for every run of the case (after
# the run's own: they win), the DUT's configuration variant (bench_rig.rtpproxy_conf).
VARIANTS = {
    "udp6-1000": ("IPv6 -> IPv6", ["--dst-base", "2001:db8:1::10", "--src", "2001:db8:1::2",
                                   "--fwd-addr", "2001:db8:2::10", "--sink-addr",
                                   "2001:db8:2::2"], "ipv6"),
    "udp-4to6-1000": ("IPv4 -> IPv6 (interworking)", ["--fwd-addr", "2001:db8:2::10",
                                                      "--sink-addr", "2001:db8:2::2"], "ipv6"),
    "vlan-1000": ("802.1Q, VLAN 100 in, VLAN 200 out", ["--tx-vlan", 100, "--rx-vlan", 200],
                  "vlan"),
}


class BenchError(Exception):
    """A case failed (recorded in its result as "error"); the other cases go on."""


# ---------------------------------------------------------------- reading the tools' output

def tsc_hz(dmesg, cpuinfo):
    """The TSC's frequency (Hz): the kernel's refined calibration, else its first detection,
    else /proc/cpuinfo's "cpu MHz" (None if none of them says)."""
    m = re.findall(r"Refined TSC clocksource calibration: ([\d.]+) MHz", dmesg or "") or \
        re.findall(r"tsc: Detected ([\d.]+) MHz", dmesg or "")
    if m:
        return float(m[-1]) * 1e6
    m = re.search(r"cpu MHz\s*:\s*([\d.]+)", cpuinfo or "")
    return float(m.group(1)) * 1e6 if m else None


def parse_gen_answer(line, name):
    """One JSON line of rtpgen --serve: the run's figures, or BenchError (not JSON, or an
    "error" answer)."""
    try:
        g = json.loads(line)
    except ValueError:
        raise BenchError(f"rtpgen ({name}): not JSON: {line[:300]}")
    if not isinstance(g, dict):
        raise BenchError(f"rtpgen ({name}): not a JSON object: {line[:300]}")
    if "error" in g:
        raise BenchError(f"rtpgen ({name}): {g['error']}")
    return g


def testpmd_forwarding(log_text):
    """Non-interactive testpmd prints this once its ports are started and it forwards."""
    return "Press enter to exit" in log_text


def parse_ctl_stats(text):
    """rtpproxyctl --json stats: the figures the benchmark uses, the workers summed."""
    d = json.loads(text)
    w = d.get("workers") or [{}]
    return {"uptime_ms": int(d.get("uptime_ms", 0)),
            "relayed": sum(int(x.get("relayed", 0)) for x in w),
            "iterations": sum(int(x.get("iterations", 0)) for x in w),
            "busy": sum(int(x.get("busy_iterations", 0)) for x in w),
            "busy_cycles": sum(int(x.get("busy_cycles", 0)) for x in w),
            "sessions_active": int(d.get("sessions_active", 0)),
            "drops": {k: int(v) for k, v in d.get("drops", {}).items()}}


def parse_ctl_bench(stdout, stderr, tag):
    """rtpproxyctl --json bench: its JSON line; BenchError if there is none or calls failed."""
    js = next((l for l in stdout.splitlines() if l.startswith("{")), None)
    if js is None:
        raise BenchError(f"rtpproxyctl bench failed: {stderr.strip()[-300:]}")
    d = json.loads(js)
    if d.get("errors"):
        raise BenchError(f"rtpproxyctl bench: {d['errors']} errors, see ctl-bench-{tag}.log")
    return d


def memif_rss_bytes(smaps_lines):
    """Resident bytes of the mappings named memif_region_N in /proc/PID/smaps."""
    total, inside = 0, False
    for line in smaps_lines:
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
            inside = "memif_region" in line
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total


def thread_ticks(stat):
    """(comm, utime + stime in clock ticks) from a /proc/PID/task/TID/stat line (the comm may
    hold spaces and parentheses: it ends at the last ')')."""
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    v = stat[stat.rindex(")") + 2:].split()
    return comm, int(v[11]) + int(v[12])


def involuntary_switches(status):
    """nonvoluntary_ctxt_switches of a /proc/.../status text (None if absent)."""
    m = re.search(r"nonvoluntary_ctxt_switches:\s*(\d+)", status)
    return int(m.group(1)) if m else None


def pmd_share(perf_dso_report):
    """The share (0..1) of samples in the memif PMD, mempool and ring DSOs in a
    `perf report --sort dso --percentage relative` text."""
    pmd = 0.0
    for line in perf_dso_report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m and re.search(r"librte_net_memif|librte_mempool|librte_ring", m.group(2)):
            pmd += float(m.group(1))
    return pmd / 100.0


# ---------------------------------------------------------------- sessions and streams

def spread(n):
    """Addresses the sessions are spread over: one up to 32 000 sessions, else all ADDRS."""
    return 1 if n <= PART_MAX else ADDRS


def streams_args(n):
    """rtpgen's options for n streams: stream i -> listen 198.18.1.(10 + i % K):
    (1024 + 2 * (i / K)), K = spread(n) (what session_parts made)."""
    return ["--streams", n, "--dst-base", "198.18.1.10", "--dst-addrs", spread(n),
            "--dst-port-base", 1024]


def session_parts(n):
    """How the n sessions are created: [(part j, sessions in it)], part j on listen address
    198.18.1.(10 + j), so that their union is exactly streams_args(n)."""
    k = spread(n)
    if n % k or n // k > PART_MAX:
        raise BenchError(f"{n} sessions: need a multiple of {k}, at most {k * PART_MAX}")
    return [(j, n // k) for j in range(k)]


# ---------------------------------------------------------------- figures of the runs

def limited_by(g):
    """memif pushes back: a generator that keeps finding the DUT's ring full is held by it."""
    return "dut" if g["tx_dropped"] > 0.05 * g["tx_pkts"] else "generator"


def median_run(runs):
    return sorted(runs, key=lambda x: x["rx_mpps"])[len(runs) // 2]


def zero_loss_ok(g, rate_mpps):
    """A zero-loss trial passed: nothing lost, and the generator really offered the rate."""
    return g["lost"] == 0 and g["rx_pkts"] >= g["tx_pkts"] and g["tx_mpps"] >= 0.98 * rate_mpps


def zero_loss_search(gmax, steps, trial):
    """RFC 2544-style binary search on the offered rate, bounded to `steps` trials (trial(rate
    in Mpps) runs one and returns rtpgen's answer): (the highest rate received, Mpps, at which
    nothing was lost, [the trials]). A max run that lost nothing needs no search."""
    if gmax["lost"] == 0 and gmax["rx_pkts"] >= gmax["tx_pkts"]:
        return gmax["rx_mpps"], []
    lo, hi, best, trials = 0.0, gmax["tx_mpps"], 0.0, []
    for i in range(steps):
        rate = (lo + hi) / 2
        g = trial(i, rate)
        ok = zero_loss_ok(g, rate)
        trials.append({"rate_mpps": round(rate, 4), "rx_mpps": round(g["rx_mpps"], 4),
                       "lost": g["lost"], "ok": ok})
        if ok:
            lo, best = rate, g["rx_mpps"]
        else:
            hi = rate
    return best, trials


def sampled_cycles(snaps, hz):
    """From GetProxyStats samples taken during a max run: the worker's busy cycles per relayed
    packet ("cycles_per_pkt", the worker counts them), every cycle of its core per packet
    ("cycles_per_pkt_all", empty polls included), the share of busy iterations, over the
    samples strictly inside the traffic (relayed grew just before and just after them, so the
    generator's start and end stay out); and the drops counted between the first and last."""
    g = {"cycles_per_pkt": None, "cycles_per_pkt_all": None, "dut_busy_iterations_pct": None,
         "dut_drops": {}}
    inside = [k for k in range(1, len(snaps) - 1)
              if snaps[k - 1]["relayed"] < snaps[k]["relayed"] < snaps[k + 1]["relayed"]]
    if len(inside) >= 2:
        a, b = snaps[inside[0]], snaps[inside[-1]]
        dt = (b["uptime_ms"] - a["uptime_ms"]) / 1e3
        di, db, dn = (b["iterations"] - a["iterations"], b["busy"] - a["busy"],
                      b["relayed"] - a["relayed"])
        dc = b["busy_cycles"] - a["busy_cycles"]
        if dt > 0 and di > 0 and dn > 0:
            g["cycles_per_pkt"] = dc / dn if dc > 0 else None
            g["cycles_per_pkt_all"] = hz * dt / dn
            g["dut_busy_iterations_pct"] = round(100.0 * db / di, 1)
    if len(snaps) >= 2:
        a, b = snaps[0], snaps[-1]
        g["dut_drops"] = {k: v - a["drops"].get(k, 0) for k, v in b["drops"].items()
                          if v != a["drops"].get(k, 0)}
    return g


def idle_iteration_cycles(a, b, hz):
    """Cycles of one idle worker iteration between two stats samples of an idle DUT."""
    dt = (b["uptime_ms"] - a["uptime_ms"]) / 1e3
    di = b["iterations"] - a["iterations"]
    return hz * dt / di if di > 0 else 0.0


# ---------------------------------------------------------------- the result objects

def max_fields(runs, rtp):
    """A case's keys from its runs at max offered load (the median run is the figure)."""
    g = median_run(runs)
    r = {"mpps_max": g["rx_mpps"],
         "mpps_max_runs": [round(x["rx_mpps"], 3) for x in runs],
         "probe_min_us_runs": [x["probe_min_us"] for x in runs],
         "offered_mpps_max": g["tx_mpps"], "lost_at_max": g["lost"],
         "limited_by": g["limited_by"]}
    if rtp:
        r["cycles_per_pkt"] = g["cycles_per_pkt"]
        r["cycles_per_pkt_runs"] = [round(x["cycles_per_pkt"]) if x["cycles_per_pkt"] else None
                                    for x in runs]
        r["cycles_per_pkt_all"] = g["cycles_per_pkt_all"]
        r["dut_busy_iterations_pct"] = g["dut_busy_iterations_pct"]
        r["dut_drops_at_max"] = g["dut_drops"]
    return r


def pmd_fields(cycles_per_pkt, share):
    """The worker's cycles per packet without the PMD's share of its samples."""
    return {"pmd_share": round(share, 3) if share is not None else None,
            "cycles_per_pkt_excl_pmd": cycles_per_pkt * (1 - share)
            if cycles_per_pkt is not None and share is not None else None}


def latency_fields(runs):
    """The median of each percentile over the latency runs: one multi-millisecond stall of a
    vCPU (the host's doing) in a run otherwise decides its p99."""
    r = {k: sorted(g[k] for g in runs)[len(runs) // 2]
         for k in ("lat_p50_us", "lat_p99_us", "lat_p999_us", "lat_max_us")}
    r["lat_p99_us_runs"] = [g["lat_p99_us"] for g in runs]
    r["lost_at_50pct"] = sum(g["lost"] for g in runs)
    return r


def delta_or_none(a, b):
    """b - a for two readings of a counter that only grows (None if either is missing)."""
    return b - a if a is not None and b is not None and b >= a else None


def memory_fields(n, mem0, mem1, mem_base):
    """rss_mib and bytes per session: mem0/mem1 are (VmRSS + hugepages, VmRSS + DPDK heap
    bytes) before and after creating the n sessions; mem_base the second figure of the DUT
    sized for one session, with none (udp-1's start)."""
    r = {"rss_mib": round(mem1[0] / 2**20, 1)}
    if mem_base is not None and mem1[1] is not None and n >= 1000:
        r["bytes_per_session"] = round((mem1[1] - mem_base) / n)
        r["bytes_per_session_static"] = round((mem0[1] - mem_base) / n)
        r["bytes_per_session_dynamic"] = round((mem1[1] - mem0[1]) / n)
    else:
        r["bytes_per_session"] = None
    return r


def median_of_runs(values):
    v = sorted(values)
    return v[len(v) // 2]


def add_ratios(results, ref):
    """Each rtpproxy case against the reference of the same run."""
    for r in results:
        if (r["case"].startswith("udp-") or r["case"] in VARIANTS) and measured(r):
            r["ref_mpps_max"] = ref["mpps_max"]
            r["ratio"] = r["mpps_max"] / ref["mpps_max"] if ref["mpps_max"] else None
            r["ratio_zero_loss"] = r["mpps_zero_loss"] / ref["mpps_zero_loss"] \
                if ref.get("mpps_zero_loss") else None


def add_variant_ratios(results):
    """Each VARIANTS case against udp-1000 of the same run (None without it)."""
    base = next((r for r in results if r["case"] == "udp-1000" and "mpps_max" in r), None)
    for r in results:
        if r["case"] in VARIANTS and "mpps_max" in r:
            r["udp_1000_mpps_max"] = base["mpps_max"] if base else None
            r["ratio_to_udp_1000"] = r["mpps_max"] / base["mpps_max"] \
                if base and base["mpps_max"] else None
            r["ratio_to_udp_1000_zero_loss"] = r["mpps_zero_loss"] / base["mpps_zero_loss"] \
                if base and base.get("mpps_zero_loss") and r.get("mpps_zero_loss") is not None \
                else None


def skipped(case, why):
    """A case the appliance cannot run (yet): not a failure, said in the table."""
    return {"case": case, "skipped": why}


def measured(r):
    return "error" not in r and "skipped" not in r


def inproc_fields(j):
    """bench_worker's --json answer as the keys of the udp-N case of the same flow count."""
    return {"worker_cycles_per_pkt_inproc": j.get("worker_cycles_per_pkt"),
            "worker_cycles_per_pkt_inproc_min": j.get("worker_cycles_per_pkt_min"),
            "worker_cycles_per_pkt_inproc_reps": j.get("worker_cycles_per_pkt_reps"),
            "total_cycles_per_pkt_inproc": j.get("total_cycles_per_pkt"),
            "worker_inproc_ok": j.get("ok")}


def merge_inproc(results, inproc):
    """inproc: {flows: bench_worker's answer}; its figures join the udp-<flows> case."""
    for n, j in inproc.items():
        for r in results:
            if r["case"] == f"udp-{n}" and "error" not in r:
                r.update(inproc_fields(j))


def control_row(d, present, sessions, concurrency, threads):
    """One object of the control case from rtpproxyctl bench's answer."""
    return {"case": "control", "sessions_present": present,
            "creates_per_s": d["creates_per_s"],
            "create_p50_ms": d["create_p50_ms"], "create_p99_ms": d["create_p99_ms"],
            "create_max_ms": d["create_max_ms"],
            "destroys_per_s": d["destroys_per_s"],
            "destroy_p99_ms": d["destroy_p99_ms"], "sessions": sessions,
            "concurrency": concurrency, "client_threads": threads, "headline": False}


def mark_headline(rows):
    """The fastest client count is the headline (the figure the target is judged on)."""
    best = max(rows, key=lambda x: x["creates_per_s"])
    best["headline"] = True
    return best


def fill_rate(fills, per_fill):
    """CreateSession/s over the whole fill (fills of per_fill sessions each)."""
    return round(len(fills) * per_fill / sum(per_fill / f["creates_per_s"] for f in fills), 1)


# ---------------------------------------------------------------- the report

def fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def table(results, meta):
    """The text the run prints at the end (and keeps in bench-logs/table.txt)."""
    lines = [f"rtpproxy benchmark  {meta['date']}  {meta['command']}",
             f"machine: {meta['cpu']}, {meta['cpus']} cpus, TSC {meta['tsc_mhz']} MHz, kernel "
             f"{meta['kernel']}, DPDK {meta['dpdk']}; {PAYLOAD + 54}-byte frames over net_memif",
             ""]
    hdr = (f"{'case':<17}{'sessions':>9} {'Mpps max':>9} {'0-loss':>8} {'ratio':>6} "
           f"{'cyc/pkt':>8} {'-PMD':>6} {'lat p50/p99/p999 us @50%':>26} {'RSS MiB':>8} "
           f"{'B/sess':>7}  limit")
    lines += [hdr, "-" * len(hdr)]
    for r in results:
        if r["case"] == "control" or not measured(r):
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
    variants = [r for r in results if r["case"] in VARIANTS and measured(r)]
    if variants:
        lines.append("against udp-1000 of this run (max / zero loss; IPv6 frames are 20 bytes "
                     "longer):")
    for r in variants:
        lines.append(f"  {r['case']:<15} {VARIANTS[r['case']][0]:<34} "
                     f"{fmt(r.get('ratio_to_udp_1000'))} x / "
                     f"{fmt(r.get('ratio_to_udp_1000_zero_loss'))} x")
    for r in results:
        if "error" in r:
            lines.append(f"{r['case']}: FAILED: {r['error']}")
        if "skipped" in r:
            lines.append(f"{r['case']}: skipped: {r['skipped']}")
    if meta.get("runs_with_vcpus_apart"):
        lines.append("note: measured with the vCPUs apart (slower rig), after waiting: "
                     + ", ".join(meta["runs_with_vcpus_apart"]))
    for x in meta.get("dut_exits", []):
        lines.append(f"note: the DUT exited when it should not have: {x}")
    lines += ["", "targets (issue 5):"] + targets(results)
    return "\n".join(lines)


def targets(results):
    """One line per target of issue 5: MET, MISSED or n/a (not measured in this run)."""
    by = {r["case"]: r for r in results if r["case"] != "control" and measured(r)
          and r["case"] not in VARIANTS}
    ctl = {r["sessions_present"]: r for r in results
           if r["case"] == "control" and measured(r) and r.get("headline", True)}
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
