/* test_redis_benchmark.c - the real redis-benchmark (Debian's redis-tools
 * 7.0) against minidb: SET, GET, INCR and MSET runs, without and with
 * pipelining, a --csv run over a random keyspace as bench/vs-redis.sh uses,
 * a connection per request and 100 KB values each finish with exit status
 * 0, report a rate for every test and no error; afterwards the server still
 * answers and holds the keys written. Over --maxmemory, allkeys-lru evicts
 * so a run still succeeds, and noeviction's OOM error stops the run but not
 * the server (each on a server of its own).
 *
 * Not a timed test: rates are parsed to prove a run completed, never
 * compared with anything. Each run is bounded by mdb_run's deadline. The
 * file is skipped, test by test, when redis-benchmark is not installed
 * (scripts/install-deps.sh installs redis-tools).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "harness.h"

enum { RUN_TIMEOUT_MS = 120000 };

typedef struct fixture {
	mdb_server *s;
	char *bench; /* path of redis-benchmark, NULL when it is not installed */
} fixture;

static int group_setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	*state = f;
	f->bench = mdb_which("redis-benchmark");
	if (f->bench == NULL)
		return 0; /* every test skips */
	f->s = mdb_start(NULL);
	return f->s == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	fixture *f = *state;
	int rc = f->s == NULL || mdb_stop(f->s) == 0 ? 0 : -1;
	free(f->bench);
	free(f);
	return rc;
}

static const fixture *need_bench(void **state)
{
	const fixture *f = *state;
	if (f->bench == NULL) {
		print_message("redis-benchmark not found in PATH (install redis-tools, see "
		              "scripts/install-deps.sh): skipped\n");
		skip();
	}
	return f;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Runs redis-benchmark -h 127.0.0.1 -p port args..., bounded by mdb_run's
 * deadline; fails the test only if it could not be started. */
static void bench_exec(const fixture *f, int port, const char *const args[], mdb_proc *res)
{
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	const char *argv[48];
	size_t argc = 0;
	argv[argc++] = f->bench;
	argv[argc++] = "-h";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "-p";
	argv[argc++] = portstr;
	for (size_t i = 0; args[i] != NULL; i++) {
		assert_true(argc < sizeof argv / sizeof argv[0] - 1);
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	assert_int_equal(mdb_run(argv, NULL, 0, mdb_timeout_ms(RUN_TIMEOUT_MS), res), 0);
}

static void print_run(const char *const args[], const mdb_proc *res)
{
	print_error("redis-benchmark");
	for (size_t i = 0; args[i] != NULL; i++)
		print_error(" %s", args[i]);
	print_error("\n  exit status %d (-1: killed at the deadline)\n  stdout: %s\n  stderr: %s\n",
	            res->status, res->out, res->err);
}

/* bench_exec against port, and fails the test unless the run exits 0 with
 * nothing that looks like an error on stdout or stderr. The caller frees
 * res with mdb_proc_free. */
static void bench_run_on(const fixture *f, int port, const char *const args[], mdb_proc *res)
{
	bench_exec(f, port, args, res);
	if (res->status != 0 || strcasestr(res->out, "err") != NULL ||
	    strcasestr(res->err, "err") != NULL) {
		print_run(args, res);
		mdb_proc_free(res);
		fail();
	}
}

/* bench_run_on the file's server. */
static void bench_run(const fixture *f, const char *const args[], mdb_proc *res)
{
	bench_run_on(f, f->s->port, args, res);
}

/* Finds "<name>: <rate> requests per second" among the lines of a -q run
 * (progress updates end in '\r', results in '\n') and returns the rate, or
 * fails the test. */
static double quiet_rate(const mdb_proc *res, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = res->out; *p != '\0';) {
		size_t len = strcspn(p, "\r\n");
		if (len > n + 2 && strncmp(p, name, n) == 0 && p[n] == ':' && p[n + 1] == ' ') {
			char *end;
			double rate = strtod(p + n + 2, &end);
			if (end != p + n + 2 && strncmp(end, " requests per second", 20) == 0 &&
			    rate > 0)
				return rate;
		}
		p += len;
		p += strspn(p, "\r\n");
	}
	print_error("no \"%s: N requests per second\" line in:\n%s\n", name, res->out);
	fail();
	return 0;
}

/* Finds the row "<name>","<rate>",... of a --csv run and returns the rate,
 * or fails the test. */
static double csv_rate(const mdb_proc *res, const char *name)
{
	char head[64];
	snprintf(head, sizeof head, "\"%s\",\"", name);
	size_t n = strlen(head);
	for (const char *p = res->out; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		if (strncmp(p, head, n) == 0) {
			char *end;
			double rate = strtod(p + n, &end);
			if (end != p + n && *end == '"' && rate > 0)
				return rate;
		}
		p += len;
		p += strspn(p, "\n");
	}
	print_error("no \"%s\" row in:\n%s\n", name, res->out);
	fail();
	return 0;
}

/* Sends a RESP command (its encoding in resp) on c and returns the first
 * reply line, '\r' kept; fails the test on no reply. */
static char *resp_cmd(mdb_conn *c, const char *resp)
{
	assert_int_equal(mdb_send_str(c, resp), 0);
	char *line = NULL;
	assert_true(mdb_read_line(c, &line) > 0);
	return line;
}

/* DBSIZE of the server on port, asked in RESP on a new connection after
 * checking that it answers PING. */
static long long dbsize_on(int port)
{
	mdb_conn *c = mdb_conn_open(port);
	assert_non_null(c);
	char *reply = resp_cmd(c, "*1\r\n$4\r\nPING\r\n");
	if (strcmp(reply, "+PONG\r") != 0) {
		print_error("PING: \"%s\"\n", reply);
		fail();
	}
	free(reply);
	reply = resp_cmd(c, "*1\r\n$6\r\nDBSIZE\r\n");
	long long keys = reply[0] == ':' ? strtoll(reply + 1, NULL, 10) : -1;
	if (keys < 0)
		print_error("DBSIZE: \"%s\"\n", reply);
	free(reply);
	mdb_conn_close(c);
	assert_true(keys >= 0);
	return keys;
}

/* The integer field of INFO <section> (asked in RESP: a bulk string of
 * "field:value\r\n" lines), or -1 when it is missing. */
static long long info_field(int port, const char *section, const char *field)
{
	mdb_conn *c = mdb_conn_open(port);
	assert_non_null(c);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "*2\r\n$4\r\nINFO\r\n$%zu\r\n%s\r\n", strlen(section), section);
	char *head = resp_cmd(c, cmd);
	long long left = head[0] == '$' ? strtoll(head + 1, NULL, 10) : -1;
	free(head);
	assert_true(left >= 0);
	long long value = -1;
	size_t flen = strlen(field);
	while (left > 0) {
		char *line = NULL;
		long n = mdb_read_line(c, &line);
		assert_true(n >= 0);
		left -= n + 1;
		if ((size_t)n > flen && strncmp(line, field, flen) == 0 && line[flen] == ':')
			value = strtoll(line + flen + 1, NULL, 10);
		free(line);
	}
	mdb_conn_close(c);
	return value;
}

