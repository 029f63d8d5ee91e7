/* minidb-bench.c - load generator for the minidb line protocol (docs/protocol.md),
 * in the manner of redis-benchmark; the grown-up form of the original load.go.
 *
 * Each test (set, lookup, ping, exists, del) runs -n requests over -c fresh
 * connections, shared out among --threads workers. A worker owns its connections
 * outright (no locks): one epoll loop, edge-triggered, non-blocking sockets. The
 * only shared mutable state of a test is the atomic count of requests handed out,
 * so the total is exact however unevenly the connections run. Each connection
 * keeps -P requests outstanding; a request's latency runs from the moment its
 * command was queued for the write to the moment its reply line was parsed.
 *
 * Latencies go into a per-worker log-linear histogram (below), merged at the end.
 *
 * --tls runs every connection over TLS (OpenSSL, through tool_common.c) and
 * --auth TOKEN sends AUTH on each; both happen while connecting, before the clock
 * starts, so the figures measure steady-state encrypted traffic, not handshakes.
 * The plaintext path is the one it always was: plain send(2)/recv(2), with one
 * branch on the connection's TLS session to pick it.
 * Standalone program: libc, pthreads, OpenSSL and tool_common.c only, never src/
 * headers.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tool_common.h"

/* Exit statuses. */
enum {
	BENCH_EXIT_OK = 0,
	BENCH_EXIT_FAILED = 1, /* error replies, lost connections, --timeout hit */
	BENCH_EXIT_USAGE = 2,  /* bad arguments, or the server could not be reached */
};

#define MAX_TESTS       32
#define MAX_VALUE_BYTES ((size_t)512 * 1024 * 1024)
#define MAX_PIPELINE    65536
#define MAX_THREADS     1024
#define EPOLL_BATCH     256
#define READ_CHUNK      65536

/* ---- Latency histogram ----
 *
 * Log-linear, like HdrHistogram with 7 bits of sub-bucket precision: values
 * below 256 ns get a bucket each; above, each power of two [2^k, 2^(k+1)) is cut
 * into 128 equal buckets, so a bucket is at most 1/128 (0.8%) of its value wide.
 * Index = shift * 128 + (v >> shift) with shift = msb(v) - 7. Shifts up to 34
 * reach 2^42 ns (73 minutes), well past any --timeout; larger values land in the
 * last bucket. 4,608 counters (36 KiB) per worker, merged by adding. A plain
 * log2 histogram was rejected: its p99 could be off by a factor of two. */
#define HIST_SUB_BITS  7
#define HIST_SUB       (1u << HIST_SUB_BITS)
#define HIST_MAX_SHIFT 34
#define HIST_BUCKETS   ((HIST_MAX_SHIFT + 2) * HIST_SUB)

struct hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total, sum, min, max; /* exact, in ns */
};

/* Values are value_bytes of this, repeated: printable, no blanks or quotes,
 * so the server stores and returns them raw. */
