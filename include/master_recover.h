/*
 * master_recover: the master's side of the queue watch (qwatch.h):
 * failchk and checkpoint helpers started when due and killed past their
 * deadline, and the recovery of the queue, with every other process
 * stopped, when one of them says it is needed.
 */
#ifndef POSTERN_MASTER_RECOVER_H
#define POSTERN_MASTER_RECOVER_H

struct master;

/* The failchk or checkpoint helper ended with status. */
void	master_helper_done(struct master *, int status);
/* Starts or kills a helper as qwatch_next() says. */
void	master_watch_queue(struct master *);
void	master_recover_queue(struct master *);

#endif
