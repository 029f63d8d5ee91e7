/* minidb-cli.c - command-line client for the minidb line protocol (docs/protocol.md).
 *
 * Two modes. With command words on the command line they are sent as one line,
 * each word bare or, when it holds blanks, quotes, backslashes or control bytes
 * (or is empty), in the protocol's quoted form; the one reply line is printed and
 * the exit status says whether it was an ERROR. Without command words, lines are
 * read from stdin and sent verbatim, one reply printed per line, as the original
 * Mini DB client did.
 *
 * `minidb-cli hash-token` works offline: it prints the hash line for a token, to
 * paste into the config (see cli_hash_token).
 *
 * Standalone program: libc and tool_common.c only, never src/ headers, except
 * auth.h for hash-token, so the line printed is exactly what the server parses
 * (one implementation of the format, not two that could drift). Every wait
 * (connect, write, reply) goes through poll(2) so --timeout bounds it; replies are
 * read through a growing buffer up to the longest line a 512 MiB value can produce.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "tool_common.h"

/* Exit statuses, shared by both modes. */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_REPLY_ERROR = 1, /* the server answered ERROR: ... */
	CLI_EXIT_TROUBLE = 2,     /* usage, connection, timeout, server went away */
};

/* A value is at most 512 MiB; quoted, each byte takes at most 4 characters
 * (\xHH), plus the quotes. A reply line longer than this is not minidb talking,
 * so the reader gives up instead of growing without bound. */
#define CLI_MAX_REPLY  ((size_t)4 * 512 * 1024 * 1024 + 64)
#define CLI_READ_CHUNK 16384

struct cli_opts {
	const char *host;
	const char *port;
	int timeout_ms; /* -1: wait forever */
};

/* A growable byte string for the outgoing command line. */
struct sbuf {
	char *p;
	size_t len, cap;
};

/* Buffered reader over the socket: unread bytes are buf[start, end); bytes
 * buf[start, start + scanned) are known to hold no '\n'. */
struct reader {
	int fd;
	char *buf;
	size_t cap, start, end, scanned;
};

enum read_result { RD_OK, RD_EOF, RD_TIMEOUT, RD_TOO_LONG, RD_ERROR };

static const char *prog = "minidb-cli";

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: %s [-h host] [-p port] [--timeout SECONDS] [command [arg...]]\n"
	        "       %s hash-token [--sha256] [TOKEN] | hash-token --generate\n"
	        "       %s --help | --version\n"
	        "\n"
	        "Client for the minidb line protocol.\n"
	        "\n"
	        "Options (before the command words; use -- if the first word starts with '-'):\n"
	        "  -h, --host HOST      server name or IPv4/IPv6 address (default 127.0.0.1)\n"
	        "  -p, --port PORT      server port (default 8080)\n"
	        "  --timeout SECONDS    bound on connecting, on each write making progress and\n"
	        "                       on waiting for each reply (default 30; 0 = no limit)\n"
	        "  --help               show this help\n"
	        "  --version            show the version\n"
	        "\n"
	        "With command words, they are sent as one line and the reply line is printed.\n"
	        "A word that is empty or holds spaces, tabs, quotes, backslashes or control\n"
	        "bytes is sent quoted (\"...\" with \\n \\r \\t \\\\ \\\" \\xHH), so\n"
	        "  %s SET k \"a b\"        stores 'a b'\n"
	        "SET keeps the original protocol's rule that the value is the rest of the\n"
	        "line: with more than one value word they are joined with single spaces, so\n"
	        "  %s SET k hello world  stores 'hello world'\n"
	        "Exit status: 0 on a reply, 1 if the reply starts with ERROR:, 2 on a usage,\n"
	        "connection or timeout error.\n"
	        "\n"
	        "Without command words: interactive mode. Each line read from stdin is sent\n"
	        "as typed and its reply printed (prompt 'minidb> ' when stdin is a terminal;\n"
	        "blank lines are skipped, the server would not answer them). QUIT or EXIT\n"
	        "ends the session. Exit status 0, or 2 if the server went away (1 if its last\n"
	        "reply was an ERROR).\n"
	        "\n"
	        "hash-token (offline, no server): prints the line to paste into the config for\n"
	        "a token, pbkdf2-sha256$ITERATIONS$SALT$HASH by default (a slow KDF, for tokens\n"
	        "people choose), sha256$HEX with --sha256 (for long random tokens: each PBKDF2\n"
	        "entry costs the server its iterations on every AUTH). The token is read from\n"
	        "stdin, without echo on a terminal, unless given as an argument (which other\n"
	        "users can see in ps). --generate prints a new random token and then its\n"
	        "sha256$ line, one per line.\n",
	        prog, prog, prog, prog, prog);
}

