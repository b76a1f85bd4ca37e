/*
 * privsep: the master binds listeners as root, then drops to the
 * unprivileged user for good (setgroups, setresgid, setresuid, verified)
 * before any network input is read.  The spool belongs to that user.
 */
#ifndef POSTERN_PRIVSEP_H
#define POSTERN_PRIVSEP_H

#include <stddef.h>

#include <sys/types.h>
#include <sys/stat.h>

enum spool_verdict {
	SPOOL_CREATE,	/* absent: made, mode 0700 */
	SPOOL_OURS,	/* already the daemon user's */
	SPOOL_ADOPT,	/* root's, empty and closed (0700): safe */
	SPOOL_FOREIGN,	/* holds other things (/var/spool): refused */
	SPOOL_NOTDIR
};

/* What to do with spool_dir: st is its stat(2) when it exists, owner the
 * daemon user's uid, nentries what it holds besides . and ..  A
 * directory postern did not make is never chowned or chmodded. */
enum spool_verdict privsep_spool_decide(int exists, const struct stat *st,
		    uid_t owner, size_t nentries);
/* mkdir -p dir (mode 0700) and give it to user (empty: the caller), or
 * refuse a directory that is not postern's.  0, or -1 with a reason. */
int	privsep_spool(const char *dir, const char *user, char *err, size_t);
/* The maildrop the same way, by lstat(2): a symlink is refused too.
 * 0 when absent or postern's, else -1 with the reason. */
int	privsep_maildrop_check(const char *dir, const char *user, char *err,
	    size_t);
/* The same decision without changing anything (postern -n). */
int	privsep_spool_check(const char *dir, const char *user, char *err,
	    size_t);
/* Removes the pidfile at path when the process it names is gone: the
 * root local server does it at the end, since the daemon's user may not
 * write the pidfile's directory. */
void	privsep_pidfile_clear(const char *path);
/* Drops to user; empty user keeps the current identity (development).
 * 0, or -1 with a reason. */
int	privsep_drop(const char *user, char *err, size_t);
/* A child of the local server becomes pw for good: its groups
 * (initgroups), setresgid, setresuid, verified.  0, or -1. */
struct passwd;
int	privsep_become(const struct passwd *pw);

#endif
