/* parquet_testfile.h - builds Parquet files byte by byte for the reader
 * tests (test_parquet_reader.c, test_parquet_fuzz.c): page headers from
 * thrift.h, values and levels from encoding.h, the footer from metadata.h,
 * so a test can make exactly the layout another tool writes (DuckDB's
 * PLAIN_DICTIONARY pages, arrow-rs's DATA_PAGE_V2 and DELTA encodings) or
 * a deliberately broken one. Everything is static: include it once per
 * test binary. Failures abort the test through cmocka's assert_*.
 */
#ifndef MINIDB_TEST_PARQUET_TESTFILE_H
#define MINIDB_TEST_PARQUET_TESTFILE_H

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "parquet/compress.h"
#include "parquet/encoding.h"
#include "parquet/metadata.h"
#include "parquet/thrift.h"

#define TF_MAX_COLS 8
#define TF_MAX_RGS  4

typedef struct tfile {
	uint8_t *p;
	size_t len, cap;
	pq_schema_element schema[16];
	uint32_t nschema, nleaves;
	pqt_bin paths[TF_MAX_COLS]; /* path_in_schema: the leaf name only */
	int32_t types[TF_MAX_COLS];
	pq_row_group rgs[TF_MAX_RGS];
	pq_column_chunk chunks[TF_MAX_RGS][TF_MAX_COLS];
	int32_t encodings[1];
	uint32_t nrgs;
	int64_t num_rows;
	/* The chunk being written. */
	int64_t chunk_start, dict_off, data_off, chunk_values;
	bool crc;
	int32_t codec;
} tfile;

static inline void tf_put(tfile *t, const void *b, size_t n)
{
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n)
			cap *= 2;
		t->p = realloc(t->p, cap);
		assert_non_null(t->p);
		t->cap = cap;
	}
	if (n)
		memcpy(t->p + t->len, b, n);
	t->len += n;
}

static inline void tf_init(tfile *t)
{
	memset(t, 0, sizeof(*t));
	tf_put(t, "PAR1", 4);
	t->schema[0] = (pq_schema_element){.name = {(const uint8_t *)"schema", 6},
	                                   .has_num_children = true};
	t->nschema = 1;
	t->crc = true;
	t->encodings[0] = PQ_ENC_PLAIN;
}

static inline void tf_free(tfile *t)
{
	free(t->p);
	t->p = NULL;
}

static inline pq_schema_element *tf_elem(tfile *t, const char *name, int32_t rep)
{
	assert_true(t->nschema < 16);
	pq_schema_element *e = &t->schema[t->nschema++];
	*e = (pq_schema_element){.name = {(const uint8_t *)name, (uint32_t)strlen(name)},
	                         .has_repetition_type = true,
	                         .repetition_type = rep};
	return e;
}

/* A leaf; the caller adds annotations to the returned element. The root's
 * child count is bumped when top_level. */
static inline pq_schema_element *tf_leaf(tfile *t, const char *name, int32_t type, int32_t rep,
                                         bool top_level)
{
	pq_schema_element *e = tf_elem(t, name, rep);
	e->has_type = true;
	e->type = type;
	t->paths[t->nleaves] = e->name;
	t->types[t->nleaves++] = type;
	if (top_level)
		t->schema[0].num_children++;
	return e;
}

static inline void tf_group(tfile *t, const char *name, int32_t rep, int children)
{
	pq_schema_element *e = tf_elem(t, name, rep);
	e->has_num_children = true;
	e->num_children = children;
	t->schema[0].num_children++;
}

static inline pq_schema_element *tf_string(tfile *t, const char *name, int32_t rep)
{
	pq_schema_element *e = tf_leaf(t, name, PQ_BYTE_ARRAY, rep, true);
	e->has_converted_type = true;
	e->converted_type = PQ_CT_UTF8;
	e->has_logical_type = true;
	e->logical_type.kind = PQ_LT_STRING;
	return e;
}

static inline pq_schema_element *tf_timestamp(tfile *t, const char *name, int32_t unit)
{
	pq_schema_element *e = tf_leaf(t, name, PQ_INT64, PQ_OPTIONAL, true);
	e->has_logical_type = true;
	e->logical_type.kind = PQ_LT_TIMESTAMP;
	e->logical_type.unit = unit;
	e->logical_type.is_adjusted_to_utc = true;
	return e;
}

