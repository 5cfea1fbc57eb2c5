/*
 * The TCP relay's insides, shared by its parts: on the relay thread, tcp_relay.c (the loop,
 * commands, timers), tcp_relay_conn.c (connections) and tcp_relay_accept.c (listeners); and
 * tcp_relay_ctl.c (the callers' side: start/stop, the command queue, the id registry,
 * add/remove/stats/drain). Nothing outside the relay includes this.
 */
#ifndef RTPPROXY_TCP_RELAY_INT_H
#define RTPPROXY_TCP_RELAY_INT_H

#include "tcp_relay.h"
#include "tcp_deadline.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256                       /* epoll events per wake-up */
#define ACCEPT_BURST 64                 /* accepts per listener event (LT brings us back) */
#define LISTEN_BACKLOG 1024
#define CMD_WAIT_MS 1000                /* add/remove give up waiting for the relay after this */
#define EP_TXT (DP_ADDR_STRLEN + 8)     /* "[IPv6]:65535" */

/* Single writer (the relay thread): a plain read-modify-write published by an atomic store. */
#define CTR_ADD(p, v) __atomic_store_n((p), __atomic_load_n((p), __ATOMIC_RELAXED) + (v), \
		__ATOMIC_RELAXED)
#define CTR_SUB(p, v) __atomic_store_n((p), __atomic_load_n((p), __ATOMIC_RELAXED) - (v), \
		__ATOMIC_RELAXED)
/* bytes_out is published with release: a reader that sees it sees the bytes_in before it */
#define CTR_ADD_REL(p, v) __atomic_store_n((p), __atomic_load_n((p), __ATOMIC_RELAXED) + (v), \
		__ATOMIC_RELEASE)
#define CTR_SET(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define CTR_GET(p) __atomic_load_n((p), __ATOMIC_RELAXED)

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* What an epoll event's data.ptr points at: the first member of its owner. */
enum ep_kind { EP_WAKE, EP_LISTEN, EP_CLIENT, EP_DEST };
struct ep {
	enum ep_kind kind;
};

struct conn;

struct leg {
	struct ep ep;
	int fd;
	uint32_t mask;                  /* interest registered in epoll */
	bool in_epoll;                  /* false: never added, or parked */
	bool hup;                       /* EPOLLHUP seen: park it whenever it cannot read */
	struct conn *c;
};

/* One direction: read from its source leg into buf, write to its sink leg. */
struct dir {
	char *buf;
	size_t head, len;               /* ring of cap bytes: data at [head, head + len) */
	bool eof;                       /* the source returned 0 */
	bool shut;                      /* shutdown(sink, SHUT_WR) done: this direction ended */
	bool blocked;                   /* short write: wait for the sink's EPOLLOUT */
	struct tcp_dir_stats *st;
};

struct conn {
	TAILQ_ENTRY(conn) link;         /* its session's list, then the graveyard */
	TAILQ_ENTRY(conn) tlink;        /* the connecting list, deadline order */
	struct sess *s;
	struct leg cli, dst;
	struct dir c2d, d2c;
	char *mem;                      /* both buffers */
	int64_t deadline_ms;            /* connect timeout (monotonic) */
	int64_t active_ms;              /* accepted or last byte moved (monotonic) */
	struct dl_node idle;            /* in the idle heap while its session has a timeout */
	bool connecting, dead;
	char peer[EP_TXT];              /* the client, for messages */
};
TAILQ_HEAD(conn_list, conn);

enum cmd_kind { CMD_ADD, CMD_REMOVE };
struct cmd {
	TAILQ_ENTRY(cmd) link;
	enum cmd_kind kind;
	int result;
	bool done;                      /* the caller owns sess and cmd again */
	bool abandoned;                 /* the caller gave up: the relay frees sess (and cmd) */
};
TAILQ_HEAD(cmd_list, cmd);

struct sess {
	struct ep ep;                   /* the listener's */
	struct tcp_sess_params p;       /* p.bind_dev points at dev */
	char dev[IFNAMSIZ];
	int lfd;
	struct cmd cmd;                 /* at most one command in flight per session */
	struct sess *hnext;             /* registry chain (control side) */
	/* relay thread only */
	TAILQ_ENTRY(sess) link;
	TAILQ_ENTRY(sess) plink;        /* paused listeners, resume order */
	struct conn_list conns;
	uint32_t nconns;
	bool installed, paused;
	int64_t resume_ms;
	/* written by the relay thread, read by anyone */
	struct tcp_stats st;
	char listen_txt[EP_TXT], fwd_txt[EP_TXT], dest_txt[EP_TXT];
};
TAILQ_HEAD(sess_list, sess);

struct tcp_relay {
	struct tcp_relay_config cfg;    /* defaults filled in */
	pthread_t thread;
	bool stop;
	int epfd, wake_fd, ev_fd;
	struct ep wake_ep;

	pthread_mutex_t mu;             /* the command queue and cmd flags */
	pthread_cond_t cv;
	struct cmd_list cmds;

	pthread_mutex_t reg_mu;         /* the registry: callers only, never the relay thread */
	struct sess **reg;
	size_t reg_nb, reg_n;

	/* relay thread only */
	struct sess_list sessions, paused;
	struct conn_list connecting, graveyard;
	struct dl_heap idle;            /* connections of sessions with an idle timeout */
	int64_t now_ms, now_unix_ms;
	uint32_t nconns;
	bool starved;                   /* out of fds: logged once, until accepting works again */
	uint64_t starved_since;         /* accept_fd_errors when it started */
	bool ev_kick;                   /* events queued this round: write ev_fd once */

