/* parquet_testlib.h - small helpers the Parquet unit tests share: a
 * reproducible xorshift64 generator, exactly sized heap copies (so ASan sees
 * any overread), an in-memory sink for the writer, and temp files under
 * $TMPDIR (or /tmp). Everything is static: include it once per test binary.
 * Failures abort the test through cmocka's assert_*, so include it after
 * <cmocka.h>.
 */
#ifndef MINIDB_TEST_PARQUET_TESTLIB_H
#define MINIDB_TEST_PARQUET_TESTLIB_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_SEED 0x9e3779b97f4a7c15ull

/* One xorshift64 step of *x (never 0 when started from a non-zero seed). */
static inline uint64_t tl_xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The test binary's generator, from a fixed seed: reproducible data. */
static inline uint64_t tl_rng(void)
{
	static uint64_t state = TL_SEED;

	return tl_xorshift(&state);
}

/* A heap copy of exactly len bytes (1 when len is 0); the caller frees. */
static inline uint8_t *tl_dup_exact(const void *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

/* A growing in-memory file; tl_mem_write is a pqw write callback. */
struct tl_membuf {
	uint8_t *p;
	size_t len, cap;
};

static inline int tl_mem_write(void *arg, const void *buf, size_t len)
{
	struct tl_membuf *m = arg;

	if (m->len + len > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap < m->len + len)
			cap *= 2;
		uint8_t *p = realloc(m->p, cap);
		if (p == NULL)
			return -ENOMEM;
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

/* Where temp files go: $TMPDIR when set and not empty, else /tmp. */
static inline const char *tl_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");

	return tmp && *tmp ? tmp : "/tmp";
}

/* Writes len bytes to path, replacing it. */
static inline void tl_write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The whole of path in a heap block of exactly *len bytes. */
static inline uint8_t *tl_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	uint8_t *p = malloc(n ? (size_t)n : 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

#endif
