/* Unit tests for the keyspace commands (src/cmd_keys.c) run through the real
 * command table against a real store (tests/unit/cmd_harness.h). Replies
 * are checked as exact RESP2 bytes, with RESP3 and line-protocol forms where
 * they differ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cmd_harness.h"

#define R2 PROTO_RESP2
#define R3 PROTO_RESP3
#define LN PROTO_LINE

#define EXPECT(s, proto, want, ...) assert_string_equal(cmds_run(s, proto, __VA_ARGS__, NULL), want)

static int setup(void **state)
{
	cmd_session *s = cmds_new(NULL);
	*state = s;
	return s && s->st ? 0 : -1;
}

static int teardown(void **state)
{
	cmds_free(*state);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Reads an integer reply ":<n>\r\n". */
static long long int_reply(const char *out)
{
	assert_int_equal(out[0], ':');
	return strtoll(out + 1, NULL, 10);
}

/* ---- a minimal RESP2 reader for array replies ---- */

typedef struct resp_keys {
	char cursor[32];
	size_t n;
	char *keys[2048];
	size_t lens[2048];
} resp_keys;

static size_t parse_len(const char **p, char type)
{
	assert_int_equal(**p, type);
	char *end;
	long long n = strtoll(*p + 1, &end, 10);
	assert_true(n >= 0);
	assert_memory_equal(end, "\r\n", 2);
	*p = end + 2;
	return (size_t)n;
}

static void parse_bulk(const char **p, char **out, size_t *len)
{
	size_t n = parse_len(p, '$');
	*out = malloc(n + 1);
	assert_non_null(*out);
	memcpy(*out, *p, n);
	(*out)[n] = 0;
	*len = n;
	assert_memory_equal(*p + n, "\r\n", 2);
	*p += n + 2;
}

/* "*n\r\n" followed by n bulk strings. */
static void parse_array(const char **p, resp_keys *k)
{
	size_t n = parse_len(p, '*');
	assert_true(k->n + n <= 2048);
	for (size_t i = 0; i < n; i++) {
		parse_bulk(p, &k->keys[k->n], &k->lens[k->n]);
		k->n++;
	}
}

static void keys_free(resp_keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->keys[i]);
	k->n = 0;
}

/* Parses a SCAN reply, appending its keys to k and setting k->cursor. */
static void parse_scan(cmd_session *s, const char *out, resp_keys *k)
{
	const char *p = out;
	assert_int_equal(parse_len(&p, '*'), 2);
	char *cur;
	size_t clen;
	parse_bulk(&p, &cur, &clen);
	assert_true(clen > 0 && clen < sizeof(k->cursor));
	memcpy(k->cursor, cur, clen + 1);
	free(cur);
	parse_array(&p, k);
	assert_ptr_equal(p, out + cmds_len(s));
}

static int keys_contains(const resp_keys *k, const char *key)
{
	int n = 0;
	for (size_t i = 0; i < k->n; i++)
		if (k->lens[i] == strlen(key) && memcmp(k->keys[i], key, k->lens[i]) == 0)
			n++;
	return n;
}

/* Sets <prefix>0 .. <prefix>n-1. */
static void set_keys(cmd_session *s, const char *prefix, int n)
{
	char key[64];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s%d", prefix, i);
		EXPECT(s, R2, "+OK\r\n", "SET", key, "v");
	}
}

/* ---- arity, table ---- */

static void test_wrong_argument_counts_are_refused_with_the_redis_text(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "-ERR wrong number of arguments for 'del' command\r\n", "DEL");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'unlink' command\r\n", "UNLINK");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'exists' command\r\n", "EXISTS");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'touch' command\r\n", "TOUCH");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'type' command\r\n", "TYPE", "a", "b");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'copy' command\r\n", "COPY", "a");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'rename' command\r\n", "RENAME", "a");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'renamenx' command\r\n", "RENAMENX", "a",
	       "b", "c");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'expire' command\r\n", "EXPIRE", "a");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'pexpireat' command\r\n", "PEXPIREAT",
	       "a");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'ttl' command\r\n", "TTL");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'pexpiretime' command\r\n", "PEXPIRETIME",
	       "a", "b");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'persist' command\r\n", "PERSIST");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'keys' command\r\n", "KEYS");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'scan' command\r\n", "SCAN");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'randomkey' command\r\n", "RANDOMKEY",
	       "x");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'dbsize' command\r\n", "DBSIZE", "x");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'select' command\r\n", "SELECT");
	EXPECT(s, LN, "ERROR: wrong number of arguments for 'del' command\n", "DEL");
}

