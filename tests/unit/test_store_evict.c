/* test_store_evict.c - unit tests for active expiry, maxmemory eviction and
 * the counters of the store (src/store_evict.c).
 *
 * Every test creates its own store and frees it. The statistical tests
 * (which keys an approximated LRU/LFU/TTL policy keeps) assert margins far
 * wider than the sampling noise: Redis's sampling with a pool keeps recently
 * used keys almost always, while untouched ones go at a steady rate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_testlib.h"

static void sleep_ms(long ms)
{
	struct timespec d = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&d, &d) != 0)
		;
}

/* Inserts keys [from, to) expiring soon and returns their expiry. The margin
 * grows until writing them all took less than it (on a loaded machine 20 ms
 * may not be enough, and a key written after its expiry is never stored).
 * store_clear between attempts leaves the counters alone. */
static int64_t insert_expiring(store_t *st, unsigned from, unsigned to)
{
	char key[32];

	for (int64_t margin = 20;; margin *= 4) {
		int64_t exp = wall_ms() + margin;
		for (unsigned i = from; i < to; i++) {
			size_t klen = (size_t)snprintf(key, sizeof(key), "key:%u", i);
			assert_int_equal(store_set(st, key, klen, "v", 1, exp), STORE_OK);
		}
		if (wall_ms() < exp)
			return exp;
		store_clear(st);
	}
}

static store_counters counters_of(const store_t *st)
{
	store_counters c;
	store_counters_get(st, &c);
	return c;
}

/* ---- Active expiry ---- */

static void
test_expire_cycle_removes_expired_keys_that_nothing_touches_and_counts_them(void **state)
{
	(void)state;
	store_config cfg = {.shards = 16};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { EXPIRING = 1000, PERSISTENT = 1000, LATER = 500 };
	char key[32];
	int64_t soon = insert_expiring(st, 0, EXPIRING);
	unsigned k = EXPIRING;

	for (unsigned i = 0; i < PERSISTENT; i++, k++)
		assert_int_equal(store_set(st, key, key_of(key, sizeof(key), k), "v", 1, 0),
		                 STORE_OK);
	for (unsigned i = 0; i < LATER; i++, k++)
		assert_int_equal(store_set(st, key, key_of(key, sizeof(key), k), "v", 1,
		                           wall_ms() + 3600 * 1000),
		                 STORE_OK);
	store_counters c = counters_of(st);
	assert_int_equal(c.expires, EXPIRING + LATER);
	assert_int_equal(c.expired_keys, 0);
	uint64_t mem = store_mem_used(st);

	sleep_until_past(soon);
	assert_int_equal(store_count(st), EXPIRING + PERSISTENT + LATER);
	size_t removed = 0;
	int64_t give_up = wall_ms() + 20000;
	while (store_count(st) > PERSISTENT + LATER && wall_ms() < give_up)
		removed += store_expire_cycle(st, 100000);

	assert_int_equal(removed, EXPIRING);
	assert_int_equal(store_count(st), PERSISTENT + LATER);
	c = counters_of(st);
	assert_int_equal(c.expired_keys, EXPIRING);
	assert_int_equal(c.expires, LATER);
	assert_int_equal(c.evicted_keys, 0);
	assert_true(store_mem_used(st) < mem);
	/* The survivors are the right ones. */
	for (unsigned i = 0; i < EXPIRING + PERSISTENT + LATER; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_int_equal(store_exists(st, key, klen), i >= EXPIRING);
	}
	store_free(st);
}

static void test_expire_cycle_on_a_store_without_expiring_keys_does_nothing(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	char key[32];

	assert_int_equal(store_expire_cycle(st, 1000), 0);
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(store_set(st, key, key_of(key, sizeof(key), i), "v", 1, 0),
		                 STORE_OK);
	assert_int_equal(store_expire_cycle(st, 1000), 0);
	/* A zero budget still makes progress on one shard, and is harmless. */
	assert_int_equal(store_expire_cycle(st, 0), 0);
	assert_int_equal(store_count(st), 1000);
	store_free(st);
}

struct expirer {
	store_t *st;
	size_t removed;
};

/* Calls until nothing is left, for up to 20 s: on a loaded machine a call
 * may stop after one round when its budget runs out while descheduled. */
static void *expirer_main(void *arg)
{
	struct expirer *x = arg;
	int64_t give_up = wall_ms() + 20000;
	while (store_count(x->st) > 0 && wall_ms() < give_up)
		x->removed += store_expire_cycle(x->st, 2000);
	return NULL;
}

