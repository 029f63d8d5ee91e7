/* test_store.c - unit tests for the keyspace (src/store.c).
 *
 * Every test creates its own store and frees it, so LeakSanitizer in the
 * sanitizer build checks each one for leaks. Growth, shrinking and rehashing
 * are observed through store_stats_get rather than by reaching into store.c.
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
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_testlib.h"

static void test_set_then_get_returns_the_value_and_its_expiry(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	int64_t exp = wall_ms() + 3600 * 1000;

	assert_int_equal(store_set(st, "a", 1, "one", 3, 0), STORE_OK);
	assert_int_equal(store_set(st, "b", 1, "two", 3, exp), STORE_OK);

	struct got g = {0};
	assert_int_equal(store_get(st, "a", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.vlen, 3);
	assert_memory_equal(g.val, "one", 3);
	assert_int_equal(g.expire_at_ms, 0);
	assert_int_equal(store_get(st, "b", 1, copy_value, &g), STORE_OK);
	assert_memory_equal(g.val, "two", 3);
	assert_int_equal(g.expire_at_ms, exp);
	assert_int_equal(g.calls, 2);
	got_free(&g);

	assert_int_equal(store_get(st, "c", 1, copy_value, &g), STORE_ENOTFOUND);
	assert_int_equal(g.calls, 0);
	assert_int_equal(store_get(st, "a", 1, NULL, NULL), STORE_OK);
	assert_int_equal(store_exists(st, "a", 1), 1);
	assert_int_equal(store_exists(st, "c", 1), 0);
	assert_int_equal(store_count(st), 2);
	store_free(st);
}

static void test_set_on_an_existing_key_replaces_value_and_expiry_without_adding_a_key(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(store_set(st, "k", 1, "short", 5, wall_ms() + 60000), STORE_OK);
	uint64_t mem_short = store_mem_used(st);
	char big[4096];
	memset(big, 'x', sizeof(big));
	assert_int_equal(store_set(st, "k", 1, big, sizeof(big), 0), STORE_OK);
	assert_int_equal(store_count(st), 1);
	/* The old entry also held an 8-byte expiry, which the new one has not. */
	assert_true(store_mem_used(st) >= mem_short + sizeof(big) - 5 - sizeof(int64_t));

	struct got g = {0};
	assert_int_equal(store_get(st, "k", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.vlen, sizeof(big));
	assert_memory_equal(g.val, big, sizeof(big));
	assert_int_equal(g.expire_at_ms, 0);
	got_free(&g);

	/* Back to the first value, with an expiry again: back to the same
	 * memory (an entry has room for an expiry only when it has one). */
	assert_int_equal(store_set(st, "k", 1, "short", 5, wall_ms() + 60000), STORE_OK);
	assert_int_equal(store_mem_used(st), mem_short);
	assert_value(st, "k", 1, "short", 5);
	store_free(st);
}

static void test_del_removes_the_key_and_reports_a_missing_one(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(store_set(st, "k", 1, "v", 1, 0), STORE_OK);
	assert_int_equal(store_del(st, "k", 1), STORE_OK);
	assert_int_equal(store_exists(st, "k", 1), 0);
	assert_int_equal(store_get(st, "k", 1, NULL, NULL), STORE_ENOTFOUND);
	assert_int_equal(store_del(st, "k", 1), STORE_ENOTFOUND);
	assert_int_equal(store_del(st, "never", 5), STORE_ENOTFOUND);
	assert_int_equal(store_count(st), 0);
	store_free(st);
}

