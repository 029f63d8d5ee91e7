/* server.h - listeners, worker threads, accept, graceful shutdown.
 *
 * server_start binds the client port, starts cfg->threads workers (each one
 * thread running its own loop) and returns; server_shutdown asks every worker
 * to stop accepting, finish what is in flight and close; server_wait joins.
 * Error convention: 0 or a negative errno; a message is logged.
 */
#ifndef MINIDB_SERVER_H
#define MINIDB_SERVER_H

#include "config.h"
#include "store.h"

typedef struct server server_t;

server_t *server_create(const config *cfg, store_t *store);
void server_free(server_t *s);

/* Binds and listens, logs {"msg":"listening","bind":...,"port":...} with the
 * actual port (useful with port 0), and starts the workers. */
int server_start(server_t *s);

/* The bound port (after server_start). */
int server_port(const server_t *s);

/* Async-signal-safe: asks all workers to drain and stop. */
void server_shutdown(server_t *s);

/* Joins the workers. Returns 0 when they all stopped cleanly. */
int server_wait(server_t *s);

#endif
