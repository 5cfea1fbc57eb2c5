#!/usr/bin/python3
"""e2e_events: StreamSessionEvents against the real rtpproxy in the lab.

Two streams, one for every session and one for a session id chosen in advance, see a session
live through CREATED -> CONNECTING -> ACTIVE (50 real RTP packets) -> CLOSED in API.md's exact
order, with StatsUpdates every 200 ms that show the packets and stop at `closed`. A stream for an
unknown id fails with NOT_FOUND. A client cancelled mid-stream and an `rtpproxyctl watch` killed
with SIGKILL leave the proxy serving. Finally SIGTERM with streams open: each gets
state_changed(-> CLOSED) and closed{reason "shutdown"} for the open session, then status OK.
"""
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

N = 50
SSRC = 0x5EED0E00
INTERVAL_MS = 200
STREAM_TIMEOUT = 120        # deadline of every stream: bounded even if a check goes wrong


def wait_for(fn, timeout, step=0.05):
    """FN() every STEP seconds until it is true or TIMEOUT passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


class Reader:
    """One StreamSessionEvents call read by its own thread: .events as they came, then .code."""

    def __init__(self, stub, name, session_id="", interval=0):
        pb = lab.pb2()
        self.name = name
        self.events = []
        self.code = None
        self.details = ""
        self.done = threading.Event()
        self._lock = threading.Lock()
        req = pb.StreamSessionEventsRequest(session_id=session_id, stats_interval_ms=interval)
        self.call = stub.StreamSessionEvents(req, timeout=STREAM_TIMEOUT)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import grpc
        try:
            for ev in self.call:
                with self._lock:
                    self.events.append(ev)
            self.code = grpc.StatusCode.OK
        except grpc.RpcError as e:
            self.code, self.details = e.code(), e.details() or ""
        self.done.set()

    def of(self, session_id):
        with self._lock:
            return [e for e in self.events if e.session_id == session_id]

    def wait_closed(self, session_id, timeout=5):
        return wait_for(lambda: any(e.WhichOneof("event") == "closed"
                                    for e in self.of(session_id)), timeout)

    def finish(self, timeout=10):
        self.done.wait(timeout)
        return self.done.is_set()


def state(v):
    return lab.pb2().SessionState.Name(v).replace("SESSION_STATE_", "")


def summary(e):
    """An event as a short tuple, e.g. ("changed", "CREATED", "CONNECTING")."""
    kind = e.WhichOneof("event")
    if kind == "created":
        return ("created", state(e.created.session.state))
    if kind == "state_changed":
        return ("changed", state(e.state_changed.old_state), state(e.state_changed.new_state))
    if kind == "closed":
        return ("closed", e.closed.reason)
    if kind == "error":
        return ("error", e.error.message)
    return (kind,)


def lifecycle(events):
    return [summary(e) for e in events if e.WhichOneof("event") != "stats_update"]


def check_bracketed(t, r, sid):
    """created first, closed last: StatsUpdates only in between."""
    s = [summary(e) for e in r.of(sid)]
    t.check(s and s[0][0] == "created" and s[-1][0] == "closed",
            f"{r.name}: {sid} starts with created and ends with closed (no StatsUpdate after)",
            str(s[:2] + ["..."] + s[-2:]))


def sync_stream(t, app, r, probe_port):
    """Make sure the server has the all-sessions stream R: a probe session must reach it."""
    pb = lab.pb2()
    sid = f"probe-{probe_port}"
    app.stub.CreateSession(udp_session(sid, (DUT0_ADDR, probe_port), (DUT1_ADDR, probe_port),
                                       (DST_ADDR, probe_port)))
    app.stub.DestroySession(pb.DestroySessionRequest(session_id=sid))
    t.check(r.wait_closed(sid), f"{r.name}: subscribed (saw the probe session close)")


def test_not_found(t, app, stub):
    import grpc
    r = Reader(stub, "unknown", "no-such-session")
    r.finish()
    t.eq(r.code, grpc.StatusCode.NOT_FOUND, "stream for an unknown session_id -> NOT_FOUND")
    t.check("session_id" in r.details, "the message names session_id", r.details)


def test_lifecycle(t, L, app, stub, ctx):
    pb = lab.pb2()
    listen, forward, dest = (DUT0_ADDR, 20000), (DUT1_ADDR, 30000), (DST_ADDR, 40000)
    a = ctx["A"] = Reader(stub, "all", "", INTERVAL_MS)
    sync_stream(t, app, a, 21000)
    app.stub.CreateSession(udp_session("ev-1", listen, forward, dest))
    p = ctx["P"] = Reader(stub, "ev-1", "ev-1", INTERVAL_MS)
    t.check(wait_for(lambda: p.of("ev-1"), 5), "ev-1 stream: first event arrived")

    tx = ctx["tx"] = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    rx = ctx["rx"] = lab.udp_socket(L, "dst", bind=dest)
    pkts = [lab.rtp_packet(i, i * 160, SSRC, payload=lab.payload_for("ev", i)) for i in range(N)]
    got = lab.relay_exact(tx, rx, listen, pkts)
    t.eq(len(got), N, f"{N} RTP packets relayed")

    # StatsUpdates every 200 ms: counted over 1.2 s of arrivals, and the packets in them
    t0 = time.monotonic()
    n0 = len([e for e in p.of("ev-1") if e.WhichOneof("event") == "stats_update"])
    time.sleep(1.2)
    upd = [e for e in p.of("ev-1") if e.WhichOneof("event") == "stats_update"]
    n = len(upd) - n0
    # tolerance: 6 are due in 1.2 s; the server ticks every <= 10 ms, Python's thread and the
    # sleep add jitter, so 5..7 count as the cadence
    t.check(5 <= n <= 7, f"ev-1 stream: {n} StatsUpdates in 1.2 s at {INTERVAL_MS} ms (5..7)",
            f"{n} in {time.monotonic() - t0:.2f} s")
    ts = [e.timestamp_unix_ms for e in upd]
    if len(ts) >= 3:
        gap = (ts[-1] - ts[0]) / (len(ts) - 1)
        t.check(170 <= gap <= 230, f"StatsUpdates {gap:.0f} ms apart on average (170..230)")
    last = upd[-1].stats_update.stats if upd else None
    t.check(last is not None and last.packets_received == N and last.packets_sent == N,
            f"latest StatsUpdate shows {N} packets received and sent",
            str(last).replace("\n", " ") if last else "none")
    a_upd = [e for e in a.of("ev-1") if e.WhichOneof("event") == "stats_update"]
    t.check(len(a_upd) >= 5, "all-sessions stream: StatsUpdates for ev-1 too", str(len(a_upd)))

    d = app.stub.DestroySession(pb.DestroySessionRequest(session_id="ev-1")).session
    t.eq(state(d.state), "CLOSED", "DestroySession -> CLOSED")
    t.check(a.wait_closed("ev-1") and p.wait_closed("ev-1"), "both streams got closed for ev-1")
    time.sleep(1.0)         # anything after `closed` would show up now
    want_a = [("created", "CREATED"), ("changed", "CREATED", "CONNECTING"),
              ("changed", "CONNECTING", "ACTIVE"), ("changed", "ACTIVE", "CLOSED"),
              ("closed", "destroyed")]
    t.eq(lifecycle(a.of("ev-1")), want_a, "all-sessions stream: exact lifecycle of ev-1")
    t.eq(lifecycle(p.of("ev-1")), [("created", "CONNECTING")] + want_a[2:],
         "ev-1 stream (opened after create): snapshot created(CONNECTING), then live events")
    for r in (a, p):
        check_bracketed(t, r, "ev-1")
        closed = [e for e in r.of("ev-1") if e.WhichOneof("event") == "closed"]
        if closed:
            fs = closed[-1].closed.final_stats
            t.eq((fs.packets_received, fs.packets_sent), (N, N),
                 f"{r.name}: closed.final_stats {N}/{N}")
    live_a = [e.SerializeToString() for e in a.of("ev-1")
              if e.WhichOneof("event") != "stats_update"][2:]
    live_p = [e.SerializeToString() for e in p.of("ev-1")
              if e.WhichOneof("event") != "stats_update"][1:]
    t.check(live_a == live_p and len(live_a) == 3,
            "both streams got byte-identical live events (same timestamps)")
    import grpc
    t.check(p.finish(5), "ev-1 stream ended after its session's closed (API.md 1.1)")
    t.eq(p.code, grpc.StatusCode.OK, "ev-1 stream ended with OK")


def read_lines(proc, want, timeout):
    """Lines from PROC's stdout until WANT of them or TIMEOUT seconds."""
    out, buf = [], b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while len(out) < want and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        out += [x.decode(errors="replace") for x in lines]
    return out


