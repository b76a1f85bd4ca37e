/*
 * local_target: the deliveries of one alias target: a mailbox (as
 * root, under mbox_open.h's rules), a file and a pipe (each in a child
 * that has become the target user).  See include/local_target.h.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "local_child.h"
#include "local_io.h"
#include "local_target.h"
#include "mbox.h"
#include "outcome.h"
#include "privsep.h"
#include "util.h"

#define LOCAL_OUTPUT_MAX	400	/* bytes of a command's output kept */

/* -- deliveries as the target user --------------------------------- */

static int
become(const struct passwd *pw)
{
	return privsep_become(pw);
}

static const struct passwd *
run_user(const struct config *conf, const char *user, struct outcome *o)
{
	const struct passwd *pw;
	const char	*name = user ? user : conf->default_user;

	if ((pw = getpwnam(name)) == NULL)
		outcome_set(o, OUTCOME_DEFER, "4.3.0",
		    "no user %s to run the delivery as", name);
	return pw;
}

/* A file named in aliases or .forward, appended to as its user. */
void
local_deliver_file(const struct config *conf, const char *path,
    const char *user, const char *data, size_t len, struct outcome *o)
{
	const struct passwd *pw;
	pid_t	 pid;
	int	 p[2], status;

	if (strcmp(path, "/dev/null") == 0) {
		outcome_set(o, OUTCOME_SENT, "2.0.0", "delivered to /dev/null");
		return;
	}
	if ((pw = run_user(conf, user, o)) == NULL)
		return;
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "fork: %s",
		    strerror(errno));
		return;
	}
	if (pid == 0) {
		struct outcome r;

		(void)close(p[0]);
		if (become(pw) == -1)
			outcome_set(&r, OUTCOME_DEFER, "4.3.0",
			    "cannot become %s", pw->pw_name);
		else
			(void)mbox_append_locked(path, pw->pw_uid, pw->pw_gid,
			    data, len, 0, &r);
		local_outcome_write(p[1], &r);
		_exit(0);
	}
	(void)close(p[1]);
	local_outcome_read(p[0], o);
	(void)close(p[0]);
	(void)waitpid(pid, &status, 0);
}

static void
pipe_child(const struct passwd *pw, const char *cmd, int in, int out,
    const char *sender, const char *rcpt)
{
	char	*envp[8];

	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(out, 2) == -1)
		_exit(EX_OSERR);
	(void)setsid();
	if (become(pw) == -1)
		_exit(EX_TEMPFAIL);
	if (chdir(pw->pw_dir) == -1)
		(void)chdir("/");
	envp[0] = xasprintf("HOME=%s", pw->pw_dir);
	envp[1] = xasprintf("USER=%s", pw->pw_name);
	envp[2] = xasprintf("LOGNAME=%s", pw->pw_name);
	envp[3] = xstrdup("SHELL=/bin/sh");
	envp[4] = xstrdup("PATH=/usr/bin:/bin:/usr/local/bin");
	envp[5] = xasprintf("SENDER=%s", sender);
	envp[6] = xasprintf("RECIPIENT=%s", rcpt);
	envp[7] = NULL;
	(void)signal(SIGPIPE, SIG_DFL);
	(void)signal(SIGCHLD, SIG_DFL);
	local_child_exec_prep();
	execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, envp);
	_exit(EX_OSERR);
}

/* Feeds the message, keeps the first bytes of output, kills the
 * command's process group at the deadline. */
static int
pipe_feed(pid_t pid, int in, int out, const char *data, size_t len,
    long long timeout, char *msg, size_t msglen, int *timed_out)
{
	struct pollfd	 pfd[2];
	int64_t		 deadline = mono_msec() + timeout * 1000;
	size_t		 off = 0, got = 0;
	ssize_t		 n;
	char		 junk[512];

	*timed_out = 0;
	(void)fcntl(in, F_SETFL, O_NONBLOCK);
	while (out != -1) {
		pfd[0].fd = off < len ? in : -1;
		pfd[0].events = POLLOUT;
		pfd[1].fd = out;
		pfd[1].events = POLLIN;
		if (mono_msec() >= deadline) {
			*timed_out = 1;
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, 200) == -1 && errno != EINTR)
			break;
		if (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP)) {
			n = write(in, data + off, len - off);
			if (n > 0)
				off += (size_t)n;
			if (n == -1 && errno != EAGAIN)
				off = len;	/* EPIPE: it stopped reading */
			if (off == len)
				(void)close(in), in = -1;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(out, got < msglen - 1 ? msg + got : junk,
			    got < msglen - 1 ? msglen - 1 - got : sizeof(junk));
			if (n <= 0)
				out = -1;
			else if (got < msglen - 1)
				got += (size_t)n;
		}
	}
	if (in != -1)
		(void)close(in);
	msg[got] = '\0';
	return 0;
}

void
local_deliver_pipe(const struct config *conf, const char *cmd, const char *user,
    const char *sender, const char *rcpt, const char *data, size_t len,
    struct outcome *o)
{
	const struct passwd *pw;
	char	 output[LOCAL_OUTPUT_MAX + 1], *p;
	pid_t	 pid;
	int	 in[2], out[2], status = 0, timed_out;

	if ((pw = run_user(conf, user, o)) == NULL)
		return;
	/* Held over the fork: a stop then finds the command tracked. */
	local_child_hold();
	if (pipe(in) == -1 || pipe(out) == -1 || (pid = fork()) == -1) {
		local_child_release();
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "pipe/fork: %s",
		    strerror(errno));
		return;
	}
	if (pid == 0) {
		(void)close(in[1]);
		(void)close(out[0]);
		pipe_child(pw, cmd, in[0], out[1], sender, rcpt);
	}
	local_child_track(pid);
	local_child_release();
	(void)close(in[0]);
	(void)close(out[1]);
	(void)pipe_feed(pid, in[1], out[0], data, len, conf->local_pipe_timeout,
	    output, sizeof(output), &timed_out);
	(void)close(out[0]);
	(void)waitpid(pid, &status, 0);
	local_child_track(0);
	for (p = output; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (timed_out)
		outcome_set(o, OUTCOME_DEFER, "4.4.2", "command timed out "
		    "after %llds: %s", conf->local_pipe_timeout, cmd);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		outcome_set(o, OUTCOME_SENT, "2.0.0", "delivered to command: %s",
		    cmd);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == EX_TEMPFAIL)
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "command deferred: %s",
		    *output ? output : cmd);
	else
		outcome_set(o, OUTCOME_BOUNCE, "5.3.0", "command %s: %s %d%s%s",
		    cmd, WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    *output ? ": " : "", output);
}

void
local_deliver_mailbox(const struct config *conf, const char *user,
    const char *data, size_t len, struct outcome *o)
{
	const struct passwd *pw;
	const struct group *gr;
	char		 path[PATH_MAX];
	gid_t		 gid;

	if ((pw = getpwnam(user)) == NULL) {
		outcome_set(o, OUTCOME_BOUNCE, "5.1.1", "%s: user unknown",
		    user);
		return;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", conf->mail_spool_dir,
	    pw->pw_name) >= sizeof(path)) {
		outcome_set(o, OUTCOME_BOUNCE, "5.3.5", "mailbox path too long");
		return;
	}
	/* New mailboxes: the user's, group mail where there is one. */
	gid = (gr = getgrnam("mail")) != NULL ? gr->gr_gid : pw->pw_gid;
	(void)mbox_append(path, pw->pw_uid, gid, data, len, o);
}
