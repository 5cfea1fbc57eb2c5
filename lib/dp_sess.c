/*
 * A session's flows in the data plane (rp_dp.h): one flow entry per direction and protocol,
 * filled from the session spec, published in the flow table, read and taken out again.
 * Control lcore only (the single writer of the flow table); reads may come from any thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <rte_meter.h>

#include "dp.h"
#include "dp_sess.h"
#include "nexthop.h"
#include "pkt.h"
#include "slowpath.h"

static int fail(char *msg, size_t msglen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t msglen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return code;
}

static void fmt_ip(uint32_t a, char out[16])
{
	const uint8_t *b = (const uint8_t *)&a;
	snprintf(out, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

/* The port that owns a (either family), or -1. */
static int owner_of(const struct dp *dp, const struct dp_addr *a)
{
	return dp_addr_is_v6(a) ? dp_owner_of6(dp, a->v6) : dp_owner_of(dp, a->v4);
}

/* An unpublished flow's key: addr of either family (the wildcard of its family included). */
static struct flow_key key_of(const struct dp_addr *a, uint16_t port)
{
	return dp_addr_is_v6(a) ? flow_key_make6(a->v6, htons(port), PKT_IPPROTO_UDP) :
		flow_key_make(a->v4, htons(port), PKT_IPPROTO_UDP);
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
static uint16_t latch_flags(const struct dp_sess_spec *sp)
{
	uint16_t flags = sp->strict_source ? FLOW_F_STRICT : 0;
	if (sp->latch_mode == DP_LATCH_FIRST)
		flags |= FLOW_F_LATCH_FIRST;
	else if (sp->latch_mode == DP_LATCH_ANY)
		flags |= FLOW_F_LATCH_ANY;
	return flags;
}

/* A flow of the session, not yet published. Forward flows go listen -> destination. */
static struct flow *make_flow(struct dp *dp, const struct dp_sess_spec *sp, uint32_t neigh,
		enum dp_flow_role which, uint16_t tx_port)
{
	struct flow *f = flow_alloc(dp->flows);
	if (f == NULL)
		return NULL;
	uint16_t off = which == DP_FLOW_RTCP || which == DP_FLOW_REV_RTCP;
	bool reverse = which == DP_FLOW_REV_RTP || which == DP_FLOW_REV_RTCP;
	uint16_t flags = off ? FLOW_F_RTCP : FLOW_F_RTP_STATS;

