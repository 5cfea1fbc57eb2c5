/*
 * Neighbour discovery messages (lib/ndp.c): the NS and unsolicited NA we build, byte by byte
 * with checksums computed here from scratch; the NAs (and NSs) we accept and those we refuse
 * (RFC 4861 7.1's checks; tests/fuzz/fuzz_ndp.c drives the parser with arbitrary frames).
 */
#include <string.h>
#include <arpa/inet.h>

#include "check.h"
#include "ndp.h"

static const uint8_t our_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x0a };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0xc8 };

static void ip6(const char *text, uint8_t out[16])
{
	if (inet_pton(AF_INET6, text, out) != 1) {
		fprintf(stderr, "bad test address %s\n", text);
		CHECK(0);
	}
}

/* The ICMPv6 checksum as RFC 8200 8.1 defines it, summed here in 32 bits word by word. */
static uint16_t scratch_csum(const uint8_t *ip, const uint8_t *msg, uint32_t len)
{
	uint32_t s = 0;
	for (int i = 8; i < 40; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	s += len >> 16;
	s += len & 0xffff;
	s += 58;
	for (uint32_t i = 0; i < len; i += 2)
		if (i != 2)     /* the checksum field itself counts as 0 */
			s += (uint32_t)(msg[i] << 8 | (i + 1 < len ? msg[i + 1] : 0));
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void test_solicited_node(void)
{
	uint8_t a[16], g[16], want[16], mac[6];
	ip6("2001:db8::12:3456:789a", a);
	ndp_solicited_node(a, g, mac);
	ip6("ff02::1:ff56:789a", want);
	CHECK(memcmp(g, want, 16) == 0);
	const uint8_t want_mac[6] = { 0x33, 0x33, 0xff, 0x56, 0x78, 0x9a };
	CHECK(memcmp(mac, want_mac, 6) == 0);
}

static void test_build_ns(void)
{
	uint8_t f[NDP_FRAME_LEN + 8], src[16], target[16], group[16];
	ip6("2001:db8:1::10", src);
	ip6("2001:db8:1::abcd:ef01", target);
	ip6("ff02::1:ffcd:ef01", group);
	memset(f, 0xee, sizeof(f));
	CHECK_EQ_U(ndp_build_ns(f, our_mac, src, target, NULL), 86);
	const uint8_t mc[6] = { 0x33, 0x33, 0xff, 0xcd, 0xef, 0x01 };
	CHECK(memcmp(f, mc, 6) == 0);
	CHECK(memcmp(f + 6, our_mac, 6) == 0);
	CHECK_EQ_U(rd16(f + 12), 0x86dd);
	const uint8_t *ip = f + 14, *nd = ip + 40;
	CHECK_EQ_U(ip[0], 0x60);
	CHECK_EQ_U(ip[1] | ip[2] | ip[3], 0);
	CHECK_EQ_U(rd16(ip + 4), 32);
	CHECK_EQ_U(ip[6], 58);
	CHECK_EQ_U(ip[7], 255);
	CHECK(memcmp(ip + 8, src, 16) == 0);
	CHECK(memcmp(ip + 24, group, 16) == 0);
	CHECK_EQ_U(nd[0], 135);
	CHECK_EQ_U(nd[1], 0);
	CHECK_EQ_U(nd[4] | nd[5] | nd[6] | nd[7], 0);
	CHECK(memcmp(nd + 8, target, 16) == 0);
	CHECK_EQ_U(nd[24], 1);          /* source link-layer address, 8 bytes */
	CHECK_EQ_U(nd[25], 1);
	CHECK(memcmp(nd + 26, our_mac, 6) == 0);
	CHECK_EQ_U(rd16(nd + 2), scratch_csum(ip, nd, 32));
	CHECK_EQ_U(f[86], 0xee);        /* nothing written beyond the frame */

	/* it is a valid NS by our own parser too */
	struct ndp_msg m;
	CHECK_EQ_U(ndp_parse(f, 86, &m), 0);
	CHECK_EQ_U(m.type, NDP_TYPE_NS);
	CHECK(memcmp(m.target, target, 16) == 0);
	CHECK(m.has_lladdr && memcmp(m.lladdr, our_mac, 6) == 0);

	/* unicast (re-confirming a known neighbour): to the target itself at its MAC */
	CHECK_EQ_U(ndp_build_ns(f, our_mac, src, target, peer_mac), 86);
	CHECK(memcmp(f, peer_mac, 6) == 0);
	CHECK(memcmp(ip + 24, target, 16) == 0);
	CHECK_EQ_U(rd16(nd + 2), scratch_csum(ip, nd, 32));
}

/* From :: (a standby's probe): no source address option, the message 24 bytes. */
static void test_build_ns_unspecified(void)
{
	uint8_t f[NDP_FRAME_LEN + 8], src[16] = { 0 }, target[16], group[16];
	ip6("2001:db8:1::abcd:ef01", target);
	ip6("ff02::1:ffcd:ef01", group);
	memset(f, 0xee, sizeof(f));
	CHECK_EQ_U(ndp_build_ns(f, our_mac, src, target, NULL), 78);
	const uint8_t *ip = f + 14, *nd = ip + 40;
	CHECK_EQ_U(rd16(ip + 4), 24);
	CHECK(memcmp(ip + 8, src, 16) == 0);
	CHECK(memcmp(ip + 24, group, 16) == 0);
	CHECK_EQ_U(nd[0], 135);
	CHECK(memcmp(nd + 8, target, 16) == 0);
	CHECK_EQ_U(rd16(nd + 2), scratch_csum(ip, nd, 24));
	CHECK_EQ_U(f[78], 0xee);
	struct ndp_msg m;
	CHECK_EQ_U(ndp_parse(f, 78, &m), 0);
	CHECK(!m.has_lladdr);
}

static void test_build_unsolicited_na(void)
{
	uint8_t f[NDP_FRAME_LEN], addr[16], all[16];
	ip6("2001:db8:2::10", addr);
	ip6("ff02::1", all);
	CHECK_EQ_U(ndp_build_unsolicited_na(f, our_mac, addr), 86);
	const uint8_t mc[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	CHECK(memcmp(f, mc, 6) == 0);
	CHECK(memcmp(f + 6, our_mac, 6) == 0);
	const uint8_t *ip = f + 14, *nd = ip + 40;
	CHECK_EQ_U(ip[7], 255);
	CHECK(memcmp(ip + 8, addr, 16) == 0);
	CHECK(memcmp(ip + 24, all, 16) == 0);
	CHECK_EQ_U(nd[0], 136);
	CHECK_EQ_U(nd[4], 0x20);        /* override; not solicited, not a router */
	CHECK(memcmp(nd + 8, addr, 16) == 0);
	CHECK_EQ_U(nd[24], 2);          /* target link-layer address */
	CHECK_EQ_U(nd[25], 1);
	CHECK(memcmp(nd + 26, our_mac, 6) == 0);
	CHECK_EQ_U(rd16(nd + 2), scratch_csum(ip, nd, 32));

	struct ndp_msg m;
	CHECK_EQ_U(ndp_parse(f, 86, &m), 0);
	CHECK_EQ_U(m.type, NDP_TYPE_NA);
	CHECK_EQ_U(m.flags, NDP_NA_OVERRIDE);
	CHECK(m.has_lladdr && memcmp(m.lladdr, our_mac, 6) == 0);
}

/* An NA as a peer sends it, built here field by field; opt_len 0: no option. Returns the
 * frame's length. */
static uint32_t peer_na(uint8_t *f, const char *src, const char *dst, const char *target,
		uint8_t flags, unsigned opt_units)
{
	memset(f, 0, 256);
	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	uint8_t *ip = f + 14, *nd = ip + 40;
	uint32_t len = 24 + opt_units * 8;
	ip[0] = 0x60;
	ip[4] = (uint8_t)(len >> 8);
	ip[5] = (uint8_t)len;
	ip[6] = 58;
	ip[7] = 255;
	ip6(src, ip + 8);
	ip6(dst, ip + 24);
	nd[0] = 136;
	nd[4] = flags;
	ip6(target, nd + 8);
	if (opt_units > 0) {
		nd[24] = 2;
		nd[25] = (uint8_t)opt_units;
		memcpy(nd + 26, peer_mac, 6);
	}
	uint16_t ck = scratch_csum(ip, nd, len);
	nd[2] = (uint8_t)(ck >> 8);
	nd[3] = (uint8_t)ck;
	return 14 + 40 + len;
}

static void resum(uint8_t *f)
{
	uint8_t *ip = f + 14, *nd = ip + 40;
	uint16_t ck = scratch_csum(ip, nd, rd16(ip + 4));
	nd[2] = (uint8_t)(ck >> 8);
	nd[3] = (uint8_t)ck;
}

static void test_parse_na(void)
{
	uint8_t f[256], want[16];
	struct ndp_msg m;
	uint32_t n = peer_na(f, "2001:db8:2::c8", "2001:db8:2::10", "2001:db8:2::c8",
			NDP_NA_SOLICITED | NDP_NA_OVERRIDE, 1);
	CHECK_EQ_U(n, 86);
	CHECK_EQ_U(ndp_parse(f, n, &m), 0);
	CHECK_EQ_U(m.type, NDP_TYPE_NA);
	CHECK_EQ_U(m.flags, NDP_NA_SOLICITED | NDP_NA_OVERRIDE);
	ip6("2001:db8:2::c8", want);
	CHECK(memcmp(m.target, want, 16) == 0);
	CHECK(memcmp(m.src, want, 16) == 0);
	ip6("2001:db8:2::10", want);
	CHECK(memcmp(m.dst, want, 16) == 0);
	CHECK(m.has_lladdr);
	CHECK(memcmp(m.lladdr, peer_mac, 6) == 0);
	/* Ethernet padding after the packet is fine */
	CHECK_EQ_U(ndp_parse(f, n + 10, &m), 0);

	/* no option: valid, no address learnt from it (a router flag kept) */
	n = peer_na(f, "2001:db8:2::c8", "2001:db8:2::10", "2001:db8:2::c8",
			NDP_NA_SOLICITED | NDP_NA_ROUTER, 0);
	CHECK_EQ_U(ndp_parse(f, n, &m), 0);
	CHECK(!m.has_lladdr);
	CHECK_EQ_U(m.flags, NDP_NA_SOLICITED | NDP_NA_ROUTER);

	/* a longer option of the same kind is not an Ethernet address: skipped */
	n = peer_na(f, "2001:db8:2::c8", "2001:db8:2::10", "2001:db8:2::c8", 0, 2);
	CHECK_EQ_U(ndp_parse(f, n, &m), 0);
	CHECK(!m.has_lladdr);

	/* unsolicited, to all nodes: fine */
	n = peer_na(f, "2001:db8:2::c8", "ff02::1", "2001:db8:2::c8", NDP_NA_OVERRIDE, 1);
	CHECK_EQ_U(ndp_parse(f, n, &m), 0);
}

static void test_parse_refuses(void)
{
	uint8_t f[256];
	struct ndp_msg m;
	const char *p = "2001:db8:2::c8", *us = "2001:db8:2::10";
	uint32_t n = peer_na(f, p, us, p, NDP_NA_SOLICITED, 1);

	/* truncated: Ethernet, IPv6, the message; payload length beyond the frame */
	CHECK(ndp_parse(f, 13, &m) == -1);
	CHECK(ndp_parse(f, 14 + 39, &m) == -1);
	CHECK(ndp_parse(f, 14 + 40 + 23, &m) == -1);
	CHECK(ndp_parse(f, n - 1, &m) == -1);
	/* the checksum */
	f[n - 1] ^= 1;
	CHECK(ndp_parse(f, n, &m) == -1);
	f[n - 1] ^= 1;
	CHECK_EQ_U(ndp_parse(f, n, &m), 0);
	/* hop limit below 255: from off the link */
	f[14 + 7] = 254;
	CHECK(ndp_parse(f, n, &m) == -1);
	f[14 + 7] = 255;
	/* ICMPv6 code not 0 */
	f[54 + 1] = 1;
	resum(f);
	CHECK(ndp_parse(f, n, &m) == -1);
	/* another ICMPv6 type (echo request) */
	n = peer_na(f, p, us, p, 0, 1);
	f[54] = 128;
	resum(f);
	CHECK(ndp_parse(f, n, &m) == -1);
	/* not ICMPv6 right after the header (hop-by-hop options first) */
	n = peer_na(f, p, us, p, 0, 1);
	f[14 + 6] = 0;
	CHECK(ndp_parse(f, n, &m) == -1);
	/* not IPv6 */
	n = peer_na(f, p, us, p, 0, 1);
	f[12] = 0x08;
	f[13] = 0x00;
	CHECK(ndp_parse(f, n, &m) == -1);
	n = peer_na(f, p, us, p, 0, 1);
	f[14] = 0x40;
	CHECK(ndp_parse(f, n, &m) == -1);
	/* a multicast target */
	n = peer_na(f, p, us, "ff02::1", 0, 1);
	CHECK(ndp_parse(f, n, &m) == -1);
	/* from a multicast address */
	n = peer_na(f, "ff02::1", us, p, 0, 1);
	CHECK(ndp_parse(f, n, &m) == -1);
	/* solicited, yet to a multicast address */
	n = peer_na(f, p, "ff02::1", p, NDP_NA_SOLICITED, 1);
	CHECK(ndp_parse(f, n, &m) == -1);
	/* an option of length 0 (would loop forever), or beyond the message */
	n = peer_na(f, p, us, p, 0, 1);
	f[54 + 25] = 0;
	resum(f);
	CHECK(ndp_parse(f, n, &m) == -1);
	n = peer_na(f, p, us, p, 0, 1);
	f[54 + 25] = 2;
	resum(f);
	CHECK(ndp_parse(f, n, &m) == -1);
	/* an NS from :: (duplicate address detection) with a source address option */
	uint8_t src[16], target[16];
	ip6("2001:db8:2::77", target);
	memset(src, 0, 16);
	n = ndp_build_ns(f, peer_mac, src, target, NULL);
	f[14 + 5] = 32;
	f[54 + 24] = 1;
	f[54 + 25] = 1;
	memcpy(f + 54 + 26, peer_mac, 6);
	resum(f);
	CHECK(ndp_parse(f, 86, &m) == -1);
}

static void test_is_ns_na(void)
{
	uint8_t f[256], src[16], t[16];
	ip6("2001:db8:2::1", src);
	ip6("2001:db8:2::2", t);
	unsigned n = ndp_build_ns(f, our_mac, src, t, NULL);
	CHECK(ndp_is_ns_na(f, n));
	CHECK(!ndp_is_ns_na(f, 54));                    /* too short for the ICMPv6 type */
	f[54] = 128;                                    /* echo request */
	CHECK(!ndp_is_ns_na(f, n));
	f[54] = 133;                                    /* router solicitation: the kernel's */
	CHECK(!ndp_is_ns_na(f, n));
	n = ndp_build_unsolicited_na(f, our_mac, t);
	CHECK(ndp_is_ns_na(f, n));
	f[20] = 0;                                      /* hop-by-hop options first */
	CHECK(!ndp_is_ns_na(f, n));
	f[20] = 58;
	f[12] = 0x08;                                   /* not IPv6 */
	f[13] = 0x00;
	CHECK(!ndp_is_ns_na(f, n));
}

int main(void)
{
	test_solicited_node();
	test_build_ns();
	test_build_ns_unspecified();
	test_build_unsolicited_na();
	test_parse_na();
	test_parse_refuses();
	test_is_ns_na();
	return check_summary("ndp");
}
