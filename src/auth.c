/* auth.c - token authentication: hash lines (sha256$ and pbkdf2-sha256$),
 * the registry of named tokens with their permissions, and the per-address
 * backoff table for failed attempts.
 *
 * Invariants: no plain token is ever stored (the legacy token is kept as its
 * SHA-256); every digest comparison goes through CRYPTO_memcmp; a presented
 * token is checked against every entry; nothing here logs. The registry is
 * immutable once built; the backoff table is guarded by its one mutex.
 * Cryptography is OpenSSL's (SHA-256, PKCS5_PBKDF2_HMAC, RAND_bytes); only
 * the base64 codec is ours, because EVP_DecodeBlock accepts blanks and
 * non-canonical padding and a config line must have exactly one spelling.
 */
#include "auth.h"

#include "ascii.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <xxhash.h>

const char *auth_strerror(int err)
{
	switch (err) {
	case AUTH_OK:
		return "ok";
	case AUTH_EDENIED:
		return "token refused";
	case AUTH_ETOOLONG:
		return "token empty or too long";
	case AUTH_EFORMAT:
		return "malformed value";
	case AUTH_EEXIST:
		return "name already registered";
	case AUTH_ENOMEM:
		return "out of memory";
	case AUTH_ECRYPTO:
		return "cryptographic library failure";
	case AUTH_ESPACE:
		return "output buffer too small";
	}
	return "unknown authentication error";
}

/* ---- base64 and hex ------------------------------------------------------ */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes; pad adds '=' to a multiple of 4. Returns the length
 * written (NUL excluded), or 0 if out[outcap] is too small. */
