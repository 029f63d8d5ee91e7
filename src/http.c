/* http.c - the observability HTTP endpoint over libmicrohttpd (MHD).
 *
 * MHD does all of HTTP (parsing, keep-alive, limits, timeouts) and, with
 * --http-tls, TLS through GnuTLS; this file binds the listener itself (so
 * port -1 and a busy port give a clear answer before any thread starts),
 * hands it to MHD, maps three paths to the caller's callbacks and asks the
 * caller's authorize callback about a bearer token on /metrics. MHD runs a
 * pool of HTTP_THREADS epoll threads: a slow callback holds one of them, and
 * the others go on accepting, so /healthz answers while a scrape is being
 * built. One thread per connection was the rejected alternative: it isolates
 * better but lets 64 clients make 64 threads. Nothing here touches the
 * server's workers or takes their locks.
 *
 * Certificate rotation starts a second daemon on the same listening socket
 * (MHD_quiesce_daemon hands it over) and stops the first. The rejected
 * alternative, MHD_OPTION_HTTPS_CERT_CALLBACK, swaps certificates without a
 * new daemon but means calling GnuTLS directly (another library to link, its
 * certificate and key types to manage here) for an event that happens a few
 * times a year. The PEM files are parsed with OpenSSL before GnuTLS sees
 * them: its messages name what is wrong more plainly, and GnuTLS 3.7 leaks a
 * certificate when it fails to parse one.
 */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"

#define HTTP_THREADS     4
#define HTTP_MAX_CONNS   64          /* http_routes.max_connections when 0 */
#define HTTP_TIMEOUT_S   10          /* http_routes.timeout_s when 0 */
#define HTTP_CONN_MEMORY (32 * 1024) /* per connection: request line and headers */
#define HTTP_BACKLOG     64
#define CT_METRICS       "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON          "application/json"
#define CT_TEXT          "text/plain; charset=utf-8"
#define BEARER_REALM     "Bearer realm=\"minidb\""
#define BEARER_MAX       16384 /* longer Authorization values are refused unread */
/* GnuTLS priorities: its defaults, with TLS 1.2 and 1.3 only (SSL 3.0, TLS
 * 1.0 and 1.1 refused at the handshake). */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* One MHD daemon and its start-up error. The logger's context is per daemon
 * because during a reload the old daemon's threads log while the new one
 * starts. The PEM texts are kept for the daemon's life (MHD is handed
 * pointers to them). */
struct http_daemon {
	struct MHD_Daemon *d;
	pthread_t starter;   /* the thread in MHD_start_daemon, set before it runs */
	atomic_int starting; /* 1 while MHD_start_daemon runs */
	char err[300];       /* start-up errors, written by the starter only */
	char *cert, *key;    /* PEM, NUL-terminated; NULL for plain HTTP */
	size_t cert_len, key_len;
};

struct http_server {
	struct http_daemon *cur; /* touched only by the controlling thread */
	http_routes routes;
	int port;
	char bind[80]; /* for messages */
};

/* MHD's error log. During start-up the message becomes part of the start
 * error; afterwards it is mostly a hostile or broken client ("malformed
 * header line", a failed handshake), so it goes out at debug level, where a
 * flood costs nothing. */
__attribute__((format(printf, 2, 0))) static void http_mhd_log(void *cls, const char *fmt,
                                                               va_list ap)
{
	struct http_daemon *hd = cls;
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (atomic_load(&hd->starting) && pthread_equal(pthread_self(), hd->starter)) {
		/* MHD logs the cause first, then its consequences: keep them all. */
		n = strlen(hd->err);
		snprintf(hd->err + n, sizeof hd->err - n, "%s%s",
		         n == 0                  ? ""
		         : hd->err[n - 1] == '.' ? " "
		                                 : ": ",
		         msg);
	} else
		log_debug("http", "libmicrohttpd", LF_S("error", msg));
}

/* Queues one response. The body is copied; HEAD bodies are dropped by MHD
 * (which keeps the Content-Length). */
