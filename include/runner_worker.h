/*
 * runner_worker: the runner's deliver workers (deliver.h), one batch of
 * one next hop each.  A worker dies with its runner; its report comes
 * back on a pipe, read when it is reaped.  When a worker fails its
 * recipients stay queued, paused for a while (runner_inflight.h).
 */
#ifndef POSTERN_RUNNER_WORKER_H
#define POSTERN_RUNNER_WORKER_H

#include <stddef.h>

struct due;
struct runner;
struct worker;

/* Forks a worker for v[0..n) of next hop key.  0, or -1 when no worker
 * could be made. */
int	runner_worker_spawn(struct runner *, const char *key,
	    const struct due *v, size_t n);
/* Frees a slot and closes its report pipe. */
void	runner_worker_clear(struct worker *);
/* Reaps every worker that ended, without waiting. */
void	runner_reap(struct runner *);

#endif
