/* ascii.h - the value of one hexadecimal or base64 digit, shared by the
 * line protocol's \xHH escapes (proto_line.c), the token hash lines
 * (auth.c) and JWT's base64url (jwt.c). Each caller keeps its own rules
 * for padding and lengths; only the digit tables live here.
 */
#ifndef MINIDB_ASCII_H
#define MINIDB_ASCII_H

#include <stdbool.h>

/* 0..15, or -1 when c is not a hex digit (either case). */
static inline int ascii_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 0..63, or -1 when c is not a digit of the alphabet: RFC 4648 base64
 * ("+/") or, with url, base64url ("-_"). Padding '=' is not a digit. */
static inline int ascii_b64_value(int c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

#endif
