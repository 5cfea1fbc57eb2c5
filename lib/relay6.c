/* IPv6 and IPv4 <-> IPv6 relaying for the worker (relay6.h). */
#include "relay6.h"

#include <string.h>
#include <arpa/inet.h>
#include <rte_branch_prediction.h>
#include <rte_log.h>

#include "latch.h"
#include "log.h"
#include "lookup.h"

bool relay6_from_peer(const struct dp *dp, const struct flow *f, const uint8_t *frame,
		const struct pkt_info *info)
{
	const uint8_t *ip = frame + info->l3_off;
	const uint8_t *udp = frame + info->l4_off;
	uint16_t sport;
	memcpy(&sport, udp, 2);
	return sport == f->peer_port && memcmp(ip + 8, flow6_of(dp->flows, f)->peer_ip, 16) == 0;
}

/* The packet's source is not what the latch holds (or the latch wants an SSRC still):
 * latch.c's rules decide. Out of line: clients rarely move. */
static __rte_noinline bool latch6_changed(struct worker *w, struct flow *f,
		const uint8_t *frame, const struct pkt_info *info, uint16_t rx_port)
{
	const struct flow_table *ft = w->dp->flows;
	const uint8_t *ip = frame + info->l3_off;
	const uint8_t *udp = frame + info->l4_off;
	struct flow_latch6 *l = &flow6_of(ft, f)->latch;
	struct flow_latch6 src, rtp;
	const struct flow_latch6 *rtp_latch = NULL;
	uint32_t ssrc = 0;

	memset(&src, 0, sizeof(src));
	memcpy(src.ip, ip + 8, 16);
	memcpy(src.local_ip, ip + 24, 16);
	memcpy(&src.port, udp, 2);
	src.rx_port = rx_port;
	memcpy(src.mac, frame + 6, 6);
	bool has_ssrc = latch_pkt_ssrc(udp + 8, info->udp_payload, &ssrc);
	if (f->flags & FLOW_F_RTCP) {
		flow_latch6_read(&flow6_of(ft, flow_at(ft, f->latch_rtp))->latch, &rtp);
		rtp_latch = &rtp;
	}
	uint32_t seq = l->seq;
	bool from_client = latch_update6(l, f->flags, rtp_latch, &src, has_ssrc, ssrc);
	if (unlikely(w->debug) && l->seq != seq) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, src.ip, a, sizeof(a));
		RTE_LOG(DEBUG, DP, "worker %u: flow %u latched [%s]:%u\n", w->index, f->id, a,
				ntohs(src.port));
	}
	return from_client;
}

bool relay6_latch_source(struct worker *w, struct flow *f, const uint8_t *frame,
		const struct pkt_info *info, uint16_t rx_port)
{
	const uint8_t *ip = frame + info->l3_off;
	const uint8_t *udp = frame + info->l4_off;
	const struct flow_latch6 *l = &flow6_of(w->dp->flows, f)->latch;
	uint16_t sport;

	memcpy(&sport, udp, 2);
	/* the latched client as it was (the latch's own address is never all zero): compared
	 * in place, no copy; SSRC mode wants its SSRC, until it has it every packet looks */
	if (likely(sport == l->port && rx_port == l->rx_port &&
				memcmp(ip + 8, l->ip, 16) == 0 && memcmp(ip + 24, l->local_ip, 16) == 0 &&
				memcmp(frame + 6, l->mac, 4) == 0 && memcmp(frame + 10, l->mac + 4, 2) == 0 &&
				!flow_dir_any6(l->ip) &&
				(l->has_ssrc || (f->flags & (FLOW_F_LATCH_FIRST | FLOW_F_LATCH_ANY)))))
		return true;
	return latch6_changed(w, f, frame, info, rx_port);
}

/* Make the mbuf start `grow` bytes earlier (later when negative) and end `len` bytes after
 * its new start; false when its headroom is too small. */
static bool reframe(struct rte_mbuf *m, int grow, uint32_t len)
{
	if (grow > 0 ? rte_pktmbuf_prepend(m, (uint16_t)grow) == NULL :
			grow < 0 && rte_pktmbuf_adj(m, (uint16_t)-grow) == NULL)
		return false;
	if (m->pkt_len > len)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - len));
	return true;
}

/* Leaving as IPv6: from the latched IPv6 client (reverse) or to the destination. */
static enum dp_drop out6(struct worker *w, struct rte_mbuf *m, const struct pkt_info *info,
		struct flow *f, uint16_t *tx_port, bool *resolved)
{
	struct dp *dp = w->dp;
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct pkt_rewrite6 rw;

