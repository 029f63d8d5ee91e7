/* encoding.h - Parquet value and level encodings: ULEB128/zigzag, the
 * RLE/bit-packing hybrid, PLAIN and the DELTA_* encodings.
 *
 * Hand-written from the Apache Parquet specification (Encodings.md) because
 * no C library for Parquet is packaged in Debian. No I/O, no global state.
 *
 * Error convention: every function that can fail returns a pq_enc_status
 * (PQE_OK is 0); pq_enc_strerror() gives a static message. Decoders never
 * read past in + len, never write past the caller's count, and never
 * allocate from a number read from the input before checking it against a
 * bound the caller chose. Outputs are only meaningful when PQE_OK returned.
 * Encoders write into a caller buffer of cap bytes and return PQE_NO_SPACE
 * if it is too small; *len is the number of bytes written.
 */
#ifndef MINIDB_PARQUET_ENCODING_H
#define MINIDB_PARQUET_ENCODING_H

#include <stddef.h>
#include <stdint.h>

typedef enum pq_enc_status {
	PQE_OK = 0,
	PQE_TRUNCATED = 1,       /* input ends before the encoding says it does */
	PQE_VARINT_OVERFLOW = 2, /* ULEB128 longer than 10 bytes or above 2^64-1 */
	PQE_BAD_BIT_WIDTH = 3,   /* bit width above 32 (64 for INT64 deltas) */
	PQE_RUN_TOO_LONG = 4,    /* a hybrid run is empty or above 2^31-1 values */
	PQE_COUNT_MISMATCH = 5,  /* value count differs from the caller's */
	PQE_NO_SPACE = 6,        /* output buffer too small */
	PQE_BAD_VALUE = 7,       /* value does not fit the bit width */
	PQE_BAD_HEADER = 8,      /* DELTA header: impossible block/miniblock sizes */
	PQE_BAD_LENGTH = 9,      /* negative or impossible byte-array length/prefix */
	PQE_NO_MEMORY = 10,
} pq_enc_status;

const char *pq_enc_strerror(int status);

/* A byte-array value; decoders point ptr into their input (or arena). */
typedef struct pq_bytes {
	const uint8_t *ptr;
	uint32_t len;
} pq_bytes;

#define PQ_ULEB_MAX 10u         /* bytes in the longest ULEB128 of a uint64 */
#define PQ_MAX_RUN  0x7fffffffu /* spec: run lengths are in [1, 2^31-1] */

/* ULEB128. Decoding advances *p and refuses to read at or past end. */
size_t pq_uleb_encode(uint64_t v, uint8_t out[PQ_ULEB_MAX]);
int pq_uleb_decode(const uint8_t **p, const uint8_t *end, uint64_t *v);

