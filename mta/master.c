/*
 * The master process: listeners, children, signals.  It never reads
 * network input itself; the 421 it writes when over a cap is the only
 * thing it sends.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#endif

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "fdpass.h"
#include "local.h"
#include "log.h"
#include "maildrop.h"
#include "master.h"
#include "privsep.h"
#include "reload.h"
#include "queue.h"
#include "qwatch.h"
#include "runner.h"
#include "smtp_server.h"
#include "tls.h"
#include "util.h"

#define MAX_SOCKS	(CONFIG_MAX_LISTEN * 2)

struct lsock {
	int			 fd;
	const struct listen_spec *spec;
};

/*
 * A session process serves connections in turn: after each it says so
 * on ctl ("i") and the master may hand it the next (fdpass.h) instead of
 * forking; it exits after session_max_use connections or SESSION_IDLE_MS
 * without one.  Joining the queue environment and faulting in a fresh
 * process's pages cost more than the rest of a short session.
 */
#define SESSION_IDLE_MS	60000
#define SESSION_KEEP_MS	250	/* queue handle kept this long when idle */
#define SHUTDOWN_GRACE_MS	10000	/* SIGTERM to SIGKILL at shutdown */
#define RECOVER_GRACE_MS	2000	/* the same before a recovery */

struct child {
	pid_t			 pid;
	int			 ctl;	/* session: master's end; else -1 */
	unsigned		 gen;	/* configuration it was forked with */
	struct sockaddr_storage	 peer;	/* ss_family 0: no client now */
};

struct master {
	struct config		*conf;
	struct lsock		 socks[MAX_SOCKS];
	size_t			 nsocks;
	struct child		*kids;
	size_t			 nkids;
	pid_t			 runner;
	int64_t			 runner_restart;	/* mono ms, 0: none */
	int			 recover;	/* queue recovery pending */
	int64_t			 recover_at;	/* mono ms */
	pid_t			 pickup;	/* maildrop.h */
	int64_t			 pickup_restart;
	int			 wake[2];
	int			 queue_up;	/* recovered, usable */
	unsigned		 gen;	/* bumped by each reload that changed
					 * the configuration */
	struct qwatch		 qw;	/* failchk and checkpoint helper */
	struct server_ctx	 sctx;
};

static int sigpipe_fd[2] = { -1, -1 };

static void
on_signal(int sig)
{
	unsigned char	 c = (unsigned char)sig;
	int		 saved = errno;

	(void)write(sigpipe_fd[1], &c, 1);
	errno = saved;
}

static void
set_nonblock_cloexec(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fcntl");
}

static void
bind_one(struct master *m, const struct listen_spec *ls, struct addrinfo *ai)
{
	int	 fd, on = 1;

	if (m->nsocks == MAX_SOCKS)
		fatalx("too many listening sockets");
	if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) == -1)
		fatal("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		fatal("bind %s:%s", ls->host, ls->port);
	if (listen(fd, 128) == -1)
		fatal("listen %s:%s", ls->host, ls->port);
	set_nonblock_cloexec(fd);
	m->socks[m->nsocks].fd = fd;
	m->socks[m->nsocks++].spec = ls;
}

