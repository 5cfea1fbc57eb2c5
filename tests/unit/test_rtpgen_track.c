/* rtpgen's pure parts: the latency histogram, the per-stream sequence window and the test
 * patterns the loopback test relies on for its exact figures. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "hist.h"
#include "pattern.h"
#include "seqwin.h"

static void test_hist_buckets(void)
{
	unsigned bad = 0;

	/* buckets tile the whole range without gaps or overlaps */
	CHECK_EQ_U(hist_bucket_low(0), 0);
	for (unsigned i = 0; i + 1 < HIST_BUCKETS; i++)
		if (hist_bucket_high(i) + 1 != hist_bucket_low(i + 1))
			bad++;
	CHECK_EQ_U(bad, 0);
	CHECK_EQ_U(hist_bucket_high(HIST_BUCKETS - 1), UINT64_MAX);
	/* every value falls into the bucket whose bounds hold it; width <= 1/32 of the value */
	bad = 0;
	for (uint64_t v = 0; v < 200000; v++) {
		unsigned i = hist_index(v);
		uint64_t width = hist_bucket_high(i) - hist_bucket_low(i);
		if (hist_bucket_low(i) > v || hist_bucket_high(i) < v ||
				(v >= HIST_SUB && width * 32 > v))
			bad++;
	}
	for (unsigned s = 0; s < 64; s++) {
		uint64_t v = UINT64_C(1) << s;
		for (uint64_t w = v - 1; w <= v + 1 && w >= v - 1; w++) {
			unsigned i = hist_index(w);
			if (i >= HIST_BUCKETS || hist_bucket_low(i) > w || hist_bucket_high(i) < w)
				bad++;
		}
	}
	CHECK_EQ_U(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
	CHECK_EQ_U(bad, 0);
}

