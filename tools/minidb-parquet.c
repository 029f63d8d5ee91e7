/* minidb-parquet.c - the Parquet tool: inspect a file, print its rows, import
 * them into a running server over RESP, or load them offline into an empty
 * data dir as the snapshot the server reads at its next start.
 *
 * This file holds the command line, the source file (columns resolved by
 * name), the quoting of keys and values, `cat` and `load`; `inspect` is in
 * parquet_inspect.c and `import` in parquet_import.c. The Parquet reader and
 * writer (src/parquet/) are hand-written from the Apache Parquet spec because
 * no C Parquet library is packaged in Debian. A snapshot written by `load` is
 * snapshot-<seq as 20 digits>.parquet with footer key minidb.seq, seq 0,
 * written through a temp file, fsynced, renamed, and the dir fsynced.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "parquet/writer.h"
#include "parquet_tool.h"
#include "tool_common.h"

const char *pt_prog = "minidb-parquet";

#define PT_SNAPSHOT_NAME "snapshot-00000000000000000000.parquet"

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: %s inspect FILE\n"
	        "       %s cat FILE [COLUMNS] [--limit N]\n"
	        "       %s import FILE [--host HOST] [--port PORT] [COLUMNS] [--batch N]\n"
	        "                      [--timeout SECONDS]\n"
	        "       %s load FILE --data-dir DIR [COLUMNS] [--compression CODEC]\n"
	        "       %s --help | --version\n"
	        "\n"
	        "Reads Parquet files as minidb's snapshots hold them: one row per key, with a\n"
	        "key column, a value column and an optional expiry column.\n"
	        "\n"
	        "  inspect   file size, footer, key/value metadata, schema tree, and per row\n"
	        "            group and column chunk: codec, encodings, sizes, statistics\n"
	        "  cat       one row per line: \"key\" \"value\" [expires_at=<Unix ms>], quoted\n"
	        "            as the line protocol reads them (\\\" \\\\ \\n \\r \\t \\xHH); a "
	        "NULL\n"
	        "            is printed (nil)\n"
	        "  import    SET every row in a running server (RESP, pipelined; SET ... PXAT\n"
	        "            for rows with an expiry); prints a summary, exit 1 on any error\n"
	        "  load      offline: write the rows as the snapshot a stopped server loads at\n"
	        "            its next start, into a data dir holding no snapshot and no WAL\n"
	        "            (to merge into existing data, use import into a running server)\n"
	        "\n"
	        "COLUMNS (names or dotted paths of leaf columns):\n"
	        "  --key-column NAME     BYTE_ARRAY key column (default key)\n"
	        "  --value-column NAME   BYTE_ARRAY value column (default value)\n"
	        "  --ttl-column NAME     INT64 expiry: Unix ms, or a TIMESTAMP of any unit\n"
	        "                        (default expires_at when the file has it; else none)\n"
	        "Rows with a NULL key or value, or an expiry already past, are skipped by\n"
	        "import and load and counted.\n"
	        "\n"
	        "Options:\n"
	        "  --limit N             cat: print at most N rows\n"
	        "  -h, --host HOST       import: server (default 127.0.0.1)\n"
	        "  -p, --port PORT       import: port (default 8080)\n"
	        "  --batch N             import: commands in flight at most (default 1000)\n"
	        "  --timeout SECONDS     import: bound on each wait for the server to make\n"
	        "                        progress (default 30; 0 = no limit)\n"
	        "  --data-dir DIR        load: the server's data dir (created if missing)\n"
	        "  --compression CODEC   load: zstd (default), snappy, gzip, brotli, lz4_raw\n"
	        "                        or none\n"
	        "  --max-page-bytes SIZE   largest page, compressed or not, read before\n"
	        "                        refusing the file (default 1g; k, m, g suffixes)\n"
	        "  --max-value-bytes SIZE  largest key or value (default 512m)\n"
	        "  --max-footer-bytes SIZE largest footer (default 64m)\n"
	        "                        Every length in a file is checked against these\n"
	        "                        and the file size before memory is spent.\n"
	        "\n"
	        "Exit status: 0 on success, 1 when the file, the server or the data dir\n"
	        "failed (the message says why), 2 on a usage error.\n",
	        pt_prog, pt_prog, pt_prog, pt_prog, pt_prog);
}

static int usage_error(const char *what, const char *problem)
{
	return tool_usage_error(pt_prog, what, problem, PT_EXIT_USAGE);
}

int64_t pt_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double pt_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Length of the valid UTF-8 sequence at s[0..n) (2 to 4 bytes), or 0 when
 * the bytes there are not one: overlong forms, surrogates and code points
 * above U+10FFFF are refused as the Unicode standard says. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void pt_print_quoted(FILE *out, const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = data;
	size_t i = 0, seq;

	putc('"', out);
	while (i < n) {
		unsigned char c = s[i];

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				putc(c, out);
			} else if (c >= 0x80 && (seq = utf8_seq_len(s + i, n - i)) != 0) {
				fwrite(s + i, 1, seq, out);
				i += seq;
				continue;
			} else {
				putc('\\', out);
				putc('x', out);
				putc(hex[c >> 4], out);
				putc(hex[c & 0xf], out);
			}
		}
		i++;
	}
	putc('"', out);
}

/* Resolves one column name, printing why when it cannot be used. */
static int resolve_column(const pqr_file *f, const char *what, const char *name)
{
	int idx = pqr_find_column(f, name);
	size_t i, n;

	if (idx >= 0)
		return idx;
	if (idx == -2) {
		fprintf(stderr,
		        "%s: several columns are called '%s': name the %s column by its "
		        "dotted path\n",
		        pt_prog, name, what);
		return -1;
	}
	fprintf(stderr, "%s: no %s column '%s' in %s; its columns are:", pt_prog, what, name,
	        "the file");
	n = pqr_num_columns(f);
	for (i = 0; i < n && i < 50; i++)
		fprintf(stderr, " %s", pqr_column_at(f, i)->path);
	if (n > 50)
		fprintf(stderr, " ... (%zu in all)", n);
	fputc('\n', stderr);
	return -1;
}

