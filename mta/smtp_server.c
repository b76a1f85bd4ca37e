/*
 * One inbound SMTP session (RFC 5321 server side) in its own process.
 *
 * States: GREET (banner sent) -> HELO (EHLO/HELO seen) -> MAIL -> RCPT
 * (at least one recipient accepted) -> DATA -> back to HELO.  A command
 * out of order is 503 5.5.1; RSET and EHLO/HELO drop the transaction;
 * STARTTLS (RFC 3207) goes back to GREET and forgets everything.
 *
 * Output is flushed only when no input is buffered (RFC 2920: a
 * pipelined batch gets its replies in one write).  Input read before a
 * TLS handshake is discarded (RFC 3207 §4.2: it was not protected).
 * Every reply except the banner and EHLO/HELO carries an enhanced status
 * code (RFC 2034 §3).  A message is answered 250 only after the queue
 * committed it (queue.h); nothing of a refused message is stored.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "compat.h"
#include "config.h"
#include "crashpoint.h"
#include "hopcount.h"
#include "log.h"
#include "netio.h"
#include "queue.h"
#include "rcpt_local.h"
#include "relay.h"
#include "smtp_data.h"
#include "smtp_parse.h"
#include "smtp_server.h"
#include "util.h"

/* netio buffer for one DATA line: longer lines are cut by netio and
 * refused; smtp_data applies max_line_length itself. */
#define DATA_READ_MAX		(64 * 1024)
/* A reply line we build: RFC 5321 §4.5.3.1.5 allows 512 with CR LF. */
#define REPLY_MAX		512
/* Replies held back for a pipelining client, at most. */
#define OUT_MAX			(64 * 1024)
/* How long a closing session drains input so its last reply arrives. */
#define LINGER_MS		1000
/* Free space the spool keeps: below it the queue counts a failed write
 * as a full disk (queue/qdb.h QUEUE_MIN_FREE). */
#define SPOOL_RESERVE		(16ULL * 1024 * 1024)

enum state {
	ST_GREET,	/* banner sent, no EHLO/HELO yet */
	ST_HELO,	/* no transaction */
	ST_MAIL,	/* MAIL accepted, no recipient yet */
	ST_RCPT		/* at least one recipient accepted */
};

struct session {
	const struct server_ctx	*ctx;
	const struct config	*conf;
	const struct listen_spec *ls;
	struct netio		*nio;
	struct sockaddr_storage	 peer;
	char			 ip[INET6_ADDRSTRLEN];
	int			 ipv6;
	int			 trusted;	/* may relay anywhere */
	char			 helo[SMTP_DOMAIN_MAX + 1];
	int			 esmtp;
	enum state		 state;
	int			 nerrors;
	int			 closing;	/* close after this reply */
	int			 gone;		/* the peer closed or failed */
	int			 rcpt_tried;	/* a RCPT was given */
	int			 cmd_ms, data_ms;
	size_t			 nmsgs;
	struct smtp_mail	 mail;
	struct qrcpt		*rcpts;
	size_t			 nrcpt, rcptcap;
};

static volatile sig_atomic_t	 got_term;
static int			 term_fd = -1;
/* One queue handle for the life of the process: a session process serves
 * several connections in turn (master.c) and joins the environment once. */
static struct queue		*proc_q;

/* SIGTERM: stop reading so a wait for the next command ends now; the
 * loop then answers 421 on the still open sending side. */
static void
on_term(int sig)
{
	int	 saved = errno;

	(void)sig;
	got_term = 1;
	if (term_fd >= 0)
		(void)shutdown(term_fd, SHUT_RD);
	errno = saved;
}

