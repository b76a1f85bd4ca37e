/*
 * throttle_window: learns a destination's rate limit as a count and a
 * window (N messages per W), pure arithmetic on times in milliseconds.
 *
 * The model is a sliding window: the remote takes at most N messages in
 * any W.  A sender that keeps to it also keeps to a remote that counts in
 * fixed windows of W, since each fixed window is one such interval.
 *
 * - The first refusal after a burst gives N: what the destination took
 *   since the burst began.
 * - A refusal at t, with the N-th most recent acceptance at a, says the
 *   window is longer than t - a (the lower bound, lo).
 * - An acceptance at t, with the N-th most recent acceptance before it at
 *   a, says the window is at most t - a (the upper bound, hi).
 * - With no upper bound yet, a single probe goes after a pause that
 *   starts short and doubles while the destination still refuses.
 * - With both bounds, the window tried next halves the interval between
 *   them until hi - lo is within a tenth of hi; postern then paces at hi
 *   and a little more, and every TW_PROBE_UP windows without a refusal it
 *   tries one message more per window, so that a raised limit is found.
 * - A refusal at a spacing the upper bound called safe means the remote
 *   does not count as the model says (fixed windows, or a change): the
 *   upper bound is dropped and learned again by probing.
 */
#ifndef POSTERN_THROTTLE_WINDOW_H
#define POSTERN_THROTTLE_WINDOW_H

#include <stdint.h>

#define TW_LOG		32	/* acceptances remembered (merged when full) */
#define TW_PROBE_UP	8	/* clean windows before one more is tried */

/* Acceptances reported together: the first and last of them. */
struct tw_ent {
	int64_t		 first, last;
	uint32_t	 n;
};

struct tw_state {
	uint32_t	 count;		/* N; 0: not learned */
	int64_t		 lo, hi;	/* window bounds, ms; hi 0: unknown */
	int64_t		 trial;		/* window in force, ms (0: none) */
	int64_t		 pause;		/* probe pause, ms */
	int64_t		 blocked_until;	/* no connection before, ms */
	int64_t		 last_refusal;	/* ms, or 0 */
	uint32_t	 refusals;	/* consecutive */
	int64_t		 clean_since;	/* paced without a refusal since, ms */
	int64_t		 up_until;	/* count + 1 is tried until, ms */
	uint32_t	 nlog;
	struct tw_ent	 log[TW_LOG];	/* oldest first */
};

struct tw_params {
	int64_t		 max_window;	/* ms: upper bound, starting guess */
	int64_t		 pause_min;	/* ms: the first probe pause */
	int64_t		 pause_max;	/* ms */
};

void	tw_init(struct tw_state *);
/* n messages accepted between first and last (ms). */
void	tw_accepted(struct tw_state *, const struct tw_params *,
	    int64_t first, int64_t last, uint32_t n);
/* A rate-limit refusal at t (after the acceptances of the same
 * connection were reported).  Returns the time of the next attempt. */
int64_t	tw_refused(struct tw_state *, const struct tw_params *, int64_t t);
/* Messages that may go at now: 0 (then *next is when that changes) or a
 * number; UINT32_MAX when nothing was learned. */
uint32_t tw_budget(const struct tw_state *, const struct tw_params *,
	    int64_t now, int64_t *next);
/* The window postern paces at now, ms (0: none). */
int64_t	tw_window(const struct tw_state *, const struct tw_params *);

#endif
