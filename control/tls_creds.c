/* grpc core TLS credentials from PEM files (see tls_creds.h). */
#include "tls_creds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

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

/*
 * grpc takes any PEM and fails each handshake later; say at start-up instead if the
 * certificate or key does not parse or the key is not the certificate's. 0 or -1 with err.
 */
static int check_pair(const char *cert_pem, const char *key_pem, const char *cert_what,
		const char *key_what, char *err, size_t errlen)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int rc = -1;

	if (x == NULL)
		snprintf(err, errlen, "%s: no PEM certificate in it", cert_what);
	else if (k == NULL)
		snprintf(err, errlen, "%s: no unencrypted PEM private key in it", key_what);
	else if (X509_check_private_key(x, k) != 1)
		snprintf(err, errlen, "%s: not the key of the certificate in %s", key_what,
				cert_what);
	else
		rc = 0;
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

grpc_server_credentials *tls_server_credentials(const char *cert, const char *key,
		const char *client_ca, char *err, size_t errlen)
{
	grpc_server_credentials *creds = NULL;
	char *ca_pem = NULL;
	char *cert_pem = read_pem("[grpc] tls_cert", cert, err, errlen);
	char *key_pem = cert_pem ? read_pem("[grpc] tls_key", key, err, errlen) : NULL;

	if (key_pem == NULL || check_pair(cert_pem, key_pem, "[grpc] tls_cert", "[grpc] tls_key",
			err, errlen) != 0)
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
			(key_pem = read_pem("--tls-key", key, err, errlen)) == NULL ||
			check_pair(cert_pem, key_pem, "--tls-cert", "--tls-key", err, errlen) != 0))
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