static const char value_pattern[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
#define VALUE_PATTERN_LEN (sizeof(value_pattern) - 1)

enum test_kind { TEST_SET, TEST_LOOKUP, TEST_PING, TEST_EXISTS, TEST_DEL };

/* Indexed by test_kind for the first entries, whose names are canonical;
 * aliases follow. */
static const struct test_name {
	const char *name, *label;
	enum test_kind kind;
} test_names[] = {
        {"set", "SET", TEST_SET},    {"lookup", "LOOKUP", TEST_LOOKUP},
        {"ping", "PING", TEST_PING}, {"exists", "EXISTS", TEST_EXISTS},
        {"del", "DEL", TEST_DEL},    {"get", "LOOKUP", TEST_LOOKUP},
};

struct bench_opts {
	const char *host, *port;
	int clients, pipeline, threads;
	uint64_t requests; /* 0: until --duration */
	uint64_t keyspace;
	size_t value_bytes;
	double duration_s; /* 0: none */
	double timeout_s;  /* 0: none */
	int json, quiet;
	int ntests;
	const struct test_name *tests[MAX_TESTS];
	struct tool_tls_opts tls;
	struct ssl_ctx_st *tls_ctx; /* when tls.enabled */
	const char *auth_token;     /* --auth: sent by every connection; NULL: none */
};

/* One test, shared read-only by the workers except for `issued`. */
struct bench_test {
	const struct bench_opts *o;
	enum test_kind kind;
	const char *value; /* value_bytes of printable pattern */
	size_t max_line;   /* longest reply line accepted */
	uint64_t limit;    /* requests to hand out */
	_Atomic uint64_t issued;
	uint64_t hard_deadline_ns; /* 0: none */
	pthread_barrier_t start;
};

/* A client connection. Requests in flight are a ring of send times; replies
 * arrive in order, so the oldest time belongs to the next reply. */
struct conn {
	int fd;
	struct ssl_st *ssl; /* NULL: plaintext */
	int dead;
	char *wbuf;
	size_t wlen, woff, wcap;
	char *rbuf;
	size_t rlen, rcap, rscan; /* rbuf[0, rscan) holds no '\n' */
	uint64_t *sent_ns;
	unsigned head, count, ring;
};

struct worker {
	pthread_t thread;
	int id;
	struct bench_test *t;
	struct conn *conns;
	int nconns;
	uint64_t rng;
	uint64_t stop_issue_ns; /* --duration reached: issue nothing more */
	uint64_t inflight;      /* sum of conns' count */
	uint64_t replies, errors;
	uint64_t lost_conns;
	uint64_t end_ns;
	int timed_out;
	char first_error[200];
	_Atomic uint64_t progress; /* replies, for the progress line */
	_Atomic int finished;      /* set last: the fields above are final */
	struct hist hist;
};

static const char *prog = "minidb-bench";

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: %s [options]\n"
	        "\n"
	        "Load generator for the minidb line protocol.\n"
	        "\n"
	        "  -h, --host HOST       server name or IPv4/IPv6 address (default 127.0.0.1)\n"
	        "  -p, --port PORT       server port (default 8080)\n"
	        "  -c CLIENTS            connections (default 50)\n"
	        "  -n REQUESTS           requests per test (default 100000; 0 = until --duration)\n"
	        "  -P PIPELINE           requests kept in flight per connection (default 1)\n"
	        "  -r KEYSPACE           keys are key:<random in [0, KEYSPACE)> (default 100000)\n"
	        "  -d BYTES              value size for set (default 16)\n"
	        "  -t TESTS              comma-separated, run in order: set, lookup (or get),\n"
	        "                        ping, exists, del (default set,lookup)\n"
	        "  --threads N           worker threads, each an epoll loop (default 2)\n"
	        "  --duration SECONDS    end each test after this long even if -n not reached\n"
	        "  --timeout SECONDS     hard cap on the whole run; exceeding it is a failure\n"
	        "                        (default 60; 0 = none)\n"
	        "  --json                print one JSON object instead of text\n"
	        "  -q                    quiet: only the result line of each test\n"
	        "  --tls                 connect with TLS; the server's certificate must chain to\n"
	        "                        --ca-cert (or the system's CAs) and name the host\n"
	        "  --ca-cert FILE        trust the CA certificates in FILE (PEM); implies --tls\n"
	        "  --cert FILE           client certificate (PEM) for mutual TLS; implies --tls\n"
	        "  --key FILE            its private key (default: in the --cert file)\n"
	        "  --sni NAME            TLS server name to send and verify instead of the host\n"
	        "  --insecure            do not verify the server's certificate; implies --tls\n"
	        "  --auth TOKEN          every connection sends AUTH TOKEN (MINIDB_TOKEN in the\n"
	        "                        environment when TOKEN is '-')\n"
	        "  --help, --version\n"
	        "\n"
	        "Connections are opened, TLS handshakes done and AUTH answered before each\n"
	        "test's clock starts; a connection that cannot do so stops the run.\n"
	        "Every reply is checked (set: OK; lookup: the value or NOT FOUND; ping: PONG;\n"
	        "exists: 1 or 0; del: OK or NOT FOUND). Latency is measured per request, from\n"
	        "queueing its command for the write to parsing its reply. Redis's answers to\n"
	        "the same inline commands (+OK, +PONG, :1, :0) pass too, so set, ping, exists\n"
	        "and del also measure a Redis server.\n"
	        "Exit status: 0; 1 on error replies, lost connections or --timeout; 2 on bad\n"
	        "arguments or when the server cannot be reached.\n",
	        prog);
}

static void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(BENCH_EXIT_FAILED);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* ---- Histogram ---- */

static unsigned hist_index(uint64_t v)
{
	unsigned shift;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
	if (shift > HIST_MAX_SHIFT)
		return HIST_BUCKETS - 1;
	return shift * HIST_SUB + (unsigned)(v >> shift);
}

/* The largest value that lands in bucket idx. */
static uint64_t hist_bucket_top(unsigned idx)
{
	unsigned shift;
	uint64_t m;

	if (idx < 2 * HIST_SUB)
		return idx;
	shift = idx / HIST_SUB - 1;
	m = idx - shift * HIST_SUB;
	return ((m + 1) << shift) - 1;
}

