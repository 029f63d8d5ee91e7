/* writer.c - streaming Parquet writer for minidb's snapshot layout (see
 * writer.h). Hand-written from the Apache Parquet specification because no
 * C library for Parquet is packaged in Debian.
 *
 *   "PAR1" | row group 0: key chunk | value chunk | expires_at chunk | ...
 *          | FileMetaData (Thrift compact) | u32 LE footer length | "PAR1"
 *   chunk = (PageHeader | page bytes, compressed)+, v1 data pages, PLAIN
 *   expires_at page = u32 LE length | RLE/bit-packed def levels | values
 *
 * Invariants: each column holds one open (uncompressed) page and the
 * finished, compressed pages of the open row group; nothing else grows with
 * the number of rows except the per-row-group metadata kept for the footer.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "parquet/compress.h"
#include "parquet/encoding.h"
#include "parquet/writer.h"

#define COL_KEY     0
#define COL_VALUE   1
#define COL_EXPIRES 2
#define NUM_COLS    3

#define MAX_VALUE_BYTES ((size_t)1 << 30) /* values must be below this */
#define MAX_PAGE_BYTES  ((size_t)512 << 20)
#define MAX_STATS_BYTES ((size_t)1 << 20)
/* Rows per page at most, whatever page_bytes says: bounds the definition
 * level array (4 bytes a row) of an expires_at page full of NULLs, which
 * costs about one bit a row on disk and would otherwise never fill. */
#define PAGE_MAX_VALUES ((size_t)1 << 18)

struct pqw_buf {
	uint8_t *p;
	size_t len, cap;
};

/* Running min/max of the open row group. Byte arrays keep at most
 * stats_max_bytes of each bound plus a flag saying the real bound is
 * longer, which is all the truncated output needs (see stat_update). */
struct pqw_stats {
	bool has_bounds;
	bool min_trunc, max_trunc;
	size_t min_len, max_len;
	uint8_t *min, *max; /* stats_max_bytes each */
	int64_t imin, imax; /* expires_at */
};

struct pqw_col {
	struct pqw_buf page; /* PLAIN values of the open page */
	uint32_t *defs;      /* expires_at: definition levels of the open page */
	size_t defs_cap;
	size_t page_values;   /* values in the open page, NULLs included */
	struct pqw_buf chunk; /* finished pages of the open row group */
	int64_t chunk_values, chunk_nulls, chunk_uncompressed, chunk_compressed;
	struct pqw_stats st;
	bool utf8; /* every value so far is valid UTF-8 */
};

/* What the footer needs of one written column chunk. */
struct pqw_chunk_meta {
	int64_t offset, num_values, null_count, uncompressed, compressed;
	bool has_bounds, min_trunc, max_trunc;
	size_t min_len, max_len;
	uint8_t *min, *max; /* in the row group's stats block */
};

struct pqw_rg_meta {
	int64_t num_rows;
	struct pqw_chunk_meta col[NUM_COLS];
	uint8_t *stats; /* one block for all bounds of the row group */
};

struct pqw {
	pqw_options o;
	pqw_write_fn fn;
	void *arg;
	char *created_by;
	pq_key_value *kv; /* deep copy of o.kv */
	size_t num_kv;
	struct pqw_col col[NUM_COLS];
	struct pqw_buf asm_buf;  /* expires_at page: levels then values */
	struct pqw_buf comp_buf; /* compressed page */
	pqt_writer hdr;
	uint64_t rg_rows; /* rows in the open row group */
	size_t rg_bytes;  /* uncompressed value bytes in the open row group */
	struct pqw_rg_meta *rgs;
	size_t num_rgs, rgs_cap;
	uint64_t rows;
	uint64_t written;
	bool started, finished;
	int err;
	char msg[160];
};

/* ---- helpers ---- */

