/* persist.c - recovery at start-up and the store's journal on the WAL.
 *
 * The journal callback runs under the store's shard lock(s) and only encodes
 * into the WAL's pending buffer (wal_append does no I/O), so a write costs
 * the shard lock plus the WAL mutex; the worker writes them at the end of
 * its loop turn (persist_flush) and the syncer thread fsyncs. A
 * change of several keys is one wal_append, which the WAL makes atomic on
 * disk (WAL_FLAG_MORE). Expiries and evictions are logged as DEL records
 * too, but a failure to log one does not stop it: a replayed SET carries its
 * absolute expiry, and an evicted key coming back after a crash is within
 * what eviction promises (it is counted in lost_journal).
 */
#include "persist.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "snapshot.h"

#define STOP_POLL_RECORDS 65536u

_Static_assert((int)STORE_CH_SET == (int)WAL_OP_SET && (int)STORE_CH_DEL == (int)WAL_OP_DEL &&
                       (int)STORE_CH_EXPIRE == (int)WAL_OP_EXPIRE &&
                       (int)STORE_CH_FLUSHALL == (int)WAL_OP_FLUSHALL,
               "store change ops are WAL ops");

struct persist {
	const config *cfg;
	store_t *st;
	wal_t *wal;
	mx_hist fsync_hist; /* the WAL's fdatasync times (its fsync hook) */
	snapshot_t *snap;   /* created by persist_load */
	wal_notify_fn notify;
	void *notify_arg;
	atomic_int loading;
	int policy;
	int (*stop)(void);
	int stopped; /* the replay ended because stop() said so */
	uint64_t replayed;
	char replay_err[256];
	uint64_t records_loaded;
	uint64_t load_ms;
	_Atomic uint64_t last_seq;
	_Atomic uint64_t lost_journal;
	atomic_int shutdown_save; /* -1: cfg->snapshot_on_shutdown */
};

static void on_fsync(void *arg, uint64_t ns);

static _Thread_local uint64_t tl_seq;
static _Thread_local int tl_dirty; /* appended since the last persist_flush */

persist_t *persist_create(const config *cfg, store_t *st)
{
	persist_t *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cfg = cfg;
	p->st = st;
	p->policy = cfg->fsync;
	atomic_store(&p->loading, 1);
	atomic_store(&p->shutdown_save, -1);
	return p;
}

void persist_set_notify(persist_t *p, wal_notify_fn fn, void *arg)
{
	p->notify = fn;
	p->notify_arg = arg;
}

/* The largest record this configuration can produce: a key and a value at
 * their limits. */
static size_t max_record(const config *cfg)
{
	uint64_t n = (uint64_t)WAL_REC_FIXED_SIZE + cfg->max_key_bytes + cfg->max_value_bytes;
	uint64_t cap = (uint64_t)WAL_REC_HEADER_SIZE + WAL_MAX_BODY;
	return (size_t)(n < cap ? n : cap);
}

/* ---- journal ---- */

static int journal(const store_change *ch, size_t n, int cause, void *arg)
{
	persist_t *p = arg;
	wal_record stack[4] = {{0}};
	wal_record *r = stack;
	uint64_t last = 0;

	if (n > sizeof(stack) / sizeof(stack[0])) {
		r = malloc(n * sizeof(*r));
		if (r == NULL)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		r[i] = (wal_record){.op = (uint8_t)ch[i].op,
		                    .expire_at_ms = ch[i].expire_at_ms,
		                    .key = ch[i].key,
		                    .klen = ch[i].klen,
		                    .val = ch[i].val,
		                    .vlen = ch[i].vlen};
	int rc = wal_append(p->wal, r, n, &last);
	if (r != stack)
		free(r);
	if (rc == -EINVAL)
		rc = -EFBIG; /* a record the format cannot hold: key + value near 4 GiB */
	if (rc == 0) {
		tl_dirty = 1;
		atomic_store_explicit(&p->last_seq, last, memory_order_relaxed);
		if (cause == STORE_CAUSE_WRITE)
			tl_seq = last;
	} else if (cause != STORE_CAUSE_WRITE) {
		atomic_fetch_add_explicit(&p->lost_journal, 1, memory_order_relaxed);
	}
	return rc;
}

/* ---- recovery ---- */

#define WAL_START_FILE "WAL_START"

/* The first seq the log may start at: 1, or what WAL_START records. */
static uint64_t read_wal_start(const char *dir)
{
	char path[4096], text[32];
	snprintf(path, sizeof path, "%s/%s", dir, WAL_START_FILE);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 1;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || v == 0)
		return 1;
	return (uint64_t)v;
}

