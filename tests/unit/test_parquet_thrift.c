/* Unit tests for the Thrift Compact Protocol layer (src/parquet/thrift.c):
 * integer edge values, byte-exact encodings computed by hand from the
 * specification, Parquet page-header round trips, skipping of unknown
 * fields of every type, and hostile input: every truncation, bit flips at
 * every byte, lying lengths and counts, over-long varints, deep nesting and
 * missing required fields. Run under ASan to catch out-of-bounds reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parquet/thrift.h"

/* Copies the writer's bytes into a malloc'd block of exactly len bytes, so
 * that ASan sees any read past the end. */
static uint8_t *exact_copy(const pqt_writer *w)
{
	uint8_t *p = malloc(w->len ? w->len : 1);

	assert_non_null(p);
	memcpy(p, w->data, w->len);
	return p;
}

static void ints_at_their_edges_round_trip(void **state)
{
	static const int64_t i64s[] = {0,  -1,        1,         63,        -64,
	                               64, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX};
	static const int32_t i32s[] = {0, -1, 1, INT32_MIN, INT32_MAX, 300, -300};
	static const int16_t i16s[] = {0, -1, INT16_MIN, INT16_MAX};
	static const int8_t i8s[] = {0, -1, INT8_MIN, INT8_MAX};
	pqt_writer w;
	pqt_reader r;

	pqt_writer_init(&w);
	for (size_t i = 0; i < sizeof(i64s) / sizeof(i64s[0]); i++)
		pqt_write_i64(&w, i64s[i]);
	for (size_t i = 0; i < sizeof(i32s) / sizeof(i32s[0]); i++)
		pqt_write_i32(&w, i32s[i]);
	for (size_t i = 0; i < sizeof(i16s) / sizeof(i16s[0]); i++)
		pqt_write_i16(&w, i16s[i]);
	for (size_t i = 0; i < sizeof(i8s) / sizeof(i8s[0]); i++)
		pqt_write_i8(&w, i8s[i]);
	pqt_write_double(&w, -1.5);
	assert_int_equal(pqt_writer_error(&w), PQT_OK);

	uint8_t *buf = exact_copy(&w);
	pqt_reader_init(&r, buf, w.len);
	for (size_t i = 0; i < sizeof(i64s) / sizeof(i64s[0]); i++) {
		int64_t v;
		assert_int_equal(pqt_read_i64(&r, &v), PQT_OK);
		assert_true(v == i64s[i]);
	}
	for (size_t i = 0; i < sizeof(i32s) / sizeof(i32s[0]); i++) {
		int32_t v;
		assert_int_equal(pqt_read_i32(&r, &v), PQT_OK);
		assert_int_equal(v, i32s[i]);
	}
	for (size_t i = 0; i < sizeof(i16s) / sizeof(i16s[0]); i++) {
		int16_t v;
		assert_int_equal(pqt_read_i16(&r, &v), PQT_OK);
		assert_int_equal(v, i16s[i]);
	}
	for (size_t i = 0; i < sizeof(i8s) / sizeof(i8s[0]); i++) {
		int8_t v;
		assert_int_equal(pqt_read_i8(&r, &v), PQT_OK);
		assert_int_equal(v, i8s[i]);
	}
	double d;
	assert_int_equal(pqt_read_double(&r, &d), PQT_OK);
	assert_true(d == -1.5);
	assert_int_equal(pqt_reader_pos(&r), w.len);
	free(buf);
	pqt_writer_free(&w);
}

static void zigzag_varints_have_the_specified_bytes(void **state)
{
	pqt_writer w;

	pqt_writer_init(&w);
	pqt_write_i32(&w, 0);         /* 00 */
	pqt_write_i32(&w, -1);        /* 01 */
	pqt_write_i32(&w, 1);         /* 02 */
	pqt_write_i32(&w, -64);       /* 7f */
	pqt_write_i32(&w, 64);        /* 80 01 */
	pqt_write_i32(&w, INT32_MIN); /* ff ff ff ff 0f */
	pqt_write_i64(&w, INT64_MIN); /* ff x9 01 */
	static const uint8_t want[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0x01, 0xff,
	                               0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff,
	                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.data, want, sizeof(want));
	pqt_writer_free(&w);
}

/* Field 1 i32 1, field 2 bool true, field 17 i32 -1 (delta 15: still the
 * short form), field 40 i64 300 (delta 23: long form), stop. */
