/*
 * The receiver's per-stream sequence tracker: 16 bytes, no division, no branch on the common
 * in-order path but one. Sequence numbers are the 32-bit extended ones rtpgen writes into the
 * payload, so there is no 16-bit wrap to guess at.
 *
 * What each outcome means (and which counter it feeds):
 *  - SEQ_NEW:  a sequence number above every one seen so far (in order, or after a gap whose
 *              packets may still come): counted as received.
 *  - SEQ_LATE: below the highest seen, not seen before, within the window: "reordered".
 *  - SEQ_LATE_FAR: more than SEQWIN_BITS below the highest: "reordered" too, and also counted
 *              as "late"; it cannot be told from a duplicate, so it is taken as new.
 *  - SEQ_DUP:  a sequence number already received, within the window: "duplicated"; it does
 *              not count towards the distinct packets.
 * Lost (at the end) = sequence numbers the sender used - distinct sequence numbers received.
 */
#ifndef RTPGEN_SEQWIN_H
#define RTPGEN_SEQWIN_H

#include <stdint.h>

#define SEQWIN_BITS 64

struct seqwin {
	uint32_t next;          /* one past the highest sequence number received */
	uint32_t unique;        /* distinct sequence numbers received (mod 2^32) */
	uint64_t win;           /* bit k: sequence next - 1 - k was received */
};

enum seq_outcome { SEQ_NEW, SEQ_LATE, SEQ_LATE_FAR, SEQ_DUP };

/* Expect `base` first; everything below it counts as already received. */
static inline void seqwin_reset(struct seqwin *w, uint32_t base)
{
	w->next = base;
	w->unique = 0;
	w->win = ~UINT64_C(0);
}

static inline enum seq_outcome seqwin_add(struct seqwin *w, uint32_t seq)
{
	int32_t d = (int32_t)(seq - w->next);

	if (d >= 0) {
		uint32_t shift = (uint32_t)d + 1;
		w->win = shift >= SEQWIN_BITS ? 1 : (w->win << shift) | 1;
		w->next = seq + 1;
		w->unique++;
		return SEQ_NEW;
	}
	uint32_t k = (uint32_t)-(int64_t)d - 1;     /* how far below the highest */
	if (k >= SEQWIN_BITS) {
		w->unique++;
		return SEQ_LATE_FAR;
	}
	uint64_t bit = UINT64_C(1) << k;
	if (w->win & bit)
		return SEQ_DUP;
	w->win |= bit;
	w->unique++;
	return SEQ_LATE;
}

/* Lost out of `expected` sequence numbers (mod 2^32); never negative. */
static inline uint32_t seqwin_lost(const struct seqwin *w, uint32_t expected)
{
	int32_t d = (int32_t)(expected - w->unique);
	return d > 0 ? (uint32_t)d : 0;
}

#endif
