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
 */
#include <sys/types.h>
#include <sys/wait.h>
#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sysexits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "deliver.h"
#include "dlimit.h"
#include "dtable.h"
#include "throttle.h"
#include "tls_table.h"
#include "log.h"
#include "queue.h"
#include "relay.h"
#include "reload.h"
#include "runner.h"
#include "util.h"

#define RUNNER_DUE_MAX		10000	/* schedule entries read per pass */
#define RUNNER_BUCKETS		1024	/* in-flight hash, power of two */
#define RUNNER_PRUNE		60	/* seconds between throttle prunes */
#define RUNNER_TABLE_RETRY	60	/* seconds between loads of a broken
					 * table */
#define RUNNER_BUSY_WAIT	2	/* seconds between passes while the due
					 * work is in flight or throttled */
#define RUNNER_HOLD_MAX		60	/* pause after a failed worker */
#define RUNNER_STOP_WAIT	5	/* seconds workers get at shutdown (the
					 * master waits 10 in all) */
#define RUNNER_KILL_WAIT	2	/* after SIGTERM, before SIGKILL */

/* A recipient handed to a worker (pid), or paused after one failed. */
struct inflight {
	struct inflight	*next;
	char		 qid[QID_LEN + 1];
	uint32_t	 idx;
	pid_t		 pid;		/* 0: paused until hold_until */
	int64_t		 hold_until;
};

struct worker {
	pid_t			 pid;	/* 0: free slot */
	pid_t			 runner;	/* getpid() of the runner that forked it */
	char			*dest;
	struct deliver_item	*items;
	size_t			 nitems;
	uint32_t		 nmsgs;		/* messages in items */
	int			 report_fd;	/* read end; -1 */
	int64_t			 started;	/* mono_msec */
};

/*
 * What the runner knows of one next hop: its throttle (throttle.h), kept
 * in the queue's "destinations" table under "throttle/KEY" so that a
 * learned limit survives restarts, and the messages handed to workers
 * that have not reported yet (they count against the budget).
 */
struct dstate {
	struct dstate		*next;
	char			*key;
	struct throttle_state	 st;
	uint32_t		 inflight;
	int64_t			 last_used;
	int64_t			 logged_block;	/* block end last logged */
	int			 learn_pending;	/* deferral seen while other
						 * workers were still sending */
	int64_t			 suspect_until;	/* mono ms (dlimit.h) */
};

struct runner {
	const struct config	*conf;
	struct queue		*q;
	int			 wake_fd;
	struct inflight		*bucket[RUNNER_BUCKETS];
	size_t			 npaused;
	struct worker		*w;
	size_t			 nslots;
	size_t			 running;
	int			 stopping;
	int			 blocked;	/* due work left behind */
	int64_t			 next_prune;
	struct tls_table	 tls_table;	/* inherited by workers */
	struct dtable		 transport;	/* transport_table */
	struct dtable		 limits;	/* destination_limits */
	struct dstate		*dests;
	int64_t			 throttle_next;	/* earliest throttle end */
	int			 tables_ok;	/* loaded once: in force */
	int			 tables_bad;	/* the last load failed */
	int64_t			 tables_retry;
	char			 tables_why[512];
};

/* One due recipient, as a pass collects it. */
struct due {
	char		 qid[QID_LEN + 1];
	uint32_t	 idx;
	char		*key;	/* next hop */
	int		 dsn;	/* null sender; known once its group was
				 * sorted for the reserve (dest_admit) */
};

struct collect {
	struct runner	*r;
	struct due	*v;
	size_t		 n, cap;
};

static int	 sigpipe[2] = { -1, -1 };

static void
sig_handler(int sig)
{
	int		 saved = errno;
	unsigned char	 c = (unsigned char)sig;

	/* A full pipe already holds a wake-up: dropping this one is fine. */
	(void)write(sigpipe[1], &c, 1);
	errno = saved;
}

static void
set_nonblock(int fd)
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
	static const int	 sigs[] = { SIGCHLD, SIGUSR1, SIGTERM, SIGHUP,
	    SIGINT };
	size_t			 i;

	if (pipe(sigpipe) == -1)
		fatal("runner: pipe");
	set_nonblock(sigpipe[0]);
	set_nonblock(sigpipe[1]);
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

/* ---- the in-flight set, keyed by qid + idx ---------------------------- */

