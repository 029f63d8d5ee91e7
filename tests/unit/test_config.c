/* test_config.c - unit tests for config.c: defaults, every YAML key and
 * flag, precedence of flags over the file, and the error messages of every
 * error class (they must name the key or flag and the line, and must never
 * show the auth token). Hostile inputs: NUL bytes, long keys, invalid UTF-8,
 * aliases, oversized files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define SECRET "hunter2-secret-token"
/* How config.c describes a size in its error messages. */
#define SIZE_SYNTAX "bytes, or a number with suffix k, kb, m, mb, g or gb"

/* Fails the test unless hay contains needle (or, with want false, unless
 * it does not). */
static void check_contains(const char *hay, const char *needle, bool want, const char *file,
                           int line)
{
	const char *h = hay != NULL ? hay : "(null)";

	if ((strstr(h, needle) != NULL) != want) {
		print_error("'%s' %s '%s'\n", h, want ? "does not contain" : "contains", needle);
		_fail(file, line);
	}
}

#define assert_contains(hay, needle)     check_contains((hay), (needle), true, __FILE__, __LINE__)
#define assert_not_contains(hay, needle) check_contains((hay), (needle), false, __FILE__, __LINE__)

/* argv for config_load: ARGV("--port", "1") is {"minidb", "--port", "1", NULL}. */
#define ARGV(...) ((char *[]){"minidb", __VA_ARGS__, NULL})

static int load_yaml(config *cfg, const char *yaml, char *err, size_t errlen)
{
	config_defaults(cfg);
	return config_load_yaml(cfg, "config.yaml", yaml, strlen(yaml), err, errlen);
}

static int load_args(config *cfg, char **argv, char *err, size_t errlen)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	config_defaults(cfg);
	return config_load(cfg, argc, argv, err, errlen);
}

/* Loads yaml and requires CONFIG_ERROR with exactly the message want. */
static void expect_yaml_error(const char *yaml, const char *want)
{
	config cfg;
	char err[512];

	assert_int_equal(load_yaml(&cfg, yaml, err, sizeof err), CONFIG_ERROR);
	assert_string_equal(err, want);
	config_free(&cfg);
}

/* Loads yaml and requires CONFIG_ERROR with a message containing want. */
static void expect_yaml_error_with(const char *yaml, const char *want)
{
	config cfg;
	char err[512];

	assert_int_equal(load_yaml(&cfg, yaml, err, sizeof err), CONFIG_ERROR);
	assert_contains(err, want);
	assert_null(strchr(err, '\n'));
	config_free(&cfg);
}

static char *write_temp(const char *text, size_t len)
{
	char path[] = "/tmp/minidb-test-config-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return strdup(path);
}

/* Runs config_load with stdout redirected; returns what it printed. */
static char *capture_load(char **argv, int *rc)
{
	FILE *tmp = tmpfile();
	int saved = dup(1);
	config cfg;
	char err[512];
	char *out = calloc(1, 65536);
	size_t n;

	if (tmp == NULL || out == NULL)
		abort(); /* tells the compiler out is never NULL below */
	fflush(stdout);
	dup2(fileno(tmp), 1);
	*rc = load_args(&cfg, argv, err, sizeof err);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, 65535, tmp);
	out[n] = '\0';
	fclose(tmp);
	config_free(&cfg);
	return out;
}

static void test_defaults_match_the_documented_values(void **state)
{
	config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_null(cfg.config_file);
	assert_string_equal(cfg.bind, "127.0.0.1");
	assert_int_equal(cfg.port, 8080);
	assert_string_equal(cfg.data_dir, "./data");
	assert_int_equal(cfg.threads, 0);
	assert_int_equal(cfg.max_clients, 10000);
	assert_int_equal(cfg.idle_timeout, 0);
	assert_int_equal(cfg.shutdown_timeout, 10);
	assert_int_equal(cfg.max_line_bytes, 1 << 20);
	assert_int_equal(cfg.max_key_bytes, 64 << 10);
	assert_int_equal(cfg.max_value_bytes, 512 << 20);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
	assert_false(cfg.tls);
	assert_null(cfg.tls_cert_file);
	assert_null(cfg.tls_key_file);
	assert_false(cfg.auth_enabled);
	assert_null(cfg.auth_token);
	config_free(&cfg);
}

static void test_default_strings_are_heap_copies_and_free_is_idempotent(void **state)
{
	config cfg;

	(void)state;
	config_defaults(&cfg);
	cfg.bind[0] = '0'; /* writable: not a string literal */
	config_free(&cfg);
	assert_null(cfg.bind);
	assert_null(cfg.data_dir);
	config_free(&cfg);
}

