/* Unit tests for the WAL segment format (src/wal_format.c): round trips,
 * the CRC-32C check values, and hostile images: a torn tail at every byte,
 * a bit flip at every bit, zero tails, lying lengths, bad headers, names;
 * and the batch flag: WAL_FLAG_MORE round trips, other flag bits are
 * corrupt, wal_scan reports where an unterminated batch starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wal_format.h"

#define MAX_RECORD (1024u * 1024u)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the CRC of a hand-edited record so that a field check, not the
 * CRC, has to catch the edit. */
static void fix_crc(uint8_t *rec)
{
	set_le32(rec + 4, wal_crc32c(rec + 8, le32(rec)));
}

static const uint8_t bin_key[] = {0, 'k', 0xff, 0, '\n'};
static const uint8_t bin_val[] = {0xff, 0, 0, 'v', 0x80, 0};

/* Three records: SET with binary key and value, DEL, SET with a value. */
static const wal_record sample[] = {
        {.seq = 10,
         .op = WAL_OP_SET,
         .expire_at_ms = 1700000000123,
         .key = bin_key,
         .klen = sizeof(bin_key),
         .val = bin_val,
         .vlen = sizeof(bin_val)},
        {.seq = 11, .op = WAL_OP_DEL, .key = "gone", .klen = 4},
        {.seq = 13, .op = WAL_OP_SET, .key = "last", .klen = 4, .val = "value-of-last", .vlen = 13},
};
#define NSAMPLE (sizeof(sample) / sizeof(sample[0]))

/* Writes header + sample records into buf; offs[i] is record i's offset. */
static size_t build_segment(uint8_t *buf, size_t cap, size_t offs[NSAMPLE])
{
	size_t off = WAL_HEADER_SIZE;
	wal_encode_header(buf);
	for (size_t i = 0; i < NSAMPLE; i++) {
		size_t sz = wal_record_size(sample[i].klen, sample[i].vlen);
		assert_true(sz > 0 && off + sz <= cap);
		offs[i] = off;
		assert_int_equal(wal_encode(buf + off, &sample[i]), sz);
		off += sz;
	}
	return off;
}

static void assert_same_record(const wal_record *got, const wal_record *want)
{
	assert_int_equal(got->seq, want->seq);
	assert_int_equal(got->op, want->op);
	assert_int_equal(got->flags, want->flags);
	assert_int_equal(got->expire_at_ms, want->expire_at_ms);
	assert_int_equal(got->klen, want->klen);
	assert_int_equal(got->vlen, want->vlen);
	if (want->klen)
		assert_memory_equal(got->key, want->key, want->klen);
	if (want->vlen)
		assert_memory_equal(got->val, want->val, want->vlen);
}

typedef struct seen {
	size_t n;
	wal_record r[8];
	size_t off[8];
	size_t stop_at; /* return 7 on this record (1-based); 0: never */
} seen;

static int collect(const wal_record *r, size_t offset, void *arg)
{
	seen *s = arg;
	if (s->stop_at && s->n + 1 == s->stop_at)
		return 7;
	assert_true(s->n < 8);
	s->r[s->n] = *r;
	s->off[s->n] = offset;
	s->n++;
	return 0;
}

