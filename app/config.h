/* rtpproxy configuration: the INI file of API.md section 2, parsed and validated. */
#ifndef RTPPROXY_CONFIG_H
#define RTPPROXY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#define CONFIG_MAX_PORTS 8
#define CONFIG_MAX_ADDRS 32       /* addresses per port */
#define CONFIG_MAX_NEIGHBORS 32   /* static neighbours per port */
#define CONFIG_MAX_ALLOWED 32     /* allowed_destinations CIDRs */
#define CONFIG_MAX_SERVICES 32   /* kernel_allow entries per port */
#define CONFIG_MAX_PEERS 32      /* [grpc] allowed_peers CIDRs */
#define CONFIG_STR 256
#define CONFIG_STATE_NAME 65      /* [state] instance, peer_instance, key_prefix: 64 + NUL */
#define CONFIG_EXCEPTION_RATE_DEFAULT 10000   /* [portN] exception_rate_pps */
#define CONFIG_CLOCK_RATE_DEFAULT 8000   /* Hz, a payload type [rtp] clock_rates omits */
#define CONFIG_CLOCK_RATE_MAX 1000000

struct config_prefix {
	struct in_addr addr;          /* network byte order */
	uint8_t len;                  /* prefix length 0..32 */
};

struct config_neighbor {
	struct in_addr addr;
	uint8_t mac[6];
};

/* A service the kernel may serve on a port's addresses ([portN] kernel_allow, "tcp/22"). */
struct config_service {
	uint8_t proto;                /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;                /* host byte order, 1..65535 */
};

/* An IPv4 or IPv6 network ([grpc] allowed_peers); addr in network byte order. */
struct config_cidr {
	int family;                   /* AF_INET or AF_INET6 */
	uint8_t addr[16];             /* the first 4 bytes for AF_INET */
	uint8_t len;                  /* prefix length 0..32 / 0..128 */
};

struct config_port {
	char name[16];                /* the section name: "port0" */
	char device[CONFIG_STR];      /* vdev spec ("net_af_packet0,iface=x") or PCI address */
	bool is_pci;                  /* device looked like a PCI address */
	unsigned vlan;                /* 802.1Q VID 1..4094, 0 = untagged (default) */
	struct config_prefix addrs[CONFIG_MAX_ADDRS];
	unsigned n_addrs;             /* >= 1 */
	bool has_gateway;
	struct in_addr gateway;
	char exception[16];           /* kernel TAP interface name; default "rtp<N>" */
	struct config_neighbor neighbors[CONFIG_MAX_NEIGHBORS];
	unsigned n_neighbors;
	struct config_service kernel_allow[CONFIG_MAX_SERVICES];
	unsigned n_kernel_allow;
	unsigned exception_rate_pps;  /* packets/s to the kernel; 0 = unlimited; default 10000 */
};

struct config {
	char path[CONFIG_STR];        /* the file it came from, for messages */
	char eal_args[1024];          /* [eal] args, verbatim ("" when absent) */

	unsigned workers;             /* [dataplane] workers, 1..RTE_MAX_LCORE-1, default 1 */
	unsigned mbufs;               /* [dataplane] mbufs, default 16383 */
	unsigned idle_sleep_us;       /* [dataplane] idle_sleep_us, default 0 (pure polling) */

	struct config_port ports[CONFIG_MAX_PORTS];
	unsigned n_ports;             /* port0..portN-1, contiguous, >= 1 */

	char grpc_listen[CONFIG_STR]; /* [grpc] listen, default "[::]:50051" */
	char tls_cert[CONFIG_STR];    /* [grpc] tls_cert + tls_key: TLS only; "" = plaintext */
	char tls_key[CONFIG_STR];
	char tls_client_ca[CONFIG_STR]; /* mutual TLS: client certificates signed by this CA */
	char tokens_file[CONFIG_STR]; /* "TOKEN ROLE NAME" lines; "" = no tokens needed */
	struct config_cidr allowed_peers[CONFIG_MAX_PEERS];
	unsigned n_allowed_peers;     /* 0 = any peer */
	unsigned max_message_bytes;   /* default 65536 */
	unsigned max_streams;         /* open event streams, default 64 */
	unsigned stream_queue;        /* messages an event stream may fall behind, default 4096 */

