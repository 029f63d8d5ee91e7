/* wal.c - the WAL writer (group commit, fsync policy, rotation, error
 * retry) and recovery. Byte layout: see wal_format.c. On disk:
 *
 *   dir/wal-00000000000000000001.log   records 1 .. 4711
 *   dir/wal-00000000000000004712.log   records 4712 .. (the open segment)
 *
 * A segment is named for the seq of its first record; seqs continue across
 * segments with no gap.
 *
 * Who does what. Appenders (the store's journal, under a shard lock) encode
 * into `pending` under `mu`: no I/O, no wake-up. Whoever calls wal_flush
 * (each worker at the end of its loop turn) takes io_mu, moves pending into
 * `ubuf` and writes it with one pwrite: the records of every thread that
 * appended meanwhile share that write, and the worker's replies leave after
 * it, as Redis writes its AOF in beforeSleep. The syncer thread only
 * fsyncs (as soon as anything is written under ALWAYS, once a second under
 * EVERYSEC, never under NO), begins the next segment when one is full,
 * retries after errors, and writes pending records no flusher wrote within
 * WAL_FLUSH_FALLBACK_MS. It calls fdatasync with io_mu released, so writers
 * go on behind an fsync, and everything written before the fsync began is
 * what it makes durable: that is the group commit. We rejected a writer
 * thread that also wrote: every SET then cost two thread wake-ups, and under
 * EVERYSEC its fsync stalled writes that had already been acknowledged.
 *
 * ubuf holds the file's bytes from synced_off on (written, not yet fsynced,
 * then not yet written): ubuf is only trimmed after an fsync (or a write
 * under FSYNC_NO), so a failed fsync can be repaired: truncate to synced_off
 * and write ubuf again.
 *
 * Error path: a failed or short write truncates the file back to where the
 * attempt started, a failed fdatasync truncates back to synced_off (the page
 * cache state after a failed fsync is unknown). The bytes stay in ubuf and are
 * retried by the syncer with a backoff (10 ms doubling to 1 s); the error
 * stays sticky (wal_error) until a retry succeeds, and wal_append refuses new
 * records while it is set. So the file never holds a half record followed by
 * good ones, no durable seq is published before its fsync, and writing
 * resumes by itself when space returns. We rejected failing the batch: its
 * seqs would leave a hole that recovery reports as a missing record, and
 * later batches could not be written after it.
 *
 * Atomic batches: wal_append sets WAL_FLAG_MORE on all but the last record
 * of its call, and recovery applies a batch only once its last record has
 * been read. A batch never spans two segments: wal_append encodes a whole
 * batch into pending under mu, take_pending moves pending into ubuf whole or
 * not at all, a full segment gets no further write, and rotate_locked runs
 * only when everything in it is fsynced, so every segment boundary falls
 * between two wal_append calls.
 * Recovery relies on it: an unterminated batch at the end of a segment that
 * is not the last is damage, not a torn write.
 *
 * Under ALWAYS the flusher fsyncs itself when no one else is (sync_mu is
 * free): one client then costs a write and an fsync on its worker, as in
 * Redis, with no thread hand-off; when an fsync is running, the flusher
 * leaves its records to the syncer's next one and goes back to serving.
 *
 * Lock order: sync_mu, io_mu, mu; the notify callback runs with none held.
 */
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define WAL_DEFAULT_SEGMENT   (64u * 1024u * 1024u)
#define WAL_DEFAULT_PENDING   (64u * 1024u * 1024u)
#define WAL_DEFAULT_RECORD    (65u * 1024u * 1024u)
#define WAL_RETRY_MIN_MS      10
#define WAL_RETRY_MAX_MS      1000
#define WAL_CLOSE_RETRIES     5
#define WAL_EVERYSEC_MS       1000
#define WAL_PREALLOC          (1024u * 1024u) /* the file grows in these steps */
#define WAL_GATHER_US         200 /* ALWAYS: how long an fsync waits for other flushers */
#define WAL_FLUSH_FALLBACK_MS 1   /* appends no wal_flush wrote: the syncer writes them */

typedef struct wal_buf {
	uint8_t *data;
	size_t len, cap;
} wal_buf;

struct wal {
	pthread_mutex_t mu;        /* pending and the seqs, flags and error below */
	pthread_mutex_t io_mu;     /* the file: fd, ubuf, offsets; never held over fdatasync */
	pthread_cond_t work_cv;    /* syncer: sync request, stop, fallback flush, retry */
	pthread_cond_t space_cv;   /* appenders: held below max_pending, or error */
	pthread_cond_t durable_cv; /* wal_wait_durable */
	pthread_t thread;
	int thread_started;

	/* Under mu. */
	wal_buf pending;
	uint64_t next_seq;         /* next seq to assign */
	uint64_t pending_last_seq; /* seq of the last record in pending */
	uint64_t pending_since;    /* now_ms() when pending last became non-empty */
	size_t held;               /* pending.len + ubuf.len */
	int stopping;
	atomic_int quiesced; /* wal_quiesce: rotate a full segment only for records to write */
	int shut;
	int sync_req;
	/* The syncer waits with nothing to do: an append or a flush that wrote
	 * records wakes it. Atomic for the flusher's check outside mu: the
	 * syncer stores 1 and then re-reads written_seq, the flusher stores
	 * written_seq and then reads this, so one of them sees the other. */
	atomic_int syncer_idle;
	int err; /* sticky positive errno */
	uint64_t retry_at;
	uint64_t backoff;
	wal_notify_fn notify;
	void *notify_arg;

	/* Readable without a lock. */
	_Atomic uint64_t durable_seq;
	atomic_int dirty_threads; /* threads that appended and have not flushed since */
	_Atomic uint64_t written_seq;
	_Atomic int err_pub;
	/* Told each fdatasync's duration, under sync_mu (wal_set_fsync_hook). */
	void (*fsync_hook)(void *arg, uint64_t ns);
	void *fsync_hook_arg;
	_Atomic uint64_t st_appends, st_records, st_writes, st_fsyncs, st_bytes, st_segments,
	        st_errors;

	/* Under io_mu. ubuf holds the bytes from file offset synced_off on: its
	 * first ubuf_written bytes are in the file (written, not fsynced), the
	 * rest (whole wal_append batches) are not written yet. */
	int fd;
	char *dir;
	wal_buf ubuf;
	size_t ubuf_written;
	uint64_t ubuf_last_seq; /* seq of the last record in ubuf */
	uint64_t synced_off;    /* file length known durable (or written, FSYNC_NO) */
	int need_truncate;      /* an ftruncate back to synced_off + ubuf_written failed */
	uint64_t alloc_end;     /* file length reserved with fallocate (zeros beyond the log) */

