/*
 * local_child: the local server's children, bounded.  Each request is
 * served by a root child that forks the delivery into a process group
 * of its own and watches it: past local_delivery_timeout, or when the
 * delivery worker that asked has gone away (its socket hung up), the
 * delivery is stopped and reported deferred.  Stopping is SIGTERM to
 * the delivery process, which kills the pipe command it is running
 * (that has a session of its own) and exits; an mbox or file append in
 * progress is finished first, never cut in half; after at most
 * LOCAL_TERM_GRACE seconds the whole group gets SIGKILL.  The server
 * runs at most max_deliveries such children (a deliver worker sends one
 * request at a time); a request over the cap is deferred at once.
 * The worker waits local_reply_wait() for the answer, longer than the
 * server can take, so that the worker never gives up on a delivery
 * that is still going to happen.
 */
#ifndef POSTERN_LOCAL_CHILD_H
#define POSTERN_LOCAL_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "mbox.h"

/* seconds: both lock waits of an append in progress, and some */
#define LOCAL_TERM_GRACE	(2 * LOCAL_LOCK_TRIES + 15)
#define LOCAL_REPLY_SLACK	30	/* seconds the worker adds */

/* Pure: may one more root child start while running are alive? */
int	local_child_admit(long long running, long long cap);
/* Pure: seconds the worker waits for the server's answer. */
long long local_reply_wait(long long delivery_timeout);

enum local_child_end {
	LOCAL_CHILD_DONE,	/* finished: its output is in buf */
	LOCAL_CHILD_TIMEOUT,	/* stopped at the deadline */
	LOCAL_CHILD_GONE,	/* stopped: watch hung up */
	LOCAL_CHILD_FAILED	/* not started (pipe, fork) */
};

/*
 * Runs fn(arg, out) in a child leading a new process group, reads what
 * it writes to out (at most len - 1 bytes kept, buf NUL-terminated),
 * and stops it as above at timeout seconds or when watch hangs up.
 * When it returns, the child is reaped and its group killed.
 */
enum local_child_end local_child_run(void (*fn)(void *, int), void *arg,
	    int watch, long long timeout, char *buf, size_t len);

/* In the delivery child.  hold/release: SIGTERM waits (around a fork,
 * an append); track: the pipe command running now (0: none), killed
 * with its process group on SIGTERM; exec_prep: in a command's child
 * before exec, SIGTERM back to its default and unblocked. */
void	local_child_hold(void);
void	local_child_release(void);
void	local_child_track(pid_t);
void	local_child_exec_prep(void);

#endif
