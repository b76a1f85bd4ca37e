/*
 * Buffered line I/O on a non-blocking socket, in clear or over TLS on the
 * same fd, with poll(2) deadlines.  The input buffer starts at 16 KiB and
 * grows up to the caller's line limit; a longer line is skipped up to its
 * LF and reported once as NETIO_LINE_LONG.  Output is buffered until
 * netio_flush().
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "compat.h"
#include "netio.h"
#include "util.h"

#define NETIO_INBUF	16384

enum io_rc {
	IO_OK = 1,
	IO_EOF = 0,
	IO_ERR = -1,
	IO_TIMEOUT = -2
};

struct netio {
	int		 fd;
	SSL		*ssl;
	int		 ssl_bad;	/* fatal TLS error: no close_notify */
	int		 eof;
	int		 skipping;	/* inside an over-long line */
	int		 dropped_cr;	/* the last byte skipped was a CR */
	char		*in;
	size_t		 incap, inoff, inlen;
	struct buf	 out;
	size_t		 outoff;	/* bytes of out already sent */
};

struct netio *
netio_new(int fd)
{
	struct netio	*n = xcalloc(1, sizeof(*n));
	int		 fl, on = 1;

	n->fd = fd;
	if ((fl = fcntl(fd, F_GETFL)) != -1 && !(fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	/* Output is buffered here and flushed at the protocol's turn of
	 * speech: Nagle's algorithm would only hold the last segment (the
	 * end of data, a reply) until a delayed ACK, ~40 ms a message.
	 * Not a TCP socket (a pipe, a UNIX socket): nothing to do. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	n->incap = NETIO_INBUF;
	n->in = xmalloc(n->incap);
	buf_init(&n->out);
	return n;
}

void
netio_free(struct netio *n)
{
	if (n == NULL)
		return;
	if (n->ssl != NULL) {
		/* One non-blocking try at close_notify; never wait for the
		 * peer's (RFC 8446 §6.1 allows closing after sending it). */
		if (!n->ssl_bad)
			(void)SSL_shutdown(n->ssl);
		SSL_free(n->ssl);
		ERR_clear_error();
	}
	if (n->fd != -1)
		(void)close(n->fd);
	free(n->in);
	buf_free(&n->out);
	free(n);
}

int
netio_fd(const struct netio *n)
{
	return n->fd;
}

static int64_t
deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : mono_msec() + timeout_ms;
}

/* Waits for events on the fd until the deadline: 1, 0 timeout, -1. */
static int
io_wait(struct netio *n, short events, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left;
	int		 r;

	for (;;) {
		left = deadline < 0 ? -1 : deadline - mono_msec();
		if (deadline >= 0 && left < 0)
			left = 0;
		pfd.fd = n->fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;	/* POLLHUP/POLLERR: the I/O reports */
		if (r == 0 && (deadline < 0 || mono_msec() < deadline))
			continue;	/* INT_MAX clamp ran out */
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int
netio_connect(int family, const void *addr, int port, int timeout_ms,
    char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sl, el = sizeof(int);
	struct netio		 n;	/* for io_wait() */
	int			 fd = -1, r, e = 0;
	int64_t			 deadline = deadline_of(timeout_ms);

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, addr, 4);
		sl = sizeof(*sin);
	} else if (family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, addr, 16);
		sl = sizeof(*sin6);
	} else {
		(void)snprintf(err, errlen, "unsupported address family");
		return -1;
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		e = errno;
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		e = errno;
		goto fail;
	}
	n.fd = fd;
	if ((r = io_wait(&n, POLLOUT, deadline)) != 1) {
		e = r == 0 ? ETIMEDOUT : errno;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
		return fd;
fail:
	(void)snprintf(err, errlen, "%s", strerror(e ? e : EIO));
	if (fd != -1)
		(void)close(fd);
	return -1;
}

