/*
 * A log-linear histogram of 64-bit values (HDR-style): values below 2^HIST_SUB_BITS have a
 * bucket each; above, every power of two is split into 2^HIST_SUB_BITS equal buckets, so a
 * percentile is exact to 1/32 (3 %) of its value. Pure C, 15 KiB, no allocation.
 */
#ifndef RTPGEN_HIST_H
#define RTPGEN_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min, max;
	uint64_t bucket[HIST_BUCKETS];
};

static inline unsigned hist_index(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	/* v >> shift is in [HIST_SUB, 2 * HIST_SUB): its top bit is implied by the group */
	return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

void hist_reset(struct hist *h);
/* The smallest and largest value that falls into bucket i. */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_high(unsigned i);
/*
 * The value at quantile q (0 < q <= 1): the upper bound of the bucket holding the
 * ceil(q * count)-th smallest value, capped by the maximum (so it never exceeds max and
 * p50 <= p99 <= p999 <= max always holds). 0 when empty.
 */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
