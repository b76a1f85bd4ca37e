/* dlimit: stage timeouts under a job deadline, the address and session
 * limits, suspect destinations and the runner's admission rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dlimit.h"

#define NCASES(a)	(sizeof(a) / sizeof((a)[0]))

static void
test_stage_ms(void **state)
{
	static const struct {
		int64_t	 stage, now, deadline, want;
	} cases[] = {
		{ 300000, 1000, 0, 300000 },		/* no deadline */
		{ 300000, 1000, 61000, 60000 },		/* cut to what is left */
		{ 5000, 1000, 61000, 5000 },		/* stage is shorter */
		{ 5000, 61000, 61000, 0 },		/* exactly at it */
		{ 5000, 70000, 61000, 0 },		/* past it: never < 0 */
		{ 0, 1000, 61000, 0 },
		{ 60000, 1000, 61000, 60000 },		/* equal */
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (dlimit_stage_ms(cases[i].stage, cases[i].now,
		    cases[i].deadline) != cases[i].want)
			fail_msg("case %zu: %lld", i, (long long)dlimit_stage_ms(
			    cases[i].stage, cases[i].now, cases[i].deadline));
}

static void
test_next_addr(void **state)
{
	static const struct {
		struct dlimit_job	 j;
		int64_t			 now;
		const char		*want;
	} cases[] = {
		{ { 5, 2, 0, 0, 0 }, 0, NULL },
		{ { 5, 2, 4, 1, 0 }, 0, NULL },
		{ { 5, 2, 5, 1, 0 }, 0, "mx_address_limit" },
		{ { 5, 2, 3, 2, 0 }, 0, "mx_session_limit" },
		{ { 5, 2, 5, 2, 0 }, 0, "mx_session_limit" },
		{ { 0, 0, 900, 900, 0 }, 0, NULL },		/* 0: no limit */
		{ { 0, 2, 900, 1, 0 }, 0, NULL },
		{ { 5, 0, 4, 900, 0 }, 0, NULL },
		{ { 5, 2, 0, 0, 1000 }, 999, NULL },
		{ { 5, 2, 0, 0, 1000 }, 1000, "delivery_job_timeout" },
		{ { 5, 2, 5, 2, 1000 }, 2000, "delivery_job_timeout" },
		{ { 1, 1, 0, 0, 0 }, 0, NULL },
		{ { 1, 1, 1, 0, 0 }, 0, "mx_address_limit" },
	};
	const char	*got;
	size_t		 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++) {
		got = dlimit_next_addr(&cases[i].j, cases[i].now);
		if (cases[i].want == NULL ? got != NULL : got == NULL ||
		    strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: %s", i, got ? got : "(null)");
	}
}

static void
test_suspect(void **state)
{
	static const struct {
		struct dlimit_dest	 d;
		int64_t			 now, slow;
		int			 want;
	} cases[] = {
		{ { 0, 0 }, 5000, 4000, 0 },		/* fresh */
		{ { 6000, 0 }, 5000, 4000, 1 },		/* deferred recently */
		{ { 5000, 0 }, 5000, 4000, 0 },		/* that has passed */
		{ { 0, 2000 }, 5000, 4000, 0 },		/* running, not long */
		{ { 0, 1000 }, 5000, 4000, 0 },		/* exactly slow_ms */
		{ { 0, 999 }, 5000, 4000, 1 },		/* running too long */
		{ { 0, 1 }, 5000, 0, 0 },		/* no slow limit */
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (dlimit_suspect(&cases[i].d, cases[i].now,
		    cases[i].slow) != cases[i].want)
			fail_msg("case %zu", i);
}

static void
test_after_report(void **state)
{
	static const struct {
		int64_t	 until;
		unsigned accepted, deferred;
		int	 cut;
		int64_t	 want;
	} cases[] = {
		{ 0, 0, 1, 0, 1000 + 60 },	/* deferred, nothing sent */
		{ 0, 3, 0, 1, 1000 + 60 },	/* cut by a limit */
		{ 0, 1, 1, 1, 1000 + 60 },
		{ 9999, 2, 0, 0, 0 },		/* delivered: fresh again */
		{ 9999, 2, 1, 0, 0 },		/* some deferred, some sent */
		{ 9999, 0, 0, 0, 9999 },	/* nothing happened */
		{ 0, 0, 0, 0, 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (dlimit_after_report(cases[i].until, cases[i].accepted,
		    cases[i].deferred, cases[i].cut, 1000, 60) != cases[i].want)
			fail_msg("case %zu", i);
}

static void
test_admit(void **state)
{
	static const struct {
		struct dlimit_slots	 s;
		int			 suspect, dsn, want;
	} cases[] = {
		/* fresh destinations use every worker */
		{ { 0, 20, 4 }, 0, 0, 1 },
		{ { 19, 20, 4 }, 0, 0, 1 },
		{ { 20, 20, 4 }, 0, 0, 0 },
		/* a suspect one stops short of the reserve */
		{ { 15, 20, 4 }, 1, 0, 1 },
		{ { 16, 20, 4 }, 1, 0, 0 },
		{ { 19, 20, 4 }, 1, 0, 0 },
		/* DSNs may take the reserve, even to a suspect one */
		{ { 16, 20, 4 }, 1, 1, 1 },
		{ { 19, 20, 4 }, 1, 1, 1 },
		{ { 20, 20, 4 }, 1, 1, 0 },
		{ { 19, 20, 4 }, 0, 1, 1 },
		/* no reserve */
		{ { 19, 20, 0 }, 1, 0, 1 },
		{ { 20, 20, 0 }, 1, 0, 0 },
		/* a reserve as large as max still leaves one worker */
		{ { 0, 4, 4 }, 1, 0, 1 },
		{ { 1, 4, 4 }, 1, 0, 0 },
		{ { 0, 4, 9 }, 1, 0, 1 },
		{ { 0, 1, 4 }, 1, 0, 1 },
		{ { 1, 1, 4 }, 1, 0, 0 },
		{ { 1, 1, 4 }, 0, 1, 0 },
		/* max 0: nothing */
		{ { 0, 0, 0 }, 0, 1, 0 },
		{ { 0, 0, 4 }, 1, 0, 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (dlimit_admit(&cases[i].s, cases[i].suspect,
		    cases[i].dsn) != cases[i].want)
			fail_msg("case %zu", i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage_ms),
		cmocka_unit_test(test_next_addr),
		cmocka_unit_test(test_suspect),
		cmocka_unit_test(test_after_report),
		cmocka_unit_test(test_admit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
