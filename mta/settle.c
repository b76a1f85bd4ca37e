/*
 * settle: one message's outcomes -> its queue_update, its DSN and its
 * flags (settle.h).  The order of the decisions per recipient is the
 * table in docs/queue.md: sent, bounced, then for a deferral expiry
 * first (a rate-limited recipient past its lifetime bounces too), then
 * the rate limit, then the retry time.
 */
#include <stdlib.h>
#include <string.h>

#include "settle.h"
#include "util.h"

int
settle_expired(const struct qmsg *m, const struct settle_conf *c,
    int64_t now)
{
	return c->max_queue_lifetime > 0 &&
	    now - m->arrival >= c->max_queue_lifetime;
}

int
settle_warn_due(const struct qmsg *m, const struct settle_conf *c,
    int64_t now)
{
	return c->delay_warning_time > 0 &&
	    now - m->arrival >= c->delay_warning_time &&
	    !(m->flags & (QMSG_WARNED | QMSG_DSN));
}

/* Remote-MTA only for the reply the host gave, not for a 4.4.7 made
 * here from it. */
static void
brcpt_fill(struct bounce_rcpt *b, const struct qmsg *m,
    const struct settle_in *in, const struct outcome *o,
    const struct settle_conf *c, int64_t now)
{
	memset(b, 0, sizeof(*b));
	b->rcpt = in->rcpt;
	b->outcome = o;
	b->remote_mta = in->remote != NULL && in->remote[0] != '\0' &&
	    o == in->out ? in->remote : NULL;
	b->last_attempt = now;
	b->retry_until = m->arrival + c->max_queue_lifetime;
}

static void
settle_sent(const struct qmsg *m, const struct settle_in *in,
    const struct settle_conf *c, int64_t now, struct settle *s)
{
	struct bounce_rcpt	*b;

	/* RFC 3461 §5.2.2: NOTIFY=SUCCESS that the next hop cannot carry
	 * is answered here, "relayed"; a local delivery is final,
	 * "delivered". */
	if (!(in->rcpt->notify & QNOTIFY_SUCCESS) || in->next_dsn)
		return;
	b = &s->succeeded[s->nsucceeded++];
	brcpt_fill(b, m, in, in->out, c, now);
	b->action = in->local ? "delivered" : "relayed";
}

static void
settle_deferred(const struct qmsg *m, const struct settle_in *in,
    const struct settle_conf *c, int64_t now, struct settle *s, size_t i)
{
	struct qupdate	*u = &s->u[i];

	if (settle_expired(m, c, now)) {
		/* RFC 3463 4.4.7: given up on, with the last reason. */
		outcome_set(&s->final[i], OUTCOME_BOUNCE, "4.4.7",
		    "delivery time expired (last error: %s)", in->out->text);
		u->kind = QUPD_FAIL;
		u->reply = s->final[i].text;
		brcpt_fill(&s->failed[s->nfailed++], m, in, &s->final[i], c,
		    now);
		return;
	}
	s->final[i].kind = OUTCOME_DEFER;
	if (in->resched) {
		/* Stopped by a rate limit: its place in the queue and its
		 * attempt count stay; the runner's throttle decides when. */
		u->kind = QUPD_RESCHEDULE;
		u->next_attempt = in->rcpt->next_attempt;
		return;
	}
	u->kind = QUPD_DEFER;
	u->next_attempt = now + retry_delay(in->rcpt->attempts, c->retry_min,
	    c->retry_max, SETTLE_RETRY_JITTER_PCT, in->rnd);
	brcpt_fill(&s->delayed[s->ndelayed++], m, in, in->out, c, now);
}

static void
settle_rcpt(const struct qmsg *m, const struct settle_in *in,
    const struct settle_conf *c, int64_t now, struct settle *s, size_t i)
{
	struct qupdate	*u = &s->u[i];

	s->final[i] = *in->out;
	u->idx = in->rcpt->idx;
	u->reply = in->out->text;
	switch (in->out->kind) {
	case OUTCOME_SENT:
		u->kind = QUPD_SENT;
		settle_sent(m, in, c, now, s);
		return;
	case OUTCOME_BOUNCE:
		u->kind = QUPD_FAIL;
		brcpt_fill(&s->failed[s->nfailed++], m, in, in->out, c, now);
		return;
	default:
		/* OUTCOME_NONE is not sent: treated as the deferral it
		 * would be logged as. */
		settle_deferred(m, in, c, now, s, i);
		return;
	}
}

/*
 * One DSN per transaction: a failure report, else a delay notice when
 * one is due, else a success notice.  A delay notice that has to wait
 * for a failure report goes out at a later attempt.  QMSG_WARNED is set
 * whenever the delay notice is chosen, even if bounce_suppressed() then
 * keeps it back: it is due once, sent or not.
 */
static void
settle_dsn(const struct qmsg *m, const struct settle_conf *c, int64_t now,
    struct settle *s)
{
	s->dsn = 1;
	if (s->nfailed > 0) {
		s->dsn_kind = BOUNCE_FAILED;
		s->dsn_rcpts = s->failed;
		s->dsn_n = s->nfailed;
	} else if (s->ndelayed > 0 && settle_warn_due(m, c, now)) {
		s->dsn_kind = BOUNCE_DELAYED;
		s->dsn_rcpts = s->delayed;
		s->dsn_n = s->ndelayed;
		s->flags |= QMSG_WARNED;
	} else if (s->nsucceeded > 0) {
		s->dsn_kind = BOUNCE_SUCCESS;
		s->dsn_rcpts = s->succeeded;
		s->dsn_n = s->nsucceeded;
	} else
		s->dsn = 0;
}

void
settle_msg(const struct qmsg *m, const struct settle_in *in, size_t n,
    const struct settle_conf *c, int64_t now, struct settle *s)
{
	size_t	 i, k = n ? n : 1;

	memset(s, 0, sizeof(*s));
	s->dsn_kind = BOUNCE_FAILED;
	s->u = xcalloc(k, sizeof(*s->u));
	s->final = xcalloc(k, sizeof(*s->final));
	s->failed = xcalloc(k, sizeof(*s->failed));
	s->delayed = xcalloc(k, sizeof(*s->delayed));
	s->succeeded = xcalloc(k, sizeof(*s->succeeded));
	for (i = 0; i < n; i++)
		settle_rcpt(m, &in[i], c, now, s, i);
	settle_dsn(m, c, now, s);
}

void
settle_free(struct settle *s)
{
	free(s->u);
	free(s->final);
	free(s->failed);
	free(s->delayed);
	free(s->succeeded);
	memset(s, 0, sizeof(*s));
}
