/* throttle: budgets under static and learned limits, sliding windows,
 * backoff growth, rate-limit reply classification, the record, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "throttle.h"

#define T0	1700000040LL	/* a multiple of 60 */

static struct throttle_limits
lim_default(void)
{
	struct throttle_limits	 l;

	memset(&l, 0, sizeof(l));
	l.window = 10;
	l.backoff_min = 5;
	l.backoff_max = 40;
	return l;
}

static void
test_pace(void **state)
{
	static const struct { uint32_t in, want; } cases[] = {
		{ 0, 1 }, { 1, 1 }, { 2, 1 }, { 5, 4 }, { 10, 9 },
		{ 19, 18 }, { 20, 18 }, { 50, 45 }, { 1000, 900 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(throttle_pace(cases[i].in), cases[i].want);
}

/* Each case: messages sent at offsets, then the budget asked at an
 * offset with a static per-minute limit. */
static void
test_static_minute(void **state)
{
	static const struct {
		int	 sends[6];	/* offsets, -1 ends */
		int	 at;
		uint32_t limit, want;
		int64_t	 next;		/* offset; only when want == 0 */
	} cases[] = {
		{ { -1 }, 0, 3, 3, 0 },
		{ { 0, -1 }, 1, 3, 2, 0 },
		{ { 0, 0, 0, -1 }, 1, 3, 0, 66 },	/* bucket 0 leaves at 66 */
		{ { 0, 0, 0, -1 }, 65, 3, 0, 66 },
		{ { 0, 0, 0, -1 }, 66, 3, 3, 0 },
		{ { 0, 30, 59, -1 }, 60, 3, 0, 66 },	/* sliding, not fixed */
		{ { 0, 30, 59, -1 }, 66, 3, 1, 0 },
		{ { 0, 30, 59, -1 }, 96, 3, 2, 0 },
		{ { 0, 6, 12, 18, -1 }, 20, 10, 6, 0 },
		{ { 0, 1000, -1 }, 1000, 1, 0, 1062 },	/* old one forgotten */
	};
	struct throttle_limits	 l = lim_default();
	struct throttle_state	 st;
	int64_t			 next;
	size_t			 i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		throttle_init(&st);
		l.per_minute = cases[i].limit;
		for (j = 0; cases[i].sends[j] != -1; j++)
			throttle_sent(&st, &l, T0 + cases[i].sends[j], 1);
		next = 0;
		if (throttle_budget(&st, &l, T0 + cases[i].at, &next) !=
		    cases[i].want)
			fail_msg("case %zu: budget %u", i,
			    throttle_budget(&st, &l, T0 + cases[i].at, NULL));
		if (cases[i].want == 0 && next != T0 + cases[i].next)
			fail_msg("case %zu: next %+lld", i,
			    (long long)(next - T0));
	}
}

static void
test_unlimited(void **state)
{
	struct throttle_limits	 l = lim_default();
	struct throttle_state	 st;
	int64_t			 next = 0;

	(void)state;
	throttle_init(&st);
	throttle_sent(&st, &l, T0, 1000);
	assert_int_equal(throttle_budget(&st, &l, T0, &next),
	    THROTTLE_UNLIMITED);
	assert_int_equal(next, T0);
	assert_false(throttle_active(&st, T0));
}

/* The scenario of a destination that takes 5 per 10 s window. */
static void
test_learn_and_pace(void **state)
{
	struct throttle_limits	 l = lim_default();
	struct throttle_state	 st;
	int64_t			 next, until;

	(void)state;
	throttle_init(&st);
	throttle_sent(&st, &l, T0, 5);
	until = throttle_deferred(&st, &l, T0 + 1);
	assert_int_equal(st.learned, 5);
	assert_int_equal(until, T0 + 1 + 5);
	assert_true(throttle_active(&st, T0 + 1));
	/* Blocked first, then paced at 4 once the window slid past. */
	assert_int_equal(throttle_budget(&st, &l, T0 + 3, &next), 0);
	assert_int_equal(next, T0 + 11);	/* bucket 0 leaves at 11 */
	assert_int_equal(throttle_budget(&st, &l, T0 + 11, NULL), 4);
	throttle_sent(&st, &l, T0 + 11, 4);
	assert_int_equal(st.deferrals, 0);
	assert_int_equal(throttle_budget(&st, &l, T0 + 12, &next), 0);
	assert_int_equal(next, T0 + 22);
	assert_int_equal(throttle_budget(&st, &l, T0 + 22, NULL), 4);
	/* A refusal with nothing accepted keeps what was learned. */
	until = throttle_deferred(&st, &l, T0 + 22);
	assert_int_equal(st.learned, 5);
	throttle_sent(&st, &l, T0 + 40, 1);
	/* Kept for a day at least, however short the window. */
	assert_int_equal(throttle_budget(&st, &l, T0 + 22 + 70, NULL), 4);
	assert_int_equal(throttle_budget(&st, &l, T0 + 22 + 86400, NULL),
	    THROTTLE_UNLIMITED);
	l.window = 86400;
	assert_int_equal(throttle_budget(&st, &l, T0 + 22 + 6 * 86400, NULL),
	    4);
	assert_int_equal(throttle_budget(&st, &l, T0 + 22 + 7 * 86400, NULL),
	    THROTTLE_UNLIMITED);
	(void)until;
}

static void
test_backoff_grows(void **state)
{
	static const int64_t want[] = { 5, 10, 20, 40, 40, 40 };
	struct throttle_limits	 l = lim_default();
	struct throttle_state	 st;
	size_t			 i;
	int64_t			 now = T0;

	(void)state;
	throttle_init(&st);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(throttle_deferred(&st, &l, now) - now,
		    want[i]);
		assert_int_equal(st.backoff, want[i]);
		now += want[i];
	}
	/* Accepted again: back to the minimum. */
	throttle_sent(&st, &l, now, 1);
	assert_int_equal(throttle_deferred(&st, &l, now) - now, 5);
}

