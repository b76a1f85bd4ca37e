/*
 * qrecord: the byte layout of queue records and keys, as pure functions
 * with explicit bounds (no Berkeley DB, no I/O).  A record is
 *	u8 magic ('M' message, 'R' recipient), u8 version, be32 payload length,
 *	payload: fixed-width big-endian integers, then strings as be32 length
 *	and bytes (0xFFFFFFFF is NULL; NUL bytes are not allowed).
 * Decoders never read past (ptr, len), reject truncated, over-long and
 * trailing data, and return NULL or a constant reason; on failure nothing
 * is left allocated.  Keys are big-endian so that memcmp order is numeric
 * order (the schedule sorts by time, recipients and body chunks by index).
 */
#ifndef POSTERN_QRECORD_H
#define POSTERN_QRECORD_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct qmsg;
struct qrcpt;

#define QREC_VERSION	1
#define QREC_HDRLEN	6
#define QREC_MSG	'M'
#define QREC_RCPT	'R'

/* The qid and idx of the structs live in the keys, not in the records. */
void		 qrec_msg_encode(struct buf *, const struct qmsg *);
const char	*qrec_msg_decode(const void *, size_t, struct qmsg *);
void		 qrec_rcpt_encode(struct buf *, const struct qrcpt *);
const char	*qrec_rcpt_decode(const void *, size_t, struct qrcpt *);

/* recipients and bodies: qid + be32 index */
#define QKEY_QIDN_LEN	(16 + 4)
/* schedule: be64 time (sign bit flipped) + qid + be32 recipient index */
#define QKEY_SCHED_LEN	(8 + 16 + 4)

void		 qkey_qidn(unsigned char *, const char *qid, uint32_t);
const char	*qkey_qidn_decode(const void *, size_t, char *qid, uint32_t *);
void		 qkey_sched(unsigned char *, int64_t when, const char *qid,
		    uint32_t idx);
const char	*qkey_sched_decode(const void *, size_t, int64_t *when,
		    char *qid, uint32_t *idx);

#endif
