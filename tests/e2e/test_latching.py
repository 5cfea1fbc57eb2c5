#!/usr/bin/python3
"""e2e_latching: latch_mode and strict_source (API.md 1.1 "Latching", issue 9 item 6).

Bidirectional sessions listen on 198.18.1.1, forward from 198.18.2.1 to the destination
198.18.2.2. The client sends RTP with SSRC 0xC11E from 198.18.1.2; two strangers sit in the
client's network: another port of 198.18.1.2 and 198.18.1.3 (an address added to the cli
namespace's veth), both sending RTP with another SSRC.
- SSRC (the default): the strangers' packets do not move the latch (the client keeps receiving
  every reverse packet, they get none, nor do a stranger's non-RTP packets); the client behind
  a new source port with its SSRC does move it (NAT rebinding);
- FIRST: the latch never moves, even for the client's SSRC from a new port;
- ANY: every new source takes it (the stranger then gets the reverse media);
- strict_source: the strangers' packets are dropped and counted (drops["not_from_client"] and
  the session's packets_dropped, exactly) while the client's interleaved stream relays exactly,
  in order; a rebinding with the client's SSRC is followed and the old port is then a stranger
  (a packet with the client's SSRC from there would move it back: that is SSRC mode);
  RTCP from a stranger with another SSRC is dropped too; a unidirectional session applies it
  after its first packet;
- SessionInfo carries latch_mode/strict_source; `rtpproxyctl get` shows them (text and JSON).
"""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, CLI_IF, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

STRANGER_ADDR = "198.18.1.3"        # a second address in the cli namespace (our lab only)
SSRC_CLIENT, SSRC_STRANGER = 0xC11E, 0x5757
PAYLOAD = 160
N = 20


def ep(e):
    return (e.address, e.port)


def plus1(a):
    return (a[0], a[1] + 1)


def rtp(tag, i, ssrc, size=PAYLOAD):
    return lab.rtp_packet(i, i * 160, ssrc, payload=lab.payload_for(tag, i, size))


def drops(app):
    return dict(app.proxy_stats().drops)


def drop_delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) != before.get(k, 0)}


class Session:
    """One bidirectional session under test, with its client, strangers and destination."""

    def __init__(self, t, L, app, ctx, sid, base, **kw):
        self.t, self.app, self.sid = t, app, sid
        self.listen, self.fwd, self.dest = (DUT0_ADDR, base), (DUT1_ADDR, base + 10000), \
            (DST_ADDR, base + 20000)
        kw.setdefault("bidirectional", True)
        self.info = app.stub.CreateSession(udp_session(sid, self.listen, self.fwd, self.dest,
                                                       **kw)).session
        self.cli = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
        self.cli2 = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))      # the client, rebound
        self.port_stranger = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
        self.addr_stranger = lab.udp_socket(L, "cli", bind=(STRANGER_ADDR, 0))
        self.dst = lab.udp_socket(L, "dst", bind=self.dest)
        ctx["socks"] += [self.cli, self.cli2, self.port_stranger, self.addr_stranger, self.dst]
        self.n_rev = 0
        self.n_fwd = 0

    def all_clients(self):
        return [self.cli, self.cli2, self.port_stranger, self.addr_stranger]

    def name(self, sock):
        return {id(self.cli): "the client", id(self.cli2): "the client's new port",
                id(self.port_stranger): f"the stranger {CLI_ADDR}:other port",
                id(self.addr_stranger): f"the stranger {STRANGER_ADDR}"}[id(sock)]

    def forward(self, sock, n, ssrc, relayed=True, tag=None):
        """N RTP packets from SOCK to the listen endpoint; relayed: all reach the destination
        (exact, in order), else none does."""
        tag = tag or f"{self.sid}-{self.name(sock)}"
        pkts = [rtp(tag, self.n_fwd + i, ssrc) for i in range(n)]
        self.n_fwd += n
        if relayed:
            got = lab.relay_exact(sock, self.dst, self.listen, pkts)
            self.t.check([d for d, _ in got] == pkts,
                         f"{self.name(sock)}: its {n} packets reach the destination, in order",
                         f"got {len(got)}")
        else:
            lab.send_paced(sock, [(p, self.listen) for p in pkts], burst=10)
        return pkts

    def reverse_to(self, want, n=N):
        """N packets from the destination reach WANT exactly (byte-identical, in order, from
        the listen endpoint) and nobody else in the client's network."""
        pkts = [rtp(f"{self.sid}-rev", self.n_rev + i, 0xDE57) for i in range(n)]
        self.n_rev += n
        got = lab.relay_exact(self.dst, want, self.fwd, pkts)
        self.t.eq(len(got), n, f"{self.name(want)} receives all {n} reverse packets")
        self.t.check([d for d, _ in got] == pkts and {a for _, a in got} == {self.listen},
                     "byte-identical, in order, from the listen endpoint")
        others = {self.name(s): len(lab.drain(s)) for s in self.all_clients() if s is not want}
        self.t.eq(others, {k: 0 for k in others}, "nobody else gets any")

    def latched(self):
        return ep(self.app.session(self.sid).latched_source)


