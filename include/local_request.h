/*
 * local_request: one request from a deliver worker to the local server,
 * and its serving.  On the wire it is one SOCK_SEQPACKET datagram
 * "sender\0rcpt\0qid\0" (at most LOCAL_REQ_MAX bytes) carrying the
 * worker's end of a stream socketpair as SCM_RIGHTS; the message comes
 * through that socket and the outcome goes back on it (local_io.h).
 */
#ifndef POSTERN_LOCAL_REQUEST_H
#define POSTERN_LOCAL_REQUEST_H

#include "maildrop.h"
#include "queue.h"

struct config;

#define LOCAL_REQ_MAX		2048	/* one request datagram */

struct local_request {
	char		 sender[MAILDROP_MAX_ADDR + 1];
	char		 rcpt[MAILDROP_MAX_ADDR + 1];
	char		 qid[QID_LEN + 1];
};

/* In the server's root child for rq: the delivery, under
 * local_delivery_timeout and watched for the worker going away
 * (local_child.h); the outcome is written to fd. */
void	local_request_serve(const struct config *, const struct local_request *,
	    int fd);

/* The workers' end of the server socket, or -1 when no server was
 * started (local_server_start). */
int	local_server_fd(void);

#endif
