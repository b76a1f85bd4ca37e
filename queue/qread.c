/*
 * queue readers: one message, recipient or body; the due schedule in time
 * order; the whole queue for mailq.  Callbacks run outside transactions,
 * so they may call into the queue themselves.
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
#include "queue.h"
#include "util.h"

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

	return q_msg_get(q, t, a->qid, a->msg, 0);
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

	return q_rcpt_get(q, t, a->qid, a->idx, a->rcpt, 0);
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
	q_dbt(&key, k, sizeof(k));
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
	if ((ret = q_msg_get(q, t, a->qid, &m, 0)) != 0)
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
	ret = q_cursor_resume(c, &k, &d, a->last, sizeof(a->last), a->started);
	for (; ret == 0 && a->n < a->want; ret = c->get(c, &k, &d, DB_NEXT)) {
		e = &a->ent[a->n];
		why = qkey_sched_decode(k.data, k.size, &e->when, e->qid,
		    &e->idx);
		if (why != NULL) {
			if ((ret = q_sched_bad(q, t, c, &k, &d, why)) != 0)
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
		if ((ret = q_sched_bad(q, t, c, &k, &d, why)) != 0)
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
	ret = q_cursor_resume(c, &k, &d, a->last, sizeof(a->last), a->started);
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
	if ((ret = q_msg_get(q, t, qid, &a->msg, 0)) != 0)
		return ret;
	a->found = 1;
	if ((ret = q->db[QT_RCPTS]->cursor(q->db[QT_RCPTS], t, &c, 0)) != 0)
		return ret;
	q_dbt(&k, qid, QID_LEN);
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
	if (ret == DB_NOTFOUND || ret == 0)
		q_point(q, "walk");
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
