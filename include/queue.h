/*
 * queue: the Berkeley DB transactional store of messages in the spool
 * directory.  Every change is one transaction.  A change that adds a
 * message (submit, an update with a DSN) is on disk before the function
 * returns 0: a caller answers 250 only after that.  Outcomes without a
 * new message are written to the operating system, flushed with the next
 * synchronous commit: a machine crash can repeat a delivery, never lose
 * one (docs/queue.md).  Deadlocks are retried inside.
 * One struct queue per process, opened after fork(); never shared.
 * Records are versioned and length-prefixed (queue/qrecord.c); a record
 * that fails to decode is moved aside and logged, never half-delivered.
 * States and transitions: docs/queue.md.
 */
#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/* Fixed width, time-ordered (microseconds since the epoch, then a
 * per-process sequence), unique (insert with no-overwrite, retried). */
#define QID_LEN		16

/* queue_open() flags */
#define QUEUE_CREATE	0x01	/* create the environment and tables */
#define QUEUE_RECOVER	0x02	/* run recovery: the master, before forking */
#define QUEUE_RDONLY	0x04	/* listing only */
#define QUEUE_SUBMIT	0x08	/* queue_submit only: the message tables */
#define QUEUE_ENV	0x10	/* the environment only: failchk, checkpoint */

/* message flags */
#define QMSG_8BITMIME	0x0001
#define QMSG_SMTPUTF8	0x0002
#define QMSG_RET_HDRS	0x0004	/* RFC 3461 RET=HDRS */
#define QMSG_RET_FULL	0x0008	/* RFC 3461 RET=FULL */
#define QMSG_DSN	0x0010	/* this message is itself a DSN */
#define QMSG_WARNED	0x0020	/* delay notice already sent */
#define QMSG_TRUSTED	0x0040	/* from a trusted_networks client:
				 * its sender is vouched for */

/* recipient NOTIFY, RFC 3461 §4.1; 0 means "not given" (default) */
#define QNOTIFY_NEVER	0x01
#define QNOTIFY_SUCCESS	0x02
#define QNOTIFY_FAILURE	0x04
#define QNOTIFY_DELAY	0x08

enum qrcpt_state {
	QRCPT_QUEUED = 0,	/* never tried; due at next_attempt */
	QRCPT_DEFERRED,		/* tried, temporary failure; due at next_attempt */
	QRCPT_HELD		/* administratively held: not scheduled */
};

struct qmsg {
	char		 qid[QID_LEN + 1];
	int64_t		 arrival;	/* seconds since the epoch */
	uint64_t	 size;		/* body bytes as stored */
	uint32_t	 flags;		/* QMSG_* */
	uint32_t	 nrcpt;		/* recipients still queued */
	char		*sender;	/* "" is the null sender <> */
	char		*envid;		/* RFC 3461 ENVID, or NULL */
	char		*helo;
	char		*client_addr;	/* "192.0.2.1", "::1", "local" */
	char		*client_name;
};

struct qrcpt {
	char		 qid[QID_LEN + 1];
	uint32_t	 idx;		/* position in the message, stable */
	enum qrcpt_state state;
	uint32_t	 attempts;
	uint32_t	 notify;	/* QNOTIFY_* */
	int64_t		 next_attempt;	/* seconds since the epoch */
	char		*addr;		/* mailbox, no angle brackets */
	char		*orcpt;		/* RFC 3461 ORCPT as received, or NULL */
	char		*dest;		/* next-hop key: lower-case domain */
	char		*last_reply;	/* last outcome text, or NULL */
};

/* A message to add: envelope, recipients, body (CRLF lines, unstuffed). */
struct qnew {
	struct qmsg	*msg;	/* qid, nrcpt filled in by the queue; a
				 * non-empty msg->qid is used when free (the
				 * Received header names it), else a new one */
	struct qrcpt	*rcpts;	/* qid, idx filled in by the queue */
	size_t		 nrcpt;
	const char	*body;
	size_t		 bodylen;
};

enum qupdate_kind {
	QUPD_SENT,	/* retire: delivered */
	QUPD_FAIL,	/* retire: failed permanently (caller adds the DSN) */
	QUPD_DEFER,	/* stays: attempts+1, next_attempt, last_reply */
	QUPD_RESCHEDULE	/* stays: next_attempt only (throttle, no attempt) */
};

struct qupdate {
	uint32_t	 idx;
	enum qupdate_kind kind;
	int64_t		 next_attempt;	/* QUPD_DEFER, QUPD_RESCHEDULE */
	const char	*reply;		/* stored as last_reply */
};

