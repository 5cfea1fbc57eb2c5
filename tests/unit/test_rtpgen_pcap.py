#!/usr/bin/python3
"""rtpgen_pcap: rtpgen writes 100 packets of 10 streams into a pcap file (net_pcap tx), and
what a capture shows is checked frame by frame: Ethernet/IPv4/UDP/RTP v2, valid IPv4 header
checksums, UDP checksum 0 ("none"), each stream's own SSRC and destination, consecutive
sequence numbers and timestamps 160 apart, the marker (magic, stream, sequence) in the payload;
before them, the two gratuitous ARP requests announcing --src and --sink-addr.
tshark, a decoder nobody here wrote, must agree: 100 RTP frames, good IPv4 checksums, 10 SSRCs,
2 gratuitous ARPs.
Then IPv6 on VLANs: rtpgen reads neighbour solicitations and a tagged ARP request from a
capture (net_pcap rx) and must answer exactly the ones for its addresses, on their tags; its
IPv6 RTP must be tagged with --tx-vlan and carry right UDP checksums (checked here from scratch
and by tshark), its NAs right ICMPv6 checksums.

usage: test_rtpgen_pcap.py BUILD/app/rtpgen/rtpgen      prints "rtpgen_pcap: N passed, M failed"
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

RTPGEN = sys.argv[1] if len(sys.argv) > 1 else "build/app/rtpgen/rtpgen"
STREAMS, COUNT, PAYLOAD = 10, 100, 160
DST_BASE, DST_ADDRS, DST_PORT, SRC, SRC_PORT = "198.18.1.1", 2, 20000, "198.18.1.2", 10000
SINK = "198.18.2.2"
SRC_MAC, DST_MAC = "02:52:50:01:00:02", "02:52:50:01:00:01"
MAGIC = 0x5254504E
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, eq, summary  # noqa: E402


def ip_checksum_ok(hdr):
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    frames, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "IIII", data[off:off + 16])[2]
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return linktype, frames


def check_arps(arps):
    """The announcements: broadcast ARP requests with sender = target address (RFC 5227)."""
    eq(len(arps), 2, "2 ARP frames")
    got, bad = set(), []
    for fr in arps:
        htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", fr[14:22])
        sha, spa, tpa = fr[22:28], socket.inet_ntoa(fr[28:32]), socket.inet_ntoa(fr[38:42])
        if fr[0:6] != b"\xff" * 6 or sha != fr[6:12] or (htype, ptype, hlen, plen, op) != (
                1, 0x0800, 6, 4, 1) or spa != tpa:
            bad.append(fr[:42].hex())
        got.add(spa)
    check(not bad, "gratuitous ARP requests, broadcast, sender MAC = source MAC", str(bad))
    eq(got, {SRC, SINK}, "announcing --src and --sink-addr")


def check_frames(frames):
    eq(len(frames), COUNT, f"{COUNT} RTP frames in the capture")
    base = struct.unpack("!I", socket.inet_aton(DST_BASE))[0]
    bad, per_stream = [], {}
    for n, fr in enumerate(frames):
        why = None
        dmac, smac, etype = fr[0:6], fr[6:12], struct.unpack("!H", fr[12:14])[0]
        ip, udp, rtp, pl = fr[14:34], fr[34:42], fr[42:54], fr[54:]
        ver_ihl, _, tot, ident, frag, ttl, proto = struct.unpack("!BBHHHBB", ip[:10])
        sport, dport, ulen, ucsum = struct.unpack("!HHHH", udp)
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", rtp)
        magic, tag, stream, xseq = struct.unpack("!IIII", pl[:16])
        if len(fr) != 14 + 20 + 8 + 12 + PAYLOAD:
            why = f"length {len(fr)}"
        elif (dmac.hex(":"), smac.hex(":"), etype) != (DST_MAC, SRC_MAC, 0x0800):
            why = "Ethernet header"
        elif (ver_ihl, tot, frag & 0x4000, ttl, proto) != (0x45, 20 + 8 + 12 + PAYLOAD, 0x4000,
                                                            64, 17):
            why = "IPv4 header fields"
        elif not ip_checksum_ok(ip):
            why = "IPv4 header checksum"
        elif (ulen, ucsum) != (8 + 12 + PAYLOAD, 0):
            why = f"UDP length/checksum {ulen}/{ucsum}"
        elif (b0, b1) != (0x80, 0):
            why = "RTP version 2, PT 0, no CSRC/extension/marker"
        elif magic != MAGIC or stream >= STREAMS:
            why = "payload marker"
        elif socket.inet_ntoa(ip[12:16]) != SRC:
            why = "source address"
        elif struct.unpack("!I", ip[16:20])[0] != base + stream % DST_ADDRS:
            why = f"stream {stream}: destination address {socket.inet_ntoa(ip[16:20])}"
        elif dport != DST_PORT + 2 * (stream // DST_ADDRS) or sport != SRC_PORT + 2 * stream:
            why = f"stream {stream}: ports {sport} -> {dport}"
        elif pl[24:] != b"\xff" * (PAYLOAD - 24):
            why = "payload filler (mu-law silence)"
        if why:
            bad.append(f"frame {n + 1}: {why}")
            continue
        per_stream.setdefault(stream, []).append((xseq, seq, ts, ssrc))
    check(not bad, "every frame well formed", "; ".join(bad[:5]))
    eq(sorted(per_stream), list(range(STREAMS)), "every stream present")
    eq([len(v) for v in per_stream.values()], [COUNT // STREAMS] * STREAMS,
       "10 frames per stream")
    ssrcs = {s: {p[3] for p in v} for s, v in per_stream.items()}
    check(all(len(v) == 1 for v in ssrcs.values()), "one SSRC per stream")
    eq(len({next(iter(v)) for v in ssrcs.values()}), STREAMS, "10 distinct SSRCs")
    seq_bad = []
    for s, v in per_stream.items():
        for k, (xseq, seq, ts, _) in enumerate(v):
            if xseq != k or seq != (v[0][1] + k) & 0xFFFF or ts != (v[0][2] + 160 * k) & 0xFFFFFFFF:
                seq_bad.append(f"stream {s} packet {k}: {xseq} {seq} {ts}")
    check(not seq_bad, "per stream: marker sequence 0..9, RTP sequence +1, timestamp +160",
          "; ".join(seq_bad[:3]))


def check_tshark(path):
    tshark = shutil.which("tshark")
    if not tshark:
        print("  note: tshark not installed; its cross-check is skipped")
        return
    last = DST_PORT + 2 * ((STREAMS - 1) // DST_ADDRS)
    p = subprocess.run([tshark, "-r", path, "-n", "-o", "ip.check_checksum:TRUE",
                        "-d", f"udp.port=={DST_PORT}-{last},rtp", "-T", "fields",
                        "-e", "rtp.version", "-e", "rtp.ssrc", "-e", "ip.checksum.status",
                        "-e", "rtp.p_type", "-Y", "udp"],
                       capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, "tshark reads the capture")
    rows = [ln.split("\t") for ln in p.stdout.splitlines() if ln.strip()]
    eq(len(rows), COUNT, "tshark: 100 frames")
    eq(sum(1 for r in rows if r[0] == "2"), COUNT, "tshark: 100 RTP version 2 frames")
    eq(sum(1 for r in rows if r[2] == "1"), COUNT, "tshark: 100 good IPv4 checksums")
    eq(len({r[1] for r in rows}), STREAMS, "tshark: 10 distinct SSRCs")
    eq({r[3] for r in rows}, {"0"}, "tshark: payload type 0")
    p = subprocess.run([tshark, "-r", path, "-n", "-Y", "arp.isgratuitous == 1", "-T", "fields",
                        "-e", "arp.src.proto_ipv4"], capture_output=True, text=True, timeout=60)
    eq(sorted(p.stdout.split()), sorted([SRC, SINK]), "tshark: 2 gratuitous ARPs")


# ---- IPv6 and VLANs: rtpgen reads neighbour solicitations from a capture (net_pcap rx) and
# writes its answers, announcements and IPv6 RTP into another

V6_DST, V6_SRC, V6_SINK, V6_DUT = "2001:db8:1::10", "2001:db8:1::2", "2001:db8:2::2", "2001:db8:2::1"
TX_VLAN, RX_VLAN = 100, 200
DUT_MAC = bytes.fromhex("020000000001")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def v6_upper_csum(ip6):
    """The transport checksum of an IPv6 packet (no extension headers), summed with its own
    checksum in place: 0 when right."""
    plen, nh = struct.unpack("!HB", ip6[4:7])
    return csum(ip6[8:40] + struct.pack("!IxxxB", plen, nh) + ip6[40:40 + plen])


def eth(dst, vlan, etype):
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + DUT_MAC + tag + struct.pack("!H", etype)


def ns_frame(target, src=V6_DUT, vlan=RX_VLAN, break_csum=False):
    """A neighbour solicitation for target, as the DUT sends it (solicited-node multicast)."""
    t = socket.inet_pton(socket.AF_INET6, target)
    snm = socket.inet_pton(socket.AF_INET6, "ff02::1:ff00:0")[:13] + t[13:]
    body = struct.pack("!BBHI", 135, 0, 0, 0) + t + struct.pack("!BB", 1, 1) + DUT_MAC
    s = socket.inet_pton(socket.AF_INET6, src)
    c = csum(s + snm + struct.pack("!IxxxB", len(body), 58) + body) ^ (1 if break_csum else 0)
    body = body[:2] + struct.pack("!H", c) + body[4:]
    ip = struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + s + snm
    return eth(b"\x33\x33" + snm[12:], vlan, 0x86DD) + ip + body


def arp_request(target, vlan):
    return eth(b"\xff" * 6, vlan, 0x0806) + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + \
        DUT_MAC + socket.inet_aton("198.18.1.1") + b"\0" * 6 + socket.inet_aton(target)


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)


def split_l2(fr):
    """(vlan or None, etype, l3 bytes)"""
    etype = struct.unpack("!H", fr[12:14])[0]
    if etype == 0x8100:
        return struct.unpack("!H", fr[14:16])[0] & 0xFFF, struct.unpack("!H", fr[16:18])[0], fr[18:]
    return None, etype, fr[14:]


def check_v6_capture(frames):
    nas, arps, rtp, other = [], [], [], []
    for fr in frames:
        vlan, etype, l3 = split_l2(fr)
        if etype == 0x0806:
            arps.append((vlan, fr, l3))
        elif etype == 0x86DD and l3[6] == 58 and l3[40] == 136:
            nas.append((vlan, fr, l3))
        elif etype == 0x86DD and l3[6] == 17:
            rtp.append((vlan, fr, l3))
        else:
            other.append(fr)
    eq(other, [], "nothing but ARP, NAs and RTP")
    ntop = lambda b: socket.inet_ntop(socket.AF_INET6, b)  # noqa: E731
    # (vlan, target, to, flags): announcements (override) and answers (solicited + override)
    got = sorted((v, ntop(l3[48:64]), ntop(l3[24:40]), l3[44], fr[:6].hex())
                 for v, fr, l3 in nas)
    want = sorted([(TX_VLAN, V6_SRC, "ff02::1", 0x20, "333300000001"),
                   (RX_VLAN, V6_SINK, "ff02::1", 0x20, "333300000001"),
                   (RX_VLAN, V6_SINK, V6_DUT, 0x60, DUT_MAC.hex()),
                   (TX_VLAN, V6_SRC, "ff02::1", 0x20, "333300000001")])
    eq(got, want, "NAs: --src and --sink-addr announced on their tags, the sink's NS answered "
       "(solicited), --src's DAD answered to all nodes; nothing for the others")
    bad = [l3[:72].hex() for _, fr, l3 in nas
           if v6_upper_csum(l3) != 0 or l3[7] != 255 or l3[64:66] != b"\x02\x01" or
           l3[66:72] != fr[6:12]]
    check(not bad, "NAs: ICMPv6 checksum right, hop limit 255, target MAC option = source MAC",
          str(bad[:2]))
    got = sorted((v, struct.unpack("!H", l3[6:8])[0], socket.inet_ntoa(l3[14:18]))
                 for v, fr, l3 in arps)
    eq(got, [(TX_VLAN, 1, "198.18.1.2"), (TX_VLAN, 2, "198.18.1.2"), (RX_VLAN, 1, "198.18.1.2")],
       "ARP: --arp-addr announced on both tags, the tagged request answered on its tag")
    eq(len(rtp), COUNT, f"{COUNT} IPv6 RTP frames")
    bad = []
    for n, (v, fr, l3) in enumerate(rtp):
        plen, nh, hl = struct.unpack("!HBB", l3[4:8])
        why = None
        if v != TX_VLAN or len(fr) != 18 + 40 + 8 + 12 + PAYLOAD:
            why = f"tag {v}, length {len(fr)}"
        elif (l3[0] >> 4, plen, nh, hl) != (6, 8 + 12 + PAYLOAD, 17, 64):
            why = "IPv6 header"
        elif ntop(l3[8:24]) != V6_SRC:
            why = "source"
        elif v6_upper_csum(l3) != 0 or l3[46:48] == b"\0\0":
            why = "UDP checksum"
        elif struct.unpack("!I", l3[60:64])[0] != MAGIC:
            why = "marker"
        else:
            stream = struct.unpack("!I", l3[68:72])[0]
            want = V6_DST[:-2] + f"{0x10 + stream % DST_ADDRS:x}"
            if ntop(l3[24:40]) != want:
                why = f"stream {stream}: destination {ntop(l3[24:40])}, want {want}"
        if why:
            bad.append(f"frame {n}: {why}")
    check(not bad, "IPv6 RTP: tagged, header, source, per-stream destination, UDP checksum",
          "; ".join(bad[:5]))


def check_v6_tshark(path):
    tshark = shutil.which("tshark")
    if not tshark:
        print("  note: tshark not installed; its cross-check is skipped")
        return
    last = DST_PORT + 2 * ((STREAMS - 1) // DST_ADDRS)
    p = subprocess.run([tshark, "-r", path, "-n", "-o", "udp.check_checksum:TRUE",
                        "-d", f"udp.port=={DST_PORT}-{last},rtp", "-T", "fields",
                        "-e", "vlan.id", "-e", "rtp.version", "-e", "udp.checksum.status",
                        "-e", "rtp.ssrc", "-Y", "udp"],
                       capture_output=True, text=True, timeout=60)
    rows = [ln.split("\t") for ln in p.stdout.splitlines() if ln.strip()]
    eq(len(rows), COUNT, "tshark: 100 UDP frames")
    eq({(r[0], r[1], r[2]) for r in rows}, {(str(TX_VLAN), "2", "1")},
       "tshark: all on VLAN 100, RTP version 2, UDP checksum good")
    eq(len({r[3] for r in rows}), STREAMS, "tshark: 10 distinct SSRCs")
    p = subprocess.run([tshark, "-r", path, "-n", "-T", "fields", "-e", "icmpv6.checksum.status",
                        "-Y", "icmpv6.type == 136"],
                       capture_output=True, text=True, timeout=60)
    rows = [ln.split("\t") for ln in p.stdout.splitlines() if ln.strip()]
    eq([r[0] for r in rows], ["1"] * 4, "tshark: 4 NAs with good ICMPv6 checksums")
    p = subprocess.run([tshark, "-r", path, "-n", "-Y", "_ws.malformed || _ws.expert.severity >= "
                        "error"], capture_output=True, text=True, timeout=60)
    eq((p.returncode, p.stdout.strip()), (0, ""), "tshark: nothing malformed, no error")


def test_ipv6_vlan(d):
    print("- IPv6 on VLANs, answering NDP read from a capture")
    rx, path = os.path.join(d, "ns.pcap"), os.path.join(d, "rtpgen6.pcap")
    write_pcap(rx, [ns_frame(V6_SINK),                        # ours: answered
                    ns_frame("2001:db8:2::99"),                 # not ours
                    ns_frame(V6_SINK, break_csum=True),         # a bad checksum
                    ns_frame(V6_SRC, src="::", vlan=TX_VLAN),   # DAD for --src
                    arp_request("198.18.1.2", TX_VLAN)])        # ARP, tagged
    cmd = [RTPGEN, "-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
           "--file-prefix", f"rtpgenpcap6{os.getpid()}", "--log-level", "warning",
           "--vdev", f"net_pcap0,rx_pcap={rx},tx_pcap={path}", "--",
           "--tx-port", "0", "--streams", str(STREAMS), "--count", str(COUNT),
           "--dst-base", V6_DST, "--dst-addrs", str(DST_ADDRS), "--dst-port-base", str(DST_PORT),
           "--src", V6_SRC, "--src-port-base", str(SRC_PORT), "--sink-addr", V6_SINK,
           "--arp-addr", "198.18.1.2", "--tx-vlan", str(TX_VLAN), "--rx-vlan", str(RX_VLAN),
           "--src-mac", SRC_MAC, "--dst-mac", DST_MAC, "--drain-ms", "20", "--json"]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, "rtpgen exits 0")
    try:
        r = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])
    except (IndexError, ValueError):
        check(False, "--json parses", p.stdout[-500:] + p.stderr[-500:])
        r = {}
    eq((r.get("tx_pkts"), r.get("rx_arp"), r.get("arp_replies"), r.get("arp_announced"),
        r.get("rx_other")), (COUNT, 5, 3, 4, 0),
       "rtpgen: sent 100; 5 neighbour frames read, 3 answered; 4 announcements")
    if not check(os.path.exists(path), "the capture exists"):
        return
    check_v6_capture(read_pcap(path)[1])
    check_v6_tshark(path)


def main():
    if not os.access(RTPGEN, os.X_OK):
        print(f"rtpgen_pcap: {RTPGEN} not built")
        return 1
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rtpgen.pcap")
        cmd = [RTPGEN, "-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
               "--file-prefix", f"rtpgenpcap{os.getpid()}", "--log-level", "warning",
               "--vdev", f"net_pcap0,tx_pcap={path}", "--",
               "--tx-port", "0", "--streams", str(STREAMS), "--count", str(COUNT),
               "--dst-base", DST_BASE, "--dst-addrs", str(DST_ADDRS),
               "--dst-port-base", str(DST_PORT), "--src", SRC, "--src-port-base", str(SRC_PORT),
               "--sink-addr", SINK, "--src-mac", SRC_MAC, "--dst-mac", DST_MAC,
               "--drain-ms", "20", "--json"]
        print("- rtpgen into a pcap file")
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        eq(p.returncode, 0, "rtpgen exits 0")
        try:
            r = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])
        except (IndexError, ValueError):
            check(False, "--json parses", p.stdout[-500:] + p.stderr[-500:])
            r = {}
        # net_pcap with no rx side receives nothing: all of it is "lost" from rtpgen's view
        eq((r.get("tx_pkts"), r.get("tx_dropped"), r.get("rx_pkts"), r.get("lost"),
            r.get("arp_announced")), (COUNT, 0, 0, COUNT, 2),
           "rtpgen: sent 100, refused 0, received 0, lost 100, 2 ARP announcements")
        if not check(os.path.exists(path), "the capture exists"):
            return 1
        linktype, frames = read_pcap(path)
        eq(linktype, 1, "link type Ethernet")
        print("- the frames, parsed here")
        arps = [fr for fr in frames if fr[12:14] == b"\x08\x06"]
        check(frames[:len(arps)] == arps, "the announcements come first")
        check_arps(arps)
        check_frames(frames[len(arps):])
        print("- the frames, as tshark decodes them")
        check_tshark(path)
        test_ipv6_vlan(d)
    return summary("rtpgen_pcap")


if __name__ == "__main__":
    sys.exit(main())
