/*
 * libFuzzer target: the aliases(5) parser and expansion (mta/aliases.c,
 * mta/aliases_expand.c).
 * The input is an aliases text; the lookups of the expansion are served
 * from it: a name is an entry, ":include:/x" reads the value of entry
 * "x", and user u's .forward is the value of entry "forward-u".  So the
 * fuzzer builds loops, deep chains and fan-outs.  Invariants: no crash,
 * no leak, every item the parser hands out classifies or is refused with
 * a reason, an expansion never yields an :include:, a NULL value or more
 * than ALIAS_MAX_TARGETS targets.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "util.h"

#define MAX_ENTRIES	64

struct map {
	char	*name[MAX_ENTRIES];
	char	*rhs[MAX_ENTRIES];
	size_t	 n;
};

static int
add(void *arg, const char *name, const char *rhs, int line)
{
	struct map	*m = arg;

	if (name == NULL || rhs == NULL || line <= 0 || *name == '\0')
		abort();
	if (m->n == MAX_ENTRIES)
		return 0;
	m->name[m->n] = xstrdup(name);
	m->rhs[m->n] = xstrdup(rhs);
	m->n++;
	return 0;
}

static void
bad(void *arg, int line, const char *why)
{
	(void)arg;
	if (line <= 0 || why == NULL || *why == '\0')
		abort();
}

static const char *
find(const struct map *m, const char *name)
{
	size_t	 i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->name[i], name) == 0)
			return m->rhs[i];
	return NULL;
}

static int
lookup(void *arg, const char *name, char **rhs)
{
	const char	*v = find(arg, name);

	if (v == NULL)
		return 1;
	*rhs = xstrdup(v);
	return 0;
}

static int
include(void *arg, const char *path, const char *user, char **text)
{
	const char	*v = find(arg, path + 1);

	/* A .forward's user may not read "/secret-...": refused. */
	if (user != NULL && strncmp(path, "/secret-", 8) == 0)
		return 1;
	if (v == NULL)
		return -1;
	*text = xstrdup(v);
	return 0;
}

static int
forward(void *arg, const char *user, char **text)
{
	char		 key[ALIAS_MAX_NAME + 16];
	const char	*v;

	(void)snprintf(key, sizeof(key), "forward-%s", user);
	if ((v = find(arg, key)) == NULL)
		return 1;
	*text = xstrdup(v);
	return 0;
}

static int
is_local(void *arg, const char *domain)
{
	(void)arg;
	return strcmp(domain, "localhost") == 0;
}

static void
items(const char *rhs)
{
	const char	*p = rhs, *c;
	enum alias_kind	 kind;
	char		*value;
	int		 noexpand;

	for (;;) {
		c = strchr(p, ',');
		if (aliases_item(p, c ? (size_t)(c - p) : strlen(p), &kind,
		    &value, &noexpand) == NULL) {
			if (value == NULL || kind > ALIAS_INCLUDE)
				abort();
			free(value);
		} else if (value != NULL)
			abort();
		if (c == NULL)
			break;
		p = c + 1;
	}
}

static void
expand(const struct alias_ops *ops, const char *name)
{
	struct alias_list	 l;
	const char		*why;
	size_t			 i;
	int			 temp;

	why = aliases_expand(ops, name, &l, &temp);
	if (why != NULL) {
		if (l.n != 0 || l.v != NULL)
			abort();
		return;
	}
	if (l.n > ALIAS_MAX_TARGETS)
		abort();
	for (i = 0; i < l.n; i++)
		if (l.v[i].value == NULL || l.v[i].kind == ALIAS_INCLUDE)
			abort();
	alias_list_free(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct map	 m;
	struct alias_ops ops;
	size_t		 i;

	memset(&m, 0, sizeof(m));
	if (aliases_parse((const char *)data, size, add, bad, &m) < 0)
		abort();
	ops.lookup = lookup;
	ops.include = include;
	ops.forward = forward;
	ops.is_local = is_local;
	ops.arg = &m;
	for (i = 0; i < m.n; i++) {
		items(m.rhs[i]);
		if (i < 8)
			expand(&ops, m.name[i]);
	}
	expand(&ops, "postmaster");
	for (i = 0; i < m.n; i++) {
		free(m.name[i]);
		free(m.rhs[i]);
	}
	return 0;
}
