/* test_tls.c - TLS against the real server and real peers (openssl
 * s_client, redis-cli --tls, OpenSSL clients on threads): protocol versions,
 * the TLS-only port, plaintext and TLS on the wrong port, mutual TLS and a
 * client certificate mapped to a token, the handshake timeout, a
 * certificate reload under load, and the output buffer limits.
 *
 * Certificates are made at test time with the openssl command
 * (tests/tls_certs.h) in a temp dir: a CA, a server certificate for
 * localhost/127.0.0.1, a second one for the reload, a client certificate
 * CN=app from the CA and one from another CA. Each test starts its own
 * server on free ports.
 */
#ifndef _GNU_SOURCE /* CMake defines it for every file; this is for other builds */
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../tls_certs.h"
#include "harness.h"

static char *certdir;
static char *openssl_bin;

/* dir/name in a ring of buffers (valid for the next 63 calls). */
static const char *cpath(const char *name)
{
	static char bufs[64][PATH_MAX];
	static int next;
	char *p = bufs[next++ % 64];
	snprintf(p, PATH_MAX, "%s/%s", certdir, name);
	return p;
}

static int group_setup(void **state)
{
	(void)state;
	openssl_bin = mdb_which("openssl");
	if (!openssl_bin) {
		fprintf(stderr, "test_tls: no openssl command; skipped\n");
		exit(77);
	}
	certdir = mdb_temp_dir();
	if (!certdir)
		return -1;
	static const char server_san[] = "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
	static const char not_ca[] = "basicConstraints=CA:FALSE\n";
	if (tls_certs_make_ca(certdir, "ca", "/CN=minidb test CA", NULL) != 0 ||
	    tls_certs_make_ca(certdir, "ca2", "/CN=another CA", NULL) != 0 ||
	    tls_certs_make_signed(certdir, "server", "ca", "/CN=localhost", server_san) != 0 ||
	    tls_certs_make_signed(certdir, "reloaded", "ca", "/CN=localhost-reloaded",
	                          server_san) != 0 ||
	    tls_certs_make_signed(certdir, "client", "ca", "/CN=app", not_ca) != 0 ||
	    tls_certs_make_signed(certdir, "stranger", "ca2", "/CN=app", not_ca) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (certdir)
		mdb_remove_tree(certdir);
	free(certdir);
	free(openssl_bin);
	return 0;
}

/* ---- a TLS client on OpenSSL (usable from any thread) ---- */

typedef struct tcl {
	int fd;
	SSL *ssl;
	char *buf; /* bytes read and not yet returned */
	size_t len, cap;
} tcl;

/* A client context that verifies the server against ca.pem and presents
 * the certificate name.pem/name.key when name is not NULL. */
static SSL_CTX *client_ctx(const char *name)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	SSL_CTX_load_verify_locations(ctx, cpath("ca.pem"), NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (name) {
		char crt[64], key[64];
		snprintf(crt, sizeof crt, "%s.pem", name);
		snprintf(key, sizeof key, "%s.key", name);
		if (SSL_CTX_use_certificate_file(ctx, cpath(crt), SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, cpath(key), SSL_FILETYPE_PEM) != 1) {
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	return ctx;
}

static void tcl_close(tcl *c)
{
	if (!c)
		return;
	SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	close(c->fd);
	free(c->buf);
	free(c);
	ERR_clear_error();
}

/* Connects to 127.0.0.1:port and handshakes, verifying the server's name.
 * NULL when refused (a blocking socket with the harness's I/O timeouts). */
static tcl *tcl_open(int port, SSL_CTX *ctx)
{
	int fd = mdb_connect(port);
	if (fd < 0)
		return NULL;
	tcl *c = calloc(1, sizeof *c);
	SSL *ssl = SSL_new(ctx);
	if (!c || !ssl) {
		free(c);
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->ssl = ssl;
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	SSL_set1_host(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	return c;
}

/* Reads one reply line: a malloc'd copy without "\r\n" in *line and its
 * length, or -1 when the connection failed or closed (lines up to 64 MiB). */
static long tcl_line(tcl *c, char **line)
{
	size_t scanned = 0;
	for (;;) {
		char *nl =
		        c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
		if (nl) {
			size_t k = (size_t)(nl - c->buf);
			size_t n = k > 0 && c->buf[k - 1] == '\r' ? k - 1 : k;
			*line = malloc(n + 1);
			if (!*line)
				return -1;
			memcpy(*line, c->buf, n);
			(*line)[n] = 0;
			memmove(c->buf, nl + 1, c->len - k - 1);
			c->len -= k + 1;
			return (long)n;
		}
		scanned = c->len;
		if (c->len == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16384;
			char *nb = cap <= (64u << 20) ? realloc(c->buf, cap) : NULL;
			if (!nb)
				return -1;
			c->buf = nb;
			c->cap = cap;
		}
		size_t got = 0;
		if (SSL_read_ex(c->ssl, c->buf + c->len, c->cap - c->len, &got) != 1) {
			ERR_clear_error();
			return -1;
		}
		c->len += got;
	}
}

/* Writes all n bytes. 0 or -1. */
static int tcl_send(tcl *c, const void *p, size_t n)
{
	size_t put = 0;
	if (SSL_write_ex(c->ssl, p, n, &put) != 1 || put != n) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* Sends cmd plus '\n' and reads one reply line (without "\r\n") into out,
 * cut to outlen - 1 bytes. Returns 0, or -1 when the connection failed or
 * closed. */
static int tcl_cmd(tcl *c, const char *cmd, char *out, size_t outlen)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "%s\n", cmd);
	char *line = NULL;
	if (n < 0 || (size_t)n >= sizeof buf || tcl_send(c, buf, (size_t)n) != 0)
		return -1;
	long len = tcl_line(c, &line);
	if (len < 0)
		return -1;
	snprintf(out, outlen, "%s", line);
	free(line);
	return 0;
}

/* 1 when a client with the certificate name (NULL: none) can connect to
 * port and get PONG, 0 when it is refused (in the handshake, or, under
 * TLS 1.3, at its first read when the server rejects its certificate). */
static int tls_ping_works(int port, const char *name)
{
	SSL_CTX *ctx = client_ctx(name);
	assert_non_null(ctx);
	tcl *c = tcl_open(port, ctx);
	char reply[256] = "";
	int ok = c && tcl_cmd(c, "PING", reply, sizeof reply) == 0 && strcmp(reply, "PONG") == 0;
	tcl_close(c);
	SSL_CTX_free(ctx);
	return ok;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- servers ---- */

/* Starts a server with a TLS port (the server certificate) plus extra
 * (NULL-terminated, may be NULL). */
static mdb_server *start_tls(const char *const extra[])
{
	const char *args[40];
	int n = 0;
	args[n++] = "--tls-port";
	args[n++] = "0";
	args[n++] = "--tls-cert-file";
	args[n++] = cpath("server.pem");
	args[n++] = "--tls-key-file";
	args[n++] = cpath("server.key");
	for (int i = 0; extra && extra[i] && n < 39; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	mdb_server *s = mdb_start_ok(args);
	assert_true(mdb_server_tls_port(s) > 0);
	assert_int_not_equal(mdb_server_tls_port(s), s->port);
	return s;
}

static void stop(mdb_server *s)
{
	mdb_stop_cleanly(s);
	mdb_stop(s);
}

/* minidb_connections_rejected_total{reason="<reason>"} from /metrics (the
 * server runs with --http-port=-1), or -1. */
static long long rejected_metric(const mdb_server *s, const char *reason)
{
	char *body = NULL, series[128];
	long long v = -1;
	if (mdb_http_get(mdb_http_port(s), "/metrics", &body, mdb_timeout_ms(5000)) != 200) {
		free(body);
		return -1;
	}
	snprintf(series, sizeof series, "minidb_connections_rejected_total{reason=\"%s\"} ",
	         reason);
	const char *p = strstr(body, series);
	if (p)
		v = atoll(p + strlen(series));
	free(body);
	return v;
}

/* openssl s_client with a protocol flag, sending PING then QUIT. */
static int s_client_ping(int port, const char *version_flag, char **out)
{
	return mdb_s_client(openssl_bin, port, cpath("ca.pem"), "localhost", version_flag,
	                    "PING\nQUIT\n", out);
}

static void tls_1_2_and_1_3_are_accepted_and_1_1_is_refused(void **state)
{
	(void)state;
	mdb_server *s = start_tls(NULL);
	int port = mdb_server_tls_port(s);
	char *out = NULL;
	assert_int_equal(s_client_ping(port, "-tls1_2", &out), 0);
	assert_non_null(strstr(out, "PONG"));
	assert_non_null(strstr(out, "TLSv1.2"));
	free(out);
	assert_int_equal(s_client_ping(port, "-tls1_3", &out), 0);
	assert_non_null(strstr(out, "PONG"));
	assert_non_null(strstr(out, "TLSv1.3"));
	free(out);
	assert_int_not_equal(s_client_ping(port, "-tls1_1", &out), 0);
	assert_null(strstr(out, "PONG"));
	free(out);
	assert_true(mdb_wait_log(s, "unsupported protocol", mdb_timeout_ms(5000)));
	/* The plaintext port is untouched. */
	mdb_conn *c = mdb_open_ok(s);
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
	stop(s);
}

static void min_version_1_3_refuses_tls_1_2(void **state)
{
	(void)state;
	static const char *const extra[] = {"--tls-min-version", "1.3", NULL};
	mdb_server *s = start_tls(extra);
	int port = mdb_server_tls_port(s);
	char *out = NULL;
	assert_int_not_equal(s_client_ping(port, "-tls1_2", &out), 0);
	assert_null(strstr(out, "PONG"));
	free(out);
	assert_int_equal(s_client_ping(port, "-tls1_3", &out), 0);
	assert_non_null(strstr(out, "PONG"));
	free(out);
	stop(s);
}

static void redis_cli_over_tls_sets_then_gets(void **state)
{
	(void)state;
	char *cli = mdb_which("redis-cli");
	if (!cli) {
		fprintf(stderr, "no redis-cli: skipped\n");
		return;
	}
	mdb_server *s = start_tls(NULL);
	char port[16];
	snprintf(port, sizeof port, "%d", mdb_server_tls_port(s));
	const char *set[] = {cli,  "--tls", "--cacert", cpath("ca.pem"), "-h", "127.0.0.1",
	                     "-p", port,    "SET",      "tls:k",         "v1", NULL};
	const char *get[] = {cli,  "--tls", "--cacert", cpath("ca.pem"), "-h", "127.0.0.1",
	                     "-p", port,    "GET",      "tls:k",         NULL};
	mdb_proc r;
	assert_int_equal(mdb_run(set, NULL, 0, mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), &r), 0);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "OK\n");
	mdb_proc_free(&r);
	assert_int_equal(mdb_run(get, NULL, 0, mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), &r), 0);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "v1\n");
	mdb_proc_free(&r);
	/* The same key over the plaintext port: one store behind both. */
	mdb_conn *c = mdb_open_ok(s);
	mdb_assert_cmd(c, "GET tls:k", "v1");
	mdb_conn_close(c);
	stop(s);
	free(cli);
}

static void plaintext_on_the_tls_port_is_closed_without_a_reply(void **state)
{
	(void)state;
	mdb_server *s = start_tls(ARGS("--http-port=-1"));
	int port = mdb_server_tls_port(s);
	static const char *const inputs[] = {"PING\r\nPING\r\n", "GET / HTTP/1.1\r\n\r\n",
	                                     "*1\r\n$4\r\nPING\r\n"};
	for (size_t i = 0; i < 3; i++) {
		mdb_conn *c = mdb_conn_open(port);
		assert_non_null(c);
		assert_int_equal(mdb_send_str(c, inputs[i]), 0);
		assert_int_equal(mdb_wait_closed(c, mdb_timeout_ms(MDB_IO_TIMEOUT_MS)), 1);
		mdb_conn_close(c);
	}
	assert_true(mdb_wait_log(s, "wrong version number", mdb_timeout_ms(5000)));
	assert_true(mdb_wait_log(s, "http request", mdb_timeout_ms(5000)));
	assert_int_equal(rejected_metric(s, "tls_handshake"), 3);
	assert_int_equal(rejected_metric(s, "tls_on_plaintext_port"), 0);
	/* The server carries on, on both ports. */
	assert_true(tls_ping_works(port, NULL));
	mdb_conn *c = mdb_open_ok(s);
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
	stop(s);
}

static void tls_client_hello_on_the_plaintext_port_is_closed_without_a_reply(void **state)
{
	(void)state;
	mdb_server *s = start_tls(ARGS("--http-port=-1"));
	/* A real ClientHello, taken from an OpenSSL client writing to memory. */
	SSL_CTX *ctx = client_ctx(NULL);
	assert_non_null(ctx);
	SSL *ssl = SSL_new(ctx);
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	SSL_set_bio(ssl, rb, wb);
	SSL_set_connect_state(ssl);
	assert_int_equal(SSL_do_handshake(ssl), -1);
	char *hello = NULL;
	long len = BIO_get_mem_data(wb, &hello);
	assert_true(len > 5);
	assert_int_equal((unsigned char)hello[0], 0x16);
	mdb_conn *c = mdb_open_ok(s);
	assert_int_equal(mdb_send_all(c->fd, hello, (size_t)len), 0);
	assert_int_equal(mdb_wait_closed(c, mdb_timeout_ms(MDB_IO_TIMEOUT_MS)), 1);
	mdb_conn_close(c);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	assert_true(mdb_wait_log(s, "TLS handshake on a plaintext port", mdb_timeout_ms(5000)));
	assert_int_equal(rejected_metric(s, "tls_on_plaintext_port"), 1);
	assert_int_equal(rejected_metric(s, "tls_handshake"), 0);
	c = mdb_open_ok(s);
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
	stop(s);
}

static void tls_flag_makes_the_client_port_tls_only(void **state)
{
	(void)state;
	const char *args[] = {"--tls",          "--tls-cert-file",   cpath("server.pem"),
	                      "--tls-key-file", cpath("server.key"), NULL};
	mdb_server *s = mdb_start_ok(args);
	assert_int_equal(mdb_server_tls_port(s), s->port);
	assert_true(tls_ping_works(s->port, NULL));
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	assert_int_equal(mdb_send_str(c, "PING\r\n"), 0);
	assert_int_equal(mdb_wait_closed(c, mdb_timeout_ms(MDB_IO_TIMEOUT_MS)), 1);
	mdb_conn_close(c);
	stop(s);
}

static void tls_without_a_certificate_refuses_to_start(void **state)
{
	(void)state;
	const char *bin = mdb_binary_path("MINIDB_BIN", "minidb");
	char *dir = mdb_temp_dir();
	assert_non_null(dir);
	const char *argv[] = {bin, "--port", "0", "--data-dir", dir, "--tls-port", "0", NULL};
	mdb_proc r;
	assert_int_equal(mdb_run(argv, NULL, 0, mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), &r), 0);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "--tls-cert-file"));
	mdb_proc_free(&r);
	const char *mismatch[] = {bin,
	                          "--port",
	                          "0",
	                          "--data-dir",
	                          dir,
	                          "--tls-port",
	                          "0",
	                          "--tls-cert-file",
	                          cpath("server.pem"),
	                          "--tls-key-file",
	                          cpath("client.key"),
	                          NULL};
	assert_int_equal(mdb_run(mismatch, NULL, 0, mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), &r), 0);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "does not match"));
	assert_null(strstr(r.err, "PRIVATE KEY"));
	mdb_proc_free(&r);
	mdb_remove_tree(dir);
	free(dir);
}

