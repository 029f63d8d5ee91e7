/* config.c - the option table and the two parsers it drives (flags, YAML).
 *
 * Every setting is one row of opts[]: flag, dotted YAML key, type and
 * bounds, offset of its field in struct config, default and help text.
 * config_defaults, the flag parser, the YAML parser, validation and --help
 * all walk that table, so no setting can exist in one place and not another.
 *
 * Ownership: every char * in struct config is NULL or a heap copy owned by
 * the struct, defaults included, and config_free releases them all.
 * Secrets: values are echoed in error messages only for rows without
 * OPTF_SECRET, and libyaml's own messages carry no text from the document,
 * so security.auth_token can never reach stderr or a log.
 */
#include "config.h"
#include "store.h"
#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "version.h"

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)

/* A config file larger than this is refused rather than read. */
#define CONFIG_FILE_MAX (1 << 20)
/* Longest dotted key tracked; any longer key is unknown anyway. */
#define CONFIG_KEY_MAX 128
/* How a size is written, for error messages. */
#define SIZE_SYNTAX "bytes, or a number with suffix k, kb, m, mb, g or gb"
/* Longest piece of a rejected value quoted back in an error message. */
#define ECHO_MAX 48

enum opt_type {
	OPT_INT,    /* int in [min, max] */
	OPT_SIZE,   /* size_t in [min, max]; suffix k, kb, m, mb, g, gb */
	OPT_BOOL,   /* bool: true/false, yes/no, on/off; a bare flag means true */
	OPT_STRING, /* char *, heap-owned */
	OPT_ENUM,   /* int-sized enum, by case-insensitive name from names[] */
	OPT_DIR_OF, /* char *: the directory part of the given file path */
	OPT_TOKENS, /* config_token * list (YAML only): a sequence of mappings */
};

enum {
	OPTF_NONEMPTY = 1 << 0, /* an empty string or a YAML null is an error */
	OPTF_SECRET = 1 << 1,   /* the value is never echoed in a message */
};

struct opt_name {
	const char *name;
	int value;
};

struct opt {
	const char *flag; /* long flag without "--"; NULL: config file only */
	const char *key;  /* dotted YAML key; NULL: command line only */
	enum opt_type type;
	unsigned flags;               /* OPTF_* */
	size_t offset;                /* of the field in struct config */
	long long min, max;           /* OPT_INT, OPT_SIZE */
	const struct opt_name *names; /* OPT_ENUM, ends with a NULL name */
	const char *def;              /* parsed like a flag value; NULL: field stays NULL */
	const char *metavar;          /* for --help */
	const char *help;
};

/* offsetof(config, f), refusing to compile unless field f has type T, so a
 * row can never write an int through a size_t slot or the like. */
#define FIELD(f, T)                                                                                \
	(offsetof(config, f) + 0 * sizeof(char[_Generic(((config *)0)->f, T : 1, default : -1)]))

_Static_assert(sizeof(enum log_level) == sizeof(int) && sizeof(enum log_format) == sizeof(int),
               "OPT_ENUM stores enums as int");

static const struct opt_name fsync_names[] = {
        {"always", WAL_FSYNC_ALWAYS},
        {"everysec", WAL_FSYNC_EVERYSEC},
        {"no", WAL_FSYNC_NO},
        {NULL, 0},
};

static const struct opt_name recover_names[] = {
        {"fail", 0},
        {"truncate", 1},
        {NULL, 0},
};

/* Parquet codec ids (parquet.thrift CompressionCodec). */
static const struct opt_name codec_names[] = {
        {"zstd", 6},   {"snappy", 1},  {"none", 0}, {"gzip", 2},
        {"brotli", 4}, {"lz4_raw", 7}, {NULL, 0},
};

static const struct opt_name level_names[] = {
        {"debug", LOG_DEBUG},  {"info", LOG_INFO},   {"warn", LOG_WARN},
        {"warning", LOG_WARN}, {"error", LOG_ERROR}, {NULL, 0},
};

static const struct opt_name policy_names[] = {
        {"noeviction", STORE_EVICT_NOEVICTION},
        {"allkeys-lru", STORE_EVICT_ALLKEYS_LRU},
        {"allkeys-lfu", STORE_EVICT_ALLKEYS_LFU},
        {"allkeys-random", STORE_EVICT_ALLKEYS_RANDOM},
        {"volatile-lru", STORE_EVICT_VOLATILE_LRU},
        {"volatile-lfu", STORE_EVICT_VOLATILE_LFU},
        {"volatile-random", STORE_EVICT_VOLATILE_RANDOM},
        {"volatile-ttl", STORE_EVICT_VOLATILE_TTL},
        {NULL, 0},
};

static const struct opt_name tls_client_auth_names[] = {
        {"none", CONFIG_TLS_CLIENT_NONE},
        {"optional", CONFIG_TLS_CLIENT_OPTIONAL},
        {"required", CONFIG_TLS_CLIENT_REQUIRED},
        {NULL, 0},
};

static const struct opt_name tls_identity_names[] = {
        {"none", CONFIG_TLS_ID_NONE},
        {"cn", CONFIG_TLS_ID_CN},
        {"san", CONFIG_TLS_ID_SAN},
        {NULL, 0},
};

static const struct opt_name tls_version_names[] = {
        {"1.2", CONFIG_TLS_1_2},
        {"1.3", CONFIG_TLS_1_3},
        {NULL, 0},
};

static const struct opt_name format_names[] = {
        {"json", LOG_FORMAT_JSON},
        {"text", LOG_FORMAT_TEXT},
        {NULL, 0},
};

/* Size bounds: a line holds at least a short command (64 B) and at most
 * 1 GiB; a key at most 16 MiB; a value less than 4 GiB, so that any key or
 * value length fits in 32 bits. */
