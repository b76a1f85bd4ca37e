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
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <db.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "log.h"
#include "qdb.h"
#include "qfail.h"
#include "qrecord.h"
#include "queue.h"
#include "util.h"
static const struct {
	const char	*name;
	u_int32_t	 pagesize;
} qtables[QT_COUNT] = {
	{ "messages",		0 },
	{ "bodies",		32 * 1024 },	/* a 4 KiB message fits a page */
	{ "recipients",		0 },
	{ "schedule",		0 },
	{ "destinations",	0 },
	{ "sts_cache",		0 },
	{ "corrupt",		0 },
};

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
 * env_open) is not retried: the holder is likely a dead process that
 * failchk has not released yet, and the caller answers "try again later"
 * (451) at once rather than wait for it again and again.
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

/* ---- environment ---------------------------------------------------- */

static void
q_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	/* BDB2525: a new environment has no log yet, as it should. */
	if (strncmp(msg, "BDB2525 ", 8) == 0) {
		log_debug("queue: db: %s", msg);
		return;
	}
	log_warnx("queue: db: %s", msg);
}

/* Informational lines, e.g. what failchk released for a dead process. */
static void
q_msgcall(const DB_ENV *env, const char *msg)
{
	(void)env;
	log_info("queue: db: %s", msg);
}

/* failchk asks whether the owner of a lock or transaction still runs.
 * A zombie does not (qfail.h): an orphan that died waits for its reaper,
 * and its locks must not wait with it. */
static int
q_isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	return qfail_pid_alive(pid);
}

