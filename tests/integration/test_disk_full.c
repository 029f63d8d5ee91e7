/* test_disk_full.c - the server on a full disk. Its data dir sits on a small
 * tmpfs that a filler file nearly fills; writes of 16-64 KiB values then run
 * the write-ahead log out of space. Checked, under --fsync always (line
 * protocol) and everysec (RESP): the refused write gets an error naming the
 * WAL and ENOSPC, reads keep working, the connection stays open, the server
 * logs the cause and does not crash, writes work again soon after the filler
 * is deleted, and a restart recovers every acknowledged write. A write whose
 * reply said "outcome unknown" may or may not survive; a write refused
 * outright must not. Parquet snapshots on a disk with room for the WAL but
 * not for a snapshot: SAVE and BGSAVE fail with ENOSPC, change nothing in
 * the data dir (their temporary file is removed), INFO and the log say so,
 * and reads and writes go on; once space returns SAVE works and a restart
 * after SIGKILL loads its snapshot.
 *
 * The tmpfs is mounted in a private mount namespace (unshare(CLONE_NEWNS) on
 * the main thread, which forks every server, so the servers inherit it). The
 * namespace disappears with the process, so a crashed test leaves no mount
 * behind on the host. Where mounting is not allowed (no CAP_SYS_ADMIN) the
 * binary prints SKIP and exits 77, which CTest reports as skipped. We
 * rejected filling the real disk (slow, and it hurts everything else on the
 * machine) and RLIMIT_FSIZE (EFBIG instead of ENOSPC, and SIGXFSZ).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define TMPFS_OPTIONS "size=4m,mode=0700"

enum {
	SKIP_EXIT = 77,             /* CTest's SKIP_RETURN_CODE */
	HEADROOM = 768 * 1024,      /* bytes the filler leaves free for the WAL */
	MIN_VALUE = 16 * 1024,      /* value sizes: MIN_VALUE .. MIN_VALUE + VALUE_SPREAD */
	VALUE_SPREAD = 48 * 1024,   /* so several writes fit, and one does not */
	MAX_ENTRIES = 2000,         /* bounds every write loop */
	MAX_FILL_WRITES = 500,      /* 4 MiB holds at most 256 values */
	FILL_TIMEOUT_MS = 30000,    /* until the first refused write */
	RECOVER_TIMEOUT_MS = 5000,  /* from deleting the filler to a good write */
	PROBE_INTERVAL_MS = 50,     /* between write attempts while waiting */
	WRITES_WHILE_FULL = 4,      /* refused writes checked after the first */
	FULL_PAUSE_MS = 1200,       /* longer than the WAL's 1 s retry backoff */
	WRITES_AFTER_RECOVERY = 20, /* large writes that must all succeed */
	MAX_TRANSCRIPT = 8,         /* reply lines kept for the report */
	TRANSCRIPT_LINE = 1024,
};

/* What the server answered to one SET. */
typedef enum outcome {
	ACKED,   /* OK: must be readable now and after a restart */
	REFUSED, /* the WAL error: must never become visible */
	UNKNOWN, /* the WAL error with "outcome unknown": either is fine */
} outcome;

typedef struct entry {
	char key[48];
	size_t len; /* value length; the bytes come from make_value(seed) */
	uint32_t seed;
	outcome result;
} entry;

/* One connection, spoken to in RESP or in the line protocol. */
typedef struct client {
	mdb_conn *conn;
	int resp;
} client;

typedef struct fixture {
	char *mnt; /* the tmpfs mount point, from mdb_temp_dir */
	int mounted;
	char data_dir[PATH_MAX];
	char filler[PATH_MAX];
	mdb_server *s;
	client cl;
	entry entries[MAX_ENTRIES];
	size_t n;
	char *value; /* scratch for one value */
	char transcript[MAX_TRANSCRIPT][TRANSCRIPT_LINE];
	size_t ntranscript;
} fixture;

/* ---- values ---- */

static size_t value_len(size_t i)
{
	return MIN_VALUE + (i * 7919u) % (VALUE_SPREAD + 1);
}

/* Fills buf with len letters and digits from seed (xorshift32): never a
 * space, quote or control byte, so both protocols carry it raw. */
static void make_value(char *buf, size_t len, uint32_t seed)
{
	static const char alphabet[] =
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint32_t x = seed * 2654435761u | 1u;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = alphabet[x % (sizeof alphabet - 1)];
	}
}

/* ---- the client ---- */

/* Reads one reply line, without the '\r' of RESP. NULL on EOF or timeout. */
static char *client_line(client *cl)
{
	char *line;
	long n = mdb_read_line(cl->conn, &line);
	if (n < 0)
		return NULL;
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return line;
}

/* Sends SET key value and returns the reply line (malloc'd), or NULL when
 * the connection closed or timed out. */
