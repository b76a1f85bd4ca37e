/*
 * Local delivery: the privileged local server and the worker's side of
 * it; mbox, file and pipe deliveries.  See include/local.h for the
 * privilege split and the locking.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "compat.h"
#include "config.h"
#include "hopcount.h"
#include "local.h"
#include "local_child.h"
#include "local_include.h"
#include "log.h"
#include "maildrop.h"
#include "mbox_open.h"
#include "outcome.h"
#include "privsep.h"
#include "queue.h"
#include "rcpt_local.h"
#include "util.h"

#define LOCAL_MAX_FORWARD	65536
#define LOCAL_REQ_MAX		2048	/* one request datagram */
#define LOCAL_IO_TIMEOUT	60000	/* ms, body transfer */
#define LOCAL_OUTPUT_MAX	400	/* bytes of a command's output kept */

static int	 local_fd = -1;	/* the workers' end of the server socket */

/* -- mbox format --------------------------------------------------- */

void
mbox_format(struct buf *b, const char *sender, long long t, const char *msg,
    size_t len)
{
	const char	*p = msg, *end = msg + len, *nl;
	time_t		 tt = (time_t)t;
	struct tm	 tm;
	char		 date[64];
	size_t		 ll;

	(void)gmtime_r(&tt, &tm);
	/* asctime layout, as mail.local writes it. */
	(void)strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(b, "From %s %s\n", *sender ? sender : "MAILER-DAEMON",
	    date);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		/* mboxo: a body line starting "From " would start a message. */
		if (ll >= 5 && memcmp(p, "From ", 5) == 0)
			buf_append(b, ">", 1);
		buf_append(b, p, ll);
		buf_append(b, "\n", 1);
		p = nl ? nl + 1 : end;
	}
	buf_append(b, "\n", 1);
}

/* -- locks and the append ------------------------------------------ */

/* USER.lock beside the mbox, made with O_EXCL; stale ones are broken. */
static int
dotlock_get(const char *lock, struct outcome *o)
{
	struct stat	 st;
	int		 fd, i;

	for (i = 0; i < LOCAL_LOCK_TRIES * 10; i++) {
		fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1) {
			(void)close(fd);
			return 0;
		}
		if (errno != EEXIST)
			break;
		if (lstat(lock, &st) == 0 &&
		    st.st_mtime + LOCAL_STALE_LOCK < time(NULL)) {
			log_warnx("removing stale lock %s", lock);
			(void)unlink(lock);
			continue;
		}
		(void)poll(NULL, 0, 100);
	}
	outcome_set(o, OUTCOME_DEFER, "4.2.0", "cannot lock %s: %s", lock,
	    errno == EEXIST ? "locked by another process" : strerror(errno));
	return -1;
}

/* fcntl, plus flock where it is a different lock (on the BSDs both
 * name the same one and taking it twice would wait on ourselves). */
static int
lock_fd(int fd, struct outcome *o, const char *path)
{
	struct flock	 fl;
	int		 i, done_fcntl = 0;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (i = 0; i < LOCAL_LOCK_TRIES * 10; i++) {
		if (!done_fcntl && fcntl(fd, F_SETLK, &fl) == 0)
			done_fcntl = 1;
#ifdef __linux__
		if (done_fcntl && flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
#else
		if (done_fcntl)
			return 0;
#endif
		(void)poll(NULL, 0, 100);
	}
	outcome_set(o, OUTCOME_DEFER, "4.2.0", "%s: mailbox busy", path);
	return -1;
}

static int
append_locked(const char *path, uid_t uid, gid_t gid, const char *data,
    size_t len, int dotlock, struct outcome *o)
{
	char	 lock[PATH_MAX];
	off_t	 off;
	int	 fd = -1, rc = -1, locked = 0;

	if (dotlock) {
		if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >=
		    sizeof(lock)) {
			outcome_set(o, OUTCOME_BOUNCE, "5.3.5", "path too long");
			return -1;
		}
		if (dotlock_get(lock, o) == -1)
			return -1;
		locked = 1;
	}
	if ((fd = mbox_open(path, uid, gid, o)) == -1 ||
	    lock_fd(fd, o, path) == -1)
		goto done;
	if ((off = lseek(fd, 0, SEEK_END)) == -1) {
		mbox_error(o, path, errno);
		goto done;
	}
	/* All or nothing: a short or failed write is cut off again. */
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		int e = errno;

		if (ftruncate(fd, off) == -1)
			log_warn("%s: truncating back to %lld", path,
			    (long long)off);
		mbox_error(o, path, e);
		goto done;
	}
	outcome_set(o, OUTCOME_SENT, "2.0.0", "delivered to %s", path);
	rc = 0;
