/* test_http_secure.c - the HTTP endpoint over TLS (--http-tls) and behind a
 * bearer token (--http-auth), on the real server with real peers: curl over
 * https trusting only the test CA, plain http to the TLS port, openssl
 * s_client offering TLS 1.1, named and legacy tokens and an HS256 JWT,
 * revocation and certificate rotation by SIGHUP, the start-up errors, and a
 * real Prometheus scraping with the documented scrape configuration
 * (scheme https, tls_config.ca_file, authorization.credentials_file).
 * Certificates are made at test time by tests/tls_certs.h; tokens by
 * minidb-cli hash-token --generate (auth_testlib.h).
 */
#include <limits.h>

#include "../tls_certs.h"
#include "auth_testlib.h"

static char *certdir;
static char *curl_bin, *openssl_bin;

/* certdir/name in a ring of buffers (valid for the next 31 calls). */
static const char *cpath(const char *name)
{
	static char bufs[32][PATH_MAX];
	static int next;
	char *p = bufs[next++ % 32];
	snprintf(p, PATH_MAX, "%s/%s", certdir, name);
	return p;
}

static int certs_setup(void **state)
{
	(void)state;
	curl_bin = mdb_which("curl");
	openssl_bin = mdb_which("openssl");
	if (curl_bin == NULL || openssl_bin == NULL) {
		fprintf(stderr, "test_http_secure: no curl or openssl command; skipped\n");
		exit(77);
	}
	certdir = mdb_temp_dir();
	if (certdir == NULL)
		return -1;
	static const char san[] = "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
	if (tls_certs_make_ca(certdir, "ca", "/CN=minidb http test CA", NULL) != 0 ||
	    tls_certs_make_ca(certdir, "ca2", "/CN=minidb http rotated CA", NULL) != 0 ||
	    tls_certs_make_signed(certdir, "server", "ca", "/CN=localhost", san) != 0 ||
	    tls_certs_make_signed(certdir, "rotated", "ca2", "/CN=localhost-rotated", san) != 0)
		return -1;
	return 0;
}

static int certs_teardown(void **state)
{
	(void)state;
	if (certdir != NULL)
		mdb_remove_tree(certdir);
	free(certdir);
	free(curl_bin);
	free(openssl_bin);
	return 0;
}

/* One curl request. */
typedef struct hres {
	int curl;   /* curl's exit status (0: a response came) */
	int status; /* HTTP status, or 0 */
	char *head; /* status line and headers, malloc'd */
	char *body; /* malloc'd */
} hres;

static void hres_free(hres *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* GETs path on 127.0.0.1:port: over https trusting cacert when it is not
 * NULL, plain http otherwise; with "Authorization: Bearer token" when token
 * is not NULL. */
static hres http_req(int port, const char *path, const char *cacert, const char *token)
{
	char url[128], auth[8300];
	const char *argv[24];
	int n = 0;
	snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", cacert ? "https" : "http", port, path);
	argv[n++] = curl_bin;
	argv[n++] = "-q";
	argv[n++] = "-s";
	argv[n++] = "-i";
	argv[n++] = "--noproxy";
	argv[n++] = "*";
	argv[n++] = "--max-time";
	argv[n++] = "10";
	argv[n++] = "-w";
	argv[n++] = "\n%{http_code}";
	if (cacert != NULL) {
		argv[n++] = "--cacert";
		argv[n++] = cacert;
	}
	if (token != NULL) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
		argv[n++] = "-H";
		argv[n++] = auth;
	}
	argv[n++] = url;
	argv[n] = NULL;
	mdb_proc p;
	hres r = {0};
	assert_int_equal(mdb_run(argv, NULL, 0, mdb_timeout_ms(15000), &p), 0);
	r.curl = p.status;
	char *nl = strrchr(p.out, '\n');
	if (nl != NULL) {
		r.status = atoi(nl + 1);
		*nl = '\0';
	}
	char *sep = strstr(p.out, "\r\n\r\n");
	if (sep != NULL) {
		*sep = '\0';
		r.body = strdup(sep + 4);
	} else {
		r.body = strdup("");
	}
	r.head = strdup(p.out);
	mdb_proc_free(&p);
	return r;
}

