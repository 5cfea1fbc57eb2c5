/*
 * IPv6 classification and the 6 -> 6, 4 -> 6 and 6 -> 4 rewrites (lib/pkt6.h), checked
 * against checksums computed from scratch with the byte-wise reference (pkt_csum_partial):
 * good frames, truncated ones, extension headers, fragments, bad lengths, zero and wrong
 * checksums, odd payload lengths and the 0xffff edge.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "check.h"
#include "pkt.h"

#define HEADROOM 128

static const uint8_t A_SRC[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
static const uint8_t A_DST[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* The UDP checksum of the datagram at udp (its checksum field taken as zero), from scratch
 * over the IPv6 pseudo-header: what must be in the field (0 -> 0xffff). */
static uint16_t ref_udp6(const uint8_t *src, const uint8_t *dst, const uint8_t *udp)
{
	unsigned ulen = (unsigned)(udp[4] << 8 | udp[5]);
	uint8_t pseudo[40] = { 0 }, tmp[2048];
	memcpy(pseudo, src, 16);
	memcpy(pseudo + 16, dst, 16);
	put16(pseudo + 34, ulen);
	pseudo[39] = PKT_IPPROTO_UDP;
	memcpy(tmp, udp, ulen);
	tmp[6] = tmp[7] = 0;
	uint16_t c = (uint16_t)~pkt_csum_fold(pkt_csum_partial(tmp, ulen,
				pkt_csum_partial(pseudo, 40, 0)));
	return c == 0 ? 0xffff : c;
}

/* The same over the IPv4 pseudo-header. */
static uint16_t ref_udp4(const uint8_t *ip4, const uint8_t *udp)
{
	unsigned ulen = (unsigned)(udp[4] << 8 | udp[5]);
	uint8_t pseudo[12], tmp[2048];
	memcpy(pseudo, ip4 + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = PKT_IPPROTO_UDP;
	put16(pseudo + 10, ulen);
	memcpy(tmp, udp, ulen);
	tmp[6] = tmp[7] = 0;
	uint16_t c = (uint16_t)~pkt_csum_fold(pkt_csum_partial(tmp, ulen,
				pkt_csum_partial(pseudo, 12, 0)));
	return c == 0 ? 0xffff : c;
}

static void fill_payload(uint8_t *p, unsigned n, unsigned seed)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + seed * 7 + 1);
}

/* Ethernet/IPv6/UDP at f with `payload` bytes, hop limit hl, traffic class tc, valid
 * checksum; the frame's length. */
static uint32_t build6(uint8_t *f, unsigned payload, uint8_t hl, uint8_t tc, unsigned seed)
{
	memset(f, 0, 14 + 40 + 8 + payload);
	memset(f, 0xaa, 12);
	put16(f + 12, PKT_ETHERTYPE_IPV6);
	uint8_t *ip = f + 14, *udp = ip + 40;
	ip[0] = (uint8_t)(0x60 | tc >> 4);
	ip[1] = (uint8_t)(tc << 4 | 0x0);
	ip[2] = 0x12;           /* a flow label, which a rewrite keeps */
	ip[3] = 0x34;
	put16(ip + 4, 8 + payload);
	ip[6] = PKT_IPPROTO_UDP;
	ip[7] = hl;
	memcpy(ip + 8, A_SRC, 16);
	memcpy(ip + 24, A_DST, 16);
	put16(udp, 40000);
	put16(udp + 2, 20000);
	put16(udp + 4, 8 + payload);
	fill_payload(udp + 8, payload, seed);
	put16(udp + 6, ref_udp6(ip + 8, ip + 24, udp));
	return 14 + 40 + 8 + payload;
}

/* Ethernet/IPv4 (ihl words)/UDP with valid checksums (UDP's 0 = none when ck0). */
static uint32_t build4(uint8_t *f, unsigned ihl, unsigned payload, uint8_t ttl, uint8_t tos,
		bool ck0, unsigned seed)
{
	unsigned hl = ihl * 4;
	memset(f, 0, 14 + hl + 8 + payload);
	memset(f, 0xbb, 12);
	put16(f + 12, PKT_ETHERTYPE_IPV4);
	uint8_t *ip = f + 14, *udp = ip + hl;
	ip[0] = (uint8_t)(0x40 | ihl);
	ip[1] = tos;
	put16(ip + 2, hl + 8 + payload);
	put16(ip + 4, 0x4242);
	ip[8] = ttl;
	ip[9] = PKT_IPPROTO_UDP;
	uint32_t s = inet_addr("198.18.1.100"), d = inet_addr("198.18.1.10");
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	for (unsigned i = 20; i < hl; i++)
		ip[i] = 1;
	put16(ip + 10, (uint16_t)~pkt_csum_fold(pkt_csum_partial(ip, hl, 0)));
	put16(udp, 40000);
	put16(udp + 2, 10000);
	put16(udp + 4, 8 + payload);
	fill_payload(udp + 8, payload, seed);
	put16(udp + 6, ck0 ? 0 : ref_udp4(ip, udp));
	return 14 + hl + 8 + payload;
}

