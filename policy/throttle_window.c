/*
 * Learning a destination's count and window (include/throttle_window.h).
 */
#include <string.h>

#include "throttle_window.h"

void
tw_init(struct tw_state *st)
{
	memset(st, 0, sizeof(*st));
}

/* Full: the two oldest entries become one, at the later time for
 * pacing (they leave the window later) and the earlier for bounds. */
static void
log_push(struct tw_state *st, int64_t first, int64_t last, uint32_t n)
{
	struct tw_ent	*a, *b;

	if (st->nlog == TW_LOG) {
		a = &st->log[0];
		b = &st->log[1];
		if (a->first < b->first)
			b->first = a->first;
		if (a->last > b->last)
			b->last = a->last;
		b->n = b->n > UINT32_MAX - a->n ? UINT32_MAX : b->n + a->n;
		memmove(&st->log[0], &st->log[1],
		    (TW_LOG - 1) * sizeof(st->log[0]));
		st->nlog--;
	}
	st->log[st->nlog].first = first;
	st->log[st->nlog].last = last;
	st->log[st->nlog].n = n;
	st->nlog++;
}

/* The time of the k-th most recent acceptance (its entry's first or
 * last), or -1 when fewer were kept. */
static int64_t
nth_recent(const struct tw_state *st, uint32_t k, int use_first)
{
	uint64_t	 sum = 0;
	uint32_t	 i;

	for (i = st->nlog; i > 0; i--) {
		sum += st->log[i - 1].n;
		if (sum >= k)
			return use_first ? st->log[i - 1].first :
			    st->log[i - 1].last;
	}
	return -1;
}

/* Acceptances after t. */
static uint64_t
count_after(const struct tw_state *st, int64_t t)
{
	uint64_t	 sum = 0;
	uint32_t	 i;

	for (i = 0; i < st->nlog; i++)
		if (st->log[i].last > t)
			sum += st->log[i].n;
	return sum;
}

/* Acceptances reported wholly after t. */
static uint64_t
count_since(const struct tw_state *st, int64_t t)
{
	uint64_t	 sum = 0;
	uint32_t	 i;

	for (i = 0; i < st->nlog; i++)
		if (st->log[i].first > t)
			sum += st->log[i].n;
	return sum;
}

int64_t
tw_window(const struct tw_state *st, const struct tw_params *p)
{
	int64_t	 w;

	if (st->count == 0 || st->hi == 0)
		return 0;
	if (st->trial > 0)
		return st->trial;
	/* Below the remote's rate: the upper bound and a little more for
	 * the time a message takes to be counted at both ends. */
	w = st->hi + st->hi / 50 + 100;
	return w > p->max_window ? p->max_window : w;
}

static int
converged(const struct tw_state *st)
{
	return st->hi > 0 && st->hi - st->lo <= st->hi / 10;
}

/* Halves the interval between the bounds until it is a tenth of hi. */
static void
next_trial(struct tw_state *st)
{
	st->trial = 0;
	if (st->hi > 0 && st->lo > 0 && !converged(st))
		st->trial = st->lo + (st->hi - st->lo) / 2;
}

void
tw_accepted(struct tw_state *st, const struct tw_params *p, int64_t first,
    int64_t last, uint32_t n)
{
	int64_t		 a, w;
	uint64_t	 seen;
	int		 up = st->up_until > 0 && first <= st->up_until;

	if (n == 0)
		return;
	if (!up && st->count > 0 && (a = nth_recent(st, st->count, 1)) >= 0 &&
	    first - a > st->lo && first - a <= p->max_window &&
	    (st->hi == 0 || first - a < st->hi))
		st->hi = first - a;
	/* More than the count within the lower bound, which is shorter
	 * than the remote's window: the limit was raised. */
	if (up && (seen = count_since(st, last - st->lo) + n) > st->count)
		st->count = seen > UINT32_MAX ? UINT32_MAX : (uint32_t)seen;
	log_push(st, first, last, n);
	st->refusals = 0;
	st->blocked_until = 0;
	st->pause = 0;
	if (st->up_until > 0 && last > st->up_until)
		st->up_until = 0;
	if (converged(st) && st->up_until == 0) {
		w = tw_window(st, p);
		if (st->clean_since == 0)
			st->clean_since = first;
		else if (last - st->clean_since >= TW_PROBE_UP * w) {
			st->clean_since = 0;
			st->up_until = last + w;
		}
	}
	next_trial(st);
}

