/*
 * libFuzzer target: queue record and key decoders (queue/qrecord.c).
 * A record read back from disk may be anything.  Invariants: a decoder
 * never reads past len and leaves nothing allocated on failure (ASan
 * leak check); what it accepts re-encodes to exactly the same bytes
 * (the layout is canonical), and a key re-encodes to the same key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qrecord.h"
#include "queue.h"
#include "util.h"

static void
msg_free(struct qmsg *m)
{
	free(m->sender);
	free(m->envid);
	free(m->helo);
	free(m->client_addr);
	free(m->client_name);
}

static void
rcpt_free(struct qrcpt *rc)
{
	free(rc->addr);
	free(rc->orcpt);
	free(rc->dest);
	free(rc->last_reply);
}

static void
same(const struct buf *b, const uint8_t *data, size_t size)
{
	if (b->len != size || memcmp(b->data, data, size) != 0)
		abort();
}

static void
try_msg(const uint8_t *data, size_t size)
{
	struct qmsg	 m;
	struct buf	 b;

	memset(&m, 0, sizeof(m));
	if (qrec_msg_decode(data, size, &m) != NULL) {
		if (m.sender || m.envid || m.helo || m.client_addr ||
		    m.client_name)
			abort();
		return;
	}
	buf_init(&b);
	qrec_msg_encode(&b, &m);
	same(&b, data, size);
	buf_free(&b);
	msg_free(&m);
}

static void
try_rcpt(const uint8_t *data, size_t size)
{
	struct qrcpt	 rc;
	struct buf	 b;

	memset(&rc, 0, sizeof(rc));
	if (qrec_rcpt_decode(data, size, &rc) != NULL) {
		if (rc.addr || rc.orcpt || rc.dest || rc.last_reply)
			abort();
		return;
	}
	buf_init(&b);
	qrec_rcpt_encode(&b, &rc);
	same(&b, data, size);
	buf_free(&b);
	rcpt_free(&rc);
}

static void
try_keys(const uint8_t *data, size_t size)
{
	unsigned char	 k[QKEY_SCHED_LEN];
	char		 qid[QID_LEN + 1];
	uint32_t	 n;
	int64_t		 when;

	if (qkey_qidn_decode(data, size, qid, &n) == NULL) {
		if (!qid_valid(qid))
			abort();
		qkey_qidn(k, qid, n);
		if (size != QKEY_QIDN_LEN || memcmp(k, data, size) != 0)
			abort();
	}
	if (qkey_sched_decode(data, size, &when, qid, &n) == NULL) {
		if (!qid_valid(qid))
			abort();
		qkey_sched(k, when, qid, n);
		if (size != QKEY_SCHED_LEN || memcmp(k, data, size) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try_msg(data, size);
	try_rcpt(data, size);
	try_keys(data, size);
	/* Records found by key length: the rest of the input as a record. */
	if (size > QKEY_QIDN_LEN)
		try_keys(data, QKEY_QIDN_LEN);
	return 0;
}
