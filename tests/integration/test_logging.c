/* test_logging.c - the server's logs as an operator meets them: --log-file
 * with every line a JSON object with an RFC 3339 millisecond timestamp,
 * SIGHUP reopening the file after a logrotate-style rename while clients
 * keep the server logging (no line lost or split), the slow-command log
 * (--slowlog-ms, --slowlog-max-len, SLOWLOG GET/LEN/RESET as redis-cli shows
 * them), request logging (--log-requests, off by default) and that neither
 * ever holds a command's arguments or a token.
 *
 * The server writes its log file where the harness reads its stderr
 * (<dir>/server.log, opened for appending by both), so the harness still
 * finds the listening line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define MAX_ARGS  16

/* Starts a server whose log goes to its harness log file through
 * --log-file (extra: more flags, NULL-terminated). */
static mdb_server *start_with_log_file(const char *const extra[])
{
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(10000)), 0);
	const char *args[MAX_ARGS];
	size_t n = 0;
	args[n++] = "--log-file";
	args[n++] = s->log_path;
	for (size_t i = 0; extra && extra[i] && n < MAX_ARGS - 1; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	assert_int_equal(mdb_restart(s, args), 0);
	return s;
}

/* Calls fn on each line of the file at path; returns the line count, or -1
 * when the file cannot be read. A last line without '\n' fails the test. */
static long for_each_line(const char *path, void (*fn)(const char *line, void *arg), void *arg)
{
	size_t len = 0;
	char *text = mdb_read_file(path, &len);
	if (!text)
		return -1;
	long n = 0;
	char *p = text;
	while (p < text + len) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		if (!nl) {
			print_error("%s: last line has no newline: %s\n", path, p);
			free(text);
			fail();
		}
		*nl = 0;
		fn(p, arg);
		n++;
		p = nl + 1;
	}
	free(text);
	return n;
}

typedef struct line_check {
	regex_t ts_re;
	long bad;              /* lines that are not what a JSON log line must be */
	long requests;         /* "request" lines for command ping */
	long slow;             /* "slow command" lines */
	const char *secret[4]; /* strings no line may hold */
	long leaks;
} line_check;

static void line_check_init(line_check *lc)
{
	memset(lc, 0, sizeof *lc);
	assert_int_equal(
	        regcomp(&lc->ts_re,
	                "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
	                REG_EXTENDED | REG_NOSUB),
	        0);
}

/* Every line must parse as one JSON object with string ts (RFC 3339, UTC,
 * milliseconds), level, component and msg. */
static void check_line(const char *line, void *arg)
{
	line_check *lc = arg;
	json_error_t jerr;
	json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	const char *ts = o ? json_string_value(json_object_get(o, "ts")) : NULL;
	const char *level = o ? json_string_value(json_object_get(o, "level")) : NULL;
	const char *msg = o ? json_string_value(json_object_get(o, "msg")) : NULL;
	const char *comp = o ? json_string_value(json_object_get(o, "component")) : NULL;
	if (!json_is_object(o) || !ts || !level || !msg || !comp ||
	    regexec(&lc->ts_re, ts, 0, NULL, 0) != 0 ||
	    !(strcmp(level, "debug") == 0 || strcmp(level, "info") == 0 ||
	      strcmp(level, "warn") == 0 || strcmp(level, "error") == 0)) {
		if (lc->bad++ < 5)
			print_error("bad log line: %s\n", line);
	} else {
		const char *cmd = json_string_value(json_object_get(o, "command"));
		if (strcmp(msg, "request") == 0 && cmd && strcmp(cmd, "ping") == 0)
			lc->requests++;
		if (strcmp(msg, "slow command") == 0)
			lc->slow++;
	}
	for (size_t i = 0; i < 4 && lc->secret[i]; i++) {
		if (strstr(line, lc->secret[i]) && lc->leaks++ < 5)
			print_error("log line holds \"%s\": %s\n", lc->secret[i], line);
	}
	json_decref(o);
}

