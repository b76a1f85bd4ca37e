/*
 * Reply parsing for the SMTP client: RFC 5321 §4.2 reply lines, RFC 3463
 * enhanced status codes and RFC 5321 §4.1.1.1 EHLO keywords.  Pure: no
 * I/O, every input is (ptr, len).
 */
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "smtp_reply.h"
#include "util.h"

void
smtp_reply_init(struct smtp_reply *r, int ehlo)
{
	memset(r, 0, sizeof(*r));
	r->ehlo = ehlo;
}

static int
isdigit_c(char c)
{
	return c >= '0' && c <= '9';
}

/* Strips the line terminator: CRLF, or a bare LF from a sloppy peer. */
static size_t
chomp(const char *p, size_t len)
{
	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

/*
 * RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 * Reply-code [ SP textstring ] CRLF, with the code 2yz..5yz here (1yz is
 * never sent in SMTP).
 */
const char *
smtp_reply_line(const char *p, size_t len, int *code, int *last,
    const char **text, size_t *textlen)
{
	len = chomp(p, len);
	if (len < 3 || p[0] < '2' || p[0] > '5' || !isdigit_c(p[1]) ||
	    !isdigit_c(p[2]))
		return "reply does not start with a 3-digit code";
	if (len > 3 && p[3] != ' ' && p[3] != '-')
		return "reply code not followed by SP or -";
	*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	*last = len == 3 || p[3] == ' ';
	*text = len > 4 ? p + 4 : p + len;
	*textlen = len > 4 ? len - 4 : 0;
	return NULL;
}

/* RFC 3463 §2: class "." subject "." detail, subject and detail 1-3
 * digits; RFC 2034 §3: the class equals the reply code's first digit. */
size_t
smtp_status_parse(const char *p, size_t len, char cls)
{
	size_t	 i = 0, part, n;

	if (len < 5 || p[0] != cls || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && isdigit_c(p[i]) && n < 4; n++)
			i++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && p[i] != ' ')
		return 0;
	return i;
}

/* Appends (p, len) to the one-line text, controls and 8-bit bytes made
 * harmless: the text goes into log lines and DSNs as it is. */
static void
text_append(struct smtp_reply *r, const char *p, size_t len)
{
	size_t	 i;
	unsigned char c;

	for (i = 0; i < len && r->textlen + 1 < sizeof(r->text); i++) {
		c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c >= 0x80)
			c = '?';
		r->text[r->textlen++] = (char)c;
	}
	r->text[r->textlen] = '\0';
}

static void
reply_text(struct smtp_reply *r, int code, const char *t, size_t tlen)
{
	char	 num[8];
	size_t	 n;

	if (r->nlines == 1) {
		(void)snprintf(num, sizeof(num), "%d", code);
		text_append(r, num, strlen(num));
		if ((n = smtp_status_parse(t, tlen, num[0])) > 0 &&
		    n < sizeof(r->status))
			memcpy(r->status, t, n);
	} else if (r->status[0] != '\0') {
		/* "550-5.1.1 a" "550 5.1.1 b": say the code once. */
		n = strlen(r->status);
		if (tlen >= n && memcmp(t, r->status, n) == 0) {
			t += n;
			tlen -= n;
			while (tlen > 0 && *t == ' ') {
				t++;
				tlen--;
			}
		}
	}
	if (tlen == 0)
		return;
	text_append(r, " ", 1);
	text_append(r, t, tlen);
}

/* RFC 4954 §3: "AUTH" SP mechanism *(SP mechanism); the mechanisms
 * are kept as offered (bounded) for smtp_auth_choose(). */
static void
ehlo_auth(struct smtp_reply *r, const char *t, size_t tlen)
{
	size_t	 n = strlen(r->auth);

	tlen = chomp(t, tlen);
	if (tlen <= 5 || n + 1 + (tlen - 5) >= sizeof(r->auth))
		return;
	if (n > 0)
		r->auth[n++] = ' ';
	memcpy(r->auth + n, t + 5, tlen - 5);
	r->auth[n + tlen - 5] = '\0';
}

int
smtp_reply_add(struct smtp_reply *r, const char *p, size_t len,
    const char **why)
{
	const char	*t, *err;
	size_t		 tlen;
	unsigned	 kw;
	int		 code, last;

	if (r->done) {
		*why = "reply already complete";
		return -1;
	}
	if ((err = smtp_reply_line(p, len, &code, &last, &t, &tlen)) != NULL) {
		*why = err;
		return -1;
	}
	if (++r->nlines > SMTP_REPLY_MAX_LINES) {
		*why = "reply has too many lines";
		return -1;
	}
	reply_text(r, code, t, tlen);
	if (r->ehlo && r->nlines > 1) {
		kw = smtp_ehlo_keyword(t, tlen, &r->size);
		if (kw == EHLO_AUTH)
			ehlo_auth(r, t, tlen);
		r->ext |= kw;
	}
	/* §4.2.1: every line carries the same code; if a broken server
	 * changes it, the last line's code is the answer. */
	r->code = code;
	if (!last)
		return 0;
	r->done = 1;
	/* The text starts with the first line's code: say the final one. */
	r->text[0] = (char)('0' + code / 100);
	r->text[1] = (char)('0' + code / 10 % 10);
	r->text[2] = (char)('0' + code % 10);
	if (r->status[0] != '\0' && r->status[0] != '0' + code / 100)
		r->status[0] = '\0';
	return 1;
}

static const struct {
	const char	*name;
	unsigned	 flag;
} keywords[] = {
	{ "STARTTLS",		EHLO_STARTTLS },
	{ "PIPELINING",		EHLO_PIPELINING },
	{ "SIZE",		EHLO_SIZE },
	{ "8BITMIME",		EHLO_8BITMIME },
	{ "SMTPUTF8",		EHLO_SMTPUTF8 },
	{ "DSN",		EHLO_DSN },
	{ "ENHANCEDSTATUSCODES", EHLO_ENHANCEDSTATUSCODES },
	{ "CHUNKING",		EHLO_CHUNKING },
	{ "AUTH",		EHLO_AUTH },
};

/* RFC 1870 §4: "SIZE" [SP number]; 0 or absent means no fixed limit. */
static void
ehlo_size(const char *p, size_t len, unsigned long long *size)
{
	unsigned long long v = 0;
	size_t		 i;

	for (i = 0; i < len && p[i] == ' '; i++)
		;
	if (i == len)
		return;
	for (; i < len; i++) {
		if (!isdigit_c(p[i]) || v > (~0ULL - 9) / 10)
			return;		/* malformed: treat as no limit */
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*size = v;
}

/* RFC 5321 §4.1.1.1: ehlo-line = ehlo-keyword *( SP ehlo-param ). */
unsigned
smtp_ehlo_keyword(const char *p, size_t len, unsigned long long *size)
{
	size_t	 kw, i;

	len = chomp(p, len);
	for (kw = 0; kw < len && p[kw] != ' ' && p[kw] != '='; kw++)
		;
	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		if (!strn_caseeq(p, kw, keywords[i].name))
			continue;
		if (keywords[i].flag == EHLO_SIZE && kw < len && p[kw] == ' ')
			ehlo_size(p + kw, len - kw, size);
		return keywords[i].flag;
	}
	return 0;
}

const char *
smtp_reply_status(const struct smtp_reply *r, char *out, size_t len)
{
	if (r->status[0] != '\0')
		(void)strlcpy(out, r->status, len);
	else
		(void)snprintf(out, len, "%d.0.0", r->code / 100);
	return out;
}