static void test_keys_are_binary_safe_with_nul_and_every_byte_value(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	/* 256 one-byte keys, one per byte value, each holding its own byte. */
	for (unsigned i = 0; i < 256; i++) {
		unsigned char k = (unsigned char)i;
		assert_int_equal(store_set(st, &k, 1, &k, 1, 0), STORE_OK);
	}
	/* One key holding every byte value, NUL first. */
	unsigned char all[256];
	for (unsigned i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	assert_int_equal(store_set(st, all, sizeof(all), all, sizeof(all), 0), STORE_OK);
	/* Keys that differ only after an embedded NUL, or by a trailing NUL. */
	assert_int_equal(store_set(st, "a\0b", 3, "1", 1, 0), STORE_OK);
	assert_int_equal(store_set(st, "a\0c", 3, "2", 1, 0), STORE_OK);
	assert_int_equal(store_set(st, "a\0", 2, "3", 1, 0), STORE_OK);
	assert_int_equal(store_set(st, "\0\0", 2, "v\0v", 3, 0), STORE_OK);
	assert_int_equal(store_count(st), 256 + 1 + 4);

	for (unsigned i = 0; i < 256; i++) {
		unsigned char k = (unsigned char)i;
		assert_value(st, &k, 1, &k, 1);
	}
	assert_value(st, all, sizeof(all), all, sizeof(all));
	assert_value(st, "a\0b", 3, "1", 1);
	assert_value(st, "a\0c", 3, "2", 1);
	assert_value(st, "a\0", 2, "3", 1);
	assert_value(st, "\0\0", 2, "v\0v", 3);
	assert_int_equal(store_exists(st, "a\0d", 3), 0);
	assert_int_equal(store_exists(st, "\0\0\0", 3), 0);
	/* "a" is a prefix of several keys and exists as key "a" only via byte 'a'. */
	assert_value(st, "a", 1, "a", 1);
	assert_int_equal(store_exists(st, all, sizeof(all) - 1), 0);
	store_free(st);
}

static void test_empty_key_and_empty_value_are_stored_and_distinct(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(store_set(st, "", 0, "", 0, 0), STORE_OK);
	assert_int_equal(store_exists(st, "", 0), 1);
	assert_int_equal(store_exists(st, NULL, 0), 1);
	assert_value(st, "", 0, "", 0);
	assert_int_equal(store_set(st, "\0", 1, NULL, 0, 0), STORE_OK);
	assert_int_equal(store_count(st), 2);

	assert_int_equal(store_set(st, NULL, 0, "x", 1, 0), STORE_OK);
	assert_value(st, "", 0, "x", 1);
	assert_value(st, "\0", 1, "", 0);
	assert_int_equal(store_count(st), 2);
	assert_int_equal(store_del(st, "", 0), STORE_OK);
	assert_int_equal(store_exists(st, "", 0), 0);
	assert_int_equal(store_exists(st, "\0", 1), 1);
	store_free(st);
}

static void
test_key_at_the_limit_is_stored_and_one_byte_over_is_rejected_before_allocating(void **state)
{
	(void)state;
	store_t *st = store_create(NULL); /* default limit: 64 KiB */
	assert_non_null(st);
	size_t limit = 64 * 1024;
	unsigned char *key = malloc(limit + 1);
	assert_non_null(key);
	memset(key, 'k', limit + 1);

	assert_int_equal(store_set(st, key, limit, "v", 1, 0), STORE_OK);
	assert_int_equal(store_count(st), 1);
	assert_value(st, key, limit, "v", 1);
	uint64_t mem = store_mem_used(st);
	assert_true(mem >= limit);

	assert_int_equal(store_set(st, key, limit + 1, "v", 1, 0), STORE_EKEYTOOBIG);
	assert_int_equal(store_set(st, key, SIZE_MAX, "v", 1, 0), STORE_EKEYTOOBIG);
	assert_int_equal(store_mem_used(st), mem);
	assert_int_equal(store_count(st), 1);
	/* Such a key cannot exist: reads and deletes report it absent. */
	assert_int_equal(store_get(st, key, limit + 1, NULL, NULL), STORE_ENOTFOUND);
	assert_int_equal(store_exists(st, key, limit + 1), 0);
	assert_int_equal(store_del(st, key, limit + 1), STORE_ENOTFOUND);
	assert_int_equal(store_count(st), 1);
	free(key);
	store_free(st);
}

static void
test_value_at_the_limit_is_stored_and_one_byte_over_is_rejected_before_allocating(void **state)
{
	(void)state;
	store_config cfg = {.max_value_bytes = 1000, .max_key_bytes = 10};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	unsigned char val[1001];
	memset(val, 'v', sizeof(val));

	assert_int_equal(store_set(st, "k", 1, val, 1000, 0), STORE_OK);
	uint64_t mem = store_mem_used(st);
	assert_int_equal(store_set(st, "k", 1, val, 1001, 0), STORE_EVALTOOBIG);
	assert_int_equal(store_set(st, "other", 5, val, 1001, 0), STORE_EVALTOOBIG);
	assert_int_equal(store_mem_used(st), mem);
	assert_int_equal(store_count(st), 1);
	assert_value(st, "k", 1, val, 1000);
	assert_int_equal(store_exists(st, "other", 5), 0);

	/* The key limit is checked first and is configurable too. */
	assert_int_equal(store_set(st, "0123456789", 10, "v", 1, 0), STORE_OK);
	assert_int_equal(store_set(st, "0123456789a", 11, val, 1001, 0), STORE_EKEYTOOBIG);
	store_free(st);
}

static void
test_count_and_mem_used_go_up_and_back_to_the_baseline_after_deleting_everything(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	assert_int_equal(store_count(st), 0);
	uint64_t base = store_mem_used(st);
	assert_int_equal(base, 0); /* an empty shard owns no table */
	enum { N = 20000, VLEN = 40 };
	char key[32], val[VLEN];
	uint64_t payload = 0;

	memset(val, 'v', sizeof(val));
	for (unsigned i = 0; i < N; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, val, VLEN, 0), STORE_OK);
		assert_int_equal(store_count(st), i + 1);
		payload += klen + VLEN;
	}
	/* At least the payload plus a pointer per bucket and key. */
	assert_true(store_mem_used(st) >= payload + N * sizeof(void *));
	assert_true(stats_of(st).buckets >= N / 2);

	for (unsigned i = 0; i < N; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_int_equal(store_del(st, key, klen), STORE_OK);
		assert_int_equal(store_count(st), N - i - 1);
	}
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), base);
	assert_int_equal(stats_of(st).buckets, 0);
	store_free(st);
}

