/*
 * deliver_auth: a worker's credentials for its next hop, from
 * relayhost_auth_file (smtp_auth.h), read by the worker itself as the
 * unprivileged user.  deliver_cred_warn() is in deliver.h.
 */
#ifndef POSTERN_DELIVER_AUTH_H
#define POSTERN_DELIVER_AUTH_H

#include "outcome.h"

struct djob;

/* 0 (dj->cred and have_cred set when the file has an entry for the
 * next hop; nothing to do for a job that is not relayed), or -1 with
 * why (4.3.5 DEFER) when the file cannot be used. */
int	deliver_auth_setup(struct djob *, struct outcome *why);

#endif
