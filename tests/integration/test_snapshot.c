/* test_snapshot.c - Parquet snapshots seen from outside: SAVE and BGSAVE
 * write snapshot-<seq>.parquet and INFO persistence, LASTSAVE report it;
 * BGSAVE while one runs is refused (SCHEDULE queues another); a restart
 * after SIGKILL loads the newest good snapshot and replays the log after it,
 * also after a BGSAVE under load; a snapshot removes the WAL segments it
 * covers; a damaged newest snapshot falls back to the one before it, and
 * with none to fall back to start-up stops (also when the log after it is
 * empty, and when a good snapshot holds a value over --max-value-bytes);
 * timed snapshots keep at most --snapshots-keep files and skip an idle
 * keyspace; a clean shutdown writes a closing snapshot unless told not to;
 * storage.file_path follows the newest snapshot and is loaded when it is all
 * there is; expiry times, binary keys, empty values, a large value and an
 * empty keyspace round-trip; unfinished temporary files go at start-up.
 *
 * Each test starts its own server (the flags differ) and restarts it on the
 * same data directory. Damage is done to files on disk while the server is
 * down; file names are restated from src/snapshot.h and src/wal.c.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

enum {
	VLEN = 32,             /* value bytes of the numbered keys */
	SEG_VLEN = 40,         /* values in the segment tests: records of ~83 bytes */
	WAIT_MS = 15000,       /* bounded polls of INFO (scaled) */
	POLL_MS = 50,          /* between two polls */
	TTL_SLACK_MS = 1500,   /* PTTL against the expected deadline (scaled) */
	MAX_SNAPS = 64,        /* snapshot files listed at most */
	BG_CHUNK = 200,        /* SETs per pipelined send of the load thread */
	BG_MAX_KEYS = 2000000, /* the load thread stops there whatever happens */
};

/* Log lines (JSON, --log-format json from the harness). */
static const char SNAP_LOADED[] = "\"component\":\"snapshot\",\"msg\":\"loaded\"";
static const char RECOVERED[] = "\"component\":\"persist\",\"msg\":\"recovered\"";
static const char DAMAGED[] = "damaged snapshot skipped";

/* ---- small utilities ---- */

/* The last log line holding needle; fails the test when there is none. */
static char *log_line(const mdb_server *s, const char *needle)
{
	char *line = mdb_last_log_line(s, needle);
	if (line == NULL) {
		mdb_print_log(s);
		fail_msg("no log line holding %s", needle);
	}
	return line;
}

/* Restarts s with args and fails (saying why it should not have started)
 * unless start-up is refused: exit status 1 within the stop timeout. */
static void assert_refuses_start(mdb_server *s, const char *const args[], const char *why)
{
	print_message("expected: the server refuses to start (its log follows)\n");
	if (mdb_restart(s, args) == 0) {
		mdb_conn *c = mdb_open_ok(s);
		long long keys = MDB_CALL_INT(c, "DBSIZE", NULL);
		mdb_conn_close(c);
		mdb_print_log(s);
		fail_msg("%s, yet the server started, with %lld keys", why, keys);
	}
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS)), 1);
}

static size_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

/* Flips 64 bytes in the middle of the file (page data, not the footer, for
 * any snapshot of more than a few hundred rows). */
static void flip_middle(const char *path)
{
	size_t len = 0;
	char *img = mdb_read_file(path, &len);
	assert_non_null(img);
	assert_true(len > 4096);
	for (size_t i = len / 2; i < len / 2 + 64; i++)
		img[i] ^= (char)0xa5;
	assert_int_equal(mdb_write_file(path, img, len), 0);
	free(img);
}

/* ---- files in the data dir ---- */

typedef struct snaps {
	int n;
	uint64_t seq[MAX_SNAPS];  /* ascending */
	char newest[PATH_MAX];    /* path of the last one; "" when none */
	char name[MAX_SNAPS][64]; /* file names */
} snaps;

/* 1 when s is prefix, 20 digits, suffix: how snapshots and WAL segments are
 * named. */
