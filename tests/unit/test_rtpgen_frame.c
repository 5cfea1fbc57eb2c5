/*
 * rtpgen's frames without EAL: IPv6 and IPv4 streams, tagged or not, checked field by field
 * and against checksums computed here from scratch (big-endian words, the RFC 1071 way, not
 * rtpgen's incremental sums); the receive side's link-layer look (tags, VID 0, a NIC-stripped
 * tag, short frames); NDP solicitations parsed (good, bad checksum, truncated, forwarded,
 * multicast target) and advertisements built; addresses parsed and offset.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "addr.h"
#include "check.h"
#include "frame.h"
#include "gen.h"
#include "ndp.h"

static uint8_t buf[2048] __attribute__((aligned(64)));
static struct rte_mbuf mb;

/* The Internet checksum of the concatenation of the parts, from scratch. */
static uint16_t csum_of(const uint8_t *const *parts, const size_t *lens, unsigned n)
{
	uint64_t s = 0;
	uint8_t odd = 0;
	bool have_odd = false;

	for (unsigned k = 0; k < n; k++) {
		for (size_t i = 0; i < lens[k]; i++) {
			if (have_odd) {
				s += (uint32_t)(odd << 8 | parts[k][i]);
				have_odd = false;
			} else {
				odd = parts[k][i];
				have_odd = true;
			}
		}
	}
	if (have_odd)
		s += (uint32_t)odd << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The transport checksum over an IPv6 pseudo-header: 0 (as "verified") when right. */
static uint16_t v6_verify(const uint8_t *ip6, uint8_t nh)
{
	uint16_t plen = (uint16_t)(ip6[4] << 8 | ip6[5]);
	uint8_t ph[8] = { 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, 0, 0, 0, nh };
	const uint8_t *parts[3] = { ip6 + 8, ph, ip6 + 40 };
	size_t lens[3] = { 32, 8, plen };

	return csum_of(parts, lens, 3);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct gen_lcore *lc_new(void)
{
	struct gen_lcore *lc = calloc(1, sizeof(*lc));

	lc->tx_vlan = GEN_VLAN_NONE;
	lc->rx_vlan = GEN_VLAN_NONE;
	lc->tag = 0x12345678 | GEN_TAG_MEASURED;
	return lc;
}

static void opts_base(struct gen_opts *o, const char *src)
{
	memset(o, 0, sizeof(*o));
	CHECK(gen_addr_parse(src, &o->src_addr));
	o->payload = 160;
	o->pt = 8;
	for (int i = 0; i < 6; i++) {
		o->src_mac.addr_bytes[i] = (uint8_t)(0x02 + i);
		o->dst_mac.addr_bytes[i] = (uint8_t)(0x12 + i);
	}
}

static void mbuf_reset(void)
{
	memset(&mb, 0, sizeof(mb));
	mb.buf_addr = buf;
	mb.data_off = 0;
	memset(buf, 0xaa, sizeof(buf));
}

/* IPv6 streams: every field and every packet's UDP checksum, over many streams and packets. */
static void test_ipv6(int vlan)
{
	struct gen_lcore *lc = lc_new();
	struct gen_opts o;
	struct gen_addr dst;
	struct gen_stream st[300];
	unsigned bad_csum = 0, bad_fields = 0, zero_csum = 0;
	uint32_t l2 = vlan == GEN_VLAN_NONE ? 14 : 18;

	opts_base(&o, "2001:db8:1::2");
	CHECK(gen_addr_parse("2001:db8:1::ffff:ff00", &dst));
	lc->tx_vlan = vlan;
	frame_template(lc, &o, &dst);
	CHECK_EQ_U(lc->af, 6);
	CHECK_EQ_U(lc->l3_off, l2);
	CHECK_EQ_U(lc->frame_len, l2 + 40 + 8 + 12 + 160);
	for (uint32_t i = 0; i < 300; i++) {
		st[i].ssrc = (i + 77) * 0x9e3779b1u;
		st[i].seq_off = (uint16_t)(st[i].ssrc >> 16);
		/* low 32 bits ffff:ff00 + i: crosses a 16-bit boundary of the address */
		frame_stream(lc, &st[i], 0xffffff00u + i % 255, (uint16_t)(10000 + 2 * i),
				(uint16_t)(20000 + 2 * i));
	}
	for (uint32_t i = 0; i < 300; i++) {
		for (uint64_t n = 0; n < 70; n += 7) {
			const uint8_t *ip = buf + l2, *udp = ip + 40, *rtp = udp + 8, *mk = rtp + 12;
			uint64_t tsc = 0x0123456789abcdefull * (n + 1) + i;
			uint8_t want_dst[16];

			mbuf_reset();
			frame_build(lc, &st[i], i, n, &mb, tsc);
			memcpy(want_dst, dst.v6, 12);
			want_dst[12] = 0xff;
			want_dst[13] = 0xff;
			want_dst[14] = 0xff;
			want_dst[15] = (uint8_t)(i % 255);
			if (v6_verify(ip, IPPROTO_UDP) != 0)
				bad_csum++;
			if (be16(udp + 6) == 0)
				zero_csum++;
			if (mb.data_len != lc->frame_len || mb.pkt_len != lc->frame_len ||
					be16(buf + l2 - 2) != 0x86dd || ip[0] != 0x60 ||
					be16(ip + 4) != 8 + 12 + 160 || ip[6] != 17 || ip[7] != 64 ||
					memcmp(ip + 8, o.src_addr.v6, 16) != 0 ||
					memcmp(ip + 24, want_dst, 16) != 0 ||
					be16(udp) != 10000 + 2 * i || be16(udp + 2) != 20000 + 2 * i ||
					be16(udp + 4) != 8 + 12 + 160 || rtp[0] != 0x80 || rtp[1] != 8 ||
					be16(rtp + 2) != (uint16_t)(st[i].seq_off + n) ||
					be32(rtp + 8) != st[i].ssrc || be32(mk) != GEN_MAGIC ||
					be32(mk + 4) != lc->tag || be32(mk + 8) != i || be32(mk + 12) != n ||
					memcmp(mk + 16, &tsc, 8) != 0 || mk[24] != 0xd5 ||
					mk[160 - 1] != 0xd5 || mk[160] != 0xaa)
				bad_fields++;
			if (vlan != GEN_VLAN_NONE && (be16(buf + 12) != 0x8100 ||
					be16(buf + 14) != (uint16_t)vlan))
				bad_fields++;
		}
	}
	CHECK_EQ_U(bad_csum, 0);
	CHECK_EQ_U(zero_csum, 0);
	CHECK_EQ_U(bad_fields, 0);
	free(lc);
}

/* IPv4, tagged: the tag, the header checksum from scratch, UDP checksum 0. */
static void test_ipv4_tagged(void)
{
	struct gen_lcore *lc = lc_new();
	struct gen_opts o;
	struct gen_addr dst = gen_addr4(0xc6120101);
	struct gen_stream st = { .ssrc = 0xdeadbeef };
	const uint8_t *ip = buf + 18;
	const uint8_t *parts[1] = { ip };
	size_t lens[1] = { 20 };

	opts_base(&o, "198.18.1.2");
	lc->tx_vlan = 4094;
	frame_template(lc, &o, &dst);
	frame_stream(lc, &st, 0xc6120105, 10000, 20000);
	mbuf_reset();
	frame_build(lc, &st, 0, 5, &mb, 1);
	CHECK_EQ_U(lc->frame_len, 18 + 20 + 8 + 12 + 160);
	CHECK_EQ_U(be16(buf + 12), 0x8100);
	CHECK_EQ_U(be16(buf + 14), 4094);
	CHECK_EQ_U(be16(buf + 16), 0x0800);
	CHECK_EQ_U(ip[0], 0x45);
	CHECK_EQ_U(be32(ip + 12), 0xc6120102);
	CHECK_EQ_U(be32(ip + 16), 0xc6120105);
	CHECK_EQ_U(csum_of(parts, lens, 1), 0);
	CHECK_EQ_U(be16(ip + 20 + 6), 0);
	/* priority tag: VID 0 */
	lc->tx_vlan = 0;
	frame_template(lc, &o, &dst);
	CHECK_EQ_U(lc->l3_off, 18);
	CHECK_EQ_U(lc->tmpl[14] << 8 | lc->tmpl[15], 0);
	free(lc);
}

static void test_l2(void)
{
	uint8_t f[64] = { 0 };
	uint16_t et;
	int vid;

	f[12] = 0x86;
	f[13] = 0xdd;
	CHECK_EQ_U(frame_l2(f, 64, NULL, &et, &vid), 14);
	CHECK_EQ_U(et, 0x86dd);
	CHECK(vid == GEN_VLAN_NONE);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = 0x20 | 0x01;    /* PCP 1, VID 0x100 */
	f[15] = 0x00;
	f[16] = 0x08;
	f[17] = 0x00;
	CHECK_EQ_U(frame_l2(f, 64, NULL, &et, &vid), 18);
	CHECK_EQ_U(et, 0x0800);
	CHECK_EQ_U(vid, 0x100);
	CHECK_EQ_U(frame_l2(f, 17, NULL, &et, &vid), 0);       /* a tag cut short */
	CHECK_EQ_U(frame_l2(f, 13, NULL, &et, &vid), 0);
	/* a tag the NIC stripped */
	f[12] = 0x08;
	f[13] = 0x00;
	memset(&mb, 0, sizeof(mb));
	mb.ol_flags = RTE_MBUF_F_RX_VLAN_STRIPPED | RTE_MBUF_F_RX_VLAN;
	mb.vlan_tci = 0x2000 | 200;
	CHECK_EQ_U(frame_l2(f, 64, &mb, &et, &vid), 14);
	CHECK_EQ_U(vid, 200);
	CHECK(frame_vlan_ok(GEN_VLAN_NONE, GEN_VLAN_NONE));
	CHECK(frame_vlan_ok(0, GEN_VLAN_NONE));         /* VID 0 counts as untagged */
	CHECK(!frame_vlan_ok(100, GEN_VLAN_NONE));
	CHECK(frame_vlan_ok(100, 100));
	CHECK(!frame_vlan_ok(200, 100));
	CHECK(!frame_vlan_ok(GEN_VLAN_NONE, 100));
	CHECK(!frame_vlan_ok(0, 100));
}

/* A neighbour solicitation for target from src, tagged or not, built here; its length. */
static size_t make_ns(uint8_t *f, const uint8_t *src, const uint8_t *target, int vlan,
		uint8_t hop_limit, bool with_slla)
{
	struct rte_ether_addr smac = { { 0x02, 0, 0, 0, 0, 0x01 } };
	struct rte_ether_addr dmac = { { 0x33, 0x33, 0xff, target[13], target[14], target[15] } };
	uint8_t snm[16] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff, [13] = target[13],
			[14] = target[14], [15] = target[15] };
	size_t l3 = frame_eth(f, &dmac, &smac, vlan, 0x86dd);
	uint8_t *ip = f + l3, *icmp = ip + 40;
	uint16_t plen = with_slla ? 32 : 24;
	uint8_t ph[8] = { 0, 0, 0, (uint8_t)plen, 0, 0, 0, 58 };
	const uint8_t *parts[3];
	size_t lens[3] = { 32, 8, plen };
	uint16_t c;

	memset(ip, 0, 40 + plen);
	ip[0] = 0x60;
	ip[5] = (uint8_t)plen;
	ip[6] = 58;
	ip[7] = hop_limit;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, snm, 16);
	icmp[0] = 135;
	memcpy(icmp + 8, target, 16);
	if (with_slla) {
		icmp[24] = 1;
		icmp[25] = 1;
		memcpy(icmp + 26, &smac, 6);
	}
	parts[0] = ip + 8;
	parts[1] = ph;
	parts[2] = icmp;
	c = csum_of(parts, lens, 3);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	return l3 + 40 + plen;
}

