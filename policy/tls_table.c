/*
 * The local TLS policy table.  Parsing is pure and line by line; loading
 * builds a new table and swaps it in only when every line parsed, so a
 * typo never leaves a destination without the policy it had.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "compat.h"
#include "tls_table.h"
#include "util.h"

/* Longer lines are refused rather than split. */
#define TLS_TABLE_MAXLINE	2048
#define TLS_TABLE_MAXLINES	100000

static int
table_name_ok(const char *s)
{
	size_t	 i, len = strlen(s);

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != '_' &&
		    c != '*')
			return 0;
	}
	return strstr(s, "..") == NULL;
}

static const char *
opt_match(const char *v, struct tls_table_entry *e)
{
	const char	*p = v, *colon;
	size_t		 len;

	while (*p != '\0') {
		colon = strchr(p, ':');
		len = colon ? (size_t)(colon - p) : strlen(p);
		if (e->nmatch >= TLS_MAX_MATCH)
			return "too many match= names (at most 4)";
		if (len == 0 || len >= sizeof(e->match[0]))
			return "bad match= name";
		memcpy(e->match[e->nmatch], p, len);
		e->match[e->nmatch][len] = '\0';
		domain_normalize(e->match[e->nmatch]);
		if (!table_name_ok(e->match[e->nmatch]))
			return "bad match= name";
		e->nmatch++;
		p += len;
		if (*p == ':')
			p++;
	}
	return e->nmatch ? NULL : "empty match=";
}

static const char *
opt_protocols(const char *v, struct tls_table_entry *e)
{
	/* TLS 1.2 is postern's floor (tls.h); only a higher one matters. */
	if (strcmp(v, ">=TLSv1.2") == 0)
		e->min_proto = 0;
	else if (strcmp(v, ">=TLSv1.3") == 0)
		e->min_proto = TLS1_3_VERSION;
	else
		return "protocols= wants >=TLSv1.2 or >=TLSv1.3";
	return NULL;
}

static const char *
opt_parse(const char *opt, struct tls_table_entry *e)
{
	if (strncmp(opt, "match=", 6) == 0) {
		if (e->level != TLS_LEVEL_VERIFY)
			return "match= applies to level verify only";
		return opt_match(opt + 6, e);
	}
	if (strncmp(opt, "protocols=", 10) == 0)
		return opt_protocols(opt + 10, e);
	if (strcmp(opt, "sts=off") == 0) {
		e->no_sts = 1;
		return NULL;
	}
	if (strcmp(opt, "dane=off") == 0) {
		e->no_dane = 1;
		return NULL;
	}
	return "unknown option (match=, protocols=, sts=off, dane=off)";
}

const char *
tls_table_parse_line(const char *line, struct tls_table_entry *e)
{
	char		 copy[TLS_TABLE_MAXLINE], *p, *tok, *save = NULL;
	const char	*err;

	memset(e, 0, sizeof(*e));
	if (strlcpy(copy, line, sizeof(copy)) >= sizeof(copy))
		return "line too long";
	p = copy;
	if ((tok = strtok_r(p, " \t\r\n", &save)) == NULL)
		return "missing domain";
	if (strlcpy(e->domain, tok, sizeof(e->domain)) >= sizeof(e->domain))
		return "domain too long";
	domain_normalize(e->domain);
	if (!table_name_ok(e->domain[0] == '.' ? e->domain + 1 :
	    e->domain) || strchr(e->domain, '*') != NULL)
		return "bad domain (example.org or .example.org)";
	if ((tok = strtok_r(NULL, " \t\r\n", &save)) == NULL)
		return "missing level";
	if ((err = tls_level_parse(tok, &e->level)) != NULL)
		return err;
	while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL)
		if ((err = opt_parse(tok, e)) != NULL)
			return err;
	return NULL;
}

static void
table_add(struct tls_table *t, const struct tls_table_entry *e)
{
	t->e = xreallocarray(t->e, t->n + 1, sizeof(*t->e));
	t->e[t->n++] = *e;
}

/* Strips a '#' comment and surrounding blanks; 1 when nothing is left. */
static int
line_blank(char *s)
{
	char	*hash;

	if ((hash = strchr(s, '#')) != NULL)
		*hash = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0' || *s == '\n' || *s == '\r';
}

