/* Unit tests for the Parquet footer codec (src/parquet/metadata.c): a full
 * FileMetaData shaped like minidb's (key, value, expires_at) round trips,
 * logical types are byte-exact, a real footer written by DuckDB decodes and
 * re-encodes to the same bytes, unknown fields and union members are
 * skipped, and hostile input (every truncation, bit flips, lying counts,
 * missing required fields) fails cleanly. Run under ASan/LSan to catch
 * out-of-bounds reads and leaks on the error paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parquet/metadata.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static pqt_bin B(const char *s)
{
	pqt_bin b = {(const uint8_t *)s, (uint32_t)strlen(s)};
	return b;
}

static void assert_bin(pqt_bin b, const char *s)
{
	assert_int_equal(b.len, strlen(s));
	if (b.len)
		assert_memory_equal(b.ptr, s, b.len);
}

/* Copies the writer's bytes into a malloc'd block of exactly len bytes, so
 * that ASan sees any read past the end. */
static uint8_t *exact_copy(const pqt_writer *w)
{
	uint8_t *p = malloc(w->len ? w->len : 1);

	assert_non_null(p);
	memcpy(p, w->data, w->len);
	return p;
}

static int decode(const uint8_t *buf, size_t len, pq_file_metadata *md, const char **missing)
{
	pqt_reader r;

	pqt_reader_init(&r, buf, len);
	int rc = pq_file_metadata_decode(&r, md);
	if (missing)
		*missing = r.missing;
	if (rc == PQT_OK)
		assert_int_equal(pqt_reader_pos(&r), len);
	return rc;
}

static void assert_zeroed(const pq_file_metadata *md)
{
	static const pq_file_metadata zero;

	assert_memory_equal(md, &zero, sizeof(zero));
}

/* ---- A footer shaped like minidb's ---- */

struct sample {
	pq_schema_element schema[4];
	pq_row_group rg[2];
	pq_column_chunk cols[2][3];
	int32_t encodings[2];
	pqt_bin paths[3];
	pq_key_value kv[2];
	pq_key_value col_kv[1];
	pq_file_metadata md;
};

static void sample_build(struct sample *s)
{
	static const char *const names[] = {"key", "value", "expires_at"};
	static const uint8_t ts_min[8] = {0x10, 0x27, 0, 0, 0, 0, 0, 0};
	static const uint8_t ts_max[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};

	memset(s, 0, sizeof(*s));
	s->schema[0].name = B("minidb");
	s->schema[0].has_num_children = true;
	s->schema[0].num_children = 3;

	s->schema[1] = (pq_schema_element){.has_type = true,
	                                   .type = PQ_BYTE_ARRAY,
	                                   .has_repetition_type = true,
	                                   .repetition_type = PQ_REQUIRED,
	                                   .name = B("key"),
	                                   .has_converted_type = true,
	                                   .converted_type = PQ_CT_UTF8,
	                                   .has_logical_type = true,
	                                   .logical_type = {.kind = PQ_LT_STRING}};
	s->schema[2] = (pq_schema_element){.has_type = true,
	                                   .type = PQ_BYTE_ARRAY,
	                                   .has_repetition_type = true,
	                                   .repetition_type = PQ_REQUIRED,
	                                   .name = B("value"),
	                                   .has_field_id = true,
	                                   .field_id = 7};
	s->schema[3] = (pq_schema_element){.has_type = true,
	                                   .type = PQ_INT64,
	                                   .has_repetition_type = true,
	                                   .repetition_type = PQ_OPTIONAL,
	                                   .name = B("expires_at"),
	                                   .has_converted_type = true,
	                                   .converted_type = PQ_CT_TIMESTAMP_MILLIS,
	                                   .has_logical_type = true,
	                                   .logical_type = {.kind = PQ_LT_TIMESTAMP,
	                                                    .is_adjusted_to_utc = true,
	                                                    .unit = PQ_UNIT_MILLIS}};

	s->encodings[0] = PQ_ENC_PLAIN;
	s->encodings[1] = PQ_ENC_RLE;
	for (int c = 0; c < 3; c++)
		s->paths[c] = B(names[c]);
	s->col_kv[0] = (pq_key_value){.key = B("col.note"), .has_value = false};

	int64_t offset = 4;
	for (int g = 0; g < 2; g++) {
		for (int c = 0; c < 3; c++) {
			pq_column_chunk *cc = &s->cols[g][c];
			pq_column_meta_data *m = &cc->meta_data;
			cc->file_offset = 0;
			cc->has_meta_data = true;
			m->type = s->schema[c + 1].type;
			m->num_encodings = 2;
			m->encodings = s->encodings;
			m->num_path = 1;
			m->path_in_schema = &s->paths[c];
			m->codec = c == 1 ? PQ_CODEC_ZSTD : PQ_CODEC_UNCOMPRESSED;
			m->num_values = 1000 + g;
			m->total_uncompressed_size = 5000 + 100 * c;
			m->total_compressed_size = 4000 + 100 * c;
			m->data_page_offset = offset;
			offset += m->total_compressed_size;
			m->has_statistics = true;
			m->statistics.has_null_count = true;
			m->statistics.null_count = c == 2 ? 17 : 0;
			if (c == 0) {
				m->statistics.has_min_value = m->statistics.has_max_value = true;
				m->statistics.min_value = B("aaa");
				m->statistics.max_value = B("zzz");
				m->num_key_value = 1;
				m->key_value_metadata = s->col_kv;
			} else if (c == 2) {
				m->statistics.has_min_value = m->statistics.has_max_value = true;
				m->statistics.min_value = (pqt_bin){ts_min, 8};
				m->statistics.max_value = (pqt_bin){ts_max, 8};
				m->statistics.has_is_min_value_exact = true;
				m->statistics.is_min_value_exact = true;
				m->has_dictionary_page_offset = true;
				m->dictionary_page_offset = m->data_page_offset - 1;
			}
			if (g == 1 && c == 1) {
				cc->has_offset_index = cc->has_column_index = true;
				cc->offset_index_offset = 90000;
				cc->offset_index_length = 33;
				cc->column_index_offset = 91000;
				cc->column_index_length = 44;
			}
		}
		pq_row_group *rg = &s->rg[g];
		rg->num_columns = 3;
		rg->columns = s->cols[g];
		rg->total_byte_size = 15300;
		rg->num_rows = 1000 + g;
		rg->has_file_offset = true;
		rg->file_offset = rg->columns[0].meta_data.data_page_offset;
		rg->has_total_compressed_size = true;
		rg->total_compressed_size = 12300;
		rg->has_ordinal = true;
		rg->ordinal = (int16_t)g;
	}

	s->kv[0] = (pq_key_value){.key = B("minidb.version"), .has_value = true, .value = B("1")};
	s->kv[1] = (pq_key_value){.key = B("empty"), .has_value = true, .value = B("")};

	s->md.version = 2;
	s->md.num_schema = 4;
	s->md.schema = s->schema;
	s->md.num_rows = 2001;
	s->md.num_row_groups = 2;
	s->md.row_groups = s->rg;
	s->md.num_key_value = 2;
	s->md.key_value_metadata = s->kv;
	s->md.has_created_by = true;
	s->md.created_by = B("minidb version 0.1 (build test)");
	s->md.num_column_orders = 3;
}

