/* server.c - the client listener and the worker threads.
 *
 * One listening socket is shared by every worker's epoll set with
 * EPOLLEXCLUSIVE, so the kernel wakes one worker per incoming connection and
 * the worker that accepts it owns it for life. (SO_REUSEPORT with one socket
 * per worker was rejected: its hash balancing strands queued connections of a
 * closed socket at shutdown and cannot rebalance around a busy thread.)
 * Shutdown: server_shutdown sets a flag and wakes every loop; each worker then
 * stops watching the listener, drains its connections, and leaves its loop
 * when the last one closed or --shutdown-timeout passed.
 * TLS: the client port itself (--tls) or a second listener (--tls-port)
 * hands its connections to conn_create with the current SSL_CTX, which a
 * reload replaces under tls_lock (each SSL keeps a reference to the context
 * it was made from, so live connections keep their certificate).
 * Lock order: tls_lock and a worker's inbox lock are leaves; neither is held
 * while taking another.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "persist.h"
#include "slowlog.h"
#include "loop.h"
#include "tls.h"

#define ACCEPT_BATCH 64

/* Active expiry: every EXPIRE_PERIOD_MS each worker spends at most
 * EXPIRE_BUDGET_US sampling keys with a TTL (about 5% of one core at most),
 * so expired keys nobody reads do not sit in memory. */
#define EXPIRE_PERIOD_MS 100
#define EXPIRE_BUDGET_US 5000

/* The listeners: the client port, and the optional second (TLS) port. */
enum { L_MAIN = 0, L_TLS = 1, L_COUNT = 2 };

typedef struct listener {
	int fd; /* -1: not open */
	int port;
	int tls;
} listener;

/* An accepted socket and whether it speaks TLS. */
typedef struct handoff_fd {
	int fd;
	int tls;
} handoff_fd;

/* Accepted sockets handed to another worker wait here until its loop wakes. */
typedef struct handoff {
	pthread_mutex_t lock;
	handoff_fd *fds;
	size_t n, cap;
} handoff;

typedef struct worker {
	server_t *srv;
	conn_worker cw;
	handoff inbox;
	loop_io listen_io[L_COUNT]; /* index = listener */
	loop_timer deadline;
	loop_timer expire;
	pthread_t thread;
	atomic_int revalidate;         /* server_revalidate_all asked for a pass */
	_Atomic uint64_t last_turn_ms; /* monotonic ms at the end of its last loop turn */
	int started;
	int stopping;
} worker;

struct server {
	const config *cfg;
	store_t *store;
	struct persist *persist;
	struct security *sec;
	listener lst[L_COUNT];
	int port;
	pthread_mutex_t tls_lock; /* guards tls_ctx (the pointer) */
	SSL_CTX *tls_ctx;         /* NULL: no TLS listener */
	int nworkers;
	worker *workers;
	atomic_int nclients;
	_Atomic uint64_t next_id;
	atomic_int stop;
	int64_t start_ms;
	_Atomic unsigned next_worker; /* round-robin placement of new connections */
	slowlog *slow;                /* SLOWLOG's ring (--slowlog-max-len) */
};

static void reject(worker *wk, int fd, int tls)
{
	/* A TLS client would take the text for a broken record: just close. */
	static const char msg[] = "ERROR: max number of clients reached\n";
	if (!tls) {
		ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)n;
	}
	close(fd);
	atomic_fetch_add_explicit(&wk->cw.stats.rejected_maxclients, 1, memory_order_relaxed);
}

/* The current TLS context with a reference for the caller (SSL_CTX_free). */
static SSL_CTX *tls_ctx_get(server_t *s)
{
	pthread_mutex_lock(&s->tls_lock);
	SSL_CTX *ctx = s->tls_ctx;
	if (ctx)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&s->tls_lock);
	return ctx;
}

/* Starts serving fd on worker wk (its own thread). */
static void adopt(worker *wk, int fd, int tls)
{
	SSL_CTX *ctx = tls ? tls_ctx_get(wk->srv) : NULL;
	int rc = conn_create(&wk->cw, fd, ctx);
	SSL_CTX_free(ctx);
	if (rc != 0) {
		atomic_fetch_sub_explicit(&wk->srv->nclients, 1, memory_order_relaxed);
		log_error("server", "could not set up a connection");
	}
}

