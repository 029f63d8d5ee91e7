/* harness.c - start/stop minidb, talk to it, run tools: see harness.h.
 *
 * Processes are started with fork+exec rather than posix_spawn because the
 * child must set PR_SET_PDEATHSIG: a test that crashes or is killed by CTest's
 * timeout then takes its server with it instead of leaving it listening.
 * Between fork and exec the child only makes async-signal-safe calls, since
 * tests fork from multi-threaded processes; everything it needs (argv, paths)
 * is prepared before the fork.
 *
 * The server's port is read from its JSON "listening" log line, never chosen
 * by the test, so test binaries can run in parallel.
 */
#ifndef _GNU_SOURCE /* CMake defines it for every file; this is for other builds */
#define _GNU_SOURCE /* memmem, pipe2, asprintf */
#endif

#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <cmocka.h>

#define MDB_MAX_LINE    (256u * 1024 * 1024)
#define MDB_MAX_ARGS    64
#define MDB_MAX_CAPTURE (64u * 1024 * 1024)

extern char **environ;

/* ---- time ---- */

double mdb_timeout_multiplier(void)
{
	const char *s = getenv("MINIDB_TEST_TIMEOUT_MULTIPLIER");
	if (s == NULL || *s == '\0')
		return 1.0;
	char *end;
	double m = strtod(s, &end);
	if (end == s || m < 1.0 || m > 1000.0)
		return 1.0;
	return m;
}

int mdb_timeout_ms(int base_ms)
{
	return (int)(base_ms * mdb_timeout_multiplier());
}

long long mdb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long mdb_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mdb_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
	}
}

long mdb_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

/* ---- processes ---- */

static void ignore_sigpipe(void)
{
	/* Writes to a closed socket or pipe must fail with EPIPE, not kill the
	 * test. Children get the default disposition back before exec. */
	signal(SIGPIPE, SIG_IGN);
}

/* Turns a wait status into an exit code, or 128 + signal number. */
static int decode_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return -1;
}

/* Runs in the forked child: async-signal-safe calls only. fds[i] >= 0 is
 * dup'ed onto fd i; -1 leaves fd i as the parent had it. */
static void child_exec(const char *path, char *const argv[], const int fds[3], pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127); /* the parent died before prctl */
	for (int i = 0; i < 3; i++) {
		if (fds[i] >= 0 && dup2(fds[i], i) < 0)
			_exit(127);
	}
	/* Test sockets and pipes are close-on-exec; this also catches anything a
	 * library opened without the flag. */
#ifdef SYS_close_range
	syscall(SYS_close_range, 3u, ~0u, 0u);
#endif
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(path, argv, environ);
	_exit(127);
}

/* fork + child_exec. Returns the pid or -1. */
static pid_t spawn(const char *path, char *const argv[], const int fds[3])
{
	ignore_sigpipe();
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "harness: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child_exec(path, argv, fds, parent);
	return pid;
}

/* Waits up to timeout_ms for pid. Returns its decoded status or -1 (still
 * running, or an error). */
static int wait_pid(pid_t pid, int timeout_ms)
{
	long long deadline = mdb_now_ms() + timeout_ms;
	for (;;) {
		int ws;
		pid_t r = waitpid(pid, &ws, WNOHANG);
		if (r == pid)
			return decode_status(ws);
		if (r < 0 && errno != EINTR)
			return -1;
		if (mdb_now_ms() >= deadline)
			return -1;
		mdb_sleep_ms(5);
	}
}

const char *mdb_binary_path(const char *env_name, const char *name)
{
	static __thread char path[PATH_MAX];
	const char *env = getenv(env_name);
	if (env != NULL && *env != '\0')
		return env;
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0)
		return name;
	path[n] = '\0';
	char *slash = strrchr(path, '/');
	if (slash == NULL || (size_t)(slash + 1 - path) + strlen(name) + 1 > sizeof path)
		return name;
	strcpy(slash + 1, name);
	return path;
}

/* ---- the server process ---- */

/* Finds "key" in a one-line JSON object and returns a pointer to its value
 * (after the colon and blanks), or NULL. Good enough for our own log lines,
 * whose keys never appear inside string values we look at. */
static const char *json_field(const char *line, const char *line_end, const char *key)
{
	char pat[64];
	int n = snprintf(pat, sizeof pat, "\"%s\"", key);
	if (n < 0 || (size_t)n >= sizeof pat)
		return NULL;
	const char *p = line;
	while (p < line_end) {
		const char *hit = memmem(p, (size_t)(line_end - p), pat, (size_t)n);
		if (hit == NULL)
			return NULL;
		const char *v = hit + n;
		while (v < line_end && (*v == ' ' || *v == '\t'))
			v++;
		if (v < line_end && *v == ':') {
			v++;
			while (v < line_end && (*v == ' ' || *v == '\t'))
				v++;
			return v;
		}
		p = hit + 1;
	}
	return NULL;
}

/* 1 when the JSON string value at v equals s. */
static int json_str_is(const char *v, const char *line_end, const char *s)
{
	size_t n = strlen(s);
	return v != NULL && line_end - v >= (ptrdiff_t)(n + 2) && v[0] == '"' &&
	       memcmp(v + 1, s, n) == 0 && v[n + 1] == '"';
}

char *mdb_read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		if (cap - n < 2) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, fp);
		n += r;
		if (r == 0)
			break;
	}
	fclose(fp);
	if (buf != NULL) {
		buf[n] = '\0';
		if (len != NULL)
			*len = n;
	}
	return buf;
}

/* Port from the server's {"component":"server","msg":"listening",...,"port":N}
 * line in log, or 0 when there is none yet. The second listener's line
 * ("listener":"tls", --tls-port) is not the client port. */
static int find_listening_port(const char *log, size_t len)
{
	const char *p = log, *end = log + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break; /* a line still being written */
		const char *msg = json_field(p, nl, "msg");
		const char *comp = json_field(p, nl, "component");
		const char *port = json_field(p, nl, "port");
		if (json_str_is(msg, nl, "listening") && json_str_is(comp, nl, "server") &&
		    port != NULL && json_field(p, nl, "listener") == NULL) {
			long v = strtol(port, NULL, 10);
			if (v > 0 && v < 65536)
				return (int)v;
		}
		p = nl + 1;
	}
	return 0;
}