static void test_classify6(void)
{
	static uint8_t f[2048];
	struct pkt_info info;
	uint32_t n = build6(f, 172, 64, 0, 1);

	CHECK(pkt_classify(f, n, &info) == PKT_UDP6);
	CHECK_EQ_U(info.l3_off, 14);
	CHECK_EQ_U(info.l4_off, 54);
	CHECK_EQ_U(info.ip_len, 40 + 8 + 172);
	CHECK_EQ_U(info.udp_payload, 172);
	/* Ethernet padding / trailing bytes after the payload length: fine */
	CHECK(pkt_classify(f, n + 20, &info) == PKT_UDP6 && info.udp_payload == 172);
	/* the smallest: an empty datagram */
	n = build6(f, 0, 64, 0, 1);
	CHECK(pkt_classify(f, n, &info) == PKT_UDP6 && info.udp_payload == 0);

	/* truncated anywhere */
	n = build6(f, 172, 64, 0, 1);
	CHECK(pkt_classify(f, 13, &info) == PKT_MALFORMED);
	CHECK(pkt_classify(f, 14 + 39, &info) == PKT_MALFORMED);
	CHECK(pkt_classify(f, 14 + 40 + 7, &info) == PKT_MALFORMED);
	CHECK(pkt_classify(f, n - 1, &info) == PKT_MALFORMED);  /* payload length > frame */
	/* bad version */
	f[14] = 0x40;
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	/* payload length: bigger than the frame, smaller than a UDP header, or than UDP's */
	n = build6(f, 172, 64, 0, 1);
	put16(f + 18, 8 + 173);
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	put16(f + 18, 7);
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	put16(f + 18, 8 + 171);
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);      /* UDP length > payload length */
	put16(f + 18, 8 + 172);
	/* UDP length below its header */
	put16(f + 58, 7);
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	/* a shorter UDP length than the payload length: the rest is not the datagram's */
	n = build6(f, 172, 64, 0, 1);
	put16(f + 18, 8 + 172 + 4);
	memset(f + n, 0, 4);
	CHECK(pkt_classify(f, n + 4, &info) == PKT_UDP6);
	CHECK_EQ_U(info.udp_payload, 172);
	CHECK_EQ_U(info.ip_len, 40 + 8 + 172 + 4);

	/* the checksum is mandatory: zero is malformed; a wrong one too, unless the NIC said
	 * it was good (then it is not summed) */
	n = build6(f, 172, 64, 0, 1);
	uint8_t ck[2] = { f[60], f[61] };
	f[60] = f[61] = 0;
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	CHECK(pkt_classify_ck(f, n, &info, PKT_CK_L4_GOOD) == PKT_MALFORMED);
	f[60] = ck[0];
	f[61] = (uint8_t)(ck[1] ^ 1);
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	CHECK(pkt_classify_ck(f, n, &info, PKT_CK_IP_GOOD) == PKT_MALFORMED);
	CHECK(pkt_classify_ck(f, n, &info, PKT_CK_L4_GOOD) == PKT_UDP6);
	f[61] = ck[1];
	f[54 + 8 + 100] ^= 0x40;        /* a payload bit */
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	f[54 + 8 + 100] ^= 0x40;
	f[14 + 8 + 15] ^= 1;            /* a source address bit: the pseudo-header */
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	f[14 + 8 + 15] ^= 1;
	CHECK(pkt_classify(f, n, &info) == PKT_UDP6);
	/* odd payload lengths sum their last byte as the high half of a word */
	for (unsigned p = 1; p < 40; p++) {
		n = build6(f, p, 64, 0, p);
		CHECK(pkt_classify(f, n, &info) == PKT_UDP6 && info.udp_payload == p);
		f[n - 1] ^= 0x80;
		CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	}

	/* next headers: a fragment header is a fragment, ND is ND, the rest the kernel's */
	n = build6(f, 172, 64, 0, 1);
	struct { uint8_t nh, type; enum pkt_class want; } nhs[] = {
		{ 44, 0, PKT_FRAGMENT }, { 0, 0, PKT_OTHER }, { 43, 0, PKT_OTHER },
		{ 60, 0, PKT_OTHER }, { 51, 0, PKT_OTHER }, { 50, 0, PKT_OTHER },
		{ 59, 0, PKT_OTHER }, { 6, 0, PKT_OTHER }, { 58, 128, PKT_OTHER },
		{ 58, 129, PKT_OTHER }, { 58, 1, PKT_OTHER }, { 58, 132, PKT_OTHER },
		{ 58, 133, PKT_ND }, { 58, 134, PKT_ND }, { 58, 135, PKT_ND },
		{ 58, 136, PKT_ND }, { 58, 137, PKT_ND }, { 58, 138, PKT_OTHER },
		{ 58, 143, PKT_OTHER },
	};
	for (unsigned i = 0; i < sizeof(nhs) / sizeof(nhs[0]); i++) {
		f[20] = nhs[i].nh;
		f[54] = nhs[i].type;
		CHECK(pkt_classify(f, n, &info) == nhs[i].want);
	}
	/* ICMPv6 too short to carry its type and checksum: the kernel judges it */
	f[20] = 58;
	f[54] = 135;
	put16(f + 18, 2);
	CHECK(pkt_classify(f, n, &info) == PKT_OTHER);
	/* the fixed header's lengths hold for them too */
	put16(f + 18, 8 + 173);
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	f[20] = 44;
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	/* not IPv6 at all */
	put16(f + 12, 0x88cc);
	CHECK(pkt_classify(f, n, &info) == PKT_OTHER);
}

