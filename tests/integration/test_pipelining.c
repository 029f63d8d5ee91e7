/* test_pipelining.c - pipelined commands: 100,000 SET/LOOKUP/EXISTS/DEL
 * commands built into one buffer and sent in one go, with every reply
 * checked in order.
 *
 * A writer thread sends the buffer while the test thread reads the replies:
 * sending everything before reading would deadlock once both sockets'
 * buffers fill up (the server stops reading while its replies go unread).
 * Reader failures are recorded, not asserted, until the writer has been
 * joined, since cmocka's failures longjmp and must stay on the test thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "harness.h"

enum { N_COMMANDS = 100000, N_KEYS = 5000 };

/* A growable text buffer for the commands and the expected replies. */
typedef struct text {
	char *buf;
	size_t len;
	size_t cap;
} text;

static void text_addf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_addf(text *t, const char *fmt, ...)
{
	if (t->buf == NULL) {
		t->cap = 1 << 20;
		t->buf = malloc(t->cap);
		assert_non_null(t->buf);
	}
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t ncap = t->cap * 2;
		while (ncap - t->len <= (size_t)n)
			ncap *= 2;
		t->buf = realloc(t->buf, ncap);
		assert_non_null(t->buf);
		t->cap = ncap;
	}
}

typedef struct writer_job {
	int fd;
	const char *buf;
	size_t len;
	int rc; /* mdb_send_all's result */
} writer_job;

static void *writer_main(void *arg)
{
	writer_job *job = arg;
	job->rc = mdb_send_all(job->fd, job->buf, job->len);
	return NULL;
}

/* Builds N_COMMANDS commands cycling through SET k v, LOOKUP k (just set),
 * LOOKUP of a missing key, EXISTS, and now and then DEL; expected holds one
 * expected reply line per command, in order. The model tracks which value
 * each key holds so a reply from the wrong command or key is caught. */
static void build_workload(text *cmds, text *expected)
{
	static int model[N_KEYS]; /* last i SET for each key, -1 when absent */
	for (int k = 0; k < N_KEYS; k++)
		model[k] = -1;
	for (int i = 0; i < N_COMMANDS; i++) {
		int k = (int)(((unsigned)i * 2654435761u) % N_KEYS);
		switch (i % 5) {
		case 0:
			text_addf(cmds, "SET pipe:%d value-%d with spaces\n", k, i);
			text_addf(expected, "OK\n");
			model[k] = i;
			break;
		case 1:
		case 3:
			text_addf(cmds, "LOOKUP pipe:%d\n", k);
			if (model[k] < 0)
				text_addf(expected, "NOT FOUND\n");
			else
				text_addf(expected, "value-%d with spaces\n", model[k]);
			break;
		case 2:
			text_addf(cmds, "EXISTS pipe:%d\n", k);
			text_addf(expected, "%d\n", model[k] >= 0);
			break;
		default:
			if (i % 35 == 4) {
				text_addf(cmds, "DEL pipe:%d\n", k);
				text_addf(expected, model[k] >= 0 ? "OK\n" : "NOT FOUND\n");
				model[k] = -1;
			} else {
				text_addf(cmds, "LOOKUP missing:%d\n", i);
				text_addf(expected, "NOT FOUND\n");
			}
			break;
		}
	}
}

