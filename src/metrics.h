/* metrics.h - Prometheus text exposition (format 0.0.4), lock-free per-thread
 * histograms and counters summed at scrape time, and the standard process
 * metrics read from /proc.
 *
 * Hot path: each worker thread owns its mx_hist and mx_counter arrays and is
 * their only writer, so an update is a relaxed load and a relaxed store (no
 * locked instruction, no lock, no syscall). A scrape thread reads them with
 * relaxed loads and merges the threads' values into a snapshot.
 *
 * Error convention: the exposition writer keeps a sticky error (the first
 * -ENOMEM from the buffer); write functions return nothing and the caller
 * checks mx_writer_error() once at the end. Parsers and readers return 0 or a
 * negative errno. Metric and label names come from code and are assumed valid
 * (checked with assert in debug builds); label values and HELP text may be
 * anything and are escaped.
 */
#ifndef MINIDB_METRICS_H
#define MINIDB_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Only a pointer to the output buffer (buf.h) is needed here; including buf.h
 * would put its typedef into every file that includes this header, where gcc's
 * -Wshadow flags locals named buf. */
struct buf;

/* ---- exposition writer ---- */

enum mx_type { MX_COUNTER, MX_GAUGE, MX_HISTOGRAM, MX_UNTYPED };

typedef struct mx_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, from code */
	const char *value; /* any bytes; escaped, invalid UTF-8 becomes U+FFFD */
} mx_label;

#define MX_NAME_MAX 128

typedef struct mx_writer {
	struct buf *out;
	int err;                  /* sticky: 0 or the first -ENOMEM */
	char family[MX_NAME_MAX]; /* family whose HELP/TYPE was written last */
} mx_writer;

/* Appends to out (not owned; the caller frees it). */
void mx_writer_init(mx_writer *w, struct buf *out);

/* 0, or -ENOMEM when any append failed (the output is then incomplete). */
int mx_writer_error(const mx_writer *w);

/* Writes "# HELP name help" and "# TYPE name type" unless name is the family
 * written last, so a caller may announce the family inside a loop. All
 * samples of a family must follow its announcement without another family in
 * between (the format requires that). */
void mx_family(mx_writer *w, const char *name, enum mx_type type, const char *help);

/* One sample line: name{l1="v1",...} value. labels may be NULL when
 * nlabels is 0. The u64 form prints the exact integer (counters above 2^53);
 * the double form prints integral values as integers, other finite values
 * with the fewest of 15, 16 or 17 significant digits that read back to the
 * same double (the shortest form for every normal double: 0.1 is "0.1"),
 * and NaN, +Inf, -Inf as Prometheus spells them. Numbers use the C locale's
 * decimal point: the process must not call setlocale(LC_NUMERIC). */
void mx_sample_u64(mx_writer *w, const char *name, const mx_label *labels, size_t nlabels,
                   uint64_t value);
void mx_sample(mx_writer *w, const char *name, const mx_label *labels, size_t nlabels,
               double value);

/* Formats v as mx_sample does into out (NUL-terminated) and returns the
 * length. */
#define MX_VALUE_MAX 32
size_t mx_format_value(char out[MX_VALUE_MAX], double v);

/* ---- histograms ---- */

#define MX_HIST_MAX_BOUNDS 31 /* finite bounds; one more bucket for +Inf */

/* Bucket upper bounds. seconds is not copied and must outlive the bounds
 * (a static const table). ns[i] is seconds[i] in nanoseconds, rounded to
 * the nearest integer, so an observation of d ns lands in the first bucket
 * with d <= ns[i] without any division or floating point. */
typedef struct mx_bounds {
	const double *seconds;
	size_t n;
	uint64_t ns[MX_HIST_MAX_BOUNDS];
} mx_bounds;

/* Returns 0, or -EINVAL unless 1 <= n <= MX_HIST_MAX_BOUNDS and the bounds
 * are finite, non-negative, below 1e10 s and strictly ascending in ns. */
int mx_bounds_init(mx_bounds *b, const double *seconds, size_t n);

/* One thread's histogram: per-bucket counts (not cumulative; index n is
 * +Inf) and the sum of observations in ns. There is no separate count: the
 * count is the sum of the buckets, so _count always equals the +Inf bucket
 * even when a scrape races an observation. Zero-initialise (static storage,
 * calloc or mx_hist_init). */
typedef struct mx_hist {
	_Atomic uint64_t bucket[MX_HIST_MAX_BOUNDS + 1];
	_Atomic uint64_t sum_ns;
} mx_hist;

