/* test_cmd_string.c - unit tests for the string commands (src/cmd_string.c),
 * run through the real command table against a real store (cmd_harness.h).
 *
 * Replies are compared byte for byte with what Redis 7 sends in RESP2, with
 * RESP3 and the line protocol where they differ. Expiries are read straight
 * from the store, so these tests do not depend on the TTL commands of another
 * family. Every test has its own session, so LeakSanitizer checks each one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_harness.h"

#define R2(...) cmds_run(s, PROTO_RESP2, __VA_ARGS__, (const char *)NULL)
#define R3(...) cmds_run(s, PROTO_RESP3, __VA_ARGS__, (const char *)NULL)
#define LN(...) cmds_run(s, PROTO_LINE, __VA_ARGS__, (const char *)NULL)

#define NOT_INT   "-ERR value is not an integer or out of range\r\n"
#define NOT_FLOAT "-ERR value is not a valid float\r\n"
#define SYNTAX    "-ERR syntax error\r\n"
#define TOO_BIG   "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"

static int setup(void **state)
{
	*state = cmds_new(NULL);
	return *state != NULL && ((cmd_session *)*state)->st != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	cmds_free(*state);
	return 0;
}

struct expiry {
	int found;
	int64_t at;
};

static void expiry_of(const void *val, size_t vlen, int64_t expire_at_ms, void *arg)
{
	struct expiry *e = arg;
	(void)val;
	(void)vlen;
	e->found = 1;
	e->at = expire_at_ms;
}

/* The key's absolute expiry in Unix ms, 0 if none, -1 if the key is absent. */
static int64_t expiry(cmd_session *s, const char *key)
{
	struct expiry e = {0};
	store_get(s->st, key, strlen(key), expiry_of, &e);
	return e.found ? e.at : -1;
}

/* Asserts that the key expires between lo and hi ms from now. */
static void assert_ttl_between(cmd_session *s, const char *key, int64_t lo, int64_t hi)
{
	int64_t now = cmd_now_ms(), at = expiry(s, key);
	assert_in_range(at - now, lo, hi);
}

static int exists(cmd_session *s, const char *key)
{
	return store_exists(s->st, key, strlen(key));
}

/* ---- GET, LOOKUP ---- */

static void test_get_and_lookup_return_the_value_or_null_in_every_protocol(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "hello"), "+OK\r\n");
	assert_string_equal(R2("GET", "k"), "$5\r\nhello\r\n");
	assert_string_equal(R2("lookup", "k"), "$5\r\nhello\r\n");
	assert_string_equal(R2("GET", "missing"), "$-1\r\n");
	assert_string_equal(R3("GET", "missing"), "_\r\n");
	assert_string_equal(LN("LOOKUP", "k"), "hello\n");
	assert_string_equal(LN("LOOKUP", "missing"), "NOT FOUND\n");
	assert_string_equal(LN("GET", "missing"), "NOT FOUND\n");
}

static void test_binary_values_round_trip(void **state)
{
	cmd_session *s = *state;
	const char *set[] = {"SET", "k\0k", "a\0b\r\n"};
	const size_t set_lens[] = {3, 3, 5};
	const char *get[] = {"GET", "k\0k"};
	const size_t get_lens[] = {3, 3};
	assert_string_equal(cmds_runv(s, PROTO_RESP2, 3, set, set_lens), "+OK\r\n");
	const char *out = cmds_runv(s, PROTO_RESP2, 2, get, get_lens);
	assert_int_equal(cmds_len(s), 11);
	assert_memory_equal(out, "$5\r\na\0b\r\n\r\n", 11);
	assert_string_equal(cmds_runv(s, PROTO_LINE, 2, get, get_lens), "\"a\\x00b\\r\\n\"\n");
}

static void test_wrong_arity_is_an_error_naming_the_command(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("GET"), "-ERR wrong number of arguments for 'get' command\r\n");
	assert_string_equal(R2("GET", "a", "b"),
	                    "-ERR wrong number of arguments for 'get' command\r\n");
	assert_string_equal(R2("SET", "k"), "-ERR wrong number of arguments for 'set' command\r\n");
	assert_string_equal(R2("SETNX", "k"),
	                    "-ERR wrong number of arguments for 'setnx' command\r\n");
	assert_string_equal(R2("SETEX", "k", "10"),
	                    "-ERR wrong number of arguments for 'setex' command\r\n");
	assert_string_equal(R2("GETEX"), "-ERR wrong number of arguments for 'getex' command\r\n");
	assert_string_equal(R2("GETRANGE", "k", "0"),
	                    "-ERR wrong number of arguments for 'getrange' command\r\n");
	assert_string_equal(R2("INCRBY", "k"),
	                    "-ERR wrong number of arguments for 'incrby' command\r\n");
	assert_string_equal(R2("MGET"), "-ERR wrong number of arguments for 'mget' command\r\n");
	assert_string_equal(R2("MSET", "a"),
	                    "-ERR wrong number of arguments for 'mset' command\r\n");
	/* An odd number of keys and values is caught by the handler. */
	assert_string_equal(R2("MSET", "a", "1", "b"),
	                    "-ERR wrong number of arguments for 'mset' command\r\n");
	assert_string_equal(R2("MSETNX", "a", "1", "b"),
	                    "-ERR wrong number of arguments for 'msetnx' command\r\n");
	assert_false(exists(s, "a"));
	assert_string_equal(LN("SET", "k"), "ERROR: wrong number of arguments for 'set' command\n");
}

/* ---- SET options ---- */

