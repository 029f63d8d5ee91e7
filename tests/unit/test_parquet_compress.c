/* Unit tests for the Parquet page codecs (src/parquet/compress.c): round
 * trips of every supported codec over empty, tiny, text, incompressible and
 * large repetitive pages; wrong expected sizes are size mismatches that never
 * write past an exactly sized heap buffer (run under ASan); truncations, bit
 * flips and garbage never crash; unsupported codecs are refused; gzip members
 * concatenate and zlib streams decode; zstd frames without a content size
 * decode; and, when the gzip and zstd tools exist, their output decodes and
 * ours decodes with them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lz4.h>
#include <zlib.h>
#include <zstd.h>

#include "parquet/compress.h"
#include "parquet/thrift.h"
#include "parquet_testlib.h"

static const int32_t codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP,
                                 PQ_CODEC_BROTLI,       PQ_CODEC_ZSTD,   PQ_CODEC_LZ4_RAW};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static const char text[] =
        "It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife. However little known the feelings or views of "
        "such a man may be on his first entering a neighbourhood, this truth is so well fixed "
        "in the minds of the surrounding families, that he is considered the rightful property "
        "of some one or other of their daughters.";

static uint8_t *random_bytes(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)tl_rng();
	return p;
}

/* Compresses with codec into an exactly bound-sized buffer, then returns the
 * compressed bytes in an exactly sized block. */
static uint8_t *compress_exact(int32_t codec, int level, const uint8_t *in, size_t len,
                               size_t *clen)
{
	size_t bound = pq_compress_bound(codec, len);
	assert_true(bound > 0 || (codec == PQ_CODEC_UNCOMPRESSED && len == 0));
	uint8_t *buf = malloc(bound ? bound : 1);
	assert_non_null(buf);
	assert_int_equal(pq_compress(codec, level, in, len, buf, bound, clen), PQC_OK);
	assert_true(*clen <= bound);
	uint8_t *c = tl_dup_exact(buf, *clen);
	free(buf);
	return c;
}

/* Decompresses into a heap buffer of exactly expected bytes. On success, the
 * output is compared with want (when want_len == expected). */
static int decompress_exact(int32_t codec, const uint8_t *c, size_t clen, size_t expected,
                            const uint8_t *want, size_t want_len)
{
	uint8_t *out = malloc(expected ? expected : 1);
	assert_non_null(out);
	int rc = pq_decompress(codec, c, clen, expected ? out : NULL, expected);
	if (rc == PQC_OK && want && want_len == expected && expected)
		assert_memory_equal(out, want, expected);
	free(out);
	return rc;
}

/* Round trip at the default level, then the mismatch checks: one byte less
 * and one byte more than the real size are both size mismatches. */
static void round_trip(int32_t codec, const uint8_t *data, size_t len)
{
	size_t clen;
	uint8_t *c = compress_exact(codec, 0, data, len, &clen);
	assert_int_equal(decompress_exact(codec, c, clen, len, data, len), PQC_OK);
	if (len > 0)
		assert_int_equal(decompress_exact(codec, c, clen, len - 1, NULL, 0),
		                 PQC_SIZE_MISMATCH);
	assert_int_equal(decompress_exact(codec, c, clen, len + 1, NULL, 0), PQC_SIZE_MISMATCH);
	free(c);
}

static void test_every_codec_round_trips_an_empty_page(void **state)
{
	for (size_t i = 0; i < NCODECS; i++)
		round_trip(codecs[i], NULL, 0);
}

static void test_every_codec_round_trips_a_one_byte_page(void **state)
{
	const uint8_t b[1] = {'x'};
	for (size_t i = 0; i < NCODECS; i++)
		round_trip(codecs[i], b, 1);
}

static void test_every_codec_round_trips_text(void **state)
{
	for (size_t i = 0; i < NCODECS; i++)
		round_trip(codecs[i], (const uint8_t *)text, sizeof(text) - 1);
}

