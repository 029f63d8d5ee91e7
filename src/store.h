/* store.h - the keyspace: sharded hash tables of binary-safe keys and values.
 *
 * The key space is split into a power-of-two number of shards chosen by the
 * key's hash; each shard is an incrementally rehashed chained hash table with
 * its own mutex, so threads working on different shards never contend and no
 * single resize stalls the server. An entry is one allocation holding its
 * header, key and value.
 *
 * Error convention: functions return STORE_OK (0) or a negative STORE_E*
 * code; store_strerror() gives the client-facing reason.
 * Lock order: at most one shard lock is held at a time, except in functions
 * documented otherwise, which take them in ascending shard index.
 */
#ifndef MINIDB_STORE_H
#define MINIDB_STORE_H

#include <stddef.h>
#include <stdint.h>

enum {
	STORE_OK = 0,
	STORE_ENOTFOUND = -1,
	STORE_ENOMEM = -2,
	STORE_EKEYTOOBIG = -3,
	STORE_EVALTOOBIG = -4,
};

typedef struct store store_t;

typedef struct store_config {
	unsigned shards;        /* power of two; 0 = default (256) */
	size_t max_key_bytes;   /* 0 = default (64 KiB) */
	size_t max_value_bytes; /* 0 = default (512 MiB) */
} store_config;

/* Largest accepted store_config values: key and value lengths are 32-bit
 * fields of the entry header, and the shard is picked by 16 hash bits. */
#define STORE_SHARDS_MAX 65536u
#define STORE_LIMIT_MAX  UINT32_MAX

/* cfg may be NULL for all defaults. Returns NULL with errno EINVAL if shards is
 * not a power of two or a value is above its STORE_*_MAX, ENOMEM on allocation
 * failure, or getrandom's errno if the hash seed cannot be read. */
store_t *store_create(const store_config *cfg);
void store_free(store_t *st);

/* Inserts or replaces key. expire_at_ms is an absolute Unix time in ms, or 0
 * for no expiry; a time already past deletes the key instead. Limits are
 * checked before any allocation. key and val may be NULL when their length is
 * 0. A key longer than max_key_bytes cannot exist, so the read functions and
 * store_del report it absent rather than failing. Expired keys are removed
 * lazily, when an operation touches them; until then they are counted. */
int store_set(store_t *st, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_at_ms);

/* Looks key up and, if found, calls fn with the value while the shard lock is
 * held: fn must copy what it needs and must not call into the store. */
typedef void (*store_read_fn)(const void *val, size_t vlen, int64_t expire_at_ms, void *arg);
/* Returns STORE_OK or STORE_ENOTFOUND. fn may be NULL. */
int store_get(store_t *st, const void *key, size_t klen, store_read_fn fn, void *arg);

/* Removes key. STORE_OK if it existed, STORE_ENOTFOUND otherwise. */
int store_del(store_t *st, const void *key, size_t klen);

/* 1 if key exists, 0 if not. */
int store_exists(store_t *st, const void *key, size_t klen);

/* Number of keys; bytes held by entries and tables (allocator's view). Both
 * are maintained incrementally (relaxed atomics), never by a scan. */
uint64_t store_count(const store_t *st);
uint64_t store_mem_used(const store_t *st);

/* Removes every key. Takes the shard locks one at a time. */
void store_clear(store_t *st);

/* Table shape, for INFO and the unit tests. Takes the shard locks one at a
 * time, so the totals are not one atomic snapshot. */
typedef struct store_stats {
	unsigned shards;
	unsigned rehashing; /* shards in the middle of an incremental rehash */
	uint64_t buckets;   /* bucket slots in all tables, both tables of a rehash */
} store_stats;
void store_stats_get(store_t *st, store_stats *out);

const char *store_strerror(int err);

#endif
