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
struct tls_table;

struct deliver_item {
	char		 qid[QID_LEN + 1];
	uint32_t	 idx;
};

struct dtable;

struct deliver_job {
	const char		*dest;	/* next-hop key (domain) */
	struct deliver_item	*items;
	size_t			 nitems;
	const struct tls_table	*tls_table;	/* tls_policy_file, or NULL */
	const struct dtable	*transport;	/* transport_table, or NULL */
	int			 report_fd;	/* deliver_report goes here; -1 */
};

/*
 * What the worker tells the runner when it is done (one write on a pipe,
 * smaller than PIPE_BUF): how many messages the destination accepted and
 * whether it answered with a rate-limit deferral (throttle.h), in which
 * case the worker stopped at once and every recipient it had not
 * finished was rescheduled without counting an attempt.
 */
struct deliver_report {
	uint32_t	 accepted;	/* messages with a recipient sent */
	uint32_t	 connections;	/* connection attempts made */
	uint32_t	 ratelimited;	/* 1: a rate-limit reply came */
	uint32_t	 deferred;	/* recipients deferred (not rescheduled) */
	uint32_t	 cut;		/* 1: a dlimit.h limit ended the job */
	char		 status[12];	/* its enhanced status */
	char		 reply[256];	/* its text */
};

/* Runs in the forked worker; returns the process exit status: 0, or
 * EX_TEMPFAIL when the queue could not be opened or an outcome could not
 * be recorded (the recipients stay due; nothing is lost). */
int	deliver_job_run(const struct config *, const struct deliver_job *);

/* Forgets every host remembered as down (a flush retries them all).
 * 0 or -1. */
int	deliver_forget_down(struct queue *);

/* relayhost "[host]:port", "[host]", "host:port", "host": the host for
 * mx_route_host() (brackets kept) and the port when given.  NULL or a
 * reason.  Pure. */
const char *deliver_parse_relayhost(const char *, char *host, size_t hostlen,
	    int *port);

/* A warning for every next hop (relayhost, transport_table values) that
 * has credentials in relayhost_auth_file and a tls_policy_file entry of
 * its own below verify (tls_cred_level()): its password would go to a
 * host that is not authenticated.  The number of warnings. */
int	deliver_cred_warn(const struct config *, const struct tls_table *,
	    const struct dtable *transport);

#endif
