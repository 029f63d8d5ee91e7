/* test_auth.c - authentication against the real server (issue 6): every
 * command refused before AUTH over RESP and the line protocol, AUTH with
 * named tokens and the legacy security.auth_token, the original client's
 * per-command token form, read/write/admin permissions, redis-cli and HELLO 3
 * AUTH, per-address backoff, revocation on SIGHUP, and no secret in a debug
 * log. The JWT tests are in test_auth_jwt.c; what both share (fixture,
 * reply checks, helpers) is in auth_testlib.h.
 *
 * Tokens come from `minidb-cli hash-token --generate`; keys are generated at
 * test time; JWTs are signed by jwt_sign.h. Reply checks record a mismatch
 * and go on, so one run lists every difference from the contract; each test
 * fails at its end if there was any. Each test starts its own server, so one
 * test's failed attempts never put another in backoff.
 */
#include "command.h"
#include "auth_testlib.h"

/* ---- before AUTH ---- */

/* Arguments that would make cmd run if it were allowed: keys at its key
 * positions, "1" elsewhere, a real subcommand where it takes one. */
static size_t plausible_args(const command *cmd, const char *argv[], size_t cap)
{
	static const struct {
		const char *name;
		const char *args[4];
	} special[] = {
	        {"client", {"setname", "intruder"}},
	        {"config", {"set", "maxmemory", "1mb"}},
	        {"command", {"count"}},
	        {"shutdown", {"nosave"}},
	        {"scan", {"0"}},
	        {"select", {"0"}},
	        {"info", {"server"}},
	        {"keys", {"*"}},
	        {"debug", {"sleep", "0"}},
	};
	size_t n = 0;
	argv[n++] = cmd->name;
	for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
		if (strcmp(special[i].name, cmd->name) != 0)
			continue;
		for (size_t j = 0; j < 4 && special[i].args[j] != NULL && n < cap - 1; j++)
			argv[n++] = special[i].args[j];
		argv[n] = NULL;
		return n;
	}
	size_t want = cmd->arity > 0 ? (size_t)cmd->arity : (size_t)-cmd->arity;
	for (size_t i = 1; i < want && n < cap - 1; i++) {
		int is_key =
		        cmd->first_key > 0 && (int)i >= cmd->first_key &&
		        (cmd->last_key < 0 || (int)i <= cmd->last_key) &&
		        ((int)i - cmd->first_key) % (cmd->key_step > 0 ? cmd->key_step : 1) == 0;
		argv[n++] = is_key ? "noauth:key" : "1";
	}
	argv[n] = NULL;
	return n;
}

static int is_noauth_command(const char *name)
{
	return strcmp(name, "auth") == 0 || strcmp(name, "hello") == 0 ||
	       strcmp(name, "quit") == 0 || strcmp(name, "exit") == 0;
}

static void every_command_is_refused_before_auth_over_resp(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write,admin"}};
	start_with_tokens(f, toks, 1, NULL);
	mdb_conn *c = fx_conn(f);

	size_t ncmd;
	const command *table = command_table_get(&ncmd);
	size_t checked = 0;
	for (size_t i = 0; i < ncmd; i++) {
		const command *cmd = &table[i];
		if (cmd->flags & CMD_NOAUTH) {
			char what[80];
			snprintf(what, sizeof what,
			         "'%s' is CMD_NOAUTH, but only AUTH, HELLO, "
			         "QUIT and EXIT may run before AUTH",
			         cmd->name);
			CHECK_TRUE(is_noauth_command(cmd->name), what);
			continue;
		}
		CHECK_TRUE(!is_noauth_command(cmd->name), "AUTH/HELLO/QUIT/EXIT are CMD_NOAUTH");
		const char *argv[8];
		size_t argc = plausible_args(cmd, argv, 8);
		size_t lens[8];
		for (size_t j = 0; j < argc; j++)
			lens[j] = strlen(argv[j]);
		mdb_reply r;
		if (mdb_resp_call(c, argc, argv, lens, &r) != 0) {
			mdb_reply_free(&r);
			fail_msg("no reply to '%s' before AUTH (did it run?)", cmd->name);
		}
		char *got = mdb_reply_render(&r);
		mdb_reply_free(&r);
		char what[80];
		snprintf(what, sizeof what, "'%s' before AUTH", cmd->name);
		check_at(got, NOAUTH_RESP, 0, what, __FILE__, __LINE__);
		checked++;
	}
	print_message("%zu commands of the table refused before AUTH\n", checked);
	assert_true(checked >= 40);

	/* The four that are allowed answer for themselves. */
	EXPECT(c, "-" HELLO_NOAUTH, "HELLO");
	EXPECT(c, "-" HELLO_NOAUTH, "HELLO", "3");
	EXPECT(c, "-" HELLO_NOAUTH, "HELLO", "2", "SETNAME", "x");
	EXPECT(c, WRONGPASS, "AUTH", "not-the-token");
	/* Still RESP2 and unauthenticated after all of it. */
	EXPECT(c, NOAUTH_RESP, "PING");
	EXPECT(c, NOAUTH_RESP, "DBSIZE");

	/* Nothing ran: no key, no name, no config change, the server is up. */
	mdb_conn *ok = fx_conn(f);
	EXPECT(ok, "+OK", "AUTH", toks[0].token);
	EXPECT(ok, ":0", "DBSIZE");
	EXPECT(ok, "nil", "CLIENT", "GETNAME");
	EXPECT(c, "+OK", "AUTH", toks[0].token);
	EXPECT(c, "nil", "CLIENT", "GETNAME");
	mdb_conn *line = fx_conn(f);
	EXPECT_LINE(line, "PING", NOAUTH_LINE);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "AUTH %s", toks[0].token);
	EXPECT_LINE(line, cmd, "OK");
	EXPECT_LINE(line, "CONFIG GET maxmemory", "maxmemory 0");
	checks_done();

	/* QUIT and EXIT work unauthenticated: +OK, then the server closes. */
	const char *quits[] = {"QUIT", "EXIT"};
	for (size_t i = 0; i < 2; i++) {
		mdb_conn *q = fx_conn(f);
		EXPECT(q, "+OK", quits[i]);
		CHECK_TRUE(wait_eof(q, MDB_IO_TIMEOUT_MS), "QUIT/EXIT before AUTH closes");
	}
	checks_done();
}

