/*
 * The TCP relay (see tcp_relay.h): one thread, one epoll set, every socket non-blocking. This
 * file is that thread; the callers' side (start/stop, commands, the registry, add/remove/stats)
 * is tcp_relay_ctl.c, their shared structures tcp_relay_int.h.
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
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <syslog.h>

/* ---- small helpers ---- */

static int sock_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return errno;
	return e;
}

/* Close with RST rather than FIN: the peer learns at once that the connection is gone. */
static void close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static bool fd_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* ---- events (relay thread produces, the control side consumes) ---- */

static void __attribute__((format(printf, 4, 5)))
emit(struct tcp_relay *r, const struct sess *s, enum tcp_event_kind kind, const char *fmt, ...)
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

/* ---- epoll interest ---- */

static struct dir *dir_from(struct conn *c, const struct leg *l)
{
	return l == &c->cli ? &c->c2d : &c->d2c;
}

static struct dir *dir_to(struct conn *c, const struct leg *l)
{
	return l == &c->cli ? &c->d2c : &c->c2d;
}

static uint32_t leg_want(struct tcp_relay *r, struct conn *c, const struct leg *l)
{
	const struct dir *in = dir_from(c, l), *out = dir_to(c, l);
	uint32_t want = 0;

	if (c->connecting)
		return l == &c->dst ? EPOLLOUT : 0;
	if (!in->eof && in->len < r->cfg.buffer_bytes)
		want |= EPOLLIN;
	if (out->len > 0 && out->blocked && !l->hup)
		want |= EPOLLOUT;
	return want;
}

/* Register what the leg waits for now; park a hung-up leg that cannot read. -errno on failure. */
static int leg_update(struct tcp_relay *r, struct conn *c, struct leg *l)
{
	uint32_t want = leg_want(r, c, l);
	struct epoll_event ev = { .events = want, .data.ptr = &l->ep };

	if (l->hup && !(want & EPOLLIN)) {
		if (!l->in_epoll)
			return 0;
		if (epoll_ctl(r->epfd, EPOLL_CTL_DEL, l->fd, NULL) < 0)
			return -errno;
		l->in_epoll = false;
		CTR_ADD(&r->ctr.legs_parked, 1);
		return 0;
	}
	if (!l->in_epoll) {
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
			return -errno;
		l->in_epoll = true;
	} else if (want != l->mask) {
		if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, l->fd, &ev) < 0)
			return -errno;
	}
	l->mask = want;
	return 0;
}

/* ---- connection life ---- */

static void leg_close(struct leg *l, bool rst)
{
	if (l->fd < 0)
		return;
	if (rst)
		close_rst(l->fd);
	else
		close(l->fd);           /* closing also takes it out of the epoll set */
	l->fd = -1;
}

/*
 * End a connection: CLOSED emitted unless quiet, both legs closed (RST or not), freed after the
 * epoll batch (its events may still point at it). Counters first: whoever sees the close sees
 * them.
 */
static void conn_close(struct tcp_relay *r, struct conn *c, bool rst, bool quiet, const char *why)
{
	struct sess *s = c->s;

	c->dead = true;
	if (c->connecting)
		TAILQ_REMOVE(&r->connecting, c, tlink);
	c->connecting = false;
	dl_heap_remove(&r->idle, &c->idle);
	TAILQ_REMOVE(&s->conns, c, link);
	s->nconns--;
	r->nconns--;
	CTR_SUB(&r->ctr.buffered_bytes, c->c2d.len + c->d2c.len);
	if (c->mem != NULL)
		CTR_SUB(&r->ctr.buffer_memory, 2 * r->cfg.buffer_bytes);
	CTR_SUB(&s->st.connections_open, 1);
	CTR_SUB(&r->ctr.connections_open, 1);
	if (!quiet)
		emit(r, s, TCP_EV_CLOSED, "client %s: %s", c->peer, why);
	leg_close(&c->cli, rst);
	leg_close(&c->dst, rst);
	TAILQ_INSERT_TAIL(&r->graveyard, c, link);
}

