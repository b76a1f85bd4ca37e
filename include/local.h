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
 * Files: local_server.c (the server loop), local_request.c (one
 * request in its child), local_alias.c (the lookups), local_target.c
 * (mailbox, file and pipe targets), local_io.c (what the processes
 * pass each other), local_worker.c (the worker's side); mboxes are
 * written by mbox.h.
 */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H

#include <stddef.h>
#include <sys/types.h>

struct alias_ops;
struct config;
struct outcome;
struct qmsg;

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

#endif
