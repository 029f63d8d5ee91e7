/* store.c - the keyspace: sharded, incrementally rehashed chained hash tables.
 *
 * A key's XXH3 hash, seeded per store from getrandom(2), is computed once per
 * operation and cached in the entry: its top 16 bits pick the shard, its low
 * bits the bucket, so the two choices are independent. Each shard has a mutex
 * and two power-of-two tables. Outside a resize everything is in ht[0]; during
 * one, buckets of ht[0] below rehash_idx are empty, new keys go to ht[1], and
 * every operation on the shard moves one more bucket (as Redis's dict does)
 * instead of stopping the world. An empty shard owns no table. An entry is one
 * malloc block: header, key, value. count and mem change only under the lock.
 */
/* PTHREAD_MUTEX_ADAPTIVE_NP; CMake defines _GNU_SOURCE for every file already. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#define DEFAULT_SHARDS      256u
#define DEFAULT_MAX_KEY     ((size_t)64 * 1024)
#define DEFAULT_MAX_VALUE   ((size_t)512 * 1024 * 1024)
#define TABLE_MIN_SIZE      4u
#define TABLE_MIN_FILL      8u  /* shrink when used * 8 < size */
#define REHASH_EMPTY_VISITS 10u /* bounds the work of one rehash step */
#define SHARD_HASH_SHIFT    48  /* shard = top 16 bits of the hash */
#define CACHE_LINE          64

struct entry {
	struct entry *next;
	uint64_t hash; /* cached: a rehash never reads the key */
	int64_t expire_at_ms;
	uint32_t klen;
	uint32_t vlen;
	unsigned char data[]; /* klen key bytes, then vlen value bytes */
};

/* 32 bytes on LP64 with no padding; the key follows the header directly. */
_Static_assert(offsetof(struct entry, hash) == sizeof(struct entry *), "entry.hash");
_Static_assert(offsetof(struct entry, klen) == sizeof(struct entry *) + 16, "entry.klen");
_Static_assert(offsetof(struct entry, data) == sizeof(struct entry *) + 24, "entry.data");
_Static_assert(sizeof(struct entry) == offsetof(struct entry, data), "entry tail padding");
/* klen and vlen hold any configured limit, and header + key + value of the
 * largest limits cannot overflow size_t, so store_set needs no overflow test.
 * This is where a 32-bit size_t is refused. */
_Static_assert(STORE_LIMIT_MAX <= UINT32_MAX, "limits must fit entry.klen/vlen");
_Static_assert(SIZE_MAX - sizeof(struct entry) >= 2 * (uint64_t)STORE_LIMIT_MAX,
               "entry size must fit size_t");
_Static_assert(STORE_SHARDS_MAX == 1u << (64 - SHARD_HASH_SHIFT), "shard bits");

struct table {
	struct entry **buckets; /* NULL when not allocated */
	size_t mask;            /* size - 1 */
	size_t used;
};

/* Lock order: one shard lock at a time. Helpers named do_* require the lock
 * of the shard they are given. The counters are written only under the lock
 * (a plain load and store, no read-modify-write) and read without it. */
struct shard {
	_Alignas(CACHE_LINE) pthread_mutex_t lock; /* shards never share a cache line */
	struct table ht[2];                        /* ht[1] allocated only while rehashing */
	size_t rehash_idx;                         /* next ht[0] bucket to move */
	_Atomic uint64_t count;
	_Atomic uint64_t mem;
};

struct store {
	uint64_t seed;
	size_t max_key;
	size_t max_value;
	uint64_t shard_mask;
	unsigned nshards;
	struct shard shards[];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The clock is read only for entries that carry an expiry. */
static bool entry_expired(const struct entry *e)
{
	return e->expire_at_ms != 0 && e->expire_at_ms <= now_ms();
}

static bool entry_matches(const struct entry *e, uint64_t hash, const void *key, size_t klen)
{
	return e->hash == hash && e->klen == klen && (klen == 0 || memcmp(e->data, key, klen) == 0);
}

/* XXH3 reads no input when klen is 0, so key may then be NULL. */
static uint64_t hash_key(const store_t *st, const void *key, size_t klen)
{
	return XXH3_64bits_withSeed(key, klen, st->seed);
}

static struct shard *shard_of(store_t *st, uint64_t hash)
{
	return &st->shards[(hash >> SHARD_HASH_SHIFT) & st->shard_mask];
}

static void do_stat_add(_Atomic uint64_t *c, uint64_t delta)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
	                      memory_order_relaxed);
}

static void do_stat_sub(_Atomic uint64_t *c, uint64_t delta)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - delta,
	                      memory_order_relaxed);
}

