/* test_shutdown.c - how the server stops: SIGTERM in the middle of heavy
 * pipelined load (exit 0 in bounded time, every reply received whole and
 * valid), SIGINT, idle clients not holding shutdown up, and start-up
 * refusing bad configuration with exit status 2 and a message that names
 * the offending flag or key.
 *
 * Each load client has a writer thread that pipelines batches of SETs and a
 * reader thread that checks every reply. When the reader sees the server's
 * EOF it half-closes the socket, as a well-behaved client does, so the
 * server can finish its graceful close. Threads record failures; the test
 * thread asserts after joining them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "harness.h"

enum {
	N_LOAD_CLIENTS = 4,
	BATCH = 500,           /* SETs per write */
	MAX_BATCHES = 4000,    /* bounds each writer: 2 million commands */
	WARMUP_REPLIES = 2000, /* replies each client sees before the signal */
};

typedef struct load_client {
	int index;
	mdb_conn *conn;
	atomic_int stop;      /* set by the reader at EOF, or by the test */
	atomic_llong sent;    /* commands fully written */
	atomic_llong ok;      /* "OK" replies received */
	int write_errno;      /* why the writer stopped, 0 if by the flag or bound */
	int saw_eof;          /* the reader reached EOF (or a reset) */
	int reset;            /* the reader saw ECONNRESET */
	int timed_out;        /* the reader gave up waiting */
	size_t partial;       /* bytes of an unterminated last line */
	char partial_text[8]; /* their start */
	char garbage[128];    /* first reply that was not "OK" */
} load_client;

static void *load_writer(void *arg)
{
	load_client *lc = arg;
	static const size_t per_cmd = 48;
	char *buf = malloc(BATCH * per_cmd);
	if (buf == NULL)
		return NULL;
	long long n = 0;
	for (int b = 0; b < MAX_BATCHES && !atomic_load(&lc->stop); b++) {
		size_t len = 0;
		for (int i = 0; i < BATCH; i++, n++)
			len += (size_t)snprintf(buf + len, per_cmd, "SET shut:%d:%lld %lld\n",
			                        lc->index, n, n);
		int rc = mdb_send_all(lc->conn->fd, buf, len);
		if (rc != 0) {
			lc->write_errno = -rc;
			break;
		}
		atomic_fetch_add(&lc->sent, BATCH);
	}
	free(buf);
	return NULL;
}

static void *load_reader(void *arg)
{
	load_client *lc = arg;
	for (;;) {
		char *line;
		long n = mdb_read_line(lc->conn, &line);
		if (n == MDB_EOF) {
			lc->saw_eof = 1;
			lc->reset = lc->conn->reset;
			lc->partial = mdb_conn_pending(lc->conn);
			snprintf(lc->partial_text, sizeof lc->partial_text, "%.*s",
			         (int)lc->partial, lc->conn->buf + lc->conn->start);
			break;
		}
		if (n < 0) {
			lc->timed_out = 1;
			break;
		}
		if (strcmp(line, "OK") == 0)
			atomic_fetch_add(&lc->ok, 1);
		else if (lc->garbage[0] == '\0')
			snprintf(lc->garbage, sizeof lc->garbage, "\"%.100s\" after %lld OKs", line,
			         (long long)atomic_load(&lc->ok));
		free(line);
	}
	/* Stop writing and tell the server we are done, so its close does not
	 * have to wait for or discard our unread commands. */
	atomic_store(&lc->stop, 1);
	shutdown(lc->conn->fd, SHUT_WR);
	return NULL;
}

