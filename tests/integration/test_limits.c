/* test_limits.c - hostile and greedy clients: a line over --max-line-bytes
 * (with and without its newline), half a command followed by a disconnect
 * or a reset, --max-clients and --idle-timeout. Each limit must hit only the
 * client that broke it: a bystander on the same server keeps working before,
 * during and after.
 *
 * The file's shared server runs with --max-line-bytes 1024; the tests of
 * --max-clients and --idle-timeout start their own.
 */
#ifndef _GNU_SOURCE /* CMake defines it for every file; this is for other builds */
#define _GNU_SOURCE /* asprintf */
#endif

#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

enum { LINE_LIMIT = 1024 };

static int group_setup(void **state)
{
	static const char *const args[] = {"--max-line-bytes", "1024", NULL};
	mdb_server *s = mdb_start(args);
	*state = s;
	return s == NULL ? -1 : 0;
}

static mdb_conn *open_conn(const mdb_server *s)
{
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	return c;
}

/* "SET <key> " followed by 'x' up to total bytes (no newline). */
static char *long_set(const char *key, size_t total)
{
	char *buf = malloc(total + 2);
	assert_non_null(buf);
	int n = snprintf(buf, total + 2, "SET %s ", key);
	assert_true(n > 0 && (size_t)n < total);
	memset(buf + n, 'x', total - (size_t)n);
	buf[total] = '\0';
	return buf;
}

static void a_line_just_under_the_limit_is_accepted(void **state)
{
	mdb_server *s = *state;
	mdb_conn *c = open_conn(s);
	char *cmd = long_set("under_limit", LINE_LIMIT - 100);
	mdb_assert_cmd(c, cmd, "OK");
	char *reply = mdb_cmd(c, "LOOKUP under_limit");
	assert_non_null(reply);
	assert_string_equal(reply, strchr(cmd + 4, ' ') + 1);
	free(reply);
	free(cmd);
	mdb_conn_close(c);
}

static void a_line_of_exactly_the_limit_is_accepted_and_one_byte_more_is_not(void **state)
{
	mdb_server *s = *state;
	mdb_conn *c = open_conn(s);
	char *cmd = long_set("exact_limit", LINE_LIMIT);
	mdb_assert_cmd(c, cmd, "OK");
	free(cmd);
	mdb_assert_cmd(c, "EXISTS exact_limit", "1");
	cmd = long_set("over_limit", LINE_LIMIT + 1);
	mdb_assert_cmd(c, cmd, "ERROR: line too long (limit 1024 bytes)");
	free(cmd);
	mdb_assert_closed(c);
	mdb_conn_close(c);
}

static void
an_oversized_line_is_refused_and_closed_while_another_client_notices_nothing(void **state)
{
	mdb_server *s = *state;
	mdb_conn *bystander = open_conn(s);
	mdb_assert_cmd(bystander, "SET bystander_key before", "OK");

	mdb_conn *c = open_conn(s);
	mdb_assert_cmd(c, "PING", "PONG");
	char *cmd = long_set("too_long", 2 * LINE_LIMIT);
	mdb_assert_cmd(c, cmd, "ERROR: line too long (limit 1024 bytes)");
	mdb_assert_closed(c);
	mdb_conn_close(c);
	free(cmd);

	mdb_assert_cmd(bystander, "LOOKUP bystander_key", "before");
	mdb_assert_cmd(bystander, "SET bystander_key after", "OK");
	mdb_assert_cmd(bystander, "EXISTS too_long", "0");
	mdb_conn_close(bystander);
}

static void an_oversized_line_without_a_newline_is_refused_without_waiting_for_one(void **state)
{
	mdb_server *s = *state;
	mdb_conn *bystander = open_conn(s);
	mdb_assert_cmd(bystander, "PING", "PONG");

	/* The server must give up once the limit is passed, not buffer until a
	 * newline that never comes. */
	mdb_conn *c = open_conn(s);
	char *cmd = long_set("no_newline", 4 * LINE_LIMIT);
	assert_int_equal(mdb_send_str(c, cmd), 0);
	free(cmd);
	mdb_assert_reply(c, "ERROR: line too long (limit 1024 bytes)");
	mdb_assert_closed(c);
	mdb_conn_close(c);

	mdb_assert_cmd(bystander, "PING", "PONG");
	mdb_assert_cmd(bystander, "EXISTS no_newline", "0");
	mdb_conn_close(bystander);
}