static size_t
inflight_hash(const char *qid, uint32_t idx)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */
	size_t		 i;

	for (i = 0; qid[i] != '\0'; i++)
		h = (h ^ (unsigned char)qid[i]) * 16777619u;
	for (i = 0; i < 4; i++)
		h = (h ^ ((idx >> (8 * i)) & 0xff)) * 16777619u;
	return h & (RUNNER_BUCKETS - 1);
}

static struct inflight **
inflight_slot(struct runner *r, const char *qid, uint32_t idx)
{
	struct inflight	**p = &r->bucket[inflight_hash(qid, idx)];

	for (; *p != NULL; p = &(*p)->next)
		if ((*p)->idx == idx && strcmp((*p)->qid, qid) == 0)
			break;
	return p;
}

static void
inflight_add(struct runner *r, const char *qid, uint32_t idx, pid_t pid)
{
	struct inflight	**p = inflight_slot(r, qid, idx), *e;

	if ((e = *p) == NULL) {
		e = xcalloc(1, sizeof(*e));
		(void)strlcpy(e->qid, qid, sizeof(e->qid));
		e->idx = idx;
		*p = e;
	} else if (e->pid == 0)
		r->npaused--;
	e->pid = pid;
}

static void
inflight_del(struct runner *r, const char *qid, uint32_t idx)
{
	struct inflight	**p = inflight_slot(r, qid, idx), *e;

	if ((e = *p) == NULL)
		return;
	if (e->pid == 0)
		r->npaused--;
	*p = e->next;
	free(e);
}

static void
inflight_pause(struct runner *r, const char *qid, uint32_t idx, int64_t until)
{
	struct inflight	*e = *inflight_slot(r, qid, idx);

	if (e == NULL || e->pid == 0)
		return;
	e->pid = 0;
	e->hold_until = until;
	r->npaused++;
}

/* Drops pauses that are over (all of them when all is set); returns the
 * earliest pause still running, or 0. */
static int64_t
inflight_unpause(struct runner *r, int64_t now, int all)
{
	struct inflight	**p, *e;
	int64_t		 earliest = 0;
	size_t		 b;

	for (b = 0; b < RUNNER_BUCKETS && r->npaused > 0; b++) {
		for (p = &r->bucket[b]; (e = *p) != NULL; ) {
			if (e->pid == 0 && (all || e->hold_until <= now)) {
				*p = e->next;
				free(e);
				r->npaused--;
				continue;
			}
			if (e->pid == 0 && (earliest == 0 ||
			    e->hold_until < earliest))
				earliest = e->hold_until;
			p = &e->next;
		}
	}
	return earliest;
}

/* ---- destination throttles ---------------------------------------------- */

#define DSTATE_PREFIX	"throttle/"

static void
dest_limits(const struct runner *r, const char *key,
    struct throttle_limits *lim)
{
	const char	*v;

	memset(lim, 0, sizeof(*lim));
	lim->window = r->conf->throttle_window;
	lim->backoff_min = r->conf->throttle_backoff_min;
	lim->backoff_max = r->conf->throttle_backoff_max;
	/* Checked when the table was loaded. */
	if ((v = dtable_lookup(&r->limits, key)) != NULL)
		(void)throttle_parse_limits(v, lim);
}

static int
dest_static(const struct throttle_limits *lim)
{
	return lim->per_minute || lim->per_hour || lim->per_day;
}

static void
dstate_load(struct runner *r, struct dstate *d)
{
	char		*key, *val;
	const char	*why;
	size_t		 len;

	key = xasprintf("%s%s", DSTATE_PREFIX, d->key);
	if (queue_kv_get(r->q, "destinations", key, &val, &len) == 0) {
		if ((why = throttle_decode(&d->st, val, len)) != NULL)
			log_warnx("runner: %s: throttle record dropped: %s",
			    d->key, why);
		free(val);
	}
	free(key);
}

