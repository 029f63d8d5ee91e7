/* thrift.c - Thrift Compact Protocol reader and writer, and the Parquet
 * page-header codecs built on them.
 *
 * Hand-written from the Thrift compact protocol specification and
 * parquet.thrift because no C library for either is packaged in Debian.
 * Wire layout: a struct is a sequence of fields ended by a 0x00 stop byte;
 * a field header is one byte (id delta << 4 | type) when the id is 1..15
 * above the previous one, else the type byte and the id as a zigzag varint.
 * Integers are zigzag ULEB128 varints, i8 a raw byte, double 8 bytes little
 * endian, binary a varint length and the bytes; list/set headers put a size
 * below 15 in the high nibble, else 0xF and a varint size follows.
 * The reader trusts nothing: every byte is bounds-checked, every count is
 * compared with the bytes left before use, and nesting is bounded.
 */
#include "parquet/thrift.h"

#include <stdlib.h>
#include <string.h>

#include "parquet/thrift_decode.h"

const char *pqt_strerror(int status)
{
	switch (status) {
	case PQT_OK:
		return "ok";
	case PQT_TRUNCATED:
		return "thrift: input truncated";
	case PQT_VARINT_TOO_LONG:
		return "thrift: varint too long or out of range";
	case PQT_BAD_TYPE:
		return "thrift: bad type";
	case PQT_DEPTH:
		return "thrift: nesting too deep";
	case PQT_LENGTH:
		return "thrift: length or element count out of range";
	case PQT_BAD_VALUE:
		return "thrift: value out of range";
	case PQT_MISSING_FIELD:
		return "thrift: required field missing";
	case PQT_NO_MEMORY:
		return "thrift: out of memory";
	}
	return "thrift: unknown error";
}

static uint64_t zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag64(uint64_t v)
{
	return (int64_t)((v >> 1) ^ (0 - (v & 1)));
}

/* ---- Writer ---- */

