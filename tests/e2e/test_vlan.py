#!/usr/bin/python3
"""e2e_vlan: 802.1Q port sections (API.md 1.5), with tagged peers in user space.

This kernel has no 802.1Q module (TESTING.md), so the peers tag and untag themselves: an
AF_PACKET socket on the peer's veth writes Ethernet + 802.1Q + IPv4 + UDP frames as they are,
and reads the tag of what it receives from the packet's auxdata (the kernel moves a received
tag there), or inline.

1. One device, two sections: veth-dut0 carries port0 (VLAN 100, 198.18.1.1/24) and port1
   (VLAN 200, 198.18.2.1/24); the client (tag 100) and the destination (tag 200) are both
   played on veth-cli0. A bidirectional session relays N packets each way exactly: count,
   payload bytes, tag, addresses, TTL, IP and UDP checksums; the sections count their own
   frames (received: exactly N each; sent: exactly what the wire carried with their tag, the
   kernel interfaces' own IPv6 chatter included). Untagged, priority-tagged (VID 0: untagged, and no section is) and VLAN 300 frames
   are dropped under unknown_vlan, exactly. The appliance answers a tagged ping from its
   kernel interface, through the section's exception path (ARP for the client included, which
   the peer answers with tag 100).
2. Two devices, each tagged: port0 on veth-dut0 with VLAN 100, port1 on veth-dut1 with VLAN
   200, the peers on veth-cli0 and veth-dst0: N packets each way exactly; an untagged frame on
   port1's device is unknown_vlan.
"""
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402
from lab import (CLI_ADDR, CLI_IF, CLI_MAC, DST_ADDR, DST_IF, DST_MAC, DUT0_ADDR, DUT0_IF,  # noqa: E402
                 DUT0_MAC, DUT1_ADDR, DUT1_IF, DUT1_MAC, udp_session)

N = 200
VID_A, VID_B = 100, 200
LISTEN, FORWARD, DEST = (DUT0_ADDR, 20000), (DUT1_ADDR, 30000), (DST_ADDR, 40000)
CPORT = 5004
SOL_PACKET, PACKET_AUXDATA = 263, 8
TP_STATUS_VLAN_VALID = 0x10
PACKET_OUTGOING = 4


def tag(frame, tci):
    return frame[:12] + struct.pack("!HH", 0x8100, tci) + frame[12:]


