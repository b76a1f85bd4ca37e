/*
 * runner_inflight: the recipients the runner has handed to a worker,
 * keyed by qid + index, so that a pass leaves them out; and those it
 * pauses after their worker failed, so a crashing batch cannot spin.
 * A paused entry (pid 0) ends at its hold_until or at a flush.
 */
#ifndef POSTERN_RUNNER_INFLIGHT_H
#define POSTERN_RUNNER_INFLIGHT_H

#include <sys/types.h>

#include <stdint.h>

struct runner;

/* Where qid + idx is, or would go: *slot is NULL when it is not there. */
struct inflight **runner_inflight_slot(struct runner *, const char *qid,
	    uint32_t idx);
/* Handed to worker pid; a pause it was in ends. */
void	runner_inflight_add(struct runner *, const char *qid, uint32_t idx,
	    pid_t pid);
void	runner_inflight_del(struct runner *, const char *qid, uint32_t idx);
/* Its worker failed: paused until (seconds); no-op unless in flight. */
void	runner_inflight_pause(struct runner *, const char *qid, uint32_t idx,
	    int64_t until);
/* Drops pauses that are over (all of them when all is set); returns the
 * earliest pause still running, or 0. */
int64_t	runner_inflight_unpause(struct runner *, int64_t now, int all);

#endif
