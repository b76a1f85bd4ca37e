/*
 * The session processes (master_session.h): the master hands each
 * connection to an idle one of the current configuration; in the child,
 * the loop that serves them.
 */
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fdpass.h"
#include "log.h"
#include "master_session.h"
#include "master_state.h"
#include "reload.h"
#include "smtp_server.h"

/*
 * A session process serves connections in turn: after each it says so
 * on ctl ("i") and the master may hand it the next (fdpass.h) instead of
 * forking; it exits after session_max_use connections or SESSION_IDLE_MS
 * without one.  Joining the queue environment and faulting in a fresh
 * process's pages cost more than the rest of a short session.
 */
#define SESSION_IDLE_MS	60000
#define SESSION_KEEP_MS	250	/* queue handle kept this long when idle */

size_t
master_session_procs(const struct master *m)
{
	size_t	 i, n = 0;

	for (i = 0; i < m->nkids; i++)
		if (m->kids[i].ctl != -1)
			n++;
	return n;
}

/* Hands fd to an idle session process: 0, or -1 when there is none. */
int
master_handoff_idle(struct master *m, int fd, const struct handoff *h)
{
	size_t	 i;

	for (i = 0; i < m->nkids; i++) {
		struct child *k = &m->kids[i];

		if (k->ctl == -1 || k->peer.ss_family != 0 || k->gen != m->gen)
			continue;
		if (fdpass_send(k->ctl, fd, h) == 0) {
			k->peer = h->peer;
			return 0;
		}
		/* It is exiting; master_reap() forgets it. */
		(void)close(k->ctl);
		k->ctl = -1;
	}
	return -1;
}

/* "i" from a session process: its client is gone, it can take another. */
static void
session_ready(struct child *k)
{
	char	 buf[16];
	ssize_t	 n = read(k->ctl, buf, sizeof(buf));

	if (n > 0) {
		memset(&k->peer, 0, sizeof(k->peer));
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	(void)close(k->ctl);
	k->ctl = -1;
}

/* An idle session forked before the last reload ends (it reads EOF on
 * ctl): the next client gets a process with the new configuration. */
static void
retire_old(struct master *m, struct child *k)
{
	if (k->ctl == -1 || k->peer.ss_family != 0 || k->gen == m->gen)
		return;
	(void)close(k->ctl);
	k->ctl = -1;
}

/* SIGHUP: postern.conf again (reload.h).  Idle sessions and the pickup
 * start over with it; the runner re-reads it itself. */
void
master_reload(struct master *m)
{
	size_t	 i;

	if (reload_master(m->conf, &m->sctx.tls) == 1) {
		m->gen++;
		for (i = 0; i < m->nkids; i++)
			retire_old(m, &m->kids[i]);
		if (m->pickup > 0)
			(void)kill(m->pickup, SIGTERM);
	}
	if (m->runner > 0)
		(void)kill(m->runner, SIGHUP);
}

void
master_ready_pid(struct master *m, pid_t pid)
{
	size_t	 i;

	for (i = 0; i < m->nkids; i++)
		if (m->kids[i].pid == pid && m->kids[i].ctl != -1) {
			session_ready(&m->kids[i]);
			retire_old(m, &m->kids[i]);
		}
}

/*
 * Waits for the master's next connection on ctl: 1, 0 on time-out, -1 on
 * error or SIGTERM.  SIGTERM is blocked but for the wait itself, so one
 * that arrives just before it still ends it.
 */
static int
wait_ctl(int ctl, int ms)
{
	struct pollfd	 pfd = { ctl, POLLIN, 0 };
	struct timespec	 ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	sigset_t	 block, old;
	int		 n = -1;

	(void)sigemptyset(&block);
	(void)sigaddset(&block, SIGTERM);
	(void)sigprocmask(SIG_BLOCK, &block, &old);
	if (!smtp_server_stopping())
		n = ppoll(&pfd, 1, &ts, &old);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	return n;
}

/* Under load the next client comes at once and the queue handle is kept;
 * a process left idle lets go of it (and of the queue's shared pages). */
static int
wait_next(int ctl)
{
	int	 n;

	if ((n = wait_ctl(ctl, SESSION_KEEP_MS)) != 0)
		return n;
	smtp_server_cleanup();
	return wait_ctl(ctl, SESSION_IDLE_MS);
}

_Noreturn void
master_session_child(struct master *m, int ctl, int fd, struct handoff *h)
{
	size_t	 i, served;

	master_child_setup(m);
	(void)close(m->wake[0]);
	for (i = 0; i < m->nkids; i++)
		if (m->kids[i].ctl != -1)
			(void)close(m->kids[i].ctl);
	log_setident("postern/smtpd");
	for (served = 1; ; served++) {
		smtp_session(&m->sctx, fd, (struct sockaddr *)&h->peer,
		    h->plen, &m->conf->listen[h->listen_idx]);
		if (served >= (size_t)m->conf->session_max_use ||
		    smtp_server_stopping() ||
		    write(ctl, "i", 1) != 1)
			break;
		if (wait_next(ctl) != 1 || smtp_server_stopping() ||
		    fdpass_recv(ctl, &fd, h) == -1)
			break;
		if (h->listen_idx >= (int)m->conf->nlisten) {
			(void)close(fd);
			break;
		}
	}
	smtp_server_cleanup();
	_exit(0);
}
