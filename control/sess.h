/*
 * The session manager: sessions, their ports, their flows in the data plane (through
 * rp_dp.h) or their TCP relay listeners. Runs on the control lcore only. Knows nothing of
 * gRPC: it answers with its own error codes, which control/rpc.c maps to status codes.
 */
#ifndef RTPPROXY_SESS_H
#define RTPPROXY_SESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "rp_addr.h"

struct dp;
struct dp_sess;
struct dp_latch_state;
struct tcp_relay;

#define SESS_ID_MAX 64
#define SESS_MAX_ALLOWED 32

enum sess_state {          /* numbered as the proto's SessionState */
	SESS_CREATED = 0,
	SESS_CONNECTING = 1,
	SESS_ACTIVE = 2,
	SESS_ERROR = 3,
	SESS_CLOSED = 4,
};

enum sess_transport { SESS_UDP = 0, SESS_TCP = 1 };

/* Why a call was refused (only the RPC layer turns these into gRPC status codes). */
enum sess_err {
	SESS_OK = 0,
	SESS_INVALID,           /* the request cannot be served as asked (a field is wrong) */
	SESS_EXISTS,            /* the id or an endpoint is taken */
	SESS_NOT_FOUND,         /* no such session */
	SESS_EXHAUSTED,         /* max_sessions, ports, tables, memory, descriptors */
	SESS_DENIED,            /* policy: allowed_destinations */
	SESS_UNAVAILABLE,       /* a helper is not running or did not answer in time */
	SESS_INTERNAL,
};

/* An error as a value: its code and a message that names the field. */
struct sess_error {
	enum sess_err code;
	char message[512];
};

/* When the latch follows a client's new source (numbered as the proto's LatchMode). */
enum sess_latch { SESS_LATCH_SSRC = 0, SESS_LATCH_FIRST = 1, SESS_LATCH_ANY = 2 };

struct sess_ep {
	struct dp_addr addr;    /* the wildcard (family set, all zero): listen only */
	uint16_t port;          /* host byte order; 0 = allocate */
};

struct sess_label {
	char *key, *value;
};

/* What CreateSession asks for, already parsed and checked for form by the RPC layer. */
struct sess_params {
	const char *id;         /* "" = generate a UUID */
	struct sess_ep listen, forward, dest;
	enum sess_transport transport;
	bool rtcp, bidir, validate_rtp;
	enum sess_latch latch_mode;
	bool strict_source;
	uint32_t idle_timeout_secs;     /* 0 = the configured default */
	uint64_t rate_pps, rate_bps;
	const struct sess_label *labels;
	unsigned n_labels;
};

struct sess_stats {
	uint64_t pkts_rx, pkts_tx, bytes_rx, bytes_tx, lost, dropped;
	double loss_rate, avg_latency_ms, max_latency_ms, jitter_ms;
	int64_t last_activity_ms;       /* unix ms, 0 = never */
};

/*
 * What a session keeps once its flows are gone: allocated then, so that the 100 000s of live
 * sessions do not carry it (it is most of a closed session's size).
 */
/* A restored session's counters up to its last checkpoint, added to what its flows count now. */
struct sess_base {
	struct sess_stats rtp, rev, rtcp;
	int64_t restored_ms;            /* unix ms: idle since then at the earliest */
};

struct sess_end {
	struct sess_stats final, final_rev, final_rtcp;
	struct sess_ep latched;
	char error[256];                /* ERROR: why */
};

struct session {
	char id[SESS_ID_MAX + 1];
	uint64_t serial;                /* creation order: ListSessions pages by it */
	enum sess_state state;
	enum sess_transport transport;
	struct sess_ep listen, forward, dest;
	bool rtcp, bidir, validate_rtp;
	enum sess_latch latch_mode;
	bool strict_source;
	uint64_t rate_pps, rate_bps;
	uint32_t idle_timeout_secs;
	int64_t created_ms, closed_ms;  /* unix ms */
	char close_reason[16];
	struct dp_sess *flows;          /* UDP: its flows in the data plane, NULL when not */
	bool ports_held;
	bool tcp_listening;             /* TCP: registered with the relay */
	uint32_t latch_gen_seen;        /* to log a client's new source once */
	struct sess_end *end;           /* once the flows are gone or it failed, else NULL */
	struct sess_label *labels;
	unsigned n_labels;
	struct sess_base *base;         /* restored from the store: counters before, else NULL */
	TAILQ_ENTRY(session) link;
};

TAILQ_HEAD(sess_list, session);

struct sess_config {
	unsigned max_sessions;
	uint16_t port_min, port_max;
	unsigned idle_timeout_secs;
	unsigned closed_retention_secs;
	uint32_t allowed_addr[SESS_MAX_ALLOWED], allowed_mask[SESS_MAX_ALLOWED];
	unsigned n_allowed;
};

struct sess_mgr;

/*
 * Who is told about lifecycle changes (the event streams). Called on the control lcore, in
 * API.md's order: created (state CREATED), one state_changed per transition, error just before
 * ->ERROR, closed last (s->final holds the final stats). Any hook may be NULL.
 */
