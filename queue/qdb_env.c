/*
 * qdb_env: the Berkeley DB environment of the queue and its tables:
 * open (with recovery), close, failchk and checkpoint.  Part of the layer
 * under queue.c, qread.c and qadmin.c (qdb.h); it uses qdb.c, which does
 * not use it.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <db.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "log.h"
#include "qdb.h"
#include "qfail.h"
#include "qsts.h"
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
	{ QSTS_TABLE,		0 },
	{ "corrupt",		0 },
};

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