/* The first refusal after a burst: what it took since it began. */
static void
learn_count(struct tw_state *st, const struct tw_params *p, int64_t t)
{
	int64_t		 since = t - p->max_window;
	uint64_t	 seen;

	if (st->last_refusal > since)
		since = st->last_refusal;
	seen = count_after(st, since);
	if (seen > 0)
		st->count = seen > UINT32_MAX ? UINT32_MAX : (uint32_t)seen;
}

int64_t
tw_refused(struct tw_state *st, const struct tw_params *p, int64_t t)
{
	int64_t		 a, next;
	uint64_t	 seen;
	int		 was_up = st->up_until > 0 && t <= st->up_until,
			 was_spread = converged(st);

	if (st->refusals < UINT32_MAX)
		st->refusals++;
	st->up_until = 0;
	st->clean_since = 0;
	if (st->count == 0)
		learn_count(st, p, t);
	else if (!was_up && !was_spread && st->hi > 0 &&
	    (seen = count_after(st, t - st->hi)) > 0 && seen < st->count)
		st->count = (uint32_t)seen;	/* the limit went down */
	st->last_refusal = t;
	/* One more per window was too many: the count stands, and so do
	 * the bounds. */
	if (!was_up && st->count > 0 && (a = nth_recent(st, st->count, 0)) >= 0
	    && t - a > st->lo)
		st->lo = t - a;
	if (st->hi > 0 && st->lo >= st->hi)
		st->hi = 0;
	next_trial(st);
	if (st->count > 0 && st->hi > 0) {
		st->blocked_until = 0;
		(void)tw_budget(st, p, t, &next);
		return next;
	}
	st->pause = st->refusals == 1 || st->pause == 0 ? p->pause_min :
	    st->pause * 2;
	if (st->pause > p->pause_max)
		st->pause = p->pause_max;
	st->blocked_until = t + st->pause;
	return st->blocked_until;
}

/*
 * Paced evenly, not in bursts: one message per w / quota since the last
 * acceptance, and at most what one second of that rate carries at once
 * (the runner looks again every second), within what the window leaves.
 */
static uint32_t
spread(const struct tw_state *st, int64_t w, uint64_t quota, uint64_t left,
    int64_t now, int64_t *next)
{
	int64_t		 gap = w / (int64_t)quota, last;
	uint64_t	 k, burst = (quota * 1000 + (uint64_t)w - 1) / (uint64_t)w;

	if (gap < 1)
		gap = 1;
	if (st->nlog == 0)
		return (uint32_t)(left < burst ? left : burst);
	last = st->log[st->nlog - 1].last;
	if (now < last + gap) {
		*next = last + gap;
		return 0;
	}
	k = (uint64_t)((now - last) / gap);
	if (k > burst)
		k = burst;
	if (k > left)
		k = left;
	return (uint32_t)(k > UINT32_MAX - 1 ? UINT32_MAX - 1 : k);
}

uint32_t
tw_budget(const struct tw_state *st, const struct tw_params *p, int64_t now,
    int64_t *next)
{
	uint64_t	 used, quota;
	int64_t		 w;
	uint32_t	 i;

	*next = now;
	if (now < st->blocked_until) {
		*next = st->blocked_until;
		return 0;
	}
	if (st->count == 0)
		return UINT32_MAX;
	/* No upper bound yet: the probe, which carries up to a window's
	 * worth and stops at the first refusal. */
	if ((w = tw_window(st, p)) == 0)
		return st->count;
	quota = (uint64_t)st->count + (now <= st->up_until);
	used = count_after(st, now - w);
	if (used < quota && converged(st))
		return spread(st, w, quota, quota - used, now, next);
	if (used < quota)
		return (uint32_t)(quota - used > UINT32_MAX - 1 ?
		    UINT32_MAX - 1 : quota - used);
	for (i = 0; i < st->nlog; i++) {
		if (st->log[i].last <= now - w)
			continue;
		used -= st->log[i].n;
		if (used < quota) {
			*next = st->log[i].last + w;
			break;
		}
	}
	return 0;
}
