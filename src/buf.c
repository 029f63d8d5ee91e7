/* buf.c - growable byte buffer (see buf.h).
 *
 * Growth doubles the capacity, so appending n bytes one reply at a time costs
 * O(n) copies in total. Compaction moves the unconsumed tail to the front only
 * when a reservation would otherwise grow the allocation.
 */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void buf_free(buf *b)
{
	free(b->data);
	buf_init(b);
}

int buf_reserve(buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	size_t used = b->len - b->off;
	if (b->off > 0 && b->cap - used >= n) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
		return 0;
	}
	if (used > SIZE_MAX / 2 - n)
		return -ENOMEM;
	size_t cap = b->cap ? b->cap : 512;
	while (cap - used < n)
		cap *= 2;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
	}
	char *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) != 0)
		return -ENOMEM;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_append_str(buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_char(buf *b, char c)
{
	if (b->len == b->cap && buf_reserve(b, 1) != 0)
		return -ENOMEM;
	b->data[b->len++] = c;
	return 0;
}

void buf_consume(buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void buf_reset(buf *b, size_t keep)
{
	b->off = b->len = 0;
	if (b->cap > keep) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}
