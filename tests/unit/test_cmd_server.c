/* Unit tests for the server commands (src/cmd_server.c): COMMAND, CONFIG,
 * INFO, TIME and LASTSAVE, run through the real command table without a
 * server (tests/unit/cmd_harness.h), so server-wide figures are zeros.
 * Reply shapes and error texts are Redis 7's. */
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

/* The count of an aggregate header ("*12\r\n", "%6\r\n"). */
static long header_count(const char *out, char type)
{
	assert_int_equal(out[0], type);
	return strtol(out + 1, NULL, 10);
}

/* The body of a RESP2 bulk string reply, checking its announced length. */
static const char *bulk_body(const char *out)
{
	assert_int_equal(out[0], '$');
	long n = strtol(out + 1, NULL, 10);
	const char *body = strstr(out, "\r\n") + 2;
	assert_int_equal((long)strlen(body), n + 2);
	assert_memory_equal(body + n, "\r\n", 2);
	return body;
}

/* ---- COMMAND ---- */

static void test_command_count_equals_the_table_size(void **state)
{
	cmd_session *s = *state;
	size_t n;
	command_table_get(&n);
	char want[32];
	snprintf(want, sizeof(want), ":%zu\r\n", n);
	EXPECT(s, R2, want, "COMMAND", "COUNT");
	EXPECT(s, R3, want, "command", "count");
}

static void test_command_info_get_returns_arity_2_and_first_key_1(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2,
	       "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
	       "*2\r\n+@read\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n",
	       "COMMAND", "INFO", "get");
	/* RESP3: flags, categories, tips, key specs and subcommands are sets. */
	EXPECT(s, R3,
	       "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
	       "~2\r\n+@read\r\n+@fast\r\n~0\r\n~0\r\n~0\r\n",
	       "COMMAND", "INFO", "GET");
}

static void test_command_info_reports_admin_and_derived_categories(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2,
	       "*1\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n*2\r\n+admin\r\n+loading\r\n:0\r\n:0\r\n:0\r\n"
	       "*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n",
	       "COMMAND", "INFO", "config");
	EXPECT(s, R2,
	       "*1\r\n*10\r\n$4\r\nauth\r\n:-2\r\n*3\r\n+loading\r\n+fast\r\n+no_auth\r\n"
	       ":0\r\n:0\r\n:0\r\n*1\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n",
	       "COMMAND", "INFO", "auth");
}

static void test_command_info_of_an_unknown_command_is_null(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "*1\r\n$-1\r\n", "COMMAND", "INFO", "nosuch");
	EXPECT(s, R3, "*2\r\n_\r\n_\r\n", "COMMAND", "INFO", "nosuch", "");
}

static void test_command_and_command_info_without_names_describe_every_command(void **state)
{
	cmd_session *s = *state;
	size_t n;
	command_table_get(&n);
	const char *out = cmds_run(s, R2, "COMMAND", NULL);
	assert_int_equal(header_count(out, '*'), (long)n);
	assert_memory_equal(strstr(out, "\r\n") + 2, "*10\r\n", 5);
	/* Every entry has ten elements. */
	long entries = 0;
	for (const char *p = out; (p = strstr(p, "\r\n*10\r\n$")) != NULL; p++)
		entries++;
	assert_int_equal(entries, (long)n);
	char *copy = strdup(out);
	assert_string_equal(cmds_run(s, R2, "COMMAND", "INFO", NULL), copy);
	free(copy);
}

static void test_command_docs_is_an_empty_map(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "*0\r\n", "COMMAND", "DOCS");
	EXPECT(s, R3, "%0\r\n", "COMMAND", "DOCS");
	EXPECT(s, R3, "%0\r\n", "COMMAND", "DOCS", "get", "set");
}

