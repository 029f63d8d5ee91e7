/* encoding.c - Parquet value and level encodings, hand-written from the
 * Apache Parquet specification (parquet-format Encodings.md) because no C
 * library for Parquet is packaged in Debian.
 *
 * Hybrid stream: <run>*, run = ULEB(groups << 1 | 1) <groups * bit_width
 * bytes, values packed LSB first> | ULEB(count << 1) <value in
 * ceil(bit_width / 8) bytes LE>. DELTA_BINARY_PACKED: ULEB block size,
 * ULEB miniblocks per block, ULEB total count, zigzag first value, then per
 * block a zigzag min delta, one bit-width byte per miniblock and the
 * miniblocks (always full size, except that miniblocks after the last value
 * are absent). Every length read from the input is checked against the bytes
 * that remain and against the caller's count before it is used.
 */
#include "parquet/encoding.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The spec asks for blocks of a multiple of 128 values and miniblocks of a
 * multiple of 32; we only require what decoding needs (byte-aligned
 * miniblocks) so that the spec's own examples (block size 8) decode. The
 * block cap only keeps the header sane; nothing is allocated from it. */
#define DELTA_MAX_BLOCK (1u << 20)

static const char *const messages[] = {
        [PQE_OK] = "ok",
        [PQE_TRUNCATED] = "truncated input",
        [PQE_VARINT_OVERFLOW] = "varint overflows 64 bits",
        [PQE_BAD_BIT_WIDTH] = "bit width out of range",
        [PQE_RUN_TOO_LONG] = "run empty or longer than 2^31-1 values",
        [PQE_COUNT_MISMATCH] = "value count mismatch",
        [PQE_NO_SPACE] = "output buffer too small",
        [PQE_BAD_VALUE] = "value out of range",
        [PQE_BAD_HEADER] = "bad delta header",
        [PQE_BAD_LENGTH] = "bad byte-array length",
        [PQE_NO_MEMORY] = "out of memory",
};

const char *pq_enc_strerror(int status)
{
	if (status < 0 || (size_t)status >= sizeof(messages) / sizeof(messages[0]))
		return "unknown encoding error";
	return messages[status];
}

/* Output cursor with a sticky error: callers append, then check once. */
struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;
};

static uint8_t *w_reserve(struct wbuf *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		w->err = PQE_NO_SPACE;
		return NULL;
	}
	uint8_t *d = w->p + w->len;
	w->len += n;
	return d;
}

