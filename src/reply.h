/* reply.h - protocol-neutral reply writer.
 *
 * Command handlers describe their reply in protocol terms that both wire
 * protocols share (status, error, bulk value, null, integer); the writer
 * encodes it for the connection's protocol into its output buffer. The line
 * protocol's legacy forms live here: null is "NOT FOUND", an error is
 * "ERROR: <reason>", a bulk value is raw or quoted (docs/protocol.md).
 * Out-of-memory while appending sets a sticky flag checked once by the
 * connection after the command (Redis rio's habit), never per call.
 */
#ifndef MINIDB_REPLY_H
#define MINIDB_REPLY_H

#include <stddef.h>

#include "buf.h"

enum reply_proto { PROTO_LINE = 0, PROTO_RESP2, PROTO_RESP3 };

typedef struct reply {
	buf *out;
	enum reply_proto proto;
	int oom; /* sticky: an append failed */
} reply;

/* +OK style status ("OK", "PONG"). */
void reply_status(reply *r, const char *s);
/* An error; msg is the reason without prefix ("Unknown command"). */
void reply_error(reply *r, const char *msg);
/* printf-style error reason. */
void reply_errorf(reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A value (binary-safe). */
void reply_bulk(reply *r, const void *p, size_t n);
/* A missing value: line "NOT FOUND". */
void reply_null(reply *r);
void reply_int(reply *r, long long v);

/* Line protocol: appends the quoted form of p (see docs/protocol.md).
 * Exposed for tests. Returns 0 or -ENOMEM. */
int reply_line_quote(buf *out, const void *p, size_t n);
/* 1 if a line-protocol reply of this value must be quoted. */
int reply_line_needs_quote(const void *p, size_t n);

#endif
