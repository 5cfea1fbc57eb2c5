/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: pkt_classify on any frame, and pkt_rewrite_udp4 on a copy of each PKT_UDP4
 * one. Invariants: the offsets of a PKT_UDP4 frame lie inside it (and inside the IPv4 total
 * length), the rewrite writes what it was told and nothing else, the IPv4 header checksum stays
 * valid, and a valid UDP checksum stays valid (a zero one, "none", stays zero).
 * IPv6 (pkt6.h): a PKT_UDP6 frame's offsets lie inside it, its checksum verifies; its 6 -> 6
 * rewrite and 6 -> 4 translation, and the 4 -> 6 translation of a PKT_UDP4 frame, give frames
 * that classify again as their family with the payload untouched and a valid checksum (4 -> 6:
 * when the IPv4 one was valid or absent).
 * Build and run: tests/fuzz/run.sh pkt
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

#define FUZZ_ASSERT(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Whether the UDP checksum (with pseudo-header) over the UDP length verifies. */
static int udp_csum_ok(const uint8_t *ip, const uint8_t *udp)
{
	uint16_t ulen = rd16(udp + 4);
	uint8_t pseudo[12];

	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = PKT_IPPROTO_UDP;
	memcpy(pseudo + 10, udp + 4, 2);
	return pkt_csum_fold(pkt_csum_partial(udp, ulen, pkt_csum_partial(pseudo, 12, 0))) ==
		0xffff;
}

/* The rewrite's parameters, from a hash of the input: varied, and reproducible from it. */
static void rewrite_from(const uint8_t *data, size_t size, struct pkt_rewrite *rw)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t b[32];
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ull;
	for (i = 0; i < sizeof(b); i++) {
		h ^= h >> 29;
		h *= 0xbf58476d1ce4e5b9ull;
		b[i] = (uint8_t)(h >> 56);
	}
	/* some edge values too: all-zero and all-one words move checksums the most */
	if ((b[31] & 3) == 0)
		memset(b, 0, 12);
	else if ((b[31] & 3) == 1)
		memset(b, 0xff, 12);
	memcpy(&rw->src_ip, b, 4);
	memcpy(&rw->dst_ip, b + 4, 4);
	memcpy(&rw->src_port, b + 8, 2);
	memcpy(&rw->dst_port, b + 10, 2);
	memcpy(rw->src_mac, b + 12, 6);
	memcpy(rw->dst_mac, b + 18, 6);
}

/* The IPv6 addresses of a rewrite, from the IPv4 one's bytes and the input's hash. */
static void rewrite6_from(const uint8_t *data, size_t size, struct pkt_rewrite6 *rw6)
{
	struct pkt_rewrite rw;

	rewrite_from(data, size, &rw);
	for (int i = 0; i < 4; i++) {
		memcpy(rw6->src_ip + 4 * i, &rw.src_ip, 4);
		memcpy(rw6->dst_ip + 4 * i, &rw.dst_ip, 4);
		rw6->src_ip[4 * i] ^= (uint8_t)i;
		rw6->dst_ip[4 * i + 1] ^= (uint8_t)(i * 3);
	}
	rw6->src_port = rw.src_port;
	rw6->dst_port = rw.dst_port;
	memcpy(rw6->src_mac, rw.src_mac, 6);
	memcpy(rw6->dst_mac, rw.dst_mac, 6);
}

/* A PKT_UDP6 frame: where its headers are; 6 -> 6 and 6 -> 4 on copies. */
static void check_udp6(const uint8_t *data, size_t size, const struct pkt_info *info)
{
	const uint8_t *ip = data + info->l3_off, *udp = data + info->l4_off;
	struct pkt_rewrite6 rw6;
	struct pkt_rewrite rw;
	struct pkt_info again;
	uint16_t ulen = rd16(udp + 4);
	uint8_t *f, *nf;

	FUZZ_ASSERT(info->l3_off == PKT_ETHER_HLEN && info->l4_off == info->l3_off + 40);
	FUZZ_ASSERT(ip[0] >> 4 == 6 && ip[6] == PKT_IPPROTO_UDP);
	FUZZ_ASSERT((size_t)info->l3_off + info->ip_len <= size);
	FUZZ_ASSERT(info->ip_len == 40 + rd16(ip + 4) && ulen == info->udp_payload + 8);
	FUZZ_ASSERT((size_t)info->l4_off + ulen <= (size_t)info->l3_off + info->ip_len);
	if (ip[7] <= 1)
		return;

	f = malloc(size);
	FUZZ_ASSERT(f != NULL);
	memcpy(f, data, size);
	rewrite6_from(data, size, &rw6);
	pkt_rewrite_udp6(f, info, &rw6);
	FUZZ_ASSERT(memcmp(f, rw6.dst_mac, 6) == 0 && memcmp(f + 6, rw6.src_mac, 6) == 0);
	FUZZ_ASSERT(memcmp(f + 22, rw6.src_ip, 16) == 0 && memcmp(f + 38, rw6.dst_ip, 16) == 0);
	FUZZ_ASSERT(f[21] == ip[7] - 1);
	FUZZ_ASSERT(pkt_classify(f, (uint32_t)size, &again) == PKT_UDP6);
	FUZZ_ASSERT(memcmp(f + 62, data + 62, ulen - 8) == 0);

	memcpy(f, data, size);
	rewrite_from(data, size, &rw);
	nf = pkt_xlate_6to4(f, info, &rw);
	FUZZ_ASSERT(nf == f + 20);
	FUZZ_ASSERT(pkt_classify(nf, PKT_XLATE4_HDRS + ulen, &again) == PKT_UDP4);
	FUZZ_ASSERT(again.udp_payload == info->udp_payload && nf[22] == ip[7] - 1);
	FUZZ_ASSERT(udp_csum_ok(nf + 14, nf + 34));
	FUZZ_ASSERT(memcmp(nf + 42, data + 62, ulen - 8) == 0);
	free(f);
}