static void hist_record(struct hist *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	if (h->total == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->total++;
	h->sum += v;
}

static void hist_merge(struct hist *into, const struct hist *from)
{
	unsigned i;

	if (from->total == 0)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		into->counts[i] += from->counts[i];
	if (into->total == 0 || from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	into->total += from->total;
	into->sum += from->sum;
}

/* The value at quantile q (0..1), as the top of its bucket but never above the
 * exact maximum; 0 for an empty histogram. */
static uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (h->total == 0)
		return 0;
	want = (uint64_t)ceil(q * (double)h->total);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			uint64_t top = hist_bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}

/* ---- Request generation ---- */

/* xorshift64*: fast, and good enough to spread keys. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Takes up to want requests from the test's budget; returns how many. */
static unsigned claim_requests(struct bench_test *t, unsigned want)
{
	uint64_t prev = atomic_fetch_add_explicit(&t->issued, want, memory_order_relaxed);

	if (prev >= t->limit)
		return 0;
	return t->limit - prev < want ? (unsigned)(t->limit - prev) : want;
}

static void wbuf_reserve(struct conn *c, size_t more)
{
	if (tool_buf_grow(&c->wbuf, &c->wcap, c->wlen + more, 4096) < 0)
		die("out of memory");
}

/* Writes "key:<n>" at p; returns its length. */
static size_t format_key(char *p, uint64_t n)
{
	char digits[20];
	size_t len = 0, i;

	do {
		digits[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	memcpy(p, "key:", 4);
	for (i = 0; i < len; i++)
		p[4 + i] = digits[len - 1 - i];
	return 4 + len;
}

/* Appends one command for the test to the connection's write buffer. */
static void append_command(struct worker *w, struct conn *c)
{
	const struct bench_test *t = w->t;
	size_t vlen = t->o->value_bytes;
	char *p;

	wbuf_reserve(c, 64 + vlen);
	p = c->wbuf + c->wlen;
	switch (t->kind) {
	case TEST_SET:
		memcpy(p, "SET ", 4);
		p += 4;
		p += format_key(p, rng_next(&w->rng) % t->o->keyspace);
		*p++ = ' ';
		if (vlen == 0) {
			memcpy(p, "\"\"", 2); /* an empty value must be quoted */
			p += 2;
		}
		memcpy(p, t->value, vlen);
		p += vlen;
		break;
	case TEST_LOOKUP:
		memcpy(p, "LOOKUP ", 7);
		p += 7;
		p += format_key(p, rng_next(&w->rng) % t->o->keyspace);
		break;
	case TEST_EXISTS:
		memcpy(p, "EXISTS ", 7);
		p += 7;
		p += format_key(p, rng_next(&w->rng) % t->o->keyspace);
		break;
	case TEST_DEL:
		memcpy(p, "DEL ", 4);
		p += 4;
		p += format_key(p, rng_next(&w->rng) % t->o->keyspace);
		break;
	case TEST_PING:
		memcpy(p, "PING", 4);
		p += 4;
		break;
	}
	*p++ = '\n';
	c->wlen = (size_t)(p - c->wbuf);
}

/* ---- Connections ---- */

/* Keeps the first error of the worker, for the report: prefix then detail
 * (quoted, cut at 120 bytes). */
static void note_error(struct worker *w, const char *prefix, const char *detail, size_t len)
{
	if (w->first_error[0] == '\0') {
		int n = (int)(len > 120 ? 120 : len);
		snprintf(w->first_error, sizeof(w->first_error), "%s'%.*s'%s", prefix, n, detail,
		         len > 120 ? "..." : "");
	}
}

/* strerror(3) is not guaranteed thread-safe; workers name the few socket
 * errors they meet themselves. */
static const char *sock_error_text(int err)
{
	switch (err) {
	case ECONNRESET:
		return "connection reset by peer";
	case EPIPE:
		return "broken pipe";
	case ETIMEDOUT:
		return "timed out";
	case ENOBUFS:
	case ENOMEM:
		return "out of buffer space";
	default:
		return "socket error";
	}
}

/* Marks c dead: its requests in flight are lost and count as errors. A lost
 * connection fails the run even with nothing in flight: the test stopped
 * short of its count. */
static void conn_fail(struct worker *w, struct conn *c, const char *why)
{
	w->lost_conns++;
	w->errors += c->count;
	w->inflight -= c->count;
	c->count = 0;
	c->dead = 1;
	note_error(w, "connection lost: ", why, strlen(why));
	if (c->ssl != NULL) {
		SSL_free(c->ssl); /* no close_notify: the connection is broken */
		c->ssl = NULL;
	}
	close(c->fd); /* also takes it out of the epoll set */
	c->fd = -1;
}

/* Tops c up to -P requests in flight, unless the budget or --duration is
 * spent. All commands queued together share the send time `now`. */
static void conn_fill(struct worker *w, struct conn *c, uint64_t now)
{
	unsigned want, got, i;

	if (c->dead || c->count >= c->ring || now >= w->stop_issue_ns)
		return;
	want = c->ring - c->count;
	got = claim_requests(w->t, want);
	for (i = 0; i < got; i++) {
		append_command(w, c);
		c->sent_ns[(c->head + c->count) % c->ring] = now;
		c->count++;
	}
	w->inflight += got;
}

/* Writes what the connection has queued until done or the socket is full. */
static void conn_flush(struct worker *w, struct conn *c)
{
	int err;

	if (!c->dead) {
		if (c->ssl == NULL) {
			err = tool_send_avail(c->fd, c->wbuf, c->wlen, &c->woff);
		} else {
			/* TLS may want to read first: the EPOLLIN that brings
			 * it also calls here again. */
			struct tool_conn tc = {.fd = c->fd, .ssl = c->ssl};
			short want;
			err = tool_conn_send(&tc, c->wbuf, c->wlen, &c->woff, &want);
		}
		if (err != 0) {
			conn_fail(w, c,
			          err == EPROTO ? tool_tls_error_reason() : sock_error_text(err));
			return;
		}
		if (c->woff < c->wlen)
			return; /* the socket is full: EPOLLOUT will call again */
	}
	c->woff = c->wlen = 0;
}

/* True when line is a correct reply for the test. A Redis server answers the
 * same lines as inline commands, in RESP: +OK, +PONG and :1 are accepted too
 * (after the minidb reply, so they cost nothing there), so one client can
 * measure both servers with set, ping, exists and del (not lookup: a bulk
 * reply takes two lines). */
static int reply_ok(const struct bench_test *t, const char *line, size_t len)
{
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(line, lit, sizeof(lit) - 1) == 0)
	switch (t->kind) {
	case TEST_SET:
		return IS("OK") || IS("+OK");
	case TEST_LOOKUP:
		if (IS("NOT FOUND"))
			return 1;
		if (t->o->value_bytes == 0)
			return len == 0 || IS("\"\"");
		return len == t->o->value_bytes && memcmp(line, t->value, len) == 0;
	case TEST_PING:
		return IS("PONG") || IS("+PONG");
	case TEST_EXISTS:
		return IS("1") || IS("0") || IS(":1") || IS(":0");
	case TEST_DEL:
		return IS("OK") || IS("NOT FOUND") || IS(":1") || IS(":0");
	}
	return 0;
#undef IS
}

/* True when line looks like a value some minidb-bench run stored. */
static int is_bench_value(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != value_pattern[i % VALUE_PATTERN_LEN])
			return 0;
	return len > 0;
}

static void handle_reply(struct worker *w, struct conn *c, const char *line, size_t len,
                         uint64_t now)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (c->count == 0) {
		w->errors++;
		note_error(w, "reply to no request: ", line, len);
		return;
	}
	hist_record(&w->hist, now - c->sent_ns[c->head]);
	c->head = (c->head + 1) % c->ring;
	c->count--;
	w->inflight--;
	w->replies++;
	if (!reply_ok(w->t, line, len)) {
		w->errors++;
		if (w->t->kind == TEST_LOOKUP && is_bench_value(line, len))
			note_error(w,
			           "value of another size (left by a run with another -d?): ", line,
			           len);
		else
			note_error(w, "unexpected reply: ", line, len);
	}
}