static char *client_set(client *cl, const char *key, const char *val, size_t len)
{
	size_t klen = strlen(key);
	char *msg = malloc(len + klen + 128);
	if (msg == NULL)
		return NULL;
	int head =
	        cl->resp ? sprintf(msg, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n", klen, key, len)
	                 : sprintf(msg, "SET %s ", key);
	memcpy(msg + head, val, len);
	size_t n = (size_t)head + len;
	if (cl->resp)
		msg[n++] = '\r';
	msg[n++] = '\n';
	int rc = mdb_send_all(cl->conn->fd, msg, n);
	free(msg);
	return rc == 0 ? client_line(cl) : NULL;
}

/* Reads key. Returns 1 with a malloc'd *val of *len bytes, 0 when the key is
 * missing, -1 on anything else (with *val the unexpected reply, or NULL when
 * there was none). */
static int client_get(client *cl, const char *key, char **val, size_t *len)
{
	*val = NULL;
	*len = 0;
	char *req = NULL;
	int n = cl->resp ? asprintf(&req, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", strlen(key), key)
	                 : asprintf(&req, "LOOKUP %s\n", key);
	if (n < 0)
		return -1;
	int rc = mdb_send_all(cl->conn->fd, req, (size_t)n);
	free(req);
	char *line = rc == 0 ? client_line(cl) : NULL;
	if (line == NULL)
		return -1;
	if (!cl->resp) {
		if (strcmp(line, "NOT FOUND") == 0) {
			free(line);
			return 0;
		}
		if (strncmp(line, "ERROR", 5) == 0 || line[0] == '"') {
			*val = line; /* an error, or a quoted value we never store */
			return -1;
		}
		*val = line;
		*len = strlen(line);
		return 1;
	}
	if (strcmp(line, "$-1") == 0) {
		free(line);
		return 0;
	}
	char *end = NULL;
	long declared = line[0] == '$' ? strtol(line + 1, &end, 10) : -1;
	if (declared < 0 || *end != '\0') {
		*val = line;
		return -1;
	}
	free(line);
	/* Our values hold no '\n', so the bulk body is one line. */
	line = client_line(cl);
	if (line == NULL)
		return -1;
	*val = line;
	*len = strlen(line);
	return *len == (size_t)declared ? 1 : -1;
}

static void client_ping(client *cl)
{
	int rc = mdb_send_str(cl->conn, cl->resp ? "*1\r\n$4\r\nPING\r\n" : "PING\n");
	char *line = rc == 0 ? client_line(cl) : NULL;
	if (line == NULL)
		fail_msg("PING: no reply: the connection was closed or timed out");
	if (strcmp(line, cl->resp ? "+PONG" : "PONG") != 0)
		fail_msg("PING: expected PONG, got \"%.200s\"", line);
	free(line);
}

static int reply_is_ok(const client *cl, const char *reply)
{
	return strcmp(reply, cl->resp ? "+OK" : "OK") == 0;
}

/* The refusal we expect while the disk is full: the protocol's error class,
 * then the WAL named as the cause, with strerror(ENOSPC). */
static int reply_is_wal_full(const client *cl, const char *reply)
{
	const char *cls = cl->resp ? "-ERR " : "ERROR: ";
	return strncmp(reply, cls, strlen(cls)) == 0 && strstr(reply, "write-ahead log") != NULL &&
	       strstr(reply, "No space left on device") != NULL;
}

/* ---- the tmpfs ---- */

/* Classifies a failed setup call: EPERM, EACCES and ENOSYS mean this machine
 * does not let us mount (skip); anything else is a real failure. */
static int mount_errno_is_skip(int err)
{
	return err == EPERM || err == EACCES || err == ENOSYS;
}

/* Mounts a fresh tmpfs at dir. Returns 0 or an errno. */
static int mount_tmpfs(const char *dir)
{
	return mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTIONS) == 0 ? 0 : errno;
}

/* Moves the process into its own mount namespace, with mounts private so
 * nothing propagates back to the host, and proves a tmpfs can be mounted.
 * Returns 0, SKIP_EXIT, or 1, after saying why on stdout. */
static int enter_mount_namespace(void)
{
	const char *step = "unshare(CLONE_NEWNS)";
	int err = unshare(CLONE_NEWNS) == 0 ? 0 : errno;
	if (err == 0) {
		step = "making / a private mount";
		err = mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 ? 0 : errno;
	}
	if (err == 0) {
		step = "mounting a tmpfs";
		char *dir = mdb_temp_dir();
		if (dir == NULL)
			return 1;
		err = mount_tmpfs(dir);
		if (err == 0)
			umount2(dir, MNT_DETACH);
		rmdir(dir);
		free(dir);
	}
	if (err == 0)
		return 0;
	if (mount_errno_is_skip(err)) {
		printf("SKIP: cannot mount a tmpfs here (%s: %s; needs root or CAP_SYS_ADMIN)\n",
		       step, strerror(err));
		return SKIP_EXIT;
	}
	printf("%s failed: %s\n", step, strerror(err));
	return 1;
}

static int fixture_setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	if (fx == NULL)
		return -1;
	*state = fx;
	fx->value = malloc(MIN_VALUE + VALUE_SPREAD + 1);
	fx->mnt = mdb_temp_dir();
	if (fx->value == NULL || fx->mnt == NULL)
		return -1;
	int err = mount_tmpfs(fx->mnt);
	if (err != 0) {
		print_error("mount tmpfs on %s: %s\n", fx->mnt, strerror(err));
		return -1;
	}
	fx->mounted = 1;
	snprintf(fx->data_dir, sizeof fx->data_dir, "%s/data", fx->mnt);
	snprintf(fx->filler, sizeof fx->filler, "%s/filler", fx->mnt);
	return 0;
}

