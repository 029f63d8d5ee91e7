/* http.c - the observability HTTP endpoint over libmicrohttpd (MHD).
 *
 * MHD does all of HTTP (parsing, keep-alive, limits, timeouts); this file
 * binds the listener itself (so port -1 and a busy port give a clear answer
 * before any thread starts), hands it to MHD, and maps three paths to the
 * caller's callbacks. MHD runs a pool of HTTP_THREADS epoll threads: a slow
 * callback holds one of them, and the others go on accepting, so /healthz
 * answers while a scrape is being built. One thread per connection was the
 * rejected alternative: it isolates better but lets 64 clients make 64 threads.
 * Nothing here touches the server's workers or takes their locks.
 */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"

#define HTTP_THREADS     4
#define HTTP_MAX_CONNS   64
#define HTTP_TIMEOUT_S   10
#define HTTP_CONN_MEMORY (32 * 1024) /* per connection: request line and headers */
#define HTTP_BACKLOG     64
#define CT_METRICS       "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON          "application/json"
#define CT_TEXT          "text/plain; charset=utf-8"

struct http_server {
	struct MHD_Daemon *daemon;
	http_routes routes;
	int port;
	atomic_int starting; /* 1 while MHD_start_daemon runs: its errors go to start_err */
	char start_err[200]; /* written only while starting (by the starting thread) */
};

/* MHD's error log. During start-up the message becomes part of http_start's
 * error; afterwards it is mostly a hostile or broken client ("malformed
 * header line"), so it goes out at debug level, where a flood costs nothing. */
__attribute__((format(printf, 2, 0))) static void http_mhd_log(void *cls, const char *fmt,
                                                               va_list ap)
{
	struct http_server *h = cls;
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (atomic_load(&h->starting))
		snprintf(h->start_err, sizeof h->start_err, "%s", msg);
	else
		log_debug("http", "libmicrohttpd", LF_S("error", msg));
}

/* Queues one response. The body is copied; HEAD bodies are dropped by MHD
 * (which keeps the Content-Length). */
static enum MHD_Result http_reply(struct MHD_Connection *c, int status, const char *ctype,
                                  const char *body, size_t len, int allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO; /* out of memory: MHD closes the connection */
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
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
	return http_reply(c, status, CT_TEXT, msg, strlen(msg), allow);
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
	                 buf_used(&out), 0);
	buf_free(&out);
	return ret;
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
	if (strcmp(url, "/metrics") == 0 && rt->metrics != NULL)
		return http_route(c, rt->metrics, rt->arg, CT_METRICS);
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

http_server *http_start(const char *bind_addr, int port, const http_routes *routes, char *err,
                        size_t errlen)
{
	struct http_server *h;
	int fd;

	if (bind_addr == NULL || routes == NULL || port < -1 || port > 65535) {
		snprintf(err, errlen, "http: invalid address or port %d", port);
		return NULL;
	}
	h = calloc(1, sizeof *h);
	if (h == NULL) {
		snprintf(err, errlen, "http: out of memory");
		return NULL;
	}
	h->routes = *routes;
	fd = http_listen(bind_addr, port < 0 ? 0 : port, err, errlen);
	if (fd < 0) {
		free(h);
		return NULL;
	}
	h->port = http_local_port(fd);
	atomic_store(&h->starting, 1);
	/* MHD owns fd from here: MHD_stop_daemon closes it. */
	h->daemon = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
	        0, NULL, NULL, http_access, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT,
	        (unsigned)HTTP_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h, MHD_OPTION_END);
	atomic_store(&h->starting, 0);
	if (h->daemon == NULL) {
		/* Whether MHD closed fd on this path is not documented; leaking one
		 * descriptor on a failed start beats a double close. */
		snprintf(err, errlen, "http: cannot start the HTTP server on %s port %d: %s",
		         bind_addr, h->port,
		         h->start_err[0] ? h->start_err : "libmicrohttpd failed");
		free(h);
		return NULL;
	}
	return h;
}

int http_port(const http_server *h)
{
	return h->port;
}

void http_stop(http_server *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}
