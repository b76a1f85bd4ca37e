/* smtp_reply: reply lines, multi-line replies, enhanced status codes and
 * EHLO keywords, table by table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_reply.h"

static void
test_line(void **state)
{
	static const struct {
		const char	*in;
		int		 ok, code, last;
		const char	*text;
	} cases[] = {
		{ "250 ok\r\n",		1, 250, 1, "ok" },
		{ "250-first\r\n",	1, 250, 0, "first" },
		{ "250\r\n",		1, 250, 1, "" },
		{ "250-\r\n",		1, 250, 0, "" },
		{ "354 go ahead\n",	1, 354, 1, "go ahead" },
		{ "421 4.4.2 bye",	1, 421, 1, "4.4.2 bye" },
		{ "599 x\r\n",		1, 599, 1, "x" },
		{ "250 a\rb\r\n",	1, 250, 1, "a\rb" },
		{ "199 no\r\n",		0, 0, 0, NULL },
		{ "600 no\r\n",		0, 0, 0, NULL },
		{ "25 short\r\n",	0, 0, 0, NULL },
		{ "25\r\n",		0, 0, 0, NULL },
		{ "250ok\r\n",		0, 0, 0, NULL },
		{ "2a0 ok\r\n",		0, 0, 0, NULL },
		{ "\r\n",		0, 0, 0, NULL },
		{ "",			0, 0, 0, NULL },
		{ "hello\r\n",		0, 0, 0, NULL },
	};
	const char	*t;
	size_t		 i, tlen;
	int		 code, last;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *err = smtp_reply_line(cases[i].in,
		    strlen(cases[i].in), &code, &last, &t, &tlen);
		if (!cases[i].ok) {
			assert_non_null(err);
			continue;
		}
		assert_null(err);
		assert_int_equal(code, cases[i].code);
		assert_int_equal(last, cases[i].last);
		assert_int_equal(tlen, strlen(cases[i].text));
		assert_memory_equal(t, cases[i].text, tlen);
	}
}

static void
test_status(void **state)
{
	static const struct {
		const char	*in;
		char		 cls;
		size_t		 want;
	} cases[] = {
		{ "5.1.1 user unknown",	'5', 5 },
		{ "5.1.1",		'5', 5 },
		{ "4.7.0 later",	'4', 5 },
		{ "2.0.0 ok",		'2', 5 },
		{ "5.123.456 x",	'5', 9 },
		{ "5.1234.1 x",		'5', 0 },
		{ "5.1.1234 x",		'5', 0 },
		{ "4.1.1 x",		'5', 0 },	/* class mismatch */
		{ "5.1. x",		'5', 0 },
		{ "5..1 x",		'5', 0 },
		{ "5.1.1x",		'5', 0 },
		{ "5.1",		'5', 0 },
		{ "",			'5', 0 },
		{ "user unknown",	'5', 0 },
		{ "3.1.1 x",		'3', 5 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(smtp_status_parse(cases[i].in,
		    strlen(cases[i].in), cases[i].cls), cases[i].want);
}

/* Feeds lines to one reply; want is the result of the last add. */
static int
feed(struct smtp_reply *r, const char *const *lines, const char **why)
{
	int	 rc = -1;

	for (; *lines != NULL; lines++) {
		rc = smtp_reply_add(r, *lines, strlen(*lines), why);
		if (rc != 0)
			return rc;
	}
	return rc;
}

static void
test_multiline(void **state)
{
	static const struct {
		const char	*lines[5];
		int		 rc, code;
		const char	*status, *text;
	} cases[] = {
		{ { "250 ok\r\n" }, 1, 250, "", "250 ok" },
		{ { "550 5.1.1 <x@y>: user unknown\r\n" }, 1, 550, "5.1.1",
		    "550 5.1.1 <x@y>: user unknown" },
		{ { "550-5.7.1 first\r\n", "550-5.7.1 second\r\n",
		    "550 5.7.1 third\r\n" }, 1, 550, "5.7.1",
		    "550 5.7.1 first second third" },
		{ { "451-first\r\n", "451 second\r\n" }, 1, 451, "",
		    "451 first second" },
		/* class of the status must match the code */
		{ { "550 4.1.1 odd\r\n" }, 1, 550, "", "550 4.1.1 odd" },
		/* a code change: the last line's code decides */
		{ { "250-5.0.0 x\r\n", "550 5.0.0 y\r\n" }, 1, 550, "",
		    "550 5.0.0 x 5.0.0 y" },
		{ { "250-a\r\n", "250-b\r\n" }, 0, 250, "", "250 a b" },
		{ { "250-a\r\n", "garbage\r\n" }, -1, 250, "", "250 a" },
		{ { "220 ctl\x01\x7f\xff x\r\n" }, 1, 220, "",
		    "220 ctl  ? x" },
		{ { "354\r\n" }, 1, 354, "", "354" },
	};
	struct smtp_reply r;
	const char	*why;
	char		 st[12];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_reply_init(&r, 0);
		assert_int_equal(feed(&r, cases[i].lines, &why), cases[i].rc);
		assert_int_equal(r.code, cases[i].code);
		assert_string_equal(r.status, cases[i].status);
		assert_string_equal(r.text, cases[i].text);
		if (cases[i].rc == 1 && cases[i].status[0] == '\0') {
			smtp_reply_status(&r, st, sizeof(st));
			assert_int_equal(st[0], '0' + cases[i].code / 100);
			assert_string_equal(st + 1, ".0.0");
		}
	}
	/* After the last line nothing more is accepted. */
	smtp_reply_init(&r, 0);
	assert_int_equal(smtp_reply_add(&r, "250 a", 5, &why), 1);
	assert_int_equal(smtp_reply_add(&r, "250 b", 5, &why), -1);
}

