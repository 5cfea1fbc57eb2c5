#include "exception.h"

#include <stdio.h>
#include <string.h>
#include <rte_log.h>

#include "exfilter.h"
#include "log.h"
#include "rpc.h"
#include "sess.h"

/* The kernel interface under a raw-socket vdev ("net_af_packet0,iface=veth0", af_xdp, pcap),
 * or "". */
static void raw_ifname_of(const char *device, char *out, size_t len)
{
	const char *iface = strstr(device, "iface=");
	out[0] = '\0';
	if (iface != NULL && (strncmp(device, "net_af_packet", 13) == 0 ||
				strncmp(device, "net_af_xdp", 10) == 0 ||
				strncmp(device, "net_pcap", 8) == 0))
		snprintf(out, len, "%.*s", (int)strcspn(iface + 6, ","), iface + 6);
}

struct exfilter *exception_filter_start(const struct config *cfg)
{
	static struct exfilter_config xc;
	char err[512];

	memset(&xc, 0, sizeof(xc));
	xc.n_ports = cfg->n_ports;
	for (unsigned i = 0; i < cfg->n_ports && i < EXFILTER_MAX_PORTS; i++) {
		const struct config_port *c = &cfg->ports[i];
		struct exfilter_port *p = &xc.port[i];
		snprintf(p->ifname, sizeof(p->ifname), "%s", c->exception);
		raw_ifname_of(c->device, p->raw_ifname, sizeof(p->raw_ifname));
		for (unsigned s = 0; s < c->n_kernel_allow && s < EXFILTER_MAX_SERVICES; s++) {
			p->allow[s].proto = c->kernel_allow[s].proto;
			p->allow[s].port = c->kernel_allow[s].port;
		}
		p->n_allow = RTE_MIN(c->n_kernel_allow, (unsigned)EXFILTER_MAX_SERVICES);
	}
	struct exfilter *f = exfilter_start(&xc, err, sizeof(err));
	if (f == NULL)
		RTE_LOG(ERR, APP, "%s\n", err);
	else
		RTE_LOG(INFO, APP, "exception filter: nftables table inet %s\n", EXFILTER_TABLE);
	return f;
}

static int listen_added(void *f, const struct dp_addr *addr, uint16_t port, char *err,
		size_t errlen)
{
	return exfilter_tcp_listen(f, addr, port, true, err, errlen);
}

static void listen_removed(void *f, const struct dp_addr *addr, uint16_t port)
{
	char err[512];
	if (exfilter_tcp_listen(f, addr, port, false, err, sizeof(err)) != 0)
		RTE_LOG(WARNING, APP, "%s\n", err);
}

static uint64_t filtered(void *f)
{
	return exfilter_dropped(f);
}

void exception_attach(struct exfilter *f, struct sess_mgr *sm, struct rpc_ctx *ctx)
{
	struct sess_tcp_hook h = { .ctx = f, .listen_added = listen_added,
		.listen_removed = listen_removed };
	sess_set_tcp_hook(sm, &h);
	ctx->kernel_filtered = filtered;
	ctx->kernel_filtered_arg = f;
}
