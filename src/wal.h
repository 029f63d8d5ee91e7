/* wal.h - write-ahead log: writes by the appending threads, group-committed
 * fsyncs on a syncer thread, and recovery.
 *
 * Error convention: int-returning functions return 0 or a negative errno
 * (wal_append: -EINVAL for a record the format cannot hold, or the sticky
 * I/O error; wal_wait_durable: -ETIMEDOUT or the sticky error; wal_recover:
 * -EBADMSG for a damaged log, -errno for I/O, with text in err).
 *
 * Threads: wal_append, wal_durable_seq, wal_written_seq, wal_error,
 * wal_wait_durable and wal_stats_get may be called from any thread at once.
 * wal_set_notify before the first append; wal_shutdown/wal_close from one
 * thread once appends have stopped.
 */
#ifndef MINIDB_WAL_H
#define MINIDB_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "wal_format.h"

enum { WAL_FSYNC_ALWAYS = 0, WAL_FSYNC_EVERYSEC = 1, WAL_FSYNC_NO = 2 };

#define WAL_PREALLOC_NONE SIZE_MAX

typedef struct wal_options {
	const char *dir;
	int fsync_policy;       /* WAL_FSYNC_* */
	uint64_t segment_bytes; /* rotate once a segment reaches it; 0 = 64 MiB */
	uint64_t next_seq;      /* first seq to assign (recovery's last_seq + 1); 0 = 1 */
	size_t max_record;      /* largest encoded record accepted; 0 = 64 MiB + 1 MiB */
	size_t max_pending;     /* bytes appended but not yet durable before appenders
	                           wait; 0 = 64 MiB */
	size_t prealloc;        /* the file is reserved (zero-filled) ahead of the writes
	                           in steps of this many bytes, so that most fdatasyncs
	                           need no inode update; 0 = 1 MiB, WAL_PREALLOC_NONE =
	                           grow with each write */
} wal_options;

typedef struct wal wal_t;

/* Called on the syncer thread, with no WAL lock held, after written_seq or
 * durable_seq advanced or the error state changed. Must not block. */
typedef void (*wal_notify_fn)(void *arg);

typedef struct wal_stats {
	uint64_t appends; /* wal_append calls that succeeded */
	uint64_t records;
	uint64_t writes; /* batches written (one pwrite(2) each unless short) */
	uint64_t fsyncs; /* fdatasync calls that succeeded (not counting segment creation) */
	uint64_t bytes;  /* record bytes written (retries count again) */
	uint64_t segments_created;
	uint64_t errors; /* failed write/fsync/truncate/rotate attempts */
} wal_stats;

/* Creates segment wal-<next_seq>.log in opt->dir (header, fsync, directory
 * fsync) and starts the syncer thread. A header-only (or shorter) file of that
 * name, left by a crash right after a rotation, is replaced. Returns NULL with
 * a message in err on failure. */
wal_t *wal_open(const wal_options *opt, char *err, size_t errlen);

void wal_set_notify(wal_t *w, wal_notify_fn fn, void *arg);

/* fn is told the duration of each successful fdatasync of the log, with
 * the WAL's sync lock held (so calls never overlap). For metrics. */
void wal_set_fsync_hook(wal_t *w, void (*fn)(void *arg, uint64_t ns), void *arg);

/* Assigns n consecutive sequence numbers to recs (their seq fields are
 * ignored), encodes them into the pending buffer and wakes the writer; no
 * file I/O on the caller's thread. *last_seq (may be NULL) gets the seq of
 * the last record. Waits while more than max_pending bytes are not yet
 * durable. The batch is all or nothing, in memory and on disk: the flags of
 * recs are ignored, WAL_FLAG_MORE is set on every record but the last, the
 * batch never spans two segments, and recovery replays it whole or not at
 * all. Returns 0, -EINVAL, -ESHUTDOWN after shutdown, or the sticky error
 * (nothing is accepted while it is set). */
int wal_append(wal_t *w, const wal_record *recs, size_t n, uint64_t *last_seq);

/* Writes everything appended so far, by any thread, on the calling thread
 * (waiting for a write another thread has begun), and under ALWAYS asks the
 * syncer for the fsync; when it returns 0, every record this thread appended
 * before the call is in the file (wal_written_seq), unless the open segment
 * is full (the syncer then begins the next one and writes them). The server
 * calls it once per loop turn of each worker that appended, as Redis writes
 * its AOF in beforeSleep: one write(2) per turn, no thread hand-off. Records
 * no one flushes are written by the syncer after about a millisecond. Returns
 * 0, or -errno (then also the sticky error, retried by the syncer). */
int wal_flush(wal_t *w);

