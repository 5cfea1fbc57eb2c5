#include "sess.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_log.h>

#include "dp.h"
#include "ids.h"
#include "log.h"
#include "pkt.h"
#include "portalloc.h"
#include "slowpath.h"
#include "tcp_relay.h"

#define LOG(level, fmt, ...) RTE_LOG(level, SESS, fmt "\n", ##__VA_ARGS__)

struct sess_mgr {
	struct dp *dp;
	struct sess_config cfg;
	struct rte_hash *by_id;         /* id (zero-padded to SESS_ID_MAX) -> session */
	struct sess_list all;           /* creation order */
	struct portalloc ports;
	uint64_t next_serial;
	uint64_t n_live, created_total, closed_total;
	uint64_t tsc0, hz;              /* TSC -> unix ms */
	int64_t unix0_ms;
	struct sess_observer obs;
	struct session *tick_next;      /* where the next sess_tick slice starts */
	struct session *close_next;     /* sess_close_some: everything before it is closed */
	struct tcp_relay *tcp;          /* TCP sessions' relay thread (NULL: TCP refused) */
	struct rte_hash *by_serial;     /* serial -> session, for the relay's events */
	struct sess_tcp_hook tcp_hook;  /* the exception filter, told of TCP listeners */
};

void sess_set_tcp_relay(struct sess_mgr *m, struct tcp_relay *r)
{
	m->tcp = r;
}

void sess_set_tcp_hook(struct sess_mgr *m, const struct sess_tcp_hook *h)
{
	m->tcp_hook = *h;
}

void sess_set_observer(struct sess_mgr *m, const struct sess_observer *o)
{
	m->obs = *o;
}

int64_t sess_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t tsc_to_unix_ms(const struct sess_mgr *m, uint64_t tsc)
{
	if (tsc == 0)
		return 0;
	return m->unix0_ms + (int64_t)((tsc - m->tsc0) * 1000 / m->hz);
}