static void log_file_lines_are_json_with_rfc3339_millisecond_timestamps(void **state)
{
	(void)state;
	mdb_server *s = start_with_log_file(NULL);
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	MDB_ASSERT_CALL(c, "+OK", "SET", "k", "v");
	assert_int_equal(mdb_signal(s, SIGHUP), 0);
	assert_true(mdb_wait_log(s, "\"msg\":\"reloaded\"", mdb_timeout_ms(5000)));
	mdb_conn_close(c);
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(10000)), 0);

	line_check lc;
	line_check_init(&lc);
	long n = for_each_line(s->log_path, check_line, &lc);
	/* Two runs: starting..stopped each, through stderr and then the file. */
	assert_true(n >= 10);
	assert_int_equal(lc.bad, 0);
	assert_true(mdb_log_contains(s, "\"msg\":\"stopped\""));
	regfree(&lc.ts_re);
	mdb_stop(s);
}

/* ---- SIGHUP reopening under load ---- */

enum { PING_BATCH = 400, PING_BATCHES = 150, ROTATIONS = 4 };

typedef struct pinger {
	int port;
	atomic_int done;
	long long answered;
	int failed;
} pinger;

static void *ping_load(void *arg)
{
	pinger *p = arg;
	mdb_conn *c = mdb_conn_open(p->port);
	if (!c) {
		p->failed = 1;
		atomic_store(&p->done, 1);
		return NULL;
	}
	static const char ping[] = "*1\r\n$4\r\nPING\r\n";
	char *batch = malloc(PING_BATCH * (sizeof ping - 1));
	for (int i = 0; batch && i < PING_BATCH; i++)
		memcpy(batch + (size_t)i * (sizeof ping - 1), ping, sizeof ping - 1);
	for (int b = 0; batch && b < PING_BATCHES && !p->failed; b++) {
		if (mdb_send_all(c->fd, batch, PING_BATCH * (sizeof ping - 1)) != 0) {
			p->failed = 1;
			break;
		}
		for (int i = 0; i < PING_BATCH; i++) {
			char *line = NULL;
			if (mdb_read_line(c, &line) < 0 || strcmp(line, "+PONG\r") != 0) {
				free(line);
				p->failed = 1;
				break;
			}
			free(line);
			p->answered++;
		}
	}
	free(batch);
	mdb_conn_close(c);
	atomic_store(&p->done, 1);
	return NULL;
}