static void test_ndp(void)
{
	uint8_t f[128], na[128];
	uint8_t src[16], target[16], mcast[16];
	struct ndp_ns ns;
	struct rte_ether_addr mac = { { 0x02, 0x52, 0x50, 0, 0, 0x09 } };
	size_t len, nlen;

	inet_pton(AF_INET6, "2001:db8:2::1", src);
	inet_pton(AF_INET6, "2001:db8:2::2", target);
	inet_pton(AF_INET6, "ff02::1:ff00:2", mcast);

	len = make_ns(f, src, target, GEN_VLAN_NONE, 255, true);
	CHECK(ndp_is_nd(f + 14, (uint32_t)len - 14));
	CHECK(ndp_parse_ns(f, (uint32_t)len, 14, &ns));
	CHECK(memcmp(ns.src, src, 16) == 0);
	CHECK(memcmp(ns.target, target, 16) == 0);
	CHECK_EQ_U(ns.eth_src.addr_bytes[5], 0x01);
	memset(f + len, 0, 8);                          /* padded: still fine */
	CHECK(ndp_parse_ns(f, (uint32_t)len + 8, 14, &ns));
	CHECK(!ndp_parse_ns(f, (uint32_t)len - 1, 14, &ns));   /* truncated */
	f[14 + 40 + 20] ^= 1;                           /* a target bit: the checksum fails */
	CHECK(!ndp_parse_ns(f, (uint32_t)len, 14, &ns));
	len = make_ns(f, src, target, GEN_VLAN_NONE, 64, true);        /* forwarded */
	CHECK(!ndp_is_nd(f + 14, (uint32_t)len - 14));
	CHECK(!ndp_parse_ns(f, (uint32_t)len, 14, &ns));
	len = make_ns(f, src, mcast, GEN_VLAN_NONE, 255, true);        /* a multicast target */
	CHECK(!ndp_parse_ns(f, (uint32_t)len, 14, &ns));
	len = make_ns(f, src, target, 300, 255, false); /* tagged, no option */
	CHECK(ndp_parse_ns(f, (uint32_t)len, 18, &ns));
	f[18 + 5] = 200;                                /* payload length past the frame */
	CHECK(!ndp_parse_ns(f, (uint32_t)len, 18, &ns));

	/* the answer: tagged like the question, solicited + override, TLLA option */
	nlen = ndp_build_na(na, &ns.eth_src, &mac, 300, target, src, true);
	CHECK_EQ_U(nlen, 18 + NDP_NA_LEN);
	CHECK_EQ_U(be16(na + 12), 0x8100);
	CHECK_EQ_U(be16(na + 14), 300);
	CHECK_EQ_U(be16(na + 16), 0x86dd);
	CHECK_EQ_U(na[5], 0x01);                        /* to the solicitor's MAC */
	CHECK(memcmp(na + 6, &mac, 6) == 0);
	CHECK_EQ_U(na[18 + 7], 255);
	CHECK_EQ_U(be16(na + 18 + 4), 32);
	CHECK(memcmp(na + 18 + 8, target, 16) == 0);
	CHECK(memcmp(na + 18 + 24, src, 16) == 0);
	CHECK_EQ_U(na[18 + 40], 136);
	CHECK_EQ_U(na[18 + 40 + 4], 0x60);
	CHECK(memcmp(na + 18 + 40 + 8, target, 16) == 0);
	CHECK_EQ_U(na[18 + 40 + 24], 2);
	CHECK_EQ_U(na[18 + 40 + 25], 1);
	CHECK(memcmp(na + 18 + 40 + 26, &mac, 6) == 0);
	CHECK_EQ_U(v6_verify(na + 18, 58), 0);
	CHECK(ndp_is_nd(na + 18, NDP_NA_LEN));
	/* unsolicited, to all nodes, untagged */
	nlen = ndp_build_na(na, &ndp_all_nodes_mac, &mac, GEN_VLAN_NONE, target, ndp_all_nodes,
			false);
	CHECK_EQ_U(nlen, 14 + NDP_NA_LEN);
	CHECK_EQ_U(na[0], 0x33);
	CHECK_EQ_U(na[5], 0x01);
	CHECK_EQ_U(na[14 + 24], 0xff);
	CHECK_EQ_U(na[14 + 40 + 4], 0x20);
	CHECK_EQ_U(v6_verify(na + 14, 58), 0);
}

