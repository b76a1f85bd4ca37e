/*
 * runner_tables: the tables the runner and its workers use
 * (tls_policy_file, transport_table, destination_limits), loaded at
 * start, on SIGHUP, and again while one is broken.  A bad file keeps the
 * table in force; with none to keep no delivery starts.  RUNNER_STATUS
 * (runner.h) in spool_dir says why for postern status.
 */
#ifndef POSTERN_RUNNER_TABLES_H
#define POSTERN_RUNNER_TABLES_H

struct runner;

/* start: the first load, which logs nothing when it works. */
void	runner_tables(struct runner *, int start);

#endif
