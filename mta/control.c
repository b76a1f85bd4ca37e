/* Queue listing and management commands. */
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "control.h"
#include "crashpoint.h"
#include "deliver.h"
#include "dns_anchor.h"
#include "dtable.h"
#include "log.h"
#include "privsep.h"
#include "queue.h"
#include "runner.h"
#include "throttle.h"
#include "util.h"

struct listing {
	const char	*dest;		/* filter, or NULL */
	size_t		 msgs;
	unsigned long long bytes;
};

static const char *
state_name(enum qrcpt_state s)
{
	switch (s) {
	case QRCPT_QUEUED:
		return "queued";
	case QRCPT_DEFERRED:
		return "deferred";
	default:
		return "held";
	}
}

static void
print_time(const char *label, long long t)
{
	char		 buf[64];
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	(void)localtime_r(&tt, &tm);
	(void)strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s%s", label, buf);
}

static int
matches(const struct listing *l, const struct qrcpt *r, size_t n)
{
	size_t	 i;

	if (l->dest == NULL)
		return 1;
	for (i = 0; i < n; i++)
		if (strcasecmp(r[i].dest, l->dest) == 0 ||
		    strcasecmp(r[i].addr, l->dest) == 0)
			return 1;
	return 0;
}

static int
list_one(void *arg, const struct qmsg *m, const struct qrcpt *r, size_t n)
{
	struct listing	*l = arg;
	size_t		 i;

	if (!matches(l, r, n))
		return 0;
	l->msgs++;
	l->bytes += m->size;
	printf("%s %10llu ", m->qid, (unsigned long long)m->size);
	print_time("", m->arrival);
	printf("  <%s>%s\n", m->sender, (m->flags & QMSG_DSN) ? " (dsn)" : "");
	for (i = 0; i < n; i++) {
		printf("    <%s> %s attempts=%u", r[i].addr,
		    state_name(r[i].state), r[i].attempts);
		if (r[i].state != QRCPT_HELD)
			print_time(" next=", r[i].next_attempt);
		printf("\n");
		if (r[i].last_reply != NULL && *r[i].last_reply)
			printf("        (%s)\n", r[i].last_reply);
	}
	return 0;
}

/* ---- destinations: throttles and hosts remembered as down ------------ */

struct dest_list {
	const struct config	*conf;
	struct dtable		 limits;
	int64_t			 now;
	size_t			 nthrottle, ndown;
	int			 header;	/* print section titles */
};

static void
print_throttle(struct dest_list *l, const char *key, const char *val,
    size_t len)
{
	struct throttle_state	 st;
	const char		*why, *lim;

	if ((why = throttle_decode(&st, val, len)) != NULL) {
		printf("  %s (unreadable record: %s)\n", key, why);
		return;
	}
	lim = dtable_lookup(&l->limits, key);
	if (!throttle_active(&st, l->now) && lim == NULL)
		return;
	if (l->nthrottle++ == 0 && l->header)
		printf("Throttled destinations:\n");
	printf("  %s", key);
	if (st.learned > 0)
		printf(" learned=%u/%llds pace=%u", st.learned,
		    (long long)l->conf->throttle_window,
		    throttle_pace(st.learned));
	if (lim != NULL)
		printf(" limits=\"%s\"", lim);
	if (st.blocked_until > l->now)
		printf(" paused=%llds", (long long)(st.blocked_until - l->now));
	if (st.deferrals > 0)
		printf(" deferrals=%u backoff=%llds", st.deferrals,
		    (long long)st.backoff);
	if (st.last_deferral > 0)
		print_time(" last-deferral=", st.last_deferral);
	printf("\n");
}

static void
print_down(struct dest_list *l, const char *key, const char *val)
{
	unsigned long long	 until;
	char			 num[24];
	size_t			 n = strcspn(val, " ");

	if (n >= sizeof(num))
		return;
	memcpy(num, val, n);
	num[n] = '\0';
	if (parse_ull(num, INT64_MAX, &until) == -1 ||
	    (int64_t)until <= l->now)
		return;
	if (l->ndown++ == 0 && l->header)
		printf("Hosts not answering (skipped for a while):\n");
	printf("  %s for %llds (%s)\n", key, (long long)until -
	    (long long)l->now, val + n + (val[n] == ' '));
}

