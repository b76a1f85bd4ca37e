/*
 * tls: OpenSSL contexts for postern's server and client sides.
 * The server side always works: with no certificate configured, a
 * self-signed one is made at first start under spool_dir/tls and kept.
 * TLS 1.2 and 1.3 only; a wide cipher list so any sane peer negotiates
 * (RFC 7672 §8.2 and RFC 3207: an MTA should not refuse to encrypt).
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct config;
struct tls_decision;

void	 tls_init(void);
/* NULL with a reason in err. */
SSL_CTX	*tls_server_ctx(const struct config *, char *err, size_t errlen);
/* Client context: TLS 1.2+, DANE enabled, system CA store loaded
 * (cafile overrides it when non-NULL). */
SSL_CTX	*tls_client_ctx(const char *cafile, char *err, size_t errlen);
/* One client connection's SSL for the TLS decision d: SNI = name (not
 * for IP literals, RFC 6066 §3); for DANE the usable TLSA records (RFC
 * 7672 §3: usages 2 and 3), for VERIFY and MTA-STS the names to match
 * (RFC 6125).  NULL on failure, and for DANE when no record is usable. */
SSL	*tls_client_ssl(SSL_CTX *, const struct tls_decision *d,
	    const char *name);
/* After the handshake: NULL when the peer was authenticated as set up by
 * tls_client_ssl(), or why not. */
const char *tls_client_verify(SSL *);
/* Creates cert and key (EC P-256, 10 years, CN and SAN = hostname) unless
 * both exist.  0, or -1 with a reason. */
int	 tls_selfsigned_ensure(const char *cert, const char *key,
	    const char *hostname, char *err, size_t errlen);
/* First queued OpenSSL error as text (clears the queue). */
const char *tls_error_string(char *buf, size_t len);

#endif
