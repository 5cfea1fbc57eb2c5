#!/usr/bin/python3
"""What a /metrics scrape costs the control lcore with many sessions (a measurement, not a test).

Starts rtpproxy in a lab (tests/e2e/lab.py) with [http] on, creates SESSIONS UDP sessions with
`rtpproxyctl bench --keep` (25 000 per listen/forward address pair, no traffic), scrapes /metrics
SCRAPES times and prints, from the appliance's DEBUG line for each scrape, the TSC time the
control loop spent collecting the snapshot (in total and in its longest pass: the most a gRPC
call could wait behind it), the control thread's CPU time for it (what the TSC figure is once
preemption by other processes is taken out) and the scrape's wall time and size.

  sudo RTPPROXY_BUILD_DIR=build /usr/bin/python3 scripts/scrape_cost.py [SESSIONS] [SCRAPES]
"""
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import lab  # noqa: E402
import test_metrics  # noqa: E402  (its HTTP client over the dut namespace)

PER_PAIR = 25000


def main():
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    scrapes = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    pairs = (sessions + PER_PAIR - 1) // PER_PAIR
    cfg = {
        "port0": {"address": f"198.18.1.1/24, 198.18.1.10-198.18.1.{9 + pairs}/24"},
        "port1": {"address": f"198.18.2.1/24, 198.18.2.10-198.18.2.{9 + pairs}/24"},
        "sessions": {"max_sessions": str(sessions + 1000), "port_min": "1024",
                     "port_max": "65535", "idle_timeout_secs": "3600"},
    }
    ctl = Path(lab.BUILD_DIR) / "control" / "rtpproxyctl"
    with lab.Lab() as L, lab.Appliance(L, config=cfg, log_level="debug",
                                       start_timeout=60) as app:
        left = sessions
        for j in range(pairs):
            n = min(PER_PAIR, left)
            left -= n
            r = subprocess.run([str(ctl), "--server", f"unix:{app.sock}", "bench",
                                "--sessions", str(n), "--keep", "--listen", f"198.18.1.{10 + j}",
                                "--forward", f"198.18.2.{10 + j}", "--destination",
                                "198.18.2.2:40000", "--port-base", "1024", "--prefix", f"s{j}-"],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                sys.exit(f"rtpproxyctl bench failed: {r.stdout}{r.stderr}")
        created = app.proxy_stats().sessions_created_total
        print(f"sessions present: {created}")
        for i in range(scrapes):
            t0 = time.monotonic()
            status, _, body = test_metrics.get(L, "/metrics")
            wall = (time.monotonic() - t0) * 1e3
            line = test_metrics.parse_metrics(body).get("rtpproxy_sessions_created_total")
            print(f"scrape {i + 1}: HTTP {status}, {len(body)} bytes, {wall:.1f} ms wall, "
                  f"sessions_created_total {line:.0f}")
        deadline = time.monotonic() + 5
        costs = []
        while time.monotonic() < deadline and len(costs) < scrapes:
            costs = re.findall(r"metrics: (\d+) pass\(es\), (\d+) cycles \(([\d.]+) ms\) on the "
                               r"control lcore, longest pass ([\d.]+) ms, thread CPU time ([\d.]+) ms",
                               app.log_text())
            time.sleep(0.1)
        for passes, cycles, ms, longest, cpu in costs:
            print(f"control lcore: {passes} passes, {cycles} TSC cycles = {ms} ms wall, "
                  f"longest pass {longest} ms; control thread CPU time {cpu} ms")
        with open("/proc/loadavg") as f:
            print(f"load average: {f.read().strip()}")


if __name__ == "__main__":
    main()
