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

#include "log.h"
#include "qrecord.h"
#include "queue.h"
#include "util.h"

#define QUEUE_CHUNK		(64 * 1024)	/* body bytes per record */
#define QUEUE_CACHE		(16 * 1024 * 1024)
#define QUEUE_LOGBUF		(2 * 1024 * 1024)
#define QUEUE_THREADS		4096	/* processes with the env open */
#define QUEUE_LOCKS		50000
#define QUEUE_TXN_RETRIES	50	/* deadlock victims retry this often */
#define QUEUE_QID_TRIES		16	/* fresh ids after a collision */
#define QUEUE_BATCH		256	/* entries read per transaction */
#define QE_CORRUPT		(-1000)	/* internal: a record failed to decode */

enum qtable {
	QT_MESSAGES,
	QT_BODIES,
	QT_RCPTS,
	QT_SCHED,
	QT_DESTS,
	QT_STS,
	QT_CORRUPT,
	QT_COUNT
};

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

struct queue {
	DB_ENV		*env;
	DB		*db[QT_COUNT];
	unsigned	 flags;
	struct buf	 enc;	/* record being encoded */
	struct buf	 key;	/* key being built */
	char		 bad_qid[QID_LEN + 1];	/* to move aside */
};

typedef int (*qtxn_fn)(struct queue *, DB_TXN *, void *);

static int	tx_purge(struct queue *, DB_TXN *, const char *, int);
static int	tx_quarantine(struct queue *, DB_TXN *, void *);

static void
dbt_set(DBT *d, const void *p, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)(uintptr_t)p;
	d->size = (u_int32_t)len;
}

static int64_t
now_sec(void)
{
	return (int64_t)time(NULL);
}

/* errno for a Berkeley DB result: system errors are errno values already
 * (ENOSPC reaches the receiver as 452), the rest is EIO or EAGAIN. */
static int
q_fail(const char *what, int ret)
{
	if (ret == QE_CORRUPT) {
		errno = EBADMSG;
		return -1;
	}
	log_warnx("queue: %s: %s", what, db_strerror(ret));
	if (ret > 0)
		errno = ret;
	else if (ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED)
		errno = EAGAIN;
	else if (ret == DB_NOTFOUND)
		errno = ENOENT;
	else
		errno = EIO;
	return -1;
}

/*
 * Runs fn in a transaction, retrying it whole when it was chosen as a
 * deadlock victim.  fn must not keep state across attempts.
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
 */
static int
q_txn(struct queue *q, qtxn_fn fn, void *arg, int write)
{
	DB_TXN	*t;
	int	 ret = 0, tries;

	for (tries = 0; tries < QUEUE_TXN_RETRIES; tries++) {
		if ((ret = q->env->txn_begin(q->env, NULL, &t, 0)) != 0)
			return ret;
		if ((ret = fn(q, t, arg)) != 0) {
			(void)t->abort(t);
			if (ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED)
				continue;
			/* Nothing of fn stays; the bad message goes aside in
			 * a transaction of its own. */
			if (ret == QE_CORRUPT && fn != tx_quarantine &&
			    (ret = q_txn(q, tx_quarantine, q->bad_qid, 1)) == 0)
				ret = QE_CORRUPT;
			return ret;
		}
		if (!write)
			return t->commit(t, 0);
		if ((ret = t->commit(t, DB_TXN_WRITE_NOSYNC)) != 0)
			return ret;
		return q->env->log_flush(q->env, NULL);
	}
	return ret;
}

static int
q_get(struct queue *q, DB_TXN *t, enum qtable tb, const void *k, size_t klen,
    DBT *data, u_int32_t flags)
{
	DBT	 key;

	dbt_set(&key, k, klen);
	memset(data, 0, sizeof(*data));
	return q->db[tb]->get(q->db[tb], t, &key, data, flags);
}

static int
q_put(struct queue *q, DB_TXN *t, enum qtable tb, const void *k, size_t klen,
    const void *d, size_t dlen, u_int32_t flags)
{
	DBT	 key, data;

	dbt_set(&key, k, klen);
	dbt_set(&data, d, dlen);
	return q->db[tb]->put(q->db[tb], t, &key, &data, flags);
}

