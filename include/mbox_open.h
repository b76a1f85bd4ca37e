/*
 * mbox_open: opening a mailbox (or an aliases file target) for append
 * in a directory that the recipient, or any user, can write.  Local
 * delivery runs as root, so the path is hostile: between any check and
 * the open a user can plant a symlink, a hard link to a file of
 * root's, a FIFO or a device.  Hence: a new box is created with
 * O_CREAT|O_EXCL|O_NOFOLLOW (never an existing file), an existing one
 * is opened with O_NOFOLLOW|O_NONBLOCK|O_NOCTTY (a FIFO without a reader
 * fails, one with a reader is refused, nothing blocks), and only the
 * open descriptor is judged, by fstat against an lstat of the path
 * taken after the open: a regular file with one link, the same device
 * and inode as the name, owned by the recipient (or by root when we
 * just created it; then it is chowned).  All before one byte is
 * written; a refusal is a temporary failure, 4.2.0 (RFC 3463 §3.3).
 */
#ifndef POSTERN_MBOX_OPEN_H
#define POSTERN_MBOX_OPEN_H

#include <sys/stat.h>
#include <sys/types.h>

struct outcome;

/* uid for files appended to as their own user: the kernel has already
 * checked the permission and any owner is fine. */
#define MBOX_ANY_OWNER	((uid_t)-1)

/* Pure: why the open file fst may not be appended to, lst being the
 * lstat of its path after the open; created: we made it with O_EXCL.
 * NULL when it may. */
const char *mbox_open_refusal(const struct stat *fst, const struct stat *lst,
	    uid_t uid, int created);

/* Opens path for append under the rules above; creates it for uid/gid
 * (as root) when missing.  The descriptor, or -1 with o filled. */
int	mbox_open(const char *path, uid_t uid, gid_t gid, struct outcome *o);

/* o for a failed open, write or sync of path (errno e): 4.2.2 quota,
 * 4.3.1 disk full, else 4.3.0. */
void	mbox_error(struct outcome *o, const char *path, int e);

#endif
