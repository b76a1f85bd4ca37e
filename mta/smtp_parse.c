/*
 * SMTP server input parsing, RFC 5321 §4.1.  Pure: no I/O, no allocation,
 * every scan bounded by the (ptr, len) it is given.  Errors are complete
 * replies; the session only adds the error count.
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
#include <strings.h>

#include "compat.h"
#include "smtp_parse.h"
#include "util.h"

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
	int		 arg;	/* 0 none allowed, 1 required, 2 optional */
	const char	*usage;
} verbs[] = {
	{ "HELO",	SMTP_CMD_HELO,	1, "501 5.5.4 Syntax: HELO hostname" },
	{ "EHLO",	SMTP_CMD_EHLO,	1, "501 5.5.4 Syntax: EHLO hostname" },
	{ "MAIL",	SMTP_CMD_MAIL,	1,
	    "501 5.5.4 Syntax: MAIL FROM:<address>" },
	{ "RCPT",	SMTP_CMD_RCPT,	1, "501 5.5.4 Syntax: RCPT TO:<address>" },
	{ "DATA",	SMTP_CMD_DATA,	0, "501 5.5.4 Syntax: DATA" },
	{ "RSET",	SMTP_CMD_RSET,	0, "501 5.5.4 Syntax: RSET" },
	{ "NOOP",	SMTP_CMD_NOOP,	2, NULL },
	{ "QUIT",	SMTP_CMD_QUIT,	0, "501 5.5.4 Syntax: QUIT" },
	{ "VRFY",	SMTP_CMD_VRFY,	1, "501 5.5.4 Syntax: VRFY address" },
	{ "EXPN",	SMTP_CMD_EXPN,	1, "501 5.5.4 Syntax: EXPN name" },
	{ "HELP",	SMTP_CMD_HELP,	2, NULL },
	{ "STARTTLS",	SMTP_CMD_STARTTLS, 0, "501 5.5.4 Syntax: STARTTLS" },
};

const char *
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t	 i, vlen;

	memset(cmd, 0, sizeof(*cmd));
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return "500 5.5.2 Syntax error: bad character in command";
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	cmd->arg = line + vlen;
	if (vlen < len) {
		cmd->arg++;
		cmd->arglen = len - vlen - 1;
	}
	/* Trailing blanks are noise some clients add. */
	while (cmd->arglen > 0 && (cmd->arg[cmd->arglen - 1] == ' ' ||
	    cmd->arg[cmd->arglen - 1] == '\t'))
		cmd->arglen--;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (!strn_caseeq(line, vlen, verbs[i].name))
			continue;
		cmd->verb = verbs[i].verb;
		if ((verbs[i].arg == 0 && cmd->arglen != 0) ||
		    (verbs[i].arg == 1 && cmd->arglen == 0))
			return verbs[i].usage;
		return NULL;
	}
	cmd->verb = SMTP_CMD_UNKNOWN;
	return NULL;
}

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
static int
ascii_alnum(unsigned char c)
{
	return c < 0x80 && isalnum(c);
}