static void test_command_list_names_every_command_and_filters_by_pattern_or_category(void **state)
{
	cmd_session *s = *state;
	size_t n;
	command_table_get(&n);
	const char *out = cmds_run(s, R2, "COMMAND", "LIST", NULL);
	assert_int_equal(header_count(out, '*'), (long)n);
	assert_non_null(strstr(out, "\r\n$3\r\nget\r\n"));
	EXPECT(s, R2, "*1\r\n$6\r\nclient\r\n", "COMMAND", "LIST", "FILTERBY", "PATTERN", "cl*");
	EXPECT(s, R2, "*2\r\n$4\r\nexit\r\n$4\r\nquit\r\n", "COMMAND", "LIST", "FILTERBY",
	       "pattern", "[EQ]?IT");
	out = cmds_run(s, R2, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin", NULL);
	assert_non_null(strstr(out, "$6\r\nconfig\r\n"));
	assert_null(strstr(out, "$3\r\nget\r\n"));
	EXPECT(s, R2, "*0\r\n", "COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcategory");
	EXPECT(s, R2, "*0\r\n", "COMMAND", "LIST", "FILTERBY", "MODULE", "search");
	EXPECT(s, R2, "-ERR syntax error\r\n", "COMMAND", "LIST", "FILTERBY", "colour", "x");
	EXPECT(s, R2, "-ERR syntax error\r\n", "COMMAND", "LIST", "FILTERBY", "PATTERN");
}

static void test_command_getkeys_finds_keys_by_position(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "*1\r\n$1\r\nk\r\n", "COMMAND", "GETKEYS", "GET", "k");
	EXPECT(s, R2, "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "COMMAND", "GETKEYS", "DEL", "a",
	       "b", "c");
	EXPECT(s, R2, "-ERR The command has no key arguments\r\n", "COMMAND", "GETKEYS", "PING");
	EXPECT(s, R2, "-ERR Invalid command specified\r\n", "COMMAND", "GETKEYS", "nosuch", "a");
	EXPECT(s, R2, "-ERR Invalid number of arguments specified for command\r\n", "COMMAND",
	       "GETKEYS", "GET", "a", "b");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'command|getkeys' command\r\n", "COMMAND",
	       "GETKEYS");
}

static void test_command_unknown_subcommands_use_the_redis_text(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "-ERR unknown subcommand 'xyz'. Try COMMAND HELP.\r\n", "COMMAND", "xyz");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'command|count' command\r\n", "COMMAND",
	       "COUNT", "x");
	const char *out = cmds_run(s, R2, "COMMAND", "HELP", NULL);
	assert_non_null(strstr(out, "+COMMAND <subcommand> [<arg> [value] [opt] ...]."));
}

static void test_admin_flags_follow_redis(void **state)
{
	(void)state;
	assert_true(command_lookup("config", 6)->flags & CMD_ADMIN);
	assert_false(command_lookup("info", 4)->flags & CMD_ADMIN);
	assert_false(command_lookup("command", 7)->flags & CMD_ADMIN);
	assert_false(command_lookup("time", 4)->flags & CMD_ADMIN);
	assert_true(command_lookup("time", 4)->flags & CMD_FAST);
	static const char *const names[] = {"command", "config", "info", "time", "lastsave"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const command *c = command_lookup(names[i], strlen(names[i]));
		assert_non_null(c);
		assert_false(c->flags & (CMD_READ | CMD_WRITE | CMD_DENYOOM));
		assert_int_equal(c->first_key, 0);
	}
}

/* ---- CONFIG ---- */

static void test_config_get_maxmemory_returns_a_pair(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG", "GET", "maxmemory");
	EXPECT(s, R3, "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG", "GET", "maxmemory");
	/* The store is the source of truth: main applies the configured limit
	 * to it, and CONFIG SET changes it at run time. */
	store_set_maxmemory(s->st, 100u << 20, STORE_EVICT_ALLKEYS_LRU);
	EXPECT(s, R2, "*2\r\n$9\r\nmaxmemory\r\n$9\r\n104857600\r\n", "config", "get", "MAXMEMORY");
	EXPECT(s, R2, "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n", "CONFIG", "GET",
	       "maxmemory-policy");
}