def test_ssrc(t, L, app, ctx):
    pb = lab.pb2()
    s = Session(t, L, app, ctx, "latch-ssrc", 21000)
    t.eq(pb.LatchMode.Name(s.info.latch_mode), "LATCH_MODE_SSRC", "latch_mode defaults to SSRC")
    t.eq(s.info.strict_source, False, "strict_source defaults to false")
    s.forward(s.cli, N, SSRC_CLIENT)
    t.eq(s.latched(), s.cli.getsockname(), "the first packet latched the client")
    s.reverse_to(s.cli)
    before = drops(app)
    s.forward(s.port_stranger, 5, SSRC_STRANGER)
    s.forward(s.addr_stranger, 5, SSRC_STRANGER)
    # not RTP at all (too short to carry an SSRC): cannot move it either
    lab.relay_exact(s.addr_stranger, s.dst, s.listen, [b"\x80\x00\x00\x01hi"])
    t.eq(s.latched(), s.cli.getsockname(), "strangers with another SSRC did not move the latch")
    s.reverse_to(s.cli)
    t.eq(drop_delta(before, drops(app)), {}, "without strict_source their packets are relayed, "
         "nothing dropped")
    # NAT rebinding: the client's SSRC from a new port
    s.forward(s.cli2, 1, SSRC_CLIENT)
    t.eq(s.latched(), s.cli2.getsockname(), "the client's SSRC from a new port moved the latch")
    s.reverse_to(s.cli2)
    # and a stranger still cannot take it back from there
    s.forward(s.port_stranger, 3, SSRC_STRANGER)
    s.reverse_to(s.cli2)
    st = app.session(s.sid)
    t.eq((st.stats.packets_received, st.stats.packets_sent, st.stats.packets_dropped),
         (N + 5 + 5 + 1 + 1 + 3, N + 5 + 5 + 1 + 1 + 3, 0), "stats: every packet relayed")
    t.eq((st.reverse_stats.packets_sent, st.reverse_stats.packets_dropped), (4 * N, 0),
         "reverse_stats: every reverse packet sent")


def test_first(t, L, app, ctx):
    pb = lab.pb2()
    s = Session(t, L, app, ctx, "latch-first", 22000, latch_mode=pb.LATCH_MODE_FIRST)
    t.eq(pb.LatchMode.Name(s.info.latch_mode), "LATCH_MODE_FIRST", "SessionInfo.latch_mode")
    s.forward(s.cli, N, SSRC_CLIENT)
    s.reverse_to(s.cli)
    s.forward(s.cli2, 5, SSRC_CLIENT)
    s.forward(s.addr_stranger, 5, SSRC_STRANGER)
    t.eq(s.latched(), s.cli.getsockname(), "FIRST: nothing moves the latch, not even the "
         "client's SSRC from a new port")
    s.reverse_to(s.cli)


def test_any(t, L, app, ctx):
    pb = lab.pb2()
    s = Session(t, L, app, ctx, "latch-any", 23000, latch_mode=pb.LATCH_MODE_ANY)
    t.eq(pb.LatchMode.Name(s.info.latch_mode), "LATCH_MODE_ANY", "SessionInfo.latch_mode")
    s.forward(s.cli, N, SSRC_CLIENT)
    s.reverse_to(s.cli)
    s.forward(s.addr_stranger, 1, SSRC_STRANGER)
    t.eq(s.latched(), s.addr_stranger.getsockname(), "ANY: the stranger's packet moved it")
    s.reverse_to(s.addr_stranger)
    s.forward(s.cli, 1, SSRC_CLIENT)
    s.reverse_to(s.cli)


def wait_counts(app, sid, before, n, what="stats"):
    """Wait until drops[not_from_client] rose by N and the session's WHAT dropped N."""
    def done():
        d = drops(app).get("not_from_client", 0) - before.get("not_from_client", 0)
        return d >= n and getattr(app.session(sid), what).packets_dropped >= n
    lab.wait_until(done, 5)


