/* reader.c - opening a Parquet file: the trailing magic and footer length,
 * the FileMetaData, the schema tree flattened into leaf columns (dotted
 * paths, max definition and repetition levels), and the checks every later
 * read relies on: one column chunk per leaf in every row group, each
 * chunk's byte range inside [4, footer start), row counts that add up.
 *
 * Hand-written from the Apache Parquet specification because no C library
 * for Parquet is packaged in Debian. Files are read with pread, not mmap: a
 * file truncated under us gives an error, never SIGBUS. Pages and rows are
 * in reader_cursor.c.
 */
#include "parquet/reader_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Schema trees deeper than this are refused: real files nest a few levels,
 * and the bound keeps the path strings linear in the footer size. */
#define MAX_SCHEMA_DEPTH 64

void pqr_limits_init(pqr_limits *l)
{
	l->max_footer_bytes = 64u << 20;
	l->max_page_bytes = 1u << 30;
	l->max_value_bytes = 512u << 20;
}

void pqr_vmsg(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err != NULL && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
}

void pqr_msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pqr_vmsg(err, errlen, fmt, ap);
	va_end(ap);
}

int pqr_read_at(const pqr_file *f, uint64_t off, void *dst, size_t len)
{
	uint8_t *p = dst;

	if (f->mem != NULL) {
		if (len)
			memcpy(dst, f->mem + off, len);
		return 0;
	}
	while (len > 0) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : len;
		ssize_t n = pread(f->fd, p, chunk, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank since we opened it */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- The schema tree ---- */

struct names {
	char *p;
	size_t len, cap;
};

/* Appends bytes (and no NUL); -ENOMEM or -E2BIG past limit. */
static int names_put(struct names *n, const void *s, size_t len, size_t limit)
{
	if (len > limit || n->len > limit - len)
		return -E2BIG;
	if (n->len + len + 1 > n->cap) {
		size_t cap = n->cap ? n->cap : 256;
		while (cap < n->len + len + 1)
			cap *= 2;
		char *p = realloc(n->p, cap);
		if (p == NULL)
			return -ENOMEM;
		n->p = p;
		n->cap = cap;
	}
	memcpy(n->p + n->len, s, len);
	n->len += len;
	return 0;
}

struct frame {
	int32_t left; /* children still to visit */
	int def, rep;
	size_t path_len; /* bytes of the dotted path up to and including this group */
};

/* Walks the depth-first schema list, building one pqr_column per leaf. The
 * path and name strings go to one buffer; offsets are fixed into pointers
 * at the end, once the buffer no longer moves. */
static int build_columns(pqr_file *f, char *err, size_t errlen)
{
	const pq_file_metadata *md = &f->md;
	struct frame stack[MAX_SCHEMA_DEPTH + 1];
	struct names nm = {0};
	size_t *off = NULL; /* path offset, name offset per leaf */
	char *path = NULL;  /* the current dotted prefix */
	size_t path_cap = 0;
	int depth = 0, rc = 0;

	if (md->num_schema == 0) {
		pqr_msg(err, errlen, "%s: the schema is empty", f->name);
		return -EBADMSG;
	}
	const pq_schema_element *root = &md->schema[0];
	if (md->num_schema > 1 && (!root->has_num_children || root->num_children < 0)) {
		pqr_msg(err, errlen, "%s: the schema root is not a group", f->name);
		return -EBADMSG;
	}
	f->cols = calloc(md->num_schema, sizeof(*f->cols));
	off = calloc(md->num_schema, 2 * sizeof(*off));
	if (f->cols == NULL || off == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	stack[0] = (struct frame){.left = root->has_num_children ? root->num_children : 0};
	for (uint32_t i = 1; i < md->num_schema; i++) {
		const pq_schema_element *e = &md->schema[i];
		while (depth > 0 && stack[depth].left == 0)
			depth--;
		if (stack[depth].left == 0) {
			pqr_msg(err, errlen,
			        "%s: schema element %u lies outside the tree (num_children too "
			        "small)",
			        f->name, i);
			rc = -EBADMSG;
			goto out;
		}
		stack[depth].left--;
		struct frame *parent = &stack[depth];
		int def = parent->def, rep = parent->rep;
		if (!e->has_repetition_type) {
			pqr_msg(err, errlen, "%s: schema element %u has no repetition type",
			        f->name, i);
			rc = -EBADMSG;
			goto out;
		}
		if (e->repetition_type == PQ_OPTIONAL) {
			def++;
		} else if (e->repetition_type == PQ_REPEATED) {
			def++;
			rep++;
		} else if (e->repetition_type != PQ_REQUIRED) {
			pqr_msg(err, errlen, "%s: schema element %u has repetition type %d",
			        f->name, i, (int)e->repetition_type);
			rc = -EBADMSG;
			goto out;
		}
		/* Build "parent.path.name" in path. */
		size_t plen = parent->path_len, need = plen + 1 + e->name.len + 1;
		if (need > path_cap) {
			char *p = realloc(path, need);
			if (p == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			path = p;
			path_cap = need;
		}
		if (plen > 0)
			path[plen++] = '.';
		if (e->name.len)
			memcpy(path + plen, e->name.ptr, e->name.len);
		plen += e->name.len;

		if (e->has_num_children && (e->num_children > 0 || !e->has_type)) {
			if (e->num_children < 0) {
				pqr_msg(err, errlen, "%s: schema element %u has %d children",
				        f->name, i, (int)e->num_children);
				rc = -EBADMSG;
				goto out;
			}
			if (depth == MAX_SCHEMA_DEPTH) {
				pqr_msg(err, errlen, "%s: schema nested deeper than %d levels",
				        f->name, MAX_SCHEMA_DEPTH);
				rc = -ENOTSUP;
				goto out;
			}
			stack[++depth] = (struct frame){
			        .left = e->num_children, .def = def, .rep = rep, .path_len = plen};
			continue;
		}
		if (!e->has_type) {
			pqr_msg(err, errlen, "%s: schema leaf %u has no physical type", f->name, i);
			rc = -EBADMSG;
			goto out;
		}
		pqr_column *c = &f->cols[f->ncols];
		c->element = e;
		c->max_def = def;
		c->max_rep = rep;
		off[2 * f->ncols] = nm.len;
		if ((rc = names_put(&nm, path, plen, f->lim.max_footer_bytes)) != 0 ||
		    (rc = names_put(&nm, "", 1, f->lim.max_footer_bytes)) != 0)
			goto out;
		off[2 * f->ncols + 1] = nm.len;
		if ((rc = names_put(&nm, e->name.ptr ? (const char *)e->name.ptr : "", e->name.len,
		                    f->lim.max_footer_bytes)) != 0 ||
		    (rc = names_put(&nm, "", 1, f->lim.max_footer_bytes)) != 0)
			goto out;
		f->ncols++;
	}
	while (depth > 0 && stack[depth].left == 0)
		depth--;
	if (stack[depth].left != 0) {
		pqr_msg(err, errlen, "%s: the schema ends inside a group (num_children too large)",
		        f->name);
		rc = -EBADMSG;
		goto out;
	}
	f->names = nm.p;
	nm.p = NULL;
	for (size_t k = 0; k < f->ncols; k++) {
		f->cols[k].path = f->names + off[2 * k];
		f->cols[k].name = f->names + off[2 * k + 1];
	}
out:
	if (rc == -E2BIG)
		pqr_msg(err, errlen, "%s: schema column paths exceed %zu bytes", f->name,
		        f->lim.max_footer_bytes);
	else if (rc == -ENOMEM)
		pqr_msg(err, errlen, "%s: out of memory reading the schema", f->name);
	free(nm.p);
	free(off);
	free(path);
	return rc;
}

/* ---- Row groups and column chunks ---- */

static int check_chunk(pqr_file *f, uint32_t g, uint32_t k, char *err, size_t errlen)
{
	const pq_column_chunk *cc = &f->md.row_groups[g].columns[k];
	const pqr_column *col = &f->cols[k];
	const pq_column_meta_data *m = &cc->meta_data;

	if (cc->has_file_path) {
		pqr_msg(err, errlen,
		        "%s: row group %u, column '%s': column chunk in another file "
		        "(file_path) is not supported",
		        f->name, g, col->path);
		return -ENOTSUP;
	}
	if (cc->encrypted) {
		pqr_msg(err, errlen,
		        "%s: row group %u, column '%s': encrypted column chunks are not supported",
		        f->name, g, col->path);
		return -ENOTSUP;
	}
	if (!cc->has_meta_data) {
		pqr_msg(err, errlen, "%s: row group %u, column '%s': column chunk without metadata",
		        f->name, g, col->path);
		return -EBADMSG;
	}
	if (m->type != col->element->type) {
		pqr_msg(err, errlen,
		        "%s: row group %u, column '%s': chunk type %d differs from the schema's %d",
		        f->name, g, col->path, (int)m->type, (int)col->element->type);
		return -EBADMSG;
	}
	int64_t start = m->data_page_offset;
	if (m->has_dictionary_page_offset && m->dictionary_page_offset > 0 &&
	    m->dictionary_page_offset < m->data_page_offset)
		start = m->dictionary_page_offset;
	if (start < 4 || (uint64_t)start > f->footer_pos || m->total_compressed_size < 0 ||
	    (uint64_t)m->total_compressed_size > f->footer_pos - (uint64_t)start ||
	    m->data_page_offset < start || m->data_page_offset - start > m->total_compressed_size) {
		pqr_msg(err, errlen,
		        "%s: row group %u, column '%s': chunk at byte %lld of %lld bytes lies "
		        "outside the data (bytes 4 to %llu)",
		        f->name, g, col->path, (long long)start,
		        (long long)m->total_compressed_size, (unsigned long long)f->footer_pos);
		return -EBADMSG;
	}
	return 0;
}

static int check_row_groups(pqr_file *f, char *err, size_t errlen)
{
	const pq_file_metadata *md = &f->md;
	uint64_t total = 0;
	int rc;

	if (md->num_rows < 0) {
		pqr_msg(err, errlen, "%s: negative row count %lld", f->name,
		        (long long)md->num_rows);
		return -EBADMSG;
	}
	for (uint32_t g = 0; g < md->num_row_groups; g++) {
		const pq_row_group *rg = &md->row_groups[g];
		if (rg->num_columns != f->ncols) {
			pqr_msg(err, errlen,
			        "%s: row group %u has %u column chunks for %zu schema columns",
			        f->name, g, rg->num_columns, f->ncols);
			return -EBADMSG;
		}
		if (rg->num_rows < 0 || (uint64_t)rg->num_rows > (uint64_t)INT64_MAX - total) {
			pqr_msg(err, errlen, "%s: row group %u has %lld rows", f->name, g,
			        (long long)rg->num_rows);
			return -EBADMSG;
		}
		total += (uint64_t)rg->num_rows;
		for (uint32_t k = 0; k < rg->num_columns; k++)
			if ((rc = check_chunk(f, g, k, err, errlen)) != 0)
				return rc;
	}
	if (total != (uint64_t)md->num_rows) {
		pqr_msg(err, errlen, "%s: row groups hold %llu rows, the footer says %lld", f->name,
		        (unsigned long long)total, (long long)md->num_rows);
		return -EBADMSG;
	}
	return 0;
}

/* ---- Opening ---- */

static int open_common(pqr_file *f, char *err, size_t errlen)
{
	uint8_t tail[8], head[4];
	int rc;

	if (f->size < 12) {
		pqr_msg(err, errlen, "%s: %llu bytes is too short for a Parquet file", f->name,
		        (unsigned long long)f->size);
		return -EBADMSG;
	}
	if ((rc = pqr_read_at(f, 0, head, 4)) != 0 ||
	    (rc = pqr_read_at(f, f->size - 8, tail, 8)) != 0) {
		pqr_msg(err, errlen, "%s: read: %s", f->name, strerror(-rc));
		return rc;
	}
	if (memcmp(tail + 4, "PARE", 4) == 0) {
		pqr_msg(err, errlen, "%s: encrypted footer (PARE) is not supported", f->name);
		return -ENOTSUP;
	}
	if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0) {
		pqr_msg(err, errlen, "%s: not a Parquet file (no PAR1 magic at both ends)",
		        f->name);
		return -EBADMSG;
	}
	uint32_t flen = le32(tail);
	if (flen > f->size - 12) {
		pqr_msg(err, errlen, "%s: footer length %u exceeds the file size %llu", f->name,
		        flen, (unsigned long long)f->size);
		return -EBADMSG;
	}
	if (flen > f->lim.max_footer_bytes) {
		pqr_msg(err, errlen, "%s: footer of %u bytes exceeds the limit of %zu", f->name,
		        flen, f->lim.max_footer_bytes);
		return -E2BIG;
	}
	f->footer_pos = f->size - 8 - flen;
	const uint8_t *fb;
	if (f->mem != NULL) {
		fb = f->mem + f->footer_pos;
	} else {
		f->footer = malloc(flen ? flen : 1);
		if (f->footer == NULL) {
			pqr_msg(err, errlen, "%s: out of memory for a %u-byte footer", f->name,
			        flen);
			return -ENOMEM;
		}
		if ((rc = pqr_read_at(f, f->footer_pos, f->footer, flen)) != 0) {
			pqr_msg(err, errlen, "%s: reading the footer: %s", f->name, strerror(-rc));
			return rc;
		}
		fb = f->footer;
	}
	pqt_reader r;
	pqt_reader_init(&r, fb, flen);
	rc = pq_file_metadata_decode(&r, &f->md);
	if (rc == PQT_NO_MEMORY) {
		pqr_msg(err, errlen, "%s: out of memory decoding the footer", f->name);
		return -ENOMEM;
	}
	if (rc != PQT_OK) {
		pqr_msg(err, errlen, "%s: footer at byte %llu: %s%s%s at footer byte %zu", f->name,
		        (unsigned long long)f->footer_pos, pqt_strerror(rc),
		        rc == PQT_MISSING_FIELD && r.missing ? " " : "",
		        rc == PQT_MISSING_FIELD && r.missing ? r.missing : "", pqt_reader_pos(&r));
		return -EBADMSG;
	}
	if (f->md.encrypted) {
		pqr_msg(err, errlen, "%s: encrypted files are not supported", f->name);
		return -ENOTSUP;
	}
	if ((rc = build_columns(f, err, errlen)) != 0)
		return rc;
	return check_row_groups(f, err, errlen);
}

static pqr_file *file_new(const char *name, const pqr_limits *lim)
{
	pqr_file *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->fd = -1;
	f->name = strdup(name);
	if (f->name == NULL) {
		free(f);
		return NULL;
	}
	if (lim != NULL)
		f->lim = *lim;
	else
		pqr_limits_init(&f->lim);
	return f;
}

pqr_file *pqr_open(const char *path, const pqr_limits *lim, char *err, size_t errlen)
{
	pqr_file *f = file_new(path, lim);
	struct stat st;

	if (f == NULL) {
		pqr_msg(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		pqr_msg(err, errlen, "%s: open: %s", path, strerror(errno));
		pqr_close(f);
		return NULL;
	}
	if (fstat(f->fd, &st) != 0) {
		pqr_msg(err, errlen, "%s: fstat: %s", path, strerror(errno));
		pqr_close(f);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		pqr_msg(err, errlen, "%s: not a regular file", path);
		pqr_close(f);
		return NULL;
	}
	f->size = (uint64_t)st.st_size;
	if (open_common(f, err, errlen) != 0) {
		pqr_close(f);
		return NULL;
	}
	return f;
}

pqr_file *pqr_open_mem(const void *buf, size_t len, const pqr_limits *lim, char *err, size_t errlen)
{
	pqr_file *f = file_new("<memory>", lim);

	if (f == NULL) {
		pqr_msg(err, errlen, "<memory>: out of memory");
		return NULL;
	}
	/* A non-NULL pointer marks a memory file even when len is 0. */
	f->mem = buf != NULL ? buf : (const uint8_t *)"";
	f->size = buf != NULL ? len : 0;
	if (open_common(f, err, errlen) != 0) {
		pqr_close(f);
		return NULL;
	}
	return f;
}

void pqr_close(pqr_file *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	pq_file_metadata_free(&f->md);
	free(f->footer);
	free(f->cols);
	free(f->names);
	free(f->name);
	free(f);
}

/* ---- Getters ---- */

const pq_file_metadata *pqr_metadata(const pqr_file *f)
{
	return &f->md;
}

uint64_t pqr_file_size(const pqr_file *f)
{
	return f->size;
}

size_t pqr_num_columns(const pqr_file *f)
{
	return f->ncols;
}

const pqr_column *pqr_column_at(const pqr_file *f, size_t i)
{
	return i < f->ncols ? &f->cols[i] : NULL;
}

int pqr_find_column(const pqr_file *f, const char *name)
{
	int found = -1;

	for (size_t i = 0; i < f->ncols; i++)
		if (strcmp(f->cols[i].path, name) == 0)
			return (int)i;
	for (size_t i = 0; i < f->ncols; i++) {
		if (strcmp(f->cols[i].name, name) != 0)
			continue;
		if (found >= 0)
			return -2;
		found = (int)i;
	}
	return found;
}

int pqr_kv_get(const pqr_file *f, const char *key, char *buf, size_t buflen)
{
	size_t klen = strlen(key);

	for (uint32_t i = 0; i < f->md.num_key_value; i++) {
		const pq_key_value *kv = &f->md.key_value_metadata[i];
		if (kv->key.len != klen || (klen && memcmp(kv->key.ptr, key, klen) != 0))
			continue;
		size_t vlen = kv->has_value ? kv->value.len : 0;
		if (buflen == 0 || vlen > buflen - 1)
			return -E2BIG;
		if (vlen)
			memcpy(buf, kv->value.ptr, vlen);
		buf[vlen] = '\0';
		return 0;
	}
	return -ENOENT;
}
