/* Unit tests for JWT verification (src/jwt.c). Keys are generated at test
 * time with OpenSSL (RSA 2048, EC P-256, a random HMAC secret) and tokens are
 * signed here with OpenSSL's EVP APIs, so no key material is committed.
 * Covers valid HS/RS/ES tokens, every claim check, algorithm confusion
 * (alg none, HS against RSA keys, HMAC keyed with the public PEM), kid
 * selection in a JWKS, and hostile input: malformed parts, duplicate keys,
 * deep nesting, oversized tokens and every truncation of a valid token.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "../integration/jwt_sign.h"
#include "jwt.h"

#define NOW INT64_C(1700000000)

/* Test keys, generated once by the group setup. */
static EVP_PKEY *rsa1, *rsa2, *ec1;
static unsigned char hs_secret[32];
static char *rsa1_pem, *rsa2_pem, *ec1_pem;

enum sign_kind { SIGN_NONE, SIGN_HMAC, SIGN_RSA, SIGN_EC };

typedef struct signer {
	enum sign_kind kind;
	const char *md; /* "SHA256", ... */
	EVP_PKEY *pkey;
	const unsigned char *secret;
	size_t secret_len;
} signer;

static size_t sign_bytes(const signer *sg, const char *in, size_t n, unsigned char *sig)
{
	size_t len = 1024;

	if (sg->kind == SIGN_HMAC) {
		assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, sg->md, NULL, sg->secret,
		                          sg->secret_len, (const unsigned char *)in, n, sig, 1024,
		                          &len));
		return len;
	}
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char der[256];
	unsigned char *out = sg->kind == SIGN_EC ? der : sig;
	if (sg->kind == SIGN_EC)
		len = sizeof(der);
	assert_non_null(mctx);
	assert_int_equal(EVP_DigestSignInit_ex(mctx, NULL, sg->md, NULL, NULL, sg->pkey, NULL), 1);
	assert_int_equal(EVP_DigestSign(mctx, out, &len, (const unsigned char *)in, n), 1);
	EVP_MD_CTX_free(mctx);
	if (sg->kind != SIGN_EC)
		return len;
	/* DER ECDSA-Sig-Value to the JWS r || s form. */
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &s);
	assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
	assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
	ECDSA_SIG_free(es);
	return 64;
}

/* Returns a malloc'd compact JWS of header and payload signed by sg (no
 * signature part contents for SIGN_NONE). */
static char *make_token(const char *header, const char *payload, const signer *sg)
{
	size_t hn = strlen(header), pn = strlen(payload);
	char *tok = malloc((hn + pn) * 2 + 2048);
	unsigned char sig[1024];
	size_t n, sn = 0;

	assert_non_null(tok);
	n = jwt_sign_b64url_to((const unsigned char *)header, hn, tok);
	tok[n++] = '.';
	n += jwt_sign_b64url_to((const unsigned char *)payload, pn, tok + n);
	if (sg->kind != SIGN_NONE)
		sn = sign_bytes(sg, tok, n, sig);
	tok[n++] = '.';
	n += jwt_sign_b64url_to(sig, sn, tok + n);
	tok[n] = '\0';
	return tok;
}

static const signer hs256 = {SIGN_HMAC, "SHA256", NULL, hs_secret, sizeof(hs_secret)};

static signer rs(EVP_PKEY *k, const char *md)
{
	return (signer){SIGN_RSA, md, k, NULL, 0};
}

static signer es256(void)
{
	return (signer){SIGN_EC, "SHA256", ec1, NULL, 0};
}

static char *claims_json(int64_t exp, const char *extra)
{
	char *s = malloc(1024);
	assert_non_null(s);
	snprintf(s, 1024,
	         "{\"sub\":\"alice\",\"iss\":\"https://idp.example\",\"aud\":\"minidb\","
	         "\"exp\":%lld,\"iat\":%lld,\"scope\":\"openid minidb:read minidb:write\"%s}",
	         (long long)exp, (long long)NOW - 10, extra ? extra : "");
	return s;
}

static char *pem_of(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *copy;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
	n = BIO_get_mem_data(bio, &data);
	copy = malloc((size_t)n + 1);
	assert_non_null(copy);
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	BIO_free(bio);
	return copy;
}

static int group_setup(void **state)
{
	rsa1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!rsa1 || !rsa2 || !ec1 || RAND_bytes(hs_secret, sizeof(hs_secret)) != 1)
		return -1;
	rsa1_pem = pem_of(rsa1);
	rsa2_pem = pem_of(rsa2);
	ec1_pem = pem_of(ec1);
	return 0;
}

static int group_teardown(void **state)
{
	EVP_PKEY_free(rsa1);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(ec1);
	free(rsa1_pem);
	free(rsa2_pem);
	free(ec1_pem);
	return 0;
}

static jwt_policy default_policy(void)
{
	jwt_policy pol;
	jwt_policy_init(&pol);
	pol.issuer = "https://idp.example";
	pol.audience = "minidb";
	return pol;
}

static jwt_keyset *keyset_hs(void)
{
	char err[128];
	jwt_keyset *ks = jwt_keyset_create();
	assert_non_null(ks);
	assert_int_equal(jwt_keyset_add_hmac(ks, hs_secret, sizeof(hs_secret), err, sizeof(err)),
	                 0);
	return ks;
}

static jwt_keyset *keyset_pem(const char *pem)
{
	char err[128];
	jwt_keyset *ks = jwt_keyset_create();
	assert_non_null(ks);
	assert_int_equal(jwt_keyset_add_pem(ks, pem, strlen(pem), err, sizeof(err)), 0);
	return ks;
}

/* Verifies tok with ks and pol at NOW; returns the code, message in err. */
static int verify(const jwt_keyset *ks, const jwt_policy *pol, const char *tok, jwt_claims *c,
                  char *err, size_t errlen)
{
	return jwt_verify(ks, pol, tok, strlen(tok), NOW, c, err, errlen);
}

