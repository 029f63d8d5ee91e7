/* wal_format.h - on-disk format of write-ahead log segments: encoding,
 * decoding, whole-segment scanning and segment file names.
 *
 * This module does no I/O and holds no state: the writer encodes into its own
 * buffer, recovery hands over a memory image of a segment (read or mmap).
 * Decoded keys and values point into that image (no allocation, no copy), so
 * a declared length never costs memory before its bytes are there.
 * The byte layout is drawn in the header comment of wal_format.c.
 *
 * Error convention: every int-returning function returns a wal_status.
 * WAL_TORN means "the bytes stop inside a record or header" (a torn tail when
 * it is the end of the last segment); WAL_CORRUPT means "complete bytes that
 * do not check out" (CRC, impossible length, unknown op, reserved bits set,
 * sequence not increasing). Recovery truncates the first and refuses to start
 * on the second.
 */
#ifndef MINIDB_WAL_FORMAT_H
#define MINIDB_WAL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

typedef enum wal_status {
	WAL_OK = 0,
	WAL_TORN = 1,       /* input ends inside a record (or the file header) */
	WAL_CORRUPT = 2,    /* complete bytes that fail a check */
	WAL_BAD_HEADER = 3, /* segment header: wrong magic, version or reserved field */
	WAL_ABORTED = 4,    /* wal_scan: the visitor returned non-zero */
	WAL_BAD_NAME = 5,   /* not exactly wal-<20 digits>.log, or the number overflows */
	WAL_NO_SPACE = 6,   /* output buffer too small */
} wal_status;

/* Record operations. 0 is never valid, so zeroed bytes never decode. */
enum {
	WAL_OP_SET = 1,      /* key, value, expire_at_ms (0 = no expiry) */
	WAL_OP_DEL = 2,      /* key */
	WAL_OP_EXPIRE = 3,   /* key, expire_at_ms (0 = persist) */
	WAL_OP_FLUSHALL = 4, /* no key, no value */
};

/* Record flags (the flags byte). An atomic batch is a run of records in which
 * every record but the last has WAL_FLAG_MORE; a run whose last record has it
 * is unterminated and must not be applied (see wal_scan_result.batch_start).
 * Any op may carry it. Other bits are reserved: the encoder refuses them and
 * the decoder reports them as WAL_CORRUPT. */
#define WAL_FLAG_MORE   0x01u /* another record of the same atomic batch follows */
#define WAL_FLAGS_KNOWN WAL_FLAG_MORE

#define WAL_HEADER_SIZE      16u /* segment file header */
#define WAL_REC_HEADER_SIZE  8u  /* len + crc32c */
#define WAL_BODY_FIXED_SIZE  28u /* seq .. expire_at_ms, before the key */
#define WAL_REC_FIXED_SIZE   (WAL_REC_HEADER_SIZE + WAL_BODY_FIXED_SIZE)
#define WAL_MAX_KEY          (64u * 1024u * 1024u) /* 64 MiB */
#define WAL_MAX_BODY         UINT32_MAX            /* len is a uint32: caps vlen below 4 GiB */
#define WAL_FORMAT_VERSION   1u
#define WAL_SEGMENT_NAME_LEN 28u /* strlen("wal-") + 20 digits + strlen(".log") */

typedef struct wal_record {
	uint64_t seq;  /* >= 1; strictly increasing within a segment */
	uint8_t op;    /* WAL_OP_* */
	uint8_t flags; /* WAL_FLAG_* */
	int64_t expire_at_ms;
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
} wal_record;

/* Standard CRC-32C (Castagnoli; "123456789" -> 0xE3069283) over n bytes. */
uint32_t wal_crc32c(const void *p, size_t n);

/* Bytes wal_encode writes for a record with these lengths, or 0 when the
 * record cannot be represented (klen > WAL_MAX_KEY, body > WAL_MAX_BODY). */
size_t wal_record_size(size_t klen, size_t vlen);