static enum MHD_Result http_reply(struct MHD_Connection *c, int status, const char *ctype,
                                  const char *body, size_t len, const char *hname,
                                  const char *hvalue)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO; /* out of memory: MHD closes the connection */
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    (hname != NULL && MHD_add_response_header(r, hname, hvalue) != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result http_reply_str(struct MHD_Connection *c, int status, const char *msg,
                                      int allow)
{
	return http_reply(c, status, CT_TEXT, msg, strlen(msg),
	                  allow ? MHD_HTTP_HEADER_ALLOW : NULL, "GET, HEAD");
}

/* 1 when the request announces a body (Content-Length other than 0, or any
 * Transfer-Encoding). */
static int http_has_body(struct MHD_Connection *c)
{
	const char *cl =
	        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te =
	        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);

	return te != NULL || (cl != NULL && strspn(cl, "0") != strlen(cl));
}

/* Runs one route callback and sends what it wrote. */
static enum MHD_Result http_route(struct MHD_Connection *c, int (*fn)(void *, buf *), void *arg,
                                  const char *ctype)
{
	enum MHD_Result ret;
	buf out;
	int status;

	buf_init(&out);
	status = fn(arg, &out);
	if (status < 100 || status > 599)
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	ret = http_reply(c, status, ctype, buf_used(&out) > 0 ? buf_start(&out) : "",
	                 buf_used(&out), NULL, NULL);
	buf_free(&out);
	return ret;
}

/* The client's address without its port into out ("" when unknown); an
 * IPv4-mapped IPv6 address in its IPv4 form, so one client has one key. */
static void http_peer_addr(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	out[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
		          (socklen_t)cap);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, a6, out, (socklen_t)cap);
	}
}

/* The token of an "Authorization: Bearer <token>" header (the scheme in any
 * case, RFC 6750's b64token after one or more spaces, trailing blanks
 * dropped): *tok points into the header, its length is returned; 0 when the
 * header is missing, has another scheme or is empty or oversized. */