	char audit_file[CONFIG_STR];  /* [audit] file; "" = the log */

	char http_listen[CONFIG_STR]; /* [http] listen, default "127.0.0.1:9464"; "" = off */

	unsigned max_sessions;        /* default 65536 */
	uint16_t port_min, port_max;  /* default 20000..59999, port_min <= port_max */
	unsigned idle_timeout_secs;   /* default 300 */
	unsigned closed_retention_secs; /* default 60 */

	unsigned tcp_connect_timeout_ms; /* [tcp] connect_timeout_ms, default 5000 */
	unsigned tcp_buffer_kib;        /* [tcp] buffer_kib: per direction per connection, 64 */
	unsigned tcp_max_connections;   /* [tcp] max_connections, default 10000 */
	unsigned tcp_max_conns_per_session; /* [tcp] max_connections_per_session, default 64 */
	struct config_prefix allowed[CONFIG_MAX_ALLOWED];
	unsigned n_allowed;           /* 0 = any destination */

	/* [rtp] clock_rates: RTP clock (Hz) per payload type, for jitter_ms; default 8000 each */
	uint32_t clock_rate[128];

	/* [state] (API.md 1.6): where sessions outlive the process */
	bool state_redis;               /* backend = redis (default none) */
	char state_redis_host[CONFIG_STR];      /* redis = host:port, default 127.0.0.1:6379 */
	uint16_t state_redis_port;
	char state_key_prefix[CONFIG_STATE_NAME];       /* default "rtpproxy:" */
	char state_instance[CONFIG_STATE_NAME];         /* default: the host name */
	bool state_standby;             /* role = standby (default active) */
	char state_peer_instance[CONFIG_STATE_NAME];    /* standby: the active's instance */
	unsigned state_lease_ms;        /* default 1000 */
	unsigned state_checkpoint_secs; /* default 5 */
	unsigned state_restore_wait_secs;       /* default 10 */
};

/* Fill *cfg with every default (no ports). */
void config_defaults(struct config *cfg);

/*
 * Load and validate FILE into *cfg (defaults first). On error returns -1 and writes
 * a one-line message naming the file, the section, the key and what was expected,
 * e.g. "rtpproxy.conf: [sessions] port_min: expected an integer 1..65535, got \"x\"".
 * Needs no EAL (rte_cfgfile is plain C).
 */
int config_load(const char *file, struct config *cfg, char *err, size_t errlen);

/* Parsers shared with the control plane; 0 on success, -1 on bad input. */
int config_parse_ipv4(const char *s, struct in_addr *out);
int config_parse_prefix(const char *s, struct config_prefix *out);
int config_parse_mac(const char *s, uint8_t mac[6]);

/* "198.18.0.0/15", "2001:db8::/32" or a bare address (a host); host bits must be 0. */
int config_parse_cidr(const char *s, struct config_cidr *out);
/* Whether ADDR (family FAMILY, network byte order) lies inside C. */
bool config_cidr_contains(const struct config_cidr *c, int family, const void *addr);

/*
 * "198.18.0.1:9464" or "[2001:db8::1]:9464" (address literals only, port 1..65535) into *out
 * (a sockaddr_in or sockaddr_in6) and *len; -1 for anything else.
 */
struct sockaddr_storage;
int config_parse_hostport(const char *s, struct sockaddr_storage *out, unsigned *len);

/* Whether A lies inside prefix P (host bits of P->addr are ignored). */
bool config_prefix_contains(const struct config_prefix *p, struct in_addr a);

/* Whether [sessions] allowed_destinations lets sessions send to A (an empty list allows all). */
bool config_dest_allowed(const struct config *cfg, struct in_addr a);

#endif