static void conn_abort(struct tcp_relay *r, struct conn *c, const struct leg *l, int err)
{
	char why[96];

	snprintf(why, sizeof(why), "reset: %s: %s", l == &c->cli ? "client" : "destination",
		strerror(err));
	CTR_ADD(&r->ctr.resets, 1);
	rlog(LOG_DEBUG, "session %" PRIu64 ": client %s: %s", c->s->p.id, c->peer, why);
	conn_close(r, c, true, false, why);
}

/* Both legs' interest after a change; a failing epoll_ctl (ENOMEM) ends the connection. */
static void conn_rearm(struct tcp_relay *r, struct conn *c)
{
	int rc = leg_update(r, c, &c->cli);

	if (rc == 0)
		rc = leg_update(r, c, &c->dst);
	if (rc < 0)
		conn_abort(r, c, &c->cli, -rc);
}

/* The destination leg did not come up: FAILED (message names the field), then CLOSED. */
static void conn_fail(struct tcp_relay *r, struct conn *c, const char *msg, bool timeout)
{
	CTR_ADD(timeout ? &r->ctr.connect_timeouts : &r->ctr.connect_failed, 1);
	rlog(LOG_INFO, "session %" PRIu64 ": client %s: %s", c->s->p.id, c->peer, msg);
	emit(r, c->s, TCP_EV_FAILED, "%s", msg);
	conn_close(r, c, true, false, "destination leg failed");
}

static void conn_fail_errno(struct tcp_relay *r, struct conn *c, const char *field,
		const char *ep, int err)
{
	char msg[sizeof(((struct tcp_event *)0)->message)];

	snprintf(msg, sizeof(msg), "%s: %s: %s", field, ep, strerror(err));
	conn_fail(r, c, msg, false);
}

static void reap(struct tcp_relay *r)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&r->graveyard)) != NULL) {
		TAILQ_REMOVE(&r->graveyard, c, link);
		free(c->mem);
		free(c);
	}
}

static void conn_established(struct tcp_relay *r, struct conn *c)
{
	size_t cap = r->cfg.buffer_bytes;
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	char src[EP_TXT] = "?";

	if (c->connecting)
		TAILQ_REMOVE(&r->connecting, c, tlink);
	c->connecting = false;
	c->mem = malloc(2 * cap);
	if (c->mem == NULL) {
		conn_abort(r, c, &c->cli, ENOMEM);
		return;
	}
	CTR_ADD(&r->ctr.buffer_memory, 2 * cap);
	c->c2d.buf = c->mem;
	c->d2c.buf = c->mem + cap;
	/* a relay passes on what it has at once: no Nagle delay on either leg */
	set_int_opt(c->cli.fd, IPPROTO_TCP, TCP_NODELAY, 1);
	set_int_opt(c->dst.fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (getsockname(c->dst.fd, (struct sockaddr *)&local, &len) == 0)
		fmt_ep(src, sizeof(src), local.sin_addr.s_addr, ntohs(local.sin_port));
	emit(r, c->s, TCP_EV_ESTABLISHED, "client %s -> destination_endpoint %s from %s",
		c->peer, c->s->dest_txt, src);
	conn_rearm(r, c);
}

/*
 * Pin the destination leg to the forward address's interface: its packets then leave through
 * the data-plane port that owns that address, whatever routes (a management network's
 * included) would pick. 0, or -1 when the connection was failed.
 */
static int leg_bind_dev(struct tcp_relay *r, struct conn *c)
{
	const char *dev = c->s->dev;
	char msg[sizeof(((struct tcp_event *)0)->message)];
	size_t n = strlen(dev);

	if (n == 0)
		return 0;
	if (setsockopt(c->dst.fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)n) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "forward_endpoint: %s: interface \"%s\": %s", c->s->fwd_txt,
		dev, strerror(errno));
	conn_fail(r, c, msg, false);
	return -1;
}

