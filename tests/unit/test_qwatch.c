/* qwatch: the master's failchk and checkpoint timers, helper deadlines and
 * verdicts; qfail: who counts as alive for failchk (zombies do not). */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "qfail.h"
#include "qwatch.h"

#define NCASES(a)	(sizeof(a) / sizeof((a)[0]))

static void
test_stat_state(void **state)
{
	static const struct {
		const char	*stat;
		char		 want;
	} cases[] = {
		{ "1234 (postern) S 1 1234 1234 0 -1", 'S' },
		{ "1234 (postern) Z 1 1234 1234 0 -1", 'Z' },
		{ "7 (a b) R 1 7", 'R' },			/* space in name */
		{ "7 (x) Z) S 1 7", 'S' },			/* ')' in name */
		{ "7 ((sd-pam)) S 1", 'S' },
		{ "7 (x) X 1", 'X' },
		{ "7 (x)", 0 },					/* cut short */
		{ "7 (x) ", 0 },
		{ "7 (x)S 1", 0 },				/* no space */
		{ "7 (x)  S", 0 },				/* empty field */
		{ "no parenthesis at all", 0 },
		{ "", 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++) {
		char got = qfail_stat_state(cases[i].stat,
		    strlen(cases[i].stat));

		if (got != cases[i].want)
			fail_msg("case %zu: %c", i, got ? got : '0');
	}
}

static void
test_state_dead(void **state)
{
	static const struct {
		char	 st;
		int	 want;
	} cases[] = {
		{ 'R', 0 }, { 'S', 0 }, { 'D', 0 }, { 'T', 0 }, { 't', 0 },
		{ 'I', 0 }, { 'W', 0 }, { 'P', 0 },
		{ 'Z', 1 }, { 'X', 1 }, { 'x', 1 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (qfail_state_dead(cases[i].st) != cases[i].want)
			fail_msg("case %zu (%c)", i, cases[i].st);
}

/* A child that exited and is not reaped yet is dead to failchk; so is a
 * reaped one; we are alive. */
static void
test_pid_alive(void **state)
{
	pid_t	 pid;
	int	 status, i;

	(void)state;
	assert_int_equal(qfail_pid_alive(getpid()), 1);
	assert_int_equal(qfail_pid_alive(0), 0);
	assert_int_equal(qfail_pid_alive(-1), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(0);
	/* Bounded wait until it is a zombie (waitid with WNOWAIT leaves it). */
	for (i = 0; i < 1000; i++) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | WNOHANG)
		    == 0 && si.si_pid == pid)
			break;
		usleep(1000);
	}
	assert_int_equal(kill(pid, 0), 0);	/* kill() still sees it */
	assert_int_equal(qfail_pid_alive(pid), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(qfail_pid_alive(pid), 0);
}

static void
test_next(void **state)
{
	static const struct {
		struct qwatch		 w;
		int64_t			 now;
		enum qwatch_action	 want;
	} cases[] = {
		{ { 0, 0, 0, 1000, 60000 }, 999, QWATCH_NONE },
		{ { 0, 0, 0, 1000, 60000 }, 1000, QWATCH_START_FAILCHK },
		{ { 0, 0, 0, 1000, 60000 }, 60000, QWATCH_START_FAILCHK },
		{ { 0, 0, 0, 2000, 1500 }, 1600, QWATCH_START_CHECKPOINT },
		{ { 0, 0, 0, 1000, 1000 }, 1000, QWATCH_START_FAILCHK },
		/* a helper runs: nothing else starts, until its deadline */
		{ { 42, QWATCH_FAILCHK, 6000, 0, 0 }, 5999, QWATCH_NONE },
		{ { 42, QWATCH_FAILCHK, 6000, 0, 0 }, 6000, QWATCH_OVERRUN },
		{ { 42, QWATCH_CHECKPOINT, 61000, 0, 0 }, 61001,
		    QWATCH_OVERRUN },
		/* mono clock starts at 0: the first failchk is at once */
		{ { 0, 0, 0, 0, 0 }, 0, QWATCH_START_FAILCHK },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (qwatch_next(&cases[i].w, cases[i].now) != cases[i].want)
			fail_msg("case %zu: %d", i,
			    qwatch_next(&cases[i].w, cases[i].now));
}

static void
test_wait(void **state)
{
	static const struct {
		struct qwatch	 w;
		int64_t		 now, want;
	} cases[] = {
		{ { 0, 0, 0, 1000, 60000 }, 0, 1000 },
		{ { 0, 0, 0, 1000, 60000 }, 400, 600 },
		{ { 0, 0, 0, 1000, 60000 }, 5000, 0 },		/* late: now */
		{ { 0, 0, 0, 3000, 2000 }, 1000, 1000 },	/* checkpoint */
		{ { 7, QWATCH_FAILCHK, 5000, 1000, 1000 }, 2000, 3000 },
		{ { 7, QWATCH_FAILCHK, 5000, 1000, 1000 }, 9000, 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (qwatch_wait(&cases[i].w, cases[i].now) != cases[i].want)
			fail_msg("case %zu: %lld", i, (long long)qwatch_wait(
			    &cases[i].w, cases[i].now));
}

/* A death asks for failchk now; starting one moves only its own timer
 * and sets its deadline. */
static void
test_soon_started(void **state)
{
	struct qwatch	 w = { 0, 0, 0, 5000, 60000 };

	(void)state;
	qwatch_soon(&w, 1200);
	assert_int_equal(w.next_failchk, 1200);
	qwatch_soon(&w, 1300);			/* never later */
	assert_int_equal(w.next_failchk, 1200);
	assert_int_equal(qwatch_next(&w, 1300), QWATCH_START_FAILCHK);
	qwatch_started(&w, QWATCH_FAILCHK, 99, 1300);
	assert_int_equal(w.pid, 99);
	assert_int_equal(w.deadline, 1300 + QWATCH_FAILCHK_LIMIT);
	assert_int_equal(w.next_failchk, 1300 + QWATCH_FAILCHK_MS);
	assert_int_equal(w.next_checkpoint, 60000);
	w.pid = 0;
	qwatch_started(&w, QWATCH_CHECKPOINT, 100, 60000);
	assert_int_equal(w.deadline, 60000 + QWATCH_CHECKPOINT_LIMIT);
	assert_int_equal(w.next_checkpoint, 60000 + QWATCH_CHECKPOINT_MS);
	assert_int_equal(w.next_failchk, 1300 + QWATCH_FAILCHK_MS);
}

/* Real wait statuses from children that end in each way. */
static int
status_of(int how)
{
	pid_t	 pid = fork();
	int	 status = 0;

	assert_true(pid != -1);
	if (pid == 0) {
		if (how >= 0)
			_exit(how);
		(void)signal(-how, SIG_DFL);	/* cmocka catches some */
		(void)kill(getpid(), -how);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
test_verdict(void **state)
{
	static const struct {
		int			 how;	/* exit code, or -signal */
		enum qwatch_verdict	 want;
	} cases[] = {
		{ QWATCH_EXIT_OK, QWATCH_FINE },
		{ QWATCH_EXIT_RECOVER, QWATCH_RECOVER },
		{ 1, QWATCH_RECOVER },			/* unknown: not fine */
		{ -SIGKILL, QWATCH_RECOVER },		/* killed at deadline */
		{ -SIGSEGV, QWATCH_RECOVER },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (qwatch_verdict(status_of(cases[i].how)) != cases[i].want)
			fail_msg("case %zu", i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_state),
		cmocka_unit_test(test_state_dead),
		cmocka_unit_test(test_pid_alive),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_soon_started),
		cmocka_unit_test(test_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
