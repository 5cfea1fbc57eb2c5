/*
 * Sessions back from the state store (control/state_*.c): the same id, ports, state and
 * created time as before the restart, counters continuing from the last checkpoint, the
 * client's latch preloaded. Nothing is counted as created and no observer hears of it (event
 * streams opened later see it in their snapshot). What no longer fits the config comes back
 * as ERROR with the reason, unless the caller would rather have it refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_hash.h>

#include "rp_dp.h"
#include "sess_int.h"

void sess_stats_add(struct sess_stats *now, const struct sess_stats *base)
{
	now->pkts_rx += base->pkts_rx;
	now->pkts_tx += base->pkts_tx;
	now->bytes_rx += base->bytes_rx;
	now->bytes_tx += base->bytes_tx;
	now->lost += base->lost;
	now->dropped += base->dropped;
	uint64_t denom = now->pkts_rx + now->lost;
	now->loss_rate = denom ? (double)now->lost / (double)denom : 0.0;
	/* figures of the packets since: the ones before, until there are some */
	if (now->avg_latency_ms == 0)
		now->avg_latency_ms = base->avg_latency_ms;
	if (now->max_latency_ms < base->max_latency_ms)
		now->max_latency_ms = base->max_latency_ms;
	if (now->jitter_ms == 0)
		now->jitter_ms = base->jitter_ms;
	if (now->last_activity_ms < base->last_activity_ms)
		now->last_activity_ms = base->last_activity_ms;
}

int64_t sess_idle_since(const struct session *s, int64_t last_ms)
{
	if (s->base != NULL && last_ms < s->base->restored_ms)
		return s->base->restored_ms;
	return last_ms;
}

/* Everything CreateSession would check and take, for a session with its ports known. */
static enum sess_err install(struct sess_mgr *m, struct session *s, struct sess_error *err)
{
	char a[DP_ADDR_STRLEN];
	if (!dp_addr_is_any(&s->listen.addr) && dp_port_of_addr(m->dp, &s->listen.addr) < 0) {
		sess_fmt_ip(&s->listen.addr, a);
		return sess_fail(err, SESS_INVALID, "listen_endpoint.address: %s is not an "
				"address of this appliance", a);
	}
	if (dp_port_of_addr(m->dp, &s->forward.addr) < 0) {
		sess_fmt_ip(&s->forward.addr, a);
		return sess_fail(err, SESS_INVALID, "forward_endpoint.address: %s is not an "
				"address of this appliance", a);
	}
	if (!allowed(m, &s->dest.addr)) {
		sess_fmt_ip(&s->dest.addr, a);
		return sess_fail(err, SESS_DENIED, "destination_endpoint.address: %s is outside "
				"allowed_destinations", a);
	}
	if (take_ports(m, s, s->rtcp ? 2 : 1, err) != SESS_OK)
		return err->code;
	s->ports_held = true;
	enum sess_err ret = s->transport == SESS_TCP ? sess_tcp_install(m, s, err) :
		sess_udp_install(m, s, err);
	if (ret != SESS_OK)
		release_ports(m, s);
	return ret;
}

static void preload_latch(struct sess_mgr *m, struct session *s, const struct sess_restore *r)
{
	if (s->flows == NULL)
		return;
	if (r->latch != NULL && !dp_addr_is_none(&r->latch->addr) &&
			dp_sess_set_latch(m->dp, s->flows, DP_FLOW_RTP, r->latch) != 0)
		LOG(WARNING, "%s: its client's latched source could not be restored", s->id);
	if (r->latch_rtcp != NULL && !dp_addr_is_none(&r->latch_rtcp->addr) && s->rtcp)
		dp_sess_set_latch(m->dp, s->flows, DP_FLOW_RTCP, r->latch_rtcp);
	/* the preloaded latch is not news: the client has not moved */
	struct dp_sess_status st;
	dp_sess_status(m->dp, s->flows, &st);
	s->latch_gen_seen = st.latch.gen;
}

