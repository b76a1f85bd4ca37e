/*
 * AUTH on an outbound session (RFC 4954), after EHLO on TLS: PLAIN with
 * the initial response (RFC 4616), LOGIN as the fallback.  The lines
 * that carry a secret are wiped once written; every failure is a DEFER
 * about our configuration, never a bounce.  The encodings are in
 * smtp_auth.c.
 */
#include <string.h>

#include "compat.h"
#include "log.h"
#include "netio.h"
#include "outcome.h"
#include "smtp_auth.h"
#include "smtp_reply.h"
#include "smtpc_session.h"
#include "util.h"

/* Sends a line that carries a secret and reads the reply; the copy in
 * b is wiped whatever happens. */
static int
secret_command(struct smtp_client *c, struct smtp_reply *r, struct buf *b,
    struct outcome *out)
{
	buf_appendstr(b, "\r\n");
	(void)netio_write(c->nio, b->data, b->len);
	explicit_bzero(b->data, b->len);
	buf_reset(b);
	if (smtpc_flush_out(c, "AUTH", out) == -1)
		return -1;
	return smtpc_read_reply(c, r, 0, c->opts.reply_timeout, "AUTH", out);
}

/* RFC 4954 §4 with the RFC 4616 initial response: one round trip. */
static int
auth_plain(struct smtp_client *c, struct smtp_reply *r, struct outcome *out)
{
	struct buf	 b;
	int		 rc;

	buf_init(&b);
	smtp_auth_plain(&b, c->opts.cred->user, c->opts.cred->pass);
	rc = secret_command(c, r, &b, out);
	buf_free(&b);
	return rc;
}

/* LOGIN: the user name and the password, each after a 334 challenge
 * (whatever its text says). */
static int
auth_login(struct smtp_client *c, struct smtp_reply *r, struct outcome *out)
{
	const char	*step[2] = { c->opts.cred->user, c->opts.cred->pass };
	struct buf	 b;
	int		 i, rc;

	if ((rc = smtpc_command(c, r, 0, "AUTH", out, "AUTH LOGIN")) == -1)
		return -1;
	buf_init(&b);
	for (i = 0; i < 2 && rc == 0 && r->code == 334; i++) {
		smtp_auth_base64(&b, step[i], strlen(step[i]));
		rc = secret_command(c, r, &b, out);
	}
	buf_free(&b);
	return rc;
}

/* The final reply: 235 or a DEFER.  RFC 4954 §6: 535 5.7.8 means the
 * credentials are wrong; like every AUTH failure it is about our
 * configuration, not the message, so the mail waits (4.7.8). */
static int
auth_result(struct smtp_client *c, const struct smtp_reply *r,
    enum smtp_auth_mech m, struct outcome *out)
{
	struct smtp_reply cancel;
	struct outcome	 o;
	char		 st[12];

	if (r->code == 235) {
		log_info("relay=%s authenticated: AUTH %s as %s",
		    c->relay, smtp_auth_mech_name(m), c->opts.cred->user);
		return 0;
	}
	/* §4: "*" cancels an exchange the server wants to go on with. */
	if (r->code == 334)
		(void)smtpc_command(c, &cancel, 0, "AUTH", &o, "*");
	(void)smtp_reply_status(r, st, sizeof(st));
	if (r->code == 535 || r->code == 334)
		(void)strlcpy(st, r->code == 535 ? "4.7.8" : "4.7.0",
		    sizeof(st));
	st[0] = '4';
	/* The user name goes to the log, not into the outcome: that text
	 * may reach the sender in a delay notice. */
	log_info("relay=%s AUTH %s as %s refused: %s", c->relay,
	    smtp_auth_mech_name(m), c->opts.cred->user, r->text);
	outcome_set(out, OUTCOME_DEFER, st, "%s authentication failed: AUTH "
	    "%s to %s: %s", st, smtp_auth_mech_name(m), c->relay, r->text);
	if (r->code == 421)
		c->dead = 1;
	return -1;
}

/*
 * RFC 4954 client side, after EHLO on the TLS session.  §4 and RFC 8314
 * §3: a password never travels in clear, so without TLS nothing is sent
 * and the mail waits (4.7.10, encryption needed).  PLAIN is preferred,
 * LOGIN the fallback; a server that offers neither is not written to.
 */
int
smtpc_authenticate(struct smtp_client *c, struct outcome *out)
{
	struct smtp_reply	 r;
	enum smtp_auth_mech	 m;
	int			 rc;

	if (netio_ssl(c->nio) == NULL) {
		outcome_set(out, OUTCOME_DEFER, "4.7.10", "4.7.10 TLS is not "
		    "up with %s: refusing to send credentials in clear",
		    c->relay);
		return -1;
	}
	m = smtp_auth_choose(c->mechs, strlen(c->mechs));
	if (!(c->ext & EHLO_AUTH) || m == SMTP_AUTH_NONE) {
		outcome_set(out, OUTCOME_DEFER, "4.7.0", "4.7.0 credentials "
		    "for %s are configured, but it offers no AUTH PLAIN or "
		    "LOGIN (AUTH %s)", c->relay, c->ext & EHLO_AUTH ?
		    c->mechs : "not offered");
		return -1;
	}
	rc = m == SMTP_AUTH_PLAIN ? auth_plain(c, &r, out) :
	    auth_login(c, &r, out);
	if (rc == -1)
		return -1;
	return auth_result(c, &r, m, out);
}