/* The file's server answers PING and holds at least min_keys keys. */
static void expect_healthy(const fixture *f, long long min_keys)
{
	long long keys = dbsize_on(f->s->port);
	if (keys < min_keys) {
		print_error("DBSIZE %lld, want at least %lld\n", keys, min_keys);
		fail();
	}
}

static void set_get_incr_mset_complete_with_a_rate_for_each(void **state)
{
	const fixture *f = need_bench(state);
	mdb_proc res;
	bench_run(f, ARGS("-t", "set,get,incr,mset", "-n", "20000", "-c", "20", "-q"), &res);
	quiet_rate(&res, "SET");
	quiet_rate(&res, "GET");
	quiet_rate(&res, "INCR");
	quiet_rate(&res, "MSET (10 keys)");
	mdb_proc_free(&res);
	/* key:__rand_int__ and counter:__rand_int__ (without -r, one key each). */
	expect_healthy(f, 2);
}

static void pipelined_runs_complete_with_a_rate_for_each(void **state)
{
	const fixture *f = need_bench(state);
	mdb_proc res;
	bench_run(f, ARGS("-t", "set,get,incr,mset", "-n", "20000", "-c", "20", "-P", "16", "-q"),
	          &res);
	quiet_rate(&res, "SET");
	quiet_rate(&res, "GET");
	quiet_rate(&res, "INCR");
	quiet_rate(&res, "MSET (10 keys)");
	mdb_proc_free(&res);
	expect_healthy(f, 2);
}

/* The shape bench/vs-redis.sh relies on: --csv, a random keyspace, 32-byte
 * values. 20,000 SETs over 100,000 random keys leave thousands of keys. */
