#!/usr/bin/python3
"""e2e_malformed: broken Ethernet/IPv4/UDP frames are dropped and counted, never relayed.

With a session on 198.18.1.1:20000 -> 198.18.2.2:40000, an AF_PACKET socket on the client's
veth sends crafted frames to the appliance's MAC (learnt from the client's neighbour table after
a ping): 6 kinds x 10. GetProxyStats drops["malformed"] must rise by exactly 60 (and no other
drop reason), the destination must receive none of them, and afterwards good traffic (kernel
socket and well-formed raw frames from the same builder) is relayed exactly.
"""
import random
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import CLI_ADDR, CLI_IF, CLI_MAC, DST_ADDR, DUT0_ADDR, DUT1_ADDR, udp_session  # noqa: E402

LISTEN = (DUT0_ADDR, 20000)
FORWARD = (DUT1_ADDR, 30000)
DEST = (DST_ADDR, 40000)
PER_KIND = 10
SPORT = 5004


def frame(mac, seq, **kw):
    payload = lab.rtp_packet(seq, seq * 160, 0xBAD, payload=lab.payload_for("mal", seq, 160))
    return lab.ipv4_udp_frame(CLI_MAC, mac, CLI_ADDR, DUT0_ADDR, SPORT, LISTEN[1], payload,
                              ident=seq, **kw)


def bad_ip_csum(f):
    good = int.from_bytes(f[24:26], "big")
    return f[:24] + (good ^ 0x5A5A).to_bytes(2, "big") + f[26:]


def malformed_frames(mac):
    rng = random.Random(20000)
    payload_len = 8 + 12 + 160
    kinds = {
        "truncated IPv4 header (12 of 20 bytes)": lambda s: frame(mac, s)[:14 + 12],
        "IHL 4 (< 5)": lambda s: frame(mac, s, ihl=4),
        "IPv4 total length > frame": lambda s: frame(mac, s, tot_len=20 + payload_len + 40),
        "UDP length > IP payload": lambda s: frame(mac, s, udp_len=payload_len + 40,
                                                   udp_csum=False),
        "bad IPv4 header checksum": lambda s: bad_ip_csum(frame(mac, s)),
        # version nibble 0: no IPv4 header at all, just bytes
        "garbage after an IPv4 ethertype": lambda s: (lab.mac_bytes(mac) + lab.mac_bytes(CLI_MAC)
                                                      + b"\x08\x00" + b"\x00"
                                                      + bytes(rng.randrange(256) for _ in range(63))),
    }
    return {k: [make(1000 + 100 * n + s) for s in range(PER_KIND)]
            for n, (k, make) in enumerate(kinds.items())}


def drops(app):
    return dict(app.proxy_stats().drops)


def body(t):
    with lab.Lab() as L:
        with lab.Appliance(L) as app:
            ctx = {}
            t.run("setup", setup, t, L, app, ctx)
            if "mac" in ctx:
                t.run("malformed frames", test_malformed, t, app, ctx)
                t.run("good traffic afterwards", test_good_after, t, L, app, ctx)
            for k in ("tx", "rx", "raw"):
                if k in ctx:
                    ctx[k].close()
            t.run("clean shutdown on SIGTERM", lambda: t.eq(app.stop(), 0, "rtpproxy exit code"))


def setup(t, L, app, ctx):
    app.stub.CreateSession(udp_session("mal-1", LISTEN, FORWARD, DEST))
    t.eq(lab.ping(L, DUT0_ADDR, ns="cli"), 3, "ping 198.18.1.1 from cli")
    mac = L.neigh_mac("cli", DUT0_ADDR, dev=CLI_IF)
    t.check(mac is not None, "appliance MAC learnt from cli's neighbour table", str(mac))
    if mac is None:
        return
    ctx["mac"] = mac
    ctx["rx"] = lab.udp_socket(L, "dst", bind=DEST)
    ctx["tx"] = lab.udp_socket(L, "cli", bind=(CLI_ADDR, 0))
    with L.netns("cli"):
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        raw.bind((CLI_IF, 0))
    ctx["raw"] = raw


def test_malformed(t, app, ctx):
    raw, rx = ctx["raw"], ctx["rx"]
    kinds = malformed_frames(ctx["mac"])
    total = sum(map(len, kinds.values()))
    before = drops(app)
    port0_before = {p.name: p for p in app.proxy_stats().ports}.get("port0")
    for name, frames in kinds.items():
        # One kind at a time, so a miss says which.
        start = drops(app).get("malformed", 0)
        for f in frames:
            raw.send(f)
        deadline = time.monotonic() + 3
        while drops(app).get("malformed", 0) < start + len(frames) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        t.eq(drops(app).get("malformed", 0) - start, len(frames),
             f'{name}: drops["malformed"] +{len(frames)}')
    time.sleep(0.4)
    after = drops(app)
    t.eq(after.get("malformed", 0) - before.get("malformed", 0), total,
         f'drops["malformed"] rose by exactly {total} ({len(kinds)} kinds x {PER_KIND})')
    others = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)
              if k != "malformed" and after.get(k, 0) != before.get(k, 0)}
    t.eq(others, {}, "no other drop reason moved")
    port0 = {p.name: p for p in app.proxy_stats().ports}.get("port0")
    if port0_before and port0:
        t.check(port0.rx_packets - port0_before.rx_packets >= total,
                f"port0 rx_packets rose by >= {total}",
                str(port0.rx_packets - port0_before.rx_packets))
    got = lab.recv_all(rx, 1, 1.0)
    t.eq(len(got), 0, "destination received none of them")
    st = app.session("mal-1").stats
    t.eq((st.packets_received, st.packets_sent), (0, 0), "session counted none of them")
    ctx["malformed_after"] = after.get("malformed", 0)


def test_good_after(t, L, app, ctx):
    tx, rx, raw, mac = ctx["tx"], ctx["rx"], ctx["raw"], ctx["mac"]
    pkts = [lab.rtp_packet(i, i * 160, 0x600D, payload=lab.payload_for("good", i))
            for i in range(100)]
    got = lab.relay_exact(tx, rx, LISTEN, pkts)
    t.eq(len(got), 100, "100 good packets from a kernel socket: 100 relayed")
    t.check([d for d, _ in got] == pkts, "their payloads are byte-identical, in order")

    # The same frame builder, well-formed: these must pass, so the drops above are the faults'.
    frames = [frame(mac, 5000 + s) for s in range(10)]
    for f in frames:
        raw.send(f)
    got = lab.recv_all(rx, 10, 5)
    time.sleep(0.2)
    got += lab.drain(rx)
    want = [f[14 + 28:] for f in frames]
    t.eq(len(got), 10, "10 well-formed raw frames: 10 relayed")
    t.check([d for d, _ in got] == want, "their payloads are byte-identical, in order")
    st = app.session("mal-1").stats
    t.eq(st.packets_received, 110, "session packets_received == 110 (100 + 10, no malformed)")
    t.eq(st.packets_sent, 110, "session packets_sent == 110")
    if "malformed_after" in ctx:
        t.eq(drops(app).get("malformed", 0), ctx["malformed_after"],
             'good traffic did not move drops["malformed"]')


if __name__ == "__main__":
    lab.main_wrapper("malformed", body)