static const struct opt opts[] = {
        {.flag = "config",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(config_file, char *),
         .metavar = "FILE",
         .help = "YAML config file, read before the other flags are applied"},
        {.flag = "bind",
         .key = "server.bind",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(bind, char *),
         .def = "127.0.0.1",
         .metavar = "ADDR",
         .help = "address to listen on"},
        {.flag = "port",
         .key = "server.port",
         .type = OPT_INT,
         .offset = FIELD(port, int),
         .min = 0,
         .max = 65535,
         .def = "8080",
         .metavar = "N",
         .help = "TCP port to listen on; 0 picks a free port"},
        {.flag = "threads",
         .key = "server.threads",
         .type = OPT_INT,
         .offset = FIELD(threads, int),
         .min = 0,
         .max = 1024,
         .def = "0",
         .metavar = "N",
         .help = "worker threads; 0 means one per CPU core"},
        {.flag = "max-clients",
         .key = "server.max_clients",
         .type = OPT_INT,
         .offset = FIELD(max_clients, int),
         .min = 1,
         .max = 1000000,
         .def = "10000",
         .metavar = "N",
         .help = "connections beyond this many are refused"},
        {.flag = "idle-timeout",
         .key = "server.idle_timeout",
         .type = OPT_INT,
         .offset = FIELD(idle_timeout, int),
         .min = 0,
         .max = 31536000,
         .def = "0",
         .metavar = "SECONDS",
         .help = "close connections idle this long; 0 means never"},
        {.flag = "shutdown-timeout",
         .key = "server.shutdown_timeout",
         .type = OPT_INT,
         .offset = FIELD(shutdown_timeout, int),
         .min = 0,
         .max = 3600,
         .def = "10",
         .metavar = "SECONDS",
         .help = "on shutdown, wait this long for clients to finish"},
        {.flag = "tls",
         .key = "server.tls",
         .type = OPT_BOOL,
         .offset = FIELD(tls, bool),
         .def = "false",
         .metavar = "BOOL",
         .help = "the client port speaks TLS only (needs --tls-cert-file, --tls-key-file)"},
        {.flag = "tls-port",
         .key = "server.tls_port",
         .type = OPT_INT,
         .offset = FIELD(tls_port, int),
         .min = -1,
         .max = 65535,
         .def = "-1",
         .metavar = "N",
         .help = "also serve TLS on this port; -1 means no second port, 0 a free one"},
        {.flag = "tls-cert-file",
         .key = "server.tls_cert_file",
         .type = OPT_STRING,
         .offset = FIELD(tls_cert_file, char *),
         .metavar = "FILE",
         .help = "TLS certificate chain, PEM (re-read on SIGHUP)"},
        {.flag = "tls-key-file",
         .key = "server.tls_key_file",
         .type = OPT_STRING,
         .offset = FIELD(tls_key_file, char *),
         .metavar = "FILE",
         .help = "TLS private key, PEM (re-read on SIGHUP)"},
        {.flag = "tls-client-ca-file",
         .key = "server.tls_client_ca_file",
         .type = OPT_STRING,
         .offset = FIELD(tls_client_ca_file, char *),
         .metavar = "FILE",
         .help = "CA certificates that sign client certificates (mutual TLS), PEM"},
        {.flag = "tls-client-auth",
         .key = "server.tls_client_auth",
         .type = OPT_ENUM,
         .offset = FIELD(tls_client_auth, int),
         .names = tls_client_auth_names,
         .def = "none",
         .metavar = "MODE",
         .help = "none, optional (verified if sent) or required client certificates"},
        {.flag = "tls-client-identity",
         .key = "server.tls_client_identity",
         .type = OPT_ENUM,
         .offset = FIELD(tls_client_identity, int),
         .names = tls_identity_names,
         .def = "cn",
         .metavar = "FIELD",
         .help = "a verified client certificate whose subject CN (cn) or DNS/email SAN "
                 "(san) names a token gets its permissions without AUTH; none disables"},
        {.flag = "tls-min-version",
         .key = "server.tls_min_version",
         .type = OPT_ENUM,
         .offset = FIELD(tls_min_version, int),
         .names = tls_version_names,
         .def = "1.2",
         .metavar = "VERSION",
         .help = "oldest TLS version accepted: 1.2 or 1.3"},
        {.flag = "tls-ciphers",
         .key = "server.tls_ciphers",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(tls_ciphers, char *),
         .metavar = "LIST",
         .help = "TLS 1.2 cipher list (OpenSSL syntax); default: ECDHE with AES-GCM or "
                 "ChaCha20-Poly1305 only"},
        {.flag = "tls-ciphersuites",
         .key = "server.tls_ciphersuites",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(tls_ciphersuites, char *),
         .metavar = "LIST",
         .help = "TLS 1.3 cipher suites (OpenSSL syntax); default: OpenSSL's"},
        {.flag = "handshake-timeout",
         .key = "server.handshake_timeout",
         .type = OPT_INT,
         .offset = FIELD(handshake_timeout, int),
         .min = 1,
         .max = 3600,
         .def = "10",
         .metavar = "SECONDS",
         .help = "close a connection whose TLS handshake is not done by then"},
        {.flag = "client-output-limit",
         .key = "limits.client_output_limit",
         .type = OPT_SIZE,
         .offset = FIELD(client_output_limit, size_t),
         .min = 0,
         .max = 1LL << 40,
         .def = "1g",
         .metavar = "SIZE",
         .help = "disconnect a client whose unsent replies exceed this; 0 means no limit"},
        {.flag = "client-output-soft-limit",
         .key = "limits.client_output_soft_limit",
         .type = OPT_SIZE,
         .offset = FIELD(client_output_soft_limit, size_t),
         .min = 0,
         .max = 1LL << 40,
         .def = "64m",
         .metavar = "SIZE",
         .help = "... or stay above this for --client-output-soft-seconds; 0 means none"},
        {.flag = "client-output-soft-seconds",
         .key = "limits.client_output_soft_seconds",
         .type = OPT_INT,
         .offset = FIELD(client_output_soft_seconds, int),
         .min = 1,
         .max = 86400,
         .def = "60",
         .metavar = "SECONDS",
         .help = "how long unsent replies may stay above the soft limit"},
        {.flag = "data-dir",
         .key = "storage.data_dir",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(data_dir, char *),
         .def = "./data",
         .metavar = "DIR",
         .help = "directory holding the data files"},
        {.key = "storage.file_path",
         .type = OPT_DIR_OF,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(data_dir, char *),
         .metavar = "FILE",
         .help = "the original Mini DB's Parquet file: data_dir becomes its directory and "
                 "the file a link to the newest snapshot"},
        {.flag = "fsync",
         .key = "storage.fsync",
         .type = OPT_ENUM,
         .offset = FIELD(fsync, int),
         .names = fsync_names,
         .def = "everysec",
         .metavar = "POLICY",
         .help = "when the write-ahead log is fsynced: always (before each write is "
                 "acknowledged, group commit), everysec (once a second) or no (the OS "
                 "decides)"},
        {.flag = "wal-segment-bytes",
         .key = "storage.wal_segment_bytes",
         .type = OPT_SIZE,
         .offset = FIELD(wal_segment_bytes, size_t),
         .min = 4096,
         .max = 64 * GIB,
         .def = "64m",
         .metavar = "SIZE",
         .help = "size at which a write-ahead log segment is closed and a new one begun"},
        {.flag = "wal-recover",
         .key = "storage.wal_recover",
         .type = OPT_ENUM,
         .offset = FIELD(wal_recover, int),
         .names = recover_names,
         .def = "fail",
         .metavar = "MODE",
         .help = "a damaged write-ahead log: fail (refuse to start, naming file and offset) "
                 "or truncate (drop everything from the damage on, logged)"},
        {.flag = "snapshot-every",
         .key = "storage.snapshot_every",
         .type = OPT_INT,
         .offset = FIELD(snapshot_every, int),
         .min = 0,
         .max = 31536000,
         .def = "300",
         .metavar = "SECONDS",
         .help = "write a Parquet snapshot in the background this often (when there were "
                 "--snapshot-min-changes changes); 0 turns timed snapshots off"},
        {.flag = "snapshot-min-changes",
         .key = "storage.snapshot_min_changes",
         .type = OPT_INT,
         .offset = FIELD(snapshot_min_changes, int),
         .min = 1,
         .max = 2147483647,
         .def = "1",
         .metavar = "N",
         .help = "changes since the last snapshot that a timed snapshot waits for"},
        {.flag = "snapshot-wal-bytes",
         .key = "storage.snapshot_wal_bytes",
         .type = OPT_SIZE,
         .offset = FIELD(snapshot_wal_bytes, size_t),
         .min = 0,
         .max = 1024 * GIB,
         .def = "256m",
         .metavar = "SIZE",
         .help = "also snapshot once this much write-ahead log was written since the last "
                 "snapshot; 0 turns it off"},
        {.flag = "snapshots-keep",
         .key = "storage.snapshots_keep",
         .type = OPT_INT,
         .offset = FIELD(snapshots_keep, int),
         .min = 1,
         .max = 1000,
         .def = "2",
         .metavar = "N",
         .help = "snapshots kept; the log is kept back to the oldest of them, so a damaged "
                 "newest snapshot can be replaced by the one before it"},
        {.flag = "snapshot-compression",
         .key = "storage.snapshot_compression",
         .type = OPT_ENUM,
         .offset = FIELD(snapshot_compression, int),
         .names = codec_names,
         .def = "zstd",
         .metavar = "CODEC",
         .help = "Parquet page compression of snapshots: zstd, snappy, none, gzip, brotli or "
                 "lz4_raw"},
        {.flag = "snapshot-compression-level",
         .key = "storage.snapshot_compression_level",
         .type = OPT_INT,
         .offset = FIELD(snapshot_compression_level, int),
         .min = -7,
         .max = 22,
         .def = "1",
         .metavar = "N",
         .help = "compression level (zstd -7..22, gzip 1..9, brotli 2..11; snappy and "
                 "lz4_raw have none); 0 is the codec's default. Level 1 of zstd writes "
                 "about 1.6 times as fast as its default 3, for files about 4% larger"},
        {.flag = "snapshot-on-shutdown",
         .key = "storage.snapshot_on_shutdown",
         .type = OPT_BOOL,
         .offset = FIELD(snapshot_on_shutdown, bool),
         .def = "true",
         .metavar = "BOOL",
         .help = "write a snapshot when the server stops cleanly"},
        {.flag = "log-level",
         .key = "logging.level",
         .type = OPT_ENUM,
         .offset = FIELD(log_level, enum log_level),
         .names = level_names,
         .def = "info",
         .metavar = "LEVEL",
         .help = "least severe messages logged"},
        {.flag = "log-format",
         .key = "logging.format",
         .type = OPT_ENUM,
         .offset = FIELD(log_format, enum log_format),
         .names = format_names,
         .def = "json",
         .metavar = "FORMAT",
         .help = "json (one object per line) or text (for people)"},
        {.flag = "log-file",
         .key = "logging.file",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(log_file, char *),
         .metavar = "FILE",
         .help = "append log lines to FILE instead of stderr; SIGHUP reopens it (logrotate)"},
        {.flag = "slowlog-ms",
         .key = "logging.slowlog_ms",
         .type = OPT_INT,
         .offset = FIELD(slowlog_ms, int),
         .min = -1,
         .max = 3600000,
         .def = "10",
         .metavar = "MS",
         .help = "log every command that runs this many milliseconds or longer (and keep it "
                 "for SLOWLOG GET); 0 logs every command, -1 turns it off"},
        {.flag = "slowlog-max-len",
         .key = "logging.slowlog_max_len",
         .type = OPT_INT,
         .offset = FIELD(slowlog_max_len, int),
         .min = 0,
         .max = 1000000,
         .def = "128",
         .metavar = "N",
         .help = "slow commands kept for SLOWLOG GET (the oldest go first)"},
        {.flag = "log-requests",
         .key = "logging.requests",
         .type = OPT_BOOL,
         .offset = FIELD(log_requests, bool),
         .def = "false",
         .metavar = "BOOL",
         .help = "log one line per command: name, duration, outcome (never its arguments)"},
        {.flag = "max-line-bytes",
         .key = "limits.max_line_bytes",
         .type = OPT_SIZE,
         .offset = FIELD(max_line_bytes, size_t),
         .min = 64,
         .max = GIB,
         .def = "1m",
         .metavar = "SIZE",
         .help = "longest request line; a longer one closes the connection"},
        {.flag = "max-key-bytes",
         .key = "limits.max_key_bytes",
         .type = OPT_SIZE,
         .offset = FIELD(max_key_bytes, size_t),
         .min = 1,
         .max = 16 * MIB,
         .def = "64k",
         .metavar = "SIZE",
         .help = "longest key accepted"},
        {.flag = "max-value-bytes",
         .key = "limits.max_value_bytes",
         .type = OPT_SIZE,
         .offset = FIELD(max_value_bytes, size_t),
         .min = 1,
         .max = 4 * GIB - 1,
         .def = "512m",
         .metavar = "SIZE",
         .help = "longest value accepted"},
        {.flag = "max-bulk-bytes",
         .key = "limits.max_bulk_bytes",
         .type = OPT_SIZE,
         .offset = FIELD(max_bulk_bytes, size_t),
         .min = 1,
         .max = 4 * GIB - 1,
         .def = "512m",
         .metavar = "SIZE",
         .help = "longest RESP bulk string (Redis: proto-max-bulk-len)"},
        {.flag = "max-array-len",
         .key = "limits.max_array_len",
         .type = OPT_INT,
         .offset = FIELD(max_array_len, int),
         .min = 1,
         .max = 1 << 30,
         .def = "1048576",
         .metavar = "N",
         .help = "most arguments in one RESP command"},
        {.flag = "max-query-buffer-bytes",
         .key = "limits.max_query_buffer_bytes",
         .type = OPT_SIZE,
         .offset = FIELD(max_query_buffer_bytes, size_t),
         .min = 1024,
         .max = 8 * GIB,
         .def = "1g",
         .metavar = "SIZE",
         .help = "unparsed input one client may hold (Redis: client-query-buffer-limit)"},
        {.flag = "maxmemory",
         .key = "memory.maxmemory",
         .type = OPT_SIZE,
         .offset = FIELD(maxmemory, size_t),
         .min = 0,
         .max = 1LL << 50,
         .def = "0",
         .metavar = "SIZE",
         .help = "memory limit for data (0 = none); see --maxmemory-policy"},
        {.flag = "maxmemory-policy",
         .key = "memory.maxmemory_policy",
         .type = OPT_ENUM,
         .offset = FIELD(maxmemory_policy, int),
         .names = policy_names,
         .def = "noeviction",
         .metavar = "POLICY",
         .help = "noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, "
                 "volatile-lfu, volatile-random or volatile-ttl"},
        {.flag = "http-port",
         .key = "metrics.port",
         .type = OPT_INT,
         .offset = FIELD(http_port, int),
         .min = -1,
         .max = 65535,
         .def = "2112",
         .metavar = "N",
         .help = "HTTP port for /metrics, /healthz and /readyz; 0 turns it off, -1 picks a "
                 "free port"},
        {.flag = "http-bind",
         .key = "metrics.bind",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(http_bind, char *),
         .def = "127.0.0.1",
         .metavar = "ADDR",
         .help = "address the HTTP endpoint listens on"},
        {.flag = "http-tls",
         .key = "metrics.tls",
         .type = OPT_BOOL,
         .offset = FIELD(http_tls, bool),
         .def = "false",
         .metavar = "BOOL",
         .help = "serve the HTTP endpoint over TLS with --tls-cert-file and --tls-key-file"},
        {.flag = "http-auth",
         .key = "metrics.auth",
         .type = OPT_BOOL,
         .offset = FIELD(http_auth, bool),
         .def = "false",
         .metavar = "BOOL",
         .help = "/metrics needs \"Authorization: Bearer TOKEN\" with a token or JWT the "
                 "client port accepts (/healthz and /readyz stay open)"},
        {.flag = "http-max-connections",
         .key = "metrics.max_connections",
         .type = OPT_INT,
         .offset = FIELD(http_max_connections, int),
         .min = 1,
         .max = 10000,
         .def = "64",
         .metavar = "N",
         .help = "HTTP connections served at once; more are refused"},
        {.flag = "http-timeout",
         .key = "metrics.timeout",
         .type = OPT_INT,
         .offset = FIELD(http_timeout, int),
         .min = 1,
         .max = 3600,
         .def = "10",
         .metavar = "SECONDS",
         .help = "an HTTP connection idle (or slow to send its request) this long is closed"},
        {.flag = "auth",
         .key = "security.auth_enabled",
         .type = OPT_BOOL,
         .offset = FIELD(auth_enabled, bool),
         .def = "false",
         .metavar = "BOOL",
         .help = "require every connection to authenticate (AUTH, a client certificate)"},
        /* File only: a token given as a flag would be visible to every user via ps. */
        {.key = "security.auth_token",
         .type = OPT_STRING,
         .flags = OPTF_SECRET,
         .offset = FIELD(auth_token, char *),
         .metavar = "TOKEN",
         .help = "the original single token (all permissions); a secret, never logged"},
        {.key = "security.tokens",
         .type = OPT_TOKENS,
         .offset = FIELD(tokens, config_token *),
         .metavar = "LIST",
         .help = "named tokens: a list of {name, hash, permissions}; hash from "
                 "minidb-cli hash-token, permissions read, write, admin"},
        {.key = "security.jwt_secret",
         .type = OPT_STRING,
         .flags = OPTF_SECRET | OPTF_NONEMPTY,
         .offset = FIELD(jwt_secret, char *),
         .metavar = "SECRET",
         .help = "HMAC secret (32 bytes or more) for HS256/384/512 JWTs; never logged"},
        {.flag = "jwt-secret-file",
         .key = "security.jwt_secret_file",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(jwt_secret_file, char *),
         .metavar = "FILE",
         .help = "file holding the HMAC secret for JWTs (one trailing newline ignored)"},
        {.flag = "jwt-public-key-file",
         .key = "security.jwt_public_key_file",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(jwt_public_key_file, char *),
         .metavar = "FILE",
         .help = "RSA or P-256 public key (PEM) for RS256/384/512 and ES256 JWTs"},
        {.flag = "jwt-jwks-file",
         .key = "security.jwt_jwks_file",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(jwt_jwks_file, char *),
         .metavar = "FILE",
         .help = "the OAuth/OIDC provider's JWKS document (re-read on SIGHUP)"},
        {.flag = "jwt-issuer",
         .key = "security.jwt_issuer",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(jwt_issuer, char *),
         .metavar = "ISS",
         .help = "JWTs must carry this iss; unset: not checked"},
        {.flag = "jwt-audience",
         .key = "security.jwt_audience",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(jwt_audience, char *),
         .metavar = "AUD",
         .help = "JWTs' aud must contain this; unset: not checked"},
        {.flag = "jwt-scope-claim",
         .key = "security.jwt_scope_claim",
         .type = OPT_STRING,
         .flags = OPTF_NONEMPTY,
         .offset = FIELD(jwt_scope_claim, char *),
         .def = "scope",
         .metavar = "CLAIM",
         .help = "claim listing the permissions (space-separated string or array)"},
        {.flag = "jwt-scope-prefix",
         .key = "security.jwt_scope_prefix",
         .type = OPT_STRING,
         .offset = FIELD(jwt_scope_prefix, char *),
         .def = "minidb:",
         .metavar = "PREFIX",
         .help = "scope words are PREFIX read, PREFIX write, PREFIX admin"},
        {.flag = "jwt-leeway",
         .key = "security.jwt_leeway",
         .type = OPT_INT,
         .offset = FIELD(jwt_leeway, int),
         .min = 0,
         .max = 3600,
         .def = "30",
         .metavar = "SECONDS",
         .help = "clock skew allowed when checking exp and nbf"},
        {.flag = "jwt-require-exp",
         .key = "security.jwt_require_exp",
         .type = OPT_BOOL,
         .offset = FIELD(jwt_require_exp, bool),
         .def = "true",
         .metavar = "BOOL",
         .help = "refuse JWTs without an exp claim"},
};

