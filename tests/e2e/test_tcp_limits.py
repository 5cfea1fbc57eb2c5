#!/usr/bin/python3
"""e2e_tcp_limits: the TCP relay's limits of issue 9 (API.md 1.3 "Limits", "Destinations").

Kernel TCP peers on both sides, as in test_tcp.py: clients in the cli namespace connect to a
session's listen endpoint on port0 (198.18.1.1), the relay connects from port1's forward address
(198.18.2.1) to echo servers in the dst namespace (198.18.2.2). One appliance with
`[tcp] max_connections_per_session = 2`.

1. Per-session limit: three clients of one session, one after the other: the first two are
   relayed (each echoes 64 KiB of random data, sha256 equal, then EOF), the third is reset on
   arrival; the session stays ACTIVE, stats.packets_dropped counts the refused client (1), the
   log says why, and the destination saw exactly two connections.
2. Idle connections: a session with idle_timeout_secs 2 and two clients; one sends nothing,
   the other echoes a few bytes every 200 ms. The idle one is reset (RST) 2 s after its last
   byte (within 2..3.5 s), its destination leg is reset too, the busy one keeps relaying and the
   session stays ACTIVE.
3. Destination legs leave through the port that owns the forward address: with a route in the
   appliance's namespace that sends 198.18.2.2 through port0's TAP (rtp0), a TCP session's
   client is still relayed (the route is ignored: the leg is bound to rtp1), `ss` shows the
   destination leg bound to rtp1, and the destination saw it from 198.18.2.1.

Every exchange is bounded in bytes and time; waits poll with a deadline.
"""
import hashlib
import os
import selectors
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import DST_ADDR, DUT0_ADDR, DUT1_ADDR  # noqa: E402
from test_tcp import EchoServer, closed_within, state_name, wait_state  # noqa: E402

CONFIG = {"tcp": {"max_connections_per_session": "2", "connect_timeout_ms": "3000"}}
KiB = 1 << 10
LIMIT_PORT, IDLE_PORT, ROUTE_PORT = 40100, 40101, 40102
IDLE_SECS = 2
DEADLINE = 10                   # seconds any one exchange may take at most


def pb():
    return lab.pb2()


def ep(addr, port):
    return pb().Endpoint(address=addr, port=port)


def tcp_session(sid, listen_port, dest_port, **kw):
    return pb().CreateSessionRequest(
        session_id=sid, transport=pb().TRANSPORT_TCP, listen_endpoint=ep(DUT0_ADDR, listen_port),
        forward_endpoint=ep(DUT1_ADDR, 0), destination_endpoint=ep(DST_ADDR, dest_port), **kw)


def connect(L, port):
    s = L.socket_in("cli", socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((DUT0_ADDR, port))
    return s


def echo_once(s, msg, timeout=5):
    """Send MSG and read it back: True when exactly MSG came back."""
    s.settimeout(timeout)
    s.sendall(msg)
    got = bytearray()
    while len(got) < len(msg):
        d = s.recv(len(msg) - len(got))
        if not d:
            break
        got += d
    return bytes(got) == msg


def echo_bulk(socks, datas, timeout=DEADLINE):
    """Each socket sends its data, then shuts down writing, and reads until EOF (all at once,
    non-blocking, bounded): [(sha256 of what came back, how it ended)]."""
    sel = selectors.DefaultSelector()
    st = []
    for i, (s, d) in enumerate(zip(socks, datas)):
        s.setblocking(False)
        st.append({"sent": 0, "h": hashlib.sha256(), "end": None, "shut": False})
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
    live, deadline = len(socks), time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.1):
            i = key.data
            s, d, c = socks[i], datas[i], st[i]
            try:
                if ev & selectors.EVENT_WRITE and c["sent"] < len(d):
                    c["sent"] += s.send(d[c["sent"]:c["sent"] + 65536])
                if c["sent"] == len(d) and not c["shut"]:
                    s.shutdown(socket.SHUT_WR)
                    c["shut"] = True
                    sel.modify(s, selectors.EVENT_READ, i)
                if ev & selectors.EVENT_READ:
                    b = s.recv(65536)
                    if not b:
                        c["end"] = "eof"
                    c["h"].update(b)
            except (BlockingIOError, InterruptedError):
                pass
            except ConnectionResetError:
                c["end"] = "reset"
            if c["end"] is not None:
                sel.unregister(s)
                live -= 1
    sel.close()
    return [(c["h"].hexdigest(), c["end"] or "timeout") for c in st]


def test_per_session_limit(t, L, app, srv):
    sid, port = "tcp-limit", 21000
    app.stub.CreateSession(tcp_session(sid, port, LIMIT_PORT))
    a = connect(L, port)
    t.check(echo_once(a, b"first"), "client 1 relayed")
    b = connect(L, port)
    t.check(echo_once(b, b"second"), "client 2 relayed")
    c = connect(L, port)            # the kernel completes the handshake; the relay resets it
    t.eq(closed_within(c, 3), "reset", "client 3 (over max_connections_per_session = 2) reset")
    c.close()
    datas = [os.urandom(64 * KiB) for _ in range(2)]
    res = echo_bulk([a, b], datas)
    t.eq(res, [(hashlib.sha256(d).hexdigest(), "eof") for d in datas],
         "clients 1 and 2: 64 KiB each echoed (sha256 equal), then EOF")
    a.close()
    b.close()
    g = app.session(sid)
    t.eq(state_name(g.state), "SESSION_STATE_ACTIVE", "the session stays ACTIVE")
    t.eq(g.stats.packets_dropped, 1, "stats.packets_dropped counts the refused client")
    t.eq(g.stats.bytes_received, len(b"firstsecond") + 2 * 64 * KiB,
         "stats.bytes_received: what the two relayed clients sent")
    t.eq(len(srv.accepted), 2, "the destination saw exactly two connections")
    log = lab.wait_until(lambda: [ln for ln in app.log_text().splitlines()
                                  if "max_connections_per_session" in ln], 2)
    t.check(len(log) == 1 and "reset" in log[0], "one INFO log line says why",
            repr(log))
    app.stub.DestroySession(pb().DestroySessionRequest(session_id=sid))


