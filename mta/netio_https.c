/*
 * One HTTPS GET through netio: netio_connect(), netio_tls_connect() and
 * netio_read(), each given what is left of the caller's deadline, so an
 * interrupted poll(2) is retried (netio's io_wait()) and a connect that
 * never completes is reported as timed out.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netio.h"
#include "netio_https.h"
#include "util.h"

static int
left_ms(int64_t deadline)
{
	int64_t	 l = deadline - mono_msec();

	return l > 0 ? (l > 0x7fffffff ? 0x7fffffff : (int)l) : 0;
}

/* Sends the request and reads the response to EOF or past r->max. */
static enum https_rc
exchange(struct netio *n, const struct https_req *r, struct buf *resp,
    char *err, size_t errlen)
{
	char	 chunk[4096];
	ssize_t	 k;

	/* RFC 9112 §3.2: Host is required; one request, then close. */
	if (netio_printf(n, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
	    "postern\r\nConnection: close\r\n\r\n", r->path, r->host) == -1 ||
	    netio_flush(n, left_ms(r->deadline)) == -1) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		return HTTPS_IO;
	}
	for (;;) {
		if ((k = netio_read(n, chunk, sizeof(chunk),
		    left_ms(r->deadline))) == 0)
			return HTTPS_OK;
		if (k < 0) {
			(void)snprintf(err, errlen, "%s", strerror(errno));
			return HTTPS_IO;
		}
		buf_append(resp, chunk, (size_t)k);
		if (resp->len > r->max) {
			(void)snprintf(err, errlen, "response over %zu bytes",
			    r->max);
			return HTTPS_TOOBIG;
		}
	}
}

enum https_rc
netio_https_get(const struct https_req *r, SSL *ssl, struct buf *resp,
    long *verify, char *err, size_t errlen)
{
	struct netio	*n;
	enum https_rc	 rc;
	int		 fd;

	*verify = X509_V_OK;
	if ((fd = netio_connect(r->family, r->addr, r->port,
	    left_ms(r->deadline), err, errlen)) == -1) {
		SSL_free(ssl);
		return HTTPS_CONNECT;
	}
	n = netio_new(fd);
	if (netio_tls_connect(n, ssl, left_ms(r->deadline), err, errlen) ==
	    -1) {
		*verify = SSL_get_verify_result(ssl);
		netio_free(n);
		return HTTPS_TLS;
	}
	rc = exchange(n, r, resp, err, errlen);
	netio_free(n);
	return rc;
}
