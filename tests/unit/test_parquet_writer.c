/* Unit tests for the Parquet writer (src/parquet/writer.c). Every file is
 * written into memory and read back with the independent decoders
 * (metadata, page headers, codecs, encodings): layout and offsets, every
 * value, page CRCs, statistics and their truncation rules, the UTF-8
 * decision per column, every codec, option checks, sticky write errors and
 * the row-group cut that bounds memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "parquet/compress.h"
#include "parquet/encoding.h"
#include "parquet/metadata.h"
#include "parquet/writer.h"
#include "parquet_testlib.h"

/* ---- an in-memory sink ---- */

struct sink {
	uint8_t *p;
	size_t len, cap;
	size_t fail_after; /* fail writes that would pass this many bytes; 0 never */
	int calls_after_fail;
};

static int sink_write(void *arg, const void *buf, size_t len)
{
	struct sink *s = arg;
	if (s->fail_after && s->len + len > s->fail_after) {
		s->calls_after_fail++;
		return -ENOSPC;
	}
	if (s->cap - s->len < len) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap - s->len < len)
			cap *= 2;
		s->p = realloc(s->p, cap);
		assert_non_null(s->p);
		s->cap = cap;
	}
	memcpy(s->p + s->len, buf, len);
	s->len += len;
	return 0;
}

/* ---- expected rows ---- */

struct row {
	const uint8_t *key;
	size_t klen;
	const uint8_t *val;
	size_t vlen;
	bool has;
	int64_t exp;
};

struct rows {
	struct row *r;
	size_t n;
	uint8_t *arena;
	size_t alen, acap;
};

static void rows_free(struct rows *rs)
{
	free(rs->r);
	free(rs->arena);
	memset(rs, 0, sizeof(*rs));
}

/* Generated rows: distinct UTF-8 keys, values of varied length (some
 * empty), every third row without expiry, negative and positive times. */
static void rows_gen(struct rows *rs, size_t n, size_t vmax)
{
	memset(rs, 0, sizeof(*rs));
	rs->r = calloc(n ? n : 1, sizeof(*rs->r));
	rs->acap = n * (24 + vmax) + 1;
	rs->arena = malloc(rs->acap);
	assert_non_null(rs->r);
	assert_non_null(rs->arena);
	uint8_t *p = rs->arena;
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rs->r[i];
		int kl = snprintf((char *)p, 24, "key:%09zu", (i * 7919) % (n * 3 + 1));
		r->key = p;
		r->klen = (size_t)kl;
		p += kl;
		size_t vl = vmax ? (i * 31) % (vmax + 1) : 0;
		for (size_t j = 0; j < vl; j++)
			p[j] = (uint8_t)('a' + (i + j) % 26);
		r->val = p;
		r->vlen = vl;
		p += vl;
		r->has = i % 3 != 0;
		r->exp = (int64_t)(i * 1000) - 5000;
	}
	rs->n = n;
}

/* ---- reading back ---- */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t k = al < bl ? al : bl;
	int r = k ? memcmp(a, b, k) : 0;
	if (r)
		return r;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Reference UTF-8 check, decode-based (independent of the writer's). */
static bool ref_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

struct readback {
	pq_file_metadata md;
	size_t pages[3]; /* data pages per column, whole file */
	size_t max_page_values[3];
	size_t crc_pages;
};

/* Checks one column chunk's statistics against the rows it holds. */
static void check_stats(const pq_statistics *s, int c, const struct row *r, size_t n,
                        size_t stats_max, bool utf8)
{
	assert_false(s->has_min || s->has_max); /* deprecated fields never written */
	assert_true(s->has_null_count);
	if (c == 2) {
		int64_t nulls = 0, mn = INT64_MAX, mx = INT64_MIN;
		for (size_t i = 0; i < n; i++) {
			if (!r[i].has) {
				nulls++;
				continue;
			}
			mn = r[i].exp < mn ? r[i].exp : mn;
			mx = r[i].exp > mx ? r[i].exp : mx;
		}
		assert_int_equal(s->null_count, nulls);
		if (nulls == (int64_t)n) {
			assert_false(s->has_min_value || s->has_max_value);
			return;
		}
		assert_true(s->has_min_value && s->has_max_value);
		assert_int_equal(s->min_value.len, 8);
		assert_int_equal(s->max_value.len, 8);
		int64_t smin = 0, smax = 0;
		for (int i = 7; i >= 0; i--) {
			smin = (int64_t)((uint64_t)smin << 8 | s->min_value.ptr[i]);
			smax = (int64_t)((uint64_t)smax << 8 | s->max_value.ptr[i]);
		}
		assert_true(smin == mn);
		assert_true(smax == mx);
		return;
	}
	assert_int_equal(s->null_count, 0);
	const uint8_t *mn = NULL, *mx = NULL;
	size_t mnl = 0, mxl = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *v = c == 0 ? r[i].key : r[i].val;
		size_t l = c == 0 ? r[i].klen : r[i].vlen;
		if (!mn || bytes_cmp(v, l, mn, mnl) < 0)
			mn = v, mnl = l;
		if (!mx || bytes_cmp(v, l, mx, mxl) > 0)
			mx = v, mxl = l;
	}
	assert_true(s->has_min_value);
	assert_true(s->min_value.len <= stats_max);
	assert_true(s->has_is_min_value_exact);
	int cmp = bytes_cmp(s->min_value.ptr, s->min_value.len, mn, mnl);
	assert_true(cmp <= 0);
	if (s->is_min_value_exact)
		assert_int_equal(cmp, 0);
	if (utf8)
		assert_true(ref_utf8(s->min_value.ptr, s->min_value.len));
	if (s->has_max_value) {
		assert_true(s->max_value.len <= stats_max);
		assert_true(s->has_is_max_value_exact);
		cmp = bytes_cmp(s->max_value.ptr, s->max_value.len, mx, mxl);
		assert_true(cmp >= 0);
		if (s->is_max_value_exact)
			assert_int_equal(cmp, 0);
		else
			assert_true(cmp > 0);
		if (utf8)
			assert_true(ref_utf8(s->max_value.ptr, s->max_value.len));
	}
}

