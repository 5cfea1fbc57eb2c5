#include "sessions.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "rpc_client.h"
#include "rtpproxy.pb-c.h"

#define METHOD(name) "/rtpproxy.RtpProxy/" name
#define CALL_DEADLINE_MS 10000

struct sess_job {
	const struct gen_opts *o;
	const struct gen_stream *streams;
	const struct gen_addr *dst_prefix;
	uint32_t n, t, threads;
	bool destroy;
	volatile bool *stop;
	uint32_t *running;              /* jobs not finished yet; the last one sets *all_done */
	volatile bool *all_done;
	/* results */
	uint32_t done;
	uint64_t destroyed, destroy_failed, rx, tx, dropped, lost;
	char err[512];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static grpc_status_code create_one(struct sess_job *j, struct rpc_client *c, uint32_t i,
		struct rpc_status *st)
{
	const struct gen_opts *o = j->o;
	const struct gen_stream *s = &j->streams[i];
	char id[64], laddr[GEN_ADDR_TEXT], faddr[GEN_ADDR_TEXT], daddr[GEN_ADDR_TEXT];
	struct gen_addr l, f;
	Rtpproxy__Endpoint listen = RTPPROXY__ENDPOINT__INIT;
	Rtpproxy__Endpoint fwd = RTPPROXY__ENDPOINT__INIT;
	Rtpproxy__Endpoint dst = RTPPROXY__ENDPOINT__INIT;
	Rtpproxy__CreateSessionRequest req = RTPPROXY__CREATE_SESSION_REQUEST__INIT;
	uint32_t sink_ports = (65535u - o->sink_port_base) / 2 + 1;
	ProtobufCMessage *resp = NULL;
	grpc_status_code code;