static void test_flags_and_key_positions_follow_redis_command_info(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned flags;
		int first, last, step;
	} want[] = {
	        {"copy", CMD_WRITE | CMD_DENYOOM, 1, 2, 1},
	        {"del", CMD_WRITE, 1, -1, 1},
	        {"unlink", CMD_WRITE | CMD_FAST, 1, -1, 1},
	        {"exists", CMD_READ | CMD_FAST, 1, -1, 1},
	        {"rename", CMD_WRITE, 1, 2, 1},
	        {"renamenx", CMD_WRITE | CMD_FAST, 1, 2, 1},
	        {"expire", CMD_WRITE | CMD_FAST, 1, 1, 1},
	        {"ttl", CMD_READ | CMD_FAST, 1, 1, 1},
	        {"keys", CMD_READ, 0, 0, 0},
	        {"scan", CMD_READ, 0, 0, 0},
	        {"flushall", CMD_WRITE | CMD_ADMIN, 0, 0, 0},
	        {"flushdb", CMD_WRITE | CMD_ADMIN, 0, 0, 0},
	        {"select", CMD_FAST | CMD_LOADING, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const command *c = command_lookup(want[i].name, strlen(want[i].name));
		assert_non_null(c);
		assert_int_equal(c->flags, want[i].flags);
		assert_int_equal(c->first_key, want[i].first);
		assert_int_equal(c->last_key, want[i].last);
		assert_int_equal(c->key_step, want[i].step);
	}
}

/* ---- DEL, UNLINK, EXISTS, TOUCH, TYPE ---- */

static void test_del_counts_each_removed_key_once_even_when_repeated(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "k", 3);
	EXPECT(s, R2, ":2\r\n", "DEL", "k0", "k1", "k0", "missing");
	EXPECT(s, R2, ":0\r\n", "DEL", "k0");
	EXPECT(s, R3, ":1\r\n", "DEL", "k2");
	EXPECT(s, R2, ":0\r\n", "DBSIZE");
}

static void test_del_of_one_key_in_the_line_protocol_says_ok_or_not_found(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "k", 3);
	EXPECT(s, LN, "OK\n", "DEL", "k0");
	EXPECT(s, LN, "NOT FOUND\n", "DEL", "k0");
	/* With several keys the line protocol gets the count. */
	EXPECT(s, LN, "2\n", "DEL", "k1", "k2", "k0");
	/* RESP never gets OK from DEL, even for one key. */
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, ":1\r\n", "DEL", "k");
}

static void test_unlink_removes_keys_and_counts_them(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "k", 2);
	EXPECT(s, R2, ":2\r\n", "UNLINK", "k0", "k1", "k1", "nope");
	EXPECT(s, LN, "0\n", "UNLINK", "k0");
}

static void test_exists_counts_a_repeated_key_every_time(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "k", 2);
	EXPECT(s, R2, ":3\r\n", "EXISTS", "k0", "k0", "k1", "nope");
	EXPECT(s, R2, ":0\r\n", "EXISTS", "nope");
	EXPECT(s, LN, "1\n", "EXISTS", "k0");
	EXPECT(s, LN, "0\n", "EXISTS", "nope");
	assert_int_equal(s->stats.keyspace_hits, 4);
	assert_int_equal(s->stats.keyspace_misses, 3);
}

static void test_touch_counts_the_keys_that_exist(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "k", 2);
	EXPECT(s, R2, ":2\r\n", "TOUCH", "k0", "k1", "nope");
	EXPECT(s, R2, ":0\r\n", "TOUCH", "nope");
}

static void test_type_is_string_for_a_key_and_none_otherwise(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, "+string\r\n", "TYPE", "k");
	EXPECT(s, R3, "+string\r\n", "TYPE", "k");
	EXPECT(s, R2, "+none\r\n", "TYPE", "nope");
	EXPECT(s, LN, "string\n", "TYPE", "k");
	EXPECT(s, LN, "none\n", "TYPE", "nope");
}

/* ---- EXPIRE family, TTL, PERSIST ---- */

static void test_ttl_is_minus_two_for_a_missing_key_and_minus_one_without_expiry(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, ":-2\r\n", "TTL", "nope");
	EXPECT(s, R2, ":-2\r\n", "PTTL", "nope");
	EXPECT(s, R2, ":-2\r\n", "EXPIRETIME", "nope");
	EXPECT(s, R2, ":-2\r\n", "PEXPIRETIME", "nope");
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, ":-1\r\n", "TTL", "k");
	EXPECT(s, R2, ":-1\r\n", "PTTL", "k");
	EXPECT(s, R2, ":-1\r\n", "EXPIRETIME", "k");
	EXPECT(s, R2, ":-1\r\n", "PEXPIRETIME", "k");
	EXPECT(s, LN, "-2\n", "TTL", "nope");
}

