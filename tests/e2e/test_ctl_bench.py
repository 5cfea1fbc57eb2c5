#!/usr/bin/python3
"""e2e_ctl_bench: `rtpproxyctl bench` against the real appliance: 500 sessions created and
destroyed by 4 client threads, every call accounted for (--json), and the appliance agrees
(created_total 500, closed_total 500, none active). The rates it prints are figures for the
benchmark, not checks.
"""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402

N = 500


def body(t):
    pb = lab.pb2()
    ctl = lab.BUILD_DIR / "control" / "rtpproxyctl"
    with lab.Lab() as L, lab.Appliance(L) as app:
        r = subprocess.run([str(ctl), "--server", f"unix:{app.sock}", "--json", "bench",
                            "--sessions", str(N), "--concurrency", "4"],
                           capture_output=True, text=True, timeout=120)
        t.eq(r.returncode, 0, "rtpproxyctl bench exit code")
        out = json.loads(r.stdout) if r.returncode == 0 else {}
        print(f"    {r.stdout.strip()}")
        t.eq(out.get("create_ok"), N, "every create answered OK")
        t.eq(out.get("destroy_ok"), N, "every destroy answered OK")
        t.eq(out.get("errors"), 0, "no errors")
        t.check(out.get("create_p50_ms", 0) <= out.get("create_p99_ms", -1) <=
                out.get("create_max_ms", -1), "create latency percentiles are ordered")
        ps = app.stub.GetProxyStats(pb.GetProxyStatsRequest())
        t.eq(ps.sessions_created_total, N, "sessions_created_total")
        t.eq(ps.sessions_closed_total, N, "sessions_closed_total")
        t.eq(ps.sessions_active, 0, "sessions_active")
        t.eq(app.stop(), 0, "rtpproxy exit code")


if __name__ == "__main__":
    lab.main_wrapper("ctl_bench", body)