/* One reply line, CR LF added.  Buffered: see flush_idle(). */
static void
reply(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
reply(struct session *s, const char *fmt, ...)
{
	char	 line[REPLY_MAX];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;	/* truncated: still a line */
	line[n++] = '\r';
	line[n++] = '\n';
	if (netio_write(s->nio, line, (size_t)n) == -1)
		s->closing = 1;
}

/* A reply to a client mistake: counted against max_errors. */
static void
error_reply(struct session *s, const char *text)
{
	reply(s, "%s", text);
	s->nerrors++;
}

static int
flush_now(struct session *s)
{
	if (netio_flush(s->nio, s->cmd_ms) == -1) {
		log_info("write to [%s] failed", s->ip);
		return -1;
	}
	return 0;
}

/* RFC 2920 §3.2: answer a pipelined batch in one write, so flush only
 * when nothing more is buffered, before we would block reading; or when
 * replies pile up for a client that sends without reading. */
static int
flush_idle(struct session *s)
{
	if (netio_pending(s->nio) > 0 && netio_outlen(s->nio) < OUT_MAX)
		return 0;
	return flush_now(s);
}

static void
txn_reset(struct session *s)
{
	size_t	 i;

	for (i = 0; i < s->nrcpt; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].orcpt);
		free(s->rcpts[i].dest);
	}
	s->nrcpt = 0;
	s->rcpt_tried = 0;
	memset(&s->mail, 0, sizeof(s->mail));
	if (s->state > ST_HELO)
		s->state = ST_HELO;
}

static const char *
tls_text(struct session *s, char *buf, size_t len)
{
	if (netio_ssl(s->nio) == NULL)
		return "none";
	(void)snprintf(buf, len, "%s/%s", netio_tls_version(s->nio),
	    netio_tls_cipher(s->nio));
	return buf;
}

/* ---- EHLO, HELO ------------------------------------------------------ */

/*
 * The largest message the spool can take now: the free space above the
 * reserve, halved because a body is written twice (the log, then the
 * table pages) until a checkpoint frees log files; at most
 * max_message_size.  0 when the spool is full.
 */
static unsigned long long
spool_room(const struct session *s)
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

static void
cmd_helo(struct session *s, const struct smtp_cmd *cmd, int esmtp)
{
	const char	*r;
	char		 size[32];
	const char	*ext[8];
	size_t		 n = 0, i;
	unsigned long long room;

	if ((r = smtp_helo_parse(cmd->arg, cmd->arglen, s->helo)) != NULL) {
		error_reply(s, r);
		return;
	}
	/* RFC 5321 §4.1.4: EHLO/HELO also resets the transaction. */
	txn_reset(s);
	s->state = ST_HELO;
	s->esmtp = esmtp;
	if (!esmtp) {
		reply(s, "250 %s", s->conf->hostname);
		return;
	}
	/* RFC 1870 §4: the announced limit may follow the space left;
	 * never 0, which would mean "no limit". */
	room = spool_room(s);
	(void)snprintf(size, sizeof(size), "SIZE %llu", room ? room : 1);
	ext[n++] = "PIPELINING";
	ext[n++] = size;
	ext[n++] = "8BITMIME";
	ext[n++] = "ENHANCEDSTATUSCODES";
	ext[n++] = "DSN";
	ext[n++] = "SMTPUTF8";
	if (s->ctx->tls != NULL && netio_ssl(s->nio) == NULL)
		ext[n++] = "STARTTLS";
	reply(s, "250-%s", s->conf->hostname);
	for (i = 0; i < n; i++)
		reply(s, "250%c%s", i + 1 == n ? ' ' : '-', ext[i]);
}

/* ---- MAIL, RCPT ------------------------------------------------------ */

