/* snapshot.h - Parquet snapshots of the keyspace: writing them (SAVE in the
 * foreground, BGSAVE and timed snapshots in a forked child), loading the
 * newest good one at start-up, and removing what a durable snapshot makes
 * redundant (older snapshots, WAL segments).
 *
 * Files in the data dir:
 *   snapshot-<seq, 20 digits>.parquet  every change up to WAL seq <seq>;
 *                                      footer key "minidb.seq" says the same
 *   .tmp-snapshot-...                  being written (removed at start-up)
 *   storage.file_path                  a hard link to (or copy of) the newest
 * The Parquet layout is parquet/writer.h's: key, value, expires_at.
 *
 * Error convention: functions return 0 or a negative errno with a one-line
 * message in err. Threads: snapshot_load runs before the server serves;
 * snapshot_save, snapshot_bgsave and snapshot_info_get may be called from
 * any worker; one scheduler thread (snapshot_start) runs timed snapshots and
 * waits for the children.
 */
#ifndef MINIDB_SNAPSHOT_H
#define MINIDB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

typedef struct snapshot snapshot_t;

/* What the scheduler needs from the log. last_seq is called with every
 * shard lock held (store_lock_all), so no change is in flight: it must
 * return the seq of the last change made, and take no shard lock. */
typedef struct snapshot_hooks {
	uint64_t (*last_seq)(void *arg);
	uint64_t (*wal_bytes)(void *arg); /* WAL bytes written so far; NULL: no trigger */
	void *arg;
} snapshot_hooks;

/* No I/O. NULL when out of memory. */
snapshot_t *snapshot_create(const config *cfg, store_t *st);

/* Loads the newest snapshot of cfg->data_dir whose footer, page checksums
 * and rows verify into the empty store (expiry must be paused); a damaged
 * one is logged, renamed aside (<name>.damaged, so it no longer counts as a
 * snapshot to keep) and the previous one tried, the store emptied in
 * between. A row the store refuses (over --max-key-bytes/--max-value-bytes)
 * is not damage: loading stops with -EFBIG naming the limit.
 * Without any snapshot, storage.file_path (if it exists: a file from the
 * original Mini DB or from minidb-parquet) is loaded as seq 0. Removes stale
 * temporary files first. *seq gets the loaded snapshot's seq (0: none),
 * *damaged the number of snapshots that failed to load. stop (may be NULL)
 * is polled every 64k rows (-ECANCELED). */
int snapshot_load(snapshot_t *s, int (*stop)(void), uint64_t *seq, int *damaged, char *err,
                  size_t errlen);

/* Starts the scheduler thread (timed and WAL-size triggered BGSAVEs).
 * loaded_seq is what snapshot_load returned. */
int snapshot_start(snapshot_t *s, const snapshot_hooks *h, uint64_t loaded_seq, char *err,
                   size_t errlen);

/* Asks the scheduler for a background snapshot now. 0 when it was started;
 * when one is already running (or asked for): 1 with schedule (another
 * follows it), else -EINPROGRESS. */
int snapshot_bgsave(snapshot_t *s, bool schedule, char *err, size_t errlen);

/* Writes a snapshot in the calling thread with every shard lock held for
 * the duration (the keyspace is frozen, as Redis's SAVE blocks); returns
 * once it is durable and older files are cleaned up. -EBUSY while a
 * background snapshot runs. */
int snapshot_save(snapshot_t *s, char *err, size_t errlen);

typedef struct snapshot_info {
	bool in_progress;
	int64_t last_save_time;   /* Unix seconds of the last success (or start-up) */
	bool last_ok;             /* the last attempt succeeded (true before any) */
	int64_t last_duration_ms; /* of the last success; -1 none */
	int64_t current_start_ms; /* Unix ms the running one began; 0 none */
	uint64_t last_seq;        /* seq the newest snapshot holds */
	uint64_t last_bytes;      /* its size */
	uint64_t last_rows;       /* its rows */
	uint64_t saves, failures; /* since start-up */
	uint64_t wal_segments_removed;
	char last_error[160]; /* "" when the last attempt succeeded */
} snapshot_info;

void snapshot_info_get(snapshot_t *s, snapshot_info *out);

/* Stops the scheduler and kills a running child (its temp file removed);
 * then, when save and something changed since the newest snapshot (needs
 * the hooks: after snapshot_start), writes one in the foreground. The
 * workers must have stopped. Idempotent. 0 or -errno (logged). */
int snapshot_shutdown(snapshot_t *s, bool save);

/* snapshot_shutdown(s, false), then frees s. NULL is a no-op. */
void snapshot_free(snapshot_t *s);

/* "snapshot-<20 digits>.parquet" into buf; returns buf. */
char *snapshot_file_name(char *buf, size_t n, uint64_t seq);
/* 0 and *seq when name is a snapshot file name, else -EINVAL. */
int snapshot_parse_name(const char *name, uint64_t *seq);

#endif
