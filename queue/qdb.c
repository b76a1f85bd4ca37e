/*
 * qdb: the layer of queue/ under queue.c, qread.c and qadmin.c (qdb.h):
 * transactions with their retries, record get, put and delete, the keys
 * and records of messages, recipients and schedule entries, cursors, and
 * the removal of a whole message, which the transaction runner needs to
 * move a corrupt one aside.  The environment and its tables: qdb_env.c.
 */
#include <db.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "qdb.h"
#include "qrecord.h"
#include "queue.h"
#include "util.h"

/* Tags of the records moved aside into "corrupt": tag byte + old key. */
static const char qtags[QT_COUNT] = { 'M', 'B', 'R', 'S', 'D', 'T', 'C' };

void
q_dbt(DBT *d, const void *p, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)(uintptr_t)p;
	d->size = (u_int32_t)len;
}

int64_t
q_now(void)
{
	return (int64_t)time(NULL);
}

/* errno for a Berkeley DB result: system errors are errno values already
 * (ENOSPC reaches the receiver as 452), the rest is EIO or EAGAIN. */
int
q_fail(const char *what, int ret)
{
	if (ret == QE_CORRUPT) {
		errno = EBADMSG;
		return -1;
	}
	if (ret != DB_NOTFOUND)
		log_warnx("queue: %s: %s", what, db_strerror(ret));
	if (ret > 0)
		errno = ret;
	else if (ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED)
		errno = EAGAIN;	/* busy or timed out: try again later */
	else if (ret == DB_NOTFOUND)
		errno = ENOENT;
	else
		errno = EIO;
	return -1;
}

/* The testing hook (queue_set_point): called inside a transaction, with
 * its locks held, where a crash test stops or kills the process. */
void
q_point(struct queue *q, const char *op)
{
	if (q->point != NULL)
		q->point(q->point_arg, op);
}

void
queue_set_point(struct queue *q, void (*fn)(void *, const char *), void *arg)
{
	q->point = fn;
	q->point_arg = arg;
}

/*
 * Runs fn in a transaction, retrying it whole when it was chosen as a
 * deadlock victim.  fn must not keep state across attempts.  A lock that
 * was not granted within QUEUE_LOCK_TIMEOUT (DB_LOCK_NOTGRANTED, see
 * env_open in qdb_env.c) is not retried: the holder is likely a dead
 * process that failchk has not released yet, and the caller answers "try
 * again later" (451) at once rather than wait for it again and again.
 *
 * THE COMMIT POINT.  A writer's transaction becomes durable when its
 * commit record reaches the disk, and that is the only moment: before it,
 * recovery rolls every change of the transaction back (the message, its
 * body chunks, recipients and schedule entries vanish together, and the
 * client, who got no 250, sends again); after it, recovery replays all of
 * them together.  Nobody can see part of a transaction because its page
 * locks are held until commit.  The commit record is written with
 * DB_TXN_WRITE_NOSYNC, which releases the locks at once, and then the log
 * is flushed to disk before we return 0: so the caller still answers 250
 * only after a synchronous flush, while the concurrent sessions that
 * queued up behind the same pages commit within the same flush (group
 * commit) instead of taking one fsync each in turn.  A transaction that
 * read our records before the flush has its own commit record later in
 * the same log, so it cannot become durable without ours.
 *
 * Q_WRITE_LAZY (outcomes that add no message: sent, deferred, rescheduled)
 * stops after the commit record is written to the operating system: it
 * survives the death of any postern process, and the next synchronous
 * flush (the next message received, at the latest) carries it to disk.
 * Only a crash of the whole machine in between can undo it, and then the
 * recipient is still queued and is delivered again: a duplicate, never a
 * loss, the at-least-once rule of RFC 5321 §6.1.
 */
int
q_txn(struct queue *q, qtxn_fn fn, void *arg, int write)
{
	DB_TXN	*t;
	int	 ret = 0, tries;

	for (tries = 0; tries < QUEUE_TXN_RETRIES; tries++) {
		if ((ret = q->env->txn_begin(q->env, NULL, &t, 0)) != 0)
			return ret;
		if ((ret = fn(q, t, arg)) != 0) {
			(void)t->abort(t);
			if (ret == DB_LOCK_DEADLOCK)
				continue;
			/* Nothing of fn stays; the bad message goes aside in
			 * a transaction of its own. */
			if (ret == QE_CORRUPT && fn != q_quarantine &&
			    (ret = q_txn(q, q_quarantine, q->bad_qid, 1)) == 0)
				ret = QE_CORRUPT;
			return ret;
		}
		if (!write)
			return t->commit(t, 0);
		if ((ret = t->commit(t, DB_TXN_WRITE_NOSYNC)) != 0 ||
		    write == Q_WRITE_LAZY)
			return ret;
		return q->env->log_flush(q->env, NULL);
	}
	return ret;
}

