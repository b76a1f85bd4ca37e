/*
 * smtp_param: MAIL FROM and RCPT TO with their ESMTP parameters: SIZE
 * (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET and ENVID
 * (RFC 3461 §4.3, §4.4), NOTIFY and ORCPT (RFC 3461 §4.1, §4.2).  Pure,
 * bounded by the (ptr, len) it is given; the path itself is
 * smtp_path.h's.
 */
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "smtp_parse.h"
#include "smtp_path.h"
#include "util.h"

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
	if (!smtp_ascii_alnum((unsigned char)s[i]))
		return -1;
	while (i < n && (smtp_ascii_alnum((unsigned char)s[i]) || s[i] == '-'))
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
		/* Fits: v is no larger than envid. */
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
	enum smtp_perr	 e;
	int		 n;

	memset(m, 0, sizeof(*m));
	if ((off = skip_prefix(arg, len, "FROM:")) == 0)
		return "501 5.5.4 Syntax: MAIL FROM:<address>";
	e = smtp_path_parse(arg + off, len - off, SMTP_PATH_NULL_OK, &m->path,
	    &used);
	if (e != SMTP_PE_OK)
		return smtp_perr_reply[e][0];
	p = arg + off + used;
	rest = len - off - used;
	if (rest > 0 && *p != ' ')
		return smtp_perr_reply[SMTP_PE_SYNTAX][0];
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
		if (!smtp_is_atext((unsigned char)pm->val[i]))
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
	enum smtp_perr	 e;
	int		 n;

	memset(r, 0, sizeof(*r));
	if ((off = skip_prefix(arg, len, "TO:")) == 0)
		return "501 5.5.4 Syntax: RCPT TO:<address>";
	e = smtp_path_parse(arg + off, len - off, SMTP_PATH_POSTMASTER,
	    &r->path, &used);
	if (e != SMTP_PE_OK)
		return smtp_perr_reply[e][1];
	p = arg + off + used;
	rest = len - off - used;
	if (rest > 0 && *p != ' ')
		return smtp_perr_reply[SMTP_PE_SYNTAX][1];
	while ((n = param_next(&p, &rest, &pm)) == 1)
		if ((reply = rcpt_param(r, &pm, &seen)) != NULL)
			return reply;
	if (n == -1)
		return "501 5.5.4 Bad parameter syntax";
	if (r->path.utf8 && !smtputf8)
		return "553 5.6.7 Non-ASCII recipient needs SMTPUTF8";
	return NULL;
}