static void test_every_codec_round_trips_incompressible_random_data(void **state)
{
	const size_t sizes[] = {7, 1000, 65536, 1 << 20};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint8_t *data = random_bytes(sizes[s]);
		for (size_t i = 0; i < NCODECS; i++)
			round_trip(codecs[i], data, sizes[s]);
		free(data);
	}
}

static void test_every_codec_round_trips_4_mib_of_repetitive_data(void **state)
{
	const size_t len = 4u << 20;
	uint8_t *data = malloc(len);
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)("snapshot key:value;"[i % 19] + (i / 4096) % 3);
	for (size_t i = 0; i < NCODECS; i++) {
		size_t clen;
		uint8_t *c = compress_exact(codecs[i], 0, data, len, &clen);
		if (codecs[i] != PQ_CODEC_UNCOMPRESSED)
			assert_true(clen < len / 10);
		assert_int_equal(decompress_exact(codecs[i], c, clen, len, data, len), PQC_OK);
		assert_int_equal(decompress_exact(codecs[i], c, clen, len - 1, NULL, 0),
		                 PQC_SIZE_MISMATCH);
		assert_int_equal(decompress_exact(codecs[i], c, clen, len / 2, NULL, 0),
		                 PQC_SIZE_MISMATCH);
		assert_int_equal(decompress_exact(codecs[i], c, clen, len + 4096, NULL, 0),
		                 PQC_SIZE_MISMATCH);
		free(c);
	}
	free(data);
}

static void test_wrong_expected_sizes_are_size_mismatches_without_overflow(void **state)
{
	uint8_t *rnd = random_bytes(4096);
	const struct {
		const uint8_t *p;
		size_t len;
	} inputs[] = {{(const uint8_t *)text, sizeof(text) - 1}, {rnd, 4096}};
	for (size_t k = 0; k < 2; k++) {
		size_t len = inputs[k].len;
		const size_t wrong[] = {0, 1, len / 2, len - 1, len + 1, len * 2, len * 100};
		for (size_t i = 0; i < NCODECS; i++) {
			size_t clen;
			uint8_t *c = compress_exact(codecs[i], 0, inputs[k].p, len, &clen);
			for (size_t w = 0; w < sizeof(wrong) / sizeof(wrong[0]); w++)
				assert_int_equal(
				        decompress_exact(codecs[i], c, clen, wrong[w], NULL, 0),
				        PQC_SIZE_MISMATCH);
			free(c);
		}
	}
	free(rnd);
}

static void test_every_level_round_trips_and_out_of_range_levels_are_clamped(void **state)
{
	/* Incompressible inputs check that pq_compress_bound() holds at every
	 * level: compress_exact() gives exactly the bound as room. */
	const int levels[] = {-1000, -5, -1, 1, 2, 3, 5, 6, 9, 10, 11, 19, 22, 1000};
	uint8_t *rnd = random_bytes(65536);
	const struct {
		const uint8_t *p;
		size_t len;
	} inputs[] = {{(const uint8_t *)text, sizeof(text) - 1}, {rnd, 1}, {rnd, 7}, {rnd, 65536}};
	for (size_t k = 0; k < sizeof(inputs) / sizeof(inputs[0]); k++) {
		for (size_t i = 0; i < NCODECS; i++) {
			for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
				size_t clen, len = inputs[k].len;
				uint8_t *c = compress_exact(codecs[i], levels[l], inputs[k].p, len,
				                            &clen);
				assert_int_equal(
				        decompress_exact(codecs[i], c, clen, len, inputs[k].p, len),
				        PQC_OK);
				free(c);
			}
		}
	}
	free(rnd);
}

static void test_every_truncation_of_a_small_page_is_refused(void **state)
{
	const size_t len = sizeof(text) - 1;
	for (size_t i = 0; i < NCODECS; i++) {
		size_t clen;
		uint8_t *c = compress_exact(codecs[i], 0, (const uint8_t *)text, len, &clen);
		for (size_t cut = 0; cut < clen && cut < 4096; cut++) {
			uint8_t *t = tl_dup_exact(c, cut);
			int rc = decompress_exact(codecs[i], t, cut, len, NULL, 0);
			assert_true(rc == PQC_CORRUPT || rc == PQC_SIZE_MISMATCH);
			free(t);
		}
		free(c);
	}
}