done:
	if (fd != -1)
		(void)close(fd);	/* releases fcntl and flock locks */
	if (locked)
		(void)unlink(lock);
	return rc;
}

int
mbox_append(const char *path, uid_t uid, gid_t gid, const char *data,
    size_t len, struct outcome *o)
{
	return append_locked(path, uid, gid, data, len, 1, o);
}

/* -- the lookups, as the server does them -------------------------- */

static int
read_small(int fd, size_t max, char **text)
{
	struct buf	 b;
	char		 chunk[4096];
	ssize_t		 n;

	buf_init(&b);
	buf_append(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > max) {
			buf_free(&b);
			errno = EFBIG;
			return -1;
		}
		buf_append(&b, chunk, (size_t)n);
	}
	if (n == -1) {
		buf_free(&b);
		return -1;
	}
	*text = b.data;
	return 0;
}

static int
ops_lookup(void *arg, const char *name, char **rhs)
{
	const struct config *conf = arg;

	return aliases_db_lookup(conf->aliases, name, rhs);
}

/* Read as the .forward's user, or as root only when trusted
 * (local_include.h). */
static int
ops_include(void *arg, const char *path, const char *user, char **text)
{
	const struct config *conf = arg;

	return local_include_read(path, user, conf->aliases, text);
}

static int
ops_forward(void *arg, const char *user, char **text)
{
	struct passwd	*pw;
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 fd, r;

	(void)arg;
	if ((pw = getpwnam(user)) == NULL || pw->pw_dir == NULL ||
	    (size_t)snprintf(path, sizeof(path), "%s/.forward", pw->pw_dir) >=
	    sizeof(path))
		return 1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
		    1 : -1;
	/* Owned by the user (or root), writable by nobody else. */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != pw->pw_uid && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_warnx("%s: ignored: not a file of %s, or writable by "
		    "others", path, user);
		(void)close(fd);
		return 1;
	}
	r = read_small(fd, LOCAL_MAX_FORWARD, text);
	(void)close(fd);
	return r;
}

static int
ops_is_local(void *arg, const char *domain)
{
	const struct config *conf = arg;

	return strcasecmp(domain, conf->hostname) == 0 ||
	    strcasecmp(domain, "localhost") == 0 ||
	    strlist_contains_domain(&conf->local_domains, domain);
}

void
local_alias_ops(const struct config *conf, struct alias_ops *ops)
{
	ops->lookup = ops_lookup;
	ops->include = ops_include;
	ops->forward = conf->allow_forward ? ops_forward : NULL;
	ops->is_local = ops_is_local;
	ops->arg = (void *)(uintptr_t)conf;
}

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

/* The outcome travels from the child as "K status text". */
static void
outcome_read(int fd, struct outcome *o)
{
	char	 line[sizeof(o->text) + 32];
	ssize_t	 n;
	size_t	 got = 0;

	while (got < sizeof(line) - 1 &&
	    (n = read(fd, line + got, sizeof(line) - 1 - got)) > 0)
		got += (size_t)n;
	line[got] = '\0';
	if (got < 8 || strchr("SDB", line[0]) == NULL || line[1] != ' ') {
		outcome_set(o, OUTCOME_DEFER, "4.3.0",
		    "local delivery process failed");
		return;
	}
	line[strcspn(line, "\n")] = '\0';
	{
		char *sp = strchr(line + 2, ' ');

		if (sp == NULL) {
			outcome_set(o, OUTCOME_DEFER, "4.3.0",
			    "local delivery process failed");
			return;
		}
		*sp = '\0';
		outcome_set(o, line[0] == 'S' ? OUTCOME_SENT : line[0] == 'D' ?
		    OUTCOME_DEFER : OUTCOME_BOUNCE, line + 2, "%s", sp + 1);
	}
}

static void
outcome_write(int fd, const struct outcome *o)
{
	char	 line[sizeof(o->text) + 32];
	int	 n;

	n = snprintf(line, sizeof(line), "%c %s %s\n", o->kind == OUTCOME_SENT ?
	    'S' : o->kind == OUTCOME_BOUNCE ? 'B' : 'D', o->status, o->text);
	if (n > 0)
		(void)write_all(fd, line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1);
}