/* atext, RFC 5322 §3.2.3 */
static int
is_atext(unsigned char c)
{
	return ascii_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* qtextSMTP, RFC 5321 §4.1.2: %d32-33 / %d35-91 / %d93-126 */
static int
is_qtext(unsigned char c)
{
	return c == 32 || c == 33 || (c >= 35 && c <= 91) ||
	    (c >= 93 && c <= 126);
}

/* Path errors, each with its MAIL and its RCPT reply. */
enum perr {
	PE_OK = 0,
	PE_SYNTAX,
	PE_LOCAL_LONG,
	PE_DOMAIN_LONG,
	PE_PATH_LONG,
	PE_LITERAL,
	PE_NULL
};

static const char *const perr_reply[][2] = {
	[PE_OK] = { NULL, NULL },
	[PE_SYNTAX] = { "501 5.1.7 Bad sender address syntax",
	    "501 5.1.3 Bad recipient address syntax" },
	[PE_LOCAL_LONG] = { "501 5.1.7 Sender local part too long",
	    "501 5.1.3 Recipient local part too long" },
	[PE_DOMAIN_LONG] = { "501 5.1.7 Sender domain too long",
	    "501 5.1.3 Recipient domain too long" },
	[PE_PATH_LONG] = { "501 5.1.7 Path too long",
	    "501 5.1.3 Path too long" },
	[PE_LITERAL] = { "501 5.1.7 Unsupported address literal",
	    "501 5.1.3 Unsupported address literal" },
	[PE_NULL] = { "501 5.1.7 Bad sender address syntax",
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
	if (s->i < s->len && ascii_alnum(s->p[s->i])) {
		s->i++;
		return 1;
	}
	return s->i < s->len && scan_utf8(s);
}

/* sub-domain = Let-dig [Ldh-str]: no "-" first or last. */
static enum perr
scan_label(struct scan *s)
{
	size_t	 start = s->i;
	int	 hyphen = 0;

	if (!scan_letdig(s))
		return PE_SYNTAX;
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
		return PE_SYNTAX;
	return s->i - start > SMTP_LABEL_MAX ? PE_DOMAIN_LONG : PE_OK;
}

/* sub-domain *("." sub-domain).  PE_OK or an error. */
static enum perr
scan_domain(struct scan *s)
{
	size_t		 start = s->i;
	enum perr	 e;

	for (;;) {
		if ((e = scan_label(s)) != PE_OK)
			return e;
		if (s->i - start > SMTP_DOMAIN_MAX)
			return PE_DOMAIN_LONG;
		if (s->i >= s->len || s->p[s->i] != '.')
			return PE_OK;
		s->i++;
	}
}

/* "[" ... "]": IPv4 or IPv6 only.  The cursor is on "[". */
static enum perr
scan_literal(struct scan *s)
{
	char		 text[SMTP_DOMAIN_MAX + 1];
	unsigned char	 a[16];
	size_t		 start = ++s->i, n;

	while (s->i < s->len && s->p[s->i] != ']') {
		/* dcontent, RFC 5321 §4.1.3: %d33-90 / %d94-126 */
		if (s->p[s->i] < 33 || s->p[s->i] > 126 || s->p[s->i] == '[' ||
		    s->p[s->i] == '\\')
			return PE_SYNTAX;
		s->i++;
	}
	if (s->i >= s->len)
		return PE_SYNTAX;
	n = s->i - start;
	s->i++;
	if (n + 2 > SMTP_DOMAIN_MAX)
		return PE_DOMAIN_LONG;
	memcpy(text, s->p + start, n);
	text[n] = '\0';
	if (n > 0 && inet_pton(AF_INET, text, a) == 1)
		return PE_OK;
	if (n > 5 && strn_caseeq(text, 5, "IPv6:") &&
	    inet_pton(AF_INET6, text + 5, a) == 1)
		return PE_OK;
	return n == 0 ? PE_SYNTAX : PE_LITERAL;
}

/* One atext octet or UTF-8 sequence at the cursor, consumed; or 0. */
static int
scan_atext(struct scan *s)
{
	if (s->i >= s->len)
		return 0;
	if (is_atext(s->p[s->i])) {
		s->i++;
		return 1;
	}
	return scan_utf8(s);
}

/* Dot-string or Quoted-string. */
static enum perr
scan_local(struct scan *s)
{
	size_t	 start = s->i;

	if (s->i < s->len && s->p[s->i] == '"') {
		for (s->i++; s->i < s->len && s->p[s->i] != '"';) {
			if (s->p[s->i] == '\\') {
				/* quoted-pairSMTP: %d92 %d32-126 */
				if (++s->i >= s->len || s->p[s->i] < 32 ||
				    s->p[s->i] > 126)
					return PE_SYNTAX;
				s->i++;
			} else if (is_qtext(s->p[s->i]))
				s->i++;
			else if (!scan_utf8(s))
				return PE_SYNTAX;
		}
		if (s->i >= s->len)
			return PE_SYNTAX;
		s->i++;
	} else {
		/* Dot-string = Atom *("." Atom): no empty atom. */
		for (;;) {
			if (!scan_atext(s))
				return PE_SYNTAX;
			while (scan_atext(s))
				;
			if (s->i >= s->len || s->p[s->i] != '.')
				break;
			s->i++;
		}
	}
	return s->i - start > SMTP_LOCAL_MAX ? PE_LOCAL_LONG : PE_OK;
}

/* A-d-l ":" : "@" Domain *( "," "@" Domain ) ":" */
static enum perr
scan_route(struct scan *s)
{
	enum perr	 e;

	for (;;) {
		if (s->i >= s->len || s->p[s->i] != '@')
			return PE_SYNTAX;
		s->i++;
		if ((e = scan_domain(s)) != PE_OK)
			return e;
		if (s->i >= s->len)
			return PE_SYNTAX;
		if (s->p[s->i] == ':') {
			s->i++;
			return PE_OK;
		}
		if (s->p[s->i] != ',')
			return PE_SYNTAX;
		s->i++;
	}
}

#define PATH_NULL_OK		0x01
#define PATH_POSTMASTER		0x02

/* Mailbox and ">" after the route: fills out. */
static enum perr
scan_mailbox(struct scan *s, unsigned flags, struct smtp_path *out)
{
	size_t		 lstart = s->i, dstart;
	enum perr	 e;

	if ((e = scan_local(s)) != PE_OK)
		return e;
	out->locallen = s->i - lstart;
	if ((flags & PATH_POSTMASTER) && s->i < s->len && s->p[s->i] == '>' &&
	    strn_caseeq((const char *)s->p + lstart, out->locallen,
	    "postmaster")) {
		out->postmaster = 1;
		dstart = s->i;
	} else {
		if (s->i >= s->len || s->p[s->i] != '@')
			return PE_SYNTAX;
		dstart = ++s->i;
		if (s->i < s->len && s->p[s->i] == '[') {
			if ((e = scan_literal(s)) != PE_OK)
				return e;
			out->literal = 1;
		} else if ((e = scan_domain(s)) != PE_OK)
			return e;
		if (s->i - dstart > SMTP_DOMAIN_MAX)
			return PE_DOMAIN_LONG;
	}
	if (s->i >= s->len || s->p[s->i] != '>')
		return PE_SYNTAX;
	if (s->i + 1 > SMTP_PATH_MAX)
		return PE_PATH_LONG;
	memcpy(out->mailbox, s->p + lstart, s->i - lstart);
	out->mailbox[s->i - lstart] = '\0';
	memcpy(out->domain, s->p + dstart, s->i - dstart);
	out->domain[s->i - dstart] = '\0';
	s->i++;
	return PE_OK;
}

/* "<" ... ">" at the start of p; *used is its length. */
static enum perr
path_parse(const char *p, size_t len, unsigned flags, struct smtp_path *out,
    size_t *used)
{
	struct scan	 s = { (const unsigned char *)p, len, 0, 0 };
	enum perr	 e;

	memset(out, 0, sizeof(*out));
	if (s.len < 2 || p[0] != '<')
		return PE_SYNTAX;
	s.i = 1;
	if (p[1] == '>') {
		*used = 2;
		return (flags & PATH_NULL_OK) ? PE_OK : PE_NULL;
	}
	if (p[1] == '@' && (e = scan_route(&s)) != PE_OK)
		return e;
	if ((e = scan_mailbox(&s, flags, out)) != PE_OK)
		return e;
	out->utf8 = s.utf8;
	*used = s.i;
	return PE_OK;
}

/* "FROM:" or "TO:" then optional blanks; returns the offset or 0. */
static size_t
skip_prefix(const char *arg, size_t len, const char *prefix)
{
	size_t	 n = strlen(prefix);

	if (len < n || !strn_caseeq(arg, n, prefix))
		return 0;
	while (n < len && arg[n] == ' ')
		n++;
	return n;
}

/* Iterates "KEY[=VALUE]" words separated by spaces. */
struct param {
	const char	*key, *val;
	size_t		 keylen, vallen;
	int		 hasval;
};

/* Next parameter from (*p, *len); 1 found, 0 end, -1 syntax. */
static int
param_next(const char **p, size_t *len, struct param *pm)
{
	size_t	 i = 0, n = *len;
	const char *s = *p;

	while (i < n && s[i] == ' ')
		i++;
	if (i == n)
		return 0;
	memset(pm, 0, sizeof(*pm));
	pm->key = s + i;
	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	if (!ascii_alnum((unsigned char)s[i]))
		return -1;
	while (i < n && (ascii_alnum((unsigned char)s[i]) || s[i] == '-'))
		i++;
	pm->keylen = (size_t)(s + i - pm->key);
	if (i < n && s[i] == '=') {
		pm->hasval = 1;
		pm->val = s + ++i;
		/* esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 per RFC 6531 */
		while (i < n && s[i] != '=' && (unsigned char)s[i] > 32 &&
		    (unsigned char)s[i] != 127)
			i++;
		pm->vallen = (size_t)(s + i - pm->val);
		if (pm->vallen == 0)
			return -1;
	}
	if (i < n && s[i] != ' ')
		return -1;
	*p = s + i;
	*len = n - i;
	return 1;
}

int
xtext_decode(const char *in, size_t len, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const char		*h, *l;
	size_t			 i, o = 0;
	unsigned char		 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c == '+') {
			/* hexchar = "+" 2HEXDIG (lower case tolerated) */
			if (len - i < 3 || in[i + 1] == '\0' ||
			    in[i + 2] == '\0')
				return -1;
			h = strchr(hex, toupper((unsigned char)in[i + 1]));
			l = strchr(hex, toupper((unsigned char)in[i + 2]));
			if (h == NULL || l == NULL)
				return -1;
			c = (unsigned char)((h - hex) << 4 | (l - hex));
			i += 2;
			/* Decoded text lands in DSN headers: no controls. */
			if (c < 32 || c > 126)
				return -1;
		} else if (c < 33 || c > 126 || c == '=')
			return -1;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

int
xtext_encode(const char *in, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 o = 0;
	unsigned char		 c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c >= 33 && c <= 126 && c != '+' && c != '=') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 >= outlen)
			return -1;
		out[o++] = '+';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

/* Copies a value of at most max octets, NUL-terminated; -1 if longer. */
static int
val_copy(const struct param *pm, char *out, size_t outlen)
{
	if (pm->vallen >= outlen)
		return -1;
	memcpy(out, pm->val, pm->vallen);
	out[pm->vallen] = '\0';
	return 0;
}

#define BAD_VALUE	"501 5.5.4 Invalid parameter value"
#define DUP_PARAM	"501 5.5.4 Duplicate parameter"
#define UNSUP_PARAM	"555 5.5.4 Unsupported parameter"

static const char *
mail_param(struct smtp_mail *m, const struct param *pm, unsigned *seen)
{
	static const char *const names[] = { "SIZE", "BODY", "SMTPUTF8",
	    "RET", "ENVID" };
	char		 v[3 * SMTP_ENVID_MAX + 1], dec[SMTP_ENVID_MAX + 1];
	size_t		 k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strn_caseeq(pm->key, pm->keylen, names[k]))
			break;
	if (k == sizeof(names) / sizeof(names[0]))
		return UNSUP_PARAM;
	if (*seen & (1U << k))
		return DUP_PARAM;
	*seen |= 1U << k;
	if (k == 2) {	/* SMTPUTF8 has no value (RFC 6531 §3.4) */
		if (pm->hasval)
			return BAD_VALUE;
		m->smtputf8 = 1;
		return NULL;
	}
	if (!pm->hasval || val_copy(pm, v, sizeof(v)) == -1)
		return BAD_VALUE;
	switch (k) {
	case 0:		/* RFC 1870 §3: size-value = 1*20DIGIT */
		if (pm->vallen > 20 || parse_ull(v, ~0ULL, &m->size) == -1)
			return BAD_VALUE;
		return NULL;
	case 1:		/* RFC 6152 §2 */
		if (strcasecmp(v, "7BIT") == 0)
			m->body = SMTP_BODY_7BIT;
		else if (strcasecmp(v, "8BITMIME") == 0)
			m->body = SMTP_BODY_8BITMIME;
		else
			return "555 5.5.4 Unsupported BODY type";
		return NULL;
	case 3:		/* RFC 3461 §4.3 */
		if (strcasecmp(v, "FULL") == 0)
			m->ret = SMTP_RET_FULL;
		else if (strcasecmp(v, "HDRS") == 0)
			m->ret = SMTP_RET_HDRS;
		else
			return BAD_VALUE;
		return NULL;
	default:	/* ENVID, RFC 3461 §4.4 */
		if (xtext_decode(v, pm->vallen, dec, sizeof(dec)) == -1)
			return BAD_VALUE;
		(void)strlcpy(m->envid, v, sizeof(m->envid));
		return NULL;
	}
}

