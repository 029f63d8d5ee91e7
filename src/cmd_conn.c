/* cmd_conn.c - connection commands: PING, ECHO, QUIT/EXIT, HELLO, AUTH and
 * CLIENT (ID, GETNAME, SETNAME, INFO, LIST, SETINFO, NO-EVICT, NO-TOUCH,
 * REPLY ON, HELP).
 *
 * They read and change the calling connection's session (cmd_client): its
 * RESP version, name and library name/version. Only the owning worker thread
 * writes those fields, so it reads them without a lock; other threads read
 * them for CLIENT LIST under the worker's client lock, so they are changed
 * only while that lock is held (a string is swapped under it and the old one
 * freed after it is released). Replies and error texts are Redis 7's.
 */
#include "cmd.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "security.h"
#include "server.h"

/* Every HELLO names the Redis version minidb is compatible with, not minidb's
 * own: client libraries (redis-py, go-redis, Lettuce, ioredis) read it to
 * decide which commands and reply shapes they may rely on. minidb announces
 * Redis 7.0 compatibility; INFO reports the same figure. */
#define COMPAT_REDIS_VERSION "7.0.0"

#define ERR_SYNTAX "syntax error"

static void reply_oom(cmd_ctx *ctx)
{
	cmd_reply_store_error(ctx, STORE_ENOMEM);
}

/* A buffer's bytes as a verbatim string (RESP3) or bulk string. */
static void reply_buf_verbatim(cmd_ctx *ctx, const buf *b)
{
	/* An empty buf has no data pointer to offset. */
	reply_verbatim(ctx->r, buf_used(b) ? buf_start(b) : "", buf_used(b));
}

/* ---- session strings ---- */

/* Redis's validateClientAttr: CLIENT LIST must stay splittable on spaces,
 * so only printable ASCII other than the space is allowed (a NUL too is
 * refused, where Redis would cut the C string there). */
static int attr_is_valid(const cmd_arg *a)
{
	for (size_t i = 0; i < a->len; i++)
		if (a->p[i] < '!' || a->p[i] > '~')
			return 0;
	return 1;
}

/* The worker's client lock, taken for every change to a field that CLIENT
 * LIST reads from other threads (name, lib_name, lib_ver, resp). Absent in
 * the unit tests, which run without a server. */
static void client_lock(cmd_client *cl)
{
	if (cl->worker_lock)
		pthread_mutex_lock(cl->worker_lock);
}

static void client_unlock(cmd_client *cl)
{
	if (cl->worker_lock)
		pthread_mutex_unlock(cl->worker_lock);
}

/* A NUL-terminated copy of val in *out, NULL when val is empty (an empty
 * name removes it, as in Redis). Returns 0 or -1 (out of memory). Copying
 * happens before the lock is taken, so the lock covers a pointer swap only. */
static int dup_arg(const cmd_arg *val, char **out)
{
	*out = NULL;
	if (val->len == 0)
		return 0;
	*out = malloc(val->len + 1);
	if (!*out)
		return -1;
	memcpy(*out, val->p, val->len);
	(*out)[val->len] = 0;
	return 0;
}

/* Replaces *field with a copy of val under the client lock; the old string
 * is freed after unlocking (no reader can hold it then). Returns 0 or -1
 * (out of memory, nothing changed). */
static int client_set_str(cmd_client *cl, char **field, const cmd_arg *val)
{
	char *s;
	if (dup_arg(val, &s) != 0)
		return -1;
	client_lock(cl);
	char *old = *field;
	*field = s;
	client_unlock(cl);
	free(old);
	return 0;
}

/* ---- PING, ECHO, QUIT ---- */

static void cmd_ping(cmd_ctx *ctx)
{
	if (ctx->argc == 1)
		reply_status(ctx->r, "PONG");
	else if (ctx->argc == 2)
		reply_bulk(ctx->r, ctx->argv[1].p, ctx->argv[1].len);
	else
		reply_error(ctx->r, "wrong number of arguments for 'ping' command");
}