static void test_crc32c_matches_the_standard_check_values(void **state)
{
	(void)state;
	uint8_t buf[32];
	assert_int_equal(wal_crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(wal_crc32c("", 0), 0);
	/* RFC 3720 (iSCSI) appendix B.4 vectors. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(wal_crc32c(buf, sizeof(buf)), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(wal_crc32c(buf, sizeof(buf)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(wal_crc32c(buf, sizeof(buf)), 0x46DD794Eu);
}

static void test_every_op_round_trips_through_encode_and_decode(void **state)
{
	(void)state;
	const wal_record recs[] = {
	        sample[0],
	        {.seq = 2,
	         .op = WAL_OP_SET,
	         .key = "empty-value",
	         .klen = 11,
	         .val = "",
	         .vlen = 0},
	        {.seq = 3, .op = WAL_OP_SET, .key = "", .klen = 0, .val = "v", .vlen = 1},
	        {.seq = 4, .op = WAL_OP_DEL, .key = bin_key, .klen = sizeof(bin_key)},
	        {.seq = 4,
	         .op = WAL_OP_DEL,
	         .flags = WAL_FLAG_MORE,
	         .key = bin_key,
	         .klen = sizeof(bin_key)},
	        {.seq = 5, .op = WAL_OP_EXPIRE, .key = "k", .klen = 1, .expire_at_ms = 42},
	        {.seq = 5,
	         .op = WAL_OP_EXPIRE,
	         .flags = WAL_FLAG_MORE,
	         .key = "k",
	         .klen = 1,
	         .expire_at_ms = 42},
	        {.seq = 6, .op = WAL_OP_EXPIRE, .key = "k", .klen = 1, .expire_at_ms = 0},
	        {.seq = UINT64_MAX, .op = WAL_OP_FLUSHALL, .expire_at_ms = 0},
	        {.seq = 7, .op = WAL_OP_FLUSHALL, .flags = WAL_FLAG_MORE}, /* no special case */
	        {.seq = 8,
	         .op = WAL_OP_SET,
	         .key = "k",
	         .klen = 1,
	         .val = "v",
	         .vlen = 1,
	         .expire_at_ms = INT64_MAX},
	        {.seq = 9,
	         .op = WAL_OP_SET,
	         .flags = WAL_FLAG_MORE,
	         .key = bin_key,
	         .klen = sizeof(bin_key),
	         .val = bin_val,
	         .vlen = sizeof(bin_val)},
	};
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		uint8_t buf[128];
		size_t sz = wal_record_size(recs[i].klen, recs[i].vlen);
		assert_int_equal(sz, WAL_REC_FIXED_SIZE + recs[i].klen + recs[i].vlen);
		assert_int_equal(wal_encode(buf, &recs[i]), sz);
		wal_record got;
		size_t used = 0;
		assert_int_equal(wal_decode(buf, sz, MAX_RECORD, &got, &used), WAL_OK);
		assert_int_equal(used, sz);
		assert_same_record(&got, &recs[i]);
		assert_ptr_equal(got.key, buf + WAL_REC_FIXED_SIZE); /* zero-copy */
		/* Trailing bytes of the next record are not consumed. */
		memset(buf + sz, 0xAB, 8);
		assert_int_equal(wal_decode(buf, sz + 8, MAX_RECORD, &got, &used), WAL_OK);
		assert_int_equal(used, sz);
	}
}

static void test_the_encoding_is_pinned_byte_by_byte(void **state)
{
	(void)state;
	const wal_record r = {.seq = 0x0102030405060708ull,
	                      .op = WAL_OP_SET,
	                      .flags = WAL_FLAG_MORE,
	                      .expire_at_ms = 0x1122334455667788ll,
	                      .key = "k",
	                      .klen = 1,
	                      .val = "vv",
	                      .vlen = 2};
	const uint8_t want_body[] = {
	        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* seq */
	        0x01, 0x01, 0x00, 0x00,                         /* op SET, flags MORE, reserved */
	        0x01, 0x00, 0x00, 0x00,                         /* klen */
	        0x02, 0x00, 0x00, 0x00,                         /* vlen */
	        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* expire_at_ms */
	        'k',  'v',  'v',
	};
	uint8_t buf[64];
	assert_int_equal(wal_encode(buf, &r), 8 + sizeof(want_body));
	assert_int_equal(le32(buf), sizeof(want_body));
	assert_int_equal(le32(buf + 4), wal_crc32c(want_body, sizeof(want_body)));
	assert_memory_equal(buf + 8, want_body, sizeof(want_body));
	/* The last record of a batch (or a lone record) has a zero flags byte. */
	wal_record last = r;
	last.flags = 0;
	assert_int_equal(wal_encode(buf, &last), 8 + sizeof(want_body));
	assert_int_equal(buf[8 + 9], 0x00);

	const uint8_t want_header[WAL_HEADER_SIZE] = {'M', 'D', 'B', 'W', 'A', 'L', '0', '1',
	                                              1,   0,   0,   0,   0,   0,   0,   0};
	wal_encode_header(buf);
	assert_memory_equal(buf, want_header, WAL_HEADER_SIZE);
}

