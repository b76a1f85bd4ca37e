/*
 * One inbound SMTP session (RFC 5321 server side) in its own process:
 * the session's life (greeting, early talkers, the command loop, the
 * close) and the verb dispatch.  The verbs are in smtpd_envelope.c,
 * smtpd_data.c and smtpd_tls.c (include/smtpd_session.h).
 *
 * States: GREET (banner sent) -> HELO (EHLO/HELO seen) -> MAIL -> RCPT
 * (at least one recipient accepted) -> DATA -> back to HELO.  A command
 * out of order is 503 5.5.1; RSET and EHLO/HELO drop the transaction;
 * STARTTLS (RFC 3207) goes back to GREET and forgets everything.
 *
 * Output is flushed only when no input is buffered (RFC 2920: a
 * pipelined batch gets its replies in one write).  Input read before a
 * TLS handshake is discarded (RFC 3207 §4.2: it was not protected).
 * Every reply except the banner and EHLO/HELO carries an enhanced status
 * code (RFC 2034 §3).  A message is answered 250 only after the queue
 * committed it (queue.h); nothing of a refused message is stored.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "log.h"
#include "netio.h"
#include "relay.h"
#include "smtp_parse.h"
#include "smtp_server.h"
#include "smtpd_session.h"
#include "util.h"

/* How long a closing session drains input so its last reply arrives. */
#define LINGER_MS		1000

static volatile sig_atomic_t	 got_term;
static int			 term_fd = -1;

/* SIGTERM: stop reading so a wait for the next command ends now; the
 * loop then answers 421 on the still open sending side. */
static void
on_term(int sig)
{
	int	 saved = errno;

	(void)sig;
	got_term = 1;
	if (term_fd >= 0)
		(void)shutdown(term_fd, SHUT_RD);
	errno = saved;
}

/* ---- the loop -------------------------------------------------------- */

static void
dispatch(struct smtpd_session *s, const char *line, size_t len)
{
	struct smtp_cmd	 cmd;
	const char	*r;

	if ((r = smtp_cmd_parse(line, len, &cmd)) != NULL) {
		smtpd_error_reply(s, r);
		return;
	}
	switch (cmd.verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		smtpd_cmd_helo(s, &cmd, cmd.verb == SMTP_CMD_EHLO);
		break;
	case SMTP_CMD_MAIL:
		smtpd_cmd_mail(s, &cmd);
		break;
	case SMTP_CMD_RCPT:
		smtpd_cmd_rcpt(s, &cmd);
		break;
	case SMTP_CMD_DATA:
		smtpd_cmd_data(s);
		break;
	case SMTP_CMD_RSET:
		smtpd_txn_reset(s);
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_NOOP:
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_QUIT:
		smtpd_reply(s, "221 2.0.0 Bye");
		s->closing = 1;
		break;
	case SMTP_CMD_VRFY:
		/* RFC 5321 §3.5.3: no address harvesting. */
		smtpd_reply(s, "252 2.5.2 Cannot VRFY user, but will accept "
		    "message and attempt delivery");
		break;
	case SMTP_CMD_EXPN:
		smtpd_reply(s, "502 5.5.1 Error: EXPN not available");
		break;
	case SMTP_CMD_HELP:
		smtpd_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA "
		    "RSET NOOP QUIT VRFY HELP%s", s->ctx->tls != NULL &&
		    netio_ssl(s->nio) == NULL ? " STARTTLS" : "");
		break;
	case SMTP_CMD_STARTTLS:
		smtpd_cmd_starttls(s);
		break;
	default:
		smtpd_error_reply(s, "500 5.5.2 Error: command not recognized");
		break;
	}
}

/* Commands until QUIT, an error limit, a timeout or the peer leaves. */
static void
session_loop(struct smtpd_session *s)
{
	const char	*line;
	size_t		 len;
	enum netio_line	 r;

	while (!s->closing) {
		if (smtpd_flush_idle(s) == -1)
			return;
		r = netio_getline(s->nio, &line, &len, SMTP_CMD_LINE_ACCEPT,
		    s->cmd_ms);
		if (got_term) {
			smtpd_reply(s, "421 4.3.2 Service shutting down");
			return;
		}
		if (r == NETIO_LINE_TIMEOUT) {
			log_info("timeout from [%s]", s->ip);
			smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
			    s->conf->hostname);
			return;
		}
		if (r == NETIO_LINE_EOF || r == NETIO_LINE_ERROR) {
			log_info("lost connection from [%s]", s->ip);
			s->gone = 1;
			return;
		}
		if (r == NETIO_LINE_LONG)
			smtpd_error_reply(s, "500 5.5.2 Error: line too long");
		else
			dispatch(s, line, len);
		if (!s->closing && s->nerrors >= s->conf->max_errors) {
			log_info("too many errors from [%s]", s->ip);
			smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
			    s->conf->hostname);
			return;
		}
	}
}