static void struct_with_short_and_long_field_headers_is_byte_exact(void **state)
{
	static const uint8_t want[] = {0x15, 0x02, 0x11, 0xf5, 0x01, 0x06,
	                               0x50, 0xd8, 0x04, 0x11, 0x00};
	pqt_writer w;
	pqt_reader r;
	int16_t id;
	int type;
	int32_t i32;
	int64_t i64;
	bool b;

	pqt_writer_init(&w);
	pqt_write_struct_begin(&w);
	pqt_write_field(&w, 1, PQT_I32);
	pqt_write_i32(&w, 1);
	pqt_write_field_bool(&w, 2, true);
	pqt_write_field(&w, 17, PQT_I32);
	pqt_write_i32(&w, -1);
	pqt_write_field(&w, 40, PQT_I64);
	pqt_write_i64(&w, 300);
	pqt_write_field_bool(&w, 41, true);
	pqt_write_struct_end(&w);
	assert_int_equal(pqt_writer_error(&w), PQT_OK);
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.data, want, sizeof(want));

	pqt_reader_init(&r, want, sizeof(want));
	assert_int_equal(pqt_read_struct_begin(&r), PQT_OK);
	assert_int_equal(pqt_read_field(&r, &id, &type), PQT_OK);
	assert_int_equal(id, 1);
	assert_int_equal(type, PQT_I32);
	assert_int_equal(pqt_read_i32(&r, &i32), PQT_OK);
	assert_int_equal(i32, 1);
	assert_int_equal(pqt_read_field(&r, &id, &type), PQT_OK);
	assert_int_equal(id, 2);
	assert_int_equal(type, PQT_BOOL);
	assert_int_equal(pqt_read_bool(&r, &b), PQT_OK);
	assert_true(b);
	assert_int_equal(pqt_read_field(&r, &id, &type), PQT_OK);
	assert_int_equal(id, 17);
	assert_int_equal(pqt_read_i32(&r, &i32), PQT_OK);
	assert_int_equal(i32, -1);
	assert_int_equal(pqt_read_field(&r, &id, &type), PQT_OK);
	assert_int_equal(id, 40);
	assert_int_equal(type, PQT_I64);
	assert_int_equal(pqt_read_i64(&r, &i64), PQT_OK);
	assert_int_equal(i64, 300);
	assert_int_equal(pqt_read_field(&r, &id, &type), PQT_OK);
	assert_int_equal(id, 41);
	assert_int_equal(pqt_read_bool(&r, &b), PQT_OK);
	assert_true(b);
	assert_int_equal(pqt_read_field(&r, &id, &type), PQT_OK);
	assert_int_equal(type, PQT_STOP);
	assert_int_equal(pqt_read_struct_end(&r), PQT_OK);
	assert_int_equal(pqt_reader_pos(&r), sizeof(want));
	pqt_writer_free(&w);
}

static void lists_of_3_and_20_use_short_and_long_headers(void **state)
{
	pqt_writer w;
	pqt_reader r;
	int t;
	uint32_t n;
	int32_t v;

	pqt_writer_init(&w);
	pqt_write_list_begin(&w, PQT_I32, 3);
	for (int i = 1; i <= 3; i++)
		pqt_write_i32(&w, i);
	pqt_write_list_begin(&w, PQT_I32, 20);
	for (int i = 0; i < 20; i++)
		pqt_write_i32(&w, 0);
	assert_int_equal(w.len, 4 + 2 + 20);
	static const uint8_t head[] = {0x35, 0x02, 0x04, 0x06, 0xf5, 0x14};
	assert_memory_equal(w.data, head, sizeof(head));
	for (size_t i = sizeof(head); i < w.len; i++)
		assert_int_equal(w.data[i], 0);

	pqt_reader_init(&r, w.data, w.len);
	assert_int_equal(pqt_read_list_begin(&r, &t, &n), PQT_OK);
	assert_int_equal(t, PQT_I32);
	assert_int_equal(n, 3);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(pqt_read_i32(&r, &v), PQT_OK);
		assert_int_equal(v, i);
	}
	assert_int_equal(pqt_read_list_begin(&r, &t, &n), PQT_OK);
	assert_int_equal(n, 20);
	pqt_writer_free(&w);
}

