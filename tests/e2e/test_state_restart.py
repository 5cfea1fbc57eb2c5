#!/usr/bin/python3
"""e2e_state_restart: sessions survive a restart through Redis (issue 12; API.md 1.6).

A fresh redis-server (redis_lab.py) in the dut namespace; the appliance with [state] backend =
redis, instance "restart", checkpoint_secs 1. 10 000 sessions with allocated ports: UDP one-way
(labels on some), 20 bidirectional whose clients have sent (latched), 3 TCP.
- Before: a sample of 20 one-way sessions relays 30 packets each exactly; each bidirectional
  client sends 5 and gets 5 answers; each TCP session echoes; the store matches the appliance
  key by key (ids, endpoints, options, labels, state, created time).
- SIGTERM: exit 0; every key stays (10 000), each with its definition and its counters.
- Start again with the same config: health turns SERVING with every session back - the same
  ids, endpoints, options, labels, states (ACTIVE stays ACTIVE), created_unix_ms and latched
  sources; counters where the checkpoint left them (SIGTERM writes a last one: exactly);
  sessions_created_total 0, StateBackendStats.restored_sessions 10 000; an event stream opened
  now gets the session in its snapshot, an every-session one gets each of the 10 000 exactly
  once in its snapshot. The restore time (process start -> SERVING) is printed.
- After: the sample relays 30 more each exactly (counters 60); each bidirectional session's
  destination sends first and its latched client gets exactly those 5 (it never sent since);
  each TCP session echoes through a new connection.
"""
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
import state_util as su  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402
from redis_lab import RedisLab  # noqa: E402

N = int(os.environ.get("STATE_RESTART_N", "10000"))
N_BIDIR, N_TCP, N_SAMPLE = 20, 3, 20
N_ONEWAY = N - N_BIDIR - N_TCP
PKTS = 30
INSTANCE = "restart"
CONFIG_EXTRA = {"sessions": {"max_sessions": str(max(N * 2, 1000))}}


def oneway_req(i):
    labels = {"kind": "oneway", "n": str(i)} if i % 10 == 0 else {}
    return udp_session(f"ow-{i:05d}", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                       (DST_ADDR, 40000 + i % 20000), labels=labels)


def bidir_req(j):
    return udp_session(f"bd-{j:02d}", (DUT0_ADDR, 0), (DUT1_ADDR, 0), (DST_ADDR, 30000 + j),
                       bidirectional=True, labels={"kind": "bidir"})


def tcp_req(k):
    pb = lab.pb2()
    return pb.CreateSessionRequest(
        session_id=f"tcp-{k}", transport=pb.TRANSPORT_TCP,
        listen_endpoint=lab.endpoint(DUT0_ADDR, 0), forward_endpoint=lab.endpoint(DUT1_ADDR, 0),
        destination_endpoint=lab.endpoint(DST_ADDR, 45000 + k))


def pkt(tag, i):
    return lab.rtp_packet(i, i * 160, 0x5E55, payload=lab.payload_for(tag, i, 160))