static void test_every_yaml_key_sets_its_field(void **state)
{
	const char *yaml = "server:\n"
	                   "  port: 9001\n"
	                   "  bind: 0.0.0.0\n"
	                   "  threads: 12\n"
	                   "  max_clients: 77\n"
	                   "  idle_timeout: 300\n"
	                   "  shutdown_timeout: 0\n"
	                   "  tls: yes\n"
	                   "  tls_cert_file: a.crt\n"
	                   "  tls_key_file: 'a.key'\n"
	                   "storage:\n"
	                   "  data_dir: /var/lib/minidb\n"
	                   "logging:\n"
	                   "  level: debug\n"
	                   "  format: text\n"
	                   "limits:\n"
	                   "  max_line_bytes: 4k\n"
	                   "  max_key_bytes: 100\n"
	                   "  max_value_bytes: 2g\n"
	                   "security:\n"
	                   "  auth_enabled: on\n"
	                   "  auth_token: \"" SECRET "\"\n";
	config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_yaml(&cfg, yaml, err, sizeof err), CONFIG_OK);
	assert_int_equal(cfg.port, 9001);
	assert_string_equal(cfg.bind, "0.0.0.0");
	assert_int_equal(cfg.threads, 12);
	assert_int_equal(cfg.max_clients, 77);
	assert_int_equal(cfg.idle_timeout, 300);
	assert_int_equal(cfg.shutdown_timeout, 0);
	assert_true(cfg.tls);
	assert_string_equal(cfg.tls_cert_file, "a.crt");
	assert_string_equal(cfg.tls_key_file, "a.key");
	assert_string_equal(cfg.data_dir, "/var/lib/minidb");
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
	assert_int_equal(cfg.max_line_bytes, 4096);
	assert_int_equal(cfg.max_key_bytes, 100);
	assert_true(cfg.max_value_bytes == 2ULL << 30);
	assert_true(cfg.auth_enabled);
	assert_string_equal(cfg.auth_token, SECRET);
	assert_null(cfg.config_file);
	config_free(&cfg);
}

static void test_the_original_mini_db_config_loads(void **state)
{
	const char *yaml = "server:\n"
	                   "  port: 8080\n"
	                   "  tls: false\n"
	                   "  tls_cert_file: \"certs/server.crt\"\n"
	                   "  tls_key_file: \"certs/server.key\"\n"
	                   "storage:\n"
	                   "  file_path: \"data/minidb.parquet\"\n"
	                   "logging:\n"
	                   "  level: \"info\"\n"
	                   "security:\n"
	                   "  auth_enabled: false\n"
	                   "  auth_token: \"your-secret-token\"\n";
	config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_yaml(&cfg, yaml, err, sizeof err), CONFIG_OK);
	assert_int_equal(cfg.port, 8080);
	assert_false(cfg.tls);
	assert_string_equal(cfg.tls_cert_file, "certs/server.crt");
	assert_string_equal(cfg.tls_key_file, "certs/server.key");
	assert_string_equal(cfg.data_dir, "data");
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_false(cfg.auth_enabled);
	assert_string_equal(cfg.auth_token, "your-secret-token");
	config_free(&cfg);
}

static void test_the_example_config_file_loads_with_the_defaults(void **state)
{
	char path[4096];
	const char *slash = strrchr(__FILE__, '/');
	config cfg, def;
	char err[512];

	(void)state;
	/* __FILE__ is tests/unit/test_config.c, absolute under CMake. */
	snprintf(path, sizeof path, "%.*s/../../config/config.yaml",
	         slash != NULL ? (int)(slash - __FILE__) : 1, slash != NULL ? __FILE__ : ".");
	assert_int_equal(load_args(&cfg, ARGV("--config", path), err, sizeof err), CONFIG_OK);
	config_defaults(&def);
	assert_int_equal(cfg.port, def.port);
	assert_string_equal(cfg.bind, def.bind);
	assert_string_equal(cfg.data_dir, def.data_dir);
	assert_int_equal(cfg.threads, def.threads);
	assert_int_equal(cfg.max_clients, def.max_clients);
	assert_int_equal(cfg.idle_timeout, def.idle_timeout);
	assert_int_equal(cfg.shutdown_timeout, def.shutdown_timeout);
	assert_int_equal(cfg.max_line_bytes, def.max_line_bytes);
	assert_int_equal(cfg.max_key_bytes, def.max_key_bytes);
	assert_int_equal(cfg.max_value_bytes, def.max_value_bytes);
	assert_int_equal(cfg.log_level, def.log_level);
	assert_int_equal(cfg.log_format, def.log_format);
	assert_int_equal(cfg.tls, def.tls);
	assert_int_equal(cfg.auth_enabled, def.auth_enabled);
	config_free(&def);
	config_free(&cfg);
}

static void test_dotted_keys_at_the_top_level_are_accepted(void **state)
{
	config cfg;
	char err[512];

	(void)state;
	assert_int_equal(
	        load_yaml(&cfg, "server.port: 1234\nlimits.max_key_bytes: 1k\n", err, sizeof err),
	        CONFIG_OK);
	assert_int_equal(cfg.port, 1234);
	assert_int_equal(cfg.max_key_bytes, 1024);
	config_free(&cfg);
}

static void test_file_path_sets_data_dir_to_its_directory(void **state)
{
	static const struct {
		const char *file_path, *data_dir;
	} cases[] = {
	        {"data/minidb.parquet", "data"}, {"minidb.parquet", "."}, {"/minidb.parquet", "/"},
	        {"a//b/c.parquet", "a//b"},      {"dir/", "dir"},
	};
	char yaml[256], err[512];
	config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(yaml, sizeof yaml, "storage:\n  file_path: \"%s\"\n", cases[i].file_path);
		assert_int_equal(load_yaml(&cfg, yaml, err, sizeof err), CONFIG_OK);
		assert_string_equal(cfg.data_dir, cases[i].data_dir);
		assert_string_equal(cfg.file_path, cases[i].file_path);
		config_free(&cfg);
	}
	expect_yaml_error("storage:\n  file_path: \"\"\n",
	                  "config.yaml:2: storage.file_path: must not be empty");
}