/* The sample, encoded, in an exact-size malloc'd block. */
static uint8_t *sample_encoded(size_t *len)
{
	struct sample s;
	pqt_writer w;

	sample_build(&s);
	pqt_writer_init(&w);
	assert_int_equal(pq_file_metadata_encode(&w, &s.md), PQT_OK);
	uint8_t *p = exact_copy(&w);
	*len = w.len;
	pqt_writer_free(&w);
	return p;
}

static void assert_stats_equal(const pq_statistics *a, const pq_statistics *b)
{
	assert_int_equal(a->has_null_count, b->has_null_count);
	assert_true(a->null_count == b->null_count);
	assert_int_equal(a->has_min_value, b->has_min_value);
	assert_int_equal(a->has_max_value, b->has_max_value);
	if (a->has_min_value) {
		assert_int_equal(a->min_value.len, b->min_value.len);
		assert_memory_equal(a->min_value.ptr, b->min_value.ptr, a->min_value.len);
		assert_int_equal(a->max_value.len, b->max_value.len);
		assert_memory_equal(a->max_value.ptr, b->max_value.ptr, a->max_value.len);
	}
	assert_int_equal(a->has_is_min_value_exact, b->has_is_min_value_exact);
	assert_int_equal(a->is_min_value_exact, b->is_min_value_exact);
	assert_int_equal(a->has_max, b->has_max);
	assert_int_equal(a->has_min, b->has_min);
}

static void a_minidb_footer_round_trips_field_by_field_and_byte_for_byte(void **state)
{
	struct sample s;
	pq_file_metadata md;
	size_t len;
	uint8_t *buf = sample_encoded(&len);

	sample_build(&s);
	assert_int_equal(decode(buf, len, &md, NULL), PQT_OK);
	assert_int_equal(md.version, 2);
	assert_true(md.num_rows == 2001);
	assert_int_equal(md.num_schema, 4);
	for (uint32_t i = 0; i < 4; i++) {
		const pq_schema_element *a = &md.schema[i], *b = &s.schema[i];
		assert_bin(a->name, (const char *)b->name.ptr);
		assert_int_equal(a->has_type, b->has_type);
		assert_int_equal(a->type, b->type);
		assert_int_equal(a->has_repetition_type, b->has_repetition_type);
		assert_int_equal(a->repetition_type, b->repetition_type);
		assert_int_equal(a->has_num_children, b->has_num_children);
		assert_int_equal(a->num_children, b->num_children);
		assert_int_equal(a->has_converted_type, b->has_converted_type);
		assert_int_equal(a->converted_type, b->converted_type);
		assert_int_equal(a->has_field_id, b->has_field_id);
		assert_int_equal(a->field_id, b->field_id);
		assert_int_equal(a->has_type_length, false);
		assert_int_equal(a->has_logical_type, b->has_logical_type);
		assert_int_equal(a->logical_type.kind, b->logical_type.kind);
		assert_int_equal(a->logical_type.unit, b->logical_type.unit);
		assert_int_equal(a->logical_type.is_adjusted_to_utc,
		                 b->logical_type.is_adjusted_to_utc);
	}
	assert_int_equal(md.num_row_groups, 2);
	for (uint32_t g = 0; g < 2; g++) {
		const pq_row_group *a = &md.row_groups[g], *b = &s.rg[g];
		assert_int_equal(a->num_columns, 3);
		assert_true(a->total_byte_size == b->total_byte_size);
		assert_true(a->num_rows == b->num_rows);
		assert_true(a->has_file_offset && a->file_offset == b->file_offset);
		assert_true(a->has_total_compressed_size &&
		            a->total_compressed_size == b->total_compressed_size);
		assert_true(a->has_ordinal && a->ordinal == b->ordinal);
		for (uint32_t c = 0; c < 3; c++) {
			const pq_column_chunk *ca = &a->columns[c], *cb = &b->columns[c];
			const pq_column_meta_data *ma = &ca->meta_data, *mb = &cb->meta_data;
			assert_false(ca->has_file_path);
			assert_false(ca->encrypted);
			assert_true(ca->file_offset == 0);
			assert_true(ca->has_meta_data);
			assert_int_equal(ca->has_offset_index, cb->has_offset_index);
			assert_int_equal(ca->has_column_index, cb->has_column_index);
			assert_true(ca->offset_index_offset == cb->offset_index_offset);
			assert_int_equal(ca->offset_index_length, cb->offset_index_length);
			assert_true(ca->column_index_offset == cb->column_index_offset);
			assert_int_equal(ca->column_index_length, cb->column_index_length);
			assert_int_equal(ma->type, mb->type);
			assert_int_equal(ma->num_encodings, 2);
			assert_int_equal(ma->encodings[0], PQ_ENC_PLAIN);
			assert_int_equal(ma->encodings[1], PQ_ENC_RLE);
			assert_int_equal(ma->num_path, 1);
			assert_bin(ma->path_in_schema[0], (const char *)mb->path_in_schema[0].ptr);
			assert_int_equal(ma->codec, mb->codec);
			assert_true(ma->num_values == mb->num_values);
			assert_true(ma->total_uncompressed_size == mb->total_uncompressed_size);
			assert_true(ma->total_compressed_size == mb->total_compressed_size);
			assert_true(ma->data_page_offset == mb->data_page_offset);
			assert_int_equal(ma->has_dictionary_page_offset,
			                 mb->has_dictionary_page_offset);
			assert_true(ma->dictionary_page_offset == mb->dictionary_page_offset);
			assert_false(ma->has_index_page_offset);
			assert_int_equal(ma->num_key_value, mb->num_key_value);
			if (ma->num_key_value) {
				assert_bin(ma->key_value_metadata[0].key, "col.note");
				assert_false(ma->key_value_metadata[0].has_value);
			}
			assert_true(ma->has_statistics);
			assert_stats_equal(&ma->statistics, &mb->statistics);
		}
	}
	assert_int_equal(md.num_key_value, 2);
	assert_bin(md.key_value_metadata[0].key, "minidb.version");
	assert_true(md.key_value_metadata[0].has_value);
	assert_bin(md.key_value_metadata[0].value, "1");
	assert_true(md.key_value_metadata[1].has_value);
	assert_bin(md.key_value_metadata[1].value, "");
	assert_true(md.has_created_by);
	assert_bin(md.created_by, "minidb version 0.1 (build test)");
	assert_int_equal(md.num_column_orders, 3);
	assert_false(md.encrypted);

	/* What was decoded encodes to the very same bytes. */
	pqt_writer w;
	pqt_writer_init(&w);
	assert_int_equal(pq_file_metadata_encode(&w, &md), PQT_OK);
	assert_int_equal(w.len, len);
	assert_memory_equal(w.data, buf, len);
	pqt_writer_free(&w);

	pq_file_metadata_free(&md);
	assert_zeroed(&md);
	pq_file_metadata_free(&md); /* idempotent on a zeroed struct */
	free(buf);
}

