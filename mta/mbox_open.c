/*
 * Opening a mailbox for append without trusting its directory.  See
 * include/mbox_open.h for the rules and the races they close.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "mbox_open.h"
#include "outcome.h"

/* A box removed between our two opens is created again, a few times. */
#define MBOX_OPEN_TRIES	3

const char *
mbox_open_refusal(const struct stat *fst, const struct stat *lst, uid_t uid,
    int created)
{
	if (!S_ISREG(fst->st_mode))
		return "not a regular file";
	/* A second name: a hard link to a file the user could not write. */
	if (fst->st_nlink != 1)
		return "more than one link";
	if (!S_ISREG(lst->st_mode) || fst->st_dev != lst->st_dev ||
	    fst->st_ino != lst->st_ino)
		return "the name was changed while it was opened";
	if (uid == MBOX_ANY_OWNER)
		return NULL;
	/* Made by us with O_EXCL: still root's until the fchown. */
	if (created && fst->st_uid == 0)
		return NULL;
	if (fst->st_uid != uid)
		return "not owned by the recipient";
	return NULL;
}

void
mbox_error(struct outcome *o, const char *path, int e)
{
	if (e == EDQUOT)	/* RFC 3463 §3.3: mailbox full */
		outcome_set(o, OUTCOME_DEFER, "4.2.2", "%s: %s", path,
		    strerror(e));
	else if (e == ENOSPC)
		outcome_set(o, OUTCOME_DEFER, "4.3.1", "%s: %s", path,
		    strerror(e));
	else
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "%s: %s", path,
		    strerror(e));
}

static void
refuse(struct outcome *o, const char *path, const char *why)
{
	outcome_set(o, OUTCOME_DEFER, "4.2.0", "%s: mailbox refused: %s", path,
	    why);
}

/* The errors of an open that say what the name really is. */
static void
open_failed(struct outcome *o, const char *path, int e)
{
	if (e == ELOOP || e == EMLINK)	/* O_NOFOLLOW: EMLINK on FreeBSD */
		refuse(o, path, "a symbolic link");
	else if (e == ENXIO)	/* O_NONBLOCK: a FIFO nobody reads */
		refuse(o, path, "not a regular file");
	else if (e == EISDIR)
		refuse(o, path, "a directory");
	else
		mbox_error(o, path, e);
}

/* Creates path, or opens the existing one without blocking; the
 * descriptor, with *created saying which. */
static int
open_path(const char *path, int *created)
{
	int	 fd = -1, i;

	*created = 0;
	for (i = 0; i < MBOX_OPEN_TRIES; i++) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
		if (fd != -1) {
			*created = 1;
			return fd;
		}
		if (errno != EEXIST)
			return -1;
		fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
		if (fd != -1 || errno != ENOENT)
			return fd;
	}
	return fd;
}

int
mbox_open(const char *path, uid_t uid, gid_t gid, struct outcome *o)
{
	struct stat	 fst, lst;
	const char	*why;
	int		 fd, fl, created, root = geteuid() == 0;

	if ((fd = open_path(path, &created)) == -1) {
		open_failed(o, path, errno);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		mbox_error(o, path, errno);
		goto fail;
	}
	if (fstat(fd, &fst) == -1 || lstat(path, &lst) == -1) {
		refuse(o, path, "the name was removed while it was opened");
		goto fail;
	}
	if ((why = mbox_open_refusal(&fst, &lst, root ? uid : MBOX_ANY_OWNER,
	    created)) != NULL) {
		refuse(o, path, why);
		goto fail;
	}
	if (created && root && fchown(fd, uid, gid) == -1) {
		mbox_error(o, path, errno);
		/* Else a root-owned empty box would refuse every delivery. */
		(void)unlink(path);
		goto fail;
	}
	return fd;
fail:
	(void)close(fd);
	return -1;
}