static void test_an_empty_file_or_only_comments_keeps_the_defaults(void **state)
{
	static const char *const docs[] = {
	        "",    "\n\n", "# nothing here\n", "---\n", "---\n...\n", "server:\n  # port: 1\n",
	        "~\n",
	};
	config cfg;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		assert_int_equal(load_yaml(&cfg, docs[i], err, sizeof err), CONFIG_OK);
		assert_int_equal(cfg.port, 8080);
		assert_string_equal(cfg.bind, "127.0.0.1");
		config_free(&cfg);
	}
	assert_int_equal(config_load_yaml(&cfg, "x", NULL, 0, err, sizeof err), CONFIG_OK);
}

static void test_a_yaml_null_unsets_an_optional_string_only(void **state)
{
	config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_yaml(&cfg, "server:\n  tls_cert_file: a\n  tls_key_file: ~\n", err,
	                           sizeof err),
	                 CONFIG_OK);
	assert_string_equal(cfg.tls_cert_file, "a");
	assert_null(cfg.tls_key_file);
	config_free(&cfg);

	assert_int_equal(load_yaml(&cfg, "server:\n  tls_cert_file: 'null'\n", err, sizeof err),
	                 CONFIG_OK);
	assert_string_equal(cfg.tls_cert_file, "null"); /* quoted: text, not null */
	config_free(&cfg);

	expect_yaml_error("server:\n  port:\n", "config.yaml:2: server.port: missing value");
	expect_yaml_error("server:\n  bind: null\n",
	                  "config.yaml:2: server.bind: must not be empty");
	expect_yaml_error("server:\n  bind: ''\n", "config.yaml:2: server.bind: must not be empty");
}

static void test_bools_accept_true_false_yes_no_on_off_in_any_case(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} cases[] = {
	        {"true", true},   {"True", true}, {"YES", true},  {"on", true},
	        {"false", false}, {"No", false},  {"OFF", false}, {"\"yes\"", true},
	};
	char yaml[128], err[512];
	config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(yaml, sizeof yaml, "server:\n  tls: %s\nsecurity:\n  auth_enabled: %s\n",
		         cases[i].text, cases[i].text);
		assert_int_equal(load_yaml(&cfg, yaml, err, sizeof err), CONFIG_OK);
		assert_int_equal(cfg.tls, cases[i].value);
		assert_int_equal(cfg.auth_enabled, cases[i].value);
		config_free(&cfg);
	}
	expect_yaml_error(
	        "server:\n  tls: 1\n",
	        "config.yaml:2: server.tls: '1' is not a boolean (true/false, yes/no, on/off)");
	expect_yaml_error("server:\n  tls: maybe\n", "config.yaml:2: server.tls: 'maybe' is not a "
	                                             "boolean (true/false, yes/no, on/off)");
}

static void test_log_level_and_format_are_case_insensitive_names(void **state)
{
	static const struct {
		const char *text;
		enum log_level level;
	} cases[] = {
	        {"DEBUG", LOG_DEBUG},  {"Info", LOG_INFO},   {"warn", LOG_WARN},
	        {"WARNING", LOG_WARN}, {"error", LOG_ERROR},
	};
	char yaml[128], err[512];
	config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(yaml, sizeof yaml, "logging:\n  level: %s\n  format: TEXT\n",
		         cases[i].text);
		assert_int_equal(load_yaml(&cfg, yaml, err, sizeof err), CONFIG_OK);
		assert_int_equal(cfg.log_level, cases[i].level);
		assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
		config_free(&cfg);
	}
	expect_yaml_error(
	        "logging:\n  level: verbose\n",
	        "config.yaml:2: logging.level: 'verbose' is not one of debug, info, warn, "
	        "warning, error");
	expect_yaml_error("logging:\n  format: xml\n",
	                  "config.yaml:2: logging.format: 'xml' is not one of json, text");
}

static void test_sizes_accept_plain_bytes_and_suffixes_in_any_case(void **state)
{
	static const struct {
		const char *text;
		unsigned long long bytes;
	} cases[] = {
	        {"1", 1},
	        {"65536", 65536},
	        {"1k", 1024},
	        {"1K", 1024},
	        {"2kb", 2048},
	        {"2KB", 2048},
	        {"3Kb", 3072},
	        {"1m", 1 << 20},
	        {"16MB", 16 << 20},
	        {"1 mb", 1 << 20},
	        {"1g", 1ULL << 30},
	        {"3GB", 3ULL << 30},
	        {"4294967295", 4294967295ULL},
	};
	char yaml[128], err[512];
	config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(yaml, sizeof yaml, "limits:\n  max_value_bytes: %s\n", cases[i].text);
		assert_int_equal(load_yaml(&cfg, yaml, err, sizeof err), CONFIG_OK);
		assert_true(cfg.max_value_bytes == cases[i].bytes);
		config_free(&cfg);
	}
	assert_int_equal(load_args(&cfg, ARGV("--max-line-bytes", "64", "--max-key-bytes=16m"), err,
	                           sizeof err),
	                 CONFIG_OK);
	assert_int_equal(cfg.max_line_bytes, 64);
	assert_int_equal(cfg.max_key_bytes, 16 << 20);
	config_free(&cfg);
}