/* A file named in aliases or .forward, appended to as its user. */
static void
deliver_file(const struct config *conf, const char *path, const char *user,
    const char *data, size_t len, struct outcome *o)
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
			(void)append_locked(path, pw->pw_uid, pw->pw_gid, data,
			    len, 0, &r);
		outcome_write(p[1], &r);
		_exit(0);
	}
	(void)close(p[1]);
	outcome_read(p[0], o);
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

static void
deliver_pipe(const struct config *conf, const char *cmd, const char *user,
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

static void
deliver_mailbox(const struct config *conf, const char *user,
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

/* -- one request, in the server's child --------------------------- */

struct request {
	char		 sender[MAILDROP_MAX_ADDR + 1];
	char		 rcpt[MAILDROP_MAX_ADDR + 1];
	char		 qid[QID_LEN + 1];
};

static void
merge(struct outcome *all, const struct outcome *one, int *nsent)
{
	if (one->kind == OUTCOME_SENT) {
		(*nsent)++;
		if (all->kind == OUTCOME_NONE)
			*all = *one;
		return;
	}
	/* Any deferral defers the recipient; else the first failure. */
	if (one->kind == OUTCOME_DEFER || all->kind == OUTCOME_NONE ||
	    all->kind == OUTCOME_SENT)
		if (all->kind != OUTCOME_DEFER)
			*all = *one;
}

static void
forward_remote(const struct config *conf, const struct alias_list *l,
    const struct request *rq, const char *msg, size_t len, struct outcome *o)
{
	char		**rcpts = NULL, qid[QID_LEN + 1], err[256];
	const char	*sender = rq->sender;
	char		 owner[MAILDROP_MAX_ADDR + 1];
	size_t		 i, n = 0;

	for (i = 0; i < l->n; i++)
		if (l->v[i].kind == ALIAS_REMOTE) {
			rcpts = xreallocarray(rcpts, n + 1, sizeof(*rcpts));
			rcpts[n++] = l->v[i].value;
		}
	if (n == 0)
		return;
	/* RFC 5321 §6.3: the copy would go out with these hops. */
	if (hop_limit_exceeded(hop_count(msg, len), conf->max_hop_count)) {
		outcome_set(o, OUTCOME_BOUNCE, "5.4.6", "forwarding: too many "
		    "hops: more than %lld Received fields, mail loop",
		    conf->max_hop_count);
		free(rcpts);
		return;
	}
	if (l->owner != NULL && (size_t)snprintf(owner, sizeof(owner), "%s@%s",
	    l->owner, conf->hostname) < sizeof(owner))
		sender = owner;
	/* Through the maildrop: the pickup queues it as the daemon. */
	if (maildrop_write(conf, sender, rcpts, n, msg, len, qid, err,
	    sizeof(err)) == -1)
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "forwarding: %s", err);
	else {
		log_info("%s: to=<%s> forwarded to %zu remote address%s as %s",
		    rq->qid, rq->rcpt, n, n == 1 ? "" : "es", qid);
		outcome_set(o, OUTCOME_SENT, "2.0.0", "forwarded as %s", qid);
	}
	free(rcpts);
}

/* The text names the target (a user, a path, a command and its
 * output): from an :include: file that would quote the file in a DSN
 * to the sender.  The log line above keeps the details. */
static void
outcome_unquote(struct outcome *o)
{
	char	 status[sizeof(o->status)];

	(void)strlcpy(status, o->status, sizeof(status));
	outcome_set(o, o->kind, status, "%s of a recipient from an "
	    ":include: file", o->kind == OUTCOME_SENT ? "delivery" :
	    o->kind == OUTCOME_DEFER ? "deferred delivery" : "failed delivery");
}

static void
deliver_targets(const struct config *conf, const struct alias_list *l,
    const struct request *rq, const char *msg, size_t len, struct outcome *all)
{
	struct outcome	 one;
	struct buf	 mbox;
	size_t		 i;
	int		 nsent = 0;

	buf_init(&mbox);
	mbox_format(&mbox, rq->sender, (long long)time(NULL), msg, len);
	for (i = 0; i < l->n; i++) {
		const struct alias_target *t = &l->v[i];

		memset(&one, 0, sizeof(one));
		switch (t->kind) {
		case ALIAS_LOCAL:
			/* An append is finished, not cut, by a stop. */
			local_child_hold();
			deliver_mailbox(conf, t->value, mbox.data, mbox.len,
			    &one);
			local_child_release();
			break;
		case ALIAS_FILE:
			local_child_hold();
			deliver_file(conf, t->value, t->user, mbox.data,
			    mbox.len, &one);
			local_child_release();
			break;
		case ALIAS_PIPE:
			deliver_pipe(conf, t->value, t->user, rq->sender,
			    rq->rcpt, mbox.data + strcspn(mbox.data, "\n") + 1,
			    mbox.len - strcspn(mbox.data, "\n") - 1, &one);
			break;
		default:
			continue;
		}
		log_info("%s: to=<%s> local=%s%s status=%s (%s %s)", rq->qid,
		    rq->rcpt, t->kind == ALIAS_LOCAL ? "mailbox:" :
		    t->kind == ALIAS_FILE ? "file:" : "pipe:", t->value,
		    outcome_kind_name(one.kind), one.status, one.text);
		if (t->included)
			outcome_unquote(&one);
		merge(all, &one, &nsent);
	}
	memset(&one, 0, sizeof(one));
	local_child_hold();
	forward_remote(conf, l, rq, msg, len, &one);
	local_child_release();
	if (one.kind != OUTCOME_NONE)
		merge(all, &one, &nsent);
	buf_free(&mbox);
}

/*
 * local_catchall: a name neither the aliases nor the password database
 * know goes to the catch-all instead of bouncing, the same lookups that
 * accepted it at RCPT time (rcpt_local.h).  0 with name possibly
 * replaced, or -1 with o set when a lookup failed.
 */
static int
catchall(const struct config *conf, const struct request *rq, char *name,
    struct outcome *o)
{
	struct rcpt_facts f;
	char		  why[256];

	if (conf->local_catchall[0] == '\0')
		return 0;
	rcpt_local_lookup(conf, name, &f, why, sizeof(why));
	f.check = 1;
	f.catchall = 0;		/* is the name itself known? */
	switch (rcpt_local_decide(&f)) {
	case RCPT_ACCEPT:
		return 0;
	case RCPT_TEMPFAIL:
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "%s: %s", name, why);
		return -1;
	case RCPT_REJECT:
		break;
	}
	log_info("%s: to=<%s> unknown local name, to the catch-all %s",
	    rq->qid, rq->rcpt, conf->local_catchall);
	(void)strlcpy(name, conf->local_catchall, ALIAS_MAX_NAME + 1);
	str_lower(name);
	return 0;
}

