/* buf.h - growable byte buffer with a read cursor, used for connection input
 * and output.
 *
 * Bytes live in data[off .. len); off advances as a consumer takes bytes and
 * the buffer compacts (memmove to the front) only when that is cheap or when
 * room is needed, so a pipelined stream of small commands never shifts the
 * whole buffer per command.
 * Error convention: functions that allocate return 0 or -ENOMEM.
 */
#ifndef MINIDB_BUF_H
#define MINIDB_BUF_H

#include <stddef.h>

typedef struct buf {
	char *data;
	size_t off; /* first unconsumed byte */
	size_t len; /* end of valid bytes */
	size_t cap;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);

/* Unconsumed bytes. */
static inline size_t buf_used(const buf *b)
{
	return b->len - b->off;
}

static inline char *buf_start(const buf *b)
{
	return b->data + b->off;
}

/* Ensures at least n free bytes after len (compacting or growing).
 * Returns 0 or -ENOMEM. */
int buf_reserve(buf *b, size_t n);

/* Appends n bytes. Returns 0 or -ENOMEM (buffer unchanged). */
int buf_append(buf *b, const void *p, size_t n);
int buf_append_str(buf *b, const char *s);
int buf_append_char(buf *b, char c);

/* Marks n unconsumed bytes as consumed; resets to empty when all are. */
void buf_consume(buf *b, size_t n);

/* Drops everything and releases memory above keep bytes of capacity. */
void buf_reset(buf *b, size_t keep);

#endif
