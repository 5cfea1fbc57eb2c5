/*
 * The TCP relay's connections (on the relay thread): a connection's two legs and their epoll
 * interest, the destination leg's connect, copying both ways through the ring buffers with
 * back-pressure and half-close, and the end of a connection. How and why is tcp_relay.c's
 * comment; the structures are tcp_relay_int.h's.
 */
#define _GNU_SOURCE
#include "tcp_relay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
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
void relay_conn_close(struct tcp_relay *r, struct conn *c, bool rst, bool quiet, const char *why)
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
		relay_emit(r, s, TCP_EV_CLOSED, "client %s: %s", c->peer, why);
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
	relay_conn_close(r, c, true, false, why);
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
void relay_conn_fail(struct tcp_relay *r, struct conn *c, const char *msg, bool timeout)
{
	CTR_ADD(timeout ? &r->ctr.connect_timeouts : &r->ctr.connect_failed, 1);
	rlog(LOG_INFO, "session %" PRIu64 ": client %s: %s", c->s->p.id, c->peer, msg);
	relay_emit(r, c->s, TCP_EV_FAILED, "%s", msg);
	relay_conn_close(r, c, true, false, "destination leg failed");
}

static void conn_fail_errno(struct tcp_relay *r, struct conn *c, const char *field,
		const char *ep, int err)
{
	char msg[sizeof(((struct tcp_event *)0)->message)];

	snprintf(msg, sizeof(msg), "%s: %s: %s", field, ep, strerror(err));
	relay_conn_fail(r, c, msg, false);
}

void relay_reap(struct tcp_relay *r)
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
	relay_emit(r, c->s, TCP_EV_ESTABLISHED, "client %s -> destination_endpoint %s from %s",
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
	relay_conn_fail(r, c, msg, false);
	return -1;
}

/* Start the destination leg from forward_addr[:forward_port], through bind_dev if set. */
void relay_conn_connect(struct tcp_relay *r, struct conn *c)
{
	const struct tcp_sess_params *p = &c->s->p;
	struct sockaddr_in fwd = sin_of(p->forward_addr.v4, p->forward_port);
	struct sockaddr_in dst = sin_of(p->dest_addr.v4, p->dest_port);
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
		relay_conn_close(r, c, false, false, "closed");
	else
		conn_rearm(r, c);
}

void relay_leg_event(struct tcp_relay *r, struct leg *l, uint32_t events)
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
