/* test_log.c - unit tests for log.c. Lines are captured through a pipe given
 * to log_init and checked byte for byte, and every JSON line also goes
 * through a small strict JSON checker (written here independently of log.c)
 * so escaping, invalid UTF-8 and truncation always leave valid JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define LINE_MAX_BYTES 4096

struct pipe_fds {
	int r, w;
};

/* Fails the test unless hay contains needle (or, with want false, unless
 * it does not). */
static void check_contains(const char *hay, const char *needle, bool want, const char *file,
                           int line)
{
	const char *h = hay != NULL ? hay : "(null)";

	if ((strstr(h, needle) != NULL) != want) {
		print_error("'%s' %s '%s'\n", h, want ? "does not contain" : "contains", needle);
		_fail(file, line);
	}
}

#define assert_contains(hay, needle) check_contains((hay), (needle), true, __FILE__, __LINE__)

/* ---- a strict checker for one JSON object of scalar members ---- */

struct jp {
	const unsigned char *p, *end;
};

static bool j_utf8(struct jp *j)
{
	const unsigned char *p = j->p;
	unsigned c = p[0];
	unsigned cp, n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07;
	else
		return false;
	if (j->end - p <= (ptrdiff_t)n)
		return false;
	for (unsigned i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	j->p += n + 1;
	return true;
}

static bool j_string(struct jp *j)
{
	if (j->p >= j->end || *j->p++ != '"')
		return false;
	while (j->p < j->end) {
		unsigned char c = *j->p;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->end - j->p < 2)
				return false;
			c = j->p[1];
			if (c == 'u') {
				if (j->end - j->p < 6)
					return false;
				for (int i = 2; i < 6; i++) {
					if (!strchr("0123456789abcdefABCDEF", j->p[i]) || !j->p[i])
						return false;
				}
				j->p += 6;
			} else if (c && strchr("\"\\/bfnrt", c)) {
				j->p += 2;
			} else {
				return false;
			}
		} else if (c >= 0x80) {
			if (!j_utf8(j))
				return false;
		} else {
			j->p++;
		}
	}
	return false;
}

static bool j_digits(struct jp *j)
{
	const unsigned char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

static bool j_value(struct jp *j)
{
	static const char *const words[] = {"true", "false", "null"};

	if (j->p >= j->end)
		return false;
	if (*j->p == '"')
		return j_string(j);
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);

		if ((size_t)(j->end - j->p) >= n && memcmp(j->p, words[i], n) == 0) {
			j->p += n;
			return true;
		}
	}
	if (*j->p == '-')
		j->p++;
	if (!j_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!j_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!j_digits(j))
			return false;
	}
	return true;
}

/* True when line is exactly one JSON object followed by one '\n'. */
static bool json_line_valid(const char *line, size_t len)
{
	struct jp j = {(const unsigned char *)line, (const unsigned char *)line + len};

	if (len < 3 || line[len - 1] != '\n' || *j.p++ != '{')
		return false;
	j.end--;
	if (*j.p != '}') {
		for (;;) {
			if (!j_string(&j) || j.p >= j.end || *j.p++ != ':' || !j_value(&j))
				return false;
			if (j.p < j.end && *j.p == ',') {
				j.p++;
				continue;
			}
			break;
		}
	}
	return j.p < j.end && *j.p++ == '}' && j.p == j.end;
}

/* ---- capture ---- */

static int setup(void **state)
{
	struct pipe_fds *fds = malloc(sizeof *fds);
	int p[2];

	if (fds == NULL || pipe(p) != 0)
		return -1;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	fds->r = p[0];
	fds->w = p[1];
	*state = fds;
	return 0;
}

static int teardown(void **state)
{
	struct pipe_fds *fds = *state;

	close(fds->r);
	close(fds->w);
	free(fds);
	log_init(LOG_INFO, LOG_FORMAT_JSON, 2);
	return 0;
}