int pt_source_open(const struct pt_opts *o, struct pt_source *s)
{
	char err[512];

	memset(s, 0, sizeof(*s));
	s->ttl_col = -1;
	err[0] = '\0';
	s->f = pqr_open(o->file, &o->lim, err, sizeof(err));
	if (s->f == NULL) {
		fprintf(stderr, "%s: %s\n", pt_prog, err[0] ? err : "cannot open the file");
		return -1;
	}
	s->key_col = resolve_column(s->f, "key", o->key_col);
	if (s->key_col < 0)
		goto fail;
	s->value_col = resolve_column(s->f, "value", o->value_col);
	if (s->value_col < 0)
		goto fail;
	if (o->ttl_given) {
		s->ttl_col = resolve_column(s->f, "expiry", o->ttl_col);
		if (s->ttl_col < 0)
			goto fail;
	} else {
		/* The default expiry column is optional: absent means no expiry. */
		s->ttl_col = pqr_find_column(s->f, o->ttl_col);
		if (s->ttl_col == -2) {
			resolve_column(s->f, "expiry", o->ttl_col);
			goto fail;
		}
		if (s->ttl_col < 0)
			s->ttl_col = -1;
	}
	if (s->key_col == s->value_col) {
		fprintf(stderr, "%s: the key and value columns are the same column\n", pt_prog);
		goto fail;
	}
	err[0] = '\0';
	s->cur = pqr_cursor_open(s->f, s->key_col, s->value_col, s->ttl_col, err, sizeof(err));
	if (s->cur == NULL) {
		fprintf(stderr, "%s: %s\n", pt_prog, err[0] ? err : "cannot read the columns");
		goto fail;
	}
	return 0;
fail:
	pqr_close(s->f);
	s->f = NULL;
	return -1;
}