static void required_client_certificate_refuses_none_and_a_foreign_ca(void **state)
{
	(void)state;
	const char *extra[] = {"--tls-client-auth", "required", "--tls-client-ca-file",
	                       cpath("ca.pem"), NULL};
	mdb_server *s = start_tls(extra);
	int port = mdb_server_tls_port(s);
	assert_false(tls_ping_works(port, NULL));
	assert_false(tls_ping_works(port, "stranger"));
	assert_true(tls_ping_works(port, "client"));
	assert_true(mdb_wait_log(s, "peer did not return a certificate", mdb_timeout_ms(5000)));
	assert_true(mdb_wait_log(s, "certificate verify failed", mdb_timeout_ms(5000)));
	stop(s);
}

static void optional_client_certificate_accepts_a_client_without_one(void **state)
{
	(void)state;
	const char *extra[] = {"--tls-client-auth", "optional", "--tls-client-ca-file",
	                       cpath("ca.pem"), NULL};
	mdb_server *s = start_tls(extra);
	int port = mdb_server_tls_port(s);
	assert_true(tls_ping_works(port, NULL));
	assert_true(tls_ping_works(port, "client"));
	assert_false(tls_ping_works(port, "stranger"));
	stop(s);
}

static void client_certificate_named_app_reads_without_auth_but_cannot_write(void **state)
{
	(void)state;
	const char *cli = mdb_binary_path("MINIDB_CLI", "minidb-cli");
	const char *argv[] = {cli, "hash-token", "--sha256", "app-token-for-tests", NULL};
	mdb_proc r;
	assert_int_equal(mdb_run(argv, NULL, 0, mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), &r), 0);
	assert_int_equal(r.status, 0);
	char *nl = strchr(r.out, '\n');
	if (nl)
		*nl = 0;
	char yaml[1024];
	int n = snprintf(yaml, sizeof yaml,
	                 "security:\n  auth_enabled: true\n  tokens:\n    - name: app\n"
	                 "      hash: \"%s\"\n      permissions: read\n",
	                 r.out);
	mdb_proc_free(&r);
	assert_true(n > 0 && (size_t)n < sizeof yaml);
	assert_int_equal(mdb_write_file(cpath("auth.yaml"), yaml, (size_t)n), 0);

	const char *extra[] = {"--config", cpath("auth.yaml"),     "--tls-client-auth",
	                       "required", "--tls-client-ca-file", cpath("ca.pem"),
	                       NULL};
	mdb_server *s = start_tls(extra);
	SSL_CTX *ctx = client_ctx("client");
	assert_non_null(ctx);
	tcl *c = tcl_open(mdb_server_tls_port(s), ctx);
	assert_non_null(c);
	char reply[512];
	assert_int_equal(tcl_cmd(c, "GET cert:k", reply, sizeof reply), 0);
	assert_null(strstr(reply, "ERROR"));
	assert_int_equal(tcl_cmd(c, "SET cert:k v", reply, sizeof reply), 0);
	assert_non_null(strstr(reply, "NOPERM"));
	tcl_close(c);
	SSL_CTX_free(ctx);
	/* Without the certificate, the plaintext port asks for AUTH. */
	mdb_conn *p = mdb_open_ok(s);
	mdb_assert_cmd_prefix(p, "GET cert:k", "ERROR: Authentication required");
	mdb_conn_close(p);
	stop(s);
}

