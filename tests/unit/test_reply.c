/* Unit tests for the reply writer's line-protocol encoding (src/reply.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_line.h"
#include "reply.h"

static void assert_out(buf *b, const char *want)
{
	assert_int_equal(buf_used(b), strlen(want));
	assert_memory_equal(buf_start(b), want, strlen(want));
	buf_reset(b, 0);
}

static void test_status_error_null_and_integer_replies(void **state)
{
	buf b;
	buf_init(&b);
	reply r = {.out = &b, .proto = PROTO_LINE};
	reply_status(&r, "OK");
	assert_out(&b, "OK\n");
	reply_error(&r, "Unknown command");
	assert_out(&b, "ERROR: Unknown command\n");
	reply_errorf(&r, "limit %d", 7);
	assert_out(&b, "ERROR: limit 7\n");
	reply_null(&r);
	assert_out(&b, "NOT FOUND\n");
	reply_int(&r, -42);
	assert_out(&b, "-42\n");
	assert_false(r.oom);
	buf_free(&b);
}

static void test_the_first_error_of_a_reply_is_classified_for_metrics(void **state)
{
	static const struct {
		const char *code, *msg;
		const char *reason;
	} cases[] = {
	        {NULL, "syntax error", "syntax"},
	        {NULL, "wrong number of arguments for 'get' command", "arity"},
	        {NULL, "unknown command 'x', with args beginning with: ", "unknown_command"},
	        {NULL, "Unknown command", "unknown_command"},
	        {"ERR", "syntax error", "syntax"},
	        {NULL, "value is not an integer or out of range", "other"},
	        {"NOAUTH", "Authentication required.", "noauth"},
	        {"NOPERM", "x", "noperm"},
	        {"WRONGPASS", "x", "wrongpass"},
	        {"WRONGTYPE", "x", "wrongtype"},
	        {"OOM", "x", "oom"},
	        {"LOADING", "x", "loading"},
	        {"EXECABORT", "x", "other"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf b;
		buf_init(&b);
		reply r = {.out = &b, .proto = PROTO_RESP2};
		reply_status(&r, "OK");
		assert_int_equal(r.err_reason, REPLY_ERR_NONE);
		if (cases[i].code)
			reply_error_code(&r, cases[i].code, cases[i].msg);
		else
			reply_error(&r, cases[i].msg);
		reply_error_code(&r, "NOAUTH", "a second error does not change it");
		assert_string_equal(reply_err_reason_name(r.err_reason), cases[i].reason);
		buf_free(&b);
	}
	assert_string_equal(reply_err_reason_name(REPLY_ERR_NONE), "");
}

static void test_plain_values_are_sent_raw(void **state)
{
	buf b;
	buf_init(&b);
	reply r = {.out = &b, .proto = PROTO_LINE};
	reply_bulk(&r, "my value\twith tab", 17);
	assert_out(&b, "my value\twith tab\n");
	reply_bulk(&r, "", 0);
	assert_out(&b, "\n");
	reply_bulk(&r, "a\"b", 3);
	assert_out(&b, "a\"b\n");
	reply_bulk(&r, "caf\xc3\xa9", 5);
	assert_out(&b, "caf\xc3\xa9\n");
	buf_free(&b);
}

static void test_values_with_newline_cr_nul_or_leading_quote_are_quoted(void **state)
{
	buf b;
	buf_init(&b);
	reply r = {.out = &b, .proto = PROTO_LINE};
	reply_bulk(&r, "a\nb", 3);
	assert_out(&b, "\"a\\nb\"\n");
	reply_bulk(&r, "a\rb", 3);
	assert_out(&b, "\"a\\rb\"\n");
	reply_bulk(&r, "a\0b", 3);
	assert_out(&b, "\"a\\x00b\"\n");
	reply_bulk(&r, "\"x\\", 3);
	assert_out(&b, "\"\\\"x\\\\\"\n");
	buf_free(&b);
}

static void test_resp2_encodings_match_redis(void **state)
{
	buf b;
	buf_init(&b);
	reply r = {.out = &b, .proto = PROTO_RESP2};
	reply_status(&r, "OK");
	assert_out(&b, "+OK\r\n");
	reply_error(&r, "syntax error");
	assert_out(&b, "-ERR syntax error\r\n");
	reply_error_code(&r, "WRONGTYPE",
	                 "Operation against a key holding the wrong kind of value");
	assert_out(&b, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	reply_bulk(&r, "a\r\nb", 4);
	assert_out(&b, "$4\r\na\r\nb\r\n");
	reply_bulk(&r, "", 0);
	assert_out(&b, "$0\r\n\r\n");
	reply_null(&r);
	assert_out(&b, "$-1\r\n");
	reply_null_array(&r);
	assert_out(&b, "*-1\r\n");
	reply_int(&r, -9223372036854775807LL - 1);
	assert_out(&b, ":-9223372036854775808\r\n");
	reply_double(&r, 10.5);
	assert_out(&b, "$4\r\n10.5\r\n");
	reply_bool(&r, 1);
	assert_out(&b, ":1\r\n");
	reply_map(&r, 2);
	assert_out(&b, "*4\r\n");
	reply_set(&r, 3);
	assert_out(&b, "*3\r\n");
	reply_verbatim(&r, "x", 1);
	assert_out(&b, "$1\r\nx\r\n");
	buf_free(&b);
}

static void test_resp3_encodings_match_redis(void **state)
{
	buf b;
	buf_init(&b);
	reply r = {.out = &b, .proto = PROTO_RESP3};
	reply_null(&r);
	assert_out(&b, "_\r\n");
	reply_null_array(&r);
	assert_out(&b, "_\r\n");
	reply_double(&r, 0.1);
	assert_out(&b, ",0.1\r\n");
	reply_double(&r, 1.0 / 0.0);
	assert_out(&b, ",inf\r\n");
	reply_bool(&r, 0);
	assert_out(&b, "#f\r\n");
	reply_map(&r, 2);
	assert_out(&b, "%2\r\n");
	reply_set(&r, 1);
	assert_out(&b, "~1\r\n");
	reply_verbatim(&r, "a\r\nb", 4);
	assert_out(&b, "=8\r\ntxt:a\r\nb\r\n");
	buf_free(&b);
}

static void test_line_aggregates_are_one_line_of_tokens(void **state)
{
	buf b;
	buf_init(&b);
	reply r = {.out = &b, .proto = PROTO_LINE};
	reply_array(&r, 4);
	reply_bulk(&r, "plain", 5);
	reply_null(&r);
	reply_bulk(&r, "two words", 9);
	reply_int(&r, 7);
	assert_out(&b, "plain (nil) \"two words\" 7\n");
	reply_array(&r, 0);
	assert_out(&b, "(empty)\n");
	/* SCAN's shape: [cursor, [keys...]] flattens. */
	reply_array(&r, 2);
	reply_bulk(&r, "0", 1);
	reply_array(&r, 2);
	reply_bulk(&r, "a", 1);
	reply_bulk(&r, "", 0);
	assert_out(&b, "0 a \"\"\n");
	reply_array(&r, 2);
	reply_bulk(&r, "0", 1);
	reply_array(&r, 0);
	assert_out(&b, "0 (empty)\n");
	reply_map(&r, 1);
	reply_bulk(&r, "(nil)", 5);
	reply_status(&r, "x");
	assert_out(&b, "\"(nil)\" x\n");
	buf_free(&b);
}