/* The HTTP status of one request (curl's failure: -curl status). */
static int http_status(int port, const char *path, const char *cacert, const char *token)
{
	hres r = http_req(port, path, cacert, token);
	int st = r.curl == 0 ? r.status : -r.curl;
	hres_free(&r);
	return st;
}

/* The value of an unlabelled sample in an exposition, or -1. */
static double sample(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* Server flags for HTTPS with certdir's name.pem and name.key. */
#define TLS_FLAGS                                                                                  \
	"--http-port=-1", "--http-tls", "--tls-cert-file", cpath("server.pem"), "--tls-key-file",  \
	        cpath("server.key")

/* Copies certdir/from.{pem,key} over the files the server was started with
 * (dir/live.{pem,key}), each through a rename so a reload never reads half. */
static void install_cert(const fx *f, const char *from)
{
	char name[64];
	const char *ext[] = {".pem", ".key"};
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof name, "%s%s", from, ext[i]);
		char *text = mdb_read_file(cpath(name), NULL);
		assert_non_null(text);
		snprintf(name, sizeof name, "live%s", ext[i]);
		free(fx_write(f, name, text));
		free(text);
	}
}

/* Sends SIGHUP and waits for the reload's n-th "reloaded" log line. */
static void sighup(fx *f, int n)
{
	assert_int_equal(mdb_signal(f->s, SIGHUP), 0);
	long long deadline = mdb_now_ms() + mdb_timeout_ms(10000);
	for (;;) {
		char *log = mdb_read_file(f->s->log_path, NULL);
		int seen = 0;
		for (const char *p = log; p != NULL && (p = strstr(p, "\"msg\":\"reloaded\"")); p++)
			seen++;
		free(log);
		if (seen >= n)
			return;
		assert_true(mdb_now_ms() < deadline);
		mdb_sleep_ms(20);
	}
}

/* ---- TLS ---- */

static void https_serves_every_path_to_a_client_trusting_the_ca(void **state)
{
	fx *f = *state;
	fx_start(f, ARGS(TLS_FLAGS));
	int hp = mdb_http_port(f->s);
	assert_true(hp > 0);
	char *line = mdb_last_log_line(f->s, "\"listener\":\"http\"");
	assert_non_null(line);
	assert_non_null(strstr(line, "\"tls\":true"));
	free(line);

	hres r = http_req(hp, "/metrics", cpath("ca.pem"), NULL);
	assert_int_equal(r.curl, 0);
	assert_int_equal(r.status, 200);
	assert_true(sample(r.body, "minidb_ready") == 1);
	hres_free(&r);
	assert_int_equal(http_status(hp, "/healthz", cpath("ca.pem"), NULL), 200);
	assert_int_equal(http_status(hp, "/readyz", cpath("ca.pem"), NULL), 200);
	/* A client that trusts another CA refuses the server (curl 60). */
	assert_int_equal(http_status(hp, "/healthz", cpath("ca2.pem"), NULL), -60);
}

static void plain_http_to_the_tls_port_gets_no_response(void **state)
{
	fx *f = *state;
	fx_start(f, ARGS(TLS_FLAGS));
	int hp = mdb_http_port(f->s);
	hres r = http_req(hp, "/healthz", NULL, NULL);
	assert_int_not_equal(r.curl, 0);
	assert_int_equal(r.status, 0);
	hres_free(&r);
	/* The endpoint still serves TLS clients afterwards. */
	assert_int_equal(http_status(hp, "/healthz", cpath("ca.pem"), NULL), 200);
}

/* openssl s_client with one protocol flag asking for /healthz; its exit
 * status, the output in *out (malloc'd). */
static int s_client(int port, const char *version_flag, const char *cafile, char **out)
{
	return mdb_s_client(openssl_bin, port, cafile, NULL, version_flag,
	                    "GET /healthz HTTP/1.0\r\n\r\n", out);
}

