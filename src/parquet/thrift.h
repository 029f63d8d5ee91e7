/* thrift.h - the Thrift Compact Protocol, as Parquet uses it for its footer
 * and page headers, plus typed codecs for the page-header structures of
 * parquet.thrift.
 *
 * Hand-written from the Thrift compact protocol specification and
 * parquet-format's parquet.thrift because no C library for either is
 * packaged in Debian. No I/O, no global state.
 *
 * Error convention: reader functions return a pqt_status (PQT_OK is 0);
 * pqt_strerror() gives a static message. A reader never reads at or past
 * its end, checks every length and element count against the bytes left
 * before using it, and limits nesting to PQT_MAX_DEPTH. The writer keeps a
 * sticky error (Redis rio style): write calls return nothing, a failed call
 * turns every later call into a no-op, and the caller checks
 * pqt_writer_error() once at the end. The writer never aborts on ENOMEM.
 */
#ifndef MINIDB_PARQUET_THRIFT_H
#define MINIDB_PARQUET_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pqt_status {
	PQT_OK = 0,
	PQT_TRUNCATED = 1,       /* input ends inside a value */
	PQT_VARINT_TOO_LONG = 2, /* varint over 10 bytes (5 for i32) or above the type */
	PQT_BAD_TYPE = 3,        /* unknown wire type, or a stop where a type is needed */
	PQT_DEPTH = 4,           /* nesting deeper than PQT_MAX_DEPTH */
	PQT_LENGTH = 5,          /* length or element count larger than the bytes left */
	PQT_BAD_VALUE = 6,       /* value out of range for its type (i8, i16, field id) */
	PQT_MISSING_FIELD = 7,   /* a required field is absent; see pqt_reader.missing */
	PQT_NO_MEMORY = 8,
} pqt_status;

const char *pqt_strerror(int status);

/* Wire types of the compact protocol. In a field header a bool's value is
 * the type (TRUE 1, FALSE 2); the API folds both into PQT_BOOL. */
enum {
	PQT_STOP = 0,
	PQT_BOOL = 1,
	PQT_BOOL_FALSE = 2,
	PQT_I8 = 3,
	PQT_I16 = 4,
	PQT_I32 = 5,
	PQT_I64 = 6,
	PQT_DOUBLE = 7,
	PQT_BINARY = 8,
	PQT_LIST = 9,
	PQT_SET = 10,
	PQT_MAP = 11,
	PQT_STRUCT = 12,
};

/* Structs, lists, sets and maps together. Parquet needs about 6; the limit
 * only exists so that hostile input cannot exhaust the stack. */
#define PQT_MAX_DEPTH 64

/* Binary or string value; decoders point ptr into their input (no copy). */
typedef struct pqt_bin {
	const uint8_t *ptr;
	uint32_t len;
} pqt_bin;

/* ---- Writer ---- */

typedef struct pqt_writer {
	uint8_t *data; /* malloc'd, owned; data[0 .. len) is the encoding */
	size_t len;
	size_t cap;
	int err;   /* sticky pqt_status */
	int depth; /* open structs; last_id[depth] is the current one */
	int16_t last_id[PQT_MAX_DEPTH + 1];
} pqt_writer;

void pqt_writer_init(pqt_writer *w);
void pqt_writer_free(pqt_writer *w);
/* Forgets the bytes and any error, keeps the allocation. */
void pqt_writer_reset(pqt_writer *w);
static inline int pqt_writer_error(const pqt_writer *w)
{
	return w->err;
}

/* Field header of a non-bool field, delta-encoded against the previous id
 * of the current struct (short form for deltas 1..15, long form else). */
void pqt_write_field(pqt_writer *w, int16_t id, int type);
/* A bool field: the value rides in the header, there is no body. */
void pqt_write_field_bool(pqt_writer *w, int16_t id, bool v);
/* struct_begin opens a struct (fields restart from id 0); struct_end writes
 * the stop byte and returns to the enclosing struct. A top-level value is a
 * struct_begin ... struct_end pair too. */
void pqt_write_struct_begin(pqt_writer *w);
void pqt_write_struct_end(pqt_writer *w);

