/*
 * local_request: one request in the local server's child: the name
 * resolved (catch-all, aliases, .forward), each target delivered,
 * remote targets forwarded through the maildrop, one outcome for the
 * worker.  See include/local_request.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aliases.h"
#include "compat.h"
#include "config.h"
#include "hopcount.h"
#include "local.h"
#include "local_child.h"
#include "local_io.h"
#include "local_request.h"
#include "local_target.h"
#include "log.h"
#include "maildrop.h"
#include "mbox.h"
#include "outcome.h"
#include "rcpt_local.h"
#include "util.h"

static void
merge(struct outcome *all, const struct outcome *one, int *nsent)
{
	if (one->kind == OUTCOME_SENT) {
		(*nsent)++;
		if (all->kind == OUTCOME_NONE)
			*all = *one;
		return;
	}
	/* Any deferral defers the recipient; else the first failure. */
	if (one->kind == OUTCOME_DEFER || all->kind == OUTCOME_NONE ||
	    all->kind == OUTCOME_SENT)
		if (all->kind != OUTCOME_DEFER)
			*all = *one;
}

static void
forward_remote(const struct config *conf, const struct alias_list *l,
    const struct local_request *rq, const char *msg, size_t len,
    struct outcome *o)
{
	char		**rcpts = NULL, qid[QID_LEN + 1], err[256];
	const char	*sender = rq->sender;
	char		 owner[MAILDROP_MAX_ADDR + 1];
	size_t		 i, n = 0;

	for (i = 0; i < l->n; i++)
		if (l->v[i].kind == ALIAS_REMOTE) {
			rcpts = xreallocarray(rcpts, n + 1, sizeof(*rcpts));
			rcpts[n++] = l->v[i].value;
		}
	if (n == 0)
		return;
	/* RFC 5321 §6.3: the copy would go out with these hops. */
	if (hop_limit_exceeded(hop_count(msg, len), conf->max_hop_count)) {
		outcome_set(o, OUTCOME_BOUNCE, "5.4.6", "forwarding: too many "
		    "hops: more than %lld Received fields, mail loop",
		    conf->max_hop_count);
		free(rcpts);
		return;
	}
	/* owner-NAME@host past the RFC 5321 §4.5.3.1.3 path limit cannot
	 * be a sender: the copy keeps the message's own, and says so. */
	if (l->owner != NULL) {
		if ((size_t)snprintf(owner, sizeof(owner), "%s@%s", l->owner,
		    conf->hostname) < sizeof(owner))
			sender = owner;
		else
			log_warnx("%s: to=<%s> %s@%s too long for a sender, "
			    "forwarding from <%s>", rq->qid, rq->rcpt,
			    l->owner, conf->hostname, rq->sender);
	}
	/* Through the maildrop: the pickup queues it as the daemon. */
	if (maildrop_write(conf, sender, rcpts, n, msg, len, qid, err,
	    sizeof(err)) == -1)
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "forwarding: %s", err);
	else {
		log_info("%s: to=<%s> forwarded to %zu remote address%s as %s",
		    rq->qid, rq->rcpt, n, n == 1 ? "" : "es", qid);
		outcome_set(o, OUTCOME_SENT, "2.0.0", "forwarded as %s", qid);
	}
	free(rcpts);
}

/* The text names the target (a user, a path, a command and its
 * output): from an :include: file that would quote the file in a DSN
 * to the sender.  The log line above keeps the details. */
static void
outcome_unquote(struct outcome *o)
{
	char	 status[sizeof(o->status)];

	(void)strlcpy(status, o->status, sizeof(status));
	outcome_set(o, o->kind, status, "%s of a recipient from an "
	    ":include: file", o->kind == OUTCOME_SENT ? "delivery" :
	    o->kind == OUTCOME_DEFER ? "deferred delivery" : "failed delivery");
}

static void
deliver_targets(const struct config *conf, const struct alias_list *l,
    const struct local_request *rq, const char *msg, size_t len,
    struct outcome *all)
{
	struct outcome	 one;
	struct buf	 mbox;
	size_t		 i;
	int		 nsent = 0;

	buf_init(&mbox);
	mbox_format(&mbox, rq->sender, (long long)time(NULL), msg, len);
	for (i = 0; i < l->n; i++) {
		const struct alias_target *t = &l->v[i];

		memset(&one, 0, sizeof(one));
		switch (t->kind) {
		case ALIAS_LOCAL:
			/* An append is finished, not cut, by a stop. */
			local_child_hold();
			local_deliver_mailbox(conf, t->value, mbox.data,
			    mbox.len, &one);
			local_child_release();
			break;
		case ALIAS_FILE:
			local_child_hold();
			local_deliver_file(conf, t->value, t->user, mbox.data,
			    mbox.len, &one);
			local_child_release();
			break;
		case ALIAS_PIPE:
			local_deliver_pipe(conf, t->value, t->user, rq->sender,
			    rq->rcpt, mbox.data + strcspn(mbox.data, "\n") + 1,
			    mbox.len - strcspn(mbox.data, "\n") - 1, &one);
			break;
		default:
			continue;
		}
		log_info("%s: to=<%s> local=%s%s status=%s (%s %s)", rq->qid,
		    rq->rcpt, t->kind == ALIAS_LOCAL ? "mailbox:" :
		    t->kind == ALIAS_FILE ? "file:" : "pipe:", t->value,
		    outcome_kind_name(one.kind), one.status, one.text);
		if (t->included)
			outcome_unquote(&one);
		merge(all, &one, &nsent);
	}
	memset(&one, 0, sizeof(one));
	local_child_hold();
	forward_remote(conf, l, rq, msg, len, &one);
	local_child_release();
	if (one.kind != OUTCOME_NONE)
		merge(all, &one, &nsent);
	buf_free(&mbox);
}

