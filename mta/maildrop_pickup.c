/*
 * maildrop_pickup: the daemon's side of the maildrop, as its user: each
 * file read with bounds, queued under its own name as id in one
 * transaction, then unlinked.  See include/maildrop.h.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "compat.h"
#include "config.h"
#include "hopcount.h"
#include "log.h"
#include "maildrop.h"
#include "queue.h"
#include "util.h"

#define PICKUP_MAX_FILES	1000	/* per pass */

/* "user" -> "user@hostname"; domains lower-cased for the next hop. */
static char *
qualify(const char *addr, const struct config *conf, char **dest)
{
	const char	*at = strrchr(addr, '@');
	char		*full;

	if (at == NULL)
		full = xasprintf("%s@%s", addr, conf->hostname);
	else
		full = xstrdup(addr);
	if (dest != NULL)
		*dest = domain_normalize(xstrdup(strrchr(full, '@') + 1));
	return full;
}

static int
read_bounded(int fd, size_t max, struct buf *b)
{
	char	 chunk[16384];
	ssize_t	 n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b->len + (size_t)n > max) {
			errno = EFBIG;
			return -1;
		}
		buf_append(b, chunk, (size_t)n);
	}
	return n == 0 ? 0 : -1;
}

struct picked {
	struct maildrop_env	 env;
	struct buf		 body;
	struct qmsg		 msg;
	struct qrcpt		*rcpts;
	char			**dests;
};

static void
picked_free(struct picked *pk)
{
	size_t	 i;

	for (i = 0; i < pk->env.nrcpts; i++) {
		if (pk->rcpts != NULL)
			free(pk->rcpts[i].addr);
		if (pk->dests != NULL)
			free(pk->dests[i]);
	}
	free(pk->rcpts);
	free(pk->dests);
	free(pk->msg.sender);
	maildrop_env_free(&pk->env);
	buf_free(&pk->body);
}

static void
fill_picked(const struct config *conf, const char *qid, struct picked *pk)
{
	size_t		 i;
	int64_t		 now = now_usec() / 1000000;

	pk->rcpts = xcalloc(pk->env.nrcpts, sizeof(*pk->rcpts));
	pk->dests = xcalloc(pk->env.nrcpts, sizeof(*pk->dests));
	for (i = 0; i < pk->env.nrcpts; i++) {
		pk->rcpts[i].addr = qualify(pk->env.rcpts[i], conf,
		    &pk->dests[i]);
		pk->rcpts[i].dest = pk->dests[i];
		pk->rcpts[i].state = QRCPT_QUEUED;
		pk->rcpts[i].next_attempt = now;
	}
	(void)strlcpy(pk->msg.qid, qid, sizeof(pk->msg.qid)); /* qid_valid */
	pk->msg.arrival = now;
	pk->msg.size = pk->body.len;
	pk->msg.sender = *pk->env.sender ? qualify(pk->env.sender, conf, NULL)
	    : xstrdup("");
	pk->msg.helo = (char *)(uintptr_t)"localhost";
	pk->msg.client_addr = (char *)(uintptr_t)"local";
	pk->msg.client_name = (char *)(uintptr_t)"localhost";
}

static int
submit_picked(const struct config *conf, struct queue *q, const char *qid,
    struct picked *pk, char out[QID_LEN + 1])
{
	struct qnew	 n;

	fill_picked(conf, qid, pk);
	memset(&n, 0, sizeof(n));
	n.msg = &pk->msg;
	n.rcpts = pk->rcpts;
	n.nrcpt = pk->env.nrcpts;
	n.body = pk->body.data;
	n.bodylen = pk->body.len;
	return queue_submit(q, &n, out);
}

/*
 * A message over max_hop_count (RFC 5321 §6.3) is a loop: it is not
 * queued, its DSN is, in one transaction.  The DSN takes the maildrop
 * file's name as its id, so a pickup after a crash before the unlink
 * finds it queued and sends no second one.  -1: try again later.
 */
