/* cmd_server.c - server commands: COMMAND, CONFIG, INFO, SLOWLOG, TIME, LASTSAVE.
 *
 * Everything here reports; nothing changes the keyspace. Replies have the
 * shapes Redis 7 gives them, since redis-cli, redis-benchmark and the client
 * libraries parse them: COMMAND entries are Redis's ten-element arrays, CONFIG
 * GET answers with Redis's parameter names, INFO with Redis's sections and
 * fields ("# Section" headers, CRLF line ends). Figures minidb does not have
 * (replication, AOF, forks) are reported as a server without them would.
 * In the unit tests ctx->srv is NULL: server-wide figures are then zeros
 * (what the worker's own counters know excepted).
 */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "persist.h"
#include "security.h"
#include "glob.h"
#include "server.h"
#include "slowlog.h"

#include "version.h"

/* The Redis version minidb announces compatibility with; HELLO
 * (cmd_conn.c) sends the same figure. */
#define COMPAT_REDIS_VERSION "7.0.0"

#define ERR_SYNTAX "syntax error"

/* Text built with printf-style appends; an allocation failure is sticky
 * and checked once at the end, as reply.h does. */
typedef struct text {
	buf b;
	int oom;
} text;

static void text_printf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(text *t, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->oom = 1;
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		if (buf_append(&t->b, tmp, (size_t)n) != 0)
			t->oom = 1;
		return;
	}
	/* Longer than the scratch (a long path): format in place. */
	if (buf_reserve(&t->b, (size_t)n + 1) != 0) {
		t->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->b.data + t->b.len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->b.len += (size_t)n;
}

/* Replies with the text as a verbatim string (RESP3) or bulk string. */
static void reply_text(cmd_ctx *ctx, const text *t)
{
	if (t->oom)
		cmd_reply_store_error(ctx, STORE_ENOMEM);
	else /* an empty buf has no data pointer to offset */
		reply_verbatim(ctx->r, buf_used(&t->b) ? buf_start(&t->b) : "", buf_used(&t->b));
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The server's figures, or zeros (and this worker's own lookup counters)
 * without a server. */
static void info_get(cmd_ctx *ctx, server_info *si)
{
	if (ctx->srv) {
		server_info_get(ctx->srv, si);
		return;
	}
	memset(si, 0, sizeof(*si));
	si->port = ctx->cfg->port;
	si->keyspace_hits = atomic_load_explicit(&ctx->stats->keyspace_hits, memory_order_relaxed);
	si->keyspace_misses =
	        atomic_load_explicit(&ctx->stats->keyspace_misses, memory_order_relaxed);
}

/* ---- COMMAND ---- */

/* Redis derives these ACL categories from a command's flags
 * (setImplicitACLCategories); the type categories (@string, @keyspace,
 * @connection...) are not in our table, so they are not reported. */
enum {
	CAT_READ = 1u << 0,
	CAT_WRITE = 1u << 1,
	CAT_ADMIN = 1u << 2,
	CAT_FAST = 1u << 3,
	CAT_SLOW = 1u << 4,
	CAT_DANGEROUS = 1u << 5,
};

typedef struct flag_name {
	unsigned flag;
	const char *name;
} flag_name;

