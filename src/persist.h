/* persist.h - durability of the keyspace: recovery at start-up and the
 * write-ahead log behind every change.
 *
 * The store describes each change to its journal (store_set_journal) under
 * the shard lock; persist turns it into WAL records (wal.h), so the log holds
 * the changes of a key in the order they were made. persist_load replays the
 * log into the empty store, then opens a new segment and attaches the
 * journal; until then persist_loading() is 1 and commands without
 * CMD_LOADING are refused with -LOADING, as Redis does.
 *
 * Acknowledgement: a connection holds the replies of a write (and of every
 * command after it in the same batch) until persist_ack_seq() passes
 * persist_thread_seq() as it was after the write (conn.c). At the end of its
 * loop turn the worker writes the records itself (persist_flush), so under
 * everysec and no the replies leave in the same turn, after write(2), as
 * Redis's do; under always they wait for the WAL's syncer thread, which
 * calls the notify function when the durable sequence advances, so the
 * workers' loops wake and send.
 *
 * Threads: persist_load runs on one thread (main) while workers serve
 * -LOADING; the query functions are safe from any thread.
 */
#ifndef MINIDB_PERSIST_H
#define MINIDB_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "snapshot.h"
#include "store.h"
#include "wal.h"

typedef struct persist persist_t;

/* Does no I/O. NULL when out of memory. */
persist_t *persist_create(const config *cfg, store_t *st);

/* fn(arg) is called on the WAL syncer thread whenever the durable sequence
 * or the error state changes (must not block). Call before persist_load. */
void persist_set_notify(persist_t *p, wal_notify_fn fn, void *arg);

/* Loads the newest good snapshot of cfg->data_dir (snapshot.h), replays the
 * WAL after its seq into the store, opens the next segment, attaches the
 * journal and starts the snapshot scheduler; logs the recovery figures. stop (may be NULL)
 * is polled every 64k records; when it returns non-zero, loading ends with
 * -ECANCELED. Returns 0 or a negative errno with a message in err (a
 * damaged log names its file and byte offset). */
int persist_load(persist_t *p, int (*stop)(void), char *err, size_t errlen);

/* 1 until persist_load succeeded. */
int persist_loading(const persist_t *p);

/* 1 when replies to writes wait for their fsync (--fsync always). */
int persist_holds_replies(const persist_t *p);

/* Writes the WAL records this thread appended since its last call (with
 * those of other threads), on this thread: workers call it at the end of
 * each loop turn, before sending replies. No-op if it appended nothing. */
void persist_flush(persist_t *p);

/* The sequence number up to which writes may be acknowledged: durable
 * (fsynced) under --fsync always, written (in the kernel) otherwise. */
uint64_t persist_ack_seq(const persist_t *p);

/* The highest sequence number a write (not an expiry or eviction) made by
 * the calling thread was given; 0 before the first. */
uint64_t persist_thread_seq(void);

/* Highest sequence number known durable. */
uint64_t persist_durable_seq(const persist_t *p);

/* 0, or the errno that currently stops the WAL from being written (new
 * writes are refused with it; see store_strerror(STORE_EJOURNAL)). */
int persist_write_error(const persist_t *p);

/* INFO persistence figures. */
typedef struct persist_info {
	int loading;
	int fsync_policy;
	int write_error;         /* errno or 0 */
	uint64_t durable_seq;    /* highest fsynced (or, under no, written) */
	uint64_t last_seq;       /* highest appended */
	uint64_t records_loaded; /* by the last recovery */
	uint64_t load_ms;        /* duration of the last recovery */
	uint64_t lost_journal;   /* expiries/evictions that could not be logged */
	wal_stats wal;
	snapshot_info snap; /* zero while loading */
} persist_info;
void persist_info_get(const persist_t *p, persist_info *out);

/* The WAL's fdatasync histogram (empty while loading or without a WAL). */
struct mx_bounds;
struct mx_hist_snap;
const struct mx_bounds *persist_fsync_bounds(void);
void persist_fsync_histogram(persist_t *p, struct mx_hist_snap *out);

/* SAVE (the keyspace frozen while it is written, in the calling thread),
 * BGSAVE (in a forked child; 0 once started) or BGSAVE SCHEDULE (as BGSAVE,
 * or 1 when one is running and another will follow it). 0, 1, or -errno
 * with a message (see snapshot.h). */
enum { PERSIST_SAVE = 0, PERSIST_BGSAVE = 1, PERSIST_BGSAVE_SCHEDULE = 2 };
int persist_save(persist_t *p, int mode, char *err, size_t errlen);

/* SHUTDOWN SAVE (1) / NOSAVE (0) / neither (-1: --snapshot-on-shutdown)
 * for the closing snapshot of persist_close. */
void persist_set_shutdown_save(persist_t *p, int save);

/* Stops the snapshot scheduler (killing a running child) and writes the
 * closing snapshot (--snapshot-on-shutdown), then detaches the journal, flushes and fsyncs
 * everything appended and closes the log (the workers must have stopped). Returns 0, or -errno when
 * records could not be made durable (logged). Idempotent. */
int persist_close(persist_t *p);

/* persist_close, then frees p. NULL is a no-op. */
void persist_free(persist_t *p);

#endif
