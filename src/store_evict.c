/* store_evict.c - access metadata, active expiry and eviction under maxmemory.
 *
 * Every entry has 24 access bits (store_impl.h). Under an LFU policy they hold
 * the minute of the last access (16 bits) and a logarithmic counter (8 bits)
 * that halves its growth rate as it rises and loses one per idle minute, as
 * Redis's LFU; under any other policy they hold a clock in seconds (wrapping
 * after 194 days), as Redis's LRU. Changing between LRU and LFU policies
 * reinterprets the bits; eviction is approximate anyway.
 *
 * Eviction samples, as Redis does: 5 keys of a random shard (with an expiry,
 * for volatile-*) go into a pool of the 16 best candidates seen so far, and
 * the best one still present and not touched since it was sampled is
 * deleted. Active expiry sweeps each shard's slots from where it stopped last
 * time, skipping shards with no expiring key, 20 expiring keys per round.
 * Lock order: evict_lock, then one shard lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store_impl.h"

#include <stdlib.h>
#include <strings.h>
#include <time.h>

#define LFU_INIT_VAL           5  /* a new key's counter: not evicted at once */
#define LFU_LOG_FACTOR         10 /* counter c grows with probability 1/((c-5)*10+1) */
#define LFU_DECAY_MINUTES      1  /* the counter loses one per idle period */
#define RANDOM_SHARD_TRIES     256
#define EVICT_SAMPLES          5
#define EVICT_TRIES            8 /* random slots tried per sample */
#define EVICT_ROUNDS           64
#define EXPIRE_KEYS_PER_ROUND  20
#define EXPIRE_SLOTS_PER_ROUND 400
#define EXPIRE_ROUNDS          16 /* per shard visit, while over 1/4 were expired */

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t store_random(void)
{
	static __thread uint64_t s;

	if (s == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = ((uint64_t)ts.tv_nsec << 20 ^ (uint64_t)(uintptr_t)&s) *
		    UINT64_C(0x9e3779b97f4a7c15);
		s |= 1;
	}
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * UINT64_C(0x2545f4914f6cdd1d);
}

static bool policy_volatile(int policy)
{
	return policy >= STORE_EVICT_VOLATILE_LRU;
}

static int policy_of(const store_t *st)
{
	return atomic_load_explicit(&st->policy, memory_order_relaxed);
}

static uint32_t lru_now(uint64_t sec)
{
	return (uint32_t)(sec & ENTRY_ACCESS_MASK);
}

static uint32_t lfu_minutes(uint64_t sec)
{
	return (uint32_t)(sec / 60 & 0xffff);
}

/* The counter after the decay of the minutes since the last access. */
static uint32_t lfu_decayed(uint32_t access, uint32_t minutes)
{
	uint32_t counter = access & 0xff;
	uint32_t periods = ((minutes - (access >> 8)) & 0xffff) / LFU_DECAY_MINUTES;
	return periods >= counter ? 0 : counter - periods;
}

static uint32_t lfu_log_incr(uint32_t counter)
{
	if (counter == 255)
		return 255;
	uint32_t base = counter > LFU_INIT_VAL ? counter - LFU_INIT_VAL : 0;
	if (store_random() % (base * LFU_LOG_FACTOR + 1) == 0)
		counter++;
	return counter;
}

uint32_t store_access_init(const store_t *st)
{
	uint64_t sec = mono_sec();

	if (policy_lfu(policy_of(st)))
		return lfu_minutes(sec) << 8 | LFU_INIT_VAL;
	return lru_now(sec);
}

uint32_t store_lfu_touched(uint32_t access, uint64_t sec)
{
	uint32_t minutes = lfu_minutes(sec);
	return minutes << 8 | lfu_log_incr(lfu_decayed(access, minutes));
}

/* Higher scores are evicted first. */
static uint64_t evict_score(int policy, const struct entry *e, uint64_t sec)
{
	switch (policy) {
	case STORE_EVICT_ALLKEYS_LFU:
	case STORE_EVICT_VOLATILE_LFU:
		return 255 - lfu_decayed(entry_access(e), lfu_minutes(sec));
	case STORE_EVICT_VOLATILE_TTL:
		return UINT64_MAX - (uint64_t)entry_expire(e);
	default: /* idle seconds */
		return (lru_now(sec) - entry_access(e)) & ENTRY_ACCESS_MASK;
	}
}

/* ---- Active expiry ---- */