/* 1 when log has the server's {"component":"main","msg":"ready"} line: the
 * data is loaded and commands are served (before it they get -LOADING). */
static int find_ready(const char *log, size_t len)
{
	const char *p = log, *end = log + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		if (json_str_is(json_field(p, nl, "msg"), nl, "ready") &&
		    json_str_is(json_field(p, nl, "component"), nl, "main"))
			return 1;
		p = nl + 1;
	}
	return 0;
}

/* Starts the server process of s (dir already made) and waits until it
 * listens (its port) and has loaded its data ("ready"). */
static int server_launch(mdb_server *s, const char *const extra_args[], int wait_ready)
{
	const char *bin = mdb_binary_path("MINIDB_BIN", "minidb");
	char *argv[MDB_MAX_ARGS];
	int argc = 0;
	argv[argc++] = (char *)bin;
	argv[argc++] = (char *)"--port";
	argv[argc++] = (char *)"0";
	argv[argc++] = (char *)"--data-dir";
	argv[argc++] = s->data_dir;
	argv[argc++] = (char *)"--log-format";
	argv[argc++] = (char *)"json";
	/* No HTTP endpoint unless a test asks (--http-port -1): tests run in
	 * parallel, and its default port is fixed. */
	argv[argc++] = (char *)"--http-port";
	argv[argc++] = (char *)"0";
	for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
		if (argc >= MDB_MAX_ARGS - 1) {
			fprintf(stderr, "harness: too many server arguments\n");
			return -1;
		}
		argv[argc++] = (char *)extra_args[i];
	}
	argv[argc] = NULL;

	/* Append, so a restarted server's log follows the previous one. */
	int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0) {
		fprintf(stderr, "harness: open %s: %s\n", s->log_path, strerror(errno));
		if (logfd >= 0)
			close(logfd);
		if (nullfd >= 0)
			close(nullfd);
		return -1;
	}
	size_t log_start = 0;
	struct stat st;
	if (fstat(logfd, &st) == 0)
		log_start = (size_t)st.st_size;
	const int fds[3] = {nullfd, logfd, logfd};
	s->pid = spawn(bin, argv, fds);
	close(logfd);
	close(nullfd);
	if (s->pid < 0)
		return -1;
	s->exited = 0;
	s->status = -1;
	s->port = 0;

	long long deadline = mdb_now_ms() + mdb_timeout_ms(MDB_START_TIMEOUT_MS);
	for (;;) {
		size_t len = 0;
		int ready = 0;
		char *log = mdb_read_file(s->log_path, &len);
		if (log != NULL && len >= log_start) {
			s->port = find_listening_port(log + log_start, len - log_start);
			ready = s->port > 0 &&
			        (!wait_ready || find_ready(log + log_start, len - log_start));
		}
		free(log);
		if (ready)
			return 0;
		int ws;
		if (waitpid(s->pid, &ws, WNOHANG) == s->pid) {
			s->exited = 1;
			s->status = decode_status(ws);
			fprintf(stderr, "harness: %s exited with status %d before listening\n", bin,
			        s->status);
			mdb_print_log(s);
			return -1;
		}
		if (mdb_now_ms() >= deadline) {
			fprintf(stderr, "harness: %s did not log \"listening\" in time\n", bin);
			mdb_kill(s);
			mdb_print_log(s);
			return -1;
		}
		mdb_sleep_ms(10);
	}
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static const char *temp_root(void)
{
	const char *tmp = getenv("TMPDIR");
	return tmp == NULL || *tmp == '\0' ? "/tmp" : tmp;
}

