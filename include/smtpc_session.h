/*
 * smtpc_session: one outbound SMTP session's state, shared by the files
 * of the client (smtp_client.h is its interface to delivery):
 * smtp_client.c connects, reads the greeting, says EHLO and closes,
 * smtpc_tls.c runs STARTTLS and checks the certificate (RFC 3207),
 * smtpc_auth.c authenticates (RFC 4954), smtpc_tx.c runs MAIL, RCPT and
 * DATA, and smtpc_io.c reads replies and writes commands within each
 * stage's time.  A failure fills an outcome and, when the connection is
 * no longer usable, sets dead.
 */
#ifndef POSTERN_SMTPC_SESSION_H
#define POSTERN_SMTPC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "mx.h"
#include "smtp_client.h"
#include "tls_policy.h"

struct outcome;
struct smtp_reply;

struct smtp_client {
	struct netio	*nio;
	struct smtp_client_opts opts;
	struct tls_decision tls;
	struct mx_addr	 addr;
	char		 host[256];
	char		 relay[320];
	char		 tlsdesc[128];
	const char	*auth;
	unsigned	 ext;		/* EHLO_* of the current session */
	char		 mechs[128];	/* its AUTH mechanisms */
	unsigned long long maxsize;	/* SIZE, 0: no limit announced */
	int		 need_rset;	/* a transaction ran on this session */
	int		 dead;		/* connection unusable */
};

/* smtpc_io.c.  A stage's time in ms, cut to the job's deadline. */
int	smtpc_stage_ms(const struct smtp_client *, int64_t ms);
/* One whole reply within timeout seconds: 0, or -1 with fail filled
 * (DEFER) and the connection dead. */
int	smtpc_read_reply(struct smtp_client *, struct smtp_reply *, int ehlo,
	    int timeout, const char *stage, struct outcome *fail);
/* Writes what is buffered: 0, or -1 as smtpc_read_reply(). */
int	smtpc_flush_out(struct smtp_client *, const char *stage,
	    struct outcome *fail);
/* One command line (CR LF added) and its reply. */
int	smtpc_command(struct smtp_client *, struct smtp_reply *, int ehlo,
	    const char *stage, struct outcome *fail, const char *line);
/* A refusal of the session as a DEFER keeping the remote status; -1. */
int	smtpc_refused(struct smtp_client *, const struct smtp_reply *,
	    const char *stage, struct outcome *out);

/* smtp_client.c.  EHLO, HELO after a 5xx; 0 or -1 with out filled. */
int	smtpc_hello(struct smtp_client *, struct outcome *out);

/* smtpc_tls.c.  STARTTLS, handshake, check and EHLO again: 0 (TLS up,
 * or in clear under MAY), 1 (handshake failed, may retry in clear, why
 * filled), -1 with out filled. */
int	smtpc_starttls(struct smtp_client *, struct outcome *out, char *why,
	    size_t whylen);

/* smtpc_auth.c.  AUTH with opts.cred: 0, or -1 with out a DEFER. */
int	smtpc_authenticate(struct smtp_client *, struct outcome *out);

#endif