const char *
smtp_mail_parse(const char *arg, size_t len, struct smtp_mail *m)
{
	struct param	 pm;
	const char	*r, *p;
	size_t		 off, used, rest;
	unsigned	 seen = 0;
	enum perr	 e;
	int		 n;

	memset(m, 0, sizeof(*m));
	if ((off = skip_prefix(arg, len, "FROM:")) == 0)
		return "501 5.5.4 Syntax: MAIL FROM:<address>";
	e = path_parse(arg + off, len - off, PATH_NULL_OK, &m->path, &used);
	if (e != PE_OK)
		return perr_reply[e][0];
	p = arg + off + used;
	rest = len - off - used;
	if (rest > 0 && *p != ' ')
		return perr_reply[PE_SYNTAX][0];
	while ((n = param_next(&p, &rest, &pm)) == 1)
		if ((r = mail_param(m, &pm, &seen)) != NULL)
			return r;
	if (n == -1)
		return "501 5.5.4 Bad parameter syntax";
	if (m->path.utf8 && !m->smtputf8)
		return "553 5.6.7 Non-ASCII sender needs SMTPUTF8";
	return NULL;
}

/* NOTIFY=NEVER / NOTIFY=SUCCESS,FAILURE,DELAY (RFC 3461 §4.1) */
static const char *
notify_parse(const struct param *pm, unsigned *out)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} words[] = {
		{ "NEVER", SMTP_NOTIFY_NEVER },
		{ "SUCCESS", SMTP_NOTIFY_SUCCESS },
		{ "FAILURE", SMTP_NOTIFY_FAILURE },
		{ "DELAY", SMTP_NOTIFY_DELAY },
	};
	size_t	 i = 0, j, w;

	*out = 0;
	while (i < pm->vallen) {
		for (j = i; j < pm->vallen && pm->val[j] != ','; j++)
			;
		for (w = 0; w < sizeof(words) / sizeof(words[0]); w++)
			if (strn_caseeq(pm->val + i, j - i, words[w].name))
				break;
		if (w == sizeof(words) / sizeof(words[0]) ||
		    (*out & words[w].bit))
			return BAD_VALUE;
		*out |= words[w].bit;
		if (j < pm->vallen && j + 1 == pm->vallen)
			return BAD_VALUE;	/* trailing comma */
		i = j + 1;
	}
	if ((*out & SMTP_NOTIFY_NEVER) && *out != SMTP_NOTIFY_NEVER)
		return BAD_VALUE;
	return *out == 0 ? BAD_VALUE : NULL;
}