static void test_set_options_that_conflict_are_a_syntax_error(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "v", "NX", "XX"), SYNTAX);
	assert_string_equal(R2("SET", "k", "v", "xx", "nx"), SYNTAX);
	assert_string_equal(R2("SET", "k", "v", "EX", "10", "PX", "100"), SYNTAX);
	assert_string_equal(R2("SET", "k", "v", "EX", "10", "KEEPTTL"), SYNTAX);
	assert_string_equal(R2("SET", "k", "v", "KEEPTTL", "PXAT", "100"), SYNTAX);
	assert_string_equal(R2("SET", "k", "v", "EX"), SYNTAX);
	assert_string_equal(R2("SET", "k", "v", "PERSIST"), SYNTAX);
	assert_string_equal(R2("SET", "k", "v", "NXX"), SYNTAX);
	assert_string_equal(R2("SET", "k", "v", "EXX", "1"), SYNTAX);
	assert_false(exists(s, "k"));
	/* Repeating an option, or the same expiry form, is allowed. */
	assert_string_equal(R2("SET", "k", "v", "nx", "NX", "ex", "100", "EX", "200"), "+OK\r\n");
	assert_ttl_between(s, "k", 199000, 200000);
	assert_string_equal(LN("SET", "k", "v", "NX", "XX"), "ERROR: syntax error\n");
}

static void test_set_rejects_non_positive_and_overflowing_expire_times(void **state)
{
	cmd_session *s = *state;
	const char *bad = "-ERR invalid expire time in 'set' command\r\n";
	assert_string_equal(R2("SET", "k", "v", "EX", "0"), bad);
	assert_string_equal(R2("SET", "k", "v", "EX", "-1"), bad);
	assert_string_equal(R2("SET", "k", "v", "PX", "0"), bad);
	assert_string_equal(R2("SET", "k", "v", "EXAT", "0"), bad);
	assert_string_equal(R2("SET", "k", "v", "PXAT", "-5"), bad);
	/* Seconds that overflow when scaled to ms, and ms that overflow when the
	 * current time is added. */
	assert_string_equal(R2("SET", "k", "v", "EX", "9223372036854776"), bad);
	assert_string_equal(R2("SET", "k", "v", "EXAT", "9223372036854776"), bad);
	assert_string_equal(R2("SET", "k", "v", "PX", "9223372036854775807"), bad);
	assert_string_equal(R2("SET", "k", "v", "PX", "9223372036854775000"), bad);
	assert_string_equal(R2("SET", "k", "v", "EX", "ten"), NOT_INT);
	assert_string_equal(R2("SET", "k", "v", "EX", " 10"), NOT_INT);
	assert_string_equal(R2("SET", "k", "v", "PX", "99999999999999999999"), NOT_INT);
	assert_false(exists(s, "k"));
	/* The largest absolute time needs no addition and is accepted. */
	assert_string_equal(R2("SET", "k", "v", "PXAT", "9223372036854775807"), "+OK\r\n");
	assert_int_equal(expiry(s, "k"), INT64_MAX);
}

static void test_set_with_each_expiry_form_stores_an_absolute_time(void **state)
{
	cmd_session *s = *state;
	char at[32];
	assert_string_equal(R2("SET", "a", "v", "EX", "100"), "+OK\r\n");
	assert_ttl_between(s, "a", 99000, 100000);
	assert_string_equal(R2("SET", "b", "v", "px", "5000"), "+OK\r\n");
	assert_ttl_between(s, "b", 4000, 5000);
	snprintf(at, sizeof(at), "%lld", (long long)(cmd_now_ms() / 1000 + 100));
	assert_string_equal(R2("SET", "c", "v", "EXAT", at), "+OK\r\n");
	assert_int_equal(expiry(s, "c") % 1000, 0);
	assert_ttl_between(s, "c", 98000, 100000);
	snprintf(at, sizeof(at), "%lld", (long long)(cmd_now_ms() + 60000));
	assert_string_equal(R2("SET", "d", "v", "PXAT", at), "+OK\r\n");
	assert_int_equal(expiry(s, "d"), strtoll(at, NULL, 10));
}

static void test_set_with_a_time_in_the_past_leaves_no_key(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "old"), "+OK\r\n");
	assert_string_equal(R2("SET", "k", "v", "EXAT", "1"), "+OK\r\n");
	assert_string_equal(R2("GET", "k"), "$-1\r\n");
	assert_string_equal(R2("SET", "k", "v", "PXAT", "1", "GET"), "$-1\r\n");
	assert_false(exists(s, "k"));
}

static void test_set_clears_the_ttl_and_keepttl_keeps_it(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "v1", "EX", "100"), "+OK\r\n");
	int64_t at = expiry(s, "k");
	assert_true(at > 0);
	assert_string_equal(R2("SET", "k", "v2", "KEEPTTL"), "+OK\r\n");
	assert_int_equal(expiry(s, "k"), at);
	assert_string_equal(R2("GET", "k"), "$2\r\nv2\r\n");
	assert_string_equal(R2("SET", "k", "v3"), "+OK\r\n");
	assert_int_equal(expiry(s, "k"), 0);
	/* KEEPTTL on a new key: no expiry. */
	assert_string_equal(R2("SET", "n", "v", "KEEPTTL"), "+OK\r\n");
	assert_int_equal(expiry(s, "n"), 0);
}

static void test_set_nx_and_xx_answer_null_when_their_condition_fails(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "v1", "XX"), "$-1\r\n");
	assert_false(exists(s, "k"));
	assert_string_equal(R2("SET", "k", "v1", "NX"), "+OK\r\n");
	assert_string_equal(R2("SET", "k", "v2", "NX"), "$-1\r\n");
	assert_string_equal(R3("SET", "k", "v2", "NX"), "_\r\n");
	assert_string_equal(LN("SET", "k", "v2", "NX"), "NOT FOUND\n");
	assert_string_equal(R2("GET", "k"), "$2\r\nv1\r\n");
	assert_string_equal(R2("SET", "k", "v3", "XX", "PX", "100000"), "+OK\r\n");
	assert_string_equal(R2("GET", "k"), "$2\r\nv3\r\n");
	assert_true(expiry(s, "k") > 0);
}

