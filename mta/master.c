/*
 * The master process: listeners, children, signals.  It never reads
 * network input itself; the 421 it writes when over a cap is the only
 * thing it sends.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "local.h"
#include "log.h"
#include "maildrop.h"
#include "master.h"
#include "privsep.h"
#include "queue.h"
#include "runner.h"
#include "smtp_server.h"
#include "tls.h"
#include "util.h"

#define MAX_SOCKS	(CONFIG_MAX_LISTEN * 2)

struct lsock {
	int			 fd;
	const struct listen_spec *spec;
};

struct child {
	pid_t			 pid;
	struct sockaddr_storage	 peer;	/* ss_family 0: not a session */
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
	struct queue		*q;
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
kid_add(struct master *m, pid_t pid, const struct sockaddr_storage *peer)
{
	m->kids = xreallocarray(m->kids, m->nkids + 1, sizeof(*m->kids));
	m->kids[m->nkids].pid = pid;
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
			m->kids[i] = m->kids[--m->nkids];
			return;
		}
	}
}

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
	(void)signal(SIGHUP, SIG_DFL);
	(void)signal(SIGUSR1, SIG_DFL);
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
	kid_add(m, pid, NULL);
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
	kid_add(m, pid, NULL);
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
	struct sockaddr_storage	 peer;
	socklen_t		 plen = sizeof(peer);
	size_t			 total, mine;
	char			 ip[64];
	pid_t			 pid;
	int			 fd;

	if ((fd = accept(ls->fd, (struct sockaddr *)&peer, &plen)) == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if (m->q == NULL) {
		refuse(fd, m->conf, "4.3.0", "Queue recovery in progress, try again later");
		return;
	}
	mine = sessions_from(m, &peer, &total);
	if (total >= (size_t)m->conf->max_children ||
	    mine >= (size_t)m->conf->max_children_per_ip) {
		peer_text(&peer, ip, sizeof(ip));
		log_warnx("connection from [%s] refused: %s", ip,
		    total >= (size_t)m->conf->max_children ?
		    "too many connections" : "too many connections from it");
		refuse(fd, m->conf, "4.7.0", "Too many connections, try again later");
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		refuse(fd, m->conf, "4.3.0", "Temporary resource shortage");
		return;
	}
	if (pid == 0) {
		child_setup(m);
		(void)close(m->wake[0]);
		log_setident("postern/smtpd");
		smtp_session(&m->sctx, fd, (struct sockaddr *)&peer, plen,
		    ls->spec);
		_exit(0);
	}
	(void)close(fd);
	kid_add(m, pid, &peer);
}

static void
reap(struct master *m)
{
	pid_t	 pid;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		kid_remove(m, pid);
		if (WIFSIGNALED(status) || (WIFEXITED(status) &&
		    WEXITSTATUS(status) != 0)) {
			log_warnx("process %ld ended abnormally (%s %d)",
			    (long)pid, WIFSIGNALED(status) ? "signal" : "exit",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			/* It may have died inside a transaction. */
			if (m->q != NULL && !m->recover &&
			    queue_failchk(m->q) == -1) {
				m->recover = 1;
				m->recover_at = 0;
			}
		}
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

static void
shutdown_children(struct master *m)
{
	int64_t	 deadline = mono_msec() + 10000;
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
	char	 err[512];

	log_warnx("queue: a process died inside the queue: stopping every "
	    "process to run recovery");
	shutdown_children(m);
	if (m->q != NULL)
		queue_close(m->q);
	m->q = NULL;
	if (queue_open(&m->q, m->conf->spool_dir, QUEUE_CREATE | QUEUE_RECOVER,
	    err, sizeof(err)) == -1) {
		m->q = NULL;
		m->recover_at = mono_msec() + 5000;
		log_warnx("queue: recovery failed: %s; trying again in 5 s", err);
		return;
	}
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
			if (m->runner > 0)
				(void)kill(m->runner, SIGHUP);
			log_info("SIGHUP: configuration is read at start");
			break;
		case SIGTERM:
		case SIGINT:
			return -1;
		}
	}
	return 0;
}

static void
master_loop(struct master *m)
{
	struct pollfd	 pfd[MAX_SOCKS + 1];
	size_t		 i;
	int		 timeout;

	for (;;) {
		if (m->recover && mono_msec() >= m->recover_at)
			recover_queue(m);
		if (m->q != NULL && m->runner == 0 &&
		    mono_msec() >= m->runner_restart)
			start_runner(m);
		if (m->q != NULL && m->pickup == 0 &&
		    mono_msec() >= m->pickup_restart)
			start_pickup(m);
		for (i = 0; i < m->nsocks; i++) {
			pfd[i].fd = m->socks[i].fd;
			pfd[i].events = POLLIN;
		}
		pfd[m->nsocks].fd = sigpipe_fd[0];
		pfd[m->nsocks].events = POLLIN;
		timeout = m->runner == 0 || m->pickup == 0 ? 200 : -1;
		if (poll(pfd, m->nsocks + 1, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if ((pfd[m->nsocks].revents & POLLIN) && handle_signals(m) == -1)
			return;
		for (i = 0; i < m->nsocks; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(m, &m->socks[i]);
	}
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
	if (privsep_drop(conf->user, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* Recovery before anything else opens the environment. */
	if (queue_open(&m.q, conf->spool_dir, QUEUE_CREATE | QUEUE_RECOVER,
	    err, sizeof(err)) == -1)
		fatalx("queue: %s", err);
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
	shutdown_children(&m);
	queue_close(m.q);
	if (conf->pidfile != NULL && *conf->pidfile != '\0')
		(void)unlink(conf->pidfile);
	return 0;
}