/* Decodes the whole file and checks it holds exactly rows[0..n). */
static void read_back(const uint8_t *f, size_t flen, const struct rows *rs, int32_t codec,
                      size_t stats_max, struct readback *rb)
{
	memset(rb, 0, sizeof(*rb));
	assert_true(flen >= 12);
	assert_memory_equal(f, "PAR1", 4);
	assert_memory_equal(f + flen - 4, "PAR1", 4);
	uint32_t flen_footer = get_le32(f + flen - 8);
	assert_true(flen_footer <= flen - 12);
	size_t footer_at = flen - 8 - flen_footer;
	pqt_reader r;
	pqt_reader_init(&r, f + footer_at, flen_footer);
	assert_int_equal(pq_file_metadata_decode(&r, &rb->md), PQT_OK);
	assert_int_equal(pqt_reader_pos(&r), flen_footer);
	const pq_file_metadata *md = &rb->md;

	assert_int_equal(md->version, 2);
	assert_int_equal(md->num_rows, (int64_t)rs->n);
	assert_int_equal(md->num_schema, 4);
	assert_int_equal(md->num_column_orders, 3);
	assert_true(md->has_created_by);
	assert_int_equal(md->schema[0].num_children, 3);
	assert_memory_equal(md->schema[0].name.ptr, "schema", 6);
	const char *names[3] = {"key", "value", "expires_at"};
	bool utf8[3];
	for (int c = 0; c < 3; c++) {
		const pq_schema_element *e = &md->schema[1 + c];
		assert_int_equal(e->name.len, strlen(names[c]));
		assert_memory_equal(e->name.ptr, names[c], e->name.len);
		assert_true(e->has_type && e->has_repetition_type);
		if (c == 2) {
			assert_int_equal(e->type, PQ_INT64);
			assert_int_equal(e->repetition_type, PQ_OPTIONAL);
			assert_int_equal(e->converted_type, PQ_CT_TIMESTAMP_MILLIS);
			assert_int_equal(e->logical_type.kind, PQ_LT_TIMESTAMP);
			assert_true(e->logical_type.is_adjusted_to_utc);
			assert_int_equal(e->logical_type.unit, PQ_UNIT_MILLIS);
			utf8[c] = false;
			continue;
		}
		assert_int_equal(e->type, PQ_BYTE_ARRAY);
		assert_int_equal(e->repetition_type, PQ_REQUIRED);
		bool all = true;
		for (size_t i = 0; i < rs->n && all; i++)
			all = c == 0 ? ref_utf8(rs->r[i].key, rs->r[i].klen)
			             : ref_utf8(rs->r[i].val, rs->r[i].vlen);
		utf8[c] = all;
		assert_int_equal(e->has_converted_type, all);
		assert_int_equal(e->has_logical_type, all);
		if (all) {
			assert_int_equal(e->converted_type, PQ_CT_UTF8);
			assert_int_equal(e->logical_type.kind, PQ_LT_STRING);
		}
	}

	size_t row_base = 0;
	int64_t pos = 4; /* chunks follow each other from the magic to the footer */
	for (uint32_t g = 0; g < md->num_row_groups; g++) {
		const pq_row_group *rg = &md->row_groups[g];
		assert_int_equal(rg->num_columns, 3);
		assert_true(rg->num_rows > 0);
		assert_true(row_base + (size_t)rg->num_rows <= rs->n);
		assert_true(rg->has_ordinal);
		assert_int_equal(rg->ordinal, g);
		assert_int_equal(rg->file_offset, pos);
		int64_t tbs = 0, tcs = 0;
		for (int c = 0; c < 3; c++) {
			const pq_column_chunk *cc = &rg->columns[c];
			const pq_column_meta_data *m = &cc->meta_data;
			assert_true(cc->has_meta_data);
			assert_int_equal(m->type, c == 2 ? PQ_INT64 : PQ_BYTE_ARRAY);
			assert_int_equal(m->codec, codec);
			assert_int_equal(m->num_values, rg->num_rows);
			assert_int_equal(m->num_path, 1);
			assert_memory_equal(m->path_in_schema[0].ptr, names[c], strlen(names[c]));
			assert_int_equal(m->num_encodings, c == 2 ? 2 : 1);
			assert_int_equal(m->encodings[0], PQ_ENC_PLAIN);
			if (c == 2)
				assert_int_equal(m->encodings[1], PQ_ENC_RLE);
			assert_int_equal(m->data_page_offset, pos);
			assert_int_equal(cc->file_offset, pos);
			assert_true(m->has_statistics);
			check_stats(&m->statistics, c, rs->r + row_base, (size_t)rg->num_rows,
			            stats_max, utf8[c]);
			tbs += m->total_uncompressed_size;
			tcs += m->total_compressed_size;

			/* The pages. */
			int64_t end = pos + m->total_compressed_size, unc = 0;
			assert_true(end <= (int64_t)footer_at);
			size_t row = row_base;
			while (pos < end) {
				pq_page_header h;
				size_t used;
				assert_int_equal(pq_page_header_parse(f + pos, (size_t)(end - pos),
				                                      &h, &used, NULL),
				                 PQT_OK);
				assert_int_equal(h.type, PQ_PAGE_DATA);
				assert_true(h.has_data_page_header);
				const pq_data_page_header *d = &h.data_page_header;
				assert_int_equal(d->encoding, PQ_ENC_PLAIN);
				assert_int_equal(d->definition_level_encoding, PQ_ENC_RLE);
				assert_int_equal(d->repetition_level_encoding, PQ_ENC_RLE);
				assert_true(d->num_values > 0);
				const uint8_t *cdata = f + pos + used;
				assert_true((int64_t)used + h.compressed_page_size <= end - pos);
				if (h.has_crc) {
					uint32_t crc = (uint32_t)crc32(
					        0L, cdata, (uInt)h.compressed_page_size);
					assert_int_equal((uint32_t)h.crc, crc);
					rb->crc_pages++;
				}
				size_t ulen = (size_t)h.uncompressed_page_size;
				uint8_t *page = malloc(ulen ? ulen : 1);
				assert_non_null(page);
				assert_int_equal(pq_decompress(codec, cdata,
				                               (size_t)h.compressed_page_size, page,
				                               ulen),
				                 PQC_OK);
				size_t nv = (size_t)d->num_values;
				assert_true(row + nv <= row_base + (size_t)rg->num_rows);
				const uint8_t *vp = page;
				size_t vlen = ulen, nonnull = nv;
				uint32_t *defs = NULL;
				if (c == 2) {
					size_t lu;
					defs = malloc(nv * sizeof(*defs));
					assert_non_null(defs);
					assert_int_equal(pq_hybrid_decode_prefixed(page, ulen, 1,
					                                           defs, nv, &lu),
					                 PQE_OK);
					vp += lu;
					vlen -= lu;
					nonnull = 0;
					for (size_t i = 0; i < nv; i++) {
						assert_int_equal(defs[i], rs->r[row + i].has);
						nonnull += defs[i];
					}
				}
				size_t vu;
				if (c == 2) {
					int64_t *iv = malloc((nonnull ? nonnull : 1) * sizeof(*iv));
					assert_non_null(iv);
					assert_int_equal(
					        pq_plain_int64_decode(vp, vlen, iv, nonnull, &vu),
					        PQE_OK);
					size_t k = 0;
					for (size_t i = 0; i < nv; i++)
						if (defs[i])
							assert_true(iv[k++] == rs->r[row + i].exp);
					free(iv);
				} else {
					pq_bytes *bv = malloc(nv * sizeof(*bv));
					assert_non_null(bv);
					assert_int_equal(
					        pq_plain_bytes_decode(vp, vlen, bv, nv, &vu),
					        PQE_OK);
					for (size_t i = 0; i < nv; i++) {
						const struct row *er = &rs->r[row + i];
						const uint8_t *ev = c == 0 ? er->key : er->val;
						size_t el = c == 0 ? er->klen : er->vlen;
						assert_int_equal(bv[i].len, el);
						if (el)
							assert_memory_equal(bv[i].ptr, ev, el);
					}
					free(bv);
				}
				assert_int_equal(vu, vlen); /* nothing after the values */
				free(defs);
				free(page);
				row += nv;
				rb->pages[c]++;
				if (nv > rb->max_page_values[c])
					rb->max_page_values[c] = nv;
				unc += (int64_t)used + h.uncompressed_page_size;
				pos += (int64_t)used + h.compressed_page_size;
			}
			assert_int_equal(pos, end);
			assert_int_equal(unc, m->total_uncompressed_size);
			assert_int_equal(row, row_base + (size_t)rg->num_rows);
		}
		assert_int_equal(rg->total_byte_size, tbs);
		assert_true(rg->has_total_compressed_size);
		assert_int_equal(rg->total_compressed_size, tcs);
		row_base += (size_t)rg->num_rows;
	}
	assert_int_equal(row_base, rs->n);
	assert_int_equal(pos, (int64_t)footer_at);
}

