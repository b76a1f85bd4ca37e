/*
 * libFuzzer target: the SMTP command and path parsers (mta/smtp_parse.c,
 * smtp_path.c, smtp_param.c, smtp_xtext.c) on arbitrary command lines.
 * Invariants beyond "no crash, no read past len": a refusal is a
 * complete SMTP reply ("DDD D.D.D text"); an accepted
 * path is NUL-terminated within its bounds and its parts are consistent;
 * xtext decodes, encodes and decodes again to the same octets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parse.h"

static void
check_reply(const char *r)
{
	/* RFC 5321 §4.2: three digits; refusals are 4yz or 5yz. */
	if (strlen(r) < 4 || (r[0] != '4' && r[0] != '5') ||
	    r[1] < '0' || r[1] > '9' || r[2] < '0' || r[2] > '9' ||
	    r[3] != ' ')
		abort();
}

static void
check_path(const struct smtp_path *p)
{
	size_t	 mlen = strnlen(p->mailbox, sizeof(p->mailbox));
	size_t	 dlen = strnlen(p->domain, sizeof(p->domain));

	if (mlen == sizeof(p->mailbox) || dlen == sizeof(p->domain))
		abort();
	if (p->locallen > mlen)
		abort();
	if (memchr(p->mailbox, '\r', mlen) != NULL ||
	    memchr(p->mailbox, '\n', mlen) != NULL)
		abort();
	/* A domain, when there is one, is the end of the mailbox. */
	if (dlen > 0 && (dlen > mlen ||
	    strcmp(p->mailbox + mlen - dlen, p->domain) != 0))
		abort();
}

static void
check_xtext(const char *in, size_t len)
{
	char	 dec[1024], enc[3 * sizeof(dec)], again[sizeof(dec)];
	int	 n, e, m;

	if ((n = xtext_decode(in, len, dec, sizeof(dec))) < 0)
		return;
	if ((size_t)n >= sizeof(dec) || dec[n] != '\0' ||
	    memchr(dec, '\0', (size_t)n) != NULL)
		abort();
	if ((e = xtext_encode(dec, enc, sizeof(enc))) < 0)
		abort();
	if ((m = xtext_decode(enc, (size_t)e, again, sizeof(again))) != n ||
	    memcmp(dec, again, (size_t)n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*in = (const char *)data, *r;
	struct smtp_cmd	 cmd;
	struct smtp_mail mail;
	struct smtp_rcpt rcpt;
	char		 helo[SMTP_DOMAIN_MAX + 1];

	if ((r = smtp_cmd_parse(in, size, &cmd)) != NULL)
		check_reply(r);
	else if (cmd.arglen > 0 && (cmd.arg < in ||
	    cmd.arg + cmd.arglen > in + size))
		abort();
	else if (cmd.verb == SMTP_CMD_MAIL) {
		if ((r = smtp_mail_parse(cmd.arg, cmd.arglen, &mail)) != NULL)
			check_reply(r);
		else
			check_path(&mail.path);
	} else if (cmd.verb == SMTP_CMD_RCPT) {
		if ((r = smtp_rcpt_parse(cmd.arg, cmd.arglen, size & 1,
		    &rcpt)) != NULL)
			check_reply(r);
		else
			check_path(&rcpt.path);
	} else if (cmd.verb == SMTP_CMD_HELO || cmd.verb == SMTP_CMD_EHLO) {
		if ((r = smtp_helo_parse(cmd.arg, cmd.arglen, helo)) != NULL)
			check_reply(r);
		else if (strnlen(helo, sizeof(helo)) == sizeof(helo))
			abort();
	}

	/* The argument parsers straight on the input, too. */
	if ((r = smtp_mail_parse(in, size, &mail)) != NULL)
		check_reply(r);
	else
		check_path(&mail.path);
	if ((r = smtp_rcpt_parse(in, size, 1, &rcpt)) != NULL)
		check_reply(r);
	else
		check_path(&rcpt.path);
	if ((r = smtp_helo_parse(in, size, helo)) != NULL)
		check_reply(r);
	check_xtext(in, size);
	return 0;
}
