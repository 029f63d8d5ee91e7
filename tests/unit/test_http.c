/* test_http.c - unit tests for http.c against the real module on loopback
 * (port -1, so any free port). Well-formed requests go through a real HTTP
 * client (curl, run with fork/exec and a bounded --max-time); malformed ones
 * (garbage, oversized headers, bodies) through raw sockets. The route
 * callbacks here are small fakes whose behaviour each test sets: a status, a
 * body, or a sleep to show a slow scrape does not hold up /healthz, and an
 * authorize callback that accepts one token. The HTTPS tests make their
 * certificates at test time with the openssl command (tests/tls_certs.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tls_certs.h"
#include "http.h"

#define IO_TIMEOUT_MS 10000
#define RESP_MAX      (256 * 1024)

struct fake {
	atomic_int metrics_calls;
	atomic_int healthz_calls;
	atomic_int in_metrics; /* 1 while metrics sleeps */
	int metrics_sleep_ms;
	int ready_status;
	int metrics_status;
	/* authorize: accepts good_token; refuse_status (0: 401) otherwise. */
	const char *good_token;
	int refuse_status;
	atomic_int auth_calls;
	int token_was_null;
	char last_token[256];
	char last_addr[64];
};

static const char METRICS_BODY[] = "# TYPE requests_total counter\n"
                                   "requests_total{method=\"GET\"} 3\n";

static int fake_metrics(void *arg, buf *out)
{
	struct fake *f = arg;

	atomic_fetch_add(&f->metrics_calls, 1);
	if (f->metrics_sleep_ms > 0) {
		atomic_store(&f->in_metrics, 1);
		usleep((useconds_t)f->metrics_sleep_ms * 1000);
		atomic_store(&f->in_metrics, 0);
	}
	buf_append_str(out, METRICS_BODY);
	return f->metrics_status != 0 ? f->metrics_status : 200;
}

static int fake_healthz(void *arg, buf *out)
{
	struct fake *f = arg;

	atomic_fetch_add(&f->healthz_calls, 1);
	buf_append_str(out, "{\"status\":\"ok\"}");
	return 200;
}

static int fake_readyz(void *arg, buf *out)
{
	struct fake *f = arg;

	if (f->ready_status == 503) {
		buf_append_str(out, "{\"status\":\"not ready\",\"reason\":\"loading\"}");
		return 503;
	}
	buf_append_str(out, "{\"status\":\"ready\"}");
	return 200;
}

