/* Unit tests for the Redis-style glob matcher (src/glob.c): every token of
 * the pattern language, binary subjects, case folding, and patterns that
 * make a backtracking matcher take exponential time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "glob.h"

typedef struct glob_case {
	const char *pat;
	const char *s;
	int want;
} glob_case;

static int match(const char *pat, const char *s)
{
	return glob_match(pat, strlen(pat), s, strlen(s), 0);
}

static int match_nocase(const char *pat, const char *s)
{
	return glob_match(pat, strlen(pat), s, strlen(s), 1);
}

static void check_cases(const glob_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (match(c[i].pat, c[i].s) != c[i].want)
			fail_msg("pattern \"%s\" against \"%s\": expected %d", c[i].pat, c[i].s,
			         c[i].want);
	}
}

#define CHECK(cases) check_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_literals_match_only_themselves(void **state)
{
	(void)state;
	static const glob_case cases[] = {
	        {"", "", 1},           {"", "a", 0},
	        {"a", "", 0},          {"abc", "abc", 1},
	        {"abc", "abd", 0},     {"abc", "ab", 0},
	        {"ab", "abc", 0},      {"user:1", "user:1", 1},
	        {"ABC", "abc", 0},     {"h.llo", "hello", 0},
	        {"h+llo", "h+llo", 1},
	};
	CHECK(cases);
}

static void test_star_matches_any_run_including_none(void **state)
{
	(void)state;
	static const glob_case cases[] = {
	        {"*", "", 1},
	        {"*", "anything", 1},
	        {"**", "", 1},
	        {"***", "abc", 1},
	        {"h*llo", "hllo", 1},
	        {"h*llo", "heeeello", 1},
	        {"h*llo", "hello!", 0},
	        {"*llo", "hello", 1},
	        {"he*", "hello", 1},
	        {"he*", "h", 0},
	        {"*x*", "abc", 0},
	        {"*x*", "axc", 1},
	        {"a*b*c", "abc", 1},
	        {"a*b*c", "aXbYc", 1},
	        {"a*b*c", "acb", 0},
	        {"a*b", "ab", 1},
	        {"a*b", "abab", 1},
	        {"a*b", "abba", 0},
	        {"*a", "aaaa", 1},
	        {"*ab*ab", "abxab", 1},
	        {"*ab*ab", "abab", 1},
	        {"*ab*ab", "aba", 0},
	        {"user:*:name", "user:42:name", 1},
	        {"user:*:name", "user:42:age", 0},
	};
	CHECK(cases);
}

static void test_question_mark_matches_exactly_one_byte(void **state)
{
	(void)state;
	static const glob_case cases[] = {
	        {"?", "a", 1},          {"?", "", 0},          {"?", "ab", 0},
	        {"h?llo", "hello", 1},  {"h?llo", "hallo", 1}, {"h?llo", "hllo", 0},
	        {"h?llo", "heello", 0}, {"??", "ab", 1},       {"*?", "", 0},
	        {"*?", "x", 1},         {"?*?", "ab", 1},      {"?*?", "a", 0},
	};
	CHECK(cases);
}

static void test_sets_match_one_listed_byte(void **state)
{
	(void)state;
	static const glob_case cases[] = {
	        {"h[ae]llo", "hello", 1}, {"h[ae]llo", "hallo", 1}, {"h[ae]llo", "hillo", 0},
	        {"h[ae]llo", "hllo", 0},  {"[abc]", "", 0},         {"[a]", "a", 1},
	        {"[*]", "*", 1},          {"[*]", "x", 0},          {"[?]", "?", 1},
	        {"[?]", "x", 0},          {"[[]", "[", 1},          {"x[ab]*", "xbzz", 1},
	};
	CHECK(cases);
}

static void test_negated_sets_match_one_unlisted_byte(void **state)
{
	(void)state;
	static const glob_case cases[] = {
	        {"h[^e]llo", "hallo", 1}, {"h[^e]llo", "hbllo", 1}, {"h[^e]llo", "hello", 0},
	        {"h[^e]llo", "hllo", 0},  {"[^abc]", "d", 1},       {"[^abc]", "b", 0},
	        {"[^a-c]", "d", 1},       {"[^a-c]", "b", 0},       {"[^]", "x", 1},
	        {"[^]", "", 0},
	};
	CHECK(cases);
}

static void test_ranges_match_in_either_order(void **state)
{
	(void)state;
	static const glob_case cases[] = {
	        {"h[a-b]llo", "hallo", 1}, {"h[a-b]llo", "hbllo", 1}, {"h[a-b]llo", "hcllo", 0},
	        {"[a-z]", "m", 1},         {"[a-z]", "M", 0},         {"[z-a]", "m", 1},
	        {"[z-a]", "z", 1},         {"[z-a]", "a", 1},         {"[z-a]", "0", 0},
	        {"[0-9a-f]", "7", 1},      {"[0-9a-f]", "c", 1},      {"[0-9a-f]", "g", 0},
	        {"[a-a]", "a", 1},         {"[-a]", "-", 1},          {"[-a]", "a", 1},
	        {"[a-]", "]", 1},          {"[a-]", "^", 1},          {"[a-]", "b", 0},
	};
	CHECK(cases);
}

static void test_backslash_escapes_a_special_byte(void **state)
{
	(void)state;
	static const glob_case cases[] = {
	        {"\\*", "*", 1},     {"\\*", "a", 0},     {"\\?", "?", 1},       {"\\?", "a", 0},
	        {"\\[a]", "[a]", 1}, {"\\[a]", "a", 0},   {"a\\\\b", "a\\b", 1}, {"\\a", "a", 1},
	        {"[\\]]", "]", 1},   {"[\\]]", "\\", 0},  {"[\\^a]", "^", 1},    {"[\\-]", "-", 1},
	        {"[a\\-z]", "m", 0}, {"[a\\-z]", "-", 1}, {"*\\*", "abc*", 1},   {"*\\*", "abc", 0},
	};
	CHECK(cases);
}

static void test_a_trailing_backslash_matches_itself(void **state)
{
	(void)state;
	assert_int_equal(match("a\\", "a\\"), 1);
	assert_int_equal(match("a\\", "a"), 0);
	assert_int_equal(match("[\\", "\\"), 1);
}

static void test_an_unclosed_set_ends_at_the_end_of_the_pattern(void **state)
{
	(void)state;
	static const glob_case cases[] = {
	        {"[abc", "a", 1}, {"[abc", "c", 1},  {"[abc", "d", 0}, {"[abc", "ab", 0},
	        {"x[", "x", 0},   {"[^", "a", 1},    {"[]", "", 0},    {"[]", "]", 0},
	        {"[]a]", "]", 0}, {"[]a]", "a]", 0},
	};
	CHECK(cases);
}

static void test_pattern_and_subject_are_binary_safe(void **state)
{
	(void)state;
	const char pat[] = {'a', 0, '*', 0, 'z'};
	const char yes[] = {'a', 0, 'x', 'y', 0, 'z'};
	const char no[] = {'a', 0, 'x', 'y', 'z'};
	assert_int_equal(glob_match(pat, sizeof(pat), yes, sizeof(yes), 0), 1);
	assert_int_equal(glob_match(pat, sizeof(pat), no, sizeof(no), 0), 0);

	const char set[] = {'[', 0, '-', 2, ']'};
	const char one[] = {1};
	const char three[] = {3};
	assert_int_equal(glob_match(set, sizeof(set), one, 1, 0), 1);
	assert_int_equal(glob_match(set, sizeof(set), three, 1, 0), 0);

	/* Bytes above 0x7f compare unsigned, in sets and ranges too. */
	assert_int_equal(match("[\x80-\xff]", "\xc3"), 1);
	assert_int_equal(match("[\x80-\xff]", "a"), 0);
	assert_int_equal(match("caf?", "caf\xc3"), 1);
	assert_int_equal(match("\xc3\xa9*", "\xc3\xa9t\xc3\xa9"), 1);
}

