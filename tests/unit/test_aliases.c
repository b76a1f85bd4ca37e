/* aliases: parser, item classification, expansion, the DB map. */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "aliases.h"
#include "util.h"

#define FIXTURE	"tests/unit/data/aliases.freebsd"

/* -- parse ---------------------------------------------------------- */

struct collect {
	struct buf	 out;	/* "name=rhs;" ... */
	int		 bad;
	int		 badline;
};

static int
collect_one(void *arg, const char *name, const char *rhs, int line)
{
	struct collect *c = arg;

	(void)line;
	buf_printf(&c->out, "%s=%s;", name, rhs);
	return 0;
}

static void
collect_bad(void *arg, int line, const char *why)
{
	struct collect *c = arg;

	(void)why;
	c->bad++;
	if (c->badline == 0)
		c->badline = line;
}

static const struct {
	const char	*text;
	const char	*want;
	int		 nbad;
	int		 badline;
} parse_cases[] = {
	{ "root: me\n", "root=me;", 0, 0 },
	{ "Root:me", "root=me;", 0, 0 },
	{ "# c\n\nMAILER-DAEMON: postmaster\r\n", "mailer-daemon=postmaster;", 0, 0 },
	{ "a: b,\n\tc,\n  d\n", "a=b, c, d;", 0, 0 },
	{ "a: b,\n\n\tc\n", "a=b,;", 1, 3 },		/* blank ends an entry */
	{ "a: b\n# x\n\tc\n", "a=b;", 1, 3 },		/* so does a comment */
	{ "\tc\n", "", 1, 1 },
	{ "nocolon\nb: c\n", "b=c;", 1, 1 },
	{ ": x\n", "", 1, 1 },
	{ "a b: c\n", "", 1, 1 },
	{ "a:\n", "", 1, 1 },
	{ "a:\n\tb\n", "a=b;", 0, 0 },
	{ "msgs: \"| /usr/bin/msgs -s\"\n", "msgs=\"| /usr/bin/msgs -s\";", 0, 0 },
	{ "a: b\nb: c", "a=b;b=c;", 0, 0 },		/* no final newline */
	{ "x:\ty ,z \t\n", "x=y ,z;", 0, 0 },
};

static void
test_parse(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		struct collect c;

		memset(&c, 0, sizeof(c));
		buf_init(&c.out);
		buf_append(&c.out, "", 0);
		(void)aliases_parse(parse_cases[i].text,
		    strlen(parse_cases[i].text), collect_one, collect_bad, &c);
		if (strcmp(c.out.data, parse_cases[i].want) != 0 ||
		    c.bad != parse_cases[i].nbad ||
		    c.badline != parse_cases[i].badline)
			fail_msg("case %zu: got \"%s\" bad=%d@%d", i, c.out.data,
			    c.bad, c.badline);
		buf_free(&c.out);
	}
}

static void
test_parse_nul(void **state)
{
	static const char text[] = "a: b\nc: \0d\ne: f\n";
	struct collect	 c;

	(void)state;
	memset(&c, 0, sizeof(c));
	buf_init(&c.out);
	assert_int_equal(aliases_parse(text, sizeof(text) - 1, collect_one,
	    collect_bad, &c), 2);
	assert_string_equal(c.out.data, "a=b;e=f;");
	assert_int_equal(c.badline, 2);
	buf_free(&c.out);
}

/* -- items ---------------------------------------------------------- */

static const struct {
	const char	*item;
	enum alias_kind	 kind;
	const char	*value;	/* NULL: an error */
	int		 noexpand;
} item_cases[] = {
	{ "root", ALIAS_REMOTE, "root", 0 },
	{ " user@example.org ", ALIAS_REMOTE, "user@example.org", 0 },
	{ "<user@example.org>", ALIAS_REMOTE, "user@example.org", 0 },
	{ "\\joe", ALIAS_REMOTE, "joe", 1 },
	{ "/var/log/mail.copy", ALIAS_FILE, "/var/log/mail.copy", 0 },
	{ "\"/tmp/with space\"", ALIAS_FILE, "/tmp/with space", 0 },
	{ "\"| /usr/bin/msgs -s\"", ALIAS_PIPE, "/usr/bin/msgs -s", 0 },
	{ "|/bin/cat", ALIAS_PIPE, "/bin/cat", 0 },
	{ ":include:/etc/mail/list", ALIAS_INCLUDE, "/etc/mail/list", 0 },
	{ ":INCLUDE: /etc/x", ALIAS_INCLUDE, "/etc/x", 0 },
	{ ":include:relative", ALIAS_INCLUDE, NULL, 0 },
	{ "|", ALIAS_PIPE, NULL, 0 },
	{ "\"\"", ALIAS_REMOTE, NULL, 0 },
	{ "two words", ALIAS_REMOTE, NULL, 0 },
	{ "a<b", ALIAS_REMOTE, NULL, 0 },
};

