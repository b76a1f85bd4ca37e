/* throttle_window: the count and window learned from a simulated remote
 * that limits in sliding or in fixed windows, judged as the remote sees
 * it: everything delivered, time against the minimum, connections and
 * refusals; and the single steps (count, bounds, probe pauses). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "throttle_window.h"

#define T0	1700000001234LL
#define SEND_MS	20		/* one message on the wire */
#define CONN_MS	50		/* connection set-up */

static const struct tw_params P = { 86400000, 2000, 86400000 };

/* The remote: at most n messages in any window (sliding) or in each
 * aligned window (fixed) of w ms. */
struct remote {
	int64_t		 w;
	int		 n, fixed;
	int64_t		 acc[512];
	int		 nacc;
};

static int
remote_takes(struct remote *r, int64_t t)
{
	int	 i, c = 0;

	for (i = 0; i < r->nacc; i++)
		if (r->fixed ? r->acc[i] / r->w == t / r->w :
		    r->acc[i] > t - r->w)
			c++;
	if (c >= r->n || r->nacc == (int)(sizeof(r->acc) /
	    sizeof(r->acc[0])))
		return 0;
	r->acc[r->nacc++] = t;
	return 1;
}

struct result {
	int64_t		 elapsed;
	int		 delivered, conns, refusals, late_refusals;
	int		 held_conns_max;	/* connections in one held
						 * period once converged */
	struct tw_state	 st;
};

static int
is_converged(const struct tw_state *st)
{
	return st->hi > 0 && st->hi - st->lo <= st->hi / 10;
}

/* One connection at a time, as the runner gives a throttled
 * destination; each carries what the budget allows. */
static void
simulate(struct remote *r, int msgs, struct result *res)
{
	int64_t		 now = T0, next, t, first, last;
	uint32_t	 b, n;
	int		 refused, held = 0;

	memset(res, 0, sizeof(*res));
	tw_init(&res->st);
	while (res->delivered < msgs && now < T0 + 3 * 86400000LL) {
		if ((b = tw_budget(&res->st, &P, now, &next)) == 0) {
			now = next > now ? next : now + 1;
			continue;
		}
		res->conns++;
		t = now + CONN_MS;
		first = last = -1;
		n = 0;
		refused = 0;
		while (b > 0 && res->delivered < msgs) {
			if (!remote_takes(r, t)) {
				refused = 1;
				break;
			}
			if (first < 0)
				first = t;
			last = t;
			n++;
			b--;
			res->delivered++;
			t += SEND_MS;
		}
		if (n > 0)
			tw_accepted(&res->st, &P, first, last, n);
		if (refused) {
			res->refusals++;
			if (is_converged(&res->st)) {
				res->late_refusals++;
				if (++held > res->held_conns_max)
					res->held_conns_max = held;
			}
			next = tw_refused(&res->st, &P, t);
		} else {
			held = 0;
			next = t;
		}
		now = next > t ? next : t + 1;
	}
	res->elapsed = now - T0;
}

static void
test_scenarios(void **state)
{
	static const struct {
		int64_t	 w;
		int	 n, msgs;
	} cases[] = {
		{ 2000, 5, 50 }, { 5000, 5, 40 }, { 10000, 5, 60 },
		{ 30000, 5, 50 }, { 60000, 5, 40 }, { 20000, 5, 60 },
		{ 2000, 1, 20 }, { 10000, 49, 150 },
	};
	struct remote	 r;
	struct result	 res;
	int64_t		 minimum, bound;
	size_t		 i;
	int		 fixed, windows;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (fixed = 0; fixed < 2; fixed++) {
			memset(&r, 0, sizeof(r));
			r.w = cases[i].w;
			r.n = cases[i].n;
			r.fixed = fixed;
			simulate(&r, cases[i].msgs, &res);
			windows = (cases[i].msgs + r.n - 1) / r.n;
			minimum = windows * r.w;
			/* One probing cycle: the doubling pauses overshoot
			 * the window at most twice, plus the first pause. */
			bound = minimum * 3 / 2 + 2 * r.w + P.pause_min;
			print_message("%s %llds %d/window %d msgs: %.1fs "
			    "(minimum %.1fs) %d connections %d refusals (%d "
			    "once learned) count %u window %.1fs\n",
			    fixed ? "fixed" : "sliding",
			    (long long)r.w / 1000, r.n, cases[i].msgs,
			    res.elapsed / 1000.0, minimum / 1000.0, res.conns,
			    res.refusals, res.late_refusals, res.st.count,
			    tw_window(&res.st, &P) / 1000.0);
			fflush(stdout);
			assert_int_equal(res.delivered, cases[i].msgs);
			assert_true(res.elapsed <= bound);
			assert_true(res.conns <= cases[i].msgs + 2 * windows + 2);
			assert_true(res.late_refusals <= 3);
			assert_int_equal(res.st.count, (uint32_t)r.n);
		}
}