void pqt_writer_init(pqt_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void pqt_writer_free(pqt_writer *w)
{
	free(w->data);
	pqt_writer_init(w);
}

void pqt_writer_reset(pqt_writer *w)
{
	w->len = 0;
	w->err = PQT_OK;
	w->depth = 0;
	w->last_id[0] = 0;
}

static void put(pqt_writer *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 64;
		while (cap - w->len < n) {
			if (cap > SIZE_MAX / 2) {
				w->err = PQT_NO_MEMORY;
				return;
			}
			cap *= 2;
		}
		uint8_t *d = realloc(w->data, cap);
		if (!d) {
			w->err = PQT_NO_MEMORY;
			return;
		}
		w->data = d;
		w->cap = cap;
	}
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

static void put_byte(pqt_writer *w, uint8_t b)
{
	put(w, &b, 1);
}

static void put_varint(pqt_writer *w, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	put(w, tmp, n);
}

static void field_header(pqt_writer *w, int16_t id, int type)
{
	int16_t *last = &w->last_id[w->depth];
	int delta = (int)id - (int)*last;

	if (delta > 0 && delta <= 15) {
		put_byte(w, (uint8_t)(delta << 4 | type));
	} else {
		put_byte(w, (uint8_t)type);
		put_varint(w, zigzag64(id));
	}
	*last = id;
}

void pqt_write_field(pqt_writer *w, int16_t id, int type)
{
	field_header(w, id, type);
}

void pqt_write_field_bool(pqt_writer *w, int16_t id, bool v)
{
	field_header(w, id, v ? PQT_BOOL : PQT_BOOL_FALSE);
}

void pqt_write_struct_begin(pqt_writer *w)
{
	if (w->err)
		return;
	if (w->depth >= PQT_MAX_DEPTH) {
		w->err = PQT_DEPTH;
		return;
	}
	w->last_id[++w->depth] = 0;
}

void pqt_write_struct_end(pqt_writer *w)
{
	put_byte(w, PQT_STOP);
	if (!w->err && w->depth > 0)
		w->depth--;
}

/* Collection elements: 1 true, 2 false, as the current specification and
 * the reference implementations write; the reader also takes 0 for false
 * (older versions of the specification). The list element type of a bool
 * is written as 1, the de facto standard; readers take 1 and 2. */
void pqt_write_bool(pqt_writer *w, bool v)
{
	put_byte(w, v ? 1 : 2);
}

void pqt_write_i8(pqt_writer *w, int8_t v)
{
	put_byte(w, (uint8_t)v);
}

void pqt_write_i16(pqt_writer *w, int16_t v)
{
	put_varint(w, zigzag64(v));
}

void pqt_write_i32(pqt_writer *w, int32_t v)
{
	put_varint(w, zigzag64(v));
}

void pqt_write_i64(pqt_writer *w, int64_t v)
{
	put_varint(w, zigzag64(v));
}

void pqt_write_double(pqt_writer *w, double v)
{
	uint64_t bits;
	uint8_t b[8];

	memcpy(&bits, &v, 8);
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(bits >> (8 * i));
	put(w, b, 8);
}

void pqt_write_binary(pqt_writer *w, const void *p, uint32_t len)
{
	put_varint(w, len);
	if (len)
		put(w, p, len);
}

void pqt_write_string(pqt_writer *w, const char *s)
{
	size_t n = strlen(s);

	if (n > INT32_MAX) {
		if (!w->err)
			w->err = PQT_LENGTH;
		return;
	}
	pqt_write_binary(w, s, (uint32_t)n);
}

void pqt_write_list_begin(pqt_writer *w, int elem_type, uint32_t n)
{
	if (n < 15) {
		put_byte(w, (uint8_t)(n << 4 | (uint32_t)elem_type));
	} else {
		put_byte(w, (uint8_t)(0xf0 | elem_type));
		put_varint(w, n);
	}
}

void pqt_write_set_begin(pqt_writer *w, int elem_type, uint32_t n)
{
	pqt_write_list_begin(w, elem_type, n);
}

void pqt_write_map_begin(pqt_writer *w, int key_type, int val_type, uint32_t n)
{
	put_varint(w, n);
	if (n)
		put_byte(w, (uint8_t)(key_type << 4 | val_type));
}

/* ---- Reader ---- */

void pqt_reader_init(pqt_reader *r, const void *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->start = data;
	r->p = data;
	r->end = r->p + len;
	r->pending_bool = -1;
}

static size_t left(const pqt_reader *r)
{
	return (size_t)(r->end - r->p);
}

/* At most max_bytes bytes; the last one may only carry the bits that still
 * fit in `bits`, so a value above the type is refused, not truncated. */
static int get_varint(pqt_reader *r, unsigned bits, uint64_t *v)
{
	unsigned max_bytes = (bits + 6) / 7;
	uint64_t x = 0;

	for (unsigned i = 0; i < max_bytes; i++) {
		if (r->p >= r->end)
			return PQT_TRUNCATED;
		uint8_t b = *r->p++;
		unsigned shift = 7 * i;
		if (i == max_bytes - 1) {
			if (b & 0x80)
				return PQT_VARINT_TOO_LONG;
			if ((uint64_t)b >> (bits - shift))
				return PQT_VARINT_TOO_LONG;
		}
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return PQT_OK;
		}
	}
	return PQT_VARINT_TOO_LONG; /* not reached */
}

static int valid_type(int t)
{
	return t >= PQT_BOOL && t <= PQT_STRUCT;
}

int pqt_read_struct_begin(pqt_reader *r)
{
	if (r->depth >= PQT_MAX_DEPTH)
		return PQT_DEPTH;
	r->last_id[++r->depth] = 0;
	return PQT_OK;
}

int pqt_read_struct_end(pqt_reader *r)
{
	if (r->depth > 0)
		r->depth--;
	return PQT_OK;
}

/* Shared by pqt_read_field and the skipper, which keeps its own last id. */
static int field_header_read(pqt_reader *r, int16_t *last, int16_t *id, int *type)
{
	if (r->p >= r->end)
		return PQT_TRUNCATED;
	uint8_t b = *r->p++;
	int t = b & 0x0f;
	int delta = b >> 4;

	if (t == PQT_STOP) {
		if (delta)
			return PQT_BAD_TYPE;
		*type = PQT_STOP;
		*id = 0;
		return PQT_OK;
	}
	if (!valid_type(t))
		return PQT_BAD_TYPE;
	int32_t fid;
	if (delta) {
		fid = (int32_t)*last + delta;
		if (fid > INT16_MAX)
			return PQT_BAD_VALUE;
	} else {
		uint64_t z;
		int rc = get_varint(r, 32, &z);
		if (rc)
			return rc;
		int64_t s = unzigzag64(z);
		if (s < INT16_MIN || s > INT16_MAX)
			return PQT_BAD_VALUE;
		fid = (int32_t)s;
	}
	*last = (int16_t)fid;
	*id = (int16_t)fid;
	if (t == PQT_BOOL || t == PQT_BOOL_FALSE) {
		r->pending_bool = t == PQT_BOOL;
		*type = PQT_BOOL;
	} else {
		r->pending_bool = -1;
		*type = t;
	}
	return PQT_OK;
}

