/*
 * MTA-STS record, policy and HTTP response parsers (RFC 8461), and the
 * cache record codec.  Everything here is pure: network input arrives as
 * (ptr, len) and nothing is read past it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "mta_sts.h"
#include "util.h"

#define STS_CACHE_VERSION	1

const char *
sts_mode_name(enum sts_mode m)
{
	switch (m) {
	case STS_MODE_ENFORCE:
		return "enforce";
	case STS_MODE_TESTING:
		return "testing";
	default:
		return "none";
	}
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims blanks at both ends of [*s, *s + *len). */
static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && is_wsp(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_wsp((*s)[*len - 1]))
		(*len)--;
}

/*
 * RFC 8461 §3.1: sts-text-record = sts-version 1*(sts-sep sts-field)
 * [sts-sep]; the version "v=STSv1" comes first; id is 1*32 alnum.
 * Unknown fields are ignored.
 */
const char *
sts_txt_parse(const char *txt, size_t len, char *id, size_t idlen)
{
	const char	*p = txt, *end = txt + len, *semi, *f;
	size_t		 flen, i;
	int		 first = 1;

	*id = '\0';
	while (p < end) {
		semi = memchr(p, ';', (size_t)(end - p));
		f = p;
		flen = semi ? (size_t)(semi - p) : (size_t)(end - p);
		p = semi ? semi + 1 : end;
		trim(&f, &flen);
		if (first) {
			if (flen != 7 || memcmp(f, "v=STSv1", 7) != 0)
				return "not v=STSv1";
			first = 0;
			continue;
		}
		if (flen == 0 && p == end)
			break;
		if (flen < 3 || memcmp(f, "id=", 3) != 0)
			continue;
		if (*id != '\0')
			return "more than one id";
		if (flen - 3 == 0 || flen - 3 > STS_ID_MAX || flen - 3 >= idlen)
			return "bad id length";
		for (i = 3; i < flen; i++)
			if (!isalnum((unsigned char)f[i]))
				return "id is not alphanumeric";
		memcpy(id, f + 3, flen - 3);
		id[flen - 3] = '\0';
	}
	if (first)
		return "empty record";
	return *id ? NULL : "no id";
}

static int
pattern_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > 253)
		return 0;
	if (len > 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return 0;
	}
	return s[0] != '.' && s[len - 1] != '.';
}

static const char *
policy_max_age(const char *v, size_t len, struct sts_policy *p)
{
	char			 num[16];
	unsigned long long	 n;

	/* RFC 8461 §3.2: 1*10DIGIT, at most 31557600; larger is capped. */
	if (len == 0 || len > 10)
		return "bad max_age";
	memcpy(num, v, len);
	num[len] = '\0';
	if (parse_ull(num, 9999999999ULL, &n) == -1)
		return "bad max_age";
	p->max_age = n > STS_MAX_AGE ? STS_MAX_AGE : (long long)n;
	return NULL;
}

static const char *
policy_mode(const char *v, size_t len, struct sts_policy *p)
{
	if (len == 7 && memcmp(v, "enforce", 7) == 0)
		p->mode = STS_MODE_ENFORCE;
	else if (len == 7 && memcmp(v, "testing", 7) == 0)
		p->mode = STS_MODE_TESTING;
	else if (len == 4 && memcmp(v, "none", 4) == 0)
		p->mode = STS_MODE_NONE;
	else
		return "bad mode";
	return NULL;
}

static const char *
policy_mx(const char *v, size_t len, struct sts_policy *p)
{
	if (!pattern_ok(v, len))
		return "bad mx pattern";
	if (p->nmx >= STS_MAX_MX)
		return "too many mx patterns";
	memcpy(p->mx[p->nmx], v, len);
	p->mx[p->nmx][len] = '\0';
	domain_normalize(p->mx[p->nmx]);
	p->nmx++;
	return NULL;
}

#define SEEN_VERSION	0x1
#define SEEN_MODE	0x2
#define SEEN_MAXAGE	0x4

/* One "key: value" line; seen collects the single-valued keys. */
static const char *
policy_field(const char *k, size_t klen, const char *v, size_t vlen,
    struct sts_policy *p, int *seen)
{
	int	 bit = 0;
	const char *err = NULL;

