#include "latch.h"

/* May a packet from src, which is not what the latch holds, take it? */
static bool may_take(const struct flow_latch *l, uint16_t flags, const struct flow_latch *rtp,
		const struct flow_latch *src, bool has_ssrc, uint32_t ssrc)
{
	bool empty = l->ip == 0;
	bool rtp_latched = rtp != NULL && rtp->ip != 0;

	if (flags & FLOW_F_LATCH_ANY)
		return true;
	if (flags & FLOW_F_LATCH_FIRST)
		return empty && (!rtp_latched || rtp->ip == src->ip);
	/* SSRC: RTCP follows the SSRC of the RTP latch */
	if (rtp_latched && rtp->has_ssrc)
		return has_ssrc && ssrc == rtp->ssrc;
	if (empty)
		return true;
	return has_ssrc && l->has_ssrc && ssrc == l->ssrc;
}

bool latch_update(struct flow_latch *l, uint16_t flags, const struct flow_latch *rtp,
		const struct flow_latch *src, bool has_ssrc, uint32_t ssrc)
{
	struct flow_latch v = *src;

	if (l->ip != 0 && latch_same(l, src)) {
		/* the latched source itself, whose SSRC was not known yet */
		if (has_ssrc && !l->has_ssrc) {
			v.has_ssrc = 1;
			v.ssrc = ssrc;
			flow_latch_write(l, &v);
		}
		return true;
	}
	if (may_take(l, flags, rtp, src, has_ssrc, ssrc)) {
		v.has_ssrc = has_ssrc;
		v.ssrc = has_ssrc ? ssrc : 0;
		flow_latch_write(l, &v);
		return true;
	}
	return l->ip != 0 && l->ip == src->ip && l->port == src->port;
}
