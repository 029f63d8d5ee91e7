/* test_parquet_reader.c - the Parquet reader (reader.h): round trips
 * through our writer (every codec, several pages and row groups, binary
 * keys, empty values, NULL expiry) and files built byte by byte in the
 * layouts other tools write (DATA_PAGE_V2, dictionary pages with PLAIN
 * fallback, DuckDB's PLAIN_DICTIONARY, DELTA encodings, legacy BIT_PACKED
 * levels, nested groups), plus the refusals: repeated columns, unknown
 * codecs, wrong types, CRC mismatches, row counts that disagree.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "parquet/reader.h"
#include "parquet/writer.h"
#include "parquet_testfile.h"
#include "parquet_testlib.h"

/* ---- Writer round trips ---- */

/* Row i: key "key:<i>" (binary with a NUL and 0xff every 5th row), value
 * of i % 37 bytes (empty every 37th), expiry i * 1000 - 5000 ms unless
 * i % 3 == 0 (NULL). */
static size_t row_key(uint64_t i, uint8_t *k)
{
	int n = snprintf((char *)k, 40, "key:%llu", (unsigned long long)i);
	if (i % 5 == 0) {
		k[n++] = 0;
		k[n++] = 0xff;
	}
	return (size_t)n;
}

static size_t row_value(uint64_t i, uint8_t *v)
{
	size_t n = i % 37;
	for (size_t j = 0; j < n; j++)
		v[j] = (uint8_t)(i + j);
	return n;
}

static void write_rows(struct tl_membuf *m, const pqw_options *o, uint64_t n)
{
	uint8_t k[48], v[48];
	pqw *w = pqw_open(o, tl_mem_write, m);

	assert_non_null(w);
	for (uint64_t i = 0; i < n; i++) {
		size_t kl = row_key(i, k), vl = row_value(i, v);
		assert_int_equal(pqw_add(w, k, kl, v, vl, i % 3 != 0, (int64_t)i * 1000 - 5000), 0);
	}
	assert_int_equal(pqw_finish(w), 0);
	pqw_free(w);
}

static void check_rows(pqr_file *f, uint64_t n)
{
	char err[512];
	uint8_t k[48], v[48];
	int kc = pqr_find_column(f, "key"), vc = pqr_find_column(f, "value");
	int tc = pqr_find_column(f, "expires_at");
	pqr_cursor *c;
	pqr_row r;
	uint64_t i = 0;
	int rc;

	assert_true(kc >= 0 && vc >= 0 && tc >= 0);
	c = pqr_cursor_open(f, kc, vc, tc, err, sizeof(err));
	assert_non_null(c);
	while ((rc = pqr_cursor_next(c, &r)) == 1) {
		size_t kl = row_key(i, k), vl = row_value(i, v);
		assert_false(r.key_null);
		assert_false(r.value_null);
		assert_int_equal(r.key_len, kl);
		assert_memory_equal(r.key, k, kl);
		assert_int_equal(r.value_len, vl);
		if (vl)
			assert_memory_equal(r.value, v, vl);
		assert_int_equal(r.has_expiry, i % 3 != 0);
		if (r.has_expiry)
			assert_int_equal(r.expires_ms, (int64_t)i * 1000 - 5000);
		i++;
	}
	if (rc != 0)
		fail_msg("%s", pqr_cursor_error(c));
	assert_int_equal(i, n);
	assert_int_equal(pqr_cursor_next(c, &r), 0); /* the end stays the end */
	pqr_cursor_free(c);
}

static void round_trip(int32_t codec, uint64_t n, size_t page_bytes, uint64_t rg_rows)
{
	struct tl_membuf m = {0};
	pqw_options o;
	char err[512];

	pqw_options_init(&o);
	o.codec = codec;
	if (page_bytes)
		o.page_bytes = page_bytes;
	if (rg_rows)
		o.row_group_rows = rg_rows;
	write_rows(&m, &o, n);
	pqr_file *f = pqr_open_mem(m.p, m.len, NULL, err, sizeof(err));
	if (f == NULL)
		fail_msg("%s", err);
	assert_int_equal(pqr_metadata(f)->num_rows, (int64_t)n);
	check_rows(f, n);
	pqr_close(f);
	free(m.p);
}

