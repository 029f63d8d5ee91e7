/* test_metrics_endpoint.c - the HTTP endpoint of the real server: /metrics
 * after a known load (counts by method, errors by reason, durations, keys,
 * process and build metrics) checked number by number and by promtool,
 * /healthz and /readyz, --http-port 0 leaving it off, and the metrics
 * contract (tests/monitoring/metric-names.txt) against a live scrape both
 * ways. curl is the client; every run is bounded by its --max-time and
 * mdb_run's deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* The HTTP port from the server's listening line, or -1. */
static int http_port_of(const mdb_server *s)
{
	char *line = mdb_last_log_line(s, "\"listener\":\"http\"");
	int port = -1;
	if (line) {
		const char *p = strstr(line, "\"port\":");
		if (p)
			port = atoi(p + 7);
		free(line);
	}
	return port;
}

/* GETs path with curl; the body in *body (malloc'd), the status returned
 * (or -1). */
static int http_get(int port, const char *path, char **body)
{
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	const char *argv[] = {
	        "/usr/bin/curl",  "-q", "-s", "--noproxy", "*", "--max-time", "10", "-w",
	        "\n%{http_code}", url,  NULL};
	mdb_proc r;
	if (mdb_run(argv, NULL, 0, mdb_timeout_ms(15000), &r) != 0)
		return -1;
	int status = -1;
	if (r.status == 0) {
		char *nl = strrchr(r.out, '\n');
		if (nl) {
			status = atoi(nl + 1);
			*nl = 0;
		}
		*body = strdup(r.out);
	}
	mdb_proc_free(&r);
	return status;
}

/* The value of the sample line that starts with series (name and labels
 * exactly as exposed), or -1 when absent. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

static void metrics_count_exactly_what_the_clients_did(void **state)
{
	(void)state;
	mdb_server *s = mdb_start_ok(((const char *const[]){"--http-port=-1", NULL}));
	int hp = http_port_of(s);
	assert_true(hp > 0);

	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	for (int i = 0; i < 300; i++) {
		char *r = mdb_cmdf(c, "SET k%d v%d", i, i);
		assert_non_null(r);
		assert_string_equal(r, "OK");
		free(r);
	}
	for (int i = 0; i < 200; i++) {
		char *r = mdb_cmdf(c, "LOOKUP k%d", i % 400);
		assert_non_null(r);
		free(r);
	}
	for (int i = 0; i < 5; i++) {
		char *r = mdb_cmd(c, "NOSUCHCOMMAND x");
		assert_non_null(r);
		free(r);
	}
	for (int i = 0; i < 3; i++) {
		char *r = mdb_cmd(c, "INCR k1"); /* "v1" is not an integer */
		assert_non_null(r);
		assert_non_null(strstr(r, "ERROR"));
		free(r);
	}
	char *r = mdb_cmd(c, "GET");
	assert_non_null(r);
	free(r);
	mdb_conn_close(c);

	char *body = NULL;
	assert_int_equal(http_get(hp, "/metrics", &body), 200);
	assert_non_null(body);
	assert_true(sample(body, "requests_total{method=\"SET\"}") == 300);
	assert_true(sample(body, "requests_total{method=\"LOOKUP\"}") == 200);
	assert_true(sample(body, "requests_total{method=\"INCR\"}") == 3);
	assert_true(sample(body, "requests_total{method=\"UNKNOWN\"}") == 5);
	assert_true(sample(body, "request_duration_seconds_count{method=\"SET\"}") == 300);
	assert_true(sample(body, "request_duration_seconds_bucket{method=\"SET\",le=\"+Inf\"}") ==
	            300);
	assert_true(sample(body, "request_duration_seconds_sum{method=\"SET\"}") > 0);
	assert_true(sample(body, "request_errors_total{method=\"INCR\",reason=\"other\"}") == 3);
	assert_true(sample(body,
	                   "request_errors_total{method=\"UNKNOWN\",reason=\"unknown_command\"}") ==
	            5);
	assert_true(sample(body, "request_errors_total{method=\"GET\",reason=\"arity\"}") == 1);
	assert_true(sample(body, "minidb_keys") == 300);
	assert_true(sample(body, "minidb_connections_accepted_total") >= 1);
	assert_true(sample(body, "minidb_ready") == 1);
	assert_true(sample(body, "minidb_wal_appended_bytes_total") > 0);
	assert_true(sample(body, "process_resident_memory_bytes") > 1e6);
	assert_true(sample(body, "process_open_fds") >= 5);
	assert_non_null(strstr(body, "\nminidb_build_info{version=\""));
	/* The original dashboard's query works on this text. */
	assert_non_null(strstr(body, "# TYPE requests_total counter\n"));

	/* promtool, Prometheus's own checker, accepts the live scrape. */
	mdb_proc pr;
	const char *argv[] = {"/usr/bin/promtool", "check", "metrics", NULL};
	assert_int_equal(mdb_run(argv, body, strlen(body), mdb_timeout_ms(30000), &pr), 0);
	if (pr.status != 0)
		fail_msg("promtool check metrics: status %d\n%s%s", pr.status, pr.out, pr.err);
	mdb_proc_free(&pr);
	free(body);
	assert_int_equal(mdb_stop(s), 0);
}

