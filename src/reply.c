/* reply.c - encodes command replies for the request's protocol (reply.h).
 *
 * RESP2/RESP3 follow the Redis protocol specification. The line protocol
 * renders every reply as one line; an aggregate's elements are counted down
 * in r->line_pending (nested aggregates are flattened by adding their
 * elements to the count), and the line ends when the count reaches zero.
 * Appends record failure in r->oom instead of returning it.
 */
#include "reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void put(reply *r, const void *p, size_t n)
{
	if (buf_append(r->out, p, n) != 0)
		r->oom = 1;
}

static void put_str(reply *r, const char *s)
{
	put(r, s, strlen(s));
}

/* Writes v in decimal; returns the length. */
static size_t fmt_ll(char *dst, long long v)
{
	char tmp[24];
	size_t n = 0;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t len = 0;
	if (v < 0)
		dst[len++] = '-';
	while (n)
		dst[len++] = tmp[--n];
	return len;
}

/* "<prefix><n>\r\n" */
static void put_header(reply *r, char prefix, long long n)
{
	char tmp[32];
	tmp[0] = prefix;
	size_t len = 1 + fmt_ll(tmp + 1, n);
	tmp[len++] = '\r';
	tmp[len++] = '\n';
	put(r, tmp, len);
}

/* ---- line protocol aggregate bookkeeping ---- */

static int in_line_aggregate(const reply *r)
{
	return r->proto == PROTO_LINE && r->line_pending > 0;
}

/* Before an element of a line aggregate: the separator. */
static void line_begin(reply *r)
{
	if (r->line_need_sep)
		put(r, " ", 1);
	r->line_need_sep = 1;
}

/* After an element: ends the line when it was the last one. */
static void line_end(reply *r)
{
	if (--r->line_pending == 0) {
		put(r, "\n", 1);
		r->line_need_sep = 0;
	}
}

/* A token inside an aggregate is bare when it reads back as itself. */
static int line_token_is_bare(const unsigned char *s, size_t n)
{
	if (n == 0 || (n == 5 && memcmp(s, "(nil)", 5) == 0) ||
	    (n == 7 && memcmp(s, "(empty)", 7) == 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == '"' || s[i] == '\\' || s[i] == 0x7f)
			return 0;
	return 1;
}

static void line_token(reply *r, const void *p, size_t n)
{
	line_begin(r);
	if (line_token_is_bare(p, n))
		put(r, p, n);
	else if (reply_line_quote(r->out, p, n) != 0)
		r->oom = 1;
	line_end(r);
}

/* ---- scalars ---- */

void reply_status(reply *r, const char *s)
{
	if (r->proto == PROTO_LINE) {
		if (in_line_aggregate(r)) {
			line_token(r, s, strlen(s));
			return;
		}
		put_str(r, s);
		put(r, "\n", 1);
		return;
	}
	put(r, "+", 1);
	put_str(r, s);
	put(r, "\r\n", 2);
}

const char *reply_err_reason_name(int reason)
{
	static const char *const names[REPLY_ERR_COUNT] = {
	        "",    "noauth",  "noperm",          "wrongpass", "wrongtype", "syntax",
	        "oom", "loading", "unknown_command", "arity",     "other"};
	return reason > 0 && reason < REPLY_ERR_COUNT ? names[reason] : "";
}

static int starts_with_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int classify_error(const char *code, const char *msg)
{
	static const struct {
		const char *code;
		int reason;
	} codes[] = {{"NOAUTH", REPLY_ERR_NOAUTH},
	             {"NOPERM", REPLY_ERR_NOPERM},
	             {"WRONGPASS", REPLY_ERR_WRONGPASS},
	             {"WRONGTYPE", REPLY_ERR_WRONGTYPE},
	             {"OOM", REPLY_ERR_OOM},
	             {"LOADING", REPLY_ERR_LOADING}};
	if (code && strcmp(code, "ERR") == 0)
		code = NULL;
	if (code) {
		for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			if (strcmp(code, codes[i].code) == 0)
				return codes[i].reason;
		return REPLY_ERR_OTHER;
	}
	if (starts_with_ci(msg, "syntax error"))
		return REPLY_ERR_SYNTAX;
	if (starts_with_ci(msg, "wrong number of arguments"))
		return REPLY_ERR_ARITY;
	if (starts_with_ci(msg, "unknown command"))
		return REPLY_ERR_UNKNOWN_COMMAND;
	return REPLY_ERR_OTHER;
}

static void error_line(reply *r, const char *code, const char *msg)
{
	if (r->err_reason == REPLY_ERR_NONE)
		r->err_reason = classify_error(code, msg);
	if (r->proto == PROTO_LINE) {
		char tmp[600];
		snprintf(tmp, sizeof(tmp), "ERROR: %s%s%s", code ? code : "", code ? " " : "", msg);
		if (in_line_aggregate(r)) {
			line_token(r, tmp, strlen(tmp));
			return;
		}
		put_str(r, tmp);
		put(r, "\n", 1);
		return;
	}
	put(r, "-", 1);
	put_str(r, code ? code : "ERR");
	put(r, " ", 1);
	put_str(r, msg);
	put(r, "\r\n", 2);
}

void reply_error(reply *r, const char *msg)
{
	error_line(r, NULL, msg);
}

void reply_error_code(reply *r, const char *code, const char *msg)
{
	error_line(r, code, msg);
}

void reply_errorf(reply *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_error(r, msg);
}

int reply_line_needs_quote(const void *p, size_t n)
{
	const unsigned char *s = p;
	if (n > 0 && s[0] == '"')
		return 1;
	return memchr(s, '\n', n) || memchr(s, '\r', n) || memchr(s, '\0', n);
}

int reply_line_quote(buf *out, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	/* Worst case 4 output bytes per input byte, plus quotes. */
	if (n > (SIZE_MAX - 2) / 4 || buf_reserve(out, 4 * n + 2) != 0)
		return -1;
	char *d = out->data + out->len;
	*d++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		switch (c) {
		case '"':
			*d++ = '\\';
			*d++ = '"';
			break;
		case '\\':
			*d++ = '\\';
			*d++ = '\\';
			break;
		case '\n':
			*d++ = '\\';
			*d++ = 'n';
			break;
		case '\r':
			*d++ = '\\';
			*d++ = 'r';
			break;
		case '\t':
			*d++ = '\\';
			*d++ = 't';
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				*d++ = '\\';
				*d++ = 'x';
				*d++ = hex[c >> 4];
				*d++ = hex[c & 15];
			} else {
				*d++ = (char)c;
			}
		}
	}
	*d++ = '"';
	out->len = (size_t)(d - out->data);
	return 0;
}

