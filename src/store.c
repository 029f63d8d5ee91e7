/* store.c - the keyspace: sharded open-addressing tables of one-allocation
 * entries, resized incrementally, and the operations on keys (store_scan.c
 * iterates, store_evict.c expires and evicts, store_impl.h has the layouts).
 *
 * Built for memory: 1M keys like "key:0000000001" with 32-byte values cost 77
 * bytes each of RSS (105 with the chained tables this replaced). An entry has
 * no next pointer and no cached hash (a resize rehashes the key: XXH3 of a
 * short key costs less than the cache miss of reading the entry, which a
 * cached hash needs too), 1-byte lengths when both fit, an expiry only when
 * it has one, and 24 bits of LRU/LFU: 52 bytes, a 64-byte malloc chunk. A
 * slot is 8 bytes (a 48-bit pointer; 15 fingerprint bits, so a probe almost
 * never reads a wrong entry; an "expires" bit, so active expiry and volatile
 * eviction sample without reading entries) at a load of 0.5-0.6 after a
 * resize and 0.8 before the next: about 12 bytes a key. Sizes need not be
 * powers of two: the home slot is (pos * size) >> 32, pos being 32 bits of
 * the hash, which also keeps homes in hash order for SCAN.
 *
 * Linear probing; a delete leaves a tombstone unless the next slot is empty;
 * no entry moves within a table. A resize allocates ht[1] and moves ht[0]'s
 * slots in order, one entry per lookup and rehash_pace slots per insert
 * (enough to finish before ht[1] fills), as Redis's dict moves buckets.
 * Rejected: Robin Hood hashing and backward-shift deletion (they move entries
 * and need the hash of each one moved: a cache miss each); power-of-two sizes
 * (8 to 16 bytes of slots a key, and all shards resizing at the same time).
 */
/* PTHREAD_MUTEX_ADAPTIVE_NP; CMake defines _GNU_SOURCE for every file already. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#define DEFAULT_SHARDS     256u
#define DEFAULT_MAX_KEY    ((size_t)64 * 1024)
#define DEFAULT_MAX_VALUE  ((size_t)512 * 1024 * 1024)
#define TABLE_MIN_SIZE     4u
#define TABLE_MAX_SIZE     (UINT64_C(1) << 32) /* home = (pos * size) >> 32 */
#define REHASH_READ_SLOTS  8u                  /* slots a lookup may move ... */
#define REHASH_READ_MOVES  1u                  /* ... of which this many live */
#define REHASH_MIN_PACE    32u                 /* slots an insert moves at least */
#define FILL_TARGET_MIN    500u                /* per mille, see shard.fill_target */
#define FILL_TARGET_SPREAD 100u
#define SET_SMALL_VALUE    512u /* copied under the shard lock by store_set */

_Static_assert(sizeof(void *) == 8, "slots hold 48-bit pointers");
_Static_assert(sizeof(struct entry) == 4, "entry header");
_Static_assert(offsetof(struct entry, data) == 4, "entry.data");
/* Lengths fit the wide fields, and an entry of the largest limits cannot
 * overflow size_t, so no size computation needs an overflow test. */
_Static_assert(STORE_LIMIT_MAX <= UINT32_MAX, "limits must fit the wide lengths");
_Static_assert(SIZE_MAX - 32 >= 2 * (uint64_t)STORE_LIMIT_MAX, "entry size must fit size_t");
_Static_assert(STORE_SHARDS_MAX == 1u << 16, "shard = top 16 bits of the hash");

/* Load factors, (used + tombstones) / size, as integer fractions. A table
 * is resized when an insert would pass 4/5, to the shard's fill_target (0.5
 * to 0.6); ht[1] may reach 9/10 during a resize; a table below 1/5 live
 * shrinks. */
static size_t fill_max(size_t size)
{
	return size / 5 * 4 + size % 5 * 4 / 5;
}

static size_t fill_hard(size_t size)
{
	return size / 10 * 9 + size % 10 * 9 / 10;
}

static size_t size_for(const struct shard *sh, size_t keys)
{
	if (keys >= TABLE_MAX_SIZE / 1000 * FILL_TARGET_MIN)
		return TABLE_MAX_SIZE;
	size_t n = keys * 1000 / sh->fill_target + 1;
	return n < TABLE_MIN_SIZE ? TABLE_MIN_SIZE : n;
}

_Thread_local int store_journal_errno;

int64_t store_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* XXH3 reads no input when klen is 0, so key may then be NULL. */
uint64_t store_hash(const store_t *st, const void *key, size_t klen)
{
	return XXH3_64bits_withSeed(key, klen, st->seed);
}

/* Keys of 8 to 16 bytes (most keys) are compared with two overlapping
 * word loads instead of a call to memcmp. */