/* Deletes a key; a missing key is not an error. */
static int
q_del(struct queue *q, DB_TXN *t, enum qtable tb, const void *k, size_t klen)
{
	DBT	 key;
	int	 ret;

	dbt_set(&key, k, klen);
	ret = q->db[tb]->del(q->db[tb], t, &key, 0);
	return ret == DB_NOTFOUND ? 0 : ret;
}

/* Keeps the raw record of table tb under key k in "corrupt". */
static int
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
static int
q_corrupt(struct queue *q, const char *qid)
{
	memcpy(q->bad_qid, qid, QID_LEN);
	q->bad_qid[QID_LEN] = '\0';
	return QE_CORRUPT;
}

static int
sched_put(struct queue *q, DB_TXN *t, const struct qrcpt *rc)
{
	unsigned char	 k[QKEY_SCHED_LEN];

	qkey_sched(k, rc->next_attempt, rc->qid, rc->idx);
	return q_put(q, t, QT_SCHED, k, sizeof(k), rc->dest, strlen(rc->dest),
	    0);
}

static int
sched_del(struct queue *q, DB_TXN *t, const struct qrcpt *rc)
{
	unsigned char	 k[QKEY_SCHED_LEN];

	qkey_sched(k, rc->next_attempt, rc->qid, rc->idx);
	return q_del(q, t, QT_SCHED, k, sizeof(k));
}

static int
rcpt_put(struct queue *q, DB_TXN *t, const struct qrcpt *rc)
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
	log_warnx("queue: db: %s", msg);
}

/* Informational lines, e.g. what failchk released for a dead process. */
static void
q_msgcall(const DB_ENV *env, const char *msg)
{
	(void)env;
	log_info("queue: db: %s", msg);
}

/* failchk asks whether the owner of a lock or transaction still runs;
 * the master calls it after reaping a child, so a dead one is gone. */