int pqt_read_field(pqt_reader *r, int16_t *id, int *type)
{
	return field_header_read(r, &r->last_id[r->depth], id, type);
}

int pqt_read_bool(pqt_reader *r, bool *v)
{
	if (r->pending_bool >= 0) {
		*v = r->pending_bool;
		r->pending_bool = -1;
		return PQT_OK;
	}
	if (r->p >= r->end)
		return PQT_TRUNCATED;
	uint8_t b = *r->p++;
	if (b > 2)
		return PQT_BAD_VALUE;
	*v = b == 1;
	return PQT_OK;
}

int pqt_read_i8(pqt_reader *r, int8_t *v)
{
	if (r->p >= r->end)
		return PQT_TRUNCATED;
	*v = (int8_t)*r->p++;
	return PQT_OK;
}

int pqt_read_i16(pqt_reader *r, int16_t *v)
{
	uint64_t z;
	int rc = get_varint(r, 32, &z);

	if (rc)
		return rc;
	int64_t s = unzigzag64(z);
	if (s < INT16_MIN || s > INT16_MAX)
		return PQT_BAD_VALUE;
	*v = (int16_t)s;
	return PQT_OK;
}

int pqt_read_i32(pqt_reader *r, int32_t *v)
{
	uint64_t z;
	int rc = get_varint(r, 32, &z);

	if (rc)
		return rc;
	*v = (int32_t)unzigzag64(z);
	return PQT_OK;
}

int pqt_read_i64(pqt_reader *r, int64_t *v)
{
	uint64_t z;
	int rc = get_varint(r, 64, &z);

	if (rc)
		return rc;
	*v = unzigzag64(z);
	return PQT_OK;
}

int pqt_read_double(pqt_reader *r, double *v)
{
	uint64_t bits = 0;

	if (left(r) < 8)
		return PQT_TRUNCATED;
	for (int i = 0; i < 8; i++)
		bits |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	memcpy(v, &bits, 8);
	return PQT_OK;
}

int pqt_read_binary(pqt_reader *r, pqt_bin *v)
{
	uint64_t n;
	int rc = get_varint(r, 32, &n);

	if (rc)
		return rc;
	if (n > INT32_MAX || n > left(r))
		return PQT_LENGTH;
	v->ptr = r->p;
	v->len = (uint32_t)n;
	r->p += n;
	return PQT_OK;
}

int pqt_read_list_begin(pqt_reader *r, int *elem_type, uint32_t *n)
{
	if (r->p >= r->end)
		return PQT_TRUNCATED;
	uint8_t b = *r->p++;
	int t = b & 0x0f;
	uint64_t size = b >> 4;

	if (!valid_type(t))
		return PQT_BAD_TYPE;
	if (size == 15) {
		int rc = get_varint(r, 32, &size);
		if (rc)
			return rc;
	}
	/* Every element, even a bool or an empty struct, takes a byte. */
	if (size > INT32_MAX || size > left(r))
		return PQT_LENGTH;
	*elem_type = t == PQT_BOOL_FALSE ? PQT_BOOL : t;
	*n = (uint32_t)size;
	return PQT_OK;
}

int pqt_read_map_begin(pqt_reader *r, int *key_type, int *val_type, uint32_t *n)
{
	uint64_t size;
	int rc = get_varint(r, 32, &size);

	if (rc)
		return rc;
	if (size == 0) {
		*key_type = *val_type = PQT_STOP;
		*n = 0;
		return PQT_OK;
	}
	if (r->p >= r->end)
		return PQT_TRUNCATED;
	uint8_t b = *r->p++;
	int k = b >> 4, v = b & 0x0f;
	if (!valid_type(k) || !valid_type(v))
		return PQT_BAD_TYPE;
	if (size > INT32_MAX || size > left(r) / 2)
		return PQT_LENGTH;
	*key_type = k == PQT_BOOL_FALSE ? PQT_BOOL : k;
	*val_type = v == PQT_BOOL_FALSE ? PQT_BOOL : v;
	*n = (uint32_t)size;
	return PQT_OK;
}

