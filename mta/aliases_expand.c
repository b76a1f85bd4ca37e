/*
 * aliases_expand: a local name through the aliases, :include: files and
 * ~/.forward into its deliveries.  Pure: every lookup is a callback
 * (struct alias_ops).  See include/aliases.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "compat.h"
#include "util.h"

#define ALIAS_MAX_STEPS	(10 * ALIAS_MAX_TARGETS)	/* items per expansion */

struct xp {
	const struct alias_ops	*ops;
	struct alias_list	*out;
	const char		*chain[ALIAS_MAX_DEPTH + 1];
	int			 depth;
	int			 temp;
	int			 includes;	/* :include: files open */
	size_t			 steps;	/* items expanded so far */
};

static const char *expand_name(struct xp *, const char *, const char *);
static int	 in_chain(const struct xp *, const char *);

static const char *
add_target(struct xp *x, enum alias_kind kind, const char *value,
    const char *user)
{
	struct alias_list	*l = x->out;
	struct alias_target	*t;
	size_t			 i;

	for (i = 0; i < l->n; i++) {
		t = &l->v[i];
		if (t->kind == kind && strcmp(t->value, value) == 0 &&
		    ((t->user == NULL && user == NULL) ||
		    (t->user != NULL && user != NULL &&
		    strcmp(t->user, user) == 0)))
			return NULL;
	}
	if (l->n >= ALIAS_MAX_TARGETS)
		return "too many recipients after alias expansion";
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	t = &l->v[l->n++];
	t->kind = kind;
	t->value = xstrdup(value);
	t->user = user ? xstrdup(user) : NULL;
	t->included = x->includes > 0;
	return NULL;
}

static const char *
expand_text(struct xp *, const char *, const char *, const char *);

static const char *
expand_addr(struct xp *x, const char *addr, int noexpand, const char *self,
    const char *user)
{
	const char	*at = strrchr(addr, '@');
	char		 local[ALIAS_MAX_NAME + 1];
	size_t		 n = at ? (size_t)(at - addr) : strlen(addr);

	if (at != NULL && !x->ops->is_local(x->ops->arg, at + 1))
		return add_target(x, ALIAS_REMOTE, addr, NULL);
	if (n == 0 || n > ALIAS_MAX_NAME)
		return "bad local address";
	memcpy(local, addr, n);
	local[n] = '\0';
	str_lower(local);
	/* "\user", or an alias naming itself: the mailbox, no more aliasing. */
	if (noexpand || (self != NULL && strcmp(local, self) == 0))
		return add_target(x, ALIAS_LOCAL, local, NULL);
	return expand_name(x, local, user);
}

static const char *
expand_include(struct xp *x, const char *path, const char *self,
    const char *user)
{
	char		*text;
	const char	*why;
	int		 r;

	/* The reason names neither the path nor a byte of the file: it
	 * may end up in a DSN to a stranger. */
	if ((r = x->ops->include(x->ops->arg, path, user, &text)) != 0) {
		x->temp = r == -1;
		return r == -1 ? "cannot read :include: file" :
		    ":include: file refused or unreadable";
	}
	/* The path joins the chain: a file including itself is a loop. */
	if (x->depth >= ALIAS_MAX_DEPTH)
		why = "alias nesting too deep";
	else if (in_chain(x, path))
		why = "alias loop";
	else {
		x->chain[x->depth++] = path;
		x->includes++;
		why = expand_text(x, text, self, user);
		x->includes--;
		x->depth--;
	}
	free(text);
	return why;
}

static const char *
expand_item(struct xp *x, const char *item, size_t len, const char *self,
    const char *user)
{
	enum alias_kind	 kind;
	char		*value;
	const char	*why;
	int		 noexpand;

	/* Duplicates are dropped only at the end, so a few short lines
	 * that each name the next list many times would expand as the
	 * product of their lengths: bound the work, not just the result. */
	if (++x->steps > ALIAS_MAX_STEPS)
		return "alias expansion too large";
	if ((why = aliases_item(item, len, &kind, &value, &noexpand)) != NULL)
		return why;
	switch (kind) {
	case ALIAS_PIPE:
	case ALIAS_FILE:
		why = add_target(x, kind, value, user);
		break;
	case ALIAS_INCLUDE:
		why = expand_include(x, value, self, user);
		break;
	default:
		why = expand_addr(x, value, noexpand, self, user);
	}
	free(value);
	return why;
}

