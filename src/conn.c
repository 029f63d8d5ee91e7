/* conn.c - a client connection's life: read, frame, execute, reply, close.
 *
 * Invariants:
 * - A connection is touched only by its worker's thread.
 * - Replies accumulate in `out` and leave in one write per loop turn
 *   (conn_worker_before_sleep), however many pipelined commands produced them.
 * - Memory per connection is bounded: input is read only while `out` is under
 *   OUT_HIGH_WATER (a client that pipelines without reading stops being read,
 *   it does not make us buffer its replies without limit), and `in` never
 *   holds more than one line of --max-line-bytes plus one read chunk.
 * - A closed connection is unlinked at once and freed at the end of the turn,
 *   so no list walk or pending event ever sees freed memory.
 * - Once a command has appended to the WAL, its reply and every later one
 *   stay in `out` (only the first hold_off bytes may be sent) until the
 *   WAL's acknowledgement sequence (persist_ack_seq: fsynced under --fsync
 *   always, written otherwise) reaches hold_seq; what the client sends
 *   meanwhile runs and its replies are held behind (bounded by
 *   OUT_HIGH_WATER, which pauses input).
 *   The worker writes its turn's records before checking (persist_flush), so
 *   outside `always` the replies still leave in the same turn. If the WAL reports an error first,
 * the held replies are replaced by one "outcome unknown" error per command (hold_cmds): the client
 * never sees OK for a write that may not survive a crash.
 * - Output beyond --client-output-limit, or above --client-output-soft-limit
 *   for --client-output-soft-seconds, closes the connection (checked when
 *   replies are added and by the connection's timer, so a client that never
 *   reads cannot grow our memory).
 * - Transport: plain read/send, or TLS through tls.h when c->ssl is set (one
 *   predictable branch per read and write). A TLS connection handshakes
 *   first (C_HANDSHAKE: only the handshake runs, bounded by
 *   --handshake-timeout); bytes OpenSSL has already taken off the socket
 *   are read before the loop sleeps (C_TLS_MORE), since epoll cannot see
 *   them. A plaintext connection whose first byte starts a TLS record is
 *   closed without a reply.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "command.h"
#include "log.h"
#include "persist.h"
#include "proto_line.h"
#include "reply.h"
#include "resp.h"
#include "security.h"
#include "slowlog.h"
#include "tls.h"

#define READ_CHUNK     (16 * 1024)
#define READ_BIG_CHUNK (4 * 1024 * 1024)
#define OUT_HIGH_WATER (1024 * 1024)
#define BUF_KEEP       (64 * 1024) /* capacity kept by an idle buffer */

enum {
	C_IN_FLUSH = 1u << 0,          /* on w->flush */
	C_CLOSED = 1u << 1,            /* unlinked, waiting to be freed */
	C_CLOSE_AFTER_WRITE = 1u << 2, /* close once `out` is written */
	C_PAUSED = 1u << 3,            /* input left unparsed until `out` drains */
	C_EOF = 1u << 4,               /* peer closed its side: answer, then close */
	C_DRAIN = 1u << 5,             /* server shutdown: answer, then close */
	C_LINGER = 1u << 6,            /* FIN sent; discarding input until the peer closes */
	C_SNIFF = 1u << 7,             /* plaintext, nothing read yet: refuse a TLS hello */
	C_HANDSHAKE = 1u << 8,         /* TLS handshake in progress */
	C_TLS_MORE = 1u << 9,          /* decrypted or buffered bytes wait inside ssl */
	C_TLS_RETRY = 1u << 10,        /* an SSL read wants a write, or a write a read */
	C_TLS_NOSHUT = 1u << 11,       /* fatal TLS error or close_notify sent: no SSL_shutdown */
};

/* The first byte of a TLS record carrying a handshake (a ClientHello). */
#define TLS_HANDSHAKE_RECORD 0x16

/* How long a closing connection keeps discarding what the peer still sends,
 * so that close(2) sends FIN rather than RST and the last replies are not
 * destroyed in flight by a reset. */
#define LINGER_MS 2000

struct conn {
	conn_worker *w;
	loop_io io;
	loop_timer idle;
	uint64_t id;
	uint64_t last_active_ms;
	unsigned flags;
	conn *prev, *next; /* w->all */
	conn *flush_next;  /* w->flush */
	conn *gc_next;     /* w->garbage */
	buf in, out;
	size_t scan; /* line protocol: bytes of `in` already searched for '\n' */
	resp_parser rp;
	argvec av;
	cmd_client client;
	/* Replies held for the WAL (see the invariants); hold_seq 0: none. */
	uint64_t hold_seq;
	size_t hold_off;    /* bytes at the start of `out` that may be sent */
	uint32_t hold_cmds; /* replies held, one per command or error */
	enum reply_proto hold_proto;
	conn *held_prev, *held_next; /* w->held */
	SSL *ssl;                    /* NULL: plaintext */
	uint64_t soft_since_ms;      /* output above the soft limit since (monotonic); 0: not */
};

/* Single-writer counters: a relaxed load and store, no locked instruction. */
#define STAT_ADD(field, n)                                                                         \
	atomic_store_explicit(&(field),                                                            \
	                      atomic_load_explicit(&(field), memory_order_relaxed) + (n),          \
	                      memory_order_relaxed)

static void conn_close(conn *c);
static void conn_process(conn *c);

static void held_unlink(conn *c)
{
	if (c->held_prev)
		c->held_prev->held_next = c->held_next;
	else
		c->w->held = c->held_next;
	if (c->held_next)
		c->held_next->held_prev = c->held_prev;
	c->held_prev = c->held_next = NULL;
	c->hold_seq = 0;
	c->hold_cmds = 0;
}

