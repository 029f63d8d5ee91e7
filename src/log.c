/* log.c - structured logging to one file descriptor, as JSON lines or text.
 *
 * A line is built in a LOG_LINE_MAX stack buffer and handed to a single
 * write(2). Pipes write up to PIPE_BUF (4096) bytes atomically and so do
 * O_APPEND files in practice, so lines from different threads never
 * interleave; a mutex around a FILE * was rejected because every thread logs.
 *
 * Invariants: every line ends in one '\n'; a JSON line is always one closed,
 * valid JSON object in valid UTF-8, even when truncated ("truncated":true is
 * then its last member); no UTF-8 sequence or escape is ever cut in half.
 */
#include "log.h"

#include "ascii.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The only process-wide mutable state in minidb (STYLE.md forbids globals
 * otherwise). log_init writes these once at start-up before any thread
 * starts; afterwards they are only read, so log_enabled is a plain load and
 * compare with no lock or atomic on the hot path. */
static enum log_level log_min_level = LOG_INFO;
static enum log_format log_out_format = LOG_FORMAT_JSON;
static int log_out_fd = 2;
/* --log-file: the path, kept for log_reopen. log_reopen never changes
 * log_out_fd: it dup2()s the new file onto it, which the kernel does
 * atomically, so a concurrent write lands whole in the old file or the new. */
static char log_path[4096];

/* A line never exceeds PIPE_BUF, the atomic-write limit of a pipe. */
#define LOG_LINE_MAX 4096
/* Bytes kept back for closing a truncated line: at most a closing quote,
 * the truncation marker (",\"truncated\":true" or " truncated=true"), the
 * closing brace and the newline: 20 bytes. */
#define LOG_TAIL_RESERVE 32

struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool full; /* something did not fit: everything after it is dropped */
};

_Static_assert(LOG_TAIL_RESERVE >= sizeof("\",\"truncated\":true}\n") - 1,
               "the tail reserve must hold the JSON closing bytes");

/* Appends n bytes if they fit below the reserve; otherwise marks the line
 * full and appends nothing, so a unit (escape, UTF-8 sequence, number) is
 * either written whole or not at all. */
static bool line_put(struct line *l, const char *s, size_t n)
{
	if (l->full || n > LOG_LINE_MAX - LOG_TAIL_RESERVE - l->len) {
		l->full = true;
		return false;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return true;
}

/* Appends closing bytes into the reserve; only the fixed tail uses this. */
static void line_force(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n > LOG_LINE_MAX - l->len)
		n = LOG_LINE_MAX - l->len; /* cannot happen: the reserve is sized for the tail */
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

enum esc_mode {
	ESC_JSON,       /* inside a JSON string: \" \\ and \u00XX */
	ESC_TEXT_BARE,  /* unquoted text: only control and invalid bytes, as \xXX */
	ESC_TEXT_QUOTED /* inside a text "...": also \" \\ \n \r \t */
};

/* Appends s escaped for the mode, one whole unit at a time. Invalid UTF-8
 * bytes are escaped like control bytes (\u00XX in JSON, the byte read as
 * Latin-1), so the output is valid UTF-8 whatever the input. Returns false
 * when the line filled up part way. */
static bool put_escaped(struct line *l, const char *s, enum esc_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	char tmp[8];

	while (n > 0) {
		size_t len = ascii_utf8_len(p, n);
		const char *out = (const char *)p;
		size_t outlen = len;

		if (len == 0 || *p < 0x20 || *p == 0x7f) {
			out = tmp;
			if (mode == ESC_TEXT_QUOTED && *p == '\n')
				out = "\\n";
			else if (mode == ESC_TEXT_QUOTED && *p == '\r')
				out = "\\r";
			else if (mode == ESC_TEXT_QUOTED && *p == '\t')
				out = "\\t";
			else if (mode == ESC_JSON)
				snprintf(tmp, sizeof tmp, "\\u%04x", *p);
			else
				snprintf(tmp, sizeof tmp, "\\x%02x", *p);
			outlen = strlen(out);
			len = 1;
		} else if (mode != ESC_TEXT_BARE && (*p == '"' || *p == '\\')) {
			out = *p == '"' ? "\\\"" : "\\\\";
			outlen = 2;
		}
		if (!line_put(l, out, outlen))
			return false;
		p += len;
		n -= len;
	}
	return true;
}

/* Text values are quoted when a reader could not tell where they end. */
static bool text_needs_quotes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n == 0)
		return true;
	while (n > 0) {
		size_t len = ascii_utf8_len(p, n);

		if (len == 0 || *p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			return true;
		p += len;
		n -= len;
	}
	return false;
}

