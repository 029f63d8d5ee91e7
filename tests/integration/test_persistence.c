/* test_persistence.c - the write-ahead log seen from outside: every write
 * command of both protocols survives a clean restart under each --fsync
 * policy, acknowledged writes survive SIGKILL under --fsync always, expiry
 * times are absolute (a key that expires while the server is down stays
 * gone, one whose short TTL was lifted in time stays), commands get -LOADING
 * while the log is replayed and SIGTERM then still exits 0, segments rotate
 * at --wal-segment-bytes, and damage is handled as docs/persistence.md says:
 * a flipped byte or a missing segment stops start-up naming what is wrong
 * (or is cut off with --wal-recover truncate), a torn tail is cut with a
 * warning, a torn atomic batch is dropped whole.
 *
 * Each test starts its own server (the flags differ, and closing snapshots
 * are off: the log alone is under test) and restarts it on the same data
 * directory. Files are read and damaged with the byte layout of
 * src/wal_format.c, restated here on purpose: a test sharing the server's
 * decoder would not notice the format changing under it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

enum {
	TTL_SLACK_MS = 1500,     /* PTTL against the model: round trips, clock reads (scaled) */
	LOAD_KEYS = 150000,      /* first attempt at a replay long enough to see -LOADING */
	LOAD_VALUE_BYTES = 64,   /* value size of those keys */
	LOAD_WAIT_MS = 30000,    /* until a GET answers after the restart (scaled) */
	LOAD_MAX_POLLS = 200000, /* rounds of commands sent while loading */
	SEGMENT_BYTES = 4096,    /* --wal-segment-bytes of the segment tests */
	SEG_KEYS = 300,          /* SETs written by the segment tests */
	SEG_VALUE_BYTES = 40,    /* their values: records of 81-83 bytes, ~49 a segment */
	MAX_SEGMENTS = 256,
	MAX_RECORDS = 4096, /* per segment, as walked by the test */
};

/* The replies to a command refused while loading (docs/persistence.md). */
static const char LOADING_ERR[] = "-LOADING minidb is loading the dataset in memory";
static const char LINE_LOADING_ERR[] = "ERROR: LOADING minidb is loading the dataset in memory";

/* The record layout of src/wal_format.c (little-endian). */
enum {
	SEG_HEADER = 16, /* "MDBWAL01", version, reserved */
	REC_OFF_SEQ = 8, /* after len (u32) and crc32c (u32) */
	REC_OFF_KLEN = 20,
	REC_OFF_VLEN = 24,
	REC_FIXED = 36, /* key bytes start here, value bytes follow */
};

/* ---- small utilities ---- */

/* Reads a whole file; malloc'd, NUL-terminated, or NULL. */
static unsigned char *slurp(const char *path, size_t *len)
{
	return (unsigned char *)mdb_read_file(path, len);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- server life ---- */

/* args plus --snapshot-on-shutdown=false: these tests look at the log
 * alone, and a closing snapshot would remove the segments they inspect and
 * leave nothing to replay (test_snapshot.c covers snapshots). Static
 * storage, test thread only: valid until the next call. */
static const char *const *wal_only(const char *const args[])
{
	static const char *buf[16];
	size_t n = 0;
	buf[n++] = "--snapshot-on-shutdown=false";
	for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
		assert_true(n < sizeof buf / sizeof buf[0] - 1);
		buf[n++] = args[i];
	}
	buf[n] = NULL;
	return buf;
}

/* Macros, so that a failure names the test's line. */
#define start_server(args)      mdb_start_ok(wal_only(args))
#define restart_server(s, args) mdb_restart_ok((s), wal_only(args))

/* The persist module's "recovered" line of the latest start. */
static char *recovered_line(const mdb_server *s)
{
	char *line = mdb_last_log_line(s, "\"component\":\"persist\",\"msg\":\"recovered\"");
	if (line == NULL) {
		mdb_print_log(s);
		fail_msg("no \"recovered\" line in the server log");
	}
	return line;
}

/* ---- the expected keyspace ---- */

typedef struct key_want {
	char *key;
	size_t klen;
	char *val; /* NULL: the key must not exist */
	size_t vlen;
	long long deadline; /* mdb_now_ms() at which it expires; 0: no expiry */
} key_want;

typedef struct model {
	key_want *v;
	size_t n, cap;
} model;

static void model_put(model *m, const void *key, size_t klen, const void *val, size_t vlen,
                      long long deadline)
{
	key_want *w = NULL;
	for (size_t i = 0; i < m->n && w == NULL; i++)
		if (m->v[i].klen == klen && memcmp(m->v[i].key, key, klen) == 0)
			w = &m->v[i];
	if (w == NULL) {
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 64;
			m->v = realloc(m->v, m->cap * sizeof *m->v);
			assert_non_null(m->v);
		}
		w = &m->v[m->n++];
		w->key = malloc(klen + 1);
		assert_non_null(w->key);
		memcpy(w->key, key, klen);
		w->key[klen] = '\0';
		w->klen = klen;
	} else {
		free(w->val);
	}
	w->val = NULL;
	w->vlen = vlen;
	w->deadline = deadline;
	if (val != NULL) {
		w->val = malloc(vlen + 1);
		assert_non_null(w->val);
		memcpy(w->val, val, vlen);
	}
}

/* key holds the string val, expiring at deadline (0: never). */
static void model_str(model *m, const char *key, const char *val, long long deadline)
{
	model_put(m, key, strlen(key), val, strlen(val), deadline);
}

static void model_gone(model *m, const char *key)
{
	model_put(m, key, strlen(key), NULL, 0, 0);
}

static void model_free(model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].val);
	}
	free(m->v);
	memset(m, 0, sizeof *m);
}

static void print_key(const key_want *w)
{
	const char *argv[1] = {w->key};
	size_t lens[1] = {w->klen};
	mdb_print_cmd(1, argv, lens);
}

/* Every key of the model has its value and expiry (within TTL_SLACK_MS), the
 * absent ones do not exist, and DBSIZE counts exactly the present ones. */
static void model_check(mdb_conn *c, const model *m, const char *when)
{
	long long slack = mdb_timeout_ms(TTL_SLACK_MS);
	size_t present = 0;
	for (size_t i = 0; i < m->n; i++) {
		const key_want *w = &m->v[i];
		const char *argv[2] = {"GET", w->key};
		size_t lens[2] = {3, w->klen};
		mdb_reply r;
		assert_int_equal(mdb_resp_call(c, 2, argv, lens, &r), 0);
		int ok = w->val == NULL ? r.type == '_'
		                        : r.type == '$' && r.len == w->vlen &&
		                                  memcmp(r.str, w->val, w->vlen) == 0;
		if (!ok) {
			char *got = mdb_reply_render(&r);
			print_error("%s: key \"", when);
			print_key(w);
			print_error("\": expected %s, got \"%.200s\" (%zu bytes)\n",
			            w->val ? "its value" : "no key", got ? got : "?", r.len);
			free(got);
		}
		mdb_reply_free(&r);
		if (!ok)
			fail();
		if (w->val == NULL)
			continue;
		present++;
		long long now = mdb_now_ms();
		argv[0] = "PTTL";
		lens[0] = 4;
		assert_int_equal(mdb_resp_call(c, 2, argv, lens, &r), 0);
		long long want_ttl = w->deadline ? w->deadline - now : -1;
		ok = r.type == ':' &&
		     (w->deadline ? r.num > 0 && llabs(r.num - want_ttl) <= slack : r.num == -1);
		if (!ok) {
			print_error("%s: key \"", when);
			print_key(w);
			print_error("\": expected PTTL %lld (+-%lld), got type '%c' %lld\n",
			            want_ttl, slack, r.type, r.num);
		}
		mdb_reply_free(&r);
		if (!ok)
			fail();
	}
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%zu", present);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
}

