/*
 * Per-domain table files (include/dtable.h).  Read whole at start (and by
 * the runner on SIGHUP); lookups are a linear scan, the tables being a
 * handful of lines.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dtable.h"
#include "util.h"

#define DTABLE_LINE_MAX	1024

static const char *
key_ok(const char *k)
{
	const char	*p = *k == '.' ? k + 1 : k;

	if (*p == '\0' || strlen(k) > 255)
		return "bad domain";
	for (; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			return "bad character in domain";
	return NULL;
}

/* One non-blank line: key, white space, value. */
static const char *
parse_line(struct dtable *t, char *line, int lineno, dtable_check check,
    void *arg)
{
	char		*key, *val, *e;
	const char	*why;

	key = line + strspn(line, " \t");
	val = key + strcspn(key, " \t");
	if (*val == '\0')
		return "expected: domain value";
	*val++ = '\0';
	val += strspn(val, " \t");
	e = val + strlen(val);
	while (e > val && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (*val == '\0')
		return "expected: domain value";
	domain_normalize(key);
	if ((why = key_ok(key)) != NULL)
		return why;
	if (check != NULL && (why = check(val, arg)) != NULL)
		return why;
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	t->v[t->n].key = xstrdup(key);
	t->v[t->n].value = xstrdup(val);
	t->v[t->n].line = lineno;
	t->n++;
	return NULL;
}

static int
load_stream(struct dtable *t, FILE *f, const char *name, dtable_check check,
    void *arg, char *err, size_t errlen)
{
	char		 line[DTABLE_LINE_MAX], *p;
	const char	*why = NULL;
	int		 lineno = 0;

	while (why == NULL && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			why = "line too long";
			break;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (line[strspn(line, " \t")] == '\0')
			continue;
		why = parse_line(t, line, lineno, check, arg);
	}
	if (why == NULL && ferror(f))
		why = strerror(errno);
	(void)fclose(f);
	if (why == NULL)
		return 0;
	(void)snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
	dtable_free(t);
	return -1;
}

int
dtable_load(struct dtable *t, const char *path, dtable_check check,
    void *arg, char *err, size_t errlen)
{
	FILE	*f;

	memset(t, 0, sizeof(*t));
	if (path == NULL || *path == '\0')
		return 0;
	if ((f = fopen(path, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return load_stream(t, f, path, check, arg, err, errlen);
}

int
dtable_load_mem(struct dtable *t, const char *name, const char *text,
    size_t len, dtable_check check, void *arg, char *err, size_t errlen)
{
	FILE	*f;

	memset(t, 0, sizeof(*t));
	if (len == 0)
		return 0;
	if ((f = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	return load_stream(t, f, name, check, arg, err, errlen);
}

static const char *
find(const struct dtable *t, const char *key, size_t len)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (strlen(t->v[i].key) == len &&
		    strncasecmp(t->v[i].key, key, len) == 0)
			return t->v[i].value;
	return NULL;
}

const char *
dtable_lookup(const struct dtable *t, const char *domain)
{
	const char	*p, *v;
	size_t		 len = strlen(domain);

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (t == NULL || len == 0)
		return NULL;
	if ((v = find(t, domain, len)) != NULL)
		return v;
	/* ".parent" entries, the nearest parent first. */
	for (p = domain; p < domain + len; p++)
		if (*p == '.' && (v = find(t, p, (size_t)(domain + len - p))))
			return v;
	return NULL;
}

void
dtable_free(struct dtable *t)
{
	size_t	 i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].key);
		free(t->v[i].value);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}
