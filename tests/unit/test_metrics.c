/* test_metrics.c - unit tests for metrics.c: exact exposition text (escaping,
 * number formatting, histogram buckets, _sum and _count), merging per-thread
 * histograms and counters written by real threads, /proc parsing including
 * hostile process names, and a full realistic exposition checked by the real
 * `promtool check metrics` from Debian's prometheus package.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "metrics.h"

/* The writer's output so far, NUL-terminated (the buffer keeps ownership). */
static const char *text(buf *b)
{
	assert_int_equal(buf_append_char(b, '\0'), 0);
	b->len--;
	return buf_start(b);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const double req_seconds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5};

static void test_label_values_escape_backslash_quote_and_newline(void **state)
{
	buf b;
	mx_writer w;
	mx_label l[] = {{"method", "a\\b\"c\nd"}, {"reason", "plain"}};

	buf_init(&b);
	mx_writer_init(&w, &b);
	mx_family(&w, "requests_total", MX_COUNTER, "Requests.");
	mx_sample_u64(&w, "requests_total", l, 2, 7);
	assert_int_equal(mx_writer_error(&w), 0);
	assert_string_equal(text(&b),
	                    "# HELP requests_total Requests.\n"
	                    "# TYPE requests_total counter\n"
	                    "requests_total{method=\"a\\\\b\\\"c\\nd\",reason=\"plain\"} 7\n");
	buf_free(&b);
}

static void test_help_text_escapes_backslash_and_newline_but_not_quotes(void **state)
{
	buf b;
	mx_writer w;

	buf_init(&b);
	mx_writer_init(&w, &b);
	mx_family(&w, "minidb_keys", MX_GAUGE, "Keys \"now\"\\\nsecond line");
	assert_string_equal(text(&b), "# HELP minidb_keys Keys \"now\"\\\\\\nsecond line\n"
	                              "# TYPE minidb_keys gauge\n");
	buf_free(&b);
}

static void test_invalid_utf8_in_a_label_value_becomes_the_replacement_character(void **state)
{
	buf b;
	mx_writer w;
	mx_label l[] = {{"method", "G\xff"
	                           "E\xc3\xa9T\xe2\x82"}};

	buf_init(&b);
	mx_writer_init(&w, &b);
	mx_family(&w, "requests_total", MX_COUNTER, "");
	mx_sample_u64(&w, "requests_total", l, 1, 1);
	assert_non_null(strstr(text(&b), "requests_total{method=\"G\xef\xbf\xbd"
	                                 "E\xc3\xa9T\xef\xbf\xbd\xef\xbf\xbd\"} 1\n"));
	buf_free(&b);
}

static void test_a_family_announced_twice_in_a_row_gets_one_help_and_type(void **state)
{
	buf b;
	mx_writer w;
	mx_label get[] = {{"method", "GET"}}, set[] = {{"method", "SET"}};

	buf_init(&b);
	mx_writer_init(&w, &b);
	mx_family(&w, "requests_total", MX_COUNTER, "Requests.");
	mx_sample_u64(&w, "requests_total", get, 1, 1);
	mx_family(&w, "requests_total", MX_COUNTER, "Requests.");
	mx_sample_u64(&w, "requests_total", set, 1, 2);
	mx_family(&w, "minidb_ready", MX_GAUGE, "Ready.");
	mx_sample(&w, "minidb_ready", NULL, 0, 1);
	assert_string_equal(text(&b), "# HELP requests_total Requests.\n"
	                              "# TYPE requests_total counter\n"
	                              "requests_total{method=\"GET\"} 1\n"
	                              "requests_total{method=\"SET\"} 2\n"
	                              "# HELP minidb_ready Ready.\n"
	                              "# TYPE minidb_ready gauge\n"
	                              "minidb_ready 1\n");
	buf_free(&b);
}

static void check_format(double v, const char *want)
{
	char out[MX_VALUE_MAX];

	assert_int_equal(mx_format_value(out, v), strlen(want));
	assert_string_equal(out, want);
}