/* A reply that is not a command's (a framing error) while replies are held:
 * counted so that a failed hold answers every request exactly once. */
static void held_count(conn *c)
{
	if (c->hold_seq != 0)
		c->hold_cmds++;
}

static void queue_flush(conn *c)
{
	if (c->flags & (C_IN_FLUSH | C_CLOSED))
		return;
	c->flags |= C_IN_FLUSH;
	c->flush_next = c->w->flush;
	c->w->flush = c;
}

static void set_interest(conn *c, unsigned events)
{
	if (c->flags & C_CLOSED)
		return;
	int rc = loop_io_mod(c->w->loop, &c->io, events);
	if (rc < 0) {
		log_error("conn", "epoll_ctl failed", LF_U("client_id", c->id),
		          LF_S("error", strerror(-rc)));
		conn_close(c);
	}
}

static void conn_close(conn *c)
{
	if (c->flags & C_CLOSED)
		return;
	conn_worker *w = c->w;
	c->flags |= C_CLOSED;
	if (c->hold_seq != 0)
		held_unlink(c);
	loop_io_del(w->loop, &c->io);
	loop_timer_cancel(w->loop, &c->idle);
	if (c->ssl && !(c->flags & (C_HANDSHAKE | C_TLS_NOSHUT)))
		tls_shutdown(c->ssl); /* best effort: close_notify if the socket takes it */
	close(c->io.fd);
	pthread_mutex_lock(&w->clients_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	pthread_mutex_unlock(&w->clients_lock);
	atomic_fetch_sub_explicit(w->nclients, 1, memory_order_relaxed);
	c->gc_next = w->garbage;
	w->garbage = c;
	log_debug("conn", "client closed", LF_U("client_id", c->id), LF_S("peer", c->client.peer));
}

static void conn_free(conn *c)
{
	SSL_free(c->ssl);
	buf_free(&c->in);
	buf_free(&c->out);
	argvec_free(&c->av);
	resp_parser_free(&c->rp);
	free(c->client.name);
	free(c->client.lib_name);
	free(c->client.lib_ver);
	free(c);
}

/* Ends the connection once the reply just queued has been written (then
 * lingers: see conn_linger). Input not yet parsed is dropped. */
static void close_soon(conn *c)
{
	c->flags |= C_CLOSE_AFTER_WRITE;
	buf_reset(&c->in, 0);
	c->scan = 0;
	resp_parser_free(&c->rp);
	set_interest(c, 0);
	queue_flush(c);
}

/* Arms the connection's one timer for the earliest of its deadlines: idle
 * timeout, and the soft output limit's grace. (The handshake and the linger
 * arm it directly: nothing else applies then.) */
static void conn_arm_timer(conn *c)
{
	const config *cfg = c->w->cfg;
	uint64_t when = UINT64_MAX;
	if (cfg->idle_timeout > 0)
		when = c->last_active_ms + (uint64_t)cfg->idle_timeout * 1000u;
	if (c->soft_since_ms != 0) {
		uint64_t soft =
		        c->soft_since_ms + (uint64_t)cfg->client_output_soft_seconds * 1000u;
		if (soft < when)
			when = soft;
	}
	if (when == UINT64_MAX)
		loop_timer_cancel(c->w->loop, &c->idle);
	else
		loop_timer_set(c->w->loop, &c->idle, when);
}

/* Checks the unsent output against --client-output-limit (over it: close
 * now) and --client-output-soft-limit (over it for the grace period: close).
 * Returns 1 when the connection was closed. The output is discarded: a
 * client that does not read its replies would not read an error either. */
static int out_limits(conn *c)
{
	const config *cfg = c->w->cfg;
	size_t used = buf_used(&c->out);
	if (cfg->client_output_limit != 0 && used > cfg->client_output_limit) {
		log_warn("conn", "client output limit reached, closing", LF_U("client_id", c->id),
		         LF_S("peer", c->client.peer), LF_U("output_bytes", used),
		         LF_U("limit", cfg->client_output_limit));
		conn_close(c);
		return 1;
	}
	if (cfg->client_output_soft_limit == 0 || used <= cfg->client_output_soft_limit) {
		c->soft_since_ms = 0; /* the timer, if armed, finds nothing to do */
		return 0;
	}
	uint64_t now = loop_now_ms(c->w->loop);
	if (c->soft_since_ms == 0) {
		c->soft_since_ms = now | 1; /* never 0 */
		conn_arm_timer(c);
		return 0;
	}
	if (now - c->soft_since_ms >= (uint64_t)cfg->client_output_soft_seconds * 1000u) {
		log_warn("conn", "client output soft limit exceeded for too long, closing",
		         LF_U("client_id", c->id), LF_S("peer", c->client.peer),
		         LF_U("output_bytes", used),
		         LF_U("soft_limit", cfg->client_output_soft_limit),
		         LF_I("soft_seconds", cfg->client_output_soft_seconds));
		conn_close(c);
		return 1;
	}
	return 0;
}

static void line_too_long(conn *c)
{
	reply r = {.out = &c->out, .proto = PROTO_LINE};
	reply_errorf(&r, "line too long (limit %zu bytes)", c->w->cfg->max_line_bytes);
	held_count(c);
	log_warn("conn", "line too long, closing", LF_U("client_id", c->id),
	         LF_S("peer", c->client.peer), LF_U("limit", c->w->cfg->max_line_bytes));
	close_soon(c);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* From 10 us: a pipelined GET or SET takes about 1 us, so coarser first
 * buckets would put every percentile of a healthy server in the first. */
static const double request_seconds[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                         0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                         0.1,     0.25,     0.5,     1,      2.5};
static mx_bounds request_bounds;
static pthread_once_t request_bounds_once = PTHREAD_ONCE_INIT;

static void request_bounds_init(void)
{
	mx_bounds_init(&request_bounds, request_seconds,
	               sizeof(request_seconds) / sizeof(request_seconds[0]));
}

const mx_bounds *conn_request_bounds(void)
{
	pthread_once(&request_bounds_once, request_bounds_init);
	return &request_bounds;
}

void conn_command_stats(const conn_worker *const *ws, size_t nw, size_t i, mx_hist_snap *hist,
                        uint64_t errors[REPLY_ERR_COUNT])
{
	const mx_bounds *b = conn_request_bounds();
	mx_hist_snap_clear(hist);
	memset(errors, 0, REPLY_ERR_COUNT * sizeof(errors[0]));
	for (size_t k = 0; k < nw; k++) {
		if (!ws[k]->cmetrics || i >= ws[k]->ncmetrics)
			continue;
		const cmd_metric *m = &ws[k]->cmetrics[i];
		mx_hist_snap_add(hist, &m->duration, b);
		for (int r = 1; r < REPLY_ERR_COUNT; r++)
			errors[r] += mx_counter_get(&m->errors[r]);
	}
}

/* One request's figures, on the worker's own counters. */
static void count_request(conn_worker *w, const command *cmd, int err_reason, uint64_t ns)
{
	if (!cmd) {
		mx_counter_add(&w->unknown_cmds, 1);
		if (err_reason > 0 && err_reason < REPLY_ERR_COUNT)
			mx_counter_add(&w->unknown_errors[err_reason], 1);
		return;
	}
	size_t i = (size_t)(cmd - w->cmd_base);
	if (i >= w->ncmetrics)
		return;
	cmd_metric *m = &w->cmetrics[i];
	/* requests_total is the histogram's count: one store fewer. */
	mx_hist_observe_ns(&m->duration, &request_bounds, ns);
	if (err_reason > 0 && err_reason < REPLY_ERR_COUNT)
		mx_counter_add(&m->errors[err_reason], 1);
}

static const char *command_name(const command *cmd)
{
	return cmd ? cmd->name : "(unknown)";
}

/* A command that ran at least --slowlog-ms: a warning line and an entry in
 * the SLOWLOG ring. Neither holds the arguments (values, tokens). */
static void note_slow(conn *c, const command *cmd, uint64_t ns)
{
	slowlog_entry e = {.unix_s = wall_ms() / 1000, .duration_us = ns / 1000, .argc = c->av.n};
	snprintf(e.cmd, sizeof e.cmd, "%s", command_name(cmd));
	snprintf(e.peer, sizeof e.peer, "%s", c->client.peer);
	snprintf(e.name, sizeof e.name, "%s", c->client.name ? c->client.name : "");
	slowlog_add(c->w->slow, &e);
	log_warn("conn", "slow command", LF_S("command", e.cmd), LF_U("duration_us", e.duration_us),
	         LF_U("args", e.argc), LF_U("client_id", c->id), LF_S("client", c->client.peer));
}

/* --log-requests: one line per command, without its arguments. */
static void log_request(conn *c, const command *cmd, int err_reason, uint64_t ns)
{
	log_info("conn", "request", LF_S("command", command_name(cmd)),
	         LF_U("duration_us", ns / 1000), LF_U("args", c->av.n), LF_U("client_id", c->id),
	         LF_S("client", c->client.peer),
	         LF_S("result", err_reason > 0 ? reply_err_reason_name(err_reason) : "ok"));
}

/* Runs the command in c->av, replying in protocol proto. */
static void execute(conn *c, enum reply_proto proto)
{
	conn_worker *w = c->w;
	reply r = {.out = &c->out, .proto = proto};
	cmd_ctx ctx = {.store = w->store,
	               .argv = c->av.v,
	               .argc = c->av.n,
	               .r = &r,
	               .client = &c->client,
	               .stats = &w->cstats,
	               .srv = w->srv,
	               .cfg = w->cfg,
	               .persist = w->persist,
	               .sec = w->sec};
	size_t before = buf_used(&c->out);
	uint64_t seq0 = w->hold_writes ? persist_thread_seq() : 0;
	const command *cmd = command_dispatch(&ctx);
	if (w->timing) {
		/* One clock read per command: its time runs from the end of the
		 * previous command of this batch (or the batch's start, stamped
		 * by conn_process), so it includes parsing the request. */
		uint64_t t1 = now_ns();
		uint64_t ns = t1 - w->t_last_ns;
		w->t_last_ns = t1;
		if (w->cmetrics)
			count_request(w, cmd, r.err_reason, ns);
		if (ns >= w->slow_ns)
			note_slow(c, cmd, ns);
		if (w->log_requests)
			log_request(c, cmd, r.err_reason, ns);
	}
	if (w->hold_writes) {
		uint64_t seq = persist_thread_seq();
		if (seq != seq0 && c->hold_seq == 0) {
			c->hold_off = before;
			c->hold_proto = proto;
			c->held_prev = NULL;
			c->held_next = w->held;
			if (w->held)
				w->held->held_prev = c;
			w->held = c;
		}
		if (seq != seq0)
			c->hold_seq = seq;
		held_count(c);
	}
	if (ctx.out_flags & CMD_OUT_CLOSE)
		c->flags |= C_CLOSE_AFTER_WRITE;
	STAT_ADD(w->stats.commands, 1);
	atomic_store_explicit(&c->client.last_cmd_ms, wall_ms(), memory_order_relaxed);
	if (r.oom) {
		/* A partly written reply would desynchronise the client. */
		log_error("conn", "out of memory building a reply, closing",
		          LF_U("client_id", c->id));
		buf_reset(&c->out, 0);
		conn_close(c);
	}
}

static void execute_line(conn *c, char *line, size_t len)
{
	const char *err = NULL;
	int rc = proto_line_split(line, len, &c->av, command_line_rest, &err);
	if (rc == PL_EMPTY)
		return;
	if (rc == PL_ERROR) {
		reply r = {.out = &c->out, .proto = PROTO_LINE};
		reply_error(&r, err);
		held_count(c);
		return;
	}
	execute(c, PROTO_LINE);
}

/* A protocol error in RESP framing: reply as Redis does, then close. */
static void resp_protocol_error(conn *c, const char *msg)
{
	reply r = {.out = &c->out, .proto = c->client.resp == 3 ? PROTO_RESP3 : PROTO_RESP2};
	reply_error(&r, msg);
	held_count(c);
	log_info("conn", "protocol error, closing", LF_U("client_id", c->id),
	         LF_S("peer", c->client.peer), LF_S("error", msg));
	close_soon(c);
}

/* Parses and runs one RESP command at the start of `in`. Returns 1 if a
 * command was consumed, 0 if more bytes are needed or the connection is
 * closing. */
static int process_resp(conn *c)
{
	const config *cfg = c->w->cfg;
	resp_limits lim = {.max_array_len = cfg->max_array_len,
	                   .max_bulk_len = (long long)cfg->max_bulk_bytes};
	size_t consumed = 0;
	int rc = resp_parse(&c->rp, buf_start(&c->in), buf_used(&c->in), &lim, &c->av, &consumed);
	if (rc == RESP_NEED_MORE)
		return 0;
	if (rc == RESP_ERROR) {
		resp_protocol_error(c, c->rp.err);
		return 0;
	}
	if (rc == RESP_OK)
		execute(c, c->client.resp == 3 ? PROTO_RESP3 : PROTO_RESP2);
	if (c->flags & C_CLOSED)
		return 0;
	buf_consume(&c->in, consumed);
	return 1;
}

/* Executes every complete command in `in`, stopping early when the output is
 * over the high-water mark (C_PAUSED) or the connection is closing. */
static void conn_process(conn *c)
{
	size_t max_line = c->w->cfg->max_line_bytes;
	if (c->w->timing)
		c->w->t_last_ns = now_ns();
	size_t out_check = c->w->out_check;
	while (!(c->flags & (C_CLOSED | C_CLOSE_AFTER_WRITE))) {
		size_t avail = buf_used(&c->in);
		if (avail == 0)
			break;
		size_t used = buf_used(&c->out);
		if (used > out_check && out_limits(c))
			return;
		if (used >= OUT_HIGH_WATER) {
			c->flags |= C_PAUSED;
			break;
		}
		char *start = buf_start(&c->in);
		if (resp_in_progress(&c->rp) || start[0] == '*') {
			if (!process_resp(c))
				break;
			continue;
		}
		char *nl = memchr(start + c->scan, '\n', avail - c->scan);
		if (!nl) {
			c->scan = avail;
			if (avail > max_line)
				line_too_long(c);
			break;
		}
		size_t len = (size_t)(nl - start);
		if (len > max_line) {
			line_too_long(c);
			break;
		}
		c->scan = 0;
		execute_line(c, start, len);
		if (c->flags & C_CLOSED)
			return;
		buf_consume(&c->in, len + 1);
	}
	if (c->flags & C_CLOSED)
		return;
	if ((buf_used(&c->out) > out_check || c->soft_since_ms != 0) && out_limits(c))
		return;
	if (buf_used(&c->in) == 0 && c->in.cap > BUF_KEEP)
		buf_reset(&c->in, 0);
	if (buf_used(&c->out) > 0 || (c->flags & (C_CLOSE_AFTER_WRITE | C_EOF | C_DRAIN)))
		queue_flush(c);
}

/* A TLS read of up to room bytes into `in`; conn_read's contract. */
static int conn_read_tls(conn *c, size_t room)
{
	char why[160];
	size_t got = 0;
	int st = tls_read(c->ssl, c->in.data + c->in.len, room, &got, why, sizeof why);
	if (got > 0) {
		c->in.len += got;
		c->last_active_ms = loop_now_ms(c->w->loop);
		STAT_ADD(c->w->stats.bytes_in, (uint64_t)got);
	}
	switch (st) {
	case TLS_OK:
		/* `in` is full for now; what OpenSSL holds is read before the
		 * loop sleeps (conn_worker_before_sleep). */
		if (tls_has_pending(c->ssl)) {
			c->flags |= C_TLS_MORE;
			queue_flush(c);
			loop_spin(c->w->loop);
		}
		break;
	case TLS_WANT_READ:
		break;
	case TLS_WANT_WRITE:
		c->flags |= C_TLS_RETRY;
		set_interest(c, c->io.events | LOOP_WRITE);
		break;
	case TLS_EOF:
		c->flags |= C_EOF;
		set_interest(c, 0);
		return -1;
	default:
		log_info("conn", "TLS error, closing", LF_U("client_id", c->id),
		         LF_S("peer", c->client.peer), LF_S("error", why));
		c->flags |= C_TLS_NOSHUT;
		conn_close(c);
		return -1;
	}
	return got > 0 ? 1 : 0;
}

/* The first bytes on a plaintext connection start a TLS record: a TLS
 * client on the wrong port. Any reply would be garbage to it. */
static void refuse_tls_hello(conn *c)
{
	log_info("conn", "TLS handshake on a plaintext port, closing", LF_U("client_id", c->id),
	         LF_S("peer", c->client.peer));
	STAT_ADD(c->w->stats.rejected_tls_on_plaintext, 1);
	conn_close(c);
}

/* Reads once. Returns 1 if bytes arrived, 0 on EAGAIN, -1 on EOF/error
 * (after which the connection is closing or closed). */
static int conn_read(conn *c)
{
	size_t want = READ_CHUNK;
	/* A large RESP argument is on its way: read it in big steps (bounded:
	 * the declared length is the client's word, not a promise). */
	if (c->rp.need > want)
		want = c->rp.need < READ_BIG_CHUNK ? c->rp.need : READ_BIG_CHUNK;
	size_t limit = c->w->cfg->max_query_buffer_bytes;
	if (buf_used(&c->in) < limit && limit - buf_used(&c->in) < want)
		want = limit - buf_used(&c->in);
	if (buf_used(&c->in) >= limit) {
		log_warn("conn", "query buffer limit reached, closing", LF_U("client_id", c->id),
		         LF_S("peer", c->client.peer),
		         LF_U("limit", c->w->cfg->max_query_buffer_bytes));
		reply r = {.out = &c->out,
		           .proto = c->client.resp == 3 ? PROTO_RESP3 : PROTO_RESP2};
		reply_error(&r, "Protocol error: query buffer limit reached");
		held_count(c);
		close_soon(c);
		return -1;
	}
	if (buf_reserve(&c->in, want) != 0) {
		log_error("conn", "out of memory reading, closing", LF_U("client_id", c->id));
		conn_close(c);
		return -1;
	}
	size_t room = c->in.cap - c->in.len;
	if (room > limit - buf_used(&c->in))
		room = limit - buf_used(&c->in);
	if (c->ssl)
		return conn_read_tls(c, room);
	ssize_t n = read(c->io.fd, c->in.data + c->in.len, room);
	if (n > 0) {
		if (c->flags & C_SNIFF) {
			c->flags &= ~C_SNIFF;
			if ((unsigned char)c->in.data[c->in.len] == TLS_HANDSHAKE_RECORD) {
				refuse_tls_hello(c);
				return -1;
			}
		}
		c->in.len += (size_t)n;
		c->last_active_ms = loop_now_ms(c->w->loop);
		STAT_ADD(c->w->stats.bytes_in, (uint64_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0) {
		log_debug("conn", "read error", LF_U("client_id", c->id),
		          LF_S("error", strerror(errno)));
		conn_close(c);
		return -1;
	}
	/* EOF: the peer will send nothing more; answer what it sent, then close.
	 * A trailing partial command is dropped. */
	c->flags |= C_EOF;
	set_interest(c, 0);
	return -1;
}

/* Sends up to pending bytes of `out` over TLS. Returns the count sent (0
 * when the socket is full), or -1 when the connection was closed. */
static ssize_t conn_send_tls(conn *c, size_t pending)
{
	char why[160];
	size_t put = 0;
	int st = tls_write(c->ssl, buf_start(&c->out), pending, &put, why, sizeof why);
	if (st == TLS_EOF || st == TLS_FAILED) {
		log_debug("conn", "TLS write error", LF_U("client_id", c->id),
		          LF_S("error", st == TLS_EOF ? "connection closed" : why));
		c->flags |= C_TLS_NOSHUT;
		conn_close(c);
		return -1;
	}
	if (st == TLS_WANT_READ)
		c->flags |= C_TLS_RETRY;
	return (ssize_t)put;
}

/* Writes `out` once (while replies are held, only the part before them).
 * Returns 1 when it is empty afterwards, 0 when bytes remain (LOOP_WRITE is
 * then watched, or nothing while held bytes wait for the WAL), -1 if the
 * connection was closed. */
static int conn_write(conn *c)
{
	size_t pending = buf_used(&c->out);
	if (c->hold_seq != 0)
		pending = c->hold_off;
	if (pending > 0) {
		ssize_t n = c->ssl ? conn_send_tls(c, pending)
		                   : send(c->io.fd, buf_start(&c->out), pending, MSG_NOSIGNAL);
		if (n < 0 && c->ssl)
			return -1;
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				log_debug("conn", "write error", LF_U("client_id", c->id),
				          LF_S("error", strerror(errno)));
				conn_close(c);
				return -1;
			}
			n = 0;
		}
		if (n > 0) {
			STAT_ADD(c->w->stats.bytes_out, (uint64_t)n);
			c->last_active_ms = loop_now_ms(c->w->loop);
		}
		buf_consume(&c->out, (size_t)n);
		if (c->hold_seq != 0)
			c->hold_off -= (size_t)n;
		if (c->soft_since_ms != 0 &&
		    buf_used(&c->out) <= c->w->cfg->client_output_soft_limit)
			c->soft_since_ms = 0;
		if ((size_t)n < pending) {
			/* Stop reading until the client takes its replies (a TLS
			 * write that needs a read first waits for readability). */
			set_interest(c, (c->flags & C_TLS_RETRY) ? LOOP_READ : LOOP_WRITE);
			return (c->flags & C_CLOSED) ? -1 : 0;
		}
	}
	if (c->hold_seq != 0) {
		/* Wait for the WAL. Meanwhile go on reading (what arrives runs,
		 * and its replies are held behind these) unless the connection
		 * is paused or winding down: a request-reply client then costs
		 * no epoll_ctl per request. */
		unsigned quiet = C_EOF | C_CLOSE_AFTER_WRITE | C_DRAIN | C_PAUSED | C_LINGER;
		set_interest(c, (c->flags & quiet) ? 0 : LOOP_READ);
		return (c->flags & C_CLOSED) ? -1 : 0;
	}
	if (c->out.cap > BUF_KEEP)
		buf_reset(&c->out, 0);
	return 1;
}

/* Every reply has been written and the connection must end, but the peer may
 * still be sending (a pipelining client, an oversized line): half-close our
 * side so it sees EOF after the last reply, then discard its input until it
 * closes or LINGER_MS passes. Closing at once with unread input would send
 * RST, and a reset makes the peer's kernel drop replies it has not read yet. */
static void conn_linger(conn *c)
{
	if (c->ssl && !(c->flags & C_TLS_NOSHUT)) {
		tls_shutdown(c->ssl); /* close_notify, then the TCP FIN */
		c->flags |= C_TLS_NOSHUT;
	}
	if (shutdown(c->io.fd, SHUT_WR) != 0) {
		conn_close(c);
		return;
	}
	c->flags |= C_LINGER;
	c->flags &= ~C_PAUSED;
	buf_reset(&c->in, 0);
	set_interest(c, LOOP_READ);
	loop_timer_set(c->w->loop, &c->idle, loop_now_ms(c->w->loop) + LINGER_MS);
}

static void linger_read(conn *c)
{
	char scratch[16384];
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(c->io.fd, scratch, sizeof(scratch));
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(c); /* EOF or error: the peer is done */
		return;
	}
}

/* Called when `out` has just become empty. */
static void conn_after_write(conn *c)
{
	if (c->flags & C_PAUSED) {
		c->flags &= ~C_PAUSED;
		conn_process(c);
		if (c->flags & C_CLOSED)
			return;
		if (buf_used(&c->out) > 0) {
			loop_spin(c->w->loop); /* its output leaves next turn */
			return;
		}
	}
	if (c->flags & C_EOF) {
		conn_close(c);
		return;
	}
	if (c->flags & (C_CLOSE_AFTER_WRITE | C_DRAIN)) {
		conn_linger(c);
		return;
	}
	set_interest(c, LOOP_READ);
	if (c->flags & C_TLS_MORE) {
		/* Input was paused with bytes inside OpenSSL: epoll will not
		 * report them, so read them before the loop sleeps. */
		queue_flush(c);
		loop_spin(c->w->loop);
	}
}

/* Reads what OpenSSL holds for c (C_TLS_MORE) unless input is paused; then
 * conn_after_write queues c again. */
static void conn_read_more(conn *c)
{
	if (!(c->io.events & LOOP_READ) || (c->flags & (C_PAUSED | C_LINGER)))
		return;
	c->flags &= ~C_TLS_MORE;
	if (conn_read(c) != 0)
		conn_process(c);
}

/* One step of the TLS handshake; once done the connection reads commands. */
static void conn_handshake(conn *c)
{
	char why[160];
	int st = tls_handshake(c->ssl, why, sizeof why);
	if (st == TLS_WANT_READ || st == TLS_WANT_WRITE) {
		set_interest(c, st == TLS_WANT_READ ? LOOP_READ : LOOP_WRITE);
		return;
	}
	if (st == TLS_EOF && tls_peer_silent(c->ssl)) {
		log_debug("conn", "closed before the TLS handshake", LF_U("client_id", c->id),
		          LF_S("peer", c->client.peer));
		c->flags |= C_TLS_NOSHUT;
		conn_close(c);
		return;
	}
	if (st != TLS_OK) {
		log_info("conn", "TLS handshake failed, closing", LF_U("client_id", c->id),
		         LF_S("peer", c->client.peer),
		         LF_S("error", st == TLS_EOF ? "connection closed by the peer" : why));
		STAT_ADD(c->w->stats.rejected_tls_handshake, 1);
		c->flags |= C_TLS_NOSHUT;
		c->flags &= ~C_HANDSHAKE;
		/* OpenSSL has queued its alert ("certificate required", ...).
		 * Under TLS 1.3 the client may already have sent its first
		 * request; closing with that unread would send a reset, and the
		 * client's kernel would drop the alert. Linger instead: FIN after
		 * the alert, then discard input until the peer closes. */
		conn_linger(c);
		return;
	}
	conn_worker *w = c->w;
	c->flags &= ~C_HANDSHAKE;
	c->client.tls = 1;
	tls_peer_identity(c->ssl, w->cfg->tls_client_identity, c->client.tls_identity,
	                  sizeof c->client.tls_identity);
	log_debug("conn", "TLS handshake done", LF_U("client_id", c->id),
	          LF_S("peer", c->client.peer), LF_S("version", tls_version(c->ssl)),
	          LF_S("cipher", tls_cipher(c->ssl)), LF_S("identity", c->client.tls_identity));
	c->last_active_ms = loop_now_ms(w->loop);
	conn_arm_timer(c);
	set_interest(c, LOOP_READ);
	/* The client's first command may have come with its Finished. */
	if (!(c->flags & C_CLOSED) && conn_read(c) != 0)
		conn_process(c);
}

static void on_io(loop_t *l, loop_io *io, unsigned events)
{
	conn *c = io->arg;
	(void)l;
	if (events & LOOP_ERROR) {
		conn_close(c);
		return;
	}
	if (c->flags & (C_HANDSHAKE | C_TLS_RETRY)) {
		if (c->flags & C_HANDSHAKE) {
			conn_handshake(c);
			return;
		}
		/* OpenSSL asked for the other direction: retry both. */
		c->flags &= ~C_TLS_RETRY;
		events |= LOOP_READ | LOOP_WRITE;
	}
	if (events & LOOP_WRITE) {
		int rc = conn_write(c);
		if (rc < 0)
			return;
		if (rc == 1)
			conn_after_write(c);
		if (c->flags & C_CLOSED)
			return;
	}
	if (c->flags & C_LINGER) {
		linger_read(c);
		return;
	}
	if ((events & LOOP_READ) && (c->io.events & LOOP_READ)) {
		if (conn_read(c) != 0)
			conn_process(c);
	}
}

/* The connection's timer: end of the linger, handshake timeout, idle
 * timeout, or the soft output limit's grace period. */
static void on_idle(loop_t *l, loop_timer *t)
{
	conn *c = t->arg;
	const config *cfg = c->w->cfg;
	if (c->flags & C_LINGER) {
		conn_close(c);
		return;
	}
	if (c->flags & C_HANDSHAKE) {
		log_info("conn", "TLS handshake timeout, closing", LF_U("client_id", c->id),
		         LF_S("peer", c->client.peer),
		         LF_I("handshake_timeout_s", cfg->handshake_timeout));
		STAT_ADD(c->w->stats.rejected_tls_timeout, 1);
		c->flags |= C_TLS_NOSHUT;
		conn_close(c);
		return;
	}
	if (c->soft_since_ms != 0 && out_limits(c))
		return;
	uint64_t timeout = (uint64_t)cfg->idle_timeout * 1000u;
	if (timeout > 0 && loop_now_ms(l) - c->last_active_ms >= timeout) {
		log_info("conn", "idle timeout, closing", LF_U("client_id", c->id),
		         LF_S("peer", c->client.peer), LF_I("idle_timeout_s", cfg->idle_timeout));
		conn_close(c);
		return;
	}
	conn_arm_timer(c);
}

static void format_addr(int fd, int peer, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	out[0] = 0;
	if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
	          : getsockname(fd, (struct sockaddr *)&ss, &len)) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(out, n, "%s:%d", host, port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(out, n, "[%s]:%d", host, port);
	}
}

