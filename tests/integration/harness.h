/* harness.h - helpers shared by the integration tests: start and stop a real
 * minidb on a free port, talk to it over TCP, run the command-line tools.
 *
 * Error convention: the plain helpers (mdb_start, mdb_connect, mdb_cmd,
 * mdb_run, ...) never call into cmocka. They return NULL or a negative value
 * and print what went wrong on stderr, so they are safe on any thread. The
 * mdb_assert_* macros fail the current cmocka test (they longjmp) and must
 * only be used on the thread that runs the test.
 *
 * Every wait is bounded: sockets get SO_RCVTIMEO/SO_SNDTIMEO and process
 * waits have deadlines, all scaled by MINIDB_TEST_TIMEOUT_MULTIPLIER (default
 * 1; raise it on slow machines and under sanitizers if needed).
 */
#ifndef MINIDB_TEST_HARNESS_H
#define MINIDB_TEST_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/* Base timeouts in milliseconds, before the multiplier is applied. */
enum {
	MDB_IO_TIMEOUT_MS = 5000,     /* one socket read or write */
	MDB_START_TIMEOUT_MS = 10000, /* until the server logs "listening" */
	MDB_STOP_TIMEOUT_MS = 10000,  /* from SIGTERM to exit */
	MDB_RUN_TIMEOUT_MS = 10000,   /* a tool run by mdb_run */
};

/* Results of mdb_read_line besides a length. */
enum { MDB_EOF = -1, MDB_ERR = -2 };

/* ---- time ---- */

/* MINIDB_TEST_TIMEOUT_MULTIPLIER from the environment (>= 1), default 1. */
double mdb_timeout_multiplier(void);

/* base_ms scaled by the multiplier. */
int mdb_timeout_ms(int base_ms);

/* Monotonic clock in milliseconds. */
long long mdb_now_ms(void);

/* Wall clock in Unix milliseconds, as expiry deadlines (PXAT) are given. */
long long mdb_unix_ms(void);

void mdb_sleep_ms(int ms);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit. Servers started later
 * inherit it. Returns the new soft limit, or -1. */
long mdb_raise_nofile(void);

/* Makes a fresh directory under $TMPDIR (or /tmp) and returns its malloc'd
 * path, or NULL. */
char *mdb_temp_dir(void);

/* Removes path and everything below it. */
void mdb_remove_tree(const char *path);

/* Writes len bytes to a new file at path. Returns 0 or -1. */
int mdb_write_file(const char *path, const char *data, size_t len);

/* Reads a whole file into a malloc'd buffer with a NUL after its len bytes
 * (len may be NULL); NULL on error. */
char *mdb_read_file(const char *path, size_t *len);

/* ---- the server process ---- */

typedef struct mdb_server {
	pid_t pid;
	int port;                /* the port the server reported */
	int exited;              /* 1 once the process has been reaped */
	int status;              /* once exited: exit code, or 128 + signal number */
	char dir[PATH_MAX - 64]; /* temp dir owned by the harness, removed by mdb_stop */
	char data_dir[PATH_MAX]; /* <dir>/data, passed as --data-dir */
	char log_path[PATH_MAX]; /* <dir>/server.log, the server's stderr and stdout */
} mdb_server;

/* Path of a binary: the environment variable env_name (MINIDB_BIN,
 * MINIDB_CLI, MINIDB_BENCH) or, when unset, name next to the test binary
 * (so a test can be run by hand from the build dir). Static storage. */
const char *mdb_binary_path(const char *env_name, const char *name);

/* Makes a fresh temp dir, starts $MINIDB_BIN --port 0 --data-dir <dir>/data
 * --log-format json plus extra_args (NULL-terminated, may be NULL) and waits
 * (bounded) for its "listening" and "ready" (data loaded) log lines. Returns NULL, after printing
 * the log, when the server exits or does not listen in time. Call it from the main thread: the
 * server is killed when the thread that started it exits, so no server outlives a crashed test. */
mdb_server *mdb_start(const char *const extra_args[]);

/* As mdb_start, but the server's data dir is data_dir (made if missing)
 * instead of <dir>/data: for tests that need it on a particular file system.
 * data_dir belongs to the caller; mdb_stop does not remove it. */
