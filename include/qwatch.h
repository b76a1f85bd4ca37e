/*
 * qwatch: the master's watch over the queue environment.  Any process
 * that joins it (children, postern queue/flush/hold, sendmail -bs, an
 * orphaned worker) can die holding locks; the master releases them with
 * failchk every QWATCH_FAILCHK_MS and as soon as a process may have died
 * (SIGCHLD), and checkpoints every QWATCH_CHECKPOINT_MS whether or not
 * the runner runs.  Each run is a short-lived helper process with a
 * deadline: failchk can hang on a damaged environment, and the master's
 * loop must not (docs/queue.md, "A process that dies").
 * The decisions are pure functions of the state and the clock.
 */
#ifndef POSTERN_QWATCH_H
#define POSTERN_QWATCH_H

#include <stdint.h>
#include <sys/types.h>

#define QWATCH_FAILCHK_MS	1000	/* between two failchk runs */
#define QWATCH_FAILCHK_LIMIT	5000	/* a failchk helper's deadline */
#define QWATCH_CHECKPOINT_MS	60000	/* between two checkpoints */
#define QWATCH_CHECKPOINT_LIMIT	60000	/* a checkpoint helper's deadline */
#define QWATCH_RECOVER_LIMIT	120000	/* a recovery's deadline */
#define QWATCH_EXIT_OK		0
#define QWATCH_EXIT_RECOVER	3	/* the environment needs recovery */

enum qwatch_kind {
	QWATCH_FAILCHK = 1,
	QWATCH_CHECKPOINT,
	QWATCH_RECOVERY		/* with every other process stopped */
};

enum qwatch_action {
	QWATCH_NONE,
	QWATCH_START_FAILCHK,
	QWATCH_START_CHECKPOINT,
	QWATCH_OVERRUN		/* kill the helper, then recover */
};

enum qwatch_verdict {
	QWATCH_FINE,
	QWATCH_RECOVER
};

struct qwatch {
	pid_t		 pid;		/* helper running; 0: none */
	enum qwatch_kind kind;		/* what it does */
	int64_t		 deadline;	/* mono ms it must end by */
	int64_t		 next_failchk;	/* mono ms */
	int64_t		 next_checkpoint;
};

/* Pure: what to do at now.  A failchk due (or asked for) comes before a
 * checkpoint; a helper running past its deadline is an overrun. */
enum qwatch_action qwatch_next(const struct qwatch *, int64_t now);
/* Pure: ms until qwatch_next may answer something else (0: now). */
int64_t	qwatch_wait(const struct qwatch *, int64_t now);
/* A process may have died: failchk at the next chance. */
void	qwatch_soon(struct qwatch *, int64_t now);
/* Records a started helper (pid) of kind and moves that kind's timer. */
void	qwatch_started(struct qwatch *, enum qwatch_kind, pid_t, int64_t now);
/* Pure: what a helper's wait status means. */
enum qwatch_verdict qwatch_verdict(int status);

/* Forks the helper of kind: setup(arg) first in the child (it closes
 * what the caller's children must not hold), then it joins the queue,
 * runs kind and exits QWATCH_EXIT_OK or QWATCH_EXIT_RECOVER.  The pid,
 * or -1 (logged). */
pid_t	qwatch_spawn(const char *spool_dir, enum qwatch_kind,
	    void (*setup)(void *), void *arg);
/* Recovery (every other process stopped) in a helper, waited for here
 * within QWATCH_RECOVER_LIMIT (killed past it).  0, or -1 (logged). */
int	qwatch_recover(const char *spool_dir, void (*setup)(void *),
	    void *arg);

#endif
