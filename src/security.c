/* security.c - credentials, AUTH and the per-command permission check (see
 * security.h).
 *
 * The credentials (token registry, JWT keys and policy) form one immutable
 * snapshot, `creds`, reference-counted: a thread takes a reference under the
 * mutex for the length of one check, so a reload can swap the pointer at
 * any moment and the old snapshot is freed by whoever drops the last
 * reference. Nothing here keeps a presented token: the legacy per-command
 * cache keeps its SHA-256 only, and nothing here logs a token or secret.
 *
 * A credential's fingerprint (auth_registry_lookup's for a token, a hash of
 * the whole JWT configuration for a JWT) is kept with the connection; a
 * reload keeps a connection only if its credential's fingerprint is
 * unchanged, so editing a token's hash or permissions revokes it too.
 */
#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "cmd.h"
#include "jwt.h"
#include "log.h"
#include "loop.h"

/* The JWT secret file is read whole; a secret is far shorter. */
#define SECRET_FILE_MAX 4096

/* Tokens that verified recently, by the SHA-256 of the presented token, so
 * that a pool of connections presenting a PBKDF2-hashed token pays the KDF
 * once, not once per connection (about 40 ms each on the worker thread).
 * Per snapshot, so a reload empties it. Lookups compare every slot with
 * CRYPTO_memcmp. */
#define VERIFIED_CACHE 64

typedef struct verified {
	unsigned char sha[AUTH_DIGEST_LEN];
	char name[AUTH_NAME_MAX + 1];
	int used;
} verified;

typedef struct creds {
	atomic_int refs;
	pthread_mutex_t cache_lock;
	verified cache[VERIFIED_CACHE];
	unsigned cache_next;
	uint64_t gen;
	int required;
	auth_registry *reg;
	jwt_keyset *jwt; /* NULL: JWTs are not accepted */
	jwt_policy pol;
	char *issuer, *audience, *scope_claim, *scope_prefix;
	int64_t leeway_ms;
	unsigned char jwt_fp[AUTH_DIGEST_LEN];
	int tls_identity; /* CONFIG_TLS_ID_* */
} creds;

