/*
 * config_reload: SIGHUP re-reads postern.conf in a running daemon.  What
 * can change without a restart (tables, limits, timeouts, names, TLS
 * settings and certificates) takes effect; what the master bound or
 * became before it gave up root, and what the root local delivery server
 * read at start (listen, user, spool_dir, pidfile, log_file, the maildrop,
 * the local delivery keys, max_deliveries), keeps its running value and
 * is reported as needing a restart.
 */
#ifndef POSTERN_CONFIG_RELOAD_H
#define POSTERN_CONFIG_RELOAD_H

#include <stddef.h>

struct config;

/* 1 when a change of key name takes a restart. */
int	config_reload_needs_restart(const char *name);

/* Compares run with fresh key by key.  A key that needs a restart gets
 * run's value back in fresh (the two swap it, so that run's pointers stay
 * valid once fresh replaces run).  Each key that differs is named in
 * changed or restart ("a, b"), truncated with "..." when long.  Returns
 * how many keys differ. */
size_t	config_reload_merge(struct config *run, struct config *fresh,
	    char *changed, size_t clen, char *restart, size_t rlen);

/* Replaces *run by *fresh after config_reload_merge(): fresh's memory now
 * belongs to run and the old values are freed. */
void	config_reload_swap(struct config *run, struct config *fresh);

#endif
