/* proto_line.h - the original Mini DB's line protocol: framing and splitting.
 *
 * A request is one '\n'-terminated line; a trailing '\r' is dropped. Tokens
 * are separated by spaces or tabs and may be double-quoted with escapes
 * (\n \r \t \\ \" \xHH), decoded in place: a decoded token is never longer
 * than its quoted form, so arguments point into the input buffer and nothing
 * is copied. See docs/protocol.md.
 * Error convention: PL_OK / PL_EMPTY / PL_ERROR (message in *err, a static
 * string), never an ambiguous -1.
 */
#ifndef MINIDB_PROTO_LINE_H
#define MINIDB_PROTO_LINE_H

#include <stddef.h>

#include "command.h"

enum { PL_OK = 0, PL_EMPTY = 1, PL_ERROR = -1 };

/* Returns the index of the argument that takes the rest of the line for the
 * command named by the first token (0: none). */
typedef int (*proto_line_rest_fn)(const char *name, size_t len);

/* Splits line[0..len) (no '\n'; a trailing '\r' is removed here) into av
 * (which is cleared first). Quoted tokens are decoded in place, so line must
 * be writable and stay alive while the arguments are used. */
int proto_line_split(char *line, size_t len, argvec *av, proto_line_rest_fn rest, const char **err);

#endif
