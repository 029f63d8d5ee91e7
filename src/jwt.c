/* jwt.c - JWT bearer token verification: strict compact-JWS parsing, key
 * selection from a keyset (HMAC secrets, RSA and P-256 public keys from PEM
 * or JWKS) and the registered-claim checks (exp, nbf, iss, aud, sub, scope).
 *
 * Every signature and MAC check is OpenSSL's (EVP_DigestVerify, EVP_Q_mac,
 * CRYPTO_memcmp); this file only decodes and decides which key may be tried.
 * Invariants: the token length is checked before any decoding; the header's
 * alg fixes the key family, so a secret never meets an RS/ES token nor a
 * public key an HS token; claims are read only after the signature verified;
 * error messages are fixed strings (never token, secret or JSON excerpts).
 */
#include "jwt.h"

#include "ascii.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#define JWT_JSON_MAX_DEPTH 16  /* header, payload and JWKS nesting */
#define JWT_KID_MAX        256 /* bytes */
#define JWT_RSA_MIN_BITS   2048
#define JWT_RSA_MAX_BITS   8192
#define JWT_LEEWAY_MAX     86400

enum key_kind { KEY_HMAC = 1, KEY_RSA, KEY_EC };

typedef struct jwt_alg {
	const char *name;
	enum key_kind kind;
	const char *md_name; /* for EVP_Q_mac and EVP_get_digestbyname */
	size_t hash_len;
} jwt_alg;

static const jwt_alg jwt_algs[] = {
        {"HS256", KEY_HMAC, "SHA256", 32}, {"HS384", KEY_HMAC, "SHA384", 48},
        {"HS512", KEY_HMAC, "SHA512", 64}, {"RS256", KEY_RSA, "SHA256", 32},
        {"RS384", KEY_RSA, "SHA384", 48},  {"RS512", KEY_RSA, "SHA512", 64},
        {"ES256", KEY_EC, "SHA256", 32},
};
#define JWT_NALGS (sizeof(jwt_algs) / sizeof(jwt_algs[0]))

typedef struct jwt_key {
	enum key_kind kind;
	char *kid;          /* NULL: no kid */
	const jwt_alg *alg; /* NULL: any alg of the family */
	unsigned char *secret;
	size_t secret_len;
	EVP_PKEY *pkey;
} jwt_key;

struct jwt_keyset {
	size_t n;
	jwt_key keys[JWT_MAX_KEYS];
};

static int fail(char *err, size_t errlen, int code, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "jwt: %s", msg);
	return code;
}

static const jwt_alg *alg_by_name(const char *name)
{
	for (size_t i = 0; i < JWT_NALGS; i++)
		if (strcmp(jwt_algs[i].name, name) == 0)
			return &jwt_algs[i];
	return NULL;
}

static void key_clear(jwt_key *k)
{
	free(k->kid);
	if (k->secret) {
		OPENSSL_cleanse(k->secret, k->secret_len);
		free(k->secret);
	}
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

/* ---- base64url and JSON ------------------------------------------------ */

/* Strict base64url without padding (RFC 7515 section 2): only the URL-safe
 * alphabet, no '=', no whitespace, and the unused low bits of the last
 * character must be zero so that every byte string has one encoding. out
 * must hold len * 3 / 4 bytes. Returns the decoded length or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = ascii_b64_value((unsigned char)in[i], true);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	return (long)o;
}

/* Decodes a base64url string into a fresh buffer (NUL-terminated for the
 * JSON parser). Returns the length, -1 when malformed, -2 when out of memory. */
static long b64url_decode_alloc(const char *in, size_t len, unsigned char **out)
{
	unsigned char *buf = malloc(len * 3 / 4 + 1);
	long n;

	*out = NULL;
	if (!buf)
		return -2;
	n = b64url_decode(in, len, buf);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	return n;
}

/* Refuses nesting deeper than JWT_JSON_MAX_DEPTH before jansson sees the
 * text (jansson's own limit is 2048 levels, far more than any token needs). */
static bool json_depth_ok(const unsigned char *s, size_t n)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > JWT_JSON_MAX_DEPTH)
				return false;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return true;
}

/* Parses an object; duplicate keys, trailing bytes, NUL in strings and
 * invalid UTF-8 are refused by jansson. Returns NULL when malformed. */
