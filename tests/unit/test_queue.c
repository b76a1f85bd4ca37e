/*
 * queue: a real Berkeley DB environment in a fresh temporary directory
 * per test; forked processes for concurrency, failchk and recovery.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <db.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "qrecord.h"
#include "queue.h"
#include "util.h"

struct fx {
	char		 dir[64];
	struct queue	*q;
};

static int
rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(p);
}

static int
setup(void **state)
{
	struct fx	*fx = xcalloc(1, sizeof(*fx));
	char		 err[256];

	(void)strlcpy(fx->dir, "/tmp/test_queue.XXXXXX", sizeof(fx->dir));
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	if (queue_open(&fx->q, fx->dir, QUEUE_CREATE | QUEUE_RECOVER, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "queue_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	queue_close(fx->q);
	(void)nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* A message from alice to n recipients at dest, due at when. */
static void
submit(struct queue *q, size_t n, const char *dest, int64_t when,
    const char *body, size_t bodylen, char qid[QID_LEN + 1])
{
	struct qmsg	 m;
	struct qrcpt	 rc[8];
	struct qnew	 nw;
	char		 addr[8][64];
	size_t		 i;

	assert_true(n <= 8);
	memset(&m, 0, sizeof(m));
	memset(rc, 0, sizeof(rc));
	m.sender = "alice@example.org";
	m.helo = "client.example.org";
	m.client_addr = "192.0.2.1";
	m.client_name = "client.example.org";
	for (i = 0; i < n; i++) {
		(void)snprintf(addr[i], sizeof(addr[i]), "u%zu@%s", i, dest);
		rc[i].addr = addr[i];
		rc[i].dest = (char *)(uintptr_t)dest;
		rc[i].next_attempt = when;
		rc[i].notify = QNOTIFY_FAILURE;
	}
	nw.msg = &m;
	nw.rcpts = rc;
	nw.nrcpt = n;
	nw.body = body;
	nw.bodylen = bodylen;
	assert_int_equal(queue_submit(q, &nw, qid), 0);
	assert_true(qid_valid(qid));
	assert_int_equal(m.nrcpt, n);
	assert_int_equal(rc[n - 1].idx, n - 1);
}

/* Collects due entries. */
struct dues {
	size_t		 n;
	int64_t		 when[64];
	char		 qid[64][QID_LEN + 1];
	uint32_t	 idx[64];
	size_t		 stop_after;
};

static int
due_cb(void *arg, const struct qdue *d)
{
	struct dues	*ds = arg;

	assert_true(ds->n < 64);
	ds->when[ds->n] = d->when;
	memcpy(ds->qid[ds->n], d->qid, QID_LEN + 1);
	ds->idx[ds->n] = d->idx;
	ds->n++;
	return ds->stop_after != 0 && ds->n >= ds->stop_after;
}

static size_t
count_due(struct queue *q, int64_t now)
{
	struct dues	 ds;

	memset(&ds, 0, sizeof(ds));
	assert_true(queue_due(q, now, 64, due_cb, &ds) >= 0);
	return ds.n;
}

