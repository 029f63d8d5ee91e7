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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