static int fixture_teardown(void **state)
{
	fixture *fx = *state;
	if (fx == NULL)
		return 0;
	mdb_conn_close(fx->cl.conn);
	if (fx->s != NULL)
		mdb_stop(fx->s); /* only after a failure: kills the server, prints its log */
	if (fx->mounted && umount2(fx->mnt, MNT_DETACH) != 0)
		print_error("umount %s: %s\n", fx->mnt, strerror(errno));
	if (fx->mnt != NULL)
		rmdir(fx->mnt);
	free(fx->mnt);
	free(fx->value);
	free(fx);
	return 0;
}

/* Writes a filler file that leaves about `leave` bytes of the tmpfs free. */
static void fill_disk(fixture *fx, size_t leave)
{
	struct statvfs sv;
	assert_int_equal(statvfs(fx->mnt, &sv), 0);
	size_t avail = (size_t)sv.f_bavail * sv.f_frsize;
	if (avail <= leave)
		fail_msg("only %zu bytes free on the tmpfs before the filler", avail);
	size_t want = avail - leave, done = 0;
	int fd = open(fx->filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	static const char zeros[64 * 1024];
	while (done < want) {
		size_t n = want - done < sizeof zeros ? want - done : sizeof zeros;
		ssize_t w = write(fd, zeros, n);
		if (w <= 0)
			break; /* ENOSPC a little early is fine */
		done += (size_t)w;
	}
	close(fd);
	assert_true(done >= want / 2);
}

/* Number of wal-*.log files in the data dir: proves the WAL lives on the
 * tmpfs, so the errors below are about the disk we filled. */
static int count_wal_segments(const fixture *fx)
{
	DIR *d = opendir(fx->data_dir);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "wal-", 4) == 0;
	closedir(d);
	return n;
}

/* ---- bookkeeping ---- */

static void keep_line(fixture *fx, const char *what, const char *line)
{
	/* Long lines are cut: they are for the report only. */
	if (fx->ntranscript < MAX_TRANSCRIPT &&
	    snprintf(fx->transcript[fx->ntranscript], TRANSCRIPT_LINE, "%s: %s", what, line) >= 0)
		fx->ntranscript++;
}

static entry *new_entry(fixture *fx, const char *policy, const char *kind, size_t len)
{
	if (fx->n == MAX_ENTRIES)
		fail_msg("more than %d writes", MAX_ENTRIES);
	entry *e = &fx->entries[fx->n];
	snprintf(e->key, sizeof e->key, "df:%s:%s:%zu", policy, kind, fx->n);
	e->len = len;
	e->seed = (uint32_t)fx->n + 1;
	e->result = REFUSED;
	fx->n++;
	return e;
}

/* Sends e's SET and returns the reply, failing the test when there is none
 * (the server closed the connection, crashed or hung). */
static char *write_entry(fixture *fx, const entry *e)
{
	make_value(fx->value, e->len, e->seed);
	char *reply = client_set(&fx->cl, e->key, fx->value, e->len);
	if (reply == NULL)
		fail_msg("SET %s (%zu bytes): no reply: the connection was closed or timed out",
		         e->key, e->len);
	return reply;
}

/* Records a WAL refusal in e; fails the test on any other reply but OK. */
static void judge_reply(fixture *fx, entry *e, char *reply)
{
	if (reply_is_ok(&fx->cl, reply)) {
		e->result = ACKED;
	} else if (reply_is_wal_full(&fx->cl, reply)) {
		e->result = strstr(reply, "outcome unknown") != NULL ? UNKNOWN : REFUSED;
	} else {
		fail_msg("SET %s: expected OK or the write-ahead log error, got \"%.200s\"", e->key,
		         reply);
	}
	free(reply);
}

/* Sends a new SET of len bytes that must be refused with the WAL error
 * (reply kept for the report when keep). */
static void expect_refused(fixture *fx, const char *policy, size_t len, int keep)
{
	entry *e = new_entry(fx, policy, "full", len);
	char *reply = write_entry(fx, e);
	if (!reply_is_wal_full(&fx->cl, reply))
		fail_msg("SET %s while the disk is full: expected the write-ahead log error, got "
		         "\"%.200s\"",
		         e->key, reply);
	if (keep)
		keep_line(fx, "SET while full", reply);
	judge_reply(fx, e, reply);
}