/* ---- pipelined SETs of numbered keys ---- */

/* ---- WAL files ---- */

typedef struct segs {
	int n;
	char path[MAX_SEGMENTS][PATH_MAX];
	uint64_t first_seq[MAX_SEGMENTS]; /* from the file name */
} segs;

static int is_segment_name(const struct dirent *de)
{
	const char *s = de->d_name;
	if (strlen(s) != 28 || strncmp(s, "wal-", 4) != 0 || strcmp(s + 24, ".log") != 0)
		return 0;
	for (int i = 4; i < 24; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The segments of dir in seq order (their zero-padded names sort so). */
static void list_segments(const char *dir, segs *out)
{
	struct dirent **names;
	int n = scandir(dir, &names, is_segment_name, alphasort);
	assert_true(n >= 0);
	out->n = 0;
	for (int i = 0; i < n; i++) {
		if (out->n < MAX_SEGMENTS) {
			snprintf(out->path[out->n], PATH_MAX, "%s/%s", dir, names[i]->d_name);
			out->first_seq[out->n] = strtoull(names[i]->d_name + 4, NULL, 10);
			out->n++;
		}
		free(names[i]);
	}
	free(names);
	assert_true(n <= MAX_SEGMENTS);
}

static size_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

typedef struct rec_info {
	size_t off, size; /* byte offset in the file, bytes including len and crc */
	uint64_t seq;
	size_t klen, vlen;
} rec_info;

/* Walks the complete records of a segment image: fills out (at most max) and
 * returns their count, checking only the framing (len == 28 + klen + vlen). */
static size_t walk_segment(const unsigned char *img, size_t n, rec_info *out, size_t max)
{
	size_t count = 0, off = SEG_HEADER;
	assert_true(n >= SEG_HEADER);
	assert_memory_equal(img, "MDBWAL01", 8);
	while (count < max && off + REC_FIXED <= n) {
		uint32_t len = get32(img + off);
		if (off + 8 + len > n)
			break;
		rec_info *r = &out[count++];
		r->off = off;
		r->size = 8 + (size_t)len;
		r->seq = get64(img + off + REC_OFF_SEQ);
		r->klen = get32(img + off + REC_OFF_KLEN);
		r->vlen = get32(img + off + REC_OFF_VLEN);
		assert_int_equal(len, 28 + r->klen + r->vlen);
		off += r->size;
	}
	return count;
}

/* The key of record r as a string (keys of these tests are printable). */
static char *record_key(const unsigned char *img, const rec_info *r)
{
	return strndup((const char *)img + r->off + REC_FIXED, r->klen);
}

/* The last segment of a stopped server: its path, image (malloc'd) and
 * records (returns their count, at least one). A trailing segment holding
 * only its header is what a rotation opens after the write that filled the
 * previous one, and what every start opens; it is removed first, so that
 * the last record is in the last segment, as after a crash before the
 * rotation. */
static size_t last_segment(const mdb_server *s, char *path, unsigned char **img, size_t *len,
                           rec_info *recs)
{
	static segs sg;
	list_segments(s->data_dir, &sg);
	assert_true(sg.n >= 1);
	if (sg.n > 1 && file_size(sg.path[sg.n - 1]) == SEG_HEADER)
		assert_int_equal(unlink(sg.path[--sg.n]), 0);
	snprintf(path, PATH_MAX, "%s", sg.path[sg.n - 1]);
	*img = slurp(path, len);
	assert_non_null(*img);
	size_t n = walk_segment(*img, *len, recs, MAX_RECORDS);
	assert_true(n >= 1);
	assert_int_equal(recs[n - 1].off + recs[n - 1].size, *len);
	return n;
}

/* Fails unless the latest "torn tail truncated" warning names path, the
 * offset of the cut and the bytes and records dropped. */
static void assert_torn_warning(const mdb_server *s, const char *path, size_t offset,
                                size_t bytes_dropped, int records_dropped)
{
	char *line = mdb_last_log_line(s, "torn tail truncated");
	if (line == NULL || strstr(line, "\"level\":\"warn") == NULL ||
	    strstr(line, path) == NULL || mdb_log_field(line, "offset") != (long long)offset ||
	    mdb_log_field(line, "bytes_dropped") != (long long)bytes_dropped ||
	    mdb_log_field(line, "records_dropped") != records_dropped)
		fail_msg("expected a warning naming %s, offset %zu, bytes_dropped %zu, "
		         "records_dropped %d; got: %s",
		         path, offset, bytes_dropped, records_dropped, line ? line : "(none)");
	free(line);
}

/* ---- 1. every write command survives a clean restart ---- */

/* Runs every write command of both protocols, checking each reply, and
 * records in m what the keyspace must hold afterwards. */
static void write_every_command(const mdb_server *s, mdb_conn *c, model *m)
{
	char at[32];
	long long now;

	/* FLUSHALL, then everything else: what came before it must not return. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "pre:plain", "x");
	MDB_ASSERT_CALL(c, "+OK", "SET", "pre:ttl", "y", "EX", "1000");
	MDB_ASSERT_CALL(c, "+OK", "FLUSHALL");
	model_gone(m, "pre:plain");
	model_gone(m, "pre:ttl");

	/* Expired before the restart: one read after its time (a lazy expiry,
	 * logged as a DEL), one never touched again (its SET carries a past
	 * deadline). */
	long long short_set = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "short:touched", "v", "PX", "200");
	MDB_ASSERT_CALL(c, "+OK", "SET", "short:untouched", "v", "PX", "200");
	model_gone(m, "short:touched");
	model_gone(m, "short:untouched");
	/* Keys whose short TTL was lifted or extended in time: the replay must
	 * not drop them because their first SET's expiry has passed. 300 ms
	 * leave a slow machine room between the SET and the change. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "short:persisted", "v", "PX", "300");
	MDB_ASSERT_CALL(c, ":1", "PERSIST", "short:persisted");
	model_str(m, "short:persisted", "v", 0);
	MDB_ASSERT_CALL(c, "+OK", "SET", "short:getex", "v", "PX", "300");
	MDB_ASSERT_CALL(c, "$v", "GETEX", "short:getex", "PERSIST");
	model_str(m, "short:getex", "v", 0);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "short:extended", "v", "PX", "300");
	MDB_ASSERT_CALL(c, ":1", "PEXPIRE", "short:extended", "1000000");
	model_str(m, "short:extended", "v", now + 1000000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "short:src", "v", "PX", "300");
	MDB_ASSERT_CALL(c, "+OK", "RENAME", "short:src", "short:renamed");
	MDB_ASSERT_CALL(c, ":1", "PERSIST", "short:renamed");
	model_gone(m, "short:src");
	model_str(m, "short:renamed", "v", 0);

	/* SET and its options. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:plain", "v1");
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:plain", "v2");
	model_str(m, "set:plain", "v2", 0);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:ex", "v", "EX", "1000");
	model_str(m, "set:ex", "v", now + 1000000);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:px", "v", "PX", "2000000");
	model_str(m, "set:px", "v", now + 2000000);
	now = mdb_now_ms();
	long long wall = mdb_unix_ms();
	snprintf(at, sizeof at, "%lld", wall / 1000 + 3000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:exat", "v", "EXAT", at);
	model_str(m, "set:exat", "v", now + (wall / 1000 + 3000) * 1000 - wall);
	snprintf(at, sizeof at, "%lld", wall + 3100000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:pxat", "v", "PXAT", at);
	model_str(m, "set:pxat", "v", now + 3100000);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:keepttl", "a", "EX", "500");
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:keepttl", "b", "KEEPTTL");
	model_str(m, "set:keepttl", "b", now + 500000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:nx", "first", "NX");
	MDB_ASSERT_CALL(c, "nil", "SET", "set:nx", "second", "NX");
	model_str(m, "set:nx", "first", 0);
	MDB_ASSERT_CALL(c, "nil", "SET", "set:xx", "v", "XX");
	model_gone(m, "set:xx");
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:xx2", "a");
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:xx2", "b", "XX");
	model_str(m, "set:xx2", "b", 0);
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:get", "old", "EX", "100");
	MDB_ASSERT_CALL(c, "$old", "SET", "set:get", "new", "GET");
	model_str(m, "set:get", "new", 0);
	MDB_ASSERT_CALL(c, "nil", "SET", "set:get_new", "v", "GET");
	model_str(m, "set:get_new", "v", 0);
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:ttl_dropped", "v", "EX", "100");
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:ttl_dropped", "w");
	model_str(m, "set:ttl_dropped", "w", 0);
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:past", "v");
	MDB_ASSERT_CALL(c, "+OK", "SET", "set:past", "w", "PXAT", "1");
	model_gone(m, "set:past");

	/* The older SET variants. */
	MDB_ASSERT_CALL(c, ":1", "SETNX", "setnx", "first");
	MDB_ASSERT_CALL(c, ":0", "SETNX", "setnx", "second");
	model_str(m, "setnx", "first", 0);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SETEX", "setex", "300", "v");
	model_str(m, "setex", "v", now + 300000);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "PSETEX", "psetex", "400000", "v");
	model_str(m, "psetex", "v", now + 400000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "getset", "a", "EX", "100");
	MDB_ASSERT_CALL(c, "$a", "GETSET", "getset", "b");
	model_str(m, "getset", "b", 0);
	MDB_ASSERT_CALL(c, "+OK", "SET", "getdel", "v");
	MDB_ASSERT_CALL(c, "$v", "GETDEL", "getdel");
	model_gone(m, "getdel");
	MDB_ASSERT_CALL(c, "+OK", "SET", "getex:ex", "v");
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "$v", "GETEX", "getex:ex", "EX", "600");
	model_str(m, "getex:ex", "v", now + 600000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "getex:persist", "v", "EX", "100");
	MDB_ASSERT_CALL(c, "$v", "GETEX", "getex:persist", "PERSIST");
	model_str(m, "getex:persist", "v", 0);

	/* Read-modify-write: APPEND, SETRANGE and INCR* keep the expiry. */
	MDB_ASSERT_CALL(c, ":3", "APPEND", "append", "abc");
	MDB_ASSERT_CALL(c, ":6", "APPEND", "append", "def");
	model_str(m, "append", "abcdef", 0);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "append:ttl", "x", "EX", "700");
	MDB_ASSERT_CALL(c, ":2", "APPEND", "append:ttl", "y");
	model_str(m, "append:ttl", "xy", now + 700000);
	MDB_ASSERT_CALL(c, ":8", "SETRANGE", "setrange:new", "5", "abc");
	model_put(m, "setrange:new", 12, "\0\0\0\0\0abc", 8, 0);
	MDB_ASSERT_CALL(c, "+OK", "SET", "setrange:old", "Hello World");
	MDB_ASSERT_CALL(c, ":11", "SETRANGE", "setrange:old", "6", "Redis");
	model_str(m, "setrange:old", "Hello Redis", 0);
	MDB_ASSERT_CALL(c, ":1", "INCR", "incr");
	MDB_ASSERT_CALL(c, ":2", "INCR", "incr");
	model_str(m, "incr", "2", 0);
	MDB_ASSERT_CALL(c, ":10", "INCRBY", "incrby", "10");
	MDB_ASSERT_CALL(c, ":7", "INCRBY", "incrby", "-3");
	model_str(m, "incrby", "7", 0);
	MDB_ASSERT_CALL(c, ":-1", "DECR", "decr");
	model_str(m, "decr", "-1", 0);
	MDB_ASSERT_CALL(c, ":-5", "DECRBY", "decrby", "5");
	model_str(m, "decrby", "-5", 0);
	MDB_ASSERT_CALL(c, "$1.5", "INCRBYFLOAT", "float", "1.5");
	MDB_ASSERT_CALL(c, "$1.75", "INCRBYFLOAT", "float", "0.25");
	model_str(m, "float", "1.75", 0);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "incr:ttl", "5", "EX", "800");
	MDB_ASSERT_CALL(c, ":6", "INCR", "incr:ttl");
	model_str(m, "incr:ttl", "6", now + 800000);

	/* Several keys at once. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "mset:c", "old", "EX", "100");
	MDB_ASSERT_CALL(c, "+OK", "MSET", "mset:a", "1", "mset:b", "2", "mset:c", "3");
	model_str(m, "mset:a", "1", 0);
	model_str(m, "mset:b", "2", 0);
	model_str(m, "mset:c", "3", 0);
	MDB_ASSERT_CALL(c, ":1", "MSETNX", "msetnx:a", "1", "msetnx:b", "2");
	MDB_ASSERT_CALL(c, ":0", "MSETNX", "msetnx:b", "9", "msetnx:c", "3");
	model_str(m, "msetnx:a", "1", 0);
	model_str(m, "msetnx:b", "2", 0);
	model_gone(m, "msetnx:c");
	MDB_ASSERT_CALL(c, "+OK", "MSET", "del:1", "a", "del:2", "b", "del:3", "c", "del:kept",
	                "d");
	MDB_ASSERT_CALL(c, ":3", "DEL", "del:1", "del:2", "del:3", "del:missing");
	model_gone(m, "del:1");
	model_gone(m, "del:2");
	model_gone(m, "del:3");
	model_str(m, "del:kept", "d", 0);
	MDB_ASSERT_CALL(c, "+OK", "MSET", "unlink:1", "a", "unlink:2", "b");
	MDB_ASSERT_CALL(c, ":2", "UNLINK", "unlink:1", "unlink:2", "unlink:missing");
	model_gone(m, "unlink:1");
	model_gone(m, "unlink:2");

	/* Expiry commands. */
	MDB_ASSERT_CALL(c, "+OK", "MSET", "expire", "v", "pexpire", "v", "expireat", "v",
	                "pexpireat", "v", "expire:past", "v", "pexpireat:zero", "v");
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, ":1", "EXPIRE", "expire", "900");
	model_str(m, "expire", "v", now + 900000);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, ":1", "PEXPIRE", "pexpire", "950000");
	model_str(m, "pexpire", "v", now + 950000);
	now = mdb_now_ms();
	wall = mdb_unix_ms();
	snprintf(at, sizeof at, "%lld", wall / 1000 + 1200);
	MDB_ASSERT_CALL(c, ":1", "EXPIREAT", "expireat", at);
	model_str(m, "expireat", "v", now + (wall / 1000 + 1200) * 1000 - wall);
	snprintf(at, sizeof at, "%lld", wall + 1300000);
	MDB_ASSERT_CALL(c, ":1", "PEXPIREAT", "pexpireat", at);
	model_str(m, "pexpireat", "v", now + 1300000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "persist", "v", "EX", "100");
	MDB_ASSERT_CALL(c, ":1", "PERSIST", "persist");
	model_str(m, "persist", "v", 0);
	MDB_ASSERT_CALL(c, ":1", "EXPIRE", "expire:past", "-1");
	model_gone(m, "expire:past");
	MDB_ASSERT_CALL(c, ":1", "PEXPIREAT", "pexpireat:zero", "0");
	model_gone(m, "pexpireat:zero");

	/* RENAME, RENAMENX and COPY move or copy the expiry with the value. */
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "rename:src", "v", "EX", "1000");
	MDB_ASSERT_CALL(c, "+OK", "RENAME", "rename:src", "rename:dst");
	model_gone(m, "rename:src");
	model_str(m, "rename:dst", "v", now + 1000000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "rename:src2", "a");
	MDB_ASSERT_CALL(c, "+OK", "SET", "rename:dst2", "b", "EX", "50");
	MDB_ASSERT_CALL(c, "+OK", "RENAME", "rename:src2", "rename:dst2");
	model_gone(m, "rename:src2");
	model_str(m, "rename:dst2", "a", 0);
	MDB_ASSERT_CALL(c, "+OK", "SET", "renamenx:src", "v");
	MDB_ASSERT_CALL(c, ":1", "RENAMENX", "renamenx:src", "renamenx:dst");
	model_gone(m, "renamenx:src");
	model_str(m, "renamenx:dst", "v", 0);
	MDB_ASSERT_CALL(c, "+OK", "MSET", "renamenx:src2", "a", "renamenx:dst2", "b");
	MDB_ASSERT_CALL(c, ":0", "RENAMENX", "renamenx:src2", "renamenx:dst2");
	model_str(m, "renamenx:src2", "a", 0);
	model_str(m, "renamenx:dst2", "b", 0);
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "copy:src", "v", "EX", "1100");
	MDB_ASSERT_CALL(c, ":1", "COPY", "copy:src", "copy:dst");
	MDB_ASSERT_CALL(c, "+OK", "SET", "copy:dst2", "old");
	MDB_ASSERT_CALL(c, ":0", "COPY", "copy:src", "copy:dst2");
	MDB_ASSERT_CALL(c, "+OK", "SET", "copy:dst3", "old");
	MDB_ASSERT_CALL(c, ":1", "COPY", "copy:src", "copy:dst3", "REPLACE");
	model_str(m, "copy:src", "v", now + 1100000);
	model_str(m, "copy:dst", "v", now + 1100000);
	model_str(m, "copy:dst2", "old", 0);
	model_str(m, "copy:dst3", "v", now + 1100000);

	/* The last of many overwrites wins. */
	for (int i = 0; i < 50; i++) {
		char v[16];
		snprintf(v, sizeof v, "v%d", i);
		MDB_ASSERT_CALL(c, "+OK", "SET", "overwritten", v);
	}
	model_str(m, "overwritten", "v49", 0);

	/* Binary-safe keys and values: NUL, CR LF, high bytes, and every byte. */
	static const char bin_key[] = "bin:\0\r\n\xff\x80";
	unsigned char all[256], *big = malloc(100000);
	assert_non_null(big);
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	uint32_t x = 2463534242u; /* xorshift32: reproducible bytes */
	for (size_t i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		big[i] = (unsigned char)x;
	}
	const char *argv[3] = {"SET", bin_key, (const char *)all};
	size_t lens[3] = {3, sizeof bin_key - 1, sizeof all};
	mdb_reply r;
	assert_int_equal(mdb_resp_call(c, 3, argv, lens, &r), 0);
	assert_int_equal(r.type, '+');
	mdb_reply_free(&r);
	model_put(m, bin_key, sizeof bin_key - 1, all, sizeof all, 0);
	argv[1] = "bin:big";
	argv[2] = (const char *)big;
	lens[1] = 7;
	lens[2] = 100000;
	assert_int_equal(mdb_resp_call(c, 3, argv, lens, &r), 0);
	assert_int_equal(r.type, '+');
	mdb_reply_free(&r);
	model_put(m, "bin:big", 7, big, 100000, 0);
	free(big);

	/* The line protocol's writes, on a connection of its own. */
	mdb_conn *l = mdb_open_ok(s);
	mdb_assert_cmd(l, "SET line:spaces value with spaces", "OK");
	mdb_assert_cmd(l, "SET line:bin \"\\x00\\r\\n\\xff end\"", "OK");
	mdb_assert_cmd(l, "SET line:del x", "OK");
	mdb_assert_cmd(l, "DEL line:del", "OK");
	mdb_assert_cmd(l, "DEL line:never", "NOT FOUND");
	mdb_assert_cmd(l, "SET line:over 1", "OK");
	mdb_assert_cmd(l, "SET line:over 2", "OK");
	mdb_assert_cmd(l, "LOOKUP line:over", "2");
	mdb_conn_close(l);
	model_str(m, "line:spaces", "value with spaces", 0);
	model_put(m, "line:bin", 8, "\0\r\n\xff end", 8, 0);
	model_gone(m, "line:del");
	model_gone(m, "line:never");
	model_str(m, "line:over", "2", 0);

	/* Let the short TTLs pass, and read one of the expired keys. */
	long long wait = short_set + 350 - mdb_now_ms();
	if (wait > 0)
		mdb_sleep_ms((int)wait);
	MDB_ASSERT_CALL(c, "nil", "GET", "short:touched");
}

