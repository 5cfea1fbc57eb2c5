/*
 * One rtpproxy session per stream, through the gRPC API: created before the traffic with
 * several calls in flight (one rpc_client per thread), destroyed after it, their final
 * forward stats summed from the DestroySession answers.
 */
#ifndef RTPGEN_SESSIONS_H
#define RTPGEN_SESSIONS_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "gen.h"

#define SESS_MAX_THREADS 64

struct sess_totals {
	uint64_t created;
	double create_s;                /* wall-clock time of the whole creation */
	uint64_t destroyed;
	uint64_t destroy_failed;
	double destroy_s;
	/* forward ("stats") figures of the destroyed sessions, summed */
	uint64_t rx_pkts, tx_pkts, dropped, lost;
	/* thread t created streams t, t + T, t + 2T, ...: the first done[t] of them */
	uint32_t threads;
	uint32_t done[SESS_MAX_THREADS];
	char err[512];                  /* the first error */
};

/* What the calling thread does while the client threads work: return once *done is true. */
typedef void (*sess_wait_fn)(void *arg, volatile bool *done);

/*
 * Create a session per stream (listen = the stream's destination: dst_prefix, the streams'
 * family and IPv6 /96, with the stream's low 32 bits). On failure (-1, t->err
 * set) the sessions created so far are recorded in t, for sess_destroy_all. `cpus`: where the
 * client threads may run (not pinned to the generator's lcore). `wait` (may be NULL) runs
 * meanwhile: rtpgen answers the DUT's ARP requests there, so that sessions whose next hop is
 * rtpgen's sink resolve while the rest are still being created.
 */
int sess_create_all(const struct gen_opts *o, const struct gen_stream *streams, uint32_t n,
		const struct gen_addr *dst_prefix, const cpu_set_t *cpus, sess_wait_fn wait,
		void *wait_arg, struct sess_totals *t);

/* Destroy what sess_create_all created; -1 (t->err set) if any call failed. */
int sess_destroy_all(const struct gen_opts *o, const cpu_set_t *cpus, struct sess_totals *t);

#endif