static void test_the_encoder_refuses_records_the_decoder_would_reject(void **state)
{
	(void)state;
	uint8_t buf[128];
	const wal_record bad[] = {
	        {.seq = 0, .op = WAL_OP_DEL, .key = "k", .klen = 1},
	        {.seq = 1, .op = 0, .key = "k", .klen = 1},
	        {.seq = 1, .op = 5, .key = "k", .klen = 1},
	        {.seq = 1, .op = WAL_OP_DEL, .flags = 0x02, .key = "k", .klen = 1},
	        {.seq = 1, .op = WAL_OP_DEL, .flags = 0x80, .key = "k", .klen = 1},
	        {.seq = 1, .op = WAL_OP_DEL, .flags = 0xff, .key = "k", .klen = 1},
	        {.seq = 1, .op = WAL_OP_DEL, .key = "k", .klen = 1, .val = "v", .vlen = 1},
	        {.seq = 1, .op = WAL_OP_DEL, .key = "k", .klen = 1, .expire_at_ms = 5},
	        {.seq = 1, .op = WAL_OP_EXPIRE, .key = "k", .klen = 1, .expire_at_ms = -1},
	        {.seq = 1, .op = WAL_OP_SET, .key = "k", .klen = 1, .expire_at_ms = -1},
	        {.seq = 1, .op = WAL_OP_FLUSHALL, .key = "k", .klen = 1},
	        {.seq = 1, .op = WAL_OP_SET, .key = "k", .klen = WAL_MAX_KEY + 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wal_encode(buf, &bad[i]), 0);

	assert_int_equal(wal_record_size(WAL_MAX_KEY, 0), WAL_REC_FIXED_SIZE + WAL_MAX_KEY);
	assert_int_equal(wal_record_size(WAL_MAX_KEY + 1, 0), 0);
	/* len is a uint32: the largest body is UINT32_MAX bytes. */
	size_t vmax = (size_t)UINT32_MAX - WAL_BODY_FIXED_SIZE - 10;
	assert_int_equal(wal_record_size(10, vmax), (size_t)8 + UINT32_MAX);
	assert_int_equal(wal_record_size(10, vmax + 1), 0);
	assert_int_equal(wal_record_size(0, SIZE_MAX), 0);
}

static void test_a_valid_header_is_accepted_and_bad_ones_are_rejected(void **state)
{
	(void)state;
	uint8_t h[WAL_HEADER_SIZE];
	wal_encode_header(h);
	assert_int_equal(wal_check_header(h, sizeof(h)), WAL_OK);
	/* A prefix of a good header: the file was created, then the crash. */
	for (size_t n = 0; n < WAL_HEADER_SIZE; n++)
		assert_int_equal(wal_check_header(h, n), WAL_TORN);

	size_t fields[] = {0, 7, 8, 12, 15}; /* magic, version, reserved */
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		wal_encode_header(h);
		h[fields[i]] ^= 0x02;
		assert_int_equal(wal_check_header(h, sizeof(h)), WAL_BAD_HEADER);
	}
	wal_encode_header(h);
	h[1] = 'X';
	assert_int_equal(wal_check_header(h, 4), WAL_BAD_HEADER); /* short and wrong */

	wal_scan_result res;
	wal_encode_header(h);
	h[8] = 2; /* a future version */
	assert_int_equal(wal_scan(h, sizeof(h), MAX_RECORD, NULL, NULL, &res), WAL_BAD_HEADER);
	assert_int_equal(res.end, 0);
	assert_non_null(res.reason);
}

static void test_an_empty_segment_has_zero_records(void **state)
{
	(void)state;
	uint8_t h[WAL_HEADER_SIZE];
	wal_encode_header(h);
	wal_scan_result res;
	seen s = {0};
	assert_int_equal(wal_scan(h, sizeof(h), MAX_RECORD, collect, &s, &res), WAL_OK);
	assert_int_equal(res.records, 0);
	assert_int_equal(res.first_seq, 0);
	assert_int_equal(res.last_seq, 0);
	assert_int_equal(res.end, WAL_HEADER_SIZE);
	assert_int_equal(res.zero_tail, 0);
	assert_int_equal(s.n, 0);
	assert_null(res.reason);
}

static void test_a_whole_segment_scans_in_order(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t offs[NSAMPLE];
	size_t n = build_segment(buf, sizeof(buf), offs);
	wal_scan_result res;
	seen s = {0};
	assert_int_equal(wal_scan(buf, n, MAX_RECORD, collect, &s, &res), WAL_OK);
	assert_int_equal(res.records, NSAMPLE);
	assert_int_equal(res.first_seq, 10);
	assert_int_equal(res.last_seq, 13);
	assert_int_equal(res.end, n);
	assert_int_equal(res.batch_start, n);
	assert_int_equal(res.batch_records, 0);
	assert_int_equal(s.n, NSAMPLE);
	for (size_t i = 0; i < NSAMPLE; i++) {
		assert_same_record(&s.r[i], &sample[i]);
		assert_int_equal(s.off[i], offs[i]);
	}
}

