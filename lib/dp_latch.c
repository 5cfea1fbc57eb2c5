/*
 * A session's latch in full, out of and back into the data plane: the state store keeps it so
 * that a restored bidirectional session sends to its client before the client sends again.
 */
#include <string.h>
#include <arpa/inet.h>

#include "dp.h"
#include "dp_sess.h"

static struct flow *latch_flow(const struct dp_sess *s, enum dp_flow_role role)
{
	if (role != DP_FLOW_RTP && role != DP_FLOW_RTCP)
		return NULL;
	return s->flow[role];
}

bool dp_sess_get_latch(const struct dp *dp, const struct dp_sess *s, enum dp_flow_role role,
		struct dp_latch_state *out)
{
	const struct flow *f = latch_flow(s, role);
	struct flow_latch l;
	(void)dp;
	memset(out, 0, sizeof(*out));
	if (f == NULL || !flow_latch_read(&f->latch, &l))
		return false;
	out->addr = dp_addr_v4(l.ip);
	out->port = ntohs(l.port);
	memcpy(out->mac, l.mac, 6);
	out->rx_port = l.rx_port;
	out->local_addr = dp_addr_v4(l.local_ip);
	out->has_ssrc = l.has_ssrc != 0;
	out->ssrc = ntohl(l.ssrc);
	return true;
}

int dp_sess_set_latch(struct dp *dp, struct dp_sess *s, enum dp_flow_role role,
		const struct dp_latch_state *in)
{
	struct flow *f = latch_flow(s, role);
	if (f == NULL || !dp_addr_is_v4(&in->addr) || in->addr.v4 == 0 ||
			in->rx_port >= dp->n_ports || !dp_addr_is_v4(&in->local_addr))
		return -1;
	if (in->local_addr.v4 != 0 && dp_owner_of(dp, in->local_addr.v4) < 0)
		return -1;
	struct flow_latch v = {
		.ip = in->addr.v4,
		.port = htons(in->port),
		.rx_port = in->rx_port,
		.local_ip = in->local_addr.v4,
		.has_ssrc = in->has_ssrc,
		.ssrc = htonl(in->ssrc),
	};
	memcpy(v.mac, in->mac, 6);
	/*
	 * The worker is the latch's writer: take the write side only while nothing latched yet
	 * (a packet that got there first wins). Should the worker latch at this very moment,
	 * both writers end on an even sequence (no reader spins) and the next packet corrects it.
	 */
	uint32_t seq = __atomic_load_n(&f->latch.seq, __ATOMIC_ACQUIRE);
	if ((seq & 1) || f->latch.ip != 0)
		return -1;
	if (!__atomic_compare_exchange_n(&f->latch.seq, &seq, seq + 1, false,
				__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return -1;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	f->latch.port = v.port;
	f->latch.rx_port = v.rx_port;
	f->latch.local_ip = v.local_ip;
	memcpy(f->latch.mac, v.mac, 6);
	f->latch.has_ssrc = v.has_ssrc;
	f->latch.ssrc = v.ssrc;
	f->latch.ip = v.ip;
	__atomic_store_n(&f->latch.seq, seq + 2, __ATOMIC_RELEASE);
	return 0;
}