static void test_expire_cycle_from_several_threads_removes_each_key_once(void **state)
{
	(void)state;
	store_config cfg = {.shards = 8};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 20000, THREADS = 4 };
	int64_t soon = insert_expiring(st, 0, N);

	assert_int_equal(store_count(st), N);
	sleep_until_past(soon);
	pthread_t tid[THREADS];
	struct expirer x[THREADS];
	for (unsigned t = 0; t < THREADS; t++) {
		x[t] = (struct expirer){.st = st};
		assert_int_equal(pthread_create(&tid[t], NULL, expirer_main, &x[t]), 0);
	}
	size_t removed = 0;
	for (unsigned t = 0; t < THREADS; t++) {
		assert_int_equal(pthread_join(tid[t], NULL), 0);
		removed += x[t].removed;
	}
	assert_int_equal(removed, N);
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	store_counters c = counters_of(st);
	assert_int_equal(c.expired_keys, N);
	assert_int_equal(c.expires, 0);
	store_free(st);
}

static void test_lazy_expiry_counts_as_expired_and_a_past_set_does_not(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	int64_t soon = wall_ms() + 5;

	assert_int_equal(store_set(st, "a", 1, "v", 1, soon), STORE_OK);
	assert_int_equal(store_set(st, "b", 1, "v", 1, soon), STORE_OK);
	assert_int_equal(store_set(st, "c", 1, "v", 1, 0), STORE_OK);
	assert_int_equal(counters_of(st).expires, 2);
	/* A SET with a time already past is a delete, not an expiry. */
	assert_int_equal(store_set(st, "c", 1, "v", 1, 1), STORE_OK);
	sleep_until_past(soon);
	assert_int_equal(store_exists(st, "a", 1), 0);
	assert_int_equal(store_set(st, "b", 1, "new", 3, 0), STORE_OK);
	store_counters c = counters_of(st);
	assert_int_equal(c.expired_keys, 2);
	assert_int_equal(c.expires, 0);
	assert_int_equal(store_count(st), 1);
	store_free(st);
}

/* ---- Eviction ---- */

enum { VAL_LEN = 100 };
static const char VAL[VAL_LEN] = "value";

/* Inserts keys [from, to), calling store_make_room before each write as the
 * server does for commands that may add memory. Returns how many
 * store_make_room calls failed. */
static unsigned fill(store_t *st, unsigned from, unsigned to, int64_t expire_at_ms)
{
	char key[32];
	unsigned oom = 0;

	for (unsigned i = from; i < to; i++) {
		if (store_make_room(st) != STORE_OK) {
			oom++;
			continue;
		}
		assert_int_equal(
		        store_set(st, key, key_of(key, sizeof(key), i), VAL, VAL_LEN, expire_at_ms),
		        STORE_OK);
	}
	return oom;
}

static void test_make_room_does_nothing_without_maxmemory_or_under_it(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(fill(st, 0, 1000, 0), 0);
	store_set_maxmemory(st, 0, STORE_EVICT_ALLKEYS_LRU);
	assert_int_equal(store_make_room(st), STORE_OK);
	store_set_maxmemory(st, store_mem_used(st) + 1, STORE_EVICT_NOEVICTION);
	assert_int_equal(store_make_room(st), STORE_OK);
	assert_int_equal(store_count(st), 1000);
	assert_int_equal(counters_of(st).evicted_keys, 0);
	store_free(st);
}

static void test_noeviction_over_maxmemory_refuses_with_oom_and_evicts_nothing(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(fill(st, 0, 1000, 0), 0);
	uint64_t mem = store_mem_used(st);
	store_set_maxmemory(st, mem / 2, STORE_EVICT_NOEVICTION);
	assert_int_equal(store_make_room(st), STORE_EOOM);
	assert_int_equal(fill(st, 1000, 1100, 0), 100);
	assert_int_equal(store_count(st), 1000);
	assert_int_equal(store_mem_used(st), mem);
	assert_int_equal(counters_of(st).evicted_keys, 0);
	/* Raising the limit lets writes through again. */
	store_set_maxmemory(st, mem * 2, STORE_EVICT_NOEVICTION);
	assert_int_equal(fill(st, 1000, 1100, 0), 0);
	store_free(st);
}

