/*
 * deliver: one worker process delivering a batch of recipients that share
 * a next hop: route (mx.h), TLS decision (tls_policy.h), SMTP client,
 * then every recipient's outcome recorded in the queue, DSNs included.
 * One log line per recipient: "QID: to=<..> relay=.. tls=.. delay=..
 * attempt=N status=sent|deferred|bounced (reply)".
 */
#ifndef POSTERN_DELIVER_H
#define POSTERN_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include "queue.h"

struct config;

struct deliver_item {
	char		 qid[QID_LEN + 1];
	uint32_t	 idx;
};

struct deliver_job {
	const char		*dest;	/* next-hop key (domain) */
	struct deliver_item	*items;
	size_t			 nitems;
};

/* Runs in the forked worker; returns the process exit status. */
int	deliver_job_run(const struct config *, const struct deliver_job *);

#endif
