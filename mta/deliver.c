/*
 * The deliver worker: one forked process per batch of messages sharing a
 * next hop.  It opens its own queue handle and resolver (no handle crosses
 * a fork), builds the route, tries the hosts and their addresses in order,
 * sends every message of the batch over one connection, and records each
 * message's outcome with ONE queue_update (retry time, DSN and flags in
 * the same transaction).  It never sleeps to retry: the schedule does.
 * This file sets the job up, hands local domains to the local server and
 * remote ones to deliver_auth.c, deliver_route.c and deliver_smtp.c;
 * deliver_job.c loads the job, deliver_record.c records each message.
 *
 * Durability: the remote 250 comes before our queue_update.  A crash
 * between the two leaves the recipient queued, so it is sent again later:
 * a duplicate, never a loss (RFC 5321 §6.1 accepts that trade).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "crashpoint.h"
#include "deliver.h"
#include "deliver_auth.h"
#include "deliver_job.h"
#include "deliver_record.h"
#include "deliver_route.h"
#include "deliver_smtp.h"
#include "dns.h"
#include "dtable.h"
#include "local.h"
#include "log.h"
#include "mx.h"
#include "outcome.h"
#include "queue.h"
#include "relay.h"
#include "smtp_auth.h"
#include "tls.h"
#include "tls_decide.h"
#include "util.h"

/* Local domains: each recipient through the local server (local.h). */
static void
deliver_local(struct djob *dj)
{
	struct dmsg	*dm;
	size_t		 i, j;

	for (i = 0; i < dj->nm; i++) {
		dm = &dj->m[i];
		for (j = 0; j < dm->nrcpt; j++) {
			if (!dm->res[j].pending)
				continue;
			local_deliver(dj->conf, &dm->msg, dm->rcpts[j].addr,
			    dm->body, dm->bodylen, &dm->res[j].out);
			dm->res[j].pending = 0;
			dm->res[j].remote[0] = '\0';
			(void)strlcpy(dm->res[j].relay, "local",
			    sizeof(dm->res[j].relay));
		}
	}
}

static void
deliver_remote(struct djob *dj)
{
	struct mx_route	 rt;
	struct outcome	 why;

	memset(&rt, 0, sizeof(rt));
	if (deliver_auth_setup(dj, &why) == -1 ||
	    deliver_route_build(dj, &rt, &why) == -1) {
		/* DEFER or BOUNCE as the resolver said, for the batch. */
		djob_settle_pending(dj, &why, 0);
		return;
	}
	/* The recipient domain's entry applies through a relay too, with
	 * the relay's own (tls_entry_stricter()); MTA-STS is about
	 * recipient domains (RFC 8461 §2), not a relayhost. */
	tls_policy_ctx_init(&dj->tp, dj->conf, dj->dns, dj->q,
	    dj->job->tls_table, dj->job->dest, dj->relayed ? rt.domain :
	    NULL);
	deliver_smtp(dj, &rt);
	tls_policy_ctx_free(&dj->tp);
	mx_route_free(&rt);
	smtp_auth_clear(&dj->cred);
}

static int
job_setup(struct djob *dj, const struct config *conf,
    const struct deliver_job *job)
{
	char	 err[256];

	memset(dj, 0, sizeof(*dj));
	dj->conf = conf;
	dj->job = job;
	dj->port = (int)conf->smtp_port;
	dj->relayed = conf->relayhost != NULL && conf->relayhost[0] != '\0' &&
	    !relay_domain_local(conf, job->dest);
	/* A transport_table entry routes the domain to its own next hop,
	 * ahead of the relayhost. */
	if (!relay_domain_local(conf, job->dest) &&
	    (dj->nexthop = dtable_lookup(job->transport, job->dest)) != NULL)
		dj->relayed = 1;
	else
		dj->nexthop = conf->relayhost;
	/* A cut address would send DSNs about DSNs to someone else. */
	if (snprintf(dj->postmaster, sizeof(dj->postmaster), "postmaster@%s",
	    conf->hostname) >= (int)sizeof(dj->postmaster)) {
		log_warnx("deliver %s: hostname too long for postmaster@%s",
		    job->dest, conf->hostname);
		return -1;
	}
	if (queue_open(&dj->q, conf->spool_dir, 0, err, sizeof(err)) == -1) {
		log_warnx("deliver %s: queue: %s", job->dest, err);
		return -1;
	}
	crash_point_queue(conf, dj->q);
	/* Resolver and TLS context are made here, after fork(). */
	if ((dj->dns = dns_new(conf, err, sizeof(err))) == NULL)
		log_warnx("deliver %s: resolver: %s", job->dest, err);
	tls_init();
	if ((dj->tls = tls_client_ctx(*conf->smtp_tls_ca_file ?
	    conf->smtp_tls_ca_file : NULL, err, sizeof(err))) == NULL)
		log_warnx("deliver %s: TLS client context: %s", job->dest,
		    err);
	return 0;
}

/* One write, smaller than PIPE_BUF: the runner reads it whole. */
static void
report(const struct djob *dj)
{
	if (dj->job->report_fd < 0)
		return;
	if (write(dj->job->report_fd, &dj->rep, sizeof(dj->rep)) !=
	    (ssize_t)sizeof(dj->rep))
		log_warn("%s: report to the runner", dj->job->dest);
}

int
deliver_job_run(const struct config *conf, const struct deliver_job *job)
{
	struct djob	 dj;
	size_t		 i;
	int		 status;

	if (job_setup(&dj, conf, job) == -1)
		return EX_TEMPFAIL;
	djob_limits(&dj);
	djob_load(&dj);
	if (djob_any_pending(&dj)) {
		if (relay_domain_local(conf, job->dest))
			deliver_local(&dj);
		else
			deliver_remote(&dj);
	}
	for (i = 0; i < dj.nm; i++)
		deliver_record(&dj, &dj.m[i]);
	status = dj.failed ? EX_TEMPFAIL : 0;
	report(&dj);
	djob_free(&dj);
	if (dj.tls != NULL)
		SSL_CTX_free(dj.tls);
	dns_free(dj.dns);
	queue_close(dj.q);
	return status;
}