mdb_server *mdb_start_in(const char *data_dir, const char *const extra_args[]);

/* Starts the server again on the same temp dir (and so the same data dir)
 * after it exited; the port may change. Returns 0, or -1 as mdb_start. */
int mdb_restart(mdb_server *s, const char *const extra_args[]);

/* As mdb_restart, but returns as soon as the server listens, without waiting
 * for "ready": commands may still get -LOADING (to test loading itself). */
int mdb_restart_listening(mdb_server *s, const char *const extra_args[]);

/* Sends sig to the server. Returns 0 or -1. */
int mdb_signal(mdb_server *s, int sig);

/* Waits up to timeout_ms (not scaled) for the server to exit. Returns its
 * status (exit code, or 128 + signal), or -1 if it is still running. */
int mdb_wait_exit(mdb_server *s, int timeout_ms);

/* SIGKILLs the server and reaps it; s stays valid (mdb_stop frees it). */
int mdb_kill(mdb_server *s);

/* Stops the server unless it already exited: SIGTERM, then a bounded wait,
 * then SIGKILL. Prints the log when the status is not 0. Removes the temp
 * dir and frees s (NULL is accepted). Returns the exit status, or -1 when it
 * had to be killed. */
int mdb_stop(mdb_server *s);

/* 1 when the server's log (stderr) contains needle, else 0. */
int mdb_log_contains(const mdb_server *s, const char *needle);

/* Copies the server's log to stderr, for diagnosis. */
void mdb_print_log(const mdb_server *s);

/* The last line of the server's log holding needle, malloc'd, or NULL. */
char *mdb_last_log_line(const mdb_server *s, const char *needle);

/* The port the server reported as speaking TLS (the "listening" line with
 * "tls":true: the --tls-port listener, or the client port under --tls), or
 * -1 when it has none. */
int mdb_server_tls_port(const mdb_server *s);

/* Waits up to timeout_ms (not scaled) until the server's log contains
 * needle. Returns 1 when it does, 0 on timeout. */
int mdb_wait_log(const mdb_server *s, const char *needle, int timeout_ms);

/* The number in "field":N of a JSON log line (NULL accepted), or -1. */
long long mdb_log_field(const char *line, const char *field);

/* ---- connections ---- */

/* One client connection with a buffered line reader. */
typedef struct mdb_conn {
	int fd;
	char *buf; /* bytes read and not yet returned, at [start, end) */
	size_t cap;
	size_t start;
	size_t end;
	int reset; /* the peer's close was a reset (ECONNRESET), not a FIN */
} mdb_conn;

/* A blocking TCP socket connected to 127.0.0.1:port with SO_RCVTIMEO and
 * SO_SNDTIMEO of MDB_IO_TIMEOUT_MS (scaled) and TCP_NODELAY. Returns the fd
 * or -1. */
int mdb_connect(int port);

/* mdb_connect from source address src (another loopback address such as
 * 127.0.0.2; NULL: any). */
int mdb_connect_from(int port, const char *src);

/* mdb_connect plus a line reader; NULL on failure. */
mdb_conn *mdb_conn_open(int port);

/* Wraps a connected fd (owned by the conn from now on); NULL on failure. */
mdb_conn *mdb_conn_wrap(int fd);

/* Closes the socket and frees c (NULL is accepted). */
void mdb_conn_close(mdb_conn *c);

/* Writes all len bytes (MSG_NOSIGNAL). Returns 0 or a negative errno. */
int mdb_send_all(int fd, const void *buf, size_t len);

/* Sends the NUL-terminated string s as is (no newline added). */
int mdb_send_str(mdb_conn *c, const char *s);

/* Reads one reply line. On success *line is a malloc'd, NUL-terminated copy
 * without the '\n' and the length is returned. Returns MDB_EOF when the peer
 * closed (or reset) the connection before a full line (any partial line
 * stays buffered: see mdb_conn_pending), MDB_ERR on a timeout or another
 * error. Lines are limited to 256 MiB. */
long mdb_read_line(mdb_conn *c, char **line);

/* Bytes received but not yet returned as a line. */
size_t mdb_conn_pending(const mdb_conn *c);