struct sess_mgr *sess_mgr_create(struct dp *dp, const struct sess_config *cfg,
		char *err, size_t errlen)
{
	struct sess_mgr *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->dp = dp;
	m->cfg = *cfg;
	TAILQ_INIT(&m->all);
	m->next_serial = 1;
	m->hz = rte_get_tsc_hz();
	m->tsc0 = rte_rdtsc();
	m->unix0_ms = sess_now_ms();

	portalloc_init(&m->ports, cfg->port_min, cfg->port_max);
	for (unsigned p = 0; p < dp->n_ports; p++)
		for (unsigned a = 0; a < dp->port[p].n_addr; a++)
			if (portalloc_add_addr(&m->ports, dp->port[p].addr[a]) != 0) {
				snprintf(err, errlen, "too many appliance addresses");
				goto fail;
			}

	/* room for max_sessions open ones plus as many retained after closing */
	struct rte_hash_parameters hp = {
		.name = "sessions",
		.entries = 2 * (cfg->max_sessions < 8 ? 8 : cfg->max_sessions),
		.key_len = SESS_ID_MAX,
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	m->by_id = rte_hash_create(&hp);
	hp.name = "sessions_serial";
	hp.key_len = sizeof(uint64_t);
	m->by_serial = rte_hash_create(&hp);
	if (m->by_id == NULL || m->by_serial == NULL) {
		snprintf(err, errlen, "cannot create the session table: %s",
				rte_strerror(rte_errno));
		goto fail;
	}
	return m;
fail:
	rte_hash_free(m->by_id);
	rte_hash_free(m->by_serial);
	free(m);
	return NULL;
}

static void id_key(const char *id, char key[SESS_ID_MAX])
{
	memset(key, 0, SESS_ID_MAX);
	memcpy(key, id, strnlen(id, SESS_ID_MAX));
}

struct session *sess_find(struct sess_mgr *m, const char *id)
{
	char key[SESS_ID_MAX];
	void *data;
	if (strlen(id) > SESS_ID_MAX)
		return NULL;
	id_key(id, key);
	if (rte_hash_lookup_data(m->by_id, key, &data) < 0)
		return NULL;
	return data;
}

static bool allowed(const struct sess_mgr *m, uint32_t addr)
{
	if (m->cfg.n_allowed == 0)
		return true;
	for (unsigned i = 0; i < m->cfg.n_allowed; i++)
		if ((addr & m->cfg.allowed_mask[i]) == m->cfg.allowed_addr[i])
			return true;
	return false;
}

static void fmt_ip(uint32_t a, char out[16])
{
	const uint8_t *b = (const uint8_t *)&a;
	snprintf(out, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

/* Next hop towards dest from port p: dest itself on a connected subnet, else the gateway. */
static int next_hop(const struct dp_port *p, uint32_t dest, uint32_t *nh)
{
	for (unsigned i = 0; i < p->n_addr; i++)
		if ((p->addr[i] & p->mask[i]) == (dest & p->mask[i])) {
			*nh = dest;
			return 0;
		}
	if (p->gateway == 0)
		return -1;
	*nh = p->gateway;
	return 0;
}

/* Take the listen and forward ports (allocating where 0); roll back on failure. */
static int take_ports(struct sess_mgr *m, struct session *s, unsigned count, struct rpc_error *err)
{
	struct portalloc *pa = &m->ports;
	struct sess_ep *l = &s->listen, *f = &s->forward;
	char a[16];

	if (l->port == 0) {
		if (portalloc_alloc(pa, l->addr, count, &l->port) != 0)
			return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED,
					"listen_endpoint.port: no free port left in %u..%u",
					pa->min, pa->max);
	} else if (!portalloc_free(pa, l->addr, l->port, count)) {
		fmt_ip(l->addr, a);
		return rpc_fail(err, GRPC_STATUS_ALREADY_EXISTS,
				"listen_endpoint: %s:%u%s is already in use", a, l->port,
				count == 2 ? " (or its RTCP port +1)" : "");
	} else {
		portalloc_take(pa, l->addr, l->port, count);
	}

	if (f->port == 0 && s->transport == SESS_TCP) {
		return 0;       /* each connection gets its own ephemeral source port */
	} else if (f->port == 0) {
		if (portalloc_alloc(pa, f->addr, count, &f->port) == 0)
			return 0;
		rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"forward_endpoint.port: no free port left in %u..%u", pa->min, pa->max);
	} else if (!portalloc_free(pa, f->addr, f->port, count)) {
		fmt_ip(f->addr, a);
		rpc_fail(err, GRPC_STATUS_ALREADY_EXISTS,
				"forward_endpoint: %s:%u%s is already in use", a, f->port,
				count == 2 ? " (or its RTCP port +1)" : "");
	} else {
		portalloc_take(pa, f->addr, f->port, count);
		return 0;
	}
	portalloc_release(pa, l->addr, l->port, count);
	return err->code;
}

static void release_ports(struct sess_mgr *m, struct session *s)
{
	unsigned count = s->rtcp ? 2 : 1;
	if (!s->ports_held)
		return;
	portalloc_release(&m->ports, s->listen.addr, s->listen.port, count);
	if (s->forward.port != 0)
		portalloc_release(&m->ports, s->forward.addr, s->forward.port, count);
	s->ports_held = false;
}

/* Rate limits as meters; returns the FLOW_F_METER_* flags that apply. */
static uint16_t meters_config(struct flow_meter *fm, uint64_t rate_pps, uint64_t rate_bps)
{
	uint16_t flags = 0;
	if (rate_pps) {
		/* burst: 100 ms of the rate, at least one packet (API.md 1.1) */
		struct rte_meter_srtcm_params p = { .cir = rate_pps,
			.cbs = RTE_MAX(rate_pps / 10, 1ULL), .ebs = 0 };
		rte_meter_srtcm_profile_config(&fm->prof_pps, &p);
		rte_meter_srtcm_config(&fm->pps, &fm->prof_pps);
		flags |= FLOW_F_METER_PPS;
	}
	if (rate_bps) {
		/* in bytes of IP packets; burst 100 ms, at least one 1500-byte packet */
		uint64_t cir = RTE_MAX(rate_bps / 8, 1ULL);
		struct rte_meter_srtcm_params p = { .cir = cir,
			.cbs = RTE_MAX(cir / 10, 1500ULL), .ebs = 0 };
		rte_meter_srtcm_profile_config(&fm->prof_bps, &p);
		rte_meter_srtcm_config(&fm->bps, &fm->prof_bps);
		flags |= FLOW_F_METER_BPS;
	}
	return flags;
}

/* A forward flow's latch mode and strict_source as FLOW_F_* flags. */
static uint16_t latch_flags(const struct session *s)
{
	uint16_t flags = s->strict_source ? FLOW_F_STRICT : 0;
	if (s->latch_mode == SESS_LATCH_FIRST)
		flags |= FLOW_F_LATCH_FIRST;
	else if (s->latch_mode == SESS_LATCH_ANY)
		flags |= FLOW_F_LATCH_ANY;
	return flags;
}

/* A flow of session s, not yet published. Forward flows go listen -> destination. */
static struct flow *make_flow(struct sess_mgr *m, const struct session *s, enum sess_flow which,
		uint16_t tx_port)
{
	struct flow *f = flow_alloc(m->dp->flows);
	if (f == NULL)
		return NULL;
	uint16_t off = which == SF_RTCP || which == SF_REV_RTCP;
	bool reverse = which == SF_REV_RTP || which == SF_REV_RTCP;
	uint16_t flags = off ? FLOW_F_RTCP : FLOW_F_RTP_STATS;

	if (s->validate_rtp)
		flags |= FLOW_F_VALIDATE;
	if (!off && (s->rate_pps || s->rate_bps)) {
		struct flow_meter *fm = flow_meter_attach(m->dp->flows, f);
		if (fm == NULL) {
			flow_release(m->dp->flows, f);
			return NULL;
		}
		flags |= meters_config(fm, s->rate_pps, s->rate_bps);
	}
	f->session = (uint32_t)s->serial;
	f->tx_port = tx_port;
	f->neigh = s->neigh;
	if (!reverse) {
		f->key = flow_key_make(s->listen.addr, htons((uint16_t)(s->listen.port + off)),
				PKT_IPPROTO_UDP);
		f->src_ip = s->forward.addr;
		f->src_port = htons((uint16_t)(s->forward.port + off));
		f->dst_ip = s->dest.addr;
		f->dst_port = htons((uint16_t)(s->dest.port + off));
		f->latch_rtp = UINT32_MAX;      /* RTCP: set once all flows exist */
		flags |= latch_flags(s);
	} else {
		/* back to whoever the forward flow latched, from the listen endpoint */
		f->key = flow_key_make(s->forward.addr, htons((uint16_t)(s->forward.port + off)),
				PKT_IPPROTO_UDP);
		f->src_port = htons((uint16_t)(s->listen.port + off));
		f->latch_flow = f->latch_fallback = UINT32_MAX;    /* set once all flows exist */
		f->peer_ip = s->dest.addr;
		f->peer_port = htons((uint16_t)(s->dest.port + off));
		flags |= FLOW_F_REVERSE;
	}
	f->flags = flags;
	return f;
}

static void release_unpublished(struct sess_mgr *m, struct session *s)
{
	for (int i = 0; i < SF_MAX; i++)
		if (s->flow[i] != NULL)
			flow_release(m->dp->flows, s->flow[i]);
	memset(s->flow, 0, sizeof(s->flow));
}

static int install_flows(struct sess_mgr *m, struct session *s, struct rpc_error *err)
{
	struct dp *dp = m->dp;
	int port = dp_owner_of(dp, s->forward.addr);
	uint32_t nh;
	char a[16];
	int i, ret = 0;

	if (next_hop(&dp->port[port], s->dest.addr, &nh) != 0) {
		fmt_ip(s->dest.addr, a);
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"destination_endpoint.address: %s is not on a subnet of %s (which "
				"owns the forward address) and %s has no gateway", a,
				dp->port[port].name, dp->port[port].name);
	}
	s->neigh = neigh_get(dp->neigh, (uint16_t)port, nh);
	if (s->neigh == NEIGH_NONE)
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"destination_endpoint: the neighbour table is full");

	for (i = 0; i < SF_MAX; i++) {
		bool wanted = i == SF_RTP || (i == SF_RTCP && s->rtcp) ||
			(i == SF_REV_RTP && s->bidir) || (i == SF_REV_RTCP && s->bidir && s->rtcp);
		if (wanted && (s->flow[i] = make_flow(m, s, (enum sess_flow)i, (uint16_t)port)) == NULL)
			goto full;
	}
	if (s->flow[SF_RTCP] != NULL)
		s->flow[SF_RTCP]->latch_rtp = s->flow[SF_RTP]->id;    /* RTCP follows RTP's latch */
	if (s->flow[SF_REV_RTP] != NULL)
		s->flow[SF_REV_RTP]->latch_flow = s->flow[SF_RTP]->id;
	if (s->flow[SF_REV_RTCP] != NULL) {
		s->flow[SF_REV_RTCP]->latch_flow = s->flow[SF_RTCP]->id;
		s->flow[SF_REV_RTCP]->latch_fallback = s->flow[SF_RTP]->id;
		s->flow[SF_REV_RTCP]->latch_port_add = 1;
	}
	for (i = 0; i < SF_MAX; i++) {
		if (s->flow[i] == NULL)
			continue;
		ret = flow_add(dp->flows, s->flow[i]);
		if (ret != 0)
			break;
	}
	if (ret == 0) {
		slowpath_resolve(dp, s->neigh, (uint64_t)sess_now_ms());
		return 0;
	}
	/* unpublish what went in; the defer queue gives those entries back */
	for (int j = 0; j < i; j++)
		if (s->flow[j] != NULL) {
			flow_del(dp->flows, s->flow[j]);
			s->flow[j] = NULL;
		}
	flow_table_sync(dp->flows);
	if (ret == -EEXIST) {
		/* only a reverse flow can collide: the pools keep listen ports apart */
		release_unpublished(m, s);
		neigh_put(dp->neigh, s->neigh);
		fmt_ip(s->forward.addr, a);
		return rpc_fail(err, GRPC_STATUS_ALREADY_EXISTS,
				"forward_endpoint: %s:%u already receives for another session", a,
				s->forward.port);
	}
