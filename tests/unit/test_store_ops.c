/* test_store_ops.c - unit tests for the conditional, read-modify-write and
 * multi-key operations of the keyspace (src/store.c): store_set_ex,
 * store_update, store_rename, store_copy and store_mset.
 *
 * Every test creates its own store and frees it. The MSET atomicity test
 * reads from another thread and asserts only after joining it.
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

/* ---- Conditional writes ---- */

static void test_set_nx_writes_only_an_absent_key_and_xx_only_an_existing_one(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(store_set_ex(st, "k", 1, "v1", 2, 0, STORE_SET_XX, NULL, NULL),
	                 STORE_ECOND);
	assert_int_equal(store_exists(st, "k", 1), 0);
	assert_int_equal(store_set_ex(st, "k", 1, "v1", 2, 0, STORE_SET_NX, NULL, NULL), STORE_OK);
	assert_value(st, "k", 1, "v1", 2);
	assert_int_equal(store_set_ex(st, "k", 1, "v2", 2, 0, STORE_SET_NX, NULL, NULL),
	                 STORE_ECOND);
	assert_value(st, "k", 1, "v1", 2);
	assert_int_equal(store_set_ex(st, "k", 1, "v3", 2, 0, STORE_SET_XX, NULL, NULL), STORE_OK);
	assert_value(st, "k", 1, "v3", 2);
	/* Both at once can never hold. */
	assert_int_equal(
	        store_set_ex(st, "k", 1, "v4", 2, 0, STORE_SET_NX | STORE_SET_XX, NULL, NULL),
	        STORE_ECOND);
	assert_int_equal(
	        store_set_ex(st, "n", 1, "v4", 2, 0, STORE_SET_NX | STORE_SET_XX, NULL, NULL),
	        STORE_ECOND);
	assert_value(st, "k", 1, "v3", 2);
	assert_int_equal(store_count(st), 1);

	/* An expired key counts as absent. */
	int64_t soon = wall_ms() + 5;
	assert_int_equal(store_set(st, "e", 1, "old", 3, soon), STORE_OK);
	sleep_until_past(soon);
	assert_int_equal(store_set_ex(st, "e", 1, "x", 1, 0, STORE_SET_XX, NULL, NULL),
	                 STORE_ECOND);
	assert_int_equal(store_set_ex(st, "e", 1, "new", 3, 0, STORE_SET_NX, NULL, NULL), STORE_OK);
	assert_value(st, "e", 1, "new", 3);

	/* Limits come first. */
	store_free(st);
	store_config cfg = {.max_key_bytes = 4, .max_value_bytes = 4};
	st = store_create(&cfg);
	assert_non_null(st);
	assert_int_equal(store_set_ex(st, "12345", 5, "v", 1, 0, 0, NULL, NULL), STORE_EKEYTOOBIG);
	assert_int_equal(store_set_ex(st, "k", 1, "12345", 5, 0, STORE_SET_XX, NULL, NULL),
	                 STORE_EVALTOOBIG);
	assert_int_equal(store_count(st), 0);
	store_free(st);
}