static void sighup_reopens_the_log_file_with_no_line_lost_or_split_under_load(void **state)
{
	(void)state;
	mdb_server *s = start_with_log_file(ARGS("--log-requests"));
	pinger p = {.port = s->port};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, ping_load, &p), 0);

	char rotated[ROTATIONS][PATH_MAX + 16];
	int done_rotations = 0;
	for (int r = 0; r < ROTATIONS && !atomic_load(&p.done); r++) {
		mdb_sleep_ms(5);
		snprintf(rotated[r], sizeof rotated[r], "%s.%d", s->log_path, r + 1);
		/* What logrotate does: rename, then signal. */
		assert_int_equal(rename(s->log_path, rotated[r]), 0);
		assert_int_equal(mdb_signal(s, SIGHUP), 0);
		assert_true(mdb_wait_log(s, "\"msg\":\"reloaded\"", mdb_timeout_ms(5000)));
		done_rotations++;
	}
	pthread_join(t, NULL);
	assert_false(p.failed);
	assert_int_equal(p.answered, (long long)PING_BATCH * PING_BATCHES);
	assert_true(done_rotations >= 1);
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(10000)), 0);

	line_check lc;
	line_check_init(&lc);
	long lines = for_each_line(s->log_path, check_line, &lc);
	assert_true(lines > 0);
	for (int r = 0; r < done_rotations; r++) {
		long n = for_each_line(rotated[r], check_line, &lc);
		assert_true(n > 0);
		struct stat st;
		assert_int_equal(stat(rotated[r], &st), 0);
	}
	print_message("rotations during the load: %d; request lines: %ld\n", done_rotations,
	              lc.requests);
	assert_int_equal(lc.bad, 0);
	assert_int_equal(lc.requests, (long)PING_BATCH * PING_BATCHES);
	/* The file the server created is private to its group. */
	struct stat st;
	assert_int_equal(stat(s->log_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	regfree(&lc.ts_re);
	for (int r = 0; r < done_rotations; r++)
		unlink(rotated[r]);
	mdb_stop(s);
}

/* ---- the slow log ---- */

/* redis-cli's output for args (NULL-terminated) against port, or NULL when
 * redis-cli is missing (the caller skips). */
static char *redis_cli(int port, const char *const args[])
{
	char *cli = mdb_which("redis-cli");
	if (!cli)
		return NULL;
	char portbuf[16];
	snprintf(portbuf, sizeof portbuf, "%d", port);
	const char *argv[MAX_ARGS] = {cli, "--no-raw", "-p", portbuf};
	size_t n = 4;
	for (size_t i = 0; args[i] && n < MAX_ARGS - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	mdb_proc r;
	int rc = mdb_run(argv, NULL, 0, mdb_timeout_ms(10000), &r);
	free(cli);
	assert_int_equal(rc, 0);
	assert_int_equal(r.status, 0);
	char *out = strdup(r.out);
	mdb_proc_free(&r);
	return out;
}

static void slowlog_zero_keeps_every_command_newest_first_without_arguments(void **state)
{
	(void)state;
	mdb_server *s = start_with_log_file(ARGS("--slowlog-ms", "0", "--slowlog-max-len", "100"));
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	MDB_ASSERT_CALL(c, "+OK", "SLOWLOG", "RESET");
	for (int i = 0; i < 150; i++) {
		char key[32], val[48];
		snprintf(key, sizeof key, "hidden-key-%d", i);
		snprintf(val, sizeof val, "topsecret-value-%d", i);
		MDB_ASSERT_CALL(c, "+OK", "SET", key, val);
	}
	/* 100 kept of the 151 (the RESET itself is slow too, at 0 ms). */
	assert_int_equal(MDB_CALL_INT(c, "SLOWLOG", "LEN"), 100);
	char *all = MDB_CALL(c, "SLOWLOG", "GET", "-1");
	assert_string_equal(all, "*100");
	free(all);
	char *two = MDB_CALL(c, "SLOWLOG", "GET", "2");
	assert_string_equal(two, "*2");
	free(two);
	char *got = MDB_CALL(c, "SLOWLOG", "GET", "-2");
	assert_string_equal(got, "-ERR count should be greater than or equal to -1");
	free(got);
	got = MDB_CALL(c, "SLOWLOG", "GET", "x");
	assert_string_equal(got, "-ERR count should be greater than or equal to -1");
	free(got);
	got = MDB_CALL(c, "SLOWLOG", "NOPE");
	assert_non_null(strstr(got, "unknown subcommand"));
	free(got);
	got = MDB_CALL(c, "CONFIG", "GET", "slowlog-log-slower-than");
	free(got);

	char *out = redis_cli(s->port, ARGS("SLOWLOG", "GET", "1"));
	if (out) {
		/* id, time, duration, [name, "... (N more arguments)"], addr, name:
		 * the newest entry is the CONFIG GET above. */
		print_message("redis-cli --no-raw SLOWLOG GET 1:\n%s", out);
		assert_non_null(strstr(out, "\"config\""));
		assert_non_null(strstr(out, "... (2 more arguments)"));
		assert_non_null(strstr(out, "127.0.0.1:"));
		free(out);
		out = redis_cli(s->port, ARGS("SLOWLOG", "GET", "-1"));
		/* The ids count down from the newest, one apart. */
		long long prev = -1;
		int ids = 0;
		for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
			/* An entry starts "N) 1) (integer) <id>". */
			char *p = strstr(line, ") 1) (integer) ");
			line += strspn(line, " ");
			if (line[0] < '1' || line[0] > '9' || !p)
				continue;
			long long id = atoll(p + strlen(") 1) (integer) "));
			if (prev >= 0)
				assert_int_equal(id, prev - 1);
			prev = id;
			ids++;
		}
		assert_int_equal(ids, 100);
		assert_null(strstr(out, "topsecret"));
		assert_null(strstr(out, "hidden-key"));
		free(out);
	}
	MDB_ASSERT_CALL(c, "+OK", "SLOWLOG", "RESET");
	/* The RESET itself is logged after it has emptied the ring. */
	assert_int_equal(MDB_CALL_INT(c, "SLOWLOG", "LEN"), 1);
	mdb_conn_close(c);
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(10000)), 0);

	line_check lc;
	line_check_init(&lc);
	lc.secret[0] = "topsecret";
	lc.secret[1] = "hidden-key";
	for_each_line(s->log_path, check_line, &lc);
	assert_int_equal(lc.bad, 0);
	assert_int_equal(lc.leaks, 0);
	assert_true(lc.slow >= 150);
	regfree(&lc.ts_re);
	mdb_stop(s);
}