int conn_create(conn_worker *w, int fd, struct ssl_ctx_st *tls)
{
	conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->w = w;
	c->io.fd = fd;
	c->io.fn = on_io;
	c->io.arg = c;
	c->id = atomic_fetch_add_explicit(w->next_id, 1, memory_order_relaxed);
	c->last_active_ms = loop_now_ms(w->loop);
	buf_init(&c->in);
	buf_init(&c->out);
	resp_parser_init(&c->rp);
	c->client.id = c->id;
	c->client.resp = 2;
	c->client.fd = fd;
	c->client.conn = c;
	c->client.worker_lock = &w->clients_lock;
	c->client.created_ms = wall_ms();
	atomic_init(&c->client.last_cmd_ms, c->client.created_ms);
	atomic_init(&c->client.last_cmd, "NULL");
	format_addr(fd, 1, c->client.peer, sizeof(c->client.peer));
	format_addr(fd, 0, c->client.local, sizeof(c->client.local));
	security_client_init(w->sec, &c->client);
	loop_timer_init(&c->idle, on_idle, c);
	if (tls) {
		c->ssl = tls_new(tls, fd);
		if (!c->ssl) {
			close(fd);
			free(c);
			return -ENOMEM;
		}
		c->flags |= C_HANDSHAKE;
	} else {
		c->flags |= C_SNIFF;
	}
	int rc = loop_io_add(w->loop, &c->io, LOOP_READ);
	if (rc < 0) {
		SSL_free(c->ssl);
		close(fd);
		free(c);
		return rc;
	}
	if (c->ssl && w->cfg->handshake_timeout > 0)
		loop_timer_set(w->loop, &c->idle,
		               c->last_active_ms + (uint64_t)w->cfg->handshake_timeout * 1000u);
	else if (!c->ssl)
		conn_arm_timer(c);
	pthread_mutex_lock(&w->clients_lock);
	c->next = w->all;
	if (w->all)
		w->all->prev = c;
	w->all = c;
	w->nconns++;
	pthread_mutex_unlock(&w->clients_lock);
	STAT_ADD(w->stats.accepted, 1);
	log_debug("conn", "client connected", LF_U("client_id", c->id),
	          LF_S("peer", c->client.peer));
	return 0;
}