/* Both in Redis's reply order. */
static const flag_name command_flag_names[] = {
        {CMD_WRITE, "write"},    {CMD_READ, "readonly"},   {CMD_DENYOOM, "denyoom"},
        {CMD_ADMIN, "admin"},    {CMD_LOADING, "loading"}, {CMD_FAST, "fast"},
        {CMD_NOAUTH, "no_auth"},
};
static const flag_name category_names[] = {
        {CAT_READ, "read"}, {CAT_WRITE, "write"}, {CAT_ADMIN, "admin"},
        {CAT_FAST, "fast"}, {CAT_SLOW, "slow"},   {CAT_DANGEROUS, "dangerous"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static unsigned command_categories(const command *c)
{
	unsigned cat = 0;
	if (c->flags & CMD_WRITE)
		cat |= CAT_WRITE;
	if (c->flags & CMD_READ)
		cat |= CAT_READ;
	if (c->flags & CMD_ADMIN)
		cat |= CAT_ADMIN | CAT_DANGEROUS;
	cat |= (c->flags & CMD_FAST) ? CAT_FAST : CAT_SLOW;
	return cat;
}

/* A set of status strings, one per bit of bits named in names; prefix is
 * put before each name ("@" for categories). */
static void reply_flag_set(cmd_ctx *ctx, unsigned bits, const flag_name *names, size_t n,
                           const char *prefix)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += (bits & names[i].flag) != 0;
	reply_set(ctx->r, count);
	for (size_t i = 0; i < n; i++) {
		if (!(bits & names[i].flag))
			continue;
		char tmp[32];
		snprintf(tmp, sizeof(tmp), "%s%s", prefix, names[i].name);
		reply_status(ctx->r, tmp);
	}
}

/* Redis 7's COMMAND INFO entry: name, arity, flags, first key, last key,
 * step, ACL categories, tips, key specs, subcommands. The last three are
 * empty: minidb has no tips, its table has no key specs (the legacy
 * first/last/step triple says the same for its commands), and subcommands
 * are not separate table entries. */
static void reply_command_info(cmd_ctx *ctx, const command *c)
{
	if (!c) {
		reply_null(ctx->r);
		return;
	}
	reply_array(ctx->r, 10);
	reply_bulk_cstr(ctx->r, c->name);
	reply_int(ctx->r, c->arity);
	reply_flag_set(ctx, c->flags, command_flag_names, NELEM(command_flag_names), "");
	reply_int(ctx->r, c->first_key);
	reply_int(ctx->r, c->last_key);
	reply_int(ctx->r, c->key_step);
	reply_flag_set(ctx, command_categories(c), category_names, NELEM(category_names), "@");
	reply_set(ctx->r, 0);
	reply_set(ctx->r, 0);
	reply_set(ctx->r, 0);
}

static void reply_all_commands(cmd_ctx *ctx)
{
	size_t n;
	const command *t = command_table_get(&n);
	reply_array(ctx->r, n);
	for (size_t i = 0; i < n; i++)
		reply_command_info(ctx, &t[i]);
}

static void command_count(cmd_ctx *ctx)
{
	size_t n;
	command_table_get(&n);
	reply_int(ctx->r, (long long)n);
}

/* COMMAND INFO [name ...]: every command without names; null for an
 * unknown name. */
static void command_info(cmd_ctx *ctx)
{
	if (ctx->argc == 2) {
		reply_all_commands(ctx);
		return;
	}
	reply_array(ctx->r, ctx->argc - 2);
	for (size_t i = 2; i < ctx->argc; i++)
		reply_command_info(ctx, command_lookup(ctx->argv[i].p, ctx->argv[i].len));
}

/* COMMAND DOCS [name ...]: minidb ships no command documentation, so the
 * map is empty. redis-cli 7 then falls back to its built-in hints. */
static void command_docs(cmd_ctx *ctx)
{
	reply_map(ctx->r, 0);
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern] */
static void command_list(cmd_ctx *ctx)
{
	enum { F_NONE, F_MODULE, F_ACLCAT, F_PATTERN } filter = F_NONE;
	const cmd_arg *farg = NULL;
	unsigned cat = 0;

	for (size_t i = 2; i < ctx->argc; i++) {
		if (!cmd_arg_is(&ctx->argv[i], "filterby") || ctx->argc - 1 - i != 2) {
			reply_error(ctx->r, ERR_SYNTAX);
			return;
		}
		const cmd_arg *ftype = &ctx->argv[i + 1];
		if (cmd_arg_is(ftype, "module"))
			filter = F_MODULE;
		else if (cmd_arg_is(ftype, "aclcat"))
			filter = F_ACLCAT;
		else if (cmd_arg_is(ftype, "pattern"))
			filter = F_PATTERN;
		else {
			reply_error(ctx->r, ERR_SYNTAX);
			return;
		}
		farg = &ctx->argv[i + 2];
		i += 2;
	}
	if (filter == F_ACLCAT)
		for (size_t k = 0; k < NELEM(category_names); k++)
			if (cmd_arg_is(farg, category_names[k].name))
				cat = category_names[k].flag;

	size_t n, count = 0;
	const command *t = command_table_get(&n);
	/* Two passes, counting then replying: the count goes first. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			reply_array(ctx->r, count);
		for (size_t i = 0; i < n; i++) {
			int keep = filter == F_NONE ||
			           (filter == F_ACLCAT && (command_categories(&t[i]) & cat)) ||
			           (filter == F_PATTERN && glob_match(farg->p, farg->len, t[i].name,
			                                              strlen(t[i].name), 1));
			if (!keep)
				continue;
			if (pass == 0)
				count++;
			else
				reply_bulk_cstr(ctx->r, t[i].name);
		}
	}
}

/* COMMAND GETKEYS command [arg ...]: the key arguments, from the command's
 * first key, last key and step. */
static void command_getkeys(cmd_ctx *ctx)
{
	const cmd_arg *av = ctx->argv + 2;
	size_t n = ctx->argc - 2;
	const command *c = command_lookup(av[0].p, av[0].len);

	if (!c) {
		reply_error(ctx->r, "Invalid command specified");
		return;
	}
	if (c->first_key == 0) {
		reply_error(ctx->r, "The command has no key arguments");
		return;
	}
	if ((c->arity > 0 && n != (size_t)c->arity) || (c->arity < 0 && n < (size_t)-c->arity)) {
		reply_error(ctx->r, "Invalid number of arguments specified for command");
		return;
	}
	long long first = c->first_key;
	long long last = c->last_key < 0 ? (long long)n + c->last_key : c->last_key;
	long long step = c->key_step > 0 ? c->key_step : 1;
	if (last >= (long long)n || last < first) {
		reply_error(ctx->r, "Invalid arguments specified for command");
		return;
	}
	reply_array(ctx->r, (size_t)((last - first) / step + 1));
	for (long long i = first; i <= last; i += step)
		reply_bulk(ctx->r, av[i].p, av[i].len);
}

static void command_help(cmd_ctx *ctx)
{
	static const char *const lines[] = {
	        "(no subcommand)",
	        "    Return details about all commands.",
	        "COUNT",
	        "    Return the total number of commands in this server.",
	        "LIST",
	        "    Return a list of all commands in this server.",
	        "INFO [<command-name> ...]",
	        "    Return details about multiple commands.",
	        "    If no command names are given, details for all commands are returned.",
	        "DOCS [<command-name> ...]",
	        "    Return documentation details about multiple commands (none: an empty map).",
	        "GETKEYS <full-command>",
	        "    Return the keys from a full command.",
	        NULL,
	};
	cmd_reply_help(ctx, "COMMAND", lines);
}

static const cmd_subcommand command_subcommands[] = {
        {"count", 2, command_count}, {"docs", -2, command_docs}, {"getkeys", -3, command_getkeys},
        {"help", 2, command_help},   {"info", -2, command_info}, {"list", -2, command_list},
};

static void cmd_command(cmd_ctx *ctx)
{
	if (ctx->argc == 1)
		reply_all_commands(ctx);
	else
		cmd_subcommand_run(ctx, "COMMAND", "command", command_subcommands,
		                   NELEM(command_subcommands));
}

/* ---- CONFIG ---- */

/* CONFIG GET answers with Redis's parameter names, mapped onto minidb's
 * settings or onto the fixed value that describes minidb (one database, no
 * RDB snapshots, no AOF). */
enum param_kind {
	PK_CONST,  /* text */
	PK_INT,    /* int field of struct config at off */
	PK_SIZE,   /* size_t field at off */
	PK_STR,    /* char * field at off */
	PK_MAXMEM, /* the maxmemory the store enforces (CONFIG SET can change it) */
	PK_POLICY, /* the store's maxmemory policy, by name */
	PK_PORT,   /* the bound port when there is a server, else the configured one */
	PK_FSYNC,  /* --fsync, by Redis's appendfsync names */
	PK_SAVE,   /* the timed snapshot rule in Redis's "seconds changes" form */
	PK_SLOWUS, /* --slowlog-ms in Redis's microseconds (-1: off) */
};

typedef struct param {
	const char *name;
	enum param_kind kind;
	size_t off;
	const char *text;
} param;

static const param params[] = {
        {"appendfsync", PK_FSYNC, 0, NULL},
        /* The write-ahead log is always on (minidb's AOF). */
        {"appendonly", PK_CONST, 0, "yes"},
        {"bind", PK_STR, offsetof(config, bind), NULL},
        {"client-query-buffer-limit", PK_SIZE, offsetof(config, max_query_buffer_bytes), NULL},
        {"databases", PK_CONST, 0, "1"},
        /* No RDB file is written: snapshots are snapshot-<seq>.parquet. */
        {"dbfilename", PK_CONST, 0, ""},
        {"dir", PK_STR, offsetof(config, data_dir), NULL},
        {"maxclients", PK_INT, offsetof(config, max_clients), NULL},
        {"maxmemory", PK_MAXMEM, 0, NULL},
        {"maxmemory-policy", PK_POLICY, 0, NULL},
        /* The store samples five keys per eviction round. */
        {"maxmemory-samples", PK_CONST, 0, "5"},
        {"port", PK_PORT, 0, NULL},
        {"proto-max-bulk-len", PK_SIZE, offsetof(config, max_bulk_bytes), NULL},
        {"save", PK_SAVE, 0, NULL},
        {"slowlog-log-slower-than", PK_SLOWUS, 0, NULL},
        {"slowlog-max-len", PK_INT, offsetof(config, slowlog_max_len), NULL},
        {"tcp-keepalive", PK_CONST, 0, "0"},
        {"timeout", PK_INT, offsetof(config, idle_timeout), NULL},
};

/* The value of p as text in out (64 bytes), or a pointer into the config. */
static const char *param_value(cmd_ctx *ctx, const param *p, char *out, size_t size)
{
	const char *base = (const char *)ctx->cfg;
	switch (p->kind) {
	case PK_CONST:
		return p->text;
	case PK_INT:
		snprintf(out, size, "%d", *(const int *)(const void *)(base + p->off));
		return out;
	case PK_SIZE:
		snprintf(out, size, "%zu", *(const size_t *)(const void *)(base + p->off));
		return out;
	case PK_STR: {
		const char *s = *(char *const *)(const void *)(base + p->off);
		return s ? s : "";
	}
	case PK_FSYNC:
		return ctx->cfg->fsync == WAL_FSYNC_ALWAYS ? "always"
		       : ctx->cfg->fsync == WAL_FSYNC_NO   ? "no"
		                                           : "everysec";
	case PK_MAXMEM:
	case PK_POLICY: {
		uint64_t bytes;
		int policy;
		store_get_maxmemory(ctx->store, &bytes, &policy);
		if (p->kind == PK_POLICY)
			return store_evict_policy_name(policy);
		snprintf(out, size, "%llu", (unsigned long long)bytes);
		return out;
	}
	case PK_PORT:
		snprintf(out, size, "%d", ctx->srv ? server_port(ctx->srv) : ctx->cfg->port);
		return out;
	case PK_SAVE:
		if (ctx->cfg->snapshot_every == 0)
			return "";
		snprintf(out, size, "%d %d", ctx->cfg->snapshot_every,
		         ctx->cfg->snapshot_min_changes);
		return out;
	case PK_SLOWUS:
		snprintf(out, size, "%lld",
		         ctx->cfg->slowlog_ms < 0 ? -1LL : ctx->cfg->slowlog_ms * 1000LL);
		return out;
	}
	return "";
}

/* CONFIG GET pattern [pattern ...]: every parameter matched by any pattern
 * (glob, case-insensitive), each once, as a map of name to value. */
static void config_get(cmd_ctx *ctx)
{
	unsigned char hit[NELEM(params)] = {0};
	size_t count = 0;

	for (size_t i = 2; i < ctx->argc; i++)
		for (size_t k = 0; k < NELEM(params); k++)
			if (!hit[k] && glob_match(ctx->argv[i].p, ctx->argv[i].len, params[k].name,
			                          strlen(params[k].name), 1)) {
				hit[k] = 1;
				count++;
			}
	reply_map(ctx->r, count);
	for (size_t k = 0; k < NELEM(params); k++) {
		if (!hit[k])
			continue;
		char tmp[64];
		reply_bulk_cstr(ctx->r, params[k].name);
		reply_bulk_cstr(ctx->r, param_value(ctx, &params[k], tmp, sizeof(tmp)));
	}
}

/* Parses a Redis memory size: digits with an optional b, k, kb, m, mb, g or
 * gb suffix (case-insensitive; k = 1000, kb = 1024, as Redis's memtoull).
 * Returns 0 or -1. */
static int parse_memory(const cmd_arg *a, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mul;
	} units[] = {{"", 1},        {"b", 1},        {"k", 1000},          {"kb", 1024},
	             {"m", 1000000}, {"mb", 1048576}, {"g", 1000000000ULL}, {"gb", 1073741824ULL}};
	size_t digits = 0;
	while (digits < a->len && a->p[digits] >= '0' && a->p[digits] <= '9')
		digits++;
	if (digits == 0 || digits > 19)
		return -1;
	cmd_arg num = {a->p, digits}, unit = {a->p + digits, a->len - digits};
	long long v;
	if (cmd_parse_ll(&num, &v) != 0 || v < 0)
		return -1;
	for (size_t i = 0; i < NELEM(units); i++)
		if (cmd_arg_is(&unit, units[i].suffix)) {
			if ((uint64_t)v > UINT64_MAX / units[i].mul)
				return -1;
			*out = (uint64_t)v * units[i].mul;
			return 0;
		}
	return -1;
}

/* CONFIG SET name value [name value ...]: maxmemory and maxmemory-policy
 * change the store's limit at run time (CONFIG GET and INFO read them back
 * from the store). Every other known parameter answers as an immutable one
 * does in Redis. All pairs are checked before any is applied, and the first
 * problem found is the one reported, as in Redis. */
static void config_set(cmd_ctx *ctx)
{
	char tmp[129];
	if ((ctx->argc & 1) != 0) {
		reply_error(ctx->r, ERR_SYNTAX);
		return;
	}
	uint64_t bytes;
	int policy;
	store_get_maxmemory(ctx->store, &bytes, &policy);
	for (size_t i = 2; i < ctx->argc; i += 2) {
		const cmd_arg *name = &ctx->argv[i], *value = &ctx->argv[i + 1];
		if (cmd_arg_is(name, "maxmemory")) {
			if (parse_memory(value, &bytes) != 0) {
				reply_error(ctx->r,
				            "CONFIG SET failed (possibly related to argument "
				            "'maxmemory') - argument must be a memory value");
				return;
			}
			continue;
		}
		if (cmd_arg_is(name, "maxmemory-policy")) {
			char pol[32];
			size_t n = value->len < sizeof(pol) - 1 ? value->len : sizeof(pol) - 1;
			for (size_t j = 0; j < n; j++)
				pol[j] = (char)((value->p[j] >= 'A' && value->p[j] <= 'Z')
				                        ? value->p[j] + 32
				                        : value->p[j]);
			pol[n] = 0;
			int parsed = value->len < sizeof(pol) ? store_evict_policy_parse(pol) : -1;
			if (parsed < 0) {
				reply_error(
				        ctx->r,
				        "CONFIG SET failed (possibly related to argument "
				        "'maxmemory-policy') - argument(s) must be one of the "
				        "following: volatile-lru, volatile-lfu, volatile-random, "
				        "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
				        "noeviction");
				return;
			}
			policy = parsed;
			continue;
		}
		for (size_t k = 0; k < NELEM(params); k++)
			if (cmd_arg_is(name, params[k].name)) {
				reply_errorf(
				        ctx->r,
				        "CONFIG SET failed (possibly related to argument '%s') - "
				        "can't set immutable config",
				        params[k].name);
				return;
			}
		reply_errorf(ctx->r, "Unknown option or number of arguments for CONFIG SET - '%s'",
		             cmd_arg_for_error(name, tmp));
		return;
	}
	store_set_maxmemory(ctx->store, bytes, policy);
	reply_status(ctx->r, "OK");
}

/* CONFIG RESETSTAT: accepted; the counters are cumulative for the life of
 * the process and are not reset (they are per-worker, single-writer
 * atomics that only their own thread may store to). */
static void config_resetstat(cmd_ctx *ctx)
{
	reply_status(ctx->r, "OK");
}

static void config_help(cmd_ctx *ctx)
{
	static const char *const lines[] = {
	        "GET <pattern>",
	        "    Return parameters matching the glob-like <pattern> and their values.",
	        "SET <directive> <value> [<directive> <value> ...]",
	        "    Set maxmemory and/or maxmemory-policy; other directives are immutable.",
	        "RESETSTAT",
	        "    Accepted; statistics are not reset.",
	        NULL,
	};
	cmd_reply_help(ctx, "CONFIG", lines);
}

static const cmd_subcommand config_subcommands[] = {
        {"get", -3, config_get},
        {"help", 2, config_help},
        {"resetstat", 2, config_resetstat},
        {"set", -4, config_set},
};

static void cmd_config(cmd_ctx *ctx)
{
	cmd_subcommand_run(ctx, "CONFIG", "config", config_subcommands, NELEM(config_subcommands));
}

/* ---- SLOWLOG ---- */

/* SLOWLOG GET [count]: Redis's six-element entries, newest first (count 10
 * by default, -1 for all). The argument list holds the command's name and,
 * in place of its arguments, "... (N more arguments)": arguments are never
 * kept (values and tokens). */
static void slowlog_get_cmd(cmd_ctx *ctx)
{
	long long count = 10;
	if (ctx->argc == 3 && (cmd_parse_ll(&ctx->argv[2], &count) != 0 || count < -1)) {
		reply_error(ctx->r, "count should be greater than or equal to -1");
		return;
	}
	slowlog *l = server_slowlog(ctx->srv);
	size_t n = slowlog_len(l);
	if (count >= 0 && (unsigned long long)count < n)
		n = (size_t)count;
	slowlog_entry *e = n ? malloc(n * sizeof(*e)) : NULL;
	if (n && !e) {
		reply_error_code(ctx->r, "OOM", "out of memory for SLOWLOG GET");
		return;
	}
	n = slowlog_get(l, e, n);
	reply_array(ctx->r, n);
	for (size_t i = 0; i < n; i++) {
		char more[64];
		reply_array(ctx->r, 6);
		reply_int(ctx->r, (long long)e[i].id);
		reply_int(ctx->r, e[i].unix_s);
		reply_int(ctx->r, (long long)e[i].duration_us);
		reply_array(ctx->r, e[i].argc > 1 ? 2 : 1);
		reply_bulk_cstr(ctx->r, e[i].cmd);
		if (e[i].argc > 1) {
			snprintf(more, sizeof more, "... (%llu more arguments)",
			         (unsigned long long)(e[i].argc - 1));
			reply_bulk_cstr(ctx->r, more);
		}
		reply_bulk_cstr(ctx->r, e[i].peer);
		reply_bulk_cstr(ctx->r, e[i].name);
	}
	free(e);
}

static void slowlog_len_cmd(cmd_ctx *ctx)
{
	reply_int(ctx->r, (long long)slowlog_len(server_slowlog(ctx->srv)));
}

static void slowlog_reset_cmd(cmd_ctx *ctx)
{
	slowlog_reset(server_slowlog(ctx->srv));
	reply_status(ctx->r, "OK");
}

static void slowlog_help(cmd_ctx *ctx)
{
	static const char *const lines[] = {
	        "GET [<count>]",
	        "    Return the <count> newest entries of the slow log (default 10, -1 for all).",
	        "    An entry: id, Unix time, duration in microseconds, the command's name",
	        "    (arguments are never kept), client address, client name.",
	        "LEN",
	        "    Return the number of entries in the slow log.",
	        "RESET",
	        "    Empty the slow log.",
	        NULL,
	};
	cmd_reply_help(ctx, "SLOWLOG", lines);
}

static const cmd_subcommand slowlog_subcommands[] = {
        {"get", -2, slowlog_get_cmd},
        {"help", 2, slowlog_help},
        {"len", 2, slowlog_len_cmd},
        {"reset", 2, slowlog_reset_cmd},
};

static void cmd_slowlog(cmd_ctx *ctx)
{
	if (ctx->srv == NULL) {
		reply_error(ctx->r, "no server: SLOWLOG needs one");
		return;
	}
	if (ctx->argc > 3 && cmd_arg_is(&ctx->argv[1], "get")) {
		reply_error(ctx->r, "syntax error");
		return;
	}
	cmd_subcommand_run(ctx, "SLOWLOG", "slowlog", slowlog_subcommands,
	                   NELEM(slowlog_subcommands));
}

/* ---- INFO ---- */

/* Redis's bytesToHuman: 100B, 4.00K, 2.50M, 1.00G... */
static void bytes_human(char *out, size_t size, unsigned long long n)
{
	static const char units[] = "KMGTP";
	if (n < 1024) {
		snprintf(out, size, "%lluB", n);
		return;
	}
	double d = (double)n / 1024;
	size_t u = 0;
	while (d >= 1024 && u + 1 < sizeof(units) - 1) {
		d /= 1024;
		u++;
	}
	snprintf(out, size, "%.2f%c", d, units[u]);
}

/* Resident set size from /proc/self/statm (its second field, in pages);
 * 0 if it cannot be read. */
static unsigned long long rss_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return page > 0 ? resident * (unsigned long long)page : 0;
}

