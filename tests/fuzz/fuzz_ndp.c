/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for lib/ndp.c's parser, which reads what any neighbour on the link sends.
 * Each input is an Ethernet frame for ndp_parse. Invariants when it is accepted: an NS or NA
 * with a unicast target; the frame's length covers the IPv6 payload length; the ICMPv6
 * checksum is right by a reference sum written here; an NS from :: carries no address option.
 * And what we build from the parsed fields is accepted again with the same fields (our NS from
 * the message's source for its target; an unsolicited NA of its target).
 * Build and run: tests/fuzz/run.sh ndp
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndp.h"

#define FUZZ_ASSERT(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

/* The ICMPv6 checksum over the pseudo-header and the message, 64-bit sum, RFC 8200 8.1. */
static bool ref_csum_ok(const uint8_t *ip, uint32_t plen)
{
	uint64_t s = 0;
	for (int i = 8; i < 40; i += 2)
		s += (uint64_t)(ip[i] << 8 | ip[i + 1]);
	s += plen + 58;
	const uint8_t *m = ip + 40;
	for (uint32_t i = 0; i < plen; i += 2)
		s += (uint64_t)(m[i] << 8 | (i + 1 < plen ? m[i + 1] : 0));
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ndp_msg m, again;
	static const uint8_t zero[16];
	if (size > 65535 || ndp_parse(data, (uint32_t)size, &m) != 0)
		return 0;
	FUZZ_ASSERT(m.type == NDP_TYPE_NS || m.type == NDP_TYPE_NA);
	FUZZ_ASSERT(m.target[0] != 0xff);
	FUZZ_ASSERT(size >= 14 + 40 + 24);
	const uint8_t *ip = data + 14;
	uint32_t plen = (uint32_t)(ip[4] << 8 | ip[5]);
	FUZZ_ASSERT(plen >= 24 && 14 + 40 + plen <= size);
	FUZZ_ASSERT(ip[7] == 255 && ip[6] == 58);
	FUZZ_ASSERT(ref_csum_ok(ip, plen));
	FUZZ_ASSERT(memcmp(m.src, ip + 8, 16) == 0 && memcmp(m.dst, ip + 24, 16) == 0);
	if (m.type == NDP_TYPE_NS && memcmp(m.src, zero, 16) == 0)
		FUZZ_ASSERT(!m.has_lladdr);

	uint8_t f[NDP_FRAME_LEN];
	const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	unsigned n = ndp_build_ns(f, mac, m.src, m.target, NULL);
	FUZZ_ASSERT(ndp_parse(f, n, &again) == 0);
	FUZZ_ASSERT(again.type == NDP_TYPE_NS && memcmp(again.target, m.target, 16) == 0 &&
			memcmp(again.src, m.src, 16) == 0);
	FUZZ_ASSERT(again.has_lladdr == (memcmp(m.src, zero, 16) != 0));
	n = ndp_build_unsolicited_na(f, mac, m.target);
	FUZZ_ASSERT(ndp_parse(f, n, &again) == 0);
	FUZZ_ASSERT(again.type == NDP_TYPE_NA && again.flags == NDP_NA_OVERRIDE &&
			again.has_lladdr && memcmp(again.lladdr, mac, 6) == 0 &&
			memcmp(again.target, m.target, 16) == 0);
	return 0;
}