char *mdb_temp_dir(void)
{
	char *path = NULL;
	if (asprintf(&path, "%s/minidb-it-XXXXXX", temp_root()) < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", path, strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

void mdb_remove_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int mdb_write_file(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	if (fp == NULL)
		return -1;
	size_t n = fwrite(data, 1, len, fp);
	return fclose(fp) == 0 && n == len ? 0 : -1;
}

/* Servers started and not yet stopped. A failing cmocka assertion longjmps
 * past the test's mdb_stop; the exit handler then kills what is left (the
 * death signal would too) and, more to the point, prints its log and
 * removes its temp dir. This registry is the harness's only global. */
static struct {
	pthread_mutex_t lock;
	pthread_once_t once;
	mdb_server *live[64];
} registry = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_ONCE_INIT, {NULL}};

static void registry_cleanup(void)
{
	pthread_mutex_lock(&registry.lock);
	for (size_t i = 0; i < sizeof registry.live / sizeof registry.live[0]; i++) {
		mdb_server *s = registry.live[i];
		if (s == NULL)
			continue;
		registry.live[i] = NULL;
		fprintf(stderr, "harness: server pid %d was not stopped by its test; killing it\n",
		        (int)s->pid);
		mdb_kill(s);
		mdb_print_log(s);
		mdb_remove_tree(s->dir);
		free(s);
	}
	pthread_mutex_unlock(&registry.lock);
}

static void registry_init(void)
{
	atexit(registry_cleanup);
}

static void registry_add(mdb_server *s)
{
	pthread_once(&registry.once, registry_init);
	pthread_mutex_lock(&registry.lock);
	for (size_t i = 0; i < sizeof registry.live / sizeof registry.live[0]; i++) {
		if (registry.live[i] == NULL) {
			registry.live[i] = s;
			break;
		}
	}
	pthread_mutex_unlock(&registry.lock);
}

static void registry_remove(mdb_server *s)
{
	pthread_mutex_lock(&registry.lock);
	for (size_t i = 0; i < sizeof registry.live / sizeof registry.live[0]; i++) {
		if (registry.live[i] == s)
			registry.live[i] = NULL;
	}
	pthread_mutex_unlock(&registry.lock);
}

/* mdb_start and mdb_start_in: data_dir NULL means <dir>/data. */
static mdb_server *server_start(const char *data_dir, const char *const extra_args[])
{
	mdb_server *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->pid = -1;
	s->exited = 1;
	char *dir = mdb_temp_dir();
	if (dir == NULL || strlen(dir) >= sizeof s->dir) {
		free(dir);
		free(s);
		return NULL;
	}
	strcpy(s->dir, dir);
	free(dir);
	if (data_dir == NULL)
		snprintf(s->data_dir, sizeof s->data_dir, "%s/data", s->dir);
	else if (snprintf(s->data_dir, sizeof s->data_dir, "%s", data_dir) >=
	         (int)sizeof s->data_dir)
		goto fail;
	snprintf(s->log_path, sizeof s->log_path, "%s/server.log", s->dir);
	if (mkdir(s->data_dir, 0700) != 0 && (data_dir == NULL || errno != EEXIST)) {
		fprintf(stderr, "harness: mkdir %s: %s\n", s->data_dir, strerror(errno));
		goto fail;
	}
	if (server_launch(s, extra_args, 1) != 0)
		goto fail;
	registry_add(s);
	return s;
fail:
	mdb_remove_tree(s->dir);
	free(s);
	return NULL;
}

mdb_server *mdb_start(const char *const extra_args[])
{
	return server_start(NULL, extra_args);
}

mdb_server *mdb_start_in(const char *data_dir, const char *const extra_args[])
{
	return server_start(data_dir, extra_args);
}

int mdb_restart(mdb_server *s, const char *const extra_args[])
{
	if (!s->exited) {
		fprintf(stderr, "harness: mdb_restart on a running server\n");
		return -1;
	}
	return server_launch(s, extra_args, 1);
}

int mdb_restart_listening(mdb_server *s, const char *const extra_args[])
{
	if (!s->exited) {
		fprintf(stderr, "harness: mdb_restart_listening on a running server\n");
		return -1;
	}
	return server_launch(s, extra_args, 0);
}

int mdb_signal(mdb_server *s, int sig)
{
	if (s->exited || s->pid <= 0)
		return -1;
	return kill(s->pid, sig);
}

int mdb_wait_exit(mdb_server *s, int timeout_ms)
{
	if (s->exited)
		return s->status;
	int st = wait_pid(s->pid, timeout_ms);
	if (st < 0)
		return -1;
	s->exited = 1;
	s->status = st;
	return st;
}

int mdb_kill(mdb_server *s)
{
	if (s->exited)
		return s->status;
	kill(s->pid, SIGKILL);
	/* SIGKILL cannot be caught: a bounded wait only guards against a
	 * process stuck in the kernel. */
	return mdb_wait_exit(s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS));
}

int mdb_stop(mdb_server *s)
{
	if (s == NULL)
		return -1;
	int status;
	if (!s->exited) {
		kill(s->pid, SIGTERM);
		status = mdb_wait_exit(s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS));
		if (status < 0) {
			fprintf(stderr,
			        "harness: server pid %d ignored SIGTERM for %d ms; killed\n",
			        (int)s->pid, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS));
			mdb_kill(s);
			status = -1;
		}
	} else {
		status = s->status;
	}
	if (status != 0) {
		fprintf(stderr, "harness: server exit status %d\n", status);
		mdb_print_log(s);
	}
	registry_remove(s);
	mdb_remove_tree(s->dir);
	free(s);
	return status;
}

int mdb_log_contains(const mdb_server *s, const char *needle)
{
	size_t len = 0;
	char *log = mdb_read_file(s->log_path, &len);
	if (log == NULL)
		return 0;
	int found = memmem(log, len, needle, strlen(needle)) != NULL;
	free(log);
	return found;
}

void mdb_print_log(const mdb_server *s)
{
	size_t len = 0;
	char *log = mdb_read_file(s->log_path, &len);
	fprintf(stderr, "---- server log %s ----\n", s->log_path);
	if (log != NULL)
		fwrite(log, 1, len, stderr);
	fprintf(stderr, "---- end of server log ----\n");
	free(log);
}