static void
test_roundtrip(void **state)
{
	struct fx	*fx = *state;
	struct qmsg	 m;
	struct qrcpt	 rc;
	char		 qid[QID_LEN + 1], *body, *got;
	size_t		 len, i, blen = 3 * 64 * 1024 + 77;

	body = xmalloc(blen);
	for (i = 0; i < blen; i++)
		body[i] = (char)('a' + i % 26);
	submit(fx->q, 3, "example.net", 0, body, blen, qid);

	assert_int_equal(queue_get_msg(fx->q, qid, &m), 0);
	assert_string_equal(m.qid, qid);
	assert_string_equal(m.sender, "alice@example.org");
	assert_string_equal(m.client_addr, "192.0.2.1");
	assert_null(m.envid);
	assert_int_equal(m.nrcpt, 3);
	assert_true(m.size == blen);
	assert_true(m.arrival > 0);
	queue_msg_free(&m);

	assert_int_equal(queue_get_rcpt(fx->q, qid, 2, &rc), 0);
	assert_string_equal(rc.addr, "u2@example.net");
	assert_string_equal(rc.dest, "example.net");
	assert_int_equal(rc.state, QRCPT_QUEUED);
	assert_int_equal(rc.idx, 2);
	assert_int_equal(rc.notify, QNOTIFY_FAILURE);
	assert_true(rc.next_attempt > 0);
	queue_rcpt_free(&rc);
	assert_int_equal(queue_get_rcpt(fx->q, qid, 3, &rc), 1);

	assert_int_equal(queue_get_body(fx->q, qid, &got, &len), 0);
	assert_int_equal(len, blen);
	assert_memory_equal(got, body, blen);
	free(got);
	free(body);

	/* a qid chosen beforehand is kept when free, replaced when taken */
	{
		struct qmsg	 pm;
		struct qrcpt	 pr;
		struct qnew	 pn = { &pm, &pr, 1, "x", 1 };
		char		 pq[QID_LEN + 1];

		memset(&pm, 0, sizeof(pm));
		memset(&pr, 0, sizeof(pr));
		pm.sender = "";
		pr.addr = "a@b.example";
		pr.dest = "b.example";
		qid_make(pm.qid);
		memcpy(pq, pm.qid, sizeof(pq));
		assert_int_equal(queue_submit(fx->q, &pn, qid), 0);
		assert_string_equal(qid, pq);
		memcpy(pm.qid, pq, sizeof(pq));
		assert_int_equal(queue_submit(fx->q, &pn, qid), 0);
		assert_string_not_equal(qid, pq);
		assert_true(qid_valid(qid));
	}

	/* empty body, one recipient */
	submit(fx->q, 1, "example.com", 0, NULL, 0, qid);
	assert_int_equal(queue_get_body(fx->q, qid, &got, &len), 0);
	assert_int_equal(len, 0);
	free(got);
	assert_int_equal(queue_get_msg(fx->q, "0000000000000000", &m), 1);
	assert_int_equal(queue_get_msg(fx->q, "bad", &m), -1);
}

static void
test_due_order(void **state)
{
	struct fx	*fx = *state;
	struct dues	 ds;
	char		 a[QID_LEN + 1], b[QID_LEN + 1], c[QID_LEN + 1];
	int64_t		 now = time(NULL);

	assert_int_equal(queue_next_due(fx->q), 0);
	submit(fx->q, 1, "late.example", now + 3600, "x\r\n", 3, a);
	submit(fx->q, 2, "early.example", now - 100, "x\r\n", 3, b);
	submit(fx->q, 1, "now.example", 0, "x\r\n", 3, c);
	assert_int_equal(queue_next_due(fx->q), now - 100);

	memset(&ds, 0, sizeof(ds));
	assert_int_equal(queue_due(fx->q, now + 1, 64, due_cb, &ds), 3);
	assert_int_equal(ds.n, 3);
	assert_string_equal(ds.qid[0], b);
	assert_int_equal(ds.idx[0], 0);
	assert_string_equal(ds.qid[1], b);
	assert_int_equal(ds.idx[1], 1);
	assert_string_equal(ds.qid[2], c);
	assert_true(ds.when[0] <= ds.when[2]);

	/* max, and a callback that stops */
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(queue_due(fx->q, now + 1, 2, due_cb, &ds), 2);
	memset(&ds, 0, sizeof(ds));
	ds.stop_after = 1;
	assert_int_equal(queue_due(fx->q, now + 1, 64, due_cb, &ds), 1);
	/* everything, later */
	assert_int_equal(count_due(fx->q, now + 7200), 4);
	assert_int_equal(count_due(fx->q, now - 1000), 0);
}

static int
walk_cb(void *arg, const struct qmsg *m, const struct qrcpt *rc, size_t n)
{
	size_t	*count = arg;

	assert_true(qid_valid(m->qid));
	assert_int_equal(n, m->nrcpt);
	if (n > 0)
		assert_string_equal(rc[0].qid, m->qid);
	(*count)++;
	return 0;
}

static size_t
count_msgs(struct queue *q)
{
	size_t	 n = 0;

	assert_int_equal(queue_walk(q, walk_cb, &n), 0);
	return n;
}

