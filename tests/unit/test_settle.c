/*
 * settle: outcomes -> queue update, DSN and flags, case by case.  Each
 * case names the row of "Settling a delivery" in docs/queue.md it
 * checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "settle.h"

#define NOW		1000000
#define MAXR		3
#define LIFE		(5 * 86400)
#define WARN		(4 * 3600)

enum { L_NONE = 0, L_FAILED, L_DELAYED, L_SUCCESS };

struct rin {
	enum outcome_kind kind;
	int		 resched, next_dsn, local;
	uint32_t	 notify, attempts, rnd;
	const char	*remote;
};

struct rwant {
	enum qupdate_kind upd;
	enum outcome_kind final;
	const char	*status;	/* of the final outcome */
	long long	 next;		/* from NOW; 0: not checked (retired) */
	int		 list;		/* the bounce_rcpt list it is on */
};

static const struct {
	const char	*row;		/* docs/queue.md row */
	long long	 age;		/* NOW - arrival */
	uint32_t	 msgflags;
	long long	 life, warn;
	size_t		 n;
	struct rin	 r[MAXR];
	struct rwant	 w[MAXR];
	int		 dsn;		/* L_* of the notice, L_NONE: none */
	size_t		 dsn_n;
	uint32_t	 flags;
	const char	*action;	/* of the first notice recipient */
	int		 remote_mta;	/* first notice recipient has one */
} cases[] = {
	{ "1 sent", 60, 0, LIFE, WARN, 1,
	    { { OUTCOME_SENT, 0, 0, 0, 0, 0, 0, "mx.b.test" } },
	    { { QUPD_SENT, OUTCOME_SENT, "2.0.0", 0, L_NONE } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "2 sent, NOTIFY=SUCCESS, next hop has DSN", 60, 0, LIFE, WARN, 1,
	    { { OUTCOME_SENT, 0, 1, 0, QNOTIFY_SUCCESS, 0, 0, "mx.b.test" } },
	    { { QUPD_SENT, OUTCOME_SENT, "2.0.0", 0, L_NONE } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "3 sent, NOTIFY=SUCCESS, next hop without DSN", 60, 0, LIFE, WARN,
	    1, { { OUTCOME_SENT, 0, 0, 0, QNOTIFY_SUCCESS, 0, 0,
	    "mx.b.test" } },
	    { { QUPD_SENT, OUTCOME_SENT, "2.0.0", 0, L_SUCCESS } },
	    L_SUCCESS, 1, 0, "relayed", 1 },
	{ "4 delivered locally, NOTIFY=SUCCESS", 60, 0, LIFE, WARN, 1,
	    { { OUTCOME_SENT, 0, 0, 1, QNOTIFY_SUCCESS, 0, 0, "" } },
	    { { QUPD_SENT, OUTCOME_SENT, "2.0.0", 0, L_SUCCESS } },
	    L_SUCCESS, 1, 0, "delivered", 0 },
	{ "5 bounced", 60, 0, LIFE, WARN, 1,
	    { { OUTCOME_BOUNCE, 0, 0, 0, 0, 0, 0, "mx.b.test" } },
	    { { QUPD_FAIL, OUTCOME_BOUNCE, "5.1.1", 0, L_FAILED } },
	    L_FAILED, 1, 0, NULL, 1 },
	{ "6 deferred: first retry at retry_min", 60, 0, LIFE, WARN, 1,
	    { { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "6 deferred: doubling, jitter drawn", 60, 0, LIFE, WARN, 1,
	    { { OUTCOME_DEFER, 0, 0, 0, 0, 3, 0, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 2400 - 240, L_DELAYED } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "6 deferred: capped at retry_max", 60, 0, LIFE, WARN, 1,
	    { { OUTCOME_DEFER, 0, 0, 0, 0, 10, 960, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 4800 + 480, L_DELAYED } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "18 no outcome: a deferral", 60, 0, LIFE, WARN, 1,
	    { { OUTCOME_NONE, 0, 0, 0, 0, 0, 60, "" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "7 deferred past max_queue_lifetime", LIFE, 0, LIFE, WARN, 1,
	    { { OUTCOME_DEFER, 0, 0, 0, 0, 7, 0, "mx.b.test" } },
	    { { QUPD_FAIL, OUTCOME_BOUNCE, "4.4.7", 0, L_FAILED } },
	    L_FAILED, 1, 0, NULL, 0 },
	{ "8 rate-limited: rescheduled, no notice", WARN + 60, 0, LIFE, WARN,
	    1, { { OUTCOME_DEFER, 1, 0, 0, 0, 2, 0, "mx.b.test" } },
	    { { QUPD_RESCHEDULE, OUTCOME_DEFER, "4.7.0", 42, L_NONE } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "9 rate-limited past max_queue_lifetime", LIFE + 1, 0, LIFE, WARN,
	    1, { { OUTCOME_DEFER, 1, 0, 0, 0, 2, 0, "mx.b.test" } },
	    { { QUPD_FAIL, OUTCOME_BOUNCE, "4.4.7", 0, L_FAILED } },
	    L_FAILED, 1, 0, NULL, 0 },
	{ "10 deferred past delay_warning_time: delay notice", WARN, 0, LIFE,
	    WARN, 1, { { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_DELAYED, 1, QMSG_WARNED, NULL, 1 },
	{ "10 before delay_warning_time: no notice", WARN - 1, 0, LIFE, WARN,
	    1, { { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "11 already WARNED: no second notice", WARN + 60, QMSG_WARNED, LIFE,
	    WARN, 1, { { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "12 a DSN is never warned about", WARN + 60, QMSG_DSN, LIFE, WARN,
	    1, { { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "13 lifetime and warning 0: never expire, never warn", 100 * LIFE,
	    0, 0, 0, 1, { { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_NONE, 0, 0, NULL, 0 },
	{ "14 failure and due delay: failure only, warning later", WARN + 60,
	    0, LIFE, WARN, 2,
	    { { OUTCOME_BOUNCE, 0, 0, 0, 0, 0, 0, "mx.b.test" },
	      { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" } },
	    { { QUPD_FAIL, OUTCOME_BOUNCE, "5.1.1", 0, L_FAILED },
	      { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_FAILED, 1, 0, NULL, 1 },
	{ "15 failure and success: failure only", 60, 0, LIFE, WARN, 2,
	    { { OUTCOME_SENT, 0, 0, 0, QNOTIFY_SUCCESS, 0, 0, "mx.b.test" },
	      { OUTCOME_BOUNCE, 0, 0, 0, 0, 0, 0, "mx.b.test" } },
	    { { QUPD_SENT, OUTCOME_SENT, "2.0.0", 0, L_SUCCESS },
	      { QUPD_FAIL, OUTCOME_BOUNCE, "5.1.1", 0, L_FAILED } },
	    L_FAILED, 1, 0, NULL, 1 },
	{ "16 deferral not due and success: success", 60, 0, LIFE, WARN, 2,
	    { { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" },
	      { OUTCOME_SENT, 0, 0, 0, QNOTIFY_SUCCESS, 0, 0, "mx.b.test" } },
	    { { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED },
	      { QUPD_SENT, OUTCOME_SENT, "2.0.0", 0, L_SUCCESS } },
	    L_SUCCESS, 1, 0, "relayed", 1 },
	{ "17 due delay and success: delay notice", WARN + 60, 0, LIFE, WARN,
	    2, { { OUTCOME_SENT, 0, 0, 0, QNOTIFY_SUCCESS, 0, 0, "mx.b.test" },
	      { OUTCOME_DEFER, 0, 0, 0, 0, 0, 60, "mx.b.test" } },
	    { { QUPD_SENT, OUTCOME_SENT, "2.0.0", 0, L_SUCCESS },
	      { QUPD_DEFER, OUTCOME_DEFER, "4.4.1", 600, L_DELAYED } },
	    L_DELAYED, 1, QMSG_WARNED, NULL, 1 },
	{ "7+5 expired and bounced: one failure notice for both", LIFE + 60,
	    0, LIFE, WARN, 3,
	    { { OUTCOME_DEFER, 0, 0, 0, 0, 4, 0, "mx.b.test" },
	      { OUTCOME_BOUNCE, 0, 0, 0, 0, 0, 0, "mx.b.test" },
	      { OUTCOME_DEFER, 1, 0, 0, 0, 4, 0, "mx.b.test" } },
	    { { QUPD_FAIL, OUTCOME_BOUNCE, "4.4.7", 0, L_FAILED },
	      { QUPD_FAIL, OUTCOME_BOUNCE, "5.1.1", 0, L_FAILED },
	      { QUPD_FAIL, OUTCOME_BOUNCE, "4.4.7", 0, L_FAILED } },
	    L_FAILED, 3, 0, NULL, 0 },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static const char *
status_of(enum outcome_kind k, int resched)
{
	if (k == OUTCOME_SENT)
		return "2.0.0";
	if (k == OUTCOME_BOUNCE)
		return "5.1.1";
	return resched ? "4.7.0" : "4.4.1";
}

static const struct bounce_rcpt *
on_list(const struct settle *s, int list, const struct qrcpt *r)
{
	const struct bounce_rcpt	*v[] = { NULL, s->failed, s->delayed,
					    s->succeeded };
	size_t				 n[] = { 0, s->nfailed, s->ndelayed,
					    s->nsucceeded }, i;

	for (i = 0; i < n[list]; i++)
		if (v[list][i].rcpt == r)
			return &v[list][i];
	return NULL;
}

static void
check_rcpt(const struct settle *s, size_t ci, size_t i,
    const struct qrcpt *r, const struct outcome *o)
{
	const struct rwant		*w = &cases[ci].w[i];
	const struct bounce_rcpt	*b;
	int				 l;

	assert_int_equal(s->u[i].idx, r->idx);
	assert_int_equal(s->u[i].kind, w->upd);
	assert_int_equal(s->final[i].kind, w->final);
	assert_string_equal(s->final[i].status, w->status);
	assert_string_equal(s->u[i].reply, s->final[i].text);
	if (w->next != 0)
		assert_int_equal(s->u[i].next_attempt, NOW + w->next);
	if (strcmp(w->status, "4.4.7") == 0)
		assert_non_null(strstr(s->final[i].text, o->text));
	for (l = L_FAILED; l <= L_SUCCESS; l++) {
		b = on_list(s, l, r);
		if (l != w->list) {
			assert_null(b);
			continue;
		}
		assert_non_null(b);
		assert_int_equal(b->last_attempt, NOW);
		assert_int_equal(b->retry_until,
		    NOW - cases[ci].age + cases[ci].life);
	}
}

/*
 * The recipient's queue state does not enter the decision: a recipient
 * held while its delivery was under way settles as a queued or deferred
 * one, and the queue applies the update to it (docs/queue.md, HELD rows).
 */
static void
run_case(size_t ci, enum qrcpt_state state)
{
	struct qrcpt		 r[MAXR];
	struct outcome		 o[MAXR];
	struct settle_in	 in[MAXR];
	struct settle_conf	 c = { cases[ci].life, cases[ci].warn, 600,
				    4800 };
	struct qmsg		 m;
	struct settle		 s;
	const struct rin	*ri;
	size_t			 i;

	print_message("case %zu (state %d): %s\n", ci, (int)state,
	    cases[ci].row);
	memset(&m, 0, sizeof(m));
	m.arrival = NOW - cases[ci].age;
	m.flags = cases[ci].msgflags;
	for (i = 0; i < cases[ci].n; i++) {
		ri = &cases[ci].r[i];
		memset(&r[i], 0, sizeof(r[i]));
		r[i].idx = (uint32_t)(10 + i);
		r[i].state = state;
		r[i].notify = ri->notify;
		r[i].attempts = ri->attempts;
		r[i].next_attempt = NOW + 42;
		if (ri->kind == OUTCOME_NONE)
			memset(&o[i], 0, sizeof(o[i]));
		else
			outcome_set(&o[i], ri->kind, status_of(ri->kind,
			    ri->resched), "reply %zu", i);
		in[i] = (struct settle_in){ &r[i], &o[i], ri->remote,
		    ri->resched, ri->next_dsn, ri->local, ri->rnd };
	}
	/* OUTCOME_NONE carries no status: it is logged as a deferral. */
	settle_msg(&m, in, cases[ci].n, &c, NOW, &s);
	for (i = 0; i < cases[ci].n; i++) {
		if (cases[ci].r[i].kind == OUTCOME_NONE) {
			assert_int_equal(s.final[i].kind, OUTCOME_DEFER);
			assert_int_equal(s.u[i].kind, QUPD_DEFER);
			assert_int_equal(s.u[i].next_attempt, NOW + 600);
			continue;
		}
		check_rcpt(&s, ci, i, &r[i], &o[i]);
	}
	assert_int_equal(s.flags, cases[ci].flags);
	assert_int_equal(s.dsn, cases[ci].dsn != L_NONE);
	if (cases[ci].dsn == L_NONE) {
		settle_free(&s);
		return;
	}
	assert_int_equal(s.dsn_kind, cases[ci].dsn == L_FAILED ?
	    BOUNCE_FAILED : cases[ci].dsn == L_DELAYED ? BOUNCE_DELAYED :
	    BOUNCE_SUCCESS);
	assert_int_equal(s.dsn_n, cases[ci].dsn_n);
	assert_ptr_equal(s.dsn_rcpts, cases[ci].dsn == L_FAILED ? s.failed :
	    cases[ci].dsn == L_DELAYED ? s.delayed : s.succeeded);
	if (cases[ci].action != NULL)
		assert_string_equal(s.dsn_rcpts[0].action, cases[ci].action);
	else
		assert_null(s.dsn_rcpts[0].action);
	if (cases[ci].remote_mta)
		assert_string_equal(s.dsn_rcpts[0].remote_mta, "mx.b.test");
	else
		assert_null(s.dsn_rcpts[0].remote_mta);
	settle_free(&s);
}

static void
test_table(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		run_case(i, QRCPT_QUEUED);
		run_case(i, QRCPT_DEFERRED);
		run_case(i, QRCPT_HELD);
	}
}

/* The 4.4.7 reason keeps the last error, and a reply too long for
 * both is cut, never overrun. */
static void
test_expired_text(void **state)
{
	struct qrcpt		 r;
	struct outcome		 o;
	struct settle_in	 in;
	struct settle_conf	 c = { 10, 0, 600, 4800 };
	struct qmsg		 m;
	struct settle		 s;
	char			 big[sizeof(o.text)];

	(void)state;
	memset(&m, 0, sizeof(m));
	memset(&r, 0, sizeof(r));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	outcome_set(&o, OUTCOME_DEFER, "4.4.1", "%s", big);
	in = (struct settle_in){ &r, &o, "mx.b.test", 0, 0, 0, 0 };
	m.arrival = NOW - 10;
	settle_msg(&m, &in, 1, &c, NOW, &s);
	assert_int_equal(s.u[0].kind, QUPD_FAIL);
	assert_int_equal(strncmp(s.final[0].text, "delivery time expired "
	    "(last error: xxx", 36), 0);
	assert_int_equal(strlen(s.final[0].text), sizeof(o.text) - 1);
	settle_free(&s);
}

static void
test_predicates(void **state)
{
	struct settle_conf	 c = { LIFE, WARN, 600, 4800 };
	struct qmsg		 m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.arrival = NOW - WARN;
	assert_true(settle_warn_due(&m, &c, NOW));
	assert_false(settle_warn_due(&m, &c, NOW - 1));
	assert_false(settle_expired(&m, &c, NOW));
	assert_true(settle_expired(&m, &c, NOW - WARN + LIFE));
	m.flags = QMSG_WARNED;
	assert_false(settle_warn_due(&m, &c, NOW));
	/* A clock that went back is not "past" anything. */
	m.flags = 0;
	m.arrival = NOW + 100;
	assert_false(settle_warn_due(&m, &c, NOW));
	assert_false(settle_expired(&m, &c, NOW));
}

static void
test_empty(void **state)
{
	struct settle_conf	 c = { LIFE, WARN, 600, 4800 };
	struct qmsg		 m;
	struct settle		 s;

	(void)state;
	memset(&m, 0, sizeof(m));
	settle_msg(&m, NULL, 0, &c, NOW, &s);
	assert_int_equal(s.dsn, 0);
	assert_int_equal(s.flags, 0);
	settle_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_expired_text),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
