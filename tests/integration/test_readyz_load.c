/* test_readyz_load.c - /readyz of the real server while it is not ready:
 * 1. during a long replay of the write-ahead log at start-up (a million keys
 *    and more), polled every millisecond over a raw socket: 503 with a JSON
 *    reason naming loading, /healthz 200 and -LOADING on the client port at
 *    the same time, then 200 with every key present, never back to 503;
 * 2. on a full disk (a 4 MiB tmpfs in a private mount namespace, as in
 *    test_disk_full.c): 503 naming the failed snapshot, then the WAL that
 *    cannot be written, and 200 again once space is freed and a SAVE works.
 *    Where mounting is not allowed (no CAP_SYS_ADMIN) that test is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

enum {
	LOAD_KEYS = 1000000,    /* keys of the first attempt; a second one adds as many */
	LOAD_ATTEMPTS = 2,      /* restarts tried until the replay is caught */
	FILL_THREADS = 2,       /* connections filling in parallel */
	VALUE_BYTES = 16,       /* ~60-byte WAL records: ~60 MB a million */
	HTTP_TIMEOUT_MS = 2000, /* one raw GET while polling (scaled) */
	LOAD_WAIT_MS = 60000,   /* until /readyz answers 200 after a restart (scaled) */
	MAX_POLLS = 1000000,    /* bounds the polling loop besides the deadline */
	POLL_PAUSE_US = 1000,
	DISK_VALUE = 32 * 1024, /* values written to fill the tmpfs's WAL */
	DISK_MAX_WRITES = 400,  /* 4 MiB holds at most 128 of them */
	DISK_WAIT_MS = 15000,   /* for the WAL's retry to succeed (scaled) */
};

#define TMPFS_OPTIONS "size=4m,mode=0700"

static const char LOADING_ERR[] = "-LOADING minidb is loading the dataset in memory";

static int mounts_allowed; /* set by main: the tmpfs test can run */

/* The arguments of every start: WAL only, so a restart replays the log. */
static const char *const ARGS[] = {"--http-port=-1", "--snapshot-on-shutdown=false", "--fsync",
                                   "no", NULL};

/* ---- helpers ---- */

/* Parses a /readyz or /healthz body: fails unless it is a JSON object whose
 * "status" is status and whose "reason" (absent when reason_has is NULL)
 * contains reason_has. */
