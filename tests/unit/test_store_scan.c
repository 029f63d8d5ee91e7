/* test_store_scan.c - unit tests for iteration over the keyspace
 * (src/store_scan.c): SCAN steps and RANDOMKEY.
 *
 * The SCAN guarantee is tested the hard way: keys that stay in the store must
 * all be reported while other keys make the tables grow and shrink between
 * steps (deterministically) or during them (from another thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_testlib.h"

/* Counts how often each "orig:<i>" key was reported. */
struct seen {
	unsigned n;
	unsigned *count;
	unsigned others;
	unsigned bad;
};

static void seen_key(const void *key, size_t klen, const store_val *v, void *arg)
{
	struct seen *s = arg;
	char buf[32];
	unsigned i;

	(void)v;
	if (klen >= sizeof(buf)) {
		s->bad++;
		return;
	}
	memcpy(buf, key, klen);
	buf[klen] = '\0';
	if (sscanf(buf, "orig:%u", &i) == 1 && i < s->n)
		s->count[i]++;
	else if (strncmp(buf, "other:", 6) == 0)
		s->others++;
	else
		s->bad++;
}

static size_t orig_key(char *buf, size_t cap, unsigned i)
{
	int n = snprintf(buf, cap, "orig:%u", i);
	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static size_t other_key(char *buf, size_t cap, unsigned i)
{
	int n = snprintf(buf, cap, "other:%u", i);
	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static void test_scan_reports_every_key_exactly_once_in_a_quiet_store(void **state)
{
	(void)state;
	store_config cfg = {.shards = 8};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 5000 };
	struct seen s = {.n = N, .count = calloc(N, sizeof(unsigned))};
	char key[32];

	assert_non_null(s.count);
	/* Empty store: one call ends the scan. */
	assert_int_equal(store_scan(st, 0, seen_key, &s), 0);
	for (unsigned i = 0; i < N; i++) {
		size_t klen = orig_key(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, "v", 1, 0), STORE_OK);
	}
	/* An expired key is not reported. */
	int64_t soon = wall_ms() + 5;
	assert_int_equal(store_set(st, "orig:99999", 10, "v", 1, soon), STORE_OK);
	sleep_until_past(soon);
	uint64_t cursor = 0;
	unsigned steps = 0;
	do {
		cursor = store_scan(st, cursor, seen_key, &s);
		steps++;
	} while (cursor != 0);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(s.count[i], 1);
	assert_int_equal(s.bad, 0);
	assert_true(steps > 8);
	/* A cursor beyond the last shard ends the scan. */
	assert_int_equal(store_scan(st, (uint64_t)8 << 32, seen_key, &s), 0);
	assert_int_equal(store_scan(st, UINT64_MAX, seen_key, &s), 0);
	free(s.count);
	store_free(st);
}

/* Runs one full SCAN; between steps, churn() changes OTHER keys. */
static void scan_all(store_t *st, struct seen *s, void (*churn)(store_t *, void *), void *arg)
{
	uint64_t cursor = 0;
	do {
		cursor = store_scan(st, cursor, seen_key, s);
		if (churn != NULL)
			churn(st, arg);
	} while (cursor != 0);
}

/* Inserts other keys until there are many, then deletes them all, again
 * and again: every shard's tables grow and shrink several times. */
struct churn {
	unsigned live;
	unsigned target;
	bool growing;
	unsigned grows, shrinks;
	bool was_rehashing;
};

static void churn_step(store_t *st, void *arg)
{
	struct churn *c = arg;
	char key[32];

	bool inserting = c->growing;

	for (unsigned k = 0; k < 40; k++) {
		if (c->growing) {
			size_t klen = other_key(key, sizeof(key), c->live++);
			assert_int_equal(store_set(st, key, klen, "o", 1, 0), STORE_OK);
			c->growing = c->live < c->target;
		} else {
			size_t klen = other_key(key, sizeof(key), --c->live);
			assert_int_equal(store_del(st, key, klen), STORE_OK);
			c->growing = c->live == 0;
		}
	}
	store_stats s = stats_of(st);
	/* Inserts only grow tables, deletes only shrink them. */
	if (s.rehashing && !c->was_rehashing) {
		if (inserting)
			c->grows++;
		else
			c->shrinks++;
	}
	c->was_rehashing = s.rehashing > 0;
}

static void
test_scan_reports_every_original_key_while_other_keys_force_grows_and_shrinks(void **state)
{
	(void)state;
	store_config cfg = {.shards = 2};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 3000 };
	struct seen s = {.n = N, .count = calloc(N, sizeof(unsigned))};
	struct churn c = {.target = 40000, .growing = true};
	char key[32];

	assert_non_null(s.count);
	for (unsigned i = 0; i < N; i++) {
		size_t klen = orig_key(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, "v", 1, 0), STORE_OK);
	}
	/* Several scans, each with tables growing and shrinking under it. */
	for (unsigned round = 0; round < 3; round++) {
		memset(s.count, 0, N * sizeof(unsigned));
		scan_all(st, &s, churn_step, &c);
		for (unsigned i = 0; i < N; i++) {
			if (s.count[i] == 0)
				fail_msg("orig:%u not reported in round %u", i, round);
		}
	}
	assert_int_equal(s.bad, 0);
	assert_true(c.grows >= 4);
	assert_true(c.shrinks >= 4);
	free(s.count);
	store_free(st);
}

