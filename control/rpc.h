/* The RtpProxy service: protobuf requests in, session manager calls, protobuf responses out. */
#ifndef RTPPROXY_RPC_H
#define RTPPROXY_RPC_H

#include <stdint.h>

#include "grpc_srv.h"
#include "rtpproxy.pb-c.h"

struct dp;
struct events;
struct sess_mgr;
struct sess_stats;
struct session;

struct rpc_ctx {
	struct sess_mgr *sessions;
	struct dp *dp;
	int64_t started_ms;     /* unix ms, for uptime */
	struct events *events;  /* StreamSessionEvents subscribers */
	/* packets the exception filter (nftables) dropped, shown under drops["filtered"];
	 * NULL: none */
	uint64_t (*kernel_filtered)(void *arg);
	void *kernel_filtered_arg;
};

/* A session as the API shows it, built in `a` (live stats, or the final ones once closed). */
Rtpproxy__SessionInfo *rpc_session_info(struct rpc_ctx *ctx, struct arena *a,
		const struct session *s);
Rtpproxy__SessionStats *rpc_session_stats(struct arena *a, const struct sess_stats *st);

/* One entry per method of rtpproxy__rtp_proxy__descriptor, in its order. */
extern const struct grpc_srv_method rpc_methods[];

#endif
