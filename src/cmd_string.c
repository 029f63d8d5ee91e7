/* cmd_string.c - the string commands: GET (LOOKUP), SET, SETNX, SETEX, PSETEX,
 * GETSET, GETDEL, GETEX, MGET, MSET, MSETNX, APPEND, STRLEN, GETRANGE (SUBSTR),
 * SETRANGE, INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.
 *
 * Argument checks, their order and every reply text follow Redis 7's
 * t_string.c, so clients see the errors they expect. Each read-modify-write is
 * one store_update callback under the key's shard lock: two workers' INCRs of
 * one key cannot both read the old value, as a get-then-set would let them.
 * A stored value is encoded into the reply under the lock (one copy, no
 * temporary) only where the store can no longer fail after the callback;
 * otherwise the callback records its result and the handler replies after.
 */
#include "cmd.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Outcomes of this file's checks and update callbacks. They are positive, so
 * store_update can return them next to its own negative STORE_E* codes. */
enum {
	STR_ENOTINT = 1, /* value is not an integer or out of range */
	STR_EOVERFLOW,   /* increment or decrement would overflow */
	STR_ENOTFLOAT,   /* value is not a valid float */
	STR_ENANINF,     /* increment would produce NaN or Infinity */
	STR_ETOOBIG,     /* string exceeds maximum allowed size */
	STR_EEXPIRE,     /* invalid expire time */
};

/* Replies with the error for a STR_E* or STORE_E* code; cmd names the command
 * in the expire-time error, as Redis does. */
static void reply_fail(cmd_ctx *ctx, int code, const char *cmd)
{
	switch (code) {
	case STR_ENOTINT:
		reply_error(ctx->r, "value is not an integer or out of range");
		break;
	case STR_EOVERFLOW:
		reply_error(ctx->r, "increment or decrement would overflow");
		break;
	case STR_ENOTFLOAT:
		reply_error(ctx->r, "value is not a valid float");
		break;
	case STR_ENANINF:
		reply_error(ctx->r, "increment would produce NaN or Infinity");
		break;
	case STR_ETOOBIG:
		reply_error(ctx->r, "string exceeds maximum allowed size (proto-max-bulk-len)");
		break;
	case STR_EEXPIRE:
		reply_errorf(ctx->r, "invalid expire time in '%s' command", cmd);
		break;
	default:
		cmd_reply_store_error(ctx, code);
		break;
	}
}

/* Longest string APPEND and SETRANGE may build: Redis's proto-max-bulk-len,
 * capped by the configured value limit (the store enforces its own too). */
static size_t string_limit(const cmd_ctx *ctx)
{
	size_t lim = ctx->cfg->max_bulk_bytes;
	return ctx->cfg->max_value_bytes < lim ? ctx->cfg->max_value_bytes : lim;
}

/* ---- Expiry options ---- */

enum exp_kind { EXP_NONE = 0, EXP_EX, EXP_PX, EXP_EXAT, EXP_PXAT };

/* Options of SET (is_set) and GETEX. */
typedef struct str_opts {
	unsigned flags;        /* STORE_SET_NX, STORE_SET_XX, STORE_SET_KEEPTTL */
	int get;               /* SET ... GET */
	int persist;           /* GETEX PERSIST */
	enum exp_kind kind;    /* which expiry form, EXP_NONE if none */
	const cmd_arg *expire; /* its argument */
} str_opts;

static enum exp_kind exp_kind_of(const cmd_arg *a)
{
	if (cmd_arg_is(a, "ex"))
		return EXP_EX;
	if (cmd_arg_is(a, "px"))
		return EXP_PX;
	if (cmd_arg_is(a, "exat"))
		return EXP_EXAT;
	if (cmd_arg_is(a, "pxat"))
		return EXP_PXAT;
	return EXP_NONE;
}

/* Parses argv[first..] as Redis's parseExtendedStringArgumentsOrReply: NX and
 * XX exclude each other; one expiry form at most (repeating the same form is
 * allowed, the last value wins); KEEPTTL (SET) and PERSIST (GETEX) exclude an
 * expiry. Anything else is a syntax error. Returns 0, or -1 after replying. */