/* Parses the complete reply lines in rbuf, keeping a partial last line. */
static void conn_parse(struct worker *w, struct conn *c, uint64_t now)
{
	size_t pos = 0;
	char *nl;

	while ((nl = memchr(c->rbuf + c->rscan, '\n', c->rlen - c->rscan)) != NULL) {
		size_t end = (size_t)(nl - c->rbuf);
		handle_reply(w, c, c->rbuf + pos, end - pos, now);
		pos = end + 1;
		c->rscan = pos;
	}
	if (pos > 0) {
		memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
		c->rlen -= pos;
	}
	c->rscan = c->rlen;
	if (c->rlen > w->t->max_line)
		conn_fail(w, c, "reply line too long");
}

/* conn_read for a TLS connection: SSL_read until it wants more from the
 * socket, which has then been drained as edge-triggered epoll requires. */
static void conn_read_tls(struct worker *w, struct conn *c)
{
	struct tool_conn tc = {.fd = c->fd, .ssl = c->ssl};
	short want;
	ssize_t n;

	while (!c->dead) {
		if (tool_buf_grow(&c->rbuf, &c->rcap, c->rlen + READ_CHUNK / 4, READ_CHUNK) < 0)
			die("out of memory");
		n = tool_conn_recv(&tc, c->rbuf + c->rlen, c->rcap - c->rlen, &want);
		if (n > 0) {
			c->rlen += (size_t)n;
			conn_parse(w, c, tool_now_ns());
		} else if (n == 0) {
			conn_fail(w, c, "server closed the connection");
		} else if (errno == EAGAIN) {
			return;
		} else {
			conn_fail(w, c,
			          errno == EPROTO ? tool_tls_error_reason()
			                          : sock_error_text(errno));
		}
	}
}

/* Reads and parses until the socket is drained (edge-triggered epoll). */
static void conn_read(struct worker *w, struct conn *c)
{
	ssize_t n;

	if (c->ssl != NULL) {
		conn_read_tls(w, c);
		return;
	}
	while (!c->dead) {
		if (tool_buf_grow(&c->rbuf, &c->rcap, c->rlen + READ_CHUNK / 4, READ_CHUNK) < 0)
			die("out of memory");
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			conn_parse(w, c, tool_now_ns());
		} else if (n == 0) {
			conn_fail(w, c, "server closed the connection");
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else {
			conn_fail(w, c, sock_error_text(errno));
		}
	}
}

/* ---- Workers ---- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_test *t = w->t;
	struct epoll_event evs[EPOLL_BATCH];
	uint64_t start;
	int epfd, i, n, ms;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1 failed");
	for (i = 0; i < w->nconns; i++) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		                         .data.ptr = &w->conns[i]};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->conns[i].fd, &ev) < 0)
			die("epoll_ctl failed");
	}

	pthread_barrier_wait(&t->start);
	start = tool_now_ns();
	w->stop_issue_ns = UINT64_MAX;
	if (t->o->duration_s > 0)
		w->stop_issue_ns = start + (uint64_t)(t->o->duration_s * 1e9);
	for (i = 0; i < w->nconns; i++) {
		conn_fill(w, &w->conns[i], tool_now_ns());
		conn_flush(w, &w->conns[i]);
	}

	/* Replies are what trigger new requests, so with nothing in flight
	 * there is nothing more to do. */
	while (w->inflight > 0) {
		ms = tool_ms_left(t->hard_deadline_ns);
		if (ms == 0) {
			w->timed_out = 1;
			break;
		}
		if (ms > 1000)
			ms = 1000;
		n = epoll_wait(epfd, evs, EPOLL_BATCH, ms);
		if (n < 0 && errno != EINTR)
			die("epoll_wait failed");
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->dead)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				conn_read(w, c);
			conn_fill(w, c, tool_now_ns());
			conn_flush(w, c);
		}
		atomic_store_explicit(&w->progress, w->replies, memory_order_relaxed);
	}
	w->end_ns = tool_now_ns();
	atomic_store_explicit(&w->progress, w->replies, memory_order_relaxed);
	atomic_store_explicit(&w->finished, 1, memory_order_release);
	close(epfd);
	return NULL;
}