static void test_every_policy_keeps_memory_under_the_limit_while_keys_are_added(void **state)
{
	(void)state;
	static const int policies[] = {
	        STORE_EVICT_ALLKEYS_LRU,  STORE_EVICT_ALLKEYS_LFU,  STORE_EVICT_ALLKEYS_RANDOM,
	        STORE_EVICT_VOLATILE_LRU, STORE_EVICT_VOLATILE_LFU, STORE_EVICT_VOLATILE_RANDOM,
	        STORE_EVICT_VOLATILE_TTL,
	};
	enum { LIMIT = 256 * 1024, KEYS = 20000 };

	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		store_config cfg = {.shards = 16};
		store_t *st = store_create(&cfg);
		assert_non_null(st);
		store_set_maxmemory(st, LIMIT, policies[p]);
		/* Every key has an expiry, so the volatile policies may evict
		 * any of them too. */
		assert_int_equal(fill(st, 0, KEYS, wall_ms() + 3600 * 1000), 0);
		/* The last write may have gone over: the next command's check
		 * brings memory back under. */
		assert_int_equal(store_make_room(st), STORE_OK);
		uint64_t mem = store_mem_used(st);
		if (mem > LIMIT)
			fail_msg("%s: %llu bytes used, limit %u",
			         store_evict_policy_name(policies[p]), (unsigned long long)mem,
			         LIMIT);
		store_counters c = counters_of(st);
		assert_true(store_count(st) > 1000);
		assert_int_equal(c.evicted_keys + store_count(st), KEYS);
		assert_int_equal(c.expired_keys, 0);
		store_free(st);
	}
}

static void test_volatile_policies_evict_only_keys_with_an_expiry(void **state)
{
	(void)state;
	static const int policies[] = {
	        STORE_EVICT_VOLATILE_LRU,
	        STORE_EVICT_VOLATILE_LFU,
	        STORE_EVICT_VOLATILE_RANDOM,
	        STORE_EVICT_VOLATILE_TTL,
	};
	enum { PERSISTENT = 2000, VOLATILE = 2000 };
	char key[32];

	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		store_config cfg = {.shards = 16};
		store_t *st = store_create(&cfg);
		assert_non_null(st);
		assert_int_equal(fill(st, 0, PERSISTENT, 0), 0);
		uint64_t persistent_mem = store_mem_used(st);
		assert_int_equal(fill(st, PERSISTENT, PERSISTENT + VOLATILE, wall_ms() + 3600000),
		                 0);
		uint64_t all_mem = store_mem_used(st);

		/* Room for about half the volatile keys. */
		uint64_t limit = persistent_mem + (all_mem - persistent_mem) / 2;
		store_set_maxmemory(st, limit, policies[p]);
		assert_int_equal(store_make_room(st), STORE_OK);
		assert_true(store_mem_used(st) <= limit);
		for (unsigned i = 0; i < PERSISTENT; i++)
			assert_int_equal(store_exists(st, key, key_of(key, sizeof(key), i)), 1);
		store_counters c = counters_of(st);
		assert_true(c.evicted_keys > 0);
		assert_int_equal(c.expires, VOLATILE - c.evicted_keys);

		/* Below what the persistent keys need: every volatile key
		 * goes, then there is nothing left to evict. */
		store_set_maxmemory(st, persistent_mem / 2, policies[p]);
		assert_int_equal(store_make_room(st), STORE_EOOM);
		assert_int_equal(counters_of(st).expires, 0);
		assert_int_equal(store_count(st), PERSISTENT);
		for (unsigned i = 0; i < PERSISTENT; i++)
			assert_int_equal(store_exists(st, key, key_of(key, sizeof(key), i)), 1);
		store_free(st);
	}
}

static void test_allkeys_policies_empty_the_store_before_giving_up(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(fill(st, 0, 500, 0), 0);
	/* One byte: every key goes, and then the store uses nothing. */
	store_set_maxmemory(st, 1, STORE_EVICT_ALLKEYS_RANDOM);
	assert_int_equal(store_make_room(st), STORE_OK);
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	assert_int_equal(counters_of(st).evicted_keys, 500);
	store_free(st);
}

/* Fraction of keys [from, to) still present. */
static double survival(store_t *st, unsigned from, unsigned to, unsigned step, unsigned phase)
{
	char key[32];
	unsigned n = 0, alive = 0;

	for (unsigned i = from; i < to; i++) {
		if (i % step != phase)
			continue;
		n++;
		alive += (unsigned)store_exists(st, key, key_of(key, sizeof(key), i));
	}
	return (double)alive / n;
}

/* Evicts half the memory by policy, then checks that the "hot" keys
 * (i % 5 == 0) survived much more often than the others. The checks touch
 * keys, which is harmless once the eviction is over. */