static void test_values_print_as_integers_shortest_decimals_or_prometheus_specials(void **state)
{
	check_format(0, "0");
	check_format(-0.0, "0");
	check_format(42, "42");
	check_format(-7, "-7");
	check_format(9007199254740993.0, "9007199254740992");
	check_format(1e18, "1000000000000000000");
	check_format(0.1, "0.1");
	check_format(2.5, "2.5");
	check_format(0.00005, "5e-05");
	check_format(1.0 / 3.0, "0.3333333333333333");
	check_format(0.1 + 0.2, "0.30000000000000004");
	check_format(1e300, "1e+300");
	check_format(-1.5e-300, "-1.5e-300");
	check_format(NAN, "NaN");
	check_format(INFINITY, "+Inf");
	check_format(-INFINITY, "-Inf");

	/* Every formatted value reads back to the same double. */
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 10000; i++) {
		char out[MX_VALUE_MAX];
		double d;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(&d, &x, sizeof(d));
		if (!isfinite(d))
			continue;
		mx_format_value(out, d);
		assert_true(strtod(out, NULL) == d);
	}
}

static void test_u64_samples_print_the_exact_integer(void **state)
{
	buf b;
	mx_writer w;

	buf_init(&b);
	mx_writer_init(&w, &b);
	mx_family(&w, "minidb_net_input_bytes_total", MX_COUNTER, "Bytes.");
	mx_sample_u64(&w, "minidb_net_input_bytes_total", NULL, 0, UINT64_MAX);
	assert_non_null(strstr(text(&b), "\nminidb_net_input_bytes_total 18446744073709551615\n"));
	buf_free(&b);
}

static void test_bounds_reject_unsorted_negative_infinite_or_too_many_bounds(void **state)
{
	mx_bounds b;
	const double unsorted[] = {0.1, 0.05};
	const double negative[] = {-1};
	const double inf[] = {1, INFINITY};
	const double same_ns[] = {1e-10, 2e-10};
	double many[MX_HIST_MAX_BOUNDS + 1];

	for (size_t i = 0; i < MX_HIST_MAX_BOUNDS + 1; i++)
		many[i] = (double)(i + 1);
	assert_int_equal(mx_bounds_init(&b, unsorted, 2), -EINVAL);
	assert_int_equal(mx_bounds_init(&b, negative, 1), -EINVAL);
	assert_int_equal(mx_bounds_init(&b, inf, 2), -EINVAL);
	assert_int_equal(mx_bounds_init(&b, same_ns, 2), -EINVAL);
	assert_int_equal(mx_bounds_init(&b, many, 0), -EINVAL);
	assert_int_equal(mx_bounds_init(&b, many, MX_HIST_MAX_BOUNDS + 1), -EINVAL);
	assert_int_equal(mx_bounds_init(&b, many, MX_HIST_MAX_BOUNDS), 0);
	assert_int_equal(mx_bounds_init(&b, req_seconds, 15), 0);
	assert_int_equal(b.ns[0], 50000);
	assert_int_equal(b.ns[14], 2500000000u);
}

/* The bucket index agrees with a plain linear scan for every bound count and
 * for values on, just below and just above every bound. */
static void test_an_observation_lands_in_the_first_bucket_whose_bound_is_not_below_it(void **state)
{
	for (size_t n = 1; n <= 15; n++) {
		mx_bounds b;
		assert_int_equal(mx_bounds_init(&b, req_seconds, n), 0);
		for (size_t i = 0; i < n; i++) {
			uint64_t probes[] = {0, b.ns[i] - 1, b.ns[i], b.ns[i] + 1, UINT64_MAX};
			for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
				size_t want = 0;
				while (want < n && b.ns[want] < probes[k])
					want++;
				assert_int_equal(mx_bounds_index(&b, probes[k]), want);
			}
		}
	}
}

