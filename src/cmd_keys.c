/* cmd_keys.c - keyspace commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, COPY,
 * RENAME(NX), the EXPIRE family, TTL/PTTL/(P)EXPIRETIME, PERSIST, KEYS, SCAN,
 * RANDOMKEY, DBSIZE, FLUSHALL/FLUSHDB and SELECT.
 *
 * Replies and error texts are Redis 7's; the one exception is the line
 * protocol's "DEL key", which keeps the original Mini DB's OK / NOT FOUND.
 * Every check-then-act (EXPIRE NX/XX/GT/LT, PERSIST) runs inside one
 * store_update call, under the key's shard lock, so a concurrent writer can
 * never slip between the check and the change. There is a single database:
 * SELECT 0 and COPY ... DB 0 are accepted, any other index is out of range.
 * Expiry times are absolute Unix milliseconds throughout, as in the store.
 */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

#define ERR_SYNTAX         "syntax error"
#define ERR_DB_RANGE       "DB index is out of range"
#define SCAN_DEFAULT_COUNT 10

/* Redis's getIntFromObjectOrReply: a strict integer within int, with its two
 * distinct error texts. */
static int get_int_or_reply(cmd_ctx *ctx, const cmd_arg *arg, long long *out)
{
	if (cmd_get_ll_or_reply(ctx, arg, out) != 0)
		return -1;
	if (*out < INT_MIN || *out > INT_MAX) {
		reply_errorf(ctx->r, "value is out of range, value must between %d and %d", INT_MIN,
		             INT_MAX);
		return -1;
	}
	return 0;
}

/* ---- DEL, UNLINK, EXISTS, TOUCH, TYPE ---- */

/* The number of keys removed, or a negative STORE_E* (replied). One
 * store_del_many: every key is removed, and journaled as one batch, or none. */
static long long del_keys(cmd_ctx *ctx)
{
	enum { STACK_KEYS = 16 };
	const void *kbuf[STACK_KEYS];
	size_t lbuf[STACK_KEYS];
	const void **keys = kbuf;
	size_t *lens = lbuf, n = ctx->argc - 1, removed = 0;
	void *heap = NULL;

	if (n > STACK_KEYS) {
		heap = malloc(n * (sizeof(*keys) + sizeof(*lens)));
		if (heap == NULL) {
			cmd_reply_store_error(ctx, STORE_ENOMEM);
			return STORE_ENOMEM;
		}
		keys = heap;
		lens = (size_t *)(void *)(keys + n);
	}
	for (size_t i = 0; i < n; i++) {
		keys[i] = ctx->argv[1 + i].p;
		lens[i] = ctx->argv[1 + i].len;
	}
	int rc = store_del_many(ctx->store, n, keys, lens, &removed);
	free(heap);
	if (rc != STORE_OK) {
		cmd_reply_store_error(ctx, rc);
		return rc;
	}
	return (long long)removed;
}

static void cmd_del(cmd_ctx *ctx)
{
	/* The original Mini DB answered "DEL key" with OK or NOT FOUND and its
	 * clients parse exactly that; RESP clients get Redis's count. */
	long long n = del_keys(ctx);
	if (n < 0)
		return;
	if (ctx->r->proto == PROTO_LINE && ctx->argc == 2) {
		if (n > 0)
			reply_status(ctx->r, "OK");
		else
			reply_null(ctx->r);
		return;
	}
	reply_int(ctx->r, n);
}

/* Entries are freed inline: with one allocation per entry, deferring the
 * free to another thread would cost more than the free itself. */
static void cmd_unlink(cmd_ctx *ctx)
{
	long long n = del_keys(ctx);
	if (n >= 0)
		reply_int(ctx->r, n);
}

/* EXISTS and TOUCH: how many of the keys exist, a repeated key counting each
 * time. The store keeps no access time yet, so TOUCH only counts. */
static void cmd_exists(cmd_ctx *ctx)
{
	long long n = 0;
	for (size_t i = 1; i < ctx->argc; i++) {
		int hit = store_exists(ctx->store, ctx->argv[i].p, ctx->argv[i].len);
		cmd_count_lookup(ctx, hit);
		n += hit;
	}
	reply_int(ctx->r, n);
}

static void cmd_type(cmd_ctx *ctx)
{
	int hit = store_exists(ctx->store, ctx->argv[1].p, ctx->argv[1].len);
	cmd_count_lookup(ctx, hit);
	reply_status(ctx->r, hit ? "string" : "none");
}