static void
test_items(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(item_cases) / sizeof(item_cases[0]); i++) {
		enum alias_kind	 kind;
		char		*value;
		int		 noexpand;
		const char	*why;

		why = aliases_item(item_cases[i].item,
		    strlen(item_cases[i].item), &kind, &value, &noexpand);
		if (item_cases[i].value == NULL) {
			if (why == NULL)
				fail_msg("case %zu: accepted", i);
			continue;
		}
		if (why != NULL)
			fail_msg("case %zu: %s", i, why);
		assert_int_equal(kind, item_cases[i].kind);
		assert_string_equal(value, item_cases[i].value);
		assert_int_equal(noexpand, item_cases[i].noexpand);
		free(value);
	}
}

/* -- expansion over in-memory tables -------------------------------- */

struct mem {
	const char	*aliases;	/* aliases(5) text */
	const char	*forwards;	/* "user=text\n" ... ('\\n' as ';') */
	int		 fail_lookup;
};

struct find {
	const char	*name;
	char		*rhs;
};

static int
find_one(void *arg, const char *name, const char *rhs, int line)
{
	struct find	*f = arg;

	(void)line;
	if (strcmp(name, f->name) == 0) {
		free(f->rhs);
		f->rhs = xstrdup(rhs);
	}
	return 0;
}

static int
mem_lookup(void *arg, const char *name, char **rhs)
{
	const struct mem *m = arg;
	struct find	 f = { name, NULL };

	if (m->fail_lookup)
		return -1;
	(void)aliases_parse(m->aliases, strlen(m->aliases), find_one, NULL, &f);
	if (f.rhs == NULL)
		return 1;
	*rhs = f.rhs;
	return 0;
}

static int
mem_include(void *arg, const char *path, const char *user, char **text)
{
	(void)arg;
	/* Read as the .forward's user: joe may not read another's list. */
	if (strcmp(path, "/lists/private") == 0)
		return user != NULL ? 1 : (*text = xstrdup("ann\n"), 0);
	if (strcmp(path, "/lists/refused") == 0)
		return 1;
	if (strcmp(path, "/lists/staff") == 0) {
		*text = xstrdup("# staff list\nann\nbob, carl@remote.example\n");
		return 0;
	}
	if (strcmp(path, "/lists/self") == 0) {
		*text = xstrdup(":include:/lists/self\n");
		return 0;
	}
	return -1;
}

static int
mem_forward(void *arg, const char *user, char **text)
{
	const struct mem *m = arg;
	const char	*p;
	size_t		 ul = strlen(user);
	char		*t;

	for (p = m->forwards; p != NULL && *p; p += strcspn(p, "\n") +
	    (p[strcspn(p, "\n")] != '\0')) {
		if (strncmp(p, user, ul) == 0 && p[ul] == '=') {
			t = xstrndup(p + ul + 1, strcspn(p + ul + 1, "\n"));
			for (char *q = t; *q; q++)
				if (*q == ';')
					*q = '\n';
			*text = t;
			return 0;
		}
	}
	return 1;
}

static int
mem_is_local(void *arg, const char *domain)
{
	(void)arg;
	return strcasecmp(domain, "here.example") == 0 ||
	    strcasecmp(domain, "localhost") == 0;
}

static char *
render(const struct alias_list *l)
{
	struct buf	 b;
	size_t		 i;
	static const char k[] = "LRFPI";

	buf_init(&b);
	buf_append(&b, "", 0);
	for (i = 0; i < l->n; i++)
		buf_printf(&b, "%s%c:%s%s%s", i ? "," : "", k[l->v[i].kind],
		    l->v[i].value, l->v[i].user ? "@@" : "",
		    l->v[i].user ? l->v[i].user : "");
	return b.data;
}