static void every_write_command_survives_a_clean_restart(const char *policy)
{
	const char *const args[] = {"--fsync", policy, NULL};
	mdb_server *s = start_server(args);
	mdb_conn *c = mdb_open_ok(s);
	model m = {0};
	write_every_command(s, c, &m);
	model_check(c, &m, "before the restart");
	mdb_conn_close(c);

	mdb_stop_cleanly(s);
	restart_server(s, args);
	c = mdb_open_ok(s);
	model_check(c, &m, "after the restart");
	/* INFO reports the log as Redis reports its AOF, and the replay. */
	char want[4][64], *rec = recovered_line(s);
	snprintf(want[0], sizeof want[0], "\r\naof_enabled:1\r\n");
	snprintf(want[1], sizeof want[1], "\r\nloading:0\r\n");
	snprintf(want[2], sizeof want[2], "\r\nwal_fsync:%s\r\n", policy);
	snprintf(want[3], sizeof want[3], "\r\nloading_records:%lld\r\n",
	         mdb_log_field(rec, "records"));
	free(rec);
	char *info = MDB_CALL(c, "INFO", "persistence");
	for (int i = 0; i < 4; i++)
		if (strstr(info, want[i]) == NULL)
			fail_msg("INFO persistence lacks \"%s\": %s", want[i] + 2, info);
	free(info);
	/* The line protocol reads the same data back. */
	mdb_assert_cmd(c, "LOOKUP line:spaces", "value with spaces");
	mdb_assert_cmd(c, "LOOKUP line:bin", "\"\\x00\\r\\n\xff end\"");
	mdb_assert_cmd(c, "LOOKUP line:del", "NOT FOUND");
	mdb_conn_close(c);

	/* And the log goes on from there: a second restart changes nothing. */
	mdb_stop_cleanly(s);
	restart_server(s, args);
	c = mdb_open_ok(s);
	model_check(c, &m, "after a second restart");
	mdb_conn_close(c);
	model_free(&m);
	assert_int_equal(mdb_stop(s), 0);
}