static void tls_1_2_and_1_3_are_accepted_and_tls_1_1_refused(void **state)
{
	fx *f = *state;
	fx_start(f, ARGS(TLS_FLAGS));
	int hp = mdb_http_port(f->s);
	char *out = NULL;
	assert_int_equal(s_client(hp, "-tls1_2", cpath("ca.pem"), &out), 0);
	assert_non_null(strstr(out, "Protocol  : TLSv1.2"));
	assert_non_null(strstr(out, " 200 OK\r\n"));
	free(out);
	assert_int_equal(s_client(hp, "-tls1_3", cpath("ca.pem"), &out), 0);
	assert_non_null(strstr(out, "New, TLSv1.3"));
	assert_non_null(strstr(out, " 200 OK\r\n"));
	free(out);
	assert_int_not_equal(s_client(hp, "-tls1_1", cpath("ca.pem"), &out), 0);
	assert_null(strstr(out, " 200 OK\r\n"));
	free(out);
}

static void sighup_with_new_certificate_files_serves_the_new_certificate(void **state)
{
	fx *f = *state;
	install_cert(f, "server");
	char *pem = fx_path(f, "live.pem"), *key = fx_path(f, "live.key");
	fx_start(f, ARGS("--http-port=-1", "--http-tls", "--tls-cert-file", pem, "--tls-key-file",
	                 key));
	int hp = mdb_http_port(f->s);
	assert_int_equal(http_status(hp, "/healthz", cpath("ca.pem"), NULL), 200);

	/* Unchanged files: nothing to do. */
	sighup(f, 1);
	assert_false(mdb_log_contains(f->s, "serves the new certificate"));

	install_cert(f, "rotated");
	sighup(f, 2);
	assert_true(mdb_log_contains(f->s, "serves the new certificate"));
	assert_int_equal(mdb_http_port(f->s), hp);
	assert_int_equal(http_status(hp, "/healthz", cpath("ca2.pem"), NULL), 200);
	assert_int_equal(http_status(hp, "/healthz", cpath("ca.pem"), NULL), -60);
	char *out = NULL;
	assert_int_equal(s_client(hp, "-tls1_3", cpath("ca2.pem"), &out), 0);
	assert_non_null(strstr(out, "CN = localhost-rotated"));
	free(out);

	/* A broken pair is refused and the rotated certificate stays. */
	free(fx_write(f, "live.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n"));
	sighup(f, 3);
	assert_true(mdb_log_contains(f->s, "HTTPS certificate refused; the old one stays in use"));
	assert_int_equal(http_status(hp, "/healthz", cpath("ca2.pem"), NULL), 200);
	free(pem);
	free(key);
}

/* ---- bearer tokens ---- */

/* A config file with named tokens, the legacy token and a JWT secret, but
 * without security.auth_enabled: --http-auth does not need the client port
 * to ask for credentials. malloc'd path. */
static char *metrics_config(const fx *f, const tokdef *toks, size_t ntoks, const char *legacy,
                            const char *jwt_secret)
{
	return write_config_auth(f, "minidb.yaml", 0, toks, ntoks, legacy, jwt_secret);
}