static void silent_connection_is_closed_at_the_handshake_timeout(void **state)
{
	(void)state;
	static const char *const extra[] = {"--handshake-timeout", "1", "--http-port=-1", NULL};
	mdb_server *s = start_tls(extra);
	long long t0 = mdb_now_ms();
	mdb_conn *c = mdb_conn_open(mdb_server_tls_port(s));
	assert_non_null(c);
	assert_int_equal(mdb_wait_closed(c, mdb_timeout_ms(6000)), 1);
	assert_true(mdb_now_ms() - t0 >= 900);
	mdb_conn_close(c);
	assert_true(mdb_wait_log(s, "TLS handshake timeout", mdb_timeout_ms(5000)));
	assert_int_equal(rejected_metric(s, "tls_handshake_timeout"), 1);
	assert_true(tls_ping_works(mdb_server_tls_port(s), NULL));
	stop(s);
}

static void max_clients_counts_the_tls_port_too(void **state)
{
	(void)state;
	static const char *const extra[] = {"--max-clients", "2", NULL};
	mdb_server *s = start_tls(extra);
	mdb_conn *a = mdb_open_ok(s), *b = mdb_open_ok(s);
	mdb_assert_cmd(a, "PING", "PONG");
	mdb_assert_cmd(b, "PING", "PONG");
	/* Refused by closing: no plaintext error line for a TLS client. */
	mdb_conn *t = mdb_conn_open(mdb_server_tls_port(s));
	assert_non_null(t);
	assert_int_equal(mdb_wait_closed(t, mdb_timeout_ms(MDB_IO_TIMEOUT_MS)), 1);
	mdb_conn_close(t);
	mdb_conn_close(b);
	/* A slot is free again once the server has seen the close. */
	int ok = 0;
	for (int i = 0; i < 100 && !ok; i++) {
		ok = tls_ping_works(mdb_server_tls_port(s), NULL);
		if (!ok)
			mdb_sleep_ms(50);
	}
	assert_true(ok);
	mdb_conn_close(a);
	stop(s);
}