#define NOPTS (sizeof opts / sizeof opts[0])

static void *field_ptr(config *cfg, const struct opt *o)
{
	return (char *)cfg + o->offset;
}

/* Copies n bytes of s into buf for quoting in a message: printable ASCII
 * as is, any other byte as \xHH, cut after ECHO_MAX bytes with "...", so a
 * message stays one readable line whatever the input. Returns buf. */
static const char *echo(char *buf, size_t size, const char *s, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && i < ECHO_MAX && len + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[len++] = (char)c;
		else
			len += (size_t)snprintf(buf + len, size - len, "\\x%02x", c);
		buf[len] = '\0';
	}
	if (n > ECHO_MAX && len + 4 < size)
		memcpy(buf + len, "...", 4);
	return buf;
}

/* Formats a size bound the way a user would write it: 1g, 16m, 64k, 100. */
static void format_size(char *buf, size_t size, long long v)
{
	if (v > 0 && v % GIB == 0)
		snprintf(buf, size, "%lldg", v / GIB);
	else if (v > 0 && v % MIB == 0)
		snprintf(buf, size, "%lldm", v / MIB);
	else if (v > 0 && v % KIB == 0)
		snprintf(buf, size, "%lldk", v / KIB);
	else
		snprintf(buf, size, "%lld", v);
}