/* 40 hex digits naming this server's run, as Redis's run_id, derived from
 * the start time and the pid (no process-wide state to keep a random one
 * in): stable for the life of the process, different across restarts.
 * salt tells run_id and master_replid apart. */
static void run_id(char out[41], int64_t start_ms, uint64_t salt)
{
	uint64_t x = (uint64_t)start_ms ^ ((uint64_t)getpid() << 40) ^ salt;
	for (int i = 0; i < 40; i += 16) {
		/* splitmix64 */
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		char tmp[17];
		snprintf(tmp, sizeof(tmp), "%016llx", (unsigned long long)z);
		memcpy(out + i, tmp, i + 16 <= 40 ? 16 : 40 - (size_t)i);
	}
	out[40] = 0;
}

/* A path for an INFO line: CR and LF would break the format. */
static void info_path(text *t, const char *field, const char *path)
{
	text_printf(t, "%s:", field);
	for (const char *p = path; *p; p++) {
		char c = *p == '\r' || *p == '\n' ? '_' : *p;
		if (buf_append_char(&t->b, c) != 0)
			t->oom = 1;
	}
	text_printf(t, "\r\n");
}

typedef struct info_src {
	cmd_ctx *ctx;
	server_info si;
	int64_t now_us;
} info_src;

static void info_server(text *t, const info_src *s)
{
	struct utsname un;
	char id[41], exe[PATH_MAX];
	int64_t up = s->si.start_ms ? (s->now_us / 1000 - s->si.start_ms) / 1000 : 0;

	if (uname(&un) != 0)
		memset(&un, 0, sizeof(un));
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	run_id(id, s->si.start_ms, 0);
	text_printf(t,
	            "# Server\r\n"
	            "redis_version:%s\r\n"
	            "minidb_version:%s\r\n"
	            "minidb_git_sha1:%s\r\n"
	            "redis_mode:standalone\r\n"
	            "os:%s %s %s\r\n"
	            "arch_bits:%d\r\n"
	            "multiplexing_api:epoll\r\n"
	            "atomicvar_api:c11-builtin\r\n"
	            "process_id:%ld\r\n"
	            "run_id:%s\r\n"
	            "tcp_port:%d\r\n"
	            "server_time_usec:%lld\r\n"
	            "uptime_in_seconds:%lld\r\n"
	            "uptime_in_days:%lld\r\n",
	            COMPAT_REDIS_VERSION, MINIDB_VERSION, MINIDB_COMMIT, un.sysname, un.release,
	            un.machine, (int)(sizeof(void *) * CHAR_BIT), (long)getpid(), id, s->si.port,
	            (long long)s->now_us, (long long)up, (long long)(up / 86400));
	info_path(t, "executable", exe);
	info_path(t, "config_file", s->ctx->cfg->config_file ? s->ctx->cfg->config_file : "");
}