static void
cmd_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const char		*r;
	unsigned long long	 room;

	if (s->state == ST_GREET) {
		error_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->state != ST_HELO) {
		error_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((r = smtp_mail_parse(cmd->arg, cmd->arglen, &s->mail)) != NULL) {
		error_reply(s, r);
		memset(&s->mail, 0, sizeof(s->mail));
		return;
	}
	/* RFC 1870 §6.1: refuse now what would be refused after DATA. */
	if (s->mail.size > (unsigned long long)s->conf->max_message_size) {
		reply(s, "552 5.3.4 Message size exceeds fixed maximum "
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
		reply(s, "452 4.3.1 Insufficient system storage");
		memset(&s->mail, 0, sizeof(s->mail));
		return;
	}
	s->state = ST_MAIL;
	reply(s, "250 2.1.0 Ok");
}

/*
 * Where a recipient may go.  The domain is the part after the last "@"
 * (smtp_parse), so "user%other@here" and "other!user@here" are local
 * parts of "here" and never route anywhere else.  NULL or the reply.
 */
static const char *
rcpt_allowed(struct session *s, const struct smtp_path *p)
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
rcpt_local_known(struct session *s, const struct smtp_path *p)
{
	struct rcpt_facts f;
	char		  name[ALIAS_MAX_NAME + 1], why[256], text[REPLY_MAX];
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
		error_reply(s, text);
		return -1;
	}
	rcpt_local_lookup(s->conf, name, &f, why, sizeof(why));
	switch (rcpt_local_decide(&f)) {
	case RCPT_ACCEPT:
		return 0;
	case RCPT_TEMPFAIL:
		log_warnx("[%s]: RCPT <%s> deferred: %s", s->ip, p->mailbox,
		    why);
		reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
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
	error_reply(s, text);
	return -1;
}

static void
rcpt_add(struct session *s, const struct smtp_rcpt *r)
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

static void
cmd_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	struct smtp_rcpt	 r;
	const char		*e;

	if (s->state < ST_MAIL) {
		error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	s->rcpt_tried = 1;
	/* RFC 5321 §4.5.3.1.10: 452, and the client sends the rest later;
	 * not a client error. */
	if (s->nrcpt >= (size_t)s->conf->max_recipients) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	e = smtp_rcpt_parse(cmd->arg, cmd->arglen, s->mail.smtputf8, &r);
	if (e == NULL)
		e = rcpt_allowed(s, &r.path);
	if (e != NULL) {
		error_reply(s, e);
		return;
	}
	if (rcpt_local_known(s, &r.path) == -1)
		return;
	rcpt_add(s, &r);
	s->state = ST_RCPT;
	reply(s, "250 2.1.5 Ok");
}

/* ---- DATA ------------------------------------------------------------ */

/* RFC 3848 / RFC 6531 §3.7.3 "with" protocol names. */
static const char *
proto_name(struct session *s)
{
	int	 tls = netio_ssl(s->nio) != NULL;

	if (!s->esmtp)
		return "SMTP";
	if (s->mail.smtputf8)
		return tls ? "UTF8SMTPS" : "UTF8SMTP";
	return tls ? "ESMTPS" : "ESMTP";
}

/* RFC 5321 §4.4 trace line; RFC 8314 §4.3 for the TLS clause. */
static void
received_header(struct session *s, struct buf *b, const char *qid)
{
	char	 date[64];

	rfc5322_date(date, sizeof(date), (long long)time(NULL));
	buf_printf(b, "Received: from %s (unknown [%s%s])\r\n"
	    "\tby %s (postern) with %s id %s",
	    s->helo, s->ipv6 ? "IPv6:" : "", s->ip, s->conf->hostname,
	    proto_name(s), qid);
	/* The client is not asked for a certificate: under TLS it is
	 * "untrusted" in the sense of tls_policy.h. */
	if (netio_ssl(s->nio) != NULL)
		buf_printf(b, "\r\n\t(version=%s cipher=%s bits=%d auth=untrusted)",
		    netio_tls_version(s->nio), netio_tls_cipher(s->nio),
		    netio_tls_bits(s->nio));
	/* Naming the one recipient leaks nothing; several would. */
	if (s->nrcpt == 1)
		buf_printf(b, "\r\n\tfor <%s>", s->rcpts[0].addr);
	buf_printf(b, "; %s\r\n", date);
}

/*
 * Reads DATA lines into d to the end of data.  0 at the end, -1 when the
 * session is over (timeout answered, or the peer is gone).
 */
static int
data_read(struct session *s, struct smtp_data *d)
{
	const char	*line;
	size_t		 len, max;
	enum netio_line	 r;

	max = (size_t)s->conf->max_line_length + 2;
	if (max < DATA_READ_MAX)
		max = DATA_READ_MAX;
	while (!smtp_data_done(d)) {
		if (flush_idle(s) == -1)
			return -1;
		line = NULL;
		len = 0;
		r = netio_getline(s->nio, &line, &len, max, s->data_ms);
		switch (r) {
		case NETIO_LINE_OK:
			(void)smtp_data_feed(d, line, len);
			break;
		case NETIO_LINE_LONG:
			/* Unknown terminator counts as a bare LF: it can
			 * only keep us reading, never end data early. */
			smtp_data_overlong(d, line != NULL && len >= 2 &&
			    line[len - 2] == '\r' && line[len - 1] == '\n');
			break;
		case NETIO_LINE_TIMEOUT:
			log_info("timeout after DATA from [%s]", s->ip);
			reply(s, "421 4.4.2 %s Error: timeout exceeded",
			    s->conf->hostname);
			return -1;
		default:
			if (got_term) {
				reply(s, "421 4.3.2 Service shutting down");
				return -1;
			}
			log_info("lost connection after DATA from [%s]",
			    s->ip);
			s->gone = 1;
			return -1;
		}
	}
	return 0;
}

static void
wake_runner(struct session *s)
{
	char	 c = 1;

	/* Non-blocking pipe: a full pipe already means "wake up". */
	if (s->ctx->wake_fd >= 0 && write(s->ctx->wake_fd, &c, 1) == -1 &&
	    errno != EAGAIN && errno != EWOULDBLOCK)
		log_warn("wake runner");
}

/*
 * On a full file system Berkeley DB can fault (SIGBUS) while it grows a
 * memory-mapped region file inside queue_open or queue_submit.  Nothing of
 * the message is committed then.  The client is told 452 (in clear only:
 * a TLS record cannot be written from a signal handler, so under TLS the
 * connection just closes, still without a 250) and the process exits; the
 * master sees the abnormal exit and recovers the queue (master.c).
 */
static volatile sig_atomic_t sigbus_fd = -1;

static void
on_sigbus(int sig)
{
	static const char msg[] = "452 4.3.1 Insufficient system storage\r\n";

	(void)sig;
	if (sigbus_fd != -1)
		(void)write(sigbus_fd, msg, sizeof(msg) - 1);
	_exit(75);	/* EX_TEMPFAIL */
}

static void
sigbus_guard(struct session *s, int on)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	(void)sigemptyset(&sa.sa_mask);
	sa.sa_handler = on ? on_sigbus : SIG_DFL;
	sigbus_fd = on && netio_ssl(s->nio) == NULL ? netio_fd(s->nio) : -1;
	(void)sigaction(SIGBUS, &sa, NULL);
}