/* Verifies keys [from, to) hold their index as value; counts lookups made
 * while a rehash was still in progress. */
static unsigned verify_range(store_t *st, unsigned from, unsigned to)
{
	char key[32];
	unsigned mid_rehash = 0;

	for (unsigned i = from; i < to; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_value(st, key, klen, &i, sizeof(i));
		if (i % 64 == 0)
			mid_rehash += stats_of(st).rehashing > 0;
	}
	return mid_rehash;
}

static void test_two_hundred_thousand_keys_stay_visible_while_tables_grow_and_shrink(void **state)
{
	(void)state;
	/* One shard: one table going from 4 to 2^18 buckets and back. */
	store_config cfg = {.shards = 1};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 200000 };
	char key[32];
	unsigned rehashes = 0, mid_rehash_checks = 0;
	uint64_t max_buckets = 0;
	bool was_rehashing = false;

	for (unsigned i = 0; i < N; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, &i, sizeof(i), 0), STORE_OK);
		store_stats s = stats_of(st);
		if (s.buckets > max_buckets)
			max_buckets = s.buckets;
		if (s.rehashing && !was_rehashing) {
			/* A grow has just begun: every key so far must be found,
			 * in whichever table it currently lives. */
			rehashes++;
			mid_rehash_checks += verify_range(st, 0, i + 1);
		}
		was_rehashing = stats_of(st).rehashing > 0;
	}
	assert_int_equal(store_count(st), N);
	assert_true(rehashes >= 15); /* 4 -> 2^18 is 16 doublings */
	assert_true(max_buckets >= N);
	assert_true(mid_rehash_checks > 0);
	verify_range(st, 0, N);

	unsigned shrinks = 0;
	was_rehashing = stats_of(st).rehashing > 0;
	for (unsigned i = 0; i < N; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_int_equal(store_del(st, key, klen), STORE_OK);
		store_stats s = stats_of(st);
		if (s.rehashing && !was_rehashing) {
			shrinks++;
			mid_rehash_checks += verify_range(st, i + 1, N);
			for (unsigned j = 0; j <= i; j += 97) {
				klen = key_of(key, sizeof(key), j);
				assert_int_equal(store_exists(st, key, klen), 0);
			}
		}
		was_rehashing = stats_of(st).rehashing > 0;
	}
	assert_true(shrinks >= 5);
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	assert_int_equal(stats_of(st).buckets, 0);
	store_free(st);
}

