/* metrics.c - Prometheus text exposition (format 0.0.4), histogram and counter
 * merging at scrape time, and process metrics from /proc (see metrics.h).
 *
 * Hand-written because the only C Prometheus client (prometheus-client-c) is
 * not packaged in Debian, takes a lock around each histogram observation and
 * owns its own registry and HTTP server; minidb needs lock-free per-thread updates and
 * serves the text through its own endpoint. The format itself is a few lines
 * of escaping and number formatting.
 */
#include "metrics.h"

#include "ascii.h"

#include "buf.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- exposition writer ---- */

void mx_writer_init(mx_writer *w, struct buf *out)
{
	w->out = out;
	w->err = 0;
	w->family[0] = '\0';
}

int mx_writer_error(const mx_writer *w)
{
	return w->err;
}

static void put(mx_writer *w, const char *p, size_t n)
{
	if (w->err == 0 && buf_append(w->out, p, n) != 0)
		w->err = -ENOMEM;
}

static void put_str(mx_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

#ifndef NDEBUG
static bool valid_metric_name(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) >= MX_NAME_MAX)
		return false;
	for (size_t i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		          c == ':' || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static bool valid_label_name(const char *s)
{
	return valid_metric_name(s) && strchr(s, ':') == NULL && strncmp(s, "__", 2) != 0;
}
#endif

/* Escapes backslash and newline, plus the double quote when quote is set
 * (label values; HELP text leaves quotes alone). Invalid UTF-8 bytes become
 * U+FFFD, because Prometheus rejects label values that are not UTF-8. */
static void put_escaped(mx_writer *w, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s);
	const unsigned char *run = p;

	while (p < end) {
		const char *rep = NULL;
		size_t n = ascii_utf8_len(p, (size_t)(end - p));

		if (n == 0)
			rep = "\xef\xbf\xbd";
		else if (*p == '\\')
			rep = "\\\\";
		else if (*p == '\n')
			rep = "\\n";
		else if (*p == '"' && quote)
			rep = "\\\"";
		if (rep == NULL) {
			p += n;
			continue;
		}
		put(w, (const char *)run, (size_t)(p - run));
		put_str(w, rep);
		p++;
		run = p;
	}
	put(w, (const char *)run, (size_t)(p - run));
}

static const char *type_name(enum mx_type t)
{
	switch (t) {
	case MX_COUNTER:
		return "counter";
	case MX_GAUGE:
		return "gauge";
	case MX_HISTOGRAM:
		return "histogram";
	case MX_UNTYPED:
		break;
	}
	return "untyped";
}

void mx_family(mx_writer *w, const char *name, enum mx_type type, const char *help)
{
	assert(valid_metric_name(name));
	if (strcmp(w->family, name) == 0)
		return;
	snprintf(w->family, sizeof(w->family), "%s", name);
	put_str(w, "# HELP ");
	put_str(w, name);
	put_str(w, " ");
	put_escaped(w, help != NULL ? help : "", false);
	put_str(w, "\n# TYPE ");
	put_str(w, name);
	put_str(w, " ");
	put_str(w, type_name(type));
	put_str(w, "\n");
}

size_t mx_format_value(char out[MX_VALUE_MAX], double v)
{
	int n;

	if (isnan(v))
		return (size_t)snprintf(out, MX_VALUE_MAX, "NaN");
	if (isinf(v))
		return (size_t)snprintf(out, MX_VALUE_MAX, v > 0 ? "+Inf" : "-Inf");
	/* Every integer below 2^63 in magnitude converts exactly. */
	if (v == floor(v) && fabs(v) < 9223372036854775808.0)
		return (size_t)snprintf(out, MX_VALUE_MAX, "%lld", (long long)v);
	/* %g drops trailing zeros, so the first precision that reads back
	 * exactly is the shortest; 17 digits always do. */
	for (int prec = 15; prec < 17; prec++) {
		n = snprintf(out, MX_VALUE_MAX, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return (size_t)n;
	}
	return (size_t)snprintf(out, MX_VALUE_MAX, "%.17g", v);
}

/* name+suffix{labels,extra="extra_value"} value\n */
static void put_sample(mx_writer *w, const char *name, const char *suffix, const mx_label *labels,
                       size_t nlabels, const char *extra, const char *extra_value,
                       const char *value)
{
	assert(valid_metric_name(name));
	assert(strncmp(name, w->family, strlen(w->family)) == 0);
	put_str(w, name);
	put_str(w, suffix);
	if (nlabels > 0 || extra != NULL) {
		put_str(w, "{");
		for (size_t i = 0; i < nlabels; i++) {
			assert(valid_label_name(labels[i].name));
			if (i > 0)
				put_str(w, ",");
			put_str(w, labels[i].name);
			put_str(w, "=\"");
			put_escaped(w, labels[i].value != NULL ? labels[i].value : "", true);
			put_str(w, "\"");
		}
		if (extra != NULL) {
			if (nlabels > 0)
				put_str(w, ",");
			put_str(w, extra);
			put_str(w, "=\"");
			put_str(w, extra_value);
			put_str(w, "\"");
		}
		put_str(w, "}");
	}
	put_str(w, " ");
	put_str(w, value);
	put_str(w, "\n");
}

void mx_sample_u64(mx_writer *w, const char *name, const mx_label *labels, size_t nlabels,
                   uint64_t value)
{
	char v[MX_VALUE_MAX];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)value);
	put_sample(w, name, "", labels, nlabels, NULL, NULL, v);
}

