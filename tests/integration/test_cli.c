/* test_cli.c - minidb-cli against the real server: one-shot commands print
 * the reply and exit 0 (or 1 for an ERROR reply), a piped session prints one
 * reply per line, words holding blanks or control bytes are sent quoted, and
 * an unreachable server is an error rather than a hang.
 *
 * One server serves the whole file; each run of the CLI is bounded by
 * mdb_run's deadline. What the CLI did is checked through a separate
 * harness connection where it matters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* Runs minidb-cli -p <port> words... with input on stdin (NULL: none). */
static void run_cli(int port, const char *const words[], const char *input, mdb_proc *res)
{
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	const char *argv[32];
	int argc = 0;
	argv[argc++] = mdb_binary_path("MINIDB_CLI", "minidb-cli");
	argv[argc++] = "-p";
	argv[argc++] = portstr;
	for (int i = 0; words != NULL && words[i] != NULL && argc < 31; i++)
		argv[argc++] = words[i];
	argv[argc] = NULL;
	assert_int_equal(mdb_run(argv, input, input ? strlen(input) : 0,
	                         mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), res),
	                 0);
	if (res->status < 0)
		print_error("minidb-cli was killed at the deadline; stderr: %s\n", res->err);
}

/* Fails unless the run exited with status and printed exactly out. */
static void check_run(mdb_proc *res, int status, const char *out)
{
	if (res->status != status || strcmp(res->out, out) != 0) {
		print_error("minidb-cli: exit status %d (want %d)\nstdout: \"%s\" (want \"%s\")\n"
		            "stderr: \"%s\"\n",
		            res->status, status, res->out, out, res->err);
		mdb_proc_free(res);
		fail();
	}
	mdb_proc_free(res);
}

static void one_shot_set_prints_ok_and_exits_0(void **state)
{
	mdb_server *s = *state;
	static const char *const words[] = {"SET", "cli_key", "cli_value", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 0, "OK\n");

	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	mdb_assert_cmd(c, "LOOKUP cli_key", "cli_value");
	mdb_conn_close(c);
}

static void one_shot_lookup_prints_the_value_and_exits_0(void **state)
{
	mdb_server *s = *state;
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	mdb_assert_cmd(c, "SET cli_lookup_key found it", "OK");
	mdb_conn_close(c);

	static const char *const words[] = {"LOOKUP", "cli_lookup_key", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 0, "found it\n");
}

static void one_shot_lookup_of_a_missing_key_prints_not_found_and_exits_0(void **state)
{
	mdb_server *s = *state;
	static const char *const words[] = {"LOOKUP", "cli_missing", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 0, "NOT FOUND\n");
}

static void one_shot_unknown_command_prints_the_error_and_exits_1(void **state)
{
	mdb_server *s = *state;
	static const char *const words[] = {"FOO", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 1, "ERROR: Unknown command\n");
}

static void one_shot_words_with_blanks_are_sent_quoted(void **state)
{
	mdb_server *s = *state;
	static const char *const words[] = {"SET", "cli key", "two  words\tand \"quotes\"", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 0, "OK\n");

	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	mdb_assert_cmd(c, "LOOKUP \"cli key\"", "two  words\tand \"quotes\"");
	mdb_conn_close(c);
}

static void a_piped_session_prints_one_reply_per_line(void **state)
{
	mdb_server *s = *state;
	mdb_proc res;
	run_cli(s->port, NULL, "SET a b\nLOOKUP a\nEXIT\n", &res);
	check_run(&res, 0, "OK\nb\nOK\n");
}

static void a_piped_session_ending_without_exit_still_prints_every_reply(void **state)
{
	mdb_server *s = *state;
	mdb_proc res;
	run_cli(s->port, NULL, "SET piped_key 1\nLOOKUP piped_key\nLOOKUP piped_missing\nPING\n",
	        &res);
	check_run(&res, 0, "OK\n1\nNOT FOUND\nPONG\n");
}

static void an_unreachable_server_is_an_error_not_a_hang(void **state)
{
	(void)state;
	/* A port nobody listens on: bound but never listened to, so it stays
	 * reserved (no other test's server can take it) and refuses connects. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t salen = sizeof sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	int port = ntohs(sa.sin_port);

	static const char *const words[] = {"PING", NULL};
	mdb_proc res;
	run_cli(port, words, NULL, &res);
	int status = res.status;
	if (status <= 0)
		print_error("minidb-cli against a closed port: exit status %d, stdout \"%s\", "
		            "stderr \"%s\"\n",
		            status, res.out, res.err);
	int said_why = res.err_len > 0;
	mdb_proc_free(&res);
	close(fd);
	assert_true(status > 0);
	assert_true(said_why);
}

/* Runs minidb-cli hash-token args... with input on stdin (NULL: none). */
static void run_hash_token(const char *const args[], const char *input, mdb_proc *res)
{
	const char *argv[8];
	int argc = 0;
	argv[argc++] = mdb_binary_path("MINIDB_CLI", "minidb-cli");
	argv[argc++] = "hash-token";
	for (int i = 0; args[i] != NULL && argc < 7; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	assert_int_equal(mdb_run(argv, input, input ? strlen(input) : 0,
	                         mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), res),
	                 0);
}

/* The line to paste into the config, from the argument or from stdin (the
 * SHA-256 of "abc" is the FIPS 180-2 test vector); the token never appears
 * on stderr. */
static void hash_token_prints_the_config_line_and_never_the_token_on_stderr(void **state)
{
	static const char want[] =
	        "sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n";
	mdb_proc res;
	(void)state;

	run_hash_token((const char *const[]){"--sha256", "abc", NULL}, NULL, &res);
	check_run(&res, 0, want);
	run_hash_token((const char *const[]){"--sha256", NULL}, "abc\n", &res);
	check_run(&res, 0, want);
	/* The slow form: a salted PBKDF2 line, different at each run. */
	run_hash_token((const char *const[]){NULL}, "s3cret-token", &res);
	assert_int_equal(res.status, 0);
	assert_true(strncmp(res.out, "pbkdf2-sha256$100000$", 21) == 0);
	assert_null(strstr(res.out, "s3cret-token"));
	assert_null(strstr(res.err, "s3cret-token"));
	mdb_proc_free(&res);
	/* A bad argument: usage error, and the token is not echoed. */
	run_hash_token((const char *const[]){"--sha256", "s3cret-token", "extra", NULL}, NULL,
	               &res);
	assert_int_equal(res.status, 2);
	assert_null(strstr(res.err, "s3cret-token"));
	mdb_proc_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(one_shot_set_prints_ok_and_exits_0),
	        cmocka_unit_test(one_shot_lookup_prints_the_value_and_exits_0),
	        cmocka_unit_test(one_shot_lookup_of_a_missing_key_prints_not_found_and_exits_0),
	        cmocka_unit_test(one_shot_unknown_command_prints_the_error_and_exits_1),
	        cmocka_unit_test(one_shot_words_with_blanks_are_sent_quoted),
	        cmocka_unit_test(a_piped_session_prints_one_reply_per_line),
	        cmocka_unit_test(a_piped_session_ending_without_exit_still_prints_every_reply),
	        cmocka_unit_test(an_unreachable_server_is_an_error_not_a_hang),
	        cmocka_unit_test(hash_token_prints_the_config_line_and_never_the_token_on_stderr),
	};
	return cmocka_run_group_tests(tests, mdb_group_start, mdb_group_stop);
}