static void test_bit_flips_give_an_error_or_exact_size_output_never_a_crash(void **state)
{
	const uint8_t masks[] = {0x01, 0x10, 0x80, 0xff};
	const size_t len = sizeof(text) - 1;
	for (size_t i = 0; i < NCODECS; i++) {
		size_t clen;
		uint8_t *c = compress_exact(codecs[i], 0, (const uint8_t *)text, len, &clen);
		for (size_t pos = 0; pos < clen && pos < 4096; pos++) {
			for (size_t m = 0; m < sizeof(masks); m++) {
				uint8_t *t = tl_dup_exact(c, clen);
				t[pos] ^= masks[m];
				int rc = decompress_exact(codecs[i], t, clen, len, NULL, 0);
				assert_true(rc == PQC_OK || rc == PQC_CORRUPT ||
				            rc == PQC_SIZE_MISMATCH);
				free(t);
			}
		}
		free(c);
	}
}

static void test_damage_anywhere_in_a_64_kib_page_never_crashes(void **state)
{
	const size_t len = 65536;
	uint8_t *data = malloc(len);
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = i % 5 == 0 ? (uint8_t)tl_rng()
		                     : (uint8_t)text[(i / 3) % (sizeof(text) - 1)];
	for (size_t i = 0; i < NCODECS; i++) {
		size_t clen;
		uint8_t *c = compress_exact(codecs[i], 0, data, len, &clen);
		for (int round = 0; round < 150; round++) {
			size_t cut = (size_t)(tl_rng() % clen);
			uint8_t *t = tl_dup_exact(c, cut);
			int rc = decompress_exact(codecs[i], t, cut, len, NULL, 0);
			assert_true(rc == PQC_CORRUPT || rc == PQC_SIZE_MISMATCH);
			free(t);

			t = tl_dup_exact(c, clen);
			t[tl_rng() % clen] ^= (uint8_t)(1u << (tl_rng() % 8));
			rc = decompress_exact(codecs[i], t, clen, len, NULL, 0);
			assert_true(rc == PQC_OK || rc == PQC_CORRUPT || rc == PQC_SIZE_MISMATCH);
			free(t);
		}
		free(c);
	}
	free(data);
}

static void test_garbage_input_never_crashes_and_plain_text_is_refused(void **state)
{
	const char *junk = "this is not compressed data at all";
	for (size_t i = 1; i < NCODECS; i++) {
		assert_int_not_equal(decompress_exact(codecs[i], (const uint8_t *)junk,
		                                      strlen(junk), 100, NULL, 0),
		                     PQC_OK);
		for (int round = 0; round < 200; round++) {
			size_t len = (size_t)(tl_rng() % 300);
			size_t expected = (size_t)(tl_rng() % 2000);
			uint8_t *g = random_bytes(len);
			int rc = decompress_exact(codecs[i], g, len, expected, NULL, 0);
			assert_true(rc == PQC_OK || rc == PQC_CORRUPT || rc == PQC_SIZE_MISMATCH);
			free(g);
		}
	}
}

static void test_unsupported_codecs_are_refused(void **state)
{
	const int32_t bad[] = {PQ_CODEC_LZ4, PQ_CODEC_LZO, 8, 99, -1, INT32_MAX};
	uint8_t out[64];
	size_t n = 123;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pq_codec_supported(bad[i]), 0);
		assert_int_equal(pq_compress_bound(bad[i], 10), 0);
		assert_int_equal(pq_compress(bad[i], 0, text, 10, out, sizeof(out), &n),
		                 PQC_UNSUPPORTED);
		assert_int_equal(pq_decompress(bad[i], text, 10, out, 10), PQC_UNSUPPORTED);
	}
	for (size_t i = 0; i < NCODECS; i++)
		assert_int_equal(pq_codec_supported(codecs[i]), 1);
	assert_string_equal(pq_codec_strerror(PQC_UNSUPPORTED), "unsupported compression codec");
	assert_non_null(pq_codec_strerror(12345));
}