static inline void tf_begin_chunk(tfile *t, int32_t codec)
{
	t->chunk_start = (int64_t)t->len;
	t->dict_off = -1;
	t->data_off = -1;
	t->chunk_values = 0;
	t->codec = codec;
}

/* Appends a page. v1 and dictionary pages compress levels + values; v2
 * keeps the levels as they are and compresses the values only when
 * h->data_page_header_v2.is_compressed. Sizes, level length and CRC are
 * filled in here. Returns the header's offset. */
static inline size_t tf_page(tfile *t, pq_page_header *h, const uint8_t *lv, size_t llen,
                             const uint8_t *vals, size_t vlen)
{
	size_t off = t->len, blen = llen + vlen;
	uint8_t *body = malloc(blen + 1), *out;
	size_t clen;

	assert_non_null(body);
	if (llen)
		memcpy(body, lv, llen);
	if (vlen)
		memcpy(body + llen, vals, vlen);
	bool v2 = h->type == PQ_PAGE_DATA_V2;
	size_t from = v2 ? llen : 0;
	bool squeeze = !v2 || h->data_page_header_v2.is_compressed;
	if (t->codec != PQ_CODEC_UNCOMPRESSED && squeeze) {
		size_t bound = pq_compress_bound(t->codec, blen - from) + from;
		out = malloc(bound + 1);
		assert_non_null(out);
		memcpy(out, body, from);
		assert_int_equal(pq_compress(t->codec, 0, body + from, blen - from, out + from,
		                             bound - from, &clen),
		                 PQC_OK);
		clen += from;
		free(body);
	} else {
		out = body;
		clen = blen;
	}
	h->uncompressed_page_size = (int32_t)blen;
	h->compressed_page_size = (int32_t)clen;
	if (v2) {
		h->has_data_page_header_v2 = true;
		h->data_page_header_v2.definition_levels_byte_length = (int32_t)llen;
	}
	h->has_crc = t->crc;
	h->crc = (int32_t)crc32(0, out, (uInt)clen);
	pqt_writer w;
	pqt_writer_init(&w);
	assert_int_equal(pq_page_header_encode(&w, h), 0);
	if (h->type == PQ_PAGE_DICTIONARY) {
		if (t->dict_off < 0)
			t->dict_off = (int64_t)t->len;
	} else if (t->data_off < 0) {
		t->data_off = (int64_t)t->len;
	}
	if (h->type == PQ_PAGE_DATA)
		t->chunk_values += h->data_page_header.num_values;
	if (v2)
		t->chunk_values += h->data_page_header_v2.num_values;
	tf_put(t, w.data, w.len);
	tf_put(t, out, clen);
	pqt_writer_free(&w);
	free(out);
	return off;
}

static inline void tf_end_chunk(tfile *t, uint32_t rg, uint32_t col)
{
	pq_column_chunk *cc = &t->chunks[rg][col];
	pq_column_meta_data *m = &cc->meta_data;

	memset(cc, 0, sizeof(*cc));
	cc->file_offset = t->chunk_start;
	cc->has_meta_data = true;
	m->type = t->types[col];
	m->num_encodings = 1;
	m->encodings = t->encodings;
	m->num_path = 1;
	m->path_in_schema = &t->paths[col];
	m->codec = t->codec;
	m->num_values = t->chunk_values;
	m->total_uncompressed_size = (int64_t)t->len - t->chunk_start;
	m->total_compressed_size = (int64_t)t->len - t->chunk_start;
	m->data_page_offset = t->data_off >= 0 ? t->data_off : t->chunk_start;
	if (t->dict_off >= 0) {
		m->has_dictionary_page_offset = true;
		m->dictionary_page_offset = t->dict_off;
	}
}

static inline void tf_end_row_group(tfile *t, int64_t rows)
{
	pq_row_group *rg = &t->rgs[t->nrgs];

	rg->num_columns = t->nleaves;
	rg->columns = t->chunks[t->nrgs];
	rg->num_rows = rows;
	rg->total_byte_size = 1;
	t->num_rows += rows;
	t->nrgs++;
}