/* Only these bytes may differ between a frame and its rewrite (6 -> 6). */
static bool rw6_may_change(unsigned i)
{
	return i < 12 || i == 14 + 7 || (i >= 14 + 8 && i < 54) || (i >= 54 && i < 58) ||
		i == 60 || i == 61;
}

static void rw6_params(struct pkt_rewrite6 *rw, unsigned seed)
{
	for (unsigned i = 0; i < 16; i++) {
		rw->src_ip[i] = (uint8_t)(seed * 31 + i * 17);
		rw->dst_ip[i] = (uint8_t)(seed * 57 + i * 5 + 3);
	}
	if (seed % 5 == 1)
		memset(rw->src_ip, 0xff, 16);
	if (seed % 5 == 2)
		memset(rw->dst_ip, 0, 16);
	rw->src_port = htons((uint16_t)(30000 + seed));
	rw->dst_port = htons((uint16_t)(seed % 7 == 0 ? 0xffff : 20000 + seed * 3));
	memcpy(rw->src_mac, "\x02\x00\x00\x00\x02\x01", 6);
	memcpy(rw->dst_mac, "\x02\x00\x00\x00\x02\x64", 6);
}

static void test_rewrite6(void)
{
	static uint8_t f[2048], o[2048];
	struct pkt_info info;
	struct pkt_rewrite6 rw;

	for (unsigned seed = 0; seed < 200; seed++) {
		unsigned payload = seed % 3 == 0 ? 172 : seed;          /* odd and even lengths */
		uint32_t n = build6(f, payload, (uint8_t)(2 + seed), 0xb8, seed);
		memcpy(o, f, n);
		CHECK(pkt_classify(f, n, &info) == PKT_UDP6);
		rw6_params(&rw, seed);
		pkt_rewrite_udp6(f, &info, &rw);
		CHECK(memcmp(f, rw.dst_mac, 6) == 0 && memcmp(f + 6, rw.src_mac, 6) == 0);
		CHECK(memcmp(f + 22, rw.src_ip, 16) == 0 && memcmp(f + 38, rw.dst_ip, 16) == 0);
		CHECK(memcmp(f + 54, &rw.src_port, 2) == 0 && memcmp(f + 56, &rw.dst_port, 2) == 0);
		CHECK_EQ_U(f[21], (uint8_t)(2 + seed - 1));
		CHECK_EQ_U(pkt_rd16(f + 60), ref_udp6(f + 22, f + 38, f + 54));
		unsigned changed = 0;
		for (unsigned i = 0; i < n; i++)
			if (f[i] != o[i] && !rw6_may_change(i))
				changed++;
		CHECK_EQ_U(changed, 0);
		/* and it classifies as good again */
		CHECK(pkt_classify(f, n, &info) == PKT_UDP6);
	}
}