static int
bounce_picked(const struct config *conf, struct queue *q, const char *qid,
    struct picked *pk)
{
	struct bounce_storage	*st = NULL;
	struct bounce_rcpt	*br = NULL;
	struct outcome		 o;
	struct qnew		 dsn;
	char			 pm[MAILDROP_MAX_ADDR + 16], out[QID_LEN + 1];
	size_t			 i;
	int			 rc = 0;

	fill_picked(conf, qid, pk);
	outcome_set(&o, OUTCOME_BOUNCE, "5.4.6", "too many hops: more than "
	    "%lld Received fields, mail loop", conf->max_hop_count);
	/* A cut address would send the notice from someone else. */
	if ((size_t)snprintf(pm, sizeof(pm), "postmaster@%s",
	    conf->hostname) >= sizeof(pm)) {
		log_warnx("%s: from=<%s> status=bounced (%s) no notice: "
		    "hostname too long for a sender", qid, pk->msg.sender,
		    o.text);
		goto done;
	}
	br = xcalloc(pk->env.nrcpts, sizeof(*br));
	for (i = 0; i < pk->env.nrcpts; i++) {
		br[i].rcpt = &pk->rcpts[i];
		br[i].outcome = &o;
	}
	if (bounce_build(conf->hostname, pm, BOUNCE_FAILED, &pk->msg,
	    pk->body.data, pk->body.len, conf->bounce_full_max_size, br,
	    pk->env.nrcpts, &dsn, &st) != 0) {
		log_info("%s: from=<%s> status=bounced (%s) no notice",
		    qid, pk->msg.sender, o.text);
		goto done;
	}
	(void)strlcpy(dsn.msg->qid, qid, sizeof(dsn.msg->qid)); /* the same */
	if (queue_submit(q, &dsn, out) == -1) {
		log_warn("maildrop %s: queue", qid);
		rc = -1;
		goto done;
	}
	log_info("%s: from=<%s> nrcpt=%zu status=bounced (%s %s) dsn=%s",
	    qid, pk->msg.sender, pk->env.nrcpts, o.status, o.text, out);
done:
	bounce_free(st);
	free(br);
	return rc;
}

