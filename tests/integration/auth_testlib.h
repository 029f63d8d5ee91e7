/* auth_testlib.h - what tests/integration/test_auth.c and test_auth_jwt.c
 * share: the reply strings of the contract, reply checks that record a
 * mismatch and go on (each test fails at its end if there was any), the JWT
 * helpers over jwt_sign.h, the per-test fixture (a temp dir, the server,
 * connections), token and config-file helpers, RESP helpers and the group
 * fixture that makes the JWT test keys.
 *
 * Header-only (everything static inline, so a file that uses only some of it
 * does not warn) because the build compiles each test_*.c with the harness
 * alone: include it once per test binary.
 */
#ifndef MINIDB_TEST_AUTH_TESTLIB_H
#define MINIDB_TEST_AUTH_TESTLIB_H

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

/* A permission refusal: token name, command, the permission it needs. */
#define NOPERM_MSG(name, cmd, perm)                                                                \
	"NOPERM this token ('" name "') may not run '" cmd "': it needs the " perm " permission"
#define NOPERM(name, cmd, perm) "-" NOPERM_MSG(name, cmd, perm)

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
static inline void check_at(char *got, const char *want, int prefix, const char *what,
                            const char *file, int line)
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
static inline void check_true_at(int cond, const char *what, const char *file, int line)
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
static inline void checks_done(void)
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
static inline char *need(char *p)
{
	assert_non_null(p);
	return p;
}

static inline char *jwt_make(jwt_sign_alg alg, const char *kid, const char *claims, EVP_PKEY *key,
                             const void *secret, size_t secret_len)
{
	return need(jwt_sign_token(alg, kid, claims, key, secret, secret_len));
}

static inline char *jwt_tamper(const char *token, const char *claims)
{
	return need(jwt_sign_tamper(token, claims));
}

static inline char *pem_public(EVP_PKEY *key)
{
	return need(jwt_sign_pem_public(key));
}

static inline char *jwk(EVP_PKEY *key, const char *kid)
{
	return need(jwt_sign_jwk(key, kid));
}

/* JSON claims; NULL strings and 0 times are left out. malloc'd. */
static inline char *claims_json(const char *sub, const char *iss, const char *aud, long long exp,
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

static inline long long now_s(void)
{
	return mdb_unix_ms() / 1000;
}

/* Valid claims for the test issuer and audience, an hour to live. */
static inline char *good_claims(const char *sub, const char *scope)
{
	return claims_json(sub, ISSUER, AUDIENCE, now_s() + 3600, 0, scope);
}

/* n random bytes as 2n hex digits, NUL-terminated in out. */
static inline void random_hex(char *out, size_t n)
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

static inline int fx_setup(void **state)
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

static inline int fx_teardown(void **state)
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
static inline char *fx_path(const fx *f, const char *name)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
	return p;
}

/* Writes text to name in the test's dir through a rename, so a reload never
 * reads half a file. Returns the path, malloc'd. */
static inline char *fx_write(const fx *f, const char *name, const char *text)
{
	char *path = fx_path(f, name);
	char *tmp = NULL;
	assert_true(asprintf(&tmp, "%s.tmp", path) > 0);
	assert_int_equal(mdb_write_file(tmp, text, strlen(text)), 0);
	assert_int_equal(rename(tmp, path), 0);
	free(tmp);
	return path;
}

static inline mdb_conn *fx_conn(fx *f)
{
	assert_true(f->nconns < sizeof f->conns / sizeof f->conns[0]);
	mdb_conn *c = mdb_open_ok(f->s);
	f->conns[f->nconns++] = c;
	return c;
}

/* Closes c early (it stays listed, closed once). */
static inline void fx_close(fx *f, mdb_conn *c)
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
static inline mdb_conn *fx_conn_from(fx *f, const char *src)
{
	int fd = mdb_connect_from(f->s->port, src);
	assert_true(fd >= 0);
	mdb_conn *c = mdb_conn_wrap(fd);
	assert_non_null(c);
	assert_true(f->nconns < sizeof f->conns / sizeof f->conns[0]);
	f->conns[f->nconns++] = c;
	return c;
}

/* Starts the server with the harness's flags plus args. */
static inline void fx_start(fx *f, const char *const args[])
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
static inline void gen_token(tokdef *t)
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

/* A config file (YAML) with the named tokens, and optionally the legacy
 * auth_token and an HS256 jwt_secret; auth_enabled as asked. malloc'd path. */
static inline char *write_config_auth(const fx *f, const char *name, int auth_enabled,
                                      const tokdef *toks, size_t ntoks, const char *legacy,
                                      const char *jwt_secret)
{
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof text, "security:\n%s",
	                            auth_enabled ? "  auth_enabled: true\n" : "");
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

/* write_config_auth with auth on. */
static inline char *write_config(const fx *f, const char *name, const tokdef *toks, size_t ntoks,
                                 const char *legacy, const char *jwt_secret)
{
	return write_config_auth(f, name, 1, toks, ntoks, legacy, jwt_secret);
}

/* Starts a server with a config of toks (and the legacy token) only. */
static inline void start_with_tokens(fx *f, tokdef *toks, size_t ntoks, const char *legacy)
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
static inline char *resp3_read(mdb_conn *c, const char *want_key, char **found)
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
static inline void send_resp(mdb_conn *c, const char *const argv[])
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
static inline char *read_reply(mdb_conn *c)
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
static inline char *client_info(mdb_conn *c)
{
	return mdb_call_at(c, __FILE__, __LINE__, "CLIENT", "INFO", (const char *)NULL);
}

/* Waits up to base_ms (scaled) for the server to close c, draining and
 * printing any reply lines that arrive first. 1 when it closed. */
static inline int wait_eof(mdb_conn *c, int base_ms)
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
static inline long retry_ms(const char *msg)
{
	const char *p = strstr(msg, "retry in ");
	if (p == NULL)
		return -1;
	char *end;
	long v = strtol(p + 9, &end, 10);
	return end != p + 9 && strcmp(end, " ms") == 0 ? v : -1;
}

/* ---- JWT secrets ---- */

/* A random HS256 secret: 64 hex digits (32 bytes of entropy). */
static inline void hs_secret(char out[65])
{
	random_hex(out, 32);
}

/* ---- group fixture: the JWT test keys, made once per file ---- */

static inline int group_setup(void **state)
{
	(void)state;
	rsa_a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa_b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec_a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec_b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return rsa_a && rsa_b && ec_a && ec_b ? 0 : -1;
}

static inline int group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_a);
	EVP_PKEY_free(rsa_b);
	EVP_PKEY_free(ec_a);
	EVP_PKEY_free(ec_b);
	return 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

#endif