/*
 * Make the UDP checksum of the frame that `out` will produce come out as 0 (sent as 0xffff):
 * two payload bytes at an even offset set so that the output datagram sums to 0xffff. The
 * caller computes the output's sum (pseudo-header + datagram, field and those bytes zero).
 */
static void force_ffff(uint8_t *adj, uint32_t out_sum)
{
	put16(adj, (uint16_t)~pkt_csum_fold(out_sum));
}

static uint32_t sum6_of(const uint8_t *src, const uint8_t *dst, const uint8_t *udp)
{
	unsigned ulen = (unsigned)(udp[4] << 8 | udp[5]);
	uint8_t pseudo[40] = { 0 }, tmp[2048];
	memcpy(pseudo, src, 16);
	memcpy(pseudo + 16, dst, 16);
	put16(pseudo + 34, ulen);
	pseudo[39] = PKT_IPPROTO_UDP;
	memcpy(tmp, udp, ulen);
	tmp[6] = tmp[7] = 0;
	return pkt_csum_partial(tmp, ulen, pkt_csum_partial(pseudo, 40, 0));
}

static void test_ffff_6to6(void)
{
	static uint8_t f[2048];
	struct pkt_info info;
	struct pkt_rewrite6 rw;
	rw6_params(&rw, 3);
	uint32_t n = build6(f, 20, 64, 0, 1);
	uint8_t *udp = f + 54;
	/* what the output will hold: new addresses and ports; bytes 8..9 of the payload free */
	uint8_t out_udp[64];
	memcpy(out_udp, udp, 28);
	memcpy(out_udp, &rw.src_port, 2);
	memcpy(out_udp + 2, &rw.dst_port, 2);
	out_udp[16] = out_udp[17] = 0;
	udp[16] = udp[17] = 0;
	force_ffff(udp + 16, sum6_of(rw.src_ip, rw.dst_ip, out_udp));
	put16(udp + 6, ref_udp6(f + 22, f + 38, udp));
	CHECK(pkt_classify(f, n, &info) == PKT_UDP6);
	pkt_rewrite_udp6(f, &info, &rw);
	CHECK_EQ_U(pkt_rd16(udp + 6), 0xffff);
	CHECK_EQ_U(ref_udp6(f + 22, f + 38, udp), 0xffff);
}

static void test_4to6(void)
{
	static uint8_t buf[HEADROOM + 2048], orig[2048];
	struct pkt_info info;
	struct pkt_rewrite6 rw;

	for (unsigned seed = 0; seed < 240; seed++) {
		uint8_t *f = buf + HEADROOM;
		unsigned ihl = seed % 4 == 3 ? 6 : 5;                   /* options too */
		unsigned payload = seed % 3 == 0 ? 172 : seed;
		bool ck0 = seed % 2 == 1;
		uint8_t tos = (uint8_t)(seed * 37), ttl = (uint8_t)(2 + seed);
		uint32_t n = build4(f, ihl, payload, ttl, tos, ck0, seed);
		memcpy(orig, f, n);
		CHECK(pkt_classify(f, n, &info) == PKT_UDP4);
		if (!ck0) {
			/* the IPv4 checksum's own check, against a flipped payload bit too */
			CHECK(pkt_udp4_csum_ok(f, &info));
			f[info.l4_off + 8 + payload / 2] ^= (uint8_t)(payload ? 0x04 : 0);
			CHECK(pkt_udp4_csum_ok(f, &info) == (payload == 0));
			f[info.l4_off + 8 + payload / 2] ^= (uint8_t)(payload ? 0x04 : 0);
		}
		rw6_params(&rw, seed);
		uint8_t *nf = pkt_xlate_4to6(f, &info, &rw);
		/* the UDP header stayed; the new headers end where it starts */
		CHECK(nf == f + info.l4_off - PKT_XLATE6_HDRS);
		CHECK(nf - f == (ptrdiff_t)(14 + ihl * 4) - 54);
		uint32_t nn = PKT_XLATE6_HDRS + 8 + payload;
		struct pkt_info i6;
		CHECK(pkt_classify(nf, nn, &i6) == PKT_UDP6);
		CHECK_EQ_U(i6.udp_payload, payload);
		uint8_t *ip6 = nf + 14, *udp = ip6 + 40;
		CHECK(memcmp(nf, rw.dst_mac, 6) == 0 && memcmp(nf + 6, rw.src_mac, 6) == 0);
		CHECK_EQ_U(pkt_rd16(nf + 12), PKT_ETHERTYPE_IPV6);
		CHECK_EQ_U(ip6[0], 0x60 | tos >> 4);
		CHECK_EQ_U(ip6[1], (uint8_t)(tos << 4));
		CHECK_EQ_U(ip6[2] | ip6[3], 0);                 /* flow label 0 */
		CHECK_EQ_U(pkt_rd16(ip6 + 4), 8 + payload);
		CHECK_EQ_U(ip6[6], PKT_IPPROTO_UDP);
		CHECK_EQ_U(ip6[7], ttl - 1);
		CHECK(memcmp(ip6 + 8, rw.src_ip, 16) == 0 && memcmp(ip6 + 24, rw.dst_ip, 16) == 0);
		CHECK(memcmp(udp, &rw.src_port, 2) == 0 && memcmp(udp + 2, &rw.dst_port, 2) == 0);
		CHECK_EQ_U(pkt_rd16(udp + 4), 8 + payload);
		CHECK_EQ_U(pkt_rd16(udp + 6), ref_udp6(ip6 + 8, ip6 + 24, udp));
		/* the payload untouched, in place */
		CHECK(udp == f + info.l4_off);
		CHECK(memcmp(udp + 8, orig + info.l4_off + 8, payload) == 0);
	}
}