/* Items separated by commas or newlines; quotes and <> protect commas. */
static const char *
expand_text(struct xp *x, const char *text, const char *self,
    const char *user)
{
	const char	*p = text, *start = text, *why;
	int		 quote = 0, angle = 0;

	for (;; p++) {
		if (*p == '"')
			quote = !quote;
		else if (*p == '<' && !quote)
			angle = 1;
		else if (*p == '>' && !quote)
			angle = 0;
		else if (*p == '#' && !quote && !angle && p == start) {
			p += strcspn(p, "\n");	/* comment line */
			if (*p == '\0')
				return NULL;
			start = p + 1;
			continue;
		}
		if (*p != '\0' && *p != '\n' && !((*p == ',') && !quote &&
		    !angle))
			continue;
		{
			const char *s = start;
			size_t len = (size_t)(p - start);

			aliases_trim(&s, &len);
			if (len > 0 &&
			    (why = expand_item(x, s, len, self, user)) != NULL)
				return why;
		}
		if (*p == '\0')
			return NULL;
		start = p + 1;
		quote = angle = 0;
	}
}

static int
in_chain(const struct xp *x, const char *name)
{
	int	 i;

	for (i = 0; i < x->depth; i++)
		if (strcmp(x->chain[i], name) == 0)
			return 1;
	return 0;
}

static const char *
expand_forward(struct xp *x, const char *name)
{
	char		*text;
	const char	*why;
	int		 r;

	if (x->ops->forward == NULL)
		return add_target(x, ALIAS_LOCAL, name, NULL);
	if ((r = x->ops->forward(x->ops->arg, name, &text)) == -1) {
		x->temp = 1;
		return "cannot read .forward";
	}
	if (r == 1)
		return add_target(x, ALIAS_LOCAL, name, NULL);
	if (x->depth >= ALIAS_MAX_DEPTH) {
		free(text);
		return "alias nesting too deep";
	}
	x->chain[x->depth++] = name;
	why = expand_text(x, text, name, name);
	x->depth--;
	free(text);
	return why;
}

static const char *
expand_name(struct xp *x, const char *name, const char *user)
{
	char		*rhs;
	const char	*why;
	int		 r;

	if (in_chain(x, name))
		return "alias loop";
	if (x->depth >= ALIAS_MAX_DEPTH)
		return "alias nesting too deep";
	if ((r = x->ops->lookup(x->ops->arg, name, &rhs)) == -1) {
		x->temp = 1;
		return "alias lookup failed";
	}
	if (r == 1) {
		/* RFC 5321 §4.5.1: postmaster must reach someone. */
		if (strcmp(name, "mailer-daemon") == 0)
			return expand_name(x, "postmaster", user);
		if (strcmp(name, "postmaster") == 0)
			return expand_name(x, "root", user);
		return expand_forward(x, name);
	}
	x->chain[x->depth++] = name;
	why = expand_text(x, rhs, name, user);
	x->depth--;
	free(rhs);
	return why;
}

const char *
aliases_expand(const struct alias_ops *ops, const char *name,
    struct alias_list *out, int *temp)
{
	struct xp	 x;
	char		 lname[ALIAS_MAX_NAME + 1], owner[ALIAS_MAX_NAME + 8];
	char		*rhs;
	const char	*why;

	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	x.ops = ops;
	x.out = out;
	*temp = 0;
	if (strlcpy(lname, name, sizeof(lname)) >= sizeof(lname) ||
	    *lname == '\0') {
		return "bad local name";
	}
	str_lower(lname);
	if ((why = expand_name(&x, lname, NULL)) != NULL) {
		*temp = x.temp;
		alias_list_free(out);
		return why;
	}
	/* sendmail: errors for list X go to owner-X when it exists. */
	if ((size_t)snprintf(owner, sizeof(owner), "owner-%s", lname) <
	    sizeof(owner) && ops->lookup(ops->arg, owner, &rhs) == 0) {
		free(rhs);
		out->owner = xstrdup(owner);
	}
	return NULL;
}

void
alias_list_free(struct alias_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].value);
		free(l->v[i].user);
	}
	free(l->v);
	free(l->owner);
	memset(l, 0, sizeof(*l));
}