class Echo:
    """A TCP echo server in the dst namespace: accepts connections (a thread), echoes each
    until EOF. Bounded: every socket has a timeout, the thread ends on close()."""

    def __init__(self, L, port):
        self.sock = L.socket_in("dst", socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((DST_ADDR, port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            c.settimeout(5)
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            finally:
                c.close()

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


def tcp_echo(L, port, data):
    """Connect from cli to the appliance's DUT0_ADDR:PORT, send DATA, half-close, read all."""
    s = L.socket_in("cli", socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((DUT0_ADDR, port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            d = s.recv(65536)
            if not d:
                break
            got += d
        return got
    except OSError as e:
        return f"error {e}".encode()
    finally:
        s.close()


def relay_sample(t, L, ctx, infos, base, what):
    """PKTS packets to each sampled one-way session; exactly PKTS each at its destination."""
    bad = []
    for sid in ctx["sample"]:
        s = infos[sid]
        dst = ctx["dst"][sid]
        tx = ctx["cli"]
        got = lab.relay_exact(tx, dst, su.ep(s.listen_endpoint),
                              [pkt(sid, base + i) for i in range(PKTS)], settle=0.05)
        if len(got) != PKTS or {a for _, a in got} != {su.ep(s.forward_endpoint)}:
            bad.append(f"{sid}: {len(got)}")
    t.eq(bad, [], f"{what}: each of the {N_SAMPLE} sampled sessions relayed exactly {PKTS}")


def bidir_forward(t, L, ctx, infos):
    bad = []
    for j in range(N_BIDIR):
        sid = f"bd-{j:02d}"
        s = infos[sid]
        c, d = ctx["bcli"][sid], ctx["bdst"][sid]
        got = lab.relay_exact(c, d, su.ep(s.listen_endpoint), [pkt(sid, i) for i in range(5)],
                              settle=0.05)
        back = lab.relay_exact(d, c, su.ep(s.forward_endpoint),
                               [pkt(sid + "r", i) for i in range(5)], settle=0.05)
        if len(got) != 5 or len(back) != 5:
            bad.append(f"{sid}: {len(got)} forward, {len(back)} back")
    t.eq(bad, [], f"{N_BIDIR} bidirectional sessions: 5 forward and 5 answers each, latched")


def test_before(t, L, app, rl, ctx):
    t0 = time.monotonic()
    reqs = [oneway_req(i) for i in range(N_ONEWAY)] + [bidir_req(j) for j in range(N_BIDIR)] + \
        [tcp_req(k) for k in range(N_TCP)]
    made, failed = su.create_many(app, reqs)
    print(f"    FIGURE: created {len(made)} sessions in {time.monotonic() - t0:.1f} s")
    t.eq(failed, [], "every CreateSession succeeded")
    infos = {s.session_id: s for s in made}
    ctx["infos"] = infos
    ctx["cli"] = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    ctx["socks"].append(ctx["cli"])
    step = max(1, N_ONEWAY // N_SAMPLE)
    ctx["sample"] = [f"ow-{i:05d}" for i in range(0, step * N_SAMPLE, step)]
    ctx["dst"] = {}
    for sid in ctx["sample"]:
        ctx["dst"][sid] = lab.udp_socket(L, "dst", bind=su.ep(infos[sid].destination_endpoint))
        ctx["socks"].append(ctx["dst"][sid])
    ctx["bcli"], ctx["bdst"] = {}, {}
    for j in range(N_BIDIR):
        sid = f"bd-{j:02d}"
        ctx["bcli"][sid] = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
        ctx["bdst"][sid] = lab.udp_socket(L, "dst", bind=(DST_ADDR, 30000 + j))
        ctx["socks"] += [ctx["bcli"][sid], ctx["bdst"][sid]]
    ctx["echo"] = [Echo(L, 45000 + k) for k in range(N_TCP)]
    relay_sample(t, L, ctx, infos, 0, "before")
    bidir_forward(t, L, ctx, infos)
    bad = [k for k in range(N_TCP) if tcp_echo(L, infos[f"tcp-{k}"].listen_endpoint.port,
                                               b"hello %d" % k) != b"hello %d" % k]
    t.eq(bad, [], f"{N_TCP} TCP sessions echo")
    diffs, secs = su.wait_store_matches(app, rl, INSTANCE, 20)
    t.eq(diffs, [], f"the store matches the appliance key by key ({secs:.1f} s after)")


def test_sigterm(t, L, app, rl, ctx):
    # the sample's counters as the appliance has them: the last checkpoint must carry them
    ctx["before"] = su.list_all(app)
    t0 = time.monotonic()
    t.eq(app.stop(), 0, "SIGTERM: exit 0")
    print(f"    FIGURE: SIGTERM with {N} sessions took {time.monotonic() - t0:.2f} s")
    stored = su.store_sessions(rl, INSTANCE)
    t.eq(len(stored), N, f"all {N} keys kept in the store")
    t.eq(sum(1 for d, c in stored.values() if d is None or c is None), 0,
         "each with its definition and its counters")
    before = ctx["before"]
    bad = [sid for sid in ctx["sample"]
           if stored[sid][1].stats.packets_received != before[sid].stats.packets_received]
    t.eq(bad, [], "the last checkpoint holds the sample's counters as they were")


def test_restart(t, L, rl, ctx):
    cfg = su.state_config(rl, INSTANCE, extra=CONFIG_EXTRA)
    app = lab.Appliance(L, cfg, name="second", start_timeout=60)
    ctx["app2"] = app
    t0 = time.monotonic()
    app.start()
    status, serving = su.health_check(app)
    ok = lab.wait_until(lambda: status() == serving, 60, interval=0.02)
    restore_s = time.monotonic() - t0
    t.check(ok, "health turns SERVING")
    m = re.search(r"restored (\d+) session\(s\).* in (\d+) ms", app.log_text())
    print(f"    FIGURE: restore of {N} sessions: process start -> SERVING {restore_s:.2f} s"
          + (f" (restore itself {m.group(2)} ms)" if m else ""))
    t.check(m is not None and int(m.group(1)) == N, f"the log says {N} sessions restored",
            m.group(0) if m else "no such line")
    after = su.list_all(app)
    before = ctx["before"]
    t.eq(sorted(after), sorted(before), f"the same {N} ids")
    bad = [sid for sid in before if su.definition(after.get(sid, before[sid])) !=
           su.definition(before[sid]) or sid not in after]
    t.eq(bad[:5], [], "same endpoints, options, labels, states and created_unix_ms")
    bad = [sid for sid in before if su.ep(after[sid].latched_source) !=
           su.ep(before[sid].latched_source)]
    t.eq(bad[:5], [], "same latched sources")
    pb = lab.pb2()
    t.eq(sum(1 for s in after.values() if s.state == pb.SESSION_STATE_ACTIVE),
         sum(1 for s in before.values() if s.state == pb.SESSION_STATE_ACTIVE),
         "as many ACTIVE as before (ACTIVE stays ACTIVE)")
    bad = [sid for sid in ctx["sample"] if after[sid].stats.packets_received !=
           before[sid].stats.packets_received or after[sid].stats.bytes_sent !=
           before[sid].stats.bytes_sent]
    t.eq(bad, [], "counters resume from the last checkpoint (the sample: exactly)")
    ps = app.proxy_stats()
    t.eq(ps.sessions_created_total, 0, "restored sessions are not counted as created")
    t.eq(ps.sessions_active, N, f"sessions_active {N}")
    t.eq(ps.state.restored_sessions, N, f"StateBackendStats.restored_sessions {N}")
    t.check(ps.state.up and ps.state.backend == "redis" and ps.state.role == "active",
            "StateBackendStats: redis, up, active", str(ps.state))
    stream = app.stub.StreamSessionEvents(pb.StreamSessionEventsRequest(session_id="bd-00"),
                                          timeout=5)
    ev = next(iter(stream))
    t.check(ev.WhichOneof("event") == "created" and ev.created.session.session_id == "bd-00"
            and ev.created.session.state == pb.SESSION_STATE_ACTIVE,
            "a stream opened now gets the restored session in its snapshot (ACTIVE)", str(ev))
    stream.cancel()
    # an every-session stream: each restored session exactly once in its snapshot (nothing
    # else happens to them: only the snapshot's created events come)
    every = app.stub.StreamSessionEvents(pb.StreamSessionEventsRequest(), timeout=60)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(
        e.session_id for e in every if e.WhichOneof("event") == "created"), daemon=True)
    reader.start()
    full = lab.wait_until(lambda: len(seen) >= N, 30, interval=0.05)
    # duplicates would follow at once: the snapshot is paced, not delayed
    lab.wait_until(lambda: len(seen) > N, 1, interval=0.05)
    every.cancel()
    reader.join(5)
    t.check(full, f"an every-session stream opened after the restart: {N} in its snapshot",
            f"{len(seen)} created events")
    t.eq(len(seen), N, "each restored session exactly once (count)")
    t.eq(sorted(seen), sorted(before), "each restored session exactly once (ids)")


def test_after(t, L, rl, ctx):
    app = ctx["app2"]
    infos = ctx["infos"]
    relay_sample(t, L, ctx, infos, PKTS, "after the restart")
    got = {sid: app.session(sid).stats.packets_received for sid in ctx["sample"]}
    t.eq({k: v for k, v in got.items() if v != 2 * PKTS}, {},
         f"the sample's packets_received: {2 * PKTS} (checkpoint + since)")
    bad = []
    for j in range(N_BIDIR):
        sid = f"bd-{j:02d}"
        s = infos[sid]
        c, d = ctx["bcli"][sid], ctx["bdst"][sid]
        lab.drain(c)
        rev = [pkt(sid + "R", i) for i in range(5)]
        for p in rev:
            d.sendto(p, su.ep(s.forward_endpoint))
        got = lab.recv_all(c, 5, 3)
        time.sleep(0.05)
        got += lab.drain(c)
        if [g for g, _ in got] != rev or {a for _, a in got} != {su.ep(s.listen_endpoint)}:
            bad.append(f"{sid}: {len(got)}")
    t.eq(bad, [], f"{N_BIDIR} bidirectional: the destination's 5 reach the latched client "
         "before it sends again")
    bad = [k for k in range(N_TCP) if tcp_echo(L, infos[f"tcp-{k}"].listen_endpoint.port,
                                               b"again %d" % k) != b"again %d" % k]
    t.eq(bad, [], f"{N_TCP} TCP sessions echo through a new connection")
    t.eq(app.stop(), 0, "SIGTERM again: exit 0")


def body(t):
    with lab.Lab() as L, RedisLab(L) as rl:
        ctx = {"socks": [], "echo": []}
        cfg = su.state_config(rl, INSTANCE, extra=CONFIG_EXTRA)
        try:
            with lab.Appliance(L, cfg, start_timeout=60) as app:
                t.run(f"{N} sessions created, relaying, written through", test_before,
                      t, L, app, rl, ctx)
                t.run("SIGTERM keeps them in the store", test_sigterm, t, L, app, rl, ctx)
            if "before" in ctx:
                t.run("started again: every session back before SERVING", test_restart,
                      t, L, rl, ctx)
            if "app2" in ctx and ctx["app2"].running():
                t.run("restored sessions relay at once", test_after, t, L, rl, ctx)
        finally:
            if "app2" in ctx and ctx["app2"].running():
                ctx["app2"].stop()
            for e in ctx["echo"]:
                e.close()
            for s in ctx["socks"]:
                s.close()


if __name__ == "__main__":
    lab.main_wrapper("state_restart", body)