/* One round in sh: sweeps up to EXPIRE_SLOTS_PER_ROUND slots from where the
 * last round stopped, looking at up to EXPIRE_KEYS_PER_ROUND keys with an
 * expiry (the slot says which, without reading the entry). */
static size_t expire_round(store_t *st, struct shard *sh, unsigned *sampled)
{
	struct entry *dead[EXPIRE_KEYS_PER_ROUND];
	size_t ndead = 0;

	*sampled = 0;
	pthread_mutex_lock(&sh->lock);
	size_t total = store_do_slots(sh);
	if (total > 0 && stat_get(&sh->expires) > 0) {
		int64_t now = store_clock(st);
		size_t i = sh->expire_pos < total ? sh->expire_pos : 0;
		for (size_t n = 0;
		     n < EXPIRE_SLOTS_PER_ROUND && n < total && *sampled < EXPIRE_KEYS_PER_ROUND;
		     n++) {
			struct loc l;
			uint64_t s = store_do_slot_at(sh, i, &l);
			if (slot_live(s) && (s & SLOT_EXPIRES)) {
				(*sampled)++;
				if (entry_expired(l.e, now)) {
					store_do_journal_del(st, l.e, STORE_CAUSE_EXPIRED);
					dead[ndead++] = store_do_unlink(sh, &l);
					do_stat_add(&sh->expired, 1);
				}
			}
			i = i + 1 == total ? 0 : i + 1;
		}
		sh->expire_pos = i;
		if (ndead > 0)
			store_do_maybe_shrink(sh);
	}
	pthread_mutex_unlock(&sh->lock);
	for (size_t k = 0; k < ndead; k++)
		free(dead[k]);
	return ndead;
}

size_t store_expire_cycle(store_t *st, uint64_t budget_us)
{
	uint64_t deadline = mono_us() + budget_us;
	size_t removed = 0;

	for (unsigned k = 0; k < st->nshards; k++) {
		unsigned idx =
		        atomic_fetch_add_explicit(&st->expire_shard, 1, memory_order_relaxed);
		struct shard *sh = &st->shards[idx & st->shard_mask];
		if (stat_get(&sh->expires) == 0)
			continue;
		for (unsigned round = 0; round < EXPIRE_ROUNDS; round++) {
			unsigned sampled;
			size_t n = expire_round(st, sh, &sampled);
			removed += n;
			if (n * 4 <= sampled)
				break;
			if (mono_us() >= deadline)
				return removed;
		}
		if (mono_us() >= deadline)
			break;
	}
	return removed;
}

/* ---- Eviction ---- */

/* Random shards are tried first, so that each non-empty one is equally
 * likely (taking the first non-empty one after a random start would favour
 * those after long runs of empty shards); a sweep decides when few are. */
struct shard *store_random_shard(store_t *st, bool volatile_only)
{
	unsigned tries =
	        st->nshards < RANDOM_SHARD_TRIES / 4 ? 4 * st->nshards : RANDOM_SHARD_TRIES;

	for (unsigned k = 0; k < tries; k++) {
		struct shard *sh = &st->shards[store_random() & st->shard_mask];
		if (stat_get(volatile_only ? &sh->expires : &sh->count) > 0)
			return sh;
	}
	unsigned start = (unsigned)(store_random() & st->shard_mask);
	for (unsigned k = 0; k < st->nshards; k++) {
		struct shard *sh = &st->shards[(start + k) & st->shard_mask];
		if (stat_get(volatile_only ? &sh->expires : &sh->count) > 0)
			return sh;
	}
	return NULL;
}

/* Up to want eligible entries of sh: random slots for any key, a walk from a
 * random slot for keys with an expiry (the slot bit makes it cheap). */
static unsigned do_sample(struct shard *sh, bool volatile_only, struct loc *out, unsigned want)
{
	size_t total = store_do_slots(sh);
	unsigned got = 0;

	if (total == 0)
		return 0;
	if (!volatile_only) {
		for (unsigned t = 0; t < want * EVICT_TRIES && got < want; t++) {
			if (slot_live(store_do_slot_at(sh, store_random() % total, &out[got])))
				got++;
		}
		return got;
	}
	size_t i = store_random() % total;
	for (size_t n = total; n > 0 && got < want; n--) {
		uint64_t s = store_do_slot_at(sh, i, &out[got]);
		if (slot_live(s) && (s & SLOT_EXPIRES))
			got++;
		i = i + 1 == total ? 0 : i + 1;
	}
	return got;
}