/* Logical types alone, byte by byte: what DuckDB and parquet-java expect. */
static void logical_types_are_byte_exact(void **state)
{
	static const struct {
		pq_logical_type lt;
		uint8_t want[12];
		size_t len;
	} cases[] = {
	        /* {1: {}} */
	        {{.kind = PQ_LT_STRING}, {0x1c, 0x00, 0x00}, 3},
	        /* {8: {1: true, 2: {1: {}}}} */
	        {{.kind = PQ_LT_TIMESTAMP, .is_adjusted_to_utc = true, .unit = PQ_UNIT_MILLIS},
	         {0x8c, 0x11, 0x1c, 0x1c, 0x00, 0x00, 0x00, 0x00},
	         8},
	        /* {7: {1: false, 2: {3: {}}}} */
	        {{.kind = PQ_LT_TIME, .unit = PQ_UNIT_NANOS},
	         {0x7c, 0x12, 0x1c, 0x3c, 0x00, 0x00, 0x00, 0x00},
	         8},
	        /* {5: {1: 2, 2: 10}} */
	        {{.kind = PQ_LT_DECIMAL, .scale = 2, .precision = 10},
	         {0x5c, 0x15, 0x04, 0x15, 0x14, 0x00, 0x00},
	         7},
	        /* {10: {1: i8 16, 2: false}} */
	        {{.kind = PQ_LT_INTEGER, .bit_width = 16, .is_signed = false},
	         {0xac, 0x13, 0x10, 0x12, 0x00, 0x00},
	         6},
	        /* {14: {}} */
	        {{.kind = PQ_LT_UUID}, {0xec, 0x00, 0x00}, 3},
	        /* {16: {}}: a member newer than the codec, kept by id */
	        {{.kind = 16}, {0x0c, 0x20, 0x00, 0x00}, 4},
	};
	pqt_writer w;

	pqt_writer_init(&w);
	for (size_t i = 0; i < COUNT(cases); i++) {
		pqt_writer_reset(&w);
		assert_int_equal(pq_logical_type_encode(&w, &cases[i].lt), PQT_OK);
		assert_int_equal(w.len, cases[i].len);
		assert_memory_equal(w.data, cases[i].want, cases[i].len);
	}
	/* An empty union, or a time without a unit, cannot be written. */
	pq_logical_type none = {.kind = PQ_LT_NONE};
	pqt_writer_reset(&w);
	assert_int_equal(pq_logical_type_encode(&w, &none), PQT_BAD_VALUE);
	pq_logical_type no_unit = {.kind = PQ_LT_TIMESTAMP};
	pqt_writer_reset(&w);
	assert_int_equal(pq_logical_type_encode(&w, &no_unit), PQT_BAD_VALUE);
	pqt_writer_free(&w);
}

/* Every logical type kind survives a trip through a schema element. */
static void every_logical_type_round_trips_in_a_schema(void **state)
{
	static const pq_logical_type lts[] = {
	        {.kind = PQ_LT_STRING},
	        {.kind = PQ_LT_MAP},
	        {.kind = PQ_LT_LIST},
	        {.kind = PQ_LT_ENUM},
	        {.kind = PQ_LT_DECIMAL, .scale = 3, .precision = 18},
	        {.kind = PQ_LT_DATE},
	        {.kind = PQ_LT_TIME, .is_adjusted_to_utc = true, .unit = PQ_UNIT_MICROS},
	        {.kind = PQ_LT_TIMESTAMP, .unit = PQ_UNIT_NANOS},
	        {.kind = PQ_LT_INTEGER, .bit_width = 64, .is_signed = true},
	        {.kind = PQ_LT_INTEGER, .bit_width = -128, .is_signed = false},
	        {.kind = PQ_LT_UNKNOWN},
	        {.kind = PQ_LT_JSON},
	        {.kind = PQ_LT_BSON},
	        {.kind = PQ_LT_UUID},
	        {.kind = PQ_LT_FLOAT16},
	        {.kind = 17},
	};
	pq_schema_element schema[COUNT(lts) + 1];
	pq_file_metadata md = {.version = 1, .num_schema = COUNT(lts) + 1, .schema = schema};
	pq_file_metadata out;
	pqt_writer w;

	memset(schema, 0, sizeof(schema));
	schema[0].name = B("root");
	for (size_t i = 0; i < COUNT(lts); i++) {
		schema[i + 1].name = B("c");
		schema[i + 1].has_logical_type = true;
		schema[i + 1].logical_type = lts[i];
		schema[i + 1].has_type_length = true;
		schema[i + 1].type_length = (int32_t)i;
		schema[i + 1].has_scale = schema[i + 1].has_precision = true;
		schema[i + 1].scale = -1;
		schema[i + 1].precision = INT32_MAX;
	}
	pqt_writer_init(&w);
	assert_int_equal(pq_file_metadata_encode(&w, &md), PQT_OK);
	uint8_t *buf = exact_copy(&w);
	assert_int_equal(decode(buf, w.len, &out, NULL), PQT_OK);
	assert_int_equal(out.num_schema, COUNT(lts) + 1);
	assert_int_equal(out.num_row_groups, 0);
	assert_null(out.row_groups);
	assert_int_equal(out.num_column_orders, 0);
	assert_false(out.has_created_by);
	for (size_t i = 0; i < COUNT(lts); i++) {
		const pq_schema_element *e = &out.schema[i + 1];
		assert_true(e->has_logical_type);
		assert_memory_equal(&e->logical_type, &lts[i], sizeof(lts[i]));
		assert_true(e->has_type_length && e->type_length == (int32_t)i);
		assert_true(e->has_scale && e->scale == -1);
		assert_true(e->has_precision && e->precision == INT32_MAX);
		assert_false(e->has_type);
	}
	pq_file_metadata_free(&out);
	free(buf);
	pqt_writer_free(&w);
}

/* ---- Unknown fields ---- */

/* An unknown field of every awkward shape: a struct holding a list of
 * structs and a map. */
static void write_junk_field(pqt_writer *w, int16_t id)
{
	pqt_write_field(w, id, PQT_STRUCT);
	pqt_write_struct_begin(w);
	pqt_write_field(w, 1, PQT_LIST);
	pqt_write_list_begin(w, PQT_STRUCT, 2);
	for (int i = 0; i < 2; i++) {
		pqt_write_struct_begin(w);
		pqt_write_field_bool(w, 3, true);
		pqt_write_struct_end(w);
	}
	pqt_write_field(w, 2, PQT_MAP);
	pqt_write_map_begin(w, PQT_BINARY, PQT_I64, 1);
	pqt_write_string(w, "k");
	pqt_write_i64(w, 5);
	pqt_write_struct_end(w);
}