static void test_expire_sets_a_ttl_that_ttl_and_pttl_report(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k", "100");
	EXPECT(s, R2, ":100\r\n", "TTL", "k");
	long long pttl = int_reply(cmds_run(s, R2, "PTTL", "k", NULL));
	assert_true(pttl > 98000 && pttl <= 100000);

	EXPECT(s, R2, ":1\r\n", "PEXPIRE", "k", "50000");
	EXPECT(s, R2, ":50\r\n", "TTL", "k");
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "nope", "100");
	EXPECT(s, R2, ":0\r\n", "PEXPIRE", "nope", "100");
}

static void test_expireat_and_expiretime_use_absolute_unix_time(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, ":1\r\n", "EXPIREAT", "k", "4102444800"); /* 2100-01-01 */
	EXPECT(s, R2, ":4102444800\r\n", "EXPIRETIME", "k");
	EXPECT(s, R2, ":4102444800000\r\n", "PEXPIRETIME", "k");
	EXPECT(s, R2, ":1\r\n", "PEXPIREAT", "k", "4102444800700");
	EXPECT(s, R2, ":4102444800700\r\n", "PEXPIRETIME", "k");
	EXPECT(s, R2, ":4102444801\r\n", "EXPIRETIME", "k"); /* rounded */
	EXPECT(s, R2, ":0\r\n", "EXPIREAT", "nope", "4102444800");
}

static void test_a_negative_or_past_expire_deletes_the_key_and_returns_one(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "k", 4);
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k0", "-10");
	EXPECT(s, R2, ":0\r\n", "EXISTS", "k0");
	EXPECT(s, R2, ":1\r\n", "PEXPIRE", "k1", "0");
	EXPECT(s, R2, ":-2\r\n", "TTL", "k1");
	EXPECT(s, R2, ":1\r\n", "EXPIREAT", "k2", "1");
	EXPECT(s, R2, ":1\r\n", "PEXPIREAT", "k3", "-9223372036854775808");
	EXPECT(s, R2, ":0\r\n", "DBSIZE");
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k0", "-10");
}

static void test_a_key_is_gone_once_its_expiry_passes(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, ":1\r\n", "PEXPIRE", "k", "20");
	sleep_ms(40);
	EXPECT(s, R2, ":-2\r\n", "TTL", "k");
	EXPECT(s, R2, ":0\r\n", "EXISTS", "k");
	EXPECT(s, R2, "+none\r\n", "TYPE", "k");
	EXPECT(s, R2, ":0\r\n", "PERSIST", "k");
}

static void test_expire_times_that_overflow_are_refused(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, "-ERR invalid expire time in 'expire' command\r\n", "EXPIRE", "k",
	       "9223372036854775807");
	EXPECT(s, R2, "-ERR invalid expire time in 'expire' command\r\n", "expire", "k",
	       "-9223372036854776");
	EXPECT(s, R2, "-ERR invalid expire time in 'pexpire' command\r\n", "PEXPIRE", "k",
	       "9223372036854775807");
	EXPECT(s, R2, "-ERR invalid expire time in 'expireat' command\r\n", "EXPIREAT", "k",
	       "9223372036854776");
	/* The largest representable times are accepted. */
	EXPECT(s, R2, ":1\r\n", "EXPIREAT", "k", "9223372036854775");
	EXPECT(s, R2, ":1\r\n", "PEXPIREAT", "k", "9223372036854775807");
	EXPECT(s, R2, ":9223372036854775807\r\n", "PEXPIRETIME", "k");
	EXPECT(s, R2, ":9223372036854776\r\n", "EXPIRETIME", "k");
	EXPECT(s, R2, "-ERR value is not an integer or out of range\r\n", "EXPIRE", "k", "1.5");
	EXPECT(s, R2, "-ERR value is not an integer or out of range\r\n", "EXPIRE", "k",
	       "9223372036854775808");
	EXPECT(s, LN, "ERROR: invalid expire time in 'pexpire' command\n", "PEXPIRE", "k",
	       "9223372036854775807");
}

static void test_expire_options_are_checked_before_the_time(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, "-ERR Unsupported option foo\r\n", "EXPIRE", "k", "10", "foo");
	EXPECT(s, R2, "-ERR Unsupported option foo\r\n", "EXPIRE", "k", "x", "foo");
	EXPECT(s, R2, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
	       "EXPIRE", "k", "10", "NX", "XX");
	EXPECT(s, R2, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
	       "PEXPIRE", "k", "10", "gt", "nx");
	EXPECT(s, R2, "-ERR GT and LT options at the same time are not compatible\r\n", "EXPIREAT",
	       "k", "10", "GT", "LT");
	/* An option echoed back never breaks the reply line. */
	EXPECT(s, R2, "-ERR Unsupported option a  b\r\n", "EXPIRE", "k", "10", "a\r\nb");
	EXPECT(s, R2, ":-1\r\n", "TTL", "k");
}