	if (sp->validate_rtp)
		flags |= FLOW_F_VALIDATE;
	if (!off && (sp->rate_pps || sp->rate_bps)) {
		struct flow_meter *fm = flow_meter_attach(dp->flows, f);
		if (fm == NULL) {
			flow_release(dp->flows, f);
			return NULL;
		}
		flags |= meters_config(fm, sp->rate_pps, sp->rate_bps);
	}
	f->session = sp->tag;
	f->tx_port = tx_port;
	f->neigh = neigh;
	/* the client's side is the listen address's family, the destination's the other's
	 * (forward and destination share one) */
	bool client6 = dp_addr_is_v6(&sp->listen_addr), dest6 = dp_addr_is_v6(&sp->dest_addr);
	flags |= reverse ? (dest6 ? FLOW_F_IN6 : 0) | (client6 ? FLOW_F_OUT6 : 0) :
		(client6 ? FLOW_F_IN6 : 0) | (dest6 ? FLOW_F_OUT6 : 0);
	struct flow6 *f6 = NULL;
	if ((flags & FLOW_F_V6) && (f6 = flow6_attach(dp->flows, f)) == NULL) {
		flow_release(dp->flows, f);
		return NULL;
	}
	if (!reverse) {
		f->key = key_of(&sp->listen_addr, (uint16_t)(sp->listen_port + off));
		f->src_ip = dest6 ? 0 : sp->forward_addr.v4;
		f->src_port = htons((uint16_t)(sp->forward_port + off));
		f->dst_ip = dest6 ? 0 : sp->dest_addr.v4;
		f->dst_port = htons((uint16_t)(sp->dest_port + off));
		if (dest6) {
			memcpy(f6->src_ip, sp->forward_addr.v6, 16);
			memcpy(f6->dst_ip, sp->dest_addr.v6, 16);
		}
		f->latch_rtp = UINT32_MAX;      /* RTCP: set once all flows exist */
		flags |= latch_flags(sp);
	} else {
		/* back to whoever the forward flow latched, from the listen endpoint */
		f->key = key_of(&sp->forward_addr, (uint16_t)(sp->forward_port + off));
		f->src_port = htons((uint16_t)(sp->listen_port + off));
		f->latch_flow = f->latch_fallback = UINT32_MAX;    /* set once all flows exist */
		f->peer_ip = dest6 ? 0 : sp->dest_addr.v4;
		if (dest6)
			memcpy(f6->peer_ip, sp->dest_addr.v6, 16);
		f->peer_port = htons((uint16_t)(sp->dest_port + off));
		flags |= FLOW_F_REVERSE;
	}
	f->flags = flags;
	return f;
}

static void release_unpublished(struct dp *dp, struct dp_sess *s)
{
	for (int i = 0; i < DP_FLOW_ROLES; i++)
		if (s->flow[i] != NULL)
			flow_release(dp->flows, s->flow[i]);
	neigh_put(dp->neigh, s->neigh);
	free(s);
}

static bool wanted(const struct dp_sess_spec *sp, int role)
{
	return role == DP_FLOW_RTP || (role == DP_FLOW_RTCP && sp->rtcp) ||
		(role == DP_FLOW_REV_RTP && sp->bidirectional) ||
		(role == DP_FLOW_REV_RTCP && sp->bidirectional && sp->rtcp);
}

/* Every address has a family (the listen address may be of either: IPv4 <-> IPv6
 * interworking). */
static int check_families(const struct dp_sess_spec *sp, char *msg, size_t msglen)
{
	const struct dp_addr *addr[] = { &sp->listen_addr, &sp->forward_addr, &sp->dest_addr };
	static const char *const field[] = { "listen_endpoint.address",
		"forward_endpoint.address", "destination_endpoint.address" };
	for (int i = 0; i < 3; i++)
		if (!dp_addr_is_v4(addr[i]) && !dp_addr_is_v6(addr[i]))
			return fail(msg, msglen, DP_SESS_NOT_OURS, "%s: no address", field[i]);
	return 0;
}

/* The next hop's neighbour entry towards an IPv4 destination, referenced. */
static int next_hop4(struct dp *dp, int port, uint32_t dest, uint32_t *neigh, char *msg,
		size_t msglen)
{
	uint32_t nh;
	char a[16];
	if (next_hop(&dp->port[port], dest, &nh) != 0) {
		fmt_ip(dest, a);
		return fail(msg, msglen, DP_SESS_NO_ROUTE, "destination_endpoint.address: %s is "
				"not on a subnet of %s (which owns the forward address) and %s has no "
				"gateway", a, dp->port[port].name, dp->port[port].name);
	}
	*neigh = neigh_get(dp->neigh, (uint16_t)port, nh);
	if (*neigh == NEIGH_NONE)
		return fail(msg, msglen, DP_SESS_FULL,
				"destination_endpoint: the neighbour table is full");
	return 0;
}

int dp_sess_install(struct dp *dp, const struct dp_sess_spec *sp, struct dp_sess **out,
		char *msg, size_t msglen)
{
	int port = owner_of(dp, &sp->forward_addr);
	char a[DP_ADDR_STRLEN];
	int i, ret = check_families(sp, msg, msglen);

	if (ret != 0)
		return ret;
	if (!dp_addr_is_any(&sp->listen_addr) && owner_of(dp, &sp->listen_addr) < 0)
		return fail(msg, msglen, DP_SESS_NOT_OURS, "listen_endpoint.address: %s is not an "
				"address of this appliance", dp_addr_format(&sp->listen_addr, a,
					sizeof(a)));
	if (port < 0)
		return fail(msg, msglen, DP_SESS_NOT_OURS, "forward_endpoint.address: %s is not "
				"an address of this appliance", dp_addr_format(&sp->forward_addr, a,
					sizeof(a)));
	/* the forward address is the source of what goes to the destination */
	if (sp->forward_addr.family != sp->dest_addr.family)
		return fail(msg, msglen, DP_SESS_NO_ROUTE, "destination_endpoint.address: an IPv%u "
				"destination needs an IPv%u forward_endpoint.address",
				sp->dest_addr.family, sp->dest_addr.family);
	struct dp_sess *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return fail(msg, msglen, DP_SESS_FULL, "out of memory");
	ret = dp_addr_is_v6(&sp->dest_addr) ?
		dp_next_hop6(dp, (unsigned)port, sp->dest_addr.v6, &s->neigh, msg, msglen) :
		next_hop4(dp, port, sp->dest_addr.v4, &s->neigh, msg, msglen);
	if (ret != 0) {
		free(s);
		return ret;
	}

	for (i = 0; i < DP_FLOW_ROLES; i++)
		if (wanted(sp, i) && (s->flow[i] = make_flow(dp, sp, s->neigh,
						(enum dp_flow_role)i, (uint16_t)port)) == NULL) {
			release_unpublished(dp, s);
			return fail(msg, msglen, DP_SESS_FULL, "the flow table is full");
		}
	struct flow **f = s->flow;
	if (f[DP_FLOW_RTCP] != NULL)
		f[DP_FLOW_RTCP]->latch_rtp = f[DP_FLOW_RTP]->id;       /* RTCP follows RTP's latch */
	if (f[DP_FLOW_REV_RTP] != NULL)
		f[DP_FLOW_REV_RTP]->latch_flow = f[DP_FLOW_RTP]->id;
	if (f[DP_FLOW_REV_RTCP] != NULL) {
		f[DP_FLOW_REV_RTCP]->latch_flow = f[DP_FLOW_RTCP]->id;
		f[DP_FLOW_REV_RTCP]->latch_fallback = f[DP_FLOW_RTP]->id;
		f[DP_FLOW_REV_RTCP]->latch_port_add = 1;
	}
	for (i = 0; i < DP_FLOW_ROLES; i++) {
		if (f[i] == NULL)
			continue;
		ret = flow_add(dp->flows, f[i]);
		if (ret != 0)
			break;
	}
	if (ret == 0) {
		slowpath_resolve(dp, s->neigh, dp_now_ms());
		*out = s;
		return 0;
	}
	/* unpublish what went in; the defer queue gives those entries back */
	for (int j = 0; j < i; j++)
		if (f[j] != NULL) {
			flow_del(dp->flows, f[j]);
			f[j] = NULL;
		}
	flow_table_sync(dp->flows);
	release_unpublished(dp, s);
	if (ret == -EEXIST) {
		/* only a reverse flow can collide: the caller keeps listen ports apart */
		dp_addr_format(&sp->forward_addr, a, sizeof(a));
		return fail(msg, msglen, DP_SESS_IN_USE, "forward_endpoint: %s%s%s:%u already "
				"receives for another session", dp_addr_is_v6(&sp->forward_addr) ?
				"[" : "", a, dp_addr_is_v6(&sp->forward_addr) ? "]" : "",
				sp->forward_port);
	}
	return fail(msg, msglen, DP_SESS_FULL, "the flow table is full");
}

static void read_flow(const struct dp *dp, const struct flow *f, struct dp_flow_read *r)
{
	memset(r, 0, sizeof(*r));
	if (f == NULL)
		return;
	struct flow_stats stats;
	const struct flow_stats *fs = &stats;
	flow_stats_read(f, &stats);     /* with what control gave up moved to dropped */
	r->present = true;
	r->pkts_rx = fs->pkts_rx;
	r->bytes_rx = fs->bytes_rx;
	r->pkts_tx = fs->pkts_tx;
	r->bytes_tx = fs->bytes_tx;
	r->dropped = fs->dropped;
	/* what other workers dropped before the owner saw it: received and dropped */
	uint64_t lost, lost_bytes;
	flow_handoff_lost(f, &lost, &lost_bytes);
	r->pkts_rx += lost;
	r->bytes_rx += lost_bytes;
	r->dropped += lost;
	r->last_tsc = fs->last_tsc;
	r->lat_sum = fs->lat_sum;
	r->lat_max = fs->lat_max;
	r->lat_n = fs->lat_n;
	if (f->flags & FLOW_F_RTP_STATS) {
		struct rtp_state rs;
		flow_rtp_read(f, &rs);
		r->has_rtp = true;
		r->lost = rtp_lost(&rs);
		r->jitter_s = rtp_jitter(&rs) / (double)dp->clk_rate[f->last_pt & 0x7f];
	}
}

static void read_latch(const struct dp *dp, const struct dp_sess *s,
		struct dp_latch_read *out)
{
	const struct flow *f = s->flow[DP_FLOW_RTP];
	struct flow_latch l;
	memset(out, 0, sizeof(*out));
	if (f != NULL && (f->flags & FLOW_F_IN6)) {
		struct flow_latch6 l6;
		if (!flow_latch6_read(&flow6_of(dp->flows, f)->latch, &l6))
			return;
		out->latched = true;
		out->addr.family = DP_AF_INET6;
		memcpy(out->addr.v6, l6.ip, 16);
		out->port = ntohs(l6.port);
		out->gen = l6.seq;
		return;
	}
	if (f == NULL || !flow_latch_read(&f->latch, &l))
		return;
	out->latched = true;
	out->addr = dp_addr_v4(l.ip);
	out->port = ntohs(l.port);
	out->gen = l.seq;
}

static void read_next_hop(const struct dp *dp, const struct dp_sess *s, bool *failed,
		struct dp_addr *addr)
{
	const struct neigh_entry *e = &dp->neigh->ent[s->neigh];
	*failed = e->state == NEIGH_FAILED;
	if (e->v6) {
		memset(addr, 0, sizeof(*addr));
		addr->family = DP_AF_INET6;
		memcpy(addr->v6, e->ip6, 16);
	} else {
		*addr = dp_addr_v4(e->ip);
	}
}

void dp_sess_read(const struct dp *dp, const struct dp_sess *s, struct dp_sess_read *out)
{
	for (int i = 0; i < DP_FLOW_ROLES; i++)
		read_flow(dp, s->flow[i], &out->flow[i]);
	read_latch(dp, s, &out->latch);
	read_next_hop(dp, s, &out->next_hop_failed, &out->next_hop);
}

void dp_sess_status(const struct dp *dp, const struct dp_sess *s, struct dp_sess_status *out)
{
	out->last_tsc = 0;
	for (int i = 0; i < DP_FLOW_ROLES; i++)
		if (s->flow[i] != NULL && s->flow[i]->stats.last_tsc > out->last_tsc)
			out->last_tsc = s->flow[i]->stats.last_tsc;
	read_latch(dp, s, &out->latch);
	read_next_hop(dp, s, &out->next_hop_failed, &out->next_hop);
}

void dp_sess_remove(struct dp *dp, struct dp_sess *s, struct dp_sess_read *final)
{
	for (int i = 0; i < DP_FLOW_ROLES; i++)
		if (s->flow[i] != NULL)
			flow_del(dp->flows, s->flow[i]);
	/* after this no worker touches them: the counters are final */
	flow_table_sync(dp->flows);
	if (final != NULL)
		dp_sess_read(dp, s, final);
	neigh_put(dp->neigh, s->neigh);
	free(s);
}