static void expect_refused(const jwt_keyset *ks, const jwt_policy *pol, const char *tok, int code,
                           const char *msg)
{
	jwt_claims c;
	char err[128];
	int rc = verify(ks, pol, tok, &c, err, sizeof(err));
	if (rc != code || (msg && strcmp(err, msg) != 0))
		fail_msg("expected %d \"%s\", got %d \"%s\"", code, msg ? msg : "", rc, err);
	assert_int_equal(c.perms, 0);
	assert_string_equal(c.subject, "");
}

static void test_valid_hs256_token_grants_scoped_permissions_and_subject(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *payload = claims_json(NOW + 600, NULL);
	char *tok = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, &hs256);
	jwt_claims c;
	char err[128];

	assert_int_equal(verify(ks, &pol, tok, &c, err, sizeof(err)), 0);
	assert_string_equal(c.subject, "alice");
	assert_int_equal(c.perms, JWT_PERM_READ | JWT_PERM_WRITE);
	assert_true(c.has_exp);
	assert_true(c.exp == NOW + 600);
	assert_int_equal(jwt_keyset_count(ks), 1);
	free(tok);
	free(payload);
	jwt_keyset_free(ks);
}

static void test_valid_rs256_rs384_rs512_tokens_from_a_pem_key_are_accepted(void **state)
{
	jwt_keyset *ks = keyset_pem(rsa1_pem);
	jwt_policy pol = default_policy();
	const char *algs[][2] = {{"RS256", "SHA256"}, {"RS384", "SHA384"}, {"RS512", "SHA512"}};
	char *payload =
	        strdup("{\"sub\":\"svc\",\"iss\":\"https://idp.example\",\"aud\":\"minidb\","
	               "\"exp\":1700000600,\"scope\":\"minidb:admin\"}");
	for (size_t i = 0; i < 3; i++) {
		char header[64];
		signer sg = rs(rsa1, algs[i][1]);
		jwt_claims c;
		char err[128];
		snprintf(header, sizeof(header), "{\"alg\":\"%s\"}", algs[i][0]);
		char *tok = make_token(header, payload, &sg);
		assert_int_equal(verify(ks, &pol, tok, &c, err, sizeof(err)), 0);
		assert_int_equal(c.perms, JWT_PERM_ADMIN);
		assert_string_equal(c.subject, "svc");
		free(tok);
	}
	free(payload);
	jwt_keyset_free(ks);
}

static void test_valid_es256_token_from_a_pem_key_is_accepted(void **state)
{
	jwt_keyset *ks = keyset_pem(ec1_pem);
	jwt_policy pol = default_policy();
	char *payload = claims_json(NOW + 60, NULL);
	signer sg = es256();
	jwt_claims c;
	char err[128];

	/* ECDSA signatures are randomized: sign several times. */
	for (int i = 0; i < 8; i++) {
		char *tok = make_token("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", payload, &sg);
		assert_int_equal(verify(ks, &pol, tok, &c, err, sizeof(err)), 0);
		assert_int_equal(c.perms, JWT_PERM_READ | JWT_PERM_WRITE);
		free(tok);
	}
	free(payload);
	jwt_keyset_free(ks);
}

static void test_expired_token_is_refused_after_the_leeway(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *p1 = claims_json(NOW - 10, NULL), *p2 = claims_json(NOW - 31, NULL);
	char *t1 = make_token("{\"alg\":\"HS256\"}", p1, &hs256);
	char *t2 = make_token("{\"alg\":\"HS256\"}", p2, &hs256);
	jwt_claims c;
	char err[128];

	assert_int_equal(verify(ks, &pol, t1, &c, err, sizeof(err)), 0); /* within 30 s */
	expect_refused(ks, &pol, t2, -EKEYEXPIRED, "jwt: expired");
	pol.leeway_s = 0;
	expect_refused(ks, &pol, t1, -EKEYEXPIRED, "jwt: expired");
	free(t1);
	free(t2);
	free(p1);
	free(p2);
	jwt_keyset_free(ks);
}

static void test_not_yet_valid_token_is_refused(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, ",\"nbf\":1700000100");
	char *tok = make_token("{\"alg\":\"HS256\"}", p, &hs256);
	jwt_claims c;
	char err[128];

	expect_refused(ks, &pol, tok, -EACCES, "jwt: token not yet valid");
	assert_int_equal(jwt_verify(ks, &pol, tok, strlen(tok), NOW + 100, &c, err, sizeof(err)),
	                 0);
	free(tok);
	free(p);
	jwt_keyset_free(ks);
}

static void test_token_without_exp_is_refused_unless_the_policy_allows_it(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *tok = make_token("{\"alg\":\"HS256\"}",
	                       "{\"sub\":\"x\",\"iss\":\"https://idp.example\",\"aud\":\"minidb\"}",
	                       &hs256);
	char *bad = make_token("{\"alg\":\"HS256\"}", "{\"exp\":\"tomorrow\"}", &hs256);
	jwt_claims c;
	char err[128];

	expect_refused(ks, &pol, tok, -EACCES, "jwt: token has no exp");
	pol.require_exp = false;
	assert_int_equal(verify(ks, &pol, tok, &c, err, sizeof(err)), 0);
	assert_false(c.has_exp);
	assert_int_equal(c.perms, 0);
	expect_refused(ks, &pol, bad, -EBADMSG, "jwt: exp is not a number");
	free(tok);
	free(bad);
	jwt_keyset_free(ks);
}

static void test_wrong_issuer_is_refused(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	char *tok = make_token("{\"alg\":\"HS256\"}", p, &hs256);

	pol.issuer = "https://evil.example";
	expect_refused(ks, &pol, tok, -EACCES, "jwt: wrong issuer");
	free(tok);
	free(p);
	jwt_keyset_free(ks);
}

