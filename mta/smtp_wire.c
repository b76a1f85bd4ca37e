/*
 * The bytes the SMTP client sends: commands with their parameters and the
 * body transparency of RFC 5321 §4.5.2.  Pure: unit-tested by tables.
 */
#include <string.h>

#include "smtp_reply.h"
#include "smtp_wire.h"

int
smtp_wire_path_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '<' ||
		    *s == '>')
			return 0;
	return 1;
}

int
smtp_wire_8bit(const char *s)
{
	for (; s != NULL && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* RFC 3461 §4: xtext = *( xchar / hexchar ), xchar is "!" to "~" but
 * "+" and "="; "+" only as "+XX".  Values are stored as received. */
int
smtp_wire_xtext_ok(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 ||
		    *s == '=')
			return 0;
		if (*s != '+')
			continue;
		if (s[1] == '\0' || s[2] == '\0' || strchr(hex, s[1]) ==
		    NULL || strchr(hex, s[2]) == NULL)
			return 0;
		s += 2;
	}
	return 1;
}

void
smtp_wire_mail(struct buf *b, const struct qmsg *m, unsigned ext,
    size_t size)
{
	buf_printf(b, "MAIL FROM:<%s>", m->sender ? m->sender : "");
	if (ext & EHLO_SIZE)
		buf_printf(b, " SIZE=%zu", size);
	/* RFC 6152 §3 would have an 8-bit body downgraded for a server
	 * without 8BITMIME; like most MTAs we send it unchanged. */
	if ((m->flags & QMSG_8BITMIME) && (ext & EHLO_8BITMIME))
		buf_appendstr(b, " BODY=8BITMIME");
	if ((m->flags & QMSG_SMTPUTF8) && (ext & EHLO_SMTPUTF8))
		buf_appendstr(b, " SMTPUTF8");
	if (!(ext & EHLO_DSN))
		return;
	if (m->flags & QMSG_RET_FULL)
		buf_appendstr(b, " RET=FULL");
	else if (m->flags & QMSG_RET_HDRS)
		buf_appendstr(b, " RET=HDRS");
	if (m->envid != NULL && *m->envid != '\0' &&
	    smtp_wire_xtext_ok(m->envid))
		buf_printf(b, " ENVID=%s", m->envid);
}

/* RFC 3461 §4.1: NEVER, or a list of SUCCESS, FAILURE, DELAY. */
static void
notify(struct buf *b, unsigned n)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} t[] = { { QNOTIFY_SUCCESS, "SUCCESS" },
	    { QNOTIFY_FAILURE, "FAILURE" }, { QNOTIFY_DELAY, "DELAY" } };
	const char	*sep = " NOTIFY=";
	size_t		 i;

	if (n & QNOTIFY_NEVER) {
		buf_appendstr(b, " NOTIFY=NEVER");
		return;
	}
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!(n & t[i].bit))
			continue;
		buf_appendstr(b, sep);
		buf_appendstr(b, t[i].name);
		sep = ",";
	}
}

void
smtp_wire_rcpt(struct buf *b, const struct qrcpt *r, unsigned ext)
{
	const char	*semi;

	buf_printf(b, "RCPT TO:<%s>", r->addr);
	if (!(ext & EHLO_DSN))
		return;
	notify(b, r->notify);
	/* ORCPT = addr-type ";" xtext (RFC 3461 §4.2) */
	if (r->orcpt != NULL && (semi = strchr(r->orcpt, ';')) != NULL &&
	    semi != r->orcpt && smtp_wire_xtext_ok(r->orcpt))
		buf_printf(b, " ORCPT=%s", r->orcpt);
}

size_t
smtp_wire_body(struct buf *b, const char *p, size_t len, size_t limit)
{
	size_t	 i = 0, j;

	while (i < len && b->len < limit) {
		/* §4.5.2: a line starting with "." gets one more. */
		if (p[i] == '.')
			buf_append(b, ".", 1);
		for (j = i; j < len && p[j] != '\r' && p[j] != '\n'; j++)
			;
		buf_append(b, p + i, j - i);
		buf_append(b, "\r\n", 2);
		/* CRLF is one end; a bare CR or LF is one end too. */
		if (j + 1 < len && p[j] == '\r' && p[j + 1] == '\n')
			j++;
		i = j + 1;
	}
	return i < len ? i : len;
}
