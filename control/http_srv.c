#include "http_srv.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

#include "auth.h"
#include "ctlq.h"
#include "health.h"
#include "pb_json.h"
#include "webview.h"

#define HTTP_MAX_CONNECTIONS 16         /* each is a thread: a handful of scrapers and pages */
#define HTTP_CONNECTION_TIMEOUT_S 30    /* idle keep-alive connections are closed */

struct http_srv {
	struct MHD_Daemon *d;
	struct http_srv_config cfg;
	char tokens_file[256];
	pthread_mutex_t tokens_lock;    /* the table is swapped on SIGHUP */
	struct auth_tokens *tokens;     /* NULL: no token needed */
	uint16_t port;
};

static void reply_text(struct http_reply *out, unsigned status, const char *type,
		const char *text)
{
	out->status = status;
	out->type = type;
	out->len = strlen(text);
	out->body = malloc(out->len + 1);
	if (out->body != NULL)
		memcpy(out->body, text, out->len + 1);
	else
		out->len = 0;
}

void http_reply_error(struct http_reply *out, unsigned status, const char *msg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	out->status = status;
	out->type = "application/json";
	out->body = NULL;
	out->len = 0;
	if (f == NULL)
		return;
	fputs("{\"error\":", f);
	pb_json_print_string(f, msg);
	fputs("}\n", f);
	if (fclose(f) == 0) {
		out->body = buf;
		out->len = len;
	} else {
		free(buf);
	}
}

void http_reply_ctlq_failed(struct http_reply *out, int rc)
{
	http_reply_error(out, 503, rc == -EBUSY ? "busy: too many requests waiting" :
			rc == -ETIMEDOUT ? "the control loop did not answer in time" :
			"shutting down");
}

/* Whether the request carries a read or admin token (header, or ?token= for a browser). */
static bool authorized(struct http_srv *s, struct MHD_Connection *conn)
{
	const char *tok = NULL;
	size_t len = 0;
	bool ok;

	pthread_mutex_lock(&s->tokens_lock);
	if (s->tokens == NULL) {
		pthread_mutex_unlock(&s->tokens_lock);
		return true;
	}
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || !auth_bearer(h, strlen(h), &tok, &len)) {
		tok = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
		len = tok != NULL ? strlen(tok) : 0;
	}
	const struct auth_token *t = tok != NULL ? auth_tokens_find(s->tokens, tok, len) : NULL;
	ok = t != NULL && auth_role_allows(t->role, AUTH_ROLE_READ);
	pthread_mutex_unlock(&s->tokens_lock);
	return ok;
}

static void route(struct http_srv *s, struct MHD_Connection *conn, const char *url,
		struct http_reply *out)
{
	if (strcmp(url, "/healthz") == 0) {
		bool up = health_serving();     /* what grpc.health.v1 Check says */
		reply_text(out, up ? 200 : 503, "text/plain; charset=utf-8",
				up ? "SERVING\n" : "NOT_SERVING\n");
		return;
	}
	if (!authorized(s, conn)) {
		http_reply_error(out, 401, "a read or admin token is required "
				"(Authorization: Bearer TOKEN, or ?token=TOKEN)");
		return;
	}
	if (strcmp(url, "/metrics") == 0) {
		http_metrics_serve(s->cfg.q, s->cfg.timeout_ms, out);
		return;
	}
	if (strcmp(url, "/") == 0) {
		reply_text(out, 200, "text/html; charset=utf-8", webview_page(NULL));
		return;
	}
	if (http_api_serve(s->cfg.q, s->cfg.timeout_ms, url, conn, out) == 0)
		return;
	http_reply_error(out, 404, "no such page");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
		const char *method, const char *version, const char *upload_data,
		size_t *upload_data_size, void **con_cls)
{
	struct http_srv *s = cls;
	struct http_reply out = { 0 };
	static int first_call;
	(void)version;
	(void)upload_data;

	/* the first call is for the headers only; a GET has no body to wait for */
	if (*con_cls == NULL) {
		*con_cls = &first_call;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;  /* a body we do not read: the 405 below answers it */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		http_reply_error(&out, 405, "only GET and HEAD");
	else
		route(s, conn, url, &out);
	struct MHD_Response *resp = MHD_create_response_from_buffer(out.len,
			out.body != NULL ? out.body : (void *)"", out.body != NULL ?
			MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(out.body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out.type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (out.status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (out.status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(conn, out.status ? out.status : 500, resp);
	MHD_destroy_response(resp);
	return rc;
}

static int load_tokens(const char *file, struct auth_tokens **out, char *err, size_t errlen)
{
	*out = NULL;
	if (file == NULL || file[0] == '\0')
		return 0;
	*out = auth_tokens_load(file, err, errlen);
	return *out != NULL ? 0 : -1;
}

struct http_srv *http_srv_start(const struct http_srv_config *c, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	char terr[256];
	struct http_srv *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *c;
	snprintf(s->tokens_file, sizeof(s->tokens_file), "%s",
			c->tokens_file != NULL ? c->tokens_file : "");
	s->cfg.tokens_file = s->tokens_file;
	pthread_mutex_init(&s->tokens_lock, NULL);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, c->addr, c->addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
			sizeof(struct sockaddr_in));
	if (load_tokens(s->tokens_file, &s->tokens, terr, sizeof(terr)) != 0) {
		snprintf(err, errlen, "tokens_file: %s", terr);
		goto fail;
	}
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, s->port, NULL, NULL, on_request, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
			MHD_OPTION_END);
	if (s->d == NULL) {
		snprintf(err, errlen, "listen: cannot serve HTTP on %s (address in use or not "
				"local?)", c->listen);
		goto fail;
	}
	return s;
fail:
	auth_tokens_free(s->tokens);
	pthread_mutex_destroy(&s->tokens_lock);
	free(s);
	return NULL;
}

uint16_t http_srv_port(const struct http_srv *s)
{
	return s->port;
}

int http_srv_reload_tokens(struct http_srv *s, char *err, size_t errlen)
{
	struct auth_tokens *t, *old;

	if (s == NULL || s->tokens_file[0] == '\0')
		return 0;
	if (load_tokens(s->tokens_file, &t, err, errlen) != 0)
		return -1;
	pthread_mutex_lock(&s->tokens_lock);
	old = s->tokens;
	s->tokens = t;
	pthread_mutex_unlock(&s->tokens_lock);
	auth_tokens_free(old);
	return 0;
}

void http_srv_stop(struct http_srv *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->d);
	auth_tokens_free(s->tokens);
	pthread_mutex_destroy(&s->tokens_lock);
	free(s);
}
