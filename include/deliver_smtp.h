/*
 * deliver_smtp: a worker's remote delivery over the route, host by host
 * and address by address (RFC 5321 §5.1), each message recorded as soon
 * as its recipients are answered.  A rate-limit reply stops the job and
 * reschedules the rest; a dlimit.h limit ends the list.  On return no
 * recipient is pending.
 */
#ifndef POSTERN_DELIVER_SMTP_H
#define POSTERN_DELIVER_SMTP_H

#include "mx.h"

struct djob;

/* dj->tp must be set up for the route (tls_policy_ctx_init()). */
void	deliver_smtp(struct djob *, const struct mx_route *);

#endif
