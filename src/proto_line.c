/* proto_line.c - splits line-protocol requests into arguments (proto_line.h).
 *
 * The one irregular rule comes from the original Mini DB: SET's value is the
 * rest of the line after the key and one separator, inner and trailing spaces
 * included. The command table says which argument has that rule
 * (command.line_rest); the splitter applies it without knowing why.
 */
#include "proto_line.h"

#include "ascii.h"

static int is_sep(char c)
{
	return c == ' ' || c == '\t';
}

/* Decodes the quoted token starting at line[*pos] == '"' in place. On success
 * the token is at line[start .. start+*outlen) and *pos is past the closing
 * quote. */
static int decode_quoted(char *line, size_t len, size_t *pos, size_t *outlen, const char **err)
{
	size_t i = *pos + 1, o = *pos;
	while (i < len) {
		char c = line[i];
		if (c == '"') {
			i++;
			if (i < len && !is_sep(line[i])) {
				*err = "Protocol error: closing quote must be followed by a space";
				return PL_ERROR;
			}
			*outlen = o - *pos;
			*pos = i;
			return PL_OK;
		}
		if (c != '\\') {
			line[o++] = c;
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;
		char e = line[i + 1];
		switch (e) {
		case 'n':
			line[o++] = '\n';
			break;
		case 'r':
			line[o++] = '\r';
			break;
		case 't':
			line[o++] = '\t';
			break;
		case '\\':
			line[o++] = '\\';
			break;
		case '"':
			line[o++] = '"';
			break;
		case 'x': {
			int hi = i + 2 < len ? ascii_hex_value((unsigned char)line[i + 2]) : -1;
			int lo = i + 3 < len ? ascii_hex_value((unsigned char)line[i + 3]) : -1;
			if (hi < 0 || lo < 0) {
				*err = "Protocol error: invalid \\x escape (two hex digits "
				       "expected)";
				return PL_ERROR;
			}
			line[o++] = (char)(hi << 4 | lo);
			i += 2;
			break;
		}
		default:
			*err = "Protocol error: invalid escape sequence in quoted string";
			return PL_ERROR;
		}
		i += 2;
	}
	*err = "Protocol error: unbalanced quotes";
	return PL_ERROR;
}

int proto_line_split(char *line, size_t len, argvec *av, proto_line_rest_fn rest, const char **err)
{
	size_t pos = 0;
	int rest_at = 0;
	av->n = 0;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (;;) {
		if (rest_at > 0 && av->n == (size_t)rest_at && pos < len) {
			/* One separator, then the value: quoted, or the rest of the line. */
			pos++;
			if (pos >= len || line[pos] != '"') {
				if (argvec_push(av, line + pos, len - pos) != 0)
					goto oom;
				return PL_OK;
			}
		} else {
			while (pos < len && is_sep(line[pos]))
				pos++;
			if (pos >= len)
				break;
		}
		size_t start = pos, tlen;
		if (line[pos] == '"') {
			if (decode_quoted(line, len, &pos, &tlen, err) != PL_OK)
				return PL_ERROR;
		} else {
			while (pos < len && !is_sep(line[pos]))
				pos++;
			tlen = pos - start;
		}
		if (argvec_push(av, line + start, tlen) != 0)
			goto oom;
		if (av->n == 1 && rest)
			rest_at = rest(line + start, tlen);
	}
	return av->n == 0 ? PL_EMPTY : PL_OK;
oom:
	*err = "out of memory";
	return PL_ERROR;
}