static void test_a_histogram_writes_cumulative_buckets_sum_in_seconds_and_count(void **state)
{
	static const double secs[] = {0.00005, 0.001, 1};
	mx_bounds b;
	mx_hist h;
	mx_hist_snap s;
	buf out;
	mx_writer w;
	mx_label l[] = {{"method", "GET"}};

	assert_int_equal(mx_bounds_init(&b, secs, 3), 0);
	mx_hist_init(&h);
	mx_hist_observe_ns(&h, &b, 50000);      /* exactly on 5e-05 */
	mx_hist_observe_ns(&h, &b, 50001);      /* just above it */
	mx_hist_observe_ns(&h, &b, 1000000);    /* exactly 1 ms */
	mx_hist_observe_ns(&h, &b, 2000000000); /* beyond the last bound */
	mx_hist_merge(&s, (const mx_hist *const[]){&h}, 1, &b);
	assert_int_equal(s.count, 4);

	buf_init(&out);
	mx_writer_init(&w, &out);
	mx_family(&w, "request_duration_seconds", MX_HISTOGRAM, "Request latency.");
	mx_hist_write(&w, "request_duration_seconds", &b, &s, l, 1);
	assert_int_equal(mx_writer_error(&w), 0);
	assert_string_equal(text(&out),
	                    "# HELP request_duration_seconds Request latency.\n"
	                    "# TYPE request_duration_seconds histogram\n"
	                    "request_duration_seconds_bucket{method=\"GET\",le=\"5e-05\"} 1\n"
	                    "request_duration_seconds_bucket{method=\"GET\",le=\"0.001\"} 3\n"
	                    "request_duration_seconds_bucket{method=\"GET\",le=\"1\"} 3\n"
	                    "request_duration_seconds_bucket{method=\"GET\",le=\"+Inf\"} 4\n"
	                    "request_duration_seconds_sum{method=\"GET\"} 2.001100001\n"
	                    "request_duration_seconds_count{method=\"GET\"} 4\n");

	/* Without labels, le is the only label. */
	buf_reset(&out, 0);
	mx_writer_init(&w, &out);
	mx_family(&w, "minidb_wal_fsync_duration_seconds", MX_HISTOGRAM, "Fsync latency.");
	mx_hist_write(&w, "minidb_wal_fsync_duration_seconds", &b, &s, NULL, 0);
	assert_non_null(strstr(text(&out),
	                       "\nminidb_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 4\n"
	                       "minidb_wal_fsync_duration_seconds_sum 2.001100001\n"
	                       "minidb_wal_fsync_duration_seconds_count 4\n"));
	buf_free(&out);
}

struct observer {
	mx_hist hist;
	const mx_bounds *bounds;
	uint64_t first_ns, n;
	atomic_bool done;
};

static void *observe_thread(void *arg)
{
	struct observer *o = arg;

	for (uint64_t i = 0; i < o->n; i++)
		mx_hist_observe_ns(&o->hist, o->bounds, o->first_ns + i * 1000);
	atomic_store(&o->done, true);
	return NULL;
}