full:
	release_unpublished(m, s);
	neigh_put(dp->neigh, s->neigh);
	return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "the flow table is full");
}

/* The TAP of the port that owns the forward address: TCP destination legs leave through it,
 * never through another interface. */
static const char *forward_dev(const struct sess_mgr *m, const struct session *s)
{
	int port = dp_owner_of(m->dp, s->forward.addr);
	return port >= 0 ? m->dp->port[port].tap_name : NULL;
}

static int install_tcp(struct sess_mgr *m, struct session *s, struct rpc_error *err)
{
	struct tcp_sess_params p = {
		.id = s->serial,
		.listen_addr = s->listen.addr, .listen_port = s->listen.port,
		.forward_addr = s->forward.addr, .forward_port = s->forward.port,
		.dest_addr = s->dest.addr, .dest_port = s->dest.port,
		.bind_dev = forward_dev(m, s),
		/* a connection idle for the session's own idle timeout is reset */
		.idle_timeout_ms = s->idle_timeout_secs > UINT32_MAX / 1000 ? UINT32_MAX :
			s->idle_timeout_secs * 1000,
	};
	uint16_t bound;
	const struct sess_tcp_hook *h = &m->tcp_hook;
	if (m->tcp == NULL)
		return rpc_fail(err, GRPC_STATUS_UNAVAILABLE, "transport: the TCP relay is not running");
	/* the filter admits the listen endpoint first, so the first SYN finds it open */
	if (h->listen_added != NULL && h->listen_added(h->ctx, s->listen.addr, s->listen.port,
				err->message, sizeof(err->message)) != 0)
		return err->code = GRPC_STATUS_INTERNAL;
	int ret = tcp_relay_add(m->tcp, &p, &bound, err->message, sizeof(err->message));
	if (ret != 0) {
		if (h->listen_removed != NULL)
			h->listen_removed(h->ctx, s->listen.addr, s->listen.port);
		err->code = ret == -EADDRINUSE ? GRPC_STATUS_ALREADY_EXISTS :
			ret == -EADDRNOTAVAIL ? GRPC_STATUS_INVALID_ARGUMENT :
			ret == -EMFILE || ret == -ENFILE || ret == -ENOMEM ?
			GRPC_STATUS_RESOURCE_EXHAUSTED :
			ret == -ETIMEDOUT ? GRPC_STATUS_UNAVAILABLE : GRPC_STATUS_INTERNAL;
		return err->code;
	}
	s->tcp_listening = true;
	return 0;
}

