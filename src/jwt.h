/* jwt.h - verification of JWT bearer tokens (compact JWS, RFC 7515/7519) for
 * `AUTH <jwt>`: HS256/384/512 with a configured secret, RS256/384/512 and
 * ES256 with a public key from a PEM file or a JWKS document. OpenSSL does
 * every signature and MAC check; this module only parses and selects keys.
 * security.c builds the keyset from the config (security.jwt_*) for AUTH.
 *
 * Error convention: int-returning functions return 0 or a negative errno with
 * a short message in err ("jwt: ..."), which never contains the token, the
 * secret or key material, so it may be logged and sent to the client:
 *   -E2BIG        token (or key file) longer than the limit
 *   -EBADMSG      malformed token or key: base64url, JSON, types, structure
 *   -ENOTSUP      alg none, an unknown alg, a `crit` header, an unsupported key
 *   -ENOKEY       no configured key of the token's algorithm family (or kid)
 *   -EKEYREJECTED signature (or MAC) does not verify
 *   -EKEYEXPIRED  exp passed (the connection must re-authenticate)
 *   -EACCES       nbf in the future, wrong issuer or audience, bad subject
 *   -EINVAL       bad argument or configuration (short secret, too many keys)
 *   -ENOMEM, or -errno from open/read for the file loaders
 *
 * Threads: a keyset is built by one thread; once built it is immutable and
 * jwt_verify may run on any number of threads with the same keyset.
 */
#ifndef MINIDB_JWT_H
#define MINIDB_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Permission bits taken from the scope claim. They are literal: admin does
 * not imply read or write here; the auth layer decides what each bit grants. */
enum { JWT_PERM_READ = 1u << 0, JWT_PERM_WRITE = 1u << 1, JWT_PERM_ADMIN = 1u << 2 };

#define JWT_MAX_TOKEN_DEFAULT 8192       /* bytes; checked before any decoding */
#define JWT_MAX_KEY_FILE      (1u << 20) /* PEM and JWKS files */
#define JWT_MAX_KEYS          64         /* per keyset */
#define JWT_SUBJECT_MAX       255        /* longer `sub` claims are refused */
#define JWT_HMAC_MIN_SECRET   32         /* bytes; RFC 7518 3.2 asks >= hash size */

typedef struct jwt_keyset jwt_keyset;

/* Returns an empty keyset, or NULL when out of memory. */
jwt_keyset *jwt_keyset_create(void);
/* Frees ks and every key in it; NULL is accepted. */
void jwt_keyset_free(jwt_keyset *ks);
/* Number of keys loaded so far. */
size_t jwt_keyset_count(const jwt_keyset *ks);

/* Adds an HMAC secret (raw bytes, copied) usable for HS256/384/512. A secret
 * is used only for algorithms whose hash is no longer than it, so a 32-byte
 * secret serves HS256 only. Shorter than JWT_HMAC_MIN_SECRET: -EINVAL. */
int jwt_keyset_add_hmac(jwt_keyset *ks, const void *secret, size_t len, char *err, size_t errlen);

/* Adds one public key from PEM text ("BEGIN PUBLIC KEY"): RSA of 2048 to
 * 8192 bits (RS256/384/512) or EC on P-256 (ES256). It has no kid. */
int jwt_keyset_add_pem(jwt_keyset *ks, const char *pem, size_t len, char *err, size_t errlen);
int jwt_keyset_add_pem_file(jwt_keyset *ks, const char *path, char *err, size_t errlen);

/* Adds every key of a JWKS document ({"keys": [...]}): kty RSA (n, e), EC
 * (crv P-256, x, y) or oct (k), each with optional kid and alg (a key with
 * alg verifies only that alg). Keys this module cannot use are skipped, so a
 * provider's document may list them: "use" other than "sig", another kty or
 * curve, an alg outside the supported list. A malformed key of a supported
 * kind fails the whole document, and then nothing is added. */
int jwt_keyset_add_jwks(jwt_keyset *ks, const char *json, size_t len, char *err, size_t errlen);
int jwt_keyset_add_jwks_file(jwt_keyset *ks, const char *path, char *err, size_t errlen);

/* What a token must satisfy. Strings are borrowed and must outlive the call;
 * start from jwt_policy_init. */
typedef struct jwt_policy {
	const char *issuer;       /* NULL: iss not checked; else must be equal */
	const char *audience;     /* NULL: aud not checked; else aud must contain it */
	const char *scope_claim;  /* default "scope"; string (space separated) or array */
	const char *scope_prefix; /* default "minidb:"; then "read", "write", "admin" */
	int64_t leeway_s;         /* clock skew allowed for exp and nbf; default 30 */
	bool require_exp;         /* default true: a token without exp is refused */
	size_t max_token_len;     /* default JWT_MAX_TOKEN_DEFAULT */
} jwt_policy;

void jwt_policy_init(jwt_policy *pol);

/* What a verified token grants. */
typedef struct jwt_claims {
	char subject[JWT_SUBJECT_MAX + 1]; /* `sub`, "" when absent; no control bytes */
	unsigned perms;                    /* JWT_PERM_* bits from the scope claim */
	bool has_exp;
	int64_t exp; /* seconds since the epoch; when has_exp, re-authenticate by then */
} jwt_claims;

/* Verifies token[0..len) at time now_s (seconds since the epoch) against ks
 * and pol. Returns 0 and fills *out, or a negative errno (see the top) with
 * *out zeroed. The header's alg picks the key family; a secret never
 * verifies an RS/ES token nor a public key an HS token. A kid that names
 * keys in ks tries only those; a kid that names none tries only the kid-less
 * keys (a configured secret or PEM key), else fails with "unknown key id";
 * no kid tries every key of the family (at most JWT_MAX_KEYS checks). Header
 * fields such as jwk, jku and x5u are ignored: keys come from the
 * configuration only. typ is not checked. A token without the scope claim
 * verifies with perms 0. */
int jwt_verify(const jwt_keyset *ks, const jwt_policy *pol, const char *token, size_t len,
               int64_t now_s, jwt_claims *out, char *err, size_t errlen);

#endif