static void test_wrong_audience_is_refused_in_string_and_array_forms(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	const char *s_other = "{\"aud\":\"other\",\"exp\":1700000600}";
	const char *a_other = "{\"aud\":[\"a\",\"b\",7],\"exp\":1700000600}";
	const char *a_ok = "{\"aud\":[\"a\",\"minidb\"],\"exp\":1700000600}";
	const char *none = "{\"exp\":1700000600}";
	char *t1 = make_token("{\"alg\":\"HS256\"}", s_other, &hs256);
	char *t2 = make_token("{\"alg\":\"HS256\"}", a_other, &hs256);
	char *t3 = make_token("{\"alg\":\"HS256\"}", a_ok, &hs256);
	char *t4 = make_token("{\"alg\":\"HS256\"}", none, &hs256);
	jwt_claims c;
	char err[128];

	pol.issuer = NULL;
	expect_refused(ks, &pol, t1, -EACCES, "jwt: wrong audience");
	expect_refused(ks, &pol, t2, -EACCES, "jwt: wrong audience");
	expect_refused(ks, &pol, t4, -EACCES, "jwt: wrong audience");
	assert_int_equal(verify(ks, &pol, t3, &c, err, sizeof(err)), 0);
	pol.audience = NULL;
	assert_int_equal(verify(ks, &pol, t1, &c, err, sizeof(err)), 0);
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	jwt_keyset_free(ks);
}

/* Flips bit `bit` of the decoded signature of tok and re-encodes it. */
static char *flip_signature_bit(const char *tok, const unsigned char *sig, size_t sn, size_t bit)
{
	const char *dot = strrchr(tok, '.');
	size_t head = (size_t)(dot - tok) + 1;
	unsigned char copy[1024];
	char *out = malloc(head + sn * 2 + 8);

	assert_non_null(out);
	memcpy(copy, sig, sn);
	copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	memcpy(out, tok, head);
	jwt_sign_b64url_to(copy, sn, out + head);
	return out;
}

static void check_every_signature_bit(const jwt_keyset *ks, const jwt_policy *pol,
                                      const char *header, const char *payload, const signer *sg,
                                      size_t stride)
{
	char *tok = make_token(header, payload, sg);
	const char *dot = strrchr(tok, '.');
	unsigned char sig[1024];
	size_t sn;
	jwt_claims c;
	char err[128];

	/* Decode the signature with the same routine the test signs with. */
	sn = sign_bytes(sg, tok, (size_t)(dot - tok), sig);
	if (sg->kind == SIGN_EC) {
		/* ECDSA is randomized: re-sign and rebuild the token around sig. */
		free(tok);
		tok = malloc(strlen(header) * 2 + strlen(payload) * 2 + 256);
		size_t n = jwt_sign_b64url_to((const unsigned char *)header, strlen(header), tok);
		tok[n++] = '.';
		n += jwt_sign_b64url_to((const unsigned char *)payload, strlen(payload), tok + n);
		sn = sign_bytes(sg, tok, n, sig);
		tok[n++] = '.';
		jwt_sign_b64url_to(sig, sn, tok + n);
	}
	assert_int_equal(verify(ks, pol, tok, &c, err, sizeof(err)), 0);
	for (size_t bit = 0; bit < sn * 8; bit += stride) {
		char *bad = flip_signature_bit(tok, sig, sn, bit);
		expect_refused(ks, pol, bad, -EKEYREJECTED, "jwt: bad signature");
		free(bad);
	}
	/* One flipped bit in the payload text. */
	char *bad = strdup(tok);
	bad[strchr(bad, '.') - bad + 3] ^= 0x01;
	assert_int_not_equal(verify(ks, pol, bad, &c, err, sizeof(err)), 0);
	free(bad);
	free(tok);
}

static void test_one_flipped_signature_bit_is_refused_for_every_alg(void **state)
{
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	jwt_keyset *hs = keyset_hs(), *rsa = keyset_pem(rsa1_pem), *ec = keyset_pem(ec1_pem);
	signer r = rs(rsa1, "SHA256"), e = es256();

	check_every_signature_bit(hs, &pol, "{\"alg\":\"HS256\"}", p, &hs256, 1);
	check_every_signature_bit(rsa, &pol, "{\"alg\":\"RS256\"}", p, &r, 7);
	check_every_signature_bit(ec, &pol, "{\"alg\":\"ES256\"}", p, &e, 3);
	jwt_keyset_free(hs);
	jwt_keyset_free(rsa);
	jwt_keyset_free(ec);
	free(p);
}

static void test_alg_none_is_refused_with_and_without_a_signature(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	const char *headers[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}"};
	const signer none = {SIGN_NONE, NULL, NULL, NULL, 0};

	for (size_t i = 0; i < 3; i++) {
		char *t1 = make_token(headers[i], p, &none);
		char *t2 = make_token(headers[i], p, &hs256);
		expect_refused(ks, &pol, t1, -ENOTSUP, "jwt: alg none is not accepted");
		expect_refused(ks, &pol, t2, -ENOTSUP, "jwt: alg none is not accepted");
		free(t1);
		free(t2);
	}
	/* An HS256 header with the signature removed. */
	char *t3 = make_token("{\"alg\":\"HS256\"}", p, &none);
	expect_refused(ks, &pol, t3, -EKEYREJECTED, "jwt: bad signature");
	free(t3);
	free(p);
	jwt_keyset_free(ks);
}

static void test_hs_token_is_refused_by_a_public_key_keyset_and_rs_by_a_secret(void **state)
{
	jwt_keyset *rsa = keyset_pem(rsa1_pem), *hs = keyset_hs();
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	signer r = rs(rsa1, "SHA256");
	char *hs_tok = make_token("{\"alg\":\"HS256\"}", p, &hs256);
	char *rs_tok = make_token("{\"alg\":\"RS256\"}", p, &r);
	/* An RS256 header over an HMAC signature, and an ES256 one over RSA. */
	char *mixed = make_token("{\"alg\":\"RS256\"}", p, &hs256);

	expect_refused(rsa, &pol, hs_tok, -ENOKEY, "jwt: no key for alg");
	expect_refused(hs, &pol, rs_tok, -ENOKEY, "jwt: no key for alg");
	expect_refused(rsa, &pol, mixed, -EKEYREJECTED, "jwt: bad signature");
	free(hs_tok);
	free(rs_tok);
	free(mixed);
	free(p);
	jwt_keyset_free(rsa);
	jwt_keyset_free(hs);
}

