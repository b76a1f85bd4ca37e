/* smtp_wire: MAIL/RCPT parameters by offered extension, path and xtext
 * checks, and body transparency, table by table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_reply.h"
#include "smtp_wire.h"

static void
test_body(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "",			"" },
		{ "a\r\n",		"a\r\n" },
		{ "a",			"a\r\n" },
		{ ".\r\n",		"..\r\n" },
		{ ".a\r\n..b\r\nc.\r\n", "..a\r\n...b\r\nc.\r\n" },
		{ "a\nb\n",		"a\r\nb\r\n" },
		{ "a\rb\r",		"a\r\nb\r\n" },
		{ "a\r\r\nb",		"a\r\n\r\nb\r\n" },
		{ "a\n\rb",		"a\r\n\r\nb\r\n" },
		{ "\r\n.\r\n",		"\r\n..\r\n" },
		{ "x\n.\n",		"x\r\n..\r\n" },
		{ "\r\n\r\n",		"\r\n\r\n" },
		{ "a\r\n.",		"a\r\n..\r\n" },
	};
	struct buf	 b;
	size_t		 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		assert_int_equal(smtp_wire_body(&b, cases[i].in,
		    strlen(cases[i].in), (size_t)-1), strlen(cases[i].in));
		buf_appendstr(&b, "");
		assert_string_equal(b.data, cases[i].want);
	}
	buf_free(&b);
}

/* In chunks: each stops at a line end, stuffing survives the seams. */
static void
test_body_chunks(void **state)
{
	const char	*in = ".1\r\n.2\n.3\r.4\r\n.5";
	struct buf	 b, all;
	size_t		 off = 0, n, rounds = 0;

	(void)state;
	buf_init(&b);
	buf_init(&all);
	while (off < strlen(in) && rounds++ < 100) {
		buf_reset(&b);
		n = smtp_wire_body(&b, in + off, strlen(in) - off, 1);
		assert_true(n > 0);
		off += n;
		buf_append(&all, b.data, b.len);
	}
	assert_string_equal(all.data, "..1\r\n..2\r\n..3\r\n..4\r\n..5\r\n");
	buf_free(&b);
	buf_free(&all);
}

