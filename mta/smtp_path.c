/*
 * smtp_path: the reverse- and forward-path of MAIL and RCPT, RFC 5321
 * §4.1.2.  Pure, bounded by the (ptr, len) it is given.
 *
 * Grammar accepted (RFC 5321 §4.1.2, RFC 6531 §3.3 for UTF-8):
 *   Path       = "<" [ A-d-l ":" ] Mailbox ">"     (the route is dropped)
 *   Mailbox    = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string        (<= 64 octets)
 *   Domain     = sub-domain *("." sub-domain)      (<= 255, labels <= 63)
 *   literal    = "[" IPv4 "]" / "[IPv6:" IPv6 "]"  (general literals refused)
 * plus "<>" for MAIL and "<postmaster>" (any case) for RCPT (§4.1.1.3).
 * A space after "FROM:"/"TO:" is tolerated (common, harmless); a missing
 * pair of angle brackets is not.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <string.h>

#include "smtp_parse.h"
#include "smtp_path.h"
#include "util.h"

/*
 * Length of the well-formed UTF-8 sequence (2..4 octets) at p, or 0
 * (RFC 3629 §4: no overlongs, no surrogates, nothing above U+10FFFF).
 */
static size_t
utf8_seq(const unsigned char *p, size_t len)
{
	size_t		 n, i;
	unsigned char	 lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Letters and digits of US-ASCII only, whatever the locale says. */
int
smtp_ascii_alnum(unsigned char c)
{
	return c < 0x80 && isalnum(c);
}

/* atext, RFC 5322 §3.2.3 */
int
smtp_is_atext(unsigned char c)
{
	return smtp_ascii_alnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* qtextSMTP, RFC 5321 §4.1.2: %d32-33 / %d35-91 / %d93-126 */
static int
is_qtext(unsigned char c)
{
	return c == 32 || c == 33 || (c >= 35 && c <= 91) ||
	    (c >= 93 && c <= 126);
}

const char *const smtp_perr_reply[][2] = {
	[SMTP_PE_OK] = { NULL, NULL },
	[SMTP_PE_SYNTAX] = { "501 5.1.7 Bad sender address syntax",
	    "501 5.1.3 Bad recipient address syntax" },
	[SMTP_PE_LOCAL_LONG] = { "501 5.1.7 Sender local part too long",
	    "501 5.1.3 Recipient local part too long" },
	[SMTP_PE_DOMAIN_LONG] = { "501 5.1.7 Sender domain too long",
	    "501 5.1.3 Recipient domain too long" },
	[SMTP_PE_PATH_LONG] = { "501 5.1.7 Path too long",
	    "501 5.1.3 Path too long" },
	[SMTP_PE_LITERAL] = { "501 5.1.7 Unsupported address literal",
	    "501 5.1.3 Unsupported address literal" },
	[SMTP_PE_NULL] = { "501 5.1.7 Bad sender address syntax",
	    "501 5.1.3 Null recipient not allowed" },
};

/* Scanning state over one path. */
struct scan {
	const unsigned char	*p;
	size_t			 len, i;
	int			 utf8;
};

/* One UTF-8 sequence at the cursor: consumed and noted, or 0. */
static int
scan_utf8(struct scan *s)
{
	size_t	 n;

	if (s->p[s->i] < 0x80)
		return 0;
	if ((n = utf8_seq(s->p + s->i, s->len - s->i)) == 0)
		return 0;
	s->i += n;
	s->utf8 = 1;
	return 1;
}

/* Let-dig (or a U-label octet sequence, RFC 6531 §3.3). */
static int
scan_letdig(struct scan *s)
{
	if (s->i < s->len && smtp_ascii_alnum(s->p[s->i])) {
		s->i++;
		return 1;
	}
	return s->i < s->len && scan_utf8(s);
}

/* sub-domain = Let-dig [Ldh-str]: no "-" first or last. */
static enum smtp_perr
scan_label(struct scan *s)
{
	size_t	 start = s->i;
	int	 hyphen = 0;

	if (!scan_letdig(s))
		return SMTP_PE_SYNTAX;
	for (;;) {
		if (s->i < s->len && s->p[s->i] == '-') {
			s->i++;
			hyphen = 1;
		} else if (scan_letdig(s))
			hyphen = 0;
		else
			break;
	}
	if (hyphen)
		return SMTP_PE_SYNTAX;
	return s->i - start > SMTP_LABEL_MAX ? SMTP_PE_DOMAIN_LONG : SMTP_PE_OK;
}

/* sub-domain *("." sub-domain).  SMTP_PE_OK or an error. */
static enum smtp_perr
scan_domain(struct scan *s)
{
	size_t		 start = s->i;
	enum smtp_perr	 e;

	for (;;) {
		if ((e = scan_label(s)) != SMTP_PE_OK)
			return e;
		if (s->i - start > SMTP_DOMAIN_MAX)
			return SMTP_PE_DOMAIN_LONG;
		if (s->i >= s->len || s->p[s->i] != '.')
			return SMTP_PE_OK;
		s->i++;
	}
}

/* "[" ... "]": IPv4 or IPv6 only.  The cursor is on "[". */
static enum smtp_perr
scan_literal(struct scan *s)
{
	char		 text[SMTP_DOMAIN_MAX + 1];
	unsigned char	 a[16];
	size_t		 start = ++s->i, n;

	while (s->i < s->len && s->p[s->i] != ']') {
		/* dcontent, RFC 5321 §4.1.3: %d33-90 / %d94-126 */
		if (s->p[s->i] < 33 || s->p[s->i] > 126 || s->p[s->i] == '[' ||
		    s->p[s->i] == '\\')
			return SMTP_PE_SYNTAX;
		s->i++;
	}
	if (s->i >= s->len)
		return SMTP_PE_SYNTAX;
	n = s->i - start;
	s->i++;
	if (n + 2 > SMTP_DOMAIN_MAX)
		return SMTP_PE_DOMAIN_LONG;
	memcpy(text, s->p + start, n);
	text[n] = '\0';
	if (n > 0 && inet_pton(AF_INET, text, a) == 1)
		return SMTP_PE_OK;
	if (n > 5 && strn_caseeq(text, 5, "IPv6:") &&
	    inet_pton(AF_INET6, text + 5, a) == 1)
		return SMTP_PE_OK;
	return n == 0 ? SMTP_PE_SYNTAX : SMTP_PE_LITERAL;
}

/* One atext octet or UTF-8 sequence at the cursor, consumed; or 0. */
static int
scan_atext(struct scan *s)
{
	if (s->i >= s->len)
		return 0;
	if (smtp_is_atext(s->p[s->i])) {
		s->i++;
		return 1;
	}
	return scan_utf8(s);
}

/* Dot-string or Quoted-string. */
static enum smtp_perr
scan_local(struct scan *s)
{
	size_t	 start = s->i;

	if (s->i < s->len && s->p[s->i] == '"') {
		for (s->i++; s->i < s->len && s->p[s->i] != '"';) {
			if (s->p[s->i] == '\\') {
				/* quoted-pairSMTP: %d92 %d32-126 */
				if (++s->i >= s->len || s->p[s->i] < 32 ||
				    s->p[s->i] > 126)
					return SMTP_PE_SYNTAX;
				s->i++;
			} else if (is_qtext(s->p[s->i]))
				s->i++;
			else if (!scan_utf8(s))
				return SMTP_PE_SYNTAX;
		}
		if (s->i >= s->len)
			return SMTP_PE_SYNTAX;
		s->i++;
	} else {
		/* Dot-string = Atom *("." Atom): no empty atom. */
		for (;;) {
			if (!scan_atext(s))
				return SMTP_PE_SYNTAX;
			while (scan_atext(s))
				;
			if (s->i >= s->len || s->p[s->i] != '.')
				break;
			s->i++;
		}
	}
	return s->i - start > SMTP_LOCAL_MAX ? SMTP_PE_LOCAL_LONG : SMTP_PE_OK;
}

/* A-d-l ":" : "@" Domain *( "," "@" Domain ) ":" */
static enum smtp_perr
scan_route(struct scan *s)
{
	enum smtp_perr	 e;

	for (;;) {
		if (s->i >= s->len || s->p[s->i] != '@')
			return SMTP_PE_SYNTAX;
		s->i++;
		if ((e = scan_domain(s)) != SMTP_PE_OK)
			return e;
		if (s->i >= s->len)
			return SMTP_PE_SYNTAX;
		if (s->p[s->i] == ':') {
			s->i++;
			return SMTP_PE_OK;
		}
		if (s->p[s->i] != ',')
			return SMTP_PE_SYNTAX;
		s->i++;
	}
}

/* Mailbox and ">" after the route: fills out. */
static enum smtp_perr
scan_mailbox(struct scan *s, unsigned flags, struct smtp_path *out)
{
	size_t		 lstart = s->i, dstart;
	enum smtp_perr	 e;

	if ((e = scan_local(s)) != SMTP_PE_OK)
		return e;
	out->locallen = s->i - lstart;
	if ((flags & SMTP_PATH_POSTMASTER) && s->i < s->len &&
	    s->p[s->i] == '>' && strn_caseeq((const char *)s->p + lstart,
	    out->locallen, "postmaster")) {
		out->postmaster = 1;
		dstart = s->i;
	} else {
		if (s->i >= s->len || s->p[s->i] != '@')
			return SMTP_PE_SYNTAX;
		dstart = ++s->i;
		if (s->i < s->len && s->p[s->i] == '[') {
			if ((e = scan_literal(s)) != SMTP_PE_OK)
				return e;
			out->literal = 1;
		} else if ((e = scan_domain(s)) != SMTP_PE_OK)
			return e;
		if (s->i - dstart > SMTP_DOMAIN_MAX)
			return SMTP_PE_DOMAIN_LONG;
	}
	if (s->i >= s->len || s->p[s->i] != '>')
		return SMTP_PE_SYNTAX;
	if (s->i + 1 > SMTP_PATH_MAX)
		return SMTP_PE_PATH_LONG;
	memcpy(out->mailbox, s->p + lstart, s->i - lstart);
	out->mailbox[s->i - lstart] = '\0';
	memcpy(out->domain, s->p + dstart, s->i - dstart);
	out->domain[s->i - dstart] = '\0';
	s->i++;
	return SMTP_PE_OK;
}

/* "<" ... ">" at the start of p; *used is its length. */
enum smtp_perr
smtp_path_parse(const char *p, size_t len, unsigned flags,
    struct smtp_path *out, size_t *used)
{
	struct scan	 s = { (const unsigned char *)p, len, 0, 0 };
	enum smtp_perr	 e;

	memset(out, 0, sizeof(*out));
	if (s.len < 2 || p[0] != '<')
		return SMTP_PE_SYNTAX;
	s.i = 1;
	if (p[1] == '>') {
		*used = 2;
		return (flags & SMTP_PATH_NULL_OK) ? SMTP_PE_OK : SMTP_PE_NULL;
	}
	if (p[1] == '@' && (e = scan_route(&s)) != SMTP_PE_OK)
		return e;
	if ((e = scan_mailbox(&s, flags, out)) != SMTP_PE_OK)
		return e;
	out->utf8 = s.utf8;
	*used = s.i;
	return SMTP_PE_OK;
}
