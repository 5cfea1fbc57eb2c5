/* The exception path's protections from the config: the nftables filter and the data plane's
 * per-port limits (API.md 1.3), wired to the session manager and GetProxyStats. */
#ifndef RTPPROXY_EXCEPTION_H
#define RTPPROXY_EXCEPTION_H

#include "config.h"

struct dp;
struct exfilter;
struct rpc_ctx;
struct sess_mgr;

/* Create `table inet rtpproxy` for the configured ports. NULL (logged) when it cannot be. */
struct exfilter *exception_filter_start(const struct config *cfg);

/* Port idx's exception_rate_pps and kernel_allow UDP ports into the data plane (after the
 * workers are set up, before they run). */
void exception_port_setup(struct dp *dp, unsigned idx, const struct config_port *c);

/* TCP sessions' listeners into the filter's set; its counter into drops["filtered"]. */
void exception_attach(struct exfilter *f, struct sess_mgr *sm, struct rpc_ctx *ctx);

#endif