static int
dest_one(void *arg, const char *key, const char *val, size_t len)
{
	struct dest_list	*l = arg;

	if (strncmp(key, "throttle/", 9) == 0)
		print_throttle(l, key + 9, val, len);
	return 0;
}

static int
down_one(void *arg, const char *key, const char *val, size_t len)
{
	(void)len;
	if (strncmp(key, "down/", 5) == 0)
		print_down(arg, key + 5, val);
	return 0;
}

static int
print_dests(const struct config *conf, struct queue *q)
{
	struct dest_list	 l;
	char			 err[512];
	int			 rc;

	memset(&l, 0, sizeof(l));
	l.conf = conf;
	l.now = (int64_t)time(NULL);
	l.header = 1;
	if (dtable_load(&l.limits, conf->destination_limits, NULL, NULL, err,
	    sizeof(err)) == -1)
		fprintf(stderr, "postern: %s\n", err);
	rc = queue_kv_walk(q, "destinations", dest_one, &l);
	if (rc == 0)
		rc = queue_kv_walk(q, "destinations", down_one, &l);
	dtable_free(&l.limits);
	return rc;
}

/* ---- status ------------------------------------------------------------ */

struct counts {
	size_t	 msgs, rcpts, state[3];
};

static int
count_one(void *arg, const struct qmsg *m, const struct qrcpt *r, size_t n)
{
	struct counts	*c = arg;
	size_t		 i;

	(void)m;
	c->msgs++;
	for (i = 0; i < n; i++) {
		c->rcpts++;
		if ((size_t)r[i].state < 3)
			c->state[r[i].state]++;
	}
	return 0;
}

