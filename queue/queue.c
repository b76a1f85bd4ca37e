/*
 * queue: messages, bodies, recipients and the delivery schedule in a
 * Berkeley DB transactional environment under spool_dir/db.
 *
 * Recipient state machine (full table with the transactions: docs/queue.md)
 *
 *	state      event                      next state   schedule entry
 *	(none)     queue_submit               QUEUED       at next_attempt (0: now)
 *	QUEUED     QUPD_DEFER                 DEFERRED     moved to next_attempt
 *	DEFERRED   QUPD_DEFER                 DEFERRED     moved to next_attempt
 *	QUEUED/DEF QUPD_RESCHEDULE            unchanged    moved to next_attempt
 *	QUEUED/DEF QUPD_SENT, QUPD_FAIL       (retired)    deleted
 *	QUEUED/DEF queue_hold                 HELD         deleted
 *	HELD       queue_release              QUEUED/DEF   at now
 *	HELD       QUPD_DEFER/RESCHEDULE      HELD         none
 *	HELD       QUPD_SENT, QUPD_FAIL       (retired)    none
 *	any        queue_flush (future only)  unchanged    moved to now
 *	any        queue_delete, corruption   (removed)    deleted
 *
 * A message lives while nrcpt > 0: the transaction that retires its last
 * recipient deletes the message record and its body chunks.
 *
 * Invariant: a recipient that is not HELD has exactly one schedule entry,
 * keyed (next_attempt, qid, idx); a HELD recipient has none.
 */
#include <sys/statvfs.h>

#include <db.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "qdb.h"
#include "qrecord.h"
#include "queue.h"
#include "util.h"


/*
 * A full disk does not always come back as ENOSPC: when the cache cannot
 * write a dirty page to make room, Berkeley DB answers EIO or ENOMEM.
 * The receiver must say 452 (RFC 5321 §4.5.3.1.10) for a full disk, so a
 * failed write is ENOSPC whenever the file system is (nearly) full.
 */
