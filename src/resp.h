/* resp.h - incremental parser for RESP requests (arrays of bulk strings).
 *
 * A request is "*<n>\r\n" followed by n times "$<len>\r\n<len bytes>\r\n".
 * The parser resumes where it stopped when more bytes arrive, so a large
 * command trickling in is parsed once, not once per read. It never allocates
 * in proportion to a declared length: "*2000000000" or "$2147483647" cost
 * nothing until the bytes actually arrive, and both are checked against the
 * limits before anything else.
 * Error convention: RESP_OK (command complete), RESP_NEED_MORE, RESP_EMPTY
 * (a zero/negative-length array: ignored, as Redis does), RESP_ERROR (message
 * in p->err, Redis's "Protocol error: ..." text; the connection must close).
 */
#ifndef MINIDB_RESP_H
#define MINIDB_RESP_H

#include <stddef.h>

#include "command.h"

enum { RESP_OK = 0, RESP_NEED_MORE = 1, RESP_EMPTY = 2, RESP_ERROR = -1 };

typedef struct resp_limits {
	long long max_array_len; /* most arguments (Redis: 1024*1024) */
	long long max_bulk_len;  /* longest argument (proto-max-bulk-len) */
} resp_limits;

typedef struct resp_parser {
	long long nargs;   /* declared arguments; -1: header not parsed yet */
	long long bulklen; /* declared length of the current argument; -1: before its header */
	size_t pos;        /* parse position, relative to the command's first byte */
	size_t nparsed;    /* complete arguments */
	size_t *offs;      /* offset and length of each complete argument */
	size_t *lens;
	size_t cap;
	size_t need;  /* hint: bytes still missing for the current argument */
	char err[96]; /* RESP_ERROR message */
} resp_parser;

void resp_parser_init(resp_parser *p);
void resp_parser_free(resp_parser *p);

/* 1 while a command is partly parsed (its first byte was '*'). */
static inline int resp_in_progress(const resp_parser *p)
{
	return p->nargs >= 0;
}

/* Parses the command starting at data[0] (data[0] == '*' on the first call
 * for a command; later calls pass the same command start with more bytes).
 * On RESP_OK, av holds the arguments (pointing into data) and *consumed the
 * command's length; on RESP_EMPTY only *consumed is set. */
int resp_parse(resp_parser *p, char *data, size_t len, const resp_limits *lim, argvec *av,
               size_t *consumed);

#endif
