/* metadata.c - the Parquet footer (FileMetaData and all it holds) over the
 * Thrift compact protocol of thrift.c. Hand-written from parquet-format's
 * parquet.thrift, field ids exactly as there, because no C library for
 * Parquet is packaged in Debian. Decoding builds in place: each list is
 * attached to its parent before its elements are decoded, so one
 * pq_file_metadata_free releases everything on any error; a repeated field
 * replaces the first (as generated Thrift code does), its lists freed.
 * Counts are checked against bytes left / smallest element encoding, which
 * bounds memory at about 100x the footer (ColumnChunk: 3 bytes vs 288).
 */
#include "parquet/metadata.h"

#include <stdlib.h>
#include <string.h>

/* ---- Names ---- */

static const char *name_of(const char *const *names, size_t n, int32_t v)
{
	return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

#define NAME_OF(names, v) name_of(names, sizeof(names) / sizeof(names[0]), v)

const char *pq_type_name(int32_t type)
{
	static const char *const names[] = {
	        "BOOLEAN", "INT32",  "INT64",      "INT96",
	        "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};

	return NAME_OF(names, type);
}

const char *pq_codec_name(int32_t codec)
{
	static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
	                                    "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};

	return NAME_OF(names, codec);
}

const char *pq_encoding_name(int32_t encoding)
{
	static const char *const names[] = {"PLAIN",
	                                    "GROUP_VAR_INT",
	                                    "PLAIN_DICTIONARY",
	                                    "RLE",
	                                    "BIT_PACKED",
	                                    "DELTA_BINARY_PACKED",
	                                    "DELTA_LENGTH_BYTE_ARRAY",
	                                    "DELTA_BYTE_ARRAY",
	                                    "RLE_DICTIONARY",
	                                    "BYTE_STREAM_SPLIT"};

	return NAME_OF(names, encoding);
}

const char *pq_repetition_name(int32_t repetition)
{
	static const char *const names[] = {"REQUIRED", "OPTIONAL", "REPEATED"};

	return NAME_OF(names, repetition);
}

const char *pq_converted_type_name(int32_t converted_type)
{
	static const char *const names[] = {"UTF8",
	                                    "MAP",
	                                    "MAP_KEY_VALUE",
	                                    "LIST",
	                                    "ENUM",
	                                    "DECIMAL",
	                                    "DATE",
	                                    "TIME_MILLIS",
	                                    "TIME_MICROS",
	                                    "TIMESTAMP_MILLIS",
	                                    "TIMESTAMP_MICROS",
	                                    "UINT_8",
	                                    "UINT_16",
	                                    "UINT_32",
	                                    "UINT_64",
	                                    "INT_8",
	                                    "INT_16",
	                                    "INT_32",
	                                    "INT_64",
	                                    "JSON",
	                                    "BSON",
	                                    "INTERVAL"};

	return NAME_OF(names, converted_type);
}

const char *pq_page_type_name(int32_t page_type)
{
	static const char *const names[] = {"DATA_PAGE", "INDEX_PAGE", "DICTIONARY_PAGE",
	                                    "DATA_PAGE_V2"};

	return NAME_OF(names, page_type);
}

/* ---- Encoding ---- */

static void field_i32(pqt_writer *w, int16_t id, int32_t v)
{
	pqt_write_field(w, id, PQT_I32);
	pqt_write_i32(w, v);
}

static void field_i64(pqt_writer *w, int16_t id, int64_t v)
{
	pqt_write_field(w, id, PQT_I64);
	pqt_write_i64(w, v);
}

static void field_bin(pqt_writer *w, int16_t id, pqt_bin b)
{
	pqt_write_field(w, id, PQT_BINARY);
	pqt_write_binary(w, b.ptr, b.len);
}

/* A union member whose type is an empty struct (StringType, MilliSeconds,
 * TypeDefinedOrder...). */
static void field_empty_struct(pqt_writer *w, int16_t id)
{
	pqt_write_field(w, id, PQT_STRUCT);
	pqt_write_struct_begin(w);
	pqt_write_struct_end(w);
}

static void set_error(pqt_writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* An absent or empty union is refused rather than written: readers such as
 * DuckDB reject a LogicalType or TimeUnit with no member set. */
static void time_unit_encode(pqt_writer *w, int32_t unit)
{
	if (unit <= 0 || unit > INT16_MAX) {
		set_error(w, PQT_BAD_VALUE);
		return;
	}
	pqt_write_struct_begin(w);
	field_empty_struct(w, (int16_t)unit);
	pqt_write_struct_end(w);
}

int pq_logical_type_encode(pqt_writer *w, const pq_logical_type *lt)
{
	if (lt->kind <= 0 || lt->kind > INT16_MAX) {
		set_error(w, PQT_BAD_VALUE);
		return pqt_writer_error(w);
	}
	pqt_write_struct_begin(w);
	switch (lt->kind) {
	case PQ_LT_DECIMAL:
		pqt_write_field(w, PQ_LT_DECIMAL, PQT_STRUCT);
		pqt_write_struct_begin(w);
		field_i32(w, 1, lt->scale);
		field_i32(w, 2, lt->precision);
		pqt_write_struct_end(w);
		break;
	case PQ_LT_TIME:
	case PQ_LT_TIMESTAMP:
		pqt_write_field(w, (int16_t)lt->kind, PQT_STRUCT);
		pqt_write_struct_begin(w);
		pqt_write_field_bool(w, 1, lt->is_adjusted_to_utc);
		pqt_write_field(w, 2, PQT_STRUCT);
		time_unit_encode(w, lt->unit);
		pqt_write_struct_end(w);
		break;
	case PQ_LT_INTEGER:
		pqt_write_field(w, PQ_LT_INTEGER, PQT_STRUCT);
		pqt_write_struct_begin(w);
		pqt_write_field(w, 1, PQT_I8);
		pqt_write_i8(w, lt->bit_width);
		pqt_write_field_bool(w, 2, lt->is_signed);
		pqt_write_struct_end(w);
		break;
	default:
		/* STRING, MAP, LIST, ENUM, DATE, UNKNOWN, JSON, BSON, UUID and
		 * FLOAT16 are empty structs; a kind we do not model is written
		 * the same way, which every member with only optional fields
		 * accepts. */
		field_empty_struct(w, (int16_t)lt->kind);
		break;
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_schema_element_encode(pqt_writer *w, const pq_schema_element *e)
{
	pqt_write_struct_begin(w);
	if (e->has_type)
		field_i32(w, 1, e->type);
	if (e->has_type_length)
		field_i32(w, 2, e->type_length);
	if (e->has_repetition_type)
		field_i32(w, 3, e->repetition_type);
	field_bin(w, 4, e->name);
	if (e->has_num_children)
		field_i32(w, 5, e->num_children);
	if (e->has_converted_type)
		field_i32(w, 6, e->converted_type);
	if (e->has_scale)
		field_i32(w, 7, e->scale);
	if (e->has_precision)
		field_i32(w, 8, e->precision);
	if (e->has_field_id)
		field_i32(w, 9, e->field_id);
	if (e->has_logical_type) {
		pqt_write_field(w, 10, PQT_STRUCT);
		pq_logical_type_encode(w, &e->logical_type);
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_key_value_encode(pqt_writer *w, const pq_key_value *kv)
{
	pqt_write_struct_begin(w);
	field_bin(w, 1, kv->key);
	if (kv->has_value)
		field_bin(w, 2, kv->value);
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

static void key_values_field(pqt_writer *w, int16_t id, const pq_key_value *kv, uint32_t n)
{
	pqt_write_field(w, id, PQT_LIST);
	pqt_write_list_begin(w, PQT_STRUCT, n);
	for (uint32_t i = 0; i < n; i++)
		pq_key_value_encode(w, &kv[i]);
}

int pq_column_meta_data_encode(pqt_writer *w, const pq_column_meta_data *m)
{
	pqt_write_struct_begin(w);
	field_i32(w, 1, m->type);
	pqt_write_field(w, 2, PQT_LIST);
	pqt_write_list_begin(w, PQT_I32, m->num_encodings);
	for (uint32_t i = 0; i < m->num_encodings; i++)
		pqt_write_i32(w, m->encodings[i]);
	pqt_write_field(w, 3, PQT_LIST);
	pqt_write_list_begin(w, PQT_BINARY, m->num_path);
	for (uint32_t i = 0; i < m->num_path; i++)
		pqt_write_binary(w, m->path_in_schema[i].ptr, m->path_in_schema[i].len);
	field_i32(w, 4, m->codec);
	field_i64(w, 5, m->num_values);
	field_i64(w, 6, m->total_uncompressed_size);
	field_i64(w, 7, m->total_compressed_size);
	if (m->num_key_value)
		key_values_field(w, 8, m->key_value_metadata, m->num_key_value);
	field_i64(w, 9, m->data_page_offset);
	if (m->has_index_page_offset)
		field_i64(w, 10, m->index_page_offset);
	if (m->has_dictionary_page_offset)
		field_i64(w, 11, m->dictionary_page_offset);
	if (m->has_statistics) {
		pqt_write_field(w, 12, PQT_STRUCT);
		pq_statistics_encode(w, &m->statistics);
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_column_chunk_encode(pqt_writer *w, const pq_column_chunk *c)
{
	pqt_write_struct_begin(w);
	if (c->has_file_path)
		field_bin(w, 1, c->file_path);
	field_i64(w, 2, c->file_offset);
	if (c->has_meta_data) {
		pqt_write_field(w, 3, PQT_STRUCT);
		pq_column_meta_data_encode(w, &c->meta_data);
	}
	if (c->has_offset_index) {
		field_i64(w, 4, c->offset_index_offset);
		field_i32(w, 5, c->offset_index_length);
	}
	if (c->has_column_index) {
		field_i64(w, 6, c->column_index_offset);
		field_i32(w, 7, c->column_index_length);
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_row_group_encode(pqt_writer *w, const pq_row_group *rg)
{
	pqt_write_struct_begin(w);
	pqt_write_field(w, 1, PQT_LIST);
	pqt_write_list_begin(w, PQT_STRUCT, rg->num_columns);
	for (uint32_t i = 0; i < rg->num_columns; i++)
		pq_column_chunk_encode(w, &rg->columns[i]);
	field_i64(w, 2, rg->total_byte_size);
	field_i64(w, 3, rg->num_rows);
	if (rg->has_file_offset)
		field_i64(w, 5, rg->file_offset);
	if (rg->has_total_compressed_size)
		field_i64(w, 6, rg->total_compressed_size);
	if (rg->has_ordinal) {
		pqt_write_field(w, 7, PQT_I16);
		pqt_write_i16(w, rg->ordinal);
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_file_metadata_encode(pqt_writer *w, const pq_file_metadata *md)
{
	pqt_write_struct_begin(w);
	field_i32(w, 1, md->version);
	pqt_write_field(w, 2, PQT_LIST);
	pqt_write_list_begin(w, PQT_STRUCT, md->num_schema);
	for (uint32_t i = 0; i < md->num_schema; i++)
		pq_schema_element_encode(w, &md->schema[i]);
	field_i64(w, 3, md->num_rows);
	pqt_write_field(w, 4, PQT_LIST);
	pqt_write_list_begin(w, PQT_STRUCT, md->num_row_groups);
	for (uint32_t i = 0; i < md->num_row_groups; i++)
		pq_row_group_encode(w, &md->row_groups[i]);
	if (md->num_key_value)
		key_values_field(w, 5, md->key_value_metadata, md->num_key_value);
	if (md->has_created_by)
		field_bin(w, 6, md->created_by);
	if (md->num_column_orders) {
		pqt_write_field(w, 7, PQT_LIST);
		pqt_write_list_begin(w, PQT_STRUCT, md->num_column_orders);
		for (uint32_t i = 0; i < md->num_column_orders; i++) {
			pqt_write_struct_begin(w);
			field_empty_struct(w, 1); /* TYPE_ORDER */
			pqt_write_struct_end(w);
		}
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

/* ---- Releasing ---- */

static void column_meta_data_free(pq_column_meta_data *m)
{
	free(m->encodings);
	free(m->path_in_schema);
	free(m->key_value_metadata);
	memset(m, 0, sizeof(*m));
}

static void row_group_free(pq_row_group *rg)
{
	for (uint32_t i = 0; i < rg->num_columns; i++)
		column_meta_data_free(&rg->columns[i].meta_data);
	free(rg->columns);
	memset(rg, 0, sizeof(*rg));
}

void pq_file_metadata_free(pq_file_metadata *md)
{
	free(md->schema);
	for (uint32_t i = 0; i < md->num_row_groups; i++)
		row_group_free(&md->row_groups[i]);
	free(md->row_groups);
	free(md->key_value_metadata);
	memset(md, 0, sizeof(*md));
}

/* ---- Decoding ---- */

/* The same loop shape as the page-header decoders of thrift.c: read a
 * field, dispatch on (id, type), skip everything else, then check the
 * required bits. Errors return at once; the caller of the outermost decoder
 * releases whatever was attached. */
#define FIELD_LOOP_BEGIN(r)                                                                        \
	int rc, type;                                                                              \
	int16_t id;                                                                                \
	if ((rc = pqt_read_struct_begin(r)))                                                       \
		return rc;                                                                         \
	for (;;) {                                                                                 \
		if ((rc = pqt_read_field(r, &id, &type)))                                          \
			return rc;                                                                 \
		if (type == PQT_STOP)                                                              \
			break;

#define FIELD_LOOP_END(r)                                                                          \
	if ((rc = pqt_skip(r, type)))                                                              \
		return rc;                                                                         \
	}                                                                                          \
	pqt_read_struct_end(r);

#define REQUIRE(r, seen, bit, name)                                                                \
	do {                                                                                       \
		if (!((seen) & (1u << (bit)))) {                                                   \
			(r)->missing = name;                                                       \
			return PQT_MISSING_FIELD;                                                  \
		}                                                                                  \
	} while (0)

/* Reads a scalar field into *dst and marks it seen; `continue`s the loop. */
#define CASE_SCALAR(r, fid, wire, fn, dst, seen)                                                   \
	if (id == (fid) && type == (wire)) {                                                       \
		if ((rc = fn(r, dst)))                                                             \
			return rc;                                                                 \
		(seen) |= 1u << (fid);                                                             \
		continue;                                                                          \
	}
#define CASE_I32(r, fid, dst, seen)  CASE_SCALAR(r, fid, PQT_I32, pqt_read_i32, dst, seen)
#define CASE_I64(r, fid, dst, seen)  CASE_SCALAR(r, fid, PQT_I64, pqt_read_i64, dst, seen)
#define CASE_BIN(r, fid, dst, seen)  CASE_SCALAR(r, fid, PQT_BINARY, pqt_read_binary, dst, seen)
#define CASE_BOOL(r, fid, dst, seen) CASE_SCALAR(r, fid, PQT_BOOL, pqt_read_bool, dst, seen)

/* Smallest encodings of one list element, used to refuse counts that the
 * bytes left cannot hold before anything is allocated. */
enum {
	MIN_SCHEMA_ELEMENT = 3, /* name: header, empty string length, stop */
	MIN_KEY_VALUE = 3,      /* key: header, length, stop */
	MIN_ROW_GROUP = 6,      /* empty columns list, two i64 fields, stop */
	MIN_COLUMN_CHUNK = 3,   /* file_offset: header, value, stop */
};

/* Reads a list header. If its element type is not `want` the list is
 * skipped and *ok is false (the field then counts as absent); else counts
 * that cannot fit in the bytes left at min_size bytes each are refused. */
static int list_begin(pqt_reader *r, int want, size_t min_size, uint32_t *n, bool *ok)
{
	int rc, t;

	*ok = false;
	if ((rc = pqt_read_list_begin(r, &t, n)))
		return rc;
	if (t != want) {
		for (uint32_t i = 0; i < *n; i++) {
			r->pending_bool = -1;
			if ((rc = pqt_skip(r, t)))
				return rc;
		}
		*n = 0;
		return PQT_OK;
	}
	if (*n > (size_t)(r->end - r->p) / min_size)
		return PQT_LENGTH;
	*ok = true;
	return PQT_OK;
}

/* Zeroed array of n elements; NULL for n == 0 is not an error. */
static int alloc_array(void **p, uint32_t n, size_t size)
{
	*p = NULL;
	if (n == 0)
		return PQT_OK;
	*p = calloc(n, size);
	return *p ? PQT_OK : PQT_NO_MEMORY;
}

static int time_unit_decode(pqt_reader *r, int32_t *unit)
{
	*unit = PQ_UNIT_NONE;
	FIELD_LOOP_BEGIN(r)
	if (type == PQT_STRUCT) {
		/* MilliSeconds, MicroSeconds, NanoSeconds and any later member
		 * are structs; skipping checks them whatever they hold. */
		if ((rc = pqt_skip(r, type)))
			return rc;
		*unit = id;
		continue;
	}
	FIELD_LOOP_END(r)
	return PQT_OK;
}

/* TimeType and TimestampType share their layout. */
static int time_type_decode(pqt_reader *r, pq_logical_type *lt, const char *adjusted_name,
                            const char *unit_name)
{
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_BOOL(r, 1, &lt->is_adjusted_to_utc, seen)
	if (id == 2 && type == PQT_STRUCT) {
		if ((rc = time_unit_decode(r, &lt->unit)))
			return rc;
		seen |= 1u << 2;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, adjusted_name);
	REQUIRE(r, seen, 2, unit_name);
	return PQT_OK;
}

static int decimal_type_decode(pqt_reader *r, pq_logical_type *lt)
{
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &lt->scale, seen)
	CASE_I32(r, 2, &lt->precision, seen)
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "DecimalType.scale");
	REQUIRE(r, seen, 2, "DecimalType.precision");
	return PQT_OK;
}

static int int_type_decode(pqt_reader *r, pq_logical_type *lt)
{
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_SCALAR(r, 1, PQT_I8, pqt_read_i8, &lt->bit_width, seen)
	CASE_BOOL(r, 2, &lt->is_signed, seen)
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "IntType.bitWidth");
	REQUIRE(r, seen, 2, "IntType.isSigned");
	return PQT_OK;
}

static int logical_type_decode(pqt_reader *r, pq_logical_type *lt)
{
	memset(lt, 0, sizeof(*lt));
	FIELD_LOOP_BEGIN(r)
	if (type == PQT_STRUCT) {
		/* A second member replaces the first, so clear the details. */
		memset(lt, 0, sizeof(*lt));
		switch (id) {
		case PQ_LT_DECIMAL:
			rc = decimal_type_decode(r, lt);
			break;
		case PQ_LT_TIME:
			rc = time_type_decode(r, lt, "TimeType.isAdjustedToUTC", "TimeType.unit");
			break;
		case PQ_LT_TIMESTAMP:
			rc = time_type_decode(r, lt, "TimestampType.isAdjustedToUTC",
			                      "TimestampType.unit");
			break;
		case PQ_LT_INTEGER:
			rc = int_type_decode(r, lt);
			break;
		default:
			/* Empty structs, and members newer than this codec. */
			rc = pqt_skip(r, type);
			break;
		}
		if (rc)
			return rc;
		lt->kind = id;
		continue;
	}
	FIELD_LOOP_END(r)
	return PQT_OK;
}

static int schema_element_decode(pqt_reader *r, pq_schema_element *e)
{
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &e->type, seen)
	CASE_I32(r, 2, &e->type_length, seen)
	CASE_I32(r, 3, &e->repetition_type, seen)
	CASE_BIN(r, 4, &e->name, seen)
	CASE_I32(r, 5, &e->num_children, seen)
	CASE_I32(r, 6, &e->converted_type, seen)
	CASE_I32(r, 7, &e->scale, seen)
	CASE_I32(r, 8, &e->precision, seen)
	CASE_I32(r, 9, &e->field_id, seen)
	if (id == 10 && type == PQT_STRUCT) {
		if ((rc = logical_type_decode(r, &e->logical_type)))
			return rc;
		seen |= 1u << 10;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 4, "SchemaElement.name");
	e->has_type = seen & 1u << 1;
	e->has_type_length = seen & 1u << 2;
	e->has_repetition_type = seen & 1u << 3;
	e->has_num_children = seen & 1u << 5;
	e->has_converted_type = seen & 1u << 6;
	e->has_scale = seen & 1u << 7;
	e->has_precision = seen & 1u << 8;
	e->has_field_id = seen & 1u << 9;
	e->has_logical_type = seen & 1u << 10;
	return PQT_OK;
}

static int key_value_decode(pqt_reader *r, pq_key_value *kv)
{
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_BIN(r, 1, &kv->key, seen)
	CASE_BIN(r, 2, &kv->value, seen)
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "KeyValue.key");
	kv->has_value = seen & 1u << 2;
	return PQT_OK;
}

/* Decodes a list<KeyValue> field into *list / *n, replacing (and freeing)
 * a previous value. *ok is false when the element type was wrong. */
static int key_values_decode(pqt_reader *r, pq_key_value **list, uint32_t *n, bool *ok)
{
	uint32_t count;
	int rc;

	free(*list);
	*list = NULL;
	*n = 0;
	if ((rc = list_begin(r, PQT_STRUCT, MIN_KEY_VALUE, &count, ok)) || !*ok)
		return rc;
	if ((rc = alloc_array((void **)list, count, sizeof(**list))))
		return rc;
	*n = count;
	for (uint32_t i = 0; i < count; i++)
		if ((rc = key_value_decode(r, &(*list)[i])))
			return rc;
	return PQT_OK;
}

static int encodings_decode(pqt_reader *r, pq_column_meta_data *m, bool *ok)
{
	uint32_t count;
	int rc;

	free(m->encodings);
	m->encodings = NULL;
	m->num_encodings = 0;
	if ((rc = list_begin(r, PQT_I32, 1, &count, ok)) || !*ok)
		return rc;
	if ((rc = alloc_array((void **)&m->encodings, count, sizeof(*m->encodings))))
		return rc;
	m->num_encodings = count;
	for (uint32_t i = 0; i < count; i++)
		if ((rc = pqt_read_i32(r, &m->encodings[i])))
			return rc;
	return PQT_OK;
}

static int path_decode(pqt_reader *r, pq_column_meta_data *m, bool *ok)
{
	uint32_t count;
	int rc;

	free(m->path_in_schema);
	m->path_in_schema = NULL;
	m->num_path = 0;
	if ((rc = list_begin(r, PQT_BINARY, 1, &count, ok)) || !*ok)
		return rc;
	if ((rc = alloc_array((void **)&m->path_in_schema, count, sizeof(*m->path_in_schema))))
		return rc;
	m->num_path = count;
	for (uint32_t i = 0; i < count; i++)
		if ((rc = pqt_read_binary(r, &m->path_in_schema[i])))
			return rc;
	return PQT_OK;
}

static int column_meta_data_decode(pqt_reader *r, pq_column_meta_data *m)
{
	unsigned seen = 0;
	bool ok;

	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &m->type, seen)
	if (id == 2 && type == PQT_LIST) {
		if ((rc = encodings_decode(r, m, &ok)))
			return rc;
		seen = ok ? seen | 1u << 2 : seen & ~(1u << 2);
		continue;
	}
	if (id == 3 && type == PQT_LIST) {
		if ((rc = path_decode(r, m, &ok)))
			return rc;
		seen = ok ? seen | 1u << 3 : seen & ~(1u << 3);
		continue;
	}
	CASE_I32(r, 4, &m->codec, seen)
	CASE_I64(r, 5, &m->num_values, seen)
	CASE_I64(r, 6, &m->total_uncompressed_size, seen)
	CASE_I64(r, 7, &m->total_compressed_size, seen)
	if (id == 8 && type == PQT_LIST) {
		if ((rc = key_values_decode(r, &m->key_value_metadata, &m->num_key_value, &ok)))
			return rc;
		continue;
	}
	CASE_I64(r, 9, &m->data_page_offset, seen)
	CASE_I64(r, 10, &m->index_page_offset, seen)
	CASE_I64(r, 11, &m->dictionary_page_offset, seen)
	if (id == 12 && type == PQT_STRUCT) {
		if ((rc = pq_statistics_decode(r, &m->statistics)))
			return rc;
		seen |= 1u << 12;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "ColumnMetaData.type");
	REQUIRE(r, seen, 2, "ColumnMetaData.encodings");
	REQUIRE(r, seen, 3, "ColumnMetaData.path_in_schema");
	REQUIRE(r, seen, 4, "ColumnMetaData.codec");
	REQUIRE(r, seen, 5, "ColumnMetaData.num_values");
	REQUIRE(r, seen, 6, "ColumnMetaData.total_uncompressed_size");
	REQUIRE(r, seen, 7, "ColumnMetaData.total_compressed_size");
	REQUIRE(r, seen, 9, "ColumnMetaData.data_page_offset");
	m->has_index_page_offset = seen & 1u << 10;
	m->has_dictionary_page_offset = seen & 1u << 11;
	m->has_statistics = seen & 1u << 12;
	return PQT_OK;
}

static int column_chunk_decode(pqt_reader *r, pq_column_chunk *c)
{
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_BIN(r, 1, &c->file_path, seen)
	CASE_I64(r, 2, &c->file_offset, seen)
	if (id == 3 && type == PQT_STRUCT) {
		column_meta_data_free(&c->meta_data);
		if ((rc = column_meta_data_decode(r, &c->meta_data)))
			return rc;
		seen |= 1u << 3;
		continue;
	}
	CASE_I64(r, 4, &c->offset_index_offset, seen)
	CASE_I32(r, 5, &c->offset_index_length, seen)
	CASE_I64(r, 6, &c->column_index_offset, seen)
	CASE_I32(r, 7, &c->column_index_length, seen)
	if ((id == 8 && type == PQT_STRUCT) || (id == 9 && type == PQT_BINARY)) {
		if ((rc = pqt_skip(r, type)))
			return rc;
		c->encrypted = true;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 2, "ColumnChunk.file_offset");
	c->has_file_path = seen & 1u << 1;
	c->has_meta_data = seen & 1u << 3;
	/* An index location is only usable with both its offset and length. */
	c->has_offset_index = (seen & 3u << 4) == 3u << 4;
	c->has_column_index = (seen & 3u << 6) == 3u << 6;
	return PQT_OK;
}

static int columns_decode(pqt_reader *r, pq_row_group *rg, bool *ok)
{
	uint32_t count;
	int rc;

	for (uint32_t i = 0; i < rg->num_columns; i++)
		column_meta_data_free(&rg->columns[i].meta_data);
	free(rg->columns);
	rg->columns = NULL;
	rg->num_columns = 0;
	if ((rc = list_begin(r, PQT_STRUCT, MIN_COLUMN_CHUNK, &count, ok)) || !*ok)
		return rc;
	if ((rc = alloc_array((void **)&rg->columns, count, sizeof(*rg->columns))))
		return rc;
	rg->num_columns = count;
	for (uint32_t i = 0; i < count; i++)
		if ((rc = column_chunk_decode(r, &rg->columns[i])))
			return rc;
	return PQT_OK;
}

static int row_group_decode(pqt_reader *r, pq_row_group *rg)
{
	unsigned seen = 0;
	bool ok;

	FIELD_LOOP_BEGIN(r)
	if (id == 1 && type == PQT_LIST) {
		if ((rc = columns_decode(r, rg, &ok)))
			return rc;
		seen = ok ? seen | 1u << 1 : seen & ~(1u << 1);
		continue;
	}
	CASE_I64(r, 2, &rg->total_byte_size, seen)
	CASE_I64(r, 3, &rg->num_rows, seen)
	CASE_I64(r, 5, &rg->file_offset, seen)
	CASE_I64(r, 6, &rg->total_compressed_size, seen)
	CASE_SCALAR(r, 7, PQT_I16, pqt_read_i16, &rg->ordinal, seen)
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "RowGroup.columns");
	REQUIRE(r, seen, 2, "RowGroup.total_byte_size");
	REQUIRE(r, seen, 3, "RowGroup.num_rows");
	rg->has_file_offset = seen & 1u << 5;
	rg->has_total_compressed_size = seen & 1u << 6;
	rg->has_ordinal = seen & 1u << 7;
	return PQT_OK;
}

static int schema_decode(pqt_reader *r, pq_file_metadata *md, bool *ok)
{
	uint32_t count;
	int rc;

	free(md->schema);
	md->schema = NULL;
	md->num_schema = 0;
	if ((rc = list_begin(r, PQT_STRUCT, MIN_SCHEMA_ELEMENT, &count, ok)) || !*ok)
		return rc;
	if ((rc = alloc_array((void **)&md->schema, count, sizeof(*md->schema))))
		return rc;
	md->num_schema = count;
	for (uint32_t i = 0; i < count; i++)
		if ((rc = schema_element_decode(r, &md->schema[i])))
			return rc;
	return PQT_OK;
}

static int row_groups_decode(pqt_reader *r, pq_file_metadata *md, bool *ok)
{
	uint32_t count;
	int rc;

	for (uint32_t i = 0; i < md->num_row_groups; i++)
		row_group_free(&md->row_groups[i]);
	free(md->row_groups);
	md->row_groups = NULL;
	md->num_row_groups = 0;
	if ((rc = list_begin(r, PQT_STRUCT, MIN_ROW_GROUP, &count, ok)) || !*ok)
		return rc;
	if ((rc = alloc_array((void **)&md->row_groups, count, sizeof(*md->row_groups))))
		return rc;
	md->num_row_groups = count;
	for (uint32_t i = 0; i < count; i++)
		if ((rc = row_group_decode(r, &md->row_groups[i])))
			return rc;
	return PQT_OK;
}

/* ColumnOrder is a union; only TYPE_ORDER members are counted. The other
 * orders (IEEE_754_TOTAL_ORDER, INT96_TIMESTAMP_ORDER) are for types minidb
 * never writes; a reader that finds fewer TYPE_ORDER entries than leaf
 * columns should not trust min/max statistics. *type_order tells whether
 * the member of one ColumnOrder is TYPE_ORDER. */
static int column_order_decode(pqt_reader *r, bool *type_order)
{
	*type_order = false;
	FIELD_LOOP_BEGIN(r)
	if (type == PQT_STRUCT) {
		if ((rc = pqt_skip(r, type)))
			return rc;
		*type_order = id == 1;
		continue;
	}
	FIELD_LOOP_END(r)
	return PQT_OK;
}

static int column_orders_decode(pqt_reader *r, pq_file_metadata *md)
{
	uint32_t count;
	bool ok, type_order;
	int rc;

	md->num_column_orders = 0;
	if ((rc = list_begin(r, PQT_STRUCT, 1, &count, &ok)) || !ok)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = column_order_decode(r, &type_order)))
			return rc;
		if (type_order)
			md->num_column_orders++;
	}
	return PQT_OK;
}

static int file_metadata_decode(pqt_reader *r, pq_file_metadata *md)
{
	unsigned seen = 0;
	bool ok;

	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &md->version, seen)
	if (id == 2 && type == PQT_LIST) {
		if ((rc = schema_decode(r, md, &ok)))
			return rc;
		seen = ok ? seen | 1u << 2 : seen & ~(1u << 2);
		continue;
	}
	CASE_I64(r, 3, &md->num_rows, seen)
	if (id == 4 && type == PQT_LIST) {
		if ((rc = row_groups_decode(r, md, &ok)))
			return rc;
		seen = ok ? seen | 1u << 4 : seen & ~(1u << 4);
		continue;
	}
	if (id == 5 && type == PQT_LIST) {
		if ((rc = key_values_decode(r, &md->key_value_metadata, &md->num_key_value, &ok)))
			return rc;
		continue;
	}
	CASE_BIN(r, 6, &md->created_by, seen)
	if (id == 7 && type == PQT_LIST) {
		if ((rc = column_orders_decode(r, md)))
			return rc;
		continue;
	}
	if (id == 8 && type == PQT_STRUCT) {
		if ((rc = pqt_skip(r, type)))
			return rc;
		md->encrypted = true;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "FileMetaData.version");
	REQUIRE(r, seen, 2, "FileMetaData.schema");
	REQUIRE(r, seen, 3, "FileMetaData.num_rows");
	REQUIRE(r, seen, 4, "FileMetaData.row_groups");
	md->has_created_by = seen & 1u << 6;
	return PQT_OK;
}

int pq_file_metadata_decode(pqt_reader *r, pq_file_metadata *md)
{
	memset(md, 0, sizeof(*md));
	int rc = file_metadata_decode(r, md);
	if (rc)
		pq_file_metadata_free(md);
	return rc;
}
