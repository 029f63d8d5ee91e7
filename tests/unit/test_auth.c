/* Unit tests for token authentication (src/auth.c): hash lines round trip
 * and match fixed vectors computed with `openssl dgst` and `openssl kdf`
 * (test vectors, not secrets); malformed lines, including every truncation
 * of a valid one, are refused; permission lists and the command-flag
 * mapping; the registry with named and legacy tokens; the failure backoff
 * schedule with injected clocks, its LRU eviction and a bounded
 * multi-threaded smoke test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "auth.h"
#include "command.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* printf 'correct horse battery staple' | openssl dgst -sha256 */
static const char sha_token[] = "correct horse battery staple";
static const char sha_line[] =
        "sha256$c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a";

/* openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt pass:password
 *   -kdfopt hexsalt:73616c7473616c7473616c7473616c74 -kdfopt iter:1000 PBKDF2
 * (salt "saltsaltsaltsalt"), both in base64. */
static const char pbkdf2_token[] = "password";
static const char pbkdf2_line[] =
        "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=";

static int verify_str(const char *line, const char *token)
{
	auth_hash h;
	int rc = auth_hash_parse(line, strlen(line), &h);
	if (rc != AUTH_OK)
		return rc;
	return auth_hash_verify(&h, token, strlen(token));
}

static void test_fixed_vectors_match_openssl(void **state)
{
	auth_hash h;

	assert_int_equal(auth_hash_parse(sha_line, strlen(sha_line), &h), AUTH_OK);
	assert_int_equal(h.scheme, AUTH_SCHEME_SHA256);
	assert_int_equal(h.digest[0], 0xc4);
	assert_int_equal(h.digest[31], 0x8a);
	assert_int_equal(verify_str(sha_line, sha_token), AUTH_OK);

	assert_int_equal(auth_hash_parse(pbkdf2_line, strlen(pbkdf2_line), &h), AUTH_OK);
	assert_int_equal(h.scheme, AUTH_SCHEME_PBKDF2_SHA256);
	assert_int_equal(h.iterations, 1000);
	assert_int_equal(h.salt_len, 16);
	assert_memory_equal(h.salt, "saltsaltsaltsalt", 16);
	assert_int_equal(h.digest[0], 0xf2);
	assert_int_equal(h.digest[31], 0x00);
	assert_int_equal(verify_str(pbkdf2_line, pbkdf2_token), AUTH_OK);
	assert_int_equal(verify_str(pbkdf2_line, "Password"), AUTH_EDENIED);

	/* Hashing the token ourselves writes the same sha256 line. */
	char out[AUTH_HASH_LINE_MAX + 1];
	assert_int_equal(auth_hash_token(sha_token, strlen(sha_token), AUTH_SCHEME_SHA256, 0, out,
	                                 sizeof(out)),
	                 AUTH_OK);
	assert_string_equal(out, sha_line);
	/* Upper-case hex is the same digest. */
	assert_int_equal(
	        verify_str(
	                "sha256$C4BBCB1FBEC99D65BF59D85C8CB62EE2DB963F0FE106F483D9AFA73BD4E39A8A",
	                sha_token),
	        AUTH_OK);
}

