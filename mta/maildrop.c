/*
 * The maildrop directory: sendmail's writer and the daemon's pickup.
 * See include/maildrop.h for the permissions and the commit point.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
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
#include "privsep.h"
#include "queue.h"
#include "util.h"

#define PICKUP_MAX_FILES	1000	/* per pass */

int
maildrop_path(const struct config *conf, char *buf, size_t len)
{
	int	 n;

	if (conf->maildrop_dir != NULL && *conf->maildrop_dir != '\0')
		n = snprintf(buf, len, "%s", conf->maildrop_dir);
	else
		n = snprintf(buf, len, "%s-maildrop", conf->spool_dir);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
maildrop_setup(const struct config *conf, char *err, size_t errlen)
{
	struct passwd	*pw;
	struct group	*gr;
	char		 dir[PATH_MAX];
	uid_t		 uid = geteuid();
	gid_t		 gid = getegid();

	if (maildrop_path(conf, dir, sizeof(dir)) == -1) {
		(void)snprintf(err, errlen, "maildrop: path too long");
		return -1;
	}
	if (privsep_maildrop_check(dir, conf->user, err, errlen) == -1)
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (*conf->user != '\0') {
		if ((pw = getpwnam(conf->user)) == NULL) {
			(void)snprintf(err, errlen, "unknown user %s", conf->user);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	/* Without the group only the daemon's user (and root) submit. */
	if ((gr = getgrnam(conf->maildrop_group)) != NULL)
		gid = gr->gr_gid;
	else
		log_warnx("maildrop: no group %s: only root can submit with "
		    "sendmail", conf->maildrop_group);
	if ((geteuid() == 0 && chown(dir, uid, gid) == -1) ||
	    chmod(dir, 01730) == -1) {
		(void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* -- writer (sendmail, an untrusted user) -------------------------- */

static int
addr_clean(const char *a)
{
	size_t	 i;

	for (i = 0; a[i]; i++)
		if ((unsigned char)a[i] < ' ' || a[i] == 0x7f)
			return 0;
	return i <= MAILDROP_MAX_ADDR;
}

static void
envelope(struct buf *b, const char *sender, char *const *rcpts, size_t n)
{
	size_t	 i;

	buf_appendstr(b, MAILDROP_MAGIC);
	buf_printf(b, "S %s\n", sender);
	for (i = 0; i < n; i++)
		buf_printf(b, "R %s\n", rcpts[i]);
	buf_appendstr(b, "\n");
}

/* The directory's own fsync needs read access to it; a group member
 * has none (mode 1730), and then the file's fsync after the rename is
 * what orders the entry (FFS soft updates, ext4's journal). */
static int
sync_entry(const char *dir, int fd)
{
	int	 dfd, r;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return fsync(fd);
	r = fsync(dfd);
	(void)close(dfd);
	return r;
}

int
maildrop_write(const struct config *conf, const char *sender,
    char *const *rcpts, size_t nrcpts, const char *msg, size_t len,
    char qid[QID_LEN + 1], char *err, size_t errlen)
{
	char		 dir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX];
	struct buf	 env;
	size_t		 i;
	int		 fd = -1, rc = -1, saved;

	buf_init(&env);
	for (i = 0; i < nrcpts; i++)
		if (!addr_clean(rcpts[i])) {
			(void)snprintf(err, errlen, "bad recipient address");
			errno = EINVAL;
			return -1;
		}
	if (!addr_clean(sender)) {
		(void)snprintf(err, errlen, "bad sender address");
		errno = EINVAL;
		return -1;
	}
	qid_make(qid);
	if (maildrop_path(conf, dir, sizeof(dir)) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, qid) >=
	    sizeof(tmp) || (size_t)snprintf(final, sizeof(final), "%s/%s",
	    dir, qid) >= sizeof(final)) {
		(void)snprintf(err, errlen, "maildrop path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	envelope(&env, sender, rcpts, nrcpts);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	/* Readable by the daemon's user only through the directory, which
	 * nobody else may search. */
	if (write_all(fd, env.data, env.len) == -1 ||
	    write_all(fd, msg, len) == -1 || fsync(fd) == -1 ||
	    fchmod(fd, 0644) == -1) {
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	/* Commit point: before the rename nothing exists for the pickup,
	 * after it the whole synced file does. */
	if (rename(tmp, final) == -1 || sync_entry(dir, fd) == -1) {
		(void)snprintf(err, errlen, "%s: %s", final, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	if (rc == -1)
		(void)unlink(tmp);
	buf_free(&env);
	errno = saved;
	return rc;
}

/* -- the untrusted file, parsed ------------------------------------ */

void
maildrop_env_free(struct maildrop_env *e)
{
	size_t	 i;

	for (i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	free(e->sender);
	memset(e, 0, sizeof(*e));
}

/* An address line: printable, no blanks, no brackets, bounded. */
static const char *
env_addr(const char *p, size_t len, int empty_ok, char **out)
{
	size_t	 i;

	if (len == 0 && !empty_ok)
		return "empty recipient";
	if (len > MAILDROP_MAX_ADDR)
		return "address too long";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
			return "bad character in address";
	}
	if (len > 0 && (p[0] == '@' || p[len - 1] == '@'))
		return "bad address";
	*out = xstrndup(p, len);
	return NULL;
}

const char *
maildrop_parse(const char *data, size_t len, size_t max_rcpts,
    struct maildrop_env *e, size_t *body)
{
	const char	*p, *end = data + len, *nl, *why = NULL;
	size_t		 ml = sizeof(MAILDROP_MAGIC) - 1, ll;
	char		*a;

	memset(e, 0, sizeof(*e));
	if (len < ml || memcmp(data, MAILDROP_MAGIC, ml) != 0)
		return "not a maildrop file";
	for (p = data + ml; why == NULL; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			why = "truncated envelope";
			break;
		}
		ll = (size_t)(nl - p);
		if (ll == 0) {
			*body = (size_t)(nl + 1 - data);
			break;
		}
		if (ll < 2 || p[1] != ' ')
			why = "bad envelope line";
		else if (p[0] == 'S' && e->sender == NULL)
			why = env_addr(p + 2, ll - 2, 1, &e->sender);
		else if (p[0] == 'R' && e->nrcpts >= max_rcpts)
			why = "too many recipients";
		else if (p[0] == 'R') {
			if ((why = env_addr(p + 2, ll - 2, 0, &a)) == NULL) {
				e->rcpts = xreallocarray(e->rcpts, e->nrcpts + 1,
				    sizeof(*e->rcpts));
				e->rcpts[e->nrcpts++] = a;
			}
		} else
			why = "bad envelope line";
	}
	if (why == NULL && e->sender == NULL)
		why = "no sender";
	if (why == NULL && e->nrcpts == 0)
		why = "no recipients";
	if (why != NULL)
		maildrop_env_free(e);
	return why;
}

const char *
maildrop_body(const char *msg, size_t len, const char *hostname,
    unsigned long uid, const char *qid, long long now, size_t max,
    struct buf *out, int *eightbit)
{
	char		 date[64];
	const char	*p = msg, *end = msg + len, *nl;
	size_t		 ll;

	*eightbit = 0;
	if (memchr(msg, '\0', len) != NULL)
		return "NUL byte in message";
	rfc5322_date(date, sizeof(date), now);
	/* The uid is the file's owner, the one thing the writer cannot
	 * choose. */
	buf_printf(out, "Received: by %s (postern, from userid %lu)\r\n"
	    "\tid %s; %s\r\n", hostname, uid, qid, date);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		buf_append(out, p, ll);
		buf_append(out, "\r\n", 2);
		p = nl ? nl + 1 : end;
		if (out->len > max)
			return "message too large";
	}
	for (p = out->data; p < out->data + out->len; p++)
		if ((unsigned char)*p > 0x7f) {
			*eightbit = 1;
			break;
		}
	return NULL;
}

/* -- pickup (the daemon's user) ----------------------------------- */

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
	(void)strlcpy(pk->msg.qid, qid, sizeof(pk->msg.qid));
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
	struct bounce_rcpt	*br;
	struct outcome		 o;
	struct qnew		 dsn;
	char			 pm[MAILDROP_MAX_ADDR + 16], out[QID_LEN + 1];
	size_t			 i;
	int			 rc = 0;

	fill_picked(conf, qid, pk);
	(void)snprintf(pm, sizeof(pm), "postmaster@%s", conf->hostname);
	outcome_set(&o, OUTCOME_BOUNCE, "5.4.6", "too many hops: more than "
	    "%lld Received fields, mail loop", conf->max_hop_count);
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
	(void)strlcpy(dsn.msg->qid, qid, sizeof(dsn.msg->qid));
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
