/*
 * aliases(5): the parser and the expansion are pure (callbacks for every
 * lookup); the Berkeley DB map of newaliases is at the end of the file.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "compat.h"
#include "util.h"

#define ALIAS_MAX_FILE	(64 * 1024 * 1024)
#define ALIAS_MAX_STEPS	(10 * ALIAS_MAX_TARGETS)	/* items per expansion */

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

static void
trim(const char **p, size_t *len)
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
	trim(&p, &len);
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

			trim(&q, &ql);
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
	trim(&p, &len);
	if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
		p++;
		len -= 2;
		trim(&p, &len);
	}
	if (len == 0)
		return "empty item";
	if (memchr(p, '\n', len) != NULL || memchr(p, '\0', len) != NULL)
		return "control character in item";
	if (p[0] == '|') {
		p++;
		len--;
		trim(&p, &len);
		if (len == 0)
			return "empty command";
		*kind = ALIAS_PIPE;
	} else if (len > 9 && strn_caseeq(p, 9, ":include:")) {
		p += 9;
		len -= 9;
		trim(&p, &len);
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

/* -- expansion ----------------------------------------------------- */

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

			trim(&s, &len);
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

/* -- files and the Berkeley DB map -------------------------------- */

static int
read_file(const char *path, char **text, size_t *len)
{
	struct stat	 st;
	struct buf	 b;
	char		 chunk[8192];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > ALIAS_MAX_FILE) {
		(void)close(fd);
		errno = EFBIG;
		return -1;
	}
	buf_init(&b);
	buf_append(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > ALIAS_MAX_FILE)
			break;
		buf_append(&b, chunk, (size_t)n);
	}
	(void)close(fd);
	if (n != 0) {
		buf_free(&b);
		errno = n < 0 ? errno : EFBIG;
		return -1;
	}
	*text = b.data;
	*len = b.len;
	return 0;
}

struct build {
	DB		*db;
	const char	*path;
	size_t		 longest, total;
	int		 dberr;
};

static int
build_one(void *arg, const char *name, const char *rhs, int line)
{
	struct build	*b = arg;
	DBT		 k, v;
	int		 ret;

	(void)line;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	/* sendmail's layout: both strings with their NUL. */
	k.data = (void *)(uintptr_t)name;
	k.size = (u_int32_t)strlen(name) + 1;
	v.data = (void *)(uintptr_t)rhs;
	v.size = (u_int32_t)strlen(rhs) + 1;
	if ((ret = b->db->put(b->db, NULL, &k, &v, DB_NOOVERWRITE)) ==
	    DB_KEYEXIST) {
		fprintf(stderr, "%s:%d: warning: duplicate alias name %s\n",
		    b->path, line, name);
		ret = b->db->put(b->db, NULL, &k, &v, 0);
	}
	if (ret != 0) {
		b->dberr = ret;
		return -1;
	}
	if (line == 0)		/* sendmail's "@" end marker */
		return 0;
	if (v.size - 1 > b->longest)
		b->longest = v.size - 1;
	b->total += v.size - 1;
	return 0;
}

static void
build_bad(void *arg, int line, const char *why)
{
	const struct build *b = arg;

	fprintf(stderr, "%s:%d: %s (line skipped)\n", b->path, line, why);
}

static int
sync_path(const char *path)
{
	int	 fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	(void)close(fd);
	return r;
}