static int
table_read(FILE *fp, const char *path, struct tls_table *t, char *err,
    size_t errlen)
{
	char			 line[TLS_TABLE_MAXLINE];
	struct tls_table_entry	 e;
	const char		*why;
	int			 lineno = 0;
	size_t			 len;

	while (fgets(line, sizeof(line), fp) != NULL) {
		if (++lineno > TLS_TABLE_MAXLINES)
			why = "too many lines";
		else if ((len = strlen(line)) > 0 && line[len - 1] != '\n' &&
		    !feof(fp))
			why = "line too long";
		else if (line_blank(line))
			continue;
		else
			why = tls_table_parse_line(line, &e);
		if (why != NULL) {
			(void)snprintf(err, errlen, "%s:%d: %s", path, lineno,
			    why);
			return -1;
		}
		e.line = lineno;
		table_add(t, &e);
	}
	if (ferror(fp)) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
tls_table_load(struct tls_table *t, const char *path, char *err,
    size_t errlen)
{
	struct tls_table	 nt;
	FILE			*fp;

	memset(&nt, 0, sizeof(nt));
	if (path == NULL || *path == '\0') {
		tls_table_free(t);
		return 0;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (table_read(fp, path, &nt, err, errlen) == -1) {
		(void)fclose(fp);
		tls_table_free(&nt);
		return -1;
	}
	(void)fclose(fp);
	nt.path = xstrdup(path);
	tls_table_free(t);
	*t = nt;
	return 0;
}

/* Exact entry first, then ".parent" entries from the nearest parent up. */
const struct tls_table_entry *
tls_table_lookup(const struct tls_table *t, const char *domain)
{
	char		 d[256];
	const char	*p;
	size_t		 i;

	if (t == NULL || strlcpy(d, domain, sizeof(d)) >= sizeof(d))
		return NULL;
	domain_normalize(d);
	for (i = 0; i < t->n; i++)
		if (strcmp(t->e[i].domain, d) == 0)
			return &t->e[i];
	for (p = strchr(d, '.'); p != NULL; p = strchr(p + 1, '.'))
		for (i = 0; i < t->n; i++)
			if (strcmp(t->e[i].domain, p) == 0)
				return &t->e[i];
	return NULL;
}

static void
add_matches(struct tls_table_entry *out, const struct tls_table_entry *e)
{
	size_t	 i, j;

	if (e == NULL || e->level != TLS_LEVEL_VERIFY)
		return;
	for (i = 0; i < e->nmatch && out->nmatch < TLS_MAX_MATCH; i++) {
		for (j = 0; j < out->nmatch; j++)
			if (strcmp(out->match[j], e->match[i]) == 0)
				break;
		if (j == out->nmatch)
			(void)strlcpy(out->match[out->nmatch++], e->match[i],
			    sizeof(out->match[0]));
	}
}

const struct tls_table_entry *
tls_entry_stricter(const struct tls_table_entry *dest,
    const struct tls_table_entry *hop, int relayed,
    struct tls_table_entry *out)
{
	struct tls_table_entry	 d;
	const struct tls_table_entry *win;

	if (dest == NULL && hop == NULL)
		return NULL;
	if (dest != NULL && relayed && dest->level == TLS_LEVEL_MTA_STS) {
		d = *dest;
		d.level = TLS_LEVEL_VERIFY;
		dest = &d;
	}
	if (dest == NULL || hop == NULL)
		win = dest != NULL ? dest : hop;
	else
		win = tls_level_stricter(dest->level, hop->level) ==
		    hop->level ? hop : dest;
	*out = *win;
	out->nmatch = 0;
	add_matches(out, win);
	if (out->level == TLS_LEVEL_VERIFY)
		add_matches(out, win == hop ? dest : hop);
	if (dest != NULL && hop != NULL) {
		out->min_proto = dest->min_proto > hop->min_proto ?
		    dest->min_proto : hop->min_proto;
		out->no_sts = dest->no_sts && hop->no_sts;
		out->no_dane = dest->no_dane && hop->no_dane;
	}
	return out;
}

void
tls_table_free(struct tls_table *t)
{
	free(t->path);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

const char *
tls_table_proto_name(int v)
{
	return v == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2";
}
