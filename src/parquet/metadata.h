/* metadata.h - the Parquet file footer (FileMetaData and the structures it
 * holds: SchemaElement, LogicalType, RowGroup, ColumnChunk, ColumnMetaData,
 * KeyValue), encoded and decoded with the Thrift compact protocol.
 *
 * Hand-written from parquet-format's parquet.thrift because no C library for
 * Parquet is packaged in Debian. No I/O, no global state.
 *
 * Decoding: binary and string fields point into the caller's input buffer
 * (pqt_bin, no copy), which must outlive the decoded struct; lists are
 * malloc'd and released by pq_file_metadata_free. Unknown fields, and known
 * ids with an unexpected wire type, are skipped as generated Thrift code
 * does; missing required fields give PQT_MISSING_FIELD with r->missing set.
 * Fields this codec does not model (sorting columns, encryption, page
 * encoding stats, size statistics, bloom filters...) are skipped on decode
 * and never written. Element counts are checked against the bytes left
 * before any allocation (pqt_read_list_begin), so a hostile footer cannot
 * make the decoder allocate more than a small multiple of its own size.
 *
 * Encoding: pq_file_metadata_encode appends one FileMetaData struct to w
 * and returns pqt_writer_error(w).
 */
#ifndef MINIDB_PARQUET_METADATA_H
#define MINIDB_PARQUET_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet/thrift.h"

/* LogicalType is a Thrift union; kind is the id of the member that is set
 * (0 when the union is empty or its member unknown to us: then the reader
 * falls back to converted_type and the physical type). */
enum pq_logical_kind {
	PQ_LT_NONE = 0,
	PQ_LT_STRING = 1,
	PQ_LT_MAP = 2,
	PQ_LT_LIST = 3,
	PQ_LT_ENUM = 4,
	PQ_LT_DECIMAL = 5,
	PQ_LT_DATE = 6,
	PQ_LT_TIME = 7,
	PQ_LT_TIMESTAMP = 8,
	PQ_LT_INTEGER = 10,
	PQ_LT_UNKNOWN = 11, /* the NullType: always-null column */
	PQ_LT_JSON = 12,
	PQ_LT_BSON = 13,
	PQ_LT_UUID = 14,
	PQ_LT_FLOAT16 = 15,
};

/* TimeUnit union member ids. */
enum pq_time_unit {
	PQ_UNIT_NONE = 0,
	PQ_UNIT_MILLIS = 1,
	PQ_UNIT_MICROS = 2,
	PQ_UNIT_NANOS = 3,
};

typedef struct pq_logical_type {
	int32_t kind; /* enum pq_logical_kind; other ids are kept but not interpreted */
	/* TIME and TIMESTAMP */
	bool is_adjusted_to_utc;
	int32_t unit; /* enum pq_time_unit */
	/* DECIMAL */
	int32_t scale, precision;
	/* INTEGER */
	int8_t bit_width;
	bool is_signed;
} pq_logical_type;

typedef struct pq_schema_element {
	bool has_type, has_type_length, has_repetition_type, has_num_children;
	bool has_converted_type, has_scale, has_precision, has_field_id, has_logical_type;
	int32_t type; /* enum pq_type */
	int32_t type_length;
	int32_t repetition_type; /* enum pq_field_repetition */
	pqt_bin name;            /* required */
	int32_t num_children;
	int32_t converted_type; /* enum pq_converted_type */
	int32_t scale, precision, field_id;
	pq_logical_type logical_type;
} pq_schema_element;

typedef struct pq_key_value {
	pqt_bin key; /* required */
	bool has_value;
	pqt_bin value;
} pq_key_value;

typedef struct pq_column_meta_data {
	int32_t type; /* enum pq_type */
	uint32_t num_encodings;
	int32_t *encodings; /* enum pq_encoding */
	uint32_t num_path;
	pqt_bin *path_in_schema;
	int32_t codec; /* enum pq_compression */
	int64_t num_values;
	int64_t total_uncompressed_size;
	int64_t total_compressed_size;
	uint32_t num_key_value;
	pq_key_value *key_value_metadata;
	int64_t data_page_offset;
	bool has_index_page_offset, has_dictionary_page_offset, has_statistics;
	int64_t index_page_offset;
	int64_t dictionary_page_offset;
	pq_statistics statistics;
} pq_column_meta_data;

typedef struct pq_column_chunk {
	bool has_file_path;
	pqt_bin file_path; /* set: the data lives in another file (unsupported) */
	int64_t file_offset;
	bool has_meta_data;
	pq_column_meta_data meta_data;
	/* offset/column index locations (ids 4-7) are decoded for inspect only */
	bool has_offset_index, has_column_index;
	int64_t offset_index_offset, column_index_offset;
	int32_t offset_index_length, column_index_length;
	/* crypto_metadata (8) or encrypted_column_metadata (9) present */
	bool encrypted;
} pq_column_chunk;

typedef struct pq_row_group {
	uint32_t num_columns;
	pq_column_chunk *columns;
	int64_t total_byte_size;
	int64_t num_rows;
	bool has_file_offset, has_total_compressed_size, has_ordinal;
	int64_t file_offset;
	int64_t total_compressed_size;
	int16_t ordinal;
} pq_row_group;

typedef struct pq_file_metadata {
	int32_t version;
	uint32_t num_schema;
	pq_schema_element *schema; /* depth-first; schema[0] is the root */
	int64_t num_rows;
	uint32_t num_row_groups;
	pq_row_group *row_groups;
	uint32_t num_key_value;
	pq_key_value *key_value_metadata;
	bool has_created_by;
	pqt_bin created_by;
	/* column_orders: count of TYPE_ORDER entries written/read (0 = absent);
	 * the writer emits one per leaf column when non-zero. */
	uint32_t num_column_orders;
	/* encryption_algorithm (8) present: an encrypted file (unsupported) */
	bool encrypted;
} pq_file_metadata;

int pq_logical_type_encode(pqt_writer *w, const pq_logical_type *lt);
int pq_schema_element_encode(pqt_writer *w, const pq_schema_element *e);
int pq_key_value_encode(pqt_writer *w, const pq_key_value *kv);
int pq_column_meta_data_encode(pqt_writer *w, const pq_column_meta_data *m);
int pq_column_chunk_encode(pqt_writer *w, const pq_column_chunk *c);
int pq_row_group_encode(pqt_writer *w, const pq_row_group *rg);
int pq_file_metadata_encode(pqt_writer *w, const pq_file_metadata *md);

/* Decodes one FileMetaData at r. On any failure everything allocated is
 * released and *md is zeroed. */
int pq_file_metadata_decode(pqt_reader *r, pq_file_metadata *md);
/* Releases the lists of a decoded FileMetaData (not the input buffer). */
void pq_file_metadata_free(pq_file_metadata *md);

/* Static names for inspect output: "BYTE_ARRAY", "ZSTD", "RLE_DICTIONARY",
 * "OPTIONAL", "UTF8"...; "UNKNOWN(<n>)" is not produced: unknown values give
 * NULL and the caller prints the number. */
const char *pq_type_name(int32_t type);
const char *pq_codec_name(int32_t codec);
const char *pq_encoding_name(int32_t encoding);
const char *pq_repetition_name(int32_t repetition);
const char *pq_converted_type_name(int32_t converted_type);
const char *pq_page_type_name(int32_t page_type);

#endif