static void binary_bools_and_maps_round_trip(void **state)
{
	pqt_writer w;
	pqt_reader r;
	pqt_bin bin;
	int k, v;
	uint32_t n;
	bool b;

	pqt_writer_init(&w);
	pqt_write_string(&w, "hello");
	pqt_write_binary(&w, NULL, 0);
	pqt_write_list_begin(&w, PQT_BOOL, 2);
	pqt_write_bool(&w, true);
	pqt_write_bool(&w, false);
	pqt_write_map_begin(&w, PQT_BINARY, PQT_I32, 1);
	pqt_write_string(&w, "k");
	pqt_write_i32(&w, 7);
	pqt_write_map_begin(&w, PQT_I32, PQT_I32, 0);
	static const uint8_t want[] = {0x05, 'h',  'e',  'l',  'l',  'o', 0x00, 0x21,
	                               0x01, 0x02, 0x01, 0x85, 0x01, 'k', 0x0e, 0x00};
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.data, want, sizeof(want));

	pqt_reader_init(&r, want, sizeof(want));
	assert_int_equal(pqt_read_binary(&r, &bin), PQT_OK);
	assert_int_equal(bin.len, 5);
	assert_memory_equal(bin.ptr, "hello", 5);
	assert_int_equal(pqt_read_binary(&r, &bin), PQT_OK);
	assert_int_equal(bin.len, 0);
	assert_int_equal(pqt_read_list_begin(&r, &k, &n), PQT_OK);
	assert_int_equal(k, PQT_BOOL);
	assert_int_equal(pqt_read_bool(&r, &b), PQT_OK);
	assert_true(b);
	assert_int_equal(pqt_read_bool(&r, &b), PQT_OK);
	assert_false(b);
	assert_int_equal(pqt_read_map_begin(&r, &k, &v, &n), PQT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(k, PQT_BINARY);
	assert_int_equal(v, PQT_I32);
	assert_int_equal(pqt_skip(&r, k), PQT_OK);
	assert_int_equal(pqt_skip(&r, v), PQT_OK);
	assert_int_equal(pqt_read_map_begin(&r, &k, &v, &n), PQT_OK);
	assert_int_equal(n, 0);
	assert_int_equal(pqt_reader_pos(&r), sizeof(want));
	pqt_writer_free(&w);
}

static pq_statistics sample_stats(void)
{
	pq_statistics s;

	memset(&s, 0, sizeof(s));
	s.has_max = s.has_min = s.has_null_count = s.has_distinct_count = true;
	s.has_max_value = s.has_min_value = true;
	s.has_is_max_value_exact = s.has_is_min_value_exact = true;
	s.max = (pqt_bin){(const uint8_t *)"zz", 2};
	s.min = (pqt_bin){(const uint8_t *)"a", 1};
	s.null_count = 5;
	s.distinct_count = INT64_MAX;
	s.max_value = (pqt_bin){(const uint8_t *)"zzz", 3};
	s.min_value = (pqt_bin){(const uint8_t *)"", 0};
	s.is_max_value_exact = false;
	s.is_min_value_exact = true;
	return s;
}

static void assert_stats_equal(const pq_statistics *a, const pq_statistics *b)
{
	assert_int_equal(a->has_max, b->has_max);
	assert_int_equal(a->has_min, b->has_min);
	assert_int_equal(a->has_null_count, b->has_null_count);
	assert_int_equal(a->has_distinct_count, b->has_distinct_count);
	assert_int_equal(a->has_max_value, b->has_max_value);
	assert_int_equal(a->has_min_value, b->has_min_value);
	assert_int_equal(a->has_is_max_value_exact, b->has_is_max_value_exact);
	assert_int_equal(a->has_is_min_value_exact, b->has_is_min_value_exact);
	assert_int_equal(a->max.len, b->max.len);
	assert_memory_equal(a->max.ptr, b->max.ptr, a->max.len);
	assert_int_equal(a->min.len, b->min.len);
	assert_memory_equal(a->min.ptr, b->min.ptr, a->min.len);
	assert_int_equal(a->max_value.len, b->max_value.len);
	assert_memory_equal(a->max_value.ptr, b->max_value.ptr, a->max_value.len);
	assert_int_equal(a->min_value.len, b->min_value.len);
	assert_true(a->null_count == b->null_count);
	assert_true(a->distinct_count == b->distinct_count);
	assert_int_equal(a->is_max_value_exact, b->is_max_value_exact);
	assert_int_equal(a->is_min_value_exact, b->is_min_value_exact);
}

/* A page header using every field: a v1 data page with statistics plus the
 * dictionary and v2 sub-headers (real files set only one; the codec must
 * not care). */
static pq_page_header sample_page_header(void)
{
	pq_page_header h;

	memset(&h, 0, sizeof(h));
	h.type = PQ_PAGE_DATA;
	h.uncompressed_page_size = 1 << 20;
	h.compressed_page_size = 4096;
	h.has_crc = true;
	h.crc = -123456789;
	h.has_data_page_header = true;
	h.data_page_header.num_values = 1000;
	h.data_page_header.encoding = PQ_ENC_RLE_DICTIONARY;
	h.data_page_header.definition_level_encoding = PQ_ENC_RLE;
	h.data_page_header.repetition_level_encoding = PQ_ENC_BIT_PACKED;
	h.data_page_header.has_statistics = true;
	h.data_page_header.statistics = sample_stats();
	h.has_dictionary_page_header = true;
	h.dictionary_page_header.num_values = 17;
	h.dictionary_page_header.encoding = PQ_ENC_PLAIN;
	h.dictionary_page_header.has_is_sorted = true;
	h.dictionary_page_header.is_sorted = true;
	h.has_data_page_header_v2 = true;
	h.data_page_header_v2.num_values = 10;
	h.data_page_header_v2.num_nulls = 2;
	h.data_page_header_v2.num_rows = 9;
	h.data_page_header_v2.encoding = PQ_ENC_DELTA_BINARY_PACKED;
	h.data_page_header_v2.definition_levels_byte_length = 3;
	h.data_page_header_v2.repetition_levels_byte_length = 0;
	h.data_page_header_v2.is_compressed = false;
	h.data_page_header_v2.has_statistics = true;
	h.data_page_header_v2.statistics = sample_stats();
	return h;
}

