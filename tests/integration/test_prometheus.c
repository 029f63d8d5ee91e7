/* test_prometheus.c - a real Prometheus server (Debian's /usr/bin/prometheus)
 * scrapes minidb on loopback every second while the test drives a known load
 * over RESP and the line protocol; the test then asks Prometheus's HTTP API
 * for sum(requests_total) by (method), rate(requests_total[1m]),
 * process_resident_memory_bytes and latency quantiles, and checks them
 * against its own counts, its own clock and /proc. The figures are printed
 * for the issue note. Prometheus cannot report a port-0 choice, so the test
 * picks a free port and retries when another process takes it first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

static const char PROMETHEUS[] = "/usr/bin/prometheus";

enum {
	PORT_TRIES = 5,         /* free ports tried for Prometheus's web listener */
	READY_WAIT_MS = 20000,  /* until /-/ready answers 200 (scaled) */
	SCRAPE_WAIT_MS = 15000, /* until a scrape newer than an event is visible (scaled) */
	ROUNDS = 6,             /* rounds of load */
	GAP_MS = 2000,          /* pause after each round: the load spans ~12 s */
	MID_ROUND = 3,          /* rate is evaluated in the pause after this many rounds */
	MID_AFTER_MS = 1300,    /* ... this long after the round ended (a scrape lies between) */
	RESP_SETS = 3000,       /* per round, pipelined */
	RESP_GETS = 2000,       /* per round, pipelined */
	LINE_SETS = 300,        /* per round, one at a time */
	LINE_LOOKUPS = 300,
	UNKNOWN_CMDS = 10, /* per round, RESP, counted as method UNKNOWN */
	ARITY_GETS = 5,    /* per round, GET without a key: an arity error counted as GET */
	VALUE_BYTES = 32,
	MAX_SERIES = 32,
};

/* The methods the load drives, and how many of each one round sends. */
static const struct {
	const char *method;
	long long per_round;
} LOAD[] = {
        {"SET", RESP_SETS + LINE_SETS},
        {"GET", RESP_GETS + ARITY_GETS},
        {"LOOKUP", LINE_LOOKUPS},
        {"UNKNOWN", UNKNOWN_CMDS},
};
enum { NMETHODS = sizeof LOAD / sizeof LOAD[0] };

typedef struct fixture {
	mdb_server *s;
	int http_port;
	char *dir; /* Prometheus's config, data and output */
	char out_path[PATH_MAX];
	pid_t prom;
	int prom_port;
} fixture;

/* One series of an instant vector: the value of one label, and the value. */
typedef struct series {
	char label[64];
	double ts;
	double value;
} series;

/* ---- Prometheus, the process ---- */

static void print_prometheus_output(const fixture *fx)
{
	char *text = mdb_read_file(fx->out_path, NULL);
	fprintf(stderr, "---- prometheus output (%s) ----\n%s\n----\n", fx->out_path,
	        text ? text : "(unreadable)");
	free(text);
}

/* Writes prometheus.yml: one job scraping the server's HTTP port every second. */
static int write_config(const fixture *fx, char *path, size_t pathlen)
{
	char yml[512];
	int n = snprintf(yml, sizeof yml,
	                 "global:\n"
	                 "  scrape_interval: 1s\n"
	                 "  scrape_timeout: 900ms\n"
	                 "  evaluation_interval: 1s\n"
	                 "scrape_configs:\n"
	                 "  - job_name: minidb\n"
	                 "    static_configs:\n"
	                 "      - targets: ['127.0.0.1:%d']\n",
	                 fx->http_port);
	snprintf(path, pathlen, "%s/prometheus.yml", fx->dir);
	return mdb_write_file(path, yml, (size_t)n);
}

/* Starts Prometheus on port and waits for /-/ready. 0 when ready, 1 when it
 * exited because the port was taken (try another), -1 on another failure. */
