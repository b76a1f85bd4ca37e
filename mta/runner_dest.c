/*
 * What the runner knows of each next hop (runner_dest.h): its throttle,
 * kept in the queue across restarts, what its workers have under way,
 * and whether it is suspect now.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "deliver.h"
#include "dlimit.h"
#include "dtable.h"
#include "log.h"
#include "queue.h"
#include "runner_dest.h"
#include "runner_state.h"
#include "throttle.h"
#include "util.h"

#define DSTATE_PREFIX	"throttle/"

static void
dest_limits(const struct runner *r, const char *key,
    struct throttle_limits *lim)
{
	const char	*v;

	memset(lim, 0, sizeof(*lim));
	lim->window = r->conf->throttle_window;
	lim->backoff_min = r->conf->throttle_backoff_min;
	lim->backoff_max = r->conf->throttle_backoff_max;
	/* Checked when the table was loaded. */
	if ((v = dtable_lookup(&r->limits, key)) != NULL)
		(void)throttle_parse_limits(v, lim);
}

static int
dest_static(const struct throttle_limits *lim)
{
	return lim->per_minute || lim->per_hour || lim->per_day;
}

static void
dstate_load(struct runner *r, struct dstate *d)
{
	char		*key, *val;
	const char	*why;
	size_t		 len;

	key = xasprintf("%s%s", DSTATE_PREFIX, d->key);
	if (queue_kv_get(r->q, "destinations", key, &val, &len) == 0) {
		if ((why = throttle_decode(&d->st, val, len)) != NULL)
			log_warnx("runner: %s: throttle record dropped: %s",
			    d->key, why);
		free(val);
	}
	free(key);
}