static void every_command_is_refused_before_auth_over_the_line_protocol(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write,admin"}};
	start_with_tokens(f, toks, 1, NULL);
	mdb_conn *c = fx_conn(f);

	size_t ncmd;
	const command *table = command_table_get(&ncmd);
	size_t checked = 0;
	for (size_t i = 0; i < ncmd; i++) {
		const command *cmd = &table[i];
		if (cmd->flags & CMD_NOAUTH)
			continue; /* the RESP test checks which they are */
		const char *argv[8];
		size_t argc = plausible_args(cmd, argv, 8);
		char line[256];
		size_t n = 0;
		for (size_t j = 0; j < argc; j++)
			n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", j ? " " : "",
			                      argv[j]);
		EXPECT_LINE(c, line, NOAUTH_LINE);
		checked++;
	}
	assert_true(checked >= 40);
	/* HELLO's own refusal, in the line protocol's error form (as NOPERM). */
	EXPECT_LINE(c, "HELLO", "ERROR: " HELLO_NOAUTH);
	EXPECT_LINE(c, "HELLO 3", "ERROR: " HELLO_NOAUTH);
	EXPECT_LINE(c, "AUTH not-the-token", AUTH_FAILED);
	EXPECT_LINE(c, "LOOKUP noauth:key", NOAUTH_LINE);

	mdb_conn *ok = fx_conn(f);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "AUTH %s", toks[0].token);
	EXPECT_LINE(ok, cmd, "OK");
	EXPECT_LINE(ok, "DBSIZE", "0");
	EXPECT_LINE(ok, "CONFIG GET maxmemory", "maxmemory 0");
	EXPECT_LINE(c, "QUIT", "OK");
	CHECK_TRUE(wait_eof(c, MDB_IO_TIMEOUT_MS), "QUIT before AUTH closes the connection");
	checks_done();
}

/* ---- AUTH ---- */

static void auth_with_a_wrong_token_fails_and_the_right_one_opens_the_connection(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write"}};
	start_with_tokens(f, toks, 1, NULL);
	const char *tok = toks[0].token;

	mdb_conn *c = fx_conn(f);
	EXPECT(c, WRONGPASS, "AUTH", "wrong-token");
	EXPECT(c, NOAUTH_RESP, "GET", "k");
	EXPECT(c, "+OK", "AUTH", tok);
	EXPECT(c, "+OK", "SET", "k", "v");
	EXPECT(c, "$v", "GET", "k");
	EXPECT(c, "+PONG", "PING");
	/* A failed AUTH on an authenticated connection keeps it as it was (as
	 * Redis does). */
	EXPECT(c, WRONGPASS, "AUTH", "wrong-token");
	EXPECT(c, "$v", "GET", "k");
	char *info = client_info(c);
	CHECK_TRUE(strstr(info, " user=app ") != NULL || strstr(info, " user=app\n") != NULL,
	           "CLIENT INFO of a named-token connection shows user=app");
	if (strstr(info, "user=app") == NULL)
		print_error("CLIENT INFO: %s\n", info);
	free(info);

	char *list = mdb_call_at(c, __FILE__, __LINE__, "CLIENT", "LIST", (const char *)NULL);
	CHECK_TRUE(strstr(list, " user=app ") != NULL, "CLIENT LIST shows user=app");
	free(list);

	mdb_conn *l = fx_conn(f);
	char cmd[256];
	EXPECT_LINE(l, "AUTH wrong-token", AUTH_FAILED);
	EXPECT_LINE(l, "LOOKUP k", NOAUTH_LINE);
	snprintf(cmd, sizeof cmd, "AUTH %s", tok);
	EXPECT_LINE(l, cmd, "OK");
	EXPECT_LINE(l, "LOOKUP k", "v");
	EXPECT_LINE(l, "SET k2 a value with spaces", "OK");
	EXPECT(c, "$a value with spaces", "GET", "k2");
	checks_done();
}

static void auth_with_a_user_name_accepts_default_and_the_token_name_only(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write"},
	                 {.name = "other", .perms = "read"}};
	start_with_tokens(f, toks, 2, NULL);
	const char *tok = toks[0].token;

	mdb_conn *c1 = fx_conn(f);
	EXPECT(c1, "+OK", "AUTH", "default", tok);
	EXPECT(c1, "+OK", "SET", "k", "v");
	char *info = client_info(c1);
	CHECK_TRUE(strstr(info, "user=app") != NULL, "AUTH default <app token> is user app");
	free(info);

	mdb_conn *c2 = fx_conn(f);
	EXPECT(c2, "+OK", "AUTH", "app", tok);
	EXPECT(c2, "$v", "GET", "k");

	mdb_conn *c3 = fx_conn(f);
	EXPECT(c3, WRONGPASS, "AUTH", "other", tok); /* another token's name */
	EXPECT(c3, WRONGPASS, "AUTH", "nobody", tok);
	EXPECT(c3, NOAUTH_RESP, "GET", "k");
	EXPECT(c3, "+OK", "AUTH", "other", toks[1].token); /* clears the failures */
	EXPECT(c3, "$v", "GET", "k");

	mdb_conn *l = fx_conn(f);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "AUTH nobody %s", tok);
	EXPECT_LINE(l, cmd, AUTH_FAILED);
	snprintf(cmd, sizeof cmd, "AUTH app %s", tok);
	EXPECT_LINE(l, cmd, "OK");
	EXPECT_LINE(l, "LOOKUP k", "v");
	checks_done();
}

