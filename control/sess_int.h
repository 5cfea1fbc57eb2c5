/*
 * The session manager's insides, shared by its three parts: sess.c (the registry and the
 * lifecycle), sess_udp.c (a UDP session's flows in the data plane) and sess_tcp.c (a TCP
 * session's listener on the relay thread). Not for anyone else.
 */
#ifndef RTPPROXY_SESS_INT_H
#define RTPPROXY_SESS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "portalloc.h"
#include "sess.h"

#define LOG(level, fmt, ...) RTE_LOG(level, SESS, fmt "\n", ##__VA_ARGS__)

struct rte_hash;

struct sess_mgr {
	struct dp *dp;
	struct sess_config cfg;
	struct rte_hash *by_id;         /* id (zero-padded to SESS_ID_MAX) -> session */
	struct sess_list all;           /* creation order */
	struct portalloc ports;
	uint64_t next_serial;
	uint64_t n_live, created_total, closed_total;
	uint64_t tsc0, hz;              /* TSC -> unix ms */
	int64_t unix0_ms;
	struct sess_observer obs;
	struct session *tick_next;      /* where the next sess_tick slice starts */
	struct session *close_next;     /* sess_close_some: everything before it is closed */
	struct tcp_relay *tcp;          /* TCP sessions' relay thread (NULL: TCP refused) */
	struct rte_hash *by_serial;     /* serial -> session, for the relay's events */
	struct sess_tcp_hook tcp_hook;  /* the exception filter, told of TCP listeners */
};

/* ---- sess.c ---- */

/* Set err and return its code: return sess_fail(err, SESS_NOT_FOUND, "session_id: ..."). */
enum sess_err sess_fail(struct sess_error *err, enum sess_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sess_set_state(struct sess_mgr *m, struct session *s, enum sess_state st);
/* Close with this reason (flows and ports go, observers are told). */
void sess_close(struct sess_mgr *m, struct session *s, const char *reason);
/* The session failed: its flows and ports go, its id stays, ERROR (API.md 1.1). */
void sess_fail_session(struct sess_mgr *m, struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The session's end record, allocated the first time; NULL only when out of memory (the
 * session then ends with zero counters rather than not at all). */
struct sess_end *sess_end_of(struct session *s);
/* a's text form into out (DP_ADDR_STRLEN bytes). */
void sess_fmt_ip(const struct dp_addr *a, char out[DP_ADDR_STRLEN]);
int64_t sess_tsc_to_unix_ms(const struct sess_mgr *m, uint64_t tsc);

/* sess.c's parts that sess_restore.c shares */
void id_key(const char *id, char key[SESS_ID_MAX]);
bool allowed(const struct sess_mgr *m, const struct dp_addr *addr);
enum sess_err take_ports(struct sess_mgr *m, struct session *s, unsigned count,
		struct sess_error *err);
void release_ports(struct sess_mgr *m, struct session *s);
void free_session(struct session *s);
int copy_labels(struct session *s, const struct sess_params *p);

/* ---- sess_restore.c ---- */

/* Counters before a restart plus those since (what sess_read_stats reports). */
void sess_stats_add(struct sess_stats *now, const struct sess_stats *base);
/* When a session last moved anything as far as its timeout knows: restored sessions count
 * from their restore at the earliest. */
int64_t sess_idle_since(const struct session *s, int64_t last_ms);

/* ---- sess_udp.c: s->flows ---- */

enum sess_err sess_udp_install(struct sess_mgr *m, struct session *s, struct sess_error *err);
/* Take the flows out, keeping their last counters and latch in s->end. */
void sess_udp_uninstall(struct sess_mgr *m, struct session *s);
void sess_udp_read(const struct sess_mgr *m, const struct session *s, struct sess_stats *rtp,
		struct sess_stats *rev, struct sess_stats *rtcp);
bool sess_udp_latched(const struct sess_mgr *m, const struct session *s, struct sess_ep *out);
/* First packets (-> ACTIVE), a new client source, a next hop that failed, the idle timeout. */
void sess_udp_tick(struct sess_mgr *m, struct session *s, int64_t now_ms);

/* ---- sess_tcp.c: the relay's listener ---- */

enum sess_err sess_tcp_install(struct sess_mgr *m, struct session *s, struct sess_error *err);
/* Stop the listener and connections, keeping the last counters in s->end. */
void sess_tcp_uninstall(struct sess_mgr *m, struct session *s);
/* The relay's live counters; false when the session is not on the relay (any more). */
bool sess_tcp_read(const struct sess_mgr *m, const struct session *s, struct sess_stats *rtp,
		struct sess_stats *rev, struct sess_stats *rtcp);
void sess_tcp_tick(struct sess_mgr *m, struct session *s, int64_t now_ms);

#endif
