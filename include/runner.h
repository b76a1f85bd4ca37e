/*
 * runner: the one scheduling process.  Finds due recipients in the queue,
 * groups them by next hop, and forks a deliver worker per batch within
 * the overall and per-destination limits.  Wakes on the wake pipe (new
 * mail), on SIGUSR1 (flush), or at the next due time.
 */
#ifndef POSTERN_RUNNER_H
#define POSTERN_RUNNER_H

struct config;

/* In spool_dir while a table does not load: the reason, one line, for
 * postern status.  Absent when every table is in force. */
#define RUNNER_STATUS	"runner.status"

_Noreturn void	runner_main(const struct config *, int wake_fd);

#endif