static double tsc_to_ms(const struct sess_mgr *m, double cycles)
{
	return cycles * 1000.0 / (double)m->hz;
}

/* Add flow f's counters into st (RTCP sums both directions). */
static void add_flow_stats(const struct sess_mgr *m, const struct flow *f, struct sess_stats *st)
{
	if (f == NULL)
		return;
	const struct flow_stats *fs = &f->stats;
	st->pkts_rx += fs->pkts_rx;
	st->pkts_tx += fs->pkts_tx;
	st->bytes_rx += fs->bytes_rx;
	st->bytes_tx += fs->bytes_tx;
	st->dropped += fs->dropped;
	uint64_t lost, lost_bytes;              /* other workers' drops, before the owner saw them */
	flow_handoff_lost(f, &lost, &lost_bytes);
	st->pkts_rx += lost;
	st->bytes_rx += lost_bytes;
	st->dropped += lost;
	int64_t last = tsc_to_unix_ms(m, fs->last_tsc);
	if (last > st->last_activity_ms)
		st->last_activity_ms = last;
	if (fs->lat_n > 0) {
		st->avg_latency_ms = tsc_to_ms(m, (double)fs->lat_sum / (double)fs->lat_n);
		st->max_latency_ms = tsc_to_ms(m, (double)fs->lat_max);
	}
	if (f->flags & FLOW_F_RTP_STATS) {
		struct rtp_state rs;
		flow_rtp_read(f, &rs);
		st->lost = rtp_lost(&rs);
		uint64_t denom = st->pkts_rx + st->lost;
		st->loss_rate = denom ? (double)st->lost / (double)denom : 0.0;
		st->jitter_ms = rtp_jitter(&rs) * 1000.0 /
			(double)m->dp->clk_rate[f->last_pt & 0x7f];
	}
}