static void large_values_and_deep_pipelines_round_trip_over_tls(void **state)
{
	(void)state;
	enum { BIG = 3 << 20, PIPE = 5000 };
	static const char *const extra[] = {"--max-line-bytes", "8m", NULL};
	mdb_server *s = start_tls(extra);
	SSL_CTX *ctx = client_ctx(NULL);
	assert_non_null(ctx);
	tcl *c = tcl_open(mdb_server_tls_port(s), ctx);
	assert_non_null(c);
	/* A 3 MiB line: many records, read in several turns. */
	char *cmd = malloc(BIG + 16);
	assert_non_null(cmd);
	int h = snprintf(cmd, 16, "SET big ");
	for (size_t i = 0; i < BIG; i++)
		cmd[h + (int)i] = (char)('a' + i % 23);
	cmd[h + BIG] = '\n';
	assert_int_equal(tcl_send(c, cmd, (size_t)h + BIG + 1), 0);
	char *line = NULL;
	assert_int_equal(tcl_line(c, &line), 2);
	assert_string_equal(line, "OK");
	free(line);
	/* Two 3 MiB replies requested at once and read only afterwards: the
	 * server's writes stop and resume. */
	assert_int_equal(tcl_send(c, "GET big\nGET big\n", 16), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tcl_line(c, &line), BIG);
		assert_memory_equal(line, cmd + h, BIG);
		free(line);
	}
	/* A deep pipeline in one write. */
	char *pings = malloc(PIPE * 5);
	assert_non_null(pings);
	for (int i = 0; i < PIPE; i++)
		memcpy(pings + i * 5, "PING\n", 5);
	assert_int_equal(tcl_send(c, pings, PIPE * 5), 0);
	for (int i = 0; i < PIPE; i++) {
		assert_int_equal(tcl_line(c, &line), 4);
		assert_string_equal(line, "PONG");
		free(line);
	}
	free(pings);
	free(cmd);
	tcl_close(c);
	SSL_CTX_free(ctx);
	stop(s);
}

