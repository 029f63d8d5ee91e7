/* test_crash.c - crash test: the server is SIGKILLed at random moments while
 * several clients write, restarted on the same data dir, and checked against
 * a model of what was acknowledged.
 *
 * A cycle: N_WRITERS threads, one connection each (half line protocol, half
 * RESP), pipeline batches of SET (some with a far-off EX, a few of 10-100 KB
 * so records cross pages and segments) and DEL of keys known to exist, and
 * record each acknowledgment with its monotonic time. After a random
 * 10-400 ms the test thread SIGKILLs the server (now and then once more while
 * it recovers), restarts it, waits out LOADING, and checks every key the
 * cycle touched, a sample of older ones, and DBSIZE against the model; every
 * key of the model is read back before a data dir is retired and at the end.
 *
 * Rules: --fsync always loses nothing acknowledged (SET or DEL). everysec may
 * lose what was acknowledged within EVERYSEC_WINDOW_MS before the kill, and
 * nothing older. Under both, a present key has exactly the value its name
 * implies, an unacknowledged write may or may not have happened, and what
 * survives of one connection's writes is a prefix of them (the log is
 * replayed up to a point, never with holes).
 *
 * Keys name their value: "c<cycle>.w<writer>.s<seq>.n<len>[.x]" holds <len>
 * bytes generated from a hash of the key (".x": SET with EX), so a wrong or
 * truncated value is caught, not only a missing key.
 *
 * Run as `test_crash always|everysec` (or MINIDB_CRASH_POLICY). Cycles from
 * MINIDB_CRASH_CYCLES (default 50), seed from MINIDB_CRASH_SEED (default the
 * time and pid; always printed). A seed replays the same choices (delays,
 * sizes, mix), not the same timing. The data dir is started afresh once its
 * log passes EPOCH_LOG_BYTES, so recovery time does not grow without bound
 * over 1,000 cycles.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

enum {
	ARGS_MAX = 12, /* server flags of one start, NULL included */
	DEFAULT_CYCLES = 50,
	N_WRITERS = 4,
	MAX_BATCH = 16,                /* commands per pipelined write */
	MAX_OPS_PER_WRITER = 50000,    /* per cycle, a bound should the kill be late */
	WRITER_GRACE_MS = 10000,       /* writers stop this long after the planned kill */
	KILL_MIN_MS = 10,              /* kill delay after the server is ready */
	KILL_MAX_MS = 400,             /* ... */
	RECOVERY_KILL_EVERY = 8,       /* about one cycle in 8 also kills during recovery */
	RECOVERY_KILL_MAX_MS = 30,     /* ... this soon after "listening" */
	DEL_PERCENT = 10,              /* share of commands that are DELs */
	EX_EVERY = 16,                 /* one SET in 16 has EX */
	EX_SECONDS = 1000000,          /* far enough never to expire during a run */
	LARGE_EVERY = 64,              /* one SET in 64 has a large value ... */
	MAX_LARGE_PER_WRITER = 4,      /* ... at most this many per cycle */
	SMALL_MAX = 200,               /* small values are 1..SMALL_MAX bytes */
	LARGE_MIN = 10 * 1024,         /* large ones LARGE_MIN..LARGE_MAX */
	LARGE_MAX = 100 * 1024,        /* ... */
	OLD_DELS_PER_WRITER = 16,      /* older keys offered to each writer to DEL */
	OLD_SAMPLE = 200,              /* older keys re-read per cycle */
	EVERYSEC_WINDOW_MS = 2000,     /* everysec may lose acks this recent */
	READY_TIMEOUT_MS = 30000,      /* scaled: until PING stops answering LOADING */
	EPOCH_LOG_BYTES = 16 << 20,    /* a fresh data dir once the old one is this big */
	EPOCH_MAX_KEYS = 1000000,      /* ... or the model this large */
	VERIFY_BATCH = 64,             /* keys per pipelined verification round */
	MAX_REPORTED = 20,             /* failures printed in full */
	KEY_CAP = 64,                  /* longest key name, with its NUL */
	LISTING_CAP = 512,             /* the data dir listing kept for failure reports */
	STATUS_SIGKILL = 128 + SIGKILL /* what mdb_kill reports for our kill */
};

/* ---- small helpers ---- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL)
		abort(); /* any thread: cmocka's failures must stay on the test thread */
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		abort();
	return p;
}

/* splitmix64: tiny, fast, and good enough to pick delays and sizes. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint32_t rng_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rng_next(s) % ((uint64_t)hi - lo + 1));
}

/* A growable byte buffer for pipelined commands. */
typedef struct text {
	char *buf;
	size_t len;
	size_t cap;
} text;

static void text_reserve(text *t, size_t more)
{
	if (t->len + more <= t->cap)
		return;
	size_t ncap = t->cap ? t->cap : 4096;
	while (ncap < t->len + more)
		ncap *= 2;
	t->buf = xrealloc(t->buf, ncap);
	t->cap = ncap;
}

static void text_add(text *t, const void *data, size_t len)
{
	text_reserve(t, len);
	memcpy(t->buf + t->len, data, len);
	t->len += len;
}

static void text_addf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_addf(text *t, const char *fmt, ...)
{
	text_reserve(t, 256);
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		text_reserve(t, (size_t)n + 1);
	}
}

/* 1 when the reply line is exactly want, ignoring RESP's trailing '\r'. */
static int reply_is(const char *line, long n, const char *want)
{
	size_t len = (size_t)n;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len == strlen(want) && memcmp(line, want, len) == 0;
}

/* ---- keys and their values ---- */

/* Everything a key's name encodes. */
typedef struct key_id {
	uint32_t cycle;
	uint32_t seq;
	uint32_t len; /* of the value */
	uint8_t writer;
	uint8_t ex; /* SET with EX EX_SECONDS */
} key_id;

