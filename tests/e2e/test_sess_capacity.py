#!/usr/bin/python3
"""e2e_sess_capacity: 100 000 sessions (issue 3 item 11).

The appliance runs with max_sessions 100000 and `-m 2048` (EAL memory, no hugepages), and four
addresses on each port so that 100 000 static listen and forward endpoints exist:
session i listens on 198.18.1.{1,11,12,13}:10000 + i % 25000 and forwards from
198.18.2.{1,11,12,13} on the same port, to 198.18.2.2:40000 + i % 20000.

- create 100 000 sessions through gRPC with a bounded number of requests in flight
  (CreateSession futures), in at most 240 s; print the creation rate (a figure, not a check);
- ListSessions with page_size 1000: exactly the 100 000 ids, no duplicates, creation order;
- rtpproxy's RSS (VmRSS) before and after: printed as bytes per session;
- one more CreateSession -> RESOURCE_EXHAUSTED (max_sessions is exactly 100000);
- while they all exist, the last one created relays 1000 packets exactly;
- SIGTERM with 100 000 sessions: exit 0, and the time it takes is printed and must stay within
  the harness's default stop bound (15 s).
"""
import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, udp_session  # noqa: E402

N = 100_000
PER_ADDR = 25_000
LISTEN_ADDRS = ["198.18.1.1", "198.18.1.11", "198.18.1.12", "198.18.1.13"]
FORWARD_ADDRS = ["198.18.2.1", "198.18.2.11", "198.18.2.12", "198.18.2.13"]
IN_FLIGHT = 64
CREATE_BOUND = 240.0        # seconds
HARNESS_STOP_BOUND = 15.0   # Appliance's default stop_timeout
CONFIG = {
    "eal": {"args": "-l 0-1 --no-huge -m 2048 --no-pci --no-shconf --file-prefix {prefix}"},
    "port0": {"address": ",".join(f"{a}/24" for a in LISTEN_ADDRS)},
    "port1": {"address": ",".join(f"{a}/24" for a in FORWARD_ADDRS)},
    "sessions": {"max_sessions": str(N)},
}


def sid(i):
    return f"cap-{i:06d}"


def eps(i):
    a, p = divmod(i, PER_ADDR)
    return ((LISTEN_ADDRS[a], 10000 + p), (FORWARD_ADDRS[a], 10000 + p),
            (DST_ADDR, 40000 + i % 20000))


def rss(app):
    return lab.proc_rss_bytes(app.proc.pid)


def test_create(t, app, ctx):
    import grpc
    exe = os.readlink(f"/proc/{app.proc.pid}/exe")
    t.check(exe.endswith("/rtpproxy"), "the measured process is rtpproxy", exe)
    time.sleep(0.5)
    rss0 = rss(app)
    ctx["rss0"] = rss0
    call = app.stub.CreateSession.raw
    pending = collections.deque()
    failed = []
    done = 0
    t0 = time.monotonic()
    deadline = t0 + CREATE_BOUND
    timed_out = False

    def settle_one():
        nonlocal done
        i, fut = pending.popleft()
        try:
            fut.result()
            done += 1
        except grpc.RpcError as e:
            failed.append(f"{sid(i)}: {e.code().name} {e.details()}")

    for i in range(N):
        if len(pending) >= IN_FLIGHT:
            settle_one()
        if i % 1000 == 0 and time.monotonic() > deadline:
            timed_out = True
            break
        if len(failed) > 20:
            break
        pending.append((i, call.future(udp_session(sid(i), *eps(i)), timeout=60)))
        if i % 20000 == 19999:
            el = time.monotonic() - t0
            print(f"    {i + 1} requested in {el:.1f} s ({(i + 1) / el:.0f}/s), "
                  f"RSS {rss(app) / 2**20:.1f} MiB", flush=True)
    while pending:
        settle_one()
    elapsed = time.monotonic() - t0
    rss1 = rss(app)
    ctx["created"] = done
    rate = done / elapsed if elapsed > 0 else 0
    print(f"    FIGURE: created {done} sessions in {elapsed:.1f} s = {rate:.0f} sessions/s "
          f"({IN_FLIGHT} requests in flight, one Python grpcio client)")
    print(f"    FIGURE: rtpproxy VmRSS {rss0 / 2**20:.1f} MiB before, {rss1 / 2**20:.1f} MiB "
          f"after: {(rss1 - rss0) / max(done, 1):.0f} bytes per session (what creating them "
          f"touched; the tables sized by max_sessions are allocated at start-up)")
    ctx["rate"], ctx["rss_per"] = rate, (rss1 - rss0) / max(done, 1)
    t.check(not timed_out, f"creation finished within {CREATE_BOUND:.0f} s",
            f"stopped at {done} after {elapsed:.0f} s")
    t.check(not failed, "every CreateSession succeeded", "; ".join(failed[:5]))
    t.eq(done, N, f"{N} sessions created")
    ps = app.proxy_stats()
    t.eq(ps.sessions_active, N, "GetProxyStats.sessions_active")
    code, det, _ = lab.rpc_status(app.stub.CreateSession,
                                  udp_session("one-more", (LISTEN_ADDRS[0], 9000),
                                              (FORWARD_ADDRS[0], 9000), (DST_ADDR, 39000)))
    t.eq(code.name, "RESOURCE_EXHAUSTED", f"session {N + 1} -> RESOURCE_EXHAUSTED")