static void info_clients(text *t, const info_src *s)
{
	text_printf(t,
	            "# Clients\r\n"
	            "connected_clients:%llu\r\n"
	            "maxclients:%d\r\n"
	            "blocked_clients:0\r\n",
	            (unsigned long long)s->si.connected_clients, s->ctx->cfg->max_clients);
}

static void info_memory(text *t, const info_src *s)
{
	uint64_t maxmemory;
	int maxpolicy;
	store_get_maxmemory(s->ctx->store, &maxmemory, &maxpolicy);
	unsigned long long used = store_mem_used(s->ctx->store), rss = rss_bytes();
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	unsigned long long total =
	        pages > 0 && page > 0 ? (unsigned long long)pages * (unsigned long long)page : 0;
	const char *policy = store_evict_policy_name(maxpolicy);
	char h_used[32], h_rss[32], h_total[32], h_max[32];

	bytes_human(h_used, sizeof(h_used), used);
	bytes_human(h_rss, sizeof(h_rss), rss);
	bytes_human(h_total, sizeof(h_total), total);
	bytes_human(h_max, sizeof(h_max), maxmemory);
	text_printf(t,
	            "# Memory\r\n"
	            "used_memory:%llu\r\n"
	            "used_memory_human:%s\r\n"
	            "used_memory_rss:%llu\r\n"
	            "used_memory_rss_human:%s\r\n"
	            "total_system_memory:%llu\r\n"
	            "total_system_memory_human:%s\r\n"
	            "maxmemory:%llu\r\n"
	            "maxmemory_human:%s\r\n"
	            "maxmemory_policy:%s\r\n"
	            "mem_allocator:libc\r\n",
	            used, h_used, rss, h_rss, total, h_total, (unsigned long long)maxmemory, h_max,
	            policy ? policy : "");
}

