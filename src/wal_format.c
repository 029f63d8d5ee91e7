/* wal_format.c - byte layout of WAL segments (wal-<20-digit first seq>.log).
 * All integers little-endian, encoded byte by byte (never a memcpy of a host
 * struct, whose padding and byte order are not a file format).
 *
 *   segment header (16 bytes)       record (36 + klen + vlen bytes)
 *   0  "MDBWAL01"       8           0  len           u32  bytes after crc (the body)
 *   8  version = 1      u32         4  crc32c        u32  CRC-32C of the body
 *   12 reserved = 0     u32         8  seq           u64  >= 1, strictly increasing
 *   16 records...                   16 op            u8   WAL_OP_SET/DEL/EXPIRE/FLUSHALL
 *                                   17 flags         u8   bit 0 WAL_FLAG_MORE, others 0
 *                                   18 reserved = 0  u16
 *                                   20 klen          u32  <= 64 MiB
 *                                   24 vlen          u32  len = 28 + klen + vlen
 *                                   28 expire_at_ms  i64  absolute ms; 0 = none/persist
 *                                   36 key bytes, then value bytes
 *
 * The len field is outside the CRC, so the reader trusts it only as far as it
 * is consistent: len < 28 or 8 + len > max_record is corruption; a len that
 * runs past the end of the image is a torn tail only if the fields present
 * agree with it (28 + klen + vlen == len, known op, zero reserved bits,
 * increasing seq). A bit flip anywhere in a complete record is therefore
 * CORRUPT, never TORN: a shorter len fails the CRC, a longer one either fails
 * the CRC or disagrees with klen + vlen.
 *
 * Atomic batches: a record with WAL_FLAG_MORE says that the next record
 * belongs to the same batch; the batch ends at the first record without it.
 *
 *   ... | SET dst (MORE) | DEL src | SET a (MORE) | SET b (MORE) | SET c | ...
 *         `---- RENAME batch ----'   `------------- MSET batch ----------'
 *
 * A reader applies a batch only once it has seen the record that ends it, so
 * a crash inside a batch's write loses the whole batch. We rejected a batch
 * container record (one len and CRC around all the records): a batch would
 * then have to fit in max_record, and the decoder would need a second, nested
 * framing layer; with a flag each record keeps its own CRC and seq and the
 * per-record decoder is unchanged.
 *
 * Zero tail: at a record boundary, zero bytes up to the end of the image are a
 * clean end (a preallocated or zero-extended file), reported in zero_tail. A
 * zero len followed by anything non-zero is corruption. We rejected treating
 * a complete record with a bad CRC followed by zeros as torn: a flipped bit
 * in an acknowledged last record would then be dropped silently. So the
 * writer must not preallocate space it later overwrites in place.
 * CRC-32C comes from ISA-L (crc32_iscsi, hardware-accelerated); we only wrap
 * its init/final-xor convention.
 */
#include "wal_format.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <isa-l/crc.h>

/* Field offsets inside a record, from its first byte. */
enum {
	OFF_LEN = 0,
	OFF_CRC = 4,
	OFF_SEQ = 8,
	OFF_OP = 16,
	OFF_FLAGS = 17,
	OFF_RESERVED = 18,
	OFF_KLEN = 20,
	OFF_VLEN = 24,
	OFF_EXPIRE = 28,
	OFF_KEY = 36,
};

_Static_assert(OFF_KEY == WAL_REC_FIXED_SIZE, "record fixed part is 36 bytes");
_Static_assert(OFF_KEY - OFF_SEQ == WAL_BODY_FIXED_SIZE, "body fixed part is 28 bytes");
_Static_assert(OFF_SEQ == WAL_REC_HEADER_SIZE, "len + crc is 8 bytes");
_Static_assert(OFF_EXPIRE + 8 == OFF_KEY, "expire_at_ms is the last fixed field");
_Static_assert(WAL_HEADER_SIZE == 8 + 4 + 4, "magic + version + reserved");
_Static_assert(WAL_MAX_KEY <= WAL_MAX_BODY - WAL_BODY_FIXED_SIZE, "a maximal key fits in len");
_Static_assert(sizeof("wal-00000000000000000000.log") - 1 == WAL_SEGMENT_NAME_LEN,
               "segment name length");

static const uint8_t wal_magic[8] = {'M', 'D', 'B', 'W', 'A', 'L', '0', '1'};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint32_t wal_crc32c(const void *p, size_t n)
{
	/* crc32_iscsi(buf, len, init) is the reflected CRC-32C register update
	 * without the final inversion: the standard value is
	 * ~crc32_iscsi(buf, len, ~0), and passing the raw result back as init
	 * continues the CRC. Its len is an int, hence the 1 GiB chunks. */
	const unsigned char *b = p;
	unsigned int crc = 0xFFFFFFFFu;
	while (n > 0) {
		size_t chunk = n < (1u << 30) ? n : (1u << 30);
		crc = crc32_iscsi((unsigned char *)b, (int)chunk, crc);
		b += chunk;
		n -= chunk;
	}
	return ~(uint32_t)crc;
}