static void test_a_torn_tail_at_every_byte_of_the_last_record_is_torn(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t offs[NSAMPLE];
	size_t n = build_segment(buf, sizeof(buf), offs);
	size_t last = offs[NSAMPLE - 1];
	for (size_t cut = last; cut < n; cut++) {
		/* Copy to an exact-size heap block so ASan sees any read past the cut. */
		uint8_t *img = malloc(cut);
		assert_non_null(img);
		memcpy(img, buf, cut);
		wal_scan_result res;
		seen s = {0};
		int rc = wal_scan(img, cut, MAX_RECORD, collect, &s, &res);
		assert_int_equal(rc, cut == last ? WAL_OK : WAL_TORN);
		assert_int_equal(res.end, last);
		assert_int_equal(res.records, NSAMPLE - 1);
		assert_int_equal(res.last_seq, sample[NSAMPLE - 2].seq);
		assert_int_equal(s.n, NSAMPLE - 1);
		for (size_t i = 0; i < NSAMPLE - 1; i++)
			assert_same_record(&s.r[i], &sample[i]);
		if (cut > last) {
			wal_record r;
			size_t used = 12345;
			assert_int_equal(wal_decode(img + last, cut - last, MAX_RECORD, &r, &used),
			                 WAL_TORN);
			assert_int_equal(used, 12345);
		}
		free(img);
	}
}

static void test_a_flipped_bit_anywhere_in_a_middle_record_is_corrupt(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t offs[NSAMPLE];
	size_t n = build_segment(buf, sizeof(buf), offs);
	size_t mid = offs[1], mid_end = offs[2];
	for (size_t at = mid; at < mid_end; at++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[at] ^= (uint8_t)(1u << bit);
			wal_scan_result res;
			seen s = {0};
			int rc = wal_scan(buf, n, MAX_RECORD, collect, &s, &res);
			if (rc != WAL_CORRUPT)
				fail_msg("flip of bit %d at byte %zu: %s", bit, at,
				         wal_status_str(rc));
			assert_int_equal(res.end, mid);
			assert_int_equal(res.records, 1);
			assert_int_equal(s.n, 1);
			assert_non_null(res.reason);
			buf[at] ^= (uint8_t)(1u << bit);
		}
	}
	/* And the same flips with the segment ending right after the record,
	 * where a longer len would run past the end: still never TORN. */
	for (size_t at = mid; at < mid_end; at++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[at] ^= (uint8_t)(1u << bit);
			wal_scan_result res;
			int rc = wal_scan(buf, mid_end, MAX_RECORD, NULL, NULL, &res);
			if (rc != WAL_CORRUPT)
				fail_msg("flip of bit %d at byte %zu (last record): %s", bit, at,
				         wal_status_str(rc));
			assert_int_equal(res.end, mid);
			buf[at] ^= (uint8_t)(1u << bit);
		}
	}
}

static void test_a_zero_filled_tail_is_a_clean_end(void **state)
{
	(void)state;
	uint8_t buf[8192];
	size_t offs[NSAMPLE];
	memset(buf, 0, sizeof(buf));
	size_t n = build_segment(buf, sizeof(buf), offs);
	wal_scan_result res;
	assert_int_equal(wal_scan(buf, sizeof(buf), MAX_RECORD, NULL, NULL, &res), WAL_OK);
	assert_int_equal(res.records, NSAMPLE);
	assert_int_equal(res.end, n);
	assert_int_equal(res.zero_tail, sizeof(buf) - n);
	/* Fewer zeros than a record header, too. */
	assert_int_equal(wal_scan(buf, n + 3, MAX_RECORD, NULL, NULL, &res), WAL_OK);
	assert_int_equal(res.zero_tail, 3);
	/* A header followed only by zeros: an empty preallocated segment. */
	uint8_t h[64] = {0};
	wal_encode_header(h);
	assert_int_equal(wal_scan(h, sizeof(h), MAX_RECORD, NULL, NULL, &res), WAL_OK);
	assert_int_equal(res.records, 0);
	assert_int_equal(res.zero_tail, sizeof(h) - WAL_HEADER_SIZE);
}

