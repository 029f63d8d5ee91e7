/* test_cli.c - minidb-cli against the real server: one-shot commands print
 * the reply and exit 0 (or 1 for an ERROR reply), a piped session prints one
 * reply per line, words holding blanks or control bytes are sent quoted, and
 * an unreachable server is an error rather than a hang. Then the security
 * flags (issue 6): -tls verified against -ca-cert (a wrong CA or host name is
 * exit 2 with the reason, no reply), --insecure, mutual TLS with --cert/--key,
 * and --token/-auth against a server with authentication on (a wrong token is
 * exit 1, "Authentication failed", the token never printed).
 *
 * One plaintext server serves the first group; the TLS group makes a CA and
 * certificates with the openssl command (tests/tls_certs.h) in a temp dir
 * and starts its own servers (--tls-port 0; mdb_server_tls_port reads the
 * port it logged). Each run of the CLI is bounded by mdb_run's deadline.
 * What the CLI did is checked through a separate harness connection where
 * it matters.
 */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../tls_certs.h"
#include "harness.h"

/* Runs minidb-cli args... with input on stdin (NULL: none). */
static void run_cli_args(const char *const args[], const char *input, mdb_proc *res)
{
	const char *argv[40];
	int argc = 0;
	argv[argc++] = mdb_binary_path("MINIDB_CLI", "minidb-cli");
	for (int i = 0; args[i] != NULL && argc < 39; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	assert_int_equal(mdb_run(argv, input, input ? strlen(input) : 0,
	                         mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), res),
	                 0);
	if (res->status < 0)
		print_error("minidb-cli was killed at the deadline; stderr: %s\n", res->err);
}

/* Runs minidb-cli -p <port> words... with input on stdin (NULL: none). */
static void run_cli(int port, const char *const words[], const char *input, mdb_proc *res)
{
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	const char *args[32] = {"-p", portstr};
	int argc = 2;
	for (int i = 0; words != NULL && words[i] != NULL && argc < 31; i++)
		args[argc++] = words[i];
	args[argc] = NULL;
	run_cli_args(args, input, res);
}

/* Fails unless the run exited with status and printed exactly out. */
static void check_run(mdb_proc *res, int status, const char *out)
{
	if (res->status != status || strcmp(res->out, out) != 0) {
		print_error("minidb-cli: exit status %d (want %d)\nstdout: \"%s\" (want \"%s\")\n"
		            "stderr: \"%s\"\n",
		            res->status, status, res->out, out, res->err);
		mdb_proc_free(res);
		fail();
	}
	mdb_proc_free(res);
}

/* Fails unless a plaintext harness connection to port gets want for cmd. */
static void check_plain(int port, const char *cmd, const char *want)
{
	mdb_conn *c = mdb_conn_open(port);
	assert_non_null(c);
	mdb_assert_cmd(c, cmd, want);
	mdb_conn_close(c);
}

static void one_shot_set_prints_ok_and_exits_0(void **state)
{
	mdb_server *s = *state;
	static const char *const words[] = {"SET", "cli_key", "cli_value", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 0, "OK\n");

	check_plain(s->port, "LOOKUP cli_key", "cli_value");
}

static void one_shot_lookup_prints_the_value_and_exits_0(void **state)
{
	mdb_server *s = *state;
	check_plain(s->port, "SET cli_lookup_key found it", "OK");

	static const char *const words[] = {"LOOKUP", "cli_lookup_key", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 0, "found it\n");
}

static void one_shot_lookup_of_a_missing_key_prints_not_found_and_exits_0(void **state)
{
	mdb_server *s = *state;
	static const char *const words[] = {"LOOKUP", "cli_missing", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 0, "NOT FOUND\n");
}

static void one_shot_unknown_command_prints_the_error_and_exits_1(void **state)
{
	mdb_server *s = *state;
	static const char *const words[] = {"FOO", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 1, "ERROR: Unknown command\n");
}

static void one_shot_words_with_blanks_are_sent_quoted(void **state)
{
	mdb_server *s = *state;
	static const char *const words[] = {"SET", "cli key", "two  words\tand \"quotes\"", NULL};
	mdb_proc res;
	run_cli(s->port, words, NULL, &res);
	check_run(&res, 0, "OK\n");

	check_plain(s->port, "LOOKUP \"cli key\"", "two  words\tand \"quotes\"");
}