/* Start the destination leg from forward_addr[:forward_port], through bind_dev if set. */
static void conn_connect(struct tcp_relay *r, struct conn *c)
{
	const struct tcp_sess_params *p = &c->s->p;
	struct sockaddr_in fwd = sin_of(p->forward_addr, p->forward_port);
	struct sockaddr_in dst = sin_of(p->dest_addr, p->dest_port);
	int fd = c->dst.fd;

	if (leg_bind_dev(r, c) < 0)
		return;
	if (p->forward_port != 0)
		set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	else    /* the port is picked at connect(): unique per 4-tuple, not per address */
		set_int_opt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
	if (bind(fd, (struct sockaddr *)&fwd, sizeof(fwd)) < 0) {
		conn_fail_errno(r, c, "forward_endpoint", c->s->fwd_txt, errno);
		return;
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0) {
		conn_established(r, c);
		return;
	}
	if (errno != EINPROGRESS) {
		conn_fail_errno(r, c, "destination_endpoint", c->s->dest_txt, errno);
		return;
	}
	c->connecting = true;
	c->deadline_ms = r->now_ms + r->cfg.connect_timeout_ms;
	TAILQ_INSERT_TAIL(&r->connecting, c, tlink);      /* one timeout for all: FIFO = sorted */
	conn_rearm(r, c);
}

/* The connecting leg reported: SO_ERROR says how it went. */
static void connect_done(struct tcp_relay *r, struct conn *c)
{
	int e = sock_error(c->dst.fd);

	if (e == 0)
		conn_established(r, c);
	else
		conn_fail_errno(r, c, "destination_endpoint", c->s->dest_txt, e);
}

/* ---- copying ---- */

