/* tls.c - the TLS transport: the server SSL_CTX built from the config, and
 * the non-blocking handshake, read, write and shutdown steps conn.c drives
 * from its worker loop (no thread per handshake, nothing here blocks).
 *
 * OpenSSL does the protocol; this file only chooses the settings (TLS 1.2
 * minimum, forward-secret AEAD suites, no compression or renegotiation) and
 * turns OpenSSL's error queue into one short reason for the log. The error
 * queue is per thread, so each call clears it first and leaves it empty.
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* TLS 1.2: ECDHE key exchange (forward secrecy) with AES-GCM or
 * ChaCha20-Poly1305 only; ECDSA before RSA, AES-128 before AES-256 (as
 * fast and as safe in practice). TLS 1.3 suites are all AEAD; OpenSSL's
 * default list is kept unless --tls-ciphersuites says otherwise. */
static const char default_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* Session resumption with client certificates needs a context id. */
static const unsigned char session_id_ctx[] = "minidb";

/* OpenSSL's reason for the newest error on this thread's queue (e.g. "no
 * start line", "wrong version number"), or fallback; clears the queue. */
static void take_reason(char *out, size_t outlen, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
	snprintf(out, outlen, "%s", r ? r : fallback);
	ERR_clear_error();
}

/* An encrypted key would make OpenSSL prompt on the terminal; refuse. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* Whether path can be opened for reading; a message naming flag if not. */
static int check_readable(const char *flag, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "%s %s: %s", flag, path, strerror(errno));
		return -1;
	}
	fclose(fp);
	return 0;
}

static int count_tls13_suites(SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	int n = 0;
	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++)
		if (strcmp(SSL_CIPHER_get_version(sk_SSL_CIPHER_value(sk, i)), "TLSv1.3") == 0)
			n++;
	return n;
}

static int set_ciphers(SSL_CTX *ctx, const config *cfg, char *err, size_t errlen)
{
	char why[160];
	const char *list = cfg->tls_ciphers ? cfg->tls_ciphers : default_ciphers;
	/* OpenSSL skips unknown names and fails only when nothing is left. */
	if (SSL_CTX_set_cipher_list(ctx, list) != 1) {
		take_reason(why, sizeof why, "no cipher matched");
		snprintf(err, errlen, "--tls-ciphers '%s': %s", list, why);
		return -1;
	}
	if (cfg->tls_ciphersuites) {
		if (SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1 ||
		    count_tls13_suites(ctx) == 0) {
			take_reason(why, sizeof why, "no TLS 1.3 cipher suite matched");
			snprintf(err, errlen, "--tls-ciphersuites '%s': %s", cfg->tls_ciphersuites,
			         why);
			return -1;
		}
	}
	return 0;
}

static int load_cert_and_key(SSL_CTX *ctx, const config *cfg, char *err, size_t errlen)
{
	char why[160];
	if (!cfg->tls_cert_file || !cfg->tls_key_file) {
		snprintf(err, errlen,
		         "TLS needs a certificate and its key: --tls-cert-file and --tls-key-file "
		         "(server.tls_cert_file, server.tls_key_file)");
		return -1;
	}
	if (check_readable("--tls-cert-file", cfg->tls_cert_file, err, errlen) != 0 ||
	    check_readable("--tls-key-file", cfg->tls_key_file, err, errlen) != 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
		take_reason(why, sizeof why, "unreadable certificate");
		snprintf(err, errlen, "--tls-cert-file %s: no usable PEM certificate (%s)",
		         cfg->tls_cert_file, why);
		return -1;
	}
	SSL_CTX_set_default_passwd_cb(ctx, no_password);
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1) {
		int r = ERR_GET_REASON(ERR_peek_last_error());
		take_reason(why, sizeof why, "unreadable key");
		if (r == X509_R_KEY_VALUES_MISMATCH || r == X509_R_KEY_TYPE_MISMATCH) {
			snprintf(err, errlen,
			         "--tls-key-file %s does not match the certificate in %s (%s)",
			         cfg->tls_key_file, cfg->tls_cert_file, why);
			return -1;
		}
		snprintf(err, errlen,
		         "--tls-key-file %s: no usable PEM private key (%s; encrypted keys are "
		         "not supported)",
		         cfg->tls_key_file, why);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		take_reason(why, sizeof why, "key values mismatch");
		snprintf(err, errlen, "--tls-key-file %s does not match the certificate in %s (%s)",
		         cfg->tls_key_file, cfg->tls_cert_file, why);
		return -1;
	}
	return 0;
}

