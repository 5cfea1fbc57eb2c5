/*
 * grpc.health.v1.Health on grpc_srv (health.h). The state is one atomic, so other threads
 * (the HTTP server's /healthz) read it without a lock; the Watch streams are the control
 * thread's, like every stream of grpc_srv.
 */
#include "health.h"

#include <stdatomic.h>
#include <string.h>

#include "health.pb-c.h"

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

static _Atomic int state = HEALTH_STARTING;

/* Open Watch streams of the appliance; an unknown name's stream is not listed (it never
 * changes) and ends with the server. */
static struct grpc_srv_stream *watchers[HEALTH_MAX_WATCHERS];
static unsigned n_watchers;
static unsigned n_unknown;      /* Watch streams of unknown names, for the limit */

enum health_state health_state(void)
{
	return (enum health_state)atomic_load_explicit(&state, memory_order_acquire);
}

bool health_serving(void)
{
	return health_state() == HEALTH_SERVING;
}

const char *health_state_name(enum health_state s)
{
	switch (s) {
	case HEALTH_STARTING:
		return "starting";
	case HEALTH_SERVING:
		return "serving";
	case HEALTH_STOPPING:
		return "stopping";
	}
	return "unknown";
}

static serving_status status_of(enum health_state s)
{
	return s == HEALTH_SERVING ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
		: GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
}

static int send_status(struct grpc_srv_stream *s, serving_status st)
{
	Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

	r.status = st;
	return grpc_srv_stream_send(s, &r.base);
}

void health_set(enum health_state s)
{
	enum health_state old = (enum health_state)atomic_exchange_explicit(&state, (int)s,
			memory_order_acq_rel);

	if (status_of(old) == status_of(s))
		return;
	for (unsigned i = 0; i < n_watchers; i++)
		send_status(watchers[i], status_of(s));
}

/* The names that mean the appliance: "" (the server as a whole) and its own service. */
static bool known_service(const char *name)
{
	return name == NULL || name[0] == '\0' || strcmp(name, "rtpproxy.RtpProxy") == 0;
}

static grpc_status_code check(void *ctx, const ProtobufCMessage *m, ProtobufCMessage **out,
		struct arena *a, struct rpc_error *err)
{
	const Grpc__Health__V1__HealthCheckRequest *req = (const void *)m;
	Grpc__Health__V1__HealthCheckResponse *r;

	(void)ctx;
	if (!known_service(req->service))
		return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "service: unknown service \"%s\" "
				"(\"\" or \"rtpproxy.RtpProxy\")", req->service);
	r = arena_alloc(a, sizeof(*r));
	if (r == NULL)
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	grpc__health__v1__health_check_response__init(r);
	r->status = status_of(health_state());
	*out = &r->base;
	return GRPC_STATUS_OK;
}

/* The stream's cookie: whether it watches the appliance (listed) or an unknown name. */
static char watching_appliance, watching_unknown;

static grpc_status_code watch(void *ctx, const ProtobufCMessage *m, struct grpc_srv_stream *s,
		struct rpc_error *err)
{
	const Grpc__Health__V1__HealthCheckRequest *req = (const void *)m;

	(void)ctx;
	if (n_watchers + n_unknown >= HEALTH_MAX_WATCHERS)
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"too many health Watch streams (%d)", HEALTH_MAX_WATCHERS);
	if (!known_service(req->service)) {
		grpc_srv_stream_set_user(s, &watching_unknown);
		n_unknown++;
		send_status(s, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN);
		return GRPC_STATUS_OK;
	}
	grpc_srv_stream_set_user(s, &watching_appliance);
	watchers[n_watchers++] = s;
	send_status(s, status_of(health_state()));
	return GRPC_STATUS_OK;
}

static void watch_closed(void *ctx, struct grpc_srv_stream *s)
{
	(void)ctx;
	if (grpc_srv_stream_user(s) == &watching_unknown) {
		n_unknown--;
		return;
	}
	for (unsigned i = 0; i < n_watchers; i++)
		if (watchers[i] == s) {
			watchers[i] = watchers[--n_watchers];
			return;
		}
}

/* In the order of health.proto's service: Check, Watch. */
const struct grpc_srv_method health_methods[] = {
	{ .unary = check },
	{ .stream = watch, .closed = watch_closed },
};

struct grpc_srv_service health_service(void)
{
	return (struct grpc_srv_service){
		.svc = &grpc__health__v1__health__descriptor,
		.methods = health_methods,
	};
}
