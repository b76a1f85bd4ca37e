/*
 * The runner: the one scheduling process.  Each pass reads the due part
 * of the schedule, leaves out what is already in flight, groups the rest
 * by next hop, and forks a deliver worker per batch within max_deliveries
 * overall and max_per_destination per next hop.  Between passes it sleeps
 * in poll() on the wake pipe (new mail), a self-pipe fed by its signal
 * handlers (SIGCHLD, SIGUSR1 flush, SIGHUP reload of the TLS policy
 * table, SIGTERM stop) and the time of the next due entry.
 *
 * Nothing is lost when a worker dies: its recipients were never retired,
 * so they are due again at their unchanged next attempt; the runner only
 * pauses them briefly so a crashing batch cannot spin.  The locks a
 * dead worker held are released by the master's failchk (qwatch.h), in
 * a helper with a deadline: failchk here could hang the runner.
 * Checkpoints are the master's too, so they go on while no runner runs.
 *
 * This file is the main loop, its signals, sleeping and stopping; a pass
 * is runner_pass.c, the workers runner_worker.c, the in-flight set and
 * its pauses runner_inflight.c, each next hop's state runner_dest.c, the
 * tables and the status file runner_tables.c (runner_state.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "deliver.h"
#include "dtable.h"
#include "log.h"
#include "queue.h"
#include "reload.h"
#include "runner.h"
#include "runner_dest.h"
#include "runner_inflight.h"
#include "runner_pass.h"
#include "runner_state.h"
#include "runner_tables.h"
#include "runner_worker.h"
#include "util.h"

#define RUNNER_PRUNE		60	/* seconds between throttle prunes */
#define RUNNER_BUSY_WAIT	2	/* seconds between passes while the due
					 * work is in flight or throttled */
#define RUNNER_STOP_WAIT	5	/* seconds workers get at shutdown (the
					 * master waits 10 in all) */
#define RUNNER_KILL_WAIT	2	/* after SIGTERM, before SIGKILL */

static int	 sigpipe[2] = { -1, -1 };
/* Caught by the runner, back to their default in a worker. */
static const int sigs[] = { SIGCHLD, SIGUSR1, SIGTERM, SIGHUP, SIGINT };

static void
sig_handler(int sig)
{
	int		 saved = errno;
	unsigned char	 c = (unsigned char)sig;

	/* A full pipe already holds a wake-up: dropping this one is fine. */
	(void)write(sigpipe[1], &c, 1);
	errno = saved;
}

void
runner_set_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("runner: fcntl");
}

static void
signals_setup(void)
{
	struct sigaction	 sa;
	size_t			 i;

	if (pipe(sigpipe) == -1)
		fatal("runner: pipe");
	runner_set_nonblock(sigpipe[0]);
	runner_set_nonblock(sigpipe[1]);
	(void)fcntl(sigpipe[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(sigpipe[1], F_SETFD, FD_CLOEXEC);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = sig_handler;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			fatal("runner: sigaction");
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
}

void
runner_signals_child(void)
{
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
	(void)close(sigpipe[0]);
	(void)close(sigpipe[1]);
}

/* ---- sleeping ------------------------------------------------------------ */

/* Seconds until the next pass is due. */
static int64_t
next_wait(struct runner *r, int64_t now, int64_t paused_until)
{
	int64_t	 t = r->conf->queue_run_interval > 0 ?
	    r->conf->queue_run_interval : 60;
	int64_t	 nd = queue_next_due(r->q);

	/* Due now but in flight, throttled or paused: wait for a worker
	 * to finish (SIGCHLD) or look again shortly; never spin. */
	if (nd > 0 && nd <= now)
		t = RUNNER_BUSY_WAIT;
	else if (nd > now && nd - now < t)
		t = nd - now;
	if (paused_until > 0 && paused_until - now < t)
		t = paused_until - now;
	/* A throttle ends: its next hop goes on without waiting. */
	if (r->throttle_next > 0 && r->throttle_next - now < t)
		t = r->throttle_next - now;
	if (r->next_prune - now < t)
		t = r->next_prune - now;
	return t < 1 ? 1 : t;
}

static void
drain_wake(struct runner *r)
{
	char	 b[256];
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 64; i++) {
		n = read(r->wake_fd, b, sizeof(b));
		if (n > 0)
			continue;
		if (n == 0) {
			log_warnx("runner: master went away, stopping");
			r->stopping = 1;
		}
		return;
	}
}

static void
on_signal(struct runner *r, int sig)
{
	int	 n;

	switch (sig) {
	case SIGCHLD:
		runner_reap(r);
		break;
	case SIGUSR1:
		/* Flush: everything deferred is due now, pauses end too. */
		if ((n = queue_flush(r->q, NULL)) == -1)
			log_warnx("runner: flush failed");
		else
			log_info("runner: flush: %d recipient(s) due now", n);
		(void)runner_inflight_unpause(r, 0, 1);
		(void)deliver_forget_down(r->q);
		break;
	case SIGHUP:
		/* Its own copy of postern.conf, for the workers it forks. */
		(void)reload_runner((struct config *)(uintptr_t)r->conf);
		runner_tables(r, 0);
		break;
	case SIGTERM:
	case SIGINT:
		r->stopping = 1;
		break;
	}
}

static void
drain_signals(struct runner *r)
{
	unsigned char	 b[64];
	ssize_t		 n, i;
	int		 rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		if ((n = read(sigpipe[0], b, sizeof(b))) <= 0)
			return;
		for (i = 0; i < n; i++)
			on_signal(r, b[i]);
	}
}