char *mdb_last_log_line(const mdb_server *s, const char *needle)
{
	size_t len = 0;
	char *log = mdb_read_file(s->log_path, &len);
	char *found = NULL;
	if (log == NULL)
		return NULL;
	for (char *p = log; p < log + len;) {
		char *nl = memchr(p, '\n', (size_t)(log + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(log + len - p);
		if (memmem(p, n, needle, strlen(needle)) != NULL) {
			free(found);
			found = strndup(p, n);
		}
		p += n + 1;
	}
	free(log);
	return found;
}

int mdb_server_tls_port(const mdb_server *s)
{
	size_t len = 0;
	char *log = mdb_read_file(s->log_path, &len);
	int found = -1;
	if (log == NULL)
		return -1;
	for (const char *p = log, *end = log + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		const char *port = json_field(p, nl, "port");
		const char *tls = json_field(p, nl, "tls");
		if (json_str_is(json_field(p, nl, "msg"), nl, "listening") &&
		    json_str_is(json_field(p, nl, "component"), nl, "server") && port != NULL &&
		    tls != NULL && nl - tls >= 4 && memcmp(tls, "true", 4) == 0) {
			long v = strtol(port, NULL, 10);
			if (v > 0 && v < 65536)
				found = (int)v; /* the last one: a restart appends */
		}
		p = nl + 1;
	}
	free(log);
	return found;
}

int mdb_wait_log(const mdb_server *s, const char *needle, int timeout_ms)
{
	long long deadline = mdb_now_ms() + timeout_ms;
	for (;;) {
		if (mdb_log_contains(s, needle))
			return 1;
		if (mdb_now_ms() >= deadline)
			return 0;
		mdb_sleep_ms(20);
	}
}

long long mdb_log_field(const char *line, const char *field)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", field);
	const char *p = line ? strstr(line, pat) : NULL;
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* ---- connections ---- */

int mdb_connect(int port)
{
	return mdb_connect_from(port, NULL);
}

int mdb_connect_from(int port, const char *src)
{
	ignore_sigpipe();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "harness: socket: %s\n", strerror(errno));
		return -1;
	}
	int ms = mdb_timeout_ms(MDB_IO_TIMEOUT_MS);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	if (src != NULL && (inet_pton(AF_INET, src, &sa.sin_addr) != 1 ||
	                    bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)) {
		fprintf(stderr, "harness: bind %s: %s\n", src, strerror(errno));
		close(fd);
		return -1;
	}
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* SO_SNDTIMEO also bounds connect(). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "harness: connect 127.0.0.1:%d: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

mdb_conn *mdb_conn_wrap(int fd)
{
	mdb_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->cap = 4096;
	c->buf = malloc(c->cap);
	if (c->buf == NULL) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	return c;
}

mdb_conn *mdb_conn_open(int port)
{
	int fd = mdb_connect(port);
	if (fd < 0)
		return NULL;
	mdb_conn *c = mdb_conn_wrap(fd);
	if (c == NULL)
		close(fd);
	return c;
}

void mdb_conn_close(mdb_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

int mdb_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int mdb_send_str(mdb_conn *c, const char *s)
{
	return mdb_send_all(c->fd, s, strlen(s));
}

size_t mdb_conn_pending(const mdb_conn *c)
{
	return c->end - c->start;
}

/* Reads more bytes into c's buffer. Returns >0, 0 on EOF or reset, or
 * MDB_ERR (timeout, other errors, line limit). */
static long conn_fill(mdb_conn *c)
{
	if (c->start > 0 && c->start == c->end) {
		c->start = c->end = 0;
	} else if (c->start > 0 && c->end == c->cap) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == c->cap) {
		if (c->cap >= MDB_MAX_LINE)
			return MDB_ERR;
		char *nb = realloc(c->buf, c->cap * 2);
		if (nb == NULL)
			return MDB_ERR;
		c->buf = nb;
		c->cap *= 2;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
		if (n > 0) {
			c->end += (size_t)n;
			return n;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET || errno == EPIPE) {
			c->reset = 1;
			return 0;
		}
		return MDB_ERR;
	}
}

long mdb_read_line(mdb_conn *c, char **line)
{
	*line = NULL;
	size_t scanned = 0;
	for (;;) {
		char *nl = memchr(c->buf + c->start + scanned, '\n', c->end - c->start - scanned);
		if (nl != NULL) {
			size_t len = (size_t)(nl - (c->buf + c->start));
			char *out = malloc(len + 1);
			if (out == NULL)
				return MDB_ERR;
			memcpy(out, c->buf + c->start, len);
			out[len] = '\0';
			c->start += len + 1;
			*line = out;
			return (long)len;
		}
		scanned = c->end - c->start;
		long r = conn_fill(c);
		if (r == 0)
			return MDB_EOF;
		if (r < 0)
			return MDB_ERR;
	}
}

char *mdb_cmd(mdb_conn *c, const char *cmd)
{
	size_t n = strlen(cmd);
	char *msg = malloc(n + 1);
	if (msg == NULL)
		return NULL;
	memcpy(msg, cmd, n);
	msg[n] = '\n';
	int rc = mdb_send_all(c->fd, msg, n + 1);
	free(msg);
	if (rc != 0)
		return NULL;
	char *line;
	if (mdb_read_line(c, &line) < 0)
		return NULL;
	return line;
}

char *mdb_cmdf(mdb_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *reply = mdb_cmd(c, cmd);
	free(cmd);
	return reply;
}

int mdb_wait_closed(mdb_conn *c, int timeout_ms)
{
	if (c->end > c->start)
		return 0;
	long long deadline = mdb_now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - mdb_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return -1;
		long n = conn_fill(c);
		if (n == 0)
			return 1;
		if (n < 0)
			return -1;
		return 0;
	}
}

/* ---- a binary-safe RESP client ---- */

int mdb_buf_add(mdb_buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		while (cap < b->len + n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int buf_num(mdb_buf *b, char type, size_t n)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof tmp, "%c%zu\r\n", type, n);
	return mdb_buf_add(b, tmp, (size_t)k);
}

int mdb_resp_encode(mdb_buf *b, size_t argc, const char *const argv[], const size_t lens[])
{
	int rc = buf_num(b, '*', argc);
	for (size_t i = 0; i < argc && rc == 0; i++) {
		rc = buf_num(b, '$', lens[i]);
		if (rc == 0)
			rc = mdb_buf_add(b, argv[i], lens[i]);
		if (rc == 0)
			rc = mdb_buf_add(b, "\r\n", 2);
	}
	return rc;
}

void mdb_reply_free(mdb_reply *r)
{
	free(r->str);
	r->str = NULL;
}

/* One line without its CR LF. Returns its length, or < 0 (nothing to free). */
static long read_crlf_line(mdb_conn *c, char **line)
{
	long n = mdb_read_line(c, line);
	if (n < 0)
		return n;
	if (n == 0 || (*line)[n - 1] != '\r') {
		free(*line);
		*line = NULL;
		return MDB_ERR;
	}
	(*line)[--n] = '\0';
	return n;
}

/* Reads len bytes of bulk data and their CR LF. The connection only hands out
 * lines, so the data is put back together from them: the '\n' that ended
 * each line is one of its bytes, until len + 2 bytes are in. */
