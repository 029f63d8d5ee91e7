/* tool_common.c - the pieces minidb-cli, minidb-bench and minidb-parquet
 * share (see tool_common.h): deadlines on the monotonic clock, connecting
 * with a bound on the wait, non-blocking sends, buffer growth, option
 * parsing and the TLS client. libc and OpenSSL only, never src/ headers, so
 * each tool stays standalone. Every wait goes through poll(2) with the time
 * left, so one --timeout bounds a connect over all the addresses a name
 * resolves to and the TLS handshake after it.
 */
#include "tool_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

uint64_t tool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tool_deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : tool_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

int tool_ms_left(uint64_t deadline_ns)
{
	uint64_t now, ms;

	if (deadline_ns == 0)
		return -1;
	now = tool_now_ns();
	if (now >= deadline_ns)
		return 0;
	ms = (deadline_ns - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int tool_wait_fd(int fd, short events, uint64_t deadline_ns)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int rc;

	for (;;) {
		rc = poll(&pfd, 1, tool_ms_left(deadline_ns));
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int tool_connect_addr(const struct addrinfo *ai, uint64_t deadline_ns, int *err)
{
	socklen_t len = sizeof(*err);
	int fd, rc, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			*err = errno;
			goto fail;
		}
		rc = tool_wait_fd(fd, POLLOUT, deadline_ns);
		if (rc <= 0) {
			*err = rc == 0 ? ETIMEDOUT : errno;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) < 0)
			*err = errno;
		if (*err != 0)
			goto fail;
	}
	/* Small requests and replies: do not let Nagle hold them back. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return -1;
}

int tool_connect(const char *prog, const char *host, const char *port, uint64_t deadline_ns,
                 struct addrinfo **res, const struct addrinfo **used)
{
	struct addrinfo hints = {0}, *list, *ai;
	int fd = -1, rc, err = ECONNREFUSED;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &list);
	if (rc != 0) {
		fprintf(stderr, "%s: cannot resolve %s: %s\n", prog, host, gai_strerror(rc));
		return -1;
	}
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		fd = tool_connect_addr(ai, deadline_ns, &err);
		if (fd >= 0 || err == ETIMEDOUT)
			break; /* the one deadline covers all addresses */
	}
	if (fd < 0) {
		fprintf(stderr, "%s: cannot connect to %s port %s: %s\n", prog, host, port,
		        strerror(err));
		freeaddrinfo(list);
		return -1;
	}
	if (res != NULL) {
		*res = list;
		*used = ai;
	} else {
		freeaddrinfo(list);
	}
	return fd;
}

int tool_send_avail(int fd, const char *buf, size_t len, size_t *off)
{
	ssize_t n;

	while (*off < len) {
		n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);
		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n == 0)
			return EIO;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return errno;
	}
	return 0;
}

int tool_buf_grow(char **buf, size_t *cap, size_t need, size_t first_cap)
{
	size_t c = *cap ? *cap : first_cap;
	char *p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c = c > SIZE_MAX / 2 ? need : c * 2;
	p = realloc(*buf, c);
	if (p == NULL)
		return -1;
	*buf = p;
	*cap = c;
	return 0;
}

size_t tool_match_opt(const char *a, const char *shortname, const char *longname)
{
	size_t n;

	if (shortname != NULL && strncmp(a, shortname, 2) == 0)
		return 2;
	if (longname == NULL)
		return 0;
	n = strlen(longname);
	if (strncmp(a, longname, n) == 0 && (a[n] == '\0' || a[n] == '='))
		return n;
	return 0;
}

size_t tool_match_long(const char *a, const char *name)
{
	size_t d, n;

	if (a[0] != '-')
		return 0;
	d = a[1] == '-' ? 2 : 1;
	n = strlen(name);
	if (strncmp(a + d, name, n) == 0 && (a[d + n] == '\0' || a[d + n] == '='))
		return d + n;
	return 0;
}

char *tool_opt_value(int argc, char **argv, int *i, size_t n)
{
	char *a = argv[*i];

	if (a[n] == '=' && (a[1] == '-' || n > 2))
		return a + n + 1;
	if (a[n] != '\0')
		return a + n;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

int tool_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int tool_parse_seconds(const char *s, double max_s, double *out)
{
	char *end;
	double v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= max_s))
		return -1;
	*out = v;
	return 0;
}

int tool_parse_timeout_ms(const char *s, int *ms)
{
	double v;

	if (tool_parse_seconds(s, 1e6, &v) < 0)
		return -1;
	if (v == 0) {
		*ms = -1;
		return 0;
	}
	v = ceil(v * 1000);
	*ms = v < 1 ? 1 : (int)v;
	return 0;
}

