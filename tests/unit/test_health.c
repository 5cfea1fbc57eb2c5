/*
 * grpc.health.v1.Health (control/health.c) on a grpc_srv that also serves reflection (several
 * services on one server), over loopback with rpc_client: NOT_SERVING while starting (what an
 * appliance shows for a few milliseconds only), SERVING, NOT_SERVING when stopping; Check's
 * NOT_FOUND; Watch's first message, one message per change of SERVING/NOT_SERVING and none for
 * a change that keeps it, SERVICE_UNKNOWN; every Watch ends with OK when the server stops.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "health.h"
#include "health.pb-c.h"
#include "reflection.h"
#include "rpc_client.h"

#define CHECK_M "/grpc.health.v1.Health/Check"
#define WATCH_M "/grpc.health.v1.Health/Watch"
#define DEADLINE_MS 5000
#define SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define SERVICE_UNKNOWN GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

/* The server's thread is the control thread: it polls and sets the state it is asked for. */
struct server {
	struct grpc_srv *srv;
	struct reflection *refl;
	pthread_t thread;
	atomic_int want;                /* enum health_state to set, or -1 */
	atomic_int applied;             /* how many states it has set */
	atomic_bool stop;
};

static void *serve(void *p)
{
	struct server *s = p;

	while (!atomic_load(&s->stop)) {
		grpc_srv_poll(s->srv, 5);
		int w = atomic_exchange(&s->want, -1);
		if (w >= 0) {
			health_set((enum health_state)w);
			atomic_fetch_add(&s->applied, 1);
		}
	}
	grpc_srv_stop(s->srv);          /* ends every stream with OK */
	return NULL;
}

static void set_state(struct server *s, enum health_state st)
{
	int done = atomic_load(&s->applied);

	atomic_store(&s->want, (int)st);
	for (int i = 0; i < 5000 && atomic_load(&s->applied) == done; i++)
		usleep(1000);
	CHECK(atomic_load(&s->applied) == done + 1);
	CHECK(health_state() == st);
}

/* Check(service): the status, or -1 with the call's status in st. */
static int check(struct rpc_client *c, const char *service, struct rpc_status *st)
{
	Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	ProtobufCMessage *resp;

	req.service = (char *)service;
	if (rpc_call_unary(c, CHECK_M, &req.base,
			&grpc__health__v1__health_check_response__descriptor, &resp, st,
			DEADLINE_MS) != GRPC_STATUS_OK)
		return -1;
	int status = ((Grpc__Health__V1__HealthCheckResponse *)resp)->status;
	protobuf_c_message_free_unpacked(resp, NULL);
	return status;
}

static struct rpc_stream *watch(struct rpc_client *c, const char *service)
{
	Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	struct rpc_status st;

	req.service = (char *)service;
	struct rpc_stream *s = rpc_stream_start(c, WATCH_M, &req.base, &st, 0);
	CHECK(s != NULL);
	return s;
}

/* The next status a Watch sends, -1 when none comes (the stream's end: its code in st). */
static int next_status(struct rpc_stream *s, struct rpc_status *st)
{
	ProtobufCMessage *m;

	if (rpc_stream_read(s, &grpc__health__v1__health_check_response__descriptor, &m, st,
			DEADLINE_MS) != RPC_READ_MESSAGE)
		return -1;
	int status = ((Grpc__Health__V1__HealthCheckResponse *)m)->status;
	protobuf_c_message_free_unpacked(m, NULL);
	return status;
}