/* Sends cmd plus '\n' and reads the reply line: malloc'd, or NULL on EOF or
 * error. */
char *mdb_cmd(mdb_conn *c, const char *cmd);

/* printf-style mdb_cmd. */
char *mdb_cmdf(mdb_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Waits up to timeout_ms (not scaled) for the server to close c. Returns 1
 * when it did (EOF or reset) with no unread bytes, 0 when bytes arrived
 * instead (they stay buffered), -1 on timeout or error. */
int mdb_wait_closed(mdb_conn *c, int timeout_ms);

/* ---- a binary-safe RESP client on the line reader ---- */

/* A growable byte buffer (commands to pipeline). */
typedef struct mdb_buf {
	char *p;
	size_t len, cap;
} mdb_buf;

/* Appends n bytes. 0, or -1 when out of memory (b is unchanged). */
int mdb_buf_add(mdb_buf *b, const void *data, size_t n);

/* Appends one RESP command (an array of bulk strings). 0 or -1. */
int mdb_resp_encode(mdb_buf *b, size_t argc, const char *const argv[], const size_t lens[]);

/* One reply. Arrays are read whole but only their length is kept. */
typedef struct mdb_reply {
	char type;     /* '+', '-', ':', '$', '*', or '_' for a null bulk string or array */
	long long num; /* ':' value, '*' length */
	char *str;     /* '+', '-', '$': malloc'd, NUL-terminated; binary-safe with len */
	size_t len;
} mdb_reply;

void mdb_reply_free(mdb_reply *r);

/* Reads one reply. 0, or -1 (EOF, timeout, bad framing; r needs freeing). */
int mdb_resp_read(mdb_conn *c, mdb_reply *r);

/* Sends one command and reads its reply. 0 or -1 (r needs freeing). */
int mdb_resp_call(mdb_conn *c, size_t argc, const char *const argv[], const size_t lens[],
                  mdb_reply *r);

/* The reply as text for comparisons: "+OK", "-ERR ...", ":3", "$value",
 * "nil", "*2". malloc'd (NULL when out of memory). */
char *mdb_reply_render(const mdb_reply *r);

/* ---- numbered keys: prefix<i> holds mdb_numbered_value(i) ---- */

enum { MDB_PIPE_CHUNK = 2000 }; /* commands per pipelined send */

/* The value of key number i: "v<i>-" then letters, len bytes (len >= 16);
 * buf holds len + 1. */
void mdb_numbered_value(char *buf, long long i, size_t len);

/* SETs prefix<i> for i in [first, first + n), pipelined MDB_PIPE_CHUNK
 * commands at a time (the replies of a chunk wait in the socket buffers
 * while it is sent). Returns how many SETs were answered +OK before the
 * first other reply or error (n when all were): the keys acknowledged.
 * Plain helper: safe on any thread; prints what went wrong. */
long long mdb_pipeline_sets(mdb_conn *c, const char *prefix, long long first, long long n,
                            size_t vlen);

/* ---- RESP assertions (test thread only) ---- */

/* Sends a command of NUL-terminated string arguments and returns its
 * rendered reply (malloc'd); fails the test when no reply comes. */
#define MDB_CALL(c, ...) mdb_call_at((c), __FILE__, __LINE__, __VA_ARGS__, (const char *)NULL)

/* Sends a command of string arguments; fails unless the rendered reply is
 * exactly want. */
#define MDB_ASSERT_CALL(c, want, ...)                                                              \
	mdb_assert_call_at((c), (want), __FILE__, __LINE__, __VA_ARGS__, (const char *)NULL)

/* The integer reply of a command of string arguments (a1 may be NULL). */
#define MDB_CALL_INT(c, a0, a1) mdb_call_int_at((c), __FILE__, __LINE__, (a0), (a1))

/* mdb_pipeline_sets, failing the test unless every SET got +OK. */
#define MDB_PIPELINE_SETS(c, prefix, first, n, vlen)                                               \
	mdb_pipeline_sets_at((c), (prefix), (first), (n), (vlen), __FILE__, __LINE__)

/* Fails unless prefix<i> holds its numbered value (vlen bytes) for every i
 * in [first, first + n) and is absent for i in [first + n, end). The GETs
 * are pipelined. */
#define MDB_CHECK_NUMBERED(c, prefix, first, n, end, vlen)                                         \
	mdb_check_numbered_at((c), (prefix), (first), (n), (end), (vlen), __FILE__, __LINE__)

char *mdb_call_at(mdb_conn *c, const char *file, int line, const char *first, ...);
void mdb_assert_call_at(mdb_conn *c, const char *want, const char *file, int line,
                        const char *first, ...);
long long mdb_call_int_at(mdb_conn *c, const char *file, int line, const char *a0, const char *a1);
void mdb_pipeline_sets_at(mdb_conn *c, const char *prefix, long long first, long long n,
                          size_t vlen, const char *file, int line);
void mdb_check_numbered_at(mdb_conn *c, const char *prefix, long long first, long long n,
                           long long end, size_t vlen, const char *file, int line);

/* ---- quoting (docs/protocol.md) ---- */

/* Quotes len bytes as "..." with every byte outside printable ASCII, and
 * '"' and '\\', escaped (\xHH or \" \\). Returns a malloc'd string. */
char *mdb_quote(const void *data, size_t len);

/* Decodes a quoted reply ("..." with \n \r \t \\ \" \xHH). Returns 0 and a
 * malloc'd *out of *out_len bytes (plus a NUL), or -1 when s is not a
 * well-formed quoted string. */
int mdb_unquote(const char *s, size_t len, char **out, size_t *out_len);

/* ---- other processes (minidb-cli, minidb with bad flags) ---- */

typedef struct mdb_proc {
	int status; /* exit code, 128 + signal, or -1 if killed at the deadline */
	char *out;  /* stdout, NUL-terminated */
	size_t out_len;
	char *err; /* stderr, NUL-terminated */
	size_t err_len;
} mdb_proc;

/* Runs argv[0] (a path) with argv, feeding input (or /dev/null when NULL)
 * to its stdin and capturing stdout and stderr, for at most timeout_ms (not
 * scaled). Returns 0 with res filled (free it with mdb_proc_free), or -1 when
 * the process could not be started. Call it from the main thread (see
 * mdb_start). */
int mdb_run(const char *const argv[], const char *input, size_t input_len, int timeout_ms,
            mdb_proc *res);

void mdb_proc_free(mdb_proc *res);

/* Looks name up in $PATH as the shell's `command -v` does (the first
 * executable regular file). Returns a malloc'd path, or NULL when there is
 * none: tests of optional peers (redis-cli, redis-benchmark) skip then. */
char *mdb_which(const char *name);

/* ---- cmocka group fixtures: one server per test file ---- */

/* Group setup: starts a server with default flags into *state. */
int mdb_group_start(void **state);
/* Group teardown: stops it; fails unless it exited 0. */
int mdb_group_stop(void **state);
/* A new connection to the group's server; fails the test if it cannot. */
mdb_conn *mdb_group_conn(void **state);

/* ---- assertions (test thread only) ---- */

/* Sends cmd and fails the test unless the reply is exactly expected. */
#define mdb_assert_cmd(c, cmd, expected)                                                           \
	mdb_assert_cmd_at((c), (cmd), (expected), 0, __FILE__, __LINE__)

/* Sends cmd and fails the test unless the reply starts with prefix. */
#define mdb_assert_cmd_prefix(c, cmd, prefix)                                                      \
	mdb_assert_cmd_at((c), (cmd), (prefix), 1, __FILE__, __LINE__)

/* Reads one line and fails the test unless it is exactly expected. */
#define mdb_assert_reply(c, expected) mdb_assert_reply_at((c), (expected), 0, __FILE__, __LINE__)

/* Reads one line and fails the test unless it starts with prefix. */
#define mdb_assert_reply_prefix(c, prefix) mdb_assert_reply_at((c), (prefix), 1, __FILE__, __LINE__)

/* Fails the test unless the server closes c within the I/O timeout. */
#define mdb_assert_closed(c) mdb_assert_closed_at((c), __FILE__, __LINE__)

void mdb_assert_cmd_at(mdb_conn *c, const char *cmd, const char *expected, int prefix,
                       const char *file, int line);
void mdb_assert_reply_at(mdb_conn *c, const char *expected, int prefix, const char *file, int line);
void mdb_assert_closed_at(mdb_conn *c, const char *file, int line);

/* ---- server life assertions (test thread only): fail at the caller's line ---- */

/* mdb_start(args) that fails the test when the server does not start. */
#define mdb_start_ok(args) mdb_start_ok_at((args), __FILE__, __LINE__)

/* mdb_restart(s, args) that fails the test when the server does not come back. */
#define mdb_restart_ok(s, args) mdb_restart_ok_at((s), (args), __FILE__, __LINE__)

/* A new connection to s; fails the test if it cannot connect. */
#define mdb_open_ok(s) mdb_open_ok_at((s), __FILE__, __LINE__)

/* SIGTERM, then fails the test unless the server exits with status 0 within
 * the stop timeout (its log is printed when not). s stays valid. */
#define mdb_stop_cleanly(s) mdb_stop_cleanly_at((s), __FILE__, __LINE__)

/* SIGKILL; fails the test unless the server died of it. s stays valid. */
#define mdb_kill_ok(s) mdb_kill_ok_at((s), __FILE__, __LINE__)

mdb_server *mdb_start_ok_at(const char *const extra_args[], const char *file, int line);
void mdb_restart_ok_at(mdb_server *s, const char *const extra_args[], const char *file, int line);
mdb_conn *mdb_open_ok_at(const mdb_server *s, const char *file, int line);
void mdb_stop_cleanly_at(mdb_server *s, const char *file, int line);
void mdb_kill_ok_at(mdb_server *s, const char *file, int line);

/* Prints a command's arguments to the test's error output, each cut at 80
 * bytes, bytes outside printable ASCII as \xHH. */
void mdb_print_cmd(size_t argc, const char *const argv[], const size_t lens[]);

/* ---- background processes and HTTP (added for the observability tests) ---- */

/* Starts argv[0] (a path) with argv in the background, in a process group of
 * its own, stdin from /dev/null and stdout and stderr appended to out_path.
 * Like the server it gets SIGKILL when the starting thread exits. Returns the
 * pid, or -1. Call it from the main thread (see mdb_start). */
pid_t mdb_spawn_bg(const char *const argv[], const char *out_path);

/* Stops a process started by mdb_spawn_bg: SIGTERM to its group, up to
 * timeout_ms (not scaled) for it to exit, then SIGKILL to the group. Returns
 * its status (exit code, or 128 + signal), or -1 when it had to be killed. */
int mdb_bg_stop(pid_t pid, int timeout_ms);

/* Its status if pid has exited (and is reaped now), else -1. */
int mdb_bg_exited(pid_t pid);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read,
 * closed), for peers that cannot report a port-0 choice; -1 on error. The
 * caller retries when the peer then finds it taken. */