	if (klen == 7 && memcmp(k, "version", 7) == 0) {
		bit = SEEN_VERSION;
		if (vlen != 5 || memcmp(v, "STSv1", 5) != 0)
			err = "version is not STSv1";
	} else if (klen == 4 && memcmp(k, "mode", 4) == 0) {
		bit = SEEN_MODE;
		err = policy_mode(v, vlen, p);
	} else if (klen == 7 && memcmp(k, "max_age", 7) == 0) {
		bit = SEEN_MAXAGE;
		err = policy_max_age(v, vlen, p);
	} else if (klen == 2 && memcmp(k, "mx", 2) == 0)
		return policy_mx(v, vlen, p);
	else
		return NULL;	/* §3.2: unknown fields are ignored */
	if (*seen & bit)
		return "a field is given twice";
	*seen |= bit;
	return err;
}

/* RFC 8461 §3.2: "key: value" lines ending in CRLF or LF. */
const char *
sts_policy_parse(const char *text, size_t len, struct sts_policy *p)
{
	const char	*s = text, *end = text + len, *nl, *colon, *v;
	const char	*err;
	size_t		 llen, klen, vlen;
	int		 seen = 0;

	memset(p, 0, sizeof(*p));
	if (len > STS_MAX_POLICY)
		return "policy larger than 64 KiB";
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		llen = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (llen > 0 && s[llen - 1] == '\r')
			llen--;
		if (memchr(s, '\0', llen) != NULL)
			return "NUL in policy";
		if (llen > 0) {
			if ((colon = memchr(s, ':', llen)) == NULL)
				return "line without a colon";
			klen = (size_t)(colon - s);
			v = colon + 1;
			vlen = llen - klen - 1;
			trim(&v, &vlen);
			if ((err = policy_field(s, klen, v, vlen, p,
			    &seen)) != NULL)
				return err;
		}
		s = nl ? nl + 1 : end;
	}
	if (!(seen & SEEN_VERSION))
		return "no version";
	if (!(seen & SEEN_MODE))
		return "no mode";
	if (!(seen & SEEN_MAXAGE))
		return "no max_age";
	if (p->nmx == 0 && p->mode != STS_MODE_NONE)
		return "no mx";
	return NULL;
}

/* RFC 8461 §4.1: a leading "*." stands for exactly one label. */
int
sts_mx_match(const char *pattern, const char *host)
{
	char		 h[256];
	const char	*dot;

	if (strlcpy(h, host, sizeof(h)) >= sizeof(h))
		return 0;
	domain_normalize(h);
	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, h) == 0;
	if ((dot = strchr(h, '.')) == NULL || dot == h)
		return 0;
	return strcasecmp(pattern + 1, dot) == 0;
}

int
sts_policy_mx_ok(const struct sts_policy *p, const char *host)
{
	size_t	 i;

	for (i = 0; i < p->nmx; i++)
		if (sts_mx_match(p->mx[i], host))
			return 1;
	return 0;
}

/* Value of header name in [h, end), or NULL; *vlen set. */
static const char *
http_header(const char *h, const char *end, const char *name, size_t *vlen)
{
	const char	*nl, *v;
	size_t		 nlen = strlen(name), llen;

	while (h < end) {
		nl = memchr(h, '\n', (size_t)(end - h));
		llen = nl ? (size_t)(nl - h) : (size_t)(end - h);
		if (llen > nlen && h[nlen] == ':' &&
		    strncasecmp(h, name, nlen) == 0) {
			v = h + nlen + 1;
			*vlen = llen - nlen - 1;
			if (*vlen > 0 && v[*vlen - 1] == '\r')
				(*vlen)--;
			trim(&v, vlen);
			return v;
		}
		h = nl ? nl + 1 : end;
	}
	return NULL;
}

/* RFC 9112 §7.1: hex size lines, data, CRLF; ends with a 0 chunk. */
static const char *
http_unchunk(const char *s, const char *end, char *body, size_t bodymax,
    size_t *bodylen)
{
	unsigned long long	 n;
	const char		*nl;
	int			 d;

	*bodylen = 0;
	for (;;) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			return "truncated chunk size";
		for (n = 0; s < nl && isxdigit((unsigned char)*s); s++) {
			d = isdigit((unsigned char)*s) ? *s - '0' :
			    tolower((unsigned char)*s) - 'a' + 10;
			if (n > STS_MAX_POLICY)
				return "policy larger than 64 KiB";
			n = n * 16 + (unsigned long long)d;
		}
		s = nl + 1;
		if (n == 0)
			return NULL;
		if (n > bodymax - *bodylen)
			return "policy larger than 64 KiB";
		if ((unsigned long long)(end - s) < n + 2)
			return "truncated chunk";
		memcpy(body + *bodylen, s, (size_t)n);
		*bodylen += (size_t)n;
		s += n + 2;
	}
}