static void healthz_and_readyz_answer_json(void **state)
{
	(void)state;
	mdb_server *s = mdb_start_ok(((const char *const[]){"--http-port=-1", NULL}));
	int hp = http_port_of(s);
	char *body = NULL;
	assert_int_equal(http_get(hp, "/healthz", &body), 200);
	assert_string_equal(body, "{\"status\":\"ok\"}\n");
	free(body);
	assert_int_equal(http_get(hp, "/readyz", &body), 200);
	assert_string_equal(body, "{\"status\":\"ready\"}\n");
	free(body);
	assert_int_equal(http_get(hp, "/nope", &body), 404);
	free(body);
	assert_int_equal(mdb_stop(s), 0);
}

static void http_port_0_turns_the_endpoint_off(void **state)
{
	(void)state;
	mdb_server *s = mdb_start_ok(((const char *const[]){"--http-port", "0", NULL}));
	assert_int_equal(http_port_of(s), -1);
	assert_int_equal(mdb_stop(s), 0);
}

/* ---- the metrics contract: tests/monitoring/metric-names.txt ---- */

enum { MAX_NAMES = 256, NAME_LEN = 128 };

typedef struct name_set {
	char names[MAX_NAMES][NAME_LEN];
	int n;
} name_set;

static int set_has(const name_set *ns, const char *name)
{
	for (int i = 0; i < ns->n; i++)
		if (strcmp(ns->names[i], name) == 0)
			return 1;
	return 0;
}

static void set_add(name_set *ns, const char *name, size_t len)
{
	if (len == 0 || len >= NAME_LEN)
		fail_msg("metric name of %zu bytes: %.*s", len, (int)(len < 200 ? len : 200), name);
	char tmp[NAME_LEN];
	memcpy(tmp, name, len);
	tmp[len] = '\0';
	if (set_has(ns, tmp))
		return;
	if (ns->n == MAX_NAMES)
		fail_msg("more than %d metric names", MAX_NAMES);
	memcpy(ns->names[ns->n++], tmp, len + 1);
}

/* The source tree: $MINIDB_SOURCE_DIR, the MINIDB_SOURCE_DIR definition, or
 * two levels above this file (__FILE__ is absolute under CMake, as
 * tests/unit/test_config.c relies on too). */
static void names_file_path(char *path, size_t len)
{
	const char *env = getenv("MINIDB_SOURCE_DIR");
#ifdef MINIDB_SOURCE_DIR
	if (env == NULL || *env == '\0')
		env = MINIDB_SOURCE_DIR;
#endif
	if (env != NULL && *env != '\0') {
		snprintf(path, len, "%s/tests/monitoring/metric-names.txt", env);
		return;
	}
	const char *slash = strrchr(__FILE__, '/');
	snprintf(path, len, "%.*s/../monitoring/metric-names.txt",
	         slash != NULL ? (int)(slash - __FILE__) : 1, slash != NULL ? __FILE__ : ".");
}

/* The names in the file: one a line, '#' comments and blank lines skipped. */
static void read_names_file(name_set *ns)
{
	char path[PATH_MAX];
	names_file_path(path, sizeof path);
	char *text = mdb_read_file(path, NULL);
	if (text == NULL)
		fail_msg("cannot read %s (set MINIDB_SOURCE_DIR to the source tree)", path);
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		size_t b = strspn(line, " \t\r"), e = b + strcspn(line + b, " \t\r");
		if (e > b)
			set_add(ns, line + b, e - b);
	}
	free(text);
	assert_true(ns->n > 10);
}