/* Reads every key written so far and checks it against its outcome:
 * acknowledged keys hold their value, refused keys are absent, keys of
 * unknown outcome are absent or hold their value. Returns how many keys of
 * unknown outcome were present. */
static size_t check_all(fixture *fx, const char *when)
{
	size_t unknown_present = 0;
	for (size_t i = 0; i < fx->n; i++) {
		const entry *e = &fx->entries[i];
		char *val;
		size_t len;
		int rc = client_get(&fx->cl, e->key, &val, &len);
		if (rc < 0)
			fail_msg("%s: GET %s: unexpected reply \"%.200s\"", when, e->key,
			         val != NULL ? val : "(none: closed or timed out)");
		if (rc == 1) {
			make_value(fx->value, e->len, e->seed);
			if (len != e->len || memcmp(val, fx->value, len) != 0)
				fail_msg("%s: GET %s: wrong value (%zu bytes, want %zu)", when,
				         e->key, len, e->len);
		}
		free(val);
		if (e->result == ACKED && rc != 1)
			fail_msg("%s: acknowledged key %s is missing", when, e->key);
		if (e->result == REFUSED && rc != 0)
			fail_msg("%s: key %s, whose write was refused, is present", when, e->key);
		unknown_present += e->result == UNKNOWN && rc == 1;
	}
	return unknown_present;
}

static size_t count_result(const fixture *fx, outcome r)
{
	size_t n = 0;
	for (size_t i = 0; i < fx->n; i++)
		n += fx->entries[i].result == r;
	return n;
}

/* Copies the first server log line containing needle into out. */
static int find_log_line(const mdb_server *s, const char *needle, char *out, size_t outlen)
{
	FILE *fp = fopen(s->log_path, "r");
	if (fp == NULL)
		return 0;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof line, fp) != NULL) {
		if (strstr(line, needle) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			found = snprintf(out, outlen, "%s", line) >= 0; /* may be cut */
		}
	}
	fclose(fp);
	return found;
}

static void assert_server_running(mdb_server *s, const char *when)
{
	int st = mdb_wait_exit(s, 0);
	if (st >= 0)
		fail_msg("%s: the server exited with status %d", when, st);
}

/* ---- the scenario ---- */

/* The whole story under one fsync policy, over RESP or the line protocol.
 * rotates: args make segments small, so the log must have rotated. */