/* ---- COPY, RENAME, RENAMENX ---- */

/* COPY source destination [DB destination-db] [REPLACE] */
static void cmd_copy(cmd_ctx *ctx)
{
	const cmd_arg *src = &ctx->argv[1], *dst = &ctx->argv[2];
	int replace = 0;

	for (size_t j = 3; j < ctx->argc; j++) {
		if (cmd_arg_is(&ctx->argv[j], "replace")) {
			replace = 1;
		} else if (cmd_arg_is(&ctx->argv[j], "db") && j + 1 < ctx->argc) {
			long long db;
			if (get_int_or_reply(ctx, &ctx->argv[j + 1], &db) != 0)
				return;
			if (db != 0) {
				reply_error(ctx->r, ERR_DB_RANGE);
				return;
			}
			j++;
		} else {
			reply_error(ctx->r, ERR_SYNTAX);
			return;
		}
	}
	if (src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
		reply_error(ctx->r, "source and destination objects are the same");
		return;
	}
	int rc = store_copy(ctx->store, src->p, src->len, dst->p, dst->len, replace);
	cmd_count_lookup(ctx, rc != STORE_ENOTFOUND);
	if (rc == STORE_OK)
		reply_int(ctx->r, 1);
	else if (rc == STORE_ENOTFOUND || rc == STORE_ECOND)
		reply_int(ctx->r, 0);
	else
		cmd_reply_store_error(ctx, rc);
}

/* RENAME replies +OK, RENAMENX 1 or 0; both keep the expiry. Renaming a key
 * onto itself succeeds (RENAMENX: 0) when it exists. */
static void rename_generic(cmd_ctx *ctx, int nx)
{
	const cmd_arg *src = &ctx->argv[1], *dst = &ctx->argv[2];
	int rc = store_rename(ctx->store, src->p, src->len, dst->p, dst->len, nx);

	if (rc == STORE_OK) {
		if (nx)
			reply_int(ctx->r, 1);
		else
			reply_status(ctx->r, "OK");
	} else if (rc == STORE_ENOTFOUND) {
		reply_error(ctx->r, "no such key");
	} else if (rc == STORE_ECOND) {
		reply_int(ctx->r, 0);
	} else {
		cmd_reply_store_error(ctx, rc);
	}
}

static void cmd_rename(cmd_ctx *ctx)
{
	rename_generic(ctx, 0);
}

static void cmd_renamenx(cmd_ctx *ctx)
{
	rename_generic(ctx, 1);
}

/* ---- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST ---- */

enum { EXPIRE_NX = 1u << 0, EXPIRE_XX = 1u << 1, EXPIRE_GT = 1u << 2, EXPIRE_LT = 1u << 3 };

/* NX | XX | GT | LT after the time, in any order and repeatable; NX excludes
 * the others and GT excludes LT (XX GT and XX LT are allowed). */
static int parse_expire_flags(cmd_ctx *ctx, unsigned *flags)
{
	*flags = 0;
	for (size_t j = 3; j < ctx->argc; j++) {
		const cmd_arg *a = &ctx->argv[j];
		if (cmd_arg_is(a, "nx")) {
			*flags |= EXPIRE_NX;
		} else if (cmd_arg_is(a, "xx")) {
			*flags |= EXPIRE_XX;
		} else if (cmd_arg_is(a, "gt")) {
			*flags |= EXPIRE_GT;
		} else if (cmd_arg_is(a, "lt")) {
			*flags |= EXPIRE_LT;
		} else {
			/* Redis prints the option as a C string: it ends at a NUL,
			 * and an error line may not carry CR or LF. */
			char opt[128];
			size_t n =
			        strnlen(a->p, a->len < sizeof(opt) - 1 ? a->len : sizeof(opt) - 1);
			memcpy(opt, a->p, n);
			opt[n] = 0;
			for (char *c = opt; *c; c++)
				if (*c == '\r' || *c == '\n')
					*c = ' ';
			reply_errorf(ctx->r, "Unsupported option %s", opt);
			return -1;
		}
	}
	if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
		reply_error(ctx->r,
		            "NX and XX, GT or LT options at the same time are not compatible");
		return -1;
	}
	if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
		reply_error(ctx->r, "GT and LT options at the same time are not compatible");
		return -1;
	}
	return 0;
}