static bool do_table_alloc(struct shard *sh, struct table *ht, size_t size)
{
	struct entry **b = calloc(size, sizeof(*b));
	if (b == NULL)
		return false;
	ht->buckets = b;
	ht->mask = size - 1;
	ht->used = 0;
	do_stat_add(&sh->mem, malloc_usable_size(b));
	return true;
}

/* Frees the bucket array only; the caller has moved or freed the entries. */
static void do_table_release(struct shard *sh, struct table *ht)
{
	if (ht->buckets != NULL) {
		do_stat_sub(&sh->mem, malloc_usable_size(ht->buckets));
		free(ht->buckets);
	}
	*ht = (struct table){0};
}

/* Moves one non-empty bucket of ht[0] to ht[1], looking at no more than
 * REHASH_EMPTY_VISITS empty ones, and finishes the rehash when ht[0] is empty.
 * Each call advances rehash_idx by at least one, so a grow from n to 2n
 * buckets completes within n operations, before ht[1] passes load factor 1. */
static void do_rehash_step(struct shard *sh)
{
	struct table *from = &sh->ht[0], *to = &sh->ht[1];
	unsigned empty = REHASH_EMPTY_VISITS;

	if (from->used > 0) {
		/* used > 0 guarantees a non-empty bucket at or after rehash_idx. */
		while (from->buckets[sh->rehash_idx] == NULL) {
			sh->rehash_idx++;
			if (--empty == 0)
				return;
		}
		struct entry *e = from->buckets[sh->rehash_idx];
		from->buckets[sh->rehash_idx++] = NULL;
		while (e != NULL) {
			struct entry *next = e->next;
			struct entry **b = &to->buckets[e->hash & to->mask];
			e->next = *b;
			*b = e;
			from->used--;
			to->used++;
			e = next;
		}
	}
	if (from->used == 0) {
		do_table_release(sh, from);
		*from = *to;
		*to = (struct table){0};
		sh->rehash_idx = 0;
	}
}

/* Starts an incremental rehash into a table of size buckets. If the table
 * cannot be allocated the shard simply keeps its current one: a load factor
 * off target costs speed, never correctness. */
static void do_resize(struct shard *sh, size_t size)
{
	if (do_table_alloc(sh, &sh->ht[1], size))
		sh->rehash_idx = 0;
}

static void do_maybe_grow(struct shard *sh)
{
	if (sh->ht[1].buckets == NULL && sh->ht[0].used > sh->ht[0].mask)
		do_resize(sh, (sh->ht[0].mask + 1) * 2);
}

/* An empty shard gives its tables back at once (no entries to move). A
 * table under 1/8 full shrinks to twice the power of two above its count, a
 * load of 1/4 to 1/2, so the next few inserts do not grow it straight back. */
static void do_maybe_shrink(struct shard *sh)
{
	struct table *ht = &sh->ht[0];

	if (ht->used == 0 && sh->ht[1].used == 0) {
		do_table_release(sh, &sh->ht[1]);
		do_table_release(sh, ht);
		sh->rehash_idx = 0;
		return;
	}
	if (sh->ht[1].buckets != NULL || ht->mask < TABLE_MIN_SIZE ||
	    ht->used * TABLE_MIN_FILL >= ht->mask + 1)
		return;
	size_t size = TABLE_MIN_SIZE;
	while (size < ht->used * 2)
		size *= 2;
	do_resize(sh, size);
}

/* Returns the link pointing at key's entry and its table in *table, or NULL.
 * Expired entries are returned too: the callers decide what expiry means. */
static struct entry **do_find(struct shard *sh, uint64_t hash, const void *key, size_t klen,
                              int *table)
{
	for (int t = 0; t < 2; t++) {
		struct table *ht = &sh->ht[t];
		if (ht->buckets == NULL)
			break;
		for (struct entry **link = &ht->buckets[hash & ht->mask]; *link != NULL;
		     link = &(*link)->next) {
			if (entry_matches(*link, hash, key, klen)) {
				*table = t;
				return link;
			}
		}
	}
	return NULL;
}

/* Unlinks the entry at link from ht[table] and returns it; the caller frees
 * it after unlocking, so a large value's munmap is outside the lock. */
static struct entry *do_unlink(struct shard *sh, struct entry **link, int table)
{
	struct entry *e = *link;

	*link = e->next;
	sh->ht[table].used--;
	do_stat_sub(&sh->count, 1);
	do_stat_sub(&sh->mem, malloc_usable_size(e));
	do_maybe_shrink(sh);
	return e;
}

/* Advances a rehash in progress, then finds a live key. An expired entry is
 * unlinked into *dead (for the caller to free after unlocking) and the key is
 * reported absent. */