/* Writes rs with options o into a sink (caller frees s->p). */
static void write_rows(const pqw_options *o, const struct rows *rs, struct sink *s)
{
	memset(s, 0, sizeof(*s));
	pqw *w = pqw_open(o, sink_write, s);
	assert_non_null(w);
	for (size_t i = 0; i < rs->n; i++) {
		const struct row *r = &rs->r[i];
		assert_int_equal(pqw_add(w, r->key, r->klen, r->val, r->vlen, r->has, r->exp), 0);
	}
	assert_int_equal(pqw_rows(w), rs->n);
	assert_int_equal(pqw_finish(w), 0);
	assert_int_equal(pqw_bytes_written(w), s->len);
	assert_string_equal(pqw_error(w), "no error");
	pqw_free(w);
}

static void round_trip(const pqw_options *o, const struct rows *rs, struct readback *rb)
{
	struct sink s;
	write_rows(o, rs, &s);
	read_back(s.p, s.len, rs, o->codec, o->stats_max_bytes, rb);
	free(s.p);
}

/* ---- tests ---- */

static void test_zero_rows_make_a_valid_file_without_row_groups(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 0, 0);
	round_trip(&o, &rs, &rb);
	assert_int_equal(rb.md.num_row_groups, 0);
	assert_int_equal(rb.md.num_rows, 0);
	/* No value ever seen: both byte-array columns are (vacuously) UTF-8. */
	assert_true(rb.md.schema[1].has_logical_type);
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
}

