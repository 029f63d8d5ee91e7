/* auth.h - token authentication: hashed token lines, named tokens with
 * permissions, and per-address backoff after failed AUTH attempts.
 *
 * security.c builds the registry from the config and runs AUTH and the
 * per-command permission check with it.
 * This module never logs and never keeps a plain token: the legacy
 * security.auth_token is reduced to its SHA-256 on entry.
 *
 * Error convention: functions returning int return AUTH_OK (0) or one of
 * the negative AUTH_E* codes below (auth_strerror names them); functions
 * returning a pointer return NULL only when out of memory.
 */
#ifndef MINIDB_AUTH_H
#define MINIDB_AUTH_H

#include <stddef.h>
#include <stdint.h>

enum auth_error {
	AUTH_OK = 0,
	AUTH_EDENIED = -1,  /* no entry matches the token */
	AUTH_ETOOLONG = -2, /* token empty or longer than AUTH_TOKEN_MAX */
	AUTH_EFORMAT = -3,  /* malformed hash line, permission list or name */
	AUTH_EEXIST = -4,   /* an entry of that name is already registered */
	AUTH_ENOMEM = -5,
	AUTH_ECRYPTO = -6, /* OpenSSL failed (random source, digest) */
	AUTH_ESPACE = -7,  /* the output buffer is too small */
};

/* Names a code ("token refused", ...); never NULL. */
const char *auth_strerror(int err);

/* Tokens longer than this are refused before any hashing, so a client
 * cannot make the server hash megabytes per attempt. */
#define AUTH_TOKEN_MAX 4096

/* ---- Hash lines ----------------------------------------------------------
 *
 * One string to paste into the config, in one of two schemes:
 *
 *   pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>
 *       PBKDF2-HMAC-SHA256 (PKCS #5), standard base64 with '=' padding,
 *       salt 8-64 bytes (16 when generated), hash exactly 32 bytes,
 *       iterations AUTH_PBKDF2_ITER_MIN..AUTH_PBKDF2_ITER_MAX.
 *   sha256$<64 hex digits>
 *       plain SHA-256 of the token, for high-entropy generated tokens
 *       (minidb-cli hash-token --generate).
 *
 * Parsing is strict: no blanks, no missing or extra fields, no leading
 * zeros or signs in the iteration count, canonical base64 only.
 *
 * Cost: every PBKDF2 entry costs its iteration count on every AUTH attempt
 * (about 40 ms at 100,000 on one core), because each has its own salt.
 * A slow KDF only helps for tokens a person chose; machine tokens should be
 * generated with --generate and stored as sha256$, which costs microseconds.
 */
#define AUTH_PBKDF2_ITER_DEFAULT 100000u
#define AUTH_PBKDF2_ITER_MIN     1000u
#define AUTH_PBKDF2_ITER_MAX     10000000u
#define AUTH_SALT_LEN_DEFAULT    16
#define AUTH_SALT_LEN_MIN        8
#define AUTH_SALT_LEN_MAX        64
#define AUTH_DIGEST_LEN          32
#define AUTH_HASH_LINE_MAX       256 /* longest accepted line, NUL excluded */

enum auth_scheme { AUTH_SCHEME_SHA256 = 1, AUTH_SCHEME_PBKDF2_SHA256 = 2 };

typedef struct auth_hash {
	enum auth_scheme scheme;
	uint32_t iterations; /* PBKDF2 only */
	size_t salt_len;     /* PBKDF2 only */
	unsigned char salt[AUTH_SALT_LEN_MAX];
	unsigned char digest[AUTH_DIGEST_LEN];
} auth_hash;

/* Parses len bytes of line into *out. AUTH_OK or AUTH_EFORMAT. */
int auth_hash_parse(const char *line, size_t len, auth_hash *out);

/* Hashes a token into a line (NUL-terminated) in out[outcap]. For PBKDF2
 * a fresh AUTH_SALT_LEN_DEFAULT-byte salt comes from RAND_bytes and
 * iterations must be in range (0 means the default); for SHA-256 it is
 * ignored. AUTH_OK, AUTH_ETOOLONG, AUTH_EFORMAT (iterations), AUTH_ESPACE,
 * AUTH_ECRYPTO. AUTH_HASH_LINE_MAX + 1 bytes are always enough. */