static void the_live_scrape_exposes_exactly_the_series_in_metric_names_txt(void **state)
{
	(void)state;
	static name_set listed, samples;
	memset(&listed, 0, sizeof listed);
	memset(&samples, 0, sizeof samples);
	read_names_file(&listed);

	/* Series that appear once used: a command, its duration, an error. */
	mdb_server *s = mdb_start_ok(((const char *const[]){"--http-port=-1", NULL}));
	int hp = http_port_of(s);
	assert_true(hp > 0);
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	mdb_assert_cmd(c, "SET k v", "OK");
	char *r = mdb_cmd(c, "NOSUCHCOMMAND");
	assert_non_null(r);
	free(r);
	mdb_conn_close(c);
	char *body = NULL;
	assert_int_equal(http_get(hp, "/metrics", &body), 200);
	assert_non_null(body);
	assert_int_equal(mdb_stop(s), 0);

	/* Every sample's name, and every family's series by its TYPE. */
	int missing = 0;
	for (char *line = strtok(body, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char *fam = line + 7, *sp = strchr(fam, ' ');
			assert_non_null(sp);
			*sp = '\0';
			if (strcmp(sp + 1, "histogram") == 0) {
				static const char *const suffix[] = {"_bucket", "_sum", "_count"};
				for (int i = 0; i < 3; i++) {
					char series_name[NAME_LEN + 8];
					snprintf(series_name, sizeof series_name, "%s%s", fam,
					         suffix[i]);
					if (!set_has(&listed, series_name)) {
						print_error("histogram %s: %s not in "
						            "metric-names.txt\n",
						            fam, series_name);
						missing++;
					}
				}
				if (set_has(&listed, fam)) {
					print_error("%s is a histogram: list its _bucket, _sum and "
					            "_count series, not the base name\n",
					            fam);
					missing++;
				}
			} else if (!set_has(&listed, fam)) {
				print_error(
				        "family %s (%s) is exposed but not in metric-names.txt\n",
				        fam, sp + 1);
				missing++;
			}
			continue;
		}
		if (line[0] == '#')
			continue;
		size_t len = strcspn(line, "{ ");
		set_add(&samples, line, len);
	}
	free(body);
	for (int i = 0; i < samples.n; i++) {
		if (!set_has(&listed, samples.names[i])) {
			print_error("series %s is exposed but not in metric-names.txt\n",
			            samples.names[i]);
			missing++;
		}
	}
	for (int i = 0; i < listed.n; i++) {
		if (!set_has(&samples, listed.names[i])) {
			print_error("%s is in metric-names.txt but not exposed\n", listed.names[i]);
			missing++;
		}
	}
	if (missing != 0)
		fail_msg("%d differences between the live scrape and metric-names.txt", missing);
}

/* The cmdstat_<name> line of an INFO reply, up to its end of line
 * (malloc'd), or NULL. */
static char *cmdstat_line(const char *info, const char *name)
{
	char key[64];
	snprintf(key, sizeof key, "cmdstat_%s:", name);
	const char *p = strstr(info, key);
	if (!p)
		return NULL;
	return strndup(p, strcspn(p, "\r\n"));
}

/* INFO commandstats, in Redis's format, from the same per-worker figures:
 * calls without the rejected ones (arity here), failures that ran. */
static void info_commandstats_counts_calls_rejections_and_failures(void **state)
{
	(void)state;
	mdb_server *s = mdb_start(NULL); /* --http-port 0: the slow log still times */
	assert_non_null(s);
	mdb_conn *c = mdb_conn_open(s->port);
	assert_non_null(c);
	for (int i = 0; i < 3; i++)
		MDB_ASSERT_CALL(c, "+OK", "SET", "k", "v");
	char *r = MDB_CALL(c, "SET", "k");
	assert_non_null(strstr(r, "wrong number of arguments"));
	free(r);
	r = MDB_CALL(c, "INCR", "k");
	assert_non_null(strstr(r, "not an integer"));
	free(r);
	for (int i = 0; i < 2; i++) {
		r = MDB_CALL(c, "GET", "k");
		free(r);
	}
	char *info = MDB_CALL(c, "INFO", "commandstats");
	assert_non_null(strstr(info, "# Commandstats"));
	const char *want[][2] = {
	        {"set", "calls=3,"},  {"set", "rejected_calls=1,failed_calls=0"},
	        {"incr", "calls=1,"}, {"incr", "rejected_calls=0,failed_calls=1"},
	        {"get", "calls=2,"},  {"get", "rejected_calls=0,failed_calls=0"},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char *line = cmdstat_line(info, want[i][0]);
		if (!line || !strstr(line, want[i][1]))
			fail_msg("INFO commandstats: want \"%s\" in cmdstat_%s, got %s", want[i][1],
			         want[i][0], line ? line : "(none)");
		free(line);
	}
	free(info);
	/* As in Redis: not in the default INFO, in INFO all. */
	info = MDB_CALL(c, "INFO");
	assert_null(strstr(info, "# Commandstats"));
	free(info);
	info = MDB_CALL(c, "INFO", "all");
	assert_non_null(strstr(info, "cmdstat_set:calls=3,"));
	free(info);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);

	/* Nothing timed, nothing counted: the section is empty. */
	static const char *const untimed[] = {"--slowlog-ms=-1", NULL};
	s = mdb_start(untimed);
	assert_non_null(s);
	c = mdb_conn_open(s->port);
	assert_non_null(c);
	MDB_ASSERT_CALL(c, "+OK", "SET", "k", "v");
	info = MDB_CALL(c, "INFO", "commandstats");
	assert_non_null(strstr(info, "# Commandstats"));
	assert_null(strstr(info, "cmdstat_"));
	free(info);
	mdb_conn_close(c);
	assert_int_equal(mdb_stop(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(metrics_count_exactly_what_the_clients_did),
	        cmocka_unit_test(healthz_and_readyz_answer_json),
	        cmocka_unit_test(http_port_0_turns_the_endpoint_off),
	        cmocka_unit_test(the_live_scrape_exposes_exactly_the_series_in_metric_names_txt),
	        cmocka_unit_test(info_commandstats_counts_calls_rejections_and_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