static int fail(pqw *w, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(pqw *w, int err, const char *fmt, ...)
{
	va_list ap;

	if (w->err)
		return w->err;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	w->err = err;
	return err;
}

static int fail_nomem(pqw *w)
{
	return fail(w, -ENOMEM, "out of memory");
}

/* Room for n more bytes; doubling growth so appends are amortised O(1). */
static int buf_reserve(struct pqw_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < n)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_put(struct pqw_buf *b, const void *src, size_t n)
{
	if (n)
		memcpy(b->p + b->len, src, n);
	b->len += n;
}

/* Gives back a buffer that one huge value or page blew up, so memory after
 * it returns to what the options imply. */
static void buf_trim(struct pqw_buf *b, size_t limit)
{
	if (b->cap > limit) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->len = 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- UTF-8 ---- */

/* Strict UTF-8 (Unicode 15, table 3-7): no overlong forms, no surrogates,
 * nothing above U+10FFFF. ASCII is skipped 8 bytes at a time, which is most
 * keys and values; a table-driven DFA was the alternative, but branches on
 * the lead byte are as fast once the ASCII runs are gone. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		while (n - i >= 8) {
			uint64_t v;
			memcpy(&v, s + i, 8);
			if (v & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t need;
		uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += need + 1;
	}
	return true;
}

/* Length of the longest prefix of s[0..n) that ends on a code point
 * boundary, s being a prefix of valid UTF-8. */
static size_t utf8_cut(const uint8_t *s, size_t n)
{
	size_t i = n, back = 0;

	while (i > 0 && back < 4 && (s[i - 1] & 0xc0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return 0;
	uint8_t c = s[i - 1];
	size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return back + 1 >= len ? n : i - 1;
}

/* Decodes the code point at s (valid UTF-8); *len gets its size. */
static uint32_t utf8_decode(const uint8_t *s, size_t *len)
{
	uint8_t c = s[0];
	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if (c < 0xe0) {
		*len = 2;
		return ((uint32_t)(c & 0x1f) << 6) | (s[1] & 0x3f);
	}
	if (c < 0xf0) {
		*len = 3;
		return ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
		       (s[2] & 0x3f);
	}
	*len = 4;
	return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
	       ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
}

static size_t utf8_encode(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- statistics ---- */

/* Smallest upper bound of every string that starts with s[0..n): the last
 * byte below 0xff incremented and what follows it dropped. In a STRING
 * column the same is done per code point (UTF-8 order is code point
 * order), so the bound stays valid UTF-8; a code point whose successor is
 * longer (U+007F -> U+0080) is skipped like U+10FFFF, so the bound is never
 * longer than n. Returns the length, or 0 when no such bound exists (all
 * 0xff, all U+10FFFF, or empty). */
static size_t bound_increment(const uint8_t *s, size_t n, bool utf8, uint8_t *out)
{
	if (!utf8) {
		for (size_t i = n; i > 0; i--) {
			if (s[i - 1] != 0xff) {
				memcpy(out, s, i);
				out[i - 1]++;
				return i;
			}
		}
		return 0;
	}
	/* Start offsets of the code points, last first. */
	size_t i = n;
	while (i > 0) {
		size_t start = i - 1;
		while (start > 0 && (s[start] & 0xc0) == 0x80)
			start--;
		size_t len;
		uint32_t cp = utf8_decode(s + start, &len);
		if (cp < 0x10ffff) {
			uint8_t enc[4];
			cp = cp + 1 == 0xd800 ? 0xe000 : cp + 1;
			size_t elen = utf8_encode(cp, enc);
			if (start + elen <= n) {
				memcpy(out, s, start);
				memcpy(out + start, enc, elen);
				return start + elen;
			}
		}
		i = start;
	}
	return 0;
}

/* Folds one byte-array value into the running bounds. Only the first S
 * bytes of each bound are kept with a flag "the bound is longer": when v
 * and the bound share those S bytes and are both longer, the truncated
 * output is the same whichever is smaller, so the rest never matters. */
static void stat_update_bytes(struct pqw_stats *st, const uint8_t *v, size_t n, size_t S)
{
	size_t keep = n < S ? n : S;

	if (!st->has_bounds) {
		st->has_bounds = true;
		if (keep) {
			memcpy(st->min, v, keep);
			memcpy(st->max, v, keep);
		}
		st->min_len = st->max_len = keep;
		st->min_trunc = st->max_trunc = n > S;
		return;
	}
	size_t m = st->min_len, k = n < m ? n : m;
	int r = k ? memcmp(v, st->min, k) : 0;
	bool take;
	if (r != 0)
		take = r < 0;
	else if (n < m)
		take = true;
	else if (n == m)
		take = st->min_trunc; /* the real min is longer than v */
	else
		take = false;
	if (take) {
		if (keep)
			memcpy(st->min, v, keep);
		st->min_len = keep;
		st->min_trunc = n > S;
	}

	m = st->max_len;
	k = n < m ? n : m;
	r = k ? memcmp(v, st->max, k) : 0;
	if (r != 0)
		take = r > 0;
	else if (n <= m)
		take = false;
	else
		take = !st->max_trunc; /* v extends the (complete) max */
	if (take) {
		if (keep)
			memcpy(st->max, v, keep);
		st->max_len = keep;
		st->max_trunc = n > S;
	}
}

static void stat_update_i64(struct pqw_stats *st, int64_t v)
{
	if (!st->has_bounds) {
		st->has_bounds = true;
		st->imin = st->imax = v;
		return;
	}
	if (v < st->imin)
		st->imin = v;
	if (v > st->imax)
		st->imax = v;
}

/* ---- open / options ---- */

void pqw_options_init(pqw_options *o)
{
	memset(o, 0, sizeof(*o));
	o->codec = PQ_CODEC_ZSTD;
	o->level = 0;
	o->page_bytes = (size_t)1 << 20;
	o->row_group_bytes = (size_t)64 << 20;
	o->row_group_rows = 1000000;
	o->page_crc = true;
	o->stats_max_bytes = 64;
}

static bool options_valid(const pqw_options *o)
{
	if (!pq_codec_supported(o->codec))
		return false;
	if (o->page_bytes == 0 || o->page_bytes > MAX_PAGE_BYTES)
		return false;
	if (o->row_group_bytes == 0 || o->row_group_rows == 0 || o->row_group_rows > INT64_MAX)
		return false;
	if (o->stats_max_bytes == 0 || o->stats_max_bytes > MAX_STATS_BYTES)
		return false;
	if (o->num_kv && !o->kv)
		return false;
	for (size_t i = 0; i < o->num_kv; i++) {
		const pq_key_value *kv = &o->kv[i];
		if ((kv->key.len && !kv->key.ptr) ||
		    (kv->has_value && kv->value.len && !kv->value.ptr))
			return false;
	}
	return true;
}

/* Copies the footer strings so the caller's options need not outlive the
 * writer: one block for all keys and values. */
static int copy_strings(pqw *w, const pqw_options *o)
{
	char dflt[128];
	const char *cb = o->created_by;
	if (!cb) {
		snprintf(dflt, sizeof(dflt), "minidb version %s (build %s)", MINIDB_VERSION,
		         MINIDB_COMMIT);
		cb = dflt;
	}
	w->created_by = strdup(cb);
	if (!w->created_by)
		return -ENOMEM;

	size_t total = 0;
	for (size_t i = 0; i < o->num_kv; i++)
		total += (size_t)o->kv[i].key.len + (o->kv[i].has_value ? o->kv[i].value.len : 0);
	if (!o->num_kv)
		return 0;
	w->kv = calloc(o->num_kv, sizeof(*w->kv));
	uint8_t *block = malloc(total ? total : 1);
	if (!w->kv || !block) {
		free(block);
		return -ENOMEM;
	}
	/* The block is owned through kv[0].key.ptr (freed in pqw_free). */
	uint8_t *p = block;
	for (size_t i = 0; i < o->num_kv; i++) {
		w->kv[i] = o->kv[i];
		if (o->kv[i].key.len)
			memcpy(p, o->kv[i].key.ptr, o->kv[i].key.len);
		w->kv[i].key.ptr = p;
		p += o->kv[i].key.len;
		if (o->kv[i].has_value) {
			if (o->kv[i].value.len)
				memcpy(p, o->kv[i].value.ptr, o->kv[i].value.len);
			w->kv[i].value.ptr = p;
			p += o->kv[i].value.len;
		} else {
			w->kv[i].value.ptr = NULL;
			w->kv[i].value.len = 0;
		}
	}
	w->num_kv = o->num_kv;
	return 0;
}

pqw *pqw_open(const pqw_options *o, pqw_write_fn fn, void *arg)
{
	if (!o || !fn || !options_valid(o))
		return NULL;
	pqw *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->o = *o;
	w->o.kv = NULL;
	w->o.num_kv = 0;
	w->o.created_by = NULL;
	w->fn = fn;
	w->arg = arg;
	pqt_writer_init(&w->hdr);
	if (copy_strings(w, o))
		goto nomem;
	for (int c = 0; c < NUM_COLS; c++) {
		struct pqw_col *col = &w->col[c];
		col->utf8 = c != COL_EXPIRES;
		if (c == COL_EXPIRES)
			continue;
		col->st.min = malloc(o->stats_max_bytes);
		col->st.max = malloc(o->stats_max_bytes);
		if (!col->st.min || !col->st.max)
			goto nomem;
	}
	return w;
nomem:
	pqw_free(w);
	return NULL;
}

void pqw_free(pqw *w)
{
	if (!w)
		return;
	for (int c = 0; c < NUM_COLS; c++) {
		struct pqw_col *col = &w->col[c];
		free(col->page.p);
		free(col->defs);
		free(col->chunk.p);
		free(col->st.min);
		free(col->st.max);
	}
	for (size_t i = 0; i < w->num_rgs; i++)
		free(w->rgs[i].stats);
	free(w->rgs);
	free(w->asm_buf.p);
	free(w->comp_buf.p);
	pqt_writer_free(&w->hdr);
	if (w->kv)
		free((void *)w->kv[0].key.ptr);
	free(w->kv);
	free(w->created_by);
	free(w);
}

/* ---- output ---- */

int pqw_write_fd(void *arg, const void *buf, size_t len)
{
	int fd = *(const int *)arg;
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int out(pqw *w, const void *buf, size_t len)
{
	if (!len)
		return 0;
	int rc = w->fn(w->arg, buf, len);
	if (rc) {
		if (rc > 0)
			rc = -EIO;
		return fail(w, rc, "write: %s", strerror(-rc));
	}
	w->written += len;
	return 0;
}

static int start(pqw *w)
{
	if (w->started)
		return 0;
	w->started = true;
	return out(w, "PAR1", 4);
}

/* ---- pages ---- */

static int compress_error(pqw *w, int st)
{
	if (st == PQC_NO_MEMORY)
		return fail_nomem(w);
	return fail(w, st == PQC_TOO_LARGE ? -EINVAL : -EIO, "compress: %s", pq_codec_strerror(st));
}

/* Compresses the open page of column c and appends header and bytes to
 * the column's chunk buffer. */
static int flush_page(pqw *w, int c)
{
	struct pqw_col *col = &w->col[c];
	const uint8_t *raw = col->page.p;
	size_t raw_len = col->page.len;

	if (col->page_values == 0)
		return 0;
	if (c == COL_EXPIRES) {
		size_t cap = 4 + pq_hybrid_max_size(col->page_values, 1) + col->page.len;
		size_t lvl;
		w->asm_buf.len = 0;
		if (buf_reserve(&w->asm_buf, cap))
			return fail_nomem(w);
		int st = pq_hybrid_encode_prefixed(col->defs, col->page_values, 1, w->asm_buf.p,
		                                   cap, &lvl);
		if (st != PQE_OK)
			return fail(w, -EIO, "definition levels: %s", pq_enc_strerror(st));
		if (col->page.len)
			memcpy(w->asm_buf.p + lvl, col->page.p, col->page.len);
		raw = w->asm_buf.p;
		raw_len = lvl + col->page.len;
	}
	if (raw_len > INT32_MAX)
		return fail(w, -EINVAL, "page of %zu bytes is too large", raw_len);

	const uint8_t *data = raw;
	size_t data_len = raw_len;
	if (w->o.codec != PQ_CODEC_UNCOMPRESSED) {
		size_t bound = pq_compress_bound(w->o.codec, raw_len);
		if (bound == 0)
			return compress_error(w, PQC_TOO_LARGE);
		w->comp_buf.len = 0;
		if (buf_reserve(&w->comp_buf, bound))
			return fail_nomem(w);
		int st = pq_compress(w->o.codec, w->o.level, raw, raw_len, w->comp_buf.p, bound,
		                     &data_len);
		if (st != PQC_OK)
			return compress_error(w, st);
		data = w->comp_buf.p;
	}
	if (data_len > INT32_MAX)
		return fail(w, -EINVAL, "compressed page of %zu bytes is too large", data_len);

	pq_page_header h;
	memset(&h, 0, sizeof(h));
	h.type = PQ_PAGE_DATA;
	h.uncompressed_page_size = (int32_t)raw_len;
	h.compressed_page_size = (int32_t)data_len;
	if (w->o.page_crc) {
		h.has_crc = true;
		h.crc = (int32_t)(uint32_t)crc32(0L, data, (uInt)data_len);
	}
	h.has_data_page_header = true;
	h.data_page_header.num_values = (int32_t)col->page_values;
	h.data_page_header.encoding = PQ_ENC_PLAIN;
	h.data_page_header.definition_level_encoding = PQ_ENC_RLE;
	h.data_page_header.repetition_level_encoding = PQ_ENC_RLE;
	pqt_writer_reset(&w->hdr);
	int st = pq_page_header_encode(&w->hdr, &h);
	if (st != PQT_OK)
		return st == PQT_NO_MEMORY ? fail_nomem(w)
		                           : fail(w, -EIO, "page header: %s", pqt_strerror(st));

	if (buf_reserve(&col->chunk, w->hdr.len + data_len))
		return fail_nomem(w);
	buf_put(&col->chunk, w->hdr.data, w->hdr.len);
	buf_put(&col->chunk, data, data_len);
	col->chunk_values += (int64_t)col->page_values;
	col->chunk_uncompressed += (int64_t)(w->hdr.len + raw_len);
	col->chunk_compressed += (int64_t)(w->hdr.len + data_len);
	col->page_values = 0;
	buf_trim(&col->page, 2 * w->o.page_bytes + 4096);
	buf_trim(&w->asm_buf, 2 * w->o.page_bytes + 4096);
	buf_trim(&w->comp_buf, 3 * w->o.page_bytes + 4096);
	return 0;
}

/* ---- row groups ---- */

static int write_row_group(pqw *w)
{
	if (w->rg_rows == 0)
		return 0;
	for (int c = 0; c < NUM_COLS; c++)
		if (flush_page(w, c))
			return w->err;
	if (start(w))
		return w->err;

	if (w->num_rgs == w->rgs_cap) {
		size_t cap = w->rgs_cap ? 2 * w->rgs_cap : 16;
		struct pqw_rg_meta *p = realloc(w->rgs, cap * sizeof(*p));
		if (!p)
			return fail_nomem(w);
		w->rgs = p;
		w->rgs_cap = cap;
	}
	struct pqw_rg_meta *rg = &w->rgs[w->num_rgs];
	memset(rg, 0, sizeof(*rg));
	size_t S = w->o.stats_max_bytes;
	rg->stats = malloc(4 * S + 16);
	if (!rg->stats)
		return fail_nomem(w);
	w->num_rgs++;
	rg->num_rows = (int64_t)w->rg_rows;

	uint8_t *sp = rg->stats;
	for (int c = 0; c < NUM_COLS; c++) {
		struct pqw_col *col = &w->col[c];
		struct pqw_chunk_meta *m = &rg->col[c];
		m->offset = (int64_t)w->written;
		m->num_values = col->chunk_values;
		m->null_count = col->chunk_nulls;
		m->uncompressed = col->chunk_uncompressed;
		m->compressed = col->chunk_compressed;
		m->has_bounds = col->st.has_bounds;
		if (c == COL_EXPIRES) {
			m->min = sp;
			m->max = sp + 8;
			m->min_len = m->max_len = 8;
			put_le64(m->min, (uint64_t)col->st.imin);
			put_le64(m->max, (uint64_t)col->st.imax);
			sp += 16;
		} else {
			m->min = sp;
			m->max = sp + S;
			m->min_len = col->st.min_len;
			m->max_len = col->st.max_len;
			m->min_trunc = col->st.min_trunc;
			m->max_trunc = col->st.max_trunc;
			if (m->min_len)
				memcpy(m->min, col->st.min, m->min_len);
			if (m->max_len)
				memcpy(m->max, col->st.max, m->max_len);
			sp += 2 * S;
		}
		if (out(w, col->chunk.p, col->chunk.len))
			return w->err;
		buf_trim(&col->chunk, w->o.row_group_bytes + 4096);
		col->chunk_values = col->chunk_nulls = 0;
		col->chunk_uncompressed = col->chunk_compressed = 0;
		col->st.has_bounds = false;
	}
	w->rg_rows = 0;
	w->rg_bytes = 0;
	return 0;
}

/* ---- rows ---- */

static int add_bytes(pqw *w, int c, const void *v, size_t n)
{
	struct pqw_col *col = &w->col[c];

	/* A value of a page or more gets a page of its own. */
	if (col->page_values && 4 + n >= w->o.page_bytes && flush_page(w, c))
		return w->err;
	if (buf_reserve(&col->page, 4 + n))
		return fail_nomem(w);
	put_le32(col->page.p + col->page.len, (uint32_t)n);
	col->page.len += 4;
	buf_put(&col->page, v, n);
	col->page_values++;
	w->rg_bytes += 4 + n;
	if (col->utf8 && !utf8_valid(v, n))
		col->utf8 = false;
	stat_update_bytes(&col->st, v, n, w->o.stats_max_bytes);
	if (col->page.len >= w->o.page_bytes || col->page_values >= PAGE_MAX_VALUES)
		return flush_page(w, c);
	return 0;
}

static int add_expiry(pqw *w, bool has, int64_t ms)
{
	struct pqw_col *col = &w->col[COL_EXPIRES];

	if (col->page_values == col->defs_cap) {
		size_t cap = col->defs_cap ? 2 * col->defs_cap : 1024;
		if (cap > PAGE_MAX_VALUES)
			cap = PAGE_MAX_VALUES;
		uint32_t *p = realloc(col->defs, cap * sizeof(*p));
		if (!p)
			return fail_nomem(w);
		col->defs = p;
		col->defs_cap = cap;
	}
	col->defs[col->page_values++] = has;
	if (has) {
		if (buf_reserve(&col->page, 8))
			return fail_nomem(w);
		put_le64(col->page.p + col->page.len, (uint64_t)ms);
		col->page.len += 8;
		w->rg_bytes += 8;
		stat_update_i64(&col->st, ms);
	} else {
		col->chunk_nulls++;
	}
	if (col->page.len + col->page_values / 8 >= w->o.page_bytes ||
	    col->page_values >= PAGE_MAX_VALUES)
		return flush_page(w, COL_EXPIRES);
	return 0;
}

int pqw_add(pqw *w, const void *key, size_t klen, const void *val, size_t vlen, bool has_expiry,
            int64_t expires_ms)
{
	if (w->err)
		return w->err;
	if (w->finished)
		return -EINVAL;
	if (klen >= MAX_VALUE_BYTES || vlen >= MAX_VALUE_BYTES)
		return fail(w, -EINVAL, "%s of %zu bytes is above the 1 GiB - 1 limit",
		            klen >= MAX_VALUE_BYTES ? "key" : "value",
		            klen >= MAX_VALUE_BYTES ? klen : vlen);
	if (start(w))
		return w->err;
	if (add_bytes(w, COL_KEY, key, klen) || add_bytes(w, COL_VALUE, val, vlen) ||
	    add_expiry(w, has_expiry, expires_ms))
		return w->err;
	w->rows++;
	w->rg_rows++;
	if (w->rg_bytes >= w->o.row_group_bytes || w->rg_rows >= w->o.row_group_rows)
		return write_row_group(w);
	return 0;
}

/* ---- footer ---- */

/* Fills the statistics of one column chunk. Bound bytes that need
 * rewriting (code point cuts, increments) go to scratch (2 * S + 8). */
static void chunk_stats(const struct pqw_chunk_meta *m, int c, bool utf8, uint8_t *scratch,
                        pq_statistics *s)
{
	memset(s, 0, sizeof(*s));
	s->has_null_count = true;
	s->null_count = m->null_count;
	if (!m->has_bounds)
		return;
	if (c == COL_EXPIRES) {
		s->has_min_value = s->has_max_value = true;
		s->min_value = (pqt_bin){m->min, 8};
		s->max_value = (pqt_bin){m->max, 8};
		s->has_is_min_value_exact = s->has_is_max_value_exact = true;
		s->is_min_value_exact = s->is_max_value_exact = true;
		return;
	}
	/* min: a prefix of the real min is a lower bound. */
	size_t len = m->min_len;
	if (m->min_trunc && utf8)
		len = utf8_cut(m->min, len);
	s->has_min_value = true;
	s->min_value = (pqt_bin){m->min, (uint32_t)len};
	s->has_is_min_value_exact = true;
	s->is_min_value_exact = !m->min_trunc;

	if (!m->max_trunc) {
		s->has_max_value = true;
		s->max_value = (pqt_bin){m->max, (uint32_t)m->max_len};
		s->has_is_max_value_exact = true;
		s->is_max_value_exact = true;
		return;
	}
	len = m->max_len;
	if (utf8)
		len = utf8_cut(m->max, len);
	len = bound_increment(m->max, len, utf8, scratch);
	if (len == 0)
		return; /* no bound shorter than the limit: leave max out */
	s->has_max_value = true;
	s->max_value = (pqt_bin){scratch, (uint32_t)len};
	s->has_is_max_value_exact = true;
	s->is_max_value_exact = false;
}

static int write_footer(pqw *w)
{
	static const char *names[NUM_COLS] = {"key", "value", "expires_at"};
	int32_t enc_req[1] = {PQ_ENC_PLAIN};
	int32_t enc_opt[2] = {PQ_ENC_PLAIN, PQ_ENC_RLE};
	pqt_bin paths[NUM_COLS];
	pq_schema_element schema[1 + NUM_COLS];
	pq_file_metadata md;
	int rc = 0;

	memset(schema, 0, sizeof(schema));
	schema[0].name = (pqt_bin){(const uint8_t *)"schema", 6};
	schema[0].has_num_children = true;
	schema[0].num_children = NUM_COLS;
	for (int c = 0; c < NUM_COLS; c++) {
		pq_schema_element *e = &schema[1 + c];
		paths[c] = (pqt_bin){(const uint8_t *)names[c], (uint32_t)strlen(names[c])};
		e->name = paths[c];
		e->has_type = e->has_repetition_type = true;
		if (c == COL_EXPIRES) {
			e->type = PQ_INT64;
			e->repetition_type = PQ_OPTIONAL;
			e->has_converted_type = e->has_logical_type = true;
			e->converted_type = PQ_CT_TIMESTAMP_MILLIS;
			e->logical_type.kind = PQ_LT_TIMESTAMP;
			e->logical_type.is_adjusted_to_utc = true;
			e->logical_type.unit = PQ_UNIT_MILLIS;
		} else {
			e->type = PQ_BYTE_ARRAY;
			e->repetition_type = PQ_REQUIRED;
			if (w->col[c].utf8) {
				e->has_converted_type = e->has_logical_type = true;
				e->converted_type = PQ_CT_UTF8;
				e->logical_type.kind = PQ_LT_STRING;
			}
		}
	}

	memset(&md, 0, sizeof(md));
	md.version = 2;
	md.num_schema = 1 + NUM_COLS;
	md.schema = schema;
	md.num_rows = (int64_t)w->rows;
	md.num_key_value = (uint32_t)w->num_kv;
	md.key_value_metadata = w->kv;
	md.has_created_by = true;
	md.created_by = (pqt_bin){(const uint8_t *)w->created_by, (uint32_t)strlen(w->created_by)};
	md.num_column_orders = NUM_COLS;

	size_t S = w->o.stats_max_bytes;
	pq_row_group *rgs = NULL;
	pq_column_chunk *chunks = NULL;
	uint8_t *scratch = NULL;
	if (w->num_rgs > UINT32_MAX)
		return fail(w, -EINVAL, "too many row groups");
	if (w->num_rgs) {
		rgs = calloc(w->num_rgs, sizeof(*rgs));
		chunks = calloc(w->num_rgs * NUM_COLS, sizeof(*chunks));
		scratch = malloc(w->num_rgs * NUM_COLS * (S + 8));
		if (!rgs || !chunks || !scratch) {
			rc = fail_nomem(w);
			goto out;
		}
	}
	for (size_t i = 0; i < w->num_rgs; i++) {
		const struct pqw_rg_meta *rm = &w->rgs[i];
		pq_row_group *rg = &rgs[i];
		rg->num_columns = NUM_COLS;
		rg->columns = &chunks[i * NUM_COLS];
		rg->num_rows = rm->num_rows;
		rg->has_file_offset = rg->has_total_compressed_size = true;
		rg->file_offset = rm->col[0].offset;
		if (i <= INT16_MAX) {
			rg->has_ordinal = true;
			rg->ordinal = (int16_t)i;
		}
		for (int c = 0; c < NUM_COLS; c++) {
			const struct pqw_chunk_meta *m = &rm->col[c];
			pq_column_chunk *cc = &rg->columns[c];
			pq_column_meta_data *cm = &cc->meta_data;
			cc->file_offset = m->offset;
			cc->has_meta_data = true;
			cm->type = c == COL_EXPIRES ? PQ_INT64 : PQ_BYTE_ARRAY;
			cm->num_encodings = c == COL_EXPIRES ? 2 : 1;
			cm->encodings = c == COL_EXPIRES ? enc_opt : enc_req;
			cm->num_path = 1;
			cm->path_in_schema = &paths[c];
			cm->codec = w->o.codec;
			cm->num_values = m->num_values;
			cm->total_uncompressed_size = m->uncompressed;
			cm->total_compressed_size = m->compressed;
			cm->data_page_offset = m->offset;
			cm->has_statistics = true;
			chunk_stats(m, c, w->col[c].utf8, scratch + (i * NUM_COLS + c) * (S + 8),
			            &cm->statistics);
			rg->total_byte_size += m->uncompressed;
			rg->total_compressed_size += m->compressed;
		}
	}
	md.num_row_groups = (uint32_t)w->num_rgs;
	md.row_groups = rgs;

	pqt_writer_reset(&w->hdr);
	int st = pq_file_metadata_encode(&w->hdr, &md);
	if (st != PQT_OK) {
		rc = st == PQT_NO_MEMORY ? fail_nomem(w)
		                         : fail(w, -EIO, "footer: %s", pqt_strerror(st));
		goto out;
	}
	if (w->hdr.len > UINT32_MAX) {
		rc = fail(w, -EINVAL, "footer of %zu bytes is too large", w->hdr.len);
		goto out;
	}
	uint8_t tail[8];
	put_le32(tail, (uint32_t)w->hdr.len);
	memcpy(tail + 4, "PAR1", 4);
	if (out(w, w->hdr.data, w->hdr.len) || out(w, tail, sizeof(tail)))
		rc = w->err;
out:
	free(scratch);
	free(chunks);
	free(rgs);
	return rc;
}

int pqw_finish(pqw *w)
{
	if (w->err)
		return w->err;
	if (w->finished)
		return -EINVAL;
	w->finished = true;
	if (start(w) || write_row_group(w) || write_footer(w))
		return w->err;
	return 0;
}

const char *pqw_error(const pqw *w)
{
	return w->err ? w->msg : "no error";
}

uint64_t pqw_rows(const pqw *w)
{
	return w->rows;
}

uint64_t pqw_bytes_written(const pqw *w)
{
	return w->written;
}
