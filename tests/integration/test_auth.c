/* test_auth.c - authentication against the real server (issue 6): every
 * command refused before AUTH over RESP and the line protocol, AUTH with
 * named tokens and the legacy security.auth_token, the original client's
 * per-command token form, read/write/admin permissions, redis-cli and HELLO 3
 * AUTH, JWTs (HS256, RS256 from a PEM key, ES256 from a JWKS picked by kid,
 * every refusal, expiry while connected), per-address backoff, revocation on
 * SIGHUP, and no secret in a debug log.
 *
 * Tokens come from `minidb-cli hash-token --generate`; keys are generated at
 * test time; JWTs are signed by jwt_sign.h. Reply checks record a mismatch
 * and go on, so one run lists every difference from the contract; each test
 * fails at its end if there was any. Each test starts its own server, so one
 * test's failed attempts never put another in backoff.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "command.h"
#include "harness.h"
#include "jwt_sign.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

#define NOAUTH_RESP   "-NOAUTH Authentication required."
#define NOAUTH_LINE   "ERROR: Authentication required"
#define WRONGPASS_MSG "WRONGPASS invalid username-password pair or user is disabled."
#define WRONGPASS     "-" WRONGPASS_MSG
#define AUTH_FAILED   "ERROR: Authentication failed"
#define JWT_REFUSED   "-WRONGPASS invalid token: jwt: "
#define JWT_REFUSED_L "ERROR: Authentication failed: jwt: "
#define BACKOFF_RESP  "-ERR too many failed authentication attempts from this address; retry in "
#define BACKOFF_LINE  "ERROR: too many failed authentication attempts from this address; retry in "
#define HELLO_NOAUTH                                                                               \
	"NOAUTH HELLO must be called with the client already authenticated, otherwise the "        \
	"HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "      \
	"select the RESP protocol version at the same time"

/* JWT refusal reasons, as the contract words them (after "jwt: "). */
#define JWT_EXPIRED  "expired"
#define JWT_BAD_SIG  "bad signature"
#define JWT_ALG_NONE "alg none is not accepted"

#define ISSUER   "https://idp.test"
#define AUDIENCE "minidb"

/* ---- reply checks that record a mismatch and go on ---- */

static int mismatches;

/* Compares got (owned, freed here) with want; records and prints a
 * mismatch. A missing reply (closed, timeout) fails the test at once. */
static void check_at(char *got, const char *want, int prefix, const char *what, const char *file,
                     int line)
{
	if (got == NULL) {
		print_error("%s:%d: %s: expected \"%s\", got no reply (closed or timed out)\n",
		            file, line, what, want);
		_fail(file, line);
		return;
	}
	int ok = prefix ? strncmp(got, want, strlen(want)) == 0 : strcmp(got, want) == 0;
	if (!ok) {
		print_error("%s:%d: MISMATCH %s: expected %s\"%s\", got \"%s\"\n", file, line, what,
		            prefix ? "a reply starting with " : "", want, got);
		mismatches++;
	}
	free(got);
}

/* Records a mismatch unless cond holds. */
static void check_true_at(int cond, const char *what, const char *file, int line)
{
	if (!cond) {
		print_error("%s:%d: MISMATCH %s\n", file, line, what);
		mismatches++;
	}
}

#define CHECK_TRUE(cond, what) check_true_at((cond), (what), __FILE__, __LINE__)