class Peer:
    """A tagged host in user space: an AF_PACKET socket on interface IFC of namespace NS."""

    def __init__(self, L, ns, ifc):
        with L.netns(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
            self.sock.bind((ifc, 0))
        self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        lab.set_rcvbuf(self.sock)
        self.sock.setblocking(False)
        self.seen = {}              # every frame received, by tag (None: untagged)

    def send(self, frame):
        self.sock.send(frame)

    def recv(self):
        """(vid or None, the frame untagged) of one received frame, or None when none waits.
        Frames this socket's interface sent are skipped."""
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65535, socket.CMSG_SPACE(32))
            except BlockingIOError:
                return None
            if addr[2] == PACKET_OUTGOING:
                continue
            vid = None
            for level, typ, cdata in anc:
                if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cdata) >= 20:
                    status, _l, _s, _m, _n, tci, _tpid = struct.unpack("IIIHHHH", cdata[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        vid = tci & 0xFFF
                        if tci >> 12:
                            vid = ("priority", tci)     # never sent by the appliance
            if vid is None and data[12:14] == b"\x81\x00":
                vid = struct.unpack("!H", data[14:16])[0] & 0xFFF
                data = data[:12] + data[16:]
            self.seen[vid] = self.seen.get(vid, 0) + 1
            return vid, data

    def drain(self):
        while self.recv() is not None:
            pass

    def collect(self, want, match, timeout=10):
        """Frames for which MATCH(vid, frame) is true, until WANT of them or TIMEOUT s; then
        what else arrived within 0.3 s (a duplicate or a stray must show)."""
        got, deadline, quiet_until = [], time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            r = self.recv()
            if r is None:
                if len(got) >= want:
                    if quiet_until is None:
                        quiet_until = time.monotonic() + 0.3
                    elif time.monotonic() >= quiet_until:
                        break
                time.sleep(0.002)
                continue
            if match(*r):
                got.append(r)

        return got

    def close(self):
        self.sock.close()


def parse_udp(frame):
    """The IPv4/UDP fields of an untagged Ethernet frame, or None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    ihl = (frame[14] & 0xF) * 4
    ip = frame[14:14 + ihl]
    tot = struct.unpack("!H", frame[16:18])[0]
    udp = frame[14 + ihl:14 + tot]
    ulen = struct.unpack("!H", udp[4:6])[0]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
    return {"dmac": frame[0:6], "smac": frame[6:12], "ttl": ip[8],
            "src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
            "sport": struct.unpack("!H", udp[0:2])[0], "dport": struct.unpack("!H", udp[2:4])[0],
            "payload": bytes(udp[8:ulen]),
            "ip_ok": lab.ip_checksum(ip) == 0,
            "udp_ok": struct.unpack("!H", udp[6:8])[0] != 0 and lab.ip_checksum(pseudo + udp[:ulen]) == 0}


def payloads(tagname):
    return [lab.rtp_packet(i, i * 160, 0xC0FFEE, payload=lab.payload_for(tagname, i, 160))
            for i in range(N)]


def drops(app):
    return dict(app.proxy_stats().drops)


def ports(app):
    return {p.name: p for p in app.proxy_stats().ports}


def send_all(peer, frames):
    for i, f in enumerate(frames):
        peer.send(f)
        if i % 50 == 49:
            time.sleep(0.005)       # af_packet's ring on the appliance side: no burst loss


def relay_one_way(t, what, tx, rx, frames, sent_payloads, want):
    """Send FRAMES from peer TX; peer RX must get exactly len(FRAMES) UDP frames towards
    WANT (dmac, smac, vid, src, sport, dst, dport), payloads in order, checksums right."""
    dmac, smac, vid, src, sport, dst, dport = want
    send_all(tx, frames)
    got = rx.collect(len(frames), lambda v, f: (u := parse_udp(f)) is not None
                     and u["dport"] == dport and u["dst"] == dst)
    t.eq(len(got), len(frames), f"{what}: exactly {len(frames)} frames relayed")
    t.eq(sum(1 for v, _f in got if v == vid), len(got), f"{what}: every one tagged {vid}")
    us = [parse_udp(f) for _v, f in got]
    t.eq([u["payload"] for u in us], sent_payloads[:len(us)],
         f"{what}: payloads byte-identical, in order")
    t.check(all(u["ip_ok"] and u["udp_ok"] for u in us), f"{what}: IP and UDP checksums right")
    t.check(all(u["dmac"] == lab.mac_bytes(dmac) and u["smac"] == lab.mac_bytes(smac)
                and u["src"] == src and u["sport"] == sport and u["ttl"] == 63 for u in us),
            f"{what}: {src}:{sport} -> {dst}:{dport}, MACs {smac} -> {dmac}, TTL 63")


def relay_both_ways(t, app, a, b, dut_mac_a, dut_mac_b):
    """The bidirectional session between client peer A (VLAN 100) and destination peer B
    (VLAN 200), N packets each way."""
    pc, pd = payloads("vlan-c"), payloads("vlan-d")
    cf = [tag(lab.ipv4_udp_frame(CLI_MAC, dut_mac_a, CLI_ADDR, LISTEN[0], CPORT, LISTEN[1], p),
              VID_A) for p in pc]
    relay_one_way(t, "client VLAN 100 -> destination VLAN 200", a, b, cf, pc,
                  (DST_MAC, dut_mac_b, VID_B, FORWARD[0], FORWARD[1], DEST[0], DEST[1]))
    df = [tag(lab.ipv4_udp_frame(DST_MAC, dut_mac_b, DEST[0], FORWARD[0], DEST[1], FORWARD[1], p),
              VID_B) for p in pd]
    relay_one_way(t, "destination VLAN 200 -> client VLAN 100", b, a, df, pd,
                  (CLI_MAC, dut_mac_a, VID_A, LISTEN[0], LISTEN[1], CLI_ADDR, CPORT))


def create(t, app):
    app.stub.CreateSession(udp_session("vlan", LISTEN, FORWARD, DEST, bidirectional=True))
    t.eq(app.session("vlan").session_id, "vlan", "session created")


def wait_drops(app, reason, target, timeout=5):
    return lab.wait_until(lambda: drops(app).get(reason, 0) >= target, timeout) and \
        drops(app).get(reason, 0)


def config_one_device():
    dev = f"net_af_packet0,iface={DUT0_IF},framecnt=4096"
    return {"port0": {"device": dev, "vlan": str(VID_A)},
            "port1": {"device": dev, "vlan": str(VID_B),
                      "neighbors": f"{DST_ADDR}@{DST_MAC}"}}


def case_one_device(t, L):
    with lab.Appliance(L, config=config_one_device(), name="vlan1") as app:
        log = app.log_text()
        line = next((ln for ln in log.splitlines() if "802.1Q tags" in ln), "")
        print(f"  (appliance: {line.strip()})")
        t.check(line != "", "the device's 802.1Q offloads are logged")
        peer = Peer(L, "cli", CLI_IF)
        try:
            t.eq(sorted(p.port_id for p in app.proxy_stats().ports)[0],
                 sorted(p.port_id for p in app.proxy_stats().ports)[1],
                 "both sections report the one device (same port_id)")
            # a snapshot of the counters that no frame of the kernel interfaces straddles
            for _ in range(20):
                peer.drain()
                seen0 = dict(peer.seen)
                before, d0 = ports(app), drops(app)
                peer.drain()
                if peer.seen == seen0:
                    break
            create(t, app)
            relay_both_ways(t, app, peer, peer, DUT0_MAC, DUT0_MAC)
            after = ports(app)
            wire = 14 + 4 + 20 + 8 + len(payloads("x")[0])
            for name in ("port0", "port1"):
                t.eq(after[name].rx_packets - before[name].rx_packets, N,
                     f"{name} rx_packets +{N} (its own frames, not the device's)")
                t.eq(after[name].rx_bytes - before[name].rx_bytes, N * wire,
                     f"{name} rx_bytes +{N} x {wire} (wire bytes, tag included)")
            # what each section sent is what the wire carried with its tag: the relayed
            # frames and its kernel interface's own (IPv6 DAD, MLD... at any moment)
            def tx_agrees():
                peer.drain()
                now = ports(app)
                return all(now[name].tx_packets - before[name].tx_packets ==
                           peer.seen.get(vid, 0) - seen0.get(vid, 0)
                           for name, vid in (("port0", VID_A), ("port1", VID_B)))
            t.check(lab.wait_until(tx_agrees, 3),
                    "each section's tx_packets = the frames with its tag on the wire",
                    f"{ {n: p.tx_packets for n, p in ports(app).items()} } vs {peer.seen}")
            t.check(ports(app)["port0"].tx_packets - before["port0"].tx_packets >= N and
                    ports(app)["port1"].tx_packets - before["port1"].tx_packets >= N,
                    f"... {N} of them relayed")
            t.eq(drops(app).get("unknown_vlan", 0), d0.get("unknown_vlan", 0),
                 "no unknown_vlan while relaying")
            sess = app.session("vlan")
            t.eq((sess.stats.packets_sent, sess.reverse_stats.packets_sent), (N, N),
                 f"session: {N} sent each way")

            # no section for these: untagged, priority-tagged, VLAN 300
            p = lab.rtp_packet(1, 160, 0xBAD, payload=b"x" * 160)
            f = lab.ipv4_udp_frame(CLI_MAC, DUT0_MAC, CLI_ADDR, LISTEN[0], CPORT, LISTEN[1], p)
            start = drops(app).get("unknown_vlan", 0)
            send_all(peer, [f] * 10 + [tag(f, 0)] * 10 + [tag(f, 5 << 13)] * 5 +
                     [tag(f, 300)] * 10)
            t.eq(wait_drops(app, "unknown_vlan", start + 35), start + 35,
                 "35 untagged / VID 0 / VLAN 300 frames: unknown_vlan +35")
            stray = peer.collect(0, lambda v, fr: (u := parse_udp(fr)) is not None
                                 and u["dport"] in (DEST[1], CPORT), timeout=0.5)
            t.eq(len(stray), 0, "none of them relayed")
            t.eq(app.session("vlan").stats.packets_received, N, "the session never saw them")

            ping_tagged(t, app, peer)
        finally:
            peer.close()


def arp_reply(req, vid):
    """The answer (tagged VID) to ARP request REQ (an untagged frame) for CLI_ADDR."""
    sha, spa = req[22:28], req[28:32]
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + lab.mac_bytes(CLI_MAC) + \
        socket.inet_aton(CLI_ADDR) + sha + spa
    return tag(sha + lab.mac_bytes(CLI_MAC) + b"\x08\x06" + body + b"\0" * 18, vid)


def ping_tagged(t, app, peer):
    """An ICMP echo to 198.18.1.1 on VLAN 100 reaches port0's kernel interface, whose answer
    (after it has asked for our MAC, tagged, and we answered) comes back with tag 100."""
    exc0 = ports(app)["port0"].exception_packets
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"vlan-ping" * 4
    c = lab.ip_checksum(icmp)
    icmp = icmp[:2] + struct.pack("!H", c) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 7, 0, 64, 1, 0,
                      socket.inet_aton(CLI_ADDR), socket.inet_aton(DUT0_ADDR))
    hdr = hdr[:10] + struct.pack("!H", lab.ip_checksum(hdr)) + hdr[12:]
    req = tag(lab.mac_bytes(DUT0_MAC) + lab.mac_bytes(CLI_MAC) + b"\x08\x00" + hdr + icmp, VID_A)
    peer.send(req)
    arp_vids, reply = [], None
    deadline, resent = time.monotonic() + 8, time.monotonic()
    while reply is None and time.monotonic() < deadline:
        r = peer.recv()
        if r is None:
            if time.monotonic() - resent > 1:
                peer.send(req)      # the first may have waited for ARP and been dropped
                resent = time.monotonic()
            time.sleep(0.005)
            continue
        vid, f = r
        if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01" and f[38:42] == socket.inet_aton(CLI_ADDR):
            arp_vids.append(vid)
            peer.send(arp_reply(f, VID_A))
        elif f[12:14] == b"\x08\x00" and f[23] == 1 and f[34] == 0 and f[30:34] == socket.inet_aton(CLI_ADDR):
            reply = (vid, f)
    t.check(reply is not None, "ping on VLAN 100: the appliance's kernel answered")
    if reply is not None:
        t.eq(reply[0], VID_A, "the echo reply is tagged 100")
        t.eq(reply[1][6:12], lab.mac_bytes(DUT0_MAC), "from the device's MAC")
    t.check(all(v == VID_A for v in arp_vids), f"its ARP requests were tagged 100 ({arp_vids})")
    t.check(ports(app)["port0"].exception_packets > exc0,
            "port0's exception counter rose (the ping went to its kernel interface)")


def config_two_devices():
    return {"port0": {"vlan": str(VID_A)},
            "port1": {"vlan": str(VID_B), "neighbors": f"{DST_ADDR}@{DST_MAC}"}}


def case_two_devices(t, L):
    with lab.Appliance(L, config=config_two_devices(), name="vlan2") as app:
        a, b = Peer(L, "cli", CLI_IF), Peer(L, "dst", DST_IF)
        try:
            create(t, app)
            relay_both_ways(t, app, a, b, DUT0_MAC, DUT1_MAC)
            sess = app.session("vlan")
            t.eq((sess.stats.packets_sent, sess.reverse_stats.packets_sent), (N, N),
                 f"session: {N} sent each way")
            start = drops(app).get("unknown_vlan", 0)
            p = lab.rtp_packet(1, 160, 0xBAD, payload=b"y" * 160)
            f = lab.ipv4_udp_frame(DST_MAC, DUT1_MAC, DST_ADDR, FORWARD[0], DEST[1], FORWARD[1], p)
            send_all(b, [f] * 10 + [tag(f, VID_A)] * 10)
            t.eq(wait_drops(app, "unknown_vlan", start + 20), start + 20,
                 "untagged and VLAN 100 frames on port1's device (VLAN 200): unknown_vlan +20")
            t.eq(app.session("vlan").reverse_stats.packets_received, N,
                 "the reverse flow never saw them")
        finally:
            a.close()
            b.close()


def body(t):
    t0 = time.monotonic()
    with lab.Lab() as L:
        # (the peers' kernels ignore tagged frames: no 802.1Q module, so a tagged frame is
        # "other host" to them; a veth hands its packet sockets everything)
        t.run("one device, VLANs 100 and 200", case_one_device, t, L)
        t.run("two devices, each tagged", case_two_devices, t, L)
    print(f"  ({time.monotonic() - t0:.1f} s)")


if __name__ == "__main__":
    lab.main_wrapper("vlan", body)
