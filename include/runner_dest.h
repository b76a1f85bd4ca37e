/*
 * runner_dest: what the runner knows of each next hop (struct dstate):
 * its throttle (throttle.h), saved in the queue's "destinations" table
 * so a learned limit survives restarts; the messages handed to workers
 * that have not reported (they count against the budget); and whether
 * it is suspect now, slow or deferring (dlimit.h).
 */
#ifndef POSTERN_RUNNER_DEST_H
#define POSTERN_RUNNER_DEST_H

#include <stddef.h>
#include <stdint.h>

struct deliver_report;
struct runner;
struct worker;

/* The next hop's state, loaded from the queue the first time. */
struct dstate	*runner_dest_get(struct runner *, const char *key);
/* A worker's report (NULL: it wrote none): what was accepted counts, a
 * rate-limit reply teaches the limit and blocks the next hop. */
void	runner_dest_report(struct runner *, const struct worker *,
	    const struct deliver_report *);
/* How many messages the next hop may get now, less those in flight; 0
 * keeps its recipients in the queue.  *conc: its worker limit. */
uint32_t runner_dest_budget(struct runner *, const char *key, size_t waiting,
	    size_t *conc);
/* Slow or deferring now (dlimit_suspect). */
int	runner_dest_suspect(struct runner *, const char *key);
/* Forgets next hops idle for a window with nothing to remember. */
void	runner_dest_prune(struct runner *, int64_t now);
void	runner_dest_free_all(struct runner *);

#endif