int main(void)
{
	struct server S = { .want = -1 };
	struct rpc_status st;
	char err[512], target[64];
	int port = 0;

	CHECK(health_state() == HEALTH_STARTING);
	CHECK(!health_serving());
	CHECK(strcmp(health_state_name(HEALTH_STOPPING), "stopping") == 0);

	S.refl = reflection_create(err, sizeof(err));
	CHECK(S.refl != NULL);
	const struct grpc_srv_service services[] = {
		health_service(),
		reflection_service_v1alpha(S.refl),
		reflection_service_v1(S.refl),
	};
	S.srv = grpc_srv_start_services("127.0.0.1:0", services, 3, NULL, &port, err,
			sizeof(err));
	if (S.srv == NULL) {
		fprintf(stderr, "grpc_srv_start_services: %s\n", err);
		return 1;
	}
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	pthread_create(&S.thread, NULL, serve, &S);
	struct rpc_client *c = rpc_client_connect(target, err, sizeof(err));
	CHECK(c != NULL);

	/* starting: NOT_SERVING for both names of the appliance; other names NOT_FOUND */
	CHECK(check(c, "", &st) == NOT_SERVING);
	CHECK(check(c, "rtpproxy.RtpProxy", &st) == NOT_SERVING);
	CHECK(check(c, "rtpproxy.Other", &st) == -1);
	CHECK(st.code == GRPC_STATUS_NOT_FOUND);
	CHECK(strstr(st.message, "\"rtpproxy.Other\"") != NULL);

	struct rpc_stream *w = watch(c, "");
	struct rpc_stream *wu = watch(c, "nope");
	CHECK(next_status(w, &st) == NOT_SERVING);
	CHECK(next_status(wu, &st) == SERVICE_UNKNOWN);

	set_state(&S, HEALTH_SERVING);
	CHECK(health_serving());
	CHECK(next_status(w, &st) == SERVING);
	CHECK(check(c, "", &st) == SERVING);
	CHECK(check(c, "rtpproxy.RtpProxy", &st) == SERVING);
	/* a Watch opened now starts with SERVING */
	struct rpc_stream *w2 = watch(c, "rtpproxy.RtpProxy");
	CHECK(next_status(w2, &st) == SERVING);

	/* SERVING again says nothing: the next message is the change to NOT_SERVING */
	set_state(&S, HEALTH_SERVING);
	set_state(&S, HEALTH_STOPPING);
	CHECK(!health_serving());
	CHECK(next_status(w, &st) == NOT_SERVING);
	CHECK(next_status(w2, &st) == NOT_SERVING);
	CHECK(check(c, "", &st) == NOT_SERVING);

	/* Watch streams are bounded: 3 open, up to the limit more, then RESOURCE_EXHAUSTED */
	struct rpc_stream *more[HEALTH_MAX_WATCHERS];
	unsigned n_more = 0;
	for (; n_more < HEALTH_MAX_WATCHERS - 3; n_more++) {
		more[n_more] = watch(c, n_more % 2 ? "" : "nope");
		CHECK(next_status(more[n_more], &st) == (n_more % 2 ? NOT_SERVING : SERVICE_UNKNOWN));
	}
	struct rpc_stream *over = watch(c, "");
	CHECK(next_status(over, &st) == -1);
	CHECK(st.code == GRPC_STATUS_RESOURCE_EXHAUSTED);
	rpc_stream_free(over);
	/* a cancelled one frees its place */
	rpc_stream_cancel(more[0]);
	CHECK(next_status(more[0], &st) == -1);
	CHECK(st.code == GRPC_STATUS_CANCELLED);
	rpc_stream_free(more[0]);
	int ok = 0;
	for (int i = 0; i < 2000 && !ok; i++) {     /* the server learns of it asynchronously */
		struct rpc_stream *again = watch(c, "");
		ok = next_status(again, &st) == NOT_SERVING;
		if (ok) {
			more[0] = again;
		} else {
			CHECK_EQ_U(st.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
			rpc_stream_free(again);
			usleep(1000);
		}
	}
	CHECK(ok);

	/* the server stops: every Watch ends with OK, and nothing more came before */
	atomic_store(&S.stop, true);
	CHECK(next_status(w, &st) == -1);
	CHECK(st.code == GRPC_STATUS_OK);
	CHECK(next_status(w2, &st) == -1);
	CHECK(st.code == GRPC_STATUS_OK);
	CHECK(next_status(wu, &st) == -1);
	CHECK(st.code == GRPC_STATUS_OK);
	for (unsigned i = 0; i < n_more; i++) {
		CHECK(next_status(more[i], &st) == -1);
		CHECK(st.code == GRPC_STATUS_OK);
		rpc_stream_free(more[i]);
	}
	pthread_join(S.thread, NULL);

	rpc_stream_free(w);
	rpc_stream_free(w2);
	rpc_stream_free(wu);
	rpc_client_close(c);
	reflection_free(S.refl);
	return check_summary("health");
}
