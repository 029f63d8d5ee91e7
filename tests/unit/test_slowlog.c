/* test_slowlog.c - unit tests for the SLOWLOG ring: newest first, bounded
 * by its length with the oldest going first, ids never reused (RESET
 * included), a length of 0 keeping nothing, and concurrent adders.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "slowlog.h"

static slowlog_entry entry(const char *cmd, uint64_t us)
{
	slowlog_entry e = {.unix_s = 1795826336, .duration_us = us, .argc = 2};
	snprintf(e.cmd, sizeof e.cmd, "%s", cmd);
	snprintf(e.peer, sizeof e.peer, "127.0.0.1:4242");
	return e;
}

static void test_entries_come_back_newest_first_with_increasing_ids(void **state)
{
	(void)state;
	slowlog *l = slowlog_create(8);
	slowlog_entry out[8];

	assert_non_null(l);
	assert_int_equal(slowlog_len(l), 0);
	assert_int_equal(slowlog_get(l, out, 8), 0);
	slowlog_add(l, &(slowlog_entry){0});
	slowlog_entry a = entry("set", 11000), b = entry("keys", 25000);
	slowlog_add(l, &a);
	slowlog_add(l, &b);
	assert_int_equal(slowlog_len(l), 3);
	assert_int_equal(slowlog_get(l, out, 2), 2);
	assert_string_equal(out[0].cmd, "keys");
	assert_int_equal(out[0].id, 2);
	assert_int_equal(out[0].duration_us, 25000);
	assert_string_equal(out[1].cmd, "set");
	assert_int_equal(out[1].id, 1);
	assert_string_equal(out[1].peer, "127.0.0.1:4242");
	slowlog_free(l);
}

static void test_a_full_ring_drops_the_oldest_and_reset_keeps_counting_ids(void **state)
{
	(void)state;
	slowlog *l = slowlog_create(5);
	slowlog_entry out[10];
	char name[16];

	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof name, "c%d", i);
		slowlog_entry e = entry(name, (uint64_t)i);
		slowlog_add(l, &e);
	}
	assert_int_equal(slowlog_len(l), 5);
	assert_int_equal(slowlog_total(l), 12);
	assert_int_equal(slowlog_get(l, out, 10), 5);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "c%d", 11 - i);
		assert_string_equal(out[i].cmd, name);
		assert_int_equal(out[i].id, 11 - i);
	}
	slowlog_reset(l);
	assert_int_equal(slowlog_len(l), 0);
	assert_int_equal(slowlog_get(l, out, 10), 0);
	slowlog_entry e = entry("after", 1);
	slowlog_add(l, &e);
	assert_int_equal(slowlog_get(l, out, 10), 1);
	assert_int_equal(out[0].id, 12);
	slowlog_free(l);
}

static void test_a_zero_length_log_keeps_nothing_but_counts(void **state)
{
	(void)state;
	slowlog *l = slowlog_create(0);
	slowlog_entry out[2];
	slowlog_entry e = entry("get", 1);

	assert_non_null(l);
	slowlog_add(l, &e);
	slowlog_add(l, &e);
	assert_int_equal(slowlog_len(l), 0);
	assert_int_equal(slowlog_get(l, out, 2), 0);
	assert_int_equal(slowlog_total(l), 2);
	slowlog_free(l);
	slowlog_free(NULL);
}

enum { ADDERS = 4, ADDS_EACH = 5000 };

static void *adder(void *arg)
{
	slowlog *l = arg;
	slowlog_entry e = entry("incr", 7);

	for (int i = 0; i < ADDS_EACH; i++)
		slowlog_add(l, &e);
	return NULL;
}

static void test_concurrent_adders_get_distinct_ids(void **state)
{
	(void)state;
	slowlog *l = slowlog_create(ADDERS * ADDS_EACH);
	pthread_t t[ADDERS];
	static slowlog_entry out[ADDERS * ADDS_EACH];

	for (int i = 0; i < ADDERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, l), 0);
	for (int i = 0; i < ADDERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(slowlog_get(l, out, ADDERS * ADDS_EACH), ADDERS * ADDS_EACH);
	for (size_t i = 0; i < ADDERS * ADDS_EACH; i++)
		assert_int_equal(out[i].id, ADDERS * ADDS_EACH - 1 - i);
	slowlog_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_entries_come_back_newest_first_with_increasing_ids),
	        cmocka_unit_test(test_a_full_ring_drops_the_oldest_and_reset_keeps_counting_ids),
	        cmocka_unit_test(test_a_zero_length_log_keeps_nothing_but_counts),
	        cmocka_unit_test(test_concurrent_adders_get_distinct_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