struct session *sess_restore(struct sess_mgr *m, const struct sess_params *p,
		const struct sess_restore *r, struct sess_error *err)
{
	if (p->id == NULL || p->id[0] == '\0' || strlen(p->id) > SESS_ID_MAX) {
		sess_fail(err, SESS_INVALID, "session_id: a stored session needs its id");
		return NULL;
	}
	if (sess_find(m, p->id) != NULL) {
		sess_fail(err, SESS_EXISTS, "session_id: \"%s\" is already used", p->id);
		return NULL;
	}
	if (m->n_live >= m->cfg.max_sessions) {
		sess_fail(err, SESS_EXHAUSTED, "max_sessions (%u) reached", m->cfg.max_sessions);
		return NULL;
	}
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL || (r->base != NULL && (s->base = malloc(sizeof(*s->base))) == NULL)) {
		if (s != NULL)
			free_session(s);
		sess_fail(err, SESS_EXHAUSTED, "out of memory");
		return NULL;
	}
	snprintf(s->id, sizeof(s->id), "%s", p->id);
	s->transport = p->transport;
	s->listen = p->listen;
	s->forward = p->forward;
	s->dest = p->dest;
	s->rtcp = p->rtcp;
	s->bidir = p->bidir;
	s->validate_rtp = p->validate_rtp;
	s->latch_mode = p->latch_mode;
	s->strict_source = p->strict_source;
	s->rate_pps = p->rate_pps;
	s->rate_bps = p->rate_bps;
	s->idle_timeout_secs = p->idle_timeout_secs ? p->idle_timeout_secs :
		m->cfg.idle_timeout_secs;
	s->created_ms = r->created_ms;
	if (s->base != NULL) {
		*s->base = *r->base;
		s->base->restored_ms = sess_now_ms();
	}
	if (copy_labels(s, p) != 0) {
		free_session(s);
		sess_fail(err, SESS_EXHAUSTED, "out of memory");
		return NULL;
	}
	s->serial = m->next_serial++;   /* before install: the TCP relay names it by serial */

	struct sess_error why = { 0 };
	if (r->state == SESS_ERROR) {
		snprintf(why.message, sizeof(why.message), "%s", r->error ? r->error : "");
		why.code = SESS_INTERNAL;
	} else if (install(m, s, &why) != SESS_OK && r->refuse_conflicts) {
		*err = why;
		free_session(s);
		return NULL;
	}
	char key[SESS_ID_MAX];
	id_key(s->id, key);
	if (rte_hash_add_key_data(m->by_id, key, s) != 0 ||
			rte_hash_add_key_data(m->by_serial, &s->serial, s) != 0) {
		rte_hash_del_key(m->by_id, key);
		sess_tcp_uninstall(m, s);
		sess_udp_uninstall(m, s);
		release_ports(m, s);
		free_session(s);
		sess_fail(err, SESS_EXHAUSTED, "the session table is full");
		return NULL;
	}
	TAILQ_INSERT_TAIL(&m->all, s, link);
	m->n_live++;            /* ERROR sessions count as active until closed */
	if (why.code != SESS_OK) {
		struct sess_end *e = sess_end_of(s);
		if (e != NULL)
			snprintf(e->error, sizeof(e->error), "%.*s", (int)sizeof(e->error) - 1,
					why.message);
		s->closed_ms = sess_now_ms();
		s->state = SESS_ERROR;
		LOG(WARNING, "%s: restored as ERROR: %s", s->id, why.message);
		return s;
	}
	s->state = r->state == SESS_ACTIVE ? SESS_ACTIVE : SESS_CONNECTING;
	preload_latch(m, s, r);
	LOG(DEBUG, "%s: restored %s listen %u, forward %u", s->id,
			s->transport == SESS_TCP ? "tcp" : "udp", s->listen.port, s->forward.port);
	return s;
}