/* Writes the footer, its length and the trailing magic. */
static inline void tf_finish(tfile *t)
{
	pq_file_metadata md = {.version = 1,
	                       .num_schema = t->nschema,
	                       .schema = t->schema,
	                       .num_rows = t->num_rows,
	                       .num_row_groups = t->nrgs,
	                       .row_groups = t->rgs};
	pqt_writer w;
	uint8_t len[4];

	pqt_writer_init(&w);
	assert_int_equal(pq_file_metadata_encode(&w, &md), 0);
	tf_put(t, w.data, w.len);
	for (int i = 0; i < 4; i++)
		len[i] = (uint8_t)(w.len >> (8 * i));
	tf_put(t, len, 4);
	tf_put(t, "PAR1", 4);
	pqt_writer_free(&w);
}

/* ---- Encoded sections ---- */

typedef struct tbuf {
	uint8_t b[1 << 16];
	size_t len;
} tbuf;

static inline void tb_plain_bytes(tbuf *o, const pq_bytes *v, size_t n)
{
	assert_int_equal(pq_plain_bytes_encode(v, n, o->b, sizeof(o->b), &o->len), PQE_OK);
}

static inline void tb_plain_int64(tbuf *o, const int64_t *v, size_t n)
{
	assert_int_equal(pq_plain_int64_encode(v, n, o->b, sizeof(o->b), &o->len), PQE_OK);
}

static inline void tb_dict_indices(tbuf *o, const uint32_t *idx, size_t n, unsigned bw)
{
	assert_int_equal(pq_dict_indices_encode(idx, n, bw, o->b, sizeof(o->b), &o->len), PQE_OK);
}

/* Definition levels: v1 with the 4-byte prefix, v2 without. */
static inline void tb_levels(tbuf *o, const uint32_t *d, size_t n, unsigned bw, bool v1)
{
	if (v1)
		assert_int_equal(pq_hybrid_encode_prefixed(d, n, bw, o->b, sizeof(o->b), &o->len),
		                 PQE_OK);
	else
		assert_int_equal(pq_hybrid_encode(d, n, bw, o->b, sizeof(o->b), &o->len), PQE_OK);
}

static inline pq_page_header tf_v1(int32_t n, int32_t enc)
{
	return (pq_page_header){.type = PQ_PAGE_DATA,
	                        .has_data_page_header = true,
	                        .data_page_header = {.num_values = n,
	                                             .encoding = enc,
	                                             .definition_level_encoding = PQ_ENC_RLE,
	                                             .repetition_level_encoding = PQ_ENC_RLE}};
}

static inline pq_page_header tf_v2(int32_t n, int32_t nulls, int32_t enc, bool compressed)
{
	return (pq_page_header){.type = PQ_PAGE_DATA_V2,
	                        .has_data_page_header_v2 = true,
	                        .data_page_header_v2 = {.num_values = n,
	                                                .num_nulls = nulls,
	                                                .num_rows = n,
	                                                .encoding = enc,
	                                                .is_compressed = compressed}};
}

static inline pq_page_header tf_dict(int32_t n, int32_t enc)
{
	return (pq_page_header){.type = PQ_PAGE_DICTIONARY,
	                        .has_dictionary_page_header = true,
	                        .dictionary_page_header = {.num_values = n, .encoding = enc}};
}

/* ---- The two layouts the fuzz test also uses ---- */

/* arrow-rs style, "dictionary": REQUIRED key and value; key is a PLAIN
 * dictionary page then an RLE_DICTIONARY page and a PLAIN fallback page,
 * value is DELTA_LENGTH_BYTE_ARRAY; ZSTD; 6 rows. */