int tool_usage_error(const char *prog, const char *what, const char *problem, int status)
{
	fprintf(stderr, "%s: %s: %s\nTry '%s --help'.\n", prog, what, problem, prog);
	return status;
}

/* ---- TLS ---- */

/* The reason of OpenSSL's oldest queued error (static text), or fallback. */
static const char *tls_reason_or(unsigned long e, const char *fallback)
{
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	return r != NULL ? r : fallback;
}

const char *tool_tls_error_reason(void)
{
	return tls_reason_or(ERR_peek_error(), "TLS protocol error");
}

const char *tool_tls_error_hint(void)
{
	unsigned long e = ERR_peek_error();

	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return "";
	switch (ERR_GET_REASON(e)) {
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		return " (does the server require a client certificate? --cert FILE --key FILE)";
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
		return " (the server does not accept this client certificate)";
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
		return " (does the server speak TLS on this port?)";
	default:
		return "";
	}
}

/* 0 when path can be opened for reading, else -1 after saying why: OpenSSL's
 * own message for a missing file is only "system lib". */
static int tls_check_readable(const char *prog, const char *what, const char *path)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "%s: cannot read %s %s: %s\n", prog, what, path, strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

/* Prints "<prog>: <what> <file>: <OpenSSL's reason>" and clears the queue. */
static void tls_file_error(const char *prog, const char *what, const char *file)
{
	fprintf(stderr, "%s: %s %s: %s\n", prog, what, file,
	        tls_reason_or(ERR_peek_error(), "unknown error"));
	ERR_clear_error();
}

/* Watches the handshake for the server's CertificateRequest and marks the
 * session (app data: per SSL, so threads share nothing). Set only for the
 * handshake: tool_tls_connect removes it before any application data. */
static void tls_watch_handshake(int write_p, int version, int content_type, const void *buf,
                                size_t len, SSL *ssl, void *arg)
{
	static char asked[] = "client certificate requested";

	(void)version;
	(void)arg;
	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_CERTIFICATE_REQUEST)
		SSL_set_app_data(ssl, asked);
}

int tool_tls_cert_requested(const struct ssl_st *ssl)
{
	return ssl != NULL && SSL_get_app_data(ssl) != NULL;
}

struct ssl_ctx_st *tool_tls_ctx_new(const char *prog, const struct tool_tls_opts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		fprintf(stderr, "%s: cannot set up TLS: %s\n", prog, tool_tls_error_reason());
		ERR_clear_error();
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* A server that closes without close_notify ends the stream like a
	 * FIN: replies are whole lines, so a cut-off one is still detected. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Like send(2): a write may take part of the buffer, and the buffer may
	 * move (grow) before the rest is retried. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	if (o->ca_file != NULL) {
		if (tls_check_readable(prog, "the CA certificates", o->ca_file) < 0)
			goto fail;
		if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
			tls_file_error(prog, "cannot load CA certificates from", o->ca_file);
			goto fail;
		}
	} else if (!o->insecure && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		fprintf(stderr, "%s: cannot load the system's CA certificates: %s\n", prog,
		        tool_tls_error_reason());
		ERR_clear_error();
		goto fail;
	}
	if (o->cert_file != NULL) {
		const char *key = o->key_file != NULL ? o->key_file : o->cert_file;
		unsigned long e;

		if (tls_check_readable(prog, "the client certificate", o->cert_file) < 0 ||
		    tls_check_readable(prog, "the private key", key) < 0)
			goto fail;
		if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
			tls_file_error(prog, "cannot load the client certificate from",
			               o->cert_file);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
			    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
				fprintf(stderr,
				        "%s: the private key in %s does not match the "
				        "certificate in %s\n",
				        prog, key, o->cert_file);
			else if (o->key_file == NULL)
				fprintf(stderr,
				        "%s: no private key in %s (--key FILE names its file)\n",
				        prog, key);
			else
				fprintf(stderr, "%s: cannot load the private key from %s: %s\n",
				        prog, key, tls_reason_or(e, "unknown error"));
			ERR_clear_error();
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			fprintf(stderr,
			        "%s: the private key in %s does not match the certificate in %s\n",
			        prog, key, o->cert_file);
			ERR_clear_error();
			goto fail;
		}
	}
	SSL_CTX_set_msg_callback(ctx, tls_watch_handshake);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tool_tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

static int is_ip_address(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* Prints why SSL_connect failed with SSL_get_error's err (OpenSSL's queue
 * and errno still as it left them). */
