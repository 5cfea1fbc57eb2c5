/* The RtpProxy service: protobuf requests in, session manager calls, protobuf responses out. */
#ifndef RTPPROXY_RPC_H
#define RTPPROXY_RPC_H

#include <stdint.h>

#include "grpc_srv.h"
#include "rtpproxy.pb-c.h"

struct dp;
struct events;
struct sess_mgr;
struct sess_label;
struct sess_params;
struct sess_stats;
struct session;
struct state;

struct rpc_ctx {
	struct sess_mgr *sessions;
	struct dp *dp;
	int64_t started_ms;     /* unix ms, for uptime */
	struct events *events;  /* StreamSessionEvents subscribers */
	/* packets the exception filter (nftables) dropped, shown under drops["filtered"];
	 * NULL: none */
	uint64_t (*kernel_filtered)(void *arg);
	void *kernel_filtered_arg;
	struct state *state;    /* the state backend (1.6); NULL with backend = none */
	/* a hot standby (1.6) changes no session: Create/Destroy answer UNAVAILABLE while this
	 * says so; NULL: never */
	bool (*standing_by)(void *arg);
	void *standing_by_arg;
};

/* A session as the API shows it, built in `a` (live stats, or the final ones once closed). */
Rtpproxy__SessionInfo *rpc_session_info(struct rpc_ctx *ctx, struct arena *a,
		const struct session *s);
Rtpproxy__SessionStats *rpc_session_stats(struct arena *a, const struct sess_stats *st);

/* A CreateSessionRequest as the session manager's parameters, checked for form as
 * CreateSession does (the state store reads its records back with it); labels: n_labels
 * entries, pointing into r. */
grpc_status_code rpc_parse_create(const Rtpproxy__CreateSessionRequest *r,
		struct sess_params *p, struct sess_label *labels, struct rpc_error *err);

/* One entry per method of rtpproxy__rtp_proxy__descriptor, in its order. */
extern const struct grpc_srv_method rpc_methods[];

#endif
