/* Unit tests for the Parquet encodings (src/parquet/encoding.c): ULEB128
 * and zigzag, the RLE/bit-packing hybrid at every bit width, the spec's
 * worked examples byte for byte, PLAIN round trips, the DELTA decoders on
 * spec examples and hand-built streams; and hostile input: every truncation
 * of a valid stream is an error, bit flips never crash (run under ASan),
 * absurd run headers and sizes are refused before anything is used, while
 * a last run padded past the count (as DuckDB writes it) is accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parquet/encoding.h"
#include "parquet_testlib.h"

static uint32_t mask32(unsigned bw)
{
	return bw >= 32 ? UINT32_MAX : (uint32_t)((1ull << bw) - 1);
}

static void test_uleb128_round_trips_and_refuses_overflow(void **state)
{
	const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
	uint8_t buf[PQ_ULEB_MAX];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		size_t n = pq_uleb_encode(vals[i], buf);
		const uint8_t *p = buf;
		uint64_t v;
		assert_int_equal(pq_uleb_decode(&p, buf + n, &v), PQE_OK);
		assert_true(v == vals[i]);
		assert_ptr_equal(p, buf + n);
		for (size_t cut = 0; cut < n; cut++) {
			p = buf;
			assert_int_equal(pq_uleb_decode(&p, buf + cut, &v), PQE_TRUNCATED);
		}
	}
	assert_int_equal(pq_uleb_encode(300, buf), 2);
	assert_int_equal(buf[0], 0xac);
	assert_int_equal(buf[1], 0x02);

	/* Ten bytes whose last carries more than bit 63, and eleven bytes. */
	const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	const uint8_t longer[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	const uint8_t *p = big;
	uint64_t v;
	assert_int_equal(pq_uleb_decode(&p, big + sizeof(big), &v), PQE_VARINT_OVERFLOW);
	p = longer;
	assert_int_equal(pq_uleb_decode(&p, longer + sizeof(longer), &v), PQE_VARINT_OVERFLOW);
	assert_string_equal(pq_enc_strerror(PQE_TRUNCATED), "truncated input");
	assert_string_equal(pq_enc_strerror(999), "unknown encoding error");
}

