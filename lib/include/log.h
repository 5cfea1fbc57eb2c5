/*
 * rtpproxy's log types, so RTE_LOG(INFO, DP, ...) prints "DP: ..." and the level of each
 * can be set on its own (rte_log_set_level_pattern("rtpproxy.*", level)).
 */
#ifndef RTPPROXY_LOG_H
#define RTPPROXY_LOG_H

#include <rte_log.h>

extern int rtpproxy_logtype_app;   /* rtpproxy.app: start-up, shutdown */
extern int rtpproxy_logtype_dp;    /* rtpproxy.dp: ports, workers, neighbours, per packet */
extern int rtpproxy_logtype_sess;  /* rtpproxy.sess: session lifecycle */
extern int rtpproxy_logtype_grpc;  /* rtpproxy.grpc: the API server and event streams */
extern int rtpproxy_logtype_audit; /* rtpproxy.audit: the audit trail when [audit] file is "" */

#define RTE_LOGTYPE_APP rtpproxy_logtype_app
#define RTE_LOGTYPE_DP rtpproxy_logtype_dp
#define RTE_LOGTYPE_SESS rtpproxy_logtype_sess
#define RTE_LOGTYPE_GRPC rtpproxy_logtype_grpc
#define RTE_LOGTYPE_AUDIT rtpproxy_logtype_audit

#endif