static void assert_json_status(const char *body, const char *status, const char *reason_has)
{
	json_error_t err;
	json_t *root = json_loads(body ? body : "", 0, &err);
	const char *st = json_string_value(json_object_get(root, "status"));
	const char *why = json_string_value(json_object_get(root, "reason"));
	int ok =
	        st != NULL && strcmp(st, status) == 0 &&
	        (reason_has == NULL ? why == NULL : why != NULL && strstr(why, reason_has) != NULL);
	json_decref(root);
	if (!ok)
		fail_msg("body %s: want status \"%s\" and a reason containing \"%s\"",
		         body ? body : "(none)", status, reason_has ? reason_has : "(no reason)");
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* The HTTP port of the "listener":"http" line logged after byte offset from
 * of the server's log (the current start), waiting for it (bounded). */
static int http_port_after(const mdb_server *s, long long from)
{
	long long deadline = mdb_now_ms() + mdb_timeout_ms(10000);
	while (mdb_now_ms() < deadline) {
		size_t len = 0;
		char *log = mdb_read_file(s->log_path, &len);
		const char *p = log && (long long)len > from
		                        ? strstr(log + from, "\"listener\":\"http\"")
		                        : NULL;
		long long port = -1;
		if (p != NULL) {
			const char *eol = strchr(p, '\n');
			const char *q = strstr(p, "\"port\":");
			if (q != NULL && (eol == NULL || q < eol))
				port = strtoll(q + 7, NULL, 10);
		}
		free(log);
		if (port > 0)
			return (int)port;
		mdb_sleep_ms(1);
	}
	mdb_print_log(s);
	fail_msg("no \"listener\":\"http\" line after the restart");
	return -1;
}

typedef struct fill_job {
	int port;
	long long first, n, acked;
} fill_job;

static void *fill_thread(void *arg)
{
	fill_job *j = arg;
	mdb_conn *c = mdb_conn_open(j->port);
	if (c != NULL)
		j->acked = mdb_pipeline_sets(c, "r:", j->first, j->n, VALUE_BYTES);
	mdb_conn_close(c);
	return NULL;
}

/* SETs r:<i> for i in [first, first + n) over FILL_THREADS connections. */
static void fill(const mdb_server *s, long long first, long long n)
{
	pthread_t t[FILL_THREADS];
	fill_job jobs[FILL_THREADS];
	long long per = n / FILL_THREADS;
	for (int i = 0; i < FILL_THREADS; i++) {
		jobs[i] = (fill_job){.port = s->port,
		                     .first = first + i * per,
		                     .n = i == FILL_THREADS - 1 ? n - i * per : per};
		assert_int_equal(pthread_create(&t[i], NULL, fill_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < FILL_THREADS; i++) {
		pthread_join(t[i], NULL);
		if (jobs[i].acked != jobs[i].n)
			fail_msg("filler %d: %lld of %lld SETs acknowledged", i, jobs[i].acked,
			         jobs[i].n);
	}
}

/* What the poll of one restart saw. */
typedef struct observed {
	int not_ready;       /* /readyz 503 naming loading */
	int healthz_ok;      /* /healthz 200 in the same rounds */
	int loading_pings;   /* PING answered -LOADING */
	int metrics_loading; /* /metrics said minidb_loading 1 and minidb_ready 0 */
	long long ms;        /* from listening to /readyz 200 */
} observed;

/* Polls /readyz, /healthz and PING until /readyz answers 200. Loading only
 * goes from 1 to 0, so once a PING is answered +PONG no loading 503 may
 * follow, and the first 200 stays. */
static observed poll_until_ready(const mdb_server *s, int hp)
{
	observed o = {0};
	int to = mdb_timeout_ms(HTTP_TIMEOUT_MS);
	mdb_conn *c = mdb_open_ok(s);
	long long t0 = mdb_now_ms(), deadline = t0 + mdb_timeout_ms(LOAD_WAIT_MS);
	int ping_said_ready = 0; /* a PING was answered +PONG: loading is over */
	for (int i = 0;; i++) {
		if (i >= MAX_POLLS || mdb_now_ms() > deadline)
			fail_msg("/readyz not 200 after %d polls, %lld ms", i, mdb_now_ms() - t0);
		char *body = NULL;
		int st = mdb_http_get(hp, "/readyz", &body, to);
		if (st == 200) {
			assert_json_status(body, "ready", NULL);
			free(body);
			o.ms = mdb_now_ms() - t0;
			break;
		}
		if (st != 503)
			fail_msg("/readyz while loading: status %d, body %s", st, body ? body : "");
		assert_json_status(body, "not ready", "loading");
		free(body);
		if (ping_said_ready)
			fail_msg("/readyz 503 (loading) after PING was answered +PONG");
		o.not_ready++;

		st = mdb_http_get(hp, "/healthz", &body, to);
		if (st != 200)
			fail_msg("/healthz while loading: status %d, body %s", st,
			         body ? body : "");
		assert_json_status(body, "ok", NULL);
		free(body);
		o.healthz_ok++;

		if (o.metrics_loading == 0 && o.not_ready == 1) {
			assert_int_equal(mdb_http_get(hp, "/metrics", &body, to), 200);
			/* The scrape may see the end of the load; only a consistent pair counts. */
			if (strstr(body, "\nminidb_loading 1\n") &&
			    strstr(body, "\nminidb_ready 0\n"))
				o.metrics_loading = 1;
			else if (strstr(body, "\nminidb_loading 0\n") == NULL)
				fail_msg("/metrics while loading lacks minidb_loading: %.300s",
				         body);
			free(body);
		}

		char *ping = MDB_CALL(c, "PING");
		int loading = strcmp(ping, LOADING_ERR) == 0;
		ping_said_ready = strcmp(ping, "+PONG") == 0;
		if (!loading && !ping_said_ready)
			fail_msg("PING while loading: %s", ping);
		o.loading_pings += loading;
		free(ping);
		usleep(POLL_PAUSE_US);
	}
	/* Ready stays ready. */
	for (int i = 0; i < 20; i++) {
		char *body = NULL;
		assert_int_equal(mdb_http_get(hp, "/readyz", &body, to), 200);
		free(body);
	}
	MDB_ASSERT_CALL(c, "+PONG", "PING");
	mdb_conn_close(c);
	return o;
}

static void readyz_is_503_while_the_log_is_replayed_and_200_once_every_key_is_loaded(void **state)
{
	(void)state;
	mdb_server *s = mdb_start_ok(ARGS);
	long long written = 0;
	observed o = {0};
	for (int attempt = 0; attempt < LOAD_ATTEMPTS && o.not_ready == 0; attempt++) {
		long long t = mdb_now_ms();
		fill(s, written, LOAD_KEYS);
		written += LOAD_KEYS;
		long long fill_ms = mdb_now_ms() - t;
		mdb_stop_cleanly(s);
		long long from = file_size(s->log_path);
		if (mdb_restart_listening(s, ARGS) != 0)
			fail_msg("the server did not listen again (log above)");
		int hp = http_port_after(s, from);
		o = poll_until_ready(s, hp);
		char *rec = mdb_last_log_line(s, "\"msg\":\"recovered\"");
		printf("%lld keys (filled in %lld ms, WAL ~%lld MB): replay %lld ms by the log; "
		       "/readyz 200 after %lld ms; seen while loading: %d x /readyz 503, "
		       "%d x /healthz 200, %d x -LOADING, /metrics minidb_loading 1: %s\n",
		       written, fill_ms, written * (36 + 9 + VALUE_BYTES) / 1000000,
		       mdb_log_field(rec, "elapsed_ms"), o.ms, o.not_ready, o.healthz_ok,
		       o.loading_pings, o.metrics_loading ? "yes" : "no");
		free(rec);
	}
	if (o.not_ready == 0)
		fail_msg("the replay of %lld keys ended before the first /readyz poll", written);
	if (o.loading_pings == 0)
		fail_msg("/readyz said loading but no PING got -LOADING");

	/* Every key is there. */
	mdb_conn *c = mdb_open_ok(s);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, ":%lld", written);
	MDB_ASSERT_CALL(c, dbsize, "DBSIZE");
	MDB_CHECK_NUMBERED(c, "r:", 0, 1000, 1000, VALUE_BYTES);
	MDB_CHECK_NUMBERED(c, "r:", written / 2, 1000, written / 2 + 1000, VALUE_BYTES);
	MDB_CHECK_NUMBERED(c, "r:", written - 1000, 1000, written + 10, VALUE_BYTES);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- 2. a full disk ---- */

typedef struct disk {
	char *mnt;
	char data_dir[PATH_MAX];
	char filler[PATH_MAX];
	mdb_server *s;
	int mounted;
} disk;

static int disk_setup(void **state)
{
	if (!mounts_allowed)
		return 0; /* the test skips itself */
	disk *d = calloc(1, sizeof *d);
	*state = d;
	if (d == NULL || (d->mnt = mdb_temp_dir()) == NULL)
		return -1;
	if (mount("tmpfs", d->mnt, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTIONS) != 0) {
		fprintf(stderr, "mount tmpfs on %s: %s\n", d->mnt, strerror(errno));
		return -1;
	}
	d->mounted = 1;
	snprintf(d->data_dir, sizeof d->data_dir, "%s/data", d->mnt);
	snprintf(d->filler, sizeof d->filler, "%s/filler", d->mnt);
	return 0;
}

static int disk_teardown(void **state)
{
	disk *d = *state;
	if (d == NULL)
		return 0;
	if (d->s != NULL)
		mdb_stop(d->s); /* only after a failure */
	if (d->mounted && umount2(d->mnt, MNT_DETACH) != 0)
		fprintf(stderr, "umount %s: %s\n", d->mnt, strerror(errno));
	if (d->mnt != NULL)
		rmdir(d->mnt);
	free(d->mnt);
	free(d);
	return 0;
}

/* Writes zeros to the filler file until the tmpfs is full. */
static void fill_disk(const disk *d)
{
	int fd = open(d->filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	static const char zeros[64 * 1024];
	for (int i = 0; i < 128; i++) { /* 8 MiB, twice the tmpfs */
		if (write(fd, zeros, sizeof zeros) <= 0)
			break;
	}
	close(fd);
}

/* GET /readyz; fails unless the status is want and the reason contains
 * reason_has (NULL: the ready body). */
static void assert_readyz(int hp, int want, const char *reason_has)
{
	char *body = NULL;
	int st = mdb_http_get(hp, "/readyz", &body, mdb_timeout_ms(HTTP_TIMEOUT_MS));
	if (st != want)
		fail_msg("/readyz: status %d, want %d; body %s", st, want, body ? body : "");
	if (want == 200)
		assert_json_status(body, "ready", NULL);
	else
		assert_json_status(body, "not ready", reason_has);
	printf("/readyz %d %s", st, body);
	free(body);
}

/* Waits (bounded) for /readyz to leave the WAL reason; returns the status. */
static int wait_wal_writable(int hp)
{
	long long deadline = mdb_now_ms() + mdb_timeout_ms(DISK_WAIT_MS);
	while (mdb_now_ms() < deadline) {
		char *body = NULL;
		int st = mdb_http_get(hp, "/readyz", &body, mdb_timeout_ms(HTTP_TIMEOUT_MS));
		int wal = body != NULL && strstr(body, "write-ahead log") != NULL;
		free(body);
		if (st > 0 && !wal)
			return st;
		mdb_sleep_ms(50);
	}
	fail_msg("/readyz still names the write-ahead log %d ms after space was freed",
	         mdb_timeout_ms(DISK_WAIT_MS));
	return -1;
}

static void readyz_is_503_after_a_failed_snapshot_and_while_the_wal_cannot_be_written(void **state)
{
	disk *d = *state;
	if (!mounts_allowed)
		skip();
	d->s = mdb_start_in(d->data_dir, ARGS);
	if (d->s == NULL)
		fail_msg("the server did not start on the tmpfs");
	int hp = mdb_http_port(d->s);
	assert_true(hp > 0);
	mdb_conn *c = mdb_open_ok(d->s);
	MDB_ASSERT_CALL(c, "+OK", "SET", "before", "full");
	assert_readyz(hp, 200, NULL);

	/* A snapshot that cannot be written: 503 naming it. */
	fill_disk(d);
	char *r = MDB_CALL(c, "SAVE");
	if (r[0] != '-')
		fail_msg("SAVE on a full disk: %s", r);
	free(r);
	assert_readyz(hp, 503, "snapshot");

	/* Writes the WAL cannot take: 503 naming the WAL (it comes first). */
	char *value = malloc(DISK_VALUE + 1);
	assert_non_null(value);
	memset(value, 'x', DISK_VALUE);
	value[DISK_VALUE] = '\0';
	int refused = 0;
	for (int i = 0; i < DISK_MAX_WRITES && !refused; i++) {
		char key[32];
		snprintf(key, sizeof key, "big:%d", i);
		r = MDB_CALL(c, "SET", key, value);
		refused = r[0] == '-';
		free(r);
	}
	free(value);
	if (!refused)
		fail_msg("%d SETs of %d bytes all accepted on a full 4 MiB tmpfs", DISK_MAX_WRITES,
		         DISK_VALUE);
	assert_readyz(hp, 503, "write-ahead log");

	/* Space again: the WAL's retry succeeds, the snapshot failure remains
	 * until a snapshot works. */
	assert_int_equal(unlink(d->filler), 0);
	assert_int_equal(wait_wal_writable(hp), 503);
	assert_readyz(hp, 503, "snapshot");
	MDB_ASSERT_CALL(c, "+OK", "SAVE");
	assert_readyz(hp, 200, NULL);
	MDB_ASSERT_CALL(c, "$full", "GET", "before");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(d->s), 0);
	d->s = NULL;
}

/* Moves the process into a mount namespace of its own with private mounts,
 * so the tmpfs is invisible outside and disappears with the process. Must
 * run before any thread starts. 1 when a tmpfs can be mounted there. */
static int enter_mount_namespace(void)
{
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		printf("note: no private mount namespace (%s): the full-disk test is skipped\n",
		       strerror(errno));
		return 0;
	}
	return 1;
}

int main(void)
{
	mounts_allowed = enter_mount_namespace();
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(
	                readyz_is_503_while_the_log_is_replayed_and_200_once_every_key_is_loaded),
	        cmocka_unit_test_setup_teardown(
	                readyz_is_503_after_a_failed_snapshot_and_while_the_wal_cannot_be_written,
	                disk_setup, disk_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