/* The WAL failed before the held replies' records were durable: the
 * outcome of those commands is unknown (the records stay queued and become
 * durable if a retry succeeds), so each held reply becomes an error. */
static void held_fail(conn *c, int err)
{
	uint32_t n = c->hold_cmds;
	char text[96];
	const char *why = strerror_r(err, text, sizeof text);
	c->out.len = c->out.off + c->hold_off;
	held_unlink(c);
	reply r = {.out = &c->out, .proto = c->hold_proto};
	for (uint32_t i = 0; i < n; i++)
		reply_errorf(&r,
		             "write-ahead log: %s; outcome unknown: the write is applied in memory "
		             "and becomes durable only if the log can be written again",
		             why);
	log_warn("conn", "replies held for the WAL failed", LF_U("client_id", c->id),
	         LF_U("replies", n), LF_S("error", why));
	if (r.oom)
		conn_close(c);
	else
		queue_flush(c);
}

/* Releases the replies whose WAL records are now durable. */
static void held_check(conn_worker *w)
{
	uint64_t durable = persist_ack_seq(w->persist);
	int err = persist_write_error(w->persist);
	for (conn *c = w->held, *next; c; c = next) {
		next = c->held_next;
		if (c->hold_seq <= durable) {
			held_unlink(c);
			queue_flush(c);
		} else if (err != 0) {
			held_fail(c, err);
		}
	}
}

