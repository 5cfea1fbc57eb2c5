#!/usr/bin/python3
"""e2e_sess_bidir: bidirectional sessions (symmetric RTP latching), API.md CreateSessionRequest
field 7 and issue 3 item 5.

Session: listen 198.18.1.1:20000, forward 198.18.2.1:30000, destination 198.18.2.2:40000.
- the client sends from 198.18.1.2:P1; the destination answers to 198.18.2.1:30000; the client
  receives every answer at P1 from 198.18.1.1:20000, byte-identical; reverse_stats counts them;
  latched_source is 198.18.1.2:P1;
- the client moves to a new source port P2 (NAT rebinding) and sends one packet: the answers
  now reach P2 (none P1) and latched_source is P2;
- packets to the forward endpoint from anyone but the destination (198.18.2.2:40001, and
  198.18.2.3:40000, an address added in the dst namespace) are dropped:
  drops["not_from_destination"] and reverse_stats.packets_dropped rise by exactly that count;
- with enable_rtcp as well, RTCP flows both ways on the +1 ports;
- idle timeout: answers alone keep a session open (no packet in *either* direction closes
  it), packets dropped from a stranger do not (only relayed packets are activity).
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DST_IF, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

LISTEN = (DUT0_ADDR, 20000)
FORWARD = (DUT1_ADDR, 30000)
DEST = (DST_ADDR, 40000)
STRANGER_ADDR = "198.18.2.3"       # a second address in the dst namespace (our lab only)
PAYLOAD = 160
N_FWD, N_REV, N_REV2, N_STRANGER = 100, 100, 50, 20


def ep(e):
    return (e.address, e.port)


def plus1(a):
    return (a[0], a[1] + 1)


def fwd_pkt(i):
    return lab.rtp_packet(i, i * 160, 0xC11E, payload=lab.payload_for("bd-fwd", i, PAYLOAD))


def rev_pkt(i):
    return lab.rtp_packet(i, i * 160, 0xDE57, payload=lab.payload_for("bd-rev", i, PAYLOAD))


def drops(app):
    return dict(app.proxy_stats().drops)


def check_invariant(t, st, what):
    t.eq(st.packets_received, st.packets_sent + st.packets_dropped,
         f"{what}: packets_received == packets_sent + packets_dropped")


def test_echo(t, L, app, ctx):
    pb = lab.pb2()
    s = app.stub.CreateSession(udp_session("bidir-1", LISTEN, FORWARD, DEST,
                                           bidirectional=True)).session
    t.check(s.bidirectional, "SessionInfo.bidirectional is true")
    cli1 = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    dst = lab.udp_socket(L, "dst", bind=DEST)
    ctx["socks"] += [cli1, dst]
    ctx.update(cli1=cli1, dst=dst)
    p1 = cli1.getsockname()[1]

    got = lab.relay_exact(cli1, dst, LISTEN, [fwd_pkt(i) for i in range(N_FWD)])
    t.eq(len(got), N_FWD, f"destination received the client's {N_FWD}")
    t.eq({a for _, a in got}, {FORWARD}, "from the forward endpoint")
    s = app.session("bidir-1")
    t.eq(ep(s.latched_source), (CLI_ADDR, p1), f"latched_source is the client {CLI_ADDR}:{p1}")

    rev = [rev_pkt(i) for i in range(N_REV)]
    got = lab.relay_exact(dst, cli1, FORWARD, rev)
    t.eq(len(got), N_REV, f"client received exactly {N_REV} answers at P1")
    t.check([d for d, _ in got] == rev, "answers byte-identical and in order")
    t.eq({a for _, a in got}, {LISTEN}, "answers come from the listen endpoint 198.18.1.1:20000")

    s = app.session("bidir-1")
    b = 12 + PAYLOAD
    t.eq((s.reverse_stats.packets_received, s.reverse_stats.packets_sent), (N_REV, N_REV),
         "reverse_stats packets received/sent")
    t.eq((s.reverse_stats.bytes_received, s.reverse_stats.bytes_sent), (N_REV * b, N_REV * b),
         "reverse_stats bytes received/sent")
    t.eq(s.reverse_stats.packets_dropped, 0, "reverse_stats.packets_dropped")
    t.eq(s.reverse_stats.packets_lost, 0, "reverse_stats.packets_lost")
    t.eq((s.stats.packets_received, s.stats.packets_sent), (N_FWD, N_FWD),
         "stats (forward direction) not touched by the answers")
    t.eq(pb.SessionState.Name(s.state), "SESSION_STATE_ACTIVE", "state ACTIVE")


def test_rebind(t, L, app, ctx):
    if "cli1" not in ctx:
        t.check(False, "needs the echo step")
        return
    cli1, dst = ctx["cli1"], ctx["dst"]
    cli2 = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    ctx["socks"].append(cli2)
    ctx["cli2"] = cli2
    p2 = cli2.getsockname()[1]
    t.check(p2 != cli1.getsockname()[1], "the client's new source port differs")
    lab.drain(dst)
    cli2.sendto(fwd_pkt(N_FWD), LISTEN)
    got = lab.recv_all(dst, 1, 5)
    t.eq(len(got), 1, "the one packet from the new port is relayed")
    s = app.session("bidir-1")
    t.eq(ep(s.latched_source), (CLI_ADDR, p2), f"latched_source follows to {CLI_ADDR}:{p2}")

    rev = [rev_pkt(N_REV + i) for i in range(N_REV2)]
    got = lab.relay_exact(dst, cli2, FORWARD, rev)
    t.eq(len(got), N_REV2, f"all {N_REV2} answers reach the new port P2")
    t.check([d for d, _ in got] == rev, "byte-identical and in order")
    t.eq({a for _, a in got}, {LISTEN}, "from the listen endpoint")
    old = lab.drain(cli1)
    t.eq(len(old), 0, "the old port P1 gets none of them")
    s = app.session("bidir-1")
    t.eq(s.reverse_stats.packets_sent, N_REV + N_REV2, "reverse_stats.packets_sent")
    t.eq(s.stats.packets_received, N_FWD + 1, "stats.packets_received")


def test_strangers(t, L, app, ctx):
    if "cli2" not in ctx:
        t.check(False, "needs the rebind step")
        return
    cli1, cli2 = ctx["cli1"], ctx["cli2"]
    L.exec("dst", "ip", "addr", "add", f"{STRANGER_ADDR}/24", "dev", DST_IF)
    other_port = lab.udp_socket(L, "dst", bind=(DST_ADDR, DEST[1] + 1))
    other_addr = lab.udp_socket(L, "dst", bind=(STRANGER_ADDR, DEST[1]))
    ctx["socks"] += [other_port, other_addr]
    before_d = drops(app)
    before = app.session("bidir-1").reverse_stats
    items = [(rev_pkt(1000 + i), FORWARD) for i in range(N_STRANGER)]
    lab.send_paced(other_port, items, burst=10)
    items = [(rev_pkt(2000 + i), FORWARD) for i in range(N_STRANGER)]
    lab.send_paced(other_addr, items, burst=10)
    time.sleep(0.5)
    leaked = lab.drain(cli2) + lab.drain(cli1)
    t.eq(len(leaked), 0, "nothing from a stranger reaches the client")
    n = 2 * N_STRANGER

    def all_counted():
        d = drops(app)
        moved = d.get("not_from_destination", 0) - before_d.get("not_from_destination", 0)
        return d if moved >= n else None
    after_d = lab.wait_until(all_counted, 3) or drops(app)
    t.eq(after_d.get("not_from_destination", 0) - before_d.get("not_from_destination", 0), n,
         f"drops[not_from_destination] rose by exactly {n} ({N_STRANGER} from "
         f"{DST_ADDR}:{DEST[1] + 1}, {N_STRANGER} from {STRANGER_ADDR}:{DEST[1]})")
    other = {k: after_d.get(k, 0) - before_d.get(k, 0) for k in after_d
             if k != "not_from_destination" and after_d.get(k, 0) != before_d.get(k, 0)}
    t.eq(other, {}, "no other drop reason moved")
    after = app.session("bidir-1").reverse_stats
    t.eq(after.packets_dropped - before.packets_dropped, n,
         f"reverse_stats.packets_dropped rose by exactly {n}")
    t.eq(after.packets_sent, before.packets_sent, "reverse_stats.packets_sent unchanged")
    check_invariant(t, after, "reverse_stats")
    s = app.session("bidir-1")
    t.eq(ep(s.latched_source), (CLI_ADDR, cli2.getsockname()[1]),
         "latched_source unchanged by strangers")

    # and the real destination still gets through
    got = lab.relay_exact(ctx["dst"], cli2, FORWARD, [rev_pkt(3000 + i) for i in range(10)])
    t.eq(len(got), 10, "the destination's packets still reach the client")


def test_bidir_rtcp(t, L, app, ctx):
    listen, fwd, dest = (DUT0_ADDR, 20010), (DUT1_ADDR, 30010), (DST_ADDR, 40010)
    s = app.stub.CreateSession(udp_session("bidir-rtcp", listen, fwd, dest, bidirectional=True,
                                           enable_rtcp=True)).session
    t.check(s.bidirectional and s.enable_rtcp, "bidirectional + enable_rtcp accepted")
    # Client RTP on an even port, RTCP on the next (RFC 3550 convention): whether the proxy
    # latches RTCP on its own or as RTP's source + 1, the answer goes to the same place.
    c_rtp = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 6000))
    c_rtcp = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 6001))
    d_rtp = lab.udp_socket(L, "dst", bind=dest)
    d_rtcp = lab.udp_socket(L, "dst", bind=plus1(dest))
    ctx["socks"] += [c_rtp, c_rtcp, d_rtp, d_rtcp]
    n = 10
    got = lab.relay_exact(c_rtp, d_rtp, listen, [fwd_pkt(i) for i in range(n)])
    t.eq(len(got), n, "RTP client -> destination")
    sr = [lab.rtcp_sr(0xC11E, ntp=i << 32, rtp_ts=i * 160, packets=i, octets=i * 172)
          + lab.rtcp_sdes(0xC11E, "cli@198.18.1.2") for i in range(n)]
    got = lab.relay_exact(c_rtcp, d_rtcp, plus1(listen), sr)
    t.eq(len(got), n, "RTCP client -> destination.port+1")
    t.eq({a for _, a in got}, {plus1(fwd)}, "from forward.port+1")
    rr = [lab.rtcp_rr(0xDE57, [lab.rtcp_report_block(0xC11E, ext_seq=i)])
          + lab.rtcp_sdes(0xDE57, "dst@198.18.2.2") for i in range(n)]
    got = lab.relay_exact(d_rtcp, c_rtcp, plus1(fwd), rr)
    t.eq(len(got), n, "RTCP destination -> client, both ways on +1")
    t.check([d for d, _ in got] == rr, "reverse RTCP byte-identical")
    t.eq({a for _, a in got}, {plus1(listen)}, "from listen.port+1")
    got = lab.relay_exact(d_rtp, c_rtp, fwd, [rev_pkt(i) for i in range(n)])
    t.eq(len(got), n, "RTP destination -> client")
    t.eq({a for _, a in got}, {listen}, "from listen.port")
    s = app.session("bidir-rtcp")
    t.eq((s.stats.packets_received, s.reverse_stats.packets_received), (n, n),
         "stats and reverse_stats count the RTP of each direction")
    t.eq((s.rtcp_stats.packets_received, s.rtcp_stats.packets_sent), (2 * n, 2 * n),
         "rtcp_stats counts the RTCP of both directions summed")
    rb = sum(map(len, sr)) + sum(map(len, rr))
    t.eq((s.rtcp_stats.bytes_received, s.rtcp_stats.bytes_sent), (rb, rb), "rtcp_stats bytes")
    t.eq(ep(s.latched_source), (CLI_ADDR, 6000), "latched_source is the client's RTP source")


def test_idle_both_ways(t, L, app, ctx):
    """API.md: idle = no packet in either direction; only relayed packets count as activity."""
    listen, fwd, dest = (DUT0_ADDR, 20020), (DUT1_ADDR, 30020), (DST_ADDR, 40020)
    app.stub.CreateSession(udp_session("bidir-idle", listen, fwd, dest, bidirectional=True,
                                       idle_timeout_secs=2))
    cli = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    dst = lab.udp_socket(L, "dst", bind=dest)
    stranger = lab.udp_socket(L, "dst", bind=(DST_ADDR, dest[1] + 1))
    ctx["socks"] += [cli, dst, stranger]
    got = lab.relay_exact(cli, dst, listen, [fwd_pkt(0)], settle=0)
    t.eq(len(got), 1, "the client's one packet latches")
    # 3.2 s of answers only (one every 0.4 s): the client is silent longer than the timeout
    n = 0
    for i in range(8):
        time.sleep(0.4)
        dst.sendto(rev_pkt(i), fwd)
        n += len(lab.recv_all(cli, 1, 0.5))
    t.eq(n, 8, "8 answers relayed to the client")
    st = app.session("bidir-idle").state
    t.eq(lab.pb2().SessionState.Name(st), "SESSION_STATE_ACTIVE",
         "still ACTIVE after 3.2 s without client packets: reverse traffic is activity")
    last = time.monotonic()
    # now only a stranger sends (dropped, not activity): closed within 2 + 1 s of the last
    # relayed packet all the same. Bounded: at most 5 s.
    closed = None
    while time.monotonic() - last < 5:
        stranger.sendto(rev_pkt(100), fwd)
        if lab.pb2().SessionState.Name(app.session("bidir-idle").state) == \
                "SESSION_STATE_CLOSED":
            closed = time.monotonic()
            break
        time.sleep(0.2)
    t.check(closed is not None and closed - last <= 3.0,
            "CLOSED within 2 + 1 s of the last relayed packet although a stranger kept sending",
            f"after {closed - last:.2f} s" if closed else "not closed after 5 s")
    t.check(closed is None or closed - last >= 1.8, "and not before its 2 s timeout",
            f"after {closed - last:.2f} s" if closed else "")
    t.eq(len(lab.drain(cli)), 0, "nothing of the stranger's reached the client")


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L) as app:
            ctx = {"socks": []}
            try:
                t.run("echo from the destination reaches the client", test_echo, t, L, app, ctx)
                t.run("NAT rebinding: replies follow the client's new port", test_rebind,
                      t, L, app, ctx)
                t.run("packets from anyone but the destination are dropped", test_strangers,
                      t, L, app, ctx)
                t.run("bidirectional + enable_rtcp: RTCP both ways", test_bidir_rtcp,
                      t, L, app, ctx)
                t.run("idle timeout: either direction is activity, drops are not",
                      test_idle_both_ways, t, L, app, ctx)
            finally:
                for s in ctx["socks"]:
                    s.close()
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("sess_bidir", body)
