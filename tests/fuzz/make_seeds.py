#!/usr/bin/env python3
"""Write the hand-made seed corpora of the fuzz targets (tests/fuzz/corpus/{pkt,rtp,create}/).

The files are committed; this script says how they were made: python3 tests/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def rtp(seq=1, ts=160, pt=0, cc=0, ext=None, payload=b'\x55' * 160, pad=0, marker=0):
    b0 = 0x80 | (0x20 if pad else 0) | (0x10 if ext is not None else 0) | cc
    h = struct.pack('!BBHII', b0, (marker << 7) | pt, seq, ts, 0x11223344)
    h += b''.join(struct.pack('!I', 0x1000 + i) for i in range(cc))
    if ext is not None:
        h += struct.pack('!HH', 0xbede, len(ext) // 4) + ext
    p = b''
    if pad:
        p = b'\0' * (pad - 1) + bytes([pad])
    return h + payload + p


def rtcp(pt, count, body, pad=0):
    p = b''
    if pad:
        p = b'\0' * (pad - 1) + bytes([pad])
    n = (4 + len(body) + len(p)) // 4 - 1
    return struct.pack('!BBH', 0x80 | (0x20 if pad else 0) | count, pt, n) + body + p


def sr_sdes():
    sr = rtcp(200, 0, struct.pack('!IIIIII', 0x11223344, 0xe1234567, 0x89abcdef, 160000, 1000,
                                  160000))
    sdes = rtcp(202, 1, struct.pack('!I', 0x11223344) + b'\x01\x05host0\x00')
    return sr + sdes


def frame(payload, ihl=5, udp_csum=True, frag=0, ttl=64, proto=17):
    opts = b'\x01' * (ihl * 4 - 20)
    udp_len = 8 + len(payload)
    tot = ihl * 4 + udp_len
    src, dst = bytes([198, 18, 1, 2]), bytes([198, 18, 1, 1])
    ip = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, tot, 0x1234, frag, ttl, proto, 0, src,
                     dst) + opts
    ip = ip[:10] + struct.pack('!H', ~csum(ip) & 0xffff) + ip[12:]
    udp = struct.pack('!HHHH', 40000, 20000, udp_len, 0) + payload
    if udp_csum:
        pseudo = src + dst + struct.pack('!BBH', 0, 17, udp_len)
        c = ~csum(pseudo + udp) & 0xffff or 0xffff
        udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    eth = bytes.fromhex('020000000101') + bytes.fromhex('020000000102') + b'\x08\x00'
    return eth + ip + udp


def frame6(payload, nh=17, hlim=64, udp_csum=True, body=None):
    """Ethernet/IPv6 with UDP (valid checksum unless udp_csum is False: zero), or nh + body."""
    src = bytes.fromhex('20010db8000100000000000000000002')
    dst = bytes.fromhex('20010db8000100000000000000000001')
    if body is None:
        udp_len = 8 + len(payload)
        body = struct.pack('!HHHH', 40000, 20000, udp_len, 0) + payload
        if udp_csum:
            pseudo = src + dst + struct.pack('!IxxxB', udp_len, 17)
            c = ~csum(pseudo + body) & 0xffff or 0xffff
            body = body[:6] + struct.pack('!H', c) + body[8:]
    ip = struct.pack('!IHBB', 0x60000000, len(body), nh, hlim) + src + dst
    eth = bytes.fromhex('333300000001') + bytes.fromhex('020000000102') + b'\x86\xdd'
    return eth + ip + body


def track_stream(records, flags=0):
    """fuzz_rtp's stream form: a flags byte, then (seq, ts, arrival) records."""
    return bytes([flags]) + b''.join(struct.pack('!HII', s & 0xffff, t & 0xffffffff,
                                                 a & 0xffffffff) for s, t, a in records)


SRC6 = bytes.fromhex('20010db8000100000000000000000002')    # 2001:db8:1::2
DST6 = bytes.fromhex('20010db8000100000000000000000001')    # 2001:db8:1::1