static void test_set_get_returns_the_old_value_or_null(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "v1", "GET"), "$-1\r\n");
	assert_string_equal(R2("GET", "k"), "$2\r\nv1\r\n");
	assert_string_equal(R2("SET", "k", "v2", "GET"), "$2\r\nv1\r\n");
	assert_string_equal(R3("SET", "n", "v", "get"), "_\r\n");
	/* With NX on an existing key: the old value, and nothing is written. */
	assert_string_equal(R2("SET", "k", "v3", "NX", "GET"), "$2\r\nv2\r\n");
	assert_string_equal(R2("GET", "k"), "$2\r\nv2\r\n");
	/* With XX on a missing key: null, and nothing is created. */
	assert_string_equal(R2("SET", "x", "v", "XX", "GET"), "$-1\r\n");
	assert_false(exists(s, "x"));
	assert_string_equal(R2("SET", "k", "v4", "GET", "EX", "100"), "$2\r\nv2\r\n");
	assert_ttl_between(s, "k", 99000, 100000);
	assert_string_equal(LN("SET", "k", "v5", "GET"), "v4\n");
}

static void test_set_refuses_a_key_or_value_over_the_store_limits(void **state)
{
	cmd_session *s = *state;
	store_config cfg = {.max_key_bytes = 4, .max_value_bytes = 8};
	cmds_free(s);
	s = *state = cmds_new(&cfg);
	assert_string_equal(R2("SET", "12345", "v"), "-ERR key too large\r\n");
	assert_string_equal(R2("SET", "k", "123456789"), "-ERR value too large\r\n");
	assert_string_equal(R2("SET", "k", "123456789", "GET"), "-ERR value too large\r\n");
	assert_string_equal(R2("MSET", "a", "1", "k", "123456789"), "-ERR value too large\r\n");
	assert_false(exists(s, "a"));
	assert_int_equal(store_count(s->st), 0);
}

/* ---- SETNX, SETEX, PSETEX, GETSET ---- */

static void test_setnx_answers_one_when_it_sets_and_zero_when_the_key_exists(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SETNX", "k", "v1"), ":1\r\n");
	assert_string_equal(R2("SETNX", "k", "v2"), ":0\r\n");
	assert_string_equal(LN("SETNX", "k", "v2"), "0\n");
	assert_string_equal(R2("GET", "k"), "$2\r\nv1\r\n");
}

static void test_setex_and_psetex_set_the_value_and_the_ttl(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "old", "EX", "5"), "+OK\r\n");
	assert_string_equal(R2("SETEX", "k", "100", "v"), "+OK\r\n");
	assert_string_equal(R2("GET", "k"), "$1\r\nv\r\n");
	assert_ttl_between(s, "k", 99000, 100000);
	assert_string_equal(R2("PSETEX", "p", "1500", "v"), "+OK\r\n");
	assert_ttl_between(s, "p", 500, 1500);
	assert_string_equal(R2("SETEX", "x", "0", "v"),
	                    "-ERR invalid expire time in 'setex' command\r\n");
	assert_string_equal(R2("PSETEX", "x", "-5", "v"),
	                    "-ERR invalid expire time in 'psetex' command\r\n");
	assert_string_equal(R2("SETEX", "x", "1.5", "v"), NOT_INT);
	assert_false(exists(s, "x"));
}

static void test_getset_returns_the_old_value_and_clears_the_ttl(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("GETSET", "k", "v1"), "$-1\r\n");
	assert_string_equal(R2("GET", "k"), "$2\r\nv1\r\n");
	assert_string_equal(R2("SET", "k", "v2", "EX", "100"), "+OK\r\n");
	assert_string_equal(R2("GETSET", "k", "v3"), "$2\r\nv2\r\n");
	assert_int_equal(expiry(s, "k"), 0);
	assert_string_equal(R3("GETSET", "n", "v"), "_\r\n");
}

/* ---- GETDEL, GETEX ---- */

static void test_getdel_returns_the_value_and_deletes_the_key(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "v"), "+OK\r\n");
	assert_string_equal(R2("GETDEL", "k"), "$1\r\nv\r\n");
	assert_false(exists(s, "k"));
	assert_string_equal(R2("GETDEL", "k"), "$-1\r\n");
	assert_string_equal(R3("GETDEL", "k"), "_\r\n");
	assert_string_equal(LN("GETDEL", "k"), "NOT FOUND\n");
}

static void test_getex_sets_or_removes_the_ttl_and_returns_the_value(void **state)
{
	cmd_session *s = *state;
	char at[32];
	assert_string_equal(R2("SET", "k", "v"), "+OK\r\n");
	assert_string_equal(R2("GETEX", "k"), "$1\r\nv\r\n");
	assert_int_equal(expiry(s, "k"), 0);
	assert_string_equal(R2("GETEX", "k", "EX", "100"), "$1\r\nv\r\n");
	assert_ttl_between(s, "k", 99000, 100000);
	assert_string_equal(R2("GETEX", "k", "PX", "50000"), "$1\r\nv\r\n");
	assert_ttl_between(s, "k", 49000, 50000);
	snprintf(at, sizeof(at), "%lld", (long long)(cmd_now_ms() + 70000));
	assert_string_equal(R2("GETEX", "k", "PXAT", at), "$1\r\nv\r\n");
	assert_int_equal(expiry(s, "k"), strtoll(at, NULL, 10));
	snprintf(at, sizeof(at), "%lld", (long long)(cmd_now_ms() / 1000 + 80));
	assert_string_equal(R2("GETEX", "k", "exat", at), "$1\r\nv\r\n");
	assert_int_equal(expiry(s, "k"), strtoll(at, NULL, 10) * 1000);
	/* Without options the ttl stays. */
	assert_string_equal(R2("GETEX", "k"), "$1\r\nv\r\n");
	assert_int_equal(expiry(s, "k"), strtoll(at, NULL, 10) * 1000);
	assert_string_equal(R2("GETEX", "k", "PERSIST"), "$1\r\nv\r\n");
	assert_int_equal(expiry(s, "k"), 0);
	assert_string_equal(R2("GETEX", "k", "PERSIST"), "$1\r\nv\r\n");
	assert_int_equal(expiry(s, "k"), 0);
}