/* Recursion is bounded by depth, so the C stack use is bounded too; an
 * explicit stack was the alternative and is not worth its code for 64. */
static int skip_value(pqt_reader *r, int type, int depth)
{
	union {
		bool b;
		int8_t i8;
		int16_t i16;
		int32_t i32;
		int64_t i64;
		double d;
		pqt_bin bin;
	} u;
	int rc, t, k, v;
	uint32_t n;
	int16_t last = 0, id;

	switch (type) {
	case PQT_BOOL:
	case PQT_BOOL_FALSE:
		return pqt_read_bool(r, &u.b);
	case PQT_I8:
		return pqt_read_i8(r, &u.i8);
	case PQT_I16:
		return pqt_read_i16(r, &u.i16);
	case PQT_I32:
		return pqt_read_i32(r, &u.i32);
	case PQT_I64:
		return pqt_read_i64(r, &u.i64);
	case PQT_DOUBLE:
		return pqt_read_double(r, &u.d);
	case PQT_BINARY:
		return pqt_read_binary(r, &u.bin);
	case PQT_LIST:
	case PQT_SET:
		if (depth >= PQT_MAX_DEPTH)
			return PQT_DEPTH;
		if ((rc = pqt_read_list_begin(r, &t, &n)))
			return rc;
		for (uint32_t i = 0; i < n; i++) {
			r->pending_bool = -1;
			if ((rc = skip_value(r, t, depth + 1)))
				return rc;
		}
		return PQT_OK;
	case PQT_MAP:
		if (depth >= PQT_MAX_DEPTH)
			return PQT_DEPTH;
		if ((rc = pqt_read_map_begin(r, &k, &v, &n)))
			return rc;
		for (uint32_t i = 0; i < n; i++) {
			r->pending_bool = -1;
			if ((rc = skip_value(r, k, depth + 1)))
				return rc;
			r->pending_bool = -1;
			if ((rc = skip_value(r, v, depth + 1)))
				return rc;
		}
		return PQT_OK;
	case PQT_STRUCT:
		if (depth >= PQT_MAX_DEPTH)
			return PQT_DEPTH;
		for (;;) {
			if ((rc = field_header_read(r, &last, &id, &t)))
				return rc;
			if (t == PQT_STOP)
				return PQT_OK;
			if ((rc = skip_value(r, t, depth + 1)))
				return rc;
		}
	}
	return PQT_BAD_TYPE;
}

int pqt_skip(pqt_reader *r, int type)
{
	return skip_value(r, type, r->depth);
}

/* ---- Parquet structures ---- */