/* ORCPT=addr-type;xtext (RFC 3461 §4.2); kept as received. */
static const char *
orcpt_parse(const struct param *pm, char *out, size_t outlen)
{
	char	 dec[SMTP_ORCPT_MAX + 1];
	size_t	 i;

	if (pm->vallen >= outlen)
		return BAD_VALUE;
	/* addr-type = atom */
	for (i = 0; i < pm->vallen && pm->val[i] != ';'; i++)
		if (!is_atext((unsigned char)pm->val[i]))
			return BAD_VALUE;
	if (i == 0 || i == pm->vallen || i + 1 == pm->vallen)
		return BAD_VALUE;
	if (xtext_decode(pm->val + i + 1, pm->vallen - i - 1, dec,
	    sizeof(dec)) == -1)
		return BAD_VALUE;
	memcpy(out, pm->val, pm->vallen);
	out[pm->vallen] = '\0';
	return NULL;
}

static const char *
rcpt_param(struct smtp_rcpt *r, const struct param *pm, unsigned *seen)
{
	unsigned	 bit;

	if (strn_caseeq(pm->key, pm->keylen, "NOTIFY"))
		bit = 1;
	else if (strn_caseeq(pm->key, pm->keylen, "ORCPT"))
		bit = 2;
	else
		return UNSUP_PARAM;
	if (*seen & bit)
		return DUP_PARAM;
	*seen |= bit;
	if (!pm->hasval)
		return BAD_VALUE;
	if (bit == 1)
		return notify_parse(pm, &r->notify);
	return orcpt_parse(pm, r->orcpt, sizeof(r->orcpt));
}