int auth_hash_token(const char *token, size_t len, enum auth_scheme scheme, uint32_t iterations,
                    char *out, size_t outcap);

/* Whether token matches h, compared with CRYPTO_memcmp. AUTH_OK,
 * AUTH_EDENIED, AUTH_ETOOLONG or AUTH_ECRYPTO. */
int auth_hash_verify(const auth_hash *h, const char *token, size_t len);

/* Writes a new random token: AUTH_GENERATED_BYTES random bytes in base64url
 * without padding, NUL-terminated. AUTH_OK, AUTH_ESPACE or AUTH_ECRYPTO. */
#define AUTH_GENERATED_BYTES 32
#define AUTH_GENERATED_LEN   43 /* characters, NUL excluded */
int auth_token_generate(char *out, size_t outcap);

/* ---- Permissions ------------------------------------------------------- */

enum auth_perm {
	AUTH_PERM_READ = 1u << 0,
	AUTH_PERM_WRITE = 1u << 1,
	AUTH_PERM_ADMIN = 1u << 2,
	AUTH_PERM_ALL = AUTH_PERM_READ | AUTH_PERM_WRITE | AUTH_PERM_ADMIN,
};

/* Parses a comma-separated list ("read,write", "admin", blanks around the
 * words allowed, case-insensitive, at least one word) into a bitmask.
 * AUTH_OK or AUTH_EFORMAT (unknown or empty word). */
int auth_perms_parse(const char *s, size_t len, unsigned *perms);

/* Writes "read,write" etc. (or "none") into out; AUTH_OK or AUTH_ESPACE.
 * 17 bytes are always enough. */
int auth_perms_format(unsigned perms, char *out, size_t outcap);

/* The permissions an authenticated connection needs to run a command with
 * these command.h flags: 0 for CMD_NOAUTH (the caller lets those run before
 * authentication at all); AUTH_PERM_ADMIN alone for CMD_ADMIN (so FLUSHALL,
 * flagged write and admin, needs admin, as the issue lists it); otherwise
 * READ for CMD_READ plus WRITE for CMD_WRITE. 0 for a command with none of
 * these flags (PING): authenticated is enough. Admin grants nothing else:
 * a token needs read to read. */
unsigned auth_required_perm(unsigned cmd_flags);

/* Whether granted covers every bit of required. */
static inline int auth_permits(unsigned granted, unsigned required)
{
	return (granted & required) == required;
}

/* ---- The registry of named tokens ----------------------------------------
 *
 * Built once from the config (auth_registry_add per named token, plus
 * auth_registry_add_legacy for security.auth_token), then read-only: any
 * number of threads may call auth_check concurrently without a lock. A
 * reload builds a new registry and swaps it in; the old one is freed once
 * no thread uses it (the caller's job).
 */
#define AUTH_NAME_MAX    64        /* bytes, [A-Za-z0-9_.-] */
#define AUTH_LEGACY_NAME "default" /* the name security.auth_token gets */

typedef struct auth_registry auth_registry;

auth_registry *auth_registry_create(void);
void auth_registry_free(auth_registry *reg);

/* Adds a named token from its config values: name ([A-Za-z0-9_.-], 1 to
 * AUTH_NAME_MAX bytes), hash line, permission bitmask (non-zero, within
 * AUTH_PERM_ALL). AUTH_OK, AUTH_EFORMAT, AUTH_EEXIST or AUTH_ENOMEM. */
int auth_registry_add(auth_registry *reg, const char *name, const char *hash_line, size_t line_len,
                      unsigned perms);

/* Adds the original single security.auth_token as AUTH_LEGACY_NAME with
 * every permission. Only its SHA-256 is kept; the caller keeps (and should
 * wipe) the plain copy. AUTH_OK, AUTH_ETOOLONG, AUTH_EEXIST, AUTH_ENOMEM or
 * AUTH_ECRYPTO. */
int auth_registry_add_legacy(auth_registry *reg, const char *token, size_t len);

size_t auth_registry_count(const auth_registry *reg);