static int parse_opts(cmd_ctx *ctx, size_t first, int is_set, str_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t j = first; j < ctx->argc; j++) {
		const cmd_arg *a = &ctx->argv[j];
		enum exp_kind k;
		if (is_set && cmd_arg_is(a, "nx") && !(o->flags & STORE_SET_XX)) {
			o->flags |= STORE_SET_NX;
		} else if (is_set && cmd_arg_is(a, "xx") && !(o->flags & STORE_SET_NX)) {
			o->flags |= STORE_SET_XX;
		} else if (is_set && cmd_arg_is(a, "get")) {
			o->get = 1;
		} else if (is_set && cmd_arg_is(a, "keepttl") && o->kind == EXP_NONE) {
			o->flags |= STORE_SET_KEEPTTL;
		} else if (!is_set && cmd_arg_is(a, "persist") && o->kind == EXP_NONE) {
			o->persist = 1;
		} else if ((k = exp_kind_of(a)) != EXP_NONE && j + 1 < ctx->argc &&
		           !(o->flags & STORE_SET_KEEPTTL) && !o->persist &&
		           (o->kind == EXP_NONE || o->kind == k)) {
			o->kind = k;
			o->expire = &ctx->argv[++j];
		} else {
			reply_error(ctx->r, "syntax error");
			return -1;
		}
	}
	return 0;
}

/* Converts an expiry argument to absolute Unix ms as Redis's
 * getExpireMillisecondsOrReply: the number must be positive, and neither the
 * scaling of seconds nor adding the current time (EX, PX) may overflow.
 * Returns 0 with *at set, STR_ENOTINT or STR_EEXPIRE. */
static int expire_at(const cmd_arg *arg, enum exp_kind kind, int64_t *at)
{
	long long v;
	int seconds = kind == EXP_EX || kind == EXP_EXAT;
	if (cmd_parse_ll(arg, &v) != 0)
		return STR_ENOTINT;
	if (v <= 0 || (seconds && v > LLONG_MAX / 1000))
		return STR_EEXPIRE;
	if (seconds)
		v *= 1000;
	if (kind == EXP_EX || kind == EXP_PX) {
		int64_t now = cmd_now_ms();
		if (v > INT64_MAX - now)
			return STR_EEXPIRE;
		v += now;
	}
	*at = v;
	return 0;
}

/* ---- GET, MGET, STRLEN, GETRANGE ---- */

/* store_get callback: encodes the value straight into the reply under the
 * shard lock, one copy and no temporary. arg is the reply. */
static void value_reply(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	(void)expire_at_ms;
	reply_bulk(arg, val, vlen);
}

static void cmd_get(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	int hit = store_get(ctx->store, k->p, k->len, value_reply, ctx->r) == STORE_OK;
	cmd_count_lookup(ctx, hit);
	if (!hit)
		reply_null(ctx->r);
}

struct mget_out {
	cmd_ctx *ctx;
	size_t hits;
};

static void mget_value(size_t i, const void *val, size_t vlen, int found, void *arg)
{
	struct mget_out *o = arg;
	(void)i;
	if (found) {
		reply_bulk(o->ctx->r, val, vlen);
		o->hits++;
	} else {
		reply_null(o->ctx->r);
	}
}

/* One atomic view of all keys, as Redis gives: a concurrent MSET is seen whole
 * or not at all. */
static void cmd_mget(cmd_ctx *ctx)
{
	size_t n = ctx->argc - 1;
	const void **keys = malloc(n * (sizeof(void *) + sizeof(size_t)));
	if (keys == NULL) {
		cmd_reply_store_error(ctx, STORE_ENOMEM);
		return;
	}
	size_t *lens = (size_t *)(keys + n);
	for (size_t i = 0; i < n; i++) {
		keys[i] = ctx->argv[i + 1].p;
		lens[i] = ctx->argv[i + 1].len;
	}
	struct mget_out o = {ctx, 0};
	reply_array(ctx->r, n);
	if (store_mget(ctx->store, n, (const void *const *)keys, lens, mget_value, &o) !=
	    STORE_OK) {
		/* The array header is out: complete it with nulls, then count
		 * nothing (the reply stays well-formed). */
		for (size_t i = 0; i < n; i++)
			reply_null(ctx->r);
	}
	free(keys);
	for (size_t i = 0; i < n; i++)
		cmd_count_lookup(ctx, i < o.hits);
}

static void length_of(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	(void)val;
	(void)expire_at_ms;
	*(size_t *)arg = vlen;
}