static void
sleep_once(struct runner *r, int64_t seconds)
{
	struct pollfd	 pfd[2];
	int		 n;

	pfd[0].fd = r->wake_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sigpipe[0];
	pfd[1].events = POLLIN;
	n = poll(pfd, 2, (int)(seconds * 1000));
	if (n == -1 && errno != EINTR)
		fatal("runner: poll");
	if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP)))
		drain_wake(r);
	drain_signals(r);
}

/* ---- stopping ------------------------------------------------------------- */

static void
signal_workers(struct runner *r, int sig)
{
	size_t	 i;

	for (i = 0; i < r->nslots; i++)
		if (r->w[i].pid != 0)
			(void)kill(r->w[i].pid, sig);
}

/* Waits up to ms for the workers to finish; returns how many remain. */
static size_t
wait_workers(struct runner *r, int64_t ms)
{
	int64_t		 deadline = mono_msec() + ms;
	struct pollfd	 pfd;

	while (r->running > 0 && mono_msec() < deadline) {
		pfd.fd = sigpipe[0];
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, 200);
		drain_signals(r);
		runner_reap(r);
	}
	return r->running;
}

static _Noreturn void
runner_stop(struct runner *r)
{
	size_t	 i;

	/* A normal stop is one line, the master's; busy workers are news. */
	if (r->running > 0)
		log_info("runner: stopping, %zu worker(s) running", r->running);
	if (wait_workers(r, RUNNER_STOP_WAIT * 1000) > 0) {
		log_warnx("runner: %zu worker(s) still busy, terminating",
		    r->running);
		signal_workers(r, SIGTERM);
		if (wait_workers(r, RUNNER_KILL_WAIT * 1000) > 0) {
			signal_workers(r, SIGKILL);
			(void)wait_workers(r, RUNNER_KILL_WAIT * 1000);
		}
	}
	(void)runner_inflight_unpause(r, 0, 1);
	for (i = 0; i < RUNNER_BUCKETS; i++)
		while (r->bucket[i] != NULL)
			runner_inflight_del(r, r->bucket[i]->qid, r->bucket[i]->idx);
	for (i = 0; i < r->nslots; i++)
		runner_worker_clear(&r->w[i]);
	free(r->w);
	runner_dest_free_all(r);
	dtable_free(&r->transport);
	dtable_free(&r->limits);
	queue_close(r->q);
	log_debug("runner: stopped");
	exit(0);
}

/* ---- main ----------------------------------------------------------------- */

_Noreturn void
runner_main(const struct config *conf, int wake_fd)
{
	struct runner	 r;
	char		 err[256];
	int64_t		 now, paused_until;
	size_t		 i;

	memset(&r, 0, sizeof(r));
	r.conf = conf;
	r.wake_fd = wake_fd;
	r.nslots = conf->max_deliveries > 0 ? (size_t)conf->max_deliveries : 1;
	r.w = xcalloc(r.nslots, sizeof(*r.w));
	for (i = 0; i < r.nslots; i++)
		r.w[i].report_fd = -1;
	signals_setup();
	runner_set_nonblock(wake_fd);
	if (queue_open(&r.q, conf->spool_dir, 0, err, sizeof(err)) == -1)
		fatalx("runner: queue: %s", err);
	r.next_prune = (int64_t)time(NULL) + RUNNER_PRUNE;
	runner_tables(&r, 1);
	log_info("runner: started, %zu worker(s) at most", r.nslots);
	while (!r.stopping) {
		runner_reap(&r);
		now = (int64_t)time(NULL);
		if (now >= r.next_prune) {
			runner_dest_prune(&r, now);
			r.next_prune = now + RUNNER_PRUNE;
		}
		if (r.tables_bad && now >= r.tables_retry)
			runner_tables(&r, 0);
		paused_until = runner_inflight_unpause(&r, now, 0);
		if (!r.tables_ok) {
			sleep_once(&r, r.tables_retry - now > 0 ?
			    r.tables_retry - now : 1);
			continue;
		}
		runner_pass(&r);
		sleep_once(&r, next_wait(&r, (int64_t)time(NULL),
		    paused_until));
	}
	runner_stop(&r);
}