static void cmd_echo(cmd_ctx *ctx)
{
	reply_bulk(ctx->r, ctx->argv[1].p, ctx->argv[1].len);
}

static void cmd_quit(cmd_ctx *ctx)
{
	reply_status(ctx->r, "OK");
	ctx->out_flags |= CMD_OUT_CLOSE;
}

/* ---- AUTH and HELLO ---- */

/* Authentication arrives in a later issue (security.auth_enabled is refused
 * at start-up until then). Meanwhile minidb answers as Redis does with no
 * password configured: the only user is "default", it has no password, and
 * every connection is already authenticated as it. So "AUTH default <any>"
 * succeeds, any other user is refused, and the one-argument form is an
 * error because there is no password to check. */
static int user_is_default(const cmd_arg *user)
{
	return user->len == 7 && memcmp(user->p, "default", 7) == 0;
}

static void reply_wrongpass(cmd_ctx *ctx)
{
	reply_error_code(ctx->r, "WRONGPASS",
	                 "invalid username-password pair or user is disabled.");
}

/* Authenticates with user (NULL: none given) and token; replies with the
 * error and returns 0 when refused, returns 1 (nothing replied) on success. */
static int authenticate(cmd_ctx *ctx, const cmd_arg *user, const cmd_arg *token)
{
	char err[256];
	int rc = security_authenticate(ctx->sec, ctx->client, user ? user->p : NULL,
	                               user ? user->len : 0, token->p, token->len, err, sizeof err);
	if (rc == 0)
		return 1;
	if (rc == -EAGAIN)
		reply_error(ctx->r, err);
	else if (ctx->r->proto == PROTO_LINE)
		reply_errorf(ctx->r, "Authentication failed%s%s",
		             strncmp(err, "invalid token", 13) == 0 ? ": " : "",
		             strncmp(err, "invalid token", 13) == 0 ? err + 15 : "");
	else
		reply_error_code(ctx->r, "WRONGPASS", err);
	return 0;
}

/* AUTH [username] password */
static void cmd_auth(cmd_ctx *ctx)
{
	if (ctx->argc > 3) {
		reply_error(ctx->r, ERR_SYNTAX);
		return;
	}
	if (!security_required(ctx->sec)) {
		if (ctx->argc == 2) {
			reply_error(
			        ctx->r,
			        "AUTH <password> called without any password configured for "
			        "the default user. Are you sure your configuration is correct?");
			return;
		}
		if (user_is_default(&ctx->argv[1]))
			reply_status(ctx->r, "OK");
		else
			reply_wrongpass(ctx);
		return;
	}
	if (authenticate(ctx, ctx->argc == 3 ? &ctx->argv[1] : NULL, &ctx->argv[ctx->argc - 1]))
		reply_status(ctx->r, "OK");
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]]: switches
 * the RESP version and replies with the server's handshake map, in the new
 * version already. Over the line protocol the reply stays a line, but the
 * version still applies to the connection's later RESP requests. */