/* Returns everything written to the pipe so far (a static buffer). */
static const char *drain(const struct pipe_fds *fds, size_t *len)
{
	static char buf[1 << 16];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof buf - 1 && (r = read(fds->r, buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/* Checks the RFC 3339 timestamp and returns what follows it. */
static const char *after_ts(const char *line, bool json)
{
	const char *pattern = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t skip = json ? strlen("{\"ts\":\"") : 0;

	if (json)
		assert_int_equal(strncmp(line, "{\"ts\":\"", skip), 0);
	for (size_t i = 0; pattern[i]; i++) {
		char c = line[skip + i];

		if (pattern[i] == 'd')
			assert_true(c >= '0' && c <= '9');
		else
			assert_int_equal(c, pattern[i]);
	}
	return line + skip + strlen(pattern);
}

/* Expects exactly one JSON line whose members after ts are want. */
static void expect_json(const struct pipe_fds *fds, const char *want)
{
	size_t len;
	const char *line = drain(fds, &len);

	if (!json_line_valid(line, len)) {
		print_error("invalid JSON line: %s", line);
		fail();
	}
	assert_string_equal(after_ts(line, true), want);
}

static void expect_text(const struct pipe_fds *fds, const char *want)
{
	const char *line = drain(fds, NULL);

	assert_string_equal(after_ts(line, false), want);
}

/* ---- tests ---- */

static void test_a_json_line_has_ts_level_component_msg_then_fields_in_order(void **state)
{
	struct pipe_fds *fds = *state;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds->w);
	log_info("server", "listening", LF_S("bind", "127.0.0.1"), LF_I("port", 8080));
	expect_json(fds, "\",\"level\":\"info\",\"component\":\"server\",\"msg\":\"listening\","
	                 "\"bind\":\"127.0.0.1\",\"port\":8080}\n");
	log_error("wal", "fsync failed", LF_S("error", "EIO"));
	expect_json(fds, "\",\"level\":\"error\",\"component\":\"wal\",\"msg\":\"fsync failed\","
	                 "\"error\":\"EIO\"}\n");
	log_emit(LOG_WARN, NULL, NULL, NULL, 0);
	expect_json(fds, "\",\"level\":\"warn\",\"component\":\"\",\"msg\":\"\"}\n");
}

static void test_every_field_type_is_formatted(void **state)
{
	struct pipe_fds *fds = *state;
	const log_field fields[] = {
	        LF_I("i", -5),      LF_U("u", UINT64_MAX),  LF_D("d", 0.25),
	        LF_D("nan", NAN),   LF_D("inf", -INFINITY), LF_B("yes", 7),
	        LF_B("no", 0),      LF_S("null", NULL),     {.key = NULL, .type = LF_INT},
	        LF_D("big", 1e300),
	};

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds->w);
	log_emit(LOG_INFO, "t", "m", fields, sizeof fields / sizeof fields[0]);
	expect_json(fds, "\",\"level\":\"info\",\"component\":\"t\",\"msg\":\"m\",\"i\":-5,"
	                 "\"u\":18446744073709551615,\"d\":0.25,\"nan\":null,\"inf\":null,"
	                 "\"yes\":true,\"no\":false,\"null\":null,\"big\":1e+300}\n");

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds->w);
	log_emit(LOG_INFO, "t", "m", fields, sizeof fields / sizeof fields[0]);
	expect_text(fds,
	            " INFO  t: m i=-5 u=18446744073709551615 d=0.25 nan=null inf=null yes=true "
	            "no=false null=(null) big=1e+300\n");
}

static void test_quotes_and_backslashes_are_escaped_in_json(void **state)
{
	struct pipe_fds *fds = *state;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds->w);
	log_info("a\"b", "say \"hi\" \\ bye", LF_S("k\"ey", "\"\\/"));
	expect_json(fds, "\",\"level\":\"info\",\"component\":\"a\\\"b\",\"msg\":\"say \\\"hi\\\" "
	                 "\\\\ bye\",\"k\\\"ey\":\"\\\"\\\\/\"}\n");
}

