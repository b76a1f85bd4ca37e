/*
 * privsep: the master binds listeners as root, then drops to the
 * unprivileged user for good (setgroups, setresgid, setresuid, verified)
 * before any network input is read.  The spool belongs to that user.
 */
#ifndef POSTERN_PRIVSEP_H
#define POSTERN_PRIVSEP_H

#include <stddef.h>

/* mkdir -p dir (mode 0700) and give it to user (empty: the caller).
 * 0, or -1 with a reason. */
int	privsep_spool(const char *dir, const char *user, char *err, size_t);
/* Drops to user; empty user keeps the current identity (development).
 * 0, or -1 with a reason. */
int	privsep_drop(const char *user, char *err, size_t);
/* A child of the local server becomes pw for good: its groups
 * (initgroups), setresgid, setresuid, verified.  0, or -1. */
struct passwd;
int	privsep_become(const struct passwd *pw);

#endif
