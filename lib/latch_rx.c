/*
 * The worker's out-of-line half of IPv4 latching: a forward packet whose source is not what the
 * flow's latch holds. In its own file because clients rarely move (a call per such packet).
 */
#include "latch_rx.h"

#include <string.h>
#include <arpa/inet.h>
#include <rte_log.h>

#include "latch.h"
#include "log.h"

/* A forward packet whose source is not the latch's (or whose latch still wants an SSRC):
 * latch.c's rules decide. Out of line: clients rarely move. */
bool latch_rx_changed(struct worker *w, struct flow *f, const uint8_t *frame,
		const struct pkt_info *info, uint16_t rx_port)
{
	const uint8_t *ip = frame + info->l3_off;
	const uint8_t *udp = frame + info->l4_off;
	struct flow_latch src, rtp;
	const struct flow_latch *rtp_latch = NULL;
	uint32_t ssrc = 0;

	memset(&src, 0, sizeof(src));
	memcpy(&src.ip, ip + 12, 4);
	memcpy(&src.local_ip, ip + 16, 4);
	memcpy(&src.port, udp, 2);
	src.rx_port = rx_port;
	memcpy(src.mac, frame + 6, 6);
	bool has_ssrc = latch_pkt_ssrc(udp + 8, info->udp_payload, &ssrc);
	if (f->flags & FLOW_F_RTCP) {
		flow_latch_read(&flow_at(w->dp->flows, f->latch_rtp)->latch, &rtp);
		rtp_latch = &rtp;
	}
	uint32_t seq = f->latch.seq;
	bool from_client = latch_update(&f->latch, f->flags, rtp_latch, &src, has_ssrc, ssrc);
	if (unlikely(w->debug) && f->latch.seq != seq)
		RTE_LOG(DEBUG, DP, "worker %u: flow %u latched %u.%u.%u.%u:%u\n", w->index, f->id,
				ip[12], ip[13], ip[14], ip[15], ntohs(src.port));
	return from_client;
}