typedef struct expire_req {
	unsigned flags;
	long long when; /* absolute ms */
	int64_t now;
} expire_req;

/* Runs under the shard lock. Returns 1 when the expiry was set (or the key
 * deleted because the time has passed), 0 when the key is missing or a
 * condition failed. A key without expiry counts as expiring never: GT always
 * fails on it, LT always succeeds. */
static int expire_apply(const store_val *cur, store_upd *u, void *arg)
{
	const expire_req *q = arg;
	u->action = STORE_UPD_KEEP;
	if (!cur)
		return 0;
	int persistent = cur->expire_at_ms == 0;
	if ((q->flags & EXPIRE_NX) && !persistent)
		return 0;
	if ((q->flags & EXPIRE_XX) && persistent)
		return 0;
	if ((q->flags & EXPIRE_GT) && (persistent || q->when <= cur->expire_at_ms))
		return 0;
	if ((q->flags & EXPIRE_LT) && !persistent && q->when >= cur->expire_at_ms)
		return 0;
	if (q->when <= q->now) {
		u->action = STORE_UPD_DELETE;
	} else {
		u->action = STORE_UPD_SET_EXPIRE;
		u->expire_at_ms = q->when;
	}
	return 1;
}

/* name: the command's lowercase name for the overflow error. relative: the
 * time counts from now; seconds: it is in seconds. Negative and past times
 * are accepted and delete the key. */
static void expire_generic(cmd_ctx *ctx, const char *name, int relative, int seconds)
{
	expire_req q = {.now = cmd_now_ms()};
	long long when;

	if (parse_expire_flags(ctx, &q.flags) != 0)
		return;
	if (cmd_get_ll_or_reply(ctx, &ctx->argv[2], &when) != 0)
		return;
	if (seconds) {
		if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
			goto overflow;
		when *= 1000;
	}
	if (relative) {
		if (when > LLONG_MAX - q.now)
			goto overflow;
		when += q.now;
	}
	q.when = when;
	int rc = store_update(ctx->store, ctx->argv[1].p, ctx->argv[1].len, expire_apply, &q);
	if (rc < 0)
		cmd_reply_store_error(ctx, rc);
	else
		reply_int(ctx->r, rc);
	return;
overflow:
	reply_errorf(ctx->r, "invalid expire time in '%s' command", name);
}

static void cmd_expire(cmd_ctx *ctx)
{
	expire_generic(ctx, "expire", 1, 1);
}

static void cmd_pexpire(cmd_ctx *ctx)
{
	expire_generic(ctx, "pexpire", 1, 0);
}

static void cmd_expireat(cmd_ctx *ctx)
{
	expire_generic(ctx, "expireat", 0, 1);
}

static void cmd_pexpireat(cmd_ctx *ctx)
{
	expire_generic(ctx, "pexpireat", 0, 0);
}

static int persist_apply(const store_val *cur, store_upd *u, void *arg)
{
	(void)arg;
	u->action = STORE_UPD_KEEP;
	if (!cur || cur->expire_at_ms == 0)
		return 0;
	u->action = STORE_UPD_SET_EXPIRE;
	u->expire_at_ms = 0;
	return 1;
}

static void cmd_persist(cmd_ctx *ctx)
{
	int rc = store_update(ctx->store, ctx->argv[1].p, ctx->argv[1].len, persist_apply, NULL);
	if (rc < 0)
		cmd_reply_store_error(ctx, rc);
	else
		reply_int(ctx->r, rc);
}

/* ---- TTL, PTTL, EXPIRETIME, PEXPIRETIME ---- */

static void read_expiry(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	(void)val;
	(void)vlen;
	*(int64_t *)arg = expire_at_ms;
}

/* -2 if the key is missing, -1 if it has no expiry, else the time left
 * (relative) or the expiry time (absolute), in ms or in seconds rounded to
 * the nearest as Redis does. */
static void ttl_generic(cmd_ctx *ctx, int ms, int absolute)
{
	int64_t at = 0;
	int hit = store_get(ctx->store, ctx->argv[1].p, ctx->argv[1].len, read_expiry, &at) ==
	          STORE_OK;
	cmd_count_lookup(ctx, hit);
	if (!hit) {
		reply_int(ctx->r, -2);
		return;
	}
	if (at == 0) {
		reply_int(ctx->r, -1);
		return;
	}
	long long t = absolute ? at : at - cmd_now_ms();
	if (t < 0)
		t = 0;
	/* Rounded to the nearest second without forming t + 500, which
	 * overflows for an expiry near LLONG_MAX ms. */
	reply_int(ctx->r, ms ? t : t / 1000 + (t % 1000 >= 500));
}