static size_t http_bearer(struct MHD_Connection *c, const char **tok)
{
	const char *v = NULL;
	size_t n = 0, i = 6;

	if (MHD_lookup_connection_value_n(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION,
	                                  strlen(MHD_HTTP_HEADER_AUTHORIZATION), &v,
	                                  &n) != MHD_YES ||
	    v == NULL || n > BEARER_MAX || n < 8 || strncasecmp(v, "Bearer", 6) != 0 ||
	    (v[6] != ' ' && v[6] != '\t'))
		return 0;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (n > i && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	*tok = v + i;
	return n - i;
}

/* 401 with the challenge of RFC 6750: without error= when no token came. */
static enum MHD_Result http_reply_401(struct MHD_Connection *c, int missing)
{
	const char *msg = missing ? "authorization required\n" : "invalid bearer token\n";

	return http_reply(c, MHD_HTTP_UNAUTHORIZED, CT_TEXT, msg, strlen(msg),
	                  MHD_HTTP_HEADER_WWW_AUTHENTICATE,
	                  missing ? BEARER_REALM : BEARER_REALM ", error=\"invalid_token\"");
}

/* Asks the authorize callback about the request; queues the refusal and
 * returns 1 when refused (*ret holds MHD's answer), 0 to go on. The token
 * is never logged or echoed. */
static int http_refused(struct http_server *h, struct MHD_Connection *c, enum MHD_Result *ret)
{
	const http_routes *rt = &h->routes;
	const char *tok = NULL;
	size_t len;
	char addr[INET6_ADDRSTRLEN];
	int st;

	if (rt->authorize == NULL)
		return 0;
	len = http_bearer(c, &tok);
	http_peer_addr(c, addr, sizeof addr);
	st = rt->authorize(rt->arg, len > 0 ? tok : NULL, len, addr);
	if (st == 0)
		return 0;
	if (st == MHD_HTTP_TOO_MANY_REQUESTS)
		*ret = http_reply_str(
		        c, st, "too many failed attempts from this address; retry later\n", 0);
	else
		*ret = http_reply_401(c, len == 0);
	return 1;
}

/* MHD calls this once when the headers are in (*req_cls NULL), then again
 * for each piece of body and once at the end. Refusals are queued on the
 * first call, so a body is never read (MHD then closes the connection after
 * the response); answers to GET and HEAD are queued on the second. */
static enum MHD_Result http_access(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
	static int seen; /* address used as "headers already handled" marker */
	struct http_server *h = cls;
	const http_routes *rt = &h->routes;

	if (*req_cls == NULL) {
		*req_cls = &seen;
		log_debug("http", "request", LF_S("method", method), LF_S("path", url));
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return http_reply_str(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			                      "method not allowed\n", 1);
		if (http_has_body(c))
			return http_reply_str(c, MHD_HTTP_CONTENT_TOO_LARGE,
			                      "request bodies are not accepted\n", 0);
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* Unreachable with the check above; refuse rather than buffer. */
		*upload_data_size = 0;
		return http_reply_str(c, MHD_HTTP_CONTENT_TOO_LARGE,
		                      "request bodies are not accepted\n", 0);
	}
	/* url is the path alone: MHD has already split off the query string. */
	if (strcmp(url, "/metrics") == 0 && rt->metrics != NULL) {
		enum MHD_Result ret;
		if (http_refused(h, c, &ret))
			return ret;
		return http_route(c, rt->metrics, rt->arg, CT_METRICS);
	}
	if (strcmp(url, "/healthz") == 0 && rt->healthz != NULL)
		return http_route(c, rt->healthz, rt->arg, CT_JSON);
	if (strcmp(url, "/readyz") == 0 && rt->readyz != NULL)
		return http_route(c, rt->readyz, rt->arg, CT_JSON);
	return http_reply_str(c, MHD_HTTP_NOT_FOUND, "not found\n", 0);
}

/* Creates, binds and listens on one address. Returns the socket, or -errno. */
static int http_bind_one(const struct sockaddr *sa, socklen_t salen)
{
	int one = 1;
	int fd, e;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Restart while old connections sit in TIME_WAIT; a live listener on
	 * the port still makes bind fail with EADDRINUSE. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, sa, salen) != 0 || listen(fd, HTTP_BACKLOG) != 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Binds addr:port (port 0: any). "localhost" tries 127.0.0.1, then ::1 when
 * the machine has no IPv4 loopback; anything else must be a numeric literal,
 * so start-up never waits on DNS. Returns the socket, or -1 with err set. */
static int http_listen(const char *addr, int port, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	char host[INET6_ADDRSTRLEN + 64];
	char serv[8];
	const char *tries[2];
	int ntries, fd = -EADDRNOTAVAIL, rc;
	size_t n = strlen(addr);

	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']' && n - 2 < sizeof host) {
		memcpy(host, addr + 1, n - 2);
		host[n - 2] = '\0';
	} else if (n < sizeof host) {
		memcpy(host, addr, n + 1);
	} else {
		snprintf(err, errlen, "http: bind address too long");
		return -1;
	}
	if (strcasecmp(host, "localhost") == 0) {
		tries[0] = "127.0.0.1";
		tries[1] = "::1";
		ntries = 2;
	} else {
		tries[0] = host;
		ntries = 1;
	}
	snprintf(serv, sizeof serv, "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	for (int i = 0; i < ntries; i++) {
		rc = getaddrinfo(tries[i], serv, &hints, &res);
		if (rc != 0) {
			snprintf(err, errlen,
			         "http: bind address '%s' is not an IPv4 or IPv6 address or "
			         "localhost: %s",
			         addr, gai_strerror(rc));
			return -1;
		}
		fd = http_bind_one(res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
		if (fd >= 0 || (fd != -EADDRNOTAVAIL && fd != -EAFNOSUPPORT))
			break;
	}
	if (fd < 0) {
		snprintf(err, errlen, "http: cannot listen on %s port %d: %s", addr, port,
		         strerror(-fd));
		return -1;
	}
	return fd;
}

static int http_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

/* Reads a whole PEM file (at most HTTP_TLS_FILE_MAX bytes) into a
 * NUL-terminated malloc'd buffer. 0, or -1 with "what path: reason" in err. */
static int http_read_pem(const char *path, const char *what, char **out, size_t *outlen, char *err,
                         size_t errlen)
{
	char *b = NULL;
	size_t n = 0;
	int fd, e = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	b = malloc(HTTP_TLS_FILE_MAX + 2);
	while (b != NULL && n <= HTTP_TLS_FILE_MAX) {
		ssize_t r = read(fd, b + n, HTTP_TLS_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			e = r < 0 ? errno : 0;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (b == NULL || e != 0 || n > HTTP_TLS_FILE_MAX || n == 0) {
		snprintf(err, errlen, "%s %s: %s", what, path,
		         b == NULL ? "out of memory"
		         : e != 0  ? strerror(e)
		         : n == 0  ? "empty file"
		                   : "larger than 1 MiB");
		if (b != NULL)
			explicit_bzero(b, n);
		free(b);
		return -1;
	}
	b[n] = '\0';
	*out = b;
	*outlen = n;
	return 0;
}

static void http_daemon_free(struct http_daemon *hd)
{
	if (hd == NULL)
		return;
	if (hd->key != NULL)
		explicit_bzero(hd->key, hd->key_len);
	free(hd->key);
	free(hd->cert);
	free(hd);
}

/* A daemon context with tls's files read (plain HTTP when tls is NULL). */
static struct http_daemon *http_daemon_new(const http_tls *tls, char *err, size_t errlen)
{
	struct http_daemon *hd = calloc(1, sizeof *hd);

	if (hd == NULL) {
		snprintf(err, errlen, "http: out of memory");
		return NULL;
	}
	if (tls == NULL)
		return hd;
	if (tls->cert_file == NULL || tls->key_file == NULL) {
		snprintf(err, errlen,
		         "--http-tls needs --tls-cert-file and --tls-key-file "
		         "(server.tls_cert_file, server.tls_key_file)");
		free(hd);
		return NULL;
	}
	if (http_read_pem(tls->cert_file, "--tls-cert-file", &hd->cert, &hd->cert_len, err,
	                  errlen) != 0 ||
	    http_read_pem(tls->key_file, "--tls-key-file", &hd->key, &hd->key_len, err, errlen) !=
	            0) {
		http_daemon_free(hd);
		return NULL;
	}
	return hd;
}

/* Starts MHD on hd: serving fd with threads, or, with fd -1, a daemon
 * without listener or threads that only loads the certificate and key (the
 * check before a reload). The start error is left in hd->err. */
static int http_daemon_run(struct http_server *h, struct http_daemon *hd, int fd)
{
	unsigned flags = MHD_USE_ERROR_LOG;
	int tls = hd->cert != NULL;
	struct MHD_OptionItem opts[] = {
	        {MHD_OPTION_HTTPS_MEM_CERT, 0, hd->cert},
	        {MHD_OPTION_HTTPS_MEM_KEY, 0, hd->key},
	        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES},
	        {MHD_OPTION_END, 0, NULL},
	};

	if (tls)
		flags |= MHD_USE_TLS;
	hd->err[0] = '\0';
	hd->starter = pthread_self();
	atomic_store(&hd->starting, 1);
	if (fd < 0)
		hd->d = MHD_start_daemon(flags | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL,
		                         http_access, h, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log,
		                         hd, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	else
		/* MHD owns fd from here: MHD_stop_daemon closes it unless it was
		 * handed on by MHD_quiesce_daemon. */
		hd->d = MHD_start_daemon(
		        flags | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, 0,
		        NULL, NULL, http_access, h, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, hd,
		        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE,
		        (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT,
		        h->routes.max_connections ? h->routes.max_connections
		                                  : (unsigned)HTTP_MAX_CONNS,
		        MHD_OPTION_CONNECTION_TIMEOUT,
		        h->routes.timeout_s ? h->routes.timeout_s : (unsigned)HTTP_TIMEOUT_S,
		        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
		        MHD_OPTION_ARRAY, tls ? opts : opts + 3, MHD_OPTION_END);
	atomic_store(&hd->starting, 0);
	if (hd->d == NULL && hd->err[0] == '\0')
		snprintf(hd->err, sizeof hd->err, "libmicrohttpd failed");
	return hd->d != NULL ? 0 : -1;
}

/* OpenSSL's passphrase callback: encrypted keys are refused, never asked
 * for on a terminal. */
static int http_no_passphrase(char *pass, int size, int rwflag, void *u)
{
	(void)pass;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Parses hd's PEM texts with OpenSSL: one or more certificates, then an
 * unencrypted private key that matches the first. 0, or -1 with err set. */
static int http_pem_check(const struct http_daemon *hd, const http_tls *tls, char *err,
                          size_t errlen)
{
	BIO *b = BIO_new_mem_buf(hd->cert, (int)hd->cert_len);
	X509 *leaf = b != NULL ? PEM_read_bio_X509(b, NULL, http_no_passphrase, NULL) : NULL;
	EVP_PKEY *key = NULL;
	X509 *x;
	int rc = -1, nread = 1, nbegin = 0;

	if (leaf == NULL) {
		snprintf(err, errlen, "--tls-cert-file %s: no PEM certificate could be read",
		         tls->cert_file);
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, http_no_passphrase, NULL)) != NULL) {
		X509_free(x);
		nread++;
	}
	for (const char *p = hd->cert; (p = strstr(p, "-----BEGIN CERTIFICATE-----")) != NULL; p++)
		nbegin++;
	if (nread < nbegin) {
		snprintf(err, errlen,
		         "--tls-cert-file %s: a certificate after the first is malformed",
		         tls->cert_file);
		goto out;
	}
	ERR_clear_error();
	BIO_free(b);
	b = BIO_new_mem_buf(hd->key, (int)hd->key_len);
	key = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, http_no_passphrase, NULL) : NULL;
	if (key == NULL) {
		snprintf(err, errlen,
		         "--tls-key-file %s: no PEM private key could be read (an encrypted key is "
		         "not supported)",
		         tls->key_file);
		goto out;
	}
	if (X509_check_private_key(leaf, key) != 1) {
		snprintf(err, errlen,
		         "--tls-key-file %s does not match the certificate in --tls-cert-file %s",
		         tls->key_file, tls->cert_file);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(leaf);
	BIO_free(b);
	return rc;
}

/* Whether the certificate and key of hd load (and match), with OpenSSL and
 * then with GnuTLS as the serving daemon will load them. 0, or -1 with err
 * set. */
static int http_daemon_check(struct http_server *h, struct http_daemon *hd, const http_tls *tls,
                             char *err, size_t errlen)
{
	if (http_pem_check(hd, tls, err, errlen) != 0)
		return -1;
	if (http_daemon_run(h, hd, -1) != 0) {
		snprintf(err, errlen, "--tls-cert-file %s / --tls-key-file %s: %s", tls->cert_file,
		         tls->key_file, hd->err);
		return -1;
	}
	MHD_stop_daemon(hd->d);
	hd->d = NULL;
	return 0;
}

http_server *http_start(const char *bind_addr, int port, const http_routes *routes,
                        const http_tls *tls, char *err, size_t errlen)
{
	struct http_server *h;
	struct http_daemon *hd;
	int fd;

	if (bind_addr == NULL || routes == NULL || port < -1 || port > 65535) {
		snprintf(err, errlen, "http: invalid address or port %d", port);
		return NULL;
	}
	if (tls != NULL && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen,
		         "--http-tls: this libmicrohttpd was built without TLS support");
		return NULL;
	}
	h = calloc(1, sizeof *h);
	hd = h != NULL ? http_daemon_new(tls, err, errlen) : NULL;
	if (h == NULL || hd == NULL) {
		if (h == NULL)
			snprintf(err, errlen, "http: out of memory");
		free(h);
		return NULL;
	}
	h->routes = *routes;
	snprintf(h->bind, sizeof h->bind, "%s", bind_addr);
	/* A bad certificate is reported as such, before any socket exists. */
	if (tls != NULL && http_daemon_check(h, hd, tls, err, errlen) != 0) {
		http_daemon_free(hd);
		free(h);
		return NULL;
	}
	fd = http_listen(bind_addr, port < 0 ? 0 : port, err, errlen);
	if (fd < 0) {
		http_daemon_free(hd);
		free(h);
		return NULL;
	}
	h->port = http_local_port(fd);
	if (http_daemon_run(h, hd, fd) != 0) {
		/* Whether MHD closed fd on this path is not documented; leaking one
		 * descriptor on a failed start beats a double close. */
		snprintf(err, errlen, "http: cannot start the HTTP server on %s port %d: %s",
		         bind_addr, h->port, hd->err);
		http_daemon_free(hd);
		free(h);
		return NULL;
	}
	h->cur = hd;
	return h;
}

int http_port(const http_server *h)
{
	return h->port;
}

int http_is_tls(const http_server *h)
{
	return h->cur->cert != NULL;
}

int http_reload_tls(http_server *h, const http_tls *tls, char *err, size_t errlen)
{
	struct http_daemon *old = h->cur, *hd;
	MHD_socket fd;

	if (tls == NULL || old->cert == NULL) {
		snprintf(err, errlen, "--http-tls cannot be turned %s by a reload; restart minidb",
		         tls == NULL ? "off" : "on");
		return -EINVAL;
	}
	hd = http_daemon_new(tls, err, errlen);
	if (hd == NULL)
		return -EINVAL;
	if (hd->cert_len == old->cert_len && hd->key_len == old->key_len &&
	    memcmp(hd->cert, old->cert, hd->cert_len) == 0 &&
	    memcmp(hd->key, old->key, hd->key_len) == 0) {
		http_daemon_free(hd);
		return 0;
	}
	if (http_daemon_check(h, hd, tls, err, errlen) != 0) {
		http_daemon_free(hd);
		return -EINVAL;
	}
	/* From here the old daemon accepts nothing; connections that arrive
	 * wait in the listen backlog for the new one. */
	fd = MHD_quiesce_daemon(old->d);
	if (fd == MHD_INVALID_SOCKET) {
		snprintf(err, errlen, "http: cannot take over the listening socket");
		http_daemon_free(hd);
		return -EIO;
	}
	if (http_daemon_run(h, hd, fd) == 0) {
		MHD_stop_daemon(old->d);
		http_daemon_free(old);
		h->cur = hd;
		return 1;
	}
	snprintf(err, errlen, "http: the new certificate loaded but the server did not start: %s",
	         hd->err);
	http_daemon_free(hd);
	/* Serve the old files again on a fresh daemon; the quiesced one cannot
	 * listen again. */
	hd = calloc(1, sizeof *hd);
	if (hd != NULL) {
		hd->cert = old->cert;
		hd->key = old->key;
		hd->cert_len = old->cert_len;
		hd->key_len = old->key_len;
		if (http_daemon_run(h, hd, fd) == 0) {
			old->cert = old->key = NULL;
			MHD_stop_daemon(old->d);
			http_daemon_free(old);
			h->cur = hd;
			return -EIO;
		}
		free(hd);
	}
	log_error("http",
	          "the HTTPS endpoint is down after a failed certificate reload; restart "
	          "minidb",
	          LF_I("port", h->port));
	return -EIO;
}

void http_stop(http_server *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->cur->d);
	http_daemon_free(h->cur);
	free(h);
}