struct dstate *
runner_dest_get(struct runner *r, const char *key)
{
	struct dstate	*d;

	for (d = r->dests; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->key = xstrdup(key);
	throttle_init(&d->st);
	dstate_load(r, d);
	d->last_used = (int64_t)time(NULL);
	d->next = r->dests;
	r->dests = d;
	return d;
}

/* Kept when there is something to remember: a block, a learned limit,
 * or counts a static limit needs after a restart. */
static void
dstate_save(struct runner *r, struct dstate *d,
    const struct throttle_limits *lim, int64_t now)
{
	char	 rec[THROTTLE_RECORD_MAX], *key;
	int	 n;

	key = xasprintf("%s%s", DSTATE_PREFIX, d->key);
	if (!throttle_active(&d->st, now) && !dest_static(lim))
		(void)queue_kv_del(r->q, "destinations", key);
	else if ((n = throttle_encode(&d->st, rec, sizeof(rec))) > 0 &&
	    queue_kv_put(r->q, "destinations", key, rec, (size_t)n) == -1)
		log_warnx("runner: %s: cannot save the throttle", d->key);
	free(key);
}

/* Forgets next hops idle for a window with nothing to remember. */
void
runner_dest_prune(struct runner *r, int64_t now)
{
	struct dstate	**p, *d;

	for (p = &r->dests; (d = *p) != NULL; ) {
		if (d->inflight == 0 && !throttle_active(&d->st, now) &&
		    now - d->last_used > r->conf->throttle_window) {
			*p = d->next;
			free(d->key);
			free(d);
			continue;
		}
		p = &d->next;
	}
}

void
runner_dest_free_all(struct runner *r)
{
	struct dstate	*d;

	while ((d = r->dests) != NULL) {
		r->dests = d->next;
		free(d->key);
		free(d);
	}
}

/* A worker's report: what was accepted counts, a rate-limit reply
 * teaches the limit and blocks the next hop. */
void
runner_dest_report(struct runner *r, const struct worker *w,
    const struct deliver_report *rep)
{
	struct throttle_limits	 lim;
	struct dstate		*d = runner_dest_get(r, w->dest);
	int64_t			 now = (int64_t)time(NULL), until;
	uint32_t		 prev;

	d->inflight = d->inflight > w->nmsgs ? d->inflight - w->nmsgs : 0;
	d->last_used = now;
	if (rep == NULL)
		return;
	/* Suspect until the retry after next is over: two retry_max (with
	 * jitter) and a job, so a destination that keeps deferring never
	 * looks fresh between its retries. */
	d->suspect_until = dlimit_after_report(d->suspect_until,
	    rep->accepted, rep->deferred, (int)rep->cut, mono_msec(),
	    (2 * r->conf->retry_max + r->conf->delivery_job_timeout) * 1000LL);
	dest_limits(r, w->dest, &lim);
	throttle_sent(&d->st, &lim, now, rep->accepted);
	if (rep->ratelimited) {
		prev = d->st.learned;
		until = throttle_deferred(&d->st, &lim, now);
		/* Workers still sending have not counted their messages
		 * yet: the limit is learned when the last one reports. */
		if (d->inflight > 0) {
			d->st.learned = prev;
			d->learn_pending = 1;
		}
		log_info("runner: %s: rate-limit reply after %u accepted "
		    "message(s) on %u connection(s) (%.200s): learned %u per "
		    "%llds, paced at %u, paused %llds (deferral %u)", w->dest,
		    rep->accepted, rep->connections, rep->reply,
		    d->st.learned, (long long)lim.window,
		    throttle_pace(d->st.learned), (long long)(until - now),
		    d->st.deferrals);
	}
	if (d->learn_pending && d->inflight == 0) {
		d->learn_pending = 0;
		throttle_learn(&d->st, &lim, now);
		log_info("runner: %s: learned %u per %llds after the workers "
		    "under way reported", w->dest, d->st.learned,
		    (long long)lim.window);
	}
	if (rep->ratelimited || rep->accepted > 0)
		dstate_save(r, d, &lim, now);
}

/*
 * How many messages the next hop may get now (throttle.h), less those
 * in flight; 0 keeps its recipients where they are in the queue.  Sets
 * *conc to its worker limit.  A new block is logged once.
 */
uint32_t
runner_dest_budget(struct runner *r, const char *key, size_t waiting, size_t *conc)
{
	struct throttle_limits	 lim;
	struct dstate		*d = runner_dest_get(r, key);
	int64_t			 now = (int64_t)time(NULL), next;
	uint32_t		 b;

	dest_limits(r, key, &lim);
	*conc = lim.concurrency ? lim.concurrency :
	    (size_t)r->conf->max_per_destination;
	/* A destination that limits our rate gets one connection at a
	 * time: what it accepted is then counted before it says no. */
	if (throttle_active(&d->st, now))
		*conc = 1;
	d->last_used = now;
	b = throttle_budget(&d->st, &lim, now, &next);
	if (b != THROTTLE_UNLIMITED)
		b = b > d->inflight ? b - d->inflight : 0;
	if (b > 0 || next <= now)
		return b;
	if (r->throttle_next == 0 || next < r->throttle_next)
		r->throttle_next = next;
	if (d->logged_block != next) {
		d->logged_block = next;
		log_info("runner: %s: throttled for %llds, %zu recipient(s) "
		    "wait (learned %u per %llds, deferral %u)", key,
		    (long long)(next - now), waiting, d->st.learned,
		    (long long)lim.window, d->st.deferrals);
	}
	return 0;
}

/*
 * Slow or suspect now (dlimit_suspect): the next hop deferred recently,
 * or one of its workers has run longer than twice client_timeout (one
 * stalled reply and more).
 */
int
runner_dest_suspect(struct runner *r, const char *key)
{
	struct dlimit_dest	 dd;
	size_t			 i;

	dd.suspect_until = runner_dest_get(r, key)->suspect_until;
	dd.oldest_start = 0;
	for (i = 0; i < r->nslots; i++)
		if (r->w[i].pid != 0 && strcmp(r->w[i].dest, key) == 0 &&
		    (dd.oldest_start == 0 || r->w[i].started < dd.oldest_start))
			dd.oldest_start = r->w[i].started;
	return dlimit_suspect(&dd, mono_msec(),
	    r->conf->client_timeout * 2000LL);
}
