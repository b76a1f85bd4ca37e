/*
 * deliver_smtp: the remote delivery loop of a worker.  For each host of
 * the route, in order, the TLS decision (tls_decide.h); for each of its
 * addresses, one connection that carries every pending message of the
 * batch; each message recorded as soon as all its recipients are
 * answered.  Stops on a rate-limit reply (throttle.h) or a job limit
 * (dlimit.h); what is still pending then gets the last connection-level
 * outcome.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "config.h"
#include "crashpoint.h"
#include "deliver_down.h"
#include "deliver_job.h"
#include "deliver_record.h"
#include "deliver_smtp.h"
#include "dlimit.h"
#include "log.h"
#include "mx.h"
#include "outcome.h"
#include "smtp_client.h"
#include "throttle.h"
#include "tls_decide.h"
#include "tls_policy.h"
#include "util.h"

/*
 * How to protect the connection to one MX host: the decision order of
 * tls_decide.h (local table -> DANE, RFC 7672 -> MTA-STS enforce, RFC
 * 8461 -> opportunistic).  -1 with o (4.7.x DEFER) when this host must
 * not be used; the next MX is then tried under its own decision.
 */
static int
tls_decide(struct djob *dj, const struct mx_route *rt,
    const struct mx_host *h, struct tls_decision *d, struct outcome *o)
{
	if (tls_policy_host(&dj->tp, rt, h, dj->port, d, o) == -1) {
		log_info("%s: not using %s: %s", dj->job->dest, h->name,
		    o->text);
		return -1;
	}
	/* Without a client context STARTTLS cannot even be tried; the
	 * client then defers every level that forbids clear text. */
	if (dj->tls == NULL && d->level == TLS_LEVEL_MAY)
		tls_decision_init(d, TLS_LEVEL_NONE, "no TLS context", h->name);
	/* A next hop that gets our credentials must be authenticated; a
	 * weaker level written for it is kept, with a warning each time. */
	if (dj->have_cred && tls_policy_cred(&dj->tp, h, d))
		log_warnx("%s: credentials for %s sent to %s without "
		    "authenticating it: %s:%d says %s", dj->job->dest,
		    dj->nexthop, h->name, dj->job->tls_table->path,
		    dj->tp.hop_entry->line,
		    tls_level_name(dj->tp.hop_entry->level));
	log_debug("%s: %s: tls policy %s (%s)", dj->job->dest, h->name,
	    tls_level_name(d->level), d->why);
	return 0;
}

static void
note_conn_failure(struct djob *dj, const struct outcome *o)
{
	if (o->kind == OUTCOME_BOUNCE)
		dj->last_bounce = *o;
	else {
		dj->last_defer = *o;
		if (dj->last_defer.kind != OUTCOME_DEFER)
			dj->last_defer.kind = OUTCOME_DEFER;
	}
}

static int
is_ratelimit(const struct outcome *o)
{
	return o->kind == OUTCOME_DEFER &&
	    throttle_reply_is_ratelimit(o->status, o->text);
}

/*
 * A rate-limit reply is about the destination, not about the message:
 * stop at once.  Every recipient not finished is rescheduled without
 * counting an attempt (QUPD_RESCHEDULE, keeping its place in the queue)
 * and the runner throttles the destination from the report.
 */
static void
ratelimit_stop(struct djob *dj, const struct outcome *o)
{
	struct outcome	 nt;

	if (!dj->rep.ratelimited) {
		dj->rep.ratelimited = 1;
		/* status is as large as o->status; a longer reply is cut,
		 * which is fine: the runner only shows it. */
		(void)strlcpy(dj->rep.status, o->status,
		    sizeof(dj->rep.status));
		(void)strlcpy(dj->rep.reply, o->text, sizeof(dj->rep.reply));
		log_info("%s: rate limited (%s): stopping, the rest waits "
		    "for the throttle", dj->job->dest, o->text);
	}
	outcome_set(&nt, OUTCOME_DEFER, o->status, "not tried: %s limits "
	    "the rate (%s)", dj->job->dest, o->text);
	djob_settle_pending(dj, &nt, 1);
}

