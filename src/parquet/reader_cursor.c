/* reader_cursor.c - the row cursor of reader.h: walks the row groups and,
 * for each selected column, its column chunk page by page. A page is
 * decoded in bulk (definition levels, then the non-null values or their
 * dictionary indices) into arrays the column keeps between pages, so a row
 * costs no allocation and no I/O; keys and values point into the page or
 * dictionary buffer.
 *
 * Hand-written from the Apache Parquet specification because no C library
 * for Parquet is packaged in Debian. All selected columns advance one value
 * per row: a page may hold no more values than rows left in its row group,
 * and a column chunk must deliver exactly RowGroup.num_rows values.
 */
#include "parquet/reader_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "parquet/compress.h"
#include "parquet/encoding.h"

/* First read of a page header (and, when small, its payload) in a file. */
#define HEADER_WINDOW (64u << 10)

enum col_kind { K_BYTES, K_INT64 };

struct buf {
	uint8_t *p;
	size_t cap;
};

/* One selected column: its chunk in the current row group, its dictionary
 * and the decoded current page. */
struct colrd {
	const pqr_column *col;
	int kind;
	int64_t unit_div; /* expiry: 1 (ms), 1000 (us), 1000000 (ns) */
	unsigned def_bw;
	uint64_t pos, end; /* next page header, end of the chunk */
	int32_t codec;
	uint64_t page_off; /* header of the current page, for messages */
	/* Window holding the current page header (and maybe its payload). */
	const uint8_t *win;
	size_t win_len;
	/* Dictionary. */
	bool has_dict;
	uint32_t dict_n;
	pq_bytes *dict_b;
	int64_t *dict_i;
	/* Current page: n level entries, nn of them values. */
	size_t n, i, nn, vi;
	bool page_dict;
	uint32_t *defs, *idx;
	pq_bytes *vb;
	int64_t *v64;
	size_t defs_cap, idx_cap, vb_cap, v64_cap, dictv_cap;
	struct buf hdr, raw, data, dict, arena;
};

struct pqr_cursor {
	pqr_file *f;
	struct colrd cols[3];
	int ncols;
	int64_t rg; /* current row group; -1 before the first */
	int64_t rows_left;
	bool eof;
	int err;
	char msg[768];
};

/* ---- Errors ---- */

