/*
 * The appliance's HTTP/1.1 server ([http] listen, API.md 1.4), on libmicrohttpd's own threads
 * (a thread per connection, a few at most), never on the control or worker lcores: /healthz,
 * /metrics, the web view / and its JSON under /api/. What the control lcore owns is asked for
 * through a ctlq that the control loop serves.
 */
#ifndef RTPPROXY_HTTP_SRV_H
#define RTPPROXY_HTTP_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctlq;
struct sockaddr;

struct http_srv_config {
	const char *listen;             /* "127.0.0.1:9464" or "[::1]:9464", for messages */
	const struct sockaddr *addr;    /* where to listen: a sockaddr_in or sockaddr_in6 */
	const char *tokens_file;        /* "" or NULL: no token needed */
	struct ctlq *q;                 /* to the control loop */
	unsigned timeout_ms;            /* how long a request waits for the control loop */
};

struct http_srv;

/* NULL with a message naming the key in err (bad address, port taken, tokens file). */
struct http_srv *http_srv_start(const struct http_srv_config *c, char *err, size_t errlen);
/* The port bound (the configured one). */
uint16_t http_srv_port(const struct http_srv *s);
/* SIGHUP: re-read the tokens file; a bad one keeps the old tokens (-1 and err). */
int http_srv_reload_tokens(struct http_srv *s, char *err, size_t errlen);
/* Stop accepting, wait for the connections' threads, free. NULL is fine. */
void http_srv_stop(struct http_srv *s);

/* ---- inside the server (http_srv.c, http_api.c) ---- */

struct MHD_Connection;

/* A response: body is malloc'd (NULL with len 0 for none) and handed to libmicrohttpd. */
struct http_reply {
	unsigned status;
	const char *type;
	char *body;
	size_t len;
};

/* GET /api/stats, /api/sessions, /api/session: 0 and *out, or -1 for an unknown path. */
int http_api_serve(struct ctlq *q, unsigned timeout_ms, const char *path,
		struct MHD_Connection *conn, struct http_reply *out);
/* GET /metrics. */
void http_metrics_serve(struct ctlq *q, unsigned timeout_ms, struct http_reply *out);
/* A JSON {"error": msg} reply with this status. */
void http_reply_error(struct http_reply *out, unsigned status, const char *msg);
/* The status a failed ctlq_call answers with (503: busy, timed out, shutting down). */
void http_reply_ctlq_failed(struct http_reply *out, int rc);

#endif