/* ---- certificate reload under load ---- */

typedef struct loader {
	pthread_t th;
	int id;
	int port;
	SSL_CTX *ctx;
	atomic_int *stop;
	long ops;
	long failures;
	long handshakes;
	char first_error[256];
} loader;

static void load_fail(loader *l, const char *what)
{
	if (l->failures++ == 0)
		snprintf(l->first_error, sizeof l->first_error, "%s", what);
}

/* SET/GET on one connection, a new connection (a new handshake) every 20
 * requests, until stop; every request must succeed. */
static void *load_main(void *arg)
{
	loader *l = arg;
	long long deadline = mdb_now_ms() + mdb_timeout_ms(60000);
	tcl *c = NULL;
	for (long i = 0; !atomic_load(l->stop) && mdb_now_ms() < deadline; i++) {
		if (!c || i % 20 == 0) {
			tcl_close(c);
			c = tcl_open(l->port, l->ctx);
			l->handshakes++;
			if (!c) {
				load_fail(l, "handshake failed");
				mdb_sleep_ms(10);
				continue;
			}
		}
		char cmd[128], want[64], reply[256];
		snprintf(want, sizeof want, "v%d-%ld", l->id, i);
		snprintf(cmd, sizeof cmd, "SET reload:%d %s", l->id, want);
		if (tcl_cmd(c, cmd, reply, sizeof reply) != 0 || strcmp(reply, "OK") != 0) {
			load_fail(l, "SET failed");
			tcl_close(c);
			c = NULL;
			continue;
		}
		snprintf(cmd, sizeof cmd, "GET reload:%d", l->id);
		if (tcl_cmd(c, cmd, reply, sizeof reply) != 0 || strcmp(reply, want) != 0) {
			load_fail(l, "GET failed");
			tcl_close(c);
			c = NULL;
			continue;
		}
		l->ops += 2;
	}
	tcl_close(c);
	return NULL;
}