int pq_statistics_encode(pqt_writer *w, const pq_statistics *s)
{
	pqt_write_struct_begin(w);
	if (s->has_max) {
		pqt_write_field(w, 1, PQT_BINARY);
		pqt_write_binary(w, s->max.ptr, s->max.len);
	}
	if (s->has_min) {
		pqt_write_field(w, 2, PQT_BINARY);
		pqt_write_binary(w, s->min.ptr, s->min.len);
	}
	if (s->has_null_count) {
		pqt_write_field(w, 3, PQT_I64);
		pqt_write_i64(w, s->null_count);
	}
	if (s->has_distinct_count) {
		pqt_write_field(w, 4, PQT_I64);
		pqt_write_i64(w, s->distinct_count);
	}
	if (s->has_max_value) {
		pqt_write_field(w, 5, PQT_BINARY);
		pqt_write_binary(w, s->max_value.ptr, s->max_value.len);
	}
	if (s->has_min_value) {
		pqt_write_field(w, 6, PQT_BINARY);
		pqt_write_binary(w, s->min_value.ptr, s->min_value.len);
	}
	if (s->has_is_max_value_exact)
		pqt_write_field_bool(w, 7, s->is_max_value_exact);
	if (s->has_is_min_value_exact)
		pqt_write_field_bool(w, 8, s->is_min_value_exact);
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

static void field_i32(pqt_writer *w, int16_t id, int32_t v)
{
	pqt_write_field(w, id, PQT_I32);
	pqt_write_i32(w, v);
}

int pq_data_page_header_encode(pqt_writer *w, const pq_data_page_header *h)
{
	pqt_write_struct_begin(w);
	field_i32(w, 1, h->num_values);
	field_i32(w, 2, h->encoding);
	field_i32(w, 3, h->definition_level_encoding);
	field_i32(w, 4, h->repetition_level_encoding);
	if (h->has_statistics) {
		pqt_write_field(w, 5, PQT_STRUCT);
		pq_statistics_encode(w, &h->statistics);
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_dictionary_page_header_encode(pqt_writer *w, const pq_dictionary_page_header *h)
{
	pqt_write_struct_begin(w);
	field_i32(w, 1, h->num_values);
	field_i32(w, 2, h->encoding);
	if (h->has_is_sorted)
		pqt_write_field_bool(w, 3, h->is_sorted);
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_data_page_header_v2_encode(pqt_writer *w, const pq_data_page_header_v2 *h)
{
	pqt_write_struct_begin(w);
	field_i32(w, 1, h->num_values);
	field_i32(w, 2, h->num_nulls);
	field_i32(w, 3, h->num_rows);
	field_i32(w, 4, h->encoding);
	field_i32(w, 5, h->definition_levels_byte_length);
	field_i32(w, 6, h->repetition_levels_byte_length);
	if (!h->is_compressed)
		pqt_write_field_bool(w, 7, false);
	if (h->has_statistics) {
		pqt_write_field(w, 8, PQT_STRUCT);
		pq_statistics_encode(w, &h->statistics);
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_page_header_encode(pqt_writer *w, const pq_page_header *h)
{
	pqt_write_struct_begin(w);
	field_i32(w, 1, h->type);
	field_i32(w, 2, h->uncompressed_page_size);
	field_i32(w, 3, h->compressed_page_size);
	if (h->has_crc)
		field_i32(w, 4, h->crc);
	if (h->has_data_page_header) {
		pqt_write_field(w, 5, PQT_STRUCT);
		pq_data_page_header_encode(w, &h->data_page_header);
	}
	if (h->has_dictionary_page_header) {
		pqt_write_field(w, 7, PQT_STRUCT);
		pq_dictionary_page_header_encode(w, &h->dictionary_page_header);
	}
	if (h->has_data_page_header_v2) {
		pqt_write_field(w, 8, PQT_STRUCT);
		pq_data_page_header_v2_encode(w, &h->data_page_header_v2);
	}
	pqt_write_struct_end(w);
	return pqt_writer_error(w);
}

int pq_statistics_decode(pqt_reader *r, pq_statistics *s)
{
	memset(s, 0, sizeof(*s));
	FIELD_LOOP_BEGIN(r)
	if (type == PQT_BINARY && (id == 1 || id == 2 || id == 5 || id == 6)) {
		pqt_bin *dst = id == 1   ? &s->max
		               : id == 2 ? &s->min
		               : id == 5 ? &s->max_value
		                         : &s->min_value;
		if ((rc = pqt_read_binary(r, dst)))
			return rc;
		if (id == 1)
			s->has_max = true;
		else if (id == 2)
			s->has_min = true;
		else if (id == 5)
			s->has_max_value = true;
		else
			s->has_min_value = true;
		continue;
	}
	if (type == PQT_I64 && (id == 3 || id == 4)) {
		if ((rc = pqt_read_i64(r, id == 3 ? &s->null_count : &s->distinct_count)))
			return rc;
		if (id == 3)
			s->has_null_count = true;
		else
			s->has_distinct_count = true;
		continue;
	}
	if (type == PQT_BOOL && (id == 7 || id == 8)) {
		if ((rc = pqt_read_bool(r,
		                        id == 7 ? &s->is_max_value_exact : &s->is_min_value_exact)))
			return rc;
		if (id == 7)
			s->has_is_max_value_exact = true;
		else
			s->has_is_min_value_exact = true;
		continue;
	}
	FIELD_LOOP_END(r)
	return PQT_OK;
}

int pq_data_page_header_decode(pqt_reader *r, pq_data_page_header *h)
{
	unsigned seen = 0;

	memset(h, 0, sizeof(*h));
	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &h->num_values, seen)
	CASE_I32(r, 2, &h->encoding, seen)
	CASE_I32(r, 3, &h->definition_level_encoding, seen)
	CASE_I32(r, 4, &h->repetition_level_encoding, seen)
	if (id == 5 && type == PQT_STRUCT) {
		if ((rc = pq_statistics_decode(r, &h->statistics)))
			return rc;
		h->has_statistics = true;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "DataPageHeader.num_values");
	REQUIRE(r, seen, 2, "DataPageHeader.encoding");
	REQUIRE(r, seen, 3, "DataPageHeader.definition_level_encoding");
	REQUIRE(r, seen, 4, "DataPageHeader.repetition_level_encoding");
	return PQT_OK;
}

int pq_dictionary_page_header_decode(pqt_reader *r, pq_dictionary_page_header *h)
{
	unsigned seen = 0;

	memset(h, 0, sizeof(*h));
	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &h->num_values, seen)
	CASE_I32(r, 2, &h->encoding, seen)
	if (id == 3 && type == PQT_BOOL) {
		if ((rc = pqt_read_bool(r, &h->is_sorted)))
			return rc;
		h->has_is_sorted = true;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "DictionaryPageHeader.num_values");
	REQUIRE(r, seen, 2, "DictionaryPageHeader.encoding");
	return PQT_OK;
}

int pq_data_page_header_v2_decode(pqt_reader *r, pq_data_page_header_v2 *h)
{
	unsigned seen = 0;

	memset(h, 0, sizeof(*h));
	h->is_compressed = true;
	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &h->num_values, seen)
	CASE_I32(r, 2, &h->num_nulls, seen)
	CASE_I32(r, 3, &h->num_rows, seen)
	CASE_I32(r, 4, &h->encoding, seen)
	CASE_I32(r, 5, &h->definition_levels_byte_length, seen)
	CASE_I32(r, 6, &h->repetition_levels_byte_length, seen)
	if (id == 7 && type == PQT_BOOL) {
		if ((rc = pqt_read_bool(r, &h->is_compressed)))
			return rc;
		continue;
	}
	if (id == 8 && type == PQT_STRUCT) {
		if ((rc = pq_statistics_decode(r, &h->statistics)))
			return rc;
		h->has_statistics = true;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "DataPageHeaderV2.num_values");
	REQUIRE(r, seen, 2, "DataPageHeaderV2.num_nulls");
	REQUIRE(r, seen, 3, "DataPageHeaderV2.num_rows");
	REQUIRE(r, seen, 4, "DataPageHeaderV2.encoding");
	REQUIRE(r, seen, 5, "DataPageHeaderV2.definition_levels_byte_length");
	REQUIRE(r, seen, 6, "DataPageHeaderV2.repetition_levels_byte_length");
	return PQT_OK;
}

int pq_page_header_decode(pqt_reader *r, pq_page_header *h)
{
	unsigned seen = 0;

	memset(h, 0, sizeof(*h));
	FIELD_LOOP_BEGIN(r)
	CASE_I32(r, 1, &h->type, seen)
	CASE_I32(r, 2, &h->uncompressed_page_size, seen)
	CASE_I32(r, 3, &h->compressed_page_size, seen)
	if (id == 4 && type == PQT_I32) {
		if ((rc = pqt_read_i32(r, &h->crc)))
			return rc;
		h->has_crc = true;
		continue;
	}
	if (id == 5 && type == PQT_STRUCT) {
		if ((rc = pq_data_page_header_decode(r, &h->data_page_header)))
			return rc;
		h->has_data_page_header = true;
		continue;
	}
	if (id == 7 && type == PQT_STRUCT) {
		if ((rc = pq_dictionary_page_header_decode(r, &h->dictionary_page_header)))
			return rc;
		h->has_dictionary_page_header = true;
		continue;
	}
	if (id == 8 && type == PQT_STRUCT) {
		if ((rc = pq_data_page_header_v2_decode(r, &h->data_page_header_v2)))
			return rc;
		h->has_data_page_header_v2 = true;
		continue;
	}
	FIELD_LOOP_END(r)
	REQUIRE(r, seen, 1, "PageHeader.type");
	REQUIRE(r, seen, 2, "PageHeader.uncompressed_page_size");
	REQUIRE(r, seen, 3, "PageHeader.compressed_page_size");
	return PQT_OK;
}

int pq_page_header_parse(const void *buf, size_t len, pq_page_header *h, size_t *used,
                         const char **missing)
{
	pqt_reader r;

	pqt_reader_init(&r, buf, len);
	int rc = pq_page_header_decode(&r, h);
	if (used)
		*used = pqt_reader_pos(&r);
	if (missing)
		*missing = r.missing;
	return rc;
}