	/* Held by whoever fsyncs (a flusher under ALWAYS, or the syncer) and by
	 * the syncer while it rotates, so the fd being fsynced stays open. */
	pthread_mutex_t sync_mu;
	_Atomic uint64_t last_sync_ms;

	int policy;
	uint64_t segment_bytes;
	size_t max_record;
	size_t max_pending;
	size_t prealloc;
	int shutdown_rc;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void deadline_ts(struct timespec *ts, uint64_t at_ms)
{
	ts->tv_sec = (time_t)(at_ms / 1000u);
	ts->tv_nsec = (long)(at_ms % 1000u) * 1000000L;
}

static int buf_reserve(wal_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len)
		return -ENOMEM;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return rc;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off, size_t *done)
{
	*done = 0;
	while (*done < n) {
		ssize_t k = pwrite(fd, p + *done, n - *done, (off_t)(off + *done));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		*done += (size_t)k;
	}
	return 0;
}

/* A file of this name exists: it may be replaced only if it holds at most a
 * (prefix of a) header, i.e. a crash hit right after it was created. */
static int segment_is_empty(const char *path)
{
	uint8_t buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* The header (or a prefix of it), then at most a preallocated step of
	 * zeros (a write that failed after the fallocate). */
	ssize_t n = read(fd, buf, sizeof buf);
	int empty = n >= 0 &&
	            wal_check_header(buf, n < WAL_HEADER_SIZE ? (size_t)n : WAL_HEADER_SIZE) !=
	                    WAL_BAD_HEADER;
	size_t total = n > 0 ? (size_t)n : 0;
	for (size_t i = WAL_HEADER_SIZE; empty && n > 0; i = 0) {
		for (; i < (size_t)n && empty; i++)
			empty = buf[i] == 0;
		if (total > WAL_PREALLOC + WAL_HEADER_SIZE)
			empty = 0;
		if (empty && (n = read(fd, buf, sizeof buf)) > 0)
			total += (size_t)n;
	}
	close(fd);
	return empty && n >= 0;
}

/* Creates wal-<seq>.log: O_EXCL create, header, fsync, directory fsync.
 * Returns the fd or -errno (err filled). Nothing is left behind on failure. */
static int segment_create(const char *dir, uint64_t seq, char *err, size_t errlen)
{
	char name[WAL_SEGMENT_NAME_LEN + 1], path[4096];
	uint8_t hdr[WAL_HEADER_SIZE];
	size_t done;
	int rc, fd = -1;

	wal_segment_name(name, sizeof name, seq);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
		snprintf(err, errlen, "wal: path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && segment_is_empty(path)) {
		if (unlink(path) == 0)
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "wal: create %s: %s", path, strerror(-rc));
		return rc;
	}
	wal_encode_header(hdr);
	if ((rc = pwrite_all(fd, hdr, sizeof hdr, 0, &done)) < 0) {
		snprintf(err, errlen, "wal: write header %s: %s", path, strerror(-rc));
		goto cleanup;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		snprintf(err, errlen, "wal: fsync %s: %s", path, strerror(-rc));
		goto cleanup;
	}
	if ((rc = fsync_dir(dir)) < 0) {
		snprintf(err, errlen, "wal: fsync directory %s: %s", dir, strerror(-rc));
		goto cleanup;
	}
	return fd;
cleanup:
	close(fd);
	unlink(path);
	return rc;
}

/* ---- writing the file (any thread, under io_mu) ---- */

/* Under mu. */
static void set_error(wal_t *w, int e)
{
	w->err = e;
	atomic_store(&w->err_pub, e);
}

/* Under mu: a failed write or fsync (rc < 0) becomes the sticky error,
 * retried by the syncer after the backoff. */
static void note_failure(wal_t *w, int rc)
{
	atomic_fetch_add(&w->st_errors, 1);
	if (w->err != -rc)
		log_error("wal", "write failed; retrying, new writes refused",
		          LF_S("error", strerror(-rc)), LF_U("pending_bytes", w->held));
	set_error(w, -rc);
	w->retry_at = now_ms() + w->backoff;
	w->backoff = w->backoff * 2 > WAL_RETRY_MAX_MS ? WAL_RETRY_MAX_MS : w->backoff * 2;
	pthread_cond_broadcast(&w->space_cv);
	pthread_cond_broadcast(&w->durable_cv);
	pthread_cond_signal(&w->work_cv);
}

/* The open segment holds segment_bytes or more: nothing more is written to
 * it until the syncer has fsynced it and begun the next one. */
static int segment_full(const wal_t *w)
{
	return w->synced_off + w->ubuf_written >= w->segment_bytes;
}

/* Moves everything appended so far into ubuf, as whole batches. io_mu held. */
static void take_pending(wal_t *w)
{
	pthread_mutex_lock(&w->mu);
	if (w->pending.len > 0) {
		if (w->ubuf.len == 0) {
			wal_buf t = w->ubuf;
			w->ubuf = w->pending;
			w->pending = t;
			w->pending.len = 0;
		} else if (buf_reserve(&w->ubuf, w->pending.len) == 0) {
			memcpy(w->ubuf.data + w->ubuf.len, w->pending.data, w->pending.len);
			w->ubuf.len += w->pending.len;
			w->pending.len = 0;
		}
		if (w->pending.len == 0)
			w->ubuf_last_seq = w->pending_last_seq;
	}
	pthread_mutex_unlock(&w->mu);
}

/* The first n bytes of ubuf, records up to seq, are durable (or, under
 * FSYNC_NO, written): drop them. io_mu held. */
static void drop_synced(wal_t *w, size_t n, uint64_t seq)
{
	memmove(w->ubuf.data, w->ubuf.data + n, w->ubuf.len - n);
	w->ubuf.len -= n;
	w->ubuf_written -= n;
	w->synced_off += n;
	atomic_store(&w->durable_seq, seq);
	pthread_mutex_lock(&w->mu);
	w->held -= n;
	pthread_cond_broadcast(&w->space_cv);
	pthread_cond_broadcast(&w->durable_cv);
	pthread_mutex_unlock(&w->mu);
}

/* Writes what ubuf (and pending) holds beyond the file, with one pwrite,
 * unless the segment is full (*full is then set). io_mu held. Returns 0 or
 * -errno; on error the file is back at a record boundary (or need_truncate
 * is set) and every byte is still in ubuf. */
