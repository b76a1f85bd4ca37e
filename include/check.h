/*
 * check: what postern -n and the daemon's start can verify without
 * running: the daemon user and spool, the certificate and its key, every
 * table with file:line, trusted_networks, relayhost.  A broken input is
 * one clear error before anything starts, not a runner that restarts
 * every second or a client list silently shorter than written.
 */
#ifndef POSTERN_CHECK_H
#define POSTERN_CHECK_H

#include <stddef.h>

struct config;

/* 0, or -1 with the first problem (naming its key or file:line) in err.
 * Warnings (a missing maildrop group) go to warn, one per call, when
 * warn is not NULL. */
int	check_config(const struct config *, char *err, size_t errlen,
	    void (*warn)(const char *));
/* The same without what a reload does not change or cannot read as the
 * daemon's user: the spool and the certificate (reload.h). */
int	check_config_reload(const struct config *, char *err, size_t errlen);
/* dtable_check()s of a transport_table and a destination_limits value,
 * shared with the runner's loading of the same tables. */
const char *check_transport(const char *value, void *arg);
const char *check_limits(const char *value, void *arg);
/* The first entry of trusted_networks that is not an address or an
 * address/prefix, or NULL. */
const char *check_trusted_networks(const struct config *, const char **bad);

#endif