static void test_expired_entries_are_invisible_and_freed_when_touched(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	/* The baseline is measured in the same store: malloc's rounding
	 * depends on the state of the heap, so another store could differ. */
	assert_int_equal(store_set(st, "keep", 4, "v", 1, 0), STORE_OK);
	uint64_t mem_keep_only = store_mem_used(st);
	int64_t soon = wall_ms() + 5;

	assert_int_equal(store_set(st, "get", 3, "v", 1, soon), STORE_OK);
	assert_int_equal(store_set(st, "exists", 6, "v", 1, soon), STORE_OK);
	assert_int_equal(store_set(st, "del", 3, "v", 1, soon), STORE_OK);
	assert_int_equal(store_set(st, "set", 3, "v", 1, soon), STORE_OK);
	sleep_until_past(soon);

	/* Expiry is lazy: the entries are still counted until touched. */
	assert_int_equal(store_count(st), 5);
	struct got g = {0};
	assert_int_equal(store_get(st, "get", 3, copy_value, &g), STORE_ENOTFOUND);
	assert_int_equal(g.calls, 0);
	assert_int_equal(store_count(st), 4);
	assert_int_equal(store_exists(st, "exists", 6), 0);
	assert_int_equal(store_count(st), 3);
	assert_int_equal(store_del(st, "del", 3), STORE_ENOTFOUND);
	assert_int_equal(store_count(st), 2);
	/* Setting over an expired key replaces it: no duplicate. */
	assert_int_equal(store_set(st, "set", 3, "new", 3, 0), STORE_OK);
	assert_int_equal(store_count(st), 2);
	assert_value(st, "set", 3, "new", 3);
	assert_int_equal(store_del(st, "set", 3), STORE_OK);

	assert_int_equal(store_count(st), 1);
	assert_int_equal(store_mem_used(st), mem_keep_only);
	assert_value(st, "keep", 4, "v", 1);
	store_free(st);
}

static void test_set_with_an_expiry_in_the_past_deletes_the_key(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(store_set(st, "k", 1, "v", 1, 0), STORE_OK);
	assert_int_equal(store_set(st, "k", 1, "w", 1, wall_ms() - 1000), STORE_OK);
	assert_int_equal(store_exists(st, "k", 1), 0);
	assert_int_equal(store_set(st, "n", 1, "w", 1, 1), STORE_OK);
	assert_int_equal(store_exists(st, "n", 1), 0);
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	store_free(st);
}

static void test_clear_removes_every_key_and_frees_every_table(void **state)
{
	(void)state;
	store_config cfg = {.shards = 16};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	char key[32];

	/* 5000 keys with 16 shards leaves some shards mid-rehash. */
	for (unsigned i = 0; i < 5000; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_int_equal(store_set(st, key, klen, "v", 1, i % 2 ? wall_ms() + 60000 : 0),
		                 STORE_OK);
	}
	assert_true(store_mem_used(st) > 0);
	store_clear(st);
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	store_stats s = stats_of(st);
	assert_int_equal(s.buckets, 0);
	assert_int_equal(s.rehashing, 0);
	assert_int_equal(s.shards, 16);
	for (unsigned i = 0; i < 5000; i += 7) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_int_equal(store_exists(st, key, klen), 0);
	}

	/* The store is usable afterwards, and clearing an empty store is fine. */
	assert_int_equal(store_set(st, "k", 1, "v", 1, 0), STORE_OK);
	assert_value(st, "k", 1, "v", 1);
	store_clear(st);
	store_clear(st);
	assert_int_equal(store_count(st), 0);
	store_free(st);
}

/* Concurrency: threads on an overlapping key space, mixing every operation. */
enum { THREADS = 4, OPS_PER_THREAD = 50000, SHARED_KEYS = 1000 };

struct worker {
	store_t *st;
	unsigned id;
	unsigned errors;
	unsigned bad_values;
};

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* Values are "k<key>|t<thread>" and dots, then "|", of varying length: a
 * reader checks that it got the whole value of the key it asked for. */
struct check {
	unsigned key;
	bool ok;
};

static void check_value(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	struct check *c = arg;
	char prefix[32];
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "k%u|t", c->key);
	const unsigned char *v = val;

	(void)expire_at_ms;
	c->ok = vlen >= n + 2 && memcmp(v, prefix, n) == 0 && v[n] >= '0' && v[n] < '0' + THREADS &&
	        v[vlen - 1] == '|';
	for (size_t i = n + 1; c->ok && i + 1 < vlen; i++)
		c->ok = v[i] == '.';
}

