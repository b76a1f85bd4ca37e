/*
 * local: delivery of mail for local domains and unqualified names.
 * Alias expansion (aliases.h) and ~/.forward, then per target: the mbox
 * spool_dir/USER (mail_spool_dir), a file, or a pipe to a command.
 *
 * Privilege: this is the one part that needs root after the drop.  The
 * master forks the local server before it drops privileges
 * (local_server_start); the server only reads requests from a
 * SOCK_SEQPACKET socketpair inherited by the daemon's processes, forks
 * per request (at most max_deliveries, each under local_delivery_timeout:
 * local_child.h; :include: files as local_include.h reads them) and
 * delivers: mboxes as root, opened under the rules of mbox_open.h
 * (O_EXCL creation, no symlinks, no hard links, no FIFOs, the
 * recipient's, checked on the open descriptor), files and pipes in a
 * child that has become the target user (setgroups, setgid, setuid).
 * The request names only the recipient, the sender and the message:
 * what a pipe runs and where a file goes come from the aliases and
 * .forward files the server reads itself, never from the unprivileged
 * side.
 *
 * mbox format and locking as FreeBSD's mail.local, mail(1), mutt and
 * dovecot expect: "From sender date" line, ">From " quoting (mboxo), a
 * blank line after each message; a dotlock (USER.lock) plus fcntl
 * locks, and flock where it is a separate lock (Linux).  A failed write
 * truncates the mbox back to its old size: nothing half-written.
 */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H

#include <stddef.h>
#include <sys/types.h>

struct alias_ops;
struct buf;
struct config;
struct outcome;
struct qmsg;

#define LOCAL_LOCK_TRIES	60	/* seconds waiting for a mailbox lock */
#define LOCAL_STALE_LOCK	300	/* a dotlock older than this is stale */

/* Master, as root, before the listeners and the drop.  Outside the
 * foreground the server lets go of the terminal (stdin, stdout and
 * stderr become /dev/null).  0, or -1 with a reason. */
int	local_server_start(const struct config *, int foreground, char *err,
	    size_t errlen);

/* Deliver worker: one recipient (an address in a local domain).  Fills
 * o with SENT, DEFER or BOUNCE.  Remote addresses an alias or .forward
 * names are queued again through the maildrop by the server. */
void	local_deliver(const struct config *, const struct qmsg *,
	    const char *rcpt, const char *body, size_t len, struct outcome *o);

/* The lookups of aliases_expand as the server does them (also -bv). */
void	local_alias_ops(const struct config *, struct alias_ops *);

/* Pure: a message (CRLF lines) in mbox form: "From " line, LF lines,
 * ">From " quoting, a final empty line. */
void	mbox_format(struct buf *, const char *sender, long long t,
	    const char *msg, size_t len);

/* Appends formatted bytes to path under the locks; creates the mbox
 * for uid/gid when missing.  o says what happened. */
int	mbox_append(const char *path, uid_t, gid_t, const char *data,
	    size_t len, struct outcome *o);

#endif
