/*
 * Outbound SMTP, RFC 5321 client side: connect, greeting, EHLO (HELO
 * fallback), STARTTLS per the TLS decision (RFC 3207), then transactions
 * with PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
 * SMTPUTF8 (RFC 6531) and DSN (RFC 3461) parameters when offered, and
 * AUTH (RFC 4954) when the next hop has credentials.
 *
 * Outcomes: every recipient leaves smtp_client_send() with one.  During a
 * transaction an accepted RCPT is held as a tentative SENT; the reply to
 * the final "." (or any failure before it) settles every tentative and
 * unanswered recipient at once, while recipients the server refused keep
 * their own RCPT reply.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "compat.h"
#include "dlimit.h"
#include "log.h"
#include "netio.h"
#include "smtp_auth.h"
#include "smtp_client.h"
#include "smtp_reply.h"
#include "smtp_wire.h"
#include "tls.h"
#include "util.h"

/* Flush the body to the socket in pieces of about this size. */
#define BODY_CHUNK	65536
/* RFC 5321 §4.5.3.2.6: the reply to "." may take twice the others. */
#define DOT_TIMEOUT_FACTOR	2
#define QUIT_TIMEOUT		10	/* seconds */

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

/* One transaction: the recipients and where their outcomes go. */
struct tx {
	struct smtp_client	*c;
	const struct qmsg	*msg;
	const struct qrcpt *const *rcpts;
	size_t			 n;
	struct outcome		*out;
	size_t			 accepted;
	size_t			 size;	/* body bytes for SIZE= */
};

/* A reply as an outcome: 2xx SENT, 4xx DEFER, 5xx BOUNCE (RFC 5321
 * §4.2.1), the remote text unchanged, its enhanced status or one derived. */
static void
remote_outcome(struct smtp_client *c, struct outcome *o,
    const struct smtp_reply *r)
{
	enum outcome_kind k = r->code < 400 ? OUTCOME_SENT :
	    r->code < 500 ? OUTCOME_DEFER : OUTCOME_BOUNCE;
	char		 st[12];

	outcome_set(o, k, smtp_reply_status(r, st, sizeof(st)), "%s",
	    r->text);
	/* §3.8: 421 means the server is closing the channel. */
	if (r->code == 421)
		c->dead = 1;
}

/* A stage's time in ms: its own timeout, cut to what is left of the
 * job's deadline (dlimit.h), so no stage outlives the job. */
static int
stage_ms(const struct smtp_client *c, int64_t ms)
{
	return (int)dlimit_stage_ms(ms, mono_msec(), c->opts.deadline);
}

/* Why a stage ran out of time: its own timeout or the job's. */
static const char *
timed_out(const struct smtp_client *c)
{
	return c->opts.deadline > 0 && mono_msec() >= c->opts.deadline ?
	    "delivery_job_timeout reached" : "conversation timed out";
}

/* Reads one whole reply.  0, or -1 with fail filled (DEFER) and the
 * connection marked dead. */
static int
read_reply(struct smtp_client *c, struct smtp_reply *r, int ehlo,
    int timeout, const char *stage, struct outcome *fail)
{
	int64_t		 deadline = mono_msec() + stage_ms(c, timeout * 1000LL);
	const char	*line, *why = NULL;
	size_t		 len;
	enum netio_line	 rc;
	int		 left, done = 0;

	smtp_reply_init(r, ehlo);
	while (!done) {
		left = (int)(deadline - mono_msec());
		rc = netio_getline(c->nio, &line, &len, SMTP_REPLY_LINE_MAX,
		    left > 0 ? left : 0);
		if (rc == NETIO_LINE_TIMEOUT)
			why = timed_out(c);
		else if (rc == NETIO_LINE_EOF || rc == NETIO_LINE_ERROR)
			why = "lost connection";
		else if (rc == NETIO_LINE_LONG)
			why = "reply line too long";
		else if ((done = smtp_reply_add(r, line, len, &why)) == -1)
			done = 0;
		else
			why = NULL;
		if (why == NULL)
			continue;
		c->dead = 1;
		if (rc == NETIO_LINE_OK || rc == NETIO_LINE_LONG)
			outcome_set(fail, OUTCOME_DEFER, "4.5.0", "protocol "
			    "error with %s in the reply to %s: %s", c->relay,
			    stage, why);
		else
			outcome_set(fail, OUTCOME_DEFER, "4.4.2", "%s with %s "
			    "while receiving the reply to %s", why, c->relay,
			    stage);
		return -1;
	}
	return 0;
}

static int
flush_out(struct smtp_client *c, const char *stage, struct outcome *fail)
{
	if (netio_flush(c->nio, stage_ms(c, c->opts.reply_timeout * 1000LL))
	    == 0)
		return 0;
	c->dead = 1;
	outcome_set(fail, OUTCOME_DEFER, "4.4.2", "%s with %s while sending %s",
	    errno == ETIMEDOUT ? timed_out(c) : "lost connection",
	    c->relay, stage);
	return -1;
}