typedef struct stream_job {
	int fd;
	size_t len;
	int rc;
} stream_job;

/* Sends len bytes of 'x' (no newline) in 64 KiB writes until done or the
 * server stops taking them. */
static void *stream_main(void *arg)
{
	stream_job *job = arg;
	static char chunk[64 * 1024];
	memset(chunk, 'x', sizeof chunk);
	for (size_t sent = 0; sent < job->len && job->rc == 0; sent += sizeof chunk)
		job->rc = mdb_send_all(job->fd, chunk, sizeof chunk);
	return NULL;
}

/* Regression: the server used to close(2) such a connection with the
 * client's bytes still unread, which sends RST, and a reset can destroy the
 * error reply before the client reads it. */
static void
a_client_still_streaming_an_oversized_line_gets_the_error_and_a_clean_close(void **state)
{
	mdb_server *s = *state;
	mdb_conn *c = open_conn(s);
	stream_job job = {.fd = c->fd, .len = 8u * 1024 * 1024, .rc = 0};
	pthread_t writer;
	assert_int_equal(pthread_create(&writer, NULL, stream_main, &job), 0);
	char *line = NULL;
	long n = mdb_read_line(c, &line);
	int closed = n >= 0 ? mdb_wait_closed(c, mdb_timeout_ms(MDB_IO_TIMEOUT_MS)) : -1;
	int reset = c->reset;
	/* Stop the writer whatever happened, then judge. */
	shutdown(c->fd, SHUT_RDWR);
	pthread_join(writer, NULL);
	if (n < 0)
		fail_msg("no reply before the connection ended (%s)", c->reset       ? "reset"
		                                                      : n == MDB_EOF ? "EOF"
		                                                                     : "timeout");
	int ok = strcmp(line, "ERROR: line too long (limit 1024 bytes)") == 0;
	if (!ok)
		print_error("got \"%.100s\"\n", line);
	free(line);
	mdb_conn_close(c);
	assert_true(ok);
	assert_int_equal(closed, 1);
	/* Either thread may be the one told about a reset. */
	reset = reset || job.rc == -ECONNRESET;
	if (reset)
		print_error("the server reset the connection instead of closing it\n");
	assert_false(reset);

	c = open_conn(s);
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
}

static void an_oversized_line_after_good_commands_in_one_write_answers_them_first(void **state)
{
	mdb_server *s = *state;
	mdb_conn *c = open_conn(s);
	char *big = long_set("too_long_2", 3 * LINE_LIMIT);
	char *msg = NULL;
	assert_true(asprintf(&msg, "SET good_before v\nPING\n%s\nPING\n", big) > 0);
	free(big);
	assert_int_equal(mdb_send_str(c, msg), 0);
	free(msg);
	mdb_assert_reply(c, "OK");
	mdb_assert_reply(c, "PONG");
	mdb_assert_reply(c, "ERROR: line too long (limit 1024 bytes)");
	mdb_assert_closed(c);
	mdb_conn_close(c);

	c = open_conn(s);
	mdb_assert_cmd(c, "LOOKUP good_before", "v");
	mdb_conn_close(c);
}

static void half_a_command_then_a_disconnect_does_not_disturb_the_server(void **state)
{
	mdb_server *s = *state;
	mdb_conn *bystander = open_conn(s);
	mdb_assert_cmd(bystander, "PING", "PONG");

	static const char *const halves[] = {"SET half_key half_val", "SET half_key \"unterminated",
	                                     "LOOK", "SET half_key \"\\x4", "SET half_key v\r"};
	for (size_t i = 0; i < sizeof halves / sizeof halves[0]; i++) {
		/* Orderly close (FIN). */
		mdb_conn *c = open_conn(s);
		assert_int_equal(mdb_send_str(c, halves[i]), 0);
		mdb_conn_close(c);
		/* Abortive close (RST): SO_LINGER with a zero timeout. */
		c = open_conn(s);
		assert_int_equal(mdb_send_str(c, halves[i]), 0);
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
		mdb_conn_close(c);
		mdb_assert_cmd(bystander, "PING", "PONG");
	}
	/* The unfinished SETs were never executed. */
	mdb_assert_cmd(bystander, "EXISTS half_key", "0");
	mdb_conn_close(bystander);

	/* A fresh client is served too. */
	mdb_conn *c = open_conn(s);
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
}