static struct dstate *
dstate_get(struct runner *r, const char *key)
{
	struct dstate	*d;

	for (d = r->dests; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->key = xstrdup(key);
	throttle_init(&d->st);
	dstate_load(r, d);
	d->last_used = (int64_t)time(NULL);
	d->next = r->dests;
	r->dests = d;
	return d;
}

/* Kept when there is something to remember: a block, a learned limit,
 * or counts a static limit needs after a restart. */
static void
dstate_save(struct runner *r, struct dstate *d,
    const struct throttle_limits *lim, int64_t now)
{
	char	 rec[THROTTLE_RECORD_MAX], *key;
	int	 n;

	key = xasprintf("%s%s", DSTATE_PREFIX, d->key);
	if (!throttle_active(&d->st, now) && !dest_static(lim))
		(void)queue_kv_del(r->q, "destinations", key);
	else if ((n = throttle_encode(&d->st, rec, sizeof(rec))) > 0 &&
	    queue_kv_put(r->q, "destinations", key, rec, (size_t)n) == -1)
		log_warnx("runner: %s: cannot save the throttle", d->key);
	free(key);
}

/* Forgets next hops idle for a window with nothing to remember. */
static void
dstate_prune(struct runner *r, int64_t now)
{
	struct dstate	**p, *d;

	for (p = &r->dests; (d = *p) != NULL; ) {
		if (d->inflight == 0 && !throttle_active(&d->st, now) &&
		    now - d->last_used > r->conf->throttle_window) {
			*p = d->next;
			free(d->key);
			free(d);
			continue;
		}
		p = &d->next;
	}
}

static void
dstate_free_all(struct runner *r)
{
	struct dstate	*d;

	while ((d = r->dests) != NULL) {
		r->dests = d->next;
		free(d->key);
		free(d);
	}
}

/* A worker's report: what was accepted counts, a rate-limit reply
 * teaches the limit and blocks the next hop. */
static void
dstate_report(struct runner *r, const struct worker *w,
    const struct deliver_report *rep)
{
	struct throttle_limits	 lim;
	struct dstate		*d = dstate_get(r, w->dest);
	int64_t			 now = (int64_t)time(NULL), until;
	uint32_t		 prev;

	d->inflight = d->inflight > w->nmsgs ? d->inflight - w->nmsgs : 0;
	d->last_used = now;
	if (rep == NULL)
		return;
	/* Suspect until the retry after next is over: two retry_max (with
	 * jitter) and a job, so a destination that keeps deferring never
	 * looks fresh between its retries. */
	d->suspect_until = dlimit_after_report(d->suspect_until,
	    rep->accepted, rep->deferred, (int)rep->cut, mono_msec(),
	    (2 * r->conf->retry_max + r->conf->delivery_job_timeout) * 1000LL);
	dest_limits(r, w->dest, &lim);
	throttle_sent(&d->st, &lim, now, rep->accepted);
	if (rep->ratelimited) {
		prev = d->st.learned;
		until = throttle_deferred(&d->st, &lim, now);
		/* Workers still sending have not counted their messages
		 * yet: the limit is learned when the last one reports. */
		if (d->inflight > 0) {
			d->st.learned = prev;
			d->learn_pending = 1;
		}
		log_info("runner: %s: rate-limit reply after %u accepted "
		    "message(s) on %u connection(s) (%.200s): learned %u per "
		    "%llds, paced at %u, paused %llds (deferral %u)", w->dest,
		    rep->accepted, rep->connections, rep->reply,
		    d->st.learned, (long long)lim.window,
		    throttle_pace(d->st.learned), (long long)(until - now),
		    d->st.deferrals);
	}
	if (d->learn_pending && d->inflight == 0) {
		d->learn_pending = 0;
		throttle_learn(&d->st, &lim, now);
		log_info("runner: %s: learned %u per %llds after the workers "
		    "under way reported", w->dest, d->st.learned,
		    (long long)lim.window);
	}
	if (rep->ratelimited || rep->accepted > 0)
		dstate_save(r, d, &lim, now);
}

/* ---- workers ----------------------------------------------------------- */

static size_t
dest_running(const struct runner *r, const char *key)
{
	size_t	 i, n = 0;

	for (i = 0; i < r->nslots; i++)
		if (r->w[i].pid != 0 && strcmp(r->w[i].dest, key) == 0)
			n++;
	return n;
}

/*
 * A worker outliving its runner would race the next runner for the same
 * recipients (a second delivery while the first waits for its reply) and
 * would keep the queue open through a recovery.  It dies with the runner.
 */
static void
die_with_runner(pid_t runner)
{
#if defined(__linux__)
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
#elif defined(__FreeBSD__)
	int	 sig = SIGKILL;

	(void)procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig);
#endif
	/* The runner may already be gone: then so are we. */
	if (getppid() != runner)
		_exit(EX_TEMPFAIL);
}

