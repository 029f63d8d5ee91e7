/* store.h - the keyspace: sharded hash tables of binary-safe keys and values.
 *
 * The key space is split into a power-of-two number of shards chosen by the
 * key's hash; each shard is an incrementally resized open-addressing hash
 * table with its own mutex, so threads working on different shards never
 * contend and no single resize stalls the server. An entry is one allocation
 * holding its header, key, value and (only if it has one) expiry; store.c
 * describes the layout.
 *
 * Reads and writes of a key (store_get, store_exists, store_set, store_set_ex,
 * store_update, store_mset) update its LRU clock or LFU counter for eviction;
 * SCAN, RANDOMKEY, RENAME and COPY do not.
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

/* Removes every key: all shard locks are held (ascending) while the tables
 * are detached, so the flush is one point in time for every other
 * operation; the entries are freed after unlocking. Returns STORE_OK or
 * STORE_EJOURNAL (nothing removed). */
int store_clear(store_t *st);

/* Table shape, for INFO and the unit tests. Takes the shard locks one at a
 * time, so the totals are not one atomic snapshot. */
typedef struct store_stats {
	unsigned shards;
	unsigned rehashing; /* shards in the middle of an incremental rehash */
	uint64_t buckets;   /* bucket slots in all tables, both tables of a rehash */
} store_stats;
void store_stats_get(store_t *st, store_stats *out);

/* ---- Conditional writes, read-modify-write, multi-key operations ---- */

enum {
	STORE_ECOND = -5,    /* an NX/XX-style condition did not hold; nothing changed */
	STORE_EOOM = -6,     /* over maxmemory and the policy could not (or may not) free enough */
	STORE_EJOURNAL = -7, /* the journal refused the change (see store_set_journal) */
};

/* The value of a key as seen under its shard lock. Valid only during the
 * callback that receives it. */
typedef struct store_val {
	const char *val;
	size_t vlen;
	int64_t expire_at_ms; /* 0: no expiry */
} store_val;

enum store_set_flags {
	STORE_SET_NX = 1u << 0,      /* only if the key does not exist */
	STORE_SET_XX = 1u << 1,      /* only if the key exists */
	STORE_SET_KEEPTTL = 1u << 2, /* keep the existing expiry (expire_at_ms ignored) */
};

/* SET with options, atomically. If old_fn is not NULL it is called under the
 * lock with the previous value when there was one (SET ... GET, GETSET),
 * whether or not the condition then holds. Returns STORE_OK, STORE_ECOND,
 * STORE_EKEYTOOBIG, STORE_EVALTOOBIG, STORE_ENOMEM.
 * Details: the limits are checked first (old_fn is then not called); an
 * expired key is absent; NX and XX together never hold; KEEPTTL on a key
 * without an expiry (or a missing one) leaves it without; an expire_at_ms
 * already past (without KEEPTTL) deletes the key when the condition holds and
 * returns STORE_OK; an overwrite keeps the key's LFU counter, as Redis. */
int store_set_ex(store_t *st, const void *key, size_t klen, const void *val, size_t vlen,
                 int64_t expire_at_ms, unsigned flags, store_read_fn old_fn, void *arg);

/* Generic read-modify-write of one key under its shard lock (APPEND, INCR*,
 * SETRANGE, GETDEL, GETEX, EXPIRE*, PERSIST...). fn sees the current value
 * (cur == NULL if the key is absent or expired), may copy from it, and fills
 * *u to say what happens. For STORE_UPD_WRITE the store allocates the new
 * entry of u->new_len bytes and calls u->fill(dst, cur, arg) to write the
 * value in place (cur still valid), so APPEND copies each byte once.
 * fn's return value is returned by store_update unless the store itself fails
 * (STORE_EVALTOOBIG if new_len is over the limit, STORE_ENOMEM); in that case
 * the key is unchanged. fn and fill must not call into the store. */
