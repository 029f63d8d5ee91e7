/* test_line_protocol.c - the line protocol of docs/protocol.md against the
 * real server: the original Mini DB transcript, every command's replies,
 * framing (CRLF, blank lines, tabs, a command split across writes, several
 * commands in one write), SET's rest-of-line value, and errors that must
 * leave the connection usable (arity, bad quoting, key and value limits).
 *
 * One server serves the whole file (started in the group setup); tests use
 * their own keys so their order does not matter. The limits test starts its
 * own server with small --max-key-bytes/--max-value-bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static int group_teardown(void **state)
{
	/* A clean exit also proves no earlier test crashed the server, and
	 * under ASan that it leaked nothing. */
	return mdb_stop(*state) == 0 ? 0 : -1;
}

static void the_original_mini_db_transcript_works(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET my_key my_value", "OK");
	mdb_assert_cmd(c, "LOOKUP my_key", "my_value");
	mdb_assert_cmd(c, "LOOKUP nope", "NOT FOUND");
	mdb_assert_cmd(c, "FOO", "ERROR: Unknown command");
	mdb_conn_close(c);
}

static void get_is_an_alias_of_lookup(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET get_key get_value", "OK");
	mdb_assert_cmd(c, "GET get_key", "get_value");
	mdb_assert_cmd(c, "GET get_missing", "NOT FOUND");
	mdb_conn_close(c);
}

static void set_replaces_an_existing_value(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET replace_key first", "OK");
	mdb_assert_cmd(c, "SET replace_key second", "OK");
	mdb_assert_cmd(c, "LOOKUP replace_key", "second");
	mdb_conn_close(c);
}

static void a_value_set_on_one_connection_is_seen_on_another(void **state)
{
	mdb_conn *a = mdb_group_conn(state);
	mdb_conn *b = mdb_group_conn(state);
	mdb_assert_cmd(a, "SET shared_key from_a", "OK");
	mdb_assert_cmd(b, "LOOKUP shared_key", "from_a");
	mdb_conn_close(a);
	mdb_conn_close(b);
}

static void del_removes_a_key_and_says_not_found_the_second_time(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET del_key v", "OK");
	mdb_assert_cmd(c, "DEL del_key", "OK");
	mdb_assert_cmd(c, "LOOKUP del_key", "NOT FOUND");
	mdb_assert_cmd(c, "DEL del_key", "NOT FOUND");
	mdb_assert_cmd(c, "DEL del_never_set", "NOT FOUND");
	mdb_conn_close(c);
}

static void exists_replies_1_or_0(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "EXISTS exists_key", "0");
	mdb_assert_cmd(c, "SET exists_key v", "OK");
	mdb_assert_cmd(c, "EXISTS exists_key", "1");
	mdb_assert_cmd(c, "DEL exists_key", "OK");
	mdb_assert_cmd(c, "EXISTS exists_key", "0");
	mdb_conn_close(c);
}

static void ping_replies_pong(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
}

static void quit_replies_ok_then_the_server_closes(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET quit_key v", "OK");
	mdb_assert_cmd(c, "QUIT", "OK");
	mdb_assert_closed(c);
	mdb_conn_close(c);

	/* The data outlives the connection. */
	c = mdb_group_conn(state);
	mdb_assert_cmd(c, "LOOKUP quit_key", "v");
	mdb_conn_close(c);
}

static void exit_replies_ok_then_the_server_closes(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "EXIT", "OK");
	mdb_assert_closed(c);
	mdb_conn_close(c);
}

static void commands_after_quit_in_the_same_write_are_not_answered(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	assert_int_equal(mdb_send_str(c, "PING\nQUIT\nSET after_quit v\n"), 0);
	mdb_assert_reply(c, "PONG");
	mdb_assert_reply(c, "OK");
	mdb_assert_closed(c);
	mdb_conn_close(c);

	c = mdb_group_conn(state);
	mdb_assert_cmd(c, "LOOKUP after_quit", "NOT FOUND");
	mdb_conn_close(c);
}

static void command_names_are_case_insensitive(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "set case_key v1", "OK");
	mdb_assert_cmd(c, "lookup case_key", "v1");
	mdb_assert_cmd(c, "SeT case_key v2", "OK");
	mdb_assert_cmd(c, "LoOkUp case_key", "v2");
	mdb_assert_cmd(c, "get case_key", "v2");
	mdb_assert_cmd(c, "exists case_key", "1");
	mdb_assert_cmd(c, "Ping", "PONG");
	mdb_assert_cmd(c, "del case_key", "OK");
	mdb_assert_cmd(c, "foo", "ERROR: Unknown command");
	mdb_conn_close(c);
}

static void keys_are_case_sensitive(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET CaseKey upper", "OK");
	mdb_assert_cmd(c, "LOOKUP casekey", "NOT FOUND");
	mdb_assert_cmd(c, "LOOKUP CaseKey", "upper");
	mdb_conn_close(c);
}