static void format_range(char *buf, size_t size, const struct opt *o)
{
	char lo[24], hi[24];

	if (o->type == OPT_SIZE) {
		format_size(lo, sizeof lo, o->min);
		format_size(hi, sizeof hi, o->max);
		snprintf(buf, size, "%s..%s", lo, hi);
	} else {
		snprintf(buf, size, "%lld..%lld", o->min, o->max);
	}
}

static void list_names(char *buf, size_t size, const struct opt_name *names)
{
	size_t len = 0;

	buf[0] = '\0';
	for (const struct opt_name *n = names; n->name != NULL && len < size; n++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", n == names ? "" : ", ",
		                        n->name);
}

enum num_result { NUM_OK, NUM_INVALID, NUM_RANGE };

/* Base-10 integer with an optional sign and nothing else: no spaces, no
 * trailing garbage; overflow of long long is NUM_RANGE. */
static enum num_result parse_int(const char *s, long long *out)
{
	char *end;

	if (!((s[0] >= '0' && s[0] <= '9') ||
	      ((s[0] == '-' || s[0] == '+') && s[1] >= '0' && s[1] <= '9')))
		return NUM_INVALID;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (*end != '\0')
		return NUM_INVALID;
	return errno == ERANGE ? NUM_RANGE : NUM_OK;
}