static void unknown_fields_and_union_members_are_skipped(void **state)
{
	pqt_writer w;
	pq_file_metadata md;

	pqt_writer_init(&w);
	pqt_write_struct_begin(&w); /* FileMetaData */
	write_junk_field(&w, 100);
	pqt_write_field(&w, 1, PQT_I32);
	pqt_write_i32(&w, 1);
	pqt_write_field(&w, 2, PQT_LIST);
	pqt_write_list_begin(&w, PQT_STRUCT, 3);
	{
		pqt_write_struct_begin(&w); /* root */
		pqt_write_field(&w, 4, PQT_BINARY);
		pqt_write_string(&w, "root");
		write_junk_field(&w, 11);
		pqt_write_field(&w, 5, PQT_I32);
		pqt_write_i32(&w, 2);
		pqt_write_struct_end(&w);

		pqt_write_struct_begin(&w); /* logical type member 16 (VARIANT) */
		pqt_write_field(&w, 4, PQT_BINARY);
		pqt_write_string(&w, "v");
		pqt_write_field(&w, 10, PQT_STRUCT);
		pqt_write_struct_begin(&w);
		pqt_write_field(&w, 16, PQT_STRUCT);
		pqt_write_struct_begin(&w);
		pqt_write_field(&w, 1, PQT_I8);
		pqt_write_i8(&w, 1);
		pqt_write_struct_end(&w);
		pqt_write_struct_end(&w);
		pqt_write_struct_end(&w);

		pqt_write_struct_begin(&w); /* TIMESTAMP with TimeUnit member 4 */
		pqt_write_field(&w, 4, PQT_BINARY);
		pqt_write_string(&w, "t");
		pqt_write_field(&w, 1, PQT_BINARY); /* known id, wrong type */
		pqt_write_string(&w, "not an i32");
		pqt_write_field(&w, 10, PQT_STRUCT);
		pqt_write_struct_begin(&w);
		pqt_write_field(&w, 8, PQT_STRUCT);
		pqt_write_struct_begin(&w);
		pqt_write_field_bool(&w, 1, true);
		pqt_write_field(&w, 2, PQT_STRUCT);
		pqt_write_struct_begin(&w);
		pqt_write_field(&w, 4, PQT_STRUCT);
		pqt_write_struct_begin(&w);
		pqt_write_struct_end(&w);
		pqt_write_struct_end(&w);
		write_junk_field(&w, 3);
		pqt_write_struct_end(&w);
		pqt_write_struct_end(&w);
		pqt_write_struct_end(&w);
	}
	pqt_write_field(&w, 3, PQT_I64);
	pqt_write_i64(&w, 0);
	pqt_write_field(&w, 4, PQT_LIST);
	pqt_write_list_begin(&w, PQT_STRUCT, 1);
	{
		pqt_write_struct_begin(&w); /* RowGroup */
		pqt_write_field(&w, 1, PQT_LIST);
		pqt_write_list_begin(&w, PQT_STRUCT, 1);
		{
			pqt_write_struct_begin(&w); /* ColumnChunk */
			pqt_write_field(&w, 2, PQT_I64);
			pqt_write_i64(&w, 0);
			pqt_write_field(&w, 3, PQT_STRUCT);
			pqt_write_struct_begin(&w); /* ColumnMetaData */
			pqt_write_field(&w, 1, PQT_I32);
			pqt_write_i32(&w, PQ_INT64);
			pqt_write_field(&w, 2, PQT_LIST);
			pqt_write_list_begin(&w, PQT_I32, 1);
			pqt_write_i32(&w, 42); /* an encoding from the future */
			pqt_write_field(&w, 3, PQT_LIST);
			pqt_write_list_begin(&w, PQT_BINARY, 2);
			pqt_write_string(&w, "a");
			pqt_write_string(&w, "b");
			pqt_write_field(&w, 4, PQT_I32);
			pqt_write_i32(&w, 99);
			for (int16_t f = 5; f <= 7; f++) {
				pqt_write_field(&w, f, PQT_I64);
				pqt_write_i64(&w, f);
			}
			pqt_write_field(&w, 9, PQT_I64);
			pqt_write_i64(&w, 4);
			write_junk_field(&w, 13); /* encoding_stats, in another shape */
			pqt_write_field(&w, 14, PQT_I64);
			pqt_write_i64(&w, 1234);
			pqt_write_field(&w, 15, PQT_I32);
			pqt_write_i32(&w, 10);
			write_junk_field(&w, 16);
			pqt_write_struct_end(&w);
			pqt_write_field(&w, 5, PQT_I32); /* length without offset */
			pqt_write_i32(&w, 3);
			pqt_write_struct_end(&w);
		}
		pqt_write_field(&w, 2, PQT_I64);
		pqt_write_i64(&w, 10);
		pqt_write_field(&w, 3, PQT_I64);
		pqt_write_i64(&w, 0);
		pqt_write_field(&w, 4, PQT_LIST); /* sorting_columns */
		pqt_write_list_begin(&w, PQT_STRUCT, 1);
		pqt_write_struct_begin(&w);
		pqt_write_field(&w, 1, PQT_I32);
		pqt_write_i32(&w, 0);
		pqt_write_field_bool(&w, 2, false);
		pqt_write_field_bool(&w, 3, true);
		pqt_write_struct_end(&w);
		pqt_write_struct_end(&w);
	}
	pqt_write_field(&w, 7, PQT_LIST); /* column orders: TYPE_ORDER, IEEE, empty */
	pqt_write_list_begin(&w, PQT_STRUCT, 4);
	for (int16_t member = 0; member < 4; member++) {
		pqt_write_struct_begin(&w);
		if (member == 1 || member == 2) {
			pqt_write_field(&w, member, PQT_STRUCT);
			pqt_write_struct_begin(&w);
			pqt_write_struct_end(&w);
		} else if (member == 3) {
			pqt_write_field(&w, 1, PQT_I32); /* TYPE_ORDER id, wrong type */
			pqt_write_i32(&w, 1);
		}
		pqt_write_struct_end(&w);
	}
	pqt_write_field(&w, 9, PQT_BINARY); /* footer_signing_key_metadata */
	pqt_write_string(&w, "key");
	write_junk_field(&w, 300);
	pqt_write_struct_end(&w);
	assert_int_equal(pqt_writer_error(&w), PQT_OK);

	uint8_t *buf = exact_copy(&w);
	assert_int_equal(decode(buf, w.len, &md, NULL), PQT_OK);
	assert_int_equal(md.version, 1);
	assert_int_equal(md.num_schema, 3);
	assert_bin(md.schema[0].name, "root");
	assert_true(md.schema[0].has_num_children && md.schema[0].num_children == 2);
	assert_true(md.schema[1].has_logical_type);
	assert_int_equal(md.schema[1].logical_type.kind, 16);
	assert_false(md.schema[2].has_type);
	assert_int_equal(md.schema[2].logical_type.kind, PQ_LT_TIMESTAMP);
	assert_true(md.schema[2].logical_type.is_adjusted_to_utc);
	assert_int_equal(md.schema[2].logical_type.unit, 4);
	assert_int_equal(md.num_row_groups, 1);
	const pq_row_group *rg = &md.row_groups[0];
	assert_true(rg->total_byte_size == 10);
	assert_false(rg->has_file_offset || rg->has_ordinal || rg->has_total_compressed_size);
	assert_int_equal(rg->num_columns, 1);
	const pq_column_chunk *c = &rg->columns[0];
	assert_false(c->has_offset_index);
	assert_true(c->has_meta_data);
	assert_int_equal(c->meta_data.encodings[0], 42);
	assert_int_equal(c->meta_data.codec, 99);
	assert_int_equal(c->meta_data.num_path, 2);
	assert_bin(c->meta_data.path_in_schema[1], "b");
	assert_true(c->meta_data.total_compressed_size == 7);
	assert_false(c->meta_data.has_statistics);
	assert_int_equal(md.num_column_orders, 1);
	assert_false(md.encrypted);
	pq_file_metadata_free(&md);
	free(buf);
	pqt_writer_free(&w);
}