static json_t *parse_object(const unsigned char *s, size_t n)
{
	json_error_t jerr;
	json_t *j;

	if (!json_depth_ok(s, n))
		return NULL;
	j = json_loadb((const char *)s, n, JSON_REJECT_DUPLICATES, &jerr);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- keyset ------------------------------------------------------------ */

jwt_keyset *jwt_keyset_create(void)
{
	return calloc(1, sizeof(jwt_keyset));
}

void jwt_keyset_free(jwt_keyset *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++)
		key_clear(&ks->keys[i]);
	free(ks);
}

size_t jwt_keyset_count(const jwt_keyset *ks)
{
	return ks ? ks->n : 0;
}

static int hmac_key_init(jwt_key *k, const void *secret, size_t len, char *err, size_t errlen)
{
	if (len < JWT_HMAC_MIN_SECRET)
		return fail(err, errlen, -EINVAL, "HMAC secret shorter than 32 bytes");
	if (len > JWT_MAX_KEY_FILE)
		return fail(err, errlen, -E2BIG, "HMAC secret too long");
	k->secret = malloc(len);
	if (!k->secret)
		return fail(err, errlen, -ENOMEM, "out of memory");
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	k->kind = KEY_HMAC;
	return 0;
}

int jwt_keyset_add_hmac(jwt_keyset *ks, const void *secret, size_t len, char *err, size_t errlen)
{
	int rc;

	if (!ks || (!secret && len))
		return fail(err, errlen, -EINVAL, "invalid argument");
	if (ks->n >= JWT_MAX_KEYS)
		return fail(err, errlen, -EINVAL, "too many keys");
	rc = hmac_key_init(&ks->keys[ks->n], secret, len, err, errlen);
	if (rc == 0)
		ks->n++;
	return rc;
}

/* Classifies a public key: RSA within the size limits, or EC on P-256. */
static int pkey_kind(EVP_PKEY *pkey, enum key_kind *kind, char *err, size_t errlen)
{
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		int bits = EVP_PKEY_get_bits(pkey);
		if (bits < JWT_RSA_MIN_BITS || bits > JWT_RSA_MAX_BITS)
			return fail(err, errlen, -ENOTSUP,
			            "RSA key size must be 2048 to 8192 bits");
		*kind = KEY_RSA;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64];
		size_t glen = 0;
		if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                    sizeof(group), &glen) ||
		    (strcasecmp(group, "prime256v1") != 0 && strcasecmp(group, "P-256") != 0))
			return fail(err, errlen, -ENOTSUP, "EC key must be on P-256");
		*kind = KEY_EC;
		return 0;
	}
	return fail(err, errlen, -ENOTSUP, "unsupported public key type");
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

int jwt_keyset_add_pem(jwt_keyset *ks, const char *pem, size_t len, char *err, size_t errlen)
{
	enum key_kind kind;
	EVP_PKEY *pkey;
	BIO *bio;
	int rc;

	if (!ks || !pem)
		return fail(err, errlen, -EINVAL, "invalid argument");
	if (len > JWT_MAX_KEY_FILE)
		return fail(err, errlen, -E2BIG, "PEM key too large");
	if (ks->n >= JWT_MAX_KEYS)
		return fail(err, errlen, -EINVAL, "too many keys");
	ERR_set_mark();
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		ERR_pop_to_mark();
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_pop_to_mark();
	if (!pkey)
		return fail(err, errlen, -EBADMSG, "no PEM public key (BEGIN PUBLIC KEY) found");
	rc = pkey_kind(pkey, &kind, err, errlen);
	if (rc < 0) {
		EVP_PKEY_free(pkey);
		return rc;
	}
	ks->keys[ks->n].kind = kind;
	ks->keys[ks->n].pkey = pkey;
	ks->n++;
	return 0;
}

/* Reads a regular file of at most JWT_MAX_KEY_FILE bytes into a fresh
 * NUL-terminated buffer. */
