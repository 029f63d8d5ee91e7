/* store_impl.h - the store's private layout, shared by store.c (tables and
 * key operations), store_scan.c (SCAN, RANDOMKEY) and store_evict.c (access
 * metadata, active expiry, eviction). Nothing outside src/store*.c may
 * include it: store.h is the contract.
 *
 * Naming: functions that expect the caller to hold the lock of the shard they
 * are given start with do_ (static) or store_do_ (shared between the files).
 */
#ifndef MINIDB_STORE_IMPL_H
#define MINIDB_STORE_IMPL_H

#include "store.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define CACHE_LINE 64

/* ---- Entries ----
 *
 * One malloc block per key:
 *
 *   meta    u32: bits 0-7 flags, bits 8-31 access (LRU clock or LFU)
 *   lengths narrow: klen u8, vlen u8        (both lengths <= 255)
 *           wide:   klen u32, vlen u32      (ENTRY_WIDE)
 *   key     klen bytes
 *   value   vlen bytes
 *   expiry  int64 ms, unaligned, only if the block was allocated with room
 *           for it; meaningful only with ENTRY_EXPIRES
 *
 * "key:0000000001" with a 32-byte value is 4 + 2 + 14 + 32 = 52 bytes, a
 * 64-byte glibc chunk. The expiry sits after the value so that an entry
 * built with room for one (SET ... KEEPTTL) keeps its key offset either way.
 */
enum {
	ENTRY_EXPIRES = 1u << 0, /* the expiry field is valid */
	ENTRY_WIDE = 1u << 1,    /* 32-bit lengths */
};
#define ENTRY_NARROW_MAX   255u
#define ENTRY_ACCESS_SHIFT 8
#define ENTRY_ACCESS_MASK  0xffffffu

struct entry {
	uint32_t meta;
	unsigned char data[];
};

static inline size_t entry_lenbytes(size_t klen, size_t vlen)
{
	return klen <= ENTRY_NARROW_MAX && vlen <= ENTRY_NARROW_MAX ? 2 : 8;
}

/* Bytes of an entry; expiry says whether room for the expiry is included. */
static inline size_t entry_size(size_t klen, size_t vlen, bool expiry)
{
	return sizeof(struct entry) + entry_lenbytes(klen, vlen) + klen + vlen +
	       (expiry ? sizeof(int64_t) : 0);
}

static inline size_t entry_klen(const struct entry *e)
{
	uint32_t n;
	if (!(e->meta & ENTRY_WIDE))
		return e->data[0];
	memcpy(&n, e->data, sizeof(n));
	return n;
}

static inline size_t entry_vlen(const struct entry *e)
{
	uint32_t n;
	if (!(e->meta & ENTRY_WIDE))
		return e->data[1];
	memcpy(&n, e->data + 4, sizeof(n));
	return n;
}

static inline unsigned char *entry_key(struct entry *e)
{
	return e->data + (e->meta & ENTRY_WIDE ? 8 : 2);
}

static inline const unsigned char *entry_ckey(const struct entry *e)
{
	return e->data + (e->meta & ENTRY_WIDE ? 8 : 2);
}

static inline unsigned char *entry_val(struct entry *e)
{
	return entry_key(e) + entry_klen(e);
}

static inline const unsigned char *entry_cval(const struct entry *e)
{
	return entry_ckey(e) + entry_klen(e);
}

static inline int64_t entry_expire(const struct entry *e)
{
	int64_t t;
	if (!(e->meta & ENTRY_EXPIRES))
		return 0;
	memcpy(&t, entry_cval(e) + entry_vlen(e), sizeof(t));
	return t;
}

static inline uint32_t entry_access(const struct entry *e)
{
	return e->meta >> ENTRY_ACCESS_SHIFT;
}

static inline void entry_set_access(struct entry *e, uint32_t access)
{
	e->meta = (e->meta & ((1u << ENTRY_ACCESS_SHIFT) - 1)) | access << ENTRY_ACCESS_SHIFT;
}

static inline bool entry_expired(const struct entry *e, int64_t now)
{
	return (e->meta & ENTRY_EXPIRES) && entry_expire(e) <= now;
}

/* ---- Tables ----
 *
 * A table is an open-addressing array of 64-bit slots with linear probing.
 * A slot is 0 (empty), 1 (tombstone) or a live entry:
 *
 *   bits 0-47   the entry's address (x86-64 and AArch64 user space)
 *   bits 48-62  15 fingerprint bits of the key's hash (bits 0-14), never 0,
 *               so one comparison rejects empty slots and tombstones
 *   bit  63     the entry has an expiry (mirrors ENTRY_EXPIRES)
 *
 * The home slot of a key is (pos * size) >> 32 where pos is bits 16-47 of its
 * hash, so any size works and homes are monotonic in pos.
 */