static void test_control_bytes_are_escaped_as_u00xx_in_json(void **state)
{
	struct pipe_fds *fds = *state;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds->w);
	log_info("c", "line\nbreak",
	         LF_S("v", "a\tb\rc\x01\x1f\x7f"
	                   "d"));
	expect_json(fds, "\",\"level\":\"info\",\"component\":\"c\",\"msg\":\"line\\u000abreak\","
	                 "\"v\":\"a\\u0009b\\u000dc\\u0001\\u001f\\u007fd\"}\n");
}

static void test_invalid_utf8_is_escaped_and_valid_utf8_passes_through(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	         "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
	        {"\xff", "\\u00ff"},
	        {"a\x80z", "a\\u0080z"},                              /* stray continuation byte */
	        {"\xc0\xaf", "\\u00c0\\u00af"},                       /* overlong '/' */
	        {"\xe0\x80\xaf", "\\u00e0\\u0080\\u00af"},            /* overlong, 3 bytes */
	        {"\xed\xa0\x80", "\\u00ed\\u00a0\\u0080"},            /* UTF-16 surrogate */
	        {"\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080"}, /* above U+10FFFF */
	        {"\xf5\x80", "\\u00f5\\u0080"},
	        {"ok\xe2\x82", "ok\\u00e2\\u0082"}, /* cut short at the end */
	        {"\xe2\x82z", "\\u00e2\\u0082z"},
	        {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"}, /* U+10FFFF itself */
	        {"\xed\x9f\xbf", "\xed\x9f\xbf"},         /* U+D7FF */
	};
	struct pipe_fds *fds = *state;
	char want[256];

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds->w);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		log_info("u", "m", LF_S("v", cases[i].in));
		snprintf(want, sizeof want,
		         "\",\"level\":\"info\",\"component\":\"u\",\"msg\":\"m\",\"v\":\"%s\"}\n",
		         cases[i].out);
		expect_json(fds, want);
	}
}

static void test_messages_below_the_level_are_not_written(void **state)
{
	struct pipe_fds *fds = *state;
	const char *out;
	size_t len;

	log_init(LOG_WARN, LOG_FORMAT_JSON, fds->w);
	assert_false(log_enabled(LOG_DEBUG));
	assert_false(log_enabled(LOG_INFO));
	assert_true(log_enabled(LOG_WARN));
	assert_true(log_enabled(LOG_ERROR));
	log_debug("x", "no", LF_I("n", 1));
	log_info("x", "no", LF_I("n", 1));
	log_emit(LOG_INFO, "x", "no", NULL, 0);
	drain(fds, &len);
	assert_int_equal(len, 0);
	log_warn("x", "yes", LF_I("n", 1));
	log_error("x", "yes", LF_I("n", 2));
	out = drain(fds, &len);
	assert_non_null(strchr(out, '\n'));
	assert_ptr_equal(strchr(strchr(out, '\n') + 1, '\n'), out + len - 1);
	assert_contains(out, "\"level\":\"warn\"");
	assert_contains(out, "\"level\":\"error\"");

	log_init(LOG_DEBUG, LOG_FORMAT_JSON, fds->w);
	assert_true(log_enabled(LOG_DEBUG));
	log_debug("x", "yes", LF_I("n", 1));
	expect_json(fds, "\",\"level\":\"debug\",\"component\":\"x\",\"msg\":\"yes\",\"n\":1}\n");

	log_init(LOG_ERROR, LOG_FORMAT_JSON, fds->w);
	log_warn("x", "no", LF_I("n", 1));
	drain(fds, &len);
	assert_int_equal(len, 0);
}

static void test_the_text_format_is_one_human_readable_line(void **state)
{
	struct pipe_fds *fds = *state;

	log_init(LOG_DEBUG, LOG_FORMAT_TEXT, fds->w);
	log_info("server", "listening", LF_S("bind", "127.0.0.1"), LF_I("port", 8080));
	expect_text(fds, " INFO  server: listening bind=127.0.0.1 port=8080\n");
	log_debug("conn", "accepted", LF_U("fd", 7));
	expect_text(fds, " DEBUG conn: accepted fd=7\n");
	log_warn("conn", "line too long", LF_U("bytes", 2000000));
	expect_text(fds, " WARN  conn: line too long bytes=2000000\n");
	log_error("wal", "fsync failed", LF_B("fatal", 1));
	expect_text(fds, " ERROR wal: fsync failed fatal=true\n");
	log_emit(LOG_INFO, "c", "two\nlines\x01", NULL, 0);
	expect_text(fds, " INFO  c: two\\x0alines\\x01\n");
}

