/* Unit tests for the TLS transport (src/tls.c). Certificates and keys are
 * made at test time with the openssl command (tests/tls_certs.h: a CA, a
 * server certificate, a client certificate with CN=app and a DNS SAN, a
 * stray key, an encrypted key) in a temp dir removed afterwards; nothing
 * secret is committed.
 * Handshakes run between tls.c's server side and an OpenSSL client over a
 * non-blocking socketpair, driven step by step as the worker loop would.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../tls_certs.h"
#include "config.h"
#include "tls.h"

static char dir[256];

static const char *path_of(const char *name)
{
	/* A ring: a config's paths stay valid while the next few are made. */
	static char bufs[64][512];
	static int next;
	char *p = bufs[next++ % 64];
	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static int write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	if (!fp)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

static int group_setup(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/minidb-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	if (tls_certs_make_ca(dir, "ca", "/CN=minidb test CA", NULL) != 0 ||
	    tls_certs_make_ca(dir, "ca2", "/CN=other CA", NULL) != 0 ||
	    tls_certs_make_signed(dir, "server", "ca", "/CN=localhost",
	                          "subjectAltName=DNS:localhost,IP:127.0.0.1\n") != 0 ||
	    tls_certs_make_signed(dir, "client", "ca", "/CN=app",
	                          "subjectAltName=DNS:app-san.example,email:app@example.com\n") !=
	            0 ||
	    tls_certs_make_signed(dir, "email", "ca", "/CN=mailer",
	                          "subjectAltName=email:ops@example.com\n") != 0 ||
	    tls_certs_make_signed(dir, "stranger", "ca2", "/CN=app", NULL) != 0 ||
	    tls_certs_openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
	                      "-out", path_of("other.key"), NULL) != 0 ||
	    tls_certs_openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
	                      "-aes256", "-pass", "pass:not-a-secret", "-out",
	                      path_of("encrypted.key"), NULL) != 0) {
		fprintf(stderr, "test_tls: could not make the test certificates with openssl\n");
		return -1;
	}
	write_text(path_of("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
	                                   "-----END CERTIFICATE-----\n");
	write_text(path_of("empty.pem"), "");
	return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

static int group_teardown(void **state)
{
	(void)state;
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A config with the server certificate; strings are the test's, not heap. */
static config base_config(void)
{
	config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.tls_port = 0;
	cfg.tls_cert_file = (char *)path_of("server.pem");
	cfg.tls_key_file = (char *)path_of("server.key");
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_NONE;
	cfg.tls_client_identity = CONFIG_TLS_ID_CN;
	cfg.tls_min_version = CONFIG_TLS_1_2;
	cfg.handshake_timeout = 10;
	return cfg;
}

/* tls_ctx_create must fail; returns its message (static). */
static const char *create_fails(const config *cfg)
{
	static char err[512];
	err[0] = 0;
	SSL_CTX *ctx = tls_ctx_create(cfg, err, sizeof err);
	if (ctx) {
		SSL_CTX_free(ctx);
		fail_msg("tls_ctx_create succeeded");
	}
	assert_true(err[0] != 0);
	assert_int_equal(ERR_peek_error(), 0); /* the error queue is left empty */
	return err;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void test_good_certificate_and_key_load_with_the_hardened_settings(void **state)
{
	(void)state;
	config cfg = base_config();
	char err[512] = "";
	SSL_CTX *ctx = tls_ctx_create(&cfg, err, sizeof err);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	uint64_t opts = SSL_CTX_get_options(ctx);
	assert_true(opts & SSL_OP_NO_COMPRESSION);
	assert_true(opts & SSL_OP_CIPHER_SERVER_PREFERENCE);
	assert_true(opts & SSL_OP_NO_RENEGOTIATION);
	long mode = SSL_CTX_get_mode(ctx);
	assert_true(mode & SSL_MODE_RELEASE_BUFFERS);
	assert_true(mode & SSL_MODE_ENABLE_PARTIAL_WRITE);
	assert_true(mode & SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
	/* Every TLS 1.2 suite offered is ECDHE with an AEAD. */
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	int tls12 = 0;
	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		if (strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0)
			continue;
		tls12++;
		assert_int_equal(SSL_CIPHER_get_kx_nid(c), NID_kx_ecdhe);
		assert_true(SSL_CIPHER_is_aead(c));
	}
	assert_true(tls12 >= 4);
	SSL_CTX_free(ctx);

	cfg.tls_min_version = CONFIG_TLS_1_3;
	ctx = tls_ctx_create(&cfg, err, sizeof err);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	SSL_CTX_free(ctx);
}

static void test_tls_without_certificate_or_key_is_a_clear_error(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_cert_file = NULL;
	assert_contains(create_fails(&cfg), "--tls-cert-file and --tls-key-file");
	cfg = base_config();
	cfg.tls_key_file = NULL;
	assert_contains(create_fails(&cfg), "--tls-cert-file and --tls-key-file");
}

static void test_missing_files_name_the_flag_the_path_and_the_reason(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_cert_file = (char *)path_of("nope.pem");
	const char *err = create_fails(&cfg);
	assert_contains(err, "--tls-cert-file");
	assert_contains(err, "nope.pem");
	assert_contains(err, "No such file or directory");

	cfg = base_config();
	cfg.tls_key_file = (char *)path_of("nope.key");
	err = create_fails(&cfg);
	assert_contains(err, "--tls-key-file");
	assert_contains(err, "nope.key");
	assert_contains(err, "No such file or directory");

	cfg = base_config();
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_REQUIRED;
	cfg.tls_client_ca_file = (char *)path_of("nope-ca.pem");
	err = create_fails(&cfg);
	assert_contains(err, "--tls-client-ca-file");
	assert_contains(err, "No such file or directory");
}

static void test_key_that_does_not_match_the_certificate_is_refused(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_key_file = (char *)path_of("other.key");
	const char *err = create_fails(&cfg);
	assert_contains(err, "does not match");
	assert_contains(err, "other.key");
	assert_contains(err, "server.pem");
	/* No key material in the message. */
	assert_null(strstr(err, "PRIVATE"));
	assert_null(strstr(err, "-----"));
}

static void test_garbage_and_empty_pem_files_are_refused(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_cert_file = (char *)path_of("garbage.pem");
	const char *err = create_fails(&cfg);
	assert_contains(err, "--tls-cert-file");
	assert_contains(err, "no usable PEM certificate");

	cfg.tls_cert_file = (char *)path_of("empty.pem");
	assert_contains(create_fails(&cfg), "no usable PEM certificate");

	cfg = base_config();
	cfg.tls_key_file = (char *)path_of("garbage.pem");
	err = create_fails(&cfg);
	assert_contains(err, "--tls-key-file");
	assert_contains(err, "no usable PEM private key");

	/* A certificate where the key should be is not a key either. */
	cfg.tls_key_file = (char *)path_of("server.pem");
	assert_contains(create_fails(&cfg), "no usable PEM private key");

	cfg = base_config();
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_OPTIONAL;
	cfg.tls_client_ca_file = (char *)path_of("garbage.pem");
	assert_contains(create_fails(&cfg), "--tls-client-ca-file");
}

static void test_encrypted_key_is_refused_without_prompting(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_key_file = (char *)path_of("encrypted.key");
	const char *err = create_fails(&cfg);
	assert_contains(err, "--tls-key-file");
	assert_contains(err, "encrypted keys are not supported");
}

static void test_bad_cipher_lists_are_errors_naming_the_flag(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_ciphers = (char *)"NO-SUCH-CIPHER:ALSO-NOT-ONE";
	const char *err = create_fails(&cfg);
	assert_contains(err, "--tls-ciphers");
	assert_contains(err, "NO-SUCH-CIPHER");

	cfg = base_config();
	cfg.tls_ciphersuites = (char *)"TLS_NOT_A_SUITE";
	err = create_fails(&cfg);
	assert_contains(err, "--tls-ciphersuites");
	assert_contains(err, "TLS_NOT_A_SUITE");

	/* Good overrides are taken. */
	cfg = base_config();
	cfg.tls_ciphers = (char *)"ECDHE-ECDSA-AES256-GCM-SHA384";
	cfg.tls_ciphersuites = (char *)"TLS_CHACHA20_POLY1305_SHA256";
	char msg[512];
	SSL_CTX *ctx = tls_ctx_create(&cfg, msg, sizeof msg);
	assert_non_null(ctx);
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	assert_int_equal(sk_SSL_CIPHER_num(sk), 2);
	SSL_CTX_free(ctx);
}

static void test_client_auth_required_without_a_ca_file_is_a_config_error(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_REQUIRED;
	const char *err = create_fails(&cfg);
	assert_contains(err, "--tls-client-auth required needs --tls-client-ca-file");
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_OPTIONAL;
	assert_contains(create_fails(&cfg), "--tls-client-auth optional");

	char msg[512];
	cfg.tls_client_ca_file = (char *)path_of("ca.pem");
	SSL_CTX *ctx = tls_ctx_create(&cfg, msg, sizeof msg);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
	SSL_CTX_free(ctx);
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_REQUIRED;
	ctx = tls_ctx_create(&cfg, msg, sizeof msg);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx),
	                 SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	SSL_CTX_free(ctx);
}

/* ---- handshakes over a socketpair ---- */

typedef struct pair {
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
	int sfd, cfd;
	int sst; /* last server status */
	char why[160];
} pair;

/* A client context trusting ca.pem, presenting cert/key when given. */
static SSL_CTX *client_ctx(const char *cert, const char *key, int max_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, path_of("ca.pem"), NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (max_version)
		SSL_CTX_set_max_proto_version(ctx, max_version);
	if (cert) {
		assert_int_equal(SSL_CTX_use_certificate_file(ctx, path_of(cert), SSL_FILETYPE_PEM),
		                 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, path_of(key), SSL_FILETYPE_PEM),
		                 1);
	}
	return ctx;
}

static void pair_open(pair *p, const config *cfg, SSL_CTX *cctx)
{
	memset(p, 0, sizeof *p);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	p->sfd = sv[0];
	p->cfd = sv[1];
	char err[512];
	p->sctx = tls_ctx_create(cfg, err, sizeof err);
	if (!p->sctx)
		fail_msg("tls_ctx_create: %s", err);
	p->cctx = cctx;
	p->s = tls_new(p->sctx, p->sfd);
	assert_non_null(p->s);
	p->c = SSL_new(cctx);
	assert_non_null(p->c);
	SSL_set_fd(p->c, p->cfd);
	SSL_set_connect_state(p->c);
	SSL_set_tlsext_host_name(p->c, "localhost");
}

/* Steps both sides until the server's handshake ends. Returns its status. */
static int pair_handshake(pair *p)
{
	int cdone = 0;
	for (int i = 0; i < 200; i++) {
		if (!cdone) {
			int r = SSL_do_handshake(p->c);
			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(p->c, r) != SSL_ERROR_WANT_READ &&
			         SSL_get_error(p->c, r) != SSL_ERROR_WANT_WRITE)
				cdone = -1;
			ERR_clear_error();
		}
		p->sst = tls_handshake(p->s, p->why, sizeof p->why);
		if (p->sst != TLS_WANT_READ && p->sst != TLS_WANT_WRITE)
			return p->sst;
		if (cdone == -1) {
			/* The client gave up; the server sees EOF or its alert. */
			shutdown(p->cfd, SHUT_RDWR);
		}
	}
	return -1;
}