/* The daemon's pid from the pidfile when that process lives; 0. */
static long
daemon_pid(const struct config *conf)
{
	FILE			*f;
	unsigned long long	 pid = 0;
	char			 line[32];

	if (*conf->pidfile == '\0' || (f = fopen(conf->pidfile, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (parse_ull(line, 1 << 30, &pid) == -1 || pid < 2)
			pid = 0;
	}
	(void)fclose(f);
	if (pid == 0 || (kill((pid_t)pid, 0) == -1 && errno != EPERM))
		return 0;
	return (long)pid;
}

/* What the runner left in RUNNER_STATUS: a table that does not load. */
static void
print_runner_status(const struct config *conf)
{
	char	 path[PATH_MAX], line[1024];
	FILE	*f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", conf->spool_dir,
	    RUNNER_STATUS) >= sizeof(path) || (f = fopen(path, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		printf("tables: %s\n", line);
	}
	(void)fclose(f);
}

static int
cmd_status(const struct config *conf, struct queue *q)
{
	struct counts	 c;
	char		 line[1024];
	long		 pid = daemon_pid(conf);
	int64_t		 nd, now = (int64_t)time(NULL);

	if (pid > 0)
		printf("postern: running, pid %ld\n", pid);
	else
		printf("postern: not running (pidfile %s)\n", conf->pidfile);
	memset(&c, 0, sizeof(c));
	if (queue_walk(q, count_one, &c) == -1 ||
	    (nd = queue_next_due(q)) == -1) {
		fprintf(stderr, "postern: cannot read the queue\n");
		return EX_IOERR;
	}
	printf("dnssec: %s\n", dns_anchor_describe(conf, line, sizeof(line)));
	print_runner_status(conf);
	printf("queue: %zu message%s, %zu recipient%s: %zu queued, "
	    "%zu deferred, %zu held\n", c.msgs, c.msgs == 1 ? "" : "s",
	    c.rcpts, c.rcpts == 1 ? "" : "s", c.state[QRCPT_QUEUED],
	    c.state[QRCPT_DEFERRED], c.state[QRCPT_HELD]);
	if (nd == 0)
		printf("next due: nothing scheduled\n");
	else {
		print_time("next due: ", nd);
		printf(nd <= now ? " (now)\n" : " (in %llds)\n",
		    (long long)(nd - now));
	}
	if (print_dests(conf, q) == -1) {
		fprintf(stderr, "postern: cannot read the destinations\n");
		return EX_IOERR;
	}
	return EX_OK;
}

static int
cmd_list(const struct config *conf, struct queue *q, int argc, char **argv)
{
	struct listing	 l = { argc > 1 ? argv[1] : NULL, 0, 0 };

	if (queue_walk(q, list_one, &l) == -1) {
		fprintf(stderr, "postern: cannot read the queue\n");
		return EX_IOERR;
	}
	if (l.msgs == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %llu Kbytes in %zu Request%s.\n",
		    (l.bytes + 1023) / 1024, l.msgs, l.msgs == 1 ? "" : "s");
	(void)print_dests(conf, q);
	return EX_OK;
}

/* Tells a running daemon to run the queue now; quiet when it is down. */
static void
poke_daemon(const struct config *conf)
{
	FILE			*f;
	unsigned long long	 pid;
	char			 line[32];

	if (*conf->pidfile == '\0' || (f = fopen(conf->pidfile, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (parse_ull(line, 1 << 30, &pid) == 0 && pid > 1)
			(void)kill((pid_t)pid, SIGUSR1);
	}
	(void)fclose(f);
}

static int
cmd_flush(const struct config *conf, struct queue *q, int argc, char **argv)
{
	int	 n;

	if ((n = queue_flush(q, argc > 1 ? argv[1] : NULL)) == -1) {
		fprintf(stderr, "postern: flush failed\n");
		return EX_IOERR;
	}
	printf("%d recipient%s made due now\n", n, n == 1 ? "" : "s");
	/* Hosts remembered as down are tried again too. */
	(void)deliver_forget_down(q);
	poke_daemon(conf);
	return EX_OK;
}

static int
cmd_each(const struct config *conf, struct queue *q, int argc, char **argv,
    int (*fn)(struct queue *, const char *), const char *done)
{
	int	 i, r, status = EX_OK;

	if (argc < 2) {
		fprintf(stderr, "usage: postern %s QID ...\n", argv[0]);
		return EX_USAGE;
	}
	for (i = 1; i < argc; i++) {
		if (!qid_valid(argv[i]) || (r = fn(q, argv[i])) == 1) {
			fprintf(stderr, "postern: %s: no such message\n",
			    argv[i]);
			status = EX_DATAERR;
		} else if (r == -1) {
			fprintf(stderr, "postern: %s: queue error\n", argv[i]);
			status = EX_IOERR;
		} else
			printf("%s: %s\n", argv[i], done);
	}
	poke_daemon(conf);
	return status;
}

int
control_main(const struct config *conf, int argc, char **argv)
{
	struct queue	*q;
	char		 err[512];
	const char	*cmd = argv[0];
	int		 status, rdonly = strcmp(cmd, "queue") == 0 ||
			    strcmp(cmd, "status") == 0;

	/* Work as the queue's owner so that no file becomes root's. */
	if (geteuid() == 0 && privsep_drop(conf->user, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return EX_NOPERM;
	}
	if (queue_open(&q, conf->spool_dir, rdonly ? QUEUE_RDONLY : 0, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "postern: queue %s: %s\n", conf->spool_dir, err);
		return EX_TEMPFAIL;
	}
	crash_point_queue(conf, q);
	if (strcmp(cmd, "status") == 0)
		status = cmd_status(conf, q);
	else if (rdonly)
		status = cmd_list(conf, q, argc, argv);
	else if (strcmp(cmd, "flush") == 0)
		status = cmd_flush(conf, q, argc, argv);
	else if (strcmp(cmd, "hold") == 0)
		status = cmd_each(conf, q, argc, argv, queue_hold, "held");
	else if (strcmp(cmd, "release") == 0)
		status = cmd_each(conf, q, argc, argv, queue_release, "released");
	else if (strcmp(cmd, "delete") == 0)
		status = cmd_each(conf, q, argc, argv, queue_delete, "deleted");
	else {
		fprintf(stderr, "postern: unknown command %s\n", cmd);
		status = EX_USAGE;
	}
	queue_close(q);
	return status;
}
