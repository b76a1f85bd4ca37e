/*
 * smtpd_tls: STARTTLS in an inbound session (RFC 3207) and how the
 * session's TLS is named in logs.  See include/smtpd_session.h.
 */
#include <stdio.h>

#include "log.h"
#include "netio.h"
#include "smtp_server.h"
#include "smtpd_session.h"

const char *
smtpd_tls_text(struct smtpd_session *s, char *buf, size_t len)
{
	if (netio_ssl(s->nio) == NULL)
		return "none";
	/* A log field: cut short it is still one. */
	(void)snprintf(buf, len, "%s/%s", netio_tls_version(s->nio),
	    netio_tls_cipher(s->nio));
	return buf;
}

/* Handshake; on success the session starts over (RFC 3207 §4.2). */
static int
tls_start(struct smtpd_session *s)
{
	char	 err[256], tls[128];
	size_t	 n;

	/* Anything the client sent after STARTTLS, before the handshake,
	 * was not protected: it must not be acted on (RFC 3207 §4.2). */
	if ((n = netio_pending(s->nio)) > 0) {
		log_info("[%s] sent %zu bytes before the TLS handshake: "
		    "discarded", s->ip, n);
		netio_discard_pending(s->nio);
	}
	if (netio_tls_accept(s->nio, s->ctx->tls, s->cmd_ms, err,
	    sizeof(err)) == -1) {
		log_info("TLS handshake with [%s] failed: %s", s->ip, err);
		return -1;
	}
	log_info("TLS with [%s]: %s", s->ip,
	    smtpd_tls_text(s, tls, sizeof(tls)));
	smtpd_txn_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->state = SMTPD_GREET;
	return 0;
}

void
smtpd_cmd_starttls(struct smtpd_session *s)
{
	if (s->ctx->tls == NULL) {
		smtpd_error_reply(s, "502 5.5.1 Error: command not "
		    "implemented");
		return;
	}
	if (netio_ssl(s->nio) != NULL) {
		smtpd_error_reply(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->state == SMTPD_GREET) {
		smtpd_error_reply(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	if (smtpd_flush_now(s) == -1 || tls_start(s) == -1)
		s->closing = 1;
}