/* A RESP command of string arguments whose rendered reply must be want. */
#define EXPECT(c, want, ...)                                                                       \
	check_at(mdb_call_at((c), __FILE__, __LINE__, __VA_ARGS__, (const char *)NULL), (want), 0, \
	         #__VA_ARGS__, __FILE__, __LINE__)
/* The same, the reply starting with want. */
#define EXPECT_PREFIX(c, want, ...)                                                                \
	check_at(mdb_call_at((c), __FILE__, __LINE__, __VA_ARGS__, (const char *)NULL), (want), 1, \
	         #__VA_ARGS__, __FILE__, __LINE__)
/* A line-protocol command whose reply line must be want. */
#define EXPECT_LINE(c, cmd, want)                                                                  \
	check_at(mdb_cmd((c), (cmd)), (want), 0, (cmd), __FILE__, __LINE__)
#define EXPECT_LINE_PREFIX(c, cmd, want)                                                           \
	check_at(mdb_cmd((c), (cmd)), (want), 1, (cmd), __FILE__, __LINE__)

/* Fails the test when any check of it mismatched. */
static void checks_done(void)
{
	int n = mismatches;
	mismatches = 0;
	if (n > 0)
		fail_msg("%d reply mismatch(es), listed above", n);
}

/* ---- JWTs: the signer of jwt_sign.h, failing the test on error ---- */

/* Test keys, generated once for the file. */
static EVP_PKEY *rsa_a, *rsa_b, *ec_a, *ec_b;

/* Fails the test when a signer helper returned NULL. */
static char *need(char *p)
{
	assert_non_null(p);
	return p;
}

static char *jwt_make(jwt_sign_alg alg, const char *kid, const char *claims, EVP_PKEY *key,
                      const void *secret, size_t secret_len)
{
	return need(jwt_sign_token(alg, kid, claims, key, secret, secret_len));
}

static char *jwt_tamper(const char *token, const char *claims)
{
	return need(jwt_sign_tamper(token, claims));
}

static char *pem_public(EVP_PKEY *key)
{
	return need(jwt_sign_pem_public(key));
}

static char *jwk(EVP_PKEY *key, const char *kid)
{
	return need(jwt_sign_jwk(key, kid));
}

/* JSON claims; NULL strings and 0 times are left out. malloc'd. */
static char *claims_json(const char *sub, const char *iss, const char *aud, long long exp,
                         long long nbf, const char *scope)
{
	char text[1024];
	size_t n = (size_t)snprintf(text, sizeof text, "{\"iat\":%lld", mdb_unix_ms() / 1000 - 5);
	if (sub != NULL)
		n += (size_t)snprintf(text + n, sizeof text - n, ",\"sub\":\"%s\"", sub);
	if (iss != NULL)
		n += (size_t)snprintf(text + n, sizeof text - n, ",\"iss\":\"%s\"", iss);
	if (aud != NULL)
		n += (size_t)snprintf(text + n, sizeof text - n, ",\"aud\":\"%s\"", aud);
	if (exp != 0)
		n += (size_t)snprintf(text + n, sizeof text - n, ",\"exp\":%lld", exp);
	if (nbf != 0)
		n += (size_t)snprintf(text + n, sizeof text - n, ",\"nbf\":%lld", nbf);
	if (scope != NULL)
		n += (size_t)snprintf(text + n, sizeof text - n, ",\"scope\":\"%s\"", scope);
	assert_true(n + 2 < sizeof text);
	snprintf(text + n, sizeof text - n, "}");
	return strdup(text);
}

static long long now_s(void)
{
	return mdb_unix_ms() / 1000;
}

/* Valid claims for the test issuer and audience, an hour to live. */
static char *good_claims(const char *sub, const char *scope)
{
	return claims_json(sub, ISSUER, AUDIENCE, now_s() + 3600, 0, scope);
}

/* n random bytes as 2n hex digits, NUL-terminated in out. */
static void random_hex(char *out, size_t n)
{
	unsigned char b[64];
	assert_true(n <= sizeof b);
	assert_int_equal(RAND_bytes(b, (int)n), 1);
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- fixture: a temp dir, the server, connections ---- */

typedef struct fx {
	char *dir; /* config, keys and secrets of this test */
	mdb_server *s;
	mdb_conn *conns[32];
	size_t nconns;
	int stopped; /* the test stopped the server itself */
} fx;

static int fx_setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	f->dir = mdb_temp_dir();
	if (f->dir == NULL) {
		free(f);
		return -1;
	}
	mismatches = 0;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	fx *f = *state;
	int rc = 0;
	for (size_t i = 0; i < f->nconns; i++)
		mdb_conn_close(f->conns[i]);
	if (f->s != NULL) {
		int st = mdb_stop(f->s);
		if (st != 0 && !f->stopped) {
			print_error("server exit status %d (log above)\n", st);
			rc = -1;
		}
	}
	mdb_remove_tree(f->dir);
	free(f->dir);
	free(f);
	mismatches = 0;
	return rc;
}

/* A path in the test's dir, malloc'd. */
static char *fx_path(const fx *f, const char *name)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
	return p;
}

/* Writes text to name in the test's dir through a rename, so a reload never
 * reads half a file. Returns the path, malloc'd. */
static char *fx_write(const fx *f, const char *name, const char *text)
{
	char *path = fx_path(f, name);
	char *tmp = NULL;
	assert_true(asprintf(&tmp, "%s.tmp", path) > 0);
	assert_int_equal(mdb_write_file(tmp, text, strlen(text)), 0);
	assert_int_equal(rename(tmp, path), 0);
	free(tmp);
	return path;
}

static mdb_conn *fx_conn(fx *f)
{
	assert_true(f->nconns < sizeof f->conns / sizeof f->conns[0]);
	mdb_conn *c = mdb_open_ok(f->s);
	f->conns[f->nconns++] = c;
	return c;
}

/* Closes c early (it stays listed, closed once). */
static void fx_close(fx *f, mdb_conn *c)
{
	for (size_t i = 0; i < f->nconns; i++) {
		if (f->conns[i] == c) {
			mdb_conn_close(c);
			f->conns[i] = f->conns[--f->nconns];
			return;
		}
	}
}

/* A connection to the server from source address src (another loopback
 * address), with the harness's timeouts. */
static mdb_conn *fx_conn_from(fx *f, const char *src)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	int ms = mdb_timeout_ms(MDB_IO_TIMEOUT_MS);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, src, &sa.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	sa.sin_port = htons((uint16_t)f->s->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	mdb_conn *c = mdb_conn_wrap(fd);
	assert_non_null(c);
	assert_true(f->nconns < sizeof f->conns / sizeof f->conns[0]);
	f->conns[f->nconns++] = c;
	return c;
}

/* Starts the server with the harness's flags plus args. */
static void fx_start(fx *f, const char *const args[])
{
	f->s = mdb_start_ok(args);
}

/* ---- tokens and config files ---- */

typedef struct tokdef {
	const char *name;
	const char *perms;
	char token[128];
	char hash[300];
} tokdef;

/* Fills t->token and t->hash with `minidb-cli hash-token --generate`, the
 * documented way to make a token. */
static void gen_token(tokdef *t)
{
	const char *cli = mdb_binary_path("MINIDB_CLI", "minidb-cli");
	mdb_proc res;
	assert_int_equal(mdb_run(ARGS(cli, "hash-token", "--generate"), NULL, 0,
	                         mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), &res),
	                 0);
	if (res.status != 0)
		fail_msg("minidb-cli hash-token --generate: status %d, stderr %s", res.status,
		         res.err);
	char *nl = strchr(res.out, '\n');
	assert_non_null(nl);
	assert_true((size_t)(nl - res.out) < sizeof t->token);
	memcpy(t->token, res.out, (size_t)(nl - res.out));
	t->token[nl - res.out] = '\0';
	char *nl2 = strchr(nl + 1, '\n');
	assert_non_null(nl2);
	assert_true((size_t)(nl2 - nl - 1) < sizeof t->hash);
	memcpy(t->hash, nl + 1, (size_t)(nl2 - nl - 1));
	t->hash[nl2 - nl - 1] = '\0';
	assert_true(strncmp(t->hash, "sha256$", 7) == 0);
	mdb_proc_free(&res);
}

