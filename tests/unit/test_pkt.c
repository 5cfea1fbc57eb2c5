/* Packet classification and rewrite, checked against checksums computed from scratch. */
#include <string.h>
#include <arpa/inet.h>

#include "check.h"
#include "pkt.h"

/* Build Ethernet + IPv4 (ihl words) + UDP with `payload` bytes; valid checksums. */
static uint32_t build(uint8_t *f, unsigned ihl, unsigned payload, uint16_t frag)
{
	memset(f, 0, 2048);
	f[12] = 0x08; f[13] = 0x00;
	uint8_t *ip = f + 14;
	unsigned hl = ihl * 4;
	uint16_t tot = (uint16_t)(hl + 8 + payload);
	ip[0] = (uint8_t)(0x40 | ihl);
	ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
	ip[6] = (uint8_t)(frag >> 8); ip[7] = (uint8_t)frag;
	ip[8] = 64; ip[9] = 17;
	uint32_t src = inet_addr("198.18.1.2"), dst = inet_addr("198.18.1.1");
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	for (unsigned i = 20; i < hl; i++)
		ip[i] = 1;  /* NOP options */
	uint16_t ck = htons((uint16_t)~pkt_csum_fold(pkt_csum_partial(ip, hl, 0)));
	memcpy(ip + 10, &ck, 2);
	uint8_t *udp = ip + hl;
	udp[0] = 0x9c; udp[1] = 0x40;           /* 40000 */
	udp[2] = 0x4e; udp[3] = 0x20;           /* 20000 */
	udp[4] = (uint8_t)((8 + payload) >> 8); udp[5] = (uint8_t)(8 + payload);
	for (unsigned i = 0; i < payload; i++)
		udp[8 + i] = (uint8_t)(i * 7 + 3);
	return 14 + tot;
}

/* The UDP checksum from scratch over the pseudo-header. */
static uint16_t udp_csum(const uint8_t *ip, unsigned hl)
{
	const uint8_t *udp = ip + hl;
	unsigned ulen = (unsigned)(udp[4] << 8 | udp[5]);
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0; pseudo[9] = 17;
	pseudo[10] = (uint8_t)(ulen >> 8); pseudo[11] = (uint8_t)ulen;
	uint32_t s = pkt_csum_partial(pseudo, 12, 0);
	uint8_t tmp[2048];
	memcpy(tmp, udp, ulen);
	tmp[6] = tmp[7] = 0;
	s = pkt_csum_partial(tmp, ulen, s);
	uint16_t c = (uint16_t)~pkt_csum_fold(s);
	return c == 0 ? 0xffff : c;
}

static void set_udp_csum(uint8_t *f, unsigned hl)
{
	uint16_t c = htons(udp_csum(f + 14, hl));
	memcpy(f + 14 + hl + 6, &c, 2);
}

static void test_classify(void)
{
	uint8_t f[2048];
	struct pkt_info info;
	uint32_t n = build(f, 5, 160, 0);

	CHECK(pkt_classify(f, n, &info) == PKT_UDP4);
	CHECK_EQ_U(info.l3_off, 14);
	CHECK_EQ_U(info.l4_off, 34);
	CHECK_EQ_U(info.udp_payload, 160);
	/* Ethernet padding after the IP packet is fine */
	CHECK(pkt_classify(f, n + 20, &info) == PKT_UDP4);

	/* IP options: the UDP header moves */
	n = build(f, 7, 20, 0);
	CHECK(pkt_classify(f, n, &info) == PKT_UDP4);
	CHECK_EQ_U(info.l4_off, 14 + 28);

	/* truncated anywhere */
	n = build(f, 5, 20, 0);
	CHECK(pkt_classify(f, 10, &info) == PKT_MALFORMED);
	CHECK(pkt_classify(f, 14 + 19, &info) == PKT_MALFORMED);
	CHECK(pkt_classify(f, n - 1, &info) == PKT_MALFORMED);   /* total length > frame */

	/* bad IHL (< 5), bad version */
	n = build(f, 5, 20, 0);
	f[14] = 0x44;
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	n = build(f, 5, 20, 0);
	f[14] = 0x65;
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);

	/* header checksum */
	n = build(f, 5, 20, 0);
	f[14 + 10] ^= 0x01;
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);

	/* UDP length larger than the IP payload, or below 8 */
	n = build(f, 5, 20, 0);
	f[34 + 5] = 40;
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	n = build(f, 5, 20, 0);
	f[34 + 4] = 0; f[34 + 5] = 4;
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);

	/* fragments: first (MF) and later (offset) */
	n = build(f, 5, 20, 0x2000);
	CHECK(pkt_classify(f, n, &info) == PKT_FRAGMENT);
	n = build(f, 5, 20, 0x0010);
	CHECK(pkt_classify(f, n, &info) == PKT_FRAGMENT);
	/* DF alone is not a fragment */
	n = build(f, 5, 20, 0x4000);
	CHECK(pkt_classify(f, n, &info) == PKT_UDP4);

	/* not UDP, ARP, IPv6 */
	n = build(f, 5, 20, 0);
	f[14 + 9] = 6;
	uint8_t *ip = f + 14;
	ip[10] = ip[11] = 0;
	uint16_t ck = htons((uint16_t)~pkt_csum_fold(pkt_csum_partial(ip, 20, 0)));
	memcpy(ip + 10, &ck, 2);
	CHECK(pkt_classify(f, n, &info) == PKT_OTHER);
	f[12] = 0x08; f[13] = 0x06;
	CHECK(pkt_classify(f, 42, &info) == PKT_ARP);
	/* IPv6 is parsed (test_pkt6): an IPv4 header under its ethertype is malformed */
	f[12] = 0x86; f[13] = 0xdd;
	CHECK(pkt_classify(f, 60, &info) == PKT_MALFORMED);
}

