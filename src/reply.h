/* reply.h - protocol-neutral reply writer.
 *
 * Command handlers describe their reply in the types both wire protocols
 * share (status, error, bulk value, null, integer, double, boolean, arrays,
 * maps, sets); the writer encodes it for the protocol the request came in:
 * - RESP2/RESP3 exactly as Redis sends them (maps become flat arrays, doubles
 *   bulk strings and booleans integers in RESP2);
 * - the line protocol (docs/protocol.md): one line per reply. null is
 *   "NOT FOUND", an error "ERROR: <reason>", a top-level value raw unless it
 *   must be quoted; an aggregate is its elements on one line separated by
 *   spaces, each a token (bare when safe, else quoted), a null element
 *   "(nil)", an empty aggregate "(empty)". Nested aggregates are flattened.
 * Out-of-memory while appending sets a sticky flag checked once by the
 * connection after the command (Redis rio's habit), never per call.
 */
#ifndef MINIDB_REPLY_H
#define MINIDB_REPLY_H

#include <stddef.h>

#include "buf.h"

enum reply_proto { PROTO_LINE = 0, PROTO_RESP2 = 2, PROTO_RESP3 = 3 };

typedef struct reply {
	buf *out;
	enum reply_proto proto;
	int oom; /* sticky: an append failed */
	/* Line protocol: elements still due in the current line's aggregate
	 * (0 outside one), and whether the next element needs a separator. */
	size_t line_pending;
	int line_need_sep;
	/* What the first error reply was about (REPLY_ERR_*), for the
	 * request_errors_total metric; REPLY_ERR_NONE when none was written. */
	int err_reason;
} reply;

/* Error classes, from the error's code and (for ERR) its message. */
enum {
	REPLY_ERR_NONE = 0,
	REPLY_ERR_NOAUTH,
	REPLY_ERR_NOPERM,
	REPLY_ERR_WRONGPASS,
	REPLY_ERR_WRONGTYPE,
	REPLY_ERR_SYNTAX,
	REPLY_ERR_OOM,
	REPLY_ERR_LOADING,
	REPLY_ERR_UNKNOWN_COMMAND,
	REPLY_ERR_ARITY,
	REPLY_ERR_OTHER,
	REPLY_ERR_COUNT
};

/* "noauth", "syntax", ... (the metric's reason label); "" for NONE. */
const char *reply_err_reason_name(int reason);

/* A point in the reply stream, and taking back everything written after it
 * (a handler that replied under a store lock before the store refused the
 * change). Only for a top-level reply: not inside a line aggregate. */
static inline size_t reply_mark(const reply *r)
{
	return r->out->len;
}
static inline void reply_rollback(reply *r, size_t mark)
{
	if (mark <= r->out->len && mark >= r->out->off)
		r->out->len = mark;
}

/* Simple status ("OK", "PONG"): RESP "+OK". */
void reply_status(reply *r, const char *s);
/* An error of class ERR; msg without prefix ("value is not an integer or out
 * of range"): RESP "-ERR msg", line "ERROR: msg". */
void reply_error(reply *r, const char *msg);
void reply_errorf(reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error with its own class ("WRONGTYPE", "OOM", "NOAUTH", "LOADING"):
 * RESP "-CODE msg", line "ERROR: CODE msg". */
void reply_error_code(reply *r, const char *code, const char *msg);
/* A value (binary-safe). */
void reply_bulk(reply *r, const void *p, size_t n);
void reply_bulk_cstr(reply *r, const char *s);
/* A missing value: RESP2 "$-1", RESP3 "_", line "NOT FOUND". */
void reply_null(reply *r);
/* A missing aggregate: RESP2 "*-1", RESP3 "_", line "NOT FOUND". */
void reply_null_array(reply *r);
void reply_int(reply *r, long long v);
/* RESP3 ",d"; RESP2 and line: the shortest text that reads back as d. */
void reply_double(reply *r, double d);
/* RESP3 "#t"/"#f"; RESP2 and line: 1/0. */
void reply_bool(reply *r, int b);
/* RESP3 "=n\r\ntxt:..." (verbatim string); otherwise a plain bulk. */
void reply_verbatim(reply *r, const void *p, size_t n);

/* Aggregates: the next n elements (2n for a map: key, value, ...) belong to
 * it. RESP3 map "%n" / set "~n"; RESP2 "*n" / "*2n". */
void reply_array(reply *r, size_t n);
void reply_map(reply *r, size_t npairs);
void reply_set(reply *r, size_t n);

/* Line protocol: appends the quoted form of p (see docs/protocol.md).
 * Exposed for tests. Returns 0 or -ENOMEM. */
int reply_line_quote(buf *out, const void *p, size_t n);
/* 1 if a top-level line-protocol reply of this value must be quoted. */
int reply_line_needs_quote(const void *p, size_t n);

#endif
