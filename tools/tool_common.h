/* tool_common.h - what minidb's command-line tools (minidb-cli, minidb-bench,
 * minidb-parquet) share: a monotonic clock with deadlines for poll(2), the
 * non-blocking TCP connect with a bound on the wait, sending what a socket
 * takes now, growing a byte buffer, the -x/--long option parsing, and the
 * client side of TLS (verified by default, mutual TLS on request) behind one
 * send/receive pair that serves plain and TLS connections alike.
 *
 * Error convention: functions that take `prog` print their own message on
 * stderr as "<prog>: ..." and return -1 (or the status given); the others
 * return 0 or -1, or a positive errno where they say so, and print nothing.
 * Deadlines are tool_now_ns() values; 0 means no deadline.
 */
#ifndef MINIDB_TOOL_COMMON_H
#define MINIDB_TOOL_COMMON_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* OpenSSL's types, declared here so the tools that never use TLS need not
 * include its headers. */
struct ssl_st;
struct ssl_ctx_st;

#ifndef MINIDB_VERSION
#define MINIDB_VERSION "0.1.0"
#endif
#ifndef MINIDB_COMMIT
#define MINIDB_COMMIT "unknown"
#endif

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t tool_now_ns(void);

/* The deadline timeout_ms from now; 0 (none) when timeout_ms < 0. */
uint64_t tool_deadline_after(int timeout_ms);

/* Milliseconds left until deadline_ns for poll(2), rounded up so that a
 * poll that times out has reached the deadline: -1 when there is no
 * deadline, 0 once it has passed. */
int tool_ms_left(uint64_t deadline_ns);

/* Waits for events on fd until deadline_ns, retrying on EINTR. Returns 1
 * when ready, 0 on timeout, -1 with errno set on failure. */
int tool_wait_fd(int fd, short events, uint64_t deadline_ns);

/* Opens a non-blocking TCP_NODELAY socket to ai, waiting for the connection
 * no later than deadline_ns. Returns the fd, or -1 with *err set (ETIMEDOUT
 * when the deadline passed). */
int tool_connect_addr(const struct addrinfo *ai, uint64_t deadline_ns, int *err);

/* Resolves host:port and connects to the first address that accepts, all
 * within deadline_ns (a timeout ends the search). Returns the fd; when res
 * is not NULL, *res is the address list (free it with freeaddrinfo) and
 * *used the address that accepted, for more connections to the same place.
 * Returns -1 after printing why. */
int tool_connect(const char *prog, const char *host, const char *port, uint64_t deadline_ns,
                 struct addrinfo **res, const struct addrinfo **used);

/* Sends buf[*off, len) until all is sent or the socket would block,
 * advancing *off and retrying on EINTR. Returns 0 (check *off to see which),
 * or a positive errno. */
int tool_send_avail(int fd, const char *buf, size_t len, size_t *off);

/* Makes *cap at least need, doubling from first_cap and reallocating *buf.
 * Returns 0, or -1 when the memory is not there (*buf is kept). */
int tool_buf_grow(char **buf, size_t *cap, size_t need, size_t first_cap);

/* Matches argv word a against an option spelled -x or --long (either may be
 * NULL). Returns the length of the spelling that matched (an attached value
 * follows it as "-xVALUE" or "--long=VALUE"), or 0 when a is not this option. */
size_t tool_match_opt(const char *a, const char *shortname, const char *longname);

/* Matches argv word a against a long option name (given without dashes)
 * spelled with one dash or two, as Go's flag package accepts them: "-name",
 * "--name", either followed by "=VALUE". Returns the length of the spelling
 * that matched (for tool_opt_value), or 0. */
size_t tool_match_long(const char *a, const char *name);

/* The value of the option spelled by the first n bytes of argv[*i]: attached
 * to it ("-xVALUE", or "--long=VALUE" and "-long=VALUE" for names longer than
 * one letter), or the next word (advancing *i); NULL when there is none. */
char *tool_opt_value(int argc, char **argv, int *i, size_t n);