static void page_headers_of_every_kind_round_trip(void **state)
{
	pq_page_header h = sample_page_header(), got;
	pqt_writer w;
	size_t used;
	const char *missing;

	pqt_writer_init(&w);
	assert_int_equal(pq_page_header_encode(&w, &h), PQT_OK);
	/* Page data follows the header; the parser must stop at the header. */
	pqt_write_string(&w, "page data");
	uint8_t *buf = exact_copy(&w);
	assert_int_equal(pq_page_header_parse(buf, w.len, &got, &used, &missing), PQT_OK);
	assert_int_equal(used, w.len - 10);
	assert_int_equal(got.type, h.type);
	assert_int_equal(got.uncompressed_page_size, h.uncompressed_page_size);
	assert_int_equal(got.compressed_page_size, h.compressed_page_size);
	assert_true(got.has_crc);
	assert_int_equal(got.crc, h.crc);
	assert_true(got.has_data_page_header);
	assert_int_equal(got.data_page_header.num_values, 1000);
	assert_int_equal(got.data_page_header.encoding, PQ_ENC_RLE_DICTIONARY);
	assert_int_equal(got.data_page_header.definition_level_encoding, PQ_ENC_RLE);
	assert_int_equal(got.data_page_header.repetition_level_encoding, PQ_ENC_BIT_PACKED);
	assert_true(got.data_page_header.has_statistics);
	assert_stats_equal(&got.data_page_header.statistics, &h.data_page_header.statistics);
	assert_true(got.has_dictionary_page_header);
	assert_int_equal(got.dictionary_page_header.num_values, 17);
	assert_int_equal(got.dictionary_page_header.encoding, PQ_ENC_PLAIN);
	assert_true(got.dictionary_page_header.has_is_sorted);
	assert_true(got.dictionary_page_header.is_sorted);
	assert_true(got.has_data_page_header_v2);
	const pq_data_page_header_v2 *v2 = &got.data_page_header_v2;
	assert_int_equal(v2->num_values, 10);
	assert_int_equal(v2->num_nulls, 2);
	assert_int_equal(v2->num_rows, 9);
	assert_int_equal(v2->encoding, PQ_ENC_DELTA_BINARY_PACKED);
	assert_int_equal(v2->definition_levels_byte_length, 3);
	assert_int_equal(v2->repetition_levels_byte_length, 0);
	assert_false(v2->is_compressed);
	assert_true(v2->has_statistics);
	assert_stats_equal(&v2->statistics, &h.data_page_header_v2.statistics);
	free(buf);
	pqt_writer_free(&w);
}