/*
 * local_catchall: a name neither the aliases nor the password database
 * know goes to the catch-all instead of bouncing, the same lookups that
 * accepted it at RCPT time (rcpt_local.h).  0 with name possibly
 * replaced, or -1 with o set when a lookup failed.
 */
static int
catchall(const struct config *conf, const struct local_request *rq, char *name,
    struct outcome *o)
{
	struct rcpt_facts f;
	char		  why[256];

	if (conf->local_catchall[0] == '\0')
		return 0;
	rcpt_local_lookup(conf, name, &f, why, sizeof(why));
	f.check = 1;
	f.catchall = 0;		/* is the name itself known? */
	switch (rcpt_local_decide(&f)) {
	case RCPT_ACCEPT:
		return 0;
	case RCPT_TEMPFAIL:
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "%s: %s", name, why);
		return -1;
	case RCPT_REJECT:
		break;
	}
	log_info("%s: to=<%s> unknown local name, to the catch-all %s",
	    rq->qid, rq->rcpt, conf->local_catchall);
	/* Fits: config.c refuses a local_catchall over ALIAS_MAX_NAME. */
	(void)strlcpy(name, conf->local_catchall, ALIAS_MAX_NAME + 1);
	str_lower(name);
	return 0;
}

/* In the delivery child: the message from fd, the outcome to out. */
static void
serve_one(const struct config *conf, const struct local_request *rq, int fd,
    int out)
{
	struct alias_ops ops;
	struct alias_list l;
	struct outcome	 o;
	struct buf	 msg;
	const char	*why, *at;
	char		 name[ALIAS_MAX_NAME + 1], *body = NULL;
	size_t		 n;
	int		 temp;

	memset(&o, 0, sizeof(o));
	buf_init(&msg);
	if (local_read_small(fd, (size_t)conf->max_message_size + 65536,
	    &body) == -1) {
		outcome_set(&o, OUTCOME_DEFER, "4.3.0", "reading message: %s",
		    strerror(errno));
		goto done;
	}
	/* A message back here for the same recipient is in a loop (RFC
	 * 5321 §6.3); Delivered-To marks each local delivery. */
	if (hop_delivered_to(body, strlen(body), rq->rcpt)) {
		outcome_set(&o, OUTCOME_BOUNCE, "5.4.6", "mail loop: already "
		    "delivered to %s", rq->rcpt);
		goto done;
	}
	/* The Return-Path of RFC 5321 §4.4, added at final delivery. */
	buf_printf(&msg, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
	    rq->sender, rq->rcpt);
	buf_appendstr(&msg, body);
	at = strrchr(rq->rcpt, '@');
	n = at ? (size_t)(at - rq->rcpt) : strlen(rq->rcpt);
	if (n == 0 || n > ALIAS_MAX_NAME) {
		outcome_set(&o, OUTCOME_BOUNCE, "5.1.3", "bad local address");
		goto done;
	}
	memcpy(name, rq->rcpt, n);
	name[n] = '\0';
	str_lower(name);
	if (catchall(conf, rq, name, &o) == -1)
		goto done;
	local_alias_ops(conf, &ops);
	if ((why = aliases_expand(&ops, name, &l, &temp)) != NULL) {
		/* RFC 3463: 5.4.6 routing loop; 4.3.0 lookups that failed. */
		outcome_set(&o, temp ? OUTCOME_DEFER : OUTCOME_BOUNCE,
		    temp ? "4.3.0" : strstr(why, "loop") ? "5.4.6" : "5.3.0",
		    "%s: %s", name, why);
		goto done;
	}
	deliver_targets(conf, &l, rq, msg.data, msg.len, &o);
	alias_list_free(&l);
	if (o.kind == OUTCOME_NONE)
		outcome_set(&o, OUTCOME_SENT, "2.0.0", "no deliveries left "
		    "after alias expansion");
done:
	local_outcome_write(out, &o);
	free(body);
	buf_free(&msg);
}

struct serve_arg {
	const struct config	*conf;
	const struct local_request	*rq;
	int			 fd;
};

static void
serve_child(void *arg, int out)
{
	const struct serve_arg *a = arg;

	serve_one(a->conf, a->rq, a->fd, out);
}

/* The root child of one request: the delivery, under its deadline and
 * watched for the worker going away (local_child.h). */
void
local_request_serve(const struct config *conf, const struct local_request *rq,
    int fd)
{
	struct serve_arg a = { conf, rq, fd };
	struct outcome	 o;
	char		 line[sizeof(o.text) + 32];

	switch (local_child_run(serve_child, &a, fd,
	    conf->local_delivery_timeout, line, sizeof(line))) {
	case LOCAL_CHILD_DONE:
		if (line[0] != '\0') {
			(void)write_all(fd, line, strlen(line));
			return;
		}
		outcome_set(&o, OUTCOME_DEFER, "4.3.0",
		    "local delivery process failed");
		break;
	case LOCAL_CHILD_TIMEOUT:
		log_warnx("%s: to=<%s> local delivery stopped after %llds "
		    "(local_delivery_timeout)", rq->qid, rq->rcpt,
		    conf->local_delivery_timeout);
		outcome_set(&o, OUTCOME_DEFER, "4.3.0", "local delivery did "
		    "not finish within %llds", conf->local_delivery_timeout);
		break;
	case LOCAL_CHILD_GONE:
		log_warnx("%s: to=<%s> delivery worker gone, local delivery "
		    "stopped", rq->qid, rq->rcpt);
		return;
	default:
		outcome_set(&o, OUTCOME_DEFER, "4.3.0", "pipe/fork: %s",
		    strerror(errno));
	}
	local_outcome_write(fd, &o);
}
