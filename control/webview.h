/*
 * The web view (API.md 1.4): one self-contained page (HTML, CSS and script inline, nothing
 * fetched but the JSON endpoints of its own origin), built into the binary from
 * control/webview/ by embed_page.py. Read-only: the page polls /api/stats, /api/sessions and
 * /api/session every second.
 */
#ifndef RTPPROXY_WEBVIEW_H
#define RTPPROXY_WEBVIEW_H

#include <stddef.h>

/* The page (UTF-8 HTML, also NUL-terminated) and its length in *len; static, never freed. */
const char *webview_page(size_t *len);

/* The Content-Security-Policy header value to serve with it (the page's inline script and
 * style by hash, fetches to its own origin only, no framing). */
const char *webview_csp(void);

#endif