static void
res_note_relay(struct dres *r, struct smtp_client *c, const char *host)
{
	/* Each fits: the client's relay[320] and tlsdesc[128], its
	 * constant auth names, and mx_host.name[256]. */
	(void)strlcpy(r->relay, smtp_client_relay(c), sizeof(r->relay));
	(void)strlcpy(r->tls, smtp_client_tls(c), sizeof(r->tls));
	(void)strlcpy(r->auth, smtp_client_auth(c), sizeof(r->auth));
	(void)strlcpy(r->remote, host, sizeof(r->remote));
	r->next_dsn = smtp_client_offers_dsn(c);
}

/*
 * Sends the pending recipients of one message.  0 when the connection can
 * carry on; -1 when it is gone: the recipients it left unanswered stay
 * pending for the next address.
 */
static int
send_msg(struct djob *dj, struct dmsg *dm, struct smtp_client *c,
    const struct mx_host *h)
{
	const struct qrcpt	**rp;
	struct outcome		 *out, limited;
	size_t			 *map, n = 0, i;
	int			  rc;

	memset(&limited, 0, sizeof(limited));

	rp = xcalloc(dm->nrcpt, sizeof(*rp));
	out = xcalloc(dm->nrcpt, sizeof(*out));
	map = xcalloc(dm->nrcpt, sizeof(*map));
	for (i = 0; i < dm->nrcpt; i++)
		if (dm->res[i].pending) {
			map[n] = i;
			rp[n++] = &dm->rcpts[i];
		}
	rc = n ? smtp_client_send(c, &dm->msg, rp, n, dm->body, dm->bodylen,
	    out) : 0;
	for (i = 0; i < n; i++) {
		struct dres	*r = &dm->res[map[i]];

		if (out[i].kind == OUTCOME_NONE)
			outcome_set(&out[i], OUTCOME_DEFER, "4.4.2",
			    "%s: no reply for this recipient",
			    smtp_client_relay(c));
		r->out = out[i];
		r->pending = 0;
		res_note_relay(r, c, h->name);
		if (is_ratelimit(&out[i])) {
			r->resched = 1;
			limited = out[i];
			continue;
		}
		/* A transaction cut off by a lost connection goes on with
		 * the next address (RFC 5321 §5.1 "try the next"). */
		if (rc == -1 && out[i].kind == OUTCOME_DEFER) {
			r->pending = 1;
			note_conn_failure(dj, &out[i]);
		}
	}
	free(rp);
	free(out);
	free(map);
	if (limited.kind != OUTCOME_NONE) {
		ratelimit_stop(dj, &limited);
		return -1;
	}
	return rc;
}

/*
 * Each message is recorded as soon as all its recipients are answered,
 * not at the end of the batch: the window between a remote 250 and our
 * commit, where a crash means a duplicate, stays one message wide.
 */
