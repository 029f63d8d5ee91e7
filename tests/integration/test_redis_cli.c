/* test_redis_cli.c - the real redis-cli (Debian's redis-tools 7.0) against
 * minidb: the exact output of one-shot commands of every family when stdout
 * is not a terminal (raw replies, one per line; a nil is an empty line; an
 * error is its text followed by an empty line), with --no-raw, with RESP3
 * (-3), commands piped on stdin, -x and -r, --pipe mass insertion, and
 * --scan and --bigkeys over 100,000 keys.
 *
 * The expected outputs were taken from redis-cli talking to a real
 * redis-server 7.0; where minidb differs on purpose (one database only) the
 * test says so. The whole file is skipped, test by test, when redis-cli is
 * not installed (scripts/install-deps.sh installs redis-tools). One server
 * serves the file: each test uses its own key prefix, and only the 100,000
 * keys test flushes the database, so it runs last.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "harness.h"

enum {
	N_SCAN_KEYS = 100000,
	BULK_TIMEOUT_MS = 60000, /* --pipe, --scan and --bigkeys over N_SCAN_KEYS */
};

typedef struct fixture {
	mdb_server *s;
	char *cli; /* path of redis-cli, NULL when it is not installed */
} fixture;

static int group_setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	*state = f;
	f->cli = mdb_which("redis-cli");
	if (f->cli == NULL)
		return 0; /* every test skips */
	f->s = mdb_start(NULL);
	return f->s == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	fixture *f = *state;
	int rc = f->s == NULL || mdb_stop(f->s) == 0 ? 0 : -1;
	free(f->cli);
	free(f);
	return rc;
}

/* Skips the current test when redis-cli is missing. */
static const fixture *need_cli(void **state)
{
	const fixture *f = *state;
	if (f->cli == NULL) {
		print_message("redis-cli not found in PATH (install redis-tools, see "
		              "scripts/install-deps.sh): skipped\n");
		skip();
	}
	return f;
}

/* A NULL-terminated argument list written inline. */
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_ARGS   ((const char *const[]){NULL})

/* Prints len bytes with anything outside printable ASCII escaped. */
static void print_bytes(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)p[i];
		if (i == 2000) {
			print_error("...");
			break;
		}
		if (b == '\n')
			print_error("\\n");
		else if (b >= 0x20 && b < 0x7f && b != '\\')
			print_error("%c", b);
		else
			print_error("\\x%02x", b);
	}
}

static void print_args(const char *const args[])
{
	print_error("redis-cli -p PORT");
	for (size_t i = 0; args[i] != NULL; i++)
		print_error(" '%s'", args[i]);
}

/* Runs redis-cli -p PORT args... with input on its stdin (NULL: /dev/null)
 * for at most base_timeout_ms (scaled). Fails the test if it could not run
 * or had to be killed. */