static int set_client_auth(SSL_CTX *ctx, const config *cfg, char *err, size_t errlen)
{
	char why[160];
	if (cfg->tls_client_auth == CONFIG_TLS_CLIENT_NONE)
		return 0;
	const char *mode =
	        cfg->tls_client_auth == CONFIG_TLS_CLIENT_REQUIRED ? "required" : "optional";
	if (!cfg->tls_client_ca_file) {
		snprintf(err, errlen,
		         "--tls-client-auth %s needs --tls-client-ca-file (the CAs that sign "
		         "client certificates)",
		         mode);
		return -1;
	}
	if (check_readable("--tls-client-ca-file", cfg->tls_client_ca_file, err, errlen) != 0)
		return -1;
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_client_ca_file);
	if (!names || SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca_file, NULL) != 1) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		take_reason(why, sizeof why, "no certificate found");
		snprintf(err, errlen, "--tls-client-ca-file %s: no usable PEM CA certificate (%s)",
		         cfg->tls_client_ca_file, why);
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names); /* takes ownership */
	/* optional: a client may send no certificate, but one it sends must
	 * verify (an unverifiable certificate is more likely an attack or a
	 * mistake than a client that meant to be anonymous). */
	int verify = SSL_VERIFY_PEER;
	if (cfg->tls_client_auth == CONFIG_TLS_CLIENT_REQUIRED)
		verify |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, verify, NULL);
	SSL_CTX_set_verify_depth(ctx, 10);
	return 0;
}

SSL_CTX *tls_ctx_create(const config *cfg, char *err, size_t errlen)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		char why[160];
		take_reason(why, sizeof why, "out of memory");
		snprintf(err, errlen, "cannot create a TLS context: %s", why);
		return NULL;
	}
	int min = cfg->tls_min_version == CONFIG_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
	SSL_CTX_set_min_proto_version(ctx, min);
	/* IGNORE_UNEXPECTED_EOF: a client that closes without close_notify is
	 * an EOF, not an error; a truncated command is incomplete and dropped
	 * anyway, so truncation gains an attacker nothing. */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* RELEASE_BUFFERS: an idle connection holds no 2 x 16 KiB record
	 * buffers. The write modes match conn.c, which sends from a buffer that
	 * may move and grow between retries. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_id_context(ctx, session_id_ctx, sizeof session_id_ctx - 1);
	if (set_ciphers(ctx, cfg, err, errlen) != 0 ||
	    load_cert_and_key(ctx, cfg, err, errlen) != 0 ||
	    set_client_auth(ctx, cfg, err, errlen) != 0) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}

SSL *tls_new(SSL_CTX *ctx, int fd)
{
	ERR_clear_error();
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

/* Maps the failure of an SSL call that returned rc to a TLS_* status. */
static int status_of(SSL *ssl, int rc, char *why, size_t whylen)
{
	int e = SSL_get_error(ssl, rc);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return TLS_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_last_error() == 0) {
			int err = errno;
			if (err == 0) {
				return TLS_EOF;
			}
			snprintf(why, whylen, "%s", strerror(err));
			return TLS_FAILED;
		}
		take_reason(why, whylen, "system error");
		return TLS_FAILED;
	default: {
		unsigned long last = ERR_peek_last_error();
		take_reason(why, whylen, "TLS protocol error");
		if (ERR_GET_REASON(last) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
			long v = SSL_get_verify_result(ssl);
			size_t n = strlen(why);
			if (v != X509_V_OK && n < whylen)
				snprintf(why + n, whylen - n, ": %s",
				         X509_verify_cert_error_string(v));
		}
		return TLS_FAILED;
	}
	}
}

