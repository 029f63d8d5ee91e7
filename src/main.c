/* main.c - wires the subsystems together: configuration, logging, the data
 * directory, the store and the server; handles signals and exit codes.
 *
 * Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 1 on a runtime
 * failure (cannot listen, cannot lock the data dir), 2 on a configuration
 * error. Signals are blocked in every thread and taken synchronously here with
 * sigwait, so no handler runs inside a worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "observe.h"
#include "persist.h"
#include "security.h"
#include "server.h"
#include "store.h"
#include "tls.h"

/* mkdir -p for the data dir. Returns 0 or -errno. */
static int make_dirs(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Takes an exclusive lock on DATA_DIR/LOCK so that two servers never share a
 * data directory. Returns the fd (kept open for the process's life) or -errno. */
static int lock_data_dir(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/LOCK", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && write(fd, pid, (size_t)len) < 0)
		log_warn("main", "cannot write pid to lock file", LF_S("error", strerror(errno)));
	return fd;
}

/* Raises the open-file limit so max_clients can be honoured; lowers
 * max_clients (with a warning) if the hard limit is too small. */
static void fit_fd_limit(config *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = (rlim_t)cfg->max_clients + 64;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want) {
		int fit = rl.rlim_cur > 64 ? (int)(rl.rlim_cur - 64) : 1;
		log_warn("main", "open file limit too low for max_clients; lowering max_clients",
		         LF_I("max_clients", fit), LF_U("nofile_limit", rl.rlim_cur));
		cfg->max_clients = fit;
	}
}

/* Polled by the replay: has SIGINT or SIGTERM arrived (they are blocked
 * and taken by sigwait below)? */
static int stop_requested(void)
{
	sigset_t pend;
	if (sigpending(&pend) != 0)
		return 0;
	return sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGTERM) == 1;
}

static int is_loopback(const char *addr)
{
	return strcmp(addr, "localhost") == 0 || strncmp(addr, "127.", 4) == 0 ||
	       strcmp(addr, "::1") == 0;
}

/* SIGHUP: reads the config file and flags again and applies what can change
 * while running: credentials (removed or changed tokens are revoked and
 * their connections closed) and the TLS certificate, key and CAs. Other
 * settings need a restart. A bad file changes nothing. */
static void reload(int argc, char **argv, security_t *sec, server_t *srv, http_server *http)
{
	config cfg;
	char err[512];
	/* First, so that the lines below land in the new file. */
	int lrc = log_reopen();
	if (lrc < 0)
		log_error("main", "reload: cannot reopen the log file; still writing the old one",
		          LF_S("log_file", log_file_path()), LF_S("error", strerror(-lrc)));
	config_defaults(&cfg);
	int rc = config_load(&cfg, argc, argv, err, sizeof(err));
	if (rc != CONFIG_OK) {
		log_error("main", "reload: the configuration is invalid; nothing changed",
		          LF_S("error",
		               rc == CONFIG_ERROR ? err : "unexpected help or version flag"));
		config_free(&cfg);
		return;
	}
	if (security_reload(sec, &cfg, err, sizeof(err)) != 0) {
		log_error("main", "reload: credentials refused; nothing changed",
		          LF_S("error", err));
		config_free(&cfg);
		return;
	}
	rc = server_tls_reload(srv, &cfg, err, sizeof(err));
	if (rc != 0)
		log_error("main", "reload: TLS certificates refused; the old ones stay in use",
		          LF_S("error", err));
	/* The HTTPS endpoint's certificate: swapped only when the files changed. */
	if (http && (http_is_tls(http) || cfg.http_tls)) {
		http_tls htls = {.cert_file = cfg.tls_cert_file, .key_file = cfg.tls_key_file};
		int hrc = http_reload_tls(http, cfg.http_tls ? &htls : NULL, err, sizeof(err));
		if (hrc < 0)
			log_error("main",
			          "reload: HTTPS certificate refused; the old one stays in use",
			          LF_S("error", err), LF_I("port", http_port(http)));
		else if (hrc == 1)
			log_info("main", "reload: the HTTP endpoint serves the new certificate",
			         LF_I("port", http_port(http)));
	}
	server_revalidate_all(srv);
	log_info("main", "reloaded", LF_U("credentials_generation", security_generation(sec)),
	         LF_S("tls", !cfg.tls && cfg.tls_port < 0 ? "off"
	                     : rc == 0                    ? "reloaded"
	                                                  : "unchanged"));
	config_free(&cfg);
}

