/*
 * The state store's records (proto/state.proto) <-> the session manager's terms: a session's
 * definition as StoredSession bytes, its counters as StoredCounters bytes, and both back to
 * what sess_restore takes. Plain functions: no Redis, no threads.
 */
#ifndef RTPPROXY_STATE_CODEC_H
#define RTPPROXY_STATE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "rp_dp.h"
#include "sess.h"

#define STATE_RECORD_VERSION 1

struct Rtpproxy__State__StoredSession;

/* A stored session, decoded: sess_restore(m, &rec.params, &rec.restore, &err) re-creates it. */
struct state_rec {
	struct sess_params params;      /* id and labels point into this record */
	struct sess_restore restore;    /* error, base and latches point into this record */
	char error[256];
	struct sess_base base;
	bool has_counters;              /* base holds a checkpoint */
	int64_t checkpoint_ms;          /* its time (unix ms), 0 = none */
	struct dp_latch_state latch, latch_rtcp;       /* addr 0 = none */
	/* owned */
	struct Rtpproxy__State__StoredSession *msg;
	struct sess_label *labels;
};

/* Session s as StoredSession bytes (malloc'd; *len). latch/latch_rtcp: the client's sources
 * (NULL or addr 0 = none). NULL when out of memory. */
uint8_t *state_encode_def(const struct session *s, const struct dp_latch_state *latch,
		const struct dp_latch_state *latch_rtcp, size_t *len);
/* Counters as StoredCounters bytes (malloc'd; *len), taken at now_ms. */
uint8_t *state_encode_ctr(int64_t now_ms, const struct sess_stats *rtp,
		const struct sess_stats *rev, const struct sess_stats *rtcp, size_t *len);

/*
 * Decode a stored session (def, and its counters when ctr != NULL) into *out. 0, or -1 and err
 * naming what is wrong (the record is then unusable, out needs no freeing).
 */
int state_decode(const uint8_t *def, size_t def_len, const uint8_t *ctr, size_t ctr_len,
		struct state_rec *out, char *err, size_t errlen);
void state_rec_free(struct state_rec *r);

#endif