static void cli_run(const fixture *f, const char *const args[], const char *input, size_t input_len,
                    int base_timeout_ms, mdb_proc *res)
{
	char port[16];
	snprintf(port, sizeof port, "%d", f->s->port);
	const char *argv[64];
	size_t argc = 0;
	argv[argc++] = f->cli;
	argv[argc++] = "-p";
	argv[argc++] = port;
	for (size_t i = 0; args[i] != NULL; i++) {
		assert_true(argc < sizeof argv / sizeof argv[0] - 1);
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	assert_int_equal(mdb_run(argv, input, input_len, mdb_timeout_ms(base_timeout_ms), res), 0);
	if (res->status < 0) {
		print_args(args);
		print_error(": killed at the deadline; stdout \"");
		print_bytes(res->out, res->out_len);
		print_error("\", stderr \"%s\"\n", res->err);
		mdb_proc_free(res);
		fail();
	}
}

/* Runs redis-cli and fails unless it exits 0 having printed exactly the
 * want_len bytes of want. */
static void expect_cli_at(const fixture *f, const char *const args[], const char *input,
                          const char *want, size_t want_len, const char *file, int line)
{
	mdb_proc res;
	cli_run(f, args, input, input ? strlen(input) : 0, MDB_RUN_TIMEOUT_MS, &res);
	if (res.status == 0 && res.out_len == want_len && memcmp(res.out, want, want_len) == 0) {
		mdb_proc_free(&res);
		return;
	}
	print_args(args);
	if (input != NULL) {
		print_error(" with stdin \"");
		print_bytes(input, strlen(input));
		print_error("\"");
	}
	print_error("\n  exit status %d (want 0)\n  stdout \"", res.status);
	print_bytes(res.out, res.out_len);
	print_error("\"\n  want   \"");
	print_bytes(want, want_len);
	print_error("\"\n  stderr \"");
	print_bytes(res.err, res.err_len);
	print_error("\"\n");
	mdb_proc_free(&res);
	_fail(file, line);
}

/* redis-cli args... prints exactly want (a C string). */
#define expect_cli(f, args, want)                                                                  \
	expect_cli_at((f), (args), NULL, (want), strlen(want), __FILE__, __LINE__)

/* The same with input piped on redis-cli's stdin. */
#define expect_cli_stdin(f, args, input, want)                                                     \
	expect_cli_at((f), (args), (input), (want), strlen(want), __FILE__, __LINE__)

/* Runs redis-cli args... (exit 0 required) and returns its stdout, malloc'd. */
static char *cli_output(const fixture *f, const char *const args[], const char *input,
                        int base_timeout_ms)
{
	mdb_proc res;
	cli_run(f, args, input, input ? strlen(input) : 0, base_timeout_ms, &res);
	if (res.status != 0) {
		print_args(args);
		print_error(": exit status %d; stdout \"", res.status);
		print_bytes(res.out, res.out_len);
		print_error("\", stderr \"%s\"\n", res.err);
		mdb_proc_free(&res);
		fail();
	}
	char *out = res.out;
	res.out = NULL;
	mdb_proc_free(&res);
	return out;
}

/* Parses one decimal integer line ("42\n"); fails the test otherwise. */
static long long parse_int_line(const char *out)
{
	char *end;
	long long v = strtoll(out, &end, 10);
	if (end == out || strcmp(end, "\n") != 0) {
		print_error("expected an integer line, got \"");
		print_bytes(out, strlen(out));
		print_error("\"\n");
		fail();
	}
	return v;
}

/* redis-cli args... prints one integer within [lo, hi]: for times, which a
 * slow machine may see tick between two commands. */
static void expect_cli_int_between_at(const fixture *f, const char *const args[], long long lo,
                                      long long hi, const char *file, int line)
{
	char *out = cli_output(f, args, NULL, MDB_RUN_TIMEOUT_MS);
	long long v = parse_int_line(out);
	free(out);
	if (v < lo || v > hi) {
		print_args(args);
		print_error(": %lld, want %lld..%lld\n", v, lo, hi);
		_fail(file, line);
	}
}

#define expect_cli_int_between(f, args, lo, hi)                                                    \
	expect_cli_int_between_at((f), (args), (lo), (hi), __FILE__, __LINE__)

/* ---- output lines, for replies whose order is not fixed ---- */

typedef struct lines {
	char **v;
	size_t n;
} lines;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits text at '\n' (a last line without one counts too) and sorts.
 * Empty lines are dropped: raw output prints an empty array as one. */
static lines split_sorted(char *text)
{
	lines l = {NULL, 0};
	size_t cap = 0;
	for (char *p = text; *p != '\0';) {
		char *nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (*p == '\0') {
			if (nl == NULL)
				break;
			p = nl + 1;
			continue;
		}
		if (l.n == cap) {
			cap = cap ? cap * 2 : 256;
			l.v = realloc(l.v, cap * sizeof *l.v);
			assert_non_null(l.v);
		}
		l.v[l.n++] = p;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	qsort(l.v, l.n, sizeof *l.v, cmp_str);
	return l;
}

/* Fails unless the sorted lines equal want (sorted, n entries) one for one:
 * every wanted line exactly once and nothing else. */
static void expect_same_lines(const lines *got, char *const want[], size_t n)
{
	size_t i = 0, j = 0, shown = 0, bad = 0;
	while (i < got->n || j < n) {
		int c = i == got->n ? 1 : j == n ? -1 : strcmp(got->v[i], want[j]);
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		bad++;
		if (shown++ < 10)
			print_error("%s \"%s\"\n",
			            c < 0 ? "unexpected or repeated line" : "missing line",
			            c < 0 ? got->v[i] : want[j]);
		if (c < 0)
			i++;
		else
			j++;
	}
	if (bad != 0) {
		print_error("%zu lines differ (got %zu lines, want %zu)\n", bad, got->n, n);
		fail();
	}
}

/* ---- the tests ---- */

static void string_commands_print_raw_replies_one_per_line(void **state)
{
	const fixture *f = need_cli(state);

	expect_cli(f, ARGS("SET", "rs:k", "v"), "OK\n");
	expect_cli(f, ARGS("GET", "rs:k"), "v\n");
	expect_cli(f, ARGS("GET", "rs:missing"), "\n");
	expect_cli(f, ARGS("SET", "rs:k", "v2", "GET"), "v\n");
	expect_cli(f, ARGS("SET", "rs:k", "x", "NX"), "\n");
	expect_cli(f, ARGS("SET", "rs:k", "x", "XX"), "OK\n");
	expect_cli(f, ARGS("SET", "rs:missing", "x", "XX"), "\n");
	expect_cli(f, ARGS("SETNX", "rs:k", "y"), "0\n");
	expect_cli(f, ARGS("SETNX", "rs:nx", "y"), "1\n");
	expect_cli(f, ARGS("GETSET", "rs:k", "z"), "x\n");
	expect_cli(f, ARGS("GETDEL", "rs:k"), "z\n");
	expect_cli(f, ARGS("GETDEL", "rs:k"), "\n");
	expect_cli(f, ARGS("GET", "rs:k"), "\n");

	expect_cli(f, ARGS("APPEND", "rs:a", "Hello"), "5\n");
	expect_cli(f, ARGS("APPEND", "rs:a", " World"), "11\n");
	expect_cli(f, ARGS("STRLEN", "rs:a"), "11\n");
	expect_cli(f, ARGS("STRLEN", "rs:missing"), "0\n");
	expect_cli(f, ARGS("GETRANGE", "rs:a", "0", "4"), "Hello\n");
	expect_cli(f, ARGS("GETRANGE", "rs:a", "-5", "-1"), "World\n");
	expect_cli(f, ARGS("GETRANGE", "rs:a", "20", "30"), "\n");
	expect_cli(f, ARGS("SETRANGE", "rs:a", "6", "Redis"), "11\n");
	expect_cli(f, ARGS("GET", "rs:a"), "Hello Redis\n");
	/* SETRANGE past the end pads with zero bytes, printed raw. */
	expect_cli(f, ARGS("SETRANGE", "rs:pad", "3", "x"), "4\n");
	expect_cli_at(f, ARGS("GET", "rs:pad"), NULL, "\0\0\0x\n", 5, __FILE__, __LINE__);

	expect_cli(f, ARGS("INCR", "rs:n"), "1\n");
	expect_cli(f, ARGS("INCRBY", "rs:n", "41"), "42\n");
	expect_cli(f, ARGS("DECR", "rs:n"), "41\n");
	expect_cli(f, ARGS("DECRBY", "rs:n", "40"), "1\n");
	expect_cli(f, ARGS("INCRBY", "rs:n", "-10"), "-9\n");
	expect_cli(f, ARGS("DECR", "rs:dn"), "-1\n");
	expect_cli(f, ARGS("SET", "rs:f", "10.50"), "OK\n");
	expect_cli(f, ARGS("INCRBYFLOAT", "rs:f", "0.1"), "10.6\n");
	expect_cli(f, ARGS("INCRBYFLOAT", "rs:f", "-5"), "5.6\n");
	expect_cli(f, ARGS("SET", "rs:f", "5.0e3"), "OK\n");
	expect_cli(f, ARGS("INCRBYFLOAT", "rs:f", "2.0e2"), "5200\n");
	expect_cli(f, ARGS("INCRBYFLOAT", "rs:fnew", "1.5"), "1.5\n");

	expect_cli(f, ARGS("MSET", "rs:m1", "a", "rs:m2", "b"), "OK\n");
	expect_cli(f, ARGS("MGET", "rs:m1", "rs:missing", "rs:m2"), "a\n\nb\n");
	expect_cli(f, ARGS("MSETNX", "rs:m1", "x", "rs:m3", "y"), "0\n");
	expect_cli(f, ARGS("GET", "rs:m3"), "\n");
	expect_cli(f, ARGS("MSETNX", "rs:m3", "y", "rs:m4", "z"), "1\n");
	expect_cli(f, ARGS("MGET", "rs:m1", "rs:m3", "rs:m4"), "a\ny\nz\n");
}

static void expiry_options_and_ttls_print_as_numbers(void **state)
{
	const fixture *f = need_cli(state);
	long long now = (long long)time(NULL);
	char at_s[32], at_ms[32], at_s_plus[32], at_s_line[40], at_ms_line[40];
	snprintf(at_s, sizeof at_s, "%lld", now + 100);
	snprintf(at_ms, sizeof at_ms, "%lld", (now + 100) * 1000);
	snprintf(at_s_plus, sizeof at_s_plus, "%lld", now + 200);
	snprintf(at_s_line, sizeof at_s_line, "%s\n", at_s);
	snprintf(at_ms_line, sizeof at_ms_line, "%s\n", at_ms);

	expect_cli(f, ARGS("TTL", "re:missing"), "-2\n");
	expect_cli(f, ARGS("PTTL", "re:missing"), "-2\n");
	expect_cli(f, ARGS("EXPIRETIME", "re:missing"), "-2\n");
	expect_cli(f, ARGS("SET", "re:k", "v"), "OK\n");
	expect_cli(f, ARGS("TTL", "re:k"), "-1\n");
	expect_cli(f, ARGS("PEXPIRETIME", "re:k"), "-1\n");

	expect_cli(f, ARGS("SET", "re:k", "v", "EX", "100"), "OK\n");
	expect_cli_int_between(f, ARGS("TTL", "re:k"), 99, 100);
	expect_cli(f, ARGS("SET", "re:k", "v2", "KEEPTTL"), "OK\n");
	expect_cli_int_between(f, ARGS("TTL", "re:k"), 99, 100);
	expect_cli(f, ARGS("SET", "re:k", "v3"), "OK\n");
	expect_cli(f, ARGS("TTL", "re:k"), "-1\n");
	expect_cli(f, ARGS("SET", "re:k", "v", "PX", "100000"), "OK\n");
	expect_cli_int_between(f, ARGS("PTTL", "re:k"), 90000, 100000);
	expect_cli(f, ARGS("SET", "re:k", "v", "EXAT", at_s), "OK\n");
	expect_cli_int_between(f, ARGS("TTL", "re:k"), 95, 101);
	expect_cli(f, ARGS("SET", "re:k", "v", "PXAT", at_ms), "OK\n");
	expect_cli(f, ARGS("EXPIRETIME", "re:k"), at_s_line);
	expect_cli(f, ARGS("PEXPIRETIME", "re:k"), at_ms_line);
	expect_cli(f, ARGS("SETEX", "re:k", "100", "v"), "OK\n");
	expect_cli_int_between(f, ARGS("TTL", "re:k"), 99, 100);
	expect_cli(f, ARGS("PSETEX", "re:k", "100000", "v"), "OK\n");
	expect_cli_int_between(f, ARGS("PTTL", "re:k"), 90000, 100000);

	expect_cli(f, ARGS("GETEX", "re:k", "PERSIST"), "v\n");
	expect_cli(f, ARGS("TTL", "re:k"), "-1\n");
	expect_cli(f, ARGS("GETEX", "re:k", "EX", "50"), "v\n");
	expect_cli_int_between(f, ARGS("TTL", "re:k"), 49, 50);
	expect_cli(f, ARGS("GETEX", "re:missing"), "\n");

	expect_cli(f, ARGS("EXPIRE", "re:k", "200"), "1\n");
	expect_cli(f, ARGS("EXPIRE", "re:missing", "10"), "0\n");
	expect_cli(f, ARGS("EXPIRE", "re:k", "100", "GT"), "0\n");
	expect_cli(f, ARGS("EXPIRE", "re:k", "300", "GT"), "1\n");
	expect_cli(f, ARGS("EXPIRE", "re:k", "10", "LT"), "1\n");
	expect_cli(f, ARGS("EXPIRE", "re:k", "10", "NX"), "0\n");
	expect_cli_int_between(f, ARGS("TTL", "re:k"), 9, 10);
	expect_cli(f, ARGS("PERSIST", "re:k"), "1\n");
	expect_cli(f, ARGS("PERSIST", "re:k"), "0\n");
	expect_cli(f, ARGS("PEXPIRE", "re:k", "100000"), "1\n");
	expect_cli_int_between(f, ARGS("PTTL", "re:k"), 90000, 100000);
	expect_cli(f, ARGS("EXPIREAT", "re:k", at_s_plus), "1\n");
	expect_cli_int_between(f, ARGS("TTL", "re:k"), 195, 201);
	expect_cli(f, ARGS("PEXPIREAT", "re:k", at_ms), "1\n");
	expect_cli(f, ARGS("EXPIRETIME", "re:k"), at_s_line);

	/* A key whose time has passed is gone for every command. */
	expect_cli(f, ARGS("SET", "re:short", "v", "PX", "50"), "OK\n");
	mdb_sleep_ms(200);
	expect_cli(f, ARGS("GET", "re:short"), "\n");
	expect_cli(f, ARGS("EXISTS", "re:short"), "0\n");
	expect_cli(f, ARGS("TTL", "re:short"), "-2\n");
	/* An expiry in the past deletes the key. */
	expect_cli(f, ARGS("EXPIRE", "re:k", "-1"), "1\n");
	expect_cli(f, ARGS("EXISTS", "re:k"), "0\n");
}

static void key_commands_print_raw_replies(void **state)
{
	const fixture *f = need_cli(state);

	expect_cli(f, ARGS("MSET", "rk:a", "1", "rk:b", "2", "rk:c", "3"), "OK\n");
	expect_cli(f, ARGS("EXISTS", "rk:a", "rk:b", "rk:missing", "rk:a"), "3\n");
	expect_cli(f, ARGS("TYPE", "rk:a"), "string\n");
	expect_cli(f, ARGS("TYPE", "rk:missing"), "none\n");
	expect_cli(f, ARGS("DEL", "rk:c", "rk:missing"), "1\n");
	expect_cli(f, ARGS("UNLINK", "rk:b"), "1\n");
	expect_cli(f, ARGS("TOUCH", "rk:a", "rk:missing"), "1\n");
	expect_cli(f, ARGS("COPY", "rk:a", "rk:copy"), "1\n");
	expect_cli(f, ARGS("COPY", "rk:a", "rk:copy"), "0\n");
	expect_cli(f, ARGS("SET", "rk:a", "10"), "OK\n");
	expect_cli(f, ARGS("COPY", "rk:a", "rk:copy", "REPLACE"), "1\n");
	expect_cli(f, ARGS("GET", "rk:copy"), "10\n");
	expect_cli(f, ARGS("RENAME", "rk:copy", "rk:renamed"), "OK\n");
	expect_cli(f, ARGS("GET", "rk:copy"), "\n");
	expect_cli(f, ARGS("GET", "rk:renamed"), "10\n");
	expect_cli(f, ARGS("RENAMENX", "rk:renamed", "rk:a"), "0\n");
	expect_cli(f, ARGS("RENAMENX", "rk:renamed", "rk:b"), "1\n");
	expect_cli(f, ARGS("RENAME", "rk:missing", "rk:x"), "ERR no such key\n\n");

	/* KEYS's order is unspecified: compare sorted. */
	char *out = cli_output(f, ARGS("KEYS", "rk:*"), NULL, MDB_RUN_TIMEOUT_MS);
	lines got = split_sorted(out);
	char *const want_keys[] = {"rk:a", "rk:b"};
	expect_same_lines(&got, want_keys, 2);
	free(got.v);
	free(out);
	expect_cli(f, ARGS("KEYS", "rk:nomatch*"), "\n"); /* an empty array: one empty line */

	/* SCAN prints the cursor, then the keys of the step; follow it to 0. */
	char cursor[32] = "0";
	char *all = calloc(1, 1);
	size_t all_len = 0;
	for (int steps = 0;; steps++) {
		assert_true(steps < 10000);
		out = cli_output(f, ARGS("SCAN", cursor, "MATCH", "rk:*", "COUNT", "3"), NULL,
		                 MDB_RUN_TIMEOUT_MS);
		char *nl = strchr(out, '\n');
		assert_non_null(nl);
		*nl = '\0';
		assert_true(nl - out > 0 && (size_t)(nl - out) < sizeof cursor);
		assert_true(strspn(out, "0123456789") == (size_t)(nl - out));
		strcpy(cursor, out);
		size_t n = strlen(nl + 1);
		all = realloc(all, all_len + n + 1);
		memcpy(all + all_len, nl + 1, n + 1);
		all_len += n;
		free(out);
		if (strcmp(cursor, "0") == 0)
			break;
	}
	got = split_sorted(all);
	expect_same_lines(&got, want_keys, 2);
	free(got.v);
	free(all);

	out = cli_output(f, ARGS("RANDOMKEY"), NULL, MDB_RUN_TIMEOUT_MS);
	assert_true(strlen(out) > 1 && out[strlen(out) - 1] == '\n');
	free(out);
	out = cli_output(f, ARGS("DBSIZE"), NULL, MDB_RUN_TIMEOUT_MS);
	assert_true(parse_int_line(out) >= 2);
	free(out);

	expect_cli(f, ARGS("SELECT", "0"), "OK\n");
	/* minidb has one database (Redis has 16 by default). */
	expect_cli(f, ARGS("SELECT", "1"), "ERR DB index is out of range\n\n");
}

static void connection_and_server_commands_print_raw_replies(void **state)
{
	const fixture *f = need_cli(state);

	expect_cli(f, ARGS("PING"), "PONG\n");
	expect_cli(f, ARGS("PING", "hello there"), "hello there\n");
	expect_cli(f, ARGS("ECHO", "hi"), "hi\n");
	expect_cli(f, ARGS("CONFIG", "GET", "maxmemory"), "maxmemory\n0\n");
	expect_cli(f, ARGS("AUTH", "secret"),
	           "ERR AUTH <password> called without any password configured for the default "
	           "user. Are you sure your configuration is correct?\n\n");
	expect_cli(f, ARGS("QUIT"), "OK\n");
	/* A name lives as long as its connection: one session on stdin. */
	expect_cli_stdin(f, NO_ARGS, "CLIENT SETNAME rc-test\nCLIENT GETNAME\n", "OK\nrc-test\n");

	char *out = cli_output(f, ARGS("CLIENT", "ID"), NULL, MDB_RUN_TIMEOUT_MS);
	assert_true(parse_int_line(out) > 0);
	free(out);
	out = cli_output(f, ARGS("COMMAND", "COUNT"), NULL, MDB_RUN_TIMEOUT_MS);
	assert_true(parse_int_line(out) >= 50); /* the commands of docs/protocol.md */
	free(out);

	out = cli_output(f, ARGS("CLIENT", "INFO"), NULL, MDB_RUN_TIMEOUT_MS);
	if (strncmp(out, "id=", 3) != 0 || strstr(out, " addr=127.0.0.1:") == NULL) {
		print_error("CLIENT INFO: \"%s\"\n", out);
		fail();
	}
	free(out);
	out = cli_output(f, ARGS("CLIENT", "LIST"), NULL, MDB_RUN_TIMEOUT_MS);
	assert_true(strncmp(out, "id=", 3) == 0);
	free(out);

	/* TIME: Unix seconds, then microseconds. */
	out = cli_output(f, ARGS("TIME"), NULL, MDB_RUN_TIMEOUT_MS);
	long long sec = 0, usec = -1;
	int consumed = 0;
	if (sscanf(out, "%lld\n%lld\n%n", &sec, &usec, &consumed) != 2 || out[consumed] != '\0' ||
	    llabs(sec - (long long)time(NULL)) > 5 || usec < 0 || usec > 999999) {
		print_error("TIME: \"%s\"\n", out);
		fail();
	}
	free(out);

	out = cli_output(f, ARGS("INFO", "server"), NULL, MDB_RUN_TIMEOUT_MS);
	if (strstr(out, "# Server\r\n") == NULL || strstr(out, "\r\nredis_version:") == NULL) {
		print_error("INFO server: \"%s\"\n", out);
		fail();
	}
	free(out);
	out = cli_output(f, ARGS("info"), NULL, MDB_RUN_TIMEOUT_MS);
	assert_non_null(strstr(out, "redis_version:"));
	free(out);
}

static void error_replies_print_their_text_then_an_empty_line(void **state)
{
	const fixture *f = need_cli(state);

	expect_cli(f, ARGS("SET", "rr:s", "abc"), "OK\n");
	expect_cli(f, ARGS("INCR", "rr:s"), "ERR value is not an integer or out of range\n\n");
	expect_cli(f, ARGS("INCRBY", "rr:n", "x"),
	           "ERR value is not an integer or out of range\n\n");
	expect_cli(f, ARGS("INCRBYFLOAT", "rr:s", "1"), "ERR value is not a valid float\n\n");
	expect_cli(f, ARGS("GET"), "ERR wrong number of arguments for 'get' command\n\n");
	expect_cli(f, ARGS("SET", "rr:k", "v", "EX"), "ERR syntax error\n\n");
	expect_cli(f, ARGS("SET", "rr:k", "v", "EX", "10", "PX", "10"), "ERR syntax error\n\n");
	expect_cli(f, ARGS("SET", "rr:k", "v", "EX", "0"),
	           "ERR invalid expire time in 'set' command\n\n");
	expect_cli(f, ARGS("NOSUCHCMD", "a", "b"),
	           "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' \n\n");
	/* The error did not touch the value. */
	expect_cli(f, ARGS("GET", "rr:s"), "abc\n");

	/* With -e an error reply goes to stderr and the exit status is 1. */
	mdb_proc res;
	cli_run(f, ARGS("-e", "INCR", "rr:s"), NULL, 0, MDB_RUN_TIMEOUT_MS, &res);
	int ok = res.status == 1 && res.out_len == 0 &&
	         strcmp(res.err, "ERR value is not an integer or out of range\n") == 0;
	if (!ok)
		print_error("redis-cli -e INCR rr:s: status %d, stdout \"%s\", stderr \"%s\"\n",
		            res.status, res.out, res.err);
	mdb_proc_free(&res);
	assert_true(ok);
}

static void no_raw_prints_types_as_an_interactive_session_does(void **state)
{
	const fixture *f = need_cli(state);

	expect_cli(f, ARGS("--no-raw", "SET", "rn:k", "v"), "OK\n");
	expect_cli(f, ARGS("--no-raw", "GET", "rn:k"), "\"v\"\n");
	expect_cli(f, ARGS("--no-raw", "GET", "rn:missing"), "(nil)\n");
	expect_cli(f, ARGS("--no-raw", "INCR", "rn:n"), "(integer) 1\n");
	expect_cli(f, ARGS("--no-raw", "TTL", "rn:missing"), "(integer) -2\n");
	expect_cli(f, ARGS("--no-raw", "MGET", "rn:k", "rn:missing"), "1) \"v\"\n2) (nil)\n");
	expect_cli(f, ARGS("--no-raw", "KEYS", "rn:nomatch*"), "(empty array)\n");
	expect_cli(f, ARGS("--no-raw", "CONFIG", "GET", "maxmemory"),
	           "1) \"maxmemory\"\n2) \"0\"\n");
	expect_cli(f, ARGS("--no-raw", "INCRBYFLOAT", "rn:f", "1.5"), "\"1.5\"\n");
	expect_cli(f, ARGS("--no-raw", "INCR", "rn:k"),
	           "(error) ERR value is not an integer or out of range\n");
	expect_cli(f, ARGS("--no-raw", "SET", "rn:bin", "a\"b\\c\x01\xff"), "OK\n");
	expect_cli(f, ARGS("--no-raw", "GET", "rn:bin"), "\"a\\\"b\\\\c\\x01\\xff\"\n");
}

static void resp3_replies_print_in_raw_and_typed_forms(void **state)
{
	const fixture *f = need_cli(state);

	expect_cli(f, ARGS("-3", "SET", "r3:k", "v"), "OK\n");
	expect_cli(f, ARGS("-3", "GET", "r3:k"), "v\n");
	/* A RESP3 null prints as an empty line raw and as (nil) typed. */
	expect_cli(f, ARGS("-3", "GET", "r3:missing"), "\n");
	expect_cli(f, ARGS("-3", "--no-raw", "GET", "r3:missing"), "(nil)\n");
	expect_cli(f, ARGS("-3", "--no-raw", "MGET", "r3:k", "r3:missing"), "1) \"v\"\n2) (nil)\n");
	expect_cli(f, ARGS("-3", "--no-raw", "TTL", "r3:missing"), "(integer) -2\n");
	expect_cli(f, ARGS("-3", "--no-raw", "INCRBYFLOAT", "r3:f", "1.5"), "\"1.5\"\n");
	expect_cli(f, ARGS("-3", "--no-raw", "INCR", "r3:k"),
	           "(error) ERR value is not an integer or out of range\n");
	/* CONFIG GET is a map in RESP3: "key value" raw, 1# "k" => "v" typed. */
	expect_cli(f, ARGS("-3", "CONFIG", "GET", "maxmemory"), "maxmemory 0\n");
	expect_cli(f, ARGS("-3", "--no-raw", "CONFIG", "GET", "maxmemory"),
	           "1# \"maxmemory\" => \"0\"\n");

	/* HELLO 3 is a map too; its values are server-specific. */
	char *out = cli_output(f, ARGS("-3", "HELLO", "3"), NULL, MDB_RUN_TIMEOUT_MS);
	if (strncmp(out, "server ", 7) != 0 || strstr(out, "\nproto 3\n") == NULL ||
	    strstr(out, "\nversion ") == NULL || strstr(out, "\nid ") == NULL) {
		print_error("redis-cli -3 HELLO 3: \"%s\"\n", out);
		fail();
	}
	free(out);
	out = cli_output(f, ARGS("-3", "--no-raw", "HELLO", "3"), NULL, MDB_RUN_TIMEOUT_MS);
	if (strncmp(out, "1# \"server\" => \"", 16) != 0 ||
	    strstr(out, "# \"proto\" => (integer) 3\n") == NULL) {
		print_error("redis-cli -3 --no-raw HELLO 3: \"%s\"\n", out);
		fail();
	}
	free(out);
	/* CLIENT INFO (a verbatim string in RESP3) prints without its format. */
	out = cli_output(f, ARGS("-3", "CLIENT", "INFO"), NULL, MDB_RUN_TIMEOUT_MS);
	if (strncmp(out, "id=", 3) != 0) {
		print_error("redis-cli -3 CLIENT INFO: \"%s\"\n", out);
		fail();
	}
	free(out);

	/* HELLO 3 typed into a session switches it: the nil after it is RESP3's. */
	out = cli_output(f, ARGS("--no-raw"), "HELLO 3\nGET r3:missing\nGET r3:k\n",
	                 MDB_RUN_TIMEOUT_MS);
	const char *tail = "(nil)\n\"v\"\n";
	size_t n = strlen(out);
	if (strstr(out, "# \"proto\" => (integer) 3\n") == NULL || n < strlen(tail) ||
	    strcmp(out + n - strlen(tail), tail) != 0) {
		print_error("HELLO 3 then GETs on stdin: \"%s\"\n", out);
		fail();
	}
	free(out);
}

static void commands_piped_on_stdin_print_one_reply_each(void **state)
{
	const fixture *f = need_cli(state);

	expect_cli_stdin(f, NO_ARGS, "SET rp:a 1\nINCR rp:a\nGET rp:a\n", "OK\n2\n2\n");
	expect_cli_stdin(f, NO_ARGS, "SET rp:s v\nINCR rp:s\nGET rp:s\nGET rp:missing\nPING\n",
	                 "OK\nERR value is not an integer or out of range\n\nv\n\nPONG\n");
	/* redis-cli's own quoting: double quotes with escapes, single quotes. */
	expect_cli_stdin(f, NO_ARGS,
	                 "SET \"rp:two words\" \"x y\"\nGET 'rp:two words'\n"
	                 "SET \"rp:\\x41\\x42\" \"tab\\there\"\nGET rp:AB\n",
	                 "OK\nx y\nOK\ntab\there\n");
	expect_cli_stdin(f, ARGS("--no-raw"), "SET rp:t v\nGET rp:t\nGET rp:missing\n",
	                 "OK\n\"v\"\n(nil)\n");
	/* -r repeats a command. */
	expect_cli(f, ARGS("-r", "3", "INCR", "rp:counter"), "1\n2\n3\n");
}

static void x_reads_a_binary_value_from_stdin_and_get_prints_it_raw(void **state)
{
	const fixture *f = need_cli(state);

	/* Every byte value but NUL (the input travels as a C string here). */
	char value[256];
	for (int i = 1; i < 256; i++)
		value[i - 1] = (char)i;
	value[255] = '\0';
	expect_cli_stdin(f, ARGS("-x", "SET", "rx:bin"), value, "OK\n");
	expect_cli(f, ARGS("STRLEN", "rx:bin"), "255\n");
	char want[257];
	memcpy(want, value, 255);
	want[255] = '\n';
	expect_cli_at(f, ARGS("GET", "rx:bin"), NULL, want, 256, __FILE__, __LINE__);
}

/* RESP for SET <prefix><i> v<i> for i in [0, n): malloc'd, its length in
 * *len. */
static char *resp_sets(const char *prefix, int n, size_t *len)
{
	size_t cap = (size_t)n * 64 + 64, o = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (int i = 0; i < n; i++) {
		char key[64], val[32];
		int kl = snprintf(key, sizeof key, "%s%06d", prefix, i);
		int vl = snprintf(val, sizeof val, "v%d", i);
		o += (size_t)snprintf(buf + o, cap - o,
		                      "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl, key, vl,
		                      val);
		assert_true(o < cap);
	}
	*len = o;
	return buf;
}

static void pipe_mode_counts_replies_and_errors(void **state)
{
	const fixture *f = need_cli(state);

	size_t len;
	char *resp = resp_sets("rpipe:", 1000, &len);
	mdb_proc res;
	cli_run(f, ARGS("--pipe"), resp, len, BULK_TIMEOUT_MS, &res);
	free(resp);
	if (res.status != 0 || strstr(res.out, "errors: 0, replies: 1000\n") == NULL) {
		print_error("--pipe: status %d, stdout \"%s\", stderr \"%s\"\n", res.status,
		            res.out, res.err);
		mdb_proc_free(&res);
		fail();
	}
	mdb_proc_free(&res);
	expect_cli(f, ARGS("GET", "rpipe:000999"), "v999\n");

	/* An error reply is counted, and makes the exit status 1. */
	static const char bad[] = "*3\r\n$3\r\nSET\r\n$7\r\nrpipe:x\r\n$1\r\nx\r\n"
	                          "*2\r\n$4\r\nINCR\r\n$7\r\nrpipe:x\r\n"
	                          "*2\r\n$3\r\nGET\r\n$7\r\nrpipe:x\r\n";
	cli_run(f, ARGS("--pipe"), bad, sizeof bad - 1, BULK_TIMEOUT_MS, &res);
	if (res.status != 1 || strstr(res.out, "errors: 1, replies: 3\n") == NULL) {
		print_error("--pipe with an error: status %d, stdout \"%s\", stderr \"%s\"\n",
		            res.status, res.out, res.err);
		mdb_proc_free(&res);
		fail();
	}
	mdb_proc_free(&res);
}

/* Flushes the database, so it runs last. */
static void scan_lists_each_of_100000_keys_exactly_once(void **state)
{
	const fixture *f = need_cli(state);

	expect_cli(f, ARGS("FLUSHALL"), "OK\n");
	expect_cli(f, ARGS("DBSIZE"), "0\n");
	size_t len;
	char *resp = resp_sets("scan:", N_SCAN_KEYS, &len);
	mdb_proc res;
	cli_run(f, ARGS("--pipe"), resp, len, BULK_TIMEOUT_MS, &res);
	free(resp);
	char summary[64];
	snprintf(summary, sizeof summary, "errors: 0, replies: %d\n", N_SCAN_KEYS);
	if (res.status != 0 || strstr(res.out, summary) == NULL) {
		print_error("--pipe: status %d, stdout \"%s\", stderr \"%s\"\n", res.status,
		            res.out, res.err);
		mdb_proc_free(&res);
		fail();
	}
	mdb_proc_free(&res);
	char dbsize[32];
	snprintf(dbsize, sizeof dbsize, "%d\n", N_SCAN_KEYS);
	expect_cli(f, ARGS("DBSIZE"), dbsize);

	char **want = malloc(N_SCAN_KEYS * sizeof *want);
	char *names = malloc((size_t)N_SCAN_KEYS * 16);
	assert_true(want != NULL && names != NULL);
	for (int i = 0; i < N_SCAN_KEYS; i++) {
		want[i] = names + (size_t)i * 16;
		snprintf(want[i], 16, "scan:%06d", i);
	}

	char *out = cli_output(f, ARGS("--scan"), NULL, BULK_TIMEOUT_MS);
	lines got = split_sorted(out);
	expect_same_lines(&got, want, N_SCAN_KEYS);
	free(got.v);
	free(out);

	/* With a pattern: scan:000010 .. scan:000019. */
	out = cli_output(f, ARGS("--scan", "--pattern", "scan:00001?"), NULL, BULK_TIMEOUT_MS);
	got = split_sorted(out);
	expect_same_lines(&got, want + 10, 10);
	free(got.v);
	free(out);
	free(names);
	free(want);

	/* --bigkeys walks the keyspace with SCAN, TYPE and STRLEN. */
	out = cli_output(f, ARGS("--bigkeys"), NULL, BULK_TIMEOUT_MS);
	char sampled[64], strings[64];
	snprintf(sampled, sizeof sampled, "\nSampled %d keys in the keyspace!\n", N_SCAN_KEYS);
	snprintf(strings, sizeof strings, "\n%d strings with ", N_SCAN_KEYS);
	if (strstr(out, sampled) == NULL || strstr(out, strings) == NULL ||
	    strstr(out, "\nBiggest string found '\"scan:") == NULL) {
		print_error("--bigkeys: \"%s\"\n", out);
		fail();
	}
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(string_commands_print_raw_replies_one_per_line),
	        cmocka_unit_test(expiry_options_and_ttls_print_as_numbers),
	        cmocka_unit_test(key_commands_print_raw_replies),
	        cmocka_unit_test(connection_and_server_commands_print_raw_replies),
	        cmocka_unit_test(error_replies_print_their_text_then_an_empty_line),
	        cmocka_unit_test(no_raw_prints_types_as_an_interactive_session_does),
	        cmocka_unit_test(resp3_replies_print_in_raw_and_typed_forms),
	        cmocka_unit_test(commands_piped_on_stdin_print_one_reply_each),
	        cmocka_unit_test(x_reads_a_binary_value_from_stdin_and_get_prints_it_raw),
	        cmocka_unit_test(pipe_mode_counts_replies_and_errors),
	        cmocka_unit_test(scan_lists_each_of_100000_keys_exactly_once),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
