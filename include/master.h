/*
 * master: the parent of every postern process.  Binds the listeners as
 * root, makes the TLS context, drops privileges, runs queue recovery,
 * then forks the runner and one session process per connection, within
 * the caps on children overall and per client address (421 4.7.0 over
 * them).  Reaps children, and as a subreaper orphaned workers; releases
 * what dead processes held in the queue with failchk every second and
 * after each death, in a helper with a deadline (qwatch.h), checkpoints
 * on a timer, and restarts the runner.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

struct config;

/* Runs the daemon; returns only on failure to start (exit status). */
int	master_main(struct config *, int foreground);

#endif
