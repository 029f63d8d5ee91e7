/* jwt_sign.h - a test-only JWT signer over OpenSSL's EVP API: compact JWS
 * tokens signed HS256, RS256 or ES256 (the raw 64-byte r || s form JWS uses,
 * not OpenSSL's DER), an `alg: none` token, a token whose payload was swapped
 * after signing, and the PEM and JWK forms of public keys for the server's
 * key files.
 *
 * Hand-written because it must also build what a JWT library refuses to
 * (alg none, tampered payloads), and it is a few calls over EVP. Header-only
 * (everything static) because the build compiles each tests/integration/
 * test_*.c with the harness alone: include it once per test binary. Plain
 * helpers, like the harness's: they return NULL on failure and never call
 * into cmocka, so they are safe on any thread.
 */
#ifndef MINIDB_TEST_JWT_SIGN_H
#define MINIDB_TEST_JWT_SIGN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

typedef enum {
	JWT_SIGN_NONE,  /* alg "none", empty signature part */
	JWT_SIGN_HS256, /* HMAC-SHA256 with a secret */
	JWT_SIGN_RS256, /* RSASSA-PKCS1-v1_5 SHA-256 with an RSA private key */
	JWT_SIGN_ES256, /* ECDSA P-256 SHA-256 with an EC private key */
} jwt_sign_alg;

static inline const char *jwt_sign_alg_name(jwt_sign_alg alg)
{
	switch (alg) {
	case JWT_SIGN_HS256:
		return "HS256";
	case JWT_SIGN_RS256:
		return "RS256";
	case JWT_SIGN_ES256:
		return "ES256";
	default:
		return "none";
	}
}

/* n bytes as base64url without padding into out (n / 3 * 4 + 4 bytes with
 * the NUL); returns the length written. */
static inline size_t jwt_sign_b64url_to(const void *data, size_t n, char *out)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *in = data;
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* The same, malloc'd; NULL when out of memory. */
static inline char *jwt_sign_b64url(const void *data, size_t n)
{
	char *out = malloc(n / 3 * 4 + 5);
	if (out != NULL)
		jwt_sign_b64url_to(data, n, out);
	return out;
}

/* Signs the n bytes of input into sig (JWT_SIGN_SIG_MAX bytes). Returns the
 * signature's length, 0 for JWT_SIGN_NONE, -1 on failure. ES256 comes out of
 * OpenSSL as a DER ECDSA-Sig-Value and is converted to r || s, 32 bytes each
 * (RFC 7518 section 3.4). */
#define JWT_SIGN_SIG_MAX 1024
static inline long jwt_sign_bytes(jwt_sign_alg alg, EVP_PKEY *key, const void *secret,
                                  size_t secret_len, const char *input, size_t n,
                                  unsigned char *sig)
{
	size_t len = JWT_SIGN_SIG_MAX;
	if (alg == JWT_SIGN_NONE)
		return 0;
	if (alg == JWT_SIGN_HS256)
		return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, secret_len,
		                 (const unsigned char *)input, n, sig, JWT_SIGN_SIG_MAX,
		                 &len) != NULL
		               ? (long)len
		               : -1;
	unsigned char der[512];
	unsigned char *out = alg == JWT_SIGN_ES256 ? der : sig;
	if (alg == JWT_SIGN_ES256)
		len = sizeof der;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok = mctx != NULL &&
	         EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key, NULL) == 1 &&
	         EVP_DigestSign(mctx, out, &len, (const unsigned char *)input, n) == 1;
	EVP_MD_CTX_free(mctx);
	if (!ok)
		return -1;
	if (alg != JWT_SIGN_ES256)
		return (long)len;
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	if (es == NULL)
		return -1;
	ECDSA_SIG_get0(es, &r, &s);
	ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
	ECDSA_SIG_free(es);
	return ok ? 64 : -1;
}

/* A compact JWS of claims (a JSON object) under the header
 * {"alg":...,"typ":"JWT"} plus "kid" when kid is not NULL: key signs RS256
 * and ES256, secret HS256; JWT_SIGN_NONE leaves the signature part empty.
 * malloc'd, NULL on failure. */