static void conn_free(struct conn *c)
{
	struct tool_conn tc = {.fd = c->fd, .ssl = c->ssl};

	tool_conn_close(&tc); /* TLS: close_notify first */
	free(c->wbuf);
	free(c->rbuf);
	free(c->sent_ns);
}

/* ---- Tests ---- */

struct test_result {
	const struct test_name *name;
	uint64_t replies, errors, lost_conns;
	double seconds;
	struct hist *hist;
	int timed_out;
};

/* Prints the running total on stderr about once a second until every worker
 * is done. Only for a terminal: a log file does not want carriage returns. */
static void show_progress(struct worker *ws, int nw, const char *label, uint64_t t0)
{
	uint64_t total, last_print = t0;
	int i, done;
	struct timespec tick = {0, 50 * 1000 * 1000};

	for (;;) {
		nanosleep(&tick, NULL);
		total = 0;
		done = 1;
		for (i = 0; i < nw; i++) {
			total += atomic_load_explicit(&ws[i].progress, memory_order_relaxed);
			if (!atomic_load_explicit(&ws[i].finished, memory_order_acquire))
				done = 0;
		}
		if (done)
			break;
		if (tool_now_ns() - last_print >= 1000000000u) {
			last_print = tool_now_ns();
			fprintf(stderr, "\r%s: %" PRIu64 " requests, %.2f ops/s    ", label, total,
			        (double)total / ((double)(last_print - t0) / 1e9));
		}
	}
	fprintf(stderr, "\r%*s\r", 60, "");
}

/* Sends AUTH <token> on a fresh connection and waits for OK, no later than
 * deadline_ns. Returns 0, or -1 after printing why (the server's reply, which
 * never holds the token; the token itself is never printed). */
static int conn_authenticate(const struct bench_opts *o, const struct tool_conn *tc,
                             uint64_t deadline_ns, const char *which)
{
	size_t tlen = strlen(o->auth_token), off = 0, got = 0;
	char *cmd = xcalloc(1, tlen + 7), reply[512], *nl = NULL;
	const char *why = NULL;
	ssize_t n;
	short want;
	int rc;

	memcpy(cmd, "AUTH ", 5);
	memcpy(cmd + 5, o->auth_token, tlen);
	cmd[5 + tlen] = '\n';
	for (;;) {
		rc = tool_conn_send(tc, cmd, tlen + 6, &off, &want);
		if (rc != 0 || off == tlen + 6)
			break;
		rc = tool_wait_fd(tc->fd, want, deadline_ns);
		if (rc <= 0) {
			rc = rc == 0 ? ETIMEDOUT : errno;
			break;
		}
	}
	explicit_bzero(cmd, tlen + 6);
	free(cmd);
	while (rc == 0 && nl == NULL && got < sizeof(reply) - 1) {
		n = tool_conn_recv(tc, reply + got, sizeof(reply) - 1 - got, &want);
		if (n > 0) {
			got += (size_t)n;
			nl = memchr(reply, '\n', got);
		} else if (n == 0) {
			why = "the server closed the connection";
			break;
		} else if (errno != EAGAIN) {
			rc = errno;
		} else if ((rc = tool_wait_fd(tc->fd, want, deadline_ns)) <= 0) {
			rc = rc == 0 ? ETIMEDOUT : errno;
		} else {
			rc = 0;
		}
	}
	if (nl != NULL) {
		size_t len = (size_t)(nl - reply);

		if (len > 0 && reply[len - 1] == '\r')
			len--;
		if (len == 2 && memcmp(reply, "OK", 2) == 0)
			return 0;
		fprintf(stderr, "%s: %s: AUTH refused: %.*s\n", prog, which, (int)len, reply);
		return -1;
	}
	if (why == NULL)
		why = rc == EPROTO ? tool_tls_error_reason()
		      : rc != 0    ? strerror(rc)
		                   : "reply line too long";
	fprintf(stderr, "%s: %s: AUTH got no answer: %s\n", prog, which, why);
	return -1;
}

/* Makes the connected socket fd ready for the test: the TLS handshake, then
 * AUTH, when asked. Returns 0 with c->ssl set for TLS, or -1 after printing
 * why. which names the connection in messages. */
static int conn_setup(const struct bench_opts *o, struct conn *c, uint64_t deadline_ns,
                      const char *which)
{
	struct tool_conn tc = {.fd = c->fd};

	if (o->tls.enabled) {
		tc.ssl = tool_tls_connect(prog, o->tls_ctx, c->fd, o->host, o->port, &o->tls,
		                          deadline_ns);
		if (tc.ssl == NULL)
			return -1; /* tool_tls_connect said why */
		c->ssl = tc.ssl;
	}
	if (o->auth_token != NULL)
		return conn_authenticate(o, &tc, deadline_ns, which);
	return 0;
}

/* Runs one test: connects every client, starts the clock once all are
 * connected, waits for the workers. Returns 0, or -1 if it could not connect
 * (already reported). */
static int run_test(const struct bench_opts *o, const struct test_name *tn,
                    const struct addrinfo *ai, const char *value, uint64_t hard_deadline_ns,
                    struct test_result *res)
{
	struct bench_test t = {.o = o, .kind = tn->kind, .value = value};
	struct conn *conns = xcalloc((size_t)o->clients, sizeof(*conns));
	struct worker *ws = xcalloc((size_t)o->threads, sizeof(*ws));
	uint64_t t0, t1 = 0;
	int i, err = 0, status = 0, progress;