/* Formats a non-string field value; returns false for a JSON null. */
static bool format_scalar(const log_field *f, char *buf, size_t size)
{
	switch (f->type) {
	case LF_INT:
		snprintf(buf, size, "%lld", f->v.i);
		return true;
	case LF_UINT:
		snprintf(buf, size, "%llu", f->v.u);
		return true;
	case LF_DBL:
		/* JSON has no NaN or infinity. 15 significant digits print 0.1 as
		 * "0.1"; exact round-tripping (17) is not worth the noise in logs. */
		if (!isfinite(f->v.d))
			return false;
		snprintf(buf, size, "%.15g", f->v.d);
		return true;
	case LF_BOOL:
		snprintf(buf, size, "%s", f->v.b ? "true" : "false");
		return true;
	case LF_STR:
		break;
	}
	return false;
}

/* Appends one JSON member: ,"key":value. When the key or the start of the
 * value does not fit, the whole member is rolled back; a string value cut
 * short is closed with its quote, which the tail reserve has room for. */
static void json_member(struct line *l, bool first, const char *key, const log_field *f)
{
	size_t mark = l->len;
	char num[64];

	if (!line_put(l, first ? "\"" : ",\"", first ? 1 : 2) || !put_escaped(l, key, ESC_JSON) ||
	    !line_put(l, "\":", 2))
		goto rollback;
	if (f->type == LF_STR && f->v.s != NULL) {
		if (!line_put(l, "\"", 1))
			goto rollback;
		if (!put_escaped(l, f->v.s, ESC_JSON)) {
			line_force(l, "\"");
			return;
		}
		if (!line_put(l, "\"", 1))
			line_force(l, "\"");
		return;
	}
	if (!format_scalar(f, num, sizeof num))
		snprintf(num, sizeof num, "null");
	if (line_put(l, num, strlen(num)))
		return;
rollback:
	l->len = mark;
}

/* Appends one text pair " key=value", with the same rollback rule; a
 * quoted value cut short gets its closing quote. */
static void text_member(struct line *l, const char *key, const log_field *f)
{
	size_t mark = l->len;
	char num[64];

	if (!line_put(l, " ", 1) || !put_escaped(l, key, ESC_TEXT_BARE) || !line_put(l, "=", 1))
		goto rollback;
	if (f->type == LF_STR && f->v.s != NULL) {
		if (!text_needs_quotes(f->v.s)) {
			put_escaped(l, f->v.s, ESC_TEXT_BARE); /* may stop part way */
			return;
		}
		if (!line_put(l, "\"", 1))
			goto rollback;
		if (!put_escaped(l, f->v.s, ESC_TEXT_QUOTED) || !line_put(l, "\"", 1))
			line_force(l, "\"");
		return;
	}
	if (!format_scalar(f, num, sizeof num))
		snprintf(num, sizeof num, f->type == LF_STR ? "(null)" : "null");
	if (line_put(l, num, strlen(num)))
		return;
rollback:
	l->len = mark;
}

/* RFC 3339 UTC with milliseconds: 2026-11-27T14:43:12.123Z. */
static void format_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/* Writes the whole line, retrying on EINTR. A short write is only possible
 * on fds without an atomicity guarantee (a full disk, a terminal); the rest
 * is then written rather than lost. Errors are dropped: there is nowhere
 * left to report them. */
