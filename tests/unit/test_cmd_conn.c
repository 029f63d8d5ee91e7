/* Unit tests for the connection commands (src/cmd_conn.c): PING, ECHO,
 * QUIT/EXIT, HELLO, AUTH and CLIENT, run through the real command table
 * (tests/unit/cmd_harness.h). Replies are checked as exact bytes, with the
 * RESP3 and line-protocol forms where they differ; the expected texts are
 * what Redis 7 sends. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cmd_harness.h"

#define R2 PROTO_RESP2
#define R3 PROTO_RESP3
#define LN PROTO_LINE

#define EXPECT(s, proto, want, ...) assert_string_equal(cmds_run(s, proto, __VA_ARGS__, NULL), want)

/* HELLO's map after the RESP header, for client id 1. */
#define HELLO_BODY(proto)                                                                          \
	"$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n"                          \
	"$5\r\nproto\r\n:" #proto "\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"      \
	"$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"

#define ERR_BAD_NAME "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"

static int setup(void **state)
{
	cmd_session *s = cmds_new(NULL);
	*state = s;
	return s && s->st ? 0 : -1;
}

static int teardown(void **state)
{
	cmds_free(*state);
	return 0;
}

/* ---- PING, ECHO, QUIT ---- */

static void test_ping_replies_pong_or_its_argument_in_every_protocol(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+PONG\r\n", "PING");
	EXPECT(s, R3, "+PONG\r\n", "PING");
	EXPECT(s, LN, "PONG\n", "PING");
	EXPECT(s, R2, "$5\r\nhello\r\n", "PING", "hello");
	EXPECT(s, R3, "$5\r\nhello\r\n", "ping", "hello");
	EXPECT(s, LN, "hello\n", "PING", "hello");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'ping' command\r\n", "PING", "a", "b");
}

static void test_echo_returns_its_argument_byte_for_byte(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "$11\r\nhello world\r\n", "ECHO", "hello world");
	EXPECT(s, R2, "$0\r\n\r\n", "ECHO", "");
	EXPECT(s, LN, "hello world\n", "ECHO", "hello world");
	const char *argv[] = {"ECHO", "a\0b\r\n"};
	const size_t lens[] = {4, 5};
	cmds_runv(s, R2, 2, argv, lens);
	assert_int_equal(cmds_len(s), 11);
	assert_memory_equal(buf_start(&s->out), "$5\r\na\0b\r\n\r\n", 11);
	EXPECT(s, R2, "-ERR wrong number of arguments for 'echo' command\r\n", "ECHO");
	/* "ECHO hello world" typed on a line is one argument. */
	assert_int_equal(command_line_rest("echo", 4), 1);
}

static void test_quit_and_exit_reply_ok_and_ask_to_close(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "QUIT");
	assert_true(s->out_flags & CMD_OUT_CLOSE);
	EXPECT(s, LN, "OK\n", "EXIT");
	assert_true(s->out_flags & CMD_OUT_CLOSE);
	EXPECT(s, R2, "+PONG\r\n", "PING");
	assert_false(s->out_flags & CMD_OUT_CLOSE);
}

/* ---- HELLO ---- */

static void test_hello_3_switches_to_resp3_and_the_reply_is_a_map(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "%7\r\n" HELLO_BODY(3), "HELLO", "3");
	assert_int_equal(s->client.resp, 3);
}

static void test_hello_2_switches_back_to_resp2_and_the_reply_is_a_flat_array(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "%7\r\n" HELLO_BODY(3), "HELLO", "3");
	EXPECT(s, R3, "*14\r\n" HELLO_BODY(2), "HELLO", "2");
	assert_int_equal(s->client.resp, 2);
}

static void test_hello_without_a_version_keeps_the_current_one(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "*14\r\n" HELLO_BODY(2), "HELLO");
	assert_int_equal(s->client.resp, 2);
	EXPECT(s, R3, "%7\r\n" HELLO_BODY(3), "hello");
	assert_int_equal(s->client.resp, 3);
}

static void test_hello_reports_the_client_id(void **state)
{
	cmd_session *s = *state;
	s->client.id = 1234;
	const char *out = cmds_run(s, R3, "HELLO", "3", NULL);
	assert_non_null(strstr(out, "$2\r\nid\r\n:1234\r\n"));
}

