#!/usr/bin/python3
"""e2e_drop_reasons: every drop reason a test can provoke, counted exactly, on the session it
belongs to and appliance-wide (issue 10, "exact accounting everywhere").

One appliance: port0 is a net_pcap vdev on veth-dut0 (net_af_packet's fanout defrag would
reassemble fragments before the data plane sees them, see e2e_exception_filter), port1 the usual
net_af_packet with exception_rate_pps = 1 (a bucket of 32 packets, one more per second). Frames
that a kernel socket cannot send (bad checksums, TTL 1, fragments, SYNs) are crafted and sent on
raw sockets in the cli and dst namespaces. For each reason, GetProxyStats drops[reason] must
move by exactly what was provoked and every other reason by nothing; a session's counters
(stats, or reverse_stats for what arrives at the forward endpoint) must show the same drops and
keep packets_received == packets_sent + packets_dropped:

- no_flow: a reverse packet before any client latched (on the session) and UDP to a port of
  the appliance nobody listens on (appliance only);
- malformed (bad IPv4 header checksum), fragment (+ filtered: the kernel reassembles each pair
  and the exception filter drops the datagram), filtered (TCP SYNs): appliance only, the
  session they were aimed at counts nothing;
- ttl_exceeded (TTL 1 and 0), invalid_rtp (validate_rtp), not_from_client (strict_source),
  not_from_destination (bidirectional), rate_limit (rate_limit_pps 1: one or two of 10 pass,
  the rest are dropped, sent + dropped == received exactly);
- no_neighbor: a destination on port1's subnet that does not exist: the packets wait for ARP
  (counted as sent while they wait: received == sent + dropped still holds), and once the
  appliance gives up (three requests a second apart) they are the session's drops;
- exception_limit: 64 SYNs to port1 at once: the bucket passes at most 33 (filtered by the
  kernel), the rest are cut: filtered + exception_limit == 64.
A packet relayed behind each batch (same port, same worker, in order) shows the batch was seen.
"""
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import (CLI_ADDR, CLI_IF, CLI_MAC, DST_ADDR, DST_IF, DST_MAC, DUT0_ADDR,  # noqa: E402
                 DUT0_MAC, DUT1_ADDR, DUT1_MAC, udp_session)

CONFIG = {
    "port0": {"device": "net_pcap0,iface=veth-dut0,phy_mac=1"},
    "port1": {"exception_rate_pps": "1"},
}
BASE = ((DUT0_ADDR, 20000), (DUT1_ADDR, 30000), (DST_ADDR, 40000))    # the barrier session
ABSENT = "198.18.2.77"          # on port1's subnet, nobody there
CLOSED_UDP, CLOSED_TCP = 29999, 2223
EXC_BURST = 32                  # port1's bucket: DP_BURST packets at 1 pps
WAIT = 5


def drops(app):
    return dict(app.proxy_stats().drops)


def delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) != before.get(k, 0)}


def counts(st):
    return (st.packets_received, st.packets_sent, st.packets_dropped)


def rtp(tag, i, ssrc=0x5EED):
    return lab.rtp_packet(i, i * 160, ssrc, payload=lab.payload_for(tag, i, 160))


def eps(n):
    """Session n's listen, forward and destination endpoints."""
    return (DUT0_ADDR, 20000 + 10 * n), (DUT1_ADDR, 30000 + 10 * n), (DST_ADDR, 40000 + 10 * n)


def csum(data):
    return lab.ip_checksum(data)