void conn_worker_before_sleep(conn_worker *w)
{
	if (w->persist) {
		/* This turn's WAL records go to the file before any reply. */
		persist_flush(w->persist);
		if (w->held)
			held_check(w);
	}
	conn *list = w->flush;
	w->flush = NULL;
	while (list) {
		conn *c = list;
		list = c->flush_next;
		c->flags &= ~C_IN_FLUSH;
		if (c->flags & C_TLS_MORE)
			conn_read_more(c);
		if (c->flags & C_CLOSED)
			continue;
		if (conn_write(c) == 1)
			conn_after_write(c);
	}
	conn *keep = NULL;
	while (w->garbage) {
		conn *c = w->garbage;
		w->garbage = c->gc_next;
		if (c->flags & C_IN_FLUSH) {
			/* Still linked on w->flush: free it next turn. */
			c->gc_next = keep;
			keep = c;
			continue;
		}
		conn_free(c);
	}
	w->garbage = keep;
}

void conn_worker_drain(conn_worker *w)
{
	w->draining = 1;
	for (conn *c = w->all, *next; c; c = next) {
		next = c->next;
		if (c->flags & C_LINGER)
			continue;
		if (c->flags & C_HANDSHAKE) {
			conn_close(c); /* nothing was asked yet */
			continue;
		}
		c->flags |= C_DRAIN;
		/* Take what the client already sent (bounded), answer it. */
		for (int i = 0; i < 64 && !(c->flags & (C_CLOSED | C_EOF | C_PAUSED)); i++) {
			if (!(c->io.events & LOOP_READ) || conn_read(c) != 1)
				break;
			conn_process(c);
		}
		if (c->flags & C_CLOSED)
			continue;
		if (c->io.events & LOOP_READ)
			set_interest(c, 0);
		conn_process(c);
		queue_flush(c);
	}
}

