/*
 * grpc core TLS credentials from PEM files, for the server (TLS, mutual TLS) and the client
 * (rtpproxyctl). Call after grpc_init(); release with grpc_*_credentials_release.
 */
#ifndef RTPPROXY_TLS_CREDS_H
#define RTPPROXY_TLS_CREDS_H

#include <stddef.h>
#include <grpc/grpc_security.h>

/*
 * TLS with cert/key (PEM files); with client_ca (not NULL or "") clients must present a
 * certificate it signed. NULL with "WHAT: cannot read FILE: why" in err.
 */
grpc_server_credentials *tls_server_credentials(const char *cert, const char *key,
		const char *client_ca, char *err, size_t errlen);

/* TLS to a server whose certificate ca signed; cert/key: the client's own (mutual TLS). */
grpc_channel_credentials *tls_channel_credentials(const char *ca, const char *cert,
		const char *key, char *err, size_t errlen);

#endif
