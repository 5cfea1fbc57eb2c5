/*
 * The TCP relay (see tcp_relay.h): one thread, one epoll set, every socket non-blocking. This
 * file is that thread's loop: its events, the command queue's consumer end, the timers (connect
 * timeouts, resting listeners, idle connections) and the event ring's producer end. What it
 * drives is tcp_relay_conn.c (connections: connect, copy, close) and tcp_relay_accept.c
 * (listeners: accept, limits); the callers' side (start/stop, commands, the registry,
 * add/remove/stats) is tcp_relay_ctl.c; their shared structures tcp_relay_int.h.
 *
 * Level-triggered epoll, on purpose. Back-pressure switches a leg's EPOLLIN off while its
 * buffer is full and on again when it drains; with LT a leg switched back on that already has
 * data is reported at once, and one read per leg per wake-up (at most buffer_bytes) is fair
 * between connections without a ready list of our own. ET would need reading until EAGAIN (one
 * fast connection starving the others) or that list, and its missed-edge bugs. The price of LT,
 * an epoll_ctl when a leg's interest changes, is paid only on a change (the mask is cached).
 *
 * Per connection: a client leg, a destination leg and one ring buffer per direction
 * (buffer_bytes each, allocated when the destination leg is up). A direction reads from its
 * source leg only while its buffer has room (the back-pressure: the kernel's window closes on
 * the sender) and writes what it holds to the sink leg at once, waiting for EPOLLOUT only after
 * a short write. A read of 0 (FIN) ends a direction: once its buffer is flushed, shutdown(sink,
 * SHUT_WR) passes the half-close on; when both directions have ended both legs are closed. Any
 * error or RST closes both legs with RST (SO_LINGER 0).
 *
 * EPOLLHUP is reported whatever the mask; a leg whose peer has sent FIN after we shut it down
 * reports it for as long as it lives. While such a leg cannot be read (buffer full, or already
 * at EOF) it is taken out of the epoll set ("parked") instead of spinning.
 *
 * Threads: the control side (add/remove/stats/drain) never touches a socket after handing it
 * over. Commands go through a mutex-protected queue and an eventfd; the caller waits on a
 * condition variable, at most CMD_WAIT_MS. Counters are written by the relay thread only, with
 * relaxed atomic stores, and read with relaxed loads. Events go out through a single-producer
 * single-consumer ring (full: dropped and counted) and an eventfd.
 */
#define _GNU_SOURCE
#include "tcp_relay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <syslog.h>

/* ---- events (relay thread produces, the control side consumes) ---- */

void __attribute__((format(printf, 4, 5)))
relay_emit(struct tcp_relay *r, const struct sess *s, enum tcp_event_kind kind,
		const char *fmt, ...)
{
	uint32_t tail = r->ev_tail;
	uint32_t head = __atomic_load_n(&r->ev_head, __ATOMIC_ACQUIRE);
	struct tcp_event *e;
	va_list ap;

	if (tail - head >= TCP_RELAY_EVENT_QUEUE) {
		CTR_ADD(&r->ctr.events_dropped, 1);
		return;
	}
	e = &r->evq[tail % TCP_RELAY_EVENT_QUEUE];
	e->id = s->p.id;
	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	__atomic_store_n(&r->ev_tail, tail + 1, __ATOMIC_RELEASE);
	r->ev_kick = true;
}

/* ---- commands ---- */

static void run_commands(struct tcp_relay *r)
{
	struct cmd_list todo = TAILQ_HEAD_INITIALIZER(todo);
	struct cmd *c;

	pthread_mutex_lock(&r->mu);
	TAILQ_CONCAT(&todo, &r->cmds, link);
	pthread_mutex_unlock(&r->mu);
	while ((c = TAILQ_FIRST(&todo)) != NULL) {
		struct sess *s = container_of(c, struct sess, cmd);
		int rc = 0;
		bool mine;

		TAILQ_REMOVE(&todo, c, link);
		if (c->kind == CMD_ADD)
			rc = relay_sess_install(r, s);
		else
			relay_sess_teardown(r, s);
		pthread_mutex_lock(&r->mu);
		mine = c->abandoned;
		if (!mine) {
			c->result = rc;
			c->done = true; /* from here on the caller owns s: do not touch it */
		}
		pthread_mutex_unlock(&r->mu);
		if (mine) {     /* the caller timed out and forgot it: undo and free */
			relay_sess_teardown(r, s);
			sess_free(s);
		}
	}
	pthread_cond_broadcast(&r->cv);
}

/* ---- the thread ---- */

