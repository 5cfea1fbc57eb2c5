/* A session's flows (rp_dp.h's dp_sess handle), for lib/ and the tests that look inside. */
#ifndef RTPPROXY_DP_SESS_H
#define RTPPROXY_DP_SESS_H

#include <stdint.h>

#include "flow.h"
#include "rp_dp.h"

struct dp_sess {
	struct flow *flow[DP_FLOW_ROLES];       /* installed flows, NULL when not */
	uint32_t neigh;                         /* next-hop entry the flows use */
};

#endif