/* In the child: no handle of the runner is used (queue, pipes); the
 * worker opens its own.  _exit() so nothing of the parent is flushed. */
static _Noreturn void
worker_child(struct runner *r, const struct worker *w)
{
	struct deliver_job	 job;
	struct sigaction	 sa;
	static const int	 sigs[] = { SIGCHLD, SIGUSR1, SIGTERM, SIGHUP,
	    SIGINT };
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
	(void)close(sigpipe[0]);
	(void)close(sigpipe[1]);
	(void)close(r->wake_fd);
	die_with_runner(w->runner);
	for (i = 0; i < r->nslots; i++)
		if (&r->w[i] != w && r->w[i].report_fd != -1)
			(void)close(r->w[i].report_fd);
	job.dest = w->dest;
	job.items = w->items;
	job.nitems = w->nitems;
	job.tls_table = &r->tls_table;
	job.transport = &r->transport;
	job.report_fd = w->report_fd;
	_exit(deliver_job_run(r->conf, &job));
}

static void
worker_clear(struct worker *w)
{
	free(w->dest);
	free(w->items);
	if (w->report_fd != -1)
		(void)close(w->report_fd);
	memset(w, 0, sizeof(*w));
	w->report_fd = -1;
}

/* The worker's report, written before it exited; NULL when there is
 * none (it failed before it could write one). */
static const struct deliver_report *
worker_report(struct worker *w, struct deliver_report *rep)
{
	ssize_t	 n;

	if (w->report_fd == -1)
		return NULL;
	n = read(w->report_fd, rep, sizeof(*rep));
	if (n != (ssize_t)sizeof(*rep))
		return NULL;
	rep->status[sizeof(rep->status) - 1] = '\0';
	rep->reply[sizeof(rep->reply) - 1] = '\0';
	return rep;
}

/* Forks a worker for v[0..n).  0, or -1 when no worker could be made. */
static int
worker_spawn(struct runner *r, const char *key, const struct due *v, size_t n)
{
	struct worker	*w = NULL;
	size_t		 i;
	pid_t		 pid;
	int		 fds[2];

	for (i = 0; i < r->nslots && w == NULL; i++)
		if (r->w[i].pid == 0)
			w = &r->w[i];
	if (w == NULL)
		return -1;
	w->dest = xstrdup(key);
	w->items = xcalloc(n, sizeof(*w->items));
	for (i = 0; i < n; i++) {
		memcpy(w->items[i].qid, v[i].qid, sizeof(w->items[i].qid));
		w->items[i].idx = v[i].idx;
	}
	w->nitems = n;
	w->nmsgs = 0;
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i].qid, v[i - 1].qid) != 0)
			w->nmsgs++;
	if (pipe(fds) == -1) {
		log_warn("runner: pipe for %s", key);
		worker_clear(w);
		return -1;
	}
	set_nonblock(fds[0]);
	(void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	w->report_fd = fds[1];
	w->runner = getpid();
	if ((pid = fork()) == -1) {
		log_warn("runner: fork for %s", key);
		(void)close(fds[0]);
		worker_clear(w);
		return -1;
	}
	if (pid == 0)
		worker_child(r, w);
	(void)close(fds[1]);
	w->report_fd = fds[0];
	dstate_get(r, key)->inflight += w->nmsgs;
	w->pid = pid;
	w->started = mono_msec();
	for (i = 0; i < n; i++)
		inflight_add(r, v[i].qid, v[i].idx, pid);
	r->running++;
	log_debug("runner: worker %ld for %s: %zu recipient(s)", (long)pid,
	    key, n);
	return 0;
}

/* How long a failed worker's recipients rest before they are tried. */
static int64_t
pause_len(const struct config *conf)
{
	return conf->retry_min > 0 && conf->retry_min < RUNNER_HOLD_MAX ?
	    conf->retry_min : RUNNER_HOLD_MAX;
}

