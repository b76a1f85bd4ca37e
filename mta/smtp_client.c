/*
 * Outbound SMTP, RFC 5321 client side: connect, greeting, EHLO (HELO
 * fallback), then STARTTLS per the TLS decision (smtpc_tls.c) and AUTH
 * when the next hop has credentials (smtpc_auth.c); under MAY a failed
 * handshake reconnects in clear.  The transactions are in smtpc_tx.c,
 * the reply reader and command writer in smtpc_io.c; QUIT here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "log.h"
#include "netio.h"
#include "smtp_client.h"
#include "smtp_reply.h"
#include "smtpc_session.h"
#include "tls_policy.h"
#include "util.h"

#define QUIT_TIMEOUT		10	/* seconds */

/* The copies below cannot be cut: a cut mechanism list could name
 * another mechanism, a cut host name another host to verify. */
_Static_assert(sizeof(((struct smtp_client *)0)->mechs) >=
    sizeof(((struct smtp_reply *)0)->auth), "AUTH mechanisms fit");
_Static_assert(sizeof(((struct smtp_client *)0)->host) >=
    sizeof(((struct mx_host *)0)->name), "host name fits");

/* RFC 5321 §4.1.1.1 EHLO, and HELO when EHLO is refused with 5xx
 * (§3.2: a server that does not support the extensions). */
int
smtpc_hello(struct smtp_client *c, struct outcome *out)
{
	struct smtp_reply r;
	char		 line[300];
	int		 n;

	/* A cut name would be another host's: config_validate() keeps the
	 * host name to 253 characters, this says so if that ever fails. */
	n = snprintf(line, sizeof(line), "EHLO %s", c->opts.helo);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		outcome_set(out, OUTCOME_DEFER, "4.3.5", "our host name is "
		    "longer than %zu characters: EHLO not sent",
		    sizeof(line) - 6);
		return -1;
	}
	if (smtpc_command(c, &r, 1, "EHLO", out, line) == -1)
		return -1;
	c->ext = 0;
	c->maxsize = 0;
	c->mechs[0] = '\0';
	if (r.code / 100 == 2) {
		c->ext = r.ext;
		c->maxsize = r.size;
		(void)strlcpy(c->mechs, r.auth, sizeof(c->mechs));
		return 0;
	}
	if (r.code / 100 != 5)
		return smtpc_refused(c, &r, "EHLO", out);
	memcpy(line, "HELO", 4);	/* as long as EHLO: it fits */
	if (smtpc_command(c, &r, 0, "HELO", out, line) == -1)
		return -1;
	if (r.code / 100 != 2)
		return smtpc_refused(c, &r, "HELO", out);
	return 0;
}

/* One session up to a usable state.  0, 1 (retry in clear), -1. */
static int
session(struct smtp_client *c, int try_tls, struct outcome *out, char *why,
    size_t whylen)
{
	struct smtp_reply r;
	char		 err[256];
	int		 fd;

	(void)strlcpy(c->tlsdesc, "none", sizeof(c->tlsdesc));
	c->auth = "none";
	c->dead = 0;
	c->need_rset = 0;
	if ((fd = netio_connect(c->addr.family, c->addr.addr, c->opts.port,
	    smtpc_stage_ms(c, c->opts.connect_timeout * 1000LL), err,
	    sizeof(err))) == -1) {
		outcome_set(out, OUTCOME_DEFER, "4.4.1", "connect to %s: %s",
		    c->relay, err);
		return -1;
	}
	c->nio = netio_new(fd);
	if (smtpc_read_reply(c, &r, 0, c->opts.reply_timeout, "the greeting",
	    out) == -1)
		return -1;
	/* A greeting came: a session for mx_session_limit (dlimit.h). */
	if (c->opts.sessions != NULL)
		(*c->opts.sessions)++;
	if (r.code != 220)
		return smtpc_refused(c, &r, "the session", out);
	if (smtpc_hello(c, out) == -1)
		return -1;
	if (try_tls && tls_starttls_wanted(c->tls.level))
		return smtpc_starttls(c, out, why, whylen);
	return 0;
}

static void
drop(struct smtp_client *c)
{
	netio_free(c->nio);
	c->nio = NULL;
}

struct smtp_client *
smtp_client_open(const struct mx_host *host, const struct mx_addr *addr,
    const struct tls_decision *tls, const struct smtp_client_opts *opts,
    struct outcome *out)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	char		 why[256];
	int		 rc;

	c->opts = *opts;
	if (c->opts.port <= 0)
		c->opts.port = 25;
	if (c->opts.connect_timeout <= 0)
		c->opts.connect_timeout = 30;
	if (c->opts.reply_timeout <= 0)
		c->opts.reply_timeout = 300;	/* RFC 5321 §4.5.3.2 */
	c->tls = *tls;
	c->addr = *addr;
	(void)strlcpy(c->host, host->name, sizeof(c->host));
	(void)snprintf(c->relay, sizeof(c->relay), "%s[%s]:%d", host->name,
	    addr->text, c->opts.port);
	memset(out, 0, sizeof(*out));
	rc = session(c, 1, out, why, sizeof(why));
	if (rc == 1) {
		/* RFC 7435 §1.3 via tls_plaintext_fallback_ok(): only MAY
		 * gets here.  A new connection, and no STARTTLS on it. */
		log_info("relay=%s TLS handshake failed (%s), retrying in "
		    "clear", c->relay, why);
		drop(c);
		rc = session(c, 0, out, why, sizeof(why));
	}
	if (rc == 0 && c->opts.cred != NULL)
		rc = smtpc_authenticate(c, out);
	if (rc != 0) {
		smtp_client_close(c);
		return NULL;
	}
	return c;
}

const char *
smtp_client_relay(const struct smtp_client *c)
{
	return c->relay;
}

const char *
smtp_client_tls(const struct smtp_client *c)
{
	return c->tlsdesc;
}

const char *
smtp_client_auth(const struct smtp_client *c)
{
	return c->auth;
}

void
smtp_client_close(struct smtp_client *c)
{
	struct smtp_reply r;
	struct outcome	 o;

	if (c == NULL)
		return;
	/* The mail is settled already: a server slow to answer QUIT gets
	 * little patience. */
	if (c->nio != NULL && !c->dead) {
		(void)netio_printf(c->nio, "QUIT\r\n");
		if (netio_flush(c->nio,
		    smtpc_stage_ms(c, QUIT_TIMEOUT * 1000LL)) == 0)
			(void)smtpc_read_reply(c, &r, 0, QUIT_TIMEOUT, "QUIT",
			    &o);
	}
	drop(c);
	free(c);
}

int
smtp_client_offers_dsn(const struct smtp_client *c)
{
	return (c->ext & EHLO_DSN) != 0;
}