/* After SSL_* returned r <= 0: wait as OpenSSL asks, or classify. */
static enum io_rc
ssl_retry(struct netio *n, int r, int64_t deadline)
{
	int	 w;

	switch (SSL_get_error(n->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		w = io_wait(n, POLLIN, deadline);
		break;
	case SSL_ERROR_WANT_WRITE:
		w = io_wait(n, POLLOUT, deadline);
		break;
	case SSL_ERROR_ZERO_RETURN:
		return IO_EOF;
	case SSL_ERROR_SYSCALL:
		n->ssl_bad = 1;
		/* EOF without close_notify: SMTP has its own end markers. */
		return errno == 0 || r == 0 ? IO_EOF : IO_ERR;
	default:
		n->ssl_bad = 1;
		errno = EPROTO;
		return IO_ERR;
	}
	if (w == 0)
		return IO_TIMEOUT;
	return w == 1 ? IO_OK : IO_ERR;
}

/* Reads what is available into the free end of the input buffer. */
static enum io_rc
fill(struct netio *n, int64_t deadline)
{
	char		*p = n->in + n->inoff + n->inlen;
	size_t		 room = n->incap - n->inoff - n->inlen;
	ssize_t		 r;
	enum io_rc	 rc;
	int		 w;

	if (room > INT_MAX)
		room = INT_MAX;
	for (;;) {
		if (n->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			r = SSL_read(n->ssl, p, (int)room);
			if (r > 0)
				break;
			if ((rc = ssl_retry(n, (int)r, deadline)) != IO_OK)
				return rc;
			continue;
		}
		r = read(n->fd, p, room);
		if (r > 0)
			break;
		if (r == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return IO_ERR;
		if ((w = io_wait(n, POLLIN, deadline)) != 1)
			return w == 0 ? IO_TIMEOUT : IO_ERR;
	}
	n->inlen += (size_t)r;
	return IO_OK;
}

/* Moves unread input to the front and grows the buffer, up to max, when
 * it is full without a whole line. */
static void
make_room(struct netio *n, size_t max)
{
	size_t	 want;

	if (n->inoff > 0) {
		memmove(n->in, n->in + n->inoff, n->inlen);
		n->inoff = 0;
	}
	if (n->inlen < n->incap || n->incap >= max)
		return;
	want = n->incap * 2 < max ? n->incap * 2 : max;
	n->in = xreallocarray(n->in, want, 1);
	n->incap = want;
}

enum netio_line
netio_getline(struct netio *n, const char **line, size_t *len, size_t max,
    int timeout_ms)
{
	int64_t		 deadline = deadline_of(timeout_ms);
	char		*start, *lf;
	size_t		 ll;
	enum io_rc	 rc;

	for (;;) {
		start = n->in + n->inoff;
		if ((lf = memchr(start, '\n', n->inlen)) != NULL) {
			ll = (size_t)(lf - start) + 1;
			n->inoff += ll;
			n->inlen -= ll;
			if (n->skipping || ll > max) {
				/* The terminator tells CR LF from a bare LF
				 * (netio.h), also when the CR was dropped
				 * with the rest of the line. */
				*line = ll >= 2 ? lf - 1 :
				    n->skipping && n->dropped_cr ? "\r\n" : lf;
				*len = ll >= 2 || (n->skipping &&
				    n->dropped_cr) ? 2 : 1;
				n->skipping = 0;
				return NETIO_LINE_LONG;
			}
			*line = start;
			*len = ll;
			return NETIO_LINE_OK;
		}
		if (n->inlen >= max) {
			/* No LF within the limit: drop what we have and
			 * keep dropping up to the next LF. */
			n->skipping = 1;
			n->dropped_cr = n->inlen > 0 &&
			    start[n->inlen - 1] == '\r';
			n->inoff = n->inlen = 0;
		}
		if (n->eof)
			return NETIO_LINE_EOF;
		make_room(n, max);
		if ((rc = fill(n, deadline)) == IO_EOF)
			n->eof = 1;
		else if (rc == IO_TIMEOUT)
			return NETIO_LINE_TIMEOUT;
		else if (rc == IO_ERR)
			return NETIO_LINE_ERROR;
	}
}

size_t
netio_pending(const struct netio *n)
{
	int	 p = n->ssl != NULL ? SSL_pending(n->ssl) : 0;

	return n->inlen + (p > 0 ? (size_t)p : 0);
}

ssize_t
netio_read(struct netio *n, void *p, size_t len, int timeout_ms)
{
	size_t		 k;
	enum io_rc	 rc;

	if (n->inlen == 0 && !n->eof) {
		n->inoff = 0;
		if ((rc = fill(n, deadline_of(timeout_ms))) == IO_EOF)
			n->eof = 1;
		else if (rc == IO_TIMEOUT) {
			errno = ETIMEDOUT;
			return -1;
		} else if (rc == IO_ERR)
			return -1;
	}
	if (n->inlen == 0)
		return 0;
	k = n->inlen < len ? n->inlen : len;
	memcpy(p, n->in + n->inoff, k);
	n->inoff += k;
	n->inlen -= k;
	return (ssize_t)k;
}

void
netio_discard_pending(struct netio *n)
{
	n->inoff = n->inlen = 0;
	n->skipping = 0;
}

int
netio_wait_readable(struct netio *n, int timeout_ms)
{
	if (netio_pending(n) > 0 || n->eof)
		return 1;
	return io_wait(n, POLLIN, deadline_of(timeout_ms));
}

int
netio_write(struct netio *n, const void *p, size_t len)
{
	buf_append(&n->out, p, len);
	return 0;
}

int
netio_printf(struct netio *n, const char *fmt, ...)
{
	va_list	 ap;
	char	 small[512], *big;
	int	 len;

	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	if ((size_t)len < sizeof(small))
		return netio_write(n, small, (size_t)len);
	big = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	(void)vsnprintf(big, (size_t)len + 1, fmt, ap);
	va_end(ap);
	buf_append(&n->out, big, (size_t)len);
	free(big);
	return 0;
}

size_t
netio_outlen(const struct netio *n)
{
	return n->out.len - n->outoff;
}

/* Sends some of p; bytes sent, or an io_rc below 1. */
static ssize_t
send_some(struct netio *n, const char *p, size_t len, int64_t deadline)
{
	ssize_t		 r;
	enum io_rc	 rc;
	int		 w;

	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		if (n->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			if ((r = SSL_write(n->ssl, p, (int)len)) > 0)
				return r;
			rc = ssl_retry(n, (int)r, deadline);
			if (rc == IO_EOF)
				return IO_ERR;	/* writing to a closed peer */
			if (rc != IO_OK)
				return rc;
			continue;
		}
		r = send(n->fd, p, len, MSG_NOSIGNAL);
		if (r == -1 && errno == ENOTSOCK)
			r = write(n->fd, p, len);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return IO_ERR;
		if ((w = io_wait(n, POLLOUT, deadline)) != 1)
			return w == 0 ? IO_TIMEOUT : IO_ERR;
	}
}

int
netio_flush(struct netio *n, int timeout_ms)
{
	int64_t	 deadline = deadline_of(timeout_ms);
	ssize_t	 r;

	while (n->outoff < n->out.len) {
		r = send_some(n, n->out.data + n->outoff,
		    n->out.len - n->outoff, deadline);
		if (r <= 0) {
			if (r == IO_TIMEOUT)
				errno = ETIMEDOUT;
			return -1;
		}
		n->outoff += (size_t)r;
	}
	buf_reset(&n->out);
	n->outoff = 0;
	return 0;
}

/* The reason of a failed handshake, for log lines and outcomes. */
static void
tls_reason(int sslerr, int r, char *err, size_t errlen)
{
	unsigned long	 e = ERR_get_error();
	const char	*s;

	ERR_clear_error();
	if (e != 0 && (s = ERR_reason_error_string(e)) != NULL)
		(void)snprintf(err, errlen, "%s", s);
	else if (e != 0)
		ERR_error_string_n(e, err, errlen);
	else if (sslerr == SSL_ERROR_SYSCALL && r == 0)
		(void)snprintf(err, errlen, "connection closed by peer");
	else if (sslerr == SSL_ERROR_SYSCALL && errno != 0)
		(void)snprintf(err, errlen, "%s", strerror(errno));
	else
		(void)snprintf(err, errlen, "TLS error %d", sslerr);
}

static int
handshake(struct netio *n, SSL *ssl, int timeout_ms, char *err,
    size_t errlen)
{
	int64_t	 deadline = deadline_of(timeout_ms);
	int	 r, e, w;

	/* RFC 3207 §4.2: nothing read in clear may count as protected. */
	netio_discard_pending(n);
	n->ssl = ssl;
	if (SSL_set_fd(ssl, n->fd) != 1) {
		n->ssl_bad = 1;
		tls_reason(SSL_ERROR_SSL, -1, err, errlen);
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_do_handshake(ssl)) == 1)
			return 0;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			w = io_wait(n, POLLIN, deadline);
		else if (e == SSL_ERROR_WANT_WRITE)
			w = io_wait(n, POLLOUT, deadline);
		else
			break;
		if (w == 1)
			continue;
		(void)snprintf(err, errlen, "%s", w == 0 ?
		    "TLS handshake timed out" : strerror(errno));
		n->ssl_bad = 1;
		return -1;
	}
	n->ssl_bad = 1;
	tls_reason(e, r, err, errlen);
	return -1;
}