static void test_bad_sizes_are_refused_with_the_bounds(void **state)
{
	static const char *const not_sizes[] = {
	        "", "k", "-1", "+1", "1.5m", "0x10", "1t", "1kib", "1b", "1 m b", "1e3", " 1",
	};
	char yaml[128], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof not_sizes / sizeof not_sizes[0]; i++) {
		snprintf(yaml, sizeof yaml, "limits:\n  max_key_bytes: '%s'\n", not_sizes[i]);
		snprintf(want, sizeof want,
		         "config.yaml:2: limits.max_key_bytes: '%s' is not a size (%s)",
		         not_sizes[i], SIZE_SYNTAX);
		expect_yaml_error(yaml, want);
	}
	expect_yaml_error("limits:\n  max_line_bytes: 63\n",
	                  "config.yaml:2: limits.max_line_bytes: '63' is out of range (64..1g)");
	expect_yaml_error("limits:\n  max_line_bytes: 1025m\n",
	                  "config.yaml:2: limits.max_line_bytes: '1025m' is out of range (64..1g)");
	expect_yaml_error("limits:\n  max_key_bytes: 0\n",
	                  "config.yaml:2: limits.max_key_bytes: '0' is out of range (1..16m)");
	expect_yaml_error(
	        "limits:\n  max_key_bytes: 16777217\n",
	        "config.yaml:2: limits.max_key_bytes: '16777217' is out of range (1..16m)");
	expect_yaml_error("limits:\n  max_value_bytes: 4g\n",
	                  "config.yaml:2: limits.max_value_bytes: '4g' is out of range "
	                  "(1..4294967295)");
	expect_yaml_error("limits:\n  max_value_bytes: 99999999999999999999999\n",
	                  "config.yaml:2: limits.max_value_bytes: '99999999999999999999999' is out "
	                  "of range (1..4294967295)");
	expect_yaml_error("limits:\n  max_value_bytes: 17179869184g\n",
	                  "config.yaml:2: limits.max_value_bytes: '17179869184g' is out of range "
	                  "(1..4294967295)");
}

static void test_integers_are_fully_validated(void **state)
{
	static const char *const not_ints[] = {
	        "8080abc", " 80", "80 ", "", "0x10", "1e3", "80.0", "--1", "+", "1k",
	};
	char yaml[128], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof not_ints / sizeof not_ints[0]; i++) {
		snprintf(yaml, sizeof yaml, "server:\n  threads: \"%s\"\n", not_ints[i]);
		snprintf(want, sizeof want, "config.yaml:2: server.threads: '%s' is not an integer",
		         not_ints[i]);
		expect_yaml_error(yaml, want);
	}
	expect_yaml_error("server:\n  threads: 99999999999999999999\n",
	                  "config.yaml:2: server.threads: '99999999999999999999' is out of range "
	                  "(0..1024)");
	expect_yaml_error("server:\n  threads: -1\n",
	                  "config.yaml:2: server.threads: '-1' is out of range (0..1024)");
	expect_yaml_error("server:\n  max_clients: 0\n",
	                  "config.yaml:2: server.max_clients: '0' is out of range (1..1000000)");
	expect_yaml_error("server:\n  idle_timeout: 31536001\n",
	                  "config.yaml:2: server.idle_timeout: '31536001' is out of range "
	                  "(0..31536000)");
	expect_yaml_error(
	        "server:\n  shutdown_timeout: 3601\n",
	        "config.yaml:2: server.shutdown_timeout: '3601' is out of range (0..3600)");
}

static void test_an_unknown_key_names_the_key_and_line(void **state)
{
	(void)state;
	expect_yaml_error("# minidb\nserver:\n  prot: 8080\n",
	                  "config.yaml:3: unknown key 'server.prot'");
	expect_yaml_error("server:\n  port: 1\nstorage:\n  path: x\n",
	                  "config.yaml:4: unknown key 'storage.path'");
	expect_yaml_error("cluster:\n  nodes: 3\n", "config.yaml:1: unknown key 'cluster'");
	expect_yaml_error("port: 1\n", "config.yaml:1: unknown key 'port'");
}

static void test_out_of_range_names_the_key_line_and_bounds(void **state)
{
	(void)state;
	expect_yaml_error("server:\n  bind: 127.0.0.1\n  threads: 4\n\n  port: 70000\n",
	                  "config.yaml:5: server.port: '70000' is out of range (0..65535)");
}

static void test_a_value_of_the_wrong_type_names_the_key_and_line(void **state)
{
	(void)state;
	expect_yaml_error("server:\n  threads: abc\n",
	                  "config.yaml:2: server.threads: 'abc' is not an integer");
	expect_yaml_error("server:\n  port: true\n",
	                  "config.yaml:2: server.port: 'true' is not an integer");
	/* Control bytes in a rejected value are escaped, never copied raw. */
	expect_yaml_error("server:\n  port: \"80\\t\\e\"\n",
	                  "config.yaml:2: server.port: '80\\x09\\x1b' is not an integer");
}

static void test_a_non_scalar_value_is_an_error(void **state)
{
	(void)state;
	expect_yaml_error("server:\n  port:\n    value: 1\n",
	                  "config.yaml:3: server.port: expected a single value, not a mapping");
	expect_yaml_error("server:\n  port: [1, 2]\n",
	                  "config.yaml:2: server.port: expected a single value, not a list");
	expect_yaml_error("server:\n  bind:\n    - a\n",
	                  "config.yaml:3: server.bind: expected a single value, not a list");
}