static const char *
http_status(const char *resp, size_t len)
{
	if (len < 12 || (memcmp(resp, "HTTP/1.1 ", 9) != 0 &&
	    memcmp(resp, "HTTP/1.0 ", 9) != 0))
		return "not an HTTP/1 response";
	if (resp[9] == '3')
		return "HTTP redirect (not followed, RFC 8461 §3.3)";
	if (memcmp(resp + 9, "200", 3) != 0 || (len > 12 && resp[12] != ' ' &&
	    resp[12] != '\r'))
		return "HTTP status is not 200";
	return NULL;
}

const char *
sts_http_parse(const char *resp, size_t len, char *body, size_t bodymax,
    size_t *bodylen)
{
	const char		*hend, *bstart, *end = resp + len, *v, *err;
	char			 num[24];
	unsigned long long	 clen;
	size_t			 vlen;

	*bodylen = 0;
	if (resp == NULL)
		return "empty HTTP response";
	if ((err = http_status(resp, len)) != NULL)
		return err;
	if ((hend = memmem(resp, len, "\r\n\r\n", 4)) != NULL)
		bstart = hend + 4;
	else if ((hend = memmem(resp, len, "\n\n", 2)) != NULL)
		bstart = hend + 2;
	else
		return "truncated HTTP header";
	if ((v = http_header(resp, hend, "Content-Type", &vlen)) != NULL &&
	    (vlen < 10 || strncasecmp(v, "text/plain", 10) != 0))
		return "Content-Type is not text/plain";
	if ((v = http_header(resp, hend, "Transfer-Encoding", &vlen)) !=
	    NULL && vlen == 7 && strncasecmp(v, "chunked", 7) == 0)
		return http_unchunk(bstart, end, body, bodymax, bodylen);
	if ((v = http_header(resp, hend, "Content-Length", &vlen)) != NULL) {
		if (vlen == 0 || vlen >= sizeof(num))
			return "bad Content-Length";
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		if (parse_ull(num, STS_MAX_POLICY, &clen) == -1)
			return "Content-Length too large or bad";
		if ((unsigned long long)(end - bstart) < clen)
			return "truncated HTTP body";
		end = bstart + clen;
	}
	if ((size_t)(end - bstart) > bodymax)
		return "policy larger than 64 KiB";
	memcpy(body, bstart, (size_t)(end - bstart));
	*bodylen = (size_t)(end - bstart);
	return NULL;
}

char *
sts_cache_encode(const struct sts_policy *p, const char *text,
    size_t textlen, size_t *len)
{
	struct buf	 b;

	buf_init(&b);
	buf_printf(&b, "%d %lld %s\n", STS_CACHE_VERSION, p->fetched, p->id);
	buf_append(&b, text, textlen);
	*len = b.len;
	return b.data;
}

const char *
sts_cache_decode(const char *rec, size_t len, struct sts_policy *p)
{
	char			 head[64], *sp1, *sp2;
	const char		*nl, *err;
	unsigned long long	 t;
	long long		 fetched;
	size_t			 hlen;

	if ((nl = memchr(rec, '\n', len)) == NULL ||
	    (hlen = (size_t)(nl - rec)) >= sizeof(head))
		return "bad cache record";
	memcpy(head, rec, hlen);
	head[hlen] = '\0';
	if ((sp1 = strchr(head, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL)
		return "bad cache record";
	*sp1++ = '\0';
	*sp2++ = '\0';
	if (strcmp(head, "1") != 0)
		return "unknown cache record version";
	if (parse_ull(sp1, 1ULL << 40, &t) == -1 || strlen(sp2) > STS_ID_MAX)
		return "bad cache record";
	fetched = (long long)t;
	if ((err = sts_policy_parse(nl + 1, len - hlen - 1, p)) != NULL)
		return err;
	p->fetched = fetched;
	(void)strlcpy(p->id, sp2, sizeof(p->id));
	p->cached = 1;
	return NULL;
}
