/*
 * smtpd_reply: the session's replies, buffered and flushed by RFC 2920
 * §3.2, and the reset of its transaction.  See include/smtpd_session.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "netio.h"
#include "queue.h"
#include "smtpd_session.h"

/* Replies held back for a pipelining client, at most. */
#define OUT_MAX			(64 * 1024)

void
smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	char	 line[SMTPD_REPLY_MAX];
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
void
smtpd_error_reply(struct smtpd_session *s, const char *text)
{
	smtpd_reply(s, "%s", text);
	s->nerrors++;
}

int
smtpd_flush_now(struct smtpd_session *s)
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
int
smtpd_flush_idle(struct smtpd_session *s)
{
	if (netio_pending(s->nio) > 0 && netio_outlen(s->nio) < OUT_MAX)
		return 0;
	return smtpd_flush_now(s);
}

void
smtpd_txn_reset(struct smtpd_session *s)
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
	if (s->state > SMTPD_HELO)
		s->state = SMTPD_HELO;
}
