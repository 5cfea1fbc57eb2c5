#include "validate.h"

#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

/* Like rpc_fail, which lives with the grpc library: this file links without it. */
static grpc_status_code fail(struct rpc_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static grpc_status_code fail(struct rpc_error *err, const char *fmt, ...)
{
	va_list ap;

	err->code = GRPC_STATUS_INVALID_ARGUMENT;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return err->code;
}

/* ---- own addresses ---- */

void validate_self_add4(struct validate_self *self, uint32_t addr, uint8_t len, const char *where)
{
	for (unsigned i = 0; i < self->n_v4; i++)
		if (self->v4[i].addr == addr && self->v4[i].len == len)
			return;
	if (self->n_v4 == VALIDATE_SELF_MAX || len > 32)
		return;
	self->v4[self->n_v4++] = (struct validate_addr4){ .addr = addr, .len = len, .where = where };
}

void validate_self_add6(struct validate_self *self, const struct in6_addr *addr, const char *where)
{
	for (unsigned i = 0; i < self->n_v6; i++)
		if (memcmp(&self->v6[i].addr, addr, sizeof(*addr)) == 0)
			return;
	if (self->n_v6 == VALIDATE_SELF_MAX)
		return;
	self->v6[self->n_v6].addr = *addr;
	self->v6[self->n_v6++].where = where;
}

static uint8_t prefix_len4(uint32_t mask_be)
{
	return (uint8_t)__builtin_popcount(mask_be);
}

int validate_self_add_kernel(struct validate_self *self)
{
	struct ifaddrs *all, *i;

	if (getifaddrs(&all) != 0)
		return -1;
	for (i = all; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)i->ifa_addr;
			const struct sockaddr_in *m = (const void *)i->ifa_netmask;
			validate_self_add4(self, a->sin_addr.s_addr,
					m != NULL ? prefix_len4(m->sin_addr.s_addr) : 32, "the host");
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)i->ifa_addr;
			validate_self_add6(self, &a->sin6_addr, "the host");
		}
	}
	freeifaddrs(all);
	return 0;
}

/* ---- destinations ---- */

static bool in4(uint32_t addr_be, uint32_t net, unsigned len)
{
	uint32_t a = ntohl(addr_be), mask = len ? ~0u << (32 - len) : 0;
	return (a & mask) == net;
}

static void fmt4(uint32_t addr_be, char out[INET_ADDRSTRLEN])
{
	inet_ntop(AF_INET, &addr_be, out, INET_ADDRSTRLEN);
}

bool validate_forbidden4(uint32_t addr, const struct validate_self *self, char *why, size_t len)
{
	char net[INET_ADDRSTRLEN];

	if (in4(addr, 0x7f000000, 8))
		return snprintf(why, len, "is a loopback address (127.0.0.0/8)"), true;
	if (in4(addr, 0, 8))
		return snprintf(why, len, "is in 0.0.0.0/8 (\"this network\")"), true;
	if (in4(addr, 0xe0000000, 4))
		return snprintf(why, len, "is a multicast address (224.0.0.0/4)"), true;
	if (addr == 0xffffffff)
		return snprintf(why, len, "is the limited broadcast address"), true;
	if (in4(addr, 0xf0000000, 4))
		return snprintf(why, len, "is a reserved address (240.0.0.0/4)"), true;
	for (unsigned i = 0; self != NULL && i < self->n_v4; i++) {
		const struct validate_addr4 *s = &self->v4[i];
		if (s->addr == addr)
			return snprintf(why, len, "is the appliance's own address (%s)", s->where),
			       true;
	}
	for (unsigned i = 0; self != NULL && i < self->n_v4; i++) {
		const struct validate_addr4 *s = &self->v4[i];
		if (s->len == 0 || s->len > 30)
			continue;       /* /31 and /32 have no broadcast address */
		uint32_t mask = htonl(~0u << (32 - s->len));
		if (addr == (s->addr | ~mask)) {
			fmt4(s->addr & mask, net);
			return snprintf(why, len, "is the broadcast address of %s/%u (%s)", net,
					s->len, s->where), true;
		}
	}
	return false;
}

