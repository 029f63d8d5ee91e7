/* cmd_string.c - string commands: SET, GET (LOOKUP). */
#include "cmd.h"

void cmd_reply_store_error(cmd_ctx *ctx, int err)
{
	reply_error(ctx->r, store_strerror(err));
}

void cmd_set(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1], *v = &ctx->argv[2];
	int rc = store_set(ctx->store, k->p, k->len, v->p, v->len, 0);
	if (rc != STORE_OK) {
		cmd_reply_store_error(ctx, rc);
		return;
	}
	reply_status(ctx->r, "OK");
}

static void get_reply(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	(void)expire_at_ms;
	reply_bulk(arg, val, vlen);
}

void cmd_get(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	/* The value is encoded straight into the output buffer under the shard
	 * lock: one copy, no temporary. */
	if (store_get(ctx->store, k->p, k->len, get_reply, ctx->r) == STORE_ENOTFOUND)
		reply_null(ctx->r);
}