static void
bind_listeners(struct master *m)
{
	struct addrinfo	 hints, *res, *ai;
	size_t		 i;
	int		 e;

	for (i = 0; i < m->conf->nlisten; i++) {
		const struct listen_spec *ls = &m->conf->listen[i];

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
		e = getaddrinfo(strcmp(ls->host, "*") ? ls->host : NULL,
		    ls->port, &hints, &res);
		if (e != 0)
			fatalx("listen %s:%s: %s", ls->host, ls->port,
			    gai_strerror(e));
		for (ai = res; ai != NULL; ai = ai->ai_next)
			bind_one(m, ls, ai);
		freeaddrinfo(res);
		log_info("listening on %s:%s", ls->host, ls->port);
	}
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

static size_t
sessions_from(const struct master *m, const struct sockaddr_storage *peer,
    size_t *total)
{
	size_t	 i, n = 0;

	*total = 0;
	for (i = 0; i < m->nkids; i++) {
		if (m->kids[i].peer.ss_family == 0)
			continue;
		(*total)++;
		if (same_addr(&m->kids[i].peer, peer))
			n++;
	}
	return n;
}

static void
kid_add(struct master *m, pid_t pid, const struct sockaddr_storage *peer,
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

static size_t
session_procs(const struct master *m)
{
	size_t	 i, n = 0;

	for (i = 0; i < m->nkids; i++)
		if (m->kids[i].ctl != -1)
			n++;
	return n;
}

/* Hands fd to an idle session process: 0, or -1 when there is none. */
static int
handoff_idle(struct master *m, int fd, const struct handoff *h)
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
		/* It is exiting; reap() forgets it. */
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
static void
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

static void
ready_pid(struct master *m, pid_t pid)
{
	size_t	 i;

	for (i = 0; i < m->nkids; i++)
		if (m->kids[i].pid == pid && m->kids[i].ctl != -1) {
			session_ready(&m->kids[i]);
			retire_old(m, &m->kids[i]);
		}
}

static _Noreturn void	session_child(struct master *, int, int,
			    struct handoff *);

/* Things every child does first: it owns none of the master's handles. */
static void
child_setup(struct master *m)
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

static void
start_runner(struct master *m)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork runner");
		m->runner_restart = mono_msec() + 1000;
		return;
	}
	if (pid == 0) {
		child_setup(m);
		(void)close(m->wake[1]);
		log_setident("postern/runner");
		runner_main(m->conf, m->wake[0]);
	}
	m->runner = pid;
	m->runner_restart = 0;
	kid_add(m, pid, NULL, -1);
}

static void
start_pickup(struct master *m)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork pickup");
		m->pickup_restart = mono_msec() + 1000;
		return;
	}
	if (pid == 0) {
		child_setup(m);
		(void)close(m->wake[0]);
		log_setident("postern/pickup");
		pickup_main(m->conf, m->wake[1]);
	}
	m->pickup = pid;
	kid_add(m, pid, NULL, -1);
}

static void
refuse(int fd, const struct config *conf, const char *status, const char *why)
{
	char	 line[512];
	int	 n;

	/* Best effort: the socket is non-blocking and we never wait. */
	n = snprintf(line, sizeof(line), "421 %s %s %s\r\n", status,
	    conf->hostname, why);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)write(fd, line, (size_t)n);
	(void)close(fd);
}

static void
peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (getnameinfo((const struct sockaddr *)ss, sizeof(*ss), buf, len,
	    NULL, 0, NI_NUMERICHOST) != 0)
		(void)strlcpy(buf, "unknown", len);
}