size_t wal_record_size(size_t klen, size_t vlen)
{
	if (klen > WAL_MAX_KEY || vlen > WAL_MAX_BODY - WAL_BODY_FIXED_SIZE - klen)
		return 0;
	return WAL_REC_FIXED_SIZE + klen + vlen;
}

/* Which fields each op carries; shared by the encoder and the decoder so the
 * encoder produces exactly what the decoder accepts. Returns a reason or NULL. */
static const char *check_op_fields(unsigned op, uint64_t klen, uint64_t vlen, int64_t expire)
{
	switch (op) {
	case WAL_OP_SET:
		return expire < 0 ? "negative expiry" : NULL;
	case WAL_OP_DEL:
		if (vlen != 0 || expire != 0)
			return "DEL record carries a value or expiry";
		return NULL;
	case WAL_OP_EXPIRE:
		if (vlen != 0)
			return "EXPIRE record carries a value";
		return expire < 0 ? "negative expiry" : NULL;
	case WAL_OP_FLUSHALL:
		if (klen != 0 || vlen != 0 || expire != 0)
			return "FLUSHALL record carries a key, value or expiry";
		return NULL;
	default:
		return "unknown op";
	}
}

size_t wal_encode(uint8_t *dst, const wal_record *r)
{
	size_t size = wal_record_size(r->klen, r->vlen);
	if (size == 0 || r->seq == 0 || (r->flags & ~WAL_FLAGS_KNOWN) ||
	    check_op_fields(r->op, r->klen, r->vlen, r->expire_at_ms))
		return 0;
	put32(dst + OFF_LEN, (uint32_t)(size - WAL_REC_HEADER_SIZE));
	put64(dst + OFF_SEQ, r->seq);
	dst[OFF_OP] = r->op;
	dst[OFF_FLAGS] = r->flags;
	put16(dst + OFF_RESERVED, 0);
	put32(dst + OFF_KLEN, (uint32_t)r->klen);
	put32(dst + OFF_VLEN, (uint32_t)r->vlen);
	put64(dst + OFF_EXPIRE, (uint64_t)r->expire_at_ms);
	if (r->klen)
		memcpy(dst + OFF_KEY, r->key, r->klen);
	if (r->vlen)
		memcpy(dst + OFF_KEY + r->klen, r->val, r->vlen);
	put32(dst + OFF_CRC, wal_crc32c(dst + OFF_SEQ, size - WAL_REC_HEADER_SIZE));
	return size;
}

void wal_encode_header(uint8_t dst[WAL_HEADER_SIZE])
{
	memcpy(dst, wal_magic, sizeof(wal_magic));
	put32(dst + 8, WAL_FORMAT_VERSION);
	put32(dst + 12, 0);
}

int wal_check_header(const uint8_t *p, size_t n)
{
	uint8_t want[WAL_HEADER_SIZE];
	wal_encode_header(want);
	size_t have = n < WAL_HEADER_SIZE ? n : WAL_HEADER_SIZE;
	if (have > 0 && memcmp(p, want, have) != 0)
		return WAL_BAD_HEADER;
	return n < WAL_HEADER_SIZE ? WAL_TORN : WAL_OK;
}

/* Checks the fields of the record at p that lie within its first `have`
 * bytes (have may stop short of the fixed part for a torn tail) against its
 * len and the previous sequence number (0: none). Returns a reason or NULL. */
static const char *check_fields(const uint8_t *p, size_t have, uint32_t len, uint64_t prev_seq)
{
	if (have >= OFF_SEQ + 8) {
		uint64_t seq = get64(p + OFF_SEQ);
		if (seq == 0)
			return "sequence number 0";
		if (prev_seq != 0 && seq <= prev_seq)
			return "sequence number does not increase";
	}
	if (have > OFF_OP && (p[OFF_OP] < WAL_OP_SET || p[OFF_OP] > WAL_OP_FLUSHALL))
		return "unknown op";
	if (have > OFF_FLAGS && (p[OFF_FLAGS] & ~WAL_FLAGS_KNOWN))
		return "unknown flags";
	if (have >= OFF_RESERVED + 2 && get16(p + OFF_RESERVED) != 0)
		return "reserved bits set";
	if (have >= OFF_KLEN + 4) {
		uint64_t klen = get32(p + OFF_KLEN);
		if (klen > WAL_MAX_KEY || klen > len - WAL_BODY_FIXED_SIZE)
			return "key length out of range";
	}
	if (have >= OFF_VLEN + 4 &&
	    (uint64_t)get32(p + OFF_KLEN) + get32(p + OFF_VLEN) + WAL_BODY_FIXED_SIZE != len)
		return "key and value lengths disagree with the record length";
	if (have >= OFF_KEY)
		return check_op_fields(p[OFF_OP], get32(p + OFF_KLEN), get32(p + OFF_VLEN),
		                       (int64_t)get64(p + OFF_EXPIRE));
	return NULL;
}