static void w_uleb(struct wbuf *w, uint64_t v)
{
	uint8_t tmp[PQ_ULEB_MAX];
	size_t n = pq_uleb_encode(v, tmp);
	uint8_t *d = w_reserve(w, n);
	if (d)
		memcpy(d, tmp, n);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t pq_uleb_encode(uint64_t v, uint8_t out[PQ_ULEB_MAX])
{
	size_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

int pq_uleb_decode(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t acc = 0;

	for (unsigned i = 0; i < PQ_ULEB_MAX; i++) {
		if (p == end)
			return PQE_TRUNCATED;
		uint8_t b = *p++;
		/* The tenth byte carries bit 63 only, and must end the number. */
		if (i == PQ_ULEB_MAX - 1 && b > 1)
			return PQE_VARINT_OVERFLOW;
		acc |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*pp = p;
			*v = acc;
			return PQE_OK;
		}
	}
	return PQE_VARINT_OVERFLOW; /* not reached: the tenth byte ends or fails */
}

/* Bit packing, LSB first. Widths go up to 64 for INT64 deltas; the region
 * has been bounds-checked by the caller, so these never look at lengths. */
static uint64_t unpack_one(const uint8_t *base, size_t bitpos, unsigned bw)
{
	uint64_t v = 0;
	unsigned got = 0;

	while (got < bw) {
		unsigned off = bitpos & 7;
		unsigned take = 8 - off;
		if (take > bw - got)
			take = bw - got;
		uint64_t bits = (uint64_t)(base[bitpos >> 3] >> off) & ((1u << take) - 1);
		v |= bits << got;
		got += take;
		bitpos += take;
	}
	return v;
}

static void pack_one(uint8_t *base, size_t bitpos, unsigned bw, uint64_t v)
{
	unsigned put = 0;

	while (put < bw) {
		unsigned off = bitpos & 7;
		unsigned take = 8 - off;
		if (take > bw - put)
			take = bw - put;
		base[bitpos >> 3] |= (uint8_t)(((v >> put) & ((1u << take) - 1)) << off);
		put += take;
		bitpos += take;
	}
}

/* The RLE / bit-packing hybrid. */

size_t pq_hybrid_max_size(size_t n, unsigned bit_width)
{
	/* Every run but the last covers at least 8 values; a run costs at most
	 * a 5-byte header plus max(4, bit_width) bytes per 8 values. */
	return (n / 8 + 1) * (5 + 4 + (size_t)bit_width);
}

static size_t run_length(const uint32_t *v, size_t i, size_t n)
{
	size_t j = i + 1;
	while (j < n && v[j] == v[i] && j - i < PQ_MAX_RUN)
		j++;
	return j - i;
}

static bool starts_run(const uint32_t *v, size_t i, size_t n)
{
	if (n - i < 8)
		return false;
	for (size_t k = 1; k < 8; k++)
		if (v[i + k] != v[i])
			return false;
	return true;
}

static int hybrid_encode(const uint32_t *vals, size_t n, unsigned bw, struct wbuf *w)
{
	size_t vbytes = (bw + 7) / 8;
	size_t i = 0;

	if (bw > 32)
		return PQE_BAD_BIT_WIDTH;
	if (bw < 32)
		for (size_t k = 0; k < n; k++)
			if (vals[k] >> bw)
				return PQE_BAD_VALUE;

	while (i < n && !w->err) {
		size_t r = run_length(vals, i, n);
		if (r >= 8) {
			w_uleb(w, (uint64_t)r << 1);
			uint8_t *d = w_reserve(w, vbytes);
			for (size_t b = 0; d && b < vbytes; b++)
				d[b] = (uint8_t)(vals[i] >> (8 * b));
			i += r;
			continue;
		}
		/* Groups of 8 until a run of 8 equal values starts at a group
		 * boundary; a run starting mid-group is packed (simpler, and
		 * costs at most 7 values of the run). */
		size_t groups = 0, j = i;
		do {
			j += 8;
			groups++;
		} while (j < n && groups < PQ_MAX_RUN / 8 && !starts_run(vals, j, n));
		size_t take = (j < n ? j : n) - i;
		w_uleb(w, (uint64_t)groups << 1 | 1);
		uint8_t *d = w_reserve(w, groups * bw);
		if (d) {
			memset(d, 0, groups * bw);
			for (size_t k = 0; k < take; k++)
				pack_one(d, k * bw, bw, vals[i + k]);
		}
		i += take;
	}
	return w->err;
}

int pq_hybrid_encode(const uint32_t *vals, size_t n, unsigned bit_width, uint8_t *out, size_t cap,
                     size_t *len)
{
	struct wbuf w = {.p = out, .cap = cap};
	int rc = hybrid_encode(vals, n, bit_width, &w);
	*len = w.len;
	return rc;
}

/* Unpacks n values of bw bits (LSB first) from q, which holds at least
 * ceil(n * bw / 8) bytes; no byte past those is read. An accumulator fed
 * a byte at a time decodes 2-3x faster than unpack_one per value (1M random
 * values, widths 1-32, gcc -O2); delta miniblocks keep unpack_one, as
 * their widths go up to 64 and would overflow the accumulator. */
static int unpack_run(const uint8_t *q, unsigned bw, uint64_t limit, uint32_t *out, size_t n)
{
	uint64_t acc = 0, mask = ((uint64_t)1 << bw) - 1;
	unsigned nbits = 0;

	for (size_t k = 0; k < n; k++) {
		while (nbits < bw) {
			acc |= (uint64_t)*q++ << nbits;
			nbits += 8;
		}
		uint64_t v = acc & mask;
		acc >>= bw;
		nbits -= bw;
		if (v >= limit)
			return PQE_BAD_VALUE;
		out[k] = (uint32_t)v;
	}
	return PQE_OK;
}

/* Decodes count values from [*pp, end); every value must be below limit and
 * fit bit_width. The end of the last run is read leniently, as real files
 * need it: DuckDB pads its last bit-packed run by up to about 250 values
 * past the page's value count. Values past count are ignored, and
 * only the bytes of the values taken must be present (*pp then stops at the
 * end of the run, or at end when the run is cut short there); an RLE run
 * longer than what is left is cut the same way. Empty runs, runs above the
 * spec's 2^31-1 values, wide values and truncation stay errors. */
static int hybrid_decode(const uint8_t **pp, const uint8_t *end, unsigned bw, uint64_t limit,
                         uint32_t *out, size_t count)
{
	const uint8_t *p = *pp;
	size_t vbytes = (bw + 7) / 8;
	size_t done = 0;
	int rc;

	if (bw > 32)
		return PQE_BAD_BIT_WIDTH;
	if (limit > (uint64_t)1 << bw)
		limit = (uint64_t)1 << bw;
	while (done < count) {
		uint64_t h, n;
		size_t left = count - done, take;

		if ((rc = pq_uleb_decode(&p, end, &h)) != PQE_OK)
			return rc;
		n = h >> 1;
		if (h & 1) {
			/* n groups of 8 values, n * bw bytes. */
			if (n == 0 || n > PQ_MAX_RUN / 8)
				return PQE_RUN_TOO_LONG;
			take = n > left / 8 ? left : (size_t)n * 8;
			if (((uint64_t)take * bw + 7) / 8 > (uint64_t)(end - p))
				return PQE_TRUNCATED;
			if ((rc = unpack_run(p, bw, limit, out + done, take)) != PQE_OK)
				return rc;
			p = n * bw > (uint64_t)(end - p) ? end : p + n * bw;
		} else {
			if (n == 0 || n > PQ_MAX_RUN)
				return PQE_RUN_TOO_LONG;
			take = n > left ? left : (size_t)n;
			if (vbytes > (size_t)(end - p))
				return PQE_TRUNCATED;
			uint64_t v = 0;
			for (size_t b = 0; b < vbytes; b++)
				v |= (uint64_t)p[b] << (8 * b);
			p += vbytes;
			if (v >= limit)
				return PQE_BAD_VALUE;
			for (size_t k = 0; k < take; k++)
				out[done + k] = (uint32_t)v;
		}
		done += take;
	}
	*pp = p;
	return PQE_OK;
}

int pq_hybrid_decode(const uint8_t *in, size_t len, unsigned bit_width, uint32_t *out, size_t count,
                     size_t *used)
{
	const uint8_t *p = in;
	int rc = hybrid_decode(&p, in + len, bit_width, UINT64_MAX, out, count);
	if (rc == PQE_OK && used)
		*used = (size_t)(p - in);
	return rc;
}

int pq_hybrid_encode_prefixed(const uint32_t *vals, size_t n, unsigned bit_width, uint8_t *out,
                              size_t cap, size_t *len)
{
	struct wbuf w = {.p = out, .cap = cap};
	uint8_t *hdr = w_reserve(&w, 4);
	int rc = hybrid_encode(vals, n, bit_width, &w);

	*len = w.len;
	if (rc != PQE_OK)
		return rc;
	if (w.len - 4 > UINT32_MAX)
		return PQE_NO_SPACE;
	put_le32(hdr, (uint32_t)(w.len - 4));
	return PQE_OK;
}

int pq_hybrid_decode_prefixed(const uint8_t *in, size_t len, unsigned bit_width, uint32_t *out,
                              size_t count, size_t *used)
{
	if (len < 4)
		return PQE_TRUNCATED;
	uint32_t body = get_le32(in);
	if (body > len - 4)
		return PQE_TRUNCATED;
	const uint8_t *p = in + 4;
	int rc = hybrid_decode(&p, p + body, bit_width, UINT64_MAX, out, count);
	if (rc == PQE_OK && used)
		*used = 4 + (size_t)body;
	return rc;
}

int pq_dict_indices_encode(const uint32_t *idx, size_t n, unsigned bit_width, uint8_t *out,
                           size_t cap, size_t *len)
{
	struct wbuf w = {.p = out, .cap = cap};
	int rc;

	*len = 0;
	if (bit_width > 32)
		return PQE_BAD_BIT_WIDTH;
	uint8_t *d = w_reserve(&w, 1);
	if (d)
		*d = (uint8_t)bit_width;
	rc = hybrid_encode(idx, n, bit_width, &w);
	*len = w.len;
	return rc;
}

int pq_dict_indices_decode(const uint8_t *in, size_t len, uint32_t dict_size, uint32_t *out,
                           size_t count, size_t *used)
{
	if (len < 1)
		return PQE_TRUNCATED;
	if (in[0] > 32)
		return PQE_BAD_BIT_WIDTH;
	const uint8_t *p = in + 1;
	int rc = hybrid_decode(&p, in + len, in[0], dict_size, out, count);
	if (rc == PQE_OK && used)
		*used = (size_t)(p - in);
	return rc;
}

/* PLAIN. */

/* n * width bytes, without overflow; SIZE_MAX when it would overflow. */
static size_t mul_size(size_t n, size_t width)
{
	return n > SIZE_MAX / width ? SIZE_MAX : n * width;
}

int pq_plain_int32_encode(const int32_t *v, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	if (mul_size(n, 4) > cap)
		return PQE_NO_SPACE;
	for (size_t i = 0; i < n; i++)
		put_le32(out + 4 * i, (uint32_t)v[i]);
	*len = 4 * n;
	return PQE_OK;
}

int pq_plain_int32_decode(const uint8_t *in, size_t len, int32_t *out, size_t count, size_t *used)
{
	if (mul_size(count, 4) > len)
		return PQE_TRUNCATED;
	for (size_t i = 0; i < count; i++)
		out[i] = (int32_t)get_le32(in + 4 * i);
	if (used)
		*used = 4 * count;
	return PQE_OK;
}

int pq_plain_int64_encode(const int64_t *v, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	if (mul_size(n, 8) > cap)
		return PQE_NO_SPACE;
	for (size_t i = 0; i < n; i++) {
		put_le32(out + 8 * i, (uint32_t)v[i]);
		put_le32(out + 8 * i + 4, (uint32_t)((uint64_t)v[i] >> 32));
	}
	*len = 8 * n;
	return PQE_OK;
}

int pq_plain_int64_decode(const uint8_t *in, size_t len, int64_t *out, size_t count, size_t *used)
{
	if (mul_size(count, 8) > len)
		return PQE_TRUNCATED;
	for (size_t i = 0; i < count; i++)
		out[i] = (int64_t)((uint64_t)get_le32(in + 8 * i) |
		                   (uint64_t)get_le32(in + 8 * i + 4) << 32);
	if (used)
		*used = 8 * count;
	return PQE_OK;
}

int pq_plain_bool_encode(const uint8_t *v, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	size_t nbytes = n / 8 + (n % 8 != 0);

	*len = 0;
	if (nbytes > cap)
		return PQE_NO_SPACE;
	memset(out, 0, nbytes);
	for (size_t i = 0; i < n; i++)
		if (v[i])
			out[i / 8] |= (uint8_t)(1u << (i % 8));
	*len = nbytes;
	return PQE_OK;
}

int pq_plain_bool_decode(const uint8_t *in, size_t len, uint8_t *out, size_t count, size_t *used)
{
	size_t nbytes = count / 8 + (count % 8 != 0);

	if (nbytes > len)
		return PQE_TRUNCATED;
	for (size_t i = 0; i < count; i++)
		out[i] = (in[i / 8] >> (i % 8)) & 1;
	if (used)
		*used = nbytes;
	return PQE_OK;
}

int pq_plain_bytes_encode(const pq_bytes *v, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	struct wbuf w = {.p = out, .cap = cap};

	for (size_t i = 0; i < n && !w.err; i++) {
		uint8_t *d = w_reserve(&w, 4);
		if (d)
			put_le32(d, v[i].len);
		d = w_reserve(&w, v[i].len);
		if (d && v[i].len)
			memcpy(d, v[i].ptr, v[i].len);
	}
	*len = w.len;
	return w.err;
}

int pq_plain_bytes_decode(const uint8_t *in, size_t len, pq_bytes *out, size_t count, size_t *used)
{
	size_t off = 0;

	for (size_t i = 0; i < count; i++) {
		if (len - off < 4)
			return PQE_TRUNCATED;
		uint32_t n = get_le32(in + off);
		off += 4;
		if (n > len - off)
			return PQE_TRUNCATED;
		out[i].ptr = in + off;
		out[i].len = n;
		off += n;
	}
	if (used)
		*used = off;
	return PQE_OK;
}

/* DELTA_BINARY_PACKED decoding, and the byte-array encodings built on it. */

struct delta_hdr {
	uint64_t block;
	uint64_t nmb;
	uint64_t total;
	int64_t first;
};

static int delta_header(const uint8_t **p, const uint8_t *end, struct delta_hdr *h)
{
	uint64_t zz;
	int rc;

	if ((rc = pq_uleb_decode(p, end, &h->block)) != PQE_OK ||
	    (rc = pq_uleb_decode(p, end, &h->nmb)) != PQE_OK ||
	    (rc = pq_uleb_decode(p, end, &h->total)) != PQE_OK ||
	    (rc = pq_uleb_decode(p, end, &zz)) != PQE_OK)
		return rc;
	h->first = pq_zigzag_decode(zz);
	if (h->block == 0 || h->block > DELTA_MAX_BLOCK || h->nmb == 0 || h->block % h->nmb ||
	    (h->block / h->nmb) % 8)
		return PQE_BAD_HEADER;
	return PQE_OK;
}

/* Receives value i (in the unsigned domain of its width); non-zero stops. */
typedef int (*delta_sink)(void *ctx, size_t i, uint64_t v);

/* Decodes a stream of INT32 (width 32) or INT64 (width 64) deltas from
 * [*pp, end). Arithmetic wraps in the unsigned domain, as the spec asks. */
static int delta_decode(const uint8_t **pp, const uint8_t *end, unsigned width, size_t max,
                        size_t *count, delta_sink sink, void *ctx)
{
	const uint8_t *p = *pp;
	uint64_t mask = width == 64 ? UINT64_MAX : ((uint64_t)1 << width) - 1;
	struct delta_hdr h;
	int rc;

	if ((rc = delta_header(&p, end, &h)) != PQE_OK)
		return rc;
	if (h.total > max)
		return PQE_COUNT_MISMATCH;
	if (width == 32 && (h.first < INT32_MIN || h.first > INT32_MAX))
		return PQE_BAD_VALUE;

	size_t total = (size_t)h.total, vpm = (size_t)(h.block / h.nmb), i = 0;
	uint64_t cur = (uint64_t)h.first & mask;
	if (total > 0 && (rc = sink(ctx, i++, cur)) != PQE_OK)
		return rc;
	while (i < total) {
		uint64_t zz;
		if ((rc = pq_uleb_decode(&p, end, &zz)) != PQE_OK)
			return rc;
		uint64_t min_delta = (uint64_t)pq_zigzag_decode(zz);
		if (h.nmb > (uint64_t)(end - p))
			return PQE_TRUNCATED;
		const uint8_t *widths = p;
		p += h.nmb;
		for (size_t mb = 0; mb < h.nmb && i < total; mb++) {
			unsigned bw = widths[mb];
			if (bw > width)
				return PQE_BAD_BIT_WIDTH;
			size_t nbytes = vpm * bw / 8;
			if (nbytes > (size_t)(end - p))
				return PQE_TRUNCATED;
			size_t take = total - i < vpm ? total - i : vpm;
			for (size_t k = 0; k < take; k++) {
				cur = (cur + min_delta + unpack_one(p, k * bw, bw)) & mask;
				if ((rc = sink(ctx, i++, cur)) != PQE_OK)
					return rc;
			}
			p += nbytes;
		}
	}
	*pp = p;
	*count = total;
	return PQE_OK;
}

static int sink_int32(void *ctx, size_t i, uint64_t v)
{
	((int32_t *)ctx)[i] = (int32_t)(uint32_t)v;
	return PQE_OK;
}

static int sink_int64(void *ctx, size_t i, uint64_t v)
{
	((int64_t *)ctx)[i] = (int64_t)v;
	return PQE_OK;
}

/* Lengths are INT32 on disk; a negative one is corrupt. */
static int sink_len(void *ctx, size_t i, uint64_t v)
{
	if (v > INT32_MAX)
		return PQE_BAD_LENGTH;
	((pq_bytes *)ctx)[i].len = (uint32_t)v;
	return PQE_OK;
}

static int sink_u32(void *ctx, size_t i, uint64_t v)
{
	if (v > INT32_MAX)
		return PQE_BAD_LENGTH;
	((uint32_t *)ctx)[i] = (uint32_t)v;
	return PQE_OK;
}

int pq_delta_peek_count(const uint8_t *in, size_t len, uint64_t *count)
{
	struct delta_hdr h;
	const uint8_t *p = in;
	int rc = delta_header(&p, in + len, &h);

	if (rc == PQE_OK)
		*count = h.total;
	return rc;
}

int pq_delta_decode_int32(const uint8_t *in, size_t len, int32_t *out, size_t max, size_t *count,
                          size_t *used)
{
	const uint8_t *p = in;
	int rc = delta_decode(&p, in + len, 32, max, count, sink_int32, out);
	if (rc == PQE_OK && used)
		*used = (size_t)(p - in);
	return rc;
}

int pq_delta_decode_int64(const uint8_t *in, size_t len, int64_t *out, size_t max, size_t *count,
                          size_t *used)
{
	const uint8_t *p = in;
	int rc = delta_decode(&p, in + len, 64, max, count, sink_int64, out);
	if (rc == PQE_OK && used)
		*used = (size_t)(p - in);
	return rc;
}

/* Lengths then the concatenated bytes; values point into [*pp, end). */
static int delta_length_decode(const uint8_t **pp, const uint8_t *end, pq_bytes *out, size_t max,
                               size_t *count)
{
	const uint8_t *p = *pp;
	size_t n;
	int rc = delta_decode(&p, end, 32, max, &n, sink_len, out);

	if (rc != PQE_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (out[i].len > (size_t)(end - p))
			return PQE_TRUNCATED;
		out[i].ptr = p;
		p += out[i].len;
	}
	*pp = p;
	*count = n;
	return PQE_OK;
}

int pq_delta_length_decode(const uint8_t *in, size_t len, pq_bytes *out, size_t max, size_t *count,
                           size_t *used)
{
	const uint8_t *p = in;
	int rc = delta_length_decode(&p, in + len, out, max, count);
	if (rc == PQE_OK && used)
		*used = (size_t)(p - in);
	return rc;
}

int pq_delta_byte_array_decode(const uint8_t *in, size_t len, pq_bytes *out, size_t max,
                               size_t *count, uint8_t *arena, size_t arena_cap, size_t *used)
{
	const uint8_t *p = in, *end = in + len;
	uint64_t declared;
	uint32_t *prefix = NULL;
	size_t n, nsuffix, a = 0;
	int rc;

	/* Size the scratch array from the header only after checking it
	 * against the caller's bound. */
	if ((rc = pq_delta_peek_count(in, len, &declared)) != PQE_OK)
		return rc;
	if (declared > max)
		return PQE_COUNT_MISMATCH;
	prefix = malloc(declared ? (size_t)declared * sizeof(*prefix) : 1);
	if (!prefix)
		return PQE_NO_MEMORY;
	if ((rc = delta_decode(&p, end, 32, max, &n, sink_u32, prefix)) != PQE_OK)
		goto out;
	if ((rc = delta_length_decode(&p, end, out, max, &nsuffix)) != PQE_OK)
		goto out;
	if (nsuffix != n) {
		rc = PQE_COUNT_MISMATCH;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t pre = prefix[i];
		const uint8_t *suffix = out[i].ptr;
		uint64_t total = (uint64_t)pre + out[i].len;

		if ((i == 0 && pre != 0) || (i > 0 && pre > out[i - 1].len) || total > UINT32_MAX) {
			rc = PQE_BAD_LENGTH;
			goto out;
		}
		if (total > arena_cap - a) {
			rc = PQE_NO_SPACE;
			goto out;
		}
		if (total == 0) {
			out[i].ptr = (const uint8_t *)"";
			continue;
		}
		if (pre)
			memcpy(arena + a, out[i - 1].ptr, pre);
		if (out[i].len)
			memcpy(arena + a + pre, suffix, out[i].len);
		out[i].ptr = arena + a;
		out[i].len = (uint32_t)total;
		a += (size_t)total;
	}
	*count = n;
	if (used)
		*used = (size_t)(p - in);
out:
	free(prefix);
	return rc;
}

/* DELTA encoders: blocks of 128 values in 4 miniblocks of 32, the
 * layout arrow-rs and parquet-java write. */

#define DELTA_BLOCK 128u
#define DELTA_NMB   4u
#define DELTA_VPM   (DELTA_BLOCK / DELTA_NMB)

/* Value i of the sequence being encoded, in the unsigned domain. */
typedef uint64_t (*delta_source)(const void *ctx, size_t i);

static unsigned bits_needed(uint64_t v)
{
	return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

static int64_t signed_in_width(uint64_t v, unsigned width)
{
	return width == 64 ? (int64_t)v : (int64_t)(int32_t)(uint32_t)v;
}

size_t pq_delta_max_size(size_t n, unsigned width)
{
	size_t blocks = n / DELTA_BLOCK + 1;
	return 4 * PQ_ULEB_MAX + blocks * (PQ_ULEB_MAX + DELTA_NMB + DELTA_BLOCK * width / 8);
}

static void delta_encode(const void *ctx, delta_source get, size_t n, unsigned width,
                         struct wbuf *w)
{
	uint64_t mask = width == 64 ? UINT64_MAX : ((uint64_t)1 << width) - 1;
	uint64_t rel[DELTA_BLOCK], prev;

	w_uleb(w, DELTA_BLOCK);
	w_uleb(w, DELTA_NMB);
	w_uleb(w, n);
	prev = n ? get(ctx, 0) & mask : 0;
	w_uleb(w, pq_zigzag_encode(signed_in_width(prev, width)));

	for (size_t i = 1; i < n && !w->err;) {
		size_t m = n - i < DELTA_BLOCK ? n - i : DELTA_BLOCK;
		int64_t min = INT64_MAX;

		/* Deltas wrap in the value's own width; the minimum is taken
		 * over them read as signed numbers of that width. */
		for (size_t k = 0; k < m; k++) {
			uint64_t cur = get(ctx, i + k) & mask;
			rel[k] = (cur - prev) & mask;
			prev = cur;
			int64_t d = signed_in_width(rel[k], width);
			min = d < min ? d : min;
		}
		for (size_t k = 0; k < m; k++)
			rel[k] = (rel[k] - (uint64_t)min) & mask;
		w_uleb(w, pq_zigzag_encode(min));

		unsigned bw[DELTA_NMB] = {0};
		for (size_t k = 0; k < m; k++) {
			unsigned b = bits_needed(rel[k]);
			bw[k / DELTA_VPM] = b > bw[k / DELTA_VPM] ? b : bw[k / DELTA_VPM];
		}
		uint8_t *d = w_reserve(w, DELTA_NMB);
		for (size_t mb = 0; d && mb < DELTA_NMB; mb++)
			d[mb] = (uint8_t)bw[mb];
		/* Miniblocks past the last value are left out entirely. */
		for (size_t mb = 0; mb * DELTA_VPM < m; mb++) {
			size_t nbytes = DELTA_VPM * bw[mb] / 8;
			uint8_t *body = w_reserve(w, nbytes);
			if (!body)
				break;
			memset(body, 0, nbytes);
			for (size_t k = 0; k < DELTA_VPM && mb * DELTA_VPM + k < m; k++)
				pack_one(body, k * bw[mb], bw[mb], rel[mb * DELTA_VPM + k]);
		}
		i += m;
	}
}

static uint64_t src_int32(const void *ctx, size_t i)
{
	return (uint32_t)((const int32_t *)ctx)[i];
}

static uint64_t src_int64(const void *ctx, size_t i)
{
	return (uint64_t)((const int64_t *)ctx)[i];
}

static uint64_t src_len(const void *ctx, size_t i)
{
	return ((const pq_bytes *)ctx)[i].len;
}

static uint32_t common_prefix(const pq_bytes *v, size_t i)
{
	uint32_t n = 0;
	if (i == 0)
		return 0;
	while (n < v[i].len && n < v[i - 1].len && v[i].ptr[n] == v[i - 1].ptr[n])
		n++;
	return n;
}

static uint64_t src_prefix(const void *ctx, size_t i)
{
	return common_prefix(ctx, i);
}

static uint64_t src_suffix(const void *ctx, size_t i)
{
	const pq_bytes *v = ctx;
	return v[i].len - common_prefix(v, i);
}

int pq_delta_encode_int32(const int32_t *v, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	struct wbuf w = {.p = out, .cap = cap};
	delta_encode(v, src_int32, n, 32, &w);
	*len = w.len;
	return w.err;
}

int pq_delta_encode_int64(const int64_t *v, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	struct wbuf w = {.p = out, .cap = cap};
	delta_encode(v, src_int64, n, 64, &w);
	*len = w.len;
	return w.err;
}

static void put_suffixes(const pq_bytes *v, size_t n, bool whole, struct wbuf *w)
{
	for (size_t i = 0; i < n && !w->err; i++) {
		uint32_t skip = whole ? 0 : common_prefix(v, i);
		uint8_t *d = w_reserve(w, v[i].len - skip);
		if (d && v[i].len > skip)
			memcpy(d, v[i].ptr + skip, v[i].len - skip);
	}
}

int pq_delta_length_encode(const pq_bytes *v, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	struct wbuf w = {.p = out, .cap = cap};

	*len = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].len > INT32_MAX)
			return PQE_BAD_LENGTH;
	delta_encode(v, src_len, n, 32, &w);
	put_suffixes(v, n, true, &w);
	*len = w.len;
	return w.err;
}

int pq_delta_byte_array_encode(const pq_bytes *v, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	struct wbuf w = {.p = out, .cap = cap};

	*len = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].len > INT32_MAX)
			return PQE_BAD_LENGTH;
	delta_encode(v, src_prefix, n, 32, &w);
	delta_encode(v, src_suffix, n, 32, &w);
	put_suffixes(v, n, false, &w);
	*len = w.len;
	return w.err;
}
