/* parquet_inspect.c - `minidb-parquet inspect FILE`: the footer of a Parquet
 * file in a stable, human-readable form (file size, created_by, version,
 * rows, key/value metadata, the schema tree, then every row group and column
 * chunk with codec, encodings, sizes and statistics).
 *
 * Everything printed comes from pqr_open's checked FileMetaData; strings
 * from the file are printed quoted (pt_print_quoted) so a hostile name
 * cannot break a line or reach the terminal as control bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet_tool.h"

static void print_bin(pqt_bin b)
{
	pt_print_quoted(stdout, b.ptr, b.len);
}

static void print_name_or_number(const char *name, int32_t v)
{
	if (name != NULL)
		fputs(name, stdout);
	else
		printf("UNKNOWN(%" PRId32 ")", v);
}

static const char *unit_name(int32_t unit)
{
	switch (unit) {
	case PQ_UNIT_MILLIS:
		return "MILLIS";
	case PQ_UNIT_MICROS:
		return "MICROS";
	case PQ_UNIT_NANOS:
		return "NANOS";
	default:
		return "UNKNOWN_UNIT";
	}
}

static void print_logical_type(const pq_logical_type *lt)
{
	switch (lt->kind) {
	case PQ_LT_STRING:
		fputs("STRING", stdout);
		break;
	case PQ_LT_MAP:
		fputs("MAP", stdout);
		break;
	case PQ_LT_LIST:
		fputs("LIST", stdout);
		break;
	case PQ_LT_ENUM:
		fputs("ENUM", stdout);
		break;
	case PQ_LT_DECIMAL:
		printf("DECIMAL(%" PRId32 ", %" PRId32 ")", lt->precision, lt->scale);
		break;
	case PQ_LT_DATE:
		fputs("DATE", stdout);
		break;
	case PQ_LT_TIME:
	case PQ_LT_TIMESTAMP:
		printf("%s(%s, %s)", lt->kind == PQ_LT_TIME ? "TIME" : "TIMESTAMP",
		       unit_name(lt->unit), lt->is_adjusted_to_utc ? "UTC" : "local");
		break;
	case PQ_LT_INTEGER:
		printf("INTEGER(%d, %s)", lt->bit_width, lt->is_signed ? "signed" : "unsigned");
		break;
	case PQ_LT_UNKNOWN:
		fputs("NULL", stdout);
		break;
	case PQ_LT_JSON:
		fputs("JSON", stdout);
		break;
	case PQ_LT_BSON:
		fputs("BSON", stdout);
		break;
	case PQ_LT_UUID:
		fputs("UUID", stdout);
		break;
	case PQ_LT_FLOAT16:
		fputs("FLOAT16", stdout);
		break;
	default:
		printf("UNKNOWN(%" PRId32 ")", lt->kind);
	}
}

static void print_element(const pq_schema_element *e, int depth)
{
	printf("  %*s", depth * 2, "");
	print_bin(e->name);
	if (e->has_num_children && e->num_children > 0)
		printf(": group (%" PRId32 " children)", e->num_children);
	else if (e->has_type) {
		fputs(": ", stdout);
		print_name_or_number(pq_type_name(e->type), e->type);
	} else {
		fputs(": (no type)", stdout);
	}
	if (e->has_type_length)
		printf(" length %" PRId32, e->type_length);
	if (e->has_repetition_type) {
		putchar(' ');
		print_name_or_number(pq_repetition_name(e->repetition_type), e->repetition_type);
	}
	if (e->has_converted_type) {
		fputs(" converted ", stdout);
		print_name_or_number(pq_converted_type_name(e->converted_type), e->converted_type);
	}
	if (e->has_logical_type) {
		fputs(" logical ", stdout);
		print_logical_type(&e->logical_type);
	}
	if (e->has_field_id)
		printf(" field_id %" PRId32, e->field_id);
	putchar('\n');
}

/* Prints the schema, depth-first, indenting each element under its group.
 * pqr_open has checked that the num_children add up. */
static void print_schema(const pq_file_metadata *md)
{
	enum { MAX_DEPTH = 64 };
	int32_t left[MAX_DEPTH]; /* children still to print at each open level */
	int depth = 0;
	uint32_t i;

	puts("schema:");
	for (i = 0; i < md->num_schema; i++) {
		const pq_schema_element *e = &md->schema[i];

		while (depth > 0 && left[depth - 1] == 0)
			depth--;
		print_element(e, depth);
		if (depth > 0)
			left[depth - 1]--;
		if (e->has_num_children && e->num_children > 0 && depth < MAX_DEPTH)
			left[depth++] = e->num_children;
	}
}