static void test_hmac_forged_with_the_public_pem_as_secret_is_refused(void **state)
{
	/* The classic confusion attack: the attacker knows the RSA public key
	 * and uses its PEM text (or DER) as an HMAC secret. */
	jwt_keyset *ks = keyset_pem(rsa1_pem);
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	const char *hdrs[] = {"{\"alg\":\"HS256\"}", "{\"alg\":\"HS384\"}", "{\"alg\":\"HS512\"}"};
	const char *mds[] = {"SHA256", "SHA384", "SHA512"};
	char err[128];

	for (size_t i = 0; i < 3; i++) {
		signer forge = {SIGN_HMAC, mds[i], NULL, (const unsigned char *)rsa1_pem,
		                strlen(rsa1_pem)};
		char *tok = make_token(hdrs[i], p, &forge);
		expect_refused(ks, &pol, tok, -ENOKEY, "jwt: no key for alg");
		free(tok);
	}
	/* Same with a keyset that also holds an unrelated secret: still refused. */
	assert_int_equal(jwt_keyset_add_hmac(ks, hs_secret, sizeof(hs_secret), err, sizeof(err)),
	                 0);
	signer forge = {SIGN_HMAC, "SHA256", NULL, (const unsigned char *)rsa1_pem,
	                strlen(rsa1_pem)};
	char *tok = make_token("{\"alg\":\"HS256\"}", p, &forge);
	expect_refused(ks, &pol, tok, -EKEYREJECTED, "jwt: bad signature");
	free(tok);
	free(p);
	jwt_keyset_free(ks);
}

static char *b64_bn(EVP_PKEY *k, const char *param, size_t pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	char *out = malloc(2048);
	int n;

	assert_non_null(out);
	assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
	n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	assert_true(n > 0);
	jwt_sign_b64url_to(buf, (size_t)n, out);
	BN_free(bn);
	return out;
}

static json_t *jwk_rsa(EVP_PKEY *k, const char *kid, const char *alg)
{
	char *n = b64_bn(k, OSSL_PKEY_PARAM_RSA_N, 0), *e = b64_bn(k, OSSL_PKEY_PARAM_RSA_E, 0);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", kid, "n", n, "e", e);
	if (alg)
		json_object_set_new(j, "alg", json_string(alg));
	free(n);
	free(e);
	return j;
}

static json_t *jwk_ec(EVP_PKEY *k, const char *kid)
{
	char *x = b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_X, 32),
	     *y = b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "kid", kid, "crv", "P-256",
	                      "x", x, "y", y, "use", "sig");
	free(x);
	free(y);
	return j;
}

static json_t *jwk_oct(const char *kid)
{
	char k[64];
	jwt_sign_b64url_to(hs_secret, sizeof(hs_secret), k);
	return json_pack("{s:s,s:s,s:s,s:s}", "kty", "oct", "kid", kid, "k", k, "alg", "HS256");
}

static char *jwks_text(json_t *keys)
{
	json_t *doc = json_pack("{s:o}", "keys", keys);
	char *s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_non_null(s);
	return s;
}

static char *standard_jwks(void)
{
	json_t *keys = json_array();
	json_array_append_new(keys, jwk_rsa(rsa1, "r1", "RS256"));
	json_array_append_new(keys, jwk_rsa(rsa2, "r2", NULL));
	json_array_append_new(keys, jwk_ec(ec1, "e1"));
	json_array_append_new(keys, jwk_oct("h1"));
	/* Keys this module cannot use are skipped, not fatal. */
	json_array_append_new(
	        keys, json_pack("{s:s,s:s,s:s}", "kty", "OKP", "crv", "Ed25519", "x", "AAAA"));
	json_array_append_new(keys, json_pack("{s:s,s:s,s:s,s:s}", "kty", "RSA", "use", "enc", "n",
	                                      "AQAB", "e", "AQAB"));
	json_array_append_new(keys, json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "alg", "PS256",
	                                      "kid", "ps", "n", "AQAB", "e", "AQAB"));
	return jwks_text(keys);
}

static void test_jwks_with_several_keys_selects_by_kid(void **state)
{
	char *jwks = standard_jwks();
	jwt_keyset *ks = jwt_keyset_create();
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	signer r1 = rs(rsa1, "SHA256"), r2 = rs(rsa2, "SHA256"), r2_512 = rs(rsa2, "SHA512");
	signer e = es256();
	jwt_claims c;
	char err[128];

	assert_int_equal(jwt_keyset_add_jwks(ks, jwks, strlen(jwks), err, sizeof(err)), 0);
	assert_int_equal(jwt_keyset_count(ks), 4);

	char *t_r2 = make_token("{\"alg\":\"RS256\",\"kid\":\"r2\"}", p, &r2);
	char *t_r1 = make_token("{\"alg\":\"RS256\",\"kid\":\"r1\"}", p, &r1);
	char *t_e1 = make_token("{\"alg\":\"ES256\",\"kid\":\"e1\"}", p, &e);
	char *t_h1 = make_token("{\"alg\":\"HS256\",\"kid\":\"h1\"}", p, &hs256);
	char *t_nokid = make_token("{\"alg\":\"RS256\"}", p, &r2);
	char *t_wrongkid = make_token("{\"alg\":\"RS256\",\"kid\":\"r1\"}", p, &r2);
	char *t_unknown = make_token("{\"alg\":\"RS256\",\"kid\":\"nope\"}", p, &r2);
	char *t_family = make_token("{\"alg\":\"RS256\",\"kid\":\"e1\"}", p, &r2);
	char *t_restricted = make_token("{\"alg\":\"RS512\",\"kid\":\"r1\"}", p, &r2_512);
	char *t_unrestricted = make_token("{\"alg\":\"RS512\",\"kid\":\"r2\"}", p, &r2_512);
	char *t_hmac_kid_of_rsa = make_token("{\"alg\":\"HS256\",\"kid\":\"r1\"}", p, &hs256);

	assert_int_equal(verify(ks, &pol, t_r2, &c, err, sizeof(err)), 0);
	assert_int_equal(verify(ks, &pol, t_r1, &c, err, sizeof(err)), 0);
	assert_int_equal(verify(ks, &pol, t_e1, &c, err, sizeof(err)), 0);
	assert_int_equal(verify(ks, &pol, t_h1, &c, err, sizeof(err)), 0);
	assert_int_equal(verify(ks, &pol, t_nokid, &c, err, sizeof(err)), 0);
	assert_int_equal(verify(ks, &pol, t_unrestricted, &c, err, sizeof(err)), 0);
	expect_refused(ks, &pol, t_wrongkid, -EKEYREJECTED, "jwt: bad signature");
	expect_refused(ks, &pol, t_unknown, -ENOKEY, "jwt: unknown key id");
	expect_refused(ks, &pol, t_family, -ENOKEY, "jwt: key id does not match alg");
	expect_refused(ks, &pol, t_restricted, -ENOKEY, "jwt: key id does not match alg");
	expect_refused(ks, &pol, t_hmac_kid_of_rsa, -ENOKEY, "jwt: key id does not match alg");

	free(t_r2);
	free(t_r1);
	free(t_e1);
	free(t_h1);
	free(t_nokid);
	free(t_wrongkid);
	free(t_unknown);
	free(t_family);
	free(t_restricted);
	free(t_unrestricted);
	free(t_hmac_kid_of_rsa);
	free(p);
	free(jwks);
	jwt_keyset_free(ks);
}