static void metrics_needs_a_valid_bearer_token_and_the_probes_stay_open(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "prometheus", .perms = "read"}};
	char legacy[65], secret[65];
	gen_token(&toks[0]);
	random_hex(legacy, 24);
	hs_secret(secret);
	char *cfg = metrics_config(f, toks, 1, legacy, secret);
	fx_start(f, ARGS(TLS_FLAGS, "--http-auth", "--config", cfg));
	free(cfg);
	int hp = mdb_http_port(f->s);
	const char *ca = cpath("ca.pem");

	/* No token: the challenge, nothing else. */
	hres r = http_req(hp, "/metrics", ca, NULL);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer realm=\"minidb\"\r\n"));
	assert_null(strstr(r.body, "minidb_"));
	hres_free(&r);

	/* A wrong token: invalid_token, and the token is not echoed. */
	r = http_req(hp, "/metrics", ca, "not-the-token-1234");
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(
	        r.head, "WWW-Authenticate: Bearer realm=\"minidb\", error=\"invalid_token\""));
	assert_null(strstr(r.head, "not-the-token"));
	assert_null(strstr(r.body, "not-the-token"));
	assert_null(strstr(r.body, "minidb_"));
	hres_free(&r);

	/* The named token, the legacy token and a JWT are accepted. */
	r = http_req(hp, "/metrics", ca, toks[0].token);
	assert_int_equal(r.status, 200);
	assert_true(sample(r.body, "minidb_http_auth_failures_total") == 2);
	hres_free(&r);
	assert_int_equal(http_status(hp, "/metrics", ca, legacy), 200);
	char *claims = good_claims("scraper", NULL);
	char *jwt = jwt_make(JWT_SIGN_HS256, NULL, claims, NULL, secret, strlen(secret));
	assert_int_equal(http_status(hp, "/metrics", ca, jwt), 200);
	free(jwt);
	free(claims);

	/* An expired JWT and one signed with another secret are refused. */
	claims = claims_json("scraper", ISSUER, AUDIENCE, now_s() - 3600, 0, NULL);
	jwt = jwt_make(JWT_SIGN_HS256, NULL, claims, NULL, secret, strlen(secret));
	assert_int_equal(http_status(hp, "/metrics", ca, jwt), 401);
	free(jwt);
	free(claims);
	claims = good_claims("scraper", NULL);
	jwt = jwt_make(JWT_SIGN_HS256, NULL, claims, NULL, "another secret of 32 bytes......", 32);
	assert_int_equal(http_status(hp, "/metrics", ca, jwt), 401);
	free(jwt);
	free(claims);

	/* Orchestrator probes need no token. */
	assert_int_equal(http_status(hp, "/healthz", ca, NULL), 200);
	assert_int_equal(http_status(hp, "/readyz", ca, NULL), 200);
	/* The client port did not turn authentication on. */
	mdb_conn *c = fx_conn(f);
	EXPECT(c, "+PONG", "PING");
	EXPECT(c, "+OK", "SET", "k", "v");
	checks_done();

	/* No token or secret reached the log. */
	assert_false(mdb_log_contains(f->s, toks[0].token));
	assert_false(mdb_log_contains(f->s, legacy));
	assert_false(mdb_log_contains(f->s, "not-the-token"));
	assert_true(mdb_log_contains(f->s, "HTTP bearer token refused"));
}

static void bearer_auth_also_works_over_plain_http(void **state)
{
	fx *f = *state;
	char legacy[65];
	random_hex(legacy, 24);
	char *cfg = metrics_config(f, NULL, 0, legacy, NULL);
	fx_start(f, ARGS("--http-port=-1", "--http-auth", "--config", cfg));
	free(cfg);
	int hp = mdb_http_port(f->s);
	assert_int_equal(http_status(hp, "/metrics", NULL, NULL), 401);
	assert_int_equal(http_status(hp, "/metrics", NULL, legacy), 200);
	assert_int_equal(http_status(hp, "/healthz", NULL, NULL), 200);
}

static void sighup_revoking_a_token_makes_metrics_refuse_it_at_once(void **state)
{
	fx *f = *state;
	tokdef toks[] = {{.name = "old-scraper", .perms = "read"},
	                 {.name = "new-scraper", .perms = "read"}};
	gen_token(&toks[0]);
	gen_token(&toks[1]);
	char *cfg = metrics_config(f, toks, 2, NULL, NULL);
	fx_start(f, ARGS(TLS_FLAGS, "--http-auth", "--config", cfg));
	int hp = mdb_http_port(f->s);
	const char *ca = cpath("ca.pem");
	assert_int_equal(http_status(hp, "/metrics", ca, toks[0].token), 200);
	assert_int_equal(http_status(hp, "/metrics", ca, toks[1].token), 200);

	free(metrics_config(f, toks + 1, 1, NULL, NULL));
	sighup(f, 1);
	assert_int_equal(http_status(hp, "/metrics", ca, toks[0].token), 401);
	assert_int_equal(http_status(hp, "/metrics", ca, toks[1].token), 200);
	free(cfg);
}

