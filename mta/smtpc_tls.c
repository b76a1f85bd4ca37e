/*
 * STARTTLS on an outbound session (RFC 3207) as the TLS decision
 * demands, and the check of the server's certificate after the
 * handshake (RFC 7672 §3, RFC 6125) for the levels that authenticate.
 * Under MAY a refusal or a failed setup leaves the session in clear
 * (tls_policy.h: tls_plaintext_fallback_ok()); no level that requires
 * TLS ever goes on without it.
 */
#include <stddef.h>

#include <openssl/ssl.h>

#include "log.h"
#include "netio.h"
#include "outcome.h"
#include "smtp_reply.h"
#include "smtpc_session.h"
#include "tls.h"
#include "tls_policy.h"

/* After the handshake: RFC 7672 §3 / RFC 6125 for the levels that
 * authenticate; MAY and ENCRYPT accept any certificate (RFC 7435). */
static int
check_auth(struct smtp_client *c, struct outcome *out)
{
	const char *why;

	(void)snprintf(c->tlsdesc, sizeof(c->tlsdesc), "%s/%s",
	    netio_tls_version(c->nio), netio_tls_cipher(c->nio));
	if (!tls_auth_required(c->tls.level)) {
		c->auth = "untrusted";
		/* RFC 8461 §5: testing mode reports what enforce would
		 * refuse, and delivers anyway. */
		if (c->tls.sts_testing && (why = tls_client_verify(
		    netio_ssl(c->nio))) != NULL)
			log_info("relay=%s mta-sts testing: enforce would "
			    "defer: certificate not verified: %s", c->relay,
			    why);
		return 0;
	}
	if ((why = tls_client_verify(netio_ssl(c->nio))) != NULL) {
		outcome_set(out, OUTCOME_DEFER, "4.7.5", "TLS %s: server "
		    "certificate of %s not verified: %s",
		    tls_level_name(c->tls.level), c->relay, why);
		return -1;
	}
	c->auth = tls_level_name(c->tls.level);
	return 0;
}

/*
 * RFC 3207: STARTTLS, handshake, and EHLO again (§4.2: forget what was
 * learnt in clear).  0 with TLS up or (under MAY) still in clear; 1 when
 * the handshake failed and the level allows retrying in clear; -1 with
 * out filled otherwise.
 */
int
smtpc_starttls(struct smtp_client *c, struct outcome *out, char *why,
    size_t whylen)
{
	struct smtp_reply r;
	int		 may = tls_plaintext_fallback_ok(c->tls.level);
	SSL		*ssl;

	if (!(c->ext & EHLO_STARTTLS) || c->opts.tls_ctx == NULL) {
		if (may)
			return 0;
		outcome_set(out, OUTCOME_DEFER, "4.7.4", "TLS is required "
		    "(%s, %s) but %s", tls_level_name(c->tls.level),
		    c->tls.why, c->opts.tls_ctx == NULL ? "no TLS client "
		    "context is available" : "the server does not offer "
		    "STARTTLS");
		return -1;
	}
	/* Before STARTTLS: a setup failure leaves the session in clear. */
	if ((ssl = tls_client_ssl(c->opts.tls_ctx, &c->tls,
	    c->tls.sni[0] ? c->tls.sni : c->host)) == NULL) {
		if (may)
			return 0;
		outcome_set(out, OUTCOME_DEFER, "4.7.5", "TLS %s: %s",
		    tls_level_name(c->tls.level), c->tls.level ==
		    TLS_LEVEL_DANE ? "no usable TLSA record" :
		    "TLS setup failed");
		return -1;
	}
	if (smtpc_command(c, &r, 0, "STARTTLS", out, "STARTTLS") == -1) {
		SSL_free(ssl);
		return -1;
	}
	if (r.code != 220) {
		SSL_free(ssl);
		if (c->dead)
			return smtpc_refused(c, &r, "STARTTLS", out);
		if (may)
			return 0;	/* §4.1: the session goes on in clear */
		outcome_set(out, OUTCOME_DEFER, "4.7.4", "TLS is required "
		    "(%s) but %s refused STARTTLS: %s",
		    tls_level_name(c->tls.level), c->relay, r.text);
		return -1;
	}
	if (netio_tls_connect(c->nio, ssl,
	    smtpc_stage_ms(c, c->opts.reply_timeout * 1000LL),
	    why, whylen) == -1) {
		c->dead = 1;
		if (may)
			return 1;
		outcome_set(out, OUTCOME_DEFER, "4.7.5", "TLS handshake with "
		    "%s failed: %s", c->relay, why);
		return -1;
	}
	if (check_auth(c, out) == -1)
		return -1;
	return smtpc_hello(c, out);
}
