/* qrecord, qid and retry_delay: pure encoders, decoders and arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qrecord.h"
#include "queue.h"
#include "util.h"

static struct qmsg
sample_msg(void)
{
	struct qmsg	 m;

	memset(&m, 0, sizeof(m));
	m.arrival = 1700000000;
	m.size = 123456789012ULL;
	m.flags = QMSG_8BITMIME | QMSG_RET_HDRS;
	m.nrcpt = 3;
	m.sender = "alice@example.org";
	m.envid = NULL;
	m.helo = "client.example.org";
	m.client_addr = "192.0.2.1";
	m.client_name = "";
	return m;
}

static struct qrcpt
sample_rcpt(void)
{
	struct qrcpt	 r;

	memset(&r, 0, sizeof(r));
	r.state = QRCPT_DEFERRED;
	r.attempts = 7;
	r.notify = QNOTIFY_FAILURE | QNOTIFY_DELAY;
	r.next_attempt = -5;	/* signed values survive */
	r.addr = "bob@example.net";
	r.orcpt = "rfc822;bob@example.net";
	r.dest = "example.net";
	r.last_reply = NULL;
	return r;
}

static void
test_msg_roundtrip(void **state)
{
	struct qmsg	 in = sample_msg(), out;
	struct buf	 b;

	(void)state;
	buf_init(&b);
	qrec_msg_encode(&b, &in);
	memset(&out, 0x5A, sizeof(out));
	assert_null(qrec_msg_decode(b.data, b.len, &out));
	assert_int_equal(out.arrival, in.arrival);
	assert_true(out.size == in.size);
	assert_int_equal(out.flags, in.flags);
	assert_int_equal(out.nrcpt, in.nrcpt);
	assert_string_equal(out.sender, in.sender);
	assert_null(out.envid);
	assert_string_equal(out.helo, in.helo);
	assert_string_equal(out.client_addr, in.client_addr);
	assert_string_equal(out.client_name, "");
	queue_msg_free(&out);
	buf_free(&b);
}

static void
test_rcpt_roundtrip(void **state)
{
	struct qrcpt	 in = sample_rcpt(), out;
	struct buf	 b;

	(void)state;
	buf_init(&b);
	qrec_rcpt_encode(&b, &in);
	assert_null(qrec_rcpt_decode(b.data, b.len, &out));
	assert_int_equal(out.state, in.state);
	assert_int_equal(out.attempts, in.attempts);
	assert_int_equal(out.notify, in.notify);
	assert_int_equal(out.next_attempt, -5);
	assert_string_equal(out.addr, in.addr);
	assert_string_equal(out.orcpt, in.orcpt);
	assert_string_equal(out.dest, in.dest);
	assert_null(out.last_reply);
	queue_rcpt_free(&out);
	buf_free(&b);
}

/* Every strict prefix of a valid record is rejected without reading past
 * its end (ASan checks the reads: each prefix is its own allocation). */
static void
test_truncated(void **state)
{
	struct qmsg	 m = sample_msg(), mo;
	struct qrcpt	 r = sample_rcpt(), ro;
	struct buf	 bm, br;
	char		*p;
	size_t		 n;

	(void)state;
	buf_init(&bm);
	buf_init(&br);
	qrec_msg_encode(&bm, &m);
	qrec_rcpt_encode(&br, &r);
	for (n = 0; n < bm.len; n++) {
		p = xmalloc(n);
		memcpy(p, bm.data, n);
		assert_non_null(qrec_msg_decode(p, n, &mo));
		assert_null(mo.sender);
		free(p);
	}
	for (n = 0; n < br.len; n++) {
		p = xmalloc(n);
		memcpy(p, br.data, n);
		assert_non_null(qrec_rcpt_decode(p, n, &ro));
		assert_null(ro.addr);
		free(p);
	}
	buf_free(&bm);
	buf_free(&br);
}

/* Corruptions at fixed offsets of an encoded recipient record. */
static const struct {
	size_t		 off;	/* byte to overwrite */
	unsigned char	 val;
	const char	*want;	/* reason, NULL: still valid */
} corrupt_cases[] = {
	{ 0,	'M',	"bad magic" },
	{ 1,	2,	"unknown record version" },
	{ 1,	0,	"unknown record version" },
	{ 2,	0x7F,	"truncated record" },	/* payload length huge */
	{ 5,	0x00,	"trailing bytes after record" },
	{ 9,	9,	"bad recipient state" },	/* state = 9 */
	{ 9,	2,	NULL },				/* state HELD */
	{ 26,	0xFF,	"truncated string" },		/* addr length */
	{ 31,	'\0',	"NUL in string" },		/* in addr */
	{ 29,	14,	"truncated string" },		/* addr 1 shorter */
};