static void minimal_headers_round_trip_and_is_compressed_defaults_to_true(void **state)
{
	pq_page_header h, got;
	pqt_writer w;

	memset(&h, 0, sizeof(h));
	h.type = PQ_PAGE_DATA_V2;
	h.uncompressed_page_size = 10;
	h.compressed_page_size = 8;
	h.has_data_page_header_v2 = true;
	h.data_page_header_v2.is_compressed = true; /* omitted on the wire */
	pqt_writer_init(&w);
	assert_int_equal(pq_page_header_encode(&w, &h), PQT_OK);
	assert_int_equal(pq_page_header_parse(w.data, w.len, &got, NULL, NULL), PQT_OK);
	assert_false(got.has_crc);
	assert_false(got.has_data_page_header);
	assert_false(got.has_dictionary_page_header);
	assert_true(got.has_data_page_header_v2);
	assert_true(got.data_page_header_v2.is_compressed);
	assert_false(got.data_page_header_v2.has_statistics);

	/* An empty Statistics struct decodes with nothing present. */
	pq_statistics s, sg;
	pqt_reader r;
	memset(&s, 0, sizeof(s));
	pqt_writer_reset(&w);
	assert_int_equal(pq_statistics_encode(&w, &s), PQT_OK);
	assert_int_equal(w.len, 1);
	pqt_reader_init(&r, w.data, w.len);
	assert_int_equal(pq_statistics_decode(&r, &sg), PQT_OK);
	assert_stats_equal(&sg, &s);

	/* DictionaryPageHeader and DataPageHeader on their own. */
	pq_dictionary_page_header d = {.num_values = 3, .encoding = PQ_ENC_PLAIN_DICTIONARY}, dg;
	pqt_writer_reset(&w);
	assert_int_equal(pq_dictionary_page_header_encode(&w, &d), PQT_OK);
	pqt_reader_init(&r, w.data, w.len);
	assert_int_equal(pq_dictionary_page_header_decode(&r, &dg), PQT_OK);
	assert_int_equal(dg.num_values, 3);
	assert_int_equal(dg.encoding, PQ_ENC_PLAIN_DICTIONARY);
	assert_false(dg.has_is_sorted);

	pq_data_page_header p = {.num_values = -1, .encoding = 42}, pg;
	pqt_writer_reset(&w);
	assert_int_equal(pq_data_page_header_encode(&w, &p), PQT_OK);
	pqt_reader_init(&r, w.data, w.len);
	assert_int_equal(pq_data_page_header_decode(&r, &pg), PQT_OK);
	assert_int_equal(pg.num_values, -1);
	assert_int_equal(pg.encoding, 42); /* unknown enum values are kept */
	assert_int_equal(pqt_reader_pos(&r), w.len);
	pqt_writer_free(&w);
}

/* Writes one value of each type as an unknown field (ids 20..), nesting a
 * struct holding a list of structs and a map of lists. */
static void write_unknown_fields(pqt_writer *w)
{
	pqt_write_field_bool(w, 20, true);
	pqt_write_field_bool(w, 21, false);
	pqt_write_field(w, 22, PQT_I8);
	pqt_write_i8(w, -5);
	pqt_write_field(w, 23, PQT_I16);
	pqt_write_i16(w, -300);
	pqt_write_field(w, 24, PQT_I32);
	pqt_write_i32(w, INT32_MIN);
	pqt_write_field(w, 25, PQT_I64);
	pqt_write_i64(w, INT64_MAX);
	pqt_write_field(w, 26, PQT_DOUBLE);
	pqt_write_double(w, 3.25);
	pqt_write_field(w, 27, PQT_BINARY);
	pqt_write_string(w, "unknown");
	pqt_write_field(w, 28, PQT_LIST);
	pqt_write_list_begin(w, PQT_STRUCT, 2);
	for (int i = 0; i < 2; i++) {
		pqt_write_struct_begin(w);
		pqt_write_field_bool(w, 1, i);
		pqt_write_field(w, 300, PQT_SET);
		pqt_write_set_begin(w, PQT_BOOL, 16);
		for (int j = 0; j < 16; j++)
			pqt_write_bool(w, j & 1);
		pqt_write_struct_end(w);
	}
	pqt_write_field(w, 1000, PQT_MAP);
	pqt_write_map_begin(w, PQT_BINARY, PQT_LIST, 2);
	for (int i = 0; i < 2; i++) {
		pqt_write_string(w, "key");
		pqt_write_list_begin(w, PQT_DOUBLE, 1);
		pqt_write_double(w, i);
	}
	pqt_write_field(w, 1001, PQT_MAP);
	pqt_write_map_begin(w, PQT_I32, PQT_I32, 0);
	pqt_write_field(w, 1002, PQT_STRUCT);
	pqt_write_struct_begin(w);
	pqt_write_field(w, -3, PQT_I32); /* negative ids exist (implicit ids) */
	pqt_write_i32(w, 1);
	pqt_write_struct_end(w);
}

static void unknown_fields_of_every_type_are_skipped(void **state)
{
	pqt_writer w;
	pq_dictionary_page_header d;
	pqt_reader r;

	pqt_writer_init(&w);
	pqt_write_struct_begin(&w);
	pqt_write_field(&w, 1, PQT_I32);
	pqt_write_i32(&w, 99);
	pqt_write_field(&w, 2, PQT_BINARY); /* known id, wrong type: skipped */
	pqt_write_string(&w, "x");
	write_unknown_fields(&w);
	pqt_write_field(&w, 2, PQT_I32);
	pqt_write_i32(&w, PQ_ENC_PLAIN);
	pqt_write_field_bool(&w, 3, true);
	pqt_write_struct_end(&w);
	pqt_write_i8(&w, 0x55); /* trailer the decoder must not touch */
	assert_int_equal(pqt_writer_error(&w), PQT_OK);

	uint8_t *buf = exact_copy(&w);
	pqt_reader_init(&r, buf, w.len);
	assert_int_equal(pq_dictionary_page_header_decode(&r, &d), PQT_OK);
	assert_int_equal(d.num_values, 99);
	assert_int_equal(d.encoding, PQ_ENC_PLAIN);
	assert_true(d.has_is_sorted);
	assert_true(d.is_sorted);
	assert_int_equal(pqt_reader_pos(&r), w.len - 1);

	/* The generic skipper walks the same struct as one value. */
	pqt_reader_init(&r, buf, w.len);
	assert_int_equal(pqt_skip(&r, PQT_STRUCT), PQT_OK);
	assert_int_equal(pqt_reader_pos(&r), w.len - 1);
	free(buf);
	pqt_writer_free(&w);
}

