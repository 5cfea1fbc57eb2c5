/*
 * A TCP session: its listener and connections live on the relay thread (tcp_relay.h); here
 * are the calls that install and remove it, its counters as the API shows them, and the
 * relay's events turned into session states.
 */
#include <errno.h>
#include <string.h>
#include <rte_common.h>
#include <rte_hash.h>

#include "rp_dp.h"
#include "sess_int.h"
#include "tcp_relay.h"

void sess_set_tcp_relay(struct sess_mgr *m, struct tcp_relay *r)
{
	m->tcp = r;
}

void sess_set_tcp_hook(struct sess_mgr *m, const struct sess_tcp_hook *h)
{
	m->tcp_hook = *h;
}

enum sess_err sess_tcp_install(struct sess_mgr *m, struct session *s, struct sess_error *err)
{
	/* destination legs leave through the kernel interface of the port that owns the
	 * forward address, never through another interface */
	struct dp_port_info pi;
	int port = dp_port_of_addr(m->dp, &s->forward.addr);
	bool have_dev = port >= 0 && dp_port_info(m->dp, (unsigned)port, &pi) == 0;
	struct tcp_sess_params p = {
		.id = s->serial,
		.listen_addr = s->listen.addr, .listen_port = s->listen.port,
		.forward_addr = s->forward.addr, .forward_port = s->forward.port,
		.dest_addr = s->dest.addr, .dest_port = s->dest.port,
		.bind_dev = have_dev ? pi.exception : NULL,
		/* a connection idle for the session's own idle timeout is reset */
		.idle_timeout_ms = s->idle_timeout_secs > UINT32_MAX / 1000 ? UINT32_MAX :
			s->idle_timeout_secs * 1000,
	};
	uint16_t bound;
	const struct sess_tcp_hook *h = &m->tcp_hook;
	if (m->tcp == NULL)
		return sess_fail(err, SESS_UNAVAILABLE, "transport: the TCP relay is not running");
	/* the filter admits the listen endpoint first, so the first SYN finds it open */
	if (h->listen_added != NULL && h->listen_added(h->ctx, &s->listen.addr, s->listen.port,
				err->message, sizeof(err->message)) != 0)
		return err->code = SESS_INTERNAL;
	int ret = tcp_relay_add(m->tcp, &p, &bound, err->message, sizeof(err->message));
	if (ret != 0) {
		if (h->listen_removed != NULL)
			h->listen_removed(h->ctx, &s->listen.addr, s->listen.port);
		err->code = ret == -EADDRINUSE ? SESS_EXISTS :
			ret == -EADDRNOTAVAIL ? SESS_INVALID :
			ret == -EMFILE || ret == -ENFILE || ret == -ENOMEM ? SESS_EXHAUSTED :
			ret == -ETIMEDOUT ? SESS_UNAVAILABLE : SESS_INTERNAL;
		return err->code;
	}
	s->tcp_listening = true;
	return SESS_OK;
}

/* TCP: client -> destination is `stats`, destination -> client `reverse_stats` (API.md 1.1). */
static void tcp_to_stats(const struct tcp_stats *t, struct sess_stats *c2d, struct sess_stats *d2c)
{
	memset(c2d, 0, sizeof(*c2d));
	memset(d2c, 0, sizeof(*d2c));
	c2d->pkts_rx = t->c2d.reads;
	c2d->bytes_rx = t->c2d.bytes_in;
	c2d->pkts_tx = t->c2d.writes;
	c2d->bytes_tx = t->c2d.bytes_out;
	d2c->pkts_rx = t->d2c.reads;
	d2c->bytes_rx = t->d2c.bytes_in;
	d2c->pkts_tx = t->d2c.writes;
	d2c->bytes_tx = t->d2c.bytes_out;
	/* a client reset on arrival (max_connections_per_session...) is this direction's drop */
	c2d->dropped = t->conns_rejected;
	c2d->last_activity_ms = d2c->last_activity_ms = t->last_activity_ms;
}

bool sess_tcp_read(const struct sess_mgr *m, const struct session *s, struct sess_stats *rtp,
		struct sess_stats *rev, struct sess_stats *rtcp)
{
	struct tcp_stats t;
	if (!s->tcp_listening || m->tcp == NULL || tcp_relay_stats(m->tcp, s->serial, &t) != 0)
		return false;
	tcp_to_stats(&t, rtp, rev);
	memset(rtcp, 0, sizeof(*rtcp));
	return true;
}

void sess_tcp_uninstall(struct sess_mgr *m, struct session *s)
{
	struct tcp_stats t;
	if (!s->tcp_listening)
		return;
	s->tcp_listening = false;
	struct sess_end *e = sess_end_of(s);
	if (m->tcp != NULL && tcp_relay_remove(m->tcp, s->serial, &t) == 0 && e != NULL)
		tcp_to_stats(&t, &e->final, &e->final_rev);
	if (m->tcp_hook.listen_removed != NULL)
		m->tcp_hook.listen_removed(m->tcp_hook.ctx, &s->listen.addr, s->listen.port);
}

/* TCP sessions: idle when no byte moved either way for the timeout. */
void sess_tcp_tick(struct sess_mgr *m, struct session *s, int64_t now_ms)
{
	struct tcp_stats t;
	if (m->tcp == NULL || tcp_relay_stats(m->tcp, s->serial, &t) != 0)
		return;
	int64_t active_ms = sess_idle_since(s, t.last_activity_ms > s->created_ms ?
			t.last_activity_ms : s->created_ms);
	if (now_ms - active_ms >= (int64_t)s->idle_timeout_secs * 1000)
		sess_close(m, s, "idle_timeout");
}

void sess_tcp_poll(struct sess_mgr *m)
{
	struct tcp_event ev[64];
	unsigned n;
	if (m->tcp == NULL)
		return;
	while ((n = tcp_relay_drain(m->tcp, ev, RTE_DIM(ev))) > 0) {
		for (unsigned i = 0; i < n; i++) {
			void *data;
			if (rte_hash_lookup_data(m->by_serial, &ev[i].id, &data) < 0)
				continue;       /* already gone */
			struct session *s = data;
			if (s->state == SESS_CLOSED || s->state == SESS_ERROR)
				continue;
			switch (ev[i].kind) {
			case TCP_EV_ESTABLISHED:
				if (s->state == SESS_CONNECTING)
					sess_set_state(m, s, SESS_ACTIVE);
				break;
			case TCP_EV_FAILED:
				/* a destination that never took a connection fails the session; once
				 * it has, one failed connect resets only that client */
				if (s->state == SESS_CONNECTING)
					sess_fail_session(m, s, "%s", ev[i].message);
				else
					LOG(WARNING, "%s: %s", s->id, ev[i].message);
				break;
			case TCP_EV_CONNECTING:
			case TCP_EV_CLOSED:
				LOG(DEBUG, "%s: tcp %s %s", s->id, ev[i].kind == TCP_EV_CLOSED ?
						"connection closed" : "client accepted", ev[i].message);
				break;
			}
		}
	}
}
