/*
 * Mail loop detection, RFC 5321 §6.3: counting trace fields in the
 * header section with explicit bounds (include/hopcount.h).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "hopcount.h"

/* Length of the line at p (without its LF) and where the next begins. */
static size_t
line_at(const char *p, size_t n, size_t *next)
{
	const char	*lf = memchr(p, '\n', n);
	size_t		 l = lf != NULL ? (size_t)(lf - p) : n;

	*next = lf != NULL ? l + 1 : n;
	return l;
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* An empty line ("" or a lone CR) ends the header section. */
static int
is_blank(const char *p, size_t l)
{
	return l == 0 || (l == 1 && p[0] == '\r');
}

/* Name of the field on this line: up to the colon, trailing white space
 * dropped (RFC 5322 §4.5.1).  0 when the line is not a field. */
static size_t
field_name(const char *p, size_t l, size_t *colon)
{
	const char	*c = memchr(p, ':', l);
	size_t		 n;

	if (c == NULL)
		return 0;
	*colon = (size_t)(c - p);
	for (n = *colon; n > 0 && is_wsp(p[n - 1]); n--)
		;
	return n;
}

int
hop_next_field(const char *msg, size_t len, size_t *off,
    struct hop_field *f)
{
	const char	*p;
	size_t		 l, adv, colon, end;

	while (*off < len) {
		p = msg + *off;
		l = line_at(p, len - *off, &adv);
		if (is_blank(p, l))
			return 0;
		*off += adv;
		if (is_wsp(p[0]) || (f->namelen = field_name(p, l,
		    &colon)) == 0)
			continue;	/* a stray continuation, or no field */
		f->name = p;
		f->value = p + colon + 1;
		end = l;
		/* Folded lines belong to this field. */
		while (*off < len && is_wsp(msg[*off])) {
			l = line_at(msg + *off, len - *off, &adv);
			end = (size_t)(msg + *off - p) + l;
			*off += adv;
		}
		if (end > colon && p[end - 1] == '\r')
			end--;
		f->valuelen = end - colon - 1;
		return 1;
	}
	return 0;
}

static int
name_is(const struct hop_field *f, const char *name)
{
	return f->namelen == strlen(name) &&
	    strncasecmp(f->name, name, f->namelen) == 0;
}

size_t
hop_count(const char *msg, size_t len)
{
	struct hop_field f;
	size_t		 off = 0, n = 0;

	while (hop_next_field(msg, len, &off, &f))
		if (name_is(&f, "Received"))
			n++;
	return n;
}

static int
is_fws(char c)
{
	return is_wsp(c) || c == '\r' || c == '\n';
}

/* The value without folding white space around it, compared whole. */
static int
value_is(const struct hop_field *f, const char *addr)
{
	const char	*v = f->value;
	size_t		 n = f->valuelen, al = strlen(addr);

	while (n > 0 && is_fws(v[0])) {
		v++;
		n--;
	}
	while (n > 0 && is_fws(v[n - 1]))
		n--;
	/* "<addr>" is the same address. */
	if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
		v++;
		n -= 2;
	}
	return n == al && al > 0 && strncasecmp(v, addr, n) == 0;
}

int
hop_delivered_to(const char *msg, size_t len, const char *addr)
{
	struct hop_field f;
	size_t		 off = 0;

	while (hop_next_field(msg, len, &off, &f))
		if (name_is(&f, "Delivered-To") && value_is(&f, addr))
			return 1;
	return 0;
}

int
hop_limit_exceeded(size_t hops, long long max)
{
	if (max < 0)
		max = 0;
	return (unsigned long long)hops > (unsigned long long)max;
}

const char *
hop_verdict(const struct config *conf, const char *msg, size_t len)
{
	if (!hop_limit_exceeded(hop_count(msg, len), conf->max_hop_count))
		return NULL;
	return "554 5.4.6 Too many hops: mail loop detected";
}
