/* command.h - the command table: name, arity, flags and handler.
 *
 * Commands are data. Both wire protocols cut a request into an argument
 * vector and hand it here; command_exec checks arity and calls the handler,
 * which works on the store and describes its reply through reply.h. A parser
 * never knows what a command does, and a handler never knows how its
 * arguments were framed.
 */
#ifndef MINIDB_COMMAND_H
#define MINIDB_COMMAND_H

#include <stddef.h>

#include "reply.h"
#include "store.h"

/* One argument: bytes owned by the connection's input buffer, valid only
 * during the handler call. Binary-safe (may contain NUL). */
typedef struct cmd_arg {
	char *p;
	size_t len;
} cmd_arg;

/* A growable argument vector, reused across commands by a connection. */
typedef struct argvec {
	cmd_arg *v;
	size_t n, cap;
} argvec;

int argvec_push(argvec *av, char *p, size_t len); /* 0 or -ENOMEM */
void argvec_free(argvec *av);

enum cmd_flags {
	CMD_READ = 1u << 0,  /* reads the keyspace */
	CMD_WRITE = 1u << 1, /* changes the keyspace */
	CMD_ADMIN = 1u << 2, /* server administration */
	CMD_FAST = 1u << 3,  /* O(1) */
};

/* Set by a handler in cmd_ctx.out_flags. */
enum { CMD_OUT_CLOSE = 1u << 0 /* close the connection after the reply */ };

typedef struct cmd_ctx {
	store_t *store;
	const cmd_arg *argv; /* argv[0] is the command name as sent */
	size_t argc;
	reply *r;
	unsigned out_flags;
} cmd_ctx;

typedef void (*cmd_fn)(cmd_ctx *ctx);

typedef struct command {
	const char *name; /* lowercase */
	int arity;        /* > 0: exactly arity args (name included); < 0: at least -arity */
	unsigned flags;
	/* Line protocol only: index of the argument that takes the rest of the
	 * line when it is not quoted (SET's value); 0 if none. */
	int line_rest;
	cmd_fn fn;
} command;

/* Case-insensitive lookup; NULL if unknown. */
const command *command_lookup(const char *name, size_t len);

/* The whole table (sorted by name), for introspection and tests. */
const command *command_table_get(size_t *n);

/* Line-protocol helper for the splitter: the rest-of-line argument index of
 * the named command, 0 if none or unknown. */
int command_line_rest(const char *name, size_t len);

/* Looks argv[0] up, checks arity, runs the handler. Unknown commands and arity
 * errors become error replies. */
void command_dispatch(cmd_ctx *ctx);

#endif
