/* security.h - who may run which command: the credentials built from the
 * config (named tokens, the legacy security.auth_token, JWT keys, client
 * certificate names), AUTH, the per-command permission check, expiry and
 * revocation on reload.
 *
 * Credentials live in an immutable, reference-counted snapshot; a reload
 * (SIGHUP) builds a new one and swaps it in, bumping a generation number.
 * Each connection remembers the generation it was checked against; a worker
 * that sees a newer one re-checks its connections (security_client_revalidate)
 * and closes those whose token was removed or changed.
 *
 * Threads: every function may be called from any thread.
 * Error convention: int-returning functions return 0 or a negative errno
 * with a one-line message in err that never contains a token or secret.
 */
#ifndef MINIDB_SECURITY_H
#define MINIDB_SECURITY_H

#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "config.h"

typedef struct security security_t;

/* How a connection authenticated. */
enum { SEC_AUTH_NONE = 0, SEC_AUTH_OFF, SEC_AUTH_TOKEN, SEC_AUTH_JWT, SEC_AUTH_CERT };

/* Builds the credentials from cfg (reads the JWT key files). NULL with a
 * message in err when the config is unusable: a malformed token line,
 * auth_enabled without any credential, an unreadable key file. */
security_t *security_create(const config *cfg, char *err, size_t errlen);
void security_free(security_t *s);

/* Replaces the credentials with those of cfg. On error nothing changes. */
int security_reload(security_t *s, const config *cfg, char *err, size_t errlen);

/* Whether connections must authenticate. */
int security_required(const security_t *s);

/* The current credentials generation (starts at 1, bumped by a reload). */
uint64_t security_generation(const security_t *s);

/* Sets up a new connection's auth fields: authenticated with every
 * permission when authentication is off (s NULL or not required). */
void security_client_init(security_t *s, cmd_client *cl);

/* Checks what cmd needs of ctx->client before it runs: refuses commands
 * before authentication (trying a mapped client certificate first), an
 * expired JWT, a missing permission; replies with the error and returns 0
 * when refused, returns 1 when the command may run. The legacy per-command
 * token form (SET <token> k v, LOOKUP <token> k) is recognised here and
 * rewrites ctx->argv/argc to the plain command. */
int security_check_command(security_t *s, cmd_ctx *ctx, const command *cmd);

/* AUTH [user] token, HELLO ... AUTH user token: authenticates the client
 * with a token or JWT. user is ignored except "default" or a token name,
 * which must then match the token's name (NULL: not given). Replies
 * nothing; returns 0, or -EACCES (refused, message in err suitable for the
 * client), -EAGAIN (address in backoff: err says how long). */
int security_authenticate(security_t *s, cmd_client *cl, const char *user, size_t user_len,
                          const char *token, size_t len, char *err, size_t errlen);

/* Checks a bearer token presented outside the client protocol (the HTTP
 * endpoint's /metrics): a named token, the legacy auth_token or a JWT, by
 * the rules of AUTH (the verified-token cache, a JWT's signature, issuer,
 * audience and expiry) against the current credentials, so a reload's
 * revocation applies to the next request. Any valid credential will do,
 * whatever its permissions. addr (the client's address without its port;
 * NULL: none) shares AUTH's per-address backoff. Touches no connection and
 * logs a refusal without the token. Returns 1 (valid), 0 (refused; also
 * when no credential is configured; a missing or empty token is refused
 * without counting as a failure) or -EAGAIN (addr is in backoff: refused
 * unchecked). */
int security_check_bearer(security_t *s, const char *token, size_t len, const char *addr);

/* Whether a connection authenticated against an older generation is still
 * allowed under the current credentials (its token still present with the
 * same hash, its certificate name still mapped, its JWT key still there).
 * Updates cl->auth_gen and perms when it is; returns 0 when the connection
 * must be closed. */
int security_client_revalidate(security_t *s, cmd_client *cl);

/* Counters for INFO (auth failures, backoff refusals). */
typedef struct security_stats {
	uint64_t auth_ok;
	uint64_t auth_failed;
	uint64_t auth_backoff_refused;
	uint64_t revoked_closed;
	uint64_t reloads;
} security_stats;
void security_stats_get(security_t *s, security_stats *out);
void security_count_revoked(security_t *s, uint64_t n);

#endif