static void
accept_one(struct master *m, const struct lsock *ls)
{
	struct handoff		 h;
	size_t			 total, mine;
	char			 ip[64];
	pid_t			 pid;
	int			 fd, ctl[2];

	memset(&h, 0, sizeof(h));
	h.plen = sizeof(h.peer);
	if ((fd = accept(ls->fd, (struct sockaddr *)&h.peer, &h.plen)) == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	h.listen_idx = (int)(ls->spec - m->conf->listen);
	if (!m->queue_up) {
		refuse(fd, m->conf, "4.3.0", "Queue recovery in progress, try again later");
		return;
	}
	mine = sessions_from(m, &h.peer, &total);
	if (total >= (size_t)m->conf->max_children ||
	    mine >= (size_t)m->conf->max_children_per_ip) {
		peer_text(&h.peer, ip, sizeof(ip));
		log_warnx("connection from [%s] refused: %s", ip,
		    total >= (size_t)m->conf->max_children ?
		    "too many connections" : "too many connections from it");
		refuse(fd, m->conf, "4.7.0", "Too many connections, try again later");
		return;
	}
	if (handoff_idle(m, fd, &h) == 0) {
		(void)close(fd);
		return;
	}
	if (session_procs(m) >= (size_t)m->conf->max_children ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) == -1) {
		refuse(fd, m->conf, "4.3.0", "Temporary resource shortage");
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		(void)close(ctl[0]);
		(void)close(ctl[1]);
		refuse(fd, m->conf, "4.3.0", "Temporary resource shortage");
		return;
	}
	if (pid == 0) {
		(void)close(ctl[0]);
		session_child(m, ctl[1], fd, &h);
	}
	(void)close(fd);
	(void)close(ctl[1]);
	set_nonblock_cloexec(ctl[0]);
	kid_add(m, pid, &h.peer, ctl[0]);
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

static _Noreturn void
session_child(struct master *m, int ctl, int fd, struct handoff *h)
{
	size_t	 i, served;

	child_setup(m);
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

/* The failchk or checkpoint helper ended (qwatch.h). */
static void
helper_done(struct master *m, int status)
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

/*
 * Every child, and as a subreaper every orphaned descendant (a worker
 * whose runner died), is reaped here.  Any of them may have died inside
 * a queue transaction, so each death asks for a failchk at once.
 */
static void
reap(struct master *m)
{
	pid_t	 pid;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		kid_remove(m, pid);
		if (pid == m->qw.pid) {
			helper_done(m, status);
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

/* In a helper, before it joins the queue: none of the master's handles. */
static void
helper_setup(void *arg)
{
	struct master	*m = arg;

	child_setup(m);
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
	kid_add(m, pid, NULL, -1);
}

/*
 * Runs failchk or a checkpoint when due, in a helper with a deadline.
 * A failchk that overruns hangs on what a dead process left inside
 * Berkeley DB's shared regions: it is killed and the queue recovered.
 */
static void
watch_queue(struct master *m)
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
		/* reap() sees the signal and asks for recovery. */
		m->qw.deadline = mono_msec() + QWATCH_FAILCHK_LIMIT;
		break;
	case QWATCH_NONE:
		break;
	}
}

/* SIGTERM, and SIGKILL for those still there after grace_ms. */
static void
shutdown_children(struct master *m, int64_t grace_ms)
{
	int64_t	 deadline = mono_msec() + grace_ms;
	size_t	 i;

	for (i = 0; i < m->nkids; i++)
		(void)kill(m->kids[i].pid, SIGTERM);
	while (m->nkids > 0 && mono_msec() < deadline) {
		usleep(50000);
		reap(m);
	}
	for (i = 0; i < m->nkids; i++)
		(void)kill(m->kids[i].pid, SIGKILL);
	deadline = mono_msec() + 5000;
	while (m->nkids > 0 && mono_msec() < deadline) {
		usleep(20000);
		reap(m);
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
static void
recover_queue(struct master *m)
{
	log_warnx("queue: a process died inside the queue: stopping every "
	    "process to run recovery");
	/* Processes waiting on the dead one's locks never end by themselves:
	 * a short grace.  None of them has a 250 outstanding that is not
	 * committed; a delivery cut here is made again (a duplicate). */
	shutdown_children(m, RECOVER_GRACE_MS);
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

static int
handle_signals(struct master *m)
{
	unsigned char	 sigs[32];
	ssize_t		 n, i;

	n = read(sigpipe_fd[0], sigs, sizeof(sigs));
	for (i = 0; i < n; i++) {
		switch (sigs[i]) {
		case SIGCHLD:
			reap(m);
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
			recover_queue(m);
		if (m->queue_up && !m->recover)
			watch_queue(m);
		if (m->queue_up && m->runner == 0 &&
		    mono_msec() >= m->runner_restart)
			start_runner(m);
		if (m->queue_up && m->pickup == 0 &&
		    mono_msec() >= m->pickup_restart)
			start_pickup(m);
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
				ready_pid(m, pids[i]);
		free(pids);
		if ((pfd[m->nsocks].revents & POLLIN) && handle_signals(m) == -1)
			break;
		for (i = 0; i < m->nsocks; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(m, &m->socks[i]);
	}
	free(pfd);
}

static void
setup_signals(void)
{
	struct sigaction sa;

	if (pipe(sigpipe_fd) == -1)
		fatal("pipe");
	set_nonblock_cloexec(sigpipe_fd[0]);
	set_nonblock_cloexec(sigpipe_fd[1]);
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
 * at once (reap()).  The periodic failchk finds the others.
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
	bind_listeners(&m);
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
	set_nonblock_cloexec(m.wake[0]);
	set_nonblock_cloexec(m.wake[1]);
	m.sctx.conf = conf;
	m.sctx.wake_fd = m.wake[1];
	setup_signals();
	log_info("postern started: hostname=%s spool=%s", conf->hostname,
	    conf->spool_dir);
	master_loop(&m);
	log_info("shutting down");
	shutdown_children(&m, SHUTDOWN_GRACE_MS);
	if (conf->pidfile != NULL && *conf->pidfile != '\0')
		(void)unlink(conf->pidfile);
	SSL_CTX_free(m.sctx.tls);
	free(m.kids);
	return 0;
}