static int64_t le_int(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* Prints one statistics bound in the column's physical type. */
static void print_stat_value(int32_t type, pqt_bin b)
{
	double d;
	float fl;

	if (type == PQ_INT64 && b.len == 8) {
		printf("%" PRId64, le_int(b.ptr, 8));
	} else if (type == PQ_INT32 && b.len == 4) {
		printf("%" PRId64, le_int(b.ptr, 4));
	} else if (type == PQ_DOUBLE && b.len == 8) {
		memcpy(&d, b.ptr, 8);
		printf("%.17g", d);
	} else if (type == PQ_FLOAT && b.len == 4) {
		memcpy(&fl, b.ptr, 4);
		printf("%.9g", (double)fl);
	} else if (type == PQ_BOOLEAN && b.len == 1) {
		fputs(b.ptr[0] ? "true" : "false", stdout);
	} else {
		print_bin(b);
	}
}

static void print_bound(const char *what, int32_t type, pqt_bin b, bool has_exact, bool exact,
                        bool legacy)
{
	printf(", %s ", what);
	print_stat_value(type, b);
	if (legacy)
		fputs(" (legacy field)", stdout);
	else if (has_exact)
		fputs(exact ? " (exact)" : " (inexact)", stdout);
}

static void print_statistics(int32_t type, const pq_statistics *st)
{
	fputs("      statistics: ", stdout);
	if (st->has_null_count)
		printf("nulls %" PRId64, st->null_count);
	else
		fputs("nulls ?", stdout);
	if (st->has_distinct_count)
		printf(", distinct %" PRId64, st->distinct_count);
	if (st->has_min_value)
		print_bound("min", type, st->min_value, st->has_is_min_value_exact,
		            st->is_min_value_exact, false);
	else if (st->has_min)
		print_bound("min", type, st->min, false, false, true);
	if (st->has_max_value)
		print_bound("max", type, st->max_value, st->has_is_max_value_exact,
		            st->is_max_value_exact, false);
	else if (st->has_max)
		print_bound("max", type, st->max, false, false, true);
	putchar('\n');
}

/* Prints the dotted path_in_schema quoted, as one string: a name from the
 * file is user data. */
static void print_path(const pq_column_meta_data *m)
{
	size_t n = 0, off = 0;
	uint32_t i;
	char *buf;

	for (i = 0; i < m->num_path; i++)
		n += (size_t)m->path_in_schema[i].len + 1;
	buf = malloc(n + 1);
	if (buf == NULL) {
		fputs("\"?\"", stdout);
		return;
	}
	for (i = 0; i < m->num_path; i++) {
		if (i > 0)
			buf[off++] = '.';
		memcpy(buf + off, m->path_in_schema[i].ptr, m->path_in_schema[i].len);
		off += m->path_in_schema[i].len;
	}
	pt_print_quoted(stdout, buf, off);
	free(buf);
}

static void print_column_chunk(const pq_column_chunk *cc, uint32_t index)
{
	const pq_column_meta_data *m = &cc->meta_data;
	uint32_t i;

	printf("    column %" PRIu32, index);
	if (!cc->has_meta_data) {
		puts(": no metadata in the footer");
		return;
	}
	putchar(' ');
	print_path(m);
	fputs(": ", stdout);
	print_name_or_number(pq_type_name(m->type), m->type);
	fputs(", codec ", stdout);
	print_name_or_number(pq_codec_name(m->codec), m->codec);
	fputs(", encodings", stdout);
	for (i = 0; i < m->num_encodings; i++) {
		putchar(i == 0 ? ' ' : ',');
		print_name_or_number(pq_encoding_name(m->encodings[i]), m->encodings[i]);
	}
	putchar('\n');
	printf("      values %" PRId64 ", compressed %" PRId64 " bytes, uncompressed %" PRId64
	       " bytes, data page at %" PRId64,
	       m->num_values, m->total_compressed_size, m->total_uncompressed_size,
	       m->data_page_offset);
	if (m->has_dictionary_page_offset)
		printf(", dictionary page at %" PRId64, m->dictionary_page_offset);
	putchar('\n');
	if (m->has_statistics)
		print_statistics(m->type, &m->statistics);
	else
		puts("      statistics: none");
	if (cc->has_file_path) {
		fputs("      data in another file: ", stdout);
		print_bin(cc->file_path);
		putchar('\n');
	}
	if (cc->encrypted)
		puts("      encrypted");
}

int pt_cmd_inspect(const struct pt_opts *o)
{
	const pq_file_metadata *md;
	pqr_file *f;
	char err[512];
	uint32_t i, j;

	err[0] = '\0';
	f = pqr_open(o->file, &o->lim, err, sizeof(err));
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", pt_prog, err[0] ? err : "cannot open the file");
		return PT_EXIT_FAIL;
	}
	md = pqr_metadata(f);
	printf("file:        %s\n", o->file);
	printf("size:        %" PRIu64 " bytes\n", pqr_file_size(f));
	fputs("created_by:  ", stdout);
	if (md->has_created_by)
		print_bin(md->created_by);
	else
		fputs("(not set)", stdout);
	putchar('\n');
	printf("version:     %" PRId32 "\n", md->version);
	printf("num_rows:    %" PRId64 "\n", md->num_rows);
	printf("row groups:  %" PRIu32 "\n", md->num_row_groups);
	printf("columns:     %zu\n", pqr_num_columns(f));
	if (md->encrypted)
		puts("encrypted:   yes");
	printf("key/value metadata: %" PRIu32 "\n", md->num_key_value);
	for (i = 0; i < md->num_key_value; i++) {
		const pq_key_value *kv = &md->key_value_metadata[i];

		fputs("  ", stdout);
		print_bin(kv->key);
		fputs(" = ", stdout);
		if (kv->has_value)
			print_bin(kv->value);
		else
			fputs("(nil)", stdout);
		putchar('\n');
	}
	print_schema(md);
	for (i = 0; i < md->num_row_groups; i++) {
		const pq_row_group *rg = &md->row_groups[i];

		printf("row group %" PRIu32 ": %" PRId64 " rows, %" PRId64 " bytes uncompressed", i,
		       rg->num_rows, rg->total_byte_size);
		if (rg->has_total_compressed_size)
			printf(", %" PRId64 " bytes compressed", rg->total_compressed_size);
		if (rg->has_file_offset)
			printf(", at %" PRId64, rg->file_offset);
		putchar('\n');
		for (j = 0; j < rg->num_columns; j++)
			print_column_chunk(&rg->columns[j], j);
	}
	pqr_close(f);
	return PT_EXIT_OK;
}
