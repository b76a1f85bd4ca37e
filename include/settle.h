/*
 * settle: the decision that turns one message's delivery outcomes into
 * its next queue state, pure (no I/O, no clock, no randomness of its
 * own).  Per recipient: sent -> QUPD_SENT, bounced -> QUPD_FAIL, deferred
 * -> QUPD_DEFER at now + retry_delay(), or QUPD_FAIL with 4.4.7 once
 * max_queue_lifetime has passed (RFC 3463), or QUPD_RESCHEDULE when a
 * rate limit stopped it.  Per message: at most one DSN (RFC 3464) --
 * failure first, else a delay notice once (QMSG_WARNED), else a success
 * notice for NOTIFY=SUCCESS the next hop cannot carry (RFC 3461 §5.2.2).
 * docs/queue.md, "Settling a delivery", is its table.
 */
#ifndef POSTERN_SETTLE_H
#define POSTERN_SETTLE_H

#include <stddef.h>
#include <stdint.h>
#include "bounce.h"
#include "outcome.h"
#include "queue.h"

/* One recipient as the delivery left it. */
struct settle_in {
	const struct qrcpt	*rcpt;
	const struct outcome	*out;	/* SENT, DEFER or BOUNCE */
	const char		*remote; /* MX host that answered, or "" */
	int			 resched; /* stopped by a rate limit */
	int			 next_dsn; /* next hop takes NOTIFY itself */
	int			 local;	/* delivered by the local server */
	uint32_t		 rnd;	/* draw for its retry jitter */
};

/* The configured times, in seconds; 0 turns lifetime / warning off. */
struct settle_conf {
	long long	 max_queue_lifetime;
	long long	 delay_warning_time;
	long long	 retry_min;
	long long	 retry_max;
};

/* What the caller applies: one queue_update and the DSN it carries. */
struct settle {
	struct qupdate		*u;	/* one per recipient, in order */
	struct outcome		*final;	/* the outcome as logged */
	struct bounce_rcpt	*failed, *delayed, *succeeded;
	size_t			 nfailed, ndelayed, nsucceeded;
	int			 dsn;	/* 1: a notice of dsn_kind is due */
	enum bounce_kind	 dsn_kind;
	const struct bounce_rcpt *dsn_rcpts;	/* failed, delayed or ... */
	size_t			 dsn_n;
	uint32_t		 flags;	/* QMSG_* for queue_update */
};

#define SETTLE_RETRY_JITTER_PCT	10

/* Fills s (allocated; settle_free) for the n recipients of msg.  The
 * reply pointers of s->u point into in[] or s->final: they live as long
 * as both.  Whether the DSN is then suppressed (null sender, NOTIFY) is
 * bounce_suppressed()'s answer, asked by the caller. */
void	settle_msg(const struct qmsg *msg, const struct settle_in *in,
	    size_t n, const struct settle_conf *, int64_t now,
	    struct settle *s);
void	settle_free(struct settle *);

/* Whether msg has outlived max_queue_lifetime at now. */
int	settle_expired(const struct qmsg *, const struct settle_conf *,
	    int64_t now);
/* Whether its one delay notice is due: past delay_warning_time, not yet
 * sent, and never for a message that is itself a DSN. */
int	settle_warn_due(const struct qmsg *, const struct settle_conf *,
	    int64_t now);

#endif