static void test_hello_with_an_unsupported_version_is_noproto_and_changes_nothing(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "-NOPROTO unsupported protocol version\r\n", "HELLO", "4");
	EXPECT(s, R2, "-NOPROTO unsupported protocol version\r\n", "HELLO", "1");
	EXPECT(s, R2, "-NOPROTO unsupported protocol version\r\n", "HELLO", "-3");
	EXPECT(s, R2, "-ERR Protocol version is not an integer or out of range\r\n", "HELLO",
	       "three");
	EXPECT(s, R2, "-ERR Protocol version is not an integer or out of range\r\n", "HELLO", "03");
	EXPECT(s, LN, "ERROR: NOPROTO unsupported protocol version\n", "HELLO", "4");
	assert_int_equal(s->client.resp, 2);
}

static void test_hello_auth_accepts_the_default_user_as_redis_does_without_a_password(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "%7\r\n" HELLO_BODY(3), "HELLO", "3", "AUTH", "default", "anything");
	EXPECT(s, R2, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", "HELLO",
	       "3", "AUTH", "bob", "secret");
	assert_int_equal(s->client.resp, 2);
	/* User names are case-sensitive. */
	EXPECT(s, R2, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", "HELLO",
	       "3", "AUTH", "DEFAULT", "x");
	EXPECT(s, R2, "-ERR Syntax error in HELLO option 'AUTH'\r\n", "HELLO", "3", "AUTH",
	       "default");
	EXPECT(s, R2, "-ERR Syntax error in HELLO option 'bogus'\r\n", "HELLO", "3", "bogus");
}

static void test_hello_setname_names_the_connection_and_refuses_bad_names(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "%7\r\n" HELLO_BODY(3), "HELLO", "3", "SETNAME", "worker-1");
	assert_string_equal(s->client.name, "worker-1");
	EXPECT(s, R2, ERR_BAD_NAME, "HELLO", "3", "SETNAME", "two words");
	assert_string_equal(s->client.name, "worker-1");
	assert_int_equal(s->client.resp, 2);
	/* A refused AUTH leaves the name alone too. */
	EXPECT(s, R2, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", "HELLO",
	       "3", "SETNAME", "other", "AUTH", "bob", "x");
	assert_string_equal(s->client.name, "worker-1");
	EXPECT(s, R2, "-ERR Syntax error in HELLO option 'SETNAME'\r\n", "HELLO", "3", "SETNAME");
}

static void test_hello_in_the_line_protocol_answers_on_one_line(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, LN,
	       "server redis version 7.0.0 proto 3 id 1 mode standalone role master modules "
	       "(empty)\n",
	       "HELLO", "3");
	assert_int_equal(s->client.resp, 3);
}

/* ---- AUTH ---- */

static void test_auth_without_a_configured_password_answers_as_redis(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2,
	       "-ERR AUTH <password> called without any password configured for the default "
	       "user. Are you sure your configuration is correct?\r\n",
	       "AUTH", "secret");
	EXPECT(s, R2, "+OK\r\n", "AUTH", "default", "anything");
	EXPECT(s, R2, "-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH",
	       "bob", "secret");
	EXPECT(s, R2, "-ERR syntax error\r\n", "AUTH", "a", "b", "c");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'auth' command\r\n", "AUTH");
}

static void test_auth_hello_quit_and_exit_are_allowed_before_authentication(void **state)
{
	(void)state;
	static const char *const noauth[] = {"auth", "hello", "quit", "exit"};
	for (size_t i = 0; i < sizeof(noauth) / sizeof(noauth[0]); i++) {
		const command *c = command_lookup(noauth[i], strlen(noauth[i]));
		assert_non_null(c);
		assert_true(c->flags & CMD_NOAUTH);
	}
	static const char *const others[] = {"ping", "echo", "client"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		const command *c = command_lookup(others[i], strlen(others[i]));
		assert_non_null(c);
		assert_false(c->flags & CMD_NOAUTH);
		assert_false(c->flags & (CMD_READ | CMD_WRITE | CMD_ADMIN | CMD_DENYOOM));
	}
}

/* ---- CLIENT ---- */

static void test_client_setname_and_getname_round_trip(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "$-1\r\n", "CLIENT", "GETNAME");
	EXPECT(s, R3, "_\r\n", "CLIENT", "GETNAME");
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETNAME", "my-conn_1");
	EXPECT(s, R2, "$9\r\nmy-conn_1\r\n", "client", "getname");
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETNAME", "renamed");
	EXPECT(s, R2, "$7\r\nrenamed\r\n", "CLIENT", "GETNAME");
	/* An empty name removes it. */
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETNAME", "");
	assert_null(s->client.name);
	EXPECT(s, R2, "$-1\r\n", "CLIENT", "GETNAME");
}

