/* conn.h - client connections: buffers, framing, execution, flushing, limits.
 *
 * A connection belongs to exactly one worker (one thread, one loop) for its
 * whole life; nothing in it is shared. The worker context below is what a
 * connection needs from its thread; server.c creates one per worker thread.
 * A connection's transport is plain TCP or TLS (tls.h), chosen at creation;
 * a TLS handshake runs in the same loop, never on a thread of its own.
 */
#ifndef MINIDB_CONN_H
#define MINIDB_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "command.h"
#include "config.h"
#include "loop.h"
#include "metrics.h"
#include "reply.h"
#include "store.h"

typedef struct conn conn;

/* Per-thread counters, read by other threads only as relaxed loads. */
typedef struct conn_stats {
	_Atomic uint64_t commands;
	_Atomic uint64_t accepted;
	_Atomic uint64_t rejected_maxclients;
	/* Connections refused for what they sent before any command: a TLS
	 * handshake that failed (plaintext on a TLS port included) or timed out,
	 * and a TLS ClientHello on a plaintext port. */
	_Atomic uint64_t rejected_tls_handshake;
	_Atomic uint64_t rejected_tls_timeout;
	_Atomic uint64_t rejected_tls_on_plaintext;
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t bytes_out;
} conn_stats;

/* Per-command figures of one worker (single writer: its thread), summed
 * over the workers at scrape time (observe.c). Indexed like the command
 * table (command_table_get). */
typedef struct cmd_metric {
	mx_hist duration;                   /* conn_request_bounds(); its count is the calls */
	mx_counter errors[REPLY_ERR_COUNT]; /* by REPLY_ERR_* */
} cmd_metric;

/* The request_duration_seconds buckets (built once; thread-safe). */
const mx_bounds *conn_request_bounds(void);

struct conn_worker;
/* Command i of the command table, summed over the workers ws[0..nw): its
 * durations into hist (cleared first; its count is the calls) and its
 * errors by REPLY_ERR_* into errors. All zero when the workers keep no
 * per-command figures (no timing: --http-port 0 --slowlog-ms=-1). Any
 * thread: relaxed loads of single-writer counters. */
void conn_command_stats(const struct conn_worker *const *ws, size_t nw, size_t i,
                        mx_hist_snap *hist, uint64_t errors[REPLY_ERR_COUNT]);

typedef struct conn_worker {
	int id;
	loop_t *loop;
	store_t *store;
	const config *cfg;
	atomic_int *nclients;      /* shared by all workers: current connections */
	_Atomic uint64_t *next_id; /* shared: client ids */
	struct server *srv;        /* for server-wide commands (INFO, CLIENT LIST) */
	struct persist *persist;   /* loading state and the WAL; NULL: no durability */
	struct security *sec;      /* credentials; NULL: authentication off */
	int hold_writes;           /* replies to writes wait for the WAL (persist_ack_seq) */
	size_t out_check;          /* output above this is checked against the limits (set by
	                            * conn_worker_init from cfg: the smaller nonzero one) */
	/* Guards `all` (membership) and client names against other threads'
	 * CLIENT LIST. Taken by the owning thread only to link, unlink or rename,
	 * never on the request path. */
	pthread_mutex_t clients_lock;
	conn *all; /* every open connection of this worker */
	size_t nconns;
	conn *flush;   /* connections with output or input pending this turn */
	conn *held;    /* connections whose replies wait for the WAL (hold_writes) */
	conn *garbage; /* closed connections, freed at the end of the turn */
	int draining;  /* shutting down: finish in-flight work, then close */
	conn_stats stats;
	cmd_stats cstats;
	/* Request timing: one clock read per command when any of the metrics,
	 * the slow log or request logging wants it (timing is 0 otherwise). */
	int timing;
	uint64_t slow_ns;     /* --slowlog-ms in ns; UINT64_MAX when off */
	int log_requests;     /* --log-requests */
	struct slowlog *slow; /* the server's SLOWLOG ring */
	/* Per-command figures (NULL without timing): /metrics, INFO commandstats. */
	cmd_metric *cmetrics;
	size_t ncmetrics;
	const command *cmd_base; /* command_table_get(): cmetrics' index origin */
	uint64_t t_last_ns;      /* end of the last command timed (monotonic ns) */
	mx_counter unknown_cmds; /* requests naming no command */
	mx_counter unknown_errors[REPLY_ERR_COUNT]; /* their errors */
} conn_worker;

/* Initialises the parts of w that conn.c owns (lock, lists, counters);
 * w->cfg must be set. */
int conn_worker_init(conn_worker *w);
void conn_worker_destroy(conn_worker *w);

/* Appends every client of w (or only client only_id when not 0) in CLIENT
 * LIST format to out, under w's client lock. Returns 0 or -ENOMEM. */
int conn_worker_client_list(conn_worker *w, buf *out, uint64_t only_id);

/* Appends the CLIENT LIST/CLIENT INFO line of one client ("id=7 addr=...
 * resp=2 lib-name= lib-ver=\n", Redis's field names and order) to out.
 * The caller holds the client's worker lock, or is the client's own thread.
 * Returns 0 or -ENOMEM. */
int conn_client_format(const cmd_client *cl, buf *out);

/* Takes ownership of a connected, non-blocking socket and starts serving it:
 * over TLS when tls is not NULL (the handshake first, bounded by
 * cfg->handshake_timeout; the connection takes its own reference to tls, the
 * caller keeps its own), else in plaintext (a TLS ClientHello there is
 * refused). Returns 0, or a negative errno (the fd is closed). */
struct ssl_ctx_st;
int conn_create(conn_worker *w, int fd, struct ssl_ctx_st *tls);

/* Re-checks the credentials of every connection of w checked against an
 * older security generation (security_client_revalidate) and closes, with a
 * log line, those no longer allowed. On w's thread. */
void conn_worker_revalidate(conn_worker *w);

/* Runs at the end of each loop turn: releases replies whose WAL records
 * became durable (or fails them if the WAL cannot be written), resumes
 * paused input, writes each connection's output once, frees closed
 * connections. */
void conn_worker_before_sleep(conn_worker *w);

/* Begins a graceful shutdown of every connection of w: read what has
 * arrived, answer every complete command, flush, close. */
void conn_worker_drain(conn_worker *w);

/* Closes every connection at once (shutdown deadline). */
void conn_worker_close_all(conn_worker *w);

#endif