static void evict_half_and_check_hot_keys_survive(store_t *st, unsigned keys, int policy)
{
	uint64_t limit = store_mem_used(st) / 2;
	store_set_maxmemory(st, limit, policy);
	assert_int_equal(store_make_room(st), STORE_OK);
	assert_true(store_mem_used(st) <= limit);

	double cold = 0, hot = survival(st, 0, keys, 5, 0);
	for (unsigned phase = 1; phase < 5; phase++)
		cold += survival(st, 0, keys, 5, phase) / 4;
	/* Expected: hot about 1.0, cold about 0.35 (half the memory, minus
	 * the hot fifth that stays). */
	if (!(hot >= 0.9 && cold <= 0.6))
		fail_msg("%s: hot keys survive %.2f, cold %.2f", store_evict_policy_name(policy),
		         hot, cold);
}

static void
test_allkeys_lru_keeps_recently_read_keys_much_more_often_than_untouched_ones(void **state)
{
	(void)state;
	store_config cfg = {.shards = 16};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { KEYS = 5000 };
	char key[32];

	store_set_maxmemory(st, 0, STORE_EVICT_ALLKEYS_LRU);
	assert_int_equal(fill(st, 0, KEYS, 0), 0);
	/* The LRU clock counts seconds, as Redis's does. */
	sleep_ms(1100);
	for (unsigned i = 0; i < KEYS; i += 5)
		assert_int_equal(store_exists(st, key, key_of(key, sizeof(key), i)), 1);
	evict_half_and_check_hot_keys_survive(st, KEYS, STORE_EVICT_ALLKEYS_LRU);
	store_free(st);
}

static void test_allkeys_lfu_keeps_frequently_read_keys_much_more_often_than_others(void **state)
{
	(void)state;
	store_config cfg = {.shards = 16};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { KEYS = 5000 };
	char key[32];

	store_set_maxmemory(st, 0, STORE_EVICT_ALLKEYS_LFU);
	assert_int_equal(fill(st, 0, KEYS, 0), 0);
	/* Every key is read once (the counter's first step is certain), the
	 * hot ones 30 times more: no waiting for a clock to tick. */
	for (unsigned i = 0; i < KEYS; i++) {
		unsigned reads = i % 5 == 0 ? 31 : 1;
		for (unsigned r = 0; r < reads; r++)
			assert_int_equal(store_exists(st, key, key_of(key, sizeof(key), i)), 1);
	}
	evict_half_and_check_hot_keys_survive(st, KEYS, STORE_EVICT_ALLKEYS_LFU);
	store_free(st);
}

static void test_volatile_lru_keeps_recently_read_keys_with_an_expiry(void **state)
{
	(void)state;
	store_config cfg = {.shards = 16};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { KEYS = 5000 };
	char key[32];

	store_set_maxmemory(st, 0, STORE_EVICT_VOLATILE_LRU);
	assert_int_equal(fill(st, 0, KEYS, wall_ms() + 3600000), 0);
	sleep_ms(1100);
	for (unsigned i = 0; i < KEYS; i += 5)
		assert_int_equal(store_exists(st, key, key_of(key, sizeof(key), i)), 1);
	evict_half_and_check_hot_keys_survive(st, KEYS, STORE_EVICT_VOLATILE_LRU);
	store_free(st);
}

static void test_volatile_ttl_evicts_the_keys_that_expire_soonest_first(void **state)
{
	(void)state;
	store_config cfg = {.shards = 16};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { KEYS = 5000 };
	int64_t now = wall_ms();

	/* Half the keys expire in 1 to 2 hours, half in 10 to 11 hours,
	 * interleaved. */
	char key[32];
	for (unsigned i = 0; i < KEYS; i++) {
		int64_t exp = now + (i % 2 ? 36000000 : 3600000) + (int64_t)i * 700;
		assert_int_equal(store_set(st, key, key_of(key, sizeof(key), i), VAL, VAL_LEN, exp),
		                 STORE_OK);
	}
	uint64_t limit = store_mem_used(st) * 2 / 3;
	store_set_maxmemory(st, limit, STORE_EVICT_VOLATILE_TTL);
	assert_int_equal(store_make_room(st), STORE_OK);
	assert_true(store_mem_used(st) <= limit);
	double soon = survival(st, 0, KEYS, 2, 0), late = survival(st, 0, KEYS, 2, 1);
	/* A third of the keys go: about two thirds of the short-lived ones. */
	if (!(late >= 0.9 && soon <= 0.6))
		fail_msg("short TTLs survive %.2f, long TTLs %.2f", soon, late);
	store_free(st);
}