static void test_nocase_folds_ascii_letters_only(void **state)
{
	(void)state;
	assert_int_equal(match_nocase("HeLLo", "hello"), 1);
	assert_int_equal(match_nocase("h[A-C]llo", "hbllo"), 1);
	assert_int_equal(match_nocase("h[a-c]llo", "HBLLO"), 1);
	assert_int_equal(match_nocase("[^A]", "a"), 0);
	assert_int_equal(match_nocase("*NAME", "user:name"), 1);
	assert_int_equal(match_nocase("\xc3\x89", "\xc3\xa9"), 0);
	assert_int_equal(match_nocase("[@]", "`"), 0);
	assert_int_equal(match("HeLLo", "hello"), 0);
}

/* The classic exponential case for recursive matchers: many stars, a subject
 * of the repeated letter, and a final byte that never matches. It must end
 * (in O(plen * slen) steps); no timing is asserted, the per-test timeout
 * catches a regression. */
static void test_many_stars_against_a_long_subject_finish_without_blowing_up(void **state)
{
	(void)state;
	size_t slen = 100000;
	char *s = malloc(slen + 1);
	assert_non_null(s);
	memset(s, 'a', slen);
	s[slen] = 0;

	char pat[256];
	size_t n = 0;
	for (int i = 0; i < 30; i++) {
		pat[n++] = 'a';
		pat[n++] = '*';
	}
	pat[n++] = 'b';
	assert_int_equal(glob_match(pat, n, s, slen, 0), 0);
	pat[n - 1] = 'a';
	assert_int_equal(glob_match(pat, n, s, slen, 0), 1);

	assert_int_equal(
	        match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
	              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	        0);
	assert_int_equal(match("*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?[b]",
	                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	                 0);
	free(s);
}

/* Redis gives up (no match) past 1000 nested stars; this matcher has no
 * depth to limit and still answers correctly. */
static void test_thousands_of_stars_still_match_correctly(void **state)
{
	(void)state;
	size_t n = 5000 * 2 + 1;
	char *pat = malloc(n);
	assert_non_null(pat);
	for (size_t i = 0; i < n - 1; i += 2) {
		pat[i] = 'x';
		pat[i + 1] = '*';
	}
	pat[n - 1] = 'y';
	size_t slen = 20000;
	char *s = malloc(slen);
	assert_non_null(s);
	memset(s, 'x', slen);
	assert_int_equal(glob_match(pat, n, s, slen, 0), 0);
	s[slen - 1] = 'y';
	assert_int_equal(glob_match(pat, n, s, slen, 0), 1);
	free(pat);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_literals_match_only_themselves),
	        cmocka_unit_test(test_star_matches_any_run_including_none),
	        cmocka_unit_test(test_question_mark_matches_exactly_one_byte),
	        cmocka_unit_test(test_sets_match_one_listed_byte),
	        cmocka_unit_test(test_negated_sets_match_one_unlisted_byte),
	        cmocka_unit_test(test_ranges_match_in_either_order),
	        cmocka_unit_test(test_backslash_escapes_a_special_byte),
	        cmocka_unit_test(test_a_trailing_backslash_matches_itself),
	        cmocka_unit_test(test_an_unclosed_set_ends_at_the_end_of_the_pattern),
	        cmocka_unit_test(test_pattern_and_subject_are_binary_safe),
	        cmocka_unit_test(test_nocase_folds_ascii_letters_only),
	        cmocka_unit_test(test_many_stars_against_a_long_subject_finish_without_blowing_up),
	        cmocka_unit_test(test_thousands_of_stars_still_match_correctly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
