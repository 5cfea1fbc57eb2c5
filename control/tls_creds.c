/* grpc core TLS credentials from PEM files (see tls_creds.h). */
#include "tls_creds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX (1 << 20)           /* a certificate chain is a few KiB */

static bool set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* The whole file as a string, or NULL with "what: cannot read FILE: why" in err. */
static char *read_pem(const char *what, const char *file, char *err, size_t errlen)
{
	FILE *f = fopen(file, "re");
	char *buf = NULL;
	size_t n = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot read %s: %s", what, file, strerror(errno));
		return NULL;
	}
	buf = malloc(PEM_MAX + 1);
	if (buf != NULL)
		n = fread(buf, 1, PEM_MAX + 1, f);
	if (buf == NULL || ferror(f) || n > PEM_MAX || n == 0) {
		snprintf(err, errlen, "%s: cannot read %s: %s", what, file,
				buf == NULL ? "out of memory" : n > PEM_MAX ? "larger than 1 MiB"
				: n == 0 ? "empty" : "read error");
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
		if (strstr(buf, "-----BEGIN ") == NULL) {
			snprintf(err, errlen, "%s: %s: not PEM (no -----BEGIN line)", what, file);
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* Free a buffer that may hold a private key: no copy of it stays in freed memory. */
static void free_secret(char *s)
{
	if (s != NULL) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

grpc_server_credentials *tls_server_credentials(const char *cert, const char *key,
		const char *client_ca, char *err, size_t errlen)
{
	grpc_server_credentials *creds = NULL;
	char *ca_pem = NULL;
	char *cert_pem = read_pem("[grpc] tls_cert", cert, err, errlen);
	char *key_pem = cert_pem ? read_pem("[grpc] tls_key", key, err, errlen) : NULL;

	if (key_pem == NULL)
		goto out;
	if (set(client_ca) && (ca_pem = read_pem("[grpc] tls_client_ca", client_ca, err,
			errlen)) == NULL)
		goto out;
	grpc_ssl_pem_key_cert_pair pair = { .private_key = key_pem, .cert_chain = cert_pem };
	creds = grpc_ssl_server_credentials_create_ex(ca_pem, &pair, 1,
			ca_pem != NULL ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
			: GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
	if (creds == NULL)
		snprintf(err, errlen, "[grpc] tls_cert: grpc refused the certificate or key");
out:
	free(cert_pem);
	free_secret(key_pem);
	free(ca_pem);
	return creds;
}

grpc_channel_credentials *tls_channel_credentials(const char *ca, const char *cert,
		const char *key, char *err, size_t errlen)
{
	grpc_channel_credentials *creds = NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	char *ca_pem = read_pem("--tls-ca", ca, err, errlen);

	if (ca_pem == NULL)
		return NULL;
	if (set(cert) != set(key)) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		goto out;
	}
	if (set(cert) && ((cert_pem = read_pem("--tls-cert", cert, err, errlen)) == NULL ||
			(key_pem = read_pem("--tls-key", key, err, errlen)) == NULL))
		goto out;
	grpc_ssl_pem_key_cert_pair pair = { .private_key = key_pem, .cert_chain = cert_pem };
	creds = grpc_ssl_credentials_create(ca_pem, cert_pem != NULL ? &pair : NULL, NULL, NULL);
	if (creds == NULL)
		snprintf(err, errlen, "--tls-ca: grpc refused the certificates");
out:
	free(ca_pem);
	free(cert_pem);
	free_secret(key_pem);
	return creds;
}
