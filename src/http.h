/* http.h - the observability HTTP endpoint (/metrics, /healthz, /readyz) over
 * libmicrohttpd, running on its own small thread pool beside the workers.
 *
 * The module knows nothing about what the routes report: the caller gives
 * one callback per route, called on an HTTP thread (never a worker), which
 * fills a buf and returns the status. Only GET and HEAD are served; other
 * methods get 405 with an Allow header, unknown paths 404, request bodies 413.
 * Optionally the endpoint speaks HTTPS only (TLS 1.2 and 1.3, GnuTLS inside
 * libmicrohttpd) and /metrics asks for "Authorization: Bearer <token>",
 * which the caller's authorize callback judges; /healthz and /readyz stay
 * open for orchestrator probes.
 * Error convention: http_start returns NULL and http_reload_tls a negative
 * errno, both with a one-line message in err that never holds key material;
 * the other calls cannot fail.
 */
#ifndef MINIDB_HTTP_H
#define MINIDB_HTTP_H

#include <stddef.h>

#include "buf.h"

typedef struct http_server http_server;

typedef struct http_routes {
	/* Each fills out (empty on entry) and returns the HTTP status (a status
	 * outside 100..599 is sent as 500). Called concurrently from several
	 * HTTP threads; a NULL callback makes its path 404. */
	int (*metrics)(void *arg, buf *out); /* text exposition */
	int (*healthz)(void *arg, buf *out); /* JSON */
	int (*readyz)(void *arg, buf *out);  /* JSON */
	void *arg;
	/* NULL: /metrics is open. Otherwise called (any HTTP thread) for every
	 * /metrics request with the bearer token (len bytes, not NUL-terminated;
	 * NULL and 0 when the request has no "Authorization: Bearer" header)
	 * and the client's address without its port ("127.0.0.1", "::1"; an
	 * IPv4-mapped address in its IPv4 form). Returns 0 to serve the
	 * request, or the refusal's status: 401 (sent with WWW-Authenticate:
	 * Bearer realm="minidb") or 429 (too many failures from the address). */
	int (*authorize)(void *arg, const char *token, size_t len, const char *addr);
	/* Limits (0: the defaults, 64 connections and 10 s). A client over
	 * max_connections is refused at accept; one idle for timeout_s seconds,
	 * or that takes longer to send its request, is closed. */
	unsigned max_connections;
	unsigned timeout_s;
} http_routes;

/* HTTPS: PEM files, read when the server starts and on http_reload_tls. */
typedef struct http_tls {
	const char *cert_file; /* the certificate chain, leaf first */
	const char *key_file;  /* its private key, unencrypted */
} http_tls;

/* The largest certificate or key file accepted. */
#define HTTP_TLS_FILE_MAX (1024 * 1024)

/* Binds bind_addr (an IPv4 or IPv6 literal, brackets allowed, or "localhost",
 * which prefers 127.0.0.1) on port (1..65535; -1 or 0: any free port), then
 * serves until http_stop: plain HTTP when tls is NULL, HTTPS with tls's
 * files otherwise. routes is copied, tls is not kept. Returns NULL with a
 * message in err naming the address and the reason (e.g. "Address already
 * in use"), or the file and what is wrong with it. */
http_server *http_start(const char *bind_addr, int port, const http_routes *routes,
                        const http_tls *tls, char *err, size_t errlen);

/* Whether h serves HTTPS. */
int http_is_tls(const http_server *h);

/* Reads tls's files again and, when they differ from those being served,
 * serves them: checked first (a bad pair changes nothing), then a new
 * libmicrohttpd daemon takes over the same listening socket (no moment
 * without a listener) and the old one is stopped, which cuts any request in
 * progress. Call from the thread that started h, never concurrently with
 * http_stop. Returns 1 (now serving the new files), 0 (unchanged), or a
 * negative errno with err set: -EINVAL (h is plain HTTP or tls is NULL: that
 * needs a restart; a file is unreadable or not a matching PEM pair), -EIO
 * (the new daemon did not start; the old files are served again). */
int http_reload_tls(http_server *h, const http_tls *tls, char *err, size_t errlen);

/* The bound port (the real one when port -1 was asked). */
int http_port(const http_server *h);

/* Closes the listener and every connection, waits for a callback in progress
 * to return, joins the threads and frees h. NULL is a no-op. */
void http_stop(http_server *h);

#endif
