/*
 * StoredSession / StoredCounters (proto/state.proto) to and from the session manager's terms.
 * The request part is a CreateSessionRequest, parsed back by the RPC layer's own parser
 * (rpc_parse_create): a stored session means what the same request would mean now.
 */
#include "state_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "rpc.h"
#include "state.pb-c.h"

/* ---- addresses as text: the only place here that knows their form ---- */

static void ep_text(const struct dp_addr *addr, char buf[DP_ADDR_STRLEN])
{
	dp_addr_format(addr, buf, DP_ADDR_STRLEN);
}

static int ep_parse(const char *text, struct dp_addr *addr)
{
	return text != NULL ? dp_addr_parse(text, addr) : -1;
}

/* ---- encode ---- */

static void stats_msg(Rtpproxy__SessionStats *m, const struct sess_stats *s)
{
	rtpproxy__session_stats__init(m);
	m->packets_received = s->pkts_rx;
	m->packets_sent = s->pkts_tx;
	m->bytes_received = s->bytes_rx;
	m->bytes_sent = s->bytes_tx;
	m->packets_lost = s->lost;
	m->loss_rate = s->loss_rate;
	m->packets_dropped = s->dropped;
	m->avg_latency_ms = s->avg_latency_ms;
	m->max_latency_ms = s->max_latency_ms;
	m->jitter_ms = s->jitter_ms;
	m->last_activity_unix_ms = s->last_activity_ms;
}

static void stats_of(struct sess_stats *s, const Rtpproxy__SessionStats *m)
{
	memset(s, 0, sizeof(*s));
	if (m == NULL)
		return;
	s->pkts_rx = m->packets_received;
	s->pkts_tx = m->packets_sent;
	s->bytes_rx = m->bytes_received;
	s->bytes_tx = m->bytes_sent;
	s->lost = m->packets_lost;
	s->loss_rate = m->loss_rate;
	s->dropped = m->packets_dropped;
	s->avg_latency_ms = m->avg_latency_ms;
	s->max_latency_ms = m->max_latency_ms;
	s->jitter_ms = m->jitter_ms;
	s->last_activity_ms = m->last_activity_unix_ms;
}

/* What one endpoint or latch needs while the message is packed (all on the caller's stack). */
struct ep_buf {
	Rtpproxy__Endpoint ep;
	char text[DP_ADDR_STRLEN];
};

static Rtpproxy__Endpoint *ep_msg(struct ep_buf *b, const struct dp_addr *addr, uint16_t port)
{
	rtpproxy__endpoint__init(&b->ep);
	ep_text(addr, b->text);
	b->ep.address = b->text;
	b->ep.port = port;
	return &b->ep;
}

struct latch_buf {
	Rtpproxy__State__StoredLatch m;
	struct ep_buf src;
	char local[DP_ADDR_STRLEN];
	uint8_t mac[6];
};

static Rtpproxy__State__StoredLatch *latch_msg(struct latch_buf *b, const struct dp_latch_state *l)
{
	if (l == NULL || dp_addr_is_none(&l->addr))
		return NULL;
	rtpproxy__state__stored_latch__init(&b->m);
	b->m.source = ep_msg(&b->src, &l->addr, l->port);
	memcpy(b->mac, l->mac, 6);
	b->m.mac.data = b->mac;
	b->m.mac.len = 6;
	b->m.rx_port = l->rx_port;
	ep_text(&l->local_addr, b->local);
	b->m.local_address = b->local;
	b->m.has_ssrc = l->has_ssrc;
	b->m.ssrc = l->ssrc;
	return &b->m;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *out = malloc(*len ? *len : 1);
	if (out != NULL)
		protobuf_c_message_pack(m, out);
	return out;
}

uint8_t *state_encode_def(const struct session *s, const struct dp_latch_state *latch,
		const struct dp_latch_state *latch_rtcp, size_t *len)
{
	Rtpproxy__State__StoredSession m;
	Rtpproxy__CreateSessionRequest req;
	struct ep_buf l, f, d;
	struct latch_buf lb, lrb;
	Rtpproxy__CreateSessionRequest__LabelsEntry ent[s->n_labels + 1];
	Rtpproxy__CreateSessionRequest__LabelsEntry *ents[s->n_labels + 1];

	rtpproxy__create_session_request__init(&req);
	req.session_id = (char *)s->id;
	req.listen_endpoint = ep_msg(&l, &s->listen.addr, s->listen.port);
	req.forward_endpoint = ep_msg(&f, &s->forward.addr, s->forward.port);
	req.destination_endpoint = ep_msg(&d, &s->dest.addr, s->dest.port);
	req.transport = s->transport == SESS_TCP ? RTPPROXY__TRANSPORT__TRANSPORT_TCP :
		RTPPROXY__TRANSPORT__TRANSPORT_UDP;
	req.enable_rtcp = s->rtcp;
	req.bidirectional = s->bidir;
	req.idle_timeout_secs = s->idle_timeout_secs;
	req.rate_limit_pps = s->rate_pps;
	req.rate_limit_bps = s->rate_bps;
	req.validate_rtp = s->validate_rtp;
	req.latch_mode = (Rtpproxy__LatchMode)s->latch_mode;
	req.strict_source = s->strict_source;
	for (unsigned i = 0; i < s->n_labels; i++) {
		rtpproxy__create_session_request__labels_entry__init(&ent[i]);
		ent[i].key = s->labels[i].key;
		ent[i].value = s->labels[i].value;
		ents[i] = &ent[i];
	}
	req.n_labels = s->n_labels;
	req.labels = ents;

	rtpproxy__state__stored_session__init(&m);
	m.version = STATE_RECORD_VERSION;
	m.request = &req;
	m.state = (Rtpproxy__SessionState)s->state;
	m.created_unix_ms = s->created_ms;
	m.error_message = (char *)sess_error(s);
	m.latch = latch_msg(&lb, latch);
	if (m.latch != NULL)
		m.latch->rtcp = latch_msg(&lrb, latch_rtcp);
	return pack(&m.base, len);
}