static int is_numbered_name(const char *s, const char *prefix, const char *suffix)
{
	size_t p = strlen(prefix);
	if (strlen(s) != p + 20 + strlen(suffix) || strncmp(s, prefix, p) != 0 ||
	    strcmp(s + p + 20, suffix) != 0)
		return 0;
	for (size_t i = p; i < p + 20; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* "snapshot-" 20 digits ".parquet" (src/snapshot.h). */
static int is_snapshot_name(const struct dirent *de)
{
	return is_numbered_name(de->d_name, "snapshot-", ".parquet");
}

/* "wal-" 20 digits ".log" (src/wal.c). */
static int is_segment_name(const struct dirent *de)
{
	return is_numbered_name(de->d_name, "wal-", ".log");
}

static void list_snapshots(const char *dir, snaps *out)
{
	struct dirent **names;
	int n = scandir(dir, &names, is_snapshot_name, alphasort);
	assert_true(n >= 0);
	out->n = 0;
	out->newest[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (out->n < MAX_SNAPS) {
			snprintf(out->name[out->n], sizeof out->name[0], "%.40s", names[i]->d_name);
			out->seq[out->n] = strtoull(names[i]->d_name + 9, NULL, 10);
			snprintf(out->newest, sizeof out->newest, "%s/%s", dir, names[i]->d_name);
			out->n++;
		}
		free(names[i]);
	}
	free(names);
	assert_true(n <= MAX_SNAPS);
}

static int count_segments(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, is_segment_name, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return n;
}

/* Size of the newest WAL segment of dir (-1: none). */
static long long newest_segment_size(const char *dir)
{
	struct dirent **names;
	char path[PATH_MAX];
	long long size = -1;
	int n = scandir(dir, &names, is_segment_name, alphasort);
	assert_true(n >= 0);
	if (n > 0 &&
	    snprintf(path, sizeof path, "%s/%s", dir, names[n - 1]->d_name) < (int)sizeof path) {
		struct stat st;
		if (stat(path, &st) == 0)
			size = (long long)st.st_size;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return size;
}

/* Entries of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* ---- INFO persistence ---- */

static char *info_persistence(mdb_conn *c)
{
	char *info = MDB_CALL(c, "INFO", "persistence");
	if (info[0] != '$')
		fail_msg("INFO persistence: got \"%.200s\"", info);
	return info;
}

/* The number after "\r\n<field>:" in an INFO text. */
static long long info_num(const char *info, const char *field)
{
	char pat[96];
	snprintf(pat, sizeof pat, "\r\n%s:", field);
	const char *p = strstr(info, pat);
	if (p == NULL)
		fail_msg("INFO persistence has no %s: %s", field, info);
	return strtoll(p + strlen(pat), NULL, 10);
}

static long long info_get(mdb_conn *c, const char *field)
{
	char *info = info_persistence(c);
	long long v = info_num(info, field);
	free(info);
	return v;
}

/* Fails unless INFO holds "<field>:<want>" as a whole line. */
static void assert_info_str(const char *info, const char *field, const char *want)
{
	char pat[160];
	snprintf(pat, sizeof pat, "\r\n%s:%s\r\n", field, want);
	if (strstr(info, pat) == NULL)
		fail_msg("INFO persistence: expected %s:%s in: %s", field, want, info);
}

/* Polls INFO (bounded) until no snapshot is being written and rdb_saves is
 * at least min_saves; returns rdb_saves. */
static long long wait_saves(mdb_conn *c, long long min_saves)
{
	long long t0 = mdb_now_ms(), deadline = t0 + mdb_timeout_ms(WAIT_MS);
	for (int round = 0; round < 100000; round++) {
		char *info = info_persistence(c);
		long long saves = info_num(info, "rdb_saves");
		long long running = info_num(info, "rdb_bgsave_in_progress");
		if (saves >= min_saves && running == 0) {
			free(info);
			return saves;
		}
		if (mdb_now_ms() > deadline)
			fail_msg("after %lld ms: rdb_saves %lld (want >= %lld), "
			         "rdb_bgsave_in_progress %lld; INFO: %s",
			         mdb_now_ms() - t0, saves, min_saves, running, info);
		free(info);
		mdb_sleep_ms(POLL_MS);
	}
	fail_msg("wait_saves: too many rounds");
	return -1;
}

/* Fails unless the latest start loaded a snapshot of rows rows and seq seq
 * (-1: any) and replayed records log records after it (-1: any). */
static void assert_loaded(const mdb_server *s, long long rows, long long seq, long long records)
{
	char *line = log_line(s, SNAP_LOADED);
	char *rec = log_line(s, RECOVERED);
	if ((rows >= 0 && mdb_log_field(line, "rows") != rows) ||
	    (seq >= 0 && mdb_log_field(line, "seq") != seq) ||
	    mdb_log_field(rec, "snapshot_seq") != mdb_log_field(line, "seq") ||
	    (records >= 0 && mdb_log_field(rec, "records") != records))
		fail_msg("expected a snapshot of %lld rows at seq %lld loaded and %lld records "
		         "replayed after it; the log says:\n%s\n%s",
		         rows, seq, records, line, rec);
	free(line);
	free(rec);
}

static void assert_dbsize(mdb_conn *c, long long n)
{
	char want[32];
	snprintf(want, sizeof want, ":%lld", n);
	MDB_ASSERT_CALL(c, want, "DBSIZE");
}

/* ---- 1. SAVE, INFO, LASTSAVE, restart after SIGKILL ---- */

static void save_writes_a_snapshot_that_info_reports_and_a_restart_after_sigkill_loads(void **state)
{
	enum { FIRST = 1000, MORE = 500 };
	mdb_server *s = mdb_start_ok(NULL);
	mdb_conn *c = mdb_open_ok(s);
	snaps sn;

	MDB_PIPELINE_SETS(c, "k:", 0, FIRST, VLEN);
	long long before_s = mdb_unix_ms() / 1000;
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	long long after_s = mdb_unix_ms() / 1000;

	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 1);
	char *info = info_persistence(c);
	long long seq = info_num(info, "wal_last_seq");
	assert_true(seq >= FIRST);
	assert_int_equal(sn.seq[0], seq);
	assert_int_equal(info_num(info, "snapshot_last_seq"), seq);
	assert_int_equal(info_num(info, "rdb_saves"), 1);
	assert_int_equal(info_num(info, "rdb_changes_since_last_save"), 0);
	assert_int_equal(info_num(info, "rdb_bgsave_in_progress"), 0);
	assert_info_str(info, "rdb_last_bgsave_status", "ok");
	assert_info_str(info, "snapshot_last_error", "");
	assert_int_equal(info_num(info, "snapshot_failures"), 0);
	assert_int_equal(info_num(info, "snapshot_last_rows"), FIRST);
	assert_int_equal(info_num(info, "snapshot_last_bytes"), file_size(sn.newest));
	long long info_time = info_num(info, "rdb_last_save_time");
	free(info);

	/* A Parquet file: "PAR1" at both ends. */
	size_t len = 0;
	char *img = mdb_read_file(sn.newest, &len);
	assert_non_null(img);
	assert_true(len > 8);
	assert_memory_equal(img, "PAR1", 4);
	assert_memory_equal(img + len - 4, "PAR1", 4);
	free(img);

	long long lastsave = MDB_CALL_INT(c, "LASTSAVE", NULL);
	if (lastsave < before_s - 1 || lastsave > after_s + 1)
		fail_msg("LASTSAVE %lld: expected the Unix time of the SAVE, %lld..%lld", lastsave,
		         before_s, after_s);
	assert_int_equal(info_time, lastsave);

	/* Changes after it are counted, and only they are replayed later. */
	MDB_PIPELINE_SETS(c, "k:", FIRST, MORE, VLEN);
	MDB_ASSERT_CALL(c, ":1", "DEL", "k:0");
	assert_int_equal(info_get(c, "rdb_changes_since_last_save"), MORE + 1);
	assert_int_equal(info_get(c, "rdb_saves"), 1);
	mdb_conn_close(c);

	mdb_kill_ok(s);
	mdb_restart_ok(s, NULL);
	assert_loaded(s, FIRST, seq, MORE + 1);
	c = mdb_open_ok(s);
	assert_dbsize(c, FIRST + MORE - 1);
	MDB_ASSERT_CALL(c, "nil", "GET", "k:0");
	MDB_CHECK_NUMBERED(c, "k:", 1, FIRST + MORE - 1, FIRST + MORE + 10, VLEN);
	/* LASTSAVE after a restart: the loaded snapshot's time. */
	lastsave = MDB_CALL_INT(c, "LASTSAVE", NULL);
	if (lastsave < before_s - 1 || lastsave > after_s + 1)
		fail_msg("LASTSAVE after the restart %lld: expected the snapshot's time, "
		         "%lld..%lld",
		         lastsave, before_s, after_s);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 2. SAVE removes the WAL segments it covers ---- */

static const char *const seg_args[] = {"--wal-segment-bytes", "4096", NULL};

/* n keys prefix<first..>, in pipelined sends of 100 (each send's batch
 * closes a 4 KiB segment or more). */
static void write_in_small_batches(mdb_conn *c, const char *prefix, long long first, long long n)
{
	for (long long i = 0; i < n; i += 100)
		MDB_PIPELINE_SETS(c, prefix, first + i, n - i < 100 ? n - i : 100, SEG_VLEN);
}

static void save_removes_the_wal_segments_it_covers_and_a_restart_still_has_every_key(void **state)
{
	enum { KEYS = 3000, AFTER = 150 };
	mdb_server *s = mdb_start_ok(seg_args);
	mdb_conn *c = mdb_open_ok(s);

	write_in_small_batches(c, "seg:", 0, KEYS);
	int before = count_segments(s->data_dir);
	if (before < 5)
		fail_msg("only %d WAL segments after %d SETs at --wal-segment-bytes 4096", before,
		         KEYS);
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	int after = count_segments(s->data_dir);
	print_message("WAL segments: %d before SAVE, %d after\n", before, after);
	if (after >= before || after > 2)
		fail_msg("SAVE left %d of %d WAL segments; the snapshot covers all but the open "
		         "one",
		         after, before);
	/* The syncer rotates a full segment on its own time, so one more may
	 * have been opened between the count and the SAVE. */
	long long removed = info_get(c, "snapshot_wal_segments_removed");
	if (removed < before - after || removed > before)
		fail_msg("snapshot_wal_segments_removed %lld; %d segments before, %d after",
		         removed, before, after);

	write_in_small_batches(c, "seg:", KEYS, AFTER);
	mdb_conn_close(c);
	mdb_kill_ok(s);
	mdb_restart_ok(s, seg_args);
	assert_loaded(s, KEYS, -1, AFTER);
	c = mdb_open_ok(s);
	assert_dbsize(c, KEYS + AFTER);
	MDB_CHECK_NUMBERED(c, "seg:", 0, KEYS + AFTER, KEYS + AFTER + 10, SEG_VLEN);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 3. BGSAVE under load ---- */

/* A thread doing pipelined SETs of bg:<i> until told to stop or the server
 * goes away; acked is the number of keys bg:0 .. bg:acked-1 acknowledged. */
typedef struct loader {
	int port;
	pthread_t thread;
	atomic_int stop;
	atomic_llong acked;
} loader;

static void *loader_main(void *arg)
{
	loader *l = arg;
	mdb_conn *c = mdb_conn_open(l->port);
	if (c == NULL)
		return NULL;
	long long next = 0;
	while (!atomic_load(&l->stop) && next < BG_MAX_KEYS) {
		long long ok = mdb_pipeline_sets(c, "bg:", next, BG_CHUNK, VLEN);
		next += ok;
		atomic_store(&l->acked, next);
		if (ok < BG_CHUNK)
			break; /* the server was killed (or failed: the check will say) */
	}
	mdb_conn_close(c);
	return NULL;
}

/* Waits (bounded) until the loader has min keys acknowledged. */
static void wait_acked(loader *l, long long min)
{
	long long deadline = mdb_now_ms() + mdb_timeout_ms(WAIT_MS);
	while (atomic_load(&l->acked) < min) {
		if (mdb_now_ms() > deadline)
			fail_msg(
			        "the load thread has only %lld keys acknowledged, waiting for %lld",
			        (long long)atomic_load(&l->acked), min);
		mdb_sleep_ms(10);
	}
}

/* Sends BGSAVE, BGSAVE, BGSAVE SCHEDULE in one write: the first starts a
 * snapshot, the other two find it running (they arrive microseconds later,
 * long before tens of thousands of rows are written). strict: the second
 * reply must be Redis's exact error line, else any error saying "already in
 * progress" will do. */
static void send_three_bgsaves(mdb_conn *c, int strict)
{
	mdb_buf b = {0};
	const char *one[1] = {"BGSAVE"}, *two[2] = {"BGSAVE", "SCHEDULE"};
	const size_t one_len[1] = {6}, two_len[2] = {6, 8};
	assert_int_equal(mdb_resp_encode(&b, 1, one, one_len), 0);
	assert_int_equal(mdb_resp_encode(&b, 1, one, one_len), 0);
	assert_int_equal(mdb_resp_encode(&b, 2, two, two_len), 0);
	assert_int_equal(mdb_send_all(c->fd, b.p, b.len), 0);
	free(b.p);
	static const char *const want[3] = {"+Background saving started",
	                                    "-ERR Background save already in progress",
	                                    "+Background saving scheduled"};
	for (int i = 0; i < 3; i++) {
		mdb_reply r;
		char *got = mdb_resp_read(c, &r) == 0 ? mdb_reply_render(&r) : NULL;
		mdb_reply_free(&r);
		int ok = got != NULL && strcmp(got, want[i]) == 0;
		if (!ok && !strict && i == 1 && got != NULL)
			ok = got[0] == '-' && strstr(got, "already in progress") != NULL;
		if (!ok)
			fail_msg(
			        "reply %d to BGSAVE, BGSAVE, BGSAVE SCHEDULE: expected \"%s\", got "
			        "\"%s\"",
			        i + 1, want[i], got ? got : "(no reply)");
		free(got);
	}
}

static const char *const bg_args[] = {"--fsync", "always", NULL};

static void bgsave_under_load_then_sigkill_keeps_every_acknowledged_write(void **state)
{
	enum { PRELOAD = 30000 };
	mdb_server *s = mdb_start_ok(bg_args);
	mdb_conn *c = mdb_open_ok(s);
	MDB_PIPELINE_SETS(c, "pre:", 0, PRELOAD, VLEN);

	loader l = {.port = s->port};
	atomic_init(&l.stop, 0);
	atomic_init(&l.acked, 0);
	assert_int_equal(pthread_create(&l.thread, NULL, loader_main, &l), 0);
	wait_acked(&l, 2000);

	send_three_bgsaves(c, 0);
	long long saves = wait_saves(c, 1);
	char *info = info_persistence(c);
	assert_info_str(info, "rdb_last_bgsave_status", "ok");
	assert_int_equal(info_num(info, "snapshot_failures"), 0);
	long long snap_seq = info_num(info, "snapshot_last_seq");
	long long snap_rows = info_num(info, "snapshot_last_rows");
	free(info);
	print_message("snapshot %lld: seq %lld, %lld rows, while %lld keys were acknowledged\n",
	              saves, snap_seq, snap_rows, (long long)atomic_load(&l.acked));
	assert_true(snap_rows >= PRELOAD + 2000);

	/* Keep writing a little after it, then kill in the middle of it. */
	wait_acked(&l, atomic_load(&l.acked) + 2000);
	mdb_kill_ok(s);
	atomic_store(&l.stop, 1);
	assert_int_equal(pthread_join(l.thread, NULL), 0);
	mdb_conn_close(c);
	long long acked = atomic_load(&l.acked);

	mdb_restart_ok(s, bg_args);
	assert_loaded(s, -1, -1, -1);
	char *line = log_line(s, SNAP_LOADED);
	assert_true(mdb_log_field(line, "seq") >= snap_seq);
	free(line);
	c = mdb_open_ok(s);
	MDB_CHECK_NUMBERED(c, "pre:", 0, PRELOAD, PRELOAD, VLEN);
	MDB_CHECK_NUMBERED(c, "bg:", 0, acked, acked, VLEN);
	print_message("%lld acknowledged keys checked after SIGKILL\n", acked);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void bgsave_schedule_while_one_runs_is_followed_by_another_snapshot(void **state)
{
	/* cmd_server.c: "with SCHEDULE, a snapshot already running is not an
	 * error: another one follows it" (as in Redis). */
	enum { PRELOAD = 30000 };
	static const char *const args[] = {"--snapshot-every", "0", NULL};
	mdb_server *s = mdb_start_ok(args);
	mdb_conn *c = mdb_open_ok(s);
	MDB_PIPELINE_SETS(c, "pre:", 0, PRELOAD, VLEN);
	send_three_bgsaves(c, 0);
	wait_saves(c, 1);
	long long deadline = mdb_now_ms() + mdb_timeout_ms(3000);
	long long saves = 0;
	while ((saves = info_get(c, "rdb_saves")) < 2 && mdb_now_ms() < deadline)
		mdb_sleep_ms(POLL_MS);
	if (saves < 2)
		fail_msg("BGSAVE SCHEDULE replied \"Background saving scheduled\" while a "
		         "snapshot ran, but no snapshot followed it (rdb_saves %lld after 3 s)",
		         saves);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void save_and_bgsave_errors_carry_a_single_err_prefix(void **state)
{
	/* reply_error adds "ERR " itself (reply.c); cmd_server.c's SAVE, BGSAVE
	 * and SHUTDOWN errors must not add another. */
	mdb_server *s = mdb_start_ok(NULL);
	mdb_conn *c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, "-ERR syntax error", "BGSAVE", "NOW");
	MDB_ASSERT_CALL(c, "-ERR syntax error", "BGSAVE", "SCHEDULE", "X");
	MDB_ASSERT_CALL(c, "-ERR syntax error", "SHUTDOWN", "LATER");
	/* Redis's line for a second BGSAVE while one runs. */
	MDB_PIPELINE_SETS(c, "pre:", 0, 30000, VLEN);
	send_three_bgsaves(c, 1);
	wait_saves(c, 1);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 4. damaged snapshots ---- */

static void
a_damaged_newest_snapshot_falls_back_to_the_previous_one_and_the_longer_log(void **state)
{
	enum { A = 3000, B = 3000, C = 500 };
	mdb_server *s = mdb_start_ok(NULL);
	mdb_conn *c = mdb_open_ok(s);
	snaps sn;

	MDB_PIPELINE_SETS(c, "a:", 0, A, VLEN);
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	long long first_seq = info_get(c, "snapshot_last_seq");
	MDB_PIPELINE_SETS(c, "b:", 0, B, VLEN);
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	MDB_PIPELINE_SETS(c, "c:", 0, C, VLEN);
	mdb_conn_close(c);
	mdb_kill_ok(s);

	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 2);
	assert_int_equal(sn.seq[0], first_seq);
	flip_middle(sn.newest);

	mdb_restart_ok(s, NULL);
	char *line = log_line(s, DAMAGED);
	if (strstr(line, sn.name[1]) == NULL || strstr(line, "\"level\":\"error") == NULL)
		fail_msg("expected an error naming %s, got: %s", sn.name[1], line);
	free(line);
	assert_loaded(s, A, first_seq, B + C);
	c = mdb_open_ok(s);
	assert_dbsize(c, A + B + C);
	MDB_CHECK_NUMBERED(c, "a:", 0, A, A, VLEN);
	MDB_CHECK_NUMBERED(c, "b:", 0, B, B, VLEN);
	MDB_CHECK_NUMBERED(c, "c:", 0, C, C, VLEN);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void
the_only_snapshot_damaged_with_its_log_gone_stops_start_up_with_a_clear_message(void **state)
{
	enum { KEYS = 3000 };
	static const char *const args[] = {"--snapshots-keep", "1", "--wal-segment-bytes", "4096",
	                                   NULL};
	mdb_server *s = mdb_start_ok(args);
	mdb_conn *c = mdb_open_ok(s);
	snaps sn;

	write_in_small_batches(c, "k:", 0, KEYS);
	int before = count_segments(s->data_dir);
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	int after = count_segments(s->data_dir);
	if (after >= before)
		fail_msg("SAVE removed no WAL segment (%d before, %d after)", before, after);
	write_in_small_batches(c, "more:", 0, 200);
	mdb_conn_close(c);
	mdb_kill_ok(s);
	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 1);
	flip_middle(sn.newest);

	assert_refuses_start(s, args, "the only snapshot is damaged and the log before it is gone");
	char *damaged = log_line(s, DAMAGED);
	assert_non_null(strstr(damaged, sn.name[0]));
	free(damaged);
	char *line = mdb_last_log_line(s, "refusing to start");
	if (line == NULL || strstr(line, "the segments before it are missing") == NULL ||
	    strstr(line, "the newest snapshot is damaged") == NULL)
		fail_msg("expected a \"refusing to start\" line saying the segments before the "
		         "log are missing and the newest snapshot is damaged, got: %s",
		         line ? line : "(none)");
	free(line);
	/* The damaged file is moved aside, not deleted: still there to look at,
	 * no longer counted as a snapshot to keep. */
	char aside[PATH_MAX + 16];
	snprintf(aside, sizeof aside, "%s.damaged", sn.newest);
	assert_int_equal(access(aside, F_OK), 0);
	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 0);
	assert_int_equal(mdb_stop(s), 1);
}

static void
the_only_snapshot_damaged_and_an_empty_log_after_it_stops_start_up_not_empty(void **state)
{
	/* The log after the snapshot holds no record (only the segment the
	 * last rotation opened, 16 bytes of header): a start that finds the
	 * snapshot damaged must still see that the records before that
	 * segment are gone, rather than start with an empty keyspace. */
	enum { KEYS = 1000, SEG_HEADER = 16 };
	static const char *const args[] = {
	        "--snapshots-keep", "1", "--wal-segment-bytes", "4096", "--fsync", "always", NULL};
	mdb_server *s = mdb_start_ok(args);
	mdb_conn *c = mdb_open_ok(s);
	snaps sn;

	write_in_small_batches(c, "k:", 0, KEYS);
	/* The syncer rotates the full segment right after its fsync. */
	long long deadline = mdb_now_ms() + mdb_timeout_ms(5000);
	while (newest_segment_size(s->data_dir) != SEG_HEADER && mdb_now_ms() < deadline)
		mdb_sleep_ms(10);
	if (newest_segment_size(s->data_dir) != SEG_HEADER) {
		/* Rotation not reached: one write of 5000 bytes closes the segment. */
		char *v = malloc(5001);
		assert_non_null(v);
		memset(v, 'x', 5000);
		v[5000] = '\0';
		MDB_ASSERT_CALL(c, "+OK", "SET", "k:filler", v);
		free(v);
		while (newest_segment_size(s->data_dir) != SEG_HEADER && mdb_now_ms() < deadline)
			mdb_sleep_ms(10);
	}
	assert_int_equal(newest_segment_size(s->data_dir), SEG_HEADER);
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	assert_int_equal(count_segments(s->data_dir), 1);
	mdb_conn_close(c);
	mdb_kill_ok(s);
	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 1);
	flip_middle(sn.newest);

	assert_refuses_start(s, args,
	                     "the only snapshot is damaged and the log before its seq is gone");
	char *line = mdb_last_log_line(s, "refusing to start");
	if (line == NULL || strstr(line, "the newest snapshot is damaged") == NULL)
		fail_msg("expected a \"refusing to start\" line saying the newest snapshot is "
		         "damaged, got: %s",
		         line ? line : "(none)");
	free(line);
	assert_int_equal(mdb_stop(s), 1);
}

/* ---- 5. timed snapshots ---- */

static void
timed_snapshots_follow_changes_keep_at_most_snapshots_keep_and_skip_idle_time(void **state)
{
	enum { ROUNDS = 4, KEYS = 200 };
	static const char *const args[] = {"--snapshot-every",
	                                   "1",
	                                   "--snapshot-min-changes",
	                                   "1",
	                                   "--snapshots-keep",
	                                   "2",
	                                   NULL};
	mdb_server *s = mdb_start_ok(args);
	mdb_conn *c = mdb_open_ok(s);
	snaps sn, idle;
	long long saves = 0;
	char prefix[32];

	for (int r = 0; r < ROUNDS; r++) {
		snprintf(prefix, sizeof prefix, "t%d:", r);
		MDB_PIPELINE_SETS(c, prefix, 0, KEYS, VLEN);
		long long t0 = mdb_now_ms();
		long long now_saves = wait_saves(c, saves + 1);
		print_message("round %d: snapshot %lld after %lld ms\n", r, now_saves,
		              mdb_now_ms() - t0);
		saves = now_saves;
		list_snapshots(s->data_dir, &sn);
		if (sn.n < 1 || sn.n > 2)
			fail_msg("round %d: %d snapshot files, expected 1 or 2", r, sn.n);
		assert_int_equal(info_get(c, "snapshot_last_rows"), (long long)(r + 1) * KEYS);
		assert_int_equal(info_get(c, "rdb_changes_since_last_save"), 0);
	}
	assert_int_equal(sn.n, 2);

	/* Nothing changes: nothing is written. */
	mdb_sleep_ms(2500);
	list_snapshots(s->data_dir, &idle);
	assert_int_equal(info_get(c, "rdb_saves"), saves);
	assert_int_equal(idle.n, sn.n);
	for (int i = 0; i < sn.n; i++)
		assert_string_equal(idle.name[i], sn.name[i]);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 6. the closing snapshot ---- */

static void a_clean_shutdown_writes_a_closing_snapshot_unless_turned_off(void **state)
{
	enum { KEYS = 2000 };
	static const char *const off[] = {"--snapshot-on-shutdown=false", NULL};
	mdb_server *s = mdb_start_ok(NULL);
	mdb_conn *c = mdb_open_ok(s);
	snaps sn, again;

	MDB_PIPELINE_SETS(c, "sd:", 0, KEYS, VLEN);
	mdb_conn_close(c);
	mdb_stop_cleanly(s);
	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 1);
	char *saved = log_line(s, "\"component\":\"snapshot\",\"msg\":\"saved\"");
	assert_non_null(strstr(saved, "\"kind\":\"shutdown\""));
	free(saved);

	mdb_restart_ok(s, NULL);
	assert_loaded(s, KEYS, (long long)sn.seq[0], 0);
	c = mdb_open_ok(s);
	assert_dbsize(c, KEYS);
	MDB_CHECK_NUMBERED(c, "sd:", 0, KEYS, KEYS, VLEN);
	mdb_conn_close(c);
	/* Nothing changed since: no second closing snapshot. */
	mdb_stop_cleanly(s);
	list_snapshots(s->data_dir, &again);
	assert_int_equal(again.n, 1);
	assert_string_equal(again.name[0], sn.name[0]);
	assert_int_equal(mdb_stop(s), 0);

	s = mdb_start_ok(off);
	c = mdb_open_ok(s);
	MDB_PIPELINE_SETS(c, "sd:", 0, KEYS, VLEN);
	mdb_conn_close(c);
	mdb_stop_cleanly(s);
	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 0);
	mdb_restart_ok(s, off);
	char *rec = log_line(s, RECOVERED);
	assert_int_equal(mdb_log_field(rec, "snapshot_seq"), 0);
	assert_int_equal(mdb_log_field(rec, "records"), KEYS);
	free(rec);
	c = mdb_open_ok(s);
	assert_dbsize(c, KEYS);
	MDB_CHECK_NUMBERED(c, "sd:", 0, KEYS, KEYS, VLEN);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* SHUTDOWN NOSAVE|SAVE over the connection, then: no reply (the connection
 * closes, as Redis does) and the server exits 0. */
static void shutdown_by_command(mdb_server *s, mdb_conn *c, const char *mode)
{
	char cmd[64];
	int n = snprintf(cmd, sizeof cmd, "*2\r\n$8\r\nSHUTDOWN\r\n$%zu\r\n%s\r\n", strlen(mode),
	                 mode);
	assert_int_equal(mdb_send_all(c->fd, cmd, (size_t)n), 0);
	assert_int_equal(mdb_wait_closed(c, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS)), 1);
	mdb_conn_close(c);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS)), 0);
}