/* Redis's fields where minidb has the same thing (snapshots are its RDB,
 * the WAL its AOF, always on), then the snapshots' and the WAL's own
 * figures. Without a persist (unit tests) they are zero. */
static void info_persistence(text *t, const info_src *s)
{
	persist_info pi = {.fsync_policy = s->ctx->cfg->fsync};
	char why[96] = "";
	if (s->ctx->persist)
		persist_info_get(s->ctx->persist, &pi);
	if (pi.write_error)
		snprintf(why, sizeof why, "%s", strerror(pi.write_error));
	const snapshot_info *sn = &pi.snap;
	int64_t now_s = now_us() / 1000000;
	text_printf(
	        t,
	        "# Persistence\r\n"
	        "loading:%d\r\n"
	        "async_loading:0\r\n"
	        "rdb_changes_since_last_save:%llu\r\n"
	        "rdb_bgsave_in_progress:%d\r\n"
	        "rdb_last_save_time:%lld\r\n"
	        "rdb_last_bgsave_status:%s\r\n"
	        "rdb_last_bgsave_time_sec:%lld\r\n"
	        "rdb_current_bgsave_time_sec:%lld\r\n"
	        "rdb_saves:%llu\r\n"
	        "snapshot_failures:%llu\r\n"
	        "snapshot_last_seq:%llu\r\n"
	        "snapshot_last_bytes:%llu\r\n"
	        "snapshot_last_rows:%llu\r\n"
	        "snapshot_last_duration_ms:%lld\r\n"
	        "snapshot_last_error:%s\r\n"
	        "snapshot_wal_segments_removed:%llu\r\n",
	        pi.loading,
	        (unsigned long long)(pi.last_seq > sn->last_seq ? pi.last_seq - sn->last_seq : 0),
	        sn->in_progress ? 1 : 0,
	        (long long)(sn->last_save_time > 0 ? sn->last_save_time : s->si.start_ms / 1000),
	        sn->last_ok ? "ok" : "err",
	        (long long)(sn->last_duration_ms >= 0 ? (sn->last_duration_ms + 999) / 1000 : -1),
	        (long long)(sn->current_start_ms > 0 ? now_s - sn->current_start_ms / 1000 : -1),
	        (unsigned long long)sn->saves, (unsigned long long)sn->failures,
	        (unsigned long long)sn->last_seq, (unsigned long long)sn->last_bytes,
	        (unsigned long long)sn->last_rows, (long long)sn->last_duration_ms, sn->last_error,
	        (unsigned long long)sn->wal_segments_removed);
	text_printf(t,
	            "aof_enabled:1\r\n"
	            "aof_rewrite_in_progress:0\r\n"
	            "aof_last_write_status:%s\r\n"
	            "wal_fsync:%s\r\n"
	            "wal_last_seq:%llu\r\n"
	            "wal_durable_seq:%llu\r\n"
	            "wal_records:%llu\r\n"
	            "wal_writes:%llu\r\n"
	            "wal_fsyncs:%llu\r\n"
	            "wal_bytes:%llu\r\n"
	            "wal_segments_created:%llu\r\n"
	            "wal_errors:%llu\r\n"
	            "wal_error:%s\r\n"
	            "wal_unlogged_expiries_evictions:%llu\r\n"
	            "loading_records:%llu\r\n"
	            "loading_time_ms:%llu\r\n",
	            pi.write_error ? "err" : "ok",
	            pi.fsync_policy == WAL_FSYNC_ALWAYS ? "always"
	            : pi.fsync_policy == WAL_FSYNC_NO   ? "no"
	                                                : "everysec",
	            (unsigned long long)pi.last_seq, (unsigned long long)pi.durable_seq,
	            (unsigned long long)pi.wal.records, (unsigned long long)pi.wal.writes,
	            (unsigned long long)pi.wal.fsyncs, (unsigned long long)pi.wal.bytes,
	            (unsigned long long)pi.wal.segments_created, (unsigned long long)pi.wal.errors,
	            why, (unsigned long long)pi.lost_journal, (unsigned long long)pi.records_loaded,
	            (unsigned long long)pi.load_ms);
}