static void one_hundred_thousand_pipelined_commands_are_answered_in_order(void **state)
{
	mdb_server *s = *state;
	text cmds = {0}, expected = {0};
	build_workload(&cmds, &expected);

	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	writer_job job = {.fd = c->fd, .buf = cmds.buf, .len = cmds.len, .rc = 0};
	pthread_t writer;
	assert_int_equal(pthread_create(&writer, NULL, writer_main, &job), 0);

	/* Read and compare every reply; remember the first mismatch. */
	long long t0 = mdb_now_ms();
	const char *exp = expected.buf;
	int received = 0;
	char failure[512] = "";
	for (int i = 0; i < N_COMMANDS; i++) {
		const char *nl = strchr(exp, '\n');
		char *line;
		long n = mdb_read_line(c, &line);
		if (n < 0) {
			snprintf(failure, sizeof failure,
			         "reply %d of %d: connection %s after %lld ms", i, N_COMMANDS,
			         n == MDB_EOF ? "closed" : "timed out or failed",
			         mdb_now_ms() - t0);
			break;
		}
		if ((size_t)n != (size_t)(nl - exp) || memcmp(line, exp, (size_t)n) != 0) {
			snprintf(failure, sizeof failure,
			         "reply %d: expected \"%.*s\", got \"%.100s\"", i, (int)(nl - exp),
			         exp, line);
			free(line);
			break;
		}
		free(line);
		received++;
		exp = nl + 1;
	}
	/* Unblock the writer if the reader gave up early. */
	if (received != N_COMMANDS)
		shutdown(c->fd, SHUT_RDWR);
	pthread_join(writer, NULL);

	if (failure[0] != '\0')
		fail_msg("%s", failure);
	assert_int_equal(job.rc, 0);
	assert_int_equal(received, N_COMMANDS);
	/* Nothing beyond the expected replies. */
	mdb_assert_cmd(c, "PING", "PONG");
	mdb_conn_close(c);
	free(cmds.buf);
	free(expected.buf);
}

static void pipelined_replies_do_not_mix_between_two_connections(void **state)
{
	/* Two clients pipeline at once; each must get only its own replies. */
	mdb_server *s = *state;
	enum { N = 20000 };
	text cmd[2] = {{0}, {0}};
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < 2; j++) {
			text_addf(&cmd[j], "SET mix:%d:%d v%d:%d\nLOOKUP mix:%d:%d\n", j, i, j, i,
			          j, i);
		}
	}
	mdb_conn *c[2];
	writer_job job[2];
	pthread_t writer[2];
	for (int j = 0; j < 2; j++) {
		c[j] = mdb_conn_open(s->port);
		assert_non_null(c[j]);
		job[j] = (writer_job){.fd = c[j]->fd, .buf = cmd[j].buf, .len = cmd[j].len};
	}
	for (int j = 0; j < 2; j++)
		assert_int_equal(pthread_create(&writer[j], NULL, writer_main, &job[j]), 0);

	/* Alternate between the two readers so both make progress. */
	char failure[256] = "";
	int done[2] = {0, 0};
	for (int i = 0; i < N && failure[0] == '\0'; i++) {
		for (int j = 0; j < 2 && failure[0] == '\0'; j++) {
			char want[64];
			snprintf(want, sizeof want, "v%d:%d", j, i);
			for (int r = 0; r < 2; r++) {
				char *line;
				if (mdb_read_line(c[j], &line) < 0) {
					snprintf(failure, sizeof failure,
					         "client %d: no reply %d (closed or timed out)", j,
					         2 * i + r);
					break;
				}
				const char *exp = r == 0 ? "OK" : want;
				if (strcmp(line, exp) != 0) {
					snprintf(failure, sizeof failure,
					         "client %d reply %d: expected \"%s\", got "
					         "\"%.100s\"",
					         j, 2 * i + r, exp, line);
				}
				free(line);
				if (failure[0] != '\0')
					break;
			}
			if (failure[0] == '\0')
				done[j] = i + 1;
		}
	}
	for (int j = 0; j < 2; j++) {
		if (failure[0] != '\0')
			shutdown(c[j]->fd, SHUT_RDWR);
		pthread_join(writer[j], NULL);
	}
	if (failure[0] != '\0')
		fail_msg("%s", failure);
	for (int j = 0; j < 2; j++) {
		assert_int_equal(job[j].rc, 0);
		assert_int_equal(done[j], N);
		mdb_conn_close(c[j]);
		free(cmd[j].buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(one_hundred_thousand_pipelined_commands_are_answered_in_order),
	        cmocka_unit_test(pipelined_replies_do_not_mix_between_two_connections),
	};
	return cmocka_run_group_tests(tests, mdb_group_start, mdb_group_stop);
}