static struct entry **do_lookup(struct shard *sh, uint64_t hash, const void *key, size_t klen,
                                int *table, struct entry **dead)
{
	*dead = NULL;
	if (sh->ht[1].buckets != NULL)
		do_rehash_step(sh);
	struct entry **link = do_find(sh, hash, key, klen, table);
	if (link != NULL && entry_expired(*link)) {
		*dead = do_unlink(sh, link, *table);
		return NULL;
	}
	return link;
}

static int del_hashed(store_t *st, uint64_t hash, const void *key, size_t klen)
{
	struct shard *sh = shard_of(st, hash);
	struct entry *dead;
	int table;

	pthread_mutex_lock(&sh->lock);
	struct entry **link = do_lookup(sh, hash, key, klen, &table, &dead);
	int rc = link != NULL ? STORE_OK : STORE_ENOTFOUND;
	if (link != NULL)
		dead = do_unlink(sh, link, table);
	pthread_mutex_unlock(&sh->lock);
	free(dead);
	return rc;
}

int store_set(store_t *st, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_at_ms)
{
	if (klen > st->max_key)
		return STORE_EKEYTOOBIG;
	if (vlen > st->max_value)
		return STORE_EVALTOOBIG;
	uint64_t hash = hash_key(st, key, klen);
	if (expire_at_ms != 0 && expire_at_ms <= now_ms()) {
		del_hashed(st, hash, key, klen);
		return STORE_OK;
	}

	/* Build the entry before taking the lock: the copy of a large value
	 * must not hold up the shard. */
	struct entry *e = malloc(sizeof(*e) + klen + vlen);
	if (e == NULL)
		return STORE_ENOMEM;
	e->hash = hash;
	e->expire_at_ms = expire_at_ms;
	e->klen = (uint32_t)klen;
	e->vlen = (uint32_t)vlen;
	if (klen > 0)
		memcpy(e->data, key, klen);
	if (vlen > 0)
		memcpy(e->data + klen, val, vlen);
	uint64_t size = malloc_usable_size(e);

	struct shard *sh = shard_of(st, hash);
	struct entry *old = NULL;
	int table;

	pthread_mutex_lock(&sh->lock);
	if (sh->ht[1].buckets != NULL)
		do_rehash_step(sh);
	struct entry **link = do_find(sh, hash, key, klen, &table);
	if (link != NULL) {
		/* Replace in place, expired or not: same key, same bucket. */
		old = *link;
		e->next = old->next;
		*link = e;
		do_stat_add(&sh->mem, size - malloc_usable_size(old));
	} else if (sh->ht[0].buckets == NULL && !do_table_alloc(sh, &sh->ht[0], TABLE_MIN_SIZE)) {
		pthread_mutex_unlock(&sh->lock);
		free(e);
		return STORE_ENOMEM;
	} else {
		struct table *ht = &sh->ht[sh->ht[1].buckets != NULL];
		struct entry **b = &ht->buckets[hash & ht->mask];
		e->next = *b;
		*b = e;
		ht->used++;
		do_stat_add(&sh->count, 1);
		do_stat_add(&sh->mem, size);
		do_maybe_grow(sh);
	}
	pthread_mutex_unlock(&sh->lock);
	free(old);
	return STORE_OK;
}

int store_get(store_t *st, const void *key, size_t klen, store_read_fn fn, void *arg)
{
	if (klen > st->max_key)
		return STORE_ENOTFOUND;
	uint64_t hash = hash_key(st, key, klen);
	struct shard *sh = shard_of(st, hash);
	struct entry *dead;
	int table;

	pthread_mutex_lock(&sh->lock);
	struct entry **link = do_lookup(sh, hash, key, klen, &table, &dead);
	int rc = link != NULL ? STORE_OK : STORE_ENOTFOUND;
	if (link != NULL && fn != NULL) {
		const struct entry *e = *link;
		fn(e->data + e->klen, e->vlen, e->expire_at_ms, arg);
	}
	pthread_mutex_unlock(&sh->lock);
	free(dead);
	return rc;
}

int store_del(store_t *st, const void *key, size_t klen)
{
	if (klen > st->max_key)
		return STORE_ENOTFOUND;
	return del_hashed(st, hash_key(st, key, klen), key, klen);
}

int store_exists(store_t *st, const void *key, size_t klen)
{
	return store_get(st, key, klen, NULL, NULL) == STORE_OK;
}

uint64_t store_count(const store_t *st)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < st->nshards; i++)
		n += atomic_load_explicit(&st->shards[i].count, memory_order_relaxed);
	return n;
}

uint64_t store_mem_used(const store_t *st)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < st->nshards; i++)
		n += atomic_load_explicit(&st->shards[i].mem, memory_order_relaxed);
	return n;
}