def test_strict(t, L, app, ctx):
    pb = lab.pb2()
    s = Session(t, L, app, ctx, "latch-strict", 24000, strict_source=True)
    t.eq(s.info.strict_source, True, "SessionInfo.strict_source")
    t.eq(pb.LatchMode.Name(s.info.latch_mode), "LATCH_MODE_SSRC", "with the default SSRC mode")
    legit = s.forward(s.cli, 1, SSRC_CLIENT)
    before = drops(app)
    # 60 client packets interleaved with 30 of each stranger's, all paced
    k = 60
    legit += [rtp("strict-client", 1 + i, SSRC_CLIENT) for i in range(k)]
    s.n_fwd = 1 + k
    items = []
    for i in range(k):
        items.append((s.cli, legit[1 + i]))
        if i % 2 == 0:
            items.append((s.port_stranger, rtp("strict-s1", i, SSRC_STRANGER)))
            items.append((s.addr_stranger, rtp("strict-s2", i, SSRC_STRANGER)))
    n_strange = len(items) - k
    got = []
    for i in range(0, len(items), 10):
        for sock, p in items[i:i + 10]:
            sock.sendto(p, s.listen)
        got += lab.recv_all(s.dst, sum(1 for x in items[i:i + 10] if x[0] is s.cli), 5)
    got += lab.recv_all(s.dst, k - len(got), 5)
    wait_counts(app, s.sid, before, n_strange)
    got += lab.drain(s.dst)
    t.check([d for d, _ in got] == legit[1:], f"the client's {k} interleaved packets all reach "
            "the destination, in order, and nothing else does", f"got {len(got)}")
    d = drop_delta(before, drops(app))
    t.eq(d, {"not_from_client": n_strange},
         f"drops[not_from_client] rose by exactly {n_strange}, no other reason moved")
    st = app.session(s.sid).stats
    t.eq((st.packets_received, st.packets_sent, st.packets_dropped),
         (1 + k + n_strange, 1 + k, n_strange),
         "stats: received = sent + dropped, the strangers' packets dropped")
    t.eq(st.packets_lost, 0, "the strangers' packets did not disturb the RTP statistics")
    t.eq(s.latched(), s.cli.getsockname(), "latched_source is still the client")
    s.reverse_to(s.cli)

    # NAT rebinding is followed under strict_source; the old port is a stranger afterwards
    s.forward(s.cli2, 5, SSRC_CLIENT)
    t.eq(s.latched(), s.cli2.getsockname(), "the client's SSRC from a new port moved the latch")
    before = drops(app)
    dropped0 = app.session(s.sid).stats.packets_dropped
    s.forward(s.cli, 4, SSRC_STRANGER, relayed=False)
    lab.wait_until(lambda: app.session(s.sid).stats.packets_dropped >= dropped0 + 4, 5)
    t.eq(drop_delta(before, drops(app)), {"not_from_client": 4},
         "the old port is a stranger now: its packets with another SSRC are dropped "
         "(not_from_client)")
    t.eq(len(lab.drain(s.dst)), 0, "and not relayed")
    s.reverse_to(s.cli2)


def test_strict_rtcp(t, L, app, ctx):
    s = Session(t, L, app, ctx, "latch-strict-rtcp", 25000, strict_source=True,
                enable_rtcp=True)
    c_rtcp = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    x_rtcp = lab.udp_socket(L, "cli", bind=(STRANGER_ADDR, 0))
    d_rtcp = lab.udp_socket(L, "dst", bind=plus1(s.dest))
    ctx["socks"] += [c_rtcp, x_rtcp, d_rtcp]
    s.forward(s.cli, 5, SSRC_CLIENT)
    sr = [lab.rtcp_sr(SSRC_CLIENT, ntp=i << 32, packets=i) for i in range(5)]
    got = lab.relay_exact(c_rtcp, d_rtcp, plus1(s.listen), sr)
    t.eq(len(got), 5, "the client's RTCP (its SSRC) is relayed")
    before = drops(app)
    bad = [lab.rtcp_sr(SSRC_STRANGER, ntp=i << 32) for i in range(7)]
    lab.send_paced(x_rtcp, [(p, plus1(s.listen)) for p in bad], burst=10)
    wait_counts(app, s.sid, before, 7, what="rtcp_stats")
    t.eq(drop_delta(before, drops(app)), {"not_from_client": 7},
         "a stranger's RTCP (another SSRC) is dropped as not_from_client")
    t.eq(app.session(s.sid).rtcp_stats.packets_dropped, 7, "rtcp_stats.packets_dropped")
    t.eq(len(lab.drain(d_rtcp)), 0, "none of it reached the destination")
    rr = [lab.rtcp_rr(0xDE57, [lab.rtcp_report_block(SSRC_CLIENT, ext_seq=i)]) for i in range(5)]
    got = lab.relay_exact(d_rtcp, c_rtcp, plus1(s.fwd), rr)
    t.eq(len(got), 5, "the reverse RTCP still reaches the client's RTCP port")
    t.eq(len(lab.drain(x_rtcp)), 0, "and not the stranger")


