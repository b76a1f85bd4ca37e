/*
 * crashpoint: a testing knob.  With "test_crash_point = NAME" in
 * postern.conf the process that reaches the point NAME kills itself with
 * SIGKILL there, so the crash tests can hit one exact step of a
 * transaction (postern.conf(5), docs/queue.md).  "stop:NAME" makes it
 * log "test_crash_point NAME: pid N stops" and wait there (60 s at most,
 * then it kills itself) for the test to kill -9 it from outside.  Empty
 * (the default): nothing happens.
 *
 * Points: smtpd-before-commit (end of data seen, before queue_submit),
 * smtpd-after-commit (committed, before the 250 is written),
 * smtpd-after-reply (the 250 written to the client),
 * deliver-after-remote-250 (the peer accepted, before queue_update);
 * inside a queue transaction, its locks held, in any process that joined
 * the queue with crash_point_queue(): txn-submit (a session, sendmail
 * -bs), txn-update (a delivery worker), txn-flush (postern flush),
 * txn-hold (postern hold, release), txn-walk (postern queue).
 */
#ifndef POSTERN_CRASHPOINT_H
#define POSTERN_CRASHPOINT_H

struct config;
struct queue;

/* 1 when the configuration names this point. */
int	crash_point_set(const struct config *, const char *point);
/* SIGKILL to ourselves when the configuration names this point. */
void	crash_point(const struct config *, const char *point);
/* Arms the txn-* points of q (queue_set_point); nothing when unset. */
void	crash_point_queue(const struct config *, struct queue *);

#endif