static void pool_remove(store_t *st, unsigned i)
{
	struct evict_cand spare = st->pool[i];

	memmove(&st->pool[i], &st->pool[i + 1], (st->pool_len - i - 1) * sizeof(st->pool[0]));
	st->pool[--st->pool_len] = spare; /* keeps its buffer for reuse */
}

/* Adds a candidate, keeping the pool sorted by ascending score. The key is
 * copied: the entry may be gone by the time it is chosen. */
static void pool_insert(store_t *st, uint64_t score, uint64_t h, const void *key, size_t klen)
{
	struct evict_cand *p = st->pool;

	for (unsigned i = 0; i < st->pool_len; i++) {
		if (p[i].hash == h && p[i].klen == klen && memcmp(p[i].key, key, klen) == 0) {
			pool_remove(st, i);
			break;
		}
	}
	unsigned n = st->pool_len, pos = 0;
	while (pos < n && p[pos].score < score)
		pos++;
	if (n == EVPOOL_SIZE && pos == 0)
		return; /* worse than every candidate held */
	/* The slot whose buffer the new candidate takes: the worst candidate
	 * if the pool is full, else the first unused one. */
	struct evict_cand *victim = n == EVPOOL_SIZE ? &p[0] : &p[n];
	if (victim->cap < klen || victim->key == NULL) {
		unsigned char *buf = realloc(victim->key, klen > 0 ? klen : 1);
		if (buf == NULL)
			return;
		victim->key = buf;
		victim->cap = klen > 0 ? klen : 1;
	}
	struct evict_cand c = *victim;
	if (n == EVPOOL_SIZE) {
		memmove(&p[0], &p[1], (pos - 1) * sizeof(*p));
		pos--;
	} else {
		memmove(&p[pos + 1], &p[pos], (n - pos) * sizeof(*p));
		st->pool_len++;
	}
	c.score = score;
	c.hash = h;
	c.klen = klen;
	if (klen > 0)
		memcpy(c.key, key, klen);
	p[pos] = c;
}

/* Samples one shard into the pool; false if no shard has an eligible key. */
static bool pool_populate(store_t *st, int policy)
{
	bool volatile_only = policy_volatile(policy);
	struct shard *sh = store_random_shard(st, volatile_only);
	struct loc l[EVICT_SAMPLES];

	if (sh == NULL)
		return false;
	pthread_mutex_lock(&sh->lock);
	uint64_t sec = mono_sec();
	unsigned n = do_sample(sh, volatile_only, l, EVICT_SAMPLES);
	for (unsigned i = 0; i < n; i++) {
		const struct entry *e = l[i].e;
		size_t klen = entry_klen(e);
		pool_insert(st, evict_score(policy, e, sec), store_hash(st, entry_ckey(e), klen),
		            entry_ckey(e), klen);
	}
	pthread_mutex_unlock(&sh->lock);
	return true;
}

/* Unlinks the entry at l as an eviction (counted); the caller holds the shard
 * lock and frees the returned entry after unlocking. *freed gets its size. */
static struct entry *do_evict(store_t *st, struct shard *sh, struct loc *l, uint64_t *freed)
{
	*freed = malloc_usable_size(l->e);
	store_do_journal_del(st, l->e, STORE_CAUSE_EVICTED);
	struct entry *gone = store_do_unlink(sh, l);
	do_stat_add(&sh->evicted, 1);
	store_do_maybe_shrink(sh);
	return gone;
}

/* Deletes the best pooled candidate that still exists, is still eligible and
 * has not been used since it was sampled. Returns the bytes freed, 0 if the
 * pool ran out. */
static uint64_t pool_evict_best(store_t *st, int policy)
{
	while (st->pool_len > 0) {
		struct evict_cand *c = &st->pool[--st->pool_len];
		struct shard *sh = shard_of(st, c->hash);
		struct entry *gone = NULL;
		uint64_t freed = 0;
		struct loc l;

		pthread_mutex_lock(&sh->lock);
		if (store_do_find(sh, c->hash, c->key, c->klen, &l) &&
		    (!policy_volatile(policy) || (l.e->meta & ENTRY_EXPIRES)) &&
		    evict_score(policy, l.e, mono_sec()) >= c->score) {
			gone = do_evict(st, sh, &l, &freed);
		}
		pthread_mutex_unlock(&sh->lock);
		free(gone);
		if (freed > 0)
			return freed;
	}
	return 0;
}