static void disk_full_scenario(fixture *fx, const char *policy, int resp, int rotates,
                               const char *const args[])
{
	fx->s = mdb_start_in(fx->data_dir, args);
	assert_non_null(fx->s);
	fx->cl.resp = resp;
	fx->cl.conn = mdb_conn_open(fx->s->port);
	assert_non_null(fx->cl.conn);

	/* A few writes with room to spare. */
	for (int i = 0; i < 5; i++) {
		entry *e = new_entry(fx, policy, "before", 100 + (size_t)i);
		judge_reply(fx, e, write_entry(fx, e));
		assert_int_equal(e->result, ACKED);
	}
	if (count_wal_segments(fx) < 1)
		fail_msg("no wal-*.log in %s (on the tmpfs): no write-ahead log there",
		         fx->data_dir);

	/* Fill the disk, then write until the WAL runs out of space. */
	fill_disk(fx, HEADROOM);
	long long deadline = mdb_now_ms() + mdb_timeout_ms(FILL_TIMEOUT_MS);
	entry *first_err = NULL;
	for (int i = 0; first_err == NULL && i < MAX_FILL_WRITES && mdb_now_ms() < deadline; i++) {
		entry *e = new_entry(fx, policy, "fill", value_len(fx->n));
		char *reply = write_entry(fx, e);
		if (!reply_is_ok(&fx->cl, reply)) {
			keep_line(fx, "first error reply to a SET", reply);
			first_err = e;
		}
		judge_reply(fx, e, reply);
	}
	if (first_err == NULL)
		fail_msg("no write was refused after %zu writes on a full disk", fx->n);
	size_t acked_before_full = count_result(fx, ACKED);
	assert_true(acked_before_full > 5); /* the headroom took several writes */

	/* While full: further writes, small and large, are refused; the
	 * connection stays usable; reads return what was acknowledged. */
	for (int i = 0; i < WRITES_WHILE_FULL; i++)
		expect_refused(fx, policy, i % 2 ? value_len(fx->n) : 10, i == 0);
	client_ping(&fx->cl);
	check_all(fx, "while full");
	assert_server_running(fx->s, "while full");
	char logline[TRANSCRIPT_LINE];
	if (!find_log_line(fx->s, "No space left on device", logline, sizeof logline))
		fail_msg("the server log does not mention \"No space left on device\"");
	keep_line(fx, "server log", logline);
	/* Past the longest retry backoff, still full, still refused: what
	 * makes writes work again below is the space, not the passing time. */
	mdb_sleep_ms(FULL_PAUSE_MS);
	expect_refused(fx, policy, 10, 0);
	assert_server_running(fx->s, "while full");

	/* Free the space: a write must succeed within RECOVER_TIMEOUT_MS. */
	assert_int_equal(unlink(fx->filler), 0);
	long long freed_at = mdb_now_ms();
	deadline = freed_at + mdb_timeout_ms(RECOVER_TIMEOUT_MS);
	int recovered = 0;
	while (!recovered && mdb_now_ms() < deadline && fx->n < MAX_ENTRIES) {
		entry *e = new_entry(fx, policy, "probe", 10);
		judge_reply(fx, e, write_entry(fx, e));
		recovered = e->result == ACKED;
		if (!recovered)
			mdb_sleep_ms(PROBE_INTERVAL_MS);
	}
	if (!recovered)
		fail_msg("writes still fail %d ms after the filler was deleted",
		         mdb_timeout_ms(RECOVER_TIMEOUT_MS));
	long long recovery_ms = mdb_now_ms() - freed_at;
	for (int i = 0; i < WRITES_AFTER_RECOVERY; i++) {
		entry *e = new_entry(fx, policy, "after", value_len(fx->n));
		char *reply = write_entry(fx, e);
		if (!reply_is_ok(&fx->cl, reply))
			fail_msg("SET %s after space returned: \"%.200s\"", e->key, reply);
		judge_reply(fx, e, reply);
	}
	size_t unknown_live = check_all(fx, "after space returned");
	assert_server_running(fx->s, "after space returned");

	int segments = count_wal_segments(fx);
	if (rotates && segments < 2)
		fail_msg("%d WAL segment(s): the log never rotated", segments);

	/* A clean stop, then a restart on the same data dir recovers it all. */
	mdb_conn_close(fx->cl.conn);
	fx->cl.conn = NULL;
	assert_int_equal(mdb_signal(fx->s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(fx->s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS)), 0);
	assert_int_equal(mdb_restart(fx->s, args), 0);
	fx->cl.conn = mdb_conn_open(fx->s->port);
	assert_non_null(fx->cl.conn);
	size_t unknown_recovered = check_all(fx, "after restart");
	mdb_conn_close(fx->cl.conn);
	fx->cl.conn = NULL;
	int status = mdb_stop(fx->s);
	fx->s = NULL;
	assert_int_equal(status, 0);

	print_message("--fsync %s: %zu writes: %zu acknowledged (%zu before the disk filled), "
	              "%zu refused, %zu of unknown outcome (%zu readable before the restart, "
	              "%zu after); writes worked again %lld ms after the filler was deleted; "
	              "%d WAL segments\n",
	              policy, fx->n, count_result(fx, ACKED), acked_before_full,
	              count_result(fx, REFUSED), count_result(fx, UNKNOWN), unknown_live,
	              unknown_recovered, recovery_ms, segments);
	for (size_t i = 0; i < fx->ntranscript; i++)
		print_message("  %s\n", fx->transcript[i]);
}

static void with_fsync_always_a_full_disk_refuses_writes_keeps_reads_and_recovers(void **state)
{
	static const char *const args[] = {"--fsync", "always", NULL};
	disk_full_scenario(*state, "always", 0, 0, args);
}

static void with_fsync_everysec_a_full_disk_refuses_writes_keeps_reads_and_recovers(void **state)
{
	/* Segments of one to three values: rotations, which create files,
	 * happen while the disk fills too. */
	static const char *const args[] = {"--fsync", "everysec", "--wal-segment-bytes", "64k",
	                                   NULL};
	disk_full_scenario(*state, "everysec", 1, 1, args);
}

/* ---- snapshots on a full disk ---- */

enum {
	SNAP_KEYS = 48,             /* keys written before the disk fills */
	SNAP_VALUE = 24 * 1024,     /* 1.2 MiB of log; a snapshot, even zstd, is over 0.8 MiB */
	SNAP_HEADROOM = 256 * 1024, /* what the filler leaves: room for the WAL, not a snapshot */
	SNAP_SMALL_WRITES = 8,      /* small SETs that must be accepted after a failure */
	SNAP_SMALL_VALUE = 1024,
	SNAP_WAIT_MS = 15000,   /* bounded poll for the end of a BGSAVE (scaled) */
	SNAP_POLL_MS = 50,      /* between two polls */
	SNAP_MAX_POLLS = 10000, /* bounds the poll whatever the clock does */
	LISTING_BYTES = 4096,   /* "name size" lines of the data dir */
};

/* No timed or WAL-size triggered snapshot: every attempt below is one the
 * test asked for, so the counters are exact. */
static const char *const snap_args[] = {
        "--fsync", "always", "--snapshot-every", "0", "--snapshot-wal-bytes", "0", NULL};

static const char SNAP_FAILED[] = "\"component\":\"snapshot\",\"msg\":\"snapshot failed\"";
static const char SNAP_LOADED[] = "\"component\":\"snapshot\",\"msg\":\"loaded\"";
static const char ENOSPC_TEXT[] = "No space left on device";