static void a_piped_session_prints_one_reply_per_line(void **state)
{
	mdb_server *s = *state;
	mdb_proc res;
	run_cli(s->port, NULL, "SET a b\nLOOKUP a\nEXIT\n", &res);
	check_run(&res, 0, "OK\nb\nOK\n");
}

static void a_piped_session_ending_without_exit_still_prints_every_reply(void **state)
{
	mdb_server *s = *state;
	mdb_proc res;
	run_cli(s->port, NULL, "SET piped_key 1\nLOOKUP piped_key\nLOOKUP piped_missing\nPING\n",
	        &res);
	check_run(&res, 0, "OK\n1\nNOT FOUND\nPONG\n");
}

static void an_unreachable_server_is_an_error_not_a_hang(void **state)
{
	(void)state;
	/* A port nobody listens on: bound but never listened to, so it stays
	 * reserved (no other test's server can take it) and refuses connects. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t salen = sizeof sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	int port = ntohs(sa.sin_port);

	static const char *const words[] = {"PING", NULL};
	mdb_proc res;
	run_cli(port, words, NULL, &res);
	int status = res.status;
	if (status <= 0)
		print_error("minidb-cli against a closed port: exit status %d, stdout \"%s\", "
		            "stderr \"%s\"\n",
		            status, res.out, res.err);
	int said_why = res.err_len > 0;
	mdb_proc_free(&res);
	close(fd);
	assert_true(status > 0);
	assert_true(said_why);
}

/* Runs minidb-cli hash-token args... with input on stdin (NULL: none). */
static void run_hash_token(const char *const args[], const char *input, mdb_proc *res)
{
	const char *argv[8];
	int argc = 0;
	argv[argc++] = mdb_binary_path("MINIDB_CLI", "minidb-cli");
	argv[argc++] = "hash-token";
	for (int i = 0; args[i] != NULL && argc < 7; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	assert_int_equal(mdb_run(argv, input, input ? strlen(input) : 0,
	                         mdb_timeout_ms(MDB_RUN_TIMEOUT_MS), res),
	                 0);
}

/* The line to paste into the config, from the argument or from stdin (the
 * SHA-256 of "abc" is the FIPS 180-2 test vector); the token never appears
 * on stderr. */
static void hash_token_prints_the_config_line_and_never_the_token_on_stderr(void **state)
{
	static const char want[] =
	        "sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n";
	mdb_proc res;
	(void)state;

	run_hash_token((const char *const[]){"--sha256", "abc", NULL}, NULL, &res);
	check_run(&res, 0, want);
	run_hash_token((const char *const[]){"--sha256", NULL}, "abc\n", &res);
	check_run(&res, 0, want);
	/* The slow form: a salted PBKDF2 line, different at each run. */
	run_hash_token((const char *const[]){NULL}, "s3cret-token", &res);
	assert_int_equal(res.status, 0);
	assert_true(strncmp(res.out, "pbkdf2-sha256$100000$", 21) == 0);
	assert_null(strstr(res.out, "s3cret-token"));
	assert_null(strstr(res.err, "s3cret-token"));
	mdb_proc_free(&res);
	/* A bad argument: usage error, and the token is not echoed. */
	run_hash_token((const char *const[]){"--sha256", "s3cret-token", "extra", NULL}, NULL,
	               &res);
	assert_int_equal(res.status, 2);
	assert_null(strstr(res.err, "s3cret-token"));
	mdb_proc_free(&res);
}

/* ---- TLS and authentication ---- */

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

#define CLI_TOKEN   "cli-secret-token-6f1c"
#define WRONG_TOKEN "not-the-token-93ab"

/* The TLS group's certificates and its server (TLS port beside plaintext,
 * no client certificates, no auth). */
typedef struct tls_fx {
	char *dir;
	char ca[PATH_MAX], server_cert[PATH_MAX], server_key[PATH_MAX];
	char client_cert[PATH_MAX], client_key[PATH_MAX];
	char other_ca[PATH_MAX], other_cert[PATH_MAX], other_key[PATH_MAX];
	mdb_server *s;
	int tls_port;
	char tls_port_s[16]; /* tls_port as a CLI argument */
} tls_fx;

/* Starts a server with a TLS port and the group's server certificate plus
 * extra (NULL-terminated, may be NULL); fails the test if it does not start.
 * *tls_port receives its TLS port. */
static mdb_server *start_tls_server(const tls_fx *f, const char *const extra[], int *tls_port)
{
	const char *args[32] = {"--tls-port",     "0",          "--tls-cert-file", f->server_cert,
	                        "--tls-key-file", f->server_key};
	int n = 6;
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 31; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	mdb_server *s = mdb_start_ok(args);
	*tls_port = mdb_server_tls_port(s);
	if (*tls_port < 0) {
		mdb_print_log(s);
		mdb_stop(s);
		fail_msg("the server logged no TLS port");
	}
	return s;
}

static int tls_group_start(void **state)
{
	char *openssl = mdb_which("openssl");
	if (openssl == NULL) {
		fprintf(stderr, "openssl not found: the TLS tests cannot make certificates\n");
		return -1;
	}
	tls_fx *f = calloc(1, sizeof *f);
	int rc = -1;
	if (f == NULL || (f->dir = mdb_temp_dir()) == NULL)
		goto out;
	static const char ca_ext[] = "basicConstraints=critical,CA:TRUE";
	static const char client_ext[] = "extendedKeyUsage=clientAuth\n";
	if (tls_certs_make_ca(f->dir, "ca", "/CN=minidb test CA", ca_ext) != 0 ||
	    tls_certs_make_signed(f->dir, "server", "ca", "/CN=localhost",
	                          "subjectAltName=DNS:localhost,IP:127.0.0.1\n") != 0 ||
	    tls_certs_make_signed(f->dir, "client", "ca", "/CN=app", client_ext) != 0 ||
	    tls_certs_make_ca(f->dir, "other-ca", "/CN=some other CA", ca_ext) != 0 ||
	    tls_certs_make_signed(f->dir, "other", "other-ca", "/CN=app", client_ext) != 0)
		goto out;
	struct {
		char *path;
		const char *name, *suffix;
	} paths[] = {
	        {f->ca, "ca", ".pem"},
	        {f->server_cert, "server", ".pem"},
	        {f->server_key, "server", ".key"},
	        {f->client_cert, "client", ".pem"},
	        {f->client_key, "client", ".key"},
	        {f->other_ca, "other-ca", ".pem"},
	        {f->other_cert, "other", ".pem"},
	        {f->other_key, "other", ".key"},
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (tls_certs_path(paths[i].path, PATH_MAX, f->dir, paths[i].name,
		                   paths[i].suffix) != 0)
			goto out;
	const char *args[] = {
	        "--tls-port",  "0", "--tls-cert-file", f->server_cert, "--tls-key-file",
	        f->server_key, NULL};
	f->s = mdb_start(args);
	if (f->s == NULL || (f->tls_port = mdb_server_tls_port(f->s)) < 0)
		goto out;
	snprintf(f->tls_port_s, sizeof f->tls_port_s, "%d", f->tls_port);
	rc = 0;
out:
	free(openssl);
	if (rc != 0 && f != NULL) {
		if (f->s != NULL)
			mdb_print_log(f->s);
		mdb_stop(f->s);
		if (f->dir != NULL)
			mdb_remove_tree(f->dir);
		free(f->dir);
		free(f);
		f = NULL;
	}
	*state = f;
	return rc;
}

static int tls_group_stop(void **state)
{
	tls_fx *f = *state;
	int status = mdb_stop(f->s);
	mdb_remove_tree(f->dir);
	free(f->dir);
	free(f);
	return status == 0 ? 0 : -1;
}

/* Fails unless the run exited with status, printed nothing on stdout and
 * said err_part on stderr (the reason, not a reply). */
static void check_refused(mdb_proc *res, int status, const char *err_part)
{
	if (res->status != status || res->out_len != 0 || strstr(res->err, err_part) == NULL) {
		print_error("minidb-cli: exit status %d (want %d)\nstdout: \"%s\" (want none)\n"
		            "stderr: \"%s\" (want it to say \"%s\")\n",
		            res->status, status, res->out, res->err, err_part);
		mdb_proc_free(res);
		fail();
	}
	mdb_proc_free(res);
}

static void port_str(char buf[16], int port)
{
	snprintf(buf, 16, "%d", port);
}

static void tls_set_and_lookup_round_trip_when_the_ca_verifies_the_server(void **state)
{
	tls_fx *f = *state;
	const char *port = f->tls_port_s;
	mdb_proc res;

	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "-p", port, "SET", "tls_key", "over tls"),
	             NULL, &res);
	check_run(&res, 0, "OK\n");
	run_cli_args(ARGS("--tls", "--ca-cert", f->ca, "-p", port, "LOOKUP", "tls_key"), NULL,
	             &res);
	check_run(&res, 0, "over tls\n");
	/* Go's -flag=value form; an empty value is a usage error. */
	run_cli_args(ARGS("-tls", "-ca-cert=", "-p", port, "PING"), NULL, &res);
	check_refused(&res, 2, "needs a file name");
	/* By name: the certificate's DNS name, not only its IP address. */
	char ca_opt[PATH_MAX + 16];
	snprintf(ca_opt, sizeof ca_opt, "-ca-cert=%s", f->ca);
	run_cli_args(ARGS("-tls", ca_opt, "-h", "localhost", "-p", port, "LOOKUP", "tls_key"), NULL,
	             &res);
	check_run(&res, 0, "over tls\n");

	/* What the CLI wrote is there for a plaintext client too. */
	check_plain(f->s->port, "LOOKUP tls_key", "over tls");
}

static void tls_piped_session_prints_one_reply_per_line(void **state)
{
	tls_fx *f = *state;
	const char *port = f->tls_port_s;
	mdb_proc res;

	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "-p", port), "SET p 1\nLOOKUP p\nEXIT\n",
	             &res);
	check_run(&res, 0, "OK\n1\nOK\n");
}

