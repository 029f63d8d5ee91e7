/* minidb-cli.c - command-line client for the minidb line protocol (docs/protocol.md).
 *
 * Two modes. With command words on the command line they are sent as one line,
 * each word bare or, when it holds blanks, quotes, backslashes or control bytes
 * (or is empty), in the protocol's quoted form; the one reply line is printed and
 * the exit status says whether it was an ERROR. Without command words, lines are
 * read from stdin and sent verbatim, one reply printed per line, as the original
 * Mini DB client did.
 *
 * The original client's security flags, with one dash or two: -tls (verified
 * against -ca-cert FILE or the system's CAs, and the host name or address checked;
 * --insecure skips that), --cert/--key for mutual TLS, and -auth, which sends
 * `AUTH <token>` right after connecting, the token from --token, else MINIDB_TOKEN,
 * else typed at a prompt on the terminal without echo. The token is never printed,
 * not even in errors. OpenSSL does the TLS (tool_common.c).
 *
 * `minidb-cli hash-token` works offline: it prints the hash line for a token, to
 * paste into the config (see cli_hash_token).
 *
 * Standalone program: libc, OpenSSL and tool_common.c only, never src/ headers,
 * except auth.h for hash-token, so the line printed is exactly what the server
 * parses (one implementation of the format, not two that could drift). Every wait
 * (connect, handshake, write, reply) goes through poll(2) so --timeout bounds it;
 * replies are read through a growing buffer up to the longest line a 512 MiB value
 * can produce.
 */
#include <errno.h>
#include <fcntl.h>
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
	CLI_EXIT_REPLY_ERROR = 1, /* the server answered ERROR: ... (or refused the token) */
	CLI_EXIT_TROUBLE = 2,     /* usage, connection, TLS, timeout, server went away */
};

/* A value is at most 512 MiB; quoted, each byte takes at most 4 characters
 * (\xHH), plus the quotes. A reply line longer than this is not minidb talking,
 * so the reader gives up instead of growing without bound. */
#define CLI_MAX_REPLY  ((size_t)4 * 512 * 1024 * 1024 + 64)
#define CLI_READ_CHUNK 16384

struct cli_opts {
	const char *host;
	const char *port;
	int timeout_ms;    /* -1: wait forever */
	int auth;          /* -auth: send AUTH before anything else */
	const char *token; /* --token; NULL: MINIDB_TOKEN, else a prompt */
	struct tool_tls_opts tls;
};

/* A growable byte string for the outgoing command line. */
struct sbuf {
	char *p;
	size_t len, cap;
};

/* Buffered reader over the connection: unread bytes are buf[start, end);
 * bytes buf[start, start + scanned) are known to hold no '\n'. */
struct reader {
	const struct tool_conn *conn;
	char *buf;
	size_t cap, start, end, scanned;
};

enum read_result { RD_OK, RD_EOF, RD_TIMEOUT, RD_TOO_LONG, RD_ERROR };

static const char *prog = "minidb-cli";

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: %s [-h host] [-p port] [--timeout SECONDS] [-tls [-ca-cert FILE]\n"
	        "                  [--cert FILE --key FILE] [--sni NAME] [--insecure]]\n"
	        "                  [-auth | --token TOKEN] [command [arg...]]\n"
	        "       %s hash-token [--sha256] [TOKEN] | hash-token --generate\n"
	        "       %s --help | --version\n"
	        "\n"
	        "Client for the minidb line protocol.\n"
	        "\n"
	        "Options (before the command words; use -- if the first word starts with '-').\n"
	        "Long options take one dash or two (-tls or --tls), as the original Mini DB\n"
	        "client's did; a value follows as the next word or after '='.\n"
	        "  -h, --host HOST      server name or IPv4/IPv6 address (default 127.0.0.1)\n"
	        "  -p, --port PORT      server port (default 8080)\n"
	        "  --timeout SECONDS    bound on connecting and the TLS handshake, on each write\n"
	        "                       making progress and on waiting for each reply\n"
	        "                       (default 30; 0 = no limit)\n"
	        "  -tls                 connect with TLS (1.2 or 1.3). The server's certificate\n"
	        "                       must chain to a trusted CA and name the host (its DNS\n"
	        "                       name, or its IP address when -h is one)\n"
	        "  -ca-cert FILE        trust the CA certificates in FILE (PEM) instead of the\n"
	        "                       system's; implies -tls\n"
	        "  --cert FILE          client certificate chain (PEM) for mutual TLS; implies "
	        "-tls\n"
	        "  --key FILE           its private key (PEM; default: read from the --cert file)\n"
	        "  --sni NAME           send NAME as the TLS server name and check the\n"
	        "                       certificate against it instead of the host; implies -tls\n"
	        "  --insecure           do not verify the server's certificate (tests only: "
	        "anyone\n"
	        "                       on the path can then read and change the traffic)\n"
	        "  -auth                send AUTH <token> right after connecting; the token is\n"
	        "                       --token's, else $MINIDB_TOKEN, else typed at a prompt on\n"
	        "                       the terminal (not echoed). It is never printed\n"
	        "  --token TOKEN        the token, implies -auth (other users can see command\n"
	        "                       lines in ps: prefer MINIDB_TOKEN or the prompt)\n"
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
	        "Exit status: 0 on a reply, 1 if the reply starts with ERROR: or the server\n"
	        "refused the token (\"Authentication failed\" on stderr), 2 on a usage,\n"
	        "connection, TLS (a certificate that does not verify) or timeout error.\n"
	        "\n"
	        "Examples:\n"
	        "  %s -tls -ca-cert ca.pem -h db.example.com -p 6380 LOOKUP k\n"
	        "  MINIDB_TOKEN=... %s -auth SET k v\n"
	        "  %s --cert client.pem --key client.key -ca-cert ca.pem PING\n"
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
	        prog, prog, prog, prog, prog, prog, prog, prog);
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