static void auth_without_auth_enabled_says_no_password_is_configured(void **state)
{
	fx *f = *state;
	fx_start(f, NULL);
	mdb_conn *c = fx_conn(f);
	EXPECT(c,
	       "-ERR AUTH <password> called without any password configured for the default "
	       "user. Are you sure your configuration is correct?",
	       "AUTH", "some-token");
	EXPECT(c, "+OK", "SET", "k", "v");
	checks_done();
}

static void a_pbkdf2_token_line_from_minidb_cli_hash_token_authenticates(void **state)
{
	fx *f = *state;
	/* A token a person chose (spaces and all), hashed with the default slow
	 * KDF, read from stdin as an operator would pipe it in. */
	char token[96] = "correct horse battery staple ";
	random_hex(token + strlen(token), 8);
	char input[128];
	snprintf(input, sizeof input, "%s\n", token);
	const char *cli = mdb_binary_path("MINIDB_CLI", "minidb-cli");
	mdb_proc res;
	assert_int_equal(mdb_run(ARGS(cli, "hash-token"), input, strlen(input),
	                         mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), &res),
	                 0);
	assert_int_equal(res.status, 0);
	assert_true(strncmp(res.out, "pbkdf2-sha256$", 14) == 0);
	assert_null(strstr(res.out, token));
	assert_null(strstr(res.err, token));
	tokdef t = {.name = "person", .perms = "read,write"};
	assert_true(strlen(res.out) < sizeof t.hash);
	memcpy(t.hash, res.out, strcspn(res.out, "\n"));
	mdb_proc_free(&res);
	char *cfg = write_config(f, "minidb.yaml", &t, 1, NULL, NULL);
	fx_start(f, ARGS("--config", cfg));
	free(cfg);

	mdb_conn *c = fx_conn(f);
	EXPECT(c, WRONGPASS, "AUTH", "correct horse battery staple");
	EXPECT(c, "+OK", "AUTH", token);
	EXPECT(c, "+OK", "SET", "k", "v");
	mdb_conn *c2 = fx_conn(f);
	EXPECT(c2, "+OK", "AUTH", "person", token);
	EXPECT(c2, "$v", "GET", "k");
	checks_done();
}

/* AUTH with binary arguments of given lengths on a fresh connection: the
 * reply must start with want; then the connection is still unauthenticated
 * and good still works (clearing the failure count). */
static void expect_hostile_at(fx *f, const char *tok, size_t len, const char *want,
                              const char *good, const char *what, const char *file, int line)
{
	mdb_conn *c = fx_conn(f);
	const char *argv[] = {"AUTH", tok};
	const size_t lens[] = {4, len};
	mdb_reply r;
	int rc = mdb_resp_call(c, 2, argv, lens, &r);
	char *got = rc == 0 ? mdb_reply_render(&r) : NULL;
	mdb_reply_free(&r);
	if (got != NULL && strlen(got) > 200)
		got[200] = '\0';
	check_at(got, want, 1, what, file, line);
	check_at(mdb_call_at(c, file, line, "GET", "k", (const char *)NULL), NOAUTH_RESP, 0,
	         "GET after a hostile AUTH", file, line);
	check_at(mdb_call_at(c, file, line, "AUTH", good, (const char *)NULL), "+OK", 0,
	         "AUTH with the good token after a hostile one", file, line);
	fx_close(f, c);
}

