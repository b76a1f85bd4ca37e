/*
 * aliases(5): the parser of the file and of one right-hand side item.
 * Pure.  The expansion is aliases_expand.c, the Berkeley DB map of
 * newaliases aliases_db.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "util.h"

/* -- parser -------------------------------------------------------- */

struct pstate {
	int	(*fn)(void *, const char *, const char *, int);
	void	(*bad)(void *, int, const char *);
	void	*arg;
	char	 name[ALIAS_MAX_NAME + 1];
	struct buf rhs;
	int	 line;		/* of the open entry, 0: none */
	int	 count;
	int	 failed;
};

static void
pbad(struct pstate *ps, int line, const char *why)
{
	if (ps->bad != NULL)
		ps->bad(ps->arg, line, why);
}

static void
pflush(struct pstate *ps)
{
	if (ps->line == 0)
		return;
	if (ps->rhs.len == 0)
		pbad(ps, ps->line, "alias has no value");
	else if (ps->fn(ps->arg, ps->name, ps->rhs.data, ps->line) == -1)
		ps->failed = 1;
	else
		ps->count++;
	ps->line = 0;
	buf_reset(&ps->rhs);
}

void
aliases_trim(const char **p, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)**p)) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)(*p)[*len - 1]))
		(*len)--;
}

static void
pappend(struct pstate *ps, const char *p, size_t len, int lineno)
{
	aliases_trim(&p, &len);
	if (len == 0)
		return;
	if (ps->rhs.len + len + 1 > ALIAS_MAX_RHS) {
		pbad(ps, lineno, "alias value too long");
		ps->line = 0;
		buf_reset(&ps->rhs);
		return;
	}
	if (ps->rhs.len > 0)
		buf_append(&ps->rhs, " ", 1);
	buf_append(&ps->rhs, p, len);
}

/* "name: value" on a line of its own. */
static void
pstart(struct pstate *ps, const char *p, size_t len, int lineno)
{
	const char	*colon = memchr(p, ':', len);
	size_t		 nlen, i;

	if (colon == NULL) {
		pbad(ps, lineno, "missing colon");
		return;
	}
	nlen = (size_t)(colon - p);
	while (nlen > 0 && isspace((unsigned char)p[nlen - 1]))
		nlen--;
	if (nlen == 0 || nlen > ALIAS_MAX_NAME) {
		pbad(ps, lineno, nlen ? "alias name too long" : "empty alias name");
		return;
	}
	for (i = 0; i < nlen; i++) {
		if (isspace((unsigned char)p[i]) || iscntrl((unsigned char)p[i])) {
			pbad(ps, lineno, "white space in alias name");
			return;
		}
		ps->name[i] = (char)tolower((unsigned char)p[i]);
	}
	ps->name[nlen] = '\0';
	ps->line = lineno;
	buf_reset(&ps->rhs);
	pappend(ps, colon + 1, len - (size_t)(colon + 1 - p), lineno);
}

int
aliases_parse(const char *text, size_t len,
    int (*fn)(void *, const char *, const char *, int),
    void (*bad)(void *, int, const char *), void *arg)
{
	struct pstate	 ps;
	const char	*p = text, *end = text + len, *eol;
	size_t		 ll;
	int		 lineno = 0;

	memset(&ps, 0, sizeof(ps));
	ps.fn = fn;
	ps.bad = bad;
	ps.arg = arg;
	buf_init(&ps.rhs);
	for (; p < end && !ps.failed; p = eol < end ? eol + 1 : end) {
		lineno++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		ll = (size_t)(eol - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (memchr(p, '\0', ll) != NULL) {
			pflush(&ps);
			pbad(&ps, lineno, "NUL byte in line");
			continue;
		}
		if (ll > 0 && (p[0] == ' ' || p[0] == '\t')) {
			const char *q = p;
			size_t ql = ll;

			aliases_trim(&q, &ql);
			if (ql == 0) {
				pflush(&ps);	/* a blank line ends an entry */
				continue;
			}
			if (ps.line == 0)
				pbad(&ps, lineno, "continuation line without "
				    "an alias");
			else
				pappend(&ps, p, ll, lineno);
			continue;
		}
		pflush(&ps);
		if (ll == 0 || p[0] == '#')
			continue;
		pstart(&ps, p, ll, lineno);
	}
	pflush(&ps);
	buf_free(&ps.rhs);
	return ps.failed ? -1 : ps.count;
}

/* -- one item ------------------------------------------------------ */

static int
addr_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == ',' || c == '<' ||
		    c == '>' || c == '"' || c == '|')
			return 0;
	}
	return 1;
}

const char *
aliases_item(const char *item, size_t len, enum alias_kind *kind,
    char **value, int *noexpand)
{
	const char	*p = item;

	*noexpand = 0;
	*value = NULL;
	aliases_trim(&p, &len);
	if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
		p++;
		len -= 2;
		aliases_trim(&p, &len);
	}
	if (len == 0)
		return "empty item";
	if (memchr(p, '\n', len) != NULL || memchr(p, '\0', len) != NULL)
		return "control character in item";
	if (p[0] == '|') {
		p++;
		len--;
		aliases_trim(&p, &len);
		if (len == 0)
			return "empty command";
		*kind = ALIAS_PIPE;
	} else if (len > 9 && strn_caseeq(p, 9, ":include:")) {
		p += 9;
		len -= 9;
		aliases_trim(&p, &len);
		if (len == 0 || p[0] != '/')
			return ":include: needs an absolute path";
		*kind = ALIAS_INCLUDE;
	} else if (p[0] == '/') {
		*kind = ALIAS_FILE;
	} else {
		if (p[0] == '\\') {
			*noexpand = 1;
			p++;
			len--;
		}
		if (len >= 2 && p[0] == '<' && p[len - 1] == '>') {
			p++;
			len -= 2;
		}
		if (!addr_ok(p, len))
			return "bad address";
		*kind = ALIAS_REMOTE;	/* the caller decides local/remote */
	}
	*value = xstrndup(p, len);
	return NULL;
}
