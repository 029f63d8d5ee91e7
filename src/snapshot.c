/* snapshot.c - Parquet snapshots: fork, write, verify, rename, clean up;
 * loading the newest good one; the timed scheduler.
 *
 * A background snapshot freezes the keyspace only for the fork: the
 * scheduler thread takes every shard lock (no change in flight, none can
 * start), reads the WAL's last seq, forks and unlocks. The child sees the
 * keyspace exactly as of that seq in its copy-on-write memory and writes it
 * with parquet/writer.h into a temporary file, fsyncs it and exits; it does
 * not log or touch any lock (another thread may have held one at the fork)
 * and reports through a pipe. The parent verifies the footer, renames the
 * file into place, fsyncs the directory, refreshes storage.file_path, and
 * only then removes older snapshots beyond --snapshots-keep and the WAL
 * segments that the oldest kept snapshot covers, so a damaged newest
 * snapshot can always be replaced by the previous one plus the log.
 *
 * Rejected: writing the snapshot from the parent while workers run (a
 * consistent view would need per-key copy-on-write in the store) and
 * freezing the store for the whole write (what SAVE does, as in Redis).
 */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parquet/reader.h"
#include "parquet/writer.h"
#include "wal.h"

#define SEQ_KEY        "minidb.seq"
#define TMP_PREFIX     ".tmp-snapshot-"
#define LOAD_POLL_ROWS 65536u
#define RETRY_FIRST_MS 5000
#define SCHED_TICK_MS  100
#define NAME_DIGITS    20
#define COPY_CHUNK     (1u << 20)

struct snapshot {
	const config *cfg;
	store_t *st;
	snapshot_hooks hooks;
	bool has_hooks;

	pthread_mutex_t mu; /* everything below */
	pthread_cond_t cv;
	pthread_t thread;
	bool thread_started;
	bool stop;
	bool bg_requested;
	bool bg_follow; /* BGSAVE SCHEDULE: one more after the current/requested one */
	bool running;   /* a snapshot (either kind) is being written */
	bool bg_running;
	bool shut;
	pid_t child;
	uint64_t wal_bytes_at;  /* hooks.wal_bytes() when the newest was taken */
	uint64_t next_try_mono; /* timed schedule: not before (monotonic ms) */
	uint64_t retry_ms;      /* after a failure */
	snapshot_info info;
};