static void test_hash_lines_round_trip_with_a_fresh_salt(void **state)
{
	char a[AUTH_HASH_LINE_MAX + 1], b[AUTH_HASH_LINE_MAX + 1];
	const char tok[] = "s3cret token";

	assert_int_equal(
	        auth_hash_token(tok, strlen(tok), AUTH_SCHEME_PBKDF2_SHA256, 1000, a, sizeof(a)),
	        AUTH_OK);
	assert_int_equal(
	        auth_hash_token(tok, strlen(tok), AUTH_SCHEME_PBKDF2_SHA256, 1000, b, sizeof(b)),
	        AUTH_OK);
	assert_true(strncmp(a, "pbkdf2-sha256$1000$", 19) == 0);
	assert_string_not_equal(a, b); /* two salts */
	assert_int_equal(verify_str(a, tok), AUTH_OK);
	assert_int_equal(verify_str(b, tok), AUTH_OK);
	assert_int_equal(verify_str(a, "s3cret toke"), AUTH_EDENIED);
	assert_int_equal(verify_str(a, "s3cret token "), AUTH_EDENIED);

	/* Iterations 0 means the default. */
	assert_int_equal(
	        auth_hash_token(tok, strlen(tok), AUTH_SCHEME_PBKDF2_SHA256, 0, a, sizeof(a)),
	        AUTH_OK);
	assert_true(strncmp(a, "pbkdf2-sha256$100000$", 21) == 0);
	assert_int_equal(verify_str(a, tok), AUTH_OK);

	/* Binary tokens (with a NUL) are hashed whole. */
	const char bin[] = {'a', '\0', 'b'};
	auth_hash h;
	assert_int_equal(auth_hash_token(bin, 3, AUTH_SCHEME_SHA256, 0, a, sizeof(a)), AUTH_OK);
	assert_int_equal(auth_hash_parse(a, strlen(a), &h), AUTH_OK);
	assert_int_equal(auth_hash_verify(&h, bin, 3), AUTH_OK);
	assert_int_equal(auth_hash_verify(&h, bin, 1), AUTH_EDENIED);

	/* Refusals: out-of-range iterations, small buffers, unknown scheme. */
	assert_int_equal(
	        auth_hash_token(tok, strlen(tok), AUTH_SCHEME_PBKDF2_SHA256, 999, a, sizeof(a)),
	        AUTH_EFORMAT);
	assert_int_equal(auth_hash_token(tok, strlen(tok), AUTH_SCHEME_PBKDF2_SHA256,
	                                 AUTH_PBKDF2_ITER_MAX + 1, a, sizeof(a)),
	                 AUTH_EFORMAT);
	assert_int_equal(auth_hash_token(tok, strlen(tok), AUTH_SCHEME_SHA256, 0, a, 71),
	                 AUTH_ESPACE);
	assert_int_equal(auth_hash_token(tok, strlen(tok), AUTH_SCHEME_SHA256, 0, a, 72), AUTH_OK);
	assert_int_equal(auth_hash_token(tok, strlen(tok), AUTH_SCHEME_PBKDF2_SHA256, 1000, a, 20),
	                 AUTH_ESPACE);
	assert_int_equal(auth_hash_token(tok, strlen(tok), (enum auth_scheme)7, 0, a, sizeof(a)),
	                 AUTH_EFORMAT);
}