/* ---- a real Prometheus ---- */

/* The value of "field":"..." in the target of scrape pool job in a
 * /api/v1/targets answer, copied into out; "" when absent. */
static void target_field(const char *json, const char *job, const char *field, char *out,
                         size_t cap)
{
	char key[64], fkey[64];
	snprintf(key, sizeof key, "\"scrapePool\":\"%s\"", job);
	snprintf(fkey, sizeof fkey, "\"%s\":\"", field);
	out[0] = '\0';
	const char *t = strstr(json, key);
	if (t == NULL)
		return;
	const char *next = strstr(t + 1, "\"scrapePool\":");
	const char *v = strstr(t, fkey);
	if (v == NULL || (next != NULL && v > next))
		return;
	v += strlen(fkey);
	size_t n = strcspn(v, "\"");
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
}

static void a_real_prometheus_scrapes_over_https_with_a_token_file(void **state)
{
	fx *f = *state;
	char *prom = mdb_which("prometheus");
	if (prom == NULL) {
		print_message("no prometheus command here; skipped\n");
		skip();
	}
	tokdef toks[] = {{.name = "prometheus", .perms = "read"}};
	gen_token(&toks[0]);
	char *cfg = metrics_config(f, toks, 1, NULL, NULL);
	fx_start(f, ARGS(TLS_FLAGS, "--http-auth", "--config", cfg));
	free(cfg);
	int hp = mdb_http_port(f->s);

	char line[300];
	snprintf(line, sizeof line, "%s\n", toks[0].token);
	char *good = fx_write(f, "good.token", line);
	char *bad = fx_write(f, "bad.token", "not-the-token\n");
	char yml[4096];
	static const char job[] = "  - job_name: %s\n"
	                          "    scheme: https\n"
	                          "    tls_config:\n"
	                          "      ca_file: %s\n"
	                          "      min_version: TLS12\n"
	                          "    authorization:\n"
	                          "      type: Bearer\n"
	                          "      credentials_file: %s\n"
	                          "    static_configs:\n"
	                          "      - targets: ['127.0.0.1:%d']\n";
	int n = snprintf(yml, sizeof yml, "global:\n  scrape_interval: 1s\nscrape_configs:\n");
	n += snprintf(yml + n, sizeof yml - (size_t)n, job, "good", cpath("ca.pem"), good, hp);
	n += snprintf(yml + n, sizeof yml - (size_t)n, job, "bad", cpath("ca.pem"), bad, hp);
	assert_true((size_t)n < sizeof yml);
	char *conf = fx_write(f, "prometheus.yml", yml);
	char *out = fx_path(f, "prometheus.out");
	char a_conf[PATH_MAX + 32], a_tsdb[PATH_MAX + 32], a_listen[64];
	snprintf(a_conf, sizeof a_conf, "--config.file=%s", conf);
	snprintf(a_tsdb, sizeof a_tsdb, "--storage.tsdb.path=%s/tsdb", f->dir);

	/* Its web port is picked free and may be taken meanwhile: a few tries. */
	pid_t pid = -1;
	int pport = -1;
	for (int i = 0; i < 5 && pid < 0; i++) {
		pport = mdb_free_port();
		snprintf(a_listen, sizeof a_listen, "--web.listen-address=127.0.0.1:%d", pport);
		pid = mdb_spawn_bg(ARGS(prom, a_conf, a_tsdb, a_listen), out);
		assert_true(pid > 0);
		long long deadline = mdb_now_ms() + mdb_timeout_ms(30000);
		while (mdb_http_get(pport, "/-/ready", NULL, 1000) != 200) {
			if (mdb_bg_exited(pid) >= 0 || mdb_now_ms() > deadline) {
				mdb_bg_stop(pid, mdb_timeout_ms(5000));
				pid = -1;
				break;
			}
			mdb_sleep_ms(50);
		}
	}
	assert_true(pid > 0);

	/* Wait (bounded) until both targets were scraped. */
	char health_good[16] = "", health_bad[16] = "", err_bad[256] = "";
	long long deadline = mdb_now_ms() + mdb_timeout_ms(30000);
	while (mdb_now_ms() < deadline) {
		char *body = NULL;
		if (mdb_http_get(pport, "/api/v1/targets", &body, 2000) == 200) {
			target_field(body, "good", "health", health_good, sizeof health_good);
			target_field(body, "bad", "health", health_bad, sizeof health_bad);
			target_field(body, "bad", "lastError", err_bad, sizeof err_bad);
		}
		free(body);
		if (strcmp(health_good, "up") == 0 && strcmp(health_bad, "down") == 0)
			break;
		mdb_sleep_ms(200);
	}
	mdb_bg_stop(pid, mdb_timeout_ms(10000));
	if (strcmp(health_good, "up") != 0 || strcmp(health_bad, "down") != 0) {
		char *text = mdb_read_file(out, NULL);
		print_error("prometheus output:\n%s\n", text ? text : "(none)");
		free(text);
		fail_msg("targets: good %s, bad %s (%s)", health_good, health_bad, err_bad);
	}
	assert_non_null(strstr(err_bad, "401"));
	free(prom);
	free(good);
	free(bad);
	free(conf);
	free(out);
}

