/* tls.h - the TLS transport over OpenSSL 3: the server context built from
 * the config, and non-blocking handshake, read, write and close on one SSL.
 *
 * conn.c drives these from its worker loop; nothing here blocks or keeps
 * state of its own. The SSL_CTX is reference-counted by OpenSSL: SSL_new
 * takes a reference, so a context swapped out by a reload lives on until its
 * last connection is freed.
 * Error conventions: tls_ctx_create returns NULL with a one-line message in
 * err that names the flag or file and OpenSSL's reason (never key material);
 * the I/O calls return a TLS_* status and, on TLS_FAILED, put OpenSSL's
 * reason in why.
 */
#ifndef MINIDB_TLS_H
#define MINIDB_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"

/* Builds the server context of cfg: TLS 1.2 minimum (1.3 with
 * --tls-min-version 1.3), the cipher lists, server cipher preference, no
 * compression, no renegotiation, the certificate chain and its key (checked
 * to match), and for --tls-client-auth optional|required the client CAs and
 * the verify mode. Returns NULL with a message in err on any error. */
SSL_CTX *tls_ctx_create(const config *cfg, char *err, size_t errlen);

/* The outcome of one handshake step, read or write. */
enum tls_status {
	TLS_OK = 0,         /* done (handshake), or bytes moved */
	TLS_WANT_READ = 1,  /* call again when the socket is readable */
	TLS_WANT_WRITE = 2, /* call again when the socket is writable */
	TLS_EOF = 3,        /* the peer closed (close_notify or a plain EOF) */
	TLS_FAILED = 4,     /* fatal: close without SSL_shutdown (why says why) */
};

/* A server-side SSL on the connected socket fd (the socket stays the
 * caller's). NULL when out of memory. */
SSL *tls_new(SSL_CTX *ctx, int fd);

/* One step of the server handshake. */
int tls_handshake(SSL *ssl, char *why, size_t whylen);

/* Reads decrypted bytes into p[0..n), record after record, until n bytes are
 * there (TLS_OK; more may wait inside ssl: tls_has_pending), a record
 * shorter than the maximum left OpenSSL holding nothing (TLS_OK: the
 * caller's level-triggered poll reports what the socket still holds; this
 * saves a read() that would say EAGAIN once per request), or the socket
 * had nothing (TLS_WANT_READ). *got is the count read
 * whatever the status (bytes may precede a TLS_WANT_*, an EOF or a failure). */
int tls_read(SSL *ssl, void *p, size_t n, size_t *got, char *why, size_t whylen);

/* Writes p[0..n) (partial writes allowed: *put says how much left). After a
 * TLS_WANT_*, call again with the same bytes at the front of p (the buffer
 * may have moved, and more may follow them). */
int tls_write(SSL *ssl, const void *p, size_t n, size_t *put, char *why, size_t whylen);

/* 1 when bytes already read from the socket wait inside ssl (epoll will not
 * report them). */
int tls_has_pending(const SSL *ssl);

/* 1 when the peer has sent nothing at all (a port probe or a health check
 * that connected and closed, not a failed handshake worth a log line). */
int tls_peer_silent(const SSL *ssl);

/* Sends close_notify, best effort, without waiting for the peer's. */
void tls_shutdown(SSL *ssl);

/* The name of the peer's certificate per identity (CONFIG_TLS_ID_CN: the
 * subject's single common name; CONFIG_TLS_ID_SAN: the first DNS or email
 * subject alternative name), copied to out, only when a certificate was
 * presented and verified. Returns 1 when out was set, 0 otherwise (out is
 * then ""): no certificate, not verified, a name with a NUL or a control
 * byte, two common names, or longer than outlen - 1. */
int tls_peer_identity(SSL *ssl, int identity, char *out, size_t outlen);

/* The negotiated protocol ("TLSv1.3") and cipher, for logs. */
const char *tls_version(const SSL *ssl);
const char *tls_cipher(const SSL *ssl);

#endif
