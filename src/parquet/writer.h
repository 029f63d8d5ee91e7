/* writer.h - streaming Parquet writer for minidb's snapshot layout.
 *
 * Hand-written from the Apache Parquet specification because no C library
 * for Parquet is packaged in Debian.
 *
 * Schema (one row per key):
 *   required binary key;                  STRING (+ UTF8) if every key is UTF-8
 *   required binary value;                STRING (+ UTF8) if every value is UTF-8
 *   optional int64 expires_at;            TIMESTAMP(MILLIS, UTC), NULL = no expiry
 * The STRING annotation is decided per column when the footer is written
 * (last), so a single binary key or value anywhere keeps its column plain
 * BYTE_ARRAY (readers then show BLOB).
 *
 * Layout: "PAR1", row groups, footer, footer length, "PAR1". Each row group
 * holds one column chunk per column, each a run of version-1 data pages
 * (PLAIN values; expires_at's definition levels in the RLE/bit-packing
 * hybrid), compressed with the chosen codec, each with a CRC32 when
 * page_crc. Column chunks carry statistics (min/max, null count; byte-array
 * bounds truncated to stats_max_bytes and then marked inexact). A row group
 * is buffered (compressed) until it reaches row_group_bytes of uncompressed
 * data or row_group_rows rows, then written: memory use is bounded by the
 * options, not by the number of rows.
 *
 * Error convention: functions return 0 or a negative errno (-EINVAL for a
 * value the format cannot hold, -ENOMEM, or what the write function
 * returned); pqw_error() then describes it. Errors are sticky: every later
 * call fails the same way. Not thread-safe (one writer per thread).
 */
#ifndef MINIDB_PARQUET_WRITER_H
#define MINIDB_PARQUET_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet/metadata.h"

/* Writes all of buf or fails: 0 or -errno. */
typedef int (*pqw_write_fn)(void *arg, const void *buf, size_t len);

typedef struct pqw_options {
	int32_t codec;           /* enum pq_compression; default PQ_CODEC_ZSTD */
	int level;               /* 0: the codec's default */
	size_t page_bytes;       /* target uncompressed bytes per data page; 1 MiB */
	size_t row_group_bytes;  /* uncompressed bytes buffered per row group; 64 MiB */
	uint64_t row_group_rows; /* rows per row group at most; 1,000,000 */
	bool page_crc;           /* CRC32 in every page header; true */
	size_t stats_max_bytes;  /* longest min/max kept in statistics; 64 */
	const char *created_by;  /* NULL: "minidb version <MINIDB_VERSION>" */
	/* Extra footer key/value metadata (e.g. "minidb.seq"), copied at open. */
	const pq_key_value *kv;
	size_t num_kv;
} pqw_options;

void pqw_options_init(pqw_options *o);

typedef struct pqw pqw;

/* Writes the leading magic through fn at the first pqw_add or pqw_finish.
 * NULL when out of memory or when the options are invalid (unsupported
 * codec, zero sizes). */
pqw *pqw_open(const pqw_options *o, pqw_write_fn fn, void *arg);

/* A pqw_write_fn for a file descriptor: arg points to an int fd; writes
 * with write(2), retrying on EINTR and short writes. */
int pqw_write_fd(void *arg, const void *buf, size_t len);

/* Appends one row. expires_ms is a Unix time in milliseconds, used only
 * when has_expiry. Keys and values up to 1 GiB - 1; copied, so the caller's
 * buffers may be reused at once. */
int pqw_add(pqw *w, const void *key, size_t klen, const void *val, size_t vlen, bool has_expiry,
            int64_t expires_ms);

/* Writes the last row group, the footer and the trailing magic. Does not
 * fsync or close anything. After it, only pqw_free and the getters. */
int pqw_finish(pqw *w);

const char *pqw_error(const pqw *w);
uint64_t pqw_rows(const pqw *w);
uint64_t pqw_bytes_written(const pqw *w); /* handed to fn so far */

void pqw_free(pqw *w);

#endif