static void test_zeros_in_the_middle_are_corrupt_not_an_end(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t offs[NSAMPLE];
	size_t n = build_segment(buf, sizeof(buf), offs);
	wal_scan_result res;

	uint8_t *img = malloc(n);
	assert_non_null(img);
	/* The whole middle record zeroed, a valid record after it. */
	memcpy(img, buf, n);
	memset(img + offs[1], 0, offs[2] - offs[1]);
	assert_int_equal(wal_scan(img, n, MAX_RECORD, NULL, NULL, &res), WAL_CORRUPT);
	assert_int_equal(res.end, offs[1]);
	assert_int_equal(res.records, 1);
	/* Only its len and crc zeroed. */
	memcpy(img, buf, n);
	memset(img + offs[1], 0, 8);
	assert_int_equal(wal_scan(img, n, MAX_RECORD, NULL, NULL, &res), WAL_CORRUPT);
	assert_int_equal(res.end, offs[1]);
	/* The last record zeroed except its final byte. */
	memcpy(img, buf, n);
	memset(img + offs[2], 0, n - offs[2] - 1);
	assert_int_equal(wal_scan(img, n, MAX_RECORD, NULL, NULL, &res), WAL_CORRUPT);
	assert_int_equal(res.end, offs[2]);
	/* The last record's body zeroed, len and crc intact: complete bytes that
	 * fail the CRC are corruption even at the end (see wal_format.c). */
	memcpy(img, buf, n);
	memset(img + offs[2] + 8, 0, n - offs[2] - 8);
	assert_int_equal(wal_scan(img, n, MAX_RECORD, NULL, NULL, &res), WAL_CORRUPT);
	assert_int_equal(res.end, offs[2]);
	free(img);
}

static void test_declared_lengths_are_checked_before_the_body(void **state)
{
	(void)state;
	uint8_t rec[64];
	const wal_record r = {
	        .seq = 1, .op = WAL_OP_SET, .key = "k", .klen = 1, .val = "v", .vlen = 1};
	size_t sz = wal_encode(rec, &r);
	wal_record out;
	size_t used;

	/* The len field itself is incomplete: torn. */
	for (size_t n = 0; n < 8; n++)
		assert_int_equal(wal_decode(rec, n, MAX_RECORD, &out, &used), WAL_TORN);
	/* Complete len above max_record: corrupt, whatever follows. */
	assert_int_equal(wal_decode(rec, sz, sz - 1, &out, &used), WAL_CORRUPT);
	assert_int_equal(wal_decode(rec, sz, sz, &out, &used), WAL_OK);
	set_le32(rec, 0xFFFFFFF0u);
	assert_int_equal(wal_decode(rec, 8, MAX_RECORD, &out, &used), WAL_CORRUPT);
	/* len shorter than the fixed body: corrupt. */
	for (uint32_t len = 0; len < WAL_BODY_FIXED_SIZE; len++) {
		set_le32(rec, len);
		assert_int_equal(wal_decode(rec, sz, MAX_RECORD, &out, &used), WAL_CORRUPT);
	}
	/* len within the limit but past the buffer, fields consistent: torn. */
	wal_encode(rec, &r);
	assert_int_equal(wal_decode(rec, sz - 1, MAX_RECORD, &out, &used), WAL_TORN);
	/* ... fields inconsistent with len: corrupt. */
	set_le32(rec, (uint32_t)(sz - 8 + 100));
	assert_int_equal(wal_decode(rec, sz, MAX_RECORD, &out, &used), WAL_CORRUPT);
	/* klen + vlen disagree with a len whose CRC is right: corrupt. */
	wal_encode(rec, &r);
	set_le32(rec + 8 + 16, 2); /* vlen 2 instead of 1 */
	fix_crc(rec);
	assert_int_equal(wal_decode(rec, sz, MAX_RECORD, &out, &used), WAL_CORRUPT);
	/* A key longer than WAL_MAX_KEY is refused from its klen alone. */
	wal_encode(rec, &r);
	set_le32(rec, WAL_BODY_FIXED_SIZE + WAL_MAX_KEY + 1);
	set_le32(rec + 8 + 12, WAL_MAX_KEY + 1);
	set_le32(rec + 8 + 16, 0);
	assert_int_equal(wal_decode(rec, sz, SIZE_MAX, &out, &used), WAL_CORRUPT);
}