/* Sends one command line and reads its reply. */
static int
command(struct smtp_client *c, struct smtp_reply *r, int ehlo,
    const char *stage, struct outcome *fail, const char *line)
{
	(void)netio_printf(c->nio, "%s\r\n", line);
	if (flush_out(c, stage, fail) == -1)
		return -1;
	return read_reply(c, r, ehlo, c->opts.reply_timeout, stage, fail);
}

/* A refusal of the session (greeting, EHLO, HELO, STARTTLS): DEFER so
 * the caller tries the next address, the remote status kept. */
static int
refused(struct smtp_client *c, const struct smtp_reply *r, const char *stage,
    struct outcome *out)
{
	char	 st[12];

	outcome_set(out, OUTCOME_DEFER, smtp_reply_status(r, st, sizeof(st)),
	    "host %s refused %s: %s", c->relay, stage, r->text);
	return -1;
}

/* RFC 5321 §4.1.1.1 EHLO, and HELO when EHLO is refused with 5xx
 * (§3.2: a server that does not support the extensions). */
static int
hello(struct smtp_client *c, struct outcome *out)
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
	if (command(c, &r, 1, "EHLO", out, line) == -1)
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
		return refused(c, &r, "EHLO", out);
	memcpy(line, "HELO", 4);	/* as long as EHLO: it fits */
	if (command(c, &r, 0, "HELO", out, line) == -1)
		return -1;
	if (r.code / 100 != 2)
		return refused(c, &r, "HELO", out);
	return 0;
}

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
static int
starttls(struct smtp_client *c, struct outcome *out, char *why,
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
	if (command(c, &r, 0, "STARTTLS", out, "STARTTLS") == -1) {
		SSL_free(ssl);
		return -1;
	}
	if (r.code != 220) {
		SSL_free(ssl);
		if (c->dead)
			return refused(c, &r, "STARTTLS", out);
		if (may)
			return 0;	/* §4.1: the session goes on in clear */
		outcome_set(out, OUTCOME_DEFER, "4.7.4", "TLS is required "
		    "(%s) but %s refused STARTTLS: %s",
		    tls_level_name(c->tls.level), c->relay, r.text);
		return -1;
	}
	if (netio_tls_connect(c->nio, ssl,
	    stage_ms(c, c->opts.reply_timeout * 1000LL),
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
	return hello(c, out);
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
	    stage_ms(c, c->opts.connect_timeout * 1000LL), err,
	    sizeof(err))) == -1) {
		outcome_set(out, OUTCOME_DEFER, "4.4.1", "connect to %s: %s",
		    c->relay, err);
		return -1;
	}
	c->nio = netio_new(fd);
	if (read_reply(c, &r, 0, c->opts.reply_timeout, "the greeting",
	    out) == -1)
		return -1;
	/* A greeting came: a session for mx_session_limit (dlimit.h). */
	if (c->opts.sessions != NULL)
		(*c->opts.sessions)++;
	if (r.code != 220)
		return refused(c, &r, "the session", out);
	if (hello(c, out) == -1)
		return -1;
	if (try_tls && tls_starttls_wanted(c->tls.level))
		return starttls(c, out, why, whylen);
	return 0;
}

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
	if (flush_out(c, "AUTH", out) == -1)
		return -1;
	return read_reply(c, r, 0, c->opts.reply_timeout, "AUTH", out);
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

	if ((rc = command(c, r, 0, "AUTH", out, "AUTH LOGIN")) == -1)
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
		(void)command(c, &cancel, 0, "AUTH", &o, "*");
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
static int
authenticate(struct smtp_client *c, struct outcome *out)
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
		rc = authenticate(c, out);
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

/* Gives every recipient still open (no reply, or a tentative SENT) the
 * outcome o; refused recipients keep their own. */
static void
settle(struct tx *t, const struct outcome *o)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (t->out[i].kind == OUTCOME_NONE ||
		    t->out[i].kind == OUTCOME_SENT)
			t->out[i] = *o;
}

/* The body in chunks (smtp_wire.h: dot-stuffed, CRLF only), then the
 * end of data, CRLF "." CRLF (RFC 5321 §4.1.1.4). */
static int
send_body(struct smtp_client *c, const char *p, size_t len,
    struct outcome *fail)
{
	struct buf	 b;
	size_t		 off = 0;
	int		 rc = 0;

