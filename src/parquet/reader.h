/* reader.h - Parquet reader: the footer, the schema tree, and a row cursor
 * over a key, a value and an optional expiry column.
 *
 * Hand-written from the Apache Parquet specification because no C library
 * for Parquet is packaged in Debian.
 *
 * Reads files from our writer and from other tools: version-1 and
 * version-2 data pages, dictionary pages (PLAIN or PLAIN_DICTIONARY) with
 * RLE_DICTIONARY/PLAIN_DICTIONARY indices and fallback to other encodings
 * inside the same column chunk, PLAIN, DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY values, REQUIRED and
 * OPTIONAL columns at any nesting depth (definition levels in the hybrid
 * encoding, or the legacy BIT_PACKED), any number and size of pages, and
 * the codecs of compress.h. Repeated columns, encryption, external column
 * chunks, INT96 expiry and the like are refused with an error naming the
 * feature. Page CRCs are verified when present.
 *
 * Every offset and length read from the file is checked against the file
 * size and the limits before use or allocation; a damaged or hostile file
 * gives an error message naming what is wrong and where (byte offset,
 * row group, column), never a crash or a wrong row.
 *
 * Error convention: functions that can fail return NULL or a negative errno
 * (-EBADMSG for a malformed file, -ENOTSUP for an unsupported feature,
 * -ENOMEM, -E2BIG for a limit, or an I/O errno) with a message in err or
 * pqr_cursor_error(). A pqr_file and its cursors belong to one thread.
 */
#ifndef MINIDB_PARQUET_READER_H
#define MINIDB_PARQUET_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet/metadata.h"

typedef struct pqr_limits {
	size_t max_footer_bytes; /* FileMetaData size; 64 MiB */
	size_t max_page_bytes;   /* compressed or uncompressed page size; 1 GiB */
	size_t max_value_bytes;  /* one key or value; 512 MiB */
} pqr_limits;

void pqr_limits_init(pqr_limits *l);

typedef struct pqr_file pqr_file;

/* One leaf column of the schema, in file order. */
typedef struct pqr_column {
	const char *path; /* dotted path from below the root, e.g. "a.b.key" */
	const char *name; /* leaf name */
	const pq_schema_element *element;
	int max_def, max_rep;
} pqr_column;

/* Opens and checks the file: magic at both ends, footer length, the
 * FileMetaData, the schema tree (num_children consistent, one column chunk
 * per leaf in every row group), and every column chunk's offsets and sizes
 * against the file size. lim may be NULL (defaults). */
pqr_file *pqr_open(const char *path, const pqr_limits *lim, char *err, size_t errlen);
/* The same over a buffer, which must outlive the pqr_file. */
pqr_file *pqr_open_mem(const void *buf, size_t len, const pqr_limits *lim, char *err,
                       size_t errlen);
void pqr_close(pqr_file *f);

const pq_file_metadata *pqr_metadata(const pqr_file *f);
uint64_t pqr_file_size(const pqr_file *f);
size_t pqr_num_columns(const pqr_file *f);
const pqr_column *pqr_column_at(const pqr_file *f, size_t i);
/* Index of the column whose dotted path is name, else of the only leaf
 * called name; -1 when none, -2 when several leaves have that name. */
int pqr_find_column(const pqr_file *f, const char *name);
/* Value of footer key_value_metadata key as a NUL-terminated copy in buf;
 * -ENOENT when absent, -E2BIG when it does not fit. */
int pqr_kv_get(const pqr_file *f, const char *key, char *buf, size_t buflen);

typedef struct pqr_row {
	const uint8_t *key; /* valid until the next pqr_cursor_next */
	uint32_t key_len;
	bool key_null;
	const uint8_t *value;
	uint32_t value_len;
	bool value_null;
	bool has_expiry;    /* the expiry column exists and is not NULL here */
	int64_t expires_ms; /* Unix ms; micros and nanos are floored to ms */
} pqr_row;

typedef struct pqr_cursor pqr_cursor;

/* Rows of key_col and value_col (BYTE_ARRAY, any annotation) and, if
 * ttl_col >= 0, an INT64 expiry column (plain: milliseconds; TIMESTAMP
 * MILLIS/MICROS/NANOS). Column indexes are those of pqr_column_at. NULL
 * with a message when a column has an unsupported type or repetition. */
pqr_cursor *pqr_cursor_open(pqr_file *f, int key_col, int value_col, int ttl_col, char *err,
                            size_t errlen);
/* 1 with *row filled, 0 at the end of the file, or a negative errno with
 * pqr_cursor_error() set (then every later call returns it again). */
int pqr_cursor_next(pqr_cursor *c, pqr_row *row);
const char *pqr_cursor_error(const pqr_cursor *c);
void pqr_cursor_free(pqr_cursor *c);

#endif