/* Writes all of buf. timeout_ms bounds each wait for the connection to accept
 * more (progress, not the whole transfer, so a 512 MiB value is not cut short).
 * Returns 0, or a positive errno (ETIMEDOUT on timeout, EPROTO for TLS). */
static int cli_write_all(const struct tool_conn *c, const char *buf, size_t len, int timeout_ms)
{
	size_t off = 0;
	short want;
	int rc;

	for (;;) {
		rc = tool_conn_send(c, buf, len, &off, &want);
		if (rc != 0)
			return rc;
		if (off == len)
			return 0;
		rc = tool_wait_fd(c->fd, want, tool_deadline_after(timeout_ms));
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
	short want;
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
		n = tool_conn_recv(r->conn, r->buf + r->end, r->cap - r->end, &want);
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
		rc = tool_wait_fd(r->conn->fd, want, deadline);
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

/* Says that the server closed the connection, with the likely reason when
 * it had asked for a client certificate. */
static void report_closed(const struct tool_conn *c, const struct cli_opts *o)
{
	const char *why = "";

	if (tool_tls_cert_requested(c->ssl))
		why = o->tls.cert_file == NULL
		              ? " (it asked for a client certificate: --cert FILE --key FILE)"
		              : " (it asked for a client certificate: does it accept this one?)";
	fprintf(stderr, "%s: server closed the connection%s\n", prog, why);
}

/* Reports a failed reply read on stderr, after flushing what stdout holds so
 * the two streams stay in order on a terminal. */
static void report_read_failure(enum read_result rr, const struct reader *r,
                                const struct cli_opts *o)
{
	int err = errno;

	fflush(stdout);
	switch (rr) {
	case RD_EOF:
		report_closed(r->conn, o);
		break;
	case RD_TIMEOUT:
		fprintf(stderr, "%s: no reply within %d ms\n", prog, o->timeout_ms);
		break;
	case RD_TOO_LONG:
		fprintf(stderr, "%s: reply line longer than %zu bytes\n", prog, CLI_MAX_REPLY);
		break;
	case RD_ERROR:
		if (err == ECONNRESET || err == EPIPE)
			report_closed(r->conn, o);
		else if (err == EPROTO)
			fprintf(stderr, "%s: TLS: %s%s\n", prog, tool_tls_error_reason(),
			        tool_tls_error_hint());
		else
			fprintf(stderr, "%s: read: %s\n", prog, strerror(err));
		break;
	case RD_OK:
		break;
	}
}

static void report_write_failure(int err, const struct reader *r, const struct cli_opts *o)
{
	fflush(stdout);
	if (err == EPIPE || err == ECONNRESET)
		report_closed(r->conn, o);
	else if (err == EPROTO)
		fprintf(stderr, "%s: TLS: %s%s\n", prog, tool_tls_error_reason(),
		        tool_tls_error_hint());
	else if (err == ETIMEDOUT)
		fprintf(stderr, "%s: write timed out\n", prog);
	else
		fprintf(stderr, "%s: write: %s\n", prog, strerror(err));
}

/* Command mode: one line out, one reply line in. Returns the exit status. */
static int cli_run_command(struct reader *r, const struct cli_opts *o, int nwords, char **words)
{
	struct sbuf cmd = {0};
	enum read_result rr;
	char *line;
	size_t len;
	int err, status;

	cli_build_command(&cmd, nwords, words);
	err = cli_write_all(r->conn, cmd.p, cmd.len, o->timeout_ms);
	free(cmd.p);
	/* Even when the write failed the server may have answered (for instance
	 * "line too long" before closing), so look for a reply either way. */
	rr = cli_read_line(r, o->timeout_ms, &line, &len);
	if (rr == RD_OK) {
		print_reply(line, len);
		status = is_error_reply(line, len) ? CLI_EXIT_REPLY_ERROR : CLI_EXIT_OK;
	} else {
		if (err != 0)
			report_write_failure(err, r, o);
		else
			report_read_failure(rr, r, o);
		status = CLI_EXIT_TROUBLE;
	}
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
static int cli_run_interactive(struct reader *r, const struct cli_opts *o)
{
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
		err = cli_write_all(r->conn, in, (size_t)n + 1, o->timeout_ms);
		rr = cli_read_line(r, o->timeout_ms, &reply, &len);
		if (rr != RD_OK) {
			if (quit && (rr == RD_EOF || rr == RD_ERROR))
				break; /* it was leaving anyway */
			if (err != 0)
				report_write_failure(err, r, o);
			else
				report_read_failure(rr, r, o);
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

/* Reports a bad option by its name only: what follows '=' may be a token. */
static int usage_error(const char *opt, const char *problem)
{
	char name[64];
	size_t n = strcspn(opt, "=");

	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), opt);
	return tool_usage_error(prog, name, problem, CLI_EXIT_TROUBLE);
}

/* The value of a switch spelled by the first n bytes of a: on, unless
 * "=false" or "=0" follows (Go's -flag=false). Returns 0 or -1. */
static int switch_value(const char *a, size_t n, int *on)
{
	if (a[n] == '\0' || strcmp(a + n, "=true") == 0 || strcmp(a + n, "=1") == 0)
		*on = 1;
	else if (strcmp(a + n, "=false") == 0 || strcmp(a + n, "=0") == 0)
		*on = 0;
	else
		return -1;
	return 0;
}

/* Parses the options before the command words into o. Returns -1 to go on
 * with argv[*first] the first word, else an exit status. */
static int cli_parse_args(int argc, char **argv, struct cli_opts *o, int *first)
{
	const char **file;
	int i, tls_flag = 0, *sw;
	const char *v;
	size_t n;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-help") == 0) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-version") == 0) {
			printf("minidb-cli %s (%s)\n", MINIDB_VERSION, MINIDB_COMMIT);
			return CLI_EXIT_OK;
		}
		sw = NULL;
		file = NULL;
		if ((n = tool_match_long(a, "tls")) != 0)
			sw = &tls_flag;
		else if ((n = tool_match_long(a, "insecure")) != 0)
			sw = &o->tls.insecure;
		else if ((n = tool_match_long(a, "auth")) != 0)
			sw = &o->auth;
		else if ((n = tool_match_long(a, "ca-cert")) != 0 ||
		         (n = tool_match_long(a, "cacert")) != 0)
			file = &o->tls.ca_file;
		else if ((n = tool_match_long(a, "cert")) != 0)
			file = &o->tls.cert_file;
		else if ((n = tool_match_long(a, "key")) != 0)
			file = &o->tls.key_file;
		if (sw != NULL) {
			if (switch_value(a, n, sw) < 0)
				return usage_error(a, "takes no value (or =true, =false)");
		} else if (file != NULL) {
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a file name");
			*file = v;
		} else if ((n = tool_match_long(a, "token")) != 0) {
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a token");
			o->token = v;
			o->auth = 1;
		} else if ((n = tool_match_long(a, "sni")) != 0) {
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a server name");
			o->tls.sni = v;
		} else if ((n = tool_match_long(a, "host")) != 0 ||
		           (n = tool_match_opt(a, "-h", NULL)) != 0) {
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || *v == '\0')
				return usage_error(a, "needs a host");
			o->host = v;
		} else if ((n = tool_match_long(a, "port")) != 0 ||
		           (n = tool_match_opt(a, "-p", NULL)) != 0) {
			v = tool_opt_value(argc, argv, &i, n);
			if (v == NULL || !valid_port(v))
				return usage_error(a, "needs a port number (1-65535)");
			o->port = v;
		} else if ((n = tool_match_long(a, "timeout")) != 0) {
			v = tool_opt_value(argc, argv, &i, n);
			if (tool_parse_timeout_ms(v, &o->timeout_ms) < 0)
				return usage_error(a, "needs a number of seconds >= 0");
		} else {
			return usage_error(a, "unknown option");
		}
	}
	if (o->tls.key_file != NULL && o->tls.cert_file == NULL)
		return usage_error("--key", "needs --cert (the certificate it belongs to)");
	/* Every TLS setting means TLS: a CA file given for a plaintext
	 * connection is a forgotten -tls, not a wish for cleartext. */
	o->tls.enabled = tls_flag || o->tls.ca_file != NULL || o->tls.cert_file != NULL ||
	                 o->tls.sni != NULL || o->tls.insecure;
	*first = i;
	return -1;
}