struct churn_thread {
	store_t *st;
	_Atomic int done;
	unsigned errors;
	unsigned ops;
};

static void *churn_main(void *arg)
{
	struct churn_thread *t = arg;
	char key[32];
	unsigned live = 0;
	bool growing = true;

	while (!atomic_load(&t->done)) {
		if (growing) {
			size_t klen = (size_t)snprintf(key, sizeof(key), "other:%u", live++);
			t->errors += store_set(t->st, key, klen, "o", 1, 0) != STORE_OK;
			growing = live < 20000;
		} else {
			size_t klen = (size_t)snprintf(key, sizeof(key), "other:%u", --live);
			t->errors += store_del(t->st, key, klen) != STORE_OK;
			growing = live == 0;
		}
		t->ops++;
	}
	return NULL;
}

static void
test_scan_reports_every_original_key_while_another_thread_inserts_and_deletes(void **state)
{
	(void)state;
	store_config cfg = {.shards = 4};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 2000 };
	struct seen s = {.n = N, .count = calloc(N, sizeof(unsigned))};
	struct churn_thread t = {.st = st};
	char key[32];
	pthread_t tid;

	assert_non_null(s.count);
	for (unsigned i = 0; i < N; i++) {
		size_t klen = orig_key(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, "v", 1, 0), STORE_OK);
	}
	/* No assertion may leave this function while the thread runs: it
	 * writes to t, on this stack. */
	unsigned missed = 0;
	assert_int_equal(pthread_create(&tid, NULL, churn_main, &t), 0);
	for (unsigned round = 0; round < 20; round++) {
		memset(s.count, 0, N * sizeof(unsigned));
		scan_all(st, &s, NULL, NULL);
		for (unsigned i = 0; i < N; i++)
			missed += s.count[i] == 0;
	}
	atomic_store(&t.done, 1);
	assert_int_equal(pthread_join(tid, NULL), 0);
	assert_int_equal(missed, 0);
	assert_int_equal(t.errors, 0);
	assert_true(t.ops > 0);
	assert_int_equal(s.bad, 0);
	free(s.count);
	store_free(st);
}

static void test_random_key_reports_nothing_when_empty_and_eventually_every_live_key(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	enum { N = 10 };
	struct seen s = {.n = N, .count = calloc(N, sizeof(unsigned))};
	char key[32];

	assert_non_null(s.count);
	assert_int_equal(store_random_key(st, seen_key, &s), STORE_ENOTFOUND);
	for (unsigned i = 0; i < N; i++) {
		size_t klen = orig_key(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, "v", 1, 0), STORE_OK);
	}
	/* Expired keys are never chosen. */
	int64_t soon = wall_ms() + 5;
	for (unsigned i = 0; i < 20; i++) {
		size_t klen = other_key(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, "v", 1, soon), STORE_OK);
	}
	sleep_until_past(soon);
	for (unsigned i = 0; i < 2000; i++)
		assert_int_equal(store_random_key(st, seen_key, &s), STORE_OK);
	for (unsigned i = 0; i < N; i++)
		assert_true(s.count[i] > 0);
	assert_int_equal(s.others, 0);
	assert_int_equal(s.bad, 0);

	/* Only expired keys left: nothing to report. */
	for (unsigned i = 0; i < N; i++) {
		size_t klen = orig_key(key, sizeof(key), i);
		assert_int_equal(store_del(st, key, klen), STORE_OK);
	}
	assert_int_equal(store_random_key(st, seen_key, &s), STORE_ENOTFOUND);
	free(s.count);
	store_free(st);
}

static void test_random_key_is_roughly_uniform_over_a_large_store(void **state)
{
	(void)state;
	store_config cfg = {.shards = 16};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 1000, DRAWS = 100000 };
	struct seen s = {.n = N, .count = calloc(N, sizeof(unsigned))};
	char key[32];

	assert_non_null(s.count);
	for (unsigned i = 0; i < N; i++) {
		size_t klen = orig_key(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, "v", 1, 0), STORE_OK);
	}
	for (unsigned i = 0; i < DRAWS; i++)
		assert_int_equal(store_random_key(st, seen_key, &s), STORE_OK);
	/* 100 expected per key; shards differ in size by a few percent. */
	unsigned lo = DRAWS, hi = 0;
	for (unsigned i = 0; i < N; i++) {
		lo = s.count[i] < lo ? s.count[i] : lo;
		hi = s.count[i] > hi ? s.count[i] : hi;
	}
	assert_true(lo >= 40);
	assert_true(hi <= 200);
	free(s.count);
	store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_scan_reports_every_key_exactly_once_in_a_quiet_store),
	        cmocka_unit_test(
	                test_scan_reports_every_original_key_while_other_keys_force_grows_and_shrinks),
	        cmocka_unit_test(
	                test_scan_reports_every_original_key_while_another_thread_inserts_and_deletes),
	        cmocka_unit_test(
	                test_random_key_reports_nothing_when_empty_and_eventually_every_live_key),
	        cmocka_unit_test(test_random_key_is_roughly_uniform_over_a_large_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