#define SLOT_EMPTY    0u
#define SLOT_TOMB     1u
#define SLOT_PTR_BITS ((UINT64_C(1) << 48) - 1)
#define SLOT_FP_SHIFT 48
#define SLOT_FP_BITS  (UINT64_C(0x7fff) << SLOT_FP_SHIFT)
#define SLOT_EXPIRES  (UINT64_C(1) << 63)
#define HASH_FP_MASK  UINT64_C(0x7fff)

static inline bool slot_live(uint64_t s)
{
	return s > SLOT_TOMB;
}

static inline struct entry *slot_entry(uint64_t s)
{
	return (struct entry *)(uintptr_t)(s & SLOT_PTR_BITS);
}

static inline uint32_t hash_pos(uint64_t h)
{
	return (uint32_t)(h >> 16);
}

/* The fingerprint bits of a slot for hash h. */
static inline uint64_t hash_fp(uint64_t h)
{
	uint64_t fp = h & HASH_FP_MASK;
	return (fp | (fp == 0)) << SLOT_FP_SHIFT;
}

/* The home slot of hash h in a table of size slots. */
static inline size_t tbl_home(uint64_t h, size_t size)
{
	return (size_t)((uint64_t)hash_pos(h) * size >> 32);
}

/* The first pos whose home is slot b; 2^32 for b == size. */
static inline uint64_t tbl_start(size_t b, size_t size)
{
	if (b >= size)
		return UINT64_C(1) << 32;
	return (((uint64_t)b << 32) + size - 1) / size;
}

struct table {
	uint64_t *slot; /* NULL when not allocated */
	size_t size;    /* slots; any value from TABLE_MIN_SIZE to 2^32 */
	size_t used;    /* live entries */
	size_t dead;    /* tombstones */
	size_t soft;    /* used + dead that triggers a resize (load 0.8) */
	size_t hard;    /* used + dead never passed (load 0.9, one slot empty) */
};

static inline size_t tbl_next(const struct table *t, size_t i)
{
	return i + 1 == t->size ? 0 : i + 1;
}

/* Where a key was found: valid until the shard's tables change shape. */
struct loc {
	struct table *t;
	size_t i;
	struct entry *e;
};

/* The counters are written only under the shard lock (a plain load and store,
 * no read-modify-write) and read without it. */
struct shard {
	_Alignas(CACHE_LINE) pthread_mutex_t lock; /* shards never share a cache line */
	struct table ht[2];                        /* ht[1] allocated only while rehashing */
	size_t rehash_idx;                         /* next ht[0] slot to move */
	size_t rehash_pace;                        /* ht[0] slots moved per insert */
	size_t expire_pos;                         /* active expiry's sweep position */
	/* Load (per mille) a resize aims at. Shards receive keys at the same
	 * rate; with one target they would all resize at once, and the memory
	 * of the store would jump by both tables of every shard at those
	 * moments. Different targets keep a few shards resizing at a time. */
	unsigned fill_target;
	_Atomic uint64_t count;
	_Atomic uint64_t mem;
	_Atomic uint64_t expires; /* live entries with ENTRY_EXPIRES */
	_Atomic uint64_t expired; /* cumulative */
	_Atomic uint64_t evicted; /* cumulative */
};

#define EVPOOL_SIZE 16

/* One eviction candidate: a copy of the key, since the entry may go away. */
struct evict_cand {
	uint64_t score; /* higher is evicted first */
	uint64_t hash;
	size_t klen;
	size_t cap;
	unsigned char *key;
};

struct store {
	uint64_t seed;
	size_t max_key;
	size_t max_value;
	uint64_t shard_mask;
	unsigned nshards;
	_Atomic uint64_t maxmemory;
	_Atomic int policy;
	_Atomic unsigned expire_shard; /* next shard for store_expire_cycle */
	/* Lock order: evict_lock before any shard lock. */
	pthread_mutex_t evict_lock;
	unsigned pool_len; /* candidates in pool[0..pool_len), by ascending score */
	struct evict_cand pool[EVPOOL_SIZE];
	atomic_int expiry_paused;          /* store_pause_expiry */
	_Atomic(store_journal_fn) journal; /* NULL: none (store_set_journal) */
	void *_Atomic journal_arg;
	struct shard shards[];
};

static inline void do_stat_add(_Atomic uint64_t *c, uint64_t delta)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
	                      memory_order_relaxed);
}

static inline void do_stat_sub(_Atomic uint64_t *c, uint64_t delta)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - delta,
	                      memory_order_relaxed);
}

static inline uint64_t stat_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static inline struct shard *shard_of(store_t *st, uint64_t hash)
{
	return &st->shards[(hash >> 48) & st->shard_mask];
}

/* ---- Shared by the store*.c files ---- */