static void read_flows(const struct sess_mgr *m, struct flow *const flows[SF_MAX],
		struct sess_stats *rtp, struct sess_stats *rev, struct sess_stats *rtcp)
{
	memset(rtp, 0, sizeof(*rtp));
	memset(rev, 0, sizeof(*rev));
	memset(rtcp, 0, sizeof(*rtcp));
	add_flow_stats(m, flows[SF_RTP], rtp);
	add_flow_stats(m, flows[SF_REV_RTP], rev);
	add_flow_stats(m, flows[SF_RTCP], rtcp);
	add_flow_stats(m, flows[SF_REV_RTCP], rtcp);
	/* latency and jitter of the RTCP sum would mix two directions: not reported */
	rtcp->avg_latency_ms = rtcp->max_latency_ms = rtcp->jitter_ms = 0;
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

void sess_read_stats(const struct sess_mgr *m, const struct session *s, struct sess_stats *rtp,
		struct sess_stats *rev, struct sess_stats *rtcp)
{
	struct tcp_stats t;
	if (s->tcp_listening && m->tcp != NULL && tcp_relay_stats(m->tcp, s->serial, &t) == 0) {
		tcp_to_stats(&t, rtp, rev);
		memset(rtcp, 0, sizeof(*rtcp));
		return;
	}
	if (s->flow[SF_RTP] == NULL) {
		static const struct sess_end none;
		const struct sess_end *e = s->end != NULL ? s->end : &none;
		*rtp = e->final;
		*rev = e->final_rev;
		*rtcp = e->final_rtcp;
		return;
	}
	read_flows(m, s->flow, rtp, rev, rtcp);
}

/* The session's end record, allocated the first time; NULL only when out of memory (the
 * session then ends with zero counters rather than not at all). */
static struct sess_end *end_of(struct session *s)
{
	if (s->end == NULL) {
		s->end = calloc(1, sizeof(*s->end));
		if (s->end == NULL)
			LOG(ERR, "%s: out of memory for its final counters", s->id);
	}
	return s->end;
}

const char *sess_error(const struct session *s)
{
	return s->end != NULL ? s->end->error : "";
}

bool sess_latched(const struct session *s, struct sess_ep *out)
{
	struct flow_latch l;
	if (s->flow[SF_RTP] == NULL) {
		if (s->end == NULL)
			return false;
		*out = s->end->latched;
		return out->addr != 0;
	}
	if (!flow_latch_read(&s->flow[SF_RTP]->latch, &l))
		return false;
	out->addr = l.ip;
	out->port = ntohs(l.port);
	return true;
}

/* Stop a TCP session's listener and connections, keeping its last counters. */
static void uninstall_tcp(struct sess_mgr *m, struct session *s)
{
	struct tcp_stats t;
	if (!s->tcp_listening)
		return;
	s->tcp_listening = false;
	struct sess_end *e = end_of(s);
	if (m->tcp != NULL && tcp_relay_remove(m->tcp, s->serial, &t) == 0 && e != NULL)
		tcp_to_stats(&t, &e->final, &e->final_rev);
	if (m->tcp_hook.listen_removed != NULL)
		m->tcp_hook.listen_removed(m->tcp_hook.ctx, s->listen.addr, s->listen.port);
}

/* Take the flows out of the data plane, keeping their last counters. */
static void uninstall_flows(struct sess_mgr *m, struct session *s)
{
	struct dp *dp = m->dp;
	uninstall_tcp(m, s);
	if (s->flow[SF_RTP] == NULL)
		return;
	for (int i = 0; i < SF_MAX; i++)
		if (s->flow[i] != NULL)
			flow_del(dp->flows, s->flow[i]);
	/* after this no worker touches them: the counters are final */
	flow_table_sync(dp->flows);
	struct sess_end *e = end_of(s);
	if (e != NULL) {
		read_flows(m, s->flow, &e->final, &e->final_rev, &e->final_rtcp);
		if (!sess_latched(s, &e->latched))
			memset(&e->latched, 0, sizeof(e->latched));
	}
	memset(s->flow, 0, sizeof(s->flow));
	neigh_put(dp->neigh, s->neigh);
	s->neigh = NEIGH_NONE;
}

static void set_state(struct sess_mgr *m, struct session *s, enum sess_state st)
{
	static const char *const names[] = { "CREATED", "CONNECTING", "ACTIVE", "ERROR", "CLOSED" };
	enum sess_state old = s->state;
	LOG(INFO, "%s: %s -> %s", s->id, names[old], names[st]);
	s->state = st;
	if (m->obs.state_changed != NULL)
		m->obs.state_changed(m->obs.ctx, s, old, st);
}

static void close_session(struct sess_mgr *m, struct session *s, const char *reason)
{
	if (s->state == SESS_CLOSED)
		return;
	uninstall_flows(m, s);
	release_ports(m, s);
	snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
	s->closed_ms = sess_now_ms();
	m->n_live--;            /* ERROR sessions count as active until closed */
	m->closed_total++;
	set_state(m, s, SESS_CLOSED);
	if (m->obs.closed != NULL)
		m->obs.closed(m->obs.ctx, s, reason);
}

static void free_session(struct session *s)
{
	for (unsigned i = 0; i < s->n_labels; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	free(s->end);
	free(s);
}

static void forget(struct sess_mgr *m, struct session *s)
{
	if (m->tick_next == s)
		m->tick_next = TAILQ_NEXT(s, link);
	if (m->close_next == s)
		m->close_next = TAILQ_NEXT(s, link);
	char key[SESS_ID_MAX];
	id_key(s->id, key);
	rte_hash_del_key(m->by_id, key);
	rte_hash_del_key(m->by_serial, &s->serial);
	TAILQ_REMOVE(&m->all, s, link);
	free_session(s);
}

static int copy_labels(struct session *s, const struct sess_params *p)
{
	if (p->n_labels == 0)
		return 0;
	s->labels = calloc(p->n_labels, sizeof(*s->labels));
	if (s->labels == NULL)
		return -1;
	for (unsigned i = 0; i < p->n_labels; i++) {
		s->labels[i].key = strdup(p->labels[i].key);
		s->labels[i].value = strdup(p->labels[i].value);
		s->n_labels++;
		if (s->labels[i].key == NULL || s->labels[i].value == NULL)
			return -1;
	}
	return 0;
}

struct session *sess_create(struct sess_mgr *m, const struct sess_params *p, struct rpc_error *err)
{
	struct dp *dp = m->dp;
	char a[16];

	if (p->listen.addr != 0 && dp_owner_of(dp, p->listen.addr) < 0) {
		fmt_ip(p->listen.addr, a);
		rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"listen_endpoint.address: %s is not an address of this appliance", a);
		return NULL;
	}
	if (dp_owner_of(dp, p->forward.addr) < 0) {
		fmt_ip(p->forward.addr, a);
		rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"forward_endpoint.address: %s is not an address of this appliance", a);
		return NULL;
	}
	if (!allowed(m, p->dest.addr)) {
		fmt_ip(p->dest.addr, a);
		rpc_fail(err, GRPC_STATUS_PERMISSION_DENIED,
				"destination_endpoint.address: %s is outside allowed_destinations", a);
		return NULL;
	}
	if (p->id[0] != '\0' && sess_find(m, p->id) != NULL) {
		rpc_fail(err, GRPC_STATUS_ALREADY_EXISTS, "session_id: \"%s\" is already used",
				p->id);
		return NULL;
	}
	if (m->n_live >= m->cfg.max_sessions) {
		rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"max_sessions (%u) reached", m->cfg.max_sessions);
		return NULL;
	}

	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	if (p->id[0] != '\0') {
		snprintf(s->id, sizeof(s->id), "%s", p->id);
	} else {
		int r;
		while ((r = ids_uuid4(s->id)) == 0 && sess_find(m, s->id) != NULL)
			;
		if (r != 0) {
			free_session(s);
			rpc_fail(err, GRPC_STATUS_UNAVAILABLE,
					"session_id: the kernel gives no random bytes for an id");
			return NULL;
		}
	}
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
	s->neigh = NEIGH_NONE;
	s->state = SESS_CREATED;
	s->created_ms = sess_now_ms();
	if (copy_labels(s, p) != 0) {
		free_session(s);
		rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}

	if (take_ports(m, s, s->rtcp ? 2 : 1, err) != 0) {
		free_session(s);
		return NULL;
	}
	s->ports_held = true;
	s->serial = m->next_serial++;   /* before install: the TCP relay names it by serial */
	int ret = s->transport == SESS_TCP ? install_tcp(m, s, err) : install_flows(m, s, err);
	if (ret != 0) {
		release_ports(m, s);
		free_session(s);
		return NULL;
	}
	char key[SESS_ID_MAX];
	id_key(s->id, key);
	if (rte_hash_add_key_data(m->by_id, key, s) != 0 ||
			rte_hash_add_key_data(m->by_serial, &s->serial, s) != 0) {
		rte_hash_del_key(m->by_id, key);
		uninstall_flows(m, s);
		release_ports(m, s);
		free_session(s);
		rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "the session table is full");
		return NULL;
	}
	TAILQ_INSERT_TAIL(&m->all, s, link);
	m->n_live++;
	m->created_total++;
	LOG(INFO, "%s: created %s listen %u, forward %u, destination port %u", s->id,
			s->transport == SESS_TCP ? "tcp" : "udp", s->listen.port, s->forward.port,
			s->dest.port);
	if (m->obs.created != NULL)
		m->obs.created(m->obs.ctx, s);
	set_state(m, s, SESS_CONNECTING);   /* flows installed / listening */
	return s;
}

