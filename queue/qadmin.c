/*
 * queue administration: removal of whole messages (delete, retirement of
 * the last recipient, corruption), flush, hold and release, and the
 * small policy maps.
 */
#include <db.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "qdb.h"
#include "qrecord.h"
#include "qsts.h"
#include "queue.h"
#include "util.h"

/* ---- removal --------------------------------------------------------- */

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
	return q_purge(q, t, a->qid, 0);
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

	if ((ret = q_rcpt_get(q, t, qid, idx, &rc, DB_RMW)) != 0) {
		/* An entry without its recipient is dropped. */
		return ret == DB_NOTFOUND ? c->del(c, 0) : ret;
	}
	rc.next_attempt = now;
	if ((ret = c->del(c, 0)) == 0 && (ret = q_rcpt_put(q, t, &rc)) == 0)
		ret = q_sched_put(q, t, &rc);
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
	ret = q_cursor_resume(c, &k, &d, a->last, sizeof(a->last), 1);
	for (; ret == 0 && a->moved < QUEUE_BATCH;
	    ret = c->get(c, &k, &d, DB_NEXT | DB_RMW)) {
		why = qkey_sched_decode(k.data, k.size, &when, qid, &idx);
		if (why != NULL) {
			if ((ret = q_sched_bad(q, t, c, &k, &d, why)) != 0)
				break;
			continue;
		}
		memcpy(a->last, k.data, sizeof(a->last));
		if (a->dest != NULL && (d.size != strlen(a->dest) ||
		    memcmp(d.data, a->dest, d.size) != 0))
			continue;
		if ((ret = tx_flush_one(q, t, c, qid, idx, a->now)) != 0)
			break;
		if (a->moved++ == 0)
			q_point(q, "flush");
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
	a.now = q_now();
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
		if ((ret = q_sched_del(q, t, rc)) != 0)
			return ret;
		rc->state = QRCPT_HELD;
	} else {
		rc->state = rc->attempts > 0 ? QRCPT_DEFERRED : QRCPT_QUEUED;
		rc->next_attempt = a->now;
		if ((ret = q_sched_put(q, t, rc)) != 0)
			return ret;
	}
	return q_rcpt_put(q, t, rc);
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
	q_dbt(&k, kb, sizeof(kb));
	memset(&d, 0, sizeof(d));
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	if (ret == 0 && (k.size < QID_LEN || memcmp(k.data, qid, QID_LEN)))
		ret = DB_NOTFOUND;
	(void)c->close(c);
	if (ret != 0)
		return ret;
	if (qkey_qidn_decode(k.data, k.size, kqid, idx) != NULL)
		return q_corrupt(q, qid);
	return q_rcpt_get(q, t, qid, *idx, rc, DB_RMW);
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
	if ((ret = q_msg_get(q, t, a->qid, &m, DB_RMW)) != 0)
		return ret == DB_NOTFOUND ? 0 : ret;
	a->found = 1;
	queue_msg_free(&m);
	while ((ret = tx_rcpt_next(q, t, a->qid, &idx, &rc)) == 0) {
		ret = hold_one(q, t, a, &rc);
		queue_rcpt_free(&rc);
		if (ret == 0 && idx == 0)
			q_point(q, "hold");
		if (ret != 0 || idx == UINT32_MAX)
			break;
		idx++;
	}
	return ret == DB_NOTFOUND ? 0 : ret;
}

static int
hold_release(struct queue *q, const char *qid, int hold)
{
	struct hold_arg	 a = { qid, hold, 0, q_now() };
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

/* The small maps that queue_kv_*() may name. */
static int
kv_table(const char *table, enum qtable *tb)
{
	if (table != NULL && strcmp(table, "destinations") == 0)
		*tb = QT_DESTS;
	else if (table != NULL && strcmp(table, QSTS_TABLE) == 0)
		*tb = QT_STS;
	else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
kv_run(struct queue *q, struct kv_arg *a, const char *table)
{
	int	 ret;

	if (kv_table(table, &a->tb) == -1)
		return -1;
	if (a->key == NULL || *a->key == '\0') {
		errno = EINVAL;
		return -1;
	}
	ret = q_txn(q, tx_kv, a, a->op != 'g' ? Q_WRITE_LAZY : Q_READ);
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

/* The whole table, copied out so that fn runs outside the transaction
 * (a retried deadlock victim starts the copy afresh). */
struct kv_walk {
	enum qtable	 tb;
	char		**keys, **vals;
	size_t		*lens;
	size_t		 n;
};

static void
kv_walk_clear(struct kv_walk *w)
{
	size_t	 i;

	for (i = 0; i < w->n; i++) {
		free(w->keys[i]);
		free(w->vals[i]);
	}
	free(w->keys);
	free(w->vals);
	free(w->lens);
	w->keys = w->vals = NULL;
	w->lens = NULL;
	w->n = 0;
}

static int
tx_kv_walk(struct queue *q, DB_TXN *t, void *arg)
{
	struct kv_walk	*w = arg;
	DBC		*c;
	DBT		 k, d;
	int		 ret;

	kv_walk_clear(w);
	if ((ret = q->db[w->tb]->cursor(q->db[w->tb], t, &c, 0)) != 0)
		return ret;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
		w->keys = xreallocarray(w->keys, w->n + 1, sizeof(*w->keys));
		w->vals = xreallocarray(w->vals, w->n + 1, sizeof(*w->vals));
		w->lens = xreallocarray(w->lens, w->n + 1, sizeof(*w->lens));
		w->keys[w->n] = xstrndup(k.data, k.size);
		w->vals[w->n] = xmalloc((size_t)d.size + 1);
		memcpy(w->vals[w->n], d.data, d.size);
		w->vals[w->n][d.size] = '\0';
		w->lens[w->n++] = d.size;
	}
	(void)c->close(c);
	return ret == DB_NOTFOUND ? 0 : ret;
}

int
queue_kv_walk(struct queue *q, const char *table,
    int (*fn)(void *, const char *, const char *, size_t), void *arg)
{
	struct kv_walk	 w;
	size_t		 i;
	int		 ret;

	memset(&w, 0, sizeof(w));
	if (kv_table(table, &w.tb) == -1)
		return -1;
	if ((ret = q_txn(q, tx_kv_walk, &w, 0)) != 0) {
		kv_walk_clear(&w);
		return q_fail(table, ret);
	}
	for (i = 0; i < w.n; i++)
		if (fn(arg, w.keys[i], w.vals[i], w.lens[i]) != 0)
			break;
	kv_walk_clear(&w);
	return 0;
}
