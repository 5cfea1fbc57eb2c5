#include "log.h"

RTE_LOG_REGISTER(rtpproxy_logtype_app, rtpproxy.app, INFO);
RTE_LOG_REGISTER(rtpproxy_logtype_dp, rtpproxy.dp, INFO);
RTE_LOG_REGISTER(rtpproxy_logtype_sess, rtpproxy.sess, INFO);
RTE_LOG_REGISTER(rtpproxy_logtype_grpc, rtpproxy.grpc, INFO);
RTE_LOG_REGISTER(rtpproxy_logtype_audit, rtpproxy.audit, INFO);