static void cmd_strlen(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	size_t len = 0;
	int hit = store_get(ctx->store, k->p, k->len, length_of, &len) == STORE_OK;
	cmd_count_lookup(ctx, hit);
	reply_int(ctx->r, (long long)len);
}

struct range {
	reply *r;
	long long start, end;
};

/* Redis 7's index rules: negative indices count from the end, both are
 * clamped into the string, an empty or inverted range is "". (Redis 8 changed
 * some cases, e.g. an end before the start of the string; we follow 7.) */
static void range_reply(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	struct range *g = arg;
	long long start = g->start, end = g->end, len = (long long)vlen;
	(void)expire_at_ms;
	if (start < 0 && end < 0 && start > end) {
		reply_bulk(g->r, "", 0);
		return;
	}
	if (start < 0)
		start += len;
	if (end < 0)
		end += len;
	if (start < 0)
		start = 0;
	if (end < 0)
		end = 0;
	if (end >= len)
		end = len - 1;
	if (start > end || len == 0)
		reply_bulk(g->r, "", 0);
	else
		reply_bulk(g->r, (const char *)val + start, (size_t)(end - start + 1));
}

static void cmd_getrange(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	struct range g = {.r = ctx->r};
	if (cmd_get_ll_or_reply(ctx, &ctx->argv[2], &g.start) != 0 ||
	    cmd_get_ll_or_reply(ctx, &ctx->argv[3], &g.end) != 0)
		return;
	int hit = store_get(ctx->store, k->p, k->len, range_reply, &g) == STORE_OK;
	cmd_count_lookup(ctx, hit);
	if (!hit)
		reply_bulk(ctx->r, "", 0);
}

/* ---- SET and its variants ---- */

struct old_value {
	reply *r;
	int found;
};

/* store_set_ex's old_fn (SET ... GET, GETSET): the old value goes straight
 * into the reply, as GET does. This relies on store_set_ex checking limits
 * and allocating the new entry before it takes the lock, and calling old_fn
 * only for an existing key, which it then replaces without allocating: once
 * old_fn has run the result is STORE_OK or STORE_ECOND, and both answer with
 * this value, unless the journal (the WAL) refuses the change: set_generic
 * then takes the value back (reply_rollback) and answers the error. */
static void old_value_reply(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	struct old_value *old = arg;
	(void)expire_at_ms;
	reply_bulk(old->r, val, vlen);
	old->found = 1;
}

/* Sets key to val with the options and the absolute expiry at (0: none), and
 * answers as Redis's setGenericCommand: with GET the old value (or null);
 * otherwise OK, or null when NX/XX did not hold; int_reply (SETNX) answers
 * 1 or 0 instead. */