#define EXPECT_HOSTILE(f, tok, len, want, good)                                                    \
	expect_hostile_at((f), (tok), (len), (want), (good), #tok, __FILE__, __LINE__)

static void hostile_auth_arguments_are_refused_cleanly(void **state)
{
	fx *f = *state;
	char secret[65];
	random_hex(secret, 32);
	tokdef toks[] = {{.name = "app", .perms = "read,write"}};
	gen_token(&toks[0]);
	char *cfg = write_config(f, "minidb.yaml", toks, 1, NULL, secret);
	fx_start(f, ARGS("--config", cfg));
	free(cfg);
	const char *good = toks[0].token;

	/* Longer than any token (4096) and than any JWT (8192): refused before
	 * hashing or decoding, the connection kept. */
	size_t big = 1u << 20;
	char *huge = malloc(big + 1);
	assert_non_null(huge);
	memset(huge, 'a', big);
	huge[big] = '\0';
	EXPECT_HOSTILE(f, huge, big, "-WRONGPASS", good);
	memcpy(huge, "eyJ", 3);
	huge[big / 2] = '.';
	huge[big / 2 + 1] = '.';
	EXPECT_HOSTILE(f, huge, big, "-WRONGPASS", good);
	/* The right token with a NUL and more after it; the empty token. */
	char nul[200];
	size_t gl = strlen(good);
	memcpy(nul, good, gl);
	nul[gl] = '\0';
	memcpy(nul + gl + 1, "tail", 4);
	EXPECT_HOSTILE(f, nul, gl + 5, "-WRONGPASS", good);
	EXPECT_HOSTILE(f, "", 0, "-WRONGPASS", good);
	/* Things shaped like a JWT that are not one. */
	const char *fakes[] = {
	        "eyJ..",
	        "eyJhbGciOiJIUzI1NiJ9..",
	        "eyJhbGciOiJIUzI1NiJ9.eyJ9.AAAA",
	        "eyJub3QganNvbg.eyJzdWIiOiJ4In0.c2ln",
	        "eyJhbGciOiJIUzI1NiJ9.!!!.sig",
	        "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.e30.c2ln", /* crit */
	        "eyJ\xff\xfe.\x01\x02.\x80",
	};
	for (size_t i = 0; i < sizeof fakes / sizeof fakes[0]; i++)
		EXPECT_HOSTILE(f, fakes[i], strlen(fakes[i]), "-WRONGPASS", good);
	/* Arity: too many arguments is a syntax error, not a crash. */
	mdb_conn *c = fx_conn(f);
	EXPECT_PREFIX(c, "-ERR", "AUTH", "a", "b", "c");
	EXPECT(c, "+OK", "AUTH", good);
	EXPECT(c, "+PONG", "PING");
	/* The line protocol: a long token line. */
	mdb_conn *l = fx_conn(f);
	char *cmd = malloc(100008);
	assert_non_null(cmd);
	memcpy(cmd, "AUTH ", 5);
	memset(cmd + 5, 'x', 100000);
	cmd[100005] = '\0';
	EXPECT_LINE_PREFIX(l, cmd, "ERROR: Authentication failed");
	free(cmd);
	free(huge);
	checks_done();
}

/* ---- redis-cli and HELLO 3 AUTH ---- */

/* Runs redis-cli -p PORT args...; fails the test if it cannot run. */
static void run_redis_cli(const fx *f, const char *cli, const char *const args[], mdb_proc *res)
{
	char port[16];
	const char *argv[24];
	size_t n = 0;
	snprintf(port, sizeof port, "%d", f->s->port);
	argv[n++] = cli;
	argv[n++] = "-p";
	argv[n++] = port;
	for (size_t i = 0; args[i] != NULL && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(mdb_run(argv, NULL, 0, mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), res), 0);
}

#define EXPECT_CLI(f, cli, want, ...)                                                              \
	expect_cli_at((f), (cli), ARGS(__VA_ARGS__), (want), #__VA_ARGS__, __FILE__, __LINE__)

static void expect_cli_at(const fx *f, const char *cli, const char *const args[], const char *want,
                          const char *what, const char *file, int line)
{
	mdb_proc res;
	run_redis_cli(f, cli, args, &res);
	if (res.status != 0 || strcmp(res.out, want) != 0) {
		print_error(
		        "%s:%d: MISMATCH redis-cli %s: expected status 0 and stdout \"%s\", got "
		        "status %d, stdout \"%s\", stderr \"%s\"\n",
		        file, line, what, want, res.status, res.out, res.err);
		mismatches++;
	}
	mdb_proc_free(&res);
}

static void redis_cli_authenticates_with_a_and_with_user_and_pass(void **state)
{
	fx *f = *state;
	char *cli = mdb_which("redis-cli");
	if (cli == NULL) {
		print_message("redis-cli not found (install redis-tools): skipped\n");
		skip();
	}
	tokdef toks[] = {{.name = "app", .perms = "read,write"}};
	start_with_tokens(f, toks, 1, NULL);
	const char *tok = toks[0].token;

	EXPECT_CLI(f, cli, "OK\n", "-a", tok, "--no-auth-warning", "SET", "rc:k", "v 1");
	EXPECT_CLI(f, cli, "v 1\n", "--user", "app", "--pass", tok, "--no-auth-warning", "GET",
	           "rc:k");
	EXPECT_CLI(f, cli, "v 1\n", "--user", "default", "--pass", tok, "--no-auth-warning", "GET",
	           "rc:k");
	/* -3: redis-cli 7.0 sends AUTH, then HELLO 3. */
	EXPECT_CLI(f, cli, "v 1\n", "-3", "-a", tok, "--no-auth-warning", "GET", "rc:k");
	EXPECT_CLI(f, cli, "NOAUTH Authentication required.\n\n", "GET", "rc:k");

	mdb_proc res;
	run_redis_cli(f, cli, ARGS("-a", "not-the-token", "--no-auth-warning", "GET", "rc:k"),
	              &res);
	CHECK_TRUE(strcmp(res.out, "NOAUTH Authentication required.\n\n") == 0,
	           "redis-cli -a <wrong> GET: the GET is refused");
	CHECK_TRUE(strstr(res.err, "AUTH failed: " WRONGPASS_MSG) != NULL,
	           "redis-cli -a <wrong> reports AUTH failed: WRONGPASS ...");
	if (mismatches)
		print_error("redis-cli -a wrong: stdout \"%s\", stderr \"%s\"\n", res.out, res.err);
	mdb_proc_free(&res);
	free(cli);
	checks_done();
}

static void hello_3_auth_authenticates_and_switches_to_resp3(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write"}};
	start_with_tokens(f, toks, 1, NULL);
	const char *tok = toks[0].token;

	mdb_conn *c = fx_conn(f);
	send_resp(c, ARGS("HELLO", "3", "AUTH", "app", tok));
	char *proto = NULL;
	char *top = resp3_read(c, "proto", &proto);
	assert_non_null(top);
	CHECK_TRUE(strcmp(top, "%7") == 0, "HELLO 3 AUTH replies with a RESP3 map of 7");
	CHECK_TRUE(proto != NULL && strcmp(proto, ":3") == 0, "HELLO 3 AUTH: proto is 3");
	if (strcmp(top, "%7") != 0 || proto == NULL || strcmp(proto, ":3") != 0)
		print_error("HELLO 3 AUTH: got %s, proto %s\n", top, proto ? proto : "(none)");
	free(top);
	free(proto);
	EXPECT(c, "+OK", "SET", "k", "v");
	send_resp(c, ARGS("GET", "missing"));
	char *null = resp3_read(c, NULL, NULL);
	assert_non_null(null);
	CHECK_TRUE(strcmp(null, "_") == 0, "after HELLO 3 AUTH a missing key is the RESP3 null");
	free(null);

	mdb_conn *bad = fx_conn(f);
	EXPECT(bad, WRONGPASS, "HELLO", "3", "AUTH", "app", "not-the-token");
	EXPECT(bad, NOAUTH_RESP, "GET", "k");
	EXPECT(bad, "*14", "HELLO", "2", "AUTH", "default", tok); /* RESP2: a flat array */
	EXPECT(bad, "$v", "GET", "k");
	checks_done();
}

/* ---- permissions ---- */

static void a_read_only_token_can_read_but_not_write(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "writer", .perms = "read,write"},
	                 {.name = "reader", .perms = "read"}};
	start_with_tokens(f, toks, 2, NULL);
	mdb_conn *w = fx_conn(f);
	EXPECT(w, "+OK", "AUTH", toks[0].token);
	EXPECT(w, "+OK", "SET", "k", "v");

	mdb_conn *r = fx_conn(f);
	EXPECT(r, "+OK", "AUTH", toks[1].token);
	EXPECT(r, "$v", "GET", "k");
	EXPECT(r, ":1", "EXISTS", "k");
	EXPECT(r, ":1", "DBSIZE");
	EXPECT(r, "+PONG", "PING");
	EXPECT(r, NOPERM("reader", "set", "write"), "SET", "k", "v2");
	EXPECT(r, NOPERM("reader", "del", "write"), "DEL", "k");
	EXPECT(r, NOPERM("reader", "expire", "write"), "EXPIRE", "k", "10");
	EXPECT(r, NOPERM("reader", "incr", "write"), "INCR", "n");
	EXPECT(r, NOPERM("reader", "flushall", "admin"), "FLUSHALL");
	char *info = client_info(r);
	CHECK_TRUE(strstr(info, "user=reader") != NULL, "CLIENT INFO shows user=reader");
	free(info);

	mdb_conn *l = fx_conn(f);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "AUTH %s", toks[1].token);
	EXPECT_LINE(l, cmd, "OK");
	EXPECT_LINE(l, "SET k v3", "ERROR: " NOPERM_MSG("reader", "set", "write"));
	EXPECT_LINE(l, "DEL k", "ERROR: " NOPERM_MSG("reader", "del", "write"));
	EXPECT_LINE(l, "LOOKUP k", "v");

	/* Nothing changed. */
	EXPECT(w, "$v", "GET", "k");
	EXPECT(w, ":-1", "TTL", "k");
	EXPECT(w, ":1", "DBSIZE");
	checks_done();
}