static void test_getex_with_a_past_absolute_time_returns_the_value_and_deletes(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "v"), "+OK\r\n");
	assert_string_equal(R2("GETEX", "k", "PXAT", "1"), "$1\r\nv\r\n");
	assert_false(exists(s, "k"));
}

static void test_getex_checks_syntax_first_then_the_key_then_the_expiry(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("GETEX", "k", "NX"), SYNTAX);
	assert_string_equal(R2("GETEX", "k", "KEEPTTL"), SYNTAX);
	assert_string_equal(R2("GETEX", "k", "PERSIST", "EX", "10"), SYNTAX);
	assert_string_equal(R2("GETEX", "k", "EX", "10", "PERSIST"), SYNTAX);
	assert_string_equal(R2("GETEX", "k", "EX"), SYNTAX);
	/* A missing key answers null even with a bad expiry, as in Redis. */
	assert_string_equal(R2("GETEX", "k", "EX", "-1"), "$-1\r\n");
	assert_string_equal(R2("GETEX", "k", "EX", "abc"), "$-1\r\n");
	assert_string_equal(R3("GETEX", "k"), "_\r\n");
	assert_string_equal(R2("SET", "k", "v", "EX", "100"), "+OK\r\n");
	int64_t at = expiry(s, "k");
	assert_string_equal(R2("GETEX", "k", "EX", "-1"),
	                    "-ERR invalid expire time in 'getex' command\r\n");
	assert_string_equal(R2("GETEX", "k", "PX", "0"),
	                    "-ERR invalid expire time in 'getex' command\r\n");
	assert_string_equal(R2("GETEX", "k", "EX", "abc"), NOT_INT);
	assert_int_equal(expiry(s, "k"), at);
}

/* ---- MGET, MSET, MSETNX ---- */

static void test_mget_gives_a_nil_element_for_each_missing_key(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("MSET", "a", "1", "c", "3"), "+OK\r\n");
	assert_string_equal(R2("MGET", "a", "b", "c"), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n");
	assert_string_equal(R3("MGET", "a", "b"), "*2\r\n$1\r\n1\r\n_\r\n");
	assert_string_equal(LN("MGET", "a", "b", "c"), "1 (nil) 3\n");
	assert_string_equal(R2("MGET", "x"), "*1\r\n$-1\r\n");
}

static void test_mset_sets_every_pair_and_a_repeated_key_takes_the_last_value(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "a", "old", "EX", "100"), "+OK\r\n");
	assert_string_equal(R2("MSET", "a", "1", "b", "2", "a", "3"), "+OK\r\n");
	assert_string_equal(R2("MGET", "a", "b"), "*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
	assert_int_equal(expiry(s, "a"), 0);
	assert_string_equal(LN("MSET", "c", "x"), "OK\n");
}

static void test_mset_with_more_pairs_than_fit_on_the_stack(void **state)
{
	cmd_session *s = *state;
	enum { PAIRS = 30 };
	const char *argv[1 + 2 * PAIRS];
	size_t lens[1 + 2 * PAIRS];
	char names[PAIRS][8];
	argv[0] = "MSET";
	lens[0] = 4;
	for (int i = 0; i < PAIRS; i++) {
		snprintf(names[i], sizeof(names[i]), "k%d", i);
		argv[1 + 2 * i] = names[i];
		lens[1 + 2 * i] = strlen(names[i]);
		argv[2 + 2 * i] = names[i];
		lens[2 + 2 * i] = strlen(names[i]);
	}
	assert_string_equal(cmds_runv(s, PROTO_RESP2, 1 + 2 * PAIRS, argv, lens), "+OK\r\n");
	assert_int_equal(store_count(s->st), PAIRS);
	assert_string_equal(R2("GET", "k29"), "$3\r\nk29\r\n");
	argv[0] = "MSETNX";
	lens[0] = 6;
	assert_string_equal(cmds_runv(s, PROTO_RESP2, 1 + 2 * PAIRS, argv, lens), ":0\r\n");
}

static void test_msetnx_sets_all_keys_or_none(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("MSETNX", "a", "1", "b", "2"), ":1\r\n");
	assert_string_equal(R2("MSETNX", "c", "3", "b", "x"), ":0\r\n");
	assert_false(exists(s, "c"));
	assert_string_equal(R2("GET", "b"), "$1\r\n2\r\n");
	assert_string_equal(LN("MSETNX", "a", "x"), "0\n");
	/* A key repeated within one MSETNX is not "existing". */
	assert_string_equal(R2("MSETNX", "d", "1", "d", "2"), ":1\r\n");
	assert_string_equal(R2("GET", "d"), "$1\r\n2\r\n");
}

/* ---- APPEND, STRLEN ---- */

static void test_append_creates_a_missing_key_and_returns_the_new_length(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("APPEND", "k", "Hello"), ":5\r\n");
	assert_string_equal(R2("APPEND", "k", " World"), ":11\r\n");
	assert_string_equal(R2("GET", "k"), "$11\r\nHello World\r\n");
	assert_string_equal(R2("APPEND", "k", ""), ":11\r\n");
	assert_string_equal(R2("APPEND", "e", ""), ":0\r\n");
	assert_true(exists(s, "e"));
	assert_string_equal(LN("APPEND", "k", "!"), "12\n");
}

static void test_append_keeps_the_ttl(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "a", "EX", "100"), "+OK\r\n");
	int64_t at = expiry(s, "k");
	assert_string_equal(R2("APPEND", "k", "b"), ":2\r\n");
	assert_int_equal(expiry(s, "k"), at);
}