int mdb_free_port(void);

/* One HTTP/1.0 GET of path from 127.0.0.1:port over a plain socket, much
 * faster than running curl: for polling (libcurl is no dependency, and a
 * HTTP/1.0 answer needs no parsing beyond its status line and the blank line
 * before the body). Quiet when nothing listens. Returns
 * the status code with the body (malloc'd, NUL-terminated) in *body when body
 * is not NULL, or -1 (refused, timeout, malformed). Every read and write is
 * bounded by timeout_ms (not scaled). */
int mdb_http_get(int port, const char *path, char **body, int timeout_ms);

/* The HTTP port of the server's latest "listener":"http" log line, or -1. */
int mdb_http_port(const mdb_server *s);

/* VmRSS of a process in bytes from /proc/<pid>/status, or -1. */
long long mdb_rss_bytes(pid_t pid);

/* Runs `openssl s_client` (at openssl, a path) against 127.0.0.1:port,
 * verifying the server against cafile and, when hostname is not NULL, its
 * name; version_flag is -tls1_1, -tls1_2 or -tls1_3. Sends input, then waits
 * for the server to close (-ign_eof). Returns its exit status and the output
 * in *out (malloc'd), failing the test if it cannot run in time. */
int mdb_s_client(const char *openssl, int port, const char *cafile, const char *hostname,
                 const char *version_flag, const char *input, char **out);

#endif
