/*
 * control: the administrator's commands on the queue — list (mailq),
 * flush, hold, release, delete.  They work on the queue directly, as the
 * queue's owner, whether or not the daemon runs, and poke a running
 * daemon (SIGUSR1 via the pidfile) so that flushed mail goes out now.
 */
#ifndef POSTERN_CONTROL_H
#define POSTERN_CONTROL_H

struct config;

/* argv[0] is the command name.  Returns an exit status (sysexits.h). */
int	control_main(const struct config *, int argc, char **argv);

#endif