/* addr in prefix/len */
static bool in6(const struct in6_addr *addr, const uint8_t *prefix, unsigned len)
{
	unsigned bytes = len / 8, bits = len % 8;
	if (memcmp(addr->s6_addr, prefix, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return (addr->s6_addr[bytes] & mask) == (prefix[bytes] & mask);
}

bool validate_forbidden6(const struct in6_addr *addr, const struct validate_self *self,
		char *why, size_t len)
{
	static const struct { uint8_t prefix[16]; unsigned len; const char *what; } classes[] = {
		{ { [15] = 1 }, 128, "is the loopback address (::1)" },
		{ { 0 }, 128, "is the unspecified address (::)" },
		{ { 0xff }, 8, "is a multicast address (ff00::/8)" },
		{ { 0xfe, 0x80 }, 10, "is a link-local address (fe80::/10)" },
		{ { [10] = 0xff, [11] = 0xff }, 96, "is an IPv4-mapped address (::ffff:0:0/96)" },
	};

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (in6(addr, classes[i].prefix, classes[i].len))
			return snprintf(why, len, "%s", classes[i].what), true;
	for (unsigned i = 0; self != NULL && i < self->n_v6; i++)
		if (memcmp(&self->v6[i].addr, addr, sizeof(*addr)) == 0)
			return snprintf(why, len, "is the appliance's own address (%s)",
					self->v6[i].where), true;
	return false;
}

grpc_status_code validate_destination(const char *field, const char *address,
		const struct validate_self *self, struct rpc_error *err)
{
	struct in_addr a4;
	struct in6_addr a6;
	char why[128];

	if (address == NULL)
		return GRPC_STATUS_OK;
	if (inet_pton(AF_INET, address, &a4) == 1) {
		if (validate_forbidden4(a4.s_addr, self, why, sizeof(why)))
			return fail(err, "%s: %s %s", field, address, why);
	} else if (inet_pton(AF_INET6, address, &a6) == 1) {
		if (validate_forbidden6(&a6, self, why, sizeof(why)))
			return fail(err, "%s: %s %s", field, address, why);
	}
	return GRPC_STATUS_OK;
}

/* ---- ids and labels ---- */

/* At most 32 bytes of s for a message, quotes and unprintable bytes as '?'. */
static const char *shown(const char *s, char out[40])
{
	size_t i;
	for (i = 0; s[i] != '\0' && i < 32; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' ? s[i] : '?';
	strcpy(out + i, s[i] != '\0' ? "..." : "");
	return out;
}

static bool id_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == ':' || c == '-';
}

grpc_status_code validate_session_id(const char *field, const char *id, struct rpc_error *err)
{
	char buf[40];

	if (id == NULL)
		return GRPC_STATUS_OK;
	size_t n = strlen(id);
	if (n > VALIDATE_ID_MAX)
		return fail(err, "%s: \"%s\" is %zu bytes, at most %d", field, shown(id, buf), n,
				VALIDATE_ID_MAX);
	for (size_t i = 0; i < n; i++)
		if (!id_char(id[i]))
			return fail(err, "%s: \"%s\" has a byte outside [A-Za-z0-9._:-] (0x%02x at "
					"%zu)", field, shown(id, buf), (unsigned char)id[i], i);
	return GRPC_STATUS_OK;
}

grpc_status_code validate_label(const char *field, const char *key, const char *value,
		struct rpc_error *err)
{
	char buf[40];
	size_t k = key != NULL ? strlen(key) : 0, v = value != NULL ? strlen(value) : 0;

	if (k == 0)
		return fail(err, "%s[\"\"]: a key is 1..%d bytes, not empty", field,
				VALIDATE_LABEL_KEY_MAX);
	if (k > VALIDATE_LABEL_KEY_MAX)
		return fail(err, "%s[\"%s\"]: key is %zu bytes, at most %d", field, shown(key, buf),
				k, VALIDATE_LABEL_KEY_MAX);
	if (v > VALIDATE_LABEL_VALUE_MAX)
		return fail(err, "%s[\"%s\"]: value is %zu bytes, at most %d", field,
				shown(key, buf), v, VALIDATE_LABEL_VALUE_MAX);
	return GRPC_STATUS_OK;
}

static const char *or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The count, each pair, and no key twice (protobuf-c hands a map over as a list, repeats and all). */
#define CHECK_LABELS(field, entries, n, err) do { \
	if ((n) > VALIDATE_LABELS_MAX) \
		return fail(err, "%s: %zu labels, at most %d", field, (size_t)(n), \
				VALIDATE_LABELS_MAX); \
	for (size_t i_ = 0; i_ < (n); i_++) { \
		if (validate_label(field, (entries)[i_]->key, (entries)[i_]->value, err)) \
			return (err)->code; \
		for (size_t j_ = 0; j_ < i_; j_++) \
			if (strcmp(or_empty((entries)[i_]->key), \
					or_empty((entries)[j_]->key)) == 0) { \
				char b_[40]; \
				return fail(err, "%s[\"%s\"]: the key is given twice", field, \
						shown((entries)[i_]->key, b_)); \
			} \
	} \
} while (0)

grpc_status_code validate_create(const Rtpproxy__CreateSessionRequest *r,
		const struct validate_self *self, struct rpc_error *err)
{
	if (validate_session_id("session_id", r->session_id, err) != GRPC_STATUS_OK)
		return err->code;
	CHECK_LABELS("labels", r->labels, r->n_labels, err);
	if (r->destination_endpoint != NULL &&
			validate_destination("destination_endpoint.address",
				r->destination_endpoint->address, self, err) != GRPC_STATUS_OK)
		return err->code;
	return GRPC_STATUS_OK;
}

grpc_status_code validate_list(const Rtpproxy__ListSessionsRequest *r, struct rpc_error *err)
{
	CHECK_LABELS("label_selector", r->label_selector, r->n_label_selector, err);
	return GRPC_STATUS_OK;
}
