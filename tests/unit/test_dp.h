/*
 * A data plane for in-process tests, built through the public dp_create (rp_dp.h) as the app
 * builds its own: two net_null ports, 198.18.1.1/24 (port0) and 198.18.2.1/24 (port1), each
 * with a net_null vdev standing in for its kernel interface (no TAP, no root), one worker
 * driven by the test itself (workers_inline).
 */
#ifndef RTPPROXY_TEST_DP_H
#define RTPPROXY_TEST_DP_H

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "rp_dp.h"

/* neighbor: a static next hop on port1 (NULL: none). NULL and a message on stderr on failure. */
static inline struct dp *test_dp_create(uint32_t max_flows, const struct dp_neighbor *neighbor)
{
	static struct dp_conf c;
	const char *addrs[] = { "198.18.1.1", "198.18.2.1" };
	char err[256];

	memset(&c, 0, sizeof(c));
	c.n_ports = 2;
	for (unsigned i = 0; i < 2; i++) {
		struct dp_port_conf *p = &c.port[i];
		snprintf(p->name, sizeof(p->name), "port%u", i);
		snprintf(p->device, sizeof(p->device), "net_null%u", i);
		snprintf(p->exception, sizeof(p->exception), "rtp%u", i);
		snprintf(p->exception_device, sizeof(p->exception_device), "net_null%u", 2 + i);
		p->addrs[0] = (struct dp_prefix){ dp_addr_v4(inet_addr(addrs[i])), 24 };
		p->n_addrs = 1;
	}
	if (neighbor != NULL) {
		c.port[1].neighbors[0] = *neighbor;
		c.port[1].n_neighbors = 1;
	}
	c.workers = 1;
	c.workers_inline = true;
	c.mbufs = 2047;
	c.max_flows = max_flows;
	c.max_neighbors = 64;
	struct dp *dp = dp_create(&c, err, sizeof(err));
	if (dp == NULL)
		fprintf(stderr, "dp_create: %s\n", err);
	return dp;
}

#endif