void conn_worker_close_all(conn_worker *w)
{
	while (w->all)
		conn_close(w->all);
}

int conn_worker_init(conn_worker *w)
{
	size_t hard = w->cfg->client_output_limit, soft = w->cfg->client_output_soft_limit;
	w->out_check = SIZE_MAX;
	if (hard != 0)
		w->out_check = hard;
	if (soft != 0 && soft < w->out_check)
		w->out_check = soft;
	w->slow_ns = w->cfg->slowlog_ms < 0 ? UINT64_MAX : (uint64_t)w->cfg->slowlog_ms * 1000000u;
	w->log_requests = w->cfg->log_requests;
	w->timing = w->cfg->http_port != 0 || w->slow_ns != UINT64_MAX || w->log_requests;
	if (w->timing) {
		size_t n;
		w->cmd_base = command_table_get(&n);
		conn_request_bounds();
		w->cmetrics = calloc(n, sizeof(*w->cmetrics));
		if (!w->cmetrics)
			return -ENOMEM;
		w->ncmetrics = n;
	}
	return -pthread_mutex_init(&w->clients_lock, NULL);
}

void conn_worker_revalidate(conn_worker *w)
{
	if (!w->sec)
		return;
	uint64_t gen = security_generation(w->sec);
	uint64_t closed = 0;
	for (conn *c = w->all, *next; c; c = next) {
		next = c->next;
		if (c->client.auth_gen == gen || security_client_revalidate(w->sec, &c->client))
			continue;
		log_warn("conn", "credentials revoked, closing", LF_U("client_id", c->id),
		         LF_S("peer", c->client.peer), LF_S("auth_name", c->client.auth_name));
		conn_close(c);
		closed++;
	}
	if (closed > 0)
		security_count_revoked(w->sec, closed);
}