static void test_unknown_op_flags_or_reserved_bits_are_corrupt(void **state)
{
	(void)state;
	uint8_t rec[64];
	const wal_record r = {.seq = 1, .op = WAL_OP_DEL, .key = "k", .klen = 1};
	wal_record out;
	size_t used;
	struct {
		size_t at;
		uint8_t v;
	} edits[] = {
	        {8 + 8, 0},                     /* op 0 */
	        {8 + 8, 5},                     /* op 5 */
	        {8 + 8, 99},                    /* op 99 */
	        {8 + 9, 2},                     /* an unknown flag bit */
	        {8 + 10, 1},                    /* reserved */
	        {8 + 11, 0x80}, {8 + 27, 0x80}, /* negative expiry */
	        {8 + 20, 1},                    /* DEL with an expiry */
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		size_t sz = wal_encode(rec, &r);
		rec[edits[i].at] = edits[i].v;
		fix_crc(rec);
		assert_int_equal(wal_decode(rec, sz, MAX_RECORD, &out, &used), WAL_CORRUPT);
		/* The same edit in a torn record is caught from the prefix. */
		assert_int_equal(wal_decode(rec, sz - 1, MAX_RECORD, &out, &used), WAL_CORRUPT);
	}
	size_t sz = wal_encode(rec, &r);
	memset(rec + 8, 0, 8); /* seq 0 */
	fix_crc(rec);
	assert_int_equal(wal_decode(rec, sz, MAX_RECORD, &out, &used), WAL_CORRUPT);
}

static void test_unknown_flag_bits_are_corrupt_and_more_is_not(void **state)
{
	(void)state;
	uint8_t rec[64];
	const wal_record r = {.seq = 1, .op = WAL_OP_DEL, .key = "k", .klen = 1};
	wal_record out;
	size_t used;
	for (unsigned bit = 1; bit < 8; bit++) {
		for (unsigned more = 0; more <= WAL_FLAG_MORE; more += WAL_FLAG_MORE) {
			size_t sz = wal_encode(rec, &r);
			rec[8 + 9] = (uint8_t)((1u << bit) | more);
			fix_crc(rec);
			assert_int_equal(wal_decode(rec, sz, MAX_RECORD, &out, &used), WAL_CORRUPT);
			/* Torn right after the flags byte: caught from the prefix. */
			assert_int_equal(wal_decode(rec, 8 + 10, MAX_RECORD, &out, &used),
			                 WAL_CORRUPT);
		}
	}
	/* MORE alone is a valid record, written by hand here. */
	size_t sz = wal_encode(rec, &r);
	rec[8 + 9] = WAL_FLAG_MORE;
	fix_crc(rec);
	assert_int_equal(wal_decode(rec, sz, MAX_RECORD, &out, &used), WAL_OK);
	assert_int_equal(out.flags, WAL_FLAG_MORE);
	assert_int_equal(out.op, WAL_OP_DEL);
	assert_int_equal(wal_decode(rec, 8 + 10, MAX_RECORD, &out, &used), WAL_TORN);
}

/* A lone SET, a terminated batch {FLUSHALL, SET, DEL}, then a batch {SET, SET}
 * whose last record still has MORE: the writer died before the rest. */
static const uint8_t batch_flags[] = {0, WAL_FLAG_MORE, WAL_FLAG_MORE,
                                      0, WAL_FLAG_MORE, WAL_FLAG_MORE};
#define NBATCH (sizeof(batch_flags) / sizeof(batch_flags[0]))

static size_t build_batch_segment(uint8_t *buf, size_t cap, size_t offs[NBATCH + 1])
{
	static const uint8_t ops[NBATCH] = {WAL_OP_SET, WAL_OP_FLUSHALL, WAL_OP_SET,
	                                    WAL_OP_DEL, WAL_OP_SET,      WAL_OP_SET};
	size_t off = WAL_HEADER_SIZE;
	wal_encode_header(buf);
	for (size_t i = 0; i < NBATCH; i++) {
		wal_record r = {.seq = 100 + i, .op = ops[i], .flags = batch_flags[i]};
		if (ops[i] != WAL_OP_FLUSHALL) {
			r.key = "key";
			r.klen = 3;
		}
		if (ops[i] == WAL_OP_SET) {
			r.val = "value";
			r.vlen = 5;
		}
		size_t sz = wal_record_size(r.klen, r.vlen);
		assert_true(off + sz <= cap);
		offs[i] = off;
		assert_int_equal(wal_encode(buf + off, &r), sz);
		off += sz;
	}
	offs[NBATCH] = off;
	return off;
}

