/* cmd.h - what the command families (cmd_*.c) share.
 *
 * Each family file defines its handlers as static functions and exports one
 * table of its commands; command.c merges the tables into the sorted lookup
 * table at first use. Handlers receive a context whose arity is already
 * checked. Helpers below parse arguments exactly as Redis does, so error
 * texts match what Redis clients expect.
 */
#ifndef MINIDB_CMD_H
#define MINIDB_CMD_H

#include <stdint.h>

#include "command.h"

/* One family's commands. */
typedef struct cmd_family {
	const command *commands;
	size_t n;
} cmd_family;

extern const cmd_family cmd_string_family; /* cmd_string.c */
extern const cmd_family cmd_keys_family;   /* cmd_keys.c */
extern const cmd_family cmd_conn_family;   /* cmd_conn.c */
extern const cmd_family cmd_server_family; /* cmd_server.c */

/* Replies with the client-facing error for a negative STORE_E* code
 * (STORE_EOOM becomes an -OOM error). */
void cmd_reply_store_error(cmd_ctx *ctx, int err);

/* 1 if arg equals s ignoring ASCII case. */
int cmd_arg_is(const cmd_arg *arg, const char *s);

/* Strict integer parsing as Redis's string2ll: optional '-', digits, no
 * spaces, no leading zeros except "0", within long long. Returns 0 or -1. */
int cmd_parse_ll(const cmd_arg *arg, long long *out);
/* Like cmd_parse_ll, and on failure replies
 * "value is not an integer or out of range". Returns 0 or -1. */
int cmd_get_ll_or_reply(cmd_ctx *ctx, const cmd_arg *arg, long long *out);
/* Strict finite double parsing (strtold over the whole argument, no spaces,
 * not NaN). Returns 0 or -1. */
int cmd_parse_ld(const cmd_arg *arg, long double *out);

/* Longest text of a long double, as Redis's MAX_LONG_DOUBLE_CHARS. */
#define CMD_LD_MAX 5120

/* The text Redis stores for an INCRBYFLOAT result (fixed notation, trailing
 * zeros trimmed); returns its length. dst must hold CMD_LD_MAX bytes. */
int cmd_format_ld(char *dst, long double v);

/* Current Unix time in ms (CLOCK_REALTIME). */
int64_t cmd_now_ms(void);

/* Key lookups bump the worker's keyspace_hits / keyspace_misses. */
void cmd_count_lookup(cmd_ctx *ctx, int hit);

/* One subcommand of a container command (CLIENT, CONFIG, COMMAND). arity
 * counts the container and the subcommand, as Redis's "client|setname" (3). */
typedef struct cmd_subcommand {
	const char *name; /* lowercase */
	int arity;
	cmd_fn fn;
} cmd_subcommand;

/* Runs the subcommand named by argv[1] after Redis 7's arity check, or
 * replies Redis's unknown-subcommand error. upper is the container's name in
 * capitals, lower in lowercase. */
void cmd_subcommand_run(cmd_ctx *ctx, const char *upper, const char *lower,
                        const cmd_subcommand *subs, size_t n);

/* Redis's HELP reply: a header, the NULL-terminated lines, and HELP itself. */
void cmd_reply_help(cmd_ctx *ctx, const char *upper, const char *const *lines);

/* At most 128 bytes of an argument for an error message, as Redis prints it
 * (ends at a NUL; CR and LF become spaces). out must hold 129 bytes. */
const char *cmd_arg_for_error(const cmd_arg *a, char *out);

#endif