static inline char *jwt_sign_token(jwt_sign_alg alg, const char *kid, const char *claims,
                                   EVP_PKEY *key, const void *secret, size_t secret_len)
{
	char header[256];
	unsigned char sig[JWT_SIGN_SIG_MAX];
	char *h = NULL, *p = NULL, *input = NULL, *s = NULL, *tok = NULL;
	if (kid != NULL)
		snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		         jwt_sign_alg_name(alg), kid);
	else
		snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}",
		         jwt_sign_alg_name(alg));
	h = jwt_sign_b64url(header, strlen(header));
	p = jwt_sign_b64url(claims, strlen(claims));
	if (h == NULL || p == NULL || asprintf(&input, "%s.%s", h, p) < 0) {
		input = NULL;
		goto out;
	}
	long sn = jwt_sign_bytes(alg, key, secret, secret_len, input, strlen(input), sig);
	if (sn < 0)
		goto out;
	s = sn > 0 ? jwt_sign_b64url(sig, (size_t)sn) : strdup("");
	if (s != NULL) {
		/* malloc and snprintf, not asprintf(&tok): gcc 12's
		 * -Wdangling-pointer takes the result for a pointer to tok. */
		size_t n = strlen(input) + strlen(s) + 2;
		tok = malloc(n);
		if (tok != NULL)
			snprintf(tok, n, "%s.%s", input, s);
	}
out:
	free(h);
	free(p);
	free(input);
	free(s);
	return tok;
}

/* token with its payload replaced by claims, header and signature kept: a
 * forgery whose signature no longer matches. malloc'd, NULL on failure. */
static inline char *jwt_sign_tamper(const char *token, const char *claims)
{
	const char *d1 = strchr(token, '.');
	const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
	char *p, *tok;
	if (d2 == NULL || (p = jwt_sign_b64url(claims, strlen(claims))) == NULL)
		return NULL;
	size_t n = (size_t)(d1 - token) + strlen(p) + strlen(d2) + 2;
	tok = malloc(n);
	if (tok != NULL)
		snprintf(tok, n, "%.*s.%s%s", (int)(d1 - token), token, p, d2);
	free(p);
	return tok;
}

/* The SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") of key: malloc'd, NULL
 * on failure. */
static inline char *jwt_sign_pem_public(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *copy = NULL;
	if (bio != NULL && PEM_write_bio_PUBKEY(bio, key) == 1) {
		long n = BIO_get_mem_data(bio, &data);
		copy = n > 0 ? strndup(data, (size_t)n) : NULL;
	}
	BIO_free(bio);
	return copy;
}

/* A big-number parameter of key in base64url of its big-endian bytes, pad
 * bytes wide (0: minimal). malloc'd, NULL on failure. */
static inline char *jwt_sign_b64url_param(EVP_PKEY *key, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char bytes[1024];
	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
		return NULL;
	int n = -1;
	if (BN_num_bytes(bn) <= (int)sizeof bytes && pad <= (int)sizeof bytes)
		n = pad > 0 ? BN_bn2binpad(bn, bytes, pad) : BN_bn2bin(bn, bytes);
	BN_free(bn);
	return n > 0 ? jwt_sign_b64url(bytes, (size_t)n) : NULL;
}

/* A JWK (RFC 7517) of an EC P-256 or RSA public key, with kid, "use":"sig"
 * and the alg it verifies: malloc'd, NULL on failure. */
static inline char *jwt_sign_jwk(EVP_PKEY *key, const char *kid)
{
	int ec = EVP_PKEY_is_a(key, "EC");
	char *a = jwt_sign_b64url_param(key, ec ? OSSL_PKEY_PARAM_EC_PUB_X : OSSL_PKEY_PARAM_RSA_N,
	                                ec ? 32 : 0);
	char *b = jwt_sign_b64url_param(key, ec ? OSSL_PKEY_PARAM_EC_PUB_Y : OSSL_PKEY_PARAM_RSA_E,
	                                ec ? 32 : 0);
	char *j = NULL;
	if (a != NULL && b != NULL &&
	    asprintf(&j,
	             ec ? "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"sig\",\"alg\":\"ES256\","
	                  "\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}"
	                : "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\","
	                  "\"n\":\"%s\",\"e\":\"%s\"}",
	             kid, a, b) < 0)
		j = NULL;
	free(a);
	free(b);
	return j;
}

#endif
