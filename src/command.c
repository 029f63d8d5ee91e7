/* command.c - the command table and dispatch (see command.h).
 *
 * Each family (cmd_*.c) exports its own table; at first use they are merged
 * into one array sorted by name, searched by binary search with a
 * case-insensitive compare. With about a hundred commands that is seven
 * comparisons and no allocation per lookup (a hash table was rejected as more
 * code for no measurable gain at this size). A duplicate name across families
 * is a programming error caught by a unit test.
 */
#include "command.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "persist.h"
#include "security.h"

#define MAX_COMMANDS 256

static command merged[MAX_COMMANDS];
static size_t nmerged;
static pthread_once_t merged_once = PTHREAD_ONCE_INIT;

static int by_name(const void *a, const void *b)
{
	return strcmp(((const command *)a)->name, ((const command *)b)->name);
}

static void merge_tables(void)
{
	const cmd_family *fams[] = {&cmd_string_family, &cmd_keys_family, &cmd_conn_family,
	                            &cmd_server_family};
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++)
		for (size_t i = 0; i < fams[f]->n && nmerged < MAX_COMMANDS; i++)
			merged[nmerged++] = fams[f]->commands[i];
	qsort(merged, nmerged, sizeof(merged[0]), by_name);
}

int argvec_push(argvec *av, char *p, size_t len)
{
	if (av->n == av->cap) {
		size_t cap = av->cap ? av->cap * 2 : 8;
		cmd_arg *v = realloc(av->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		av->v = v;
		av->cap = cap;
	}
	av->v[av->n].p = p;
	av->v[av->n].len = len;
	av->n++;
	return 0;
}

void argvec_free(argvec *av)
{
	free(av->v);
	av->v = NULL;
	av->n = av->cap = 0;
}

/* Compares a counted, any-case name with a NUL-terminated lowercase one. */
static int name_cmp(const char *name, size_t len, const char *lower)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char a = (unsigned char)name[i];
		unsigned char b = (unsigned char)lower[i];
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a + 32);
		if (b == 0)
			return 1;
		if (a != b)
			return a < b ? -1 : 1;
	}
	return lower[len] == 0 ? 0 : -1;
}

const command *command_table_get(size_t *n)
{
	pthread_once(&merged_once, merge_tables);
	*n = nmerged;
	return merged;
}

const command *command_lookup(const char *name, size_t len)
{
	size_t n;
	const command *t = command_table_get(&n);
	size_t lo = 0, hi = n;
	if (len == 0 || len > 32)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, len, t[mid].name);
		if (c == 0)
			return &t[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int command_line_rest(const char *name, size_t len)
{
	const command *cmd = command_lookup(name, len);
	return cmd ? cmd->line_rest : 0;
}

/* Redis quotes at most 128 bytes of each argument in this error. */
static void unknown_command(cmd_ctx *ctx)
{
	if (ctx->r->proto == PROTO_LINE) {
		reply_error(ctx->r, "Unknown command");
		return;
	}
	char msg[512];
	size_t n = 0;
	n += (size_t)snprintf(
	        msg, sizeof(msg), "unknown command '%.*s', with args beginning with: ",
	        (int)(ctx->argv[0].len > 128 ? 128 : ctx->argv[0].len), ctx->argv[0].p);
	for (size_t i = 1; i < ctx->argc && n < sizeof(msg) - 1; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "'%.*s' ",
		                      (int)(ctx->argv[i].len > 128 ? 128 : ctx->argv[i].len),
		                      ctx->argv[i].p);
	/* An error line must not contain CR or LF. */
	for (char *p = msg; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	reply_error(ctx->r, msg);
}

const command *command_dispatch(cmd_ctx *ctx)
{
	const command *cmd = command_lookup(ctx->argv[0].p, ctx->argv[0].len);
	if (!cmd) {
		unknown_command(ctx);
		return NULL;
	}
	/* Before the arity check: the original client's per-command token
	 * (LOOKUP <token> key) has one argument more than the command. */
	if (ctx->sec && !security_check_command(ctx->sec, ctx, cmd))
		return cmd;
	if ((cmd->arity > 0 && ctx->argc != (size_t)cmd->arity) ||
	    (cmd->arity < 0 && ctx->argc < (size_t)-cmd->arity)) {
		reply_errorf(ctx->r, "wrong number of arguments for '%s' command", cmd->name);
		return cmd;
	}
	atomic_store_explicit(&ctx->client->last_cmd, cmd->name, memory_order_relaxed);
	if (ctx->persist != NULL) {
		if (!(cmd->flags & CMD_LOADING) && persist_loading(ctx->persist)) {
			reply_error_code(ctx->r, "LOADING",
			                 "minidb is loading the dataset in memory");
			return cmd;
		}
		/* Refused before anything runs; the store refuses too (a race with
		 * the error appearing), but a multi-key command could then have
		 * done part of its work. */
		int e = (cmd->flags & CMD_WRITE) ? persist_write_error(ctx->persist) : 0;
		if (e != 0) {
			store_journal_refused(e);
			cmd_reply_store_error(ctx, STORE_EJOURNAL);
			return cmd;
		}
	}
	if (cmd->flags & CMD_DENYOOM) {
		int rc = store_make_room(ctx->store);
		if (rc != STORE_OK) {
			cmd_reply_store_error(ctx, rc);
			return cmd;
		}
	}
	cmd->fn(ctx);
	return cmd;
}