	/* events: SPSC ring, free-running indexes */
	struct tcp_event *evq;
	uint32_t ev_head;               /* consumer */
	uint32_t ev_tail;               /* producer */

	struct tcp_relay_counters ctr;
};

/* ---- shared by every part ---- */

/* Log through the hook of tcp_relay_set_log (tcp_relay_ctl.c); thread-safe. */
void __attribute__((format(printf, 2, 3))) tcp_relay_log(int level, const char *fmt, ...);
#define rlog tcp_relay_log

/* The relay thread's body (tcp_relay.c); arg is the struct tcp_relay. */
void *tcp_relay_main(void *arg);

/* ---- the relay thread's parts (relay thread only) ---- */

/* Queue an event of session s for the control side (tcp_relay.c); full: dropped and counted. */
void __attribute__((format(printf, 4, 5)))
relay_emit(struct tcp_relay *r, const struct sess *s, enum tcp_event_kind kind,
		const char *fmt, ...);

/* tcp_relay_conn.c: a connection's life. */
/* End it: CLOSED emitted unless quiet, both legs closed (RST or not), freed by relay_reap. */
void relay_conn_close(struct tcp_relay *r, struct conn *c, bool rst, bool quiet, const char *why);
/* The destination leg did not come up: FAILED (msg names the field), then CLOSED. */
void relay_conn_fail(struct tcp_relay *r, struct conn *c, const char *msg, bool timeout);
/* Start the destination leg of a connection just accepted. */
void relay_conn_connect(struct tcp_relay *r, struct conn *c);
/* What epoll reported on one leg. */
void relay_leg_event(struct tcp_relay *r, struct leg *l, uint32_t events);
/* Free the connections closed during this round (after the epoll batch). */
void relay_reap(struct tcp_relay *r);

/* tcp_relay_accept.c: listeners. */
/* The session's listener into the epoll set; -errno on failure. */
int relay_sess_install(struct tcp_relay *r, struct sess *s);
/* The listener and every connection closed with RST, quietly: the session is going away. */
void relay_sess_teardown(struct tcp_relay *r, struct sess *s);
/* Take what the listener holds (up to ACCEPT_BURST). */
void relay_sess_accept(struct tcp_relay *r, struct sess *s);
/* A listener rested for lack of fds takes clients again. */
void relay_sess_resume(struct tcp_relay *r, struct sess *s);

static inline int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "198.18.1.1:4000" or "[2001:db8::1]:4000" */
static inline void fmt_ep(char *out, size_t n, const struct dp_addr *addr, uint16_t port)
{
	char a[DP_ADDR_STRLEN];

	dp_addr_format(addr, a, sizeof(a));
	snprintf(out, n, dp_addr_is_v6(addr) ? "[%s]:%u" : "%s:%u", a, port);
}

/* The same from a socket address (a peer, a bound name). */
static inline void fmt_sa(char *out, size_t n, const struct sockaddr_storage *ss)
{
	struct dp_addr a;

	memset(&a, 0, sizeof(a));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		a.family = DP_AF_INET6;
		memcpy(a.v6, &s6->sin6_addr, 16);
		fmt_ep(out, n, &a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;
		a = dp_addr_v4(s4->sin_addr.s_addr);
		fmt_ep(out, n, &a, ntohs(s4->sin_port));
	}
}

/* addr:port as a sockaddr_in or sockaddr_in6 in *out; its length. */
static inline socklen_t sa_of(const struct dp_addr *addr, uint16_t port,
		struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (dp_addr_is_v6(addr)) {
		struct sockaddr_in6 *s6 = (void *)out;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr->v6, 16);
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (void *)out;
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = addr->v4;
	s4->sin_port = htons(port);
	return sizeof(*s4);
}

static inline uint16_t sa_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port :
			((const struct sockaddr_in *)ss)->sin_port);
}

static inline int af_of(const struct dp_addr *addr)
{
	return dp_addr_is_v6(addr) ? AF_INET6 : AF_INET;
}

static inline void set_int_opt(int fd, int level, int name, int v)
{
	/* best effort: a failure here changes behaviour only marginally */
	(void)setsockopt(fd, level, name, &v, sizeof(v));
}

static inline void wake(int efd)
{
	uint64_t one = 1;

	/* never blocks (EFD_NONBLOCK); EAGAIN means the counter is already non-zero */
	(void)!write(efd, &one, sizeof(one));
}

static inline void unwake(int efd)
{
	uint64_t v;

	(void)!read(efd, &v, sizeof(v));
}

static inline void clock_update(struct tcp_relay *r)
{
	r->now_ms = clock_ms(CLOCK_MONOTONIC);
	r->now_unix_ms = clock_ms(CLOCK_REALTIME);
}

/* Close with RST rather than FIN: the peer learns at once that the connection is gone. */
static inline void close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Log the 1st, 2nd, 4th, 8th... time: a client retrying in a loop cannot flood the log. */
static inline bool log_due(uint64_t n)
{
	return (n & (n - 1)) == 0;
}

static inline void sess_free(struct sess *s)
{
	if (s->lfd >= 0)
		close(s->lfd);
	free(s);
}

#endif
