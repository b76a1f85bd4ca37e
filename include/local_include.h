/*
 * local_include: reading an :include: file for the local server.  One
 * named in a user's .forward is opened by a child that has become that
 * user (initgroups, setresgid, setresuid), so it is read with the
 * user's rights and no more; its text comes back through a pipe, at
 * most LOCAL_INCLUDE_MAX bytes.  One named in the aliases file is read
 * as root only when root or the aliases file's owner owns it and
 * nobody else may write it (sendmail's rule for files it trusts).
 * Either way the file is opened with O_NOFOLLOW and O_NONBLOCK (a
 * symlink is refused, a FIFO or device never blocks the open) and must
 * be a regular file.  Reasons go to the log, never into a DSN.
 */
#ifndef POSTERN_LOCAL_INCLUDE_H
#define POSTERN_LOCAL_INCLUDE_H

#include <sys/stat.h>
#include <sys/types.h>

#define LOCAL_INCLUDE_MAX	(1024 * 1024)	/* bytes of one file */

enum include_verdict {
	INCLUDE_OK,
	INCLUDE_REFUSED,	/* permanent: the expansion fails */
	INCLUDE_TEMP		/* temporary: the recipient is deferred */
};

/*
 * Pure: may the opened file st be read?  from_forward: named in a
 * .forward (read as its user: only a file others may write is
 * refused); else named in the aliases file and read as root: owned by
 * root or aliases_owner, not group- or world-writable.  A FIFO, device
 * or directory is never read; that is temporary, as when sendmail's
 * open of such a file times out, so that its owner can fix it.
 * *why: the reason when not INCLUDE_OK.
 */
enum include_verdict include_judge(const struct stat *st, int from_forward,
	    uid_t aliases_owner, const char **why);

/* Pure: what an errno from open(2) or read(2) of an include means. */
enum include_verdict include_errno_verdict(int err);

/*
 * The server's alias_ops.include: user is the .forward's owner or NULL
 * (the aliases file, aliases_path).  0 with *text malloc'd and NUL
 * terminated, 1 refused, -1 temporary; the reason is logged with path.
 */
int	local_include_read(const char *path, const char *user,
	    const char *aliases_path, char **text);

#endif