int
aliases_build_db(const char *path, char *err, size_t errlen)
{
	struct build	 b;
	char		 dbpath[PATH_MAX], tmp[PATH_MAX], *text = NULL;
	size_t		 len;
	int		 n = -1, ret;

	memset(&b, 0, sizeof(b));
	b.path = path;
	if ((size_t)snprintf(dbpath, sizeof(dbpath), "%s.db", path) >=
	    sizeof(dbpath) || (size_t)snprintf(tmp, sizeof(tmp),
	    "%s.db.tmp%ld", path, (long)getpid()) >= sizeof(tmp)) {
		(void)snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (read_file(path, &text, &len) == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	(void)unlink(tmp);
	if ((ret = db_create(&b.db, NULL, 0)) != 0 ||
	    (ret = b.db->open(b.db, NULL, tmp, NULL, DB_HASH,
	    DB_CREATE | DB_EXCL, 0644)) != 0) {
		(void)snprintf(err, errlen, "%s: %s", tmp, db_strerror(ret));
		goto done;
	}
	n = aliases_parse(text, len, build_one, build_bad, &b);
	if (n >= 0 && (ret = build_one(&b, "@", "@", 0)) != 0)
		n = -1;
	if ((ret = b.db->close(b.db, 0)) != 0 && n >= 0) {
		b.dberr = ret;
		n = -1;
	}
	b.db = NULL;
	/* The new map replaces the old in one rename, after it is synced.
	 * 0644 whatever the umask: the SMTP sessions run as the
	 * unprivileged user and look recipients up in it (rcpt_local.h). */
	if (n < 0 || chmod(tmp, 0644) == -1 || sync_path(tmp) == -1 ||
	    rename(tmp, dbpath) == -1) {
		(void)snprintf(err, errlen, "%s: %s", dbpath, b.dberr ?
		    db_strerror(b.dberr) : strerror(errno));
		n = -1;
		goto done;
	}
	printf("%s: %d aliases, longest %zu bytes, %zu bytes total\n", path,
	    n, b.longest, b.total);
done:
	if (b.db != NULL)
		(void)b.db->close(b.db, 0);
	if (n < 0)
		(void)unlink(tmp);
	free(text);
	return n < 0 ? -1 : 0;
}

struct find {
	const char	*name;
	char		*rhs;
};

static int
find_one(void *arg, const char *name, const char *rhs, int line)
{
	struct find	*f = arg;

	(void)line;
	if (strcmp(name, f->name) == 0) {	/* the last one wins, as in the map */
		free(f->rhs);
		f->rhs = xstrdup(rhs);
	}
	return 0;
}

static int
text_lookup(const char *path, const char *name, char **rhs)
{
	struct find	 f = { name, NULL };
	char		*text;
	size_t		 len;

	if (read_file(path, &text, &len) == -1)
		return errno == ENOENT ? 1 : -1;
	(void)aliases_parse(text, len, find_one, NULL, &f);
	free(text);
	if (f.rhs == NULL)
		return 1;
	*rhs = f.rhs;
	return 0;
}

int
aliases_db_lookup(const char *path, const char *name, char **rhs)
{
	struct stat	 st_text, st_db;
	char		 dbpath[PATH_MAX];
	DB		*db;
	DBT		 k, v;
	int		 ret;

	if (*path == '\0')
		return 1;
	if ((size_t)snprintf(dbpath, sizeof(dbpath), "%s.db", path) >=
	    sizeof(dbpath))
		return -1;
	/* A map older than its text (newaliases not run yet): the text. */
	if (stat(dbpath, &st_db) == -1 || (stat(path, &st_text) == 0 &&
	    st_text.st_mtime > st_db.st_mtime))
		return text_lookup(path, name, rhs);
	if (db_create(&db, NULL, 0) != 0)
		return -1;
	if (db->open(db, NULL, dbpath, NULL, DB_HASH, DB_RDONLY, 0) != 0) {
		(void)db->close(db, 0);
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)name;
	k.size = (u_int32_t)strlen(name) + 1;
	ret = db->get(db, NULL, &k, &v, 0);
	if (ret == 0)
		*rhs = xstrndup(v.data, v.size > 0 &&
		    ((char *)v.data)[v.size - 1] == '\0' ? v.size - 1 : v.size);
	(void)db->close(db, 0);
	if (ret == DB_NOTFOUND)
		return 1;
	return ret == 0 ? 0 : -1;
}