static void every_write_command_survives_a_clean_restart_with_fsync_always(void **state)
{
	every_write_command_survives_a_clean_restart("always");
}

static void every_write_command_survives_a_clean_restart_with_fsync_everysec(void **state)
{
	every_write_command_survives_a_clean_restart("everysec");
}

static void every_write_command_survives_a_clean_restart_with_fsync_no(void **state)
{
	every_write_command_survives_a_clean_restart("no");
}

/* ---- 2. SIGKILL under --fsync always ---- */

static void acknowledged_writes_survive_sigkill_with_fsync_always(void **state)
{
	enum { PIPELINED = 2000 };
	static const char *const args[] = {"--fsync", "always", NULL};
	mdb_server *s = start_server(args);
	mdb_conn *c = mdb_open_ok(s);
	mdb_conn *l = mdb_open_ok(s);
	model m = {0};

	/* One command at a time, of several kinds... */
	long long now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "k:ttl", "v", "EX", "1000");
	model_str(&m, "k:ttl", "v", now + 1000000);
	MDB_ASSERT_CALL(c, "+OK", "MSET", "k:a", "1", "k:b", "2", "k:c", "3");
	MDB_ASSERT_CALL(c, ":1", "DEL", "k:a");
	MDB_ASSERT_CALL(c, "+OK", "RENAME", "k:b", "k:renamed");
	MDB_ASSERT_CALL(c, ":4", "INCR", "k:c");
	MDB_ASSERT_CALL(c, ":5", "APPEND", "k:renamed", "tail");
	now = mdb_now_ms();
	MDB_ASSERT_CALL(c, ":1", "EXPIRE", "k:c", "2000");
	model_gone(&m, "k:a");
	model_gone(&m, "k:b");
	model_str(&m, "k:renamed", "2tail", 0);
	model_str(&m, "k:c", "4", now + 2000000);
	mdb_assert_cmd(l, "SET k:line from the line protocol", "OK");
	model_str(&m, "k:line", "from the line protocol", 0);

	/* ...then a pipelined burst acknowledged by group commits, and a last
	 * write whose reply is the very last thing read before the kill. */
	MDB_PIPELINE_SETS(c, "burst:", 0, PIPELINED, 24);
	for (int i = 0; i < PIPELINED; i++) {
		char key[32], val[32];
		snprintf(key, sizeof key, "burst:%d", i);
		mdb_numbered_value(val, i, 24);
		model_str(&m, key, val, 0);
	}
	MDB_ASSERT_CALL(c, "+OK", "SET", "k:last", "acknowledged");
	model_str(&m, "k:last", "acknowledged", 0);
	assert_true(mdb_kill(s) == 128 + SIGKILL);
	mdb_conn_close(c);
	mdb_conn_close(l);

	restart_server(s, args);
	c = mdb_open_ok(s);
	model_check(c, &m, "after SIGKILL");
	mdb_conn_close(c);
	model_free(&m);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 3. expiry while the server is down ---- */