static void sigterm_during_pipelined_load_exits_0_and_every_reply_is_whole(void **state)
{
	(void)state;
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	int port = s->port;

	static load_client lc[N_LOAD_CLIENTS];
	pthread_t writer[N_LOAD_CLIENTS], reader[N_LOAD_CLIENTS];
	for (int i = 0; i < N_LOAD_CLIENTS; i++) {
		memset(&lc[i], 0, sizeof lc[i]);
		lc[i].index = i;
		lc[i].conn = mdb_conn_open(port);
		assert_non_null(lc[i].conn);
	}
	for (int i = 0; i < N_LOAD_CLIENTS; i++) {
		assert_int_equal(pthread_create(&reader[i], NULL, load_reader, &lc[i]), 0);
		assert_int_equal(pthread_create(&writer[i], NULL, load_writer, &lc[i]), 0);
	}

	/* Signal only once every client is really under way. */
	long long deadline = mdb_now_ms() + mdb_timeout_ms(10000);
	int warm = 0;
	while (!warm && mdb_now_ms() < deadline) {
		warm = 1;
		for (int i = 0; i < N_LOAD_CLIENTS; i++)
			warm = warm && atomic_load(&lc[i].ok) >= WARMUP_REPLIES;
		if (!warm)
			mdb_sleep_ms(5);
	}

	long long t0 = mdb_now_ms();
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	int status = mdb_wait_exit(s, mdb_timeout_ms(10000));
	long long took = mdb_now_ms() - t0;
	if (status < 0)
		mdb_kill(s); /* lets the threads finish; the failure is reported below */

	for (int i = 0; i < N_LOAD_CLIENTS; i++) {
		pthread_join(writer[i], NULL);
		pthread_join(reader[i], NULL);
	}
	int failures = 0;
	for (int i = 0; i < N_LOAD_CLIENTS; i++) {
		load_client *c = &lc[i];
		long long sent = atomic_load(&c->sent), ok = atomic_load(&c->ok);
		print_message("client %d: %lld SETs written, %lld OKs, writer stopped by %s, "
		              "server closed with %s\n",
		              i, sent, ok, c->write_errno ? strerror(c->write_errno) : "the flag",
		              c->reset || c->write_errno == ECONNRESET ? "a reset (RST)" : "FIN");
		if (c->garbage[0] != '\0') {
			print_error("client %d: invalid reply %s\n", i, c->garbage);
			failures++;
		}
		if (c->partial > 0) {
			print_error(
			        "client %d: connection ended inside a reply: %zu bytes (\"%s\") "
			        "without a newline\n",
			        i, c->partial, c->partial_text);
			failures++;
		}
		if (c->timed_out) {
			print_error("client %d: reader timed out instead of seeing the close\n", i);
			failures++;
		}
		/* A reply for a command never fully sent would be garbage too; the
		 * last batch may have been partly written, hence BATCH of slack. */
		if (ok > sent + BATCH) {
			print_error("client %d: %lld replies for %lld commands\n", i, ok, sent);
			failures++;
		}
		if (ok < WARMUP_REPLIES) {
			print_error("client %d: only %lld replies before the signal\n", i, ok);
			failures++;
		}
		mdb_conn_close(c->conn);
	}
	if (status != 0)
		print_error("exit status %d after SIGTERM (-1: still running after %d ms)\n",
		            status, mdb_timeout_ms(10000));
	print_message("server exited %lld ms after SIGTERM\n", took);
	assert_int_equal(mdb_stop(s), 0);
	assert_int_equal(failures, 0);

	/* Nobody listens on the port any more. */
	int fd = mdb_connect(port);
	assert_true(fd < 0);
}

static void sigint_exits_0_and_closes_idle_clients(void **state)
{
	(void)state;
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	mdb_conn *idle[3];
	for (int i = 0; i < 3; i++) {
		idle[i] = mdb_conn_open(s->port);
		assert_non_null(idle[i]);
		mdb_assert_cmd(idle[i], "SET sigint_key v", "OK");
	}
	long long t0 = mdb_now_ms();
	assert_int_equal(mdb_signal(s, SIGINT), 0);
	/* Idle clients have nothing in flight: they must not hold the server
	 * up until a shutdown timeout. */
	for (int i = 0; i < 3; i++) {
		mdb_assert_closed(idle[i]);
		mdb_conn_close(idle[i]);
	}
	int status = mdb_wait_exit(s, mdb_timeout_ms(5000));
	print_message("server exited %lld ms after SIGINT\n", mdb_now_ms() - t0);
	assert_int_equal(status, 0);
	assert_int_equal(mdb_stop(s), 0);
}

static void sigterm_with_no_clients_exits_0_promptly(void **state)
{
	(void)state;
	mdb_server *s = mdb_start(NULL);
	assert_non_null(s);
	long long t0 = mdb_now_ms();
	assert_int_equal(mdb_signal(s, SIGTERM), 0);
	assert_int_equal(mdb_wait_exit(s, mdb_timeout_ms(3000)), 0);
	print_message("server exited %lld ms after SIGTERM\n", mdb_now_ms() - t0);
	assert_int_equal(mdb_stop(s), 0);
}

/* Runs minidb with a temp --data-dir, --port 0 and args. Returns 1 when it
 * exited 2 with every string of must_name on stderr, else prints why and
 * returns 0 (the caller asserts, after its own clean-up). */