static void test_expire_nx_xx_gt_lt_apply_only_when_their_condition_holds(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");

	/* Key without expiry: NX and LT set one; XX and GT do not. */
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k", "100", "XX");
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k", "100", "GT");
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k", "100", "XX", "LT");
	EXPECT(s, R2, ":-1\r\n", "TTL", "k");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k", "100", "LT");
	EXPECT(s, R2, ":100\r\n", "TTL", "k");
	EXPECT(s, R2, ":1\r\n", "PERSIST", "k");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k", "100", "NX");
	EXPECT(s, R2, ":100\r\n", "TTL", "k");

	/* Key with expiry 100 s: NX never; XX always; GT only later; LT
	 * only sooner; equal times pass neither. */
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k", "200", "NX");
	EXPECT(s, R2, ":100\r\n", "TTL", "k");
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k", "50", "GT");
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k", "200", "LT");
	EXPECT(s, R2, ":100\r\n", "TTL", "k");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k", "200", "GT");
	EXPECT(s, R2, ":200\r\n", "TTL", "k");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k", "150", "xx", "lt");
	EXPECT(s, R2, ":150\r\n", "TTL", "k");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k", "300", "XX");
	EXPECT(s, R2, ":300\r\n", "TTL", "k");
	EXPECT(s, R2, ":1\r\n", "PEXPIREAT", "k", "4102444800000");
	EXPECT(s, R2, ":0\r\n", "PEXPIREAT", "k", "4102444800000", "GT");
	EXPECT(s, R2, ":0\r\n", "PEXPIREAT", "k", "4102444800000", "LT");
	EXPECT(s, R2, ":4102444800000\r\n", "PEXPIRETIME", "k");

	/* LT to a past time deletes; missing keys are 0 whatever the option. */
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k", "-1", "LT");
	EXPECT(s, R2, ":0\r\n", "EXISTS", "k");
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k", "100", "NX");
	EXPECT(s, R2, ":0\r\n", "EXPIRE", "k", "100", "LT");
}

static void test_persist_returns_zero_when_there_is_no_ttl_to_remove(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, ":0\r\n", "PERSIST", "nope");
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, ":0\r\n", "PERSIST", "k");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "k", "100");
	EXPECT(s, R2, ":1\r\n", "PERSIST", "k");
	EXPECT(s, R2, ":-1\r\n", "TTL", "k");
	EXPECT(s, R2, ":0\r\n", "PERSIST", "k");
	EXPECT(s, R2, "$1\r\nv\r\n", "GET", "k");
}

/* ---- RENAME, RENAMENX, COPY ---- */

static void test_rename_moves_the_value_and_keeps_the_ttl(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "a", "va");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "a", "100");
	EXPECT(s, R2, "+OK\r\n", "RENAME", "a", "b");
	EXPECT(s, R2, ":0\r\n", "EXISTS", "a");
	EXPECT(s, R2, "$2\r\nva\r\n", "GET", "b");
	EXPECT(s, R2, ":100\r\n", "TTL", "b");

	/* Over an existing key: replaced, and the source's (lack of) TTL wins. */
	EXPECT(s, R2, "+OK\r\n", "SET", "c", "vc");
	EXPECT(s, R2, "+OK\r\n", "RENAME", "c", "b");
	EXPECT(s, R2, "$2\r\nvc\r\n", "GET", "b");
	EXPECT(s, R2, ":-1\r\n", "TTL", "b");
	EXPECT(s, R2, ":1\r\n", "DBSIZE");
	EXPECT(s, LN, "OK\n", "RENAME", "b", "d");
}

static void test_rename_of_a_missing_key_is_an_error(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "-ERR no such key\r\n", "RENAME", "nope", "x");
	EXPECT(s, R2, "-ERR no such key\r\n", "RENAME", "nope", "nope");
	EXPECT(s, R2, "-ERR no such key\r\n", "RENAMENX", "nope", "x");
	EXPECT(s, LN, "ERROR: no such key\n", "RENAME", "nope", "x");
	EXPECT(s, R2, ":0\r\n", "EXISTS", "x");
}

static void test_rename_of_a_key_onto_itself_changes_nothing(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "a", "v");
	EXPECT(s, R2, "+OK\r\n", "RENAME", "a", "a");
	EXPECT(s, R2, ":0\r\n", "RENAMENX", "a", "a");
	EXPECT(s, R2, "$1\r\nv\r\n", "GET", "a");
}

