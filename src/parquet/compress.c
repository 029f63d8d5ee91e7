/* compress.c - Parquet page codecs, a thin layer over Debian's libraries
 * (libzstd, libsnappy's C API, zlib, libbrotli, liblz4): this file decides
 * Parquet's semantics on top of them, not the formats themselves.
 *
 * Invariants: every size is at most INT32_MAX (Parquet page headers hold
 * sizes as i32), which also keeps every size_t -> int / uInt conversion
 * below exact; decompression writes into exactly `expected` bytes and never
 * past them. Where a library cannot tell "more output than expected" from
 * "corrupt" (zlib, brotli), decoding continues into a small stack scratch
 * buffer once the caller's buffer is full: any byte landing there is a size
 * mismatch. Contexts are created per call, so the API keeps no state.
 */
#include "parquet/compress.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "parquet/thrift.h"

/* Parquet's page sizes are i32; nothing larger can be a page. */
#define PQC_MAX_LEN ((size_t)INT32_MAX)

_Static_assert(PQC_MAX_LEN <= UINT_MAX, "zlib's uInt must hold every accepted size");
_Static_assert(LZ4_MAX_INPUT_SIZE <= INT32_MAX, "LZ4 limit below the common limit");

/* Once the caller's buffer is full, streaming decoders write here. */
#define PROBE_LEN 64

const char *pq_codec_strerror(int status)
{
	switch (status) {
	case PQC_OK:
		return "ok";
	case PQC_UNSUPPORTED:
		return "unsupported compression codec";
	case PQC_CORRUPT:
		return "corrupt compressed data";
	case PQC_SIZE_MISMATCH:
		return "decompressed size differs from the expected size";
	case PQC_NO_SPACE:
		return "output buffer too small";
	case PQC_NO_MEMORY:
		return "out of memory";
	case PQC_TOO_LARGE:
		return "input too large for the codec";
	default:
		return "unknown codec status";
	}
}

int pq_codec_supported(int32_t codec)
{
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
	case PQ_CODEC_SNAPPY:
	case PQ_CODEC_GZIP:
	case PQ_CODEC_BROTLI:
	case PQ_CODEC_ZSTD:
	case PQ_CODEC_LZ4_RAW:
		return 1;
	default:
		return 0;
	}
}

size_t pq_compress_bound(int32_t codec, size_t len)
{
	if (!pq_codec_supported(codec) || len > PQC_MAX_LEN)
		return 0;
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		return len;
	case PQ_CODEC_SNAPPY:
		return snappy_max_compressed_length(len);
	case PQ_CODEC_GZIP:
		/* compressBound() counts zlib's 6-byte wrapper; gzip's is 18. */
		return compressBound((uLong)len) + 12;
	case PQ_CODEC_BROTLI:
		return BrotliEncoderMaxCompressedSize(len);
	case PQ_CODEC_ZSTD: {
		size_t b = ZSTD_compressBound(len);
		return ZSTD_isError(b) ? 0 : b;
	}
	case PQ_CODEC_LZ4_RAW:
		if (len > LZ4_MAX_INPUT_SIZE)
			return 0;
		return (size_t)LZ4_compressBound((int)len);
	}
	return 0;
}

static int clamp_level(int level, int dflt, int lo, int hi)
{
	if (level == 0)
		return dflt;
	return level < lo ? lo : level > hi ? hi : level;
}

static int compress_gzip(int level, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                         size_t *out_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952), not zlib's. */
	if (deflateInit2(&zs, clamp_level(level, 6, 1, 9), Z_DEFLATED, 15 + 16, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return PQC_NO_MEMORY;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)(cap < UINT_MAX ? cap : UINT_MAX);
	int rc = deflate(&zs, Z_FINISH);
	int st = PQC_OK;
	if (rc == Z_STREAM_END)
		*out_len = (size_t)(zs.next_out - out);
	else if (rc == Z_OK || rc == Z_BUF_ERROR)
		st = PQC_NO_SPACE; /* Z_FINISH returns Z_OK when output ran out */
	else
		st = PQC_NO_MEMORY;
	deflateEnd(&zs);
	return st;
}