static void test_text_values_are_quoted_when_they_need_it(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"plain", "plain"},
	        {"caf\xc3\xa9", "caf\xc3\xa9"},
	        {"two words", "\"two words\""},
	        {"", "\"\""},
	        {"say \"hi\"", "\"say \\\"hi\\\"\""},
	        {"a=b", "\"a=b\""},
	        {"back\\slash", "\"back\\\\slash\""},
	        {"a\nb\tc\rd", "\"a\\nb\\tc\\rd\""},
	        {"bell\x07", "\"bell\\x07\""},
	        {"bad\xff", "\"bad\\xff\""},
	};
	struct pipe_fds *fds = *state;
	char want[256];

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds->w);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		log_info("t", "m", LF_S("v", cases[i].in), LF_I("n", 1));
		snprintf(want, sizeof want, " INFO  t: m v=%s n=1\n", cases[i].out);
		expect_text(fds, want);
	}
}

static void test_a_long_json_line_is_truncated_to_4_kib_and_stays_a_closed_object(void **state)
{
	struct pipe_fds *fds = *state;
	char *big = malloc(10001);
	const char *line;
	size_t len;

	assert_non_null(big);
	memset(big, 'a', 10000);
	big[10000] = '\0';
	log_init(LOG_INFO, LOG_FORMAT_JSON, fds->w);
	log_info("t", "m", LF_I("before", 1), LF_S("v", big), LF_I("after", 2));
	line = drain(fds, &len);
	assert_true(len <= LINE_MAX_BYTES);
	assert_true(len > LINE_MAX_BYTES - 64);
	assert_true(json_line_valid(line, len));
	assert_contains(line, "\"before\":1,\"v\":\"aaaa");
	assert_string_equal(line + len - strlen("aa\",\"truncated\":true}\n"),
	                    "aa\",\"truncated\":true}\n");

	/* A field that no longer fits is dropped whole, never cut after its key. */
	big[3970] = '\0'; /* the message fits, the next member does not */
	log_info("t", big, LF_S("long_key_that_does_not_fit_anymore_at_all", "v"),
	         LF_I("n", 12345));
	line = drain(fds, &len);
	assert_true(len <= LINE_MAX_BYTES);
	assert_true(json_line_valid(line, len));
	assert_null(strstr(line, "long_key"));
	assert_null(strstr(line, "12345"));
	assert_string_equal(line + len - strlen("aa\",\"truncated\":true}\n"),
	                    "aa\",\"truncated\":true}\n");
	free(big);
}

/* Fills the line with multi-byte units at every alignment: the cut must
 * fall between two units every time. */
static void test_truncation_never_splits_a_utf8_sequence_or_an_escape(void **state)
{
	static const char *const units[] = {
	        "\xf0\x9f\x98\x80", "\xe2\x82\xac", "\x01", "\"", "\xff", "\\"};
	struct pipe_fds *fds = *state;
	char *big = malloc(3 * LINE_MAX_BYTES);
	char pad[16];

	assert_non_null(big);
	for (int fmt = 0; fmt < 2; fmt++) {
		log_init(LOG_INFO, fmt ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON, fds->w);
		for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
			size_t n = strlen(units[u]);

			big[0] = '\0';
			for (size_t len = 0; len + n < 2 * LINE_MAX_BYTES; len += n)
				memcpy(big + len, units[u], n + 1);
			for (size_t off = 0; off < 8; off++) {
				const char *line;
				size_t len;

				memset(pad, 'p', off);
				pad[off] = '\0';
				log_info("t", pad, LF_S("v", big));
				line = drain(fds, &len);
				assert_true(len <= LINE_MAX_BYTES);
				assert_int_equal(line[len - 1], '\n');
				assert_ptr_equal(strchr(line, '\n'), line + len - 1);
				if (fmt == 0)
					assert_true(json_line_valid(line, len));
				else
					assert_string_equal(line + len - 16, " truncated=true\n");
				if (fmt == 1 && u >= 2) /* quoted values keep their closing quote */
					assert_int_equal(line[len - 17], '"');
			}
		}
	}
	free(big);
}