static void tls_with_a_ca_that_did_not_sign_the_server_fails_verification_with_exit_2(void **state)
{
	tls_fx *f = *state;
	const char *port = f->tls_port_s;
	mdb_proc res;

	run_cli_args(ARGS("-tls", "-ca-cert", f->other_ca, "-p", port, "SET", "unverified", "x"),
	             NULL, &res);
	check_refused(&res, 2, "certificate verification failed");
	/* The system's CAs do not know the test CA either. */
	run_cli_args(ARGS("-tls", "-p", port, "PING"), NULL, &res);
	check_refused(&res, 2, "certificate verification failed");
	/* Nothing was sent before the check failed. */
	check_plain(f->s->port, "LOOKUP unverified", "NOT FOUND");
}

static void tls_checks_the_host_name_in_the_certificate(void **state)
{
	tls_fx *f = *state;
	const char *port = f->tls_port_s;
	mdb_proc res;

	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "--sni", "db.elsewhere.example", "-p", port,
	                  "PING"),
	             NULL, &res);
	check_refused(&res, 2, "hostname mismatch");
}

static void tls_insecure_connects_without_verifying(void **state)
{
	tls_fx *f = *state;
	const char *port = f->tls_port_s;
	mdb_proc res;

	run_cli_args(ARGS("-tls", "--insecure", "-p", port, "PING"), NULL, &res);
	check_run(&res, 0, "PONG\n");
	/* --insecure alone means TLS too. */
	run_cli_args(ARGS("-insecure", "-p", port, "PING"), NULL, &res);
	check_run(&res, 0, "PONG\n");
}