/* The subject CN of the certificate a new connection to port sees. */
static void peer_cn(int port, char *out, size_t outlen)
{
	SSL_CTX *ctx = client_ctx(NULL);
	assert_non_null(ctx);
	tcl *c = tcl_open(port, ctx);
	assert_non_null(c);
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	assert_non_null(cert);
	out[0] = 0;
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)outlen);
	X509_free(cert);
	tcl_close(c);
	SSL_CTX_free(ctx);
}

/* Copies src over dst by writing a temp file and renaming it, as a
 * certificate manager would. */
static void replace_file(const char *src, const char *dst)
{
	size_t len = 0;
	char *data = mdb_read_file(src, &len);
	assert_non_null(data);
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.tmp", dst);
	assert_int_equal(mdb_write_file(tmp, data, len), 0);
	assert_int_equal(rename(tmp, dst), 0);
	free(data);
}

static void certificate_reload_under_load_fails_no_request(void **state)
{
	(void)state;
	enum { LOADERS = 4 };
	/* The server reads copies that the test then replaces. */
	replace_file(cpath("server.pem"), cpath("live.pem"));
	replace_file(cpath("server.key"), cpath("live.key"));
	const char *args[] = {
	        "--tls-port",      "0", "--tls-cert-file", cpath("live.pem"), "--tls-key-file",
	        cpath("live.key"), NULL};
	mdb_server *s = mdb_start_ok(args);
	int port = mdb_server_tls_port(s);
	assert_true(port > 0);
	char cn[256];
	peer_cn(port, cn, sizeof cn);
	assert_string_equal(cn, "localhost");

	SSL_CTX *ctx = client_ctx(NULL);
	assert_non_null(ctx);
	atomic_int stop_flag;
	atomic_init(&stop_flag, 0);
	loader ls[LOADERS];
	memset(ls, 0, sizeof ls);
	for (int i = 0; i < LOADERS; i++) {
		ls[i] = (loader){.id = i, .port = port, .ctx = ctx, .stop = &stop_flag};
		assert_int_equal(pthread_create(&ls[i].th, NULL, load_main, &ls[i]), 0);
	}
	mdb_sleep_ms(500);
	replace_file(cpath("reloaded.pem"), cpath("live.pem"));
	replace_file(cpath("reloaded.key"), cpath("live.key"));
	assert_int_equal(mdb_signal(s, SIGHUP), 0);
	int reloaded = mdb_wait_log(s, "TLS certificate reloaded", mdb_timeout_ms(10000));
	if (reloaded)
		peer_cn(port, cn, sizeof cn);
	mdb_sleep_ms(500);
	atomic_store(&stop_flag, 1);
	long ops = 0, failures = 0, handshakes = 0;
	for (int i = 0; i < LOADERS; i++) {
		pthread_join(ls[i].th, NULL);
		ops += ls[i].ops;
		failures += ls[i].failures;
		handshakes += ls[i].handshakes;
		if (ls[i].failures)
			fprintf(stderr, "loader %d: %ld failures, first: %s\n", i, ls[i].failures,
			        ls[i].first_error);
	}
	SSL_CTX_free(ctx);
	fprintf(stderr, "reload under load: %ld requests, %ld handshakes, %ld failures\n", ops,
	        handshakes, failures);
	if (!reloaded)
		mdb_print_log(s);
	assert_true(reloaded);
	assert_string_equal(cn, "localhost-reloaded");
	assert_int_equal(failures, 0);
	assert_true(ops > 0);
	stop(s);
}

