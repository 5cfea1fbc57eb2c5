/*
 * A UDP session's flows: its spec for the data plane (rp_dp.h), the data plane's refusals as
 * session errors, and its counters, RTP figures and latch as the API shows them.
 */
#include <string.h>
#include <arpa/inet.h>

#include "rp_dp.h"
#include "sess_int.h"

static void spec_of(const struct session *s, struct dp_sess_spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->listen_addr = s->listen.addr;
	sp->listen_port = s->listen.port;
	sp->forward_addr = s->forward.addr;
	sp->forward_port = s->forward.port;
	sp->dest_addr = s->dest.addr;
	sp->dest_port = s->dest.port;
	sp->rtcp = s->rtcp;
	sp->bidirectional = s->bidir;
	sp->validate_rtp = s->validate_rtp;
	sp->latch_mode = s->latch_mode == SESS_LATCH_FIRST ? DP_LATCH_FIRST :
		s->latch_mode == SESS_LATCH_ANY ? DP_LATCH_ANY : DP_LATCH_SSRC;
	sp->strict_source = s->strict_source;
	sp->rate_pps = s->rate_pps;
	sp->rate_bps = s->rate_bps;
	sp->tag = (uint32_t)s->serial;
}

enum sess_err sess_udp_install(struct sess_mgr *m, struct session *s, struct sess_error *err)
{
	struct dp_sess_spec sp;
	spec_of(s, &sp);
	int ret = dp_sess_install(m->dp, &sp, &s->flows, err->message, sizeof(err->message));
	switch (ret) {
	case 0:
		return SESS_OK;
	case DP_SESS_NO_ROUTE:
	case DP_SESS_NOT_OURS:
		return err->code = SESS_INVALID;
	case DP_SESS_IN_USE:
		return err->code = SESS_EXISTS;
	default:
		return err->code = SESS_EXHAUSTED;
	}
}

static double tsc_to_ms(const struct sess_mgr *m, double cycles)
{
	return cycles * 1000.0 / (double)m->hz;
}

/* Add flow f's counters into st (RTCP sums both directions). */
static void add_flow(const struct sess_mgr *m, const struct dp_flow_read *f, struct sess_stats *st)
{
	if (!f->present)
		return;
	st->pkts_rx += f->pkts_rx;
	st->pkts_tx += f->pkts_tx;
	st->bytes_rx += f->bytes_rx;
	st->bytes_tx += f->bytes_tx;
	st->dropped += f->dropped;
	int64_t last = sess_tsc_to_unix_ms(m, f->last_tsc);
	if (last > st->last_activity_ms)
		st->last_activity_ms = last;
	if (f->lat_n > 0) {
		st->avg_latency_ms = tsc_to_ms(m, (double)f->lat_sum / (double)f->lat_n);
		st->max_latency_ms = tsc_to_ms(m, (double)f->lat_max);
	}
	if (f->has_rtp) {
		st->lost = f->lost;
		uint64_t denom = st->pkts_rx + st->lost;
		st->loss_rate = denom ? (double)st->lost / (double)denom : 0.0;
		st->jitter_ms = f->jitter_s * 1000.0;
	}
}

static void to_stats(const struct sess_mgr *m, const struct dp_sess_read *r,
		struct sess_stats *rtp, struct sess_stats *rev, struct sess_stats *rtcp)
{
	memset(rtp, 0, sizeof(*rtp));
	memset(rev, 0, sizeof(*rev));
	memset(rtcp, 0, sizeof(*rtcp));
	add_flow(m, &r->flow[DP_FLOW_RTP], rtp);
	add_flow(m, &r->flow[DP_FLOW_REV_RTP], rev);
	add_flow(m, &r->flow[DP_FLOW_RTCP], rtcp);
	add_flow(m, &r->flow[DP_FLOW_REV_RTCP], rtcp);
	/* latency and jitter of the RTCP sum would mix two directions: not reported */
	rtcp->avg_latency_ms = rtcp->max_latency_ms = rtcp->jitter_ms = 0;
}

void sess_udp_read(const struct sess_mgr *m, const struct session *s, struct sess_stats *rtp,
		struct sess_stats *rev, struct sess_stats *rtcp)
{
	struct dp_sess_read r;
	dp_sess_read(m->dp, s->flows, &r);
	to_stats(m, &r, rtp, rev, rtcp);
}

bool sess_udp_latched(const struct sess_mgr *m, const struct session *s, struct sess_ep *out)
{
	struct dp_sess_status st;
	dp_sess_status(m->dp, s->flows, &st);
	if (!st.latch.latched)
		return false;
	out->addr = st.latch.addr;
	out->port = st.latch.port;
	return true;
}

void sess_udp_uninstall(struct sess_mgr *m, struct session *s)
{
	struct dp_sess_read r;
	if (s->flows == NULL)
		return;
	dp_sess_remove(m->dp, s->flows, &r);
	s->flows = NULL;
	struct sess_end *e = sess_end_of(s);
	if (e == NULL)
		return;
	to_stats(m, &r, &e->final, &e->final_rev, &e->final_rtcp);
	memset(&e->latched, 0, sizeof(e->latched));
	if (r.latch.latched)
		e->latched = (struct sess_ep){ .addr = r.latch.addr, .port = r.latch.port };
}

static void log_new_source(struct session *s, const struct dp_latch_read *l)
{
	if (!l->latched || l->gen == s->latch_gen_seen)
		return;
	s->latch_gen_seen = l->gen;
	char a[DP_ADDR_STRLEN];
	sess_fmt_ip(&l->addr, a);
	LOG(INFO, "%s: client source %s:%u", s->id, a, l->port);
}

void sess_udp_tick(struct sess_mgr *m, struct session *s, int64_t now_ms)
{
	struct dp_sess_status st;
	if (s->flows == NULL)
		return;
	dp_sess_status(m->dp, s->flows, &st);
	if (s->state == SESS_CONNECTING && st.last_tsc != 0)
		sess_set_state(m, s, SESS_ACTIVE);
	if (st.latch.latched && st.latch.gen != s->latch_gen_seen && m->obs.latch_moved != NULL)
		m->obs.latch_moved(m->obs.ctx, s);
	log_new_source(s, &st.latch);
	/* a destination that never answered ARP: nothing of this session can leave */
	if (s->state == SESS_CONNECTING && st.next_hop_failed) {
		char a[DP_ADDR_STRLEN];
		sess_fmt_ip(&st.next_hop, a);
		sess_fail_session(m, s, "destination_endpoint: next hop %s does not answer ARP", a);
		return;
	}
	int64_t active_ms = sess_idle_since(s, st.last_tsc ? sess_tsc_to_unix_ms(m, st.last_tsc) :
			s->created_ms);
	if (now_ms - active_ms >= (int64_t)s->idle_timeout_secs * 1000)
		sess_close(m, s, "idle_timeout");
}
