#include "webview.h"

/* Defined by webview_page.c, generated at build time. */
extern const unsigned char webview_page_data[];
extern const size_t webview_page_len;
extern const char webview_csp_text[];

const char *webview_page(size_t *len)
{
	if (len != NULL)
		*len = webview_page_len;
	return (const char *)webview_page_data;
}

const char *webview_csp(void)
{
	return webview_csp_text;
}
