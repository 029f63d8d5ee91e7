/* test_security.c - credentials built from the config, AUTH, the permission
 * check in command_dispatch, the legacy per-command token, JWT grants and
 * expiry, and what a reload keeps or revokes. Runs commands through the
 * real command table (cmd_harness.h); the integration tests cover the same
 * over the wire.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "cmd_harness.h"
#include "security.h"

#define HMAC_SECRET "0123456789abcdef0123456789abcdef-unit-test"

static char *hash_line(const char *token)
{
	static char lines[8][AUTH_HASH_LINE_MAX + 1];
	static int next;
	char *out = lines[next++ % 8];
	assert_int_equal(auth_hash_token(token, strlen(token), AUTH_SCHEME_SHA256, 0, out,
	                                 AUTH_HASH_LINE_MAX + 1),
	                 AUTH_OK);
	return out;
}

static void add_token(config *cfg, const char *name, const char *token, const char *perms)
{
	cfg->tokens = realloc(cfg->tokens, (cfg->ntokens + 1) * sizeof(*cfg->tokens));
	assert_non_null(cfg->tokens);
	cfg->tokens[cfg->ntokens].name = strdup(name);
	cfg->tokens[cfg->ntokens].hash = strdup(hash_line(token));
	cfg->tokens[cfg->ntokens].permissions = strdup(perms);
	cfg->ntokens++;
}

/* A session with auth on: tokens reader (read), rw (read,write), ops (all). */
static cmd_session *session_with_auth(void)
{
	cmd_session *s = cmds_new(NULL);
	char err[256];
	assert_non_null(s);
	s->cfg.auth_enabled = true;
	add_token(&s->cfg, "reader", "reader-token", "read");
	add_token(&s->cfg, "rw", "rw-token", "read,write");
	add_token(&s->cfg, "ops", "ops-token", "read,write,admin");
	s->sec = security_create(&s->cfg, err, sizeof err);
	assert_non_null(s->sec);
	security_client_init(s->sec, &s->client);
	return s;
}

static void session_free(cmd_session *s)
{
	security_free(s->sec);
	cmds_free(s);
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = 0;
}

/* An HS256 JWT over payload. */
static void make_jwt(const char *payload, char *out, size_t cap)
{
	const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char h[128], p[512], sig[64];
	unsigned char mac[32];
	unsigned int maclen = 0;
	b64url((const unsigned char *)hdr, strlen(hdr), h);
	b64url((const unsigned char *)payload, strlen(payload), p);
	char signing[700];
	snprintf(signing, sizeof signing, "%s.%s", h, p);
	assert_non_null(HMAC(EVP_sha256(), HMAC_SECRET, (int)strlen(HMAC_SECRET),
	                     (const unsigned char *)signing, strlen(signing), mac, &maclen));
	b64url(mac, maclen, sig);
	snprintf(out, cap, "%s.%s", signing, sig);
}

static void test_commands_are_refused_until_auth_and_run_after(void **state)
{
	(void)state;
	cmd_session *s = session_with_auth();
	assert_string_equal(cmds_run(s, PROTO_RESP2, "SET", "k", "v", NULL),
	                    "-NOAUTH Authentication required.\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "PING", NULL),
	                    "-NOAUTH Authentication required.\r\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "LOOKUP", "k", NULL),
	                    "ERROR: Authentication required\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "nope", NULL),
	                    "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "AUTH", "nope", NULL),
	                    "ERROR: Authentication failed\n");
	assert_int_equal(store_count(s->st), 0);
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "rw-token", NULL), "+OK\r\n");
	assert_string_equal(s->client.auth_name, "rw");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "SET", "k", "v", NULL), "+OK\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "GET", "k", NULL), "$1\r\nv\r\n");
	session_free(s);
}

static void test_auth_with_a_user_name_must_match_the_token(void **state)
{
	(void)state;
	cmd_session *s = session_with_auth();
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "reader", "rw-token", NULL),
	                    "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "default", "rw-token", NULL),
	                    "+OK\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "reader", "reader-token", NULL),
	                    "+OK\r\n");
	assert_string_equal(s->client.auth_name, "reader");
	session_free(s);
}