static void test_a_value_where_a_section_belongs_is_an_error(void **state)
{
	(void)state;
	expect_yaml_error("server: 8080\n",
	                  "config.yaml:1: server: expected a mapping of keys, not a value");
	expect_yaml_error("server:\n  - port\n",
	                  "config.yaml:2: server: expected a mapping of keys, not a list");
	expect_yaml_error("- server\n",
	                  "config.yaml:1: expected a mapping of keys at the top level");
	expect_yaml_error("just text\n",
	                  "config.yaml:1: expected a mapping of keys at the top level");
}

static void test_duplicate_keys_are_errors(void **state)
{
	(void)state;
	expect_yaml_error("server:\n  port: 1\n  port: 2\n",
	                  "config.yaml:3: duplicate key 'server.port' (first on line 2)");
	expect_yaml_error("server:\n  port: 1\nserver.port: 2\n",
	                  "config.yaml:3: duplicate key 'server.port' (first on line 2)");
	expect_yaml_error("server:\n  port: 1\nlogging:\n  level: info\nserver:\n  bind: x\n",
	                  "config.yaml:5: duplicate key 'server' (first on line 1)");
}

static void test_file_path_and_data_dir_together_conflict(void **state)
{
	(void)state;
	expect_yaml_error("storage:\n  file_path: data/x.parquet\n  data_dir: other\n",
	                  "config.yaml:3: storage.data_dir: conflicts with storage.file_path on "
	                  "line 2");
}

static void test_yaml_syntax_errors_give_the_line(void **state)
{
	(void)state;
	expect_yaml_error_with("server:\n  port: 1\n bind: x\n", "config.yaml:3: syntax error: ");
	expect_yaml_error_with("server:\n  port: \"8080\n", "config.yaml:");
	expect_yaml_error_with("server:\n  port: 1\n  bind: x: y\n",
	                       "config.yaml:3: syntax error: ");
	expect_yaml_error_with("{server: {port: 1}", "config.yaml:2: syntax error: ");
	expect_yaml_error_with("server:\n\tport: 1\n", "config.yaml:2: syntax error: ");
}

static void test_aliases_and_several_documents_are_refused(void **state)
{
	(void)state;
	expect_yaml_error("server:\n  port: &p 1\n  threads: *p\n",
	                  "config.yaml:3: server.threads: YAML aliases are not supported");
	expect_yaml_error("server:\n  port: 1\n---\nserver:\n  port: 2\n",
	                  "config.yaml:3: only one YAML document is allowed");
	expect_yaml_error("? [a, b]\n: 1\n", "config.yaml:1: keys must be plain strings");
}

static void test_hostile_keys_and_values_are_refused_readably(void **state)
{
	char yaml[1200], big[1001];

	(void)state;
	/* A NUL byte inside a key or a value must not truncate it into a valid one. */
	expect_yaml_error("server:\n  \"port\\0x\": 1\n",
	                  "config.yaml:2: unknown key 'port\\x00x'");
	expect_yaml_error("server:\n  port: \"80\\0\"\n",
	                  "config.yaml:2: server.port: the value contains a NUL byte");
	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(yaml, sizeof yaml, "server:\n  %s: 1\n", big);
	expect_yaml_error(yaml, "config.yaml:2: unknown key "
	                        "'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...'");
	expect_yaml_error_with("server:\n  port: \"\xff\xfe\"\n", "config.yaml:2: invalid text: ");
	expect_yaml_error_with("server:\n  bind: \"a\x01\"\n", "config.yaml:2: invalid text: ");
}

/* The token may sit next to any mistake; no message may contain it. */
static void test_the_auth_token_never_appears_in_an_error_message(void **state)
{
	static const struct {
		const char *yaml;
		const char *names; /* the message must name this */
	} cases[] = {
	        {"security:\n  auth_token:\n    value: " SECRET "\n", "security.auth_token"},
	        {"security:\n  auth_token: {" SECRET ": 1}\n", "security.auth_token"},
	        {"security:\n  auth_token: [" SECRET "]\n", "security.auth_token"},
	        {"security:\n  auth_token: " SECRET "\n  auth_token: " SECRET "\n",
	         "security.auth_token"},
	        {"security:\n  auth_token: &t " SECRET "\nserver:\n  bind: *t\n", "server.bind"},
	        {"security:\n  auth_token: \"" SECRET "\n", "config.yaml:"},
	        {"security:\n  auth_token: " SECRET ": x\n", "config.yaml:2:"},
	        {"security:\n  auth_token: '" SECRET "\n  port: 1\n", "config.yaml:"},
	        {"security:\n  auth_token: " SECRET "\n  auth_tokn: x\n", "security.auth_tokn"},
	        {"security:\n  auth_token: " SECRET "\nserver:\n  port: x\n", "server.port"},
	        {"security:\n  auth_token: " SECRET "\x01\n", "config.yaml:2:"},
	        {"security:\n  auth_token: \"" SECRET "\\0\"\n", "security.auth_token"},
	};
	config cfg;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(load_yaml(&cfg, cases[i].yaml, err, sizeof err), CONFIG_ERROR);
		assert_contains(err, cases[i].names);
		assert_not_contains(err, "hunter2");
		config_free(&cfg);
	}
	/* Not a flag: a token on a command line would leak through ps. */
	assert_int_equal(load_args(&cfg, ARGV("--auth-token=" SECRET), err, sizeof err),
	                 CONFIG_ERROR);
	assert_string_equal(err, "unknown flag '--auth-token'");
	config_free(&cfg);
}