static inline void tf_build_dictionary(tfile *t, bool crc)
{
	static const pq_bytes dict[] = {{(const uint8_t *)"alpha", 5},
	                                {(const uint8_t *)"beta", 4}};
	static const uint32_t idx[] = {1, 0, 1, 1};
	static const pq_bytes fallback[] = {{(const uint8_t *)"gamma", 5},
	                                    {(const uint8_t *)"", 0}};
	static const pq_bytes vals[] = {{(const uint8_t *)"v0", 2}, {(const uint8_t *)"", 0},
	                                {(const uint8_t *)"v2", 2}, {(const uint8_t *)"value3", 6},
	                                {(const uint8_t *)"v4", 2}, {(const uint8_t *)"v5", 2}};
	tbuf b;
	pq_page_header h;

	tf_init(t);
	t->crc = crc;
	tf_string(t, "key", PQ_REQUIRED);
	tf_string(t, "value", PQ_REQUIRED);
	tf_begin_chunk(t, PQ_CODEC_ZSTD);
	tb_plain_bytes(&b, dict, 2);
	h = tf_dict(2, PQ_ENC_PLAIN);
	tf_page(t, &h, NULL, 0, b.b, b.len);
	tb_dict_indices(&b, idx, 4, 1);
	h = tf_v2(4, 0, PQ_ENC_RLE_DICTIONARY, true);
	tf_page(t, &h, NULL, 0, b.b, b.len);
	tb_plain_bytes(&b, fallback, 2);
	h = tf_v2(2, 0, PQ_ENC_PLAIN, true);
	tf_page(t, &h, NULL, 0, b.b, b.len);
	tf_end_chunk(t, 0, 0);
	tf_begin_chunk(t, PQ_CODEC_ZSTD);
	assert_int_equal(pq_delta_length_encode(vals, 6, b.b, sizeof(b.b), &b.len), PQE_OK);
	h = tf_v2(6, 0, PQ_ENC_DELTA_LENGTH_BYTE_ARRAY, false);
	tf_page(t, &h, NULL, 0, b.b, b.len);
	tf_end_chunk(t, 0, 1);
	tf_end_row_group(t, 6);
	tf_finish(t);
}

/* "v2": OPTIONAL key, value and TIMESTAMP(MICROS) expiry in DATA_PAGE_V2
 * pages over SNAPPY, two pages per column (values compressed in the
 * first, not in the second), NULLs in every column; 5 rows:
 *   k0 "" -1500us (-2 ms) | k1 NULL NULL | NULL v2 3000us | k3 v3 NULL | k4 "" 1000us */
static inline void tf_build_v2(tfile *t, bool crc)
{
	static const uint32_t kdef[] = {1, 1, 0, 1, 1}, vdef[] = {1, 0, 1, 1, 1},
	                      edef[] = {1, 0, 1, 0, 1};
	static const pq_bytes keys[] = {{(const uint8_t *)"k0", 2},
	                                {(const uint8_t *)"k1", 2},
	                                {(const uint8_t *)"k3", 2},
	                                {(const uint8_t *)"k4", 2}};
	static const pq_bytes vals[] = {{(const uint8_t *)"", 0},
	                                {(const uint8_t *)"v2", 2},
	                                {(const uint8_t *)"v3", 2},
	                                {(const uint8_t *)"", 0}};
	static const int64_t exp[] = {-1500, 3000, 1000};
	const uint32_t *defs[3] = {kdef, vdef, edef};
	tbuf lv, b;
	pq_page_header h;

	tf_init(t);
	t->crc = crc;
	tf_string(t, "key", PQ_OPTIONAL);
	tf_string(t, "value", PQ_OPTIONAL);
	tf_timestamp(t, "expires_at", PQ_UNIT_MICROS);
	for (uint32_t col = 0; col < 3; col++) {
		/* Rows 0-2 in the first page, 3-4 in the second. */
		size_t split[2][2] = {{0, 3}, {3, 5}};
		size_t vi = 0;
		tf_begin_chunk(t, PQ_CODEC_SNAPPY);
		for (int pg = 0; pg < 2; pg++) {
			size_t a = split[pg][0], z = split[pg][1], nn = 0;
			for (size_t r = a; r < z; r++)
				nn += defs[col][r];
			tb_levels(&lv, defs[col] + a, z - a, 1, false);
			if (col == 2)
				tb_plain_int64(&b, exp + vi, nn);
			else
				tb_plain_bytes(&b, (col == 0 ? keys : vals) + vi, nn);
			vi += nn;
			h = tf_v2((int32_t)(z - a), (int32_t)(z - a - nn), PQ_ENC_PLAIN, pg == 0);
			tf_page(t, &h, lv.b, lv.len, b.b, b.len);
		}
		tf_end_chunk(t, 0, col);
	}
	tf_end_row_group(t, 5);
	tf_finish(t);
}

#endif