static void
worker_done(struct runner *r, struct worker *w, int status)
{
	struct deliver_report	 rep;
	const struct deliver_report *rp = worker_report(w, &rep);
	int64_t	 until = (int64_t)time(NULL) + pause_len(r->conf);
	size_t	 i;
	int	 ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	/* One line per job: how long the next hop held the worker. */
	log_info("runner: %s: worker %ld done in %.1fs, %zu recipient(s), "
	    "%u connection(s)%s", w->dest, (long)w->pid,
	    (double)(mono_msec() - w->started) / 1000.0, w->nitems,
	    rp ? rp->connections : 0, rp && rp->cut ? ", cut by a limit" : "");
	dstate_report(r, w, rp);

	if (ok) {
		for (i = 0; i < w->nitems; i++)
			inflight_del(r, w->items[i].qid, w->items[i].idx);
	} else {
		if (WIFSIGNALED(status))
			log_warnx("runner: worker %ld for %s killed by signal "
			    "%d; its %zu recipient(s) stay queued",
			    (long)w->pid, w->dest, WTERMSIG(status),
			    w->nitems);
		else
			log_warnx("runner: worker %ld for %s exited with "
			    "status %d; its %zu recipient(s) stay queued",
			    (long)w->pid, w->dest, WEXITSTATUS(status),
			    w->nitems);
		for (i = 0; i < w->nitems; i++)
			inflight_pause(r, w->items[i].qid, w->items[i].idx,
			    until);
		/* Locks it may have left: the master's failchk (qwatch.h). */
	}
	r->running--;
	worker_clear(w);
}

static void
reap(struct runner *r)
{
	pid_t	 pid;
	int	 status;
	size_t	 i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < r->nslots; i++)
			if (r->w[i].pid == pid) {
				worker_done(r, &r->w[i], status);
				break;
			}
	}
}

/* ---- one pass ------------------------------------------------------------ */

/* The next hop: everything but local domains and transport_table
 * domains goes to the relayhost when there is one; the recipient keeps
 * its own dest for the log. */
static const char *
dest_key(const struct config *conf, const struct dtable *transport,
    const char *dest)
{
	if (conf->relayhost != NULL && conf->relayhost[0] != '\0' &&
	    !relay_domain_local(conf, dest) &&
	    dtable_lookup(transport, dest) == NULL)
		return conf->relayhost;
	return dest;
}

static int
collect_cb(void *arg, const struct qdue *d)
{
	struct collect	*c = arg;
	struct due	*e;

	if (*inflight_slot(c->r, d->qid, d->idx) != NULL)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	e = &c->v[c->n++];
	memcpy(e->qid, d->qid, sizeof(e->qid));
	e->idx = d->idx;
	e->dsn = 0;
	e->key = xstrdup(dest_key(c->r->conf, &c->r->transport,
	    d->dest ? d->dest : ""));
	return 0;
}

/* Next hop, then qid (arrival order: oldest first), then index. */
static int
due_cmp(const void *a, const void *b)
{
	const struct due	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	if ((c = strcmp(x->qid, y->qid)) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Items from v[0..n) making at most max_batch messages (all their
 * recipients for this next hop). */
static size_t
batch_len(const struct due *v, size_t n, long long max_batch)
{
	size_t		 i;
	long long	 msgs = 0;

	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(v[i].qid, v[i - 1].qid) != 0) {
			if (msgs == max_batch)
				break;
			msgs++;
		}
	}
	return i;
}

/* Group boundaries: start[g] for each run of one next hop. */
static size_t
group_starts(const struct due *v, size_t n, size_t *start)
{
	size_t	 i, g = 0;

	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i].key, v[i - 1].key) != 0)
			start[g++] = i;
	return g;
}

/*
 * How many messages the next hop may get now (throttle.h), less those
 * in flight; 0 keeps its recipients where they are in the queue.  Sets
 * *conc to its worker limit.  A new block is logged once.
 */
static uint32_t
dest_budget(struct runner *r, const char *key, size_t waiting, size_t *conc)
{
	struct throttle_limits	 lim;
	struct dstate		*d = dstate_get(r, key);
	int64_t			 now = (int64_t)time(NULL), next;
	uint32_t		 b;

	dest_limits(r, key, &lim);
	*conc = lim.concurrency ? lim.concurrency :
	    (size_t)r->conf->max_per_destination;
	/* A destination that limits our rate gets one connection at a
	 * time: what it accepted is then counted before it says no. */
	if (throttle_active(&d->st, now))
		*conc = 1;
	d->last_used = now;
	b = throttle_budget(&d->st, &lim, now, &next);
	if (b != THROTTLE_UNLIMITED)
		b = b > d->inflight ? b - d->inflight : 0;
	if (b > 0 || next <= now)
		return b;
	if (r->throttle_next == 0 || next < r->throttle_next)
		r->throttle_next = next;
	if (d->logged_block != next) {
		d->logged_block = next;
		log_info("runner: %s: throttled for %llds, %zu recipient(s) "
		    "wait (learned %u per %llds, deferral %u)", key,
		    (long long)(next - now), waiting, d->st.learned,
		    (long long)lim.window, d->st.deferrals);
	}
	return 0;
}