int
q_get(struct queue *q, DB_TXN *t, enum qtable tb, const void *k, size_t klen,
    DBT *data, u_int32_t flags)
{
	DBT	 key;

	q_dbt(&key, k, klen);
	memset(data, 0, sizeof(*data));
	if (q->db[tb] == NULL)
		return EINVAL;
	return q->db[tb]->get(q->db[tb], t, &key, data, flags);
}

int
q_put(struct queue *q, DB_TXN *t, enum qtable tb, const void *k, size_t klen,
    const void *d, size_t dlen, u_int32_t flags)
{
	DBT	 key, data;

	q_dbt(&key, k, klen);
	q_dbt(&data, d, dlen);
	if (q->db[tb] == NULL)
		return EINVAL;
	return q->db[tb]->put(q->db[tb], t, &key, &data, flags);
}

/* Deletes a key; a missing key is not an error. */
int
q_del(struct queue *q, DB_TXN *t, enum qtable tb, const void *k, size_t klen)
{
	DBT	 key;
	int	 ret;

	q_dbt(&key, k, klen);
	if (q->db[tb] == NULL)
		return EINVAL;
	ret = q->db[tb]->del(q->db[tb], t, &key, 0);
	return ret == DB_NOTFOUND ? 0 : ret;
}

/* Keeps the raw record of table tb under key k in "corrupt". */
int
q_aside(struct queue *q, DB_TXN *t, enum qtable tb, const DBT *k,
    const DBT *d)
{
	buf_reset(&q->key);
	buf_append(&q->key, &qtags[tb], 1);
	buf_append(&q->key, k->data, k->size);
	return q_put(q, t, QT_CORRUPT, q->key.data, q->key.len, d->data,
	    d->size, 0);
}

/* Notes which message to move aside once the transaction is undone. */
int
q_corrupt(struct queue *q, const char *qid)
{
	memcpy(q->bad_qid, qid, QID_LEN);
	q->bad_qid[QID_LEN] = '\0';
	return QE_CORRUPT;
}

int
q_sched_put(struct queue *q, DB_TXN *t, const struct qrcpt *rc)
{
	unsigned char	 k[QKEY_SCHED_LEN];

	qkey_sched(k, rc->next_attempt, rc->qid, rc->idx);
	return q_put(q, t, QT_SCHED, k, sizeof(k), rc->dest, strlen(rc->dest),
	    0);
}

int
q_sched_del(struct queue *q, DB_TXN *t, const struct qrcpt *rc)
{
	unsigned char	 k[QKEY_SCHED_LEN];

	qkey_sched(k, rc->next_attempt, rc->qid, rc->idx);
	return q_del(q, t, QT_SCHED, k, sizeof(k));
}

int
q_rcpt_put(struct queue *q, DB_TXN *t, const struct qrcpt *rc)
{
	unsigned char	 k[QKEY_QIDN_LEN];

	qkey_qidn(k, rc->qid, rc->idx);
	qrec_rcpt_encode(&q->enc, rc);
	return q_put(q, t, QT_RCPTS, k, sizeof(k), q->enc.data, q->enc.len, 0);
}

/* ---- records --------------------------------------------------------- */

/* Reads and decodes a message record; a record that does not decode is
 * moved aside with everything of its message (QE_CORRUPT). */
int
q_msg_get(struct queue *q, DB_TXN *t, const char *qid, struct qmsg *m,
    u_int32_t flags)
{
	DBT		 d;
	const char	*why;
	int		 ret;

	memset(m, 0, sizeof(*m));
	if ((ret = q_get(q, t, QT_MESSAGES, qid, QID_LEN, &d, flags)) != 0)
		return ret;
	if ((why = qrec_msg_decode(d.data, d.size, m)) != NULL) {
		log_warnx("%.*s: corrupt message record (%s): moving the "
		    "message aside", QID_LEN, qid, why);
		return q_corrupt(q, qid);
	}
	memcpy(m->qid, qid, QID_LEN);
	m->qid[QID_LEN] = '\0';
	return 0;
}

int
q_rcpt_get(struct queue *q, DB_TXN *t, const char *qid, uint32_t idx,
    struct qrcpt *rc, u_int32_t flags)
{
	unsigned char	 k[QKEY_QIDN_LEN];
	DBT		 d;
	const char	*why;
	int		 ret;

	memset(rc, 0, sizeof(*rc));
	qkey_qidn(k, qid, idx);
	if ((ret = q_get(q, t, QT_RCPTS, k, sizeof(k), &d, flags)) != 0)
		return ret;
	if ((why = qrec_rcpt_decode(d.data, d.size, rc)) != NULL) {
		log_warnx("%.*s: corrupt recipient %u record (%s): moving the "
		    "message aside", QID_LEN, qid, idx, why);
		return q_corrupt(q, qid);
	}
	memcpy(rc->qid, qid, QID_LEN);
	rc->qid[QID_LEN] = '\0';
	rc->idx = idx;
	return 0;
}