/* The child's report through the pipe. */
struct child_report {
	int rc;
	uint64_t rows;
	char msg[200];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* snprintf for messages that may be cut short (paths are long). */
__attribute__((format(printf, 3, 4))) static void msgf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

char *snapshot_file_name(char *buf, size_t n, uint64_t seq)
{
	snprintf(buf, n, "snapshot-%020" PRIu64 ".parquet", seq);
	return buf;
}

int snapshot_parse_name(const char *name, uint64_t *seq)
{
	static const char pre[] = "snapshot-", suf[] = ".parquet";
	size_t plen = sizeof pre - 1, slen = sizeof suf - 1;
	uint64_t v = 0;

	if (strlen(name) != plen + NAME_DIGITS + slen || strncmp(name, pre, plen) != 0 ||
	    strcmp(name + plen + NAME_DIGITS, suf) != 0)
		return -EINVAL;
	for (size_t i = 0; i < NAME_DIGITS; i++) {
		char c = name[plen + i];
		if (c < '0' || c > '9' || v > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*seq = v;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Seqs of the snapshot files in dir, ascending. Count or -errno. */
static long list_snapshots(const char *dir, uint64_t **out)
{
	DIR *d = opendir(dir);
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	*out = NULL;
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		uint64_t seq;
		if (snapshot_parse_name(de->d_name, &seq) != 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			uint64_t *nv = realloc(v, nc * sizeof(*nv));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = seq;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
	*out = v;
	return (long)n;
}

/* Removes temporary files left by a crash in the middle of a snapshot. */
static void remove_stale_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, TMP_PREFIX, sizeof TMP_PREFIX - 1) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			log_warn("snapshot", "removed an unfinished snapshot left by a crash",
			         LF_S("file", path));
	}
	closedir(d);
}

snapshot_t *snapshot_create(const config *cfg, store_t *st)
{
	snapshot_t *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->st = st;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->info.last_ok = true;
	s->info.last_duration_ms = -1;
	s->info.last_save_time = real_ms() / 1000;
	return s;
}

/* ---- loading ---- */

static int load_file(snapshot_t *s, const char *path, bool need_seq, uint64_t want_seq,
                     int (*stop)(void), uint64_t *rows_out, char *err, size_t errlen)
{
	pqr_file *f = pqr_open(path, NULL, err, errlen);
	pqr_cursor *c = NULL;
	char seqtext[32];
	uint64_t rows = 0, skipped = 0;
	int rc = 0;

	if (f == NULL)
		return -EBADMSG;
	if (need_seq) {
		char *end;
		if (pqr_kv_get(f, SEQ_KEY, seqtext, sizeof seqtext) != 0 ||
		    strtoull(seqtext, &end, 10) != want_seq || *end != '\0' || end == seqtext) {
			msgf(err, errlen, "%s: footer key %s is missing or differs from the name",
			     path, SEQ_KEY);
			rc = -EBADMSG;
			goto out;
		}
	}
	int kc = pqr_find_column(f, "key"), vc = pqr_find_column(f, "value");
	int tc = pqr_find_column(f, "expires_at");
	if (kc < 0 || vc < 0) {
		msgf(err, errlen, "%s: no %s column", path, kc < 0 ? "key" : "value");
		rc = -EBADMSG;
		goto out;
	}
	/* Sized once for the file's rows: no table resizes during the load. */
	if (pqr_metadata(f)->num_rows > 0)
		store_reserve(s->st, (uint64_t)pqr_metadata(f)->num_rows);
	c = pqr_cursor_open(f, kc, vc, tc >= 0 ? tc : -1, err, errlen);
	if (c == NULL) {
		rc = -EBADMSG;
		goto out;
	}
	for (;;) {
		pqr_row row;
		rc = pqr_cursor_next(c, &row);
		if (rc < 0) {
			msgf(err, errlen, "%s", pqr_cursor_error(c));
			goto out;
		}
		if (rc == 0)
			break;
		rc = 0;
		if (row.key_null || row.value_null || (row.has_expiry && row.expires_ms <= 0)) {
			skipped++;
			continue;
		}
		int src = store_set(s->st, row.key, row.key_len, row.value, row.value_len,
		                    row.has_expiry ? row.expires_ms : 0);
		if (src != STORE_OK) {
			bool limit = src == STORE_EKEYTOOBIG || src == STORE_EVALTOOBIG;
			msgf(err, errlen,
			     "%s: row %" PRIu64 " (key %u bytes, value %u bytes): %s%s", path,
			     rows + skipped, row.key_len, row.value_len, store_strerror(src),
			     limit ? " (the snapshot holds it: raise --max-key-bytes / "
			             "--max-value-bytes to at least its size)"
			           : "");
			rc = limit ? -EFBIG : src == STORE_ENOMEM ? -ENOMEM : -EINVAL;
			goto out;
		}
		if (++rows % LOAD_POLL_ROWS == 0 && stop && stop()) {
			msgf(err, errlen, "loading interrupted by a signal");
			rc = -ECANCELED;
			goto out;
		}
	}
	if (skipped > 0)
		log_warn("snapshot", "rows without a key or value, or already expired, skipped",
		         LF_S("file", path), LF_U("rows", skipped));
	*rows_out = rows;
out:
	pqr_cursor_free(c);
	pqr_close(f);
	return rc;
}

int snapshot_load(snapshot_t *s, int (*stop)(void), uint64_t *seq, int *damaged, char *err,
                  size_t errlen)
{
	const char *dir = s->cfg->data_dir;
	uint64_t *seqs = NULL;
	char name[64], path[4096], ferr[512];
	uint64_t t0 = mono_ms();
	int rc = 0;

	*seq = 0;
	*damaged = 0;
	remove_stale_temps(dir);
	long n = list_snapshots(dir, &seqs);
	if (n < 0) {
		msgf(err, errlen, "cannot list %s: %s", dir, strerror((int)-n));
		return (int)n;
	}
	for (long i = n - 1; i >= 0; i--) {
		uint64_t rows = 0;
		struct stat sb;
		snprintf(path, sizeof path, "%s/%s", dir,
		         snapshot_file_name(name, sizeof name, seqs[i]));
		rc = load_file(s, path, true, seqs[i], stop, &rows, ferr, sizeof ferr);
		if (rc == 0) {
			*seq = seqs[i];
			pthread_mutex_lock(&s->mu);
			s->info.last_seq = seqs[i];
			s->info.last_rows = rows;
			if (stat(path, &sb) == 0) {
				s->info.last_bytes = (uint64_t)sb.st_size;
				s->info.last_save_time = (int64_t)sb.st_mtime;
			}
			pthread_mutex_unlock(&s->mu);
			log_info("snapshot", "loaded", LF_S("file", path), LF_U("seq", seqs[i]),
			         LF_U("rows", rows), LF_U("elapsed_ms", mono_ms() - t0));
			goto out;
		}
		if (rc == -ECANCELED || rc == -ENOMEM || rc == -EFBIG) {
			msgf(err, errlen, "%s", ferr);
			goto out;
		}
		(*damaged)++;
		/* Aside, not deleted: it no longer counts against --snapshots-keep
		 * (which would otherwise let the next snapshot delete the good one
		 * and the log behind it), and stays for inspection. */
		char aside[4200];
		snprintf(aside, sizeof aside, "%s.damaged", path);
		if (rename(path, aside) == 0)
			fsync_dir(dir);
		log_error("snapshot", "damaged snapshot skipped; trying the one before it",
		          LF_S("file", path), LF_S("error", ferr), LF_S("moved_to", aside));
		store_clear(s->st); /* no journal yet: nothing is logged */
		rc = 0;
	}
	/* No (good) snapshot: the original's file, if there is one. */
	if (n == 0 && s->cfg->file_path != NULL && access(s->cfg->file_path, F_OK) == 0) {
		uint64_t rows = 0;
		rc = load_file(s, s->cfg->file_path, false, 0, stop, &rows, ferr, sizeof ferr);
		if (rc < 0) {
			msgf(err, errlen, "storage.file_path: %s", ferr);
			goto out;
		}
		log_info("snapshot", "loaded storage.file_path (no snapshot yet)",
		         LF_S("file", s->cfg->file_path), LF_U("rows", rows));
	}
out:
	free(seqs);
	return rc;
}

/* ---- writing ---- */

struct write_ctx {
	pqw *w;
	uint64_t rows;
};

static int add_row(const void *key, size_t klen, const store_val *v, void *arg)
{
	struct write_ctx *c = arg;
	int rc = pqw_add(c->w, key, klen, v->val, v->vlen, v->expire_at_ms != 0, v->expire_at_ms);
	if (rc == 0)
		c->rows++;
	return rc;
}

/* Opens the writer on fd with the snapshot's options. */
static pqw *open_writer(const snapshot_t *s, int *fd, uint64_t seq)
{
	char seqtext[32];
	snprintf(seqtext, sizeof seqtext, "%" PRIu64, seq);
	pq_key_value kv = {.key = {(const uint8_t *)SEQ_KEY, (uint32_t)strlen(SEQ_KEY)},
	                   .has_value = true,
	                   .value = {(const uint8_t *)seqtext, (uint32_t)strlen(seqtext)}};
	pqw_options o;
	pqw_options_init(&o);
	o.codec = s->cfg->snapshot_compression;
	o.level = s->cfg->snapshot_compression_level;
	o.kv = &kv;
	o.num_kv = 1;
	return pqw_open(&o, pqw_write_fd, fd);
}

/* Writes the rows (the caller holds every shard lock or is the child) and
 * the footer, then fsyncs. Returns 0 or -errno with msg set. */
static int write_body(snapshot_t *s, int fd, uint64_t seq, int64_t now, bool unlock_after_rows,
                      uint64_t *rows, char *msg, size_t msglen)
{
	struct write_ctx c = {.w = NULL};
	int fdv = fd, rc;

	c.w = open_writer(s, &fdv, seq);
	if (c.w == NULL) {
		if (unlock_after_rows)
			store_unlock_all(s->st);
		msgf(msg, msglen, "cannot start the Parquet writer: out of memory");
		return -ENOMEM;
	}
	rc = store_foreach_locked(s->st, now, add_row, &c);
	if (unlock_after_rows)
		store_unlock_all(s->st);
	if (rc == 0)
		rc = pqw_finish(c.w);
	if (rc != 0)
		msgf(msg, msglen, "%s", pqw_error(c.w));
	else if (fsync(fd) != 0) {
		rc = -errno;
		msgf(msg, msglen, "fsync: %s", strerror(errno));
	}
	*rows = c.rows;
	pqw_free(c.w);
	return rc;
}

static void tmp_path(const snapshot_t *s, char *buf, size_t n, uint64_t seq, pid_t pid)
{
	snprintf(buf, n, "%s/" TMP_PREFIX "%020" PRIu64 "-%ld.parquet", s->cfg->data_dir, seq,
	         (long)pid);
}

/* Copies src to dst (when a hard link is impossible). 0 or -errno. */
static int copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	char *buf = NULL;

	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	buf = malloc(COPY_CHUNK);
	if (out < 0 || buf == NULL) {
		rc = out < 0 ? -errno : -ENOMEM;
		goto done;
	}
	for (;;) {
		ssize_t r = read(in, buf, COPY_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : 0;
			break;
		}
		if ((rc = pqw_write_fd(&out, buf, (size_t)r)) != 0)
			break;
	}
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
done:
	free(buf);
	if (out >= 0)
		close(out);
	close(in);
	return rc;
}

/* storage.file_path becomes the newest snapshot: a hard link (or a copy on
 * another file system) made under a temporary name and renamed over it. */
static void refresh_file_path(const snapshot_t *s, const char *final)
{
	const char *fp = s->cfg->file_path;
	char tmp[4096], dir[4096];
	int rc = 0;

	if (fp == NULL)
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp-link", fp);
	unlink(tmp);
	if (link(final, tmp) != 0)
		rc = errno == EXDEV || errno == EPERM ? copy_file(final, tmp) : -errno;
	if (rc == 0 && rename(tmp, fp) != 0)
		rc = -errno;
	if (rc == 0) {
		snprintf(dir, sizeof dir, "%s", fp);
		char *slash = strrchr(dir, '/');
		if (slash == NULL)
			snprintf(dir, sizeof dir, ".");
		else if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
		rc = fsync_dir(dir);
	}
	if (rc != 0) {
		unlink(tmp);
		log_error("snapshot", "storage.file_path not updated", LF_S("file", fp),
		          LF_S("error", strerror(-rc)));
	}
}

/* Removes snapshots beyond --snapshots-keep and the WAL segments that the
 * oldest kept one covers. */
static void clean_up(snapshot_t *s)
{
	const char *dir = s->cfg->data_dir;
	uint64_t *seqs = NULL, removed = 0;
	char name[64], path[4096];
	long n = list_snapshots(dir, &seqs);
	long keep = s->cfg->snapshots_keep > 0 ? s->cfg->snapshots_keep : 1;

	if (n <= 0)
		return;
	for (long i = 0; i + keep < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir,
		         snapshot_file_name(name, sizeof name, seqs[i]));
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("snapshot", "cannot remove an old snapshot", LF_S("file", path),
			         LF_S("error", strerror(errno)));
	}
	uint64_t oldest = seqs[n > keep ? n - keep : 0];
	int rc = wal_remove_through(dir, oldest, &removed);
	if (rc != 0)
		log_warn("snapshot", "cannot remove covered WAL segments", LF_S("dir", dir),
		         LF_S("error", strerror(-rc)));
	if (n > keep || removed > 0)
		fsync_dir(dir);
	pthread_mutex_lock(&s->mu);
	s->info.wal_segments_removed += removed;
	pthread_mutex_unlock(&s->mu);
	free(seqs);
}