void conn_worker_destroy(conn_worker *w)
{
	free(w->cmetrics);
	w->cmetrics = NULL;
	pthread_mutex_destroy(&w->clients_lock);
}

int conn_client_format(const cmd_client *cl, buf *out)
{
	char line[1024];
	int64_t now = wall_ms();
	int64_t last = atomic_load_explicit(&cl->last_cmd_ms, memory_order_relaxed);
	const char *cmd = atomic_load_explicit(&cl->last_cmd, memory_order_relaxed);
	int n = snprintf(line, sizeof(line),
	                 "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=N db=0 "
	                 "sub=0 psub=0 ssub=0 multi=-1 cmd=%s user=%s redir=-1 resp=%d "
	                 "lib-name=%s lib-ver=%s\n",
	                 (unsigned long long)cl->id, cl->peer, cl->local, cl->fd,
	                 cl->name ? cl->name : "", (long long)((now - cl->created_ms) / 1000),
	                 (long long)((now - last) / 1000), cmd,
	                 cl->auth_name[0] ? cl->auth_name : "default", cl->resp,
	                 cl->lib_name ? cl->lib_name : "", cl->lib_ver ? cl->lib_ver : "");
	if (n < 0)
		return -1;
	return buf_append(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int conn_worker_client_list(conn_worker *w, buf *out, uint64_t only_id)
{
	int rc = 0;
	pthread_mutex_lock(&w->clients_lock);
	for (conn *c = w->all; c && rc == 0; c = c->next)
		if (only_id == 0 || c->client.id == only_id)
			rc = conn_client_format(&c->client, out);
	pthread_mutex_unlock(&w->clients_lock);
	return rc;
}
