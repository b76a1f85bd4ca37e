/*
 * master_session: the session processes.  Each serves connections in
 * turn, handed to it over its ctl socket (fdpass.h); it says "i" when
 * its client is gone.  After a reload that changed the configuration an
 * idle one forked before it ends, so the next client gets the new one.
 */
#ifndef POSTERN_MASTER_SESSION_H
#define POSTERN_MASTER_SESSION_H

#include <stddef.h>
#include <sys/types.h>

struct handoff;
struct master;

/* Session processes the master still talks to, busy or idle. */
size_t	master_session_procs(const struct master *);
/* Hands fd to an idle session process: 0, or -1 when there is none. */
int	master_handoff_idle(struct master *, int fd, const struct handoff *);
/* In the child just forked for fd: serves it and those handed after. */
_Noreturn void	master_session_child(struct master *, int ctl, int fd,
	    struct handoff *);
/* Something to read on pid's ctl. */
void	master_ready_pid(struct master *, pid_t);
/* SIGHUP: postern.conf again (reload.h). */
void	master_reload(struct master *);

#endif
