/* RESP framing against the real server: both protocols on one connection,
 * declared lengths that must cost no memory, protocol errors that close only
 * the offending connection, and the per-client query buffer limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* Resident memory of the server in KiB, from /proc. */
static long rss_kib(const mdb_server *s)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void send_raw(mdb_conn *c, const char *s, size_t n)
{
	assert_int_equal(mdb_send_all(c->fd, s, n), 0);
}

static void expect_line(mdb_conn *c, const char *want)
{
	char *line = NULL;
	long n = mdb_read_line(c, &line);
	assert_true(n >= 0);
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = 0;
	assert_string_equal(line, want);
	free(line);
}

static void test_resp_and_line_requests_mix_on_one_connection(void **state)
{
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	const char req[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
	                   "LOOKUP k\n"
	                   "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n"
	                   "GET missing\n"
	                   "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
	                   "DEL k\n";
	send_raw(c, req, sizeof(req) - 1);
	expect_line(c, "+OK");
	expect_line(c, "hello");
	expect_line(c, "$-1");
	expect_line(c, "NOT FOUND");
	expect_line(c, ":1");
	expect_line(c, "NOT FOUND");
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

static void test_huge_declared_lengths_are_refused_and_close_only_that_client(void **state)
{
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	mdb_conn *other = mdb_conn_open(s->port);
	mdb_assert_cmd(other, "SET a 1", "OK");

	mdb_conn *c = mdb_conn_open(s->port);
	send_raw(c, "*2000000000\r\n", 13);
	expect_line(c, "-ERR Protocol error: invalid multibulk length");
	mdb_assert_closed(c);
	mdb_conn_close(c);

	c = mdb_conn_open(s->port);
	send_raw(c, "*1\r\n$2147483647\r\n", 17);
	expect_line(c, "-ERR Protocol error: invalid bulk length");
	mdb_assert_closed(c);
	mdb_conn_close(c);

	c = mdb_conn_open(s->port);
	send_raw(c, "*1\r\n+PING\r\n", 11);
	expect_line(c, "-ERR Protocol error: expected '$', got '+'");
	mdb_assert_closed(c);
	mdb_conn_close(c);

	mdb_assert_cmd(other, "GET a", "1");
	mdb_conn_close(other);
	assert_int_equal(mdb_stop(s), 0);
}

/* 100 clients each declare a 100 MB argument (within the 512 MB limit) and
 * send 10 bytes of it: the server must not reserve what was only promised. */
static void test_declared_but_unsent_bulk_costs_no_memory(void **state)
{
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	long before = rss_kib(s);
	mdb_conn *cs[100];
	for (int i = 0; i < 100; i++) {
		cs[i] = mdb_conn_open(s->port);
		assert_non_null(cs[i]);
		const char req[] = "*2\r\n$3\r\nGET\r\n$100000000\r\n0123456789";
		send_raw(cs[i], req, sizeof(req) - 1);
	}
	mdb_conn *probe = mdb_conn_open(s->port);
	mdb_assert_cmd(probe, "PING", "PONG"); /* every declaration was read by now */
	long after = rss_kib(s);
	assert_true(before > 0 && after > 0);
	/* 100 x 100 MB declared; allow 64 MiB for buffers and allocator slack. */
	assert_true(after - before < 64 * 1024);
	for (int i = 0; i < 100; i++)
		mdb_conn_close(cs[i]);
	mdb_conn_close(probe);
	assert_int_equal(mdb_stop(s), 0);
}

static void test_query_buffer_limit_closes_the_client_and_others_carry_on(void **state)
{
	const char *args[] = {"--max-query-buffer-bytes", "4096", NULL};
	mdb_server *s = mdb_start(args);
	assert_non_null(s);
	mdb_conn *other = mdb_conn_open(s->port);
	mdb_assert_cmd(other, "SET a 1", "OK");
	mdb_conn *c = mdb_conn_open(s->port);
	size_t n = 6000;
	char *req = malloc(n + 64);
	int h = snprintf(req, 64, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", n);
	memset(req + h, 'x', n);
	memcpy(req + h + n, "\r\n", 2);
	send_raw(c, req, (size_t)h + n + 2);
	expect_line(c, "-ERR Protocol error: query buffer limit reached");
	mdb_assert_closed(c);
	mdb_conn_close(c);
	free(req);
	/* A command under the limit still works. */
	c = mdb_conn_open(s->port);
	const char set[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n";
	send_raw(c, set, sizeof(set) - 1);
	expect_line(c, "+OK");
	mdb_conn_close(c);
	mdb_assert_cmd(other, "GET k", "abc");
	mdb_conn_close(other);
	assert_true(mdb_log_contains(s, "query buffer limit reached"));
	assert_int_equal(mdb_stop(s), 0);
}

static void test_hello_3_switches_the_connection_to_resp3(void **state)
{
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	mdb_conn *c = mdb_conn_open(s->port);
	const char req[] = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n";
	send_raw(c, req, sizeof(req) - 1);
	expect_line(c, "%7");
	/* The rest of the map, up to the PING's reply (bounded). */
	int pong = 0;
	for (int i = 0; i < 64 && !pong; i++) {
		char *line = NULL;
		assert_true(mdb_read_line(c, &line) >= 0);
		pong = strncmp(line, "+PONG", 5) == 0;
		free(line);
	}
	assert_true(pong);
	const char get[] = "*2\r\n$3\r\nGET\r\n$1\r\nx\r\n";
	send_raw(c, get, sizeof(get) - 1);
	expect_line(c, "_");
	mdb_assert_cmd(c, "GET x", "NOT FOUND"); /* the line protocol is unchanged */
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_resp_and_line_requests_mix_on_one_connection),
	        cmocka_unit_test(test_huge_declared_lengths_are_refused_and_close_only_that_client),
	        cmocka_unit_test(test_declared_but_unsent_bulk_costs_no_memory),
	        cmocka_unit_test(test_query_buffer_limit_closes_the_client_and_others_carry_on),
	        cmocka_unit_test(test_hello_3_switches_the_connection_to_resp3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
