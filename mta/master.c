/*
 * The master process: listeners, children, signals.  It never reads
 * network input itself; the 421 it writes when over a cap is the only
 * thing it sends.
 *
 * This file is start-up, stop, the signals and the main loop; the
 * listeners are master_listen.c, the session processes master_session.c,
 * the table of children and reaping master_children.c, the queue watch
 * and recovery master_recover.c (master_state.h).
 */
#include <sys/types.h>
#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "local.h"
#include "log.h"
#include "maildrop.h"
#include "master.h"
#include "master_children.h"
#include "master_listen.h"
#include "master_recover.h"
#include "master_session.h"
#include "master_state.h"
#include "privsep.h"
#include "queue.h"
#include "qwatch.h"
#include "tls.h"
#include "util.h"

#define SHUTDOWN_GRACE_MS	10000	/* SIGTERM to SIGKILL at shutdown */

static int sigpipe_fd[2] = { -1, -1 };

static void
on_signal(int sig)
{
	unsigned char	 c = (unsigned char)sig;
	int		 saved = errno;

	(void)write(sigpipe_fd[1], &c, 1);
	errno = saved;
}

void
master_nonblock_cloexec(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fcntl");
}

/* Things every child does first: it owns none of the master's handles. */
void
master_child_setup(struct master *m)
{
	size_t	 i;

	for (i = 0; i < m->nsocks; i++)
		(void)close(m->socks[i].fd);
	(void)close(sigpipe_fd[0]);
	(void)close(sigpipe_fd[1]);
	(void)signal(SIGCHLD, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	/* Ignored until a child installs its own handler: a reload or a
	 * flush sent while the runner starts must not kill it. */
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGUSR1, SIG_IGN);
	(void)signal(SIGINT, SIG_DFL);
}

static int
handle_signals(struct master *m)
{
	unsigned char	 sigs[32];
	ssize_t		 n, i;

	n = read(sigpipe_fd[0], sigs, sizeof(sigs));
	for (i = 0; i < n; i++) {
		switch (sigs[i]) {
		case SIGCHLD:
			master_reap(m);
			break;
		case SIGUSR1:
			if (m->runner > 0)
				(void)kill(m->runner, SIGUSR1);
			break;
		case SIGHUP:
			master_reload(m);
			break;
		case SIGTERM:
		case SIGINT:
			return -1;
		}
	}
	return 0;
}

/* Listeners, the signal pipe, then each session process's ctl. */
static size_t
poll_setup(struct master *m, struct pollfd **pfd, size_t *cap)
{
	size_t	 i, n = 0;

	if (*cap < m->nsocks + 1 + m->nkids) {
		*cap = m->nsocks + 1 + m->nkids + 16;
		*pfd = xreallocarray(*pfd, *cap, sizeof(**pfd));
	}
	for (i = 0; i < m->nsocks; i++, n++) {
		(*pfd)[n].fd = m->socks[i].fd;
		(*pfd)[n].events = POLLIN;
	}
	(*pfd)[n].fd = sigpipe_fd[0];
	(*pfd)[n++].events = POLLIN;
	for (i = 0; i < m->nkids; i++, n++) {
		(*pfd)[n].fd = m->kids[i].ctl;	/* -1 is ignored by poll */
		(*pfd)[n].events = POLLIN;
	}
	return n;
}

static void
master_loop(struct master *m)
{
	struct pollfd	*pfd = NULL;
	size_t		 i, n, nk, cap = 0;
	pid_t		*pids;
	int		 timeout;

	for (;;) {
		if (m->recover && mono_msec() >= m->recover_at)
			master_recover_queue(m);
		if (m->queue_up && !m->recover)
			master_watch_queue(m);
		if (m->queue_up && m->runner == 0 &&
		    mono_msec() >= m->runner_restart)
			master_start_runner(m);
		if (m->queue_up && m->pickup == 0 &&
		    mono_msec() >= m->pickup_restart)
			master_start_pickup(m);
		n = poll_setup(m, &pfd, &cap);
		timeout = 200;
		if (m->queue_up && !m->recover && m->runner != 0 &&
		    m->pickup != 0)
			timeout = (int)qwatch_wait(&m->qw, mono_msec());
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		/* Who was polled: reaping below may reorder m->kids. */
		nk = n - m->nsocks - 1;
		pids = xcalloc(nk + 1, sizeof(*pids));
		for (i = 0; i < nk; i++)
			pids[i] = m->kids[i].pid;
		for (i = 0; i < nk; i++)
			if (pfd[m->nsocks + 1 + i].revents & (POLLIN | POLLHUP))
				master_ready_pid(m, pids[i]);
		free(pids);
		if ((pfd[m->nsocks].revents & POLLIN) && handle_signals(m) == -1)
			break;
		for (i = 0; i < m->nsocks; i++)
			if (pfd[i].revents & POLLIN)
				master_accept_one(m, &m->socks[i]);
	}
	free(pfd);
}