static void test_set_keepttl_keeps_the_existing_expiry_and_gives_a_new_key_none(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	int64_t exp = wall_ms() + 3600 * 1000;
	struct got g = {0};

	assert_int_equal(store_set(st, "k", 1, "v", 1, exp), STORE_OK);
	/* The expiry argument is ignored with KEEPTTL. */
	assert_int_equal(
	        store_set_ex(st, "k", 1, "w", 1, wall_ms() + 5, STORE_SET_KEEPTTL, NULL, NULL),
	        STORE_OK);
	assert_int_equal(store_get(st, "k", 1, copy_value, &g), STORE_OK);
	assert_memory_equal(g.val, "w", 1);
	assert_int_equal(g.expire_at_ms, exp);

	assert_int_equal(store_set_ex(st, "n", 1, "v", 1, 0, STORE_SET_KEEPTTL, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_get(st, "n", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.expire_at_ms, 0);

	/* Values too large to copy under the lock take another path. */
	char big[600];
	memset(big, 'b', sizeof(big));
	assert_int_equal(
	        store_set_ex(st, "k", 1, big, sizeof(big), 0, STORE_SET_KEEPTTL, NULL, NULL),
	        STORE_OK);
	assert_int_equal(store_get(st, "k", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.vlen, sizeof(big));
	assert_memory_equal(g.val, big, sizeof(big));
	assert_int_equal(g.expire_at_ms, exp);
	assert_int_equal(
	        store_set_ex(st, "b", 1, big, sizeof(big), 0, STORE_SET_KEEPTTL, NULL, NULL),
	        STORE_OK);
	assert_int_equal(store_get(st, "b", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.expire_at_ms, 0);
	assert_int_equal(store_set_ex(st, "b", 1, big, sizeof(big), exp, STORE_SET_XX, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_get(st, "b", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.expire_at_ms, exp);
	assert_int_equal(store_del(st, "b", 1), STORE_OK);

	/* Without KEEPTTL a SET drops the expiry. */
	assert_int_equal(store_set_ex(st, "k", 1, "x", 1, 0, 0, NULL, NULL), STORE_OK);
	assert_int_equal(store_get(st, "k", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.expire_at_ms, 0);
	store_counters c;
	store_counters_get(st, &c);
	assert_int_equal(c.expires, 0);
	got_free(&g);
	store_free(st);
}

static void
test_set_get_callback_sees_the_old_value_whether_or_not_the_condition_holds(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	struct got g = {0};

	/* No old value: no call. */
	assert_int_equal(store_set_ex(st, "k", 1, "one", 3, 0, 0, copy_value, &g), STORE_OK);
	assert_int_equal(g.calls, 0);
	assert_int_equal(store_set_ex(st, "k", 1, "two", 3, 0, 0, copy_value, &g), STORE_OK);
	assert_int_equal(g.calls, 1);
	assert_memory_equal(g.val, "one", 3);
	/* NX fails, the old value is still reported and kept. */
	assert_int_equal(store_set_ex(st, "k", 1, "three", 5, 0, STORE_SET_NX, copy_value, &g),
	                 STORE_ECOND);
	assert_int_equal(g.calls, 2);
	assert_int_equal(g.vlen, 3);
	assert_memory_equal(g.val, "two", 3);
	assert_value(st, "k", 1, "two", 3);
	/* XX on a missing key: nothing to report. */
	assert_int_equal(store_set_ex(st, "m", 1, "x", 1, 0, STORE_SET_XX, copy_value, &g),
	                 STORE_ECOND);
	assert_int_equal(g.calls, 2);
	got_free(&g);
	store_free(st);
}

static void test_set_ex_with_an_expiry_in_the_past_deletes_the_key_after_reporting_it(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	struct got g = {0};

	assert_int_equal(store_set(st, "k", 1, "v", 1, 0), STORE_OK);
	assert_int_equal(store_set_ex(st, "k", 1, "w", 1, wall_ms() - 1, 0, copy_value, &g),
	                 STORE_OK);
	assert_int_equal(g.calls, 1);
	assert_memory_equal(g.val, "v", 1);
	assert_int_equal(store_exists(st, "k", 1), 0);
	assert_int_equal(store_set_ex(st, "n", 1, "w", 1, 1, 0, NULL, NULL), STORE_OK);
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	got_free(&g);
	store_free(st);
}

/* ---- Read-modify-write ---- */

/* What an update callback is told to do, and what it saw. */
struct upd {
	enum store_upd_action action;
	const char *add; /* appended by fill */
	size_t new_len;  /* 0: computed as APPEND would */
	int64_t expire_at_ms;
	bool keep_ttl;
	int ret;
	/* seen */
	int calls;
	bool saw_key;
	char seen[64];
	size_t seen_len;
	int64_t seen_expire;
};

static void append_fill(char *dst, const store_val *cur, void *arg)
{
	struct upd *u = arg;
	size_t n = cur != NULL ? cur->vlen : 0;

	if (n > 0)
		memcpy(dst, cur->val, n);
	memcpy(dst + n, u->add, strlen(u->add));
}

static int upd_fn(const store_val *cur, store_upd *out, void *arg)
{
	struct upd *u = arg;

	u->calls++;
	u->saw_key = cur != NULL;
	if (cur != NULL) {
		u->seen_len = cur->vlen < sizeof(u->seen) ? cur->vlen : sizeof(u->seen);
		memcpy(u->seen, cur->val, u->seen_len);
		u->seen_expire = cur->expire_at_ms;
	}
	out->action = u->action;
	out->expire_at_ms = u->keep_ttl && cur != NULL ? cur->expire_at_ms : u->expire_at_ms;
	if (u->action == STORE_UPD_WRITE) {
		out->new_len = u->new_len != 0 ? u->new_len
		                               : (cur != NULL ? cur->vlen : 0) + strlen(u->add);
		out->fill = u->add != NULL ? append_fill : NULL;
	}
	return u->ret;
}

static void test_update_write_creates_a_missing_key_and_appends_to_an_existing_one(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	struct upd u = {.action = STORE_UPD_WRITE, .add = "abc", .ret = 7};
	assert_int_equal(store_update(st, "k", 1, upd_fn, &u), 7);
	assert_false(u.saw_key);
	assert_value(st, "k", 1, "abc", 3);

	/* APPEND keeps the TTL when fn passes it on. */
	int64_t exp = wall_ms() + 60000;
	assert_int_equal(store_set(st, "t", 1, "12", 2, exp), STORE_OK);
	u = (struct upd){.action = STORE_UPD_WRITE, .add = "345", .keep_ttl = true};
	assert_int_equal(store_update(st, "t", 1, upd_fn, &u), 0);
	assert_true(u.saw_key);
	assert_int_equal(u.seen_len, 2);
	assert_memory_equal(u.seen, "12", 2);
	assert_int_equal(u.seen_expire, exp);
	struct got g = {0};
	assert_int_equal(store_get(st, "t", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.vlen, 5);
	assert_memory_equal(g.val, "12345", 5);
	assert_int_equal(g.expire_at_ms, exp);

	/* Growing past 255 bytes changes the entry's length format. */
	char big[300];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	u = (struct upd){.action = STORE_UPD_WRITE, .add = big};
	assert_int_equal(store_update(st, "t", 1, upd_fn, &u), 0);
	assert_int_equal(store_get(st, "t", 1, copy_value, &g), STORE_OK);
	assert_int_equal(g.vlen, 5 + sizeof(big) - 1);
	assert_memory_equal(g.val, "12345bbb", 8);
	assert_int_equal(g.expire_at_ms, 0);

	/* Without fill the value is zero-filled. */
	u = (struct upd){.action = STORE_UPD_WRITE, .new_len = 4};
	assert_int_equal(store_update(st, "z", 1, upd_fn, &u), 0);
	assert_value(st, "z", 1, "\0\0\0\0", 4);
	assert_int_equal(store_count(st), 3);
	got_free(&g);
	store_free(st);
}

static void test_update_keep_and_delete_return_what_fn_returns(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(store_set(st, "k", 1, "v", 1, 0), STORE_OK);
	struct upd u = {.action = STORE_UPD_KEEP, .ret = -42};
	assert_int_equal(store_update(st, "k", 1, upd_fn, &u), -42);
	assert_true(u.saw_key);
	assert_value(st, "k", 1, "v", 1);

	/* GETDEL: fn copies, the store deletes. */
	u = (struct upd){.action = STORE_UPD_DELETE, .ret = 1};
	assert_int_equal(store_update(st, "k", 1, upd_fn, &u), 1);
	assert_int_equal(u.seen_len, 1);
	assert_memory_equal(u.seen, "v", 1);
	assert_int_equal(store_exists(st, "k", 1), 0);
	/* Deleting or expiring a missing key is a no-op. */
	u = (struct upd){.action = STORE_UPD_DELETE, .ret = 0};
	assert_int_equal(store_update(st, "k", 1, upd_fn, &u), 0);
	assert_false(u.saw_key);
	u = (struct upd){.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = wall_ms() + 1000};
	assert_int_equal(store_update(st, "k", 1, upd_fn, &u), 0);
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	store_free(st);
}

static void test_update_set_expire_sets_and_clears_it_and_a_past_time_deletes_the_key(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	struct got g = {0};
	store_counters c;
	/* Every value size, so that some entries have spare room for the
	 * expiry and others must be reallocated. */
	for (unsigned n = 0; n < 40; n++) {
		char key[32], val[40];
		size_t klen = key_of(key, sizeof(key), n);
		memset(val, 'a' + (int)(n % 26), n);
		assert_int_equal(store_set(st, key, klen, val, n, 0), STORE_OK);

		int64_t exp = wall_ms() + 60000 + n;
		struct upd u = {.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = exp, .ret = 1};
		assert_int_equal(store_update(st, key, klen, upd_fn, &u), 1);
		assert_int_equal(store_get(st, key, klen, copy_value, &g), STORE_OK);
		assert_int_equal(g.expire_at_ms, exp);
		assert_int_equal(g.vlen, n);
		if (n > 0)
			assert_memory_equal(g.val, val, n);
		store_counters_get(st, &c);
		assert_int_equal(c.expires, 1);

		/* PERSIST */
		u = (struct upd){.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = 0};
		assert_int_equal(store_update(st, key, klen, upd_fn, &u), 0);
		assert_int_equal(store_get(st, key, klen, copy_value, &g), STORE_OK);
		assert_int_equal(g.expire_at_ms, 0);
		store_counters_get(st, &c);
		assert_int_equal(c.expires, 0);

		/* EXPIRE in the past */
		u = (struct upd){.action = STORE_UPD_SET_EXPIRE, .expire_at_ms = wall_ms() - 1};
		assert_int_equal(store_update(st, key, klen, upd_fn, &u), 0);
		assert_int_equal(store_exists(st, key, klen), 0);
	}
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	/* A delete on request is not an expiry. */
	store_counters_get(st, &c);
	assert_int_equal(c.expired_keys, 0);
	got_free(&g);
	store_free(st);
}

static void test_update_over_the_value_limit_or_with_a_past_expiry_leaves_no_new_value(void **state)
{
	(void)state;
	store_config cfg = {.max_value_bytes = 8};
	store_t *st = store_create(&cfg);
	assert_non_null(st);

	assert_int_equal(store_set(st, "k", 1, "12345", 5, 0), STORE_OK);
	uint64_t mem = store_mem_used(st);
	struct upd u = {.action = STORE_UPD_WRITE, .add = "6789", .ret = 3};
	assert_int_equal(store_update(st, "k", 1, upd_fn, &u), STORE_EVALTOOBIG);
	assert_int_equal(u.calls, 1);
	assert_value(st, "k", 1, "12345", 5);
	assert_int_equal(store_mem_used(st), mem);
	u = (struct upd){.action = STORE_UPD_WRITE, .add = "123456789"};
	assert_int_equal(store_update(st, "new", 3, upd_fn, &u), STORE_EVALTOOBIG);
	assert_int_equal(store_exists(st, "new", 3), 0);

	/* A write whose expiry has passed deletes, as store_set does. */
	u = (struct upd){.action = STORE_UPD_WRITE, .add = "x", .expire_at_ms = 1, .ret = 5};
	assert_int_equal(store_update(st, "k", 1, upd_fn, &u), 5);
	assert_int_equal(store_exists(st, "k", 1), 0);
	assert_int_equal(store_count(st), 0);
	store_free(st);
}

static void test_update_sees_an_expired_key_as_absent_and_counts_it_expired(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	int64_t soon = wall_ms() + 5;

	assert_int_equal(store_set(st, "k", 1, "old", 3, soon), STORE_OK);
	sleep_until_past(soon);
	struct upd u = {.action = STORE_UPD_WRITE, .add = "new"};
	assert_int_equal(store_update(st, "k", 1, upd_fn, &u), 0);
	assert_false(u.saw_key);
	assert_value(st, "k", 1, "new", 3);
	store_counters c;
	store_counters_get(st, &c);
	assert_int_equal(c.expired_keys, 1);
	assert_int_equal(c.expires, 0);
	assert_int_equal(store_count(st), 1);
	store_free(st);
}

/* ---- RENAME and COPY ---- */

static void test_rename_moves_value_and_expiry_to_keys_in_other_shards(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	int64_t exp = wall_ms() + 3600 * 1000;
	struct got g = {0};
	char src[32], dst[32], val[300];

	/* 200 renames: most cross shards; half change the key length (a new
	 * entry), half keep it (the entry is reused); values both sides of the
	 * 255-byte length format. */
	memset(val, 'v', sizeof(val));
	for (unsigned i = 0; i < 200; i++) {
		size_t slen = key_of(src, sizeof(src), i);
		int dlen = snprintf(dst, sizeof(dst), i % 2 ? "dst:%u" : "renamed:%u", i);
		size_t vlen = i % 3 == 0 ? 300 : i;
		assert_int_equal(store_set(st, src, slen, val, vlen, i % 4 ? exp + i : 0),
		                 STORE_OK);
		assert_int_equal(store_rename(st, src, slen, dst, (size_t)dlen, 0), STORE_OK);
		assert_int_equal(store_exists(st, src, slen), 0);
		assert_int_equal(store_get(st, dst, (size_t)dlen, copy_value, &g), STORE_OK);
		assert_int_equal(g.vlen, vlen);
		assert_memory_equal(g.val, val, vlen);
		assert_int_equal(g.expire_at_ms, i % 4 ? exp + (int64_t)i : 0);
	}
	assert_int_equal(store_count(st), 200);
	store_counters c;
	store_counters_get(st, &c);
	assert_int_equal(c.expires, 150);

	/* Onto an existing key: it is replaced, one key fewer. */
	assert_int_equal(store_set(st, "a", 1, "A", 1, 0), STORE_OK);
	assert_int_equal(store_set(st, "b", 1, "B", 1, exp), STORE_OK);
	assert_int_equal(store_rename(st, "a", 1, "b", 1, 0), STORE_OK);
	assert_int_equal(store_get(st, "b", 1, copy_value, &g), STORE_OK);
	assert_memory_equal(g.val, "A", 1);
	assert_int_equal(g.expire_at_ms, 0);
	assert_int_equal(store_count(st), 201);
	got_free(&g);

	/* Everything accounted: deleting it all returns to zero. */
	for (unsigned i = 0; i < 200; i++) {
		int dlen = snprintf(dst, sizeof(dst), i % 2 ? "dst:%u" : "renamed:%u", i);
		assert_int_equal(store_del(st, dst, (size_t)dlen), STORE_OK);
	}
	assert_int_equal(store_del(st, "b", 1), STORE_OK);
	assert_int_equal(store_mem_used(st), 0);
	store_counters_get(st, &c);
	assert_int_equal(c.expires, 0);
	store_free(st);
}

static void test_rename_nx_refuses_an_existing_destination_and_a_missing_source(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(store_rename(st, "none", 4, "dst", 3, 0), STORE_ENOTFOUND);
	assert_int_equal(store_rename(st, "none", 4, "dst", 3, 1), STORE_ENOTFOUND);
	assert_int_equal(store_set(st, "src", 3, "s", 1, 0), STORE_OK);
	assert_int_equal(store_set(st, "dst", 3, "d", 1, 0), STORE_OK);
	assert_int_equal(store_rename(st, "src", 3, "dst", 3, 1), STORE_ECOND);
	assert_value(st, "src", 3, "s", 1);
	assert_value(st, "dst", 3, "d", 1);
	assert_int_equal(store_rename(st, "src", 3, "new", 3, 1), STORE_OK);
	assert_value(st, "new", 3, "s", 1);
	assert_int_equal(store_exists(st, "src", 3), 0);

	/* An expired source does not exist; an expired destination does not
	 * block RENAMENX. */
	int64_t soon = wall_ms() + 5;
	assert_int_equal(store_set(st, "gone", 4, "g", 1, soon), STORE_OK);
	assert_int_equal(store_set(st, "old", 3, "o", 1, soon), STORE_OK);
	sleep_until_past(soon);
	assert_int_equal(store_rename(st, "gone", 4, "x", 1, 0), STORE_ENOTFOUND);
	assert_int_equal(store_rename(st, "new", 3, "old", 3, 1), STORE_OK);
	assert_value(st, "old", 3, "s", 1);
	assert_int_equal(store_count(st), 2);
	store_free(st);
}

static void test_rename_and_copy_of_a_key_onto_itself(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);

	assert_int_equal(store_rename(st, "k", 1, "k", 1, 0), STORE_ENOTFOUND);
	assert_int_equal(store_set(st, "k", 1, "v", 1, 0), STORE_OK);
	assert_int_equal(store_rename(st, "k", 1, "k", 1, 0), STORE_OK);
	assert_int_equal(store_rename(st, "k", 1, "k", 1, 1), STORE_ECOND);
	assert_int_equal(store_copy(st, "k", 1, "k", 1, 0), STORE_ECOND);
	assert_int_equal(store_copy(st, "k", 1, "k", 1, 1), STORE_OK);
	assert_value(st, "k", 1, "v", 1);
	assert_int_equal(store_count(st), 1);
	store_free(st);
}

static void test_copy_duplicates_value_and_expiry_and_replaces_only_when_asked(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	int64_t exp = wall_ms() + 60000;
	struct got g = {0};

	assert_int_equal(store_copy(st, "src", 3, "dst", 3, 0), STORE_ENOTFOUND);
	assert_int_equal(store_set(st, "src", 3, "value", 5, exp), STORE_OK);
	assert_int_equal(store_copy(st, "src", 3, "dst", 3, 0), STORE_OK);
	assert_int_equal(store_get(st, "dst", 3, copy_value, &g), STORE_OK);
	assert_memory_equal(g.val, "value", 5);
	assert_int_equal(g.expire_at_ms, exp);
	assert_value(st, "src", 3, "value", 5);

	assert_int_equal(store_set(st, "other", 5, "o", 1, 0), STORE_OK);
	assert_int_equal(store_copy(st, "other", 5, "dst", 3, 0), STORE_ECOND);
	assert_value(st, "dst", 3, "value", 5);
	assert_int_equal(store_copy(st, "other", 5, "dst", 3, 1), STORE_OK);
	assert_int_equal(store_get(st, "dst", 3, copy_value, &g), STORE_OK);
	assert_memory_equal(g.val, "o", 1);
	assert_int_equal(g.expire_at_ms, 0);
	assert_int_equal(store_count(st), 3);

	/* The copy is independent of its source. */
	assert_int_equal(store_set(st, "src", 3, "changed", 7, 0), STORE_OK);
	assert_int_equal(store_copy(st, "src", 3, "c2", 2, 0), STORE_OK);
	assert_int_equal(store_del(st, "src", 3), STORE_OK);
	assert_value(st, "c2", 2, "changed", 7);
	store_counters c;
	store_counters_get(st, &c);
	assert_int_equal(c.expires, 0);
	got_free(&g);
	store_free(st);
}

/* ---- MSET ---- */

static void test_mset_sets_every_pair_and_the_last_value_of_a_repeated_key_wins(void **state)
{
	(void)state;
	/* 16 shards: MSET holds every involved shard's lock at once, and
	 * ThreadSanitizer's deadlock detector stops at 64 held locks. */
	store_config cfg = {.shards = 16};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 1000 };
	static char keybuf[N][16];
	const void *keys[N + 1], *vals[N + 1];
	size_t klens[N + 1], vlens[N + 1];

	assert_int_equal(store_set(st, "k:5", 3, "old", 3, wall_ms() + 60000), STORE_OK);
	for (unsigned i = 0; i < N; i++) {
		klens[i] = (size_t)snprintf(keybuf[i], sizeof(keybuf[i]), "k:%u", i);
		keys[i] = keybuf[i];
		vals[i] = keybuf[i];
		vlens[i] = klens[i];
	}
	keys[N] = "k:7";
	klens[N] = 3;
	vals[N] = "last";
	vlens[N] = 4;
	assert_int_equal(store_mset(st, N + 1, keys, klens, vals, vlens, 0), STORE_OK);
	assert_int_equal(store_count(st), N);
	for (unsigned i = 0; i < N; i++) {
		if (i != 7)
			assert_value(st, keybuf[i], klens[i], keybuf[i], klens[i]);
	}
	assert_value(st, "k:7", 3, "last", 4);
	/* MSET, like SET, drops an expiry. */
	store_counters c;
	store_counters_get(st, &c);
	assert_int_equal(c.expires, 0);
	assert_int_equal(store_mset(st, 0, keys, klens, vals, vlens, 0), STORE_OK);
	store_free(st);
}

static void test_msetnx_writes_nothing_if_any_key_exists(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	const void *keys[] = {"a", "b", "c"}, *vals[] = {"1", "2", "3"};
	size_t klens[] = {1, 1, 1}, vlens[] = {1, 1, 1};

	assert_int_equal(store_set(st, "c", 1, "old", 3, 0), STORE_OK);
	uint64_t mem = store_mem_used(st);
	assert_int_equal(store_mset(st, 3, keys, klens, vals, vlens, 1), STORE_ECOND);
	assert_int_equal(store_exists(st, "a", 1), 0);
	assert_int_equal(store_exists(st, "b", 1), 0);
	assert_value(st, "c", 1, "old", 3);
	assert_int_equal(store_count(st), 1);
	assert_int_equal(store_mem_used(st), mem);

	assert_int_equal(store_del(st, "c", 1), STORE_OK);
	assert_int_equal(store_mset(st, 3, keys, klens, vals, vlens, 1), STORE_OK);
	assert_value(st, "a", 1, "1", 1);
	assert_value(st, "c", 1, "3", 1);

	/* An expired key does not block MSETNX. */
	int64_t soon = wall_ms() + 5;
	const void *k2[] = {"x", "y"}, *v2[] = {"X", "Y"};
	size_t kl2[] = {1, 1}, vl2[] = {1, 1};
	assert_int_equal(store_set(st, "y", 1, "old", 3, soon), STORE_OK);
	sleep_until_past(soon);
	assert_int_equal(store_mset(st, 2, k2, kl2, v2, vl2, 1), STORE_OK);
	assert_value(st, "y", 1, "Y", 1);
	assert_int_equal(store_count(st), 5);
	store_free(st);
}

static void test_mset_checks_every_limit_before_writing_anything(void **state)
{
	(void)state;
	store_config cfg = {.max_key_bytes = 4, .max_value_bytes = 4};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	const void *keys[] = {"a", "b", "toolong"}, *vals[] = {"1", "2", "3"};
	size_t klens[] = {1, 1, 7}, vlens[] = {1, 1, 1};

	assert_int_equal(store_mset(st, 3, keys, klens, vals, vlens, 0), STORE_EKEYTOOBIG);
	klens[2] = 1;
	vlens[1] = 5;
	assert_int_equal(store_mset(st, 3, keys, klens, vals, vlens, 0), STORE_EVALTOOBIG);
	assert_int_equal(store_count(st), 0);
	assert_int_equal(store_mem_used(st), 0);
	store_free(st);
}

static void test_mset_of_many_new_keys_into_a_shard_in_mid_resize_keeps_every_key(void **state)
{
	(void)state;
	/* One shard: insert until a resize starts, then add far more keys in
	 * one MSET than the resize target was sized for. */
	store_config cfg = {.shards = 1};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	enum { N = 5000 };
	static char keybuf[N][16];
	const void *keys[N], *vals[N];
	size_t klens[N], vlens[N];
	char key[32];
	unsigned before = 0;

	do {
		size_t klen = key_of(key, sizeof(key), before);
		assert_int_equal(store_set(st, key, klen, key, klen, 0), STORE_OK);
		before++;
	} while (stats_of(st).rehashing == 0 || before < 100);
	for (unsigned i = 0; i < N; i++) {
		klens[i] = (size_t)snprintf(keybuf[i], sizeof(keybuf[i]), "m:%u", i);
		keys[i] = vals[i] = keybuf[i];
		vlens[i] = klens[i];
	}
	assert_int_equal(store_mset(st, N, keys, klens, vals, vlens, 0), STORE_OK);
	assert_int_equal(store_count(st), before + N);
	for (unsigned i = 0; i < before; i++) {
		size_t klen = key_of(key, sizeof(key), i);
		assert_value(st, key, klen, key, klen);
	}
	for (unsigned i = 0; i < N; i++)
		assert_value(st, keybuf[i], klens[i], keybuf[i], klens[i]);
	/* The table is sized for what it holds. */
	assert_true(stats_of(st).buckets < 4 * (before + N));
	store_free(st);
}

/* The writer sets MSET_KEYS keys to the same increasing version; the reader
 * reads them in argument order. With an atomic MSET the versions it sees
 * never decrease along the way; a per-key MSET would let it read a new
 * first key and then an old last one. */
enum { MSET_KEYS = 8, MSET_ROUNDS = 20000 };

struct mset_race {
	store_t *st;
	_Atomic int done;
	unsigned violations;
	_Atomic unsigned reads; /* written by the reader, polled by the writer */
};

static void read_u64(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	(void)expire_at_ms;
	if (vlen == sizeof(uint64_t))
		memcpy(arg, val, sizeof(uint64_t));
}

static void *mset_reader(void *arg)
{
	struct mset_race *r = arg;
	char key[16];

	while (!atomic_load(&r->done)) {
		uint64_t prev = 0;
		for (unsigned k = 0; k < MSET_KEYS; k++) {
			uint64_t v = 0;
			int n = snprintf(key, sizeof(key), "mset:%u", k);
			store_get(r->st, key, (size_t)n, read_u64, &v);
			if (v < prev)
				r->violations++;
			prev = v;
		}
		r->reads++;
	}
	return NULL;
}

/* Runs MSET_ROUNDS MSETs of increasing versions against the reader thread
 * and asserts, after joining it, that it saw no violation. */
static void run_mset_race(void *(*reader)(void *))
{
	store_config cfg = {.shards = 64};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	struct mset_race r = {.st = st};
	char keybuf[MSET_KEYS][16];
	const void *keys[MSET_KEYS], *vals[MSET_KEYS];
	size_t klens[MSET_KEYS], vlens[MSET_KEYS];
	uint64_t version[MSET_KEYS];
	pthread_t tid;

	for (unsigned k = 0; k < MSET_KEYS; k++) {
		klens[k] = (size_t)snprintf(keybuf[k], sizeof(keybuf[k]), "mset:%u", k);
		keys[k] = keybuf[k];
		vals[k] = &version[k];
		vlens[k] = sizeof(uint64_t);
	}
	unsigned errors = 0; /* asserted after the join: r is on this stack */
	assert_int_equal(pthread_create(&tid, NULL, reader, &r), 0);
	for (uint64_t v = 1; v <= MSET_ROUNDS; v++) {
		for (unsigned k = 0; k < MSET_KEYS; k++)
			version[k] = v;
		errors += store_mset(st, MSET_KEYS, keys, klens, vals, vlens, 0) != STORE_OK;
	}
	/* On a loaded machine the reader may not have run yet: keep writing
	 * until it has read a few times (at most 10 s more). */
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t v = MSET_ROUNDS + 1; atomic_load(&r.reads) < 4; v++) {
		for (unsigned k = 0; k < MSET_KEYS; k++)
			version[k] = v;
		errors += store_mset(st, MSET_KEYS, keys, klens, vals, vlens, 0) != STORE_OK;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 10)
			break;
	}
	atomic_store(&r.done, 1);
	assert_int_equal(pthread_join(tid, NULL), 0);
	assert_int_equal(errors, 0);
	assert_int_equal(r.violations, 0);
	assert_true(r.reads > 0);
	store_free(st);
}

static void test_concurrent_reader_never_sees_a_partial_mset_across_shards(void **state)
{
	(void)state;
	run_mset_race(mset_reader);
}

/* store_mget sees an MSET whole or not at all: every key of one read carries
 * the same version. */
static void mget_version(size_t i, const void *val, size_t vlen, int found, void *arg)
{
	uint64_t *v = arg;
	v[i] = 0;
	if (found && vlen == sizeof(uint64_t))
		memcpy(&v[i], val, sizeof(uint64_t));
}

static void *mget_reader(void *arg)
{
	struct mset_race *r = arg;
	char keybuf[MSET_KEYS][16];
	const void *keys[MSET_KEYS];
	size_t klens[MSET_KEYS];
	for (unsigned k = 0; k < MSET_KEYS; k++) {
		klens[k] = (size_t)snprintf(keybuf[k], sizeof(keybuf[k]), "mset:%u", k);
		keys[k] = keybuf[k];
	}
	while (!atomic_load(&r->done)) {
		uint64_t v[MSET_KEYS];
		store_mget(r->st, MSET_KEYS, keys, klens, mget_version, v);
		for (unsigned k = 1; k < MSET_KEYS; k++)
			if (v[k] != v[0])
				r->violations++;
		r->reads++;
	}
	return NULL;
}

static void test_mget_never_sees_a_partial_mset_across_shards(void **state)
{
	(void)state;
	run_mset_race(mget_reader);
}

static void test_mget_reports_missing_and_expired_keys_in_order(void **state)
{
	(void)state;
	store_t *st = store_create(NULL);
	assert_non_null(st);
	assert_int_equal(store_set(st, "a", 1, "\1\0\0\0\0\0\0\0", 8, 0), STORE_OK);
	assert_int_equal(store_set(st, "gone", 4, "\2\0\0\0\0\0\0\0", 8, 0), STORE_OK);
	assert_int_equal(store_set_ex(st, "gone", 4, "x", 1, 1, 0, NULL, NULL), STORE_OK);
	const void *keys[] = {"missing", "a", "gone", "a"};
	const size_t klens[] = {7, 1, 4, 1};
	uint64_t v[4] = {9, 9, 9, 9};
	assert_int_equal(store_mget(st, 4, keys, klens, mget_version, v), STORE_OK);
	assert_true(v[0] == 0 && v[1] == 1 && v[2] == 0 && v[3] == 1);
	store_free(st);
}

static int keep_fn(const store_val *cur, store_upd *u, void *arg)
{
	(void)u;
	*(bool *)arg = cur != NULL;
	return 9;
}

static int write_fn(const store_val *cur, store_upd *u, void *arg)
{
	(void)cur;
	(void)arg;
	u->action = STORE_UPD_WRITE;
	u->new_len = 1;
	return 0;
}

static void test_keys_over_the_limit_are_absent_to_update_rename_and_copy(void **state)
{
	(void)state;
	store_config cfg = {.max_key_bytes = 4};
	store_t *st = store_create(&cfg);
	assert_non_null(st);
	bool saw = true;

	assert_int_equal(store_update(st, "12345", 5, keep_fn, &saw), 9);
	assert_false(saw);
	assert_int_equal(store_update(st, "12345", 5, write_fn, NULL), STORE_EKEYTOOBIG);
	assert_int_equal(store_set(st, "k", 1, "v", 1, 0), STORE_OK);
	assert_int_equal(store_rename(st, "12345", 5, "k", 1, 0), STORE_ENOTFOUND);
	assert_int_equal(store_rename(st, "k", 1, "12345", 5, 0), STORE_EKEYTOOBIG);
	assert_int_equal(store_copy(st, "12345", 5, "k", 1, 1), STORE_ENOTFOUND);
	assert_int_equal(store_copy(st, "k", 1, "12345", 5, 1), STORE_EKEYTOOBIG);
	assert_value(st, "k", 1, "v", 1);
	assert_int_equal(store_count(st), 1);
	store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_set_nx_writes_only_an_absent_key_and_xx_only_an_existing_one),
	        cmocka_unit_test(
	                test_set_get_callback_sees_the_old_value_whether_or_not_the_condition_holds),
	        cmocka_unit_test(
	                test_set_keepttl_keeps_the_existing_expiry_and_gives_a_new_key_none),
	        cmocka_unit_test(
	                test_set_ex_with_an_expiry_in_the_past_deletes_the_key_after_reporting_it),
	        cmocka_unit_test(
	                test_update_write_creates_a_missing_key_and_appends_to_an_existing_one),
	        cmocka_unit_test(test_update_keep_and_delete_return_what_fn_returns),
	        cmocka_unit_test(
	                test_update_set_expire_sets_and_clears_it_and_a_past_time_deletes_the_key),
	        cmocka_unit_test(
	                test_update_over_the_value_limit_or_with_a_past_expiry_leaves_no_new_value),
	        cmocka_unit_test(test_update_sees_an_expired_key_as_absent_and_counts_it_expired),
	        cmocka_unit_test(test_rename_moves_value_and_expiry_to_keys_in_other_shards),
	        cmocka_unit_test(
	                test_rename_nx_refuses_an_existing_destination_and_a_missing_source),
	        cmocka_unit_test(test_rename_and_copy_of_a_key_onto_itself),
	        cmocka_unit_test(
	                test_copy_duplicates_value_and_expiry_and_replaces_only_when_asked),
	        cmocka_unit_test(
	                test_mset_sets_every_pair_and_the_last_value_of_a_repeated_key_wins),
	        cmocka_unit_test(test_msetnx_writes_nothing_if_any_key_exists),
	        cmocka_unit_test(test_mset_checks_every_limit_before_writing_anything),
	        cmocka_unit_test(
	                test_mset_of_many_new_keys_into_a_shard_in_mid_resize_keeps_every_key),
	        cmocka_unit_test(test_concurrent_reader_never_sees_a_partial_mset_across_shards),
	        cmocka_unit_test(test_mget_never_sees_a_partial_mset_across_shards),
	        cmocka_unit_test(test_mget_reports_missing_and_expired_keys_in_order),
	        cmocka_unit_test(test_keys_over_the_limit_are_absent_to_update_rename_and_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