static size_t b64_encode(const char *alpha, bool pad, const unsigned char *in, size_t n, char *out,
                         size_t outcap)
{
	size_t need = pad ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	size_t o = 0;

	if (need >= outcap)
		return 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = alpha[(v >> 18) & 63];
		out[o++] = alpha[(v >> 12) & 63];
		if (left > 1)
			out[o++] = alpha[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (left > 2)
			out[o++] = alpha[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* Strict standard base64 with padding: length a multiple of 4, '=' only as
 * the last one or two characters, unused low bits zero. Decodes into
 * out[outcap]; returns the byte count or -1. */
static long b64_decode_strict(const char *s, size_t len, unsigned char *out, size_t outcap)
{
	size_t pads = 0, n, o = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	if (s[len - 1] == '=')
		pads = s[len - 2] == '=' ? 2 : 1;
	n = len / 4 * 3 - pads;
	if (n > outcap)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;
		bool last = i + 4 == len;
		for (size_t k = 0; k < 4; k++) {
			int d;
			if (last && k >= 4 - pads)
				d = 0;
			else if ((d = ascii_b64_value((unsigned char)s[i + k], false)) < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		if (last && pads == 2 && (v & 0xffff) != 0)
			return -1;
		if (last && pads == 1 && (v & 0xff) != 0)
			return -1;
		out[o++] = (unsigned char)(v >> 16);
		if (o < n)
			out[o++] = (unsigned char)(v >> 8);
		if (o < n)
			out[o++] = (unsigned char)v;
	}
	return (long)n;
}

/* ---- hash lines ---------------------------------------------------------- */

#define SHA256_PREFIX "sha256$"
#define PBKDF2_PREFIX "pbkdf2-sha256$"

static int sha256(const char *token, size_t len, unsigned char out[AUTH_DIGEST_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(token, len, out, &n, EVP_sha256(), NULL) != 1 || n != AUTH_DIGEST_LEN)
		return AUTH_ECRYPTO;
	return AUTH_OK;
}

static int pbkdf2(const char *token, size_t len, const auth_hash *h,
                  unsigned char out[AUTH_DIGEST_LEN])
{
	/* len <= AUTH_TOKEN_MAX and iterations <= AUTH_PBKDF2_ITER_MAX fit an int. */
	if (PKCS5_PBKDF2_HMAC(token, (int)len, h->salt, (int)h->salt_len, (int)h->iterations,
	                      EVP_sha256(), AUTH_DIGEST_LEN, out) != 1)
		return AUTH_ECRYPTO;
	return AUTH_OK;
}

/* The next '$'-terminated field of [*p, end): its start and length, *p moved
 * past the '$'. The last field runs to end. */
static void next_field(const char **p, const char *end, const char **f, size_t *flen)
{
	const char *d = memchr(*p, '$', (size_t)(end - *p));

	*f = *p;
	*flen = (size_t)((d ? d : end) - *p);
	*p = d ? d + 1 : end;
}

static int parse_iterations(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	/* At most 8 digits (the maximum is 10,000,000), no leading zero. */
	if (len == 0 || len > 8 || s[0] == '0')
		return AUTH_EFORMAT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return AUTH_EFORMAT;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < AUTH_PBKDF2_ITER_MIN || v > AUTH_PBKDF2_ITER_MAX)
		return AUTH_EFORMAT;
	*out = (uint32_t)v;
	return AUTH_OK;
}

int auth_hash_parse(const char *line, size_t len, auth_hash *out)
{
	const char *end, *p, *f;
	size_t flen;
	auth_hash h;

	if (line == NULL || len == 0 || len > AUTH_HASH_LINE_MAX)
		return AUTH_EFORMAT;
	end = line + len;
	memset(&h, 0, sizeof(h));
	if (len > strlen(SHA256_PREFIX) &&
	    memcmp(line, SHA256_PREFIX, strlen(SHA256_PREFIX)) == 0) {
		p = line + strlen(SHA256_PREFIX);
		if ((size_t)(end - p) != 2 * AUTH_DIGEST_LEN)
			return AUTH_EFORMAT;
		for (size_t i = 0; i < AUTH_DIGEST_LEN; i++) {
			int hi = ascii_hex_value((unsigned char)p[2 * i]),
			    lo = ascii_hex_value((unsigned char)p[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return AUTH_EFORMAT;
			h.digest[i] = (unsigned char)(hi << 4 | lo);
		}
		h.scheme = AUTH_SCHEME_SHA256;
		*out = h;
		return AUTH_OK;
	}
	if (len <= strlen(PBKDF2_PREFIX) || memcmp(line, PBKDF2_PREFIX, strlen(PBKDF2_PREFIX)) != 0)
		return AUTH_EFORMAT;
	p = line + strlen(PBKDF2_PREFIX);
	next_field(&p, end, &f, &flen);
	if (p == end || parse_iterations(f, flen, &h.iterations) != AUTH_OK)
		return AUTH_EFORMAT;
	next_field(&p, end, &f, &flen);
	if (p == end)
		return AUTH_EFORMAT;
	long n = b64_decode_strict(f, flen, h.salt, sizeof(h.salt));
	if (n < AUTH_SALT_LEN_MIN)
		return AUTH_EFORMAT;
	h.salt_len = (size_t)n;
	next_field(&p, end, &f, &flen);
	/* The digest is the last field: a further '$' means a field too many. */
	if (f + flen != end)
		return AUTH_EFORMAT;
	if (b64_decode_strict(f, flen, h.digest, sizeof(h.digest)) != AUTH_DIGEST_LEN)
		return AUTH_EFORMAT;
	h.scheme = AUTH_SCHEME_PBKDF2_SHA256;
	*out = h;
	return AUTH_OK;
}

int auth_hash_token(const char *token, size_t len, enum auth_scheme scheme, uint32_t iterations,
                    char *out, size_t outcap)
{
	unsigned char d[AUTH_DIGEST_LEN];
	char salt64[AUTH_SALT_LEN_MAX * 2], dig64[AUTH_DIGEST_LEN * 2];
	auth_hash h;
	int rc, n;

	if (len == 0 || len > AUTH_TOKEN_MAX)
		return AUTH_ETOOLONG;
	if (scheme == AUTH_SCHEME_SHA256) {
		if ((rc = sha256(token, len, d)) != AUTH_OK)
			return rc;
		if (outcap < strlen(SHA256_PREFIX) + 2 * AUTH_DIGEST_LEN + 1)
			return AUTH_ESPACE;
		memcpy(out, SHA256_PREFIX, strlen(SHA256_PREFIX));
		char *o = out + strlen(SHA256_PREFIX);
		for (size_t i = 0; i < AUTH_DIGEST_LEN; i++) {
			o[2 * i] = "0123456789abcdef"[d[i] >> 4];
			o[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
		}
		o[2 * AUTH_DIGEST_LEN] = '\0';
		return AUTH_OK;
	}
	if (scheme != AUTH_SCHEME_PBKDF2_SHA256)
		return AUTH_EFORMAT;
	if (iterations == 0)
		iterations = AUTH_PBKDF2_ITER_DEFAULT;
	if (iterations < AUTH_PBKDF2_ITER_MIN || iterations > AUTH_PBKDF2_ITER_MAX)
		return AUTH_EFORMAT;
	memset(&h, 0, sizeof(h));
	h.scheme = scheme;
	h.iterations = iterations;
	h.salt_len = AUTH_SALT_LEN_DEFAULT;
	if (RAND_bytes(h.salt, (int)h.salt_len) != 1)
		return AUTH_ECRYPTO;
	if ((rc = pbkdf2(token, len, &h, d)) != AUTH_OK)
		return rc;
	b64_encode(b64_std, true, h.salt, h.salt_len, salt64, sizeof(salt64));
	b64_encode(b64_std, true, d, sizeof(d), dig64, sizeof(dig64));
	OPENSSL_cleanse(d, sizeof(d));
	n = snprintf(out, outcap, PBKDF2_PREFIX "%u$%s$%s", (unsigned)iterations, salt64, dig64);
	if (n < 0 || (size_t)n >= outcap)
		return AUTH_ESPACE;
	return AUTH_OK;
}

/* Computes what h's scheme makes of token; sha is the token's SHA-256,
 * computed once by the caller. */
static int derive(const auth_hash *h, const char *token, size_t len,
                  const unsigned char sha[AUTH_DIGEST_LEN], unsigned char out[AUTH_DIGEST_LEN])
{
	if (h->scheme == AUTH_SCHEME_SHA256) {
		memcpy(out, sha, AUTH_DIGEST_LEN);
		return AUTH_OK;
	}
	return pbkdf2(token, len, h, out);
}

int auth_hash_verify(const auth_hash *h, const char *token, size_t len)
{
	unsigned char sha[AUTH_DIGEST_LEN], d[AUTH_DIGEST_LEN];
	int rc;

	if (len == 0 || len > AUTH_TOKEN_MAX)
		return AUTH_ETOOLONG;
	if ((rc = sha256(token, len, sha)) == AUTH_OK &&
	    (rc = derive(h, token, len, sha, d)) == AUTH_OK)
		rc = CRYPTO_memcmp(d, h->digest, AUTH_DIGEST_LEN) == 0 ? AUTH_OK : AUTH_EDENIED;
	OPENSSL_cleanse(sha, sizeof(sha));
	OPENSSL_cleanse(d, sizeof(d));
	return rc;
}

int auth_token_generate(char *out, size_t outcap)
{
	unsigned char raw[AUTH_GENERATED_BYTES];

	if (outcap < AUTH_GENERATED_LEN + 1)
		return AUTH_ESPACE;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return AUTH_ECRYPTO;
	b64_encode(b64_url, false, raw, sizeof(raw), out, outcap);
	OPENSSL_cleanse(raw, sizeof(raw));
	return AUTH_OK;
}

/* ---- permissions --------------------------------------------------------- */

static const struct {
	const char *word;
	unsigned bit;
} perm_words[] = {
        {"read", AUTH_PERM_READ},
        {"write", AUTH_PERM_WRITE},
        {"admin", AUTH_PERM_ADMIN},
};

int auth_perms_parse(const char *s, size_t len, unsigned *perms)
{
	const char *p = s, *end = s + len;
	unsigned acc = 0;

	if (s == NULL || len == 0)
		return AUTH_EFORMAT;
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *w = p, *we = comma ? comma : end;
		bool known = false;
		while (w < we && (*w == ' ' || *w == '\t'))
			w++;
		while (we > w && (we[-1] == ' ' || we[-1] == '\t'))
			we--;
		for (size_t i = 0; i < sizeof(perm_words) / sizeof(perm_words[0]); i++) {
			size_t wl = strlen(perm_words[i].word);
			if ((size_t)(we - w) == wl && strncasecmp(w, perm_words[i].word, wl) == 0) {
				acc |= perm_words[i].bit;
				known = true;
			}
		}
		if (!known)
			return AUTH_EFORMAT;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*perms = acc;
	return AUTH_OK;
}

int auth_perms_format(unsigned perms, char *out, size_t outcap)
{
	size_t o = 0;

	if (outcap == 0)
		return AUTH_ESPACE;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(perm_words) / sizeof(perm_words[0]); i++) {
		if (!(perms & perm_words[i].bit))
			continue;
		int n = snprintf(out + o, outcap - o, "%s%s", o ? "," : "", perm_words[i].word);
		if (n < 0 || (size_t)n >= outcap - o)
			return AUTH_ESPACE;
		o += (size_t)n;
	}
	if (o == 0 && (size_t)snprintf(out, outcap, "none") >= outcap)
		return AUTH_ESPACE;
	return AUTH_OK;
}

/* The values of command.h's enum cmd_flags, repeated so that this module
 * does not pull the command table's header (and the store's) into every
 * user; test_auth.c checks they agree. */
#define AUTH_CMD_READ   (1u << 0)
#define AUTH_CMD_WRITE  (1u << 1)
#define AUTH_CMD_ADMIN  (1u << 2)
#define AUTH_CMD_NOAUTH (1u << 5)

unsigned auth_required_perm(unsigned cmd_flags)
{
	unsigned need = 0;

	if (cmd_flags & AUTH_CMD_NOAUTH)
		return 0;
	if (cmd_flags & AUTH_CMD_ADMIN)
		return AUTH_PERM_ADMIN;
	if (cmd_flags & AUTH_CMD_READ)
		need |= AUTH_PERM_READ;
	if (cmd_flags & AUTH_CMD_WRITE)
		need |= AUTH_PERM_WRITE;
	return need;
}

/* ---- the registry -------------------------------------------------------- */

typedef struct auth_entry {
	char name[AUTH_NAME_MAX + 1];
	unsigned perms;
	auth_hash h;
} auth_entry;

struct auth_registry {
	auth_entry *v;
	size_t n, cap;
};

auth_registry *auth_registry_create(void)
{
	return calloc(1, sizeof(auth_registry));
}

void auth_registry_free(auth_registry *reg)
{
	if (reg == NULL)
		return;
	if (reg->v != NULL)
		OPENSSL_cleanse(reg->v, reg->cap * sizeof(*reg->v));
	free(reg->v);
	free(reg);
}

size_t auth_registry_count(const auth_registry *reg)
{
	return reg->n;
}

static bool valid_name(const char *name)
{
	size_t n = strnlen(name, AUTH_NAME_MAX + 1);

	if (n == 0 || n > AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i]; /* ASCII ranges, not isalnum: no locale may widen them */
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

static int registry_push(auth_registry *reg, const char *name, const auth_hash *h, unsigned perms)
{
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->v[i].name, name) == 0)
			return AUTH_EEXIST;
	if (reg->n == reg->cap) {
		size_t ncap = reg->cap ? reg->cap * 2 : 4;
		auth_entry *nv = calloc(ncap, sizeof(*nv));
		if (nv == NULL)
			return AUTH_ENOMEM;
		if (reg->n) {
			memcpy(nv, reg->v, reg->n * sizeof(*nv));
			OPENSSL_cleanse(reg->v, reg->cap * sizeof(*reg->v));
		}
		free(reg->v);
		reg->v = nv;
		reg->cap = ncap;
	}
	auth_entry *e = &reg->v[reg->n++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->perms = perms;
	e->h = *h;
	return AUTH_OK;
}

int auth_registry_add(auth_registry *reg, const char *name, const char *hash_line, size_t line_len,
                      unsigned perms)
{
	auth_hash h;

	if (!valid_name(name) || perms == 0 || (perms & ~(unsigned)AUTH_PERM_ALL) != 0)
		return AUTH_EFORMAT;
	if (auth_hash_parse(hash_line, line_len, &h) != AUTH_OK)
		return AUTH_EFORMAT;
	return registry_push(reg, name, &h, perms);
}

int auth_registry_add_legacy(auth_registry *reg, const char *token, size_t len)
{
	auth_hash h;
	int rc;

	if (len == 0 || len > AUTH_TOKEN_MAX)
		return AUTH_ETOOLONG;
	memset(&h, 0, sizeof(h));
	h.scheme = AUTH_SCHEME_SHA256;
	if ((rc = sha256(token, len, h.digest)) != AUTH_OK)
		return rc;
	rc = registry_push(reg, AUTH_LEGACY_NAME, &h, AUTH_PERM_ALL);
	OPENSSL_cleanse(&h, sizeof(h));
	return rc;
}

int auth_registry_lookup(const auth_registry *reg, const char *name, unsigned *perms,
                         unsigned char fp[AUTH_DIGEST_LEN])
{
	for (size_t i = 0; i < reg->n; i++) {
		const auth_hash *h = &reg->v[i].h;
		unsigned char meta[9];

		if (strcmp(reg->v[i].name, name) != 0)
			continue;
		*perms = reg->v[i].perms;
		meta[0] = (unsigned char)h->scheme;
		for (int b = 0; b < 4; b++)
			meta[1 + b] = (unsigned char)(h->iterations >> (8 * b));
		for (int b = 0; b < 4; b++)
			meta[5 + b] = (unsigned char)(h->salt_len >> (8 * b));
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned int outlen = 0;
		int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		         EVP_DigestUpdate(md, meta, sizeof meta) == 1 &&
		         EVP_DigestUpdate(md, h->salt, h->salt_len) == 1 &&
		         EVP_DigestUpdate(md, h->digest, sizeof h->digest) == 1 &&
		         EVP_DigestUpdate(md, &reg->v[i].perms, sizeof reg->v[i].perms) == 1 &&
		         EVP_DigestFinal_ex(md, fp, &outlen) == 1;
		EVP_MD_CTX_free(md);
		return ok ? AUTH_OK : AUTH_ECRYPTO;
	}
	return AUTH_EDENIED;
}

int auth_token_digest(const char *token, size_t len, unsigned char out[AUTH_DIGEST_LEN])
{
	if (len == 0 || len > AUTH_TOKEN_MAX)
		return AUTH_ETOOLONG;
	return sha256(token, len, out);
}

int auth_check(const auth_registry *reg, const char *token, size_t len, unsigned *perms,
               char *name_out, size_t name_cap)
{
	unsigned char sha[AUTH_DIGEST_LEN], d[AUTH_DIGEST_LEN];
	size_t found = SIZE_MAX;
	int rc = AUTH_OK;

	if (len == 0 || len > AUTH_TOKEN_MAX)
		return AUTH_ETOOLONG;
	if (sha256(token, len, sha) != AUTH_OK)
		return AUTH_ECRYPTO;
	/* Every entry is derived and compared, match or not: stopping early
	 * would let the reply time tell an attacker how far down the list the
	 * matching entry sits. */
	for (size_t i = 0; i < reg->n; i++) {
		if (derive(&reg->v[i].h, token, len, sha, d) != AUTH_OK) {
			rc = AUTH_ECRYPTO;
			continue;
		}
		bool eq = CRYPTO_memcmp(d, reg->v[i].h.digest, AUTH_DIGEST_LEN) == 0;
		if (eq && found == SIZE_MAX)
			found = i;
	}
	OPENSSL_cleanse(sha, sizeof(sha));
	OPENSSL_cleanse(d, sizeof(d));
	if (found == SIZE_MAX)
		return rc != AUTH_OK ? rc : AUTH_EDENIED;
	*perms = reg->v[found].perms;
	if (name_out != NULL && name_cap > 0)
		snprintf(name_out, name_cap, "%s", reg->v[found].name);
	return AUTH_OK;
}

/* ---- backoff ------------------------------------------------------------- *
 *
 * A chained hash table over a fixed array of entries, with an intrusive
 * doubly-linked LRU list (head: most recent failure, tail: the eviction
 * victim) and a free list threaded through hnext. Indices instead of
 * pointers keep the entries small and the table two allocations, made once
 * (a malloc per failed attempt would let an attacker drive the allocator). The hash is seeded from
 * RAND_bytes so that nobody can choose addresses that all fall into one chain. Chains are walked
 * under the table mutex; with as many buckets as entries (rounded up to a power of two) they stay
 * short.
 */
#define NIL UINT32_MAX

typedef struct bo_entry {
	char addr[AUTH_ADDR_MAX + 1];
	uint32_t failures;
	int64_t last_fail_ms;
	int64_t until_ms;
	uint32_t hnext, prev, next;
	uint32_t bucket;
} bo_entry;

struct auth_backoff {
	pthread_mutex_t mu;
	size_t cap, count;
	uint32_t nbuckets; /* power of two */
	uint32_t *buckets;
	bo_entry *e;
	uint32_t head, tail, free_head;
	uint64_t seed;
};

auth_backoff *auth_backoff_create(size_t capacity)
{
	auth_backoff *t;
	uint32_t nb = 1;

	if (capacity == 0 || capacity > (1u << 24))
		return NULL;
	while (nb < capacity)
		nb <<= 1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cap = capacity;
	t->nbuckets = nb;
	t->buckets = malloc(nb * sizeof(*t->buckets));
	t->e = calloc(capacity, sizeof(*t->e));
	if (t->buckets == NULL || t->e == NULL ||
	    RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1 ||
	    pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t->buckets);
		free(t->e);
		free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < nb; i++)
		t->buckets[i] = NIL;
	for (size_t i = 0; i < capacity; i++)
		t->e[i].hnext = i + 1 < capacity ? (uint32_t)(i + 1) : NIL;
	t->free_head = 0;
	t->head = t->tail = NIL;
	return t;
}

void auth_backoff_free(auth_backoff *tbl)
{
	if (tbl == NULL)
		return;
	pthread_mutex_destroy(&tbl->mu);
	free(tbl->buckets);
	free(tbl->e);
	free(tbl);
}

/* The key: addr truncated to AUTH_ADDR_MAX bytes. */
static size_t key_len(const char *addr)
{
	return strnlen(addr, AUTH_ADDR_MAX);
}

static uint32_t bucket_of(const auth_backoff *t, const char *addr, size_t len)
{
	return (uint32_t)XXH3_64bits_withSeed(addr, len, t->seed) & (t->nbuckets - 1);
}

/* Caller holds t->mu. */
static uint32_t do_find(const auth_backoff *t, const char *addr, size_t len)
{
	for (uint32_t i = t->buckets[bucket_of(t, addr, len)]; i != NIL; i = t->e[i].hnext)
		if (strncmp(t->e[i].addr, addr, len) == 0 && t->e[i].addr[len] == '\0')
			return i;
	return NIL;
}

/* Caller holds t->mu. */
static void lru_unlink(auth_backoff *t, uint32_t i)
{
	bo_entry *e = &t->e[i];

	if (e->prev != NIL)
		t->e[e->prev].next = e->next;
	else
		t->head = e->next;
	if (e->next != NIL)
		t->e[e->next].prev = e->prev;
	else
		t->tail = e->prev;
}

/* Caller holds t->mu. */
static void lru_push_front(auth_backoff *t, uint32_t i)
{
	t->e[i].prev = NIL;
	t->e[i].next = t->head;
	if (t->head != NIL)
		t->e[t->head].prev = i;
	t->head = i;
	if (t->tail == NIL)
		t->tail = i;
}

/* Unlinks entry i from its chain and the LRU list and frees it. Caller
 * holds t->mu. */
static void do_remove(auth_backoff *t, uint32_t i)
{
	uint32_t *pp = &t->buckets[t->e[i].bucket];

	while (*pp != i)
		pp = &t->e[*pp].hnext;
	*pp = t->e[i].hnext;
	lru_unlink(t, i);
	memset(&t->e[i], 0, sizeof(t->e[i]));
	t->e[i].hnext = t->free_head;
	t->free_head = i;
	t->count--;
}

/* Whether e's last failure is old enough to be forgotten; a clock that went
 * backwards forgets nothing (and cannot overflow the subtraction). */
static bool forgotten(const bo_entry *e, int64_t now_ms)
{
	return now_ms >= e->last_fail_ms &&
	       (uint64_t)now_ms - (uint64_t)e->last_fail_ms >= AUTH_BACKOFF_FORGET_MS;
}

static int64_t wait_left(const bo_entry *e, int64_t now_ms)
{
	if (forgotten(e, now_ms))
		return 0;
	if (e->until_ms <= now_ms)
		return 0;
	/* Capped: a clock that went backwards must not make the wait longer. */
	uint64_t w = (uint64_t)e->until_ms - (uint64_t)now_ms;
	return w > AUTH_BACKOFF_MAX_MS ? AUTH_BACKOFF_MAX_MS : (int64_t)w;
}

int64_t auth_backoff_check(auth_backoff *tbl, const char *addr, int64_t now_ms)
{
	size_t len = key_len(addr);
	int64_t w = 0;

	pthread_mutex_lock(&tbl->mu);
	uint32_t i = do_find(tbl, addr, len);
	if (i != NIL)
		w = wait_left(&tbl->e[i], now_ms);
	pthread_mutex_unlock(&tbl->mu);
	return w;
}

static int64_t delay_for(uint32_t failures)
{
	if (failures < AUTH_BACKOFF_FREE)
		return 0;
	uint32_t shift = failures - AUTH_BACKOFF_FREE;
	if (shift >= 16)
		return AUTH_BACKOFF_MAX_MS;
	int64_t d = (int64_t)AUTH_BACKOFF_BASE_MS << shift;
	return d < AUTH_BACKOFF_MAX_MS ? d : AUTH_BACKOFF_MAX_MS;
}

int64_t auth_backoff_fail(auth_backoff *tbl, const char *addr, int64_t now_ms)
{
	size_t len = key_len(addr);
	int64_t d;

	pthread_mutex_lock(&tbl->mu);
	uint32_t i = do_find(tbl, addr, len);
	if (i == NIL) {
		if (tbl->count == tbl->cap)
			do_remove(tbl, tbl->tail);
		i = tbl->free_head;
		tbl->free_head = tbl->e[i].hnext;
		bo_entry *e = &tbl->e[i];
		memcpy(e->addr, addr, len);
		e->addr[len] = '\0';
		e->failures = 0;
		e->bucket = bucket_of(tbl, addr, len);
		e->hnext = tbl->buckets[e->bucket];
		tbl->buckets[e->bucket] = i;
		lru_push_front(tbl, i);
		tbl->count++;
	} else {
		if (forgotten(&tbl->e[i], now_ms))
			tbl->e[i].failures = 0;
		lru_unlink(tbl, i);
		lru_push_front(tbl, i);
	}
	bo_entry *e = &tbl->e[i];
	if (e->failures < UINT32_MAX)
		e->failures++;
	d = delay_for(e->failures);
	e->last_fail_ms = now_ms;
	e->until_ms = now_ms > INT64_MAX - d ? INT64_MAX : now_ms + d;
	pthread_mutex_unlock(&tbl->mu);
	return d;
}

void auth_backoff_success(auth_backoff *tbl, const char *addr)
{
	size_t len = key_len(addr);

	pthread_mutex_lock(&tbl->mu);
	uint32_t i = do_find(tbl, addr, len);
	if (i != NIL)
		do_remove(tbl, i);
	pthread_mutex_unlock(&tbl->mu);
}

size_t auth_backoff_count(auth_backoff *tbl)
{
	size_t n;

	pthread_mutex_lock(&tbl->mu);
	n = tbl->count;
	pthread_mutex_unlock(&tbl->mu);
	return n;
}

int auth_peer_addr(const char *peer, char *out, size_t outcap)
{
	const char *start = peer, *end = strrchr(peer, ':');
	size_t n;

	if (end == NULL)
		return AUTH_EFORMAT;
	if (*start == '[') {
		if (end == start || end[-1] != ']')
			return AUTH_EFORMAT;
		start++;
		end--;
		/* IPv4-mapped: "::ffff:a.b.c.d" is the IPv4 client a.b.c.d. */
		if ((size_t)(end - start) > 7 && strncasecmp(start, "::ffff:", 7) == 0 &&
		    memchr(start + 7, ':', (size_t)(end - start - 7)) == NULL &&
		    memchr(start + 7, '.', (size_t)(end - start - 7)) != NULL)
			start += 7;
	}
	n = (size_t)(end - start);
	if (n == 0)
		return AUTH_EFORMAT;
	if (n >= outcap)
		return AUTH_ESPACE;
	memcpy(out, start, n);
	out[n] = '\0';
	return AUTH_OK;
}
