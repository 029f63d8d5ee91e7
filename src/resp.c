/* resp.c - incremental RESP request parser (see resp.h).
 *
 * State between calls is kept as offsets relative to the command's first
 * byte, because the connection's input buffer may move (compaction, growth)
 * between reads. Header lines ("*n", "$n") longer than 64 KiB without CRLF are
 * errors, as in Redis, so a client cannot make us buffer an endless header.
 */
#include "resp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_HEADER_MAX (64 * 1024)

void resp_parser_init(resp_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->nargs = -1;
	p->bulklen = -1;
}

void resp_parser_free(resp_parser *p)
{
	free(p->offs);
	free(p->lens);
	resp_parser_init(p);
}

static void reset(resp_parser *p)
{
	p->nargs = -1;
	p->bulklen = -1;
	p->pos = 0;
	p->nparsed = 0;
	p->need = 0;
}

static int fail(resp_parser *p, const char *msg)
{
	snprintf(p->err, sizeof(p->err), "Protocol error: %s", msg);
	reset(p);
	return RESP_ERROR;
}

/* Parses the decimal between s and e (exclusive): optional '-', digits. */
static int parse_num(const char *s, const char *e, long long *out)
{
	int neg = 0;
	long long v = 0;
	if (s < e && *s == '-') {
		neg = 1;
		s++;
	}
	if (s == e || e - s > 18)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

/* Finds the header line at data[pos] ("*n\r\n" or "$n\r\n"): returns 1 with
 * *num and *next set, 0 if more bytes are needed, -1 on error. */
static int header(resp_parser *p, const char *data, size_t len, size_t pos, long long *num,
                  size_t *next, const char *toolong, const char *invalid)
{
	size_t avail = len - pos;
	size_t scan = avail < RESP_HEADER_MAX ? avail : RESP_HEADER_MAX;
	const char *cr = memchr(data + pos, '\r', scan);
	if (!cr) {
		if (avail > RESP_HEADER_MAX)
			return fail(p, toolong), -1;
		return 0;
	}
	size_t crpos = (size_t)(cr - data);
	if (crpos + 1 >= len)
		return 0;
	if (data[crpos + 1] != '\n' || parse_num(data + pos + 1, cr, num) != 0)
		return fail(p, invalid), -1;
	*next = crpos + 2;
	return 1;
}

static int push_arg(resp_parser *p, size_t off, size_t len)
{
	if (p->nparsed == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		size_t *o = realloc(p->offs, cap * sizeof(*o));
		if (!o)
			return -1;
		p->offs = o;
		size_t *l = realloc(p->lens, cap * sizeof(*l));
		if (!l)
			return -1;
		p->lens = l;
		p->cap = cap;
	}
	p->offs[p->nparsed] = off;
	p->lens[p->nparsed] = len;
	p->nparsed++;
	return 0;
}

int resp_parse(resp_parser *p, char *data, size_t len, const resp_limits *lim, argvec *av,
               size_t *consumed)
{
	long long n;
	size_t next;
	int rc;
	if (p->nargs < 0) {
		rc = header(p, data, len, 0, &n, &next, "too big mbulk count string",
		            "invalid multibulk length");
		if (rc <= 0)
			return rc < 0 ? RESP_ERROR : RESP_NEED_MORE;
		if (n > lim->max_array_len)
			return fail(p, "invalid multibulk length");
		if (n <= 0) {
			*consumed = next;
			reset(p);
			return RESP_EMPTY;
		}
		p->nargs = n;
		p->nparsed = 0;
		p->bulklen = -1;
		p->pos = next;
	}
	while ((long long)p->nparsed < p->nargs) {
		if (p->bulklen < 0) {
			if (p->pos >= len)
				return RESP_NEED_MORE;
			if (data[p->pos] != '$') {
				char msg[48];
				unsigned char c = (unsigned char)data[p->pos];
				if (c >= 0x20 && c < 0x7f)
					snprintf(msg, sizeof(msg), "expected '$', got '%c'", c);
				else
					snprintf(msg, sizeof(msg), "expected '$', got '\\x%02x'",
					         c);
				return fail(p, msg);
			}
			rc = header(p, data, len, p->pos, &n, &next, "too big bulk count string",
			            "invalid bulk length");
			if (rc <= 0)
				return rc < 0 ? RESP_ERROR : RESP_NEED_MORE;
			if (n < 0 || n > lim->max_bulk_len)
				return fail(p, "invalid bulk length");
			p->bulklen = n;
			p->pos = next;
		}
		size_t want = (size_t)p->bulklen + 2;
		if (len - p->pos < want) {
			p->need = want - (len - p->pos);
			return RESP_NEED_MORE;
		}
		if (data[p->pos + want - 2] != '\r' || data[p->pos + want - 1] != '\n')
			return fail(p, "bulk string not terminated by CRLF");
		if (push_arg(p, p->pos, (size_t)p->bulklen) != 0)
			return fail(p, "out of memory");
		p->pos += want;
		p->bulklen = -1;
		p->need = 0;
	}
	av->n = 0;
	for (size_t i = 0; i < p->nparsed; i++)
		if (argvec_push(av, data + p->offs[i], p->lens[i]) != 0)
			return fail(p, "out of memory");
	*consumed = p->pos;
	reset(p);
	/* Do not keep the offset arrays of a huge command alive. */
	if (p->cap > 1024) {
		free(p->offs);
		free(p->lens);
		p->offs = p->lens = NULL;
		p->cap = 0;
	}
	return RESP_OK;
}