/* Starts the server on the tmpfs, writes SNAP_KEYS large values (all must
 * be acknowledged), then fills the tmpfs up to SNAP_HEADROOM. */
static void snap_prepare(fixture *fx)
{
	fx->s = mdb_start_in(fx->data_dir, snap_args);
	assert_non_null(fx->s);
	fx->cl.resp = 1;
	fx->cl.conn = mdb_conn_open(fx->s->port);
	assert_non_null(fx->cl.conn);
	for (int i = 0; i < SNAP_KEYS; i++) {
		entry *e = new_entry(fx, "snap", "big", SNAP_VALUE);
		char *reply = write_entry(fx, e);
		if (!reply_is_ok(&fx->cl, reply))
			fail_msg("SET %s before the disk filled: \"%.200s\"", e->key, reply);
		judge_reply(fx, e, reply);
	}
	if (count_wal_segments(fx) < 1)
		fail_msg("no wal-*.log in %s (on the tmpfs): no write-ahead log there",
		         fx->data_dir);
	fill_disk(fx, SNAP_HEADROOM);
}

/* SETs `count` small values that must all be acknowledged: a failed
 * snapshot refuses no write while the WAL has room. */
static void snap_small_writes(fixture *fx, const char *kind, int count, const char *when)
{
	for (int i = 0; i < count; i++) {
		entry *e = new_entry(fx, "snap", kind, SNAP_SMALL_VALUE);
		char *reply = write_entry(fx, e);
		if (!reply_is_ok(&fx->cl, reply))
			fail_msg("%s: SET %s (%d bytes) was not accepted: \"%.200s\"", when, e->key,
			         SNAP_SMALL_VALUE, reply);
		judge_reply(fx, e, reply);
	}
}

static int not_dot(const struct dirent *de)
{
	return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* The data dir as sorted "name size" lines, so that two moments compare
 * with strcmp. */
static void dir_listing(const fixture *fx, char *out, size_t outlen)
{
	struct dirent **names = NULL;
	int n = scandir(fx->data_dir, &names, not_dot, alphasort);
	if (n < 0)
		fail_msg("scandir %s: %s", fx->data_dir, strerror(errno));
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX + 256];
		struct stat sb;
		snprintf(path, sizeof path, "%s/%s", fx->data_dir, names[i]->d_name);
		long long size = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
		int w = snprintf(out + len, outlen - len, "%s %lld\n", names[i]->d_name, size);
		if (w > 0 && (size_t)w < outlen - len)
			len += (size_t)w;
		free(names[i]);
	}
	free(names);
}