static void cmd_ttl(cmd_ctx *ctx)
{
	ttl_generic(ctx, 0, 0);
}

static void cmd_pttl(cmd_ctx *ctx)
{
	ttl_generic(ctx, 1, 0);
}

static void cmd_expiretime(cmd_ctx *ctx)
{
	ttl_generic(ctx, 0, 1);
}

static void cmd_pexpiretime(cmd_ctx *ctx)
{
	ttl_generic(ctx, 1, 1);
}

/* ---- KEYS and SCAN ---- */

/* Keys copied out of the store: their bytes packed in one growing arena
 * (one allocation per batch rather than per key), located by offset so the
 * arena may move while it grows. */
typedef struct key_span {
	size_t off, len;
} key_span;

typedef struct key_batch {
	char *bytes;
	size_t nbytes, capbytes;
	key_span *keys;
	size_t n, cap;
	const char *pat; /* NULL: every key matches */
	size_t plen;
	int type_ok;      /* 0: a TYPE filter that no key (all strings) passes */
	uint64_t visited; /* keys the scan reported, before any filter */
	int oom;
} key_batch;

static int batch_grow(key_batch *b, size_t klen)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		key_span *k = realloc(b->keys, cap * sizeof(*k));
		if (!k)
			return -1;
		b->keys = k;
		b->cap = cap;
	}
	/* The arena exists even for empty keys: offsets into NULL are UB. */
	if (!b->bytes || klen > b->capbytes - b->nbytes) {
		size_t cap = b->capbytes ? b->capbytes : 1024;
		while (klen > cap - b->nbytes) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		char *p = realloc(b->bytes, cap);
		if (!p)
			return -1;
		b->bytes = p;
		b->capbytes = cap;
	}
	return 0;
}

/* store_key_fn: runs under a shard lock. The pattern is matched here rather
 * than after copying, so a KEYS over a large store holds only the matches;
 * glob_match is O(plen * klen) with no pathological case, and the lock covers
 * one step's buckets only. */
static void batch_collect(const void *key, size_t klen, const store_val *v, void *arg)
{
	key_batch *b = arg;
	(void)v;
	b->visited++;
	if (b->oom || !b->type_ok)
		return;
	if (b->pat && !glob_match(b->pat, b->plen, key, klen, 0))
		return;
	if (batch_grow(b, klen) != 0) {
		b->oom = 1;
		return;
	}
	if (klen)
		memcpy(b->bytes + b->nbytes, key, klen);
	b->keys[b->n].off = b->nbytes;
	b->keys[b->n].len = klen;
	b->nbytes += klen;
	b->n++;
}

static void batch_free(key_batch *b)
{
	free(b->bytes);
	free(b->keys);
}

static void batch_reply(cmd_ctx *ctx, const key_batch *b)
{
	reply_array(ctx->r, b->n);
	for (size_t i = 0; i < b->n; i++)
		reply_bulk(ctx->r, b->bytes + b->keys[i].off, b->keys[i].len);
}

static int span_cmp(const void *x, const void *y, void *arg)
{
	const key_span *a = x, *c = y;
	const char *bytes = arg;
	size_t n = a->len < c->len ? a->len : c->len;
	int r = n ? memcmp(bytes + a->off, bytes + c->off, n) : 0;
	if (r)
		return r;
	return a->len < c->len ? -1 : a->len > c->len;
}

/* The scan may report a key twice (when a table resizes between steps) and
 * KEYS must not: sort and drop adjacent repeats. A hash set would be O(n)
 * but needs a keyed hash to resist crafted collisions; O(n log n) on a
 * command that is O(n) in the store anyway was judged the simpler price. The
 * reply comes out sorted, which Redis does not promise but is harmless. */
static void batch_dedupe(key_batch *b)
{
	if (b->n < 2)
		return;
	qsort_r(b->keys, b->n, sizeof(b->keys[0]), span_cmp, b->bytes);
	size_t w = 1;
	for (size_t i = 1; i < b->n; i++)
		if (span_cmp(&b->keys[w - 1], &b->keys[i], b->bytes) != 0)
			b->keys[w++] = b->keys[i];
	b->n = w;
}