static void test_6to4(void)
{
	static uint8_t f[2048], orig[2048];
	struct pkt_info info;
	struct pkt_rewrite rw;

	for (unsigned seed = 0; seed < 240; seed++) {
		unsigned payload = seed % 3 == 0 ? 172 : seed;
		uint8_t tc = (uint8_t)(seed * 37), hl = (uint8_t)(2 + seed);
		uint32_t n = build6(f, payload, hl, tc, seed);
		memcpy(orig, f, n);
		CHECK(pkt_classify(f, n, &info) == PKT_UDP6);
		uint32_t b[3] = { (uint32_t)seed * 0x9e3779b1u, (uint32_t)seed * 0x85ebca6bu,
			(uint32_t)seed * 0xc2b2ae35u };
		rw.src_ip = seed % 5 == 1 ? 0xffffffff : b[0];
		rw.dst_ip = seed % 5 == 2 ? 0 : b[1];
		rw.src_port = (uint16_t)b[2];
		rw.dst_port = (uint16_t)(b[2] >> 16);
		memcpy(rw.src_mac, "\x02\x00\x00\x00\x01\x01", 6);
		memcpy(rw.dst_mac, "\x02\x00\x00\x00\x01\x64", 6);
		uint8_t *nf = pkt_xlate_6to4(f, &info, &rw);
		CHECK(nf == f + 20);
		uint32_t nn = PKT_XLATE4_HDRS + 8 + payload;
		struct pkt_info i4;
		CHECK(pkt_classify(nf, nn, &i4) == PKT_UDP4);
		uint8_t *ip = nf + 14, *udp = ip + 20;
		CHECK(memcmp(nf, rw.dst_mac, 6) == 0 && memcmp(nf + 6, rw.src_mac, 6) == 0);
		CHECK_EQ_U(pkt_rd16(nf + 12), PKT_ETHERTYPE_IPV4);
		CHECK_EQ_U(ip[0], 0x45);
		CHECK_EQ_U(ip[1], tc);
		CHECK_EQ_U(pkt_rd16(ip + 2), 20 + 8 + payload);
		CHECK_EQ_U(pkt_rd16(ip + 4), 0);
		CHECK_EQ_U(pkt_rd16(ip + 6), 0x4000);             /* DF */
		CHECK_EQ_U(ip[8], hl - 1);
		CHECK_EQ_U(ip[9], PKT_IPPROTO_UDP);
		CHECK_EQ_U(pkt_csum_fold(pkt_csum_partial(ip, 20, 0)), 0xffff);
		CHECK(memcmp(ip + 12, &rw.src_ip, 4) == 0 && memcmp(ip + 16, &rw.dst_ip, 4) == 0);
		CHECK(memcmp(udp, &rw.src_port, 2) == 0 && memcmp(udp + 2, &rw.dst_port, 2) == 0);
		CHECK_EQ_U(pkt_rd16(udp + 6), ref_udp4(ip, udp));
		CHECK(udp == f + 54);
		CHECK(memcmp(udp + 8, orig + 54 + 8, payload) == 0);
	}
}