static void test_client_setname_with_a_space_or_newline_is_rejected(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETNAME", "keep");
	static const char *const bad[] = {"a b", "a\nb", "a\r", "\t", "caf\xc3\xa9", "\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT(s, R2, ERR_BAD_NAME, "CLIENT", "SETNAME", bad[i]);
	const char *argv[] = {"CLIENT", "SETNAME", "a\0b"};
	const size_t lens[] = {6, 7, 3};
	assert_string_equal(cmds_runv(s, R2, 3, argv, lens), ERR_BAD_NAME);
	assert_string_equal(s->client.name, "keep");
	/* Every printable character other than the space is allowed. */
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETNAME", "!~:=\"'@#");
}

struct locked_job {
	cmd_session *s;
	const char *argv[4];
	size_t argc;
	const char *reply;
};

/* Runs the job's command over the line protocol, which leaves the harness's
 * client.resp alone, so the only writer of the session is the command. */
static void *locked_job_thread(void *arg)
{
	struct locked_job *job = arg;
	size_t lens[4];
	for (size_t i = 0; i < job->argc; i++)
		lens[i] = strlen(job->argv[i]);
	job->reply = cmds_runv(job->s, LN, job->argc, job->argv, lens);
	return NULL;
}

/* Starts the command on another thread while this one holds the worker
 * lock, as another worker's CLIENT LIST would, and checks with check() that
 * nothing changed until the lock is released. */
static void run_while_locked(cmd_session *s, struct locked_job *job,
                             void (*check)(const cmd_session *s, int after))
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_t t;

	job->s = s;
	s->client.worker_lock = &lock;
	pthread_mutex_lock(&lock);
	assert_int_equal(pthread_create(&t, NULL, locked_job_thread, job), 0);
	struct timespec ts = {0, 30 * 1000000L};
	nanosleep(&ts, NULL);
	check(s, 0);
	pthread_mutex_unlock(&lock);
	assert_int_equal(pthread_join(t, NULL), 0);
	check(s, 1);
	/* Nothing was left held. */
	assert_int_equal(pthread_mutex_trylock(&lock), 0);
	pthread_mutex_unlock(&lock);
	s->client.worker_lock = NULL;
}

static void check_setname(const cmd_session *s, int after)
{
	if (after)
		assert_string_equal(s->client.name, "late");
	else
		assert_null(s->client.name);
}

static void check_hello(const cmd_session *s, int after)
{
	assert_int_equal(s->client.resp, after ? 3 : 2);
	if (after)
		assert_string_equal(s->client.name, "hello-name");
	else
		assert_string_equal(s->client.name, "late");
}

static void check_setinfo(const cmd_session *s, int after)
{
	if (after)
		assert_string_equal(s->client.lib_ver, "1.2.3");
	else
		assert_null(s->client.lib_ver);
}

static void test_session_changes_wait_for_the_worker_lock_that_client_list_holds(void **state)
{
	cmd_session *s = *state;
	struct locked_job setname = {.argv = {"CLIENT", "SETNAME", "late"}, .argc = 3};
	run_while_locked(s, &setname, check_setname);
	assert_string_equal(setname.reply, "OK\n");
	struct locked_job hello = {.argv = {"HELLO", "3", "SETNAME", "hello-name"}, .argc = 4};
	run_while_locked(s, &hello, check_hello);
	struct locked_job setinfo = {.argv = {"CLIENT", "SETINFO", "LIB-VER", "1.2.3"}, .argc = 4};
	run_while_locked(s, &setinfo, check_setinfo);
	assert_string_equal(setinfo.reply, "OK\n");
}

static void test_client_id_is_the_connection_id(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, ":1\r\n", "CLIENT", "ID");
	s->client.id = 987654321;
	EXPECT(s, R3, ":987654321\r\n", "CLIENT", "ID");
	EXPECT(s, LN, "987654321\n", "CLIENT", "ID");
}

/* Checks that out is one CLIENT LIST line as a RESP2 bulk string (or a
 * RESP3 verbatim one) holding every needle. */