/* A config file (YAML) turning auth on with the named tokens, and
 * optionally the legacy auth_token and an HS256 jwt_secret. malloc'd path. */
static char *write_config(const fx *f, const char *name, const tokdef *toks, size_t ntoks,
                          const char *legacy, const char *jwt_secret)
{
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof text, "security:\n  auth_enabled: true\n");
	if (legacy != NULL)
		n += (size_t)snprintf(text + n, sizeof text - n, "  auth_token: \"%s\"\n", legacy);
	if (jwt_secret != NULL)
		n += (size_t)snprintf(text + n, sizeof text - n, "  jwt_secret: \"%s\"\n",
		                      jwt_secret);
	if (ntoks > 0)
		n += (size_t)snprintf(text + n, sizeof text - n, "  tokens:\n");
	for (size_t i = 0; i < ntoks; i++)
		n += (size_t)snprintf(text + n, sizeof text - n,
		                      "    - name: %s\n      hash: \"%s\"\n      permissions: %s\n",
		                      toks[i].name, toks[i].hash, toks[i].perms);
	assert_true(n < sizeof text);
	return fx_write(f, name, text);
}

/* Starts a server with a config of toks (and the legacy token) only. */
static void start_with_tokens(fx *f, tokdef *toks, size_t ntoks, const char *legacy)
{
	for (size_t i = 0; i < ntoks; i++)
		gen_token(&toks[i]);
	char *cfg = write_config(f, "minidb.yaml", toks, ntoks, legacy, NULL);
	fx_start(f, ARGS("--config", cfg));
	free(cfg);
}

/* ---- RESP helpers ---- */

/* Reads one RESP2/RESP3 value: scalars rendered as text ("+OK", ":3",
 * "$value", "_"), aggregates as their type and length after their elements
 * were read ("%7", "*0"). For a top-level map, the value of key want_key is
 * copied into found. malloc'd, NULL on EOF or error. */
static char *resp3_read(mdb_conn *c, const char *want_key, char **found)
{
	char *line = NULL;
	long n = mdb_read_line(c, &line);
	if (n < 1) {
		free(line);
		return NULL;
	}
	if (line[n - 1] == '\r')
		line[--n] = '\0';
	char type = line[0];
	if (type == '$' && atol(line + 1) >= 0) {
		char *body = NULL;
		long m = mdb_read_line(c, &body);
		if (m < 0) {
			free(line);
			return NULL;
		}
		if (m > 0 && body[m - 1] == '\r')
			body[m - 1] = '\0';
		char *out = NULL;
		if (asprintf(&out, "$%s", body) < 0)
			out = NULL;
		free(body);
		free(line);
		return out;
	}
	if (type == '*' || type == '%' || type == '~' || type == '>') {
		long count = atol(line + 1);
		long elems = type == '%' ? 2 * count : count;
		char *key = NULL;
		for (long i = 0; i < elems; i++) {
			char *e = resp3_read(c, NULL, NULL);
			if (e == NULL) {
				free(key);
				free(line);
				return NULL;
			}
			if (type == '%' && i % 2 == 0) {
				free(key);
				key = e;
				continue;
			}
			if (type == '%' && want_key != NULL && found != NULL && key != NULL &&
			    strcmp(key + 1, want_key) == 0) {
				free(*found);
				*found = e;
			} else {
				free(e);
			}
		}
		free(key);
	}
	return line;
}