enum { SLOW_KEYS = 200000 };

static long count_slow_lines(const mdb_server *s)
{
	line_check lc;
	line_check_init(&lc);
	for_each_line(s->log_path, check_line, &lc);
	regfree(&lc.ts_re);
	assert_int_equal(lc.bad, 0);
	return lc.slow;
}

static void a_slow_command_is_logged_and_kept_and_minus_one_turns_it_off(void **state)
{
	(void)state;
	mdb_server *s = start_with_log_file(ARGS("--slowlog-ms", "5"));
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	MDB_PIPELINE_SETS(c, "k", 0, SLOW_KEYS, 16);
	char *got = MDB_CALL(c, "CONFIG", "GET", "slowlog-log-slower-than");
	assert_string_equal(got, "*2");
	free(got);
	MDB_ASSERT_CALL(c, "+OK", "SLOWLOG", "RESET");
	/* KEYS over 200,000 keys builds a 200,000-element reply: milliseconds. */
	got = MDB_CALL(c, "KEYS", "*");
	assert_string_equal(got, "*200000");
	free(got);
	mdb_conn_close(c);
	char *out = redis_cli(s->port, ARGS("SLOWLOG", "GET", "10"));
	if (out) {
		print_message("redis-cli --no-raw SLOWLOG GET 10 after KEYS *:\n%s", out);
		char *k = strstr(out, "\"keys\"");
		assert_non_null(k);
		assert_non_null(strstr(out, "... (1 more arguments)"));
		free(out);
		out = redis_cli(s->port, ARGS("CONFIG", "GET", "slowlog-log-slower-than"));
		assert_non_null(strstr(out, "5000"));
		free(out);
	}
	assert_true(mdb_wait_log(s, "\"command\":\"keys\"", mdb_timeout_ms(5000)));
	char *line = mdb_last_log_line(s, "\"msg\":\"slow command\",\"command\":\"keys\"");
	assert_non_null(line);
	assert_true(mdb_log_field(line, "duration_us") >= 5000);
	assert_int_equal(mdb_log_field(line, "args"), 2);
	free(line);
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(30000)), 0);
	long slow_before = count_slow_lines(s);

	/* The same data, the same command, the slow log off. */
	assert_int_equal(mdb_restart(s, ARGS("--log-file", s->log_path, "--slowlog-ms=-1")), 0);
	c = mdb_conn_open(s->port);
	assert_non_null(c);
	got = MDB_CALL(c, "KEYS", "*");
	assert_string_equal(got, "*200000");
	free(got);
	assert_int_equal(MDB_CALL_INT(c, "SLOWLOG", "LEN"), 0);
	got = MDB_CALL(c, "CONFIG", "GET", "slowlog-log-slower-than");
	free(got);
	mdb_conn_close(c);
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(30000)), 0);
	assert_int_equal(count_slow_lines(s), slow_before);
	mdb_stop(s);
}

/* ---- request logging ---- */

