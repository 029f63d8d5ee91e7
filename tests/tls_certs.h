/* tls_certs.h - test certificates made at test time with the openssl
 * command: a self-signed CA and keys and certificates signed by it (EC P-256,
 * a subject, an optional extension line such as a SAN), written into a given
 * directory as <name>.key and <name>.pem. Nothing secret is committed.
 *
 * Hand-written because it only strings together a few openssl command runs
 * (fork/exec, no shell, a bounded wait). Header-only (everything static
 * inline, so a file that uses only some of it does not warn) because unit
 * and integration tests are built without a shared test library. Plain
 * helpers: they return -1 on failure (printing openssl's stderr) and never
 * call into cmocka.
 */
#ifndef MINIDB_TEST_TLS_CERTS_H
#define MINIDB_TEST_TLS_CERTS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long one openssl run may take before it is killed. */
#define TLS_CERTS_TIMEOUT_MS 60000

static inline long long tls_certs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs `openssl args...` (args NULL-terminated, at most 38) with stdin and
 * stdout on /dev/null, for at most TLS_CERTS_TIMEOUT_MS. Returns its exit
 * status, or -1 if it could not run, died or was killed at the deadline;
 * on a failure its stderr (the first 4 KiB) is printed. */
static inline int tls_certs_openssl_argv(const char *const args[])
{
	const char *argv[40];
	int n = 0;
	argv[n++] = "openssl";
	for (int i = 0; args[i] != NULL && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int errpipe[2];
	if (pipe(errpipe) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(errpipe[0]);
		close(errpipe[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(errpipe[1], 2);
		close(errpipe[0]);
		execvp("openssl", (char *const *)argv);
		_exit(127);
	}
	close(errpipe[1]);
	char err[4096];
	size_t err_len = 0;
	int open_pipe = 1, st = 0, done = 0;
	long long deadline = tls_certs_now_ms() + TLS_CERTS_TIMEOUT_MS;
	while (!done && tls_certs_now_ms() < deadline) {
		if (open_pipe) {
			struct pollfd p = {errpipe[0], POLLIN, 0};
			if (poll(&p, 1, 10) > 0) {
				char buf[512];
				ssize_t r = read(errpipe[0], buf, sizeof buf);
				if (r > 0 && err_len < sizeof err - 1) {
					size_t k = (size_t)r < sizeof err - 1 - err_len
					                   ? (size_t)r
					                   : sizeof err - 1 - err_len;
					memcpy(err + err_len, buf, k);
					err_len += k;
				} else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
					open_pipe = 0;
				}
			}
		} else {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (!open_pipe)
			done = waitpid(pid, &st, WNOHANG) == pid;
	}
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(errpipe[0]);
	err[err_len] = 0;
	int status = done && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (status != 0)
		fprintf(stderr, "openssl %s: %s%s\n", args[0],
		        done ? "failed" : "killed at the deadline", err_len ? "\n" : "");
	if (status != 0 && err_len)
		fputs(err, stderr);
	return status;
}

/* The same with the arguments listed (NULL-terminated). */
static inline int tls_certs_openssl(const char *first, ...)
{
	const char *args[40];
	int n = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a != NULL && n < 39; a = va_arg(ap, const char *))
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	return tls_certs_openssl_argv(args);
}

/* dir/name followed by suffix into out (size n); -1 if it does not fit. */
static inline int tls_certs_path(char *out, size_t n, const char *dir, const char *name,
                                 const char *suffix)
{
	int len = snprintf(out, n, "%s/%s%s", dir, name, suffix);
	return len >= 0 && (size_t)len < n ? 0 : -1;
}

/* A self-signed CA in dir: name.key (P-256) and name.pem for subject, valid
 * two days, with the extension line addext added when not NULL. */
static inline int tls_certs_make_ca(const char *dir, const char *name, const char *subject,
                                    const char *addext)
{
	char key[4096], crt[4096];
	if (tls_certs_path(key, sizeof key, dir, name, ".key") != 0 ||
	    tls_certs_path(crt, sizeof crt, dir, name, ".pem") != 0)
		return -1;
	if (addext != NULL)
		return tls_certs_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
		                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
		                         "-out", crt, "-days", "2", "-subj", subject, "-addext",
		                         addext, NULL);
	return tls_certs_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
	                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
	                         "-days", "2", "-subj", subject, NULL);
}

/* name.key (P-256) and name.pem in dir for subject, signed by the CA
 * ca.key/ca.pem in dir, valid two days, with the x509 extension lines ext
 * (written to name.ext) when not NULL. */
static inline int tls_certs_make_signed(const char *dir, const char *name, const char *ca,
                                        const char *subject, const char *ext)
{
	char key[4096], csr[4096], crt[4096], extf[4096], cak[4096], cap[4096];
	if (tls_certs_path(key, sizeof key, dir, name, ".key") != 0 ||
	    tls_certs_path(csr, sizeof csr, dir, name, ".csr") != 0 ||
	    tls_certs_path(crt, sizeof crt, dir, name, ".pem") != 0 ||
	    tls_certs_path(extf, sizeof extf, dir, name, ".ext") != 0 ||
	    tls_certs_path(cak, sizeof cak, dir, ca, ".key") != 0 ||
	    tls_certs_path(cap, sizeof cap, dir, ca, ".pem") != 0)
		return -1;
	if (tls_certs_openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	                      "-nodes", "-keyout", key, "-out", csr, "-subj", subject, NULL) != 0)
		return -1;
	if (ext == NULL)
		return tls_certs_openssl("x509", "-req", "-in", csr, "-CA", cap, "-CAkey", cak,
		                         "-CAcreateserial", "-days", "2", "-out", crt, NULL);
	FILE *fp = fopen(extf, "w");
	if (fp == NULL)
		return -1;
	int werr = fputs(ext, fp) < 0;
	if (fclose(fp) != 0 || werr)
		return -1;
	return tls_certs_openssl("x509", "-req", "-in", csr, "-CA", cap, "-CAkey", cak,
	                         "-CAcreateserial", "-days", "2", "-out", crt, "-extfile", extf,
	                         NULL);
}

#endif