static void test_config_set_changes_maxmemory_and_policy_at_run_time(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "CONFIG", "SET", "MaxMemory", "10mb", "maxmemory-policy",
	       "ALLKEYS-LFU");
	EXPECT(s, R2, "*2\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n", "CONFIG", "GET", "maxmemory");
	EXPECT(s, R2, "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lfu\r\n", "CONFIG", "GET",
	       "maxmemory-policy");
	EXPECT(s, R2, "+OK\r\n", "CONFIG", "SET", "maxmemory", "2k");
	EXPECT(s, R2, "*2\r\n$9\r\nmaxmemory\r\n$4\r\n2000\r\n", "CONFIG", "GET", "maxmemory");
	/* A bad value anywhere changes nothing. */
	EXPECT(s, R2,
	       "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must "
	       "be a memory value\r\n",
	       "CONFIG", "SET", "maxmemory", "lots");
	assert_non_null(strstr(cmds_run(s, R2, "CONFIG", "SET", "maxmemory", "5",
	                                "maxmemory-policy", "sometimes", NULL),
	                       "-ERR CONFIG SET failed (possibly related to argument "
	                       "'maxmemory-policy')"));
	EXPECT(s, R2, "*2\r\n$9\r\nmaxmemory\r\n$4\r\n2000\r\n", "CONFIG", "GET", "maxmemory");
	/* The new limit is enforced: noeviction over the limit refuses writes. */
	EXPECT(s, R2, "+OK\r\n", "CONFIG", "SET", "maxmemory", "1", "maxmemory-policy",
	       "noeviction");
	EXPECT(s, R2, "+OK\r\n", "SET", "a", "b"); /* an empty store is under any limit */
	EXPECT(s, R2, "-OOM command not allowed when used memory > 'maxmemory'.\r\n", "SET", "c",
	       "d");
	EXPECT(s, R2, "+OK\r\n", "CONFIG", "SET", "maxmemory", "0");
	EXPECT(s, R2, "+OK\r\n", "SET", "c", "d");
}

static void test_config_get_star_returns_every_parameter(void **state)
{
	cmd_session *s = *state;
	const char *out = cmds_run(s, R3, "CONFIG", "GET", "*", NULL);
	long pairs = header_count(out, '%');
	assert_true(pairs >= 15);
	static const char *const want[] = {
	        "$4\r\nport\r\n$4\r\n8080\r\n",
	        "$4\r\nbind\r\n$9\r\n127.0.0.1\r\n",
	        "$10\r\nmaxclients\r\n$5\r\n10000\r\n",
	        "$7\r\ntimeout\r\n$1\r\n0\r\n",
	        "$9\r\ndatabases\r\n$1\r\n1\r\n",
	        "$4\r\nsave\r\n$5\r\n300 1\r\n", /* --snapshot-every, --snapshot-min-changes */
	        "$10\r\nappendonly\r\n$3\r\nyes\r\n",
	        "$11\r\nappendfsync\r\n$8\r\neverysec\r\n",
	        "$18\r\nproto-max-bulk-len\r\n$9\r\n536870912\r\n",
	        "$25\r\nclient-query-buffer-limit\r\n$10\r\n1073741824\r\n",
	        "$3\r\ndir\r\n$6\r\n./data\r\n",
	        "$13\r\ntcp-keepalive\r\n$1\r\n0\r\n",
	        "$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(strstr(out, want[i]));
	/* RESP2: the same pairs, flattened. */
	out = cmds_run(s, R2, "CONFIG", "GET", "*", NULL);
	assert_int_equal(header_count(out, '*'), 2 * pairs);
}

static void test_config_get_matches_globs_case_insensitively_and_reports_each_once(void **state)
{
	cmd_session *s = *state;
	const char *out = cmds_run(s, R3, "CONFIG", "GET", "maxmemory*", NULL);
	assert_int_equal(header_count(out, '%'), 3);
	assert_non_null(strstr(out, "$9\r\nmaxmemory\r\n"));
	assert_non_null(strstr(out, "$16\r\nmaxmemory-policy\r\n"));
	assert_non_null(strstr(out, "$17\r\nmaxmemory-samples\r\n"));
	out = cmds_run(s, R3, "CONFIG", "GET", "MAX*", "maxmemory", "maxclients", NULL);
	assert_int_equal(header_count(out, '%'), 4);
	EXPECT(s, R3, "%2\r\n$4\r\nport\r\n$4\r\n8080\r\n$4\r\nsave\r\n$5\r\n300 1\r\n", "CONFIG",
	       "GET", "?o?t", "s[a-c]ve");
	EXPECT(s, R2, "*0\r\n", "CONFIG", "GET", "nosuch");
	EXPECT(s, R3, "%0\r\n", "CONFIG", "GET", "nosuch*");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'config|get' command\r\n", "CONFIG",
	       "GET");
}

static void
test_config_set_is_refused_as_redis_refuses_unknown_and_immutable_parameters(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2,
	       "-ERR CONFIG SET failed (possibly related to argument 'timeout') - can't set "
	       "immutable config\r\n",
	       "CONFIG", "SET", "Timeout", "10");
	EXPECT(s, R2, "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
	       "CONFIG", "SET", "nosuch", "1");
	EXPECT(s, R2, "-ERR syntax error\r\n", "CONFIG", "SET", "maxmemory", "1", "timeout");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'config|set' command\r\n", "CONFIG",
	       "SET", "maxmemory");
	EXPECT(s, R2, "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG", "GET", "maxmemory");
}