/* A field repeated replaces the first one without leaking its lists. */
static void a_repeated_list_field_replaces_the_first_without_leaking(void **state)
{
	pqt_writer w;
	pq_file_metadata md;

	pqt_writer_init(&w);
	pqt_write_struct_begin(&w);
	pqt_write_field(&w, 1, PQT_I32);
	pqt_write_i32(&w, 1);
	for (int rep = 0; rep < 2; rep++) {
		pqt_write_field(&w, 2, PQT_LIST);
		pqt_write_list_begin(&w, PQT_STRUCT, 1);
		pqt_write_struct_begin(&w);
		pqt_write_field(&w, 4, PQT_BINARY);
		pqt_write_string(&w, rep ? "second" : "first");
		pqt_write_struct_end(&w);
		pqt_write_field(&w, 3, PQT_I64);
		pqt_write_i64(&w, rep);
		pqt_write_field(&w, 4, PQT_LIST);
		pqt_write_list_begin(&w, PQT_STRUCT, 1);
		{
			pqt_write_struct_begin(&w);
			pqt_write_field(&w, 1, PQT_LIST);
			pqt_write_list_begin(&w, PQT_STRUCT, 1);
			pqt_write_struct_begin(&w);
			pqt_write_field(&w, 2, PQT_I64);
			pqt_write_i64(&w, 0);
			for (int m = 0; m < 2; m++) { /* meta_data twice */
				pqt_write_field(&w, 3, PQT_STRUCT);
				pqt_write_struct_begin(&w);
				pqt_write_field(&w, 1, PQT_I32);
				pqt_write_i32(&w, m);
				pqt_write_field(&w, 2, PQT_LIST);
				pqt_write_list_begin(&w, PQT_I32, 1);
				pqt_write_i32(&w, 0);
				pqt_write_field(&w, 3, PQT_LIST);
				pqt_write_list_begin(&w, PQT_BINARY, 1);
				pqt_write_string(&w, "x");
				pqt_write_field(&w, 4, PQT_I32);
				pqt_write_i32(&w, 0);
				for (int16_t f = 5; f <= 7; f++) {
					pqt_write_field(&w, f, PQT_I64);
					pqt_write_i64(&w, 1);
				}
				pqt_write_field(&w, 8, PQT_LIST);
				pqt_write_list_begin(&w, PQT_STRUCT, 1);
				pqt_write_struct_begin(&w);
				pqt_write_field(&w, 1, PQT_BINARY);
				pqt_write_string(&w, "k");
				pqt_write_struct_end(&w);
				pqt_write_field(&w, 9, PQT_I64);
				pqt_write_i64(&w, 4);
				pqt_write_struct_end(&w);
			}
			pqt_write_struct_end(&w);
			pqt_write_field(&w, 2, PQT_I64);
			pqt_write_i64(&w, 1);
			pqt_write_field(&w, 3, PQT_I64);
			pqt_write_i64(&w, 1);
			pqt_write_struct_end(&w);
		}
		pqt_write_field(&w, 5, PQT_LIST);
		pqt_write_list_begin(&w, PQT_STRUCT, 1);
		pqt_write_struct_begin(&w);
		pqt_write_field(&w, 1, PQT_BINARY);
		pqt_write_string(&w, rep ? "k2" : "k1");
		pqt_write_struct_end(&w);
	}
	pqt_write_struct_end(&w);
	assert_int_equal(pqt_writer_error(&w), PQT_OK);

	uint8_t *buf = exact_copy(&w);
	assert_int_equal(decode(buf, w.len, &md, NULL), PQT_OK);
	assert_int_equal(md.num_schema, 1);
	assert_bin(md.schema[0].name, "second");
	assert_true(md.num_rows == 1);
	assert_int_equal(md.num_row_groups, 1);
	assert_int_equal(md.row_groups[0].columns[0].meta_data.type, 1);
	assert_int_equal(md.row_groups[0].columns[0].meta_data.num_key_value, 1);
	assert_int_equal(md.num_key_value, 1);
	assert_bin(md.key_value_metadata[0].key, "k2");
	pq_file_metadata_free(&md);
	free(buf);
	pqt_writer_free(&w);
}

/* ---- Required fields ---- */

/* Which required field write_minimal leaves out. */
enum omit {
	OMIT_NOTHING,
	OMIT_VERSION,
	OMIT_SCHEMA,
	OMIT_NUM_ROWS,
	OMIT_ROW_GROUPS,
	OMIT_SCHEMA_NAME,
	OMIT_RG_COLUMNS,
	OMIT_RG_TOTAL_BYTE_SIZE,
	OMIT_RG_NUM_ROWS,
	OMIT_CC_FILE_OFFSET,
	OMIT_CMD_TYPE, /* ColumnMetaData ids 1..7 and 9 follow in order */
	OMIT_CMD_ENCODINGS,
	OMIT_CMD_PATH,
	OMIT_CMD_CODEC,
	OMIT_CMD_NUM_VALUES,
	OMIT_CMD_UNCOMPRESSED,
	OMIT_CMD_COMPRESSED,
	OMIT_CMD_DATA_PAGE_OFFSET,
	OMIT_KV_KEY,
	OMIT_TS_UTC,
	OMIT_TS_UNIT,
	OMIT_INT_BIT_WIDTH,
	OMIT_INT_SIGNED,
	OMIT_DECIMAL_SCALE,
	OMIT_DECIMAL_PRECISION,
	OMIT_SCHEMA_AS_WRONG_LIST, /* list<i32> where list<SchemaElement> belongs */
	OMIT_COUNT
};