static int
send_all(struct djob *dj, struct smtp_client *c, const struct mx_host *h)
{
	struct dmsg	*dm;
	size_t		 i;
	int		 rc;

	for (i = 0; i < dj->nm; i++) {
		dm = &dj->m[i];
		if (!djob_msg_pending(dm))
			continue;
		rc = send_msg(dj, dm, c, h);
		if (!djob_msg_pending(dm)) {
			crash_point(dj->conf, "deliver-after-remote-250");
			deliver_record(dj, dm);
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* One address: 0 when it was used, -1 when it failed (o filled). */
static int
try_addr(struct djob *dj, const struct mx_host *h, const struct mx_addr *a,
    const struct tls_decision *td, const struct smtp_client_opts *opts)
{
	struct smtp_client	*c;
	struct outcome		 o;

	memset(&o, 0, sizeof(o));
	if (deliver_host_down(dj->q, dj->conf, a, dj->port, &o)) {
		log_info("%s: skipping %s[%s]: %s", dj->job->dest, h->name,
		    a->text, o.text);
		note_conn_failure(dj, &o);
		return -1;
	}
	dj->rep.connections++;
	if ((c = smtp_client_open(h, a, td, opts, &o)) == NULL) {
		log_info("%s: %s", dj->job->dest, o.text);
		if (is_ratelimit(&o))
			ratelimit_stop(dj, &o);
		else if (strcmp(o.status, "4.4.1") == 0)
			deliver_host_mark(dj->q, dj->conf, dj->job->dest, a,
			    dj->port, &o);
		note_conn_failure(dj, &o);
		return -1;
	}
	(void)send_all(dj, c, h);
	smtp_client_close(c);
	return 0;
}

/*
 * Whether a limit stops the job before its next address.  The deadline
 * defers what is left (4.4.2), whatever the hosts said: not reaching a
 * host in time says nothing about the recipient.  The address and
 * session limits end the list as Postfix's do: what the last host said
 * stands, a 5xx from every host tried still bounces.
 */
static int
job_limited(struct djob *dj)
{
	const char	*why;
	struct outcome	 o;

	if ((why = dlimit_next_addr(&dj->lim, mono_msec())) == NULL)
		return 0;
	dj->rep.cut = 1;
	log_info("%s: stopping after %u address(es) and %u session(s): %s "
	    "reached", dj->job->dest, dj->lim.addrs, dj->lim.sessions, why);
	if (strcmp(why, "delivery_job_timeout") == 0) {
		outcome_set(&o, OUTCOME_DEFER, "4.4.2", "delivery_job_timeout "
		    "(%llds) reached after %u address(es)%s%s", (long long)
		    dj->conf->delivery_job_timeout, dj->lim.addrs,
		    dj->last_defer.kind != OUTCOME_NONE ? ", last error: " : "",
		    dj->last_defer.kind != OUTCOME_NONE ? dj->last_defer.text :
		    "");
		dj->last_defer = o;
	} else if (dj->last_defer.kind != OUTCOME_NONE) {
		o = dj->last_defer;
		outcome_set(&dj->last_defer, OUTCOME_DEFER, o.status, "%s "
		    "reached, last error: %s", why, o.text);
	} else if (dj->last_bounce.kind == OUTCOME_NONE)
		outcome_set(&dj->last_defer, OUTCOME_DEFER, "4.4.2", "%s "
		    "reached", why);
	return 1;
}

static void
smtp_route(struct djob *dj, const struct mx_route *rt)
{
	struct smtp_client_opts	 opts;
	struct tls_decision	 td;
	struct outcome		 o;
	size_t			 h, a;

	memset(&opts, 0, sizeof(opts));
	opts.deadline = dj->lim.deadline;
	opts.sessions = &dj->lim.sessions;
	opts.helo = dj->conf->hostname;
	opts.port = dj->port;
	opts.connect_timeout = (int)dj->conf->connect_timeout;
	opts.reply_timeout = (int)dj->conf->client_timeout;
	opts.tls_ctx = dj->tls;
	opts.cred = dj->have_cred ? &dj->cred : NULL;
	for (h = 0; h < rt->nhosts && djob_any_pending(dj); h++) {
		if (job_limited(dj))
			return;
		if (tls_decide(dj, rt, &rt->hosts[h], &td, &o) == -1) {
			note_conn_failure(dj, &o);
			continue;
		}
		for (a = 0; a < rt->hosts[h].naddrs && djob_any_pending(dj);
		    a++) {
			/* An address skipped as down counts too: the limit
			 * is on the list, in MX order (Postfix's). */
			if (job_limited(dj))
				return;
			dj->lim.addrs++;
			(void)try_addr(dj, &rt->hosts[h],
			    &rt->hosts[h].addrs[a], &td, &opts);
		}
	}
}

/* Route failure, no address answered, ...: what the rest gets.  A 5xx
 * greeting bounces only when no host failed temporarily. */
static void
settle_unreached(struct djob *dj, const struct mx_route *rt)
{
	struct outcome	 o;

	if (dj->last_defer.kind != OUTCOME_NONE)
		o = dj->last_defer;
	else if (dj->last_bounce.kind != OUTCOME_NONE)
		o = dj->last_bounce;
	else
		outcome_set(&o, OUTCOME_DEFER, "4.4.3",
		    "no usable address for any mail exchanger of %s",
		    rt ? rt->domain : dj->job->dest);
	djob_settle_pending(dj, &o, 0);
}

void
deliver_smtp(struct djob *dj, const struct mx_route *rt)
{
	smtp_route(dj, rt);
	settle_unreached(dj, rt);
}