def test_list(t, app, ctx):
    pb = lab.pb2()
    seen = []
    token = ""
    t0 = time.monotonic()
    pages = 0
    for _ in range(N // 1000 + 5):          # bounded: 100 pages expected
        r = app.stub.ListSessions(pb.ListSessionsRequest(page_size=1000, page_token=token),
                                  timeout=60)
        pages += 1
        seen.extend(s.session_id for s in r.sessions)
        token = r.next_page_token
        if not token:
            break
    el = time.monotonic() - t0
    print(f"    FIGURE: listed {len(seen)} sessions in {pages} pages of 1000 in {el:.1f} s")
    t.eq(len(seen), N, f"ListSessions pages hold exactly {N} sessions")
    t.eq(len(set(seen)), len(seen), "no duplicates")
    t.check(seen == [sid(i) for i in range(N)], "every id, in creation order")
    t.eq(token, "", "next_page_token empty at the end")


def test_relay(t, L, app, ctx):
    i = N - 1                                 # the last one created
    listen, fwd, dest = eps(i)
    tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    rx = lab.udp_socket(L, "dst", bind=dest)
    try:
        pk = [lab.rtp_packet(s, s * 160, 0xCA9, payload=lab.payload_for("cap", s))
              for s in range(1000)]
        got = lab.relay_exact(tx, rx, listen, pk)
        t.eq(len(got), 1000, f"{sid(i)} relays exactly 1000 packets among {N} sessions")
        t.check([d for d, _ in got] == pk, "byte-identical and in order")
        t.eq({a for _, a in got}, {fwd}, f"from its forward endpoint {fwd[0]}:{fwd[1]}")
        st = app.session(sid(i)).stats
        t.eq((st.packets_received, st.packets_sent), (1000, 1000), "its stats: 1000 / 1000")
        other = app.session(sid(0)).stats
        t.eq(other.packets_received, 0, f"{sid(0)} saw none of it")
    finally:
        tx.close()
        rx.close()


def test_stop(t, app, ctx):
    t0 = time.monotonic()
    rc = app.stop()
    el = time.monotonic() - t0
    print(f"    FIGURE: SIGTERM to exit with {ctx.get('created', 0)} sessions: {el:.1f} s")
    t.eq(rc, 0, "rtpproxy exit code 0")
    t.check(el <= HARNESS_STOP_BOUND, f"shutdown within the harness's default bound "
            f"({HARNESS_STOP_BOUND:.0f} s)", f"took {el:.1f} s")


def body(t):
    with lab.Lab() as L:
        # stop_timeout above the bound checked in test_stop, so a slow shutdown is measured
        with lab.Appliance(L, config=CONFIG, start_timeout=60, stop_timeout=120) as app:
            ctx = {}
            t.run(f"create {N} sessions", test_create, t, app, ctx)
            if ctx.get("created"):
                t.run("list them all, 1000 a page", test_list, t, app, ctx)
                t.run("the data plane still relays exactly", test_relay, t, L, app, ctx)
            t.run("clean shutdown on SIGTERM", test_stop, t, app, ctx)


if __name__ == "__main__":
    lab.main_wrapper("sess_capacity", body)
