/*
 * The local server's children: deadline, cap, and stopping a delivery
 * without leaving a process behind (include/local_child.h).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "local_child.h"
#include "log.h"
#include "util.h"

static volatile sig_atomic_t tracked;	/* the running pipe command */

int
local_child_admit(long long running, long long cap)
{
	return cap > 0 && running < cap;
}

long long
local_reply_wait(long long delivery_timeout)
{
	return delivery_timeout + LOCAL_TERM_GRACE + LOCAL_REPLY_SLACK;
}

static void
mask_term(int how)
{
	sigset_t	 s;

	(void)sigemptyset(&s);
	(void)sigaddset(&s, SIGTERM);
	(void)sigprocmask(how, &s, NULL);
}

void
local_child_hold(void)
{
	mask_term(SIG_BLOCK);
}

void
local_child_release(void)
{
	mask_term(SIG_UNBLOCK);
}

void
local_child_track(pid_t pid)
{
	tracked = (sig_atomic_t)pid;
}

void
local_child_exec_prep(void)
{
	(void)signal(SIGTERM, SIG_DFL);
	mask_term(SIG_UNBLOCK);
}

/* Only async-signal-safe calls: the command's group, then out. */
static void
on_term(int sig)
{
	pid_t	 p = (pid_t)tracked;

	(void)sig;
	if (p > 0) {
		(void)kill(-p, SIGKILL);
		(void)kill(p, SIGKILL);
	}
	_exit(EX_TEMPFAIL);
}

_Noreturn static void
child_main(void (*fn)(void *, int), void *arg, int out)
{
	struct sigaction sa;

	(void)setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	tracked = 0;
	local_child_release();
	fn(arg, out);
	_exit(0);
}

/* 1 when pid has exited within ms.  Not reaped (WNOWAIT): while it
 * is a zombie its number cannot name another process group. */
static int
exited_within(pid_t pid, int64_t ms)
{
	int64_t		 end = mono_msec() + ms;
	siginfo_t	 si;

	do {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG |
		    WNOWAIT) == -1 || si.si_pid == pid)
			return 1;
		(void)poll(NULL, 0, 50);
	} while (mono_msec() < end);
	return 0;
}

/* The group gets SIGKILL (what the child left in it), then the reap. */
static void
finish(pid_t pid)
{
	(void)kill(-pid, SIGKILL);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		continue;
}

/* SIGTERM, at most the grace, then the whole group. */
static void
stop(pid_t pid)
{
	(void)kill(pid, SIGTERM);
	if (!exited_within(pid, (int64_t)LOCAL_TERM_GRACE * 1000))
		log_warnx("local: delivery process %ld ignored SIGTERM for "
		    "%ds, killed", (long)pid, LOCAL_TERM_GRACE);
	finish(pid);
}

static enum local_child_end
watch_child(int out, int watch, int64_t deadline, char *buf, size_t len)
{
	struct pollfd	 pfd[2];
	char		 junk[512];
	size_t		 got = 0;
	int64_t		 left;
	ssize_t		 n;

	buf[0] = '\0';
	for (;;) {
		if ((left = deadline - mono_msec()) <= 0)
			return memchr(buf, '\n', got) ? LOCAL_CHILD_DONE :
			    LOCAL_CHILD_TIMEOUT;
		pfd[0].fd = out;
		pfd[0].events = POLLIN;
		pfd[1].fd = watch;
		pfd[1].events = 0;	/* only POLLHUP: the worker left */
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, (int)(left > 1000 ? 1000 : left)) == -1 &&
		    errno != EINTR)
			return LOCAL_CHILD_TIMEOUT;
		if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL))
			return LOCAL_CHILD_GONE;
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
			continue;
		n = read(out, got < len - 1 ? buf + got : junk,
		    got < len - 1 ? len - 1 - got : sizeof(junk));
		if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
			return LOCAL_CHILD_DONE;
		if (n > 0 && got < len - 1) {
			got += (size_t)n;
			buf[got] = '\0';
		}
	}
}

enum local_child_end
local_child_run(void (*fn)(void *, int), void *arg, int watch,
    long long timeout, char *buf, size_t len)
{
	enum local_child_end end;
	pid_t	 pid;
	int	 p[2];

	buf[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1)
		return LOCAL_CHILD_FAILED;
	/* Held until the handler is in place: a stop must not find the
	 * child with SIGTERM's default action and a command running. */
	local_child_hold();
	if ((pid = fork()) == -1) {
		local_child_release();
		(void)close(p[0]);
		(void)close(p[1]);
		return LOCAL_CHILD_FAILED;
	}
	if (pid == 0) {
		(void)close(p[0]);
		child_main(fn, arg, p[1]);
	}
	local_child_release();
	(void)setpgid(pid, pid);	/* as the child does: no race */
	(void)close(p[1]);
	end = watch_child(p[0], watch, mono_msec() + timeout * 1000, buf, len);
	(void)close(p[0]);
	if (end == LOCAL_CHILD_DONE)
		finish(pid);
	else
		stop(pid);
	return end;
}