/* Data before our banner is a client that does not wait for replies:
 * a spam engine, or a pipelining bug.  Trusted clients are only checked
 * for input already there; others wait greet_delay first. */
static int
early_talker(struct smtpd_session *s)
{
	int	 ms = s->trusted ? 0 : (int)(s->conf->greet_delay * 1000);
	char	 c;

	if (netio_wait_readable(s->nio, ms) != 1)
		return 0;
	/* Readable may also mean closed (a port probe): leave quietly. */
	if (netio_ssl(s->nio) == NULL && netio_pending(s->nio) == 0 &&
	    recv(netio_fd(s->nio), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		s->gone = 1;
		return 1;
	}
	log_info("[%s] talked before the greeting", s->ip);
	smtpd_reply(s, "554 5.5.1 %s Error: data sent before greeting",
	    s->conf->hostname);
	return 1;
}

static void
peer_init(struct smtpd_session *s, const struct sockaddr *peer, socklen_t plen)
{
	const struct sockaddr_in6	*sin6;
	struct sockaddr_in		 sin;

	memset(&s->peer, 0, sizeof(s->peer));
	if (plen > sizeof(s->peer))
		plen = sizeof(s->peer);
	memcpy(&s->peer, peer, plen);
	(void)strlcpy(s->ip, "unknown", sizeof(s->ip));
	if (peer->sa_family == AF_INET) {
		(void)inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)peer)->sin_addr, s->ip,
		    sizeof(s->ip));
	} else if (peer->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)peer;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			/* Shown and judged as the IPv4 client it is. */
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
			(void)inet_ntop(AF_INET, &sin.sin_addr, s->ip,
			    sizeof(s->ip));
		} else {
			(void)inet_ntop(AF_INET6, &sin6->sin6_addr, s->ip,
			    sizeof(s->ip));
			s->ipv6 = 1;
		}
	}
	s->trusted = relay_client_trusted(s->conf, peer);
}

/*
 * Closing with unread input makes the kernel answer with a reset, which
 * can destroy our last reply in flight (early talkers, 421 with a batch
 * pending): stop sending, then read and drop input for a bounded time.
 */
static void
linger(struct smtpd_session *s)
{
	const char	*line;
	size_t		 len;
	int64_t		 end = mono_msec() + LINGER_MS;
	enum netio_line	 r;

	/* Under TLS the close_notify goes first: a peer may count a TLS
	 * stream that just stops as truncated (RFC 8446 §6.1). */
	if (netio_ssl(s->nio) != NULL)
		(void)SSL_shutdown(netio_ssl(s->nio));
	if (shutdown(netio_fd(s->nio), SHUT_WR) == -1)
		return;
	while (mono_msec() < end) {
		r = netio_getline(s->nio, &line, &len, SMTPD_DATA_READ_MAX,
		    (int)(end - mono_msec()));
		if (r != NETIO_LINE_OK && r != NETIO_LINE_LONG)
			break;
	}
}

static void
session_end(struct smtpd_session *s)
{
	if (smtpd_flush_now(s) == 0 && !s->gone)
		linger(s);
	log_info("disconnect from [%s] messages=%zu errors=%d", s->ip,
	    s->nmsgs, s->nerrors);
	smtpd_txn_reset(s);
	free(s->rcpts);
	netio_free(s->nio);
	term_fd = -1;
}

int
smtp_server_stopping(void)
{
	return got_term;
}

void
smtp_session(const struct server_ctx *ctx, int fd, const struct sockaddr *peer,
    socklen_t plen, const struct listen_spec *ls)
{
	struct smtpd_session		 s;
	struct sigaction	 sa;
	char			 err[256];

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.conf = ctx->conf;
	s.ls = ls;
	s.cmd_ms = (int)(s.conf->timeout_command * 1000);
	s.data_ms = (int)(s.conf->timeout_data * 1000);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	peer_init(&s, peer, plen);
	term_fd = fd;
	if ((s.nio = netio_new(fd)) == NULL) {
		log_warnx("session from [%s]: no memory", s.ip);
		(void)close(fd);
		return;
	}
	log_info("connect from [%s] to %s:%s%s", s.ip, ls->host, ls->port,
	    s.trusted ? " trusted" : "");
	/* RFC 8314 §3.3: on the submissions port TLS comes first. */
	if (ls->mode == LISTEN_SMTPS) {
		if (ctx->tls == NULL || netio_tls_accept(s.nio, ctx->tls,
		    s.cmd_ms, err, sizeof(err)) == -1) {
			log_info("TLS handshake with [%s] failed: %s", s.ip,
			    ctx->tls == NULL ? "no TLS context" : err);
			goto done;
		}
	}
	if (!early_talker(&s)) {
		smtpd_reply(&s, "220 %s ESMTP postern", s.conf->hostname);
		session_loop(&s);
	}
done:
	session_end(&s);
}