static void crlf_line_endings_are_accepted_and_the_cr_is_not_stored(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET crlf_key crlf_value\r", "OK");
	mdb_assert_cmd(c, "LOOKUP crlf_key\r", "crlf_value");
	/* Without CRLF too: the stored value has no trailing CR. */
	mdb_assert_cmd(c, "LOOKUP crlf_key", "crlf_value");
	mdb_assert_cmd(c, "PING\r", "PONG");
	mdb_conn_close(c);
}

static void empty_and_blank_lines_get_no_reply(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	assert_int_equal(mdb_send_str(c, "\n\r\n   \n\t \t\nPING\n\n"), 0);
	mdb_assert_reply(c, "PONG");
	/* Had any blank line been answered, this reply would be out of step. */
	mdb_assert_cmd(c, "EXISTS blank_never_set", "0");
	mdb_conn_close(c);
}

static void tokens_may_be_separated_by_tabs_and_repeated_blanks(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET\ttab_key\ttab_value", "OK");
	mdb_assert_cmd(c, "LOOKUP\ttab_key", "tab_value");
	mdb_assert_cmd(c, "LOOKUP   tab_key", "tab_value");
	mdb_assert_cmd(c, "  \tLOOKUP tab_key  ", "tab_value");
	mdb_conn_close(c);
}

static void set_keeps_inner_and_trailing_spaces_of_the_value(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET spaces_key hello   big world  ", "OK");
	mdb_assert_cmd(c, "LOOKUP spaces_key", "hello   big world  ");
	/* The protocol's own example: `SET k  a b ` stores ` a b `. */
	mdb_assert_cmd(c, "SET spaces_lead  a b ", "OK");
	mdb_assert_cmd(c, "LOOKUP spaces_lead", " a b ");
	/* A value with a quote that is not its first byte is raw text. */
	mdb_assert_cmd(c, "SET inner_quote say \"hi\" now", "OK");
	mdb_assert_cmd(c, "LOOKUP inner_quote", "say \"hi\" now");
	mdb_conn_close(c);
}

static void a_command_split_across_many_writes_is_reassembled(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	const char *cmd = "SET split_key split across writes\n";
	for (const char *p = cmd; *p != '\0'; p++)
		assert_int_equal(mdb_send_all(c->fd, p, 1), 0);
	mdb_assert_reply(c, "OK");
	assert_int_equal(mdb_send_str(c, "LOOKUP spl"), 0);
	mdb_sleep_ms(20);
	assert_int_equal(mdb_send_str(c, "it_key\r"), 0);
	mdb_sleep_ms(20);
	assert_int_equal(mdb_send_str(c, "\n"), 0);
	mdb_assert_reply(c, "split across writes");
	mdb_conn_close(c);
}

static void several_commands_in_one_write_are_answered_in_order(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	assert_int_equal(mdb_send_str(c, "SET multi_a 1\nSET multi_b 2\r\nLOOKUP multi_a\n"
	                                 "FOO\nLOOKUP multi_b\nLOOKUP multi_c\nPING\n"),
	                 0);
	mdb_assert_reply(c, "OK");
	mdb_assert_reply(c, "OK");
	mdb_assert_reply(c, "1");
	mdb_assert_reply(c, "ERROR: Unknown command");
	mdb_assert_reply(c, "2");
	mdb_assert_reply(c, "NOT FOUND");
	mdb_assert_reply(c, "PONG");
	mdb_conn_close(c);
}

static void a_raw_nul_byte_in_a_line_is_data_not_a_terminator(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	static const char cmd[] = "SET raw_nul a\0b\n";
	assert_int_equal(mdb_send_all(c->fd, cmd, sizeof cmd - 1), 0);
	mdb_assert_reply(c, "OK");
	mdb_assert_cmd(c, "LOOKUP raw_nul", "\"a\\x00b\"");
	mdb_conn_close(c);
}

static void wrong_number_of_arguments_is_an_error_and_the_connection_stays_usable(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET onlykey", "ERROR: wrong number of arguments for 'set' command");
	mdb_assert_cmd(c, "SET", "ERROR: wrong number of arguments for 'set' command");
	mdb_assert_cmd_prefix(c, "LOOKUP", "ERROR: wrong number of arguments");
	mdb_assert_cmd_prefix(c, "LOOKUP a b", "ERROR: wrong number of arguments");
	mdb_assert_cmd_prefix(c, "GET", "ERROR: wrong number of arguments");
	mdb_assert_cmd_prefix(c, "DEL", "ERROR: wrong number of arguments");
	mdb_assert_cmd_prefix(c, "EXISTS", "ERROR: wrong number of arguments");
	/* The failed SETs stored nothing. */
	mdb_assert_cmd(c, "EXISTS onlykey", "0");
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
}

