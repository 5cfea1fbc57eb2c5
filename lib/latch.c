#include "latch.h"

/* What the rules need of the latch, its RTP flow's and the packet, for either family. */
struct latch_facts {
	bool empty;                     /* nothing latched yet */
	bool has_ssrc;                  /* the latch's SSRC is known */
	uint32_t ssrc;
	bool rtp_latched;               /* an RTCP flow whose RTP flow has latched */
	bool rtp_same_ip;               /* ... from the packet's source address */
	bool rtp_has_ssrc;
	uint32_t rtp_ssrc;
};

/* May a packet from a source that is not what the latch holds take it? */
static bool may_take(const struct latch_facts *l, uint16_t flags, bool has_ssrc, uint32_t ssrc)
{
	if (flags & FLOW_F_LATCH_ANY)
		return true;
	if (flags & FLOW_F_LATCH_FIRST)
		return l->empty && (!l->rtp_latched || l->rtp_same_ip);
	/* SSRC: RTCP follows the SSRC of the RTP latch */
	if (l->rtp_latched && l->rtp_has_ssrc)
		return has_ssrc && ssrc == l->rtp_ssrc;
	if (l->empty)
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
	struct latch_facts lf = { .empty = l->ip == 0, .has_ssrc = l->has_ssrc, .ssrc = l->ssrc,
		.rtp_latched = rtp != NULL && rtp->ip != 0 };
	if (lf.rtp_latched) {
		lf.rtp_same_ip = rtp->ip == src->ip;
		lf.rtp_has_ssrc = rtp->has_ssrc;
		lf.rtp_ssrc = rtp->ssrc;
	}
	if (may_take(&lf, flags, has_ssrc, ssrc)) {
		v.has_ssrc = has_ssrc;
		v.ssrc = has_ssrc ? ssrc : 0;
		flow_latch_write(l, &v);
		return true;
	}
	return l->ip != 0 && l->ip == src->ip && l->port == src->port;
}

static bool same_ip6(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 16) == 0;
}

bool latch_update6(struct flow_latch6 *l, uint16_t flags, const struct flow_latch6 *rtp,
		const struct flow_latch6 *src, bool has_ssrc, uint32_t ssrc)
{
	struct flow_latch6 v = *src;
	bool empty = flow_dir_any6(l->ip);

	if (!empty && latch6_same(l, src)) {
		if (has_ssrc && !l->has_ssrc) {
			v.has_ssrc = 1;
			v.ssrc = ssrc;
			flow_latch6_write(l, &v);
		}
		return true;
	}
	struct latch_facts lf = { .empty = empty, .has_ssrc = l->has_ssrc, .ssrc = l->ssrc,
		.rtp_latched = rtp != NULL && !flow_dir_any6(rtp->ip) };
	if (lf.rtp_latched) {
		lf.rtp_same_ip = same_ip6(rtp->ip, src->ip);
		lf.rtp_has_ssrc = rtp->has_ssrc;
		lf.rtp_ssrc = rtp->ssrc;
	}
	if (may_take(&lf, flags, has_ssrc, ssrc)) {
		v.has_ssrc = has_ssrc;
		v.ssrc = has_ssrc ? ssrc : 0;
		flow_latch6_write(l, &v);
		return true;
	}
	return !empty && same_ip6(l->ip, src->ip) && l->port == src->port;
}