static void test_append_beyond_the_maximum_size_is_refused(void **state)
{
	cmd_session *s = *state;
	s->cfg.max_bulk_bytes = 8;
	assert_string_equal(R2("APPEND", "k", "12345"), ":5\r\n");
	assert_string_equal(R2("APPEND", "k", "678"), ":8\r\n");
	assert_string_equal(R2("APPEND", "k", "9"), TOO_BIG);
	assert_string_equal(R2("GET", "k"), "$8\r\n12345678\r\n");
	assert_string_equal(LN("APPEND", "k", "9"),
	                    "ERROR: string exceeds maximum allowed size (proto-max-bulk-len)\n");
}

static void test_append_beyond_the_store_value_limit_is_refused(void **state)
{
	cmd_session *s = *state;
	store_config cfg = {.max_value_bytes = 4};
	cmds_free(s);
	s = *state = cmds_new(&cfg);
	assert_string_equal(R2("APPEND", "k", "1234"), ":4\r\n");
	assert_string_equal(R2("APPEND", "k", "5"), TOO_BIG);
	assert_string_equal(R2("GET", "k"), "$4\r\n1234\r\n");
}

static void test_strlen_counts_bytes_and_is_zero_for_a_missing_key(void **state)
{
	cmd_session *s = *state;
	const char *set[] = {"SET", "k", "a\0b"};
	const size_t lens[] = {3, 1, 3};
	assert_string_equal(cmds_runv(s, PROTO_RESP2, 3, set, lens), "+OK\r\n");
	assert_string_equal(R2("STRLEN", "k"), ":3\r\n");
	assert_string_equal(R2("STRLEN", "missing"), ":0\r\n");
	assert_string_equal(LN("STRLEN", "k"), "3\n");
}

/* ---- GETRANGE, SETRANGE ---- */

static void test_getrange_handles_negative_and_out_of_range_indices(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "This is a string"), "+OK\r\n");
	assert_string_equal(R2("GETRANGE", "k", "0", "3"), "$4\r\nThis\r\n");
	assert_string_equal(R2("GETRANGE", "k", "-3", "-1"), "$3\r\ning\r\n");
	assert_string_equal(R2("GETRANGE", "k", "0", "-1"), "$16\r\nThis is a string\r\n");
	assert_string_equal(R2("GETRANGE", "k", "10", "100"), "$6\r\nstring\r\n");
	assert_string_equal(R2("GETRANGE", "k", "-100", "3"), "$4\r\nThis\r\n");
	assert_string_equal(R2("GETRANGE", "k", "5", "3"), "$0\r\n\r\n");
	assert_string_equal(R2("GETRANGE", "k", "-1", "-5"), "$0\r\n\r\n");
	assert_string_equal(R2("GETRANGE", "k", "16", "20"), "$0\r\n\r\n");
	/* Redis 7: an end before the start of the string is clamped to 0. */
	assert_string_equal(R2("GETRANGE", "k", "0", "-100"), "$1\r\nT\r\n");
	assert_string_equal(R2("GETRANGE", "k", "-9223372036854775808", "9223372036854775807"),
	                    "$16\r\nThis is a string\r\n");
	assert_string_equal(R2("SUBSTR", "k", "5", "6"), "$2\r\nis\r\n");
	assert_string_equal(LN("GETRANGE", "k", "0", "3"), "This\n");
}

static void test_getrange_of_a_missing_or_empty_value_is_empty(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("GETRANGE", "missing", "0", "-1"), "$0\r\n\r\n");
	assert_string_equal(R3("GETRANGE", "missing", "0", "-1"), "$0\r\n\r\n");
	assert_string_equal(R2("SET", "e", ""), "+OK\r\n");
	assert_string_equal(R2("GETRANGE", "e", "0", "-1"), "$0\r\n\r\n");
	assert_string_equal(R2("GETRANGE", "e", "0", "0"), "$0\r\n\r\n");
	assert_string_equal(R2("GETRANGE", "e", "x", "0"), NOT_INT);
	assert_string_equal(R2("GETRANGE", "e", "0", "1.5"), NOT_INT);
}

static void test_setrange_overwrites_and_pads_with_zero_bytes(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "Hello World"), "+OK\r\n");
	assert_string_equal(R2("SETRANGE", "k", "6", "Redis"), ":11\r\n");
	assert_string_equal(R2("GET", "k"), "$11\r\nHello Redis\r\n");
	assert_string_equal(R2("SETRANGE", "k", "9", "xyz"), ":12\r\n");
	assert_string_equal(R2("GET", "k"), "$12\r\nHello Redxyz\r\n");
	assert_string_equal(R2("SETRANGE", "p", "5", "ab"), ":7\r\n");
	const char *out = R2("GET", "p");
	assert_int_equal(cmds_len(s), 13);
	assert_memory_equal(out, "$7\r\n\0\0\0\0\0ab\r\n", 13);
	assert_string_equal(R2("SETRANGE", "k", "14", "!"), ":15\r\n");
	out = R2("GET", "k");
	assert_memory_equal(out, "$15\r\nHello Redxyz\0\0!\r\n", 22);
}

static void test_setrange_with_an_empty_value_creates_no_key(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SETRANGE", "k", "0", ""), ":0\r\n");
	assert_string_equal(R2("SETRANGE", "k", "100", ""), ":0\r\n");
	/* No size check when nothing is written, as in Redis. */
	assert_string_equal(R2("SETRANGE", "k", "536870912", ""), ":0\r\n");
	assert_false(exists(s, "k"));
	assert_string_equal(R2("SET", "k", "abc"), "+OK\r\n");
	assert_string_equal(R2("SETRANGE", "k", "10", ""), ":3\r\n");
	assert_string_equal(R2("GET", "k"), "$3\r\nabc\r\n");
}

