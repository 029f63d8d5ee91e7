/* parquet_import.c - `minidb-parquet import`: every row of a Parquet file
 * becomes SET key value [PXAT ms] in a running server, over RESP.
 *
 * Commands are pipelined with a window: at most o->window are in flight
 * (sent or queued, reply not yet read), so neither side buffers the whole
 * file, and every reply is read and checked in order (replies come back in
 * command order, so a ring of row numbers names the row of a failed SET).
 * One non-blocking socket; when neither sending, receiving nor reading rows
 * makes progress, poll(2) waits at most --timeout for the server.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "parquet_tool.h"
#include "tool_common.h"

#define IMP_OUT_HIGH    ((size_t)4 << 20) /* stop encoding rows past this much unsent */
#define IMP_READ_CHUNK  65536
#define IMP_MAX_REPLY   ((size_t)1 << 20) /* a SET reply is short; more is not a reply to us */
#define IMP_SHOW_ERRORS 5
#define IMP_RESP_DEPTH  8

struct imp {
	int fd;
	char *out; /* unsent commands are out[out_off, out_len) */
	size_t out_len, out_off, out_cap;
	char *in; /* unparsed reply bytes are in[in_off, in_len) */
	size_t in_len, in_off, in_cap;
	uint64_t *rows; /* ring: row number of each command in flight */
	uint32_t window, head, inflight;
	uint64_t errors, shown;
};

static void die_oom(void)
{
	fprintf(stderr, "%s: out of memory\n", pt_prog);
	exit(PT_EXIT_FAIL);
}

static void out_reserve(struct imp *c, size_t more)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (more > SIZE_MAX / 2 - c->out_len)
		die_oom();
	if (c->out_len + more > c->out_cap && c->out_off > 0) { /* compact before growing */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (tool_buf_grow(&c->out, &c->out_cap, c->out_len + more, 65536) < 0)
		die_oom();
}

static void out_bulk(struct imp *c, const void *s, size_t n)
{
	char head[32];
	int h = snprintf(head, sizeof(head), "$%zu\r\n", n);

	out_reserve(c, (size_t)h + n + 2);
	memcpy(c->out + c->out_len, head, (size_t)h);
	c->out_len += (size_t)h;
	if (n > 0)
		memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	memcpy(c->out + c->out_len, "\r\n", 2);
	c->out_len += 2;
}

/* Queues SET key value [PXAT ms] for row number rowno. */
static void queue_set(struct imp *c, const pqr_row *r, uint64_t rowno)
{
	char ms[24];
	int n;

	out_reserve(c, 4);
	memcpy(c->out + c->out_len, r->has_expiry ? "*5\r\n" : "*3\r\n", 4);
	c->out_len += 4;
	out_bulk(c, "SET", 3);
	out_bulk(c, r->key, r->key_len);
	out_bulk(c, r->value, r->value_len);
	if (r->has_expiry) {
		n = snprintf(ms, sizeof(ms), "%lld", (long long)r->expires_ms);
		out_bulk(c, "PXAT", 4);
		out_bulk(c, ms, (size_t)n);
	}
	c->rows[(c->head + c->inflight) % c->window] = rowno;
	c->inflight++;
}

/* Length of the CRLF-terminated line at p[0..n) including the CRLF, 0 when
 * it is not complete yet. */
static size_t line_len(const char *p, size_t n)
{
	const char *nl = memchr(p, '\n', n);

	return nl == NULL ? 0 : (size_t)(nl - p) + 1;
}

/* Parses a decimal length (-1 allowed) from a RESP header line. */
static int parse_len(const char *p, size_t n, long long *v)
{
	char buf[24];
	char *end;

	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return errno == 0 && *end == '\0' && *v >= -1 ? 0 : -1;
}

/* Size of the complete RESP reply at p[0..n): > 0, 0 when more bytes are
 * needed, -1 when the bytes are not RESP. Any RESP2/RESP3 type is framed so
 * an unexpected reply is reported, not misread. */