/* One read into the ring's free space. 0, or -1 when the connection was closed. */
static int dir_read(struct tcp_relay *r, struct conn *c, struct dir *d, struct leg *src)
{
	size_t cap = r->cfg.buffer_bytes, room = cap - d->len;
	size_t tail = (d->head + d->len) % cap, first = cap - tail < room ? cap - tail : room;
	struct iovec iov[2] = {
		{ .iov_base = d->buf + tail, .iov_len = first },
		{ .iov_base = d->buf, .iov_len = room - first },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = room > first ? 2 : 1 };
	ssize_t n;

	if (d->eof || room == 0)
		return 0;
	n = recvmsg(src->fd, &mh, MSG_DONTWAIT);
	if (n > 0) {
		d->len += (size_t)n;
		CTR_ADD(&d->st->reads, 1);
		CTR_ADD(&d->st->bytes_in, (uint64_t)n);
		CTR_ADD(&r->ctr.buffered_bytes, (uint64_t)n);
		CTR_SET(&c->s->st.last_activity_ms, r->now_unix_ms);
		c->active_ms = r->now_ms;
		return 0;
	}
	if (n == 0) {
		d->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	conn_abort(r, c, src, errno);
	return -1;
}

/* Write what the direction holds; pass the half-close on once it is empty. -1: closed. */
static int dir_flush(struct tcp_relay *r, struct conn *c, struct dir *d, struct leg *sink)
{
	size_t cap = r->cfg.buffer_bytes;
	size_t first = cap - d->head < d->len ? cap - d->head : d->len;
	struct iovec iov[2] = {
		{ .iov_base = d->buf + d->head, .iov_len = first },
		{ .iov_base = d->buf, .iov_len = d->len - first },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = d->len > first ? 2 : 1 };
	ssize_t n;

	if (d->len > 0 && !d->blocked) {
		n = sendmsg(sink->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			conn_abort(r, c, sink, errno);
			return -1;
		}
		if (n > 0) {
			d->head = (d->head + (size_t)n) % cap;
			d->len -= (size_t)n;
			if (d->len == 0)
				d->head = 0;    /* the next read gets one contiguous span */
			CTR_ADD(&d->st->writes, 1);
			CTR_ADD_REL(&d->st->bytes_out, (uint64_t)n);
			CTR_SUB(&r->ctr.buffered_bytes, (uint64_t)n);
			CTR_SET(&c->s->st.last_activity_ms, r->now_unix_ms);
			c->active_ms = r->now_ms;
		}
		/* short or refused: the socket buffer is full, EPOLLOUT says when it is not */
		d->blocked = d->len > 0;
	}
	if (d->len == 0 && d->eof && !d->shut) {
		if (shutdown(sink->fd, SHUT_WR) < 0) {
			conn_abort(r, c, sink, errno);
			return -1;
		}
		d->shut = true;
	}
	return 0;
}

/* After any event: move what can move, end the connection when both directions have ended. */
static void conn_pump(struct tcp_relay *r, struct conn *c)
{
	if (dir_flush(r, c, &c->c2d, &c->dst) < 0 || dir_flush(r, c, &c->d2c, &c->cli) < 0)
		return;
	if (c->c2d.shut && c->d2c.shut)
		conn_close(r, c, false, false, "closed");
	else
		conn_rearm(r, c);
}

static void leg_event(struct tcp_relay *r, struct leg *l, uint32_t events)
{
	struct conn *c = l->c;
	int e;

	if (c->dead)
		return;
	if (c->connecting && l == &c->dst) {
		connect_done(r, c);
		return;
	}
	/* an error, or the client gone (RST) before the destination answered */
	if ((events & EPOLLERR) || c->connecting) {
		e = sock_error(l->fd);
		conn_abort(r, c, l, e ? e : ECONNRESET);
		return;
	}
	if (events & EPOLLHUP) {
		l->hup = true;
		dir_to(c, l)->blocked = false;  /* a write tells whether it is still usable */
	}
	if (events & EPOLLOUT)
		dir_to(c, l)->blocked = false;
	if ((events & (EPOLLIN | EPOLLHUP)) && dir_read(r, c, dir_from(c, l), l) < 0)
		return;
	conn_pump(r, c);
}

/* ---- accepting ---- */

static void sess_pause(struct tcp_relay *r, struct sess *s)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &s->ep };

	if (s->paused)
		return;
	/* a listener reports nothing with an empty mask (no HUP): the backlog waits in the kernel
	 * (a short sleep per listener, not a global one: other sessions' clients still come in) */
	(void)epoll_ctl(r->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
	s->paused = true;
	s->resume_ms = r->now_ms + TCP_RELAY_ACCEPT_PAUSE_MS;
	TAILQ_INSERT_TAIL(&r->paused, s, plink);
	CTR_ADD(&r->ctr.accept_pauses, 1);
}

static void sess_resume(struct tcp_relay *r, struct sess *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->ep };

	TAILQ_REMOVE(&r->paused, s, plink);
	s->paused = false;
	(void)epoll_ctl(r->epfd, EPOLL_CTL_MOD, s->lfd, &ev);
}

/* No fd (or memory) for a new connection: rest this listener; say so once, then count. */
static void fd_starved(struct tcp_relay *r, struct sess *s, int err)
{
	struct rlimit rl = { .rlim_cur = 0 };

	CTR_ADD(&r->ctr.accept_fd_errors, 1);
	if (!r->starved) {
		getrlimit(RLIMIT_NOFILE, &rl);
		r->starved = true;
		r->starved_since = CTR_GET(&r->ctr.accept_fd_errors) - 1;
		rlog(LOG_ERR, "session %" PRIu64 ": listen_endpoint %s: cannot take a connection: "
			"%s (RLIMIT_NOFILE %llu, %u connections open); listeners rest %d ms at a "
			"time until it works again; further failures are counted, not logged",
			s->p.id, s->listen_txt, strerror(err), (unsigned long long)rl.rlim_cur,
			r->nconns, TCP_RELAY_ACCEPT_PAUSE_MS);
	}
	sess_pause(r, s);
}