static void expect_jwks_refused(const char *text, int code)
{
	jwt_keyset *ks = jwt_keyset_create();
	char err[128];
	int rc = jwt_keyset_add_jwks(ks, text, strlen(text), err, sizeof(err));
	if (rc != code)
		fail_msg("JWKS %s: expected %d, got %d (%s)", text, code, rc, err);
	assert_int_equal(jwt_keyset_count(ks), 0);
	assert_int_equal(strncmp(err, "jwt: ", 5), 0);
	jwt_keyset_free(ks);
}

static void test_malformed_jwks_is_refused_and_adds_nothing(void **state)
{
	char x[64], y[64];
	unsigned char zeros[32] = {0}, one[32] = {0};

	one[31] = 1;
	jwt_sign_b64url_to(zeros, 32, x);
	jwt_sign_b64url_to(one, 32, y);
	char offcurve[512];
	snprintf(offcurve, sizeof(offcurve),
	         "{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"},"
	         "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", x, y);

	expect_jwks_refused("", -EBADMSG);
	expect_jwks_refused("[]", -EBADMSG);
	expect_jwks_refused("{\"keys\":{}}", -EBADMSG);
	expect_jwks_refused("{\"keys\":[1]}", -EBADMSG);
	expect_jwks_refused("{\"keys\":[{\"kty\":7}]}", -EBADMSG);
	expect_jwks_refused("{\"keys\":[],\"keys\":[]}", -EBADMSG);
	expect_jwks_refused("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"}]}", -EBADMSG);
	expect_jwks_refused("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQ=B\",\"e\":\"AQAB\"}]}",
	                    -EBADMSG);
	/* A 1024-bit-ish modulus is too small. */
	char small[512], n[300];
	unsigned char nb[128];
	memset(nb, 0xc5, sizeof(nb));
	jwt_sign_b64url_to(nb, sizeof(nb), n);
	snprintf(small, sizeof(small), "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
	         n);
	expect_jwks_refused(small, -ENOTSUP);
	expect_jwks_refused(
	        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
	        -EBADMSG);
	expect_jwks_refused(offcurve, -EBADMSG);
	expect_jwks_refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}", -EINVAL);
	expect_jwks_refused("{\"keys\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}", -EBADMSG);
}

static void test_malformed_tokens_are_refused_without_crashing(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	char *good = make_token("{\"alg\":\"HS256\"}", p, &hs256);
	const char *bad[] = {
	        "",
	        ".",
	        "..",
	        "...",
	        "a.b",
	        "a.b.c.d",
	        "eyJ.eyJ.",
	        ".eyJhbGciOiJIUzI1NiJ9.",
	        "eyJhbGciOiJIUzI1NiJ9..",
	        "eyJhbGciOiJIUzI1NiJ9=.e30.",
	        "eyJ hbGc.e30.AA",
	        "eyJhbGciOiJIUzI1NiJ9.e30+.AA",
	        "eyJhbGciOiJIUzI1NiJ9.e30/.AA",
	        "eyJhbGciOiJIUzI1NiJ9.e30.A",  /* length 1 mod 4 */
	        "eyJhbGciOiJIUzI1NiJ9.e31.AA", /* non-zero trailing bits */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		jwt_claims c;
		char err[128];
		int rc = verify(ks, &pol, bad[i], &c, err, sizeof(err));
		if (rc != -EBADMSG && rc != -EKEYREJECTED)
			fail_msg("token %zu: %d %s", i, rc, err);
	}
	/* Headers that decode but are not acceptable. */
	struct {
		const char *header;
		int code;
		const char *msg;
	} hdrs[] = {
	        {"[\"HS256\"]", -EBADMSG, "jwt: header is not a JSON object"},
	        {"{\"alg\":\"HS256\"", -EBADMSG, "jwt: header is not a JSON object"},
	        {"{\"alg\":\"HS256\"} x", -EBADMSG, "jwt: header is not a JSON object"},
	        {"{\"alg\":256}", -EBADMSG, "jwt: header has no alg"},
	        {"{\"typ\":\"JWT\"}", -EBADMSG, "jwt: header has no alg"},
	        {"{\"alg\":\"PS256\"}", -ENOTSUP, "jwt: unsupported alg"},
	        {"{\"alg\":\"hs256\"}", -ENOTSUP, "jwt: unsupported alg"},
	        {"{\"alg\":\"HS256 \"}", -ENOTSUP, "jwt: unsupported alg"},
	        {"{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", -ENOTSUP,
	         "jwt: crit header is not supported"},
	        {"{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}", -ENOTSUP,
	         "jwt: crit header is not supported"},
	        {"{\"alg\":\"HS256\",\"kid\":5}", -EBADMSG, "jwt: bad kid"},
	        {"{\"alg\":\"HS256\",\"x\":\"\\u0000\"}", -EBADMSG,
	         "jwt: header is not a JSON object"},
	        {"{\"alg\":\"HS256\",\"x\":\"\xff\"}", -EBADMSG,
	         "jwt: header is not a JSON object"},
	};
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		char *tok = make_token(hdrs[i].header, p, &hs256);
		expect_refused(ks, &pol, tok, hdrs[i].code, hdrs[i].msg);
		free(tok);
	}
	/* Payloads that are signed correctly but are not acceptable claims. */
	const char *payloads[] = {"[]",
	                          "null",
	                          "{\"exp\":1700000600",
	                          "{\"exp\":1e400}",
	                          "{\"exp\":1700000600,\"scope\":7}",
	                          "{\"exp\":1700000600,\"scope\":[\"minidb:read\",1]}"};
	pol.audience = NULL;
	pol.issuer = NULL;
	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		char *tok = make_token("{\"alg\":\"HS256\"}", payloads[i], &hs256);
		expect_refused(ks, &pol, tok, -EBADMSG, NULL);
		free(tok);
	}
	free(good);
	free(p);
	jwt_keyset_free(ks);
}