/* A byte count: digits, optional spaces, optional suffix k, kb, m, mb, g or
 * gb in any case (powers of 1024). No sign, no fraction. */
static enum num_result parse_size(const char *s, long long *out)
{
	static const struct {
		const char *suffix;
		unsigned long long mult;
	} units[] = {{"", 1},     {"k", KIB}, {"kb", KIB}, {"m", MIB},
	             {"mb", MIB}, {"g", GIB}, {"gb", GIB}};
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return NUM_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (errno == ERANGE || v > (unsigned long long)LLONG_MAX / units[i].mult)
			return NUM_RANGE;
		*out = (long long)(v * units[i].mult);
		return NUM_OK;
	}
	return NUM_INVALID;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const names[] = {"false", "no", "off", "true", "yes", "on"};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = i >= 3;
			return 0;
		}
	}
	return -1;
}

/* Stores a heap copy of s (or NULL) in a string field, freeing the old one. */
static int set_string(char **slot, const char *s, size_t n)
{
	char *copy = NULL;

	if (s != NULL && (copy = strndup(s, n)) == NULL)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

/* Parses val for row o and stores it in cfg. val is NULL for a YAML null
 * (an empty value, ~ or null). On failure writes the reason, without the
 * option's name, to msg and returns -1; cfg is then unchanged. */
static int opt_set(const struct opt *o, config *cfg, const char *val, char *msg, size_t msglen)
{
	char shown[ECHO_MAX * 4 + 8];
	char range[64];
	long long n = 0;
	bool b;

	shown[0] = '\0';
	if (o->flags & OPTF_SECRET)
		snprintf(shown, sizeof shown, "(hidden)");
	else if (val != NULL)
		echo(shown, sizeof shown, val, strlen(val));
	if (val == NULL && o->type != OPT_STRING) {
		snprintf(msg, msglen, "missing value");
		return -1;
	}
	if ((val == NULL || val[0] == '\0') && (o->flags & OPTF_NONEMPTY)) {
		snprintf(msg, msglen, "must not be empty");
		return -1;
	}

	switch (o->type) {
	case OPT_INT:
	case OPT_SIZE: {
		enum num_result r = o->type == OPT_INT ? parse_int(val, &n) : parse_size(val, &n);

		if (r == NUM_INVALID) {
			if (o->type == OPT_INT)
				snprintf(msg, msglen, "'%s' is not an integer", shown);
			else
				snprintf(msg, msglen, "'%s' is not a size (%s)", shown,
				         SIZE_SYNTAX);
			return -1;
		}
		if (r == NUM_RANGE || n < o->min || n > o->max) {
			format_range(range, sizeof range, o);
			snprintf(msg, msglen, "'%s' is out of range (%s)", shown, range);
			return -1;
		}
		if (o->type == OPT_INT)
			*(int *)field_ptr(cfg, o) = (int)n;
		else
			*(size_t *)field_ptr(cfg, o) = (size_t)n;
		return 0;
	}
	case OPT_BOOL:
		if (parse_bool(val, &b) != 0) {
			snprintf(msg, msglen, "'%s' is not a boolean (true/false, yes/no, on/off)",
			         shown);
			return -1;
		}
		*(bool *)field_ptr(cfg, o) = b;
		return 0;
	case OPT_ENUM:
		for (const struct opt_name *e = o->names; e->name != NULL; e++) {
			if (strcasecmp(val, e->name) == 0) {
				memcpy(field_ptr(cfg, o), &e->value, sizeof(int));
				return 0;
			}
		}
		list_names(range, sizeof range, o->names);
		snprintf(msg, msglen, "'%s' is not one of %s", shown, range);
		return -1;
	case OPT_STRING:
		if (set_string(field_ptr(cfg, o), val, val != NULL ? strlen(val) : 0) != 0)
			goto oom;
		return 0;
	case OPT_DIR_OF: {
		/* "data/minidb.parquet" -> "data", "db.parquet" -> ".", "/x" -> "/" */
		const char *path = val;
		const char *slash = strrchr(val, '/');
		size_t len = slash != NULL ? (size_t)(slash - val) : 0;

		while (len > 0 && val[len - 1] == '/')
			len--;
		if (slash == NULL)
			val = ".";
		else if (len == 0)
			val = "/";
		if (set_string(&cfg->file_path, path, strlen(path)) != 0 ||
		    set_string(field_ptr(cfg, o), val, slash != NULL && len > 0 ? len : 1) != 0)
			goto oom;
		return 0;
	}
	case OPT_TOKENS:
		snprintf(msg, msglen, "a list of tokens, set in the config file only");
		return -1;
	}
oom:
	snprintf(msg, msglen, "out of memory");
	return -1;
}

void config_defaults(config *cfg)
{
	char msg[256];

	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].def != NULL &&
		    opt_set(&opts[i], cfg, opts[i].def, msg, sizeof msg) != 0) {
			/* Only out of memory at start-up gets here: the defaults
			 * are checked by the unit tests. */
			fprintf(stderr, "minidb: default for %s: %s\n",
			        opts[i].key != NULL ? opts[i].key : opts[i].flag, msg);
			abort();
		}
	}
}

