/*
 * One transaction on an outbound session: MAIL, RCPT and DATA, with
 * PIPELINING when offered (RFC 2920), SIZE (RFC 1870), 8BITMIME
 * (RFC 6152), SMTPUTF8 (RFC 6531) and DSN (RFC 3461) parameters, the body
 * dot-stuffed with CRLF only (smtp_wire.h), and RSET between messages so
 * one connection carries several.
 *
 * Outcomes: every recipient leaves smtp_client_send() with one.  During a
 * transaction an accepted RCPT is held as a tentative SENT; the reply to
 * the final "." (or any failure before it) settles every tentative and
 * unanswered recipient at once, while recipients the server refused keep
 * their own RCPT reply.
 */
#include <stdio.h>
#include <string.h>

#include "netio.h"
#include "outcome.h"
#include "queue.h"
#include "smtp_client.h"
#include "smtp_reply.h"
#include "smtp_wire.h"
#include "smtpc_session.h"
#include "util.h"

/* Flush the body to the socket in pieces of about this size. */
#define BODY_CHUNK	65536
/* RFC 5321 §4.5.3.2.6: the reply to "." may take twice the others. */
#define DOT_TIMEOUT_FACTOR	2

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
		rc = smtpc_flush_out(c, "the message body", fail);
	}
	buf_free(&b);
	if (rc == -1)
		return -1;
	(void)netio_write(c->nio, ".\r\n", 3);
	return smtpc_flush_out(c, "the end of data", fail);
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
	if (smtpc_command(c, &r, 0, "RSET", &o, "RSET") == -1 ||
	    r.code / 100 != 2) {
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
	    smtpc_read_reply(c, &r, 0,
	    c->opts.reply_timeout * DOT_TIMEOUT_FACTOR, "end of data",
	    &o) == -1) {
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

	if (smtpc_read_reply(c, &r, 0, c->opts.reply_timeout, "DATA",
	    &o) == -1) {
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
	if (smtpc_flush_out(c, "MAIL FROM", &o) == -1 ||
	    smtpc_read_reply(c, &r, 0, c->opts.reply_timeout, "MAIL FROM",
	    &o) == -1)
		goto lost;
	remote_outcome(c, &mailo, &r);
	for (i = 0; i < t->n; i++) {
		if (t->out[i].kind != OUTCOME_NONE)
			continue;
		if (smtpc_read_reply(c, &r, 0, c->opts.reply_timeout, "RCPT TO",
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
	if ((rc = smtpc_command(c, &r, 0, "MAIL FROM", &o, b.data)) == 0 &&
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
		if ((rc = smtpc_command(c, &r, 0, "RCPT TO", &o,
		    b.data)) == 0)
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
	if (smtpc_flush_out(c, "DATA", &o) == -1) {
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
