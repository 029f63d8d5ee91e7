/* ascii.h - the value of one hexadecimal or base64 digit, shared by the
 * line protocol's \xHH escapes (proto_line.c), the token hash lines
 * (auth.c) and JWT's base64url (jwt.c), and the length of one well-formed
 * UTF-8 sequence (log.c, metrics.c). Each caller keeps its own rules for
 * padding, lengths and replacement; only these primitives live here.
 */
#ifndef MINIDB_ASCII_H
#define MINIDB_ASCII_H

#include <stdbool.h>
#include <stddef.h>

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

/* Returns the length (1-4) of the well-formed UTF-8 sequence at s, or 0 when
 * the byte at s does not start one: stray continuation bytes, overlong forms,
 * surrogates and code points above U+10FFFF are all rejected (RFC 3629).
 * n (>= 1) is the number of bytes available at s. Used by the log escaper
 * (log.c) and the metrics label escaper (metrics.c). */
static inline size_t ascii_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		len = 2;
	} else if (c < 0xf0) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c < 0xf5) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

#endif