static void die_oom(void)
{
	fprintf(stderr, "%s: out of memory\n", prog);
	exit(CLI_EXIT_TROUBLE);
}

static void sbuf_reserve(struct sbuf *b, size_t more)
{
	if (more > SIZE_MAX - b->len || tool_buf_grow(&b->p, &b->cap, b->len + more, 256) < 0)
		die_oom();
}

static void sbuf_add(struct sbuf *b, const void *data, size_t n)
{
	sbuf_reserve(b, n);
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void sbuf_addc(struct sbuf *b, char c)
{
	sbuf_reserve(b, 1);
	b->p[b->len++] = c;
}

/* True when s cannot be sent as a bare token: the server would split it at a
 * blank, read a quote or backslash as quoting, or never see an empty word. */
static int cli_needs_quoting(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

/* Appends s to b as one protocol token: bare when it is safe, otherwise
 * "..." with \n \r \t \\ \" and \xHH for other control bytes; bytes >= 0x80
 * go raw, as the server sends them. */
static void cli_quote_arg(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (!cli_needs_quoting(s, n)) {
		sbuf_add(b, s, n);
		return;
	}
	sbuf_addc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '\n':
			sbuf_add(b, "\\n", 2);
			break;
		case '\r':
			sbuf_add(b, "\\r", 2);
			break;
		case '\t':
			sbuf_add(b, "\\t", 2);
			break;
		case '\\':
			sbuf_add(b, "\\\\", 2);
			break;
		case '"':
			sbuf_add(b, "\\\"", 2);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xf]};
				sbuf_add(b, esc, sizeof(esc));
			} else {
				sbuf_addc(b, (char)c);
			}
		}
	}
	sbuf_addc(b, '"');
}

/* Builds the command line (with its '\n') from argv words. SET with more than
 * one value word joins them with single spaces into one value, keeping the
 * original protocol's "value is the rest of the line" for unquoted shell use. */
static void cli_build_command(struct sbuf *out, int nwords, char **words)
{
	int i;

	if (nwords > 3 && strcasecmp(words[0], "SET") == 0) {
		struct sbuf value = {0};

		for (i = 2; i < nwords; i++) {
			if (i > 2)
				sbuf_addc(&value, ' ');
			sbuf_add(&value, words[i], strlen(words[i]));
		}
		cli_quote_arg(out, words[0], strlen(words[0]));
		sbuf_addc(out, ' ');
		cli_quote_arg(out, words[1], strlen(words[1]));
		sbuf_addc(out, ' ');
		cli_quote_arg(out, value.p, value.len);
		free(value.p);
	} else {
		for (i = 0; i < nwords; i++) {
			if (i > 0)
				sbuf_addc(out, ' ');
			cli_quote_arg(out, words[i], strlen(words[i]));
		}
	}
	sbuf_addc(out, '\n');
}

/* Writes all of buf. timeout_ms bounds each wait for the socket to accept more
 * (progress, not the whole transfer, so a 512 MiB value is not cut short).
 * Returns 0, or a positive errno (ETIMEDOUT on timeout). */
static int cli_write_all(int fd, const char *buf, size_t len, int timeout_ms)
{
	size_t off = 0;
	int rc;

	for (;;) {
		rc = tool_send_avail(fd, buf, len, &off);
		if (rc != 0)
			return rc;
		if (off == len)
			return 0;
		rc = tool_wait_fd(fd, POLLOUT, tool_deadline_after(timeout_ms));
		if (rc == 0)
			return ETIMEDOUT;
		if (rc < 0)
			return errno;
	}
}

/* Reads one reply line within timeout_ms. On RD_OK *line points into the
 * reader's buffer (valid until the next call), *len excludes "\n" and a "\r"
 * before it. On RD_ERROR errno is set. */
static enum read_result cli_read_line(struct reader *r, int timeout_ms, char **line, size_t *len)
{
	uint64_t deadline = tool_deadline_after(timeout_ms);
	char *nl;
	ssize_t n;
	int rc;

