/* http.h - the observability HTTP endpoint (/metrics, /healthz, /readyz) over
 * libmicrohttpd, running on its own small thread pool beside the workers.
 *
 * The module knows nothing about what the routes report: the caller gives
 * one callback per route, called on an HTTP thread (never a worker), which
 * fills a buf and returns the status. Only GET and HEAD are served; other
 * methods get 405 with an Allow header, unknown paths 404, request bodies 413.
 * Error convention: http_start returns NULL with a one-line message in err;
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
} http_routes;

/* Binds bind_addr (an IPv4 or IPv6 literal, brackets allowed, or "localhost",
 * which prefers 127.0.0.1) on port (1..65535; -1 or 0: any free port), then
 * serves until http_stop. routes is copied. Returns NULL with a message in err
 * naming the address and the reason (e.g. "Address already in use"). */
http_server *http_start(const char *bind_addr, int port, const http_routes *routes, char *err,
                        size_t errlen);

/* The bound port (the real one when port -1 was asked). */
int http_port(const http_server *h);

/* Closes the listener and every connection, waits for a callback in progress
 * to return, joins the threads and frees h. NULL is a no-op. */
void http_stop(http_server *h);

#endif
