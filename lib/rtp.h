/*
 * RTP/RTCP on the fast path: header validation, RFC 3550 A.1 sequence tracking (loss, with
 * wrap-around, reordering and duplicates), A.8 interarrival jitter. Pure C over bytes and
 * integers: no EAL, no division per packet, unit-tested against the RFC.
 */
#ifndef RTPPROXY_RTP_H
#define RTPPROXY_RTP_H

#include <stdbool.h>
#include <stdint.h>

#define RTP_HDR_LEN 12
#define RTP_CLOCK_DEFAULT 8000

/* Per-flow receiver state; one writer (the flow's worker). Zeroed = nothing seen yet. */
struct rtp_state {
	uint32_t cycles;        /* wraps of the sequence number, << 16 (A.1) */
	uint32_t base_seq;      /* first sequence number (of the current run, after a resync) */
	uint32_t bad_seq;       /* A.1: the sequence number after a big jump, to confirm a restart */
	uint16_t max_seq;       /* highest sequence number seen */
	uint8_t started;
	uint8_t have_transit;
	uint64_t received;      /* packets counted towards loss, duplicates included (A.3) */
	uint64_t expected_prior_runs; /* expected packets of runs before a resync */
	uint64_t received_prior_runs;
	int32_t transit;        /* last relative transit time, RTP clock units (A.8) */
	uint32_t jitter;        /* A.8 estimate, scaled by 16 */
};

/* Is this a plausible RTP packet: version 2, >= 12 bytes, CSRC list, extension header and
 * padding all inside len? */
bool rtp_valid(const uint8_t *p, uint32_t len);

/* Is this a plausible (compound) RTCP packet: version 2, packet type 192..223, and the length
 * field of every packet in it fits in len? */
bool rtcp_valid(const uint8_t *p, uint32_t len);

/* Fields of a packet rtp_valid accepted (or any >= 12 bytes). */
static inline uint16_t rtp_seq(const uint8_t *p) { return (uint16_t)(p[2] << 8 | p[3]); }
static inline uint32_t rtp_ts(const uint8_t *p)
{
	return (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
}
static inline uint8_t rtp_pt(const uint8_t *p) { return p[1] & 0x7f; }

/*
 * Account one packet with sequence number seq, RTP timestamp ts, arriving at `arrival` (in the
 * payload's RTP clock units, any origin). Updates loss counters (A.1, with MAX_DROPOUT 3000,
 * MAX_MISORDER 100, a restart confirmed by two sequential packets) and jitter (A.8).
 */
void rtp_track(struct rtp_state *st, uint16_t seq, uint32_t ts, uint32_t arrival);

/* Expected and lost packets so far (A.3); lost is never negative. */
uint64_t rtp_expected(const struct rtp_state *st);
uint64_t rtp_lost(const struct rtp_state *st);
/* Interarrival jitter in RTP clock units (A.8's J). */
double rtp_jitter(const struct rtp_state *st);

#endif
