/*
 * What the data plane and the session manager see of the configuration: config.h's
 * structures translated into rp_dp.h's and sess.h's (lib/ and control/ know nothing of
 * config.h).
 */
#include "config_views.h"

#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

/* A port's IPv6 addresses, gateway6 and neighbours after its IPv4 ones (the config checked
 * that both together fit). */
static void dp_conf_v6_from(struct dp_port_conf *p, const struct config_port *c)
{
	for (unsigned a = 0; a < c->n_addrs6; a++) {
		struct dp_prefix *x = &p->addrs[p->n_addrs++];
		x->addr.family = DP_AF_INET6;
		memcpy(x->addr.v6, &c->addrs6[a].addr, 16);
		x->len = c->addrs6[a].len;
	}
	if (c->has_gateway6) {
		p->gateway6.family = DP_AF_INET6;
		memcpy(p->gateway6.v6, &c->gateway6, 16);
	}
	for (unsigned n = 0; n < c->n_neighbors6; n++) {
		struct dp_neighbor *x = &p->neighbors[p->n_neighbors++];
		x->addr.family = DP_AF_INET6;
		memcpy(x->addr.v6, &c->neighbors6[n].addr, 16);
		memcpy(x->mac, c->neighbors6[n].mac, 6);
	}
}

void dp_conf_from(struct dp_conf *dc, const struct config *cfg)
{
	memset(dc, 0, sizeof(*dc));
	dc->n_ports = cfg->n_ports;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		const struct config_port *c = &cfg->ports[i];
		struct dp_port_conf *p = &dc->port[i];
		snprintf(p->name, sizeof(p->name), "%s", c->name);
		snprintf(p->device, sizeof(p->device), "%s", c->device);
		snprintf(p->exception, sizeof(p->exception), "%s", c->exception);
		p->n_addrs = c->n_addrs;
		for (unsigned a = 0; a < c->n_addrs; a++)
			p->addrs[a] = (struct dp_prefix){ dp_addr_v4(c->addrs[a].addr.s_addr),
				c->addrs[a].len };
		if (c->has_gateway)
			p->gateway = dp_addr_v4(c->gateway.s_addr);
		p->n_neighbors = c->n_neighbors;
		for (unsigned n = 0; n < c->n_neighbors; n++) {
			p->neighbors[n].addr = dp_addr_v4(c->neighbors[n].addr.s_addr);
			memcpy(p->neighbors[n].mac, c->neighbors[n].mac, 6);
		}
		dp_conf_v6_from(p, c);
		for (unsigned k = 0; k < c->n_kernel_allow; k++)
			if (c->kernel_allow[k].proto == IPPROTO_UDP)
				p->udp_allow[p->n_udp_allow++] = c->kernel_allow[k].port;
		p->exception_rate_pps = c->exception_rate_pps;
		p->vlan = (uint16_t)c->vlan;
	}
	dc->workers = cfg->workers;
	dc->mbufs = cfg->mbufs;
	dc->idle_sleep_us = cfg->idle_sleep_us;
	/* RTP and RTCP, forward and reverse: up to four flows per session */
	dc->max_flows = cfg->max_sessions * 4;
	memcpy(dc->clock_rate, cfg->clock_rate, sizeof(dc->clock_rate));
}

void sess_config_from(struct sess_config *sc, const struct config *cfg)
{
	memset(sc, 0, sizeof(*sc));
	sc->max_sessions = cfg->max_sessions;
	sc->port_min = cfg->port_min;
	sc->port_max = cfg->port_max;
	sc->idle_timeout_secs = cfg->idle_timeout_secs;
	sc->closed_retention_secs = cfg->closed_retention_secs;
	for (unsigned i = 0; i < cfg->n_allowed; i++) {
		uint8_t len = cfg->allowed[i].len;
		uint32_t mask = len ? htonl(~0u << (32 - len)) : 0;
		sc->allowed[sc->n_allowed].net = dp_addr_v4(cfg->allowed[i].addr.s_addr & mask);
		sc->allowed[sc->n_allowed++].len = len;
	}
	for (unsigned i = 0; i < cfg->n_allowed6; i++) {
		sc->allowed[sc->n_allowed].net.family = DP_AF_INET6;
		memcpy(sc->allowed[sc->n_allowed].net.v6, &cfg->allowed6[i].addr, 16);
		sc->allowed[sc->n_allowed++].len = cfg->allowed6[i].len;
	}
}