void mx_sample(mx_writer *w, const char *name, const mx_label *labels, size_t nlabels, double value)
{
	char v[MX_VALUE_MAX];

	mx_format_value(v, value);
	put_sample(w, name, "", labels, nlabels, NULL, NULL, v);
}

/* ---- histograms ---- */

int mx_bounds_init(mx_bounds *b, const double *seconds, size_t n)
{
	if (n < 1 || n > MX_HIST_MAX_BOUNDS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		double s = seconds[i];
		if (!isfinite(s) || s < 0 || s >= 1e10)
			return -EINVAL;
		b->ns[i] = (uint64_t)llround(s * 1e9);
		if (i > 0 && b->ns[i] <= b->ns[i - 1])
			return -EINVAL;
	}
	b->seconds = seconds;
	b->n = n;
	return 0;
}

void mx_hist_init(mx_hist *h)
{
	for (size_t i = 0; i <= MX_HIST_MAX_BOUNDS; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->sum_ns, 0);
}

void mx_hist_snap_clear(mx_hist_snap *s)
{
	memset(s, 0, sizeof(*s));
}

void mx_hist_snap_add(mx_hist_snap *s, const mx_hist *h, const mx_bounds *b)
{
	for (size_t i = 0; i <= b->n; i++) {
		uint64_t c = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		s->bucket[i] += c;
		s->count += c;
	}
	s->sum_ns += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

uint64_t mx_hist_count(const mx_hist *h, const mx_bounds *b)
{
	uint64_t n = 0;

	for (size_t i = 0; i <= b->n; i++)
		n += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
	return n;
}

void mx_hist_merge(mx_hist_snap *s, const mx_hist *const *hists, size_t nhists, const mx_bounds *b)
{
	mx_hist_snap_clear(s);
	for (size_t i = 0; i < nhists; i++)
		mx_hist_snap_add(s, hists[i], b);
}

void mx_hist_write(mx_writer *w, const char *name, const mx_bounds *b, const mx_hist_snap *s,
                   const mx_label *labels, size_t nlabels)
{
	char le[MX_VALUE_MAX], v[MX_VALUE_MAX];
	uint64_t cum = 0;

	for (size_t i = 0; i < nlabels; i++)
		assert(strcmp(labels[i].name, "le") != 0);
	for (size_t i = 0; i < b->n; i++) {
		cum += s->bucket[i];
		mx_format_value(le, b->seconds[i]);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
		put_sample(w, name, "_bucket", labels, nlabels, "le", le, v);
	}
	cum += s->bucket[b->n];
	snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
	put_sample(w, name, "_bucket", labels, nlabels, "le", "+Inf", v);
	mx_format_value(v, (double)s->sum_ns / 1e9);
	put_sample(w, name, "_sum", labels, nlabels, NULL, NULL, v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
	put_sample(w, name, "_count", labels, nlabels, NULL, NULL, v);
}

/* ---- counters ---- */

void mx_counters_sum(uint64_t *out, size_t len, const mx_counter *const *arrays, size_t narrays)
{
	for (size_t i = 0; i < len; i++)
		out[i] = 0;
	for (size_t t = 0; t < narrays; t++)
		for (size_t i = 0; i < len; i++)
			out[i] += mx_counter_get(&arrays[t][i]);
}

/* ---- process metrics ---- */

/* Reads a small file whole into out (NUL-terminated). Returns the length or
 * a negative errno; -EFBIG when it does not fit. */
static ssize_t read_small_file(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == cap - 1) {
			close(fd);
			return -EFBIG;
		}
		ssize_t r = read(fd, out + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	out[len] = '\0';
	return (ssize_t)len;
}

/* Parses a decimal uint64 at *p (before end) and the separator after it
 * (space, newline or end). Returns false on anything else or overflow. */
static bool parse_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
		s++;
	}
	if (s < end && *s != ' ' && *s != '\n')
		return false;
	*p = s;
	*v = x;
	return true;
}