/* In the delivery child: the message from fd, the outcome to out. */
static void
serve_one(const struct config *conf, const struct request *rq, int fd,
    int out)
{
	struct alias_ops ops;
	struct alias_list l;
	struct outcome	 o;
	struct buf	 msg;
	const char	*why, *at;
	char		 name[ALIAS_MAX_NAME + 1], *body = NULL;
	size_t		 n;
	int		 temp;

	memset(&o, 0, sizeof(o));
	buf_init(&msg);
	if (read_small(fd, (size_t)conf->max_message_size + 65536, &body) ==
	    -1) {
		outcome_set(&o, OUTCOME_DEFER, "4.3.0", "reading message: %s",
		    strerror(errno));
		goto done;
	}
	/* A message back here for the same recipient is in a loop (RFC
	 * 5321 §6.3); Delivered-To marks each local delivery. */
	if (hop_delivered_to(body, strlen(body), rq->rcpt)) {
		outcome_set(&o, OUTCOME_BOUNCE, "5.4.6", "mail loop: already "
		    "delivered to %s", rq->rcpt);
		goto done;
	}
	/* The Return-Path of RFC 5321 §4.4, added at final delivery. */
	buf_printf(&msg, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
	    rq->sender, rq->rcpt);
	buf_appendstr(&msg, body);
	at = strrchr(rq->rcpt, '@');
	n = at ? (size_t)(at - rq->rcpt) : strlen(rq->rcpt);
	if (n == 0 || n > ALIAS_MAX_NAME) {
		outcome_set(&o, OUTCOME_BOUNCE, "5.1.3", "bad local address");
		goto done;
	}
	memcpy(name, rq->rcpt, n);
	name[n] = '\0';
	str_lower(name);
	if (catchall(conf, rq, name, &o) == -1)
		goto done;
	local_alias_ops(conf, &ops);
	if ((why = aliases_expand(&ops, name, &l, &temp)) != NULL) {
		/* RFC 3463: 5.4.6 routing loop; 4.3.0 lookups that failed. */
		outcome_set(&o, temp ? OUTCOME_DEFER : OUTCOME_BOUNCE,
		    temp ? "4.3.0" : strstr(why, "loop") ? "5.4.6" : "5.3.0",
		    "%s: %s", name, why);
		goto done;
	}
	deliver_targets(conf, &l, rq, msg.data, msg.len, &o);
	alias_list_free(&l);
	if (o.kind == OUTCOME_NONE)
		outcome_set(&o, OUTCOME_SENT, "2.0.0", "no deliveries left "
		    "after alias expansion");
done:
	outcome_write(out, &o);
	free(body);
	buf_free(&msg);
}