/* Sends one RESP command of string arguments without reading its reply. */
static void send_resp(mdb_conn *c, const char *const argv[])
{
	mdb_buf b = {0};
	size_t n = 0, lens[16];
	while (argv[n] != NULL) {
		assert_true(n < 16);
		lens[n] = strlen(argv[n]);
		n++;
	}
	assert_int_equal(mdb_resp_encode(&b, n, argv, lens), 0);
	assert_int_equal(mdb_send_all(c->fd, b.p, b.len), 0);
	free(b.p);
}

/* Reads one RESP reply and renders it; fails the test if none comes. */
static char *read_reply(mdb_conn *c)
{
	mdb_reply r;
	int rc = mdb_resp_read(c, &r);
	char *s = rc == 0 ? mdb_reply_render(&r) : NULL;
	mdb_reply_free(&r);
	if (s == NULL)
		fail_msg("no reply (closed or timed out)");
	return s;
}

/* The line of CLIENT LIST for this connection (CLIENT INFO), rendered. */
static char *client_info(mdb_conn *c)
{
	return mdb_call_at(c, __FILE__, __LINE__, "CLIENT", "INFO", (const char *)NULL);
}

/* Waits up to base_ms (scaled) for the server to close c, draining and
 * printing any reply lines that arrive first. 1 when it closed. */
static int wait_eof(mdb_conn *c, int base_ms)
{
	long long deadline = mdb_now_ms() + mdb_timeout_ms(base_ms);
	for (;;) {
		long long left = deadline - mdb_now_ms();
		if (left <= 0)
			return 0;
		int r = mdb_wait_closed(c, (int)left);
		if (r == 1)
			return 1;
		if (r < 0)
			return 0;
		char *line = NULL;
		long n = mdb_read_line(c, &line);
		if (n >= 0)
			print_message("(before the close the server sent \"%s\")\n", line);
		free(line);
		if (n == MDB_EOF)
			return 1;
	}
}

/* The number N in a reply "... retry in N ms", or -1. */
static long retry_ms(const char *msg)
{
	const char *p = strstr(msg, "retry in ");
	if (p == NULL)
		return -1;
	char *end;
	long v = strtol(p + 9, &end, 10);
	return end != p + 9 && strcmp(end, " ms") == 0 ? v : -1;
}

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

#define NOPERM_MSG(name, cmd, perm)                                                                \
	"NOPERM this token ('" name "') may not run '" cmd "': it needs the " perm " permission"
#define NOPERM(name, cmd, perm) "-" NOPERM_MSG(name, cmd, perm)

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

/* ---- JWT ---- */

/* A random HS256 secret: 64 hex digits (32 bytes of entropy). */
static void hs_secret(char out[65])
{
	random_hex(out, 32);
}

/* Sends AUTH bad on a fresh connection and expects want; checks that the
 * connection stays unauthenticated; then AUTHs with good, which clears the
 * address's failure count so the next case is not in backoff. */
static void expect_refused_at(fx *f, const char *bad, const char *good, const char *want,
                              int prefix, const char *what, const char *file, int line)
{
	mdb_conn *c = fx_conn(f);
	check_at(mdb_call_at(c, file, line, "AUTH", bad, (const char *)NULL), want, prefix, what,
	         file, line);
	check_at(mdb_call_at(c, file, line, "GET", "k", (const char *)NULL), NOAUTH_RESP, 0,
	         "GET after a refused JWT", file, line);
	check_at(mdb_call_at(c, file, line, "AUTH", good, (const char *)NULL), "+OK", 0,
	         "AUTH with the good token after a refused one", file, line);
	fx_close(f, c);
}

