/*
 * dlimit: how much one delivery job and one slow destination may take.
 * A job tries at most mx_address_limit addresses and mx_session_limit
 * SMTP sessions (Postfix smtp_mx_address_limit / smtp_mx_session_limit),
 * and every stage's timeout is cut to what is left of its deadline, so
 * a tarpit holds a worker for delivery_job_timeout at most.  The runner
 * keeps delivery_reserve workers out of reach of slow or recently
 * deferring destinations, for DSNs and for everyone else.
 * Pure functions: no I/O, no clock; times are passed in (milliseconds).
 */
#ifndef POSTERN_DLIMIT_H
#define POSTERN_DLIMIT_H

#include <stddef.h>
#include <stdint.h>

/* What one job has used so far; a limit of 0 is no limit. */
struct dlimit_job {
	unsigned	 addr_limit;	/* mx_address_limit */
	unsigned	 session_limit;	/* mx_session_limit */
	unsigned	 addrs;		/* addresses taken from the route */
	unsigned	 sessions;	/* sessions that got a greeting */
	int64_t		 deadline;	/* mono ms the job ends; 0: none */
};

/* A stage's effective timeout: min(stage_ms, time left), never below
 * 0; stage_ms itself without a deadline (deadline 0). */
int64_t	dlimit_stage_ms(int64_t stage_ms, int64_t now, int64_t deadline);

/* NULL when the job may take another address now, or the name of the
 * limit that stops it: "delivery_job_timeout", "mx_session_limit",
 * "mx_address_limit" (checked in that order). */
const char *dlimit_next_addr(const struct dlimit_job *, int64_t now);

/* What the runner knows of one destination's pace. */
struct dlimit_dest {
	int64_t		 suspect_until;	/* mono ms; 0: nothing recent */
	int64_t		 oldest_start;	/* of its running workers; 0: none */
};

/* Slow or suspect: it deferred recently (suspect_until in the future)
 * or one of its workers has run longer than slow_ms. */
int	dlimit_suspect(const struct dlimit_dest *, int64_t now,
	    int64_t slow_ms);

/* The new suspect_until after a worker's report: a job cut by a limit,
 * or one that deferred and delivered nothing, marks the destination
 * for hold_ms; a job that delivered without being cut clears it. */
int64_t	dlimit_after_report(int64_t suspect_until, unsigned accepted,
	    unsigned deferred, int cut, int64_t now, int64_t hold_ms);

/* Slots: workers running, max_deliveries, delivery_reserve. */
struct dlimit_slots {
	size_t		 running;
	size_t		 max;
	size_t		 reserve;
};

/*
 * May a batch start now?  Never at max.  A suspect destination stops at
 * max - reserve (the reserve is clamped to max - 1, so it can still get
 * one worker); a batch of DSNs (null sender) and a batch to a fresh
 * destination may use the reserve.  1 yes, 0 no.
 */
int	dlimit_admit(const struct dlimit_slots *, int suspect, int dsn);

#endif
