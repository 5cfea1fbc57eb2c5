/*
 * The TCP relay's callers' side (see tcp_relay.h, tcp_relay_int.h): start and stop, the command
 * queue the control lcore waits on, the id -> session registry, add/remove/stats/counters and
 * the event queue's consumer end. Never touches a socket after handing it to the relay thread.
 */
#define _GNU_SOURCE
#include "tcp_relay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <syslog.h>

/* ---- logging ---- */

static void (*log_fn)(int level, const char *msg);

void tcp_relay_set_log(void (*fn)(int level, const char *msg))
{
	__atomic_store_n(&log_fn, fn, __ATOMIC_RELEASE);
}

void tcp_relay_log(int level, const char *fmt, ...)
{
	void (*fn)(int, const char *) = __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE);
	char msg[320];
	va_list ap;

	if (fn == NULL && level > LOG_INFO)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fn != NULL)
		fn(level, msg);
	else
		fprintf(stderr, "tcp_relay: %s\n", msg);
}

/* ---- events (the consumer end) ---- */

unsigned tcp_relay_drain(struct tcp_relay *r, struct tcp_event *ev, unsigned max)
{
	uint32_t head = r->ev_head, tail;
	unsigned n = 0;

	/* reset first: anything queued after this read writes the eventfd again */
	unwake(r->ev_fd);
	tail = __atomic_load_n(&r->ev_tail, __ATOMIC_ACQUIRE);
	while (n < max && head != tail)
		ev[n++] = r->evq[head++ % TCP_RELAY_EVENT_QUEUE];
	__atomic_store_n(&r->ev_head, head, __ATOMIC_RELEASE);
	if (head != tail)
		wake(r->ev_fd);         /* more than max waiting: stay readable */
	return n;
}

int tcp_relay_event_fd(const struct tcp_relay *r)
{
	return r->ev_fd;
}

/* ---- commands ---- */

