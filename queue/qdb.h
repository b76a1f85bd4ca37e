/*
 * qdb: the private header of the queue's internal layer, which nothing
 * outside queue/ includes: the handle, the tables, and the transaction,
 * record, key and removal helpers of queue/qdb.c, on the environment of
 * queue/qdb_env.c.  Internal functions return 0 or a Berkeley DB result
 * (an errno value, a DB_* code, or QE_CORRUPT) and run inside the
 * transaction they are given; q_txn() retries deadlock victims.
 *
 * Who calls whom in queue/ (nothing calls a file above it, and the files
 * of one row do not call each other):
 *
 *	qsts.c (MTA-STS cache)  --> qadmin.c's queue_kv_*()
 *	queue.c (submit, update), qread.c (readers, schedule, listing),
 *	qadmin.c (delete, flush, hold, release, small maps)
 *	                        --> qdb.c; qrecord.c, qid.c
 *	qdb_env.c (environment, tables)
 *	                        --> qdb.c (q_fail); qfail.c
 *	qdb.c (transactions, records, keys, cursors, removal)
 *	                        --> qrecord.c
 *	qrecord.c (record and key layout, pure)
 *	                        --> qid.c
 *	qid.c, qfail.c, retry.c --> nothing in queue/
 */
#ifndef POSTERN_QDB_H
#define POSTERN_QDB_H

#include <db.h>
#include <stdint.h>

#include "queue.h"
#include "util.h"

#define QUEUE_CHUNK		(64 * 1024)	/* body bytes per record */
#define QUEUE_CACHE		(16 * 1024 * 1024)
#define QUEUE_LOGBUF		(2 * 1024 * 1024)
#define QUEUE_MIN_FREE		(16 * 1024 * 1024)	/* below: disk full */
#define QUEUE_THREADS		4096	/* processes with the env open */
#define QUEUE_LOCKS		50000
#define QUEUE_TXN_RETRIES	50	/* deadlock victims retry this often */
/* The backstop behind failchk (docs/queue.md, "A process that dies"):
 * a lock wait or a transaction that lasts this long fails with
 * DB_LOCK_NOTGRANTED (a 451 to a client), never a wait without end. */
#define QUEUE_LOCK_TIMEOUT	(10 * 1000000)	/* microseconds */
#define QUEUE_TXN_TIMEOUT	(30 * 1000000)
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

struct queue {
	DB_ENV		*env;
	DB		*db[QT_COUNT];
	unsigned	 flags;
	struct buf	 enc;	/* record being encoded */
	struct buf	 key;	/* key being built */
	char		 bad_qid[QID_LEN + 1];	/* to move aside */
	char		 home[1024];	/* spool_dir/db */
	void		(*point)(void *, const char *);	/* testing */
	void		*point_arg;
};

typedef int (*qtxn_fn)(struct queue *, DB_TXN *, void *);

/* qdb.c */
void	 q_dbt(DBT *, const void *, size_t);
int64_t	 q_now(void);
int	 q_fail(const char *, int);
void	 q_point(struct queue *, const char *);
/* q_txn() write modes: reading only, durable before return, or written
 * to the operating system only (see qdb.c: outcomes without a DSN). */
#define Q_READ		0
#define Q_WRITE_SYNC	1
#define Q_WRITE_LAZY	2
int	 q_txn(struct queue *, qtxn_fn, void *, int);
int	 q_get(struct queue *, DB_TXN *, enum qtable, const void *, size_t,
	    DBT *, u_int32_t);
int	 q_put(struct queue *, DB_TXN *, enum qtable, const void *, size_t,
	    const void *, size_t, u_int32_t);
int	 q_del(struct queue *, DB_TXN *, enum qtable, const void *, size_t);
int	 q_aside(struct queue *, DB_TXN *, enum qtable, const DBT *,
	    const DBT *);
int	 q_corrupt(struct queue *, const char *);
int	 q_sched_put(struct queue *, DB_TXN *, const struct qrcpt *);
int	 q_sched_del(struct queue *, DB_TXN *, const struct qrcpt *);
int	 q_rcpt_put(struct queue *, DB_TXN *, const struct qrcpt *);
int	 q_msg_get(struct queue *, DB_TXN *, const char *, struct qmsg *,
	    u_int32_t);
int	 q_rcpt_get(struct queue *, DB_TXN *, const char *, uint32_t,
	    struct qrcpt *, u_int32_t);
int	 q_cursor_resume(DBC *, DBT *, DBT *, const unsigned char *, size_t,
	    int);
int	 q_purge(struct queue *, DB_TXN *, const char *, int);
int	 q_quarantine(struct queue *, DB_TXN *, void *);
int	 q_sched_bad(struct queue *, DB_TXN *, DBC *, const DBT *,
	    const DBT *, const char *);

#endif

