/* Dropping privileges once and for all, and verifying that it worked. */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "privsep.h"
#include "qfail.h"

static int
mkdir_p(const char *dir, char *err, size_t errlen)
{
	char	 path[PATH_MAX], *p;

	if (strlcpy(path, dir, sizeof(path)) >= sizeof(path)) {
		(void)snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			(void)snprintf(err, errlen, "mkdir %s: %s", path,
			    strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

enum spool_verdict
privsep_spool_decide(int exists, const struct stat *st, uid_t owner,
    size_t nentries)
{
	if (!exists)
		return SPOOL_CREATE;
	if (!S_ISDIR(st->st_mode))
		return SPOOL_NOTDIR;
	if (st->st_uid == owner)
		return SPOOL_OURS;
	/* Only what root made for postern alone: an empty directory that
	 * nobody else may enter (install -d -m 0700).  An empty shared one
	 * (/var/mail, a mount point) is not postern's to take. */
	if (nentries == 0 && st->st_uid == 0 && (st->st_mode & 077) == 0)
		return SPOOL_ADOPT;
	return SPOOL_FOREIGN;
}

/* Entries besides . and .., counted up to 1: only "empty or not"
 * matters. */
static int
spool_entries(const char *dir, size_t *n)
{
	DIR		*d;
	struct dirent	*e;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return -1;
	while (*n == 0 && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			(*n)++;
	(void)closedir(d);
	return 0;
}

static int
spool_verdict_of(const char *dir, const struct passwd *pw,
    enum spool_verdict *v, char *err, size_t errlen)
{
	struct stat	 st;
	size_t		 n = 0;
	int		 exists;

	exists = stat(dir, &st) == 0;
	if (!exists && errno != ENOENT) {
		(void)snprintf(err, errlen, "spool_dir %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (exists && S_ISDIR(st.st_mode) && st.st_uid != pw->pw_uid &&
	    spool_entries(dir, &n) == -1) {
		(void)snprintf(err, errlen, "spool_dir %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	*v = privsep_spool_decide(exists, &st, pw->pw_uid, n);
	if (*v == SPOOL_NOTDIR)
		(void)snprintf(err, errlen, "spool_dir %s: not a directory",
		    dir);
	else if (*v == SPOOL_FOREIGN)
		(void)snprintf(err, errlen, "spool_dir %s: an existing "
		    "directory that is not %s's (not empty, or open to "
		    "others); postern would take it over (owner, mode 0700): "
		    "give postern a directory of its own, such as %s/postern, "
		    "or chown %s it", dir, pw->pw_name, dir, pw->pw_name);
	else
		return 0;
	return -1;
}

int
privsep_maildrop_check(const char *dir, const char *user, char *err,
    size_t errlen)
{
	struct passwd	*pw;
	struct stat	 st;
	size_t		 n = 0;

	if (user == NULL || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		(void)snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	/* Made group-writable below: never through a symlink. */
	if (lstat(dir, &st) == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen,
		    "maildrop_dir %s: %s", dir, strerror(errno)), -1);
	if (S_ISDIR(st.st_mode) && st.st_uid != pw->pw_uid &&
	    spool_entries(dir, &n) == -1) {
		(void)snprintf(err, errlen, "maildrop_dir %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	switch (privsep_spool_decide(1, &st, pw->pw_uid, n)) {
	case SPOOL_OURS:
	case SPOOL_ADOPT:
		return 0;
	default:
		(void)snprintf(err, errlen, "maildrop_dir %s: %s that is not "
		    "%s's; postern would make it group-writable: give it a "
		    "directory of its own", dir, S_ISDIR(st.st_mode) ?
		    "an existing directory" : "not a directory",
		    pw->pw_name);
		return -1;
	}
}

int
privsep_spool_check(const char *dir, const char *user, char *err,
    size_t errlen)
{
	struct passwd		*pw;
	enum spool_verdict	 v;

	if (user == NULL || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		(void)snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	return spool_verdict_of(dir, pw, &v, err, errlen);
}

int
privsep_spool(const char *dir, const char *user, char *err, size_t errlen)
{
	struct passwd		*pw;
	enum spool_verdict	 v;

	if (user == NULL || *user == '\0')
		return mkdir_p(dir, err, errlen);
	if ((pw = getpwnam(user)) == NULL) {
		(void)snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	if (spool_verdict_of(dir, pw, &v, err, errlen) == -1)
		return -1;
	if (v == SPOOL_CREATE && mkdir_p(dir, err, errlen) == -1)
		return -1;
	if (chown(dir, pw->pw_uid, pw->pw_gid) == -1 || chmod(dir, 0700) == -1) {
		(void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

void
privsep_pidfile_clear(const char *path)
{
	char	 buf[32];
	ssize_t	 n;
	long	 pid;
	int	 fd, tries;

	if (path == NULL || *path == '\0' ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	if (pid <= 1)
		return;
	/* Only a pidfile whose daemon is gone (a zombie is: its parent may
	 * not have reaped it yet), never a newer one's.  The master's files
	 * close while it is still exiting: give it two seconds. */
	for (tries = 0; tries < 20 && qfail_pid_alive((pid_t)pid); tries++)
		(void)poll(NULL, 0, 100);
	if (!qfail_pid_alive((pid_t)pid))
		(void)unlink(path);
}

int
privsep_drop(const char *user, char *err, size_t errlen)
{
	struct passwd	*pw;
	uid_t		 ruid, euid, suid;
	gid_t		 rgid, egid, sgid;

	if (user == NULL || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		(void)snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		(void)snprintf(err, errlen, "dropping to %s: %s", user,
		    strerror(errno));
		return -1;
	}
	/* Verify: a partial drop must never go unnoticed. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 ||
	    ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid ||
	    rgid != pw->pw_gid || egid != pw->pw_gid || sgid != pw->pw_gid ||
	    (pw->pw_uid != 0 && setuid(0) != -1)) {
		(void)snprintf(err, errlen, "privileges of %s not dropped", user);
		return -1;
	}
	return 0;
}

int
privsep_become(const struct passwd *pw)
{
	uid_t	 ruid, euid, suid;

	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		return -1;
	/* Verify: a partial change must never go unnoticed. */
	if (getresuid(&ruid, &euid, &suid) == -1 || ruid != pw->pw_uid ||
	    euid != pw->pw_uid || suid != pw->pw_uid ||
	    (pw->pw_uid != 0 && setuid(0) != -1))
		return -1;
	return 0;
}
