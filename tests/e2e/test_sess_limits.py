#!/usr/bin/python3
"""e2e_sess_limits: per-session rate limits and RTP validation (API.md 1.1 "Rate limits",
"RTP validation", "Counting").

Rate limits, all three sessions fed in the same ~2 s window by one bounded loop:
- "pps": rate_limit_pps 100, fed 500 pps -> relayed within 10 % of 100 * T + 10 (T the
  sending time; burst = 100 ms of the rate = 10 packets);
- "bps": rate_limit_bps 200 000 with 200-byte IP packets, fed 625 pps (5x) -> relayed within
  10 % of (25 000 B/s * T + 2 500 B) / 200 B (burst = 100 ms of the rate = 2 500 bytes, which
  is more than the 1 500-byte minimum);
- "free": no limit, fed 500 pps -> relays every packet.
For each: drops["rate_limit"] and stats.packets_dropped == sent - relayed, and
packets_received == packets_sent + packets_dropped.

validate_rtp: invalid RTP (version 0/1, shorter than 12 bytes, CSRC list / extension / padding
past the end) is dropped and counted (drops["invalid_rtp"], stats.packets_dropped); valid RTP
passes; on the RTCP port (enable_rtcp) invalid RTCP is dropped (rtcp_stats.packets_dropped)
and valid compounds pass. A session without validate_rtp relays all of the same payloads.
"""
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

DURATION = 2.0        # seconds of sending
TICK = 0.010          # one round of sends every 10 ms
PPS_LIMIT = 100
BPS_LIMIT = 200_000
IP_SIZE = 200         # bytes of IP packet for the bps session: 20 IP + 8 UDP + 172
BPS_PAYLOAD = IP_SIZE - 20 - 8 - 12


def addrs(k):
    return (DUT0_ADDR, 20000 + 2 * k), (DUT1_ADDR, 30000 + 2 * k), (DST_ADDR, 40000 + 2 * k)


def drops(app):
    return dict(app.proxy_stats().drops)


def drop_delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)
            if after.get(k, 0) != before.get(k, 0)}


def check_counts(t, st, sent, relayed, what):
    t.eq(st.packets_received, sent, f"{what}: stats.packets_received == packets the client sent")
    t.eq(st.packets_sent, relayed, f"{what}: stats.packets_sent == packets the destination got")
    t.eq(st.packets_dropped, sent - relayed, f"{what}: stats.packets_dropped == sent - relayed")
    t.eq(st.packets_received, st.packets_sent + st.packets_dropped,
         f"{what}: received == sent + dropped")