struct serve_arg {
	const struct config	*conf;
	const struct request	*rq;
	int			 fd;
};

static void
serve_child(void *arg, int out)
{
	const struct serve_arg *a = arg;

	serve_one(a->conf, a->rq, a->fd, out);
}

/* The root child of one request: the delivery, under its deadline and
 * watched for the worker going away (local_child.h). */
static void
serve_request(const struct config *conf, const struct request *rq, int fd)
{
	struct serve_arg a = { conf, rq, fd };
	struct outcome	 o;
	char		 line[sizeof(o.text) + 32];

	switch (local_child_run(serve_child, &a, fd,
	    conf->local_delivery_timeout, line, sizeof(line))) {
	case LOCAL_CHILD_DONE:
		if (line[0] != '\0') {
			(void)write_all(fd, line, strlen(line));
			return;
		}
		outcome_set(&o, OUTCOME_DEFER, "4.3.0",
		    "local delivery process failed");
		break;
	case LOCAL_CHILD_TIMEOUT:
		log_warnx("%s: to=<%s> local delivery stopped after %llds "
		    "(local_delivery_timeout)", rq->qid, rq->rcpt,
		    conf->local_delivery_timeout);
		outcome_set(&o, OUTCOME_DEFER, "4.3.0", "local delivery did "
		    "not finish within %llds", conf->local_delivery_timeout);
		break;
	case LOCAL_CHILD_GONE:
		log_warnx("%s: to=<%s> delivery worker gone, local delivery "
		    "stopped", rq->qid, rq->rcpt);
		return;
	default:
		outcome_set(&o, OUTCOME_DEFER, "4.3.0", "pipe/fork: %s",
		    strerror(errno));
	}
	outcome_write(fd, &o);
}

/* -- the server ---------------------------------------------------- */

/* "sender\0rcpt\0qid\0" with the reply socket as SCM_RIGHTS. */
static int
recv_request(int sock, struct request *rq, int *fd)
{
	char		 data[LOCAL_REQ_MAX];
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	const char	*p, *end;
	ssize_t		 n;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = data;
	iov.iov_len = sizeof(data);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	if ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) <= 0)
		return n == 0 ? 0 : (errno == EINTR ? 1 : -1);
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (*fd == -1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		goto bad;
	p = data;
	end = data + n;
	/* Three NUL-terminated strings, each within its bound. */
	if ((n = (ssize_t)strnlen(p, (size_t)(end - p))) == end - p ||
	    strlcpy(rq->sender, p, sizeof(rq->sender)) >= sizeof(rq->sender))
		goto bad;
	p += n + 1;
	if ((n = (ssize_t)strnlen(p, (size_t)(end - p))) == end - p ||
	    strlcpy(rq->rcpt, p, sizeof(rq->rcpt)) >= sizeof(rq->rcpt))
		goto bad;
	p += n + 1;
	if ((n = (ssize_t)strnlen(p, (size_t)(end - p))) == end - p ||
	    !qid_valid(p))
		goto bad;
	(void)strlcpy(rq->qid, p, sizeof(rq->qid));
	return 2;
bad:
	log_warnx("local: malformed request dropped");
	if (*fd != -1)
		(void)close(*fd);
	*fd = -1;
	return 1;
}

