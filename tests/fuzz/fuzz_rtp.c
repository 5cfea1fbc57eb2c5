/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for lib/rtp.c. Each input is used three ways:
 *  - as a packet for rtp_valid and rtcp_valid, each compared with a plain reference written
 *    from the RFC's words in 64-bit arithmetic (so an overflow in the fast code would differ);
 *  - as a stream of 10-byte records (seq, ts, arrival) after the first byte, for rtp_track.
 *    Invariants: expected and received never go down; expected grows by at most MAX_DROPOUT a
 *    packet, received by at most 2 and never beyond the packets fed; lost <= expected and
 *    lost = max(0, expected - received); with a constant transit the jitter is 0.
 * The first byte's low bit starts the stream as if 2^32 - 2^16 sequence numbers had gone by, so
 * the fuzzer reaches the carry of `cycles` too.
 * Build and run: tests/fuzz/run.sh rtp
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtp.h"

#define FUZZ_ASSERT(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/* RFC 3550 5.1 / A.1's packet checks, as the words go. */
static bool ref_rtp_valid(const uint8_t *p, uint64_t len)
{
	uint64_t header;

	if (len < 12 || p[0] >> 6 != 2)
		return false;
	header = 12 + 4 * (uint64_t)(p[0] & 15);
	if (p[0] & 0x10) {
		if (header + 4 > len)
			return false;
		header += 4 + 4 * be(p + header + 2, 2);
	}
	if (header > len)
		return false;
	if (p[0] & 0x20)
		return p[len - 1] >= 1 && header + p[len - 1] <= len;
	return true;
}

/* RFC 3550 6.4.1 / A.2: a compound packet, each part v2 with PT 192..223, lengths adding up. */
static bool ref_rtcp_valid(const uint8_t *p, uint64_t len)
{
	uint64_t off = 0, plen;
	int parts = 0;

	while (len - off >= 4) {
		if (p[off] >> 6 != 2 || p[off + 1] < 192 || p[off + 1] > 223)
			return false;
		plen = 4 * (be(p + off + 2, 2) + 1);
		if (off + plen > len)
			return false;
		if ((p[off] & 0x20) &&
		    (off + plen != len || p[len - 1] == 0 || p[len - 1] > plen - 4))
			return false;
		off += plen;
		parts++;
	}
	return parts > 0 && off == len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtp_state st, flat;
	uint64_t e, r, prev_e = 0, prev_r = 0;
	uint32_t transit;
	size_t i;

	if (size > (1u << 20))
		return 0;
	FUZZ_ASSERT(rtp_valid(data, (uint32_t)size) == ref_rtp_valid(data, size));
	FUZZ_ASSERT(rtcp_valid(data, (uint32_t)size) == ref_rtcp_valid(data, size));
	if (size < 1)
		return 0;

	memset(&st, 0, sizeof(st));
	memset(&flat, 0, sizeof(flat));
	transit = (uint32_t)be(data, 1) * 0x01010101u;
	for (i = 1; i + 10 <= size; i += 10) {
		uint16_t seq = (uint16_t)be(data + i, 2);
		uint32_t ts = (uint32_t)be(data + i + 2, 4);
		uint32_t arrival = (uint32_t)be(data + i + 6, 4);

		rtp_track(&st, seq, ts, arrival);
		/* the same sequence numbers with a constant transit: no jitter whatever happens */
		rtp_track(&flat, seq, ts, ts + transit);
		if (i == 1 && (data[0] & 1)) {
			st.cycles = UINT32_MAX - 0xffff;
			flat.cycles = st.cycles;
		}
		e = rtp_expected(&st);
		r = st.received + st.received_prior_runs;
		FUZZ_ASSERT(e >= prev_e && (i == 1 || e - prev_e <= 3000));
		FUZZ_ASSERT(r >= prev_r && r - prev_r <= 2);
		FUZZ_ASSERT(rtp_lost(&st) <= e);
		FUZZ_ASSERT(rtp_lost(&st) == (e > r ? e - r : 0));
		FUZZ_ASSERT(r <= (i - 1) / 10 + 1);   /* a restart's 2 follow an ignored one */
		FUZZ_ASSERT(rtp_jitter(&st) >= 0 && rtp_jitter(&st) <= UINT32_MAX / 16.0);
		FUZZ_ASSERT(flat.jitter == 0);
		FUZZ_ASSERT(rtp_expected(&flat) == e && rtp_lost(&flat) == rtp_lost(&st));
		prev_e = e;
		prev_r = r;
	}
	return 0;
}
