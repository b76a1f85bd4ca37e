/*
 * crashpoint: a testing knob.  With "test_crash_point = NAME" in
 * postern.conf the process that reaches the point NAME kills itself with
 * SIGKILL there, so the crash tests can hit one exact step of a
 * transaction (postern.conf(5), docs/queue.md).  Empty (the default):
 * nothing happens.
 *
 * Points: smtpd-before-commit (end of data seen, before queue_submit),
 * smtpd-after-commit (committed, before the 250 is written),
 * smtpd-after-reply (the 250 written to the client),
 * deliver-after-remote-250 (the peer accepted, before queue_update).
 */
#ifndef POSTERN_CRASHPOINT_H
#define POSTERN_CRASHPOINT_H

struct config;

/* 1 when the configuration names this point. */
int	crash_point_set(const struct config *, const char *point);
/* SIGKILL to ourselves when the configuration names this point. */
void	crash_point(const struct config *, const char *point);

#endif