/* Gzip members (any number, concatenated) or a zlib stream. */
static int decompress_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t expected)
{
	uint8_t probe[PROBE_LEN];
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 32) != Z_OK) /* 15 + 32: detect gzip or zlib */
		return PQC_NO_MEMORY;
	zs.next_in = (Bytef *)in;
	size_t done = 0;
	int st;
	for (;;) {
		zs.avail_in = (uInt)(len - (size_t)(zs.next_in - in));
		if (done < expected) {
			zs.next_out = out + done;
			zs.avail_out = (uInt)(expected - done);
		} else {
			zs.next_out = probe;
			zs.avail_out = sizeof(probe);
		}
		size_t before = done;
		int rc = inflate(&zs, Z_NO_FLUSH);
		if (before < expected) {
			done = expected - zs.avail_out;
		} else if (zs.avail_out != sizeof(probe)) {
			st = PQC_SIZE_MISMATCH; /* the stream holds more than expected */
			break;
		}
		if (rc == Z_STREAM_END) {
			if (zs.avail_in == 0) {
				st = done == expected ? PQC_OK : PQC_SIZE_MISMATCH;
				break;
			}
			/* Another member follows; trailing junk fails its header check. */
			if (inflateReset(&zs) != Z_OK) {
				st = PQC_CORRUPT;
				break;
			}
			continue;
		}
		if (rc == Z_OK)
			continue; /* progress was made */
		/* Z_BUF_ERROR: output always has room, so the input ended early. */
		st = rc == Z_MEM_ERROR ? PQC_NO_MEMORY : PQC_CORRUPT;
		break;
	}
	inflateEnd(&zs);
	return st;
}

static int compress_brotli(int level, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                           size_t *out_len)
{
	/* Quality 0 and 1 may exceed BrotliEncoderMaxCompressedSize(): floor at 2. */
	int quality = clamp_level(level, 5, 2, BROTLI_MAX_QUALITY);
	size_t n = cap;
	if (!BrotliEncoderCompress(quality, 22, BROTLI_MODE_GENERIC, len, in, &n, out)) {
		size_t bound = BrotliEncoderMaxCompressedSize(len);
		return bound && cap >= bound ? PQC_NO_MEMORY : PQC_NO_SPACE;
	}
	*out_len = n;
	return PQC_OK;
}

static int decompress_brotli(const uint8_t *in, size_t len, uint8_t *out, size_t expected)
{
	uint8_t probe[PROBE_LEN];
	BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
	if (!s)
		return PQC_NO_MEMORY;
	const uint8_t *next_in = in;
	size_t avail_in = len;
	size_t done = 0;
	int st;
	for (;;) {
		uint8_t *next_out;
		size_t avail_out;
		if (done < expected) {
			next_out = out + done;
			avail_out = expected - done;
		} else {
			next_out = probe;
			avail_out = sizeof(probe);
		}
		size_t room = avail_out, in_before = avail_in;
		BrotliDecoderResult r = BrotliDecoderDecompressStream(s, &avail_in, &next_in,
		                                                      &avail_out, &next_out, NULL);
		if (done < expected) {
			done += room - avail_out;
		} else if (avail_out != room) {
			st = PQC_SIZE_MISMATCH;
			break;
		}
		if (r == BROTLI_DECODER_RESULT_SUCCESS) {
			if (avail_in != 0)
				st = PQC_CORRUPT; /* bytes after the end of the stream */
			else
				st = done == expected ? PQC_OK : PQC_SIZE_MISMATCH;
			break;
		}
		if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
			if (avail_out == room && avail_in == in_before) {
				st = PQC_CORRUPT; /* no progress although there was room */
				break;
			}
			continue;
		}
		if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
			st = PQC_CORRUPT; /* all input was given: truncated */
			break;
		}
		int code = (int)BrotliDecoderGetErrorCode(s);
		st = code <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
		                     code >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES
		             ? PQC_NO_MEMORY
		             : PQC_CORRUPT;
		break;
	}
	BrotliDecoderDestroyInstance(s);
	return st;
}

static int compress_zstd(int level, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                         size_t *out_len)
{
	level = clamp_level(level, ZSTD_CLEVEL_DEFAULT, ZSTD_minCLevel(), ZSTD_maxCLevel());
	size_t n = ZSTD_compress(out, cap, in, len, level);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? PQC_NO_SPACE
		                                                           : PQC_NO_MEMORY;
	*out_len = n;
	return PQC_OK;
}

/* One or more frames; a frame may omit its content size. Single-shot
 * decoding uses the output as its window, so no window is allocated. */
static int decompress_zstd(const uint8_t *in, size_t len, uint8_t *out, size_t expected)
{
	unsigned long long fcs = ZSTD_getFrameContentSize(in, len);
	if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != ZSTD_CONTENTSIZE_ERROR && fcs > expected)
		return PQC_SIZE_MISMATCH; /* later frames can only add to it */
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	if (!dctx)
		return PQC_NO_MEMORY;
	size_t n = ZSTD_decompressDCtx(dctx, out, expected, in, len);
	ZSTD_freeDCtx(dctx);
	if (ZSTD_isError(n)) {
		switch (ZSTD_getErrorCode(n)) {
		case ZSTD_error_dstSize_tooSmall:
			return PQC_SIZE_MISMATCH;
		case ZSTD_error_memory_allocation:
			return PQC_NO_MEMORY;
		default:
			return PQC_CORRUPT;
		}
	}
	return n == expected ? PQC_OK : PQC_SIZE_MISMATCH;
}

