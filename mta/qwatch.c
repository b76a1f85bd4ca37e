/*
 * The master's failchk and checkpoint timers and their helper process
 * (include/qwatch.h).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"
#include "util.h"
#include "qwatch.h"

enum qwatch_action
qwatch_next(const struct qwatch *w, int64_t now)
{
	if (w->pid != 0)
		return now >= w->deadline ? QWATCH_OVERRUN : QWATCH_NONE;
	if (now >= w->next_failchk)
		return QWATCH_START_FAILCHK;
	if (now >= w->next_checkpoint)
		return QWATCH_START_CHECKPOINT;
	return QWATCH_NONE;
}

int64_t
qwatch_wait(const struct qwatch *w, int64_t now)
{
	int64_t	 at;

	if (w->pid != 0)
		at = w->deadline;
	else
		at = w->next_failchk < w->next_checkpoint ? w->next_failchk :
		    w->next_checkpoint;
	return at > now ? at - now : 0;
}

void
qwatch_soon(struct qwatch *w, int64_t now)
{
	if (w->next_failchk > now)
		w->next_failchk = now;
}

void
qwatch_started(struct qwatch *w, enum qwatch_kind kind, pid_t pid,
    int64_t now)
{
	w->pid = pid;
	w->kind = kind;
	if (kind == QWATCH_FAILCHK) {
		w->deadline = now + QWATCH_FAILCHK_LIMIT;
		w->next_failchk = now + QWATCH_FAILCHK_MS;
	} else {
		w->deadline = now + QWATCH_CHECKPOINT_LIMIT;
		w->next_checkpoint = now + QWATCH_CHECKPOINT_MS;
	}
}

/* Only a helper that ran to its end and said so leaves the queue as it
 * is: one killed (by us, at its deadline) or crashed may itself have
 * died inside the environment. */
enum qwatch_verdict
qwatch_verdict(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == QWATCH_EXIT_OK)
		return QWATCH_FINE;
	return QWATCH_RECOVER;
}

static _Noreturn void
helper(const char *spool_dir, enum qwatch_kind kind)
{
	struct queue	*q;
	char		 err[512];
	int		 rc = QWATCH_EXIT_OK;

	if (kind == QWATCH_RECOVERY) {
		if (queue_open(&q, spool_dir, QUEUE_CREATE | QUEUE_RECOVER,
		    err, sizeof(err)) == -1) {
			log_warnx("queue: recovery failed: %s", err);
			_exit(QWATCH_EXIT_RECOVER);
		}
		queue_close(q);
		_exit(QWATCH_EXIT_OK);
	}
	if (queue_open(&q, spool_dir, QUEUE_ENV, err, sizeof(err)) == -1) {
		log_warnx("queue: failchk cannot join the environment: %s",
		    err);
		_exit(QWATCH_EXIT_RECOVER);
	}
	if (queue_failchk(q) == -1) {
		log_warnx("queue: failchk: the environment needs recovery");
		rc = QWATCH_EXIT_RECOVER;
	} else if (kind == QWATCH_CHECKPOINT && queue_checkpoint(q) == -1)
		log_warnx("queue: checkpoint failed");
	queue_close(q);
	_exit(rc);
}

static const char *
helper_ident(enum qwatch_kind kind)
{
	switch (kind) {
	case QWATCH_FAILCHK:
		return "postern/failchk";
	case QWATCH_CHECKPOINT:
		return "postern/checkpoint";
	default:
		return "postern/recover";
	}
}

pid_t
qwatch_spawn(const char *spool_dir, enum qwatch_kind kind,
    void (*setup)(void *), void *arg)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork %s", helper_ident(kind));
		return -1;
	}
	if (pid == 0) {
		setup(arg);
		log_setident(helper_ident(kind));
		helper(spool_dir, kind);
	}
	return pid;
}

int
qwatch_recover(const char *spool_dir, void (*setup)(void *), void *arg)
{
	int64_t	 deadline = mono_msec() + QWATCH_RECOVER_LIMIT;
	pid_t	 pid;
	int	 status;

	if ((pid = qwatch_spawn(spool_dir, QWATCH_RECOVERY, setup, arg)) == -1)
		return -1;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (mono_msec() >= deadline) {
			log_warnx("queue: recovery %ld overran its deadline: "
			    "killed", (long)pid);
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			return -1;
		}
		usleep(20000);
	}
	return qwatch_verdict(status) == QWATCH_FINE ? 0 : -1;
}