static void info_stats(text *t, const info_src *s)
{
	store_counters sc;
	store_counters_get(s->ctx->store, &sc);
	text_printf(t,
	            "# Stats\r\n"
	            "total_connections_received:%llu\r\n"
	            "total_commands_processed:%llu\r\n"
	            "instantaneous_ops_per_sec:0\r\n"
	            "total_net_input_bytes:%llu\r\n"
	            "total_net_output_bytes:%llu\r\n"
	            "rejected_connections:%llu\r\n"
	            "expired_keys:%llu\r\n"
	            "evicted_keys:%llu\r\n"
	            "keyspace_hits:%llu\r\n"
	            "keyspace_misses:%llu\r\n",
	            (unsigned long long)s->si.total_connections_received,
	            (unsigned long long)s->si.total_commands_processed,
	            (unsigned long long)s->si.total_net_input_bytes,
	            (unsigned long long)s->si.total_net_output_bytes,
	            (unsigned long long)s->si.rejected_connections,
	            (unsigned long long)sc.expired_keys, (unsigned long long)sc.evicted_keys,
	            (unsigned long long)s->si.keyspace_hits,
	            (unsigned long long)s->si.keyspace_misses);
	/* Redis's name for refused AUTH attempts, then minidb's own. */
	security_stats ss;
	security_stats_get(s->ctx->sec, &ss);
	text_printf(t,
	            "acl_access_denied_auth:%llu\r\n"
	            "auth_successes:%llu\r\n"
	            "auth_backoff_refused:%llu\r\n"
	            "auth_revoked_connections:%llu\r\n"
	            "auth_reloads:%llu\r\n",
	            (unsigned long long)ss.auth_failed, (unsigned long long)ss.auth_ok,
	            (unsigned long long)ss.auth_backoff_refused,
	            (unsigned long long)ss.revoked_closed, (unsigned long long)ss.reloads);
}