/* A PKT_UDP4 frame translated 4 -> 6 (in a copy with room in front). */
static void check_4to6(const uint8_t *data, size_t size, const struct pkt_info *info, int udp_ok)
{
	const uint8_t *ip = data + info->l3_off, *udp = data + info->l4_off;
	struct pkt_rewrite6 rw6;
	struct pkt_info again;
	uint16_t ulen = rd16(udp + 4), ck = rd16(udp + 6);
	uint8_t *buf = malloc(size + 64), *nf;

	FUZZ_ASSERT(buf != NULL);
	memcpy(buf + 64, data, size);
	rewrite6_from(data, size, &rw6);
	nf = pkt_xlate_4to6(buf + 64, info, &rw6);
	FUZZ_ASSERT(nf == buf + 64 + info->l4_off - PKT_XLATE6_HDRS);
	/* valid out when valid (or none) in; a wrong one stays wrong */
	FUZZ_ASSERT((pkt_classify(nf, PKT_XLATE6_HDRS + ulen, &again) == PKT_UDP6) ==
		    (ck == 0 || udp_ok));
	FUZZ_ASSERT(nf[14 + 7] == ip[8] - 1 && nf[14 + 6] == PKT_IPPROTO_UDP);
	FUZZ_ASSERT(memcmp(nf + 22, rw6.src_ip, 16) == 0 && memcmp(nf + 38, rw6.dst_ip, 16) == 0);
	FUZZ_ASSERT(memcmp(nf + 62, udp + 8, ulen - 8) == 0);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_info info;
	struct pkt_rewrite rw;
	const uint8_t *ip, *udp;
	uint8_t *f, *fip, *fudp;
	uint32_t ihl;
	uint16_t old_ck;
	int udp_ok;
	size_t i;

	if (size > 0xffff + PKT_ETHER_HLEN + 64)
		return 0;
	memset(&info, 0xa5, sizeof(info));
	enum pkt_class c = pkt_classify(data, (uint32_t)size, &info);
	if (c == PKT_UDP6)
		check_udp6(data, size, &info);
	if (c != PKT_UDP4)
		return 0;

	/* where the headers are */
	FUZZ_ASSERT(info.l3_off == PKT_ETHER_HLEN);
	FUZZ_ASSERT(info.l4_off >= info.l3_off + 20 && info.l4_off <= info.l3_off + 60);
	FUZZ_ASSERT((size_t)info.l3_off + info.ip_len <= size);
	FUZZ_ASSERT((size_t)info.l4_off + 8 + info.udp_payload <= size);
	FUZZ_ASSERT((size_t)info.l4_off + 8 + info.udp_payload <=
		    (size_t)info.l3_off + info.ip_len);
	ip = data + info.l3_off;
	udp = data + info.l4_off;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	FUZZ_ASSERT(ip[0] >> 4 == 4 && info.l4_off == info.l3_off + ihl);
	FUZZ_ASSERT(rd16(ip + 2) == info.ip_len && rd16(udp + 4) == info.udp_payload + 8);
	FUZZ_ASSERT(ip[9] == PKT_IPPROTO_UDP && (rd16(ip + 6) & 0x3fff) == 0);
	FUZZ_ASSERT(pkt_csum_fold(pkt_csum_partial(ip, ihl, 0)) == 0xffff);

	/* the worker rewrites only when TTL > 1 */
	if (ip[8] <= 1)
		return 0;
	f = malloc(size);
	FUZZ_ASSERT(f != NULL);
	memcpy(f, data, size);
	fip = f + info.l3_off;
	fudp = f + info.l4_off;
	rewrite_from(data, size, &rw);
	memcpy(&old_ck, udp + 6, 2);
	udp_ok = old_ck != 0 && udp_csum_ok(ip, udp);
	check_4to6(data, size, &info, udp_ok);
	pkt_rewrite_udp4(f, &info, &rw);

	/* what it was told */
	FUZZ_ASSERT(memcmp(f, rw.dst_mac, 6) == 0 && memcmp(f + 6, rw.src_mac, 6) == 0);
	FUZZ_ASSERT(memcmp(fip + 12, &rw.src_ip, 4) == 0 && memcmp(fip + 16, &rw.dst_ip, 4) == 0);
	FUZZ_ASSERT(memcmp(fudp, &rw.src_port, 2) == 0 && memcmp(fudp + 2, &rw.dst_port, 2) == 0);
	FUZZ_ASSERT(fip[8] == ip[8] - 1);
	/* checksums */
	FUZZ_ASSERT(pkt_csum_fold(pkt_csum_partial(fip, ihl, 0)) == 0xffff);
	if (old_ck == 0)
		FUZZ_ASSERT(fudp[6] == 0 && fudp[7] == 0);
	else
		FUZZ_ASSERT(fudp[6] != 0 || fudp[7] != 0);
	if (udp_ok)
		FUZZ_ASSERT(udp_csum_ok(fip, fudp));
	/* and nothing else */
	for (i = 12; i < size; i++) {
		size_t o = i - info.l3_off, u = i - info.l4_off;

		if (i >= info.l3_off && (o == 8 || o == 10 || o == 11 || (o >= 12 && o < 20)))
			continue;
		if (i >= info.l4_off && (u < 4 || u == 6 || u == 7))
			continue;
		FUZZ_ASSERT(f[i] == data[i]);
	}
	free(f);
	return 0;
}