static int decode_at(const uint8_t *p, size_t avail, size_t max_record, uint64_t prev_seq,
                     wal_record *out, size_t *consumed, const char **why)
{
	if (avail < WAL_REC_HEADER_SIZE) {
		*why = "record header incomplete";
		return WAL_TORN;
	}
	uint32_t len = get32(p + OFF_LEN);
	if (len < WAL_BODY_FIXED_SIZE) {
		*why = "record length shorter than the fixed fields";
		return WAL_CORRUPT;
	}
	uint64_t total = (uint64_t)WAL_REC_HEADER_SIZE + len;
	if (total > max_record) {
		*why = "record length above the limit";
		return WAL_CORRUPT;
	}
	if (total > avail) {
		const char *bad = check_fields(p, avail, len, prev_seq);
		*why = bad ? bad : "record incomplete";
		return bad ? WAL_CORRUPT : WAL_TORN;
	}
	if (wal_crc32c(p + OFF_SEQ, len) != get32(p + OFF_CRC)) {
		*why = "CRC mismatch";
		return WAL_CORRUPT;
	}
	const char *bad = check_fields(p, (size_t)total, len, prev_seq);
	if (bad) {
		*why = bad;
		return WAL_CORRUPT;
	}
	out->seq = get64(p + OFF_SEQ);
	out->op = p[OFF_OP];
	out->flags = p[OFF_FLAGS];
	out->expire_at_ms = (int64_t)get64(p + OFF_EXPIRE);
	out->klen = get32(p + OFF_KLEN);
	out->vlen = get32(p + OFF_VLEN);
	out->key = p + OFF_KEY;
	out->val = p + OFF_KEY + out->klen;
	*consumed = (size_t)total;
	return WAL_OK;
}

int wal_decode(const uint8_t *p, size_t avail, size_t max_record, wal_record *out, size_t *consumed)
{
	const char *why = NULL;
	return decode_at(p, avail, max_record, 0, out, consumed, &why);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

int wal_scan(const uint8_t *p, size_t n, size_t max_record, wal_visit_fn fn, void *arg,
             wal_scan_result *res)
{
	memset(res, 0, sizeof(*res));
	int rc = wal_check_header(p, n);
	if (rc != WAL_OK) {
		res->reason = rc == WAL_TORN ? "segment header incomplete" : "bad segment header";
		res->status = rc;
		return rc;
	}
	size_t off = WAL_HEADER_SIZE;
	/* all_zero stops at the first non-zero byte, and a valid len is never
	 * zero, so this costs a few bytes per record, not a rescan of the tail. */
	while (off < n && !all_zero(p + off, n - off)) {
		wal_record r;
		size_t used = 0;
		rc = decode_at(p + off, n - off, max_record, res->last_seq, &r, &used,
		               &res->reason);
		if (rc != WAL_OK)
			break;
		if (fn) {
			int vr = fn(&r, off, arg);
			if (vr != 0) {
				res->visit_rc = vr;
				rc = WAL_ABORTED;
				break;
			}
		}
		if (res->records++ == 0)
			res->first_seq = r.seq;
		res->last_seq = r.seq;
		if (res->batch_records++ == 0)
			res->batch_start = off;
		if (!(r.flags & WAL_FLAG_MORE))
			res->batch_records = 0;
		off += used;
	}
	if (rc == WAL_OK) {
		res->reason = NULL;
		res->zero_tail = n - off;
	}
	res->end = off;
	if (res->batch_records == 0)
		res->batch_start = off;
	res->status = rc;
	return rc;
}

int wal_segment_name(char *buf, size_t n, uint64_t first_seq)
{
	if (n < WAL_SEGMENT_NAME_LEN + 1)
		return WAL_NO_SPACE;
	snprintf(buf, n, "wal-%020" PRIu64 ".log", first_seq);
	return WAL_OK;
}

int wal_parse_segment_name(const char *name, uint64_t *first_seq)
{
	if (strlen(name) != WAL_SEGMENT_NAME_LEN || memcmp(name, "wal-", 4) != 0 ||
	    memcmp(name + 24, ".log", 4) != 0)
		return WAL_BAD_NAME;
	uint64_t v = 0;
	for (int i = 4; i < 24; i++) {
		unsigned d = (unsigned char)name[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return WAL_BAD_NAME;
		v = v * 10 + d;
	}
	*first_seq = v;
	return WAL_OK;
}

const char *wal_status_str(int status)
{
	switch (status) {
	case WAL_OK:
		return "ok";
	case WAL_TORN:
		return "torn";
	case WAL_CORRUPT:
		return "corrupt";
	case WAL_BAD_HEADER:
		return "bad header";
	case WAL_ABORTED:
		return "aborted";
	case WAL_BAD_NAME:
		return "bad segment name";
	case WAL_NO_SPACE:
		return "no space";
	default:
		return "unknown";
	}
}