static const struct {
	const char	*aliases;
	const char	*forwards;
	const char	*name;
	const char	*want;		/* rendered list, or the error */
	int		 temp;
} expand_cases[] = {
	{ "", NULL, "joe", "L:joe", 0 },
	{ "", NULL, "Joe", "L:joe", 0 },
	{ "", NULL, "postmaster", "L:root", 0 },
	{ "", NULL, "MAILER-DAEMON", "L:root", 0 },
	{ "postmaster: admin\n", NULL, "mailer-daemon", "L:admin", 0 },
	{ "root: me@remote.example\n", NULL, "postmaster",
	    "R:me@remote.example", 0 },
	{ "a: b\nb: c\n", NULL, "a", "L:c", 0 },
	{ "a: b, b@here.example, B@LOCALHOST\n", NULL, "a", "L:b", 0 },
	{ "a: x@remote.example, /var/log/a, \"|/bin/cat -u\"\n", NULL, "a",
	    "R:x@remote.example,F:/var/log/a,P:/bin/cat -u", 0 },
	{ "a: a, b\n", NULL, "a", "L:a,L:b", 0 },	/* self: the mailbox */
	{ "a: \\a, other\n", NULL, "a", "L:a,L:other", 0 },
	{ "a: b\nb: a\n", NULL, "a", "alias loop", 0 },
	{ "a: b\nb: c\nc: a\n", NULL, "a", "alias loop", 0 },
	{ "a: b\nb: c\nc: d\nd: e\ne: f\nf: g\ng: h\nh: i\ni: j\nj: k\nk: l\n",
	    NULL, "a", "alias nesting too deep", 0 },
	{ "list: :include:/lists/staff\n", NULL, "list",
	    "L:ann,L:bob,R:carl@remote.example", 0 },
	{ "list: :include:/lists/self\n", NULL, "list", "alias loop", 0 },
	{ "list: :include:/lists/missing\n", NULL, "list",
	    "cannot read :include: file", 1 },
	{ "list: :include:/lists/refused\n", NULL, "list",
	    ":include: file refused or unreadable", 0 },
	{ "list: :include:/lists/private\n", NULL, "list", "L:ann", 0 },
	{ "", "joe=:include:/lists/private", "joe",
	    ":include: file refused or unreadable", 0 },
	{ "", "joe=:include:/lists/staff", "joe",
	    "L:ann,L:bob,R:carl@remote.example", 0 },
	{ "list: a, b\nowner-list: a\n", NULL, "list", "L:a,L:b", 0 },
	{ "", "joe=\\joe, \"|/usr/bin/vacation joe\"", "joe",
	    "L:joe,P:/usr/bin/vacation joe@@joe", 0 },
	{ "", "joe=joe@remote.example", "joe", "R:joe@remote.example", 0 },
	{ "", "joe=joe;/home/joe/copy", "joe", "L:joe,F:/home/joe/copy@@joe", 0 },
	{ "", "joe=ann\nann=joe", "joe", "alias loop", 0 },
	{ "sys: joe\n", "joe=\\joe,/tmp/j", "sys", "L:joe,F:/tmp/j@@joe", 0 },
	{ "a: bad<item\n", NULL, "a", "bad address", 0 },
};

static void
test_expand(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]); i++) {
		struct mem	 m = { expand_cases[i].aliases,
		    expand_cases[i].forwards, 0 };
		struct alias_ops ops = { mem_lookup, mem_include, mem_forward,
		    mem_is_local, &m };
		struct alias_list l;
		const char	*why;
		char		*got;
		int		 temp;

		why = aliases_expand(&ops, expand_cases[i].name, &l, &temp);
		got = why ? xstrdup(why) : render(&l);
		if (strcmp(got, expand_cases[i].want) != 0 ||
		    temp != expand_cases[i].temp)
			fail_msg("case %zu (%s): got \"%s\" temp=%d", i,
			    expand_cases[i].name, got, temp);
		free(got);
		alias_list_free(&l);
	}
}

static void
test_owner_and_tempfail(void **state)
{
	struct mem	 m = { "list: a, b\nowner-list: a\n", NULL, 0 };
	struct alias_ops ops = { mem_lookup, mem_include, NULL, mem_is_local,
	    &m };
	struct alias_list l;
	int		 temp;

	(void)state;
	assert_null(aliases_expand(&ops, "list", &l, &temp));
	assert_string_equal(l.owner, "owner-list");
	alias_list_free(&l);
	m.fail_lookup = 1;
	assert_non_null(aliases_expand(&ops, "list", &l, &temp));
	assert_int_equal(temp, 1);
	assert_int_equal(l.n, 0);
}