static void test_flags_take_values_after_a_space_or_an_equals_sign(void **state)
{
	config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_args(&cfg,
	                           ARGV("--port", "9000", "--bind=0.0.0.0", "--data-dir", "/d",
	                                "--threads=3", "--max-clients", "5", "--idle-timeout=60",
	                                "--shutdown-timeout", "1", "--log-level", "WARN",
	                                "--log-format=text", "--tls-cert-file", "c",
	                                "--tls-key-file=k", "--max-value-bytes", "1k"),
	                           err, sizeof err),
	                 CONFIG_OK);
	assert_int_equal(cfg.port, 9000);
	assert_string_equal(cfg.bind, "0.0.0.0");
	assert_string_equal(cfg.data_dir, "/d");
	assert_int_equal(cfg.threads, 3);
	assert_int_equal(cfg.max_clients, 5);
	assert_int_equal(cfg.idle_timeout, 60);
	assert_int_equal(cfg.shutdown_timeout, 1);
	assert_int_equal(cfg.log_level, LOG_WARN);
	assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
	assert_string_equal(cfg.tls_cert_file, "c");
	assert_string_equal(cfg.tls_key_file, "k");
	assert_int_equal(cfg.max_value_bytes, 1024);
	config_free(&cfg);

	/* The last of a repeated flag wins. */
	assert_int_equal(load_args(&cfg, ARGV("--port=1", "--port=2"), err, sizeof err), CONFIG_OK);
	assert_int_equal(cfg.port, 2);
	config_free(&cfg);
}

static void test_bool_flags_take_no_value_or_an_equals_value(void **state)
{
	config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_args(&cfg, ARGV("--tls"), err, sizeof err), CONFIG_OK);
	assert_true(cfg.tls);
	config_free(&cfg);
	assert_int_equal(load_args(&cfg, ARGV("--tls", "--tls=false"), err, sizeof err), CONFIG_OK);
	assert_false(cfg.tls);
	config_free(&cfg);
	assert_int_equal(load_args(&cfg, ARGV("--tls=On"), err, sizeof err), CONFIG_OK);
	assert_true(cfg.tls);
	config_free(&cfg);

	assert_int_equal(load_args(&cfg, ARGV("--tls=maybe"), err, sizeof err), CONFIG_ERROR);
	assert_string_equal(err, "--tls: 'maybe' is not a boolean (true/false, yes/no, on/off)");
	config_free(&cfg);
	assert_int_equal(load_args(&cfg, ARGV("--tls", "false"), err, sizeof err), CONFIG_ERROR);
	assert_string_equal(err, "unexpected argument 'false'");
	config_free(&cfg);
}

static void test_flags_override_the_file_regardless_of_order(void **state)
{
	const char *yaml = "server:\n  port: 7000\n  threads: 2\n  tls: true\n"
	                   "storage:\n  file_path: \"data/minidb.parquet\"\n";
	char *path = write_temp(yaml, strlen(yaml));
	config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_args(&cfg, ARGV("--port", "9000", "--config", path, "--tls=no"), err,
	                           sizeof err),
	                 CONFIG_OK);
	assert_int_equal(cfg.port, 9000);
	assert_int_equal(cfg.threads, 2);
	assert_false(cfg.tls);
	assert_string_equal(cfg.data_dir, "data");
	assert_string_equal(cfg.config_file, path);
	config_free(&cfg);

	assert_int_equal(load_args(&cfg, ARGV("--config", path, "--port=9001", "--data-dir", "/x"),
	                           err, sizeof err),
	                 CONFIG_OK);
	assert_int_equal(cfg.port, 9001);
	assert_string_equal(cfg.data_dir, "/x");
	config_free(&cfg);

	assert_int_equal(load_args(&cfg, ARGV("--data-dir=/y", "--config="), err, sizeof err),
	                 CONFIG_ERROR);
	assert_string_equal(err, "--config: must not be empty");
	config_free(&cfg);
	unlink(path);
	free(path);
}

static void test_flag_errors_name_the_flag(void **state)
{
	const struct {
		char **argv;
		const char *want;
	} cases[] = {
	        {ARGV("--threads", "abc"), "--threads: 'abc' is not an integer"},
	        {ARGV("--port=70000"), "--port: '70000' is out of range (0..65535)"},
	        {ARGV("--port"), "--port: missing value"},
	        {ARGV("--bind", "--port", "1"), "--bind: missing value"},
	        {ARGV("--port", "-1"), "--port: missing value"},
	        {ARGV("--port=-1"), "--port: '-1' is out of range (0..65535)"},
	        {ARGV("--config"), "--config: missing value"},
	        {ARGV("--bogus", "1"), "unknown flag '--bogus'"},
	        {ARGV("--bogus=x"), "unknown flag '--bogus'"},
	        {ARGV("-p", "1"), "unexpected argument '-p'"},
	        {ARGV("serve"), "unexpected argument 'serve'"},
	        {ARGV("--"), "unexpected argument '--'"},
	        {ARGV("--max-line-bytes", "12q"),
	         "--max-line-bytes: '12q' is not a size (" SIZE_SYNTAX ")"},
	        {ARGV("--max-line-bytes=2g"), "--max-line-bytes: '2g' is out of range (64..1g)"},
	        {ARGV("--log-level", "loud"),
	         "--log-level: 'loud' is not one of debug, info, warn, warning, error"},
	        {ARGV("--log-format=yaml"), "--log-format: 'yaml' is not one of json, text"},
	        {ARGV("--max-clients", "0"), "--max-clients: '0' is out of range (1..1000000)"},
	        {ARGV("--bind="), "--bind: must not be empty"},
	        /* Flag errors come before the file is even opened. */
	        {ARGV("--config", "/nonexistent/minidb.yaml", "--threads=x"),
	         "--threads: 'x' is not an integer"},
	};
	config cfg;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(load_args(&cfg, cases[i].argv, err, sizeof err), CONFIG_ERROR);
		assert_string_equal(err, cases[i].want);
		config_free(&cfg);
	}
}

