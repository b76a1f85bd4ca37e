/*
 * smtpd_data: the DATA phase of an inbound session: the Received line,
 * the body read under smtp_data.h's rules, the verdict, and the queue
 * commit, after which alone the client hears 250.  See
 * include/smtpd_session.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "crashpoint.h"
#include "hopcount.h"
#include "log.h"
#include "netio.h"
#include "queue.h"
#include "smtp_data.h"
#include "smtp_parse.h"
#include "smtp_server.h"
#include "smtpd_session.h"
#include "util.h"

/* One queue handle for the life of the process: a session process serves
 * several connections in turn (master.c) and joins the environment once. */
static struct queue		*proc_q;

/* RFC 3848 / RFC 6531 §3.7.3 "with" protocol names. */
static const char *
proto_name(struct smtpd_session *s)
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
received_header(struct smtpd_session *s, struct buf *b, const char *qid)
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
data_read(struct smtpd_session *s, struct smtp_data *d)
{
	const char	*line;
	size_t		 len, max;
	enum netio_line	 r;

	max = (size_t)s->conf->max_line_length + 2;
	if (max < SMTPD_DATA_READ_MAX)
		max = SMTPD_DATA_READ_MAX;
	while (!smtp_data_done(d)) {
		if (smtpd_flush_idle(s) == -1)
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
			smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
			    s->conf->hostname);
			return -1;
		default:
			if (smtp_server_stopping()) {
				smtpd_reply(s, "421 4.3.2 Service shutting "
				    "down");
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
wake_runner(struct smtpd_session *s)
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
sigbus_guard(struct smtpd_session *s, int on)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	(void)sigemptyset(&sa.sa_mask);
	sa.sa_handler = on ? on_sigbus : SIG_DFL;
	sigbus_fd = on && netio_ssl(s->nio) == NULL ? netio_fd(s->nio) : -1;
	(void)sigaction(SIGBUS, &sa, NULL);
}

static void
data_queue_guarded(struct smtpd_session *, const char *, struct buf *);

static void
data_queue(struct smtpd_session *s, const char *qid, struct buf *body)
{
	sigbus_guard(s, 1);
	data_queue_guarded(s, qid, body);
	sigbus_guard(s, 0);
}

/* The commit point: 250 only after queue_submit returned 0. */
static void
data_queue_guarded(struct smtpd_session *s, const char *qid, struct buf *body)
{
	struct qmsg	 m;
	struct qnew	 qn;
	char		 err[256], got[QID_LEN + 1], tls[128];

	if (proc_q == NULL && queue_open(&proc_q, s->conf->spool_dir,
	    QUEUE_SUBMIT, err, sizeof(err)) == -1) {
		log_warnx("queue: %s", err);
		proc_q = NULL;
		smtpd_reply(s, "451 4.3.0 Temporary queue failure");
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
			smtpd_reply(s, "452 4.3.1 Insufficient system storage");
		else if (errno == EAGAIN)
			smtpd_reply(s, "451 4.3.0 Queue busy, try again later");
		else
			smtpd_reply(s, "451 4.3.0 Temporary queue failure");
		log_warn("queue submit from [%s]", s->ip);
		return;
	}
	s->nmsgs++;
	crash_point(s->conf, "smtpd-after-commit");
	smtpd_reply(s, "250 2.0.0 Ok: queued as %s", got);
	if (crash_point_set(s->conf, "smtpd-after-reply") &&
	    smtpd_flush_now(s) == 0)
		crash_point(s->conf, "smtpd-after-reply");
	wake_runner(s);
	log_info("%s: from=<%s> size=%zu nrcpt=%zu client=[%s] helo=%s tls=%s",
	    got, m.sender, body->len, s->nrcpt, s->ip, s->helo,
	    smtpd_tls_text(s, tls, sizeof(tls)));
}

void
smtpd_cmd_data(struct smtpd_session *s)
{
	struct smtp_data	 d;
	struct buf		 body;
	const char		*verdict;
	char			 qid[QID_LEN + 1];
	size_t			 ours;

	if (s->state < SMTPD_MAIL) {
		smtpd_error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->state == SMTPD_MAIL) {
		/* RFC 2920 §3.1: pipelined RCPTs all failed. */
		smtpd_error_reply(s, s->rcpt_tried ?
		    "554 5.5.1 Error: no valid recipients" :
		    "503 5.5.1 Error: need RCPT command");
		return;
	}
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
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
		smtpd_reply(s, "%s", verdict);
		goto done;
	}
	data_queue(s, qid, &body);
done:
	buf_free(&body);
	smtpd_txn_reset(s);
}

void
smtp_server_cleanup(void)
{
	if (proc_q != NULL)
		queue_close(proc_q);
	proc_q = NULL;
}