static void tls_report_handshake(const char *prog, SSL *ssl, int err, int sys_errno,
                                 const char *name, const char *host, const char *port)
{
	unsigned long e = ERR_peek_error();
	long vr = SSL_get_verify_result(ssl);

	fprintf(stderr, "%s: TLS handshake with %s port %s failed: ", prog, host, port);
	if (err == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED && vr != X509_V_OK) {
		fprintf(stderr, "server certificate verification failed: %s",
		        X509_verify_cert_error_string(vr));
		if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
			fprintf(stderr, " (the certificate is not for %s%s)", name,
			        name == host ? "; --sni NAME checks another name" : "");
		else
			fprintf(stderr, " (--ca-cert FILE trusts the CA that signed it; --insecure "
			                "skips the check)");
	} else if (err == SSL_ERROR_SSL) {
		fprintf(stderr, "%s%s", tls_reason_or(e, "TLS protocol error"),
		        tool_tls_error_hint());
	} else if (err == SSL_ERROR_SYSCALL && sys_errno != 0) {
		fputs(strerror(sys_errno), stderr);
	} else {
		fputs("the server closed the connection (does it speak TLS on this port?)", stderr);
	}
	fputc('\n', stderr);
	ERR_clear_error();
}

struct ssl_st *tool_tls_connect(const char *prog, struct ssl_ctx_st *ctx, int fd, const char *host,
                                const char *port, const struct tool_tls_opts *o,
                                uint64_t deadline_ns)
{
	const char *name = o->sni != NULL ? o->sni : host;
	SSL *ssl = SSL_new(ctx);
	int rc, err, ip = is_ip_address(name);

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		fprintf(stderr, "%s: cannot set up TLS: %s\n", prog, tool_tls_error_reason());
		goto fail;
	}
	/* SNI carries host names only (RFC 6066), never addresses. */
	if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1) {
		fprintf(stderr, "%s: cannot use '%s' as the TLS server name\n", prog, name);
		goto fail;
	}
	if (!o->insecure) {
		rc = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
		        : SSL_set1_host(ssl, name);
		if (rc != 1) {
			fprintf(stderr, "%s: cannot check certificates against '%s'\n", prog, name);
			goto fail;
		}
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(ssl);
		if (rc == 1) {
			SSL_set_msg_callback(ssl, NULL);
			return ssl;
		}
		err = SSL_get_error(ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			tls_report_handshake(prog, ssl, err, errno, name, host, port);
			goto fail;
		}
		rc = tool_wait_fd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline_ns);
		if (rc == 0) {
			fprintf(stderr, "%s: TLS handshake with %s port %s timed out\n", prog, host,
			        port);
			goto fail;
		}
		if (rc < 0) {
			fprintf(stderr, "%s: TLS handshake with %s port %s: poll: %s\n", prog, host,
			        port, strerror(errno));
			goto fail;
		}
	}
fail:
	ERR_clear_error();
	SSL_free(ssl);
	return NULL;
}

int tool_conn_send(const struct tool_conn *c, const char *buf, size_t len, size_t *off, short *want)
{
	size_t n;
	int rc;

	*want = POLLOUT;
	if (c->ssl == NULL)
		return tool_send_avail(c->fd, buf, len, off);
	while (*off < len) {
		ERR_clear_error();
		errno = 0;
		rc = SSL_write_ex(c->ssl, buf + *off, len - *off, &n);
		if (rc == 1) {
			*off += n;
			continue;
		}
		switch (SSL_get_error(c->ssl, rc)) {
		case SSL_ERROR_WANT_WRITE:
			return 0;
		case SSL_ERROR_WANT_READ:
			*want = POLLIN;
			return 0;
		case SSL_ERROR_ZERO_RETURN:
			return EPIPE;
		case SSL_ERROR_SYSCALL:
			return errno != 0 ? errno : EPIPE;
		default:
			return EPROTO;
		}
	}
	return 0;
}

ssize_t tool_conn_recv(const struct tool_conn *c, char *buf, size_t cap, short *want)
{
	ssize_t n;
	size_t got;
	int rc;

	*want = POLLIN;
	if (c->ssl == NULL) {
		do
			n = recv(c->fd, buf, cap, 0);
		while (n < 0 && errno == EINTR);
		return n;
	}
	ERR_clear_error();
	errno = 0;
	rc = SSL_read_ex(c->ssl, buf, cap, &got);
	if (rc == 1)
		return (ssize_t)got;
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			errno = ECONNRESET;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

void tool_conn_close(struct tool_conn *c)
{
	if (c->ssl != NULL) {
		/* One attempt, no wait: the close_notify goes out if the socket
		 * takes it; the peer sees the FIN either way. */
		if (!SSL_in_init(c->ssl))
			(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