const char *
smtp_rcpt_parse(const char *arg, size_t len, int smtputf8,
    struct smtp_rcpt *r)
{
	struct param	 pm;
	const char	*reply, *p;
	size_t		 off, used, rest;
	unsigned	 seen = 0;
	enum perr	 e;
	int		 n;

	memset(r, 0, sizeof(*r));
	if ((off = skip_prefix(arg, len, "TO:")) == 0)
		return "501 5.5.4 Syntax: RCPT TO:<address>";
	e = path_parse(arg + off, len - off, PATH_POSTMASTER, &r->path, &used);
	if (e != PE_OK)
		return perr_reply[e][1];
	p = arg + off + used;
	rest = len - off - used;
	if (rest > 0 && *p != ' ')
		return perr_reply[PE_SYNTAX][1];
	while ((n = param_next(&p, &rest, &pm)) == 1)
		if ((reply = rcpt_param(r, &pm, &seen)) != NULL)
			return reply;
	if (n == -1)
		return "501 5.5.4 Bad parameter syntax";
	if (r->path.utf8 && !smtputf8)
		return "553 5.6.7 Non-ASCII recipient needs SMTPUTF8";
	return NULL;
}

const char *
smtp_helo_parse(const char *arg, size_t len, char out[SMTP_DOMAIN_MAX + 1])
{
	size_t	 i;

	if (len == 0)
		return "501 5.5.4 Syntax: EHLO hostname";
	if (len > SMTP_DOMAIN_MAX)
		return "501 5.5.4 Host name too long";
	/* RFC 5321 §4.1.4: a server must not refuse mail for a wrong name;
	 * keep one visible-ASCII word, it lands in the Received line. */
	for (i = 0; i < len; i++)
		if ((unsigned char)arg[i] <= 32 || (unsigned char)arg[i] >= 127)
			return "501 5.5.4 Syntax: EHLO hostname";
	memcpy(out, arg, len);
	out[len] = '\0';
	return NULL;
}