static int
q_fail_write(struct queue *q, const char *what, int ret)
{
	struct statvfs	 sv;

	(void)q_fail(what, ret);
	if (ret != QE_CORRUPT && statvfs(q->home, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < QUEUE_MIN_FREE)
		errno = ENOSPC;
	return -1;
}

/* ---- submit ---------------------------------------------------------- */

/* Inserts the message record under a fresh qid. */
static int
tx_msg_insert(struct queue *q, DB_TXN *t, struct qmsg *m)
{
	int	 i, ret = DB_KEYEXIST;

	qrec_msg_encode(&q->enc, m);
	/* A qid chosen by the caller (it is already in the Received header)
	 * is kept when it is free. */
	if (qid_valid(m->qid))
		ret = q_put(q, t, QT_MESSAGES, m->qid, QID_LEN, q->enc.data,
		    q->enc.len, DB_NOOVERWRITE);
	for (i = 0; i < QUEUE_QID_TRIES && ret == DB_KEYEXIST; i++) {
		qid_make(m->qid);
		ret = q_put(q, t, QT_MESSAGES, m->qid, QID_LEN, q->enc.data,
		    q->enc.len, DB_NOOVERWRITE);
	}
	return ret == DB_KEYEXIST ? EEXIST : ret;
}

static int
tx_body_put(struct queue *q, DB_TXN *t, const char *qid, const char *body,
    size_t len)
{
	unsigned char	 k[QKEY_QIDN_LEN];
	size_t		 off, n;
	uint32_t	 chunk = 0;
	int		 ret;

	for (off = 0; off < len; off += n, chunk++) {
		n = len - off > QUEUE_CHUNK ? QUEUE_CHUNK : len - off;
		qkey_qidn(k, qid, chunk);
		if ((ret = q_put(q, t, QT_BODIES, k, sizeof(k), body + off, n,
		    0)) != 0)
			return ret;
	}
	return 0;
}

/* The whole message in the caller's transaction (submit, or a DSN added
 * by queue_update). */
static int
tx_add(struct queue *q, DB_TXN *t, struct qnew *n)
{
	struct qrcpt	*rc;
	int64_t		 now = q_now();
	size_t		 i;
	int		 ret;

	n->msg->nrcpt = (uint32_t)n->nrcpt;
	n->msg->size = n->bodylen;
	if (n->msg->arrival == 0)
		n->msg->arrival = now;
	if ((ret = tx_msg_insert(q, t, n->msg)) != 0)
		return ret;
	if ((ret = tx_body_put(q, t, n->msg->qid, n->body, n->bodylen)) != 0)
		return ret;
	for (i = 0; i < n->nrcpt; i++) {
		rc = &n->rcpts[i];
		memcpy(rc->qid, n->msg->qid, sizeof(rc->qid));
		rc->idx = (uint32_t)i;
		if (rc->state != QRCPT_HELD && rc->state != QRCPT_DEFERRED)
			rc->state = QRCPT_QUEUED;
		/* Time 0 is "now"; the schedule never holds times < 1 so
		 * that queue_next_due() can answer 0 for "nothing". */
		if (rc->next_attempt <= 0)
			rc->next_attempt = now;
		if ((ret = q_rcpt_put(q, t, rc)) != 0)
			return ret;
		if (rc->state != QRCPT_HELD &&
		    (ret = q_sched_put(q, t, rc)) != 0)
			return ret;
	}
	return 0;
}

static int
tx_submit(struct queue *q, DB_TXN *t, void *arg)
{
	int	 ret;

	if ((ret = tx_add(q, t, arg)) == 0)
		q_point(q, "submit");
	return ret;
}

static int
qnew_valid(const struct qnew *n)
{
	size_t	 i;

	if (n == NULL || n->msg == NULL || n->nrcpt == 0 ||
	    n->nrcpt > UINT32_MAX || (n->body == NULL && n->bodylen != 0))
		return 0;
	for (i = 0; i < n->nrcpt; i++)
		if (n->rcpts[i].addr == NULL || n->rcpts[i].dest == NULL)
			return 0;
	return 1;
}

int
queue_submit(struct queue *q, struct qnew *n, char qid[QID_LEN + 1])
{
	int	 ret;

	if (!qnew_valid(n)) {
		errno = EINVAL;
		return -1;
	}
	if ((ret = q_txn(q, tx_submit, n, 1)) != 0)
		return q_fail_write(q, "submit", ret);
	memcpy(qid, n->msg->qid, QID_LEN + 1);
	return 0;
}

/* ---- update ---------------------------------------------------------- */

struct update_arg {
	const char		*qid;
	const struct qupdate	*u;
	size_t			 n;
	struct qnew		*dsn;
	uint32_t		 msgflags;
};

static void
rcpt_set_reply(struct qrcpt *rc, const char *reply)
{
	if (reply == NULL)
		return;
	free(rc->last_reply);
	rc->last_reply = xstrdup(reply);
}

/* One recipient's outcome; *retired counts the ones that leave. */
static int
tx_update_rcpt(struct queue *q, DB_TXN *t, const char *qid,
    const struct qupdate *u, uint32_t *retired)
{
	struct qrcpt	 rc;
	unsigned char	 k[QKEY_QIDN_LEN];
	int		 ret;

	if ((ret = q_rcpt_get(q, t, qid, u->idx, &rc, DB_RMW)) != 0)
		return ret;
	if (rc.state != QRCPT_HELD && (ret = q_sched_del(q, t, &rc)) != 0)
		goto done;
	if (u->kind == QUPD_SENT || u->kind == QUPD_FAIL) {
		qkey_qidn(k, qid, u->idx);
		if ((ret = q_del(q, t, QT_RCPTS, k, sizeof(k))) == 0)
			(*retired)++;
		goto done;
	}
	if (u->kind == QUPD_DEFER) {
		rc.attempts++;
		if (rc.state != QRCPT_HELD)
			rc.state = QRCPT_DEFERRED;
	}
	rc.next_attempt = u->next_attempt > 0 ? u->next_attempt : q_now();
	rcpt_set_reply(&rc, u->reply);
	if ((ret = q_rcpt_put(q, t, &rc)) != 0)
		goto done;
	if (rc.state != QRCPT_HELD)
		ret = q_sched_put(q, t, &rc);
 done:
	queue_rcpt_free(&rc);
	return ret;
}

static int
tx_update(struct queue *q, DB_TXN *t, void *arg)
{
	struct update_arg	*a = arg;
	struct qmsg		 m;
	uint32_t		 retired = 0;
	size_t			 i;
	int			 ret;

	if ((ret = q_msg_get(q, t, a->qid, &m, DB_RMW)) != 0)
		return ret;
	for (i = 0; i < a->n; i++)
		if ((ret = tx_update_rcpt(q, t, a->qid, &a->u[i],
		    &retired)) != 0)
			goto done;
	if (a->dsn != NULL && (ret = tx_add(q, t, a->dsn)) != 0)
		goto done;
	if (retired > m.nrcpt) {
		log_warnx("%s: recipient count %u below %u retired",
		    a->qid, m.nrcpt, retired);
		retired = m.nrcpt;
	}
	m.nrcpt -= retired;
	m.flags |= a->msgflags;
	q_point(q, "update");
	/* The message leaves with its last recipient, in this transaction. */
	if (m.nrcpt == 0)
		ret = q_purge(q, t, a->qid, 0);
	else {
		qrec_msg_encode(&q->enc, &m);
		ret = q_put(q, t, QT_MESSAGES, a->qid, QID_LEN, q->enc.data,
		    q->enc.len, 0);
	}
 done:
	queue_msg_free(&m);
	return ret;
}

int
queue_update(struct queue *q, const char *qid, const struct qupdate *u,
    size_t n, struct qnew *dsn, uint32_t msgflags)
{
	struct update_arg	 a = { qid, u, n, dsn, msgflags };
	size_t			 i;
	int			 ret;

	if (!qid_valid(qid) || (dsn != NULL && !qnew_valid(dsn))) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (u[i].kind > QUPD_RESCHEDULE) {
			errno = EINVAL;
			return -1;
		}
	/* A DSN is a new message: it must be durable before the recipients
	 * it reports on are retired. */
	if ((ret = q_txn(q, tx_update, &a, dsn != NULL ? Q_WRITE_SYNC :
	    Q_WRITE_LAZY)) != 0)
		return q_fail_write(q, "update", ret);
	return 0;
}