static bool entry_has_key(const struct entry *e, const void *key, size_t klen)
{
	if (entry_klen(e) != klen)
		return false;
	const unsigned char *a = entry_ckey(e), *b = key;
	if (klen >= 8 && klen <= 16) {
		uint64_t a0, a1, b0, b1;
		memcpy(&a0, a, 8);
		memcpy(&b0, b, 8);
		memcpy(&a1, a + klen - 8, 8);
		memcpy(&b1, b + klen - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	return klen == 0 || memcmp(a, b, klen) == 0;
}

static uint64_t slot_make(const struct entry *e, uint64_t h)
{
	return (uint64_t)(uintptr_t)e | hash_fp(h) | (uint64_t)(e->meta & ENTRY_EXPIRES) << 63;
}

static uint64_t entry_usable(const struct entry *e)
{
	return malloc_usable_size((void *)e);
}

/* Allocates an entry for key and a value of vlen bytes, left for the caller
 * to write; room for an expiry if expiry is set (the field is written only
 * when expire_at_ms is not 0). NULL when out of memory, or when malloc hands
 * out an address above 48 bits, which a slot cannot hold (x86-64 Linux never
 * does; AArch64 with memory tagging may). */
static struct entry *entry_alloc(const store_t *st, const void *key, size_t klen, size_t vlen,
                                 bool expiry, int64_t expire_at_ms)
{
	struct entry *e = malloc(entry_size(klen, vlen, expiry));

	if (e == NULL)
		return NULL;
	if ((uintptr_t)e > SLOT_PTR_BITS) {
		free(e);
		return NULL;
	}
	uint32_t flags = 0;
	if (klen <= ENTRY_NARROW_MAX && vlen <= ENTRY_NARROW_MAX) {
		e->data[0] = (unsigned char)klen;
		e->data[1] = (unsigned char)vlen;
	} else {
		uint32_t k = (uint32_t)klen, v = (uint32_t)vlen;
		memcpy(e->data, &k, sizeof(k));
		memcpy(e->data + 4, &v, sizeof(v));
		flags |= ENTRY_WIDE;
	}
	e->meta = flags | store_access_init(st) << ENTRY_ACCESS_SHIFT;
	if (klen > 0)
		memcpy(entry_key(e), key, klen);
	if (expiry && expire_at_ms != 0) {
		memcpy(entry_val(e) + vlen, &expire_at_ms, sizeof(expire_at_ms));
		e->meta |= ENTRY_EXPIRES;
	}
	return e;
}

/* Sets or clears the expiry of an entry that has room for it. */
static inline void entry_put_expire(struct entry *e, int64_t expire_at_ms)
{
	if (expire_at_ms == 0) {
		e->meta &= ~(uint32_t)ENTRY_EXPIRES;
		return;
	}
	memcpy(entry_val(e) + entry_vlen(e), &expire_at_ms, sizeof(expire_at_ms));
	e->meta |= ENTRY_EXPIRES;
}

static bool entry_has_expire_room(const struct entry *e)
{
	return entry_usable(e) >= entry_size(entry_klen(e), entry_vlen(e), true);
}

/* ---- Tables ---- */

/* Index of key's slot in t, or SIZE_MAX. A table always has an empty slot
 * (inserts stop at fill_hard), so the probe ends. */
static inline size_t tbl_find(const struct table *t, uint64_t h, const void *key, size_t klen)
{
	const uint64_t fp = hash_fp(h);
	size_t i = tbl_home(h, t->size);

	for (;;) {
		uint64_t s = t->slot[i];
		if ((s & SLOT_FP_BITS) == fp) {
			if (entry_has_key(slot_entry(s), key, klen))
				return i;
		} else if (s == SLOT_EMPTY) {
			return SIZE_MAX;
		}
		if (++i == t->size)
			i = 0;
	}
}

/* Puts slot value s of a key absent from t in the first free slot from the
 * key's home. The callers guarantee a free slot (do_reserve). */
static void tbl_place(struct table *t, uint64_t h, uint64_t s)
{
	size_t i = tbl_home(h, t->size);

	while (slot_live(t->slot[i]))
		i = tbl_next(t, i);
	if (t->slot[i] == SLOT_TOMB)
		t->dead--;
	t->slot[i] = s;
	t->used++;
}

/* Frees slot i. If the next slot is empty no probe continues past i, so i and
 * the tombstones just before it become empty; otherwise i is a tombstone. */
static void tbl_remove(struct table *t, size_t i)
{
	t->used--;
	if (t->slot[tbl_next(t, i)] != SLOT_EMPTY) {
		t->slot[i] = SLOT_TOMB;
		t->dead++;
		return;
	}
	t->slot[i] = SLOT_EMPTY;
	while (t->dead > 0) {
		i = i == 0 ? t->size - 1 : i - 1;
		if (t->slot[i] != SLOT_TOMB)
			break;
		t->slot[i] = SLOT_EMPTY;
		t->dead--;
	}
}

/* Allocates at least size slots, using what malloc rounds up to as well. */
static bool do_table_alloc(struct shard *sh, struct table *t, size_t size)
{
	uint64_t *s = calloc(size, sizeof(*s));

	if (s == NULL)
		return false;
	size_t usable = malloc_usable_size(s) / sizeof(*s);
	if (usable > TABLE_MAX_SIZE)
		usable = TABLE_MAX_SIZE;
	if (usable > size)
		memset(s + size, 0, (usable - size) * sizeof(*s));
	*t = (struct table){
	        .slot = s, .size = usable, .soft = fill_max(usable), .hard = fill_hard(usable)};
	do_stat_add(&sh->mem, malloc_usable_size(s));
	return true;
}

/* Frees the slot array only; the caller has moved or freed the entries. */
static void do_table_release(struct shard *sh, struct table *t)
{
	if (t->slot != NULL) {
		do_stat_sub(&sh->mem, malloc_usable_size(t->slot));
		free(t->slot);
	}
	*t = (struct table){0};
}

void store_reserve(store_t *st, uint64_t keys)
{
	/* A little over an even share: shards differ by a few standard
	 * deviations of a binomial (sqrt(share)). */
	uint64_t share = keys / st->nshards;
	share += share / 16 + 64;
	for (unsigned i = 0; i < st->nshards; i++) {
		struct shard *sh = &st->shards[i];
		struct table t;

		pthread_mutex_lock(&sh->lock);
		if (sh->ht[0].used == 0 && sh->ht[1].slot == NULL &&
		    size_for(sh, (size_t)share) > sh->ht[0].size &&
		    do_table_alloc(sh, &t, size_for(sh, (size_t)share))) {
			do_table_release(sh, &sh->ht[0]);
			sh->ht[0] = t;
		}
		pthread_mutex_unlock(&sh->lock);
	}
}

static bool rehashing(const struct shard *sh)
{
	return sh->ht[1].slot != NULL;
}

/* Moves up to max_slots slots of ht[0] (of which at most max_moves live) to
 * ht[1], and ends the resize once ht[0] holds no entry. */
static void do_rehash_step(store_t *st, struct shard *sh, size_t max_slots, size_t max_moves)
{
	struct table *from = &sh->ht[0], *to = &sh->ht[1];

	/* Live entries lie at or after rehash_idx, so it stays in range. */
	while (from->used > 0 && max_slots-- > 0) {
		size_t i = sh->rehash_idx++;
		uint64_t s = from->slot[i];
		if (!slot_live(s))
			continue;
		/* The slot value does not depend on the table: copy it. The
		 * old slot becomes a tombstone: ht[0] takes no inserts, so its
		 * probes never get longer than they were. */
		tbl_place(to, entry_hash(st, slot_entry(s)), s);
		from->slot[i] = SLOT_TOMB;
		from->used--;
		from->dead++;
		if (--max_moves == 0)
			break;
	}
	if (from->used == 0) {
		do_table_release(sh, from);
		*from = *to;
		*to = (struct table){0};
		sh->rehash_idx = 0;
	}
}

/* Starts moving ht[0] to a table sized for keys entries, of which k are
 * about to be inserted. The pace makes the move finish before the inserts it
 * overlaps can take ht[1] past fill_hard: at most room / 2 inserts happen
 * before ht[0] is empty. If the table cannot be allocated the shard keeps its
 * current one (a load off target costs speed, not correctness). */
static bool do_rehash_start(struct shard *sh, size_t keys, size_t k)
{
	if (!do_table_alloc(sh, &sh->ht[1], size_for(sh, keys)))
		return false;
	size_t room = sh->ht[1].hard - sh->ht[0].used - k;
	size_t pace = room > 2 ? (2 * sh->ht[0].size + room - 1) / room : sh->ht[0].size;
	sh->rehash_pace = pace < REHASH_MIN_PACE ? REHASH_MIN_PACE : pace;
	sh->rehash_idx = 0;
	return true;
}

/* Moves every entry into one new table at once. Only for the case pacing
 * cannot prevent: several keys inserted by one operation into a shard whose
 * resize target is nearly full. */
static bool do_rebuild(store_t *st, struct shard *sh, size_t keys)
{
	struct table t;

	if (!do_table_alloc(sh, &t, size_for(sh, keys)))
		return false;
	for (int k = 0; k < 2; k++) {
		struct table *from = &sh->ht[k];
		for (size_t i = 0; from->used > 0 && i < from->size; i++) {
			uint64_t s = from->slot[i];
			if (slot_live(s)) {
				tbl_place(&t, entry_hash(st, slot_entry(s)), s);
				from->used--;
			}
		}
		do_table_release(sh, from);
	}
	sh->ht[0] = t;
	sh->rehash_idx = 0;
	return true;
}

static int do_reserve_slow(store_t *st, struct shard *sh, size_t k)
{
	struct table *t0 = &sh->ht[0], *t1 = &sh->ht[1];

	if (t1->slot != NULL) {
		if (t1->used + t1->dead + t0->used + k <= t1->hard)
			return STORE_OK;
		if (do_rebuild(st, sh, t0->used + t1->used + k))
			return STORE_OK;
		/* Every remaining ht[0] entry must still fit in ht[1]. */
		return t1->used + t1->dead + t0->used + k < t1->size ? STORE_OK : STORE_ENOMEM;
	}
	if (t0->slot == NULL)
		return do_table_alloc(sh, t0, size_for(sh, k)) ? STORE_OK : STORE_ENOMEM;
	if (t0->used + t0->dead + k <= t0->soft)
		return STORE_OK;
	if (t0->used + k > fill_hard(TABLE_MAX_SIZE))
		return STORE_ENOMEM;
	if (do_rehash_start(sh, t0->used + k, k))
		return STORE_OK;
	return t0->used + t0->dead + k < t0->size ? STORE_OK : STORE_ENOMEM;
}

/* Makes sure k keys can be inserted into sh by do_insert, allocating or
 * resizing the tables if needed: STORE_OK or STORE_ENOMEM. May move every
 * entry (do_rebuild), so call it before looking keys up. */
static inline int do_reserve(store_t *st, struct shard *sh, size_t k)
{
	const struct table *t0 = &sh->ht[0];

	if (!rehashing(sh) && t0->used + t0->dead + k <= t0->soft && t0->slot != NULL)
		return STORE_OK;
	return do_reserve_slow(st, sh, k);
}

/* Inserts an entry whose key is absent, after do_reserve. */
static inline void do_insert(struct shard *sh, uint64_t h, struct entry *e)
{
	tbl_place(&sh->ht[rehashing(sh)], h, slot_make(e, h));
	do_stat_add(&sh->count, 1);
	do_stat_add(&sh->mem, entry_usable(e));
	if (e->meta & ENTRY_EXPIRES)
		do_stat_add(&sh->expires, 1);
}

/* Puts e in l's slot and returns the entry it replaces. */
static struct entry *do_replace(struct shard *sh, const struct loc *l, uint64_t h, struct entry *e)
{
	struct entry *old = l->e;

	l->t->slot[l->i] = slot_make(e, h);
	do_stat_add(&sh->mem, entry_usable(e));
	do_stat_sub(&sh->mem, entry_usable(old));
	if (e->meta & ENTRY_EXPIRES)
		do_stat_add(&sh->expires, 1);
	if (old->meta & ENTRY_EXPIRES)
		do_stat_sub(&sh->expires, 1);
	return old;
}

static inline bool do_find(struct shard *sh, uint64_t h, const void *key, size_t klen,
                           struct loc *out)
{
	for (int k = 0; k < 2; k++) {
		struct table *t = &sh->ht[k];
		if (t->used == 0)
			continue;
		size_t i = tbl_find(t, h, key, klen);
		if (i != SIZE_MAX) {
			*out = (struct loc){.t = t, .i = i, .e = slot_entry(t->slot[i])};
			return true;
		}
	}
	return false;
}

bool store_do_find(struct shard *sh, uint64_t h, const void *key, size_t klen, struct loc *out)
{
	return do_find(sh, h, key, klen, out);
}

struct entry *store_do_unlink(struct shard *sh, const struct loc *l)
{
	tbl_remove(l->t, l->i);
	do_stat_sub(&sh->count, 1);
	do_stat_sub(&sh->mem, entry_usable(l->e));
	if (l->e->meta & ENTRY_EXPIRES)
		do_stat_sub(&sh->expires, 1);
	return l->e;
}

/* An empty shard gives its tables back; a table under 1/5 live shrinks to
 * the size a rebuild gives (load 0.55). Not during a resize: the current one
 * ends soon, and the next delete checks again. */
void store_do_maybe_shrink(struct shard *sh)
{
	struct table *t = &sh->ht[0];

	if (t->used == 0 && sh->ht[1].used == 0) {
		do_table_release(sh, &sh->ht[1]);
		do_table_release(sh, t);
		sh->rehash_idx = 0;
		return;
	}
	if (rehashing(sh) || t->used >= t->size / 5 || size_for(sh, t->used) * 2 > t->size)
		return;
	do_rehash_start(sh, t->used, 0);
}

size_t store_do_slots(const struct shard *sh)
{
	return sh->ht[0].size + sh->ht[1].size;
}

uint64_t store_do_slot_at(struct shard *sh, size_t i, struct loc *l)
{
	struct table *t = &sh->ht[0];

	if (i >= t->size) {
		i -= t->size;
		t = &sh->ht[1];
	}
	uint64_t s = t->slot[i];
	if (slot_live(s))
		*l = (struct loc){.t = t, .i = i, .e = slot_entry(s)};
	return s;
}

/* Advances a resize in progress, then finds a live key. An expired entry is
 * unlinked into *dead (for the caller to free after unlocking, and to pass to
 * store_do_maybe_shrink) and the key is reported absent. */
static inline bool do_lookup(store_t *st, struct shard *sh, uint64_t h, const void *key,
                             size_t klen, struct loc *l, struct entry **dead)
{
	if (rehashing(sh))
		do_rehash_step(st, sh, REHASH_READ_SLOTS, REHASH_READ_MOVES);
	if (!do_find(sh, h, key, klen, l))
		return false;
	if ((l->t->slot[l->i] & SLOT_EXPIRES) && entry_expired(l->e, store_clock(st))) {
		store_do_journal_del(st, l->e, STORE_CAUSE_EXPIRED);
		*dead = store_do_unlink(sh, l);
		do_stat_add(&sh->expired, 1);
		return false;
	}
	return true;
}

/* Room for one more key, moving rehash_pace slots first if a resize runs. */
static int do_reserve_one(store_t *st, struct shard *sh)
{
	if (rehashing(sh))
		do_rehash_step(st, sh, sh->rehash_pace, SIZE_MAX);
	return do_reserve(st, sh, 1);
}

/* ---- Single-key operations ---- */

static int del_hashed(store_t *st, uint64_t h, const void *key, size_t klen)
{
	struct shard *sh = shard_of(st, h);
	struct entry *dead = NULL, *gone = NULL;
	struct loc l;

	pthread_mutex_lock(&sh->lock);
	bool found = do_lookup(st, sh, h, key, klen, &l, &dead);
	int rc = found ? STORE_OK : STORE_ENOTFOUND;
	if (found && (rc = store_do_journal_del(st, l.e, STORE_CAUSE_WRITE)) == STORE_OK)
		gone = store_do_unlink(sh, &l);
	if (gone != NULL || dead != NULL)
		store_do_maybe_shrink(sh);
	pthread_mutex_unlock(&sh->lock);
	free(dead);
	free(gone);
	return rc;
}

/* Replaces the entry at l (expired or not) with e, which inherits the access
 * metadata of a live entry (an overwrite keeps the LFU counter, as in Redis)
 * and counts as an access. Returns the old entry to free after unlocking. */
static struct entry *do_overwrite(const store_t *st, struct shard *sh, const struct loc *l,
                                  uint64_t h, struct entry *e)
{
	if ((l->e->meta & ENTRY_EXPIRES) && entry_expired(l->e, store_clock(st))) {
		do_stat_add(&sh->expired, 1);
	} else {
		entry_set_access(e, entry_access(l->e));
		store_do_touch(st, e);
	}
	return do_replace(sh, l, h, e);
}

/* Writes a new value (and expiry) over the entry at l if the result needs
 * the same allocation as the current block, give or take malloc's rounding
 * (less than 16 bytes of slack): what a new entry would cost, without the
 * malloc and the free. Returns 1 when written, 0 (changing nothing) when it
 * does not fit, STORE_EJOURNAL when the journal refused it. Forced inline
 * into its two callers: the call alone cost 35 of the ~410 instructions of
 * an overwriting SET. */
__attribute__((always_inline)) static inline int do_rewrite(store_t *st, struct shard *sh,
                                                            struct loc *l, uint64_t h,
                                                            const void *val, size_t vlen,
                                                            int64_t expire_at_ms)
{
	struct entry *e = l->e;
	size_t klen = entry_klen(e);
	size_t need = entry_size(klen, vlen, expire_at_ms != 0);
	size_t have = entry_usable(e);

	if (need > have || have - need >= 16 ||
	    entry_lenbytes(klen, vlen) != (e->meta & ENTRY_WIDE ? 8u : 2u))
		return 0;
	int rc = store_do_journal_set(st, entry_ckey(e), klen, val, vlen, expire_at_ms);
	if (rc != STORE_OK)
		return rc;
	bool had = e->meta & ENTRY_EXPIRES;
	if (had && entry_expired(e, store_clock(st)))
		do_stat_add(&sh->expired, 1);
	else
		store_do_touch(st, e);
	if (e->meta & ENTRY_WIDE) {
		uint32_t v = (uint32_t)vlen;
		memcpy(e->data + 4, &v, sizeof(v));
	} else {
		e->data[1] = (unsigned char)vlen;
	}
	if (vlen > 0)
		memmove(entry_val(e), val, vlen);
	entry_put_expire(e, expire_at_ms);
	l->t->slot[l->i] = slot_make(e, h);
	if (had && expire_at_ms == 0)
		do_stat_sub(&sh->expires, 1);
	else if (!had && expire_at_ms != 0)
		do_stat_add(&sh->expires, 1);
	return 1;
}

/* Installs e (built by the caller) as key's entry, replacing any entry,
 * expired or not. Returns STORE_OK or STORE_ENOMEM (e then still the
 * caller's); *old receives the replaced entry to free after unlocking. */
static int do_put(store_t *st, struct shard *sh, uint64_t h, struct entry *e, struct entry **old)
{
	struct loc l;
	const unsigned char *key = entry_ckey(e);
	size_t klen = entry_klen(e);

	*old = NULL;
	if (rehashing(sh))
		do_rehash_step(st, sh, REHASH_READ_SLOTS, REHASH_READ_MOVES);
	bool found = do_find(sh, h, key, klen, &l);
	int rc = found ? STORE_OK : do_reserve_one(st, sh);
	if (rc == STORE_OK)
		rc = store_do_journal_set(st, key, klen, entry_cval(e), entry_vlen(e),
		                          entry_expire(e));
	if (rc != STORE_OK)
		return rc;
	if (found)
		*old = do_overwrite(st, sh, &l, h, e);
	else
		do_insert(sh, h, e);
	return STORE_OK;
}

int store_set(store_t *st, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_at_ms)
{
	if (klen > st->max_key)
		return STORE_EKEYTOOBIG;
	if (vlen > st->max_value)
		return STORE_EVALTOOBIG;
	uint64_t h = store_hash(st, key, klen);
	if (expire_at_ms != 0 && expire_at_ms <= store_clock(st))
		return del_hashed(st, h, key, klen) == STORE_EJOURNAL ? STORE_EJOURNAL : STORE_OK;

	struct shard *sh = shard_of(st, h);
	struct entry *e = NULL, *old = NULL;
	struct loc l;
	int rc = STORE_OK;

	if (vlen <= SET_SMALL_VALUE) {
		/* A small value is copied under the lock, into the old entry
		 * when it needs the same allocation (SET over an existing key:
		 * no malloc, no free). */
		pthread_mutex_lock(&sh->lock);
		if (rehashing(sh))
			do_rehash_step(st, sh, REHASH_READ_SLOTS, REHASH_READ_MOVES);
		bool found = do_find(sh, h, key, klen, &l);
		int w = found ? do_rewrite(st, sh, &l, h, val, vlen, expire_at_ms) : 0;
		if (w != 0) {
			pthread_mutex_unlock(&sh->lock);
			return w > 0 ? STORE_OK : w;
		}
		e = entry_alloc(st, key, klen, vlen, expire_at_ms != 0, expire_at_ms);
		if (e == NULL) {
			rc = STORE_ENOMEM;
		} else {
			if (vlen > 0)
				memcpy(entry_val(e), val, vlen);
			if (!found)
				rc = do_reserve_one(st, sh);
			if (rc == STORE_OK)
				rc = store_do_journal_set(st, key, klen, val, vlen, expire_at_ms);
			if (rc == STORE_OK && found)
				old = do_overwrite(st, sh, &l, h, e);
			else if (rc == STORE_OK)
				do_insert(sh, h, e);
		}
		if (rc != STORE_OK) /* gives back a table reserved for nothing */
			store_do_maybe_shrink(sh);
		pthread_mutex_unlock(&sh->lock);
	} else {
		/* Build the entry before taking the lock: the copy of a large
		 * value must not hold up the shard. */
		e = entry_alloc(st, key, klen, vlen, expire_at_ms != 0, expire_at_ms);
		if (e == NULL)
			return STORE_ENOMEM;
		memcpy(entry_val(e), val, vlen);
		pthread_mutex_lock(&sh->lock);
		rc = do_put(st, sh, h, e, &old);
		if (rc != STORE_OK)
			store_do_maybe_shrink(sh);
		pthread_mutex_unlock(&sh->lock);
	}
	free(old);
	if (rc != STORE_OK)
		free(e);
	return rc;
}

int store_get(store_t *st, const void *key, size_t klen, store_read_fn fn, void *arg)
{
	if (klen > st->max_key)
		return STORE_ENOTFOUND;
	uint64_t h = store_hash(st, key, klen);
	struct shard *sh = shard_of(st, h);
	struct entry *dead = NULL;
	struct loc l;

	pthread_mutex_lock(&sh->lock);
	bool found = do_lookup(st, sh, h, key, klen, &l, &dead);
	if (found) {
		store_do_touch(st, l.e);
		if (fn != NULL)
			fn(entry_cval(l.e), entry_vlen(l.e), entry_expire(l.e), arg);
	} else if (dead != NULL) {
		store_do_maybe_shrink(sh);
	}
	pthread_mutex_unlock(&sh->lock);
	free(dead);
	return found ? STORE_OK : STORE_ENOTFOUND;
}

int store_del(store_t *st, const void *key, size_t klen)
{
	if (klen > st->max_key)
		return STORE_ENOTFOUND;
	return del_hashed(st, store_hash(st, key, klen), key, klen);
}

int store_exists(store_t *st, const void *key, size_t klen)
{
	return store_get(st, key, klen, NULL, NULL) == STORE_OK;
}

int store_set_ex(store_t *st, const void *key, size_t klen, const void *val, size_t vlen,
                 int64_t expire_at_ms, unsigned flags, store_read_fn old_fn, void *arg)
{
	if (klen > st->max_key)
		return STORE_EKEYTOOBIG;
	if (vlen > st->max_value)
		return STORE_EVALTOOBIG;
	bool keepttl = flags & STORE_SET_KEEPTTL;
	if (keepttl)
		expire_at_ms = 0;
	bool past = expire_at_ms != 0 && expire_at_ms <= store_clock(st);
	uint64_t h = store_hash(st, key, klen);
	struct entry *e = NULL;

	/* As in store_set, a large value is copied before locking; with
	 * KEEPTTL it gets room for an expiry, known only under the lock (8
	 * bytes that stay unused if there is none). */
	if (!past && vlen > SET_SMALL_VALUE) {
		e = entry_alloc(st, key, klen, vlen, keepttl || expire_at_ms != 0, expire_at_ms);
		if (e == NULL)
			return STORE_ENOMEM;
		memcpy(entry_val(e), val, vlen);
	}

	struct shard *sh = shard_of(st, h);
	struct entry *dead = NULL, *old = NULL;
	struct loc l;
	int rc = STORE_OK;

	pthread_mutex_lock(&sh->lock);
	bool found = do_lookup(st, sh, h, key, klen, &l, &dead);
	if (found && old_fn != NULL)
		old_fn(entry_cval(l.e), entry_vlen(l.e), entry_expire(l.e), arg);
	int64_t exp = keepttl && found ? entry_expire(l.e) : expire_at_ms;
	int w = 0;
	if (((flags & STORE_SET_NX) && found) || ((flags & STORE_SET_XX) && !found)) {
		rc = STORE_ECOND;
	} else if (past) {
		if (found && (rc = store_do_journal_del(st, l.e, STORE_CAUSE_WRITE)) == STORE_OK)
			old = store_do_unlink(sh, &l);
	} else if (e == NULL && found && (w = do_rewrite(st, sh, &l, h, val, vlen, exp)) != 0) {
		/* written in place, or refused by the journal */
		if (w < 0)
			rc = w;
	} else if (e == NULL && (e = entry_alloc(st, key, klen, vlen, exp != 0, exp)) == NULL) {
		rc = STORE_ENOMEM;
	} else {
		if (vlen <= SET_SMALL_VALUE) {
			if (vlen > 0) /* allocated just above, under the lock */
				memcpy(entry_val(e), val, vlen);
		} else if (keepttl) {
			entry_put_expire(e, exp); /* in the room left for it */
		}
		if (!found)
			rc = do_reserve_one(st, sh);
		if (rc == STORE_OK)
			rc = store_do_journal_set(st, key, klen, val, vlen, exp);
		if (rc == STORE_OK && found) {
			old = do_overwrite(st, sh, &l, h, e);
			e = NULL;
		} else if (rc == STORE_OK) {
			do_insert(sh, h, e);
			e = NULL;
		}
	}
	/* Also gives back a table do_reserve allocated for nothing. */
	store_do_maybe_shrink(sh);
	pthread_mutex_unlock(&sh->lock);
	free(dead);
	free(old);
	free(e);
	return rc;
}

/* STORE_UPD_SET_EXPIRE on a live entry. May reallocate the entry to make
 * room for the expiry; *old then receives the block to free. */
static int do_set_expire(store_t *st, struct shard *sh, struct loc *l, uint64_t h,
                         int64_t expire_at_ms, struct entry **old)
{
	struct entry *e = l->e;
	int rc;

	if (expire_at_ms != 0 && expire_at_ms <= store_clock(st)) {
		if ((rc = store_do_journal_del(st, e, STORE_CAUSE_WRITE)) != STORE_OK)
			return rc;
		*old = store_do_unlink(sh, l);
		return STORE_OK;
	}
	store_change ch = {.op = STORE_CH_EXPIRE,
	                   .key = entry_ckey(e),
	                   .klen = entry_klen(e),
	                   .expire_at_ms = expire_at_ms};
	if (expire_at_ms != 0 && !(e->meta & ENTRY_EXPIRES) && !entry_has_expire_room(e)) {
		size_t klen = entry_klen(e), vlen = entry_vlen(e);
		struct entry *n = entry_alloc(st, entry_ckey(e), klen, vlen, true, expire_at_ms);
		if (n == NULL)
			return STORE_ENOMEM;
		if ((rc = store_do_journal(st, &ch, 1, STORE_CAUSE_WRITE)) != STORE_OK) {
			free(n);
			return rc;
		}
		entry_set_access(n, entry_access(e));
		if (vlen > 0)
			memcpy(entry_val(n), entry_cval(e), vlen);
		*old = do_replace(sh, l, h, n);
		return STORE_OK;
	}
	if ((rc = store_do_journal(st, &ch, 1, STORE_CAUSE_WRITE)) != STORE_OK)
		return rc;
	bool had = e->meta & ENTRY_EXPIRES;
	entry_put_expire(e, expire_at_ms);
	l->t->slot[l->i] = slot_make(e, h);
	if (had && expire_at_ms == 0)
		do_stat_sub(&sh->expires, 1);
	else if (!had && expire_at_ms != 0)
		do_stat_add(&sh->expires, 1);
	return STORE_OK;
}

int store_update(store_t *st, const void *key, size_t klen, store_update_fn fn, void *arg)
{
	if (klen > st->max_key) {
		/* Such a key cannot exist; fn still decides the reply. */
		store_upd u = {.action = STORE_UPD_KEEP};
		int ret = fn(NULL, &u, arg);
		return u.action == STORE_UPD_WRITE ? STORE_EKEYTOOBIG : ret;
	}
	uint64_t h = store_hash(st, key, klen);
	struct shard *sh = shard_of(st, h);
	struct entry *dead = NULL, *old = NULL;
	struct loc l;

	pthread_mutex_lock(&sh->lock);
	bool found = do_lookup(st, sh, h, key, klen, &l, &dead);
	store_val cur;
	if (found) {
		cur = (store_val){.val = (const char *)entry_cval(l.e),
		                  .vlen = entry_vlen(l.e),
		                  .expire_at_ms = entry_expire(l.e)};
		store_do_touch(st, l.e);
	}
	store_upd u = {.action = STORE_UPD_KEEP};
	int rc = fn(found ? &cur : NULL, &u, arg);

	switch (u.action) {
	case STORE_UPD_KEEP:
		break;
	case STORE_UPD_DELETE:
		if (found) {
			int err = store_do_journal_del(st, l.e, STORE_CAUSE_WRITE);
			if (err != STORE_OK)
				rc = err;
			else
				old = store_do_unlink(sh, &l);
		}
		break;
	case STORE_UPD_SET_EXPIRE:
		if (found) {
			int err = do_set_expire(st, sh, &l, h, u.expire_at_ms, &old);
			if (err != STORE_OK)
				rc = err;
		}
		break;
	case STORE_UPD_WRITE: {
		if (u.new_len > st->max_value) {
			rc = STORE_EVALTOOBIG;
			break;
		}
		if (u.expire_at_ms != 0 && u.expire_at_ms <= store_clock(st)) {
			if (found) {
				int err = store_do_journal_del(st, l.e, STORE_CAUSE_WRITE);
				if (err != STORE_OK)
					rc = err;
				else
					old = store_do_unlink(sh, &l);
			}
			break;
		}
		if (!found) {
			int err = do_reserve_one(st, sh);
			if (err != STORE_OK) {
				rc = err;
				break;
			}
		}
		struct entry *e =
		        entry_alloc(st, key, klen, u.new_len, u.expire_at_ms != 0, u.expire_at_ms);
		if (e == NULL) {
			rc = STORE_ENOMEM;
			break;
		}
		if (u.fill != NULL)
			u.fill((char *)entry_val(e), found ? &cur : NULL, arg);
		else if (u.new_len > 0)
			memset(entry_val(e), 0, u.new_len);
		int err = store_do_journal_set(st, key, klen, entry_cval(e), u.new_len,
		                               u.expire_at_ms);
		if (err != STORE_OK) {
			free(e);
			rc = err;
			break;
		}
		if (found) {
			entry_set_access(e, entry_access(l.e));
			old = do_replace(sh, &l, h, e);
		} else {
			do_insert(sh, h, e);
		}
		break;
	}
	}
	/* Also gives back a table do_reserve allocated for nothing. */
	store_do_maybe_shrink(sh);
	pthread_mutex_unlock(&sh->lock);
	free(dead);
	free(old);
	return rc;
}

/* ---- Multi-key operations ---- */

static void lock_two(struct shard *a, struct shard *b)
{
	if (a == b) {
		pthread_mutex_lock(&a->lock);
	} else if (a < b) {
		pthread_mutex_lock(&a->lock);
		pthread_mutex_lock(&b->lock);
	} else {
		pthread_mutex_lock(&b->lock);
		pthread_mutex_lock(&a->lock);
	}
}

static void unlock_two(struct shard *a, struct shard *b)
{
	pthread_mutex_unlock(&a->lock);
	if (a != b)
		pthread_mutex_unlock(&b->lock);
}

/* Looks up a live key without advancing a resize (a multi-key operation
 * holds locations in several places); an expired entry goes to *dead. */
static bool do_lookup_fixed(store_t *st, struct shard *sh, uint64_t h, const void *key, size_t klen,
                            struct loc *l, struct entry **dead)
{
	if (!do_find(sh, h, key, klen, l))
		return false;
	if ((l->e->meta & ENTRY_EXPIRES) && entry_expired(l->e, store_clock(st))) {
		store_do_journal_del(st, l->e, STORE_CAUSE_EXPIRED);
		*dead = store_do_unlink(sh, l);
		do_stat_add(&sh->expired, 1);
		return false;
	}
	return true;
}

static bool same_key(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* RENAME and COPY. The source entry is reused when the key length is the
 * same (rename only), else copied: one allocation under the two locks. */
static int move_or_copy(store_t *st, const void *src, size_t slen, const void *dst, size_t dlen,
                        bool rename, bool overwrite)
{
	if (slen > st->max_key)
		return STORE_ENOTFOUND;
	if (dlen > st->max_key)
		return STORE_EKEYTOOBIG;
	uint64_t hs = store_hash(st, src, slen), hd = store_hash(st, dst, dlen);
	struct shard *ss = shard_of(st, hs), *sd = shard_of(st, hd);
	struct entry *dead[2] = {NULL, NULL}, *old = NULL, *gone = NULL;
	struct loc ls, ld;
	int rc = STORE_OK;

	lock_two(ss, sd);
	/* Room first: do_reserve may move entries, the locations below may not. */
	rc = do_reserve(st, sd, 1);
	if (rc != STORE_OK)
		goto out;
	if (!do_lookup_fixed(st, ss, hs, src, slen, &ls, &dead[0])) {
		rc = STORE_ENOTFOUND;
		goto out;
	}
	if (same_key(src, slen, dst, dlen)) {
		rc = overwrite ? STORE_OK : STORE_ECOND;
		goto out;
	}
	bool exists = do_lookup_fixed(st, sd, hd, dst, dlen, &ld, &dead[1]);
	if (exists && !overwrite) {
		rc = STORE_ECOND;
		goto out;
	}
	struct entry *e = ls.e;
	size_t vlen = entry_vlen(ls.e);
	int64_t exp = entry_expire(ls.e);
	bool reuse = rename && slen == dlen;
	if (!reuse) {
		e = entry_alloc(st, dst, dlen, vlen, exp != 0, exp);
		if (e == NULL) {
			rc = STORE_ENOMEM;
			goto out;
		}
		if (vlen > 0)
			memcpy(entry_val(e), entry_cval(ls.e), vlen);
		if (rename)
			entry_set_access(e, entry_access(ls.e));
	}
	/* RENAME is a SET of dst and a DEL of src, journaled as one change. */
	store_change ch[2] = {
	        {.op = STORE_CH_SET,
	         .key = dst,
	         .klen = dlen,
	         .val = entry_cval(ls.e),
	         .vlen = vlen,
	         .expire_at_ms = exp},
	        {.op = STORE_CH_DEL, .key = src, .klen = slen},
	};
	rc = store_do_journal(st, ch, rename ? 2 : 1, STORE_CAUSE_WRITE);
	if (rc != STORE_OK) {
		if (!reuse)
			free(e);
		goto out;
	}
	if (reuse && dlen > 0)
		memcpy(entry_key(e), dst, dlen);
	if (rename) {
		store_do_unlink(ss, &ls);
		if (e != ls.e)
			gone = ls.e;
	}
	if (exists)
		old = do_replace(sd, &ld, hd, e);
	else
		do_insert(sd, hd, e);
out:
	store_do_maybe_shrink(ss);
	if (sd != ss)
		store_do_maybe_shrink(sd);
	unlock_two(ss, sd);
	free(dead[0]);
	free(dead[1]);
	free(old);
	free(gone);
	return rc;
}

int store_rename(store_t *st, const void *src, size_t slen, const void *dst, size_t dlen, int nx)
{
	return move_or_copy(st, src, slen, dst, dlen, true, !nx);
}

int store_copy(store_t *st, const void *src, size_t slen, const void *dst, size_t dlen, int replace)
{
	return move_or_copy(st, src, slen, dst, dlen, false, replace != 0);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* All per-call arrays of store_mset in one allocation. */
struct mset_work {
	uint64_t *hash;
	struct entry **e; /* the new entries; after writing, the replaced ones */
	uint32_t *shard;  /* sorted shard indices, with repeats */
	store_change *ch; /* for the journal; NULL without one */
};

static int mset_prepare(store_t *st, size_t n, const void *const keys[], const size_t klens[],
                        const void *const vals[], const size_t vlens[], struct mset_work *w)
{
	size_t bytes = n * (sizeof(store_change) + sizeof(uint64_t) + sizeof(struct entry *) +
	                    sizeof(uint32_t));
	char *p = malloc(bytes);

	if (p == NULL)
		return STORE_ENOMEM;
	w->ch = (store_change *)p;
	w->hash = (uint64_t *)(p + n * sizeof(store_change));
	w->e = (struct entry **)(w->hash + n);
	w->shard = (uint32_t *)(w->e + n);
	for (size_t i = 0; i < n; i++) {
		w->ch[i] = (store_change){.op = STORE_CH_SET,
		                          .key = keys[i],
		                          .klen = klens[i],
		                          .val = vals[i],
		                          .vlen = vlens[i]};
		w->hash[i] = store_hash(st, keys[i], klens[i]);
		w->shard[i] = (uint32_t)((w->hash[i] >> 48) & st->shard_mask);
		w->e[i] = entry_alloc(st, keys[i], klens[i], vlens[i], false, 0);
		if (w->e[i] == NULL) {
			while (i-- > 0)
				free(w->e[i]);
			free(p);
			return STORE_ENOMEM;
		}
		if (vlens[i] > 0)
			memcpy(entry_val(w->e[i]), vals[i], vlens[i]);
	}
	qsort(w->shard, n, sizeof(*w->shard), cmp_u32);
	return STORE_OK;
}

static void mset_unlock(store_t *st, const struct mset_work *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || w->shard[i] != w->shard[i - 1])
			pthread_mutex_unlock(&st->shards[w->shard[i]].lock);
	}
}

int store_mget(store_t *st, size_t n, const void *const keys[], const size_t klens[],
               store_mget_fn fn, void *arg)
{
	if (n == 0)
		return STORE_OK;
	uint64_t *hash = malloc(n * (sizeof(uint64_t) + sizeof(uint32_t)));
	if (hash == NULL)
		return STORE_ENOMEM;
	uint32_t *order = (uint32_t *)(hash + n);
	for (size_t i = 0; i < n; i++) {
		hash[i] = store_hash(st, keys[i], klens[i]);
		order[i] = (uint32_t)((hash[i] >> 48) & st->shard_mask);
	}
	qsort(order, n, sizeof(*order), cmp_u32);
	/* Ascending shard order, as store_mset: readers and writers of several
	 * shards never wait on each other in a cycle. */
	for (size_t i = 0; i < n; i++)
		if (i == 0 || order[i] != order[i - 1])
			pthread_mutex_lock(&st->shards[order[i]].lock);
	int64_t now = store_clock(st);
	for (size_t i = 0; i < n; i++) {
		struct loc l;
		/* Expired entries are left to lazy or active expiry: freeing
		 * them here would mean collecting them across shards. */
		if (klens[i] <= st->max_key &&
		    do_find(shard_of(st, hash[i]), hash[i], keys[i], klens[i], &l) &&
		    !entry_expired(l.e, now)) {
			store_do_touch(st, l.e);
			fn(i, entry_cval(l.e), entry_vlen(l.e), 1, arg);
		} else {
			fn(i, NULL, 0, 0, arg);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (i == 0 || order[i] != order[i - 1])
			pthread_mutex_unlock(&st->shards[order[i]].lock);
	free(hash);
	return STORE_OK;
}

int store_del_many(store_t *st, size_t n, const void *const keys[], const size_t klens[],
                   size_t *removed)
{
	if (removed)
		*removed = 0;
	if (n == 0)
		return STORE_OK;
	/* One block: hashes, sorted shard indices, locations, changes. */
	size_t bytes = n * (sizeof(uint64_t) + sizeof(uint32_t) + sizeof(struct loc) +
	                    sizeof(store_change));
	char *p = malloc(bytes);
	if (p == NULL)
		return STORE_ENOMEM;
	store_change *ch = (store_change *)p;
	struct loc *loc = (struct loc *)(ch + n);
	uint64_t *hash = (uint64_t *)(loc + n);
	uint32_t *order = (uint32_t *)(hash + n);
	for (size_t i = 0; i < n; i++) {
		hash[i] = store_hash(st, keys[i], klens[i]);
		order[i] = (uint32_t)((hash[i] >> 48) & st->shard_mask);
	}
	qsort(order, n, sizeof(*order), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || order[i] != order[i - 1])
			pthread_mutex_lock(&st->shards[order[i]].lock);
	/* Find every live key first (no resize step: locations must stay
	 * valid, and an unlink moves no other entry), then journal, then
	 * unlink. */
	int64_t now = store_clock(st);
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		struct loc l;
		if (klens[i] > st->max_key ||
		    !do_find(shard_of(st, hash[i]), hash[i], keys[i], klens[i], &l) ||
		    entry_expired(l.e, now))
			continue;
		size_t k = 0;
		while (k < found && loc[k].e != l.e)
			k++;
		if (k < found)
			continue; /* given twice */
		loc[found] = l;
		hash[found] = hash[i]; /* hash[found..i] is no longer needed */
		ch[found] = (store_change){
		        .op = STORE_CH_DEL, .key = entry_ckey(l.e), .klen = entry_klen(l.e)};
		found++;
	}
	int rc = found > 0 ? store_do_journal(st, ch, found, STORE_CAUSE_WRITE) : STORE_OK;
	struct entry **gone = (struct entry **)ch; /* ch is done with: reuse its room */
	_Static_assert(sizeof(store_change) >= sizeof(struct entry *), "room for the entries");
	for (size_t k = 0; rc == STORE_OK && k < found; k++)
		gone[k] = store_do_unlink(shard_of(st, hash[k]), &loc[k]);
	for (size_t k = 0; rc == STORE_OK && k < found; k++)
		store_do_maybe_shrink(shard_of(st, hash[k]));
	for (size_t i = 0; i < n; i++)
		if (i == 0 || order[i] != order[i - 1])
			pthread_mutex_unlock(&st->shards[order[i]].lock);
	for (size_t k = 0; rc == STORE_OK && k < found; k++)
		free(gone[k]);
	if (rc == STORE_OK && removed)
		*removed = found;
	free(p);
	return rc;
}

int store_mset(store_t *st, size_t n, const void *const keys[], const size_t klens[],
               const void *const vals[], const size_t vlens[], int nx)
{
	for (size_t i = 0; i < n; i++) {
		if (klens[i] > st->max_key)
			return STORE_EKEYTOOBIG;
		if (vlens[i] > st->max_value)
			return STORE_EVALTOOBIG;
	}
	if (n == 0)
		return STORE_OK;
	struct mset_work w;
	int rc = mset_prepare(st, n, keys, klens, vals, vlens, &w);
	if (rc != STORE_OK)
		return rc;

	/* Ascending shard order; each shard reserves room for all its keys
	 * before anything is written, so no write can fail halfway. */
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || w.shard[i] != w.shard[i - 1])
			pthread_mutex_lock(&st->shards[w.shard[i]].lock);
	}
	for (size_t i = 0, run = 1; i < n && rc == STORE_OK; i += run) {
		for (run = 1; i + run < n && w.shard[i + run] == w.shard[i]; run++)
			;
		rc = do_reserve(st, &st->shards[w.shard[i]], run);
	}
	int64_t now = store_clock(st);
	for (size_t i = 0; i < n && rc == STORE_OK && nx; i++) {
		struct loc l;
		struct shard *sh = shard_of(st, w.hash[i]);
		if (do_find(sh, w.hash[i], keys[i], klens[i], &l) && !entry_expired(l.e, now))
			rc = STORE_ECOND;
	}
	if (rc == STORE_OK)
		rc = store_do_journal(st, w.ch, n, STORE_CAUSE_WRITE);
	if (rc != STORE_OK) {
		/* do_reserve may have given empty shards a table. */
		for (size_t i = 0; i < n; i++)
			store_do_maybe_shrink(shard_of(st, w.hash[i]));
		mset_unlock(st, &w, n);
		for (size_t i = 0; i < n; i++)
			free(w.e[i]);
		free(w.ch);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct loc l;
		struct shard *sh = shard_of(st, w.hash[i]);
		struct entry *e = w.e[i];
		w.e[i] = NULL;
		if (do_find(sh, w.hash[i], keys[i], klens[i], &l)) {
			w.e[i] = do_overwrite(st, sh, &l, w.hash[i], e);
		} else {
			do_insert(sh, w.hash[i], e);
		}
	}
	mset_unlock(st, &w, n);
	for (size_t i = 0; i < n; i++)
		free(w.e[i]);
	free(w.ch);
	return STORE_OK;
}

/* ---- Whole store ---- */

uint64_t store_count(const store_t *st)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < st->nshards; i++)
		n += stat_get(&st->shards[i].count);
	return n;
}