	for (;;) {
		nl = NULL;
		if (r->end - r->start > r->scanned)
			nl = memchr(r->buf + r->start + r->scanned, '\n',
			            r->end - r->start - r->scanned);
		if (nl != NULL) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			if (*len > 0 && (*line)[*len - 1] == '\r')
				(*len)--;
			r->start = (size_t)(nl - r->buf) + 1;
			r->scanned = 0;
			return RD_OK;
		}
		r->scanned = r->end - r->start;
		if (r->scanned > CLI_MAX_REPLY)
			return RD_TOO_LONG;
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (tool_buf_grow(&r->buf, &r->cap, r->end + CLI_READ_CHUNK, 4 * CLI_READ_CHUNK) <
		    0)
			die_oom();
		n = recv(r->fd, r->buf + r->end, r->cap - r->end, 0);
		if (n > 0) {
			r->end += (size_t)n;
			continue;
		}
		if (n == 0)
			return RD_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return RD_ERROR;
		rc = tool_wait_fd(r->fd, POLLIN, deadline);
		if (rc == 0)
			return RD_TIMEOUT;
		if (rc < 0)
			return RD_ERROR;
	}
}

static int is_error_reply(const char *line, size_t len)
{
	return len >= 6 && memcmp(line, "ERROR:", 6) == 0;
}

/* Prints the reply line to stdout, with its newline. */
static void print_reply(const char *line, size_t len)
{
	fwrite(line, 1, len, stdout);
	putchar('\n');
}

/* Reports a failed reply read on stderr, after flushing what stdout holds so
 * the two streams stay in order on a terminal. */
static void report_read_failure(enum read_result rr, const struct cli_opts *o)
{
	int err = errno;

	fflush(stdout);
	switch (rr) {
	case RD_EOF:
		fprintf(stderr, "%s: server closed the connection\n", prog);
		break;
	case RD_TIMEOUT:
		fprintf(stderr, "%s: no reply within %d ms\n", prog, o->timeout_ms);
		break;
	case RD_TOO_LONG:
		fprintf(stderr, "%s: reply line longer than %zu bytes\n", prog, CLI_MAX_REPLY);
		break;
	case RD_ERROR:
		if (err == ECONNRESET || err == EPIPE)
			fprintf(stderr, "%s: server closed the connection\n", prog);
		else
			fprintf(stderr, "%s: read: %s\n", prog, strerror(err));
		break;
	case RD_OK:
		break;
	}
}

static void report_write_failure(int err)
{
	fflush(stdout);
	if (err == EPIPE || err == ECONNRESET)
		fprintf(stderr, "%s: server closed the connection\n", prog);
	else if (err == ETIMEDOUT)
		fprintf(stderr, "%s: write timed out\n", prog);
	else
		fprintf(stderr, "%s: write: %s\n", prog, strerror(err));
}

/* Command mode: one line out, one reply line in. Returns the exit status. */
static int cli_run_command(int fd, const struct cli_opts *o, int nwords, char **words)
{
	struct reader r = {.fd = fd};
	struct sbuf cmd = {0};
	enum read_result rr;
	char *line;
	size_t len;
	int err, status;

	cli_build_command(&cmd, nwords, words);
	err = cli_write_all(fd, cmd.p, cmd.len, o->timeout_ms);
	free(cmd.p);
	/* Even when the write failed the server may have answered (for instance
	 * "line too long" before closing), so look for a reply either way. */
	rr = cli_read_line(&r, o->timeout_ms, &line, &len);
	if (rr == RD_OK) {
		print_reply(line, len);
		status = is_error_reply(line, len) ? CLI_EXIT_REPLY_ERROR : CLI_EXIT_OK;
	} else {
		if (err != 0)
			report_write_failure(err);
		else
			report_read_failure(rr, o);
		status = CLI_EXIT_TROUBLE;
	}
	free(r.buf);
	return status;
}

/* True for lines the server ignores (nothing but blanks once a trailing CR is
 * dropped): they get no reply, so they must not be waited on. */
