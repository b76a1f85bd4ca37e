/*
 * qfail: is the process that owns a queue lock still running?  Berkeley
 * DB's failchk asks this (DB_ENV->set_isalive) for every process in the
 * environment's thread table.  A zombie is dead: it holds nothing any
 * more and will never release what it held, and kill(pid, 0) would call
 * it alive until its parent reaps it (an orphan may wait long for that).
 * The system-specific part is here and nowhere else.
 */
#ifndef POSTERN_QFAIL_H
#define POSTERN_QFAIL_H

#include <stddef.h>
#include <sys/types.h>

/* 1 when pid runs (or may: a permission error counts as running), 0 when
 * it is gone or a zombie. */
int	qfail_pid_alive(pid_t);

/* Pure: the state letter of a Linux /proc/PID/stat text ("R", "S", "Z",
 * ...), found after the last ')' that closes the command name (which may
 * itself hold spaces and parentheses); 0 when the text has none. */
char	qfail_stat_state(const char *, size_t);
/* Pure: 1 when a /proc state letter means the process has ended (zombie
 * "Z", dead "X" or "x"). */
int	qfail_state_dead(char);

#endif