static void fd_recovered(struct tcp_relay *r)
{
	if (!r->starved)
		return;
	r->starved = false;
	rlog(LOG_WARNING, "accepting connections again after %" PRIu64 " failures for lack of fds",
		CTR_GET(&r->ctr.accept_fd_errors) - r->starved_since);
}

/* Log the 1st, 2nd, 4th, 8th... time: a client retrying in a loop cannot flood the log. */
static bool log_due(uint64_t n)
{
	return (n & (n - 1)) == 0;
}

/* Why a client is refused on arrival. */
enum reject_why { REJECT_LIMIT, REJECT_SESSION_LIMIT, REJECT_BUSY };

/* A refused client: RST at once, counted (relay-wide and in its session) and logged. */
static void reject(struct tcp_relay *r, struct sess *s, int fd, const char *peer,
		enum reject_why why)
{
	uint64_t n;

	CTR_ADD(&s->st.conns_rejected, 1);
	switch (why) {
	case REJECT_BUSY:
		CTR_ADD(&r->ctr.rejected_busy, 1);
		n = CTR_GET(&r->ctr.rejected_busy);
		if (log_due(n))
			rlog(LOG_INFO, "session %" PRIu64 ": client %s refused: forward_endpoint "
				"%s carries a connection already (%" PRIu64 " refused so far)",
				s->p.id, peer, s->fwd_txt, n);
		break;
	case REJECT_SESSION_LIMIT:
		CTR_ADD(&r->ctr.rejected_session_limit, 1);
		n = CTR_GET(&r->ctr.rejected_session_limit);
		if (log_due(n))
			rlog(LOG_INFO, "session %" PRIu64 ": client %s reset: the session has %u "
				"connections (max_connections_per_session; %" PRIu64 " reset so "
				"far in all sessions)", s->p.id, peer, s->nconns, n);
		break;
	case REJECT_LIMIT:
		CTR_ADD(&r->ctr.rejected_limit, 1);
		n = CTR_GET(&r->ctr.rejected_limit);
		if (log_due(n))
			rlog(LOG_WARNING, "session %" PRIu64 ": client %s refused: %u connections "
				"open (max_connections; %" PRIu64 " refused so far)", s->p.id, peer,
				r->nconns, n);
		break;
	}
	close_rst(fd);          /* counted first: whoever sees the RST sees the count */
}

static void conn_open(struct tcp_relay *r, struct sess *s, int fd, const struct sockaddr_in *sa)
{
	char peer[EP_TXT];
	struct conn *c;
	int dfd;

	fmt_ep(peer, sizeof(peer), sa->sin_addr.s_addr, ntohs(sa->sin_port));
	if (r->nconns >= r->cfg.max_connections) {
		reject(r, s, fd, peer, REJECT_LIMIT);
		return;
	}
	if (r->cfg.max_conns_per_session != 0 && s->nconns >= r->cfg.max_conns_per_session) {
		reject(r, s, fd, peer, REJECT_SESSION_LIMIT);
		return;
	}
	if (s->p.forward_port != 0 && s->nconns > 0) {
		reject(r, s, fd, peer, REJECT_BUSY);
		return;
	}
	dfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (dfd < 0) {
		int e = errno;

		close_rst(fd);
		if (fd_shortage(e))
			fd_starved(r, s, e);
		else
			rlog(LOG_ERR, "session %" PRIu64 ": socket: %s", s->p.id, strerror(e));
		return;
	}
	fd_recovered(r);
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close_rst(fd);
		close(dfd);
		fd_starved(r, s, ENOMEM);
		return;
	}
	dl_node_init(&c->idle);
	c->active_ms = r->now_ms;
	if (s->p.idle_timeout_ms != 0 &&
			dl_heap_add(&r->idle, &c->idle, r->now_ms + s->p.idle_timeout_ms) < 0) {
		free(c);
		close_rst(fd);
		close(dfd);
		fd_starved(r, s, ENOMEM);
		return;
	}
	c->s = s;
	c->cli = (struct leg){ .ep.kind = EP_CLIENT, .fd = fd, .c = c };
	c->dst = (struct leg){ .ep.kind = EP_DEST, .fd = dfd, .c = c };
	c->c2d.st = &s->st.c2d;
	c->d2c.st = &s->st.d2c;
	memcpy(c->peer, peer, sizeof(peer));
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->nconns++;
	r->nconns++;
	CTR_ADD(&s->st.connections_total, 1);
	CTR_ADD(&s->st.connections_open, 1);
	CTR_ADD(&r->ctr.connections_open, 1);
	emit(r, s, TCP_EV_CONNECTING, "client %s -> destination_endpoint %s", peer, s->dest_txt);
	conn_connect(r, c);
}