/* The file at tmp is complete and fsynced: checks its footer, renames it
 * into place, makes the rename durable, then cleans up. 0 or -errno. */
static int finalize(snapshot_t *s, const char *tmp, uint64_t seq, uint64_t rows, char *msg,
                    size_t msglen)
{
	char name[64], final[4096], verr[256];
	struct stat sb;
	pqr_file *f = pqr_open(tmp, NULL, verr, sizeof verr);

	if (f == NULL || pqr_metadata(f)->num_rows != (int64_t)rows) {
		msgf(msg, msglen, "the written file does not verify: %s",
		     f == NULL ? verr : "row count differs");
		pqr_close(f);
		return -EIO;
	}
	pqr_close(f);
	snprintf(final, sizeof final, "%s/%s", s->cfg->data_dir,
	         snapshot_file_name(name, sizeof name, seq));
	if (rename(tmp, final) != 0) {
		msgf(msg, msglen, "rename to %s: %s", final, strerror(errno));
		return -errno;
	}
	int rc = fsync_dir(s->cfg->data_dir);
	if (rc != 0) {
		msgf(msg, msglen, "fsync directory %s: %s", s->cfg->data_dir, strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	s->info.last_bytes = stat(final, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	pthread_mutex_unlock(&s->mu);
	refresh_file_path(s, final);
	clean_up(s);
	return 0;
}

/* Records the outcome of an attempt that began at start_mono. */
static void record(snapshot_t *s, int rc, uint64_t seq, uint64_t rows, uint64_t wal_bytes,
                   uint64_t start_mono, const char *kind, const char *msg)
{
	uint64_t ms = mono_ms() - start_mono;

	pthread_mutex_lock(&s->mu);
	s->info.last_ok = rc == 0;
	if (rc == 0) {
		s->info.last_save_time = real_ms() / 1000;
		s->info.last_duration_ms = (int64_t)ms;
		s->info.last_seq = seq;
		s->info.last_rows = rows;
		s->info.saves++;
		s->info.last_error[0] = '\0';
		s->wal_bytes_at = wal_bytes;
		s->retry_ms = 0;
	} else {
		s->info.failures++;
		msgf(s->info.last_error, sizeof s->info.last_error, "%s", msg);
		s->retry_ms = s->retry_ms ? s->retry_ms * 2 : RETRY_FIRST_MS;
	}
	/* Without timed snapshots the retry still backs off, up to a minute. */
	uint64_t every =
	        s->cfg->snapshot_every > 0 ? (uint64_t)s->cfg->snapshot_every * 1000u : 60000u;
	uint64_t wait = rc == 0 ? every : (s->retry_ms < every ? s->retry_ms : every);
	s->next_try_mono = mono_ms() + wait;
	uint64_t bytes = s->info.last_bytes;
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		log_info("snapshot", "saved", LF_S("kind", kind), LF_U("seq", seq),
		         LF_U("rows", rows), LF_U("bytes", bytes), LF_U("elapsed_ms", ms));
	else
		log_error("snapshot", "snapshot failed", LF_S("kind", kind), LF_S("error", msg));
}

static uint64_t hook_last_seq(const snapshot_t *s)
{
	return s->has_hooks ? s->hooks.last_seq(s->hooks.arg) : s->info.last_seq;
}

static uint64_t hook_wal_bytes(const snapshot_t *s)
{
	return s->has_hooks && s->hooks.wal_bytes ? s->hooks.wal_bytes(s->hooks.arg) : 0;
}

/* Foreground: every shard lock held while the rows are written. */
static int save_here(snapshot_t *s, const char *kind, char *err, size_t errlen)
{
	char tmp[4096], msg[256] = "";
	uint64_t start = mono_ms(), rows = 0, wal_bytes = hook_wal_bytes(s);
	int rc;

	store_lock_all(s->st);
	uint64_t seq = hook_last_seq(s);
	int64_t now = real_ms();
	tmp_path(s, tmp, sizeof tmp, seq, getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		store_unlock_all(s->st);
		msgf(msg, sizeof msg, "create %s: %s", tmp, strerror(-rc));
	} else {
		rc = write_body(s, fd, seq, now, true, &rows, msg, sizeof msg);
		if (close(fd) != 0 && rc == 0) {
			rc = -errno;
			msgf(msg, sizeof msg, "close: %s", strerror(-rc));
		}
		if (rc == 0)
			rc = finalize(s, tmp, seq, rows, msg, sizeof msg);
		if (rc != 0)
			unlink(tmp);
	}
	record(s, rc, seq, rows, wal_bytes, start, kind, msg);
	if (rc != 0)
		msgf(err, errlen, "%s", msg);
	return rc;
}

int snapshot_save(snapshot_t *s, char *err, size_t errlen)
{
	pthread_mutex_lock(&s->mu);
	if (s->running || s->bg_requested || s->bg_follow || s->shut) {
		pthread_mutex_unlock(&s->mu);
		msgf(err, errlen,
		     s->shut ? "the server is shutting down"
		             : "Background save already in progress");
		return -EBUSY;
	}
	s->running = true;
	s->info.in_progress = true;
	s->info.current_start_ms = real_ms();
	pthread_mutex_unlock(&s->mu);
	int rc = save_here(s, "save", err, errlen);
	pthread_mutex_lock(&s->mu);
	s->running = false;
	s->info.in_progress = false;
	s->info.current_start_ms = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The child: closes what it inherited but the pipe, writes, reports. */
static void child_main(snapshot_t *s, int wfd, uint64_t seq, int64_t now, const char *tmp)
{
	struct child_report r = {.rc = 0};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Listening sockets and client connections stay the parent's: a child
	 * outliving it must not keep its port. */
	if (wfd > 3)
		close_range(3, (unsigned)wfd - 1, 0);
	close_range((unsigned)wfd + 1, ~0u, 0);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r.rc = -errno;
		msgf(r.msg, sizeof r.msg, "create %s: %s", tmp, strerror(errno));
	} else {
		r.rc = write_body(s, fd, seq, now, false, &r.rows, r.msg, sizeof r.msg);
		if (close(fd) != 0 && r.rc == 0) {
			r.rc = -errno;
			msgf(r.msg, sizeof r.msg, "close: %s", strerror(errno));
		}
	}
	ssize_t ignored = write(wfd, &r, sizeof r);
	(void)ignored;
	_exit(r.rc == 0 ? 0 : 1);
}

/* Runs one background snapshot on the scheduler thread. */
static void run_bgsave(snapshot_t *s)
{
	char tmp[4096], msg[256] = "";
	struct child_report rep = {.rc = -EIO};
	uint64_t start = mono_ms(), wal_bytes = hook_wal_bytes(s);
	int pfd[2], rc = 0, status = 0;
	size_t got = 0;

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		msgf(msg, sizeof msg, "pipe: %s", strerror(errno));
		record(s, -errno, 0, 0, wal_bytes, start, "bgsave", msg);
		return;
	}
	store_lock_all(s->st);
	uint64_t seq = hook_last_seq(s);
	int64_t now = real_ms();
	pid_t parent = getpid();
	tmp_path(s, tmp, sizeof tmp, seq, parent);
	pid_t pid = fork();
	if (pid == 0)
		child_main(s, pfd[1], seq, now, tmp); /* never returns */
	int fork_errno = errno;
	store_unlock_all(s->st);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		msgf(msg, sizeof msg, "fork: %s", strerror(fork_errno));
		record(s, -fork_errno, seq, 0, wal_bytes, start, "bgsave", msg);
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->child = pid;
	pthread_mutex_unlock(&s->mu);
	uint64_t fork_ms = mono_ms() - start;
	log_info("snapshot", "background snapshot started", LF_U("seq", seq),
	         LF_I("pid", (int64_t)pid), LF_U("fork_ms", fork_ms));

	/* Read the report; a stop request kills the child. */
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int pr = poll(&p, 1, SCHED_TICK_MS);
		pthread_mutex_lock(&s->mu);
		bool stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop) {
			kill(pid, SIGKILL);
			break;
		}
		if (pr <= 0)
			continue;
		ssize_t r = read(pfd[0], (char *)&rep + got, sizeof rep - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof rep)
			break;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&s->mu);
	s->child = 0;
	pthread_mutex_unlock(&s->mu);
	if (got == sizeof rep && WIFEXITED(status) && WEXITSTATUS(status) == 0 && rep.rc == 0) {
		rc = finalize(s, tmp, seq, rep.rows, msg, sizeof msg);
	} else {
		rc = -EIO;
		if (got == sizeof rep && rep.rc != 0)
			msgf(msg, sizeof msg, "%s", rep.msg);
		else if (WIFSIGNALED(status))
			msgf(msg, sizeof msg, "the snapshot child was killed by signal %d",
			     WTERMSIG(status));
		else
			msgf(msg, sizeof msg, "the snapshot child failed (status %d)", status);
	}
	if (rc != 0)
		unlink(tmp);
	record(s, rc, seq, rep.rows, wal_bytes, start, "bgsave", msg);
}