static void test_permissions_follow_the_command_flags(void **state)
{
	(void)state;
	cmd_session *s = session_with_auth();
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "reader-token", NULL), "+OK\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "GET", "k", NULL), "$-1\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "SET", "k", "v", NULL),
	                    "-NOPERM this token ('reader') may not run 'set': it needs the write "
	                    "permission\r\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "SET", "k", "v", NULL),
	                    "ERROR: NOPERM this token ('reader') may not run 'set': it needs the "
	                    "write permission\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "PING", NULL), "+PONG\r\n");
	assert_int_equal(store_count(s->st), 0);

	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "rw-token", NULL), "+OK\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "SET", "k", "v", NULL), "+OK\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "FLUSHALL", NULL),
	                    "-NOPERM this token ('rw') may not run 'flushall': it needs the admin "
	                    "permission\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "CONFIG", "GET", "port", NULL),
	                    "-NOPERM this token ('rw') may not run 'config': it needs the admin "
	                    "permission\r\n");
	assert_int_equal(store_count(s->st), 1);
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "ops-token", NULL), "+OK\r\n");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "FLUSHALL", NULL), "+OK\r\n");
	assert_int_equal(store_count(s->st), 0);
	session_free(s);
}

static void test_every_command_but_auth_hello_quit_is_refused_before_auth(void **state)
{
	(void)state;
	size_t n;
	const command *t = command_table_get(&n);
	cmd_session *s = session_with_auth();
	for (size_t i = 0; i < n; i++) {
		const char *out = cmds_run(s, PROTO_RESP2, t[i].name, "a", "b", "c", NULL);
		if (strcmp(t[i].name, "auth") == 0 || strcmp(t[i].name, "hello") == 0 ||
		    strcmp(t[i].name, "quit") == 0 || strcmp(t[i].name, "exit") == 0)
			continue;
		if (strncmp(out, "-NOAUTH ", 8) != 0)
			fail_msg("%s answered %s before AUTH", t[i].name, out);
	}
	assert_int_equal(store_count(s->st), 0);
	assert_false(s->client.authenticated);
	session_free(s);
}

static void test_hello_without_auth_is_refused_and_hello_auth_authenticates(void **state)
{
	(void)state;
	cmd_session *s = session_with_auth();
	assert_memory_equal(cmds_run(s, PROTO_RESP2, "HELLO", "3", NULL), "-NOAUTH HELLO must", 18);
	assert_int_equal(s->client.resp, 2);
	assert_memory_equal(cmds_run(s, PROTO_RESP2, "HELLO", "3", "AUTH", "rw", "bad", NULL),
	                    "-WRONGPASS", 10);
	const char *out = cmds_run(s, PROTO_RESP2, "HELLO", "3", "AUTH", "rw", "rw-token", NULL);
	assert_memory_equal(out, "%7\r\n", 4);
	assert_true(s->client.authenticated);
	assert_int_equal(s->client.resp, 3);
	session_free(s);
}

static void test_the_legacy_per_command_token_runs_the_command_without_authenticating(void **state)
{
	(void)state;
	cmd_session *s = session_with_auth();
	/* As the line splitter hands it over: SET's value is the rest of the line. */
	assert_string_equal(cmds_run(s, PROTO_LINE, "SET", "rw-token", "key hello world", NULL),
	                    "OK\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "LOOKUP", "rw-token", "key", NULL),
	                    "hello world\n");
	assert_false(s->client.authenticated);
	assert_string_equal(cmds_run(s, PROTO_LINE, "LOOKUP", "key", NULL),
	                    "ERROR: Authentication required\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "SET", "bad-token", "key x", NULL),
	                    "ERROR: Authentication failed\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "SET", "reader-token", "key x", NULL),
	                    "ERROR: NOPERM this token ('reader') may not run 'set': it needs "
	                    "the write permission\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "LOOKUP", "reader-token", "key", NULL),
	                    "hello world\n");
	/* Only over the line protocol. */
	assert_string_equal(cmds_run(s, PROTO_RESP2, "GET", "rw-token", "key", NULL),
	                    "-NOAUTH Authentication required.\r\n");
	session_free(s);
}

static void test_the_original_auth_token_has_every_permission(void **state)
{
	(void)state;
	cmd_session *s = cmds_new(NULL);
	char err[256];
	s->cfg.auth_enabled = true;
	s->cfg.auth_token = strdup("the-original-token");
	s->sec = security_create(&s->cfg, err, sizeof err);
	assert_non_null(s->sec);
	security_client_init(s->sec, &s->client);
	assert_string_equal(cmds_run(s, PROTO_LINE, "SET", "the-original-token", "k v", NULL),
	                    "OK\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "AUTH", "the-original-token", NULL), "OK\n");
	assert_string_equal(s->client.auth_name, "default");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "FLUSHALL", NULL), "+OK\r\n");
	session_free(s);
}

