/*
 * Who relays a pair's sessions (API.md 1.6 "Standby"): the lease "P A #lease" = "EPOCH
 * HOLDER" with a PX expiry, and "P A #epoch", the last epoch handed out (proto/state.proto).
 *
 * One thread with its own Redis connection, never behind the state writer's queue. Holding
 * the lease it renews it every lease_ms / 3; not holding it, it looks every lease_ms / 10
 * and takes it (with a higher epoch) as soon as it is free. The control loop reads the
 * outcome with state_lease_read; nothing here touches the data plane or the sessions.
 */
#ifndef RTPPROXY_STATE_LEASE_H
#define RTPPROXY_STATE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state_lease_conf {
	const char *host;               /* Redis */
	uint16_t port;
	const char *key_prefix;         /* "rtpproxy:" */
	const char *pair;               /* A: whose sessions (instance, or a standby's peer_instance) */
	const char *holder;             /* this appliance's instance name */
	unsigned lease_ms;
	/* configured active: a lease of its own name found at start (it restarted) is its own to
	 * take at once; a standby waits for the lease to lapse */
	bool active;
};

struct state_lease;

/* Start the thread. NULL and err (out of memory, bad arguments). */
struct state_lease *state_lease_start(const struct state_lease_conf *c, char *err,
		size_t errlen);

/* Stop the thread; release = give the lease up if it is ours (a graceful stop: a standby
 * takes over at once instead of after lease_ms). NULL is ignored. */
void state_lease_stop(struct state_lease *l, bool release);

struct state_lease_view {
	bool decided;                   /* Redis has answered once (or state_lease_decide) */
	bool holds;                     /* this appliance relays A's sessions */
	uint64_t epoch;                 /* the lease's epoch as last seen (ours when holds) */
	bool redis_up;                  /* the last command got an answer */
	char other[64];                 /* the holder when not us ("" = nobody) */
};
/* Any thread. */
void state_lease_read(const struct state_lease *l, struct state_lease_view *out);

/* Redis did not answer within the start-up wait: act as if it had said what the role
 * expects (an active relays, a standby waits); the lease is taken when Redis returns. */
void state_lease_decide(struct state_lease *l);

/* Wait until decided or timeout_ms passed (start-up). True when decided. */
bool state_lease_wait(struct state_lease *l, unsigned timeout_ms);

#endif
