/* test_auth_jwt.c - JWT authentication against the real server (issue 6):
 * HS256 with the configured secret and its scope, the configurable scope
 * claim, prefix and exp requirement, RS256 from a PEM key (and algorithm
 * confusion refused), ES256 from a JWKS picked by kid, every refusal of a
 * claim or signature check, expiry while connected, and a SIGHUP with a new
 * key closing connections the old key let in.
 *
 * JWTs are signed by jwt_sign.h with keys generated at test time; the
 * fixture, reply checks and helpers are shared with test_auth.c through
 * auth_testlib.h. Reply checks record a mismatch and go on; each test fails
 * at its end if there was any. Each test starts its own server.
 */
#include "auth_testlib.h"

/* ---- JWT ---- */

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

/* ---- SIGHUP with a new key ---- */

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

/* ---- main ---- */

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(a_hs256_jwt_signed_with_the_configured_secret_is_accepted_with_its_scope),
	        T(the_scope_claim_its_prefix_and_the_exp_requirement_are_configurable),
	        T(an_rs256_jwt_verified_with_a_pem_key_is_accepted_and_algorithm_confusion_is_refused),
	        T(an_es256_jwt_is_verified_with_the_jwks_key_its_kid_names),
	        T(jwts_failing_a_claim_or_signature_check_are_refused),
	        T(a_jwt_that_expires_while_connected_must_authenticate_again),
	        T(sighup_with_a_new_jwt_key_closes_connections_the_old_key_let_in),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