static void
setup_signals(void)
{
	struct sigaction sa;

	if (pipe(sigpipe_fd) == -1)
		fatal("pipe");
	master_nonblock_cloexec(sigpipe_fd[0]);
	master_nonblock_cloexec(sigpipe_fd[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGCHLD, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGUSR1, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
}

/*
 * Orphans come to us, not to init: a worker whose runner died (it dies
 * too, PR_SET_PDEATHSIG) is reaped here, and its death sets off a failchk
 * at once (master_reap()).  The periodic failchk finds the others.
 */
static void
become_subreaper(void)
{
#if defined(__linux__)
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
		log_warn("prctl PR_SET_CHILD_SUBREAPER");
#elif defined(__FreeBSD__)
	if (procctl(P_PID, getpid(), PROC_REAP_ACQUIRE, NULL) == -1)
		log_warn("procctl PROC_REAP_ACQUIRE");
#endif
}

static void
write_pidfile(const char *path)
{
	FILE	*f;

	if (path == NULL || *path == '\0')
		return;
	if ((f = fopen(path, "w")) == NULL) {
		log_warn("pidfile %s", path);
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	(void)fclose(f);
}

int
master_main(struct config *conf, int foreground)
{
	struct master	 m;
	struct queue	*q;
	char		 err[512];

	memset(&m, 0, sizeof(m));
	m.conf = conf;
	/* The pidfile exists before the handlers do: a reload (SIGHUP) or a
	 * flush (SIGUSR1) sent during start-up must not kill the daemon. */
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGUSR1, SIG_IGN);
	tls_init();
	/* Local delivery keeps root in its own small process (local.h),
	 * forked before any listener exists. */
	if (local_server_start(conf, foreground, err, sizeof(err)) == -1)
		fatalx("%s", err);
	master_bind_listeners(&m);
	if (privsep_spool(conf->spool_dir, conf->user, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (maildrop_setup(conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((m.sctx.tls = tls_server_ctx(conf, err, sizeof(err))) == NULL)
		fatalx("TLS: %s", err);
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");
	write_pidfile(conf->pidfile);
	become_subreaper();
	if (privsep_drop(conf->user, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* Recovery before anything else opens the environment. */
	if (queue_open(&q, conf->spool_dir, QUEUE_CREATE | QUEUE_RECOVER,
	    err, sizeof(err)) == -1)
		fatalx("queue: %s", err);
	/* The master keeps no handle: one that a dead process left a mutex
	 * behind in could hang it; its helpers (qwatch.h) use their own. */
	queue_close(q);
	m.queue_up = 1;
	if (pipe(m.wake) == -1)
		fatal("pipe");
	master_nonblock_cloexec(m.wake[0]);
	master_nonblock_cloexec(m.wake[1]);
	m.sctx.conf = conf;
	m.sctx.wake_fd = m.wake[1];
	setup_signals();
	log_info("postern started: hostname=%s spool=%s", conf->hostname,
	    conf->spool_dir);
	master_loop(&m);
	log_info("shutting down");
	/* A helper stopped with the others is no sign of a dead queue. */
	m.queue_up = 0;
	master_shutdown_children(&m, SHUTDOWN_GRACE_MS);
	if (conf->pidfile != NULL && *conf->pidfile != '\0')
		(void)unlink(conf->pidfile);
	SSL_CTX_free(m.sctx.tls);
	free(m.kids);
	return 0;
}