def test_strict_unidirectional(t, L, app, ctx):
    s = Session(t, L, app, ctx, "latch-strict-uni", 26000, strict_source=True,
                bidirectional=False)
    t.eq((s.info.bidirectional, s.info.strict_source), (False, True),
         "a unidirectional session with strict_source")
    s.forward(s.cli, 10, SSRC_CLIENT)
    before = drops(app)
    s.forward(s.addr_stranger, 6, SSRC_STRANGER, relayed=False)
    wait_counts(app, s.sid, before, 6)
    t.eq(drop_delta(before, drops(app)), {"not_from_client": 6},
         "after the first packet, others' packets are dropped (not_from_client)")
    t.eq(len(lab.drain(s.dst)), 0, "and not relayed")
    s.forward(s.cli, 10, SSRC_CLIENT)
    st = app.session(s.sid).stats
    t.eq((st.packets_received, st.packets_sent, st.packets_dropped), (26, 20, 6),
         "stats: received = sent + dropped")


def test_ctl_get(t, L, app, ctx):
    pb = lab.pb2()
    app.stub.CreateSession(udp_session("latch-ctl", (DUT0_ADDR, 27000), (DUT1_ADDR, 37000),
                                       (DST_ADDR, 47000), bidirectional=True,
                                       latch_mode=pb.LATCH_MODE_FIRST, strict_source=True))
    ctl = [str(lab.BUILD_DIR / "control" / "rtpproxyctl"), "--server", f"unix:{app.sock}"]
    r = subprocess.run(ctl + ["get", "latch-ctl"], capture_output=True, text=True, timeout=30)
    t.eq(r.returncode, 0, "rtpproxyctl get exit code")
    t.check("  latching      mode first, strict source on\n" in r.stdout,
            "rtpproxyctl get shows the latch mode and strict_source", r.stdout)
    r = subprocess.run(ctl + ["--json", "get", "latch-ctl"], capture_output=True, text=True,
                       timeout=30)
    si = json.loads(r.stdout)["session"] if r.returncode == 0 else {}
    t.eq((si.get("latch_mode"), si.get("strict_source")), ("LATCH_MODE_FIRST", True),
         "rtpproxyctl --json get: latch_mode and strict_source")
    r = subprocess.run(ctl + ["create", "--listen", f"{DUT0_ADDR}:27100", "--forward",
                              f"{DUT1_ADDR}:37100", "--destination", f"{DST_ADDR}:47100",
                              "--id", "latch-ctl2", "--latch-mode", "any", "--strict-source"],
                       capture_output=True, text=True, timeout=30)
    t.eq(r.returncode, 0, "rtpproxyctl create --latch-mode any --strict-source")
    s = app.session("latch-ctl2")
    t.eq((pb.LatchMode.Name(s.latch_mode), s.strict_source), ("LATCH_MODE_ANY", True),
         "the session has them")


def body(t):
    with lab.Lab() as L:
        L.exec("cli", "ip", "addr", "add", f"{STRANGER_ADDR}/24", "dev", CLI_IF)
        with lab.Appliance(L) as app:
            ctx = {"socks": []}
            try:
                t.run("SSRC (default): strangers cannot take the latch, NAT rebinding can",
                      test_ssrc, t, L, app, ctx)
                t.run("FIRST: the latch never moves", test_first, t, L, app, ctx)
                t.run("ANY: every new source takes the latch", test_any, t, L, app, ctx)
                t.run("strict_source: strangers dropped and counted, the client exact",
                      test_strict, t, L, app, ctx)
                t.run("strict_source on RTCP", test_strict_rtcp, t, L, app, ctx)
                t.run("strict_source on a unidirectional session", test_strict_unidirectional,
                      t, L, app, ctx)
                t.run("rtpproxyctl create/get: latch mode and strict source", test_ctl_get,
                      t, L, app, ctx)
            finally:
                for s in ctx["socks"]:
                    s.close()
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("latching", body)