	buf_init(&b);
	while (off < len && rc == 0) {
		buf_reset(&b);
		off += smtp_wire_body(&b, p + off, len - off, BODY_CHUNK);
		(void)netio_write(c->nio, b.data, b.len);
		rc = flush_out(c, "the message body", fail);
	}
	buf_free(&b);
	if (rc == -1)
		return -1;
	(void)netio_write(c->nio, ".\r\n", 3);
	return flush_out(c, "the end of data", fail);
}

/* Aborts the transaction with RSET; whether the session is still usable. */
static int
reset(struct smtp_client *c)
{
	struct smtp_reply r;
	struct outcome	 o;

	if (c->dead)
		return -1;
	c->need_rset = 0;
	if (command(c, &r, 0, "RSET", &o, "RSET") == -1 || r.code / 100 != 2) {
		c->dead = 1;
		return -1;
	}
	return 0;
}

/* The reply to one RCPT: a tentative SENT, or the refusal. */
static void
rcpt_reply(struct tx *t, size_t i, const struct smtp_reply *r)
{
	remote_outcome(t->c, &t->out[i], r);
	if (t->out[i].kind == OUTCOME_SENT)
		t->accepted++;
}

/* DATA was answered 354: the body, then the reply to ".". */
static int
data_phase(struct tx *t, const char *body, size_t bodylen)
{
	struct smtp_client *c = t->c;
	struct smtp_reply r;
	struct outcome	 o;

	if (t->accepted == 0) {
		/* RFC 2920 §3.1: a 354 after no valid RCPT; send an empty
		 * message that has no recipient, then reset. */
		body = "";
		bodylen = 0;
	}
	if (send_body(c, body, bodylen, &o) == -1 ||
	    read_reply(c, &r, 0, c->opts.reply_timeout * DOT_TIMEOUT_FACTOR,
	    "end of data", &o) == -1) {
		settle(t, &o);
		return -1;
	}
	if (t->accepted == 0)
		return reset(c);
	remote_outcome(c, &o, &r);
	settle(t, &o);
	c->need_rset = 1;
	if (r.code / 100 != 2)
		return reset(c);
	return c->dead ? -1 : 0;
}

/* After DATA was sent (pipelined or not): its reply decides. */
static int
data_reply(struct tx *t, const char *body, size_t bodylen)
{
	struct smtp_client *c = t->c;
	struct smtp_reply r;
	struct outcome	 o;

	if (read_reply(c, &r, 0, c->opts.reply_timeout, "DATA", &o) == -1) {
		settle(t, &o);
		return -1;
	}
	if (r.code == 354)
		return data_phase(t, body, bodylen);
	remote_outcome(c, &o, &r);
	if (t->accepted > 0)
		settle(t, &o);
	return reset(c);
}

/* RFC 2920 §3.1: MAIL, every RCPT and DATA in one write, the replies
 * read in order. */
static int
tx_pipelined(struct tx *t, const char *body, size_t bodylen)
{
	struct smtp_client *c = t->c;
	struct smtp_reply r;
	struct outcome	 o, mailo;
	struct buf	 b;
	size_t		 i;

	buf_init(&b);
	smtp_wire_mail(&b, t->msg, c->ext, t->size);
	buf_appendstr(&b, "\r\n");
	for (i = 0; i < t->n; i++) {
		if (t->out[i].kind != OUTCOME_NONE)
			continue;	/* refused by precheck() */
		smtp_wire_rcpt(&b, t->rcpts[i], c->ext);
		buf_appendstr(&b, "\r\n");
	}
	buf_appendstr(&b, "DATA\r\n");
	(void)netio_write(c->nio, b.data, b.len);
	buf_free(&b);
	if (flush_out(c, "MAIL FROM", &o) == -1 ||
	    read_reply(c, &r, 0, c->opts.reply_timeout, "MAIL FROM", &o) == -1)
		goto lost;
	remote_outcome(c, &mailo, &r);
	for (i = 0; i < t->n; i++) {
		if (t->out[i].kind != OUTCOME_NONE)
			continue;
		if (read_reply(c, &r, 0, c->opts.reply_timeout, "RCPT TO",
		    &o) == -1)
			goto lost;
		if (mailo.kind == OUTCOME_SENT)
			rcpt_reply(t, i, &r);
	}
	if (mailo.kind != OUTCOME_SENT)
		settle(t, &mailo);
	return data_reply(t, body, bodylen);
lost:
	settle(t, &o);
	return -1;
}