/* cmocka's assertions must run on the test's own thread, so workers count
 * failures and the test asserts on the counts after joining. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint32_t rng = 0x9e3779b9u * (w->id + 1);
	char key[32], val[128];

	for (unsigned op = 0; op < OPS_PER_THREAD; op++) {
		uint32_t r = xorshift(&rng);
		unsigned k = r % SHARED_KEYS;
		int klen = snprintf(key, sizeof(key), "k%u", k);
		unsigned what = (r >> 16) % 100;

		if (what < 40) {
			int n = snprintf(val, sizeof(val), "k%u|t%u", k, w->id);
			size_t pad = (r >> 8) % 64;
			memset(val + n, '.', pad);
			val[(size_t)n + pad] = '|';
			/* A few keys expire within milliseconds, so lazy expiry
			 * races with the other threads too. */
			int64_t exp = what < 4 ? wall_ms() + 1 + (r >> 24) % 3 : 0;
			w->errors += store_set(w->st, key, (size_t)klen, val, (size_t)n + pad + 1,
			                       exp) != STORE_OK;
		} else if (what < 60) {
			int rc = store_del(w->st, key, (size_t)klen);
			w->errors += rc != STORE_OK && rc != STORE_ENOTFOUND;
		} else if (what < 90) {
			struct check c = {.key = k, .ok = true};
			int rc = store_get(w->st, key, (size_t)klen, check_value, &c);
			w->errors += rc != STORE_OK && rc != STORE_ENOTFOUND;
			w->bad_values += !c.ok;
		} else if (what < 99 || op % 64 != 0) {
			int e = store_exists(w->st, key, (size_t)klen);
			w->errors += e != 0 && e != 1;
			(void)store_count(w->st);
			(void)store_mem_used(w->st);
		} else {
			store_clear(w->st);
		}
	}
	return NULL;
}