static void test_a_long_text_line_is_truncated_to_one_line(void **state)
{
	struct pipe_fds *fds = *state;
	char *big = malloc(10001);
	const char *line;
	size_t len;

	assert_non_null(big);
	memset(big, 'b', 10000);
	big[10000] = '\0';
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds->w);
	log_info("t", "m", LF_S("v", big), LF_I("after", 2));
	line = drain(fds, &len);
	assert_true(len <= LINE_MAX_BYTES);
	assert_ptr_equal(strchr(line, '\n'), line + len - 1);
	assert_contains(line, " INFO  t: m v=bbbb");
	assert_string_equal(line + len - strlen(" truncated=true\n"), " truncated=true\n");
	assert_null(strstr(line, "after"));
	free(big);
}

static void test_log_level_parse_accepts_names_in_any_case(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("INFO"), LOG_INFO);
	assert_int_equal(log_level_parse("Warn"), LOG_WARN);
	assert_int_equal(log_level_parse("WARNING"), LOG_WARN);
	assert_int_equal(log_level_parse("error"), LOG_ERROR);
	assert_int_equal(log_level_parse(""), -1);
	assert_int_equal(log_level_parse("verbose"), -1);
	assert_int_equal(log_level_parse("info "), -1);
	assert_int_equal(log_level_parse("err"), -1);
	assert_int_equal(log_level_parse(NULL), -1);
	for (int l = LOG_DEBUG; l <= LOG_ERROR; l++)
		assert_int_equal(log_level_parse(log_level_name((enum log_level)l)), l);
}

static void test_logging_preserves_errno(void **state)
{
	struct pipe_fds *fds = *state;

	log_init(LOG_INFO, LOG_FORMAT_JSON, -1); /* write fails with EBADF */
	errno = ENOSPC;
	log_error("t", "m", LF_I("n", 1));
	assert_int_equal(errno, ENOSPC);
	log_init(LOG_INFO, LOG_FORMAT_JSON, fds->w);
	errno = EAGAIN;
	log_error("t", "m", LF_I("n", 1));
	assert_int_equal(errno, EAGAIN);
	drain(fds, NULL);
}

#define WRITERS    4
#define LINES_EACH 400

static void *writer_main(void *arg)
{
	char value[LINE_MAX_BYTES];
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < LINES_EACH; i++) {
		size_t n = (size_t)(i * 37 + id * 101) % (sizeof value - 1);

		memset(value, 'a' + id, n);
		value[n] = '\0';
		log_info("thread", "line", LF_I("id", id), LF_I("i", i), LF_S("v", value));
	}
	return NULL;
}

struct reader {
	int fd;
	char *buf;
	size_t len, cap;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	int flags = fcntl(r->fd, F_GETFL);

	fcntl(r->fd, F_SETFL, flags & ~O_NONBLOCK);
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);

		if (n <= 0)
			break;
		r->len += (size_t)n;
	}
	return NULL;
}