static int
q_isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	return kill(pid, 0) == 0 || errno == EPERM;
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
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0)
		return ret;
	if (flags & (QUEUE_CREATE | QUEUE_RECOVER))
		f |= DB_CREATE;
	if (flags & QUEUE_RECOVER)
		f |= DB_RECOVER;
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
	n = snprintf(home, sizeof(home), "%s/db", spool_dir);
	if (n < 0 || (size_t)n >= sizeof(home)) {
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
	buf_init(&q->enc);
	buf_init(&q->key);
	if ((ret = env_open(q, home, flags)) != 0 ||
	    (ret = tables_open(q, flags)) != 0) {
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

int
queue_failchk(struct queue *q)
{
	int	 ret;

	if ((ret = q->env->failchk(q->env, 0)) != 0)
		return q_fail("failchk", ret);
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

/* ---- submit ---------------------------------------------------------- */

/* Inserts the message record under a fresh qid. */
static int
tx_msg_insert(struct queue *q, DB_TXN *t, struct qmsg *m)
{
	int	 i, ret = DB_KEYEXIST;

	qrec_msg_encode(&q->enc, m);
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
	int64_t		 now = now_sec();
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
		if ((ret = rcpt_put(q, t, rc)) != 0)
			return ret;
		if (rc->state != QRCPT_HELD &&
		    (ret = sched_put(q, t, rc)) != 0)
			return ret;
	}
	return 0;
}

static int
tx_submit(struct queue *q, DB_TXN *t, void *arg)
{
	return tx_add(q, t, arg);
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
		return q_fail("submit", ret);
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
static int
tx_msg_get(struct queue *q, DB_TXN *t, const char *qid, struct qmsg *m,
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

static int
tx_rcpt_get(struct queue *q, DB_TXN *t, const char *qid, uint32_t idx,
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

	if ((ret = tx_rcpt_get(q, t, qid, u->idx, &rc, DB_RMW)) != 0)
		return ret;
	if (rc.state != QRCPT_HELD && (ret = sched_del(q, t, &rc)) != 0)
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
	rc.next_attempt = u->next_attempt > 0 ? u->next_attempt : now_sec();
	rcpt_set_reply(&rc, u->reply);
	if ((ret = rcpt_put(q, t, &rc)) != 0)
		goto done;
	if (rc.state != QRCPT_HELD)
		ret = sched_put(q, t, &rc);
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

	if ((ret = tx_msg_get(q, t, a->qid, &m, DB_RMW)) != 0)
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
	/* The message leaves with its last recipient, in this transaction. */
	if (m.nrcpt == 0)
		ret = tx_purge(q, t, a->qid, 0);
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
	if ((ret = q_txn(q, tx_update, &a, 1)) != 0)
		return q_fail("update", ret);
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
		dbt_set(&k, qid, QID_LEN);
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
				    sched_del(q, t, &rc);
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
static int
tx_purge(struct queue *q, DB_TXN *t, const char *qid, int aside)
{
	DBT	 k, d;
	int	 ret, scan = aside;

	if (aside) {
		ret = q_get(q, t, QT_MESSAGES, qid, QID_LEN, &d, DB_RMW);
		dbt_set(&k, qid, QID_LEN);
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

static int
tx_quarantine(struct queue *q, DB_TXN *t, void *arg)
{
	return tx_purge(q, t, arg, 1);
}

/* A schedule key that does not decode: keep it aside, drop it. */
static int
tx_sched_bad(struct queue *q, DB_TXN *t, DBC *c, const DBT *k, const DBT *d,
    const char *why)
{
	int	 ret;

	log_warnx("queue: corrupt schedule entry (%s): moved aside", why);
	if ((ret = q_aside(q, t, QT_SCHED, k, d)) != 0)
		return ret;
	return c->del(c, 0);
}

struct one_arg {
	const char	*qid;
	int		 found;
};

static int
tx_delete(struct queue *q, DB_TXN *t, void *arg)
{
	struct one_arg	*a = arg;
	DBT		 d;
	int		 ret;

	ret = q_get(q, t, QT_MESSAGES, a->qid, QID_LEN, &d, DB_RMW);
	if ((a->found = ret == 0) == 0)
		return ret == DB_NOTFOUND ? 0 : ret;
	return tx_purge(q, t, a->qid, 0);
}

int
queue_delete(struct queue *q, const char *qid)
{
	struct one_arg	 a = { qid, 0 };
	int		 ret;

	if (!qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	if ((ret = q_txn(q, tx_delete, &a, 1)) != 0)
		return q_fail("delete", ret);
	return a.found ? 0 : 1;
}

/* ---- readers --------------------------------------------------------- */

struct get_arg {
	const char	*qid;
	uint32_t	 idx;
	struct qmsg	*msg;
	struct qrcpt	*rcpt;
	char		*body;
	size_t		 len;
};

static int
get_result(const char *what, int ret)
{
	if (ret == 0)
		return 0;
	if (ret == DB_NOTFOUND || ret == QE_CORRUPT)
		return 1;
	return q_fail(what, ret);
}

static int
tx_get_msg(struct queue *q, DB_TXN *t, void *arg)
{
	struct get_arg	*a = arg;

	return tx_msg_get(q, t, a->qid, a->msg, 0);
}

int
queue_get_msg(struct queue *q, const char *qid, struct qmsg *m)
{
	struct get_arg	 a = { .qid = qid, .msg = m };

	memset(m, 0, sizeof(*m));
	if (!qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	return get_result("get message", q_txn(q, tx_get_msg, &a, 0));
}

static int
tx_get_rcpt(struct queue *q, DB_TXN *t, void *arg)
{
	struct get_arg	*a = arg;

	return tx_rcpt_get(q, t, a->qid, a->idx, a->rcpt, 0);
}

int
queue_get_rcpt(struct queue *q, const char *qid, uint32_t idx,
    struct qrcpt *rc)
{
	struct get_arg	 a = { .qid = qid, .idx = idx, .rcpt = rc };

	memset(rc, 0, sizeof(*rc));
	if (!qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	return get_result("get recipient", q_txn(q, tx_get_rcpt, &a, 0));
}

/* Reads one chunk straight into the body buffer; its size must be
 * exactly want. */
static int
tx_chunk_get(struct queue *q, DB_TXN *t, const char *qid, uint32_t chunk,
    char *p, size_t want)
{
	unsigned char	 k[QKEY_QIDN_LEN];
	DBT		 key, d;
	int		 ret;

	qkey_qidn(k, qid, chunk);
	dbt_set(&key, k, sizeof(k));
	memset(&d, 0, sizeof(d));
	d.data = p;
	d.ulen = (u_int32_t)want;
	d.flags = DB_DBT_USERMEM;
	ret = q->db[QT_BODIES]->get(q->db[QT_BODIES], t, &key, &d, 0);
	if (ret == DB_BUFFER_SMALL || ret == DB_NOTFOUND ||
	    (ret == 0 && d.size != want)) {
		log_warnx("%s: body chunk %u missing or of the wrong size: "
		    "moving the message aside", qid, chunk);
		return q_corrupt(q, qid);
	}
	return ret;
}

static int
tx_get_body(struct queue *q, DB_TXN *t, void *arg)
{
	struct get_arg	*a = arg;
	struct qmsg	 m;
	size_t		 off, n;
	uint32_t	 chunk = 0;
	int		 ret;

	free(a->body);
	a->body = NULL;
	if ((ret = tx_msg_get(q, t, a->qid, &m, 0)) != 0)
		return ret;
	if (m.size >= SIZE_MAX) {
		queue_msg_free(&m);
		return ENOMEM;
	}
	a->len = (size_t)m.size;
	a->body = xmalloc(a->len + 1);
	queue_msg_free(&m);
	for (off = 0; off < a->len; off += n, chunk++) {
		n = a->len - off > QUEUE_CHUNK ? QUEUE_CHUNK : a->len - off;
		if ((ret = tx_chunk_get(q, t, a->qid, chunk, a->body + off,
		    n)) != 0)
			return ret;
	}
	a->body[a->len] = '\0';
	return 0;
}

int
queue_get_body(struct queue *q, const char *qid, char **body, size_t *len)
{
	struct get_arg	 a = { .qid = qid };
	int		 ret;

	*body = NULL;
	*len = 0;
	if (!qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	ret = q_txn(q, tx_get_body, &a, 0);
	if (ret != 0) {
		free(a.body);
		return get_result("get body", ret);
	}
	*body = a.body;
	*len = a.len;
	return 0;
}

void
queue_msg_free(struct qmsg *m)
{
	free(m->sender);
	free(m->envid);
	free(m->helo);
	free(m->client_addr);
	free(m->client_name);
	m->sender = m->envid = m->helo = m->client_addr = m->client_name = NULL;
}

void
queue_rcpt_free(struct qrcpt *rc)
{
	free(rc->addr);
	free(rc->orcpt);
	free(rc->dest);
	free(rc->last_reply);
	rc->addr = rc->orcpt = rc->dest = rc->last_reply = NULL;
}

/* ---- schedule -------------------------------------------------------- */

struct due_arg {
	int64_t		 now;
	size_t		 want;		/* at most this many per batch */
	int		 started;	/* resume after last */
	unsigned char	 last[QKEY_SCHED_LEN];
	struct qdue	 ent[QUEUE_BATCH];
	size_t		 n;
	int		 end;		/* nothing more is due */
};

static void
due_clear(struct due_arg *a)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		free((char *)(uintptr_t)a->ent[i].dest);
	a->n = 0;
}

/* Positions c on the first key after a->last (or the first key). */
static int
cursor_resume(DBC *c, DBT *k, DBT *d, const unsigned char *last, size_t len,
    int started)
{
	int	 ret;

	memset(d, 0, sizeof(*d));
	if (!started) {
		memset(k, 0, sizeof(*k));
		return c->get(c, k, d, DB_FIRST);
	}
	dbt_set(k, last, len);
	if ((ret = c->get(c, k, d, DB_SET_RANGE)) != 0)
		return ret;
	if (k->size == len && memcmp(k->data, last, len) == 0)
		return c->get(c, k, d, DB_NEXT);
	return 0;
}

/* One batch of due entries, read in time order; the callbacks run after
 * the transaction so that they may use the queue themselves. */
static int
tx_due(struct queue *q, DB_TXN *t, void *arg)
{
	struct due_arg	*a = arg;
	struct qdue	*e;
	DBC		*c;
	DBT		 k, d;
	const char	*why;
	int		 ret;

	due_clear(a);
	a->end = 0;
	if ((ret = q->db[QT_SCHED]->cursor(q->db[QT_SCHED], t, &c, 0)) != 0)
		return ret;
	ret = cursor_resume(c, &k, &d, a->last, sizeof(a->last), a->started);
	for (; ret == 0 && a->n < a->want; ret = c->get(c, &k, &d, DB_NEXT)) {
		e = &a->ent[a->n];
		why = qkey_sched_decode(k.data, k.size, &e->when, e->qid,
		    &e->idx);
		if (why != NULL) {
			if ((ret = tx_sched_bad(q, t, c, &k, &d, why)) != 0)
				break;
			continue;
		}
		if (e->when > a->now) {
			a->end = 1;
			break;
		}
		e->dest = xstrndup(d.data, d.size);
		memcpy(a->last, k.data, sizeof(a->last));
		a->n++;
	}
	(void)c->close(c);
	if (ret == DB_NOTFOUND) {
		a->end = 1;
		ret = 0;
	}
	return ret;
}

int
queue_due(struct queue *q, int64_t now, size_t max,
    int (*fn)(void *, const struct qdue *), void *arg)
{
	struct due_arg	*a;
	size_t		 i, done = 0;
	int		 ret, stop = 0;

	a = xcalloc(1, sizeof(*a));
	a->now = now;
	while (!stop && done < max) {
		a->want = max - done < QUEUE_BATCH ? max - done : QUEUE_BATCH;
		if ((ret = q_txn(q, tx_due, a, 0)) != 0) {
			due_clear(a);
			free(a);
			return q_fail("due", ret);
		}
		a->started = 1;
		for (i = 0; i < a->n && !stop; i++) {
			done++;
			stop = fn(arg, &a->ent[i]) != 0;
		}
		if (a->end || a->n == 0)
			break;
	}
	due_clear(a);
	free(a);
	return done > INT_MAX ? INT_MAX : (int)done;
}

struct next_arg {
	int64_t		 when;
};

static int
tx_next_due(struct queue *q, DB_TXN *t, void *arg)
{
	struct next_arg	*a = arg;
	DBC		*c;
	DBT		 k, d;
	char		 qid[QID_LEN + 1];
	uint32_t	 idx;
	const char	*why;
	int		 ret;

	a->when = 0;
	if ((ret = q->db[QT_SCHED]->cursor(q->db[QT_SCHED], t, &c, 0)) != 0)
		return ret;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
		why = qkey_sched_decode(k.data, k.size, &a->when, qid, &idx);
		if (why == NULL)
			break;
		a->when = 0;
		if ((ret = tx_sched_bad(q, t, c, &k, &d, why)) != 0)
			break;
	}
	(void)c->close(c);
	return ret == DB_NOTFOUND ? 0 : ret;
}

int64_t
queue_next_due(struct queue *q)
{
	struct next_arg	 a;
	int		 ret;

	if ((ret = q_txn(q, tx_next_due, &a, 0)) != 0)
		return q_fail("next due", ret);
	return a.when;
}

/* ---- listing --------------------------------------------------------- */

struct walk_arg {
	int		 started;
	unsigned char	 last[QID_LEN];
	int		 found;
	struct qmsg	 msg;
	struct qrcpt	*rc;
	size_t		 n;
	size_t		 cap;
};

static void
walk_clear(struct walk_arg *a)
{
	size_t	 i;

	queue_msg_free(&a->msg);
	for (i = 0; i < a->n; i++)
		queue_rcpt_free(&a->rc[i]);
	a->n = 0;
	a->found = 0;
}

/* Finds the next message after a->last; bad keys go aside. */
static int
tx_walk_key(struct queue *q, DB_TXN *t, struct walk_arg *a)
{
	DBC	*c;
	DBT	 k, d;
	int	 ret;

	if ((ret = q->db[QT_MESSAGES]->cursor(q->db[QT_MESSAGES], t, &c,
	    0)) != 0)
		return ret;
	ret = cursor_resume(c, &k, &d, a->last, sizeof(a->last), a->started);
	for (; ret == 0; ret = c->get(c, &k, &d, DB_NEXT)) {
		if (k.size == QID_LEN) {
			memcpy(a->msg.qid, k.data, QID_LEN);
			a->msg.qid[QID_LEN] = '\0';
			if (qid_valid(a->msg.qid))
				break;
		}
		log_warnx("queue: message key of %u bytes: moved aside",
		    k.size);
		if ((ret = q_aside(q, t, QT_MESSAGES, &k, &d)) != 0 ||
		    (ret = c->del(c, 0)) != 0)
			break;
	}
	(void)c->close(c);
	return ret;
}

static int
tx_walk(struct queue *q, DB_TXN *t, void *arg)
{
	struct walk_arg	*a = arg;
	char		 qid[QID_LEN + 1];
	uint32_t	 idx;
	DBC		*c;
	DBT		 k, d;
	int		 ret;

	walk_clear(a);
	if ((ret = tx_walk_key(q, t, a)) != 0)
		return ret == DB_NOTFOUND ? 0 : ret;
	memcpy(qid, a->msg.qid, sizeof(qid));
	memcpy(a->last, qid, QID_LEN);
	if ((ret = tx_msg_get(q, t, qid, &a->msg, 0)) != 0)
		return ret;
	a->found = 1;
	if ((ret = q->db[QT_RCPTS]->cursor(q->db[QT_RCPTS], t, &c, 0)) != 0)
		return ret;
	dbt_set(&k, qid, QID_LEN);
	memset(&d, 0, sizeof(d));
	for (ret = c->get(c, &k, &d, DB_SET_RANGE); ret == 0;
	    ret = c->get(c, &k, &d, DB_NEXT)) {
		if (k.size < QID_LEN || memcmp(k.data, qid, QID_LEN) != 0)
			break;
		if (a->n == a->cap) {
			a->cap = a->cap ? a->cap * 2 : 8;
			a->rc = xreallocarray(a->rc, a->cap, sizeof(*a->rc));
		}
		if (qkey_qidn_decode(k.data, k.size, qid, &idx) != NULL ||
		    qrec_rcpt_decode(d.data, d.size, &a->rc[a->n]) != NULL) {
			log_warnx("%s: corrupt recipient record: moving the "
			    "message aside", qid);
			ret = q_corrupt(q, qid);
			break;
		}
		memcpy(a->rc[a->n].qid, qid, sizeof(qid));
		a->rc[a->n++].idx = idx;
	}
	(void)c->close(c);
	return ret == DB_NOTFOUND ? 0 : ret;
}

int
queue_walk(struct queue *q,
    int (*fn)(void *, const struct qmsg *, const struct qrcpt *, size_t),
    void *arg)
{
	struct walk_arg	 a;
	int		 ret, stop = 0;

	memset(&a, 0, sizeof(a));
	while (!stop) {
		ret = q_txn(q, tx_walk, &a, 0);
		a.started = 1;
		if (ret == QE_CORRUPT)
			continue;	/* moved aside; go on after it */
		if (ret != 0) {
			walk_clear(&a);
			free(a.rc);
			return q_fail("walk", ret);
		}
		if (!a.found)
			break;
		stop = fn(arg, &a.msg, a.rc, a.n) != 0;
	}
	walk_clear(&a);
	free(a.rc);
	return 0;
}

/* ---- administration -------------------------------------------------- */

struct flush_arg {
	const char	*dest;
	int64_t		 now;
	unsigned char	 last[QKEY_SCHED_LEN];
	size_t		 moved;
	int		 end;
};

/* Moves one schedule entry (under c) and its recipient to now. */
static int
tx_flush_one(struct queue *q, DB_TXN *t, DBC *c, const char *qid,
    uint32_t idx, int64_t now)
{
	struct qrcpt	 rc;
	int		 ret;

	if ((ret = tx_rcpt_get(q, t, qid, idx, &rc, DB_RMW)) != 0) {
		/* An entry without its recipient is dropped. */
		return ret == DB_NOTFOUND ? c->del(c, 0) : ret;
	}
	rc.next_attempt = now;
	if ((ret = c->del(c, 0)) == 0 && (ret = rcpt_put(q, t, &rc)) == 0)
		ret = sched_put(q, t, &rc);
	queue_rcpt_free(&rc);
	return ret;
}

static int
tx_flush(struct queue *q, DB_TXN *t, void *arg)
{
	struct flush_arg	*a = arg;
	DBC			*c;
	DBT			 k, d;
	char			 qid[QID_LEN + 1];
	uint32_t		 idx;
	int64_t			 when;
	const char		*why;
	int			 ret;

	a->moved = 0;
	a->end = 0;
	if ((ret = q->db[QT_SCHED]->cursor(q->db[QT_SCHED], t, &c, 0)) != 0)
		return ret;
	ret = cursor_resume(c, &k, &d, a->last, sizeof(a->last), 1);
	for (; ret == 0 && a->moved < QUEUE_BATCH;
	    ret = c->get(c, &k, &d, DB_NEXT | DB_RMW)) {
		why = qkey_sched_decode(k.data, k.size, &when, qid, &idx);
		if (why != NULL) {
			if ((ret = tx_sched_bad(q, t, c, &k, &d, why)) != 0)
				break;
			continue;
		}
		memcpy(a->last, k.data, sizeof(a->last));
		if (a->dest != NULL && (d.size != strlen(a->dest) ||
		    memcmp(d.data, a->dest, d.size) != 0))
			continue;
		if ((ret = tx_flush_one(q, t, c, qid, idx, a->now)) != 0)
			break;
		a->moved++;
	}
	(void)c->close(c);
	if (ret == DB_NOTFOUND) {
		a->end = 1;
		ret = 0;
	}
	return ret;
}

int
queue_flush(struct queue *q, const char *dest)
{
	struct flush_arg	 a;
	size_t			 total = 0;
	int			 ret;

	memset(&a, 0, sizeof(a));
	a.dest = dest;
	a.now = now_sec();
	/* Entries at or before now are due already; start after them. */
	qkey_sched(a.last, a.now, "0000000000000000", 0);
	memset(a.last + 8, 0xFF, sizeof(a.last) - 8);
	do {
		ret = q_txn(q, tx_flush, &a, 1);
		if (ret == QE_CORRUPT)
			continue;	/* moved aside; go on */
		if (ret != 0)
			return q_fail("flush", ret);
		total += a.moved;
	} while (!a.end);
	return total > INT_MAX ? INT_MAX : (int)total;
}

struct hold_arg {
	const char	*qid;
	int		 hold;
	int		 found;
	int64_t		 now;
};

/* Hold: unschedule; release: due now, QUEUED or DEFERRED as before. */
static int
hold_one(struct queue *q, DB_TXN *t, struct hold_arg *a, struct qrcpt *rc)
{
	int	 ret;

	if (a->hold == (rc->state == QRCPT_HELD))
		return 0;
	if (a->hold) {
		if ((ret = sched_del(q, t, rc)) != 0)
			return ret;
		rc->state = QRCPT_HELD;
	} else {
		rc->state = rc->attempts > 0 ? QRCPT_DEFERRED : QRCPT_QUEUED;
		rc->next_attempt = a->now;
		if ((ret = sched_put(q, t, rc)) != 0)
			return ret;
	}
	return rcpt_put(q, t, rc);
}

/* The recipient of qid with the lowest index >= *idx (DB_NOTFOUND when
 * none): indexes are dense at submission, retired ones are absent. */
static int
tx_rcpt_next(struct queue *q, DB_TXN *t, const char *qid, uint32_t *idx,
    struct qrcpt *rc)
{
	unsigned char	 kb[QKEY_QIDN_LEN];
	char		 kqid[QID_LEN + 1];
	DBC		*c;
	DBT		 k, d;
	int		 ret;

	if ((ret = q->db[QT_RCPTS]->cursor(q->db[QT_RCPTS], t, &c, 0)) != 0)
		return ret;
	qkey_qidn(kb, qid, *idx);
	dbt_set(&k, kb, sizeof(kb));
	memset(&d, 0, sizeof(d));
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	if (ret == 0 && (k.size < QID_LEN || memcmp(k.data, qid, QID_LEN)))
		ret = DB_NOTFOUND;
	(void)c->close(c);
	if (ret != 0)
		return ret;
	if (qkey_qidn_decode(k.data, k.size, kqid, idx) != NULL)
		return q_corrupt(q, qid);
	return tx_rcpt_get(q, t, qid, *idx, rc, DB_RMW);
}

static int
tx_hold(struct queue *q, DB_TXN *t, void *arg)
{
	struct hold_arg	*a = arg;
	struct qmsg	 m;
	struct qrcpt	 rc;
	uint32_t	 idx = 0;
	int		 ret;

	a->found = 0;
	if ((ret = tx_msg_get(q, t, a->qid, &m, DB_RMW)) != 0)
		return ret == DB_NOTFOUND ? 0 : ret;
	a->found = 1;
	queue_msg_free(&m);
	while ((ret = tx_rcpt_next(q, t, a->qid, &idx, &rc)) == 0) {
		ret = hold_one(q, t, a, &rc);
		queue_rcpt_free(&rc);
		if (ret != 0 || idx == UINT32_MAX)
			break;
		idx++;
	}
	return ret == DB_NOTFOUND ? 0 : ret;
}

static int
hold_release(struct queue *q, const char *qid, int hold)
{
	struct hold_arg	 a = { qid, hold, 0, now_sec() };
	int		 ret;

	if (!qid_valid(qid)) {
		errno = EINVAL;
		return -1;
	}
	ret = q_txn(q, tx_hold, &a, 1);
	if (ret == QE_CORRUPT)
		return 1;
	if (ret != 0)
		return q_fail(hold ? "hold" : "release", ret);
	return a.found ? 0 : 1;
}

int
queue_hold(struct queue *q, const char *qid)
{
	return hold_release(q, qid, 1);
}

int
queue_release(struct queue *q, const char *qid)
{
	return hold_release(q, qid, 0);
}

/* ---- small maps ------------------------------------------------------ */

struct kv_arg {
	enum qtable	 tb;
	const char	*key;
	const void	*val;
	size_t		 len;
	char		*out;
	int		 op;	/* 'g', 'p', 'd' */
};

static int
tx_kv(struct queue *q, DB_TXN *t, void *arg)
{
	struct kv_arg	*a = arg;
	DBT		 d;
	int		 ret;

	switch (a->op) {
	case 'p':
		return q_put(q, t, a->tb, a->key, strlen(a->key), a->val,
		    a->len, 0);
	case 'd':
		return q_del(q, t, a->tb, a->key, strlen(a->key));
	default:
		free(a->out);
		a->out = NULL;
		if ((ret = q_get(q, t, a->tb, a->key, strlen(a->key), &d,
		    0)) != 0)
			return ret;
		a->out = xmalloc((size_t)d.size + 1);
		memcpy(a->out, d.data, d.size);
		a->out[d.size] = '\0';
		a->len = d.size;
		return 0;
	}
}

static int
kv_run(struct queue *q, struct kv_arg *a, const char *table)
{
	int	 ret;

	if (table != NULL && strcmp(table, qtables[QT_DESTS].name) == 0)
		a->tb = QT_DESTS;
	else if (table != NULL && strcmp(table, qtables[QT_STS].name) == 0)
		a->tb = QT_STS;
	else {
		errno = EINVAL;
		return -1;
	}
	if (a->key == NULL || *a->key == '\0') {
		errno = EINVAL;
		return -1;
	}
	ret = q_txn(q, tx_kv, a, a->op != 'g');
	if (ret == DB_NOTFOUND && a->op == 'g')
		return 1;
	if (ret != 0) {
		free(a->out);
		return q_fail(table, ret);
	}
	return 0;
}

int
queue_kv_get(struct queue *q, const char *table, const char *key,
    char **val, size_t *len)
{
	struct kv_arg	 a = { .key = key, .op = 'g' };
	int		 ret;

	*val = NULL;
	*len = 0;
	if ((ret = kv_run(q, &a, table)) != 0)
		return ret;
	*val = a.out;
	*len = a.len;
	return 0;
}

int
queue_kv_put(struct queue *q, const char *table, const char *key,
    const void *val, size_t len)
{
	struct kv_arg	 a = { .key = key, .val = val, .len = len, .op = 'p' };

	return kv_run(q, &a, table);
}

int
queue_kv_del(struct queue *q, const char *table, const char *key)
{
	struct kv_arg	 a = { .key = key, .op = 'd' };

	return kv_run(q, &a, table);
}
