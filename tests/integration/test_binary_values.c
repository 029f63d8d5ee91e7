/* test_binary_values.c - binary safety of the line protocol: quoted keys and
 * values with \xHH escapes are stored byte for byte, and replies follow the
 * quoting rule of docs/protocol.md (a value holding CR, LF or NUL, or
 * starting with '"', comes back quoted; everything else comes back raw,
 * bytes >= 0x80 included), so every byte string round-trips.
 *
 * One server serves the whole file; each test uses its own keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Length of the server's quoted form of data per docs/protocol.md: quotes,
 * two-byte escapes for '"', '\\', CR, LF, TAB, \xHH for other bytes below
 * 0x20 and 0x7f, everything else (>= 0x80 included) raw. */
static size_t quoted_len(const unsigned char *data, size_t len)
{
	size_t n = 2;
	for (size_t i = 0; i < len; i++) {
		unsigned char b = data[i];
		if (b == '"' || b == '\\' || b == '\r' || b == '\n' || b == '\t')
			n += 2;
		else if (b < 0x20 || b == 0x7f)
			n += 4;
		else
			n += 1;
	}
	return n;
}

/* SETs key (a protocol token, quoted or not) to len bytes of data sent
 * quoted, LOOKUPs it and checks that the decoded reply equals data. Returns
 * the raw reply line for further checks; the caller frees it. */
static char *set_and_read_back(mdb_conn *c, const char *key, const void *data, size_t len)
{
	char *q = mdb_quote(data, len);
	assert_non_null(q);
	char *reply = mdb_cmdf(c, "SET %s %s", key, q);
	free(q);
	assert_non_null(reply);
	assert_string_equal(reply, "OK");
	free(reply);

	reply = mdb_cmdf(c, "LOOKUP %s", key);
	assert_non_null(reply);
	size_t rlen = strlen(reply);
	char *decoded = NULL;
	size_t dlen = 0;
	if (reply[0] == '"') {
		assert_int_equal(mdb_unquote(reply, rlen, &decoded, &dlen), 0);
	} else {
		decoded = strdup(reply);
		dlen = rlen;
	}
	assert_int_equal(dlen, len);
	assert_memory_equal(decoded, data, len);
	free(decoded);
	return reply;
}

static void a_value_holding_all_256_byte_values_round_trips(void **state)
{
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	mdb_conn *c = mdb_group_conn(state);
	char *reply = set_and_read_back(c, "all_bytes", all, sizeof all);

	/* It holds NUL, CR and LF, so it comes back quoted, and in exactly the
	 * documented form: bytes >= 0x80 raw, not escaped. */
	assert_int_equal(reply[0], '"');
	assert_int_equal(strlen(reply), quoted_len(all, sizeof all));
	for (int b = 0x80; b < 0x100; b++)
		assert_non_null(memchr(reply, b, strlen(reply)));
	free(reply);
	mdb_conn_close(c);
}

static void every_single_byte_value_round_trips(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	for (int i = 0; i < 256; i++) {
		unsigned char b = (unsigned char)i;
		char key[32];
		snprintf(key, sizeof key, "one_byte_%d", i);
		free(set_and_read_back(c, key, &b, 1));
	}
	mdb_conn_close(c);
}

static void a_large_random_binary_value_round_trips(void **state)
{
	enum { LEN = 64 * 1024 };
	unsigned char *data = malloc(LEN);
	assert_non_null(data);
	uint32_t x = 2463534242u; /* xorshift32: reproducible bytes */
	for (size_t i = 0; i < LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	mdb_conn *c = mdb_group_conn(state);
	free(set_and_read_back(c, "large_binary", data, LEN));
	free(data);
	mdb_conn_close(c);
}

static void keys_with_spaces_quotes_and_control_bytes_are_distinct_keys(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET \"my key\" spaced", "OK");
	mdb_assert_cmd(c, "LOOKUP \"my key\"", "spaced");
	mdb_assert_cmd(c, "LOOKUP my", "NOT FOUND");
	mdb_assert_cmd(c, "EXISTS \"my key\"", "1");

	mdb_assert_cmd(c, "SET \"a\\\"b\" quoted_key", "OK");
	mdb_assert_cmd(c, "LOOKUP \"a\\\"b\"", "quoted_key");

	mdb_assert_cmd(c, "SET \"line\\nbreak\" lf_key", "OK");
	mdb_assert_cmd(c, "LOOKUP \"line\\x0abreak\"", "lf_key");
	mdb_assert_cmd(c, "LOOKUP \"line\\rbreak\"", "NOT FOUND");

	mdb_assert_cmd(c, "SET \"nul\\x00key\" nul_key", "OK");
	mdb_assert_cmd(c, "LOOKUP \"nul\\x00key\"", "nul_key");
	mdb_assert_cmd(c, "LOOKUP nul", "NOT FOUND");

	/* A quoted key equal to a plain one is the same key. */
	mdb_assert_cmd(c, "SET \"plain\" via_quotes", "OK");
	mdb_assert_cmd(c, "LOOKUP plain", "via_quotes");

	mdb_assert_cmd(c, "DEL \"my key\"", "OK");
	mdb_assert_cmd(c, "EXISTS \"my key\"", "0");
	mdb_conn_close(c);
}