/* One command at a time; RSET instead of DATA when no RCPT passed. */
static int
tx_lockstep(struct tx *t, const char *body, size_t bodylen)
{
	struct smtp_client *c = t->c;
	struct smtp_reply r;
	struct outcome	 o;
	struct buf	 b;
	size_t		 i;
	int		 rc;

	buf_init(&b);
	smtp_wire_mail(&b, t->msg, c->ext, t->size);
	if ((rc = command(c, &r, 0, "MAIL FROM", &o, b.data)) == 0 &&
	    r.code / 100 != 2) {
		buf_free(&b);
		remote_outcome(c, &o, &r);
		settle(t, &o);
		return reset(c);
	}
	for (i = 0; rc == 0 && !c->dead && i < t->n; i++) {
		if (t->out[i].kind != OUTCOME_NONE)
			continue;	/* refused by precheck() */
		buf_reset(&b);
		smtp_wire_rcpt(&b, t->rcpts[i], c->ext);
		if ((rc = command(c, &r, 0, "RCPT TO", &o, b.data)) == 0)
			rcpt_reply(t, i, &r);
	}
	buf_free(&b);
	if (rc == -1 || c->dead) {
		if (rc == 0)
			outcome_set(&o, OUTCOME_DEFER, "4.4.2", "%s closed "
			    "the connection (421)", c->relay);
		settle(t, &o);
		return -1;
	}
	if (t->accepted == 0)
		return reset(c);
	(void)netio_printf(c->nio, "DATA\r\n");
	if (flush_out(c, "DATA", &o) == -1) {
		settle(t, &o);
		return -1;
	}
	return data_reply(t, body, bodylen);
}

/* Refuses one recipient (i) or, with i == n, every open one. */
static void
refuse(struct tx *t, size_t i, const char *status, const char *why)
{
	struct outcome	 o;

	outcome_set(&o, OUTCOME_BOUNCE, status, "%s (not sent to %s)", why,
	    t->c->relay);
	if (i == t->n)
		settle(t, &o);
	else
		t->out[i] = o;
}

/*
 * Checks made before any command: SIZE (RFC 1870 §6), paths that could
 * not be sent as they are, and SMTPUTF8 (RFC 6531 §3.2: an address with
 * 8-bit characters needs the extension).  0 to go on, 1 when every
 * recipient already has its outcome.
 */
static int
precheck(struct tx *t)
{
	const struct qmsg *m = t->msg;
	unsigned	 utf8 = t->c->ext & EHLO_SMTPUTF8;
	size_t		 i, left = 0;
	char		 why[128];

	if (t->c->maxsize > 0 && t->size > t->c->maxsize) {
		(void)snprintf(why, sizeof(why), "message size %zu exceeds "
		    "the size limit %llu", t->size, t->c->maxsize);
		refuse(t, t->n, "5.3.4", why);
	} else if (!smtp_wire_path_ok(m->sender ? m->sender : ""))
		refuse(t, t->n, "5.1.7", "bad sender address syntax");
	else if (!utf8 && smtp_wire_8bit(m->sender))
		refuse(t, t->n, "5.6.7", "SMTPUTF8 is required");
	for (i = 0; i < t->n; i++) {
		if (t->out[i].kind != OUTCOME_NONE)
			continue;
		if (!smtp_wire_path_ok(t->rcpts[i]->addr))
			refuse(t, i, "5.1.3", "bad recipient address syntax");
		else if (!utf8 && smtp_wire_8bit(t->rcpts[i]->addr))
			refuse(t, i, "5.6.7", "SMTPUTF8 is required");
		else
			left++;
	}
	return left == 0;
}

int
smtp_client_send(struct smtp_client *c, const struct qmsg *msg,
    const struct qrcpt *const *rcpts, size_t n, const char *body,
    size_t bodylen, struct outcome *rcpt_out)
{
	struct tx	 t = { c, msg, rcpts, n, rcpt_out, 0, bodylen };
	struct outcome	 o;

	memset(rcpt_out, 0, n * sizeof(*rcpt_out));
	if (c->dead || c->nio == NULL) {
		outcome_set(&o, OUTCOME_DEFER, "4.4.2", "connection to %s "
		    "already closed", c->relay);
		settle(&t, &o);
		return -1;
	}
	/* A reused session starts clean (RFC 5321 §4.1.1.5) and RSET
	 * proves it is still alive before a message is committed to it. */
	if (c->need_rset && reset(c) == -1) {
		outcome_set(&o, OUTCOME_DEFER, "4.4.2", "lost connection with "
		    "%s while reusing it (RSET)", c->relay);
		settle(&t, &o);
		return -1;
	}
	if (n == 0 || precheck(&t))
		return 0;
	c->need_rset = 1;
	if (c->ext & EHLO_PIPELINING)
		return tx_pipelined(&t, body, bodylen);
	return tx_lockstep(&t, body, bodylen);
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
		if (netio_flush(c->nio, stage_ms(c, QUIT_TIMEOUT * 1000LL))
		    == 0)
			(void)read_reply(c, &r, 0, QUIT_TIMEOUT, "QUIT", &o);
	}
	drop(c);
	free(c);
}

int
smtp_client_offers_dsn(const struct smtp_client *c)
{
	return (c->ext & EHLO_DSN) != 0;
}