/* Records seq as the log's start: temp file, fsync, rename, directory
 * fsync. 0 or -errno. */
static int write_wal_start(const char *dir, uint64_t seq)
{
	char path[4096], tmp[4096], text[32];
	snprintf(path, sizeof path, "%s/%s", dir, WAL_START_FILE);
	snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, WAL_START_FILE);
	int len = snprintf(text, sizeof text, "%" PRIu64 "\n", seq);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (write(fd, text, (size_t)len) != len || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc == 0) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) != 0)
			rc = -errno;
		if (dfd >= 0)
			close(dfd);
	}
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static int expire_update(const store_val *cur, store_upd *u, void *arg)
{
	if (cur != NULL) {
		u->action = STORE_UPD_SET_EXPIRE;
		u->expire_at_ms = *(const int64_t *)arg;
	}
	return STORE_OK;
}

static int replay(const wal_record *r, void *arg)
{
	persist_t *p = arg;
	int rc = STORE_OK;

	switch (r->op) {
	case WAL_OP_SET:
		rc = store_set(p->st, r->key, r->klen, r->val, r->vlen, r->expire_at_ms);
		break;
	case WAL_OP_DEL:
		rc = store_del(p->st, r->key, r->klen);
		if (rc == STORE_ENOTFOUND)
			rc = STORE_OK;
		break;
	case WAL_OP_EXPIRE: {
		int64_t at = r->expire_at_ms;
		rc = store_update(p->st, r->key, r->klen, expire_update, &at);
		break;
	}
	case WAL_OP_FLUSHALL:
		rc = store_clear(p->st);
		break;
	default:
		rc = STORE_EJOURNAL; /* the decoder lets no other op through */
		break;
	}
	if (rc != STORE_OK) {
		const char *hint = rc == STORE_EKEYTOOBIG || rc == STORE_EVALTOOBIG
		                           ? " (the log holds it: raise --max-key-bytes / "
		                             "--max-value-bytes to at least its size)"
		                           : "";
		snprintf(p->replay_err, sizeof p->replay_err,
		         "replaying record %" PRIu64
		         " (op %u, key %zu bytes, value %zu bytes): %s%s",
		         r->seq, r->op, r->klen, r->vlen, store_strerror(rc), hint);
		return -1;
	}
	if (++p->replayed % STOP_POLL_RECORDS == 0 && p->stop && p->stop()) {
		p->stopped = 1;
		snprintf(p->replay_err, sizeof p->replay_err, "loading interrupted by a signal");
		return -1;
	}
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t hook_last_seq(void *arg)
{
	persist_t *p = arg;
	return wal_last_seq(p->wal);
}

static uint64_t hook_wal_bytes(void *arg)
{
	persist_t *p = arg;
	wal_stats ws;
	wal_stats_get(p->wal, &ws);
	return ws.bytes;
}

int persist_load(persist_t *p, int (*stop)(void), char *err, size_t errlen)
{
	const config *cfg = p->cfg;
	wal_recovery rec;
	uint64_t t0 = mono_ms(), snap_seq = 0;
	int damaged = 0;

	p->stop = stop;
	p->stopped = 0;
	p->replayed = 0;
	p->replay_err[0] = '\0';
	log_info("persist", "loading", LF_S("data_dir", cfg->data_dir));
	/* The decoder accepts any record the format allows, not only what
	 * today's limits produce, so that lowering --max-value-bytes does not
	 * turn old records into "corruption"; the store then refuses a record
	 * over its limits, and start-up fails naming it (replay). */
	store_pause_expiry(p->st, 1);
	if (p->snap == NULL && (p->snap = snapshot_create(cfg, p->st)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* The newest good snapshot, then the log after it. */
	int rc = snapshot_load(p->snap, stop, &snap_seq, &damaged, err, errlen);
	if (rc < 0)
		return rc;
	rc = wal_recover_from(cfg->data_dir, (size_t)WAL_REC_HEADER_SIZE + WAL_MAX_BODY,
	                      cfg->wal_recover, snap_seq, replay, p, &rec, err, errlen);
	if (rc < 0) {
		if (p->stopped)
			return -ECANCELED;
		if (p->replay_err[0] != '\0') {
			snprintf(err, errlen, "%s", p->replay_err);
			return -EINVAL;
		}
		return rc;
	}
	/* Segments are only deleted once a snapshot holds their records, so
	 * the log must start right after the loaded snapshot (or earlier), at
	 * seq 1 without one, or where an operator accepted it to start
	 * (WAL_START, written by a --wal-recover truncate start). */
	uint64_t base = read_wal_start(cfg->data_dir);
	if (snap_seq + 1 > base)
		base = snap_seq + 1;
	/* The first segment's name, not its first record: a log whose only
	 * segment is empty (opened by a rotation) still says where it starts. */
	uint64_t log_start = rec.first_seq != 0 ? rec.first_seq : rec.first_segment_seq;
	if (log_start != 0 && log_start > base) {
		if (!cfg->wal_recover) {
			snprintf(err, errlen,
			         "wal: the log in %s starts at seq %" PRIu64
			         " but the records from seq %" PRIu64
			         " are needed: the segments before it are missing%s "
			         "(--wal-recover truncate starts with what is there)",
			         cfg->data_dir, log_start, base,
			         damaged > 0 ? " and the newest snapshot is damaged" : "");
			return -EBADMSG;
		}
		if ((rc = write_wal_start(cfg->data_dir, log_start)) < 0) {
			snprintf(err, errlen, "cannot record the log's new start in %s/%s: %s",
			         cfg->data_dir, WAL_START_FILE, strerror(-rc));
			return rc;
		}
		log_error("persist",
		          "the log's first segments are missing; starting without them (records "
		          "before first_seq are lost)",
		          LF_U("first_seq", log_start), LF_S("recorded_in", WAL_START_FILE));
	}
	uint64_t ms = mono_ms() - t0;
	p->records_loaded = rec.records;
	p->load_ms = ms;
	log_info("persist", "recovered", LF_U("snapshot_seq", snap_seq),
	         LF_U("records", rec.records), LF_U("segments", rec.segments),
	         LF_U("last_seq", rec.last_seq), LF_U("truncated_bytes", rec.truncated_bytes),
	         LF_U("keys", store_count(p->st)), LF_U("elapsed_ms", ms),
	         LF_U("records_per_sec", rec.records * 1000u / (ms > 0 ? ms : 1)));

	/* A snapshot may hold more than the log (everysec lost its tail). */
	uint64_t last = rec.last_seq > snap_seq ? rec.last_seq : snap_seq;
	wal_options wo = {.dir = cfg->data_dir,
	                  .fsync_policy = p->policy,
	                  .segment_bytes = cfg->wal_segment_bytes,
	                  .next_seq = last + 1,
	                  .max_record = max_record(cfg)};
	p->wal = wal_open(&wo, err, errlen);
	if (p->wal == NULL)
		return -EIO;
	atomic_store(&p->last_seq, last);
	snapshot_hooks hooks = {.last_seq = hook_last_seq, .wal_bytes = hook_wal_bytes, .arg = p};
	if ((rc = snapshot_start(p->snap, &hooks, snap_seq, err, errlen)) < 0)
		return rc;
	if (p->notify)
		wal_set_notify(p->wal, p->notify, p->notify_arg);
	wal_set_fsync_hook(p->wal, on_fsync, p);
	store_set_journal(p->st, journal, p);
	/* From here keys whose time passed are removed, each as a DEL. */
	store_pause_expiry(p->st, 0);
	atomic_store_explicit(&p->loading, 0, memory_order_release);
	return 0;
}

/* ---- queries ---- */

int persist_loading(const persist_t *p)
{
	return atomic_load_explicit(&p->loading, memory_order_acquire);
}

int persist_holds_replies(const persist_t *p)
{
	return p->policy == WAL_FSYNC_ALWAYS;
}

uint64_t persist_thread_seq(void)
{
	return tl_seq;
}

/* The log, once loading is over (its pointer is published by the release
 * store of loading = 0). */
static wal_t *live_wal(const persist_t *p)
{
	return persist_loading(p) ? NULL : p->wal;
}

uint64_t persist_durable_seq(const persist_t *p)
{
	wal_t *w = live_wal(p);
	return w ? wal_durable_seq(w) : 0;
}

void persist_flush(persist_t *p)
{
	if (!tl_dirty)
		return;
	tl_dirty = 0;
	wal_t *w = live_wal(p);
	if (w)
		wal_flush(w); /* an error becomes the WAL's sticky error */
}

uint64_t persist_ack_seq(const persist_t *p)
{
	wal_t *w = live_wal(p);
	if (w == NULL)
		return 0;
	return p->policy == WAL_FSYNC_ALWAYS ? wal_durable_seq(w) : wal_written_seq(w);
}

int persist_write_error(const persist_t *p)
{
	wal_t *w = live_wal(p);
	return w ? wal_error(w) : 0;
}

static const double fsync_seconds[] = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,    0.25,  0.5,    1,     2.5,  5};
static mx_bounds fsync_bounds;
static pthread_once_t fsync_bounds_once = PTHREAD_ONCE_INIT;

static void fsync_bounds_init(void)
{
	mx_bounds_init(&fsync_bounds, fsync_seconds,
	               sizeof(fsync_seconds) / sizeof(fsync_seconds[0]));
}

const mx_bounds *persist_fsync_bounds(void)
{
	pthread_once(&fsync_bounds_once, fsync_bounds_init);
	return &fsync_bounds;
}

/* The WAL's fsync hook: its sync lock serialises the calls. */
static void on_fsync(void *arg, uint64_t ns)
{
	persist_t *p = arg;
	mx_hist_observe_ns(&p->fsync_hist, persist_fsync_bounds(), ns);
}

void persist_fsync_histogram(persist_t *p, struct mx_hist_snap *out)
{
	mx_hist_snap_clear(out);
	mx_hist_snap_add(out, &p->fsync_hist, persist_fsync_bounds());
}

void persist_info_get(const persist_t *p, persist_info *out)
{
	*out = (persist_info){.loading = persist_loading(p),
	                      .fsync_policy = p->policy,
	                      .write_error = persist_write_error(p),
	                      .durable_seq = persist_durable_seq(p),
	                      .last_seq = atomic_load(&p->last_seq),
	                      .records_loaded = persist_loading(p) ? 0 : p->records_loaded,
	                      .load_ms = persist_loading(p) ? 0 : p->load_ms,
	                      .lost_journal = atomic_load(&p->lost_journal)};
	if (live_wal(p)) {
		wal_stats_get(p->wal, &out->wal);
		snapshot_info_get(p->snap, &out->snap);
	}
}

int persist_save(persist_t *p, int mode, char *err, size_t errlen)
{
	if (persist_loading(p) || p->snap == NULL) {
		snprintf(err, errlen, "the data set is still loading");
		return -EAGAIN;
	}
	if (mode == PERSIST_SAVE)
		return snapshot_save(p->snap, err, errlen);
	return snapshot_bgsave(p->snap, mode == PERSIST_BGSAVE_SCHEDULE, err, errlen);
}

void persist_set_shutdown_save(persist_t *p, int save)
{
	atomic_store(&p->shutdown_save, save);
}

int persist_close(persist_t *p)
{
	if (p->wal == NULL) {
		snapshot_free(p->snap);
		p->snap = NULL;
		return 0;
	}
	/* The closing snapshot first: it reads the log's last seq, and then
	 * removes the segments it covers (never the open one), which from
	 * here on stays the open one (wal_quiesce). */
	wal_quiesce(p->wal);
	int save = atomic_load(&p->shutdown_save);
	snapshot_shutdown(p->snap, save >= 0 ? save != 0 : p->cfg->snapshot_on_shutdown);
	snapshot_free(p->snap);
	p->snap = NULL;
	store_set_journal(p->st, NULL, NULL);
	int rc = wal_shutdown(p->wal);
	if (rc == 0)
		log_info("persist", "write-ahead log flushed and closed",
		         LF_U("durable_seq", wal_durable_seq(p->wal)));
	wal_close(p->wal);
	p->wal = NULL;
	return rc;
}

void persist_free(persist_t *p)
{
	if (p == NULL)
		return;
	persist_close(p);
	free(p);
}