void pqt_write_bool(pqt_writer *w, bool v); /* list/set/map elements only */
void pqt_write_i8(pqt_writer *w, int8_t v);
void pqt_write_i16(pqt_writer *w, int16_t v);
void pqt_write_i32(pqt_writer *w, int32_t v);
void pqt_write_i64(pqt_writer *w, int64_t v);
void pqt_write_double(pqt_writer *w, double v);
void pqt_write_binary(pqt_writer *w, const void *p, uint32_t len);
void pqt_write_string(pqt_writer *w, const char *s);
/* Headers; the caller then writes exactly n elements (n*2 for a map). */
void pqt_write_list_begin(pqt_writer *w, int elem_type, uint32_t n);
void pqt_write_set_begin(pqt_writer *w, int elem_type, uint32_t n);
void pqt_write_map_begin(pqt_writer *w, int key_type, int val_type, uint32_t n);

/* ---- Reader ---- */

typedef struct pqt_reader {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* one past the last byte */
	const uint8_t *start;
	int depth;
	int16_t last_id[PQT_MAX_DEPTH + 1];
	int8_t pending_bool; /* value from the last bool field header, -1 none */
	/* Set with PQT_MISSING_FIELD: static "Struct.field". */
	const char *missing;
} pqt_reader;

void pqt_reader_init(pqt_reader *r, const void *data, size_t len);
static inline size_t pqt_reader_pos(const pqt_reader *r)
{
	return (size_t)(r->p - r->start);
}

int pqt_read_struct_begin(pqt_reader *r);
/* Call after pqt_read_field returned type PQT_STOP. */
int pqt_read_struct_end(pqt_reader *r);
/* Next field header; *type is PQT_STOP at the end of the struct, PQT_BOOL
 * for both bool wire types (read the value with pqt_read_bool). */
int pqt_read_field(pqt_reader *r, int16_t *id, int *type);

/* After a bool field header, returns its value; otherwise (list elements)
 * reads one byte: 1 is true, 0 and 2 are false, anything else an error. */
int pqt_read_bool(pqt_reader *r, bool *v);
int pqt_read_i8(pqt_reader *r, int8_t *v);
int pqt_read_i16(pqt_reader *r, int16_t *v);
int pqt_read_i32(pqt_reader *r, int32_t *v);
int pqt_read_i64(pqt_reader *r, int64_t *v);
int pqt_read_double(pqt_reader *r, double *v);
/* Points into the input; the length is checked against the bytes left. */
int pqt_read_binary(pqt_reader *r, pqt_bin *v);
/* Element counts are checked against the bytes left (every element takes
 * at least one byte, two for a map entry) before they are returned, so a
 * caller may size an allocation by *n. Lists and sets share a header. */
int pqt_read_list_begin(pqt_reader *r, int *elem_type, uint32_t *n);
int pqt_read_map_begin(pqt_reader *r, int *key_type, int *val_type, uint32_t *n);

/* Skips one value of any type, recursively, with the checks above. Used for
 * fields a decoder does not know (files written by newer tools). */
int pqt_skip(pqt_reader *r, int type);

/* ---- Parquet structures (parquet.thrift) ---- */

enum pq_type {
	PQ_BOOLEAN = 0,
	PQ_INT32 = 1,
	PQ_INT64 = 2,
	PQ_INT96 = 3,
	PQ_FLOAT = 4,
	PQ_DOUBLE = 5,
	PQ_BYTE_ARRAY = 6,
	PQ_FIXED_LEN_BYTE_ARRAY = 7,
};

enum pq_converted_type {
	PQ_CT_UTF8 = 0,
	PQ_CT_MAP = 1,
	PQ_CT_MAP_KEY_VALUE = 2,
	PQ_CT_LIST = 3,
	PQ_CT_ENUM = 4,
	PQ_CT_DECIMAL = 5,
	PQ_CT_DATE = 6,
	PQ_CT_TIME_MILLIS = 7,
	PQ_CT_TIME_MICROS = 8,
	PQ_CT_TIMESTAMP_MILLIS = 9,
	PQ_CT_TIMESTAMP_MICROS = 10,
	PQ_CT_UINT_8 = 11,
	PQ_CT_UINT_16 = 12,
	PQ_CT_UINT_32 = 13,
	PQ_CT_UINT_64 = 14,
	PQ_CT_INT_8 = 15,
	PQ_CT_INT_16 = 16,
	PQ_CT_INT_32 = 17,
	PQ_CT_INT_64 = 18,
	PQ_CT_JSON = 19,
	PQ_CT_BSON = 20,
	PQ_CT_INTERVAL = 21,
};

enum pq_field_repetition {
	PQ_REQUIRED = 0,
	PQ_OPTIONAL = 1,
	PQ_REPEATED = 2,
};