static int read_bulk(mdb_conn *c, size_t len, char **out)
{
	char *buf = malloc(len + 3);
	size_t have = 0;
	if (buf == NULL)
		return -1;
	while (have < len + 2) {
		char *line;
		long n = mdb_read_line(c, &line);
		if (n < 0 || have + (size_t)n + 1 > len + 2) {
			free(line);
			free(buf);
			return -1;
		}
		memcpy(buf + have, line, (size_t)n);
		have += (size_t)n;
		buf[have++] = '\n';
		free(line);
	}
	if (buf[len] != '\r') {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

int mdb_resp_read(mdb_conn *c, mdb_reply *r)
{
	char *line;
	memset(r, 0, sizeof *r);
	long n = read_crlf_line(c, &line);
	if (n < 1) {
		free(line);
		return -1;
	}
	int rc = 0;
	r->type = line[0];
	switch (line[0]) {
	case '+':
	case '-':
		r->str = strdup(line + 1);
		r->len = (size_t)n - 1;
		rc = r->str != NULL ? 0 : -1;
		break;
	case ':':
		r->num = strtoll(line + 1, NULL, 10);
		break;
	case '$':
	case '*':
		r->num = strtoll(line + 1, NULL, 10);
		if (r->num < 0) {
			r->type = '_';
		} else if (line[0] == '$') {
			r->len = (size_t)r->num;
			rc = read_bulk(c, r->len, &r->str);
		} else {
			for (long long i = 0; i < r->num && rc == 0; i++) {
				mdb_reply e;
				rc = mdb_resp_read(c, &e);
				mdb_reply_free(&e);
			}
		}
		break;
	default:
		rc = -1;
	}
	free(line);
	return rc;
}

int mdb_resp_call(mdb_conn *c, size_t argc, const char *const argv[], const size_t lens[],
                  mdb_reply *r)
{
	mdb_buf b = {0};
	memset(r, 0, sizeof *r);
	int rc = mdb_resp_encode(&b, argc, argv, lens);
	if (rc == 0)
		rc = mdb_send_all(c->fd, b.p, b.len);
	free(b.p);
	if (rc != 0)
		return -1;
	return mdb_resp_read(c, r);
}

char *mdb_reply_render(const mdb_reply *r)
{
	char *s = NULL;
	int n = -1;
	switch (r->type) {
	case '+':
	case '-':
	case '$':
		s = malloc(r->len + 2);
		if (s != NULL) {
			s[0] = r->type;
			memcpy(s + 1, r->str, r->len + 1);
		}
		return s;
	case ':':
	case '*':
		n = asprintf(&s, "%c%lld", r->type, r->num);
		break;
	default:
		n = asprintf(&s, "nil");
		break;
	}
	return n < 0 ? NULL : s;
}

/* ---- numbered keys ---- */

void mdb_numbered_value(char *buf, long long i, size_t len)
{
	int n = snprintf(buf, len + 1, "v%lld-", i);
	for (size_t j = (size_t)n; j < len; j++)
		buf[j] = (char)('a' + (i + (long long)j) % 26);
	buf[len] = '\0';
}

long long mdb_pipeline_sets(mdb_conn *c, const char *prefix, long long first, long long n,
                            size_t vlen)
{
	char key[128], *val = malloc(vlen + 1);
	mdb_buf b = {0};
	long long done = 0;
	if (val == NULL)
		return 0;
	while (done < n) {
		long long chunk = n - done < MDB_PIPE_CHUNK ? n - done : MDB_PIPE_CHUNK;
		int rc = 0;
		b.len = 0;
		for (long long i = first + done; i < first + done + chunk && rc == 0; i++) {
			snprintf(key, sizeof key, "%s%lld", prefix, i);
			mdb_numbered_value(val, i, vlen);
			const char *argv[3] = {"SET", key, val};
			const size_t lens[3] = {3, strlen(key), vlen};
			rc = mdb_resp_encode(&b, 3, argv, lens);
		}
		if (rc != 0 || (rc = mdb_send_all(c->fd, b.p, b.len)) != 0) {
			fprintf(stderr, "harness: pipelined SETs of %s%lld..: send failed (%d)\n",
			        prefix, first + done, rc);
			break;
		}
		long long ok = 0;
		for (long long i = 0; i < chunk; i++) {
			char *line;
			long r = mdb_read_line(c, &line);
			if (r < 0 || strcmp(line, "+OK\r") != 0) {
				fprintf(stderr, "harness: SET %s%lld: got \"%.200s\"\n", prefix,
				        first + done + i, r < 0 ? "(no reply)" : line);
				free(line);
				break;
			}
			free(line);
			ok++;
		}
		done += ok;
		if (ok < chunk)
			break;
	}
	free(b.p);
	free(val);
	return done;
}

/* ---- RESP assertions ---- */

void mdb_print_cmd(size_t argc, const char *const argv[], const size_t lens[])
{
	for (size_t i = 0; i < argc; i++) {
		print_error(i ? " " : "");
		for (size_t j = 0; j < lens[i] && j < 80; j++) {
			unsigned char b = (unsigned char)argv[i][j];
			if (b >= 0x20 && b < 0x7f)
				print_error("%c", b);
			else
				print_error("\\x%02x", b);
		}
	}
}

enum { MDB_MAX_CALL_ARGS = 32 };

/* Collects the NULL-terminated string arguments after first. */
static size_t collect_args(const char *first, va_list ap, const char *argv[], size_t lens[],
                           const char *file, int line)
{
	size_t argc = 0;
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
		if (argc == MDB_MAX_CALL_ARGS) {
			print_error("more than %d arguments\n", MDB_MAX_CALL_ARGS);
			_fail(file, line);
		}
		argv[argc] = a;
		lens[argc] = strlen(a);
		argc++;
	}
	return argc;
}

char *mdb_call_at(mdb_conn *c, const char *file, int line, const char *first, ...)
{
	const char *argv[MDB_MAX_CALL_ARGS];
	size_t lens[MDB_MAX_CALL_ARGS];
	va_list ap;
	va_start(ap, first);
	size_t argc = collect_args(first, ap, argv, lens, file, line);
	va_end(ap);
	mdb_reply r;
	if (mdb_resp_call(c, argc, argv, lens, &r) != 0) {
		mdb_reply_free(&r);
		print_error("no reply (connection closed, timeout or bad framing) to ");
		mdb_print_cmd(argc, argv, lens);
		print_error("\n");
		_fail(file, line);
	}
	char *s = mdb_reply_render(&r);
	mdb_reply_free(&r);
	if (s == NULL) {
		print_error("out of memory\n");
		_fail(file, line);
	}
	return s;
}

void mdb_assert_call_at(mdb_conn *c, const char *want, const char *file, int line,
                        const char *first, ...)
{
	const char *argv[MDB_MAX_CALL_ARGS];
	size_t lens[MDB_MAX_CALL_ARGS];
	va_list ap;
	va_start(ap, first);
	size_t argc = collect_args(first, ap, argv, lens, file, line);
	va_end(ap);
	mdb_reply r;
	char *got = NULL;
	if (mdb_resp_call(c, argc, argv, lens, &r) == 0)
		got = mdb_reply_render(&r);
	mdb_reply_free(&r);
	if (got != NULL && strcmp(got, want) == 0) {
		free(got);
		return;
	}
	print_error("reply to \"");
	mdb_print_cmd(argc, argv, lens);
	print_error("\": expected \"%s\", got \"%s\"\n", want, got ? got : "(no reply)");
	free(got);
	_fail(file, line);
}

long long mdb_call_int_at(mdb_conn *c, const char *file, int line, const char *a0, const char *a1)
{
	char *s = mdb_call_at(c, file, line, a0, a1, (const char *)NULL);
	if (s[0] != ':') {
		print_error("%s %s: expected an integer, got \"%s\"\n", a0, a1 ? a1 : "", s);
		free(s);
		_fail(file, line);
	}
	long long v = strtoll(s + 1, NULL, 10);
	free(s);
	return v;
}

void mdb_pipeline_sets_at(mdb_conn *c, const char *prefix, long long first, long long n,
                          size_t vlen, const char *file, int line)
{
	long long ok = mdb_pipeline_sets(c, prefix, first, n, vlen);
	if (ok != n) {
		print_error("pipelined SETs of %s%lld..%lld: only %lld acknowledged\n", prefix,
		            first, first + n - 1, ok);
		_fail(file, line);
	}
}

void mdb_check_numbered_at(mdb_conn *c, const char *prefix, long long first, long long n,
                           long long end, size_t vlen, const char *file, int line)
{
	char key[128], *want = malloc(vlen + 1);
	mdb_buf b = {0};
	if (want == NULL) {
		print_error("out of memory\n");
		_fail(file, line);
		return;
	}
	for (long long from = first; from < end;) {
		long long to = end - from < MDB_PIPE_CHUNK ? end : from + MDB_PIPE_CHUNK;
		b.len = 0;
		for (long long i = from; i < to; i++) {
			snprintf(key, sizeof key, "%s%lld", prefix, i);
			const char *argv[2] = {"GET", key};
			const size_t lens[2] = {3, strlen(key)};
			if (mdb_resp_encode(&b, 2, argv, lens) != 0)
				break;
		}
		int sent = mdb_send_all(c->fd, b.p, b.len);
		for (long long i = from; i < to; i++) {
			mdb_reply r;
			int rc = sent == 0 ? mdb_resp_read(c, &r) : (memset(&r, 0, sizeof r), -1);
			int present = i < first + n, ok;
			if (present) {
				mdb_numbered_value(want, i, vlen);
				ok = rc == 0 && r.type == '$' && r.len == vlen &&
				     memcmp(r.str, want, vlen) == 0;
			} else {
				ok = rc == 0 && r.type == '_';
			}
			if (!ok) {
				char *got = rc == 0 ? mdb_reply_render(&r) : NULL;
				print_error("GET %s%lld: expected %s%s%s, got \"%.100s\"\n", prefix,
				            i, present ? "\"$" : "nil", present ? want : "",
				            present ? "\"" : "", got ? got : "(no reply)");
				free(got);
				mdb_reply_free(&r);
				free(b.p);
				free(want);
				_fail(file, line);
				return;
			}
			mdb_reply_free(&r);
		}
		from = to;
	}
	free(b.p);
	free(want);
}

/* ---- quoting ---- */

char *mdb_quote(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc(len * 4 + 3);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char b = p[i];
		if (b == '"' || b == '\\') {
			out[o++] = '\\';
			out[o++] = (char)b;
		} else if (b >= 0x20 && b < 0x7f) {
			out[o++] = (char)b;
		} else {
			static const char hex[] = "0123456789abcdef";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[b >> 4];
			out[o++] = hex[b & 15];
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int mdb_unquote(const char *s, size_t len, char **out, size_t *out_len)
{
	*out = NULL;
	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return -1;
	char *buf = malloc(len);
	if (buf == NULL)
		return -1;
	size_t o = 0;
	for (size_t i = 1; i < len - 1; i++) {
		char ch = s[i];
		if (ch == '"')
			goto bad; /* an unescaped quote inside */
		if (ch != '\\') {
			buf[o++] = ch;
			continue;
		}
		if (++i >= len - 1)
			goto bad;
		switch (s[i]) {
		case 'n':
			buf[o++] = '\n';
			break;
		case 'r':
			buf[o++] = '\r';
			break;
		case 't':
			buf[o++] = '\t';
			break;
		case '\\':
			buf[o++] = '\\';
			break;
		case '"':
			buf[o++] = '"';
			break;
		case 'x': {
			if (i + 2 >= len - 1)
				goto bad;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			buf[o++] = (char)(hi << 4 | lo);
			i += 2;
			break;
		}
		default:
			goto bad;
		}
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
bad:
	free(buf);
	return -1;
}

/* ---- other processes ---- */

typedef struct capture {
	char *buf;
	size_t len;
	size_t cap;
} capture;

/* Reads what is available on fd into cap. Returns 1 on EOF or error (stop
 * polling fd), else 0. */
static int capture_read(int fd, capture *cp)
{
	if (cp->cap - cp->len < 4096) {
		size_t ncap = cp->cap ? cp->cap * 2 : 8192;
		if (ncap > MDB_MAX_CAPTURE)
			return 1;
		char *nb = realloc(cp->buf, ncap);
		if (nb == NULL)
			return 1;
		cp->buf = nb;
		cp->cap = ncap;
	}
	ssize_t n = read(fd, cp->buf + cp->len, cp->cap - cp->len - 1);
	if (n > 0) {
		cp->len += (size_t)n;
		return 0;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	return 1;
}

static char *capture_take(capture *cp, size_t *len)
{
	if (cp->buf == NULL)
		cp->buf = malloc(1);
	if (cp->buf != NULL)
		cp->buf[cp->len] = '\0';
	*len = cp->len;
	return cp->buf;
}

int mdb_run(const char *const argv[], const char *input, size_t input_len, int timeout_ms,
            mdb_proc *res)
{
	memset(res, 0, sizeof *res);
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	if ((input != NULL && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
		goto fail;
	}
	if (input == NULL) {
		in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in[0] < 0)
			goto fail;
	}
	const int fds[3] = {in[0], out[1], err[1]};
	pid_t pid = spawn(argv[0], (char *const *)argv, fds);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	in[0] = out[1] = err[1] = -1;
	if (pid < 0)
		goto fail;

	if (in[1] >= 0)
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	capture co = {0}, ce = {0};
	size_t written = 0;
	long long deadline = mdb_now_ms() + timeout_ms;
	int killed = 0;
	while (out[0] >= 0 || err[0] >= 0) {
		if (in[1] >= 0 && written == input_len) {
			close(in[1]);
			in[1] = -1;
		}
		struct pollfd pfd[3] = {{.fd = out[0], .events = POLLIN},
		                        {.fd = err[0], .events = POLLIN},
		                        {.fd = in[1], .events = POLLOUT}};
		long long left = deadline - mdb_now_ms();
		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		int r = poll(pfd, 3, (int)left);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (pfd[0].revents && capture_read(out[0], &co)) {
			close(out[0]);
			out[0] = -1;
		}
		if (pfd[1].revents && capture_read(err[0], &ce)) {
			close(err[0]);
			err[0] = -1;
		}
		if (pfd[2].revents) {
			ssize_t n = write(in[1], input + written, input_len - written);
			if (n > 0) {
				written += (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				close(in[1]); /* EPIPE: the child stopped reading */
				in[1] = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		int *fdp = i == 0 ? &out[0] : &err[0];
		if (*fdp >= 0)
			close(*fdp);
	}
	if (in[1] >= 0)
		close(in[1]);
	int left = (int)(deadline - mdb_now_ms());
	int status = wait_pid(pid, left > 0 ? left : 0);
	if (status < 0) {
		kill(pid, SIGKILL);
		killed = 1;
		wait_pid(pid, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS));
	}
	if (killed) {
		fprintf(stderr, "harness: %s did not finish in %d ms; killed\n", argv[0],
		        timeout_ms);
		status = -1;
	}
	res->status = status;
	res->out = capture_take(&co, &res->out_len);
	res->err = capture_take(&ce, &res->err_len);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return -1;
}

void mdb_proc_free(mdb_proc *res)
{
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof *res);
}

char *mdb_which(const char *name)
{
	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	const char *path = getenv("PATH");
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;;) {
		const char *colon = strchr(p, ':');
		size_t n = colon != NULL ? (size_t)(colon - p) : strlen(p);
		char *cand = NULL;
		/* An empty PATH entry means the current directory. */
		if (asprintf(&cand, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", name) < 0)
			return NULL;
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (colon == NULL)
			return NULL;
		p = colon + 1;
	}
}

/* ---- assertions ---- */

/* Prints s with bytes outside printable ASCII escaped, for failure messages;
 * long strings are cut. */
static void print_escaped(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++, n++) {
		if (n == 200) {
			print_error("...");
			break;
		}
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			print_error("%c", *p);
		else
			print_error("\\x%02x", *p);
	}
}

/* Compares a reply line with what was expected; takes ownership of got. */
static void check_line(const char *what, char *got, const char *expected, int prefix,
                       const char *file, int line)
{
	if (got == NULL) {
		print_error("%s: expected \"", what);
		print_escaped(expected);
		print_error("\", got no reply (connection closed, timeout or error)\n");
		_fail(file, line);
		return;
	}
	int ok =
	        prefix ? strncmp(got, expected, strlen(expected)) == 0 : strcmp(got, expected) == 0;
	if (ok) {
		free(got);
		return;
	}
	print_error("%s: expected %s\"", what, prefix ? "a reply starting with " : "");
	print_escaped(expected);
	print_error("\", got \"");
	print_escaped(got);
	print_error("\"\n");
	free(got);
	_fail(file, line);
}

void mdb_assert_cmd_at(mdb_conn *c, const char *cmd, const char *expected, int prefix,
                       const char *file, int line)
{
	char *reply = mdb_cmd(c, cmd);
	char what[120];
	snprintf(what, sizeof what, "reply to \"%.80s\"", cmd);
	check_line(what, reply, expected, prefix, file, line);
}

void mdb_assert_reply_at(mdb_conn *c, const char *expected, int prefix, const char *file, int line)
{
	char *reply;
	if (mdb_read_line(c, &reply) < 0)
		reply = NULL;
	check_line("reply", reply, expected, prefix, file, line);
}

void mdb_assert_closed_at(mdb_conn *c, const char *file, int line)
{
	int r = mdb_wait_closed(c, mdb_timeout_ms(MDB_IO_TIMEOUT_MS));
	if (r == 1)
		return;
	if (r == 0) {
		print_error("expected the server to close the connection, got %zu more bytes: \"",
		            mdb_conn_pending(c));
		char *tmp = strndup(c->buf + c->start, mdb_conn_pending(c));
		if (tmp != NULL)
			print_escaped(tmp);
		free(tmp);
		print_error("\"\n");
	} else {
		print_error("expected the server to close the connection within %d ms\n",
		            mdb_timeout_ms(MDB_IO_TIMEOUT_MS));
	}
	_fail(file, line);
}

int mdb_group_start(void **state)
{
	mdb_server *s = mdb_start(NULL);
	*state = s;
	return s == NULL ? -1 : 0;
}

int mdb_group_stop(void **state)
{
	return mdb_stop(*state) == 0 ? 0 : -1;
}

mdb_conn *mdb_group_conn(void **state)
{
	mdb_server *s = *state;
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	return c;
}

/* ---- server life assertions ---- */

mdb_server *mdb_start_ok_at(const char *const extra_args[], const char *file, int line)
{
	mdb_server *s = mdb_start(extra_args);
	if (s == NULL) {
		print_error("the server did not start\n");
		_fail(file, line);
	}
	return s;
}

void mdb_restart_ok_at(mdb_server *s, const char *const extra_args[], const char *file, int line)
{
	if (mdb_restart(s, extra_args) != 0) {
		print_error("the server did not come back (log above)\n");
		_fail(file, line);
	}
}

mdb_conn *mdb_open_ok_at(const mdb_server *s, const char *file, int line)
{
	mdb_conn *c = mdb_conn_open(s->port);
	if (c == NULL) {
		print_error("cannot connect to the server on port %d\n", s->port);
		_fail(file, line);
	}
	return c;
}

void mdb_stop_cleanly_at(mdb_server *s, const char *file, int line)
{
	int status = -1;
	if (mdb_signal(s, SIGTERM) == 0)
		status = mdb_wait_exit(s, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS));
	if (status != 0) {
		mdb_print_log(s);
		print_error("exit status %d after SIGTERM, expected 0\n", status);
		_fail(file, line);
	}
}

void mdb_kill_ok_at(mdb_server *s, const char *file, int line)
{
	int status = mdb_kill(s);
	if (status != 128 + SIGKILL) {
		print_error("exit status %d after SIGKILL, expected %d\n", status, 128 + SIGKILL);
		_fail(file, line);
	}
}

/* ---- background processes and HTTP ---- */

pid_t mdb_spawn_bg(const char *const argv[], const char *out_path)
{
	int outfd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (outfd < 0 || nullfd < 0) {
		fprintf(stderr, "harness: open %s: %s\n", out_path, strerror(errno));
		if (outfd >= 0)
			close(outfd);
		if (nullfd >= 0)
			close(nullfd);
		return -1;
	}
	const int fds[3] = {nullfd, outfd, outfd};
	ignore_sigpipe();
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0); /* async-signal-safe; its group can then be signalled whole */
		child_exec(argv[0], (char *const *)argv, fds, parent);
	}
	if (pid < 0)
		fprintf(stderr, "harness: fork: %s\n", strerror(errno));
	else
		setpgid(pid, pid); /* also from here, so the group exists before we signal it */
	close(outfd);
	close(nullfd);
	return pid;
}

int mdb_bg_stop(pid_t pid, int timeout_ms)
{
	if (pid <= 0)
		return -1;
	kill(-pid, SIGTERM);
	int st = wait_pid(pid, timeout_ms);
	kill(-pid, SIGKILL); /* anything it left in its group */
	if (st >= 0)
		return st;
	wait_pid(pid, mdb_timeout_ms(MDB_STOP_TIMEOUT_MS));
	return -1;
}

int mdb_bg_exited(pid_t pid)
{
	int ws;
	if (pid > 0 && waitpid(pid, &ws, WNOHANG) == pid)
		return decode_status(ws);
	return -1;
}

int mdb_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int mdb_http_get(int port, const char *path, char **body, int timeout_ms)
{
	if (body != NULL)
		*body = NULL;
	ignore_sigpipe();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path,
	                 port);
	if (n <= 0 || (size_t)n >= sizeof req ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    mdb_send_all(fd, req, (size_t)n) != 0) {
		close(fd);
		return -1;
	}
	/* HTTP/1.0 without keep-alive: the response ends where the server closes. */
	size_t cap = 4096, len = 0;
	char *resp = malloc(cap);
	long long deadline = mdb_now_ms() + timeout_ms;
	while (resp != NULL) {
		if (len + 1 == cap) {
			char *p = cap < MDB_MAX_CAPTURE ? realloc(resp, cap * 2) : NULL;
			if (p == NULL) {
				free(resp);
				resp = NULL;
				break;
			}
			resp = p;
			cap *= 2;
		}
		ssize_t r = recv(fd, resp + len, cap - 1 - len, 0);
		if (r > 0) {
			len += (size_t)r;
		} else if (r == 0) {
			break;
		} else if (errno != EINTR || mdb_now_ms() > deadline) {
			free(resp); /* a timeout or a reset: no complete response */
			resp = NULL;
		}
	}
	close(fd);
	if (resp == NULL)
		return -1;
	resp[len] = '\0';
	int status = -1;
	const char *end = strstr(resp, "\r\n\r\n");
	if (end != NULL && strncmp(resp, "HTTP/1.", 7) == 0 && len > 12 && resp[8] == ' ')
		status = atoi(resp + 9);
	if (status >= 100 && body != NULL)
		*body = strdup(end + 4);
	free(resp);
	return status >= 100 ? status : -1;
}

int mdb_http_port(const mdb_server *s)
{
	char *line = mdb_last_log_line(s, "\"listener\":\"http\"");
	long long port = mdb_log_field(line, "port");
	free(line);
	return port > 0 && port < 65536 ? (int)port : -1;
}

long long mdb_rss_bytes(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	char *text = mdb_read_file(path, NULL);
	if (text == NULL)
		return -1;
	long long kib = -1;
	const char *p = strstr(text, "\nVmRSS:");
	if (p != NULL)
		kib = strtoll(p + 7, NULL, 10);
	free(text);
	return kib >= 0 ? kib * 1024 : -1;
}

int mdb_s_client(const char *openssl, int port, const char *cafile, const char *hostname,
                 const char *version_flag, const char *input, char **out)
{
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	const char *argv[16];
	int n = 0;
	argv[n++] = openssl;
	argv[n++] = "s_client";
	argv[n++] = "-connect";
	argv[n++] = addr;
	argv[n++] = "-CAfile";
	argv[n++] = cafile;
	argv[n++] = "-verify_return_error";
	if (hostname != NULL) {
		argv[n++] = "-verify_hostname";
		argv[n++] = hostname;
	}
	argv[n++] = "-ign_eof";
	argv[n++] = version_flag;
	/* Let the client offer old versions so that the server is what refuses. */
	argv[n++] = "-cipher";
	argv[n++] = "DEFAULT@SECLEVEL=0";
	argv[n] = NULL;
	mdb_proc r;
	assert_int_equal(mdb_run(argv, input, strlen(input), mdb_timeout_ms(20000), &r), 0);
	int st = r.status;
	*out = r.out;
	r.out = NULL;
	mdb_proc_free(&r);
	return st;
}