static void test_wal_scan_reports_where_an_unterminated_batch_starts(void **state)
{
	(void)state;
	uint8_t buf[1024];
	size_t offs[NBATCH + 1];
	size_t n = build_batch_segment(buf, sizeof(buf), offs);
	wal_scan_result res;
	seen s = {0};

	/* Records still reach the visitor one by one, flags included. */
	assert_int_equal(wal_scan(buf, n, MAX_RECORD, collect, &s, &res), WAL_OK);
	assert_int_equal(res.records, NBATCH);
	assert_int_equal(s.n, NBATCH);
	for (size_t i = 0; i < NBATCH; i++)
		assert_int_equal(s.r[i].flags, batch_flags[i]);
	assert_int_equal(res.end, n);
	assert_int_equal(res.batch_start, offs[4]);
	assert_int_equal(res.batch_records, 2);

	/* Ending right after a terminated batch: nothing open. */
	assert_int_equal(wal_scan(buf, offs[4], MAX_RECORD, NULL, NULL, &res), WAL_OK);
	assert_int_equal(res.batch_start, offs[4]);
	assert_int_equal(res.batch_start, res.end);
	assert_int_equal(res.batch_records, 0);
	/* Ending inside the first batch, after its first record. */
	assert_int_equal(wal_scan(buf, offs[2], MAX_RECORD, NULL, NULL, &res), WAL_OK);
	assert_int_equal(res.batch_start, offs[1]);
	assert_int_equal(res.batch_records, 1);
	/* A zero tail after an open batch: a clean end, the batch still open. */
	uint8_t *img = calloc(1, n + 64);
	assert_non_null(img);
	memcpy(img, buf, n);
	assert_int_equal(wal_scan(img, n + 64, MAX_RECORD, NULL, NULL, &res), WAL_OK);
	assert_int_equal(res.zero_tail, 64);
	assert_int_equal(res.batch_start, offs[4]);
	assert_int_equal(res.batch_records, 2);
	free(img);

	/* Cut at every byte after the start of the open batch: batch_start never
	 * moves, whether the cut is in its first record (torn, no good record
	 * of the batch) or its second. */
	for (size_t cut = offs[4] + 1; cut < n; cut++) {
		img = malloc(cut);
		assert_non_null(img);
		memcpy(img, buf, cut);
		int rc = wal_scan(img, cut, MAX_RECORD, NULL, NULL, &res);
		assert_int_equal(rc, cut == offs[5] ? WAL_OK : WAL_TORN);
		assert_int_equal(res.batch_start, offs[4]);
		assert_int_equal(res.batch_records, cut < offs[5] ? 0 : 1);
		assert_int_equal(res.end, cut < offs[5] ? offs[4] : offs[5]);
		free(img);
	}

	/* Corruption after an open batch: reported at the damaged record, the
	 * batch before it still open. */
	buf[offs[5] + 40] ^= 0x04;
	assert_int_equal(wal_scan(buf, n, MAX_RECORD, NULL, NULL, &res), WAL_CORRUPT);
	assert_int_equal(res.end, offs[5]);
	assert_int_equal(res.batch_start, offs[4]);
	assert_int_equal(res.batch_records, 1);
	buf[offs[5] + 40] ^= 0x04;

	/* The visitor stops the scan inside a batch: the run counts only the
	 * records it accepted. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 3;
	assert_int_equal(wal_scan(buf, n, MAX_RECORD, collect, &s, &res), WAL_ABORTED);
	assert_int_equal(res.end, offs[2]);
	assert_int_equal(res.batch_start, offs[1]);
	assert_int_equal(res.batch_records, 1);

	/* No records, or a bad header: batch_start == end. */
	assert_int_equal(wal_scan(buf, WAL_HEADER_SIZE, MAX_RECORD, NULL, NULL, &res), WAL_OK);
	assert_int_equal(res.batch_start, WAL_HEADER_SIZE);
	assert_int_equal(res.batch_records, 0);
	assert_int_equal(wal_scan(buf, 5, MAX_RECORD, NULL, NULL, &res), WAL_TORN);
	assert_int_equal(res.batch_start, 0);
	assert_int_equal(res.end, 0);
}

static void test_a_decreasing_or_repeated_sequence_is_corrupt(void **state)
{
	(void)state;
	const uint64_t seqs[][2] = {{5, 4}, {5, 5}};
	for (size_t i = 0; i < 2; i++) {
		uint8_t buf[256];
		wal_encode_header(buf);
		size_t off = WAL_HEADER_SIZE;
		wal_record r = {.op = WAL_OP_DEL, .key = "k", .klen = 1};
		r.seq = seqs[i][0];
		off += wal_encode(buf + off, &r);
		size_t second = off;
		r.seq = seqs[i][1];
		off += wal_encode(buf + off, &r);
		wal_scan_result res;
		assert_int_equal(wal_scan(buf, off, MAX_RECORD, NULL, NULL, &res), WAL_CORRUPT);
		assert_int_equal(res.end, second);
		assert_int_equal(res.records, 1);
		assert_int_equal(res.last_seq, seqs[i][0]);
		/* Torn after its seq field: still corrupt, the prefix disagrees. */
		assert_int_equal(wal_scan(buf, second + 16, MAX_RECORD, NULL, NULL, &res),
		                 WAL_CORRUPT);
		/* Gaps are fine (a rolled-back or skipped number). */
		r.seq = seqs[i][0] + 7;
		wal_encode(buf + second, &r);
		assert_int_equal(wal_scan(buf, off, MAX_RECORD, NULL, NULL, &res), WAL_OK);
	}
}

