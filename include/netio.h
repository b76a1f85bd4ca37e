/*
 * netio: buffered line I/O on a socket, in clear or over TLS, with a
 * deadline on every read and write.  Lines are returned as (ptr, len)
 * including their terminator; a line longer than the caller's limit is
 * reported, not split silently.  Never reads past what it was given.
 * A timeout_ms below 0 means no deadline.  The fd is made non-blocking.
 * Processes using netio ignore SIGPIPE (OpenSSL writes with write(2)).
 */
#ifndef POSTERN_NETIO_H
#define POSTERN_NETIO_H

#include <stddef.h>
#include <sys/types.h>
#include <openssl/ssl.h>

struct netio;

enum netio_line {
	NETIO_LINE_OK = 0,	/* a whole line ending in LF */
	NETIO_LINE_LONG,	/* over the limit: the excess was discarded up
				 * to and including the next LF; *line, *len
				 * then hold the line's terminator: "\r\n" or
				 * the byte before the LF and the LF, so a
				 * caller can tell CR LF from a bare LF (SMTP
				 * smuggling, RFC 5321 §4.1.1.4) */
	NETIO_LINE_EOF,		/* peer closed (a partial line is dropped) */
	NETIO_LINE_TIMEOUT,
	NETIO_LINE_ERROR
};

/* Non-blocking TCP connect to addr (4 or 16 bytes of family) bounded by
 * timeout_ms: the fd, or -1 with a reason in err. */
int		 netio_connect(int family, const void *addr, int port,
		    int timeout_ms, char *err, size_t errlen);
struct netio	*netio_new(int fd);
/* Closes the fd, frees TLS state. */
void		 netio_free(struct netio *);
int		 netio_fd(const struct netio *);

/*
 * Next line: *line points into the internal buffer, valid until the next
 * call; *len counts the bytes including the final LF.  Lines end at LF
 * only: a bare CR is data, and the caller checks for the CR before it.
 */
enum netio_line	 netio_getline(struct netio *, const char **line, size_t *len,
		    size_t max, int timeout_ms);
/* Raw input for protocols without lines (an HTTP response read to EOF):
 * up to len bytes, the buffered ones first.  Bytes read, 0 at EOF, or -1
 * (errno ETIMEDOUT when the deadline passed). */
ssize_t		 netio_read(struct netio *, void *, size_t len, int timeout_ms);
/* Bytes already read and buffered but not yet returned (early talkers,
 * data sent before STARTTLS completes: RFC 3207 §4.2 discards them). */
size_t		 netio_pending(const struct netio *);
void		 netio_discard_pending(struct netio *);
/* Waits until input is readable or timeout: 1 readable, 0 timeout, -1. */
int		 netio_wait_readable(struct netio *, int timeout_ms);

/* Buffered output; netio_flush sends it.  0 or -1. */
int		 netio_write(struct netio *, const void *, size_t);
int		 netio_printf(struct netio *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 netio_flush(struct netio *, int timeout_ms);
/* Bytes written but not yet flushed: callers sending a large body flush
 * when this passes a threshold rather than buffering all of it. */
size_t		 netio_outlen(const struct netio *);

/* TLS handshakes on the existing connection.  0, or -1 with an OpenSSL
 * reason in err.  The SSL is owned by the netio afterwards, on failure
 * too.  Input buffered in clear is discarded first: it was sent before
 * the handshake and must never be read as protected (RFC 3207 §4.2). */
int		 netio_tls_accept(struct netio *, SSL_CTX *, int timeout_ms,
		    char *err, size_t errlen);
int		 netio_tls_connect(struct netio *, SSL *, int timeout_ms,
		    char *err, size_t errlen);
SSL		*netio_ssl(const struct netio *);	/* NULL in clear */
/* "TLSv1.3" and the cipher name, or NULL in clear. */
const char	*netio_tls_version(const struct netio *);
const char	*netio_tls_cipher(const struct netio *);
int		 netio_tls_bits(const struct netio *);

#endif
