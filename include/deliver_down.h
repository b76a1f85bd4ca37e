/*
 * deliver_down: the hosts a worker found dead (refused, timed out: 4.4.1),
 * remembered in the queue's "destinations" table as "down/ADDR:PORT" ->
 * "UNTIL reason" for dead_host_time (at most retry_min), so that other
 * workers skip them meanwhile.  deliver_forget_down() is in deliver.h.
 */
#ifndef POSTERN_DELIVER_DOWN_H
#define POSTERN_DELIVER_DOWN_H

#include "mx.h"
#include "outcome.h"
#include "queue.h"

struct config;

/* 1 with o (4.4.1 DEFER, "not tried for Ns: reason") while a:port is
 * remembered as down, else 0; an expired entry is deleted. */
int	deliver_host_down(struct queue *, const struct config *,
	    const struct mx_addr *a, int port, struct outcome *o);
/* Remembers a:port as down because of o; dest names the job in the log
 * line when the queue refuses. */
void	deliver_host_mark(struct queue *, const struct config *,
	    const char *dest, const struct mx_addr *a, int port,
	    const struct outcome *o);

#endif