static void a_read_write_token_cannot_run_admin_commands(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "writer", .perms = "read,write"}};
	start_with_tokens(f, toks, 1, NULL);
	mdb_conn *w = fx_conn(f);
	EXPECT(w, "+OK", "AUTH", toks[0].token);
	EXPECT(w, "+OK", "SET", "k", "v");
	EXPECT(w, NOPERM("writer", "flushall", "admin"), "FLUSHALL");
	EXPECT(w, NOPERM("writer", "flushdb", "admin"), "FLUSHDB");
	EXPECT(w, NOPERM("writer", "config", "admin"), "CONFIG", "SET", "maxmemory", "1mb");
	EXPECT(w, NOPERM("writer", "config", "admin"), "CONFIG", "GET", "maxmemory");
	EXPECT(w, NOPERM("writer", "save", "admin"), "SAVE");
	EXPECT(w, NOPERM("writer", "bgsave", "admin"), "BGSAVE");
	EXPECT(w, NOPERM("writer", "shutdown", "admin"), "SHUTDOWN", "NOSAVE");
	EXPECT(w, NOPERM("writer", "shutdown", "admin"), "SHUTDOWN");
	/* Still up, nothing flushed, maxmemory unchanged. */
	EXPECT(w, "+PONG", "PING");
	EXPECT(w, ":1", "DBSIZE");
	EXPECT(w, "$v", "GET", "k");
	checks_done();
}

static void an_admin_token_can_run_admin_commands_and_admin_alone_grants_nothing_else(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "root", .perms = "admin,read,write"},
	                 {.name = "ops", .perms = "admin"}};
	start_with_tokens(f, toks, 2, NULL);
	mdb_conn *root = fx_conn(f);
	EXPECT(root, "+OK", "AUTH", toks[0].token);
	EXPECT(root, "+OK", "SET", "k", "v");
	EXPECT(root, "+OK", "CONFIG", "SET", "maxmemory", "100mb");
	EXPECT(root, "+OK", "SAVE");
	EXPECT(root, "+OK", "FLUSHALL");
	EXPECT(root, ":0", "DBSIZE");
	EXPECT(root, "+OK", "SET", "k", "v");

	mdb_conn *ops = fx_conn(f);
	EXPECT(ops, "+OK", "AUTH", toks[1].token);
	EXPECT(ops, "+OK", "CONFIG", "SET", "maxmemory", "0");
	EXPECT(ops, NOPERM("ops", "get", "read"), "GET", "k");
	EXPECT(ops, NOPERM("ops", "set", "write"), "SET", "k", "v2");
	EXPECT(ops, "+PONG", "PING");
	EXPECT(ops, "$x", "ECHO", "x");
	EXPECT(ops, "+OK", "FLUSHDB");
	EXPECT(root, ":0", "DBSIZE");
	checks_done();

	/* SHUTDOWN by an admin token stops the server cleanly. */
	send_resp(root, ARGS("SHUTDOWN", "NOSAVE"));
	CHECK_TRUE(wait_eof(root, MDB_STOP_TIMEOUT_MS), "SHUTDOWN closes the connection");
	int st = mdb_wait_exit(f->s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS));
	f->stopped = 1;
	CHECK_TRUE(st == 0, "SHUTDOWN NOSAVE by an admin token: the server exits 0");
	checks_done();
}

/* ---- the original client's per-command token, the legacy auth_token ---- */