static void test_addr(void)
{
	struct gen_addr a, b, c;
	char t[GEN_ADDR_TEXT];

	CHECK(gen_addr_parse("198.18.1.1", &a) && a.af == 4 && a.v4 == 0xc6120101);
	CHECK(gen_addr_parse("2001:db8::1", &a) && a.af == 6 && a.v6[15] == 1);
	CHECK(gen_addr_parse("[2001:db8::1]", &b) && b.af == 6 && memcmp(a.v6, b.v6, 16) == 0);
	CHECK(!gen_addr_parse("2001:db8::1]", &a));
	CHECK(!gen_addr_parse("[198.18.1.1]", &a));
	CHECK(!gen_addr_parse("198.18.1", &a));
	CHECK(!gen_addr_parse("", &a));
	CHECK(gen_addr_parse("2001:db8::ffff:fffe", &a));
	CHECK_EQ_U(gen_addr_low32(&a), 0xfffffffe);
	CHECK(gen_addr_span_ok(&a, 2));
	CHECK(!gen_addr_span_ok(&a, 3));                /* would carry into the /96 */
	c = gen_addr_with_low32(&a, 7);
	gen_addr_text(&c, t);
	CHECK(strcmp(t, "2001:db8::7") == 0);
	CHECK(gen_addr_same_prefix(&a, &c));
	CHECK(gen_addr_parse("2001:db9::7", &b));
	CHECK(!gen_addr_same_prefix(&a, &b));
	b = gen_addr4(0xfffffffe);
	CHECK(!gen_addr_same_prefix(&a, &b));
	CHECK(!gen_addr_span_ok(&b, 3));
	gen_addr_text(&b, t);
	CHECK(strcmp(t, "255.255.255.254") == 0);
}

int main(void)
{
	test_ipv6(GEN_VLAN_NONE);
	test_ipv6(100);
	test_ipv4_tagged();
	test_l2();
	test_ndp();
	test_addr();
	return check_summary("rtpgen_frame");
}
