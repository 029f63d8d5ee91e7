/* log.h - structured logging: JSON lines (default) or human-readable text.
 *
 * One log line is built in a stack buffer and written with a single write(2),
 * so lines from different threads never interleave. Thread-safe; no locks on
 * the hot path. Never pass a stored value or a secret (token, password) as a
 * field: logs are read by people who must not see data.
 *
 * Usage:
 *   log_info("server", "listening", LF_S("bind", addr), LF_I("port", port));
 *   log_warn("conn", "line too long", LF_U("bytes", n));
 */
#ifndef MINIDB_LOG_H
#define MINIDB_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT };

enum log_field_type { LF_STR = 1, LF_INT, LF_UINT, LF_DBL, LF_BOOL };

typedef struct log_field {
	const char *key; /* NULL marks an unused slot (skipped) */
	enum log_field_type type;
	union {
		const char *s;
		long long i;
		unsigned long long u;
		double d;
		int b;
	} v;
} log_field;

#define LF_S(k, val) ((log_field){.key = (k), .type = LF_STR, .v.s = (val)})
#define LF_I(k, val) ((log_field){.key = (k), .type = LF_INT, .v.i = (long long)(val)})
#define LF_U(k, val) ((log_field){.key = (k), .type = LF_UINT, .v.u = (unsigned long long)(val)})
#define LF_D(k, val) ((log_field){.key = (k), .type = LF_DBL, .v.d = (double)(val)})
#define LF_B(k, val) ((log_field){.key = (k), .type = LF_BOOL, .v.b = !!(val)})

/* Sets the minimum level, the format and the output fd (default: level info,
 * JSON, fd 2). Call once at start-up before threads start; later calls are
 * allowed but not synchronised with concurrent logging. */
void log_init(enum log_level level, enum log_format format, int fd);

/* Sends log lines to the file at path (opened for appending, created 0640)
 * instead of the fd given to log_init. Call at start-up, after log_init and
 * before threads start. Returns 0 or a negative errno (the output is then
 * unchanged). */
int log_open_file(const char *path);

/* Reopens the file of log_open_file under the same name (after logrotate
 * moved it) without a moment where lines are lost or split: safe while other
 * threads log. A no-op returning 0 without a log file. Returns 0 or a
 * negative errno; on error the old file stays in use. */
int log_reopen(void);

/* The path given to log_open_file, or NULL. */
const char *log_file_path(void);

/* Returns 1 when a message at this level would be written. */
int log_enabled(enum log_level level);

/* Parses "debug", "info", "warn"/"warning", "error" (case-insensitive).
 * Returns the level, or -1 for anything else. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level level);

/* Writes one line: ts (RFC 3339, UTC, milliseconds), level, component, msg,
 * then the fields in order. Strings are escaped for JSON (or quoted in text
 * format when they contain spaces, quotes or control bytes). Lines longer
 * than 4 KiB are truncated, never split. */
void log_emit(enum log_level level, const char *component, const char *msg, const log_field *fields,
              size_t nfields);

#define LOG_AT_(lvl, comp, msg, ...)                                                               \
	do {                                                                                       \
		if (log_enabled(lvl)) {                                                            \
			const log_field log_f_[] = {{0}, __VA_ARGS__};                             \
			log_emit((lvl), (comp), (msg), log_f_ + 1,                                 \
			         sizeof log_f_ / sizeof log_f_[0] - 1);                            \
		}                                                                                  \
	} while (0)

#define log_debug(comp, msg, ...) LOG_AT_(LOG_DEBUG, comp, msg, __VA_ARGS__)
#define log_info(comp, msg, ...)  LOG_AT_(LOG_INFO, comp, msg, __VA_ARGS__)
#define log_warn(comp, msg, ...)  LOG_AT_(LOG_WARN, comp, msg, __VA_ARGS__)
#define log_error(comp, msg, ...) LOG_AT_(LOG_ERROR, comp, msg, __VA_ARGS__)

#endif