static int
env_open(struct queue *q, const char *home, unsigned flags)
{
	DB_ENV		*env;
	u_int32_t	 f = DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
			    DB_INIT_TXN;
	int		 ret;

	if ((ret = db_env_create(&env, 0)) != 0)
		return ret;
	q->env = env;
	env->set_errcall(env, q_errcall);
	env->set_msgcall(env, q_msgcall);
	if ((ret = env->set_cachesize(env, 0, QUEUE_CACHE, 1)) != 0 ||
	    (ret = env->set_lg_bsize(env, QUEUE_LOGBUF)) != 0 ||
	    (ret = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0 ||
	    (ret = env->set_lk_max_locks(env, QUEUE_LOCKS)) != 0 ||
	    (ret = env->set_lk_max_lockers(env, QUEUE_LOCKS)) != 0 ||
	    (ret = env->set_lk_max_objects(env, QUEUE_LOCKS)) != 0 ||
	    (ret = env->set_thread_count(env, QUEUE_THREADS)) != 0 ||
	    (ret = env->set_isalive(env, q_isalive)) != 0 ||
	    (ret = env->set_timeout(env, QUEUE_LOCK_TIMEOUT,
	    DB_SET_LOCK_TIMEOUT)) != 0 ||
	    (ret = env->set_timeout(env, QUEUE_TXN_TIMEOUT,
	    DB_SET_TXN_TIMEOUT)) != 0 ||
	    /* A timed-out lock says DB_LOCK_NOTGRANTED, not DB_LOCK_DEADLOCK,
	     * so that q_txn() does not retry it as a deadlock victim. */
	    (ret = env->set_flags(env, DB_TIME_NOTGRANTED, 1)) != 0 ||
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0)
		return ret;
	if (flags & (QUEUE_CREATE | QUEUE_RECOVER))
		f |= DB_CREATE;
	if (flags & QUEUE_RECOVER) {
		f |= DB_RECOVER;
		/* The log says what recovery found and where it ended. */
		(void)env->set_verbose(env, DB_VERB_RECOVERY, 1);
	}
	return env->open(env, home, f, 0600);
}

static int
tables_open(struct queue *q, unsigned flags)
{
	char		 name[64];
	u_int32_t	 f = DB_AUTO_COMMIT;
	int		 i, ret;

	if (flags & QUEUE_CREATE)
		f |= DB_CREATE;
	if (flags & QUEUE_RDONLY)
		f |= DB_RDONLY;
	for (i = 0; i < QT_COUNT; i++) {
		/* A session only adds messages: every table it opens costs
		 * each connection a file open and a meta page read. */
		if ((flags & QUEUE_SUBMIT) && i > QT_SCHED)
			continue;
		if ((ret = db_create(&q->db[i], q->env, 0)) != 0)
			return ret;
		if (qtables[i].pagesize != 0 &&
		    (ret = q->db[i]->set_pagesize(q->db[i],
		    qtables[i].pagesize)) != 0)
			return ret;
		(void)snprintf(name, sizeof(name), "%s.db", qtables[i].name);
		if ((ret = q->db[i]->open(q->db[i], NULL, name, NULL,
		    DB_BTREE, f, 0600)) != 0)
			return ret;
	}
	return 0;
}

int
queue_open(struct queue **qp, const char *spool_dir, unsigned flags,
    char *err, size_t errlen)
{
	struct queue	*q;
	char		 home[PATH_MAX];
	int		 n, ret;

	*qp = NULL;
	/* q->home goes to statvfs() for the free-space check: a cut path
	 * would measure another file system. */
	n = snprintf(home, sizeof(home), "%s/db", spool_dir);
	if (n < 0 || (size_t)n >= sizeof(home) ||
	    (size_t)n >= sizeof(((struct queue *)0)->home)) {
		(void)snprintf(err, errlen, "%s: path too long", spool_dir);
		return -1;
	}
	if ((flags & (QUEUE_CREATE | QUEUE_RECOVER)) &&
	    mkdir(home, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "%s: %s", home, strerror(errno));
		return -1;
	}
	q = xcalloc(1, sizeof(*q));
	q->flags = flags;
	(void)strlcpy(q->home, home, sizeof(q->home));
	buf_init(&q->enc);
	buf_init(&q->key);
	if ((ret = env_open(q, home, flags)) != 0 ||
	    (!(flags & QUEUE_ENV) && (ret = tables_open(q, flags)) != 0)) {
		(void)snprintf(err, errlen, "%s: %s", home, db_strerror(ret));
		queue_close(q);
		if (ret > 0)
			errno = ret;
		return -1;
	}
	*qp = q;
	return 0;
}

void
queue_close(struct queue *q)
{
	int	 i;

	if (q == NULL)
		return;
	/* No page flush here: the log has every committed change, and
	 * writing pages is the checkpoint's job (many processes flushing
	 * the same files at close make each other wait). */
	for (i = 0; i < QT_COUNT; i++)
		if (q->db[i] != NULL)
			(void)q->db[i]->close(q->db[i], DB_NOSYNC);
	if (q->env != NULL)
		(void)q->env->close(q->env, 0);
	buf_free(&q->enc);
	buf_free(&q->key);
	free(q);
}

/*
 * Releases what dead processes held: their transactions are aborted and
 * their locks freed (DB_ENV->failchk, asking q_isalive).  Then lock
 * requests past their time-out are refused (DB_LOCK_EXPIRE), so a waiter
 * behind a holder that failchk could not free answers 451 instead of
 * waiting on.  failchk can hang on the shared state a process killed in
 * a lock wait left behind: the master runs this in a child with a
 * deadline (master.c), never in its own loop.
 */
int
queue_failchk(struct queue *q)
{
	int	 ret;

	if ((ret = q->env->failchk(q->env, 0)) != 0)
		return q_fail("failchk", ret);
	if ((ret = q->env->lock_detect(q->env, 0, DB_LOCK_EXPIRE, NULL)) != 0)
		return q_fail("lock_detect", ret);
	return 0;
}

int
queue_checkpoint(struct queue *q)
{
	int	 ret;

	/* Without DB_FORCE this writes nothing when no log was written
	 * since the last checkpoint; log files it frees are removed
	 * (DB_LOG_AUTO_REMOVE). */
	if ((ret = q->env->txn_checkpoint(q->env, 0, 0, 0)) != 0)
		return q_fail("checkpoint", ret);
	return 0;
}

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