static int fake_authorize(void *arg, const char *token, size_t len, const char *addr)
{
	struct fake *f = arg;

	atomic_fetch_add(&f->auth_calls, 1);
	f->token_was_null = token == NULL;
	snprintf(f->last_token, sizeof f->last_token, "%.*s", (int)len, token ? token : "");
	snprintf(f->last_addr, sizeof f->last_addr, "%s", addr);
	if (token != NULL && strlen(f->good_token) == len && memcmp(token, f->good_token, len) == 0)
		return 0;
	return f->refuse_status != 0 ? f->refuse_status : 401;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

struct srv {
	struct fake f;
	http_server *h;
};

static int srv_setup(void **state)
{
	struct srv *s = calloc(1, sizeof *s);
	http_routes r = {.metrics = fake_metrics, .healthz = fake_healthz, .readyz = fake_readyz};
	char err[256];

	assert_non_null(s);
	r.arg = &s->f;
	s->h = http_start("127.0.0.1", -1, &r, NULL, err, sizeof err);
	if (s->h == NULL)
		print_error("http_start: %s\n", err);
	assert_non_null(s->h);
	assert_true(http_port(s->h) > 0);
	*state = s;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srv *s = *state;

	http_stop(s->h);
	free(s);
	return 0;
}

/* Runs curl with args (NULL-terminated, after the fixed options) and puts
 * its stdout (-i: headers and body) in out. Returns curl's exit status. */
static int run_curl(char *out, size_t outlen, ...)
{
	const char *argv[32] = {"curl", "-q", "-s", "-i", "--noproxy", "*", "--max-time", "5"};
	int argc = 8, fds[2], status = -1;
	size_t got = 0;
	long long deadline = now_ms() + IO_TIMEOUT_MS;
	va_list ap;
	pid_t pid;

	va_start(ap, outlen);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp("curl", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	while (got + 1 < outlen) {
		struct pollfd p = {fds[0], POLLIN, 0};
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fds[0], out + got, outlen - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(fds[0]);
	if (now_ms() >= deadline)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int connect_port(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return; /* the server may close early on a refused request */
		p += w;
		n -= (size_t)w;
	}
}

/* Sends req (len bytes) on a fresh connection, half-closes it when eof is
 * set, and reads until the server closes it or the timeout passes. Returns
 * the number of bytes read. */
static size_t raw_request_eof(int port, const char *req, size_t len, int eof, char *out,
                              size_t outlen)
{
	int fd = connect_port(port);
	size_t got = 0;

	send_all(fd, req, len);
	if (eof)
		shutdown(fd, SHUT_WR);
	while (got + 1 < outlen) {
		ssize_t n = recv(fd, out + got, outlen - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	return got;
}

static size_t raw_request(int port, const char *req, size_t len, char *out, size_t outlen)
{
	return raw_request_eof(port, req, len, 0, out, outlen);
}

static int status_of(const char *resp)
{
	int st = -1;

	if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1)
		return -1;
	return st;
}

static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p != NULL ? p + 4 : NULL;
}

/* Case-insensitive header check on a response's head. */
static int has_header(const char *resp, const char *line)
{
	const char *end = strstr(resp, "\r\n\r\n");
	size_t n = strlen(line);

	for (const char *p = strstr(resp, "\r\n"); p != NULL && p < end; p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, line, n) == 0 && p[2 + n] == '\r')
			return 1;
	return 0;
}

#define assert_header(resp, line)                                                                  \
	do {                                                                                       \
		if (!has_header((resp), (line))) {                                                 \
			print_error("missing header '%s' in:\n%s\n", (line), (resp));              \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

static void url_of(char *u, size_t n, int port, const char *path)
{
	snprintf(u, n, "http://127.0.0.1:%d%s", port, path);
}

static void metrics_returns_the_exposition_with_its_content_type_to_curl(void **state)
{
	struct srv *s = *state;
	char out[8192], url[128];

	url_of(url, sizeof url, http_port(s->h), "/metrics");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	assert_header(out, "Content-Type: text/plain; version=0.0.4; charset=utf-8");
	assert_header(out, "Cache-Control: no-store");
	assert_string_equal(body_of(out), METRICS_BODY);
	assert_int_equal(atomic_load(&s->f.metrics_calls), 1);
}

static void healthz_returns_json_ok_to_curl(void **state)
{
	struct srv *s = *state;
	char out[8192], url[128];

	url_of(url, sizeof url, http_port(s->h), "/healthz");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	assert_header(out, "Content-Type: application/json");
	assert_header(out, "Cache-Control: no-store");
	assert_string_equal(body_of(out), "{\"status\":\"ok\"}");
}

static void readyz_returns_200_when_ready_and_503_with_a_reason_when_not(void **state)
{
	struct srv *s = *state;
	char out[8192], url[128];

	url_of(url, sizeof url, http_port(s->h), "/readyz");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	assert_header(out, "Content-Type: application/json");
	assert_string_equal(body_of(out), "{\"status\":\"ready\"}");

	s->f.ready_status = 503;
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 503);
	assert_header(out, "Content-Type: application/json");
	assert_header(out, "Cache-Control: no-store");
	assert_string_equal(body_of(out), "{\"status\":\"not ready\",\"reason\":\"loading\"}");
}

static void a_query_string_is_ignored(void **state)
{
	struct srv *s = *state;
	char out[8192], url[128];

	url_of(url, sizeof url, http_port(s->h), "/metrics?name[]=up&x=%zz");
	assert_int_equal(run_curl(out, sizeof out, "-g", url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	assert_string_equal(body_of(out), METRICS_BODY);
}

static void an_unknown_path_is_404(void **state)
{
	struct srv *s = *state;
	char out[8192], url[128];

	url_of(url, sizeof url, http_port(s->h), "/metricsx");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 404);
	assert_header(out, "Cache-Control: no-store");
	url_of(url, sizeof url, http_port(s->h), "/");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 404);
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
}

static void a_route_without_a_callback_is_404(void **state)
{
	struct fake f = {0};
	http_routes r = {.healthz = fake_healthz, .arg = &f};
	char err[256], out[8192], url[128];
	http_server *h = http_start("127.0.0.1", -1, &r, NULL, err, sizeof err);

	assert_non_null(h);
	url_of(url, sizeof url, http_port(h), "/metrics");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 404);
	url_of(url, sizeof url, http_port(h), "/healthz");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	http_stop(h);
}

static void a_callback_status_out_of_range_is_sent_as_500(void **state)
{
	struct srv *s = *state;
	char out[8192], url[128];

	s->f.metrics_status = 1000;
	url_of(url, sizeof url, http_port(s->h), "/metrics");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 500);
}

static void head_has_the_headers_and_content_length_but_no_body(void **state)
{
	struct srv *s = *state;
	static const char req[] = "HEAD /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	char out[8192], cl[64];

	raw_request(http_port(s->h), req, sizeof req - 1, out, sizeof out);
	assert_int_equal(status_of(out), 200);
	assert_header(out, "Content-Type: text/plain; version=0.0.4; charset=utf-8");
	snprintf(cl, sizeof cl, "Content-Length: %zu", sizeof METRICS_BODY - 1);
	assert_header(out, cl);
	assert_non_null(body_of(out));
	assert_string_equal(body_of(out), "");
}

static void post_with_a_body_is_405_with_allow_and_never_reaches_a_callback(void **state)
{
	struct srv *s = *state;
	static const char req[] = "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
	                          "\r\nhello world";
	char out[8192], url[128];

	raw_request(http_port(s->h), req, sizeof req - 1, out, sizeof out);
	assert_int_equal(status_of(out), 405);
	assert_header(out, "Allow: GET, HEAD");
	assert_header(out, "Cache-Control: no-store");

	url_of(url, sizeof url, http_port(s->h), "/healthz");
	assert_int_equal(run_curl(out, sizeof out, "-X", "DELETE", url, NULL), 0);
	assert_int_equal(status_of(out), 405);
	assert_header(out, "Allow: GET, HEAD");
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
	assert_int_equal(atomic_load(&s->f.healthz_calls), 0);
}

static void get_with_a_body_is_413(void **state)
{
	struct srv *s = *state;
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
	                          "\r\nhello";
	static const char chunked[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n"
	                              "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
	char out[8192];

	raw_request(http_port(s->h), req, sizeof req - 1, out, sizeof out);
	assert_int_equal(status_of(out), 413);
	raw_request(http_port(s->h), chunked, sizeof chunked - 1, out, sizeof out);
	assert_int_equal(status_of(out), 413);
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
	assert_int_equal(atomic_load(&s->f.healthz_calls), 0);
}

/* After a hostile request the server must still answer a good one. */
static void assert_still_serves(int port)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	char out[8192];

	raw_request(port, req, sizeof req - 1, out, sizeof out);
	assert_int_equal(status_of(out), 200);
}

static void a_garbage_request_line_gets_400_or_a_close(void **state)
{
	struct srv *s = *state;
#define REQ(lit)                                                                                   \
	{                                                                                          \
		lit, sizeof lit - 1                                                                \
	}
	static const struct {
		const char *p;
		size_t n;
	} reqs[] = {
	        /* A TLS ClientHello's first bytes, NUL included. */
	        REQ("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n"),
	        REQ("GET\r\n\r\n"),
	        REQ("GET /metrics HTTP/9.9\r\nHost: t\r\n\r\n"),
	        REQ("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n"),
	        REQ("\r\n\r\n\r\n"),
	};
#undef REQ
	enum { N = sizeof reqs / sizeof reqs[0] };
	struct timeval tv = {15, 0}; /* longer than the server's 10 s timeout */
	char out[8192];
	long long t0 = now_ms();
	int fds[N];

	/* All at once: MHD answers most at once, but may keep one whose EOF it
	 * missed (seen with bare CRLFs under load) until its 10 s timeout. */
	for (size_t i = 0; i < N; i++) {
		fds[i] = connect_port(http_port(s->h));
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		send_all(fds[i], reqs[i].p, reqs[i].n);
		shutdown(fds[i], SHUT_WR);
	}
	assert_still_serves(http_port(s->h));
	for (size_t i = 0; i < N; i++) {
		size_t got = 0;
		ssize_t n;

		while (got + 1 < sizeof out &&
		       (n = recv(fds[i], out + got, sizeof out - 1 - got, 0)) > 0)
			got += (size_t)n;
		out[got] = '\0';
		close(fds[i]);
		if (now_ms() - t0 > 14000 ||
		    (got > 0 && status_of(out) != 400 && status_of(out) != 505)) {
			print_error("request %zu took %lld ms and got:\n%s\n", i, now_ms() - t0,
			            out);
			fail();
		}
	}
	assert_still_serves(http_port(s->h));
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
}

static void an_oversized_header_gets_431_or_413(void **state)
{
	struct srv *s = *state;
	size_t big = 64 * 1024;
	char *req = malloc(big + 128);
	char out[8192];
	int n, st;

	assert_non_null(req);
	n = sprintf(req, "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(req + n, 'a', big);
	memcpy(req + n + big, "\r\n\r\n", 4);
	raw_request(http_port(s->h), req, (size_t)n + big + 4, out, sizeof out);
	free(req);
	st = status_of(out);
	if (st != 431 && st != 413) {
		print_error("got:\n%s\n", out);
		fail();
	}
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
	assert_still_serves(http_port(s->h));
}

/* The configured timeout (2 s here; 10 s by default) closes a connection
 * whose request never completes. */
static void a_stalled_request_is_closed_by_the_configured_timeout(void **state)
{
	struct fake f = {0};
	http_routes r = {.metrics = fake_metrics, .arg = &f, .timeout_s = 2};
	static const char part[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n";
	char err[256], out[8192];
	ssize_t n = -1;

	(void)state;
	http_server *h = http_start("127.0.0.1", -1, &r, NULL, err, sizeof err);
	assert_non_null(h);
	long long t0 = now_ms();
	int fd = connect_port(http_port(h));
	struct timeval tv = {10, 0}; /* longer than the server's 2 s */

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	send_all(fd, part, sizeof part - 1);
	for (int i = 0; i < 100 && (n = recv(fd, out, sizeof out, 0)) > 0; i++)
		;
	close(fd);
	/* The server closed (EOF or reset), before our own receive timeout. */
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	assert_true(now_ms() - t0 >= 1500);
	assert_true(now_ms() - t0 < 8000);
	assert_int_equal(atomic_load(&f.metrics_calls), 0);
	http_stop(h);
}

/* With max_connections 4, eight keep-alive clients: at most four are
 * served at once (MHD splits the limit over its threads and closes or
 * leaves waiting the others); under the default limit all eight would be. */
static void connections_over_the_configured_limit_are_refused(void **state)
{
	struct fake f = {0};
	http_routes r = {.healthz = fake_healthz, .arg = &f, .max_connections = 4};
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	char err[256], out[4096];
	int fds[8], served = 0;

	(void)state;
	http_server *h = http_start("127.0.0.1", -1, &r, NULL, err, sizeof err);
	assert_non_null(h);
	int port = http_port(h);
	for (int i = 0; i < 8; i++) {
		fds[i] = connect_port(port);
		send_all(fds[i], req, sizeof req - 1);
	}
	usleep(500 * 1000);
	for (int i = 0; i < 8; i++) {
		/* What has arrived by now, without waiting for more. */
		ssize_t n = recv(fds[i], out, sizeof out - 1, MSG_DONTWAIT);
		if (n > 0) {
			out[n] = '\0';
			served += status_of(out) == 200;
		}
	}
	print_message("served at once with max_connections 4: %d of 8\n", served);
	assert_true(served >= 1);
	assert_true(served <= 4);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	/* The places come back: a new client is served. */
	int ok = 0;
	for (int i = 0; i < 50 && !ok; i++) {
		raw_request(port, "GET /healthz HTTP/1.0\r\n\r\n", 25, out, sizeof out);
		ok = status_of(out) == 200;
		if (!ok)
			usleep(50 * 1000);
	}
	assert_true(ok);
	http_stop(h);
}

static void a_kept_alive_connection_serves_pipelined_requests(void **state)
{
	struct srv *s = *state;
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
	                          "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	char out[8192];
	const char *second;

	raw_request(http_port(s->h), req, sizeof req - 1, out, sizeof out);
	assert_int_equal(status_of(out), 200);
	second = strstr(out + 1, "HTTP/1.1 ");
	assert_non_null(second);
	assert_int_equal(status_of(second), 200);
	assert_non_null(strstr(second, METRICS_BODY));
}

struct hammer {
	int port;
	int rounds;
	atomic_int *ok;
};

static void *hammer_thread(void *arg)
{
	struct hammer *hm = arg;
	static const char *const reqs[] = {
	        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	        "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	        "GET /readyz HTTP/1.0\r\n\r\n",
	};
	char out[4096];

	for (int i = 0; i < hm->rounds; i++) {
		const char *req = reqs[i % 3];
		int fd = connect_port(hm->port);
		size_t got = 0;

		send_all(fd, req, strlen(req));
		while (got + 1 < sizeof out) {
			ssize_t n = recv(fd, out + got, sizeof out - 1 - got, 0);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		out[got] = '\0';
		close(fd);
		if (status_of(out) == 200)
			atomic_fetch_add(hm->ok, 1);
	}
	return NULL;
}

static void concurrent_requests_from_several_threads_all_succeed(void **state)
{
	struct srv *s = *state;
	enum { THREADS = 8, ROUNDS = 30 };
	pthread_t t[THREADS];
	struct hammer hm;
	atomic_int ok = 0;

	hm.port = http_port(s->h);
	hm.rounds = ROUNDS;
	hm.ok = &ok;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &hm), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&ok), THREADS * ROUNDS);
	assert_int_equal(atomic_load(&s->f.metrics_calls), THREADS * ROUNDS / 3);
}

struct scrape {
	int port;
	int status;
};

static void *scrape_thread(void *arg)
{
	struct scrape *sc = arg;
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	char out[8192];

	raw_request(sc->port, req, sizeof req - 1, out, sizeof out);
	sc->status = status_of(out);
	return NULL;
}

static void a_slow_metrics_callback_does_not_block_healthz(void **state)
{
	struct srv *s = *state;
	struct scrape sc = {http_port(s->h), 0};
	char out[8192], url[128];
	long long t0;
	pthread_t t;

	s->f.metrics_sleep_ms = 3000;
	assert_int_equal(pthread_create(&t, NULL, scrape_thread, &sc), 0);
	for (int i = 0; i < 500 && !atomic_load(&s->f.in_metrics); i++)
		usleep(10000);
	assert_true(atomic_load(&s->f.in_metrics));

	t0 = now_ms();
	url_of(url, sizeof url, http_port(s->h), "/healthz");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	assert_true(atomic_load(&s->f.in_metrics)); /* answered while the scrape slept */
	assert_true(now_ms() - t0 < 2500);

	pthread_join(t, NULL);
	assert_int_equal(sc.status, 200);
}

static void starting_on_a_busy_port_fails_with_a_clear_error(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	http_routes r = {.metrics = fake_metrics, .healthz = fake_healthz, .readyz = fake_readyz};
	char err[256] = "", want[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int fds_before;

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	fds_before = count_fds();

	assert_null(http_start("127.0.0.1", ntohs(sa.sin_port), &r, NULL, err, sizeof err));
	snprintf(want, sizeof want, "127.0.0.1 port %d", ntohs(sa.sin_port));
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "Address already in use"));
	assert_int_equal(count_fds(), fds_before);
	close(fd);
}