static void a_value_starting_with_a_quote_comes_back_quoted(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET lead_quote \"\\\"hello\"", "OK");
	mdb_assert_cmd(c, "LOOKUP lead_quote", "\"\\\"hello\"");
	/* A value that merely looks quoted is stored with its quotes. */
	mdb_assert_cmd(c, "SET looks_quoted \"\\\"x\\\"\"", "OK");
	mdb_assert_cmd(c, "LOOKUP looks_quoted", "\"\\\"x\\\"\"");
	mdb_conn_close(c);
}

static void a_value_with_cr_lf_or_nul_comes_back_quoted(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET has_lf \"two\\nlines\"", "OK");
	mdb_assert_cmd(c, "LOOKUP has_lf", "\"two\\nlines\"");
	mdb_assert_cmd(c, "SET has_cr \"a\\rb\"", "OK");
	mdb_assert_cmd(c, "LOOKUP has_cr", "\"a\\rb\"");
	mdb_assert_cmd(c, "SET has_nul \"a\\x00b\"", "OK");
	mdb_assert_cmd(c, "LOOKUP has_nul", "\"a\\x00b\"");
	/* Once quoted, a TAB and a backslash are escaped too. */
	mdb_assert_cmd(c, "SET mixed \"t\\tb\\\\\\n\"", "OK");
	mdb_assert_cmd(c, "LOOKUP mixed", "\"t\\tb\\\\\\n\"");
	mdb_conn_close(c);
}

static void a_value_without_cr_lf_nul_or_leading_quote_comes_back_raw(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	/* Sent quoted, returned raw: TAB, backslash, inner quote, high bytes. */
	mdb_assert_cmd(c, "SET raw_tab \"a\\tb\"", "OK");
	mdb_assert_cmd(c, "LOOKUP raw_tab", "a\tb");
	mdb_assert_cmd(c, "SET raw_backslash \"c:\\\\dir\"", "OK");
	mdb_assert_cmd(c, "LOOKUP raw_backslash", "c:\\dir");
	mdb_assert_cmd(c, "SET raw_inner \"say \\\"hi\\\"\"", "OK");
	mdb_assert_cmd(c, "LOOKUP raw_inner", "say \"hi\"");
	mdb_assert_cmd(c, "SET raw_utf8 \"h\\xc3\\xa9llo\"", "OK");
	mdb_assert_cmd(c, "LOOKUP raw_utf8", "h\xc3\xa9llo");
	/* Sent raw, returned raw. */
	mdb_assert_cmd(c, "SET raw_utf8_2 gr\xc3\xbc\xc3\x9f dich", "OK");
	mdb_assert_cmd(c, "LOOKUP raw_utf8_2", "gr\xc3\xbc\xc3\x9f dich");
	mdb_conn_close(c);
}

static void an_empty_quoted_value_comes_back_as_an_empty_line(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET empty_value \"\"", "OK");
	mdb_assert_cmd(c, "EXISTS empty_value", "1");
	mdb_assert_cmd(c, "LOOKUP empty_value", "");
	mdb_conn_close(c);
}

static void an_empty_quoted_key_is_a_key_like_any_other(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET \"\" empty_key", "OK");
	mdb_assert_cmd(c, "LOOKUP \"\"", "empty_key");
	mdb_assert_cmd(c, "DEL \"\"", "OK");
	mdb_assert_cmd(c, "LOOKUP \"\"", "NOT FOUND");
	mdb_conn_close(c);
}

static void uppercase_hex_escapes_are_accepted(void **state)
{
	mdb_conn *c = mdb_group_conn(state);
	mdb_assert_cmd(c, "SET hex_case \"\\x4A\\x4b\"", "OK");
	mdb_assert_cmd(c, "LOOKUP hex_case", "JK");
	mdb_conn_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(a_value_holding_all_256_byte_values_round_trips),
	        cmocka_unit_test(every_single_byte_value_round_trips),
	        cmocka_unit_test(a_large_random_binary_value_round_trips),
	        cmocka_unit_test(keys_with_spaces_quotes_and_control_bytes_are_distinct_keys),
	        cmocka_unit_test(a_value_starting_with_a_quote_comes_back_quoted),
	        cmocka_unit_test(a_value_with_cr_lf_or_nul_comes_back_quoted),
	        cmocka_unit_test(a_value_without_cr_lf_nul_or_leading_quote_comes_back_raw),
	        cmocka_unit_test(an_empty_quoted_value_comes_back_as_an_empty_line),
	        cmocka_unit_test(an_empty_quoted_key_is_a_key_like_any_other),
	        cmocka_unit_test(uppercase_hex_escapes_are_accepted),
	};
	return cmocka_run_group_tests(tests, mdb_group_start, mdb_group_stop);
}
