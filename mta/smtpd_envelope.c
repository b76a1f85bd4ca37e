/*
 * smtpd_envelope: EHLO/HELO, MAIL and RCPT of an inbound session: the
 * extensions offered, the size the spool can take now, where a
 * recipient may go and whether a local one exists.  See
 * include/smtpd_session.h.
 */
#include <sys/types.h>
#include <sys/statvfs.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "config.h"
#include "log.h"
#include "netio.h"
#include "queue.h"
#include "rcpt_local.h"
#include "relay.h"
#include "smtp_parse.h"
#include "smtp_server.h"
#include "smtpd_session.h"
#include "util.h"

/* Free space the spool keeps: below it the queue counts a failed write
 * as a full disk (queue/qdb.h QUEUE_MIN_FREE). */
#define SPOOL_RESERVE		(16ULL * 1024 * 1024)

/* ---- EHLO, HELO ------------------------------------------------------ */

/*
 * The largest message the spool can take now: the free space above the
 * reserve, halved because a body is written twice (the log, then the
 * table pages) until a checkpoint frees log files; at most
 * max_message_size.  0 when the spool is full.
 */
static unsigned long long
spool_room(const struct smtpd_session *s)
{
	unsigned long long	 max = (unsigned long long)s->conf->max_message_size;
	unsigned long long	 avail;
	struct statvfs		 sv;

	if (statvfs(s->conf->spool_dir, &sv) == -1)
		return max;
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (avail <= SPOOL_RESERVE)
		return 0;
	avail = (avail - SPOOL_RESERVE) / 2;
	return avail < max ? avail : max;
}

void
smtpd_cmd_helo(struct smtpd_session *s, const struct smtp_cmd *cmd, int esmtp)
{
	const char	*r;
	char		 size[32];
	const char	*ext[8];
	size_t		 n = 0, i;
	unsigned long long room;

	if ((r = smtp_helo_parse(cmd->arg, cmd->arglen, s->helo)) != NULL) {
		smtpd_error_reply(s, r);
		return;
	}
	/* RFC 5321 §4.1.4: EHLO/HELO also resets the transaction. */
	smtpd_txn_reset(s);
	s->state = SMTPD_HELO;
	s->esmtp = esmtp;
	if (!esmtp) {
		smtpd_reply(s, "250 %s", s->conf->hostname);
		return;
	}
	/* RFC 1870 §4: the announced limit may follow the space left;
	 * never 0, which would mean "no limit". */
	room = spool_room(s);
	/* Fits: 20 digits at most. */
	(void)snprintf(size, sizeof(size), "SIZE %llu", room ? room : 1);
	ext[n++] = "PIPELINING";
	ext[n++] = size;
	ext[n++] = "8BITMIME";
	ext[n++] = "ENHANCEDSTATUSCODES";
	ext[n++] = "DSN";
	ext[n++] = "SMTPUTF8";
	if (s->ctx->tls != NULL && netio_ssl(s->nio) == NULL)
		ext[n++] = "STARTTLS";
	smtpd_reply(s, "250-%s", s->conf->hostname);
	for (i = 0; i < n; i++)
		smtpd_reply(s, "250%c%s", i + 1 == n ? ' ' : '-', ext[i]);
}

/* ---- MAIL, RCPT ------------------------------------------------------ */