static int fail(pqr_cursor *c, struct colrd *cr, int rc, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Records the cursor's sticky error: "<file>: row group R, column 'C': page
 * at byte N: <message>" (without the page part between pages). */
static int fail(pqr_cursor *c, struct colrd *cr, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (cr->page_off)
		n = snprintf(c->msg, sizeof(c->msg),
		             "%s: row group %lld, column '%s': page at byte %llu: ", c->f->name,
		             (long long)c->rg, cr->col->path, (unsigned long long)cr->page_off);
	else
		n = snprintf(c->msg, sizeof(c->msg),
		             "%s: row group %lld, column '%s': ", c->f->name, (long long)c->rg,
		             cr->col->path);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(c->msg)) {
		va_start(ap, fmt);
		pqr_vmsg(c->msg + n, sizeof(c->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	c->err = rc;
	return rc;
}

static int fail_enc(pqr_cursor *c, struct colrd *cr, int32_t enc, const char *what, int st)
{
	const char *name = pq_encoding_name(enc);

	if (st == PQE_NO_MEMORY)
		return fail(c, cr, -ENOMEM, "out of memory decoding %s", what);
	return fail(c, cr, -EBADMSG, "%s (%s): %s", what, name ? name : "?", pq_enc_strerror(st));
}

/* ---- Buffers ---- */

static int buf_reserve(struct buf *b, size_t n)
{
	if (n <= b->cap && b->p != NULL)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < n)
		cap = cap > SIZE_MAX / 2 ? n : cap * 2;
	uint8_t *p = realloc(b->p, cap);
	if (p == NULL)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Grows an array of n elements of size sz (contents not kept). */
static int arr_reserve(void **arr, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap && *arr != NULL)
		return 0;
	size_t want = n < 1024 ? 1024 : n;
	if (want > SIZE_MAX / sz)
		return -ENOMEM;
	void *p = malloc(want * sz);
	if (p == NULL)
		return -ENOMEM;
	free(*arr);
	*arr = p;
	*cap = want;
	return 0;
}

#define ARR_RESERVE(arr, cap, n) arr_reserve((void **)&(arr), &(cap), (n), sizeof(*(arr)))

/* ---- Pages ---- */

/* Parses the page header at cr->pos, through a window that grows up to the
 * chunk end or PQR_MAX_HEADER_BYTES. Sets cr->win/win_len to the window. */
static int read_header(pqr_cursor *c, struct colrd *cr, pq_page_header *ph, size_t *hlen)
{
	const pqr_file *f = c->f;
	uint64_t avail = cr->end - cr->pos;
	size_t max = avail > PQR_MAX_HEADER_BYTES ? PQR_MAX_HEADER_BYTES : (size_t)avail;
	const char *missing = NULL;
	int rc;

	if (f->mem != NULL) {
		/* The payload may run beyond the header limit: the window is
		 * the rest of the chunk, the parser only the first max bytes. */
		cr->win = f->mem + cr->pos;
		cr->win_len = (size_t)avail;
		rc = pq_page_header_parse(cr->win, max, ph, hlen, &missing);
	} else {
		size_t w = max < HEADER_WINDOW ? max : HEADER_WINDOW;
		for (;;) {
			if (buf_reserve(&cr->hdr, w) != 0)
				return fail(c, cr, -ENOMEM, "out of memory for a page header");
			if ((rc = pqr_read_at(f, cr->pos, cr->hdr.p, w)) != 0)
				return fail(c, cr, rc, "read: %s", strerror(-rc));
			rc = pq_page_header_parse(cr->hdr.p, w, ph, hlen, &missing);
			if ((rc == PQT_TRUNCATED || rc == PQT_LENGTH) && w < max) {
				w = w > max / 16 ? max : w * 16;
				continue;
			}
			break;
		}
		cr->win = cr->hdr.p;
		cr->win_len = w;
	}
	if (rc == PQT_NO_MEMORY)
		return fail(c, cr, -ENOMEM, "out of memory for a page header");
	if (rc != PQT_OK)
		return fail(c, cr, -EBADMSG, "bad page header: %s%s%s", pqt_strerror(rc),
		            missing ? " " : "", missing ? missing : "");
	return 0;
}

/* Checks the sizes of the page at cr->page_off and finds its payload
 * (reading it when not already in the window), verifying its CRC. */
static int page_payload(pqr_cursor *c, struct colrd *cr, const pq_page_header *ph, size_t hlen,
                        const uint8_t **out)
{
	const pqr_file *f = c->f;
	uint64_t at = cr->page_off + hlen;

	if (ph->compressed_page_size < 0 || ph->uncompressed_page_size < 0)
		return fail(c, cr, -EBADMSG, "negative page size");
	size_t clen = (size_t)ph->compressed_page_size;
	if ((uint64_t)clen > cr->end - at)
		return fail(c, cr, -EBADMSG,
		            "page of %zu bytes runs past the column chunk end at byte %llu", clen,
		            (unsigned long long)cr->end);
	if (clen > f->lim.max_page_bytes ||
	    (size_t)ph->uncompressed_page_size > f->lim.max_page_bytes)
		return fail(c, cr, -E2BIG, "page of %d/%d bytes exceeds the limit of %zu bytes",
		            (int)ph->compressed_page_size, (int)ph->uncompressed_page_size,
		            f->lim.max_page_bytes);
	if (hlen + clen <= cr->win_len) {
		*out = cr->win + hlen;
	} else {
		int rc;
		if (buf_reserve(&cr->raw, clen) != 0)
			return fail(c, cr, -ENOMEM, "out of memory for a %zu-byte page", clen);
		if ((rc = pqr_read_at(f, at, cr->raw.p, clen)) != 0)
			return fail(c, cr, rc, "read: %s", strerror(-rc));
		*out = cr->raw.p;
	}
	if (ph->has_crc && (uint32_t)crc32_z(0, *out, clen) != (uint32_t)ph->crc)
		return fail(c, cr, -EBADMSG, "page CRC mismatch");
	return 0;
}

/* Decompresses clen bytes at src into dst (ulen bytes); for an
 * uncompressed chunk the sizes must agree and *out is src itself. */
static int inflate_page(pqr_cursor *c, struct colrd *cr, const uint8_t *src, size_t clen,
                        size_t ulen, struct buf *dst, const uint8_t **out)
{
	if (cr->codec == PQ_CODEC_UNCOMPRESSED) {
		if (clen != ulen)
			return fail(c, cr, -EBADMSG,
			            "uncompressed page of %zu bytes declares %zu bytes", clen,
			            ulen);
		*out = src;
		return 0;
	}
	if (buf_reserve(dst, ulen) != 0)
		return fail(c, cr, -ENOMEM, "out of memory for a %zu-byte page", ulen);
	int st = pq_decompress(cr->codec, src, clen, dst->p, ulen);
	if (st != PQC_OK) {
		const char *codec = pq_codec_name(cr->codec);
		if (st == PQC_NO_MEMORY)
			return fail(c, cr, -ENOMEM, "out of memory decompressing a page");
		return fail(c, cr, st == PQC_UNSUPPORTED ? -ENOTSUP : -EBADMSG, "%s page: %s",
		            codec ? codec : "?", pq_codec_strerror(st));
	}
	*out = dst->p;
	return 0;
}

static int64_t floor_div(int64_t v, int64_t d)
{
	int64_t q = v / d;
	return (v % d < 0) ? q - 1 : q;
}

static void to_ms(const struct colrd *cr, int64_t *v, size_t n)
{
	if (cr->unit_div == 1)
		return;
	for (size_t k = 0; k < n; k++)
		v[k] = floor_div(v[k], cr->unit_div);
}

static int check_lengths(pqr_cursor *c, struct colrd *cr, const pq_bytes *b, size_t n)
{
	size_t max = c->f->lim.max_value_bytes;

	for (size_t k = 0; k < n; k++)
		if (b[k].len > max)
			return fail(c, cr, -E2BIG, "value of %u bytes exceeds the limit of %zu",
			            b[k].len, max);
	return 0;
}

static int load_dictionary(pqr_cursor *c, struct colrd *cr, const pq_page_header *ph,
                           const uint8_t *payload)
{
	const pq_dictionary_page_header *dh = &ph->dictionary_page_header;
	size_t clen = (size_t)ph->compressed_page_size, ulen = (size_t)ph->uncompressed_page_size;
	const uint8_t *data;
	int st, rc;

	if (!ph->has_dictionary_page_header)
		return fail(c, cr, -EBADMSG, "dictionary page without its header");
	if (cr->has_dict)
		return fail(c, cr, -EBADMSG, "second dictionary page in the column chunk");
	if (dh->encoding != PQ_ENC_PLAIN && dh->encoding != PQ_ENC_PLAIN_DICTIONARY) {
		const char *name = pq_encoding_name(dh->encoding);
		return fail(c, cr, -ENOTSUP, "dictionary page encoding %s (%d) is not supported",
		            name ? name : "?", (int)dh->encoding);
	}
	/* PLAIN takes at least 4 bytes per byte array, 8 per INT64. */
	size_t min = cr->kind == K_BYTES ? 4 : 8;
	if (dh->num_values < 0 || (size_t)dh->num_values > ulen / min)
		return fail(c, cr, -EBADMSG, "dictionary of %d values in %zu bytes",
		            (int)dh->num_values, ulen);
	if (cr->codec == PQ_CODEC_UNCOMPRESSED && c->f->mem == NULL) {
		/* The window is reused by the next page: keep a copy. */
		if (clen != ulen)
			return fail(c, cr, -EBADMSG,
			            "uncompressed page of %zu bytes declares %zu bytes", clen,
			            ulen);
		if (buf_reserve(&cr->dict, clen) != 0)
			return fail(c, cr, -ENOMEM, "out of memory for the dictionary");
		if (clen)
			memcpy(cr->dict.p, payload, clen);
		data = cr->dict.p;
	} else if ((rc = inflate_page(c, cr, payload, clen, ulen, &cr->dict, &data)) != 0) {
		return rc;
	}
	size_t n = (size_t)dh->num_values;
	if (cr->kind == K_BYTES) {
		if (ARR_RESERVE(cr->dict_b, cr->dictv_cap, n) != 0)
			return fail(c, cr, -ENOMEM, "out of memory for the dictionary");
		if ((st = pq_plain_bytes_decode(data, ulen, cr->dict_b, n, NULL)) != PQE_OK)
			return fail_enc(c, cr, PQ_ENC_PLAIN, "dictionary", st);
		if ((rc = check_lengths(c, cr, cr->dict_b, n)) != 0)
			return rc;
	} else {
		if (ARR_RESERVE(cr->dict_i, cr->dictv_cap, n) != 0)
			return fail(c, cr, -ENOMEM, "out of memory for the dictionary");
		if ((st = pq_plain_int64_decode(data, ulen, cr->dict_i, n, NULL)) != PQE_OK)
			return fail_enc(c, cr, PQ_ENC_PLAIN, "dictionary", st);
		to_ms(cr, cr->dict_i, n);
	}
	cr->dict_n = (uint32_t)n;
	cr->has_dict = true;
	return 0;
}

/* Legacy BIT_PACKED levels: n values of bw bits, most significant bit
 * first, no length prefix. */
static int bitpacked_levels(const uint8_t *p, size_t len, unsigned bw, uint32_t *out, size_t n,
                            size_t *used)
{
	uint64_t bits = (uint64_t)n * bw;
	size_t bytes = (size_t)((bits + 7) / 8);

	if (bytes > len)
		return PQE_TRUNCATED;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = 0;
		for (unsigned b = 0; b < bw; b++) {
			uint64_t pos = (uint64_t)i * bw + b;
			v = v << 1 | ((p[pos >> 3] >> (7 - (pos & 7))) & 1u);
		}
		out[i] = v;
	}
	*used = bytes;
	return PQE_OK;
}

/* Counts the entries whose level is max_def: they carry values. */
static int count_values(pqr_cursor *c, struct colrd *cr)
{
	uint32_t max = (uint32_t)cr->col->max_def;
	size_t nn = 0;

	if (max == 0) {
		cr->nn = cr->n;
		return 0;
	}
	for (size_t k = 0; k < cr->n; k++) {
		if (cr->defs[k] > max)
			return fail(c, cr, -EBADMSG, "definition level %u above the maximum %u",
			            cr->defs[k], max);
		nn += cr->defs[k] == max;
	}
	cr->nn = nn;
	return 0;
}

static int decode_delta_bytes(pqr_cursor *c, struct colrd *cr, const uint8_t *p, size_t len)
{
	size_t cap = len * 2 < 4096 ? 4096 : len * 2, got = 0, max = c->f->lim.max_page_bytes;
	int st;

	/* Prefixes can make the output much larger than the input: grow the
	 * arena until it fits or reaches the page limit. */
	for (;;) {
		if (cap > max)
			cap = max;
		if (buf_reserve(&cr->arena, cap) != 0)
			return fail(c, cr, -ENOMEM, "out of memory for DELTA_BYTE_ARRAY values");
		st = pq_delta_byte_array_decode(p, len, cr->vb, cr->nn, &got, cr->arena.p,
		                                cr->arena.cap, NULL);
		if (st != PQE_NO_SPACE || cr->arena.cap >= max)
			break;
		cap = cr->arena.cap > max / 4 ? max : cr->arena.cap * 4;
	}
	if (st == PQE_NO_SPACE)
		return fail(c, cr, -E2BIG, "DELTA_BYTE_ARRAY values exceed %zu bytes", max);
	if (st != PQE_OK)
		return fail_enc(c, cr, PQ_ENC_DELTA_BYTE_ARRAY, "values", st);
	if (got != cr->nn)
		return fail(c, cr, -EBADMSG, "%zu values for %zu non-null entries", got, cr->nn);
	return 0;
}

static int decode_values(pqr_cursor *c, struct colrd *cr, int32_t enc, const uint8_t *p, size_t len)
{
	size_t nn = cr->nn, got = 0;
	int st = PQE_OK;

	cr->page_dict = false;
	if (nn == 0)
		return 0;
	if (enc == PQ_ENC_PLAIN_DICTIONARY || enc == PQ_ENC_RLE_DICTIONARY) {
		if (!cr->has_dict)
			return fail(c, cr, -EBADMSG,
			            "dictionary indices before any dictionary page");
		if (ARR_RESERVE(cr->idx, cr->idx_cap, nn) != 0)
			return fail(c, cr, -ENOMEM, "out of memory for %zu indices", nn);
		if ((st = pq_dict_indices_decode(p, len, cr->dict_n, cr->idx, nn, NULL)) != PQE_OK)
			return fail_enc(c, cr, enc, "dictionary indices", st);
		cr->page_dict = true;
		return 0;
	}
	/* PLAIN takes 4 bytes a byte array at least, 8 an INT64. */
	if (enc == PQ_ENC_PLAIN && nn > len / (cr->kind == K_BYTES ? 4 : 8))
		return fail_enc(c, cr, enc, "values", PQE_TRUNCATED);
	if (cr->kind == K_BYTES) {
		if (ARR_RESERVE(cr->vb, cr->vb_cap, nn) != 0)
			return fail(c, cr, -ENOMEM, "out of memory for %zu values", nn);
		switch (enc) {
		case PQ_ENC_PLAIN:
			st = pq_plain_bytes_decode(p, len, cr->vb, nn, NULL);
			got = nn;
			break;
		case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
			st = pq_delta_length_decode(p, len, cr->vb, nn, &got, NULL);
			break;
		case PQ_ENC_DELTA_BYTE_ARRAY: {
			int rc = decode_delta_bytes(c, cr, p, len);
			if (rc != 0)
				return rc;
			got = nn;
			break;
		}
		default:
			goto unsupported;
		}
	} else {
		if (ARR_RESERVE(cr->v64, cr->v64_cap, nn) != 0)
			return fail(c, cr, -ENOMEM, "out of memory for %zu values", nn);
		switch (enc) {
		case PQ_ENC_PLAIN:
			st = pq_plain_int64_decode(p, len, cr->v64, nn, NULL);
			got = nn;
			break;
		case PQ_ENC_DELTA_BINARY_PACKED:
			st = pq_delta_decode_int64(p, len, cr->v64, nn, &got, NULL);
			break;
		case PQ_ENC_BYTE_STREAM_SPLIT:
			/* Byte k of value i is at k * nn + i. */
			if (len / 8 < nn)
				return fail(c, cr, -EBADMSG, "BYTE_STREAM_SPLIT values: %s",
				            pq_enc_strerror(PQE_TRUNCATED));
			for (size_t i = 0; i < nn; i++) {
				uint64_t v = 0;
				for (unsigned k = 0; k < 8; k++)
					v |= (uint64_t)p[k * nn + i] << (8 * k);
				cr->v64[i] = (int64_t)v;
			}
			got = nn;
			break;
		default:
			goto unsupported;
		}
	}
	if (st != PQE_OK)
		return fail_enc(c, cr, enc, "values", st);
	if (got != nn)
		return fail(c, cr, -EBADMSG, "%zu values for %zu non-null entries", got, nn);
	if (cr->kind == K_BYTES)
		return check_lengths(c, cr, cr->vb, nn);
	to_ms(cr, cr->v64, nn);
	return 0;

unsupported:;
	const char *name = pq_encoding_name(enc), *type = pq_type_name(cr->col->element->type);
	return fail(c, cr, -ENOTSUP, "encoding %s (%d) is not supported for %s columns",
	            name ? name : "?", (int)enc, type ? type : "?");
}

/* Sizes the level array for n entries, checked against the rows left in
 * the row group (all columns advance together) and the page limit. */
static int begin_page(pqr_cursor *c, struct colrd *cr, int32_t num_values)
{
	if (num_values < 0)
		return fail(c, cr, -EBADMSG, "negative value count %d", (int)num_values);
	if ((int64_t)num_values > c->rows_left)
		return fail(c, cr, -EBADMSG,
		            "page holds %d values but the row group has %lld rows left",
		            (int)num_values, (long long)c->rows_left);
	/* A level and a value slot per entry: runs can make a few bytes stand
	 * for millions of entries, so the page limit bounds the arrays too. */
	if ((size_t)num_values > c->f->lim.max_page_bytes / (sizeof(uint32_t) + sizeof(pq_bytes)))
		return fail(c, cr, -E2BIG, "page of %d values exceeds the page limit",
		            (int)num_values);
	cr->n = (size_t)num_values;
	cr->i = cr->vi = 0;
	if (cr->col->max_def > 0 && ARR_RESERVE(cr->defs, cr->defs_cap, cr->n) != 0)
		return fail(c, cr, -ENOMEM, "out of memory for %zu levels", cr->n);
	return 0;
}

static int decode_v1(pqr_cursor *c, struct colrd *cr, const pq_page_header *ph,
                     const uint8_t *payload)
{
	const pq_data_page_header *dp = &ph->data_page_header;
	size_t ulen = (size_t)ph->uncompressed_page_size, used = 0;
	const uint8_t *data;
	int rc, st;

	if (!ph->has_data_page_header)
		return fail(c, cr, -EBADMSG, "data page without its header");
	if ((rc = begin_page(c, cr, dp->num_values)) != 0)
		return rc;
	if (cr->n == 0)
		return 0;
	if ((rc = inflate_page(c, cr, payload, (size_t)ph->compressed_page_size, ulen, &cr->data,
	                       &data)) != 0)
		return rc;
	if (cr->col->max_def > 0) {
		int32_t le = dp->definition_level_encoding;
		if (le == PQ_ENC_RLE)
			st = pq_hybrid_decode_prefixed(data, ulen, cr->def_bw, cr->defs, cr->n,
			                               &used);
		else if (le == PQ_ENC_BIT_PACKED)
			st = bitpacked_levels(data, ulen, cr->def_bw, cr->defs, cr->n, &used);
		else
			return fail(c, cr, -ENOTSUP,
			            "definition level encoding %d is not supported", (int)le);
		if (st != PQE_OK)
			return fail_enc(c, cr, le, "definition levels", st);
	}
	if ((rc = count_values(c, cr)) != 0)
		return rc;
	return decode_values(c, cr, dp->encoding, data + used, ulen - used);
}

static int decode_v2(pqr_cursor *c, struct colrd *cr, const pq_page_header *ph,
                     const uint8_t *payload)
{
	const pq_data_page_header_v2 *h = &ph->data_page_header_v2;
	size_t clen = (size_t)ph->compressed_page_size, ulen = (size_t)ph->uncompressed_page_size;
	const uint8_t *data;
	int rc, st;

	if (!ph->has_data_page_header_v2)
		return fail(c, cr, -EBADMSG, "data page v2 without its header");
	if (h->num_rows != h->num_values)
		return fail(c, cr, -EBADMSG, "num_rows %d differs from num_values %d",
		            (int)h->num_rows, (int)h->num_values);
	if (h->num_nulls < 0 || h->num_nulls > h->num_values)
		return fail(c, cr, -EBADMSG, "num_nulls %d of %d values", (int)h->num_nulls,
		            (int)h->num_values);
	int32_t rl = h->repetition_levels_byte_length, dl = h->definition_levels_byte_length;
	if (rl < 0 || dl < 0 || (size_t)rl + (size_t)dl > clen || (size_t)rl + (size_t)dl > ulen)
		return fail(c, cr, -EBADMSG, "level lengths %d and %d do not fit the page", (int)rl,
		            (int)dl);
	if ((rc = begin_page(c, cr, h->num_values)) != 0)
		return rc;
	if (cr->n == 0)
		return 0;
	size_t lv = (size_t)rl + (size_t)dl;
	if (cr->col->max_def > 0) {
		st = pq_hybrid_decode(payload + rl, (size_t)dl, cr->def_bw, cr->defs, cr->n, NULL);
		if (st != PQE_OK)
			return fail_enc(c, cr, PQ_ENC_RLE, "definition levels", st);
	}
	if ((rc = count_values(c, cr)) != 0)
		return rc;
	if (cr->n - cr->nn != (size_t)h->num_nulls)
		return fail(c, cr, -EBADMSG, "num_nulls %d but the levels hold %zu nulls",
		            (int)h->num_nulls, cr->n - cr->nn);
	if (h->is_compressed && cr->codec != PQ_CODEC_UNCOMPRESSED) {
		if ((rc = inflate_page(c, cr, payload + lv, clen - lv, ulen - lv, &cr->data,
		                       &data)) != 0)
			return rc;
	} else {
		if (clen != ulen)
			return fail(c, cr, -EBADMSG,
			            "uncompressed page of %zu bytes declares %zu bytes", clen,
			            ulen);
		data = payload + lv;
	}
	return decode_values(c, cr, h->encoding, data, ulen - lv);
}

/* Loads the next page with values (reading dictionary and index pages on
 * the way). At the chunk end the column has delivered fewer values than
 * the row group's rows: an error. */
static int next_page(pqr_cursor *c, struct colrd *cr)
{
	for (;;) {
		pq_page_header ph;
		const uint8_t *payload;
		size_t hlen;
		int rc;

		if (cr->pos >= cr->end) {
			int64_t rows = c->f->md.row_groups[c->rg].num_rows;
			cr->page_off = 0;
			return fail(c, cr, -EBADMSG,
			            "column chunk ends after %lld of the row group's %lld values",
			            (long long)(rows - c->rows_left), (long long)rows);
		}
		cr->page_off = cr->pos;
		if ((rc = read_header(c, cr, &ph, &hlen)) != 0 ||
		    (rc = page_payload(c, cr, &ph, hlen, &payload)) != 0)
			return rc;
		cr->pos += hlen + (size_t)ph.compressed_page_size;
		switch (ph.type) {
		case PQ_PAGE_DICTIONARY:
			if ((rc = load_dictionary(c, cr, &ph, payload)) != 0)
				return rc;
			continue;
		case PQ_PAGE_INDEX:
			continue;
		case PQ_PAGE_DATA:
			rc = decode_v1(c, cr, &ph, payload);
			break;
		case PQ_PAGE_DATA_V2:
			rc = decode_v2(c, cr, &ph, payload);
			break;
		default:
			return fail(c, cr, -EBADMSG, "unknown page type %d", (int)ph.type);
		}
		if (rc != 0)
			return rc;
		if (cr->n > 0)
			return 0;
	}
}

/* At the end of a row group: whatever is left of each chunk must hold no
 * values. */
static int finish_row_group(pqr_cursor *c)
{
	for (int k = 0; k < c->ncols; k++) {
		struct colrd *cr = &c->cols[k];
		while (cr->pos < cr->end) {
			pq_page_header ph;
			size_t hlen;
			int rc;
			const uint8_t *payload;

			cr->page_off = cr->pos;
			if ((rc = read_header(c, cr, &ph, &hlen)) != 0 ||
			    (rc = page_payload(c, cr, &ph, hlen, &payload)) != 0)
				return rc;
			int32_t nv = ph.type == PQ_PAGE_DATA && ph.has_data_page_header
			                     ? ph.data_page_header.num_values
			             : ph.type == PQ_PAGE_DATA_V2 && ph.has_data_page_header_v2
			                     ? ph.data_page_header_v2.num_values
			                     : 0;
			if (nv != 0)
				return fail(c, cr, -EBADMSG,
				            "more values than the row group's %lld rows",
				            (long long)c->f->md.row_groups[c->rg].num_rows);
			cr->pos += hlen + (size_t)ph.compressed_page_size;
		}
	}
	return 0;
}

static void start_row_group(pqr_cursor *c)
{
	const pq_row_group *rg = &c->f->md.row_groups[c->rg];

	for (int k = 0; k < c->ncols; k++) {
		struct colrd *cr = &c->cols[k];
		const pq_column_meta_data *m = &rg->columns[cr->col - c->f->cols].meta_data;
		int64_t start = m->data_page_offset;
		if (m->has_dictionary_page_offset && m->dictionary_page_offset > 0 &&
		    m->dictionary_page_offset < m->data_page_offset)
			start = m->dictionary_page_offset;
		/* pqr_open checked the range against the file. */
		cr->pos = (uint64_t)start;
		cr->end = (uint64_t)start + (uint64_t)m->total_compressed_size;
		cr->codec = m->codec;
		cr->page_off = 0;
		cr->has_dict = false;
		cr->dict_n = 0;
		cr->n = cr->i = cr->nn = cr->vi = 0;
	}
	c->rows_left = rg->num_rows;
}

/* ---- The cursor ---- */

static int setup_column(pqr_cursor *c, struct colrd *cr, int idx, bool expiry, char *err,
                        size_t errlen)
{
	const pqr_file *f = c->f;

	if (idx < 0 || (size_t)idx >= f->ncols) {
		pqr_msg(err, errlen, "%s: no column %d (the file has %zu)", f->name, idx, f->ncols);
		return -EINVAL;
	}
	const pqr_column *col = &f->cols[idx];
	const pq_schema_element *e = col->element;
	const char *tname = pq_type_name(e->type);
	cr->col = col;
	cr->unit_div = 1;
	if (col->max_rep > 0) {
		pqr_msg(err, errlen, "%s: column '%s': repeated column is not supported", f->name,
		        col->path);
		return -ENOTSUP;
	}
	for (cr->def_bw = 0;
	     cr->def_bw < 32 && ((uint32_t)1 << cr->def_bw) <= (uint32_t)col->max_def; cr->def_bw++)
		;
	if (!expiry) {
		cr->kind = K_BYTES;
		if (e->type != PQ_BYTE_ARRAY) {
			pqr_msg(err, errlen,
			        "%s: column '%s' has type %s: key and value columns must be "
			        "BYTE_ARRAY",
			        f->name, col->path, tname ? tname : "?");
			return -ENOTSUP;
		}
		return 0;
	}
	cr->kind = K_INT64;
	if (e->type != PQ_INT64) {
		pqr_msg(err, errlen,
		        "%s: column '%s' has type %s: the expiry column must be INT64%s", f->name,
		        col->path, tname ? tname : "?",
		        e->type == PQ_INT96 ? " (INT96 timestamps are not supported)" : "");
		return -ENOTSUP;
	}
	const pq_logical_type *lt = &e->logical_type;
	if (e->has_logical_type && lt->kind != PQ_LT_NONE) {
		if (lt->kind == PQ_LT_TIMESTAMP && lt->unit == PQ_UNIT_MILLIS)
			cr->unit_div = 1;
		else if (lt->kind == PQ_LT_TIMESTAMP && lt->unit == PQ_UNIT_MICROS)
			cr->unit_div = 1000;
		else if (lt->kind == PQ_LT_TIMESTAMP && lt->unit == PQ_UNIT_NANOS)
			cr->unit_div = 1000000;
		else if (lt->kind != PQ_LT_INTEGER)
			goto bad_annotation;
	} else if (e->has_converted_type) {
		if (e->converted_type == PQ_CT_TIMESTAMP_MICROS)
			cr->unit_div = 1000;
		else if (e->converted_type != PQ_CT_TIMESTAMP_MILLIS &&
		         e->converted_type != PQ_CT_INT_64)
			goto bad_annotation;
	}
	return 0;
bad_annotation:
	pqr_msg(err, errlen,
	        "%s: column '%s': INT64 annotated as logical type %d / converted type %d is "
	        "not a supported expiry (plain INT64 ms or TIMESTAMP)",
	        f->name, col->path, e->has_logical_type ? (int)lt->kind : -1,
	        e->has_converted_type ? (int)e->converted_type : -1);
	return -ENOTSUP;
}

static void free_column(struct colrd *cr)
{
	free(cr->dict_b);
	free(cr->dict_i);
	free(cr->defs);
	free(cr->idx);
	free(cr->vb);
	free(cr->v64);
	free(cr->hdr.p);
	free(cr->raw.p);
	free(cr->data.p);
	free(cr->dict.p);
	free(cr->arena.p);
}

pqr_cursor *pqr_cursor_open(pqr_file *f, int key_col, int value_col, int ttl_col, char *err,
                            size_t errlen)
{
	pqr_cursor *c = calloc(1, sizeof(*c));
	int idx[3] = {key_col, value_col, ttl_col};

	if (c == NULL) {
		pqr_msg(err, errlen, "%s: out of memory", f->name);
		return NULL;
	}
	c->f = f;
	c->rg = -1;
	c->ncols = ttl_col >= 0 ? 3 : 2;
	if (ttl_col < -1) {
		pqr_msg(err, errlen, "%s: no column %d", f->name, ttl_col);
		goto fail;
	}
	for (int k = 0; k < c->ncols; k++)
		if (setup_column(c, &c->cols[k], idx[k], k == 2, err, errlen) != 0)
			goto fail;
	for (uint32_t g = 0; g < f->md.num_row_groups; g++) {
		for (int k = 0; k < c->ncols; k++) {
			int32_t codec = f->md.row_groups[g].columns[idx[k]].meta_data.codec;
			if (!pq_codec_supported(codec)) {
				const char *name = pq_codec_name(codec);
				pqr_msg(err, errlen,
				        "%s: row group %u, column '%s': codec %s (%d) is not "
				        "supported",
				        f->name, g, c->cols[k].col->path, name ? name : "?",
				        (int)codec);
				goto fail;
			}
		}
	}
	return c;
fail:
	pqr_cursor_free(c);
	return NULL;
}

/* Takes the next entry of cr: NULL, or a value. */
static void take_bytes(struct colrd *cr, bool *null, const uint8_t **p, uint32_t *len)
{
	size_t i = cr->i++;

	if (cr->col->max_def > 0 && cr->defs[i] != (uint32_t)cr->col->max_def) {
		*null = true;
		*p = NULL;
		*len = 0;
		return;
	}
	const pq_bytes *b = cr->page_dict ? &cr->dict_b[cr->idx[cr->vi]] : &cr->vb[cr->vi];
	cr->vi++;
	*null = false;
	*p = b->len ? b->ptr : (const uint8_t *)"";
	*len = b->len;
}

int pqr_cursor_next(pqr_cursor *c, pqr_row *row)
{
	int rc;

	if (c->err)
		return c->err;
	if (c->eof)
		return 0;
	while (c->rows_left == 0) {
		if (c->rg >= 0 && (rc = finish_row_group(c)) != 0)
			return rc;
		if (c->rg + 1 >= (int64_t)c->f->md.num_row_groups) {
			c->eof = true;
			return 0;
		}
		c->rg++;
		start_row_group(c);
	}
	for (int k = 0; k < c->ncols; k++) {
		struct colrd *cr = &c->cols[k];
		if (cr->i == cr->n && (rc = next_page(c, cr)) != 0)
			return rc;
	}
	take_bytes(&c->cols[0], &row->key_null, &row->key, &row->key_len);
	take_bytes(&c->cols[1], &row->value_null, &row->value, &row->value_len);
	row->has_expiry = false;
	row->expires_ms = 0;
	if (c->ncols == 3) {
		struct colrd *cr = &c->cols[2];
		size_t i = cr->i++;
		if (cr->col->max_def == 0 || cr->defs[i] == (uint32_t)cr->col->max_def) {
			row->has_expiry = true;
			row->expires_ms =
			        cr->page_dict ? cr->dict_i[cr->idx[cr->vi]] : cr->v64[cr->vi];
			cr->vi++;
		}
	}
	c->rows_left--;
	return 1;
}

const char *pqr_cursor_error(const pqr_cursor *c)
{
	return c->err ? c->msg : "";
}

void pqr_cursor_free(pqr_cursor *c)
{
	if (c == NULL)
		return;
	for (int k = 0; k < 3; k++)
		free_column(&c->cols[k]);
	free(c);
}