static void test_renamenx_moves_only_when_the_destination_is_free(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "a", "va");
	EXPECT(s, R2, "+OK\r\n", "SET", "b", "vb");
	EXPECT(s, R2, ":0\r\n", "RENAMENX", "a", "b");
	EXPECT(s, R2, "$2\r\nvb\r\n", "GET", "b");
	EXPECT(s, R2, "$2\r\nva\r\n", "GET", "a");
	EXPECT(s, R2, ":1\r\n", "RENAMENX", "a", "c");
	EXPECT(s, R2, "$2\r\nva\r\n", "GET", "c");
	EXPECT(s, R2, ":0\r\n", "EXISTS", "a");
}

static void test_copy_duplicates_a_key_with_its_ttl_unless_the_target_exists(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "a", "va");
	EXPECT(s, R2, ":1\r\n", "EXPIRE", "a", "100");
	EXPECT(s, R2, ":1\r\n", "COPY", "a", "b");
	EXPECT(s, R2, "$2\r\nva\r\n", "GET", "b");
	EXPECT(s, R2, ":100\r\n", "TTL", "b");
	EXPECT(s, R2, "$2\r\nva\r\n", "GET", "a");

	EXPECT(s, R2, "+OK\r\n", "SET", "c", "vc");
	EXPECT(s, R2, ":0\r\n", "COPY", "c", "b");
	EXPECT(s, R2, "$2\r\nva\r\n", "GET", "b");
	EXPECT(s, R2, ":1\r\n", "COPY", "c", "b", "REPLACE");
	EXPECT(s, R2, "$2\r\nvc\r\n", "GET", "b");
	EXPECT(s, R2, ":-1\r\n", "TTL", "b");
	EXPECT(s, R2, ":0\r\n", "COPY", "nope", "b", "REPLACE");
	EXPECT(s, R2, "$2\r\nvc\r\n", "GET", "b");
	EXPECT(s, R2, ":1\r\n", "COPY", "a", "d", "DB", "0", "replace");
	EXPECT(s, R2, ":1\r\n", "COPY", "a", "d", "replace", "db", "0");
}

static void test_copy_accepts_only_database_zero(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "a", "v");
	EXPECT(s, R2, "-ERR DB index is out of range\r\n", "COPY", "a", "b", "DB", "1");
	EXPECT(s, R2, "-ERR DB index is out of range\r\n", "COPY", "a", "b", "DB", "-1");
	EXPECT(s, R2, "-ERR value is not an integer or out of range\r\n", "COPY", "a", "b", "DB",
	       "x");
	EXPECT(s, R2,
	       "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
	       "COPY", "a", "b", "DB", "4294967296");
	EXPECT(s, R2, "-ERR syntax error\r\n", "COPY", "a", "b", "DB");
	EXPECT(s, R2, "-ERR syntax error\r\n", "COPY", "a", "b", "FORCE");
	EXPECT(s, R2, "-ERR source and destination objects are the same\r\n", "COPY", "a", "a");
	EXPECT(s, R2, "-ERR source and destination objects are the same\r\n", "COPY", "nope",
	       "nope", "DB", "0");
	EXPECT(s, R2, ":0\r\n", "EXISTS", "b");
}

/* ---- KEYS ---- */

static void test_keys_matches_glob_patterns(void **state)
{
	cmd_session *s = *state;
	const char *names[] = {"hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		EXPECT(s, R2, "+OK\r\n", "SET", names[i], "v");

	static const struct {
		const char *pat;
		const char *want; /* space-separated set */
	} cases[] = {
	        {"*", "hello hallo hxllo hllo heeeello h*llo"},
	        {"h?llo", "hello hallo hxllo h*llo"},
	        {"h*llo", "hello hallo hxllo hllo heeeello h*llo"},
	        {"h[ae]llo", "hello hallo"},
	        {"h[^e]llo", "hallo hxllo h*llo"},
	        {"h[a-b]llo", "hallo"},
	        {"h\\*llo", "h*llo"},
	        {"hello", "hello"},
	        {"nothing*", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *out = cmds_run(s, R2, "KEYS", cases[i].pat, NULL);
		const char *p = out;
		resp_keys k = {0};
		parse_array(&p, &k);
		assert_ptr_equal(p, out + cmds_len(s));
		char want[128];
		size_t nwant = 0;
		strcpy(want, cases[i].want);
		for (char *w = strtok(want, " "); w; w = strtok(NULL, " ")) {
			if (keys_contains(&k, w) != 1)
				fail_msg("KEYS %s: %s reported %d times", cases[i].pat, w,
				         keys_contains(&k, w));
			nwant++;
		}
		assert_int_equal(k.n, nwant);
		keys_free(&k);
	}
	EXPECT(s, R2, "*1\r\n$5\r\nhallo\r\n", "KEYS", "h[a-b]llo");
	EXPECT(s, R3, "*1\r\n$5\r\nhallo\r\n", "KEYS", "h[a-b]llo");
	EXPECT(s, LN, "hallo\n", "KEYS", "h[a-b]llo");
	EXPECT(s, LN, "(empty)\n", "KEYS", "zz*");
}

static void test_keys_reports_every_key_exactly_once(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "key:", 1000);
	const char *out = cmds_run(s, R2, "KEYS", "*", NULL);
	const char *p = out;
	resp_keys k = {0};
	parse_array(&p, &k);
	assert_int_equal(k.n, 1000);
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		assert_int_equal(keys_contains(&k, key), 1);
	}
	keys_free(&k);
	EXPECT(s, R2, "*0\r\n", "KEYS", "nokey:*");
}