def test_idle(t, L, app, srv):
    sid, port = "tcp-idle", 21001
    app.stub.CreateSession(tcp_session(sid, port, IDLE_PORT, idle_timeout_secs=IDLE_SECS))
    idle, busy = connect(L, port), connect(L, port)
    t.check(echo_once(busy, b"hello"), "the busy client relayed")
    t_send = time.monotonic()       # the idle client's last byte moves after this...
    t.check(echo_once(idle, b"hello"), "the idle client relayed")
    t0 = time.monotonic()           # ...and before this
    how, rounds = "open", 0
    while how == "open" and time.monotonic() - t0 < IDLE_SECS + 4:
        how = closed_within(idle, 0.2)
        if how == "open":
            rounds += 1 if echo_once(busy, b"tick %d" % rounds) else 0
    waited, early = time.monotonic() - t0, time.monotonic() - t_send
    print(f"    idle client reset after {waited:.2f} s; the busy one echoed {rounds} times "
          "meanwhile", flush=True)
    t.eq(how, "reset", "the idle client is reset")
    t.check(early >= IDLE_SECS - 0.005 and waited <= IDLE_SECS + 1.5,
            f"after the session's idle timeout ({IDLE_SECS} s), never before",
            f"{early:.3f} s after the last send, {waited:.3f} s after its echo")
    t.check(rounds >= 8, "the busy client kept relaying meanwhile", f"{rounds} exchanges")
    t.check(echo_once(busy, b"still here"), "the busy client still relays afterwards")
    ended = lab.wait_until(lambda: [c.end for c in srv.ended], 3)
    t.eq(ended, ["reset"], "the idle connection's destination leg was reset too")
    g = app.session(sid)
    t.eq(state_name(g.state), "SESSION_STATE_ACTIVE", "the session stays ACTIVE")
    busy.close()
    idle.close()
    app.stub.DestroySession(pb().DestroySessionRequest(session_id=sid))


def test_bound_to_port(t, L, app, srv):
    sid, port = "tcp-route", 21002
    # a route that would send the destination out of port0's TAP (towards the client network)
    L.exec("dut", "ip", "route", "add", f"{DST_ADDR}/32", "dev", "rtp0")
    try:
        route = L.exec("dut", "ip", "-o", "route", "get", DST_ADDR).stdout
        t.check(" dev rtp0 " in route, "the appliance's kernel routes 198.18.2.2 via rtp0 now",
                route.strip())
        app.stub.CreateSession(tcp_session(sid, port, ROUTE_PORT))
        s = connect(L, port)
        t.check(echo_once(s, b"through port1"), "the client is relayed all the same")
        legs = L.exec("dut", "ss", "-tnH", "state", "established", "dst",
                      f"{DST_ADDR}:{ROUTE_PORT}").stdout.split("\n")
        legs = [ln.split() for ln in legs if ln.strip()]
        locals_ = [ln[2] for ln in legs if len(ln) >= 4]
        t.check(len(locals_) == 1 and locals_[0].startswith(f"{DUT1_ADDR}%rtp1:"),
                "ss: the destination leg is bound to rtp1 (port1's TAP)", repr(locals_))
        t.eq([p[0] for p in srv.accepted], [DUT1_ADDR], "the destination saw 198.18.2.1")
        s.close()
        g = wait_state(app, sid, "ACTIVE", 1)
        t.eq(state_name(g.state), "SESSION_STATE_ACTIVE", "the session is ACTIVE")
        app.stub.DestroySession(pb().DestroySessionRequest(session_id=sid))
    finally:
        L.exec("dut", "ip", "route", "del", f"{DST_ADDR}/32", "dev", "rtp0", check=False)


def body(t):
    t_start = time.monotonic()
    with lab.Lab() as L:
        servers = {}
        try:
            for port in (LIMIT_PORT, IDLE_PORT, ROUTE_PORT):
                servers[port] = EchoServer(L, port)
            with lab.Appliance(L, CONFIG) as app:
                for desc, fn, port in (
                        ("max_connections_per_session = 2", test_per_session_limit, LIMIT_PORT),
                        ("idle connection reset, busy one goes on", test_idle, IDLE_PORT),
                        ("destination leg bound to its port's TAP", test_bound_to_port,
                         ROUTE_PORT)):
                    s0 = time.monotonic()
                    t.run(desc, fn, t, L, app, servers[port])
                    print(f"    ({time.monotonic() - s0:.2f} s)", flush=True)
        finally:
            for srv in servers.values():
                srv.close()
    print(f"    total {time.monotonic() - t_start:.2f} s", flush=True)


if __name__ == "__main__":
    lab.main_wrapper("tcp_limits", body)
