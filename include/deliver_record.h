/*
 * deliver_record: applies settle.h's decision for one message of a
 * worker -- one queue_update with every recipient's outcome, retry time,
 * the DSN (bounce.h) and the message flags, all or nothing -- and logs
 * one line per recipient: "QID: to=<..> relay=.. tls=.. auth=..
 * delay=.. attempt=N status=sent|deferred|bounced (reply)".
 */
#ifndef POSTERN_DELIVER_RECORD_H
#define POSTERN_DELIVER_RECORD_H

struct djob;
struct dmsg;

/* Once per message, when none of its recipients is pending; a failed
 * update sets dj->failed (the recipients stay due). */
void	deliver_record(struct djob *, struct dmsg *);

#endif
