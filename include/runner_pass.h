/*
 * runner_pass: one pass of the runner.  Reads the due part of the
 * schedule, leaves out what is in flight, groups the rest by next hop
 * and hands batches to workers, round robin, within the limits overall,
 * per next hop (throttle.h) and the reserve for DSNs (dlimit.h).
 */
#ifndef POSTERN_RUNNER_PASS_H
#define POSTERN_RUNNER_PASS_H

struct runner;

/* Sets r->blocked when due work had to stay behind. */
void	runner_pass(struct runner *);

#endif
