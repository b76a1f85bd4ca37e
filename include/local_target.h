/*
 * local_target: delivering to one target of an alias expansion.  A
 * mailbox spool_dir/USER is appended to as root (mbox.h, mbox_open.h);
 * a file and a pipe are delivered by a child that has become the target
 * user (or default_user), so that what the aliases or a .forward name
 * runs with that user's rights only.  A pipe's command runs under
 * /bin/sh with a fixed environment, in a session of its own, killed at
 * local_pipe_timeout; exit 0 is sent, EX_TEMPFAIL deferred, anything
 * else bounced with the first bytes of its output.  Each fills o.
 */
#ifndef POSTERN_LOCAL_TARGET_H
#define POSTERN_LOCAL_TARGET_H

#include <stddef.h>

struct config;
struct outcome;

/* data: the message in mbox form (mbox_format). */
void	local_deliver_mailbox(const struct config *, const char *user,
	    const char *data, size_t len, struct outcome *o);
void	local_deliver_file(const struct config *, const char *path,
	    const char *user, const char *data, size_t len, struct outcome *o);
/* data: the message without the mbox "From " line. */
void	local_deliver_pipe(const struct config *, const char *cmd,
	    const char *user, const char *sender, const char *rcpt,
	    const char *data, size_t len, struct outcome *o);

#endif