/* Targets an :include: file named are marked: their text never goes
 * into a DSN. */
static void
test_included_marked(void **state)
{
	struct mem	 m = { "list: direct, :include:/lists/staff\n", NULL, 0 };
	struct alias_ops ops = { mem_lookup, mem_include, NULL, mem_is_local,
	    &m };
	struct alias_list l;
	size_t		 i;
	int		 temp;

	(void)state;
	assert_null(aliases_expand(&ops, "list", &l, &temp));
	assert_int_equal(l.n, 4);
	for (i = 0; i < l.n; i++)
		assert_int_equal(l.v[i].included,
		    strcmp(l.v[i].value, "direct") != 0);
	alias_list_free(&l);
}

/* -- FreeBSD's shipped file ----------------------------------------- */

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "r");
	char	*p;
	long	 n;

	if (f == NULL)
		return NULL;
	(void)fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = xmalloc((size_t)n + 1);
	*len = fread(p, 1, (size_t)n, f);
	p[*len] = '\0';
	(void)fclose(f);
	return p;
}

static void
test_freebsd_file(void **state)
{
	struct collect	 c;
	char		*text, *name, *save;
	size_t		 len = 0;
	int		 n;

	(void)state;
	if ((text = slurp(FIXTURE, &len)) == NULL)
		fail_msg("%s: cannot read (run from the top directory)", FIXTURE);
	memset(&c, 0, sizeof(c));
	buf_init(&c.out);
	n = aliases_parse(text, len, collect_one, collect_bad, &c);
	assert_int_equal(c.bad, 0);
	assert_true(n >= 30);
	assert_non_null(strstr(c.out.data, "mailer-daemon=postmaster;"));
	assert_non_null(strstr(c.out.data, "staff=root, operator, webmaster;"));
	/* Every name shipped there ends in root's mailbox. */
	{
		struct mem m = { text, NULL, 0 };
		struct alias_ops ops = { mem_lookup, mem_include, NULL,
		    mem_is_local, &m };

		for (name = strtok_r(c.out.data, ";", &save); name != NULL;
		    name = strtok_r(NULL, ";", &save)) {
			struct alias_list l;
			char *got;
			int temp;

			name[strcspn(name, "=")] = '\0';
			if (aliases_expand(&ops, name, &l, &temp) != NULL)
				fail_msg("%s does not expand", name);
			got = render(&l);
			if (strcmp(got, "L:root") != 0)
				fail_msg("%s -> %s", name, got);
			free(got);
			alias_list_free(&l);
		}
	}
	buf_free(&c.out);
	free(text);
}

static void
test_db_map(void **state)
{
	char	 dir[] = "/tmp/test_aliases.XXXXXX", path[256], cmd[300];
	char	 err[256], *rhs = NULL;
	struct stat st;
	mode_t	 old;
	FILE	*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/aliases", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("# test\nPostmaster: root\nlist: a,\n  b@remote.example\n"
	    "broken line\n", f);
	fclose(f);
	/* Readable by the unprivileged sessions whatever the umask. */
	old = umask(077);
	assert_int_equal(aliases_build_db(path, err, sizeof(err)), 0);
	(void)umask(old);
	(void)snprintf(cmd, sizeof(cmd), "%s.db", path);
	assert_int_equal(stat(cmd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(aliases_db_lookup(path, "postmaster", &rhs), 0);
	assert_string_equal(rhs, "root");
	free(rhs);
	assert_int_equal(aliases_db_lookup(path, "list", &rhs), 0);
	assert_string_equal(rhs, "a, b@remote.example");
	free(rhs);
	assert_int_equal(aliases_db_lookup(path, "nobody", &rhs), 1);
	/* No map: the text is read. */
	(void)snprintf(cmd, sizeof(cmd), "%s.db", path);
	assert_int_equal(unlink(cmd), 0);
	assert_int_equal(aliases_db_lookup(path, "list", &rhs), 0);
	assert_string_equal(rhs, "a, b@remote.example");
	free(rhs);
	(void)unlink(path);
	(void)rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_owner_and_tempfail),
		cmocka_unit_test(test_included_marked),
		cmocka_unit_test(test_freebsd_file),
		cmocka_unit_test(test_db_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