static void test_keys_handles_binary_keys_and_patterns(void **state)
{
	cmd_session *s = *state;
	const char *argv[] = {"SET", "a\0b", "v"};
	size_t lens[] = {3, 3, 1};
	assert_string_equal(cmds_runv(s, R2, 3, argv, lens), "+OK\r\n");
	const char *kargv[] = {"KEYS", "a\0*"};
	size_t klens[] = {4, 3};
	cmds_runv(s, R2, 2, kargv, klens);
	assert_int_equal(cmds_len(s), 13);
	assert_memory_equal(buf_start(&s->out), "*1\r\n$3\r\na\0b\r\n", 13);
}

static void test_keys_and_scan_report_the_empty_key(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "", "v");
	EXPECT(s, R2, "*1\r\n$0\r\n\r\n", "KEYS", "*");
	EXPECT(s, R2, "*1\r\n$0\r\n\r\n", "KEYS", "");
	EXPECT(s, R2, "*0\r\n", "KEYS", "?");
	resp_keys k = {0};
	parse_scan(s, cmds_run(s, R2, "SCAN", "0", "COUNT", "100000", NULL), &k);
	assert_true(k.n >= 1 && keys_contains(&k, "") == (int)k.n);
	keys_free(&k);
}

/* ---- SCAN ---- */

/* Runs a full SCAN iteration with the given extra arguments and returns the
 * keys seen (with repeats). */
static void scan_all(cmd_session *s, const char *opt1, const char *val1, const char *opt2,
                     const char *val2, resp_keys *k)
{
	strcpy(k->cursor, "0");
	int calls = 0;
	do {
		char cursor[32];
		strcpy(cursor, k->cursor);
		const char *out = cmds_run(s, R2, "SCAN", cursor, opt1, val1, opt2, val2, NULL);
		parse_scan(s, out, k);
		assert_true(++calls < 100000);
	} while (strcmp(k->cursor, "0") != 0);
}

static void test_scan_with_match_and_count_visits_all_of_a_thousand_keys(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "key:", 1000);
	char key[32];

	resp_keys *k = calloc(1, sizeof(*k));
	assert_non_null(k);
	scan_all(s, "COUNT", "10", NULL, NULL, k);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		assert_true(keys_contains(k, key) >= 1);
	}
	keys_free(k);

	/* key:1, key:10..19, key:100..199: 111 keys, and nothing else. */
	scan_all(s, "MATCH", "key:1*", "COUNT", "7", k);
	size_t distinct = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		int want = key[4] == '1';
		int got = keys_contains(k, key);
		assert_int_equal(got >= 1, want);
		distinct += got >= 1;
	}
	assert_int_equal(distinct, 111);
	for (size_t i = 0; i < k->n; i++)
		assert_memory_equal(k->keys[i], "key:1", 5);
	keys_free(k);

	/* The default COUNT, and a COUNT larger than the store. */
	scan_all(s, "MATCH", "key:99?", NULL, NULL, k);
	for (int i = 990; i < 1000; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		assert_true(keys_contains(k, key) >= 1);
	}
	keys_free(k);
	const char *out = cmds_run(s, R2, "SCAN", "0", "COUNT", "100000", NULL);
	parse_scan(s, out, k);
	assert_string_equal(k->cursor, "0");
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		assert_true(keys_contains(k, key) >= 1);
	}
	keys_free(k);
	free(k);
}

