/* Queue listing and management commands. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "control.h"
#include "deliver.h"
#include "log.h"
#include "privsep.h"
#include "queue.h"
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

static int
cmd_list(struct queue *q, int argc, char **argv)
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
	int		 status, rdonly = strcmp(cmd, "queue") == 0;

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
	if (rdonly)
		status = cmd_list(q, argc, argv);
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