static int write_locked(wal_t *w, int *full)
{
	*full = 0;
	if (w->need_truncate) {
		if (ftruncate(w->fd, (off_t)(w->synced_off + w->ubuf_written)) < 0)
			return -errno;
		w->need_truncate = 0;
	}
	take_pending(w);
	if (w->ubuf_written == w->ubuf.len)
		return 0;
	if (segment_full(w)) {
		*full = 1;
		return 0;
	}
	uint64_t start = w->synced_off + w->ubuf_written;
	uint64_t end = start + (w->ubuf.len - w->ubuf_written);
	if (end > w->alloc_end && w->prealloc != WAL_PREALLOC_NONE) {
		/* Reserve the file ahead in steps, zero-filled: an fdatasync after
		 * a write that does not grow the file needs no inode update. */
		uint64_t to = (end + w->prealloc - 1) / w->prealloc * w->prealloc;
		if (fallocate(w->fd, 0, (off_t)w->alloc_end, (off_t)(to - w->alloc_end)) == 0)
			w->alloc_end = to;
	}
	size_t done;
	int rc = pwrite_all(w->fd, w->ubuf.data + w->ubuf_written, w->ubuf.len - w->ubuf_written,
	                    start, &done);
	if (rc < 0) {
		/* A short write left part of a record: cut it off so that a
		 * later write does not continue after half a record. */
		if (done > 0 && ftruncate(w->fd, (off_t)start) < 0)
			w->need_truncate = 1;
		return rc;
	}
	w->ubuf_written = w->ubuf.len;
	atomic_fetch_add(&w->st_writes, 1);
	atomic_fetch_add(&w->st_bytes, done);
	atomic_store(&w->written_seq, w->ubuf_last_seq);
	if (w->policy == WAL_FSYNC_NO)
		drop_synced(w, w->ubuf_written, w->ubuf_last_seq); /* nothing to repair */
	return 0;
}

/* Opens the segment for the next seq and closes the full one, whose records
 * are all durable (ubuf_written == 0; under FSYNC_NO it is fsynced here).
 * io_mu held, syncer thread. On failure the old segment stays open and the
 * attempt is retried. */
static int rotate_locked(wal_t *w)
{
	char msg[256];
	/* Give back the preallocated zeros: a closed segment ends at its last
	 * record (then fsynced, as under FSYNC_NO everything). */
	uint64_t end = w->synced_off;
	if (w->alloc_end > end && ftruncate(w->fd, (off_t)end) < 0)
		return -errno;
	if ((w->alloc_end > end || w->policy == WAL_FSYNC_NO) && fdatasync(w->fd) < 0)
		return -errno;
	w->alloc_end = end;
	int fd = segment_create(w->dir, atomic_load(&w->written_seq) + 1, msg, sizeof msg);
	if (fd < 0) {
		log_warn("wal", "rotation failed", LF_S("error", msg));
		return fd;
	}
	close(w->fd);
	w->fd = fd;
	w->synced_off = WAL_HEADER_SIZE;
	w->alloc_end = WAL_HEADER_SIZE;
	atomic_fetch_add(&w->st_segments, 1);
	return 0;
}

void wal_set_fsync_hook(wal_t *w, void (*fn)(void *arg, uint64_t ns), void *arg)
{
	pthread_mutex_lock(&w->sync_mu);
	w->fsync_hook = fn;
	w->fsync_hook_arg = arg;
	pthread_mutex_unlock(&w->sync_mu);
}

/* fdatasync of everything written so far, with io_mu released during the
 * call so that flushers keep writing behind it. sync_mu held. */
static int sync_step(wal_t *w)
{
	pthread_mutex_lock(&w->io_mu);
	size_t n = w->ubuf_written;
	uint64_t seq = atomic_load(&w->written_seq);
	int fd = w->fd; /* rotation (which closes it) needs sync_mu */
	pthread_mutex_unlock(&w->io_mu);
	if (n == 0)
		return 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int synced = fdatasync(fd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (synced == 0 && w->fsync_hook)
		w->fsync_hook(w->fsync_hook_arg, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
		                                            (t1.tv_nsec - t0.tv_nsec)));
	if (synced < 0) {
		int rc = -errno;
		pthread_mutex_lock(&w->io_mu);
		/* What reached the disk is unknown: write all of ubuf again. */
		w->ubuf_written = 0;
		atomic_store(&w->written_seq, atomic_load(&w->durable_seq));
		if (ftruncate(w->fd, (off_t)w->synced_off) < 0)
			w->need_truncate = 1;
		pthread_mutex_unlock(&w->io_mu);
		return rc;
	}
	atomic_fetch_add(&w->st_fsyncs, 1);
	atomic_store(&w->last_sync_ms, now_ms());
	pthread_mutex_lock(&w->io_mu);
	drop_synced(w, n, seq);
	pthread_mutex_unlock(&w->io_mu);
	return 0;
}

/* The WAL this thread appended to and has not flushed since (its count in
 * dirty_threads): the syncer's gather window waits for such threads. */
static _Thread_local wal_t *tl_dirty;

int wal_flush(wal_t *w)
{
	int was_dirty = tl_dirty == w;
	if (was_dirty) {
		tl_dirty = NULL;
		atomic_fetch_sub(&w->dirty_threads, 1);
	}
	int full = 0, rc = -atomic_load(&w->err_pub);
	if (rc < 0)
		return rc; /* the syncer retries, with its backoff */
	pthread_mutex_lock(&w->io_mu);
	rc = w->fd >= 0 ? write_locked(w, &full) : -ESHUTDOWN;
	if (rc == 0 && segment_full(w))
		full = 1; /* rotate now, not at the next write */
	pthread_mutex_unlock(&w->io_mu);
	if (rc < 0) {
		pthread_mutex_lock(&w->mu);
		if (!w->shut)
			note_failure(w, rc);
		pthread_mutex_unlock(&w->mu);
		return rc;
	}
	/* ALWAYS: lead the group commit when no one else is fsyncing and no
	 * other thread has records on their way (a single client then pays no
	 * thread hand-off); otherwise the syncer fsyncs, after gathering the
	 * other flushers (WAL_GATHER_US) or the current fsync, and this worker
	 * goes on serving. */
	if (!full && w->policy == WAL_FSYNC_ALWAYS && atomic_load(&w->dirty_threads) == 0 &&
	    atomic_load(&w->written_seq) > atomic_load(&w->durable_seq) &&
	    pthread_mutex_trylock(&w->sync_mu) == 0) {
		uint64_t durable0 = atomic_load(&w->durable_seq);
		rc = sync_step(w);
		pthread_mutex_unlock(&w->sync_mu);
		pthread_mutex_lock(&w->mu);
		if (rc < 0)
			note_failure(w, rc);
		wal_notify_fn fn = w->notify;
		void *fa = w->notify_arg;
		pthread_mutex_unlock(&w->mu);
		/* Other workers' replies may wait for this fsync too. */
		if (fn && (rc < 0 || atomic_load(&w->durable_seq) != durable0))
			fn(fa);
		return rc;
	}
	/* EVERYSEC: records this flush wrote need the syncer's timer; it went
	 * idle if it looked while they were between pending and written. */
	if (!full && w->policy == WAL_FSYNC_EVERYSEC && atomic_load(&w->syncer_idle) &&
	    atomic_load(&w->written_seq) > atomic_load(&w->durable_seq)) {
		pthread_mutex_lock(&w->mu);
		pthread_cond_signal(&w->work_cv);
		pthread_mutex_unlock(&w->mu);
	}
	if (full || (w->policy == WAL_FSYNC_ALWAYS &&
	             (was_dirty || atomic_load(&w->written_seq) > atomic_load(&w->durable_seq)))) {
		pthread_mutex_lock(&w->mu);
		w->sync_req = 1;
		pthread_cond_signal(&w->work_cv);
		pthread_mutex_unlock(&w->mu);
	}
	return 0;
}

