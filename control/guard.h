/*
 * The control API's gatekeeper, as grpc_srv hooks: the peer check ([grpc] allowed_peers),
 * bearer tokens and roles ([grpc] tokens_file) and the audit trail ([audit] file). Reloaded
 * (tokens re-read, audit file reopened) on SIGHUP by the control loop.
 */
#ifndef RTPPROXY_GUARD_H
#define RTPPROXY_GUARD_H

#include <stddef.h>

#include "audit.h"
#include "auth.h"
#include "grpc_srv.h"

struct guard_config {
	const char *tokens_file;          /* "" or NULL: no token needed */
	const struct auth_net *peers;     /* [grpc] allowed_peers; n_peers 0 = any */
	unsigned n_peers;
	const char *audit_file;           /* "" or NULL: lines go to audit_log */
	audit_log_fn audit_log;
};

struct guard;

/* NULL with a message naming the file (and line) in err. */
struct guard *guard_create(const struct guard_config *cfg, char *err, size_t errlen);
/* The hooks to put in grpc_srv_opts (valid while the guard lives). */
const struct grpc_srv_hooks *guard_hooks(struct guard *g);
/* SIGHUP: re-read the tokens file (a bad one keeps the old tokens) and reopen the audit
 * file. Logs what happened; 0 if everything reloaded. */
int guard_reload(struct guard *g);
void guard_free(struct guard *g);

#endif
