/* Unit tests for the command table and the line-protocol handlers, run
 * against a real store (src/command.c, src/cmd_*.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "proto_line.h"
#include "store.h"

#include "cmd_harness.h"

static void test_table_is_sorted_without_duplicates_and_names_are_lowercase(void **state)
{
	size_t n;
	const command *t = command_table_get(&n);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		for (const char *p = t[i].name; *p; p++)
			assert_false(*p >= 'A' && *p <= 'Z');
		assert_non_null(t[i].fn);
		assert_int_not_equal(t[i].arity, 0);
		if (i > 0)
			assert_true(strcmp(t[i - 1].name, t[i].name) < 0);
	}
}

static void test_lookup_is_case_insensitive_and_exact(void **state)
{
	assert_non_null(command_lookup("LOOKUP", 6));
	assert_non_null(command_lookup("lookup", 6));
	assert_non_null(command_lookup("LoOkUp", 6));
	assert_ptr_equal(command_lookup("GET", 3)->fn, command_lookup("lookup", 6)->fn);
	assert_null(command_lookup("LOOK", 4));
	assert_null(command_lookup("LOOKUPX", 7));
	assert_null(command_lookup("", 0));
	assert_null(command_lookup("s\0t", 3));
	assert_int_equal(command_line_rest("SET", 3), 2);
	assert_int_equal(command_line_rest("GET", 3), 0);
}

/* Runs one line as a connection would and returns the reply text. */
static const char *run(cmd_session *s, const char *text)
{
	static char line[256];
	static argvec av;
	size_t n = strlen(text);
	const char *err = NULL;
	memcpy(line, text, n);
	int rc = proto_line_split(line, n, &av, command_line_rest, &err);
	if (rc == PL_ERROR)
		return err;
	const char *argv[64];
	size_t lens[64];
	for (size_t i = 0; i < av.n && i < 64; i++) {
		argv[i] = av.v[i].p;
		lens[i] = av.v[i].len;
	}
	return cmds_runv(s, PROTO_LINE, av.n, argv, lens);
}

static int setup(void **state)
{
	store_config cfg = {.max_key_bytes = 16, .max_value_bytes = 32};
	cmd_session *s = cmds_new(&cfg);
	*state = s;
	return s && s->st ? 0 : -1;
}

static int teardown(void **state)
{
	cmds_free(*state);
	return 0;
}

static void test_the_original_transcript(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(run(s, "SET my_key my_value"), "OK\n");
	assert_string_equal(run(s, "LOOKUP my_key"), "my_value\n");
	assert_string_equal(run(s, "LOOKUP nope"), "NOT FOUND\n");
	assert_string_equal(run(s, "FOO"), "ERROR: Unknown command\n");
}

static void test_get_del_exists_ping(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(run(s, "set k hello world"), "OK\n");
	assert_string_equal(run(s, "GET k"), "hello world\n");
	assert_string_equal(run(s, "EXISTS k"), "1\n");
	assert_string_equal(run(s, "DEL k"), "OK\n");
	assert_string_equal(run(s, "DEL k"), "NOT FOUND\n");
	assert_string_equal(run(s, "EXISTS k"), "0\n");
	assert_string_equal(run(s, "PING"), "PONG\n");
	assert_string_equal(run(s, "PING hi"), "hi\n");
}

static void test_quit_and_exit_reply_ok_and_ask_to_close(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(run(s, "QUIT"), "OK\n");
	assert_true(s->out_flags & CMD_OUT_CLOSE);
	assert_string_equal(run(s, "exit"), "OK\n");
	assert_true(s->out_flags & CMD_OUT_CLOSE);
}

static void test_wrong_arity_names_the_command(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(run(s, "SET k"),
	                    "ERROR: wrong number of arguments for 'set' command\n");
	assert_string_equal(run(s, "LOOKUP"),
	                    "ERROR: wrong number of arguments for 'lookup' command\n");
	assert_string_equal(run(s, "GET a b"),
	                    "ERROR: wrong number of arguments for 'get' command\n");
	assert_string_equal(run(s, "PING a b"),
	                    "ERROR: wrong number of arguments for 'ping' command\n");
}

static void test_limits_give_clear_errors_and_store_nothing(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(run(s, "SET 0123456789abcdefX v"), "ERROR: key too large\n");
	assert_string_equal(run(s, "SET k 0123456789abcdef0123456789abcdefX"),
	                    "ERROR: value too large\n");
	assert_string_equal(run(s, "EXISTS k"), "0\n");
	assert_int_equal(store_count(s->st), 0);
}

static void test_binary_value_is_quoted_in_the_reply(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(run(s, "SET \"a b\" \"x\\ny\\x00\""), "OK\n");
	assert_string_equal(run(s, "GET \"a b\""), "\"x\\ny\\x00\"\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table_is_sorted_without_duplicates_and_names_are_lowercase),
	        cmocka_unit_test(test_lookup_is_case_insensitive_and_exact),
	        cmocka_unit_test_setup_teardown(test_the_original_transcript, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_get_del_exists_ping, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_quit_and_exit_reply_ok_and_ask_to_close, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_arity_names_the_command, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_limits_give_clear_errors_and_store_nothing,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_binary_value_is_quoted_in_the_reply, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