static void request_lines_are_off_by_default_and_never_hold_arguments_or_tokens(void **state)
{
	(void)state;
	/* Default: a fast command leaves no request line. */
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	MDB_ASSERT_CALL(c, "+OK", "SET", "k", "v");
	MDB_ASSERT_CALL(c, "+PONG", "PING");
	mdb_conn_close(c);
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(10000)), 0);
	assert_false(mdb_log_contains(s, "\"msg\":\"request\""));

	/* On, with authentication: the token and the value stay out. */
	char cfgpath[PATH_MAX];
	snprintf(cfgpath, sizeof cfgpath, "%s/auth.yaml", s->dir);
	static const char yaml[] = "security:\n  auth_enabled: true\n"
	                           "  auth_token: \"tok-Zq9-never-logged\"\n";
	assert_int_equal(mdb_write_file(cfgpath, yaml, sizeof yaml - 1), 0);
	assert_int_equal(mdb_restart(s, ARGS("--config", cfgpath, "--log-requests")), 0);
	c = mdb_conn_open(s->port);
	assert_non_null(c);
	char *got = MDB_CALL(c, "AUTH", "wrong-tok-also-hidden");
	assert_non_null(strstr(got, "WRONGPASS"));
	free(got);
	MDB_ASSERT_CALL(c, "+OK", "AUTH", "tok-Zq9-never-logged");
	MDB_ASSERT_CALL(c, "+OK", "SET", "k2", "value-Xy7-never-logged");
	got = MDB_CALL(c, "NOSUCHCMD", "arg-never-logged");
	assert_non_null(strstr(got, "unknown command"));
	free(got);
	mdb_conn_close(c);
	/* The line protocol's per-command token form too. */
	c = mdb_conn_open(s->port);
	assert_non_null(c);
	char *reply = mdb_cmd(c, "SET tok-Zq9-never-logged k3 line-value-never-logged");
	assert_non_null(reply);
	assert_string_equal(reply, "OK");
	free(reply);
	mdb_conn_close(c);
	assert_true(mdb_wait_log(s, "\"command\":\"set\"", mdb_timeout_ms(5000)));
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(10000)), 0);

	char *line = mdb_last_log_line(s, "\"command\":\"auth\",");
	assert_non_null(line);
	assert_non_null(strstr(line, "\"msg\":\"request\""));
	assert_non_null(strstr(line, "\"result\":\"ok\""));
	free(line);
	assert_true(mdb_log_contains(s, "\"result\":\"wrongpass\""));
	assert_true(mdb_log_contains(s, "\"command\":\"(unknown)\""));
	assert_true(mdb_log_contains(s, "\"result\":\"unknown_command\""));
	line_check lc;
	line_check_init(&lc);
	lc.secret[0] = "never-logged";
	lc.secret[1] = "also-hidden";
	for_each_line(s->log_path, check_line, &lc);
	assert_int_equal(lc.bad, 0);
	assert_int_equal(lc.leaks, 0);
	regfree(&lc.ts_re);
	mdb_stop(s);
}

static void an_unwritable_log_file_is_a_configuration_error(void **state)
{
	(void)state;
	char *dir = mdb_temp_dir();
	assert_non_null(dir);
	char path[PATH_MAX], data[PATH_MAX];
	snprintf(path, sizeof path, "%s/no/such/dir/minidb.log", dir);
	snprintf(data, sizeof data, "%s/data", dir);
	const char *argv[] = {mdb_binary_path("MINIDB_BIN", "minidb"),
	                      "--port",
	                      "0",
	                      "--http-port",
	                      "0",
	                      "--data-dir",
	                      data,
	                      "--log-file",
	                      path,
	                      NULL};
	mdb_proc r;
	assert_int_equal(mdb_run(argv, NULL, 0, mdb_timeout_ms(10000), &r), 0);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--log-file"));
	assert_non_null(strstr(r.err, "No such file or directory"));
	mdb_proc_free(&r);
	mdb_remove_tree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(log_file_lines_are_json_with_rfc3339_millisecond_timestamps),
	        cmocka_unit_test(sighup_reopens_the_log_file_with_no_line_lost_or_split_under_load),
	        cmocka_unit_test(slowlog_zero_keeps_every_command_newest_first_without_arguments),
	        cmocka_unit_test(a_slow_command_is_logged_and_kept_and_minus_one_turns_it_off),
	        cmocka_unit_test(
	                request_lines_are_off_by_default_and_never_hold_arguments_or_tokens),
	        cmocka_unit_test(an_unwritable_log_file_is_a_configuration_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
