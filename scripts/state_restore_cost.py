#!/usr/bin/python3
"""How long a restart takes to bring SESSIONS sessions back from Redis (a measurement, not a
test; issue 12, API.md 1.6).

Starts a fresh redis-server (tests/e2e/redis_lab.py) and rtpproxy with [state] backend = redis
in a lab, creates SESSIONS UDP sessions with `rtpproxyctl bench --keep` (25 000 per
listen/forward address pair), waits until the store holds them all, stops rtpproxy with SIGTERM
and starts it again, then prints: the time from starting the process to health SERVING, the
restore alone as the appliance logs it, the SIGTERM time, and Redis's memory for the keys.

  sudo RTPPROXY_BUILD_DIR=build /usr/bin/python3 scripts/state_restore_cost.py [SESSIONS]
"""
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import lab  # noqa: E402
import state_util as su  # noqa: E402
from redis_lab import RedisLab  # noqa: E402

PER_PAIR = 25000
INSTANCE = "cost"


def main():
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    pairs = (sessions + PER_PAIR - 1) // PER_PAIR
    extra = {
        "eal": {"args": "-l 0-1 --no-huge -m 2048 --no-pci --no-shconf --file-prefix {prefix}"},
        "port0": {"address": f"198.18.1.1/24, 198.18.1.10-198.18.1.{9 + pairs}/24"},
        "port1": {"address": f"198.18.2.1/24, 198.18.2.10-198.18.2.{9 + pairs}/24"},
        "sessions": {"max_sessions": str(sessions + 1000), "port_min": "1024",
                     "port_max": "65535", "idle_timeout_secs": "3600"},
    }
    ctl = Path(lab.BUILD_DIR) / "control" / "rtpproxyctl"
    with lab.Lab() as L, RedisLab(L) as rl:
        cfg = su.state_config(rl, INSTANCE, checkpoint_secs=5, extra=extra)
        app = lab.Appliance(L, config=cfg, start_timeout=120, stop_timeout=60)
        app.start()
        t0 = time.monotonic()
        left = sessions
        for j in range(pairs):
            n = min(PER_PAIR, left)
            left -= n
            r = subprocess.run([str(ctl), "--server", f"unix:{app.sock}", "bench",
                                "--sessions", str(n), "--keep", "--listen", f"198.18.1.{10 + j}",
                                "--forward", f"198.18.2.{10 + j}", "--destination",
                                "198.18.2.2:40000", "--port-base", "1024", "--prefix", f"s{j}-"],
                               capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                sys.exit(f"rtpproxyctl bench failed: {r.stdout}{r.stderr}")
        print(f"created {app.proxy_stats().sessions_active} sessions in "
              f"{time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()
        # the session keys, "#changes" and "#writer"
        ok = lab.wait_until(lambda: rl.client.dbsize() >= sessions + 2 and
                            su.backend(app).queue_depth == 0, 300, interval=0.5)
        print(f"store holds them {time.monotonic() - t0:.1f} s later ({ok}); Redis "
              f"used_memory {rl.client.info('memory')['used_memory_human']}")
        t0 = time.monotonic()
        app.stop()
        print(f"SIGTERM: {time.monotonic() - t0:.2f} s")
        app2 = lab.Appliance(L, config=cfg, name="second", start_timeout=300, stop_timeout=60)
        t0 = time.monotonic()
        app2.start()
        status, serving = su.health_check(app2)
        lab.wait_until(lambda: status() == serving, 300, interval=0.02)
        serving_s = time.monotonic() - t0
        m = re.search(r"restored (\d+) session\(s\).* in (\d+) ms", app2.log_text())
        print(f"restart: process start -> SERVING {serving_s:.2f} s; "
              + (f"restored {m.group(1)} sessions in {m.group(2)} ms (load from Redis + "
                 f"re-create)" if m else "no restore line in the log"))
        print(f"sessions_active after: {app2.proxy_stats().sessions_active}")
        app2.stop()
        with open("/proc/loadavg") as f:
            print(f"load average: {f.read().strip()}")


if __name__ == "__main__":
    main()