static void test_rewrite(void)
{
	uint8_t f[2048];
	struct pkt_info info;
	struct pkt_rewrite rw = {
		.src_ip = inet_addr("198.18.2.1"), .dst_ip = inet_addr("198.18.2.2"),
		.src_port = htons(30000), .dst_port = htons(40000),
		.src_mac = { 2, 0, 0, 0, 0, 1 }, .dst_mac = { 2, 0, 0, 0, 0, 2 },
	};

	for (unsigned ihl = 5; ihl <= 6; ihl++) {
		for (unsigned payload = 0; payload <= 173; payload += 173) {
			uint32_t n = build(f, ihl, payload, 0);
			set_udp_csum(f, ihl * 4);
			uint8_t before[2048];
			memcpy(before, f, n);
			CHECK(pkt_classify(f, n, &info) == PKT_UDP4);
			pkt_rewrite_udp4(f, &info, &rw);

			uint8_t *ip = f + 14;
			CHECK(memcmp(f, rw.dst_mac, 6) == 0);
			CHECK(memcmp(f + 6, rw.src_mac, 6) == 0);
			CHECK(memcmp(ip + 12, &rw.src_ip, 4) == 0);
			CHECK(memcmp(ip + 16, &rw.dst_ip, 4) == 0);
			CHECK_EQ_U(ip[8], 63);
			/* the header checksum verifies from scratch */
			CHECK_EQ_U(pkt_csum_fold(pkt_csum_partial(ip, ihl * 4, 0)), 0xffff);
			uint8_t *udp = ip + ihl * 4;
			CHECK(memcmp(udp, &rw.src_port, 2) == 0);
			CHECK(memcmp(udp + 2, &rw.dst_port, 2) == 0);
			uint16_t got;
			memcpy(&got, udp + 6, 2);
			CHECK_EQ_U(ntohs(got), udp_csum(ip, ihl * 4));
			/* payload untouched */
			CHECK(memcmp(udp + 8, before + 14 + ihl * 4 + 8, payload) == 0);
		}
	}

	/* "no checksum" stays zero */
	uint32_t n = build(f, 5, 40, 0);
	CHECK(pkt_classify(f, n, &info) == PKT_UDP4);
	pkt_rewrite_udp4(f, &info, &rw);
	CHECK(f[34 + 6] == 0 && f[34 + 7] == 0);
}

/* RFC 1624's own example: HC' from HC when one word changes. */
static void test_incremental(void)
{
	CHECK_EQ_U(pkt_csum_replace2(0xdd2f, 0x5555, 0x3285), 0x0000);
	/* a replace that changes nothing changes nothing */
	CHECK_EQ_U(pkt_csum_replace4(0x1234, 0xdeadbeef, 0xdeadbeef), 0x1234);
}

/* The NIC's verdict on the IPv4 header checksum replaces the software sum, nothing else. */
static void test_classify_hw_checksum(void)
{
	uint8_t f[2048];
	struct pkt_info info;
	uint32_t n = build(f, 5, 160, 0);

	CHECK(pkt_classify_ck(f, n, &info, true) == PKT_UDP4);
	CHECK(pkt_classify_ck(f, n, &info, false) == PKT_UDP4);
	f[14 + 10] ^= 0x01;     /* a wrong header checksum: caught only in software */
	CHECK(pkt_classify(f, n, &info) == PKT_MALFORMED);
	CHECK(pkt_classify_ck(f, n, &info, false) == PKT_MALFORMED);
	CHECK(pkt_classify_ck(f, n, &info, true) == PKT_UDP4);
	CHECK_EQ_U(info.udp_payload, 160);
	/* a good checksum does not excuse a bad length */
	CHECK(pkt_classify_ck(f, 30, &info, true) == PKT_MALFORMED);
}

int main(void)
{
	test_classify();
	test_classify_hw_checksum();
	test_rewrite();
	test_incremental();
	return check_summary("test_pkt");
}
