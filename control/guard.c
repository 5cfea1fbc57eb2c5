/*
 * The control API's gatekeeper (see guard.h). Order of the checks: the peer's address, then
 * the bearer token, then the token's role against the method. Each refusal is an audit line;
 * so is every CreateSession and DestroySession, whatever its outcome.
 */
#include "guard.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>

#include "log.h"

#define SERVICE_PREFIX "/rtpproxy.RtpProxy/"

struct guard {
	struct grpc_srv_hooks hooks;
	char *tokens_file;                /* NULL: no tokens needed */
	struct auth_tokens *tokens;
	struct auth_net *peers;
	unsigned n_peers;
	struct audit *audit;
};

static void audit_to_log(const char *line)
{
	RTE_LOG(INFO, AUDIT, "%s\n", line);
}

/* The value of metadata KEY (lower case, as grpc delivers keys), or false. */
static bool md_find(const grpc_metadata_array *md, const char *key, const char **val,
		size_t *len)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < md->count; i++) {
		grpc_slice k = md->metadata[i].key;
		if (GRPC_SLICE_LENGTH(k) == kl && memcmp(GRPC_SLICE_START_PTR(k), key, kl) == 0) {
			*val = (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value);
			*len = GRPC_SLICE_LENGTH(md->metadata[i].value);
			return true;
		}
	}
	return false;
}

/* The common name of the client's certificate (mutual TLS) into out, or "". */
static void client_cn(grpc_call *call, char *out, size_t outlen)
{
	grpc_auth_context *ctx = grpc_call_auth_context(call);

	out[0] = '\0';
	if (ctx == NULL)
		return;
	grpc_auth_property_iterator it =
			grpc_auth_context_find_properties_by_name(ctx, GRPC_X509_CN_PROPERTY_NAME);
	const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
	if (p != NULL)
		snprintf(out, outlen, "%.*s", (int)p->value_length, p->value);
	grpc_auth_context_release(ctx);
}

/* The call's peer as the audit writes it ("1.2.3.4:5", "[::1]:5", "unix") into out; 0 if
 * it parsed (then *peer is set), else -1 with grpc's own text in out. */
static int peer_of(grpc_call *call, struct auth_peer *peer, char *out, size_t outlen)
{
	char *s = grpc_call_get_peer(call);
	int parsed = s != NULL ? auth_peer_parse(s, peer) : -1;

	snprintf(out, outlen, "%s", parsed == 0 ? peer->text : s != NULL ? s : "unknown");
	gpr_free(s);
	return parsed;
}

/*
 * The principal is the token's NAME when tokens are on (the token decides), else the
 * client certificate's CN (mutual TLS), else "".
 */
static grpc_status_code admit(void *arg, struct grpc_srv_call *c, struct rpc_error *err)
{
	struct guard *g = arg;
	struct auth_peer peer;
	int parsed = peer_of(c->call, &peer, c->peer, sizeof(c->peer));

	client_cn(c->call, c->principal, sizeof(c->principal));

	if (g->n_peers > 0 && (parsed != 0 || !auth_peer_allowed(&peer, g->peers, g->n_peers)))
		return rpc_fail(err, GRPC_STATUS_UNAUTHENTICATED,
				"peer %s is not in [grpc] allowed_peers", c->peer);
	if (g->tokens == NULL)
		return GRPC_STATUS_OK;

	const char *val, *tok;
	size_t vlen, tlen;
	if (!md_find(c->md, "authorization", &val, &vlen))
		return rpc_fail(err, GRPC_STATUS_UNAUTHENTICATED,
				"authorization: missing; expected \"Bearer TOKEN\" metadata");
	if (!auth_bearer(val, vlen, &tok, &tlen))
		return rpc_fail(err, GRPC_STATUS_UNAUTHENTICATED,
				"authorization: expected \"Bearer TOKEN\"");
	const struct auth_token *t = auth_tokens_find(g->tokens, tok, tlen);
	if (t == NULL)
		return rpc_fail(err, GRPC_STATUS_UNAUTHENTICATED, "authorization: unknown token");
	snprintf(c->principal, sizeof(c->principal), "%s", t->name);
	enum auth_role need = auth_role_needed(c->method);
	if (!auth_role_allows(t->role, need))
		return rpc_fail(err, GRPC_STATUS_PERMISSION_DENIED,
				"%s: the token of \"%s\" has role %s, the method needs %s",
				c->method, t->name, auth_role_name(t->role), auth_role_name(need));
	return GRPC_STATUS_OK;
}

/* A string field "session_id" of msg, or of a message field of msg (SessionInfo session). */
static const char *session_id_of(const ProtobufCMessage *msg)
{
	if (msg == NULL)
		return NULL;
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d,
			"session_id");
	if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING && f->label != PROTOBUF_C_LABEL_REPEATED)
		return *(const char *const *)((const char *)msg + f->offset);
	for (unsigned i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)
				((const char *)msg + f->offset);
		if (sub == NULL)
			continue;
		const ProtobufCFieldDescriptor *sf = protobuf_c_message_descriptor_get_field_by_name(
				sub->descriptor, "session_id");
		if (sf != NULL && sf->type == PROTOBUF_C_TYPE_STRING &&
				sf->label != PROTOBUF_C_LABEL_REPEATED)
			return *(const char *const *)((const char *)sub + sf->offset);
	}
	return NULL;
}

