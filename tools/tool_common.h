/* tool_common.h - what minidb's command-line tools (minidb-cli, minidb-bench,
 * minidb-parquet) share: a monotonic clock with deadlines for poll(2), the
 * non-blocking TCP connect with a bound on the wait, sending what a socket
 * takes now, growing a byte buffer, and the -x/--long option parsing.
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

/* The value of the option spelled by the first n bytes of argv[*i]: attached
 * to it, or the next word (advancing *i); NULL when there is none. */
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

#endif