static void test_compressing_into_a_too_small_buffer_is_no_space(void **state)
{
	uint8_t *data = random_bytes(8192);
	for (size_t i = 0; i < NCODECS; i++) {
		const size_t caps[] = {0, 1, 100, 4096};
		for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
			uint8_t *out = malloc(caps[k] ? caps[k] : 1);
			assert_non_null(out);
			size_t n = 0;
			assert_int_equal(pq_compress(codecs[i], 0, data, 8192, caps[k] ? out : NULL,
			                             caps[k], &n),
			                 PQC_NO_SPACE);
			free(out);
		}
	}
	free(data);
}

static void test_sizes_beyond_an_i32_page_are_too_large(void **state)
{
	const size_t huge = (size_t)INT32_MAX + 1;
	uint8_t small[16] = {0};
	size_t n;
	for (size_t i = 0; i < NCODECS; i++) {
		assert_int_equal(pq_compress_bound(codecs[i], huge), 0);
		assert_int_equal(pq_compress_bound(codecs[i], SIZE_MAX), 0);
		/* The sizes are refused before anything is read or written. */
		assert_int_equal(pq_compress(codecs[i], 0, small, huge, small, sizeof(small), &n),
		                 PQC_TOO_LARGE);
		assert_int_equal(pq_decompress(codecs[i], small, sizeof(small), small, huge),
		                 PQC_TOO_LARGE);
		assert_int_equal(pq_decompress(codecs[i], small, huge, small, sizeof(small)),
		                 PQC_TOO_LARGE);
	}
	assert_int_equal(pq_compress_bound(PQ_CODEC_LZ4_RAW, (size_t)LZ4_MAX_INPUT_SIZE + 1), 0);
	assert_int_equal(pq_compress(PQ_CODEC_LZ4_RAW, 0, small, (size_t)LZ4_MAX_INPUT_SIZE + 1,
	                             small, sizeof(small), &n),
	                 PQC_TOO_LARGE);
	assert_true(pq_compress_bound(PQ_CODEC_LZ4_RAW, LZ4_MAX_INPUT_SIZE) > LZ4_MAX_INPUT_SIZE);
}