/* Queue a command and wait for the relay's answer, at most CMD_WAIT_MS. */
static int cmd_run(struct tcp_relay *r, struct sess *s, enum cmd_kind kind)
{
	struct cmd *c = &s->cmd;
	struct timespec dl;
	int rc;

	memset(c, 0, sizeof(*c));
	c->kind = kind;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += CMD_WAIT_MS / 1000;
	dl.tv_nsec += (CMD_WAIT_MS % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mu);
	TAILQ_INSERT_TAIL(&r->cmds, c, link);
	pthread_mutex_unlock(&r->mu);
	wake(r->wake_fd);
	pthread_mutex_lock(&r->mu);
	while (!c->done)
		if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT)
			break;
	if (c->done) {
		rc = c->result;
	} else {
		c->abandoned = true;    /* the relay frees s when it gets to it */
		rc = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* ---- the registry: id -> session, for the callers (chained hash) ---- */

static size_t reg_slot(const struct tcp_relay *r, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & (r->reg_nb - 1);
}

static struct sess *reg_find(const struct tcp_relay *r, uint64_t id)
{
	struct sess *s;

	for (s = r->reg[reg_slot(r, id)]; s != NULL; s = s->hnext)
		if (s->p.id == id)
			return s;
	return NULL;
}

static void reg_grow(struct tcp_relay *r)
{
	size_t old_nb = r->reg_nb;
	struct sess **old = r->reg, **nb = calloc(old_nb * 2, sizeof(*nb));

	if (nb == NULL)
		return;         /* longer chains, still correct */
	r->reg = nb;
	r->reg_nb = old_nb * 2;
	for (size_t i = 0; i < old_nb; i++) {
		struct sess *s = old[i], *next;

		for (; s != NULL; s = next) {
			size_t k = reg_slot(r, s->p.id);

			next = s->hnext;
			s->hnext = nb[k];
			nb[k] = s;
		}
	}
	free(old);
}

static void reg_insert(struct tcp_relay *r, struct sess *s)
{
	size_t k;

	if (r->reg_n >= r->reg_nb)
		reg_grow(r);
	k = reg_slot(r, s->p.id);
	s->hnext = r->reg[k];
	r->reg[k] = s;
	r->reg_n++;
}

static struct sess *reg_unlink(struct tcp_relay *r, uint64_t id)
{
	struct sess **pp, *s;

	for (pp = &r->reg[reg_slot(r, id)]; (s = *pp) != NULL; pp = &s->hnext) {
		if (s->p.id == id) {
			*pp = s->hnext;
			r->reg_n--;
			return s;
		}
	}
	return NULL;
}

/* ---- the control side's API ---- */

static void stats_read(const struct sess *s, struct tcp_stats *o)
{
	const struct tcp_dir_stats *in[2] = { &s->st.c2d, &s->st.d2c };
	struct tcp_dir_stats *out[2] = { &o->c2d, &o->d2c };

	for (int i = 0; i < 2; i++) {
		/* out (acquire) before in: bytes_in >= bytes_out holds in what we return */
		out[i]->writes = CTR_GET(&in[i]->writes);
		out[i]->bytes_out = __atomic_load_n(&in[i]->bytes_out, __ATOMIC_ACQUIRE);
		out[i]->reads = CTR_GET(&in[i]->reads);
		out[i]->bytes_in = CTR_GET(&in[i]->bytes_in);
	}
	o->connections_total = CTR_GET(&s->st.connections_total);
	o->connections_open = CTR_GET(&s->st.connections_open);
	o->last_activity_ms = CTR_GET(&s->st.last_activity_ms);
	o->conns_rejected = CTR_GET(&s->st.conns_rejected);
	o->idle_resets = CTR_GET(&s->st.idle_resets);
}

int tcp_relay_stats(struct tcp_relay *r, uint64_t id, struct tcp_stats *out)
{
	struct sess *s;

	/* reg_mu only orders callers against each other; the relay thread never takes it */
	pthread_mutex_lock(&r->reg_mu);
	s = reg_find(r, id);
	if (s != NULL)
		stats_read(s, out);
	pthread_mutex_unlock(&r->reg_mu);
	return s != NULL ? 0 : -ENOENT;
}

void tcp_relay_counters(const struct tcp_relay *r, struct tcp_relay_counters *o)
{
	const struct tcp_relay_counters *c = &r->ctr;

	o->accept_fd_errors = CTR_GET(&c->accept_fd_errors);
	o->accept_pauses = CTR_GET(&c->accept_pauses);
	o->rejected_busy = CTR_GET(&c->rejected_busy);
	o->rejected_limit = CTR_GET(&c->rejected_limit);
	o->rejected_session_limit = CTR_GET(&c->rejected_session_limit);
	o->idle_resets = CTR_GET(&c->idle_resets);
	o->connect_failed = CTR_GET(&c->connect_failed);
	o->connect_timeouts = CTR_GET(&c->connect_timeouts);
	o->resets = CTR_GET(&c->resets);
	o->events_dropped = CTR_GET(&c->events_dropped);
	o->buffered_bytes = CTR_GET(&c->buffered_bytes);
	o->buffer_memory = CTR_GET(&c->buffer_memory);
	o->legs_parked = CTR_GET(&c->legs_parked);
	o->connections_open = CTR_GET(&c->connections_open);
	o->max_connections = r->cfg.max_connections;
	o->nofile_limit = r->ctr.nofile_limit;
}

/* socket/bind/listen in the caller's thread, so the error comes back with the request. */
static int listener_open(struct sess *s, uint16_t *bound_port, char *err, size_t errlen)
{
	struct sockaddr_in sa = sin_of(s->p.listen_addr.v4, s->p.listen_port);
	socklen_t len = sizeof(sa);
	const char *what = "socket";
	int fd, e;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	what = NULL;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	what = "listen";
	if (listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	what = "getsockname";
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		goto fail;
	s->lfd = fd;
	*bound_port = ntohs(sa.sin_port);
	fmt_ep(s->listen_txt, sizeof(s->listen_txt), s->p.listen_addr.v4, *bound_port);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	snprintf(err, errlen, "listen_endpoint: %s: %s%s%s", s->listen_txt, what ? what : "",
		what ? ": " : "", strerror(e));
	return -e;
}

static struct sess *sess_new(const struct tcp_sess_params *p)
{
	struct sess *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->p = *p;
	if (p->bind_dev != NULL)
		snprintf(s->dev, sizeof(s->dev), "%s", p->bind_dev);
	s->p.bind_dev = s->dev;
	s->ep.kind = EP_LISTEN;
	s->lfd = -1;
	fmt_ep(s->listen_txt, sizeof(s->listen_txt), p->listen_addr.v4, p->listen_port);
	fmt_ep(s->fwd_txt, sizeof(s->fwd_txt), p->forward_addr.v4, p->forward_port);
	fmt_ep(s->dest_txt, sizeof(s->dest_txt), p->dest_addr.v4, p->dest_port);
	return s;
}

static void reg_drop(struct tcp_relay *r, uint64_t id)
{
	pthread_mutex_lock(&r->reg_mu);
	reg_unlink(r, id);
	pthread_mutex_unlock(&r->reg_mu);
}

int tcp_relay_add(struct tcp_relay *r, const struct tcp_sess_params *p, uint16_t *bound_port,
		char *err, size_t errlen)
{
	uint16_t port = 0;
	struct sess *s;
	bool dup;
	int rc;

	if (p->dest_port == 0 || !dp_addr_is_v4(&p->dest_addr) || p->dest_addr.v4 == 0) {
		snprintf(err, errlen, "destination_endpoint: %s", dp_addr_is_v6(&p->dest_addr) ?
				"IPv6 is not supported yet" : "an address and a port are required");
		return -EINVAL;
	}
	if (dp_addr_is_v6(&p->listen_addr) || dp_addr_is_v6(&p->forward_addr)) {
		snprintf(err, errlen, "%s: IPv6 is not supported yet",
				dp_addr_is_v6(&p->listen_addr) ? "listen_endpoint" : "forward_endpoint");
		return -EINVAL;
	}
	if (p->bind_dev != NULL && strlen(p->bind_dev) >= IFNAMSIZ) {
		snprintf(err, errlen, "forward_endpoint: interface name \"%.32s\" is longer than "
			"%d bytes", p->bind_dev, IFNAMSIZ - 1);
		return -EINVAL;
	}
	s = sess_new(p);
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* reserve the id first, so two adds of one id cannot both get through */
	pthread_mutex_lock(&r->reg_mu);
	dup = reg_find(r, p->id) != NULL;
	if (!dup)
		reg_insert(r, s);
	pthread_mutex_unlock(&r->reg_mu);
	if (dup) {
		snprintf(err, errlen, "session %" PRIu64 " has a TCP listener already", p->id);
		free(s);
		return -EEXIST;
	}
	rc = listener_open(s, &port, err, errlen);
	if (rc < 0)
		goto fail;
	rc = cmd_run(r, s, CMD_ADD);
	if (rc == -ETIMEDOUT) {
		reg_drop(r, p->id);     /* s belongs to the relay thread now */
		snprintf(err, errlen, "listen_endpoint: %s: the TCP relay did not answer within "
			"%d ms", s->listen_txt, CMD_WAIT_MS);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "listen_endpoint: %s: epoll: %s", s->listen_txt,
			strerror(-rc));
		goto fail;
	}
	if (bound_port != NULL)
		*bound_port = port;
	rlog(LOG_DEBUG, "session %" PRIu64 ": listening on %s -> %s from %s", p->id, s->listen_txt,
		s->dest_txt, s->fwd_txt);
	return 0;
fail:
	reg_drop(r, p->id);
	sess_free(s);
	return rc;
}

int tcp_relay_remove(struct tcp_relay *r, uint64_t id, struct tcp_stats *final)
{
	struct sess *s;
	int rc;

	pthread_mutex_lock(&r->reg_mu);
	s = reg_unlink(r, id);
	if (s != NULL && final != NULL)
		stats_read(s, final);   /* what a timeout leaves the caller with */
	pthread_mutex_unlock(&r->reg_mu);
	if (s == NULL)
		return -ENOENT;
	rc = cmd_run(r, s, CMD_REMOVE);
	if (rc == -ETIMEDOUT) {
		rlog(LOG_ERR, "session %" PRIu64 ": the TCP relay did not answer within %d ms; "
			"it closes the session when it does", id, CMD_WAIT_MS);
		return rc;
	}
	if (final != NULL)
		stats_read(s, final);
	sess_free(s);
	return 0;
}

/* ---- start and stop ---- */

/* Raise RLIMIT_NOFILE's soft limit to the hard one: 1000 connections are 2000 fds. */
static int raise_nofile(rlim_t *limit, char *err, size_t errlen)
{
	struct rlimit rl, n;
	int e;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		e = errno;
		snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE): %s", strerror(e));
		return -e;
	}
	*limit = rl.rlim_cur;
	n = rl;
	n.rlim_cur = rl.rlim_max;
	if (n.rlim_cur == RLIM_INFINITY)
		n.rlim_cur = 1048576;   /* the kernel's usual nr_open: "infinity" is refused */
	if (rl.rlim_cur >= n.rlim_cur) {
		rlog(LOG_INFO, "RLIMIT_NOFILE soft limit %llu (the hard limit)",
			(unsigned long long)rl.rlim_cur);
		return 0;
	}
	if (setrlimit(RLIMIT_NOFILE, &n) < 0) {
		e = errno;
		snprintf(err, errlen, "RLIMIT_NOFILE: cannot raise the soft limit from %llu to "
			"%llu: %s", (unsigned long long)rl.rlim_cur, (unsigned long long)n.rlim_cur,
			strerror(e));
		return -e;
	}
	rlog(LOG_INFO, "RLIMIT_NOFILE soft limit raised from %llu to %llu",
		(unsigned long long)rl.rlim_cur, (unsigned long long)n.rlim_cur);
	*limit = n.rlim_cur;
	return 0;
}