static void test_one_and_ten_rows_round_trip_with_defaults(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	const size_t counts[] = {1, 10};
	for (size_t k = 0; k < 2; k++) {
		struct rows rs;
		struct readback rb;
		rows_gen(&rs, counts[k], 40);
		round_trip(&o, &rs, &rb);
		assert_int_equal(rb.md.num_row_groups, 1);
		assert_int_equal(rb.pages[0], 1);
		assert_int_equal(rb.crc_pages, 3);
		pq_file_metadata_free(&rb.md);
		rows_free(&rs);
	}
}

static void test_every_codec_round_trips(void **state)
{
	const int32_t codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP,
	                          PQ_CODEC_BROTLI,       PQ_CODEC_ZSTD,   PQ_CODEC_LZ4_RAW};
	struct rows rs;
	rows_gen(&rs, 3000, 120);
	for (size_t k = 0; k < sizeof(codecs) / sizeof(codecs[0]); k++) {
		pqw_options o;
		pqw_options_init(&o);
		o.codec = codecs[k];
		o.page_bytes = 16384;
		o.row_group_bytes = 100000;
		struct readback rb;
		round_trip(&o, &rs, &rb);
		assert_true(rb.md.num_row_groups > 1);
		assert_true(rb.pages[1] > rb.md.num_row_groups);
		pq_file_metadata_free(&rb.md);
	}
	rows_free(&rs);
}

static void test_rows_span_many_pages_and_row_groups(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	o.page_bytes = 200;
	o.row_group_bytes = 5000;
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 2000, 60);
	round_trip(&o, &rs, &rb);
	assert_true(rb.md.num_row_groups > 10);
	for (int c = 0; c < 3; c++)
		assert_true(rb.pages[c] > 2 * rb.md.num_row_groups);
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
}

static void test_row_group_rows_caps_each_row_group(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	o.row_group_rows = 7;
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 50, 10);
	round_trip(&o, &rs, &rb);
	assert_int_equal(rb.md.num_row_groups, 8);
	for (uint32_t g = 0; g < 7; g++)
		assert_int_equal(rb.md.row_groups[g].num_rows, 7);
	assert_int_equal(rb.md.row_groups[7].num_rows, 1);
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
}

/* Memory is bounded by the options: with a small row_group_bytes the
 * writer must cut row groups of about that size however many rows come. */
static void test_small_row_group_bytes_bounds_what_is_buffered(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	o.row_group_bytes = 4096;
	o.page_bytes = 1024;
	o.codec = PQ_CODEC_UNCOMPRESSED;
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 20000, 100);
	round_trip(&o, &rs, &rb);
	size_t total = 0;
	for (size_t i = 0; i < rs.n; i++)
		total += rs.r[i].klen + rs.r[i].vlen;
	assert_true(rb.md.num_row_groups >= total / 4096);
	for (uint32_t g = 0; g < rb.md.num_row_groups; g++) {
		int64_t vbytes = 0;
		for (int c = 0; c < 3; c++)
			vbytes += rb.md.row_groups[g].columns[c].meta_data.total_uncompressed_size;
		/* one row (<= 130 bytes) past the limit, plus page headers and levels */
		assert_true(vbytes < 4096 + 130 + 40 * 3 * 6);
	}
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
}

static void test_binary_key_leaves_only_its_column_unannotated(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 100, 20);
	static const uint8_t bin[] = {0x00, 0xff, 0xfe, 0x80};
	rs.r[57].key = bin;
	rs.r[57].klen = sizeof(bin);
	round_trip(&o, &rs, &rb);
	assert_false(rb.md.schema[1].has_converted_type);
	assert_false(rb.md.schema[1].has_logical_type);
	assert_true(rb.md.schema[2].has_logical_type);
	assert_int_equal(rb.md.schema[2].logical_type.kind, PQ_LT_STRING);
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
}