static void
data_queue_guarded(struct session *, const char *, struct buf *);

static void
data_queue(struct session *s, const char *qid, struct buf *body)
{
	sigbus_guard(s, 1);
	data_queue_guarded(s, qid, body);
	sigbus_guard(s, 0);
}

/* The commit point: 250 only after queue_submit returned 0. */
static void
data_queue_guarded(struct session *s, const char *qid, struct buf *body)
{
	struct qmsg	 m;
	struct qnew	 qn;
	char		 err[256], got[QID_LEN + 1], tls[128];

	if (proc_q == NULL && queue_open(&proc_q, s->conf->spool_dir,
	    QUEUE_SUBMIT, err, sizeof(err)) == -1) {
		log_warnx("queue: %s", err);
		proc_q = NULL;
		reply(s, "451 4.3.0 Temporary queue failure");
		return;
	}
	crash_point_queue(s->conf, proc_q);
	memset(&m, 0, sizeof(m));
	(void)strlcpy(m.qid, qid, sizeof(m.qid));
	m.arrival = (int64_t)time(NULL);
	m.flags = (s->mail.body == SMTP_BODY_8BITMIME ? QMSG_8BITMIME : 0) |
	    (s->mail.smtputf8 ? QMSG_SMTPUTF8 : 0) |
	    (s->mail.ret == SMTP_RET_HDRS ? QMSG_RET_HDRS : 0) |
	    (s->mail.ret == SMTP_RET_FULL ? QMSG_RET_FULL : 0) |
	    (s->trusted ? QMSG_TRUSTED : 0);	/* bounce_return() */
	m.sender = s->mail.path.mailbox;
	m.envid = s->mail.envid[0] ? s->mail.envid : NULL;
	m.helo = s->helo;
	m.client_addr = s->ip;
	m.client_name = "unknown";
	qn.msg = &m;
	qn.rcpts = s->rcpts;
	qn.nrcpt = s->nrcpt;
	qn.body = body->data;
	qn.bodylen = body->len;
	crash_point(s->conf, "smtpd-before-commit");
	if (queue_submit(proc_q, &qn, got) == -1) {
		/* EAGAIN: a lock not granted in time, most likely held by
		 * a dead process that the master's failchk is releasing
		 * (qwatch.h).  Nothing is committed: the client sends again. */
		if (errno == ENOSPC)
			reply(s, "452 4.3.1 Insufficient system storage");
		else if (errno == EAGAIN)
			reply(s, "451 4.3.0 Queue busy, "
			    "try again later");
		else
			reply(s, "451 4.3.0 Temporary queue failure");
		log_warn("queue submit from [%s]", s->ip);
		return;
	}
	s->nmsgs++;
	crash_point(s->conf, "smtpd-after-commit");
	reply(s, "250 2.0.0 Ok: queued as %s", got);
	if (crash_point_set(s->conf, "smtpd-after-reply") && flush_now(s) == 0)
		crash_point(s->conf, "smtpd-after-reply");
	wake_runner(s);
	log_info("%s: from=<%s> size=%zu nrcpt=%zu client=[%s] helo=%s tls=%s",
	    got, m.sender, body->len, s->nrcpt, s->ip, s->helo,
	    tls_text(s, tls, sizeof(tls)));
}

