/* cmd_conn.c - connection commands: PING, QUIT/EXIT. */
#include "cmd.h"

static void cmd_ping(cmd_ctx *ctx)
{
	if (ctx->argc == 1)
		reply_status(ctx->r, "PONG");
	else if (ctx->argc == 2)
		reply_bulk(ctx->r, ctx->argv[1].p, ctx->argv[1].len);
	else
		reply_error(ctx->r, "wrong number of arguments for 'ping' command");
}

static void cmd_quit(cmd_ctx *ctx)
{
	reply_status(ctx->r, "OK");
	ctx->out_flags |= CMD_OUT_CLOSE;
}

static const command commands[] = {
        {"exit", 1, CMD_FAST | CMD_NOAUTH | CMD_LOADING, 0, cmd_quit, 0, 0, 0},
        {"ping", -1, CMD_FAST, 0, cmd_ping, 0, 0, 0},
        {"quit", 1, CMD_FAST | CMD_NOAUTH | CMD_LOADING, 0, cmd_quit, 0, 0, 0},
};

const cmd_family cmd_conn_family = {commands, sizeof(commands) / sizeof(commands[0])};