static void cmd_keys(cmd_ctx *ctx)
{
	const cmd_arg *pat = &ctx->argv[1];
	key_batch b = {.type_ok = 1};

	if (!(pat->len == 1 && pat->p[0] == '*')) {
		b.pat = pat->p;
		b.plen = pat->len;
	}
	uint64_t cursor = 0;
	do {
		cursor = store_scan(ctx->store, cursor, batch_collect, &b);
	} while (cursor != 0 && !b.oom);
	if (b.oom) {
		cmd_reply_store_error(ctx, STORE_ENOMEM);
	} else {
		batch_dedupe(&b);
		batch_reply(ctx, &b);
	}
	batch_free(&b);
}

/* As Redis 7.2's string2ull: any long long that is not negative, or failing
 * that what strtoull accepts (leading blanks, '+', values above LLONG_MAX).
 * A '-' is refused rather than wrapped around as strtoull would. (Redis 7.0
 * used a bare strtoul and took "" for 0 and "-1" for ULONG_MAX.) */
static int parse_cursor(const cmd_arg *a, uint64_t *out)
{
	long long ll;
	if (cmd_parse_ll(a, &ll) == 0) {
		if (ll < 0)
			return -1;
		*out = (uint64_t)ll;
		return 0;
	}
	char tmp[64];
	if (a->len == 0 || a->len >= sizeof(tmp) || memchr(a->p, 0, a->len) ||
	    memchr(a->p, '-', a->len))
		return -1;
	memcpy(tmp, a->p, a->len);
	tmp[a->len] = 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(tmp, &end, 10);
	if (errno != 0 || end == tmp || *end != 0)
		return -1;
	*out = v;
	return 0;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. Steps the store
 * until COUNT keys were visited (matching or not) or the scan ends, at most
 * 10 * COUNT steps so a sparse table cannot stall the worker: the reply may
 * then be empty with a non-zero cursor, as in Redis. Keys are not
 * deduplicated: SCAN's contract allows repeats. */
static void cmd_scan(cmd_ctx *ctx)
{
	uint64_t cursor;
	long long count = SCAN_DEFAULT_COUNT;
	key_batch b = {.type_ok = 1};

	if (parse_cursor(&ctx->argv[1], &cursor) != 0) {
		reply_error(ctx->r, "invalid cursor");
		return;
	}
	for (size_t i = 2; i < ctx->argc; i += 2) {
		if (i + 1 >= ctx->argc) {
			reply_error(ctx->r, ERR_SYNTAX);
			return;
		}
		const cmd_arg *opt = &ctx->argv[i], *val = &ctx->argv[i + 1];
		if (cmd_arg_is(opt, "count")) {
			if (cmd_get_ll_or_reply(ctx, val, &count) != 0)
				return;
			if (count < 1) {
				reply_error(ctx->r, ERR_SYNTAX);
				return;
			}
		} else if (cmd_arg_is(opt, "match")) {
			int all = val->len == 1 && val->p[0] == '*';
			b.pat = all ? NULL : val->p;
			b.plen = all ? 0 : val->len;
		} else if (cmd_arg_is(opt, "type")) {
			/* Every value is a string. Redis 7 answers an unknown type
			 * name with no keys, not an error; so does this. */
			b.type_ok = cmd_arg_is(val, "string");
		} else {
			reply_error(ctx->r, ERR_SYNTAX);
			return;
		}
	}
	long long budget = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
	/* An empty store has nothing to report whatever the cursor, and a scan
	 * of its empty buckets could otherwise need many calls to say so. */
	if (store_count(ctx->store) == 0)
		cursor = 0;
	else
		do {
			cursor = store_scan(ctx->store, cursor, batch_collect, &b);
		} while (cursor != 0 && budget-- > 0 && b.visited < (uint64_t)count && !b.oom);
	if (b.oom) {
		cmd_reply_store_error(ctx, STORE_ENOMEM);
	} else {
		char num[24];
		int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)cursor);
		reply_array(ctx->r, 2);
		reply_bulk(ctx->r, num, (size_t)n);
		batch_reply(ctx, &b);
	}
	batch_free(&b);
}

/* ---- RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB, SELECT ---- */

/* Encodes the key straight into the reply under the shard lock, as GET
 * does with a value. */
static void random_reply(const void *key, size_t klen, const store_val *v, void *arg)
{
	(void)v;
	reply_bulk(arg, key, klen);
}