static void cmd_hello(cmd_ctx *ctx)
{
	cmd_client *cl = ctx->client;
	long long ver = 0;
	size_t j = 1;
	const cmd_arg *user = NULL, *pass = NULL, *name = NULL;

	if (ctx->argc >= 2) {
		if (cmd_parse_ll(&ctx->argv[1], &ver) != 0) {
			reply_error(ctx->r, "Protocol version is not an integer or out of range");
			return;
		}
		if (ver < 2 || ver > 3) {
			reply_error_code(ctx->r, "NOPROTO", "unsupported protocol version");
			return;
		}
		j = 2;
	}
	for (; j < ctx->argc; j++) {
		size_t more = ctx->argc - 1 - j;
		const cmd_arg *opt = &ctx->argv[j];
		if (cmd_arg_is(opt, "auth") && more >= 2) {
			user = &ctx->argv[j + 1];
			pass = &ctx->argv[j + 2];
			j += 2;
		} else if (cmd_arg_is(opt, "setname") && more >= 1) {
			name = &ctx->argv[j + 1];
			if (!attr_is_valid(name)) {
				reply_error(ctx->r,
				            "Client names cannot contain spaces, newlines or "
				            "special characters.");
				return;
			}
			j++;
		} else {
			char tmp[129];
			reply_errorf(ctx->r, "Syntax error in HELLO option '%s'",
			             cmd_arg_for_error(opt, tmp));
			return;
		}
	}
	if (security_required(ctx->sec)) {
		if (user && !authenticate(ctx, user, pass))
			return;
		if (!user && !cl->authenticated) {
			reply_error_code(
			        ctx->r, "NOAUTH",
			        "HELLO must be called with the client already authenticated, "
			        "otherwise the HELLO <proto> AUTH <user> <pass> option can be "
			        "used to authenticate the client and select the RESP protocol "
			        "version at the same time");
			return;
		}
	} else if (user && !user_is_default(user)) {
		reply_wrongpass(ctx);
		return;
	}
	char *newname = NULL, *oldname = NULL;
	if (name && dup_arg(name, &newname) != 0) {
		reply_oom(ctx);
		return;
	}
	/* The name and the version change together, under the lock. */
	client_lock(cl);
	if (name) {
		oldname = cl->name;
		cl->name = newname;
	}
	if (ver)
		cl->resp = (int)ver;
	client_unlock(cl);
	free(oldname);
	if (ver && ctx->r->proto != PROTO_LINE)
		ctx->r->proto = ver == 3 ? PROTO_RESP3 : PROTO_RESP2;
	reply_map(ctx->r, 7);
	reply_bulk_cstr(ctx->r, "server");
	reply_bulk_cstr(ctx->r, "redis");
	reply_bulk_cstr(ctx->r, "version");
	reply_bulk_cstr(ctx->r, COMPAT_REDIS_VERSION);
	reply_bulk_cstr(ctx->r, "proto");
	reply_int(ctx->r, cl->resp);
	reply_bulk_cstr(ctx->r, "id");
	reply_int(ctx->r, (long long)cl->id);
	reply_bulk_cstr(ctx->r, "mode");
	reply_bulk_cstr(ctx->r, "standalone");
	reply_bulk_cstr(ctx->r, "role");
	reply_bulk_cstr(ctx->r, "master");
	reply_bulk_cstr(ctx->r, "modules");
	reply_array(ctx->r, 0);
}

/* ---- CLIENT ---- */

static void client_id(cmd_ctx *ctx)
{
	reply_int(ctx->r, (long long)ctx->client->id);
}

/* The owning thread is the only writer of the name: no lock to read it. */
static void client_getname(cmd_ctx *ctx)
{
	if (ctx->client->name)
		reply_bulk_cstr(ctx->r, ctx->client->name);
	else
		reply_null(ctx->r);
}

static void client_setname(cmd_ctx *ctx)
{
	const cmd_arg *name = &ctx->argv[2];
	if (!attr_is_valid(name)) {
		reply_error(ctx->r,
		            "Client names cannot contain spaces, newlines or special characters.");
		return;
	}
	if (client_set_str(ctx->client, &ctx->client->name, name) != 0) {
		reply_oom(ctx);
		return;
	}
	reply_status(ctx->r, "OK");
}

/* CLIENT SETINFO LIB-NAME|LIB-VER value: sent by redis-py and redis-cli 7.2
 * right after connecting; shown in CLIENT LIST. */