static inline uint64_t pq_zigzag_encode(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t pq_zigzag_decode(uint64_t v)
{
	return (int64_t)((v >> 1) ^ (0 - (v & 1)));
}

/* RLE/bit-packing hybrid without a length prefix. bit_width is 0..32 and
 * every value must be below 2^bit_width. Runs of 8 or more equal values
 * become RLE runs, the rest groups of 8 bit-packed values (the last group
 * padded with zeros). pq_hybrid_max_size bounds the output size. */
size_t pq_hybrid_max_size(size_t n, unsigned bit_width);
int pq_hybrid_encode(const uint32_t *vals, size_t n, unsigned bit_width, uint8_t *out, size_t cap,
                     size_t *len);

/* Decodes exactly count values into out. The last run may reach past count,
 * as real writers pad it (DuckDB by up to about 250 values): the values past
 * count are ignored, and of a bit-packed run only the bytes of the values
 * taken must be present. *used (may be NULL) is the number of input bytes
 * consumed: to the end of the last run, or to len when that run is cut
 * short by the end of the input. */
int pq_hybrid_decode(const uint8_t *in, size_t len, unsigned bit_width, uint32_t *out, size_t count,
                     size_t *used);

/* The same with the 4-byte little-endian length prefix of data page v1
 * levels; decoding requires the values taken to fit inside the declared
 * length, and *used is always 4 + that length. */
int pq_hybrid_encode_prefixed(const uint32_t *vals, size_t n, unsigned bit_width, uint8_t *out,
                              size_t cap, size_t *len);
int pq_hybrid_decode_prefixed(const uint8_t *in, size_t len, unsigned bit_width, uint32_t *out,
                              size_t count, size_t *used);

/* Dictionary indices: one byte of bit width (<= 32), then the hybrid,
 * decoded as leniently as pq_hybrid_decode. The decoder also refuses an
 * index >= dict_size (PQE_BAD_VALUE). */
int pq_dict_indices_encode(const uint32_t *idx, size_t n, unsigned bit_width, uint8_t *out,
                           size_t cap, size_t *len);
int pq_dict_indices_decode(const uint8_t *in, size_t len, uint32_t dict_size, uint32_t *out,
                           size_t count, size_t *used);

/* PLAIN. Booleans are one byte each (0 or 1) in memory, bit-packed LSB
 * first on disk; the decoder ignores the padding bits of the last byte.
 * Byte-array decoding points into in; no copy. */
int pq_plain_int32_encode(const int32_t *v, size_t n, uint8_t *out, size_t cap, size_t *len);
int pq_plain_int32_decode(const uint8_t *in, size_t len, int32_t *out, size_t count, size_t *used);
int pq_plain_int64_encode(const int64_t *v, size_t n, uint8_t *out, size_t cap, size_t *len);
int pq_plain_int64_decode(const uint8_t *in, size_t len, int64_t *out, size_t count, size_t *used);
int pq_plain_bool_encode(const uint8_t *v, size_t n, uint8_t *out, size_t cap, size_t *len);
int pq_plain_bool_decode(const uint8_t *in, size_t len, uint8_t *out, size_t count, size_t *used);
int pq_plain_bytes_encode(const pq_bytes *v, size_t n, uint8_t *out, size_t cap, size_t *len);
int pq_plain_bytes_decode(const uint8_t *in, size_t len, pq_bytes *out, size_t count, size_t *used);

/* DELTA_BINARY_PACKED decoders. The header's total count must be <= max
 * (else PQE_COUNT_MISMATCH); *count receives it. pq_delta_peek_count reads
 * only the header so a caller can check the count before sizing out. */
int pq_delta_peek_count(const uint8_t *in, size_t len, uint64_t *count);
int pq_delta_decode_int32(const uint8_t *in, size_t len, int32_t *out, size_t max, size_t *count,
                          size_t *used);
int pq_delta_decode_int64(const uint8_t *in, size_t len, int64_t *out, size_t max, size_t *count,
                          size_t *used);

/* DELTA_LENGTH_BYTE_ARRAY: values point into in. */
int pq_delta_length_decode(const uint8_t *in, size_t len, pq_bytes *out, size_t max, size_t *count,
                           size_t *used);

/* DELTA_BYTE_ARRAY: values are rebuilt (prefix of the previous value plus
 * suffix) into arena, which must hold their total size (else PQE_NO_SPACE:
 * prefixes can make the output quadratic in the input). Values point into
 * arena. Allocates a scratch array of at most max uint32s. */
int pq_delta_byte_array_decode(const uint8_t *in, size_t len, pq_bytes *out, size_t max,
                               size_t *count, uint8_t *arena, size_t arena_cap, size_t *used);

/* DELTA encoders: blocks of 128 values in 4 miniblocks of 32 (as arrow-rs
 * writes them). pq_delta_max_size bounds one delta stream of n values of
 * width 32 or 64; the byte-array forms need that per stream (two for
 * DELTA_BYTE_ARRAY) plus the bytes. Lengths above INT32_MAX are refused. */
size_t pq_delta_max_size(size_t n, unsigned width);
int pq_delta_encode_int32(const int32_t *v, size_t n, uint8_t *out, size_t cap, size_t *len);
int pq_delta_encode_int64(const int64_t *v, size_t n, uint8_t *out, size_t cap, size_t *len);
int pq_delta_length_encode(const pq_bytes *v, size_t n, uint8_t *out, size_t cap, size_t *len);
int pq_delta_byte_array_encode(const pq_bytes *v, size_t n, uint8_t *out, size_t cap, size_t *len);

#endif