/* A primary without replicas, as a standalone Redis reports itself. */
static void info_replication(text *t, const info_src *s)
{
	char id[41];
	run_id(id, s->si.start_ms, 0x5265706c ^ 1);
	text_printf(t,
	            "# Replication\r\n"
	            "role:master\r\n"
	            "connected_slaves:0\r\n"
	            "master_failover_state:no-failover\r\n"
	            "master_replid:%s\r\n"
	            "master_replid2:0000000000000000000000000000000000000000\r\n"
	            "master_repl_offset:0\r\n"
	            "second_repl_offset:-1\r\n"
	            "repl_backlog_active:0\r\n",
	            id);
}

static void info_cpu(text *t, const info_src *s)
{
	struct rusage self, children;
	(void)s;
	if (getrusage(RUSAGE_SELF, &self) != 0)
		memset(&self, 0, sizeof(self));
	if (getrusage(RUSAGE_CHILDREN, &children) != 0)
		memset(&children, 0, sizeof(children));
	text_printf(t,
	            "# CPU\r\n"
	            "used_cpu_sys:%ld.%06ld\r\n"
	            "used_cpu_user:%ld.%06ld\r\n"
	            "used_cpu_sys_children:%ld.%06ld\r\n"
	            "used_cpu_user_children:%ld.%06ld\r\n",
	            (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec,
	            (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec,
	            (long)children.ru_stime.tv_sec, (long)children.ru_stime.tv_usec,
	            (long)children.ru_utime.tv_sec, (long)children.ru_utime.tv_usec);
}

static void info_cluster(text *t, const info_src *s)
{
	(void)s;
	text_printf(t, "# Cluster\r\ncluster_enabled:0\r\n");
}

/* Keys whose time has passed but that nobody touched yet are counted, as
 * in Redis. avg_ttl is not sampled. */
static void info_keyspace(text *t, const info_src *s)
{
	store_counters sc;
	uint64_t keys = store_count(s->ctx->store);
	store_counters_get(s->ctx->store, &sc);
	text_printf(t, "# Keyspace\r\n");
	if (keys || sc.expires)
		text_printf(t, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", (unsigned long long)keys,
		            (unsigned long long)sc.expires);
}

/* Redis's per-command lines, from the workers' figures (kept while commands
 * are timed: the default). calls excludes the rejected ones, as in Redis:
 * refused before running (authentication, permission, arity, memory,
 * loading); failed_calls ran and answered an error. usec is the time of
 * all of them, parsing included. */
static void info_commandstats(text *t, const info_src *s)
{
	static const int rejected_reasons[] = {REPLY_ERR_NOAUTH, REPLY_ERR_NOPERM, REPLY_ERR_ARITY,
	                                       REPLY_ERR_OOM, REPLY_ERR_LOADING};
	const conn_worker *ws[1024];
	size_t ncmd, nw = 0;
	const command *table = command_table_get(&ncmd);

	text_printf(t, "# Commandstats\r\n");
	if (s->ctx->srv)
		nw = server_conn_workers(s->ctx->srv, ws, NELEM(ws));
	for (size_t i = 0; i < ncmd && nw > 0; i++) {
		mx_hist_snap h;
		uint64_t errors[REPLY_ERR_COUNT], rejected = 0, failed = 0;
		conn_command_stats(ws, nw, i, &h, errors);
		if (h.count == 0)
			continue;
		for (size_t r = 0; r < NELEM(rejected_reasons); r++)
			rejected += errors[rejected_reasons[r]];
		for (int r = 1; r < REPLY_ERR_COUNT; r++)
			failed += errors[r];
		failed -= rejected;
		uint64_t calls = h.count - rejected, usec = h.sum_ns / 1000;
		text_printf(
		        t,
		        "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
		        "failed_calls=%llu\r\n",
		        table[i].name, (unsigned long long)calls, (unsigned long long)usec,
		        calls ? (double)usec / (double)calls : 0.0, (unsigned long long)rejected,
		        (unsigned long long)failed);
	}
}

/* In Redis's order. Redis's default set also has modules and errorstats,
 * which minidb does not have; commandstats comes with all, everything or
 * by name, as in Redis. */
static const struct info_section {
	const char *name;
	void (*fn)(text *t, const info_src *s);
	int in_default;
} info_sections[] = {
        {"server", info_server, 1},   {"clients", info_clients, 1},
        {"memory", info_memory, 1},   {"persistence", info_persistence, 1},
        {"stats", info_stats, 1},     {"replication", info_replication, 1},
        {"cpu", info_cpu, 1},         {"commandstats", info_commandstats, 0},
        {"cluster", info_cluster, 1}, {"keyspace", info_keyspace, 1},
};

/* INFO [section ...]: the named sections (any case; default, all and
 * everything mean every section), in Redis's order whatever the order asked,
 * separated by an empty line. An unknown section adds nothing. */
static void cmd_info(cmd_ctx *ctx)
{
	unsigned char want[NELEM(info_sections)];
	int deflt = ctx->argc == 1, all = 0;

	memset(want, 0, sizeof(want));
	for (size_t i = 1; i < ctx->argc; i++) {
		const cmd_arg *a = &ctx->argv[i];
		if (cmd_arg_is(a, "default"))
			deflt = 1;
		if (cmd_arg_is(a, "all") || cmd_arg_is(a, "everything"))
			all = 1;
		for (size_t k = 0; k < NELEM(info_sections); k++)
			if (cmd_arg_is(a, info_sections[k].name))
				want[k] = 1;
	}

	info_src src = {.ctx = ctx, .now_us = now_us()};
	info_get(ctx, &src.si);
	text t = {.oom = 0};
	buf_init(&t.b);
	int sections = 0;
	for (size_t k = 0; k < NELEM(info_sections); k++) {
		if (!all && !want[k] && !(deflt && info_sections[k].in_default))
			continue;
		if (sections++)
			text_printf(&t, "\r\n");
		info_sections[k].fn(&t, &src);
	}
	reply_text(ctx, &t);
	buf_free(&t.b);
}

/* ---- TIME, LASTSAVE ---- */

/* [seconds, microseconds] as bulk strings, as Redis sends them. */
static void cmd_time(cmd_ctx *ctx)
{
	char sec[24], usec[24];
	int64_t us = now_us();
	int ns = snprintf(sec, sizeof(sec), "%lld", (long long)(us / 1000000));
	int nu = snprintf(usec, sizeof(usec), "%lld", (long long)(us % 1000000));
	reply_array(ctx->r, 2);
	reply_bulk(ctx->r, sec, (size_t)ns);
	reply_bulk(ctx->r, usec, (size_t)nu);
}

/* The Unix time of the last successful snapshot: of this run, else the
 * loaded snapshot's file time, else the start of the server. */
static void cmd_lastsave(cmd_ctx *ctx)
{
	persist_info pi = {0};
	server_info si;
	if (ctx->persist)
		persist_info_get(ctx->persist, &pi);
	if (pi.snap.last_save_time > 0) {
		reply_int(ctx->r, (long long)pi.snap.last_save_time);
		return;
	}
	info_get(ctx, &si);
	reply_int(ctx->r, (long long)(si.start_ms / 1000));
}

/* ---- SAVE, BGSAVE ---- */

/* SAVE writes the snapshot with the keyspace frozen, as Redis's SAVE
 * blocks the server; BGSAVE forks. */
static void cmd_save(cmd_ctx *ctx)
{
	char err[256];
	if (ctx->persist == NULL) {
		reply_error(ctx->r, "snapshots need a data directory");
		return;
	}
	if (persist_save(ctx->persist, PERSIST_SAVE, err, sizeof err) != 0) {
		reply_errorf(ctx->r, "%s", err);
		return;
	}
	reply_status(ctx->r, "OK");
}

/* BGSAVE [SCHEDULE]: with SCHEDULE, a snapshot already running is not an
 * error: another one follows it. */
static void cmd_bgsave(cmd_ctx *ctx)
{
	char err[256];
	int schedule = ctx->argc == 2 && cmd_arg_is(&ctx->argv[1], "schedule");
	if (ctx->argc > 2 || (ctx->argc == 2 && !schedule)) {
		reply_error(ctx->r, "syntax error");
		return;
	}
	if (ctx->persist == NULL) {
		reply_error(ctx->r, "snapshots need a data directory");
		return;
	}
	int rc = persist_save(ctx->persist, schedule ? PERSIST_BGSAVE_SCHEDULE : PERSIST_BGSAVE,
	                      err, sizeof err);
	if (rc == 1) {
		reply_status(ctx->r, "Background saving scheduled");
		return;
	}
	if (rc != 0) {
		reply_errorf(ctx->r, "%s", err);
		return;
	}
	reply_status(ctx->r, "Background saving started");
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]: asks main to stop as on SIGTERM
 * (clients drained, closing snapshot unless NOSAVE, log flushed). As in
 * Redis, success has no reply: the connection closes. */
static void cmd_shutdown(cmd_ctx *ctx)
{
	int save = -1;
	for (size_t i = 1; i < ctx->argc; i++) {
		if (cmd_arg_is(&ctx->argv[i], "nosave") && save != 1)
			save = 0;
		else if (cmd_arg_is(&ctx->argv[i], "save") && save != 0)
			save = 1;
		else if (!cmd_arg_is(&ctx->argv[i], "now") && !cmd_arg_is(&ctx->argv[i], "force")) {
			reply_error(ctx->r, "syntax error");
			return;
		}
	}
	if (ctx->srv == NULL) {
		reply_error(ctx->r, "no server to shut down");
		return;
	}
	if (ctx->persist)
		persist_set_shutdown_save(ctx->persist, save);
	log_info("server", "SHUTDOWN received", LF_I("save", save));
	kill(getpid(), SIGTERM);
	ctx->out_flags |= CMD_OUT_CLOSE;
}

/* Flags as Redis 7's: CONFIG is admin, INFO and COMMAND are not; all are
 * allowed while loading. */
static const command commands[] = {
        {"command", -1, CMD_LOADING, 0, cmd_command, 0, 0, 0},
        {"config", -2, CMD_ADMIN | CMD_LOADING, 0, cmd_config, 0, 0, 0},
        {"info", -1, CMD_LOADING, 0, cmd_info, 0, 0, 0},
        {"lastsave", 1, CMD_FAST | CMD_LOADING, 0, cmd_lastsave, 0, 0, 0},
        {"save", 1, CMD_ADMIN, 0, cmd_save, 0, 0, 0},
        {"shutdown", -1, CMD_ADMIN | CMD_LOADING, 0, cmd_shutdown, 0, 0, 0},
        {"slowlog", -2, CMD_ADMIN | CMD_LOADING, 0, cmd_slowlog, 0, 0, 0},
        {"bgsave", -1, CMD_ADMIN, 0, cmd_bgsave, 0, 0, 0},
        {"time", 1, CMD_FAST | CMD_LOADING, 0, cmd_time, 0, 0, 0},
};

const cmd_family cmd_server_family = {commands, NELEM(commands)};