static void test_setrange_rejects_negative_and_oversized_offsets(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SETRANGE", "k", "-1", "x"), "-ERR offset is out of range\r\n");
	assert_string_equal(R2("SETRANGE", "k", "one", "x"), NOT_INT);
	assert_string_equal(R2("SETRANGE", "k", "536870912", "x"), TOO_BIG);
	assert_string_equal(R2("SETRANGE", "k", "536870911", "xy"), TOO_BIG);
	assert_string_equal(R2("SETRANGE", "k", "9223372036854775807", "x"), TOO_BIG);
	assert_false(exists(s, "k"));
	s->cfg.max_value_bytes = 16;
	assert_string_equal(R2("SETRANGE", "k", "16", "x"), TOO_BIG);
	assert_string_equal(R2("SETRANGE", "k", "15", "x"), ":16\r\n");
}

static void test_setrange_beyond_the_store_value_limit_is_refused(void **state)
{
	cmd_session *s = *state;
	store_config cfg = {.max_value_bytes = 8};
	cmds_free(s);
	s = *state = cmds_new(&cfg);
	assert_string_equal(R2("SETRANGE", "k", "8", "x"), TOO_BIG);
	assert_false(exists(s, "k"));
	assert_string_equal(R2("SETRANGE", "k", "7", "x"), ":8\r\n");
}

static void test_setrange_keeps_the_ttl(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "abc", "EX", "100"), "+OK\r\n");
	int64_t at = expiry(s, "k");
	assert_string_equal(R2("SETRANGE", "k", "1", "B"), ":3\r\n");
	assert_int_equal(expiry(s, "k"), at);
	assert_string_equal(R2("GET", "k"), "$3\r\naBc\r\n");
}

/* ---- INCR family ---- */

static void test_incr_and_decr_start_from_zero_and_store_the_text(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("INCR", "k"), ":1\r\n");
	assert_string_equal(R2("INCRBY", "k", "10"), ":11\r\n");
	assert_string_equal(R2("DECR", "k"), ":10\r\n");
	assert_string_equal(R2("DECRBY", "k", "13"), ":-3\r\n");
	assert_string_equal(R2("GET", "k"), "$2\r\n-3\r\n");
	assert_string_equal(R2("DECR", "d"), ":-1\r\n");
	assert_string_equal(R2("INCRBY", "k", "-7"), ":-10\r\n");
	assert_string_equal(LN("INCR", "k"), "-9\n");
	assert_string_equal(R3("INCR", "k"), ":-8\r\n");
}

static void test_incr_refuses_a_value_that_is_not_a_strict_integer(void **state)
{
	cmd_session *s = *state;
	const char *bad[] = {"abc",
	                     "  1",
	                     "1 ",
	                     "01",
	                     "+1",
	                     "1.0",
	                     "",
	                     "-",
	                     "-0x1",
	                     "9223372036854775808",
	                     "123456789012345678901"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_string_equal(R2("SET", "k", bad[i]), "+OK\r\n");
		assert_string_equal(R2("INCR", "k"), NOT_INT);
		assert_string_equal(R2("DECRBY", "k", "1"), NOT_INT);
	}
	assert_string_equal(R2("GET", "k"), "$21\r\n123456789012345678901\r\n");
	assert_string_equal(R2("INCRBY", "n", "x"), NOT_INT);
	assert_string_equal(R2("INCRBY", "n", "1.5"), NOT_INT);
	assert_string_equal(R2("DECRBY", "n", " 1"), NOT_INT);
	assert_false(exists(s, "n"));
	assert_string_equal(LN("INCR", "k"), "ERROR: value is not an integer or out of range\n");
}

static void test_incr_overflow_at_the_limits_is_refused(void **state)
{
	cmd_session *s = *state;
	const char *overflow = "-ERR increment or decrement would overflow\r\n";
	assert_string_equal(R2("SET", "k", "9223372036854775807"), "+OK\r\n");
	assert_string_equal(R2("INCR", "k"), overflow);
	assert_string_equal(R2("INCRBY", "k", "9223372036854775807"), overflow);
	assert_string_equal(R2("GET", "k"), "$19\r\n9223372036854775807\r\n");
	assert_string_equal(R2("DECR", "k"), ":9223372036854775806\r\n");
	assert_string_equal(R2("SET", "m", "-9223372036854775808"), "+OK\r\n");
	assert_string_equal(R2("DECR", "m"), overflow);
	assert_string_equal(R2("INCRBY", "m", "-1"), overflow);
	assert_string_equal(R2("INCR", "m"), ":-9223372036854775807\r\n");
}

static void test_incrby_and_decrby_at_llong_min(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("INCRBY", "k", "-9223372036854775808"), ":-9223372036854775808\r\n");
	assert_string_equal(R2("INCRBY", "k", "-1"),
	                    "-ERR increment or decrement would overflow\r\n");
	assert_string_equal(R2("INCRBY", "k", "9223372036854775807"), ":-1\r\n");
	/* Negating LLONG_MIN does not exist. */
	assert_string_equal(R2("DECRBY", "k", "-9223372036854775808"),
	                    "-ERR decrement would overflow\r\n");
	assert_string_equal(R2("DECRBY", "k", "9223372036854775807"), ":-9223372036854775808\r\n");
	assert_string_equal(R2("INCRBY", "k", "-9223372036854775809"), NOT_INT);
}

static void test_incr_keeps_the_ttl(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "5", "EX", "100"), "+OK\r\n");
	int64_t at = expiry(s, "k");
	assert_string_equal(R2("INCR", "k"), ":6\r\n");
	assert_string_equal(R2("DECRBY", "k", "2"), ":4\r\n");
	assert_int_equal(expiry(s, "k"), at);
}

/* ---- INCRBYFLOAT ---- */

static void test_incrbyfloat_stores_the_shortest_decimal_text(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "10.5"), "+OK\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "k", "0.1"), "$4\r\n10.6\r\n");
	assert_string_equal(R2("GET", "k"), "$4\r\n10.6\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "k", "-5"), "$3\r\n5.6\r\n");
	assert_string_equal(R2("SET", "e", "5.0e3"), "+OK\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "e", "0"), "$4\r\n5000\r\n");
	assert_string_equal(R2("GET", "e"), "$4\r\n5000\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "n", "3"), "$1\r\n3\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "n", "-3"), "$1\r\n0\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "n", "-1.5"), "$4\r\n-1.5\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "n", "1e2"), "$4\r\n98.5\r\n");
	assert_string_equal(R3("INCRBYFLOAT", "n", "0.5"), "$2\r\n99\r\n");
	assert_string_equal(LN("INCRBYFLOAT", "n", "1"), "100\n");
	/* An integer-valued result is still usable by INCR. */
	assert_string_equal(R2("INCR", "n"), ":101\r\n");
}