static int decompress_snappy(const uint8_t *in, size_t len, uint8_t *out, size_t expected)
{
	size_t n;
	if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK)
		return PQC_CORRUPT;
	if (n != expected)
		return PQC_SIZE_MISMATCH;
	/* snappy checks that the output fills exactly the announced length. */
	if (snappy_uncompress((const char *)in, len, (char *)out, &n) != SNAPPY_OK || n != expected)
		return PQC_CORRUPT;
	return PQC_OK;
}

static int decompress_lz4_raw(const uint8_t *in, size_t len, uint8_t *out, size_t expected)
{
	int n = LZ4_decompress_safe((const char *)in, (char *)out, (int)len, (int)expected);
	if (n >= 0)
		return (size_t)n == expected ? PQC_OK : PQC_SIZE_MISMATCH;
	/* LZ4 reports "does not fit" like any other error. If the block decodes
	 * validly past the buffer (into one scratch byte when expected is 0),
	 * call it too long; else corrupt. This rerun is only on the error path. */
	uint8_t one[1];
	uint8_t *dst = expected ? out : one;
	int target = expected ? (int)expected : 1;
	if (LZ4_decompress_safe_partial((const char *)in, (char *)dst, (int)len, target, target) ==
	    target)
		return PQC_SIZE_MISMATCH;
	return PQC_CORRUPT;
}

int pq_compress(int32_t codec, int level, const void *in, size_t len, void *out, size_t cap,
                size_t *out_len)
{
	static const uint8_t empty[1];
	uint8_t dummy[1];
	const uint8_t *src = len ? in : empty;
	uint8_t *dst = cap ? out : dummy;

	*out_len = 0;
	if (!pq_codec_supported(codec))
		return PQC_UNSUPPORTED;
	if (len > PQC_MAX_LEN)
		return PQC_TOO_LARGE;
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		if (cap < len)
			return PQC_NO_SPACE;
		if (len)
			memcpy(dst, src, len);
		*out_len = len;
		return PQC_OK;
	case PQ_CODEC_SNAPPY: {
		size_t n = cap;
		snappy_status s = snappy_compress((const char *)src, len, (char *)dst, &n);
		if (s == SNAPPY_BUFFER_TOO_SMALL)
			return PQC_NO_SPACE;
		if (s != SNAPPY_OK)
			return PQC_NO_MEMORY;
		*out_len = n;
		return PQC_OK;
	}
	case PQ_CODEC_GZIP:
		return compress_gzip(level, src, len, dst, cap, out_len);
	case PQ_CODEC_BROTLI:
		return compress_brotli(level, src, len, dst, cap, out_len);
	case PQ_CODEC_ZSTD:
		return compress_zstd(level, src, len, dst, cap, out_len);
	case PQ_CODEC_LZ4_RAW: {
		if (len > LZ4_MAX_INPUT_SIZE)
			return PQC_TOO_LARGE;
		/* LZ4 works on the stack and fails only for lack of room. */
		int n = LZ4_compress_default((const char *)src, (char *)dst, (int)len,
		                             (int)(cap < INT_MAX ? cap : INT_MAX));
		if (n <= 0)
			return PQC_NO_SPACE;
		*out_len = (size_t)n;
		return PQC_OK;
	}
	}
	return PQC_UNSUPPORTED;
}

int pq_decompress(int32_t codec, const void *in, size_t len, void *out, size_t expected)
{
	static const uint8_t empty[1];
	uint8_t dummy[1];
	const uint8_t *src = len ? in : empty;
	uint8_t *dst = expected ? out : dummy;

	if (!pq_codec_supported(codec))
		return PQC_UNSUPPORTED;
	if (len > PQC_MAX_LEN || expected > PQC_MAX_LEN)
		return PQC_TOO_LARGE;
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		if (len != expected)
			return PQC_SIZE_MISMATCH;
		if (len)
			memcpy(dst, src, len);
		return PQC_OK;
	case PQ_CODEC_SNAPPY:
		return decompress_snappy(src, len, dst, expected);
	case PQ_CODEC_GZIP:
		return decompress_gzip(src, len, dst, expected);
	case PQ_CODEC_BROTLI:
		return decompress_brotli(src, len, dst, expected);
	case PQ_CODEC_ZSTD:
		return decompress_zstd(src, len, dst, expected);
	case PQ_CODEC_LZ4_RAW:
		return decompress_lz4_raw(src, len, dst, expected);
	}
	return PQC_UNSUPPORTED;
}