/* Encodes r into dst (wal_record_size(r->klen, r->vlen) bytes). Returns the
 * bytes written, or 0 when r is not a record the decoder would accept
 * (seq 0, unknown op, unknown flag bits, a field the op does not carry is
 * set, negative expiry, lengths too big); nothing useful is written then. */
size_t wal_encode(uint8_t *dst, const wal_record *r);

void wal_encode_header(uint8_t dst[WAL_HEADER_SIZE]);

/* Checks the first n bytes of a segment. WAL_OK when the 16-byte header is
 * valid; WAL_TORN when n < 16 and the bytes present are a prefix of a valid
 * header (a crash right after creating the file); WAL_BAD_HEADER otherwise. */
int wal_check_header(const uint8_t *p, size_t n);

/* Decodes the record at p (avail bytes to the end of the image). max_record
 * caps the total encoded size (header + body); a complete len field above it
 * is WAL_CORRUPT, checked before anything else is read. On WAL_OK fills *out
 * (key/val point into p) and *consumed; on any other result leaves both
 * untouched. A record that runs past avail is WAL_TORN only if every field
 * already present is consistent with its len; otherwise WAL_CORRUPT (so a bit
 * flip in a len field is never mistaken for a torn tail). avail == 0 is
 * WAL_TORN: callers detect the clean end of the image themselves. */
int wal_decode(const uint8_t *p, size_t avail, size_t max_record, wal_record *out,
               size_t *consumed);

/* Called for each good record, with the record's byte offset in the image.
 * Returns 0 to go on; anything else stops the scan (kept in res->visit_rc). */
typedef int (*wal_visit_fn)(const wal_record *r, size_t offset, void *arg);

typedef struct wal_scan_result {
	int status;             /* as returned by wal_scan */
	uint64_t records;       /* good records delivered */
	uint64_t first_seq;     /* 0 when no record */
	uint64_t last_seq;      /* 0 when no record */
	size_t end;             /* offset of the first byte not in a good record: the
	                           torn or corrupt record, the zero tail, or n */
	size_t zero_tail;       /* bytes of zeros from end to n (a clean end) */
	size_t batch_start;     /* offset of the first record of the trailing run of
	                           good records whose last one has WAL_FLAG_MORE (an
	                           unterminated batch); == end when there is none */
	uint64_t batch_records; /* good records in that run; 0 when there is none */
	int visit_rc;           /* visitor's return value when WAL_ABORTED */
	const char *reason;     /* static text for TORN/CORRUPT/BAD_HEADER, else NULL */
} wal_scan_result;

/* Walks a whole segment image of n bytes: header, then records, calling fn
 * (may be NULL) for each good record in order. Returns WAL_OK when the image
 * ends on a record boundary, or on a boundary followed only by zero bytes
 * (res->zero_tail; a zeroed header followed by anything non-zero is
 * WAL_CORRUPT). Otherwise WAL_TORN, WAL_CORRUPT, WAL_BAD_HEADER or
 * WAL_ABORTED, with res->end at the offending record (0 for the header).
 * Sequence numbers must increase strictly; a repeat or decrease is CORRUPT.
 * Records go to fn one by one whether or not their batch is terminated (fn
 * reads r->flags); an unterminated batch before res->end is not an error
 * here but is reported in res->batch_start and res->batch_records, whatever
 * the status: what it means depends on where the image sits in the log. */
int wal_scan(const uint8_t *p, size_t n, size_t max_record, wal_visit_fn fn, void *arg,
             wal_scan_result *res);

/* "wal-<first_seq as 20 zero-padded digits>.log" into buf (n >= 29). */
int wal_segment_name(char *buf, size_t n, uint64_t first_seq);

/* Strict inverse of wal_segment_name: anything else is WAL_BAD_NAME. */
int wal_parse_segment_name(const char *name, uint64_t *first_seq);

/* Short name of a wal_status, for log messages. */
const char *wal_status_str(int status);

#endif