static void missing_required_fields_are_named(void **state)
{
	pqt_writer w;
	pq_page_header h;
	const char *missing = NULL;

	pqt_writer_init(&w);
	pqt_write_struct_begin(&w);
	pqt_write_field(&w, 1, PQT_I32);
	pqt_write_i32(&w, 0);
	pqt_write_field(&w, 3, PQT_I32);
	pqt_write_i32(&w, 0);
	pqt_write_struct_end(&w);
	assert_int_equal(pq_page_header_parse(w.data, w.len, &h, NULL, &missing),
	                 PQT_MISSING_FIELD);
	assert_string_equal(missing, "PageHeader.uncompressed_page_size");

	/* A nested header with a missing field names the nested struct. */
	pqt_writer_reset(&w);
	pqt_write_struct_begin(&w);
	pqt_write_field(&w, 1, PQT_I32);
	pqt_write_i32(&w, 0);
	pqt_write_field(&w, 2, PQT_I32);
	pqt_write_i32(&w, 0);
	pqt_write_field(&w, 3, PQT_I32);
	pqt_write_i32(&w, 0);
	pqt_write_field(&w, 7, PQT_STRUCT);
	pqt_write_struct_begin(&w);
	pqt_write_field(&w, 1, PQT_I32);
	pqt_write_i32(&w, 0);
	pqt_write_struct_end(&w);
	pqt_write_struct_end(&w);
	assert_int_equal(pq_page_header_parse(w.data, w.len, &h, NULL, &missing),
	                 PQT_MISSING_FIELD);
	assert_string_equal(missing, "DictionaryPageHeader.encoding");
	assert_non_null(strstr(pqt_strerror(PQT_MISSING_FIELD), "required"));
	pqt_writer_free(&w);
}

/* The full sample header followed by unknown fields, so that truncation and
 * bit flips reach the skipper too. */
static uint8_t *hostile_sample(size_t *len)
{
	pq_page_header h = sample_page_header();
	pqt_writer w;

	pqt_writer_init(&w);
	assert_int_equal(pq_page_header_encode(&w, &h), PQT_OK);
	/* Reopen the top-level struct: drop its stop byte, add unknowns. */
	w.len--;
	w.depth = 1;
	w.last_id[1] = 8;
	write_unknown_fields(&w);
	pqt_write_struct_end(&w);
	assert_int_equal(pqt_writer_error(&w), PQT_OK);
	uint8_t *buf = exact_copy(&w);
	*len = w.len;
	pqt_writer_free(&w);
	return buf;
}

static void every_truncation_is_an_error(void **state)
{
	size_t len, used;
	uint8_t *full = hostile_sample(&len);
	pq_page_header h;

	assert_int_equal(pq_page_header_parse(full, len, &h, &used, NULL), PQT_OK);
	assert_int_equal(used, len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, full, n);
		assert_int_not_equal(pq_page_header_parse(p, n, &h, NULL, NULL), PQT_OK);
		pqt_reader r;
		pqt_reader_init(&r, p, n);
		assert_int_not_equal(pqt_skip(&r, PQT_STRUCT), PQT_OK);
		assert_true(pqt_reader_pos(&r) <= n);
		free(p);
	}
	free(full);
}

static void bit_flips_never_read_out_of_bounds(void **state)
{
	static const int bits[] = {0, 1, 3, 4, 6, 7};
	size_t len;
	uint8_t *full = hostile_sample(&len);
	uint8_t *p = malloc(len);
	pq_page_header h;
	size_t ok = 0;

	for (size_t i = 0; i < len; i++) {
		for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
			memcpy(p, full, len);
			p[i] ^= (uint8_t)(1u << bits[b]);
			size_t used = 0;
			int rc = pq_page_header_parse(p, len, &h, &used, NULL);
			assert_true(used <= len);
			ok += rc == PQT_OK;
			pqt_reader r;
			pqt_reader_init(&r, p, len);
			(void)pqt_skip(&r, PQT_STRUCT);
			assert_true(pqt_reader_pos(&r) <= len);
		}
	}
	/* Flipping a value bit usually still decodes; a total failure would
	 * mean the loop tested nothing but the first byte. */
	assert_true(ok > 0);
	free(p);
	free(full);
}