static void test_hist_quantiles(void)
{
	static struct hist h;

	hist_reset(&h);
	CHECK_EQ_U(hist_quantile(&h, 0.5), 0);
	hist_add(&h, 1234);
	CHECK_EQ_U(hist_quantile(&h, 0.5), 1234);      /* capped by the maximum */
	CHECK_EQ_U(hist_quantile(&h, 0.999), 1234);

	hist_reset(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		hist_add(&h, v);
	uint64_t p50 = hist_quantile(&h, 0.5), p99 = hist_quantile(&h, 0.99);
	uint64_t p999 = hist_quantile(&h, 0.999);
	CHECK(p50 >= 50000 && p50 <= 50000 + 50000 / 32);
	CHECK(p99 >= 99000 && p99 <= 99000 + 99000 / 32);
	CHECK(p999 >= 99900 && p999 <= 100000);
	CHECK(p50 <= p99 && p99 <= p999 && p999 <= h.max);
	CHECK_EQ_U(h.min, 1);
	CHECK_EQ_U(h.max, 100000);
	CHECK_EQ_U(h.count, 100000);

	/* one outlier in a thousand: p99.9 is the 999th value, only the maximum shows it */
	hist_reset(&h);
	for (unsigned i = 0; i < 999; i++)
		hist_add(&h, 100);
	hist_add(&h, 1000000);
	/* a percentile is its bucket's upper bound: 100 shares a 2-wide bucket with 101 */
	CHECK_EQ_U(hist_quantile(&h, 0.99), 101);
	CHECK_EQ_U(hist_quantile(&h, 0.999), 101);
	CHECK_EQ_U(hist_quantile(&h, 1.0), 1000000);
}

static void test_seqwin(void)
{
	struct seqwin w;

	seqwin_reset(&w, 0);
	for (uint32_t s = 0; s < 10; s++)
		CHECK(seqwin_add(&w, s) == SEQ_NEW);
	CHECK_EQ_U(w.unique, 10);
	CHECK_EQ_U(seqwin_lost(&w, 10), 0);
	/* 10 and 11 lost in transit, 12 arrives, then 11 late: one reordered, one lost */
	CHECK(seqwin_add(&w, 12) == SEQ_NEW);
	CHECK(seqwin_add(&w, 11) == SEQ_LATE);
	CHECK_EQ_U(seqwin_lost(&w, 13), 1);
	CHECK(seqwin_add(&w, 11) == SEQ_DUP);
	CHECK(seqwin_add(&w, 12) == SEQ_DUP);
	CHECK(seqwin_add(&w, 3) == SEQ_DUP);
	CHECK_EQ_U(w.unique, 12);
	/* 100 ahead: the window restarts; something 70 back is beyond it */
	CHECK(seqwin_add(&w, 112) == SEQ_NEW);
	CHECK(seqwin_add(&w, 42) == SEQ_LATE_FAR);
	CHECK(seqwin_add(&w, 49) == SEQ_LATE);          /* 63 below 112: still in the window */
	CHECK(seqwin_add(&w, 49) == SEQ_DUP);
	CHECK(seqwin_add(&w, 48) == SEQ_LATE_FAR);      /* 64 below */
	CHECK_EQ_U(seqwin_lost(&w, 113), 113 - 16);
	/* unique beyond expected (far duplicates): never a negative loss */
	CHECK_EQ_U(seqwin_lost(&w, 10), 0);

	/* a rebase: what came before counts as seen; the 32-bit wrap is seamless */
	seqwin_reset(&w, UINT32_MAX - 2);
	CHECK(seqwin_add(&w, UINT32_MAX - 3) == SEQ_DUP);
	CHECK(seqwin_add(&w, UINT32_MAX - 1) == SEQ_NEW);
	CHECK(seqwin_add(&w, 1) == SEQ_NEW);            /* UINT32_MAX and 0 missing */
	CHECK(seqwin_add(&w, UINT32_MAX) == SEQ_LATE);
	CHECK(seqwin_add(&w, 0) == SEQ_LATE);
	CHECK(seqwin_add(&w, UINT32_MAX - 2) == SEQ_LATE);
	CHECK_EQ_U(w.unique, 5);                        /* MAX-2 .. 1 */
	CHECK_EQ_U(seqwin_lost(&w, 5), 0);
}

/* Send n packets of a pattern through a window: what the receiver counts. */
static void run_pattern(enum gen_pattern p, uint32_t k, uint64_t n, uint64_t *lost,
		uint64_t *late, uint64_t *dup)
{
	struct seqwin w;

	seqwin_reset(&w, 0);
	*late = *dup = 0;
	for (uint64_t i = 0; i < n; i++) {
		enum seq_outcome o = seqwin_add(&w, (uint32_t)pat_seq(p, k, i));
		*late += o == SEQ_LATE || o == SEQ_LATE_FAR;
		*dup += o == SEQ_DUP;
	}
	*lost = seqwin_lost(&w, (uint32_t)pat_expected(p, k, n));
}

static void test_patterns(void)
{
	uint64_t lost, late, dup;

	run_pattern(PAT_NONE, 0, 1000, &lost, &late, &dup);
	CHECK(lost == 0 && late == 0 && dup == 0);
	/* skip 10: 100 sent use 111 numbers, 11 of them never sent */
	CHECK_EQ_U(pat_seq(PAT_SKIP, 10, 99), 110);
	run_pattern(PAT_SKIP, 10, 100, &lost, &late, &dup);
	CHECK(lost == 11 && late == 0 && dup == 0);
	run_pattern(PAT_SKIP, 2, 7, &lost, &late, &dup);
	CHECK(lost == 6 && late == 0 && dup == 0);       /* 0 2 4 6 8 10 12 */
	/* dup 10: blocks of 11 packets over 10 numbers */
	run_pattern(PAT_DUP, 10, 100, &lost, &late, &dup);
	CHECK(lost == 0 && late == 0 && dup == 9);
	run_pattern(PAT_DUP, 1, 10, &lost, &late, &dup);
	CHECK(lost == 0 && late == 0 && dup == 5);
	/* swap 10: one reordered per full block */
	run_pattern(PAT_SWAP, 10, 100, &lost, &late, &dup);
	CHECK(lost == 0 && late == 10 && dup == 0);
	run_pattern(PAT_SWAP, 2, 10, &lost, &late, &dup);
	CHECK(lost == 0 && late == 5 && dup == 0);
	/* a swap block cut after its first half: the missing packet is lost */
	run_pattern(PAT_SWAP, 10, 99, &lost, &late, &dup);
	CHECK(lost == 1 && late == 9 && dup == 0);
}

int main(void)
{
	test_hist_buckets();
	test_hist_quantiles();
	test_seqwin();
	test_patterns();
	return check_summary("rtpgen_track");
}