static void test_lines_from_concurrent_threads_never_interleave(void **state)
{
	struct pipe_fds *fds = *state;
	pthread_t writers[WRITERS], reader;
	struct reader r;
	int p[2];
	size_t lines = 0;

	(void)fds;
	assert_int_equal(pipe(p), 0);
	r.fd = p[0];
	r.len = 0;
	r.cap = (size_t)WRITERS * LINES_EACH * LINE_MAX_BYTES;
	r.buf = malloc(r.cap);
	assert_non_null(r.buf);
	log_init(LOG_INFO, LOG_FORMAT_JSON, p[1]);
	assert_int_equal(pthread_create(&reader, NULL, reader_main, &r), 0);
	for (intptr_t i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&writers[i], NULL, writer_main, (void *)i), 0);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(writers[i], NULL);
	close(p[1]);
	pthread_join(reader, NULL);
	close(p[0]);

	for (size_t start = 0; start < r.len; lines++) {
		char *nl = memchr(r.buf + start, '\n', r.len - start);
		size_t len;

		assert_non_null(nl);
		len = (size_t)(nl - (r.buf + start)) + 1;
		assert_true(len <= LINE_MAX_BYTES);
		assert_true(json_line_valid(r.buf + start, len));
		start += len;
	}
	assert_int_equal(lines, WRITERS * LINES_EACH);
	free(r.buf);
}

/* Counts the lines of a file, checking each as JSON; -1 if unreadable. */
static long count_json_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lines = 0;

	if (f == NULL)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		assert_true(line[n - 1] == '\n');
		assert_true(json_line_valid(line, (size_t)n));
		lines++;
	}
	free(line);
	fclose(f);
	return lines;
}

#define ROTATIONS 6

/* What logrotate does (rename, then SIGHUP: log_reopen) while threads log:
 * every line lands whole in one of the files. Runs last: it leaves the log
 * pointed at a file. */
static void test_reopen_after_a_rename_loses_and_splits_no_line_while_threads_log(void **state)
{
	char dir[] = "/tmp/minidb-test-log-XXXXXX";
	char path[128], old[ROTATIONS][160];
	pthread_t writers[WRITERS];
	struct stat st;
	long total = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/minidb.log", dir);
	assert_null(log_file_path());
	assert_int_equal(log_reopen(), 0); /* no file: nothing to do */
	log_init(LOG_INFO, LOG_FORMAT_JSON, 2);
	assert_int_equal(log_open_file(path), 0);
	assert_string_equal(log_file_path(), path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	for (intptr_t i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&writers[i], NULL, writer_main, (void *)i), 0);
	for (int r = 0; r < ROTATIONS; r++) {
		snprintf(old[r], sizeof old[r], "%s.%d", path, r);
		assert_int_equal(rename(path, old[r]), 0);
		assert_int_equal(log_reopen(), 0);
		usleep(1000);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(writers[i], NULL);
	for (int r = 0; r < ROTATIONS; r++) {
		long n = count_json_lines(old[r]);

		assert_true(n >= 0);
		total += n;
		unlink(old[r]);
	}
	total += count_json_lines(path);
	assert_int_equal(total, WRITERS * LINES_EACH);
	/* A directory that does not exist is an error that changes nothing. */
	assert_int_equal(log_open_file("/nonexistent-minidb-dir/x.log"), -ENOENT);
	assert_string_equal(log_file_path(), path);
	unlink(path);
	rmdir(dir);
	/* Reopening a file whose directory went away fails and keeps the fd. */
	assert_int_equal(log_reopen(), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_a_json_line_has_ts_level_component_msg_then_fields_in_order, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_every_field_type_is_formatted, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_quotes_and_backslashes_are_escaped_in_json,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_control_bytes_are_escaped_as_u00xx_in_json,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_invalid_utf8_is_escaped_and_valid_utf8_passes_through, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_messages_below_the_level_are_not_written,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_the_text_format_is_one_human_readable_line,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_text_values_are_quoted_when_they_need_it,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_a_long_json_line_is_truncated_to_4_kib_and_stays_a_closed_object,
	                setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_truncation_never_splits_a_utf8_sequence_or_an_escape, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_a_long_text_line_is_truncated_to_one_line,
	                                        setup, teardown),
	        cmocka_unit_test(test_log_level_parse_accepts_names_in_any_case),
	        cmocka_unit_test_setup_teardown(test_logging_preserves_errno, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lines_from_concurrent_threads_never_interleave,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_reopen_after_a_rename_loses_and_splits_no_line_while_threads_log,
	                setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