static void config_defaults(struct tcp_relay *r, const struct tcp_relay_config *cfg,
		rlim_t nofile)
{
	unsigned by_fds = nofile > 2 * TCP_RELAY_FD_RESERVE ?
		(unsigned)((nofile - TCP_RELAY_FD_RESERVE) / 2) : (unsigned)(nofile / 4);

	r->cfg = *cfg;
	if (r->cfg.connect_timeout_ms == 0)
		r->cfg.connect_timeout_ms = TCP_RELAY_DEFAULT_CONNECT_TIMEOUT_MS;
	if (r->cfg.buffer_bytes == 0)
		r->cfg.buffer_bytes = TCP_RELAY_DEFAULT_BUFFER_BYTES;
	if (r->cfg.max_connections == 0)
		r->cfg.max_connections = by_fds > 0 ? by_fds : 1;
	else if (r->cfg.max_connections > by_fds)
		rlog(LOG_WARNING, "max_connections %u needs about %llu fds, RLIMIT_NOFILE is %llu: "
			"accepts will fail before the limit", r->cfg.max_connections,
			2ULL * r->cfg.max_connections + TCP_RELAY_FD_RESERVE,
			(unsigned long long)nofile);
	r->ctr.max_connections = r->cfg.max_connections;
	r->ctr.nofile_limit = nofile;
}