static void test_config_resetstat_is_accepted_and_unknown_subcommands_are_not(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "CONFIG", "RESETSTAT");
	EXPECT(s, R2, "-ERR unknown subcommand 'xyz'. Try CONFIG HELP.\r\n", "CONFIG", "xyz");
	EXPECT(s, R2, "-ERR wrong number of arguments for 'config' command\r\n", "CONFIG");
}

/* ---- INFO ---- */

static void test_info_has_the_server_memory_and_keyspace_sections_after_a_set(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	const char *body = bulk_body(cmds_run(s, R2, "INFO", NULL));
	assert_memory_equal(body, "# Server\r\n", 10);
	static const char *const want[] = {
	        "\r\nredis_version:7.0.0\r\n",
	        "\r\nredis_mode:standalone\r\n",
	        "\r\n\r\n# Clients\r\n",
	        "\r\n\r\n# Memory\r\nused_memory:",
	        "\r\nmaxmemory_policy:noeviction\r\n",
	        "\r\n\r\n# Persistence\r\nloading:0\r\n",
	        "\r\n\r\n# Stats\r\n",
	        "\r\n\r\n# Replication\r\nrole:master\r\n",
	        "\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(strstr(body, want[i]));
	/* Every line ends with CRLF, and the section order is Redis's. */
	for (const char *p = strchr(body, '\n'); p; p = strchr(p + 1, '\n'))
		assert_int_equal(p[-1], '\r');
	assert_true(strstr(body, "# Server") < strstr(body, "# Clients"));
	assert_true(strstr(body, "# Stats") < strstr(body, "# Keyspace"));
}

static void test_info_run_id_is_forty_hex_digits(void **state)
{
	cmd_session *s = *state;
	const char *body = bulk_body(cmds_run(s, R2, "INFO", "server", NULL));
	const char *id = strstr(body, "\r\nrun_id:");
	assert_non_null(id);
	id += strlen("\r\nrun_id:");
	for (int i = 0; i < 40; i++)
		assert_non_null(strchr("0123456789abcdef", id[i]));
	assert_memory_equal(id + 40, "\r\n", 2);
}

static void test_info_keyspace_alone_has_only_its_section(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "$12\r\n# Keyspace\r\n\r\n", "INFO", "keyspace");
	EXPECT(s, R2, "+OK\r\n", "SET", "a", "1");
	EXPECT(s, R2, "+OK\r\n", "SET", "b", "2");
	EXPECT(s, R2, "$44\r\n# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n\r\n", "INFO",
	       "KEYSPACE");
	EXPECT(s, R3, "=48\r\ntxt:# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n\r\n", "INFO",
	       "keyspace");
}

static void test_info_sections_come_in_redis_order_separated_by_a_blank_line(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "$44\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n\r\n", "INFO",
	       "keyspace", "cluster", "keyspace");
}

static void test_info_with_an_unknown_section_is_empty(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "$0\r\n\r\n", "INFO", "nosuch");
	EXPECT(s, R3, "=4\r\ntxt:\r\n", "INFO", "nosuch");
}

static void test_info_default_all_and_everything_are_every_section(void **state)
{
	cmd_session *s = *state;
	char *plain = strdup(bulk_body(cmds_run(s, R2, "INFO", NULL)));
	static const char *const names[] = {"default", "ALL", "everything"};
	for (size_t i = 0; i < 3; i++) {
		const char *body = bulk_body(cmds_run(s, R2, "INFO", names[i], NULL));
		/* Same sections; the times in them may differ. */
		for (const char *h = plain; (h = strstr(h, "# ")) != NULL; h++) {
			char head[32];
			size_t n = strcspn(h, "\r");
			snprintf(head, sizeof(head), "%.*s\r\n", (int)n, h);
			assert_non_null(strstr(body, head));
		}
	}
	free(plain);
}

static void test_info_memory_reports_maxmemory_in_bytes_and_human_form(void **state)
{
	cmd_session *s = *state;
	store_set_maxmemory(s->st, 1536, STORE_EVICT_VOLATILE_TTL);
	const char *body = bulk_body(cmds_run(s, R2, "INFO", "memory", NULL));
	assert_memory_equal(body, "# Memory\r\nused_memory:", 22);
	assert_non_null(strstr(body, "\r\nmaxmemory:1536\r\nmaxmemory_human:1.50K\r\n"));
	assert_non_null(strstr(body, "\r\nmaxmemory_policy:volatile-ttl\r\n"));
	assert_non_null(strstr(body, "\r\nmem_allocator:libc\r\n"));
	assert_null(strstr(body, "# Server"));
}

