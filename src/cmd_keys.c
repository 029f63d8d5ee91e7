/* cmd_keys.c - keyspace commands: DEL, EXISTS. */
#include "cmd.h"

static void cmd_del(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	if (store_del(ctx->store, k->p, k->len) == STORE_OK)
		reply_status(ctx->r, "OK");
	else
		reply_null(ctx->r);
}

static void cmd_exists(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	reply_int(ctx->r, store_exists(ctx->store, k->p, k->len));
}

static const command commands[] = {
        {"del", -2, CMD_WRITE, 0, cmd_del, 1, -1, 1},
        {"exists", -2, CMD_READ | CMD_FAST, 0, cmd_exists, 1, -1, 1},
};

const cmd_family cmd_keys_family = {commands, sizeof(commands) / sizeof(commands[0])};
