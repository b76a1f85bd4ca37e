/*
 * The maildrop directory and sendmail's writer (an untrusted user).  The
 * file format is parsed in maildrop_parse.c, the daemon's side is
 * maildrop_pickup.c.  See include/maildrop.h for the permissions and
 * the commit point.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "maildrop.h"
#include "privsep.h"
#include "queue.h"
#include "util.h"

int
maildrop_path(const struct config *conf, char *buf, size_t len)
{
	int	 n;

	if (conf->maildrop_dir != NULL && *conf->maildrop_dir != '\0')
		n = snprintf(buf, len, "%s", conf->maildrop_dir);
	else
		n = snprintf(buf, len, "%s-maildrop", conf->spool_dir);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
maildrop_setup(const struct config *conf, char *err, size_t errlen)
{
	struct passwd	*pw;
	struct group	*gr;
	char		 dir[PATH_MAX];
	uid_t		 uid = geteuid();
	gid_t		 gid = getegid();

	if (maildrop_path(conf, dir, sizeof(dir)) == -1) {
		(void)snprintf(err, errlen, "maildrop: path too long");
		return -1;
	}
	if (privsep_maildrop_check(dir, conf->user, err, errlen) == -1)
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (*conf->user != '\0') {
		if ((pw = getpwnam(conf->user)) == NULL) {
			(void)snprintf(err, errlen, "unknown user %s", conf->user);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	/* Without the group only the daemon's user (and root) submit. */
	if ((gr = getgrnam(conf->maildrop_group)) != NULL)
		gid = gr->gr_gid;
	else
		log_warnx("maildrop: no group %s: only root can submit with "
		    "sendmail", conf->maildrop_group);
	if ((geteuid() == 0 && chown(dir, uid, gid) == -1) ||
	    chmod(dir, 01730) == -1) {
		(void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* -- writer (sendmail, an untrusted user) -------------------------- */

static int
addr_clean(const char *a)
{
	size_t	 i;

	for (i = 0; a[i]; i++)
		if ((unsigned char)a[i] < ' ' || a[i] == 0x7f)
			return 0;
	return i <= MAILDROP_MAX_ADDR;
}

static void
envelope(struct buf *b, const char *sender, char *const *rcpts, size_t n)
{
	size_t	 i;

	buf_appendstr(b, MAILDROP_MAGIC);
	buf_printf(b, "S %s\n", sender);
	for (i = 0; i < n; i++)
		buf_printf(b, "R %s\n", rcpts[i]);
	buf_appendstr(b, "\n");
}

/* The directory's own fsync needs read access to it; a group member
 * has none (mode 1730), and then the file's fsync after the rename is
 * what orders the entry (FFS soft updates, ext4's journal). */
static int
sync_entry(const char *dir, int fd)
{
	int	 dfd, r;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return fsync(fd);
	r = fsync(dfd);
	(void)close(dfd);
	return r;
}

int
maildrop_write(const struct config *conf, const char *sender,
    char *const *rcpts, size_t nrcpts, const char *msg, size_t len,
    char qid[QID_LEN + 1], char *err, size_t errlen)
{
	char		 dir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX];
	struct buf	 env;
	size_t		 i;
	int		 fd = -1, rc = -1, saved;

	buf_init(&env);
	for (i = 0; i < nrcpts; i++)
		if (!addr_clean(rcpts[i])) {
			(void)snprintf(err, errlen, "bad recipient address");
			errno = EINVAL;
			return -1;
		}
	if (!addr_clean(sender)) {
		(void)snprintf(err, errlen, "bad sender address");
		errno = EINVAL;
		return -1;
	}
	qid_make(qid);
	if (maildrop_path(conf, dir, sizeof(dir)) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, qid) >=
	    sizeof(tmp) || (size_t)snprintf(final, sizeof(final), "%s/%s",
	    dir, qid) >= sizeof(final)) {
		(void)snprintf(err, errlen, "maildrop path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	envelope(&env, sender, rcpts, nrcpts);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	/* Readable by the daemon's user only through the directory, which
	 * nobody else may search. */
	if (write_all(fd, env.data, env.len) == -1 ||
	    write_all(fd, msg, len) == -1 || fsync(fd) == -1 ||
	    fchmod(fd, 0644) == -1) {
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	/* Commit point: before the rename nothing exists for the pickup,
	 * after it the whole synced file does. */
	if (rename(tmp, final) == -1 || sync_entry(dir, fd) == -1) {
		(void)snprintf(err, errlen, "%s: %s", final, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	if (rc == -1)
		(void)unlink(tmp);
	buf_free(&env);
	errno = saved;
	return rc;
}