def test_killed_clients(t, L, app, stub, ctx):
    import grpc
    pb = lab.pb2()
    a = ctx["A"]
    app.stub.CreateSession(udp_session("ev-2", (DUT0_ADDR, 20002), (DUT1_ADDR, 30002),
                                       (DST_ADDR, 40002)))
    k = Reader(stub, "cancelled", "", 100)
    t.check(wait_for(lambda: len(k.events) >= 3, 5), "cancelled stream: events arrived")
    k.call.cancel()
    k.finish()
    t.eq(k.code, grpc.StatusCode.CANCELLED, "client cancelled its stream mid-way")

    ctl = lab.BUILD_DIR / "control" / "rtpproxyctl"
    proc = subprocess.Popen([str(ctl), "--server", f"unix:{app.sock}", "watch",
                             "--interval", "300"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = read_lines(proc, 3, 5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        proc.stdout.close()
    for line in lines:
        print(f"    rtpproxyctl watch | {line}")
    t.check(len(lines) >= 3 and "ev-2" in lines[0] and "created" in lines[0]
            and any(" stats" in x for x in lines[1:]),
            "rtpproxyctl watch printed the snapshot and StatsUpdates (then was SIGKILLed)")

    # the proxy serves on; the first stream still gets everything
    ps = app.proxy_stats()
    t.eq(ps.sessions_active, 1, "GetProxyStats answers after the clients went away")
    app.stub.CreateSession(udp_session("ev-3", (DUT0_ADDR, 20004), (DUT1_ADDR, 30004),
                                       (DST_ADDR, 40004)))
    app.stub.DestroySession(pb.DestroySessionRequest(session_id="ev-3"))
    t.check(a.wait_closed("ev-3"), "all-sessions stream still gets events (ev-3)")
    t.eq(lifecycle(a.of("ev-3")), [("created", "CREATED"), ("changed", "CREATED", "CONNECTING"),
                                   ("changed", "CONNECTING", "CLOSED"), ("closed", "destroyed")],
         "ev-3 lifecycle on the all-sessions stream")


def test_shutdown(t, L, app, stub, ctx):
    import grpc
    a, p = ctx["A"], ctx["P"]
    tx = ctx["tx"]
    rx = ctx["rx2"] = lab.udp_socket(L, "dst", bind=(DST_ADDR, 40002))
    got = lab.relay_exact(tx, rx, (DUT0_ADDR, 20002), [lab.rtp_packet(0, 0, SSRC + 2)])
    t.eq(len(got), 1, "ev-2: one packet relayed")
    t.check(wait_for(lambda: ("changed", "CONNECTING", "ACTIVE") in lifecycle(a.of("ev-2")), 3),
            "ev-2 ACTIVE on the all-sessions stream")
    w = Reader(stub, "ev-2", "ev-2", 0)
    t.check(wait_for(lambda: w.of("ev-2"), 5), "ev-2 stream: snapshot arrived")

    t.eq(app.stop(), 0, "rtpproxy exits 0 on SIGTERM with streams open")
    for r in (a, w, p):
        t.check(r.finish(), f"{r.name}: stream ended")
        t.eq(r.code, grpc.StatusCode.OK, f"{r.name}: ended with OK")
    want = [("changed", "ACTIVE", "CLOSED"), ("closed", "shutdown")]
    t.eq(lifecycle(a.of("ev-2"))[-2:], want, "all-sessions stream: ev-2 ->CLOSED, closed{shutdown}")
    t.eq(lifecycle(w.of("ev-2")), [("created", "ACTIVE")] + want,
         "ev-2 stream: snapshot, ->CLOSED, closed{shutdown}")
    check_bracketed(t, a, "ev-2")
    t.eq(a.events[-1].WhichOneof("event"), "closed", "nothing after the last closed")
    t.eq(len(p.events), len(p.of("ev-1")), "ev-1 stream saw nothing of other sessions")
    log = app.log_text()
    ended = [x for x in log.splitlines() if "events: stream" in x and "ended:" in x]
    for x in ended:
        print(f"    log | {x.strip()}")
    t.check(len(ended) >= 5, "every stream's end is logged with sent/dropped counts",
            f"{len(ended)} lines")


def body(t):
    import grpc
    with lab.Lab() as L:
        with lab.Appliance(L) as app:
            # streams on their own channel: app.stop() closes the appliance's channel
            ch = grpc.insecure_channel(f"unix:{app.sock}")
            stub = lab.Stub(ch)
            ctx = {}
            try:
                t.run("stream for an unknown session", test_not_found, t, app, stub)
                t.run("lifecycle on two streams", test_lifecycle, t, L, app, stub, ctx)
                if "A" in ctx:
                    t.run("clients that go away", test_killed_clients, t, L, app, stub, ctx)
                    t.run("shutdown with streams open", test_shutdown, t, L, app, stub, ctx)
            finally:
                for k in ("tx", "rx", "rx2"):
                    if k in ctx:
                        ctx[k].close()
                ch.close()


if __name__ == "__main__":
    lab.main_wrapper("events", body)