int64_t store_now_ms(void);

/* The time expiries are compared with: store_now_ms(), or INT64_MIN while
 * expiry is paused (store_pause_expiry), so that no key counts as expired
 * and no past expiry deletes. */
static inline int64_t store_clock(const store_t *st)
{
	return atomic_load_explicit(&st->expiry_paused, memory_order_relaxed) ? INT64_MIN
	                                                                      : store_now_ms();
}

uint64_t store_hash(const store_t *st, const void *key, size_t klen);

static inline uint64_t entry_hash(const store_t *st, const struct entry *e)
{
	return store_hash(st, entry_ckey(e), entry_klen(e));
}

/* xorshift64* with a per-thread state: for sampling, never for secrets. */
uint64_t store_random(void);
/* A shard holding keys (keys with an expiry if volatile_only), uniformly
 * among such shards as seen by relaxed loads, or NULL if there is none. */
struct shard *store_random_shard(store_t *st, bool volatile_only);

/* Finds key in either table, expired or not. */
bool store_do_find(struct shard *sh, uint64_t h, const void *key, size_t klen, struct loc *out);
/* Removes the entry at l and returns it for the caller to free after
 * unlocking. Tables never shrink here: call store_do_maybe_shrink once the
 * operation no longer holds any struct loc. */
struct entry *store_do_unlink(struct shard *sh, const struct loc *l);
void store_do_maybe_shrink(struct shard *sh);
/* Slot i of the concatenation ht[0] ++ ht[1], for sampling and sweeps;
 * *l is filled when the slot is live. total is returned by store_do_slots. */
size_t store_do_slots(const struct shard *sh);
uint64_t store_do_slot_at(struct shard *sh, size_t i, struct loc *l);

/* ---- The change journal (store.h) ---- */

/* The errno of the last journal refusal on this thread (positive). */
extern _Thread_local int store_journal_errno;

/* Describes n changes to the journal. STORE_OK, or STORE_EJOURNAL when the
 * journal refused a STORE_CAUSE_WRITE change (which must then not be made). */
static inline int store_do_journal(store_t *st, const store_change *ch, size_t n, int cause)
{
	store_journal_fn fn = atomic_load_explicit(&st->journal, memory_order_acquire);
	if (fn == NULL)
		return STORE_OK;
	int rc = fn(ch, n, cause, atomic_load_explicit(&st->journal_arg, memory_order_relaxed));
	if (rc == 0 || cause != STORE_CAUSE_WRITE)
		return STORE_OK;
	store_journal_errno = rc < 0 ? -rc : rc;
	return STORE_EJOURNAL;
}

/* Journals the removal of e's key. */
static inline int store_do_journal_del(store_t *st, const struct entry *e, int cause)
{
	if (atomic_load_explicit(&st->journal, memory_order_relaxed) == NULL)
		return STORE_OK;
	store_change ch = {.op = STORE_CH_DEL, .key = entry_ckey(e), .klen = entry_klen(e)};
	return store_do_journal(st, &ch, 1, cause);
}

/* Journals a SET of key to val with an absolute expiry (0 = none). */
static inline int store_do_journal_set(store_t *st, const void *key, size_t klen, const void *val,
                                       size_t vlen, int64_t expire_at_ms)
{
	if (atomic_load_explicit(&st->journal, memory_order_relaxed) == NULL)
		return STORE_OK;
	store_change ch = {.op = STORE_CH_SET,
	                   .key = key,
	                   .klen = klen,
	                   .val = val,
	                   .vlen = vlen,
	                   .expire_at_ms = expire_at_ms};
	return store_do_journal(st, &ch, 1, STORE_CAUSE_WRITE);
}

/* Access metadata: the 24-bit value of a new entry, and the update made by
 * every read or write that finds the key (store_evict.c has the details). */
static inline bool policy_lfu(int policy)
{
	return policy == STORE_EVICT_ALLKEYS_LFU || policy == STORE_EVICT_VOLATILE_LFU;
}

/* A monotonic clock in seconds: the vDSO's coarse clock costs a few ns. */
static inline uint64_t mono_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

uint32_t store_access_init(const store_t *st);
uint32_t store_lfu_touched(uint32_t access, uint64_t sec);

/* Writes the entry only when the value changes: most reads within the same
 * second leave the cache line (and a forked snapshot's page) clean. */
static inline void store_do_touch(const store_t *st, struct entry *e)
{
	uint64_t sec = mono_sec();
	uint32_t access = policy_lfu(atomic_load_explicit(&st->policy, memory_order_relaxed))
	                          ? store_lfu_touched(entry_access(e), sec)
	                          : (uint32_t)(sec & ENTRY_ACCESS_MASK);
	if (access != entry_access(e))
		entry_set_access(e, access);
}

#endif