static void
test_corrupt(void **state)
{
	struct qrcpt	 r = sample_rcpt(), ro;
	struct buf	 b;
	const char	*why;
	size_t		 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < sizeof(corrupt_cases) / sizeof(corrupt_cases[0]);
	    i++) {
		qrec_rcpt_encode(&b, &r);
		assert_true(corrupt_cases[i].off < b.len);
		b.data[corrupt_cases[i].off] = (char)corrupt_cases[i].val;
		why = qrec_rcpt_decode(b.data, b.len, &ro);
		if (corrupt_cases[i].want == NULL) {
			assert_null(why);
			queue_rcpt_free(&ro);
		} else {
			assert_non_null(why);
			assert_string_equal(why, corrupt_cases[i].want);
			assert_null(ro.addr);
		}
	}
	buf_free(&b);
}

static void
test_corrupt_msg(void **state)
{
	struct qmsg	 m = sample_msg(), mo;
	struct buf	 b;
	char		 extra = 'x';

	(void)state;
	buf_init(&b);
	/* A message record is not a recipient record. */
	qrec_msg_encode(&b, &m);
	assert_string_equal(qrec_rcpt_decode(b.data, b.len, &(struct qrcpt){0}),
	    "bad magic");
	/* Trailing byte after the declared payload. */
	buf_append(&b, &extra, 1);
	assert_string_equal(qrec_msg_decode(b.data, b.len, &mo),
	    "trailing bytes after record");
	/* No recipients left is not a stored state. */
	m.nrcpt = 0;
	qrec_msg_encode(&b, &m);
	assert_string_equal(qrec_msg_decode(b.data, b.len, &mo),
	    "message without recipients");
	assert_null(mo.sender);
	/* NULL sender in the record. */
	m.nrcpt = 1;
	m.sender = "";
	qrec_msg_encode(&b, &m);
	memset(b.data + QREC_HDRLEN + 24, 0xFF, 4);
	assert_string_equal(qrec_msg_decode(b.data, b.len, &mo),
	    "message without sender");
	assert_string_equal(qrec_msg_decode(NULL, 0, &mo), "truncated header");
	buf_free(&b);
}

static const struct {
	int64_t		 when;
	const char	*qid;
	uint32_t	 idx;
} sched_cases[] = {
	{ INT64_MIN,	"0000000000000000", 0 },
	{ -1,		"0000000000000000", 0 },
	{ 0,		"0000000000000000", 0 },
	{ 0,		"0000000000000001", 0 },
	{ 0,		"0000000000000001", 1 },
	{ 1,		"0000000000000000", 0 },
	{ 1700000000,	"ABCDEF0123456789", 0 },
	{ 1700000000,	"ABCDEF0123456789", 256 },
	{ 1700000001,	"0000000000000000", 0 },
	{ INT64_MAX,	"FFFFFFFFFFFFFFFF", UINT32_MAX },
};
#define NSCHED	(sizeof(sched_cases) / sizeof(sched_cases[0]))

/* Keys compare with memcmp in the order of the table above. */
static void
test_sched_keys(void **state)
{
	unsigned char	 k[NSCHED][QKEY_SCHED_LEN];
	char		 qid[QID_LEN + 1];
	int64_t		 when;
	uint32_t	 idx;
	size_t		 i;

	(void)state;
	for (i = 0; i < NSCHED; i++) {
		qkey_sched(k[i], sched_cases[i].when, sched_cases[i].qid,
		    sched_cases[i].idx);
		assert_null(qkey_sched_decode(k[i], sizeof(k[i]), &when, qid,
		    &idx));
		assert_true(when == sched_cases[i].when);
		assert_string_equal(qid, sched_cases[i].qid);
		assert_int_equal(idx, sched_cases[i].idx);
		if (i > 0)
			assert_true(memcmp(k[i - 1], k[i], QKEY_SCHED_LEN) < 0);
	}
	assert_non_null(qkey_sched_decode(k[0], QKEY_SCHED_LEN - 1, &when,
	    qid, &idx));
	k[0][8] = 'g';
	assert_non_null(qkey_sched_decode(k[0], QKEY_SCHED_LEN, &when, qid,
	    &idx));
}