/* Queues fd for worker to (another thread) and wakes its loop. */
static void hand_off(worker *to, int fd, int tls)
{
	handoff *h = &to->inbox;
	pthread_mutex_lock(&h->lock);
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		handoff_fd *fds = realloc(h->fds, cap * sizeof(*fds));
		if (!fds) {
			pthread_mutex_unlock(&h->lock);
			close(fd);
			atomic_fetch_sub_explicit(&to->srv->nclients, 1, memory_order_relaxed);
			log_error("server", "out of memory handing off a connection");
			return;
		}
		h->fds = fds;
		h->cap = cap;
	}
	h->fds[h->n++] = (handoff_fd){.fd = fd, .tls = tls};
	pthread_mutex_unlock(&h->lock);
	loop_wake(to->cw.loop);
}

/* Adopts every socket other workers handed to wk (on wk's thread). When the
 * server is stopping they are closed instead: they were never served. */
static void drain_inbox(worker *wk)
{
	handoff *h = &wk->inbox;
	handoff_fd fds[64];
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&h->lock);
		while (n < 64 && h->n > 0)
			fds[n++] = h->fds[--h->n];
		pthread_mutex_unlock(&h->lock);
		if (n == 0)
			return;
		for (size_t i = 0; i < n; i++) {
			if (wk->stopping) {
				close(fds[i].fd);
				atomic_fetch_sub_explicit(&wk->srv->nclients, 1,
				                          memory_order_relaxed);
			} else {
				adopt(wk, fds[i].fd, fds[i].tls);
			}
		}
	}
}

/* The kernel wakes one worker per readiness of the shared listener
 * (EPOLLEXCLUSIVE), and a burst of connections would all land on it. So
 * connections are placed round-robin: the accepting worker keeps those that
 * fall to it and hands the others over (memcached's dispatcher does the
 * same). A connection then stays on its worker for life. */
static void on_accept(loop_t *l, loop_io *io, unsigned events)
{
	worker *wk = io->arg;
	server_t *s = wk->srv;
	const listener *ls = &s->lst[io - wk->listen_io];
	(void)l;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				log_warn("server", "accept: out of file descriptors",
				         LF_S("error", strerror(errno)));
			else if (errno != EAGAIN)
				log_warn("server", "accept failed", LF_S("error", strerror(errno)));
			return;
		}
		int n = atomic_fetch_add_explicit(&s->nclients, 1, memory_order_relaxed) + 1;
		if (n > s->cfg->max_clients) {
			atomic_fetch_sub_explicit(&s->nclients, 1, memory_order_relaxed);
			reject(wk, fd, ls->tls);
			log_warn("server", "max number of clients reached, connection refused",
			         LF_I("max_clients", s->cfg->max_clients), LF_B("tls", ls->tls));
			continue;
		}
		unsigned t = atomic_fetch_add_explicit(&s->next_worker, 1, memory_order_relaxed) %
		             (unsigned)s->nworkers;
		if (&s->workers[t] == wk)
			adopt(wk, fd, ls->tls);
		else
			hand_off(&s->workers[t], fd, ls->tls);
	}
}

static void worker_finish_if_idle(worker *wk)
{
	if (wk->stopping && wk->cw.nconns == 0)
		loop_stop(wk->cw.loop);
}

static void on_deadline(loop_t *l, loop_timer *t)
{
	worker *wk = t->arg;
	(void)l;
	if (wk->cw.nconns > 0)
		log_warn("server", "shutdown timeout: closing remaining connections",
		         LF_I("worker", wk->cw.id), LF_U("connections", wk->cw.nconns));
	conn_worker_close_all(&wk->cw);
	loop_stop(wk->cw.loop);
}

static void on_expire(loop_t *l, loop_timer *t)
{
	worker *wk = t->arg;
	store_expire_cycle(wk->srv->store, EXPIRE_BUDGET_US);
	loop_timer_set(l, t, loop_now_ms(l) + EXPIRE_PERIOD_MS);
}

