/* local_child: the cap on root children and the worker's wait. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "local_child.h"

static const struct {
	long long	 running, cap;
	int		 want;
} admit_cases[] = {
	{ 0, 20, 1 },
	{ 19, 20, 1 },
	{ 20, 20, 0 },		/* one per deliver worker, no more */
	{ 21, 20, 0 },
	{ 0, 1, 1 },
	{ 1, 1, 0 },
	{ 0, 0, 0 },		/* no cap configured is no child, not all */
	{ 0, -1, 0 },
};

static void
test_admit(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(admit_cases) / sizeof(admit_cases[0]); i++)
		if (local_child_admit(admit_cases[i].running,
		    admit_cases[i].cap) != admit_cases[i].want)
			fail_msg("case %zu", i);
}

/* The worker outwaits the server: its deadline, the grace, a margin. */
static void
test_reply_wait(void **state)
{
	static const long long timeouts[] = { 1, 3, 600, 86400 };
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		assert_true(local_reply_wait(timeouts[i]) >
		    timeouts[i] + LOCAL_TERM_GRACE);
		assert_int_equal(local_reply_wait(timeouts[i]),
		    timeouts[i] + LOCAL_TERM_GRACE + LOCAL_REPLY_SLACK);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admit),
		cmocka_unit_test(test_reply_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