static bool due(snapshot_t *s, uint64_t now_mono)
{
	if (s->bg_requested)
		return true;
	uint64_t changes = hook_last_seq(s) - s->info.last_seq;
	if (changes == 0)
		return false;
	if (s->cfg->snapshot_every > 0 && now_mono >= s->next_try_mono &&
	    changes >= (uint64_t)s->cfg->snapshot_min_changes)
		return true;
	/* After a failure, both triggers wait for the retry time. */
	if (s->cfg->snapshot_wal_bytes > 0 && (s->retry_ms == 0 || now_mono >= s->next_try_mono) &&
	    hook_wal_bytes(s) - s->wal_bytes_at >= s->cfg->snapshot_wal_bytes)
		return true;
	return false;
}

static void *scheduler_main(void *arg)
{
	snapshot_t *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		if (!s->running && due(s, mono_ms())) {
			s->bg_requested = false;
			s->running = s->bg_running = true;
			s->info.in_progress = true;
			s->info.current_start_ms = real_ms();
			pthread_mutex_unlock(&s->mu);
			run_bgsave(s);
			pthread_mutex_lock(&s->mu);
			s->running = s->bg_running = false;
			s->info.in_progress = false;
			s->info.current_start_ms = 0;
			if (s->bg_follow && !s->bg_requested) {
				s->bg_follow = false;
				s->bg_requested = true;
			}
			pthread_cond_broadcast(&s->cv);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += SCHED_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int snapshot_start(snapshot_t *s, const snapshot_hooks *h, uint64_t loaded_seq, char *err,
                   size_t errlen)
{
	s->hooks = *h;
	s->has_hooks = true;
	pthread_mutex_lock(&s->mu);
	s->info.last_seq = loaded_seq;
	s->wal_bytes_at = hook_wal_bytes(s);
	s->next_try_mono = mono_ms() + (uint64_t)s->cfg->snapshot_every * 1000u;
	pthread_mutex_unlock(&s->mu);
	int rc = pthread_create(&s->thread, NULL, scheduler_main, s);
	if (rc != 0) {
		msgf(err, errlen, "cannot start the snapshot thread: %s", strerror(rc));
		return -rc;
	}
	s->thread_started = true;
	return 0;
}

int snapshot_bgsave(snapshot_t *s, bool schedule, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (s->shut || !s->thread_started) {
		msgf(err, errlen, "the server is not ready for snapshots");
		rc = -EAGAIN;
	} else if (s->running || s->bg_requested) {
		if (schedule) {
			s->bg_follow = true; /* the scheduler starts it after this one */
			rc = 1;
		} else {
			msgf(err, errlen, "Background save already in progress");
			rc = -EINPROGRESS;
		}
	} else {
		s->bg_requested = true;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void snapshot_info_get(snapshot_t *s, snapshot_info *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->info;
	pthread_mutex_unlock(&s->mu);
}

int snapshot_shutdown(snapshot_t *s, bool save)
{
	char err[256];
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (s->shut) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	s->stop = true;
	if (s->child > 0)
		kill(s->child, SIGKILL);
	pthread_cond_broadcast(&s->cv);
	/* A foreground SAVE on a worker finishes first (workers have stopped,
	 * so none can be running; this is belt and braces). */
	while (s->running && !s->bg_running)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (s->thread_started) {
		pthread_join(s->thread, NULL);
		s->thread_started = false;
	}
	pthread_mutex_lock(&s->mu);
	s->shut = true;
	bool changed = s->has_hooks && hook_last_seq(s) != s->info.last_seq;
	pthread_mutex_unlock(&s->mu);
	if (save && changed) {
		rc = save_here(s, "shutdown", err, sizeof err);
		if (rc != 0)
			log_error("snapshot",
			          "no snapshot at shutdown; the log still holds everything",
			          LF_S("error", err));
	}
	return rc;
}

void snapshot_free(snapshot_t *s)
{
	if (s == NULL)
		return;
	snapshot_shutdown(s, false);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
