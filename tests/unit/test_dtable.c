/* dtable: loading with file:line errors, exact and ".parent" lookups. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dtable.h"

static const char *
no_x(const char *v, void *arg)
{
	(void)arg;
	return strchr(v, 'x') != NULL ? "x is not allowed" : NULL;
}

static void
test_lookup(void **state)
{
	static const char text[] =
	    "# transport\n"
	    "example.org      [10.0.0.1]:2525\n"
	    ".example.org     inner.example.org:25   # subdomains\n"
	    "\n"
	    "A.Example.Org.   [10.0.0.3]\n"
	    ".org             relay.org\n";
	static const struct { const char *in, *want; } cases[] = {
		{ "example.org", "[10.0.0.1]:2525" },
		{ "EXAMPLE.ORG", "[10.0.0.1]:2525" },
		{ "example.org.", "[10.0.0.1]:2525" },
		{ "b.example.org", "inner.example.org:25" },
		{ "c.b.example.org", "inner.example.org:25" },
		{ "a.example.org", "[10.0.0.3]" },
		{ "other.org", "relay.org" },
		{ "org", NULL },
		{ "example.net", NULL },
		{ "xexample.org", "relay.org" },
		{ "", NULL },
	};
	struct dtable	 t;
	char		 err[256];
	const char	*v;
	size_t		 i;

	(void)state;
	assert_int_equal(dtable_load_mem(&t, "tt", text, sizeof(text) - 1,
	    NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.v[2].line, 5);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = dtable_lookup(&t, cases[i].in);
		if (cases[i].want == NULL ? v != NULL :
		    v == NULL || strcmp(v, cases[i].want) != 0)
			fail_msg("case %zu: %s -> %s", i, cases[i].in,
			    v ? v : "(none)");
	}
	dtable_free(&t);
}

static void
test_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "a.org\n", "tt:1: expected: domain value" },
		{ "\n\na.org   \n", "tt:3: expected: domain value" },
		{ "a.org ok\nb.org has x\n", "tt:2: x is not allowed" },
		{ "a/b.org v\n", "tt:1: bad character in domain" },
		{ ". v\n", "tt:1: bad domain" },
	};
	struct dtable	 t;
	char		 err[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(dtable_load_mem(&t, "tt", cases[i].text,
		    strlen(cases[i].text), no_x, NULL, err, sizeof(err)), -1);
		assert_string_equal(err, cases[i].want);
		assert_int_equal(t.n, 0);
	}
	assert_int_equal(dtable_load(&t, "", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(dtable_load(&t, "/nonexistent/t", NULL, NULL, err,
	    sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