static void tls_against_a_plaintext_port_and_plaintext_against_tls_fail_with_exit_2(void **state)
{
	tls_fx *f = *state;
	char port[16], tls_port[16];
	mdb_proc res;
	port_str(port, f->s->port);
	port_str(tls_port, f->tls_port);

	run_cli_args(ARGS("--timeout", "5", "-tls", "-ca-cert", f->ca, "-p", port, "PING"), NULL,
	             &res);
	check_refused(&res, 2, "TLS handshake");
	run_cli_args(ARGS("--timeout", "5", "-p", tls_port, "PING"), NULL, &res);
	check_refused(&res, 2, "minidb-cli: ");
}

/* A config file in the group's dir turning auth on with the legacy token. */
static char *write_auth_config(const tls_fx *f, const char *name, const char *body)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	assert_int_equal(mdb_write_file(path, body, strlen(body)), 0);
	return strdup(path);
}

static void token_authenticates_and_a_wrong_token_exits_1_without_printing_it(void **state)
{
	tls_fx *f = *state;
	char *cfg = write_auth_config(f, "auth.yaml",
	                              "security:\n  auth_enabled: true\n  auth_token: \"" CLI_TOKEN
	                              "\"\n");
	int tls_port;
	mdb_server *s = start_tls_server(f, ARGS("--config", cfg), &tls_port);
	char port[16], tport[16];
	mdb_proc res;
	port_str(port, s->port);
	port_str(tport, tls_port);

	/* Without a token the server refuses the command. */
	run_cli_args(ARGS("-p", port, "SET", "authed", "1"), NULL, &res);
	check_run(&res, 1, "ERROR: Authentication required\n");
	run_cli_args(ARGS("--token", CLI_TOKEN, "-p", port, "SET", "authed", "1"), NULL, &res);
	check_run(&res, 0, "OK\n");
	run_cli_args(ARGS("-token=" CLI_TOKEN, "-tls", "-ca-cert", f->ca, "-p", tport, "LOOKUP",
	                  "authed"),
	             NULL, &res);
	check_run(&res, 0, "1\n");
	/* -auth takes the token from MINIDB_TOKEN. */
	assert_int_equal(setenv("MINIDB_TOKEN", CLI_TOKEN, 1), 0);
	run_cli_args(ARGS("-auth", "-p", port, "LOOKUP", "authed"), NULL, &res);
	unsetenv("MINIDB_TOKEN");
	check_run(&res, 0, "1\n");

	run_cli_args(ARGS("--token", WRONG_TOKEN, "-p", port, "SET", "authed", "2"), NULL, &res);
	int leaked = strstr(res.out, WRONG_TOKEN) != NULL || strstr(res.err, WRONG_TOKEN) != NULL;
	check_refused(&res, 1, "Authentication failed");
	assert_false(leaked);
	/* The refused command never ran. */
	run_cli_args(ARGS("--token", CLI_TOKEN, "-p", port, "LOOKUP", "authed"), NULL, &res);
	check_run(&res, 0, "1\n");
	/* A bad option never echoes what followed '='. */
	run_cli_args(ARGS("--tokn=" WRONG_TOKEN, "-p", port, "PING"), NULL, &res);
	leaked = strstr(res.err, WRONG_TOKEN) != NULL;
	check_refused(&res, 2, "unknown option");
	assert_false(leaked);

	assert_int_equal(mdb_stop(s), 0);
	free(cfg);
}

