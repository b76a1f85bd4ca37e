/*
 * One pass of the runner (runner_pass.h): the due recipients not in
 * flight, sorted by next hop, then batches handed to workers round
 * robin within each next hop's budget, concurrency and the reserve.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dlimit.h"
#include "dtable.h"
#include "log.h"
#include "queue.h"
#include "relay.h"
#include "runner_dest.h"
#include "runner_inflight.h"
#include "runner_pass.h"
#include "runner_state.h"
#include "runner_worker.h"
#include "throttle.h"
#include "util.h"

#define RUNNER_DUE_MAX		10000	/* schedule entries read per pass */

struct collect {
	struct runner	*r;
	struct due	*v;
	size_t		 n, cap;
};

static size_t
dest_running(const struct runner *r, const char *key)
{
	size_t	 i, n = 0;

	for (i = 0; i < r->nslots; i++)
		if (r->w[i].pid != 0 && strcmp(r->w[i].dest, key) == 0)
			n++;
	return n;
}

/* The next hop: everything but local domains and transport_table
 * domains goes to the relayhost when there is one; the recipient keeps
 * its own dest for the log. */
static const char *
dest_key(const struct config *conf, const struct dtable *transport,
    const char *dest)
{
	if (conf->relayhost != NULL && conf->relayhost[0] != '\0' &&
	    !relay_domain_local(conf, dest) &&
	    dtable_lookup(transport, dest) == NULL)
		return conf->relayhost;
	return dest;
}

static int
collect_cb(void *arg, const struct qdue *d)
{
	struct collect	*c = arg;
	struct due	*e;

	if (*runner_inflight_slot(c->r, d->qid, d->idx) != NULL)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	e = &c->v[c->n++];
	memcpy(e->qid, d->qid, sizeof(e->qid));
	e->idx = d->idx;
	e->dsn = 0;
	e->key = xstrdup(dest_key(c->r->conf, &c->r->transport,
	    d->dest ? d->dest : ""));
	return 0;
}

/* Next hop, then qid (arrival order: oldest first), then index. */
static int
due_cmp(const void *a, const void *b)
{
	const struct due	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	if ((c = strcmp(x->qid, y->qid)) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Items from v[0..n) making at most max_batch messages (all their
 * recipients for this next hop). */
static size_t
batch_len(const struct due *v, size_t n, long long max_batch)
{
	size_t		 i;
	long long	 msgs = 0;

	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(v[i].qid, v[i - 1].qid) != 0) {
			if (msgs == max_batch)
				break;
			msgs++;
		}
	}
	return i;
}

/* Group boundaries: start[g] for each run of one next hop. */
static size_t
group_starts(const struct due *v, size_t n, size_t *start)
{
	size_t	 i, g = 0;

	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i].key, v[i - 1].key) != 0)
			start[g++] = i;
	return g;
}

/* Puts the DSNs (null sender) of v[0..n) first, each part in its order
 * (a message's recipients stay together), marking them.  A message that
 * cannot be read is taken as no DSN: it waits like the rest. */
static void
dsn_first(struct runner *r, struct due *v, size_t n)
{
	struct qmsg	 m;
	struct due	*tmp;
	size_t		 i, k = 0;

	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(v[i].qid, v[i - 1].qid) == 0) {
			v[i].dsn = v[i - 1].dsn;
			continue;
		}
		v[i].dsn = 0;
		if (queue_get_msg(r->q, v[i].qid, &m) == 0) {
			v[i].dsn = m.sender[0] == '\0';
			queue_msg_free(&m);
		}
	}
	tmp = xcalloc(n ? n : 1, sizeof(*tmp));
	for (i = 0; i < n; i++)
		if (v[i].dsn)
			tmp[k++] = v[i];
	for (i = 0; i < n; i++)
		if (!v[i].dsn)
			tmp[k++] = v[i];
	memcpy(v, tmp, n * sizeof(*v));
	free(tmp);
}