static void test_incrbyfloat_refuses_invalid_floats_nan_and_infinity(void **state)
{
	cmd_session *s = *state;
	const char *naninf = "-ERR increment would produce NaN or Infinity\r\n";
	assert_string_equal(R2("INCRBYFLOAT", "k", "abc"), NOT_FLOAT);
	assert_string_equal(R2("INCRBYFLOAT", "k", " 1"), NOT_FLOAT);
	assert_string_equal(R2("INCRBYFLOAT", "k", "1x"), NOT_FLOAT);
	assert_string_equal(R2("INCRBYFLOAT", "k", ""), NOT_FLOAT);
	assert_string_equal(R2("INCRBYFLOAT", "k", "nan"), NOT_FLOAT);
	assert_string_equal(R2("INCRBYFLOAT", "k", "inf"), naninf);
	assert_false(exists(s, "k"));
	assert_string_equal(R2("SET", "k", "one"), "+OK\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "k", "1"), NOT_FLOAT);
	assert_string_equal(R2("SET", "k", "1e4932"), "+OK\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "k", "1e4932"), naninf);
	assert_string_equal(R2("GET", "k"), "$6\r\n1e4932\r\n");
}

static void test_incrbyfloat_never_uses_exponent_form(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "f", "1e50"), "+OK\r\n");
	assert_string_equal(R2("INCRBYFLOAT", "f", "0"),
	                    "$51\r\n100000000000000000003583830118858923890798487404544\r\n");
	assert_string_equal(R2("GET", "f"),
	                    "$51\r\n100000000000000000003583830118858923890798487404544\r\n");
}

static void test_incrbyfloat_keeps_the_ttl(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "k", "1", "EX", "100"), "+OK\r\n");
	int64_t at = expiry(s, "k");
	assert_string_equal(R2("INCRBYFLOAT", "k", "0.5"), "$3\r\n1.5\r\n");
	assert_int_equal(expiry(s, "k"), at);
}

/* ---- Concurrency ---- */

enum { THREADS = 8, ROUNDS = 5000 };

struct worker {
	store_t *st;
	cmd_stats stats;
	config *cfg;
	const char *cmd;
	const char *arg;
	int failures;
};

/* Each worker has its own reply buffer and context, as a server worker has. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	cmd_client client = {.id = 1, .resp = 2};
	buf out;
	buf_init(&out);
	cmd_arg av[3] = {{(char *)w->cmd, strlen(w->cmd)}, {"k", 1}, {NULL, 0}};
	size_t argc = 2;
	if (w->arg != NULL) {
		av[2].p = (char *)w->arg;
		av[2].len = strlen(w->arg);
		argc = 3;
	}
	for (int i = 0; i < ROUNDS; i++) {
		buf_reset(&out, 4096);
		reply r = {.out = &out, .proto = PROTO_RESP2};
		cmd_ctx ctx = {.store = w->st,
		               .argv = av,
		               .argc = argc,
		               .r = &r,
		               .client = &client,
		               .stats = &w->stats,
		               .cfg = w->cfg};
		command_dispatch(&ctx);
		if (buf_used(&out) == 0 || buf_start(&out)[0] == '-')
			w->failures++;
	}
	buf_free(&out);
	return NULL;
}

static void run_workers(cmd_session *s, const char *cmd, const char *arg)
{
	pthread_t tid[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.st = s->st, .cfg = &s->cfg, .cmd = cmd, .arg = arg};
		assert_int_equal(pthread_create(&tid[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
}

static void test_concurrent_incr_of_one_key_loses_no_increment(void **state)
{
	cmd_session *s = *state;
	char want[64];
	run_workers(s, "INCR", NULL);
	snprintf(want, sizeof(want), ":%d\r\n", THREADS * ROUNDS);
	assert_string_equal(R2("INCRBY", "k", "0"), want);
}

static void test_concurrent_append_to_one_key_loses_no_byte(void **state)
{
	cmd_session *s = *state;
	char want[64];
	run_workers(s, "APPEND", "ab");
	snprintf(want, sizeof(want), ":%d\r\n", THREADS * ROUNDS * 2);
	assert_string_equal(R2("STRLEN", "k"), want);
}

static void test_concurrent_incrbyfloat_of_one_key_loses_no_increment(void **state)
{
	cmd_session *s = *state;
	char want[64];
	run_workers(s, "INCRBYFLOAT", "0.5");
	int n = snprintf(want, sizeof(want), "%d", THREADS * ROUNDS / 2);
	char reply_text[80];
	snprintf(reply_text, sizeof(reply_text), "$%d\r\n%s\r\n", n, want);
	assert_string_equal(R2("GET", "k"), reply_text);
}

/* ---- The table and the statistics ---- */