static void sess_accept(struct tcp_relay *r, struct sess *s)
{
	for (int i = 0; i < ACCEPT_BURST && !s->paused; i++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(s->lfd, (struct sockaddr *)&sa, &len,
				SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_open(r, s, fd, &sa);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (fd_shortage(errno)) {
			fd_starved(r, s, errno);
			return;
		}
		/* ECONNABORTED, EPROTO, EINTR...: that client is gone, the next one may be fine */
		if (errno != ECONNABORTED && errno != EINTR && errno != EPROTO)
			rlog(LOG_WARNING, "session %" PRIu64 ": accept on listen_endpoint %s: %s",
				s->p.id, s->listen_txt, strerror(errno));
	}
}

/* ---- sessions on the relay side ---- */

static int sess_install(struct tcp_relay *r, struct sess *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->ep };

	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0)
		return -errno;
	TAILQ_INIT(&s->conns);
	TAILQ_INSERT_TAIL(&r->sessions, s, link);
	s->installed = true;
	return 0;
}

/* The listener and every connection closed with RST, quietly: the session is going away. */
static void sess_teardown(struct tcp_relay *r, struct sess *s)
{
	struct conn *c;

	if (!s->installed)
		return;
	while ((c = TAILQ_FIRST(&s->conns)) != NULL)
		conn_close(r, c, true, true, "removed");
	if (s->paused)
		TAILQ_REMOVE(&r->paused, s, plink);
	s->paused = false;
	close(s->lfd);
	s->lfd = -1;
	TAILQ_REMOVE(&r->sessions, s, link);
	s->installed = false;
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
			rc = sess_install(r, s);
		else
			sess_teardown(r, s);
		pthread_mutex_lock(&r->mu);
		mine = c->abandoned;
		if (!mine) {
			c->result = rc;
			c->done = true; /* from here on the caller owns s: do not touch it */
		}
		pthread_mutex_unlock(&r->mu);
		if (mine) {     /* the caller timed out and forgot it: undo and free */
			sess_teardown(r, s);
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
		conn_close(r, c, true, false, why);
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
		conn_fail(r, c, msg, true);
	}
	while ((s = TAILQ_FIRST(&r->paused)) != NULL && s->resume_ms <= r->now_ms)
		sess_resume(r, s);
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
		sess_accept(r, container_of(ep, struct sess, ep));
		break;
	case EP_CLIENT:
	case EP_DEST:
		leg_event(r, container_of(ep, struct leg, ep), ev->events);
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
		reap(r);
		if (commands)
			run_commands(r);
		run_timers(r);
		reap(r);
		if (r->ev_kick) {
			r->ev_kick = false;
			wake(r->ev_fd);
		}
	}
	run_commands(r);        /* abandoned ones: free them */
	while ((s = TAILQ_FIRST(&r->sessions)) != NULL)
		sess_teardown(r, s);
	reap(r);
	return NULL;
}
