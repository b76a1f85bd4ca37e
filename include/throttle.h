/*
 * throttle: how fast postern may send to one destination (next hop),
 * pure arithmetic without I/O.  Sliding counters of the messages the
 * destination accepted enforce static limits (per minute, hour, day;
 * destination_limits) and a learned limit: the number of messages the
 * destination accepted within throttle_window before it answered with a
 * rate-limit deferral, paced a little below it.  A rate-limit deferral
 * also blocks the destination for a backoff that doubles while the
 * limit persists and falls back to throttle_backoff_min after a message
 * is accepted.  The state is one text record in the queue's
 * "destinations" table (throttle_encode, throttle_decode), so what was
 * learned survives restarts.
 */
#ifndef POSTERN_THROTTLE_H
#define POSTERN_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define THROTTLE_SLOTS		12	/* buckets of one sliding counter */
#define THROTTLE_UNLIMITED	UINT32_MAX
#define THROTTLE_RECORD_MAX	1024	/* bytes of an encoded state */

/* Static and learning parameters of one destination. */
struct throttle_limits {
	uint32_t	 per_minute;	/* 0: no limit */
	uint32_t	 per_hour;
	uint32_t	 per_day;
	uint32_t	 concurrency;	/* 0: max_per_destination */
	int64_t		 window;	/* learning window, seconds (> 0) */
	int64_t		 backoff_min;	/* seconds (> 0) */
	int64_t		 backoff_max;
};

/* Messages accepted over the last span seconds, in buckets of span/10. */
struct throttle_count {
	int64_t		 span;		/* 0: never used */
	int64_t		 last;		/* bucket number of the newest slot */
	uint32_t	 slot[THROTTLE_SLOTS];
};

enum { THR_MINUTE, THR_HOUR, THR_DAY, THR_LEARN, THR_NCOUNT };

struct throttle_state {
	uint32_t	 learned;	/* accepted per window before the
					 * deferral; 0: not learned */
	uint32_t	 deferrals;	/* consecutive rate-limit deferrals */
	int64_t		 blocked_until;	/* nothing is sent before */
	int64_t		 backoff;	/* the block in force, seconds */
	int64_t		 last_deferral;	/* time of the last one, or 0 */
	struct throttle_count c[THR_NCOUNT];
};

void	throttle_init(struct throttle_state *);

/* Messages that may be sent at now: 0 (then *next, when given, is the
 * earliest time that changes), a number, or THROTTLE_UNLIMITED. */
uint32_t throttle_budget(const struct throttle_state *,
	    const struct throttle_limits *, int64_t now, int64_t *next);
/* The learned limit paced a little below itself: 45 for 50, 4 for 5. */
uint32_t throttle_pace(uint32_t learned);

/* The destination accepted n messages at now. */
void	throttle_sent(struct throttle_state *, const struct throttle_limits *,
	    int64_t now, uint32_t n);
/* The destination answered with a rate-limit deferral at now (after the
 * messages of this connection it accepted were counted by
 * throttle_sent).  Learns the limit and blocks; returns the block end. */
int64_t	throttle_deferred(struct throttle_state *,
	    const struct throttle_limits *, int64_t now);
/* Learns from the messages counted within the window at now (as
 * throttle_deferred does, without blocking): for a deferral that came
 * while other connections were still sending, once they reported. */
void	throttle_learn(struct throttle_state *,
	    const struct throttle_limits *, int64_t now);
/* Whether the state says anything worth keeping or showing. */
int	throttle_active(const struct throttle_state *, int64_t now);

/*
 * Whether a temporary reply ("421 4.7.0 Too many messages (1.5.6.1)")
 * says the destination limits our rate, as opposed to a problem with
 * one message or recipient: a 4xx reply with rate wording or the RFC
 * 3463/IANA code 4.7.28 (mail flood).  Pure, on the reply text.
 */
int	throttle_reply_is_ratelimit(const char *status, const char *text);

/* Text record "t1 learned=N ..."; encode returns the length or -1 when
 * it does not fit; decode returns NULL or a reason. */
int	throttle_encode(const struct throttle_state *, char *, size_t);
const char *throttle_decode(struct throttle_state *, const char *, size_t);

/* "45/day 10/hour 2/minute concurrency=2": NULL or a reason.  Fields not
 * named keep their value. */
const char *throttle_parse_limits(const char *, struct throttle_limits *);

#endif
