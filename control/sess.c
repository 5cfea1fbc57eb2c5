/*
 * The session manager's registry and lifecycle: ids, creation order, ports, states, timers
 * and the observers. A session's flows are sess_udp.c's, its TCP listener sess_tcp.c's.
 */
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

#include "ids.h"
#include "rp_dp.h"
#include "sess_int.h"

enum sess_err sess_fail(struct sess_error *err, enum sess_err code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return err->code = code;
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

int64_t sess_tsc_to_unix_ms(const struct sess_mgr *m, uint64_t tsc)
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
	for (unsigned p = 0; p < dp_n_ports(dp); p++) {
		struct dp_port_info pi;
		dp_port_info(dp, p, &pi);
		for (unsigned a = 0; a < pi.n_addrs; a++)
			if (portalloc_add_addr(&m->ports, pi.addr[a].v4) != 0) {
				snprintf(err, errlen, "too many appliance addresses");
				goto fail;
			}
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

void id_key(const char *id, char key[SESS_ID_MAX])
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

/* allowed_destinations: IPv4 prefixes only so far */
bool allowed(const struct sess_mgr *m, const struct dp_addr *addr)
{
	if (m->cfg.n_allowed == 0)
		return true;
	if (!dp_addr_is_v4(addr))
		return false;
	for (unsigned i = 0; i < m->cfg.n_allowed; i++)
		if ((addr->v4 & m->cfg.allowed_mask[i]) == m->cfg.allowed_addr[i])
			return true;
	return false;
}

void sess_fmt_ip(const struct dp_addr *a, char out[DP_ADDR_STRLEN])
{
	dp_addr_format(a, out, DP_ADDR_STRLEN);
}

/* Take the listen and forward ports (allocating where 0); roll back on failure. */
enum sess_err take_ports(struct sess_mgr *m, struct session *s, unsigned count,
		struct sess_error *err)
{
	struct portalloc *pa = &m->ports;
	struct sess_ep *l = &s->listen, *f = &s->forward;
	char a[DP_ADDR_STRLEN];

	if (l->port == 0) {
		if (portalloc_alloc(pa, l->addr.v4, count, &l->port) != 0)
			return sess_fail(err, SESS_EXHAUSTED,
					"listen_endpoint.port: no free port left in %u..%u",
					pa->min, pa->max);
	} else if (!portalloc_free(pa, l->addr.v4, l->port, count)) {
		sess_fmt_ip(&l->addr, a);
		return sess_fail(err, SESS_EXISTS,
				"listen_endpoint: %s:%u%s is already in use", a, l->port,
				count == 2 ? " (or its RTCP port +1)" : "");
	} else {
		portalloc_take(pa, l->addr.v4, l->port, count);
	}

	if (f->port == 0 && s->transport == SESS_TCP) {
		return 0;       /* each connection gets its own ephemeral source port */
	} else if (f->port == 0) {
		if (portalloc_alloc(pa, f->addr.v4, count, &f->port) == 0)
			return 0;
		sess_fail(err, SESS_EXHAUSTED,
				"forward_endpoint.port: no free port left in %u..%u", pa->min, pa->max);
	} else if (!portalloc_free(pa, f->addr.v4, f->port, count)) {
		sess_fmt_ip(&f->addr, a);
		sess_fail(err, SESS_EXISTS,
				"forward_endpoint: %s:%u%s is already in use", a, f->port,
				count == 2 ? " (or its RTCP port +1)" : "");
	} else {
		portalloc_take(pa, f->addr.v4, f->port, count);
		return 0;
	}
	portalloc_release(pa, l->addr.v4, l->port, count);
	return err->code;
}

void release_ports(struct sess_mgr *m, struct session *s)
{
	unsigned count = s->rtcp ? 2 : 1;
	if (!s->ports_held)
		return;
	portalloc_release(&m->ports, s->listen.addr.v4, s->listen.port, count);
	if (s->forward.port != 0)
		portalloc_release(&m->ports, s->forward.addr.v4, s->forward.port, count);
	s->ports_held = false;
}

static void read_now(const struct sess_mgr *m, const struct session *s, struct sess_stats *rtp,
		struct sess_stats *rev, struct sess_stats *rtcp)
{
	if (sess_tcp_read(m, s, rtp, rev, rtcp))
		return;
	if (s->flows == NULL) {
		static const struct sess_end none;
		const struct sess_end *e = s->end != NULL ? s->end : &none;
		*rtp = e->final;
		*rev = e->final_rev;
		*rtcp = e->final_rtcp;
		return;
	}
	sess_udp_read(m, s, rtp, rev, rtcp);
}

void sess_read_stats(const struct sess_mgr *m, const struct session *s, struct sess_stats *rtp,
		struct sess_stats *rev, struct sess_stats *rtcp)
{
	read_now(m, s, rtp, rev, rtcp);
	if (s->base != NULL) {
		sess_stats_add(rtp, &s->base->rtp);
		sess_stats_add(rev, &s->base->rev);
		sess_stats_add(rtcp, &s->base->rtcp);
	}
}

struct sess_end *sess_end_of(struct session *s)
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

bool sess_latched(const struct sess_mgr *m, const struct session *s, struct sess_ep *out)
{
	if (s->flows != NULL)
		return sess_udp_latched(m, s, out);
	if (s->end == NULL)
		return false;
	*out = s->end->latched;
	return !dp_addr_is_none(&out->addr) && !dp_addr_is_any(&out->addr);
}

void sess_set_state(struct sess_mgr *m, struct session *s, enum sess_state st)
{
	static const char *const names[] = { "CREATED", "CONNECTING", "ACTIVE", "ERROR", "CLOSED" };
	enum sess_state old = s->state;
	LOG(INFO, "%s: %s -> %s", s->id, names[old], names[st]);
	s->state = st;
	if (m->obs.state_changed != NULL)
		m->obs.state_changed(m->obs.ctx, s, old, st);
}

void sess_close(struct sess_mgr *m, struct session *s, const char *reason)
{
	if (s->state == SESS_CLOSED)
		return;
	sess_tcp_uninstall(m, s);
	sess_udp_uninstall(m, s);
	release_ports(m, s);
	snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
	s->closed_ms = sess_now_ms();
	m->n_live--;            /* ERROR sessions count as active until closed */
	m->closed_total++;
	sess_set_state(m, s, SESS_CLOSED);
	if (m->obs.closed != NULL)
		m->obs.closed(m->obs.ctx, s, reason);
}

void free_session(struct session *s)
{
	for (unsigned i = 0; i < s->n_labels; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	free(s->end);
	free(s->base);
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

int copy_labels(struct session *s, const struct sess_params *p)
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

struct session *sess_create(struct sess_mgr *m, const struct sess_params *p,
		struct sess_error *err)
{
	char a[DP_ADDR_STRLEN];

	if (!dp_addr_is_any(&p->listen.addr) && dp_port_of_addr(m->dp, &p->listen.addr) < 0) {
		sess_fmt_ip(&p->listen.addr, a);
		sess_fail(err, SESS_INVALID,
				"listen_endpoint.address: %s is not an address of this appliance", a);
		return NULL;
	}
	if (dp_port_of_addr(m->dp, &p->forward.addr) < 0) {
		sess_fmt_ip(&p->forward.addr, a);
		sess_fail(err, SESS_INVALID,
				"forward_endpoint.address: %s is not an address of this appliance", a);
		return NULL;
	}
	if (!allowed(m, &p->dest.addr)) {
		sess_fmt_ip(&p->dest.addr, a);
		sess_fail(err, SESS_DENIED,
				"destination_endpoint.address: %s is outside allowed_destinations", a);
		return NULL;
	}
	if (p->id[0] != '\0' && sess_find(m, p->id) != NULL) {
		sess_fail(err, SESS_EXISTS, "session_id: \"%s\" is already used", p->id);
		return NULL;
	}
	if (m->n_live >= m->cfg.max_sessions) {
		sess_fail(err, SESS_EXHAUSTED, "max_sessions (%u) reached", m->cfg.max_sessions);
		return NULL;
	}

	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		sess_fail(err, SESS_EXHAUSTED, "out of memory");
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
			sess_fail(err, SESS_UNAVAILABLE,
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
	s->state = SESS_CREATED;
	s->created_ms = sess_now_ms();
	if (copy_labels(s, p) != 0) {
		free_session(s);
		sess_fail(err, SESS_EXHAUSTED, "out of memory");
		return NULL;
	}

	if (take_ports(m, s, s->rtcp ? 2 : 1, err) != 0) {
		free_session(s);
		return NULL;
	}
	s->ports_held = true;
	s->serial = m->next_serial++;   /* before install: the TCP relay names it by serial */
	enum sess_err ret = s->transport == SESS_TCP ? sess_tcp_install(m, s, err) :
		sess_udp_install(m, s, err);
	if (ret != SESS_OK) {
		release_ports(m, s);
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
	m->n_live++;
	m->created_total++;
	LOG(INFO, "%s: created %s listen %u, forward %u, destination port %u", s->id,
			s->transport == SESS_TCP ? "tcp" : "udp", s->listen.port, s->forward.port,
			s->dest.port);
	if (m->obs.created != NULL)
		m->obs.created(m->obs.ctx, s);
	sess_set_state(m, s, SESS_CONNECTING);   /* flows installed / listening */
	return s;
}

enum sess_err sess_destroy(struct sess_mgr *m, const char *id, struct session *final,
		struct sess_error *err)
{
	struct session *s = sess_find(m, id);
	if (s == NULL)
		return sess_fail(err, SESS_NOT_FOUND, "session_id: no session \"%s\"", id);
	sess_close(m, s, "destroyed");
	*final = *s;
	/* the copy must not share what forget frees: it takes the end record over */
	final->labels = NULL;
	final->n_labels = 0;
	s->end = NULL;
	s->base = NULL;         /* and the restored counters' base */
	forget(m, s);
	return 0;
}

void sess_final_free(struct session *final)
{
	free(final->end);
	final->end = NULL;
	free(final->base);
	final->base = NULL;
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

void sess_fail_session(struct sess_mgr *m, struct session *s, const char *fmt, ...)
{
	static const char no_memory[] = "out of memory";
	struct sess_end *e = sess_end_of(s);
	va_list ap;
	va_start(ap, fmt);
	if (e != NULL)
		vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
	const char *why = e != NULL ? e->error : no_memory;
	LOG(ERR, "%s: %s", s->id, why);
	sess_tcp_uninstall(m, s);
	sess_udp_uninstall(m, s);
	release_ports(m, s);
	s->closed_ms = sess_now_ms();
	if (m->obs.error != NULL)
		m->obs.error(m->obs.ctx, s, why);
	sess_set_state(m, s, SESS_ERROR);
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
				sess_close(m, s, "error");
			forget(m, s);
			continue;
		}
		if (s->transport == SESS_TCP)
			sess_tcp_tick(m, s, now_ms);
		else
			sess_udp_tick(m, s, now_ms);
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
			sess_close(m, s, reason);
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
