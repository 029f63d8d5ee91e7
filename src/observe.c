/* observe.c - what the HTTP endpoint serves: /metrics (every family of the
 * Prometheus exposition, gathered at scrape time from the workers' own
 * counters, the store, the WAL, the snapshots and the credentials),
 * /healthz and /readyz, and the bearer-token check of /metrics under
 * --http-auth (observe_authorize, over the same credentials as AUTH).
 *
 * Nothing here runs on a worker: the HTTP threads call in, read relaxed
 * single-writer counters and sum them. A scrape therefore costs the
 * request path nothing but the counting itself (conn.c count_request).
 */
#include "observe.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "conn.h"
#include "metrics.h"
#include "persist.h"
#include "security.h"
#include "server.h"
#include "slowlog.h"
#include "store.h"

#include "version.h"

/* /healthz fails when a worker has not finished a loop turn for this long
 * (each turns at least every 100 ms). */
#define STUCK_MS 5000

struct observe {
	server_t *srv;
	store_t *store;
	persist_t *persist;
	security_t *sec;
	_Atomic uint64_t http_auth_failures; /* /metrics requests refused */
};

observe_t *observe_create(server_t *srv, store_t *store, persist_t *persist, security_t *sec)
{
	observe_t *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->srv = srv;
	o->store = store;
	o->persist = persist;
	o->sec = sec;
	return o;
}

void observe_free(observe_t *o)
{
	free(o);
}

static void upper(char *out, size_t cap, const char *name)
{
	size_t i = 0;
	for (; name[i] && i + 1 < cap; i++)
		out[i] = (char)toupper((unsigned char)name[i]);
	out[i] = 0;
}

/* One command's figures, gathered once per scrape. */
typedef struct cmd_sum {
	mx_hist_snap hist;
	uint64_t errors[REPLY_ERR_COUNT];
} cmd_sum;

/* requests_total, request_duration_seconds, request_errors_total. A series
 * appears once its command was used, which keeps the exposition short. */
static void write_requests(observe_t *o, mx_writer *w)
{
	const conn_worker *ws[1024];
	size_t nw = server_conn_workers(o->srv, ws, sizeof(ws) / sizeof(ws[0]));
	size_t ncmd;
	const command *table = command_table_get(&ncmd);
	const mx_bounds *b = conn_request_bounds();
	cmd_sum *sums = calloc(ncmd + 1, sizeof(*sums));
	char method[40];

	if (!sums)
		return; /* out of memory: these families are left out of this scrape */
	for (size_t i = 0; i < ncmd; i++)
		conn_command_stats(ws, nw, i, &sums[i].hist, sums[i].errors);
	/* The unknown commands' line, in the last slot: a count, no durations. */
	for (size_t k = 0; k < nw; k++) {
		sums[ncmd].hist.count += mx_counter_get(&ws[k]->unknown_cmds);
		for (int r = 1; r < REPLY_ERR_COUNT; r++)
			sums[ncmd].errors[r] += mx_counter_get(&ws[k]->unknown_errors[r]);
	}

	mx_family(w, "requests_total", MX_COUNTER, "Requests by command (method), as received");
	for (size_t i = 0; i <= ncmd; i++) {
		if (sums[i].hist.count == 0)
			continue;
		upper(method, sizeof method, i < ncmd ? table[i].name : "unknown");
		mx_label l = {"method", method};
		mx_sample_u64(w, "requests_total", &l, 1, sums[i].hist.count);
	}

	mx_family(w, "request_duration_seconds", MX_HISTOGRAM,
	          "Time to parse and run a command and build its reply, by command");
	for (size_t i = 0; i < ncmd; i++) {
		if (sums[i].hist.count == 0)
			continue;
		upper(method, sizeof method, table[i].name);
		mx_label l = {"method", method};
		mx_hist_write(w, "request_duration_seconds", b, &sums[i].hist, &l, 1);
	}

	mx_family(w, "request_errors_total", MX_COUNTER,
	          "Requests answered with an error, by command and reason");
	for (size_t i = 0; i <= ncmd; i++) {
		upper(method, sizeof method, i < ncmd ? table[i].name : "unknown");
		for (int r = 1; r < REPLY_ERR_COUNT; r++) {
			if (sums[i].errors[r] == 0)
				continue;
			mx_label l[2] = {{"method", method}, {"reason", reply_err_reason_name(r)}};
			mx_sample_u64(w, "request_errors_total", l, 2, sums[i].errors[r]);
		}
	}
	free(sums);
}

static void gauge(mx_writer *w, const char *name, const char *help, double v)
{
	mx_family(w, name, MX_GAUGE, help);
	mx_sample(w, name, NULL, 0, v);
}

