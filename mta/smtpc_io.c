/*
 * The outbound conversation's primitives (smtpc_session.h): one reply
 * read whole within its stage's time, one command written and
 * answered, the output flushed, a refusal turned into an outcome.  Every
 * stage's time is its own timeout cut to what is left of the job's
 * deadline (dlimit.h), and a failure marks the connection dead.
 */
#include <errno.h>
#include <stdint.h>

#include "dlimit.h"
#include "netio.h"
#include "outcome.h"
#include "smtp_reply.h"
#include "smtpc_session.h"
#include "util.h"

/* A stage's time in ms: its own timeout, cut to what is left of the
 * job's deadline (dlimit.h), so no stage outlives the job. */
int
smtpc_stage_ms(const struct smtp_client *c, int64_t ms)
{
	return (int)dlimit_stage_ms(ms, mono_msec(), c->opts.deadline);
}

/* Why a stage ran out of time: its own timeout or the job's. */
static const char *
timed_out(const struct smtp_client *c)
{
	return c->opts.deadline > 0 && mono_msec() >= c->opts.deadline ?
	    "delivery_job_timeout reached" : "conversation timed out";
}

/* Reads one whole reply.  0, or -1 with fail filled (DEFER) and the
 * connection marked dead. */
int
smtpc_read_reply(struct smtp_client *c, struct smtp_reply *r, int ehlo,
    int timeout, const char *stage, struct outcome *fail)
{
	int64_t		 deadline = mono_msec() +
			    smtpc_stage_ms(c, timeout * 1000LL);
	const char	*line, *why = NULL;
	size_t		 len;
	enum netio_line	 rc;
	int		 left, done = 0;

	smtp_reply_init(r, ehlo);
	while (!done) {
		left = (int)(deadline - mono_msec());
		rc = netio_getline(c->nio, &line, &len, SMTP_REPLY_LINE_MAX,
		    left > 0 ? left : 0);
		if (rc == NETIO_LINE_TIMEOUT)
			why = timed_out(c);
		else if (rc == NETIO_LINE_EOF || rc == NETIO_LINE_ERROR)
			why = "lost connection";
		else if (rc == NETIO_LINE_LONG)
			why = "reply line too long";
		else if ((done = smtp_reply_add(r, line, len, &why)) == -1)
			done = 0;
		else
			why = NULL;
		if (why == NULL)
			continue;
		c->dead = 1;
		if (rc == NETIO_LINE_OK || rc == NETIO_LINE_LONG)
			outcome_set(fail, OUTCOME_DEFER, "4.5.0", "protocol "
			    "error with %s in the reply to %s: %s", c->relay,
			    stage, why);
		else
			outcome_set(fail, OUTCOME_DEFER, "4.4.2", "%s with %s "
			    "while receiving the reply to %s", why, c->relay,
			    stage);
		return -1;
	}
	return 0;
}

int
smtpc_flush_out(struct smtp_client *c, const char *stage,
    struct outcome *fail)
{
	if (netio_flush(c->nio,
	    smtpc_stage_ms(c, c->opts.reply_timeout * 1000LL)) == 0)
		return 0;
	c->dead = 1;
	outcome_set(fail, OUTCOME_DEFER, "4.4.2", "%s with %s while sending %s",
	    errno == ETIMEDOUT ? timed_out(c) : "lost connection",
	    c->relay, stage);
	return -1;
}

/* Sends one command line and reads its reply. */
int
smtpc_command(struct smtp_client *c, struct smtp_reply *r, int ehlo,
    const char *stage, struct outcome *fail, const char *line)
{
	(void)netio_printf(c->nio, "%s\r\n", line);
	if (smtpc_flush_out(c, stage, fail) == -1)
		return -1;
	return smtpc_read_reply(c, r, ehlo, c->opts.reply_timeout, stage, fail);
}

/* A refusal of the session (greeting, EHLO, HELO, STARTTLS): DEFER so
 * the caller tries the next address, the remote status kept. */
int
smtpc_refused(struct smtp_client *c, const struct smtp_reply *r,
    const char *stage, struct outcome *out)
{
	char	 st[12];

	outcome_set(out, OUTCOME_DEFER, smtp_reply_status(r, st, sizeof(st)),
	    "host %s refused %s: %s", c->relay, stage, r->text);
	return -1;
}