/* ---- start-up errors ---- */

/* Runs the server with args and expects it to exit with status 2 and a
 * message holding want. */
static void expect_config_error(const fx *f, const char *const args[], const char *want)
{
	const char *argv[24];
	int n = 0;
	char *data = fx_path(f, "data");
	argv[n++] = mdb_binary_path("MINIDB_BIN", "minidb");
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--data-dir";
	argv[n++] = data;
	argv[n++] = "--http-port=-1";
	for (size_t i = 0; args[i] != NULL && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	mdb_proc p;
	assert_int_equal(mdb_run(argv, NULL, 0, mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), &p), 0);
	if (p.status != 2 || strstr(p.err, want) == NULL)
		fail_msg("expected exit 2 and \"%s\"; got %d:\n%s", want, p.status, p.err);
	mdb_proc_free(&p);
	free(data);
}

static void bad_tls_or_auth_settings_stop_the_start_with_status_2(void **state)
{
	fx *f = *state;
	expect_config_error(f, ARGS("--http-tls"),
	                    "--http-tls needs --tls-cert-file and --tls-key-file");
	expect_config_error(f,
	                    ARGS("--http-tls", "--tls-cert-file", cpath("server.pem"),
	                         "--tls-key-file", cpath("nonexistent.key")),
	                    "--tls-key-file");
	/* The key of another certificate. */
	expect_config_error(f,
	                    ARGS("--http-tls", "--tls-cert-file", cpath("server.pem"),
	                         "--tls-key-file", cpath("rotated.key")),
	                    "does not match the certificate");
	char *junk = fx_write(f, "junk.pem", "this is not PEM\n");
	expect_config_error(
	        f,
	        ARGS("--http-tls", "--tls-cert-file", junk, "--tls-key-file", cpath("server.key")),
	        "--tls-cert-file");
	free(junk);
	expect_config_error(f, ARGS("--http-auth"),
	                    "--http-auth (metrics.auth) needs a credential");
}

#define TC(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        TC(https_serves_every_path_to_a_client_trusting_the_ca),
	        TC(plain_http_to_the_tls_port_gets_no_response),
	        TC(tls_1_2_and_1_3_are_accepted_and_tls_1_1_refused),
	        TC(sighup_with_new_certificate_files_serves_the_new_certificate),
	        TC(metrics_needs_a_valid_bearer_token_and_the_probes_stay_open),
	        TC(bearer_auth_also_works_over_plain_http),
	        TC(sighup_revoking_a_token_makes_metrics_refuse_it_at_once),
	        TC(a_real_prometheus_scrapes_over_https_with_a_token_file),
	        TC(bad_tls_or_auth_settings_stop_the_start_with_status_2),
	};
	return cmocka_run_group_tests(tests, certs_setup, certs_teardown);
}