/* Highest seq assigned by wal_append (next_seq - 1 before the first). Takes
 * the WAL mutex: callers holding store shard locks keep the journal's lock
 * order (shard, then WAL). */
uint64_t wal_last_seq(wal_t *w);
/* Highest seq that is fsynced (under WAL_FSYNC_NO: written). */
uint64_t wal_durable_seq(const wal_t *w);
/* Highest seq handed to write(2). (The server acknowledges under EVERYSEC
 * and NO once wal_append returned, before the write: see persist.h.) */
uint64_t wal_written_seq(const wal_t *w);
/* 0, or the positive errno currently blocking progress (sticky until a retry
 * succeeds). */
int wal_error(const wal_t *w);

/* Waits until durable_seq >= seq. Under EVERYSEC it asks the writer to fsync
 * now rather than at the next tick. Returns 0, -ETIMEDOUT after timeout_ms
 * (< 0: no timeout), or -errno when the error flag is set while seq is not
 * durable: the outcome of that write is then unknown (it stays pending and
 * becomes durable if a retry succeeds), never "acknowledged and lost". */
int wal_wait_durable(wal_t *w, uint64_t seq, int timeout_ms);

void wal_stats_get(const wal_t *w, wal_stats *s);

/* Announces that no more appends are expected (the server stopped its
 * workers and is about to write its closing snapshot): from now on a full
 * segment gets a successor only when records wait to be written, so the
 * segments the closing snapshot removes are the last word. Appends still
 * work. */
void wal_quiesce(wal_t *w);

/* Flushes everything pending, fsyncs, stops the writer and closes the file.
 * Idempotent. Returns 0, or -errno when pending records could not be written
 * (a few retries are made; the loss is logged). */
int wal_shutdown(wal_t *w);

/* wal_shutdown, then frees w. NULL is a no-op. */
void wal_close(wal_t *w);

/* ---- recovery ---- */

/* Called for each good record in seq order; key/val are valid only during
 * the call. The records of one wal_append batch come back to back, and only
 * once the record that ends the batch has been read and checked. Non-zero
 * stops recovery (-ECANCELED). */
typedef int (*wal_replay_fn)(const wal_record *r, void *arg);

typedef struct wal_recovery {
	uint64_t records; /* records delivered */
	uint64_t batches; /* batches of two or more records delivered */
	uint64_t segments;
	uint64_t first_seq;        /* first record in the log (delivered or skipped); 0 when none */
	uint64_t last_seq;         /* last record in the log; 0 when no record */
	uint64_t skipped_segments; /* wal_recover_from: segments a snapshot covers, not read */
	uint64_t first_segment_seq; /* seq in the first segment's name (where the log starts,
	                             * records or not); 0 when there is no segment */
	uint64_t truncated_bytes;
	uint64_t dropped_segments; /* truncate_corrupt only */
	uint64_t elapsed_ms;
} wal_recovery;

/* Replays every wal-<20 digits>.log in dir, in seq order. A torn tail of the
 * last segment is cut off (warning): a torn record, or a batch whose last
 * record is missing, and then the cut is at the batch's first record, none
 * of whose records is delivered (last_seq is the seq before it). A torn
 * record or an unterminated batch in another segment ("batch not
 * terminated"), corruption, a bad header, a first record whose seq differs
 * from the file name, or a gap between segments ("missing segment") is
 * -EBADMSG naming the file and byte offset, unless truncate_corrupt: then
 * the damaged segment is cut at the offset (at the start of the batch it
 * interrupts, if any), every later segment is deleted, and an error line
 * says how many bytes and segments were dropped. -ENOMEM when the records
 * of a batch cannot be held. On failure fn may already have seen a prefix
 * of the log: the caller discards what it built. */
int wal_recover(const char *dir, size_t max_record, int truncate_corrupt, wal_replay_fn fn,
                void *arg, wal_recovery *out, char *err, size_t errlen);

/* wal_recover for a log whose records up to skip_through are held by a
 * snapshot: segments holding only such records are not read, and such
 * records in the segments that are read are checked but not delivered
 * (first_seq and last_seq still count them; records does not). */
int wal_recover_from(const char *dir, size_t max_record, int truncate_corrupt,
                     uint64_t skip_through, wal_replay_fn fn, void *arg, wal_recovery *out,
                     char *err, size_t errlen);

/* Deletes the oldest segments of dir whose records all have a seq <= seq
 * (known from the next segment's name), never the newest segment, then
 * fsyncs the directory. *removed (may be NULL) gets the count. Safe while
 * the log is open: the open segment is always the newest. 0 or -errno. */
int wal_remove_through(const char *dir, uint64_t seq, uint64_t *removed);

#endif