static void
test_checks(void **state)
{
	static const struct {
		const char	*s;
		int		 path, xtext, eight;
	} cases[] = {
		{ "a@b.example",	1, 1, 0 },
		{ "",			1, 1, 0 },
		{ "a b@c",		0, 0, 0 },
		{ "a\r\nRCPT TO:<x@y>",	0, 0, 0 },
		{ "a>@b",		0, 1, 0 },
		{ "<a@b",		0, 1, 0 },
		{ "a\x7f@b",		0, 0, 0 },
		{ "j\xc3\xb6rg@b",	1, 0, 1 },
		{ "rfc822;a+2Bb@c",	1, 1, 0 },
		{ "abc+2",		1, 0, 0 },
		{ "abc+zz",		1, 0, 0 },
		{ "abc+",		1, 0, 0 },
		{ "a=b",		1, 0, 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(smtp_wire_path_ok(cases[i].s),
		    cases[i].path);
		assert_int_equal(smtp_wire_xtext_ok(cases[i].s),
		    cases[i].xtext);
		assert_int_equal(smtp_wire_8bit(cases[i].s), cases[i].eight);
	}
	assert_int_equal(smtp_wire_8bit(NULL), 0);
}

static void
test_mail(void **state)
{
	static const struct {
		const char	*sender;
		uint32_t	 flags;
		const char	*envid;
		unsigned	 ext;
		const char	*want;
	} cases[] = {
		{ "a@b", 0, NULL, 0, "MAIL FROM:<a@b>" },
		{ "", 0, NULL, 0, "MAIL FROM:<>" },
		{ NULL, 0, NULL, 0, "MAIL FROM:<>" },
		{ "a@b", QMSG_8BITMIME | QMSG_SMTPUTF8 | QMSG_RET_FULL, "x",
		    0, "MAIL FROM:<a@b>" },
		{ "a@b", 0, NULL, EHLO_SIZE, "MAIL FROM:<a@b> SIZE=1234" },
		{ "a@b", QMSG_8BITMIME, NULL, EHLO_8BITMIME,
		    "MAIL FROM:<a@b> BODY=8BITMIME" },
		{ "a@b", 0, NULL, EHLO_8BITMIME, "MAIL FROM:<a@b>" },
		{ "a@b", QMSG_SMTPUTF8, NULL, EHLO_SMTPUTF8,
		    "MAIL FROM:<a@b> SMTPUTF8" },
		{ "a@b", QMSG_RET_FULL, "id+2B1", EHLO_DSN,
		    "MAIL FROM:<a@b> RET=FULL ENVID=id+2B1" },
		{ "a@b", QMSG_RET_HDRS, "bad id", EHLO_DSN,
		    "MAIL FROM:<a@b> RET=HDRS" },
		{ "a@b", QMSG_RET_HDRS, "id", EHLO_SIZE | EHLO_PIPELINING,
		    "MAIL FROM:<a@b> SIZE=1234" },
		{ "a@b", QMSG_8BITMIME | QMSG_SMTPUTF8 | QMSG_RET_HDRS, "e",
		    EHLO_SIZE | EHLO_8BITMIME | EHLO_SMTPUTF8 | EHLO_DSN,
		    "MAIL FROM:<a@b> SIZE=1234 BODY=8BITMIME SMTPUTF8 "
		    "RET=HDRS ENVID=e" },
	};
	struct qmsg	 m;
	struct buf	 b;
	size_t		 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.sender = (char *)cases[i].sender;
		m.flags = cases[i].flags;
		m.envid = (char *)cases[i].envid;
		buf_reset(&b);
		smtp_wire_mail(&b, &m, cases[i].ext, 1234);
		assert_string_equal(b.data, cases[i].want);
	}
	buf_free(&b);
}

static void
test_rcpt(void **state)
{
	static const struct {
		uint32_t	 notify;
		const char	*orcpt;
		unsigned	 ext;
		const char	*want;
	} cases[] = {
		{ QNOTIFY_SUCCESS, "rfc822;x@y", 0, "RCPT TO:<x@y>" },
		{ 0, NULL, EHLO_DSN, "RCPT TO:<x@y>" },
		{ QNOTIFY_NEVER, NULL, EHLO_DSN, "RCPT TO:<x@y> NOTIFY=NEVER" },
		{ QNOTIFY_DELAY, NULL, EHLO_DSN, "RCPT TO:<x@y> NOTIFY=DELAY" },
		{ QNOTIFY_SUCCESS | QNOTIFY_DELAY, NULL, EHLO_DSN,
		    "RCPT TO:<x@y> NOTIFY=SUCCESS,DELAY" },
		{ QNOTIFY_SUCCESS | QNOTIFY_FAILURE | QNOTIFY_DELAY,
		    "rfc822;x+2By@z", EHLO_DSN, "RCPT TO:<x@y> "
		    "NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;x+2By@z" },
		{ QNOTIFY_FAILURE, "noaddrtype", EHLO_DSN,
		    "RCPT TO:<x@y> NOTIFY=FAILURE" },
		{ 0, ";x@y", EHLO_DSN, "RCPT TO:<x@y>" },
		{ 0, "rfc822;x y", EHLO_DSN, "RCPT TO:<x@y>" },
	};
	struct qrcpt	 r;
	struct buf	 b;
	size_t		 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.addr = "x@y";
		r.notify = cases[i].notify;
		r.orcpt = (char *)cases[i].orcpt;
		buf_reset(&b);
		smtp_wire_rcpt(&b, &r, cases[i].ext);
		assert_string_equal(b.data, cases[i].want);
	}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_body_chunks),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