static void on_wake(loop_t *l, void *arg)
{
	worker *wk = arg;
	drain_inbox(wk);
	if (atomic_exchange(&wk->revalidate, 0))
		conn_worker_revalidate(&wk->cw);
	if (!atomic_load(&wk->srv->stop) || wk->stopping)
		return;
	wk->stopping = 1;
	for (int i = 0; i < L_COUNT; i++)
		if (wk->srv->lst[i].fd >= 0)
			loop_io_del(l, &wk->listen_io[i]);
	conn_worker_drain(&wk->cw);
	loop_timer_set(l, &wk->deadline,
	               loop_now_ms(l) + (uint64_t)wk->srv->cfg->shutdown_timeout * 1000u);
}

static void before_sleep(loop_t *l, void *arg)
{
	worker *wk = arg;
	atomic_store_explicit(&wk->last_turn_ms, loop_now_ms(l), memory_order_relaxed);
	conn_worker_before_sleep(&wk->cw);
	worker_finish_if_idle(wk);
}

static void *worker_main(void *arg)
{
	worker *wk = arg;
	int rc = loop_run(wk->cw.loop);
	if (rc < 0)
		log_error("server", "event loop failed", LF_I("worker", wk->cw.id),
		          LF_S("error", strerror(-rc)));
	conn_worker_close_all(&wk->cw);
	conn_worker_before_sleep(&wk->cw); /* frees the closed connections */
	return NULL;
}