/* A limit per day, scaled: 20 per 300 s.  The window learned is at least
 * 250 s and, once it is, a held period costs at most 3 connections. */
static void
test_long_window(void **state)
{
	struct remote	 r;
	struct result	 res;
	int		 fixed;

	(void)state;
	for (fixed = 0; fixed < 2; fixed++) {
		memset(&r, 0, sizeof(r));
		r.w = 300000;
		r.n = 20;
		r.fixed = fixed;
		simulate(&r, 100, &res);
		print_message("%s 300s 20/window 100 msgs: %.1fs %d "
		    "connections %d refusals (%d once learned) count %u "
		    "window %.1fs\n", fixed ? "fixed" : "sliding",
		    res.elapsed / 1000.0, res.conns, res.refusals,
		    res.late_refusals, res.st.count,
		    tw_window(&res.st, &P) / 1000.0);
		assert_int_equal(res.delivered, 100);
		assert_true(tw_window(&res.st, &P) >= 250000);
		assert_true(res.held_conns_max <= 3);
		assert_int_equal(res.st.count, 20);
	}
}

/* The single steps. */
static void
test_steps(void **state)
{
	struct tw_state	 st;
	int64_t		 next;

	(void)state;
	tw_init(&st);
	assert_int_equal(tw_budget(&st, &P, T0, &next), UINT32_MAX);
	/* 5 in a burst, then no: the count is 5, the window is longer
	 * than the burst, the probe waits the first pause. */
	tw_accepted(&st, &P, T0, T0 + 400, 5);
	assert_int_equal(tw_refused(&st, &P, T0 + 500), T0 + 500 + 2000);
	assert_int_equal(st.count, 5);
	assert_int_equal(st.lo, 100);	/* from the last acceptance */
	assert_int_equal(st.hi, 0);
	assert_int_equal(tw_budget(&st, &P, T0 + 2000, &next), 0);
	assert_int_equal(next, T0 + 2500);
	/* The probe carries a window's worth. */
	assert_int_equal(tw_budget(&st, &P, T0 + 2500, &next), 5);
	/* Refused again: the pause doubles, and the lower bound grows. */
	assert_int_equal(tw_refused(&st, &P, T0 + 2600), T0 + 2600 + 4000);
	assert_int_equal(st.lo, 2200);
	/* Taken at 6600: the window is at most 6600 (from the first
	 * acceptance of the burst); the next trial halves the interval. */
	tw_accepted(&st, &P, T0 + 6600, T0 + 6700, 5);
	assert_int_equal(st.hi, 6600);
	assert_int_equal(st.trial, 2200 + 2200);
	assert_int_equal(tw_budget(&st, &P, T0 + 6800, &next), 0);
	assert_int_equal(next, T0 + 6700 + 4400);
	/* A refusal at the trial spacing raises the lower bound and goes
	 * back to the upper one. */
	(void)tw_refused(&st, &P, T0 + 6700 + 4400);
	assert_int_equal(st.lo, 4400);
	assert_int_equal(st.trial, 4400 + 1100);
	/* The log keeps its sum when it is full. */
	tw_init(&st);
	for (next = 0; next < 40; next++)
		tw_accepted(&st, &P, T0 + next * 10, T0 + next * 10, 1);
	assert_int_equal(st.nlog, TW_LOG);
	assert_int_equal(st.log[0].n, 40 - TW_LOG + 1);
	assert_int_equal(st.log[0].first, T0);
}

/* A pause never passes the longest one allowed. */
static void
test_pause_capped(void **state)
{
	struct tw_params	 p = { 60000, 2000, 16000 };
	struct tw_state		 st;
	int64_t			 t = T0, want[] = { 2000, 4000, 8000, 16000,
	    16000 };
	size_t			 i;

	(void)state;
	tw_init(&st);
	tw_accepted(&st, &p, t, t, 3);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		t += 100;
		assert_int_equal(tw_refused(&st, &p, t) - t, want[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_long_window),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_pause_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
