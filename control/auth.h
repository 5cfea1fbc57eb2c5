/*
 * Who may call the control API: the bearer-token table ([grpc] tokens_file), the role each
 * method needs, and the peers allowed by [grpc] allowed_peers. Plain C: no grpc, no DPDK.
 */
#ifndef RTPPROXY_AUTH_H
#define RTPPROXY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_MIN 16         /* characters: shorter tokens are guessable, refused */
#define AUTH_TOKEN_MAX 256
#define AUTH_NAME_MAX 64          /* incl. the NUL */

enum auth_role {
	AUTH_ROLE_READ = 1,       /* Get/List/StreamSessionEvents/GetProxyStats, health */
	AUTH_ROLE_ADMIN = 2,      /* everything */
};

struct auth_token {
	char token[AUTH_TOKEN_MAX + 1];
	size_t len;
	enum auth_role role;
	char name[AUTH_NAME_MAX];
	unsigned line;            /* where it is in the file */
};

struct auth_tokens {
	struct auth_token *v;
	unsigned n;
};

/*
 * Read FILE: one "TOKEN ROLE NAME" per line, '#' comments and blank lines ignored. On a bad
 * line returns NULL with "FILE:LINE: what was expected" in err (never the token itself).
 */
struct auth_tokens *auth_tokens_load(const char *file, char *err, size_t errlen);
void auth_tokens_free(struct auth_tokens *t);

/*
 * The entry whose token is exactly presented[0..len), or NULL. Every entry is compared in
 * full, whatever matches, so the time taken says nothing of how close a guess came.
 */
const struct auth_token *auth_tokens_find(const struct auth_tokens *t, const char *presented,
		size_t len);

/* Whether a and b (of lengths la, lb) are equal, in time that depends on la only. */
bool auth_const_eq(const char *a, size_t la, const char *b, size_t lb);

/*
 * The token of an "authorization" metadata value "Bearer TOKEN" (scheme case-insensitive):
 * sets *tok and *len and returns true; false for any other form.
 */
bool auth_bearer(const char *value, size_t vlen, const char **tok, size_t *len);

/* The role a method needs, by its gRPC path ("/rtpproxy.RtpProxy/GetSessionStatus"). */
enum auth_role auth_role_needed(const char *path);
/* Whether a caller of role `have` may call a method that needs `need`. */
static inline bool auth_role_allows(enum auth_role have, enum auth_role need)
{
	return have >= need;
}
const char *auth_role_name(enum auth_role r);

/* A network of [grpc] allowed_peers (the same fields as config.h's struct config_cidr). */
struct auth_net {
	int family;               /* AF_INET or AF_INET6 */
	uint8_t addr[16];         /* network byte order; the first 4 bytes for AF_INET */
	uint8_t len;              /* prefix length */
};

/* A call's peer, from grpc_call_get_peer. */
struct auth_peer {
	bool local;               /* a unix socket: only local users reach it */
	int family;               /* AF_INET / AF_INET6 (IPv4-mapped IPv6 is AF_INET) */
	uint8_t addr[16];
	uint16_t port;
	char text[64];            /* "1.2.3.4:5", "[2001:db8::1]:5" or "unix" (for the audit) */
};

/*
 * Parse "ipv4:1.2.3.4:5", "ipv6:[::1]:5" (an IPv4-mapped address counts as IPv4),
 * "unix:/path" (or "unix-abstract:..."), percent-encoded or not ("ipv6:%5B::1%5D:5", as
 * grpc 1.51 gives it). -1 for anything else.
 */
int auth_peer_parse(const char *s, struct auth_peer *p);

/* Whether the peer may call: a unix socket always, otherwise inside one of nets (n = 0: any). */
bool auth_peer_allowed(const struct auth_peer *p, const struct auth_net *nets, unsigned n);

#endif
