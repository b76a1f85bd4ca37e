/*
 * The master's children (master_children.h): the table of them, the
 * runner and the pickup started, every death reaped, and the stop.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildrop.h"
#include "master_children.h"
#include "master_recover.h"
#include "master_state.h"
#include "qwatch.h"
#include "runner.h"
#include "util.h"

void
master_kid_add(struct master *m, pid_t pid, const struct sockaddr_storage *peer,
    int ctl)
{
	m->kids = xreallocarray(m->kids, m->nkids + 1, sizeof(*m->kids));
	m->kids[m->nkids].pid = pid;
	m->kids[m->nkids].ctl = ctl;
	m->kids[m->nkids].gen = m->gen;
	if (peer != NULL)
		m->kids[m->nkids].peer = *peer;
	else
		memset(&m->kids[m->nkids].peer, 0, sizeof(m->kids[0].peer));
	m->nkids++;
}

static void
kid_remove(struct master *m, pid_t pid)
{
	size_t	 i;

	for (i = 0; i < m->nkids; i++) {
		if (m->kids[i].pid == pid) {
			if (m->kids[i].ctl != -1)
				(void)close(m->kids[i].ctl);
			m->kids[i] = m->kids[--m->nkids];
			return;
		}
	}
}

void
master_start_runner(struct master *m)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork runner");
		m->runner_restart = mono_msec() + 1000;
		return;
	}
	if (pid == 0) {
		master_child_setup(m);
		(void)close(m->wake[1]);
		log_setident("postern/runner");
		runner_main(m->conf, m->wake[0]);
	}
	m->runner = pid;
	m->runner_restart = 0;
	master_kid_add(m, pid, NULL, -1);
}

void
master_start_pickup(struct master *m)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork pickup");
		m->pickup_restart = mono_msec() + 1000;
		return;
	}
	if (pid == 0) {
		master_child_setup(m);
		(void)close(m->wake[0]);
		log_setident("postern/pickup");
		pickup_main(m->conf, m->wake[1]);
	}
	m->pickup = pid;
	master_kid_add(m, pid, NULL, -1);
}

/*
 * Every child, and as a subreaper every orphaned descendant (a worker
 * whose runner died), is reaped here.  Any of them may have died inside
 * a queue transaction, so each death asks for a failchk at once.
 */
void
master_reap(struct master *m)
{
	pid_t	 pid;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		kid_remove(m, pid);
		if (pid == m->qw.pid) {
			master_helper_done(m, status);
			continue;
		}
		qwatch_soon(&m->qw, mono_msec());
		if (WIFSIGNALED(status) || (WIFEXITED(status) &&
		    WEXITSTATUS(status) != 0))
			log_warnx("process %ld ended abnormally (%s %d)",
			    (long)pid, WIFSIGNALED(status) ? "signal" : "exit",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
		if (pid == m->runner) {
			m->runner = 0;
			m->runner_restart = mono_msec() + 1000;
		}
		if (pid == m->pickup) {
			m->pickup = 0;
			m->pickup_restart = mono_msec() + 1000;
		}
	}
}

/* SIGTERM, and SIGKILL for those still there after grace_ms. */
void
master_shutdown_children(struct master *m, int64_t grace_ms)
{
	int64_t	 deadline = mono_msec() + grace_ms;
	size_t	 i;

	for (i = 0; i < m->nkids; i++)
		(void)kill(m->kids[i].pid, SIGTERM);
	while (m->nkids > 0 && mono_msec() < deadline) {
		usleep(50000);
		master_reap(m);
	}
	for (i = 0; i < m->nkids; i++)
		(void)kill(m->kids[i].pid, SIGKILL);
	deadline = mono_msec() + 5000;
	while (m->nkids > 0 && mono_msec() < deadline) {
		usleep(20000);
		master_reap(m);
	}
}