void config_free(config *cfg)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].type == OPT_STRING || opts[i].type == OPT_DIR_OF) {
			char **slot = field_ptr(cfg, &opts[i]);

			/* Two rows share data_dir: NULL after free keeps this safe. */
			free(*slot);
			*slot = NULL;
		}
	}
	free(cfg->file_path); /* set by the OPT_DIR_OF row beside data_dir */
	cfg->file_path = NULL;
	config_tokens_free(cfg);
}

void config_tokens_free(config *cfg)
{
	for (size_t i = 0; i < cfg->ntokens; i++) {
		free(cfg->tokens[i].name);
		free(cfg->tokens[i].hash);
		free(cfg->tokens[i].permissions);
	}
	free(cfg->tokens);
	cfg->tokens = NULL;
	cfg->ntokens = 0;
}

/* ---- YAML ---------------------------------------------------------------- */

/* Parser state for one document. Nested mappings are flattened into dotted
 * keys; seen[] remembers every key and section met so far to refuse
 * duplicates. It cannot overflow: a key that is not a row's key or a prefix
 * of one is refused before it is recorded, and each may be recorded once. */
struct yaml_ctx {
	yaml_parser_t parser;
	config *cfg;
	const char *name;
	const char *text;
	size_t len;
	char *err;
	size_t errlen;
	size_t nseen;
	struct {
		char key[CONFIG_KEY_MAX];
		const struct opt *opt; /* NULL for a section such as "server" */
		size_t line;
	} seen[2 * NOPTS];
};

static int yaml_fail(struct yaml_ctx *c, size_t line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Writes "name:line: message" to the caller's err and returns -1. */
static int yaml_fail(struct yaml_ctx *c, size_t line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%zu: %s", c->name, line, msg);
	return -1;
}

/* Reports libyaml's error. Its problem and context strings are constants
 * from the library, never text from the document. */
static int yaml_syntax_error(struct yaml_ctx *c)
{
	yaml_parser_t *p = &c->parser;
	size_t line = 1;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		snprintf(c->err, c->errlen, "%s: out of memory", c->name);
		return -1;
	case YAML_READER_ERROR:
		for (size_t i = 0; i < p->problem_offset && i < c->len; i++)
			line += c->text[i] == '\n';
		return yaml_fail(c, line, "invalid text: %s", p->problem ? p->problem : "?");
	default:
		if (p->context != NULL)
			return yaml_fail(c, p->problem_mark.line + 1,
			                 "syntax error: %s (%s at line %zu)",
			                 p->problem ? p->problem : "?", p->context,
			                 p->context_mark.line + 1);
		return yaml_fail(c, p->problem_mark.line + 1, "syntax error: %s",
		                 p->problem ? p->problem : "?");
	}
}

static int yaml_next(struct yaml_ctx *c, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&c->parser, ev))
		return yaml_syntax_error(c);
	return 0;
}

/* A plain empty, "~" or "null" scalar is YAML's null; quoted, it is text. */
static bool scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	        strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

static const struct opt *find_key(const char *key)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].key != NULL && strcmp(opts[i].key, key) == 0)
			return &opts[i];
	}
	return NULL;
}

/* True when key is a section: a proper dotted prefix of some row's key. */
static bool is_section(const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].key != NULL && strncmp(opts[i].key, key, n) == 0 &&
		    opts[i].key[n] == '.')
			return true;
	}
	return false;
}

/* Refuses a key seen before, and a second row setting the same field
 * (storage.file_path and storage.data_dir), then records the key. */
static int yaml_record(struct yaml_ctx *c, const char *key, const struct opt *o, size_t line)
{
	for (size_t i = 0; i < c->nseen; i++) {
		if (strcmp(c->seen[i].key, key) == 0)
			return yaml_fail(c, line, "duplicate key '%s' (first on line %zu)", key,
			                 c->seen[i].line);
		if (o != NULL && c->seen[i].opt != NULL && c->seen[i].opt->offset == o->offset)
			return yaml_fail(c, line, "%s: conflicts with %s on line %zu", key,
			                 c->seen[i].key, c->seen[i].line);
	}
	if (c->nseen == sizeof c->seen / sizeof c->seen[0])
		return yaml_fail(c, line, "too many keys"); /* see struct yaml_ctx */
	snprintf(c->seen[c->nseen].key, sizeof c->seen[0].key, "%s", key);
	c->seen[c->nseen].opt = o;
	c->seen[c->nseen].line = line;
	c->nseen++;
	return 0;
}

static int yaml_mapping(struct yaml_ctx *c, const char *prefix);

/* Reads the fields of one token mapping (after its MAPPING_START) into t.
 * Values are never quoted back: a hash line is as good as a secret to an
 * attacker grinding it offline. */
static int yaml_token(struct yaml_ctx *c, const char *key, size_t idx, config_token *t)
{
	for (;;) {
		yaml_event_t ev;
		char **slot;
		size_t kline;
		int rc = 0;

		if (yaml_next(c, &ev) != 0)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			size_t line = ev.start_mark.line + 1;

			yaml_event_delete(&ev);
			if (t->name == NULL || t->hash == NULL || t->permissions == NULL)
				return yaml_fail(c, line,
				                 "%s[%zu]: needs name, hash and permissions", key,
				                 idx);
			return 0;
		}
		kline = ev.start_mark.line + 1;
		if (ev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&ev);
			return yaml_fail(c, kline, "%s[%zu]: keys must be plain strings", key, idx);
		}
		if (strcmp((const char *)ev.data.scalar.value, "name") == 0)
			slot = &t->name;
		else if (strcmp((const char *)ev.data.scalar.value, "hash") == 0)
			slot = &t->hash;
		else if (strcmp((const char *)ev.data.scalar.value, "permissions") == 0)
			slot = &t->permissions;
		else
			slot = NULL;
		yaml_event_delete(&ev);
		if (slot == NULL)
			return yaml_fail(
			        c, kline,
			        "%s[%zu]: unknown field (expected name, hash, permissions)", key,
			        idx);
		if (*slot != NULL)
			return yaml_fail(c, kline, "%s[%zu]: duplicate field", key, idx);
		if (yaml_next(c, &ev) != 0)
			return -1;
		if (ev.type != YAML_SCALAR_EVENT || scalar_is_null(&ev) ||
		    ev.data.scalar.length == 0 ||
		    strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length)
			rc = yaml_fail(c, ev.start_mark.line + 1,
			               "%s[%zu]: expected a non-empty text value", key, idx);
		else if (set_string(slot, (const char *)ev.data.scalar.value,
		                    ev.data.scalar.length) != 0)
			rc = yaml_fail(c, kline, "out of memory");
		yaml_event_delete(&ev);
		if (rc != 0)
			return rc;
	}
}