static void run_workers(store_t *st)
{
	pthread_t tid[THREADS];
	struct worker w[THREADS];

	for (unsigned i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.st = st, .id = i};
		assert_int_equal(pthread_create(&tid[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
		assert_int_equal(w[i].bad_values, 0);
	}
}

static void test_concurrent_operations_on_overlapping_keys_leave_consistent_counts(void **state)
{
	(void)state;
	/* Few shards: more contention, and tables that grow and shrink while
	 * other threads use them. */
	static const unsigned shard_counts[] = {1, 4, 256};

	for (size_t s = 0; s < sizeof(shard_counts) / sizeof(shard_counts[0]); s++) {
		store_config cfg = {.shards = shard_counts[s]};
		store_t *st = store_create(&cfg);
		assert_non_null(st);
		run_workers(st);

		/* Touching every key frees the expired ones; what remains is
		 * exactly what exists. */
		char key[32];
		uint64_t live = 0;
		for (unsigned k = 0; k < SHARED_KEYS; k++) {
			int klen = snprintf(key, sizeof(key), "k%u", k);
			live += (uint64_t)store_exists(st, key, (size_t)klen);
		}
		assert_int_equal(store_count(st), live);
		assert_true(live == 0 || store_mem_used(st) > 0);
		for (unsigned k = 0; k < SHARED_KEYS; k++) {
			int klen = snprintf(key, sizeof(key), "k%u", k);
			(void)store_del(st, key, (size_t)klen);
		}
		assert_int_equal(store_count(st), 0);
		assert_int_equal(store_mem_used(st), 0);
		assert_int_equal(stats_of(st).buckets, 0);
		store_free(st);
	}
}

static void test_create_rejects_invalid_configurations(void **state)
{
	(void)state;
	store_config bad[] = {
	        {.shards = 3},
	        {.shards = 100},
	        {.shards = STORE_SHARDS_MAX * 2},
	        {.max_key_bytes = (size_t)STORE_LIMIT_MAX + 1},
	        {.max_value_bytes = (size_t)STORE_LIMIT_MAX + 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(store_create(&bad[i]));

	store_config good[] = {
	        {.shards = 1},
	        {.shards = STORE_SHARDS_MAX},
	        {.max_key_bytes = STORE_LIMIT_MAX, .max_value_bytes = STORE_LIMIT_MAX},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		store_t *st = store_create(&good[i]);
		assert_non_null(st);
		assert_int_equal(store_set(st, "k", 1, "v", 1, 0), STORE_OK);
		assert_value(st, "k", 1, "v", 1);
		assert_int_equal(stats_of(st).shards, good[i].shards ? good[i].shards : 256);
		store_free(st);
	}
	store_free(NULL);
}

static void test_strerror_gives_a_short_lowercase_reason_for_every_error(void **state)
{
	(void)state;
	assert_string_equal(store_strerror(STORE_EKEYTOOBIG), "key too large");
	assert_string_equal(store_strerror(STORE_EVALTOOBIG), "value too large");
	assert_string_equal(store_strerror(STORE_ENOMEM), "out of memory");
	assert_string_equal(store_strerror(STORE_ENOTFOUND), "no such key");
	assert_string_equal(store_strerror(STORE_OK), "ok");
	assert_string_equal(store_strerror(STORE_ECOND), "condition not met");
	assert_string_equal(store_strerror(STORE_EOOM),
	                    "command not allowed when used memory > 'maxmemory'.");
	assert_string_equal(store_strerror(-1000), "unknown error");
}

/* RLIMIT_AS makes malloc fail for real. Sanitizers reserve terabytes of
 * address space for their shadow memory, so the test is skipped under them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
        __has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

static void test_set_reports_out_of_memory_and_leaves_the_store_unchanged(void **state)
{
	(void)state;
#ifdef UNDER_SANITIZER
	skip();
#else
	enum { BIG = 256 * 1024 * 1024 };
	store_t *st = store_create(NULL);
	assert_non_null(st);
	assert_int_equal(store_set(st, "k", 1, "old", 3, 0), STORE_OK);
	uint64_t mem = store_mem_used(st);
	/* calloc of this size maps zero pages lazily: no real memory used. */
	unsigned char *big = calloc(1, BIG);
	assert_non_null(big);

	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pages), 1);
	fclose(f);
	struct rlimit saved, lim;
	assert_int_equal(getrlimit(RLIMIT_AS, &saved), 0);
	lim = saved;
	lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + 64 * 1024 * 1024;
	assert_int_equal(setrlimit(RLIMIT_AS, &lim), 0);

	int rc_replace = store_set(st, "k", 1, big, BIG, 0);
	int rc_new = store_set(st, "new", 3, big, BIG, 0);

	assert_int_equal(setrlimit(RLIMIT_AS, &saved), 0);
	assert_int_equal(rc_replace, STORE_ENOMEM);
	assert_int_equal(rc_new, STORE_ENOMEM);
	assert_int_equal(store_count(st), 1);
	assert_int_equal(store_mem_used(st), mem);
	assert_value(st, "k", 1, "old", 3);
	assert_int_equal(store_exists(st, "new", 3), 0);
	free(big);
	store_free(st);
#endif
}

static void test_large_values_are_set_and_replaced_correctly_while_tables_resize(void **state)
{
	(void)state;
	/* Values over 512 bytes are copied before the shard is locked. */
	store_config cfg = {.shards = 1};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 3000 };
	char key[32];
	unsigned char val[800];

	for (unsigned round = 0; round < 2; round++) {
		for (unsigned i = 0; i < N; i++) {
			size_t klen = key_of(key, sizeof(key), i);
			memset(val, (int)(i + round), sizeof(val));
			size_t vlen = 600 + round * 100 + i % 50;
			assert_int_equal(store_set(st, key, klen, val, vlen, 0), STORE_OK);
		}
	}
	assert_int_equal(store_count(st), N);
	for (unsigned i = 0; i < N; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		memset(val, (int)(i + 1), sizeof(val));
		assert_value(st, key, klen, val, 700 + i % 50);
	}
	store_free(st);
}

static void test_overwriting_a_value_with_one_of_the_same_size_costs_no_memory(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	static const size_t sizes[] = {0, 1, 32, 255, 256, 300, 512};
	char v1[512], v2[512];

	memset(v1, '1', sizeof(v1));
	memset(v2, '2', sizeof(v2));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		int64_t exp = wall_ms() + 60000;
		assert_int_equal(store_set(st, "k", 1, v1, n, exp), STORE_OK);
		uint64_t mem = store_mem_used(st);
		assert_int_equal(store_set(st, "k", 1, v2, n, exp + 1), STORE_OK);
		assert_int_equal(store_mem_used(st), mem);
		struct got g = {0};
		assert_int_equal(store_get(st, "k", 1, copy_value, &g), STORE_OK);
		assert_int_equal(g.vlen, n);
		if (n > 0)
			assert_memory_equal(g.val, v2, n);
		assert_int_equal(g.expire_at_ms, exp + 1);
		got_free(&g);
		/* Dropping the expiry in place is counted too. */
		assert_int_equal(store_set(st, "k", 1, v1, n, 0), STORE_OK);
		store_counters c;
		store_counters_get(st, &c);
		assert_int_equal(c.expires, 0);
		assert_value(st, "k", 1, v1, n);
	}
	assert_int_equal(store_count(st), 1);
	store_free(st);
}

