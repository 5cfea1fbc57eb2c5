/*
 * A standby's view of the active's sessions (API.md 1.6): a thread with its own Redis
 * connection that reads pair A's stored sessions and hands them, decoded, to the control
 * loop. On (re)connect it reads them all (SCAN "P A:*" + HMGET def ctr, after noting the
 * newest "#changes" entry), then follows "#changes" with XREAD BLOCK from that entry on, so
 * nothing written meanwhile is missed (a change seen twice is applied twice: harmless). A
 * mirror that the trimmed stream left behind (it lost entries it had not read) reads
 * everything again, as after a reconnect.
 *
 * Why a stream and not keyspace notifications: notifications are fire-and-forget (a
 * subscriber that is away loses them, with no way to tell), need notify-keyspace-events set
 * on the server, and say only which key changed; the stream is in the data set, keeps its
 * order, can be read from a position after a reconnect, and is written by the active in the
 * same MULTI/EXEC as the change it announces.
 */
#ifndef RTPPROXY_STATE_MIRROR_H
#define RTPPROXY_STATE_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sess.h"
#include "state_codec.h"

struct state_mirror_conf {
	const char *host;
	uint16_t port;
	const char *key_prefix;
	const char *pair;               /* A */
};

enum mirror_op {
	MIRROR_SYNC_BEGIN,              /* a full read starts: what it does not name is gone */
	MIRROR_SET,                     /* rec: the session as stored now */
	MIRROR_DEL,                     /* id left the store */
	MIRROR_SYNC_END,
	MIRROR_COUNTERS,                /* take-over: rec's base holds the last checkpoint */
	MIRROR_COUNTERS_END,            /* every checkpoint was handed over; the thread ends */
};

struct mirror_item {
	enum mirror_op op;
	char id[SESS_ID_MAX + 1];
	struct state_rec rec;           /* MIRROR_SET, MIRROR_COUNTERS (decoded; state_rec_free) */
	struct mirror_item *next;
};

struct state_mirror;

struct state_mirror *state_mirror_start(const struct state_mirror_conf *c, char *err,
		size_t errlen);
/* Take-over: stop following, read every session's checkpoint (MIRROR_COUNTERS ... _END),
 * then end. Returns at once. */
void state_mirror_finish(struct state_mirror *mi);
/* The next item, or NULL when none waits (the control loop; non-blocking). Free it with
 * state_mirror_item_free. */
struct mirror_item *state_mirror_next(struct state_mirror *mi);
void state_mirror_item_free(struct mirror_item *it);
/* Stop the thread (wherever it is) and free what waits. NULL is ignored. */
void state_mirror_stop(struct state_mirror *mi);
/* Whether Redis answers the mirror's connection now. */
bool state_mirror_up(const struct state_mirror *mi);

#endif