static void a_bad_bind_address_or_port_fails_with_a_clear_error(void **state)
{
	http_routes r = {.metrics = fake_metrics, .healthz = fake_healthz, .readyz = fake_readyz};
	char err[256] = "";

	assert_null(http_start("not-an-address", -1, &r, NULL, err, sizeof err));
	assert_non_null(strstr(err, "not-an-address"));
	assert_non_null(strstr(err, "not an IPv4 or IPv6 address"));
	assert_null(http_start("127.0.0.1", 65536, &r, NULL, err, sizeof err));
	assert_non_null(strstr(err, "65536"));
	assert_null(http_start("127.0.0.1", -2, &r, NULL, err, sizeof err));
	assert_null(http_start("192.0.2.1", -1, &r, NULL, err, sizeof err)); /* not ours */
	assert_non_null(strstr(err, "192.0.2.1"));
}

static void localhost_and_ipv6_literals_bind(void **state)
{
	struct fake f = {0};
	http_routes r = {
	        .metrics = fake_metrics, .healthz = fake_healthz, .readyz = fake_readyz, .arg = &f};
	char err[256], out[8192], url[128];
	http_server *h;

	h = http_start("localhost", -1, &r, NULL, err, sizeof err);
	assert_non_null(h);
	url_of(url, sizeof url, http_port(h), "/healthz");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	http_stop(h);

	h = http_start("[::1]", -1, &r, NULL, err, sizeof err);
	if (h == NULL) {
		print_message("no IPv6 loopback here (%s); skipping the ::1 part\n", err);
		return;
	}
	snprintf(url, sizeof url, "http://[::1]:%d/healthz", http_port(h));
	assert_int_equal(run_curl(out, sizeof out, "-g", url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	http_stop(h);
}

static void stop_with_a_client_connected_returns_promptly_and_frees_every_fd(void **state)
{
	struct fake f = {0};
	http_routes r = {
	        .metrics = fake_metrics, .healthz = fake_healthz, .readyz = fake_readyz, .arg = &f};
	char err[256], out[8192];
	int fds_before = count_fds();
	http_server *h = http_start("127.0.0.1", -1, &r, NULL, err, sizeof err);
	int idle, partial;
	long long t0;

	assert_non_null(h);
	assert_still_serves(http_port(h));
	idle = connect_port(http_port(h));
	partial = connect_port(http_port(h));
	send_all(partial, "GET /metrics HTTP/1.1\r\nHost:", 28);
	usleep(100000); /* let MHD accept both */

	t0 = now_ms();
	http_stop(h);
	assert_true(now_ms() - t0 < 2000);
	/* Both clients see the connection end, without a response. */
	assert_true(recv(idle, out, sizeof out, 0) <= 0);
	assert_true(recv(partial, out, sizeof out, 0) <= 0);
	close(idle);
	close(partial);
	assert_int_equal(count_fds(), fds_before);
	http_stop(NULL);
}

/* ---- bearer tokens ---- */

static int auth_setup(void **state)
{
	struct srv *s = calloc(1, sizeof *s);
	http_routes r = {.metrics = fake_metrics,
	                 .healthz = fake_healthz,
	                 .readyz = fake_readyz,
	                 .authorize = fake_authorize};
	char err[256];

	assert_non_null(s);
	s->f.good_token = "s3cret.token-1";
	r.arg = &s->f;
	s->h = http_start("127.0.0.1", -1, &r, NULL, err, sizeof err);
	assert_non_null(s->h);
	*state = s;
	return 0;
}

/* GET /metrics with the raw Authorization header value hdr (NULL: none). */
static void get_metrics_with(int port, const char *hdr, char *out, size_t outlen)
{
	char req[1024];
	int n = snprintf(req, sizeof req,
	                 "GET /metrics HTTP/1.1\r\nHost: t\r\n%s%s%sConnection: close\r\n\r\n",
	                 hdr ? "Authorization: " : "", hdr ? hdr : "", hdr ? "\r\n" : "");

	raw_request(port, req, (size_t)n, out, outlen);
}

static void metrics_without_a_token_is_401_with_the_bearer_challenge(void **state)
{
	struct srv *s = *state;
	char out[8192];

	get_metrics_with(http_port(s->h), NULL, out, sizeof out);
	assert_int_equal(status_of(out), 401);
	assert_header(out, "WWW-Authenticate: Bearer realm=\"minidb\"");
	assert_string_equal(body_of(out), "authorization required\n");
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
	assert_int_equal(atomic_load(&s->f.auth_calls), 1);
	assert_true(s->f.token_was_null);
	assert_string_equal(s->f.last_addr, "127.0.0.1");
}

static void metrics_with_a_wrong_token_is_401_invalid_token_without_echoing_it(void **state)
{
	struct srv *s = *state;
	char out[8192];

	get_metrics_with(http_port(s->h), "Bearer wrong-but-secret-guess", out, sizeof out);
	assert_int_equal(status_of(out), 401);
	assert_header(out, "WWW-Authenticate: Bearer realm=\"minidb\", error=\"invalid_token\"");
	assert_null(strstr(out, "wrong-but-secret-guess"));
	assert_string_equal(s->f.last_token, "wrong-but-secret-guess");
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
}

static void metrics_with_the_right_token_in_any_scheme_case_is_served(void **state)
{
	struct srv *s = *state;
	char out[8192];
	static const char *const forms[] = {"Bearer s3cret.token-1", "bearer s3cret.token-1",
	                                    "BEARER   s3cret.token-1  "};

	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		get_metrics_with(http_port(s->h), forms[i], out, sizeof out);
		assert_int_equal(status_of(out), 200);
		assert_string_equal(body_of(out), METRICS_BODY);
	}
	assert_int_equal(atomic_load(&s->f.metrics_calls), 3);
}

static void another_scheme_or_an_empty_token_counts_as_no_token(void **state)
{
	struct srv *s = *state;
	char out[8192];
	static const char *const forms[] = {"Basic czNjcmV0LnRva2VuLTE=", "Bearer", "Bearer   ",
	                                    "Bearers3cret.token-1", "s3cret.token-1"};

	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		get_metrics_with(http_port(s->h), forms[i], out, sizeof out);
		assert_int_equal(status_of(out), 401);
		assert_header(out, "WWW-Authenticate: Bearer realm=\"minidb\"");
		assert_true(s->f.token_was_null);
	}
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
}