static void client_setinfo(cmd_ctx *ctx)
{
	const cmd_arg *attr = &ctx->argv[2], *val = &ctx->argv[3];
	char tmp[129];
	char **field;

	if (cmd_arg_is(attr, "lib-name")) {
		field = &ctx->client->lib_name;
	} else if (cmd_arg_is(attr, "lib-ver")) {
		field = &ctx->client->lib_ver;
	} else {
		reply_errorf(ctx->r, "Unrecognized option '%s'", cmd_arg_for_error(attr, tmp));
		return;
	}
	if (!attr_is_valid(val)) {
		reply_errorf(ctx->r, "%s cannot contain spaces, newlines or special characters.",
		             cmd_arg_for_error(attr, tmp));
		return;
	}
	if (client_set_str(ctx->client, field, val) != 0) {
		reply_oom(ctx);
		return;
	}
	reply_status(ctx->r, "OK");
}

/* The connection's own line needs no lock: this is its own thread. */
static void client_info(cmd_ctx *ctx)
{
	buf b;
	buf_init(&b);
	if (conn_client_format(ctx->client, &b) != 0)
		reply_oom(ctx);
	else
		reply_buf_verbatim(ctx, &b);
	buf_free(&b);
}

/* Appends the CLIENT LIST lines of every client, or of the one with only_id
 * (not 0). Without a server (unit tests) the caller is the only client. */
static int list_clients(cmd_ctx *ctx, buf *b, uint64_t only_id)
{
	if (ctx->srv)
		return server_client_list(ctx->srv, b, only_id);
	if (only_id == 0 || only_id == ctx->client->id)
		return conn_client_format(ctx->client, b);
	return 0;
}

/* CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|SLAVE|PUBSUB] [ID id ...]: every
 * client is of type normal; there are no replicas and no subscribers. */
static void client_list(cmd_ctx *ctx)
{
	char tmp[129];
	int none = 0;
	size_t nids = 0;

	if (ctx->argc == 4 && cmd_arg_is(&ctx->argv[2], "type")) {
		const cmd_arg *t = &ctx->argv[3];
		if (cmd_arg_is(t, "master") || cmd_arg_is(t, "replica") || cmd_arg_is(t, "slave") ||
		    cmd_arg_is(t, "pubsub")) {
			none = 1;
		} else if (!cmd_arg_is(t, "normal")) {
			reply_errorf(ctx->r, "Unknown client type '%s'", cmd_arg_for_error(t, tmp));
			return;
		}
	} else if (ctx->argc > 3 && cmd_arg_is(&ctx->argv[2], "id")) {
		/* All ids are checked before any is listed, so an invalid one
		 * leaves no half-built reply. */
		for (size_t i = 3; i < ctx->argc; i++) {
			long long id;
			if (cmd_parse_ll(&ctx->argv[i], &id) != 0) {
				reply_error(ctx->r, "Invalid client ID");
				return;
			}
		}
		nids = ctx->argc - 3;
	} else if (ctx->argc != 2) {
		reply_error(ctx->r, ERR_SYNTAX);
		return;
	}

	buf b;
	buf_init(&b);
	int rc = 0;
	if (nids) {
		for (size_t i = 3; i < ctx->argc && rc == 0; i++) {
			long long id;
			cmd_parse_ll(&ctx->argv[i], &id);
			/* Ids start at 1; 0 would mean "every client" below. */
			if (id > 0)
				rc = list_clients(ctx, &b, (uint64_t)id);
		}
	} else if (!none) {
		rc = list_clients(ctx, &b, 0);
	}
	if (rc != 0)
		reply_oom(ctx);
	else
		reply_buf_verbatim(ctx, &b);
	buf_free(&b);
}

/* CLIENT NO-EVICT and NO-TOUCH ON|OFF: accepted for compatibility. NO-EVICT
 * is what already happens (minidb never evicts clients). NO-TOUCH is not
 * honoured: reads still update a key's LRU/LFU access bits, since the store
 * has no way to skip that per call; it only affects which keys maxmemory
 * evicts first. */