static void test_every_truncation_of_a_valid_token_is_refused(void **state)
{
	jwt_keyset *hs = keyset_hs(), *ec = keyset_pem(ec1_pem);
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	signer e = es256();
	char *toks[2] = {make_token("{\"alg\":\"HS256\"}", p, &hs256),
	                 make_token("{\"alg\":\"ES256\"}", p, &e)};
	jwt_keyset *sets[2] = {hs, ec};

	for (size_t t = 0; t < 2; t++) {
		size_t len = strlen(toks[t]);
		for (size_t cut = 0; cut < len; cut++) {
			/* An exact-size heap copy, so ASan sees any read past the end. */
			char *copy = malloc(cut ? cut : 1);
			jwt_claims c;
			char err[128];
			memcpy(copy, toks[t], cut);
			assert_true(jwt_verify(sets[t], &pol, copy, cut, NOW, &c, err,
			                       sizeof(err)) < 0);
			free(copy);
		}
		char *copy = malloc(len);
		jwt_claims c;
		char err[128];
		memcpy(copy, toks[t], len);
		assert_int_equal(jwt_verify(sets[t], &pol, copy, len, NOW, &c, err, sizeof(err)),
		                 0);
		free(copy);
		free(toks[t]);
	}
	free(p);
	jwt_keyset_free(hs);
	jwt_keyset_free(ec);
}

static void test_random_byte_mutations_never_crash_and_never_verify(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	char *tok = make_token("{\"alg\":\"HS256\",\"kid\":\"k\"}", p, &hs256);
	size_t len = strlen(tok);
	uint64_t seed = 0x9e3779b97f4a7c15u; /* fixed: failures reproduce */

	for (int round = 0; round < 3000; round++) {
		char *copy = malloc(len);
		jwt_claims c;
		char err[128];
		memcpy(copy, tok, len);
		for (int m = 0; m < 1 + round % 3; m++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			size_t pos = (size_t)(seed >> 33) % len;
			/* Half the time a base64url character, else any byte. */
			unsigned char b = (unsigned char)(seed >> 17);
			if (seed & 1)
				b = (unsigned char)"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
				                   "vwxyz0123456789-_."[b % 65];
			copy[pos] = (char)b;
		}
		int rc = jwt_verify(ks, &pol, copy, len, NOW, &c, err, sizeof(err));
		if (rc == 0)
			assert_memory_equal(copy, tok, len);
		else
			assert_int_equal(strncmp(err, "jwt: ", 5), 0);
		free(copy);
	}
	free(tok);
	free(p);
	jwt_keyset_free(ks);
}