	snprintf(id, sizeof(id), "%s%u", o->session_prefix, i);
	l = gen_addr_with_low32(j->dst_prefix, ntohl(s->dst_ip));
	f = gen_addr_with_low32(&o->fwd_addr, gen_addr_low32(&o->fwd_addr) + i % o->fwd_addrs);
	gen_addr_text(&l, laddr);
	gen_addr_text(&f, faddr);
	gen_addr_text(&o->sink_addr, daddr);
	listen.address = laddr;
	listen.port = ntohs(s->dst_port);
	fwd.address = faddr;
	fwd.port = o->fwd_port_base ? o->fwd_port_base + 2 * (i / o->fwd_addrs) : 0;
	dst.address = daddr;
	dst.port = o->sink_port_base + 2 * (i % sink_ports);
	req.session_id = id;
	req.listen_endpoint = &listen;
	req.forward_endpoint = &fwd;
	req.destination_endpoint = &dst;
	req.transport = RTPPROXY__TRANSPORT__TRANSPORT_UDP;
	req.bidirectional = o->bidirectional;
	req.idle_timeout_secs = o->idle_timeout;
	code = rpc_call_unary(c, METHOD("CreateSession"), &req.base,
			&rtpproxy__create_session_response__descriptor, &resp, st,
			CALL_DEADLINE_MS);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return code;
}

static void destroy_one(struct sess_job *j, struct rpc_client *c, uint32_t i)
{
	Rtpproxy__DestroySessionRequest req = RTPPROXY__DESTROY_SESSION_REQUEST__INIT;
	Rtpproxy__DestroySessionResponse *resp = NULL;
	struct rpc_status st;
	char id[64];

	snprintf(id, sizeof(id), "%s%u", j->o->session_prefix, i);
	req.session_id = id;
	if (rpc_call_unary(c, METHOD("DestroySession"), &req.base,
			&rtpproxy__destroy_session_response__descriptor,
			(ProtobufCMessage **)&resp, &st, CALL_DEADLINE_MS) != GRPC_STATUS_OK) {
		j->destroy_failed++;
		if (j->err[0] == '\0')
			snprintf(j->err, sizeof(j->err), "DestroySession %s: %s: %.300s", id,
					rpc_status_name(st.code), st.message);
		return;
	}
	j->destroyed++;
	if (resp->session != NULL && resp->session->stats != NULL) {
		const Rtpproxy__SessionStats *s = resp->session->stats;
		j->rx += s->packets_received;
		j->tx += s->packets_sent;
		j->dropped += s->packets_dropped;
		j->lost += s->packets_lost;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void *job_main(void *arg)
{
	struct sess_job *j = arg;
	struct rpc_client *c;
	struct rpc_status st;
	char err[256];

	c = rpc_client_connect(j->o->grpc_target, err, sizeof(err));
	if (c == NULL) {
		snprintf(j->err, sizeof(j->err), "%s: %s", j->o->grpc_target, err);
		*j->stop = true;
		return NULL;
	}
	if (j->destroy) {
		for (uint32_t k = 0; k < j->done; k++)
			destroy_one(j, c, j->t + k * j->threads);
	} else {
		for (uint32_t i = j->t; i < j->n && !*j->stop; i += j->threads) {
			if (create_one(j, c, i, &st) != GRPC_STATUS_OK) {
				snprintf(j->err, sizeof(j->err), "CreateSession %s%u: %s: %.300s",
						j->o->session_prefix, i, rpc_status_name(st.code),
						st.message);
				*j->stop = true;
				break;
			}
			j->done++;
		}
	}
	rpc_client_close(c);
	return NULL;
}

static void *job_thread(void *arg)
{
	struct sess_job *j = arg;

	job_main(j);
	if (__atomic_sub_fetch(j->running, 1, __ATOMIC_ACQ_REL) == 0)
		__atomic_store_n(j->all_done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Run the jobs on `threads` threads allowed on `cpus`, `wait` meanwhile; -1 if one could not
 * start. */
static int run_jobs(struct sess_job *jobs, uint32_t threads, const cpu_set_t *cpus,
		sess_wait_fn wait, void *wait_arg)
{
	pthread_t tid[SESS_MAX_THREADS];
	pthread_attr_t attr;
	uint32_t started = 0, running = threads;
	volatile bool all_done = false;
	int rc = 0;

	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(*cpus), cpus);
	for (uint32_t k = 0; k < threads; k++) {
		jobs[k].running = &running;
		jobs[k].all_done = &all_done;
	}
	for (; started < threads; started++) {
		if (pthread_create(&tid[started], &attr, job_thread, &jobs[started]) != 0) {
			snprintf(jobs[started].err, sizeof(jobs[started].err),
					"cannot start a client thread");
			*jobs[started].stop = true;
			rc = -1;
			break;
		}
	}
	if (started < threads &&
			__atomic_sub_fetch(&running, threads - started, __ATOMIC_ACQ_REL) == 0)
		all_done = true;
	if (wait != NULL)
		wait(wait_arg, &all_done);
	for (uint32_t t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	pthread_attr_destroy(&attr);
	return rc;
}

int sess_create_all(const struct gen_opts *o, const struct gen_stream *streams, uint32_t n,
		const struct gen_addr *dst_prefix, const cpu_set_t *cpus, sess_wait_fn wait,
		void *wait_arg, struct sess_totals *t)
{
	struct sess_job jobs[SESS_MAX_THREADS];
	volatile bool stop = false;
	uint32_t threads = o->rpc_threads < n ? o->rpc_threads : n;
	double t0;
	int rc;

	memset(t, 0, sizeof(*t));
	memset(jobs, 0, sizeof(jobs));
	t->threads = threads;
	for (uint32_t k = 0; k < threads; k++)
		jobs[k] = (struct sess_job){ .o = o, .streams = streams,
				.dst_prefix = dst_prefix, .n = n, .t = k,
				.threads = threads, .stop = &stop };
	t0 = now_s();
	rc = run_jobs(jobs, threads, cpus, wait, wait_arg);
	t->create_s = now_s() - t0;
	for (uint32_t k = 0; k < threads; k++) {
		t->done[k] = jobs[k].done;
		t->created += jobs[k].done;
		if (t->err[0] == '\0' && jobs[k].err[0] != '\0')
			snprintf(t->err, sizeof(t->err), "%s", jobs[k].err);
	}
	return rc != 0 || t->created != n ? -1 : 0;
}

int sess_destroy_all(const struct gen_opts *o, const cpu_set_t *cpus, struct sess_totals *t)
{
	struct sess_job jobs[SESS_MAX_THREADS];
	volatile bool stop = false;
	double t0;

	if (t->created == 0)
		return 0;
	memset(jobs, 0, sizeof(jobs));
	for (uint32_t k = 0; k < t->threads; k++)
		jobs[k] = (struct sess_job){ .o = o, .t = k, .threads = t->threads,
				.destroy = true, .done = t->done[k], .stop = &stop };
	t0 = now_s();
	run_jobs(jobs, t->threads, cpus, NULL, NULL);
	t->destroy_s = now_s() - t0;
	for (uint32_t k = 0; k < t->threads; k++) {
		t->destroyed += jobs[k].destroyed;
		t->destroy_failed += jobs[k].destroy_failed;
		t->rx_pkts += jobs[k].rx;
		t->tx_pkts += jobs[k].tx;
		t->dropped += jobs[k].dropped;
		t->lost += jobs[k].lost;
		if (t->err[0] == '\0' && jobs[k].err[0] != '\0')
			snprintf(t->err, sizeof(t->err), "%s", jobs[k].err);
	}
	return t->destroyed == t->created ? 0 : -1;
}
