/* command.c - the command table and dispatch (see command.h).
 *
 * The table is kept sorted by name in the source (a unit test checks it) and
 * searched by binary search with a case-insensitive compare; with a few dozen commands that is
 * about six comparisons and needs no allocation (a hash table was rejected as more code for no
 * measurable gain at this size).
 */
#include "command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"

/* Sorted by name. */
static const command command_table[] = {
        {"del", 2, CMD_WRITE | CMD_FAST, 0, cmd_del},
        {"exists", 2, CMD_READ | CMD_FAST, 0, cmd_exists},
        {"exit", 1, CMD_FAST, 0, cmd_quit},
        {"get", 2, CMD_READ | CMD_FAST, 0, cmd_get},
        {"lookup", 2, CMD_READ | CMD_FAST, 0, cmd_get},
        {"ping", -1, CMD_FAST, 0, cmd_ping},
        {"quit", 1, CMD_FAST, 0, cmd_quit},
        {"set", 3, CMD_WRITE | CMD_FAST, 2, cmd_set},
};

#define NCOMMANDS (sizeof(command_table) / sizeof(command_table[0]))

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

const command *command_lookup(const char *name, size_t len)
{
	size_t lo = 0, hi = NCOMMANDS;
	if (len == 0 || len > 32)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, len, command_table[mid].name);
		if (c == 0)
			return &command_table[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const command *command_table_get(size_t *n)
{
	*n = NCOMMANDS;
	return command_table;
}

int command_line_rest(const char *name, size_t len)
{
	const command *cmd = command_lookup(name, len);
	return cmd ? cmd->line_rest : 0;
}

void command_dispatch(cmd_ctx *ctx)
{
	const command *cmd = command_lookup(ctx->argv[0].p, ctx->argv[0].len);
	if (!cmd) {
		reply_error(ctx->r, "Unknown command");
		return;
	}
	if ((cmd->arity > 0 && ctx->argc != (size_t)cmd->arity) ||
	    (cmd->arity < 0 && ctx->argc < (size_t)-cmd->arity)) {
		reply_errorf(ctx->r, "wrong number of arguments for '%s' command", cmd->name);
		return;
	}
	cmd->fn(ctx);
}