static void test_evict_policy_names_parse_and_print_back(void **state)
{
	(void)state;
	static const char *const names[] = {
	        "noeviction",   "allkeys-lru",  "allkeys-lfu",     "allkeys-random",
	        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
	};
	for (int i = 0; i < 8; i++) {
		assert_int_equal(store_evict_policy_parse(names[i]), i);
		assert_string_equal(store_evict_policy_name(i), names[i]);
	}
	assert_int_equal(store_evict_policy_parse("ALLKEYS-LRU"), STORE_EVICT_ALLKEYS_LRU);
	assert_int_equal(store_evict_policy_parse("allkeys"), -1);
	assert_int_equal(store_evict_policy_parse(""), -1);
	assert_string_equal(store_evict_policy_name(-1), "unknown");
	assert_string_equal(store_evict_policy_name(8), "unknown");
}

/* store_reserve sizes empty shards for a load: inserting that many keys
 * afterwards starts no resize, and a shard holding keys is left alone. */
static void test_reserve_sizes_empty_shards_so_a_load_needs_no_resize(void **state)
{
	(void)state;
	enum { N = 100000 };
	store_t *st = store_create(NULL);
	assert_non_null(st);
	store_stats before, after;
	store_stats_get(st, &before);
	store_reserve(st, N);
	store_stats_get(st, &after);
	assert_true(after.buckets > before.buckets);
	assert_true(after.buckets >= N);
	uint64_t reserved = after.buckets;
	for (int i = 0; i < N; i++) {
		char k[32];
		int n = snprintf(k, sizeof k, "key:%012d", i);
		assert_int_equal(store_set(st, k, (size_t)n, "v", 1, 0), STORE_OK);
		if (i % 997 == 0) {
			store_stats_get(st, &after);
			assert_int_equal(after.rehashing, 0);
		}
	}
	store_stats_get(st, &after);
	assert_int_equal(after.buckets, reserved);
	assert_int_equal(after.rehashing, 0);
	assert_int_equal(store_count(st), N);
	/* Shards with keys keep their tables. */
	store_reserve(st, 100 * (uint64_t)N);
	store_stats_get(st, &after);
	assert_int_equal(after.buckets, reserved);
	store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_set_then_get_returns_the_value_and_its_expiry),
	        cmocka_unit_test(test_reserve_sizes_empty_shards_so_a_load_needs_no_resize),
	        cmocka_unit_test(
	                test_set_on_an_existing_key_replaces_value_and_expiry_without_adding_a_key),
	        cmocka_unit_test(test_del_removes_the_key_and_reports_a_missing_one),
	        cmocka_unit_test(test_keys_are_binary_safe_with_nul_and_every_byte_value),
	        cmocka_unit_test(test_empty_key_and_empty_value_are_stored_and_distinct),
	        cmocka_unit_test(
	                test_key_at_the_limit_is_stored_and_one_byte_over_is_rejected_before_allocating),
	        cmocka_unit_test(
	                test_value_at_the_limit_is_stored_and_one_byte_over_is_rejected_before_allocating),
	        cmocka_unit_test(
	                test_count_and_mem_used_go_up_and_back_to_the_baseline_after_deleting_everything),
	        cmocka_unit_test(
	                test_two_hundred_thousand_keys_stay_visible_while_tables_grow_and_shrink),
	        cmocka_unit_test(test_expired_entries_are_invisible_and_freed_when_touched),
	        cmocka_unit_test(test_set_with_an_expiry_in_the_past_deletes_the_key),
	        cmocka_unit_test(test_clear_removes_every_key_and_frees_every_table),
	        cmocka_unit_test(
	                test_concurrent_operations_on_overlapping_keys_leave_consistent_counts),
	        cmocka_unit_test(test_create_rejects_invalid_configurations),
	        cmocka_unit_test(test_strerror_gives_a_short_lowercase_reason_for_every_error),
	        cmocka_unit_test(test_set_reports_out_of_memory_and_leaves_the_store_unchanged),
	        cmocka_unit_test(
	                test_large_values_are_set_and_replaced_correctly_while_tables_resize),
	        cmocka_unit_test(
	                test_overwriting_a_value_with_one_of_the_same_size_costs_no_memory),
	        cmocka_unit_test(test_evict_policy_names_parse_and_print_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
