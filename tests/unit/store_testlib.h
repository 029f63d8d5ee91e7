/* store_testlib.h - helpers shared by the store's unit tests
 * (tests/unit/test_store*.c, test_persist.c): capture a value handed to a
 * read callback, assert a key's value, wall-clock waits for expiry, key
 * names, table shape, a sorted dump of every key to compare two stores.
 * Header-only: static inline, so a test that uses a few pays for no others.
 */
#ifndef MINIDB_TEST_STORE_TESTLIB_H
#define MINIDB_TEST_STORE_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

/* A copy of what a read callback was handed. */
struct got {
	unsigned char *val;
	size_t vlen;
	int64_t expire_at_ms;
	int calls;
};

static inline void copy_value(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	struct got *g = arg;

	free(g->val);
	g->val = malloc(vlen + 1);
	assert_non_null(g->val);
	if (vlen > 0)
		memcpy(g->val, val, vlen);
	g->vlen = vlen;
	g->expire_at_ms = expire_at_ms;
	g->calls++;
}

static inline void got_free(struct got *g)
{
	free(g->val);
	*g = (struct got){0};
}

/* Asserts that key holds exactly val (binary). */
static inline void assert_value(store_t *st, const void *key, size_t klen, const void *val,
                                size_t vlen)
{
	struct got g = {0};

	assert_int_equal(store_get(st, key, klen, copy_value, &g), STORE_OK);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.vlen, vlen);
	if (vlen > 0)
		assert_memory_equal(g.val, val, vlen);
	got_free(&g);
}

static inline int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_until_past(int64_t ms)
{
	while (wall_ms() <= ms) {
		struct timespec d = {0, 1000000};
		nanosleep(&d, NULL);
	}
}

static inline size_t key_of(char *buf, size_t cap, unsigned i)
{
	int n = snprintf(buf, cap, "key:%u", i);
	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static inline store_stats stats_of(store_t *st)
{
	store_stats s;
	store_stats_get(st, &s);
	return s;
}

/* ---- A sorted copy of every live key, to compare two stores ---- */

struct kv {
	unsigned char *key;
	size_t klen;
	unsigned char *val;
	size_t vlen;
	int64_t expire_at_ms;
};

struct dump {
	struct kv *kv;
	size_t len, cap;
};

/* n bytes and a NUL (so that a key can be read back with sscanf). */
static inline unsigned char *dup_bytes(const void *p, size_t n)
{
	unsigned char *d = malloc(n + 1);
	assert_non_null(d);
	if (n > 0)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static inline void dump_key(const void *key, size_t klen, const store_val *v, void *arg)
{
	struct dump *d = arg;

	if (d->len == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->kv = realloc(d->kv, d->cap * sizeof(*d->kv));
		assert_non_null(d->kv);
	}
	d->kv[d->len++] = (struct kv){.key = dup_bytes(key, klen),
	                              .klen = klen,
	                              .val = dup_bytes(v->val, v->vlen),
	                              .vlen = v->vlen,
	                              .expire_at_ms = v->expire_at_ms};
}

static inline int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = n > 0 ? memcmp(x->key, y->key, n) : 0;
	return c != 0 ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Every live key of st (SCAN skips expired ones), sorted by key. */
static inline struct dump dump_store(store_t *st)
{
	struct dump d = {0};
	uint64_t cursor = 0;
	do {
		cursor = store_scan(st, cursor, dump_key, &d);
	} while (cursor != 0);
	if (d.len > 1)
		qsort(d.kv, d.len, sizeof(*d.kv), kv_cmp);
	return d;
}

static inline void dump_free(struct dump *d)
{
	for (size_t i = 0; i < d->len; i++) {
		free(d->kv[i].key);
		free(d->kv[i].val);
	}
	free(d->kv);
	*d = (struct dump){0};
}

#endif
