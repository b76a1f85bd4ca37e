/*
 * smtp_client: one outbound SMTP connection, RFC 5321 client side.
 * Greeting, EHLO (HELO fallback), STARTTLS as the TLS decision demands
 * (RFC 3207), PIPELINING when offered (RFC 2920), MAIL/RCPT/DATA with
 * dot-stuffing and CRLF only (never a bare CR or LF on the wire), AUTH
 * (RFC 4954) to a next hop with credentials, only over TLS, RSET
 * between messages so one connection carries several, QUIT.
 * Every failure fills an outcome; nothing is decided about the queue here.
 */
#ifndef POSTERN_SMTP_CLIENT_H
#define POSTERN_SMTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include "mx.h"
#include "outcome.h"
#include "queue.h"
#include "tls_policy.h"

struct smtp_auth_cred;

struct smtp_client_opts {
	const char	*helo;		/* our host name */
	int		 port;
	int		 connect_timeout;	/* seconds */
	int		 reply_timeout;		/* seconds, per reply */
	SSL_CTX		*tls_ctx;		/* client context (tls.h) */
	/* AUTH PLAIN or LOGIN with these after EHLO (smtp_auth.h); NULL:
	 * no AUTH.  Without TLS up, open defers (4.7.10) before any AUTH. */
	const struct smtp_auth_cred *cred;
	/* mono_msec() at which the delivery job ends; 0: none.  Every
	 * stage's timeout is cut to what is left (dlimit_stage_ms). */
	int64_t		 deadline;
	/* Counted up for each session that got a greeting (any reply
	 * code; a TLS retry in clear is a second one); NULL: not counted. */
	unsigned	*sessions;
};

struct smtp_client;

/*
 * Connects to addr of host, reads the greeting, says EHLO and applies the
 * TLS decision.  NULL with out filled on failure: out->kind is always
 * DEFER ("try the next address/host"; RFC 5321 §3.1 and §5.1 let a
 * client go on to the next MX after a 4xx or 5xx greeting or EHLO);
 * out->status keeps the remote class ("5.x.x") so the caller can decide
 * to bounce when every host refused permanently.  TLS failures under a
 * level that requires TLS are 4.7.4 (STARTTLS missing or refused) or
 * 4.7.5 (handshake or certificate), and no MAIL is ever sent in clear.
 * Under TLS_MAY a failed handshake reconnects in clear to the same address
 * (tls_policy.h: tls_plaintext_fallback_ok()).  With opts->cred, AUTH
 * follows; a refusal is a DEFER (4.7.8 for 535: a configuration problem,
 * never a bounce).  opts and the decision are copied; what they point to
 * (helo, tls_ctx, cred, TLSA data) must outlive the client.
 */
struct smtp_client *smtp_client_open(const struct mx_host *,
	    const struct mx_addr *, const struct tls_decision *,
	    const struct smtp_client_opts *, struct outcome *out);

/*
 * Sends one message to n recipients; fills rcpt_out[0..n-1].  Returns 0
 * when the connection can carry another message, -1 when it is gone
 * (recipients not yet answered are then DEFER with the reason).
 */
int	smtp_client_send(struct smtp_client *, const struct qmsg *,
	    const struct qrcpt *const *rcpts, size_t n, const char *body,
	    size_t bodylen, struct outcome *rcpt_out);

/* QUIT and free. */
void	smtp_client_close(struct smtp_client *);

/* For log lines: "mx.example.org[192.0.2.1]:25", "TLSv1.3/TLS_AES_..."
 * or "none", and the authentication the TLS decision achieved ("dane",
 * "verify", "mta-sts", "untrusted", "none"). */
const char *smtp_client_relay(const struct smtp_client *);
const char *smtp_client_tls(const struct smtp_client *);
const char *smtp_client_auth(const struct smtp_client *);
/* Whether the server offered DSN (RFC 3461) in its EHLO reply. */
int	smtp_client_offers_dsn(const struct smtp_client *);

#endif