/*
 * Slow or suspect now (dlimit_suspect): the next hop deferred recently,
 * or one of its workers has run longer than twice client_timeout (one
 * stalled reply and more).
 */
static int
dest_suspect(struct runner *r, const char *key)
{
	struct dlimit_dest	 dd;
	size_t			 i;

	dd.suspect_until = dstate_get(r, key)->suspect_until;
	dd.oldest_start = 0;
	for (i = 0; i < r->nslots; i++)
		if (r->w[i].pid != 0 && strcmp(r->w[i].dest, key) == 0 &&
		    (dd.oldest_start == 0 || r->w[i].started < dd.oldest_start))
			dd.oldest_start = r->w[i].started;
	return dlimit_suspect(&dd, mono_msec(),
	    r->conf->client_timeout * 2000LL);
}

/* Puts the DSNs (null sender) of v[0..n) first, each part in its order
 * (a message's recipients stay together), marking them.  A message that
 * cannot be read is taken as no DSN: it waits like the rest. */
static void
dsn_first(struct runner *r, struct due *v, size_t n)
{
	struct qmsg	 m;
	struct due	*tmp;
	size_t		 i, k = 0;

	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(v[i].qid, v[i - 1].qid) == 0) {
			v[i].dsn = v[i - 1].dsn;
			continue;
		}
		v[i].dsn = 0;
		if (queue_get_msg(r->q, v[i].qid, &m) == 0) {
			v[i].dsn = m.sender[0] == '\0';
			queue_msg_free(&m);
		}
	}
	tmp = xcalloc(n ? n : 1, sizeof(*tmp));
	for (i = 0; i < n; i++)
		if (v[i].dsn)
			tmp[k++] = v[i];
	for (i = 0; i < n; i++)
		if (!v[i].dsn)
			tmp[k++] = v[i];
	memcpy(v, tmp, n * sizeof(*v));
	free(tmp);
}

/*
 * How many of v[cur..end) (one next hop) may go to a worker now under
 * the reserve (dlimit_admit): all, only the DSNs (sorted to the front
 * the first time they are needed, *sorted), or none.
 */
static size_t
dest_admit(struct runner *r, struct due *v, size_t cur, size_t end,
    char *sorted)
{
	struct dlimit_slots	 s;
	size_t			 k;
	int			 suspect;

	s.running = r->running;
	s.max = (size_t)r->conf->max_deliveries;
	s.reserve = (size_t)r->conf->delivery_reserve;
	suspect = dest_suspect(r, v[cur].key);
	if (dlimit_admit(&s, suspect, 0))
		return end - cur;
	if (!suspect || !dlimit_admit(&s, suspect, 1))
		return 0;
	if (!*sorted) {
		dsn_first(r, &v[cur], end - cur);
		*sorted = 1;
	}
	for (k = cur; k < end && v[k].dsn; k++)
		;
	if (k == cur)
		log_debug("runner: %s: slow, waits outside the reserve",
		    v[cur].key);
	return k - cur;
}

/*
 * Round robin over next hops, one batch each per round, so one busy
 * destination cannot take every worker.  A throttled next hop is left
 * out without touching its recipients, so it slows nobody else down.
 * Sets r->blocked when due work had to stay behind (limits reached or
 * fork failed).
 */