static void test_the_visitor_can_stop_the_scan(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t offs[NSAMPLE];
	size_t n = build_segment(buf, sizeof(buf), offs);
	wal_scan_result res;
	seen s = {.stop_at = 2};
	assert_int_equal(wal_scan(buf, n, MAX_RECORD, collect, &s, &res), WAL_ABORTED);
	assert_int_equal(res.visit_rc, 7);
	assert_int_equal(res.records, 1);
	assert_int_equal(res.end, offs[1]);
}

static void test_segment_names_round_trip_and_parse_strictly(void **state)
{
	(void)state;
	char name[64];
	uint64_t seq = 0;
	assert_int_equal(wal_segment_name(name, sizeof(name), 42), WAL_OK);
	assert_string_equal(name, "wal-00000000000000000042.log");
	assert_int_equal(wal_parse_segment_name(name, &seq), WAL_OK);
	assert_int_equal(seq, 42);
	assert_int_equal(wal_segment_name(name, sizeof(name), UINT64_MAX), WAL_OK);
	assert_string_equal(name, "wal-18446744073709551615.log");
	assert_int_equal(wal_parse_segment_name(name, &seq), WAL_OK);
	assert_int_equal(seq, UINT64_MAX);
	assert_int_equal(wal_segment_name(name, WAL_SEGMENT_NAME_LEN + 1, 1), WAL_OK);
	assert_int_equal(wal_segment_name(name, WAL_SEGMENT_NAME_LEN, 1), WAL_NO_SPACE);

	const char *bad[] = {
	        "",
	        "wal-.log",
	        "wal-42.log",
	        "wal-0000000000000000042.log",   /* 19 digits */
	        "wal-000000000000000000042.log", /* 21 digits */
	        "wal-0000000000000000004a.log",
	        "wal-+0000000000000000042.log",
	        "wal- 0000000000000000042.log",
	        "WAL-00000000000000000042.log",
	        "wal-00000000000000000042.LOG",
	        "wal-00000000000000000042.log.tmp",
	        "wal-00000000000000000042.lo",
	        "xwal-00000000000000000042.log",
	        "wal-18446744073709551616.log", /* UINT64_MAX + 1 */
	        "wal-99999999999999999999.log",
	        "snapshot-00000000000000000042.parquet",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		seq = 77;
		if (wal_parse_segment_name(bad[i], &seq) != WAL_BAD_NAME)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(seq, 77);
	}
	assert_string_equal(wal_status_str(WAL_TORN), "torn");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_crc32c_matches_the_standard_check_values),
	        cmocka_unit_test(test_every_op_round_trips_through_encode_and_decode),
	        cmocka_unit_test(test_the_encoding_is_pinned_byte_by_byte),
	        cmocka_unit_test(test_the_encoder_refuses_records_the_decoder_would_reject),
	        cmocka_unit_test(test_a_valid_header_is_accepted_and_bad_ones_are_rejected),
	        cmocka_unit_test(test_an_empty_segment_has_zero_records),
	        cmocka_unit_test(test_a_whole_segment_scans_in_order),
	        cmocka_unit_test(test_a_torn_tail_at_every_byte_of_the_last_record_is_torn),
	        cmocka_unit_test(test_a_flipped_bit_anywhere_in_a_middle_record_is_corrupt),
	        cmocka_unit_test(test_a_zero_filled_tail_is_a_clean_end),
	        cmocka_unit_test(test_zeros_in_the_middle_are_corrupt_not_an_end),
	        cmocka_unit_test(test_declared_lengths_are_checked_before_the_body),
	        cmocka_unit_test(test_unknown_op_flags_or_reserved_bits_are_corrupt),
	        cmocka_unit_test(test_unknown_flag_bits_are_corrupt_and_more_is_not),
	        cmocka_unit_test(test_wal_scan_reports_where_an_unterminated_batch_starts),
	        cmocka_unit_test(test_a_decreasing_or_repeated_sequence_is_corrupt),
	        cmocka_unit_test(test_the_visitor_can_stop_the_scan),
	        cmocka_unit_test(test_segment_names_round_trip_and_parse_strictly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