/* ---- the syncer thread ---- */

/* Under mu: is there work, and if not, until when to sleep (0: no deadline)? */
static int syncer_has_work(wal_t *w, uint64_t now, uint64_t *until)
{
	uint64_t written = atomic_load(&w->written_seq), durable = atomic_load(&w->durable_seq);
	int unsynced = written > durable;
	*until = 0;
	if (w->err) {
		if (now >= w->retry_at || w->stopping)
			return 1;
		*until = w->retry_at;
		return 0;
	}
	if (w->stopping || w->sync_req)
		return 1;
	if (unsynced && (w->policy == WAL_FSYNC_ALWAYS || w->held >= w->max_pending / 2 ||
	                 now - atomic_load(&w->last_sync_ms) >= WAL_EVERYSEC_MS))
		return 1;
	if (w->pending.len > 0 && now - w->pending_since >= WAL_FLUSH_FALLBACK_MS)
		return 1;
	if (w->pending.len > 0)
		*until = w->pending_since + WAL_FLUSH_FALLBACK_MS;
	uint64_t tick = atomic_load(&w->last_sync_ms) + WAL_EVERYSEC_MS;
	if (unsynced && (*until == 0 || tick < *until))
		*until = tick;
	return 0;
}

static void *syncer_main(void *arg)
{
	wal_t *w = arg;
	int close_attempts = 0;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		uint64_t until;
		while (!syncer_has_work(w, now_ms(), &until)) {
			if (until == 0) {
				atomic_store(&w->syncer_idle, 1);
				/* A flusher may have taken the pending records and not yet
				 * published written_seq when we looked: look again now
				 * that it will see the flag (see syncer_idle). */
				if (syncer_has_work(w, now_ms(), &until) || until != 0) {
					atomic_store(&w->syncer_idle, 0);
					continue;
				}
				pthread_cond_wait(&w->work_cv, &w->mu);
				atomic_store(&w->syncer_idle, 0);
			} else {
				struct timespec ts;
				deadline_ts(&ts, until);
				pthread_cond_timedwait(&w->work_cv, &w->mu, &ts);
			}
		}
		if (w->stopping && w->held == 0)
			break;
		if (w->stopping && w->err && close_attempts++ >= WAL_CLOSE_RETRIES)
			break;
		/* Group commit across workers: under ALWAYS, give threads that
		 * appended and are about to flush (the other workers, mid-turn)
		 * up to WAL_GATHER_US to join this fsync rather than the next. */
		if (w->policy == WAL_FSYNC_ALWAYS && !w->stopping && !w->err &&
		    atomic_load(&w->dirty_threads) > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += WAL_GATHER_US * 1000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			while (atomic_load(&w->dirty_threads) > 0 &&
			       pthread_cond_timedwait(&w->work_cv, &w->mu, &ts) != ETIMEDOUT)
				;
		}
		int stopping = w->stopping;
		int force = w->sync_req || w->stopping || w->err;
		w->sync_req = 0;
		uint64_t durable0 = atomic_load(&w->durable_seq);
		uint64_t written0 = atomic_load(&w->written_seq);
		int err0 = w->err;
		pthread_mutex_unlock(&w->mu);

		/* Write what no flusher wrote (appends from other threads, a
		 * retry), fsync, and begin the next segment when this one is
		 * full: all of it is the group commit. */
		int full = 0, rc;
		pthread_mutex_lock(&w->io_mu);
		rc = write_locked(w, &full);
		pthread_mutex_unlock(&w->io_mu);
		uint64_t now = now_ms();
		pthread_mutex_lock(&w->sync_mu);
		if (rc == 0 && w->policy != WAL_FSYNC_NO &&
		    (force || full || w->policy == WAL_FSYNC_ALWAYS ||
		     now - atomic_load(&w->last_sync_ms) >= WAL_EVERYSEC_MS ||
		     w->held >= w->max_pending / 2))
			rc = sync_step(w);
		if (rc == 0) {
			pthread_mutex_lock(&w->io_mu);
			/* At close, a full segment gets a successor only for records
			 * still to write: an empty new segment made after the closing
			 * snapshot's cleanup (which keeps the newest segment) would
			 * keep the full one it covered on disk. */
			if (segment_full(w) && w->ubuf_written == 0 &&
			    (!(stopping || atomic_load(&w->quiesced)) || w->ubuf.len > 0)) {
				rc = rotate_locked(w);
				if (rc == 0)
					rc = write_locked(w, &full);
			}
			pthread_mutex_unlock(&w->io_mu);
		}
		pthread_mutex_unlock(&w->sync_mu);

		pthread_mutex_lock(&w->mu);
		if (rc < 0) {
			note_failure(w, rc);
		} else if (w->err) {
			log_info("wal", "write error cleared", LF_S("error", strerror(w->err)));
			set_error(w, 0);
			w->backoff = WAL_RETRY_MIN_MS;
		}
		pthread_cond_broadcast(&w->space_cv);
		pthread_cond_broadcast(&w->durable_cv);
		if (w->notify && (atomic_load(&w->durable_seq) != durable0 ||
		                  atomic_load(&w->written_seq) != written0 || w->err != err0)) {
			wal_notify_fn fn = w->notify;
			void *fa = w->notify_arg;
			pthread_mutex_unlock(&w->mu);
			fn(fa);
			pthread_mutex_lock(&w->mu);
		}
	}
	if (w->held > 0) {
		log_error("wal", "shutdown with records not written",
		          LF_S("error", strerror(w->err)), LF_U("bytes", w->held),
		          LF_U("durable_seq", atomic_load(&w->durable_seq)));
		w->shutdown_rc = -(w->err ? w->err : EIO);
	}
	pthread_cond_broadcast(&w->durable_cv);
	pthread_cond_broadcast(&w->space_cv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- public writer API ---- */

wal_t *wal_open(const wal_options *opt, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	wal_t *w = calloc(1, sizeof(*w));
	if (!w || !(w->dir = strdup(opt->dir))) {
		snprintf(err, errlen, "wal: out of memory");
		goto cleanup;
	}
	w->fd = -1;
	w->policy = opt->fsync_policy;
	if (w->policy < WAL_FSYNC_ALWAYS || w->policy > WAL_FSYNC_NO) {
		snprintf(err, errlen, "wal: bad fsync policy %d", w->policy);
		goto cleanup;
	}
	w->segment_bytes = opt->segment_bytes ? opt->segment_bytes : WAL_DEFAULT_SEGMENT;
	w->max_record = opt->max_record ? opt->max_record : WAL_DEFAULT_RECORD;
	w->max_pending = opt->max_pending ? opt->max_pending : WAL_DEFAULT_PENDING;
	w->prealloc = opt->prealloc ? opt->prealloc : WAL_PREALLOC;
	w->next_seq = opt->next_seq ? opt->next_seq : 1;
	w->ubuf_last_seq = w->next_seq - 1;
	w->backoff = WAL_RETRY_MIN_MS;
	atomic_store(&w->durable_seq, w->next_seq - 1);
	atomic_store(&w->written_seq, w->next_seq - 1);
	w->fd = segment_create(w->dir, w->next_seq, err, errlen);
	if (w->fd < 0)
		goto cleanup;
	atomic_store(&w->st_segments, 1);
	w->synced_off = WAL_HEADER_SIZE;
	w->alloc_end = WAL_HEADER_SIZE;
	atomic_store(&w->last_sync_ms, now_ms());

	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->io_mu, NULL);
	pthread_mutex_init(&w->sync_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->work_cv, &ca);
	pthread_cond_init(&w->space_cv, &ca);
	pthread_cond_init(&w->durable_cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&w->thread, NULL, syncer_main, w);
	if (rc != 0) {
		snprintf(err, errlen, "wal: cannot start the syncer thread: %s", strerror(rc));
		pthread_cond_destroy(&w->work_cv);
		pthread_cond_destroy(&w->space_cv);
		pthread_cond_destroy(&w->durable_cv);
		pthread_mutex_destroy(&w->sync_mu);
		pthread_mutex_destroy(&w->io_mu);
		pthread_mutex_destroy(&w->mu);
		goto cleanup;
	}
	w->thread_started = 1;
	log_info("wal", "opened", LF_S("dir", w->dir), LF_U("next_seq", w->next_seq),
	         LF_S("fsync", w->policy == WAL_FSYNC_ALWAYS     ? "always"
	                       : w->policy == WAL_FSYNC_EVERYSEC ? "everysec"
	                                                         : "no"));
	return w;
cleanup:
	if (w) {
		if (w->fd >= 0)
			close(w->fd);
		free(w->dir);
		free(w);
	}
	return NULL;
}