	t.limit = o->requests ? o->requests : UINT64_MAX;
	t.max_line = 4 * o->value_bytes + 65536;
	t.hard_deadline_ns = hard_deadline_ns;
	atomic_init(&t.issued, 0);

	for (i = 0; i < o->clients; i++)
		conns[i].fd = -1;
	for (i = 0; i < o->clients; i++) {
		conns[i].fd = tool_connect_addr(ai, hard_deadline_ns, &err);
		if (conns[i].fd < 0 && err == ETIMEDOUT && hard_deadline_ns != 0 &&
		    tool_now_ns() >= hard_deadline_ns) {
			res->name = tn;
			res->timed_out = 1; /* the caller reports it */
			goto cleanup;
		}
		if (conns[i].fd < 0) {
			fprintf(stderr, "%s: %s: cannot open connection %d of %d: %s\n", prog,
			        tn->label, i + 1, o->clients, strerror(err));
			status = -1;
			goto cleanup;
		}
		if (o->tls.enabled || o->auth_token != NULL) {
			char which[64];

			snprintf(which, sizeof(which), "%s: connection %d of %d", tn->label, i + 1,
			         o->clients);
			if (conn_setup(o, &conns[i], hard_deadline_ns, which) < 0) {
				status = -1;
				goto cleanup;
			}
		}
		conns[i].ring = (unsigned)o->pipeline;
		conns[i].sent_ns = xcalloc(conns[i].ring, sizeof(uint64_t));
	}

	if (pthread_barrier_init(&t.start, NULL, (unsigned)o->threads + 1) != 0)
		die("pthread_barrier_init failed");
	for (i = 0; i < o->threads; i++) {
		struct worker *w = &ws[i];
		int lo = (int)((int64_t)o->clients * i / o->threads);
		int hi = (int)((int64_t)o->clients * (i + 1) / o->threads);

		w->id = i;
		w->t = &t;
		w->conns = conns + lo;
		w->nconns = hi - lo;
		/* Seeded by thread id alone, the same for every test, so a
		 * lookup test asks for the keys the set test wrote. */
		w->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) ^ 0x6d696e6964626e63ull;
		atomic_init(&w->progress, 0);
		atomic_init(&w->finished, 0);
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			die("pthread_create failed");
	}
	pthread_barrier_wait(&t.start);
	t0 = tool_now_ns();

	progress = !o->quiet && isatty(STDERR_FILENO);
	if (progress)
		show_progress(ws, o->threads, tn->label, t0);
	res->name = tn;
	res->hist = xcalloc(1, sizeof(*res->hist));
	for (i = 0; i < o->threads; i++) {
		struct worker *w = &ws[i];

		pthread_join(w->thread, NULL);
		if (w->end_ns > t1)
			t1 = w->end_ns;
		res->replies += w->replies;
		res->errors += w->errors;
		res->lost_conns += w->lost_conns;
		res->timed_out |= w->timed_out;
		hist_merge(res->hist, &w->hist);
		if (w->first_error[0] != '\0')
			fprintf(stderr,
			        "%s: %s: thread %d: %" PRIu64 " errors, %" PRIu64
			        " connections lost; first: %s\n",
			        prog, tn->label, i, w->errors, w->lost_conns, w->first_error);
	}
	res->seconds = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	pthread_barrier_destroy(&t.start);

cleanup:
	for (i = 0; i < o->clients; i++)
		conn_free(&conns[i]);
	free(conns);
	free(ws);
	return status;
}

/* ---- Output ---- */

static double ns_to_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void print_human(const struct bench_opts *o, const struct test_result *r)
{
	const struct hist *h = r->hist;
	char lost[48] = "";

	if (r->lost_conns > 0)
		snprintf(lost, sizeof(lost), ", %" PRIu64 " connections lost", r->lost_conns);
	printf("%s: %.2f ops/s  p50=%.3f ms  p99=%.3f ms  p99.9=%.3f ms  max=%.3f ms  "
	       "(%" PRIu64 " requests, %d clients, pipeline %d, %zu-byte values, %" PRIu64
	       " errors%s)\n",
	       r->name->label, r->seconds > 0 ? (double)r->replies / r->seconds : 0,
	       ns_to_ms(hist_quantile(h, 0.50)), ns_to_ms(hist_quantile(h, 0.99)),
	       ns_to_ms(hist_quantile(h, 0.999)), ns_to_ms(h->max), r->replies, o->clients,
	       o->pipeline, o->value_bytes, r->errors, lost);
	if (!o->quiet && h->total > 0)
		printf("  %.3f s; latency ms: min=%.3f mean=%.3f p90=%.3f p99.99=%.3f\n",
		       r->seconds, ns_to_ms(h->min), (double)h->sum / (double)h->total / 1e6,
		       ns_to_ms(hist_quantile(h, 0.90)), ns_to_ms(hist_quantile(h, 0.9999)));
	fflush(stdout);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct bench_opts *o, const struct test_result *rs, int n)
{
	int i;

	fputs("{\"host\":", stdout);
	json_string(o->host);
	printf(",\"port\":%s,\"clients\":%d,\"pipeline\":%d,\"value_bytes\":%zu,"
	       "\"keyspace\":%" PRIu64 ",\"threads\":%d,\"tests\":[",
	       o->port, o->clients, o->pipeline, o->value_bytes, o->keyspace, o->threads);
	for (i = 0; i < n; i++) {
		const struct hist *h = rs[i].hist;
		printf("%s{\"name\":\"%s\",\"requests\":%" PRIu64 ",\"errors\":%" PRIu64
		       ",\"lost_connections\":%" PRIu64
		       ",\"seconds\":%.6f,\"ops_per_sec\":%.2f,\"latency_ms\":{\"p50\":%.3f,"
		       "\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}}",
		       i ? "," : "", test_names[rs[i].name->kind].name, rs[i].replies, rs[i].errors,
		       rs[i].lost_conns, rs[i].seconds,
		       rs[i].seconds > 0 ? (double)rs[i].replies / rs[i].seconds : 0,
		       ns_to_ms(hist_quantile(h, 0.50)), ns_to_ms(hist_quantile(h, 0.99)),
		       ns_to_ms(hist_quantile(h, 0.999)), ns_to_ms(h->max));
	}
	fputs("]}\n", stdout);
}