/* Finds the entry called name. AUTH_OK with its permissions in *perms and
 * a fingerprint of its hash line in fp (equal fingerprints: the same
 * credential, so a reload that keeps a token keeps its connections), or
 * AUTH_EDENIED when there is no such entry. */
int auth_registry_lookup(const auth_registry *reg, const char *name, unsigned *perms,
                         unsigned char fp[AUTH_DIGEST_LEN]);

/* SHA-256 of a token (for caches keyed by a presented token). AUTH_OK,
 * AUTH_ETOOLONG or AUTH_ECRYPTO. */
int auth_token_digest(const char *token, size_t len, unsigned char out[AUTH_DIGEST_LEN]);

/* Checks a presented token against every entry, without stopping at the
 * first match or mismatch, so the time taken does not tell which entry
 * matched (it does grow with the number of PBKDF2 entries and their
 * iterations: see the cost note above; run it off the event loop if the
 * config has PBKDF2 entries). On AUTH_OK, *perms gets the matching entry's
 * permissions and name_out (if not NULL, name_cap > 0) its name, truncated
 * to name_cap - 1 bytes; the first matching entry in insertion order wins.
 * Otherwise AUTH_EDENIED, AUTH_ETOOLONG (refused before hashing) or
 * AUTH_ECRYPTO. */
int auth_check(const auth_registry *reg, const char *token, size_t len, unsigned *perms,
               char *name_out, size_t name_cap);

/* ---- Backoff after failed attempts ---------------------------------------
 *
 * A fixed-capacity table of source addresses with recent failed AUTH
 * attempts; the least recently failed address is evicted when it is full,
 * so an attacker spraying addresses costs a bounded amount of memory (and
 * at worst resets the counts of others, never blocks a new address).
 * Schedule: the first AUTH_BACKOFF_FREE failures cost nothing; after that
 * each failure makes the next attempt wait AUTH_BACKOFF_BASE_MS, doubling
 * per further failure up to AUTH_BACKOFF_MAX_MS. A success clears the
 * address; an address with no failure for AUTH_BACKOFF_FORGET_MS starts
 * over. Times are caller-supplied milliseconds (any monotonic clock), so
 * tests are deterministic. Intended use: auth_backoff_check before looking
 * at a token (an attempt inside the wait is refused unchecked and not
 * counted), then auth_backoff_fail or auth_backoff_success. Every function
 * takes the table's one mutex: safe to share between workers.
 */
#define AUTH_BACKOFF_FREE        3
#define AUTH_BACKOFF_BASE_MS     100
#define AUTH_BACKOFF_MAX_MS      10000
#define AUTH_BACKOFF_FORGET_MS   (15 * 60 * 1000)
#define AUTH_BACKOFF_CAP_DEFAULT 4096
#define AUTH_ADDR_MAX            64 /* address key bytes, NUL excluded */

typedef struct auth_backoff auth_backoff;

/* capacity addresses (1 to 1<<24); NULL if out of memory or out of range. */
auth_backoff *auth_backoff_create(size_t capacity);
void auth_backoff_free(auth_backoff *tbl);

/* Milliseconds the next attempt from addr must wait, 0 if it may go now.
 * addr is the source address without its port (auth_peer_addr); longer
 * than AUTH_ADDR_MAX it is truncated. */
int64_t auth_backoff_check(auth_backoff *tbl, const char *addr, int64_t now_ms);

/* Records a failed attempt from addr; returns the wait it now imposes. */
int64_t auth_backoff_fail(auth_backoff *tbl, const char *addr, int64_t now_ms);

/* Records a success: addr's entry is removed. */
void auth_backoff_success(auth_backoff *tbl, const char *addr);

/* Number of addresses tracked (for tests and INFO). */
size_t auth_backoff_count(auth_backoff *tbl);

/* Copies the address part of a cmd_client peer string ("1.2.3.4:5" or
 * "[::1]:5", as conn.c writes it) into out, NUL-terminated; an IPv4-mapped
 * IPv6 address ("[::ffff:1.2.3.4]:5") becomes its IPv4 form, so one client
 * has one key whichever socket family it arrived on. AUTH_OK, AUTH_EFORMAT
 * (no port separator, empty address) or AUTH_ESPACE. */
int auth_peer_addr(const char *peer, char *out, size_t outcap);

#endif