static void test_bad_configurations_are_refused_without_echoing_secrets(void **state)
{
	(void)state;
	static const struct {
		const char *name, *hash, *perms, *want;
	} cases[] = {
	        {"app", "sha256$zz", "read", "security.tokens[0]: malformed"},
	        {"app", NULL, "reed", "permissions must be a list of read, write, admin"},
	        {"bad name", NULL, "read", "security.tokens[0]"},
	        {"default", NULL, "read", "the name 'default' is used twice"},
	};
	char err[256];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		config cfg;
		config_defaults(&cfg);
		cfg.auth_enabled = true;
		cfg.auth_token = strdup("secret-legacy-value");
		add_token(&cfg, cases[i].name, "tok", cases[i].perms);
		if (cases[i].hash) {
			free(cfg.tokens[0].hash);
			cfg.tokens[0].hash = strdup(cases[i].hash);
		}
		assert_null(security_create(&cfg, err, sizeof err));
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: got '%s'", i, err);
		assert_null(strstr(err, "secret-legacy-value"));
		config_free(&cfg);
	}
	config cfg;
	config_defaults(&cfg);
	cfg.auth_enabled = true;
	assert_null(security_create(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "no credential is configured"));
	cfg.jwt_secret = strdup("Xq9zSecretValue");
	assert_null(security_create(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "security.jwt_secret"));
	assert_null(strstr(err, "Xq9zSecretValue"));
	free(cfg.jwt_secret);
	cfg.jwt_secret = NULL;
	cfg.jwt_public_key_file = strdup("/nonexistent/key.pem");
	assert_null(security_create(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "--jwt-public-key-file /nonexistent/key.pem"));
	config_free(&cfg);
}

static void test_jwt_grants_its_scopes_and_expires(void **state)
{
	(void)state;
	cmd_session *s = cmds_new(NULL);
	char err[256], tok[1024], payload[256];
	s->cfg.auth_enabled = true;
	s->cfg.jwt_secret = strdup(HMAC_SECRET);
	s->cfg.jwt_leeway = 0;
	s->sec = security_create(&s->cfg, err, sizeof err);
	assert_non_null(s->sec);
	security_client_init(s->sec, &s->client);
	long long now = (long long)time(NULL);

	snprintf(payload, sizeof payload,
	         "{\"sub\":\"svc\",\"exp\":%lld,\"scope\":\"minidb:read\"}", now + 3600);
	make_jwt(payload, tok, sizeof tok);
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", tok, NULL), "+OK\r\n");
	assert_string_equal(s->client.auth_name, "jwt:svc");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "GET", "k", NULL), "$-1\r\n");
	assert_memory_equal(cmds_run(s, PROTO_RESP2, "SET", "k", "v", NULL), "-NOPERM", 7);

	snprintf(payload, sizeof payload,
	         "{\"sub\":\"svc\",\"exp\":%lld,\"scope\":\"minidb:read\"}", now - 10);
	make_jwt(payload, tok, sizeof tok);
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", tok, NULL),
	                    "-WRONGPASS invalid token: jwt: expired\r\n");
	assert_string_equal(cmds_run(s, PROTO_LINE, "AUTH", tok, NULL),
	                    "ERROR: Authentication failed: jwt: expired\n");

	/* A grant that has run out: the next command needs a new AUTH. */
	s->client.auth_expires_ms = 1;
	assert_string_equal(cmds_run(s, PROTO_RESP2, "GET", "k", NULL),
	                    "-NOAUTH token expired; authenticate again\r\n");
	assert_false(s->client.authenticated);
	assert_string_equal(cmds_run(s, PROTO_RESP2, "GET", "k", NULL),
	                    "-NOAUTH Authentication required.\r\n");
	session_free(s);
}

static void test_failed_attempts_back_off_per_address(void **state)
{
	(void)state;
	cmd_session *s = session_with_auth();
	for (int i = 0; i < AUTH_BACKOFF_FREE; i++)
		assert_memory_equal(cmds_run(s, PROTO_RESP2, "AUTH", "wrong", NULL), "-WRONGPASS",
		                    10);
	/* The last free failure started the wait: even the right token waits. */
	assert_memory_equal(cmds_run(s, PROTO_RESP2, "AUTH", "rw-token", NULL),
	                    "-ERR too many failed authentication attempts from this address", 62);
	security_stats st;
	security_stats_get(s->sec, &st);
	assert_int_equal(st.auth_failed, AUTH_BACKOFF_FREE);
	assert_int_equal(st.auth_backoff_refused, 1);
	/* Another address is not affected. */
	strcpy(s->client.peer, "10.1.2.3:4000");
	assert_string_equal(cmds_run(s, PROTO_RESP2, "AUTH", "rw-token", NULL), "+OK\r\n");
	session_free(s);
}