static void a_key_that_expires_while_the_server_is_down_is_gone_after_restart(void **state)
{
	static const char *const args[] = {"--fsync", "always", NULL};
	mdb_server *s = start_server(args);
	mdb_conn *c = mdb_open_ok(s);
	model m = {0};

	long long now = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "down:short", "v", "PX", "300");
	MDB_ASSERT_CALL(c, "+OK", "SET", "down:long", "v", "EX", "1000");
	MDB_ASSERT_CALL(c, "+OK", "SET", "down:plain", "v");
	model_gone(&m, "down:short");
	model_str(&m, "down:long", "v", now + 1000000);
	model_str(&m, "down:plain", "v", 0);
	/* Alive when the server dies, so the replay is what must drop it. */
	long long pttl = MDB_CALL_INT(c, "PTTL", "down:short");
	if (pttl <= 0)
		print_message("note: down:short expired before the kill (slow machine)\n");
	assert_true(mdb_kill(s) == 128 + SIGKILL);
	mdb_conn_close(c);
	mdb_sleep_ms(500);
	restart_server(s, args);
	c = mdb_open_ok(s);
	model_check(c, &m, "after SIGKILL and 500 ms down");

	/* The same across a clean shutdown. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "down:short2", "v", "PX", "300");
	model_gone(&m, "down:short2");
	mdb_conn_close(c);
	mdb_stop_cleanly(s);
	mdb_sleep_ms(500);
	restart_server(s, args);
	c = mdb_open_ok(s);
	model_check(c, &m, "after SIGTERM and 500 ms down");
	mdb_conn_close(c);
	model_free(&m);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 4. -LOADING during the replay ---- */

/* Right after the server starts listening, sends INFO persistence, LOOKUP
 * (line protocol), PING and GET in turn until the GET answers with the value
 * of key number last. Returns how many GETs were answered -LOADING. Loading
 * only goes from 1 to 0, so when a GET gets -LOADING every command sent
 * before it on the connection must have seen loading too: INFO says
 * loading:1, LOOKUP and PING get the LOADING error. */
static int poll_while_loading(const mdb_server *s, long long last)
{
	char key[32], val[LOAD_VALUE_BYTES + 2];
	snprintf(key, sizeof key, "load:%lld", last);
	val[0] = '$';
	mdb_numbered_value(val + 1, last, LOAD_VALUE_BYTES);
	mdb_conn *c = mdb_open_ok(s);
	long long t0 = mdb_now_ms(), deadline = t0 + mdb_timeout_ms(LOAD_WAIT_MS);
	int loading_gets = 0;
	for (int round = 0;; round++) {
		if (round >= LOAD_MAX_POLLS || mdb_now_ms() > deadline)
			fail_msg("GET %s still not answered after %d rounds, %lld ms", key, round,
			         mdb_now_ms() - t0);
		char *info = MDB_CALL(c, "INFO", "persistence");
		int info_loading = strstr(info, "\r\nloading:1\r\n") != NULL;
		if (!info_loading && strstr(info, "\r\nloading:0\r\n") == NULL)
			fail_msg("INFO persistence has no loading field: %.300s", info);
		if (strstr(info, "\r\naof_enabled:1\r\n") == NULL)
			fail_msg("INFO persistence lacks aof_enabled:1: %.300s", info);
		free(info);
		char *lookup = mdb_cmdf(c, "LOOKUP %s", key);
		assert_non_null(lookup);
		int lookup_loading = strcmp(lookup, LINE_LOADING_ERR) == 0;
		if (!lookup_loading && strcmp(lookup, val + 1) != 0)
			fail_msg("LOOKUP %s: got \"%.100s\"", key, lookup);
		free(lookup);
		char *ping = MDB_CALL(c, "PING");
		int ping_loading = strcmp(ping, LOADING_ERR) == 0;
		if (!ping_loading && strcmp(ping, "+PONG") != 0)
			fail_msg("PING: got \"%.100s\"", ping);
		free(ping);
		char *get = MDB_CALL(c, "GET", key);
		if (strcmp(get, LOADING_ERR) == 0) {
			free(get);
			if (!info_loading || !lookup_loading || !ping_loading)
				fail_msg("GET got -LOADING but an earlier command did not see "
				         "loading (INFO %d, LOOKUP %d, PING %d)",
				         info_loading, lookup_loading, ping_loading);
			loading_gets++;
			continue;
		}
		if (strcmp(get, val) != 0)
			fail_msg("GET %s: expected \"%s\", got \"%.100s\"", key, val, get);
		free(get);
		break;
	}
	mdb_conn_close(c);
	return loading_gets;
}