void reply_bulk(reply *r, const void *p, size_t n)
{
	if (r->proto == PROTO_LINE) {
		if (in_line_aggregate(r)) {
			line_token(r, p, n);
			return;
		}
		if (reply_line_needs_quote(p, n)) {
			if (reply_line_quote(r->out, p, n) != 0)
				r->oom = 1;
		} else {
			put(r, p, n);
		}
		put(r, "\n", 1);
		return;
	}
	/* One reservation for header, payload and trailer. */
	if (buf_reserve(r->out, n + 32) != 0) {
		r->oom = 1;
		return;
	}
	put_header(r, '$', (long long)n);
	put(r, p, n);
	put(r, "\r\n", 2);
}

void reply_bulk_cstr(reply *r, const char *s)
{
	reply_bulk(r, s, strlen(s));
}

void reply_null(reply *r)
{
	if (r->proto == PROTO_LINE) {
		if (in_line_aggregate(r)) {
			line_begin(r);
			put(r, "(nil)", 5);
			line_end(r);
			return;
		}
		put(r, "NOT FOUND\n", 10);
		return;
	}
	if (r->proto == PROTO_RESP3)
		put(r, "_\r\n", 3);
	else
		put(r, "$-1\r\n", 5);
}

void reply_null_array(reply *r)
{
	if (r->proto == PROTO_RESP2)
		put(r, "*-1\r\n", 5);
	else
		reply_null(r);
}

void reply_int(reply *r, long long v)
{
	char tmp[32];
	if (r->proto == PROTO_LINE) {
		size_t n = fmt_ll(tmp, v);
		if (in_line_aggregate(r)) {
			line_token(r, tmp, n);
			return;
		}
		tmp[n++] = '\n';
		put(r, tmp, n);
		return;
	}
	put_header(r, ':', v);
}

/* The shortest %.Ng text that reads back as d (Redis 7 prints doubles the
 * same way). */
static int fmt_double(char *dst, size_t size, double d)
{
	if (isinf(d))
		return snprintf(dst, size, "%s", d > 0 ? "inf" : "-inf");
	if (isnan(d))
		return snprintf(dst, size, "nan");
	int n = 0;
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(dst, size, "%.*g", prec, d);
		if (strtod(dst, NULL) == d)
			break;
	}
	return n;
}

void reply_double(reply *r, double d)
{
	char tmp[64];
	int n = fmt_double(tmp, sizeof(tmp), d);
	if (r->proto == PROTO_RESP3) {
		put(r, ",", 1);
		put(r, tmp, (size_t)n);
		put(r, "\r\n", 2);
		return;
	}
	reply_bulk(r, tmp, (size_t)n);
}

void reply_bool(reply *r, int b)
{
	if (r->proto == PROTO_RESP3)
		put(r, b ? "#t\r\n" : "#f\r\n", 4);
	else
		reply_int(r, b ? 1 : 0);
}

void reply_verbatim(reply *r, const void *p, size_t n)
{
	if (r->proto != PROTO_RESP3) {
		reply_bulk(r, p, n);
		return;
	}
	put_header(r, '=', (long long)n + 4);
	put(r, "txt:", 4);
	put(r, p, n);
	put(r, "\r\n", 2);
}

/* ---- aggregates ---- */

static void line_aggregate(reply *r, size_t n)
{
	if (n == 0) {
		if (in_line_aggregate(r)) {
			line_begin(r);
			put(r, "(empty)", 7);
			line_end(r);
		} else {
			put(r, "(empty)\n", 8);
		}
		return;
	}
	if (in_line_aggregate(r))
		r->line_pending += n - 1; /* flattened: one pending element becomes n */
	else
		r->line_pending = n;
}

void reply_array(reply *r, size_t n)
{
	if (r->proto == PROTO_LINE)
		line_aggregate(r, n);
	else
		put_header(r, '*', (long long)n);
}

void reply_map(reply *r, size_t npairs)
{
	if (r->proto == PROTO_LINE)
		line_aggregate(r, 2 * npairs);
	else if (r->proto == PROTO_RESP3)
		put_header(r, '%', (long long)npairs);
	else
		put_header(r, '*', (long long)(2 * npairs));
}

void reply_set(reply *r, size_t n)
{
	if (r->proto == PROTO_LINE)
		line_aggregate(r, n);
	else if (r->proto == PROTO_RESP3)
		put_header(r, '~', (long long)n);
	else
		put_header(r, '*', (long long)n);
}