enum store_upd_action {
	STORE_UPD_KEEP = 0,   /* change nothing */
	STORE_UPD_WRITE,      /* replace (or create) with a new value and expiry */
	STORE_UPD_DELETE,     /* remove the key */
	STORE_UPD_SET_EXPIRE, /* keep the value, set expire_at_ms (0 = persist;
	                       * a time already past deletes the key) */
};
typedef struct store_update {
	enum store_upd_action action;
	size_t new_len;       /* STORE_UPD_WRITE */
	int64_t expire_at_ms; /* STORE_UPD_WRITE, STORE_UPD_SET_EXPIRE */
	void (*fill)(char *dst, const store_val *cur, void *arg);
} store_upd;
typedef int (*store_update_fn)(const store_val *cur, store_upd *u, void *arg);
/* Details: *u starts as STORE_UPD_KEEP. The action applies whatever fn
 * returns. DELETE and SET_EXPIRE of an absent key do nothing. WRITE replaces
 * the expiry too: to keep it (APPEND, INCR) fn copies cur->expire_at_ms into
 * u->expire_at_ms; an expiry already past deletes the key without calling
 * fill. fill may be NULL: the new value is then new_len zero bytes. A key
 * longer than max_key_bytes is absent (fn sees NULL), and a WRITE to it
 * returns STORE_EKEYTOOBIG. An expired key is removed (and counted in
 * expired_keys) before fn sees NULL; a delete requested by fn or by a past
 * SET_EXPIRE is not an expiry. SET_EXPIRE may reallocate the entry to make
 * room for the expiry (STORE_ENOMEM, key unchanged, if that fails). */
int store_update(store_t *st, const void *key, size_t klen, store_update_fn fn, void *arg);

/* RENAME / RENAMENX: moves src to dst, keeping the expiry; dst is replaced
 * unless nx. Both shards are locked (ascending order) so no reader sees both
 * or neither. Returns STORE_OK, STORE_ENOTFOUND (no src), STORE_ECOND (nx and
 * dst exists), STORE_ENOMEM. src == dst is STORE_OK (or ECOND with nx).
 * Details: src longer than max_key_bytes is STORE_ENOTFOUND, dst longer is
 * STORE_EKEYTOOBIG; a missing src is reported before src == dst is looked at;
 * the LRU/LFU metadata moves with the value. When the two keys differ in
 * length the value is copied (O(value size) under the two locks). */
int store_rename(store_t *st, const void *src, size_t slen, const void *dst, size_t dlen, int nx);

/* COPY: copies src to dst with its expiry. Returns STORE_OK, STORE_ENOTFOUND,
 * STORE_ECOND (dst exists and !replace), STORE_ENOMEM.
 * Details: key lengths as store_rename. src == dst is STORE_ECOND without
 * replace and STORE_OK (nothing changes) with it; Redis's COPY refuses the same
 * key with an error of its own, which the command checks before calling. The
 * copy gets fresh LRU/LFU metadata. */
int store_copy(store_t *st, const void *src, size_t slen, const void *dst, size_t dlen,
               int replace);

/* MSET / MSETNX: sets n pairs atomically (all involved shards locked in
 * ascending order; a key given twice: the last value wins). With nx, nothing
 * is written if any key exists (STORE_ECOND). Limits are checked for every
 * pair before anything is written.
 * Details: like SET, MSET removes expiries. Returns STORE_OK, STORE_ECOND,
 * STORE_EKEYTOOBIG, STORE_EVALTOOBIG or STORE_ENOMEM, and on every error
 * nothing is written. n == 0 is STORE_OK. */
int store_mset(store_t *st, size_t n, const void *const keys[], const size_t klens[],
               const void *const vals[], const size_t vlens[], int nx);

/* MGET: reads n keys as one atomic view (all involved shards locked in
 * ascending order, as store_mset, so a concurrent MSET is seen whole or not at
 * all). fn is called once per key, in the given order, with found = 0 and
 * val = NULL for a missing or expired key; it runs under the locks and must
 * not call into the store. Returns STORE_OK or STORE_ENOMEM (fn not called). */
typedef void (*store_mget_fn)(size_t i, const void *val, size_t vlen, int found, void *arg);
int store_mget(store_t *st, size_t n, const void *const keys[], const size_t klens[],
               store_mget_fn fn, void *arg);

/* DEL / UNLINK of n keys as one change: all involved shards locked in
 * ascending order, the removals journaled as one batch (atomic on disk) and
 * then made. *removed (may be NULL) gets the number of keys that existed (a
 * key given twice counts once). Expired keys count as absent and are left
 * to lazy and active expiry. Returns STORE_OK, STORE_ENOMEM or
 * STORE_EJOURNAL (nothing removed). */