static uint64_t evict_random(store_t *st, bool volatile_only)
{
	for (unsigned round = 0; round < EVICT_ROUNDS; round++) {
		struct shard *sh = store_random_shard(st, volatile_only);
		struct entry *gone = NULL;
		uint64_t freed = 0;
		struct loc l;

		if (sh == NULL)
			return 0;
		pthread_mutex_lock(&sh->lock);
		if (do_sample(sh, volatile_only, &l, 1) == 1) {
			gone = do_evict(st, sh, &l, &freed);
		}
		pthread_mutex_unlock(&sh->lock);
		free(gone);
		if (freed > 0)
			return freed;
	}
	return 0;
}

/* Evicts one key; returns its bytes, 0 if nothing can be evicted. */
static uint64_t evict_one(store_t *st, int policy)
{
	if (policy == STORE_EVICT_ALLKEYS_RANDOM || policy == STORE_EVICT_VOLATILE_RANDOM)
		return evict_random(st, policy == STORE_EVICT_VOLATILE_RANDOM);
	for (unsigned round = 0; round < EVICT_ROUNDS; round++) {
		if (!pool_populate(st, policy))
			return 0;
		uint64_t freed = pool_evict_best(st, policy);
		if (freed > 0)
			return freed;
	}
	return 0;
}

int store_make_room(store_t *st)
{
	uint64_t max = atomic_load_explicit(&st->maxmemory, memory_order_relaxed);

	if (max == 0 || store_mem_used(st) <= max)
		return STORE_OK;
	int policy = policy_of(st);
	if (policy == STORE_EVICT_NOEVICTION)
		return STORE_EOOM;

	int rc = STORE_OK;
	pthread_mutex_lock(&st->evict_lock);
	for (;;) {
		uint64_t used = store_mem_used(st);
		if (used <= max)
			break;
		/* Evict about the excess by entry sizes, then look at the real
		 * total again: tables shrink (or go) on their own schedule. */
		uint64_t freed = 0;
		while (freed < used - max) {
			uint64_t n = evict_one(st, policy);
			if (n == 0)
				break;
			freed += n;
		}
		if (freed == 0) {
			rc = STORE_EOOM; /* nothing (more) may be evicted */
			break;
		}
	}
	pthread_mutex_unlock(&st->evict_lock);
	return rc;
}

void store_set_maxmemory(store_t *st, uint64_t bytes, int policy)
{
	if (policy < STORE_EVICT_NOEVICTION || policy > STORE_EVICT_VOLATILE_TTL)
		policy = STORE_EVICT_NOEVICTION;
	pthread_mutex_lock(&st->evict_lock);
	if (policy != policy_of(st))
		st->pool_len = 0; /* scores of another policy do not compare */
	atomic_store_explicit(&st->maxmemory, bytes, memory_order_relaxed);
	atomic_store_explicit(&st->policy, policy, memory_order_relaxed);
	pthread_mutex_unlock(&st->evict_lock);
}

void store_get_maxmemory(store_t *st, uint64_t *bytes, int *policy)
{
	*bytes = atomic_load_explicit(&st->maxmemory, memory_order_relaxed);
	*policy = atomic_load_explicit(&st->policy, memory_order_relaxed);
}

static const char *const policy_names[] = {
        [STORE_EVICT_NOEVICTION] = "noeviction",
        [STORE_EVICT_ALLKEYS_LRU] = "allkeys-lru",
        [STORE_EVICT_ALLKEYS_LFU] = "allkeys-lfu",
        [STORE_EVICT_ALLKEYS_RANDOM] = "allkeys-random",
        [STORE_EVICT_VOLATILE_LRU] = "volatile-lru",
        [STORE_EVICT_VOLATILE_LFU] = "volatile-lfu",
        [STORE_EVICT_VOLATILE_RANDOM] = "volatile-random",
        [STORE_EVICT_VOLATILE_TTL] = "volatile-ttl",
};

int store_evict_policy_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(policy_names) / sizeof(policy_names[0])); i++) {
		if (strcasecmp(name, policy_names[i]) == 0)
			return i;
	}
	return -1;
}

const char *store_evict_policy_name(int policy)
{
	if (policy < 0 || policy >= (int)(sizeof(policy_names) / sizeof(policy_names[0])))
		return "unknown";
	return policy_names[policy];
}