static void bad_quoting_is_a_protocol_error_and_the_connection_stays_usable(void **state)
{
	static const char *const bad[] = {
	        "SET quote_key \"unterminated",     /* no closing quote */
	        "SET quote_key \"bad \\q escape\"", /* unknown escape */
	        "SET quote_key \"\\x4\"",           /* one hex digit */
	        "SET quote_key \"\\xZZ\"",          /* not hex */
	        "SET quote_key \"glued\"text",      /* text glued to the closing quote */
	        "LOOKUP \"unterminated",
	        "LOOKUP \"glued\"x",
	        "SET \"key\"x value",
	        "SET quote_key \"trailing backslash\\\"",
	};
	mdb_conn *c = mdb_group_conn(state);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mdb_assert_cmd_prefix(c, bad[i], "ERROR: Protocol error");
		mdb_assert_cmd(c, "PING", "PONG");
	}
	mdb_assert_cmd(c, "EXISTS quote_key", "0");
	mdb_assert_cmd(c, "SET quote_key \"ok\"", "OK");
	mdb_assert_cmd(c, "LOOKUP quote_key", "ok");
	mdb_conn_close(c);
}

static void a_quoted_value_must_be_the_last_token(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd_prefix(c, "SET last_key \"v\" extra", "ERROR: ");
	mdb_assert_cmd(c, "EXISTS last_key", "0");
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
}

static void
keys_and_values_over_the_limits_are_refused_and_the_connection_stays_usable(void **state)
{
	(void)state;
	static const char *const args[] = {"--max-key-bytes", "16", "--max-value-bytes", "32",
	                                   NULL};
	mdb_server *s = mdb_start(args);
	assert_non_null(s);
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);

	/* Exactly at the limits: accepted. */
	mdb_assert_cmd(c, "SET key_sixteen_1234 0123456789abcdef0123456789abcdef", "OK");
	mdb_assert_cmd(c, "LOOKUP key_sixteen_1234", "0123456789abcdef0123456789abcdef");
	/* One byte over. */
	mdb_assert_cmd(c, "SET key_seventeen_123 v", "ERROR: key too large");
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_assert_cmd(c, "SET small_key 0123456789abcdef0123456789abcdef!",
	               "ERROR: value too large");
	mdb_assert_cmd(c, "PING", "PONG");
	/* Quoted: the limit applies to the decoded bytes (8 escapes = 8 bytes). */
	mdb_assert_cmd(c, "SET \"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\" v", "OK");
	mdb_assert_cmd(c,
	               "SET \"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09\\x0a\\x0b\\x0c"
	               "\\x0d\\x0e\\x0f\\x10\\x11\" v",
	               "ERROR: key too large");
	/* Nothing over the limit was stored; the connection still works. */
	mdb_assert_cmd(c, "EXISTS small_key", "0");
	mdb_assert_cmd(c, "SET small_key fits", "OK");
	mdb_assert_cmd(c, "LOOKUP small_key", "fits");

	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(the_original_mini_db_transcript_works),
	        cmocka_unit_test(get_is_an_alias_of_lookup),
	        cmocka_unit_test(set_replaces_an_existing_value),
	        cmocka_unit_test(a_value_set_on_one_connection_is_seen_on_another),
	        cmocka_unit_test(del_removes_a_key_and_says_not_found_the_second_time),
	        cmocka_unit_test(exists_replies_1_or_0),
	        cmocka_unit_test(ping_replies_pong),
	        cmocka_unit_test(quit_replies_ok_then_the_server_closes),
	        cmocka_unit_test(exit_replies_ok_then_the_server_closes),
	        cmocka_unit_test(commands_after_quit_in_the_same_write_are_not_answered),
	        cmocka_unit_test(command_names_are_case_insensitive),
	        cmocka_unit_test(keys_are_case_sensitive),
	        cmocka_unit_test(crlf_line_endings_are_accepted_and_the_cr_is_not_stored),
	        cmocka_unit_test(empty_and_blank_lines_get_no_reply),
	        cmocka_unit_test(tokens_may_be_separated_by_tabs_and_repeated_blanks),
	        cmocka_unit_test(set_keeps_inner_and_trailing_spaces_of_the_value),
	        cmocka_unit_test(a_command_split_across_many_writes_is_reassembled),
	        cmocka_unit_test(several_commands_in_one_write_are_answered_in_order),
	        cmocka_unit_test(a_raw_nul_byte_in_a_line_is_data_not_a_terminator),
	        cmocka_unit_test(
	                wrong_number_of_arguments_is_an_error_and_the_connection_stays_usable),
	        cmocka_unit_test(bad_quoting_is_a_protocol_error_and_the_connection_stays_usable),
	        cmocka_unit_test(a_quoted_value_must_be_the_last_token),
	        cmocka_unit_test(
	                keys_and_values_over_the_limits_are_refused_and_the_connection_stays_usable),
	};
	return cmocka_run_group_tests(tests, mdb_group_start, group_teardown);
}