static int no_rest(const char *name, size_t len)
{
	return 0;
}

static void test_every_byte_value_round_trips_through_quote_and_split(void **state)
{
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	buf b;
	buf_init(&b);
	assert_int_equal(buf_append_str(&b, "GET "), 0);
	assert_int_equal(reply_line_quote(&b, all, sizeof(all)), 0);
	argvec av = {0};
	const char *err = NULL;
	assert_null(memchr(buf_start(&b), '\n', buf_used(&b)));
	assert_int_equal(proto_line_split(buf_start(&b), buf_used(&b), &av, no_rest, &err), PL_OK);
	assert_int_equal(av.n, 2);
	assert_int_equal(av.v[1].len, 256);
	assert_memory_equal(av.v[1].p, all, 256);
	argvec_free(&av);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_status_error_null_and_integer_replies),
	        cmocka_unit_test(test_plain_values_are_sent_raw),
	        cmocka_unit_test(test_values_with_newline_cr_nul_or_leading_quote_are_quoted),
	        cmocka_unit_test(test_every_byte_value_round_trips_through_quote_and_split),
	        cmocka_unit_test(test_resp2_encodings_match_redis),
	        cmocka_unit_test(test_resp3_encodings_match_redis),
	        cmocka_unit_test(test_line_aggregates_are_one_line_of_tokens),
	        cmocka_unit_test(test_the_first_error_of_a_reply_is_classified_for_metrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