static void assert_client_line(const char *out, int resp3, const char *const needles[])
{
	const char *body = strstr(out, "\r\n");
	assert_non_null(body);
	body += 2;
	long n = strtol(out + 1, NULL, 10);
	if (resp3) {
		assert_int_equal(out[0], '=');
		assert_memory_equal(body, "txt:", 4);
		body += 4;
		n -= 4;
	} else {
		assert_int_equal(out[0], '$');
	}
	assert_int_equal((long)strlen(body), n + 2);
	assert_memory_equal(body, "id=", 3);
	assert_memory_equal(body + n - 1, "\n\r\n", 3);
	assert_ptr_equal(strchr(body, '\n'), body + n - 1); /* one line */
	for (size_t i = 0; needles[i]; i++)
		assert_non_null(strstr(body, needles[i]));
}

static void test_client_info_describes_the_connection_verbatim_in_resp3(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETNAME", "probe");
	static const char *const want2[] = {"id=1 ",
	                                    "addr=127.0.0.1:50000 ",
	                                    "laddr=127.0.0.1:6379 ",
	                                    " name=probe ",
	                                    " resp=2 ",
	                                    NULL};
	assert_client_line(cmds_run(s, R2, "CLIENT", "INFO", NULL), 0, want2);
	static const char *const want3[] = {"id=1 ", " name=probe ", " resp=3 ", NULL};
	assert_client_line(cmds_run(s, R3, "CLIENT", "INFO", NULL), 1, want3);
}

static void test_client_list_without_a_server_lists_only_the_caller(void **state)
{
	cmd_session *s = *state;
	static const char *const want[] = {"id=1 ", NULL};
	assert_client_line(cmds_run(s, R2, "CLIENT", "LIST", NULL), 0, want);
	assert_client_line(cmds_run(s, R3, "CLIENT", "LIST", NULL), 1, want);
	assert_client_line(cmds_run(s, R2, "CLIENT", "LIST", "TYPE", "normal", NULL), 0, want);
	assert_client_line(cmds_run(s, R2, "CLIENT", "LIST", "ID", "7", "1", NULL), 0, want);
	EXPECT(s, R2, "$0\r\n\r\n", "CLIENT", "LIST", "ID", "2");
	EXPECT(s, R2, "$0\r\n\r\n", "CLIENT", "LIST", "ID", "0", "-1");
	EXPECT(s, R3, "=4\r\ntxt:\r\n", "CLIENT", "LIST", "TYPE", "pubsub");
	EXPECT(s, R2, "$0\r\n\r\n", "CLIENT", "LIST", "TYPE", "replica");
	EXPECT(s, R2, "$0\r\n\r\n", "CLIENT", "LIST", "TYPE", "MASTER");
	EXPECT(s, R2, "-ERR Unknown client type 'robot'\r\n", "CLIENT", "LIST", "TYPE", "robot");
	EXPECT(s, R2, "-ERR Invalid client ID\r\n", "CLIENT", "LIST", "ID", "1", "x");
	EXPECT(s, R2, "-ERR syntax error\r\n", "CLIENT", "LIST", "TYPE");
	EXPECT(s, R2, "-ERR syntax error\r\n", "CLIENT", "LIST", "bogus", "a", "b");
}

static void test_client_setinfo_records_the_library_name_and_version(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETINFO", "LIB-NAME", "redis-py");
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETINFO", "lib-ver", "5.0.1");
	assert_string_equal(s->client.lib_name, "redis-py");
	assert_string_equal(s->client.lib_ver, "5.0.1");
	static const char *const want[] = {"lib-name=redis-py", "lib-ver=5.0.1", NULL};
	assert_client_line(cmds_run(s, R2, "CLIENT", "INFO", NULL), 0, want);
	EXPECT(s, R2, "-ERR Unrecognized option 'LIB-COLOR'\r\n", "CLIENT", "SETINFO", "LIB-COLOR",
	       "x");
	EXPECT(s, R2, "-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n",
	       "CLIENT", "SETINFO", "LIB-NAME", "redis py");
	assert_string_equal(s->client.lib_name, "redis-py");
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "SETINFO", "LIB-NAME", "");
	assert_null(s->client.lib_name);
	EXPECT(s, R2, "-ERR wrong number of arguments for 'client|setinfo' command\r\n", "CLIENT",
	       "SETINFO", "LIB-NAME");
}

