/*
 * Request checks that hold whatever the configuration says (API.md 1.3): destinations that
 * would turn the appliance against itself or many hosts, and the limits on labels and session
 * ids. No DPDK and no grpc library here (only its status codes), so the fuzzer runs it on
 * unpacked requests alone.
 */
#ifndef RTPPROXY_VALIDATE_H
#define RTPPROXY_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "grpc_srv.h"           /* struct rpc_error */
#include "rtpproxy.pb-c.h"

#define VALIDATE_LABELS_MAX 32
#define VALIDATE_LABEL_KEY_MAX 63
#define VALIDATE_LABEL_VALUE_MAX 255
#define VALIDATE_ID_MAX 64
#define VALIDATE_SELF_MAX 128   /* own addresses kept, per family */

/* An address of the appliance with its prefix length (IPv4: its subnet's broadcast is refused
 * too, when the prefix is 30 or shorter). */
struct validate_addr4 {
	uint32_t addr;          /* network byte order */
	uint8_t len;
	const char *where;      /* for messages: "port0", "the host"; a static string */
};

struct validate_addr6 {
	struct in6_addr addr;
	const char *where;
};

/* The appliance's own addresses: what a destination may never be. */
struct validate_self {
	struct validate_addr4 v4[VALIDATE_SELF_MAX];
	unsigned n_v4;
	struct validate_addr6 v6[VALIDATE_SELF_MAX];
	unsigned n_v6;
};

/* Add an address (ignored when the table is full or it is already there). */
void validate_self_add4(struct validate_self *self, uint32_t addr, uint8_t len, const char *where);
void validate_self_add6(struct validate_self *self, const struct in6_addr *addr, const char *where);
/* Add the addresses of the kernel's interfaces (getifaddrs); -1 if it cannot list them. */
int validate_self_add_kernel(struct validate_self *self);

/*
 * A destination address (its text, as the request has it) of a forbidden class: loopback,
 * 0/8, multicast, 240/4, the limited broadcast, a broadcast of one of the appliance's subnets,
 * one of its own addresses; IPv6: ::1, ::, ff00::/8, fe80::/10, ::ffff:0:0/96, own addresses.
 * INVALID_ARGUMENT naming `field` and why. Text that is no address passes (the endpoint parser
 * says what is wrong with it).
 */
grpc_status_code validate_destination(const char *field, const char *address,
		const struct validate_self *self, struct rpc_error *err);
bool validate_forbidden4(uint32_t addr, const struct validate_self *self, char *why, size_t len);
bool validate_forbidden6(const struct in6_addr *addr, const struct validate_self *self,
		char *why, size_t len);

/* "" (generate one) or 1..64 bytes of [A-Za-z0-9._:-]. */
grpc_status_code validate_session_id(const char *field, const char *id, struct rpc_error *err);
/* One label: key 1..63 bytes, value 0..255 bytes. field: "labels", "label_selector". */
grpc_status_code validate_label(const char *field, const char *key, const char *value,
		struct rpc_error *err);

/* Every check above that applies to the request (self: NULL = no own addresses known). */
grpc_status_code validate_create(const Rtpproxy__CreateSessionRequest *r,
		const struct validate_self *self, struct rpc_error *err);
grpc_status_code validate_list(const Rtpproxy__ListSessionsRequest *r, struct rpc_error *err);

#endif