static void pair_close(pair *p)
{
	SSL_free(p->s);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	close(p->sfd);
	close(p->cfd);
}

static void test_handshake_read_write_and_close_notify_over_a_socketpair(void **state)
{
	(void)state;
	config cfg = base_config();
	pair p;
	pair_open(&p, &cfg, client_ctx(NULL, NULL, 0));
	assert_int_equal(pair_handshake(&p), TLS_OK);
	assert_string_equal(tls_version(p.s), "TLSv1.3");
	/* Client to server: several records (two full, one short), read in one
	 * call that stops after the short one without trying the socket again. */
	char big[40000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	size_t put = 0;
	assert_int_equal(SSL_write_ex(p.c, big, sizeof big, &put), 1);
	char in[65536];
	size_t got = 0;
	int st = tls_read(p.s, in, sizeof in, &got, p.why, sizeof p.why);
	assert_int_equal(st, TLS_OK);
	assert_int_equal(got, sizeof big);
	assert_memory_equal(in, big, sizeof big);
	assert_false(tls_has_pending(p.s));
	/* Nothing more: the next read says so. */
	st = tls_read(p.s, in, sizeof in, &got, p.why, sizeof p.why);
	assert_int_equal(st, TLS_WANT_READ);
	assert_int_equal(got, 0);
	/* A small buffer leaves bytes inside the SSL: tls_has_pending says so. */
	assert_int_equal(SSL_write_ex(p.c, big, 100, &put), 1);
	st = tls_read(p.s, in, 10, &got, p.why, sizeof p.why);
	assert_int_equal(st, TLS_OK);
	assert_int_equal(got, 10);
	assert_true(tls_has_pending(p.s));
	st = tls_read(p.s, in, sizeof in, &got, p.why, sizeof p.why);
	assert_int_equal(got, 90);
	assert_int_equal(st, TLS_OK); /* the rest of a short record: done */
	/* Server to client. */
	assert_int_equal(tls_write(p.s, "+PONG\r\n", 7, &put, p.why, sizeof p.why), TLS_OK);
	assert_int_equal(put, 7);
	assert_int_equal(SSL_read_ex(p.c, in, sizeof in, &got), 1);
	assert_memory_equal(in, "+PONG\r\n", 7);
	/* The client's close_notify is an EOF. */
	SSL_shutdown(p.c);
	st = tls_read(p.s, in, sizeof in, &got, p.why, sizeof p.why);
	assert_int_equal(st, TLS_EOF);
	assert_int_equal(got, 0);
	tls_shutdown(p.s);
	pair_close(&p);
}

static void test_plain_eof_without_close_notify_is_an_eof_not_an_error(void **state)
{
	(void)state;
	config cfg = base_config();
	pair p;
	pair_open(&p, &cfg, client_ctx(NULL, NULL, TLS1_2_VERSION));
	assert_int_equal(pair_handshake(&p), TLS_OK);
	assert_string_equal(tls_version(p.s), "TLSv1.2");
	shutdown(p.cfd, SHUT_WR);
	char in[64];
	size_t got = 0;
	assert_int_equal(tls_read(p.s, in, sizeof in, &got, p.why, sizeof p.why), TLS_EOF);
	pair_close(&p);
}

static void test_plaintext_to_the_server_fails_with_openssls_reason(void **state)
{
	(void)state;
	config cfg = base_config();
	char err[512];
	SSL_CTX *sctx = tls_ctx_create(&cfg, err, sizeof err);
	assert_non_null(sctx);
	static const char *const inputs[][2] = {
	        {"PING\r\nPING\r\n", "wrong version number"},
	        {"GET / HTTP/1.1\r\n\r\n", "http request"},
	};
	for (size_t i = 0; i < 2; i++) {
		int sv[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
		SSL *s = tls_new(sctx, sv[0]);
		assert_non_null(s);
		assert_int_equal(write(sv[1], inputs[i][0], strlen(inputs[i][0])),
		                 (ssize_t)strlen(inputs[i][0]));
		char why[160] = "";
		assert_int_equal(tls_handshake(s, why, sizeof why), TLS_FAILED);
		assert_string_equal(why, inputs[i][1]);
		/* No alert (no bytes at all) goes back to a plaintext client. */
		char back[16];
		assert_int_equal(read(sv[1], back, sizeof back), -1);
		assert_int_equal(errno, EAGAIN);
		SSL_free(s);
		close(sv[0]);
		close(sv[1]);
	}
	SSL_CTX_free(sctx);
}

static void test_a_peer_that_closes_without_a_byte_is_a_silent_eof(void **state)
{
	(void)state;
	config cfg = base_config();
	char err[512];
	SSL_CTX *sctx = tls_ctx_create(&cfg, err, sizeof err);
	assert_non_null(sctx);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	SSL *s = tls_new(sctx, sv[0]);
	assert_non_null(s);
	char why[160] = "";
	assert_int_equal(tls_handshake(s, why, sizeof why), TLS_WANT_READ);
	assert_true(tls_peer_silent(s));
	close(sv[1]);
	assert_int_equal(tls_handshake(s, why, sizeof why), TLS_EOF);
	assert_true(tls_peer_silent(s));
	SSL_free(s);
	close(sv[0]);
	/* A peer that sent something is not silent. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	s = tls_new(sctx, sv[0]);
	assert_int_equal(write(sv[1], "\x16\x03\x01", 3), 3);
	close(sv[1]);
	assert_int_not_equal(tls_handshake(s, why, sizeof why), TLS_OK);
	assert_false(tls_peer_silent(s));
	SSL_free(s);
	close(sv[0]);
	SSL_CTX_free(sctx);
}

static void test_mutual_tls_identity_is_the_cn_or_the_first_san(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_REQUIRED;
	cfg.tls_client_ca_file = (char *)path_of("ca.pem");
	char name[256];
	pair p;

	pair_open(&p, &cfg, client_ctx("client.pem", "client.key", 0));
	assert_int_equal(pair_handshake(&p), TLS_OK);
	assert_int_equal(tls_peer_identity(p.s, CONFIG_TLS_ID_CN, name, sizeof name), 1);
	assert_string_equal(name, "app");
	assert_int_equal(tls_peer_identity(p.s, CONFIG_TLS_ID_SAN, name, sizeof name), 1);
	assert_string_equal(name, "app-san.example");
	assert_int_equal(tls_peer_identity(p.s, CONFIG_TLS_ID_NONE, name, sizeof name), 0);
	assert_string_equal(name, "");
	/* A name that does not fit is no identity (never a truncated one). */
	assert_int_equal(tls_peer_identity(p.s, CONFIG_TLS_ID_CN, name, 3), 0);
	pair_close(&p);

	pair_open(&p, &cfg, client_ctx("email.pem", "email.key", TLS1_2_VERSION));
	assert_int_equal(pair_handshake(&p), TLS_OK);
	assert_int_equal(tls_peer_identity(p.s, CONFIG_TLS_ID_SAN, name, sizeof name), 1);
	assert_string_equal(name, "ops@example.com");
	pair_close(&p);

	/* optional: a client without a certificate has no identity. */
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_OPTIONAL;
	pair_open(&p, &cfg, client_ctx(NULL, NULL, 0));
	assert_int_equal(pair_handshake(&p), TLS_OK);
	assert_int_equal(tls_peer_identity(p.s, CONFIG_TLS_ID_CN, name, sizeof name), 0);
	pair_close(&p);
}

static void test_required_client_certificate_refuses_none_and_a_foreign_ca(void **state)
{
	(void)state;
	config cfg = base_config();
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_REQUIRED;
	cfg.tls_client_ca_file = (char *)path_of("ca.pem");
	pair p;
	pair_open(&p, &cfg, client_ctx(NULL, NULL, TLS1_2_VERSION));
	assert_int_equal(pair_handshake(&p), TLS_FAILED);
	assert_string_equal(p.why, "peer did not return a certificate");
	pair_close(&p);

	pair_open(&p, &cfg, client_ctx("stranger.pem", "stranger.key", 0));
	assert_int_equal(pair_handshake(&p), TLS_FAILED);
	assert_contains(p.why, "certificate verify failed");
	pair_close(&p);
}

/* A certificate whose CN is "app\0.evil" (made here: the openssl command
 * cannot write a NUL) must not pass as "app". */
static void test_common_name_with_an_embedded_nul_is_no_identity(void **state)
{
	(void)state;
	FILE *fp = fopen(path_of("ca.key"), "r");
	assert_non_null(fp);
	EVP_PKEY *cakey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	fp = fopen(path_of("ca.pem"), "r");
	assert_non_null(fp);
	X509 *cacert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(cakey);
	assert_non_null(cacert);
	fp = fopen(path_of("client.key"), "r");
	assert_non_null(fp);
	EVP_PKEY *key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(key);

	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *n = X509_NAME_new();
	static const unsigned char cn[] = "app\0.evil";
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC, cn,
	                                            (int)sizeof cn - 1, -1, 0),
	                 1);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, X509_get_subject_name(cacert));
	assert_true(X509_sign(x, cakey, EVP_sha256()) > 0);
	fp = fopen(path_of("nul.pem"), "w");
	assert_non_null(fp);
	PEM_write_X509(fp, x);
	fclose(fp);
	X509_NAME_free(n);
	X509_free(x);
	X509_free(cacert);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);

	config cfg = base_config();
	cfg.tls_client_auth = CONFIG_TLS_CLIENT_REQUIRED;
	cfg.tls_client_ca_file = (char *)path_of("ca.pem");
	pair p;
	pair_open(&p, &cfg, client_ctx("nul.pem", "client.key", 0));
	assert_int_equal(pair_handshake(&p), TLS_OK);
	char name[256] = "x";
	assert_int_equal(tls_peer_identity(p.s, CONFIG_TLS_ID_CN, name, sizeof name), 0);
	assert_string_equal(name, "");
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good_certificate_and_key_load_with_the_hardened_settings),
	        cmocka_unit_test(test_tls_without_certificate_or_key_is_a_clear_error),
	        cmocka_unit_test(test_missing_files_name_the_flag_the_path_and_the_reason),
	        cmocka_unit_test(test_key_that_does_not_match_the_certificate_is_refused),
	        cmocka_unit_test(test_garbage_and_empty_pem_files_are_refused),
	        cmocka_unit_test(test_encrypted_key_is_refused_without_prompting),
	        cmocka_unit_test(test_bad_cipher_lists_are_errors_naming_the_flag),
	        cmocka_unit_test(test_client_auth_required_without_a_ca_file_is_a_config_error),
	        cmocka_unit_test(test_handshake_read_write_and_close_notify_over_a_socketpair),
	        cmocka_unit_test(test_plain_eof_without_close_notify_is_an_eof_not_an_error),
	        cmocka_unit_test(test_plaintext_to_the_server_fails_with_openssls_reason),
	        cmocka_unit_test(test_a_peer_that_closes_without_a_byte_is_a_silent_eof),
	        cmocka_unit_test(test_mutual_tls_identity_is_the_cn_or_the_first_san),
	        cmocka_unit_test(test_required_client_certificate_refuses_none_and_a_foreign_ca),
	        cmocka_unit_test(test_common_name_with_an_embedded_nul_is_no_identity),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