static void test_zigzag_maps_small_magnitudes_to_small_codes(void **state)
{
	assert_true(pq_zigzag_encode(0) == 0);
	assert_true(pq_zigzag_encode(-1) == 1);
	assert_true(pq_zigzag_encode(1) == 2);
	assert_true(pq_zigzag_encode(-2) == 3);
	assert_true(pq_zigzag_encode(INT64_MAX) == UINT64_MAX - 1);
	assert_true(pq_zigzag_encode(INT64_MIN) == UINT64_MAX);
	const int64_t vals[] = {0, 1, -1, 63, -64, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		assert_true(pq_zigzag_decode(pq_zigzag_encode(vals[i])) == vals[i]);
}

/* Encodes vals, decodes them back, checks equality and that every byte was
 * consumed. */
static void hybrid_round_trip(const uint32_t *vals, size_t n, unsigned bw)
{
	size_t cap = pq_hybrid_max_size(n, bw), len, used;
	uint8_t *buf = malloc(cap);
	uint32_t *back = malloc((n ? n : 1) * sizeof(*back));

	assert_non_null(buf);
	assert_non_null(back);
	assert_int_equal(pq_hybrid_encode(vals, n, bw, buf, cap, &len), PQE_OK);
	assert_true(len <= cap);
	uint8_t *exact = tl_dup_exact(buf, len);
	assert_int_equal(pq_hybrid_decode(exact, len, bw, back, n, &used), PQE_OK);
	assert_int_equal(used, len);
	if (n)
		assert_memory_equal(back, vals, n * sizeof(*vals));
	free(exact);
	free(back);
	free(buf);
}

static void test_hybrid_round_trips_every_bit_width_with_runs_of_1_to_20(void **state)
{
	enum { N = 4000 };
	uint32_t *vals = malloc(N * sizeof(*vals));
	assert_non_null(vals);

	for (unsigned bw = 0; bw <= 32; bw++) {
		/* Runs of every length 1..20, each of a random value. */
		size_t n = 0;
		for (size_t run = 1; run <= 20; run++) {
			uint32_t v = (uint32_t)tl_rng() & mask32(bw);
			for (size_t k = 0; k < run; k++)
				vals[n++] = v;
		}
		for (size_t prefix = 0; prefix <= n; prefix += 7)
			hybrid_round_trip(vals, prefix, bw);
		hybrid_round_trip(vals, n, bw);

		/* Random data, then random data with long runs mixed in. */
		for (size_t i = 0; i < N; i++)
			vals[i] = (uint32_t)tl_rng() & mask32(bw);
		hybrid_round_trip(vals, N, bw);
		for (size_t i = 0; i < N; i++)
			vals[i] = (tl_rng() % 4 == 0) ? vals[i > 0 ? i - 1 : 0]
			                              : (uint32_t)tl_rng() & mask32(bw);
		hybrid_round_trip(vals, N, bw);
	}
	free(vals);
}

static void test_hybrid_matches_the_spec_example_0_to_7_in_width_3(void **state)
{
	const uint32_t vals[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	const uint8_t expect[] = {0x03, 0x88, 0xc6, 0xfa}; /* header: 1 group, bit-packed */
	uint8_t buf[16];
	uint32_t back[8];
	size_t len, used;

	assert_int_equal(pq_hybrid_encode(vals, 8, 3, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
	assert_int_equal(pq_hybrid_decode(expect, sizeof(expect), 3, back, 8, &used), PQE_OK);
	assert_int_equal(used, 4);
	assert_memory_equal(back, vals, sizeof(vals));
}

static void test_hybrid_last_bit_packed_group_may_be_padded(void **state)
{
	/* Three values 1, 2, 3 in width 3, padded to a group of 8. */
	const uint8_t stream[] = {0x03, 0xd1, 0x00, 0x00};
	uint32_t back[3];
	size_t used;

	assert_int_equal(pq_hybrid_decode(stream, sizeof(stream), 3, back, 3, &used), PQE_OK);
	assert_int_equal(back[0], 1);
	assert_int_equal(back[1], 2);
	assert_int_equal(back[2], 3);
	assert_int_equal(used, 4);

	/* The encoder pads the same way. */
	const uint32_t vals[3] = {1, 2, 3};
	uint8_t buf[16];
	size_t len;
	assert_int_equal(pq_hybrid_encode(vals, 3, 3, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(len, sizeof(stream));
	assert_memory_equal(buf, stream, sizeof(stream));

	/* Two groups for three values pad past the last group: accepted, the
	 * run is consumed whole, or up to the end when cut after the values. */
	const uint8_t two[] = {0x05, 0xd1, 0x00, 0x00, 0x00, 0x00, 0x00};
	memset(back, 0, sizeof(back));
	assert_int_equal(pq_hybrid_decode(two, sizeof(two), 3, back, 3, &used), PQE_OK);
	assert_int_equal(back[0], 1);
	assert_int_equal(back[1], 2);
	assert_int_equal(back[2], 3);
	assert_int_equal(used, sizeof(two));
	assert_int_equal(pq_hybrid_decode(two, 3, 3, back, 3, &used), PQE_OK);
	assert_int_equal(used, 3);
	/* The bytes of the values taken must be there: 9 bits need 2 bytes. */
	assert_int_equal(pq_hybrid_decode(two, 2, 3, back, 3, &used), PQE_TRUNCATED);
}

static void test_hybrid_accepts_duckdbs_last_run_padded_past_the_count(void **state)
{
	/* DuckDB pads the last bit-packed run of a page by up to about 250
	 * values past its count. Width 3, 754 values: RLE 744 x 5, then 32
	 * groups (256 values) of which 10 count; the padding holds 7s, above
	 * a 6-entry dictionary, which must not matter. */
	uint8_t stream[1 + 2 + 1 + 1 + 96];
	size_t len = 0, used;
	uint32_t vals[10], back[754];

	stream[len++] = 3;                          /* index bit width */
	stream[len++] = ((744 << 1) & 0x7f) | 0x80; /* RLE header, 2 bytes */
	stream[len++] = (744 << 1) >> 7;
	stream[len++] = 5;           /* the RLE value */
	stream[len++] = 32 << 1 | 1; /* bit-packed header: 32 groups */
	for (size_t i = 0; i < 10; i++)
		vals[i] = i % 6;
	memset(stream + len, 0xff, 96);
	/* Pack the 10 counted values (30 bits) over the 0xff padding. */
	uint64_t bits = 0;
	for (size_t i = 0; i < 10; i++)
		bits |= (uint64_t)vals[i] << (3 * i);
	for (size_t b = 0; b < 4; b++)
		stream[len + b] = (uint8_t)(bits >> (8 * b)) | (b == 3 ? 0xc0 : 0);
	len += 96;

	assert_int_equal(pq_dict_indices_decode(stream, len, 6, back, 754, &used), PQE_OK);
	assert_int_equal(used, len);
	for (size_t i = 0; i < 744; i++)
		assert_int_equal(back[i], 5);
	assert_memory_equal(back + 744, vals, sizeof(vals));
	/* The same without the padding's bytes, down to the last counted one. */
	size_t need = len - 96 + 4;
	uint8_t *cut = tl_dup_exact(stream, need);
	assert_int_equal(pq_dict_indices_decode(cut, need, 6, back, 754, &used), PQE_OK);
	assert_int_equal(used, need);
	assert_memory_equal(back + 744, vals, sizeof(vals));
	assert_int_equal(pq_dict_indices_decode(cut, need - 1, 6, back, 754, &used), PQE_TRUNCATED);
	free(cut);
	/* A counted value past the dictionary is still refused. */
	assert_int_equal(pq_dict_indices_decode(stream, len, 5, back, 754, &used), PQE_BAD_VALUE);
	/* An RLE run longer than what is left is cut the same way. */
	assert_int_equal(pq_dict_indices_decode(stream, len, 6, back, 700, &used), PQE_OK);
	assert_int_equal(used, 4);
	assert_int_equal(back[699], 5);
}

static void test_hybrid_decodes_a_hand_built_mix_of_rle_and_bit_packed_runs(void **state)
{
	/* Width 2: RLE 10 x 3; one group 0,1,2,3,0,1,2,3; RLE 300 x 1. */
	const uint8_t stream[] = {0x14, 0x03, 0x03, 0xe4, 0xe4, 0xd8, 0x04, 0x01};
	uint32_t back[318];
	size_t used;

	assert_int_equal(pq_hybrid_decode(stream, sizeof(stream), 2, back, 318, &used), PQE_OK);
	assert_int_equal(used, sizeof(stream));
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(back[i], 3);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(back[10 + i], i % 4);
	for (size_t i = 18; i < 318; i++)
		assert_int_equal(back[i], 1);

	/* Width 0: no value bytes at all, RLE and bit-packed alike. */
	const uint8_t zero[] = {0x10, 0x03};
	uint32_t z[16];
	assert_int_equal(pq_hybrid_decode(zero, sizeof(zero), 0, z, 16, &used), PQE_OK);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(z[i], 0);

	/* Width 32: RLE value takes four bytes. */
	const uint8_t wide[] = {0x04, 0x78, 0x56, 0x34, 0x12};
	assert_int_equal(pq_hybrid_decode(wide, sizeof(wide), 32, z, 2, &used), PQE_OK);
	assert_int_equal(z[0], 0x12345678);
	assert_int_equal(z[1], 0x12345678);
}

/* A mixed sequence used by the hostile-input tests. */
static size_t mixed_values(uint32_t *vals, unsigned bw)
{
	size_t n = 0;
	for (size_t run = 1; run <= 20; run++) {
		uint32_t v = (uint32_t)tl_rng() & mask32(bw);
		for (size_t k = 0; k < run; k++)
			vals[n++] = v;
	}
	return n; /* 210 */
}

static void test_hybrid_every_truncation_is_an_error(void **state)
{
	uint32_t vals[210], back[210];
	uint8_t buf[1024];
	size_t len, used;

	for (unsigned bw = 0; bw <= 32; bw += 1) {
		size_t n = mixed_values(vals, bw);
		assert_int_equal(pq_hybrid_encode(vals, n, bw, buf, sizeof(buf), &len), PQE_OK);
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *p = tl_dup_exact(buf, cut);
			assert_int_not_equal(pq_hybrid_decode(p, cut, bw, back, n, &used), PQE_OK);
			free(p);
		}
		/* The prefixed form: cut the body, or lie about its length. */
		assert_int_equal(pq_hybrid_encode_prefixed(vals, n, bw, buf, sizeof(buf), &len),
		                 PQE_OK);
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *p = tl_dup_exact(buf, cut);
			assert_int_not_equal(pq_hybrid_decode_prefixed(p, cut, bw, back, n, &used),
			                     PQE_OK);
			free(p);
		}
	}
}

static void test_hybrid_bit_flips_never_crash(void **state)
{
	uint32_t vals[210], back[210];
	uint8_t buf[1024];
	size_t len, used;
	const unsigned widths[] = {0, 1, 3, 8, 13, 32};

	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		unsigned bw = widths[w];
		size_t n = mixed_values(vals, bw);
		assert_int_equal(pq_dict_indices_encode(vals, n, bw, buf, sizeof(buf), &len),
		                 PQE_OK);
		for (size_t bit = 0; bit < len * 8; bit++) {
			uint8_t *p = tl_dup_exact(buf, len);
			p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			int rc = pq_dict_indices_decode(p, len, UINT32_MAX, back, n, &used);
			assert_true(rc >= PQE_OK && rc <= PQE_NO_MEMORY);
			if (rc == PQE_OK)
				assert_true(used <= len);
			free(p);
		}
	}
}

static void test_hybrid_refuses_absurd_run_headers(void **state)
{
	uint32_t out[16];
	size_t used;
	/* RLE run of 2^31 values (header 2^32): too long whatever the count. */
	const uint8_t rle_2_31[] = {0x80, 0x80, 0x80, 0x80, 0x10, 0x01};
	assert_int_equal(pq_hybrid_decode(rle_2_31, sizeof(rle_2_31), 1, out, 16, &used),
	                 PQE_RUN_TOO_LONG);
	/* RLE run of 2^31 - 1 values, more than the 16 asked for: cut to 16. */
	const uint8_t rle_max[] = {0xfe, 0xff, 0xff, 0xff, 0x0f, 0x01};
	assert_int_equal(pq_hybrid_decode(rle_max, sizeof(rle_max), 1, out, 16, &used), PQE_OK);
	assert_int_equal(used, sizeof(rle_max));
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(out[i], 1);
	/* Bit-packed run of 2^28 groups (2^31 values). */
	const uint8_t bp_huge[] = {0x81, 0x80, 0x80, 0x80, 0x02, 0x00};
	assert_int_equal(pq_hybrid_decode(bp_huge, sizeof(bp_huge), 1, out, 16, &used),
	                 PQE_RUN_TOO_LONG);
	/* Empty runs of either kind. */
	const uint8_t rle_empty[] = {0x00, 0x01};
	const uint8_t bp_empty[] = {0x01};
	assert_int_equal(pq_hybrid_decode(rle_empty, 2, 1, out, 16, &used), PQE_RUN_TOO_LONG);
	assert_int_equal(pq_hybrid_decode(bp_empty, 1, 1, out, 16, &used), PQE_RUN_TOO_LONG);
	/* A header varint that overflows 64 bits. */
	const uint8_t ovf[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	assert_int_equal(pq_hybrid_decode(ovf, sizeof(ovf), 1, out, 16, &used),
	                 PQE_VARINT_OVERFLOW);
	/* An RLE value wider than the bit width; a width above 32. */
	const uint8_t wide_val[] = {0x04, 0x04};
	assert_int_equal(pq_hybrid_decode(wide_val, 2, 2, out, 2, &used), PQE_BAD_VALUE);
	assert_int_equal(pq_hybrid_decode(wide_val, 2, 33, out, 2, &used), PQE_BAD_BIT_WIDTH);
	const uint8_t dict_bw[] = {33, 0x04, 0x00};
	assert_int_equal(pq_dict_indices_decode(dict_bw, 3, 10, out, 2, &used), PQE_BAD_BIT_WIDTH);
	/* A v1 length prefix larger than the buffer. */
	const uint8_t lying[] = {0xff, 0xff, 0xff, 0x7f, 0x04, 0x01};
	assert_int_equal(pq_hybrid_decode_prefixed(lying, sizeof(lying), 1, out, 2, &used),
	                 PQE_TRUNCATED);
}

static void test_hybrid_encoder_checks_widths_values_and_space(void **state)
{
	const uint32_t vals[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 4};
	uint8_t buf[64];
	size_t len;

	assert_int_equal(pq_hybrid_encode(vals, 10, 2, buf, sizeof(buf), &len), PQE_BAD_VALUE);
	assert_int_equal(pq_hybrid_encode(vals, 10, 33, buf, sizeof(buf), &len), PQE_BAD_BIT_WIDTH);
	assert_int_equal(pq_hybrid_encode(vals, 10, 3, buf, sizeof(buf), &len), PQE_OK);
	for (size_t cap = 0; cap < len; cap++) {
		size_t l2;
		assert_int_equal(pq_hybrid_encode(vals, 10, 3, buf, cap, &l2), PQE_NO_SPACE);
	}
	/* Runs of 8 and more are RLE: 9 x 1 is one RLE run, then a group. */
	assert_int_equal(buf[0], 9 << 1);
	assert_int_equal(buf[1], 1);
	assert_int_equal(buf[2], 0x03);
	assert_int_equal(len, 6);
	/* Bit width 0 writes headers only. */
	const uint32_t zeros[20] = {0};
	assert_int_equal(pq_hybrid_encode(zeros, 20, 0, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(len, 1);
	assert_int_equal(buf[0], 20 << 1);
}

static void test_hybrid_prefixed_and_dictionary_forms_round_trip(void **state)
{
	uint32_t vals[210], back[210];
	uint8_t buf[1024];
	size_t len, used;
	size_t n = mixed_values(vals, 5);

	assert_int_equal(pq_hybrid_encode_prefixed(vals, n, 5, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(buf[0] | buf[1] << 8 | buf[2] << 16 | buf[3] << 24, len - 4);
	assert_int_equal(pq_hybrid_decode_prefixed(buf, len + 9, 5, back, n, &used), PQE_OK);
	assert_int_equal(used, len);
	assert_memory_equal(back, vals, n * sizeof(*vals));

	assert_int_equal(pq_dict_indices_encode(vals, n, 5, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(buf[0], 5);
	assert_int_equal(pq_dict_indices_decode(buf, len, 32, back, n, &used), PQE_OK);
	assert_int_equal(used, len);
	assert_memory_equal(back, vals, n * sizeof(*vals));

	/* An index past the dictionary is refused. */
	uint32_t maxv = 0;
	for (size_t i = 0; i < n; i++)
		maxv = vals[i] > maxv ? vals[i] : maxv;
	assert_int_equal(pq_dict_indices_decode(buf, len, maxv, back, n, &used), PQE_BAD_VALUE);
	assert_int_equal(pq_dict_indices_decode(buf, 0, 32, back, n, &used), PQE_TRUNCATED);
}

static void test_plain_round_trips_and_refuses_truncation(void **state)
{
	const int32_t i32[] = {0, 1, -1, INT32_MIN, INT32_MAX, 0x12345678};
	const int64_t i64[] = {0, -1, INT64_MIN, INT64_MAX, 0x0123456789abcdefll};
	const uint8_t bools[] = {1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1};
	const pq_bytes strs[] = {{(const uint8_t *)"", 0},
	                         {(const uint8_t *)"hello", 5},
	                         {(const uint8_t *)"\0\xff\n", 3}};
	uint8_t buf[256];
	size_t len, used;

	int32_t b32[6];
	assert_int_equal(pq_plain_int32_encode(i32, 6, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(len, 24);
	assert_int_equal(buf[20], 0x78);
	assert_int_equal(pq_plain_int32_decode(buf, len, b32, 6, &used), PQE_OK);
	assert_memory_equal(b32, i32, sizeof(i32));
	assert_int_equal(pq_plain_int32_decode(buf, len - 1, b32, 6, &used), PQE_TRUNCATED);
	assert_int_equal(pq_plain_int32_encode(i32, 6, buf, 23, &len), PQE_NO_SPACE);
	assert_int_equal(pq_plain_int32_decode(buf, 24, b32, SIZE_MAX / 2, &used), PQE_TRUNCATED);

	int64_t b64[5];
	assert_int_equal(pq_plain_int64_encode(i64, 5, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(len, 40);
	assert_int_equal(buf[32], 0xef);
	assert_int_equal(buf[39], 0x01);
	assert_int_equal(pq_plain_int64_decode(buf, len, b64, 5, &used), PQE_OK);
	assert_memory_equal(b64, i64, sizeof(i64));
	assert_int_equal(pq_plain_int64_decode(buf, len - 1, b64, 5, &used), PQE_TRUNCATED);

	uint8_t bb[11];
	assert_int_equal(pq_plain_bool_encode(bools, 11, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(len, 2);
	assert_int_equal(buf[0], 0x8d); /* LSB first: 1,0,1,1,0,0,0,1 */
	assert_int_equal(buf[1], 0x05);
	assert_int_equal(pq_plain_bool_decode(buf, len, bb, 11, &used), PQE_OK);
	assert_memory_equal(bb, bools, sizeof(bools));
	assert_int_equal(pq_plain_bool_decode(buf, 1, bb, 11, &used), PQE_TRUNCATED);

	pq_bytes bs[3];
	assert_int_equal(pq_plain_bytes_encode(strs, 3, buf, sizeof(buf), &len), PQE_OK);
	assert_int_equal(len, 12 + 8);
	uint8_t *exact = tl_dup_exact(buf, len);
	assert_int_equal(pq_plain_bytes_decode(exact, len, bs, 3, &used), PQE_OK);
	assert_int_equal(used, len);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(bs[i].len, strs[i].len);
		assert_memory_equal(bs[i].ptr, strs[i].ptr, strs[i].len);
	}
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(pq_plain_bytes_decode(exact, cut, bs, 3, &used), PQE_TRUNCATED);
	for (size_t cap = 0; cap < len; cap++)
		assert_int_equal(pq_plain_bytes_encode(strs, 3, buf, cap, &used), PQE_NO_SPACE);
	/* A length of 4 GiB - 1 in a 20-byte buffer. */
	exact[0] = exact[1] = exact[2] = exact[3] = 0xff;
	assert_int_equal(pq_plain_bytes_decode(exact, len, bs, 1, &used), PQE_TRUNCATED);
	free(exact);
}

/* Spec example 1: 1, 2, 3, 4, 5 in blocks of 8 with one miniblock. */
static const uint8_t delta_ex1[] = {0x08, 0x01, 0x05, 0x02, 0x02, 0x00};
/* Spec example 2: 7, 5, 3, 1, 2, 3, 4, 5; min delta -2, width 2. */
static const uint8_t delta_ex2[] = {0x08, 0x01, 0x08, 0x0e, 0x03, 0x02, 0xc0, 0x3f};

static void test_delta_binary_packed_decodes_the_spec_examples(void **state)
{
	int32_t v32[8];
	int64_t v64[8];
	size_t count, used;

	assert_int_equal(pq_delta_decode_int32(delta_ex1, sizeof(delta_ex1), v32, 8, &count, &used),
	                 PQE_OK);
	assert_int_equal(count, 5);
	assert_int_equal(used, sizeof(delta_ex1));
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(v32[i], i + 1);

	const int64_t ex2[] = {7, 5, 3, 1, 2, 3, 4, 5};
	assert_int_equal(pq_delta_decode_int64(delta_ex2, sizeof(delta_ex2), v64, 8, &count, &used),
	                 PQE_OK);
	assert_int_equal(count, 8);
	assert_int_equal(used, sizeof(delta_ex2));
	assert_memory_equal(v64, ex2, sizeof(ex2));
	assert_int_equal(pq_delta_decode_int32(delta_ex2, sizeof(delta_ex2), v32, 8, &count, &used),
	                 PQE_OK);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(v32[i], ex2[i]);

	uint64_t peek;
	assert_int_equal(pq_delta_peek_count(delta_ex2, sizeof(delta_ex2), &peek), PQE_OK);
	assert_int_equal(peek, 8);
}

static void test_delta_binary_packed_decodes_a_hand_built_stream(void **state)
{
	/* Block 128 of 4 miniblocks of 32; 40 values from 100; min delta -1.
	 * Miniblock 0 has width 1 (deltas alternate 1, 0 -> 0, -1), miniblock
	 * 1 width 0 (all -1); the widths of the unused miniblocks 2 and 3 are
	 * garbage that must be ignored, and they have no bytes. */
	const uint8_t s[] = {0x80, 0x01, 0x04, 0x28, 0xc8, 0x01, /* header */
	                     0x01, 0x01, 0x00, 0xaa, 0xff,       /* min delta, widths */
	                     0x55, 0x55, 0x55, 0x55};            /* miniblock 0 */
	int64_t v[40];
	size_t count, used;

	assert_int_equal(pq_delta_decode_int64(s, sizeof(s), v, 40, &count, &used), PQE_OK);
	assert_int_equal(count, 40);
	assert_int_equal(used, sizeof(s));
	int64_t expect = 100;
	assert_int_equal(v[0], expect);
	for (size_t i = 1; i < 40; i++) {
		expect += (i <= 32 && (i - 1) % 2 == 0) ? 0 : -1;
		assert_int_equal(v[i], expect);
	}

	/* Wrapping: INT64_MAX + 1 is INT64_MIN, INT32_MAX + 1 is INT32_MIN. */
	const uint8_t w64[] = {0x08, 0x01, 0x02, 0xfe, 0xff, 0xff, 0xff, 0xff,
	                       0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x00};
	assert_int_equal(pq_delta_decode_int64(w64, sizeof(w64), v, 2, &count, &used), PQE_OK);
	assert_true(v[0] == INT64_MAX && v[1] == INT64_MIN);
	const uint8_t w32[] = {0x08, 0x01, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x02, 0x00};
	int32_t v32[2];
	assert_int_equal(pq_delta_decode_int32(w32, sizeof(w32), v32, 2, &count, &used), PQE_OK);
	assert_true(v32[0] == INT32_MAX && v32[1] == INT32_MIN);

	/* One value: the header alone. Zero values likewise. */
	const uint8_t one[] = {0x80, 0x01, 0x04, 0x01, 0x07};
	assert_int_equal(pq_delta_decode_int64(one, sizeof(one), v, 1, &count, &used), PQE_OK);
	assert_true(count == 1 && v[0] == -4 && used == sizeof(one));
	const uint8_t none[] = {0x80, 0x01, 0x04, 0x00, 0x00};
	assert_int_equal(pq_delta_decode_int64(none, sizeof(none), v, 0, &count, &used), PQE_OK);
	assert_int_equal(count, 0);
}

static void test_delta_binary_packed_refuses_bad_headers_counts_and_widths(void **state)
{
	int32_t v32[64];
	int64_t v64[64];
	size_t count, used;
	const uint8_t block0[] = {0x00, 0x01, 0x01, 0x00};
	const uint8_t nmb0[] = {0x08, 0x00, 0x01, 0x00};
	const uint8_t indivisible[] = {0x08, 0x03, 0x01, 0x00};
	const uint8_t unaligned[] = {0x08, 0x02, 0x01, 0x00}; /* 4 values per miniblock */
	const uint8_t huge_block[] = {0x80, 0x80, 0x80, 0x80, 0x08, 0x01, 0x01, 0x00};
	assert_int_equal(pq_delta_decode_int32(block0, 4, v32, 64, &count, &used), PQE_BAD_HEADER);
	assert_int_equal(pq_delta_decode_int32(nmb0, 4, v32, 64, &count, &used), PQE_BAD_HEADER);
	assert_int_equal(pq_delta_decode_int32(indivisible, 4, v32, 64, &count, &used),
	                 PQE_BAD_HEADER);
	assert_int_equal(pq_delta_decode_int32(unaligned, 4, v32, 64, &count, &used),
	                 PQE_BAD_HEADER);
	assert_int_equal(
	        pq_delta_decode_int32(huge_block, sizeof(huge_block), v32, 64, &count, &used),
	        PQE_BAD_HEADER);

	/* A count of 2^31 against a 64-value array: refused before decoding. */
	const uint8_t many[] = {0x80, 0x01, 0x04, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00};
	assert_int_equal(pq_delta_decode_int64(many, sizeof(many), v64, 64, &count, &used),
	                 PQE_COUNT_MISMATCH);
	/* Width 33 is too wide for INT32, 65 for INT64. */
	const uint8_t w33[] = {0x08, 0x01, 0x02, 0x00, 0x00, 33, 0, 0, 0, 0, 0, 0, 0, 0,
	                       0,    0,    0,    0,    0,    0,  0, 0, 0, 0, 0, 0, 0, 0,
	                       0,    0,    0,    0,    0,    0,  0, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(pq_delta_decode_int32(w33, sizeof(w33), v32, 64, &count, &used),
	                 PQE_BAD_BIT_WIDTH);
	assert_int_equal(pq_delta_decode_int64(w33, sizeof(w33), v64, 64, &count, &used), PQE_OK);
	uint8_t w65[sizeof(w33)];
	memcpy(w65, w33, sizeof(w33));
	w65[5] = 65;
	assert_int_equal(pq_delta_decode_int64(w65, sizeof(w65), v64, 64, &count, &used),
	                 PQE_BAD_BIT_WIDTH);
	/* A first value outside INT32. */
	const uint8_t first[] = {0x08, 0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10};
	assert_int_equal(pq_delta_decode_int32(first, sizeof(first), v32, 64, &count, &used),
	                 PQE_BAD_VALUE);
}

static void test_delta_every_truncation_is_an_error_and_flips_never_crash(void **state)
{
	const uint8_t *streams[] = {delta_ex1, delta_ex2};
	const size_t lens[] = {sizeof(delta_ex1), sizeof(delta_ex2)};
	int64_t v[64];
	size_t count, used;

	for (size_t s = 0; s < 2; s++) {
		for (size_t cut = 0; cut < lens[s]; cut++) {
			uint8_t *p = tl_dup_exact(streams[s], cut);
			assert_int_not_equal(pq_delta_decode_int64(p, cut, v, 64, &count, &used),
			                     PQE_OK);
			free(p);
		}
		for (size_t bit = 0; bit < lens[s] * 8; bit++) {
			uint8_t *p = tl_dup_exact(streams[s], lens[s]);
			p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			(void)pq_delta_decode_int64(p, lens[s], v, 64, &count, &used);
			int32_t v32[64];
			(void)pq_delta_decode_int32(p, lens[s], v32, 64, &count, &used);
			free(p);
		}
	}
}

/* DELTA_LENGTH_BYTE_ARRAY of the spec's "Hello", "World", "Foobar", "ABCDEF":
 * lengths 5, 5, 6, 6 (first 5, deltas 0, 1, 0, min 0, width 1). */
static const uint8_t dlba[] = {0x08, 0x01, 0x04, 0x0a, 0x00, 0x01, 0x02, 'H', 'e', 'l',
                               'l',  'o',  'W',  'o',  'r',  'l',  'd',  'F', 'o', 'o',
                               'b',  'a',  'r',  'A',  'B',  'C',  'D',  'E', 'F'};

static void test_delta_length_byte_array_decodes_the_spec_example(void **state)
{
	const char *expect[] = {"Hello", "World", "Foobar", "ABCDEF"};
	pq_bytes out[4];
	size_t count, used;

	assert_int_equal(pq_delta_length_decode(dlba, sizeof(dlba), out, 4, &count, &used), PQE_OK);
	assert_int_equal(count, 4);
	assert_int_equal(used, sizeof(dlba));
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(out[i].len, strlen(expect[i]));
		assert_memory_equal(out[i].ptr, expect[i], out[i].len);
	}
	for (size_t cut = 0; cut < sizeof(dlba); cut++) {
		uint8_t *p = tl_dup_exact(dlba, cut);
		assert_int_not_equal(pq_delta_length_decode(p, cut, out, 4, &count, &used), PQE_OK);
		free(p);
	}
	assert_int_equal(pq_delta_length_decode(dlba, sizeof(dlba), out, 3, &count, &used),
	                 PQE_COUNT_MISMATCH);
	/* A negative length (first value -1) is refused. */
	const uint8_t neg[] = {0x08, 0x01, 0x01, 0x01};
	assert_int_equal(pq_delta_length_decode(neg, sizeof(neg), out, 4, &count, &used),
	                 PQE_BAD_LENGTH);
}

/* DELTA_BYTE_ARRAY of the spec's "axis", "axle", "babble", "babyhood":
 * prefixes 0, 2, 0, 3 and suffixes "axis", "le", "babble", "yhood". */
static const uint8_t dba[] = {
        0x08, 0x01, 0x04, 0x00, 0x03, 0x03, 0x44, 0x01, 0x00, /* prefix lengths */
        0x08, 0x01, 0x04, 0x08, 0x03, 0x03, 0x70, 0x00, 0x00, /* suffix lengths */
        'a',  'x',  'i',  's',  'l',  'e',  'b',  'a',  'b',
        'b',  'l',  'e',  'y',  'h',  'o',  'o',  'd'};

static void test_delta_byte_array_decodes_the_spec_example(void **state)
{
	const char *expect[] = {"axis", "axle", "babble", "babyhood"};
	pq_bytes out[4];
	uint8_t arena[64];
	size_t count, used;

	assert_int_equal(pq_delta_byte_array_decode(dba, sizeof(dba), out, 4, &count, arena,
	                                            sizeof(arena), &used),
	                 PQE_OK);
	assert_int_equal(count, 4);
	assert_int_equal(used, sizeof(dba));
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(out[i].len, strlen(expect[i]));
		assert_memory_equal(out[i].ptr, expect[i], out[i].len);
	}
	/* 4 + 4 + 6 + 8 = 22 bytes of output; 21 is not enough. */
	assert_int_equal(
	        pq_delta_byte_array_decode(dba, sizeof(dba), out, 4, &count, arena, 21, &used),
	        PQE_NO_SPACE);
	assert_int_equal(pq_delta_byte_array_decode(dba, sizeof(dba), out, 3, &count, arena,
	                                            sizeof(arena), &used),
	                 PQE_COUNT_MISMATCH);
	for (size_t cut = 0; cut < sizeof(dba); cut++) {
		uint8_t *p = tl_dup_exact(dba, cut);
		assert_int_not_equal(pq_delta_byte_array_decode(p, cut, out, 4, &count, arena,
		                                                sizeof(arena), &used),
		                     PQE_OK);
		free(p);
	}
	for (size_t bit = 0; bit < sizeof(dba) * 8; bit++) {
		uint8_t *p = tl_dup_exact(dba, sizeof(dba));
		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		(void)pq_delta_byte_array_decode(p, sizeof(dba), out, 4, &count, arena,
		                                 sizeof(arena), &used);
		free(p);
	}
	/* A first prefix of 1, and a prefix longer than the previous value. */
	uint8_t bad[sizeof(dba)];
	memcpy(bad, dba, sizeof(dba));
	bad[3] = 0x02;
	assert_int_equal(pq_delta_byte_array_decode(bad, sizeof(bad), out, 4, &count, arena,
	                                            sizeof(arena), &used),
	                 PQE_BAD_LENGTH);
	memcpy(bad, dba, sizeof(dba));
	bad[6] = 0x47; /* second prefix 0 + 7 - 2 = 5, past "axis" */
	assert_int_equal(pq_delta_byte_array_decode(bad, sizeof(bad), out, 4, &count, arena,
	                                            sizeof(arena), &used),
	                 PQE_BAD_LENGTH);
}

static void delta_round_trip_64(const int64_t *v, size_t n)
{
	size_t cap = pq_delta_max_size(n, 64), len, count, used;
	uint8_t *buf = malloc(cap);
	int64_t *back = malloc((n ? n : 1) * sizeof(*back));

	assert_non_null(buf);
	assert_non_null(back);
	assert_int_equal(pq_delta_encode_int64(v, n, buf, cap, &len), PQE_OK);
	uint8_t *exact = tl_dup_exact(buf, len);
	assert_int_equal(pq_delta_decode_int64(exact, len, back, n, &count, &used), PQE_OK);
	assert_int_equal(count, n);
	assert_int_equal(used, len);
	if (n)
		assert_memory_equal(back, v, n * sizeof(*v));
	/* Small streams: every prefix is an error. */
	for (size_t cut = 0; n <= 300 && cut < len; cut++)
		assert_int_not_equal(pq_delta_decode_int64(exact, cut, back, n, &count, &used),
		                     PQE_OK);
	free(exact);
	free(back);
	free(buf);
}

static void delta_round_trip_32(const int32_t *v, size_t n)
{
	size_t cap = pq_delta_max_size(n, 32), len, count, used;
	uint8_t *buf = malloc(cap);
	int32_t *back = malloc((n ? n : 1) * sizeof(*back));

	assert_non_null(buf);
	assert_non_null(back);
	assert_int_equal(pq_delta_encode_int32(v, n, buf, cap, &len), PQE_OK);
	uint8_t *exact = tl_dup_exact(buf, len);
	assert_int_equal(pq_delta_decode_int32(exact, len, back, n, &count, &used), PQE_OK);
	assert_int_equal(count, n);
	assert_int_equal(used, len);
	if (n)
		assert_memory_equal(back, v, n * sizeof(*v));
	for (size_t cut = 0; n <= 300 && cut < len; cut++)
		assert_int_not_equal(pq_delta_decode_int32(exact, cut, back, n, &count, &used),
		                     PQE_OK);
	free(exact);
	free(back);
	free(buf);
}

static void test_delta_binary_packed_round_trips_int32_and_int64(void **state)
{
	enum { N = 1000 };
	const size_t sizes[] = {0, 1, 2, 5, 31, 32, 33, 127, 128, 129, 300, N};
	int64_t *v64 = malloc(N * sizeof(*v64));
	int32_t *v32 = malloc(N * sizeof(*v32));
	assert_non_null(v64);
	assert_non_null(v32);

	for (int pattern = 0; pattern < 5; pattern++) {
		for (size_t i = 0; i < N; i++) {
			uint64_t r = tl_rng();
			switch (pattern) {
			case 0: /* full range: deltas wrap */
				v64[i] = (int64_t)r;
				break;
			case 1: /* ascending timestamps */
				v64[i] = 1700000000000ll + (int64_t)i * 1000 + (int64_t)(r % 7);
				break;
			case 2: /* constant: width 0 everywhere */
				v64[i] = -42;
				break;
			case 3: /* extremes alternating */
				v64[i] = (i & 1) ? INT64_MAX : INT64_MIN;
				break;
			default: /* small signed noise */
				v64[i] = (int64_t)(r % 200) - 100;
				break;
			}
			v32[i] = pattern == 3 ? ((i & 1) ? INT32_MAX : INT32_MIN) : (int32_t)v64[i];
		}
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			delta_round_trip_64(v64, sizes[s]);
			delta_round_trip_32(v32, sizes[s]);
		}
	}
	/* The encoder reports a full buffer rather than writing past it. */
	uint8_t small[8];
	size_t len;
	assert_int_equal(pq_delta_encode_int64(v64, N, small, sizeof(small), &len), PQE_NO_SPACE);
	assert_true(len <= sizeof(small));
	free(v32);
	free(v64);
}

static void test_delta_byte_array_encodings_round_trip(void **state)
{
	enum { N = 300 };
	static const char *words[] = {"", "a", "ab", "abc", "abd", "b", "babble", "baby"};
	pq_bytes in[N], out[N];
	uint8_t data[N * 16], *p = data;

	for (size_t i = 0; i < N; i++) {
		const char *w = words[tl_rng() % 8];
		size_t wl = strlen(w), extra = tl_rng() % 5;
		memcpy(p, w, wl);
		for (size_t k = 0; k < extra; k++)
			p[wl + k] = (uint8_t)tl_rng();
		in[i].ptr = p;
		in[i].len = (uint32_t)(wl + extra);
		p += wl + extra;
	}
	size_t cap = 2 * pq_delta_max_size(N, 32) + sizeof(data), len, count, used;
	uint8_t *buf = malloc(cap), *arena = malloc(sizeof(data));
	assert_non_null(buf);
	assert_non_null(arena);

	for (size_t n = 0; n <= N; n += (n < 10 ? 1 : 97)) {
		assert_int_equal(pq_delta_length_encode(in, n, buf, cap, &len), PQE_OK);
		assert_int_equal(pq_delta_length_decode(buf, len, out, n, &count, &used), PQE_OK);
		assert_int_equal(count, n);
		assert_int_equal(used, len);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(out[i].len, in[i].len);
			if (in[i].len)
				assert_memory_equal(out[i].ptr, in[i].ptr, in[i].len);
		}
		assert_int_equal(pq_delta_byte_array_encode(in, n, buf, cap, &len), PQE_OK);
		assert_int_equal(pq_delta_byte_array_decode(buf, len, out, n, &count, arena,
		                                            sizeof(data), &used),
		                 PQE_OK);
		assert_int_equal(count, n);
		assert_int_equal(used, len);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(out[i].len, in[i].len);
			if (in[i].len)
				assert_memory_equal(out[i].ptr, in[i].ptr, in[i].len);
		}
	}
	free(arena);
	free(buf);
}

static void test_random_bytes_never_crash_any_decoder(void **state)
{
	enum { MAXN = 256 };
	uint32_t u32[MAXN];
	int32_t i32[MAXN];
	int64_t i64[MAXN];
	uint8_t b[MAXN], arena[4096];
	pq_bytes bs[MAXN];
	size_t count, used;

	for (int iter = 0; iter < 5000; iter++) {
		size_t len = tl_rng() % 48, n = tl_rng() % MAXN;
		uint8_t *p = malloc(len ? len : 1);
		assert_non_null(p);
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)tl_rng();
		/* Bias some inputs towards plausible DELTA headers. */
		if (len > 2 && iter % 2) {
			p[0] = 0x08;
			p[1] = 0x01;
		}
		unsigned bw = (unsigned)(tl_rng() % 34);
		(void)pq_hybrid_decode(p, len, bw, u32, n, &used);
		(void)pq_hybrid_decode_prefixed(p, len, bw, u32, n, &used);
		(void)pq_dict_indices_decode(p, len, (uint32_t)tl_rng(), u32, n, &used);
		(void)pq_plain_bytes_decode(p, len, bs, n, &used);
		(void)pq_plain_bool_decode(p, len, b, n, &used);
		(void)pq_delta_decode_int32(p, len, i32, MAXN, &count, &used);
		(void)pq_delta_decode_int64(p, len, i64, MAXN, &count, &used);
		(void)pq_delta_length_decode(p, len, bs, MAXN, &count, &used);
		(void)pq_delta_byte_array_decode(p, len, bs, MAXN, &count, arena, sizeof(arena),
		                                 &used);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_uleb128_round_trips_and_refuses_overflow),
	        cmocka_unit_test(test_zigzag_maps_small_magnitudes_to_small_codes),
	        cmocka_unit_test(test_hybrid_round_trips_every_bit_width_with_runs_of_1_to_20),
	        cmocka_unit_test(test_hybrid_matches_the_spec_example_0_to_7_in_width_3),
	        cmocka_unit_test(test_hybrid_last_bit_packed_group_may_be_padded),
	        cmocka_unit_test(test_hybrid_accepts_duckdbs_last_run_padded_past_the_count),
	        cmocka_unit_test(test_hybrid_decodes_a_hand_built_mix_of_rle_and_bit_packed_runs),
	        cmocka_unit_test(test_hybrid_every_truncation_is_an_error),
	        cmocka_unit_test(test_hybrid_bit_flips_never_crash),
	        cmocka_unit_test(test_hybrid_refuses_absurd_run_headers),
	        cmocka_unit_test(test_hybrid_encoder_checks_widths_values_and_space),
	        cmocka_unit_test(test_hybrid_prefixed_and_dictionary_forms_round_trip),
	        cmocka_unit_test(test_plain_round_trips_and_refuses_truncation),
	        cmocka_unit_test(test_delta_binary_packed_decodes_the_spec_examples),
	        cmocka_unit_test(test_delta_binary_packed_decodes_a_hand_built_stream),
	        cmocka_unit_test(test_delta_binary_packed_refuses_bad_headers_counts_and_widths),
	        cmocka_unit_test(test_delta_every_truncation_is_an_error_and_flips_never_crash),
	        cmocka_unit_test(test_delta_length_byte_array_decodes_the_spec_example),
	        cmocka_unit_test(test_delta_byte_array_decodes_the_spec_example),
	        cmocka_unit_test(test_delta_binary_packed_round_trips_int32_and_int64),
	        cmocka_unit_test(test_delta_byte_array_encodings_round_trip),
	        cmocka_unit_test(test_random_bytes_never_crash_any_decoder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