static void relay_free(struct tcp_relay *r)
{
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	if (r->ev_fd >= 0)
		close(r->ev_fd);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->reg_mu);
	pthread_cond_destroy(&r->cv);
	free(r->evq);
	free(r->reg);
	dl_heap_free(&r->idle);
	free(r);
}

static int relay_init(struct tcp_relay *r)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &r->wake_ep };
	pthread_condattr_t ca;

	r->epfd = r->wake_fd = r->ev_fd = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->reg_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);      /* cmd_run's deadline */
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	TAILQ_INIT(&r->cmds);
	TAILQ_INIT(&r->sessions);
	TAILQ_INIT(&r->paused);
	TAILQ_INIT(&r->connecting);
	TAILQ_INIT(&r->graveyard);
	r->wake_ep.kind = EP_WAKE;
	r->reg_nb = 64;
	r->reg = calloc(r->reg_nb, sizeof(*r->reg));
	r->evq = calloc(TCP_RELAY_EVENT_QUEUE, sizeof(*r->evq));
	if (r->reg == NULL || r->evq == NULL)
		return -ENOMEM;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->epfd < 0 || r->wake_fd < 0 || r->ev_fd < 0)
		return -errno;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->wake_fd, &ev) < 0)
		return -errno;
	clock_update(r);
	return 0;
}

/* The thread takes no signal: they stay with the threads that handle them. */
static int thread_start(struct tcp_relay *r)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->thread, NULL, tcp_relay_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

struct tcp_relay *tcp_relay_start(const struct tcp_relay_config *cfg, char *err, size_t errlen)
{
	struct tcp_relay *r;
	rlim_t nofile = 0;
	int rc;

	if (raise_nofile(&nofile, err, errlen) < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	config_defaults(r, cfg, nofile);
	rc = relay_init(r);
	if (rc == 0)
		rc = thread_start(r);
	if (rc < 0) {
		snprintf(err, errlen, "TCP relay start-up: %s", strerror(-rc));
		relay_free(r);
		return NULL;
	}
	rlog(LOG_INFO, "started: %zu bytes per direction per connection, connect timeout %u ms, "
		"max %u connections, %u per session (0: no limit)", r->cfg.buffer_bytes,
		r->cfg.connect_timeout_ms, r->cfg.max_connections, r->cfg.max_conns_per_session);
	return r;
}

void tcp_relay_stop(struct tcp_relay *r)
{
	if (r == NULL)
		return;
	__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
	wake(r->wake_fd);
	pthread_join(r->thread, NULL);
	/* the thread closed every socket; what is left are the registry's session records */
	for (size_t i = 0; i < r->reg_nb; i++) {
		struct sess *s, *next;

		for (s = r->reg[i]; s != NULL; s = next) {
			next = s->hnext;
			sess_free(s);
		}
	}
	relay_free(r);
	rlog(LOG_INFO, "stopped");
}