void pt_source_close(struct pt_source *s)
{
	if (s->cur != NULL)
		pqr_cursor_free(s->cur);
	if (s->f != NULL)
		pqr_close(s->f);
	s->cur = NULL;
	s->f = NULL;
}

void pt_print_counts(const struct pt_counts *c, const char *stored_as, int64_t errors,
                     double elapsed_s)
{
	uint64_t skipped = c->null_key + c->null_value + c->expired;

	printf("rows read:  %llu\n", (unsigned long long)c->read);
	printf("%-11s %llu\n", stored_as, (unsigned long long)c->stored);
	printf("skipped:    %llu (NULL key %llu, NULL value %llu, expired %llu)\n",
	       (unsigned long long)skipped, (unsigned long long)c->null_key,
	       (unsigned long long)c->null_value, (unsigned long long)c->expired);
	if (errors >= 0)
		printf("errors:     %lld\n", (long long)errors);
	printf("elapsed:    %.3f s (%.0f rows/s)\n", elapsed_s,
	       elapsed_s > 0 ? (double)c->read / elapsed_s : 0.0);
}

/* ---- cat ---- */

static int cmd_cat(const struct pt_opts *o)
{
	struct pt_source s;
	pqr_row row;
	int64_t n = 0;
	int rc, status = PT_EXIT_OK;

	if (pt_source_open(o, &s) < 0)
		return PT_EXIT_FAIL;
	while (o->limit < 0 || n < o->limit) {
		rc = pqr_cursor_next(s.cur, &row);
		if (rc == 0)
			break;
		if (rc < 0) {
			fflush(stdout);
			fprintf(stderr, "%s: %s\n", pt_prog, pqr_cursor_error(s.cur));
			status = PT_EXIT_FAIL;
			break;
		}
		if (row.key_null)
			fputs("(nil)", stdout);
		else
			pt_print_quoted(stdout, row.key, row.key_len);
		putchar(' ');
		if (row.value_null)
			fputs("(nil)", stdout);
		else
			pt_print_quoted(stdout, row.value, row.value_len);
		if (row.has_expiry)
			printf(" expires_at=%lld", (long long)row.expires_ms);
		putchar('\n');
		n++;
	}
	pt_source_close(&s);
	return status;
}

/* ---- load ---- */

static bool has_prefix_suffix(const char *name, const char *prefix, const char *suffix)
{
	size_t n = strlen(name), p = strlen(prefix), s = strlen(suffix);

	return n >= p + s && memcmp(name, prefix, p) == 0 && memcmp(name + n - s, suffix, s) == 0;
}