static void csv_runs_over_a_random_keyspace_report_every_test(void **state)
{
	const fixture *f = need_bench(state);
	mdb_proc res;
	bench_run(f,
	          ARGS("-t", "set,get", "-n", "20000", "-r", "100000", "-d", "32", "-c", "50", "-P",
	               "16", "--csv"),
	          &res);
	if (strncmp(res.out, "\"test\",\"rps\",", 13) != 0) {
		print_error("--csv output does not start with its header:\n%s\n", res.out);
		mdb_proc_free(&res);
		fail();
	}
	csv_rate(&res, "SET");
	csv_rate(&res, "GET");
	mdb_proc_free(&res);
	expect_healthy(f, 1000);
}

/* A connection per request: accept and close churn. Kept small, as each
 * request leaves a socket in TIME_WAIT on the client side. */
static void a_connection_per_request_completes(void **state)
{
	const fixture *f = need_bench(state);
	mdb_proc res;
	bench_run(f, ARGS("-t", "set,get", "-n", "2000", "-c", "10", "-k", "0", "-q"), &res);
	quiet_rate(&res, "SET");
	quiet_rate(&res, "GET");
	mdb_proc_free(&res);
	expect_healthy(f, 1);
}

static void values_of_100_kb_complete(void **state)
{
	const fixture *f = need_bench(state);
	mdb_proc res;
	bench_run(f, ARGS("-t", "set,get", "-n", "2000", "-c", "10", "-d", "100000", "-q"), &res);
	quiet_rate(&res, "SET");
	quiet_rate(&res, "GET");
	mdb_proc_free(&res);
	expect_healthy(f, 1);
}

/* Writes far more than --maxmemory: with allkeys-lru the server evicts and
 * every SET succeeds. 100,000 SETs over a 1,000,000-key space write about
 * 95,000 distinct keys of 100 bytes, some 14 MB; 4 MB cannot hold them. */
static void a_full_server_with_allkeys_lru_evicts_instead_of_failing(void **state)
{
	const fixture *f = need_bench(state);
	static const char *const server_args[] = {"--maxmemory", "4mb", "--maxmemory-policy",
	                                          "allkeys-lru", NULL};
	mdb_server *s = mdb_start(server_args);
	assert_non_null(s);
	mdb_proc res;
	bench_run_on(f, s->port,
	             ARGS("-t", "set", "-n", "100000", "-r", "1000000", "-d", "100", "-c", "20",
	                  "-P", "16", "-q"),
	             &res);
	quiet_rate(&res, "SET");
	mdb_proc_free(&res);
	long long keys = dbsize_on(s->port);
	long long evicted = info_field(s->port, "stats", "evicted_keys");
	if (keys <= 0 || keys >= 90000 || evicted <= 0)
		print_error("after the run: DBSIZE %lld (want 1..89999), evicted_keys %lld (want > "
		            "0)\n",
		            keys, evicted);
	assert_int_equal(mdb_stop(s), 0);
	assert_true(keys > 0 && keys < 90000 && evicted > 0);
}

/* With noeviction the same load gets OOM errors: redis-benchmark reports the
 * server's error and stops, and the server keeps answering. */
static void a_full_server_with_noeviction_fails_the_run_with_oom_and_stays_up(void **state)
{
	const fixture *f = need_bench(state);
	static const char *const server_args[] = {"--maxmemory", "4mb", "--maxmemory-policy",
	                                          "noeviction", NULL};
	mdb_server *s = mdb_start(server_args);
	assert_non_null(s);
	static const char *const args[] = {"-t", "set", "-n", "100000", "-r", "1000000",
	                                   "-d", "100", "-c", "20",     "-q", NULL};
	mdb_proc res;
	bench_exec(f, s->port, args, &res);
	int ok = res.status == 1 &&
	         strstr(res.err, "OOM command not allowed when used memory > 'maxmemory'") != NULL;
	if (!ok)
		print_run(args, &res);
	mdb_proc_free(&res);
	long long keys = ok ? dbsize_on(s->port) : 0;
	assert_int_equal(mdb_stop(s), 0);
	assert_true(ok);
	assert_true(keys > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(set_get_incr_mset_complete_with_a_rate_for_each),
	        cmocka_unit_test(pipelined_runs_complete_with_a_rate_for_each),
	        cmocka_unit_test(csv_runs_over_a_random_keyspace_report_every_test),
	        cmocka_unit_test(a_connection_per_request_completes),
	        cmocka_unit_test(values_of_100_kb_complete),
	        cmocka_unit_test(a_full_server_with_allkeys_lru_evicts_instead_of_failing),
	        cmocka_unit_test(a_full_server_with_noeviction_fails_the_run_with_oom_and_stays_up),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
