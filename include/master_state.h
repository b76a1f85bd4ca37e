/*
 * master_state: the master's state (master.h), shared by its files: the
 * listening sockets (master_listen.h), the table of its children with
 * the configuration generation each was forked with (master_children.h,
 * master_session.h), and the queue watch (master_recover.h).  master.c,
 * start-up, stop and the main loop, owns the signal pipe.
 */
#ifndef POSTERN_MASTER_STATE_H
#define POSTERN_MASTER_STATE_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "qwatch.h"
#include "smtp_server.h"

#define MAX_SOCKS	(CONFIG_MAX_LISTEN * 2)

struct lsock {
	int			 fd;
	const struct listen_spec *spec;
};

struct child {
	pid_t			 pid;
	int			 ctl;	/* session: master's end; else -1 */
	unsigned		 gen;	/* configuration it was forked with */
	struct sockaddr_storage	 peer;	/* ss_family 0: no client now */
};

struct master {
	struct config		*conf;
	struct lsock		 socks[MAX_SOCKS];
	size_t			 nsocks;
	struct child		*kids;
	size_t			 nkids;
	pid_t			 runner;
	int64_t			 runner_restart;	/* mono ms, 0: none */
	int			 recover;	/* queue recovery pending */
	int64_t			 recover_at;	/* mono ms */
	pid_t			 pickup;	/* maildrop.h */
	int64_t			 pickup_restart;
	int			 wake[2];
	int			 queue_up;	/* recovered, usable */
	unsigned		 gen;	/* bumped by each reload that changed
					 * the configuration */
	struct qwatch		 qw;	/* failchk and checkpoint helper */
	struct server_ctx	 sctx;
};

/* Non-blocking and close-on-exec, or fatal. */
void	master_nonblock_cloexec(int);
/* Things every child does first: it owns none of the master's handles. */
void	master_child_setup(struct master *);

#endif