static void write_minimal(pqt_writer *w, enum omit o)
{
	pqt_write_struct_begin(w);
	if (o != OMIT_VERSION) {
		pqt_write_field(w, 1, PQT_I32);
		pqt_write_i32(w, 1);
	}
	if (o == OMIT_SCHEMA_AS_WRONG_LIST) {
		pqt_write_field(w, 2, PQT_LIST);
		pqt_write_list_begin(w, PQT_I32, 2);
		pqt_write_i32(w, 1);
		pqt_write_i32(w, 2);
	} else if (o != OMIT_SCHEMA) {
		pqt_write_field(w, 2, PQT_LIST);
		pqt_write_list_begin(w, PQT_STRUCT, 4);
		pqt_write_struct_begin(w);
		if (o != OMIT_SCHEMA_NAME) {
			pqt_write_field(w, 4, PQT_BINARY);
			pqt_write_string(w, "root");
		}
		pqt_write_struct_end(w);
		static const int16_t kinds[] = {PQ_LT_TIMESTAMP, PQ_LT_INTEGER};
		for (size_t k = 0; k < COUNT(kinds); k++) {
			int16_t kind = kinds[k];
			pqt_write_struct_begin(w);
			pqt_write_field(w, 4, PQT_BINARY);
			pqt_write_string(w, "c");
			pqt_write_field(w, 10, PQT_STRUCT);
			pqt_write_struct_begin(w);
			pqt_write_field(w, kind, PQT_STRUCT);
			pqt_write_struct_begin(w);
			if (kind == PQ_LT_TIMESTAMP) {
				if (o != OMIT_TS_UTC)
					pqt_write_field_bool(w, 1, false);
				if (o != OMIT_TS_UNIT) {
					pqt_write_field(w, 2, PQT_STRUCT);
					pqt_write_struct_begin(w);
					pqt_write_struct_end(w); /* empty union: allowed */
				}
			} else {
				if (o != OMIT_INT_BIT_WIDTH) {
					pqt_write_field(w, 1, PQT_I8);
					pqt_write_i8(w, 8);
				}
				if (o != OMIT_INT_SIGNED)
					pqt_write_field_bool(w, 2, true);
			}
			pqt_write_struct_end(w);
			pqt_write_struct_end(w);
			pqt_write_struct_end(w);
		}
		pqt_write_struct_begin(w);
		pqt_write_field(w, 4, PQT_BINARY);
		pqt_write_string(w, "d");
		pqt_write_field(w, 10, PQT_STRUCT);
		pqt_write_struct_begin(w);
		pqt_write_field(w, PQ_LT_DECIMAL, PQT_STRUCT);
		pqt_write_struct_begin(w);
		if (o != OMIT_DECIMAL_SCALE) {
			pqt_write_field(w, 1, PQT_I32);
			pqt_write_i32(w, 1);
		}
		if (o != OMIT_DECIMAL_PRECISION) {
			pqt_write_field(w, 2, PQT_I32);
			pqt_write_i32(w, 5);
		}
		pqt_write_struct_end(w);
		pqt_write_struct_end(w);
		pqt_write_struct_end(w);
	}
	if (o != OMIT_NUM_ROWS) {
		pqt_write_field(w, 3, PQT_I64);
		pqt_write_i64(w, 1);
	}
	if (o != OMIT_ROW_GROUPS) {
		pqt_write_field(w, 4, PQT_LIST);
		pqt_write_list_begin(w, PQT_STRUCT, 1);
		pqt_write_struct_begin(w);
		if (o != OMIT_RG_COLUMNS) {
			pqt_write_field(w, 1, PQT_LIST);
			pqt_write_list_begin(w, PQT_STRUCT, 1);
			pqt_write_struct_begin(w);
			if (o != OMIT_CC_FILE_OFFSET) {
				pqt_write_field(w, 2, PQT_I64);
				pqt_write_i64(w, 0);
			}
			pqt_write_field(w, 3, PQT_STRUCT);
			pqt_write_struct_begin(w);
			for (int16_t f = 1; f <= 9; f++) {
				if (f == 8 || (int)o == OMIT_CMD_TYPE + (f == 9 ? 7 : f - 1))
					continue;
				if (f == 2 || f == 3) {
					pqt_write_field(w, f, PQT_LIST);
					pqt_write_list_begin(w, f == 2 ? PQT_I32 : PQT_BINARY, 1);
					if (f == 2)
						pqt_write_i32(w, 0);
					else
						pqt_write_string(w, "c");
				} else if (f == 1 || f == 4) {
					pqt_write_field(w, f, PQT_I32);
					pqt_write_i32(w, 0);
				} else {
					pqt_write_field(w, f, PQT_I64);
					pqt_write_i64(w, 1);
				}
			}
			pqt_write_struct_end(w);
			pqt_write_struct_end(w);
		}
		if (o != OMIT_RG_TOTAL_BYTE_SIZE) {
			pqt_write_field(w, 2, PQT_I64);
			pqt_write_i64(w, 1);
		}
		if (o != OMIT_RG_NUM_ROWS) {
			pqt_write_field(w, 3, PQT_I64);
			pqt_write_i64(w, 1);
		}
		pqt_write_struct_end(w);
	}
	pqt_write_field(w, 5, PQT_LIST);
	pqt_write_list_begin(w, PQT_STRUCT, 1);
	pqt_write_struct_begin(w);
	if (o != OMIT_KV_KEY) {
		pqt_write_field(w, 1, PQT_BINARY);
		pqt_write_string(w, "k");
	}
	pqt_write_field(w, 2, PQT_BINARY);
	pqt_write_string(w, "v");
	pqt_write_struct_end(w);
	pqt_write_struct_end(w);
}

static void missing_required_fields_are_named(void **state)
{
	static const char *const want[OMIT_COUNT] = {
	        [OMIT_NOTHING] = NULL,
	        [OMIT_VERSION] = "FileMetaData.version",
	        [OMIT_SCHEMA] = "FileMetaData.schema",
	        [OMIT_NUM_ROWS] = "FileMetaData.num_rows",
	        [OMIT_ROW_GROUPS] = "FileMetaData.row_groups",
	        [OMIT_SCHEMA_NAME] = "SchemaElement.name",
	        [OMIT_RG_COLUMNS] = "RowGroup.columns",
	        [OMIT_RG_TOTAL_BYTE_SIZE] = "RowGroup.total_byte_size",
	        [OMIT_RG_NUM_ROWS] = "RowGroup.num_rows",
	        [OMIT_CC_FILE_OFFSET] = "ColumnChunk.file_offset",
	        [OMIT_CMD_TYPE] = "ColumnMetaData.type",
	        [OMIT_CMD_ENCODINGS] = "ColumnMetaData.encodings",
	        [OMIT_CMD_PATH] = "ColumnMetaData.path_in_schema",
	        [OMIT_CMD_CODEC] = "ColumnMetaData.codec",
	        [OMIT_CMD_NUM_VALUES] = "ColumnMetaData.num_values",
	        [OMIT_CMD_UNCOMPRESSED] = "ColumnMetaData.total_uncompressed_size",
	        [OMIT_CMD_COMPRESSED] = "ColumnMetaData.total_compressed_size",
	        [OMIT_CMD_DATA_PAGE_OFFSET] = "ColumnMetaData.data_page_offset",
	        [OMIT_KV_KEY] = "KeyValue.key",
	        [OMIT_TS_UTC] = "TimestampType.isAdjustedToUTC",
	        [OMIT_TS_UNIT] = "TimestampType.unit",
	        [OMIT_INT_BIT_WIDTH] = "IntType.bitWidth",
	        [OMIT_INT_SIGNED] = "IntType.isSigned",
	        [OMIT_DECIMAL_SCALE] = "DecimalType.scale",
	        [OMIT_DECIMAL_PRECISION] = "DecimalType.precision",
	        [OMIT_SCHEMA_AS_WRONG_LIST] = "FileMetaData.schema",
	};
	pqt_writer w;
	pq_file_metadata md;
	const char *missing;

	pqt_writer_init(&w);
	for (int o = 0; o < OMIT_COUNT; o++) {
		pqt_writer_reset(&w);
		write_minimal(&w, (enum omit)o);
		assert_int_equal(pqt_writer_error(&w), PQT_OK);
		uint8_t *buf = exact_copy(&w);
		int rc = decode(buf, w.len, &md, &missing);
		if (o == OMIT_NOTHING) {
			assert_int_equal(rc, PQT_OK);
			assert_int_equal(md.num_schema, 4);
			assert_int_equal(md.schema[1].logical_type.unit, PQ_UNIT_NONE);
			assert_int_equal(md.schema[2].logical_type.bit_width, 8);
			assert_int_equal(md.schema[3].logical_type.precision, 5);
			pq_file_metadata_free(&md);
		} else {
			if (rc != PQT_MISSING_FIELD || !missing || strcmp(missing, want[o]) != 0)
				fail_msg("omit %d: rc %d missing %s, want %s", o, rc,
				         missing ? missing : "(null)", want[o]);
			assert_zeroed(&md);
		}
		free(buf);
	}
	pqt_writer_free(&w);
}