uint64_t store_mem_used(const store_t *st)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < st->nshards; i++)
		n += stat_get(&st->shards[i].mem);
	return n;
}

/* Frees a table detached from its shard (no lock needed) and its entries. */
static void table_destroy(struct table *t)
{
	if (t->slot == NULL)
		return;
	for (size_t i = 0; i < t->size; i++) {
		if (slot_live(t->slot[i]))
			free(slot_entry(t->slot[i]));
	}
	free(t->slot);
}

/* Every shard is emptied in O(1) by detaching its tables, with all shard
 * locks held so that the flush is one point in time (a write to the last
 * shard cannot slip in between the journal's FLUSHALL and that shard's
 * turn); the entries are freed after unlocking. */
int store_clear(store_t *st)
{
	struct table *old = malloc(2 * (size_t)st->nshards * sizeof(*old));
	if (old == NULL)
		return STORE_ENOMEM;
	for (unsigned i = 0; i < st->nshards; i++)
		pthread_mutex_lock(&st->shards[i].lock);
	store_change ch = {.op = STORE_CH_FLUSHALL};
	int rc = store_do_journal(st, &ch, 1, STORE_CAUSE_WRITE);
	for (unsigned i = 0; i < st->nshards; i++) {
		struct shard *sh = &st->shards[i];

		if (rc == STORE_OK) {
			old[2 * i] = sh->ht[0];
			old[2 * i + 1] = sh->ht[1];
			sh->ht[0] = sh->ht[1] = (struct table){0};
			sh->rehash_idx = 0;
			atomic_store_explicit(&sh->count, 0, memory_order_relaxed);
			atomic_store_explicit(&sh->mem, 0, memory_order_relaxed);
			atomic_store_explicit(&sh->expires, 0, memory_order_relaxed);
		}
		pthread_mutex_unlock(&sh->lock);
	}
	for (unsigned i = 0; rc == STORE_OK && i < 2 * st->nshards; i++)
		table_destroy(&old[i]);
	free(old);
	return rc;
}

