/*
 * runner_state: the runner's state (runner.h), shared by its files: the
 * in-flight set (runner_inflight.h), the worker slots (runner_worker.h),
 * what it knows of each next hop (runner_dest.h) and the tables in force
 * (runner_tables.h).  One process owns it; nothing in it crosses a fork
 * but what a worker is handed (its items, the tables).  runner.c, the
 * main loop, owns the signal pipe.
 */
#ifndef POSTERN_RUNNER_STATE_H
#define POSTERN_RUNNER_STATE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "dtable.h"
#include "queue.h"
#include "throttle.h"
#include "tls_table.h"

#define RUNNER_BUCKETS		1024	/* in-flight hash, power of two */

struct config;
struct deliver_item;

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

/* Non-blocking, or fatal. */
void	runner_set_nonblock(int);
/* In a worker just forked: the runner's signal handlers undone and its
 * signal pipe closed. */
void	runner_signals_child(void);

#endif