static int read_small_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	size_t n = 0;
	char *buf;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (err && errlen)
			snprintf(err, errlen, "jwt: cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, -EINVAL, "key file is not a regular file");
	}
	if (st.st_size > (off_t)JWT_MAX_KEY_FILE) {
		close(fd);
		return fail(err, errlen, -E2BIG, "key file larger than 1 MiB");
	}
	buf = malloc(JWT_MAX_KEY_FILE + 2);
	if (!buf) {
		close(fd);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	/* Read up to one byte past the limit: a file that grew since fstat is
	 * refused rather than silently cut. */
	while (n <= JWT_MAX_KEY_FILE) {
		ssize_t r = read(fd, buf + n, JWT_MAX_KEY_FILE + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			close(fd);
			free(buf);
			if (err && errlen)
				snprintf(err, errlen, "jwt: cannot read %s: %s", path,
				         strerror(-rc));
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > JWT_MAX_KEY_FILE) {
		free(buf);
		return fail(err, errlen, -E2BIG, "key file larger than 1 MiB");
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

int jwt_keyset_add_pem_file(jwt_keyset *ks, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t n;
	int rc = read_small_file(path, &buf, &n, err, errlen);

	if (rc < 0)
		return rc;
	rc = jwt_keyset_add_pem(ks, buf, n, err, errlen);
	free(buf);
	return rc;
}

/* Decodes the base64url string member name of jwk into a fresh buffer of
 * 1..max bytes. */
static int jwk_bytes(json_t *jwk, const char *name, size_t max, unsigned char **out, size_t *len)
{
	json_t *v = json_object_get(jwk, name);
	const char *s;
	size_t slen;
	long n;

	*out = NULL;
	if (!json_is_string(v))
		return -EBADMSG;
	s = json_string_value(v);
	slen = json_string_length(v);
	if (slen == 0 || slen > (max * 4 + 2) / 3)
		return -EBADMSG;
	n = b64url_decode_alloc(s, slen, out);
	if (n == -2)
		return -ENOMEM;
	if (n <= 0 || (size_t)n > max) {
		free(*out);
		*out = NULL;
		return -EBADMSG;
	}
	*len = (size_t)n;
	return 0;
}

/* Builds a public key of type name ("RSA" or "EC") from params. */
static EVP_PKEY *pkey_from_params(const char *name, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	EVP_PKEY *pkey = NULL;

	if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static int jwk_rsa(json_t *jwk, EVP_PKEY **out)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nlen, elen;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int rc;

	*out = NULL;
	rc = jwk_bytes(jwk, "n", JWT_RSA_MAX_BITS / 8, &n, &nlen);
	if (rc == 0)
		rc = jwk_bytes(jwk, "e", 8, &e, &elen);
	if (rc < 0)
		goto cleanup;
	rc = -ENOMEM;
	bn_n = BN_bin2bn(n, (int)nlen, NULL);
	bn_e = BN_bin2bn(e, (int)elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto cleanup;
	*out = pkey_from_params("RSA", bld);
	rc = *out ? 0 : -EBADMSG;
cleanup:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return rc;
}

static int jwk_ec(json_t *jwk, EVP_PKEY **out)
{
	unsigned char *x = NULL, *y = NULL, point[65];
	size_t xlen = 0, ylen = 0;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY_CTX *check = NULL;
	int rc;

	*out = NULL;
	rc = jwk_bytes(jwk, "x", 32, &x, &xlen);
	if (rc == 0)
		rc = jwk_bytes(jwk, "y", 32, &y, &ylen);
	if (rc == 0 && (xlen != 32 || ylen != 32))
		rc = -EBADMSG;
	if (rc < 0)
		goto cleanup;
	point[0] = 0x04; /* SEC 1 uncompressed point */
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	rc = -ENOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
		goto cleanup;
	*out = pkey_from_params("EC", bld);
	rc = -EBADMSG;
	if (!*out)
		goto cleanup;
	/* A point off the curve would make every later verification meaningless. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
	if (!check || EVP_PKEY_public_check(check) <= 0) {
		EVP_PKEY_free(*out);
		*out = NULL;
		goto cleanup;
	}
	rc = 0;
cleanup:
	EVP_PKEY_CTX_free(check);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return rc;
}

static const char *jwk_optional_string(json_t *jwk, const char *name, bool *bad)
{
	json_t *v = json_object_get(jwk, name);

	if (!v)
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/* Fills k from one JWKS entry. Returns 0, 1 when the key is to be skipped,
 * or a negative errno with err set. */
static int jwk_load(json_t *jwk, jwt_key *k, char *err, size_t errlen)
{
	bool bad = false;
	const char *kty, *use, *kid, *alg, *crv;
	int rc;

	if (!json_is_object(jwk))
		return fail(err, errlen, -EBADMSG, "JWKS key is not an object");
	kty = jwk_optional_string(jwk, "kty", &bad);
	use = jwk_optional_string(jwk, "use", &bad);
	kid = jwk_optional_string(jwk, "kid", &bad);
	alg = jwk_optional_string(jwk, "alg", &bad);
	if (bad || !kty)
		return fail(err, errlen, -EBADMSG, "JWKS key has a bad kty, use, kid or alg");
	if (use && strcmp(use, "sig") != 0)
		return 1;
	if (strcmp(kty, "RSA") == 0)
		k->kind = KEY_RSA;
	else if (strcmp(kty, "EC") == 0)
		k->kind = KEY_EC;
	else if (strcmp(kty, "oct") == 0)
		k->kind = KEY_HMAC;
	else
		return 1;
	if (alg) {
		k->alg = alg_by_name(alg);
		if (!k->alg || k->alg->kind != k->kind)
			return 1;
	}
	if (kid && strlen(kid) > JWT_KID_MAX)
		return fail(err, errlen, -EBADMSG, "JWKS kid too long");

	if (k->kind == KEY_EC) {
		crv = jwk_optional_string(jwk, "crv", &bad);
		if (bad || !crv)
			return fail(err, errlen, -EBADMSG, "JWKS EC key without crv");
		if (strcmp(crv, "P-256") != 0)
			return 1;
		rc = jwk_ec(jwk, &k->pkey);
	} else if (k->kind == KEY_RSA) {
		rc = jwk_rsa(jwk, &k->pkey);
		if (rc == 0) {
			enum key_kind kind;
			rc = pkey_kind(k->pkey, &kind, err, errlen);
			if (rc < 0)
				return rc;
		}
	} else {
		unsigned char *secret;
		size_t len;
		rc = jwk_bytes(jwk, "k", JWT_MAX_KEY_FILE, &secret, &len);
		if (rc == 0) {
			rc = hmac_key_init(k, secret, len, err, errlen);
			OPENSSL_cleanse(secret, len);
			free(secret);
			if (rc < 0)
				return rc;
		}
	}
	if (rc == -ENOMEM)
		return fail(err, errlen, rc, "out of memory");
	if (rc < 0)
		return fail(err, errlen, rc, "JWKS key has malformed parameters");
	if (kid) {
		k->kid = strdup(kid);
		if (!k->kid)
			return fail(err, errlen, -ENOMEM, "out of memory");
	}
	return 0;
}

int jwt_keyset_add_jwks(jwt_keyset *ks, const char *json, size_t len, char *err, size_t errlen)
{
	jwt_key fresh[JWT_MAX_KEYS];
	size_t nfresh = 0, i;
	json_t *doc, *keys;
	int rc = 0;

	if (!ks || !json)
		return fail(err, errlen, -EINVAL, "invalid argument");
	if (len > JWT_MAX_KEY_FILE)
		return fail(err, errlen, -E2BIG, "JWKS too large");
	doc = parse_object((const unsigned char *)json, len);
	if (!doc)
		return fail(err, errlen, -EBADMSG, "JWKS is not a valid JSON object");
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		json_decref(doc);
		return fail(err, errlen, -EBADMSG, "JWKS has no keys array");
	}
	memset(fresh, 0, sizeof(fresh));
	ERR_set_mark();
	for (i = 0; i < json_array_size(keys); i++) {
		if (ks->n + nfresh >= JWT_MAX_KEYS) {
			rc = fail(err, errlen, -EINVAL, "too many keys");
			break;
		}
		rc = jwk_load(json_array_get(keys, i), &fresh[nfresh], err, errlen);
		if (rc < 0)
			break;
		if (rc == 1) {
			key_clear(&fresh[nfresh]);
			rc = 0;
			continue;
		}
		nfresh++;
	}
	ERR_pop_to_mark();
	json_decref(doc);
	if (rc < 0) {
		/* The failing entry may hold partial state too. */
		for (i = 0; i <= nfresh && i < JWT_MAX_KEYS; i++)
			key_clear(&fresh[i]);
		return rc;
	}
	for (i = 0; i < nfresh; i++)
		ks->keys[ks->n++] = fresh[i];
	return 0;
}

int jwt_keyset_add_jwks_file(jwt_keyset *ks, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t n;
	int rc = read_small_file(path, &buf, &n, err, errlen);

	if (rc < 0)
		return rc;
	rc = jwt_keyset_add_jwks(ks, buf, n, err, errlen);
	free(buf);
	return rc;
}

/* ---- signature checks (OpenSSL) ---------------------------------------- */

static bool verify_hmac(const jwt_key *k, const jwt_alg *alg, const char *input, size_t inlen,
                        const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;

	if (siglen != alg->hash_len)
		return false;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, alg->md_name, NULL, k->secret, k->secret_len,
	               (const unsigned char *)input, inlen, mac, sizeof(mac), &maclen))
		return false;
	return maclen == siglen && CRYPTO_memcmp(mac, sig, siglen) == 0;
}

static bool verify_digest(EVP_PKEY *pkey, const jwt_alg *alg, const char *input, size_t inlen,
                          const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	bool ok = false;

	if (mctx &&
	    EVP_DigestVerifyInit_ex(mctx, &pctx, alg->md_name, NULL, NULL, pkey, NULL) > 0 &&
	    (alg->kind != KEY_RSA || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0))
		ok = EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *)input, inlen) == 1;
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* JWS ES256 signatures are r || s, 32 bytes each (RFC 7518 3.4); OpenSSL
 * wants the DER ECDSA-Sig-Value, so the pair is re-encoded first. */
static bool verify_es256(const jwt_key *k, const jwt_alg *alg, const char *input, size_t inlen,
                         const unsigned char *sig, size_t siglen)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int derlen;
	bool ok = false;

	if (siglen != 64)
		return false;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return false;
	}
	derlen = i2d_ECDSA_SIG(es, &der);
	if (derlen > 0)
		ok = verify_digest(k->pkey, alg, input, inlen, der, (size_t)derlen);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

