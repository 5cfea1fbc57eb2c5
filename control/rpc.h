/* The RtpProxy service: protobuf requests in, session manager calls, protobuf responses out. */
#ifndef RTPPROXY_RPC_H
#define RTPPROXY_RPC_H

#include <stdint.h>

#include "grpc_srv.h"

struct dp;
struct sess_mgr;

struct rpc_ctx {
	struct sess_mgr *sessions;
	struct dp *dp;
	int64_t started_ms;     /* unix ms, for uptime */
};

/* One entry per method of rtpproxy__rtp_proxy__descriptor, in its order. */
extern const struct grpc_srv_method rpc_methods[];

#endif