static int key_name(char *buf, const key_id *id)
{
	return snprintf(buf, KEY_CAP, "c%" PRIu32 ".w%u.s%" PRIu32 ".n%" PRIu32 "%s", id->cycle,
	                (unsigned)id->writer, id->seq, id->len, id->ex ? ".x" : "");
}

/* The value of key: len bytes of [A-Za-z0-9+/] from a hash of the name, so
 * it needs no quoting and never starts with '"'. */
static void fill_value(char *dst, const char *key, uint32_t len)
{
	static const char alphabet[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *p = key; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	for (uint32_t i = 0; i < len;) {
		uint64_t r = rng_next(&h);
		for (int j = 0; j < 10 && i < len; j++, i++, r >>= 6)
			dst[i] = alphabet[r & 63];
	}
}

/* ---- the writers ---- */

enum { OP_SET = 0, OP_DEL = 1 };

typedef struct op {
	key_id id;       /* the key written or deleted */
	uint32_t target; /* OP_DEL: model index of an older key, or (own) an index into ops */
	uint32_t key;    /* model index, filled in when the cycle is merged */
	uint8_t kind;
	uint8_t own;
	uint8_t acked;
	long long ack_ms;
} op;

/* One writer thread and its connection. The test thread fills the first
 * block, starts the thread, and reads the rest only after joining it. */
typedef struct writer {
	int index;
	int resp;       /* speaks RESP rather than the line protocol */
	mdb_conn *conn; /* opened by the test thread, closed by the writer */
	uint32_t cycle;
	uint64_t rng;
	long long deadline_ms;
	const atomic_int *killed; /* set just before the SIGKILL */
	const uint32_t *old_keys; /* model indices of older keys known present ... */
	const key_id *old_ids;    /* ... and their names, to DEL */
	size_t n_old;
	op *ops; /* every command sent, in order */
	size_t n_ops;
	size_t cap_ops;
	char failure[512]; /* empty, or what went wrong */
} writer;

static op *writer_push(writer *w)
{
	if (w->n_ops == w->cap_ops) {
		w->cap_ops = w->cap_ops ? w->cap_ops * 2 : 1024;
		w->ops = xrealloc(w->ops, w->cap_ops * sizeof *w->ops);
	}
	op *o = &w->ops[w->n_ops++];
	memset(o, 0, sizeof *o);
	return o;
}

static void add_set(writer *w, text *t, const key_id *id, char *val)
{
	char key[KEY_CAP];
	int klen = key_name(key, id);
	fill_value(val, key, id->len);
	if (w->resp && id->ex) {
		text_addf(t, "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%" PRIu32 "\r\n", klen, key,
		          id->len);
		text_add(t, val, id->len);
		char ex[16];
		int exlen = snprintf(ex, sizeof ex, "%d", EX_SECONDS);
		text_addf(t, "\r\n$2\r\nEX\r\n$%d\r\n%s\r\n", exlen, ex);
	} else if (w->resp) {
		text_addf(t, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%" PRIu32 "\r\n", klen, key,
		          id->len);
		text_add(t, val, id->len);
		text_add(t, "\r\n", 2);
	} else if (id->ex) {
		text_addf(t, "SET %s \"", key);
		text_add(t, val, id->len);
		text_addf(t, "\" EX %d\n", EX_SECONDS);
	} else {
		text_addf(t, "SET %s ", key);
		text_add(t, val, id->len);
		text_add(t, "\n", 1);
	}
}

static void add_del(writer *w, text *t, const key_id *id)
{
	char key[KEY_CAP];
	int klen = key_name(key, id);
	if (w->resp)
		text_addf(t, "*2\r\n$3\r\nDEL\r\n$%d\r\n%s\r\n", klen, key);
	else
		text_addf(t, "DEL %s\n", key);
}

/* Why the connection ended: fine once the kill is under way, a failure
 * before it. */
static void writer_ended(writer *w, const char *what)
{
	if (!atomic_load(w->killed))
		snprintf(w->failure, sizeof w->failure,
		         "writer %d: %s after %zu commands, before the kill", w->index, what,
		         w->n_ops);
}

/* Pipelines batches of 1..MAX_BATCH commands and reads their replies until
 * the server goes away (or a bound is hit). An op is recorded before it is
 * sent, and marked acknowledged when its reply arrives. */
static void *writer_main(void *arg)
{
	writer *w = arg;
	mdb_conn *c = w->conn;
	text t = {0};
	char *val = xmalloc(LARGE_MAX);
	/* op indices of acknowledged SETs not yet DELed */
	uint32_t *own = xmalloc(MAX_OPS_PER_WRITER * sizeof *own);
	size_t n_own = 0, old_next = 0, large = 0;
	uint32_t seq = 0;
	while (w->n_ops < MAX_OPS_PER_WRITER) {
		if (mdb_now_ms() >= w->deadline_ms) {
			writer_ended(w, "reached its deadline");
			break;
		}
		size_t first = w->n_ops;
		uint32_t batch = rng_range(&w->rng, 1, MAX_BATCH);
		t.len = 0;
		for (uint32_t i = 0; i < batch && w->n_ops < MAX_OPS_PER_WRITER; i++) {
			int can_del = n_own > 0 || old_next < w->n_old;
			op *o = writer_push(w);
			if (can_del && rng_range(&w->rng, 1, 100) <= DEL_PERCENT) {
				o->kind = OP_DEL;
				if (old_next < w->n_old &&
				    (n_own == 0 || (rng_next(&w->rng) & 1))) {
					o->target = w->old_keys[old_next];
					o->id = w->old_ids[old_next++];
				} else {
					size_t j = rng_next(&w->rng) % n_own;
					o->own = 1;
					o->target = own[j];
					o->id = w->ops[o->target].id;
					own[j] = own[--n_own];
				}
				add_del(w, &t, &o->id);
				continue;
			}
			o->kind = OP_SET;
			o->id.cycle = w->cycle;
			o->id.seq = seq++;
			o->id.writer = (uint8_t)w->index;
			o->id.ex = rng_range(&w->rng, 1, EX_EVERY) == 1;
			if (large < MAX_LARGE_PER_WRITER &&
			    rng_range(&w->rng, 1, LARGE_EVERY) == 1) {
				o->id.len = rng_range(&w->rng, LARGE_MIN, LARGE_MAX);
				large++;
			} else {
				o->id.len = rng_range(&w->rng, 1, SMALL_MAX);
			}
			add_set(w, &t, &o->id, val);
		}
		int rc = mdb_send_all(c->fd, t.buf, t.len);
		if (rc != 0) {
			writer_ended(w, rc == -ETIMEDOUT ? "send timed out" : "send failed");
			break;
		}
		int stop = 0;
		for (size_t i = first; i < w->n_ops; i++) {
			op *o = &w->ops[i];
			char *line;
			long n = mdb_read_line(c, &line);
			if (n < 0) {
				writer_ended(w,
				             n == MDB_EOF ? "connection closed" : "read timed out");
				stop = 1;
				break;
			}
			const char *want = o->kind == OP_DEL ? (w->resp ? ":1" : "OK")
			                                     : (w->resp ? "+OK" : "OK");
			if (!reply_is(line, n, want)) {
				char key[KEY_CAP];
				key_name(key, &o->id);
				snprintf(w->failure, sizeof w->failure,
				         "writer %d: %s %s answered \"%.100s\", expected \"%s\"",
				         w->index, o->kind == OP_DEL ? "DEL" : "SET", key, line,
				         want);
				free(line);
				stop = 1;
				break;
			}
			free(line);
			o->acked = 1;
			o->ack_ms = mdb_now_ms();
			if (o->kind == OP_SET)
				own[n_own++] = (uint32_t)i;
		}
		if (stop)
			break;
	}
	free(own);
	free(val);
	free(t.buf);
	mdb_conn_close(c);
	w->conn = NULL;
	return NULL;
}

/* ---- the model ---- */

enum { EV_SET_SENT = 1, EV_SET_ACKED = 2, EV_DEL_SENT = 4, EV_DEL_ACKED = 8 };

typedef struct key_rec {
	key_id id;
	uint8_t live;     /* present when last checked */
	uint8_t ev;       /* EV_* in the cycle `touched` names */
	uint32_t touched; /* cycle + 1 when the key is on that cycle's check list */
	long long set_ack_ms;
	long long del_ack_ms;
} key_rec;

/* Kinds of failure, counted for the summary. */
enum {
	F_LOST,   /* an acknowledged SET missing (outside everysec's window) */
	F_UNDONE, /* an acknowledged DEL undone (outside the window) */
	F_VALUE,  /* a wrong value or TTL */
	F_STALE,  /* a key not written in the cycle changed */
	F_HOLE,   /* a lost write followed by a surviving one */
	F_DBSIZE, /* DBSIZE differs from the model */
	F_OTHER,  /* server exits, bad replies, I/O */
	F_KINDS
};
static const char *const fail_names[F_KINDS] = {
        "lost_sets", "undone_dels", "wrong_values", "changed_untouched",
        "holes",     "dbsize",      "other"};

typedef struct crash_run {
	const char *policy;
	int always;
	uint64_t seed;
	uint64_t rng;
	uint32_t cycles;
	uint32_t cycle;
	int verbose;             /* MINIDB_CRASH_VERBOSE: a line per cycle */
	const char *segment_arg; /* --wal-segment-bytes of the running server */
	uint64_t snapshot_loads; /* restarts that began from a snapshot */
	mdb_server *s;
	/* the model of the current data dir */
	key_rec *keys;
	size_t n_keys;
	size_t cap_keys;
	size_t live;
	/* this cycle's check list */
	uint32_t *list;
	size_t n_list;
	size_t cap_list;
	long long kill_ms;
	long long verify_ms;
	off_t log_prev;            /* where the killed server's log starts */
	off_t log_cur;             /* where the running server's log starts */
	char listing[LISTING_CAP]; /* the data dir right after the last kill */
	char *value_buf;           /* LARGE_MAX scratch for expected values */
	/* totals for the summary */
	uint64_t acked_sets;
	uint64_t acked_dels;
	uint64_t verified;
	uint64_t missing;         /* acknowledged SETs found absent */
	uint64_t dels_undone;     /* acknowledged DELs found present (everysec window) */
	long long max_lost_age;   /* oldest ack lost (allowed or not), ms before the kill */
	uint64_t recovery_kills;  /* extra kills during recovery */
	uint32_t epochs;          /* fresh data dirs */
	long long restart_ms;     /* the last restart, from exec to the first PONG */
	long long max_restart_ms; /* ... the longest */
	uint64_t failures;
	uint64_t fails[F_KINDS];
} crash_run;

static void vfail(crash_run *r, int kind, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

static void vfail(crash_run *r, int kind, const char *fmt, va_list ap)
{
	r->fails[kind]++;
	if (r->failures++ >= MAX_REPORTED) {
		if (r->failures == MAX_REPORTED + 1)
			fprintf(stderr,
			        "crash: (further failures not printed; counts at the end)\n");
		return;
	}
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "crash: FAIL policy=%s seed=%" PRIu64 " cycle=%" PRIu32 ": %s\n", r->policy,
	        r->seed, r->cycle, msg);
}

/* Reports a failure of the given kind (F_*); the first MAX_REPORTED are
 * printed, all are counted. */
static void failk(crash_run *r, int kind, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void failk(crash_run *r, int kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(r, kind, fmt, ap);
	va_end(ap);
}

/* failk(r, F_OTHER, ...). */
static void failf(crash_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failf(crash_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(r, F_OTHER, fmt, ap);
	va_end(ap);
}

static uint32_t model_add(crash_run *r, const key_id *id)
{
	if (r->n_keys == r->cap_keys) {
		r->cap_keys = r->cap_keys ? r->cap_keys * 2 : 4096;
		r->keys = xrealloc(r->keys, r->cap_keys * sizeof *r->keys);
	}
	key_rec *k = &r->keys[r->n_keys];
	memset(k, 0, sizeof *k);
	k->id = *id;
	return (uint32_t)r->n_keys++;
}

/* Puts key ki on this cycle's check list (once), with no events yet. */
static void list_add(crash_run *r, uint32_t ki)
{
	key_rec *k = &r->keys[ki];
	if (k->touched == r->cycle + 1)
		return;
	k->touched = r->cycle + 1;
	k->ev = 0;
	if (r->n_list == r->cap_list) {
		r->cap_list = r->cap_list ? r->cap_list * 2 : 4096;
		r->list = xrealloc(r->list, r->cap_list * sizeof *r->list);
	}
	r->list[r->n_list++] = ki;
}

static void model_reset(crash_run *r)
{
	r->n_keys = 0;
	r->live = 0;
	r->n_list = 0;
}

/* ---- the server ---- */

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* The server's log from byte off on, malloc'd and NUL-terminated, or NULL. */
static char *read_log_from(const char *path, off_t off, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	off_t end = lseek(fd, 0, SEEK_END);
	size_t n = end > off ? (size_t)(end - off) : 0;
	char *buf = xmalloc(n + 1);
	ssize_t got = n > 0 ? pread(fd, buf, n, off) : 0;
	close(fd);
	*len = got > 0 ? (size_t)got : 0;
	buf[*len] = '\0';
	return buf;
}

static int name_cmp(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Sums the sizes of the data dir's files; with listing, also describes it
 * (file count, bytes, the last few files and their sizes). */
static long long data_dir_bytes(const crash_run *r, char *listing, size_t cap)
{
	DIR *d = opendir(r->s->data_dir);
	if (d == NULL)
		return 0;
	long long total = 0;
	size_t n = 0, cap_names = 64;
	char **names = xmalloc(cap_names * sizeof *names);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
			continue;
		total += st.st_size;
		if (n == cap_names) {
			cap_names *= 2;
			names = xrealloc(names, cap_names * sizeof *names);
		}
		char *entry = NULL;
		if (asprintf(&entry, "%s:%lld", e->d_name, (long long)st.st_size) < 0)
			abort();
		names[n++] = entry;
	}
	closedir(d);
	if (listing != NULL) {
		qsort(names, n, sizeof *names, name_cmp);
		int used = snprintf(listing, cap, "%zu files, %lld bytes; last:", n, total);
		for (size_t i = n > 4 ? n - 4 : 0; i < n && used > 0 && (size_t)used < cap; i++)
			used += snprintf(listing + used, cap - (size_t)used, " %s", names[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return total;
}

/* The server's flags for one start: the policy, a log segment size that
 * varies so kills also land around rotations, and in two starts of three
 * background snapshots every 256 KiB of log (kept 1 or 2), so kills also
 * land inside a BGSAVE, between its rename and the deletion of what it
 * covers, and in the load of a snapshot at the next start. */
static void server_args(crash_run *r, const char *args[ARGS_MAX])
{
	int n = 0;
	static const char *const sizes[] = {"65536", "1048576", "default"};
	const char *size = sizes[rng_next(&r->rng) % 3];
	unsigned snap = rng_next(&r->rng) % 3;
	args[n++] = "--fsync";
	args[n++] = r->policy;
	if (strcmp(size, "default") != 0) {
		args[n++] = "--wal-segment-bytes";
		args[n++] = size;
	}
	if (snap > 0) {
		args[n++] = "--snapshot-wal-bytes";
		args[n++] = "262144";
		args[n++] = "--snapshots-keep";
		args[n++] = snap == 1 ? "1" : "2";
	}
	args[n] = NULL;
	r->segment_arg = size;
}

/* Waits until the server answers PING with PONG rather than a LOADING error,
 * and (recovering) checks that it logged its recovery. Returns 0 or -1
 * (reported). */
static int wait_ready(crash_run *r, int recovering, long long t0)
{
	long long deadline = t0 + mdb_timeout_ms(READY_TIMEOUT_MS);
	mdb_conn *c = mdb_conn_open(r->s->port);
	if (c == NULL) {
		failf(r, "cannot connect to the restarted server on port %d", r->s->port);
		return -1;
	}
	int rc = -1;
	for (;;) {
		char *line = mdb_cmd(c, "PING");
		if (line == NULL) {
			failf(r, "PING after restart: no reply (connection closed or timed out)");
			break;
		}
		if (strcmp(line, "PONG") == 0) {
			free(line);
			rc = 0;
			break;
		}
		if (strncmp(line, "ERROR: LOADING", 14) != 0 || mdb_now_ms() >= deadline) {
			failf(r, "PING after restart answered \"%.200s\" after %lld ms", line,
			      mdb_now_ms() - t0);
			free(line);
			break;
		}
		free(line);
		mdb_sleep_ms(2);
	}
	mdb_conn_close(c);
	if (rc != 0 || !recovering)
		return rc;
	long long took = mdb_now_ms() - t0;
	r->restart_ms = took;
	if (took > r->max_restart_ms)
		r->max_restart_ms = took;
	size_t len;
	char *log = read_log_from(r->s->log_path, r->log_cur, &len);
	if (log == NULL || strstr(log, "recovered") == NULL) {
		failf(r, "the restarted server did not log a line containing \"recovered\"");
		rc = -1;
	}
	if (log != NULL && strstr(log, "\"component\":\"snapshot\",\"msg\":\"loaded\"") != NULL)
		r->snapshot_loads++;
	free(log);
	return rc;
}

/* Starts the server on the existing data dir and waits until it is ready. */
static int restart(crash_run *r)
{
	const char *args[ARGS_MAX];
	server_args(r, args);
	r->log_cur = file_size(r->s->log_path);
	long long t0 = mdb_now_ms();
	if (mdb_restart(r->s, args) != 0) {
		failf(r, "restart failed (server log above)");
		return -1;
	}
	return wait_ready(r, 1, t0);
}

/* A fresh data dir and server: at the start, and when the log grew large. */
static int new_epoch(crash_run *r)
{
	if (r->s != NULL) {
		int st = mdb_stop(r->s);
		r->s = NULL;
		if (st != 0) {
			failf(r, "SIGTERM: exit status %d", st);
			return -1;
		}
	}
	model_reset(r);
	r->epochs++;
	const char *args[ARGS_MAX];
	server_args(r, args);
	r->s = mdb_start(args);
	if (r->s == NULL) {
		failf(r, "the server did not start with --fsync %s (log above)", r->policy);
		return -1;
	}
	r->log_prev = r->log_cur = 0;
	return wait_ready(r, 0, mdb_now_ms());
}

/* ---- verification ---- */

/* Decides whether key ki's observed presence is allowed, counts it, and
 * makes it the model's state. in_cycle: judge by this cycle's events
 * (else the key must be as last seen). */
static void judge(crash_run *r, uint32_t ki, int present, int in_cycle)
{
	key_rec *k = &r->keys[ki];
	char name[KEY_CAP];
	key_name(name, &k->id);
	int ev = in_cycle && k->touched == r->cycle + 1 ? k->ev : 0;
	/* Ages in ms before the kill; a reply read just after it counts as 0. */
	long long set_age = r->kill_ms > k->set_ack_ms ? r->kill_ms - k->set_ack_ms : 0;
	long long del_age = r->kill_ms > k->del_ack_ms ? r->kill_ms - k->del_ack_ms : 0;
	if (ev & EV_DEL_ACKED) {
		if (present) {
			r->dels_undone++;
			if (del_age > r->max_lost_age)
				r->max_lost_age = del_age;
		}
		if (present && (r->always || del_age > EVERYSEC_WINDOW_MS))
			failk(r, F_UNDONE,
			      "key %s: DEL acknowledged %lld ms before the kill, but the key is "
			      "back after the restart",
			      name, del_age);
	} else if (ev & EV_DEL_SENT) {
		/* unacknowledged DEL: either outcome */
	} else if (ev & EV_SET_ACKED) {
		if (!present) {
			r->missing++;
			if (set_age > r->max_lost_age)
				r->max_lost_age = set_age;
		}
		if (!present && (r->always || set_age > EVERYSEC_WINDOW_MS))
			failk(r, F_LOST,
			      "key %s: SET acknowledged %lld ms before the kill, missing after "
			      "the restart",
			      name, set_age);
	} else if (ev & EV_SET_SENT) {
		/* unacknowledged SET: either outcome */
	} else if (present != k->live) {
		if (!present)
			r->missing++;
		failk(r, F_STALE,
		      "key %s (written in cycle %" PRIu32 ", untouched since): %s before "
		      "this restart, %s after it",
		      name, k->id.cycle, k->live ? "present" : "absent",
		      present ? "present" : "absent");
	}
	if (present && !k->live)
		r->live++;
	else if (!present && k->live)
		r->live--;
	k->live = (uint8_t)present;
	r->verified++;
}

/* Checks the value (and for EX keys the TTL) of a present key. */
static void check_value(crash_run *r, const key_id *id, const char *line, long n)
{
	char name[KEY_CAP];
	key_name(name, id);
	fill_value(r->value_buf, name, id->len);
	if ((size_t)n != id->len || memcmp(line, r->value_buf, id->len) != 0) {
		size_t at = 0;
		while (at < (size_t)n && at < id->len && line[at] == r->value_buf[at])
			at++;
		failk(r, F_VALUE,
		      "key %s: wrong value after the restart: %ld bytes, expected %" PRIu32
		      ", first difference at byte %zu (got \"%.40s\")",
		      name, n, id->len, at, line + (at < (size_t)n ? at : 0));
	}
}

static void check_ttl(crash_run *r, const key_id *id, int present, const char *line)
{
	char name[KEY_CAP];
	key_name(name, id);
	char *end;
	long long ttl = strtoll(line, &end, 10);
	if (end == line || *end != '\0') {
		failf(r, "key %s: TTL answered \"%.100s\"", name, line);
		return;
	}
	/* Within a day of the full EX: a run takes far less, and a unit or
	 * base-time mix-up on replay is off by far more. */
	if (present && (ttl > EX_SECONDS || ttl < EX_SECONDS - 86400))
		failk(r, F_VALUE, "key %s: TTL %lld after the restart, expected about %d", name,
		      ttl, EX_SECONDS);
	if (!present && ttl != -2)
		failf(r, "key %s: absent but TTL answered %lld", name, ttl);
}

/* Reads keys idx[0..n) back (LOOKUP, and TTL for EX keys) in pipelined
 * rounds and judges each. Returns 0, or -1 when the connection failed. */
static int verify_keys(crash_run *r, mdb_conn *c, const uint32_t *idx, size_t n, int in_cycle)
{
	text t = {0};
	int rc = 0;
	for (size_t at = 0; at < n && rc == 0; at += VERIFY_BATCH) {
		size_t end = at + VERIFY_BATCH < n ? at + VERIFY_BATCH : n;
		t.len = 0;
		for (size_t i = at; i < end; i++) {
			char name[KEY_CAP];
			key_name(name, &r->keys[idx[i]].id);
			text_addf(&t, "LOOKUP %s\n", name);
			if (r->keys[idx[i]].id.ex)
				text_addf(&t, "TTL %s\n", name);
		}
		if (mdb_send_all(c->fd, t.buf, t.len) != 0) {
			failf(r, "verification: send failed");
			rc = -1;
			break;
		}
		for (size_t i = at; i < end; i++) {
			key_id id = r->keys[idx[i]].id;
			char *line;
			long len = mdb_read_line(c, &line);
			if (len < 0) {
				failf(r, "verification: no reply to LOOKUP (%s)",
				      len == MDB_EOF ? "connection closed" : "timed out");
				rc = -1;
				break;
			}
			int present = strcmp(line, "NOT FOUND") != 0;
			if (present)
				check_value(r, &id, line, len);
			free(line);
			if (id.ex) {
				if (mdb_read_line(c, &line) < 0) {
					failf(r, "verification: no reply to TTL");
					rc = -1;
					break;
				}
				check_ttl(r, &id, present, line);
				free(line);
			}
			judge(r, idx[i], present, in_cycle);
		}
	}
	free(t.buf);
	return rc;
}

static void check_dbsize(crash_run *r, mdb_conn *c)
{
	char *line = mdb_cmd(c, "DBSIZE");
	if (line == NULL) {
		failf(r, "DBSIZE: no reply");
		return;
	}
	char *end;
	long long n = strtoll(line, &end, 10);
	if (end == line || *end != '\0' || n < 0 || (size_t)n != r->live)
		failk(r, F_DBSIZE,
		      "DBSIZE answered \"%.100s\", the model has %zu live keys of %zu written",
		      line, r->live, r->n_keys);
	free(line);
}

/* Holes: what survives of one connection's commands must be a prefix of
 * them, since they reach the log in order and recovery replays up to a
 * point. An op's survival is observable when it is a SET not DELed in the
 * cycle (present = survived) or a DEL (present = lost; absent = survived
 * when the SET was older, else unknown). */
static void check_prefix(crash_run *r, const writer *w)
{
	const op *lost = NULL;
	for (size_t i = 0; i < w->n_ops; i++) {
		const op *o = &w->ops[i];
		const key_rec *k = &r->keys[o->key];
		int outcome; /* 1 survived, 0 lost, -1 unknown */
		if (o->kind == OP_SET)
			outcome = k->ev & EV_DEL_SENT ? -1 : k->live;
		else
			outcome = k->live ? 0 : (k->id.cycle != r->cycle ? 1 : -1);
		if (outcome == 0 && lost == NULL)
			lost = o;
		if (outcome == 1 && lost != NULL) {
			char a[KEY_CAP], b[KEY_CAP];
			key_name(a, &r->keys[lost->key].id);
			key_name(b, &k->id);
			failk(r, F_HOLE,
			      "writer %d: %s %s (%s) was lost, but the later %s %s (%s) "
			      "survived: the recovered log has a hole",
			      w->index, lost->kind == OP_SET ? "SET" : "DEL", a,
			      lost->acked ? "acknowledged" : "unacknowledged",
			      o->kind == OP_SET ? "SET" : "DEL", b,
			      o->acked ? "acknowledged" : "unacknowledged");
			return;
		}
	}
}

/* Verifies this cycle's list and DBSIZE on the restarted server. */
static int verify_cycle(crash_run *r, writer *ws)
{
	long long t0 = mdb_now_ms();
	mdb_conn *c = mdb_conn_open(r->s->port);
	if (c == NULL) {
		failf(r, "cannot connect for verification");
		return -1;
	}
	int rc = verify_keys(r, c, r->list, r->n_list, 1);
	if (rc == 0)
		check_dbsize(r, c);
	mdb_conn_close(c);
	if (rc == 0) {
		for (int i = 0; i < N_WRITERS; i++)
			check_prefix(r, &ws[i]);
	}
	r->verify_ms += mdb_now_ms() - t0;
	return rc;
}

/* Verifies every key of the model: at the end of an epoch and of the run. */
static int verify_all(crash_run *r)
{
	mdb_conn *c = mdb_conn_open(r->s->port);
	if (c == NULL) {
		failf(r, "cannot connect for the final verification");
		return -1;
	}
	uint32_t *all = xmalloc((r->n_keys + 1) * sizeof *all);
	for (size_t i = 0; i < r->n_keys; i++)
		all[i] = (uint32_t)i;
	int rc = verify_keys(r, c, all, r->n_keys, 0);
	if (rc == 0)
		check_dbsize(r, c);
	free(all);
	mdb_conn_close(c);
	return rc;
}

/* ---- one cycle ---- */

/* Offers each writer up to OLD_DELS_PER_WRITER older live keys to DEL and
 * puts OLD_SAMPLE older keys (live or not) on the check list. Picks are
 * random probes, bounded. */
static void pick_older(crash_run *r, uint32_t *old_keys, key_id *old_ids, size_t *n_old)
{
	size_t older = r->n_keys;
	for (int w = 0; w < N_WRITERS; w++)
		n_old[w] = 0;
	for (int tries = 0; older > 0 && tries < 4 * N_WRITERS * OLD_DELS_PER_WRITER; tries++) {
		uint32_t ki = (uint32_t)(rng_next(&r->rng) % older);
		int w = tries % N_WRITERS;
		if (!r->keys[ki].live || r->keys[ki].touched == r->cycle + 1 ||
		    n_old[w] == OLD_DELS_PER_WRITER)
			continue;
		list_add(r, ki);
		old_keys[w * OLD_DELS_PER_WRITER + n_old[w]] = ki;
		old_ids[w * OLD_DELS_PER_WRITER + n_old[w]] = r->keys[ki].id;
		n_old[w]++;
	}
	for (int i = 0; older > 0 && i < OLD_SAMPLE; i++)
		list_add(r, (uint32_t)(rng_next(&r->rng) % older));
}

/* Adds the writers' ops to the model and the check list. */
static void merge(crash_run *r, writer *ws)
{
	for (int wi = 0; wi < N_WRITERS; wi++) {
		writer *w = &ws[wi];
		for (size_t i = 0; i < w->n_ops; i++) {
			op *o = &w->ops[i];
			if (o->kind == OP_SET) {
				o->key = model_add(r, &o->id);
				list_add(r, o->key);
				key_rec *k = &r->keys[o->key];
				k->ev = EV_SET_SENT | (o->acked ? EV_SET_ACKED : 0);
				k->set_ack_ms = o->ack_ms;
				r->acked_sets += o->acked;
			} else {
				o->key = o->own ? w->ops[o->target].key : o->target;
				list_add(r, o->key);
				key_rec *k = &r->keys[o->key];
				k->ev |= EV_DEL_SENT | (o->acked ? EV_DEL_ACKED : 0);
				k->del_ack_ms = o->ack_ms;
				r->acked_dels += o->acked;
			}
		}
	}
}

static int run_cycle(crash_run *r)
{
	r->n_list = 0;
	r->log_prev = r->log_cur;
	uint64_t sets0 = r->acked_sets, missing0 = r->missing, undone0 = r->dels_undone;
	const char *segment = r->segment_arg; /* of the server about to be killed */
	uint32_t old_keys[N_WRITERS * OLD_DELS_PER_WRITER];
	key_id old_ids[N_WRITERS * OLD_DELS_PER_WRITER];
	size_t n_old[N_WRITERS];
	pick_older(r, old_keys, old_ids, n_old);

	int delay = (int)rng_range(&r->rng, KILL_MIN_MS, KILL_MAX_MS);
	atomic_int killed = 0;
	writer ws[N_WRITERS];
	pthread_t th[N_WRITERS];
	memset(ws, 0, sizeof ws);
	/* Connected before the clock starts, so even a 10 ms kill lands on
	 * writes rather than on connects. */
	for (int i = 0; i < N_WRITERS; i++) {
		ws[i].conn = mdb_conn_open(r->s->port);
		if (ws[i].conn == NULL)
			failf(r, "writer %d: cannot connect", i);
	}
	long long start = mdb_now_ms();
	int started = 0;
	for (int i = 0; i < N_WRITERS && r->failures == 0; i++) {
		writer *w = &ws[i];
		w->index = i;
		w->resp = i % 2;
		w->cycle = r->cycle;
		w->rng = rng_next(&r->rng);
		w->deadline_ms = start + delay + mdb_timeout_ms(WRITER_GRACE_MS);
		w->killed = &killed;
		w->old_keys = &old_keys[i * OLD_DELS_PER_WRITER];
		w->old_ids = &old_ids[i * OLD_DELS_PER_WRITER];
		w->n_old = n_old[i];
		if (pthread_create(&th[i], NULL, writer_main, w) != 0) {
			failf(r, "pthread_create failed");
			break;
		}
		started++;
	}

	long long left = start + delay - mdb_now_ms();
	if (left > 0)
		mdb_sleep_ms((int)left);
	atomic_store(&killed, 1);
	r->kill_ms = mdb_now_ms();
	int st = mdb_kill(r->s);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (st != STATUS_SIGKILL)
		failf(r, "the server exited with status %d before the kill", st);
	for (int i = 0; i < started; i++) {
		if (ws[i].failure[0] != '\0')
			failf(r, "%s", ws[i].failure);
	}
	data_dir_bytes(r, r->listing, sizeof r->listing);
	merge(r, ws);

	int rc = started == N_WRITERS && r->failures == 0 ? 0 : -1;
	if (rc == 0 && rng_range(&r->rng, 1, RECOVERY_KILL_EVERY) == 1) {
		/* Once more while it recovers: replay must not destroy anything. */
		const char *args[ARGS_MAX];
		server_args(r, args);
		r->log_cur = file_size(r->s->log_path);
		if (mdb_restart(r->s, args) != 0) {
			failf(r, "restart failed (server log above)");
			rc = -1;
		} else {
			mdb_sleep_ms((int)rng_range(&r->rng, 0, RECOVERY_KILL_MAX_MS));
			st = mdb_kill(r->s);
			if (st != STATUS_SIGKILL)
				failf(r, "the server exited with status %d while recovering", st);
			r->recovery_kills++;
		}
	}
	if (rc == 0)
		rc = restart(r);
	if (rc == 0)
		rc = verify_cycle(r, ws);
	if (r->verbose)
		printf("crash: cycle=%" PRIu32 " kill_after_ms=%d acknowledged_writes=%" PRIu64
		       " missing=%" PRIu64 " dels_undone=%" PRIu64
		       " restart_ms=%lld segment_bytes=%s %s\n",
		       r->cycle, delay, r->acked_sets - sets0, r->missing - missing0,
		       r->dels_undone - undone0, r->restart_ms, segment, r->listing);
	for (int i = 0; i < N_WRITERS; i++) {
		mdb_conn_close(ws[i].conn); /* those of writers never started */
		free(ws[i].ops);
	}
	return rc;
}

/* After a failure: keeps a copy of the data dir and prints the log of the
 * killed server and its successors. */
static void report_failure(crash_run *r)
{
	fprintf(stderr, "crash: data dir after the kill: %s\n", r->listing);
	if (r->s == NULL)
		return;
	char *keep = mdb_temp_dir();
	char *cp = mdb_which("cp");
	if (keep != NULL && cp != NULL) {
		const char *argv[] = {cp, "-a", r->s->data_dir, keep, NULL};
		mdb_proc res;
		if (mdb_run(argv, NULL, 0, mdb_timeout_ms(60000), &res) == 0 && res.status == 0)
			fprintf(stderr, "crash: data dir (as recovered) kept in %s\n", keep);
		mdb_proc_free(&res);
	}
	free(cp);
	free(keep);
	size_t len;
	char *log = read_log_from(r->s->log_path, r->log_prev, &len);
	fprintf(stderr, "---- server log since the killed server's start ----\n%s", log ? log : "");
	fprintf(stderr, "---- end of server log ----\n");
	free(log);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return def;
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	return end != v && *end == '\0' ? (uint64_t)n : def;
}

static void run_policy(const char *policy)
{
	crash_run r;
	memset(&r, 0, sizeof r);
	r.policy = policy;
	r.always = strcmp(policy, "always") == 0;
	r.seed = env_u64("MINIDB_CRASH_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	r.rng = r.seed;
	r.cycles = (uint32_t)env_u64("MINIDB_CRASH_CYCLES", DEFAULT_CYCLES);
	if (r.cycles == 0)
		r.cycles = DEFAULT_CYCLES;
	r.verbose = env_u64("MINIDB_CRASH_VERBOSE", 0) != 0;
	r.value_buf = xmalloc(LARGE_MAX);
	printf("crash: policy=%s cycles=%" PRIu32 " seed=%" PRIu64
	       " (replay the choices with MINIDB_CRASH_SEED=%" PRIu64 ")\n",
	       policy, r.cycles, r.seed, r.seed);
	fflush(stdout);

	long long t0 = mdb_now_ms();
	int rc = new_epoch(&r);
	for (r.cycle = 0; rc == 0 && r.cycle < r.cycles; r.cycle++) {
		rc = run_cycle(&r);
		if (rc == 0 && r.failures > 0)
			rc = -1;
		if (rc != 0)
			break;
		if ((r.cycle + 1) % 100 == 0 && r.cycle + 1 < r.cycles) {
			printf("crash: %" PRIu32 "/%" PRIu32 " cycles, %lld ms\n", r.cycle + 1,
			       r.cycles, mdb_now_ms() - t0);
			fflush(stdout);
		}
		if (r.cycle + 1 < r.cycles &&
		    (data_dir_bytes(&r, NULL, 0) > EPOCH_LOG_BYTES || r.n_keys > EPOCH_MAX_KEYS)) {
			rc = verify_all(&r);
			if (rc == 0 && r.failures == 0)
				rc = new_epoch(&r);
		}
	}
	if (rc == 0 && r.failures == 0)
		verify_all(&r);
	if (r.failures > 0) {
		report_failure(&r);
		fprintf(stderr, "crash: failures by kind:");
		for (int k = 0; k < F_KINDS; k++)
			fprintf(stderr, " %s=%" PRIu64, fail_names[k], r.fails[k]);
		fprintf(stderr, "\n");
	}
	if (r.s != NULL) {
		int st = mdb_stop(r.s);
		if (st != 0 && r.failures == 0)
			failf(&r, "SIGTERM at the end: exit status %d", st);
	}
	long long elapsed = mdb_now_ms() - t0;
	printf("crash: policy=%s cycles=%" PRIu32 " acknowledged_writes=%" PRIu64
	       " acknowledged_dels=%" PRIu64 " verified=%" PRIu64 " missing=%" PRIu64
	       " dels_undone=%" PRIu64 " max_lost_age_ms=%lld recovery_kills=%" PRIu64
	       " epochs=%" PRIu32 " snapshot_loads=%" PRIu64 " max_restart_ms=%lld verify_ms=%lld"
	       " failures=%" PRIu64 " seed=%" PRIu64 " elapsed_ms=%lld\n",
	       policy, r.cycle, r.acked_sets, r.acked_dels, r.verified, r.missing, r.dels_undone,
	       r.max_lost_age, r.recovery_kills, r.epochs, r.snapshot_loads, r.max_restart_ms,
	       r.verify_ms, r.failures, r.seed, elapsed);
	fflush(stdout);
	free(r.keys);
	free(r.list);
	free(r.value_buf);
	if (r.failures > 0)
		fail_msg("%" PRIu64 " failures; replay with MINIDB_CRASH_SEED=%" PRIu64, r.failures,
		         r.seed);
}

static void under_fsync_always_no_acknowledged_write_is_lost_to_sigkill(void **state)
{
	(void)state;
	run_policy("always");
}

static void under_fsync_everysec_only_writes_acknowledged_in_the_last_2s_are_lost(void **state)
{
	(void)state;
	run_policy("everysec");
}

int main(int argc, char **argv)
{
	const char *policy = argc > 1 ? argv[1] : getenv("MINIDB_CRASH_POLICY");
	if (policy == NULL)
		policy = "always";
	const struct CMUnitTest always[] = {
	        cmocka_unit_test(under_fsync_always_no_acknowledged_write_is_lost_to_sigkill),
	};
	const struct CMUnitTest everysec[] = {
	        cmocka_unit_test(
	                under_fsync_everysec_only_writes_acknowledged_in_the_last_2s_are_lost),
	};
	if (strcmp(policy, "always") == 0)
		return cmocka_run_group_tests_name("crash/always", always, NULL, NULL);
	if (strcmp(policy, "everysec") == 0)
		return cmocka_run_group_tests_name("crash/everysec", everysec, NULL, NULL);
	fprintf(stderr, "usage: %s always|everysec (or MINIDB_CRASH_POLICY)\n", argv[0]);
	return 2;
}