static void
test_update(void **state)
{
	struct fx	*fx = *state;
	struct qupdate	 u[3];
	struct qrcpt	 rc, dr;
	struct qmsg	 m, dm;
	struct qnew	 dsn;
	char		 qid[QID_LEN + 1], *body;
	size_t		 len;
	int64_t		 now = time(NULL);

	submit(fx->q, 4, "example.net", 0, "hello\r\n", 7, qid);
	memset(u, 0, sizeof(u));

	/* DEFER: attempts+1, DEFERRED, moved to the future */
	u[0].idx = 1;
	u[0].kind = QUPD_DEFER;
	u[0].next_attempt = now + 600;
	u[0].reply = "451 4.3.0 try later";
	assert_int_equal(queue_update(fx->q, qid, u, 1, NULL, QMSG_WARNED), 0);
	assert_int_equal(queue_get_rcpt(fx->q, qid, 1, &rc), 0);
	assert_int_equal(rc.state, QRCPT_DEFERRED);
	assert_int_equal(rc.attempts, 1);
	assert_int_equal(rc.next_attempt, now + 600);
	assert_string_equal(rc.last_reply, "451 4.3.0 try later");
	queue_rcpt_free(&rc);
	assert_int_equal(count_due(fx->q, now + 1), 3);
	assert_int_equal(queue_get_msg(fx->q, qid, &m), 0);
	assert_int_equal(m.flags & QMSG_WARNED, QMSG_WARNED);
	queue_msg_free(&m);

	/* RESCHEDULE: no attempt counted, state kept */
	u[0].idx = 0;
	u[0].kind = QUPD_RESCHEDULE;
	u[0].next_attempt = now + 60;
	u[0].reply = NULL;
	assert_int_equal(queue_update(fx->q, qid, u, 1, NULL, 0), 0);
	assert_int_equal(queue_get_rcpt(fx->q, qid, 0, &rc), 0);
	assert_int_equal(rc.state, QRCPT_QUEUED);
	assert_int_equal(rc.attempts, 0);
	assert_int_equal(rc.next_attempt, now + 60);
	queue_rcpt_free(&rc);
	assert_int_equal(count_due(fx->q, now + 1), 2);

	/* SENT and FAIL with a DSN, in one transaction */
	u[0].idx = 2;
	u[0].kind = QUPD_SENT;
	u[1].idx = 3;
	u[1].kind = QUPD_FAIL;
	u[1].reply = "550 5.1.1 no such user";
	memset(&dm, 0, sizeof(dm));
	memset(&dr, 0, sizeof(dr));
	dm.sender = "";
	dm.flags = QMSG_DSN;
	dr.addr = "alice@example.org";
	dr.dest = "example.org";
	dsn.msg = &dm;
	dsn.rcpts = &dr;
	dsn.nrcpt = 1;
	dsn.body = "DSN\r\n";
	dsn.bodylen = 5;
	assert_int_equal(queue_update(fx->q, qid, u, 2, &dsn, 0), 0);
	assert_true(qid_valid(dm.qid));
	assert_string_not_equal(dm.qid, qid);
	assert_int_equal(queue_get_rcpt(fx->q, qid, 2, &rc), 1);
	assert_int_equal(queue_get_rcpt(fx->q, qid, 3, &rc), 1);
	assert_int_equal(queue_get_msg(fx->q, qid, &m), 0);
	assert_int_equal(m.nrcpt, 2);
	queue_msg_free(&m);
	assert_int_equal(queue_get_msg(fx->q, dm.qid, &m), 0);
	assert_int_equal(m.flags & QMSG_DSN, QMSG_DSN);
	assert_string_equal(m.sender, "");
	queue_msg_free(&m);
	assert_int_equal(count_due(fx->q, now + 1), 1);	/* the DSN */

	/* An unknown recipient fails the whole update: nothing changes. */
	u[0].idx = 0;
	u[0].kind = QUPD_SENT;
	u[1].idx = 9;
	u[1].kind = QUPD_SENT;
	assert_int_equal(queue_update(fx->q, qid, u, 2, NULL, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(queue_get_rcpt(fx->q, qid, 0, &rc), 0);
	queue_rcpt_free(&rc);

	/* The last recipients leave with the message and its body. */
	u[1].idx = 1;
	u[1].kind = QUPD_FAIL;
	assert_int_equal(queue_update(fx->q, qid, u, 2, NULL, 0), 0);
	assert_int_equal(queue_get_msg(fx->q, qid, &m), 1);
	assert_int_equal(queue_get_body(fx->q, qid, &body, &len), 1);
	assert_int_equal(count_due(fx->q, now + 7200), 1);
	assert_int_equal(count_msgs(fx->q), 1);
	assert_int_equal(queue_update(fx->q, qid, u, 1, NULL, 0), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_admin(void **state)
{
	struct fx	*fx = *state;
	struct qupdate	 u;
	struct qrcpt	 rc;
	char		 a[QID_LEN + 1], b[QID_LEN + 1];
	int64_t		 now = time(NULL);

	submit(fx->q, 2, "a.example", 0, "x\r\n", 3, a);
	submit(fx->q, 1, "b.example", 0, "x\r\n", 3, b);
	assert_int_equal(count_due(fx->q, now + 1), 3);

	/* hold: unscheduled; a deferral keeps it held */
	assert_int_equal(queue_hold(fx->q, a), 0);
	assert_int_equal(count_due(fx->q, now + 100000), 1);
	assert_int_equal(queue_get_rcpt(fx->q, a, 1, &rc), 0);
	assert_int_equal(rc.state, QRCPT_HELD);
	queue_rcpt_free(&rc);
	memset(&u, 0, sizeof(u));
	u.idx = 0;
	u.kind = QUPD_DEFER;
	u.next_attempt = now + 500;
	assert_int_equal(queue_update(fx->q, a, &u, 1, NULL, 0), 0);
	assert_int_equal(count_due(fx->q, now + 100000), 1);
	assert_int_equal(queue_hold(fx->q, a), 0);	/* idempotent */

	/* release: due now, DEFERRED when it had an attempt */
	assert_int_equal(queue_release(fx->q, a), 0);
	assert_int_equal(count_due(fx->q, now + 1), 3);
	assert_int_equal(queue_get_rcpt(fx->q, a, 0, &rc), 0);
	assert_int_equal(rc.state, QRCPT_DEFERRED);
	assert_int_equal(rc.attempts, 1);
	queue_rcpt_free(&rc);
	assert_int_equal(queue_get_rcpt(fx->q, a, 1, &rc), 0);
	assert_int_equal(rc.state, QRCPT_QUEUED);
	queue_rcpt_free(&rc);

	/* flush: future entries of one destination, then all */
	u.kind = QUPD_DEFER;
	u.next_attempt = now + 3600;
	u.idx = 0;
	assert_int_equal(queue_update(fx->q, b, &u, 1, NULL, 0), 0);
	u.idx = 1;
	assert_int_equal(queue_update(fx->q, a, &u, 1, NULL, 0), 0);
	assert_int_equal(count_due(fx->q, now + 1), 1);
	assert_int_equal(queue_flush(fx->q, "b.example"), 1);
	assert_int_equal(count_due(fx->q, now + 1), 2);
	assert_int_equal(queue_flush(fx->q, "nowhere.example"), 0);
	assert_int_equal(queue_flush(fx->q, NULL), 1);
	assert_int_equal(count_due(fx->q, now + 1), 3);

	/* delete: everything of the message goes */
	assert_int_equal(queue_delete(fx->q, a), 0);
	assert_int_equal(queue_delete(fx->q, a), 1);
	assert_int_equal(queue_hold(fx->q, a), 1);
	assert_int_equal(queue_release(fx->q, a), 1);
	assert_int_equal(queue_get_rcpt(fx->q, a, 0, &rc), 1);
	assert_int_equal(count_due(fx->q, now + 100000), 1);
	assert_int_equal(count_msgs(fx->q), 1);
}

static void
test_kv(void **state)
{
	struct fx	*fx = *state;
	char		*v;
	size_t		 len;

	assert_int_equal(queue_kv_get(fx->q, "destinations", "a", &v, &len),
	    1);
	assert_int_equal(queue_kv_put(fx->q, "destinations", "a", "x\0y", 3),
	    0);
	assert_int_equal(queue_kv_put(fx->q, "sts_cache", "a", "other", 5), 0);
	assert_int_equal(queue_kv_get(fx->q, "destinations", "a", &v, &len),
	    0);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "x\0y", 3);
	free(v);
	assert_int_equal(queue_kv_put(fx->q, "destinations", "a", "zz", 2), 0);
	assert_int_equal(queue_kv_get(fx->q, "destinations", "a", &v, &len),
	    0);
	assert_string_equal(v, "zz");
	free(v);
	assert_int_equal(queue_kv_del(fx->q, "destinations", "a"), 0);
	assert_int_equal(queue_kv_get(fx->q, "destinations", "a", &v, &len),
	    1);
	assert_int_equal(queue_kv_get(fx->q, "sts_cache", "a", &v, &len), 0);
	free(v);
	assert_int_equal(queue_kv_put(fx->q, "messages", "a", "x", 1), -1);
	assert_int_equal(errno, EINVAL);
}

/* Opens the environment and one table with the raw API, as queue_open
 * does, to write what the queue itself never would. */
static void
raw_open(const char *dir, const char *table, DB_ENV **envp, DB **dbp)
{
	char	 home[128];

	(void)snprintf(home, sizeof(home), "%s/db", dir);
	assert_int_equal(db_env_create(envp, 0), 0);
	assert_int_equal((*envp)->set_thread_count(*envp, 4096), 0);
	assert_int_equal((*envp)->open(*envp, home, DB_INIT_LOCK |
	    DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN, 0600), 0);
	assert_int_equal(db_create(dbp, *envp, 0), 0);
	assert_int_equal((*dbp)->open(*dbp, NULL, table, NULL, DB_BTREE,
	    DB_AUTO_COMMIT, 0600), 0);
}

static void
raw_put(DB *db, DB_TXN *t, const void *k, size_t klen, const void *d,
    size_t dlen)
{
	DBT	 key, data;

	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = (void *)(uintptr_t)k;
	key.size = (u_int32_t)klen;
	data.data = (void *)(uintptr_t)d;
	data.size = (u_int32_t)dlen;
	assert_int_equal(db->put(db, t, &key, &data, 0), 0);
}

static void
test_corrupt(void **state)
{
	struct fx	*fx = *state;
	unsigned char	 k[QKEY_QIDN_LEN];
	struct qrcpt	 rc;
	struct qmsg	 m;
	DB_ENV		*env;
	DB		*db;
	char		 a[QID_LEN + 1], b[QID_LEN + 1];
	int64_t		 now = time(NULL);

	submit(fx->q, 2, "a.example", 0, "x\r\n", 3, a);
	submit(fx->q, 1, "b.example", 0, "x\r\n", 3, b);
	raw_open(fx->dir, "recipients.db", &env, &db);
	qkey_qidn(k, a, 1);
	raw_put(db, NULL, k, sizeof(k), "R\001garbage", 9);
	db->close(db, 0);
	env->close(env, 0);

	/* The good recipient of the same message is not delivered alone. */
	assert_int_equal(queue_get_rcpt(fx->q, a, 1, &rc), 1);
	assert_int_equal(queue_get_rcpt(fx->q, a, 0, &rc), 1);
	assert_int_equal(queue_get_msg(fx->q, a, &m), 1);
	assert_int_equal(count_due(fx->q, now + 1), 1);
	assert_int_equal(count_msgs(fx->q), 1);
	assert_int_equal(queue_get_msg(fx->q, b, &m), 0);
	queue_msg_free(&m);
}

/* A child that dies in the middle of a transaction leaves its locks;
 * failchk (run by the master after reaping it) releases them. */
static void
test_failchk(void **state)
{
	struct fx	*fx = *state;
	DB_ENV		*env;
	DB		*db;
	DB_TXN		*t;
	char		 qid[QID_LEN + 1];
	pid_t		 pid;
	int		 st;

	if ((pid = fork()) == 0) {
		raw_open(fx->dir, "messages.db", &env, &db);
		if (env->txn_begin(env, NULL, &t, 0) != 0)
			_exit(1);
		/* The last page of messages: where every new qid goes. */
		raw_put(db, t, "FFFFFFFFFFFFFFFF", QID_LEN, "junk", 4);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(queue_failchk(fx->q), 0);
	alarm(30);	/* a lock left behind would hang here */
	submit(fx->q, 1, "a.example", 0, "x\r\n", 3, qid);
	alarm(0);
	assert_int_equal(count_msgs(fx->q), 1);
	assert_int_equal(queue_get_msg(fx->q, "FFFFFFFFFFFFFFFF",
	    &(struct qmsg){ 0 }), 1);
}

/* Committed messages survive a writer killed mid-transaction, and the
 * uncommitted one leaves no trace after recovery. */
static void
test_recovery(void **state)
{
	struct fx	*fx = *state;
	struct queue	*q;
	DB_ENV		*env;
	DB		*db;
	DB_TXN		*t;
	char		 qid[QID_LEN + 1], err[256], *body;
	size_t		 len;
	pid_t		 pid;
	int		 st, i, fd[2];

	queue_close(fx->q);
	fx->q = NULL;
	assert_int_equal(pipe(fd), 0);
	if ((pid = fork()) == 0) {
		close(fd[0]);
		if (queue_open(&q, fx->dir, 0, err, sizeof(err)) == -1)
			_exit(1);
		for (i = 0; i < 20; i++) {
			submit(q, 2, "example.net", 0, "body\r\n", 6, qid);
			if (write(fd[1], qid, QID_LEN) != QID_LEN)
				_exit(1);
		}
		raw_open(fx->dir, "messages.db", &env, &db);
		if (env->txn_begin(env, NULL, &t, 0) != 0)
			_exit(1);
		raw_put(db, t, "FFFFFFFFFFFFFFFF", QID_LEN, "junk", 4);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	close(fd[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(queue_open(&fx->q, fx->dir, QUEUE_CREATE |
	    QUEUE_RECOVER, err, sizeof(err)), 0);
	for (i = 0; i < 20; i++) {
		assert_int_equal(read(fd[0], qid, QID_LEN), QID_LEN);
		qid[QID_LEN] = '\0';
		assert_int_equal(queue_get_body(fx->q, qid, &body, &len), 0);
		assert_memory_equal(body, "body\r\n", 6);
		free(body);
	}
	close(fd[0]);
	assert_int_equal(count_msgs(fx->q), 20);
	assert_int_equal(count_due(fx->q, time(NULL) + 1), 40);
	submit(fx->q, 1, "a.example", 0, "x\r\n", 3, qid);
	assert_int_equal(queue_checkpoint(fx->q), 0);
	assert_int_equal(queue_checkpoint(fx->q), 0);
}

static int
cmp_qid(const void *a, const void *b)
{
	return memcmp(a, b, QID_LEN);
}

/* nproc processes submit per 4 KiB messages each; every qid is unique
 * and every message is there afterwards.  Prints the rate. */
static void
concurrent(struct fx *fx, int nproc, int per)
{
	char		(*ids)[QID_LEN], qid[QID_LEN + 1], err[256], *body;
	struct queue	*q;
	size_t		 n = 0, total = (size_t)nproc * per, i;
	int64_t		 t0;
	ssize_t		 r;
	pid_t		 pid;
	int		 fd[2], p, k, st;

	body = xmalloc(4096);
	memset(body, 'x', 4096);
	ids = xcalloc(total, QID_LEN);
	assert_int_equal(pipe(fd), 0);
	t0 = mono_msec();
	for (p = 0; p < nproc; p++) {
		if ((pid = fork()) != 0) {
			assert_true(pid > 0);
			continue;
		}
		close(fd[0]);
		if (queue_open(&q, fx->dir, 0, err, sizeof(err)) == -1)
			_exit(1);
		for (k = 0; k < per; k++) {
			submit(q, 1, "example.net", 0, body, 4096, qid);
			if (write(fd[1], qid, QID_LEN) != QID_LEN)
				_exit(1);
		}
		queue_close(q);
		_exit(0);
	}
	close(fd[1]);
	while (n < total && (r = read(fd[0], ids[n], QID_LEN)) == QID_LEN)
		n++;
	close(fd[0]);
	for (p = 0; p < nproc; p++) {
		assert_true(wait(&st) > 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	printf("queue: %d processes, %zu submits of 4 KiB: %.0f msgs/s\n",
	    nproc, total, total * 1000.0 / (double)(mono_msec() - t0 + 1));
	assert_int_equal(n, total);
	qsort(ids, total, QID_LEN, cmp_qid);
	for (i = 1; i < total; i++)
		assert_true(memcmp(ids[i - 1], ids[i], QID_LEN) != 0);
	assert_int_equal(count_msgs(fx->q), total);
	free(ids);
	free(body);
}

static void
test_concurrent(void **state)
{
	concurrent(*state, 4, 500);
}

static void
test_concurrent20(void **state)
{
	concurrent(*state, 20, 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_due_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failchk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent20, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
