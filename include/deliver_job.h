/*
 * deliver_job: the state of one deliver worker (deliver.h), shared by
 * its files: the job, its messages and recipients as loaded from the
 * queue, and each recipient's result in this run.  A recipient is
 * "pending" until something answered for it; every pending recipient
 * is settled before the worker records its message (deliver_record.h).
 * Loading skips recipients held or moved on since they were due.
 */
#ifndef POSTERN_DELIVER_JOB_H
#define POSTERN_DELIVER_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "deliver.h"
#include "dlimit.h"
#include "outcome.h"
#include "queue.h"
#include "smtp_auth.h"
#include "tls_decide.h"
#include "tls_policy.h"

struct config;
struct dns_ctx;

/* One recipient's result in this run. */
struct dres {
	struct outcome	 out;
	int		 pending;	/* not answered yet */
	int		 resched;	/* stopped by a rate limit: no attempt */
	int		 next_dsn;	/* the next hop takes NOTIFY itself */
	char		 relay[320];	/* "host[addr]:port" or "none" */
	char		 tls[160];
	char		 auth[16];
	char		 remote[256];	/* MX host name, for Remote-MTA */
};

struct dmsg {
	struct qmsg	 msg;
	char		*body;
	size_t		 bodylen;
	struct qrcpt	*rcpts;
	struct dres	*res;
	size_t		 nrcpt;
	int		 recorded;	/* its queue_update is done */
};

struct djob {
	const struct config	*conf;
	const struct deliver_job *job;
	struct queue		*q;
	struct dns_ctx		*dns;
	SSL_CTX			*tls;
	struct tls_policy_ctx	 tp;	/* lookups for the TLS decision */
	struct dmsg		*m;
	size_t			 nm;
	int			 relayed;	/* via relayhost or transport */
	const char		*nexthop;	/* relayhost or transport entry */
	struct smtp_auth_cred	 cred;		/* AUTH to nexthop, if have_cred */
	int			 have_cred;
	struct deliver_report	 rep;		/* for the runner */
	int			 port;
	struct outcome		 last_defer;	/* connection-level failures */
	struct outcome		 last_bounce;
	char			 postmaster[320];
	int			 failed;	/* an outcome was not recorded */
	struct dlimit_job	 lim;	/* addresses, sessions, deadline */
};

/* Loads every due recipient of the job (and its message); a record that
 * cannot be read sets failed. */
void	djob_load(struct djob *);
void	djob_free(struct djob *);
/* The job's limits (dlimit.h), counted from now. */
void	djob_limits(struct djob *);
/* Every recipient still pending gets the outcome, without Remote-MTA;
 * resched 1 marks them stopped by a rate limit (settle.h). */
void	djob_settle_pending(struct djob *, const struct outcome *,
	    int resched);
int	djob_any_pending(const struct djob *);
int	djob_msg_pending(const struct dmsg *);
/* The worker's random draws (MX shuffle seed, retry jitter). */
uint32_t djob_rnd32(void);

#endif