static void test_config_file_errors_name_the_path_and_line(void **state)
{
	const char *yaml = "server:\n  port: 1\n  prot: 2\n";
	char *path = write_temp(yaml, strlen(yaml));
	char want[512], err[512];
	config cfg;

	(void)state;
	assert_int_equal(load_args(&cfg, ARGV("--config", path), err, sizeof err), CONFIG_ERROR);
	snprintf(want, sizeof want, "%s:3: unknown key 'server.prot'", path);
	assert_string_equal(err, want);
	config_free(&cfg);
	unlink(path);
	free(path);

	assert_int_equal(
	        load_args(&cfg, ARGV("--config", "/nonexistent/minidb.yaml"), err, sizeof err),
	        CONFIG_ERROR);
	snprintf(want, sizeof want, "/nonexistent/minidb.yaml: cannot open: %s", strerror(ENOENT));
	assert_string_equal(err, want);
	config_free(&cfg);

	assert_int_equal(load_args(&cfg, ARGV("--config", "/"), err, sizeof err), CONFIG_ERROR);
	assert_contains(err, "/: cannot read: ");
	config_free(&cfg);
}

static void test_a_config_file_over_1_mib_is_refused(void **state)
{
	size_t len = (1 << 20) + 1;
	char *text = malloc(len);
	char *path;
	char want[512], err[512];
	config cfg;

	(void)state;
	assert_non_null(text);
	memset(text, '#', len);
	text[0] = '\n';
	path = write_temp(text, len);
	assert_int_equal(load_args(&cfg, ARGV("--config", path), err, sizeof err), CONFIG_ERROR);
	snprintf(want, sizeof want, "%s: larger than the limit of 1048576 bytes", path);
	assert_string_equal(err, want);
	config_free(&cfg);
	unlink(path);
	free(path);

	/* Exactly 1 MiB of comments is fine. */
	path = write_temp(text, len - 1);
	assert_int_equal(load_args(&cfg, ARGV("--config", path), err, sizeof err), CONFIG_OK);
	config_free(&cfg);
	unlink(path);
	free(path);
	free(text);
}

static void test_help_prints_every_flag_and_exits(void **state)
{
	static const char *const flags[] = {
	        "--config FILE",
	        "--port N",
	        "--bind ADDR",
	        "--data-dir DIR",
	        "--threads N",
	        "--max-clients N",
	        "--idle-timeout SECONDS",
	        "--shutdown-timeout SECONDS",
	        "--max-line-bytes SIZE",
	        "--max-key-bytes SIZE",
	        "--max-value-bytes SIZE",
	        "--log-level LEVEL",
	        "--log-format FORMAT",
	        "--tls[=BOOL]",
	        "--tls-cert-file FILE",
	        "--tls-key-file FILE",
	        "-h, --help",
	        "--version",
	        "storage.file_path",
	        "security.auth_enabled",
	        "security.auth_token",
	        "server.port; 0..65535; default 8080",
	        "1..4294967295; default 512m",
	};
	int rc;
	char *out = capture_load(ARGV("--port", "x", "--help"), &rc);

	(void)state;
	assert_int_equal(rc, CONFIG_EXIT);
	assert_contains(out, "Usage: minidb ");
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		assert_contains(out, flags[i]);
	assert_contains(out, "--auth[=BOOL]");
	assert_contains(out, "--tls-port N");
	assert_contains(out, "security.tokens");
	/* Secrets have no flag: ps would show them to every user. */
	assert_not_contains(out, "--auth-token");
	assert_not_contains(out, "--jwt-secret ");
	free(out);

	out = capture_load(ARGV("-h"), &rc);
	assert_int_equal(rc, CONFIG_EXIT);
	assert_contains(out, "Usage: minidb ");
	free(out);
}

static void test_named_tokens_load_as_a_list_of_mappings(void **state)
{
	config cfg;
	char err[512];

	(void)state;
	assert_int_equal(load_yaml(&cfg,
	                           "security:\n"
	                           "  auth_enabled: true\n"
	                           "  tokens:\n"
	                           "    - name: app\n"
	                           "      hash: \"sha256$00\"\n"
	                           "      permissions: read,write\n"
	                           "    - {name: ops, hash: \"x\", permissions: admin}\n",
	                           err, sizeof err),
	                 CONFIG_OK);
	assert_true(cfg.auth_enabled);
	assert_int_equal(cfg.ntokens, 2);
	assert_string_equal(cfg.tokens[0].name, "app");
	assert_string_equal(cfg.tokens[0].hash, "sha256$00");
	assert_string_equal(cfg.tokens[0].permissions, "read,write");
	assert_string_equal(cfg.tokens[1].name, "ops");
	assert_string_equal(cfg.tokens[1].permissions, "admin");
	config_free(&cfg);
	assert_null(cfg.tokens);
	config_free(&cfg);

	assert_int_equal(load_yaml(&cfg, "security:\n  tokens:\n", err, sizeof err), CONFIG_OK);
	assert_int_equal(cfg.ntokens, 0);
	config_free(&cfg);
}