/* Connects, runs the TLS handshake when asked, all within one --timeout.
 * Returns 0 with c open, or -1 after printing why. */
static int cli_connect(const struct cli_opts *o, struct tool_conn *c)
{
	uint64_t deadline = tool_deadline_after(o->timeout_ms);
	struct ssl_ctx_st *ctx = NULL;

	c->fd = -1;
	c->ssl = NULL;
	/* Certificate files first: a typo is reported before any network. */
	if (o->tls.enabled && (ctx = tool_tls_ctx_new(prog, &o->tls)) == NULL)
		return -1;
	c->fd = tool_connect(prog, o->host, o->port, deadline, NULL, NULL);
	if (c->fd >= 0 && ctx != NULL) {
		c->ssl = tool_tls_connect(prog, ctx, c->fd, o->host, o->port, &o->tls, deadline);
		if (c->ssl == NULL)
			tool_conn_close(c);
	}
	tool_tls_ctx_free(ctx); /* the session holds its own reference */
	return c->fd >= 0 ? 0 : -1;
}

/* ---- tokens from a terminal ------------------------------------------------ */

/* The terminal whose echo is off, and its state to restore on exit or on a
 * signal. Process-wide, but this is a single-threaded tool and only the token
 * prompts set it. */
static struct termios cli_saved_tty;
static volatile sig_atomic_t cli_tty_changed;
static int cli_tty_fd = -1;