static void test_table_entries_match_redis_command_info(void **state)
{
	(void)state;
	const command *c = command_lookup("mset", 4);
	assert_non_null(c);
	assert_int_equal(c->arity, -3);
	assert_int_equal(c->first_key, 1);
	assert_int_equal(c->last_key, -1);
	assert_int_equal(c->key_step, 2);
	assert_int_equal(c->flags, CMD_WRITE | CMD_DENYOOM);
	c = command_lookup("mget", 4);
	assert_int_equal(c->last_key, -1);
	assert_int_equal(c->key_step, 1);
	assert_int_equal(c->flags, CMD_READ | CMD_FAST);
	c = command_lookup("getex", 5);
	assert_int_equal(c->arity, -2);
	assert_int_equal(c->flags, CMD_WRITE | CMD_FAST);
	c = command_lookup("incrbyfloat", 11);
	assert_int_equal(c->flags, CMD_WRITE | CMD_DENYOOM | CMD_FAST);
	c = command_lookup("getrange", 8);
	assert_int_equal(c->flags, CMD_READ);
	assert_ptr_equal(command_lookup("substr", 6)->fn, c->fn);
	assert_ptr_equal(command_lookup("lookup", 6)->fn, command_lookup("get", 3)->fn);
	/* Only SET takes the rest of a line-protocol line. */
	assert_int_equal(command_line_rest("set", 3), 2);
	assert_int_equal(command_line_rest("setnx", 5), 0);
	assert_int_equal(command_line_rest("append", 6), 0);

	/* Every write that can grow the data set is refused over maxmemory. */
	const char *grow[] = {"set",  "setnx",  "setex",  "psetex",     "getset",
	                      "mset", "msetnx", "append", "setrange",   "incr",
	                      "decr", "incrby", "decrby", "incrbyfloat"};
	for (size_t i = 0; i < sizeof(grow) / sizeof(grow[0]); i++) {
		c = command_lookup(grow[i], strlen(grow[i]));
		assert_non_null(c);
		assert_true(c->flags & CMD_WRITE);
		assert_true(c->flags & CMD_DENYOOM);
		assert_int_equal(c->first_key, 1);
	}
}

static void test_keyspace_hits_and_misses_count_reads_but_not_updates(void **state)
{
	cmd_session *s = *state;
	assert_string_equal(R2("SET", "a", "1"), "+OK\r\n");
	R2("GET", "a");
	R2("GET", "x");
	R2("MGET", "a", "x", "y");
	R2("STRLEN", "a");
	R2("GETRANGE", "x", "0", "1");
	assert_int_equal(s->stats.keyspace_hits, 3);
	assert_int_equal(s->stats.keyspace_misses, 4);
	R2("SET", "a", "2", "GET");
	R2("GETSET", "z", "1");
	R2("GETEX", "a");
	R2("GETDEL", "q");
	assert_int_equal(s->stats.keyspace_hits, 5);
	assert_int_equal(s->stats.keyspace_misses, 6);
	R2("INCR", "n");
	R2("APPEND", "a", "x");
	R2("SETRANGE", "a", "0", "y");
	R2("SET", "a", "3");
	assert_int_equal(s->stats.keyspace_hits, 5);
	assert_int_equal(s->stats.keyspace_misses, 6);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_get_and_lookup_return_the_value_or_null_in_every_protocol),
	        T(test_binary_values_round_trip),
	        T(test_wrong_arity_is_an_error_naming_the_command),
	        T(test_set_options_that_conflict_are_a_syntax_error),
	        T(test_set_rejects_non_positive_and_overflowing_expire_times),
	        T(test_set_with_each_expiry_form_stores_an_absolute_time),
	        T(test_set_with_a_time_in_the_past_leaves_no_key),
	        T(test_set_clears_the_ttl_and_keepttl_keeps_it),
	        T(test_set_nx_and_xx_answer_null_when_their_condition_fails),
	        T(test_set_get_returns_the_old_value_or_null),
	        T(test_set_refuses_a_key_or_value_over_the_store_limits),
	        T(test_setnx_answers_one_when_it_sets_and_zero_when_the_key_exists),
	        T(test_setex_and_psetex_set_the_value_and_the_ttl),
	        T(test_getset_returns_the_old_value_and_clears_the_ttl),
	        T(test_getdel_returns_the_value_and_deletes_the_key),
	        T(test_getex_sets_or_removes_the_ttl_and_returns_the_value),
	        T(test_getex_with_a_past_absolute_time_returns_the_value_and_deletes),
	        T(test_getex_checks_syntax_first_then_the_key_then_the_expiry),
	        T(test_mget_gives_a_nil_element_for_each_missing_key),
	        T(test_mset_sets_every_pair_and_a_repeated_key_takes_the_last_value),
	        T(test_mset_with_more_pairs_than_fit_on_the_stack),
	        T(test_msetnx_sets_all_keys_or_none),
	        T(test_append_creates_a_missing_key_and_returns_the_new_length),
	        T(test_append_keeps_the_ttl),
	        T(test_append_beyond_the_maximum_size_is_refused),
	        T(test_append_beyond_the_store_value_limit_is_refused),
	        T(test_strlen_counts_bytes_and_is_zero_for_a_missing_key),
	        T(test_getrange_handles_negative_and_out_of_range_indices),
	        T(test_getrange_of_a_missing_or_empty_value_is_empty),
	        T(test_setrange_overwrites_and_pads_with_zero_bytes),
	        T(test_setrange_with_an_empty_value_creates_no_key),
	        T(test_setrange_rejects_negative_and_oversized_offsets),
	        T(test_setrange_beyond_the_store_value_limit_is_refused),
	        T(test_setrange_keeps_the_ttl),
	        T(test_incr_and_decr_start_from_zero_and_store_the_text),
	        T(test_incr_refuses_a_value_that_is_not_a_strict_integer),
	        T(test_incr_overflow_at_the_limits_is_refused),
	        T(test_incrby_and_decrby_at_llong_min),
	        T(test_incr_keeps_the_ttl),
	        T(test_incrbyfloat_stores_the_shortest_decimal_text),
	        T(test_incrbyfloat_refuses_invalid_floats_nan_and_infinity),
	        T(test_incrbyfloat_never_uses_exponent_form),
	        T(test_incrbyfloat_keeps_the_ttl),
	        T(test_concurrent_incr_of_one_key_loses_no_increment),
	        T(test_concurrent_append_to_one_key_loses_no_byte),
	        T(test_concurrent_incrbyfloat_of_one_key_loses_no_increment),
	        T(test_table_entries_match_redis_command_info),
	        T(test_keyspace_hits_and_misses_count_reads_but_not_updates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
