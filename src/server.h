/* server.h - listeners, worker threads, accept, graceful shutdown.
 *
 * server_start binds the client port, starts cfg->threads workers (each one
 * thread running its own loop) and returns; server_shutdown asks every worker
 * to stop accepting, finish what is in flight and close; server_wait joins.
 * Error convention: 0 or a negative errno; a message is logged.
 */
#ifndef MINIDB_SERVER_H
#define MINIDB_SERVER_H

#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "store.h"

typedef struct server server_t;
struct persist;

/* persist may be NULL (no loading state, no WAL: the unit tests). */
server_t *server_create(const config *cfg, store_t *store, struct persist *persist);
void server_free(server_t *s);

/* The workers' connection contexts (for their metrics; read-only, any
 * thread: their counters are relaxed single-writer atomics). */
struct conn_worker;
size_t server_conn_workers(server_t *s, const struct conn_worker **out, size_t cap);

/* Liveness for /healthz: 1 when every worker finished a loop turn within
 * max_age_ms (each turns at least every 100 ms: the expiry timer), else 0
 * with the stuck worker named in why. */
int server_alive(server_t *s, uint64_t max_age_ms, char *why, size_t whylen);

/* Credentials every worker checks (before server_start; NULL, the default:
 * authentication off). The server does not own sec. */
struct security;
void server_set_security(server_t *s, struct security *sec);

/* Builds the TLS context when cfg asks for TLS (--tls: the client port
 * speaks TLS only; --tls-port: a second, TLS-only port), binds and listens,
 * logs {"msg":"listening","bind":...,"port":...,"tls":false} with the actual
 * port (useful with port 0) and, for --tls-port, a second line
 * {"msg":"listening","listener":"tls","port":...,"tls":true}, and starts the
 * workers. Refuses (-EINVAL, logged) a TLS setup without a usable
 * certificate and key. --max-clients counts the connections of both ports. */
int server_start(server_t *s);

/* The slow-command ring (slowlog.h) that the workers fill. */
struct slowlog;
struct slowlog *server_slowlog(server_t *s);

/* The bound client port (after server_start). */
int server_port(const server_t *s);

/* The port that speaks TLS: the --tls-port listener, else the client port
 * under --tls, else -1. */
int server_tls_port(const server_t *s);

/* Builds a new TLS context from cfg (certificate, key, CAs, ciphers) and
 * swaps it in: new connections use it, live ones keep theirs. Any thread.
 * Returns 0 (also when TLS is off in both the server and cfg), -EINVAL with
 * a message in err when cfg's files are unusable (the old context stays),
 * -ENOTSUP when TLS was off at start. cfg need not outlive the call. */
int server_tls_reload(server_t *s, const config *cfg, char *err, size_t errlen);

/* Asks every worker (on its own thread, through its loop's wake-up) to
 * re-check its connections' credentials after a security reload
 * (conn_worker_revalidate). Any thread; returns at once. */
void server_revalidate_all(server_t *s);

/* Server-wide figures for INFO, summed over the workers' single-writer
 * counters at the time of the call (thread-safe, not one atomic snapshot). */
typedef struct server_info {
	int port;
	int threads;
	int64_t start_ms; /* Unix ms */
	uint64_t connected_clients;
	uint64_t total_connections_received;
	uint64_t rejected_connections; /* max_clients (Redis's INFO field) */
	uint64_t rejected_tls_handshake;
	uint64_t rejected_tls_timeout;
	uint64_t rejected_tls_on_plaintext;
	uint64_t total_commands_processed;
	uint64_t total_net_input_bytes;
	uint64_t total_net_output_bytes;
	uint64_t keyspace_hits;
	uint64_t keyspace_misses;
} server_info;
void server_info_get(server_t *s, server_info *out);

/* Appends one CLIENT LIST line ("id=... addr=... \n") per connection of every
 * worker (only the client with that id when only_id != 0) to out. Takes each
 * worker's client lock in turn. Returns 0 or -ENOMEM. */
int server_client_list(server_t *s, buf *out, uint64_t only_id);

/* Wakes every worker's loop (any thread; a wal_notify_fn for the WAL's
 * writer thread, so held replies are released). arg is the server. */
void server_wake_all(void *arg);

/* Async-signal-safe: asks all workers to drain and stop. */
void server_shutdown(server_t *s);

/* Joins the workers. Returns 0 when they all stopped cleanly. */
int server_wait(server_t *s);

#endif
