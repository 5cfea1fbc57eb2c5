#!/usr/bin/python3
"""e2e_sess_rtcp: enable_rtcp relays listen.port+1 -> destination.port+1 from forward.port+1.

- A static session with enable_rtcp: 100 RTP packets to listen.port arrive at
  destination.port from forward.port, 50 RTCP compounds (SR+SDES, RR+SDES) to listen.port+1
  arrive at destination.port+1 from forward.port+1, byte-identical; stats counts only the RTP,
  rtcp_stats only the RTCP (API.md 1.1 "Counting").
- Dynamic ports with enable_rtcp: listen/forward port 0 allocates even ports, the odd port
  above is reserved with them (a static session on it -> ALREADY_EXISTS), and both are free
  again after DestroySession.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

LISTEN = (DUT0_ADDR, 20000)
FORWARD = (DUT1_ADDR, 30000)
DEST = (DST_ADDR, 40000)
PORT_MIN, PORT_MAX = 20000, 59999        # the appliance's default pool (API.md 2)
N_RTP, N_RTCP = 100, 50
PAYLOAD = 160


def plus1(ep):
    return (ep[0], ep[1] + 1)


def ep(e):
    return (e.address, e.port)


def rtcp_compound(i, ssrc=0x5C7C):
    """A valid compound RTCP packet: SR+SDES for even i, RR (one report block)+SDES for odd."""
    sdes = lab.rtcp_sdes(ssrc, f"cli{i}@198.18.1.2")
    if i % 2 == 0:
        return lab.rtcp_sr(ssrc, ntp=(0x83AA7E80 + i) << 32, rtp_ts=i * 160, packets=i,
                           octets=i * 160) + sdes
    return lab.rtcp_rr(ssrc, [lab.rtcp_report_block(0xDE57, ext_seq=i, jitter=3)]) + sdes


def rtp(i):
    return lab.rtp_packet(i, i * 160, 0x5C7C, payload=lab.payload_for("rtcp-rtp", i, PAYLOAD))


def test_static(t, L, app, ctx):
    pb = lab.pb2()
    s = app.stub.CreateSession(udp_session("rtcp-1", LISTEN, FORWARD, DEST,
                                           enable_rtcp=True)).session
    t.check(s.enable_rtcp, "SessionInfo.enable_rtcp is true")
    t.eq((ep(s.listen_endpoint), ep(s.forward_endpoint)), (LISTEN, FORWARD),
         "static ports as requested")

    cli_rtp = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 5004))
    cli_rtcp = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 5005))
    dst_rtp = lab.udp_socket(L, "dst", bind=DEST)
    dst_rtcp = lab.udp_socket(L, "dst", bind=plus1(DEST))
    ctx["socks"] += [cli_rtp, cli_rtcp, dst_rtp, dst_rtcp]

    rtp_pkts = [rtp(i) for i in range(N_RTP)]
    rtcp_pkts = [rtcp_compound(i) for i in range(N_RTCP)]
    t.check(all(p[1] in (200, 201) for p in rtcp_pkts), "test sends PT 200 / 201 compounds")
    got_rtp, got_rtcp = [], []

    def drain_both():
        got_rtp.extend(lab.drain(dst_rtp))
        got_rtcp.extend(lab.drain(dst_rtcp))

    # First one of each alone (neighbour resolution), then interleaved: 2 RTP, 1 RTCP.
    cli_rtp.sendto(rtp_pkts[0], LISTEN)
    got_rtp += lab.recv_all(dst_rtp, 1, 10)
    cli_rtcp.sendto(rtcp_pkts[0], plus1(LISTEN))
    got_rtcp += lab.recv_all(dst_rtcp, 1, 10)
    for i in range(1, N_RTP):
        lab.send_paced(cli_rtp, [(rtp_pkts[i], LISTEN)], pause=0)
        if i % 2 == 0 and i // 2 < N_RTCP:
            lab.send_paced(cli_rtcp, [(rtcp_pkts[i // 2], plus1(LISTEN))], pause=0)
        if i % 20 == 0:
            drain_both()
            time.sleep(0.001)
    got_rtp += lab.recv_all(dst_rtp, N_RTP - len(got_rtp), 5)
    got_rtcp += lab.recv_all(dst_rtcp, N_RTCP - len(got_rtcp), 5)
    time.sleep(0.3)
    drain_both()

    t.eq(len(got_rtp), N_RTP, f"destination.port received exactly {N_RTP} RTP")
    t.check([d for d, _ in got_rtp] == rtp_pkts, "RTP byte-identical and in order")
    t.eq({a for _, a in got_rtp}, {FORWARD}, "RTP comes from forward.port (30000)")
    t.eq(len(got_rtcp), N_RTCP, f"destination.port+1 received exactly {N_RTCP} RTCP")
    t.check(sorted(d for d, _ in got_rtcp) == sorted(rtcp_pkts), "RTCP byte-identical")
    t.eq({a for _, a in got_rtcp}, {plus1(FORWARD)}, "RTCP comes from forward.port+1 (30001)")

    s = app.session("rtcp-1")
    rtp_bytes = N_RTP * (12 + PAYLOAD)
    rtcp_bytes = sum(map(len, rtcp_pkts))
    t.eq((s.stats.packets_received, s.stats.packets_sent), (N_RTP, N_RTP),
         "stats packets received/sent: RTP only")
    t.eq((s.stats.bytes_received, s.stats.bytes_sent), (rtp_bytes, rtp_bytes),
         "stats bytes received/sent: RTP only")
    t.eq(s.stats.packets_lost, 0, "stats.packets_lost 0 (RTCP does not disturb the RTP sequence)")
    t.eq((s.rtcp_stats.packets_received, s.rtcp_stats.packets_sent), (N_RTCP, N_RTCP),
         "rtcp_stats packets received/sent: RTCP only")
    t.eq((s.rtcp_stats.bytes_received, s.rtcp_stats.bytes_sent), (rtcp_bytes, rtcp_bytes),
         "rtcp_stats bytes received/sent: RTCP only")
    t.eq(s.rtcp_stats.packets_dropped, 0, "rtcp_stats.packets_dropped")
    t.eq(pb.SessionState.Name(s.state), "SESSION_STATE_ACTIVE", "state ACTIVE")


def test_static_rtcp_ports_taken(t, L, app):
    import grpc
    C = grpc.StatusCode
    t.status(app.stub.CreateSession,
             udp_session("rtcp-x1", plus1(LISTEN), (DUT1_ADDR, 30100), (DST_ADDR, 40100)),
             C.ALREADY_EXISTS, "static session on listen.port+1 of an RTCP session -> "
             "ALREADY_EXISTS", details_prefix="listen_endpoint")
    t.status(app.stub.CreateSession,
             udp_session("rtcp-x2", (DUT0_ADDR, 20100), plus1(FORWARD), (DST_ADDR, 40100)),
             C.ALREADY_EXISTS, "static session on forward.port+1 of an RTCP session -> "
             "ALREADY_EXISTS", details_prefix="forward_endpoint")
    # an RTCP session whose own +1 is the other's RTP port
    t.status(app.stub.CreateSession,
             udp_session("rtcp-x3", (DUT0_ADDR, LISTEN[1] - 1), (DUT1_ADDR, 30100),
                         (DST_ADDR, 40100), enable_rtcp=True),
             C.ALREADY_EXISTS, "enable_rtcp on listen.port-1 (its +1 is taken) -> ALREADY_EXISTS",
             details_prefix="listen_endpoint")


def test_dynamic(t, L, app, ctx):
    import grpc
    C = grpc.StatusCode
    pb = lab.pb2()
    sessions = []
    for i in range(10):
        s = app.stub.CreateSession(udp_session(f"dyn-{i}", (DUT0_ADDR, 0), (DUT1_ADDR, 0),
                                               (DST_ADDR, 42000 + 2 * i),
                                               enable_rtcp=True)).session
        sessions.append(s)
    lp = [s.listen_endpoint.port for s in sessions]
    fp = [s.forward_endpoint.port for s in sessions]
    print(f"    allocated listen ports {lp}, forward ports {fp}")
    t.check(all(p % 2 == 0 for p in lp + fp), "every allocated port is even", f"{lp} {fp}")
    t.check(all(PORT_MIN <= p and p + 1 <= PORT_MAX for p in lp + fp),
            "allocated pairs inside port_min..port_max")
    t.check(all(p != 0 for p in lp + fp), "the response carries the allocated ports")
    t.eq(len(set(lp)), 10, "10 distinct listen ports")
    t.eq(len(set(fp)), 10, "10 distinct forward ports")
    taken_l = {LISTEN[1], LISTEN[1] + 1}
    taken_f = {FORWARD[1], FORWARD[1] + 1}
    t.check(all(p not in taken_l and p + 1 not in taken_l for p in lp),
            "no pair overlaps the static RTCP session's listen pair")
    t.check(all(p not in taken_f and p + 1 not in taken_f for p in fp),
            "no pair overlaps the static RTCP session's forward pair")
    t.eq(sessions[0].listen_endpoint.address, DUT0_ADDR, "listen address kept")
    got = app.session("dyn-0")
    t.eq(got.listen_endpoint.port, lp[0], "GetSessionStatus shows the same allocated port")

    s0 = sessions[0]
    L0, F0 = ep(s0.listen_endpoint), ep(s0.forward_endpoint)
    t.status(app.stub.CreateSession,
             udp_session("dyn-odd-l", plus1(L0), (DUT1_ADDR, 30200), (DST_ADDR, 40200)),
             C.ALREADY_EXISTS, f"static session on the reserved odd listen port {L0[1] + 1} -> "
             "ALREADY_EXISTS", details_prefix="listen_endpoint")
    t.status(app.stub.CreateSession,
             udp_session("dyn-odd-f", (DUT0_ADDR, 20200), plus1(F0), (DST_ADDR, 40200)),
             C.ALREADY_EXISTS, f"static session on the reserved odd forward port {F0[1] + 1} -> "
             "ALREADY_EXISTS", details_prefix="forward_endpoint")

    # traffic through a dynamic pair
    cli = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    d_rtp = lab.udp_socket(L, "dst", bind=(DST_ADDR, 42000))
    d_rtcp = lab.udp_socket(L, "dst", bind=(DST_ADDR, 42001))
    ctx["socks"] += [cli, d_rtp, d_rtcp]
    pk = [rtp(i) for i in range(20)]
    got = lab.relay_exact(cli, d_rtp, L0, pk)
    t.eq(len(got), 20, "dynamic session relays 20 RTP")
    t.eq({a for _, a in got}, {F0}, "from the allocated forward port")
    rc = [rtcp_compound(i) for i in range(5)]
    got = lab.relay_exact(cli, d_rtcp, plus1(L0), rc)
    t.eq(len(got), 5, "dynamic session relays 5 RTCP on listen.port+1")
    t.eq({a for _, a in got}, {plus1(F0)}, "from the allocated forward port + 1")
    s = app.session("dyn-0")
    t.eq((s.stats.packets_received, s.rtcp_stats.packets_received), (20, 5),
         "dynamic session: stats 20 RTP, rtcp_stats 5 RTCP")

    # destroy: the pair is free again, odd port included
    d = app.stub.DestroySession(pb.DestroySessionRequest(session_id="dyn-0")).session
    t.eq(pb.SessionState.Name(d.state), "SESSION_STATE_CLOSED", "DestroySession -> CLOSED")
    t.eq((d.stats.packets_received, d.rtcp_stats.packets_received), (20, 5),
         "final stats and rtcp_stats in the DestroySession response")
    t.status(app.stub.CreateSession,
             udp_session("dyn-odd-l2", plus1(L0), plus1(F0), (DST_ADDR, 40200)),
             C.OK, "after destroy, a static session on the freed odd ports succeeds")
    t.status(app.stub.CreateSession,
             udp_session("dyn-even-2", L0, F0, (DST_ADDR, 40202)),
             C.OK, "after destroy, a static session on the freed even ports succeeds")


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L) as app:
            ctx = {"socks": []}
            try:
                t.run("static RTCP session: RTP and RTCP relayed and counted apart",
                      test_static, t, L, app, ctx)
                t.run("the +1 ports of a static RTCP session are taken",
                      test_static_rtcp_ports_taken, t, L, app)
                t.run("dynamic ports with enable_rtcp: even, odd reserved", test_dynamic,
                      t, L, app, ctx)
            finally:
                for s in ctx["socks"]:
                    s.close()
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("sess_rtcp", body)