static void test_a_reload_revokes_removed_and_changed_tokens_only(void **state)
{
	(void)state;
	cmd_session *s = session_with_auth();
	char err[256];
	cmd_client reader = s->client, rw = s->client, off = s->client;
	/* Authenticate three clients the way AUTH does. */
	assert_int_equal(security_authenticate(s->sec, &reader, NULL, 0, "reader-token", 12, err,
	                                       sizeof err),
	                 0);
	assert_int_equal(
	        security_authenticate(s->sec, &rw, NULL, 0, "rw-token", 8, err, sizeof err), 0);
	assert_int_equal(
	        security_authenticate(s->sec, &off, NULL, 0, "ops-token", 9, err, sizeof err), 0);

	/* New config: reader removed, rw kept as is, ops with other permissions. */
	config cfg;
	config_defaults(&cfg);
	cfg.auth_enabled = true;
	add_token(&cfg, "rw", "rw-token", "read,write");
	add_token(&cfg, "ops", "ops-token", "read");
	uint64_t gen = security_generation(s->sec);
	assert_int_equal(security_reload(s->sec, &cfg, err, sizeof err), 0);
	assert_int_equal(security_generation(s->sec), gen + 1);
	assert_false(security_client_revalidate(s->sec, &reader));
	assert_true(security_client_revalidate(s->sec, &rw));
	assert_int_equal(rw.auth_gen, gen + 1);
	assert_false(security_client_revalidate(s->sec, &off));
	assert_int_equal(security_authenticate(s->sec, &reader, NULL, 0, "reader-token", 12, err,
	                                       sizeof err),
	                 -EACCES);

	/* A live connection sees the revocation at its next command too. */
	s->client = off;
	assert_string_equal(cmds_run(s, PROTO_RESP2, "GET", "k", NULL),
	                    "-NOAUTH credentials revoked; authenticate again\r\n");
	assert_true(s->out_flags & CMD_OUT_CLOSE);

	/* A refused reload changes nothing. */
	free(cfg.tokens[0].hash);
	cfg.tokens[0].hash = strdup("sha256$bad");
	assert_int_equal(security_reload(s->sec, &cfg, err, sizeof err), -EINVAL);
	assert_int_equal(security_generation(s->sec), gen + 1);
	config_free(&cfg);
	session_free(s);
}

static void test_auth_off_lets_everything_run_and_auth_says_so(void **state)
{
	(void)state;
	cmd_session *s = cmds_new(NULL);
	char err[256];
	s->sec = security_create(&s->cfg, err, sizeof err);
	assert_non_null(s->sec);
	security_client_init(s->sec, &s->client);
	assert_true(s->client.authenticated);
	assert_string_equal(cmds_run(s, PROTO_RESP2, "SET", "k", "v", NULL), "+OK\r\n");
	assert_memory_equal(cmds_run(s, PROTO_RESP2, "AUTH", "x", NULL),
	                    "-ERR AUTH <password> called without any password configured", 59);
	session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_commands_are_refused_until_auth_and_run_after),
	        cmocka_unit_test(test_auth_with_a_user_name_must_match_the_token),
	        cmocka_unit_test(test_permissions_follow_the_command_flags),
	        cmocka_unit_test(test_every_command_but_auth_hello_quit_is_refused_before_auth),
	        cmocka_unit_test(test_hello_without_auth_is_refused_and_hello_auth_authenticates),
	        cmocka_unit_test(
	                test_the_legacy_per_command_token_runs_the_command_without_authenticating),
	        cmocka_unit_test(test_the_original_auth_token_has_every_permission),
	        cmocka_unit_test(test_bad_configurations_are_refused_without_echoing_secrets),
	        cmocka_unit_test(test_jwt_grants_its_scopes_and_expires),
	        cmocka_unit_test(test_failed_attempts_back_off_per_address),
	        cmocka_unit_test(test_a_reload_revokes_removed_and_changed_tokens_only),
	        cmocka_unit_test(test_auth_off_lets_everything_run_and_auth_says_so),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
