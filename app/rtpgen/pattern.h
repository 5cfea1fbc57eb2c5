/*
 * Which sequence number a stream's n-th packet carries. Normally n; the hidden --test-*
 * options make the sender behave like a lossy, duplicating or reordering network so that a
 * test can check the receiver's counters against exact numbers.
 *  - skip K: sequence numbers s with s % K == K - 1 are never sent (lost: one in K);
 *  - dup K:  in every block of K + 1 packets the last sequence number is sent twice;
 *  - swap K: in every block of K packets the last two are sent in swapped order.
 */
#ifndef RTPGEN_PATTERN_H
#define RTPGEN_PATTERN_H

#include <stdint.h>

/* Test patterns (hidden options): what a lossy, reordering or duplicating DUT would do. */
enum gen_pattern {
	PAT_NONE,
	PAT_SKIP,
	PAT_DUP,
	PAT_SWAP,
};

static inline uint64_t pat_seq(enum gen_pattern p, uint32_t k, uint64_t n)
{
	switch (p) {
	case PAT_SKIP:
		return n + n / (k - 1);
	case PAT_DUP: {
		uint64_t r = n % (k + 1);
		return n / (k + 1) * k + (r < k - 1 ? r : k - 1);
	}
	case PAT_SWAP: {
		uint64_t r = n % k;
		return r == k - 2 ? n + 1 : r == k - 1 ? n - 1 : n;
	}
	case PAT_NONE:
	default:
		return n;
	}
}

/* One past the highest sequence number among a stream's first n packets: the sequence numbers
 * the receiver should have seen (a displaced packet is at most one place away). */
static inline uint64_t pat_expected(enum gen_pattern p, uint32_t k, uint64_t n)
{
	if (n == 0)
		return 0;
	uint64_t a = pat_seq(p, k, n - 1);
	uint64_t b = n >= 2 ? pat_seq(p, k, n - 2) : 0;
	return (a > b ? a : b) + 1;
}

#endif