static void test_too_long_token_is_refused_before_decoding(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	size_t n = JWT_MAX_TOKEN_DEFAULT + 1;
	char *big = malloc(n);
	char *p = claims_json(NOW + 600, NULL);
	char *tok = make_token("{\"alg\":\"HS256\"}", p, &hs256);
	jwt_claims c;
	char err[128];

	/* Not even base64url: the length check comes first. */
	memset(big, '!', n);
	assert_int_equal(jwt_verify(ks, &pol, big, n, NOW, &c, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "jwt: token too long");
	assert_int_equal(jwt_verify(ks, &pol, big, n - 1, NOW, &c, err, sizeof(err)), -EBADMSG);
	pol.max_token_len = strlen(tok) - 1;
	expect_refused(ks, &pol, tok, -E2BIG, "jwt: token too long");
	pol.max_token_len = strlen(tok);
	assert_int_equal(verify(ks, &pol, tok, &c, err, sizeof(err)), 0);
	free(tok);
	free(p);
	free(big);
	jwt_keyset_free(ks);
}

static void test_duplicate_json_keys_and_deep_nesting_are_refused(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	char *dup_scope = claims_json(NOW + 600, ",\"scope\":\"minidb:admin\"");
	char *dup_exp = claims_json(NOW + 600, ",\"exp\":99999999999");
	char *t1 = make_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", p, &hs256);
	char *t2 = make_token("{\"alg\":\"HS256\"}", dup_scope, &hs256);
	char *t3 = make_token("{\"alg\":\"HS256\"}", dup_exp, &hs256);
	char deep[128];
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"alg\":\"HS256\",\"x\":");
	for (int i = 0; i < 20; i++)
		strcat(deep, "[");
	for (int i = 0; i < 20; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	char *t4 = make_token(deep, p, &hs256);

	expect_refused(ks, &pol, t1, -EBADMSG, "jwt: header is not a JSON object");
	expect_refused(ks, &pol, t2, -EBADMSG, "jwt: claims are not a JSON object");
	expect_refused(ks, &pol, t3, -EBADMSG, "jwt: claims are not a JSON object");
	expect_refused(ks, &pol, t4, -EBADMSG, "jwt: header is not a JSON object");
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	free(p);
	free(dup_scope);
	free(dup_exp);
	jwt_keyset_free(ks);
}

static void test_scope_claim_name_prefix_and_array_form_are_configurable(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol;
	char *t1 = make_token("{\"alg\":\"HS256\"}",
	                      "{\"exp\":1700000600,\"scp\":[\"db:read\",\"db:admin\",\"db:\","
	                      "\"db:readx\",\"minidb:write\"]}",
	                      &hs256);
	char *t2 = make_token("{\"alg\":\"HS256\"}",
	                      "{\"exp\":1700000600,\"scope\":\"  minidb:admin   minidb:read  "
	                      "minidb:writer xminidb:write\"}",
	                      &hs256);
	jwt_claims c;
	char err[128];

	jwt_policy_init(&pol);
	pol.scope_claim = "scp";
	pol.scope_prefix = "db:";
	assert_int_equal(verify(ks, &pol, t1, &c, err, sizeof(err)), 0);
	assert_int_equal(c.perms, JWT_PERM_READ | JWT_PERM_ADMIN);
	jwt_policy_init(&pol);
	assert_int_equal(verify(ks, &pol, t2, &c, err, sizeof(err)), 0);
	assert_int_equal(c.perms, JWT_PERM_READ | JWT_PERM_ADMIN);
	free(t1);
	free(t2);
	jwt_keyset_free(ks);
}

static void test_subjects_with_control_bytes_or_too_long_are_refused(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol;
	char payload[600], longsub[300];
	jwt_claims c;
	char err[128];

	jwt_policy_init(&pol);
	memset(longsub, 'a', 256);
	longsub[256] = '\0';
	snprintf(payload, sizeof(payload), "{\"exp\":1700000600,\"sub\":\"%s\"}", longsub);
	char *t1 = make_token("{\"alg\":\"HS256\"}", payload, &hs256);
	longsub[255] = '\0';
	snprintf(payload, sizeof(payload), "{\"exp\":1700000600,\"sub\":\"%s\"}", longsub);
	char *t2 = make_token("{\"alg\":\"HS256\"}", payload, &hs256);
	char *t3 =
	        make_token("{\"alg\":\"HS256\"}", "{\"exp\":1700000600,\"sub\":\"a\\nb\"}", &hs256);
	char *t4 = make_token("{\"alg\":\"HS256\"}", "{\"exp\":1700000600,\"sub\":42}", &hs256);

	expect_refused(ks, &pol, t1, -EACCES, "jwt: bad subject");
	assert_int_equal(verify(ks, &pol, t2, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.subject), 255);
	expect_refused(ks, &pol, t3, -EACCES, "jwt: bad subject");
	expect_refused(ks, &pol, t4, -EACCES, "jwt: bad subject");
	free(t1);
	free(t2);
	free(t3);
	free(t4);
	jwt_keyset_free(ks);
}

static void test_hmac_secrets_shorter_than_the_hash_are_not_used(void **state)
{
	jwt_keyset *ks = jwt_keyset_create();
	jwt_policy pol;
	unsigned char big[64];
	char err[128];
	jwt_claims c;

	jwt_policy_init(&pol);
	assert_int_equal(jwt_keyset_add_hmac(ks, hs_secret, 31, err, sizeof(err)), -EINVAL);
	assert_int_equal(jwt_keyset_add_hmac(ks, hs_secret, 32, err, sizeof(err)), 0);
	signer s512 = {SIGN_HMAC, "SHA512", NULL, hs_secret, 32};
	char *tok = make_token("{\"alg\":\"HS512\"}", "{\"exp\":1700000600}", &s512);
	expect_refused(ks, &pol, tok, -ENOKEY, "jwt: no key for alg");
	free(tok);
	assert_int_equal(RAND_bytes(big, sizeof(big)), 1);
	assert_int_equal(jwt_keyset_add_hmac(ks, big, sizeof(big), err, sizeof(err)), 0);
	signer b512 = {SIGN_HMAC, "SHA512", NULL, big, sizeof(big)};
	tok = make_token("{\"alg\":\"HS512\"}", "{\"exp\":1700000600}", &b512);
	assert_int_equal(verify(ks, &pol, tok, &c, err, sizeof(err)), 0);
	free(tok);
	jwt_keyset_free(ks);
}

static char *write_temp(const char *dir, const char *name, const char *data, size_t n)
{
	char *path = malloc(strlen(dir) + strlen(name) + 2);
	FILE *f;

	sprintf(path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
	return path;
}

static void test_key_files_load_and_are_bounded_in_size(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512];
	char err[256];
	jwt_keyset *ks = jwt_keyset_create();

	snprintf(dir, sizeof(dir), "%s/test_jwt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	char *jwks = standard_jwks();
	char *pem_path = write_temp(dir, "key.pem", ec1_pem, strlen(ec1_pem));
	char *jwks_path = write_temp(dir, "keys.json", jwks, strlen(jwks));
	size_t bign = JWT_MAX_KEY_FILE + 1;
	char *bigdata = malloc(bign);
	memset(bigdata, ' ', bign);
	char *big_path = write_temp(dir, "big.pem", bigdata, bign);
	char *missing = malloc(strlen(dir) + 16);
	sprintf(missing, "%s/missing.pem", dir);

	assert_int_equal(jwt_keyset_add_pem_file(ks, pem_path, err, sizeof(err)), 0);
	assert_int_equal(jwt_keyset_add_jwks_file(ks, jwks_path, err, sizeof(err)), 0);
	assert_int_equal(jwt_keyset_count(ks), 5);
	assert_int_equal(jwt_keyset_add_pem_file(ks, big_path, err, sizeof(err)), -E2BIG);
	assert_int_equal(jwt_keyset_add_jwks_file(ks, big_path, err, sizeof(err)), -E2BIG);
	assert_int_equal(jwt_keyset_add_pem_file(ks, missing, err, sizeof(err)), -ENOENT);
	assert_int_equal(jwt_keyset_add_pem_file(ks, dir, err, sizeof(err)), -EINVAL);
	/* A JWKS file is not a PEM key, nor is a private key a public one. */
	assert_int_equal(jwt_keyset_add_pem_file(ks, jwks_path, err, sizeof(err)), -EBADMSG);
	assert_int_equal(jwt_keyset_count(ks), 5);

	/* The ES256 token verifies through the PEM key (kid-less) and the JWKS. */
	jwt_policy pol = default_policy();
	char *p = claims_json(NOW + 600, NULL);
	signer e = es256();
	char *tok = make_token("{\"alg\":\"ES256\"}", p, &e);
	jwt_claims c;
	assert_int_equal(verify(ks, &pol, tok, &c, err, sizeof(err)), 0);
	free(tok);
	free(p);

	unlink(pem_path);
	unlink(jwks_path);
	unlink(big_path);
	assert_int_equal(rmdir(dir), 0);
	free(pem_path);
	free(jwks_path);
	free(big_path);
	free(missing);
	free(bigdata);
	free(jwks);
	jwt_keyset_free(ks);
}

static void test_keysets_are_bounded_and_refuse_unsupported_keys(void **state)
{
	jwt_keyset *ks = jwt_keyset_create();
	char err[128];
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	char *pem = pem_of(p384);

	assert_int_equal(jwt_keyset_add_pem(ks, pem, strlen(pem), err, sizeof(err)), -ENOTSUP);
	assert_int_equal(jwt_keyset_add_pem(ks, "garbage", 7, err, sizeof(err)), -EBADMSG);
	for (int i = 0; i < JWT_MAX_KEYS; i++)
		assert_int_equal(
		        jwt_keyset_add_hmac(ks, hs_secret, sizeof(hs_secret), err, sizeof(err)), 0);
	assert_int_equal(jwt_keyset_add_hmac(ks, hs_secret, sizeof(hs_secret), err, sizeof(err)),
	                 -EINVAL);
	assert_int_equal(jwt_keyset_add_pem(ks, rsa1_pem, strlen(rsa1_pem), err, sizeof(err)),
	                 -EINVAL);
	free(pem);
	EVP_PKEY_free(p384);
	jwt_keyset_free(ks);
	jwt_keyset_free(NULL);
}

static void test_error_messages_never_contain_the_token_or_the_secret(void **state)
{
	jwt_keyset *ks = keyset_hs();
	jwt_policy pol = default_policy();
	char secret_b64[64];
	const char *payloads[] = {"{\"exp\":1}", "{\"exp\":1700000600,\"aud\":\"zzzzzzzz\"}",
	                          "{\"exp\":\"zzzzzzzzzzzz\"}", "not json zzzzzzzzzzzz"};

	jwt_sign_b64url_to(hs_secret, sizeof(hs_secret), secret_b64);
	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		char *tok = make_token("{\"alg\":\"HS256\"}", payloads[i], &hs256);
		jwt_claims c;
		char err[256];
		assert_true(verify(ks, &pol, tok, &c, err, sizeof(err)) < 0);
		assert_int_equal(strncmp(err, "jwt: ", 5), 0);
		assert_null(strstr(err, "zzzz"));
		assert_null(strstr(err, tok + strlen(tok) - 8));
		assert_null(strstr(err, secret_b64));
		tok[strlen(tok) - 1] ^= 1;
		assert_true(verify(ks, &pol, tok, &c, err, sizeof(err)) < 0);
		assert_null(strstr(err, "zzzz"));
		free(tok);
	}
	jwt_keyset_free(ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_hs256_token_grants_scoped_permissions_and_subject),
	        cmocka_unit_test(test_valid_rs256_rs384_rs512_tokens_from_a_pem_key_are_accepted),
	        cmocka_unit_test(test_valid_es256_token_from_a_pem_key_is_accepted),
	        cmocka_unit_test(test_expired_token_is_refused_after_the_leeway),
	        cmocka_unit_test(test_not_yet_valid_token_is_refused),
	        cmocka_unit_test(test_token_without_exp_is_refused_unless_the_policy_allows_it),
	        cmocka_unit_test(test_wrong_issuer_is_refused),
	        cmocka_unit_test(test_wrong_audience_is_refused_in_string_and_array_forms),
	        cmocka_unit_test(test_one_flipped_signature_bit_is_refused_for_every_alg),
	        cmocka_unit_test(test_alg_none_is_refused_with_and_without_a_signature),
	        cmocka_unit_test(
	                test_hs_token_is_refused_by_a_public_key_keyset_and_rs_by_a_secret),
	        cmocka_unit_test(test_hmac_forged_with_the_public_pem_as_secret_is_refused),
	        cmocka_unit_test(test_jwks_with_several_keys_selects_by_kid),
	        cmocka_unit_test(test_malformed_jwks_is_refused_and_adds_nothing),
	        cmocka_unit_test(test_malformed_tokens_are_refused_without_crashing),
	        cmocka_unit_test(test_every_truncation_of_a_valid_token_is_refused),
	        cmocka_unit_test(test_random_byte_mutations_never_crash_and_never_verify),
	        cmocka_unit_test(test_too_long_token_is_refused_before_decoding),
	        cmocka_unit_test(test_duplicate_json_keys_and_deep_nesting_are_refused),
	        cmocka_unit_test(test_scope_claim_name_prefix_and_array_form_are_configurable),
	        cmocka_unit_test(test_subjects_with_control_bytes_or_too_long_are_refused),
	        cmocka_unit_test(test_hmac_secrets_shorter_than_the_hash_are_not_used),
	        cmocka_unit_test(test_key_files_load_and_are_bounded_in_size),
	        cmocka_unit_test(test_keysets_are_bounded_and_refuse_unsupported_keys),
	        cmocka_unit_test(test_error_messages_never_contain_the_token_or_the_secret),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