/* One due schedule entry, as queue_due() reports it. */
struct qdue {
	int64_t		 when;
	char		 qid[QID_LEN + 1];
	uint32_t	 idx;
	const char	*dest;
};

struct queue;

/* 0, or -1 with a reason in err.  Runs recovery when QUEUE_RECOVER. */
int	queue_open(struct queue **, const char *spool_dir, unsigned flags,
	    char *err, size_t errlen);
void	queue_close(struct queue *);

/* Releases what dead processes held (DB_ENV->failchk; a zombie is dead)
 * and refuses lock waits past their time-out.  0, or -1: the environment
 * needs recovery.  May hang on a damaged environment: run it in a child
 * with a deadline (master.c). */
int	queue_failchk(struct queue *);
/* Checkpoint and remove logs no longer needed; cheap when idle. */
int	queue_checkpoint(struct queue *);

/* Adds one message in one synchronous transaction; writes its qid.
 * -1 with errno set on failure: ENOSPC for a full disk. */
int	queue_submit(struct queue *, struct qnew *, char qid[QID_LEN + 1]);

/* Applies every update to recipients of qid, adds dsn (may be NULL) and
 * sets msgflags on the message, all in one synchronous transaction.
 * The message and its body go in the transaction that retires its last
 * recipient.  -1 with errno set on failure (nothing changed). */
int	queue_update(struct queue *, const char *qid, const struct qupdate *,
	    size_t n, struct qnew *dsn, uint32_t msgflags);

/* Calls fn for each schedule entry due at or before now, in time order,
 * until fn returns non-zero or max entries were reported.  Returns the
 * number reported, or -1. */
int	queue_due(struct queue *, int64_t now, size_t max,
	    int (*fn)(void *, const struct qdue *), void *arg);
/* Earliest scheduled time, 0 if nothing is scheduled, -1 on error. */
int64_t	queue_next_due(struct queue *);

/* Readers: the caller frees with queue_msg_free / queue_rcpt_free.
 * 0, 1 when not found, -1 on error. */
int	queue_get_msg(struct queue *, const char *qid, struct qmsg *);
int	queue_get_rcpt(struct queue *, const char *qid, uint32_t idx,
	    struct qrcpt *);
/* The body into a malloc'd buffer. */
int	queue_get_body(struct queue *, const char *qid, char **body,
	    size_t *len);
void	queue_msg_free(struct qmsg *);
void	queue_rcpt_free(struct qrcpt *);

/* Every message with its queued recipients, in qid (arrival) order. */
int	queue_walk(struct queue *,
	    int (*fn)(void *, const struct qmsg *, const struct qrcpt *, size_t),
	    void *arg);

/* Makes deferred recipients due now; dest NULL for all.  Returns the
 * number moved, or -1. */
int	queue_flush(struct queue *, const char *dest);
/* Hold (unschedule), release (due now) or delete a whole message.
 * 0, 1 when no such message, -1 on error. */
int	queue_hold(struct queue *, const char *qid);
int	queue_release(struct queue *, const char *qid);
int	queue_delete(struct queue *, const char *qid);

/* Small persistent maps for policy state, each its own table:
 * "destinations" (throttle state per next hop), "sts_cache" (MTA-STS).
 * get: 0, 1 when absent, -1 on error; val is malloc'd. */
int	queue_kv_get(struct queue *, const char *table, const char *key,
	    char **val, size_t *len);
int	queue_kv_put(struct queue *, const char *table, const char *key,
	    const void *val, size_t len);
int	queue_kv_del(struct queue *, const char *table, const char *key);
/* Calls fn for every entry of table in key order (read in one
 * transaction, reported after it) until fn returns non-zero.  0 or -1. */
int	queue_kv_walk(struct queue *, const char *table,
	    int (*fn)(void *, const char *key, const char *val, size_t len),
	    void *arg);

/* Testing (the test_crash_point knob, crashpoint.h): fn(arg, op) is called
 * inside the transaction of op, its locks held, for op "submit", "update",
 * "flush", "hold" (hold and release) and "walk" (listing). */
void	queue_set_point(struct queue *, void (*fn)(void *, const char *),
	    void *arg);

/* Fresh id from the clock; exposed for tests. */
void	qid_make(char out[QID_LEN + 1]);
int	qid_valid(const char *);

/* Retry schedule (pure): delay before attempt number attempts+1,
 * exponential from min doubling to max, with +-jitter_pct % jitter drawn
 * from r (0..UINT32_MAX). */
int64_t	retry_delay(uint32_t attempts, int64_t min, int64_t max,
	    unsigned jitter_pct, uint32_t r);

#endif