static long long reply_size(const char *p, size_t n, int depth)
{
	size_t l, off;
	long long len, i, count, sub;

	if (n == 0)
		return 0;
	if (depth > IMP_RESP_DEPTH)
		return -1;
	l = line_len(p, n);
	if (l == 0)
		return n > IMP_MAX_REPLY ? -1 : 0;
	switch (p[0]) {
	case '+':
	case '-':
	case ':':
	case '_':
	case ',':
	case '#':
	case '(':
		return (long long)l;
	case '$':
	case '!':
	case '=':
		if (parse_len(p + 1, l - 1, &len) < 0)
			return -1;
		if (len < 0)
			return (long long)l;
		if ((size_t)len > IMP_MAX_REPLY)
			return -1;
		return n - l >= (size_t)len + 2 ? (long long)(l + (size_t)len + 2) : 0;
	case '*':
	case '~':
	case '>':
	case '%':
		if (parse_len(p + 1, l - 1, &count) < 0 || count > (1 << 20))
			return -1;
		if (p[0] == '%')
			count *= 2;
		off = l;
		for (i = 0; i < count; i++) {
			sub = reply_size(p + off, n - off, depth + 1);
			if (sub <= 0)
				return sub;
			off += (size_t)sub;
		}
		return (long long)off;
	default:
		return -1;
	}
}

/* Checks one reply (p[0..n)) against the command it answers. */
static void check_reply(struct imp *c, const char *p, size_t n)
{
	uint64_t rowno = c->rows[c->head];

	c->head = (c->head + 1) % c->window;
	c->inflight--;
	if (n == 5 && memcmp(p, "+OK\r\n", 5) == 0)
		return;
	c->errors++;
	if (c->shown++ < IMP_SHOW_ERRORS) {
		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			n--;
		if (n > 200)
			n = 200;
		fprintf(stderr, "%s: row %llu: SET answered ", pt_prog, (unsigned long long)rowno);
		pt_print_quoted(stderr, p, n);
		fputc('\n', stderr);
	}
}

/* Sends what the socket takes now. Returns bytes sent (>= 0) or -errno. */
static long long try_send(struct imp *c)
{
	size_t before = c->out_off;
	int err = tool_send_avail(c->fd, c->out, c->out_len, &c->out_off);

	return err != 0 ? -(long long)err : (long long)(c->out_off - before);
}

/* Reads what the socket has and checks every complete reply. Returns bytes
 * read (>= 0), -EPIPE at end of stream, -EPROTO on bytes that are not RESP,
 * or another -errno. */