/* ---- output buffer limits ---- */

static void set_big_value(mdb_conn *c, const char *key, size_t len)
{
	char *v = malloc(len);
	assert_non_null(v);
	memset(v, 'x', len);
	const char *argv[] = {"SET", key, v};
	const size_t lens[] = {3, strlen(key), len};
	mdb_reply r;
	assert_int_equal(mdb_resp_call(c, 3, argv, lens, &r), 0);
	assert_int_equal(r.type, '+');
	mdb_reply_free(&r);
	free(v);
}

static void get_of_a_value_over_the_output_limit_disconnects_that_client(void **state)
{
	(void)state;
	static const char *const args[] = {"--client-output-limit", "1m", NULL};
	mdb_server *s = mdb_start_ok(args);
	mdb_conn *a = mdb_open_ok(s);
	set_big_value(a, "big", 2u << 20);
	set_big_value(a, "small", 512u << 10);
	mdb_conn *b = mdb_open_ok(s);
	assert_int_equal(mdb_send_str(b, "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"), 0);
	assert_int_equal(mdb_wait_closed(b, mdb_timeout_ms(MDB_IO_TIMEOUT_MS)), 1);
	mdb_conn_close(b);
	assert_true(mdb_wait_log(s, "client output limit reached", mdb_timeout_ms(5000)));
	/* Under the limit is fine, and the server carries on. */
	MDB_ASSERT_CALL(a, "+PONG", "PING");
	mdb_reply r;
	const char *argv[] = {"GET", "small"};
	const size_t lens[] = {3, 5};
	assert_int_equal(mdb_resp_call(a, 2, argv, lens, &r), 0);
	assert_int_equal(r.len, 512u << 10);
	mdb_reply_free(&r);
	mdb_conn_close(a);
	stop(s);
}