struct filler {
	store_t *st;
	unsigned id;
	unsigned errors;
};

static void *filler_main(void *arg)
{
	struct filler *f = arg;
	char key[32];

	for (unsigned i = 0; i < 20000; i++) {
		int n = snprintf(key, sizeof(key), "t%u:%u", f->id, i);
		if (store_make_room(f->st) != STORE_OK) {
			f->errors++;
			continue;
		}
		f->errors += store_set(f->st, key, (size_t)n, VAL, VAL_LEN, 0) != STORE_OK;
		if (i % 3 == 0)
			(void)store_exists(f->st, key, (size_t)n);
	}
	return NULL;
}

static void test_make_room_from_several_threads_keeps_memory_bounded(void **state)
{
	(void)state;
	store_config cfg = {.shards = 8};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { THREADS = 4, LIMIT = 512 * 1024 };
	pthread_t tid[THREADS];
	struct filler f[THREADS];

	store_set_maxmemory(st, LIMIT, STORE_EVICT_ALLKEYS_LRU);
	for (unsigned t = 0; t < THREADS; t++) {
		f[t] = (struct filler){.st = st, .id = t};
		assert_int_equal(pthread_create(&tid[t], NULL, filler_main, &f[t]), 0);
	}
	for (unsigned t = 0; t < THREADS; t++) {
		assert_int_equal(pthread_join(tid[t], NULL), 0);
		assert_int_equal(f[t].errors, 0);
	}
	assert_int_equal(store_make_room(st), STORE_OK);
	assert_true(store_mem_used(st) <= LIMIT);
	assert_int_equal(counters_of(st).evicted_keys + store_count(st), THREADS * 20000);
	store_free(st);
}

static void test_changing_the_policy_while_candidates_are_pooled_is_safe(void **state)
{
	(void)state;
	store_config cfg = {.shards = 4};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	static const int order[] = {
	        STORE_EVICT_ALLKEYS_LRU,  STORE_EVICT_VOLATILE_TTL,   STORE_EVICT_ALLKEYS_LFU,
	        STORE_EVICT_VOLATILE_LRU, STORE_EVICT_ALLKEYS_RANDOM,
	};

	assert_int_equal(fill(st, 0, 5000, wall_ms() + 3600000), 0);
	uint64_t mem = store_mem_used(st);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		mem = mem * 4 / 5;
		store_set_maxmemory(st, mem, order[i]);
		assert_int_equal(store_make_room(st), STORE_OK);
		assert_true(store_mem_used(st) <= mem);
		store_clear(st); /* pooled keys now name nothing */
		assert_int_equal(fill(st, 0, 5000, wall_ms() + 3600000), 0);
	}
	/* An unknown policy is taken as noeviction. */
	store_set_maxmemory(st, 1, 12345);
	assert_int_equal(store_make_room(st), STORE_EOOM);
	store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(
	                test_expire_cycle_removes_expired_keys_that_nothing_touches_and_counts_them),
	        cmocka_unit_test(test_expire_cycle_on_a_store_without_expiring_keys_does_nothing),
	        cmocka_unit_test(test_expire_cycle_from_several_threads_removes_each_key_once),
	        cmocka_unit_test(test_lazy_expiry_counts_as_expired_and_a_past_set_does_not),
	        cmocka_unit_test(test_make_room_does_nothing_without_maxmemory_or_under_it),
	        cmocka_unit_test(
	                test_noeviction_over_maxmemory_refuses_with_oom_and_evicts_nothing),
	        cmocka_unit_test(
	                test_every_policy_keeps_memory_under_the_limit_while_keys_are_added),
	        cmocka_unit_test(test_volatile_policies_evict_only_keys_with_an_expiry),
	        cmocka_unit_test(test_allkeys_policies_empty_the_store_before_giving_up),
	        cmocka_unit_test(
	                test_allkeys_lru_keeps_recently_read_keys_much_more_often_than_untouched_ones),
	        cmocka_unit_test(
	                test_allkeys_lfu_keeps_frequently_read_keys_much_more_often_than_others),
	        cmocka_unit_test(test_volatile_lru_keeps_recently_read_keys_with_an_expiry),
	        cmocka_unit_test(test_volatile_ttl_evicts_the_keys_that_expire_soonest_first),
	        cmocka_unit_test(test_make_room_from_several_threads_keeps_memory_bounded),
	        cmocka_unit_test(test_changing_the_policy_while_candidates_are_pooled_is_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
