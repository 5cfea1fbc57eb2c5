#!/usr/bin/python3
"""e2e_state_outage: Redis goes away and comes back empty (issue 12; API.md 1.6).

The appliance with [state] backend = redis (instance "outage", checkpoint_secs 1,
max_sessions 2048: a queue of 4096 changes) and 500 sessions written through.
- Redis stopped: within 5 s StateBackendStats.up is false (and /metrics says
  rtpproxy_state_backend_up 0, rtpproxy_state_queue_depth 4096 once the changes filled it).
- Meanwhile 1500 sessions are created, 1000 destroyed, 1000 created, destroyed and 1000
  created again (5500 changes: more than the queue holds, which must then be full) - every RPC
  succeeds - while 3 sessions relay 200 packets each,
  exactly. CreateSession latency (sequential calls) with Redis up and with it away: printed
  (not asserted: a shared 2-core VM).
- Redis started again, empty: within 20 s the store matches the appliance key by key (ids,
  definitions, no key left over, none half-written), up is true again, a full resync was
  counted, and the log holds exactly one "Redis ... is away" WARNING for the outage.
- Stopped (SIGTERM: the 2000 stay in the store), Redis saved and stopped, the appliance started
  again with restore_wait_secs 2: health is not SERVING at first, SERVING after 2 s with a
  WARNING; meanwhile one session takes a stored session's listen port and one a stored
  session's id; Redis started again (with its data): the 1998 that do not conflict come back,
  the port's owner is left out (its key deleted), the id holds the new session, and the store
  matches the appliance key by key.
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
import state_util as su  # noqa: E402
import test_metrics  # noqa: E402  (its HTTP client into the dut namespace)
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402
from redis_lab import RedisLab  # noqa: E402

INSTANCE = "outage"
EXTRA = {"sessions": {"max_sessions": "2048"}}
N_RELAY, PKTS = 3, 200


def req(name, i):
    return udp_session(f"{name}-{i:05d}", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                       (DST_ADDR, 40000 + i % 20000))


def latency_ms(app, name, n):
    """n sequential CreateSession calls: their latencies in ms (the sessions stay)."""
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        app.stub.CreateSession(req(name, i))
        out.append((time.perf_counter() - t0) * 1000)
    return out


def relay(t, L, app, ctx, what):
    bad = []
    for k in range(N_RELAY):
        sid = f"relay-{k}"
        s = app.session(sid)
        got = lab.relay_exact(ctx["cli"], ctx["dst"][k], su.ep(s.listen_endpoint),
                              [lab.rtp_packet(i, i, 0xAB, payload=lab.payload_for(sid, i, 100))
                               for i in range(PKTS)], settle=0.05)
        if len(got) != PKTS:
            bad.append(f"{sid}: {len(got)}")
    t.eq(bad, [], f"{what}: {N_RELAY} sessions relayed {PKTS} packets each, exactly")


def late_restore(t, L, rl):
    """Redis away at start (its data saved): serve after restore_wait_secs, restore later."""
    stored = su.store_sessions(rl, INSTANCE)
    t.eq(len(stored), 2000, "2000 sessions in the store")
    port_owner = "out3-00000"
    taken_port = stored[port_owner][0].request.listen_endpoint.port
    rl.client.save()            # the store survives this stop (dump.rdb, loaded at start)
    rl.stop()
    cfg = su.state_config(rl, INSTANCE, restore_wait_secs=2, extra=EXTRA)
    app = lab.Appliance(L, cfg, name="late")
    t0 = time.monotonic()
    app.start()
    status, serving = su.health_check(app)
    t.check(status() != serving, "Redis away at start: health is not SERVING yet")
    t.check(lab.wait_until(lambda: status() == serving, 10, interval=0.05),
            "SERVING without the stored sessions once restore_wait_secs passed")
    waited = time.monotonic() - t0
    t.check(waited >= 1.8, "not before restore_wait_secs (2 s)", f"after {waited:.2f} s")
    t.check("did not answer within restore_wait_secs" in app.log_text(),
            "a WARNING says it serves without them")
    pb = lab.pb2()
    # meanwhile: one session takes a stored session's listen port, one a stored session's id
    app.stub.CreateSession(udp_session("late-a", (DUT0_ADDR, taken_port), (DUT1_ADDR, 15001),
                                       (DST_ADDR, 38000)))
    app.stub.CreateSession(udp_session("out3-00001", (DUT0_ADDR, 15000), (DUT1_ADDR, 15000),
                                       (DST_ADDR, 38001)))
    rl.start()
    t.check(lab.wait_until(lambda: su.backend(app).restored_sessions == 1998, 20),
            "Redis back: the 1998 that do not conflict are restored",
            f"restored_sessions {su.backend(app).restored_sessions}")
    live = su.list_all(app)
    t.check(port_owner not in live, f"{port_owner} (its port taken meanwhile) is left out")
    t.eq(live["out3-00001"].destination_endpoint.port, 38001,
         "out3-00001 is the session created meanwhile, not the stored one")
    t.eq(sum(1 for x in live.values() if x.state != pb.SESSION_STATE_CLOSED), 2000,
         "2000 sessions run (1998 restored + 2 new)")
    diffs, secs = su.wait_store_matches(app, rl, INSTANCE, 20)
    t.eq(diffs, [], "the store matches the appliance key by key (the left-out key deleted, "
         "the id taken meanwhile holds the new session)")
    t.eq(app.stop(), 0, "SIGTERM: exit 0")


def body(t):
    with lab.Lab() as L, RedisLab(L) as rl:
        cfg = su.state_config(rl, INSTANCE, extra=EXTRA)
        socks = []
        try:
            with lab.Appliance(L, cfg) as app:
                run(t, L, rl, app, socks)
        finally:
            for s in socks:
                s.close()
        t.run("Redis unreachable at start: serve, restore those that do not conflict later",
              late_restore, t, L, rl)


def run(t, L, rl, app, socks):
    ctx = {"cli": lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0)), "dst": []}
    socks.append(ctx["cli"])
    for k in range(N_RELAY):
        app.stub.CreateSession(udp_session(f"relay-{k}", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                                           (DST_ADDR, 39000 + k)))
        ctx["dst"].append(lab.udp_socket(L, "dst", bind=(DST_ADDR, 39000 + k)))
        socks.append(ctx["dst"][-1])
    made, failed = su.create_many(app, [req("base", i) for i in range(300)])
    t.eq(failed, [], "300 sessions created with Redis up")
    up_lat = latency_ms(app, "lat-up", 197)
    diffs, secs = su.wait_store_matches(app, rl, INSTANCE, 10)
    t.eq(diffs, [], f"500 sessions: the store matches the appliance ({secs:.1f} s)")
    t.check(su.backend(app).up, "StateBackendStats.up with Redis running")

    rl.stop()
    t.check(lab.wait_until(lambda: not su.backend(app).up, 5), "Redis stopped: up turns false "
            "within 5 s")
    down_lat = latency_ms(app, "lat-down", 200)
    relay(t, L, app, ctx, "Redis away")
    made, failed = su.create_many(app, [req("out1", i) for i in range(1300)])
    t.eq(failed, [], "1300 more created while Redis is away")
    gone = [f"base-{i:05d}" for i in range(300)] + [f"out1-{i:05d}" for i in range(700)]
    t.eq(su.destroy_many(app, gone), [], "1000 destroyed while Redis is away")
    made, failed = su.create_many(app, [req("out2", i) for i in range(1000)])
    t.eq(failed, [], "1000 created again while Redis is away")
    t.eq(su.destroy_many(app, [f"out2-{i:05d}" for i in range(1000)]), [],
         "those 1000 destroyed again")
    made, failed = su.create_many(app, [req("out3", i) for i in range(1000)])
    t.eq(failed, [], "1000 more created")
    st = su.backend(app)
    t.check(not st.up and st.queue_depth > 0, "still down, changes queued",
            f"up {st.up}, queue_depth {st.queue_depth}")
    print(f"    FIGURE: CreateSession latency, Redis up: median {statistics.median(up_lat):.2f} "
          f"ms, p95 {sorted(up_lat)[int(len(up_lat) * .95)]:.2f} ms; Redis away: median "
          f"{statistics.median(down_lat):.2f} ms, p95 "
          f"{sorted(down_lat)[int(len(down_lat) * .95)]:.2f} ms (sequential calls)")
    status, _, text = test_metrics.get(L, "/metrics")
    m = test_metrics.parse_metrics(text)
    t.check(status == 200 and m.get("rtpproxy_state_backend_up") == 0 and
            m.get("rtpproxy_state_queue_depth") == 4096 and
            m.get('rtpproxy_state_role{role="active"}') == 1,
            "/metrics: rtpproxy_state_backend_up 0, rtpproxy_state_queue_depth 4096, active",
            f"HTTP {status}, " + ", ".join(f"{k} {v}" for k, v in m.items() if "state_" in k))
    print(f"    FIGURE: queue depth during the outage {st.queue_depth}")
    t.eq(st.queue_depth, 4096, "the queue filled up (4096): a full resync is due")

    rl.start()          # empty: nothing was persisted
    t0 = time.monotonic()
    diffs, secs = su.wait_store_matches(app, rl, INSTANCE, 20)
    t.eq(diffs, [], "Redis back (empty): the store matches the appliance key by key within "
         "20 s")
    print(f"    FIGURE: store caught up {time.monotonic() - t0:.1f} s after Redis returned")
    n_live = sum(1 for s in su.list_all(app).values()
                 if s.state != lab.pb2().SESSION_STATE_CLOSED)
    t.eq(n_live, 2000, "2000 sessions run (3 + 300 + 197 + 200 + 1300 - 1000 + 1000 - 1000 + 1000)")
    st = su.backend(app)
    t.check(st.up and st.resyncs_total >= 1, "up again, a full resync counted",
            f"up {st.up}, resyncs_total {st.resyncs_total}")
    t.check(rl.client.xlen("rtpproxy:" + INSTANCE + "#changes") > 0,
            "the #changes stream is written again")
    m = test_metrics.parse_metrics(test_metrics.get(L, "/metrics")[2])
    t.check(m.get("rtpproxy_state_backend_up") == 1 and
            0 <= m.get("rtpproxy_state_last_checkpoint_age_seconds", -1) < 5,
            "/metrics: rtpproxy_state_backend_up 1, a checkpoint less than 5 s old",
            ", ".join(f"{k} {v}" for k, v in m.items() if "state_" in k))
    relay(t, L, app, ctx, "Redis back")
    warnings = app.log_text().count("is away")
    t.eq(warnings, 1, "one WARNING for the outage")
    t.eq(app.stop(), 0, "SIGTERM: exit 0")
    t.eq(len(rl.session_keys("rtpproxy:", INSTANCE)), 2000, "every session kept in the store")


if __name__ == "__main__":
    lab.main_wrapper("state_outage", body)
