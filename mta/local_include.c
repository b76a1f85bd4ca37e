/*
 * :include: files for the local server: the trust rules and the
 * reading, as the .forward's user or as root (include/local_include.h).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local_include.h"
#include "log.h"
#include "privsep.h"
#include "util.h"

/* The child's first byte on the pipe: the verdict, then the text. */
#define V_OK		'O'
#define V_REFUSED	'R'
#define V_TEMP		'T'

enum include_verdict
include_judge(const struct stat *st, int from_forward, uid_t aliases_owner,
    const char **why)
{
	if (!S_ISREG(st->st_mode)) {
		*why = "not a regular file";
		return INCLUDE_TEMP;
	}
	if (st->st_size > LOCAL_INCLUDE_MAX) {
		*why = "larger than 1 MB";
		return INCLUDE_REFUSED;
	}
	/* Anyone who can write it can make its user run a command. */
	if (from_forward) {
		if (st->st_mode & S_IWOTH) {
			*why = "writable by others";
			return INCLUDE_REFUSED;
		}
		return INCLUDE_OK;
	}
	/* Read as root: only what the aliases file's owner could have
	 * written into the aliases file itself. */
	if (st->st_uid != 0 && st->st_uid != aliases_owner) {
		*why = "not owned by root or the aliases file's owner";
		return INCLUDE_REFUSED;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		*why = "group or world writable";
		return INCLUDE_REFUSED;
	}
	return INCLUDE_OK;
}

enum include_verdict
include_errno_verdict(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case EACCES:
	case EPERM:
	case ELOOP:		/* O_NOFOLLOW on a symlink (Linux) */
	case EMLINK:		/* O_NOFOLLOW on a symlink (FreeBSD) */
	case ENAMETOOLONG:
	case EFBIG:
		return INCLUDE_REFUSED;
	default:		/* EIO, EMFILE, ENFILE, ENOMEM, EINTR, ... */
		return INCLUDE_TEMP;
	}
}

/* Opens and judges; the fd is set only for INCLUDE_OK. */
static enum include_verdict
include_open(const char *path, const char *user, uid_t aliases_owner,
    int *fdp)
{
	enum include_verdict v;
	struct stat	 st;
	const char	*why;
	int		 fd;

	*fdp = -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		v = include_errno_verdict(errno);
		log_warn(":include: %s (as %s): %s", path, user ? user : "root",
		    v == INCLUDE_TEMP ? "deferred" : "refused");
		if (fd != -1)
			(void)close(fd);
		return v;
	}
	if ((v = include_judge(&st, user != NULL, aliases_owner, &why)) !=
	    INCLUDE_OK) {
		log_warnx(":include: %s (as %s): %s: %s", path,
		    user ? user : "root", v == INCLUDE_TEMP ? "deferred" :
		    "refused", why);
		(void)close(fd);
		return v;
	}
	*fdp = fd;
	return INCLUDE_OK;
}

/* Up to max bytes from fd into b; -1 with EFBIG past max. */
static int
read_bounded(int fd, size_t max, struct buf *b)
{
	char	 chunk[4096];
	ssize_t	 n;

	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : -1;
		if (b->len + (size_t)n > max) {
			errno = EFBIG;
			return -1;
		}
		buf_append(b, chunk, (size_t)n);
	}
}

static int
verdict_rc(enum include_verdict v)
{
	return v == INCLUDE_OK ? 0 : v == INCLUDE_REFUSED ? 1 : -1;
}

/* In this process, with its own rights. */
static int
read_here(const char *path, const char *user, uid_t aliases_owner,
    char **text)
{
	enum include_verdict v;
	struct buf	 b;
	int		 fd;

	if ((v = include_open(path, user, aliases_owner, &fd)) != INCLUDE_OK)
		return verdict_rc(v);
	buf_init(&b);
	if (read_bounded(fd, LOCAL_INCLUDE_MAX, &b) == -1) {
		v = include_errno_verdict(errno);
		log_warn(":include: %s: reading", path);
		(void)close(fd);
		buf_free(&b);
		return verdict_rc(v);
	}
	(void)close(fd);
	buf_append(&b, "", 1);
	*text = b.data;
	return 0;
}

/* The child: becomes pw, opens, sends the verdict and the text. */
_Noreturn static void
child_read(const struct passwd *pw, const char *path, int out)
{
	enum include_verdict v;
	char	 c, chunk[4096];
	ssize_t	 n;
	int	 fd;

	(void)signal(SIGPIPE, SIG_DFL);
	if (privsep_become(pw) == -1) {
		log_warnx(":include: %s: cannot become %s", path, pw->pw_name);
		c = V_TEMP;
		(void)write_all(out, &c, 1);
		_exit(1);
	}
	v = include_open(path, pw->pw_name, 0, &fd);
	c = v == INCLUDE_OK ? V_OK : v == INCLUDE_REFUSED ? V_REFUSED : V_TEMP;
	if (write_all(out, &c, 1) == -1 || v != INCLUDE_OK)
		_exit(0);
	/* The parent counts and stops at its bound; a read error here
	 * ends the text early, so say nothing more and let it see "T". */
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (write_all(out, chunk, (size_t)n) == -1)
			_exit(1);
	_exit(n == 0 ? 0 : 1);
}

/* A child as the .forward's user; the text through a pipe. */
static int
read_as_user(const char *path, const char *user, char **text)
{
	struct passwd	*pw;
	struct buf	 b;
	pid_t		 pid;
	int		 p[2], status, rc = -1, r;
	char		 c;

	if ((pw = getpwnam(user)) == NULL) {
		log_warnx(":include: %s: no user %s", path, user);
		return -1;
	}
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		log_warn(":include: %s: pipe/fork", path);
		return -1;
	}
	if (pid == 0) {
		(void)close(p[0]);
		child_read(pw, path, p[1]);
	}
	(void)close(p[1]);
	buf_init(&b);
	while ((r = (int)read(p[0], &c, 1)) == -1 && errno == EINTR)
		continue;
	if (r == 1 && c == V_OK) {
		if (read_bounded(p[0], LOCAL_INCLUDE_MAX, &b) == 0)
			rc = 0;
		else {
			rc = verdict_rc(include_errno_verdict(errno));
			log_warn(":include: %s (as %s): reading", path, user);
		}
	} else if (r == 1 && c == V_REFUSED)
		rc = 1;
	(void)close(p[0]);
	if (rc != 0)
		(void)kill(pid, SIGKILL);	/* past the bound: still writing */
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	/* A child that did not finish cleanly sent only part of it. */
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = -1;
	if (rc == 0) {
		buf_append(&b, "", 1);
		*text = b.data;
	} else
		buf_free(&b);
	return rc;
}

int
local_include_read(const char *path, const char *user,
    const char *aliases_path, char **text)
{
	struct stat	 st;
	uid_t		 owner = 0;

	/* Not root (sendmail -bv): this process's own rights apply. */
	if (user != NULL && geteuid() == 0)
		return read_as_user(path, user, text);
	if (user == NULL && aliases_path != NULL && *aliases_path != '\0' &&
	    stat(aliases_path, &st) == 0)
		owner = st.st_uid;
	return read_here(path, user, owner, text);
}