void store_pause_expiry(store_t *st, int paused)
{
	atomic_store_explicit(&st->expiry_paused, paused != 0, memory_order_relaxed);
}

void store_journal_refused(int err)
{
	store_journal_errno = err;
}

void store_set_journal(store_t *st, store_journal_fn fn, void *arg)
{
	atomic_store_explicit(&st->journal_arg, arg, memory_order_relaxed);
	atomic_store_explicit(&st->journal, fn, memory_order_release);
}

void store_stats_get(store_t *st, store_stats *out)
{
	*out = (store_stats){.shards = st->nshards};
	for (unsigned i = 0; i < st->nshards; i++) {
		struct shard *sh = &st->shards[i];

		pthread_mutex_lock(&sh->lock);
		out->buckets += sh->ht[0].size + sh->ht[1].size;
		out->rehashing += rehashing(sh);
		pthread_mutex_unlock(&sh->lock);
	}
}

void store_counters_get(const store_t *st, store_counters *out)
{
	*out = (store_counters){0};
	for (unsigned i = 0; i < st->nshards; i++) {
		const struct shard *sh = &st->shards[i];
		out->expired_keys += stat_get(&sh->expired);
		out->evicted_keys += stat_get(&sh->evicted);
		out->expires += stat_get(&sh->expires);
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
	atomic_init(&st->maxmemory, 0);
	atomic_init(&st->policy, STORE_EVICT_NOEVICTION);
	atomic_init(&st->expire_shard, 0);
	pthread_mutex_init(&st->evict_lock, NULL);
	st->pool_len = 0;
	memset(st->pool, 0, sizeof(st->pool));
	atomic_init(&st->expiry_paused, 0);
	atomic_init(&st->journal, NULL);
	atomic_init(&st->journal_arg, NULL);

	/* Critical sections are short (a lookup and a few stores), so an
	 * adaptive mutex spins briefly before sleeping. These calls cannot
	 * fail on Linux for these attributes. */
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	for (unsigned i = 0; i < c.shards; i++) {
		struct shard *sh = &st->shards[i];
		pthread_mutex_init(&sh->lock, &attr);
		sh->ht[0] = sh->ht[1] = (struct table){0};
		sh->rehash_idx = 0;
		sh->rehash_pace = REHASH_MIN_PACE;
		sh->expire_pos = 0;
		/* Spread over [0.5, 0.6] by a multiplicative hash of the index. */
		sh->fill_target =
		        FILL_TARGET_MIN + (i * 0x9e3779b9u >> 16) % (FILL_TARGET_SPREAD + 1);
		atomic_init(&sh->count, 0);
		atomic_init(&sh->mem, 0);
		atomic_init(&sh->expires, 0);
		atomic_init(&sh->expired, 0);
		atomic_init(&sh->evicted, 0);
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
	for (unsigned i = 0; i < EVPOOL_SIZE; i++)
		free(st->pool[i].key);
	pthread_mutex_destroy(&st->evict_lock);
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
	case STORE_ECOND:
		return "condition not met";
	case STORE_EOOM:
		return "command not allowed when used memory > 'maxmemory'.";
	case STORE_EJOURNAL: {
		static _Thread_local char text[160];
		char buf[96];
		if (store_journal_errno == EFBIG)
			return "write-ahead log: record too large (key and value over 4 GiB)";
		snprintf(text, sizeof text,
		         "write-ahead log: %s; writes refused until it can be written",
		         strerror_r(store_journal_errno, buf, sizeof buf));
		return text;
	}
	default:
		return "unknown error";
	}
}