static void write_line(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void log_init(enum log_level level, enum log_format format, int fd)
{
	log_min_level = level;
	log_out_format = format;
	log_out_fd = fd;
}

/* O_APPEND keeps lines whole when logrotate's copytruncate or a second
 * writer shares the file; 0640: logs name clients and keys' owners. */
static int open_log(const char *path)
{
	int fd;

	do
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

int log_open_file(const char *path)
{
	if (strlen(path) >= sizeof log_path)
		return -ENAMETOOLONG;
	int fd = open_log(path);
	if (fd < 0)
		return fd;
	memcpy(log_path, path, strlen(path) + 1);
	log_out_fd = fd;
	return 0;
}

int log_reopen(void)
{
	if (log_path[0] == 0)
		return 0;
	int fd = open_log(log_path);
	if (fd < 0)
		return fd;
	int rc = 0;
	if (fd != log_out_fd) {
		while (dup2(fd, log_out_fd) < 0) {
			if (errno != EINTR && errno != EBUSY) {
				rc = -errno;
				break;
			}
		}
		close(fd);
	}
	return rc;
}

const char *log_file_path(void)
{
	return log_path[0] ? log_path : NULL;
}

int log_enabled(enum log_level level)
{
	return level >= log_min_level;
}

int log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {{"debug", LOG_DEBUG},
	             {"info", LOG_INFO},
	             {"warn", LOG_WARN},
	             {"warning", LOG_WARN},
	             {"error", LOG_ERROR}};

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(s, names[i].name) == 0)
			return (int)names[i].level;
	}
	return -1;
}

const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_DEBUG:
		return "debug";
	case LOG_INFO:
		return "info";
	case LOG_WARN:
		return "warn";
	case LOG_ERROR:
		return "error";
	}
	return "unknown";
}

/* Upper-case names padded to five columns for the text format. */
static const char *level_label(enum log_level level)
{
	switch (level) {
	case LOG_DEBUG:
		return "DEBUG";
	case LOG_INFO:
		return "INFO ";
	case LOG_WARN:
		return "WARN ";
	case LOG_ERROR:
		return "ERROR";
	}
	return "?????";
}

static void build_json(struct line *l, const char *ts, enum log_level level, const char *component,
                       const char *msg, const log_field *fields, size_t nfields)
{
	line_put(l, "{", 1);
	json_member(l, true, "ts", &LF_S("ts", ts));
	json_member(l, false, "level", &LF_S("level", log_level_name(level)));
	json_member(l, false, "component", &LF_S("component", component));
	json_member(l, false, "msg", &LF_S("msg", msg));
	for (size_t i = 0; i < nfields; i++) {
		if (fields[i].key != NULL)
			json_member(l, false, fields[i].key, &fields[i]);
	}
	if (l->full)
		line_force(l, ",\"truncated\":true");
	line_force(l, "}\n");
}

static void build_text(struct line *l, const char *ts, enum log_level level, const char *component,
                       const char *msg, const log_field *fields, size_t nfields)
{
	if (line_put(l, ts, strlen(ts)) && line_put(l, " ", 1) &&
	    line_put(l, level_label(level), 5) && line_put(l, " ", 1) &&
	    put_escaped(l, component, ESC_TEXT_BARE) && line_put(l, ": ", 2))
		put_escaped(l, msg, ESC_TEXT_BARE);
	for (size_t i = 0; i < nfields; i++) {
		if (fields[i].key != NULL)
			text_member(l, fields[i].key, &fields[i]);
	}
	if (l->full)
		line_force(l, " truncated=true");
	line_force(l, "\n");
}

void log_emit(enum log_level level, const char *component, const char *msg, const log_field *fields,
              size_t nfields)
{
	struct line l;
	char ts[64];
	int saved_errno = errno; /* logging an error must not clobber it */

	if (!log_enabled(level))
		return;
	l.len = 0;
	l.full = false;
	format_time(ts, sizeof ts);
	if (component == NULL)
		component = "";
	if (msg == NULL)
		msg = "";
	if (log_out_format == LOG_FORMAT_TEXT)
		build_text(&l, ts, level, component, msg, fields, nfields);
	else
		build_json(&l, ts, level, component, msg, fields, nfields);
	write_line(log_out_fd, l.buf, l.len);
	errno = saved_errno;
}