static void the_original_clients_per_command_token_works_without_authenticating(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write"},
	                 {.name = "reader", .perms = "read"}};
	start_with_tokens(f, toks, 2, NULL);
	const char *app = toks[0].token, *reader = toks[1].token;
	mdb_conn *l = fx_conn(f);
	char cmd[512];

	snprintf(cmd, sizeof cmd, "SET %s greeting hello big  world", app);
	EXPECT_LINE(l, cmd, "OK");
	snprintf(cmd, sizeof cmd, "LOOKUP %s greeting", app);
	EXPECT_LINE(l, cmd, "hello big  world");
	snprintf(cmd, sizeof cmd, "SET %s \"quoted key\" \"v\\n2\"", app);
	EXPECT_LINE(l, cmd, "OK");
	snprintf(cmd, sizeof cmd, "LOOKUP %s \"quoted key\"", app);
	EXPECT_LINE(l, cmd, "\"v\\n2\"");
	/* The connection itself is still not authenticated. */
	EXPECT_LINE(l, "LOOKUP greeting", NOAUTH_LINE);
	EXPECT_LINE(l, "SET greeting x", NOAUTH_LINE);
	/* A wrong token: refused, nothing stored. */
	EXPECT_LINE(l, "SET not-the-token other some value", AUTH_FAILED);
	snprintf(cmd, sizeof cmd, "LOOKUP %s other", app);
	EXPECT_LINE(l, cmd, "NOT FOUND");
	/* Permissions hold in this form too. */
	snprintf(cmd, sizeof cmd, "SET %s greeting overwritten", reader);
	EXPECT_LINE(l, cmd, "ERROR: " NOPERM_MSG("reader", "set", "write"));
	snprintf(cmd, sizeof cmd, "LOOKUP %s greeting", reader);
	EXPECT_LINE(l, cmd, "hello big  world");
	EXPECT_LINE(l, "LOOKUP greeting", NOAUTH_LINE);

	/* Line protocol only: over RESP it is just an unauthenticated SET. */
	mdb_conn *c = fx_conn(f);
	EXPECT(c, NOAUTH_RESP, "SET", app, "k", "v");

	mdb_conn *a = fx_conn(f);
	EXPECT(a, "+OK", "AUTH", app);
	EXPECT(a, ":2", "DBSIZE");
	EXPECT(a, ":0", "EXISTS", app);
	EXPECT(a, "$hello big  world", "GET", "greeting");
	checks_done();
}

static void the_legacy_auth_token_works_with_auth_and_per_command(void **state)
{
	fx *f = *state;
	char legacy[80] = "legacy-";
	random_hex(legacy + 7, 24);
	start_with_tokens(f, NULL, 0, legacy);

	mdb_conn *c = fx_conn(f);
	EXPECT(c, NOAUTH_RESP, "GET", "k");
	EXPECT(c, "+OK", "AUTH", legacy);
	EXPECT(c, "+OK", "SET", "k", "v");
	char *info = client_info(c);
	CHECK_TRUE(strstr(info, "user=default") != NULL, "the legacy token is user default");
	free(info);
	mdb_conn *c2 = fx_conn(f);
	EXPECT(c2, "+OK", "AUTH", "default", legacy);
	EXPECT(c2, "$v", "GET", "k");

	mdb_conn *l = fx_conn(f);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "SET %s k2 value two", legacy);
	EXPECT_LINE(l, cmd, "OK");
	snprintf(cmd, sizeof cmd, "LOOKUP %s k2", legacy);
	EXPECT_LINE(l, cmd, "value two");
	EXPECT_LINE(l, "LOOKUP k2", NOAUTH_LINE);
	snprintf(cmd, sizeof cmd, "AUTH %s", legacy);
	EXPECT_LINE(l, cmd, "OK");
	EXPECT_LINE(l, "LOOKUP k2", "value two");
	/* Every permission, admin included. */
	EXPECT(c, "+OK", "FLUSHALL");
	EXPECT(c2, ":0", "DBSIZE");
	checks_done();
}

/* ---- backoff ---- */

static void failed_auths_from_an_address_are_slowed_and_a_success_clears_them(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write"}};
	start_with_tokens(f, toks, 1, NULL);
	const char *tok = toks[0].token;

	/* Pipelined, so the fourth attempt lands well inside the first wait:
	 * three failures are free, the right token is then refused unchecked. */
	mdb_conn *c = fx_conn(f);
	for (int i = 0; i < 3; i++)
		send_resp(c, ARGS("AUTH", "not-the-token"));
	send_resp(c, ARGS("AUTH", tok));
	for (int i = 0; i < 3; i++)
		check_at(read_reply(c), WRONGPASS, 0, "AUTH wrong (free)", __FILE__, __LINE__);
	char *r = read_reply(c);
	long wait = retry_ms(r);
	CHECK_TRUE(strncmp(r, BACKOFF_RESP, strlen(BACKOFF_RESP)) == 0 && wait > 0,
	           "the 4th attempt is refused with 'retry in N ms', even with the right token");
	if (wait <= 0)
		print_error("4th attempt: \"%s\"\n", r);
	free(r);
	EXPECT(c, NOAUTH_RESP, "GET", "k");

	/* Each checked failure after the free ones doubles the wait; grow it to
	 * at least 1.6 s so the next checks surely land inside it. */
	for (int round = 0; round < 6 && wait < 1600; round++) {
		mdb_sleep_ms((int)(wait > 0 ? wait : 100) + 30);
		EXPECT(c, WRONGPASS, "AUTH", "not-the-token");
		char *again = mdb_call_at(c, __FILE__, __LINE__, "AUTH", tok, (const char *)NULL);
		wait = retry_ms(again);
		if (wait <= 0) {
			print_error("MISMATCH: AUTH right after a counted failure: \"%s\"\n",
			            again);
			mismatches++;
			free(again);
			break;
		}
		free(again);
	}
	CHECK_TRUE(wait >= 1600, "the wait doubles per failure past the free ones");

	/* Inside the wait: refused on a new connection too, and in the line
	 * protocol, and the per-command form; another source address is not. */
	long long t0 = mdb_now_ms();
	mdb_conn *c2 = fx_conn(f);
	EXPECT_PREFIX(c2, BACKOFF_RESP, "AUTH", tok);
	mdb_conn *l = fx_conn(f);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "AUTH %s", tok);
	EXPECT_LINE_PREFIX(l, cmd, BACKOFF_LINE);
	snprintf(cmd, sizeof cmd, "LOOKUP %s k", tok);
	EXPECT_LINE_PREFIX(l, cmd, BACKOFF_LINE);
	mdb_conn *other = fx_conn_from(f, "127.0.0.2");
	EXPECT(other, "+OK", "AUTH", tok);
	EXPECT(other, "+OK", "SET", "k", "v");
	if (mdb_now_ms() - t0 >= wait)
		print_message(
		        "note: the in-wait checks took %lld ms, longer than the %ld ms wait\n",
		        mdb_now_ms() - t0, wait);

	/* After the wait the right token works, and clears the count. */
	mdb_sleep_ms((int)wait + 50);
	EXPECT(c, "+OK", "AUTH", tok);
	EXPECT(c, "$v", "GET", "k");
	mdb_conn *c3 = fx_conn(f);
	EXPECT(c3, WRONGPASS, "AUTH", "not-the-token");
	EXPECT(c3, "+OK", "AUTH", tok);
	checks_done();
}