enum pq_encoding {
	PQ_ENC_PLAIN = 0,
	/* 1 was GROUP_VAR_INT, never used */
	PQ_ENC_PLAIN_DICTIONARY = 2,
	PQ_ENC_RLE = 3,
	PQ_ENC_BIT_PACKED = 4,
	PQ_ENC_DELTA_BINARY_PACKED = 5,
	PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
	PQ_ENC_DELTA_BYTE_ARRAY = 7,
	PQ_ENC_RLE_DICTIONARY = 8,
	PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

enum pq_compression {
	PQ_CODEC_UNCOMPRESSED = 0,
	PQ_CODEC_SNAPPY = 1,
	PQ_CODEC_GZIP = 2,
	PQ_CODEC_LZO = 3,
	PQ_CODEC_BROTLI = 4,
	PQ_CODEC_LZ4 = 5,
	PQ_CODEC_ZSTD = 6,
	PQ_CODEC_LZ4_RAW = 7,
};

enum pq_page_type {
	PQ_PAGE_DATA = 0,
	PQ_PAGE_INDEX = 1,
	PQ_PAGE_DICTIONARY = 2,
	PQ_PAGE_DATA_V2 = 3,
};

/* Enum-typed fields are kept as int32_t: decoders do not refuse values they
 * do not know (a newer writer may add encodings); the caller decides. All
 * fields are optional in Statistics, hence a has_ flag per field. */
typedef struct pq_statistics {
	bool has_max, has_min, has_null_count, has_distinct_count;
	bool has_max_value, has_min_value, has_is_max_value_exact, has_is_min_value_exact;
	pqt_bin max, min; /* deprecated, ids 1 and 2 */
	int64_t null_count, distinct_count;
	pqt_bin max_value, min_value;
	bool is_max_value_exact, is_min_value_exact;
} pq_statistics;

typedef struct pq_data_page_header {
	int32_t num_values;
	int32_t encoding;
	int32_t definition_level_encoding;
	int32_t repetition_level_encoding;
	bool has_statistics;
	pq_statistics statistics;
} pq_data_page_header;

typedef struct pq_dictionary_page_header {
	int32_t num_values;
	int32_t encoding;
	bool has_is_sorted;
	bool is_sorted;
} pq_dictionary_page_header;

typedef struct pq_data_page_header_v2 {
	int32_t num_values;
	int32_t num_nulls;
	int32_t num_rows;
	int32_t encoding;
	int32_t definition_levels_byte_length;
	int32_t repetition_levels_byte_length;
	bool is_compressed; /* optional, default true; the encoder omits true */
	bool has_statistics;
	pq_statistics statistics;
} pq_data_page_header_v2;

typedef struct pq_page_header {
	int32_t type; /* enum pq_page_type */
	int32_t uncompressed_page_size;
	int32_t compressed_page_size;
	bool has_crc;
	int32_t crc;
	bool has_data_page_header, has_dictionary_page_header, has_data_page_header_v2;
	pq_data_page_header data_page_header;
	pq_dictionary_page_header dictionary_page_header;
	pq_data_page_header_v2 data_page_header_v2;
	/* index_page_header (id 6) is an empty struct; decoders skip it. */
} pq_page_header;

/* Encoders append one complete struct and return pqt_writer_error(w). */
int pq_statistics_encode(pqt_writer *w, const pq_statistics *s);
int pq_data_page_header_encode(pqt_writer *w, const pq_data_page_header *h);
int pq_dictionary_page_header_encode(pqt_writer *w, const pq_dictionary_page_header *h);
int pq_data_page_header_v2_encode(pqt_writer *w, const pq_data_page_header_v2 *h);
int pq_page_header_encode(pqt_writer *w, const pq_page_header *h);

/* Decoders read one struct at r, skip unknown fields (and known ids with an
 * unexpected wire type, as generated Thrift code does) and check required
 * fields (PQT_MISSING_FIELD with r->missing set). Binary fields point into
 * the reader's input. The output is only meaningful on PQT_OK. */
int pq_statistics_decode(pqt_reader *r, pq_statistics *s);
int pq_data_page_header_decode(pqt_reader *r, pq_data_page_header *h);
int pq_dictionary_page_header_decode(pqt_reader *r, pq_dictionary_page_header *h);
int pq_data_page_header_v2_decode(pqt_reader *r, pq_data_page_header_v2 *h);
int pq_page_header_decode(pqt_reader *r, pq_page_header *h);

/* Decodes the page header at the start of buf; *used (may be NULL) gets
 * its size, i.e. where the page data begins. On PQT_MISSING_FIELD *missing
 * (may be NULL) names the field. */
int pq_page_header_parse(const void *buf, size_t len, pq_page_header *h, size_t *used,
                         const char **missing);

#endif
