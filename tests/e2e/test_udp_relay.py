#!/usr/bin/python3
"""e2e_udp_relay: one UDP session relays real kernel-socket RTP traffic exactly.

A client socket in PREFIX-cli sends 1000 RTP packets to 198.18.1.1:20000; rtpproxy (in
PREFIX-dut, net_af_packet ports) relays them from 198.18.2.1:30000 to a socket on
198.18.2.2:40000 in PREFIX-dst. Checks: exact count, byte-identical payloads in order, the source
address, the session and proxy stats for that traffic, DestroySession and what follows it, ping
through the exception path, and the gRPC status codes of API.md for bad requests.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

LISTEN = (DUT0_ADDR, 20000)
FORWARD = (DUT1_ADDR, 30000)
DEST = (DST_ADDR, 40000)
N = 1000
PAYLOAD = 160
SSRC = 0x5EED0001


def ep(e):
    return (e.address, e.port)


def first_mismatch(got, want):
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return f"first difference at packet {i}"
    return f"{len(got)} received vs {len(want)} sent"


def test_ping(t, L):
    t.eq(lab.ping(L, DUT0_ADDR, ns="cli"), 3, "ping 198.18.1.1 from cli: 3 of 3 replied")
    t.eq(lab.ping(L, DUT1_ADDR, ns="dst"), 3, "ping 198.18.2.1 from dst: 3 of 3 replied")


def test_relay(t, L, app, ctx):
    pb = lab.pb2()
    s = app.stub.CreateSession(udp_session("relay-1", LISTEN, FORWARD, DEST)).session
    t.eq(s.session_id, "relay-1", "CreateSession keeps the given session_id")
    t.check(s.state in (pb.SESSION_STATE_CREATED, pb.SESSION_STATE_CONNECTING),
            "new session is CREATED or CONNECTING", pb.SessionState.Name(s.state))
    t.eq(s.transport, pb.TRANSPORT_UDP, "transport UDP")
    t.eq((ep(s.listen_endpoint), ep(s.forward_endpoint), ep(s.destination_endpoint)),
         (LISTEN, FORWARD, DEST), "endpoints as requested")

    tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    rx = lab.udp_socket(L, "dst", bind=DEST)
    ctx.update(tx=tx, rx=rx)
    pkts = [lab.rtp_packet(i, i * 160, SSRC, payload=lab.payload_for("relay", i, PAYLOAD))
            for i in range(N)]
    got = lab.relay_exact(tx, rx, LISTEN, pkts)
    data = [d for d, _ in got]
    t.eq(len(got), N, f"destination received exactly {N}")
    t.check(data == pkts, "payloads byte-identical and in order", first_mismatch(data, pkts))
    srcs = {a for _, a in got}
    t.eq(srcs, {FORWARD}, "every packet comes from the forward endpoint 198.18.2.1:30000")

    s = app.session("relay-1")
    want_bytes = N * (12 + PAYLOAD)
    t.eq(s.stats.packets_received, N, "stats.packets_received")
    t.eq(s.stats.packets_sent, N, "stats.packets_sent")
    t.eq(s.stats.bytes_received, want_bytes, "stats.bytes_received (UDP payload bytes)")
    t.eq(s.stats.bytes_sent, want_bytes, "stats.bytes_sent (UDP payload bytes)")
    t.eq(s.stats.packets_dropped, 0, "stats.packets_dropped")
    t.eq(s.stats.packets_lost, 0, "stats.packets_lost (no sequence gaps)")
    t.eq(pb.SessionState.Name(s.state), "SESSION_STATE_ACTIVE", "state ACTIVE after traffic")
    ctx["stats"] = s.stats

    ps = app.proxy_stats()
    ports = {p.name: p for p in ps.ports}
    t.eq(sorted(ports), ["port0", "port1"], "GetProxyStats lists port0 and port1")
    if "port0" in ports and "port1" in ports:
        t.check(ports["port0"].rx_packets >= N, f"port0 rx_packets >= {N}",
                str(ports["port0"].rx_packets))
        t.check(ports["port1"].tx_packets >= N, f"port1 tx_packets >= {N}",
                str(ports["port1"].tx_packets))
        t.check(ports["port0"].rx_bytes >= N * (14 + 20 + 8 + 12 + PAYLOAD), "port0 rx_bytes",
                str(ports["port0"].rx_bytes))
        t.check(ports["port1"].tx_bytes >= N * (14 + 20 + 8 + 12 + PAYLOAD), "port1 tx_bytes",
                str(ports["port1"].tx_bytes))
    t.eq(ps.sessions_active, 1, "sessions_active")
    t.check(ps.sessions_created_total >= 1, "sessions_created_total >= 1")
    t.check(ps.version != "", "version is set", repr(ps.version))
    t.check(ps.uptime_ms > 0, "uptime_ms > 0")


def test_destroy(t, L, app, ctx):
    import grpc
    pb = lab.pb2()
    d = app.stub.DestroySession(pb.DestroySessionRequest(session_id="relay-1")).session
    t.eq(pb.SessionState.Name(d.state), "SESSION_STATE_CLOSED", "DestroySession -> CLOSED")
    before = ctx.get("stats")
    if before is not None:
        for f in ("packets_received", "packets_sent", "bytes_received", "bytes_sent"):
            t.eq(getattr(d.stats, f), getattr(before, f), f"final stats.{f} as before")

    tx, rx = ctx.get("tx"), ctx.get("rx")
    if tx and rx:
        lab.drain(rx)
        late = [lab.rtp_packet(N + i, (N + i) * 160, SSRC, payload=lab.payload_for("late", i))
                for i in range(100)]
        lab.send_paced(tx, [(p, LISTEN) for p in late])
        got = lab.recv_all(rx, 1, 1.0)
        t.eq(len(got), 0, "after destroy, 100 packets to the old listen port: none relayed")

    t.status(app.stub.GetSessionStatus, pb.GetSessionStatusRequest(session_id="relay-1"),
             grpc.StatusCode.NOT_FOUND, "GetSessionStatus of the destroyed id -> NOT_FOUND")
    t.status(app.stub.DestroySession, pb.DestroySessionRequest(session_id="relay-1"),
             grpc.StatusCode.NOT_FOUND, "DestroySession of the destroyed id -> NOT_FOUND")
    ps = app.proxy_stats()
    t.eq(ps.sessions_active, 0, "sessions_active 0 after destroy")
    t.check(ps.sessions_closed_total >= 1, "sessions_closed_total >= 1")


def test_status_codes(t, L, app):
    import grpc
    pb = lab.pb2()
    C = grpc.StatusCode
    a_listen, a_fwd, a_dst = (DUT0_ADDR, 20010), (DUT1_ADDR, 30010), (DST_ADDR, 40010)
    t.status(app.stub.CreateSession, udp_session("codes-a", a_listen, a_fwd, a_dst), C.OK,
             "CreateSession codes-a")
    t.status(app.stub.CreateSession,
             udp_session("codes-b", a_listen, (DUT1_ADDR, 30012), a_dst),
             C.ALREADY_EXISTS, "same listen endpoint again -> ALREADY_EXISTS",
             details_contains="listen_endpoint")
    t.status(app.stub.CreateSession,
             udp_session("codes-c", (DUT0_ADDR, 20014), a_fwd, a_dst),
             C.ALREADY_EXISTS, "same forward endpoint again -> ALREADY_EXISTS",
             details_contains="forward_endpoint")
    t.status(app.stub.CreateSession,
             udp_session("codes-a", (DUT0_ADDR, 20016), (DUT1_ADDR, 30016), a_dst),
             C.ALREADY_EXISTS, "same session_id again -> ALREADY_EXISTS",
             details_contains="session_id")
    t.status(app.stub.GetSessionStatus, pb.GetSessionStatusRequest(session_id="no-such-session"),
             C.NOT_FOUND, "GetSessionStatus of an unknown id -> NOT_FOUND")
    t.status(app.stub.DestroySession, pb.DestroySessionRequest(session_id="no-such-session"),
             C.NOT_FOUND, "DestroySession of an unknown id -> NOT_FOUND")
    t.status(app.stub.CreateSession,
             udp_session("codes-d", ("300.1.1.1", 20020), (DUT1_ADDR, 30020), a_dst),
             C.INVALID_ARGUMENT, 'listen address "300.1.1.1" -> INVALID_ARGUMENT',
             details_prefix="listen_endpoint.address")
    t.status(app.stub.CreateSession,
             udp_session("codes-e", (DUT0_ADDR, 20022), (DUT1_ADDR, 30022), (DST_ADDR, 0)),
             C.INVALID_ARGUMENT, "destination port 0 -> INVALID_ARGUMENT",
             details_contains="destination_endpoint.port")
    t.status(app.stub.CreateSession,
             udp_session("codes-f", (DUT0_ADDR, 20024), None, a_dst),
             C.INVALID_ARGUMENT, "missing forward_endpoint -> INVALID_ARGUMENT",
             details_contains="forward_endpoint")
    ls = app.stub.ListSessions(pb.ListSessionsRequest())
    t.eq(sorted(s.session_id for s in ls.sessions), ["codes-a"],
         "rejected requests left no session behind")
    t.status(app.stub.DestroySession, pb.DestroySessionRequest(session_id="codes-a"), C.OK,
             "DestroySession codes-a")


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L) as app:
            ctx = {}
            t.run("ping through the exception path", test_ping, t, L)
            t.run(f"relay {N} RTP packets", test_relay, t, L, app, ctx)
            t.run("destroy", test_destroy, t, L, app, ctx)
            t.run("status codes", test_status_codes, t, L, app)
            for s in ("tx", "rx"):
                if s in ctx:
                    ctx[s].close()
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("udp_relay", body)
