/*
 * mbox: a message in mbox form and its append to a mailbox, as FreeBSD's
 * mail.local, mail(1), mutt and dovecot expect: "From sender date" line,
 * ">From " quoting (mboxo), a blank line after each message; a dotlock
 * (USER.lock) plus fcntl locks, and flock where it is a separate lock
 * (Linux).  A failed write truncates the mbox back to its old size:
 * nothing half-written.  The file is opened under mbox_open.h's rules.
 */
#ifndef POSTERN_MBOX_H
#define POSTERN_MBOX_H

#include <stddef.h>
#include <sys/types.h>

struct buf;
struct outcome;

#define LOCAL_LOCK_TRIES	60	/* seconds waiting for a mailbox lock */
#define LOCAL_STALE_LOCK	300	/* a dotlock older than this is stale */

/* Pure: a message (CRLF lines) in mbox form: "From " line, LF lines,
 * ">From " quoting, a final empty line. */
void	mbox_format(struct buf *, const char *sender, long long t,
	    const char *msg, size_t len);

/* Appends formatted bytes to path under the locks; creates the mbox
 * for uid/gid when missing.  o says what happened. */
int	mbox_append(const char *path, uid_t, gid_t, const char *data,
	    size_t len, struct outcome *o);

/* The same, with the dotlock only when dotlock is set (a file named in
 * aliases or .forward is appended to under fcntl and flock alone). */
int	mbox_append_locked(const char *path, uid_t, gid_t, const char *data,
	    size_t len, int dotlock, struct outcome *o);

#endif