/* Parses an unsigned decimal (digits only) in [min, max]. Returns 0 or -1
 * (also for s NULL). */
int tool_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses seconds (fractions allowed) in [0, max_s]. Returns 0 or -1 (also
 * for s NULL). */
int tool_parse_seconds(const char *s, double max_s, double *out);

/* Parses a timeout in seconds into milliseconds (at least 1), 0 meaning
 * none (-1). Returns 0, or -1 if s is not a number in [0, 1e6]. */
int tool_parse_timeout_ms(const char *s, int *ms);

/* Prints "<prog>: <what>: <problem>" and a pointer to --help on stderr;
 * returns status. */
int tool_usage_error(const char *prog, const char *what, const char *problem, int status);

/* ---- TLS (OpenSSL), client side ----
 *
 * Verification is on unless insecure is set: the server's chain must lead to
 * ca_file (or the system's trust store) and the certificate must name the
 * host (a DNS name, or an IP address when the host is one). TLS 1.2 is the
 * minimum; compression and renegotiation are off. */
struct tool_tls_opts {
	int enabled;
	const char *ca_file;   /* PEM CA certificates to trust; NULL: the system's store */
	const char *cert_file; /* client certificate chain (mutual TLS); NULL: none */
	const char *key_file;  /* its private key; NULL: read from cert_file */
	const char *sni;       /* name sent as SNI and checked in the certificate
	                        * instead of the host; NULL: the host */
	int insecure;          /* skip verification of the server's certificate */
};

/* A client context for o: trust store, client certificate and key loaded.
 * Returns NULL after printing why (the file and OpenSSL's reason). */
struct ssl_ctx_st *tool_tls_ctx_new(const char *prog, const struct tool_tls_opts *o);

void tool_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Runs the TLS handshake on the connected non-blocking socket fd, waiting no
 * later than deadline_ns. host and port name the server in messages and host
 * (or o->sni) is the name checked. Returns the session (the fd stays the
 * caller's: close it after tool_conn_close or SSL_free), or NULL after
 * printing why: a certificate that does not verify, a peer that does not
 * speak TLS, a timeout. */
struct ssl_st *tool_tls_connect(const char *prog, struct ssl_ctx_st *ctx, int fd, const char *host,
                                const char *port, const struct tool_tls_opts *o,
                                uint64_t deadline_ns);

/* OpenSSL's reason for the last TLS failure on this thread (static text, for
 * example "tlsv13 alert certificate required"), or "TLS protocol error". */
const char *tool_tls_error_reason(void);

/* A hint for that failure, starting with a blank ("" when there is none):
 * for example that the server wants a client certificate. Static text. */
const char *tool_tls_error_hint(void);

/* True when the server asked for a client certificate during the handshake:
 * with TLS 1.3 the handshake completes on the client's side before the
 * server judges the certificate (or its absence), and its refusal comes
 * after, often as a plain close, so an unexplained close can name the
 * likely cause. */
int tool_tls_cert_requested(const struct ssl_st *ssl);

/* One connection, plain (ssl NULL) or TLS. */
struct tool_conn {
	int fd;
	struct ssl_st *ssl;
};

/* As tool_send_avail, for either kind: sends buf[*off, len) until done or
 * the connection would block, then sets *want to the poll(2) event to wait
 * for (TLS may need to read before it can write). Returns 0 or a positive
 * errno (EPROTO for a TLS failure: see tool_tls_error_reason). */
int tool_conn_send(const struct tool_conn *c, const char *buf, size_t len, size_t *off,
                   short *want);

/* Receives up to cap bytes: returns the count, 0 at the end of the stream
 * (FIN or TLS close_notify), or -1 with errno set: EAGAIN with *want the
 * event to wait for, EPROTO for a TLS failure, else the socket's error. */
ssize_t tool_conn_recv(const struct tool_conn *c, char *buf, size_t cap, short *want);

/* Sends TLS close_notify without waiting, frees the session and closes the
 * socket; c->fd becomes -1. */
void tool_conn_close(struct tool_conn *c);

#endif