static int start_prometheus(fixture *fx, const char *config, int port)
{
	char a_config[PATH_MAX + 32], a_tsdb[PATH_MAX + 32], a_listen[64];
	snprintf(a_config, sizeof a_config, "--config.file=%s", config);
	snprintf(a_tsdb, sizeof a_tsdb, "--storage.tsdb.path=%s/tsdb", fx->dir);
	snprintf(a_listen, sizeof a_listen, "--web.listen-address=127.0.0.1:%d", port);
	const char *argv[] = {PROMETHEUS, a_config, a_tsdb, a_listen, NULL};
	fx->prom = mdb_spawn_bg(argv, fx->out_path);
	if (fx->prom < 0)
		return -1;
	fx->prom_port = port;
	long long deadline = mdb_now_ms() + mdb_timeout_ms(READY_WAIT_MS);
	while (mdb_now_ms() < deadline) {
		if (mdb_http_get(port, "/-/ready", NULL, 1000) == 200)
			return 0;
		int st = mdb_bg_exited(fx->prom);
		if (st >= 0) {
			fx->prom = -1;
			char *text = mdb_read_file(fx->out_path, NULL);
			int taken = text && strstr(text, "address already in use") != NULL;
			free(text);
			fprintf(stderr, "prometheus exited with status %d on port %d%s\n", st, port,
			        taken ? " (address in use; trying another)" : "");
			return taken ? 1 : -1;
		}
		mdb_sleep_ms(50);
	}
	fprintf(stderr, "prometheus not ready on port %d in time\n", port);
	return -1;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	if (fx == NULL)
		return 0;
	if (fx->prom > 0)
		mdb_bg_stop(fx->prom, mdb_timeout_ms(10000));
	if (fx->dir != NULL) {
		mdb_remove_tree(fx->dir);
		free(fx->dir);
	}
	int rc = fx->s != NULL && mdb_stop(fx->s) != 0 ? -1 : 0;
	free(fx);
	*state = NULL;
	return rc;
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	*state = fx;
	if (fx == NULL)
		return -1;
	fx->prom = -1;
	fx->s = mdb_start((const char *const[]){"--http-port=-1", NULL});
	fx->dir = mdb_temp_dir();
	if (fx->s == NULL || fx->dir == NULL)
		goto fail;
	fx->http_port = mdb_http_port(fx->s);
	if (fx->http_port <= 0) {
		mdb_print_log(fx->s);
		fprintf(stderr, "no \"listener\":\"http\" line in the server log\n");
		goto fail;
	}
	snprintf(fx->out_path, sizeof fx->out_path, "%s/prometheus.out", fx->dir);
	char config[PATH_MAX];
	if (write_config(fx, config, sizeof config) != 0)
		goto fail;
	for (int i = 0; i < PORT_TRIES; i++) {
		int port = mdb_free_port();
		int r = port > 0 ? start_prometheus(fx, config, port) : -1;
		if (r == 0)
			return 0;
		if (r < 0)
			break;
	}
	print_prometheus_output(fx);
fail:
	teardown(state);
	return -1;
}

/* ---- Prometheus, the HTTP API ---- */

/* Runs an instant query at unix time at (0: now) with curl and fills out[]
 * from the vector result: the value of label (or "" when label is NULL) and
 * the sample. Returns the number of series, or -1 (printed) on any error. */