def ext_hdr(nh, body=b'\0' * 6):
    """An IPv6 extension header (hop-by-hop, routing, destination options): next header,
    length in 8-byte units beyond the first, then body (6 + 8k bytes)."""
    return bytes([nh, (len(body) - 6) // 8]) + body


def frag_hdr(nh, offset=0, more=1, ident=0x1234):
    return struct.pack('!BBHI', nh, 0, offset << 3 | more, ident)


def l4_csum6(src, dst, nh, data):
    return ~csum(src + dst + struct.pack('!IxxxB', len(data), nh) + data) & 0xffff or 0xffff


def frame6_ext(payload, udp_csum=True, hlim=64, exts=(), nh=17, plen=None, tc=0, vlans=(),
           src=SRC6, dst=DST6, l4=None):
    """Ethernet [/ tags] / IPv6 [/ extension headers] / UDP / payload: frame6 with more
    knobs. exts: [(type, bytes)] in order, each bytes' first byte rewritten to the next
    header; plen: a payload length to lie with; l4: the upper-layer bytes as they are
    (instead of UDP around payload)."""
    if l4 is None:
        udp = struct.pack('!HHHH', 40000, 20000, 8 + len(payload), 0) + payload
        if udp_csum:
            c = l4_csum6(src, dst, 17, udp)
            udp = udp[:6] + struct.pack('!H', c) + udp[8:]
        l4 = udp
    chain, types = b'', [t for t, _ in exts] + [nh]
    for i, (_, h) in enumerate(exts):
        chain += bytes([types[i + 1]]) + h[1:]
    first = types[0]
    body = chain + l4
    ip = struct.pack('!IHBB', 0x60000000 | tc << 20, len(body) if plen is None else plen, first,
                     hlim) + src + dst
    return eth_hdr(vlans, 0x86dd) + ip + body


def eth_hdr(vlans, etype):
    """Destination, source, then each (tpid, tci) tag, then the EtherType."""
    h = bytes.fromhex('020000000101') + bytes.fromhex('020000000102')
    for tpid, tci in vlans:
        h += struct.pack('!HH', tpid, tci)
    return h + struct.pack('!H', etype)


def icmp6(src, dst, typ, body):
    m = bytes([typ, 0, 0, 0]) + body
    c = l4_csum6(src, dst, 58, m)
    return m[:2] + struct.pack('!H', c) + m[4:]


def seeds_ipv6_vlan():
    """pkt seeds for issue 13 beyond the plain IPv6 ones: traffic class, extension header
    chains, fragments, lying lengths, NDP, mapped addresses; 802.1Q tags, VID 0, QinQ."""
    write('pkt', 'udp6_tclass', frame6_ext(rtp(), tc=0xb8))            # EF
    write('pkt', 'udp6_hbh', frame6_ext(rtp(), exts=[(0, ext_hdr(0))]))
    write('pkt', 'udp6_dstopt_routing', frame6_ext(rtp(), exts=[
        (60, ext_hdr(0, b'\0' * 14)), (43, ext_hdr(0, b'\0\0' + b'\0' * 4 + SRC6))]))
    write('pkt', 'frag6_first', frame6_ext(rtp(), exts=[(44, frag_hdr(0))]))
    write('pkt', 'frag6_last', frame6_ext(rtp(), exts=[(44, frag_hdr(0, offset=22, more=0))]))
    write('pkt', 'frag6_atomic', frame6_ext(rtp(), exts=[(44, frag_hdr(0, more=0))]))  # RFC 6946
    write('pkt', 'hbh_then_frag6', frame6_ext(rtp(), exts=[(0, ext_hdr(0)), (44, frag_hdr(0))]))
    cut = frame6_ext(b'', exts=[(60, ext_hdr(0, b'\0' * 30))])
    write('pkt', 'ext6_truncated', cut[:14 + 40 + 12])
    write('pkt', 'ext6_no_next', frame6_ext(b'', nh=59, l4=b''))       # no next header
    good = frame6_ext(rtp())
    write('pkt', 'udp6_truncated', good[:len(good) - 40])           # payload length says more
    write('pkt', 'udp6_plen_short', frame6_ext(rtp(), plen=8 + 12))  # shorter than UDP's
    write('pkt', 'udp6_plen_zero', frame6_ext(rtp(), plen=0))  # a jumbogram without HBH
    write('pkt', 'udp6_plen_odd', frame6_ext(rtp(), plen=8 + 12 + 160 + 1))
    write('pkt', 'ip6_header_only', good[:14 + 40])
    write('pkt', 'ip6_short', good[:14 + 39])
    write('pkt', 'ip6_version4', good[:14] + b'\x40' + good[15:])
    write('pkt', 'trailer6', good + b'\0' * 6)
    write('pkt', 'tcp6', frame6_ext(b'', nh=6, l4=struct.pack('!HHIIBBHHH', 40000, 80, 1, 0, 0x50,
                                                          0x02, 65535, 0, 0)))
    ns = icmp6(SRC6, DST6, 135, b'\0' * 4 + DST6 + b'\x01\x01' + bytes.fromhex('020000000102'))
    write('pkt', 'ndp_ns', frame6_ext(b'', nh=58, hlim=255, l4=ns))
    na = icmp6(DST6, SRC6, 136, b'\x60\0\0\0' + DST6 + b'\x02\x01' +
               bytes.fromhex('020000000101'))
    write('pkt', 'ndp_na', frame6_ext(b'', nh=58, hlim=255, l4=na))
    echo = icmp6(SRC6, DST6, 128, b'\0\1\0\1' + b'x' * 56)
    write('pkt', 'echo6', frame6_ext(b'', nh=58, l4=echo))
    write('pkt', 'mapped6', frame6_ext(rtp(), dst=bytes(10) + b'\xff\xff' + bytes([198, 18, 1, 1])))
    # 802.1Q: one tag, VID 0 (priority only), QinQ (802.1ad outer, and two 802.1Q), cut short
    write('pkt', 'vlan100_udp', eth_hdr([(0x8100, 100)], 0x0800) + frame(rtp())[14:])
    write('pkt', 'vlan200_udp6', frame6_ext(rtp(), vlans=[(0x8100, 0x6000 | 200)]))   # PCP 3
    write('pkt', 'vlan0_udp', eth_hdr([(0x8100, 0)], 0x0800) + frame(rtp())[14:])
    write('pkt', 'vlan4095_udp', eth_hdr([(0x8100, 4095)], 0x0800) + frame(rtp())[14:])
    write('pkt', 'qinq_88a8', eth_hdr([(0x88a8, 10), (0x8100, 100)], 0x0800) + frame(rtp())[14:])
    write('pkt', 'qinq_8100', eth_hdr([(0x8100, 10), (0x8100, 100)], 0x86dd) +
          frame6_ext(rtp())[14:])
    write('pkt', 'vlan_truncated', eth_hdr([], 0x8100) + b'\x00')
    write('pkt', 'vlan_arp', eth_hdr([(0x8100, 100)], 0x0806) + bytes.fromhex(
        '0001080006040001' '020000000102c6120102' '000000000000c6120101'))
    write('pkt', 'vlan_ndp_ns', frame6_ext(b'', nh=58, hlim=255, l4=ns, vlans=[(0x8100, 100)]))


# --- protobuf wire format, enough for rtpproxy.proto's requests (field numbers from it) ---

def varint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_varint(field, n):
    return varint(field << 3) + varint(n)


def pb_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def endpoint(addr, port):
    return pb_bytes(1, addr) + pb_varint(2, port)


def create_req(sid='s1', listen=('198.18.1.1', 20000), forward=('198.18.2.1', 30000),
               dest=('198.18.2.2', 40000), tcp=False, labels=(), extra=b''):
    """A CreateSessionRequest: session_id 1, endpoints 2/3/4, transport 5, labels 12."""
    m = pb_bytes(1, sid) if sid else b''
    for field, ep in ((2, listen), (3, forward), (4, dest)):
        if ep is not None:
            m += pb_bytes(field, endpoint(*ep))
    if tcp:
        m += pb_varint(5, 1)
    for k, v in labels:
        m += pb_bytes(12, pb_bytes(1, k) + pb_bytes(2, v))
    return m + extra


def list_req(selector=()):
    """A ListSessionsRequest: states 1, label_selector 3, page_size 4."""
    m = pb_varint(1, 2) + pb_varint(4, 10)
    for k, v in selector:
        m += pb_bytes(3, pb_bytes(1, k) + pb_bytes(2, v))
    return m


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def main():
    write('pkt', 'udp_rtp', frame(rtp()))
    write('pkt', 'udp_rtp_nocsum', frame(rtp(seq=2), udp_csum=False))
    write('pkt', 'udp_options', frame(rtp(cc=2, ext=b'\0' * 8), ihl=8))
    write('pkt', 'udp_rtcp', frame(sr_sdes()))
    write('pkt', 'udp_empty', frame(b''))
    write('pkt', 'udp_ttl1', frame(rtp(), ttl=1))
    write('pkt', 'fragment', frame(rtp(), frag=0x2000))
    write('pkt', 'tcp', frame(b'\0' * 20, proto=6))
    write('pkt', 'trailer', frame(rtp()) + b'\0' * 6)     # Ethernet padding after the datagram
    write('pkt', 'arp', bytes.fromhex('ffffffffffff020000000102' '0806'
                                      '0001080006040001' '020000000102c6120102'
                                      '000000000000c6120101'))
    write('pkt', 'udp6_rtp', frame6(rtp()))
    write('pkt', 'udp6_odd', frame6(rtp(payload=b'\x55' * 161)))
    write('pkt', 'udp6_rtcp', frame6(sr_sdes()))
    write('pkt', 'udp6_hlim1', frame6(rtp(), hlim=1))
    write('pkt', 'udp6_nocsum', frame6(rtp(), udp_csum=False))
    write('pkt', 'ip6_fragment', frame6(b'', nh=44, body=struct.pack('!BBHI', 17, 0, 1, 7) +
                                        b'\0' * 16))
    write('pkt', 'ip6_hopbyhop', frame6(b'', nh=0, body=bytes([17, 0, 5, 2, 0, 0, 1, 0]) +
                                        b'\0' * 16))
    write('pkt', 'icmp6_ns', frame6(b'', nh=58, hlim=255, body=bytes([135, 0, 0, 0]) +
                                    b'\0' * 4 + bytes.fromhex('20010db8000100000000000000000001')))
    write('pkt', 'icmp6_echo', frame6(b'', nh=58, body=bytes([128, 0, 0, 0, 0, 1, 0, 1])))

    write('rtp', 'rtp_plain', rtp())
    write('rtp', 'rtp_csrc_ext_pad', rtp(cc=3, ext=b'\x10\x20\x30\x40' * 2, pad=4))
    write('rtp', 'rtp_header_only', rtp(payload=b''))
    write('rtp', 'rtcp_sr_sdes', sr_sdes())
    write('rtp', 'rtcp_rr_bye_pad', rtcp(201, 0, struct.pack('!I', 1)) +
          rtcp(203, 1, struct.pack('!I', 1), pad=4))
    write('rtp', 'track_in_order', track_stream(
        [(65530 + i, 1000 + 160 * i, 5000 + 160 * i) for i in range(20)]))
    write('rtp', 'track_loss_reorder_dup', track_stream(
        [(s, 160 * s, 160 * s + (s * 37) % 50) for s in (1, 2, 4, 3, 5, 5, 9, 8, 10)]))
    write('rtp', 'track_restart', track_stream(
        [(i, 160 * i, 160 * i) for i in range(5)] +
        [(40000 + i, 7777 + 160 * i, 800 + 160 * i) for i in range(5)]))
    write('rtp', 'track_cycles_carry', track_stream(
        [(65500 + 20 * i, 160 * i, 160 * i) for i in range(10)], flags=1))

    write('create', 'udp_plain', create_req(labels=[('call', 'abc'), ('leg', 'a')]))
    write('create', 'tcp_generated_id', create_req(sid='', tcp=True, dest=('198.18.2.2', 80)))
    write('create', 'labels_at_limits', create_req(
        sid='A-z.0_9:' + 'i' * 56,
        labels=[('%02d' % i + 'k' * 61, 'v' * 255) for i in range(32)]))
    write('create', 'labels_33', create_req(labels=[('k%d' % i, '') for i in range(33)]))
    write('create', 'label_dup', create_req(labels=[('k', '1'), ('k', '2')]))
    write('create', 'label_empty_key', create_req(labels=[('', 'v')]))
    write('create', 'id_bad', create_req(sid='a b/\x00c'))
    write('create', 'id_65', create_req(sid='x' * 65))
    for name, addr in (('dest_loopback', '127.0.0.1'), ('dest_broadcast', '198.18.2.255'),
                       ('dest_own', '198.18.1.1'), ('dest_multicast', '239.0.0.1'),
                       ('dest_limited', '255.255.255.255'), ('dest_slash30', '10.0.0.3'),
                       ('dest_v6_mapped', '::ffff:127.0.0.1'), ('dest_v6_own', '2001:db8::1'),
                       ('dest_v6_fine', '2001:db8::2'), ('dest_name', 'dst.example')):
        write('create', name, create_req(dest=(addr, 4000)))
    write('create', 'no_endpoints', create_req(listen=None, forward=None, dest=None))
    write('create', 'unknown_field', create_req(extra=pb_varint(99, 7) + pb_bytes(98, 'x')))
    write('create', 'list_selector', list_req([('call', 'abc'), ('k' * 64, '')]))
    seeds_ipv6_vlan()


if __name__ == '__main__':
    main()