/* SHUTDOWN NOSAVE skips the closing snapshot that is on by default, SHUTDOWN
 * SAVE writes one even with --snapshot-on-shutdown=false, and an unknown
 * argument is a syntax error that stops nothing. */
static void shutdown_nosave_and_save_override_the_closing_snapshot(void **state)
{
	enum { KEYS = 500 };
	static const char *const off[] = {"--snapshot-on-shutdown=false", NULL};
	mdb_server *s = mdb_start_ok(NULL);
	mdb_conn *c = mdb_open_ok(s);
	snaps sn;
	(void)state;

	MDB_PIPELINE_SETS(c, "sh:", 0, KEYS, VLEN);
	MDB_ASSERT_CALL(c, "-ERR syntax error", "SHUTDOWN", "MAYBE");
	MDB_ASSERT_CALL(c, "+PONG", "PING");
	shutdown_by_command(s, c, "NOSAVE");
	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 0);

	/* The log alone has every key; then SAVE overrides the flag. */
	mdb_restart_ok(s, off);
	char *rec = log_line(s, RECOVERED);
	assert_int_equal(mdb_log_field(rec, "records"), KEYS);
	free(rec);
	c = mdb_open_ok(s);
	assert_dbsize(c, KEYS);
	shutdown_by_command(s, c, "SAVE");
	list_snapshots(s->data_dir, &sn);
	assert_int_equal(sn.n, 1);
	mdb_restart_ok(s, off);
	assert_loaded(s, KEYS, (long long)sn.seq[0], 0);
	c = mdb_open_ok(s);
	MDB_CHECK_NUMBERED(c, "sh:", 0, KEYS, KEYS, VLEN);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 7. storage.file_path ---- */

