/* cmd_string.c - string commands: SET, GET (LOOKUP). */
#include "cmd.h"

static void cmd_set(cmd_ctx *ctx)
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

static void cmd_get(cmd_ctx *ctx)
{
	const cmd_arg *k = &ctx->argv[1];
	/* The value is encoded straight into the output buffer under the shard
	 * lock: one copy, no temporary. */
	int hit = store_get(ctx->store, k->p, k->len, get_reply, ctx->r) == STORE_OK;
	cmd_count_lookup(ctx, hit);
	if (!hit)
		reply_null(ctx->r);
}

static const command commands[] = {
        {"get", 2, CMD_READ | CMD_FAST, 0, cmd_get, 1, 1, 1},
        {"lookup", 2, CMD_READ | CMD_FAST, 0, cmd_get, 1, 1, 1},
        {"set", -3, CMD_WRITE | CMD_DENYOOM, 2, cmd_set, 1, 1, 1},
};

const cmd_family cmd_string_family = {commands, sizeof(commands) / sizeof(commands[0])};