uint8_t *state_encode_ctr(int64_t now_ms, const struct sess_stats *rtp,
		const struct sess_stats *rev, const struct sess_stats *rtcp, size_t *len)
{
	Rtpproxy__State__StoredCounters m;
	Rtpproxy__SessionStats a, b, c;
	rtpproxy__state__stored_counters__init(&m);
	m.checkpoint_unix_ms = now_ms;
	stats_msg(&a, rtp);
	stats_msg(&b, rev);
	stats_msg(&c, rtcp);
	m.stats = &a;
	m.reverse_stats = &b;
	m.rtcp_stats = &c;
	return pack(&m.base, len);
}

/* ---- decode ---- */

static int latch_of(struct dp_latch_state *l, const Rtpproxy__State__StoredLatch *m,
		char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	if (m == NULL)
		return 0;
	if (m->source == NULL || ep_parse(m->source->address, &l->addr) != 0 ||
			m->source->port == 0 || m->source->port > 65535) {
		snprintf(err, errlen, "latch.source: not an address and port");
		return -1;
	}
	if (m->mac.len != 6) {
		snprintf(err, errlen, "latch.mac: %zu bytes, not 6", m->mac.len);
		return -1;
	}
	if (ep_parse(m->local_address, &l->local_addr) != 0) {
		snprintf(err, errlen, "latch.local_address: not an address");
		return -1;
	}
	if (m->rx_port >= DP_MAX_PORTS) {
		snprintf(err, errlen, "latch.rx_port: %u is not a port index", m->rx_port);
		return -1;
	}
	l->port = (uint16_t)m->source->port;
	memcpy(l->mac, m->mac.data, 6);
	l->rx_port = (uint16_t)m->rx_port;
	l->has_ssrc = m->has_ssrc;
	l->ssrc = m->ssrc;
	return 0;
}

static int decode_ctr(struct state_rec *r, const uint8_t *ctr, size_t len, char *err,
		size_t errlen)
{
	Rtpproxy__State__StoredCounters *c = rtpproxy__state__stored_counters__unpack(NULL, len,
			ctr);
	if (c == NULL) {
		snprintf(err, errlen, "ctr: not a StoredCounters record");
		return -1;
	}
	stats_of(&r->base.rtp, c->stats);
	stats_of(&r->base.rev, c->reverse_stats);
	stats_of(&r->base.rtcp, c->rtcp_stats);
	r->checkpoint_ms = c->checkpoint_unix_ms;
	r->has_counters = true;
	r->restore.base = &r->base;
	rtpproxy__state__stored_counters__free_unpacked(c, NULL);
	return 0;
}

int state_decode(const uint8_t *def, size_t def_len, const uint8_t *ctr, size_t ctr_len,
		struct state_rec *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	Rtpproxy__State__StoredSession *m = rtpproxy__state__stored_session__unpack(NULL,
			def_len, def);
	if (m == NULL) {
		snprintf(err, errlen, "def: not a StoredSession record");
		return -1;
	}
	out->msg = m;
	if (m->version != STATE_RECORD_VERSION) {
		snprintf(err, errlen, "def.version: %u, this build reads %d", m->version,
				STATE_RECORD_VERSION);
		goto fail;
	}
	if (m->request == NULL || m->request->session_id == NULL ||
			m->request->session_id[0] == '\0') {
		snprintf(err, errlen, "def.request.session_id: missing");
		goto fail;
	}
	out->labels = calloc(m->request->n_labels + 1, sizeof(*out->labels));
	if (out->labels == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	struct rpc_error re = { 0 };
	if (rpc_parse_create(m->request, &out->params, out->labels, &re) != GRPC_STATUS_OK) {
		snprintf(err, errlen, "def.request.%s", re.message);
		goto fail;
	}
	switch (m->state) {
	case RTPPROXY__SESSION_STATE__SESSION_STATE_CREATED:
	case RTPPROXY__SESSION_STATE__SESSION_STATE_CONNECTING:
		out->restore.state = SESS_CONNECTING;
		break;
	case RTPPROXY__SESSION_STATE__SESSION_STATE_ACTIVE:
		out->restore.state = SESS_ACTIVE;
		break;
	case RTPPROXY__SESSION_STATE__SESSION_STATE_ERROR:
		out->restore.state = SESS_ERROR;
		break;
	default:
		snprintf(err, errlen, "def.state: %d is not a live state", m->state);
		goto fail;
	}
	snprintf(out->error, sizeof(out->error), "%s", m->error_message ? m->error_message : "");
	out->restore.error = out->error;
	out->restore.created_ms = m->created_unix_ms;
	if (latch_of(&out->latch, m->latch, err, errlen) != 0 ||
			latch_of(&out->latch_rtcp, m->latch ? m->latch->rtcp : NULL, err,
				errlen) != 0)
		goto fail;
	out->restore.latch = &out->latch;
	out->restore.latch_rtcp = &out->latch_rtcp;
	if (ctr != NULL && decode_ctr(out, ctr, ctr_len, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	state_rec_free(out);
	return -1;
}

void state_rec_free(struct state_rec *r)
{
	if (r->msg != NULL)
		rtpproxy__state__stored_session__free_unpacked(r->msg, NULL);
	free(r->labels);
	memset(r, 0, sizeof(*r));
}
