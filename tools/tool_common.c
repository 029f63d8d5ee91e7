/* tool_common.c - the pieces minidb-cli, minidb-bench and minidb-parquet
 * share (see tool_common.h): deadlines on the monotonic clock, connecting
 * with a bound on the wait, non-blocking sends, buffer growth and option
 * parsing. libc only, never src/ headers, so each tool stays standalone.
 * Every wait goes through poll(2) with the time left, so one --timeout
 * bounds a connect over all the addresses a name resolves to.
 */
#include "tool_common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t tool_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tool_deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : tool_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

int tool_ms_left(uint64_t deadline_ns)
{
	uint64_t now, ms;

	if (deadline_ns == 0)
		return -1;
	now = tool_now_ns();
	if (now >= deadline_ns)
		return 0;
	ms = (deadline_ns - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int tool_wait_fd(int fd, short events, uint64_t deadline_ns)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int rc;

	for (;;) {
		rc = poll(&pfd, 1, tool_ms_left(deadline_ns));
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int tool_connect_addr(const struct addrinfo *ai, uint64_t deadline_ns, int *err)
{
	socklen_t len = sizeof(*err);
	int fd, rc, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			*err = errno;
			goto fail;
		}
		rc = tool_wait_fd(fd, POLLOUT, deadline_ns);
		if (rc <= 0) {
			*err = rc == 0 ? ETIMEDOUT : errno;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) < 0)
			*err = errno;
		if (*err != 0)
			goto fail;
	}
	/* Small requests and replies: do not let Nagle hold them back. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return -1;
}

int tool_connect(const char *prog, const char *host, const char *port, uint64_t deadline_ns,
                 struct addrinfo **res, const struct addrinfo **used)
{
	struct addrinfo hints = {0}, *list, *ai;
	int fd = -1, rc, err = ECONNREFUSED;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &list);
	if (rc != 0) {
		fprintf(stderr, "%s: cannot resolve %s: %s\n", prog, host, gai_strerror(rc));
		return -1;
	}
	for (ai = list; ai != NULL; ai = ai->ai_next) {
		fd = tool_connect_addr(ai, deadline_ns, &err);
		if (fd >= 0 || err == ETIMEDOUT)
			break; /* the one deadline covers all addresses */
	}
	if (fd < 0) {
		fprintf(stderr, "%s: cannot connect to %s port %s: %s\n", prog, host, port,
		        strerror(err));
		freeaddrinfo(list);
		return -1;
	}
	if (res != NULL) {
		*res = list;
		*used = ai;
	} else {
		freeaddrinfo(list);
	}
	return fd;
}

int tool_send_avail(int fd, const char *buf, size_t len, size_t *off)
{
	ssize_t n;

	while (*off < len) {
		n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);
		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n == 0)
			return EIO;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return errno;
	}
	return 0;
}

int tool_buf_grow(char **buf, size_t *cap, size_t need, size_t first_cap)
{
	size_t c = *cap ? *cap : first_cap;
	char *p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c = c > SIZE_MAX / 2 ? need : c * 2;
	p = realloc(*buf, c);
	if (p == NULL)
		return -1;
	*buf = p;
	*cap = c;
	return 0;
}

size_t tool_match_opt(const char *a, const char *shortname, const char *longname)
{
	size_t n;

	if (shortname != NULL && strncmp(a, shortname, 2) == 0)
		return 2;
	if (longname == NULL)
		return 0;
	n = strlen(longname);
	if (strncmp(a, longname, n) == 0 && (a[n] == '\0' || a[n] == '='))
		return n;
	return 0;
}

char *tool_opt_value(int argc, char **argv, int *i, size_t n)
{
	char *a = argv[*i];

	if (a[n] == '=' && a[1] == '-')
		return a + n + 1;
	if (a[n] != '\0')
		return a + n;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

int tool_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int tool_parse_seconds(const char *s, double max_s, double *out)
{
	char *end;
	double v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= max_s))
		return -1;
	*out = v;
	return 0;
}

int tool_parse_timeout_ms(const char *s, int *ms)
{
	double v;

	if (tool_parse_seconds(s, 1e6, &v) < 0)
		return -1;
	if (v == 0) {
		*ms = -1;
		return 0;
	}
	v = ceil(v * 1000);
	*ms = v < 1 ? 1 : (int)v;
	return 0;
}

int tool_usage_error(const char *prog, const char *what, const char *problem, int status)
{
	fprintf(stderr, "%s: %s: %s\nTry '%s --help'.\n", prog, what, problem, prog);
	return status;
}