/* Positions c on the first key after a->last (or the first key). */
int
q_cursor_resume(DBC *c, DBT *k, DBT *d, const unsigned char *last, size_t len,
    int started)
{
	int	 ret;

	memset(d, 0, sizeof(*d));
	if (!started) {
		memset(k, 0, sizeof(*k));
		return c->get(c, k, d, DB_FIRST);
	}
	q_dbt(k, last, len);
	if ((ret = c->get(c, k, d, DB_SET_RANGE)) != 0)
		return ret;
	if (k->size == len && memcmp(k->data, last, len) == 0)
		return c->get(c, k, d, DB_NEXT);
	return 0;
}

/* ---- removal --------------------------------------------------------- */

/* Deletes (and with aside, first copies to "corrupt") every record of tb
 * whose key starts with qid.  Recipients that decode have their schedule
 * entry deleted by key; *scan asks for a full schedule scan otherwise. */
static int
tx_purge_prefix(struct queue *q, DB_TXN *t, enum qtable tb, const char *qid,
    int aside, int *scan)
{
	DBC		*c;
	DBT		 k, d;
	struct qrcpt	 rc;
	u_int32_t	 op = DB_SET_RANGE;
	int		 ret;

	if ((ret = q->db[tb]->cursor(q->db[tb], t, &c, 0)) != 0)
		return ret;
	for (;;) {
		q_dbt(&k, qid, QID_LEN);
		memset(&d, 0, sizeof(d));
		ret = c->get(c, &k, &d, op | DB_RMW);
		op = DB_NEXT;
		if (ret != 0 || k.size < QID_LEN ||
		    memcmp(k.data, qid, QID_LEN) != 0)
			break;
		if (aside && (ret = q_aside(q, t, tb, &k, &d)) != 0)
			break;
		if (tb == QT_RCPTS && !aside) {
			if (qkey_qidn_decode(k.data, k.size, rc.qid,
			    &rc.idx) != NULL ||
			    qrec_rcpt_decode(d.data, d.size, &rc) != NULL)
				*scan = 1;
			else {
				ret = rc.state == QRCPT_HELD ? 0 :
				    q_sched_del(q, t, &rc);
				queue_rcpt_free(&rc);
				if (ret != 0)
					break;
			}
		}
		if ((ret = c->del(c, 0)) != 0)
			break;
	}
	(void)c->close(c);
	return ret == DB_NOTFOUND ? 0 : ret;
}

/* Removes every schedule entry of qid by walking the whole schedule: only
 * for records that could not be decoded, which should never happen. */
static int
tx_sched_scan(struct queue *q, DB_TXN *t, const char *qid, int aside)
{
	DBC	*c;
	DBT	 k, d;
	int	 ret;

	if ((ret = q->db[QT_SCHED]->cursor(q->db[QT_SCHED], t, &c, 0)) != 0)
		return ret;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	while ((ret = c->get(c, &k, &d, DB_NEXT | DB_RMW)) == 0) {
		if (k.size != QKEY_SCHED_LEN ||
		    memcmp((char *)k.data + 8, qid, QID_LEN) != 0)
			continue;
		if (aside && (ret = q_aside(q, t, QT_SCHED, &k, &d)) != 0)
			break;
		if ((ret = c->del(c, 0)) != 0)
			break;
	}
	(void)c->close(c);
	return ret == DB_NOTFOUND ? 0 : ret;
}

/* Removes a whole message: record, body, recipients, schedule entries.
 * With aside every record is kept in "corrupt" first. */
int
q_purge(struct queue *q, DB_TXN *t, const char *qid, int aside)
{
	DBT	 k, d;
	int	 ret, scan = aside;

	if (aside) {
		ret = q_get(q, t, QT_MESSAGES, qid, QID_LEN, &d, DB_RMW);
		q_dbt(&k, qid, QID_LEN);
		if (ret == 0)
			ret = q_aside(q, t, QT_MESSAGES, &k, &d);
		if (ret != 0 && ret != DB_NOTFOUND)
			return ret;
	}
	if ((ret = q_del(q, t, QT_MESSAGES, qid, QID_LEN)) != 0 ||
	    (ret = tx_purge_prefix(q, t, QT_BODIES, qid, aside, &scan)) != 0 ||
	    (ret = tx_purge_prefix(q, t, QT_RCPTS, qid, aside, &scan)) != 0)
		return ret;
	return scan ? tx_sched_scan(q, t, qid, aside) : 0;
}

int
q_quarantine(struct queue *q, DB_TXN *t, void *arg)
{
	return q_purge(q, t, arg, 1);
}

/* A schedule key that does not decode: keep it aside, drop it. */
int
q_sched_bad(struct queue *q, DB_TXN *t, DBC *c, const DBT *k, const DBT *d,
    const char *why)
{
	int	 ret;

	log_warnx("queue: corrupt schedule entry (%s): moved aside", why);
	if ((ret = q_aside(q, t, QT_SCHED, k, d)) != 0)
		return ret;
	return c->del(c, 0);
}