static void test_concatenated_gzip_members_decode_as_one_page(void **state)
{
	const size_t len = sizeof(text) - 1;
	size_t la, lb, le;
	uint8_t *a = compress_exact(PQ_CODEC_GZIP, 0, (const uint8_t *)text, 100, &la);
	uint8_t *b = compress_exact(PQ_CODEC_GZIP, 9, (const uint8_t *)text + 100, len - 100, &lb);
	uint8_t *e = compress_exact(PQ_CODEC_GZIP, 0, NULL, 0, &le);
	/* a, empty, b, empty */
	size_t clen = la + le + lb + le;
	uint8_t *cat = malloc(clen);
	assert_non_null(cat);
	memcpy(cat, a, la);
	memcpy(cat + la, e, le);
	memcpy(cat + la + le, b, lb);
	memcpy(cat + la + le + lb, e, le);
	assert_int_equal(
	        decompress_exact(PQ_CODEC_GZIP, cat, clen, len, (const uint8_t *)text, len),
	        PQC_OK);
	assert_int_equal(decompress_exact(PQ_CODEC_GZIP, cat, clen, 100, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	assert_int_equal(decompress_exact(PQ_CODEC_GZIP, cat, clen, len + 1, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	/* Only the first member's worth: the rest is missing. */
	assert_int_equal(decompress_exact(PQ_CODEC_GZIP, cat, la, len, NULL, 0), PQC_SIZE_MISMATCH);
	/* Trailing bytes that are not a member are refused. */
	uint8_t *junk = malloc(la + 4);
	assert_non_null(junk);
	memcpy(junk, a, la);
	memset(junk + la, 0, 4);
	assert_int_equal(decompress_exact(PQ_CODEC_GZIP, junk, la + 4, 100, NULL, 0), PQC_CORRUPT);
	free(junk);
	free(cat);
	free(a);
	free(b);
	free(e);
}

static void test_a_zlib_stream_decodes_as_gzip_and_raw_deflate_is_refused(void **state)
{
	const size_t len = sizeof(text) - 1;
	uLongf zlen = compressBound(len);
	uint8_t *z = malloc(zlen);
	assert_non_null(z);
	assert_int_equal(compress2(z, &zlen, (const Bytef *)text, len, 6), Z_OK);
	uint8_t *zc = tl_dup_exact(z, zlen);
	assert_int_equal(decompress_exact(PQ_CODEC_GZIP, zc, zlen, len, (const uint8_t *)text, len),
	                 PQC_OK);
	assert_int_equal(decompress_exact(PQ_CODEC_GZIP, zc, zlen, len - 1, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	free(zc);

	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)text;
	zs.avail_in = (uInt)len;
	zs.next_out = z;
	zs.avail_out = (uInt)compressBound(len);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t rlen = zs.total_out;
	deflateEnd(&zs);
	assert_int_equal(decompress_exact(PQ_CODEC_GZIP, z, rlen, len, NULL, 0), PQC_CORRUPT);
	free(z);
}

/* Streams through ZSTD_compressStream2 with the content-size flag off. */
static uint8_t *zstd_without_content_size(const uint8_t *in, size_t len, size_t *clen)
{
	size_t cap = ZSTD_compressBound(len);
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	assert_non_null(cctx);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
	ZSTD_inBuffer ib = {in, len, 0};
	ZSTD_outBuffer ob = {buf, cap, 0};
	size_t left;
	int guard = 0;
	do {
		left = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end);
		assert_false(ZSTD_isError(left));
		assert_true(++guard < 1000);
	} while (left != 0);
	ZSTD_freeCCtx(cctx);
	assert_int_equal(ZSTD_getFrameContentSize(buf, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
	uint8_t *c = tl_dup_exact(buf, ob.pos);
	*clen = ob.pos;
	free(buf);
	return c;
}

static void test_a_zstd_frame_without_content_size_decodes_to_exactly_expected(void **state)
{
	const size_t len = sizeof(text) - 1;
	size_t clen;
	uint8_t *c = zstd_without_content_size((const uint8_t *)text, len, &clen);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, c, clen, len, (const uint8_t *)text, len),
	                 PQC_OK);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, c, clen, len - 1, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, c, clen, len + 1, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, c, clen, 0, NULL, 0), PQC_SIZE_MISMATCH);
	free(c);

	const size_t big = 1 << 20;
	uint8_t *data = random_bytes(big);
	memset(data + 1000, 'a', big / 2);
	c = zstd_without_content_size(data, big, &clen);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, c, clen, big, data, big), PQC_OK);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, c, clen, big - 1, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	free(c);
	free(data);
}

static void test_concatenated_zstd_frames_decode_as_one_page(void **state)
{
	const size_t len = sizeof(text) - 1;
	size_t la, lb;
	uint8_t *a = compress_exact(PQ_CODEC_ZSTD, 0, (const uint8_t *)text, 50, &la);
	uint8_t *b = zstd_without_content_size((const uint8_t *)text + 50, len - 50, &lb);
	uint8_t *cat = malloc(la + lb);
	assert_non_null(cat);
	memcpy(cat, a, la);
	memcpy(cat + la, b, lb);
	assert_int_equal(
	        decompress_exact(PQ_CODEC_ZSTD, cat, la + lb, len, (const uint8_t *)text, len),
	        PQC_OK);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, cat, la + lb, len - 1, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, cat, la + lb, len + 1, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	assert_int_equal(decompress_exact(PQ_CODEC_ZSTD, cat, la + lb, 40, NULL, 0),
	                 PQC_SIZE_MISMATCH);
	free(cat);
	free(a);
	free(b);
}

/* Interop with the command-line tools, when installed. */

static int have_tool(const char *name)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