static void test_malformed_lines_are_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "sha256$",
	        "sha256",
	        "SHA256$c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a",
	        "sha256$c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8",
	        "sha256$c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a0",
	        "sha256$g4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a",
	        "sha256$c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a\n",
	        " sha256$c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a",
	        "md5$0123456789abcdef0123456789abcdef",
	        "bcrypt$2b$10$abcdefghijklmnopqrstuv",
	        "pbkdf2-sha256$",
	        "pbkdf2-sha256$1000",
	        "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==",
	        "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$",
	        /* iterations: zero, too few, too many, huge, leading zero, sign, blank */
	        "pbkdf2-sha256$0$c2FsdHNhbHRzYWx0c2FsdA==$"
	        "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=",
	        ("pbkdf2-sha256$999$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        ("pbkdf2-sha256$10000001$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        ("pbkdf2-sha256$99999999999999999999$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        ("pbkdf2-sha256$01000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        ("pbkdf2-sha256$+1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        ("pbkdf2-sha256$ "
	         "1000$c2FsdHNhbHRzYWx0c2FsdA==$8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        ("pbkdf2-sha256$-1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        /* salt: bad characters, no padding, too short (6 bytes), too long (66) */
	        "pbkdf2-sha256$1000$c2FsdHNh!HRzYWx0c2FsdA==$"
	        "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=",
	        ("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        "pbkdf2-sha256$1000$c2FsdHNh$8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=",
	        "pbkdf2-sha256$1000$"
	        "c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHRz"
	        "YWx0c2FsdHNhbHRzYWx0c2FsdHNh$8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=",
	        /* '=' inside, non-canonical trailing bits (R not Q), url alphabet */
	        "pbkdf2-sha256$1000$c2FsdHNhb=RzYWx0c2FsdA==$"
	        "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=",
	        ("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQB="),
	        ("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA"),
	        ("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4j_A="),
	        /* digest of 31 and 33 bytes, an extra field, a blank */
	        "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	        "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQ==",
	        ("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQAA"),
	        ("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA=$"),
	        ("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA= "),
	        ("pbkdf2-sha256$1000$$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	        ("pbkdf2-sha512$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
	         "8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA="),
	};
	auth_hash h;

	for (size_t i = 0; i < NELEM(bad); i++) {
		if (auth_hash_parse(bad[i], strlen(bad[i]), &h) != AUTH_EFORMAT)
			fail_msg("accepted malformed line %zu: \"%s\"", i, bad[i]);
	}
	assert_int_equal(auth_hash_parse(NULL, 0, &h), AUTH_EFORMAT);

	/* Every proper prefix of a valid line is refused. */
	const char *const good[] = {sha_line, pbkdf2_line};
	for (size_t g = 0; g < NELEM(good); g++) {
		for (size_t cut = 0; cut < strlen(good[g]); cut++)
			if (auth_hash_parse(good[g], cut, &h) != AUTH_EFORMAT)
				fail_msg("accepted line %zu cut at %zu", g, cut);
	}

	/* Too long a line is refused before it is looked at. */
	char longline[AUTH_HASH_LINE_MAX + 2];
	memset(longline, 'A', sizeof(longline));
	memcpy(longline, "pbkdf2-sha256$1000$", 19);
	assert_int_equal(auth_hash_parse(longline, sizeof(longline), &h), AUTH_EFORMAT);
}

static void test_tokens_over_the_length_limit_are_refused_before_hashing(void **state)
{
	char *big = malloc(AUTH_TOKEN_MAX + 1);
	char out[AUTH_HASH_LINE_MAX + 1];
	auth_registry *reg = auth_registry_create();
	unsigned perms = 0;
	auth_hash h;

	assert_non_null(big);
	assert_non_null(reg);
	memset(big, 'x', AUTH_TOKEN_MAX + 1);
	assert_int_equal(auth_registry_add(reg, "svc", sha_line, strlen(sha_line), AUTH_PERM_READ),
	                 AUTH_OK);
	assert_int_equal(auth_check(reg, big, AUTH_TOKEN_MAX + 1, &perms, NULL, 0), AUTH_ETOOLONG);
	assert_int_equal(auth_check(reg, big, 0, &perms, NULL, 0), AUTH_ETOOLONG);
	assert_int_equal(auth_check(reg, big, AUTH_TOKEN_MAX, &perms, NULL, 0), AUTH_EDENIED);
	assert_int_equal(
	        auth_hash_token(big, AUTH_TOKEN_MAX + 1, AUTH_SCHEME_SHA256, 0, out, sizeof(out)),
	        AUTH_ETOOLONG);
	assert_int_equal(auth_hash_parse(sha_line, strlen(sha_line), &h), AUTH_OK);
	assert_int_equal(auth_hash_verify(&h, big, AUTH_TOKEN_MAX + 1), AUTH_ETOOLONG);
	assert_int_equal(auth_registry_add_legacy(reg, big, AUTH_TOKEN_MAX + 1), AUTH_ETOOLONG);
	auth_registry_free(reg);
	free(big);
}

static void test_permission_lists_parse_and_format(void **state)
{
	static const struct {
		const char *s;
		unsigned want;
	} ok[] = {
	        {"read", AUTH_PERM_READ},
	        {"write", AUTH_PERM_WRITE},
	        {"admin", AUTH_PERM_ADMIN},
	        {"read,write", AUTH_PERM_READ | AUTH_PERM_WRITE},
	        {" read , Write ,ADMIN ", AUTH_PERM_ALL},
	        {"read,read", AUTH_PERM_READ},
	};
	static const char *const bad[] = {"",      ",",          "read,",       ",read", "rea",
	                                  "reads", "read;write", "read,,write", "all",   " "};
	unsigned p;
	char pbuf[17];

	for (size_t i = 0; i < NELEM(ok); i++) {
		p = 0;
		assert_int_equal(auth_perms_parse(ok[i].s, strlen(ok[i].s), &p), AUTH_OK);
		assert_int_equal(p, ok[i].want);
	}
	for (size_t i = 0; i < NELEM(bad); i++)
		if (auth_perms_parse(bad[i], strlen(bad[i]), &p) != AUTH_EFORMAT)
			fail_msg("accepted permission list \"%s\"", bad[i]);
	/* The length bounds the parse: "read" out of "readx". */
	assert_int_equal(auth_perms_parse("readx", 4, &p), AUTH_OK);
	assert_int_equal(p, AUTH_PERM_READ);

	assert_int_equal(auth_perms_format(AUTH_PERM_ALL, pbuf, sizeof(pbuf)), AUTH_OK);
	assert_string_equal(pbuf, "read,write,admin");
	assert_int_equal(auth_perms_format(AUTH_PERM_WRITE | AUTH_PERM_ADMIN, pbuf, sizeof(pbuf)),
	                 AUTH_OK);
	assert_string_equal(pbuf, "write,admin");
	assert_int_equal(auth_perms_format(0, pbuf, sizeof(pbuf)), AUTH_OK);
	assert_string_equal(pbuf, "none");
	assert_int_equal(auth_perms_format(AUTH_PERM_ALL, pbuf, 16), AUTH_ESPACE);
}

static unsigned perm_of(const char *cmd)
{
	const command *c = command_lookup(cmd, strlen(cmd));
	if (c == NULL)
		fail_msg("no command %s", cmd);
	return auth_required_perm(c->flags);
}

static void test_command_flags_map_to_permissions(void **state)
{
	assert_int_equal(auth_required_perm(CMD_READ), AUTH_PERM_READ);
	assert_int_equal(auth_required_perm(CMD_WRITE), AUTH_PERM_WRITE);
	assert_int_equal(auth_required_perm(CMD_READ | CMD_WRITE),
	                 AUTH_PERM_READ | AUTH_PERM_WRITE);
	assert_int_equal(auth_required_perm(CMD_ADMIN), AUTH_PERM_ADMIN);
	assert_int_equal(auth_required_perm(CMD_WRITE | CMD_ADMIN), AUTH_PERM_ADMIN);
	assert_int_equal(auth_required_perm(CMD_NOAUTH | CMD_FAST), 0);
	assert_int_equal(auth_required_perm(CMD_FAST), 0);
	assert_int_equal(auth_required_perm(CMD_READ | CMD_FAST | CMD_LOADING | CMD_DENYOOM),
	                 AUTH_PERM_READ);

	/* Real commands from the table. */
	assert_int_equal(perm_of("get"), AUTH_PERM_READ);
	assert_int_equal(perm_of("lookup"), AUTH_PERM_READ);
	assert_int_equal(perm_of("set"), AUTH_PERM_WRITE);
	assert_int_equal(perm_of("flushall"), AUTH_PERM_ADMIN);
	assert_int_equal(perm_of("config"), AUTH_PERM_ADMIN);
	assert_int_equal(perm_of("shutdown"), AUTH_PERM_ADMIN);

	/* Admin grants nothing else. */
	assert_false(auth_permits(AUTH_PERM_ADMIN, AUTH_PERM_READ));
	assert_false(auth_permits(AUTH_PERM_READ, AUTH_PERM_READ | AUTH_PERM_WRITE));
	assert_false(auth_permits(AUTH_PERM_READ | AUTH_PERM_WRITE, AUTH_PERM_ADMIN));
	assert_true(auth_permits(AUTH_PERM_READ, 0));
	assert_true(auth_permits(AUTH_PERM_ALL, AUTH_PERM_ADMIN));

	/* Every command in the table maps to a subset of the permissions. */
	size_t n;
	const command *t = command_table_get(&n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(auth_required_perm(t[i].flags) & ~(unsigned)AUTH_PERM_ALL, 0);
}

static void test_registry_checks_named_tokens_and_reports_the_match(void **state)
{
	auth_registry *reg = auth_registry_create();
	char line[AUTH_HASH_LINE_MAX + 1], name[AUTH_NAME_MAX + 1];
	unsigned perms = 0;

	assert_non_null(reg);
	assert_int_equal(
	        auth_registry_add(reg, "reader", sha_line, strlen(sha_line), AUTH_PERM_READ),
	        AUTH_OK);
	assert_int_equal(auth_registry_add(reg, "ops.admin-1", pbkdf2_line, strlen(pbkdf2_line),
	                                   AUTH_PERM_ADMIN | AUTH_PERM_READ),
	                 AUTH_OK);
	assert_int_equal(auth_hash_token("w", 1, AUTH_SCHEME_SHA256, 0, line, sizeof(line)),
	                 AUTH_OK);
	assert_int_equal(auth_registry_add(reg, "writer", line, strlen(line), AUTH_PERM_WRITE),
	                 AUTH_OK);
	assert_int_equal(auth_registry_count(reg), 3);

	assert_int_equal(auth_check(reg, sha_token, strlen(sha_token), &perms, name, sizeof(name)),
	                 AUTH_OK);
	assert_int_equal(perms, AUTH_PERM_READ);
	assert_string_equal(name, "reader");
	assert_int_equal(
	        auth_check(reg, pbkdf2_token, strlen(pbkdf2_token), &perms, name, sizeof(name)),
	        AUTH_OK);
	assert_int_equal(perms, AUTH_PERM_ADMIN | AUTH_PERM_READ);
	assert_string_equal(name, "ops.admin-1");
	assert_int_equal(auth_check(reg, "w", 1, &perms, name, 4), AUTH_OK);
	assert_int_equal(perms, AUTH_PERM_WRITE);
	assert_string_equal(name, "wri"); /* truncated to the buffer */
	assert_int_equal(auth_check(reg, "w", 1, &perms, NULL, 0), AUTH_OK);

	perms = 12345;
	assert_int_equal(auth_check(reg, "nope", 4, &perms, name, sizeof(name)), AUTH_EDENIED);
	assert_int_equal(perms, 12345); /* untouched on failure */

	/* Refusals: duplicate name, bad names, bad permissions, bad line. */
	assert_int_equal(
	        auth_registry_add(reg, "reader", sha_line, strlen(sha_line), AUTH_PERM_READ),
	        AUTH_EEXIST);
	static const char *const bad_names[] = {
	        "",
	        "a b",
	        "tok\n",
	        "ä",
	        "a$b",
	        ("0123456789012345678901234567890123456789012345678901"
	         "2345678901234")};
	for (size_t i = 0; i < NELEM(bad_names); i++)
		assert_int_equal(auth_registry_add(reg, bad_names[i], sha_line, strlen(sha_line),
		                                   AUTH_PERM_READ),
		                 AUTH_EFORMAT);
	assert_int_equal(auth_registry_add(reg, "x", sha_line, strlen(sha_line), 0), AUTH_EFORMAT);
	assert_int_equal(auth_registry_add(reg, "x", sha_line, strlen(sha_line), 8), AUTH_EFORMAT);
	assert_int_equal(auth_registry_add(reg, "x", "sha256$00", 9, AUTH_PERM_READ), AUTH_EFORMAT);
	assert_int_equal(auth_registry_count(reg), 3);

	/* Many entries grow the registry; the first match in order wins. */
	for (int i = 0; i < 20; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "dup%d", i);
		assert_int_equal(auth_registry_add(reg, nm, line, strlen(line), AUTH_PERM_READ),
		                 AUTH_OK);
	}
	assert_int_equal(auth_check(reg, "w", 1, &perms, name, sizeof(name)), AUTH_OK);
	assert_string_equal(name, "writer");
	auth_registry_free(reg);

	/* An empty registry refuses everything. */
	reg = auth_registry_create();
	assert_int_equal(auth_check(reg, "w", 1, &perms, NULL, 0), AUTH_EDENIED);
	auth_registry_free(reg);
	auth_registry_free(NULL);
}

static void test_legacy_token_has_every_permission(void **state)
{
	auth_registry *reg = auth_registry_create();
	char name[AUTH_NAME_MAX + 1];
	unsigned perms = 0;

	assert_int_equal(auth_registry_add_legacy(reg, "old-secret", 10), AUTH_OK);
	assert_int_equal(
	        auth_registry_add(reg, "reader", sha_line, strlen(sha_line), AUTH_PERM_READ),
	        AUTH_OK);
	assert_int_equal(auth_check(reg, "old-secret", 10, &perms, name, sizeof(name)), AUTH_OK);
	assert_int_equal(perms, AUTH_PERM_ALL);
	assert_string_equal(name, AUTH_LEGACY_NAME);
	assert_int_equal(auth_check(reg, "old-secre", 9, &perms, name, sizeof(name)), AUTH_EDENIED);
	assert_int_equal(auth_check(reg, "old-secret\n", 11, &perms, name, sizeof(name)),
	                 AUTH_EDENIED);
	/* Only one legacy token, and a named token cannot take its name. */
	assert_int_equal(auth_registry_add_legacy(reg, "other", 5), AUTH_EEXIST);
	assert_int_equal(auth_registry_add_legacy(reg, "", 0), AUTH_ETOOLONG);
	auth_registry_free(reg);

	reg = auth_registry_create();
	assert_int_equal(auth_registry_add(reg, AUTH_LEGACY_NAME, sha_line, strlen(sha_line),
	                                   AUTH_PERM_READ),
	                 AUTH_OK);
	assert_int_equal(auth_registry_add_legacy(reg, "old-secret", 10), AUTH_EEXIST);
	auth_registry_free(reg);
}

static void test_generated_tokens_are_base64url_and_distinct(void **state)
{
	char a[AUTH_GENERATED_LEN + 1], b[AUTH_GENERATED_LEN + 1];

	assert_int_equal(auth_token_generate(a, sizeof(a)), AUTH_OK);
	assert_int_equal(auth_token_generate(b, sizeof(b)), AUTH_OK);
	assert_int_equal(strlen(a), AUTH_GENERATED_LEN);
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < AUTH_GENERATED_LEN; i++)
		assert_non_null(strchr(
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
	assert_int_equal(auth_token_generate(a, AUTH_GENERATED_LEN), AUTH_ESPACE);
	assert_string_equal(auth_strerror(AUTH_EDENIED), "token refused");
	assert_string_equal(auth_strerror(-99), "unknown authentication error");
}

static void test_backoff_waits_after_three_failures_doubling_to_ten_seconds(void **state)
{
	auth_backoff *t = auth_backoff_create(16);
	const int64_t want[] = {0, 0, 100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000};
	int64_t now = 1000000;

	assert_non_null(t);
	assert_int_equal(auth_backoff_check(t, "10.0.0.1", now), 0);
	for (size_t i = 0; i < NELEM(want); i++) {
		assert_int_equal(auth_backoff_fail(t, "10.0.0.1", now), want[i]);
		assert_int_equal(auth_backoff_check(t, "10.0.0.1", now), want[i]);
		if (want[i] > 0) {
			assert_int_equal(auth_backoff_check(t, "10.0.0.1", now + want[i] - 1), 1);
			assert_int_equal(auth_backoff_check(t, "10.0.0.1", now + want[i]), 0);
		}
		now += want[i];
	}
	/* Another address is unaffected. */
	assert_int_equal(auth_backoff_check(t, "10.0.0.2", now), 0);
	assert_int_equal(auth_backoff_count(t), 1);

	/* A success clears the count. */
	auth_backoff_success(t, "10.0.0.1");
	assert_int_equal(auth_backoff_count(t), 0);
	assert_int_equal(auth_backoff_check(t, "10.0.0.1", now), 0);
	assert_int_equal(auth_backoff_fail(t, "10.0.0.1", now), 0);
	auth_backoff_success(t, "never-seen"); /* harmless */

	/* Quiet for AUTH_BACKOFF_FORGET_MS: the count starts over. */
	for (int i = 0; i < 5; i++)
		auth_backoff_fail(t, "10.0.0.3", now);
	assert_true(auth_backoff_check(t, "10.0.0.3", now) > 0);
	now += AUTH_BACKOFF_FORGET_MS;
	assert_int_equal(auth_backoff_check(t, "10.0.0.3", now), 0);
	assert_int_equal(auth_backoff_fail(t, "10.0.0.3", now), 0);

	/* A clock near the end of time does not overflow. */
	for (int i = 0; i < 4; i++)
		auth_backoff_fail(t, "late", INT64_MAX - 5);
	assert_int_equal(auth_backoff_check(t, "late", INT64_MAX - 5), 5);

	/* Over-long keys are truncated, not overrun. */
	char longaddr[AUTH_ADDR_MAX * 2];
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	auth_backoff_fail(t, longaddr, now);
	longaddr[AUTH_ADDR_MAX] = '\0';
	auth_backoff_success(t, longaddr);
	assert_int_equal(auth_backoff_count(t), 3);
	auth_backoff_free(t);
	auth_backoff_free(NULL);
	assert_null(auth_backoff_create(0));
}

static void test_backoff_evicts_the_least_recent_address_at_capacity(void **state)
{
	auth_backoff *t = auth_backoff_create(4);
	char addr[32];

	for (int i = 0; i < 4; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		for (int k = 0; k < 4; k++)
			auth_backoff_fail(t, addr, 1000 + i);
	}
	assert_int_equal(auth_backoff_count(t), 4);
	/* A new failure from .0 makes .1 the least recent. */
	auth_backoff_fail(t, "192.0.2.0", 2000);
	auth_backoff_fail(t, "198.51.100.9", 2000);
	assert_int_equal(auth_backoff_count(t), 4);
	assert_int_equal(auth_backoff_check(t, "192.0.2.1", 2000), 0); /* evicted */
	assert_true(auth_backoff_check(t, "192.0.2.0", 2000) > 0);
	assert_true(auth_backoff_check(t, "192.0.2.2", 1002) > 0);
	assert_true(auth_backoff_check(t, "192.0.2.3", 1003) > 0);

	/* Churn through many addresses: the count never passes the capacity. */
	for (int i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		auth_backoff_fail(t, addr, 3000 + i);
		if (i % 3 == 0)
			auth_backoff_success(t, addr);
		assert_true(auth_backoff_count(t) <= 4);
	}
	auth_backoff_free(t);
}

struct churn_arg {
	auth_backoff *t;
	int id;
};

static void *churn(void *p)
{
	struct churn_arg *a = p;
	char addr[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", a->id, i % 97);
		auth_backoff_fail(a->t, addr, i);
		(void)auth_backoff_check(a->t, addr, i);
		if (i % 7 == 0)
			auth_backoff_success(a->t, addr);
	}
	return NULL;
}

static void test_backoff_is_safe_to_share_between_threads(void **state)
{
	enum { NT = 4 };
	auth_backoff *t = auth_backoff_create(64);
	pthread_t th[NT];
	struct churn_arg args[NT];

	for (int i = 0; i < NT; i++) {
		args[i] = (struct churn_arg){t, i};
		assert_int_equal(pthread_create(&th[i], NULL, churn, &args[i]), 0);
	}
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	assert_true(auth_backoff_count(t) <= 64);
	auth_backoff_free(t);
}

static void test_peer_strings_give_their_address(void **state)
{
	char out[AUTH_ADDR_MAX + 1];

	assert_int_equal(auth_peer_addr("127.0.0.1:5000", out, sizeof(out)), AUTH_OK);
	assert_string_equal(out, "127.0.0.1");
	assert_int_equal(auth_peer_addr("[::1]:6379", out, sizeof(out)), AUTH_OK);
	assert_string_equal(out, "::1");
	assert_int_equal(auth_peer_addr("[::ffff:192.0.2.7]:1", out, sizeof(out)), AUTH_OK);
	assert_string_equal(out, "192.0.2.7");
	assert_int_equal(auth_peer_addr("[2001:db8::ffff:1]:1", out, sizeof(out)), AUTH_OK);
	assert_string_equal(out, "2001:db8::ffff:1");
	assert_int_equal(auth_peer_addr("", out, sizeof(out)), AUTH_EFORMAT);
	assert_int_equal(auth_peer_addr("nocolon", out, sizeof(out)), AUTH_EFORMAT);
	assert_int_equal(auth_peer_addr(":80", out, sizeof(out)), AUTH_EFORMAT);
	assert_int_equal(auth_peer_addr("[]:80", out, sizeof(out)), AUTH_EFORMAT);
	assert_int_equal(auth_peer_addr("[::1:80", out, sizeof(out)), AUTH_EFORMAT);
	assert_int_equal(auth_peer_addr("127.0.0.1:5000", out, 9), AUTH_ESPACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixed_vectors_match_openssl),
	        cmocka_unit_test(test_hash_lines_round_trip_with_a_fresh_salt),
	        cmocka_unit_test(test_malformed_lines_are_refused),
	        cmocka_unit_test(test_tokens_over_the_length_limit_are_refused_before_hashing),
	        cmocka_unit_test(test_permission_lists_parse_and_format),
	        cmocka_unit_test(test_command_flags_map_to_permissions),
	        cmocka_unit_test(test_registry_checks_named_tokens_and_reports_the_match),
	        cmocka_unit_test(test_legacy_token_has_every_permission),
	        cmocka_unit_test(test_generated_tokens_are_base64url_and_distinct),
	        cmocka_unit_test(test_backoff_waits_after_three_failures_doubling_to_ten_seconds),
	        cmocka_unit_test(test_backoff_evicts_the_least_recent_address_at_capacity),
	        cmocka_unit_test(test_backoff_is_safe_to_share_between_threads),
	        cmocka_unit_test(test_peer_strings_give_their_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