static bool key_verifies(const jwt_key *k, const jwt_alg *alg, const char *input, size_t inlen,
                         const unsigned char *sig, size_t siglen)
{
	switch (alg->kind) {
	case KEY_HMAC:
		return verify_hmac(k, alg, input, inlen, sig, siglen);
	case KEY_RSA:
		return verify_digest(k->pkey, alg, input, inlen, sig, siglen);
	case KEY_EC:
		return verify_es256(k, alg, input, inlen, sig, siglen);
	}
	return false;
}

/* A key may verify alg when the family matches, its own alg (if any) is the
 * same, and an HMAC secret is at least as long as the hash. */
static bool key_fits(const jwt_key *k, const jwt_alg *alg)
{
	if (k->kind != alg->kind || (k->alg && k->alg != alg))
		return false;
	return k->kind != KEY_HMAC || k->secret_len >= alg->hash_len;
}

/* Tries the keys the header allows. See jwt_verify in jwt.h for the rule. */
static int check_signature(const jwt_keyset *ks, const jwt_alg *alg, const char *kid,
                           const char *input, size_t inlen, const unsigned char *sig, size_t siglen,
                           char *err, size_t errlen)
{
	bool kid_known = false, tried = false;

	for (size_t i = 0; kid && i < ks->n; i++)
		if (ks->keys[i].kid && strcmp(ks->keys[i].kid, kid) == 0)
			kid_known = true;
	for (size_t i = 0; i < ks->n; i++) {
		const jwt_key *k = &ks->keys[i];
		bool selected = kid_known ? k->kid && strcmp(k->kid, kid) == 0 : !kid || !k->kid;
		if (!selected || !key_fits(k, alg))
			continue;
		tried = true;
		if (key_verifies(k, alg, input, inlen, sig, siglen))
			return 0;
	}
	if (tried)
		return fail(err, errlen, -EKEYREJECTED, "bad signature");
	if (kid_known)
		return fail(err, errlen, -ENOKEY, "key id does not match alg");
	if (kid)
		return fail(err, errlen, -ENOKEY, "unknown key id");
	return fail(err, errlen, -ENOKEY, "no key for alg");
}