/* ---- Arguments ---- */

static int usage_error(const char *opt, const char *problem)
{
	return tool_usage_error(prog, opt, problem, BENCH_EXIT_USAGE);
}

static int parse_tests(char *list, struct bench_opts *o)
{
	char *tok, *save = NULL;
	size_t i;

	o->ntests = 0;
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(test_names) / sizeof(test_names[0]); i++)
			if (strcasecmp(tok, test_names[i].name) == 0)
				break;
		if (i == sizeof(test_names) / sizeof(test_names[0]) || o->ntests == MAX_TESTS)
			return -1;
		o->tests[o->ntests++] = &test_names[i];
	}
	return o->ntests > 0 ? 0 : -1;
}

/* Fills o from argv. Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	static char default_tests[] = "set,lookup";
	uint64_t v;
	size_t n;
	char *a, *val;
	int i;

	if (parse_tests(default_tests, o) < 0)
		return usage_error("-t", "bad default");
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return BENCH_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("minidb-bench %s (%s)\n", MINIDB_VERSION, MINIDB_COMMIT);
			return BENCH_EXIT_OK;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strcmp(a, "-q") == 0) {
			o->quiet = 1;
			continue;
		}
		if (strcmp(a, "--tls") == 0) {
			o->tls.enabled = 1;
			continue;
		}
		if (strcmp(a, "--insecure") == 0) {
			o->tls.insecure = 1;
			continue;
		}
		if ((n = tool_match_opt(a, NULL, "--ca-cert")) != 0 ||
		    (n = tool_match_opt(a, NULL, "--cacert")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (val == NULL || *val == '\0')
				return usage_error(a, "needs a file name");
			o->tls.ca_file = val;
		} else if ((n = tool_match_opt(a, NULL, "--cert")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (val == NULL || *val == '\0')
				return usage_error(a, "needs a file name");
			o->tls.cert_file = val;
		} else if ((n = tool_match_opt(a, NULL, "--key")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (val == NULL || *val == '\0')
				return usage_error(a, "needs a file name");
			o->tls.key_file = val;
		} else if ((n = tool_match_opt(a, NULL, "--sni")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (val == NULL || *val == '\0')
				return usage_error(a, "needs a server name");
			o->tls.sni = val;
		} else if ((n = tool_match_opt(a, NULL, "--auth")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (val != NULL && strcmp(val, "-") == 0)
				val = getenv("MINIDB_TOKEN");
			if (val == NULL || *val == '\0')
				return usage_error("--auth",
				                   "needs a token (or '-' and MINIDB_TOKEN set)");
			if (val[strcspn(val, " \t\r\n\"\\")] != '\0')
				return usage_error("--auth",
				                   "token holds a blank, quote or backslash; "
				                   "minidb-bench sends it unquoted");
			o->auth_token = val;
		} else if ((n = tool_match_opt(a, "-h", "--host")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (val == NULL || *val == '\0')
				return usage_error(a, "needs a host");
			o->host = val;
		} else if ((n = tool_match_opt(a, "-p", "--port")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(val, 1, 65535, &v) < 0)
				return usage_error(a, "needs a port number (1-65535)");
			o->port = val;
		} else if ((n = tool_match_opt(a, "-c", "--clients")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(val, 1, 1000000, &v) < 0)
				return usage_error(a, "needs a number of clients (1-1000000)");
			o->clients = (int)v;
		} else if ((n = tool_match_opt(a, "-n", "--requests")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(val, 0, UINT64_MAX / 2, &o->requests) < 0)
				return usage_error(a, "needs a number of requests");
		} else if ((n = tool_match_opt(a, "-P", "--pipeline")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(val, 1, MAX_PIPELINE, &v) < 0)
				return usage_error(a, "needs a pipeline depth (1-65536)");
			o->pipeline = (int)v;
		} else if ((n = tool_match_opt(a, "-r", "--keyspace")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(val, 1, UINT64_MAX, &o->keyspace) < 0)
				return usage_error(a, "needs a keyspace size >= 1");
		} else if ((n = tool_match_opt(a, "-d", "--value-bytes")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(val, 0, MAX_VALUE_BYTES, &v) < 0)
				return usage_error(a, "needs a value size (0-536870912)");
			o->value_bytes = (size_t)v;
		} else if ((n = tool_match_opt(a, "-t", "--tests")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (val == NULL || parse_tests(val, o) < 0)
				return usage_error(
				        a, "needs tests from set,lookup,get,ping,exists,del");
		} else if ((n = tool_match_opt(a, NULL, "--threads")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_u64(val, 1, MAX_THREADS, &v) < 0)
				return usage_error(a, "needs a number of threads (1-1024)");
			o->threads = (int)v;
		} else if ((n = tool_match_opt(a, NULL, "--duration")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_seconds(val, 1e7, &o->duration_s) < 0)
				return usage_error(a, "needs a number of seconds");
		} else if ((n = tool_match_opt(a, NULL, "--timeout")) != 0) {
			val = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_seconds(val, 1e7, &o->timeout_s) < 0)
				return usage_error(a, "needs a number of seconds");
		} else {
			return usage_error(a, "unknown option");
		}
	}
	if (o->requests == 0 && o->duration_s == 0)
		return usage_error("-n 0", "needs --duration");
	if (o->tls.key_file != NULL && o->tls.cert_file == NULL)
		return usage_error("--key", "needs --cert");
	o->tls.enabled |= o->tls.ca_file != NULL || o->tls.cert_file != NULL ||
	                  o->tls.sni != NULL || o->tls.insecure;
	if (o->threads > o->clients)
		o->threads = o->clients;
	return -1;
}

/* Raises the open-file soft limit to the hard limit and checks that every
 * client fits. Returns 0, or -1 after printing why not. */