/* security.tokens: a sequence of mappings, after its SEQUENCE_START. The
 * list replaces any earlier one; at most CONFIG_TOKENS_MAX entries. */
static int yaml_tokens(struct yaml_ctx *c, const char *key)
{
	config *cfg = c->cfg;

	config_tokens_free(cfg);
	for (;;) {
		yaml_event_t ev;
		config_token *grown;
		size_t line;

		if (yaml_next(c, &ev) != 0)
			return -1;
		line = ev.start_mark.line + 1;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_MAPPING_START_EVENT) {
			yaml_event_delete(&ev);
			return yaml_fail(c, line,
			                 "%s[%zu]: expected a mapping with name, hash and "
			                 "permissions",
			                 key, cfg->ntokens);
		}
		yaml_event_delete(&ev);
		if (cfg->ntokens == CONFIG_TOKENS_MAX)
			return yaml_fail(c, line, "%s: more than %d tokens", key,
			                 CONFIG_TOKENS_MAX);
		grown = realloc(cfg->tokens, (cfg->ntokens + 1) * sizeof *grown);
		if (grown == NULL)
			return yaml_fail(c, line, "out of memory");
		cfg->tokens = grown;
		memset(&cfg->tokens[cfg->ntokens], 0, sizeof cfg->tokens[0]);
		cfg->ntokens++;
		if (yaml_token(c, key, cfg->ntokens - 1, &cfg->tokens[cfg->ntokens - 1]) != 0)
			return -1;
	}
}

/* Handles the value event of key (whose key event was on line kline). */
static int yaml_value(struct yaml_ctx *c, const char *key, size_t kline, yaml_event_t *ev)
{
	const struct opt *o = find_key(key);
	bool section = o == NULL && is_section(key);
	size_t vline = ev->start_mark.line + 1;
	char msg[ECHO_MAX * 4 + 256];

	if (o == NULL && !section)
		return yaml_fail(c, kline, "unknown key '%s'",
		                 echo(msg, sizeof msg, key, strlen(key)));
	if (yaml_record(c, key, o, kline) != 0)
		return -1;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (o != NULL && o->type == OPT_TOKENS) {
			if (scalar_is_null(ev)) {
				config_tokens_free(c->cfg); /* "tokens:" with none listed */
				return 0;
			}
			return yaml_fail(c, vline, "%s: expected a list of tokens", key);
		}
		if (section && scalar_is_null(ev))
			return 0; /* "server:" with every key commented out */
		if (section)
			return yaml_fail(c, vline, "%s: expected a mapping of keys, not a value",
			                 key);
		if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
			return yaml_fail(c, vline, "%s: the value contains a NUL byte", key);
		if (opt_set(o, c->cfg,
		            scalar_is_null(ev) ? NULL : (const char *)ev->data.scalar.value, msg,
		            sizeof msg) != 0)
			return yaml_fail(c, vline, "%s: %s", key, msg);
		return 0;
	case YAML_MAPPING_START_EVENT:
		if (section)
			return yaml_mapping(c, key);
		return yaml_fail(c, vline, "%s: expected a single value, not a mapping", key);
	case YAML_SEQUENCE_START_EVENT:
		if (o != NULL && o->type == OPT_TOKENS)
			return yaml_tokens(c, key);
		return yaml_fail(c, vline, "%s: expected %s, not a list", key,
		                 section ? "a mapping of keys" : "a single value");
	case YAML_ALIAS_EVENT:
		return yaml_fail(c, vline, "%s: YAML aliases are not supported", key);
	default:
		return yaml_fail(c, vline, "%s: unexpected YAML event", key);
	}
}

/* Reads key/value pairs up to the end of the current mapping. Recursion is
 * bounded: only sections nest, and they are one level deep. */
static int yaml_mapping(struct yaml_ctx *c, const char *prefix)
{
	for (;;) {
		yaml_event_t ev;
		char key[CONFIG_KEY_MAX];
		char shown[ECHO_MAX * 4 + 8];
		size_t kline;
		int n, rc;

		if (yaml_next(c, &ev) != 0)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		kline = ev.start_mark.line + 1;
		if (ev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&ev);
			return yaml_fail(c, kline, "keys must be plain strings");
		}
		n = snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "",
		             (const char *)ev.data.scalar.value);
		if (n < 0 || (size_t)n >= sizeof key ||
		    strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length) {
			/* Too long to be a row's key, or with a NUL byte inside. */
			echo(shown, sizeof shown, (const char *)ev.data.scalar.value,
			     ev.data.scalar.length);
			yaml_event_delete(&ev);
			return yaml_fail(c, kline, "unknown key '%s'", shown);
		}
		yaml_event_delete(&ev);

		if (yaml_next(c, &ev) != 0)
			return -1;
		rc = yaml_value(c, key, kline, &ev);
		yaml_event_delete(&ev);
		if (rc != 0)
			return rc;
	}
}

/* stream-start [document-start root document-end] stream-end */
static int yaml_stream(struct yaml_ctx *c)
{
	yaml_event_t ev;
	int rc = 0;

	for (int i = 0; i < 2; i++) { /* stream start, then document start or stream end */
		if (yaml_next(c, &ev) != 0)
			return -1;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			return 0; /* empty or comments only */
		}
		yaml_event_delete(&ev);
	}

	if (yaml_next(c, &ev) != 0)
		return -1;
	if (ev.type == YAML_MAPPING_START_EVENT)
		rc = yaml_mapping(c, "");
	else if (ev.type != YAML_SCALAR_EVENT || !scalar_is_null(&ev))
		rc = yaml_fail(c, ev.start_mark.line + 1,
		               "expected a mapping of keys at the top level");
	yaml_event_delete(&ev);
	if (rc != 0)
		return rc;

	if (yaml_next(c, &ev) != 0) /* document end */
		return -1;
	yaml_event_delete(&ev);
	if (yaml_next(c, &ev) != 0)
		return -1;
	if (ev.type != YAML_STREAM_END_EVENT)
		rc = yaml_fail(c, ev.start_mark.line + 1, "only one YAML document is allowed");
	yaml_event_delete(&ev);
	return rc;
}