static void
dispatch(struct runner *r, struct due *v, size_t n)
{
	const struct config	*conf = r->conf;
	size_t			*start, *cur, ng, g, end, len, conc, avail;
	char			*sorted;
	long long		 maxb;
	uint32_t		 budget;
	int			 progress = 1;

	start = xcalloc(n + 1, sizeof(*start));
	cur = xcalloc(n + 1, sizeof(*cur));
	sorted = xcalloc(n + 1, 1);
	ng = group_starts(v, n, start);
	start[ng] = n;
	memcpy(cur, start, (ng + 1) * sizeof(*cur));
	while (progress && !r->stopping) {
		progress = 0;
		for (g = 0; g < ng; g++) {
			end = start[g + 1];
			if (cur[g] == end || (avail = dest_admit(r, v, cur[g],
			    end, &sorted[g])) == 0)
				continue;
			budget = dest_budget(r, v[cur[g]].key, end - cur[g],
			    &conc);
			if (budget == 0 ||
			    dest_running(r, v[cur[g]].key) >= conc)
				continue;
			maxb = conf->max_batch;
			if (budget != THROTTLE_UNLIMITED && budget < maxb)
				maxb = budget;
			len = batch_len(&v[cur[g]], avail, maxb);
			/* Under load, fill batches: while a worker serves
			 * this next hop, another starts only with a full
			 * batch; the rest waits for a running one to end and
			 * then goes out over one connection. */
			if (cur[g] + len == end &&
			    dest_running(r, v[cur[g]].key) > 0)
				continue;
			if (worker_spawn(r, v[cur[g]].key, &v[cur[g]], len))
				goto done;
			cur[g] += len;
			progress = 1;
		}
	}
 done:
	r->blocked = 0;
	for (g = 0; g < ng; g++)
		if (cur[g] != start[g + 1])
			r->blocked = 1;
	free(start);
	free(cur);
	free(sorted);
}

static void
run_pass(struct runner *r)
{
	struct collect	 c;
	size_t		 i;
	int		 rc;

	if (r->stopping)
		return;
	r->throttle_next = 0;
	memset(&c, 0, sizeof(c));
	c.r = r;
	rc = queue_due(r->q, (int64_t)time(NULL), RUNNER_DUE_MAX, collect_cb,
	    &c);
	if (rc == -1)
		log_warnx("runner: reading the schedule failed");
	r->blocked = 0;
	if (c.n > 0) {
		qsort(c.v, c.n, sizeof(*c.v), due_cmp);
		dispatch(r, c.v, c.n);
	}
	if (rc == RUNNER_DUE_MAX)
		r->blocked = 1;
	for (i = 0; i < c.n; i++)
		free(c.v[i].key);
	free(c.v);
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

/*
 * The tables (tls_policy_file, transport_table, destination_limits): read
 * at start, on SIGHUP, and every RUNNER_TABLE_RETRY seconds while one is
 * broken.  A bad file keeps the table in force (a typo must not downgrade
 * a destination); when there is none to keep (a runner started on a
 * broken file) no delivery starts until it loads: the mail waits, the
 * runner does not restart, and spool_dir/RUNNER_STATUS says why for
 * postern status.
 */
static void
runner_status(struct runner *r, const char *why)
{
	char	 path[PATH_MAX], tmp[PATH_MAX];
	FILE	*f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", r->conf->spool_dir,
	    RUNNER_STATUS) >= sizeof(path) || (size_t)snprintf(tmp,
	    sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return;
	if (why == NULL) {
		(void)unlink(path);
		return;
	}
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("runner: %s", tmp);
		return;
	}
	(void)fprintf(f, "%s\n", why);
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		log_warn("runner: %s", path);
}

static int
runner_tls_table(struct runner *r, char *err, size_t errlen)
{
	struct tls_table	 nt;
	char			 e[512];

	memset(&nt, 0, sizeof(nt));
	if (tls_table_load(&nt, r->conf->tls_policy_file, e, sizeof(e)) ==
	    -1) {
		(void)snprintf(err, errlen, "%s", e);
		return -1;
	}
	tls_table_free(&r->tls_table);
	r->tls_table = nt;
	return 0;
}

static const char *
check_transport(const char *v, void *arg)
{
	char	 host[256];
	int	 port = 0;

	(void)arg;
	return deliver_parse_relayhost(v, host, sizeof(host), &port);
}

static const char *
check_limits(const char *v, void *arg)
{
	struct throttle_limits	 lim;

	(void)arg;
	memset(&lim, 0, sizeof(lim));
	return throttle_parse_limits(v, &lim);
}