static void absurd_lengths_and_counts_are_refused_before_use(void **state)
{
	pqt_reader r;
	pqt_bin bin;
	int t, k;
	uint32_t n;

	/* Binary of 2^31-1 bytes with 1 byte present. */
	static const uint8_t big_bin[] = {0xff, 0xff, 0xff, 0xff, 0x07, 'x'};
	pqt_reader_init(&r, big_bin, sizeof(big_bin));
	assert_int_equal(pqt_read_binary(&r, &bin), PQT_LENGTH);
	/* Above INT32_MAX. */
	static const uint8_t neg_bin[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	pqt_reader_init(&r, neg_bin, sizeof(neg_bin));
	assert_int_equal(pqt_read_binary(&r, &bin), PQT_LENGTH);
	/* List of 10^9 i32 in 3 bytes; of 3 in 2 bytes. */
	static const uint8_t big_list[] = {0xf5, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0x00};
	pqt_reader_init(&r, big_list, sizeof(big_list));
	assert_int_equal(pqt_read_list_begin(&r, &t, &n), PQT_LENGTH);
	static const uint8_t short_list[] = {0x35, 0x00, 0x00};
	pqt_reader_init(&r, short_list, sizeof(short_list));
	assert_int_equal(pqt_read_list_begin(&r, &t, &n), PQT_LENGTH);
	pqt_reader_init(&r, short_list, sizeof(short_list));
	assert_int_equal(pqt_skip(&r, PQT_LIST), PQT_LENGTH);
	/* Map of 2 entries needs at least 4 bytes after its header. */
	static const uint8_t short_map[] = {0x02, 0x55, 0x00, 0x00, 0x00};
	pqt_reader_init(&r, short_map, sizeof(short_map));
	assert_int_equal(pqt_read_map_begin(&r, &t, &k, &n), PQT_LENGTH);
	/* Bad element and field types. */
	static const uint8_t bad_elem[] = {0x1d, 0x00};
	pqt_reader_init(&r, bad_elem, sizeof(bad_elem));
	assert_int_equal(pqt_read_list_begin(&r, &t, &n), PQT_BAD_TYPE);
	static const uint8_t bad_field[] = {0x1e, 0x00};
	pqt_reader_init(&r, bad_field, sizeof(bad_field));
	assert_int_equal(pqt_skip(&r, PQT_STRUCT), PQT_BAD_TYPE);
	pqt_reader_init(&r, bad_field, sizeof(bad_field));
	assert_int_equal(pqt_skip(&r, 13), PQT_BAD_TYPE);
	/* A list bool element other than 0, 1 or 2. */
	static const uint8_t bad_bool[] = {0x11, 0x07};
	pqt_reader_init(&r, bad_bool, sizeof(bad_bool));
	assert_int_equal(pqt_skip(&r, PQT_LIST), PQT_BAD_VALUE);
}

static void overlong_varints_are_refused(void **state)
{
	pqt_reader r;
	int32_t i32;
	int64_t i64;
	int16_t i16, id;
	int t;

	/* i32: 6 bytes, and 5 bytes whose last carries bits above 2^32. */
	static const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	pqt_reader_init(&r, six, sizeof(six));
	assert_int_equal(pqt_read_i32(&r, &i32), PQT_VARINT_TOO_LONG);
	static const uint8_t wide32[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
	pqt_reader_init(&r, wide32, sizeof(wide32));
	assert_int_equal(pqt_read_i32(&r, &i32), PQT_VARINT_TOO_LONG);
	/* i64: 11 bytes, and 10 bytes with a last byte above 1. */
	static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	                                 0x80, 0x80, 0x80, 0x80, 0x00};
	pqt_reader_init(&r, eleven, sizeof(eleven));
	assert_int_equal(pqt_read_i64(&r, &i64), PQT_VARINT_TOO_LONG);
	static const uint8_t wide64[] = {0xff, 0xff, 0xff, 0xff, 0xff,
	                                 0xff, 0xff, 0xff, 0xff, 0x02};
	pqt_reader_init(&r, wide64, sizeof(wide64));
	assert_int_equal(pqt_read_i64(&r, &i64), PQT_VARINT_TOO_LONG);
	/* A varint whose continuation runs off the end is a truncation. */
	pqt_reader_init(&r, wide64, 4);
	assert_int_equal(pqt_read_i64(&r, &i64), PQT_TRUNCATED);
	/* i16 out of range, and a long-form field id out of range. */
	static const uint8_t big16[] = {0x80, 0x80, 0x04}; /* zigzag 65536 */
	pqt_reader_init(&r, big16, sizeof(big16));
	assert_int_equal(pqt_read_i16(&r, &i16), PQT_BAD_VALUE);
	static const uint8_t big_id[] = {0x05, 0x80, 0x80, 0x04, 0x00};
	pqt_reader_init(&r, big_id, sizeof(big_id));
	assert_int_equal(pqt_read_struct_begin(&r), PQT_OK);
	assert_int_equal(pqt_read_field(&r, &id, &t), PQT_BAD_VALUE);
}

static void nesting_deeper_than_the_limit_is_refused(void **state)
{
	pqt_writer w;
	pqt_reader r;

	/* PQT_MAX_DEPTH nested structs (field 1 of each) are accepted by the
	 * skipper; one more is refused. */
	for (int depth = PQT_MAX_DEPTH; depth <= PQT_MAX_DEPTH + 1; depth++) {
		pqt_writer_init(&w);
		for (int i = 0; i < depth; i++) {
			pqt_write_struct_begin(&w);
			if (i + 1 < depth)
				pqt_write_field(&w, 1, PQT_STRUCT);
		}
		for (int i = 0; i < depth; i++)
			pqt_write_struct_end(&w);
		if (depth > PQT_MAX_DEPTH) {
			/* The writer refuses too. */
			assert_int_equal(pqt_writer_error(&w), PQT_DEPTH);
			pqt_writer_free(&w);
			break;
		}
		assert_int_equal(pqt_writer_error(&w), PQT_OK);
		pqt_reader_init(&r, w.data, w.len);
		assert_int_equal(pqt_skip(&r, PQT_STRUCT), PQT_OK);
		pqt_writer_free(&w);
	}

	/* Hand-made: 100 nested lists of lists (0x19 = one list element), and
	 * 100 nested structs (0x1c = field 1 is a struct). */
	uint8_t deep[200];
	memset(deep, 0x19, 100);
	memset(deep + 100, 0x00, 100);
	pqt_reader_init(&r, deep, sizeof(deep));
	assert_int_equal(pqt_skip(&r, PQT_LIST), PQT_DEPTH);
	memset(deep, 0x1c, 100);
	pqt_reader_init(&r, deep, sizeof(deep));
	assert_int_equal(pqt_skip(&r, PQT_STRUCT), PQT_DEPTH);
	/* Typed decoders go through read_struct_begin, which counts too. */
	pqt_reader_init(&r, deep, sizeof(deep));
	for (int i = 0; i < PQT_MAX_DEPTH; i++)
		assert_int_equal(pqt_read_struct_begin(&r), PQT_OK);
	assert_int_equal(pqt_read_struct_begin(&r), PQT_DEPTH);
}

/* Redis rio style: after the first error nothing more is written, and the
 * error is still there at the end. */
static void a_writer_error_is_sticky(void **state)
{
	pqt_writer w;

	pqt_writer_init(&w);
	for (int i = 0; i <= PQT_MAX_DEPTH; i++)
		pqt_write_struct_begin(&w);
	assert_int_equal(pqt_writer_error(&w), PQT_DEPTH);
	size_t len = w.len;
	pqt_write_i64(&w, 1);
	pqt_write_string(&w, "ignored");
	pqt_write_struct_end(&w);
	assert_int_equal(w.len, len);
	assert_int_equal(pqt_writer_error(&w), PQT_DEPTH);
	pqt_writer_reset(&w);
	assert_int_equal(pqt_writer_error(&w), PQT_OK);
	pqt_write_i8(&w, 1);
	assert_int_equal(w.len, 1);
	pqt_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(ints_at_their_edges_round_trip),
	        cmocka_unit_test(zigzag_varints_have_the_specified_bytes),
	        cmocka_unit_test(struct_with_short_and_long_field_headers_is_byte_exact),
	        cmocka_unit_test(lists_of_3_and_20_use_short_and_long_headers),
	        cmocka_unit_test(binary_bools_and_maps_round_trip),
	        cmocka_unit_test(page_headers_of_every_kind_round_trip),
	        cmocka_unit_test(minimal_headers_round_trip_and_is_compressed_defaults_to_true),
	        cmocka_unit_test(unknown_fields_of_every_type_are_skipped),
	        cmocka_unit_test(missing_required_fields_are_named),
	        cmocka_unit_test(every_truncation_is_an_error),
	        cmocka_unit_test(bit_flips_never_read_out_of_bounds),
	        cmocka_unit_test(absurd_lengths_and_counts_are_refused_before_use),
	        cmocka_unit_test(overlong_varints_are_refused),
	        cmocka_unit_test(nesting_deeper_than_the_limit_is_refused),
	        cmocka_unit_test(a_writer_error_is_sticky),
	};

	return cmocka_run_group_tests_name("parquet_thrift", tests, NULL, NULL);
}