static void
cmd_data(struct session *s)
{
	struct smtp_data	 d;
	struct buf		 body;
	const char		*verdict;
	char			 qid[QID_LEN + 1];
	size_t			 ours;

	if (s->state < ST_MAIL) {
		error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->state == ST_MAIL) {
		/* RFC 2920 §3.1: pipelined RCPTs all failed. */
		error_reply(s, s->rcpt_tried ?
		    "554 5.5.1 Error: no valid recipients" :
		    "503 5.5.1 Error: need RCPT command");
		return;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	/* The id is named in the Received line before the queue sees the
	 * message; queue_submit uses it (queue.h). */
	qid_make(qid);
	buf_init(&body);
	received_header(s, &body, qid);
	ours = body.len;
	smtp_data_init(&d, &body, (size_t)s->conf->max_message_size,
	    (size_t)s->conf->max_line_length);
	if (data_read(s, &d) == -1) {
		s->closing = 1;
		goto done;
	}
	if ((verdict = smtp_data_verdict(&d)) == NULL)
		verdict = hop_verdict(s->conf, body.data + ours, body.len - ours);
	if (verdict != NULL) {
		log_info("message from [%s] refused: %s", s->ip, verdict);
		reply(s, "%s", verdict);
		goto done;
	}
	data_queue(s, qid, &body);
done:
	buf_free(&body);
	txn_reset(s);
}

/* ---- STARTTLS -------------------------------------------------------- */

/* Handshake; on success the session starts over (RFC 3207 §4.2). */
static int
tls_start(struct session *s)
{
	char	 err[256], tls[128];
	size_t	 n;

	/* Anything the client sent after STARTTLS, before the handshake,
	 * was not protected: it must not be acted on (RFC 3207 §4.2). */
	if ((n = netio_pending(s->nio)) > 0) {
		log_info("[%s] sent %zu bytes before the TLS handshake: "
		    "discarded", s->ip, n);
		netio_discard_pending(s->nio);
	}
	if (netio_tls_accept(s->nio, s->ctx->tls, s->cmd_ms, err,
	    sizeof(err)) == -1) {
		log_info("TLS handshake with [%s] failed: %s", s->ip, err);
		return -1;
	}
	log_info("TLS with [%s]: %s", s->ip, tls_text(s, tls, sizeof(tls)));
	txn_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->state = ST_GREET;
	return 0;
}

static void
cmd_starttls(struct session *s)
{
	if (s->ctx->tls == NULL) {
		error_reply(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (netio_ssl(s->nio) != NULL) {
		error_reply(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->state == ST_GREET) {
		error_reply(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	if (flush_now(s) == -1 || tls_start(s) == -1)
		s->closing = 1;
}

/* ---- the loop -------------------------------------------------------- */

static void
dispatch(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd	 cmd;
	const char	*r;

	if ((r = smtp_cmd_parse(line, len, &cmd)) != NULL) {
		error_reply(s, r);
		return;
	}
	switch (cmd.verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		cmd_helo(s, &cmd, cmd.verb == SMTP_CMD_EHLO);
		break;
	case SMTP_CMD_MAIL:
		cmd_mail(s, &cmd);
		break;
	case SMTP_CMD_RCPT:
		cmd_rcpt(s, &cmd);
		break;
	case SMTP_CMD_DATA:
		cmd_data(s);
		break;
	case SMTP_CMD_RSET:
		txn_reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_CMD_QUIT:
		reply(s, "221 2.0.0 Bye");
		s->closing = 1;
		break;
	case SMTP_CMD_VRFY:
		/* RFC 5321 §3.5.3: no address harvesting. */
		reply(s, "252 2.5.2 Cannot VRFY user, but will accept message "
		    "and attempt delivery");
		break;
	case SMTP_CMD_EXPN:
		reply(s, "502 5.5.1 Error: EXPN not available");
		break;
	case SMTP_CMD_HELP:
		reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET "
		    "NOOP QUIT VRFY HELP%s", s->ctx->tls != NULL &&
		    netio_ssl(s->nio) == NULL ? " STARTTLS" : "");
		break;
	case SMTP_CMD_STARTTLS:
		cmd_starttls(s);
		break;
	default:
		error_reply(s, "500 5.5.2 Error: command not recognized");
		break;
	}
}

/* Commands until QUIT, an error limit, a timeout or the peer leaves. */
static void
session_loop(struct session *s)
{
	const char	*line;
	size_t		 len;
	enum netio_line	 r;

	while (!s->closing) {
		if (flush_idle(s) == -1)
			return;
		r = netio_getline(s->nio, &line, &len, SMTP_CMD_LINE_ACCEPT,
		    s->cmd_ms);
		if (got_term) {
			reply(s, "421 4.3.2 Service shutting down");
			return;
		}
		if (r == NETIO_LINE_TIMEOUT) {
			log_info("timeout from [%s]", s->ip);
			reply(s, "421 4.4.2 %s Error: timeout exceeded",
			    s->conf->hostname);
			return;
		}
		if (r == NETIO_LINE_EOF || r == NETIO_LINE_ERROR) {
			log_info("lost connection from [%s]", s->ip);
			s->gone = 1;
			return;
		}
		if (r == NETIO_LINE_LONG)
			error_reply(s, "500 5.5.2 Error: line too long");
		else
			dispatch(s, line, len);
		if (!s->closing && s->nerrors >= s->conf->max_errors) {
			log_info("too many errors from [%s]", s->ip);
			reply(s, "421 4.7.0 %s Error: too many errors",
			    s->conf->hostname);
			return;
		}
	}
}

/* Data before our banner is a client that does not wait for replies:
 * a spam engine, or a pipelining bug.  Trusted clients are only checked
 * for input already there; others wait greet_delay first. */
static int
early_talker(struct session *s)
{
	int	 ms = s->trusted ? 0 : (int)(s->conf->greet_delay * 1000);
	char	 c;

	if (netio_wait_readable(s->nio, ms) != 1)
		return 0;
	/* Readable may also mean closed (a port probe): leave quietly. */
	if (netio_ssl(s->nio) == NULL && netio_pending(s->nio) == 0 &&
	    recv(netio_fd(s->nio), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		s->gone = 1;
		return 1;
	}
	log_info("[%s] talked before the greeting", s->ip);
	reply(s, "554 5.5.1 %s Error: data sent before greeting",
	    s->conf->hostname);
	return 1;
}

static void
peer_init(struct session *s, const struct sockaddr *peer, socklen_t plen)
{
	const struct sockaddr_in6	*sin6;
	struct sockaddr_in		 sin;

	memset(&s->peer, 0, sizeof(s->peer));
	if (plen > sizeof(s->peer))
		plen = sizeof(s->peer);
	memcpy(&s->peer, peer, plen);
	(void)strlcpy(s->ip, "unknown", sizeof(s->ip));
	if (peer->sa_family == AF_INET) {
		(void)inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)peer)->sin_addr, s->ip,
		    sizeof(s->ip));
	} else if (peer->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)peer;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			/* Shown and judged as the IPv4 client it is. */
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
			(void)inet_ntop(AF_INET, &sin.sin_addr, s->ip,
			    sizeof(s->ip));
		} else {
			(void)inet_ntop(AF_INET6, &sin6->sin6_addr, s->ip,
			    sizeof(s->ip));
			s->ipv6 = 1;
		}
	}
	s->trusted = relay_client_trusted(s->conf, peer);
}

/*
 * Closing with unread input makes the kernel answer with a reset, which
 * can destroy our last reply in flight (early talkers, 421 with a batch
 * pending): stop sending, then read and drop input for a bounded time.
 */
static void
linger(struct session *s)
{
	const char	*line;
	size_t		 len;
	int64_t		 end = mono_msec() + LINGER_MS;
	enum netio_line	 r;

	/* Under TLS the close_notify goes first: a peer may count a TLS
	 * stream that just stops as truncated (RFC 8446 §6.1). */
	if (netio_ssl(s->nio) != NULL)
		(void)SSL_shutdown(netio_ssl(s->nio));
	if (shutdown(netio_fd(s->nio), SHUT_WR) == -1)
		return;
	while (mono_msec() < end) {
		r = netio_getline(s->nio, &line, &len, DATA_READ_MAX,
		    (int)(end - mono_msec()));
		if (r != NETIO_LINE_OK && r != NETIO_LINE_LONG)
			break;
	}
}

static void
session_end(struct session *s)
{
	if (flush_now(s) == 0 && !s->gone)
		linger(s);
	log_info("disconnect from [%s] messages=%zu errors=%d", s->ip,
	    s->nmsgs, s->nerrors);
	txn_reset(s);
	free(s->rcpts);
	netio_free(s->nio);
	term_fd = -1;
}

int
smtp_server_stopping(void)
{
	return got_term;
}

void
smtp_server_cleanup(void)
{
	if (proc_q != NULL)
		queue_close(proc_q);
	proc_q = NULL;
}

void
smtp_session(const struct server_ctx *ctx, int fd, const struct sockaddr *peer,
    socklen_t plen, const struct listen_spec *ls)
{
	struct session		 s;
	struct sigaction	 sa;
	char			 err[256];

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.conf = ctx->conf;
	s.ls = ls;
	s.cmd_ms = (int)(s.conf->timeout_command * 1000);
	s.data_ms = (int)(s.conf->timeout_data * 1000);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	peer_init(&s, peer, plen);
	term_fd = fd;
	if ((s.nio = netio_new(fd)) == NULL) {
		log_warnx("session from [%s]: no memory", s.ip);
		(void)close(fd);
		return;
	}
	log_info("connect from [%s] to %s:%s%s", s.ip, ls->host, ls->port,
	    s.trusted ? " trusted" : "");
	/* RFC 8314 §3.3: on the submissions port TLS comes first. */
	if (ls->mode == LISTEN_SMTPS) {
		if (ctx->tls == NULL || netio_tls_accept(s.nio, ctx->tls,
		    s.cmd_ms, err, sizeof(err)) == -1) {
			log_info("TLS handshake with [%s] failed: %s", s.ip,
			    ctx->tls == NULL ? "no TLS context" : err);
			goto done;
		}
	}
	if (!early_talker(&s)) {
		reply(&s, "220 %s ESMTP postern", s.conf->hostname);
		session_loop(&s);
	}
done:
	session_end(&s);
}