static void test_writer_files_of_0_1_10_and_100k_rows_read_back(void **state)
{
	round_trip(PQ_CODEC_ZSTD, 0, 0, 0);
	round_trip(PQ_CODEC_ZSTD, 1, 0, 0);
	round_trip(PQ_CODEC_ZSTD, 10, 0, 0);
	/* Small pages and row groups: many of each. */
	round_trip(PQ_CODEC_SNAPPY, 100000, 16 << 10, 30000);
}

static void test_every_codec_reads_back(void **state)
{
	static const int32_t codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP,
	                                 PQ_CODEC_BROTLI,       PQ_CODEC_ZSTD,   PQ_CODEC_LZ4_RAW};
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		round_trip(codecs[i], 3000, 8 << 10, 1000);
}

static void test_a_file_on_disk_reads_back_and_names_itself(void **state)
{
	char path[4096], err[512];
	pqw_options o;
	struct tl_membuf m = {0};

	pqw_options_init(&o);
	o.page_bytes = 4096;
	write_rows(&m, &o, 5000);
	snprintf(path, sizeof(path), "%s/pqr_test_XXXXXX", tl_tmpdir());
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, m.p, m.len), (ssize_t)m.len);
	close(fd);
	pqr_file *f = pqr_open(path, NULL, err, sizeof(err));
	if (f == NULL)
		fail_msg("%s", err);
	assert_int_equal(pqr_file_size(f), m.len);
	check_rows(f, 5000);
	/* Truncated under an open file: pread comes up short, an error. */
	pqr_cursor *c = pqr_cursor_open(f, 0, 1, 2, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(truncate(path, 2000), 0);
	pqr_row r;
	int rc;
	for (int i = 0; i < 10000 && (rc = pqr_cursor_next(c, &r)) == 1; i++)
		;
	assert_int_equal(rc, -EIO);
	assert_non_null(strstr(pqr_cursor_error(c), path));
	pqr_cursor_free(c);
	pqr_close(f);
	tl_write_file(path, m.p, m.len);
	/* Truncated on disk: an error naming the file, not a crash. */
	assert_int_equal(truncate(path, (off_t)(m.len - 3)), 0);
	assert_null(pqr_open(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	unlink(path);
	assert_null(pqr_open(path, NULL, err, sizeof(err)));
	free(m.p);
}

/* ---- Hand-built files ---- */

struct got {
	char key[64], value[64];
	bool key_null, value_null, has_expiry;
	int64_t exp;
};

/* Opens t (which must be finished) and reads up to max rows of the given
 * columns; returns the cursor's final status (0 at the end) and the count
 * in *n. err gets the open or cursor message. */
static int read_all(const tfile *t, const char *kname, const char *vname, const char *tname,
                    struct got *rows, size_t max, size_t *n, char *err, size_t errlen)
{
	pqr_file *f = pqr_open_mem(t->p, t->len, NULL, err, errlen);
	int rc;

	*n = 0;
	if (f == NULL)
		return -1000;
	int kc = pqr_find_column(f, kname), vc = pqr_find_column(f, vname);
	int tc = tname ? pqr_find_column(f, tname) : -1;
	pqr_cursor *c = pqr_cursor_open(f, kc, vc, tc, err, errlen);
	if (c == NULL) {
		pqr_close(f);
		return -2000;
	}
	pqr_row r;
	while ((rc = pqr_cursor_next(c, &r)) == 1) {
		assert_true(*n < max);
		struct got *g = &rows[(*n)++];
		memset(g, 0, sizeof(*g));
		g->key_null = r.key_null;
		g->value_null = r.value_null;
		assert_true(r.key_len < 64 && r.value_len < 64);
		memcpy(g->key, r.key ? (const char *)r.key : "", r.key_len);
		memcpy(g->value, r.value ? (const char *)r.value : "", r.value_len);
		g->has_expiry = r.has_expiry;
		g->exp = r.expires_ms;
	}
	if (rc < 0)
		snprintf(err, errlen, "%s", pqr_cursor_error(c));
	pqr_cursor_free(c);
	pqr_close(f);
	return rc;
}

static void test_data_page_v2_with_and_without_compressed_values(void **state)
{
	tfile t;
	struct got g[8];
	size_t n;
	char err[512];

	tf_build_v2(&t, true);
	int rc = read_all(&t, "key", "value", "expires_at", g, 8, &n, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s", err);
	assert_int_equal(n, 5);
	assert_string_equal(g[0].key, "k0");
	assert_false(g[0].value_null);
	assert_string_equal(g[0].value, "");
	assert_true(g[0].has_expiry);
	assert_int_equal(g[0].exp, -2); /* -1500 us floors to -2 ms */
	assert_string_equal(g[1].key, "k1");
	assert_true(g[1].value_null);
	assert_false(g[1].has_expiry);
	assert_true(g[2].key_null);
	assert_string_equal(g[2].value, "v2");
	assert_int_equal(g[2].exp, 3);
	assert_string_equal(g[3].value, "v3");
	assert_false(g[3].has_expiry);
	assert_string_equal(g[4].key, "k4");
	assert_false(g[4].value_null);
	assert_int_equal(g[4].exp, 1);
	tf_free(&t);
}

static void test_dictionary_pages_fall_back_to_plain_in_the_same_chunk(void **state)
{
	static const char *keys[] = {"beta", "alpha", "beta", "beta", "gamma", ""};
	static const char *vals[] = {"v0", "", "v2", "value3", "v4", "v5"};
	tfile t;
	struct got g[8];
	size_t n;
	char err[512];

	tf_build_dictionary(&t, true);
	int rc = read_all(&t, "key", "value", NULL, g, 8, &n, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s", err);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(g[i].key, keys[i]);
		assert_string_equal(g[i].value, vals[i]);
		assert_false(g[i].key_null || g[i].value_null || g[i].has_expiry);
	}
	tf_free(&t);
}

/* DuckDB's default layout: OPTIONAL columns, a dictionary page with the
 * PLAIN_DICTIONARY encoding, then one v1 page of PLAIN_DICTIONARY
 * indices with RLE definition levels; snappy; an INT64 expiry with the
 * legacy TIMESTAMP_MILLIS converted type only. */
static void test_duckdb_style_plain_dictionary_v1_pages_read(void **state)
{
	static const pq_bytes dict[] = {{(const uint8_t *)"x", 1}, {(const uint8_t *)"yy", 2}};
	static const uint32_t defs[] = {1, 0, 1, 1}, idx[] = {1, 0, 1};
	static const int64_t exp[] = {-7, 0, 123456};
	tfile t;
	tbuf lv, b;
	pq_page_header h;
	struct got g[8];
	size_t n;
	char err[512];

	tf_init(&t);
	tf_string(&t, "key", PQ_OPTIONAL);
	tf_string(&t, "value", PQ_OPTIONAL);
	pq_schema_element *e = tf_leaf(&t, "ttl", PQ_INT64, PQ_OPTIONAL, true);
	e->has_converted_type = true;
	e->converted_type = PQ_CT_TIMESTAMP_MILLIS;
	for (uint32_t col = 0; col < 3; col++) {
		tf_begin_chunk(&t, PQ_CODEC_SNAPPY);
		if (col < 2)
			tb_plain_bytes(&b, dict, 2);
		else
			tb_plain_int64(&b, exp, 3);
		h = tf_dict(col < 2 ? 2 : 3, PQ_ENC_PLAIN_DICTIONARY);
		tf_page(&t, &h, NULL, 0, b.b, b.len);
		tb_levels(&lv, defs, 4, 1, true);
		static const uint32_t tidx[] = {2, 0, 1};
		tb_dict_indices(&b, col < 2 ? idx : tidx, 3, 2);
		h = tf_v1(4, PQ_ENC_PLAIN_DICTIONARY);
		tf_page(&t, &h, lv.b, lv.len, b.b, b.len);
		tf_end_chunk(&t, 0, col);
	}
	tf_end_row_group(&t, 4);
	tf_finish(&t);
	int rc = read_all(&t, "key", "value", "ttl", g, 8, &n, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s", err);
	assert_int_equal(n, 4);
	assert_string_equal(g[0].key, "yy");
	assert_true(g[1].key_null && g[1].value_null && !g[1].has_expiry);
	assert_string_equal(g[2].value, "x");
	assert_string_equal(g[3].key, "yy");
	assert_int_equal(g[0].exp, 123456);
	assert_int_equal(g[2].exp, -7);
	assert_int_equal(g[3].exp, 0);
	tf_free(&t);
}

/* arrow-rs writes DELTA_BYTE_ARRAY / DELTA_LENGTH_BYTE_ARRAY strings and
 * DELTA_BINARY_PACKED integers; 300 rows cross the 128-value blocks. */
static void test_delta_encodings_and_timestamp_micros_read(void **state)
{
	enum { N = 300 };
	static char kbuf[N][16], vbuf[N][16];
	pq_bytes keys[N], vals[N];
	int64_t exp[N];
	tfile t;
	tbuf b;
	pq_page_header h;
	static struct got g[N];
	size_t n;
	char err[512];

	for (int i = 0; i < N; i++) {
		keys[i] = (pq_bytes){(const uint8_t *)kbuf[i],
		                     (uint32_t)snprintf(kbuf[i], 16, "user:%04d", i)};
		vals[i] = (pq_bytes){(const uint8_t *)vbuf[i],
		                     (uint32_t)snprintf(vbuf[i], 16, "%.*s", i % 9, "abcdefghi")};
		exp[i] = (int64_t)i * 1000003 - 150000000;
	}
	tf_init(&t);
	tf_leaf(&t, "key", PQ_BYTE_ARRAY, PQ_REQUIRED, true);
	tf_leaf(&t, "value", PQ_BYTE_ARRAY, PQ_REQUIRED, true);
	pq_schema_element *e = tf_timestamp(&t, "expires_at", PQ_UNIT_MICROS);
	e->repetition_type = PQ_REQUIRED;
	tf_begin_chunk(&t, PQ_CODEC_LZ4_RAW);
	assert_int_equal(pq_delta_byte_array_encode(keys, N, b.b, sizeof(b.b), &b.len), PQE_OK);
	h = tf_v2(N, 0, PQ_ENC_DELTA_BYTE_ARRAY, true);
	tf_page(&t, &h, NULL, 0, b.b, b.len);
	tf_end_chunk(&t, 0, 0);
	tf_begin_chunk(&t, PQ_CODEC_UNCOMPRESSED);
	assert_int_equal(pq_delta_length_encode(vals, N, b.b, sizeof(b.b), &b.len), PQE_OK);
	h = tf_v1(N, PQ_ENC_DELTA_LENGTH_BYTE_ARRAY);
	tf_page(&t, &h, NULL, 0, b.b, b.len);
	tf_end_chunk(&t, 0, 1);
	tf_begin_chunk(&t, PQ_CODEC_GZIP);
	assert_int_equal(pq_delta_encode_int64(exp, N, b.b, sizeof(b.b), &b.len), PQE_OK);
	h = tf_v2(N, 0, PQ_ENC_DELTA_BINARY_PACKED, true);
	tf_page(&t, &h, NULL, 0, b.b, b.len);
	tf_end_chunk(&t, 0, 2);
	tf_end_row_group(&t, N);
	tf_finish(&t);
	int rc = read_all(&t, "key", "value", "expires_at", g, N, &n, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s", err);
	assert_int_equal(n, N);
	for (int i = 0; i < N; i++) {
		assert_string_equal(g[i].key, kbuf[i]);
		assert_string_equal(g[i].value, vbuf[i]);
		int64_t us = exp[i], ms = us / 1000 - (us % 1000 < 0);
		assert_true(g[i].has_expiry);
		assert_int_equal(g[i].exp, ms);
	}
	tf_free(&t);
}

/* schema { required int64 id; optional group a { required binary key;
 * optional binary value; } required double extra; }: key has max_def 1,
 * value 2; a NULL group makes both NULL. */
static void test_nested_group_columns_are_found_by_path(void **state)
{
	static const uint32_t kdef[] = {1, 0, 1}, vdef[] = {2, 0, 1};
	static const pq_bytes k[] = {{(const uint8_t *)"k0", 2}, {(const uint8_t *)"k2", 2}};
	static const pq_bytes v[] = {{(const uint8_t *)"v0", 2}};
	static const int64_t ids[] = {1, 2, 3};
	tfile t;
	tbuf lv, b;
	pq_page_header h;
	struct got g[4];
	size_t n;
	char err[512];

	tf_init(&t);
	tf_leaf(&t, "id", PQ_INT64, PQ_REQUIRED, true);
	tf_group(&t, "a", PQ_OPTIONAL, 2);
	tf_leaf(&t, "key", PQ_BYTE_ARRAY, PQ_REQUIRED, false);
	tf_leaf(&t, "value", PQ_BYTE_ARRAY, PQ_OPTIONAL, false);
	tf_leaf(&t, "extra", PQ_DOUBLE, PQ_REQUIRED, true);
	tf_begin_chunk(&t, PQ_CODEC_UNCOMPRESSED);
	tb_plain_int64(&b, ids, 3);
	h = tf_v1(3, PQ_ENC_PLAIN);
	tf_page(&t, &h, NULL, 0, b.b, b.len);
	tf_end_chunk(&t, 0, 0);
	tf_begin_chunk(&t, PQ_CODEC_UNCOMPRESSED);
	tb_levels(&lv, kdef, 3, 1, true);
	tb_plain_bytes(&b, k, 2);
	h = tf_v1(3, PQ_ENC_PLAIN);
	tf_page(&t, &h, lv.b, lv.len, b.b, b.len);
	tf_end_chunk(&t, 0, 1);
	tf_begin_chunk(&t, PQ_CODEC_UNCOMPRESSED);
	tb_levels(&lv, vdef, 3, 2, true);
	tb_plain_bytes(&b, v, 1);
	h = tf_v1(3, PQ_ENC_PLAIN);
	tf_page(&t, &h, lv.b, lv.len, b.b, b.len);
	tf_end_chunk(&t, 0, 2);
	tf_begin_chunk(&t, PQ_CODEC_UNCOMPRESSED);
	tb_plain_int64(&b, ids, 3); /* 8 bytes per value, as a double */
	h = tf_v1(3, PQ_ENC_PLAIN);
	tf_page(&t, &h, NULL, 0, b.b, b.len);
	tf_end_chunk(&t, 0, 3);
	tf_end_row_group(&t, 3);
	tf_finish(&t);

	pqr_file *f = pqr_open_mem(t.p, t.len, NULL, err, sizeof(err));
	if (f == NULL)
		fail_msg("%s", err);
	assert_int_equal(pqr_num_columns(f), 4);
	assert_int_equal(pqr_find_column(f, "a.key"), 1);
	assert_int_equal(pqr_find_column(f, "value"), 2);
	assert_int_equal(pqr_find_column(f, "missing"), -1);
	assert_string_equal(pqr_column_at(f, 2)->path, "a.value");
	assert_string_equal(pqr_column_at(f, 2)->name, "value");
	assert_int_equal(pqr_column_at(f, 1)->max_def, 1);
	assert_int_equal(pqr_column_at(f, 2)->max_def, 2);
	assert_int_equal(pqr_column_at(f, 0)->max_def, 0);
	assert_null(pqr_column_at(f, 4));
	pqr_close(f);

	int rc = read_all(&t, "a.key", "a.value", NULL, g, 4, &n, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s", err);
	assert_int_equal(n, 3);
	assert_string_equal(g[0].key, "k0");
	assert_string_equal(g[0].value, "v0");
	assert_true(g[1].key_null && g[1].value_null);
	assert_string_equal(g[2].key, "k2");
	assert_true(g[2].value_null); /* def 1: the group is there, the value not */
	/* The id and extra columns are no key or value. */
	rc = read_all(&t, "a.key", "extra", NULL, g, 4, &n, err, sizeof(err));
	assert_int_equal(rc, -2000);
	assert_non_null(strstr(err, "'extra'"));
	assert_non_null(strstr(err, "DOUBLE"));
	tf_free(&t);
}

static void test_legacy_bit_packed_definition_levels_read(void **state)
{
	/* 10 levels of 1 bit, MSB first: 1101 0111 01.. */
	static const uint8_t lv[] = {0xd7, 0x40};
	static const pq_bytes k[] = {{(const uint8_t *)"a", 1}, {(const uint8_t *)"b", 1},
	                             {(const uint8_t *)"c", 1}, {(const uint8_t *)"d", 1},
	                             {(const uint8_t *)"e", 1}, {(const uint8_t *)"f", 1},
	                             {(const uint8_t *)"g", 1}};
	static const char *want[] = {"a", "b", NULL, "c", NULL, "d", "e", "f", NULL, "g"};
	tfile t;
	tbuf b;
	pq_page_header h;
	struct got g[10];
	size_t n;
	char err[512];

	tf_init(&t);
	tf_string(&t, "key", PQ_OPTIONAL);
	for (int col = 0; col < 1; col++) {
		tf_begin_chunk(&t, PQ_CODEC_GZIP);
		tb_plain_bytes(&b, k, 7);
		h = tf_v1(10, PQ_ENC_PLAIN);
		h.data_page_header.definition_level_encoding = PQ_ENC_BIT_PACKED;
		tf_page(&t, &h, lv, sizeof(lv), b.b, b.len);
		tf_end_chunk(&t, 0, 0);
	}
	tf_end_row_group(&t, 10);
	tf_finish(&t);
	/* The same column as key and value. */
	int rc = read_all(&t, "key", "key", NULL, g, 10, &n, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s", err);
	assert_int_equal(n, 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(g[i].key_null, want[i] == NULL);
		if (want[i])
			assert_string_equal(g[i].value, want[i]);
	}
	tf_free(&t);
}

/* A two-column file (key, value) whose value column the caller shapes. */
static void simple_file(tfile *t, int32_t codec, int32_t vtype, int32_t vrep)
{
	static const pq_bytes k[] = {{(const uint8_t *)"a", 1}, {(const uint8_t *)"b", 1}};
	tbuf b;
	pq_page_header h;

	tf_init(t);
	tf_string(t, "key", PQ_REQUIRED);
	if (vrep == PQ_REPEATED) {
		tf_group(t, "list", PQ_OPTIONAL, 1);
		tf_leaf(t, "value", vtype, vrep, false);
	} else {
		tf_leaf(t, "value", vtype, vrep, true);
	}
	for (uint32_t col = 0; col < 2; col++) {
		tf_begin_chunk(t, codec);
		tb_plain_bytes(&b, k, 2);
		h = tf_v1(2, PQ_ENC_PLAIN);
		tf_page(t, &h, NULL, 0, b.b, b.len);
		tf_end_chunk(t, 0, col);
	}
	tf_end_row_group(t, 2);
	tf_finish(t);
}

static void test_repeated_columns_and_wrong_types_are_refused(void **state)
{
	tfile t;
	struct got g[4];
	size_t n;
	char err[512];

	simple_file(&t, PQ_CODEC_UNCOMPRESSED, PQ_BYTE_ARRAY, PQ_REPEATED);
	assert_int_equal(read_all(&t, "key", "list.value", NULL, g, 4, &n, err, sizeof(err)),
	                 -2000);
	assert_non_null(strstr(err, "repeated column"));
	tf_free(&t);

	simple_file(&t, PQ_CODEC_UNCOMPRESSED, PQ_INT32, PQ_REQUIRED);
	assert_int_equal(read_all(&t, "key", "value", NULL, g, 4, &n, err, sizeof(err)), -2000);
	assert_non_null(strstr(err, "'value'"));
	assert_non_null(strstr(err, "INT32"));
	assert_int_equal(read_all(&t, "key", "key", "value", g, 4, &n, err, sizeof(err)), -2000);
	assert_non_null(strstr(err, "INT64"));
	tf_free(&t);

	simple_file(&t, PQ_CODEC_UNCOMPRESSED, PQ_INT96, PQ_REQUIRED);
	assert_int_equal(read_all(&t, "key", "key", "value", g, 4, &n, err, sizeof(err)), -2000);
	assert_non_null(strstr(err, "INT96"));
	tf_free(&t);
}

/* Builds the simple file, then rewrites its footer after fix(). */
static void refooter(tfile *t, void (*fix)(tfile *))
{
	uint32_t flen = (uint32_t)t->p[t->len - 8] | (uint32_t)t->p[t->len - 7] << 8 |
	                (uint32_t)t->p[t->len - 6] << 16 | (uint32_t)t->p[t->len - 5] << 24;
	t->len -= 8 + flen;
	fix(t);
	tf_finish(t);
}

static void set_lzo(tfile *t)
{
	t->chunks[0][1].meta_data.codec = PQ_CODEC_LZO;
}

static void set_file_path(tfile *t)
{
	t->chunks[0][0].has_file_path = true;
	t->chunks[0][0].file_path = (pqt_bin){(const uint8_t *)"other.parquet", 13};
}

static void add_a_row(tfile *t)
{
	t->rgs[0].num_rows++;
	t->num_rows++;
}

static void drop_a_row(tfile *t)
{
	t->rgs[0].num_rows--;
	t->num_rows--;
}

static void test_unsupported_codec_and_external_chunks_are_refused(void **state)
{
	tfile t;
	struct got g[4];
	size_t n;
	char err[512];

	simple_file(&t, PQ_CODEC_UNCOMPRESSED, PQ_BYTE_ARRAY, PQ_REQUIRED);
	refooter(&t, set_lzo);
	assert_int_equal(read_all(&t, "key", "value", NULL, g, 4, &n, err, sizeof(err)), -2000);
	assert_non_null(strstr(err, "LZO"));
	tf_free(&t);

	simple_file(&t, PQ_CODEC_UNCOMPRESSED, PQ_BYTE_ARRAY, PQ_REQUIRED);
	refooter(&t, set_file_path);
	assert_int_equal(read_all(&t, "key", "value", NULL, g, 4, &n, err, sizeof(err)), -1000);
	assert_non_null(strstr(err, "file_path"));
	/* An encrypted footer ("PARE"). */
	memcpy(t.p + t.len - 4, "PARE", 4);
	assert_null(pqr_open_mem(t.p, t.len, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "encrypted"));
	tf_free(&t);
}

static void test_row_groups_whose_counts_disagree_are_refused(void **state)
{
	tfile t;
	struct got g[4];
	size_t n;
	char err[512];

	simple_file(&t, PQ_CODEC_SNAPPY, PQ_BYTE_ARRAY, PQ_REQUIRED);
	assert_int_equal(read_all(&t, "key", "value", NULL, g, 4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	refooter(&t, add_a_row); /* the row group claims 3 rows, the pages hold 2 */
	assert_int_equal(read_all(&t, "key", "value", NULL, g, 4, &n, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "row group 0, column 'key'"));
	assert_non_null(strstr(err, "ends after 2 of the row group's 3 values"));
	tf_free(&t);

	simple_file(&t, PQ_CODEC_SNAPPY, PQ_BYTE_ARRAY, PQ_REQUIRED);
	refooter(&t, drop_a_row); /* 1 row claimed, a page of 2 values */
	assert_int_equal(read_all(&t, "key", "value", NULL, g, 4, &n, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "page holds 2 values"));
	tf_free(&t);
}

static void test_a_page_crc_mismatch_names_file_column_and_byte(void **state)
{
	tfile t;
	struct got g[4];
	size_t n;
	char err[512], want[64];

	simple_file(&t, PQ_CODEC_UNCOMPRESSED, PQ_BYTE_ARRAY, PQ_REQUIRED);
	/* The value chunk's page payload ends with "b": make it "c". */
	int64_t at = t.chunks[0][1].meta_data.data_page_offset;
	int64_t end = at + t.chunks[0][1].meta_data.total_compressed_size;
	assert_int_equal(t.p[end - 1], 'b');
	t.p[end - 1] = 'c';
	assert_int_equal(read_all(&t, "key", "value", NULL, g, 4, &n, err, sizeof(err)), -EBADMSG);
	snprintf(want, sizeof(want), "page at byte %lld: page CRC mismatch", (long long)at);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "<memory>: row group 0, column 'value'"));
	tf_free(&t);
}

static void test_dictionary_misuse_is_refused(void **state)
{
	static const pq_bytes d[] = {{(const uint8_t *)"a", 1}};
	static const uint32_t idx[] = {0, 0};
	tfile t;
	tbuf b;
	pq_page_header h;
	struct got g[4];
	size_t n;
	char err[512];

	/* Indices with no dictionary page. */
	for (int second = 0; second < 2; second++) {
		tf_init(&t);
		tf_string(&t, "key", PQ_REQUIRED);
		tf_begin_chunk(&t, PQ_CODEC_UNCOMPRESSED);
		for (int k = 0; k < second * 2; k++) {
			tb_plain_bytes(&b, d, 1);
			h = tf_dict(1, PQ_ENC_PLAIN);
			tf_page(&t, &h, NULL, 0, b.b, b.len);
		}
		tb_dict_indices(&b, idx, 2, 1);
		h = tf_v1(2, PQ_ENC_RLE_DICTIONARY);
		tf_page(&t, &h, NULL, 0, b.b, b.len);
		tf_end_chunk(&t, 0, 0);
		tf_end_row_group(&t, 2);
		tf_finish(&t);
		assert_int_equal(read_all(&t, "key", "key", NULL, g, 4, &n, err, sizeof(err)),
		                 -EBADMSG);
		assert_non_null(strstr(err, second ? "second dictionary page"
		                                   : "dictionary indices before any dictionary"));
		tf_free(&t);
	}
}

static void test_footer_lookups_and_damaged_headers(void **state)
{
	struct tl_membuf m = {0};
	pqw_options o;
	pq_key_value kv = {.key = {(const uint8_t *)"minidb.seq", 10},
	                   .has_value = true,
	                   .value = {(const uint8_t *)"42", 2}};
	char err[512], buf[8];

	pqw_options_init(&o);
	o.kv = &kv;
	o.num_kv = 1;
	write_rows(&m, &o, 3);
	pqr_file *f = pqr_open_mem(m.p, m.len, NULL, err, sizeof(err));
	assert_non_null(f);
	assert_int_equal(pqr_kv_get(f, "minidb.seq", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "42");
	assert_int_equal(pqr_kv_get(f, "minidb.seq", buf, 2), -E2BIG);
	assert_int_equal(pqr_kv_get(f, "nope", buf, sizeof(buf)), -ENOENT);
	assert_null(pqr_cursor_open(f, 0, 7, -1, err, sizeof(err)));
	pqr_close(f);

	/* Not Parquet, too short, a footer length past the start. */
	assert_null(pqr_open_mem("PAR1", 4, NULL, err, sizeof(err)));
	assert_null(pqr_open_mem(NULL, 0, NULL, err, sizeof(err)));
	m.p[m.len - 6] = 0x7f;
	assert_null(pqr_open_mem(m.p, m.len, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "footer length"));
	/* A footer limit below the footer size. */
	m.p[m.len - 6] = 0;
	pqr_limits lim;
	pqr_limits_init(&lim);
	lim.max_footer_bytes = 16;
	assert_null(pqr_open_mem(m.p, m.len, &lim, err, sizeof(err)));
	assert_non_null(strstr(err, "limit"));
	free(m.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_writer_files_of_0_1_10_and_100k_rows_read_back),
	        cmocka_unit_test(test_every_codec_reads_back),
	        cmocka_unit_test(test_a_file_on_disk_reads_back_and_names_itself),
	        cmocka_unit_test(test_data_page_v2_with_and_without_compressed_values),
	        cmocka_unit_test(test_dictionary_pages_fall_back_to_plain_in_the_same_chunk),
	        cmocka_unit_test(test_duckdb_style_plain_dictionary_v1_pages_read),
	        cmocka_unit_test(test_delta_encodings_and_timestamp_micros_read),
	        cmocka_unit_test(test_nested_group_columns_are_found_by_path),
	        cmocka_unit_test(test_legacy_bit_packed_definition_levels_read),
	        cmocka_unit_test(test_repeated_columns_and_wrong_types_are_refused),
	        cmocka_unit_test(test_unsupported_codec_and_external_chunks_are_refused),
	        cmocka_unit_test(test_row_groups_whose_counts_disagree_are_refused),
	        cmocka_unit_test(test_a_page_crc_mismatch_names_file_column_and_byte),
	        cmocka_unit_test(test_dictionary_misuse_is_refused),
	        cmocka_unit_test(test_footer_lookups_and_damaged_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