static void counter(mx_writer *w, const char *name, const char *help, uint64_t v)
{
	mx_family(w, name, MX_COUNTER, help);
	mx_sample_u64(w, name, NULL, 0, v);
}

static void write_server(observe_t *o, mx_writer *w)
{
	server_info si;
	server_info_get(o->srv, &si);
	gauge(w, "minidb_connected_clients", "Open client connections",
	      (double)si.connected_clients);
	counter(w, "minidb_connections_accepted_total", "Client connections accepted",
	        si.total_connections_received);
	mx_family(w, "minidb_connections_rejected_total", MX_COUNTER,
	          "Client connections refused, by reason");
	const struct {
		const char *reason;
		uint64_t n;
	} rejected[] = {{"maxclients", si.rejected_connections},
	                {"tls_handshake", si.rejected_tls_handshake},
	                {"tls_handshake_timeout", si.rejected_tls_timeout},
	                {"tls_on_plaintext_port", si.rejected_tls_on_plaintext}};
	for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
		mx_label l = {"reason", rejected[i].reason};
		mx_sample_u64(w, "minidb_connections_rejected_total", &l, 1, rejected[i].n);
	}
	counter(w, "minidb_net_input_bytes_total", "Bytes read from clients",
	        si.total_net_input_bytes);
	counter(w, "minidb_net_output_bytes_total", "Bytes written to clients",
	        si.total_net_output_bytes);
	counter(w, "minidb_commands_processed_total", "Commands run (all methods)",
	        si.total_commands_processed);
	counter(w, "minidb_slow_commands_total",
	        "Commands that ran at least --slowlog-ms (each logged and kept for SLOWLOG GET)",
	        slowlog_total(server_slowlog(o->srv)));

	security_stats ss;
	security_stats_get(o->sec, &ss);
	counter(w, "minidb_auth_failures_total", "AUTH attempts refused (wrong token or JWT)",
	        ss.auth_failed);
	counter(w, "minidb_auth_backoff_refused_total",
	        "AUTH attempts refused unchecked during an address's backoff",
	        ss.auth_backoff_refused);
	counter(w, "minidb_auth_revoked_connections_total",
	        "Connections closed because their credential was revoked", ss.revoked_closed);
	counter(w, "minidb_http_auth_failures_total",
	        "HTTP /metrics requests refused under --http-auth (no, wrong or expired bearer "
	        "token, or the address in backoff)",
	        atomic_load_explicit(&o->http_auth_failures, memory_order_relaxed));
}

static void write_store(observe_t *o, mx_writer *w)
{
	store_counters sc;
	store_counters_get(o->store, &sc);
	uint64_t maxmem = 0;
	int policy = 0;
	store_get_maxmemory(o->store, &maxmem, &policy);
	gauge(w, "minidb_keys", "Keys in the keyspace", (double)store_count(o->store));
	counter(w, "minidb_expired_keys_total", "Keys removed because their time passed",
	        sc.expired_keys);
	counter(w, "minidb_evicted_keys_total", "Keys evicted by maxmemory", sc.evicted_keys);
	gauge(w, "minidb_used_memory_bytes", "Memory accounted to keys and values",
	      (double)store_mem_used(o->store));
	gauge(w, "minidb_maxmemory_bytes", "The maxmemory limit (0: none)", (double)maxmem);
}

static void write_persist(observe_t *o, mx_writer *w)
{
	if (!o->persist)
		return;
	persist_info pi;
	persist_info_get(o->persist, &pi);
	counter(w, "minidb_wal_appended_bytes_total", "Bytes of records written to the log",
	        pi.wal.bytes);
	counter(w, "minidb_wal_fsyncs_total", "fdatasync calls on the log", pi.wal.fsyncs);
	mx_hist_snap s;
	persist_fsync_histogram(o->persist, &s);
	mx_family(w, "minidb_wal_fsync_duration_seconds", MX_HISTOGRAM,
	          "Duration of the log's fdatasync calls");
	mx_hist_write(w, "minidb_wal_fsync_duration_seconds", persist_fsync_bounds(), &s, NULL, 0);
	gauge(w, "minidb_wal_durable_lag_records",
	      "Records appended but not yet durable under the fsync policy",
	      pi.last_seq > pi.durable_seq ? (double)(pi.last_seq - pi.durable_seq) : 0);
	gauge(w, "minidb_loading", "1 while the data set is being loaded", pi.loading ? 1 : 0);
	const snapshot_info *sn = &pi.snap;
	gauge(w, "minidb_snapshot_last_success_timestamp_seconds",
	      "Unix time of the last successful snapshot (or of start-up)",
	      (double)sn->last_save_time);
	gauge(w, "minidb_snapshot_changes_since_last",
	      "Records logged since the newest snapshot (Redis: rdb_changes_since_last_save)",
	      pi.last_seq > sn->last_seq ? (double)(pi.last_seq - sn->last_seq) : 0);
	gauge(w, "minidb_snapshot_last_duration_seconds",
	      "Duration of the last successful snapshot",
	      sn->last_duration_ms >= 0 ? (double)sn->last_duration_ms / 1000.0 : 0);
	gauge(w, "minidb_snapshot_last_size_bytes", "Size of the newest snapshot file",
	      (double)sn->last_bytes);
	counter(w, "minidb_snapshots_total", "Snapshots written since start-up", sn->saves);
	counter(w, "minidb_snapshot_failures_total", "Snapshots that failed since start-up",
	        sn->failures);
	gauge(w, "minidb_snapshot_in_progress", "1 while a snapshot is being written",
	      sn->in_progress ? 1 : 0);
}