static long long try_recv(struct imp *c)
{
	long long total = 0, sz;
	ssize_t n;

	for (;;) {
		if (c->in_off > 0) {
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		if (c->in_len + IMP_READ_CHUNK > c->in_cap) {
			if (c->in_cap * 2 > 4 * IMP_MAX_REPLY)
				return -EPROTO; /* a reply this long is not one to us */
			if (tool_buf_grow(&c->in, &c->in_cap, c->in_len + IMP_READ_CHUNK,
			                  4 * IMP_READ_CHUNK) < 0)
				die_oom();
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return total;
			return -errno;
		}
		c->in_len += (size_t)n;
		total += n;
		while ((sz = reply_size(c->in + c->in_off, c->in_len - c->in_off, 0)) > 0) {
			if (c->inflight == 0)
				return -EPROTO; /* a reply to nothing we sent */
			check_reply(c, c->in + c->in_off, (size_t)sz);
			c->in_off += (size_t)sz;
		}
		if (sz < 0)
			return -EPROTO;
	}
}

static void progress(uint64_t done, int64_t total, double elapsed, bool last)
{
	if (total > 0)
		fprintf(stderr, "\r%s: %llu/%lld rows (%3.0f%%), %.0f rows/s ", pt_prog,
		        (unsigned long long)done, (long long)total,
		        100.0 * (double)done / (double)total,
		        elapsed > 0 ? (double)done / elapsed : 0.0);
	else
		fprintf(stderr, "\r%s: %llu rows ", pt_prog, (unsigned long long)done);
	if (last)
		fputc('\n', stderr);
}

int pt_cmd_import(const struct pt_opts *o)
{
	struct imp c = {.fd = -1, .window = o->window};
	struct pt_counts n = {0};
	struct pt_source s;
	pqr_row row;
	bool eof = false, tty = isatty(STDERR_FILENO), failed = false;
	int64_t now = pt_wall_ms(), total;
	double t0 = pt_mono_s(), last_progress = 0;
	long long sent, got;
	int rc;

	if (pt_source_open(o, &s) < 0)
		return PT_EXIT_FAIL;
	total = pqr_metadata(s.f)->num_rows;
	c.rows = calloc(c.window, sizeof(*c.rows));
	if (c.rows == NULL)
		die_oom();
	c.fd = tool_connect(pt_prog, o->host, o->port, tool_deadline_after(o->timeout_ms), NULL,
	                    NULL);
	if (c.fd < 0) {
		failed = true;
		goto out;
	}
	while (!eof || c.inflight > 0) {
		bool moved = false;

		while (!eof && c.inflight < c.window && c.out_len - c.out_off < IMP_OUT_HIGH) {
			rc = pqr_cursor_next(s.cur, &row);
			if (rc <= 0) {
				if (rc < 0) {
					fprintf(stderr, "%s: %s\n", pt_prog,
					        pqr_cursor_error(s.cur));
					failed = true;
				}
				eof = true; /* still read the replies of what was sent */
				break;
			}
			moved = true;
			n.read++;
			if (row.key_null)
				n.null_key++;
			else if (row.value_null)
				n.null_value++;
			else if (row.has_expiry && row.expires_ms <= now)
				n.expired++;
			else
				queue_set(&c, &row, n.read);
		}
		sent = try_send(&c);
		if (sent < 0) {
			fprintf(stderr, "%s: send: %s\n", pt_prog, strerror((int)-sent));
			failed = true;
			break;
		}
		got = c.inflight > 0 ? try_recv(&c) : 0;
		if (got < 0) {
			if (got == -EPIPE || got == -ECONNRESET)
				fprintf(stderr,
				        "%s: the server closed the connection with %u replies "
				        "outstanding\n",
				        pt_prog, c.inflight);
			else if (got == -EPROTO)
				fprintf(stderr,
				        "%s: the server sent something that is not a RESP reply\n",
				        pt_prog);
			else
				fprintf(stderr, "%s: recv: %s\n", pt_prog, strerror((int)-got));
			failed = true;
			break;
		}
		if (tty && pt_mono_s() - last_progress >= 0.2) {
			last_progress = pt_mono_s();
			progress(n.read, total, last_progress - t0, false);
		}
		if (moved || sent > 0 || got > 0 || (eof && c.inflight == 0))
			continue;
		/* Nothing moved: wait for the server to read or answer. */
		rc = tool_wait_fd(c.fd, c.out_off < c.out_len ? POLLIN | POLLOUT : POLLIN,
		                  tool_deadline_after(o->timeout_ms));
		if (rc == 0) {
			fprintf(stderr,
			        "%s: the server made no progress for %d ms (%u replies "
			        "outstanding)\n",
			        pt_prog, o->timeout_ms, c.inflight);
			failed = true;
			break;
		}
		if (rc < 0) {
			fprintf(stderr, "%s: poll: %s\n", pt_prog, strerror(errno));
			failed = true;
			break;
		}
	}
	n.stored = n.read - n.null_key - n.null_value - n.expired - c.inflight - c.errors;
out:
	if (tty)
		progress(n.read, total, pt_mono_s() - t0, true);
	if (c.fd >= 0) {
		pt_print_counts(&n, "set:", (int64_t)c.errors, pt_mono_s() - t0);
		if (c.inflight > 0)
			printf("unanswered: %u\n", c.inflight);
	}
	if (c.fd >= 0)
		close(c.fd);
	free(c.out);
	free(c.in);
	free(c.rows);
	pt_source_close(&s);
	return failed || c.errors > 0 ? PT_EXIT_FAIL : PT_EXIT_OK;
}