int store_del_many(store_t *st, size_t n, const void *const keys[], const size_t klens[],
                   size_t *removed);

/* ---- Iteration ---- */

/* Called for each key under its shard lock; must not call into the store. */
typedef void (*store_key_fn)(const void *key, size_t klen, const store_val *v, void *arg);

/* One SCAN step. cursor 0 starts; the return value is the next cursor, 0 when
 * the scan is complete. Each step visits at least one bucket of one shard and
 * reports every live key in it. Guarantee (as Redis's SCAN): a key present
 * for the whole scan is reported at least once, even when tables grow or
 * shrink in between; a key may be reported more than once.
 * Details: the cursor is the shard index in bits 32-47 and a position in the
 * shard's hash space in bits 0-31; a cursor naming no shard ends the scan
 * (returns 0). A step reports the keys of one cluster of slots, usually a
 * handful; callers wanting COUNT keys call it until they have them. Expired
 * keys are not reported. The current implementation reports a key that stays
 * in the store exactly once per scan, resizes included. */
uint64_t store_scan(store_t *st, uint64_t cursor, store_key_fn fn, void *arg);

/* Reports one key chosen at random (approximately uniform). STORE_OK or
 * STORE_ENOTFOUND when the store is empty.
 * Details: a shard is chosen uniformly among those with keys, then a key
 * uniformly in it. Expired keys are never reported (STORE_ENOTFOUND if only
 * expired keys are left). */
int store_random_key(store_t *st, store_key_fn fn, void *arg);

/* Sizes the tables of empty shards for keys keys spread evenly, so that
 * loading that many (a snapshot) needs no resize. Shards that hold keys are
 * left alone. Best effort: an allocation failure leaves the shard as it
 * was (it grows on demand). */
void store_reserve(store_t *st, uint64_t keys);

/* ---- Whole-keyspace view (snapshots) ---- */

/* Takes every shard lock, in ascending order: no change is in progress and
 * none can start (journal records included) until store_unlock_all. Meant
 * for an instant (a fork, or a foreground SAVE); the caller must call no
 * other store function meanwhile but store_foreach_locked. */
void store_lock_all(store_t *st);
void store_unlock_all(store_t *st);

/* Calls fn for every key that is not expired at now_ms, shard by shard,
 * without locking: the caller holds every lock (store_lock_all) or is the
 * only thread that can see the store (a forked child). A non-zero return
 * from fn stops the walk and is returned; 0 when every key was visited. */
typedef int (*store_each_fn)(const void *key, size_t klen, const store_val *v, void *arg);
int store_foreach_locked(store_t *st, int64_t now_ms, store_each_fn fn, void *arg);

/* ---- Expiry and eviction ---- */

/* Active expiry: samples keys with an expiry in a few shards (continuing
 * round-robin where the previous call stopped; safe from several threads) and
 * deletes the expired ones, for at most budget_us microseconds. Returns the
 * number of keys removed.
 * Details: shards without an expiring key are skipped at the cost of a load;
 * within a shard the slots are swept from where the last visit stopped, 20
 * expiring keys per round, and rounds repeat while more than a quarter of
 * those looked at had expired (as Redis). The clock is checked between
 * rounds, so budget 0 still does one round. A call makes at most as many
 * shard visits as there are shards. */
size_t store_expire_cycle(store_t *st, uint64_t budget_us);

enum store_evict_policy {
	STORE_EVICT_NOEVICTION = 0,
	STORE_EVICT_ALLKEYS_LRU,
	STORE_EVICT_ALLKEYS_LFU,
	STORE_EVICT_ALLKEYS_RANDOM,
	STORE_EVICT_VOLATILE_LRU,
	STORE_EVICT_VOLATILE_LFU,
	STORE_EVICT_VOLATILE_RANDOM,
	STORE_EVICT_VOLATILE_TTL,
};
/* Parses "noeviction", "allkeys-lru", ... (Redis's names, any case); -1 if
 * unknown. store_evict_policy_name returns "unknown" for a value that is not
 * a policy. */
int store_evict_policy_parse(const char *name);
const char *store_evict_policy_name(int policy);

/* maxmemory 0 = unlimited. Safe to call at any time. A policy that is not a
 * STORE_EVICT_* value is taken as noeviction. Choose the policy before the
 * keys are read if it is an LFU one: the 24 access bits of a key hold either
 * an LRU clock or an LFU counter, whichever the policy needed when it was last
 * accessed. */