/* ---- claims ------------------------------------------------------------ */

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* Reads a NumericDate claim. Returns 1 when present, 0 when absent, -1 when
 * not a number. Fractions are dropped (floor). */
static int numeric_date(json_t *claims, const char *name, int64_t *v)
{
	json_t *j = json_object_get(claims, name);
	double d;

	if (!j)
		return 0;
	if (json_is_integer(j)) {
		*v = (int64_t)json_integer_value(j);
		return 1;
	}
	if (!json_is_real(j))
		return -1;
	d = json_real_value(j);
	if (!(d > -1e15 && d < 1e15))
		return -1;
	*v = (int64_t)floor(d);
	return 1;
}

static bool audience_matches(json_t *aud, const char *want)
{
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (json_is_array(aud))
		for (size_t i = 0; i < json_array_size(aud); i++) {
			json_t *a = json_array_get(aud, i);
			if (json_is_string(a) && strcmp(json_string_value(a), want) == 0)
				return true;
		}
	return false;
}

static unsigned scope_word(const char *w, size_t n, const char *prefix)
{
	size_t plen = strlen(prefix);

	if (n <= plen || memcmp(w, prefix, plen) != 0)
		return 0;
	w += plen;
	n -= plen;
	if (n == 4 && memcmp(w, "read", 4) == 0)
		return JWT_PERM_READ;
	if (n == 5 && memcmp(w, "write", 5) == 0)
		return JWT_PERM_WRITE;
	if (n == 5 && memcmp(w, "admin", 5) == 0)
		return JWT_PERM_ADMIN;
	return 0;
}

