/* The out-of-line part of a worker's IPv4 latching (lib/latch_rx.c). */
#ifndef RTPPROXY_LATCH_RX_H
#define RTPPROXY_LATCH_RX_H

#include <stdbool.h>
#include <stdint.h>

#include "dp.h"
#include "pkt.h"

/* A forward packet of flow f whose source is not the latch's (or whose latch still wants an
 * SSRC): latch.c's rules decide and update the latch. Whether it comes from the client. */
bool latch_rx_changed(struct worker *w, struct flow *f, const uint8_t *frame,
		const struct pkt_info *info, uint16_t rx_port);

#endif
