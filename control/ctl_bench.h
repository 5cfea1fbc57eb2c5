/* `rtpproxyctl bench`: CreateSession/DestroySession throughput and latency from C clients. */
#ifndef RTPPROXY_CTL_BENCH_H
#define RTPPROXY_CTL_BENCH_H

#include <stdbool.h>

#include "rpc_client.h"

/* argv[0] is "bench". Returns the process exit code (0, 1 on RPC errors, 2 on usage). */
int ctl_bench(const char *server, const struct rpc_client_opts *copts, bool json, int argc,
		char **argv);

#endif