/* ---- revocation ---- */

static void sighup_revokes_removed_and_changed_tokens_and_closes_their_connections(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "keep", .perms = "read,write"},
	                 {.name = "gone", .perms = "read,write"},
	                 {.name = "rotated", .perms = "read,write"},
	                 {.name = "demoted", .perms = "read,write"}};
	for (size_t i = 0; i < 4; i++)
		gen_token(&toks[i]);
	char *cfg = write_config(f, "minidb.yaml", toks, 4, NULL, NULL);
	fx_start(f, ARGS("--config", cfg));

	mdb_conn *keep = fx_conn(f), *gone = fx_conn(f), *rotated = fx_conn(f),
	         *demoted = fx_conn(f);
	EXPECT(keep, "+OK", "AUTH", toks[0].token);
	EXPECT(gone, "+OK", "AUTH", toks[1].token);
	EXPECT(rotated, "+OK", "AUTH", toks[2].token);
	EXPECT(demoted, "+OK", "AUTH", toks[3].token);
	EXPECT(keep, "+OK", "SET", "k", "v");
	/* A per-command connection whose check of "gone" is remembered. */
	mdb_conn *l = fx_conn(f);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "LOOKUP %s k", toks[1].token);
	EXPECT_LINE(l, cmd, "v");
	checks_done();

	/* "gone" removed, "rotated" given a new token, "demoted" read only. */
	tokdef next[] = {toks[0], {.name = "rotated", .perms = "read,write"}, toks[3]};
	next[2].perms = "read";
	gen_token(&next[1]);
	int before = mdb_log_contains(f->s, "credentials revoked") ? 1 : 0;
	free(write_config(f, "minidb.yaml", next, 3, NULL, NULL));
	assert_int_equal(mdb_signal(f->s, SIGHUP), 0);

	/* Their connections are closed by the server, without sending anything. */
	mdb_conn *revoked[] = {gone, rotated, demoted};
	const char *why[] = {
	        "the connection of a removed token is closed after SIGHUP",
	        "the connection of a token whose hash changed is closed after SIGHUP",
	        "the connection of a token whose permissions changed is closed after SIGHUP"};
	for (size_t i = 0; i < 3; i++) {
		int closed = wait_eof(revoked[i], MDB_IO_TIMEOUT_MS);
		CHECK_TRUE(closed, why[i]);
		if (closed)
			continue;
		/* For the report: what the next write on it gets. */
		char *r = mdb_call_at(revoked[i], __FILE__, __LINE__, "SET", "k2", "x",
		                      (const char *)NULL);
		print_message("(still open: the next SET got \"%s\"; closed after it: %s)\n", r,
		              wait_eof(revoked[i], 1000) ? "yes" : "no");
		free(r);
	}
	CHECK_TRUE(!before && mdb_log_contains(f->s, "credentials revoked"),
	           "the log says \"credentials revoked\"");
	EXPECT(keep, "$v", "GET", "k");
	mdb_conn *n = fx_conn(f);
	EXPECT(n, WRONGPASS, "AUTH", toks[1].token);
	EXPECT(n, WRONGPASS, "AUTH", toks[2].token);
	EXPECT(n, "+OK", "AUTH", next[1].token); /* clears the two failures */
	EXPECT(n, "$v", "GET", "k");
	mdb_conn *d = fx_conn(f);
	EXPECT(d, "+OK", "AUTH", toks[3].token);
	EXPECT(d, NOPERM("demoted", "set", "write"), "SET", "k", "x");
	/* The per-command connection is not closed (it never authenticated) but
	 * its remembered token is checked again. */
	EXPECT_LINE(l, cmd, AUTH_FAILED);
	snprintf(cmd, sizeof cmd, "LOOKUP %s k", toks[0].token);
	EXPECT_LINE(l, cmd, "v");
	EXPECT(keep, ":0", "EXISTS", "k2");
	free(cfg);
	checks_done();
}

static void sighup_turning_auth_on_closes_connections_that_never_authenticated(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write"}};
	gen_token(&toks[0]);
	char *cfg = write_config(f, "minidb.yaml", toks, 1, NULL, NULL);
	/* The same file with auth off. */
	char *off = mdb_read_file(cfg, NULL);
	assert_non_null(off);
	char *on = strstr(off, "auth_enabled: true");
	assert_non_null(on);
	memcpy(on, "auth_enabled: off ", 18);
	free(fx_write(f, "minidb.yaml", off));
	fx_start(f, ARGS("--config", cfg));

	mdb_conn *plain = fx_conn(f), *authed = fx_conn(f);
	EXPECT(plain, "+OK", "SET", "k", "v");
	EXPECT(authed, "+OK", "AUTH", "default", "anything"); /* auth off: as Redis */
	free(write_config(f, "minidb.yaml", toks, 1, NULL, NULL));
	assert_int_equal(mdb_signal(f->s, SIGHUP), 0);
	CHECK_TRUE(wait_eof(plain, MDB_IO_TIMEOUT_MS),
	           "turning auth on by SIGHUP closes a connection that never authenticated");
	CHECK_TRUE(wait_eof(authed, MDB_IO_TIMEOUT_MS),
	           "... and one that only sent AUTH while auth was off");
	mdb_conn *c = fx_conn(f);
	EXPECT(c, NOAUTH_RESP, "GET", "k");
	EXPECT(c, "+OK", "AUTH", toks[0].token);
	EXPECT(c, "$v", "GET", "k");
	free(off);
	free(cfg);
	checks_done();
}

