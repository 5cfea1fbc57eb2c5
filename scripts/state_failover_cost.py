#!/usr/bin/python3
"""What the hot standby costs with many sessions (API.md 1.6), measured in the lab's "pair"
topology (tests/e2e/lab.py): N UDP sessions created on the active "a"; the time until the
standby "b" mirrors them all; a SIGKILLed; the time until b holds the lease and until it has
taken every session over (counters loaded from the last checkpoint, on its event streams).

    sudo RTPPROXY_BUILD_DIR=build /usr/bin/python3 scripts/state_failover_cost.py [N]

Prints one line per figure. Bounded: every wait has a deadline. Needs root.
"""
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import lab  # noqa: E402
from lab import DST_ADDR, DUT0_ADDR, DUT1_ADDR, PAIR_MGMT_ADDR, udp_session  # noqa: E402
from redis_lab import RedisLab  # noqa: E402


def cfg(raddr, instance, standby, n):
    st = {"backend": "redis", "redis": raddr, "instance": instance, "lease_ms": "500",
          "checkpoint_secs": "1", "restore_wait_secs": "5"}
    if standby:
        st.update({"role": "standby", "peer_instance": "a"})
    # one address each side: up to ~32 000 sessions with RTCP port pairs
    return {"state": st, "sessions": {"max_sessions": str(max(1024, 2 * n)),
                                      "port_min": "1024", "port_max": "65535"}}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    pb = lab.pb2()
    with lab.Lab(topology="pair") as L, RedisLab(L, ns="dut", bind_extra=(PAIR_MGMT_ADDR,)) as R:
        raddr = f"{PAIR_MGMT_ADDR}:{R.port}"
        a = lab.Appliance(L, cfg(raddr, "a", False, n), name="a", start_timeout=60)
        b = lab.Appliance(L, cfg(raddr, "b", True, n), name="b", netns="sby", start_timeout=60)
        with a, b:
            t0 = time.monotonic()
            for i in range(n):
                a.stub.CreateSession(udp_session(f"c-{i}", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                                                 (DST_ADDR, 40000)))
            created = time.monotonic()
            print(f"{n} sessions created on a in {created - t0:.1f} s", flush=True)
            ok = lab.wait_until(lambda: b.proxy_stats().sessions_active >= n, 300, 0.1)
            print(f"b mirrors them all {time.monotonic() - created:.1f} s after the last create"
                  f" ({'ok' if ok else 'NOT ALL'})", flush=True)
            # a complete checkpoint of every session, begun after the last create
            since_ms = lambda: (time.monotonic() - created) * 1000
            lab.wait_until(lambda: 0 <= a.proxy_stats().state.last_checkpoint_age_ms
                           < since_ms() - 100, 60, 0.1)
            kill = time.monotonic()
            a.proc.kill()
            a.proc.wait(5)
            a.returncode = a.proc.returncode
            a._close_channel()
            lab.wait_until(lambda: R.client.get("rtpproxy:a#lease") == b"2 b", 10, 0.005)
            print(f"b holds the lease {1000 * (time.monotonic() - kill):.0f} ms after the kill "
                  "(lease 500 ms)", flush=True)
            done = lab.wait_until(lambda: re.search(r"took over a's (\d+) sessions",
                                                     b.log_text()), 120, 0.02)
            print(f"b has taken over {done.group(1) if done else '?'} sessions "
                  f"{1000 * (time.monotonic() - kill):.0f} ms after the kill", flush=True)


if __name__ == "__main__":
    lab.skip_unless_root("state_failover_cost")
    main()