server_t *server_create(const config *cfg, store_t *store, struct persist *persist)
{
	server_t *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = cfg;
	s->store = store;
	s->persist = persist;
	for (int i = 0; i < L_COUNT; i++)
		s->lst[i].fd = -1;
	s->slow = slowlog_create((size_t)cfg->slowlog_max_len);
	if (!s->slow || pthread_mutex_init(&s->tls_lock, NULL) != 0) {
		slowlog_free(s->slow);
		free(s);
		return NULL;
	}
	atomic_init(&s->nclients, 0);
	atomic_init(&s->next_id, 1);
	atomic_init(&s->stop, 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->start_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return s;
}

size_t server_conn_workers(server_t *s, const conn_worker **out, size_t cap)
{
	size_t n = 0;
	for (int i = 0; i < s->nworkers && n < cap; i++)
		out[n++] = &s->workers[i].cw;
	return n;
}

int server_alive(server_t *s, uint64_t max_age_ms, char *why, size_t whylen)
{
	uint64_t now = loop_clock_ms();
	for (int i = 0; i < s->nworkers; i++) {
		uint64_t t =
		        atomic_load_explicit(&s->workers[i].last_turn_ms, memory_order_relaxed);
		if (t != 0 && now > t && now - t > max_age_ms) {
			snprintf(why, whylen, "worker %d has not finished a loop turn for %llu ms",
			         i, (unsigned long long)(now - t));
			return 0;
		}
	}
	return 1;
}

void server_set_security(server_t *s, struct security *sec)
{
	s->sec = sec;
}

/* Binds and listens on cfg->bind, port (0: any free port) into ls. */
static int open_listener(server_t *s, listener *ls, int port)
{
	char portstr[16];
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	int rc = getaddrinfo(s->cfg->bind, portstr, &hints, &res);
	if (rc != 0) {
		log_error("server", "cannot resolve bind address", LF_S("bind", s->cfg->bind),
		          LF_S("error", gai_strerror(rc)));
		return -EINVAL;
	}
	int err = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0) {
			ls->fd = fd;
			err = 0;
			break;
		}
		err = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (err < 0) {
		log_error("server", "cannot listen", LF_S("bind", s->cfg->bind), LF_I("port", port),
		          LF_B("tls", ls->tls), LF_S("error", strerror(-err)));
		return err;
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(ls->fd, (struct sockaddr *)&ss, &len);
	ls->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                          : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* Builds the TLS context when a port speaks TLS, and opens the listeners. */
static int open_listeners(server_t *s)
{
	const config *cfg = s->cfg;
	if (cfg->tls || cfg->tls_port >= 0) {
		char err[512];
		s->tls_ctx = tls_ctx_create(cfg, err, sizeof err);
		if (!s->tls_ctx) {
			log_error("server", "cannot set up TLS; refusing to start",
			          LF_S("error", err));
			return -EINVAL;
		}
	}
	s->lst[L_MAIN].tls = cfg->tls;
	int rc = open_listener(s, &s->lst[L_MAIN], cfg->port);
	if (rc < 0)
		return rc;
	s->port = s->lst[L_MAIN].port;
	if (cfg->tls_port >= 0) {
		s->lst[L_TLS].tls = 1;
		rc = open_listener(s, &s->lst[L_TLS], cfg->tls_port);
	}
	return rc;
}

int server_start(server_t *s)
{
	int rc = open_listeners(s);
	if (rc < 0)
		return rc;
	int n = s->cfg->threads;
	if (n <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		n = cores > 0 ? (int)cores : 1;
	}
	s->workers = calloc((size_t)n, sizeof(worker));
	if (!s->workers)
		return -ENOMEM;
	s->nworkers = n;
	for (int i = 0; i < n; i++) {
		worker *wk = &s->workers[i];
		wk->srv = s;
		wk->cw.id = i;
		wk->cw.store = s->store;
		wk->cw.cfg = s->cfg;
		wk->cw.nclients = &s->nclients;
		wk->cw.next_id = &s->next_id;
		wk->cw.srv = s;
		wk->cw.persist = s->persist;
		wk->cw.sec = s->sec;
		wk->cw.slow = s->slow;
		wk->cw.hold_writes = s->persist != NULL;
		wk->cw.loop = loop_create();
		if (!wk->cw.loop)
			return -ENOMEM;
		rc = conn_worker_init(&wk->cw);
		if (rc < 0)
			return rc;
		rc = -pthread_mutex_init(&wk->inbox.lock, NULL);
		if (rc < 0)
			return rc;
		loop_timer_init(&wk->expire, on_expire, wk);
		loop_timer_set(wk->cw.loop, &wk->expire,
		               loop_clock_ms() +
		                       EXPIRE_PERIOD_MS * (uint64_t)(i + 1) / (uint64_t)n);
		loop_set_wake(wk->cw.loop, on_wake, wk);
		loop_set_before_sleep(wk->cw.loop, before_sleep, wk);
		loop_timer_init(&wk->deadline, on_deadline, wk);
		atomic_init(&wk->revalidate, 0);
		for (int j = 0; j < L_COUNT; j++) {
			if (s->lst[j].fd < 0)
				continue;
			wk->listen_io[j].fd = s->lst[j].fd;
			wk->listen_io[j].fn = on_accept;
			wk->listen_io[j].arg = wk;
			rc = loop_io_add(wk->cw.loop, &wk->listen_io[j],
			                 LOOP_READ | LOOP_EXCLUSIVE);
			if (rc < 0)
				return rc;
		}
	}
	for (int i = 0; i < n; i++) {
		rc = -pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
		if (rc < 0) {
			log_error("server", "cannot start worker thread",
			          LF_S("error", strerror(-rc)));
			server_shutdown(s);
			return rc;
		}
		s->workers[i].started = 1;
	}
	/* The client port first: tests and tools take the first "listening"
	 * line for it, and the "listener":"tls" line for the second port. */
	log_info("server", "listening", LF_S("bind", s->cfg->bind), LF_I("port", s->port),
	         LF_B("tls", s->cfg->tls), LF_I("threads", n),
	         LF_I("max_clients", s->cfg->max_clients));
	if (s->lst[L_TLS].fd >= 0)
		log_info("server", "listening", LF_S("listener", "tls"), LF_S("bind", s->cfg->bind),
		         LF_I("port", s->lst[L_TLS].port), LF_B("tls", 1));
	return 0;
}

int server_tls_port(const server_t *s)
{
	if (s->lst[L_TLS].fd >= 0)
		return s->lst[L_TLS].port;
	return s->lst[L_MAIN].fd >= 0 && s->lst[L_MAIN].tls ? s->lst[L_MAIN].port : -1;
}

int server_tls_reload(server_t *s, const config *cfg, char *err, size_t errlen)
{
	pthread_mutex_lock(&s->tls_lock);
	int active = s->tls_ctx != NULL;
	pthread_mutex_unlock(&s->tls_lock);
	if (!active) {
		if (!cfg->tls && cfg->tls_port < 0)
			return 0;
		snprintf(err, errlen,
		         "TLS was not enabled when the server started; restart it to add a TLS "
		         "port");
		return -ENOTSUP;
	}
	SSL_CTX *ctx = tls_ctx_create(cfg, err, errlen);
	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&s->tls_lock);
	SSL_CTX *old = s->tls_ctx;
	s->tls_ctx = ctx;
	pthread_mutex_unlock(&s->tls_lock);
	SSL_CTX_free(old); /* live connections hold their own references */
	log_info("server", "TLS certificate reloaded", LF_S("cert_file", cfg->tls_cert_file),
	         LF_S("key_file", cfg->tls_key_file));
	return 0;
}

void server_revalidate_all(server_t *s)
{
	for (int i = 0; i < s->nworkers; i++) {
		if (!s->workers[i].cw.loop)
			continue;
		atomic_store(&s->workers[i].revalidate, 1);
		loop_wake(s->workers[i].cw.loop);
	}
}

void server_info_get(server_t *s, server_info *out)
{
	memset(out, 0, sizeof(*out));
	out->port = s->port;
	out->threads = s->nworkers;
	out->start_ms = s->start_ms;
	out->connected_clients = (uint64_t)atomic_load(&s->nclients);
	for (int i = 0; i < s->nworkers; i++) {
		const conn_worker *cw = &s->workers[i].cw;
#define SUM(dst, src) out->dst += atomic_load_explicit(&cw->src, memory_order_relaxed)
		SUM(total_connections_received, stats.accepted);
		SUM(rejected_connections, stats.rejected_maxclients);
		SUM(rejected_tls_handshake, stats.rejected_tls_handshake);
		SUM(rejected_tls_timeout, stats.rejected_tls_timeout);
		SUM(rejected_tls_on_plaintext, stats.rejected_tls_on_plaintext);
		SUM(total_commands_processed, stats.commands);
		SUM(total_net_input_bytes, stats.bytes_in);
		SUM(total_net_output_bytes, stats.bytes_out);
		SUM(keyspace_hits, cstats.keyspace_hits);
		SUM(keyspace_misses, cstats.keyspace_misses);
#undef SUM
	}
}

int server_client_list(server_t *s, buf *out, uint64_t only_id)
{
	for (int i = 0; i < s->nworkers; i++) {
		int rc = conn_worker_client_list(&s->workers[i].cw, out, only_id);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int server_port(const server_t *s)
{
	return s->port;
}

void server_wake_all(void *arg)
{
	server_t *s = arg;
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].cw.loop)
			loop_wake(s->workers[i].cw.loop);
}

void server_shutdown(server_t *s)
{
	atomic_store(&s->stop, 1);
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].cw.loop)
			loop_wake(s->workers[i].cw.loop);
}

int server_wait(server_t *s)
{
	for (int i = 0; i < s->nworkers; i++) {
		if (s->workers[i].started)
			pthread_join(s->workers[i].thread, NULL);
		s->workers[i].started = 0;
	}
	return 0;
}

void server_free(server_t *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nworkers; i++) {
		worker *wk = &s->workers[i];
		if (wk->cw.loop) {
			conn_worker_destroy(&wk->cw);
			for (size_t j = 0; j < wk->inbox.n; j++)
				close(wk->inbox.fds[j].fd);
			free(wk->inbox.fds);
			pthread_mutex_destroy(&wk->inbox.lock);
		}
		loop_free(wk->cw.loop);
	}
	free(s->workers);
	for (int i = 0; i < L_COUNT; i++)
		if (s->lst[i].fd >= 0)
			close(s->lst[i].fd);
	SSL_CTX_free(s->tls_ctx);
	pthread_mutex_destroy(&s->tls_lock);
	slowlog_free(s->slow);
	free(s);
}

slowlog *server_slowlog(server_t *s)
{
	return s->slow;
}
