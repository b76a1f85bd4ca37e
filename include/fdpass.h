/*
 * fdpass: handing an accepted connection from the master to an idle
 * session process over a UNIX socket (SCM_RIGHTS), with the client's
 * address and the listener it came in on.
 */
#ifndef POSTERN_FDPASS_H
#define POSTERN_FDPASS_H

#include <sys/socket.h>

struct handoff {
	int			 listen_idx;	/* index in config.listen */
	socklen_t		 plen;
	struct sockaddr_storage	 peer;
};

/* 0, or -1 (the receiver is gone: the caller keeps fd). */
int	fdpass_send(int sock, int fd, const struct handoff *);
/* 0 with *fd open, or -1 on EOF, error or a malformed message. */
int	fdpass_recv(int sock, int *fd, struct handoff *);

#endif
