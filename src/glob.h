/* glob.h - Redis-style glob matching (KEYS, SCAN MATCH, and later CONFIG GET
 * and ACL patterns).
 *
 * Pattern language, as Redis documents it for KEYS:
 *   *        any run of bytes, including none
 *   ?        exactly one byte
 *   [abc]    one byte from the set; [^abc] one byte not in it
 *   [a-z]    one byte in the range (either order: [z-a] is the same set)
 *   \x       the byte x itself (also inside a set)
 * A set left open at the end of the pattern ("[ab") ends there. "[]" matches
 * nothing and "[^]" any one byte. Everything else matches itself.
 * Both pattern and subject are counted byte strings (binary-safe).
 */
#ifndef MINIDB_GLOB_H
#define MINIDB_GLOB_H

#include <stddef.h>

/* 1 if s matches pat, else 0. nocase folds ASCII letters only. Runs in
 * O(plen * slen) time and O(1) space whatever the pattern. */
int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

#endif