static int is_blank_line(const char *s, size_t n)
{
	size_t i;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

/* True when the first token of the line is QUIT or EXIT, in any case. */
static int is_quit_line(const char *s, size_t n)
{
	size_t i = 0, start;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	start = i;
	while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
		i++;
	return i - start == 4 &&
	       (strncasecmp(s + start, "QUIT", 4) == 0 || strncasecmp(s + start, "EXIT", 4) == 0);
}

/* Interactive mode: a read-send-print loop over stdin. Lines go out as typed.
 * Returns the exit status. */
static int cli_run_interactive(int fd, const struct cli_opts *o)
{
	struct reader r = {.fd = fd};
	int tty = isatty(STDIN_FILENO);
	int last_was_error = 0, status = CLI_EXIT_OK, err, quit;
	enum read_result rr;
	char *in = NULL, *reply;
	size_t incap = 0, len;
	ssize_t n;

	for (;;) {
		if (tty) {
			fputs("minidb> ", stdout);
			fflush(stdout);
		}
		errno = 0;
		n = getline(&in, &incap, stdin);
		if (n < 0) {
			if (ferror(stdin) && errno != 0) {
				fflush(stdout);
				fprintf(stderr, "%s: reading stdin: %s\n", prog, strerror(errno));
			}
			if (tty)
				putchar('\n');
			break;
		}
		/* getline keeps the '\n' (absent on a last unterminated line);
		 * send the line as typed, always newline-terminated. */
		if (n > 0 && in[n - 1] == '\n')
			n--;
		if (is_blank_line(in, (size_t)n))
			continue;
		quit = is_quit_line(in, (size_t)n);
		in[n] = '\n'; /* getline's buffer always has room: it held '\n' or '\0' */
		err = cli_write_all(fd, in, (size_t)n + 1, o->timeout_ms);
		rr = cli_read_line(&r, o->timeout_ms, &reply, &len);
		if (rr != RD_OK) {
			if (quit && (rr == RD_EOF || rr == RD_ERROR))
				break; /* it was leaving anyway */
			if (err != 0)
				report_write_failure(err);
			else
				report_read_failure(rr, o);
			status = last_was_error ? CLI_EXIT_REPLY_ERROR : CLI_EXIT_TROUBLE;
			break;
		}
		print_reply(reply, len);
		if (tty)
			fflush(stdout);
		last_was_error = is_error_reply(reply, len);
		if (quit)
			break;
	}
	free(in);
	free(r.buf);
	return status;
}

/* strtol's rules (leading blanks and a sign allowed), as the tool always took. */
static int valid_port(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && v >= 1 && v <= 65535;
}

static int usage_error(const char *opt, const char *problem)
{
	return tool_usage_error(prog, opt, problem, CLI_EXIT_TROUBLE);
}

/* ---- hash-token ----------------------------------------------------------- */

/* The terminal state while echo is off, restored on exit or on a signal.
 * Process-wide, but this is a single-threaded tool and only hash-token sets it. */
static struct termios cli_saved_tty;
static volatile sig_atomic_t cli_tty_changed;

static void cli_restore_tty(void)
{
	if (cli_tty_changed) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &cli_saved_tty);
		cli_tty_changed = 0;
	}
}