/* Creates dir and its missing parents (mode 0755). Returns 0 or -errno. */
static int mkdir_p(const char *dir)
{
	char *p = strdup(dir), *q;
	int rc = 0;

	if (p == NULL)
		return -ENOMEM;
	for (q = p + 1;; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char saved = *q;
		*q = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*q = saved;
		if (saved == '\0')
			break;
	}
	free(p);
	if (rc == 0) {
		struct stat st;
		if (stat(dir, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return rc;
}

/* Refuses a data dir that already holds server data. Returns 0, or -1
 * after printing why. A missing dir is fine (created later). */
static int check_data_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "%s: %s: %s\n", pt_prog, dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (has_prefix_suffix(de->d_name, "wal-", ".log") ||
		    has_prefix_suffix(de->d_name, "snapshot-", ".parquet")) {
			fprintf(stderr,
			        "%s: %s already holds minidb data (%s): load only fills an empty "
			        "data dir; use `%s import` into a running server to merge\n",
			        pt_prog, dir, de->d_name, pt_prog);
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int cmd_load(const struct pt_opts *o)
{
	static const char seq_key[] = "minidb.seq", seq_val[] = "0";
	pq_key_value kv = {
	        .key = {(const uint8_t *)seq_key, sizeof(seq_key) - 1},
	        .has_value = true,
	        .value = {(const uint8_t *)seq_val, sizeof(seq_val) - 1},
	};
	struct pt_counts c = {0};
	struct pt_source s;
	pqw_options wo;
	pqw *w = NULL;
	pqr_row row;
	char *tmp = NULL, *dst = NULL;
	int fd = -1, rc, status = PT_EXIT_FAIL;
	int64_t now = pt_wall_ms();
	double t0 = pt_mono_s();

	if (check_data_dir_empty(o->data_dir) < 0)
		return PT_EXIT_FAIL;
	if (pt_source_open(o, &s) < 0)
		return PT_EXIT_FAIL;
	rc = mkdir_p(o->data_dir);
	if (rc < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", pt_prog, o->data_dir, strerror(-rc));
		goto out;
	}
	if (asprintf(&tmp, "%s/.tmp-%s-XXXXXX", o->data_dir, PT_SNAPSHOT_NAME) < 0 ||
	    asprintf(&dst, "%s/%s", o->data_dir, PT_SNAPSHOT_NAME) < 0) {
		tmp = dst = NULL;
		fprintf(stderr, "%s: out of memory\n", pt_prog);
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot create a file in %s: %s\n", pt_prog, o->data_dir,
		        strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	pqw_options_init(&wo);
	wo.codec = o->codec;
	wo.kv = &kv;
	wo.num_kv = 1;
	w = pqw_open(&wo, pqw_write_fd, &fd);
	if (w == NULL) {
		fprintf(stderr, "%s: cannot start the Parquet writer (out of memory?)\n", pt_prog);
		goto out;
	}
	for (;;) {
		rc = pqr_cursor_next(s.cur, &row);
		if (rc == 0)
			break;
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", pt_prog, pqr_cursor_error(s.cur));
			goto out;
		}
		c.read++;
		if (row.key_null) {
			c.null_key++;
			continue;
		}
		if (row.value_null) {
			c.null_value++;
			continue;
		}
		if (row.has_expiry && row.expires_ms <= now) {
			c.expired++;
			continue;
		}
		rc = pqw_add(w, row.key, row.key_len, row.value, row.value_len, row.has_expiry,
		             row.expires_ms);
		if (rc < 0)
			break;
		c.stored++;
	}
	if (rc == 0)
		rc = pqw_finish(w);
	if (rc < 0) {
		fprintf(stderr, "%s: writing %s: %s\n", pt_prog, tmp, pqw_error(w));
		goto out;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		fprintf(stderr, "%s: %s: %s\n", pt_prog, tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* Another load may have raced us since the check: do not replace its
	 * snapshot (link fails with EEXIST where rename would overwrite). */
	rc = link(tmp, dst);
	if (rc < 0 && (errno == EPERM || errno == EOPNOTSUPP))
		rc = rename(tmp, dst); /* a file system without hard links */
	if (rc < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", pt_prog, dst, strerror(errno));
		goto out;
	}
	(void)unlink(tmp);
	free(tmp);
	tmp = NULL;
	rc = fsync_dir(o->data_dir);
	if (rc < 0) {
		fprintf(stderr, "%s: fsync %s: %s\n", pt_prog, o->data_dir, strerror(-rc));
		goto out;
	}
	printf("snapshot:   %s (%llu bytes)\n", dst, (unsigned long long)pqw_bytes_written(w));
	pt_print_counts(&c, "written:", -1, pt_mono_s() - t0);
	status = PT_EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		(void)unlink(tmp);
	free(tmp);
	free(dst);
	pqw_free(w);
	pt_source_close(&s);
	return status;
}

/* ---- command line ---- */

static int parse_codec(const char *s, int32_t *codec)
{
	static const struct {
		const char *name;
		int32_t codec;
	} names[] = {
	        {"zstd", PQ_CODEC_ZSTD},
	        {"snappy", PQ_CODEC_SNAPPY},
	        {"gzip", PQ_CODEC_GZIP},
	        {"brotli", PQ_CODEC_BROTLI},
	        {"lz4_raw", PQ_CODEC_LZ4_RAW},
	        {"none", PQ_CODEC_UNCOMPRESSED},
	        {"uncompressed", PQ_CODEC_UNCOMPRESSED},
	};
	size_t i;

	for (i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*codec = names[i].codec;
			return 0;
		}
	}
	return -1;
}

/* Which options each subcommand takes, as a bit per option. */
enum {
	OPT_COLUMNS = 1 << 0,
	OPT_LIMIT = 1 << 1,
	OPT_SERVER = 1 << 2,
	OPT_DATA_DIR = 1 << 3,
	OPT_READER = 1 << 4, /* the reader's limits: every command */
};

static int cmd_options(const char *cmd)
{
	if (strcmp(cmd, "inspect") == 0)
		return OPT_READER;
	if (strcmp(cmd, "cat") == 0)
		return OPT_READER | OPT_COLUMNS | OPT_LIMIT;
	if (strcmp(cmd, "import") == 0)
		return OPT_READER | OPT_COLUMNS | OPT_SERVER;
	if (strcmp(cmd, "load") == 0)
		return OPT_READER | OPT_COLUMNS | OPT_DATA_DIR;
	return -1;
}

/* A byte count with an optional k, m or g suffix (powers of 1024), as the
 * server's size flags take them, within [min, max]. 0 or -1. */
static int parse_size(const char *s, uint64_t min, uint64_t max, size_t *out)
{
	char *end;
	unsigned shift = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	else if (*end == 'g' || *end == 'G')
		shift = 30;
	if (shift != 0)
		end++;
	if (*end != '\0' || v > (max >> shift) || (v << shift) < min)
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

/* Parses argv into o. Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct pt_opts *o)
{
	const char *v;
	uint64_t u;
	size_t n;
	int i, allowed, no_more_opts = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return PT_EXIT_OK;
		}
		if (strcmp(argv[i], "--") == 0)
			break;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("minidb-parquet %s (%s)\n", MINIDB_VERSION, MINIDB_COMMIT);
		return PT_EXIT_OK;
	}
	if (argc < 2)
		return usage_error("missing command", "one of inspect, cat, import, load");
	o->cmd = argv[1];
	allowed = cmd_options(o->cmd);
	if (allowed < 0)
		return usage_error(o->cmd, "unknown command (inspect, cat, import, load)");
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		int need = 0;

		if (no_more_opts || a[0] != '-' || a[1] == '\0') {
			if (o->file != NULL)
				return usage_error(a, "one FILE only");
			o->file = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			no_more_opts = 1;
			continue;
		}
		if ((n = tool_match_opt(a, NULL, "--key-column")) != 0) {
			need = OPT_COLUMNS;
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a column name");
			o->key_col = v;
		} else if ((n = tool_match_opt(a, NULL, "--value-column")) != 0) {
			need = OPT_COLUMNS;
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a column name");
			o->value_col = v;
		} else if ((n = tool_match_opt(a, NULL, "--ttl-column")) != 0) {
			need = OPT_COLUMNS;
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a column name");
			o->ttl_col = v;
			o->ttl_given = true;
		} else if ((n = tool_match_opt(a, NULL, "--limit")) != 0) {
			need = OPT_LIMIT;
			v = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(v, 0, INT64_MAX, &u) < 0)
				return usage_error(a, "needs a number of rows >= 0");
			o->limit = (int64_t)u;
		} else if ((n = tool_match_opt(a, "-h", "--host")) != 0) {
			need = OPT_SERVER;
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a host");
			o->host = v;
		} else if ((n = tool_match_opt(a, "-p", "--port")) != 0) {
			need = OPT_SERVER;
			v = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(v, 1, 65535, &u) < 0)
				return usage_error(a, "needs a port number (1-65535)");
			o->port = v;
		} else if ((n = tool_match_opt(a, NULL, "--batch")) != 0) {
			need = OPT_SERVER;
			v = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(v, 1, 1000000, &u) < 0)
				return usage_error(a, "needs a number of commands (1-1000000)");
			o->window = (uint32_t)u;
		} else if ((n = tool_match_opt(a, NULL, "--timeout")) != 0) {
			need = OPT_SERVER;
			v = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_timeout_ms(v, &o->timeout_ms) < 0)
				return usage_error(a, "needs a number of seconds >= 0");
		} else if ((n = tool_match_opt(a, NULL, "--data-dir")) != 0) {
			need = OPT_DATA_DIR;
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a directory");
			o->data_dir = v;
		} else if ((n = tool_match_opt(a, NULL, "--max-page-bytes")) != 0) {
			need = OPT_READER;
			v = tool_opt_value(argc, argv, &i, n);
			if (parse_size(v, 1024, (uint64_t)1 << 31, &o->lim.max_page_bytes) < 0)
				return usage_error(a, "needs a size from 1k to 2g");
		} else if ((n = tool_match_opt(a, NULL, "--max-value-bytes")) != 0) {
			need = OPT_READER;
			v = tool_opt_value(argc, argv, &i, n);
			if (parse_size(v, 1, (uint64_t)1 << 31, &o->lim.max_value_bytes) < 0)
				return usage_error(a, "needs a size from 1 to 2g");
		} else if ((n = tool_match_opt(a, NULL, "--max-footer-bytes")) != 0) {
			need = OPT_READER;
			v = tool_opt_value(argc, argv, &i, n);
			if (parse_size(v, 1024, (uint64_t)1 << 31, &o->lim.max_footer_bytes) < 0)
				return usage_error(a, "needs a size from 1k to 2g");
		} else if ((n = tool_match_opt(a, NULL, "--compression")) != 0) {
			need = OPT_DATA_DIR;
			v = tool_opt_value(argc, argv, &i, n);
			if (parse_codec(v, &o->codec) < 0)
				return usage_error(
				        a, "needs zstd, snappy, gzip, brotli, lz4_raw or none");
		} else {
			return usage_error(a, "unknown option");
		}
		if ((allowed & need) == 0) {
			fprintf(stderr, "%s: %s: not an option of %s\nTry '%s --help'.\n", pt_prog,
			        a, o->cmd, pt_prog);
			return PT_EXIT_USAGE;
		}
	}
	if (o->file == NULL)
		return usage_error(o->cmd, "needs a FILE");
	if ((allowed & OPT_DATA_DIR) && o->data_dir == NULL)
		return usage_error(o->cmd, "needs --data-dir DIR");
	return -1;
}

int main(int argc, char **argv)
{
	struct pt_opts o = {
	        .key_col = "key",
	        .value_col = "value",
	        .ttl_col = "expires_at",
	        .limit = -1,
	        .host = "127.0.0.1",
	        .port = "8080",
	        .window = 1000,
	        .timeout_ms = 30000,
	        .codec = PQ_CODEC_ZSTD,
	};
	int status;

	pqr_limits_init(&o.lim);
	signal(SIGPIPE, SIG_IGN);
	status = parse_args(argc, argv, &o);
	if (status >= 0)
		return status;
	if (strcmp(o.cmd, "inspect") == 0)
		status = pt_cmd_inspect(&o);
	else if (strcmp(o.cmd, "cat") == 0)
		status = cmd_cat(&o);
	else if (strcmp(o.cmd, "import") == 0)
		status = pt_cmd_import(&o);
	else
		status = cmd_load(&o);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: writing stdout: %s\n", pt_prog, strerror(errno));
		status = PT_EXIT_FAIL;
	}
	return status;
}