/* Writes <dir>/minidb.yaml naming <dir>/data/db.parquet as storage.file_path;
 * fills args with --config and it. */
static void write_config(const char *dir, char *yaml, size_t yaml_len, char *db, size_t db_len)
{
	char text[PATH_MAX + 64];
	snprintf(yaml, yaml_len, "%s/minidb.yaml", dir);
	snprintf(db, db_len, "%s/data/db.parquet", dir);
	int n = snprintf(text, sizeof text, "storage:\n  file_path: \"%s\"\n", db);
	assert_int_equal(mdb_write_file(yaml, text, (size_t)n), 0);
}

static void assert_same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	if (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
		return;
	size_t la, lb;
	char *ia = mdb_read_file(a, &la), *ib = mdb_read_file(b, &lb);
	assert_non_null(ia);
	assert_non_null(ib);
	if (la != lb || memcmp(ia, ib, la) != 0)
		fail_msg("%s is neither a link to nor a copy of %s", a, b);
	free(ia);
	free(ib);
}

static void storage_file_path_follows_the_newest_snapshot_and_is_loaded_when_alone(void **state)
{
	enum { KEYS = 1500 };
	char yaml[PATH_MAX], db[PATH_MAX], data[PATH_MAX], copy[PATH_MAX];
	char *dir = mdb_temp_dir();
	assert_non_null(dir);
	snprintf(data, sizeof data, "%s/data", dir);
	assert_int_equal(mkdir(data, 0700), 0);
	write_config(dir, yaml, sizeof yaml, db, sizeof db);
	const char *const args[] = {"--config", yaml, NULL};
	snaps sn;

	mdb_server *s = mdb_start_in(data, args);
	assert_non_null(s);
	mdb_conn *c = mdb_open_ok(s);
	MDB_PIPELINE_SETS(c, "fp:", 0, KEYS, VLEN);
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	list_snapshots(data, &sn);
	assert_int_equal(sn.n, 1);
	assert_same_file(db, sn.newest);
	MDB_PIPELINE_SETS(c, "fp:", KEYS, KEYS, VLEN);
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	list_snapshots(data, &sn);
	assert_int_equal(sn.n, 2);
	assert_same_file(db, sn.newest);
	mdb_conn_close(c);
	mdb_stop_cleanly(s);
	assert_int_equal(mdb_stop(s), 0);

	/* A data dir holding only that file (the original Mini DB's layout). */
	char *dir2 = mdb_temp_dir();
	assert_non_null(dir2);
	snprintf(data, sizeof data, "%s/data", dir2);
	assert_int_equal(mkdir(data, 0700), 0);
	write_config(dir2, yaml, sizeof yaml, copy, sizeof copy);
	size_t len;
	char *img = mdb_read_file(db, &len);
	assert_non_null(img);
	assert_int_equal(mdb_write_file(copy, img, len), 0);
	free(img);
	s = mdb_start_in(data, args);
	assert_non_null(s);
	char *line = log_line(s, "loaded storage.file_path (no snapshot yet)");
	assert_int_equal(mdb_log_field(line, "rows"), 2 * KEYS);
	free(line);
	c = mdb_open_ok(s);
	assert_dbsize(c, 2 * KEYS);
	MDB_CHECK_NUMBERED(c, "fp:", 0, 2 * KEYS, 2 * KEYS + 10, VLEN);
	/* It goes on from there: a write, a SIGKILL, the file and the log. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "fp:new", "v");
	mdb_conn_close(c);
	mdb_kill_ok(s);
	mdb_restart_ok(s, args);
	c = mdb_open_ok(s);
	assert_dbsize(c, 2 * KEYS + 1);
	MDB_ASSERT_CALL(c, "$v", "GET", "fp:new");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
	mdb_remove_tree(dir);
	mdb_remove_tree(dir2);
	free(dir);
	free(dir2);
}

/* ---- 8. expiry, binary keys and values ---- */

typedef struct bkv {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
} bkv;

static void set_binary(mdb_conn *c, const bkv *kv)
{
	const char *argv[3] = {"SET", kv->key, kv->val};
	const size_t lens[3] = {3, kv->klen, kv->vlen};
	mdb_reply r;
	assert_int_equal(mdb_resp_call(c, 3, argv, lens, &r), 0);
	if (r.type != '+')
		fail_msg("SET of a binary key (%zu bytes): got '%c' %s", kv->klen, r.type,
		         r.str ? r.str : "");
	mdb_reply_free(&r);
}

static void check_binary(mdb_conn *c, const bkv *kv)
{
	const char *argv[2] = {"GET", kv->key};
	const size_t lens[2] = {3, kv->klen};
	mdb_reply r;
	assert_int_equal(mdb_resp_call(c, 2, argv, lens, &r), 0);
	int ok = r.type == '$' && r.len == kv->vlen && memcmp(r.str, kv->val, kv->vlen) == 0;
	if (!ok) {
		char *q = mdb_quote(kv->key, kv->klen);
		print_error("GET %s: expected %zu bytes, got type '%c' of %zu bytes\n", q ? q : "?",
		            kv->vlen, r.type, r.len);
		free(q);
	}
	mdb_reply_free(&r);
	if (!ok)
		fail();
}

/* PTTL of key is deadline - now within the slack (deadline on mdb_now_ms). */
static void check_pttl(mdb_conn *c, const char *key, long long deadline)
{
	long long slack = mdb_timeout_ms(TTL_SLACK_MS);
	long long now = mdb_now_ms();
	long long pttl = MDB_CALL_INT(c, "PTTL", key);
	if (pttl <= 0 || llabs(pttl - (deadline - now)) > slack)
		fail_msg("PTTL %s: %lld, expected %lld (+-%lld)", key, pttl, deadline - now, slack);
}

static void expiry_binary_keys_and_empty_values_round_trip_through_a_snapshot(void **state)
{
	enum { PLAIN = 100, DOWN_MS = 2000, BIG = 3 << 20 };
	static const char big_nul[] = "\0\0\xff\xff\0value with NUL\r\n\xff";
	static const bkv bin[] = {
	        {"bin:\0\xff\r\n", 8,
	         "\0\xff\x00"
	         "abc\xff",
	         7},
	        {"\xff\xfe\xfd", 3, "", 0},
	        {"empty", 5, "", 0},
	        {"\0", 1, big_nul, sizeof big_nul - 1},
	        {"utf8:\xc3\xa9\xe2\x82\xac", 10, "\xf0\x9f\x98\x80", 4},
	};
	const size_t nbin = sizeof bin / sizeof bin[0];
	mdb_server *s = mdb_start_ok(NULL);
	mdb_conn *c = mdb_open_ok(s);
	char at[32];

	long long t = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "ttl:ex", "v", "EX", "1000");
	long long d_ex = t + 1000000;
	t = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "ttl:px", "v", "PX", "5000000");
	long long d_px = t + 5000000;
	t = mdb_now_ms();
	long long wall = mdb_unix_ms();
	snprintf(at, sizeof at, "%lld", wall + 3000000);
	MDB_ASSERT_CALL(c, "+OK", "SET", "ttl:pxat", "v", "PXAT", at);
	long long d_pxat = t + 3000000;
	t = mdb_now_ms();
	MDB_ASSERT_CALL(c, "+OK", "SET", "ttl:short", "v", "PX", "30000");
	long long d_short = t + 30000;
	/* Expired before the SAVE, never read again. */
	for (int i = 0; i < 5; i++) {
		char key[32];
		snprintf(key, sizeof key, "gone:%d", i);
		MDB_ASSERT_CALL(c, "+OK", "SET", key, "v", "PX", "100");
	}
	for (size_t i = 0; i < nbin; i++)
		set_binary(c, &bin[i]);
	MDB_PIPELINE_SETS(c, "p:", 0, PLAIN, VLEN);
	/* Several pages' worth of one value (xorshift32: reproducible bytes). */
	char *big = malloc(BIG);
	assert_non_null(big);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < BIG; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		big[i] = (char)x;
	}
	const bkv bigkv = {"big", 3, big, BIG};
	set_binary(c, &bigkv);
	/* Alive at the SAVE, expired by the restart. */
	MDB_ASSERT_CALL(c, "+OK", "SET", "ttl:dies", "v", "PX", "1200");
	mdb_sleep_ms(300);
	const long long live = 5 + (long long)nbin + PLAIN + 1;

	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	assert_int_equal(info_get(c, "snapshot_last_rows"), live);
	mdb_conn_close(c);
	mdb_kill_ok(s);
	mdb_sleep_ms(DOWN_MS); /* a TTL kept as relative time would be DOWN_MS off */

	mdb_restart_ok(s, NULL);
	assert_loaded(s, live, -1, -1);
	c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, ":0", "EXISTS", "ttl:dies");
	assert_dbsize(c, live - 1);
	check_binary(c, &bigkv);
	free(big);
	check_pttl(c, "ttl:ex", d_ex);
	check_pttl(c, "ttl:px", d_px);
	check_pttl(c, "ttl:pxat", d_pxat);
	check_pttl(c, "ttl:short", d_short);
	MDB_ASSERT_CALL(c, ":-1", "PTTL", "p:0");
	MDB_ASSERT_CALL(c, ":0", "EXISTS", "gone:0", "gone:1", "gone:2", "gone:3", "gone:4");
	for (size_t i = 0; i < nbin; i++)
		check_binary(c, &bin[i]);
	MDB_CHECK_NUMBERED(c, "p:", 0, PLAIN, PLAIN, VLEN);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void an_empty_keyspace_saves_and_loads_as_an_empty_snapshot(void **state)
{
	mdb_server *s = mdb_start_ok(NULL);
	mdb_conn *c = mdb_open_ok(s);
	MDB_PIPELINE_SETS(c, "old:", 0, 100, VLEN);
	MDB_ASSERT_CALL(c, "+OK", "FLUSHALL");
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	assert_int_equal(info_get(c, "snapshot_last_rows"), 0);
	MDB_ASSERT_CALL(c, "+OK", "SET", "after", "v");
	mdb_conn_close(c);
	mdb_kill_ok(s);
	mdb_restart_ok(s, NULL);
	assert_loaded(s, 0, -1, 1);
	c = mdb_open_ok(s);
	assert_dbsize(c, 1);
	MDB_ASSERT_CALL(c, "$v", "GET", "after");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void a_snapshot_value_above_max_value_bytes_refuses_start_naming_the_limit(void **state)
{
	/* The file is good; today's limit is lower than when it was written.
	 * As with a logged value over the limit (test_persistence.c), start-up
	 * must stop naming --max-value-bytes, not skip the snapshot as damaged
	 * (with its log gone that would blame missing segments instead). */
	static const char *const args[] = {"--snapshots-keep", "1", "--wal-segment-bytes", "4096",
	                                   NULL};
	static const char *const small[] = {"--snapshots-keep",
	                                    "1",
	                                    "--wal-segment-bytes",
	                                    "4096",
	                                    "--max-value-bytes",
	                                    "1024",
	                                    NULL};
	char val[2049];
	mdb_server *s = mdb_start_ok(args);
	mdb_conn *c = mdb_open_ok(s);
	mdb_numbered_value(val, 7, 2048);
	MDB_ASSERT_CALL(c, "+OK", "SET", "big", val);
	write_in_small_batches(c, "k:", 0, 1000);
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	mdb_conn_close(c);
	mdb_kill_ok(s);

	assert_refuses_start(s, small,
	                     "a good snapshot holding a value over --max-value-bytes was skipped "
	                     "as damaged");
	char *line = mdb_last_log_line(s, "refusing to start");
	char *damaged = mdb_last_log_line(s, DAMAGED);
	if (line == NULL || strstr(line, "--max-value-bytes") == NULL || damaged != NULL)
		fail_msg("expected a \"refusing to start\" line naming --max-value-bytes and no "
		         "\"%s\" line; got: %s%s%s",
		         DAMAGED, line ? line : "(no refusing line)", damaged ? "\nand: " : "",
		         damaged ? damaged : "");
	free(line);
	free(damaged);
	/* With the limit back, everything is there. */
	mdb_restart_ok(s, args);
	c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, ":2048", "STRLEN", "big");
	assert_dbsize(c, 1001);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 9. unfinished temporary files ---- */

static void unfinished_snapshot_temp_files_are_removed_at_start_up(void **state)
{
	mdb_server *s = mdb_start_ok(NULL);
	mdb_conn *c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, "+OK", "SET", "a", "b");
	mdb_conn_close(c);
	mdb_stop_cleanly(s);

	static const char *const stale[] = {
	        ".tmp-snapshot-00000000000000000001-12345.parquet",
	        ".tmp-snapshot-00000000000000000099-1.parquet",
	};
	char path[PATH_MAX], keep[PATH_MAX];
	for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
		assert_true(snprintf(path, sizeof path, "%s/%s", s->data_dir, stale[i]) <
		            (int)sizeof path);
		assert_int_equal(mdb_write_file(path, "PAR1 half written", 17), 0);
	}
	assert_true(snprintf(keep, sizeof keep, "%s/notes.txt", s->data_dir) < (int)sizeof keep);
	assert_int_equal(mdb_write_file(keep, "mine", 4), 0);
	assert_int_equal(count_prefixed(s->data_dir, ".tmp-snapshot-"), 2);

	mdb_restart_ok(s, NULL);
	assert_int_equal(count_prefixed(s->data_dir, ".tmp-snapshot-"), 0);
	char *line = log_line(s, "removed an unfinished snapshot left by a crash");
	assert_non_null(strstr(line, ".tmp-snapshot-"));
	free(line);
	assert_int_equal(access(keep, F_OK), 0);
	c = mdb_open_ok(s);
	MDB_ASSERT_CALL(c, "$b", "GET", "a");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(
	                save_writes_a_snapshot_that_info_reports_and_a_restart_after_sigkill_loads),
	        cmocka_unit_test(
	                save_removes_the_wal_segments_it_covers_and_a_restart_still_has_every_key),
	        cmocka_unit_test(bgsave_under_load_then_sigkill_keeps_every_acknowledged_write),
	        cmocka_unit_test(bgsave_schedule_while_one_runs_is_followed_by_another_snapshot),
	        cmocka_unit_test(save_and_bgsave_errors_carry_a_single_err_prefix),
	        cmocka_unit_test(
	                a_damaged_newest_snapshot_falls_back_to_the_previous_one_and_the_longer_log),
	        cmocka_unit_test(
	                the_only_snapshot_damaged_with_its_log_gone_stops_start_up_with_a_clear_message),
	        cmocka_unit_test(
	                the_only_snapshot_damaged_and_an_empty_log_after_it_stops_start_up_not_empty),
	        cmocka_unit_test(
	                timed_snapshots_follow_changes_keep_at_most_snapshots_keep_and_skip_idle_time),
	        cmocka_unit_test(a_clean_shutdown_writes_a_closing_snapshot_unless_turned_off),
	        cmocka_unit_test(shutdown_nosave_and_save_override_the_closing_snapshot),
	        cmocka_unit_test(
	                storage_file_path_follows_the_newest_snapshot_and_is_loaded_when_alone),
	        cmocka_unit_test(expiry_binary_keys_and_empty_values_round_trip_through_a_snapshot),
	        cmocka_unit_test(an_empty_keyspace_saves_and_loads_as_an_empty_snapshot),
	        cmocka_unit_test(
	                a_snapshot_value_above_max_value_bytes_refuses_start_naming_the_limit),
	        cmocka_unit_test(unfinished_snapshot_temp_files_are_removed_at_start_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