static void set_generic(cmd_ctx *ctx, const cmd_arg *key, const cmd_arg *val, const str_opts *o,
                        int64_t at, int int_reply)
{
	struct old_value old = {.r = ctx->r};
	size_t mark = reply_mark(ctx->r);
	int rc = store_set_ex(ctx->store, key->p, key->len, val->p, val->len, at, o->flags,
	                      o->get ? old_value_reply : NULL, &old);
	if (o->get)
		cmd_count_lookup(ctx, old.found);
	if (rc != STORE_OK && rc != STORE_ECOND) {
		reply_rollback(ctx->r, mark);
		cmd_reply_store_error(ctx, rc);
	} else if (o->get) {
		if (!old.found)
			reply_null(ctx->r);
	} else if (int_reply)
		reply_int(ctx->r, rc == STORE_OK);
	else if (rc == STORE_OK)
		reply_status(ctx->r, "OK");
	else
		reply_null(ctx->r);
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
static void cmd_set(cmd_ctx *ctx)
{
	str_opts o;
	int64_t at = 0;
	if (parse_opts(ctx, 3, 1, &o) != 0)
		return;
	if (o.expire != NULL) {
		int rc = expire_at(o.expire, o.kind, &at);
		if (rc != 0) {
			reply_fail(ctx, rc, "set");
			return;
		}
	}
	set_generic(ctx, &ctx->argv[1], &ctx->argv[2], &o, at, 0);
}

static void cmd_setnx(cmd_ctx *ctx)
{
	str_opts o = {.flags = STORE_SET_NX};
	set_generic(ctx, &ctx->argv[1], &ctx->argv[2], &o, 0, 1);
}

/* SETEX / PSETEX key ttl value */
static void setex_generic(cmd_ctx *ctx, enum exp_kind kind, const char *cmd)
{
	str_opts o = {0};
	int64_t at;
	int rc = expire_at(&ctx->argv[2], kind, &at);
	if (rc != 0) {
		reply_fail(ctx, rc, cmd);
		return;
	}
	set_generic(ctx, &ctx->argv[1], &ctx->argv[3], &o, at, 0);
}

static void cmd_setex(cmd_ctx *ctx)
{
	setex_generic(ctx, EXP_EX, "setex");
}

static void cmd_psetex(cmd_ctx *ctx)
{
	setex_generic(ctx, EXP_PX, "psetex");
}

/* GETSET key value: SET ... GET, clearing any expiry. */
static void cmd_getset(cmd_ctx *ctx)
{
	str_opts o = {.get = 1};
	set_generic(ctx, &ctx->argv[1], &ctx->argv[2], &o, 0, 0);
}

/* MSET / MSETNX key value [key value ...], all pairs at once (store_mset). */
static void mset_generic(cmd_ctx *ctx, int nx)
{
	enum { STACK_PAIRS = 16 };
	const void *kbuf[STACK_PAIRS], *vbuf[STACK_PAIRS];
	size_t klbuf[STACK_PAIRS], vlbuf[STACK_PAIRS];
	const void **keys = kbuf, **vals = vbuf;
	size_t *klens = klbuf, *vlens = vlbuf;
	void *heap = NULL;

	if (ctx->argc % 2 == 0) {
		reply_errorf(ctx->r, "wrong number of arguments for '%s' command",
		             nx ? "msetnx" : "mset");
		return;
	}
	size_t n = (ctx->argc - 1) / 2;
	if (n > STACK_PAIRS) {
		/* One block: two pointer arrays, then two size arrays. */
		heap = malloc(n * (2 * sizeof(void *) + 2 * sizeof(size_t)));
		if (heap == NULL) {
			cmd_reply_store_error(ctx, STORE_ENOMEM);
			return;
		}
		keys = heap;
		vals = keys + n;
		klens = (size_t *)(void *)(vals + n);
		vlens = klens + n;
	}
	for (size_t i = 0; i < n; i++) {
		keys[i] = ctx->argv[1 + 2 * i].p;
		klens[i] = ctx->argv[1 + 2 * i].len;
		vals[i] = ctx->argv[2 + 2 * i].p;
		vlens[i] = ctx->argv[2 + 2 * i].len;
	}
	int rc = store_mset(ctx->store, n, keys, klens, vals, vlens, nx);
	free(heap);
	if (rc == STORE_OK && nx)
		reply_int(ctx->r, 1);
	else if (rc == STORE_OK)
		reply_status(ctx->r, "OK");
	else if (rc == STORE_ECOND)
		reply_int(ctx->r, 0);
	else
		cmd_reply_store_error(ctx, rc);
}

static void cmd_mset(cmd_ctx *ctx)
{
	mset_generic(ctx, 0);
}

static void cmd_msetnx(cmd_ctx *ctx)
{
	mset_generic(ctx, 1);
}

/* ---- GETDEL, GETEX ---- */

/* The value is replied under the lock: deleting allocates nothing, so
 * store_update cannot fail afterwards. */
static int getdel_update(const store_val *cur, store_upd *u, void *arg)
{
	u->action = STORE_UPD_KEEP;
	if (cur == NULL)
		return STORE_ENOTFOUND;
	reply_bulk(arg, cur->val, cur->vlen);
	u->action = STORE_UPD_DELETE;
	return STORE_OK;
}

static void cmd_getdel(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	size_t mark = reply_mark(ctx->r);
	int rc = store_update(ctx->store, k->p, k->len, getdel_update, ctx->r);
	cmd_count_lookup(ctx, rc == STORE_OK);
	if (rc == STORE_ENOTFOUND) {
		reply_null(ctx->r);
	} else if (rc != STORE_OK) {
		reply_rollback(ctx->r, mark); /* the value replied under the lock */
		cmd_reply_store_error(ctx, rc);
	}
}

struct getex {
	reply *r;
	const str_opts *o;
	int expire_rc; /* 0 or the STR_E* of the expiry argument */
	int64_t at;
	char *copy; /* the value, when an expiry is set; the caller frees it */
	size_t len;
};

/* As in Redis, a missing key answers null before the expiry is validated.
 * Keeping the key or removing its expiry cannot fail, so then the value is
 * replied under the lock. Setting an expiry can (the store may reallocate the
 * entry to make room for it) and a reply cannot be taken back, so then the
 * value is copied and replied only once store_update has succeeded. */
static int getex_update(const store_val *cur, store_upd *u, void *arg)
{
	struct getex *g = arg;
	u->action = STORE_UPD_KEEP;
	if (cur == NULL)
		return STORE_ENOTFOUND;
	if (g->expire_rc != 0)
		return g->expire_rc;
	if (g->o->expire == NULL) {
		reply_bulk(g->r, cur->val, cur->vlen);
		if (g->o->persist && cur->expire_at_ms != 0) {
			u->action = STORE_UPD_SET_EXPIRE;
			u->expire_at_ms = 0;
		}
		return STORE_OK;
	}
	g->copy = malloc(cur->vlen > 0 ? cur->vlen : 1);
	if (g->copy == NULL)
		return STORE_ENOMEM;
	if (cur->vlen > 0)
		memcpy(g->copy, cur->val, cur->vlen);
	g->len = cur->vlen;
	u->action = STORE_UPD_SET_EXPIRE; /* a time already past deletes the key */
	u->expire_at_ms = g->at;
	return STORE_OK;
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] */
static void cmd_getex(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	str_opts o;
	struct getex g = {.r = ctx->r, .o = &o};
	if (parse_opts(ctx, 2, 0, &o) != 0)
		return;
	if (o.expire != NULL)
		g.expire_rc = expire_at(o.expire, o.kind, &g.at);
	size_t mark = reply_mark(ctx->r);
	int rc = store_update(ctx->store, k->p, k->len, getex_update, &g);
	cmd_count_lookup(ctx, rc != STORE_ENOTFOUND);
	if (rc == STORE_ENOTFOUND) {
		reply_null(ctx->r);
	} else if (rc != STORE_OK) {
		reply_rollback(ctx->r, mark); /* PERSIST replied under the lock */
		reply_fail(ctx, rc, "getex");
	} else if (g.copy != NULL)
		reply_bulk(ctx->r, g.copy, g.len);
	free(g.copy);
}

/* ---- APPEND, SETRANGE ---- */

struct append {
	const cmd_arg *val;
	size_t limit;
	size_t len; /* the resulting length */
};

static void append_fill(char *dst, const store_val *cur, void *arg)
{
	const struct append *a = arg;
	size_t old = cur != NULL ? cur->vlen : 0;
	if (old > 0)
		memcpy(dst, cur->val, old);
	if (a->val->len > 0)
		memcpy(dst + old, a->val->p, a->val->len);
}

/* Creates a missing key; keeps the expiry of an existing one. */
static int append_update(const store_val *cur, store_upd *u, void *arg)
{
	struct append *a = arg;
	size_t old = cur != NULL ? cur->vlen : 0;
	u->action = STORE_UPD_KEEP;
	if (old > a->limit || a->val->len > a->limit - old)
		return STR_ETOOBIG;
	a->len = old + a->val->len;
	if (cur != NULL && a->val->len == 0)
		return STORE_OK; /* nothing to add: spare the copy */
	u->action = STORE_UPD_WRITE;
	u->new_len = a->len;
	u->expire_at_ms = cur != NULL ? cur->expire_at_ms : 0;
	u->fill = append_fill;
	return STORE_OK;
}

static void cmd_append(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	struct append a = {.val = &ctx->argv[2], .limit = string_limit(ctx)};
	int rc = store_update(ctx->store, k->p, k->len, append_update, &a);
	if (rc == STORE_OK)
		reply_int(ctx->r, (long long)a.len);
	else
		reply_fail(ctx, rc == STORE_EVALTOOBIG ? STR_ETOOBIG : rc, "append");
}

struct setrange {
	size_t offset;
	const cmd_arg *val;
	size_t len; /* the resulting length */
};

/* The old bytes, zeros up to the offset, then the new bytes over them. */
static void setrange_fill(char *dst, const store_val *cur, void *arg)
{
	const struct setrange *s = arg;
	size_t old = cur != NULL ? cur->vlen : 0;
	if (old > 0)
		memcpy(dst, cur->val, old);
	if (s->offset > old)
		memset(dst + old, 0, s->offset - old);
	memcpy(dst + s->offset, s->val->p, s->val->len);
}

/* An empty value changes nothing: the length is reported and a missing key
 * is not created. The expiry of an existing key is kept. */
static int setrange_update(const store_val *cur, store_upd *u, void *arg)
{
	struct setrange *s = arg;
	size_t old = cur != NULL ? cur->vlen : 0;
	size_t end = s->offset + s->val->len; /* checked against the limit */
	u->action = STORE_UPD_KEEP;
	if (s->val->len == 0) {
		s->len = old;
		return STORE_OK;
	}
	s->len = end > old ? end : old;
	u->action = STORE_UPD_WRITE;
	u->new_len = s->len;
	u->expire_at_ms = cur != NULL ? cur->expire_at_ms : 0;
	u->fill = setrange_fill;
	return STORE_OK;
}

/* SETRANGE key offset value */
static void cmd_setrange(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	struct setrange s = {.val = &ctx->argv[3]};
	long long offset;
	if (cmd_get_ll_or_reply(ctx, &ctx->argv[2], &offset) != 0)
		return;
	if (offset < 0) {
		reply_error(ctx->r, "offset is out of range");
		return;
	}
	/* Redis checks offset + length whether or not the key exists, so the
	 * check needs no lock; an empty value is never too long. */
	size_t limit = string_limit(ctx);
	if (s.val->len > 0 &&
	    ((unsigned long long)offset > limit || s.val->len > limit - (size_t)offset)) {
		reply_fail(ctx, STR_ETOOBIG, "setrange");
		return;
	}
	s.offset = (size_t)offset;
	int rc = store_update(ctx->store, k->p, k->len, setrange_update, &s);
	if (rc == STORE_OK)
		reply_int(ctx->r, (long long)s.len);
	else
		reply_fail(ctx, rc == STORE_EVALTOOBIG ? STR_ETOOBIG : rc, "setrange");
}

/* ---- INCR family, INCRBYFLOAT ---- */

/* Both parse the old value and format the new one under the lock; fill then
 * copies the text. The expiry of an existing key is kept. */
struct number {
	long long incr;
	long double fincr;
	long long result;
	char text[CMD_LD_MAX];
	size_t len;
};

static void number_fill(char *dst, const store_val *cur, void *arg)
{
	const struct number *n = arg;
	(void)cur;
	memcpy(dst, n->text, n->len);
}

static void number_write(struct number *n, const store_val *cur, store_upd *u)
{
	u->action = STORE_UPD_WRITE;
	u->new_len = n->len;
	u->expire_at_ms = cur != NULL ? cur->expire_at_ms : 0;
	u->fill = number_fill;
}

static int incr_update(const store_val *cur, store_upd *u, void *arg)
{
	struct number *n = arg;
	long long v = 0;
	u->action = STORE_UPD_KEEP;
	if (cur != NULL) {
		/* cmd_parse_ll only reads through the (non-const) pointer. */
		cmd_arg old = {(char *)cur->val, cur->vlen};
		if (cmd_parse_ll(&old, &v) != 0)
			return STR_ENOTINT;
	}
	if ((n->incr < 0 && v < 0 && n->incr < LLONG_MIN - v) ||
	    (n->incr > 0 && v > 0 && n->incr > LLONG_MAX - v))
		return STR_EOVERFLOW;
	n->result = v + n->incr;
	n->len = (size_t)snprintf(n->text, sizeof(n->text), "%lld", n->result);
	number_write(n, cur, u);
	return STORE_OK;
}

static void incr_generic(cmd_ctx *ctx, long long incr, const char *cmd)
{
	const cmd_arg *k = &ctx->argv[1];
	struct number n = {.incr = incr};
	int rc = store_update(ctx->store, k->p, k->len, incr_update, &n);
	if (rc == STORE_OK)
		reply_int(ctx->r, n.result);
	else
		reply_fail(ctx, rc, cmd);
}

static void cmd_incr(cmd_ctx *ctx)
{
	incr_generic(ctx, 1, "incr");
}

static void cmd_decr(cmd_ctx *ctx)
{
	incr_generic(ctx, -1, "decr");
}

static void cmd_incrby(cmd_ctx *ctx)
{
	long long incr;
	if (cmd_get_ll_or_reply(ctx, &ctx->argv[2], &incr) == 0)
		incr_generic(ctx, incr, "incrby");
}

static void cmd_decrby(cmd_ctx *ctx)
{
	long long incr;
	if (cmd_get_ll_or_reply(ctx, &ctx->argv[2], &incr) != 0)
		return;
	if (incr == LLONG_MIN) { /* its negation does not exist */
		reply_error(ctx->r, "decrement would overflow");
		return;
	}
	incr_generic(ctx, -incr, "decrby");
}

static int incrbyfloat_update(const store_val *cur, store_upd *u, void *arg)
{
	struct number *n = arg;
	long double v = 0;
	u->action = STORE_UPD_KEEP;
	if (cur != NULL) {
		cmd_arg old = {(char *)cur->val, cur->vlen};
		if (cmd_parse_ld(&old, &v) != 0)
			return STR_ENOTFLOAT;
	}
	v += n->fincr;
	if (isnan(v) || isinf(v))
		return STR_ENANINF;
	/* The stored value is the formatted text, as Redis stores it. */
	n->len = (size_t)cmd_format_ld(n->text, v);
	number_write(n, cur, u);
	return STORE_OK;
}

static void cmd_incrbyfloat(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	struct number n = {0};
	if (cmd_parse_ld(&ctx->argv[2], &n.fincr) != 0) {
		reply_fail(ctx, STR_ENOTFLOAT, "incrbyfloat");
		return;
	}
	int rc = store_update(ctx->store, k->p, k->len, incrbyfloat_update, &n);
	if (rc == STORE_OK)
		reply_bulk(ctx->r, n.text, n.len);
	else
		reply_fail(ctx, rc, "incrbyfloat");
}

/* Name, arity, flags, line-protocol rest-of-line argument, handler, key
 * positions (first, last, step), all as Redis 7's COMMAND INFO. Only SET takes
 * the rest of a line-protocol line as its value, as in the original Mini DB. */
static const command commands[] = {
        {"append", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 0, cmd_append, 1, 1, 1},
        {"decr", 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 0, cmd_decr, 1, 1, 1},
        {"decrby", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 0, cmd_decrby, 1, 1, 1},
        {"get", 2, CMD_READ | CMD_FAST, 0, cmd_get, 1, 1, 1},
        {"getdel", 2, CMD_WRITE | CMD_FAST, 0, cmd_getdel, 1, 1, 1},
        {"getex", -2, CMD_WRITE | CMD_FAST, 0, cmd_getex, 1, 1, 1},
        {"getrange", 4, CMD_READ, 0, cmd_getrange, 1, 1, 1},
        {"getset", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 0, cmd_getset, 1, 1, 1},
        {"incr", 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 0, cmd_incr, 1, 1, 1},
        {"incrby", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 0, cmd_incrby, 1, 1, 1},
        {"incrbyfloat", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 0, cmd_incrbyfloat, 1, 1, 1},
        {"lookup", 2, CMD_READ | CMD_FAST, 0, cmd_get, 1, 1, 1},
        {"mget", -2, CMD_READ | CMD_FAST, 0, cmd_mget, 1, -1, 1},
        {"mset", -3, CMD_WRITE | CMD_DENYOOM, 0, cmd_mset, 1, -1, 2},
        {"msetnx", -3, CMD_WRITE | CMD_DENYOOM, 0, cmd_msetnx, 1, -1, 2},
        {"psetex", 4, CMD_WRITE | CMD_DENYOOM, 0, cmd_psetex, 1, 1, 1},
        {"set", -3, CMD_WRITE | CMD_DENYOOM, 2, cmd_set, 1, 1, 1},
        {"setex", 4, CMD_WRITE | CMD_DENYOOM, 0, cmd_setex, 1, 1, 1},
        {"setnx", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 0, cmd_setnx, 1, 1, 1},
        {"setrange", 4, CMD_WRITE | CMD_DENYOOM, 0, cmd_setrange, 1, 1, 1},
        {"strlen", 2, CMD_READ | CMD_FAST, 0, cmd_strlen, 1, 1, 1},
        {"substr", 4, CMD_READ, 0, cmd_getrange, 1, 1, 1},
};

const cmd_family cmd_string_family = {commands, sizeof(commands) / sizeof(commands[0])};