/*
 * Reset the connections that moved no byte either way for their session's idle timeout. A
 * heap entry is the deadline as of its last check; one that moved since is pushed back.
 */
static void idle_expire(struct tcp_relay *r)
{
	struct dl_node *x;
	char why[64];

	for (unsigned i = 0; i < ACCEPT_BURST * 16 && (x = dl_heap_top(&r->idle)) != NULL &&
			x->at <= r->now_ms; i++) {
		struct conn *c = container_of(x, struct conn, idle);
		uint32_t limit = c->s->p.idle_timeout_ms;
		int64_t due = c->active_ms + limit;
		uint64_t n;

		if (c->connecting)      /* the connect timeout is its limit until it is up */
			due = r->now_ms + limit;
		if (due > r->now_ms) {
			dl_heap_move(&r->idle, x, due);
			continue;
		}
		CTR_ADD(&r->ctr.idle_resets, 1);
		CTR_ADD(&c->s->st.idle_resets, 1);
		n = CTR_GET(&r->ctr.idle_resets);
		if (log_due(n))
			rlog(LOG_INFO, "session %" PRIu64 ": client %s: no byte either way for %u "
				"ms: reset (%" PRIu64 " idle resets so far in all sessions)",
				c->s->p.id, c->peer, limit, n);
		snprintf(why, sizeof(why), "reset: idle for %u ms", limit);
		relay_conn_close(r, c, true, false, why);
	}
}

static void run_timers(struct tcp_relay *r)
{
	char msg[sizeof(((struct tcp_event *)0)->message)];
	struct conn *c;
	struct sess *s;

	while ((c = TAILQ_FIRST(&r->connecting)) != NULL && c->deadline_ms <= r->now_ms) {
		snprintf(msg, sizeof(msg), "destination_endpoint: %s: connection timed out after "
			"%u ms", c->s->dest_txt, r->cfg.connect_timeout_ms);
		relay_conn_fail(r, c, msg, true);
	}
	while ((s = TAILQ_FIRST(&r->paused)) != NULL && s->resume_ms <= r->now_ms)
		relay_sess_resume(r, s);
	idle_expire(r);
}

/* epoll_wait's timeout: up to the nearest deadline, or forever when there is none. */
static int next_timeout(struct tcp_relay *r)
{
	int64_t next = INT64_MAX, now;
	struct conn *c = TAILQ_FIRST(&r->connecting);
	struct sess *s = TAILQ_FIRST(&r->paused);

	if (c != NULL)
		next = c->deadline_ms;
	if (s != NULL && s->resume_ms < next)
		next = s->resume_ms;
	if (dl_heap_top(&r->idle) != NULL && dl_heap_top(&r->idle)->at < next)
		next = dl_heap_top(&r->idle)->at;
	if (next == INT64_MAX)
		return -1;
	now = clock_ms(CLOCK_MONOTONIC);
	if (next <= now)
		return 0;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

static void dispatch(struct tcp_relay *r, const struct epoll_event *ev, bool *commands)
{
	struct ep *ep = ev->data.ptr;

	switch (ep->kind) {
	case EP_WAKE:
		unwake(r->wake_fd);
		*commands = true;       /* after the batch: they may free what events point at */
		break;
	case EP_LISTEN:
		relay_sess_accept(r, container_of(ep, struct sess, ep));
		break;
	case EP_CLIENT:
	case EP_DEST:
		relay_leg_event(r, container_of(ep, struct leg, ep), ev->events);
		break;
	}
}

void *tcp_relay_main(void *arg)
{
	struct tcp_relay *r = arg;
	struct epoll_event evs[BATCH];
	struct sess *s;

	pthread_setname_np(pthread_self(), "tcp-relay");
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		bool commands = false;
		int n = epoll_wait(r->epfd, evs, BATCH, next_timeout(r));

		if (n < 0 && errno != EINTR) {
			/* cannot happen with a valid epfd; add/remove then time out, never hang */
			rlog(LOG_ERR, "epoll_wait: %s: the relay thread stops", strerror(errno));
			break;
		}
		clock_update(r);
		for (int i = 0; i < n; i++)
			dispatch(r, &evs[i], &commands);
		relay_reap(r);
		if (commands)
			run_commands(r);
		run_timers(r);
		relay_reap(r);
		if (r->ev_kick) {
			r->ev_kick = false;
			wake(r->ev_fd);
		}
	}
	run_commands(r);        /* abandoned ones: free them */
	while ((s = TAILQ_FIRST(&r->sessions)) != NULL)
		relay_sess_teardown(r, s);
	relay_reap(r);
	return NULL;
}