int
netio_tls_accept(struct netio *n, SSL_CTX *ctx, int timeout_ms, char *err,
    size_t errlen)
{
	SSL	*ssl;

	if (n->ssl != NULL) {
		(void)snprintf(err, errlen, "TLS already active");
		return -1;
	}
	if ((ssl = SSL_new(ctx)) == NULL) {
		tls_reason(SSL_ERROR_SSL, -1, err, errlen);
		return -1;
	}
	SSL_set_accept_state(ssl);
	return handshake(n, ssl, timeout_ms, err, errlen);
}

int
netio_tls_connect(struct netio *n, SSL *ssl, int timeout_ms, char *err,
    size_t errlen)
{
	if (n->ssl != NULL) {
		SSL_free(ssl);
		(void)snprintf(err, errlen, "TLS already active");
		return -1;
	}
	SSL_set_connect_state(ssl);
	return handshake(n, ssl, timeout_ms, err, errlen);
}

SSL *
netio_ssl(const struct netio *n)
{
	return n->ssl;
}

const char *
netio_tls_version(const struct netio *n)
{
	return n->ssl != NULL ? SSL_get_version(n->ssl) : NULL;
}

const char *
netio_tls_cipher(const struct netio *n)
{
	return n->ssl != NULL ? SSL_get_cipher_name(n->ssl) : NULL;
}

int
netio_tls_bits(const struct netio *n)
{
	return n->ssl != NULL ? SSL_get_cipher_bits(n->ssl, NULL) : 0;
}