static void a_client_that_disconnects_with_replies_pending_does_not_disturb_the_server(void **state)
{
	mdb_server *s = *state;
	mdb_conn *c = open_conn(s);
	/* Many commands whose replies are never read. */
	char *msg = malloc(200000);
	assert_non_null(msg);
	size_t len = 0;
	for (int i = 0; i < 10000; i++)
		len += (size_t)snprintf(msg + len, 200000 - len, "SET gone:%d %d\n", i, i);
	assert_int_equal(mdb_send_all(c->fd, msg, len), 0);
	free(msg);
	mdb_conn_close(c);

	c = open_conn(s);
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
}

/* Appends one random line (no '\n') of up to 200 bytes to buf, biased
 * towards what the tokenizer and the quote parser care about. */
static size_t random_line(char *buf, uint32_t *seed)
{
	static const char *const prefixes[] = {"",     "SET k ",  "SET \"", "LOOKUP \"",
	                                       "DEL ", "EXISTS ", "GET ",   "SET \"k\" \""};
	static const char alphabet[] = "\"\\x0123456789abcdefXQ \t\r";
#define NEXT() (*seed ^= *seed << 13, *seed ^= *seed >> 17, *seed ^= *seed << 5, *seed)
	const char *prefix = prefixes[NEXT() % (sizeof prefixes / sizeof prefixes[0])];
	size_t n = strlen(prefix);
	memcpy(buf, prefix, n);
	size_t len = n + NEXT() % 200;
	for (size_t i = n; i < len; i++) {
		uint32_t r = NEXT();
		if (r % 4 == 0)
			buf[i] = (char)(r >> 8); /* any byte */
		else
			buf[i] = alphabet[(r >> 8) % (sizeof alphabet - 1)];
		if (buf[i] == '\n')
			buf[i] = '\\';
	}
#undef NEXT
	/* '*' first would switch to RESP; QUIT/EXIT would end the session. */
	size_t first = 0;
	while (first < len && (buf[first] == ' ' || buf[first] == '\t'))
		first++;
	if (first < len && buf[first] == '*')
		buf[first] = 'Q';
	if (len - first >= 4 &&
	    (strncasecmp(buf + first, "quit", 4) == 0 || strncasecmp(buf + first, "exit", 4) == 0))
		buf[first] = 'Q';
	return len;
}

static void random_garbage_lines_get_at_most_one_reply_each_and_never_kill_the_server(void **state)
{
	enum { BATCHES = 15, PER_BATCH = 200 };
	mdb_server *s = *state;
	mdb_conn *c = open_conn(s);
	uint32_t seed = 0x9e3779b9u;
	int answered = 0;
	char *msg = malloc(PER_BATCH * 210);
	assert_non_null(msg);
	for (int b = 0; b < BATCHES; b++) {
		/* Each garbage line is followed by a PING: the replies up to the
		 * PONG are the garbage line's (none if it was blank, else one). */
		size_t len = 0;
		for (int i = 0; i < PER_BATCH; i++) {
			len += random_line(msg + len, &seed);
			memcpy(msg + len, "\nPING\n", 6);
			len += 6;
		}
		assert_int_equal(mdb_send_all(c->fd, msg, len), 0);
		for (int i = 0; i < PER_BATCH; i++) {
			int lines = 0;
			for (;;) {
				char *line;
				if (mdb_read_line(c, &line) < 0)
					fail_msg("batch %d line %d: connection closed or timed out",
					         b, i);
				lines++;
				int pong = strcmp(line, "PONG") == 0;
				free(line);
				if (pong)
					break;
				answered++;
				if (lines > 1)
					fail_msg("batch %d line %d: more than one reply", b, i);
			}
		}
	}
	free(msg);
	print_message("%d of %d garbage lines were answered (the rest were blank)\n", answered,
	              BATCHES * PER_BATCH);
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
}

