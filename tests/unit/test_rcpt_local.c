/* rcpt_local: the local part as local delivery sees it, the verdict on
 * the lookups, and the lookups against a real aliases file and the
 * password database. */
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
#include "config.h"
#include "rcpt_local.h"
#include "util.h"

#define NF	RCPT_LOOKUP_NOTFOUND
#define FOUND	RCPT_LOOKUP_FOUND
#define TEMP	RCPT_LOOKUP_TEMPFAIL

static void
test_decide(void **state)
{
	static const struct {
		const char		*what;
		struct rcpt_facts	 f;
		enum rcpt_verdict	 want;
	} cases[] = {
		{ "known user",	{ 1, 0, "alice", NF, FOUND }, RCPT_ACCEPT },
		{ "alias",	{ 1, 0, "list", FOUND, NF }, RCPT_ACCEPT },
		{ "alias and user", { 1, 0, "root", FOUND, FOUND }, RCPT_ACCEPT },
		{ "unknown",	{ 1, 0, "nosuch", NF, NF }, RCPT_REJECT },
		/* No recipient delimiter: "+ext" is part of the name. */
		{ "extension",	{ 1, 0, "alice+ext", NF, NF }, RCPT_REJECT },
		{ "postmaster",	{ 1, 0, "postmaster", NF, NF }, RCPT_ACCEPT },
		{ "Postmaster",	{ 1, 0, "PostMaster", NF, NF }, RCPT_ACCEPT },
		{ "mailer-daemon", { 1, 0, "mailer-daemon", NF, NF }, RCPT_ACCEPT },
		{ "postmaster, maps down", { 1, 0, "postmaster", TEMP, TEMP },
				RCPT_ACCEPT },
		{ "catch-all",	{ 1, 1, "nosuch", NF, NF }, RCPT_ACCEPT },
		{ "catch-all, maps down", { 1, 1, "nosuch", TEMP, TEMP },
				RCPT_ACCEPT },
		{ "check off",	{ 0, 0, "nosuch", NF, NF }, RCPT_ACCEPT },
		/* A failed lookup never becomes a 550 for a real user. */
		{ "alias map down", { 1, 0, "alice", TEMP, NF }, RCPT_TEMPFAIL },
		{ "passwd down", { 1, 0, "alice", NF, TEMP }, RCPT_TEMPFAIL },
		{ "map down, user found", { 1, 0, "alice", TEMP, FOUND },
				RCPT_ACCEPT },
		{ "alias found, passwd down", { 1, 0, "list", FOUND, TEMP },
				RCPT_ACCEPT },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (rcpt_local_decide(&cases[i].f) != cases[i].want)
			fail_msg("%s", cases[i].what);
}

static void
test_name(void **state)
{
	static const struct {
		const char	*addr;
		const char	*want;	/* NULL: refused */
	} cases[] = {
		{ "alice@local.test",		"alice" },
		{ "Alice@Local.Test",		"alice" },
		{ "ALICE",			"alice" },
		{ "alice+ext@local.test",	"alice+ext" },
		/* The domain is after the last "@" (smtp_parse). */
		{ "a%b@local.test",		"a%b" },
		{ "\"a@b\"@local.test",		"\"a@b\"" },
		{ "@local.test",		NULL },
		{ "",				NULL },
	};
	char	 name[ALIAS_MAX_NAME + 1], lng[ALIAS_MAX_NAME + 32];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *r = rcpt_local_name(cases[i].addr, name,
		    sizeof(name));

		if (cases[i].want == NULL) {
			if (r == NULL)
				fail_msg("accepted %s", cases[i].addr);
			continue;
		}
		if (r != NULL)
			fail_msg("%s: %s", cases[i].addr, r);
		assert_string_equal(name, cases[i].want);
	}
	/* ALIAS_MAX_NAME is the longest name local delivery takes. */
	(void)snprintf(lng, sizeof(lng), "%0*d@x", ALIAS_MAX_NAME + 1, 0);
	assert_non_null(rcpt_local_name(lng, name, sizeof(name)));
	(void)snprintf(lng, sizeof(lng), "%0*d@x", ALIAS_MAX_NAME, 0);
	assert_null(rcpt_local_name(lng, name, sizeof(name)));
	assert_int_equal(strlen(name), ALIAS_MAX_NAME);
}

/* The lookups as the session does them: a text aliases file and the
 * password database of this machine (root always exists). */
static void
test_lookup(void **state)
{
	static const struct {
		const char		*name;
		const char		*catchall;
		enum rcpt_lookup	 alias, user;
		enum rcpt_verdict	 want;
	} cases[] = {
		{ "list",	"",	FOUND,	NF,	RCPT_ACCEPT },
		{ "root",	"",	NF,	FOUND,	RCPT_ACCEPT },
		{ "nosuchuser-zz", "",	NF,	NF,	RCPT_REJECT },
		{ "nosuchuser-zz", "list", NF,	NF,	RCPT_ACCEPT },
		{ "postmaster",	"",	NF,	NF,	RCPT_ACCEPT },
	};
	char		 dir[] = "/tmp/test_rcpt_local.XXXXXX", path[256];
	char		 why[256];
	struct config	 c;
	struct rcpt_facts f;
	FILE		*fp;
	size_t		 i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/aliases", dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("List: root, far@remote.example\n", fp);
	fclose(fp);
	config_defaults(&c);
	free(c.aliases);
	c.aliases = xstrdup(path);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		free(c.local_catchall);
		c.local_catchall = xstrdup(cases[i].catchall);
		rcpt_local_lookup(&c, cases[i].name, &f, why, sizeof(why));
		if (f.alias != cases[i].alias || f.user != cases[i].user ||
		    rcpt_local_decide(&f) != cases[i].want)
			fail_msg("%s: alias %d user %d", cases[i].name,
			    f.alias, f.user);
	}
	/* An aliases "file" that cannot be read: temporary, and said. */
	free(c.aliases);
	c.aliases = xstrdup(dir);
	rcpt_local_lookup(&c, "nosuchuser-zz", &f, why, sizeof(why));
	assert_int_equal(f.alias, RCPT_LOOKUP_TEMPFAIL);
	assert_int_equal(rcpt_local_decide(&f), RCPT_TEMPFAIL);
	assert_non_null(strstr(why, "aliases map"));
	config_free(&c);
	(void)unlink(path);
	(void)rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