static void test_client_no_evict_no_touch_and_reply_on_are_accepted(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "NO-EVICT", "ON");
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "no-evict", "off");
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "NO-TOUCH", "on");
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "NO-TOUCH", "OFF");
	EXPECT(s, R2, "-ERR syntax error\r\n", "CLIENT", "NO-EVICT", "maybe");
	EXPECT(s, R2, "+OK\r\n", "CLIENT", "REPLY", "ON");
	EXPECT(s, R2, "-ERR syntax error\r\n", "CLIENT", "REPLY", "LOUD");
	EXPECT(s, R2, "-ERR CLIENT REPLY OFF and SKIP are not supported\r\n", "CLIENT", "REPLY",
	       "OFF");
	EXPECT(s, R2, "-ERR CLIENT REPLY OFF and SKIP are not supported\r\n", "CLIENT", "REPLY",
	       "skip");
}

static void test_client_unknown_subcommands_and_wrong_arities_use_the_redis_texts(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "-ERR unknown subcommand 'xyz'. Try CLIENT HELP.\r\n", "CLIENT", "xyz");
	EXPECT(s, R2, "-ERR unknown subcommand 'a  b'. Try CLIENT HELP.\r\n", "client", "a\r\nb");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'client' command\r\n", "CLIENT");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'client|setname' command\r\n", "CLIENT",
	       "SETNAME");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'client|id' command\r\n", "CLIENT", "ID",
	       "x");
	EXPECT(s, LN, "ERROR: unknown subcommand 'xyz'. Try CLIENT HELP.\n", "CLIENT", "xyz");
	/* The name is quoted up to 128 bytes. */
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	const char *out = cmds_run(s, R2, "CLIENT", longname, NULL);
	assert_int_equal(strlen(out),
	                 strlen("-ERR unknown subcommand ''. Try CLIENT HELP.\r\n") + 128);
}

static void test_client_help_lists_the_subcommands_as_status_lines(void **state)
{
	cmd_session *s = *state;
	const char *out = cmds_run(s, R2, "CLIENT", "HELP", NULL);
	assert_int_equal(out[0], '*');
	assert_non_null(strstr(
	        out, "\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"));
	assert_non_null(strstr(out, "+SETNAME <name>\r\n"));
	assert_non_null(strstr(out, "+HELP\r\n+    Print this help.\r\n"));
	/* The count matches the lines that follow. */
	long n = strtol(out + 1, NULL, 10);
	long lines = 0;
	for (const char *p = strstr(out, "\r\n") + 2; *p; p = strstr(p, "\r\n") + 2) {
		assert_int_equal(*p, '+');
		lines++;
	}
	assert_int_equal(lines, n);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_ping_replies_pong_or_its_argument_in_every_protocol),
	        T(test_echo_returns_its_argument_byte_for_byte),
	        T(test_quit_and_exit_reply_ok_and_ask_to_close),
	        T(test_hello_3_switches_to_resp3_and_the_reply_is_a_map),
	        T(test_hello_2_switches_back_to_resp2_and_the_reply_is_a_flat_array),
	        T(test_hello_without_a_version_keeps_the_current_one),
	        T(test_hello_reports_the_client_id),
	        T(test_hello_with_an_unsupported_version_is_noproto_and_changes_nothing),
	        T(test_hello_auth_accepts_the_default_user_as_redis_does_without_a_password),
	        T(test_hello_setname_names_the_connection_and_refuses_bad_names),
	        T(test_hello_in_the_line_protocol_answers_on_one_line),
	        T(test_auth_without_a_configured_password_answers_as_redis),
	        T(test_auth_hello_quit_and_exit_are_allowed_before_authentication),
	        T(test_client_setname_and_getname_round_trip),
	        T(test_client_setname_with_a_space_or_newline_is_rejected),
	        T(test_session_changes_wait_for_the_worker_lock_that_client_list_holds),
	        T(test_client_id_is_the_connection_id),
	        T(test_client_info_describes_the_connection_verbatim_in_resp3),
	        T(test_client_list_without_a_server_lists_only_the_caller),
	        T(test_client_setinfo_records_the_library_name_and_version),
	        T(test_client_no_evict_no_touch_and_reply_on_are_accepted),
	        T(test_client_unknown_subcommands_and_wrong_arities_use_the_redis_texts),
	        T(test_client_help_lists_the_subcommands_as_status_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