static int
runner_dtable(struct dtable *t, const char *path, dtable_check check,
    const char *what, char *err, size_t errlen)
{
	struct dtable	 nt;
	char		 e[400];

	if (dtable_load(&nt, path, check, NULL, e, sizeof(e)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", what, e);
		return -1;
	}
	dtable_free(t);
	*t = nt;
	return 0;
}

/* Loads every table; on a failure the others still load, and the first
 * reason is kept.  What failed keeps its previous contents. */
static int
runner_load_tables(struct runner *r, char *err, size_t errlen)
{
	char	 e[512];
	int	 bad = 0;

	err[0] = '\0';
	if (runner_tls_table(r, e, sizeof(e)) == -1 && !bad++)
		(void)snprintf(err, errlen, "%s", e);
	if (runner_dtable(&r->transport, r->conf->transport_table,
	    check_transport, "transport_table", e, sizeof(e)) == -1 && !bad++)
		(void)snprintf(err, errlen, "%s", e);
	if (runner_dtable(&r->limits, r->conf->destination_limits,
	    check_limits, "destination_limits", e, sizeof(e)) == -1 && !bad++)
		(void)snprintf(err, errlen, "%s", e);
	return bad ? -1 : 0;
}

static void
runner_tables(struct runner *r, int start)
{
	char	 err[512], line[700];
	int	 was_bad = r->tables_bad, had = r->tables_ok;

	r->tables_retry = (int64_t)time(NULL) + RUNNER_TABLE_RETRY;
	if (runner_load_tables(r, err, sizeof(err)) == 0) {
		(void)deliver_cred_warn(r->conf, &r->tls_table, &r->transport);
		r->tables_ok = 1;
		r->tables_bad = 0;
		runner_status(r, NULL);
		if (was_bad && !had)
			log_info("runner: tables loaded, deliveries start");
		else if (!start)
			log_info("runner: tables reloaded: tls_policy_file "
			    "%zu entries, transport_table %zu, "
			    "destination_limits %zu", r->tls_table.n,
			    r->transport.n, r->limits.n);
		return;
	}
	r->tables_bad = 1;
	(void)snprintf(line, sizeof(line), "%s; %s", err, had ?
	    "keeping the previous tables" :
	    "no delivery starts until it loads");
	/* Once per change, not at every retry. */
	if (strcmp(err, r->tables_why) != 0) {
		log_warnx("runner: %s", line);
		runner_status(r, line);
		(void)strlcpy(r->tables_why, err, sizeof(r->tables_why));
	}
}

static void
on_signal(struct runner *r, int sig)
{
	int	 n;

	switch (sig) {
	case SIGCHLD:
		reap(r);
		break;
	case SIGUSR1:
		/* Flush: everything deferred is due now, pauses end too. */
		if ((n = queue_flush(r->q, NULL)) == -1)
			log_warnx("runner: flush failed");
		else
			log_info("runner: flush: %d recipient(s) due now", n);
		(void)inflight_unpause(r, 0, 1);
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
		reap(r);
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
	(void)inflight_unpause(r, 0, 1);
	for (i = 0; i < RUNNER_BUCKETS; i++)
		while (r->bucket[i] != NULL)
			inflight_del(r, r->bucket[i]->qid, r->bucket[i]->idx);
	for (i = 0; i < r->nslots; i++)
		worker_clear(&r->w[i]);
	free(r->w);
	dstate_free_all(r);
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
	set_nonblock(wake_fd);
	if (queue_open(&r.q, conf->spool_dir, 0, err, sizeof(err)) == -1)
		fatalx("runner: queue: %s", err);
	r.next_prune = (int64_t)time(NULL) + RUNNER_PRUNE;
	runner_tables(&r, 1);
	log_info("runner: started, %zu worker(s) at most", r.nslots);
	while (!r.stopping) {
		reap(&r);
		now = (int64_t)time(NULL);
		if (now >= r.next_prune) {
			dstate_prune(&r, now);
			r.next_prune = now + RUNNER_PRUNE;
		}
		if (r.tables_bad && now >= r.tables_retry)
			runner_tables(&r, 0);
		paused_until = inflight_unpause(&r, now, 0);
		if (!r.tables_ok) {
			sleep_once(&r, r.tables_retry - now > 0 ?
			    r.tables_retry - now : 1);
			continue;
		}
		run_pass(&r);
		sleep_once(&r, next_wait(&r, (int64_t)time(NULL),
		    paused_until));
	}
	runner_stop(&r);
}