struct sess_observer {
	void *ctx;
	void (*created)(void *ctx, const struct session *s);
	void (*state_changed)(void *ctx, const struct session *s, enum sess_state old_state,
			enum sess_state new_state);
	void (*error)(void *ctx, const struct session *s, const char *message);
	void (*closed)(void *ctx, const struct session *s, const char *reason);
	/* the client's source moved (or was first seen): the state store writes it through */
	void (*latch_moved)(void *ctx, const struct session *s);
};
void sess_set_observer(struct sess_mgr *m, const struct sess_observer *o);

/* Close every session that is not closed yet with this reason (shutdown), keeping them. */
void sess_close_all(struct sess_mgr *m, const char *reason);
/* The same for at most max sessions; returns how many it closed (0: none left open). */
unsigned sess_close_some(struct sess_mgr *m, const char *reason, unsigned max);

struct sess_mgr *sess_mgr_create(struct dp *dp, const struct sess_config *cfg,
		char *err, size_t errlen);
/* Close every session (reason "shutdown") and free everything. */
void sess_mgr_free(struct sess_mgr *m);

/* Create and install a session. NULL and err on failure. */
struct session *sess_create(struct sess_mgr *m, const struct sess_params *p,
		struct sess_error *err);
/*
 * A session as the state store kept it (control/state_*.c): sess_restore re-creates it with
 * the same id, ports, state and created time, counting nothing and telling no observer.
 */
struct sess_restore {
	enum sess_state state;          /* CONNECTING, ACTIVE or ERROR (CREATED: CONNECTING) */
	int64_t created_ms;
	const char *error;              /* ERROR: why ("" otherwise) */
	const struct sess_base *base;   /* counters so far; NULL = none */
	/* the client's latched sources (RTP, RTCP), preloaded into the data plane; NULL = none */
	const struct dp_latch_state *latch, *latch_rtcp;
	/* what does not fit (address, port, route): false = restored as ERROR with the reason,
	 * true = refused (NULL and err), e.g. a port taken by a session created meanwhile */
	bool refuse_conflicts;
};
struct session *sess_restore(struct sess_mgr *m, const struct sess_params *p,
		const struct sess_restore *r, struct sess_error *err);

/* Close (if not closed) and forget a session; *final gets a copy of it as it ended, to be
 * given back with sess_final_free. SESS_OK, or SESS_NOT_FOUND and err. */
enum sess_err sess_destroy(struct sess_mgr *m, const char *id, struct session *final,
		struct sess_error *err);
void sess_final_free(struct session *final);
/* Why an ERROR session failed ("" otherwise). */
const char *sess_error(const struct session *s);
struct session *sess_find(struct sess_mgr *m, const char *id);

/* Current stats of a live session (or the final ones of a closed session). */
void sess_read_stats(const struct sess_mgr *m, const struct session *s, struct sess_stats *rtp,
		struct sess_stats *rev, struct sess_stats *rtcp);
/* The client's latest source on the listen endpoint; false when none was seen. */
bool sess_latched(const struct sess_mgr *m, const struct session *s, struct sess_ep *out);

/* Sessions in creation order, from the first whose serial >= from. */
struct session *sess_first(struct sess_mgr *m, uint64_t from_serial);
struct session *sess_next(struct session *s);

struct sess_counters {
	uint64_t active, created_total, closed_total;
};
void sess_counters(const struct sess_mgr *m, struct sess_counters *c);

/* TCP sessions are served by this relay (NULL: CreateSession with TCP is refused). */
void sess_set_tcp_relay(struct sess_mgr *m, struct tcp_relay *r);
/* Take the relay's events (connections established, failed...) into session states. */
void sess_tcp_poll(struct sess_mgr *m);

/*
 * Told when a TCP session starts and stops listening, so that the exception filter admits TCP
 * to its listen endpoint (addr: the wildcard = every address; port host order) only
 * meanwhile. listen_added runs before the listener exists; -1 + err refuses the session.
 */
struct sess_tcp_hook {
	void *ctx;
	int (*listen_added)(void *ctx, const struct dp_addr *addr, uint16_t port, char *err,
			size_t errlen);
	void (*listen_removed)(void *ctx, const struct dp_addr *addr, uint16_t port);
};
void sess_set_tcp_hook(struct sess_mgr *m, const struct sess_tcp_hook *h);

/* Sessions one sess_tick looks at: 100 000 sessions take ~13 ticks, so every session is
 * still seen several times a second. */
#define SESS_TICK_SLICE 8192

/*
 * Periodic work: first packets (-> ACTIVE), idle timeouts, expiry of closed sessions, for up
 * to max sessions from where the last call stopped. Returns how many it looked at: fewer than
 * max when it reached the newest session (the next call starts over from the oldest).
 */
unsigned sess_tick_some(struct sess_mgr *m, int64_t now_ms, unsigned max);
/* sess_tick_some for SESS_TICK_SLICE sessions. */
void sess_tick(struct sess_mgr *m, int64_t now_ms);

/* Unix time in ms (realtime clock). */
int64_t sess_now_ms(void);

#endif