static int config_error_ok(const char *const args[], const char *const must_name[])
{
	char *dir = mdb_temp_dir();
	assert_non_null(dir);
	const char *argv[32];
	int argc = 0;
	argv[argc++] = mdb_binary_path("MINIDB_BIN", "minidb");
	argv[argc++] = "--port";
	argv[argc++] = "0";
	argv[argc++] = "--data-dir";
	argv[argc++] = dir;
	for (int i = 0; args[i] != NULL && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;

	mdb_proc res;
	assert_int_equal(mdb_run(argv, NULL, 0, mdb_timeout_ms(5000), &res), 0);
	int ok = res.status == 2;
	for (int i = 0; must_name[i] != NULL; i++)
		ok = ok && strstr(res.err, must_name[i]) != NULL;
	if (!ok) {
		print_error("minidb");
		for (int i = 5; i < argc; i++)
			print_error(" %s", argv[i]);
		print_error(": exit status %d (want 2), stderr:\n%s\nwanted on stderr:", res.status,
		            res.err);
		for (int i = 0; must_name[i] != NULL; i++)
			print_error(" \"%s\"", must_name[i]);
		print_error("\n");
	}
	mdb_proc_free(&res);
	mdb_remove_tree(dir);
	free(dir);
	return ok;
}

static void an_unknown_flag_exits_2_naming_the_flag(void **state)
{
	(void)state;
	static const char *const args[] = {"--no-such-flag", NULL};
	static const char *const names[] = {"no-such-flag", NULL};
	assert_true(config_error_ok(args, names));
}

static void a_port_out_of_range_exits_2_naming_the_port(void **state)
{
	(void)state;
	static const char *const args[] = {"--port", "70000", NULL};
	static const char *const names[] = {"port", NULL};
	assert_true(config_error_ok(args, names));
}

static void a_malformed_number_exits_2_naming_the_flag(void **state)
{
	(void)state;
	static const char *const threads[] = {"--threads", "many", NULL};
	static const char *const threads_name[] = {"threads", NULL};
	assert_true(config_error_ok(threads, threads_name));
	static const char *const bytes[] = {"--max-line-bytes", "12parsecs", NULL};
	static const char *const bytes_name[] = {"max-line-bytes", NULL};
	assert_true(config_error_ok(bytes, bytes_name));
}

/* Writes text to <tmp>/config.yaml and expects minidb --config to exit 2
 * naming what must_name lists. */
static void expect_yaml_error(const char *text, const char *const must_name[])
{
	char *dir = mdb_temp_dir();
	assert_non_null(dir);
	char path[4096];
	snprintf(path, sizeof path, "%s/config.yaml", dir);
	assert_int_equal(mdb_write_file(path, text, strlen(text)), 0);
	const char *const args[] = {"--config", path, NULL};
	int ok = config_error_ok(args, must_name);
	mdb_remove_tree(dir);
	free(dir);
	assert_true(ok);
}

static void a_config_file_with_an_unknown_key_exits_2_naming_the_key(void **state)
{
	(void)state;
	static const char *const names[] = {"no_such_key", NULL};
	expect_yaml_error("server:\n"
	                  "  port: 0\n"
	                  "  no_such_key: 1\n",
	                  names);
}

static void a_config_file_with_a_bad_value_exits_2_naming_the_key(void **state)
{
	(void)state;
	static const char *const names[] = {"port", NULL};
	expect_yaml_error("server:\n"
	                  "  port: 70000\n",
	                  names);
}

static void a_missing_config_file_exits_2_naming_the_file(void **state)
{
	(void)state;
	static const char *const args[] = {"--config", "/nonexistent/minidb-it.yaml", NULL};
	static const char *const names[] = {"/nonexistent/minidb-it.yaml", NULL};
	assert_true(config_error_ok(args, names));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(sigterm_during_pipelined_load_exits_0_and_every_reply_is_whole),
	        cmocka_unit_test(sigint_exits_0_and_closes_idle_clients),
	        cmocka_unit_test(sigterm_with_no_clients_exits_0_promptly),
	        cmocka_unit_test(an_unknown_flag_exits_2_naming_the_flag),
	        cmocka_unit_test(a_port_out_of_range_exits_2_naming_the_port),
	        cmocka_unit_test(a_malformed_number_exits_2_naming_the_flag),
	        cmocka_unit_test(a_config_file_with_an_unknown_key_exits_2_naming_the_key),
	        cmocka_unit_test(a_config_file_with_a_bad_value_exits_2_naming_the_key),
	        cmocka_unit_test(a_missing_config_file_exits_2_naming_the_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