/* The 0xffff edge across families: a datagram whose translated checksum is zero, through
 * the incremental path (both ways) and the whole-datagram one (IPv4 without a checksum). */
static void test_ffff_xlate(void)
{
	static uint8_t buf[HEADROOM + 2048];
	uint8_t *f = buf + HEADROOM;
	struct pkt_info info;
	struct pkt_rewrite6 rw6;
	rw6_params(&rw6, 4);

	for (int ck0 = 0; ck0 <= 1; ck0++) {
		uint32_t n = build4(f, 5, 21, 64, 0, true, 9);
		uint8_t *udp = f + 34;
		uint8_t out_udp[64];
		memcpy(out_udp, udp, 29);
		memcpy(out_udp, &rw6.src_port, 2);
		memcpy(out_udp + 2, &rw6.dst_port, 2);
		out_udp[16] = out_udp[17] = udp[16] = udp[17] = 0;
		force_ffff(udp + 16, sum6_of(rw6.src_ip, rw6.dst_ip, out_udp));
		put16(udp + 6, ck0 ? 0 : ref_udp4(f + 14, udp));
		CHECK(pkt_classify(f, n, &info) == PKT_UDP4);
		uint8_t *nf = pkt_xlate_4to6(f, &info, &rw6);
		CHECK_EQ_U(pkt_rd16(nf + 60), 0xffff);
		CHECK_EQ_U(ref_udp6(nf + 22, nf + 38, nf + 54), 0xffff);
	}

	/* 6 -> 4 */
	static uint8_t g[2048];
	struct pkt_rewrite rw4 = { .src_ip = inet_addr("198.18.1.10"),
		.dst_ip = inet_addr("198.18.1.100"), .src_port = htons(10000), .dst_port = htons(40000) };
	uint32_t n = build6(g, 21, 64, 0, 9);
	uint8_t *udp = g + 54;
	uint8_t pseudo[12], out_udp[64];
	memcpy(pseudo, &rw4.src_ip, 4);
	memcpy(pseudo + 4, &rw4.dst_ip, 4);
	pseudo[8] = 0;
	pseudo[9] = PKT_IPPROTO_UDP;
	put16(pseudo + 10, 29);
	memcpy(out_udp, udp, 29);
	memcpy(out_udp, &rw4.src_port, 2);
	memcpy(out_udp + 2, &rw4.dst_port, 2);
	out_udp[6] = out_udp[7] = out_udp[16] = out_udp[17] = udp[16] = udp[17] = 0;
	force_ffff(udp + 16, pkt_csum_partial(out_udp, 29, pkt_csum_partial(pseudo, 12, 0)));
	put16(udp + 6, ref_udp6(g + 22, g + 38, udp));
	CHECK(pkt_classify(g, n, &info) == PKT_UDP6);
	uint8_t *nf = pkt_xlate_6to4(g, &info, &rw4);
	CHECK_EQ_U(pkt_rd16(nf + 34 + 6), 0xffff);
	CHECK_EQ_U(ref_udp4(nf + 14, nf + 34), 0xffff);
}

/* pkt_sum_words against the byte-wise reference, every length and alignment. */
static void test_sum_words(void)
{
	uint8_t b[300];
	for (unsigned i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 151 + 77);
	memset(b + 100, 0xff, 40);
	for (unsigned len = 0; len < 200; len++) {
		uint16_t ref = pkt_csum_fold(pkt_csum_partial(b, len, 0));
		uint16_t fast = ntohs(pkt_csum_fold64(pkt_sum_words(b, len)));
		if (ref == 0xffff || ref == 0)
			CHECK(fast == 0xffff || fast == 0);
		else
			CHECK_EQ_U(fast, ref);
	}
	/* every carry at once: all ones, a jumbo-sized run, at odd offsets */
	static uint8_t ones[9000];
	memset(ones, 0xff, sizeof(ones));
	ones[4001] = 0x12;
	for (unsigned off = 0; off < 4; off++) {
		uint32_t len = sizeof(ones) - off - 1;
		uint16_t ref = pkt_csum_fold(pkt_csum_partial(ones + off, len, 0));
		uint16_t fast = ntohs(pkt_csum_fold64(pkt_sum_words(ones + off, len)));
		CHECK_EQ_U(fast, ref);
	}
}

int main(void)
{
	test_classify6();
	test_rewrite6();
	test_ffff_6to6();
	test_4to6();
	test_6to4();
	test_ffff_xlate();
	test_sum_words();
	return check_summary("pkt6");
}
