/* config.h - server configuration from a YAML file and command-line flags.
 *
 * Precedence: built-in defaults < YAML file (--config FILE) < flags. Every
 * option has one entry in the option table in config.c, which drives the
 * flag parser, the YAML parser, validation and --help, so a setting cannot
 * exist in one place and not the other.
 *
 * Error convention: config_load returns CONFIG_OK, CONFIG_EXIT (help/version
 * printed, exit 0) or CONFIG_ERROR with a one-line message in err that names
 * the offending flag or key (and the file's line for YAML). The caller exits
 * with status 2 on CONFIG_ERROR.
 */
#ifndef MINIDB_CONFIG_H
#define MINIDB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

enum { CONFIG_OK = 0, CONFIG_EXIT = 1, CONFIG_ERROR = -1 };

enum { CONFIG_TLS_CLIENT_NONE = 0, CONFIG_TLS_CLIENT_OPTIONAL = 1, CONFIG_TLS_CLIENT_REQUIRED = 2 };
enum { CONFIG_TLS_ID_NONE = 0, CONFIG_TLS_ID_CN = 1, CONFIG_TLS_ID_SAN = 2 };
enum { CONFIG_TLS_1_2 = 12, CONFIG_TLS_1_3 = 13 };

/* One named token of security.tokens (a YAML list of mappings):
 *   - name: app                  [A-Za-z0-9_.-], at most 64 bytes
 *     hash: "sha256$..."         minidb-cli hash-token prints this line
 *     permissions: read,write    read, write, admin (comma-separated)
 * Checked by the auth module when the server builds its registry. */
#define CONFIG_TOKENS_MAX 1024

typedef struct config_token {
	char *name;
	char *hash;
	char *permissions;
} config_token;