static void cli_restore_tty(void)
{
	if (cli_tty_changed) {
		tcsetattr(cli_tty_fd, TCSAFLUSH, &cli_saved_tty);
		cli_tty_changed = 0;
	}
}

static void cli_tty_signal(int sig)
{
	cli_restore_tty();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line (the token) from in into buf[cap], without its line end.
 * When in is a terminal, "Token: " goes to prompt first and echo is off while
 * the token is typed. who prefixes messages. Returns the length, or -1 with a
 * message printed (never the token). */
static long cli_read_token(FILE *in, FILE *prompt, const char *who, char *buf, size_t cap)
{
	int fd = fileno(in);
	size_t n = 0;
	int c;

	if (isatty(fd) && tcgetattr(fd, &cli_saved_tty) == 0) {
		struct termios quiet = cli_saved_tty;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		cli_tty_fd = fd;
		signal(SIGINT, cli_tty_signal);
		signal(SIGTERM, cli_tty_signal);
		signal(SIGHUP, cli_tty_signal);
		fprintf(prompt, "Token: ");
		fflush(prompt);
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			cli_tty_changed = 1;
	}
	/* One byte beyond the limit tells "too long" from "exactly the limit". */
	while (n < cap && (c = getc(in)) != EOF && c != '\n')
		buf[n++] = (char)c;
	cli_restore_tty();
	if (ferror(in)) {
		fprintf(stderr, "%s: %s: reading the token: %s\n", prog, who, strerror(errno));
		return -1;
	}
	if (n == cap) {
		fprintf(stderr, "%s: %s: token longer than %d bytes\n", prog, who, AUTH_TOKEN_MAX);
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	return (long)n;
}

/* ---- -auth ------------------------------------------------------------------ */

/* Asks for the token on the controlling terminal (not stdin, which may carry
 * the commands of a piped session). Returns its length or -1, as
 * cli_read_token. */
static long cli_prompt_token(char *buf, size_t cap)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	FILE *tty;
	long len;

	if (fd < 0 || (tty = fdopen(fd, "r+")) == NULL) {
		if (fd >= 0)
			close(fd);
		fprintf(stderr,
		        "%s: -auth needs a token: --token TOKEN, MINIDB_TOKEN in the environment, "
		        "or a terminal to type it on\n",
		        prog);
		return -1;
	}
	len = cli_read_token(tty, tty, "-auth", buf, cap);
	fclose(tty);
	return len;
}

/* True when the reply is the server saying it has no credentials configured
 * (AUTH with authentication off), as Redis words it. */
static int is_auth_not_configured(const char *line, size_t len)
{
	static const char needle[] = "without any password configured";

	return memmem(line, len, needle, sizeof(needle) - 1) != NULL;
}

/* Sends AUTH <token> and reads the answer; the token comes from --token,
 * MINIDB_TOKEN or the terminal and is wiped from memory once sent. Returns
 * CLI_EXIT_OK when the connection may go on (authenticated, or the server has
 * no authentication), else the exit status, after saying why on stderr
 * without the token. */
static int cli_authenticate(struct reader *r, const struct cli_opts *o)
{
	char typed[AUTH_TOKEN_MAX + 1];
	const char *token = o->token;
	struct sbuf cmd = {0};
	enum read_result rr;
	size_t tlen, len;
	char *line;
	long got;
	int err;

	if (token == NULL || *token == '\0')
		token = getenv("MINIDB_TOKEN");
	if (token == NULL || *token == '\0') {
		got = cli_prompt_token(typed, sizeof(typed));
		if (got < 0)
			return CLI_EXIT_TROUBLE;
		token = typed;
		tlen = (size_t)got;
	} else {
		tlen = strnlen(token, AUTH_TOKEN_MAX + 1);
	}
	if (tlen == 0 || tlen > AUTH_TOKEN_MAX) {
		explicit_bzero(typed, sizeof(typed));
		if (tlen == 0)
			fprintf(stderr, "%s: -auth: the token is empty\n", prog);
		else
			fprintf(stderr, "%s: -auth: the token is longer than %d bytes\n", prog,
			        AUTH_TOKEN_MAX);
		return CLI_EXIT_TROUBLE;
	}
	/* Reserved up front so no realloc leaves a copy of the token behind. */
	sbuf_reserve(&cmd, 5 + 4 * tlen + 3);
	sbuf_add(&cmd, "AUTH ", 5);
	cli_quote_arg(&cmd, token, tlen);
	sbuf_addc(&cmd, '\n');
	explicit_bzero(typed, sizeof(typed));
	err = cli_write_all(r->conn, cmd.p, cmd.len, o->timeout_ms);
	explicit_bzero(cmd.p, cmd.cap);
	free(cmd.p);
	rr = cli_read_line(r, o->timeout_ms, &line, &len);
	if (rr != RD_OK) {
		if (err != 0)
			report_write_failure(err, r, o);
		else
			report_read_failure(rr, r, o);
		return CLI_EXIT_TROUBLE;
	}
	if (len == 2 && memcmp(line, "OK", 2) == 0)
		return CLI_EXIT_OK;
	if (is_error_reply(line, len) && is_auth_not_configured(line, len)) {
		fprintf(stderr,
		        "%s: warning: the server has no authentication configured; "
		        "going on without it\n",
		        prog);
		return CLI_EXIT_OK;
	}
	/* The reply names the problem (Authentication failed, too many
	 * attempts, an expired JWT); the server never echoes the token. */
	fprintf(stderr, "%s: the server refused the token: %.*s\n", prog, (int)len, line);
	return is_error_reply(line, len) ? CLI_EXIT_REPLY_ERROR : CLI_EXIT_TROUBLE;
}

/* ---- hash-token ----------------------------------------------------------- */

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
		len = cli_read_token(stdin, stderr, "hash-token", token, sizeof(token));
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
	struct tool_conn conn;
	struct reader r = {.conn = &conn};
	int i = 1, status;

	signal(SIGPIPE, SIG_IGN);
	status = cli_parse_args(argc, argv, &o, &i);
	if (status >= 0)
		return status;
	if (i < argc && strcmp(argv[i], "hash-token") == 0)
		return cli_hash_token(argc - i, argv + i);
	if (cli_connect(&o, &conn) < 0)
		return CLI_EXIT_TROUBLE;
	status = o.auth ? cli_authenticate(&r, &o) : CLI_EXIT_OK;
	if (status == CLI_EXIT_OK) {
		if (i < argc)
			status = cli_run_command(&r, &o, argc - i, argv + i);
		else
			status = cli_run_interactive(&r, &o);
	}
	tool_conn_close(&conn);
	free(r.buf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: writing stdout: %s\n", prog, strerror(errno));
		status = CLI_EXIT_TROUBLE;
	}
	return status;
}
