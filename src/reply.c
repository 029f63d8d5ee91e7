/* reply.c - encodes command replies for the connection's protocol.
 *
 * Line protocol (the original Mini DB's): one line per reply. RESP encodings
 * are added with the Redis protocol; until then PROTO_RESP* never reaches
 * here. Appends record failure in r->oom instead of returning it.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

static void put(reply *r, const void *p, size_t n)
{
	if (buf_append(r->out, p, n) != 0)
		r->oom = 1;
}

void reply_status(reply *r, const char *s)
{
	put(r, s, strlen(s));
	put(r, "\n", 1);
}

void reply_error(reply *r, const char *msg)
{
	put(r, "ERROR: ", 7);
	put(r, msg, strlen(msg));
	put(r, "\n", 1);
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
	if (reply_line_needs_quote(p, n)) {
		if (reply_line_quote(r->out, p, n) != 0)
			r->oom = 1;
	} else {
		put(r, p, n);
	}
	put(r, "\n", 1);
}

void reply_null(reply *r)
{
	put(r, "NOT FOUND\n", 10);
}

void reply_int(reply *r, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%lld\n", v);
	put(r, tmp, (size_t)n);
}
