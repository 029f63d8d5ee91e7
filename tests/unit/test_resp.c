/* Unit tests for the RESP request parser (src/resp.c): every split point,
 * pipelines, limits checked before memory, malformed framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"

static const resp_limits lim = {.max_array_len = 1024 * 1024, .max_bulk_len = 512 * 1024 * 1024};

static void test_a_command_parses_whole(void **state)
{
	char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
	resp_parser p;
	argvec av = {0};
	size_t used = 0;
	resp_parser_init(&p);
	assert_int_equal(resp_parse(&p, in, sizeof(in) - 1, &lim, &av, &used), RESP_OK);
	assert_int_equal(used, sizeof(in) - 1);
	assert_int_equal(av.n, 3);
	assert_memory_equal(av.v[0].p, "SET", 3);
	assert_memory_equal(av.v[2].p, "hello", 5);
	assert_false(resp_in_progress(&p));
	argvec_free(&av);
	resp_parser_free(&p);
}

/* Feeds the command growing one byte at a time from every split point, as a
 * connection would after each read, and checks the result is the same. */
static void test_every_split_point_gives_the_same_command(void **state)
{
	const char cmd[] =
	        "*4\r\n$3\r\nSET\r\n$0\r\n\r\n$13\r\nbin\r\n\0ary\xff\r\nx\r\n$2\r\nEX\r\n";
	size_t len = sizeof(cmd) - 1;
	for (size_t split = 0; split <= len; split++) {
		char *copy = malloc(len);
		resp_parser p;
		argvec av = {0};
		size_t used = 0;
		resp_parser_init(&p);
		memcpy(copy, cmd, len);
		int rc = RESP_NEED_MORE;
		if (split > 0)
			rc = resp_parse(&p, copy, split, &lim, &av, &used);
		if (split < len) {
			assert_int_equal(rc, RESP_NEED_MORE);
			for (size_t n = split + 1; n <= len && rc == RESP_NEED_MORE; n++)
				rc = resp_parse(&p, copy, n, &lim, &av, &used);
		}
		assert_int_equal(rc, RESP_OK);
		assert_int_equal(used, len);
		assert_int_equal(av.n, 4);
		assert_int_equal(av.v[1].len, 0);
		assert_int_equal(av.v[2].len, 13);
		assert_memory_equal(av.v[2].p, "bin\r\n\0ary\xff\r\nx", 13);
		argvec_free(&av);
		resp_parser_free(&p);
		free(copy);
	}
}

static void test_pipelined_commands_parse_one_after_another(void **state)
{
	char in[] = "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nPI";
	resp_parser p;
	argvec av = {0};
	size_t used = 0, off = 0, len = sizeof(in) - 1;
	resp_parser_init(&p);
	assert_int_equal(resp_parse(&p, in + off, len - off, &lim, &av, &used), RESP_OK);
	assert_int_equal(av.n, 1);
	off += used;
	assert_int_equal(resp_parse(&p, in + off, len - off, &lim, &av, &used), RESP_OK);
	assert_int_equal(av.n, 2);
	assert_memory_equal(av.v[1].p, "a", 1);
	off += used;
	assert_int_equal(resp_parse(&p, in + off, len - off, &lim, &av, &used), RESP_NEED_MORE);
	assert_true(resp_in_progress(&p));
	argvec_free(&av);
	resp_parser_free(&p);
}

static void test_empty_and_null_arrays_are_skipped(void **state)
{
	char in[] = "*0\r\n*-1\r\n";
	resp_parser p;
	argvec av = {0};
	size_t used = 0;
	resp_parser_init(&p);
	assert_int_equal(resp_parse(&p, in, 9, &lim, &av, &used), RESP_EMPTY);
	assert_int_equal(used, 4);
	assert_int_equal(resp_parse(&p, in + 4, 5, &lim, &av, &used), RESP_EMPTY);
	assert_int_equal(used, 5);
	resp_parser_free(&p);
}

/* A declared huge length is refused by the limit, or costs nothing until the
 * bytes arrive. */