static void
test_reply_is_ratelimit(void **state)
{
	static const struct {
		const char	*status, *text;
		int		 want;
	} cases[] = {
		{ "4.7.0", "421 Too many messages (1.5.6.1)", 1 },
		{ "4.7.0", "Too Many Messages from 192.0.2.1", 1 },
		{ "4.7.28", "421 please come back", 1 },
		{ "4.7.1", "450 Rate limit exceeded, try later", 1 },
		{ "4.2.1", "451 You are being throttled", 1 },
		{ "4.7.0", "[TSS04] Messages from 192.0.2.1 temporarily "
		    "deferred due to unexpected volume", 1 },
		{ "4.3.2", "421 too many connections from your IP", 1 },
		{ "4.3.2", "421 busy, shutting down", 0 },
		{ "4.2.2", "452 mailbox over quota", 0 },
		{ "4.5.3", "452 Too many recipients", 0 },
		{ "4.4.1", "connect to mx[192.0.2.1]:25: timed out", 0 },
		{ "5.7.1", "550 rate limit: you are blocked", 0 },
		{ "2.0.0", "250 ok", 0 },
		{ NULL, "421 too many messages", 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (throttle_reply_is_ratelimit(cases[i].status,
		    cases[i].text) != cases[i].want)
			fail_msg("case %zu: %s", i, cases[i].text);
}

static void
test_record_roundtrip(void **state)
{
	struct throttle_limits	 l = lim_default();
	struct throttle_state	 st, back;
	char			 rec[THROTTLE_RECORD_MAX];
	int			 n;

	(void)state;
	l.per_day = 45;
	throttle_init(&st);
	throttle_sent(&st, &l, T0, 3);
	throttle_sent(&st, &l, T0 + 4, 2);
	(void)throttle_deferred(&st, &l, T0 + 5);
	n = throttle_encode(&st, rec, sizeof(rec));
	assert_true(n > 0);
	assert_null(throttle_decode(&back, rec, (size_t)n));
	assert_memory_equal(&st, &back, sizeof(st));
	assert_int_equal(throttle_budget(&back, &l, T0 + 6, NULL), 0);
	assert_int_equal(throttle_encode(&st, rec, 20), -1);
}

static void
test_record_bad(void **state)
{
	static const char *const cases[] = {
		"", "t2 learned=1", "t1x", "t1 learned", "t1 learned=x",
		"t1 learned=5x", "t1 bogus=1", "t1 c9=1:1:0",
		"t1 c0=60:5:1,2", "t1 c0=60:5:1,1,1,1,1,1,1,1,1,1,1,1,1",
		"t1 learned=99999999999",
	};
	struct throttle_state	 st;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (throttle_decode(&st, cases[i], strlen(cases[i])) == NULL)
			fail_msg("case %zu accepted: %s", i, cases[i]);
		assert_int_equal(st.learned, 0);
	}
	assert_null(throttle_decode(&st, "t1", 2));
	assert_null(throttle_decode(&st, "t1  learned=7 ", 14));
	assert_int_equal(st.learned, 7);
}

static void
test_parse_limits(void **state)
{
	static const struct {
		const char	*in;
		uint32_t	 min, hour, day, conc;
		int		 ok;
	} cases[] = {
		{ "45/day", 0, 0, 45, 0, 1 },
		{ "10/minute 100/hour, 1000/day concurrency=2", 10, 100, 1000,
		    2, 1 },
		{ "5/min 6/h 7/d", 5, 6, 7, 0, 1 },
		{ "", 0, 0, 0, 0, 0 },
		{ "45", 0, 0, 0, 0, 0 },
		{ "45/week", 0, 0, 0, 0, 0 },
		{ "0/day", 0, 0, 0, 0, 0 },
		{ "-1/day", 0, 0, 0, 0, 0 },
		{ "concurrency=0", 0, 0, 0, 0, 0 },
		{ "concurrency=x", 0, 0, 0, 0, 0 },
	};
	struct throttle_limits	 l;
	const char		*why;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&l, 0, sizeof(l));
		why = throttle_parse_limits(cases[i].in, &l);
		if ((why == NULL) != cases[i].ok)
			fail_msg("case %zu: %s: %s", i, cases[i].in,
			    why ? why : "accepted");
		if (!cases[i].ok)
			continue;
		assert_int_equal(l.per_minute, cases[i].min);
		assert_int_equal(l.per_hour, cases[i].hour);
		assert_int_equal(l.per_day, cases[i].day);
		assert_int_equal(l.concurrency, cases[i].conc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pace),
		cmocka_unit_test(test_static_minute),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_learn_and_pace),
		cmocka_unit_test(test_backoff_grows),
		cmocka_unit_test(test_reply_is_ratelimit),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_record_bad),
		cmocka_unit_test(test_parse_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