static void mutual_tls_needs_the_client_certificate_when_the_server_requires_one(void **state)
{
	tls_fx *f = *state;
	int tls_port;
	mdb_server *s = start_tls_server(
	        f, ARGS("--tls-client-ca-file", f->ca, "--tls-client-auth", "required"), &tls_port);
	char port[16];
	mdb_proc res;
	port_str(port, tls_port);

	/* The server's alert reaches the client (it lingers rather than reset
	 * a connection whose first request it has not read). */
	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "-p", port, "PING"), NULL, &res);
	check_refused(&res, 2, "alert certificate required");
	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "--cert", f->client_cert, "--key",
	                  f->client_key, "-p", port, "SET", "mtls", "yes"),
	             NULL, &res);
	check_run(&res, 0, "OK\n");
	run_cli_args(ARGS("-ca-cert", f->ca, "-cert", f->client_cert, "-key", f->client_key, "-p",
	                  port, "LOOKUP", "mtls"),
	             NULL, &res);
	check_run(&res, 0, "yes\n");
	/* A certificate from a CA the server does not trust is refused. */
	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "--cert", f->other_cert, "--key", f->other_key,
	                  "-p", port, "PING"),
	             NULL, &res);
	check_refused(&res, 2, "certificate");
	/* A key that is not the certificate's is caught before connecting. */
	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "--cert", f->client_cert, "--key",
	                  f->other_key, "-p", port, "PING"),
	             NULL, &res);
	check_refused(&res, 2, "does not match");

	assert_int_equal(mdb_stop(s), 0);
}