def test_rate_limits(t, L, app, ctx):
    specs = {   # name: (k, create kwargs, packets per tick, payload bytes)
        "pps": (0, {"rate_limit_pps": PPS_LIMIT}, 5, 160),
        "bps": (1, {"rate_limit_bps": BPS_LIMIT}, None, BPS_PAYLOAD),
        "free": (2, {}, 5, 160),
    }
    io = {}
    for name, (k, kw, _, _) in specs.items():
        listen, fwd, dest = addrs(k)
        s = app.stub.CreateSession(udp_session(f"rl-{name}", listen, fwd, dest, **kw)).session
        tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
        rx = lab.udp_socket(L, "dst", bind=dest)
        ctx["socks"] += [tx, rx]
        io[name] = (tx, rx, listen)
    # Warm-up: resolve the destination's MAC with a packet of an unlimited session, and wait
    # a second so the buckets of the limited sessions are full (they start full anyway).
    tx, rx, listen = io["free"]
    tx.sendto(b"warm-up, not counted", listen)
    t.eq(len(lab.recv_all(rx, 1, 5)), 1, "warm-up packet relayed by the unlimited session")
    time.sleep(1.0)
    free_warm = 1

    before = drops(app)
    sent = {n: 0 for n in specs}
    got = {n: [] for n in specs}
    # bps session: 5x the limit in packets = 5 * 200000 / 8 / 200 = 625 pps: 6 or 7 a tick
    bps_pps = 5 * BPS_LIMIT / 8 / IP_SIZE
    seq = {n: 0 for n in specs}
    t0 = time.monotonic()
    first = last = None
    ticks = int(DURATION / TICK)
    for i in range(ticks):          # bounded: `ticks` rounds, each a handful of sendto
        target = t0 + i * TICK
        while time.monotonic() < target:
            time.sleep(max(0.0, min(0.002, target - time.monotonic())))
        if first is None:
            first = time.monotonic()
        for name, (k, kw, per_tick, size) in specs.items():
            tx, rx, listen = io[name]
            n = per_tick if per_tick is not None else \
                int(bps_pps * TICK * (i + 1)) - int(bps_pps * TICK * i)
            for _ in range(n):
                p = lab.rtp_packet(seq[name], seq[name] * 160, 0x717 + k,
                                   payload=lab.payload_for(name, seq[name], size))
                tx.sendto(p, listen)
                seq[name] += 1
                sent[name] += 1
            got[name].extend(lab.drain(rx))
        now = last = time.monotonic()
        if now - t0 > DURATION + 5:     # a badly stalled machine: stop, the checks will say
            break
    elapsed = last - first
    time.sleep(0.5)
    for name in specs:
        got[name].extend(lab.drain(io[name][1]))
    print(f"    sent for {elapsed:.3f} s: {sent}; relayed: "
          f"{ {n: len(g) for n, g in got.items()} }")

    # pps: tokens = burst (10) + 100 per second
    want = PPS_LIMIT * elapsed + max(1, PPS_LIMIT // 10)
    r = len(got["pps"])
    t.eq(sent["pps"], int(DURATION / TICK) * 5, "pps session: the client sent 1000 (500 pps)")
    t.check(abs(r - want) <= 0.1 * want,
            f"pps session: relayed {r} within 10 % of {PPS_LIMIT} * {elapsed:.2f} s + burst 10 "
            f"= {want:.1f}")
    # bps: bytes = burst (100 ms of the rate = 2500 B) + 25000 B/s, in 200-byte packets
    burst_b = max(BPS_LIMIT / 8 / 10, 1500)
    want_b = (BPS_LIMIT / 8 * elapsed + burst_b) / IP_SIZE
    rb = len(got["bps"])
    t.check(abs(sent["bps"] - bps_pps * DURATION) <= 2, f"bps session: the client sent "
            f"{sent['bps']} (625 pps = 5x the limit)")
    t.check(abs(rb - want_b) <= 0.1 * want_b,
            f"bps session: relayed {rb} within 10 % of (25000 B/s * {elapsed:.2f} s + 2500 B) "
            f"/ 200 B = {want_b:.1f}")
    t.eq(len(got["free"]), sent["free"], f"unlimited session in the same period: all "
         f"{sent['free']} relayed")
    t.check(all(len(d) == IP_SIZE - 28 for d, _ in got["bps"]),
            "bps session packets are 172-byte UDP payloads (200-byte IP packets)")

    time.sleep(0.2)
    after = drops(app)
    delta = drop_delta(before, after)
    limited = (sent["pps"] - r) + (sent["bps"] - rb)
    t.eq(delta.get("rate_limit", 0), limited,
         "drops[rate_limit] rose by (sent - relayed) of both limited sessions")
    t.eq({k: v for k, v in delta.items() if k != "rate_limit"}, {}, "no other drop reason moved")
    check_counts(t, app.session("rl-pps").stats, sent["pps"], r, "pps")
    check_counts(t, app.session("rl-bps").stats, sent["bps"], rb, "bps")
    check_counts(t, app.session("rl-free").stats, sent["free"] + free_warm,
                 len(got["free"]) + free_warm, "free")
    s = app.session("rl-bps")
    t.eq(s.stats.bytes_sent, rb * BPS_PAYLOAD + rb * 12, "bps: stats.bytes_sent (UDP payload)")


# --- RTP validation ---

def rtp_hdr(first, second=0, seq=0, ts=0, ssrc=0x7A11D):
    return struct.pack("!BBHII", first, second, seq, ts, ssrc)


def invalid_rtp():
    """(kind, payload) of packets that are not valid RTP per API.md 1.1."""
    body = lab.payload_for("inv", 0, 160)
    return [
        ("version 0", rtp_hdr(0x00) + body),
        ("version 1", rtp_hdr(0x40) + body),
        ("version 3", rtp_hdr(0xC0) + body),
        ("8 bytes (< 12)", rtp_hdr(0x80)[:8]),
        ("11 bytes (< 12)", rtp_hdr(0x80)[:11]),
        ("CC 15 in 20 bytes", rtp_hdr(0x8F) + b"\0" * 8),
        ("CC 2, 4 bytes of CSRC", rtp_hdr(0x82) + b"\0" * 4),
        ("X set, no room for the extension header", rtp_hdr(0x90) + b"\xbe"),
        ("X set, extension length past the end",
         rtp_hdr(0x90) + struct.pack("!HH", 0xBEDE, 100) + b"\0" * 8),
        ("P set, padding count > payload", rtp_hdr(0xA0) + b"\0" * 19 + b"\xc8"),
    ]


def valid_rtp(i):
    variants = [
        lambda: lab.rtp_packet(i, i * 160, 0x7A11D, payload=lab.payload_for("val", i, 160)),
        # CSRC list of 2, extension of 1 word, 4 bytes of padding (count 4 includes itself)
        lambda: (rtp_hdr(0xB2, 0, i, i * 160) + struct.pack("!II", 1, 2)
                 + struct.pack("!HHI", 0xBEDE, 1, 0x10AA0000) + b"x" * 40 + b"\0\0\0\x04"),
        lambda: rtp_hdr(0x80, 0, i, i * 160),         # exactly 12 bytes, no payload
    ]
    return variants[i % 3]()


def invalid_rtcp():
    sr = lab.rtcp_sr(0x7C)
    return [
        ("version 0", bytes([sr[0] & 0x3F]) + sr[1:]),
        ("version 1", bytes([(sr[0] & 0x3F) | 0x40]) + sr[1:]),
        ("packet type 96 (not 192..223)", sr[:1] + bytes([96]) + sr[2:]),
        ("packet type 224 (not 192..223)", sr[:1] + bytes([224]) + sr[2:]),
        ("length field past the end", sr[:2] + struct.pack("!H", 20) + sr[4:]),
        ("second packet of a compound longer than the rest",
         sr + lab.rtcp_sdes(0x7C, "x")[:2] + struct.pack("!H", 30)),
        ("3 bytes", sr[:3]),
    ]


def valid_rtcp(i):
    sdes = lab.rtcp_sdes(0x7C, f"v{i}@198.18.1.2")
    return [lab.rtcp_sr(0x7C, ntp=i << 32, packets=i) + sdes,
            lab.rtcp_rr(0x7C, [lab.rtcp_report_block(0x7A11D, ext_seq=i)]) + sdes,
            lab.rtcp_rr(0x7C)][i % 3]


def run_validation(t, L, app, ctx, k, sid, validate, per_kind):
    listen, fwd, dest = addrs(k)
    app.stub.CreateSession(udp_session(sid, listen, fwd, dest, enable_rtcp=True,
                                       validate_rtp=validate))
    tx = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    rx = lab.udp_socket(L, "dst", bind=dest)
    rx_c = lab.udp_socket(L, "dst", bind=(dest[0], dest[1] + 1))
    ctx["socks"] += [tx, rx, rx_c]
    # RTP port: valid and invalid interleaved
    bad = [p for _, p in invalid_rtp()] * per_kind
    good = [valid_rtp(i) for i in range(len(bad))]
    items, expect = [], []
    for g, b in zip(good, bad):
        items += [(g, listen), (b, listen)]
        expect.append(g)
    got = []
    tx.sendto(good[0], listen)           # not counted below: first alone, resolves the MAC
    got_first = lab.recv_all(rx, 1, 5)
    lab.send_paced(tx, items, burst=20, between=lambda: got.extend(lab.drain(rx)))
    # RTCP port
    cbad = [p for _, p in invalid_rtcp()] * per_kind
    cgood = [valid_rtcp(i) for i in range(len(cbad))]
    citems, cexpect = [], []
    for g, b in zip(cgood, cbad):
        citems += [(g, (listen[0], listen[1] + 1)), (b, (listen[0], listen[1] + 1))]
        cexpect.append(g)
    cgot = []
    lab.send_paced(tx, citems, burst=20, between=lambda: cgot.extend(lab.drain(rx_c)))
    want_n = len(expect) if validate else len(items)
    want_c = len(cexpect) if validate else len(citems)
    got += lab.recv_all(rx, want_n - len(got), 5)
    cgot += lab.recv_all(rx_c, want_c - len(cgot), 5)
    time.sleep(0.3)
    got += lab.drain(rx)
    cgot += lab.drain(rx_c)
    return (got_first, [d for d, _ in got], expect, [p for p, _ in items],
            [d for d, _ in cgot], cexpect, [p for p, _ in citems], len(bad), len(cbad))


def test_validate(t, L, app, ctx):
    per_kind = 5
    before = drops(app)
    (first, got, expect, _, cgot, cexpect, _, nbad, ncbad) = run_validation(
        t, L, app, ctx, 3, "val-on", True, per_kind)
    t.eq(len(first), 1, "first valid packet relayed")
    n_kinds, c_kinds = len(invalid_rtp()), len(invalid_rtcp())
    t.eq(len(got), len(expect), f"RTP port: exactly the {len(expect)} valid packets relayed "
         f"({nbad} invalid of {n_kinds} kinds dropped)")
    t.check(got == expect, "RTP port: relayed packets byte-identical, in order, no invalid one")
    t.eq(len(cgot), len(cexpect), f"RTCP port: exactly the {len(cexpect)} valid compounds "
         f"relayed ({ncbad} invalid of {c_kinds} kinds dropped)")
    t.check(cgot == cexpect, "RTCP port: relayed packets byte-identical, in order")
    time.sleep(0.2)
    delta = drop_delta(before, drops(app))
    t.eq(delta.get("invalid_rtp", 0), nbad + ncbad,
         "drops[invalid_rtp] rose by the invalid RTP and RTCP packets")
    t.eq({k: v for k, v in delta.items() if k != "invalid_rtp"}, {}, "no other drop reason moved")
    s = app.session("val-on")
    check_counts(t, s.stats, len(expect) + nbad + 1, len(expect) + 1, "validated RTP")
    check_counts(t, s.rtcp_stats, len(cexpect) + ncbad, len(cexpect), "validated RTCP")
    t.eq(s.stats.packets_lost, 0, "invalid packets do not count as RTP sequence loss")

    # the same payloads without validate_rtp: all relayed, none dropped
    before = drops(app)
    (first, got, _, items, cgot, _, citems, nbad, ncbad) = run_validation(
        t, L, app, ctx, 4, "val-off", False, 2)
    t.eq(got, items, f"without validate_rtp: all {len(items)} RTP-port payloads relayed as sent")
    t.eq(cgot, citems, f"without validate_rtp: all {len(citems)} RTCP-port payloads relayed")
    time.sleep(0.2)
    t.eq(drop_delta(before, drops(app)), {}, "without validate_rtp: no drop counted")
    s = app.session("val-off")
    t.eq((s.stats.packets_dropped, s.rtcp_stats.packets_dropped), (0, 0),
         "without validate_rtp: packets_dropped 0")


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L) as app:
            ctx = {"socks": []}
            try:
                t.run("rate limits: pps, bps, and an unlimited session alongside",
                      test_rate_limits, t, L, app, ctx)
                t.run("validate_rtp", test_validate, t, L, app, ctx)
            finally:
                for s in ctx["socks"]:
                    s.close()
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


if __name__ == "__main__":
    lab.main_wrapper("sess_limits", body)
