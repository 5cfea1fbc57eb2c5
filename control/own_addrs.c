#include "own_addrs.h"

#include <string.h>

#include "rp_dp.h"

#define OWN_ADDRS_TTL_MS 1000

const struct validate_self *own_addrs(const struct dp *dp, int64_t now_ms)
{
	static struct validate_self self;
	static int64_t built_ms;
	static const struct dp *built_for;
	static char names[DP_MAX_PORTS][DP_NAME_LEN];

	if (built_for == dp && now_ms >= built_ms && now_ms - built_ms < OWN_ADDRS_TTL_MS)
		return &self;
	memset(&self, 0, sizeof(self));
	for (unsigned p = 0; p < dp_n_ports(dp) && p < DP_MAX_PORTS; p++) {
		struct dp_port_info pi;
		dp_port_info(dp, p, &pi);
		memcpy(names[p], pi.name, sizeof(names[p]));  /* self keeps the pointer */
		for (unsigned a = 0; a < pi.n_addrs; a++) {
			const struct dp_addr *x = &pi.addr[a];
			if (dp_addr_is_v4(x))
				validate_self_add4(&self, x->v4, pi.prefix_len[a], names[p]);
			else if (dp_addr_is_v6(x))
				validate_self_add6(&self, (const struct in6_addr *)x->v6, names[p]);
		}
	}
	validate_self_add_kernel(&self);        /* none listed: the ports' own still hold */
	built_ms = now_ms;
	built_for = dp;
	return &self;
}