int mx_process_parse_stat(const char *text, size_t len, long ticks_per_sec, long page_size,
                          uint64_t boot_time, mx_process *p)
{
	/* Field numbers as in proc(5); field 3 (state) follows ") ". */
	enum { F_UTIME = 14, F_STIME = 15, F_START = 22, F_VSIZE = 23, F_RSS = 24 };
	const char *end = text + len;
	const char *s = NULL;
	uint64_t utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;

	if (ticks_per_sec <= 0 || page_size <= 0)
		return -EINVAL;
	for (const char *q = text; q < end; q++)
		if (*q == ')')
			s = q;
	if (s == NULL)
		return -EINVAL;
	s++;
	for (int field = 3; field <= F_RSS; field++) {
		if (s >= end || *s != ' ')
			return -EINVAL;
		s++;
		uint64_t *dst = field == F_UTIME   ? &utime
		                : field == F_STIME ? &stime
		                : field == F_START ? &start
		                : field == F_VSIZE ? &vsize
		                : field == F_RSS   ? &rss
		                                   : NULL;
		if (dst != NULL) {
			if (!parse_u64(&s, end, dst))
				return -EINVAL;
			continue;
		}
		while (s < end && *s != ' ' && *s != '\n')
			s++;
	}
	if (rss > UINT64_MAX / (uint64_t)page_size)
		return -EINVAL;
	p->cpu_seconds = ((double)utime + (double)stime) / (double)ticks_per_sec;
	p->resident_bytes = rss * (uint64_t)page_size;
	p->virtual_bytes = vsize;
	p->start_time_seconds = (double)boot_time + (double)start / (double)ticks_per_sec;
	return 0;
}

int mx_process_parse_btime(const char *text, size_t len, uint64_t *boot_time)
{
	const char *end = text + len;

	for (const char *line = text; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl != NULL ? nl : end;
		if (eol - line > 6 && memcmp(line, "btime ", 6) == 0) {
			const char *s = line + 6;
			return parse_u64(&s, eol, boot_time) && s == eol ? 0 : -EINVAL;
		}
		line = eol + 1;
	}
	return -EINVAL;
}

static int count_open_fds(uint64_t *n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t count = 0;

	if (d == NULL)
		return -errno;
	int self = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (atoi(e->d_name) == self)
			continue;
		count++;
	}
	closedir(d);
	*n = count;
	return 0;
}

/* /proc/stat grows with the CPU count (a line per CPU and a long interrupt
 * line), so it is read a line at a time rather than into a fixed buffer. */
static int read_boot_time(uint64_t *boot_time)
{
	FILE *f = fopen("/proc/stat", "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = -EINVAL;

	if (f == NULL)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (strncmp(line, "btime ", 6) == 0) {
			rc = mx_process_parse_btime(line, (size_t)n, boot_time);
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

int mx_process_read(mx_process *p)
{
	/* 52 fields of at most 20 digits and a comm of at most 64 bytes. */
	char stat[2048];
	long ticks = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	uint64_t btime;
	struct rlimit rl;
	ssize_t n;
	int rc;

	rc = read_boot_time(&btime);
	if (rc != 0)
		return rc;
	n = read_small_file("/proc/self/stat", stat, sizeof(stat));
	if (n < 0)
		return (int)n;
	rc = mx_process_parse_stat(stat, (size_t)n, ticks, page, btime, p);
	if (rc != 0)
		return rc;
	rc = count_open_fds(&p->open_fds);
	if (rc != 0)
		return rc;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	p->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	return 0;
}

void mx_process_write(mx_writer *w, const mx_process *p)
{
	mx_family(w, "process_cpu_seconds_total", MX_COUNTER,
	          "Total user and system CPU time spent in seconds.");
	mx_sample(w, "process_cpu_seconds_total", NULL, 0, p->cpu_seconds);
	mx_family(w, "process_resident_memory_bytes", MX_GAUGE, "Resident memory size in bytes.");
	mx_sample_u64(w, "process_resident_memory_bytes", NULL, 0, p->resident_bytes);
	mx_family(w, "process_virtual_memory_bytes", MX_GAUGE, "Virtual memory size in bytes.");
	mx_sample_u64(w, "process_virtual_memory_bytes", NULL, 0, p->virtual_bytes);
	mx_family(w, "process_start_time_seconds", MX_GAUGE,
	          "Start time of the process since unix epoch in seconds.");
	mx_sample(w, "process_start_time_seconds", NULL, 0, p->start_time_seconds);
	mx_family(w, "process_open_fds", MX_GAUGE, "Number of open file descriptors.");
	mx_sample_u64(w, "process_open_fds", NULL, 0, p->open_fds);
	mx_family(w, "process_max_fds", MX_GAUGE, "Maximum number of open file descriptors.");
	mx_sample_u64(w, "process_max_fds", NULL, 0, p->max_fds);
}
