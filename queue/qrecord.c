/*
 * Encoding and decoding of queue records and keys (layout: qrecord.h).
 * Everything here is pure: a (ptr, len) in, a struct or a reason out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qrecord.h"
#include "queue.h"
#include "util.h"

#define STR_NULL	0xFFFFFFFFU

/* A bounded reader over one record. */
struct rd {
	const unsigned char	*p;
	size_t			 len;
	const char		*err;
};

static void
put32(struct buf *b, uint32_t v)
{
	unsigned char	 c[4];

	c[0] = v >> 24;
	c[1] = v >> 16;
	c[2] = v >> 8;
	c[3] = v;
	buf_append(b, c, sizeof(c));
}

static void
put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b, (uint32_t)v);
}

static void
putstr(struct buf *b, const char *s)
{
	size_t	 n;

	if (s == NULL) {
		put32(b, STR_NULL);
		return;
	}
	n = strlen(s);
	if (n >= STR_NULL)
		n = STR_NULL - 1;
	put32(b, (uint32_t)n);
	buf_append(b, s, n);
}

static uint32_t
get32(struct rd *r)
{
	uint32_t	 v;

	if (r->err != NULL)
		return 0;
	if (r->len < 4) {
		r->err = "truncated record";
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->len -= 4;
	return v;
}

static uint64_t
get64(struct rd *r)
{
	uint64_t	 hi = get32(r);

	return hi << 32 | get32(r);
}

/* Returns 0 and a fresh string (or NULL) in *out, or -1 with r->err set. */
static int
getstr(struct rd *r, char **out)
{
	uint32_t	 n = get32(r);

	*out = NULL;
	if (r->err != NULL)
		return -1;
	if (n == STR_NULL)
		return 0;
	if (n > r->len) {
		r->err = "truncated string";
		return -1;
	}
	if (memchr(r->p, '\0', n) != NULL) {
		r->err = "NUL in string";
		return -1;
	}
	*out = xstrndup((const char *)r->p, n);
	r->p += n;
	r->len -= n;
	return 0;
}

static void
hdr_encode(struct buf *b, char magic)
{
	unsigned char	 h[2];

	buf_reset(b);
	h[0] = (unsigned char)magic;
	h[1] = QREC_VERSION;
	buf_append(b, h, sizeof(h));
	put32(b, 0);	/* payload length, patched by hdr_finish() */
}

static void
hdr_finish(struct buf *b)
{
	size_t	 n = b->len - QREC_HDRLEN;

	b->data[2] = (char)(n >> 24);
	b->data[3] = (char)(n >> 16);
	b->data[4] = (char)(n >> 8);
	b->data[5] = (char)n;
}

/* Checks the header; leaves r over exactly the payload. */
static const char *
hdr_decode(struct rd *r, const void *p, size_t len, char magic)
{
	const unsigned char	*c = p;
	uint32_t		 n;

	r->p = c;
	r->len = len;
	r->err = NULL;
	if (len < QREC_HDRLEN)
		return "truncated header";
	if (c[0] != (unsigned char)magic)
		return "bad magic";
	if (c[1] != QREC_VERSION)
		return "unknown record version";
	r->p += 2;
	r->len -= 2;
	n = get32(r);
	if (n > r->len)
		return "truncated record";
	if (n < r->len)
		return "trailing bytes after record";
	return NULL;
}

void
qrec_msg_encode(struct buf *b, const struct qmsg *m)
{
	hdr_encode(b, QREC_MSG);
	put64(b, (uint64_t)m->arrival);
	put64(b, m->size);
	put32(b, m->flags);
	put32(b, m->nrcpt);
	putstr(b, m->sender != NULL ? m->sender : "");
	putstr(b, m->envid);
	putstr(b, m->helo);
	putstr(b, m->client_addr);
	putstr(b, m->client_name);
	hdr_finish(b);
}

/* queue.h: the strings a decoder allocated. */
void
queue_msg_free(struct qmsg *m)
{
	free(m->sender);
	free(m->envid);
	free(m->helo);
	free(m->client_addr);
	free(m->client_name);
	m->sender = m->envid = m->helo = m->client_addr = m->client_name = NULL;
}

const char *
qrec_msg_decode(const void *p, size_t len, struct qmsg *m)
{
	struct rd	 r;
	const char	*err;

	m->sender = m->envid = m->helo = m->client_addr = m->client_name = NULL;
	if ((err = hdr_decode(&r, p, len, QREC_MSG)) != NULL)
		return err;
	m->arrival = (int64_t)get64(&r);
	m->size = get64(&r);
	m->flags = get32(&r);
	m->nrcpt = get32(&r);
	if (getstr(&r, &m->sender) == -1 || getstr(&r, &m->envid) == -1 ||
	    getstr(&r, &m->helo) == -1 || getstr(&r, &m->client_addr) == -1 ||
	    getstr(&r, &m->client_name) == -1)
		goto fail;
	if (m->sender == NULL) {
		r.err = "message without sender";
		goto fail;
	}
	if (m->nrcpt == 0) {
		r.err = "message without recipients";
		goto fail;
	}
	if (r.len != 0) {
		r.err = "trailing bytes in record";
		goto fail;
	}
	return NULL;
 fail:
	queue_msg_free(m);
	return r.err;
}

void
qrec_rcpt_encode(struct buf *b, const struct qrcpt *rc)
{
	hdr_encode(b, QREC_RCPT);
	put32(b, (uint32_t)rc->state);
	put32(b, rc->attempts);
	put32(b, rc->notify);
	put64(b, (uint64_t)rc->next_attempt);
	putstr(b, rc->addr != NULL ? rc->addr : "");
	putstr(b, rc->orcpt);
	putstr(b, rc->dest != NULL ? rc->dest : "");
	putstr(b, rc->last_reply);
	hdr_finish(b);
}

void
queue_rcpt_free(struct qrcpt *rc)
{
	free(rc->addr);
	free(rc->orcpt);
	free(rc->dest);
	free(rc->last_reply);
	rc->addr = rc->orcpt = rc->dest = rc->last_reply = NULL;
}

const char *
qrec_rcpt_decode(const void *p, size_t len, struct qrcpt *rc)
{
	struct rd	 r;
	const char	*err;
	uint32_t	 state;

	rc->addr = rc->orcpt = rc->dest = rc->last_reply = NULL;
	if ((err = hdr_decode(&r, p, len, QREC_RCPT)) != NULL)
		return err;
	state = get32(&r);
	rc->attempts = get32(&r);
	rc->notify = get32(&r);
	rc->next_attempt = (int64_t)get64(&r);
	if (getstr(&r, &rc->addr) == -1 || getstr(&r, &rc->orcpt) == -1 ||
	    getstr(&r, &rc->dest) == -1 || getstr(&r, &rc->last_reply) == -1)
		goto fail;
	if (state > QRCPT_HELD) {
		r.err = "bad recipient state";
		goto fail;
	}
	rc->state = (enum qrcpt_state)state;
	if (rc->addr == NULL || rc->dest == NULL) {
		r.err = "recipient without address or destination";
		goto fail;
	}
	if (r.len != 0) {
		r.err = "trailing bytes in record";
		goto fail;
	}
	return NULL;
 fail:
	queue_rcpt_free(rc);
	return r.err;
}

static void
be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Copies a qid out of a key, checking it. */
static const char *
qid_from_key(const unsigned char *p, char *qid)
{
	memcpy(qid, p, QID_LEN);
	qid[QID_LEN] = '\0';
	return qid_valid(qid) ? NULL : "bad queue id in key";
}

void
qkey_qidn(unsigned char *k, const char *qid, uint32_t n)
{
	memcpy(k, qid, QID_LEN);
	be32(k + QID_LEN, n);
}

const char *
qkey_qidn_decode(const void *p, size_t len, char *qid, uint32_t *n)
{
	if (len != QKEY_QIDN_LEN)
		return "bad key length";
	*n = rd32((const unsigned char *)p + QID_LEN);
	return qid_from_key(p, qid);
}

/* Flipping the sign bit makes memcmp order match signed order. */
void
qkey_sched(unsigned char *k, int64_t when, const char *qid, uint32_t idx)
{
	uint64_t	 t = (uint64_t)when ^ 0x8000000000000000ULL;

	be32(k, (uint32_t)(t >> 32));
	be32(k + 4, (uint32_t)t);
	memcpy(k + 8, qid, QID_LEN);
	be32(k + 8 + QID_LEN, idx);
}

const char *
qkey_sched_decode(const void *p, size_t len, int64_t *when, char *qid,
    uint32_t *idx)
{
	const unsigned char	*k = p;
	uint64_t		 t;

	if (len != QKEY_SCHED_LEN)
		return "bad schedule key length";
	t = (uint64_t)rd32(k) << 32 | rd32(k + 4);
	*when = (int64_t)(t ^ 0x8000000000000000ULL);
	*idx = rd32(k + 8 + QID_LEN);
	return qid_from_key(k + 8, qid);
}