static void test_malformed_token_lists_name_the_entry_and_hide_values(void **state)
{
	static const struct {
		const char *yaml, *want;
	} cases[] = {
	        {"security:\n  tokens: abc\n", "config.yaml:2: security.tokens: expected a list"},
	        {"security:\n  tokens:\n    - abc\n",
	         "config.yaml:3: security.tokens[0]: expected a mapping"},
	        {"security:\n  tokens:\n    - {name: a, hash: \"secrethash\"}\n",
	         "security.tokens[0]: needs name, hash and permissions"},
	        {"security:\n  tokens:\n    - {name: a, hash: secrethash, permissions: read, x: "
	         "1}\n",
	         "security.tokens[0]: unknown field"},
	        {"security:\n  tokens:\n    - {name: a, hash: secrethash, hash: secrethash}\n",
	         "security.tokens[0]: duplicate field"},
	        {"security:\n  tokens:\n    - {name: a, hash: [secrethash], permissions: read}\n",
	         "security.tokens[0]: expected a non-empty text value"},
	        {"security:\n  tokens:\n    - {name: a, hash: \"\", permissions: read}\n",
	         "security.tokens[0]: expected a non-empty text value"},
	};
	config cfg;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(load_yaml(&cfg, cases[i].yaml, err, sizeof err), CONFIG_ERROR);
		assert_contains(err, cases[i].want);
		assert_not_contains(err, "secrethash");
		config_free(&cfg);
	}
}

static void test_version_prints_the_version_and_commit_and_exits(void **state)
{
	int rc;
	char *out = capture_load(ARGV("--version"), &rc);

	(void)state;
	assert_int_equal(rc, CONFIG_EXIT);
	assert_int_equal(strncmp(out, "minidb ", 7), 0);
	assert_contains(out, " (");
	assert_contains(out, ")\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_match_the_documented_values),
	        cmocka_unit_test(test_default_strings_are_heap_copies_and_free_is_idempotent),
	        cmocka_unit_test(test_every_yaml_key_sets_its_field),
	        cmocka_unit_test(test_the_original_mini_db_config_loads),
	        cmocka_unit_test(test_the_example_config_file_loads_with_the_defaults),
	        cmocka_unit_test(test_dotted_keys_at_the_top_level_are_accepted),
	        cmocka_unit_test(test_file_path_sets_data_dir_to_its_directory),
	        cmocka_unit_test(test_an_empty_file_or_only_comments_keeps_the_defaults),
	        cmocka_unit_test(test_a_yaml_null_unsets_an_optional_string_only),
	        cmocka_unit_test(test_bools_accept_true_false_yes_no_on_off_in_any_case),
	        cmocka_unit_test(test_log_level_and_format_are_case_insensitive_names),
	        cmocka_unit_test(test_sizes_accept_plain_bytes_and_suffixes_in_any_case),
	        cmocka_unit_test(test_bad_sizes_are_refused_with_the_bounds),
	        cmocka_unit_test(test_integers_are_fully_validated),
	        cmocka_unit_test(test_an_unknown_key_names_the_key_and_line),
	        cmocka_unit_test(test_out_of_range_names_the_key_line_and_bounds),
	        cmocka_unit_test(test_a_value_of_the_wrong_type_names_the_key_and_line),
	        cmocka_unit_test(test_a_non_scalar_value_is_an_error),
	        cmocka_unit_test(test_a_value_where_a_section_belongs_is_an_error),
	        cmocka_unit_test(test_duplicate_keys_are_errors),
	        cmocka_unit_test(test_file_path_and_data_dir_together_conflict),
	        cmocka_unit_test(test_yaml_syntax_errors_give_the_line),
	        cmocka_unit_test(test_aliases_and_several_documents_are_refused),
	        cmocka_unit_test(test_hostile_keys_and_values_are_refused_readably),
	        cmocka_unit_test(test_the_auth_token_never_appears_in_an_error_message),
	        cmocka_unit_test(test_flags_take_values_after_a_space_or_an_equals_sign),
	        cmocka_unit_test(test_bool_flags_take_no_value_or_an_equals_value),
	        cmocka_unit_test(test_flags_override_the_file_regardless_of_order),
	        cmocka_unit_test(test_flag_errors_name_the_flag),
	        cmocka_unit_test(test_config_file_errors_name_the_path_and_line),
	        cmocka_unit_test(test_a_config_file_over_1_mib_is_refused),
	        cmocka_unit_test(test_help_prints_every_flag_and_exits),
	        cmocka_unit_test(test_named_tokens_load_as_a_list_of_mappings),
	        cmocka_unit_test(test_malformed_token_lists_name_the_entry_and_hide_values),
	        cmocka_unit_test(test_version_prints_the_version_and_commit_and_exits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