static void done(void *arg, const struct grpc_srv_call *c, const ProtobufCMessage *req,
		const ProtobufCMessage *resp, grpc_status_code code)
{
	struct guard *g = arg;
	bool mutating = strcmp(c->method, SERVICE_PREFIX "CreateSession") == 0 ||
			strcmp(c->method, SERVICE_PREFIX "DestroySession") == 0;

	/* refusals of the guard's own (the handlers' PERMISSION_DENIED is Create's: audited) */
	if (!mutating && code != GRPC_STATUS_UNAUTHENTICATED &&
			code != GRPC_STATUS_PERMISSION_DENIED)
		return;
	const char *sid = session_id_of(resp);
	if (sid == NULL || sid[0] == '\0')
		sid = session_id_of(req);
	const char *method = c->method;
	if (strncmp(method, SERVICE_PREFIX, strlen(SERVICE_PREFIX)) == 0)
		method += strlen(SERVICE_PREFIX);
	char peer[sizeof(c->peer)];
	struct auth_peer unused;
	if (c->peer[0] == '\0')        /* refused before admit (shutting down) */
		peer_of(c->call, &unused, peer, sizeof(peer));
	else
		snprintf(peer, sizeof(peer), "%s", c->peer);
	struct audit_record r = {
		.ts_ms = audit_now_ms(),
		.peer = peer,
		.principal = c->principal,
		.method = method,
		.session_id = sid != NULL ? sid : "",
		.code = code,
	};
	if (audit_write(g->audit, &r) != 0 && audit_errors(g->audit) == 1)
		RTE_LOG(ERR, GRPC, "[audit] file: a line could not be written (more are counted "
				"silently)\n");
}

struct guard *guard_create(const struct guard_config *cfg, char *err, size_t errlen)
{
	struct guard *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		snprintf(err, errlen, "guard: out of memory");
		return NULL;
	}
	g->hooks = (struct grpc_srv_hooks){ .admit = admit, .done = done, .ctx = g };
	if (cfg->n_peers > 0) {
		g->peers = calloc(cfg->n_peers, sizeof(*g->peers));
		if (g->peers == NULL) {
			snprintf(err, errlen, "guard: out of memory");
			goto fail;
		}
		memcpy(g->peers, cfg->peers, sizeof(*g->peers) * cfg->n_peers);
		g->n_peers = cfg->n_peers;
	}
	if (cfg->tokens_file != NULL && cfg->tokens_file[0] != '\0') {
		char e[512];
		struct stat st;
		if (stat(cfg->tokens_file, &st) == 0 && (st.st_mode & 077) != 0)
			RTE_LOG(WARNING, GRPC, "[grpc] tokens_file: %s is open to other users "
					"(mode %04o): chmod 600 it\n", cfg->tokens_file,
					(unsigned)(st.st_mode & 07777));
		g->tokens_file = strdup(cfg->tokens_file);
		g->tokens = g->tokens_file ? auth_tokens_load(g->tokens_file, e, sizeof(e)) : NULL;
		if (g->tokens == NULL) {
			snprintf(err, errlen, "[grpc] tokens_file: %s",
					g->tokens_file ? e : "out of memory");
			goto fail;
		}
	}
	g->audit = audit_open(cfg->audit_file, cfg->audit_log ? cfg->audit_log : audit_to_log,
			err, errlen);
	if (g->audit == NULL)
		goto fail;
	return g;
fail:
	guard_free(g);
	return NULL;
}

const struct grpc_srv_hooks *guard_hooks(struct guard *g)
{
	return &g->hooks;
}

int guard_reload(struct guard *g)
{
	char err[512];
	int rc = 0;

	if (g->tokens_file != NULL) {
		struct auth_tokens *t = auth_tokens_load(g->tokens_file, err, sizeof(err));
		if (t == NULL) {
			RTE_LOG(ERR, GRPC, "SIGHUP: [grpc] tokens_file: %s; the previous tokens stay "
					"in force\n", err);
			rc = -1;
		} else {
			auth_tokens_free(g->tokens);
			g->tokens = t;
			RTE_LOG(INFO, GRPC, "SIGHUP: %s: %u token(s) loaded\n", g->tokens_file, t->n);
		}
	}
	if (audit_reopen(g->audit, err, sizeof(err)) != 0) {
		RTE_LOG(ERR, GRPC, "SIGHUP: %s; still writing to the previous file\n", err);
		rc = -1;
	}
	return rc;
}

void guard_free(struct guard *g)
{
	if (g == NULL)
		return;
	auth_tokens_free(g->tokens);
	audit_close(g->audit);
	free(g->tokens_file);
	free(g->peers);
	free(g);
}