static void cli_tty_signal(int sig)
{
	cli_restore_tty();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line (the token) from stdin into buf[cap], without its line end;
 * a terminal gets a prompt on stderr and no echo. Returns the length, or -1
 * with a message printed (never the token). */
static long cli_read_token(char *buf, size_t cap)
{
	int tty = isatty(STDIN_FILENO);
	size_t n = 0;
	int c;

	if (tty && tcgetattr(STDIN_FILENO, &cli_saved_tty) == 0) {
		struct termios quiet = cli_saved_tty;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		signal(SIGINT, cli_tty_signal);
		signal(SIGTERM, cli_tty_signal);
		signal(SIGHUP, cli_tty_signal);
		fprintf(stderr, "Token: ");
		fflush(stderr);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0)
			cli_tty_changed = 1;
	}
	/* One byte beyond the limit tells "too long" from "exactly the limit". */
	while (n < cap && (c = getchar()) != EOF && c != '\n')
		buf[n++] = (char)c;
	cli_restore_tty();
	if (ferror(stdin)) {
		fprintf(stderr, "%s: hash-token: reading stdin: %s\n", prog, strerror(errno));
		return -1;
	}
	if (n == cap) {
		fprintf(stderr, "%s: hash-token: token longer than %d bytes\n", prog,
		        AUTH_TOKEN_MAX);
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	return (long)n;
}

/* minidb-cli hash-token [--sha256] [TOKEN] | hash-token --generate. argv[0]
 * is "hash-token". Prints to stdout only the line(s) asked for; errors name
 * the problem, never the token. */
static int cli_hash_token(int argc, char **argv)
{
	char token[AUTH_TOKEN_MAX + 1], line[AUTH_HASH_LINE_MAX + 1];
	enum auth_scheme scheme = AUTH_SCHEME_PBKDF2_SHA256;
	const char *given = NULL;
	int generate = 0, status = CLI_EXIT_TROUBLE, rc, i;
	long len;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--sha256") == 0) {
			scheme = AUTH_SCHEME_SHA256;
		} else if (strcmp(argv[i], "--generate") == 0) {
			generate = 1;
		} else if (strcmp(argv[i], "--") == 0 && i + 1 < argc && given == NULL) {
			given = argv[++i];
		} else if (argv[i][0] != '-' && given == NULL) {
			given = argv[i];
		} else {
			/* Not the argument itself: it may be a token typed in the wrong place. */
			fprintf(stderr, "%s: hash-token: unexpected argument %d (see --help)\n",
			        prog, i);
			return CLI_EXIT_TROUBLE;
		}
	}
	if (generate && given != NULL) {
		fprintf(stderr, "%s: hash-token: --generate takes no token\n", prog);
		return CLI_EXIT_TROUBLE;
	}
	if (generate) {
		scheme = AUTH_SCHEME_SHA256;
		rc = auth_token_generate(token, sizeof(token));
		len = rc == AUTH_OK ? (long)strlen(token) : -1;
	} else if (given != NULL) {
		len = (long)strnlen(given, AUTH_TOKEN_MAX + 1);
		if (len > AUTH_TOKEN_MAX) {
			fprintf(stderr, "%s: hash-token: token longer than %d bytes\n", prog,
			        AUTH_TOKEN_MAX);
			return CLI_EXIT_TROUBLE;
		}
		memcpy(token, given, (size_t)len);
		rc = AUTH_OK;
	} else {
		len = cli_read_token(token, sizeof(token));
		if (len < 0)
			goto out;
		rc = AUTH_OK;
	}
	if (rc == AUTH_OK && len == 0) {
		fprintf(stderr, "%s: hash-token: empty token\n", prog);
		goto out;
	}
	if (rc == AUTH_OK)
		rc = auth_hash_token(token, (size_t)len, scheme, 0, line, sizeof(line));
	if (rc != AUTH_OK) {
		fprintf(stderr, "%s: hash-token: %s\n", prog, auth_strerror(rc));
		goto out;
	}
	if (generate)
		printf("%.*s\n", (int)len, token);
	printf("%s\n", line);
	status = CLI_EXIT_OK;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: writing stdout: %s\n", prog, strerror(errno));
		status = CLI_EXIT_TROUBLE;
	}
out:
	explicit_bzero(token, sizeof(token));
	return status;
}

int main(int argc, char **argv)
{
	struct cli_opts o = {.host = "127.0.0.1", .port = "8080", .timeout_ms = 30000};
	const char *v;
	size_t n;
	int i, fd, status;

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("minidb-cli %s (%s)\n", MINIDB_VERSION, MINIDB_COMMIT);
			return CLI_EXIT_OK;
		}
		if ((n = tool_match_opt(a, "-h", "--host")) != 0) {
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a host");
			o.host = v;
		} else if ((n = tool_match_opt(a, "-p", "--port")) != 0) {
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || !valid_port(v))
				return usage_error(a, "needs a port number (1-65535)");
			o.port = v;
		} else if ((n = tool_match_opt(a, NULL, "--timeout")) != 0) {
			v = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_timeout_ms(v, &o.timeout_ms) < 0)
				return usage_error(a, "needs a number of seconds >= 0");
		} else {
			return usage_error(a, "unknown option");
		}
	}

	if (i < argc && strcmp(argv[i], "hash-token") == 0)
		return cli_hash_token(argc - i, argv + i);
	fd = tool_connect(prog, o.host, o.port, tool_deadline_after(o.timeout_ms), NULL, NULL);
	if (fd < 0)
		return CLI_EXIT_TROUBLE;
	if (i < argc)
		status = cli_run_command(fd, &o, argc - i, argv + i);
	else
		status = cli_run_interactive(fd, &o);
	close(fd);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: writing stdout: %s\n", prog, strerror(errno));
		status = CLI_EXIT_TROUBLE;
	}
	return status;
}