static void client_on_off(cmd_ctx *ctx)
{
	if (cmd_arg_is(&ctx->argv[2], "on") || cmd_arg_is(&ctx->argv[2], "off"))
		reply_status(ctx->r, "OK");
	else
		reply_error(ctx->r, ERR_SYNTAX);
}

/* CLIENT REPLY ON is what every connection does. OFF and SKIP would need the
 * connection to drop replies, which it cannot yet; they are refused rather
 * than silently ignored, since a client sending them expects no reply. */
static void client_reply(cmd_ctx *ctx)
{
	const cmd_arg *mode = &ctx->argv[2];
	if (cmd_arg_is(mode, "on"))
		reply_status(ctx->r, "OK");
	else if (cmd_arg_is(mode, "off") || cmd_arg_is(mode, "skip"))
		reply_error(ctx->r, "CLIENT REPLY OFF and SKIP are not supported");
	else
		reply_error(ctx->r, ERR_SYNTAX);
}

static void client_help(cmd_ctx *ctx)
{
	static const char *const lines[] = {
	        "GETNAME",
	        "    Return the name of the current connection.",
	        "ID",
	        "    Return the ID of the current connection.",
	        "INFO",
	        "    Return information about the current client connection.",
	        "LIST [options ...]",
	        "    Return information about client connections. Options:",
	        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
	        "      Return clients of specified type.",
	        "    * ID <id> [<id> ...]",
	        "      Return the clients with these IDs.",
	        "REPLY ON",
	        "    Send replies to the current connection (the only mode supported).",
	        "SETNAME <name>",
	        "    Assign the name <name> to the current connection.",
	        "SETINFO <option> <value>",
	        "    Set client meta attr. Options are:",
	        "    * LIB-NAME: the client lib name.",
	        "    * LIB-VER: the client lib version.",
	        "NO-EVICT (ON|OFF)",
	        "    Accepted for compatibility: clients are never evicted.",
	        "NO-TOUCH (ON|OFF)",
	        "    Accepted for compatibility; reads still update access times.",
	        NULL,
	};
	cmd_reply_help(ctx, "CLIENT", lines);
}

static const cmd_subcommand client_subcommands[] = {
        {"getname", 2, client_getname}, {"help", 2, client_help},   {"id", 2, client_id},
        {"info", 2, client_info},       {"list", -2, client_list},  {"no-evict", 3, client_on_off},
        {"no-touch", 3, client_on_off}, {"reply", 3, client_reply}, {"setinfo", 4, client_setinfo},
        {"setname", 3, client_setname},
};

static void cmd_client_cmd(cmd_ctx *ctx)
{
	cmd_subcommand_run(ctx, "CLIENT", "client", client_subcommands,
	                   sizeof(client_subcommands) / sizeof(client_subcommands[0]));
}

/* Flags as Redis 7's (CMD_LOADING where Redis has "loading"). ECHO's
 * argument takes the rest of a line-protocol line: "ECHO hello world". */
static const command commands[] = {
        {"auth", -2, CMD_FAST | CMD_NOAUTH | CMD_LOADING, 0, cmd_auth, 0, 0, 0},
        {"client", -2, CMD_LOADING, 0, cmd_client_cmd, 0, 0, 0},
        {"echo", 2, CMD_FAST, 1, cmd_echo, 0, 0, 0},
        {"exit", 1, CMD_FAST | CMD_NOAUTH | CMD_LOADING, 0, cmd_quit, 0, 0, 0},
        {"hello", -1, CMD_FAST | CMD_NOAUTH | CMD_LOADING, 0, cmd_hello, 0, 0, 0},
        {"ping", -1, CMD_FAST, 0, cmd_ping, 0, 0, 0},
        {"quit", 1, CMD_FAST | CMD_NOAUTH | CMD_LOADING, 0, cmd_quit, 0, 0, 0},
};

const cmd_family cmd_conn_family = {commands, sizeof(commands) / sizeof(commands[0])};
