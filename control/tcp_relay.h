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

struct tcp_relay;

struct tcp_relay_config {
	unsigned connect_timeout_ms;    /* destination leg: give up after this long */
	size_t buffer_bytes;            /* per direction per connection (back-pressure bound) */
	unsigned max_connections;       /* across all sessions; beyond it accept + close at once */
};

/* One TCP session's endpoints. Addresses network byte order, ports host byte order. */
struct tcp_sess_params {
	uint64_t id;                    /* the session manager's serial: names it in events */
	uint32_t listen_addr;           /* 0 = every local address */
	uint16_t listen_port;           /* 0 = let the kernel choose (the caller usually allocates) */
	uint32_t forward_addr;          /* source of the destination leg */
	uint16_t forward_port;          /* 0 = ephemeral per connection; else one client at a time */
	uint32_t dest_addr;
	uint16_t dest_port;
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
};

enum tcp_event_kind {
	TCP_EV_CONNECTING,              /* a client was accepted, the destination leg is opening */
	TCP_EV_ESTABLISHED,             /* both legs of a connection are up */
	TCP_EV_FAILED,                  /* the destination refused / timed out: message says which */
	TCP_EV_CLOSED,                  /* a connection ended (both legs closed) */
};

struct tcp_event {
	uint64_t id;                    /* tcp_sess_params.id */
	enum tcp_event_kind kind;
	char message[160];
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

#endif