static void client_that_stops_reading_is_closed_after_the_soft_limit_grace(void **state)
{
	(void)state;
	static const char *const args[] = {"--client-output-soft-limit", "256k",
	                                   "--client-output-soft-seconds", "1", NULL};
	mdb_server *s = mdb_start_ok(args);
	mdb_conn *a = mdb_open_ok(s);
	set_big_value(a, "half", 512u << 10);
	/* A reader with a tiny window that pipelines GETs and reads nothing. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	mdb_conn *slow = mdb_conn_wrap(fd);
	assert_non_null(slow);
	/* 32 MiB of replies: more than any kernel socket buffer holds. */
	for (int i = 0; i < 64; i++)
		assert_int_equal(mdb_send_str(slow, "*2\r\n$3\r\nGET\r\n$4\r\nhalf\r\n"), 0);
	assert_true(mdb_wait_log(s, "client output soft limit exceeded", mdb_timeout_ms(15000)));
	mdb_conn_close(slow);
	MDB_ASSERT_CALL(a, "+PONG", "PING");
	mdb_conn_close(a);
	stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(tls_1_2_and_1_3_are_accepted_and_1_1_is_refused),
	        cmocka_unit_test(min_version_1_3_refuses_tls_1_2),
	        cmocka_unit_test(redis_cli_over_tls_sets_then_gets),
	        cmocka_unit_test(plaintext_on_the_tls_port_is_closed_without_a_reply),
	        cmocka_unit_test(tls_client_hello_on_the_plaintext_port_is_closed_without_a_reply),
	        cmocka_unit_test(tls_flag_makes_the_client_port_tls_only),
	        cmocka_unit_test(tls_without_a_certificate_refuses_to_start),
	        cmocka_unit_test(required_client_certificate_refuses_none_and_a_foreign_ca),
	        cmocka_unit_test(optional_client_certificate_accepts_a_client_without_one),
	        cmocka_unit_test(client_certificate_named_app_reads_without_auth_but_cannot_write),
	        cmocka_unit_test(silent_connection_is_closed_at_the_handshake_timeout),
	        cmocka_unit_test(max_clients_counts_the_tls_port_too),
	        cmocka_unit_test(large_values_and_deep_pipelines_round_trip_over_tls),
	        cmocka_unit_test(certificate_reload_under_load_fails_no_request),
	        cmocka_unit_test(get_of_a_value_over_the_output_limit_disconnects_that_client),
	        cmocka_unit_test(client_that_stops_reading_is_closed_after_the_soft_limit_grace),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
