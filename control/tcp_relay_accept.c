/*
 * The TCP relay's listeners (on the relay thread): a session's listener installed and torn
 * down, accepting clients, refusing those over the limits (max_connections, per session, a
 * forward port already in use), and resting a listener when fds or memory run out.
 */
#define _GNU_SOURCE
#include "tcp_relay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <syslog.h>

static bool fd_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
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

void relay_sess_resume(struct tcp_relay *r, struct sess *s)
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

static void conn_open(struct tcp_relay *r, struct sess *s, int fd,
		const struct sockaddr_storage *sa)
{
	char peer[EP_TXT];
	struct conn *c;
	int dfd;

	fmt_sa(peer, sizeof(peer), sa);
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
	dfd = socket(af_of(&s->p.dest_addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
	relay_emit(r, s, TCP_EV_CONNECTING, "client %s -> destination_endpoint %s", peer,
		s->dest_txt);
	relay_conn_connect(r, c);
}

void relay_sess_accept(struct tcp_relay *r, struct sess *s)
{
	for (int i = 0; i < ACCEPT_BURST && !s->paused; i++) {
		struct sockaddr_storage sa;
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

int relay_sess_install(struct tcp_relay *r, struct sess *s)
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
void relay_sess_teardown(struct tcp_relay *r, struct sess *s)
{
	struct conn *c;

	if (!s->installed)
		return;
	while ((c = TAILQ_FIRST(&s->conns)) != NULL)
		relay_conn_close(r, c, true, true, "removed");
	if (s->paused)
		TAILQ_REMOVE(&r->paused, s, plink);
	s->paused = false;
	close(s->lfd);
	s->lfd = -1;
	TAILQ_REMOVE(&r->sessions, s, link);
	s->installed = false;
}
