/* observe.h - the HTTP endpoint's content: the /metrics exposition and the
 * /healthz and /readyz answers (http_routes callbacks; any thread).
 */
#ifndef MINIDB_OBSERVE_H
#define MINIDB_OBSERVE_H

#include <stddef.h>

#include "buf.h"

struct server;
struct store;
struct persist;
struct security;

typedef struct observe observe_t;

/* persist and sec may be NULL. NULL only when out of memory. */
observe_t *observe_create(struct server *srv, struct store *store, struct persist *persist,
                          struct security *sec);
void observe_free(observe_t *o);

/* http_routes callbacks (arg: the observe_t). Return the HTTP status. */
int observe_metrics(void *arg, buf *out);
int observe_healthz(void *arg, buf *out); /* 200, or 503 when a worker loop is stuck */
int observe_readyz(void *arg, buf *out);  /* 200, or 503 loading / WAL / snapshot failed */

/* http_routes.authorize under --http-auth: 0 when token is a credential the
 * client port accepts (security_check_bearer), else 401, or 429 while addr
 * is in AUTH's backoff; each refusal counts in
 * minidb_http_auth_failures_total. */
int observe_authorize(void *arg, const char *token, size_t len, const char *addr);

#endif