static void test_scan_type_string_finds_keys_and_other_types_find_none(void **state)
{
	cmd_session *s = *state;
	set_keys(s, "k", 50);
	resp_keys *k = calloc(1, sizeof(*k));
	assert_non_null(k);
	scan_all(s, "TYPE", "string", NULL, NULL, k);
	for (int i = 0; i < 50; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(keys_contains(k, key) >= 1);
	}
	keys_free(k);
	scan_all(s, "TYPE", "STRING", "MATCH", "k4?", k);
	assert_true(keys_contains(k, "k42") >= 1);
	assert_int_equal(keys_contains(k, "k4"), 0);
	keys_free(k);
	scan_all(s, "TYPE", "hash", NULL, NULL, k);
	assert_int_equal(k->n, 0);
	scan_all(s, "TYPE", "list", "COUNT", "1000", k);
	assert_int_equal(k->n, 0);
	/* Redis 7 treats an unknown type name as matching nothing. */
	scan_all(s, "TYPE", "nosuchtype", NULL, NULL, k);
	assert_int_equal(k->n, 0);
	free(k);
}

static void test_scan_of_an_empty_store_returns_cursor_zero_and_no_keys(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0");
	EXPECT(s, R3, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "MATCH", "*", "COUNT", "5");
	EXPECT(s, LN, "0 (empty)\n", "SCAN", "0");

	/* A COUNT above the store's size completes the scan in one call (the
	 * store may report a key twice). */
	EXPECT(s, R2, "+OK\r\n", "SET", "only", "v");
	resp_keys k = {0};
	parse_scan(s, cmds_run(s, R2, "SCAN", "0", "COUNT", "100000", NULL), &k);
	assert_string_equal(k.cursor, "0");
	assert_true(k.n >= 1 && keys_contains(&k, "only") == (int)k.n);
	keys_free(&k);
	const char *line = cmds_run(s, LN, "SCAN", "0", "COUNT", "100000", NULL);
	assert_memory_equal(line, "0 only", 6);
}

static void test_scan_rejects_bad_cursors_and_options(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "-ERR invalid cursor\r\n", "SCAN", "x");
	EXPECT(s, R2, "-ERR invalid cursor\r\n", "SCAN", "-1");
	EXPECT(s, R2, "-ERR invalid cursor\r\n", "SCAN", "");
	EXPECT(s, R2, "-ERR invalid cursor\r\n", "SCAN", "1.5");
	EXPECT(s, R2, "-ERR invalid cursor\r\n", "SCAN", "18446744073709551616");
	EXPECT(s, R2, "-ERR invalid cursor\r\n", "SCAN", "x", "COUNT", "0");
	EXPECT(s, R2, "-ERR syntax error\r\n", "SCAN", "0", "COUNT", "0");
	EXPECT(s, R2, "-ERR syntax error\r\n", "SCAN", "0", "COUNT", "-5");
	EXPECT(s, R2, "-ERR value is not an integer or out of range\r\n", "SCAN", "0", "COUNT",
	       "ten");
	EXPECT(s, R2, "-ERR syntax error\r\n", "SCAN", "0", "COUNT");
	EXPECT(s, R2, "-ERR syntax error\r\n", "SCAN", "0", "MATCH");
	EXPECT(s, R2, "-ERR syntax error\r\n", "SCAN", "0", "LIMIT", "5");
	EXPECT(s, R2, "-ERR syntax error\r\n", "SCAN", "0", "MATCH", "*", "TYPE");
	EXPECT(s, LN, "ERROR: invalid cursor\n", "SCAN", "x");
}

/* ---- RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB, SELECT ---- */

static void test_randomkey_is_nil_when_empty_and_an_existing_key_otherwise(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "$-1\r\n", "RANDOMKEY");
	EXPECT(s, R3, "_\r\n", "RANDOMKEY");
	EXPECT(s, LN, "NOT FOUND\n", "RANDOMKEY");
	EXPECT(s, R2, "+OK\r\n", "SET", "only", "v");
	EXPECT(s, R2, "$4\r\nonly\r\n", "RANDOMKEY");
	set_keys(s, "k", 20);
	for (int i = 0; i < 20; i++) {
		const char *out = cmds_run(s, R2, "RANDOMKEY", NULL);
		const char *p = out;
		char *key;
		size_t len;
		parse_bulk(&p, &key, &len);
		assert_true(strcmp(key, "only") == 0 || key[0] == 'k');
		assert_int_equal(int_reply(cmds_run(s, R2, "EXISTS", key, NULL)), 1);
		free(key);
	}
}