_Noreturn static void
server_loop(const struct config *conf, int sock)
{
	struct request	 rq;
	struct outcome	 o;
	long long	 running = 0;
	pid_t		 pid;
	int		 fd, r;

	log_setident("postern/local");
	/* Each request is one child, reaped here to count them. */
	(void)signal(SIGCHLD, SIG_DFL);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGUSR1, SIG_IGN);
	for (;;) {
		if ((r = recv_request(sock, &rq, &fd)) <= 0) {
			/* Every daemon process is gone. */
			privsep_pidfile_clear(conf->pidfile);
			_exit(0);
		}
		if (r == 1)
			continue;
		while (running > 0 && waitpid(-1, NULL, WNOHANG) > 0)
			running--;
		if (!local_child_admit(running, conf->max_deliveries)) {
			log_warnx("%s: to=<%s> deferred: %lld local deliveries "
			    "in progress", rq.qid, rq.rcpt, running);
			outcome_set(&o, OUTCOME_DEFER, "4.3.2", "too many local "
			    "deliveries in progress");
			outcome_write(fd, &o);
		} else if ((pid = fork()) == -1) {
			outcome_set(&o, OUTCOME_DEFER, "4.3.0", "fork: %s",
			    strerror(errno));
			outcome_write(fd, &o);
		} else if (pid == 0) {
			(void)close(sock);
			serve_request(conf, &rq, fd);
			_exit(0);
		} else
			running++;
		(void)close(fd);
	}
}

int
local_server_start(const struct config *conf, int foreground, char *err,
    size_t errlen)
{
	int	 sv[2], nul;
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1) {
		(void)snprintf(err, errlen, "local: socketpair: %s",
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		(void)snprintf(err, errlen, "local: fork: %s", strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(sv[0]);
		(void)setsid();	/* no signals from the terminal */
		if (!foreground && (nul = open("/dev/null", O_RDWR)) != -1) {
			(void)dup2(nul, 0);
			(void)dup2(nul, 1);
			(void)dup2(nul, 2);
			if (nul > 2)
				(void)close(nul);
		}
		server_loop(conf, sv[1]);
	}
	(void)close(sv[1]);
	local_fd = sv[0];
	return 0;
}

/* -- the worker's side -------------------------------------------- */

static int
send_request(const struct qmsg *m, const char *rcpt, int fd)
{
	char		 data[LOCAL_REQ_MAX];
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	int		 n;

	n = snprintf(data, sizeof(data), "%s%c%s%c%s", m->sender, 0, rcpt, 0,
	    m->qid);
	if (n < 0 || (size_t)n + 1 > sizeof(data))
		return -1;
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = data;
	iov.iov_len = (size_t)n + 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(local_fd, &mh, MSG_NOSIGNAL) == -1 ? -1 : 0;
}

static int
wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd	 pfd = { fd, ev, 0 };
	int64_t		 left = deadline - mono_msec();

	if (left <= 0)
		return -1;
	return poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) == -1 &&
	    errno != EINTR ? -1 : 0;
}

void
local_deliver(const struct config *conf, const struct qmsg *m,
    const char *rcpt, const char *body, size_t len, struct outcome *o)
{
	int64_t	 deadline;
	size_t	 off = 0;
	ssize_t	 n;
	int	 sv[2];

	if (local_fd == -1) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "no local delivery "
		    "server (postern was not started as root)");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "socketpair: %s",
		    strerror(errno));
		return;
	}
	if (send_request(m, rcpt, sv[1]) == -1) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "local server: %s",
		    strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return;
	}
	(void)close(sv[1]);
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	deadline = mono_msec() + LOCAL_IO_TIMEOUT;
	while (off < len) {
		if ((n = send(sv[0], body + off, len - off, MSG_NOSIGNAL)) > 0)
			off += (size_t)n;
		else if ((n == -1 && errno != EAGAIN && errno != EINTR) ||
		    wait_fd(sv[0], POLLOUT, deadline) == -1)
			break;
	}
	(void)shutdown(sv[0], SHUT_WR);
	if (off < len) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "local server: "
		    "message not sent");
		(void)close(sv[0]);
		return;
	}
	/* Longer than the server may take: it answers, or has stopped
	 * the delivery, before this worker gives up (local_child.h). */
	deadline = mono_msec() + local_reply_wait(conf->local_delivery_timeout) *
	    1000;
	while (wait_fd(sv[0], POLLIN, deadline) == 0) {
		char c;

		if (recv(sv[0], &c, 1, MSG_PEEK) >= 0 || errno != EAGAIN)
			break;
	}
	(void)fcntl(sv[0], F_SETFL, 0);
	outcome_read(sv[0], o);
	(void)close(sv[0]);
}
