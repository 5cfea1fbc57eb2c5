/* SPDX-License-Identifier: MIT */
/*
 * RTP/RTCP header checks and the receiver statistics of RFC 3550 appendix A: sequence tracking
 * (A.1, without probation), expected/lost (A.3) and interarrival jitter (A.8), in integers.
 */
#include "rtp.h"

#define RTP_SEQ_MOD (1u << 16)
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define RTP_BAD_SEQ_NONE (RTP_SEQ_MOD + 1)  /* matches no 16-bit sequence number */
#define RTP_CYCLES_LAST (UINT32_MAX - (RTP_SEQ_MOD - 1))  /* the last cycle a uint32 holds */

#define RTP_VERSION(b0) ((b0) >> 6)
#define RTP_F_PADDING 0x20
#define RTP_F_EXTENSION 0x10

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

static inline uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/* All sums below are in uint32_t and bounded by 12 + 60 + 4 + 4 * 65535: no overflow. */
bool rtp_valid(const uint8_t *p, uint32_t len)
{
	uint32_t hdr, pad;

	if (len < RTP_HDR_LEN || RTP_VERSION(p[0]) != 2)
		return false;
	hdr = RTP_HDR_LEN + 4 * (uint32_t)(p[0] & 0x0f);
	if (hdr > len)
		return false;
	if (p[0] & RTP_F_EXTENSION) {
		if (len - hdr < 4)
			return false;
		hdr += 4 + 4 * rd16(p + hdr + 2);
		if (hdr > len)
			return false;
	}
	if (p[0] & RTP_F_PADDING) {
		/* the count includes itself, so 0 is impossible; the padding follows the header */
		pad = p[len - 1];
		if (pad == 0 || pad > len - hdr)
			return false;
	}
	return true;
}

bool rtcp_valid(const uint8_t *p, uint32_t len)
{
	uint32_t off = 0, plen, pad;

	if (len == 0)
		return false;
	while (off < len) {
		const uint8_t *h = p + off;

		if (len - off < 4 || RTP_VERSION(h[0]) != 2 || h[1] < 192 || h[1] > 223)
			return false;
		plen = (rd16(h + 2) + 1) * 4;
		if (plen > len - off)
			return false;
		off += plen;
		if (h[0] & RTP_F_PADDING) {
			/* RFC 3550 6.4.1: only the last packet of a compound packet is padded, and
			 * its padding (count included) lies after its own 4-byte header */
			pad = p[len - 1];
			if (off != len || pad == 0 || pad > plen - 4)
				return false;
		}
	}
	return true;
}

/* Expected packets of the current run (A.3): extended highest minus base, plus one. */
static inline uint64_t run_expected(const struct rtp_state *st)
{
	return (uint64_t)st->cycles + st->max_seq - st->base_seq + 1;
}

/* Start a run at seq; prev = whether seq - 1 (the packet that announced a restart) counts too. */
static void run_start(struct rtp_state *st, uint16_t seq, bool prev)
{
	st->max_seq = seq;
	st->bad_seq = RTP_BAD_SEQ_NONE;
	if (prev) {
		/* base = seq - 1 in the cycle before when seq is 0, so the run expects two */
		st->base_seq = (uint16_t)(seq - 1);
		st->cycles = seq == 0 ? RTP_SEQ_MOD : 0;
		st->received = 2;
	} else {
		st->base_seq = seq;
		st->cycles = 0;
		st->received = 1;
	}
}

/* Carry the current run, which expected `expected` packets, into the prior-run totals. */
static void run_close(struct rtp_state *st, uint64_t expected)
{
	st->expected_prior_runs += expected;
	st->received_prior_runs += st->received;
}

/* A.1's update_seq without probation. Returns false for a packet the counts ignore. */
static inline bool seq_update(struct rtp_state *st, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - st->max_seq);

	if (likely(udelta < MAX_DROPOUT)) {
		/* in order, with a permissible gap */
		if (unlikely(seq < st->max_seq)) {
			if (unlikely(st->cycles >= RTP_CYCLES_LAST)) {
				/* 2^32 sequence numbers in one run: carry the run into the prior
				 * totals (up to the end of this cycle) and go on from seq 0 */
				run_close(st, (uint64_t)st->cycles + RTP_SEQ_MOD - st->base_seq);
				st->cycles = 0;
				st->base_seq = 0;
				st->received = 0;
			} else {
				st->cycles += RTP_SEQ_MOD;
			}
		}
		st->max_seq = seq;
	} else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
		/* a very large jump: a restart if the next sequence number follows it */
		if (seq != st->bad_seq) {
			st->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
			return false;
		}
		run_close(st, run_expected(st));
		run_start(st, seq, true);
		/* the new run's timestamps have a new origin: no transit to compare with */
		st->have_transit = 0;
		return true;
	}
	/* else a duplicate or a reordered packet: counted, max_seq stays (A.1) */
	st->received++;
	return true;
}

/* A.8 in integers: J is kept scaled by 16, J += |D| - J/16 (rounded). */
static inline void jitter_update(struct rtp_state *st, uint32_t ts, uint32_t arrival)
{
	uint32_t transit = arrival - ts;   /* relative transit, modulo 2^32 */
	uint32_t d = transit - (uint32_t)st->transit;
	uint64_t j;

	st->transit = (int32_t)transit;
	if (unlikely(!st->have_transit)) {
		st->have_transit = 1;
		return;
	}
	if (d & 0x80000000u)
		d = -d;                    /* |D| of the signed difference, no overflow */
	j = (uint64_t)st->jitter + d - ((st->jitter + 8ull) >> 4);
	/* only garbage timestamps get here; saturate rather than wrap to a small value */
	st->jitter = likely(j <= UINT32_MAX) ? (uint32_t)j : UINT32_MAX;
}

void rtp_track(struct rtp_state *st, uint16_t seq, uint32_t ts, uint32_t arrival)
{
	if (unlikely(!st->started)) {
		st->started = 1;
		run_start(st, seq, false);
		jitter_update(st, ts, arrival);
		return;
	}
	if (seq_update(st, seq))
		jitter_update(st, ts, arrival);
}

uint64_t rtp_expected(const struct rtp_state *st)
{
	return st->expected_prior_runs + (st->started ? run_expected(st) : 0);
}

uint64_t rtp_lost(const struct rtp_state *st)
{
	uint64_t expected = rtp_expected(st);
	uint64_t received = st->received_prior_runs + st->received;

	return expected > received ? expected - received : 0;
}

double rtp_jitter(const struct rtp_state *st)
{
	return st->jitter / 16.0;
}