static void commands_get_loading_while_the_log_is_replayed_then_the_data(void **state)
{
	static const char *const args[] = {"--fsync", "no", NULL};
	mdb_server *s = start_server(args);
	long long written = 0;
	int loading_gets = 0;

	/* If the replay ends before the first command arrives, try once more
	 * with three times the records, then accept whatever this machine does. */
	for (int attempt = 0; attempt < 2 && loading_gets == 0; attempt++) {
		long long n = attempt == 0 ? LOAD_KEYS : 2 * LOAD_KEYS;
		mdb_conn *c = mdb_open_ok(s);
		MDB_PIPELINE_SETS(c, "load:", written, n, LOAD_VALUE_BYTES);
		written += n;
		mdb_conn_close(c);
		mdb_stop_cleanly(s);
		if (mdb_restart_listening(s, wal_only(args)) != 0)
			fail_msg("the server did not listen again (log above)");
		loading_gets = poll_while_loading(s, written - 1);
		char *rec = recovered_line(s);
		print_message("replay of %lld records: %lld ms, %d GETs answered -LOADING\n",
		              written, mdb_log_field(rec, "elapsed_ms"), loading_gets);
		free(rec);
	}
	if (loading_gets == 0)
		print_message("note: loading always finished before the first command; "
		              "-LOADING not observed on this machine\n");

	/* One record per SET, all of them replayed. */
	char *rec = recovered_line(s);
	assert_int_equal(mdb_log_field(rec, "records"), written);
	assert_int_equal(mdb_log_field(rec, "keys"), written);
	free(rec);
	mdb_conn *c = mdb_open_ok(s);
	char *info = MDB_CALL(c, "INFO", "persistence");
	char want[64];
	snprintf(want, sizeof want, "\r\nloading_records:%lld\r\n", written);
	if (strstr(info, "\r\nloading:0\r\n") == NULL || strstr(info, want) == NULL)
		fail_msg("INFO persistence after loading: want loading:0 and %s in: %s", want + 2,
		         info);
	free(info);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%lld", written);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_CHECK_NUMBERED(c, "load:", 0, 100, 100, LOAD_VALUE_BYTES);
	MDB_CHECK_NUMBERED(c, "load:", written - 100, 100, written + 1, LOAD_VALUE_BYTES);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void sigterm_while_loading_exits_0_and_loses_nothing(void **state)
{
	/* main.c: exit status 0 after a clean shutdown (SIGINT/SIGTERM). The
	 * replay polls for the signal, so it stops early; the log is untouched. */
	static const char *const args[] = {"--fsync", "no", NULL};
	mdb_server *s = start_server(args);
	mdb_conn *c = mdb_open_ok(s);
	MDB_PIPELINE_SETS(c, "load:", 0, LOAD_KEYS, LOAD_VALUE_BYTES);
	mdb_conn_close(c);
	mdb_stop_cleanly(s);

	if (mdb_restart_listening(s, wal_only(args)) != 0)
		fail_msg("the server did not listen again (log above)");
	c = mdb_open_ok(s);
	char *ping = MDB_CALL(c, "PING");
	int loading = strcmp(ping, LOADING_ERR) == 0;
	free(ping);
	/* Closed first: a shutdown lingers for a connected client's FIN. */
	mdb_conn_close(c);
	if (loading) {
		assert_int_equal(mdb_signal(s, SIGTERM), 0);
		int status = mdb_wait_exit(s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS));
		if (status != 0) {
			mdb_print_log(s);
			fail_msg("SIGTERM during loading: exit status %d, expected 0 as for any "
			         "SIGTERM",
			         status);
		}
	} else {
		print_message("note: loading finished before the first command; SIGTERM "
		              "during loading not exercised\n");
		mdb_stop_cleanly(s);
	}

	restart_server(s, args);
	c = mdb_open_ok(s);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%d", LOAD_KEYS);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_CHECK_NUMBERED(c, "load:", LOAD_KEYS - 10, 10, LOAD_KEYS, LOAD_VALUE_BYTES);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 5. damaged logs ---- */

static const char *const seg_args[] = {"--wal-segment-bytes", "4096", "--fsync", "always", NULL};
static const char *const seg_truncate_args[] = {
        "--wal-segment-bytes", "4096", "--fsync", "always", "--wal-recover", "truncate", NULL};

typedef struct damage {
	char path[PATH_MAX]; /* the damaged segment */
	size_t size;         /* its size */
	size_t rec_off;      /* offset of the damaged record */
	uint64_t rec_seq;    /* its seq: SET number rec_seq - 1, key seg:<rec_seq - 1> */
	int segments;
} damage;

/* Starts a server with 4 KiB segments, SETs seg:0 .. seg:SEG_KEYS-1 (one
 * record each, seq = i + 1), stops it and returns it. One SET at a time under
 * --fsync always: each write is a batch of its own, so the segments close
 * every 4 KiB (pipelined writes are batched, and a batch may fill a segment
 * far beyond --wal-segment-bytes). */
static mdb_server *write_segments(const char *const args[])
{
	mdb_server *s = start_server(args);
	mdb_conn *c = mdb_open_ok(s);
	for (int i = 0; i < SEG_KEYS; i++) {
		char key[32], val[SEG_VALUE_BYTES + 1];
		snprintf(key, sizeof key, "seg:%d", i);
		mdb_numbered_value(val, i, SEG_VALUE_BYTES);
		MDB_ASSERT_CALL(c, "+OK", "SET", key, val);
	}
	mdb_conn_close(c);
	mdb_stop_cleanly(s);
	return s;
}

/* Flips one byte in the value of the middle record of the first segment. */
static void damage_first_segment(const mdb_server *s, damage *d)
{
	static rec_info recs[MAX_RECORDS];
	static segs sg;
	size_t len;
	list_segments(s->data_dir, &sg);
	assert_true(sg.n >= 3);
	d->segments = sg.n;
	snprintf(d->path, sizeof d->path, "%s", sg.path[0]);
	unsigned char *img = slurp(d->path, &len);
	assert_non_null(img);
	size_t n = walk_segment(img, len, recs, MAX_RECORDS);
	assert_true(n >= 3);
	const rec_info *r = &recs[n / 2];
	char *key = record_key(img, r), want[32];
	snprintf(want, sizeof want, "seg:%llu", (unsigned long long)(r->seq - 1));
	assert_string_equal(key, want); /* one record per SET, seq from 1 */
	free(key);
	img[r->off + REC_FIXED + r->klen + r->vlen / 2] ^= 0x5a;
	assert_int_equal(mdb_write_file(d->path, (const char *)img, len), 0);
	free(img);
	d->size = len;
	d->rec_off = r->off;
	d->rec_seq = r->seq;
}

/* Restarts a server expected to refuse its data: exit status 1 (main.c: a
 * runtime failure, not a crash) and a "refusing to start" line holding
 * every string of needles (NULL-terminated). */
static void assert_refuses_to_start(mdb_server *s, const char *const args[],
                                    const char *const needles[])
{
	print_message("expected: the server refuses to start (its log follows)\n");
	assert_int_not_equal(mdb_restart(s, wal_only(args)), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS)), 1);
	char *line = mdb_last_log_line(s, "refusing to start");
	for (size_t i = 0; needles[i] != NULL; i++)
		if (line == NULL || strstr(line, needles[i]) == NULL)
			fail_msg("expected a \"refusing to start\" line holding \"%s\", got: %s",
			         needles[i], line ? line : "(none)");
	free(line);
}

static void a_flipped_byte_in_the_first_segment_stops_start_up_naming_file_and_offset(void **state)
{
	mdb_server *s = write_segments(seg_args);
	damage d;
	damage_first_segment(s, &d);

	char offset[64];
	snprintf(offset, sizeof offset, "byte offset %zu", d.rec_off);
	const char *const needles[] = {d.path, offset, NULL};
	assert_refuses_to_start(s, seg_args, needles);
	/* Refusing changes nothing on disk. */
	static segs sg;
	list_segments(s->data_dir, &sg);
	assert_int_equal(sg.n, d.segments);
	assert_int_equal(file_size(d.path), d.size);
	assert_int_equal(mdb_stop(s), 1);
}

