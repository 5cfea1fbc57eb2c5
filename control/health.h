/*
 * The appliance's health: one state for the whole process, set by the app (app/main.c) and
 * served as grpc.health.v1.Health (Check and Watch) on the gRPC port; /healthz reads it too.
 * Service "" and "rtpproxy.RtpProxy" name the appliance; Check of any other name answers
 * NOT_FOUND, Watch of it SERVICE_UNKNOWN (the standard health.proto rules).
 */
#ifndef RTPPROXY_HEALTH_H
#define RTPPROXY_HEALTH_H

#include <stdbool.h>

#include "grpc_srv.h"

/* Watch streams at once; more are refused with RESOURCE_EXHAUSTED (a probe needs one). */
#define HEALTH_MAX_WATCHERS 64

enum health_state {
	HEALTH_STARTING,        /* ports coming up, workers not yet polling: NOT_SERVING */
	HEALTH_SERVING,         /* SERVING */
	HEALTH_STOPPING,        /* shutdown has begun: NOT_SERVING until the end */
};

/* The state now; any thread (an atomic load). HEALTH_STARTING until the app says otherwise. */
enum health_state health_state(void);
/* Whether health_state() is HEALTH_SERVING: what Check, Watch and /healthz say. */
bool health_serving(void);
/* "starting", "serving", "stopping". */
const char *health_state_name(enum health_state s);

/* Set the state (the control thread, which polls the gRPC server): every Watch of the
 * appliance hears of a change of SERVING / NOT_SERVING. */
void health_set(enum health_state s);

/* grpc.health.v1.Health's methods for grpc_srv (ctx unused: NULL). */
extern const struct grpc_srv_method health_methods[];
/* The service, ready for grpc_srv_start_services. */
struct grpc_srv_service health_service(void);

#endif