int sess_destroy(struct sess_mgr *m, const char *id, struct session *final, struct rpc_error *err)
{
	struct session *s = sess_find(m, id);
	if (s == NULL)
		return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "session_id: no session \"%s\"", id);
	close_session(m, s, "destroyed");
	*final = *s;
	/* the copy must not share what forget frees: it takes the end record over */
	final->labels = NULL;
	final->n_labels = 0;
	s->end = NULL;
	forget(m, s);
	return 0;
}

void sess_final_free(struct session *final)
{
	free(final->end);
	final->end = NULL;
}

struct session *sess_first(struct sess_mgr *m, uint64_t from_serial)
{
	struct session *s;
	TAILQ_FOREACH(s, &m->all, link)
		if (s->serial >= from_serial)
			return s;
	return NULL;
}

struct session *sess_next(struct session *s)
{
	return TAILQ_NEXT(s, link);
}

void sess_counters(const struct sess_mgr *m, struct sess_counters *c)
{
	c->active = m->n_live;
	c->created_total = m->created_total;
	c->closed_total = m->closed_total;
}

/* The session failed: its flows and ports go, its id stays (API.md 1.1). */
static void fail_session(struct sess_mgr *m, struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail_session(struct sess_mgr *m, struct session *s, const char *fmt, ...)
{
	static const char no_memory[] = "out of memory";
	struct sess_end *e = end_of(s);
	va_list ap;
	va_start(ap, fmt);
	if (e != NULL)
		vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
	const char *why = e != NULL ? e->error : no_memory;
	LOG(ERR, "%s: %s", s->id, why);
	uninstall_flows(m, s);
	release_ports(m, s);
	s->closed_ms = sess_now_ms();
	if (m->obs.error != NULL)
		m->obs.error(m->obs.ctx, s, why);
	set_state(m, s, SESS_ERROR);
}

static uint64_t last_relayed_tsc(const struct session *s)
{
	uint64_t last = 0;
	for (int i = 0; i < SF_MAX; i++)
		if (s->flow[i] != NULL && s->flow[i]->stats.last_tsc > last)
			last = s->flow[i]->stats.last_tsc;
	return last;
}

static void log_new_source(struct session *s)
{
	struct flow_latch l;
	if (!flow_latch_read(&s->flow[SF_RTP]->latch, &l) || l.seq == s->latch_seq_seen)
		return;
	s->latch_seq_seen = l.seq;
	const uint8_t *b = (const uint8_t *)&l.ip;
	LOG(INFO, "%s: client source %u.%u.%u.%u:%u", s->id, b[0], b[1], b[2], b[3],
			ntohs(l.port));
}

/* TCP sessions: idle when no byte moved either way for the timeout. */
static void tick_tcp(struct sess_mgr *m, struct session *s, int64_t now_ms)
{
	struct tcp_stats t;
	if (m->tcp == NULL || tcp_relay_stats(m->tcp, s->serial, &t) != 0)
		return;
	int64_t active_ms = t.last_activity_ms > s->created_ms ? t.last_activity_ms : s->created_ms;
	if (now_ms - active_ms >= (int64_t)s->idle_timeout_secs * 1000)
		close_session(m, s, "idle_timeout");
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
					set_state(m, s, SESS_ACTIVE);
				break;
			case TCP_EV_FAILED:
				/* a destination that never took a connection fails the session; once
				 * it has, one failed connect resets only that client */
				if (s->state == SESS_CONNECTING)
					fail_session(m, s, "%s", ev[i].message);
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

unsigned sess_tick_some(struct sess_mgr *m, int64_t now_ms, unsigned max)
{
	struct session *s = m->tick_next != NULL ? m->tick_next : TAILQ_FIRST(&m->all);
	struct session *next;
	unsigned n;
	for (n = 0; s != NULL && n < max; s = next, n++) {
		next = TAILQ_NEXT(s, link);
		m->tick_next = next;
		if (s->state == SESS_CLOSED || s->state == SESS_ERROR) {
			if (now_ms - s->closed_ms < (int64_t)m->cfg.closed_retention_secs * 1000)
				continue;
			/* a failed session ends like any other: ERROR -> CLOSED{error}, counted */
			if (s->state == SESS_ERROR)
				close_session(m, s, "error");
			forget(m, s);
			continue;
		}
		if (s->transport == SESS_TCP) {
			tick_tcp(m, s, now_ms);
			continue;
		}
		uint64_t last = last_relayed_tsc(s);
		if (s->state == SESS_CONNECTING && last != 0)
			set_state(m, s, SESS_ACTIVE);
		log_new_source(s);
		/* a destination that never answered ARP: nothing of this session can leave */
		if (s->state == SESS_CONNECTING &&
				m->dp->neigh->ent[s->neigh].state == NEIGH_FAILED) {
			char a[16];
			fmt_ip(m->dp->neigh->ent[s->neigh].ip, a);
			fail_session(m, s, "destination_endpoint: next hop %s does not answer ARP", a);
			continue;
		}
		int64_t active_ms = last ? tsc_to_unix_ms(m, last) : s->created_ms;
		if (now_ms - active_ms >= (int64_t)s->idle_timeout_secs * 1000)
			close_session(m, s, "idle_timeout");
	}
	return n;
}

void sess_tick(struct sess_mgr *m, int64_t now_ms)
{
	sess_tick_some(m, now_ms, SESS_TICK_SLICE);
}

/* Batches continue where the last one stopped: a shutdown of 100 000 sessions in batches of
 * 128 would otherwise walk the closed ones again each time. Sessions only join at the tail. */
unsigned sess_close_some(struct sess_mgr *m, const char *reason, unsigned max)
{
	struct session *s = m->close_next != NULL ? m->close_next : TAILQ_FIRST(&m->all);
	unsigned n = 0;
	for (; s != NULL && n < max; s = TAILQ_NEXT(s, link)) {
		if (s->state != SESS_CLOSED) {
			close_session(m, s, reason);
			n++;
		}
		m->close_next = TAILQ_NEXT(s, link);
	}
	return n;
}

void sess_close_all(struct sess_mgr *m, const char *reason)
{
	sess_close_some(m, reason, UINT_MAX);
}

void sess_mgr_free(struct sess_mgr *m)
{
	if (m == NULL)
		return;
	struct session *s;
	sess_close_all(m, "shutdown");
	while ((s = TAILQ_FIRST(&m->all)) != NULL)
		forget(m, s);
	rte_hash_free(m->by_id);
	rte_hash_free(m->by_serial);
	free(m);
}