	if (f->flags & FLOW_F_REVERSE) {
		struct flow_latch6 t;
		if (!latch_reverse_target6(dp->flows, f, &t))
			return DROP_NO_FLOW;    /* no client has spoken yet */
		*tx_port = t.rx_port;
		memcpy(rw.src_ip, t.local_ip, 16);
		memcpy(rw.dst_ip, t.ip, 16);
		rw.dst_port = t.port;
		memcpy(rw.dst_mac, t.mac, 6);
		*resolved = true;
	} else {
		const struct flow6 *f6 = flow6_of(dp->flows, f);
		*tx_port = f->tx_port;
		memcpy(rw.src_ip, f6->src_ip, 16);
		memcpy(rw.dst_ip, f6->dst_ip, 16);
		rw.dst_port = f->dst_port;
		*resolved = neigh_mac_get(dp->neigh, f->neigh, rw.dst_mac);
	}
	rw.src_port = f->src_port;
	memcpy(rw.src_mac, dp->port[*tx_port].mac.addr_bytes, 6);
	if (f->flags & FLOW_F_IN6) {
		pkt_rewrite_udp6(frame, info, &rw);
		return DROP_MAX;
	}
	/* 4 -> 6: IPv6's checksum must be right, so a wrong IPv4 one is malformed (unless the
	 * NIC has vouched for it; none at all is computed whole) */
	uint16_t ck;
	memcpy(&ck, frame + info->l4_off + 6, 2);
	if (ck != 0 && !rx_l4_good(m) && !pkt_udp4_csum_ok(frame, info))
		return DROP_MALFORMED;
	/* 20 bytes more in front (IPv4 options: fewer), within the egress MTU */
	uint32_t ulen = info->udp_payload + 8u;
	if (PKT_IP6_HLEN + ulen > dp->port[*tx_port].mtu ||
			!reframe(m, PKT_XLATE6_HDRS - info->l4_off, PKT_XLATE6_HDRS + ulen))
		return DROP_TOO_BIG;
	pkt_xlate_4to6(frame, info, &rw);
	return DROP_MAX;
}

/* 6 -> 4: to the latched IPv4 client (reverse) or to the IPv4 destination. */
static enum dp_drop out4(struct worker *w, struct rte_mbuf *m, const struct pkt_info *info,
		struct flow *f, uint16_t *tx_port, bool *resolved)
{
	struct dp *dp = w->dp;
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct pkt_rewrite rw;

	if (f->flags & FLOW_F_REVERSE) {
		struct flow_latch t;
		if (!latch_reverse_target(dp->flows, f, &t))
			return DROP_NO_FLOW;
		*tx_port = t.rx_port;
		rw.src_ip = t.local_ip;
		rw.dst_ip = t.ip;
		rw.dst_port = t.port;
		memcpy(rw.dst_mac, t.mac, 6);
		*resolved = true;
	} else {
		*tx_port = f->tx_port;
		rw.src_ip = f->src_ip;
		rw.dst_ip = f->dst_ip;
		rw.dst_port = f->dst_port;
		*resolved = neigh_mac_get(dp->neigh, f->neigh, rw.dst_mac);
	}
	rw.src_port = f->src_port;
	memcpy(rw.src_mac, dp->port[*tx_port].mac.addr_bytes, 6);
	pkt_xlate_6to4(frame, info, &rw);
	/* 20 bytes fewer in front: cannot fail */
	reframe(m, PKT_XLATE4_HDRS - info->l4_off, PKT_XLATE4_HDRS + info->udp_payload + 8u);
	return DROP_MAX;
}

enum dp_drop relay6_rewrite(struct worker *w, struct rte_mbuf *m, const struct pkt_info *info,
		struct flow *f, uint16_t *tx_port, bool *resolved)
{
	enum dp_drop why = f->flags & FLOW_F_OUT6 ? out6(w, m, info, f, tx_port, resolved) :
		out4(w, m, info, f, tx_port, resolved);
	if (unlikely(w->debug) && why == DROP_MAX)
		RTE_LOG(DEBUG, DP, "worker %u: flow %u relayed %u payload bytes as IPv%c via %s\n",
				w->index, f->id, info->udp_payload,
				f->flags & FLOW_F_OUT6 ? '6' : '4', w->dp->port[*tx_port].name);
	return why;
}