static void wal_recover_truncate_keeps_the_records_before_the_damage(void **state)
{
	mdb_server *s = write_segments(seg_args);
	damage d;
	damage_first_segment(s, &d);

	restart_server(s, seg_truncate_args);
	char *line = mdb_last_log_line(s, "damaged log truncated");
	if (line == NULL || strstr(line, d.path) == NULL ||
	    mdb_log_field(line, "damage_offset") != (long long)d.rec_off ||
	    mdb_log_field(line, "later_segments_deleted") != d.segments - 1)
		fail_msg("expected a log line naming %s, damage_offset %zu and %d later "
		         "segments deleted, got: %s",
		         d.path, d.rec_off, d.segments - 1, line ? line : "(none)");
	free(line);
	assert_int_equal(file_size(d.path), d.rec_off);
	long long kept = (long long)d.rec_seq - 1;
	char *rec = recovered_line(s);
	assert_int_equal(mdb_log_field(rec, "records"), kept);
	free(rec);

	mdb_conn *c = mdb_open_ok(s);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%lld", kept);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_CHECK_NUMBERED(c, "seg:", 0, kept, SEG_KEYS, SEG_VALUE_BYTES);

	/* The cut log is a good log: new writes follow it, and a start
	 * without --wal-recover truncate replays both. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "after:truncate", "v");
	mdb_conn_close(c);
	mdb_stop_cleanly(s);
	restart_server(s, seg_args);
	c = mdb_open_ok(s);
	snprintf(dbsize, sizeof dbsize, ":%lld", kept + 1);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_ASSERT_CALL(c, "$v", "GET", "after:truncate");
	MDB_CHECK_NUMBERED(c, "seg:", 0, kept, SEG_KEYS, SEG_VALUE_BYTES);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void
a_missing_segment_stops_start_up_and_truncate_drops_everything_after_the_gap(void **state)
{
	static segs sg;
	mdb_server *s = write_segments(seg_args);
	list_segments(s->data_dir, &sg);
	assert_true(sg.n >= 4);
	assert_int_equal(unlink(sg.path[1]), 0);

	const char *const needles[] = {"missing segment", sg.path[2], NULL};
	assert_refuses_to_start(s, seg_args, needles);

	restart_server(s, seg_truncate_args);
	char *line = mdb_last_log_line(s, "damaged log truncated");
	const char *name = strrchr(sg.path[2], '/') + 1;
	if (line == NULL || strstr(line, name) == NULL ||
	    mdb_log_field(line, "segments_deleted") != sg.n - 2)
		fail_msg("expected a log line naming %s as the first of %d deleted segments, "
		         "got: %s",
		         name, sg.n - 2, line ? line : "(none)");
	free(line);
	long long kept = (long long)sg.first_seq[1] - 1;
	mdb_conn *c = mdb_open_ok(s);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%lld", kept);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_CHECK_NUMBERED(c, "seg:", 0, kept, SEG_KEYS, SEG_VALUE_BYTES);
	mdb_conn_close(c);

	/* Repaired: the next start needs no option. */
	mdb_stop_cleanly(s);
	restart_server(s, seg_args);
	c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void
a_log_missing_its_first_segment_is_refused_and_truncate_starts_with_the_rest(void **state)
{
	static segs sg;
	mdb_server *s = write_segments(seg_args);
	list_segments(s->data_dir, &sg);
	assert_true(sg.n >= 3);
	assert_int_equal(unlink(sg.path[0]), 0);

	const char *const needles[] = {"the segments before it are missing", NULL};
	assert_refuses_to_start(s, seg_args, needles);

	restart_server(s, seg_truncate_args);
	assert_true(mdb_log_contains(s, "the log's first segments are missing"));
	long long lost = (long long)sg.first_seq[1] - 1;
	mdb_conn *c = mdb_open_ok(s);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%lld", SEG_KEYS - lost);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_CHECK_NUMBERED(c, "seg:", 0, 0, lost, SEG_VALUE_BYTES);
	MDB_CHECK_NUMBERED(c, "seg:", lost, SEG_KEYS - lost, SEG_KEYS, SEG_VALUE_BYTES);
	MDB_ASSERT_CALL(c, "+OK", "SET", "after:truncate", "v");
	mdb_conn_close(c);

	/* docs/persistence.md: use --wal-recover truncate for one start, then
	 * remove it. That must not bring the refusal back. */
	mdb_stop_cleanly(s);
	if (mdb_restart(s, wal_only(seg_args)) != 0)
		fail_msg("after one start with --wal-recover truncate accepted the log, a start "
		         "without it refuses the same log again (log above)");
	c = mdb_open_ok(s);
	snprintf(dbsize, sizeof dbsize, ":%lld", SEG_KEYS - lost + 1);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void a_logged_value_above_max_value_bytes_refuses_start_with_a_clear_error(void **state)
{
	static const char *const small[] = {"--max-value-bytes", "1024", NULL};
	mdb_server *s = start_server(NULL);
	mdb_conn *c = mdb_open_ok(s);
	char val[2049];
	mdb_numbered_value(val, 7, 2048);
	MDB_ASSERT_CALL(c, "+OK", "SET", "big", val);
	mdb_conn_close(c);
	mdb_stop_cleanly(s);

	const char *const needles[] = {"replaying record 1 ", "--max-value-bytes", NULL};
	assert_refuses_to_start(s, small, needles);
	restart_server(s, NULL);
	c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, ":2048", "STRLEN", "big");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void a_torn_last_record_is_cut_with_a_warning_and_the_rest_is_kept(void **state)
{
	static rec_info recs[MAX_RECORDS];
	char path[PATH_MAX];
	unsigned char *img;
	size_t len;
	mdb_server *s = write_segments(seg_args);

	size_t n = last_segment(s, path, &img, &len, recs);
	const rec_info *r = &recs[n - 1];
	assert_int_equal(r->seq, SEG_KEYS);
	char *key = record_key(img, r);
	assert_string_equal(key, "seg:299");
	free(key);
	free(img);
	assert_int_equal(truncate(path, (off_t)(r->off + r->size / 2)), 0);

	restart_server(s, seg_args);
	assert_torn_warning(s, path, r->off, r->size / 2, 0);
	char *rec = recovered_line(s);
	assert_int_equal(mdb_log_field(rec, "records"), SEG_KEYS - 1);
	free(rec);
	mdb_conn *c = mdb_open_ok(s);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%d", SEG_KEYS - 1);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_CHECK_NUMBERED(c, "seg:", 0, SEG_KEYS - 1, SEG_KEYS, SEG_VALUE_BYTES);

	/* The torn record's seq is given again, to the next write. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "after:torn", "v");
	mdb_conn_close(c);
	mdb_stop_cleanly(s);
	restart_server(s, seg_args);
	c = mdb_open_ok(s);
	snprintf(dbsize, sizeof dbsize, ":%d", SEG_KEYS);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_ASSERT_CALL(c, "$v", "GET", "after:torn");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void a_flipped_byte_in_the_last_record_is_damage_not_a_torn_tail(void **state)
{
	/* A complete record that fails its CRC was acknowledged: dropping it as
	 * if it were torn would lose a write silently (wal_format.c). */
	static rec_info recs[MAX_RECORDS];
	char path[PATH_MAX], offset[64];
	unsigned char *img;
	size_t len;
	mdb_server *s = write_segments(seg_args);

	size_t n = last_segment(s, path, &img, &len, recs);
	const rec_info *r = &recs[n - 1];
	img[r->off + REC_FIXED + r->klen + r->vlen - 1] ^= 0x01;
	assert_int_equal(mdb_write_file(path, (const char *)img, len), 0);
	free(img);

	snprintf(offset, sizeof offset, "byte offset %zu", r->off);
	const char *const needles[] = {path, offset, NULL};
	assert_refuses_to_start(s, seg_args, needles);
	assert_null(mdb_last_log_line(s, "torn tail truncated"));
	assert_int_equal(file_size(path), len);
	assert_int_equal(mdb_stop(s), 1);
}

/* Offset of the first record of the batch that ends the segment: records
 * flagged MORE (flags byte, bit 0) run up to its last record. */
static size_t last_batch(const unsigned char *img, const rec_info *recs, size_t n, size_t *count)
{
	size_t first = n - 1;
	while (first > 0 && (img[recs[first - 1].off + 17] & 1))
		first--;
	*count = n - first;
	return first;
}

static void a_torn_tail_inside_an_atomic_batch_drops_the_whole_batch(void **state)
{
	static const char *const args[] = {"--fsync", "always", NULL};
	static rec_info recs[MAX_RECORDS];
	char path[PATH_MAX];
	unsigned char *img;
	size_t len, count;
	mdb_server *s = start_server(args);
	mdb_conn *c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, "+OK", "SET", "before", "v");
	MDB_ASSERT_CALL(c, "+OK", "SET", "ren:src", "moved");
	MDB_ASSERT_CALL(c, "+OK", "MSET", "m:a", "1", "m:b", "2", "m:c", "3");
	mdb_conn_close(c);
	mdb_stop_cleanly(s);

	/* MSET is three records; the cut falls inside the second. */
	size_t n = last_segment(s, path, &img, &len, recs);
	size_t first = last_batch(img, recs, n, &count);
	free(img);
	assert_int_equal(count, 3);
	const rec_info *b = &recs[first];
	assert_int_equal(truncate(path, (off_t)(b[1].off + b[1].size / 2)), 0);
	restart_server(s, args);
	assert_torn_warning(s, path, b[0].off, b[0].size + b[1].size / 2, 1);
	c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, ":0", "EXISTS", "m:a", "m:b", "m:c");
	MDB_ASSERT_CALL(c, "$v", "GET", "before");
	MDB_ASSERT_CALL(c, ":2", "DBSIZE");

	/* RENAME is a SET of dst then a DEL of src; the cut falls between the
	 * two, on a record boundary: an unterminated batch, dropped too. */
	MDB_ASSERT_CALL(c, "+OK", "RENAME", "ren:src", "ren:dst");
	mdb_conn_close(c);
	mdb_stop_cleanly(s);
	n = last_segment(s, path, &img, &len, recs);
	first = last_batch(img, recs, n, &count);
	free(img);
	assert_int_equal(count, 2);
	b = &recs[first];
	assert_int_equal(truncate(path, (off_t)(b[0].off + b[0].size)), 0);
	restart_server(s, args);
	assert_torn_warning(s, path, b[0].off, b[0].size, 1);
	c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, "$moved", "GET", "ren:src");
	MDB_ASSERT_CALL(c, "nil", "GET", "ren:dst");
	MDB_ASSERT_CALL(c, ":2", "DBSIZE");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 6. rotation ---- */

