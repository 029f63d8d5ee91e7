/* cmd_conn.c - connection commands: PING, QUIT/EXIT. */
#include "cmd.h"

void cmd_ping(cmd_ctx *ctx)
{
	if (ctx->argc == 1)
		reply_status(ctx->r, "PONG");
	else if (ctx->argc == 2)
		reply_bulk(ctx->r, ctx->argv[1].p, ctx->argv[1].len);
	else
		reply_error(ctx->r, "wrong number of arguments for 'ping' command");
}

void cmd_quit(cmd_ctx *ctx)
{
	reply_status(ctx->r, "OK");
	ctx->out_flags |= CMD_OUT_CLOSE;
}