static void tool_interop(const char *tool, int32_t codec, const char *compress_cmd,
                         const char *decompress_cmd)
{
	if (!have_tool(tool)) {
		printf("# %s not installed: interop case skipped\n", tool);
		return;
	}
	char dir[512], plain[600], comp[600], back[600], cmd[2048];
	snprintf(dir, sizeof(dir), "%s/pqcXXXXXX", tl_tmpdir());
	assert_non_null(mkdtemp(dir));
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	snprintf(comp, sizeof(comp), "%s/comp", dir);
	snprintf(back, sizeof(back), "%s/back", dir);

	const size_t len = 200000;
	uint8_t *data = malloc(len);
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = i % 7 == 0 ? (uint8_t)tl_rng() : (uint8_t)text[i % (sizeof(text) - 1)];

	/* Tool -> us. */
	tl_write_file(plain, data, len);
	snprintf(cmd, sizeof(cmd), "%s < '%s' > '%s'", compress_cmd, plain, comp);
	assert_int_equal(system(cmd), 0);
	size_t clen;
	uint8_t *c = tl_read_file(comp, &clen);
	assert_int_equal(decompress_exact(codec, c, clen, len, data, len), PQC_OK);
	assert_int_equal(decompress_exact(codec, c, clen, len - 1, NULL, 0), PQC_SIZE_MISMATCH);
	free(c);

	/* Us -> tool. */
	c = compress_exact(codec, 0, data, len, &clen);
	tl_write_file(comp, c, clen);
	free(c);
	snprintf(cmd, sizeof(cmd), "%s < '%s' > '%s'", decompress_cmd, comp, back);
	assert_int_equal(system(cmd), 0);
	size_t blen;
	uint8_t *b = tl_read_file(back, &blen);
	assert_int_equal(blen, len);
	assert_memory_equal(b, data, len);
	free(b);
	free(data);

	unlink(plain);
	unlink(comp);
	unlink(back);
	assert_int_equal(rmdir(dir), 0);
}

static void test_gzip_tool_output_decodes_and_ours_decodes_with_the_tool(void **state)
{
	tool_interop("gzip", PQ_CODEC_GZIP, "gzip -c -6", "gzip -dc");
}

static void test_zstd_tool_output_decodes_and_ours_decodes_with_the_tool(void **state)
{
	tool_interop("zstd", PQ_CODEC_ZSTD, "zstd -q -c -3", "zstd -q -dc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_codec_round_trips_an_empty_page),
	        cmocka_unit_test(test_every_codec_round_trips_a_one_byte_page),
	        cmocka_unit_test(test_every_codec_round_trips_text),
	        cmocka_unit_test(test_every_codec_round_trips_incompressible_random_data),
	        cmocka_unit_test(test_every_codec_round_trips_4_mib_of_repetitive_data),
	        cmocka_unit_test(test_wrong_expected_sizes_are_size_mismatches_without_overflow),
	        cmocka_unit_test(test_every_level_round_trips_and_out_of_range_levels_are_clamped),
	        cmocka_unit_test(test_every_truncation_of_a_small_page_is_refused),
	        cmocka_unit_test(test_bit_flips_give_an_error_or_exact_size_output_never_a_crash),
	        cmocka_unit_test(test_damage_anywhere_in_a_64_kib_page_never_crashes),
	        cmocka_unit_test(test_garbage_input_never_crashes_and_plain_text_is_refused),
	        cmocka_unit_test(test_unsupported_codecs_are_refused),
	        cmocka_unit_test(test_compressing_into_a_too_small_buffer_is_no_space),
	        cmocka_unit_test(test_sizes_beyond_an_i32_page_are_too_large),
	        cmocka_unit_test(test_concatenated_gzip_members_decode_as_one_page),
	        cmocka_unit_test(test_a_zlib_stream_decodes_as_gzip_and_raw_deflate_is_refused),
	        cmocka_unit_test(
	                test_a_zstd_frame_without_content_size_decodes_to_exactly_expected),
	        cmocka_unit_test(test_concatenated_zstd_frames_decode_as_one_page),
	        cmocka_unit_test(test_gzip_tool_output_decodes_and_ours_decodes_with_the_tool),
	        cmocka_unit_test(test_zstd_tool_output_decodes_and_ours_decodes_with_the_tool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