#define EXPECT_REFUSED(f, bad, good, want)                                                         \
	expect_refused_at((f), (bad), (good), (want), 0, #bad, __FILE__, __LINE__)
/* The same, for a refusal whose reason is not pinned down. */
#define EXPECT_REFUSED_ANY(f, bad, good)                                                           \
	expect_refused_at((f), (bad), (good), JWT_REFUSED, 1, #bad, __FILE__, __LINE__)

static void a_hs256_jwt_signed_with_the_configured_secret_is_accepted_with_its_scope(void **state)
{
	fx *f = *state;
	char secret[65];
	hs_secret(secret);
	char *cfg = write_config(f, "minidb.yaml", NULL, 0, NULL, secret);
	fx_start(f, ARGS("--config", cfg, "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE));
	free(cfg);

	char *cl = good_claims("alice", "minidb:read minidb:write");
	char *tok = jwt_make(JWT_SIGN_HS256, NULL, cl, NULL, secret, strlen(secret));
	mdb_conn *c = fx_conn(f);
	EXPECT(c, NOAUTH_RESP, "GET", "k");
	EXPECT(c, "+OK", "AUTH", tok);
	EXPECT(c, "+OK", "SET", "k", "v");
	EXPECT(c, "$v", "GET", "k");
	EXPECT(c, NOPERM("jwt:alice", "flushall", "admin"), "FLUSHALL");
	char *info = client_info(c);
	CHECK_TRUE(strstr(info, "user=jwt:alice") != NULL, "CLIENT INFO shows user=jwt:alice");
	if (strstr(info, "user=jwt:alice") == NULL)
		print_error("CLIENT INFO: %s\n", info);
	free(info);

	/* The user name is ignored for a JWT. */
	mdb_conn *c2 = fx_conn(f);
	EXPECT(c2, "+OK", "AUTH", "whoever", tok);
	EXPECT(c2, "$v", "GET", "k");

	/* The line protocol. */
	mdb_conn *l = fx_conn(f);
	char *cmd = NULL;
	assert_true(asprintf(&cmd, "AUTH %s", tok) > 0);
	EXPECT_LINE(l, cmd, "OK");
	EXPECT_LINE(l, "LOOKUP k", "v");
	free(cmd);

	/* Only what the scope grants: read alone, and admin among other words. */
	char *rcl = good_claims("bob", "minidb:read");
	char *rtok = jwt_make(JWT_SIGN_HS256, NULL, rcl, NULL, secret, strlen(secret));
	mdb_conn *r = fx_conn(f);
	EXPECT(r, "+OK", "AUTH", rtok);
	EXPECT(r, "$v", "GET", "k");
	EXPECT(r, NOPERM("jwt:bob", "set", "write"), "SET", "k", "v2");
	char *acl = good_claims("carol", "openid profile minidb:admin minidb:read minidb:write");
	char *atok = jwt_make(JWT_SIGN_HS256, NULL, acl, NULL, secret, strlen(secret));
	mdb_conn *a = fx_conn(f);
	EXPECT(a, "+OK", "AUTH", atok);
	EXPECT(a, "+OK", "FLUSHALL");
	EXPECT(c, ":0", "DBSIZE");
	/* No scope at all: authenticated with no permission, so only the
	 * commands that need none (PING, ECHO, CLIENT, COMMAND) run. */
	char *ncl = good_claims("dave", NULL);
	char *ntok = jwt_make(JWT_SIGN_HS256, NULL, ncl, NULL, secret, strlen(secret));
	mdb_conn *z = fx_conn(f);
	EXPECT(z, "+OK", "AUTH", ntok);
	EXPECT(z, "+PONG", "PING");
	EXPECT(z, "$hi", "ECHO", "hi");
	EXPECT_PREFIX(z, ":", "COMMAND", "COUNT");
	EXPECT_PREFIX(z, ":", "CLIENT", "ID");
	EXPECT(z, NOPERM("jwt:dave", "get", "read"), "GET", "k");
	EXPECT(z, NOPERM("jwt:dave", "set", "write"), "SET", "k", "v");
	free(ncl);
	free(ntok);
	free(cl);
	free(tok);
	free(rcl);
	free(rtok);
	free(acl);
	free(atok);
	checks_done();
}

static void the_scope_claim_its_prefix_and_the_exp_requirement_are_configurable(void **state)
{
	fx *f = *state;
	char secret[65];
	random_hex(secret, 32);
	char *secret_path = fx_write(f, "jwt.secret", secret);
	fx_start(f, ARGS("--auth", "--jwt-secret-file", secret_path, "--jwt-scope-claim", "roles",
	                 "--jwt-scope-prefix", "db:", "--jwt-require-exp=false"));
	size_t sl = strlen(secret);

	/* An array claim under the configured name and prefix; no exp. The
	 * default claim's words mean nothing here. */
	char *rw = jwt_make(JWT_SIGN_HS256, NULL,
	                    "{\"sub\":\"svc\",\"roles\":[\"db:read\",\"db:write\",\"other:admin\"],"
	                    "\"scope\":\"minidb:admin db-admin\"}",
	                    NULL, secret, sl);
	mdb_conn *c = fx_conn(f);
	EXPECT(c, "+OK", "AUTH", rw);
	EXPECT(c, "+OK", "SET", "k", "v");
	EXPECT(c, NOPERM("jwt:svc", "flushall", "admin"), "FLUSHALL");
	char *old = jwt_make(JWT_SIGN_HS256, NULL,
	                     "{\"sub\":\"old\",\"scope\":\"minidb:read minidb:write\"}", NULL,
	                     secret, sl);
	mdb_conn *o = fx_conn(f);
	EXPECT(o, "+OK", "AUTH", old);
	EXPECT(o, NOPERM("jwt:old", "get", "read"), "GET", "k");
	EXPECT(o, "+PONG", "PING");
	free(secret_path);
	free(rw);
	free(old);
	checks_done();
}

static void
an_rs256_jwt_verified_with_a_pem_key_is_accepted_and_algorithm_confusion_is_refused(void **state)
{
	fx *f = *state;
	char *pem = pem_public(rsa_a);
	char *pem_path = fx_write(f, "rsa.pem", pem);
	fx_start(f, ARGS("--auth", "--jwt-public-key-file", pem_path, "--jwt-issuer", ISSUER,
	                 "--jwt-audience", AUDIENCE));

	char *cl = good_claims("svc", "minidb:read minidb:write");
	char *good = jwt_make(JWT_SIGN_RS256, NULL, cl, rsa_a, NULL, 0);
	mdb_conn *c = fx_conn(f);
	EXPECT(c, "+OK", "AUTH", good);
	EXPECT(c, "+OK", "SET", "k", "v");

	/* HS256 keyed with the public key's PEM bytes: algorithm confusion. */
	char *confused = jwt_make(JWT_SIGN_HS256, NULL, cl, NULL, pem, strlen(pem));
	EXPECT_REFUSED_ANY(f, confused, good);
	char *none = jwt_make(JWT_SIGN_NONE, NULL, cl, NULL, NULL, 0);
	EXPECT_REFUSED(f, none, good, JWT_REFUSED JWT_ALG_NONE);
	char *other_key = jwt_make(JWT_SIGN_RS256, NULL, cl, rsa_b, NULL, 0);
	EXPECT_REFUSED(f, other_key, good, JWT_REFUSED JWT_BAD_SIG);
	char *admin = good_claims("svc", "minidb:read minidb:write minidb:admin");
	char *tampered = jwt_tamper(good, admin);
	EXPECT_REFUSED(f, tampered, good, JWT_REFUSED JWT_BAD_SIG);
	EXPECT(c, "$v", "GET", "k");
	free(pem);
	free(pem_path);
	free(cl);
	free(good);
	free(confused);
	free(none);
	free(other_key);
	free(admin);
	free(tampered);
	checks_done();
}

static void an_es256_jwt_is_verified_with_the_jwks_key_its_kid_names(void **state)
{
	fx *f = *state;
	char *k1 = jwk(ec_a, "ec-1"), *k2 = jwk(ec_b, "ec-2"), *k3 = jwk(rsa_a, "rsa-1");
	char *jwks = NULL;
	assert_true(asprintf(&jwks, "{\"keys\":[%s,%s,%s]}", k1, k2, k3) > 0);
	char *path = fx_write(f, "jwks.json", jwks);
	fx_start(f, ARGS("--auth", "--jwt-jwks-file", path, "--jwt-issuer", ISSUER,
	                 "--jwt-audience", AUDIENCE));

	char *cl = good_claims("svc", "minidb:read minidb:write");
	char *t2 = jwt_make(JWT_SIGN_ES256, "ec-2", cl, ec_b, NULL, 0);
	char *t1 = jwt_make(JWT_SIGN_ES256, "ec-1", cl, ec_a, NULL, 0);
	char *tr = jwt_make(JWT_SIGN_RS256, "rsa-1", cl, rsa_a, NULL, 0);
	mdb_conn *c = fx_conn(f);
	EXPECT(c, "+OK", "AUTH", t2);
	EXPECT(c, "+OK", "SET", "k", "v");
	mdb_conn *c1 = fx_conn(f);
	EXPECT(c1, "+OK", "AUTH", t1);
	EXPECT(c1, "$v", "GET", "k");
	mdb_conn *c3 = fx_conn(f);
	EXPECT(c3, "+OK", "AUTH", tr);
	EXPECT(c3, "$v", "GET", "k");

	/* Signed by key 2 but naming key 1; naming no key of the set. */
	char *wrong_kid = jwt_make(JWT_SIGN_ES256, "ec-1", cl, ec_b, NULL, 0);
	EXPECT_REFUSED(f, wrong_kid, t2, JWT_REFUSED JWT_BAD_SIG);
	char *unknown_kid = jwt_make(JWT_SIGN_ES256, "ec-9", cl, ec_b, NULL, 0);
	EXPECT_REFUSED(f, unknown_kid, t2, JWT_REFUSED "unknown key id");
	free(k1);
	free(k2);
	free(k3);
	free(jwks);
	free(path);
	free(cl);
	free(t1);
	free(t2);
	free(tr);
	free(wrong_kid);
	free(unknown_kid);
	checks_done();
}

static void jwts_failing_a_claim_or_signature_check_are_refused(void **state)
{
	fx *f = *state;
	char secret[65], other[65];
	hs_secret(secret);
	hs_secret(other);
	char *secret_path = fx_write(f, "jwt.secret", secret);
	fx_start(f, ARGS("--auth", "--jwt-secret-file", secret_path, "--jwt-issuer", ISSUER,
	                 "--jwt-audience", AUDIENCE));
	const char *sc = "minidb:read minidb:write";
	long long now = now_s();
	size_t sl = strlen(secret);

	char *cl = good_claims("svc", sc);
	char *good = jwt_make(JWT_SIGN_HS256, NULL, cl, NULL, secret, sl);
	mdb_conn *c = fx_conn(f);
	EXPECT(c, "+OK", "AUTH", good);

	/* Default leeway 30 s: two minutes out either way is refused. */
	char *c_exp = claims_json("svc", ISSUER, AUDIENCE, now - 120, 0, sc);
	char *c_nbf = claims_json("svc", ISSUER, AUDIENCE, now + 3600, now + 120, sc);
	char *c_aud = claims_json("svc", ISSUER, "another-service", now + 3600, 0, sc);
	char *c_iss = claims_json("svc", "https://evil.test", AUDIENCE, now + 3600, 0, sc);
	char *c_noexp = claims_json("svc", ISSUER, AUDIENCE, 0, 0, sc);
	char *c_admin = good_claims("svc", "minidb:read minidb:write minidb:admin");
	char *t_exp = jwt_make(JWT_SIGN_HS256, NULL, c_exp, NULL, secret, sl);
	char *t_nbf = jwt_make(JWT_SIGN_HS256, NULL, c_nbf, NULL, secret, sl);
	char *t_aud = jwt_make(JWT_SIGN_HS256, NULL, c_aud, NULL, secret, sl);
	char *t_iss = jwt_make(JWT_SIGN_HS256, NULL, c_iss, NULL, secret, sl);
	char *t_noexp = jwt_make(JWT_SIGN_HS256, NULL, c_noexp, NULL, secret, sl);
	char *t_tampered = jwt_tamper(good, c_admin);
	char *t_other = jwt_make(JWT_SIGN_HS256, NULL, cl, NULL, other, strlen(other));
	char *t_none = jwt_make(JWT_SIGN_NONE, NULL, cl, NULL, NULL, 0);

	EXPECT_REFUSED(f, t_exp, good, JWT_REFUSED JWT_EXPIRED);
	EXPECT_REFUSED(f, t_nbf, good, JWT_REFUSED "token not yet valid");
	EXPECT_REFUSED(f, t_aud, good, JWT_REFUSED "wrong audience");
	EXPECT_REFUSED(f, t_iss, good, JWT_REFUSED "wrong issuer");
	EXPECT_REFUSED(f, t_noexp, good, JWT_REFUSED "token has no exp");
	EXPECT_REFUSED(f, t_tampered, good, JWT_REFUSED JWT_BAD_SIG);
	EXPECT_REFUSED(f, t_other, good, JWT_REFUSED JWT_BAD_SIG);
	EXPECT_REFUSED(f, t_none, good, JWT_REFUSED JWT_ALG_NONE);

	/* The line protocol's form of the same refusal. */
	mdb_conn *l = fx_conn(f);
	char *cmd = NULL;
	assert_true(asprintf(&cmd, "AUTH %s", t_exp) > 0);
	EXPECT_LINE(l, cmd, JWT_REFUSED_L JWT_EXPIRED);
	free(cmd);
	EXPECT_LINE(l, "LOOKUP k", NOAUTH_LINE);
	char *pieces[] = {secret_path, cl,      good,       c_exp,   c_nbf, c_aud,
	                  c_iss,       c_noexp, c_admin,    t_exp,   t_nbf, t_aud,
	                  t_iss,       t_noexp, t_tampered, t_other, t_none};
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
		free(pieces[i]);
	checks_done();
}

static void a_jwt_that_expires_while_connected_must_authenticate_again(void **state)
{
	fx *f = *state;
	char secret[65];
	hs_secret(secret);
	char *secret_path = fx_write(f, "jwt.secret", secret);
	fx_start(f, ARGS("--auth", "--jwt-secret-file", secret_path, "--jwt-leeway", "0"));
	size_t sl = strlen(secret);
	const char *sc = "minidb:read minidb:write";

	long long exp = now_s() + 2;
	char *cl = claims_json("short", NULL, NULL, exp, 0, sc);
	char *tok = jwt_make(JWT_SIGN_HS256, NULL, cl, NULL, secret, sl);
	mdb_conn *c = fx_conn(f);
	EXPECT(c, "+OK", "AUTH", tok);
	EXPECT(c, "+OK", "SET", "k", "v");
	/* Past exp (the loop is bounded: exp is at most 2 s away). */
	while (mdb_unix_ms() < exp * 1000 + 300)
		mdb_sleep_ms(50);
	EXPECT(c, "-NOAUTH token expired; authenticate again", "GET", "k");
	EXPECT(c, NOAUTH_RESP, "GET", "k");
	/* The same token again is refused; a fresh one works. */
	EXPECT(c, JWT_REFUSED JWT_EXPIRED, "AUTH", tok);
	char *cl2 = claims_json("short", NULL, NULL, now_s() + 3600, 0, sc);
	char *tok2 = jwt_make(JWT_SIGN_HS256, NULL, cl2, NULL, secret, sl);
	EXPECT(c, "+OK", "AUTH", tok2);
	EXPECT(c, "$v", "GET", "k");
	free(secret_path);
	free(cl);
	free(tok);
	free(cl2);
	free(tok2);
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

/* How many lines of the server's log contain needle. */
static int log_count(const fx *f, const char *needle)
{
	char *log = mdb_read_file(f->s->log_path, NULL);
	int n = 0;
	for (const char *p = log; p != NULL && (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(log);
	return n;
}

/* Waits (bounded) until the log has more than before lines with needle. */
static int wait_log_count(const fx *f, const char *needle, int before)
{
	long long deadline = mdb_now_ms() + mdb_timeout_ms(MDB_IO_TIMEOUT_MS);
	while (mdb_now_ms() < deadline) {
		if (log_count(f, needle) > before)
			return 1;
		mdb_sleep_ms(20);
	}
	return 0;
}

#define RELOADED "\"msg\":\"reloaded\""

static void sighup_with_a_new_jwt_key_closes_connections_the_old_key_let_in(void **state)
{
	fx *f = *state;
	char s1[65], s2[65];
	random_hex(s1, 32);
	random_hex(s2, 32);
	tokdef toks[] = {{.name = "app", .perms = "read,write"}};
	gen_token(&toks[0]);
	char *cfg = write_config(f, "minidb.yaml", toks, 1, NULL, s1);
	fx_start(f, ARGS("--config", cfg));
	const char *sc = "minidb:read minidb:write";
	char *cl = claims_json("alice", NULL, NULL, now_s() + 3600, 0, sc);
	char *t1 = jwt_make(JWT_SIGN_HS256, NULL, cl, NULL, s1, strlen(s1));
	char *t2 = jwt_make(JWT_SIGN_HS256, NULL, cl, NULL, s2, strlen(s2));

	mdb_conn *j = fx_conn(f), *app = fx_conn(f);
	EXPECT(j, "+OK", "AUTH", t1);
	EXPECT(app, "+OK", "AUTH", toks[0].token);
	EXPECT(j, "+OK", "SET", "k", "v");

	/* A reload that keeps the key keeps the JWT connection. */
	int before = log_count(f, RELOADED);
	assert_int_equal(mdb_signal(f->s, SIGHUP), 0);
	CHECK_TRUE(wait_log_count(f, RELOADED, before), "SIGHUP logs \"reloaded\"");
	EXPECT(j, "$v", "GET", "k");

	/* A new secret: the connection the old one let in is closed. */
	before = log_count(f, RELOADED);
	free(write_config(f, "minidb.yaml", toks, 1, NULL, s2));
	assert_int_equal(mdb_signal(f->s, SIGHUP), 0);
	CHECK_TRUE(wait_log_count(f, RELOADED, before), "SIGHUP logs \"reloaded\"");
	int closed = wait_eof(j, MDB_IO_TIMEOUT_MS);
	CHECK_TRUE(closed, "a JWT connection whose key was replaced is closed after SIGHUP");
	if (!closed) {
		char *r = mdb_call_at(j, __FILE__, __LINE__, "GET", "k", (const char *)NULL);
		print_message("(still open: the next GET got \"%s\")\n", r);
		free(r);
	}
	EXPECT(app, "$v", "GET", "k");
	mdb_conn *n = fx_conn(f);
	EXPECT(n, JWT_REFUSED JWT_BAD_SIG, "AUTH", t1);
	EXPECT(n, "+OK", "AUTH", t2);
	EXPECT(n, "$v", "GET", "k");
	free(cfg);
	free(cl);
	free(t1);
	free(t2);
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

static int group_setup(void **state)
{
	(void)state;
	rsa_a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa_b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec_a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec_b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return rsa_a && rsa_b && ec_a && ec_b ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_a);
	EVP_PKEY_free(rsa_b);
	EVP_PKEY_free(ec_a);
	EVP_PKEY_free(ec_b);
	return 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

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
	        T(a_hs256_jwt_signed_with_the_configured_secret_is_accepted_with_its_scope),
	        T(the_scope_claim_its_prefix_and_the_exp_requirement_are_configurable),
	        T(an_rs256_jwt_verified_with_a_pem_key_is_accepted_and_algorithm_confusion_is_refused),
	        T(an_es256_jwt_is_verified_with_the_jwks_key_its_kid_names),
	        T(jwts_failing_a_claim_or_signature_check_are_refused),
	        T(a_jwt_that_expires_while_connected_must_authenticate_again),
	        T(failed_auths_from_an_address_are_slowed_and_a_success_clears_them),
	        T(sighup_revokes_removed_and_changed_tokens_and_closes_their_connections),
	        T(sighup_with_a_new_jwt_key_closes_connections_the_old_key_let_in),
	        T(sighup_turning_auth_on_closes_connections_that_never_authenticated),
	        T(no_token_or_secret_reaches_the_log_even_at_debug_level),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