static void test_empty_values_and_mixed_expiry_round_trip(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	o.page_bytes = 64;
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 300, 0); /* every value empty */
	rs.r[5].klen = 0;      /* and one empty key */
	round_trip(&o, &rs, &rb);
	assert_true(rb.pages[1] > 1);
	pq_file_metadata_free(&rb.md);

	/* No expiry at all: expires_at has a null count and no bounds. */
	for (size_t i = 0; i < rs.n; i++)
		rs.r[i].has = false;
	round_trip(&o, &rs, &rb);
	const pq_statistics *s = &rb.md.row_groups[0].columns[2].meta_data.statistics;
	assert_int_equal(s->null_count, 300);
	assert_false(s->has_min_value || s->has_max_value);
	pq_file_metadata_free(&rb.md);

	/* Every row with expiry, extremes of int64. */
	for (size_t i = 0; i < rs.n; i++) {
		rs.r[i].has = true;
		rs.r[i].exp = i == 1 ? INT64_MIN : i == 2 ? INT64_MAX : (int64_t)i;
	}
	round_trip(&o, &rs, &rb);
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);

	/* Empty key and value may come as NULL pointers. */
	struct sink sk = {0};
	pqw *w = pqw_open(&o, sink_write, &sk);
	assert_non_null(w);
	assert_int_equal(pqw_add(w, NULL, 0, NULL, 0, false, 0), 0);
	assert_int_equal(pqw_finish(w), 0);
	pqw_free(w);
	rows_gen(&rs, 1, 0);
	rs.r[0].klen = 0;
	rs.r[0].has = false;
	read_back(sk.p, sk.len, &rs, o.codec, o.stats_max_bytes, &rb);
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
	free(sk.p);
}

static void test_a_huge_value_gets_a_page_of_its_own(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	o.page_bytes = 1024;
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 40, 10);
	uint8_t *big = malloc(100000);
	assert_non_null(big);
	memset(big, 'x', 100000);
	rs.r[20].val = big;
	rs.r[20].vlen = 100000;
	round_trip(&o, &rs, &rb);
	assert_int_equal(rb.pages[1], 3); /* before, the big one, after */
	pq_file_metadata_free(&rb.md);
	free(big);
	rows_free(&rs);
}

static void test_page_crc_can_be_turned_off(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	o.page_crc = false;
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 10, 10);
	round_trip(&o, &rs, &rb);
	assert_int_equal(rb.crc_pages, 0);
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
}

/* Writes the given keys (values "v") with stats_max_bytes S and returns the
 * key column's statistics checked by read_back; caller frees. */
static void stats_of(const char *const *keys, const size_t *lens, size_t n, size_t S,
                     struct readback *rb, struct sink *s, struct rows *rs)
{
	pqw_options o;
	pqw_options_init(&o);
	o.stats_max_bytes = S;
	rows_gen(rs, n, 0);
	for (size_t i = 0; i < n; i++) {
		rs->r[i].key = (const uint8_t *)keys[i];
		rs->r[i].klen = lens ? lens[i] : strlen(keys[i]);
	}
	write_rows(&o, rs, s);
	read_back(s->p, s->len, rs, o.codec, S, rb);
}

static void expect_bound(const pqt_bin *b, const char *want, size_t wlen)
{
	assert_int_equal(b->len, wlen);
	if (wlen)
		assert_memory_equal(b->ptr, want, wlen);
}

static void test_statistics_truncate_long_bounds(void **state)
{
	struct readback rb;
	struct sink s;
	struct rows rs;
	const pq_statistics *st;

	/* Short values: exact bounds. */
	const char *k1[] = {"pear", "apple", "zoo", "apples"};
	stats_of(k1, NULL, 4, 8, &rb, &s, &rs);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->min_value, "apple", 5);
	expect_bound(&st->max_value, "zoo", 3);
	assert_true(st->is_min_value_exact && st->is_max_value_exact);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);

	/* Long values: min is a prefix, max a prefix incremented. */
	const char *k2[] = {"abcdefgh", "abcdefgz", "abcdxyz", "abcd"};
	stats_of(k2, NULL, 4, 4, &rb, &s, &rs);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->min_value, "abcd", 4);
	assert_true(st->is_min_value_exact); /* "abcd" itself was written */
	expect_bound(&st->max_value, "abce", 4);
	assert_false(st->is_max_value_exact);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);

	const char *k3[] = {"abcdefgh", "abcdxyz"};
	stats_of(k3, NULL, 2, 4, &rb, &s, &rs);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->min_value, "abcd", 4);
	assert_false(st->is_min_value_exact);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);
}