/* Opens name for reading if it is a plain, singly linked file. */
static int
open_drop(int dfd, const char *name, struct stat *st)
{
	int	 fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return -1;
	/* A hard link would let a user make us read a file they cannot. */
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode) || st->st_nlink != 1) {
		(void)close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* 1 queued, 0 dropped (bad or already queued), -1 try again later. */
static int
pickup_one(const struct config *conf, struct queue *q, int dfd,
    const char *name)
{
	struct picked	 pk;
	struct stat	 st;
	struct qmsg	 old;
	struct buf	 raw;
	char		 qid[QID_LEN + 1];
	const char	*why = NULL;
	size_t		 off, max = (size_t)conf->max_message_size;
	int		 fd, rc = 0, eight;

	memset(&pk, 0, sizeof(pk));
	buf_init(&raw);
	/* Already queued: a crash came between commit and unlink. */
	if (queue_get_msg(q, name, &old) == 0) {
		queue_msg_free(&old);
		(void)unlinkat(dfd, name, 0);
		return 0;
	}
	if ((fd = open_drop(dfd, name, &st)) == -1) {
		log_warn("maildrop %s: rejected", name);
		(void)unlinkat(dfd, name, 0);
		return 0;
	}
	if (read_bounded(fd, max + (size_t)conf->max_recipients *
	    (MAILDROP_MAX_ADDR + 3) + 64, &raw) == -1)
		why = errno == EFBIG ? "message too large" : strerror(errno);
	(void)close(fd);
	if (why == NULL)
		why = maildrop_parse(raw.data ? raw.data : "", raw.len,
		    (size_t)conf->max_recipients, &pk.env, &off);
	if (why == NULL)
		why = maildrop_body(raw.data + off, raw.len - off,
		    conf->hostname, (unsigned long)st.st_uid, name,
		    now_usec() / 1000000, max, &pk.body, &eight);
	if (why != NULL) {
		log_warnx("maildrop %s: uid=%lu rejected: %s", name,
		    (unsigned long)st.st_uid, why);
		(void)unlinkat(dfd, name, 0);
		goto done;
	}
	pk.msg.flags = eight ? QMSG_8BITMIME : 0;
	/* Counted as written, before our own Received field. */
	if (hop_limit_exceeded(hop_count(raw.data + off, raw.len - off),
	    conf->max_hop_count)) {
		if (bounce_picked(conf, q, name, &pk) == -1) {
			rc = -1;
			goto done;
		}
		if (unlinkat(dfd, name, 0) == -1)
			log_warn("maildrop %s: unlink", name);
		rc = 1;		/* the DSN was queued: wake the runner */
		goto done;
	}
	if (submit_picked(conf, q, name, &pk, qid) == -1) {
		log_warn("maildrop %s: queue", name);
		rc = -1;
		goto done;
	}
	log_info("%s: from=<%s> size=%zu nrcpt=%zu uid=%lu (maildrop)", qid,
	    pk.msg.sender, pk.body.len, pk.env.nrcpts,
	    (unsigned long)st.st_uid);
	/* After the commit: a crash before this unlink is caught above. */
	if (unlinkat(dfd, name, 0) == -1)
		log_warn("maildrop %s: unlink", name);
	rc = 1;
done:
	picked_free(&pk);
	buf_free(&raw);
	return rc;
}

/* Temporary files of writers that died: gone after an hour. */
static void
sweep_tmp(int dfd, const char *name)
{
	struct stat	 st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    maildrop_tmp_stale((long long)st.st_mtime, (long long)time(NULL))) {
		if (unlinkat(dfd, name, 0) == -1)
			log_warn("maildrop %s: removing stale file", name);
		else
			log_info("maildrop %s: removed stale temporary file "
			    "uid=%lu", name, (unsigned long)st.st_uid);
	}
}

int
maildrop_pickup(const struct config *conf, struct queue *q)
{
	char		 dir[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0, seen = 0, r;

	if (maildrop_path(conf, dir, sizeof(dir)) == -1 ||
	    (d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && seen < PICKUP_MAX_FILES) {
		if (de->d_name[0] == '.')
			continue;
		/* Not counted: files that are not messages never hold up
		 * the ones that are. */
		if (maildrop_tmp_name(de->d_name)) {
			sweep_tmp(dirfd(d), de->d_name);
			continue;
		}
		if (!qid_valid(de->d_name))
			continue;
		seen++;
		if ((r = pickup_one(conf, q, dirfd(d), de->d_name)) == -1)
			break;	/* the queue is unwell: next pass */
		n += r;
	}
	(void)closedir(d);
	return n;
}

static volatile sig_atomic_t pickup_stop;

static void
pickup_on_term(int sig)
{
	(void)sig;
	pickup_stop = 1;
}

/* SIGTERM ends the pickup between two files, with the queue closed: a
 * normal stop leaves nothing for failchk to clean up. */
_Noreturn void
pickup_main(const struct config *conf, int wake_fd)
{
	struct sigaction sa;
	struct queue	*q;
	char		 err[512];
	pid_t		 parent = getppid();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pickup_on_term;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	if (queue_open(&q, conf->spool_dir, 0, err, sizeof(err)) == -1)
		fatalx("pickup: queue: %s", err);
	while (!pickup_stop && getppid() == parent) {
		if (maildrop_pickup(conf, q) > 0)
			(void)write(wake_fd, "p", 1);
		if (!pickup_stop)
			(void)poll(NULL, 0, 1000);
	}
	queue_close(q);
	_exit(0);
}
