/*
 * mbox: the mailbox format and the locked, all-or-nothing append.  See
 * include/mbox.h for the format and the locks.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"
#include "mbox_open.h"
#include "outcome.h"
#include "util.h"

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

int
mbox_append_locked(const char *path, uid_t uid, gid_t gid, const char *data,
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
	return mbox_append_locked(path, uid, gid, data, len, 1, o);
}
