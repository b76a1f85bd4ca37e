/*
 * smtp_server: one inbound SMTP session, RFC 5321 server side, in its own
 * process.  Reads commands with explicit bounds (smtp_parse.h), DATA with
 * strict CRLF rules (smtp_data.h), queues each message in one synchronous
 * transaction and answers 250 with the queue id only after it commits.
 */
#ifndef POSTERN_SMTP_SERVER_H
#define POSTERN_SMTP_SERVER_H

#include <sys/socket.h>
#include <openssl/ssl.h>

struct config;
struct listen_spec;

struct server_ctx {
	const struct config *conf;
	SSL_CTX		*tls;		/* NULL: STARTTLS not offered */
	int		 wake_fd;	/* write a byte here after a commit */
};

/* Runs the session on fd to its end and closes fd.  A process may run
 * several sessions in turn; it calls smtp_server_cleanup() before it
 * exits. */
void	smtp_session(const struct server_ctx *, int fd,
	    const struct sockaddr *peer, socklen_t, const struct listen_spec *);
/* Whether SIGTERM arrived: the process takes no further session. */
int	smtp_server_stopping(void);
/* Closes the process's queue handle. */
void	smtp_server_cleanup(void);

#endif
