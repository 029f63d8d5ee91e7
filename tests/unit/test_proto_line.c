/* Unit tests for the line-protocol splitter (src/proto_line.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "proto_line.h"

typedef struct split_result {
	int rc;
	const char *err;
	char line[512];
	argvec av;
} split_result;

static int rest_for_set(const char *name, size_t len)
{
	return command_line_rest(name, len);
}

static void split(split_result *r, const char *text)
{
	memset(r, 0, sizeof(*r));
	size_t n = strlen(text);
	assert_true(n < sizeof(r->line));
	memcpy(r->line, text, n);
	r->rc = proto_line_split(r->line, n, &r->av, rest_for_set, &r->err);
}

static void assert_arg(const split_result *r, size_t i, const void *want, size_t wlen)
{
	assert_true(i < r->av.n);
	assert_int_equal(r->av.v[i].len, wlen);
	assert_memory_equal(r->av.v[i].p, want, wlen);
}

#define ARG(r, i, s) assert_arg((r), (i), (s), sizeof(s) - 1)

static void test_plain_tokens_are_split_on_spaces_and_tabs(void **state)
{
	split_result r;
	split(&r, "LOOKUP \t my_key  ");
	assert_int_equal(r.rc, PL_OK);
	assert_int_equal(r.av.n, 2);
	ARG(&r, 0, "LOOKUP");
	ARG(&r, 1, "my_key");
	argvec_free(&r.av);
}

static void test_set_value_is_the_rest_of_the_line_with_spaces_kept(void **state)
{
	split_result r;
	split(&r, "SET k  hello   world ");
	assert_int_equal(r.rc, PL_OK);
	assert_int_equal(r.av.n, 3);
	ARG(&r, 1, "k");
	ARG(&r, 2, " hello   world ");
	argvec_free(&r.av);
}

static void test_set_value_rule_is_case_insensitive(void **state)
{
	split_result r;
	split(&r, "set k a b");
	assert_int_equal(r.av.n, 3);
	ARG(&r, 2, "a b");
	argvec_free(&r.av);
}

static void test_set_with_trailing_separator_stores_an_empty_value(void **state)
{
	split_result r;
	split(&r, "SET k ");
	assert_int_equal(r.rc, PL_OK);
	assert_int_equal(r.av.n, 3);
	ARG(&r, 2, "");
	argvec_free(&r.av);
}

static void test_set_without_value_has_two_arguments(void **state)
{
	split_result r;
	split(&r, "SET k");
	assert_int_equal(r.rc, PL_OK);
	assert_int_equal(r.av.n, 2);
	argvec_free(&r.av);
}

static void test_trailing_cr_is_dropped(void **state)
{
	split_result r;
	split(&r, "SET k v\r");
	assert_int_equal(r.av.n, 3);
	ARG(&r, 2, "v");
	argvec_free(&r.av);
}

static void test_empty_and_blank_lines_are_empty(void **state)
{
	split_result r;
	split(&r, "");
	assert_int_equal(r.rc, PL_EMPTY);
	split(&r, " \t \r");
	assert_int_equal(r.rc, PL_EMPTY);
	argvec_free(&r.av);
}

static void test_quoted_tokens_decode_every_escape(void **state)
{
	split_result r;
	split(&r, "SET \"a key\" \"q\\\"b\\\\s\\n\\r\\t\\x00\\xfF\"");
	assert_int_equal(r.rc, PL_OK);
	assert_int_equal(r.av.n, 3);
	ARG(&r, 1, "a key");
	assert_arg(&r, 2, "q\"b\\s\n\r\t\0\xff", 10);
	argvec_free(&r.av);
}

static void test_quoted_value_may_be_followed_by_more_tokens(void **state)
{
	split_result r;
	split(&r, "SET k \"v\" EX 10");
	assert_int_equal(r.rc, PL_OK);
	assert_int_equal(r.av.n, 5);
	ARG(&r, 2, "v");
	ARG(&r, 4, "10");
	argvec_free(&r.av);
}

static void test_empty_quoted_string_is_an_empty_argument(void **state)
{
	split_result r;
	split(&r, "GET \"\"");
	assert_int_equal(r.rc, PL_OK);
	assert_int_equal(r.av.n, 2);
	ARG(&r, 1, "");
	argvec_free(&r.av);
}

static void test_bad_quoting_is_a_protocol_error(void **state)
{
	static const char *bad[] = {
	        "GET \"abc",      /* unbalanced */
	        "GET \"abc\\",    /* escape at end */
	        "GET \"a\\qb\"",  /* unknown escape */
	        "GET \"a\\x4\"",  /* short hex */
	        "GET \"a\\xzz\"", /* not hex */
	        "GET \"a\"b",     /* glued */
	        "SET k \"unterminated",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		split_result r;
		split(&r, bad[i]);
		assert_int_equal(r.rc, PL_ERROR);
		assert_non_null(r.err);
		assert_non_null(strstr(r.err, "Protocol error"));
		argvec_free(&r.av);
	}
}

static void test_quote_inside_a_bare_token_is_literal(void **state)
{
	split_result r;
	split(&r, "GET ab\"c");
	assert_int_equal(r.rc, PL_OK);
	ARG(&r, 1, "ab\"c");
	argvec_free(&r.av);
}

static void test_many_arguments_grow_the_vector(void **state)
{
	char line[400];
	size_t n = 0;
	n += (size_t)snprintf(line, sizeof(line), "PING");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " x");
	argvec av = {0};
	const char *err;
	assert_int_equal(proto_line_split(line, n, &av, rest_for_set, &err), PL_OK);
	assert_int_equal(av.n, 101);
	argvec_free(&av);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_tokens_are_split_on_spaces_and_tabs),
	        cmocka_unit_test(test_set_value_is_the_rest_of_the_line_with_spaces_kept),
	        cmocka_unit_test(test_set_value_rule_is_case_insensitive),
	        cmocka_unit_test(test_set_with_trailing_separator_stores_an_empty_value),
	        cmocka_unit_test(test_set_without_value_has_two_arguments),
	        cmocka_unit_test(test_trailing_cr_is_dropped),
	        cmocka_unit_test(test_empty_and_blank_lines_are_empty),
	        cmocka_unit_test(test_quoted_tokens_decode_every_escape),
	        cmocka_unit_test(test_quoted_value_may_be_followed_by_more_tokens),
	        cmocka_unit_test(test_empty_quoted_string_is_an_empty_argument),
	        cmocka_unit_test(test_bad_quoting_is_a_protocol_error),
	        cmocka_unit_test(test_quote_inside_a_bare_token_is_literal),
	        cmocka_unit_test(test_many_arguments_grow_the_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