static int raise_fd_limit(int clients)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)clients + 32 > rl.rlim_cur) {
		fprintf(stderr, "%s: %d clients need more open files than the limit of %llu\n",
		        prog, clients, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
	        .host = "127.0.0.1",
	        .port = "8080",
	        .clients = 50,
	        .pipeline = 1,
	        .threads = 2,
	        .requests = 100000,
	        .keyspace = 100000,
	        .value_bytes = 16,
	        .timeout_s = 60,
	};
	struct test_result results[MAX_TESTS] = {{0}};
	const struct addrinfo *ai = NULL;
	struct addrinfo *res;
	struct conn probe = {.fd = -1};
	uint64_t hard_deadline_ns = 0, errors = 0;
	char *value;
	size_t i;
	int rc, k, status = BENCH_EXIT_OK, done = 0;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (o.timeout_s > 0)
		hard_deadline_ns = tool_now_ns() + (uint64_t)(o.timeout_s * 1e9);
	if (raise_fd_limit(o.clients) < 0)
		return BENCH_EXIT_USAGE;

	value = xcalloc(1, o.value_bytes + 1);
	for (i = 0; i < o.value_bytes; i++)
		value[i] = value_pattern[i % VALUE_PATTERN_LEN];

	if (o.tls.enabled && (o.tls_ctx = tool_tls_ctx_new(prog, &o.tls)) == NULL) {
		free(value);
		return BENCH_EXIT_USAGE;
	}
	/* One probe connection finds the address every client then uses, and
	 * tries the handshake and the token once before fifty clients do. */
	probe.fd = tool_connect(prog, o.host, o.port, hard_deadline_ns, &res, &ai);
	if (probe.fd < 0) {
		tool_tls_ctx_free(o.tls_ctx);
		free(value);
		return BENCH_EXIT_USAGE;
	}
	rc = conn_setup(&o, &probe, hard_deadline_ns, "first connection");
	conn_free(&probe);
	if (rc < 0) {
		freeaddrinfo(res);
		tool_tls_ctx_free(o.tls_ctx);
		free(value);
		return BENCH_EXIT_USAGE;
	}
	if (!o.quiet && !o.json)
		printf("minidb-bench: %s port %s%s%s, %d clients on %d threads, pipeline %d, "
		       "keyspace %" PRIu64 ", %zu-byte values\n",
		       o.host, o.port, o.tls.enabled ? ", TLS" : "",
		       o.auth_token != NULL ? ", AUTH" : "", o.clients, o.threads, o.pipeline,
		       o.keyspace, o.value_bytes);

	for (k = 0; k < o.ntests; k++) {
		if (run_test(&o, o.tests[k], ai, value, hard_deadline_ns, &results[k]) < 0) {
			status = BENCH_EXIT_USAGE;
			break;
		}
		done++;
		errors += results[k].errors + results[k].lost_conns;
		if (results[k].timed_out) {
			/* Its figures cover only part of the run: not printed. */
			done--;
			free(results[k].hist);
			fprintf(stderr,
			        "%s: %s: run did not finish within --timeout %g s "
			        "(%" PRIu64 " replies)\n",
			        prog, o.tests[k]->label, o.timeout_s, results[k].replies);
			status = BENCH_EXIT_FAILED;
			break;
		}
		if (!o.json)
			print_human(&o, &results[k]);
	}
	if (o.json)
		print_json(&o, results, done);
	if (status == BENCH_EXIT_OK && errors > 0)
		status = BENCH_EXIT_FAILED;

	for (k = 0; k < done; k++)
		free(results[k].hist);
	freeaddrinfo(res);
	tool_tls_ctx_free(o.tls_ctx);
	free(value);
	if (fflush(stdout) != 0 && status == BENCH_EXIT_OK)
		status = BENCH_EXIT_FAILED;
	return status;
}