struct security {
	pthread_mutex_t lock;
	creds *cur;
	_Atomic uint64_t gen;
	atomic_int required; /* cur->required, for the per-command fast path */
	auth_backoff *backoff;
	_Atomic uint64_t auth_ok, auth_failed, backoff_refused, revoked, reloads;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void creds_free(creds *c)
{
	if (!c)
		return;
	auth_registry_free(c->reg);
	jwt_keyset_free(c->jwt);
	OPENSSL_cleanse(c->cache, sizeof c->cache);
	pthread_mutex_destroy(&c->cache_lock);
	free(c->issuer);
	free(c->audience);
	free(c->scope_claim);
	free(c->scope_prefix);
	free(c);
}

static void creds_put(creds *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		creds_free(c);
}

static creds *creds_get(security_t *s)
{
	pthread_mutex_lock(&s->lock);
	creds *c = s->cur;
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
	return c;
}

/* Reads a whole small file; the caller wipes and frees *out. */
static int read_small_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *b = malloc(max + 1);
	size_t n = 0;
	int rc = 0;
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	while (n <= max) {
		ssize_t r = read(fd, b + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc == 0 && n > max)
		rc = -E2BIG;
	if (rc != 0) {
		OPENSSL_cleanse(b, max + 1);
		free(b);
		return rc;
	}
	b[n] = 0;
	*out = b;
	*len = n;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Feeds one optional string into the JWT configuration fingerprint. */
static void fp_str(EVP_MD_CTX *md, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0;
	EVP_DigestUpdate(md, &n, sizeof n);
	if (s)
		EVP_DigestUpdate(md, s, n);
}

/* Reads a PEM or JWKS key file (at most JWT_MAX_KEY_FILE bytes), adds its
 * keys with add and feeds its bytes into the fingerprint. 0, or -1 with
 * "FLAG PATH: reason" in err. */
static int add_key_file(jwt_keyset *ks, const char *path, const char *flag,
                        int (*add)(jwt_keyset *, const char *, size_t, char *, size_t),
                        EVP_MD_CTX *md, char *err, size_t errlen)
{
	char jerr[256];
	char *text = NULL;
	size_t n = 0;
	int rc = read_small_file(path, JWT_MAX_KEY_FILE, &text, &n);
	if (rc == 0) {
		rc = add(ks, text, n, jerr, sizeof jerr);
		EVP_DigestUpdate(md, text, n);
		free(text);
	} else {
		snprintf(jerr, sizeof jerr, "%s",
		         rc == -E2BIG ? "larger than 1 MiB" : strerror(-rc));
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s %s: %s", flag, path, jerr);
		return -1;
	}
	return 0;
}

static int load_jwt(creds *c, const config *cfg, EVP_MD_CTX *md, char *err, size_t errlen)
{
	char jerr[256];
	int have = cfg->jwt_secret || cfg->jwt_secret_file || cfg->jwt_public_key_file ||
	           cfg->jwt_jwks_file;
	if (!have)
		return 0;
	c->jwt = jwt_keyset_create();
	if (!c->jwt) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (cfg->jwt_secret) {
		if (jwt_keyset_add_hmac(c->jwt, cfg->jwt_secret, strlen(cfg->jwt_secret), jerr,
		                        sizeof jerr) != 0) {
			snprintf(err, errlen, "security.jwt_secret: %s", jerr);
			return -EINVAL;
		}
		fp_str(md, cfg->jwt_secret);
	}
	if (cfg->jwt_secret_file) {
		char *sec = NULL;
		size_t n = 0;
		int rc = read_small_file(cfg->jwt_secret_file, SECRET_FILE_MAX, &sec, &n);
		if (rc != 0) {
			snprintf(err, errlen, "--jwt-secret-file %s: %s", cfg->jwt_secret_file,
			         rc == -E2BIG ? "longer than 4096 bytes" : strerror(-rc));
			return rc;
		}
		if (n > 0 && sec[n - 1] == '\n')
			n--;
		if (n > 0 && sec[n - 1] == '\r')
			n--;
		rc = jwt_keyset_add_hmac(c->jwt, sec, n, jerr, sizeof jerr);
		if (rc == 0) {
			EVP_DigestUpdate(md, &n, sizeof n);
			EVP_DigestUpdate(md, sec, n);
		}
		OPENSSL_cleanse(sec, n);
		free(sec);
		if (rc != 0) {
			snprintf(err, errlen, "--jwt-secret-file %s: %s", cfg->jwt_secret_file,
			         jerr);
			return rc;
		}
	}
	if (cfg->jwt_public_key_file &&
	    add_key_file(c->jwt, cfg->jwt_public_key_file, "--jwt-public-key-file",
	                 jwt_keyset_add_pem, md, err, errlen) != 0)
		return -EINVAL;
	if (cfg->jwt_jwks_file) {
		if (add_key_file(c->jwt, cfg->jwt_jwks_file, "--jwt-jwks-file", jwt_keyset_add_jwks,
		                 md, err, errlen) != 0)
			return -EINVAL;
		if (jwt_keyset_count(c->jwt) == 0) {
			snprintf(err, errlen, "--jwt-jwks-file %s: no usable signing key",
			         cfg->jwt_jwks_file);
			return -EINVAL;
		}
	}
	c->issuer = dup_or_null(cfg->jwt_issuer);
	c->audience = dup_or_null(cfg->jwt_audience);
	c->scope_claim = dup_or_null(cfg->jwt_scope_claim);
	c->scope_prefix = dup_or_null(cfg->jwt_scope_prefix);
	if ((cfg->jwt_issuer && !c->issuer) || (cfg->jwt_audience && !c->audience) ||
	    (cfg->jwt_scope_claim && !c->scope_claim) ||
	    (cfg->jwt_scope_prefix && !c->scope_prefix)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	jwt_policy_init(&c->pol);
	c->pol.issuer = c->issuer;
	c->pol.audience = c->audience;
	if (c->scope_claim)
		c->pol.scope_claim = c->scope_claim;
	if (c->scope_prefix)
		c->pol.scope_prefix = c->scope_prefix;
	c->pol.leeway_s = cfg->jwt_leeway;
	c->pol.require_exp = cfg->jwt_require_exp;
	c->leeway_ms = (int64_t)cfg->jwt_leeway * 1000;
	fp_str(md, c->issuer);
	fp_str(md, c->audience);
	fp_str(md, c->scope_claim);
	fp_str(md, c->scope_prefix);
	EVP_DigestUpdate(md, &cfg->jwt_leeway, sizeof cfg->jwt_leeway);
	EVP_DigestUpdate(md, &cfg->jwt_require_exp, sizeof cfg->jwt_require_exp);
	return 0;
}

static creds *creds_build(const config *cfg, char *err, size_t errlen)
{
	creds *c = calloc(1, sizeof(*c));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!c || !md)
		goto oom;
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->cache_lock, NULL);
	c->required = cfg->auth_enabled;
	c->tls_identity = cfg->tls_client_identity;
	c->reg = auth_registry_create();
	if (!c->reg)
		goto oom;
	if (cfg->auth_token) {
		int rc = auth_registry_add_legacy(c->reg, cfg->auth_token, strlen(cfg->auth_token));
		if (rc != AUTH_OK) {
			snprintf(err, errlen, "security.auth_token: %s", auth_strerror(rc));
			goto fail;
		}
	}
	for (size_t i = 0; i < cfg->ntokens; i++) {
		const config_token *t = &cfg->tokens[i];
		unsigned perms = 0;
		int rc = auth_perms_parse(t->permissions, strlen(t->permissions), &perms);
		if (rc != AUTH_OK) {
			snprintf(
			        err, errlen,
			        "security.tokens[%zu] (%.64s): permissions must be a list of read, "
			        "write, admin",
			        i, t->name);
			goto fail;
		}
		rc = auth_registry_add(c->reg, t->name, t->hash, strlen(t->hash), perms);
		if (rc == AUTH_EEXIST) {
			snprintf(err, errlen,
			         "security.tokens[%zu]: the name '%.64s' is used twice%s", i,
			         t->name,
			         strcmp(t->name, AUTH_LEGACY_NAME) == 0 ? " (security.auth_token)"
			                                                : "");
			goto fail;
		}
		if (rc != AUTH_OK) {
			snprintf(err, errlen,
			         "security.tokens[%zu]: %s (the name is [A-Za-z0-9_.-], at most 64 "
			         "bytes; the hash is a line printed by minidb-cli hash-token)",
			         i, auth_strerror(rc));
			goto fail;
		}
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto oom;
	if (load_jwt(c, cfg, md, err, errlen) != 0)
		goto fail;
	unsigned int fplen = 0;
	EVP_DigestFinal_ex(md, c->jwt_fp, &fplen);
	EVP_MD_CTX_free(md);
	md = NULL;
	if (c->required && auth_registry_count(c->reg) == 0 && !c->jwt) {
		snprintf(err, errlen,
		         "security.auth_enabled is true but no credential is configured "
		         "(security.auth_token, security.tokens or a JWT key)");
		goto fail;
	}
	return c;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	EVP_MD_CTX_free(md);
	creds_free(c);
	return NULL;
}

security_t *security_create(const config *cfg, char *err, size_t errlen)
{
	security_t *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cur = creds_build(cfg, err, errlen);
	s->backoff = auth_backoff_create(AUTH_BACKOFF_CAP_DEFAULT);
	if (!s->cur || !s->backoff || pthread_mutex_init(&s->lock, NULL) != 0) {
		if (s->cur && !s->backoff)
			snprintf(err, errlen, "out of memory");
		creds_free(s->cur);
		auth_backoff_free(s->backoff);
		free(s);
		return NULL;
	}
	s->cur->gen = 1;
	atomic_init(&s->gen, 1);
	atomic_init(&s->required, s->cur->required);
	return s;
}

void security_free(security_t *s)
{
	if (!s)
		return;
	creds_put(s->cur);
	auth_backoff_free(s->backoff);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int security_reload(security_t *s, const config *cfg, char *err, size_t errlen)
{
	creds *c = creds_build(cfg, err, errlen);
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	creds *old = s->cur;
	c->gen = old->gen + 1;
	s->cur = c;
	atomic_store(&s->required, c->required);
	atomic_store(&s->gen, c->gen);
	pthread_mutex_unlock(&s->lock);
	creds_put(old);
	atomic_fetch_add(&s->reloads, 1);
	return 0;
}

int security_required(const security_t *s)
{
	return s ? atomic_load_explicit(&((security_t *)s)->required, memory_order_acquire) : 0;
}

uint64_t security_generation(const security_t *s)
{
	return s ? atomic_load_explicit(&s->gen, memory_order_acquire) : 0;
}

static void set_off(cmd_client *cl)
{
	cl->authenticated = 1;
	cl->auth_kind = SEC_AUTH_OFF;
	cl->auth_perms = AUTH_PERM_ALL;
	snprintf(cl->auth_name, sizeof cl->auth_name, "%s", AUTH_LEGACY_NAME);
	cl->auth_expires_ms = 0;
}

static void set_none(cmd_client *cl)
{
	cl->authenticated = 0;
	cl->auth_kind = SEC_AUTH_NONE;
	cl->auth_perms = 0;
	cl->auth_name[0] = 0;
	cl->auth_expires_ms = 0;
}

/* auth_name is read by CLIENT LIST on other threads under the client lock. */
static void client_lock(cmd_client *cl)
{
	if (cl->worker_lock)
		pthread_mutex_lock(cl->worker_lock);
}

static void client_unlock(cmd_client *cl)
{
	if (cl->worker_lock)
		pthread_mutex_unlock(cl->worker_lock);
}

void security_client_init(security_t *s, cmd_client *cl)
{
	cl->auth_gen = security_generation(s);
	cl->legacy_gen = 0;
	if (!security_required(s))
		set_off(cl);
	else
		set_none(cl);
}

static int is_jwt(const char *t, size_t len)
{
	size_t dots = 0;
	if (len < 3 || memcmp(t, "eyJ", 3) != 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		dots += t[i] == '.';
	return dots == 2;
}

static unsigned jwt_to_auth_perms(unsigned p)
{
	unsigned out = 0;
	if (p & JWT_PERM_READ)
		out |= AUTH_PERM_READ;
	if (p & JWT_PERM_WRITE)
		out |= AUTH_PERM_WRITE;
	if (p & JWT_PERM_ADMIN)
		out |= AUTH_PERM_ADMIN;
	return out;
}

/* Verifies a token or JWT against c without touching the client. On
 * success fills kind, perms, name, fp and expiry. */
typedef struct grant {
	int kind;
	unsigned perms;
	char name[65];
	unsigned char fp[AUTH_DIGEST_LEN];
	int64_t expires_ms;
} grant;

static int verify(creds *c, const char *user, size_t user_len, const char *token, size_t len,
                  grant *g, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	if (c->jwt && is_jwt(token, len)) {
		jwt_claims cl;
		char jerr[160];
		int rc = jwt_verify(c->jwt, &c->pol, token, len, wall_ms() / 1000, &cl, jerr,
		                    sizeof jerr);
		if (rc != 0) {
			snprintf(err, errlen, "invalid token: %s", jerr);
			return -EACCES;
		}
		g->kind = SEC_AUTH_JWT;
		g->perms = jwt_to_auth_perms(cl.perms);
		snprintf(g->name, sizeof g->name, "jwt:%.60s", cl.subject[0] ? cl.subject : "-");
		memcpy(g->fp, c->jwt_fp, sizeof g->fp);
		g->expires_ms = cl.has_exp ? cl.exp * 1000 + c->leeway_ms : 0;
		return 0;
	}
	char name[AUTH_NAME_MAX + 1];
	unsigned perms = 0;
	unsigned char sha[AUTH_DIGEST_LEN];
	int rc = auth_token_digest(token, len, sha);
	int cached = 0;
	if (rc == AUTH_OK) {
		pthread_mutex_lock(&c->cache_lock);
		for (size_t i = 0; i < VERIFIED_CACHE; i++) {
			int eq = c->cache[i].used &&
			         CRYPTO_memcmp(c->cache[i].sha, sha, sizeof sha) == 0;
			if (eq && !cached) {
				memcpy(name, c->cache[i].name, sizeof name);
				cached = 1;
			}
		}
		pthread_mutex_unlock(&c->cache_lock);
	}
	if (cached) {
		unsigned char fp[AUTH_DIGEST_LEN];
		rc = auth_registry_lookup(c->reg, name, &perms, fp);
	} else {
		rc = auth_check(c->reg, token, len, &perms, name, sizeof name);
		if (rc == AUTH_OK) {
			pthread_mutex_lock(&c->cache_lock);
			verified *v = &c->cache[c->cache_next++ % VERIFIED_CACHE];
			memcpy(v->sha, sha, sizeof sha);
			memcpy(v->name, name, sizeof name);
			v->used = 1;
			pthread_mutex_unlock(&c->cache_lock);
		}
	}
	OPENSSL_cleanse(sha, sizeof sha);
	if (rc == AUTH_OK && user &&
	    !(user_len == strlen(name) && memcmp(user, name, user_len) == 0) &&
	    !(user_len == 7 && memcmp(user, "default", 7) == 0))
		rc = AUTH_EDENIED; /* the token is good but belongs to another name */
	if (rc != AUTH_OK) {
		snprintf(err, errlen, "invalid username-password pair or user is disabled.");
		return -EACCES;
	}
	g->kind = SEC_AUTH_TOKEN;
	g->perms = perms;
	snprintf(g->name, sizeof g->name, "%s", name);
	if (auth_registry_lookup(c->reg, name, &perms, g->fp) != AUTH_OK) {
		snprintf(err, errlen, "internal error checking the token");
		return -EACCES;
	}
	return 0;
}

/* Backoff bookkeeping around one attempt from cl's address. Returns the
 * wait in ms (> 0: refuse unchecked). */
static int64_t backoff_wait(security_t *s, const cmd_client *cl, char *addr, size_t addrcap)
{
	if (auth_peer_addr(cl->peer, addr, addrcap) != AUTH_OK)
		snprintf(addr, addrcap, "%s", cl->peer[0] ? cl->peer : "?");
	return auth_backoff_check(s->backoff, addr, (int64_t)loop_clock_ms());
}

static void attempt_failed(security_t *s, const cmd_client *cl, const char *addr, const char *why)
{
	int64_t wait = auth_backoff_fail(s->backoff, addr, (int64_t)loop_clock_ms());
	atomic_fetch_add_explicit(&s->auth_failed, 1, memory_order_relaxed);
	log_info("auth", "authentication failed", LF_U("client_id", cl->id), LF_S("peer", cl->peer),
	         LF_S("reason", why), LF_I("next_wait_ms", wait));
}

int security_authenticate(security_t *s, cmd_client *cl, const char *user, size_t user_len,
                          const char *token, size_t len, char *err, size_t errlen)
{
	char addr[AUTH_ADDR_MAX + 1];
	int64_t wait = backoff_wait(s, cl, addr, sizeof addr);
	if (wait > 0) {
		atomic_fetch_add_explicit(&s->backoff_refused, 1, memory_order_relaxed);
		snprintf(err, errlen,
		         "too many failed authentication attempts from this address; retry in %lld "
		         "ms",
		         (long long)wait);
		return -EAGAIN;
	}
	creds *c = creds_get(s);
	grant g;
	int rc = verify(c, user, user_len, token, len, &g, err, errlen);
	uint64_t gen = c->gen;
	creds_put(c);
	if (rc != 0) {
		attempt_failed(s, cl, addr, err);
		return rc;
	}
	auth_backoff_success(s->backoff, addr);
	atomic_fetch_add_explicit(&s->auth_ok, 1, memory_order_relaxed);
	client_lock(cl);
	cl->authenticated = 1;
	cl->auth_kind = g.kind;
	cl->auth_perms = g.perms;
	memcpy(cl->auth_name, g.name, sizeof cl->auth_name);
	cl->auth_expires_ms = g.expires_ms;
	memcpy(cl->auth_fp, g.fp, sizeof cl->auth_fp);
	cl->auth_gen = gen;
	client_unlock(cl);
	log_debug("auth", "authenticated", LF_U("client_id", cl->id), LF_S("peer", cl->peer),
	          LF_S("as", g.name));
	return 0;
}

int security_check_bearer(security_t *s, const char *token, size_t len, const char *addr)
{
	char err[256];
	int64_t now = (int64_t)loop_clock_ms();
	if (!s || !token || len == 0)
		return 0; /* no guess made: not counted against the address */
	if (addr && auth_backoff_check(s->backoff, addr, now) > 0)
		return -EAGAIN;
	creds *c = creds_get(s);
	grant g;
	int rc = verify(c, NULL, 0, token, len, &g, err, sizeof err);
	creds_put(c);
	if (rc == 0) {
		if (addr)
			auth_backoff_success(s->backoff, addr);
		return 1;
	}
	int64_t wait = addr ? auth_backoff_fail(s->backoff, addr, now) : 0;
	log_info("auth", "HTTP bearer token refused", LF_S("peer", addr ? addr : "?"),
	         LF_S("reason", err), LF_I("next_wait_ms", wait));
	return 0;
}

/* Maps a verified client certificate's name to a token of that name. */
static int cert_login(creds *c, cmd_client *cl)
{
	unsigned perms = 0;
	unsigned char fp[AUTH_DIGEST_LEN];
	if (c->tls_identity == CONFIG_TLS_ID_NONE || !cl->tls_identity[0])
		return 0;
	if (auth_registry_lookup(c->reg, cl->tls_identity, &perms, fp) != AUTH_OK)
		return 0;
	client_lock(cl);
	cl->authenticated = 1;
	cl->auth_kind = SEC_AUTH_CERT;
	cl->auth_perms = perms;
	snprintf(cl->auth_name, sizeof cl->auth_name, "%.64s", cl->tls_identity);
	cl->auth_expires_ms = 0;
	memcpy(cl->auth_fp, fp, sizeof fp);
	cl->auth_gen = c->gen;
	client_unlock(cl);
	return 1;
}

int security_client_revalidate(security_t *s, cmd_client *cl)
{
	if (!s)
		return 1;
	creds *c = creds_get(s);
	int ok = 1;
	unsigned perms = 0;
	unsigned char fp[AUTH_DIGEST_LEN];
	switch (cl->auth_kind) {
	case SEC_AUTH_OFF:
		ok = !c->required; /* auth turned on: this connection never authenticated */
		break;
	case SEC_AUTH_NONE:
		if (!c->required) {
			client_lock(cl);
			set_off(cl);
			client_unlock(cl);
		}
		break;
	case SEC_AUTH_TOKEN:
	case SEC_AUTH_CERT: {
		const char *name =
		        cl->auth_kind == SEC_AUTH_CERT ? cl->tls_identity : cl->auth_name;
		if (!c->required)
			ok = 1;
		else if (cl->auth_kind == SEC_AUTH_CERT && c->tls_identity == CONFIG_TLS_ID_NONE)
			ok = 0;
		else
			ok = auth_registry_lookup(c->reg, name, &perms, fp) == AUTH_OK &&
			     CRYPTO_memcmp(fp, cl->auth_fp, sizeof fp) == 0;
		break;
	}
	case SEC_AUTH_JWT:
		ok = !c->required ||
		     (c->jwt && CRYPTO_memcmp(c->jwt_fp, cl->auth_fp, sizeof c->jwt_fp) == 0);
		break;
	}
	if (cl->legacy_gen != 0 && cl->legacy_gen != c->gen)
		cl->legacy_gen = 0; /* re-check the next legacy token */
	if (ok)
		cl->auth_gen = c->gen;
	creds_put(c);
	return ok;
}

void security_stats_get(security_t *s, security_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->auth_ok = atomic_load_explicit(&s->auth_ok, memory_order_relaxed);
	out->auth_failed = atomic_load_explicit(&s->auth_failed, memory_order_relaxed);
	out->auth_backoff_refused = atomic_load_explicit(&s->backoff_refused, memory_order_relaxed);
	out->revoked_closed = atomic_load_explicit(&s->revoked, memory_order_relaxed);
	out->reloads = atomic_load_explicit(&s->reloads, memory_order_relaxed);
}

void security_count_revoked(security_t *s, uint64_t n)
{
	if (s)
		atomic_fetch_add_explicit(&s->revoked, n, memory_order_relaxed);
}

/* Error replies: Redis's codes and texts over RESP, the original's over the
 * line protocol. */
static void reply_noauth(cmd_ctx *ctx, const char *resp_msg, const char *line_msg)
{
	if (ctx->r->proto == PROTO_LINE)
		reply_error(ctx->r, line_msg);
	else
		reply_error_code(ctx->r, "NOAUTH", resp_msg);
}

static const char *perm_name(unsigned missing)
{
	if (missing & AUTH_PERM_ADMIN)
		return "admin";
	if (missing & AUTH_PERM_WRITE)
		return "write";
	return "read";
}

/* The original client's `SET <token> key value` / `LOOKUP <token> key`:
 * rewrites ctx to the plain command when the form matches. Returns 1 if it
 * matched (token in *tok), 0 if not. */
static __thread cmd_arg legacy_argv[3];

static int legacy_form(cmd_ctx *ctx, const command *cmd, cmd_arg *tok)
{
	if (ctx->r->proto != PROTO_LINE)
		return 0;
	if (strcmp(cmd->name, "lookup") == 0 && ctx->argc == 3) {
		*tok = ctx->argv[1];
		legacy_argv[0] = ctx->argv[0];
		legacy_argv[1] = ctx->argv[2];
		ctx->argv = legacy_argv;
		ctx->argc = 2;
		return 1;
	}
	if (strcmp(cmd->name, "set") != 0)
		return 0;
	if (ctx->argc == 4) { /* quoted words: SET tok "k" "v" */
		*tok = ctx->argv[1];
		legacy_argv[0] = ctx->argv[0];
		legacy_argv[1] = ctx->argv[2];
		legacy_argv[2] = ctx->argv[3];
		ctx->argv = legacy_argv;
		ctx->argc = 3;
		return 1;
	}
	if (ctx->argc != 3)
		return 0;
	/* SET's value is the rest of the line: "key value words" */
	const cmd_arg *rest = &ctx->argv[2];
	size_t k = 0;
	while (k < rest->len && rest->p[k] != ' ' && rest->p[k] != '\t')
		k++;
	if (k == 0 || k == rest->len)
		return 0;
	size_t v = k;
	while (v < rest->len && (rest->p[v] == ' ' || rest->p[v] == '\t'))
		v++;
	*tok = ctx->argv[1];
	legacy_argv[0] = ctx->argv[0];
	legacy_argv[1] = (cmd_arg){rest->p, k};
	legacy_argv[2] = (cmd_arg){rest->p + v, rest->len - v};
	ctx->argv = legacy_argv;
	ctx->argc = 3;
	return 1;
}

/* Checks a legacy per-command token; the connection stays unauthenticated.
 * Returns the permissions granted, or replies and returns -1. */
static long legacy_check(security_t *s, cmd_ctx *ctx, const cmd_arg *tok)
{
	cmd_client *cl = ctx->client;
	unsigned char sha[AUTH_DIGEST_LEN];
	uint64_t gen = security_generation(s);
	if (auth_token_digest(tok->p, tok->len, sha) == AUTH_OK && cl->legacy_gen == gen &&
	    CRYPTO_memcmp(sha, cl->legacy_sha, sizeof sha) == 0)
		return cl->legacy_perms;
	char addr[AUTH_ADDR_MAX + 1];
	char err[256];
	int64_t wait = backoff_wait(s, cl, addr, sizeof addr);
	if (wait > 0) {
		atomic_fetch_add_explicit(&s->backoff_refused, 1, memory_order_relaxed);
		reply_errorf(ctx->r,
		             "too many failed authentication attempts from this address; retry in "
		             "%lld ms",
		             (long long)wait);
		return -1;
	}
	creds *c = creds_get(s);
	grant g;
	int rc = (c->jwt && is_jwt(tok->p, tok->len))
	                 ? -EACCES /* JWTs go through AUTH */
	                 : verify(c, NULL, 0, tok->p, tok->len, &g, err, sizeof err);
	uint64_t cgen = c->gen;
	creds_put(c);
	if (rc != 0) {
		attempt_failed(s, cl, addr, "legacy per-command token refused");
		reply_error(ctx->r, "Authentication failed");
		return -1;
	}
	auth_backoff_success(s->backoff, addr);
	memcpy(cl->legacy_sha, sha, sizeof sha);
	cl->legacy_perms = g.perms;
	memcpy(cl->legacy_name, g.name, sizeof cl->legacy_name);
	cl->legacy_gen = cgen;
	return g.perms;
}

int security_check_command(security_t *s, cmd_ctx *ctx, const command *cmd)
{
	cmd_client *cl = ctx->client;
	unsigned perms;
	/* The hot path: two relaxed loads, no lock. */
	if (!security_required(s))
		return 1;
	if (cmd->flags & CMD_NOAUTH)
		return 1; /* AUTH, HELLO, QUIT: their handlers decide */
	if (cl->authenticated && cl->auth_gen != security_generation(s) &&
	    !security_client_revalidate(s, cl)) {
		security_count_revoked(s, 1);
		client_lock(cl);
		set_none(cl);
		client_unlock(cl);
		reply_noauth(ctx, "credentials revoked; authenticate again",
		             "Authentication required (credentials revoked)");
		ctx->out_flags |= CMD_OUT_CLOSE;
		return 0;
	}
	if (cl->authenticated && cl->auth_expires_ms != 0 && wall_ms() >= cl->auth_expires_ms) {
		client_lock(cl);
		set_none(cl);
		client_unlock(cl);
		reply_noauth(ctx, "token expired; authenticate again",
		             "Authentication required (token expired)");
		return 0;
	}
	if (!cl->authenticated) {
		creds *c = creds_get(s);
		int done = cert_login(c, cl);
		creds_put(c);
		if (!done) {
			cmd_arg tok;
			if (!legacy_form(ctx, cmd, &tok)) {
				reply_noauth(ctx, "Authentication required.",
				             "Authentication required");
				return 0;
			}
			long p = legacy_check(s, ctx, &tok);
			if (p < 0)
				return 0;
			perms = (unsigned)p;
			goto check;
		}
	}
	perms = cl->auth_perms;
check:;
	unsigned need = auth_required_perm(cmd->flags);
	if (!auth_permits(perms, need)) {
		const char *who = cl->authenticated ? cl->auth_name : cl->legacy_name;
		char msg[256];
		snprintf(msg, sizeof msg,
		         "this token ('%s') may not run '%s': it needs the %s permission", who,
		         cmd->name, perm_name(need & ~perms));
		reply_error_code(ctx->r, "NOPERM", msg);
		return 0;
	}
	return 1;
}
