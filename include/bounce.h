/*
 * bounce: RFC 3464 delivery status notifications (multipart/report;
 * report-type=delivery-status) for failed and delayed recipients, with
 * the original headers (or the whole message when RET=FULL).  Never to
 * the null sender; a DSN that fails goes to postmaster once, never loops.
 * A large message from a client that is not trusted goes back as its
 * headers only, whatever RET says (bounce_return): a forged sender must
 * not make us return copies of big messages to a third party.
 */
#ifndef POSTERN_BOUNCE_H
#define POSTERN_BOUNCE_H

#include <stddef.h>
#include "outcome.h"
#include "queue.h"
#include "util.h"

/* BOUNCE_SUCCESS: RFC 3461 §5.2.2/§6.2, NOTIFY=SUCCESS answered by
 * postern itself, "relayed" when the next hop did not offer DSN,
 * "delivered" for a local delivery (bounce_rcpt.action). */
enum bounce_kind { BOUNCE_FAILED, BOUNCE_DELAYED, BOUNCE_SUCCESS };

struct bounce_rcpt {
	const struct qrcpt	*rcpt;
	const struct outcome	*outcome;	/* status and remote reply */
	const char		*remote_mta;	/* host name or NULL */
	long long		 last_attempt;	/* 0: now */
	long long		 retry_until;	/* BOUNCE_DELAYED; 0: unknown */
	const char		*action;	/* BOUNCE_SUCCESS: "relayed" or
						 * "delivered"; NULL: by kind */
};

enum bounce_return {
	BOUNCE_RETURN_HEADERS,		/* RET=HDRS, no RET, or a delay */
	BOUNCE_RETURN_FULL,		/* the whole message */
	BOUNCE_RETURN_HEADERS_SIZE	/* RET=FULL refused: an untrusted
					 * message above full_max bytes */
};

/* Pure: what a notice of this kind returns of orig (bodylen bytes);
 * full_max is bounce_full_max_size. */
enum bounce_return bounce_return(enum bounce_kind, const struct qmsg *orig,
	    size_t bodylen, long long full_max);

/*
 * Builds the DSN for orig into out (a struct qnew ready for queue_update
 * or queue_submit; the strings and body live in *storage until freed with
 * bounce_free).  Returns 0, or 1 when no DSN is due (null sender,
 * NOTIFY=NEVER, a DSN of a DSN goes to postmaster).
 */
struct bounce_storage;
int	bounce_build(const char *reporting_mta, const char *postmaster,
	    enum bounce_kind, const struct qmsg *orig, const char *body,
	    size_t bodylen, long long full_max, const struct bounce_rcpt *,
	    size_t n,
	    struct qnew *out, struct bounce_storage **storage);
void	bounce_free(struct bounce_storage *);

/* NULL when bounce_build would build a DSN, else why not ("null sender",
 * "NOTIFY excludes it", ...) for the log.  postmaster: where a failed
 * DSN goes (RFC 3461 §6.2: never back to the null sender). */
const char *bounce_suppressed(enum bounce_kind, const struct qmsg *orig,
	    const struct bounce_rcpt *, size_t n, const char *postmaster);

#endif