/* Scope as a space-separated string (RFC 8693 "scope") or as an array of
 * strings (as some providers send "scp"). Unknown words are ignored. */
static int scope_perms(json_t *v, const char *prefix, unsigned *perms)
{
	*perms = 0;
	if (!v)
		return 0;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v), i = 0;
		while (i < n) {
			size_t start;
			while (i < n && s[i] == ' ')
				i++;
			start = i;
			while (i < n && s[i] != ' ')
				i++;
			*perms |= scope_word(s + start, i - start, prefix);
		}
		return 0;
	}
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *w = json_array_get(v, i);
			if (!json_is_string(w))
				return -1;
			*perms |= scope_word(json_string_value(w), json_string_length(w), prefix);
		}
		return 0;
	}
	return -1;
}

static int check_claims(json_t *claims, const jwt_policy *pol, int64_t now_s, jwt_claims *out,
                        char *err, size_t errlen)
{
	int64_t leeway = pol->leeway_s < 0                ? 0
	                 : pol->leeway_s > JWT_LEEWAY_MAX ? JWT_LEEWAY_MAX
	                                                  : pol->leeway_s;
	int64_t exp = 0, nbf = 0;
	int has;
	json_t *v;

	has = numeric_date(claims, "exp", &exp);
	if (has < 0)
		return fail(err, errlen, -EBADMSG, "exp is not a number");
	if (has == 0 && pol->require_exp)
		return fail(err, errlen, -EACCES, "token has no exp");
	if (has && sat_add(now_s, -leeway) >= exp)
		return fail(err, errlen, -EKEYEXPIRED, "expired");
	out->has_exp = has == 1;
	out->exp = has ? exp : 0;

	has = numeric_date(claims, "nbf", &nbf);
	if (has < 0)
		return fail(err, errlen, -EBADMSG, "nbf is not a number");
	if (has && sat_add(now_s, leeway) < nbf)
		return fail(err, errlen, -EACCES, "token not yet valid");

	if (pol->issuer) {
		v = json_object_get(claims, "iss");
		if (!json_is_string(v) || strcmp(json_string_value(v), pol->issuer) != 0)
			return fail(err, errlen, -EACCES, "wrong issuer");
	}
	if (pol->audience && !audience_matches(json_object_get(claims, "aud"), pol->audience))
		return fail(err, errlen, -EACCES, "wrong audience");

	v = json_object_get(claims, "sub");
	if (v) {
		const char *s;
		size_t n;
		if (!json_is_string(v) || json_string_length(v) > JWT_SUBJECT_MAX)
			return fail(err, errlen, -EACCES, "bad subject");
		s = json_string_value(v);
		n = json_string_length(v);
		/* The subject ends up in logs: no control bytes. */
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return fail(err, errlen, -EACCES, "bad subject");
		memcpy(out->subject, s, n);
		out->subject[n] = '\0';
	}

	if (scope_perms(json_object_get(claims, pol->scope_claim ? pol->scope_claim : "scope"),
	                pol->scope_prefix ? pol->scope_prefix : "minidb:", &out->perms) < 0)
		return fail(err, errlen, -EBADMSG, "scope claim is not a string or string array");
	return 0;
}

/* ---- verification ------------------------------------------------------ */