/* 1 and a reason-free body when ready; else 0 with the reason in why. */
static int ready(observe_t *o, char *why, size_t whylen)
{
	if (!o->persist)
		return 1;
	persist_info pi;
	persist_info_get(o->persist, &pi);
	if (pi.loading) {
		snprintf(why, whylen, "loading the data set");
		return 0;
	}
	if (pi.write_error != 0) {
		snprintf(why, whylen, "the write-ahead log cannot be written: %s",
		         strerror(pi.write_error));
		return 0;
	}
	if (!pi.snap.last_ok) {
		snprintf(why, whylen, "the last snapshot failed: %s", pi.snap.last_error);
		return 0;
	}
	return 1;
}

int observe_metrics(void *arg, buf *out)
{
	observe_t *o = arg;
	mx_writer w;
	mx_writer_init(&w, out);
	write_requests(o, &w);
	write_server(o, &w);
	write_store(o, &w);
	write_persist(o, &w);
	char why[256];
	gauge(&w, "minidb_ready", "1 when /readyz answers 200", ready(o, why, sizeof why));
	mx_process p;
	if (mx_process_read(&p) == 0)
		mx_process_write(&w, &p);
	mx_family(&w, "minidb_build_info", MX_GAUGE, "Version and commit of this build (always 1)");
	mx_label bl[2] = {{"version", MINIDB_VERSION}, {"commit", MINIDB_COMMIT}};
	mx_sample_u64(&w, "minidb_build_info", bl, 2, 1);
	return mx_writer_error(&w) == 0 ? 200 : 500;
}

/* Writes {"status":"...","reason":"..."} with the reason JSON-escaped. */
static void json_status(buf *out, const char *status, const char *reason)
{
	buf_append(out, "{\"status\":\"", 11);
	buf_append(out, status, strlen(status));
	buf_append(out, "\"", 1);
	if (reason) {
		buf_append(out, ",\"reason\":\"", 11);
		for (const char *p = reason; *p; p++) {
			unsigned char c = (unsigned char)*p;
			char esc[8];
			if (c == '"' || c == '\\') {
				esc[0] = '\\';
				esc[1] = (char)c;
				buf_append(out, esc, 2);
			} else if (c < 0x20) {
				int n = snprintf(esc, sizeof esc, "\\u%04x", c);
				buf_append(out, esc, (size_t)n);
			} else {
				buf_append(out, p, 1);
			}
		}
		buf_append(out, "\"", 1);
	}
	buf_append(out, "}\n", 2);
}

int observe_authorize(void *arg, const char *token, size_t len, const char *addr)
{
	observe_t *o = arg;
	int rc = security_check_bearer(o->sec, token, len, addr && addr[0] ? addr : NULL);
	if (rc == 1)
		return 0;
	atomic_fetch_add_explicit(&o->http_auth_failures, 1, memory_order_relaxed);
	return rc == -EAGAIN ? 429 : 401;
}

int observe_healthz(void *arg, buf *out)
{
	observe_t *o = arg;
	char why[160];
	if (!server_alive(o->srv, STUCK_MS, why, sizeof why)) {
		json_status(out, "unhealthy", why);
		return 503;
	}
	json_status(out, "ok", NULL);
	return 200;
}

int observe_readyz(void *arg, buf *out)
{
	observe_t *o = arg;
	char why[256];
	if (!ready(o, why, sizeof why)) {
		json_status(out, "not ready", why);
		return 503;
	}
	json_status(out, "ready", NULL);
	return 200;
}
