/* test_persist.c - end-to-end tests of persistence (src/persist.c): every
 * store operation goes through the journal into a real write-ahead log in a
 * temporary directory, and a fresh store loaded from that directory holds
 * the same keys, values and expiries. Also: recovery across many segments,
 * which fsync policy holds replies, the per-thread and durable sequence
 * numbers, a damaged segment refused (naming file and offset) or cut with
 * wal_recover, a record the log cannot hold refused without changing the
 * store, and concurrent writers on shared keys replayed in their order.
 *
 * Every test works in its own mkdtemp directory under $TMPDIR (or /tmp) and
 * removes it; every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "persist.h"
#include "store.h"
#include "store_testlib.h"
#include "wal.h"

#define HOUR_MS         (3600 * 1000)
#define WAIT_MS         5000 /* bound on every wait for the WAL's writer thread */
#define SMALL_SEGMENT   4096u
#define FIRST_SEGMENT   "wal-00000000000000000001.log"
#define FIXED_KEY_LEN   9  /* "key:%05u" */
#define FIXED_VALUE_LEN 32 /* fixed_value() */

/* ---- Directories ---- */

static char *make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[512];

	snprintf(path, sizeof path, "%s/minidb_persist_test.XXXXXX",
	         tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	char *d = strdup(path);
	assert_non_null(d);
	if (mkdtemp(d) == NULL)
		fail_msg("mkdtemp %s: %s", path, strerror(errno));
	return d;
}

/* The WAL writes only flat files into its directory. */
static void remove_dir(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	char p[1024];

	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", d, de->d_name);
		assert_int_equal(unlink(p), 0);
	}
	closedir(dp);
	assert_int_equal(rmdir(d), 0);
}

static int count_segments(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	uint64_t seq;
	int n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL)
		n += wal_parse_segment_name(de->d_name, &seq) == WAL_OK;
	closedir(dp);
	return n;
}

/* ---- A log directory, and stores loaded from it ---- */

struct fixture {
	char *dir;
	config cfg; /* persist keeps a pointer to it */
};

/* A store with its log. */
struct db {
	store_t *st;
	persist_t *p;
};

/* cmocka setup: a fresh directory and a default configuration naming it.
 * The teardown removes both, whether or not the test passed. */
static int fx_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = make_dir();
	config_defaults(&f->cfg);
	free(f->cfg.data_dir);
	f->cfg.data_dir = strdup(f->dir);
	assert_non_null(f->cfg.data_dir);
	/* These tests are about the log: no snapshot replaces it unless a test
	 * asks for one. */
	f->cfg.snapshot_on_shutdown = false;
	f->cfg.snapshot_every = 0;
	f->cfg.snapshot_wal_bytes = 0;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fixture *f = *state;
	remove_dir(f->dir);
	free(f->dir);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static struct fixture *fx_get(void **state, int policy, size_t segment_bytes)
{
	struct fixture *f = *state;
	f->cfg.fsync = policy;
	f->cfg.wal_segment_bytes = segment_bytes;
	return f;
}

/* A fresh store and persist_load of the fixture's directory: the result of
 * persist_load, with its message in err. */
static int db_try_open(const struct fixture *f, struct db *d, char *err, size_t errlen)
{
	d->st = store_create(NULL);
	assert_non_null(d->st);
	d->p = persist_create(&f->cfg, d->st);
	assert_non_null(d->p);
	err[0] = '\0';
	return persist_load(d->p, NULL, err, errlen);
}

/* As db_try_open, which must succeed replaying exactly records records
 * (those after the snapshot, when there is one) with last as the log's
 * last seq. */
static void db_open_from(const struct fixture *f, struct db *d, uint64_t records, uint64_t last)
{
	char err[512];
	int rc = db_try_open(f, d, err, sizeof err);
	if (rc != 0)
		fail_msg("persist_load: %d: %s", rc, err);
	persist_info info;
	persist_info_get(d->p, &info);
	assert_int_equal(info.loading, 0);
	assert_int_equal(info.records_loaded, records);
	assert_int_equal(info.last_seq, last);
}

/* db_open_from without a snapshot: a fresh log starts at seq 1. */
static void db_open(const struct fixture *f, struct db *d, uint64_t records)
{
	db_open_from(f, d, records, records);
}

/* Closes the log (everything appended made durable); the store stays, to
 * be compared with the next one loaded. */