static void
test_limits(void **state)
{
	struct smtp_reply r;
	const char	*why = NULL;
	char		 big[3000];
	int		 i, rc = 0;

	(void)state;
	smtp_reply_init(&r, 0);
	for (i = 0; i < SMTP_REPLY_MAX_LINES && rc == 0; i++)
		rc = smtp_reply_add(&r, "250-x\r\n", 7, &why);
	assert_int_equal(rc, 0);
	assert_int_equal(smtp_reply_add(&r, "250 x\r\n", 7, &why), -1);
	assert_non_null(why);

	/* Text is truncated, never overflowed. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "250 ", 4);
	smtp_reply_init(&r, 0);
	assert_int_equal(smtp_reply_add(&r, big, sizeof(big), &why), 1);
	assert_int_equal(r.textlen, sizeof(r.text) - 1);
	assert_int_equal(strlen(r.text), sizeof(r.text) - 1);
}

static void
test_ehlo(void **state)
{
	static const char *lines[] = {
		"250-mx.example.org greets you STARTTLS\r\n",
		"250-PIPELINING\r\n",
		"250-size 10240000\r\n",
		"250-8BITMIME\r\n",
		"250-AUTH PLAIN LOGIN\r\n",
		"250-AUTH=PLAIN LOGIN\r\n",
		"250-ENHANCEDSTATUSCODES\r\n",
		"250-DSN\r\n",
		"250-STARTTLSX\r\n",
		"250-SMTPUTF8\r\n",
		"250 CHUNKING\r\n",
		NULL
	};
	struct smtp_reply r;
	const char	*why;

	(void)state;
	smtp_reply_init(&r, 1);
	assert_int_equal(feed(&r, lines, &why), 1);
	/* The greeting line is not a keyword; STARTTLSX is not STARTTLS. */
	assert_int_equal(r.ext, EHLO_PIPELINING | EHLO_SIZE | EHLO_8BITMIME |
	    EHLO_ENHANCEDSTATUSCODES | EHLO_DSN | EHLO_SMTPUTF8 |
	    EHLO_CHUNKING | EHLO_AUTH);
	assert_true(r.size == 10240000ULL);
	/* RFC 4954 AUTH and the older "AUTH=" line, both kept. */
	assert_string_equal(r.auth, "PLAIN LOGIN PLAIN LOGIN");
}

static void
test_keyword(void **state)
{
	static const struct {
		const char		*in;
		unsigned		 flag;
		unsigned long long	 size;
	} cases[] = {
		{ "STARTTLS",		EHLO_STARTTLS,	0 },
		{ "starttls\r\n",	EHLO_STARTTLS,	0 },
		{ "SIZE",		EHLO_SIZE,	0 },
		{ "SIZE 0",		EHLO_SIZE,	0 },
		{ "SIZE 52428800",	EHLO_SIZE,	52428800ULL },
		{ "SIZE 5x",		EHLO_SIZE,	0 },
		{ "SIZE 99999999999999999999999", EHLO_SIZE, 0 },
		{ "SIZE=100",		EHLO_SIZE,	0 },
		{ "DSN",		EHLO_DSN,	0 },
		{ "X-EXPS GSSAPI",	0,		0 },
		{ "",			0,		0 },
		{ "PIPELININGX",	0,		0 },
		{ "PIPE",		0,		0 },
	};
	unsigned long long size;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size = 0;
		assert_int_equal(smtp_ehlo_keyword(cases[i].in,
		    strlen(cases[i].in), &size), cases[i].flag);
		assert_true(size == cases[i].size);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_multiline),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_keyword),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