static void test_dbsize_counts_keys_and_flushall_empties_the_store(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, ":0\r\n", "DBSIZE");
	set_keys(s, "k", 100);
	EXPECT(s, R2, ":100\r\n", "DBSIZE");
	EXPECT(s, LN, "100\n", "DBSIZE");
	EXPECT(s, R2, "+OK\r\n", "FLUSHALL");
	EXPECT(s, R2, ":0\r\n", "DBSIZE");
	EXPECT(s, R2, "*0\r\n", "KEYS", "*");
	EXPECT(s, R2, "$-1\r\n", "GET", "k1");
	set_keys(s, "k", 10);
	EXPECT(s, R2, "+OK\r\n", "FLUSHALL", "SYNC");
	EXPECT(s, R2, ":0\r\n", "DBSIZE");
	set_keys(s, "k", 10);
	EXPECT(s, R2, "+OK\r\n", "FLUSHDB", "async");
	EXPECT(s, R2, ":0\r\n", "DBSIZE");
	EXPECT(s, R2, "+OK\r\n", "FLUSHDB");
	EXPECT(s, LN, "OK\n", "FLUSHALL");
}

static void test_flush_rejects_unknown_modes(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, "-ERR syntax error\r\n", "FLUSHALL", "NOW");
	EXPECT(s, R2, "-ERR syntax error\r\n", "FLUSHDB", "ASYNC", "SYNC");
	EXPECT(s, R2, ":1\r\n", "DBSIZE");
}

static void test_select_accepts_only_database_zero(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SELECT", "0");
	EXPECT(s, R3, "+OK\r\n", "SELECT", "0");
	EXPECT(s, LN, "OK\n", "SELECT", "0");
	EXPECT(s, R2, "-ERR DB index is out of range\r\n", "SELECT", "1");
	EXPECT(s, R2, "-ERR DB index is out of range\r\n", "SELECT", "-1");
	EXPECT(s, R2, "-ERR DB index is out of range\r\n", "SELECT", "15");
	EXPECT(s, R2, "-ERR value is not an integer or out of range\r\n", "SELECT", "x");
	EXPECT(s, R2, "-ERR value is not an integer or out of range\r\n", "SELECT", "00");
	EXPECT(s, R2,
	       "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
	       "SELECT", "2147483648");
	EXPECT(s, R2, "-ERR value is not an integer or out of range\r\n", "SELECT",
	       "9223372036854775808");
	EXPECT(s, LN, "ERROR: DB index is out of range\n", "SELECT", "1");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_wrong_argument_counts_are_refused_with_the_redis_text),
	        T(test_flags_and_key_positions_follow_redis_command_info),
	        T(test_del_counts_each_removed_key_once_even_when_repeated),
	        T(test_del_of_one_key_in_the_line_protocol_says_ok_or_not_found),
	        T(test_unlink_removes_keys_and_counts_them),
	        T(test_exists_counts_a_repeated_key_every_time),
	        T(test_touch_counts_the_keys_that_exist),
	        T(test_type_is_string_for_a_key_and_none_otherwise),
	        T(test_ttl_is_minus_two_for_a_missing_key_and_minus_one_without_expiry),
	        T(test_expire_sets_a_ttl_that_ttl_and_pttl_report),
	        T(test_expireat_and_expiretime_use_absolute_unix_time),
	        T(test_a_negative_or_past_expire_deletes_the_key_and_returns_one),
	        T(test_a_key_is_gone_once_its_expiry_passes),
	        T(test_expire_times_that_overflow_are_refused),
	        T(test_expire_options_are_checked_before_the_time),
	        T(test_expire_nx_xx_gt_lt_apply_only_when_their_condition_holds),
	        T(test_persist_returns_zero_when_there_is_no_ttl_to_remove),
	        T(test_rename_moves_the_value_and_keeps_the_ttl),
	        T(test_rename_of_a_missing_key_is_an_error),
	        T(test_rename_of_a_key_onto_itself_changes_nothing),
	        T(test_renamenx_moves_only_when_the_destination_is_free),
	        T(test_copy_duplicates_a_key_with_its_ttl_unless_the_target_exists),
	        T(test_copy_accepts_only_database_zero),
	        T(test_keys_matches_glob_patterns),
	        T(test_keys_reports_every_key_exactly_once),
	        T(test_keys_handles_binary_keys_and_patterns),
	        T(test_keys_and_scan_report_the_empty_key),
	        T(test_scan_with_match_and_count_visits_all_of_a_thousand_keys),
	        T(test_scan_type_string_finds_keys_and_other_types_find_none),
	        T(test_scan_of_an_empty_store_returns_cursor_zero_and_no_keys),
	        T(test_scan_rejects_bad_cursors_and_options),
	        T(test_randomkey_is_nil_when_empty_and_an_existing_key_otherwise),
	        T(test_dbsize_counts_keys_and_flushall_empties_the_store),
	        T(test_flush_rejects_unknown_modes),
	        T(test_select_accepts_only_database_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
