/*
 * outcome: what happened to one delivery attempt of one recipient (or of a
 * whole connection), filled where the failure happens and carried unchanged
 * to the log line, the retry decision and the DSN.
 * status is an RFC 3463 enhanced code ("4.4.1"); text is a one-line reason,
 * usually the remote reply.
 */
#ifndef POSTERN_OUTCOME_H
#define POSTERN_OUTCOME_H

enum outcome_kind {
	OUTCOME_NONE = 0,	/* not decided yet */
	OUTCOME_SENT,
	OUTCOME_DEFER,
	OUTCOME_BOUNCE
};

struct outcome {
	enum outcome_kind kind;
	char		 status[12];	/* "5.1.1" */
	char		 text[512];	/* single line, no CR/LF */
};

void	outcome_set(struct outcome *, enum outcome_kind, const char *status,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *outcome_kind_name(enum outcome_kind);	/* "sent" ... */

#endif