void jwt_policy_init(jwt_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->scope_claim = "scope";
	pol->scope_prefix = "minidb:";
	pol->leeway_s = 30;
	pol->require_exp = true;
	pol->max_token_len = JWT_MAX_TOKEN_DEFAULT;
}

/* Parses the protected header: returns the algorithm and (borrowed from
 * header) the kid, or a negative errno. */
static int parse_header(json_t *header, const jwt_alg **alg, const char **kid, char *err,
                        size_t errlen)
{
	json_t *a = json_object_get(header, "alg"), *k = json_object_get(header, "kid");

	if (!json_is_string(a))
		return fail(err, errlen, -EBADMSG, "header has no alg");
	if (strcasecmp(json_string_value(a), "none") == 0)
		return fail(err, errlen, -ENOTSUP, "alg none is not accepted");
	*alg = alg_by_name(json_string_value(a));
	if (!*alg)
		return fail(err, errlen, -ENOTSUP, "unsupported alg");
	/* RFC 7515 4.1.11: critical extensions we do not understand must fail,
	 * and we understand none (b64:false among them). */
	if (json_object_get(header, "crit"))
		return fail(err, errlen, -ENOTSUP, "crit header is not supported");
	*kid = NULL;
	if (k) {
		if (!json_is_string(k) || json_string_length(k) > JWT_KID_MAX)
			return fail(err, errlen, -EBADMSG, "bad kid");
		*kid = json_string_value(k);
	}
	return 0;
}

int jwt_verify(const jwt_keyset *ks, const jwt_policy *pol, const char *token, size_t len,
               int64_t now_s, jwt_claims *out, char *err, size_t errlen)
{
	size_t max, dot1 = 0, dot2 = 0, dots = 0;
	unsigned char *hbuf = NULL, *pbuf = NULL, *sbuf = NULL;
	json_t *header = NULL, *claims = NULL;
	const jwt_alg *alg = NULL;
	const char *kid = NULL;
	long hlen, plen, slen;
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!ks || !pol || !out || (!token && len))
		return fail(err, errlen, -EINVAL, "invalid argument");
	max = pol->max_token_len ? pol->max_token_len : JWT_MAX_TOKEN_DEFAULT;
	if (len > max)
		return fail(err, errlen, -E2BIG, "token too long");
	for (size_t i = 0; i < len; i++) {
		if (token[i] == '.') {
			if (++dots == 1)
				dot1 = i;
			else if (dots == 2)
				dot2 = i;
		} else if (ascii_b64_value((unsigned char)token[i], true) < 0) {
			return fail(err, errlen, -EBADMSG, "token is not base64url");
		}
	}
	if (dots != 2 || dot1 == 0 || dot2 == dot1 + 1)
		return fail(err, errlen, -EBADMSG, "token is not a compact JWS (three parts)");

	ERR_set_mark();
	rc = fail(err, errlen, -ENOMEM, "out of memory");
	hlen = b64url_decode_alloc(token, dot1, &hbuf);
	plen = b64url_decode_alloc(token + dot1 + 1, dot2 - dot1 - 1, &pbuf);
	slen = b64url_decode_alloc(token + dot2 + 1, len - dot2 - 1, &sbuf);
	if (hlen == -2 || plen == -2 || slen == -2)
		goto cleanup;
	rc = fail(err, errlen, -EBADMSG, "token is not base64url");
	if (hlen < 0 || plen < 0 || slen < 0)
		goto cleanup;
	header = parse_object(hbuf, (size_t)hlen);
	rc = fail(err, errlen, -EBADMSG, "header is not a JSON object");
	if (!header)
		goto cleanup;
	rc = parse_header(header, &alg, &kid, err, errlen);
	if (rc < 0)
		goto cleanup;
	rc = check_signature(ks, alg, kid, token, dot2, sbuf, (size_t)slen, err, errlen);
	if (rc < 0)
		goto cleanup;
	claims = parse_object(pbuf, (size_t)plen);
	rc = fail(err, errlen, -EBADMSG, "claims are not a JSON object");
	if (!claims)
		goto cleanup;
	rc = check_claims(claims, pol, now_s, out, err, errlen);
	if (rc == 0 && err && errlen)
		err[0] = '\0';
cleanup:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	ERR_pop_to_mark();
	json_decref(header);
	json_decref(claims);
	free(hbuf);
	free(pbuf);
	free(sbuf);
	return rc;
}
