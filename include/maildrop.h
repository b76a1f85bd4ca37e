/*
 * maildrop: durable local submission without a daemon and without a
 * world-writable queue (Postfix's postdrop model).  The directory is
 * owned by the daemon's user, group maildrop_group, mode 1730: members of
 * the group (the setgid sendmail path) may create files but not list or
 * read them; the sticky bit keeps users from removing each other's.
 * sendmail writes one file per message under a temporary name, fsyncs
 * it and renames it to its queue id: the rename is the commit point.
 * The pickup process (a child of the master, as the daemon's user)
 * reads each file with strict bounds (the writer is untrusted), queues
 * it under the same id in one transaction, then unlinks it; the id makes
 * a second pickup after a crash between commit and unlink a no-op.
 *
 * File layout: "POSTERN-MAILDROP 1\n", "S <sender>\n", one "R <rcpt>\n"
 * per recipient, an empty line, then the message (LF or CRLF lines).
 */
#ifndef POSTERN_MAILDROP_H
#define POSTERN_MAILDROP_H

#include <stddef.h>
#include "queue.h"

struct buf;
struct config;

#define MAILDROP_MAGIC		"POSTERN-MAILDROP 1\n"
#define MAILDROP_MAX_ADDR	256	/* RFC 5321 §4.5.3.1.3 path */
#define MAILDROP_TMP_MAX_AGE	3600	/* s: stale temporary files go */

struct maildrop_env {
	char		*sender;	/* "" for <> */
	char		**rcpts;
	size_t		 nrcpts;
};

/* The directory: maildrop_dir, or spool_dir + "-maildrop". */
int	maildrop_path(const struct config *, char *, size_t);
/* As root, before the drop: creates it with its owner, group, mode. */
int	maildrop_setup(const struct config *, char *err, size_t errlen);

/* sendmail: writes one message; 0 with its id in qid once the file is
 * renamed and synced, or -1 with a reason in err (errno kept). */
int	maildrop_write(const struct config *, const char *sender,
	    char *const *rcpts, size_t nrcpts, const char *msg, size_t len,
	    char qid[QID_LEN + 1], char *err, size_t errlen);

/* Pure: validates a file's bytes.  NULL with env filled (free with
 * maildrop_env_free) and *body at the message's offset, or a reason. */
const char *maildrop_parse(const char *data, size_t len, size_t max_rcpts,
	    struct maildrop_env *, size_t *body);
void	maildrop_env_free(struct maildrop_env *);

/* Pure: the queue body: a Received field, then msg with LF made CRLF.
 * NULL, or a reason (NUL byte, too large). */
const char *maildrop_body(const char *msg, size_t len, const char *hostname,
	    unsigned long uid, const char *qid, long long now, size_t max,
	    struct buf *out, int *eightbit);

/* Pure: 1 if name is a writer's temporary file (QID.tmp), which the
 * pickup never reads. */
int	maildrop_tmp_name(const char *name);
/* Pure: 1 if a temporary file with this mtime is left from a writer
 * that died: older than MAILDROP_TMP_MAX_AGE, or as far ahead. */
int	maildrop_tmp_stale(long long mtime, long long now);

/* One pass over the directory: queues what is there.  Temporary files
 * are skipped (stale ones removed) and, like any name that is not a
 * queue id, do not count towards the files looked at in one pass, so
 * no number of them holds up a message.  Returns the number of
 * messages queued, or -1 when the directory cannot be read. */
int	maildrop_pickup(const struct config *, struct queue *);

/* The pickup process: passes every second; writes a byte to wake_fd
 * after queueing mail.  Leaves when its parent is gone. */
_Noreturn void	pickup_main(const struct config *, int wake_fd);

#endif