int config_load_yaml(config *cfg, const char *name, const char *text, size_t len, char *err,
                     size_t errlen)
{
	struct yaml_ctx *c;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	/* On the heap: seen[] makes the context several KiB. */
	c = calloc(1, sizeof *c);
	if (c == NULL || !yaml_parser_initialize(&c->parser)) {
		snprintf(err, errlen, "%s: out of memory", name);
		free(c);
		return CONFIG_ERROR;
	}
	c->cfg = cfg;
	c->name = name;
	c->text = text != NULL ? text : "";
	c->len = text != NULL ? len : 0;
	c->err = err;
	c->errlen = errlen;
	yaml_parser_set_input_string(&c->parser, (const unsigned char *)c->text, c->len);
	rc = yaml_stream(c);
	yaml_parser_delete(&c->parser);
	free(c);
	return rc == 0 ? CONFIG_OK : CONFIG_ERROR;
}

/* Reads at most CONFIG_FILE_MAX bytes of path and parses them. */
static int load_file(config *cfg, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, rc = CONFIG_ERROR;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return CONFIG_ERROR;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto cleanup;
	}
	while (len <= CONFIG_FILE_MAX) {
		ssize_t n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than the limit of %d bytes", path,
		         CONFIG_FILE_MAX);
		goto cleanup;
	}
	rc = config_load_yaml(cfg, path, buf, len, err, errlen);
cleanup:
	free(buf);
	close(fd);
	return rc;
}

/* ---- Command line ----------------------------------------------------------- */

static const struct opt *find_flag(const char *name, size_t n)
{
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].flag != NULL && strlen(opts[i].flag) == n &&
		    memcmp(opts[i].flag, name, n) == 0)
			return &opts[i];
	}
	return NULL;
}

static bool is_help_or_version(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 ||
	       strcmp(arg, "--version") == 0;
}

/* Applies every flag in argv to cfg, in order. Values come as --flag=VALUE
 * or --flag VALUE; the separate form never takes an argument starting with
 * '-', so a forgotten value cannot swallow the next flag. Bool flags take
 * only the = form. Returns 0, or -1 with err set. */
static int apply_flags(config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	char shown[ECHO_MAX * 4 + 8];
	char msg[256];

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *name = arg + 2;
		const char *eq, *val;
		const struct opt *o;
		size_t n;

		if (is_help_or_version(arg))
			continue;
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			snprintf(err, errlen, "unexpected argument '%s'",
			         echo(shown, sizeof shown, arg, strlen(arg)));
			return -1;
		}
		eq = strchr(name, '=');
		n = eq != NULL ? (size_t)(eq - name) : strlen(name);
		o = find_flag(name, n);
		if (o == NULL) {
			/* Only the name: what follows '=' might be a secret. */
			snprintf(err, errlen, "unknown flag '--%s'",
			         echo(shown, sizeof shown, name, n));
			return -1;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (o->type == OPT_BOOL)
			val = "true";
		else if (i + 1 < argc && argv[i + 1][0] != '-')
			val = argv[++i];
		else {
			snprintf(err, errlen, "--%s: missing value", o->flag);
			return -1;
		}
		if (opt_set(o, cfg, val, msg, sizeof msg) != 0) {
			snprintf(err, errlen, "--%s: %s", o->flag, msg);
			return -1;
		}
	}
	return 0;
}

int config_load(config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	config scratch;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			config_usage(argv[0]);
			return CONFIG_EXIT;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("minidb %s (%s)\n", MINIDB_VERSION, MINIDB_COMMIT);
			return CONFIG_EXIT;
		}
	}

	/* Two passes so that flags win over the file wherever --config is:
	 * the first checks every flag and finds --config on a scratch copy,
	 * then the file is read, then the flags are applied for real. */
	memset(&scratch, 0, sizeof scratch);
	rc = apply_flags(&scratch, argc, argv, err, errlen);
	if (rc == 0 && scratch.config_file != NULL)
		rc = load_file(cfg, scratch.config_file, err, errlen);
	config_free(&scratch);
	if (rc == 0)
		rc = apply_flags(cfg, argc, argv, err, errlen);
	return rc == 0 ? CONFIG_OK : CONFIG_ERROR;
}

/* ---- --help ------------------------------------------------------------------ */

/* One option: its name, help, then its key, bounds and default. */
static void usage_row(const struct opt *o, const char *left)
{
	char detail[192], range[64];
	size_t len = 0;

	detail[0] = '\0';
	if (o->flag != NULL && o->key != NULL)
		len += (size_t)snprintf(detail + len, sizeof detail - len, "%s; ", o->key);
	if (o->type == OPT_INT || o->type == OPT_SIZE) {
		format_range(range, sizeof range, o);
		len += (size_t)snprintf(detail + len, sizeof detail - len, "%s; ", range);
	} else if (o->type == OPT_ENUM) {
		list_names(range, sizeof range, o->names);
		len += (size_t)snprintf(detail + len, sizeof detail - len, "%s; ", range);
	}
	if (o->def != NULL && len < sizeof detail)
		len += (size_t)snprintf(detail + len, sizeof detail - len, "default %s; ", o->def);
	if (len >= 2 && len < sizeof detail)
		detail[len - 2] = '\0';
	printf("  %-28s %s\n", left, o->help);
	if (detail[0] != '\0')
		printf("  %-28s (%s)\n", "", detail);
}

void config_usage(const char *prog)
{
	char left[64];

	printf("Usage: %s [--config FILE] [flags]\n\n", prog != NULL ? prog : "minidb");
	printf("Flags override the config file wherever they appear on the command line.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];

		if (o->flag == NULL)
			continue;
		if (o->type == OPT_BOOL)
			snprintf(left, sizeof left, "--%s[=BOOL]", o->flag);
		else
			snprintf(left, sizeof left, "--%s %s", o->flag, o->metavar);
		usage_row(o, left);
	}
	printf("  %-28s %s\n", "-h, --help", "print this help and exit");
	printf("  %-28s %s\n", "--version", "print the version and exit");
	printf("\nConfig file keys without a flag:\n");
	for (size_t i = 0; i < NOPTS; i++) {
		if (opts[i].flag == NULL)
			usage_row(&opts[i], opts[i].key);
	}
	printf("\nSIZE is a byte count, optionally with a suffix k, kb, m, mb, g or gb (any case,\n"
	       "powers of 1024). BOOL is true/false, yes/no or on/off. Values starting with '-'\n"
	       "must be given as --flag=VALUE.\n");
}
