/* The maildrop's temporary files: their names, and when one is stale. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "maildrop.h"

#define NOW	1800000000LL

static const struct {
	const char	*name;
	int		 want;
} name_cases[] = {
	{ "661A8B284E08DAAF.tmp", 1 },
	{ "x.tmp", 1 },
	{ "661A8B284E08DAAF", 0 },	/* a message */
	{ ".tmp", 0 },			/* no name before it */
	{ "tmp", 0 },
	{ "661A8B284E08DAAF.tmpx", 0 },
	{ "661A8B284E08DAAF.TMP", 0 },	/* the writer's names are lower case */
	{ "", 0 },
};

static const struct {
	const char	*what;
	long long	 mtime;
	int		 want;
} age_cases[] = {
	{ "just written", NOW, 0 },
	{ "a minute old", NOW - 60, 0 },
	{ "exactly the limit", NOW - MAILDROP_TMP_MAX_AGE, 0 },
	{ "a second past the limit", NOW - MAILDROP_TMP_MAX_AGE - 1, 1 },
	{ "two hours old", NOW - 7200, 1 },
	{ "a day old", NOW - 86400, 1 },
	{ "epoch", 0, 1 },
	{ "a minute ahead (clock skew)", NOW + 60, 0 },
	{ "as far ahead as the limit", NOW + MAILDROP_TMP_MAX_AGE, 0 },
	{ "set far into the future", NOW + MAILDROP_TMP_MAX_AGE + 1, 1 },
};

static void
test_tmp_name(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++)
		if (maildrop_tmp_name(name_cases[i].name) != name_cases[i].want)
			fail_msg("\"%s\": want %d", name_cases[i].name,
			    name_cases[i].want);
}

static void
test_tmp_stale(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(age_cases) / sizeof(age_cases[0]); i++)
		if (maildrop_tmp_stale(age_cases[i].mtime, NOW) !=
		    age_cases[i].want)
			fail_msg("%s: want %d", age_cases[i].what,
			    age_cases[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tmp_name),
		cmocka_unit_test(test_tmp_stale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