static void a_refusal_in_backoff_is_429(void **state)
{
	struct srv *s = *state;
	char out[8192];

	s->f.refuse_status = 429;
	get_metrics_with(http_port(s->h), "Bearer wrong", out, sizeof out);
	assert_int_equal(status_of(out), 429);
	assert_int_equal(atomic_load(&s->f.metrics_calls), 0);
}

static void healthz_and_readyz_never_ask_for_a_token(void **state)
{
	struct srv *s = *state;
	char out[8192], url[128];

	url_of(url, sizeof url, http_port(s->h), "/healthz");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	url_of(url, sizeof url, http_port(s->h), "/readyz");
	assert_int_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	assert_int_equal(atomic_load(&s->f.auth_calls), 0);
}

/* ---- HTTPS ---- */

static char *certdir;

/* certdir/name in a ring of buffers. */
static const char *cpath(const char *name)
{
	static char bufs[16][512];
	static int next;
	char *p = bufs[next++ % 16];

	snprintf(p, 512, "%s/%s", certdir, name);
	return p;
}

static int certs_setup(void **state)
{
	static const char san[] = "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
	char tmpl[512];
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(tmpl, sizeof tmpl, "%s/test_http.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		return -1;
	certdir = strdup(tmpl);
	if (certdir == NULL || tls_certs_make_ca(certdir, "ca", "/CN=http unit CA", NULL) != 0 ||
	    tls_certs_make_ca(certdir, "ca2", "/CN=http unit CA 2", NULL) != 0 ||
	    tls_certs_make_signed(certdir, "one", "ca", "/CN=localhost", san) != 0 ||
	    tls_certs_make_signed(certdir, "two", "ca2", "/CN=localhost", san) != 0)
		return -1;
	return 0;
}

static int certs_teardown(void **state)
{
	static const char *const names[] = {"ca.key",   "ca.pem",  "ca.srl",  "ca2.key", "ca2.pem",
	                                    "ca2.srl",  "one.key", "one.pem", "one.csr", "one.ext",
	                                    "two.key",  "two.pem", "two.csr", "two.ext", "live.pem",
	                                    "live.key", "bad.pem"};

	(void)state;
	if (certdir == NULL)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		unlink(cpath(names[i]));
	rmdir(certdir);
	free(certdir);
	return 0;
}

/* Copies certdir/from to certdir/to. */
static void copy_file(const char *from, const char *to)
{
	char data[8192], tmp[600];
	FILE *in = fopen(cpath(from), "rb");
	FILE *out;
	size_t n;

	snprintf(tmp, sizeof tmp, "%s.tmp", cpath(to));
	out = fopen(tmp, "wb");
	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(data, 1, sizeof data, in)) > 0)
		assert_int_equal(fwrite(data, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(rename(tmp, cpath(to)), 0);
}

/* curl https://127.0.0.1:port/healthz trusting ca: the HTTP status, or
 * -curl's exit status when no response came. */
static int https_healthz(int port, const char *ca)
{
	char out[8192], url[128];
	int rc;

	snprintf(url, sizeof url, "https://127.0.0.1:%d/healthz", port);
	rc = run_curl(out, sizeof out, "--cacert", cpath(ca), url, NULL);
	return rc == 0 ? status_of(out) : -rc;
}

static void https_serves_the_routes_and_plain_http_gets_nothing(void **state)
{
	struct fake f = {0};
	http_routes r = {
	        .metrics = fake_metrics, .healthz = fake_healthz, .readyz = fake_readyz, .arg = &f};
	http_tls tls = {cpath("one.pem"), cpath("one.key")};
	char err[256], out[8192], url[128];
	int fds_before = count_fds();
	http_server *h;

	(void)state;
	h = http_start("127.0.0.1", -1, &r, &tls, err, sizeof err);
	if (h == NULL)
		fail_msg("http_start: %s", err);
	assert_true(http_is_tls(h));
	assert_int_equal(https_healthz(http_port(h), "ca.pem"), 200);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/metrics", http_port(h));
	assert_int_equal(run_curl(out, sizeof out, "--cacert", cpath("ca.pem"), url, NULL), 0);
	assert_int_equal(status_of(out), 200);
	assert_string_equal(body_of(out), METRICS_BODY);
	/* Another CA: curl refuses the certificate (60). */
	assert_int_equal(https_healthz(http_port(h), "ca2.pem"), -60);
	/* Plain HTTP to the TLS port: no HTTP response. */
	url_of(url, sizeof url, http_port(h), "/healthz");
	assert_int_not_equal(run_curl(out, sizeof out, url, NULL), 0);
	assert_int_equal(status_of(out), -1);
	http_stop(h);
	assert_int_equal(count_fds(), fds_before);
}

static void a_missing_or_bad_certificate_fails_the_start_naming_the_file(void **state)
{
	struct fake f = {0};
	http_routes r = {
	        .metrics = fake_metrics, .healthz = fake_healthz, .readyz = fake_readyz, .arg = &f};
	http_tls none = {NULL, NULL};
	http_tls missing = {cpath("one.pem"), cpath("nope.key")};
	http_tls mismatch = {cpath("one.pem"), cpath("two.key")};
	http_tls bad = {cpath("bad.pem"), cpath("one.key")};
	char err[512];
	FILE *fp;
	int fds_before = count_fds();

	(void)state;
	assert_null(http_start("127.0.0.1", -1, &r, &none, err, sizeof err));
	assert_non_null(strstr(err, "--http-tls needs --tls-cert-file and --tls-key-file"));
	assert_null(http_start("127.0.0.1", -1, &r, &missing, err, sizeof err));
	assert_non_null(strstr(err, "--tls-key-file"));
	assert_non_null(strstr(err, "nope.key: No such file or directory"));
	assert_null(http_start("127.0.0.1", -1, &r, &mismatch, err, sizeof err));
	assert_non_null(strstr(err, "does not match the certificate"));
	fp = fopen(cpath("bad.pem"), "w");
	assert_non_null(fp);
	fputs("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n", fp);
	fclose(fp);
	assert_null(http_start("127.0.0.1", -1, &r, &bad, err, sizeof err));
	assert_non_null(strstr(err, "no PEM certificate could be read"));
	/* A good leaf followed by a broken chain certificate. */
	copy_file("one.pem", "bad.pem");
	fp = fopen(cpath("bad.pem"), "a");
	assert_non_null(fp);
	fputs("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", fp);
	fclose(fp);
	assert_null(http_start("127.0.0.1", -1, &r, &bad, err, sizeof err));
	assert_non_null(strstr(err, "a certificate after the first is malformed"));
	assert_int_equal(count_fds(), fds_before);
}

static void reload_swaps_the_certificate_on_the_same_port_and_keeps_it_on_error(void **state)
{
	struct fake f = {0};
	http_routes r = {
	        .metrics = fake_metrics, .healthz = fake_healthz, .readyz = fake_readyz, .arg = &f};
	http_tls tls = {cpath("live.pem"), cpath("live.key")};
	char err[512];
	int fds_before = count_fds(), port;
	http_server *h;

	(void)state;
	copy_file("one.pem", "live.pem");
	copy_file("one.key", "live.key");
	h = http_start("127.0.0.1", -1, &r, &tls, err, sizeof err);
	assert_non_null(h);
	port = http_port(h);
	assert_int_equal(https_healthz(port, "ca.pem"), 200);

	/* The same files: nothing to do. */
	assert_int_equal(http_reload_tls(h, &tls, err, sizeof err), 0);
	/* New files: served at once on the same port. */
	copy_file("two.pem", "live.pem");
	copy_file("two.key", "live.key");
	assert_int_equal(http_reload_tls(h, &tls, err, sizeof err), 1);
	assert_int_equal(http_port(h), port);
	assert_int_equal(https_healthz(port, "ca2.pem"), 200);
	assert_int_equal(https_healthz(port, "ca.pem"), -60);
	/* A key that does not match: refused, the current pair stays. */
	copy_file("one.key", "live.key");
	assert_int_equal(http_reload_tls(h, &tls, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "does not match the certificate"));
	assert_int_equal(https_healthz(port, "ca2.pem"), 200);
	/* Turning TLS off needs a restart. */
	assert_int_equal(http_reload_tls(h, NULL, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "restart"));
	assert_int_equal(https_healthz(port, "ca2.pem"), 200);
	http_stop(h);
	assert_int_equal(count_fds(), fds_before);
}

static void reload_of_a_plain_server_asks_for_a_restart(void **state)
{
	struct srv *s = *state;
	http_tls tls = {cpath("one.pem"), cpath("one.key")};
	char err[256];

	assert_false(http_is_tls(s->h));
	assert_int_equal(http_reload_tls(s->h, &tls, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "restart"));
	assert_still_serves(http_port(s->h));
}

#define SRV_TEST(fn)  cmocka_unit_test_setup_teardown(fn, srv_setup, srv_teardown)
#define AUTH_TEST(fn) cmocka_unit_test_setup_teardown(fn, auth_setup, srv_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        SRV_TEST(metrics_returns_the_exposition_with_its_content_type_to_curl),
	        SRV_TEST(healthz_returns_json_ok_to_curl),
	        SRV_TEST(readyz_returns_200_when_ready_and_503_with_a_reason_when_not),
	        SRV_TEST(a_query_string_is_ignored),
	        SRV_TEST(an_unknown_path_is_404),
	        cmocka_unit_test(a_route_without_a_callback_is_404),
	        SRV_TEST(a_callback_status_out_of_range_is_sent_as_500),
	        SRV_TEST(head_has_the_headers_and_content_length_but_no_body),
	        SRV_TEST(post_with_a_body_is_405_with_allow_and_never_reaches_a_callback),
	        SRV_TEST(get_with_a_body_is_413),
	        SRV_TEST(a_garbage_request_line_gets_400_or_a_close),
	        SRV_TEST(an_oversized_header_gets_431_or_413),
	        cmocka_unit_test(a_stalled_request_is_closed_by_the_configured_timeout),
	        cmocka_unit_test(connections_over_the_configured_limit_are_refused),
	        SRV_TEST(a_kept_alive_connection_serves_pipelined_requests),
	        SRV_TEST(concurrent_requests_from_several_threads_all_succeed),
	        SRV_TEST(a_slow_metrics_callback_does_not_block_healthz),
	        cmocka_unit_test(starting_on_a_busy_port_fails_with_a_clear_error),
	        cmocka_unit_test(a_bad_bind_address_or_port_fails_with_a_clear_error),
	        cmocka_unit_test(localhost_and_ipv6_literals_bind),
	        cmocka_unit_test(stop_with_a_client_connected_returns_promptly_and_frees_every_fd),
	        AUTH_TEST(metrics_without_a_token_is_401_with_the_bearer_challenge),
	        AUTH_TEST(metrics_with_a_wrong_token_is_401_invalid_token_without_echoing_it),
	        AUTH_TEST(metrics_with_the_right_token_in_any_scheme_case_is_served),
	        AUTH_TEST(another_scheme_or_an_empty_token_counts_as_no_token),
	        AUTH_TEST(a_refusal_in_backoff_is_429),
	        AUTH_TEST(healthz_and_readyz_never_ask_for_a_token),
	        cmocka_unit_test(https_serves_the_routes_and_plain_http_gets_nothing),
	        cmocka_unit_test(a_missing_or_bad_certificate_fails_the_start_naming_the_file),
	        cmocka_unit_test(
	                reload_swaps_the_certificate_on_the_same_port_and_keeps_it_on_error),
	        SRV_TEST(reload_of_a_plain_server_asks_for_a_restart),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, certs_setup, certs_teardown);
}