typedef struct config {
	char *config_file;      /* --config, NULL if none */
	char *bind;             /* --bind, server.bind; default "127.0.0.1" */
	int port;               /* --port, server.port; default 8080; 0 = any free port */
	char *data_dir;         /* --data-dir, storage.data_dir; default "./data".
	                         * storage.file_path (the original's Parquet file)
	                         * sets data_dir to the file's directory. */
	int threads;            /* --threads, server.threads; default 0 = number of cores */
	int max_clients;        /* --max-clients, server.max_clients; default 10000 */
	int idle_timeout;       /* --idle-timeout seconds, server.idle_timeout; 0 = never */
	int shutdown_timeout;   /* --shutdown-timeout seconds; default 10 */
	size_t max_line_bytes;  /* --max-line-bytes, limits.max_line_bytes; default 1 MiB */
	size_t max_key_bytes;   /* --max-key-bytes, limits.max_key_bytes; default 64 KiB */
	size_t max_value_bytes; /* --max-value-bytes, limits.max_value_bytes; default 512 MiB */
	size_t max_bulk_bytes;  /* --max-bulk-bytes, limits.max_bulk_bytes: longest RESP bulk
	                         * string (Redis's proto-max-bulk-len); default 512 MiB */
	int max_array_len;      /* --max-array-len, limits.max_array_len: most arguments in
	                         * one RESP command; default 1048576 */
	size_t max_query_buffer_bytes;  /* --max-query-buffer-bytes: unparsed input one
	                                 * client may hold (client-query-buffer-limit); 1 GiB */
	size_t maxmemory;               /* --maxmemory, memory.maxmemory; 0 = no limit */
	int maxmemory_policy;           /* --maxmemory-policy, memory.maxmemory_policy: a
	                                 * STORE_EVICT_* value; default noeviction */
	int fsync;                      /* --fsync, storage.fsync: a WAL_FSYNC_* value;
	                                 * default everysec */
	size_t wal_segment_bytes;       /* --wal-segment-bytes, storage.wal_segment_bytes;
	                                 * default 64 MiB */
	int wal_recover;                /* --wal-recover, storage.wal_recover: 0 = refuse to start
	                                 * on a damaged log (default), 1 = truncate it there */
	char *file_path;                /* storage.file_path: the original's Parquet file, kept
	                                 * as a link to the newest snapshot; NULL if not set */
	int snapshot_every;             /* --snapshot-every seconds; 0 = no timed snapshots */
	int snapshot_min_changes;       /* --snapshot-min-changes: the timed snapshot waits
	                                 * for this many changes since the last one */
	size_t snapshot_wal_bytes;      /* --snapshot-wal-bytes: snapshot once this much WAL
	                                 * was written since the last one; 0 = off */
	int snapshots_keep;             /* --snapshots-keep: snapshots kept (>= 1) */
	int snapshot_compression;       /* --snapshot-compression: a PQ_CODEC_* value */
	int snapshot_compression_level; /* --snapshot-compression-level; 0: the codec's default */
	bool snapshot_on_shutdown;      /* --snapshot-on-shutdown: snapshot on a clean stop */
	enum log_level log_level;       /* --log-level, logging.level; default info */
	enum log_format log_format;     /* --log-format json|text, logging.format; default json */
	char *log_file;                 /* --log-file, logging.file: append log lines here
	                                 * (reopened on SIGHUP, for logrotate); NULL = stderr */
	int slowlog_ms;                 /* --slowlog-ms, logging.slowlog_ms: log a command that
	                                 * ran this long or longer; default 10; -1 = off */
	int slowlog_max_len;            /* --slowlog-max-len, logging.slowlog_max_len: slow
	                                 * commands SLOWLOG GET keeps; default 128 */
	bool log_requests;              /* --log-requests, logging.requests: one line per
	                                 * command (name, duration, outcome; never arguments);
	                                 * default false */

	/* TLS (tls.c, conn.c). */
	bool tls;                        /* --tls, server.tls: the client port speaks TLS only */
	int tls_port;                    /* --tls-port, server.tls_port: a second, TLS-only port
	                                  * beside the plaintext one; -1 = none (default),
	                                  * 0 = any free port */
	char *tls_cert_file;             /* --tls-cert-file, server.tls_cert_file: chain, PEM */
	char *tls_key_file;              /* --tls-key-file, server.tls_key_file: key, PEM */
	char *tls_client_ca_file;        /* --tls-client-ca-file, server.tls_client_ca_file:
	                                  * CAs that sign client certificates (mutual TLS) */
	int tls_client_auth;             /* --tls-client-auth none|optional|required: a
	                                  * CONFIG_TLS_CLIENT_* value; default none */
	int tls_client_identity;         /* --tls-client-identity none|cn|san: which name of a
	                                  * verified client certificate names a token (so the
	                                  * connection needs no AUTH); default cn */
	int tls_min_version;             /* --tls-min-version 1.2|1.3: CONFIG_TLS_1_2 (default)
	                                  * or CONFIG_TLS_1_3 */
	char *tls_ciphers;               /* --tls-ciphers: TLS 1.2 cipher list; NULL = built-in */
	char *tls_ciphersuites;          /* --tls-ciphersuites: TLS 1.3 suites; NULL = built-in */
	int handshake_timeout;           /* --handshake-timeout seconds: a TLS handshake not done
	                                  * by then is closed; default 10 */
	size_t client_output_limit;      /* --client-output-limit: a client whose unsent replies
	                                  * exceed this is disconnected; default 1g, 0 = none */
	size_t client_output_soft_limit; /* --client-output-soft-limit: ... or exceed this for
	                                  * client_output_soft_seconds; default 64m, 0 = none */
	int client_output_soft_seconds;  /* --client-output-soft-seconds; default 60 */

	/* Observability (http.c, observe.c). */
	int http_port;   /* --http-port, metrics.port: /metrics, /healthz, /readyz;
	                  * default 2112; 0 = off; -1 = any free port (tests) */
	char *http_bind; /* --http-bind, metrics.bind; default "127.0.0.1" */
	bool http_tls;   /* --http-tls, metrics.tls: serve HTTPS with tls_cert_file and
	                  * tls_key_file */
	bool http_auth;  /* --http-auth, metrics.auth: /metrics needs "Authorization: Bearer
	                  * <token>" with a token or JWT the client port would accept */
	int http_max_connections; /* --http-max-connections, metrics.max_connections; 64 */
	int http_timeout;         /* --http-timeout seconds, metrics.timeout; 10 */

	/* Authentication (auth.c, jwt.c, security.c). */
	bool auth_enabled;    /* --auth, security.auth_enabled: every connection must
	                       * authenticate (AUTH, a legacy per-command token or a
	                       * mapped client certificate) before other commands */
	char *auth_token;     /* security.auth_token: the original single token, all
	                       * permissions, name "default"; a secret, never logged */
	config_token *tokens; /* security.tokens: named tokens (file only) */
	size_t ntokens;
	char *jwt_secret;          /* security.jwt_secret: HS256/384/512 secret (secret) */
	char *jwt_secret_file;     /* --jwt-secret-file: the same, read from a file */
	char *jwt_public_key_file; /* --jwt-public-key-file: RS/ES public key, PEM */
	char *jwt_jwks_file;       /* --jwt-jwks-file: the provider's JWKS document */
	char *jwt_issuer;          /* --jwt-issuer: required iss; NULL = not checked */
	char *jwt_audience;        /* --jwt-audience: required aud; NULL = not checked */
	char *jwt_scope_claim;     /* --jwt-scope-claim; default "scope" */
	char *jwt_scope_prefix;    /* --jwt-scope-prefix; default "minidb:" */
	int jwt_leeway;            /* --jwt-leeway seconds of clock skew; default 30 */
	bool jwt_require_exp;      /* --jwt-require-exp; default true */
} config;

/* Fills cfg with defaults. Its strings are heap copies, like every string
 * in struct config, released by config_free; aborts if out of memory. */
void config_defaults(config *cfg);

/* Applies the YAML file named by --config (if given) and then the flags,
 * on top of what cfg holds (call config_defaults first; call config_free
 * afterwards whatever the result). argv[0] is the program name. Sizes accept
 * a suffix (k, kb, m, mb, g, gb, case-insensitive, powers of 1024). A value
 * starting with '-' must be written --flag=VALUE. -h/--help and --version
 * print to stdout and return CONFIG_EXIT before anything else is checked.
 * Returns CONFIG_OK, CONFIG_EXIT or CONFIG_ERROR (message in err). */
int config_load(config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Parses a YAML document from memory into cfg, on top of what it holds
 * (used by config_load and by the unit tests). name is used in error
 * messages ("config.yaml:3: ..."). */
int config_load_yaml(config *cfg, const char *name, const char *text, size_t len, char *err,
                     size_t errlen);

/* Frees the strings owned by cfg and sets them to NULL (safe to repeat). */
void config_free(config *cfg);

/* Frees cfg->tokens (config_free does it too). */
void config_tokens_free(config *cfg);

/* Prints the --help text, generated from the option table, to stdout. */
void config_usage(const char *prog);

#endif
