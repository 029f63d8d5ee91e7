/* reader_internal.h - what reader.c (the file, footer and schema) shares
 * with reader_cursor.c (pages and rows). Not a public contract: only those
 * two files include it.
 */
#ifndef MINIDB_PARQUET_READER_INTERNAL_H
#define MINIDB_PARQUET_READER_INTERNAL_H

#include <stdarg.h>

#include "parquet/reader.h"

/* Page headers are read through a window that grows up to this size. */
#define PQR_MAX_HEADER_BYTES (16u << 20)

struct pqr_file {
	int fd;              /* -1 for pqr_open_mem */
	const uint8_t *mem;  /* pqr_open_mem's buffer, else NULL */
	uint64_t size;       /* file size */
	uint64_t footer_pos; /* first byte of FileMetaData: chunks end at or before it */
	char *name;          /* the path, or "<memory>" */
	pqr_limits lim;
	uint8_t *footer; /* owned copy of the footer (fd only); md points into it */
	pq_file_metadata md;
	pqr_column *cols;
	size_t ncols;
	char *names; /* paths and leaf names of cols, NUL-terminated */
};

/* Reads len bytes at off into dst: 0, or -EIO when the file has shrunk, or
 * another negative errno. The caller has checked off + len <= f->size. */
int pqr_read_at(const pqr_file *f, uint64_t off, void *dst, size_t len);

/* snprintf into err when it is not NULL. */
void pqr_msg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void pqr_vmsg(char *err, size_t errlen, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

#endif
