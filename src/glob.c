/* glob.c - Redis-style glob matching (see glob.h for the pattern language).
 *
 * Every token other than '*' consumes exactly one byte of the subject, so a
 * failed match only ever needs to retry from the most recent star, one byte
 * further along: an earlier star could only absorb bytes the later star can
 * absorb too. The matcher therefore keeps a single backtrack point and runs in
 * O(plen * slen) time with no recursion. The recursive matcher Redis uses
 * needs a nesting limit to keep "a*a*a*...b" from taking exponential time;
 * this one needs none.
 */
#include "glob.h"

/* ASCII-only case folding: locale-independent, and bytes >= 0x80 are left
 * alone so binary keys never fold. */
static unsigned char fold(unsigned char c, int nocase)
{
	return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* p[*pi] is '['. Reports whether c is in the set and moves *pi past the
 * closing ']' (or to plen when the set is left open). */
static int match_set(const unsigned char *p, size_t plen, size_t *pi, unsigned char c, int nocase)
{
	size_t i = *pi + 1;
	int negate = 0, found = 0;

	if (i < plen && p[i] == '^') {
		negate = 1;
		i++;
	}
	c = fold(c, nocase);
	while (i < plen && p[i] != ']') {
		if (p[i] == '\\' && i + 1 < plen) {
			/* An escaped byte is literal and never starts a range. */
			found |= fold(p[i + 1], nocase) == c;
			i += 2;
		} else if (i + 2 < plen && p[i + 1] == '-') {
			/* A range takes the next three bytes whatever they are,
			 * so "[a-]" is the range ']'..'a' left open, as in Redis. */
			unsigned char lo = fold(p[i], nocase), hi = fold(p[i + 2], nocase);
			if (lo > hi) {
				unsigned char t = lo;
				lo = hi;
				hi = t;
			}
			found |= c >= lo && c <= hi;
			i += 3;
		} else {
			found |= fold(p[i], nocase) == c;
			i++;
		}
	}
	*pi = i < plen ? i + 1 : plen;
	return found != negate;
}

/* Matches c against the one-byte token at p[*pi] (not '*') and moves *pi
 * past the token. */
static int match_token(const unsigned char *p, size_t plen, size_t *pi, unsigned char c, int nocase)
{
	size_t i = *pi;

	switch (p[i]) {
	case '?':
		*pi = i + 1;
		return 1;
	case '[':
		return match_set(p, plen, pi, c, nocase);
	case '\\':
		/* A trailing lone backslash matches itself. */
		if (i + 1 < plen)
			i++;
		/* fall through */
	default:
		*pi = i + 1;
		return fold(p[i], nocase) == fold(c, nocase);
	}
}

int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase)
{
	const unsigned char *p = (const unsigned char *)pat;
	const unsigned char *s = (const unsigned char *)str;
	size_t pi = 0, si = 0;
	/* The pattern position just after the last star seen, and the subject
	 * position that star's match currently ends at. */
	size_t star_p = 0, star_s = 0;
	int have_star = 0;

	while (si < slen) {
		if (pi < plen && p[pi] == '*') {
			while (pi < plen && p[pi] == '*')
				pi++;
			if (pi == plen)
				return 1; /* a trailing star takes the rest */
			have_star = 1;
			star_p = pi;
			star_s = si;
			continue;
		}
		if (pi < plen) {
			size_t next = pi;
			if (match_token(p, plen, &next, s[si], nocase)) {
				pi = next;
				si++;
				continue;
			}
		}
		if (!have_star)
			return 0;
		/* Let the last star absorb one more byte and retry after it. */
		pi = star_p;
		si = ++star_s;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}