/* Frees a table detached from its shard (no lock needed) and its entries. */
static void table_destroy(struct table *ht)
{
	if (ht->buckets == NULL)
		return;
	for (size_t i = 0; i <= ht->mask; i++) {
		struct entry *e = ht->buckets[i];
		while (e != NULL) {
			struct entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(ht->buckets);
}

/* Each shard is emptied in O(1) under its lock by detaching its tables; the
 * entries are freed after unlocking. */
void store_clear(store_t *st)
{
	for (unsigned i = 0; i < st->nshards; i++) {
		struct shard *sh = &st->shards[i];
		struct table old[2];

		pthread_mutex_lock(&sh->lock);
		old[0] = sh->ht[0];
		old[1] = sh->ht[1];
		sh->ht[0] = sh->ht[1] = (struct table){0};
		sh->rehash_idx = 0;
		atomic_store_explicit(&sh->count, 0, memory_order_relaxed);
		atomic_store_explicit(&sh->mem, 0, memory_order_relaxed);
		pthread_mutex_unlock(&sh->lock);
		table_destroy(&old[0]);
		table_destroy(&old[1]);
	}
}

void store_stats_get(store_t *st, store_stats *out)
{
	*out = (store_stats){.shards = st->nshards};
	for (unsigned i = 0; i < st->nshards; i++) {
		struct shard *sh = &st->shards[i];

		pthread_mutex_lock(&sh->lock);
		for (int t = 0; t < 2; t++) {
			if (sh->ht[t].buckets != NULL)
				out->buckets += sh->ht[t].mask + 1;
		}
		out->rehashing += sh->ht[1].buckets != NULL;
		pthread_mutex_unlock(&sh->lock);
	}
}

static int read_seed(uint64_t *seed)
{
	unsigned char *p = (unsigned char *)seed;
	size_t got = 0;

	while (got < sizeof(*seed)) {
		ssize_t n = getrandom(p + got, sizeof(*seed) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

store_t *store_create(const store_config *cfg)
{
	store_config c = cfg != NULL ? *cfg : (store_config){0};

	if (c.shards == 0)
		c.shards = DEFAULT_SHARDS;
	if (c.max_key_bytes == 0)
		c.max_key_bytes = DEFAULT_MAX_KEY;
	if (c.max_value_bytes == 0)
		c.max_value_bytes = DEFAULT_MAX_VALUE;
	if ((c.shards & (c.shards - 1)) != 0 || c.shards > STORE_SHARDS_MAX ||
	    c.max_key_bytes > STORE_LIMIT_MAX || c.max_value_bytes > STORE_LIMIT_MAX) {
		errno = EINVAL;
		return NULL;
	}

	/* Both sizes are multiples of CACHE_LINE, as aligned_alloc requires. */
	store_t *st = aligned_alloc(CACHE_LINE, sizeof(*st) + c.shards * sizeof(struct shard));
	if (st == NULL)
		return NULL;
	if (read_seed(&st->seed) < 0) {
		int err = errno;
		free(st);
		errno = err;
		return NULL;
	}
	st->max_key = c.max_key_bytes;
	st->max_value = c.max_value_bytes;
	st->shard_mask = c.shards - 1;
	st->nshards = c.shards;

	/* Critical sections are short (a lookup and a few pointer writes), so
	 * an adaptive mutex spins briefly before sleeping. These calls cannot
	 * fail on Linux for these attributes. */
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	for (unsigned i = 0; i < c.shards; i++) {
		struct shard *sh = &st->shards[i];
		pthread_mutex_init(&sh->lock, &attr);
		sh->ht[0] = sh->ht[1] = (struct table){0};
		sh->rehash_idx = 0;
		atomic_init(&sh->count, 0);
		atomic_init(&sh->mem, 0);
	}
	pthread_mutexattr_destroy(&attr);
	return st;
}

/* No other thread may use st during or after store_free. */
void store_free(store_t *st)
{
	if (st == NULL)
		return;
	for (unsigned i = 0; i < st->nshards; i++) {
		table_destroy(&st->shards[i].ht[0]);
		table_destroy(&st->shards[i].ht[1]);
		pthread_mutex_destroy(&st->shards[i].lock);
	}
	free(st);
}

const char *store_strerror(int err)
{
	switch (err) {
	case STORE_OK:
		return "ok";
	case STORE_ENOTFOUND:
		return "no such key";
	case STORE_ENOMEM:
		return "out of memory";
	case STORE_EKEYTOOBIG:
		return "key too large";
	case STORE_EVALTOOBIG:
		return "value too large";
	default:
		return "unknown error";
	}
}