int main(int argc, char **argv)
{
	config cfg;
	char err[512];
	config_defaults(&cfg);
	int rc = config_load(&cfg, argc, argv, err, sizeof(err));
	if (rc == CONFIG_EXIT) {
		config_free(&cfg);
		return 0;
	}
	if (rc != CONFIG_OK) {
		fprintf(stderr, "minidb: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	log_init(cfg.log_level, cfg.log_format, STDERR_FILENO);
	if (cfg.log_file) {
		rc = log_open_file(cfg.log_file);
		if (rc < 0) {
			fprintf(stderr, "minidb: --log-file %s: %s\n", cfg.log_file, strerror(-rc));
			config_free(&cfg);
			return 2;
		}
	}

	/* TLS files are checked here too, so a bad certificate is a configuration
	 * error (exit 2) like any other, before anything starts. */
	if (cfg.tls || cfg.tls_port >= 0) {
		SSL_CTX *probe = tls_ctx_create(&cfg, err, sizeof(err));
		if (!probe) {
			fprintf(stderr, "minidb: %s\n", err);
			config_free(&cfg);
			return 2;
		}
		SSL_CTX_free(probe);
	}
	security_t *sec = security_create(&cfg, err, sizeof(err));
	if (!sec) {
		fprintf(stderr, "minidb: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	/* --http-auth checks bearer tokens against the client port's
	 * credentials, whether or not the client port asks for them. */
	if (cfg.http_port != 0 && cfg.http_auth && !cfg.auth_token && cfg.ntokens == 0 &&
	    !cfg.jwt_secret && !cfg.jwt_secret_file && !cfg.jwt_public_key_file &&
	    !cfg.jwt_jwks_file) {
		fprintf(stderr, "minidb: --http-auth (metrics.auth) needs a credential to check: "
		                "security.auth_token, security.tokens or a JWT key\n");
		security_free(sec);
		config_free(&cfg);
		return 2;
	}
	if (!cfg.auth_enabled &&
	    (cfg.auth_token || cfg.ntokens > 0 || cfg.jwt_secret || cfg.jwt_secret_file ||
	     cfg.jwt_public_key_file || cfg.jwt_jwks_file))
		log_warn("main", "credentials are configured but security.auth_enabled is false: "
		                 "clients are not asked for them");

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	int exit_code = 1;
	int lock_fd = -1;
	store_t *store = NULL;
	server_t *srv = NULL;
	persist_t *persist = NULL;
	observe_t *obs = NULL;
	http_server *http = NULL;

	rc = make_dirs(cfg.data_dir);
	if (rc < 0) {
		log_error("main", "cannot create data directory", LF_S("data_dir", cfg.data_dir),
		          LF_S("error", strerror(-rc)));
		goto out;
	}
	lock_fd = lock_data_dir(cfg.data_dir);
	if (lock_fd < 0) {
		log_error("main", "cannot lock data directory (is another minidb using it?)",
		          LF_S("data_dir", cfg.data_dir), LF_S("error", strerror(-lock_fd)));
		goto out;
	}
	fit_fd_limit(&cfg);

	store_config scfg = {
	        .max_key_bytes = cfg.max_key_bytes,
	        .max_value_bytes = cfg.max_value_bytes,
	};
	store = store_create(&scfg);
	if (!store) {
		log_error("main", "cannot create the store");
		goto out;
	}
	store_set_maxmemory(store, cfg.maxmemory, cfg.maxmemory_policy);

	log_info("main", "starting", LF_S("version", MINIDB_VERSION), LF_S("commit", MINIDB_COMMIT),
	         LF_S("data_dir", cfg.data_dir), LF_I("pid", getpid()));
	if (!is_loopback(cfg.bind) && !cfg.auth_enabled &&
	    cfg.tls_client_auth != CONFIG_TLS_CLIENT_REQUIRED)
		log_warn("main",
		         "listening on a non-loopback address without authentication: "
		         "anyone who can reach this port can read and change all data",
		         LF_S("bind", cfg.bind));

	persist = persist_create(&cfg, store);
	if (!persist) {
		log_error("main", "out of memory");
		goto out;
	}
	/* Clients are served -LOADING while the log is replayed, as Redis does;
	 * SIGINT/SIGTERM during the replay stop it. */
	srv = server_create(&cfg, store, persist);
	if (srv)
		server_set_security(srv, sec);
	if (!srv || server_start(srv) != 0)
		goto out;
	persist_set_notify(persist, server_wake_all, srv);
	/* /readyz answers 503 until the data set is loaded. */
	if (cfg.http_port != 0) {
		obs = observe_create(srv, store, persist, sec);
		http_routes routes = {.metrics = observe_metrics,
		                      .healthz = observe_healthz,
		                      .readyz = observe_readyz,
		                      .arg = obs,
		                      .authorize = cfg.http_auth ? observe_authorize : NULL,
		                      .max_connections = (unsigned)cfg.http_max_connections,
		                      .timeout_s = (unsigned)cfg.http_timeout};
		http_tls htls = {.cert_file = cfg.tls_cert_file, .key_file = cfg.tls_key_file};
		if (obs)
			http = http_start(cfg.http_bind, cfg.http_port, &routes,
			                  cfg.http_tls ? &htls : NULL, err, sizeof(err));
		if (!obs || !http) {
			log_error("main",
			          "cannot start the HTTP endpoint (--http-port 0 turns it off)",
			          LF_S("error", obs ? err : "out of memory"),
			          LF_S("bind", cfg.http_bind), LF_I("port", cfg.http_port));
			/* A message naming a flag is a configuration error. */
			exit_code = obs && strncmp(err, "--", 2) == 0 ? 2 : 1;
			goto out;
		}
		log_info("server", "listening", LF_S("listener", "http"),
		         LF_S("bind", cfg.http_bind), LF_I("port", http_port(http)),
		         LF_B("tls", cfg.http_tls), LF_B("auth", cfg.http_auth));
	}
	rc = persist_load(persist, stop_requested, err, sizeof(err));
	if (rc == -ECANCELED) {
		log_info("main", "loading interrupted by a signal; shutting down");
		exit_code = 0;
		goto out;
	}
	if (rc < 0) {
		log_error("main", "cannot load the data; refusing to start", LF_S("error", err),
		          LF_S("data_dir", cfg.data_dir));
		goto out;
	}
	log_info("main", "ready", LF_I("port", server_port(srv)));

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(argc, argv, sec, srv, http);
			continue;
		}
		log_info("main", "shutting down",
		         LF_S("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
		break;
	}
	http_stop(http);
	http = NULL;
	server_shutdown(srv);
	server_wait(srv);
	/* Every worker has stopped: nothing appends any more. */
	exit_code = persist_close(persist) == 0 ? 0 : 1;
	log_info("main", "stopped", LF_U("keys", store_count(store)));
out:
	http_stop(http);
	observe_free(obs);
	if (srv) {
		server_shutdown(srv);
		server_wait(srv);
	}
	persist_free(persist);
	server_free(srv);
	store_free(store);
	security_free(sec);
	if (lock_fd >= 0)
		close(lock_fd);
	config_free(&cfg);
	return exit_code;
}