static void the_client_over_max_clients_is_told_and_closed(void **state)
{
	(void)state;
	static const char *const args[] = {"--max-clients", "5", NULL};
	mdb_server *s = mdb_start(args);
	assert_non_null(s);
	mdb_conn *c[5];
	for (int i = 0; i < 5; i++) {
		c[i] = open_conn(s);
		/* A reply proves the server has accepted and counted it. */
		mdb_assert_cmd(c[i], "PING", "PONG");
	}
	mdb_conn *extra = open_conn(s);
	mdb_assert_reply(extra, "ERROR: max number of clients reached");
	mdb_assert_closed(extra);
	mdb_conn_close(extra);

	/* The five are untouched. */
	for (int i = 0; i < 5; i++)
		mdb_assert_cmd(c[i], "PING", "PONG");

	/* A freed slot is given to the next client. The server notices the
	 * close asynchronously, so retry a bounded number of times. */
	mdb_conn_close(c[0]);
	int served = 0;
	for (int attempt = 0; attempt < 50 && !served; attempt++) {
		mdb_conn *again = open_conn(s);
		char *reply = mdb_cmd(again, "PING");
		served = reply != NULL && strcmp(reply, "PONG") == 0;
		free(reply);
		mdb_conn_close(again);
		if (!served)
			mdb_sleep_ms(20);
	}
	assert_true(served);

	for (int i = 1; i < 5; i++)
		mdb_conn_close(c[i]);
	assert_int_equal(mdb_stop(s), 0);
}

static void an_idle_client_is_closed_after_the_idle_timeout_and_an_active_one_is_not(void **state)
{
	(void)state;
	static const char *const args[] = {"--idle-timeout", "1", NULL};
	mdb_server *s = mdb_start(args);
	assert_non_null(s);
	mdb_conn *idle = open_conn(s);
	mdb_conn *active = open_conn(s);
	mdb_assert_cmd(idle, "PING", "PONG");
	long long last_activity = mdb_now_ms();

	/* The active client talks every 200 ms for 3 s while the idle one's
	 * close is awaited. */
	long long closed_after = -1;
	long long deadline = last_activity + 3000 * (long long)mdb_timeout_multiplier();
	while (mdb_now_ms() < deadline) {
		mdb_assert_cmd(active, "PING", "PONG");
		if (closed_after < 0) {
			int r = mdb_wait_closed(idle, 200);
			if (r == 0)
				fail_msg("the idle client received unexpected bytes");
			if (r == 1)
				closed_after = mdb_now_ms() - last_activity;
		} else {
			mdb_sleep_ms(200);
		}
	}
	mdb_assert_cmd(active, "PING", "PONG");
	if (closed_after < 0)
		fail_msg("the idle client was not closed within %lld ms", deadline - last_activity);
	/* Not before its second was up (with slack for timer granularity). */
	if (closed_after < 900)
		fail_msg("the idle client was closed after only %lld ms", closed_after);
	mdb_conn_close(idle);
	mdb_conn_close(active);
	assert_int_equal(mdb_stop(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(a_line_just_under_the_limit_is_accepted),
	        cmocka_unit_test(a_line_of_exactly_the_limit_is_accepted_and_one_byte_more_is_not),
	        cmocka_unit_test(
	                an_oversized_line_is_refused_and_closed_while_another_client_notices_nothing),
	        cmocka_unit_test(
	                an_oversized_line_without_a_newline_is_refused_without_waiting_for_one),
	        cmocka_unit_test(
	                a_client_still_streaming_an_oversized_line_gets_the_error_and_a_clean_close),
	        cmocka_unit_test(
	                an_oversized_line_after_good_commands_in_one_write_answers_them_first),
	        cmocka_unit_test(half_a_command_then_a_disconnect_does_not_disturb_the_server),
	        cmocka_unit_test(
	                a_client_that_disconnects_with_replies_pending_does_not_disturb_the_server),
	        cmocka_unit_test(
	                random_garbage_lines_get_at_most_one_reply_each_and_never_kill_the_server),
	        cmocka_unit_test(the_client_over_max_clients_is_told_and_closed),
	        cmocka_unit_test(
	                an_idle_client_is_closed_after_the_idle_timeout_and_an_active_one_is_not),
	};
	return cmocka_run_group_tests(tests, group_setup, mdb_group_stop);
}
