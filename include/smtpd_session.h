/*
 * smtpd_session: one inbound SMTP session's state, shared by the files
 * of the server (smtp_server.h is its interface to the master):
 * smtp_server.c runs the session and dispatches the verbs,
 * smtpd_envelope.c answers EHLO/HELO, MAIL and RCPT, smtpd_data.c DATA
 * up to the queue commit, smtpd_tls.c STARTTLS, and smtpd_reply.c
 * writes the replies.  Replies are buffered and flushed only when no
 * input is (RFC 2920 §3.2); each verb leaves the state as the table at
 * the top of smtp_server.c says.
 */
#ifndef POSTERN_SMTPD_SESSION_H
#define POSTERN_SMTPD_SESSION_H

#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>

#include "smtp_parse.h"

struct config;
struct listen_spec;
struct netio;
struct qrcpt;
struct server_ctx;
struct smtp_cmd;

/* netio buffer for one DATA line: longer lines are cut by netio and
 * refused; smtp_data applies max_line_length itself. */
#define SMTPD_DATA_READ_MAX	(64 * 1024)
/* A reply line we build: RFC 5321 §4.5.3.1.5 allows 512 with CR LF. */
#define SMTPD_REPLY_MAX		512

enum smtpd_state {
	SMTPD_GREET,	/* banner sent, no EHLO/HELO yet */
	SMTPD_HELO,	/* no transaction */
	SMTPD_MAIL,	/* MAIL accepted, no recipient yet */
	SMTPD_RCPT	/* at least one recipient accepted */
};

struct smtpd_session {
	const struct server_ctx	*ctx;
	const struct config	*conf;
	const struct listen_spec *ls;
	struct netio		*nio;
	struct sockaddr_storage	 peer;
	char			 ip[INET6_ADDRSTRLEN];
	int			 ipv6;
	int			 trusted;	/* may relay anywhere */
	char			 helo[SMTP_DOMAIN_MAX + 1];
	int			 esmtp;
	enum smtpd_state	 state;
	int			 nerrors;
	int			 closing;	/* close after this reply */
	int			 gone;		/* the peer closed or failed */
	int			 rcpt_tried;	/* a RCPT was given */
	int			 cmd_ms, data_ms;
	size_t			 nmsgs;
	struct smtp_mail	 mail;
	struct qrcpt		*rcpts;
	size_t			 nrcpt, rcptcap;
};

/* smtpd_reply.c.  One reply line, CR LF added; buffered (a write error
 * closes the session). */
void	smtpd_reply(struct smtpd_session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A reply to a client mistake: counted against max_errors. */
void	smtpd_error_reply(struct smtpd_session *, const char *text);
/* Write what is buffered now; 0 or -1 (logged). */
int	smtpd_flush_now(struct smtpd_session *);
/* The same, but only when no input is buffered or replies pile up. */
int	smtpd_flush_idle(struct smtpd_session *);
/* Forget the transaction: back to HELO when past it. */
void	smtpd_txn_reset(struct smtpd_session *);

/* smtpd_envelope.c: the verbs; each sends its reply. */
void	smtpd_cmd_helo(struct smtpd_session *, const struct smtp_cmd *,
	    int esmtp);
void	smtpd_cmd_mail(struct smtpd_session *, const struct smtp_cmd *);
void	smtpd_cmd_rcpt(struct smtpd_session *, const struct smtp_cmd *);

/* smtpd_data.c: DATA to its end; 250 only after the queue commit. */
void	smtpd_cmd_data(struct smtpd_session *);

/* smtpd_tls.c: STARTTLS; a failed handshake closes the session. */
void	smtpd_cmd_starttls(struct smtpd_session *);
/* "TLSv1.3/CIPHER" into buf, or "none" in clear. */
const char *smtpd_tls_text(struct smtpd_session *, char *buf, size_t len);

#endif
