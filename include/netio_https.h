/*
 * netio_https: one HTTPS GET over netio's connect and TLS primitives
 * (netio.h), the whole exchange under one deadline: connect, handshake,
 * request, and the response read to EOF ("Connection: close").  The
 * caller makes the SSL (trust, SNI, host name check) and parses the
 * response; nothing here follows redirects or retries.
 */
#ifndef POSTERN_NETIO_HTTPS_H
#define POSTERN_NETIO_HTTPS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

struct buf;

/* Where a GET stopped; err has the low-level reason. */
enum https_rc {
	HTTPS_OK = 0,
	HTTPS_CONNECT,		/* TCP connect failed or timed out */
	HTTPS_TLS,		/* handshake failed; verify says why */
	HTTPS_IO,		/* request or response failed or timed out */
	HTTPS_TOOBIG		/* the response passed max bytes */
};

struct https_req {
	int		 family;	/* AF_INET or AF_INET6 */
	const void	*addr;		/* 4 or 16 bytes */
	int		 port;
	const char	*host;		/* Host: header */
	const char	*path;		/* "/.well-known/mta-sts.txt" */
	size_t		 max;		/* response limit, headers included */
	int64_t		 deadline;	/* mono_msec() at which to give up */
};

/*
 * GET r->path from r->host at r->addr: HTTPS_OK with the raw response
 * (status line, headers, body) appended to resp.  ssl is consumed, on
 * failure too.  On HTTPS_TLS, *verify is SSL_get_verify_result().
 */
enum https_rc	 netio_https_get(const struct https_req *r, SSL *ssl,
		    struct buf *resp, long *verify, char *err, size_t errlen);

#endif
