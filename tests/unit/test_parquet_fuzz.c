/* test_parquet_fuzz.c - hostile input for the Parquet reader: a small file
 * from our writer and the hand-built dictionary and DATA_PAGE_V2 files of
 * parquet_testfile.h, each cut at every length and with one byte flipped
 * (xor 0x01, 0x80, 0xff) at every offset, and 2,000 copies with 1-4 bytes
 * overwritten at pseudo-random places (fixed seed), then opened with pqr_open_mem
 * and read to the end. Every outcome must be rows or an error message;
 * the ASan/UBSan build is the judge of crashes, leaks and reads out of
 * bounds. Each damaged copy lives in its own exact-size allocation so that
 * a read one byte past it is caught. Files without page CRCs are included
 * so that damage reaches the level and value decoders, not only the CRC.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parquet/reader.h"
#include "parquet/writer.h"
#include "parquet_testfile.h"
#include "parquet_testlib.h"

struct tally {
	unsigned opened, rows_read, errors;
};

/* Opens len bytes (copied into an exact-size buffer) and reads every row,
 * touching each key and value byte. The column choice follows the names. */
static void read_everything(const uint8_t *data, size_t len, const char *ttl, struct tally *t)
{
	uint8_t *copy = tl_dup_exact(data, len);
	char err[512];
	pqr_limits lim;

	/* Limits small enough that a damaged size cannot ask for gigabytes. */
	pqr_limits_init(&lim);
	lim.max_page_bytes = 1u << 20;
	lim.max_value_bytes = 1u << 16;
	pqr_file *f = pqr_open_mem(copy, len, &lim, err, sizeof(err));
	if (f == NULL) {
		assert_true(err[0] != '\0');
		t->errors++;
		free(copy);
		return;
	}
	t->opened++;
	int kc = pqr_find_column(f, "key"), vc = pqr_find_column(f, "value");
	int tc = ttl ? pqr_find_column(f, ttl) : -1;
	pqr_cursor *c = NULL;
	if (kc >= 0 && vc >= 0 && tc >= -1)
		c = pqr_cursor_open(f, kc, vc, tc, err, sizeof(err));
	if (c != NULL) {
		pqr_row r;
		int rc = 0;
		unsigned sum = 0;
		for (int rows = 0; rows < 100000 && (rc = pqr_cursor_next(c, &r)) == 1; rows++) {
			for (uint32_t i = 0; i < r.key_len; i++)
				sum += r.key[i];
			for (uint32_t i = 0; i < r.value_len; i++)
				sum += r.value[i];
			t->rows_read++;
		}
		if (rc < 0) {
			assert_true(pqr_cursor_error(c)[0] != '\0');
			t->errors++;
		}
		(void)sum;
		pqr_cursor_free(c);
	}
	pqr_close(f);
	free(copy);
}

static void damage_everywhere(const uint8_t *file, size_t len, const char *ttl)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	uint8_t *work = malloc(len);
	struct tally t = {0};

	assert_non_null(work);
	/* The intact file reads. */
	read_everything(file, len, ttl, &t);
	assert_int_equal(t.errors, 0);
	for (size_t cut = 0; cut < len; cut++)
		read_everything(file, cut, ttl, &t);
	for (size_t off = 0; off < len; off++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			memcpy(work, file, len);
			work[off] ^= masks[m];
			read_everything(work, len, ttl, &t);
		}
	}
	/* A few bytes damaged at once, at places a fixed-seed xorshift picks. */
	uint64_t x = TL_SEED ^ len;
	for (int round = 0; round < 2000; round++) {
		memcpy(work, file, len);
		for (int k = 0; k < 1 + round % 4; k++) {
			tl_xorshift(&x);
			work[(x >> 8) % len] = (uint8_t)x;
		}
		read_everything(work, len, ttl, &t);
	}
	print_message("%zu bytes: %u opened, %u rows read, %u errors\n", len, t.opened, t.rows_read,
	              t.errors);
	assert_true(t.errors > len); /* every truncation at least */
	free(work);
}

static void writer_file(struct tl_membuf *m, int32_t codec, bool crc)
{
	pqw_options o;
	pqw *w;

	pqw_options_init(&o);
	o.codec = codec;
	o.page_crc = crc;
	o.page_bytes = 64;
	o.row_group_rows = 7;
	w = pqw_open(&o, tl_mem_write, m);
	assert_non_null(w);
	for (int i = 0; i < 12; i++) {
		char k[16], v[16];
		int kl = snprintf(k, sizeof(k), "k%d", i),
		    vl = snprintf(v, sizeof(v), "%.*s", i % 4, "vvvv");
		assert_int_equal(pqw_add(w, k, (size_t)kl, v, (size_t)vl, i % 2, 1000 + i), 0);
	}
	assert_int_equal(pqw_finish(w), 0);
	pqw_free(w);
}

static void test_damaged_writer_files_give_rows_or_errors(void **state)
{
	struct tl_membuf m = {0};

	writer_file(&m, PQ_CODEC_UNCOMPRESSED, false);
	damage_everywhere(m.p, m.len, "expires_at");
	m.len = 0;
	writer_file(&m, PQ_CODEC_SNAPPY, true);
	damage_everywhere(m.p, m.len, "expires_at");
	free(m.p);
}

static void test_damaged_dictionary_files_give_rows_or_errors(void **state)
{
	for (int crc = 0; crc < 2; crc++) {
		tfile t;
		tf_build_dictionary(&t, crc);
		damage_everywhere(t.p, t.len, NULL);
		tf_free(&t);
	}
}

static void test_damaged_v2_files_give_rows_or_errors(void **state)
{
	for (int crc = 0; crc < 2; crc++) {
		tfile t;
		tf_build_v2(&t, crc);
		damage_everywhere(t.p, t.len, "expires_at");
		tf_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_damaged_writer_files_give_rows_or_errors),
	        cmocka_unit_test(test_damaged_dictionary_files_give_rows_or_errors),
	        cmocka_unit_test(test_damaged_v2_files_give_rows_or_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