static void test_two_threads_histograms_merge_into_one_snapshot(void **state)
{
	mx_bounds b;
	struct observer o[2];
	pthread_t t[2];
	mx_hist_snap s;
	uint64_t want_sum = 0;

	assert_int_equal(mx_bounds_init(&b, req_seconds, 15), 0);
	for (int i = 0; i < 2; i++) {
		mx_hist_init(&o[i].hist);
		o[i].bounds = &b;
		o[i].first_ns = i == 0 ? 0 : 3000000000u; /* thread 1: all beyond 2.5 s */
		o[i].n = 100000;
		atomic_init(&o[i].done, false);
		for (uint64_t k = 0; k < o[i].n; k++)
			want_sum += o[i].first_ns + k * 1000;
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, observe_thread, &o[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);

	mx_hist_merge(&s, (const mx_hist *const[]){&o[0].hist, &o[1].hist}, 2, &b);
	assert_int_equal(s.count, 200000);
	assert_int_equal(mx_hist_count(&o[0].hist, &b), 100000);
	assert_int_equal(mx_hist_count(&o[1].hist, &b), 100000);
	assert_int_equal(s.sum_ns, want_sum);
	assert_int_equal(s.bucket[15], 100000); /* thread 1's */
	/* Thread 0 observed 0, 1 us, ..., 99.999 ms: 51 values <= 50 us. */
	assert_int_equal(s.bucket[0], 51);
	uint64_t cum = 0;
	for (size_t i = 0; i < 10; i++) /* bounds up to 50 ms */
		cum += s.bucket[i];
	assert_int_equal(cum, 50001);
}

static void test_a_scrape_racing_an_observer_sees_monotonic_consistent_snapshots(void **state)
{
	mx_bounds b;
	struct observer *o = calloc(1, sizeof(*o));
	pthread_t t;
	mx_hist_snap prev, s;
	double deadline = now_seconds() + 10;
	int scrapes = 0;

	assert_non_null(o);
	assert_int_equal(mx_bounds_init(&b, req_seconds, 15), 0);
	mx_hist_init(&o->hist);
	o->bounds = &b;
	o->first_ns = 0;
	o->n = 2000000;
	atomic_init(&o->done, false);
	mx_hist_snap_clear(&prev);
	assert_int_equal(pthread_create(&t, NULL, observe_thread, o), 0);
	while (!atomic_load(&o->done) && scrapes < 1000000 && now_seconds() < deadline) {
		mx_hist_merge(&s, (const mx_hist *const[]){&o->hist}, 1, &b);
		for (size_t i = 0; i <= 15; i++)
			assert_true(s.bucket[i] >= prev.bucket[i]);
		assert_true(s.count >= prev.count);
		assert_true(s.count <= o->n);
		prev = s;
		scrapes++;
	}
	pthread_join(t, NULL);
	mx_hist_merge(&s, (const mx_hist *const[]){&o->hist}, 1, &b);
	assert_int_equal(s.count, o->n);
	assert_true(scrapes > 0);
	free(o);
}

struct counter_thread {
	mx_counter c[4];
	uint64_t n;
};

static void *count_thread(void *arg)
{
	struct counter_thread *ct = arg;

	for (uint64_t i = 0; i < ct->n; i++) {
		mx_counter_add(&ct->c[i % 4], 1);
		mx_counter_add(&ct->c[3], 2);
	}
	return NULL;
}

static void test_per_thread_counter_arrays_are_summed_at_scrape_time(void **state)
{
	struct counter_thread ct[3];
	pthread_t t[3];
	uint64_t sum[4];

	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < 4; k++)
			atomic_init(&ct[i].c[k], 0);
		ct[i].n = 40000 * (uint64_t)(i + 1);
		assert_int_equal(pthread_create(&t[i], NULL, count_thread, &ct[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	mx_counters_sum(sum, 4, (const mx_counter *const[]){ct[0].c, ct[1].c, ct[2].c}, 3);
	/* 240000 increments in total, spread evenly over the four slots, and
	 * two more per increment on slot 3. */
	assert_int_equal(sum[0], 60000);
	assert_int_equal(sum[1], 60000);
	assert_int_equal(sum[2], 60000);
	assert_int_equal(sum[3], 60000 + 2 * 240000);

	mx_counters_sum(sum, 4, NULL, 0);
	assert_int_equal(sum[3], 0);
}

/* A /proc/<pid>/stat line with comm "a) (b c" and known fields: utime 250,
 * stime 50, starttime 1000, vsize 123456789, rss 300. */
static const char hostile_stat[] =
        "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 "
        "123456789 300 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";

static void test_proc_stat_parses_after_the_last_parenthesis_of_a_hostile_name(void **state)
{
	mx_process p;

	assert_int_equal(mx_process_parse_stat(hostile_stat, strlen(hostile_stat), 100, 4096,
	                                       1700000000, &p),
	                 0);
	assert_true(p.cpu_seconds == 3.0);
	assert_int_equal(p.resident_bytes, 300 * 4096);
	assert_int_equal(p.virtual_bytes, 123456789);
	assert_true(p.start_time_seconds == 1700000010.0);
}

static void test_proc_stat_rejects_truncated_or_malformed_text(void **state)
{
	mx_process p;
	const char *bad[] = {
	        "",
	        "4242 (no closing parenthesis S 1 2 3",
	        "4242 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250", /* cut after utime */
	        "4242 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 2x0 50 0 0 20 0 3 0 1000 1 2\n",
	        "4242 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 -5 1 2\n",
	        /* utime overflows 64 bits */
	        "1 (x) S 1 1 1 0 -1 4194560 100 0 0 0 99999999999999999999 50 0 0 20 0 3 0 5 1 2\n",
	        "4242 (x)S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 1 2\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mx_process_parse_stat(bad[i], strlen(bad[i]), 100, 4096, 0, &p),
		                 -EINVAL);
	/* Cut inside the rss field's neighbourhood: every prefix short of the
	 * rss digits fails, never reads past len. */
	const char *rss = strstr(hostile_stat, " 300 ");
	size_t cut = (size_t)(rss - hostile_stat);
	for (size_t len = 0; len <= cut; len++)
		assert_int_equal(mx_process_parse_stat(hostile_stat, len, 100, 4096, 0, &p),
		                 -EINVAL);
	assert_int_equal(mx_process_parse_stat(hostile_stat, cut + 4, 100, 4096, 0, &p), 0);
	assert_int_equal(mx_process_parse_stat(hostile_stat, strlen(hostile_stat), 0, 4096, 0, &p),
	                 -EINVAL);
}

static void test_proc_stat_btime_line_is_found_among_the_others(void **state)
{
	const char good[] = "cpu  1 2 3\ncpu0 1 2 3\nintr 5 6 7\nctxt 99\nbtime 1764280000\n"
	                    "processes 1234\n";
	const char bad[] = "cpu  1 2 3\nbtime x\n";
	const char none[] = "cpu  1 2 3\nbtimes 5\n";
	uint64_t bt = 0;

	assert_int_equal(mx_process_parse_btime(good, strlen(good), &bt), 0);
	assert_int_equal(bt, 1764280000u);
	assert_int_equal(mx_process_parse_btime(bad, strlen(bad), &bt), -EINVAL);
	assert_int_equal(mx_process_parse_btime(none, strlen(none), &bt), -EINVAL);
	assert_int_equal(mx_process_parse_btime("btime 7", 7, &bt), 0);
	assert_int_equal(bt, 7);
}

static void
test_process_metrics_of_this_process_are_plausible_even_with_a_hostile_name(void **state)
{
	char old[17] = {0};
	mx_process p;
	int fds[2];

	assert_int_equal(prctl(PR_GET_NAME, old, 0, 0, 0), 0);
	assert_int_equal(prctl(PR_SET_NAME, "x) (y z) ", 0, 0, 0), 0);
	assert_int_equal(pipe(fds), 0);
	int rc = mx_process_read(&p);
	prctl(PR_SET_NAME, old, 0, 0, 0);
	assert_int_equal(rc, 0);

	assert_true(p.cpu_seconds >= 0);
	assert_true(p.resident_bytes > 0);
	assert_true(p.virtual_bytes >= p.resident_bytes);
	double now = (double)time(NULL);
	assert_true(p.start_time_seconds <= now + 1);
	assert_true(p.start_time_seconds > now - 3600);
	assert_true(p.open_fds >= 5); /* stdin, stdout, stderr and the pipe */
	assert_true(p.max_fds >= p.open_fds);

	/* Two more descriptors are seen. */
	mx_process q;
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(mx_process_read(&q), 0);
	assert_int_equal(q.open_fds + 2, p.open_fds);
}

/* ---- promtool ---- */

/* Finds an executable named name on PATH into out. */
static bool find_on_path(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL;
	bool found = false;

	if (path == NULL)
		return false;
	copy = strdup(path);
	assert_non_null(copy);
	for (char *dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, cap, "%s/%s", dir, name);
		found = access(out, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* Runs argv with stdin from in_path, collecting stdout and stderr into out
 * (truncated to cap - 1 bytes), waiting at most timeout_s. Returns the exit
 * status, or -1 after killing a child that overran. */
static int run_with_input(char *const argv[], const char *in_path, char *out, size_t cap,
                          double timeout_s)
{
	int p[2], in, status = 0;
	size_t len = 0;
	double deadline = now_seconds() + timeout_s;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	in = open(in_path, O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(in, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in);
	close(p[1]);
	for (;;) {
		double left = deadline - now_seconds();
		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(p[0]);
			out[len] = '\0';
			return -1;
		}
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int r = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			continue;
		char tmp[4096];
		ssize_t n = read(p[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t take = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
		memcpy(out + len, tmp, take);
		len += take;
	}
	close(p[0]);
	out[len] = '\0';
	/* The output is closed; the exit follows promptly, still bounded. */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_seconds() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		usleep(10000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The exposition minidb serves, with every kind of family the contract lists. */
static void write_full_exposition(mx_writer *w)
{
	static const double wal_seconds[] = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	                                     0.05,   0.1,    0.25,  0.5,    1,     2.5,  5};
	static const char *const methods[] = {"GET", "LOOKUP", "SET", "DEL"};
	mx_bounds req, wal;
	mx_hist *h = calloc(2 * 4, sizeof(*h)); /* two threads x four methods */
	mx_hist wal_h;
	mx_hist_snap s;
	mx_process p;

	assert_non_null(h);
	assert_int_equal(mx_bounds_init(&req, req_seconds, 15), 0);
	assert_int_equal(mx_bounds_init(&wal, wal_seconds, 14), 0);
	for (uint64_t i = 0; i < 5000; i++)
		mx_hist_observe_ns(&h[i % 8], &req, (i * 7919) % 3000000000u);
	mx_hist_init(&wal_h);
	for (uint64_t i = 0; i < 100; i++)
		mx_hist_observe_ns(&wal_h, &wal, i * 150000);

	mx_family(w, "requests_total", MX_COUNTER, "Requests served, by command.");
	for (int m = 0; m < 4; m++) {
		mx_label l[] = {{"method", methods[m]}};
		mx_sample_u64(w, "requests_total", l, 1, 1000 + (uint64_t)m);
	}
	mx_family(w, "request_duration_seconds", MX_HISTOGRAM, "Request latency, by command.");
	for (int m = 0; m < 4; m++) {
		mx_label l[] = {{"method", methods[m]}};
		mx_hist_merge(&s, (const mx_hist *const[]){&h[m], &h[4 + m]}, 2, &req);
		mx_hist_write(w, "request_duration_seconds", &req, &s, l, 1);
	}
	mx_family(w, "request_errors_total", MX_COUNTER, "Failed requests, by command and reason.");
	mx_sample_u64(w, "request_errors_total",
	              (mx_label[]){{"method", "GET"}, {"reason", "noauth"}}, 2, 3);
	mx_sample_u64(w, "request_errors_total",
	              (mx_label[]){{"method", "SET"}, {"reason", "wrongtype"}}, 2, 1);
	mx_family(w, "minidb_connected_clients", MX_GAUGE, "Clients connected now.");
	mx_sample(w, "minidb_connected_clients", NULL, 0, 12);
	mx_family(w, "minidb_connections_rejected_total", MX_COUNTER,
	          "Connections refused, by reason.");
	mx_sample_u64(w, "minidb_connections_rejected_total",
	              (mx_label[]){{"reason", "maxclients"}}, 1, 0);
	mx_sample_u64(w, "minidb_connections_rejected_total",
	              (mx_label[]){{"reason", "tls_handshake"}}, 1, 2);
	mx_family(w, "minidb_wal_fsync_duration_seconds", MX_HISTOGRAM,
	          "Time spent in fsync of the WAL.");
	mx_hist_merge(&s, (const mx_hist *const[]){&wal_h}, 1, &wal);
	mx_hist_write(w, "minidb_wal_fsync_duration_seconds", &wal, &s, NULL, 0);
	mx_family(w, "minidb_snapshot_last_duration_seconds", MX_GAUGE,
	          "Duration of the last snapshot; \\ and \"quotes\"\nsurvive.");
	mx_sample(w, "minidb_snapshot_last_duration_seconds", NULL, 0, 0.123456789);
	mx_family(w, "minidb_used_memory_bytes", MX_GAUGE, "Memory used by data.");
	mx_sample(w, "minidb_used_memory_bytes", NULL, 0, NAN);
	mx_family(w, "minidb_maxmemory_bytes", MX_GAUGE, "Memory limit (+Inf when unlimited).");
	mx_sample(w, "minidb_maxmemory_bytes", NULL, 0, INFINITY);
	mx_family(w, "minidb_build_info", MX_GAUGE, "Build version and commit.");
	mx_sample(w, "minidb_build_info",
	          (mx_label[]){{"version", "0.1.0"}, {"commit", "ab\"c\\d\ne\xff"}}, 2, 1);
	assert_int_equal(mx_process_read(&p), 0);
	mx_process_write(w, &p);
	free(h);
}

static void test_promtool_accepts_a_full_exposition_without_problems(void **state)
{
	char promtool[4096], dir[4096], file[4200], out[65536];
	const char *tmp = getenv("TMPDIR");
	buf b;
	mx_writer w;

	if (!find_on_path("promtool", promtool, sizeof(promtool)))
		fail_msg("promtool is not on PATH: install Debian's prometheus package "
		         "(scripts/install-deps.sh does)");
	snprintf(dir, sizeof(dir), "%s/test_metrics.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/metrics.txt", dir);

	buf_init(&b);
	mx_writer_init(&w, &b);
	write_full_exposition(&w);
	assert_int_equal(mx_writer_error(&w), 0);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf_start(&b), 1, buf_used(&b), f), buf_used(&b));
	assert_int_equal(fclose(f), 0);
	/* The exposition holds what the families promise. */
	const char *t = text(&b);
	assert_non_null(
	        strstr(t, "request_duration_seconds_bucket{method=\"LOOKUP\",le=\"+Inf\"} "));
	assert_non_null(strstr(t, "\nprocess_open_fds "));
	assert_non_null(strstr(t, "\nminidb_maxmemory_bytes +Inf\n"));
	assert_non_null(strstr(t, "\nminidb_used_memory_bytes NaN\n"));

	char *argv[] = {promtool, "check", "metrics", NULL};
	int rc = run_with_input(argv, file, out, sizeof(out), 60);
	if (rc != 0 || out[0] != '\0')
		print_error("promtool exit %d, output:\n%s\nexposition:\n%s\n", rc, out, t);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");

	/* Negative control: promtool does report a family without HELP. */
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("# TYPE minidb_keys gauge\nminidb_keys 1\n", f);
	assert_int_equal(fclose(f), 0);
	rc = run_with_input(argv, file, out, sizeof(out), 60);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(out, "no help text"));

	buf_free(&b);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_label_values_escape_backslash_quote_and_newline),
	        cmocka_unit_test(test_help_text_escapes_backslash_and_newline_but_not_quotes),
	        cmocka_unit_test(
	                test_invalid_utf8_in_a_label_value_becomes_the_replacement_character),
	        cmocka_unit_test(test_a_family_announced_twice_in_a_row_gets_one_help_and_type),
	        cmocka_unit_test(
	                test_values_print_as_integers_shortest_decimals_or_prometheus_specials),
	        cmocka_unit_test(test_u64_samples_print_the_exact_integer),
	        cmocka_unit_test(test_bounds_reject_unsorted_negative_infinite_or_too_many_bounds),
	        cmocka_unit_test(
	                test_an_observation_lands_in_the_first_bucket_whose_bound_is_not_below_it),
	        cmocka_unit_test(
	                test_a_histogram_writes_cumulative_buckets_sum_in_seconds_and_count),
	        cmocka_unit_test(test_two_threads_histograms_merge_into_one_snapshot),
	        cmocka_unit_test(
	                test_a_scrape_racing_an_observer_sees_monotonic_consistent_snapshots),
	        cmocka_unit_test(test_per_thread_counter_arrays_are_summed_at_scrape_time),
	        cmocka_unit_test(
	                test_proc_stat_parses_after_the_last_parenthesis_of_a_hostile_name),
	        cmocka_unit_test(test_proc_stat_rejects_truncated_or_malformed_text),
	        cmocka_unit_test(test_proc_stat_btime_line_is_found_among_the_others),
	        cmocka_unit_test(
	                test_process_metrics_of_this_process_are_plausible_even_with_a_hostile_name),
	        cmocka_unit_test(test_promtool_accepts_a_full_exposition_without_problems),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
