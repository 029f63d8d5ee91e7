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

#include "parquet/thrift_decode.h"

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

/* ---- Lists ---- */

/* What the generic list decoder needs to know about one kind of list. */
struct list_kind {
	int type;        /* element wire type; a list of another type is skipped */
	size_t min_wire; /* smallest encoding of one element, to bound counts */
	size_t size;     /* bytes of one decoded element */
	int (*decode)(pqt_reader *r, void *elem);
	void (*release)(void *elem); /* what an element owns; NULL when nothing */
};

/* Releases the elements of *arr and the array itself, and empties it. */
static void list_free(const struct list_kind *k, void **arr, uint32_t *n)
{
	if (k->release)
		for (uint32_t i = 0; i < *n; i++)
			k->release((char *)*arr + (size_t)i * k->size);
	free(*arr);
	*arr = NULL;
	*n = 0;
}

/* Reads a list header. If its element type is not `want` the list is
 * skipped and *ok is false (the field then counts as absent); else counts
 * that cannot fit in the bytes left at min_wire bytes each are refused. */
static int list_begin(pqt_reader *r, int want, size_t min_wire, uint32_t *n, bool *ok)
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
	if (*n > (size_t)(r->end - r->p) / min_wire)
		return PQT_LENGTH;
	*ok = true;
	return PQT_OK;
}

/* Decodes a list field into *arr / *n, replacing (and releasing) a previous
 * value, as generated Thrift code does for a repeated field; *ok as for
 * list_begin. Nothing is allocated before list_begin has bounded the
 * count. The array is attached before its elements are decoded, so on any
 * error the caller's free releases whatever was decoded. */
static int list_decode(pqt_reader *r, const struct list_kind *k, void **arr, uint32_t *n, bool *ok)
{
	uint32_t count;
	int rc;

	list_free(k, arr, n);
	if ((rc = list_begin(r, k->type, k->min_wire, &count, ok)) || !*ok || count == 0)
		return rc;
	if ((*arr = calloc(count, k->size)) == NULL)
		return PQT_NO_MEMORY;
	*n = count;
	for (uint32_t i = 0; i < count; i++)
		if ((rc = k->decode(r, (char *)*arr + (size_t)i * k->size)))
			return rc;
	return PQT_OK;
}

/* A list field of kind k at id fid into arr / n; the field counts as seen
 * only when its element type was right. `continue`s the loop. */
#define CASE_LIST(r, fid, k, arr, n, seen)                                                         \
	if (id == (fid) && type == PQT_LIST) {                                                     \
		bool ok_;                                                                          \
		if ((rc = list_decode(r, k, (void **)(arr), n, &ok_)))                             \
			return rc;                                                                 \
		(seen) = ok_ ? (seen) | 1u << (fid) : (seen) & ~(1u << (fid));                     \
		continue;                                                                          \
	}

/* ---- Decoding and releasing ---- */

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

static int schema_element_decode(pqt_reader *r, void *elem)
{
	pq_schema_element *e = elem;
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

static int key_value_decode(pqt_reader *r, void *elem)
{
	pq_key_value *kv = elem;
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_BIN(r, 1, &kv->key, seen)
	CASE_BIN(r, 2, &kv->value, seen)
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "KeyValue.key");
	kv->has_value = seen & 1u << 2;
	return PQT_OK;
}

static int i32_decode(pqt_reader *r, void *elem)
{
	return pqt_read_i32(r, elem);
}

static int binary_decode(pqt_reader *r, void *elem)
{
	return pqt_read_binary(r, elem);
}

/* The minimal wire sizes bound memory at about 100x the footer
 * (ColumnChunk: 3 bytes on the wire, 288 decoded). */
static const struct list_kind schema_list = {
        /* name: header, empty string length, stop */
        PQT_STRUCT, 3, sizeof(pq_schema_element), schema_element_decode, NULL};
static const struct list_kind key_value_list = {
        /* key: header, length, stop */
        PQT_STRUCT, 3, sizeof(pq_key_value), key_value_decode, NULL};
static const struct list_kind encoding_list = {PQT_I32, 1, sizeof(int32_t), i32_decode, NULL};
static const struct list_kind path_list = {PQT_BINARY, 1, sizeof(pqt_bin), binary_decode, NULL};

static void column_meta_data_free(pq_column_meta_data *m)
{
	list_free(&encoding_list, (void **)&m->encodings, &m->num_encodings);
	list_free(&path_list, (void **)&m->path_in_schema, &m->num_path);
	list_free(&key_value_list, (void **)&m->key_value_metadata, &m->num_key_value);
	memset(m, 0, sizeof(*m));
}

static int column_meta_data_decode(pqt_reader *r, pq_column_meta_data *m)
{
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &m->type, seen)
	CASE_LIST(r, 2, &encoding_list, &m->encodings, &m->num_encodings, seen)
	CASE_LIST(r, 3, &path_list, &m->path_in_schema, &m->num_path, seen)
	CASE_I32(r, 4, &m->codec, seen)
	CASE_I64(r, 5, &m->num_values, seen)
	CASE_I64(r, 6, &m->total_uncompressed_size, seen)
	CASE_I64(r, 7, &m->total_compressed_size, seen)
	CASE_LIST(r, 8, &key_value_list, &m->key_value_metadata, &m->num_key_value, seen)
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

static void column_chunk_release(void *elem)
{
	pq_column_chunk *c = elem;

	column_meta_data_free(&c->meta_data);
}

static int column_chunk_decode(pqt_reader *r, void *elem)
{
	pq_column_chunk *c = elem;
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

static const struct list_kind column_list = {
        /* file_offset: header, value, stop */
        PQT_STRUCT, 3, sizeof(pq_column_chunk), column_chunk_decode, column_chunk_release};

static void row_group_release(void *elem)
{
	pq_row_group *rg = elem;

	list_free(&column_list, (void **)&rg->columns, &rg->num_columns);
	memset(rg, 0, sizeof(*rg));
}

static int row_group_decode(pqt_reader *r, void *elem)
{
	pq_row_group *rg = elem;
	unsigned seen = 0;

	FIELD_LOOP_BEGIN(r)
	CASE_LIST(r, 1, &column_list, &rg->columns, &rg->num_columns, seen)
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

static const struct list_kind row_group_list = {
        /* empty columns list, two i64 fields, stop */
        PQT_STRUCT, 6, sizeof(pq_row_group), row_group_decode, row_group_release};

void pq_file_metadata_free(pq_file_metadata *md)
{
	list_free(&schema_list, (void **)&md->schema, &md->num_schema);
	list_free(&row_group_list, (void **)&md->row_groups, &md->num_row_groups);
	list_free(&key_value_list, (void **)&md->key_value_metadata, &md->num_key_value);
	memset(md, 0, sizeof(*md));
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

	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &md->version, seen)
	CASE_LIST(r, 2, &schema_list, &md->schema, &md->num_schema, seen)
	CASE_I64(r, 3, &md->num_rows, seen)
	CASE_LIST(r, 4, &row_group_list, &md->row_groups, &md->num_row_groups, seen)
	CASE_LIST(r, 5, &key_value_list, &md->key_value_metadata, &md->num_key_value, seen)
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
