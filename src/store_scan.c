/* store_scan.c - iteration over the keyspace: SCAN steps and RANDOMKEY.
 *
 * A key's home slot is (pos * size) >> 32, pos being 32 bits of its hash, so
 * homes are in the order of pos whatever the table size, and every entry
 * lies in the run of occupied slots (tombstones included) that starts at its
 * home. A SCAN cursor is therefore a position in hash space, not a slot: a
 * step reports, from both tables of a shard being resized, every key whose
 * pos lies in [cursor, next), where next ends the cluster of the larger
 * table that contains the cursor's home. Steps cover disjoint, increasing
 * ranges, so a key that stays is reported exactly once however the tables
 * change between steps. Redis's reverse-binary cursor solves the same problem
 * for tables indexed by the low bits of the hash; with the high bits a plain
 * increasing cursor has the property, and no table needs visiting twice.
 * RANDOMKEY picks a shard among those with keys, then a slot at random until
 * one is live, which is uniform within the shard (a slot holds one key).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_impl.h"

#define RANDOM_TRIES   32u /* random slots tried before walking the shard */
#define PREFETCH_AHEAD 8u  /* store_foreach_locked: slots between prefetch and use */

static void report(const struct entry *e, store_key_fn fn, void *arg)
{
	store_val v = {.val = (const char *)entry_cval(e),
	               .vlen = entry_vlen(e),
	               .expire_at_ms = entry_expire(e)};
	fn(entry_ckey(e), entry_klen(e), &v, arg);
}

/* Reports the live entries of t whose pos is in [lo, hi). Their homes are
 * home(lo)..home(hi - 1), and each lies between its home and the first empty
 * slot after it, so the walk ends at the first empty slot from home(hi - 1). */
static void do_scan_range(const store_t *st, const struct table *t, uint64_t lo, uint64_t hi,
                          int64_t now, store_key_fn fn, void *arg)
{
	size_t i = (size_t)(lo * t->size >> 32);
	size_t last = (size_t)((hi - 1) * t->size >> 32);
	bool past = false;

	if (t->used == 0)
		return;
	for (size_t n = t->size; n > 0; n--) {
		uint64_t s = t->slot[i];
		past = past || i == last;
		if (s == SLOT_EMPTY && past)
			break;
		if (slot_live(s)) {
			const struct entry *e = slot_entry(s);
			uint64_t pos = hash_pos(entry_hash(st, e));
			if (pos >= lo && pos < hi && !entry_expired(e, now))
				report(e, fn, arg);
		}
		i = tbl_next(t, i);
	}
}

/* The cursor is shard << 32 | pos: the step covers the cluster of the larger
 * table that starts at pos's home, i.e. positions [pos, next). */
uint64_t store_scan(store_t *st, uint64_t cursor, store_key_fn fn, void *arg)
{
	uint64_t idx = cursor >> 32, lo = cursor & UINT32_MAX;

	for (; idx < st->nshards; idx++, lo = 0) {
		struct shard *sh = &st->shards[idx];

		pthread_mutex_lock(&sh->lock);
		if (sh->ht[0].slot == NULL) {
			pthread_mutex_unlock(&sh->lock);
			continue;
		}
		const struct table *big = &sh->ht[0], *small = &sh->ht[1];
		if (small->size > big->size) {
			big = &sh->ht[1];
			small = &sh->ht[0];
		}
		size_t b = (size_t)(lo * big->size >> 32), e = b, n = big->size;
		bool wrapped = false;
		while (n-- > 0 && big->slot[e] != SLOT_EMPTY) {
			e = tbl_next(big, e);
			wrapped = wrapped || e == 0;
		}
		uint64_t hi = wrapped ? UINT64_C(1) << 32 : tbl_start(e + 1, big->size);
		int64_t now = store_clock(st);
		do_scan_range(st, big, lo, hi, now, fn, arg);
		if (small->slot != NULL)
			do_scan_range(st, small, lo, hi, now, fn, arg);
		pthread_mutex_unlock(&sh->lock);
		if (hi < UINT64_C(1) << 32)
			return idx << 32 | hi;
		return idx + 1 < st->nshards ? (idx + 1) << 32 : 0;
	}
	return 0;
}

/* A random live entry of sh: uniform over slots by rejection, then a walk
 * from a random slot when the tables are too sparse or mostly expired. */
static bool do_random_entry(struct shard *sh, int64_t now, struct loc *l)
{
	size_t total = store_do_slots(sh);

	if (total == 0 || sh->ht[0].used + sh->ht[1].used == 0)
		return false;
	for (unsigned t = 0; t < RANDOM_TRIES; t++) {
		if (slot_live(store_do_slot_at(sh, store_random() % total, l)) &&
		    !entry_expired(l->e, now))
			return true;
	}
	size_t i = store_random() % total;
	for (size_t n = total; n > 0; n--, i = i + 1 == total ? 0 : i + 1) {
		if (slot_live(store_do_slot_at(sh, i, l)) && !entry_expired(l->e, now))
			return true;
	}
	return false;
}

int store_random_key(store_t *st, store_key_fn fn, void *arg)
{
	/* A shard may turn out empty (or all expired) once locked: try again,
	 * a bounded number of times. */
	for (unsigned k = 0; k < st->nshards + 8; k++) {
		struct shard *sh = store_random_shard(st, false);
		if (sh == NULL)
			break;
		struct loc l;
		pthread_mutex_lock(&sh->lock);
		bool found = do_random_entry(sh, store_clock(st), &l);
		if (found)
			report(l.e, fn, arg);
		pthread_mutex_unlock(&sh->lock);
		if (found)
			return STORE_OK;
	}
	return STORE_ENOTFOUND;
}

/* ---- whole-keyspace view ---- */

void store_lock_all(store_t *st)
{
	for (unsigned i = 0; i < st->nshards; i++)
		pthread_mutex_lock(&st->shards[i].lock);
}

void store_unlock_all(store_t *st)
{
	for (unsigned i = st->nshards; i-- > 0;)
		pthread_mutex_unlock(&st->shards[i].lock);
}

int store_foreach_locked(store_t *st, int64_t now_ms, store_each_fn fn, void *arg)
{
	for (unsigned i = 0; i < st->nshards; i++) {
		const struct shard *sh = &st->shards[i];

		for (int t = 0; t < 2; t++) {
			const struct table *tb = &sh->ht[t];

			for (size_t j = 0; tb->slot != NULL && j < tb->size; j++) {
				uint64_t s = tb->slot[j];
				/* Entries are scattered on the heap: ask for the one a
				 * few slots ahead while this one is reported (the walk
				 * is otherwise bound by cache misses). */
				if (j + PREFETCH_AHEAD < tb->size &&
				    slot_live(tb->slot[j + PREFETCH_AHEAD]))
					__builtin_prefetch(
					        slot_entry(tb->slot[j + PREFETCH_AHEAD]));
				if (!slot_live(s))
					continue;
				const struct entry *e = slot_entry(s);
				if (entry_expired(e, now_ms))
					continue;
				store_val v = {.val = (const char *)entry_cval(e),
				               .vlen = entry_vlen(e),
				               .expire_at_ms = entry_expire(e)};
				int rc = fn(entry_ckey(e), entry_klen(e), &v, arg);
				if (rc != 0)
					return rc;
			}
		}
	}
	return 0;
}