int tls_handshake(SSL *ssl, char *why, size_t whylen)
{
	ERR_clear_error();
	errno = 0;
	int rc = SSL_do_handshake(ssl);
	if (rc == 1)
		return TLS_OK;
	return status_of(ssl, rc, why, whylen);
}

int tls_read(SSL *ssl, void *p, size_t n, size_t *got, char *why, size_t whylen)
{
	size_t total = 0;
	int st = TLS_OK;
	while (total < n) {
		size_t k = 0;
		ERR_clear_error();
		errno = 0;
		if (SSL_read_ex(ssl, (char *)p + total, n - total, &k) == 1) {
			total += k;
			/* A short record with nothing left inside OpenSSL ends a
			 * request: stop rather than try the socket again (a read()
			 * that would only say EAGAIN, once per request); epoll
			 * reports anything else the socket holds. A full record
			 * is likely followed by more: keep reading. */
			if (k < SSL3_RT_MAX_PLAIN_LENGTH && !SSL_has_pending(ssl))
				break;
			continue;
		}
		st = status_of(ssl, 0, why, whylen);
		break;
	}
	*got = total;
	return st;
}

int tls_write(SSL *ssl, const void *p, size_t n, size_t *put, char *why, size_t whylen)
{
	size_t total = 0;
	int st = TLS_OK;
	while (total < n) {
		size_t k = 0;
		ERR_clear_error();
		errno = 0;
		if (SSL_write_ex(ssl, (const char *)p + total, n - total, &k) == 1) {
			total += k;
			continue;
		}
		st = status_of(ssl, 0, why, whylen);
		break;
	}
	*put = total;
	return st;
}

int tls_has_pending(const SSL *ssl)
{
	return SSL_has_pending(ssl);
}

int tls_peer_silent(const SSL *ssl)
{
	BIO *rbio = SSL_get_rbio(ssl);
	return rbio == NULL || BIO_number_read(rbio) == 0;
}

void tls_shutdown(SSL *ssl)
{
	ERR_clear_error();
	if (SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

/* Copies a certificate name if it is usable as an identity: no NUL or
 * control byte (a CN of "app\0.evil" must not pass as "app"), fits out. */
static int copy_name(const unsigned char *s, int len, char *out, size_t outlen)
{
	if (len <= 0 || (size_t)len >= outlen)
		return 0;
	for (int i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	memcpy(out, s, (size_t)len);
	out[len] = 0;
	return 1;
}

static int identity_cn(X509 *cert, char *out, size_t outlen)
{
	X509_NAME *subj = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0)
		return 0; /* none, or ambiguous */
	unsigned char *utf8 = NULL;
	int len =
	        ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
	int ok = len > 0 && copy_name(utf8, len, out, outlen);
	OPENSSL_free(utf8);
	return ok;
}

static int identity_san(X509 *cert, char *out, size_t outlen)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int ok = 0;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS && g->type != GEN_EMAIL)
			continue;
		const ASN1_IA5STRING *s = g->d.ia5;
		ok = copy_name(ASN1_STRING_get0_data(s), ASN1_STRING_length(s), out, outlen);
		break; /* the first one only, usable or not */
	}
	GENERAL_NAMES_free(gens);
	return ok;
}

int tls_peer_identity(SSL *ssl, int identity, char *out, size_t outlen)
{
	if (outlen == 0)
		return 0;
	out[0] = 0;
	X509 *cert = SSL_get0_peer_certificate(ssl);
	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
		return 0;
	int ok = 0;
	if (identity == CONFIG_TLS_ID_CN)
		ok = identity_cn(cert, out, outlen);
	else if (identity == CONFIG_TLS_ID_SAN)
		ok = identity_san(cert, out, outlen);
	if (!ok)
		out[0] = 0;
	ERR_clear_error();
	return ok;
}

const char *tls_version(const SSL *ssl)
{
	return SSL_get_version(ssl);
}

const char *tls_cipher(const SSL *ssl)
{
	return SSL_get_cipher_name(ssl);
}
