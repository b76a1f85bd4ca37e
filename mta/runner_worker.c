/*
 * The runner's deliver workers (runner_worker.h): forked one per batch,
 * each with its own queue handle, dying with the runner; reaped with
 * their report, which goes to the next hop's state (runner_dest.h).
 */
#include <sys/types.h>
#include <sys/wait.h>
#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#endif

#include <fcntl.h>
#include <signal.h>
#include <sysexits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "deliver.h"
#include "log.h"
#include "runner_dest.h"
#include "runner_inflight.h"
#include "runner_state.h"
#include "runner_worker.h"
#include "util.h"

#define RUNNER_HOLD_MAX		60	/* pause after a failed worker */

/*
 * A worker outliving its runner would race the next runner for the same
 * recipients (a second delivery while the first waits for its reply) and
 * would keep the queue open through a recovery.  It dies with the runner.
 */
static void
die_with_runner(pid_t runner)
{
#if defined(__linux__)
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
#elif defined(__FreeBSD__)
	int	 sig = SIGKILL;

	(void)procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig);
#endif
	/* The runner may already be gone: then so are we. */
	if (getppid() != runner)
		_exit(EX_TEMPFAIL);
}

/* In the child: no handle of the runner is used (queue, pipes); the
 * worker opens its own.  _exit() so nothing of the parent is flushed. */
static _Noreturn void
worker_child(struct runner *r, const struct worker *w)
{
	struct deliver_job	 job;
	size_t			 i;

	runner_signals_child();
	(void)close(r->wake_fd);
	die_with_runner(w->runner);
	for (i = 0; i < r->nslots; i++)
		if (&r->w[i] != w && r->w[i].report_fd != -1)
			(void)close(r->w[i].report_fd);
	job.dest = w->dest;
	job.items = w->items;
	job.nitems = w->nitems;
	job.tls_table = &r->tls_table;
	job.transport = &r->transport;
	job.report_fd = w->report_fd;
	_exit(deliver_job_run(r->conf, &job));
}

void
runner_worker_clear(struct worker *w)
{
	free(w->dest);
	free(w->items);
	if (w->report_fd != -1)
		(void)close(w->report_fd);
	memset(w, 0, sizeof(*w));
	w->report_fd = -1;
}

/* The worker's report, written before it exited; NULL when there is
 * none (it failed before it could write one). */
static const struct deliver_report *
worker_report(struct worker *w, struct deliver_report *rep)
{
	ssize_t	 n;

	if (w->report_fd == -1)
		return NULL;
	n = read(w->report_fd, rep, sizeof(*rep));
	if (n != (ssize_t)sizeof(*rep))
		return NULL;
	rep->status[sizeof(rep->status) - 1] = '\0';
	rep->reply[sizeof(rep->reply) - 1] = '\0';
	return rep;
}

/* Forks a worker for v[0..n).  0, or -1 when no worker could be made. */
int
runner_worker_spawn(struct runner *r, const char *key, const struct due *v, size_t n)
{
	struct worker	*w = NULL;
	size_t		 i;
	pid_t		 pid;
	int		 fds[2];

	for (i = 0; i < r->nslots && w == NULL; i++)
		if (r->w[i].pid == 0)
			w = &r->w[i];
	if (w == NULL)
		return -1;
	w->dest = xstrdup(key);
	w->items = xcalloc(n, sizeof(*w->items));
	for (i = 0; i < n; i++) {
		memcpy(w->items[i].qid, v[i].qid, sizeof(w->items[i].qid));
		w->items[i].idx = v[i].idx;
	}
	w->nitems = n;
	w->nmsgs = 0;
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i].qid, v[i - 1].qid) != 0)
			w->nmsgs++;
	if (pipe(fds) == -1) {
		log_warn("runner: pipe for %s", key);
		runner_worker_clear(w);
		return -1;
	}
	runner_set_nonblock(fds[0]);
	(void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	w->report_fd = fds[1];
	w->runner = getpid();
	if ((pid = fork()) == -1) {
		log_warn("runner: fork for %s", key);
		(void)close(fds[0]);
		runner_worker_clear(w);
		return -1;
	}
	if (pid == 0)
		worker_child(r, w);
	(void)close(fds[1]);
	w->report_fd = fds[0];
	runner_dest_get(r, key)->inflight += w->nmsgs;
	w->pid = pid;
	w->started = mono_msec();
	for (i = 0; i < n; i++)
		runner_inflight_add(r, v[i].qid, v[i].idx, pid);
	r->running++;
	log_debug("runner: worker %ld for %s: %zu recipient(s)", (long)pid,
	    key, n);
	return 0;
}

/* How long a failed worker's recipients rest before they are tried. */
static int64_t
pause_len(const struct config *conf)
{
	return conf->retry_min > 0 && conf->retry_min < RUNNER_HOLD_MAX ?
	    conf->retry_min : RUNNER_HOLD_MAX;
}

static void
worker_done(struct runner *r, struct worker *w, int status)
{
	struct deliver_report	 rep;
	const struct deliver_report *rp = worker_report(w, &rep);
	int64_t	 until = (int64_t)time(NULL) + pause_len(r->conf);
	size_t	 i;
	int	 ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	/* One line per job: how long the next hop held the worker. */
	log_info("runner: %s: worker %ld done in %.1fs, %zu recipient(s), "
	    "%u connection(s)%s", w->dest, (long)w->pid,
	    (double)(mono_msec() - w->started) / 1000.0, w->nitems,
	    rp ? rp->connections : 0, rp && rp->cut ? ", cut by a limit" : "");
	runner_dest_report(r, w, rp);

	if (ok) {
		for (i = 0; i < w->nitems; i++)
			runner_inflight_del(r, w->items[i].qid, w->items[i].idx);
	} else {
		if (WIFSIGNALED(status))
			log_warnx("runner: worker %ld for %s killed by signal "
			    "%d; its %zu recipient(s) stay queued",
			    (long)w->pid, w->dest, WTERMSIG(status),
			    w->nitems);
		else
			log_warnx("runner: worker %ld for %s exited with "
			    "status %d; its %zu recipient(s) stay queued",
			    (long)w->pid, w->dest, WEXITSTATUS(status),
			    w->nitems);
		for (i = 0; i < w->nitems; i++)
			runner_inflight_pause(r, w->items[i].qid, w->items[i].idx,
			    until);
		/* Locks it may have left: the master's failchk (qwatch.h). */
	}
	r->running--;
	runner_worker_clear(w);
}

void
runner_reap(struct runner *r)
{
	pid_t	 pid;
	int	 status;
	size_t	 i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < r->nslots; i++)
			if (r->w[i].pid == pid) {
				worker_done(r, &r->w[i], status);
				break;
			}
	}
}
