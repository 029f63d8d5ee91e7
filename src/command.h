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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

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
	CMD_READ = 1u << 0,    /* reads the keyspace */
	CMD_WRITE = 1u << 1,   /* changes the keyspace */
	CMD_ADMIN = 1u << 2,   /* server administration */
	CMD_FAST = 1u << 3,    /* O(1) or O(log n) */
	CMD_DENYOOM = 1u << 4, /* may add memory: refused with -OOM over maxmemory */
	CMD_NOAUTH = 1u << 5,  /* allowed before authentication (AUTH, HELLO, QUIT) */
	CMD_LOADING = 1u << 6, /* allowed while the data set is loading */
};

/* Set by a handler in cmd_ctx.out_flags. */
enum { CMD_OUT_CLOSE = 1u << 0 /* close the connection after the reply */ };

/* Per-worker counters that handlers bump; single writer (the worker thread),
 * read by INFO from any thread with relaxed loads. */
typedef struct cmd_stats {
	_Atomic uint64_t keyspace_hits;
	_Atomic uint64_t keyspace_misses;
} cmd_stats;

/* Single-writer increment: a relaxed load and store, no locked instruction. */
#define CMD_STAT_ADD(field, n)                                                                     \
	atomic_store_explicit(&(field),                                                            \
	                      atomic_load_explicit(&(field), memory_order_relaxed) + (n),          \
	                      memory_order_relaxed)

/* Per-connection session state that commands read and change. Owned by the
 * connection (conn.c). Fields other threads read (CLIENT LIST) are either
 * atomics or changed only under the owning worker's client lock
 * (server_client_lock); see conn.c. */
typedef struct cmd_client {
	uint64_t id;
	int resp;       /* RESP version for RESP requests: 2 (default) or 3 after HELLO 3 */
	char *name;     /* CLIENT SETNAME; NULL if none; change under the client lock */
	char *lib_name; /* CLIENT SETINFO LIB-NAME */
	char *lib_ver;  /* CLIENT SETINFO LIB-VER */
	int fd;
	char peer[64];                  /* "ip:port" */
	char local[64];                 /* "ip:port" of our side */
	int64_t created_ms;             /* Unix ms */
	_Atomic int64_t last_cmd_ms;    /* Unix ms of the last command */
	_Atomic(const char *) last_cmd; /* static name of the last command */
	void *conn;                     /* the owning connection (opaque) */
	/* Transport (conn.c): tls is 1 on a TLS connection; tls_identity is
	 * the name (per --tls-client-identity) of a client certificate that
	 * verified, "" otherwise. Written before the first command runs. */
	int tls;
	char tls_identity[256];
	/* Authentication (security.c). Owned by the worker thread; CLIENT LIST
	 * reads auth_name under the client lock. */
	int authenticated;         /* may run commands (always 1 when auth is off) */
	int auth_kind;             /* SEC_AUTH_* (security.h) */
	unsigned auth_perms;       /* AUTH_PERM_* granted */
	char auth_name[65];        /* token name or "jwt:<sub>"; "default" when auth is off */
	int64_t auth_expires_ms;   /* JWT exp in Unix ms; 0: does not expire */
	uint64_t auth_gen;         /* credentials generation it was checked against */
	unsigned char auth_fp[32]; /* fingerprint of the credential (revocation) */
	/* The legacy per-command token form: the last token that passed, as
	 * SHA-256, so a client sending it with every command costs one hash. */
	unsigned char legacy_sha[32];
	unsigned legacy_perms;
	char legacy_name[65]; /* that token's name, for error messages */
	uint64_t legacy_gen;  /* 0: nothing cached */
	void *worker_lock;    /* pthread_mutex_t * of the owning worker */
} cmd_client;

struct server;
struct persist;
struct security;

typedef struct cmd_ctx {
	store_t *store;
	const cmd_arg *argv; /* argv[0] is the command name as sent */
	size_t argc;
	reply *r;
	unsigned out_flags;
	cmd_client *client;       /* never NULL */
	cmd_stats *stats;         /* never NULL */
	struct server *srv;       /* NULL in unit tests: server-wide commands say less */
	const struct config *cfg; /* never NULL */
	struct persist *persist;  /* NULL in unit tests: no loading, no WAL */
	struct security *sec;     /* NULL: authentication off (unit tests) */
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
	/* Key positions for COMMAND INFO (Redis's first key, last key, step;
	 * last -1 = the last argument). 0 0 0 when the command has no keys. */
	int first_key, last_key, key_step;
} command;

/* Case-insensitive lookup; NULL if unknown. */
const command *command_lookup(const char *name, size_t len);

/* The whole table (sorted by name), for introspection and tests. */
const command *command_table_get(size_t *n);

/* Line-protocol helper for the splitter: the rest-of-line argument index of
 * the named command, 0 if none or unknown. */
int command_line_rest(const char *name, size_t len);

/* Looks argv[0] up, checks authentication and permissions (security.h), arity, loading (-LOADING
 * unless CMD_LOADING), the WAL for CMD_WRITE (refused while it cannot be written) and maxmemory
 * (CMD_DENYOOM), runs the handler. Unknown commands and arity errors become error replies. Returns
 * the command found (NULL if unknown), for statistics. */
const command *command_dispatch(cmd_ctx *ctx);

#endif