static void test_declared_lengths_cost_no_memory(void **state)
{
	resp_parser p;
	argvec av = {0};
	size_t used = 0;
	resp_parser_init(&p);
	char big_array[] = "*2000000000\r\n";
	assert_int_equal(resp_parse(&p, big_array, strlen(big_array), &lim, &av, &used),
	                 RESP_ERROR);
	assert_string_equal(p.err, "Protocol error: invalid multibulk length");
	char big_bulk[] = "*1\r\n$2147483647\r\n";
	assert_int_equal(resp_parse(&p, big_bulk, strlen(big_bulk), &lim, &av, &used), RESP_ERROR);
	assert_string_equal(p.err, "Protocol error: invalid bulk length");
	/* Within limits: waits for the bytes without reserving them. */
	resp_limits roomy = {.max_array_len = 2000000000, .max_bulk_len = 1LL << 40};
	assert_int_equal(resp_parse(&p, big_array, strlen(big_array), &roomy, &av, &used),
	                 RESP_NEED_MORE);
	assert_true(p.cap <= 16);
	resp_parser_free(&p);
	resp_parser_init(&p);
	assert_int_equal(resp_parse(&p, big_bulk, strlen(big_bulk), &roomy, &av, &used),
	                 RESP_NEED_MORE);
	assert_true(p.need >= 2147483647u);
	resp_parser_free(&p);
	argvec_free(&av);
}

static void expect_error(const char *in, const char *msg)
{
	resp_parser p;
	argvec av = {0};
	size_t used = 0;
	char *copy = strdup(in);
	resp_parser_init(&p);
	assert_int_equal(resp_parse(&p, copy, strlen(copy), &lim, &av, &used), RESP_ERROR);
	assert_string_equal(p.err, msg);
	assert_false(resp_in_progress(&p));
	free(copy);
	argvec_free(&av);
	resp_parser_free(&p);
}

static void test_malformed_framing_is_a_protocol_error(void **state)
{
	expect_error("*x\r\n", "Protocol error: invalid multibulk length");
	expect_error("*1x\r\n", "Protocol error: invalid multibulk length");
	expect_error("*1\rx", "Protocol error: invalid multibulk length");
	expect_error("*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'");
	expect_error("*1\r\n\x01", "Protocol error: expected '$', got '\\x01'");
	expect_error("*1\r\n$-1\r\n", "Protocol error: invalid bulk length");
	expect_error("*1\r\n$abc\r\n", "Protocol error: invalid bulk length");
	expect_error("*1\r\n$3\r\nGETxx", "Protocol error: bulk string not terminated by CRLF");
	expect_error("*1\r\n$99999999999999999999\r\n", "Protocol error: invalid bulk length");
}

static void test_a_header_without_crlf_is_bounded(void **state)
{
	size_t n = 70 * 1024;
	char *in = malloc(n);
	memset(in, '1', n);
	in[0] = '*';
	resp_parser p;
	argvec av = {0};
	size_t used = 0;
	resp_parser_init(&p);
	assert_int_equal(resp_parse(&p, in, n, &lim, &av, &used), RESP_ERROR);
	assert_string_equal(p.err, "Protocol error: too big mbulk count string");
	resp_parser_free(&p);
	free(in);
}

static void test_many_arguments_are_kept_in_order(void **state)
{
	size_t n = 5000;
	size_t cap = 32 + n * 16;
	char *in = malloc(cap);
	size_t len = (size_t)snprintf(in, cap, "*%zu\r\n", n);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(in + len, cap - len, "$%d\r\n%05zu\r\n", 5, i);
	resp_parser p;
	argvec av = {0};
	size_t used = 0;
	resp_parser_init(&p);
	assert_int_equal(resp_parse(&p, in, len, &lim, &av, &used), RESP_OK);
	assert_int_equal(av.n, n);
	char want[8];
	snprintf(want, sizeof(want), "%05zu", n - 1);
	assert_memory_equal(av.v[n - 1].p, want, 5);
	argvec_free(&av);
	resp_parser_free(&p);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_a_command_parses_whole),
	        cmocka_unit_test(test_every_split_point_gives_the_same_command),
	        cmocka_unit_test(test_pipelined_commands_parse_one_after_another),
	        cmocka_unit_test(test_empty_and_null_arrays_are_skipped),
	        cmocka_unit_test(test_declared_lengths_cost_no_memory),
	        cmocka_unit_test(test_malformed_framing_is_a_protocol_error),
	        cmocka_unit_test(test_a_header_without_crlf_is_bounded),
	        cmocka_unit_test(test_many_arguments_are_kept_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
