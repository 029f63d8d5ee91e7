/* cmd_harness.h - runs commands through the real command table against a
 * real store, without a server, for the command families' unit tests.
 *
 *   cmd_session *s = cmds_new(NULL);            // default limits
 *   const char *out = cmds_run(s, PROTO_RESP2, "SET", "k", "v", NULL);
 *   assert_string_equal(out, "+OK\r\n");
 *   out = cmds_runv(s, PROTO_RESP3, 2, argv, lens);  // binary arguments
 *   cmds_free(s);
 *
 * The returned text is owned by the session and valid until the next call.
 * Header-only (static functions) so each test binary stays one file.
 */
#ifndef MINIDB_TEST_CMD_HARNESS_H
#define MINIDB_TEST_CMD_HARNESS_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "command.h"
#include "config.h"
#include "reply.h"
#include "store.h"

typedef struct cmd_session {
	store_t *st;
	config cfg;
	cmd_client client;
	cmd_stats stats;
	buf out;
	unsigned out_flags;
	char *args[64];
	struct security *sec; /* NULL: authentication off; set by the test */
} cmd_session;

/* scfg may be NULL (default store limits). */
static inline cmd_session *cmds_new(const store_config *scfg)
{
	cmd_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->st = store_create(scfg);
	config_defaults(&s->cfg);
	s->client.id = 1;
	s->client.resp = 2;
	strcpy(s->client.peer, "127.0.0.1:50000");
	strcpy(s->client.local, "127.0.0.1:6379");
	buf_init(&s->out);
	return s;
}

static inline void cmds_free(cmd_session *s)
{
	store_free(s->st);
	config_free(&s->cfg);
	free(s->client.name);
	free(s->client.lib_name);
	free(s->client.lib_ver);
	buf_free(&s->out);
	free(s);
}

/* Runs argc arguments (binary-safe) and returns the reply as a NUL-terminated
 * string (embedded NULs possible: use cmds_len for the length). */
static inline const char *cmds_runv(cmd_session *s, enum reply_proto proto, size_t argc,
                                    const char *const argv[], const size_t lens[])
{
	cmd_arg av[64];
	buf_reset(&s->out, 1 << 20);
	if (argc > 64)
		argc = 64;
	for (size_t i = 0; i < argc; i++) {
		/* Handlers may not write to arguments, but they are char *. */
		av[i].p = (char *)argv[i];
		av[i].len = lens[i];
	}
	reply r = {.out = &s->out, .proto = proto};
	if (proto != PROTO_LINE)
		s->client.resp = proto;
	cmd_ctx ctx = {.store = s->st,
	               .argv = av,
	               .argc = argc,
	               .r = &r,
	               .client = &s->client,
	               .stats = &s->stats,
	               .srv = NULL,
	               .cfg = &s->cfg,
	               .sec = s->sec};
	command_dispatch(&ctx);
	s->out_flags = ctx.out_flags;
	buf_append_char(&s->out, 0);
	s->out.len--; /* keep the NUL outside the counted length */
	return buf_start(&s->out);
}

static inline size_t cmds_len(const cmd_session *s)
{
	return buf_used(&s->out);
}

/* NULL-terminated list of C-string arguments. */
static inline const char *cmds_run(cmd_session *s, enum reply_proto proto, ...)
{
	const char *argv[64];
	size_t lens[64], argc = 0;
	va_list ap;
	va_start(ap, proto);
	for (const char *a; argc < 64 && (a = va_arg(ap, const char *)) != NULL; argc++) {
		argv[argc] = a;
		lens[argc] = strlen(a);
	}
	va_end(ap);
	return cmds_runv(s, proto, argc, argv, lens);
}

#endif