void mx_hist_init(mx_hist *h);

/* Index of the bucket for ns: the number of bounds below ns (n for +Inf).
 * Most observations of a busy server fall in the first bucket, so that is
 * one well-predicted compare; the rest is a branch-free binary search (the
 * loop runs log2(n) times). */
static inline size_t mx_bounds_index(const mx_bounds *b, uint64_t ns)
{
	const uint64_t *base = b->ns;
	size_t len = b->n;

	if (ns <= base[0])
		return 0;

	while (len > 1) {
		size_t half = len / 2;
		/* A mask rather than ?: so that gcc emits no branch to mispredict. */
		base += half & -(size_t)(base[half - 1] < ns);
		len -= half;
	}
	return (size_t)(base - b->ns) + (*base < ns);
}

/* Single writer only: the owning thread. Relaxed load and store, so a
 * concurrent reader sees each field either before or after the update. */
static inline void mx_hist_observe_ns(mx_hist *h, const mx_bounds *b, uint64_t ns)
{
	_Atomic uint64_t *c = &h->bucket[mx_bounds_index(b, ns)];

	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	atomic_store_explicit(&h->sum_ns,
	                      atomic_load_explicit(&h->sum_ns, memory_order_relaxed) + ns,
	                      memory_order_relaxed);
}

/* Merged view of one or more threads' histograms, taken at scrape time. */
typedef struct mx_hist_snap {
	uint64_t bucket[MX_HIST_MAX_BOUNDS + 1]; /* not cumulative */
	uint64_t count;
	uint64_t sum_ns;
} mx_hist_snap;

void mx_hist_snap_clear(mx_hist_snap *s);

/* Adds one thread's histogram (read with relaxed loads) into s. Any thread. */
void mx_hist_snap_add(mx_hist_snap *s, const mx_hist *h, const mx_bounds *b);

/* Observations in one thread's histogram (its buckets summed). Any thread. */
uint64_t mx_hist_count(const mx_hist *h, const mx_bounds *b);

/* Clears s and adds hists[0..nhists). */
void mx_hist_merge(mx_hist_snap *s, const mx_hist *const *hists, size_t nhists, const mx_bounds *b);

/* Writes name_bucket{labels...,le="..."} (cumulative, ending with le="+Inf"),
 * name_sum{labels} in seconds and name_count{labels}. The caller announces
 * the family first with mx_family(w, name, MX_HISTOGRAM, help). labels must
 * not contain "le". */
void mx_hist_write(mx_writer *w, const char *name, const mx_bounds *b, const mx_hist_snap *s,
                   const mx_label *labels, size_t nlabels);

/* ---- counters ---- */

/* A per-thread counter: one writer thread, read by the scraper. */
typedef _Atomic uint64_t mx_counter;

static inline void mx_counter_add(mx_counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline uint64_t mx_counter_get(const mx_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* out[i] = sum over t < narrays of arrays[t][i], for i < len (wrapping
 * modulo 2^64 like the counters themselves). */
void mx_counters_sum(uint64_t *out, size_t len, const mx_counter *const *arrays, size_t narrays);

/* ---- process metrics ---- */

typedef struct mx_process {
	double cpu_seconds;        /* utime + stime */
	uint64_t resident_bytes;   /* rss pages * page size */
	uint64_t virtual_bytes;    /* vsize */
	double start_time_seconds; /* since the epoch */
	uint64_t open_fds;         /* excluding the one used to count them */
	uint64_t max_fds;          /* RLIMIT_NOFILE soft limit */
} mx_process;

/* Parses the text of /proc/<pid>/stat (comm may hold spaces and ')': the
 * fields start after the last ')'). Fills cpu_seconds, resident_bytes,
 * virtual_bytes and start_time_seconds. Returns 0 or -EINVAL. */
int mx_process_parse_stat(const char *text, size_t len, long ticks_per_sec, long page_size,
                          uint64_t boot_time, mx_process *p);

/* Finds the "btime N" line of /proc/stat. Returns 0 or -EINVAL. */
int mx_process_parse_btime(const char *text, size_t len, uint64_t *boot_time);

/* Reads all six metrics for the calling process. Returns 0 or a negative
 * errno (p is then unspecified). */
int mx_process_read(mx_process *p);

/* Writes the six process_* families with HELP and TYPE. */
void mx_process_write(mx_writer *w, const mx_process *p);

#endif