static void cmd_randomkey(cmd_ctx *ctx)
{
	if (store_random_key(ctx->store, random_reply, ctx->r) != STORE_OK)
		reply_null(ctx->r);
}

/* Keys whose time has passed but that no one has touched yet are counted,
 * as in Redis. */
static void cmd_dbsize(cmd_ctx *ctx)
{
	reply_int(ctx->r, (long long)store_count(ctx->store));
}

/* FLUSHALL and FLUSHDB [ASYNC | SYNC]: the same with one database. The
 * flush is always synchronous and one point in time (store_clear detaches
 * every shard's tables under all the locks, then frees the entries). */
static void cmd_flushall(cmd_ctx *ctx)
{
	if (ctx->argc > 2 || (ctx->argc == 2 && !cmd_arg_is(&ctx->argv[1], "async") &&
	                      !cmd_arg_is(&ctx->argv[1], "sync"))) {
		reply_error(ctx->r, ERR_SYNTAX);
		return;
	}
	int rc = store_clear(ctx->store);
	if (rc != STORE_OK)
		cmd_reply_store_error(ctx, rc);
	else
		reply_status(ctx->r, "OK");
}

static void cmd_select(cmd_ctx *ctx)
{
	long long db;
	if (get_int_or_reply(ctx, &ctx->argv[1], &db) != 0)
		return;
	if (db != 0)
		reply_error(ctx->r, ERR_DB_RANGE);
	else
		reply_status(ctx->r, "OK");
}

/* Flags and key positions as Redis 7's COMMAND INFO. */
static const command commands[] = {
        {"copy", -3, CMD_WRITE | CMD_DENYOOM, 0, cmd_copy, 1, 2, 1},
        {"dbsize", 1, CMD_READ | CMD_FAST, 0, cmd_dbsize, 0, 0, 0},
        {"del", -2, CMD_WRITE, 0, cmd_del, 1, -1, 1},
        {"exists", -2, CMD_READ | CMD_FAST, 0, cmd_exists, 1, -1, 1},
        {"expire", -3, CMD_WRITE | CMD_FAST, 0, cmd_expire, 1, 1, 1},
        {"expireat", -3, CMD_WRITE | CMD_FAST, 0, cmd_expireat, 1, 1, 1},
        {"expiretime", 2, CMD_READ | CMD_FAST, 0, cmd_expiretime, 1, 1, 1},
        {"flushall", -1, CMD_WRITE | CMD_ADMIN, 0, cmd_flushall, 0, 0, 0},
        {"flushdb", -1, CMD_WRITE | CMD_ADMIN, 0, cmd_flushall, 0, 0, 0},
        {"keys", 2, CMD_READ, 0, cmd_keys, 0, 0, 0},
        {"persist", 2, CMD_WRITE | CMD_FAST, 0, cmd_persist, 1, 1, 1},
        {"pexpire", -3, CMD_WRITE | CMD_FAST, 0, cmd_pexpire, 1, 1, 1},
        {"pexpireat", -3, CMD_WRITE | CMD_FAST, 0, cmd_pexpireat, 1, 1, 1},
        {"pexpiretime", 2, CMD_READ | CMD_FAST, 0, cmd_pexpiretime, 1, 1, 1},
        {"pttl", 2, CMD_READ | CMD_FAST, 0, cmd_pttl, 1, 1, 1},
        {"randomkey", 1, CMD_READ, 0, cmd_randomkey, 0, 0, 0},
        {"rename", 3, CMD_WRITE, 0, cmd_rename, 1, 2, 1},
        {"renamenx", 3, CMD_WRITE | CMD_FAST, 0, cmd_renamenx, 1, 2, 1},
        {"scan", -2, CMD_READ, 0, cmd_scan, 0, 0, 0},
        {"select", 2, CMD_FAST | CMD_LOADING, 0, cmd_select, 0, 0, 0},
        {"touch", -2, CMD_READ | CMD_FAST, 0, cmd_exists, 1, -1, 1},
        {"ttl", 2, CMD_READ | CMD_FAST, 0, cmd_ttl, 1, 1, 1},
        {"type", 2, CMD_READ | CMD_FAST, 0, cmd_type, 1, 1, 1},
        {"unlink", -2, CMD_WRITE | CMD_FAST, 0, cmd_unlink, 1, -1, 1},
};

const cmd_family cmd_keys_family = {commands, sizeof(commands) / sizeof(commands[0])};