static void
test_qidn_keys(void **state)
{
	unsigned char	 a[QKEY_QIDN_LEN], b[QKEY_QIDN_LEN];
	char		 qid[QID_LEN + 1];
	uint32_t	 n;

	(void)state;
	qkey_qidn(a, "0123456789ABCDEF", 255);
	qkey_qidn(b, "0123456789ABCDEF", 256);
	assert_true(memcmp(a, b, sizeof(a)) < 0);
	assert_null(qkey_qidn_decode(b, sizeof(b), qid, &n));
	assert_string_equal(qid, "0123456789ABCDEF");
	assert_int_equal(n, 256);
	assert_string_equal(qkey_qidn_decode(b, sizeof(b) + 1, qid, &n),
	    "bad key length");
	b[0] = 'a';	/* lower case is not a qid */
	assert_string_equal(qkey_qidn_decode(b, sizeof(b), qid, &n),
	    "bad queue id in key");
}

static const struct {
	const char	*s;
	int		 want;
} qid_cases[] = {
	{ "0123456789ABCDEF",	1 },
	{ "FFFFFFFFFFFFFFFF",	1 },
	{ "0123456789abcdef",	0 },
	{ "0123456789ABCDE",	0 },
	{ "0123456789ABCDEF0",	0 },
	{ "0123456789ABCDEG",	0 },
	{ "",			0 },
	{ NULL,			0 },
};

static void
test_qid(void **state)
{
	char	 prev[QID_LEN + 1], cur[QID_LEN + 1];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(qid_cases) / sizeof(qid_cases[0]); i++)
		assert_int_equal(qid_valid(qid_cases[i].s), qid_cases[i].want);
	qid_make(prev);
	assert_true(qid_valid(prev));
	for (i = 0; i < 10000; i++) {
		qid_make(cur);
		assert_true(qid_valid(cur));
		/* strictly increasing within a process: time-ordered */
		assert_true(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(prev));
	}
}

static const struct {
	uint32_t	 attempts;
	int64_t		 min, max;
	unsigned	 jitter;
	uint32_t	 r;
	int64_t		 want;
} retry_cases[] = {
	/* no jitter: doubling from min, capped at max */
	{ 0,	300,	14400,	0,	0,		300 },
	{ 1,	300,	14400,	0,	0,		300 },
	{ 2,	300,	14400,	0,	0,		600 },
	{ 3,	300,	14400,	0,	0,		1200 },
	{ 5,	300,	14400,	0,	0,		4800 },
	{ 6,	300,	14400,	0,	0,		9600 },
	{ 7,	300,	14400,	0,	0,		14400 },
	{ 100,	300,	14400,	0,	0,		14400 },
	{ UINT32_MAX, 300, 14400, 0,	0,		14400 },
	/* jitter: r % (2j+1) - j, j = d * pct / 100 */
	{ 1,	300,	14400,	10,	0,		270 },	/* -j */
	{ 1,	300,	14400,	10,	30,		300 },	/* 0 */
	{ 1,	300,	14400,	10,	60,		330 },	/* +j */
	{ 1,	300,	14400,	10,	61,		270 },	/* wraps */
	{ 7,	300,	14400,	25,	UINT32_MAX,	14400 - 3600 +
	    (int64_t)(UINT32_MAX % 7201) },
	/* odd arguments */
	{ 1,	0,	0,	0,	0,		1 },
	{ 3,	-5,	-10,	50,	0,		1 },
	{ 4,	10,	5,	0,	0,		10 },	/* max < min */
	{ 2,	1,	100,	200,	0,		1 },	/* pct capped */
	{ 70,	INT64_MAX / 2, INT64_MAX, 0, 0,		INT64_MAX },
	{ 70,	INT64_MAX / 2, INT64_MAX, 1, UINT32_MAX, INT64_MAX -
	    INT64_MAX / 100 - (INT64_MAX % 100) / 100 +
	    (int64_t)((uint64_t)UINT32_MAX % ((uint64_t)(INT64_MAX / 100 +
	    (INT64_MAX % 100) / 100) * 2 + 1)) },
};

static void
test_retry(void **state)
{
	size_t	 i;
	int64_t	 got;

	(void)state;
	for (i = 0; i < sizeof(retry_cases) / sizeof(retry_cases[0]); i++) {
		got = retry_delay(retry_cases[i].attempts, retry_cases[i].min,
		    retry_cases[i].max, retry_cases[i].jitter,
		    retry_cases[i].r);
		if (got != retry_cases[i].want)
			fail_msg("case %zu: got %lld want %lld", i,
			    (long long)got, (long long)retry_cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_roundtrip),
		cmocka_unit_test(test_rcpt_roundtrip),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_corrupt_msg),
		cmocka_unit_test(test_sched_keys),
		cmocka_unit_test(test_qidn_keys),
		cmocka_unit_test(test_qid),
		cmocka_unit_test(test_retry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
