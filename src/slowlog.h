/* slowlog.h - the slow-command log behind SLOWLOG GET/LEN/RESET: a bounded
 * ring of the most recent commands that ran at least --slowlog-ms.
 *
 * Entries keep the command's name and argument count, never its arguments:
 * values, keys and tokens stay out of it as they stay out of the logs.
 * Thread-safe: workers add under a mutex (a slow command is rare by
 * definition, and a command that is not slow never touches it).
 */
#ifndef MINIDB_SLOWLOG_H
#define MINIDB_SLOWLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct slowlog slowlog;

typedef struct slowlog_entry {
	uint64_t id;          /* assigned by slowlog_add, from 0, never reused */
	int64_t unix_s;       /* when it ran */
	uint64_t duration_us; /* how long it ran */
	uint64_t argc;        /* arguments, the name included */
	char cmd[32];         /* lowercase name, or "(unknown)" */
	char peer[64];        /* client "ip:port" */
	char name[64];        /* client name (CLIENT SETNAME), may be "" */
} slowlog_entry;

/* A ring of max_len entries (0 keeps none). NULL when out of memory. */
slowlog *slowlog_create(size_t max_len);
void slowlog_free(slowlog *l);

/* Copies e in, giving it the next id; the oldest entry goes when full. */
void slowlog_add(slowlog *l, const slowlog_entry *e);

/* Copies up to n entries, newest first, into out; returns how many. */
size_t slowlog_get(slowlog *l, slowlog_entry *out, size_t n);

/* Entries held now. */
size_t slowlog_len(slowlog *l);

/* Entries ever added (ids issued). */
uint64_t slowlog_total(slowlog *l);

/* Drops every entry (ids keep counting). */
void slowlog_reset(slowlog *l);

#endif