/* ---- logs ---- */

/* Records a mismatch when the server's log contains secret. */
static void check_not_logged_at(const fx *f, const char *secret, const char *what, const char *file,
                                int line)
{
	if (mdb_log_contains(f->s, secret)) {
		print_error("%s:%d: MISMATCH the log contains %s\n", file, line, what);
		mismatches++;
	}
}

#define CHECK_NOT_LOGGED(f, secret) check_not_logged_at((f), (secret), #secret, __FILE__, __LINE__)

static void no_token_or_secret_reaches_the_log_even_at_debug_level(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "app", .perms = "read,write"}};
	gen_token(&toks[0]);
	char legacy[80] = "legacy-";
	random_hex(legacy + 7, 24);
	char secret[65];
	hs_secret(secret);
	char *cfg = write_config(f, "minidb.yaml", toks, 1, legacy, secret);
	fx_start(f, ARGS("--config", cfg, "--log-level", "debug"));
	const char *tok = toks[0].token;
	char wrong[80] = "wrong-";
	random_hex(wrong + 6, 24);

	char *cl = good_claims("alice", "minidb:read minidb:write");
	char *jwt = jwt_make(JWT_SIGN_HS256, NULL, cl, NULL, secret, strlen(secret));
	char *bad_cl = good_claims("mallory", "minidb:admin");
	char *bad_jwt = jwt_tamper(jwt, bad_cl);

	mdb_conn *c = fx_conn(f);
	EXPECT(c, WRONGPASS, "AUTH", wrong);
	EXPECT(c, "+OK", "AUTH", tok);
	EXPECT(c, "+OK", "AUTH", "app", tok);
	EXPECT(c, "+OK", "AUTH", legacy);
	EXPECT_PREFIX(c, JWT_REFUSED, "AUTH", bad_jwt);
	EXPECT(c, "+OK", "AUTH", jwt);
	mdb_conn *h = fx_conn(f);
	send_resp(h, ARGS("HELLO", "3", "AUTH", "app", tok));
	free(resp3_read(h, NULL, NULL));
	mdb_conn *l = fx_conn(f);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "SET %s k value", legacy);
	EXPECT_LINE(l, cmd, "OK");
	snprintf(cmd, sizeof cmd, "LOOKUP %s k", wrong);
	EXPECT_LINE(l, cmd, AUTH_FAILED);
	snprintf(cmd, sizeof cmd, "LOOKUP %s k", tok);
	EXPECT_LINE(l, cmd, "value");
	/* A reload logs too. */
	assert_int_equal(mdb_signal(f->s, SIGHUP), 0);
	mdb_sleep_ms(300);
	EXPECT(c, "+PONG", "PING");

	/* The log was written (so it is the right one to search). */
	CHECK_TRUE(mdb_log_contains(f->s, "\"level\":\"debug\""), "the server logs at debug level");
	CHECK_TRUE(mdb_log_contains(f->s, "authentication failed"),
	           "failed attempts are logged (without the token)");
	CHECK_NOT_LOGGED(f, tok);
	CHECK_NOT_LOGGED(f, wrong);
	CHECK_NOT_LOGGED(f, legacy);
	CHECK_NOT_LOGGED(f, secret);
	CHECK_NOT_LOGGED(f, jwt);
	CHECK_NOT_LOGGED(f, bad_jwt);
	/* Nor any part of a JWT: the signature, or the payload on its own. */
	const char *sig = strrchr(jwt, '.') + 1;
	CHECK_NOT_LOGGED(f, sig);
	char *payload =
	        strndup(strchr(jwt, '.') + 1, (size_t)(strrchr(jwt, '.') - strchr(jwt, '.') - 1));
	CHECK_NOT_LOGGED(f, payload);
	if (mismatches)
		mdb_print_log(f->s);
	free(payload);
	free(cfg);
	free(cl);
	free(jwt);
	free(bad_cl);
	free(bad_jwt);
	checks_done();
}

/* ---- main ---- */

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(every_command_is_refused_before_auth_over_resp),
	        T(every_command_is_refused_before_auth_over_the_line_protocol),
	        T(auth_with_a_wrong_token_fails_and_the_right_one_opens_the_connection),
	        T(auth_with_a_user_name_accepts_default_and_the_token_name_only),
	        T(auth_without_auth_enabled_says_no_password_is_configured),
	        T(a_pbkdf2_token_line_from_minidb_cli_hash_token_authenticates),
	        T(hostile_auth_arguments_are_refused_cleanly),
	        T(redis_cli_authenticates_with_a_and_with_user_and_pass),
	        T(hello_3_auth_authenticates_and_switches_to_resp3),
	        T(a_read_only_token_can_read_but_not_write),
	        T(a_read_write_token_cannot_run_admin_commands),
	        T(an_admin_token_can_run_admin_commands_and_admin_alone_grants_nothing_else),
	        T(the_original_clients_per_command_token_works_without_authenticating),
	        T(the_legacy_auth_token_works_with_auth_and_per_command),
	        T(failed_auths_from_an_address_are_slowed_and_a_success_clears_them),
	        T(sighup_revokes_removed_and_changed_tokens_and_closes_their_connections),
	        T(sighup_turning_auth_on_closes_connections_that_never_authenticated),
	        T(no_token_or_secret_reaches_the_log_even_at_debug_level),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