/* ---- Hostile input ---- */

static void every_truncation_of_a_footer_fails_cleanly(void **state)
{
	size_t len;
	uint8_t *full = sample_encoded(&len);
	pq_file_metadata md;

	for (size_t n = 0; n < len; n++) {
		uint8_t *p = malloc(n ? n : 1);
		assert_non_null(p);
		memcpy(p, full, n);
		int rc = decode(p, n, &md, NULL);
		if (rc == PQT_OK)
			fail_msg("truncation to %zu of %zu bytes decoded", n, len);
		assert_zeroed(&md);
		free(p);
	}
	free(full);
}

static const uint8_t duckdb_footer[247];

/* Flips every bit of every byte of buf (a valid footer) and decodes. */
static void flip_every_bit(const uint8_t *full, size_t len)
{
	uint8_t *p = malloc(len);
	pq_file_metadata md;
	size_t ok = 0, failed = 0;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(p, full, len);
			p[i] ^= (uint8_t)(1u << bit);
			pqt_reader r;
			pqt_reader_init(&r, p, len);
			int rc = pq_file_metadata_decode(&r, &md);
			assert_true(pqt_reader_pos(&r) <= len);
			if (rc == PQT_OK) {
				ok++;
				pq_file_metadata_free(&md);
			} else {
				failed++;
				assert_zeroed(&md);
			}
		}
	}
	/* Both outcomes happen; all-failures would mean only byte 0 was tested. */
	assert_true(ok > 0);
	assert_true(failed > 0);
	free(p);
}

static void bit_flips_at_every_byte_never_crash_or_leak(void **state)
{
	size_t len;
	uint8_t *full = sample_encoded(&len);

	flip_every_bit(full, len);
	free(full);
	flip_every_bit(duckdb_footer, sizeof(duckdb_footer));
}

static void hostile_list_counts_are_refused_before_allocation(void **state)
{
	pq_file_metadata md;
	uint8_t buf[64];

	/* version 1; schema: list<struct> of 2^31-1 elements, 40 zero bytes. */
	memset(buf, 0, sizeof(buf));
	static const uint8_t head[] = {0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07};
	memcpy(buf, head, sizeof(head));
	assert_int_equal(decode(buf, sizeof(buf), &md, NULL), PQT_LENGTH);
	assert_zeroed(&md);

	/* A count the bytes left could hold at one byte each (stops), but not
	 * at the three a SchemaElement needs: refused before calloc. */
	static const uint8_t head2[] = {0x15, 0x02, 0x19, 0xfc, 0x32};
	memset(buf, 0, sizeof(buf));
	memcpy(buf, head2, sizeof(head2)); /* 50 elements, 59 bytes left */
	assert_int_equal(decode(buf, sizeof(buf), &md, NULL), PQT_LENGTH);
	assert_zeroed(&md);

	/* The same for row groups (six bytes each at least). */
	static const uint8_t head3[] = {0x15, 0x02, 0x19, 0x0c, 0x16, 0x00, 0x19, 0xfc, 0x14};
	memset(buf, 0, sizeof(buf));
	memcpy(buf, head3, sizeof(head3)); /* 20 row groups, 55 bytes left */
	assert_int_equal(decode(buf, sizeof(buf), &md, NULL), PQT_LENGTH);
	assert_zeroed(&md);

	/* Key/value list of a billion in a 12-byte input. */
	static const uint8_t head4[] = {0x15, 0x02, 0x49, 0xfc, 0x80, 0x94,
	                                0xeb, 0xdc, 0x03, 0x00, 0x00, 0x00};
	assert_int_equal(decode(head4, sizeof(head4), &md, NULL), PQT_LENGTH);
	assert_zeroed(&md);

	/* Empty lists are fine and allocate nothing. */
	static const uint8_t empty[] = {0x15, 0x02, 0x19, 0x0c, 0x16, 0x00, 0x19, 0x0c, 0x00};
	assert_int_equal(decode(empty, sizeof(empty), &md, NULL), PQT_OK);
	assert_null(md.schema);
	assert_null(md.row_groups);
	pq_file_metadata_free(&md);
}

/* ---- A footer written by DuckDB ---- */

/* Footer of COPY (SELECT * FROM (VALUES ('alpha', 1::BIGINT), ('beta', NULL),
 * ('gamma', 3)) t(name, n)) TO 'd.parquet' (FORMAT parquet, COMPRESSION zstd),
 * written by DuckDB v1.5.6 (@duckdb/node-api): the bytes between the data
 * pages and the trailing length + "PAR1". */
static const uint8_t duckdb_footer[247] = {
        0x15, 0x02, 0x19, 0x3c, 0x35, 0x00, 0x18, 0x0d, 0x64, 0x75, 0x63, 0x6b, 0x64, 0x62, 0x5f,
        0x73, 0x63, 0x68, 0x65, 0x6d, 0x61, 0x15, 0x04, 0x00, 0x15, 0x0c, 0x25, 0x02, 0x18, 0x04,
        0x6e, 0x61, 0x6d, 0x65, 0x25, 0x00, 0x00, 0x15, 0x04, 0x25, 0x02, 0x18, 0x01, 0x6e, 0x25,
        0x24, 0x00, 0x16, 0x06, 0x19, 0x1c, 0x19, 0x2c, 0x26, 0x00, 0x1c, 0x15, 0x0c, 0x19, 0x15,
        0x00, 0x19, 0x18, 0x04, 0x6e, 0x61, 0x6d, 0x65, 0x15, 0x0c, 0x16, 0x06, 0x16, 0x62, 0x16,
        0x74, 0x26, 0x08, 0x3c, 0x18, 0x05, 0x67, 0x61, 0x6d, 0x6d, 0x61, 0x18, 0x05, 0x61, 0x6c,
        0x70, 0x68, 0x61, 0x16, 0x00, 0x28, 0x05, 0x67, 0x61, 0x6d, 0x6d, 0x61, 0x18, 0x05, 0x61,
        0x6c, 0x70, 0x68, 0x61, 0x11, 0x11, 0x00, 0x00, 0x00, 0x26, 0x00, 0x1c, 0x15, 0x04, 0x19,
        0x15, 0x00, 0x19, 0x18, 0x01, 0x6e, 0x15, 0x0c, 0x16, 0x06, 0x16, 0x8c, 0x01, 0x16, 0x66,
        0x26, 0x7c, 0x3c, 0x18, 0x08, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x08,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x02, 0x28, 0x08, 0x03, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x11, 0x11, 0x00, 0x00, 0x00, 0x16, 0xee, 0x01, 0x16, 0x06, 0x26, 0x08, 0x16, 0xda, 0x01,
        0x00, 0x28, 0x28, 0x44, 0x75, 0x63, 0x6b, 0x44, 0x42, 0x20, 0x76, 0x65, 0x72, 0x73, 0x69,
        0x6f, 0x6e, 0x20, 0x76, 0x31, 0x2e, 0x35, 0x2e, 0x36, 0x20, 0x28, 0x62, 0x75, 0x69, 0x6c,
        0x64, 0x20, 0x30, 0x36, 0x39, 0x63, 0x63, 0x39, 0x66, 0x39, 0x62, 0x35, 0x29, 0x19, 0x2c,
        0x1c, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
};