static void test_info_stats_count_this_workers_keyspace_hits_and_misses(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, "+OK\r\n", "SET", "k", "v");
	EXPECT(s, R2, "$1\r\nv\r\n", "GET", "k");
	EXPECT(s, R2, "$-1\r\n", "GET", "missing");
	EXPECT(s, R2, "$-1\r\n", "GET", "missing");
	const char *body = bulk_body(cmds_run(s, R2, "INFO", "stats", NULL));
	assert_non_null(strstr(body, "\r\nkeyspace_hits:1\r\nkeyspace_misses:2\r\n"));
	assert_non_null(strstr(body, "\r\ntotal_connections_received:0\r\n"));
}

/* ---- TIME, LASTSAVE ---- */

static void test_time_returns_two_integers_as_bulk_strings_close_to_now(void **state)
{
	cmd_session *s = *state;
	struct timespec before, after;
	clock_gettime(CLOCK_REALTIME, &before);
	const char *out = cmds_run(s, R2, "TIME", NULL);
	clock_gettime(CLOCK_REALTIME, &after);
	long long sec, usec;
	int consumed = 0;
	assert_int_equal(
	        sscanf(out, "*2\r\n$%*d\r\n%lld\r\n$%*d\r\n%lld\r\n%n", &sec, &usec, &consumed), 2);
	assert_int_equal((size_t)consumed, strlen(out));
	assert_true(usec >= 0 && usec < 1000000);
	long long t = sec * 1000000 + usec;
	assert_true(t >= (long long)before.tv_sec * 1000000 + before.tv_nsec / 1000);
	assert_true(t <= (long long)after.tv_sec * 1000000 + after.tv_nsec / 1000);
	/* The announced lengths are the digits'. */
	char want[96];
	snprintf(want, sizeof(want), "*2\r\n$%d\r\n%lld\r\n$%d\r\n%lld\r\n",
	         snprintf(NULL, 0, "%lld", sec), sec, snprintf(NULL, 0, "%lld", usec), usec);
	assert_string_equal(out, want);
	EXPECT(s, R2, "-ERR wrong number of arguments for 'time' command\r\n", "TIME", "x");
}

static void test_lastsave_without_a_server_is_zero(void **state)
{
	cmd_session *s = *state;
	EXPECT(s, R2, ":0\r\n", "LASTSAVE");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_command_count_equals_the_table_size),
	        T(test_command_info_get_returns_arity_2_and_first_key_1),
	        T(test_command_info_reports_admin_and_derived_categories),
	        T(test_command_info_of_an_unknown_command_is_null),
	        T(test_command_and_command_info_without_names_describe_every_command),
	        T(test_command_docs_is_an_empty_map),
	        T(test_command_list_names_every_command_and_filters_by_pattern_or_category),
	        T(test_command_getkeys_finds_keys_by_position),
	        T(test_command_unknown_subcommands_use_the_redis_text),
	        T(test_admin_flags_follow_redis),
	        T(test_config_get_maxmemory_returns_a_pair),
	        T(test_config_set_changes_maxmemory_and_policy_at_run_time),
	        T(test_config_get_star_returns_every_parameter),
	        T(test_config_get_matches_globs_case_insensitively_and_reports_each_once),
	        T(test_config_set_is_refused_as_redis_refuses_unknown_and_immutable_parameters),
	        T(test_config_resetstat_is_accepted_and_unknown_subcommands_are_not),
	        T(test_info_has_the_server_memory_and_keyspace_sections_after_a_set),
	        T(test_info_run_id_is_forty_hex_digits),
	        T(test_info_keyspace_alone_has_only_its_section),
	        T(test_info_sections_come_in_redis_order_separated_by_a_blank_line),
	        T(test_info_with_an_unknown_section_is_empty),
	        T(test_info_default_all_and_everything_are_every_section),
	        T(test_info_memory_reports_maxmemory_in_bytes_and_human_form),
	        T(test_info_stats_count_this_workers_keyspace_hits_and_misses),
	        T(test_time_returns_two_integers_as_bulk_strings_close_to_now),
	        T(test_lastsave_without_a_server_is_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