void store_set_maxmemory(store_t *st, uint64_t bytes, int policy);

/* The limit and policy in force (CONFIG GET, INFO). */
void store_get_maxmemory(store_t *st, uint64_t *bytes, int *policy);

/* Called before a command that may add memory: if store_mem_used() is over
 * maxmemory, evicts keys by the policy (sampling, as Redis does: 5 keys per
 * round, the best candidate of an eviction pool) until under the limit.
 * Returns STORE_OK, or STORE_EOOM if still over (noeviction, or nothing
 * evictable: volatile-* with no expiring keys).
 * Details: with maxmemory set, each call sums the shards' counters (one load
 * per shard). Evicting threads take turns (one store-wide eviction lock); the
 * others keep serving. A candidate read or written since it was sampled is
 * passed over. Evicted keys count in evicted_keys, not expired_keys. */
int store_make_room(store_t *st);

/* While paused, no key counts as expired and an expiry already past does
 * not delete: recovery replays history, in which `SET k v PX 50` followed
 * by `PERSIST k` must leave k even when the 50 ms have passed by the time of
 * the replay. Keys whose time has passed are removed (and journaled) by
 * lazy and active expiry once resumed. Not a counter: the last call wins. */
void store_pause_expiry(store_t *st, int paused);

/* Cumulative counters for INFO. */
typedef struct store_counters {
	uint64_t expired_keys; /* removed because their time passed (lazy or active,
	                        * or overwritten after it passed) */
	uint64_t evicted_keys; /* removed by maxmemory */
	uint64_t expires;      /* keys that currently have an expiry */
} store_counters;
void store_counters_get(const store_t *st, store_counters *out);

/* ---- Change journal (the write-ahead log's hook) ----
 *
 * When a journal is set, every change to the keyspace is described to it
 * under the lock(s) of the shard(s) involved, after every check that could
 * still fail and right before the change is applied, so the journal sees
 * the changes of one key in the order they happen. Changes are physical:
 * the resulting value, not the command (INCR is a SET of the new value,
 * RENAME a SET of dst then a DEL of src, KEEPTTL a SET carrying the kept
 * absolute expiry). A change of several keys (RENAME, MSET) is one call of
 * n changes, to be made atomic by the journal.
 *
 * cause STORE_CAUSE_WRITE: a non-zero return (a negative errno) cancels the
 * change: the operation returns STORE_EJOURNAL and changes nothing, and
 * store_strerror(STORE_EJOURNAL) names the errno on this thread.
 * STORE_CAUSE_EXPIRED / STORE_CAUSE_EVICTED: a key removed because its time
 * passed (lazily or by store_expire_cycle) or by maxmemory; the return value
 * is ignored and the key is removed anyway (a replayed SET carries its
 * absolute expiry, so an expired key does not come back without the DEL).
 *
 * The callback must not call into the store and should not block for long
 * (it holds shard locks). Set it while no other thread uses the store. */
enum store_change_op {
	STORE_CH_SET = 1,      /* key, val, expire_at_ms (0 = none) */
	STORE_CH_DEL = 2,      /* key */
	STORE_CH_EXPIRE = 3,   /* key, expire_at_ms (0 = persist) */
	STORE_CH_FLUSHALL = 4, /* nothing */
};
enum store_change_cause {
	STORE_CAUSE_WRITE = 0,
	STORE_CAUSE_EXPIRED = 1,
	STORE_CAUSE_EVICTED = 2,
};
typedef struct store_change {
	int op; /* STORE_CH_* */
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
	int64_t expire_at_ms;
} store_change;
typedef int (*store_journal_fn)(const store_change *ch, size_t n, int cause, void *arg);
/* fn NULL removes the journal. */
void store_set_journal(store_t *st, store_journal_fn fn, void *arg);

/* Records err (positive errno) as the reason store_strerror(STORE_EJOURNAL)
 * gives on this thread, for callers that refuse a write before the store
 * sees it. */
void store_journal_refused(int err);

/* The client-facing reason for err. For STORE_EJOURNAL it names the errno
 * of the last refusal on the calling thread (thread-local text). */
const char *store_strerror(int err);

#endif