def ipv4(src, dst, proto, payload, ident=0, frag=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def ether(src_mac, dst_mac, payload):
    return lab.mac_bytes(dst_mac) + lab.mac_bytes(src_mac) + b"\x08\x00" + payload


def syn(src_mac, dst_mac, src, dst, sport, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, sport * 7919, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, 20)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    return ether(src_mac, dst_mac, ipv4(src, dst, 6, tcp))


def fragment_pair(ident, dport):
    """A 32-byte UDP datagram from the client to DUT0_ADDR:DPORT in two fragments."""
    payload = bytes(range(32))
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    pseudo = (socket.inet_aton(CLI_ADDR) + socket.inet_aton(DUT0_ADDR)
              + struct.pack("!BBH", 0, 17, len(udp)))
    udp = udp[:6] + struct.pack("!H", csum(pseudo + udp) or 0xFFFF) + udp[8:]
    return (ether(CLI_MAC, DUT0_MAC, ipv4(CLI_ADDR, DUT0_ADDR, 17, udp[:24], ident, 0x2000)),
            ether(CLI_MAC, DUT0_MAC, ipv4(CLI_ADDR, DUT0_ADDR, 17, udp[24:], ident, 3)))


def cli_frame(dport, payload, **kw):
    return lab.ipv4_udp_frame(CLI_MAC, DUT0_MAC, CLI_ADDR, DUT0_ADDR, 5004, dport, payload, **kw)


def raw_socket(L, ns, ifc):
    with L.netns(ns):
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        raw.bind((ifc, 0))
    return raw


class Ctx:
    def __init__(self, t, L, app):
        self.t, self.L, self.app = t, L, app
        self.socks = []
        self.n_barrier = 0

    def udp(self, ns, bind=None):
        s = lab.udp_socket(self.L, ns, bind=bind)
        self.socks.append(s)
        return s

    def session(self, n, dest=None, **kw):
        listen, fwd, d = eps(n)
        dest = dest or d
        self.app.stub.CreateSession(udp_session(f"drop-{n}", listen, fwd, dest, **kw))
        return listen, fwd, dest

    def stats(self, n, reverse=False):
        s = self.app.session(f"drop-{n}")
        return counts(s.reverse_stats if reverse else s.stats)

    def barrier(self, reverse=False):
        """A packet of the barrier session through port0 (reverse: port1) reaches its end: what
        was sent to that port before it has been through the worker."""
        self.n_barrier += 1
        p = rtp("barrier", self.n_barrier, 0xBA)
        if reverse:
            src, dst, to = self.bdst, self.bcli, BASE[1]
        else:
            src, dst, to = self.bcli, self.bdst, BASE[0]
        src.sendto(p, to)
        got = lab.recv_all(dst, 1, WAIT)
        self.t.check([d for d, _ in got] == [p], "the barrier packet behind them is relayed")

    def expect(self, before, want, desc):
        """drops moved by exactly WANT since BEFORE (polled with a deadline)."""
        lab.wait_until(lambda: delta(before, drops(self.app)) == want, WAIT)
        self.t.eq(delta(before, drops(self.app)), want, desc)

    def invariant(self, n, reverse=False):
        rx, tx, dr = self.stats(n, reverse)
        what = "reverse_stats" if reverse else "stats"
        self.t.eq(rx, tx + dr, f"drop-{n} {what}: packets_received == sent + dropped")


def setup(c):
    c.app.stub.CreateSession(udp_session("drop-base", *BASE, bidirectional=True))
    c.bcli = c.udp("cli", bind=(CLI_ADDR, 5000))
    c.bdst = c.udp("dst", bind=BASE[2])
    got = lab.relay_exact(c.bcli, c.bdst, BASE[0], [rtp("base", 0)])
    c.t.eq(len(got), 1, "the barrier session relays (and latches its client)")
    c.barrier(reverse=True)
    c.raw_cli = raw_socket(c.L, "cli", CLI_IF)
    c.raw_dst = raw_socket(c.L, "dst", DST_IF)
    c.socks += [c.raw_cli, c.raw_dst]


def test_no_flow(c):
    listen, fwd, dest = c.session(1, bidirectional=True)
    d = c.udp("dst", bind=dest)
    before = drops(c.app)
    for i in range(3):                  # nobody latched: nobody to send them to
        d.sendto(rtp("early", i), fwd)
    c.barrier(reverse=True)
    tx = c.udp("cli", bind=(CLI_ADDR, 0))
    for i in range(4):
        tx.sendto(rtp("closed", i), (DUT0_ADDR, CLOSED_UDP))
    c.barrier()
    c.expect(before, {"no_flow": 7}, 'drops["no_flow"] +7 (3 before a client, 4 to a closed port)')
    c.t.eq(c.stats(1, reverse=True), (3, 0, 3), "drop-1 reverse_stats: 3 received, 3 dropped")
    c.t.eq(c.stats(1), (0, 0, 0), "drop-1 stats: nothing")


def test_malformed(c):
    listen, _, _ = c.session(2)
    before = drops(c.app)
    for i in range(4):
        f = cli_frame(listen[1], rtp("mal", i))
        c.raw_cli.send(f[:24] + bytes([f[24] ^ 0x5A, f[25] ^ 0x5A]) + f[26:])  # IP checksum
    c.barrier()
    c.expect(before, {"malformed": 4}, 'drops["malformed"] +4, nothing else')
    c.t.eq(c.stats(2), (0, 0, 0), "drop-2: the session counts none of them")


def test_fragment(c):
    before = drops(c.app)
    for i in range(3):
        for f in fragment_pair(0x4000 + i, CLOSED_UDP):
            c.raw_cli.send(f)
    c.barrier()
    c.expect(before, {"fragment": 6, "filtered": 3},
             'drops["fragment"] +6 (3 pairs), ["filtered"] +3 (the reassembled datagrams)')


def test_filtered(c):
    before = drops(c.app)
    for i in range(3):
        c.raw_cli.send(syn(CLI_MAC, DUT0_MAC, CLI_ADDR, DUT0_ADDR, 41000 + i, CLOSED_TCP))
    c.expect(before, {"filtered": 3}, 'drops["filtered"] +3 (SYNs to a closed port)')


def test_ttl(c):
    listen, _, dest = c.session(3)
    d = c.udp("dst", bind=dest)
    before = drops(c.app)
    for i, ttl in enumerate((1, 1, 0)):
        c.raw_cli.send(cli_frame(listen[1], rtp("ttl", i), ttl=ttl))
    p = rtp("ttl", 3)
    c.raw_cli.send(cli_frame(listen[1], p, ttl=2))
    got = lab.recv_all(d, 1, WAIT)
    c.t.check([x for x, _ in got] == [p], "the TTL 2 packet is relayed")
    c.expect(before, {"ttl_exceeded": 3}, 'drops["ttl_exceeded"] +3')
    c.t.eq(c.stats(3), (4, 1, 3), "drop-3: 4 received, 1 sent, 3 dropped")


def test_invalid_rtp(c):
    listen, _, dest = c.session(4, validate_rtp=True)
    tx, d = c.udp("cli", bind=(CLI_ADDR, 0)), c.udp("dst", bind=dest)
    before = drops(c.app)
    for i in range(4):
        tx.sendto(b"not rtp %d" % i, listen)
    p = rtp("valid", 0)
    tx.sendto(p, listen)
    got = lab.recv_all(d, 1, WAIT)
    c.t.check([x for x, _ in got] == [p], "the RTP packet behind them is relayed")
    c.expect(before, {"invalid_rtp": 4}, 'drops["invalid_rtp"] +4')
    c.t.eq(c.stats(4), (5, 1, 4), "drop-4: 5 received, 1 sent, 4 dropped")


def test_not_from_client(c):
    listen, _, dest = c.session(5, bidirectional=True, strict_source=True)
    cl, other, d = c.udp("cli", bind=(CLI_ADDR, 0)), c.udp("cli", bind=(CLI_ADDR, 0)), \
        c.udp("dst", bind=dest)
    got = lab.relay_exact(cl, d, listen, [rtp("client", 0)])
    c.t.eq(len(got), 1, "the client's packet is relayed (and latched)")
    before = drops(c.app)
    for i in range(3):
        other.sendto(rtp("stranger", i, 0x57), listen)
    c.barrier()
    c.expect(before, {"not_from_client": 3}, 'drops["not_from_client"] +3')
    c.t.eq(c.stats(5), (4, 1, 3), "drop-5: 4 received, 1 sent, 3 dropped")


def test_not_from_destination(c):
    listen, fwd, dest = c.session(6, bidirectional=True)
    cl, d = c.udp("cli", bind=(CLI_ADDR, 0)), c.udp("dst", bind=dest)
    stranger = c.udp("dst", bind=(DST_ADDR, dest[1] + 1))
    got = lab.relay_exact(cl, d, listen, [rtp("client", 0)])
    c.t.eq(len(got), 1, "the client's packet is relayed (and latched)")
    before = drops(c.app)
    for i in range(3):
        stranger.sendto(rtp("stranger", i), fwd)
    p = rtp("answer", 0)
    d.sendto(p, fwd)
    got = lab.recv_all(cl, 1, WAIT)
    c.t.check([x for x, _ in got] == [p],
              "the destination's answer behind them reaches the client")
    c.expect(before, {"not_from_destination": 3}, 'drops["not_from_destination"] +3')
    c.t.eq(c.stats(6, reverse=True), (4, 1, 3),
           "drop-6 reverse_stats: 4 received, 1 sent, 3 dropped")


def test_rate_limit(c):
    listen, _, dest = c.session(7, rate_limit_pps=1)
    tx, d = c.udp("cli", bind=(CLI_ADDR, 0)), c.udp("dst", bind=dest)
    before = drops(c.app)
    for i in range(10):
        tx.sendto(rtp("rate", i), listen)
    c.barrier()
    lab.wait_until(lambda: c.stats(7)[0] == 10, WAIT)
    n = c.stats(7)[1]
    c.t.check(1 <= n <= 2, "1 or 2 of 10 pass (a bucket of one packet, one more per second)",
              str(n))
    got = lab.recv_all(d, n, WAIT) + lab.drain(d)
    c.t.eq(len(got), n, "the destination receives exactly those")
    c.expect(before, {"rate_limit": 10 - n}, f'drops["rate_limit"] + (10 - relayed)')
    c.t.eq(c.stats(7), (10, n, 10 - n), "drop-7: 10 received, the relayed sent, the rest dropped")


def test_no_neighbor(c):
    listen, _, _ = c.session(8, dest=(ABSENT, 40080))
    tx = c.udp("cli", bind=(CLI_ADDR, 0))
    before = drops(c.app)
    for i in range(5):
        tx.sendto(rtp("absent", i), listen)
    c.barrier()
    c.t.eq(c.stats(8)[0], 5, "drop-8: 5 received")
    c.invariant(8)      # while they wait for ARP, too
    done = lab.wait_until(lambda: c.stats(8)[2] == 5, 15)
    c.t.check(done, "within 15 s the appliance gives the next hop up", str(c.stats(8)))
    c.t.eq(c.stats(8), (5, 0, 5), "drop-8: 5 received, 0 sent, 5 dropped")
    c.expect(before, {"no_neighbor": 5}, 'drops["no_neighbor"] +5')


def test_exception_limit(c):
    def port1():
        return {p.name: p for p in c.app.proxy_stats().ports}["port1"].exception_packets

    before, exc_before = drops(c.app), port1()
    n = 2 * EXC_BURST
    frames = [syn(DST_MAC, DUT1_MAC, DST_ADDR, DUT1_ADDR, 42000 + i, CLOSED_TCP) for i in range(n)]
    t0 = time.monotonic()
    for f in frames:
        c.raw_dst.send(f)
    c.t.check(time.monotonic() - t0 < 0.9, "64 SYNs sent within a second")
    settled = lab.wait_until(lambda: sum(delta(before, drops(c.app)).values()) >= n, WAIT)
    c.t.check(settled, f"{n} drops counted")
    dd = delta(before, drops(c.app))
    passed = port1() - exc_before
    c.t.eq(set(dd) - {"filtered", "exception_limit"}, set(), "no other reason moved")
    c.t.eq(dd.get("filtered", 0) + dd.get("exception_limit", 0), n,
           f"filtered + exception_limit == {n}")
    c.t.eq(dd.get("filtered", 0), passed, "what the bucket passed (exception_packets) is filtered")
    c.t.check(EXC_BURST - 1 <= passed <= EXC_BURST + 1, f"the bucket passed {EXC_BURST} +- 1",
              str(passed))


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L, config=CONFIG) as app:
            c = Ctx(t, L, app)
            t.run("setup", setup, c)
            if hasattr(c, "raw_dst"):
                start = drops(app)
                for name, fn in (("no_flow", test_no_flow), ("malformed", test_malformed),
                                 ("fragment", test_fragment), ("filtered", test_filtered),
                                 ("ttl_exceeded", test_ttl), ("invalid_rtp", test_invalid_rtp),
                                 ("not_from_client", test_not_from_client),
                                 ("not_from_destination", test_not_from_destination),
                                 ("rate_limit", test_rate_limit),
                                 ("no_neighbor", test_no_neighbor),
                                 ("exception_limit", test_exception_limit)):
                    t.run(name, fn, c)
                t.run("every session: received == sent + dropped",
                      lambda: [c.invariant(n, r) for n in range(1, 9) for r in (False, True)])
                total = delta(start, drops(app))
                t.check(set(total) <= {"no_flow", "malformed", "fragment", "filtered",
                                       "ttl_exceeded", "invalid_rtp", "not_from_client",
                                       "not_from_destination", "rate_limit", "no_neighbor",
                                       "exception_limit"}, "nothing else was dropped", str(total))
            for s in c.socks:
                s.close()
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("drop_reasons", body)