void wal_set_notify(wal_t *w, wal_notify_fn fn, void *arg)
{
	pthread_mutex_lock(&w->mu);
	w->notify = fn;
	w->notify_arg = arg;
	pthread_mutex_unlock(&w->mu);
}

int wal_append(wal_t *w, const wal_record *recs, size_t n, uint64_t *last_seq)
{
	size_t need = 0;
	for (size_t i = 0; i < n; i++) {
		size_t sz = wal_record_size(recs[i].klen, recs[i].vlen);
		if (sz == 0 || sz > w->max_record || need > SIZE_MAX - sz)
			return -EINVAL;
		need += sz;
	}
	if (n == 0)
		return -EINVAL;

	int rc = 0;
	pthread_mutex_lock(&w->mu);
	/* Wait for room, but let a batch through alone when nothing is held so
	 * that a batch larger than max_pending cannot wait forever. */
	while (!w->stopping && !w->err && w->held > 0 && w->held + need > w->max_pending) {
		pthread_cond_signal(&w->work_cv);
		pthread_cond_wait(&w->space_cv, &w->mu);
	}
	if (w->stopping || w->shut)
		rc = -ESHUTDOWN;
	else if (w->err)
		rc = -w->err;
	else if ((rc = buf_reserve(&w->pending, need)) == 0) {
		size_t start = w->pending.len;
		uint64_t seq = w->next_seq;
		for (size_t i = 0; i < n; i++) {
			wal_record r = recs[i];
			r.seq = seq + i;
			/* Every record of the call but the last says "more of this
			 * batch follows", so recovery applies all of it or none. */
			r.flags = i + 1 < n ? WAL_FLAG_MORE : 0;
			size_t k = wal_encode(w->pending.data + w->pending.len, &r);
			if (k == 0) {
				w->pending.len = start; /* all or nothing */
				rc = -EINVAL;
				break;
			}
			w->pending.len += k;
		}
		if (rc == 0) {
			w->next_seq = seq + n;
			w->pending_last_seq = seq + n - 1;
			w->held += need;
			if (last_seq)
				*last_seq = seq + n - 1;
			atomic_fetch_add(&w->st_appends, 1);
			atomic_fetch_add(&w->st_records, n);
			/* The appending thread normally writes it (wal_flush at the
			 * end of its loop turn); the syncer writes what is left
			 * WAL_FLUSH_FALLBACK_MS later. */
			if (tl_dirty != w) {
				tl_dirty = w;
				atomic_fetch_add(&w->dirty_threads, 1);
			}
			if (start == 0) {
				w->pending_since = now_ms();
				if (atomic_load(&w->syncer_idle))
					pthread_cond_signal(&w->work_cv);
			}
		}
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void wal_quiesce(wal_t *w)
{
	atomic_store(&w->quiesced, 1);
	/* A rotation decided before the store runs under sync_mu: wait it out,
	 * so that none follows this call. */
	pthread_mutex_lock(&w->sync_mu);
	pthread_mutex_unlock(&w->sync_mu);
}

uint64_t wal_last_seq(wal_t *w)
{
	pthread_mutex_lock(&w->mu);
	uint64_t seq = w->next_seq - 1;
	pthread_mutex_unlock(&w->mu);
	return seq;
}

uint64_t wal_durable_seq(const wal_t *w)
{
	return atomic_load(&w->durable_seq);
}

uint64_t wal_written_seq(const wal_t *w)
{
	return atomic_load(&w->written_seq);
}

int wal_error(const wal_t *w)
{
	return atomic_load(&w->err_pub);
}

int wal_wait_durable(wal_t *w, uint64_t seq, int timeout_ms)
{
	struct timespec ts;
	int rc = 0;
	if (timeout_ms >= 0)
		deadline_ts(&ts, now_ms() + (uint64_t)timeout_ms);
	pthread_mutex_lock(&w->mu);
	while (atomic_load(&w->durable_seq) < seq) {
		if (w->err) {
			rc = -w->err;
			break;
		}
		if (w->shut) {
			rc = w->shutdown_rc ? w->shutdown_rc : -ESHUTDOWN;
			break;
		}
		if (!w->sync_req) {
			w->sync_req = 1;
			pthread_cond_signal(&w->work_cv);
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&w->durable_cv, &w->mu);
		} else if (pthread_cond_timedwait(&w->durable_cv, &w->mu, &ts) == ETIMEDOUT &&
		           atomic_load(&w->durable_seq) < seq) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void wal_stats_get(const wal_t *w, wal_stats *s)
{
	s->appends = atomic_load(&w->st_appends);
	s->records = atomic_load(&w->st_records);
	s->writes = atomic_load(&w->st_writes);
	s->fsyncs = atomic_load(&w->st_fsyncs);
	s->bytes = atomic_load(&w->st_bytes);
	s->segments_created = atomic_load(&w->st_segments);
	s->errors = atomic_load(&w->st_errors);
}

int wal_shutdown(wal_t *w)
{
	pthread_mutex_lock(&w->mu);
	if (w->shut) {
		pthread_mutex_unlock(&w->mu);
		return w->shutdown_rc;
	}
	w->stopping = 1;
	pthread_cond_broadcast(&w->work_cv);
	pthread_cond_broadcast(&w->space_cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_lock(&w->io_mu);
	pthread_mutex_lock(&w->mu);
	w->thread_started = 0;
	w->shut = 1;
	/* A cleanly closed segment ends at its last record (no preallocated
	 * zeros), and under FSYNC_NO the syncer never fsynced it. */
	if (w->fd >= 0 && w->held == 0 && w->alloc_end > w->synced_off &&
	    ftruncate(w->fd, (off_t)w->synced_off) < 0 && w->shutdown_rc == 0)
		w->shutdown_rc = -errno;
	if (w->fd >= 0 && fdatasync(w->fd) < 0 && w->shutdown_rc == 0)
		w->shutdown_rc = -errno;
	if (w->fd >= 0 && close(w->fd) < 0 && w->shutdown_rc == 0)
		w->shutdown_rc = -errno;
	w->fd = -1;
	pthread_cond_broadcast(&w->durable_cv);
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_unlock(&w->io_mu);
	log_info("wal", "closed", LF_U("durable_seq", atomic_load(&w->durable_seq)));
	return w->shutdown_rc;
}

void wal_close(wal_t *w)
{
	if (!w)
		return;
	wal_shutdown(w);
	pthread_cond_destroy(&w->work_cv);
	pthread_cond_destroy(&w->space_cv);
	pthread_cond_destroy(&w->durable_cv);
	pthread_mutex_destroy(&w->sync_mu);
	pthread_mutex_destroy(&w->io_mu);
	pthread_mutex_destroy(&w->mu);
	free(w->pending.data);
	free(w->ubuf.data);
	free(w->dir);
	free(w);
}

/* ---- recovery ---- */

/* Segments are mapped whole (MAP_PRIVATE, read-only): memory is address
 * space backed by the page cache, not heap, so a segment larger than
 * segment_bytes costs no more RSS than the kernel chooses to keep. We
 * rejected read(2) into a heap buffer, which would need the whole segment in
 * memory or a chunked decoder that wal_scan does not offer. */

typedef struct seg_ent {
	uint64_t seq;
	char name[WAL_SEGMENT_NAME_LEN + 1];
} seg_ent;

/* Records of a batch are held back in `batch` until the record that ends it
 * (no WAL_FLAG_MORE) is decoded, then delivered back to back. The held
 * structs point into the mapped segment, which stays mapped for the whole
 * scan; batches never span segments, so nothing is held across an munmap.
 * The array grows by doubling as records are decoded, so its size is bounded
 * by the records actually present in the image, never by a length field. We
 * rejected keeping only offsets and decoding again at delivery: it would
 * checksum every batched record twice to save a few bytes per record. */
typedef struct replay_ctx {
	wal_replay_fn fn;
	void *arg;
	uint64_t seg_seq;
	uint64_t seen; /* records decoded in this segment */
	wal_record *batch;
	size_t nbatch, batch_cap;
	uint64_t skip_through; /* records up to this seq are checked, not delivered */
	uint64_t first_seq;    /* first record in the log (delivered or skipped) */
	uint64_t last_seq;     /* last record in the log (delivered or skipped) */
	uint64_t records;      /* records delivered */
	uint64_t batches;      /* batches of >= 2 records delivered */
} replay_ctx;

/* The segment name was checked against the previous segment's last seq
 * before the scan, so checking the first record against the name also
 * proves continuity. */
enum { VISIT_NAME_MISMATCH = 1, VISIT_CANCELED = 2, VISIT_NOMEM = 3 };

static int replay_deliver(replay_ctx *c, const wal_record *r)
{
	if (c->first_seq == 0)
		c->first_seq = r->seq;
	c->last_seq = r->seq;
	if (r->seq <= c->skip_through)
		return 0; /* a snapshot holds it */
	if (c->fn && c->fn(r, c->arg) != 0)
		return VISIT_CANCELED;
	c->records++;
	return 0;
}

static int replay_visit(const wal_record *r, size_t offset, void *arg)
{
	replay_ctx *c = arg;
	int rc;
	(void)offset;
	if (c->seen == 0 && r->seq != c->seg_seq)
		return VISIT_NAME_MISMATCH;
	c->seen++;
	if (r->flags & WAL_FLAG_MORE) {
		if (c->nbatch == c->batch_cap) {
			size_t cap = c->batch_cap ? c->batch_cap * 2 : 16;
			wal_record *nb = reallocarray(c->batch, cap, sizeof(*nb));
			if (!nb)
				return VISIT_NOMEM;
			c->batch = nb;
			c->batch_cap = cap;
		}
		c->batch[c->nbatch++] = *r;
		return 0;
	}
	for (size_t i = 0; i < c->nbatch; i++)
		if ((rc = replay_deliver(c, &c->batch[i])) != 0)
			return rc;
	if ((rc = replay_deliver(c, r)) != 0)
		return rc;
	if (c->nbatch > 0)
		c->batches++;
	c->nbatch = 0;
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const seg_ent *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Lists wal-<20 digits>.log in dir, sorted by seq. Returns the count or
 * -errno; *out is malloc'ed (NULL when empty). */
static long list_segments(const char *dir, seg_ent **out)
{
	DIR *d = opendir(dir);
	seg_ent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	*out = NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		uint64_t seq;
		if (wal_parse_segment_name(de->d_name, &seq) != WAL_OK)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			seg_ent *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		v[n].seq = seq;
		memcpy(v[n].name, de->d_name, WAL_SEGMENT_NAME_LEN + 1);
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), seg_cmp);
	*out = v;
	return (long)n;
}

/* A damaged record at off in the last segment was cut short by a crash
 * while being written into the preallocated zeros (WAL_PREALLOC) if the
 * file goes on past the record's declared extent and holds nothing but
 * zeros from there to its end. A complete last record at the very end of
 * the file (no zeros after it: a cleanly closed segment is cut to its last
 * record) with a bad CRC stays corruption. */
static int torn_into_zeros(const uint8_t *img, size_t size, size_t off)
{
	uint32_t len = 0;
	if (size - off >= sizeof(len))
		memcpy(&len, img + off, sizeof(len)); /* little-endian, as the format */
	size_t ext = (size_t)len + WAL_REC_HEADER_SIZE;
	size_t from = size - off > ext ? off + ext : size;
	if (from >= size)
		return 0;
	for (size_t i = from; i < size; i++)
		if (img[i] != 0)
			return 0;
	return 1;
}

static int truncate_file(int fd, uint64_t off)
{
	if (ftruncate(fd, (off_t)off) < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

/* truncate_corrupt: deletes segments i.. (damage at their start: a missing
 * segment before them, or a name that does not match), fsyncs the directory
 * and logs what was lost. */
static int drop_segments_from(const char *dir, const seg_ent *segs, long i, long nseg,
                              const char *why, wal_recovery *out, char *err, size_t errlen)
{
	uint64_t bytes = 0;
	for (long j = i; j < nseg; j++) {
		char p2[4096];
		struct stat st2;
		snprintf(p2, sizeof p2, "%s/%s", dir, segs[j].name);
		if (stat(p2, &st2) == 0)
			bytes += (uint64_t)st2.st_size;
		if (unlink(p2) < 0) {
			int rc = -errno;
			snprintf(err, errlen, "wal: unlink %s: %s", p2, strerror(-rc));
			return rc;
		}
		out->dropped_segments++;
	}
	int rc = fsync_dir(dir);
	if (rc < 0) {
		snprintf(err, errlen, "wal: fsync directory %s: %s", dir, strerror(-rc));
		return rc;
	}
	out->truncated_bytes += bytes;
	log_error("wal",
	          "damaged log truncated (truncate_corrupt): records after this point are lost",
	          LF_S("reason", why), LF_S("first_deleted", segs[i].name),
	          LF_U("segments_deleted", (uint64_t)(nseg - i)), LF_U("bytes_deleted", bytes));
	return 0;
}

int wal_recover(const char *dir, size_t max_record, int truncate_corrupt, wal_replay_fn fn,
                void *arg, wal_recovery *out, char *err, size_t errlen)
{
	return wal_recover_from(dir, max_record, truncate_corrupt, 0, fn, arg, out, err, errlen);
}

int wal_recover_from(const char *dir, size_t max_record, int truncate_corrupt,
                     uint64_t skip_through, wal_replay_fn fn, void *arg, wal_recovery *out,
                     char *err, size_t errlen)
{
	static const uint8_t empty[1];
	uint64_t t0 = now_ms();
	replay_ctx c = {.fn = fn, .arg = arg, .skip_through = skip_through};
	seg_ent *segs = NULL;
	char path[4096];
	int rc = 0, fd = -1;
	long nseg;

	memset(out, 0, sizeof(*out));
	if (max_record == 0)
		max_record = WAL_DEFAULT_RECORD;
	nseg = list_segments(dir, &segs);
	if (nseg < 0) {
		rc = (int)nseg;
		snprintf(err, errlen, "wal: cannot list %s: %s", dir, strerror(-rc));
		goto cleanup;
	}
	if (nseg > 0)
		out->first_segment_seq = segs[0].seq;
	for (long i = 0; i < nseg; i++) {
		int last = i == nseg - 1;
		struct stat st;
		const uint8_t *img = empty;
		wal_scan_result res;

		snprintf(path, sizeof path, "%s/%s", dir, segs[i].name);
		/* A segment with no records leaves c.last_seq where it was, so the
		 * next name is still checked against the last record seen. */
		if (c.last_seq != 0 && segs[i].seq != c.last_seq + 1) {
			snprintf(err, errlen,
			         "wal: missing segment: %s starts at seq %" PRIu64
			         " but the previous segment ends at seq %" PRIu64,
			         path, segs[i].seq, c.last_seq);
			if (!truncate_corrupt) {
				rc = -EBADMSG;
				goto cleanup;
			}
			if ((rc = drop_segments_from(dir, segs, i, nseg, err, out, err, errlen)) <
			    0)
				goto cleanup;
			break;
		}
		/* Every record of a segment that is not the last lies below the
		 * next segment's first seq: when a snapshot holds them all, the
		 * segment is not even read (the next name is checked against it). */
		if (!last && segs[i + 1].seq > segs[i].seq && segs[i + 1].seq - 1 <= skip_through) {
			if (c.first_seq == 0)
				c.first_seq = segs[i].seq;
			c.last_seq = segs[i + 1].seq - 1;
			out->segments++;
			out->skipped_segments++;
			continue;
		}
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			rc = -errno;
			snprintf(err, errlen, "wal: open %s: %s", path, strerror(-rc));
			goto cleanup;
		}
		size_t size = (size_t)st.st_size;
		if (size > 0) {
			void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (m == MAP_FAILED) {
				rc = -errno;
				snprintf(err, errlen, "wal: mmap %s: %s", path, strerror(-rc));
				goto cleanup;
			}
			img = m;
		}
		c.seg_seq = segs[i].seq;
		c.seen = 0;
		c.nbatch = 0;
		wal_scan(img, size, max_record, replay_visit, &c, &res);
		/* A write into the preallocated zeros, cut short by a crash:
		 * nothing but zeros follows the damaged record. */
		if (last && res.status == WAL_CORRUPT && torn_into_zeros(img, size, res.end))
			res.status = WAL_TORN;
		if (size > 0)
			munmap((void *)img, size);
		c.nbatch = 0; /* its records pointed into the image */
		out->segments++;

		if (res.status == WAL_ABORTED && res.visit_rc == VISIT_NAME_MISMATCH &&
		    truncate_corrupt && res.end == WAL_HEADER_SIZE) {
			/* The first record is not the one the name promises: nothing of
			 * this segment was delivered, so it and every later one go. */
			close(fd);
			fd = -1;
			snprintf(err, errlen,
			         "wal: %s: first record does not have the seq in the name", path);
			if ((rc = drop_segments_from(dir, segs, i, nseg, err, out, err, errlen)) <
			    0)
				goto cleanup;
			break;
		}
		if (res.status == WAL_ABORTED) {
			rc = res.visit_rc == VISIT_CANCELED ? -ECANCELED
			     : res.visit_rc == VISIT_NOMEM  ? -ENOMEM
			                                    : -EBADMSG;
			if (res.visit_rc == VISIT_NAME_MISMATCH)
				snprintf(err, errlen,
				         "wal: %s at byte offset %zu: first record does not have "
				         "the seq in the file name",
				         path, res.end);
			else if (res.visit_rc == VISIT_NOMEM)
				snprintf(err, errlen, "wal: out of memory replaying %s", path);
			else
				snprintf(err, errlen, "wal: replay stopped at %s byte offset %zu",
				         path, res.end);
			goto cleanup;
		}
		/* Every cut is at batch_start (== res.end when no batch is open):
		 * the records of an unterminated batch were never delivered, so
		 * cutting at the damaged record would leave them in the file. */
		size_t cut = res.batch_start;
		int open_batch = res.batch_records > 0;
		if (last && (res.status == WAL_TORN || (res.status == WAL_OK && open_batch))) {
			/* A write cut short by a crash. cut == size: an empty file,
			 * left by a crash right after creation; nothing to cut. */
			if (cut < size) {
				if ((rc = truncate_file(fd, cut)) < 0) {
					snprintf(err, errlen, "wal: truncate %s: %s", path,
					         strerror(-rc));
					goto cleanup;
				}
				out->truncated_bytes += size - cut;
				log_warn("wal", "torn tail truncated", LF_S("file", path),
				         LF_U("offset", cut), LF_U("bytes_dropped", size - cut),
				         LF_U("records_dropped", res.batch_records));
			}
		} else if (res.status != WAL_OK || open_batch) {
			const char *what = res.status != WAL_OK ? wal_status_str(res.status)
			                                        : "batch not terminated";
			const char *why = res.reason ? res.reason : "";
			size_t at = res.end;
			if (res.status == WAL_OK) {
				why = "the segment ends inside a batch but is not the last";
				at = res.batch_start;
			}
			if (!truncate_corrupt) {
				rc = -EBADMSG;
				snprintf(err, errlen, "wal: %s: %s at byte offset %zu: %s", path,
				         what, at, why);
				goto cleanup;
			}
			if ((rc = truncate_file(fd, cut)) < 0) {
				snprintf(err, errlen, "wal: truncate %s: %s", path, strerror(-rc));
				goto cleanup;
			}
			uint64_t dropped_bytes = size - cut, later_bytes = 0;
			for (long j = i + 1; j < nseg; j++) {
				char p2[4096];
				struct stat st2;
				snprintf(p2, sizeof p2, "%s/%s", dir, segs[j].name);
				if (stat(p2, &st2) == 0)
					later_bytes += (uint64_t)st2.st_size;
				if (unlink(p2) < 0) {
					rc = -errno;
					snprintf(err, errlen, "wal: unlink %s: %s", p2,
					         strerror(-rc));
					goto cleanup;
				}
				out->dropped_segments++;
			}
			if ((rc = fsync_dir(dir)) < 0) {
				snprintf(err, errlen, "wal: fsync directory %s: %s", dir,
				         strerror(-rc));
				goto cleanup;
			}
			out->truncated_bytes += dropped_bytes + later_bytes;
			log_error("wal",
			          "damaged log truncated (truncate_corrupt): records after this "
			          "point are lost",
			          LF_S("file", path), LF_S("status", what), LF_S("reason", why),
			          LF_U("damage_offset", at), LF_U("offset", cut),
			          LF_U("bytes_dropped_in_file", dropped_bytes),
			          LF_U("batch_records_dropped", res.batch_records),
			          LF_U("later_segments_deleted", out->dropped_segments),
			          LF_U("later_bytes_deleted", later_bytes),
			          LF_U("last_seq_kept", c.last_seq));
			close(fd);
			fd = -1;
			break;
		}
		close(fd);
		fd = -1;
	}
cleanup:
	if (fd >= 0)
		close(fd);
	free(segs);
	free(c.batch);
	out->records = c.records;
	out->first_seq = c.first_seq;
	out->batches = c.batches;
	out->last_seq = c.last_seq;
	out->elapsed_ms = now_ms() - t0;
	if (rc == 0)
		log_info("wal", "recovered", LF_S("dir", dir), LF_U("records", out->records),
		         LF_U("skipped_through", skip_through),
		         LF_U("skipped_segments", out->skipped_segments),
		         LF_U("batches", out->batches), LF_U("segments", out->segments),
		         LF_U("last_seq", out->last_seq),
		         LF_U("truncated_bytes", out->truncated_bytes),
		         LF_U("elapsed_ms", out->elapsed_ms));
	return rc;
}

/* ---- removal of segments a snapshot covers ---- */

int wal_remove_through(const char *dir, uint64_t seq, uint64_t *removed)
{
	seg_ent *segs = NULL;
	long nseg = list_segments(dir, &segs);
	uint64_t n = 0;
	int rc = 0;

	if (removed)
		*removed = 0;
	if (nseg < 0)
		return (int)nseg;
	/* Segment i holds seqs [segs[i].seq, segs[i + 1].seq - 1]; the last one
	 * listed may be the open segment and is never removed. Only a prefix
	 * goes, so the log stays contiguous. */
	for (long i = 0; i + 1 < nseg && segs[i + 1].seq - 1 <= seq; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, segs[i].name);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			break;
		}
		n++;
	}
	free(segs);
	if (n > 0) {
		int frc = fsync_dir(dir);
		if (rc == 0)
			rc = frc;
	}
	if (removed)
		*removed = n;
	return rc;
}