/* Files in the data dir whose names begin with prefix. */
static int count_prefixed(const fixture *fx, const char *prefix)
{
	DIR *d = opendir(fx->data_dir);
	if (d == NULL)
		fail_msg("opendir %s: %s", fx->data_dir, strerror(errno));
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* A failed snapshot leaves the data dir as it was: no temporary file, no
 * new snapshot, every other file the same size. */
static void assert_dir_unchanged(const fixture *fx, const char *before, const char *what)
{
	char after[LISTING_BYTES];
	dir_listing(fx, after, sizeof after);
	int temps = count_prefixed(fx, ".tmp-snapshot-");
	int snaps = count_prefixed(fx, "snapshot-");
	if (temps != 0 || snaps != 0)
		fail_msg("after the failed %s: %d .tmp-snapshot-* and %d snapshot-* file(s) in the "
		         "data dir:\n%s",
		         what, temps, snaps, after);
	if (strcmp(before, after) != 0)
		fail_msg("the failed %s changed the data dir; before:\n%safter:\n%s", what, before,
		         after);
}

static char *info_persistence(fixture *fx)
{
	char *info = MDB_CALL(fx->cl.conn, "INFO", "persistence");
	if (info[0] != '$')
		fail_msg("INFO persistence: got \"%.200s\"", info);
	return info;
}

/* The value of "<field>:" in an INFO text, up to the end of its line,
 * copied into out; fails when the field is missing. */
static const char *info_str(const char *info, const char *field, char *out, size_t outlen)
{
	char pat[96];
	snprintf(pat, sizeof pat, "\r\n%s:", field);
	const char *p = strstr(info, pat);
	if (p == NULL)
		fail_msg("INFO persistence has no %s: %s", field, info);
	p += strlen(pat);
	size_t n = strcspn(p, "\r\n");
	snprintf(out, outlen, "%.*s", (int)n, p);
	return out;
}

static long long info_num(const char *info, const char *field)
{
	char v[64];
	return strtoll(info_str(info, field, v, sizeof v), NULL, 10);
}

/* Fails unless INFO reports a failed last attempt, failures of them in all,
 * no success and nothing running, and names ENOSPC as the error. */
static void assert_info_failed(fixture *fx, long long failures, const char *what)
{
	char *info = info_persistence(fx);
	char status[32], error[256];
	info_str(info, "rdb_last_bgsave_status", status, sizeof status);
	info_str(info, "snapshot_last_error", error, sizeof error);
	if (strcmp(status, "err") != 0 || info_num(info, "snapshot_failures") != failures ||
	    info_num(info, "rdb_saves") != 0 || info_num(info, "rdb_bgsave_in_progress") != 0 ||
	    strstr(error, ENOSPC_TEXT) == NULL)
		fail_msg("after the failed %s: expected rdb_last_bgsave_status:err, "
		         "snapshot_failures:%lld, rdb_saves:0, rdb_bgsave_in_progress:0 and "
		         "snapshot_last_error naming \"%s\"; INFO persistence:\n%s",
		         what, failures, ENOSPC_TEXT, info);
	keep_line(fx, "snapshot_last_error", error);
	free(info);
}

/* Fails unless the last "snapshot failed" log line names kind and ENOSPC. */
static void assert_failure_logged(fixture *fx, const char *kind)
{
	char want_kind[64];
	snprintf(want_kind, sizeof want_kind, "\"kind\":\"%s\"", kind);
	char *line = mdb_last_log_line(fx->s, SNAP_FAILED);
	if (line == NULL || strstr(line, want_kind) == NULL || strstr(line, ENOSPC_TEXT) == NULL) {
		mdb_print_log(fx->s);
		fail_msg("expected a \"snapshot failed\" log line with %s and \"%s\"; last one: %s",
		         want_kind, ENOSPC_TEXT, line != NULL ? line : "(none)");
	}
	keep_line(fx, "server log", line);
	free(line);
}

/* SAVE's reply on a full disk: the error class, then ENOSPC. */
static void assert_save_refused(fixture *fx)
{
	char *reply = MDB_CALL(fx->cl.conn, "SAVE");
	if (strncmp(reply, "-ERR ", 5) != 0 || strstr(reply, ENOSPC_TEXT) == NULL)
		fail_msg("SAVE on a full disk: expected \"-ERR ...%s...\", got \"%.200s\"",
		         ENOSPC_TEXT, reply);
	keep_line(fx, "SAVE on a full disk", reply);
	free(reply);
}

/* Waits (bounded) until a requested BGSAVE has ended, in success or
 * failure. */
static void wait_bgsave_done(fixture *fx)
{
	long long t0 = mdb_now_ms(), deadline = t0 + mdb_timeout_ms(SNAP_WAIT_MS);
	for (int round = 0; round < SNAP_MAX_POLLS; round++) {
		char *info = info_persistence(fx);
		long long ended = info_num(info, "rdb_saves") + info_num(info, "snapshot_failures");
		long long running = info_num(info, "rdb_bgsave_in_progress");
		if (ended > 0 && running == 0) {
			free(info);
			return;
		}
		if (mdb_now_ms() > deadline)
			fail_msg("BGSAVE still not over after %lld ms; INFO persistence:\n%s",
			         mdb_now_ms() - t0, info);
		free(info);
		mdb_sleep_ms(SNAP_POLL_MS);
	}
	fail_msg("BGSAVE still not over after %d polls", SNAP_MAX_POLLS);
}

/* Reads, writes, PING, then a clean stop: all as if no snapshot had failed. */
static void assert_service_goes_on(fixture *fx, const char *what)
{
	char when[64];
	snprintf(when, sizeof when, "after the failed %s", what);
	check_all(fx, when);
	snap_small_writes(fx, "small", SNAP_SMALL_WRITES, when);
	check_all(fx, when);
	client_ping(&fx->cl);
	assert_server_running(fx->s, when);
	mdb_conn_close(fx->cl.conn);
	fx->cl.conn = NULL;
	/* The closing snapshot fails too (the disk is still full): the log
	 * holds everything, so the stop is still clean. */
	int status = mdb_stop(fx->s);
	fx->s = NULL;
	if (status != 0)
		fail_msg("%s: SIGTERM with the disk still full: exit status %d, expected 0", when,
		         status);
	print_message("%s: %zu keys read back, %d small writes accepted\n", when, fx->n,
	              SNAP_SMALL_WRITES);
	for (size_t i = 0; i < fx->ntranscript; i++)
		print_message("  %s\n", fx->transcript[i]);
}

static void save_on_a_full_disk_fails_with_enospc_leaves_no_file_and_refuses_no_write(void **state)
{
	fixture *fx = *state;
	char before[LISTING_BYTES];
	snap_prepare(fx);
	dir_listing(fx, before, sizeof before);

	assert_save_refused(fx);
	assert_dir_unchanged(fx, before, "SAVE");
	assert_info_failed(fx, 1, "SAVE");
	assert_failure_logged(fx, "save");
	assert_service_goes_on(fx, "SAVE");
}

static void
bgsave_on_a_full_disk_fails_with_enospc_leaves_no_file_and_refuses_no_write(void **state)
{
	fixture *fx = *state;
	char before[LISTING_BYTES];
	snap_prepare(fx);
	dir_listing(fx, before, sizeof before);

	MDB_ASSERT_CALL(fx->cl.conn, "+Background saving started", "BGSAVE");
	wait_bgsave_done(fx);
	assert_dir_unchanged(fx, before, "BGSAVE");
	assert_info_failed(fx, 1, "BGSAVE");
	assert_failure_logged(fx, "bgsave");
	assert_service_goes_on(fx, "BGSAVE");
}

static void once_space_returns_save_succeeds_and_a_restart_after_sigkill_loads_it(void **state)
{
	enum { AFTER_SAVE = 3 }; /* small writes after the good SAVE: replayed from the log */
	fixture *fx = *state;
	snap_prepare(fx);
	assert_save_refused(fx);
	snap_small_writes(fx, "while-full", 2, "after the failed SAVE");

	assert_int_equal(unlink(fx->filler), 0);
	MDB_ASSERT_CALL(fx->cl.conn, "+OK", "SAVE");
	char *info = info_persistence(fx);
	char status[32], error[256];
	info_str(info, "rdb_last_bgsave_status", status, sizeof status);
	info_str(info, "snapshot_last_error", error, sizeof error);
	long long rows = info_num(info, "snapshot_last_rows");
	long long seq = info_num(info, "snapshot_last_seq");
	if (strcmp(status, "ok") != 0 || error[0] != '\0' || info_num(info, "rdb_saves") != 1 ||
	    info_num(info, "snapshot_failures") != 1 || rows != (long long)fx->n ||
	    seq != info_num(info, "wal_last_seq") ||
	    info_num(info, "snapshot_last_bytes") <= SNAP_HEADROOM)
		fail_msg("after SAVE succeeded: expected rdb_last_bgsave_status:ok, an empty "
		         "snapshot_last_error, rdb_saves:1, snapshot_failures:1, "
		         "snapshot_last_rows:%zu, snapshot_last_seq equal to wal_last_seq and "
		         "snapshot_last_bytes over the %d bytes the filler left (else the "
		         "failures above were not about its size); INFO persistence:\n%s",
		         fx->n, SNAP_HEADROOM, info);
	long long bytes = info_num(info, "snapshot_last_bytes");
	free(info);
	int temps = count_prefixed(fx, ".tmp-snapshot-");
	int snaps = count_prefixed(fx, "snapshot-");
	if (temps != 0 || snaps != 1) {
		char listing[LISTING_BYTES];
		dir_listing(fx, listing, sizeof listing);
		fail_msg("after SAVE succeeded: %d .tmp-snapshot-* and %d snapshot-* file(s), "
		         "expected 0 and 1:\n%s",
		         temps, snaps, listing);
	}
	snap_small_writes(fx, "after-save", AFTER_SAVE, "after SAVE succeeded");

	mdb_conn_close(fx->cl.conn);
	fx->cl.conn = NULL;
	mdb_kill_ok(fx->s);
	mdb_restart_ok(fx->s, snap_args);
	char *line = mdb_last_log_line(fx->s, SNAP_LOADED);
	if (line == NULL || mdb_log_field(line, "rows") != rows ||
	    mdb_log_field(line, "seq") != seq) {
		mdb_print_log(fx->s);
		fail_msg("after the restart: expected the log line \"snapshot\" \"loaded\" with "
		         "rows %lld and seq %lld; got: %s",
		         rows, seq, line != NULL ? line : "(none)");
	}
	free(line);
	fx->cl.conn = mdb_conn_open(fx->s->port);
	assert_non_null(fx->cl.conn);
	check_all(fx, "after the restart");
	char want[32];
	snprintf(want, sizeof want, ":%zu", fx->n);
	MDB_ASSERT_CALL(fx->cl.conn, want, "DBSIZE");
	mdb_conn_close(fx->cl.conn);
	fx->cl.conn = NULL;
	int status_code = mdb_stop(fx->s);
	fx->s = NULL;
	assert_int_equal(status_code, 0);
	print_message("snapshot of %lld rows, %lld bytes, at seq %lld loaded after SIGKILL; %zu "
	              "keys read back\n",
	              rows, bytes, seq, fx->n);
}

int main(void)
{
	/* A mount namespace belongs to a thread: unshare here, on the thread
	 * that runs the tests and so forks every server. */
	int rc = enter_mount_namespace();
	if (rc != 0)
		return rc;
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                with_fsync_always_a_full_disk_refuses_writes_keeps_reads_and_recovers,
	                fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(
	                with_fsync_everysec_a_full_disk_refuses_writes_keeps_reads_and_recovers,
	                fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(
	                save_on_a_full_disk_fails_with_enospc_leaves_no_file_and_refuses_no_write,
	                fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(
	                bgsave_on_a_full_disk_fails_with_enospc_leaves_no_file_and_refuses_no_write,
	                fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(
	                once_space_returns_save_succeeds_and_a_restart_after_sigkill_loads_it,
	                fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