/* Mutual TLS as identity: the client certificate's CN ("app") names a token,
 * so the CLI needs no token and gets that token's permissions. */
static void a_client_certificate_named_after_a_token_needs_no_token(void **state)
{
	tls_fx *f = *state;
	mdb_proc res;
	run_hash_token((const char *const[]){"--sha256", "app-token-4d2e", NULL}, NULL, &res);
	assert_int_equal(res.status, 0);
	char body[512];
	snprintf(body, sizeof body,
	         "security:\n  auth_enabled: true\n  tokens:\n    - name: app\n"
	         "      hash: \"%.*s\"\n      permissions: read,write\n",
	         (int)strcspn(res.out, "\n"), res.out);
	mdb_proc_free(&res);
	char *cfg = write_auth_config(f, "mtls-auth.yaml", body);
	int tls_port;
	mdb_server *s = start_tls_server(f,
	                                 ARGS("--config", cfg, "--tls-client-ca-file", f->ca,
	                                      "--tls-client-auth", "optional"),
	                                 &tls_port);
	char port[16];
	port_str(port, tls_port);

	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "-p", port, "SET", "by_cert", "1"), NULL,
	             &res);
	check_run(&res, 1, "ERROR: Authentication required\n");
	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "--cert", f->client_cert, "--key",
	                  f->client_key, "-p", port, "SET", "by_cert", "1"),
	             NULL, &res);
	check_run(&res, 0, "OK\n");
	/* The token's permissions, no more: app has no admin. */
	run_cli_args(ARGS("-tls", "-ca-cert", f->ca, "--cert", f->client_cert, "--key",
	                  f->client_key, "-p", port, "FLUSHALL"),
	             NULL, &res);
	assert_int_equal(res.status, 1);
	assert_non_null(strstr(res.out, "NOPERM"));
	mdb_proc_free(&res);
	run_cli_args(ARGS("--token", "app-token-4d2e", "-tls", "-ca-cert", f->ca, "-p", port,
	                  "LOOKUP", "by_cert"),
	             NULL, &res);
	check_run(&res, 0, "1\n");

	assert_int_equal(mdb_stop(s), 0);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(one_shot_set_prints_ok_and_exits_0),
	        cmocka_unit_test(one_shot_lookup_prints_the_value_and_exits_0),
	        cmocka_unit_test(one_shot_lookup_of_a_missing_key_prints_not_found_and_exits_0),
	        cmocka_unit_test(one_shot_unknown_command_prints_the_error_and_exits_1),
	        cmocka_unit_test(one_shot_words_with_blanks_are_sent_quoted),
	        cmocka_unit_test(a_piped_session_prints_one_reply_per_line),
	        cmocka_unit_test(a_piped_session_ending_without_exit_still_prints_every_reply),
	        cmocka_unit_test(an_unreachable_server_is_an_error_not_a_hang),
	        cmocka_unit_test(hash_token_prints_the_config_line_and_never_the_token_on_stderr),
	};
	const struct CMUnitTest tls_tests[] = {
	        cmocka_unit_test(tls_set_and_lookup_round_trip_when_the_ca_verifies_the_server),
	        cmocka_unit_test(tls_piped_session_prints_one_reply_per_line),
	        cmocka_unit_test(
	                tls_with_a_ca_that_did_not_sign_the_server_fails_verification_with_exit_2),
	        cmocka_unit_test(tls_checks_the_host_name_in_the_certificate),
	        cmocka_unit_test(tls_insecure_connects_without_verifying),
	        cmocka_unit_test(
	                tls_against_a_plaintext_port_and_plaintext_against_tls_fail_with_exit_2),
	        cmocka_unit_test(token_authenticates_and_a_wrong_token_exits_1_without_printing_it),
	        cmocka_unit_test(
	                mutual_tls_needs_the_client_certificate_when_the_server_requires_one),
	        cmocka_unit_test(a_client_certificate_named_after_a_token_needs_no_token),
	};
	int failed = cmocka_run_group_tests(tests, mdb_group_start, mdb_group_stop);
	failed += cmocka_run_group_tests_name("minidb-cli TLS and auth", tls_tests, tls_group_start,
	                                      tls_group_stop);
	return failed;
}
