/*
 * The TCP relay: TCP sessions terminated by the kernel (TCP reaches it through each port's
 * exception interface) and copied between the client and the destination legs by one thread
 * with epoll. Never a worker lcore; the control lcore talks to it through this API only.
 *
 * Threading: tcp_relay_add/remove/stats/drain are called by the control lcore; the relay thread
 * owns every socket and connection. add/remove are synchronous (they return once the relay
 * thread has acted, bounded by a short wait) so CreateSession/DestroySession can answer with
 * the real outcome. Counters are written by the relay thread and read with relaxed atomics.
 */
#ifndef RTPPROXY_TCP_RELAY_H
#define RTPPROXY_TCP_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "rp_addr.h"

struct tcp_relay;

struct tcp_relay_config {
	unsigned connect_timeout_ms;    /* destination leg: give up after this long */
	size_t buffer_bytes;            /* per direction per connection (back-pressure bound) */
	unsigned max_connections;       /* across all sessions; beyond it accept + close at once */
	unsigned max_conns_per_session; /* clients of one session; beyond it accept + RST; 0 = no
					 * limit ([tcp] max_connections_per_session) */
};

/* What a 0 in tcp_relay_config means. max_connections 0: (RLIMIT_NOFILE - reserve) / 2. */
#define TCP_RELAY_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define TCP_RELAY_DEFAULT_BUFFER_BYTES (64 * 1024)
#define TCP_RELAY_FD_RESERVE 1024       /* fds left to the rest of the process */
#define TCP_RELAY_EVENT_QUEUE 4096      /* events held for tcp_relay_drain; beyond: dropped */
#define TCP_RELAY_ACCEPT_PAUSE_MS 100   /* a listener rests this long after EMFILE/ENFILE */

/* One TCP session's endpoints. Ports host byte order; addresses IPv4 only so far. */
struct tcp_sess_params {
	uint64_t id;                    /* the session manager's serial: names it in events */
	struct dp_addr listen_addr;     /* the wildcard (0.0.0.0) = every local address */
	uint16_t listen_port;           /* 0 = let the kernel choose (the caller usually allocates) */
	struct dp_addr forward_addr;    /* source of the destination leg */
	uint16_t forward_port;          /* 0 = ephemeral per connection; else one client at a time */
	struct dp_addr dest_addr;
	uint16_t dest_port;
	uint32_t idle_timeout_ms;       /* a connection with no byte either way this long is reset
					 * (both legs, RST); 0 = never */
	const char *bind_dev;           /* destination legs leave through this interface only
					 * (SO_BINDTODEVICE; the forward address's port's TAP);
					 * NULL or "" = wherever the routes say. Copied. */
};

/* Counters of one session: client -> destination and destination -> client. */
struct tcp_dir_stats {
	uint64_t reads;                 /* reads that returned data ("packets") */
	uint64_t bytes_in;              /* read from the source leg */
	uint64_t writes;
	uint64_t bytes_out;             /* written to the other leg */
};
struct tcp_stats {
	struct tcp_dir_stats c2d, d2c;
	uint64_t connections_total;     /* accepted client connections */
	uint32_t connections_open;
	int64_t last_activity_ms;       /* unix ms of the last byte moved, 0 = never */
	uint64_t conns_rejected;        /* clients reset on arrival: max_conns_per_session, a busy
					 * forward_port or max_connections */
	uint64_t idle_resets;           /* connections reset after idle_timeout_ms */
};

enum tcp_event_kind {
	TCP_EV_CONNECTING,              /* a client was accepted, the destination leg is opening */
	TCP_EV_ESTABLISHED,             /* both legs of a connection are up */
	TCP_EV_FAILED,                  /* the destination refused / timed out: message says which */
	TCP_EV_CLOSED,                  /* a connection ended (both legs closed) */
};

/*
 * Per connection: CONNECTING, then ESTABLISHED or FAILED, and last exactly one CLOSED (also after
 * FAILED, so CONNECTING/CLOSED pair up). A connection closed by tcp_relay_remove (or stop) emits
 * nothing more: the session is gone.
 */
struct tcp_event {
	uint64_t id;                    /* tcp_sess_params.id */
	enum tcp_event_kind kind;
	char message[160];
};

/* Relay-wide counters (not per session): what has no session to be counted in. */
struct tcp_relay_counters {
	uint64_t accept_fd_errors;      /* accept/socket failed: EMFILE, ENFILE, ENOBUFS, ENOMEM */
	uint64_t accept_pauses;         /* times a listener rested because of those */
	uint64_t rejected_busy;         /* forward_port set and its one connection still open */
	uint64_t rejected_limit;        /* max_connections reached */
	uint64_t rejected_session_limit; /* max_conns_per_session reached */
	uint64_t idle_resets;           /* connections idle for their session's idle timeout */
	uint64_t connect_failed;        /* destination refused / unreachable / bind failed */
	uint64_t connect_timeouts;
	uint64_t resets;                /* connections ended by an error or RST on either leg */
	uint64_t events_dropped;        /* event queue full */
	uint64_t buffered_bytes;        /* bytes held in relay buffers now (both directions) */
	uint64_t buffer_memory;         /* bytes of buffers allocated now (2 x buffer_bytes each) */
	uint64_t legs_parked;           /* hung-up legs taken out of epoll while they cannot read */
	uint32_t connections_open;
	uint32_t max_connections;       /* the effective limit */
	uint64_t nofile_limit;          /* RLIMIT_NOFILE soft limit after start-up */
};

/* Start the relay thread. NULL and err on failure (e.g. the fd limit cannot be raised). */
struct tcp_relay *tcp_relay_start(const struct tcp_relay_config *cfg, char *err, size_t errlen);

/*
 * Listen for a session: binds listen_addr:listen_port (SO_REUSEADDR; IP_FREEBIND is not used:
 * the address must be local) and hands the socket to the relay. *bound_port gets the port.
 * 0, or -errno with a message naming the field (e.g. "listen_endpoint: 198.18.1.1:20000: Address
 * already in use").
 */
int tcp_relay_add(struct tcp_relay *r, const struct tcp_sess_params *p, uint16_t *bound_port,
		char *err, size_t errlen);

/* Close the session's listener and every connection of it (RST to both legs); *final gets its
 * last counters. -ENOENT when unknown. */
int tcp_relay_remove(struct tcp_relay *r, uint64_t id, struct tcp_stats *final);

/* Current counters (any time, no wait). -ENOENT when unknown. */
int tcp_relay_stats(struct tcp_relay *r, uint64_t id, struct tcp_stats *out);

/* Take up to max events the relay produced since the last call (never blocks). */
unsigned tcp_relay_drain(struct tcp_relay *r, struct tcp_event *ev, unsigned max);

/* An fd the control loop may poll: readable when events are waiting (eventfd). */
int tcp_relay_event_fd(const struct tcp_relay *r);

/* Stop the thread, close everything. */
void tcp_relay_stop(struct tcp_relay *r);

/* Relay-wide counters (any time, no wait; each field atomic, not a snapshot of all). */
void tcp_relay_counters(const struct tcp_relay *r, struct tcp_relay_counters *out);

/*
 * Where the relay logs (levels as <syslog.h>: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG); NULL
 * = stderr, INFO and worse. Set it before tcp_relay_start: it is called from the caller's thread
 * and from the relay thread, so it must be thread-safe (rte_log is).
 */
void tcp_relay_set_log(void (*fn)(int level, const char *msg));

#endif