static void db_close_log(struct db *d)
{
	if (d->p == NULL)
		return;
	assert_int_equal(persist_close(d->p), 0);
	persist_free(d->p);
	d->p = NULL;
}

static void db_close(struct db *d)
{
	db_close_log(d);
	store_free(d->st);
	d->st = NULL;
}

static uint64_t last_seq(const persist_t *p)
{
	persist_info info;
	persist_info_get(p, &info);
	return info.last_seq;
}

/* Waits (bounded) until seq is durable. */
static void wait_durable(const persist_t *p, uint64_t seq)
{
	for (int i = 0; i < WAIT_MS && persist_durable_seq(p) < seq; i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	if (persist_durable_seq(p) < seq)
		fail_msg("durable_seq %" PRIu64 " still below %" PRIu64 " after %d ms",
		         persist_durable_seq(p), seq, WAIT_MS);
}

/* ---- Whole-store comparison ---- */

/* Fails naming the first difference between the stores' keys. */
static void assert_same_keys(store_t *a, store_t *b)
{
	struct dump x = dump_store(a), y = dump_store(b);

	for (size_t i = 0; i < x.len && i < y.len; i++) {
		const struct kv *p = &x.kv[i], *q = &y.kv[i];
		if (kv_cmp(p, q) != 0)
			fail_msg("key %.*s is missing on one side", (int)p->klen,
			         (const char *)p->key);
		if (p->vlen != q->vlen || (p->vlen > 0 && memcmp(p->val, q->val, p->vlen) != 0))
			fail_msg("value of %.*s differs", (int)p->klen, (const char *)p->key);
		if (p->expire_at_ms != q->expire_at_ms)
			fail_msg("expiry of %.*s: %" PRId64 " vs %" PRId64, (int)p->klen,
			         (const char *)p->key, p->expire_at_ms, q->expire_at_ms);
	}
	if (x.len != y.len)
		fail_msg("%zu keys vs %zu", x.len, y.len);
	/* Keys whose time passed are loaded too (a later record may revive
	 * them: see store_pause_expiry) and then left to lazy or active expiry,
	 * so the count may include them; SCAN never reports them. */
	assert_true(store_count(b) >= y.len);
	dump_free(&x);
	dump_free(&y);
}

/* ---- Operations with C strings ---- */

static void set(store_t *st, const char *key, const char *val, int64_t expire_at_ms)
{
	assert_int_equal(store_set(st, key, strlen(key), val, strlen(val), expire_at_ms), STORE_OK);
}

static bool has(store_t *st, const char *key)
{
	return store_exists(st, key, strlen(key)) == 1;
}

/* What an update callback is told to do. */
struct upd {
	enum store_upd_action action;
	const char *add; /* WRITE: appended to the current value */
	int64_t expire_at_ms;
	bool keep_ttl;
};

static void append_fill(char *dst, const store_val *cur, void *arg)
{
	const struct upd *u = arg;
	size_t n = cur != NULL ? cur->vlen : 0;

	if (n > 0)
		memcpy(dst, cur->val, n);
	memcpy(dst + n, u->add, strlen(u->add));
}

static int upd_fn(const store_val *cur, store_upd *out, void *arg)
{
	const struct upd *u = arg;

	out->action = u->action;
	out->expire_at_ms = u->keep_ttl && cur != NULL ? cur->expire_at_ms : u->expire_at_ms;
	if (u->action == STORE_UPD_WRITE) {
		out->new_len = (cur != NULL ? cur->vlen : 0) + strlen(u->add);
		out->fill = append_fill;
	}
	return STORE_OK;
}

static void update(store_t *st, const char *key, struct upd u)
{
	assert_int_equal(store_update(st, key, strlen(key), upd_fn, &u), STORE_OK);
}

/* "key:%05u" and a 32-byte value derived from i: records of one size. */
static void fixed_key(char key[FIXED_KEY_LEN + 1], unsigned i)
{
	snprintf(key, FIXED_KEY_LEN + 1, "key:%05u", i);
}

static void fixed_value(char val[FIXED_VALUE_LEN], unsigned i)
{
	char tmp[FIXED_VALUE_LEN + 1];
	snprintf(tmp, sizeof tmp, "value-%05u-%020u", i, i * 7919u);
	memcpy(val, tmp, FIXED_VALUE_LEN);
}

static void set_fixed(store_t *st, unsigned i)
{
	char key[FIXED_KEY_LEN + 1], val[FIXED_VALUE_LEN];
	fixed_key(key, i);
	fixed_value(val, i);
	assert_int_equal(store_set(st, key, FIXED_KEY_LEN, val, FIXED_VALUE_LEN, 0), STORE_OK);
}

/* ---- Tests ---- */

/* The closing snapshot holds everything (the next start replays no record
 * and the covered segments are gone); the log after it adds what came
 * later, and a start without a closing snapshot replays just that. */
static void test_a_closing_snapshot_then_the_log_after_it_rebuild_the_store(void **state)
{
	struct fixture *f = fx_get(state, WAL_FSYNC_EVERYSEC, 4096);
	struct db a, b, c;
	char err[512], big[300];
	persist_info info;
	int64_t exp = wall_ms() + HOUR_MS;
	memset(big, 'b', sizeof big);

	f->cfg.snapshot_on_shutdown = true;
	db_open(f, &a, 0);
	for (int i = 0; i < 200; i++) {
		char k[32];
		snprintf(k, sizeof k, "key:%d", i);
		assert_int_equal(
		        store_set(a.st, k, strlen(k), big, sizeof big, i % 3 ? 0 : exp + i),
		        STORE_OK);
		persist_flush(a.p); /* as a worker does each loop turn */
	}
	assert_int_equal(store_set(a.st, "b\0in\xff", 5, "\0\1\2", 3, 0), STORE_OK);
	set(a.st, "empty", "", 0);
	assert_int_equal(store_set(a.st, "", 0, "empty key", 9, exp), STORE_OK);
	assert_int_equal(store_del(a.st, "key:7", 5), STORE_OK);
	assert_int_equal(store_rename(a.st, "key:8", 5, "renamed", 7, 0), STORE_OK);
	uint64_t logged = last_seq(a.p);
	/* 200 records of ~340 bytes in 4 KiB segments: the syncer rotates as
	 * each fills (bounded wait). */
	for (int i = 0; i < 5000 && count_segments(f->dir) < 3; i++)
		usleep(1000);
	assert_true(count_segments(f->dir) >= 3);
	db_close_log(&a);
	assert_int_equal(count_segments(f->dir), 1); /* only the last (open) one stays */

	b.st = store_create(NULL);
	assert_non_null(b.st);
	b.p = persist_create(&f->cfg, b.st);
	assert_non_null(b.p);
	if (persist_load(b.p, NULL, err, sizeof err) != 0)
		fail_msg("persist_load: %s", err);
	persist_info_get(b.p, &info);
	assert_int_equal(info.records_loaded, 0);
	assert_int_equal(info.last_seq, logged);
	assert_int_equal(info.snap.last_seq, logged);
	assert_int_equal(info.snap.last_rows, store_count(a.st));
	assert_same_keys(a.st, b.st);

	set(b.st, "after", "snapshot", 0);
	assert_int_equal(store_del(b.st, "key:9", 5), STORE_OK);
	persist_set_shutdown_save(b.p, 0); /* SHUTDOWN NOSAVE */
	db_close_log(&b);
	db_open_from(f, &c, 2, logged + 2);
	assert_same_keys(b.st, c.st);
	db_close(&a);
	db_close(&b);
	db_close(&c);
}

static void test_every_operation_survives_a_restart_key_for_key(void **state)
{
	struct fixture *f = fx_get(state, WAL_FSYNC_EVERYSEC, 0);
	struct db a, b, c;
	db_open(f, &a, 0);
	store_t *st = a.st;
	int64_t exp = wall_ms() + HOUR_MS;
	char mid[100], big[600], big2[700];
	memset(mid, 'm', sizeof(mid));
	memset(big, 'b', sizeof(big));
	memset(big2, 'c', sizeof(big2));

	/* FLUSHALL, then everything again. */
	set(st, "before-flush", "x", 0);
	set(st, "before-flush-ttl", "y", exp);
	assert_int_equal(store_clear(st), STORE_OK);

	set(st, "plain", "v", 0);
	set(st, "ttl", "v", exp);
	/* Overwrites: in place, then needing a new entry. */
	set(st, "over", "a", 0);
	set(st, "over", "b", exp + 1);
	assert_int_equal(store_set(st, "over", 4, mid, sizeof(mid), 0), STORE_OK);
	/* Large values, new and overwritten; binary and empty ones. */
	assert_int_equal(store_set(st, "big", 3, big, sizeof(big), exp + 2), STORE_OK);
	assert_int_equal(store_set(st, "big", 3, big2, sizeof(big2), exp + 3), STORE_OK);
	assert_int_equal(store_set(st, "b\0in", 4, "\0\1\2", 3, 0), STORE_OK);
	set(st, "empty", "", 0);
	assert_int_equal(store_set(st, "", 0, "empty key", 9, exp), STORE_OK);
	/* DEL, EXPIRE, PERSIST, EXPIRE in the past, SET with a past time. */
	set(st, "del", "x", 0);
	assert_int_equal(store_del(st, "del", 3), STORE_OK);
	set(st, "exp", "x", 0);
	update(st, "exp", (struct upd){.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = exp + 4});
	set(st, "pers", "x", exp);
	update(st, "pers", (struct upd){.action = STORE_UPD_SET_EXPIRE});
	set(st, "exp-past", "x", 0);
	update(st, "exp-past", (struct upd){.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = 1});
	set(st, "set-past", "x", 0);
	set(st, "set-past", "y", wall_ms() - 1);
	/* SET with options. */
	assert_int_equal(store_set_ex(st, "ttl", 3, "kept", 4, 0, STORE_SET_KEEPTTL, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_set_ex(st, "nx", 2, "n", 1, exp + 5, STORE_SET_NX, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_set_ex(st, "nx", 2, "m", 1, 0, STORE_SET_NX, NULL, NULL),
	                 STORE_ECOND);
	assert_int_equal(store_set_ex(st, "xx", 2, "m", 1, 0, STORE_SET_XX, NULL, NULL),
	                 STORE_ECOND);
	/* Read-modify-write: APPEND keeping the TTL, GETDEL. */
	set(st, "app", "abc", exp + 6);
	update(st, "app", (struct upd){.action = STORE_UPD_WRITE, .add = "def", .keep_ttl = true});
	update(st, "app2", (struct upd){.action = STORE_UPD_WRITE, .add = "new"});
	set(st, "getdel", "x", 0);
	update(st, "getdel", (struct upd){.action = STORE_UPD_DELETE});
	/* RENAME: same length, another length, onto an existing key. */
	set(st, "rsrc", "moved", exp + 7);
	assert_int_equal(store_rename(st, "rsrc", 4, "rdst", 4, 0), STORE_OK);
	set(st, "from", "far", exp + 8);
	assert_int_equal(store_rename(st, "from", 4, "a-much-longer-name", 18, 1), STORE_OK);
	set(st, "r1", "one", 0);
	set(st, "r2", "two", exp + 9);
	assert_int_equal(store_rename(st, "r1", 2, "r2", 2, 0), STORE_OK);
	/* COPY, and COPY REPLACE of a large value. */
	assert_int_equal(store_copy(st, "ttl", 3, "ttl-copy", 8, 0), STORE_OK);
	assert_int_equal(store_copy(st, "big", 3, "over", 4, 1), STORE_OK);
	/* MSET of more keys than the journal's stack array, over a key with a
	 * TTL; MSETNX that fails. */
	const void *keys[] = {"m1", "m2", "m3", "m4", "m5", "ttl-copy"};
	const size_t klens[] = {2, 2, 2, 2, 2, 8};
	const void *vals[] = {"1", "22", "", "4444", "55555", "copy"};
	const size_t vlens[] = {1, 2, 0, 4, 5, 4};
	assert_int_equal(store_mset(st, 6, keys, klens, vals, vlens, 0), STORE_OK);
	assert_int_equal(store_mset(st, 2, keys + 4, klens + 4, vals, vlens, 1), STORE_ECOND);

	/* One key removed lazily once its time passed; another expired but
	 * never touched, which must not come back either. */
	int64_t soon = wall_ms() + 20;
	set(st, "short", "s", soon);
	set(st, "short-untouched", "s", soon);
	sleep_until_past(soon);
	uint64_t seq = persist_thread_seq(), logged = last_seq(a.p);
	assert_int_equal(store_get(st, "short", 5, NULL, NULL), STORE_ENOTFOUND);
	assert_int_equal(last_seq(a.p), logged + 1); /* its DEL */
	assert_int_equal(persist_thread_seq(), seq); /* not a write of this thread */
	db_close_log(&a);

	db_open(f, &b, logged + 1);
	assert_same_keys(a.st, b.st);
	const char *gone[] = {"before-flush",
	                      "before-flush-ttl",
	                      "del",
	                      "exp-past",
	                      "set-past",
	                      "getdel",
	                      "rsrc",
	                      "from",
	                      "r1",
	                      "short",
	                      "short-untouched"};
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (has(b.st, gone[i]))
			fail_msg("%s came back", gone[i]);
	assert_value(b.st, "app", 3, "abcdef", 6);
	assert_value(b.st, "r2", 2, "one", 3);
	assert_value(b.st, "b\0in", 4, "\0\1\2", 3);

	/* The log goes on from where it stopped: a third start sees both, and
	 * the DEL of "short-untouched", which b loaded with its time passed
	 * (store_pause_expiry) and removed lazily when has() looked at it. */
	set(b.st, "after-restart", "z", exp);
	assert_int_equal(store_del(b.st, "plain", 5), STORE_OK);
	db_close_log(&b);
	assert_true(count_segments(f->dir) >= 2);
	db_open(f, &c, logged + 4);
	assert_same_keys(b.st, c.st);
	assert_false(has(c.st, "plain"));
	db_close(&a);
	db_close(&b);
	db_close(&c);
}

static void test_recovery_replays_a_log_of_many_small_segments(void **state)
{
	struct fixture *f = fx_get(state, WAL_FSYNC_NO, SMALL_SEGMENT);
	struct db a, b;
	db_open(f, &a, 0);

	/* Sets, overwrites, deletes and renames, waiting for the writer now
	 * and then so that it rotates between small batches. */
	for (unsigned i = 0; i < 400; i++) {
		set_fixed(a.st, i % 300);
		if (i % 7 == 3) {
			char key[FIXED_KEY_LEN + 1];
			fixed_key(key, i / 2);
			store_del(a.st, key, FIXED_KEY_LEN);
		}
		if (i % 11 == 5) {
			char src[FIXED_KEY_LEN + 1], dst[32];
			fixed_key(src, i % 300);
			int n = snprintf(dst, sizeof dst, "renamed:%u", i);
			assert_int_equal(store_rename(a.st, src, FIXED_KEY_LEN, dst, (size_t)n, 0),
			                 STORE_OK);
		}
		if (i % 10 == 9)
			wait_durable(a.p, persist_thread_seq());
	}
	uint64_t records = last_seq(a.p);
	db_close_log(&a);
	assert_true(count_segments(f->dir) >= 5);

	db_open(f, &b, records);
	assert_same_keys(a.st, b.st);
	db_close(&a);
	db_close(&b);
}

static void test_only_fsync_always_holds_replies(void **state)
{
	const int policies[] = {WAL_FSYNC_ALWAYS, WAL_FSYNC_EVERYSEC, WAL_FSYNC_NO};

	/* One directory for the three: each start finds the previous one's
	 * empty segment. */
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		struct fixture *f = fx_get(state, policies[i], 0);
		store_t *st = store_create(NULL);
		assert_non_null(st);
		persist_t *p = persist_create(&f->cfg, st);
		assert_non_null(p);
		assert_int_equal(persist_loading(p), 1);
		assert_int_equal(persist_durable_seq(p), 0);
		assert_int_equal(persist_holds_replies(p), policies[i] == WAL_FSYNC_ALWAYS);
		char err[256];
		assert_int_equal(persist_load(p, NULL, err, sizeof err), 0);
		assert_int_equal(persist_loading(p), 0);
		assert_int_equal(persist_holds_replies(p), policies[i] == WAL_FSYNC_ALWAYS);
		persist_info info;
		persist_info_get(p, &info);
		assert_int_equal(info.fsync_policy, policies[i]);
		persist_free(p);
		store_free(st);
	}
}

static void test_thread_seq_advances_on_writes_only_and_always_makes_it_durable(void **state)
{
	struct fixture *f = fx_get(state, WAL_FSYNC_ALWAYS, 0);
	struct db d;
	db_open(f, &d, 0);
	store_t *st = d.st;

	/* The thread's sequence is that of its last write's last record
	 * (another test's log may have left it higher before). */
	set(st, "k", "v", 0);
	uint64_t seq = persist_thread_seq();
	assert_int_equal(seq, 1);
	assert_int_equal(last_seq(d.p), 1);

	/* Reads, and writes that change nothing, log nothing. */
	assert_int_equal(store_get(st, "k", 1, NULL, NULL), STORE_OK);
	assert_int_equal(store_exists(st, "missing", 7), 0);
	assert_int_equal(store_set_ex(st, "k", 1, "w", 1, 0, STORE_SET_NX, NULL, NULL),
	                 STORE_ECOND);
	assert_int_equal(store_del(st, "missing", 7), STORE_ENOTFOUND);
	update(st, "k", (struct upd){.action = STORE_UPD_KEEP});
	assert_int_equal(store_rename(st, "missing", 7, "x", 1, 0), STORE_ENOTFOUND);
	assert_int_equal(persist_thread_seq(), seq);
	assert_int_equal(last_seq(d.p), seq);

	/* One record per change: MSET of 3, RENAME of 2. */
	const void *keys[] = {"a", "b", "c"};
	const size_t klens[] = {1, 1, 1};
	const void *vals[] = {"1", "2", "3"};
	const size_t vlens[] = {1, 1, 1};
	assert_int_equal(store_mset(st, 3, keys, klens, vals, vlens, 0), STORE_OK);
	assert_int_equal(persist_thread_seq(), seq + 3);
	assert_int_equal(store_rename(st, "a", 1, "z", 1, 0), STORE_OK);
	assert_int_equal(persist_thread_seq(), seq + 5);
	wait_durable(d.p, persist_thread_seq());

	/* A lazy expiry is logged but is no write of the reading thread. */
	int64_t soon = wall_ms() + 10;
	set(st, "short", "s", soon);
	seq = persist_thread_seq();
	sleep_until_past(soon);
	assert_int_equal(store_get(st, "short", 5, NULL, NULL), STORE_ENOTFOUND);
	assert_int_equal(persist_thread_seq(), seq);
	assert_int_equal(last_seq(d.p), seq + 1);
	wait_durable(d.p, seq + 1);

	persist_info info;
	persist_info_get(d.p, &info);
	assert_int_equal(info.write_error, 0);
	assert_int_equal(info.lost_journal, 0);
	assert_true(info.wal.fsyncs > 0);
	db_close(&d);
}

static void
test_a_flipped_byte_in_a_non_last_segment_is_refused_or_cut_with_wal_recover(void **state)
{
	struct fixture *f = fx_get(state, WAL_FSYNC_NO, SMALL_SEGMENT);
	struct db d;
	db_open(f, &d, 0);
	for (unsigned i = 0; i < 200; i++) {
		set_fixed(d.st, i);
		if (i % 10 == 9)
			wait_durable(d.p, persist_thread_seq());
	}
	db_close(&d);
	assert_true(count_segments(f->dir) >= 2);

	/* Every record is a SET of the same size: damage the sixth. */
	const uint64_t rec = WAL_REC_FIXED_SIZE + FIXED_KEY_LEN + FIXED_VALUE_LEN;
	const uint64_t bad = WAL_HEADER_SIZE + 5 * rec;
	char path[1024], err[512], want[64];
	snprintf(path, sizeof path, "%s/%s", f->dir, FIRST_SEGMENT);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t byte;
	assert_int_equal(pread(fd, &byte, 1, (off_t)(bad + 40)), 1);
	byte ^= 0x20;
	assert_int_equal(pwrite(fd, &byte, 1, (off_t)(bad + 40)), 1);
	close(fd);

	int rc = db_try_open(f, &d, err, sizeof err);
	assert_int_equal(rc, -EBADMSG);
	if (strstr(err, FIRST_SEGMENT) == NULL)
		fail_msg("the error does not name the file: %s", err);
	snprintf(want, sizeof want, "offset %" PRIu64, bad);
	if (strstr(err, want) == NULL)
		fail_msg("the error does not say \"%s\": %s", want, err);
	assert_int_equal(persist_loading(d.p), 1);
	db_close(&d);
	int segments = count_segments(f->dir);
	assert_true(segments >= 2); /* nothing touched */

	/* wal_recover = 1: the log is cut there and its prefix loaded. */
	f->cfg.wal_recover = 1;
	db_open(f, &d, 5);
	assert_int_equal(store_count(d.st), 5);
	for (unsigned i = 0; i < 5; i++) {
		char key[FIXED_KEY_LEN + 1], val[FIXED_VALUE_LEN];
		fixed_key(key, i);
		fixed_value(val, i);
		assert_value(d.st, key, FIXED_KEY_LEN, val, FIXED_VALUE_LEN);
	}
	assert_int_equal(count_segments(f->dir), 2); /* the cut one and a new one */

	/* The repaired log takes writes and loads cleanly without the flag. */
	set_fixed(d.st, 500);
	db_close(&d);
	f->cfg.wal_recover = 0;
	db_open(f, &d, 6);
	assert_int_equal(store_count(d.st), 6);
	db_close(&d);
}

static void test_a_write_the_log_cannot_hold_is_refused_and_changes_nothing(void **state)
{
	struct fixture *f = fx_get(state, WAL_FSYNC_EVERYSEC, 0);
	struct db d;
	char big[1000];
	memset(big, 'x', sizeof(big));
	/* The log's record limit comes from the configuration (a key and a
	 * value at their limits), the store's from store_create(NULL): a
	 * value between the two reaches the journal and wal_append refuses
	 * it. */
	f->cfg.max_key_bytes = 16;
	f->cfg.max_value_bytes = 100;
	db_open(f, &d, 0);
	set(d.st, "k", "old", 0);
	uint64_t seq = persist_thread_seq();

	int rc = store_set(d.st, "k", 1, big, sizeof(big), 0);
	assert_int_equal(rc, STORE_EJOURNAL);
	if (strstr(store_strerror(rc), "record too large") == NULL)
		fail_msg("\"%s\" does not say the record is too large", store_strerror(rc));
	assert_value(d.st, "k", 1, "old", 3);
	assert_int_equal(store_set(d.st, "n", 1, big, sizeof(big), 0), STORE_EJOURNAL);
	assert_false(has(d.st, "n"));
	assert_int_equal(persist_thread_seq(), seq);
	assert_int_equal(last_seq(d.p), seq);

	/* The refusal is not sticky. */
	set(d.st, "k", "new", 0);
	assert_int_equal(persist_thread_seq(), seq + 1);
	assert_int_equal(persist_write_error(d.p), 0);
	db_close_log(&d);
	struct db e;
	db_open(f, &e, seq + 1);
	assert_same_keys(d.st, e.st);
	db_close(&d);
	db_close(&e);
}

#define WRITERS        4
#define WRITER_OPS     400
#define SHARED_KEYS    16
#define WRITER_KEY_CAP 32

struct writer {
	store_t *st;
	unsigned tid;
	int failures; /* results no operation may return; checked after join */
};

static size_t shared_key(char *buf, unsigned k)
{
	return (size_t)snprintf(buf, WRITER_KEY_CAP, "shared:%u", k % SHARED_KEYS);
}

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	char k1[WRITER_KEY_CAP], k2[WRITER_KEY_CAP], own[WRITER_KEY_CAP], val[32];
	int64_t later = wall_ms() + HOUR_MS;

	for (unsigned i = 0; i < WRITER_OPS; i++) {
		unsigned k = i * 7 + w->tid;
		size_t l1 = shared_key(k1, k), l2 = shared_key(k2, k + 5);
		size_t lo = (size_t)snprintf(own, sizeof own, "own:%u", w->tid);
		size_t vlen = (size_t)snprintf(val, sizeof val, "t%u-i%u", w->tid, i);
		int rc;
		switch (i % 6) {
		case 0:
			rc = store_set(w->st, k1, l1, val, vlen, i % 12 ? 0 : later + i);
			break;
		case 1: {
			/* All threads append to one key: its final bytes record
			 * the order the appends were applied in. */
			struct upd u = {.action = STORE_UPD_WRITE, .add = val, .keep_ttl = true};
			rc = store_update(w->st, "log", 3, upd_fn, &u);
			break;
		}
		case 2:
			rc = store_rename(w->st, k1, l1, k2, l2, 0);
			rc = rc == STORE_ENOTFOUND ? STORE_OK : rc;
			break;
		case 3: {
			const void *keys[] = {k1, k2, own};
			const size_t klens[] = {l1, l2, lo};
			const void *vals[] = {val, val, val};
			const size_t vlens[] = {vlen, vlen, vlen};
			rc = store_mset(w->st, 3, keys, klens, vals, vlens, 0);
			break;
		}
		case 4:
			rc = store_del(w->st, k2, l2);
			rc = rc == STORE_ENOTFOUND ? STORE_OK : rc;
			break;
		default: {
			struct upd u = {.action = STORE_UPD_SET_EXPIRE,
			                .expire_at_ms = i % 4 ? later + w->tid : 0};
			rc = store_update(w->st, k1, l1, upd_fn, &u);
			break;
		}
		}
		w->failures += rc != STORE_OK;
	}
	return NULL;
}

static void test_concurrent_writers_on_shared_keys_replay_to_the_same_store(void **state)
{
	struct fixture *f = fx_get(state, WAL_FSYNC_EVERYSEC, 0);
	struct db a, b;
	db_open(f, &a, 0);

	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	for (unsigned t = 0; t < WRITERS; t++) {
		w[t] = (struct writer){.st = a.st, .tid = t};
		assert_int_equal(pthread_create(&th[t], NULL, writer_thread, &w[t]), 0);
	}
	for (unsigned t = 0; t < WRITERS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	for (unsigned t = 0; t < WRITERS; t++)
		assert_int_equal(w[t].failures, 0);
	uint64_t records = last_seq(a.p);
	db_close_log(&a);

	db_open(f, &b, records);
	assert_same_keys(a.st, b.st);
	db_close(&a);
	db_close(&b);
}

/* Regression test, fails at the time of writing. Replay applies each record
 * with today's clock: a SET (or EXPIRE) whose absolute time has passed by
 * the restart deletes the key, so a later record that had removed or
 * extended that expiry (PERSIST, EXPIRE) finds no key, and a key that was
 * alive, without expiry or with a long one, is lost. */
static void
test_a_key_whose_short_expiry_was_removed_or_extended_survives_a_later_restart(void **state)
{
	struct fixture *f = fx_get(state, WAL_FSYNC_EVERYSEC, 0);
	struct db a, b;
	db_open(f, &a, 0);
	int64_t soon = wall_ms() + 50, later = wall_ms() + HOUR_MS;

	/* SET with a short expiry, then PERSIST; SET with a short expiry,
	 * then EXPIRE an hour away; EXPIRE soon, then EXPIRE an hour away. */
	set(a.st, "persisted", "p", soon);
	update(a.st, "persisted", (struct upd){.action = STORE_UPD_SET_EXPIRE});
	set(a.st, "extended", "e", soon);
	update(a.st, "extended",
	       (struct upd){.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = later});
	set(a.st, "re-expired", "r", 0);
	update(a.st, "re-expired",
	       (struct upd){.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = soon});
	update(a.st, "re-expired",
	       (struct upd){.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = later});
	uint64_t records = last_seq(a.p);
	db_close_log(&a);
	sleep_until_past(soon);
	assert_true(has(a.st, "persisted") && has(a.st, "extended") && has(a.st, "re-expired"));

	db_open(f, &b, records);
	bool persisted = has(b.st, "persisted"), extended = has(b.st, "extended"),
	     re_expired = has(b.st, "re-expired");
	if (persisted && extended && re_expired)
		assert_same_keys(a.st, b.st);
	db_close(&a);
	db_close(&b);
	if (!persisted || !extended || !re_expired)
		fail_msg("lost by the restart:%s%s%s", persisted ? "" : " persisted",
		         extended ? "" : " extended", re_expired ? "" : " re-expired");
}

/* Every test gets its own directory from fx_setup. */
#define PERSIST_TEST(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
	log_init(LOG_WARN, LOG_FORMAT_TEXT, 2);
	const struct CMUnitTest tests[] = {
	        PERSIST_TEST(test_every_operation_survives_a_restart_key_for_key),
	        PERSIST_TEST(test_a_closing_snapshot_then_the_log_after_it_rebuild_the_store),
	        PERSIST_TEST(test_recovery_replays_a_log_of_many_small_segments),
	        PERSIST_TEST(test_only_fsync_always_holds_replies),
	        PERSIST_TEST(test_thread_seq_advances_on_writes_only_and_always_makes_it_durable),
	        PERSIST_TEST(
	                test_a_flipped_byte_in_a_non_last_segment_is_refused_or_cut_with_wal_recover),
	        PERSIST_TEST(test_a_write_the_log_cannot_hold_is_refused_and_changes_nothing),
	        PERSIST_TEST(test_concurrent_writers_on_shared_keys_replay_to_the_same_store),
	        PERSIST_TEST(
	                test_a_key_whose_short_expiry_was_removed_or_extended_survives_a_later_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