/*
 * How many of v[cur..end) (one next hop) may go to a worker now under
 * the reserve (dlimit_admit): all, only the DSNs (sorted to the front
 * the first time they are needed, *sorted), or none.
 */
static size_t
dest_admit(struct runner *r, struct due *v, size_t cur, size_t end,
    char *sorted)
{
	struct dlimit_slots	 s;
	size_t			 k;
	int			 suspect;

	s.running = r->running;
	s.max = (size_t)r->conf->max_deliveries;
	s.reserve = (size_t)r->conf->delivery_reserve;
	suspect = runner_dest_suspect(r, v[cur].key);
	if (dlimit_admit(&s, suspect, 0))
		return end - cur;
	if (!suspect || !dlimit_admit(&s, suspect, 1))
		return 0;
	if (!*sorted) {
		dsn_first(r, &v[cur], end - cur);
		*sorted = 1;
	}
	for (k = cur; k < end && v[k].dsn; k++)
		;
	if (k == cur)
		log_debug("runner: %s: slow, waits outside the reserve",
		    v[cur].key);
	return k - cur;
}

/*
 * Round robin over next hops, one batch each per round, so one busy
 * destination cannot take every worker.  A throttled next hop is left
 * out without touching its recipients, so it slows nobody else down.
 * Sets r->blocked when due work had to stay behind (limits reached or
 * fork failed).
 */
static void
dispatch(struct runner *r, struct due *v, size_t n)
{
	const struct config	*conf = r->conf;
	size_t			*start, *cur, ng, g, end, len, conc, avail;
	char			*sorted;
	long long		 maxb;
	uint32_t		 budget;
	int			 progress = 1;

	start = xcalloc(n + 1, sizeof(*start));
	cur = xcalloc(n + 1, sizeof(*cur));
	sorted = xcalloc(n + 1, 1);
	ng = group_starts(v, n, start);
	start[ng] = n;
	memcpy(cur, start, (ng + 1) * sizeof(*cur));
	while (progress && !r->stopping) {
		progress = 0;
		for (g = 0; g < ng; g++) {
			end = start[g + 1];
			if (cur[g] == end || (avail = dest_admit(r, v, cur[g],
			    end, &sorted[g])) == 0)
				continue;
			budget = runner_dest_budget(r, v[cur[g]].key, end - cur[g],
			    &conc);
			if (budget == 0 ||
			    dest_running(r, v[cur[g]].key) >= conc)
				continue;
			maxb = conf->max_batch;
			if (budget != THROTTLE_UNLIMITED && budget < maxb)
				maxb = budget;
			len = batch_len(&v[cur[g]], avail, maxb);
			/* Under load, fill batches: while a worker serves
			 * this next hop, another starts only with a full
			 * batch; the rest waits for a running one to end and
			 * then goes out over one connection. */
			if (cur[g] + len == end &&
			    dest_running(r, v[cur[g]].key) > 0)
				continue;
			if (runner_worker_spawn(r, v[cur[g]].key, &v[cur[g]], len))
				goto done;
			cur[g] += len;
			progress = 1;
		}
	}
 done:
	r->blocked = 0;
	for (g = 0; g < ng; g++)
		if (cur[g] != start[g + 1])
			r->blocked = 1;
	free(start);
	free(cur);
	free(sorted);
}

void
runner_pass(struct runner *r)
{
	struct collect	 c;
	size_t		 i;
	int		 rc;

	if (r->stopping)
		return;
	r->throttle_next = 0;
	memset(&c, 0, sizeof(c));
	c.r = r;
	rc = queue_due(r->q, (int64_t)time(NULL), RUNNER_DUE_MAX, collect_cb,
	    &c);
	if (rc == -1)
		log_warnx("runner: reading the schedule failed");
	r->blocked = 0;
	if (c.n > 0) {
		qsort(c.v, c.n, sizeof(*c.v), due_cmp);
		dispatch(r, c.v, c.n);
	}
	if (rc == RUNNER_DUE_MAX)
		r->blocked = 1;
	for (i = 0; i < c.n; i++)
		free(c.v[i].key);
	free(c.v);
}
