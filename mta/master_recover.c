/*
 * The master's queue watch and recovery (master_recover.h).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>

#include "config.h"
#include "log.h"
#include "master_children.h"
#include "master_recover.h"
#include "master_state.h"
#include "qwatch.h"
#include "util.h"

#define RECOVER_GRACE_MS	2000	/* SIGTERM to SIGKILL before a recovery */

/* The failchk or checkpoint helper ended (qwatch.h). */
void
master_helper_done(struct master *m, int status)
{
	enum qwatch_kind kind = m->qw.kind;

	m->qw.pid = 0;
	if (qwatch_verdict(status) == QWATCH_FINE || !m->queue_up ||
	    m->recover)
		return;
	log_warnx("queue: %s helper ended with %s %d: recovery",
	    kind == QWATCH_FAILCHK ? "failchk" : "checkpoint",
	    WIFSIGNALED(status) ? "signal" : "exit",
	    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	m->recover = 1;
	m->recover_at = 0;
}

/* In a helper, before it joins the queue: none of the master's handles. */
static void
helper_setup(void *arg)
{
	struct master	*m = arg;

	master_child_setup(m);
	(void)close(m->wake[0]);
	(void)close(m->wake[1]);
}

static void
start_helper(struct master *m, enum qwatch_kind kind)
{
	pid_t	 pid;

	if ((pid = qwatch_spawn(m->conf->spool_dir, kind, helper_setup,
	    m)) == -1)
		return;
	qwatch_started(&m->qw, kind, pid, mono_msec());
	master_kid_add(m, pid, NULL, -1);
}

/*
 * Runs failchk or a checkpoint when due, in a helper with a deadline.
 * A failchk that overruns hangs on what a dead process left inside
 * Berkeley DB's shared regions: it is killed and the queue recovered.
 */
void
master_watch_queue(struct master *m)
{
	switch (qwatch_next(&m->qw, mono_msec())) {
	case QWATCH_START_FAILCHK:
		start_helper(m, QWATCH_FAILCHK);
		break;
	case QWATCH_START_CHECKPOINT:
		start_helper(m, QWATCH_CHECKPOINT);
		break;
	case QWATCH_OVERRUN:
		log_warnx("queue: %s helper %ld overran its deadline: killed",
		    m->qw.kind == QWATCH_FAILCHK ? "failchk" : "checkpoint",
		    (long)m->qw.pid);
		(void)kill(m->qw.pid, SIGKILL);
		/* master_reap() sees the signal and asks for recovery. */
		m->qw.deadline = mono_msec() + QWATCH_FAILCHK_LIMIT;
		break;
	case QWATCH_NONE:
		break;
	}
}

/*
 * A process died holding locks or mutexes that failchk cannot release
 * (DB_RUNRECOVERY: a kill -9 at the wrong instant, SIGBUS on a full
 * disk).  Recovery needs every other user of the environment gone: stop
 * them all (workers die with their runner), recover, and carry on.  Mail
 * acknowledged with 250 is in the log and survives; sessions cut off here
 * had no 250 for their message.  While recovery fails (no space to write
 * the log), connections get 421 and it is tried again.
 */
void
master_recover_queue(struct master *m)
{
	log_warnx("queue: a process died inside the queue: stopping every "
	    "process to run recovery");
	/* Processes waiting on the dead one's locks never end by themselves:
	 * a short grace.  None of them has a 250 outstanding that is not
	 * committed; a delivery cut here is made again (a duplicate). */
	master_shutdown_children(m, RECOVER_GRACE_MS);
	m->queue_up = 0;
	/* In a helper too: it must not hang the master any more than
	 * failchk may. */
	if (qwatch_recover(m->conf->spool_dir, helper_setup, m) == -1) {
		m->recover_at = mono_msec() + 5000;
		log_warnx("queue: recovery failed; trying again in 5 s");
		return;
	}
	m->queue_up = 1;
	m->recover = 0;
	log_info("queue: recovery complete, resuming");
}