static void test_statistics_max_skips_0xff_and_is_left_out_when_impossible(void **state)
{
	struct readback rb;
	struct sink s;
	struct rows rs;
	const pq_statistics *st;

	const char *k1[] = {"a\xff\xff\xff\xff\xff", "a"};
	stats_of(k1, NULL, 2, 4, &rb, &s, &rs);
	assert_false(rb.md.schema[1].has_logical_type); /* binary */
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->max_value, "b", 1);
	assert_false(st->is_max_value_exact);
	expect_bound(&st->min_value, "a", 1);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);

	const char *k2[] = {"\xff\xff\xff\xff\xff", "\xff"};
	stats_of(k2, NULL, 2, 4, &rb, &s, &rs);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	assert_false(st->has_max_value);
	expect_bound(&st->min_value, "\xff", 1);
	assert_true(st->is_min_value_exact);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);

	/* Zero bytes are ordinary bytes. */
	const char k3a[] = {'a', 0, 0, 0, 0, 0};
	const char *k3[] = {k3a, "a"};
	const size_t l3[] = {6, 1};
	stats_of(k3, l3, 2, 4, &rb, &s, &rs);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->max_value, "a\0\0\x01", 4);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);
}

static void test_statistics_cut_utf8_at_code_point_boundaries(void **state)
{
	struct readback rb;
	struct sink s;
	struct rows rs;
	const pq_statistics *st;

	/* "ab" + U+00E9 + "x": the cut at 3 bytes falls inside U+00E9. */
	const char *k1[] = {"ab\xc3\xa9x", "ab\xc3\xa9y"};
	stats_of(k1, NULL, 2, 3, &rb, &s, &rs);
	assert_true(rb.md.schema[1].has_logical_type);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->min_value, "ab", 2);
	expect_bound(&st->max_value, "ac", 2);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);

	/* Incrementing the last code point, not the last byte: U+00BF -> U+00C0. */
	const char *k2[] = {"a\xc2\xbf\xc2\xbf", "a"};
	stats_of(k2, NULL, 2, 3, &rb, &s, &rs);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->max_value, "a\xc3\x80", 3);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);

	/* U+D7FF is followed by U+E000 (surrogates skipped); U+007F's successor
	 * is longer, so the previous code point is incremented. */
	const char *k3[] = {"\xed\x9f\xbfzz", "q\x7fzz"};
	stats_of(k3, NULL, 2, 3, &rb, &s, &rs);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->max_value, "\xee\x80\x80", 3);
	expect_bound(&st->min_value, "q\x7fz", 3);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);

	const char *k4[] = {"q\x7fzz"};
	stats_of(k4, NULL, 1, 2, &rb, &s, &rs);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	expect_bound(&st->max_value, "r", 1);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);

	/* U+10FFFF cannot be incremented: no max. */
	const char *k5[] = {"\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf"};
	stats_of(k5, NULL, 1, 5, &rb, &s, &rs);
	assert_true(rb.md.schema[1].has_logical_type);
	st = &rb.md.row_groups[0].columns[0].meta_data.statistics;
	assert_false(st->has_max_value);
	expect_bound(&st->min_value, "\xf4\x8f\xbf\xbf", 4);
	assert_false(st->is_min_value_exact);
	pq_file_metadata_free(&rb.md);
	free(s.p);
	rows_free(&rs);
}

static void test_statistics_are_per_row_group(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	o.row_group_rows = 10;
	o.stats_max_bytes = 6;
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 95, 30); /* read_back checks each row group's bounds */
	round_trip(&o, &rs, &rb);
	assert_int_equal(rb.md.num_row_groups, 10);
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
}

static bool key_is_utf8(const void *k, size_t n)
{
	pqw_options o;
	pqw_options_init(&o);
	struct sink s = {0};
	pqw *w = pqw_open(&o, sink_write, &s);
	assert_non_null(w);
	assert_int_equal(pqw_add(w, k, n, "v", 1, false, 0), 0);
	assert_int_equal(pqw_finish(w), 0);
	pqw_free(w);
	struct rows rs;
	struct readback rb;
	rows_gen(&rs, 1, 0);
	rs.r[0].key = k;
	rs.r[0].klen = n;
	rs.r[0].val = (const uint8_t *)"v";
	rs.r[0].vlen = 1;
	rs.r[0].has = false;
	read_back(s.p, s.len, &rs, o.codec, o.stats_max_bytes, &rb); /* checks vs ref_utf8 */
	bool ok = rb.md.schema[1].has_logical_type;
	pq_file_metadata_free(&rb.md);
	rows_free(&rs);
	free(s.p);
	return ok;
}

