/* test_concurrency.c - many clients at once: 1,000 connections open at the
 * same time, each setting and reading back its own keys, then reading a
 * neighbour's, with every reply checked.
 *
 * 8 threads each drive 125 blocking sockets: a thread sends one command on
 * every socket it owns and then reads the 125 replies, so at any moment the
 * server has up to 1,000 requests in flight. A barrier makes sure all 1,000
 * connections are open before any command is sent, and another separates
 * the writes from the cross-client reads. Threads record failures instead of
 * asserting (cmocka's failures must stay on the test thread) and always reach
 * every barrier, so one failing client cannot hang the others.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

enum { N_THREADS = 8, PER_THREAD = 125, N_CLIENTS = N_THREADS * PER_THREAD, N_ROUNDS = 5 };

typedef struct worker {
	int index;
	int port;
	pthread_barrier_t *barrier;
	mdb_conn *conn[PER_THREAD];
	int failed;
	char failure[256];
	long long replies; /* replies checked */
} worker;

static void worker_fail(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void worker_fail(worker *w, const char *fmt, ...)
{
	if (w->failed)
		return; /* keep the first failure: later ones follow from it */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->failure, sizeof w->failure, fmt, ap);
	va_end(ap);
	w->failed = 1;
}

static int client_id(const worker *w, int i)
{
	return w->index * PER_THREAD + i;
}

/* Sends one command per socket (built by fmt from the client id and round),
 * then reads and checks one reply per socket. */
static void round_trip(worker *w, const char *what, int round,
                       void (*make)(char *cmd, size_t cmdlen, char *want, size_t wantlen, int id,
                                    int round))
{
	if (w->failed)
		return;
	char want[PER_THREAD][64];
	for (int i = 0; i < PER_THREAD; i++) {
		char cmd[128];
		make(cmd, sizeof cmd, want[i], sizeof want[i], client_id(w, i), round);
		if (mdb_send_str(w->conn[i], cmd) != 0) {
			worker_fail(w, "client %d: sending %s failed", client_id(w, i), what);
			return;
		}
	}
	for (int i = 0; i < PER_THREAD; i++) {
		char *line;
		if (mdb_read_line(w->conn[i], &line) < 0) {
			worker_fail(w, "client %d: no reply to %s round %d (closed or timed out)",
			            client_id(w, i), what, round);
			return;
		}
		if (strcmp(line, want[i]) != 0)
			worker_fail(w, "client %d: %s round %d: expected \"%s\", got \"%.100s\"",
			            client_id(w, i), what, round, want[i], line);
		free(line);
		w->replies++;
	}
}

static void make_ping(char *cmd, size_t cmdlen, char *want, size_t wantlen, int id, int round)
{
	snprintf(cmd, cmdlen, "PING\n");
	snprintf(want, wantlen, "PONG");
}

static void make_set(char *cmd, size_t cmdlen, char *want, size_t wantlen, int id, int round)
{
	snprintf(cmd, cmdlen, "SET client:%d:key:%d value of %d in round %d\n", id, round, id,
	         round);
	snprintf(want, wantlen, "OK");
}

static void make_lookup(char *cmd, size_t cmdlen, char *want, size_t wantlen, int id, int round)
{
	snprintf(cmd, cmdlen, "LOOKUP client:%d:key:%d\n", id, round);
	snprintf(want, wantlen, "value of %d in round %d", id, round);
}

/* Reads the last key of the client N_CLIENTS/2 away, usually served by
 * another thread and possibly another server worker. */
static void make_lookup_other(char *cmd, size_t cmdlen, char *want, size_t wantlen, int id,
                              int round)
{
	int other = (id + N_CLIENTS / 2) % N_CLIENTS;
	snprintf(cmd, cmdlen, "LOOKUP client:%d:key:%d\n", other, round);
	snprintf(want, wantlen, "value of %d in round %d", other, round);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	for (int i = 0; i < PER_THREAD && !w->failed; i++) {
		w->conn[i] = mdb_conn_open(w->port);
		if (w->conn[i] == NULL)
			worker_fail(w, "client %d: connect failed", client_id(w, i));
	}
	/* All 1,000 connections are open from here on. */
	pthread_barrier_wait(w->barrier);
	round_trip(w, "PING", 0, make_ping);
	for (int r = 0; r < N_ROUNDS; r++) {
		round_trip(w, "SET", r, make_set);
		round_trip(w, "LOOKUP", r, make_lookup);
	}
	/* Every client's writes are acknowledged before anyone reads them. */
	pthread_barrier_wait(w->barrier);
	round_trip(w, "LOOKUP of another client's key", N_ROUNDS - 1, make_lookup_other);
	for (int i = 0; i < PER_THREAD; i++)
		mdb_conn_close(w->conn[i]);
	return NULL;
}

static void a_thousand_concurrent_clients_each_read_back_their_own_writes(void **state)
{
	mdb_server *s = *state;
	static worker workers[N_THREADS];
	pthread_t tids[N_THREADS];
	pthread_barrier_t barrier;
	assert_int_equal(pthread_barrier_init(&barrier, NULL, N_THREADS), 0);
	for (int t = 0; t < N_THREADS; t++) {
		memset(&workers[t], 0, sizeof workers[t]);
		workers[t].index = t;
		workers[t].port = s->port;
		workers[t].barrier = &barrier;
		assert_int_equal(pthread_create(&tids[t], NULL, worker_main, &workers[t]), 0);
	}
	long long replies = 0;
	int failures = 0;
	for (int t = 0; t < N_THREADS; t++) {
		pthread_join(tids[t], NULL);
		replies += workers[t].replies;
		if (workers[t].failed) {
			print_error("thread %d: %s\n", t, workers[t].failure);
			failures++;
		}
	}
	pthread_barrier_destroy(&barrier);
	assert_int_equal(failures, 0);
	assert_int_equal(replies, (long long)N_CLIENTS * (2 + 2 * N_ROUNDS));

	/* The server is still healthy for a newcomer. */
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	mdb_assert_cmd(c, "LOOKUP client:999:key:4", "value of 999 in round 4");
	mdb_conn_close(c);
}

static int group_setup(void **state)
{
	/* 1,000 sockets here and as many in the server (which inherits the
	 * limit), plus what both need besides. */
	long limit = mdb_raise_nofile();
	if (limit < N_CLIENTS + 200) {
		print_error("RLIMIT_NOFILE is %ld, need at least %d\n", limit, N_CLIENTS + 200);
		return -1;
	}
	mdb_server *s = mdb_start(NULL);
	*state = s;
	return s == NULL ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(a_thousand_concurrent_clients_each_read_back_their_own_writes),
	};
	return cmocka_run_group_tests(tests, group_setup, mdb_group_stop);
}
