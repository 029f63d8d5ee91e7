/* cmd_keys.c - keyspace commands: DEL, EXISTS. */
#include "cmd.h"

void cmd_del(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	if (store_del(ctx->store, k->p, k->len) == STORE_OK)
		reply_status(ctx->r, "OK");
	else
		reply_null(ctx->r);
}

void cmd_exists(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	reply_int(ctx->r, store_exists(ctx->store, k->p, k->len));
}