static void test_utf8_validation_is_strict(void **state)
{
	static const char *const good[] = {
	        "",
	        "plain ascii over eight bytes",
	        "\xc2\x80",
	        "\xdf\xbf",
	        "\xe0\xa0\x80",
	        "\xed\x9f\xbf",
	        "\xee\x80\x80",
	        "\xef\xbf\xbf",
	        "\xf0\x90\x80\x80",
	        "\xf4\x8f\xbf\xbf",
	        "12345678\xc3\xa9",
	        "1234567\xc3\xa9",
	        "caf\xc3\xa9 cr\xc3\xa8me",
	        "\x7f\x01",
	};
	static const char *const bad[] = {
	        "\xc0\x80",
	        "\xc1\xbf",
	        "\xe0\x9f\xbf",
	        "\xed\xa0\x80",
	        "\xed\xbf\xbf",
	        "\xf0\x8f\xbf\xbf",
	        "\xf4\x90\x80\x80",
	        "\xf5\x80\x80\x80",
	        "\xff",
	        "\xfe",
	        "\x80",
	        "\xbf",
	        "abcdefg\xc3",
	        "\xe2\x82",
	        "\xc3\x28",
	        "aaaaaaaa\x80",
	        "aaaaaaa\xe2\x82x",
	        "\xf0\x90\x80",
	        "\xf8\x88\x80\x80\x80",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(key_is_utf8(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(key_is_utf8(bad[i], strlen(bad[i])));
	assert_true(key_is_utf8("a\0b", 3)); /* NUL is a valid code point */
}

static void test_invalid_options_are_refused_at_open(void **state)
{
	struct sink s = {0};
	pqw_options o;

	pqw_options_init(&o);
	o.codec = PQ_CODEC_LZ4;
	assert_null(pqw_open(&o, sink_write, &s));
	o.codec = PQ_CODEC_LZO;
	assert_null(pqw_open(&o, sink_write, &s));
	o.codec = 99;
	assert_null(pqw_open(&o, sink_write, &s));
	pqw_options_init(&o);
	o.page_bytes = 0;
	assert_null(pqw_open(&o, sink_write, &s));
	pqw_options_init(&o);
	o.row_group_bytes = 0;
	assert_null(pqw_open(&o, sink_write, &s));
	pqw_options_init(&o);
	o.row_group_rows = 0;
	assert_null(pqw_open(&o, sink_write, &s));
	pqw_options_init(&o);
	o.stats_max_bytes = 0;
	assert_null(pqw_open(&o, sink_write, &s));
	pqw_options_init(&o);
	o.num_kv = 1;
	assert_null(pqw_open(&o, sink_write, &s));
	assert_int_equal(s.len, 0);
}

static int always_enospc(void *arg, const void *buf, size_t len)
{
	(*(int *)arg)++;
	return -ENOSPC;
}

static void test_a_failing_write_makes_the_error_sticky(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	int calls = 0;
	pqw *w = pqw_open(&o, always_enospc, &calls);
	assert_non_null(w);
	assert_int_equal(calls, 0); /* nothing written at open */
	assert_int_equal(pqw_add(w, "k", 1, "v", 1, false, 0), -ENOSPC);
	assert_string_equal(pqw_error(w), "write: No space left on device");
	assert_int_equal(pqw_add(w, "k", 1, "v", 1, false, 0), -ENOSPC);
	assert_int_equal(pqw_finish(w), -ENOSPC);
	assert_int_equal(calls, 1);
	assert_int_equal(pqw_bytes_written(w), 0);
	pqw_free(w);

	/* Failing later, at a row group write in the middle. */
	pqw_options_init(&o);
	o.row_group_bytes = 1000;
	struct sink s = {.fail_after = 3000};
	w = pqw_open(&o, sink_write, &s);
	assert_non_null(w);
	int rc = 0;
	size_t i;
	for (i = 0; i < 10000 && rc == 0; i++)
		rc = pqw_add(w, "some key", 8, "some value that is long enough", 30, true, 1);
	assert_int_equal(rc, -ENOSPC);
	assert_true(i < 10000);
	assert_int_equal(pqw_finish(w), -ENOSPC);
	assert_string_equal(pqw_error(w), "write: No space left on device");
	assert_true(pqw_bytes_written(w) <= 3000);
	assert_int_equal(pqw_bytes_written(w), s.len);
	pqw_free(w);
	free(s.p);
}

static void test_oversized_values_are_refused_and_sticky(void **state)
{
	pqw_options o;
	pqw_options_init(&o);
	struct sink s = {0};
	pqw *w = pqw_open(&o, sink_write, &s);
	assert_non_null(w);
	/* The length is checked before the bytes are touched. */
	assert_int_equal(pqw_add(w, "k", (size_t)1 << 30, "v", 1, false, 0), -EINVAL);
	assert_non_null(strstr(pqw_error(w), "key"));
	assert_int_equal(pqw_add(w, "k", 1, "v", 1, false, 0), -EINVAL);
	assert_int_equal(pqw_finish(w), -EINVAL);
	pqw_free(w);
	free(s.p);

	memset(&s, 0, sizeof(s));
	w = pqw_open(&o, sink_write, &s);
	assert_int_equal(pqw_add(w, "k", 1, "v", (size_t)1 << 30, false, 0), -EINVAL);
	assert_non_null(strstr(pqw_error(w), "value"));
	pqw_free(w);
	free(s.p);
}

static void test_footer_carries_created_by_and_copied_key_value_metadata(void **state)
{
	char k0[] = "minidb.seq", v0[] = "12345", k1[] = "flag";
	pq_key_value kv[2] = {
	        {.key = {(const uint8_t *)k0, 10}, .has_value = true, .value = {(uint8_t *)v0, 5}},
	        {.key = {(const uint8_t *)k1, 4}, .has_value = false},
	};
	pqw_options o;
	pqw_options_init(&o);
	o.kv = kv;
	o.num_kv = 2;
	struct sink s = {0};
	pqw *w = pqw_open(&o, sink_write, &s);
	assert_non_null(w);
	memset(k0, 'X', 10); /* the writer holds its own copy */
	memset(v0, 'Y', 5);
	assert_int_equal(pqw_add(w, "a", 1, "b", 1, true, 7), 0);
	assert_int_equal(pqw_finish(w), 0);
	assert_int_equal(pqw_finish(w), -EINVAL);
	assert_int_equal(pqw_add(w, "a", 1, "b", 1, true, 7), -EINVAL);
	pqw_free(w);

	pqt_reader r;
	pq_file_metadata md;
	uint32_t fl = get_le32(s.p + s.len - 8);
	pqt_reader_init(&r, s.p + s.len - 8 - fl, fl);
	assert_int_equal(pq_file_metadata_decode(&r, &md), PQT_OK);
	assert_int_equal(md.num_key_value, 2);
	assert_memory_equal(md.key_value_metadata[0].key.ptr, "minidb.seq", 10);
	assert_true(md.key_value_metadata[0].has_value);
	assert_memory_equal(md.key_value_metadata[0].value.ptr, "12345", 5);
	assert_memory_equal(md.key_value_metadata[1].key.ptr, "flag", 4);
	assert_false(md.key_value_metadata[1].has_value);
	const char *pre = "minidb version " MINIDB_VERSION " (build ";
	assert_true(md.created_by.len > strlen(pre));
	assert_memory_equal(md.created_by.ptr, pre, strlen(pre));
	pq_file_metadata_free(&md);
	free(s.p);

	/* An explicit created_by. */
	pqw_options_init(&o);
	o.created_by = "test writer";
	memset(&s, 0, sizeof(s));
	w = pqw_open(&o, sink_write, &s);
	assert_int_equal(pqw_finish(w), 0);
	pqw_free(w);
	fl = get_le32(s.p + s.len - 8);
	pqt_reader_init(&r, s.p + s.len - 8 - fl, fl);
	assert_int_equal(pq_file_metadata_decode(&r, &md), PQT_OK);
	assert_int_equal(md.created_by.len, 11);
	assert_memory_equal(md.created_by.ptr, "test writer", 11);
	pq_file_metadata_free(&md);
	free(s.p);
}

static void test_write_fd_writes_a_readable_file(void **state)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/pqw_test_XXXXXX", tl_tmpdir());
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	pqw_options o;
	pqw_options_init(&o);
	struct rows rs;
	rows_gen(&rs, 500, 50);
	pqw *w = pqw_open(&o, pqw_write_fd, &fd);
	assert_non_null(w);
	for (size_t i = 0; i < rs.n; i++)
		assert_int_equal(pqw_add(w, rs.r[i].key, rs.r[i].klen, rs.r[i].val, rs.r[i].vlen,
		                         rs.r[i].has, rs.r[i].exp),
		                 0);
	assert_int_equal(pqw_finish(w), 0);
	uint64_t n = pqw_bytes_written(w);
	pqw_free(w);
	off_t end = lseek(fd, 0, SEEK_END);
	assert_int_equal((uint64_t)end, n);
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, n, 0), (ssize_t)n);
	close(fd);
	unlink(path);
	struct readback rb;
	read_back(buf, n, &rs, o.codec, o.stats_max_bytes, &rb);
	pq_file_metadata_free(&rb.md);
	free(buf);
	rows_free(&rs);

	/* A closed descriptor: the errno comes back. */
	int bad = -1;
	assert_int_equal(pqw_write_fd(&bad, "x", 1), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_zero_rows_make_a_valid_file_without_row_groups),
	        cmocka_unit_test(test_one_and_ten_rows_round_trip_with_defaults),
	        cmocka_unit_test(test_every_codec_round_trips),
	        cmocka_unit_test(test_rows_span_many_pages_and_row_groups),
	        cmocka_unit_test(test_row_group_rows_caps_each_row_group),
	        cmocka_unit_test(test_small_row_group_bytes_bounds_what_is_buffered),
	        cmocka_unit_test(test_binary_key_leaves_only_its_column_unannotated),
	        cmocka_unit_test(test_empty_values_and_mixed_expiry_round_trip),
	        cmocka_unit_test(test_a_huge_value_gets_a_page_of_its_own),
	        cmocka_unit_test(test_page_crc_can_be_turned_off),
	        cmocka_unit_test(test_statistics_truncate_long_bounds),
	        cmocka_unit_test(test_statistics_max_skips_0xff_and_is_left_out_when_impossible),
	        cmocka_unit_test(test_statistics_cut_utf8_at_code_point_boundaries),
	        cmocka_unit_test(test_statistics_are_per_row_group),
	        cmocka_unit_test(test_utf8_validation_is_strict),
	        cmocka_unit_test(test_invalid_options_are_refused_at_open),
	        cmocka_unit_test(test_a_failing_write_makes_the_error_sticky),
	        cmocka_unit_test(test_oversized_values_are_refused_and_sticky),
	        cmocka_unit_test(test_footer_carries_created_by_and_copied_key_value_metadata),
	        cmocka_unit_test(test_write_fd_writes_a_readable_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
