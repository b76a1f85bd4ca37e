/*
 * master_children: the master's table of children (sessions, the
 * runner, the pickup, the queue helpers), the runner and the pickup
 * started and restarted, every death reaped (as a subreaper, orphaned
 * workers too) and answered with a failchk, and the stop of them all.
 */
#ifndef POSTERN_MASTER_CHILDREN_H
#define POSTERN_MASTER_CHILDREN_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

struct master;

/* peer: the session's client, or NULL; ctl: a session's end, or -1. */
void	master_kid_add(struct master *, pid_t,
	    const struct sockaddr_storage *peer, int ctl);
void	master_start_runner(struct master *);
void	master_start_pickup(struct master *);
/* Reaps every child that ended, without waiting. */
void	master_reap(struct master *);
/* SIGTERM, and SIGKILL for those still there after grace_ms. */
void	master_shutdown_children(struct master *, int64_t grace_ms);

#endif
