/* cmd.h - command handlers, one family per cmd_*.c file; wired into the table
 * in command.c. Each handler receives a context whose arity is already
 * checked. */
#ifndef MINIDB_CMD_H
#define MINIDB_CMD_H

#include "command.h"

/* cmd_string.c */
void cmd_set(cmd_ctx *ctx);
void cmd_get(cmd_ctx *ctx);

/* cmd_keys.c */
void cmd_del(cmd_ctx *ctx);
void cmd_exists(cmd_ctx *ctx);

/* cmd_conn.c */
void cmd_ping(cmd_ctx *ctx);
void cmd_quit(cmd_ctx *ctx);

/* Replies with the client-facing reason of a negative STORE_E* code. */
void cmd_reply_store_error(cmd_ctx *ctx, int err);

#endif
