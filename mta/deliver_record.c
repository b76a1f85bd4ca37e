/*
 * deliver_record: one message's outcomes into the queue (deliver_record.h).
 * settle_msg() decides; this file asks bounce_suppressed() and builds the
 * DSN, makes the one queue_update and writes the log lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounce.h"
#include "config.h"
#include "deliver_job.h"
#include "deliver_record.h"
#include "log.h"
#include "outcome.h"
#include "queue.h"
#include "settle.h"
#include "util.h"

static void
log_rcpt(const struct djob *dj, const struct dmsg *dm, size_t i,
    const struct outcome *o, const char *note)
{
	const struct dres	*r = &dm->res[i];
	double			 delay;

	delay = (double)(now_usec() - dm->msg.arrival * 1000000LL) / 1e6;
	log_info("%s: to=<%s>%s%s relay=%s tls=%s auth=%s delay=%.1f "
	    "attempt=%u status=%s (%s)%s", dm->msg.qid, dm->rcpts[i].addr,
	    dj->relayed ? " dest=" : "", dj->relayed ? dm->rcpts[i].dest : "",
	    r->relay, r->tls, r->auth, delay < 0 ? 0.0 : delay,
	    dm->rcpts[i].attempts + 1, outcome_kind_name(o->kind), o->text,
	    note);
}

static const char *
dsn_kind_name(enum bounce_kind k)
{
	return k == BOUNCE_FAILED ? "failure" : k == BOUNCE_SUCCESS ?
	    "success" : "delay";
}

/* The recipients as settle_msg() wants them. */
static void
record_in(const struct dmsg *dm, struct settle_in *in)
{
	size_t	 i;

	for (i = 0; i < dm->nrcpt; i++) {
		in[i].rcpt = &dm->rcpts[i];
		in[i].out = &dm->res[i].out;
		in[i].remote = dm->res[i].remote;
		in[i].resched = dm->res[i].resched;
		in[i].next_dsn = dm->res[i].next_dsn;
		in[i].local = strcmp(dm->res[i].relay, "local") == 0;
		in[i].rnd = djob_rnd32();
	}
}

static void
record_conf(const struct config *conf, struct settle_conf *sc)
{
	sc->max_queue_lifetime = conf->max_queue_lifetime;
	sc->delay_warning_time = conf->delay_warning_time;
	sc->retry_min = conf->retry_min;
	sc->retry_max = conf->retry_max;
}

/* The DSN settle_msg() chose, unless bounce_suppressed() keeps it back:
 * 1 with dsn filled, else 0. */
static int
record_dsn(const struct djob *dj, const struct dmsg *dm,
    const struct settle *s, struct qnew *dsn, struct bounce_storage **st)
{
	const char	*why;

	if (!s->dsn)
		return 0;
	if ((why = bounce_suppressed(s->dsn_kind, &dm->msg, s->dsn_rcpts,
	    s->dsn_n, dj->postmaster)) != NULL) {
		log_info("%s: no %s notice: %s", dm->msg.qid,
		    dsn_kind_name(s->dsn_kind), why);
		return 0;
	}
	return bounce_build(dj->conf->hostname, dj->postmaster, s->dsn_kind,
	    &dm->msg, dm->body, dm->bodylen, dj->conf->bounce_full_max_size,
	    s->dsn_rcpts, s->dsn_n, dsn, st) == 0;
}

/* The log lines and the report's counts, once the update is done (rc). */
static void
record_log(struct djob *dj, const struct dmsg *dm, const struct settle *s,
    int rc)
{
	size_t	 i;
	int	 sent = 0;

	for (i = 0; i < dm->nrcpt; i++) {
		if (s->final[i].kind == OUTCOME_SENT)
			sent = 1;
		else if (s->final[i].kind == OUTCOME_DEFER &&
		    !dm->res[i].resched)
			dj->rep.deferred++;
		log_rcpt(dj, dm, i, &s->final[i], rc == -1 ?
		    " not recorded" : dm->res[i].resched ?
		    " rescheduled" : "");
	}
	if (sent)
		dj->rep.accepted++;
}

void
deliver_record(struct djob *dj, struct dmsg *dm)
{
	struct settle_in	*in;
	struct settle_conf	 sc;
	struct settle		 s;
	struct qnew		 dsn;
	struct bounce_storage	*st = NULL;
	int			 have_dsn, rc;

	if (dm->nrcpt == 0 || dm->recorded)
		return;
	dm->recorded = 1;
	in = xcalloc(dm->nrcpt, sizeof(*in));
	record_in(dm, in);
	record_conf(dj->conf, &sc);
	settle_msg(&dm->msg, in, dm->nrcpt, &sc, (int64_t)time(NULL), &s);
	have_dsn = record_dsn(dj, dm, &s, &dsn, &st);
	/* The commit point: outcomes, retry times, the DSN and the
	 * WARNED flag land together or not at all. */
	rc = queue_update(dj->q, dm->msg.qid, s.u, dm->nrcpt,
	    have_dsn ? &dsn : NULL, s.flags);
	if (rc == -1) {
		log_warn("%s: recording outcomes failed, retried later",
		    dm->msg.qid);
		dj->failed = 1;
	}
	record_log(dj, dm, &s, rc);
	if (have_dsn && rc == 0)
		log_info("%s: dsn=%s kind=%s", dm->msg.qid, dsn.msg->qid,
		    dsn_kind_name(s.dsn_kind));
	bounce_free(st);
	settle_free(&s);
	free(in);
}
