/* compress.h - page compression codecs of Parquet, over Debian's libraries:
 * libzstd (ZSTD), libsnappy's C API (SNAPPY), zlib (GZIP), libbrotli
 * (BROTLI) and liblz4 (LZ4_RAW: a bare LZ4 block). No codec is
 * hand-written. The legacy LZ4 codec (Hadoop framing) and LZO are not
 * supported: they give PQC_UNSUPPORTED, never a guess.
 *
 * Error convention: functions return a pq_codec_status (PQC_OK is 0);
 * pq_codec_strerror() gives a static message. Thread-safe; no global state.
 */
#ifndef MINIDB_PARQUET_COMPRESS_H
#define MINIDB_PARQUET_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum pq_codec_status {
	PQC_OK = 0,
	PQC_UNSUPPORTED = 1,   /* codec id this build cannot handle */
	PQC_CORRUPT = 2,       /* the library refused the compressed bytes */
	PQC_SIZE_MISMATCH = 3, /* decompressed size differs from the expected size */
	PQC_NO_SPACE = 4,      /* output buffer too small */
	PQC_NO_MEMORY = 5,
	PQC_TOO_LARGE = 6, /* input above what the library accepts (e.g. 4 GiB) */
} pq_codec_status;

const char *pq_codec_strerror(int status);

/* 1 when pq_compress/pq_decompress handle codec (enum pq_compression):
 * UNCOMPRESSED, SNAPPY, GZIP, BROTLI, ZSTD, LZ4_RAW. */
int pq_codec_supported(int32_t codec);

/* Upper bound of the compressed size of len bytes; 0 for an unsupported
 * codec or a len the library cannot take. */
size_t pq_compress_bound(int32_t codec, size_t len);

/* Compresses in[0..len) into out[0..cap). level 0 picks the codec's
 * default (zstd 3, gzip 6, brotli 5); it is ignored by codecs without
 * levels. A cap of pq_compress_bound() is always enough. */
int pq_compress(int32_t codec, int level, const void *in, size_t len, void *out, size_t cap,
                size_t *out_len);

/* Decompresses in[0..len) into out, which holds exactly expected bytes (the
 * page header's uncompressed size): anything else, shorter or longer, is
 * PQC_SIZE_MISMATCH, and nothing is written past out + expected. GZIP
 * accepts gzip members (several, concatenated) and zlib streams. */
int pq_decompress(int32_t codec, const void *in, size_t len, void *out, size_t expected);

#endif
