/* The exception path's protection from the config: the nftables filter (API.md 1.3), wired to
 * the session manager and GetProxyStats (the data plane's per-port limits are in dp_conf). */
#ifndef RTPPROXY_EXCEPTION_H
#define RTPPROXY_EXCEPTION_H

#include "config.h"

struct exfilter;
struct rpc_ctx;
struct sess_mgr;

/* Create `table inet rtpproxy` for the configured ports. NULL (logged) when it cannot be. */
struct exfilter *exception_filter_start(const struct config *cfg);

/* TCP sessions' listeners into the filter's set; its counter into drops["filtered"]. */
void exception_attach(struct exfilter *f, struct sess_mgr *sm, struct rpc_ctx *ctx);

#endif
