/* parquet_tool.h - what the parts of minidb-parquet share: the parsed
 * command line, the source file with its key, value and expiry columns
 * resolved, the quoting of keys and values for output, and the entry
 * points of the subcommands that live in their own files.
 *
 * Error convention: the pt_* functions print their own message on stderr
 * ("minidb-parquet: ...") and return an exit status (PT_EXIT_*), or 0/-1
 * for the helpers that say so.
 */
#ifndef MINIDB_PARQUET_TOOL_H
#define MINIDB_PARQUET_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "parquet/reader.h"

enum {
	PT_EXIT_OK = 0,
	PT_EXIT_FAIL = 1,  /* the file, the server or the data dir said no */
	PT_EXIT_USAGE = 2, /* bad command line */
};

struct pt_opts {
	const char *cmd;  /* inspect, cat, import, load */
	const char *file; /* the Parquet file read */
	const char *key_col, *value_col, *ttl_col;
	bool ttl_given; /* --ttl-column: the column must exist */
	int64_t limit;  /* cat: rows printed at most; -1 = all */
	const char *host, *port;
	uint32_t window; /* import: SETs in flight at most */
	int timeout_ms;  /* import: bound on each wait for progress; -1 = none */
	const char *data_dir;
	int32_t codec;  /* load: enum pq_compression */
	pqr_limits lim; /* --max-page-bytes, --max-value-bytes, --max-footer-bytes */
};

/* An open source file with its columns resolved (ttl_col -1: no expiry). */
struct pt_source {
	pqr_file *f;
	int key_col, value_col, ttl_col;
	pqr_cursor *cur;
};

/* Rows read, split by what became of them. */
struct pt_counts {
	uint64_t read, stored, null_key, null_value, expired;
};

extern const char *pt_prog;

/* Opens o->file and resolves the columns, then opens a cursor. Returns 0,
 * or -1 after printing why. */
int pt_source_open(const struct pt_opts *o, struct pt_source *s);
void pt_source_close(struct pt_source *s);

/* Wall clock in Unix milliseconds, and a monotonic clock in seconds. */
int64_t pt_wall_ms(void);
double pt_mono_s(void);

/* Writes s[0..n) to out between double quotes: printable ASCII and valid
 * UTF-8 sequences as they are, \" \\ \n \r \t, and \xHH for every other
 * byte, so the output is one line and the line protocol reads it back. */
void pt_print_quoted(FILE *out, const void *s, size_t n);

/* Prints the summary shared by import and load to stdout: rows read, stored
 * (labelled stored_as), skipped by cause, errors (unless -1), elapsed. */
void pt_print_counts(const struct pt_counts *c, const char *stored_as, int64_t errors,
                     double elapsed_s);

int pt_cmd_inspect(const struct pt_opts *o);
int pt_cmd_import(const struct pt_opts *o);

#endif