static void segments_rotate_at_wal_segment_bytes_and_a_restart_replays_them_all(void **state)
{
	enum { KEYS = 400 };
	static const char *const args[] = {"--wal-segment-bytes", "4096", "--fsync", "always",
	                                   NULL};
	static rec_info recs[MAX_RECORDS];
	static segs sg;
	mdb_server *s = start_server(args);
	mdb_conn *c = mdb_open_ok(s);
	/* One SET at a time under --fsync always: each write is its own batch,
	 * so every segment closes with the first record that reaches 4 KiB. */
	for (int i = 0; i < KEYS; i++) {
		char key[32], val[SEG_VALUE_BYTES + 1];
		snprintf(key, sizeof key, "rot:%d", i);
		mdb_numbered_value(val, i, SEG_VALUE_BYTES);
		MDB_ASSERT_CALL(c, "+OK", "SET", key, val);
	}
	mdb_conn_close(c);
	mdb_stop_cleanly(s);

	list_segments(s->data_dir, &sg);
	size_t total = 0;
	uint64_t next_seq = 1;
	for (int i = 0; i < sg.n; i++) {
		size_t len;
		unsigned char *img = slurp(sg.path[i], &len);
		assert_non_null(img);
		struct stat st;
		assert_int_equal(stat(sg.path[i], &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600); /* the data is nobody else's */
		size_t n = walk_segment(img, len, recs, MAX_RECORDS);
		assert_int_equal(n == 0 ? SEG_HEADER : recs[n - 1].off + recs[n - 1].size, len);
		/* Named for its first seq; seqs continue across segments. */
		assert_int_equal(sg.first_seq[i], next_seq);
		if (n > 0)
			assert_int_equal(recs[0].seq, next_seq);
		next_seq += n;
		total += n;
		if (i < sg.n - 1) {
			assert_true(n > 0);
			if (len < SEGMENT_BYTES || len - recs[n - 1].size >= SEGMENT_BYTES)
				fail_msg("%s: %zu bytes; it should have closed with the first "
				         "record reaching %d bytes",
				         sg.path[i], len, SEGMENT_BYTES);
		} else {
			assert_true(len < SEGMENT_BYTES);
		}
		free(img);
	}
	assert_int_equal(total, KEYS);
	assert_true(sg.n >= 8); /* 400 records of 81-83 bytes, ~49 a segment */

	restart_server(s, args);
	char *rec = recovered_line(s);
	assert_int_equal(mdb_log_field(rec, "records"), KEYS);
	assert_int_equal(mdb_log_field(rec, "segments"), sg.n);
	free(rec);
	c = mdb_open_ok(s);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%d", KEYS);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_CHECK_NUMBERED(c, "rot:", 0, KEYS, KEYS, SEG_VALUE_BYTES);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* The number after "field:" in an INFO reply, or -1. */
static long long info_number(const char *info, const char *field)
{
	const char *p = strstr(info, field);
	return p ? atoll(p + strlen(field)) : -1;
}

/* --fsync everysec promises that an acknowledged write is on disk about a
 * second later even when nothing else happens. A lone SET on a fresh server
 * used to stay unsynced until a second write came: the WAL's syncer went
 * idle when it looked while the worker's flush was between taking the record
 * and publishing it. Several fresh servers, since the race needs timing. */
static void a_lone_write_is_fsynced_within_about_a_second_under_everysec(void **state)
{
	(void)state;
	for (int round = 0; round < 3; round++) {
		mdb_server *s = mdb_start(NULL);
		assert_non_null(s);
		mdb_conn *c = mdb_conn_open(s->port);
		assert_non_null(c);
		mdb_sleep_ms(100 * round);
		MDB_ASSERT_CALL(c, "+OK", "SET", "lone", "write");
		long long deadline = mdb_now_ms() + 3000, durable = -1;
		while (mdb_now_ms() < deadline) {
			char *info = MDB_CALL(c, "INFO", "persistence");
			durable = info_number(info, "wal_durable_seq:");
			free(info);
			if (durable >= 1)
				break;
			mdb_sleep_ms(50);
		}
		if (durable < 1)
			fail_msg("round %d: the SET was not fsynced 3 s later (wal_durable_seq "
			         "%lld)",
			         round, durable);
		mdb_conn_close(c);
		assert_int_equal(mdb_stop(s), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(every_write_command_survives_a_clean_restart_with_fsync_always),
	        cmocka_unit_test(every_write_command_survives_a_clean_restart_with_fsync_everysec),
	        cmocka_unit_test(every_write_command_survives_a_clean_restart_with_fsync_no),
	        cmocka_unit_test(acknowledged_writes_survive_sigkill_with_fsync_always),
	        cmocka_unit_test(a_key_that_expires_while_the_server_is_down_is_gone_after_restart),
	        cmocka_unit_test(commands_get_loading_while_the_log_is_replayed_then_the_data),
	        cmocka_unit_test(
	                a_flipped_byte_in_the_first_segment_stops_start_up_naming_file_and_offset),
	        cmocka_unit_test(wal_recover_truncate_keeps_the_records_before_the_damage),
	        cmocka_unit_test(sigterm_while_loading_exits_0_and_loses_nothing),
	        cmocka_unit_test(a_torn_last_record_is_cut_with_a_warning_and_the_rest_is_kept),
	        cmocka_unit_test(a_flipped_byte_in_the_last_record_is_damage_not_a_torn_tail),
	        cmocka_unit_test(a_torn_tail_inside_an_atomic_batch_drops_the_whole_batch),
	        cmocka_unit_test(
	                a_missing_segment_stops_start_up_and_truncate_drops_everything_after_the_gap),
	        cmocka_unit_test(
	                a_log_missing_its_first_segment_is_refused_and_truncate_starts_with_the_rest),
	        cmocka_unit_test(
	                a_logged_value_above_max_value_bytes_refuses_start_with_a_clear_error),
	        cmocka_unit_test(
	                segments_rotate_at_wal_segment_bytes_and_a_restart_replays_them_all),
	        cmocka_unit_test(a_lone_write_is_fsynced_within_about_a_second_under_everysec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