void
smtpd_cmd_mail(struct smtpd_session *s, const struct smtp_cmd *cmd)
{
	const char		*r;
	unsigned long long	 room;

	if (s->state == SMTPD_GREET) {
		smtpd_error_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->state != SMTPD_HELO) {
		smtpd_error_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((r = smtp_mail_parse(cmd->arg, cmd->arglen, &s->mail)) != NULL) {
		smtpd_error_reply(s, r);
		memset(&s->mail, 0, sizeof(s->mail));
		return;
	}
	/* RFC 1870 §6.1: refuse now what would be refused after DATA. */
	if (s->mail.size > (unsigned long long)s->conf->max_message_size) {
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		memset(&s->mail, 0, sizeof(s->mail));
		return;
	}
	/* RFC 1870 §6.1 and RFC 5321 §4.5.3.1.10: no room now is 452; the
	 * client tries again later. */
	room = spool_room(s);
	if (room == 0 || s->mail.size > room) {
		log_warnx("[%s]: spool has room for %llu bytes: 452", s->ip,
		    room);
		smtpd_reply(s, "452 4.3.1 Insufficient system storage");
		memset(&s->mail, 0, sizeof(s->mail));
		return;
	}
	s->state = SMTPD_MAIL;
	smtpd_reply(s, "250 2.1.0 Ok");
}

/*
 * Where a recipient may go.  The domain is the part after the last "@"
 * (smtp_parse), so "user%other@here" and "other!user@here" are local
 * parts of "here" and never route anywhere else.  NULL or the reply.
 */
static const char *
rcpt_allowed(struct smtpd_session *s, const struct smtp_path *p)
{
	if (p->postmaster)
		return NULL;	/* RFC 5321 §4.1.1.3 */
	if (p->literal)
		return s->trusted ? NULL : "554 5.7.1 Relay access denied";
	if (relay_domain_accepted(s->conf, p->domain) || s->trusted)
		return NULL;
	return "554 5.7.1 Relay access denied";
}

/*
 * Whether a local recipient exists (rcpt_local.h): refused here, the
 * client learns it and no bounce goes to a sender that may be forged.
 * Checked for every client, trusted or not: an unknown user is unknown
 * whoever asks.  0 to accept, -1 when the reply was sent.
 */
static int
rcpt_local_known(struct smtpd_session *s, const struct smtp_path *p)
{
	struct rcpt_facts f;
	char		  name[ALIAS_MAX_NAME + 1], why[256];
	char		  text[SMTPD_REPLY_MAX];	/* fits SMTP_PATH_MAX */
	const char	 *e;

	if (!s->conf->local_recipient_check)
		return 0;
	if (!p->postmaster && (p->literal ||
	    !relay_domain_local(s->conf, p->domain)))
		return 0;
	if ((e = rcpt_local_name(p->mailbox, name, sizeof(name))) != NULL) {
		log_info("[%s]: RCPT <%s> refused: %s", s->ip, p->mailbox, e);
		(void)snprintf(text, sizeof(text), "550 5.1.1 Recipient "
		    "address rejected: %s", e);
		smtpd_error_reply(s, text);
		return -1;
	}
	rcpt_local_lookup(s->conf, name, &f, why, sizeof(why));
	switch (rcpt_local_decide(&f)) {
	case RCPT_ACCEPT:
		return 0;
	case RCPT_TEMPFAIL:
		log_warnx("[%s]: RCPT <%s> deferred: %s", s->ip, p->mailbox,
		    why);
		smtpd_reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
		    p->mailbox);
		return -1;
	case RCPT_REJECT:
		break;
	}
	log_info("[%s]: RCPT <%s> refused: user unknown from=<%s>", s->ip,
	    p->mailbox, s->mail.path.mailbox);
	/* RFC 3463 §3.2: X.1.1, bad destination mailbox address. */
	(void)snprintf(text, sizeof(text), "550 5.1.1 <%s>: Recipient address "
	    "rejected: user unknown", p->mailbox);
	smtpd_error_reply(s, text);
	return -1;
}

static void
rcpt_add(struct smtpd_session *s, const struct smtp_rcpt *r)
{
	struct qrcpt	*rc;
	char		*addr, *dest;
	size_t		 i;

	if (r->path.postmaster) {
		addr = xasprintf("%s@%s", r->path.mailbox, s->conf->hostname);
		dest = xstrdup(s->conf->hostname);
	} else {
		addr = xstrdup(r->path.mailbox);
		dest = xstrdup(r->path.domain);
	}
	domain_normalize(dest);
	for (i = 0; i < s->nrcpt; i++) {
		if (strcmp(s->rcpts[i].addr, addr) == 0) {
			/* The same mailbox twice gets one copy. */
			free(addr);
			free(dest);
			return;
		}
	}
	if (s->nrcpt == s->rcptcap) {
		s->rcptcap = s->rcptcap ? s->rcptcap * 2 : 8;
		s->rcpts = xreallocarray(s->rcpts, s->rcptcap, sizeof(*rc));
	}
	rc = &s->rcpts[s->nrcpt++];
	memset(rc, 0, sizeof(*rc));
	rc->state = QRCPT_QUEUED;
	rc->notify = r->notify;
	rc->addr = addr;
	rc->dest = dest;
	rc->orcpt = r->orcpt[0] ? xstrdup(r->orcpt) : NULL;
}

void
smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_rcpt	 r;
	const char		*e;

	if (s->state < SMTPD_MAIL) {
		smtpd_error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	s->rcpt_tried = 1;
	/* RFC 5321 §4.5.3.1.10: 452, and the client sends the rest later;
	 * not a client error. */
	if (s->nrcpt >= (size_t)s->conf->max_recipients) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	e = smtp_rcpt_parse(cmd->arg, cmd->arglen, s->mail.smtputf8, &r);
	if (e == NULL)
		e = rcpt_allowed(s, &r.path);
	if (e != NULL) {
		smtpd_error_reply(s, e);
		return;
	}
	if (rcpt_local_known(s, &r.path) == -1)
		return;
	rcpt_add(s, &r);
	s->state = SMTPD_RCPT;
	smtpd_reply(s, "250 2.1.5 Ok");
}