static int query(const fixture *fx, const char *q, double at, const char *label, series out[],
                 int max)
{
	char url[128], qarg[1024], targ[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/query", fx->prom_port);
	snprintf(qarg, sizeof qarg, "query=%s", q);
	snprintf(targ, sizeof targ, "time=%.3f", at > 0 ? at : (double)mdb_unix_ms() / 1000.0);
	const char *argv[] = {"/usr/bin/curl",
	                      "-q",
	                      "-s",
	                      "-S",
	                      "--noproxy",
	                      "*",
	                      "--max-time",
	                      "10",
	                      "-G",
	                      "--data-urlencode",
	                      qarg,
	                      "--data-urlencode",
	                      targ,
	                      url,
	                      NULL};
	mdb_proc r;
	if (mdb_run(argv, NULL, 0, mdb_timeout_ms(15000), &r) != 0)
		return -1;
	int n = -1;
	json_error_t jerr;
	json_t *root = r.status == 0 ? json_loads(r.out, 0, &jerr) : NULL;
	const char *status = json_string_value(json_object_get(root, "status"));
	json_t *data = json_object_get(root, "data");
	json_t *result = json_object_get(data, "result");
	const char *type = json_string_value(json_object_get(data, "resultType"));
	if (status == NULL || strcmp(status, "success") != 0 || type == NULL ||
	    strcmp(type, "vector") != 0 || !json_is_array(result)) {
		fprintf(stderr, "query %s: curl status %d, answer: %.2000s%s\n", q, r.status, r.out,
		        r.err);
		goto out;
	}
	n = 0;
	size_t i;
	json_t *item;
	json_array_foreach(result, i, item)
	{
		if (n == max)
			break;
		const char *lv = label ? json_string_value(json_object_get(
		                                 json_object_get(item, "metric"), label))
		                       : "";
		json_t *value = json_object_get(item, "value");
		const char *num = json_string_value(json_array_get(value, 1));
		if (lv == NULL || num == NULL) {
			fprintf(stderr, "query %s: malformed sample in %.2000s\n", q, r.out);
			n = -1;
			goto out;
		}
		snprintf(out[n].label, sizeof out[n].label, "%s", lv);
		out[n].ts = json_number_value(json_array_get(value, 0));
		out[n].value = strtod(num, NULL);
		n++;
	}
out:
	json_decref(root);
	mdb_proc_free(&r);
	return n;
}

/* The single value of a query that yields one series; fails the test when it
 * yields none or several. */
static double query_one(const fixture *fx, const char *q, double at)
{
	series v[MAX_SERIES];
	int n = query(fx, q, at, NULL, v, MAX_SERIES);
	if (n != 1)
		fail_msg("query %s at %.3f: %d series, expected 1", q, at, n);
	return v[0].value;
}

/* Waits (bounded) until q's one sample was scraped after unix time after_s.
 * q must be a timestamp(...) query. Returns that timestamp. */
static double wait_scrape_after(const fixture *fx, const char *q, double after_s)
{
	long long deadline = mdb_now_ms() + mdb_timeout_ms(SCRAPE_WAIT_MS);
	double last = -1;
	while (mdb_now_ms() < deadline) {
		series v[MAX_SERIES];
		if (query(fx, q, 0, NULL, v, MAX_SERIES) == 1) {
			last = v[0].value;
			if (last > after_s)
				return last;
		}
		mdb_sleep_ms(200);
	}
	print_prometheus_output(fx);
	fail_msg("%s: no scrape after %.3f (last %.3f)", q, after_s, last);
	return -1;
}

/* ---- the load ---- */

/* The server's requests_total by method, read from /metrics directly. */
static void read_counts(const fixture *fx, long long counts[NMETHODS])
{
	char *body = NULL;
	assert_int_equal(mdb_http_get(fx->http_port, "/metrics", &body, mdb_timeout_ms(5000)), 200);
	for (size_t m = 0; m < NMETHODS; m++) {
		char series_name[64];
		int n = snprintf(series_name, sizeof series_name,
		                 "\nrequests_total{method=\"%s\"} ", LOAD[m].method);
		const char *p = strstr(body, series_name);
		counts[m] = p ? strtoll(p + n, NULL, 10) : 0;
	}
	free(body);
}

/* Pipelines RESP_GETS GETs of keys written this round and reads every reply. */
static void pipelined_gets(mdb_conn *c, long long first)
{
	mdb_buf b = {0};
	for (int i = 0; i < RESP_GETS; i++) {
		char key[32];
		int n = snprintf(key, sizeof key, "p:%lld", first + i);
		const char *argv[] = {"GET", key};
		const size_t lens[] = {3, (size_t)n};
		assert_int_equal(mdb_resp_encode(&b, 2, argv, lens), 0);
	}
	assert_int_equal(mdb_send_all(c->fd, b.p, b.len), 0);
	free(b.p);
	for (int i = 0; i < RESP_GETS; i++) {
		mdb_reply r;
		if (mdb_resp_read(c, &r) != 0 || r.type != '$')
			fail_msg("GET reply %d: type %c", i, r.type);
		mdb_reply_free(&r);
	}
}

/* One round: RESP SETs and GETs, line-protocol SETs and LOOKUPs, errors. */
static void load_round(mdb_conn *c, int round)
{
	long long first = (long long)round * RESP_SETS;
	assert_int_equal(mdb_pipeline_sets(c, "p:", first, RESP_SETS, VALUE_BYTES), RESP_SETS);
	pipelined_gets(c, first);
	for (int i = 0; i < LINE_SETS; i++) {
		char *r = mdb_cmdf(c, "SET l:%d:%d v%d", round, i, i);
		assert_non_null(r);
		assert_string_equal(r, "OK");
		free(r);
	}
	for (int i = 0; i < LINE_LOOKUPS; i++) {
		char *r = mdb_cmdf(c, "LOOKUP l:%d:%d", round, i);
		assert_non_null(r);
		free(r);
	}
	for (int i = 0; i < UNKNOWN_CMDS; i++) {
		char *r = MDB_CALL(c, "NOSUCHCOMMAND", "x");
		assert_true(r[0] == '-');
		free(r);
	}
	for (int i = 0; i < ARITY_GETS; i++) {
		char *r = MDB_CALL(c, "GET");
		assert_true(r[0] == '-');
		free(r);
	}
}

static long long round_total(void)
{
	long long t = 0;
	for (size_t m = 0; m < NMETHODS; m++)
		t += LOAD[m].per_round;
	return t;
}

static void prometheus_sees_the_counts_rate_memory_and_latency_of_a_load(void **state)
{
	fixture *fx = *state;
	printf("---- Prometheus %s scraping minidb every 1 s (127.0.0.1:%d -> :%d) ----\n",
	       PROMETHEUS, fx->prom_port, fx->http_port);

	double t0 = (double)mdb_unix_ms() / 1000.0;
	wait_scrape_after(fx, "timestamp(up{job=\"minidb\"})", t0);
	assert_true(query_one(fx, "up{job=\"minidb\"}", 0) == 1);

	/* A series appears once its method is used: one command of each, then a
	 * scrape, so every series starts at its baseline before the load. */
	mdb_conn *c = mdb_conn_open(fx->s->port);
	assert_non_null(c);
	free(MDB_CALL(c, "SET", "prime", "1"));
	free(MDB_CALL(c, "GET", "prime"));
	free(mdb_cmd(c, "LOOKUP prime"));
	free(MDB_CALL(c, "NOSUCHCOMMAND"));
	double t_primed = (double)mdb_unix_ms() / 1000.0;
	wait_scrape_after(fx, "max(timestamp(requests_total))", t_primed);
	long long base[NMETHODS];
	read_counts(fx, base);
	for (size_t m = 0; m < NMETHODS; m++)
		assert_true(base[m] >= 1);
	long long load_start = mdb_now_ms();
	double mid_at = 0;
	long long mid_ms = 0;
	for (int round = 0; round < ROUNDS; round++) {
		load_round(c, round);
		if (round + 1 == MID_ROUND) {
			mid_at = (double)(mdb_unix_ms() + MID_AFTER_MS) / 1000.0;
			mid_ms = mdb_now_ms() - load_start;
		}
		if (round + 1 < ROUNDS)
			mdb_sleep_ms(GAP_MS);
	}
	long long load_ms = mdb_now_ms() - load_start;
	double load_end = (double)mdb_unix_ms() / 1000.0;
	mdb_conn_close(c);

	/* The server's own count agrees with ours before Prometheus is asked. */
	long long after[NMETHODS];
	read_counts(fx, after);
	for (size_t m = 0; m < NMETHODS; m++) {
		if (after[m] - base[m] != LOAD[m].per_round * ROUNDS)
			fail_msg("/metrics: %s went from %lld to %lld, sent %lld", LOAD[m].method,
			         base[m], after[m], LOAD[m].per_round * ROUNDS);
	}
	printf("load: %d rounds in %lld ms, %lld commands a round (SET %lld, GET %lld, "
	       "LOOKUP %lld, UNKNOWN %lld)\n",
	       ROUNDS, load_ms, round_total(), LOAD[0].per_round, LOAD[1].per_round,
	       LOAD[2].per_round, LOAD[3].per_round);

	/* 1. The original dashboard's query: exact totals after the last scrape. */
	wait_scrape_after(fx, "max(timestamp(requests_total))", load_end);
	const char *q_sum = "sum(requests_total) by (method)";
	series v[MAX_SERIES];
	int n = query(fx, q_sum, 0, "method", v, MAX_SERIES);
	assert_true(n >= (int)NMETHODS);
	printf("%s:\n", q_sum);
	for (int i = 0; i < n; i++)
		printf("  %-10s %.0f\n", v[i].label, v[i].value);
	for (size_t m = 0; m < NMETHODS; m++) {
		int found = 0;
		for (int i = 0; i < n; i++) {
			if (strcmp(v[i].label, LOAD[m].method) != 0)
				continue;
			found = 1;
			if (v[i].value != (double)after[m])
				fail_msg("%s: Prometheus says %.0f, the load makes it %lld",
				         LOAD[m].method, v[i].value, after[m]);
		}
		if (!found)
			fail_msg("%s: no series for method %s", q_sum, LOAD[m].method);
	}
	for (int i = 0; i < n; i++) {
		int known = 0;
		for (size_t m = 0; m < NMETHODS; m++)
			known |= strcmp(v[i].label, LOAD[m].method) == 0;
		if (!known && v[i].value != 0)
			fail_msg("method %s counted %.0f times; the test never sent it", v[i].label,
			         v[i].value);
	}

	/* Errors by method and reason: the arity errors only come from the load. */
	const char *q_err = "sum(request_errors_total) by (method, reason)";
	n = query(fx, q_err, 0, "reason", v, MAX_SERIES);
	assert_true(n >= 1);
	printf("%s (by reason):\n", q_err);
	for (int i = 0; i < n; i++)
		printf("  %-16s %.0f\n", v[i].label, v[i].value);
	double arity =
	        query_one(fx, "sum(request_errors_total{method=\"GET\",reason=\"arity\"})", 0);
	double unknown = query_one(
	        fx, "sum(request_errors_total{method=\"UNKNOWN\",reason=\"unknown_command\"})", 0);
	if (arity != ARITY_GETS * ROUNDS || unknown != (double)after[3])
		fail_msg("errors: GET arity %.0f (sent %d), UNKNOWN unknown_command %.0f (sent "
		         "%lld)",
		         arity, ARITY_GETS * ROUNDS, unknown, after[3]);

	/* 2. rate over 1m, in the pause after MID_ROUND rounds: the window holds
	 * the baseline scrape and one taken after round MID_ROUND ended, so the
	 * increase is what those rounds sent, divided by the 60 s range. The
	 * extrapolation to the window's end adds at most half a scrape interval
	 * over a sampled span of several seconds (and none at the start, where
	 * the counter was near zero), hence the bounds 0.5 and 2: a rate of 0,
	 * per-minute instead of per-second, or 10x, fails. */
	double sent_mid = (double)(round_total() * MID_ROUND);
	double want_rate = sent_mid / 60.0;
	double got_rate = query_one(fx, "sum(rate(requests_total[1m]))", mid_at);
	double want_set = (double)(LOAD[0].per_round * MID_ROUND) / 60.0;
	double got_set = query_one(fx, "sum(rate(requests_total{method=\"SET\"}[1m]))", mid_at);
	printf("sum(rate(requests_total[1m])) at load+%lld ms (after %d of %d rounds): %.1f/s; "
	       "sent %.0f commands in %lld ms (%.0f/s during the load), %.1f/s averaged over 1m\n",
	       mid_ms + MID_AFTER_MS, MID_ROUND, ROUNDS, got_rate, sent_mid, mid_ms,
	       sent_mid * 1000.0 / (double)mid_ms, want_rate);
	printf("sum(rate(requests_total{method=\"SET\"}[1m])) then: %.1f/s (sent %.1f/s over 1m)\n",
	       got_set, want_set);
	if (!(got_rate >= 0.5 * want_rate && got_rate <= 2 * want_rate))
		fail_msg("rate %.2f/s, expected about %.2f/s", got_rate, want_rate);
	if (!(got_set >= 0.5 * want_set && got_set <= 2 * want_set))
		fail_msg("SET rate %.2f/s, expected about %.2f/s", got_set, want_set);

	/* 3. Resident memory as the kernel reports it, around a fresh scrape. */
	long long rss1 = mdb_rss_bytes(fx->s->pid);
	double rss_at = (double)mdb_unix_ms() / 1000.0;
	wait_scrape_after(fx, "timestamp(process_resident_memory_bytes)", rss_at);
	double rss = query_one(fx, "process_resident_memory_bytes", 0);
	long long rss2 = mdb_rss_bytes(fx->s->pid);
	assert_true(rss1 > 0 && rss2 > 0);
	double lo = (double)(rss1 < rss2 ? rss1 : rss2), hi = (double)(rss1 > rss2 ? rss1 : rss2);
	printf("process_resident_memory_bytes: %.0f (%.1f MiB); VmRSS around the scrape: %lld "
	       "and %lld\n",
	       rss, rss / 1048576.0, rss1, rss2);
	if (!(rss >= lo * 0.75 - 4194304.0 && rss <= hi * 1.25 + 4194304.0))
		fail_msg("process_resident_memory_bytes %.0f, VmRSS %lld..%lld", rss, rss1, rss2);

	/* 4. Latency quantiles of SET over the load's minute. */
	const char *q99 = "histogram_quantile(0.99, sum by (le) "
	                  "(rate(request_duration_seconds_bucket{method=\"SET\"}[1m])))";
	const char *q50 = "histogram_quantile(0.5, sum by (le) "
	                  "(rate(request_duration_seconds_bucket{method=\"SET\"}[1m])))";
	double p99 = query_one(fx, q99, load_end + 0.5);
	double p50 = query_one(fx, q50, load_end + 0.5);
	printf("%s: %.6f s\n%s: %.6f s\n", q99, p99, q50, p50);
	if (!isfinite(p99) || !(p99 > 0) || !(p99 < 1.0))
		fail_msg("SET p99 %g s: not a finite number in (0, 1)", p99);
	if (!isfinite(p50) || !(p50 > 0) || !(p50 <= p99))
		fail_msg("SET p50 %g s, p99 %g s: want 0 < p50 <= p99", p50, p99);
	printf("---- end of Prometheus figures ----\n");
	fflush(stdout);
}

int main(void)
{
	if (access(PROMETHEUS, X_OK) != 0) {
		printf("SKIP: %s is not installed (Debian package prometheus)\n", PROMETHEUS);
		return 77;
	}
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                prometheus_sees_the_counts_rate_memory_and_latency_of_a_load, setup,
	                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