static void a_duckdb_footer_decodes_and_reencodes_to_the_same_bytes(void **state)
{
	uint8_t *buf = malloc(sizeof(duckdb_footer));
	pq_file_metadata md;

	assert_non_null(buf);
	assert_int_equal(sizeof(duckdb_footer), 247);
	memcpy(buf, duckdb_footer, sizeof(duckdb_footer));
	assert_int_equal(decode(buf, sizeof(duckdb_footer), &md, NULL), PQT_OK);

	assert_int_equal(md.version, 1);
	assert_true(md.num_rows == 3);
	assert_int_equal(md.num_schema, 3);
	assert_bin(md.schema[0].name, "duckdb_schema");
	assert_true(md.schema[0].has_num_children && md.schema[0].num_children == 2);
	assert_false(md.schema[0].has_type);
	assert_bin(md.schema[1].name, "name");
	assert_string_equal(pq_type_name(md.schema[1].type), "BYTE_ARRAY");
	assert_string_equal(pq_repetition_name(md.schema[1].repetition_type), "OPTIONAL");
	assert_string_equal(pq_converted_type_name(md.schema[1].converted_type), "UTF8");
	assert_bin(md.schema[2].name, "n");
	assert_string_equal(pq_type_name(md.schema[2].type), "INT64");
	assert_string_equal(pq_converted_type_name(md.schema[2].converted_type), "INT_64");

	assert_int_equal(md.num_row_groups, 1);
	const pq_row_group *rg = &md.row_groups[0];
	assert_true(rg->num_rows == 3);
	assert_int_equal(rg->num_columns, 2);
	assert_true(rg->has_file_offset && rg->file_offset == 4);
	for (uint32_t c = 0; c < 2; c++) {
		const pq_column_meta_data *m = &rg->columns[c].meta_data;
		assert_true(rg->columns[c].has_meta_data);
		assert_string_equal(pq_codec_name(m->codec), "ZSTD");
		assert_int_equal(m->num_encodings, 1);
		assert_string_equal(pq_encoding_name(m->encodings[0]), "PLAIN");
		assert_int_equal(m->num_path, 1);
		assert_true(m->num_values == 3);
		assert_true(m->has_statistics);
		assert_true(m->statistics.has_null_count);
		assert_true(m->statistics.null_count == c);
	}
	const pq_statistics *st = &rg->columns[0].meta_data.statistics;
	assert_bin(rg->columns[0].meta_data.path_in_schema[0], "name");
	assert_bin(st->min_value, "alpha");
	assert_bin(st->max_value, "gamma");
	assert_true(st->is_max_value_exact && st->is_min_value_exact);
	assert_bin(rg->columns[1].meta_data.path_in_schema[0], "n");
	assert_true(md.has_created_by);
	assert_bin(md.created_by, "DuckDB version v1.5.6 (build 069cc9f9b5)");
	assert_int_equal(md.num_column_orders, 2);
	assert_int_equal(md.num_key_value, 0);

	/* Our encoder writes exactly what DuckDB wrote. */
	pqt_writer w;
	pqt_writer_init(&w);
	assert_int_equal(pq_file_metadata_encode(&w, &md), PQT_OK);
	assert_int_equal(w.len, sizeof(duckdb_footer));
	assert_memory_equal(w.data, duckdb_footer, sizeof(duckdb_footer));
	pqt_writer_free(&w);
	pq_file_metadata_free(&md);
	free(buf);
}

static void names_cover_known_values_and_return_null_otherwise(void **state)
{
	assert_string_equal(pq_type_name(PQ_FIXED_LEN_BYTE_ARRAY), "FIXED_LEN_BYTE_ARRAY");
	assert_string_equal(pq_type_name(PQ_BOOLEAN), "BOOLEAN");
	assert_null(pq_type_name(8));
	assert_null(pq_type_name(-1));
	assert_string_equal(pq_codec_name(PQ_CODEC_LZ4_RAW), "LZ4_RAW");
	assert_string_equal(pq_codec_name(PQ_CODEC_UNCOMPRESSED), "UNCOMPRESSED");
	assert_null(pq_codec_name(8));
	assert_string_equal(pq_encoding_name(PQ_ENC_RLE_DICTIONARY), "RLE_DICTIONARY");
	assert_string_equal(pq_encoding_name(PQ_ENC_BYTE_STREAM_SPLIT), "BYTE_STREAM_SPLIT");
	assert_null(pq_encoding_name(10));
	assert_null(pq_encoding_name(INT32_MIN));
	assert_string_equal(pq_repetition_name(PQ_REPEATED), "REPEATED");
	assert_null(pq_repetition_name(3));
	assert_string_equal(pq_converted_type_name(PQ_CT_TIMESTAMP_MILLIS), "TIMESTAMP_MILLIS");
	assert_string_equal(pq_converted_type_name(PQ_CT_INTERVAL), "INTERVAL");
	assert_null(pq_converted_type_name(22));
	assert_string_equal(pq_page_type_name(PQ_PAGE_DICTIONARY), "DICTIONARY_PAGE");
	assert_string_equal(pq_page_type_name(PQ_PAGE_DATA_V2), "DATA_PAGE_V2");
	assert_null(pq_page_type_name(4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(a_minidb_footer_round_trips_field_by_field_and_byte_for_byte),
	        cmocka_unit_test(logical_types_are_byte_exact),
	        cmocka_unit_test(every_logical_type_round_trips_in_a_schema),
	        cmocka_unit_test(unknown_fields_and_union_members_are_skipped),
	        cmocka_unit_test(a_repeated_list_field_replaces_the_first_without_leaking),
	        cmocka_unit_test(missing_required_fields_are_named),
	        cmocka_unit_test(every_truncation_of_a_footer_fails_cleanly),
	        cmocka_unit_test(bit_flips_at_every_byte_never_crash_or_leak),
	        cmocka_unit_test(hostile_list_counts_are_refused_before_allocation),
	        cmocka_unit_test(a_duckdb_footer_decodes_and_reencodes_to_the_same_bytes),
	        cmocka_unit_test(names_cover_known_values_and_return_null_otherwise),
	};

	return cmocka_run_group_tests_name("parquet_metadata", tests, NULL, NULL);
}
