/* thrift_decode.h - the loop shape shared by the struct decoders of
 * thrift.c (page headers) and metadata.c (the footer). Not a public
 * contract: only those two files include it.
 *
 * A decoder body reads a field, dispatches on (id, type) with `if` blocks
 * that `continue` the loop, skips everything else, and afterwards checks
 * the required fields with REQUIRE against a bit set of the ids seen:
 *
 *	unsigned seen = 0;
 *	FIELD_LOOP_BEGIN(r)
 *	CASE_I32(r, 1, &h->num_values, seen)
 *	FIELD_LOOP_END(r)
 *	REQUIRE(r, seen, 1, "DataPageHeader.num_values");
 *
 * FIELD_LOOP_BEGIN declares `rc`, `type` and `id`; errors return at once,
 * so the caller of the outermost decoder releases whatever was attached.
 */
#ifndef MINIDB_PARQUET_THRIFT_DECODE_H
#define MINIDB_PARQUET_THRIFT_DECODE_H

#include "parquet/thrift.h"

#define FIELD_LOOP_BEGIN(r)                                                                        \
	int rc, type;                                                                              \
	int16_t id;                                                                                \
	if ((rc = pqt_read_struct_begin(r)))                                                       \
		return rc;                                                                         \
	for (;;) {                                                                                 \
		if ((rc = pqt_read_field(r, &id, &type)))                                          \
			return rc;                                                                 \
		if (type == PQT_STOP)                                                              \
			break;

#define FIELD_LOOP_END(r)                                                                          \
	if ((rc = pqt_skip(r, type)))                                                              \
		return rc;                                                                         \
	}                                                                                          \
	pqt_read_struct_end(r);

/* Returns PQT_MISSING_FIELD, naming the field in r->missing, unless bit
 * `bit` of seen is set. */
#define REQUIRE(r, seen, bit, name)                                                                \
	do {                                                                                       \
		if (!((seen) & (1u << (bit)))) {                                                   \
			(r)->missing = name;                                                       \
			return PQT_MISSING_FIELD;                                                  \
		}                                                                                  \
	} while (0)

/* Reads a scalar field of wire type `wire` with fn into *dst and marks it
 * seen; `continue`s the loop. A field of another type falls through to the
 * skip at the end of the loop. */
#define CASE_SCALAR(r, fid, wire, fn, dst, seen)                                                   \
	if (id == (fid) && type == (wire)) {                                                       \
		if ((rc = fn(r, dst)))                                                             \
			return rc;                                                                 \
		(seen) |= 1u << (fid);                                                             \
		continue;                                                                          \
	}
#define CASE_I32(r, fid, dst, seen)  CASE_SCALAR(r, fid, PQT_I32, pqt_read_i32, dst, seen)
#define CASE_I64(r, fid, dst, seen)  CASE_SCALAR(r, fid, PQT_I64, pqt_read_i64, dst, seen)
#define CASE_BIN(r, fid, dst, seen)  CASE_SCALAR(r, fid, PQT_BINARY, pqt_read_binary, dst, seen)
#define CASE_BOOL(r, fid, dst, seen) CASE_SCALAR(r, fid, PQT_BOOL, pqt_read_bool, dst, seen)

#endif
