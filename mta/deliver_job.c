/*
 * deliver_job: loading a worker's job from the queue, its limits, and the
 * bookkeeping of pending recipients (deliver_job.h).  The worker opened
 * its own queue handle; nothing here crosses a fork.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "deliver_job.h"
#include "log.h"
#include "util.h"

uint32_t
djob_rnd32(void)
{
	uint32_t	 r;

	if (getentropy(&r, sizeof(r)) == -1)
		r = (uint32_t)now_usec() ^ (uint32_t)getpid();
	return r;
}

static struct dmsg *
msg_find_or_load(struct djob *dj, const char *qid)
{
	struct dmsg	*dm;
	size_t		 i;
	int		 rc;

	for (i = 0; i < dj->nm; i++)
		if (strcmp(dj->m[i].msg.qid, qid) == 0)
			return &dj->m[i];
	dm = &dj->m[dj->nm];
	memset(dm, 0, sizeof(*dm));
	/* Not found: deleted since it was due.  An error makes the
	 * worker fail, so the runner pauses these recipients. */
	if ((rc = queue_get_msg(dj->q, qid, &dm->msg)) != 0) {
		if (rc == -1) {
			log_warnx("%s: cannot read message record", qid);
			dj->failed = 1;
		}
		return NULL;
	}
	if (queue_get_body(dj->q, qid, &dm->body, &dm->bodylen) != 0) {
		log_warnx("%s: cannot read message body", qid);
		queue_msg_free(&dm->msg);
		dj->failed = 1;
		return NULL;
	}
	dj->nm++;
	return dm;
}

static void
rcpt_load(struct djob *dj, const struct deliver_item *it, int64_t now)
{
	struct dmsg	*dm;
	struct qrcpt	 r;
	int		 rc;

	if ((dm = msg_find_or_load(dj, it->qid)) == NULL)
		return;
	if ((rc = queue_get_rcpt(dj->q, it->qid, it->idx, &r)) != 0) {
		if (rc == -1) {
			log_warnx("%s: cannot read recipient %u", it->qid,
			    it->idx);
			dj->failed = 1;
		}
		return;
	}
	/* Held, or already moved on by someone else since it was due. */
	if (r.state == QRCPT_HELD || r.next_attempt > now) {
		queue_rcpt_free(&r);
		return;
	}
	dm->rcpts = xreallocarray(dm->rcpts, dm->nrcpt + 1, sizeof(r));
	dm->res = xreallocarray(dm->res, dm->nrcpt + 1, sizeof(*dm->res));
	dm->rcpts[dm->nrcpt] = r;
	memset(&dm->res[dm->nrcpt], 0, sizeof(*dm->res));
	dm->res[dm->nrcpt].pending = 1;
	(void)strlcpy(dm->res[dm->nrcpt].relay, "none",
	    sizeof(dm->res[0].relay));
	(void)strlcpy(dm->res[dm->nrcpt].tls, "none", sizeof(dm->res[0].tls));
	(void)strlcpy(dm->res[dm->nrcpt].auth, "none", sizeof(dm->res[0].auth));
	dm->nrcpt++;
}

void
djob_load(struct djob *dj)
{
	size_t	 i;
	int64_t	 now = (int64_t)time(NULL);

	dj->m = xcalloc(dj->job->nitems ? dj->job->nitems : 1,
	    sizeof(*dj->m));
	for (i = 0; i < dj->job->nitems; i++)
		rcpt_load(dj, &dj->job->items[i], now);
}

void
djob_free(struct djob *dj)
{
	size_t	 i, j;

	for (i = 0; i < dj->nm; i++) {
		for (j = 0; j < dj->m[i].nrcpt; j++)
			queue_rcpt_free(&dj->m[i].rcpts[j]);
		free(dj->m[i].rcpts);
		free(dj->m[i].res);
		free(dj->m[i].body);
		queue_msg_free(&dj->m[i].msg);
	}
	free(dj->m);
	dj->m = NULL;
	dj->nm = 0;
}

/* Every recipient still pending gets o (and resched when set). */
void
djob_settle_pending(struct djob *dj, const struct outcome *o, int resched)
{
	size_t	 i, j;

	for (i = 0; i < dj->nm; i++)
		for (j = 0; j < dj->m[i].nrcpt; j++)
			if (dj->m[i].res[j].pending) {
				dj->m[i].res[j].out = *o;
				dj->m[i].res[j].pending = 0;
				if (resched)
					dj->m[i].res[j].resched = 1;
				/* No remote reply: no Remote-MTA. */
				dj->m[i].res[j].remote[0] = '\0';
			}
}

int
djob_any_pending(const struct djob *dj)
{
	size_t	 i, j;

	for (i = 0; i < dj->nm; i++)
		for (j = 0; j < dj->m[i].nrcpt; j++)
			if (dj->m[i].res[j].pending)
				return 1;
	return 0;
}

int
djob_msg_pending(const struct dmsg *dm)
{
	size_t	 i;

	for (i = 0; i < dm->nrcpt; i++)
		if (dm->res[i].pending)
			return 1;
	return 0;
}

/*
 * The job's limits (dlimit.h), from its start: a tarpit that answers
 * each line just inside its timeout holds the worker this long at most.
 */
void
djob_limits(struct djob *dj)
{
	dj->lim.addr_limit = (unsigned)dj->conf->mx_address_limit;
	dj->lim.session_limit = (unsigned)dj->conf->mx_session_limit;
	dj->lim.deadline = mono_msec() + dj->conf->delivery_job_timeout *
	    1000LL;
}
