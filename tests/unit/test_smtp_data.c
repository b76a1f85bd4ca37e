/*
 * smtp_data: the end of data, smuggling variants, stuffing, limits, NULs,
 * and every case again split at every octet boundary and octet by octet.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_data.h"
#include "util.h"

/* Case tables leave trailing fields zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define S(x)	x, sizeof(x) - 1

struct dcase {
	const char	*name;
	const char	*in;		/* what follows "DATA\r\n" */
	size_t		 inlen;
	const char	*stored;	/* NULL: refused */
	size_t		 storedlen;
	const char	*verdict;	/* NULL: accepted */
	size_t		 rest;		/* octets after the end; (size_t)-1:
					 * the end was never seen */
	size_t		 max_line, max_size;	/* 0: 1000 and 1 MiB */
};

#define NOEND	((size_t)-1)
#define BARE_CR	"550 5.6.11 bare CR in message"
#define NUL_REP	"550 5.6.0 NUL byte in message"
#define LONG	"552 5.6.0 line too long"
#define BIG	"552 5.3.4 Message size exceeds fixed maximum message size"

static const struct dcase cases[] = {
	{ "plain", S("Subject: x\r\n\r\nhello\r\n.\r\n"),
	    S("Subject: x\r\n\r\nhello\r\n"), NULL, 0 },
	{ "empty message", S(".\r\n"), S(""), NULL, 0 },
	{ "one empty line", S("\r\n.\r\n"), S("\r\n"), NULL, 0 },
	{ "pipelined after the end", S("a\r\n.\r\nQUIT\r\n"), S("a\r\n"),
	    NULL, 6 },
	{ "unstuff", S("..leading dot\r\n.\r\n"), S(".leading dot\r\n"),
	    NULL, 0 },
	{ "unstuff double", S("..\r\n.\r\n"), S(".\r\n"), NULL, 0 },
	{ "unstuff one char", S(".x\r\n.\r\n"), S("x\r\n"), NULL, 0 },
	{ "dot space", S(". \r\n.\r\n"), S(" \r\n"), NULL, 0 },
	{ "dot not first", S("a.\r\n.\r\n"), S("a.\r\n"), NULL, 0 },
	{ "no end", S("a\r\nb\r\n"), NULL, 0, NULL, NOEND },
	{ "end needs CRLF after dot", S("a\r\n."), NULL, 0, NULL, NOEND },
	/* Smuggling: nothing but CR LF . CR LF ends the data. */
	{ "LF.LF", S("a\n.\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), NULL, 0 },
	{ "LF.CRLF", S("a\n.\r\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), NULL, 0 },
	{ "CRLF.LF", S("a\r\n.\nb\r\n.\r\n"), S("a\r\n.\r\nb\r\n"), NULL, 0 },
	{ "LF.LF first line", S(".\nb\r\n.\r\n"), S(".\r\nb\r\n"),
	    NULL, 0 },
	{ "smuggled commands stay data",
	    S("a\n.\nMAIL FROM:<x@y>\nRCPT TO:<z@w>\nDATA\n\r\n.\r\n"),
	    S("a\r\n.\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\n\r\n"),
	    NULL, 0 },
	{ "CR.CR", S("a\r.\rb\r\n.\r\n"), NULL, 0, BARE_CR, 0 },
	{ "CRLF.CR", S("a\r\n.\r\r\n.\r\n"), NULL, 0, BARE_CR, 0 },
	{ "CRLF.CRCRLF", S("a\r\n.\r\rb\r\n.\r\n"), NULL, 0, BARE_CR, 0 },
	{ "CR.CRLF", S("a\r.\r\nb\r\n.\r\n"), NULL, 0, BARE_CR, 0 },
	{ "bare CR mid line", S("a\rb\r\n.\r\n"), NULL, 0, BARE_CR, 0 },
	{ "bare CR at line start", S("\rb\r\n.\r\n"), NULL, 0, BARE_CR, 0 },
	{ "CR CR LF", S("ab\r\r\n.\r\n"), NULL, 0, BARE_CR, 0 },
	{ "bare CR keeps reading", S("a\rb\r\n.\r\nRSET\r\n"), NULL, 0,
	    BARE_CR, 6 },
	{ "bare LF line then end", S("a\nb\r\n.\r\n"), S("a\r\nb\r\n"),
	    NULL, 0 },
	{ "LF after bare LF line", S("a\n.\r\n\r\n.\r\n"),
	    S("a\r\n.\r\n\r\n"), NULL, 0 },
	{ "dot line ends only after CRLF", S("x\n.\r\n"),
	    NULL, 0, NULL, NOEND },
	{ "space dot", S(" .\r\n.\r\n"), S(" .\r\n"), NULL, 0 },
	{ "dot after bare LF is data", S("..\n.\r\n.\r\n"), S(".\r\n.\r\n"),
	    NULL, 0 },
	/* NUL */
	{ "NUL", S("a\0b\r\n.\r\n"), NULL, 0, NUL_REP, 0 },
	{ "NUL alone", S("\0\r\n.\r\nQUIT\r\n"), NULL, 0, NUL_REP, 6 },
	{ "NUL and bare CR", S("a\0\rb\r\n.\r\n"), NULL, 0, BARE_CR, 0 },
	/* limits: max_line 10 counts the CR LF */
	{ "line at limit", S("12345678\r\n.\r\n"), S("12345678\r\n"), NULL, 0,
	    10 },
	{ "line over limit", S("123456789\r\n.\r\n"), NULL, 0, LONG, 0, 10 },
	{ "bare LF line over limit", S("123456789\n.\r\n.\r\n"), NULL, 0, LONG, 0,
	    10 },
	{ "bare LF line at limit", S("12345678\n.\r\n.\r\n"),
	    S("12345678\r\n.\r\n"),
	    NULL, 0, 10 },
	{ "stuffed line at limit", S(".1234567\r\n.\r\n"), S("1234567\r\n"),
	    NULL, 0, 10 },
	{ "long line keeps reading", S("1234567890123\r\n.\r\nQUIT\r\n"), NULL,
	    0, LONG, 6, 10 },
	{ "long line then bare LF dot", S("1234567890123\n.\r\nx\r\n.\r\n"),
	    NULL, 0, LONG, 0, 10 },
	/* max_size 10 counts stored octets */
	{ "size at limit", S("123\r\n456\r\n.\r\n"), S("123\r\n456\r\n"), NULL,
	    0, 0, 10 },
	{ "size over limit", S("123\r\n4567\r\n.\r\n"), NULL, 0, BIG, 0, 0,
	    10 },
	{ "size over keeps reading", S("1234\r\n1234\r\n1234\r\n.\r\nQUIT\r\n"),
	    NULL, 0, BIG, 6, 0, 10 },
	{ "size counts unstuffed", S("..23\r\n4567\r\n.\r\n"),
	    S(".23\r\n4567\r\n"), NULL, 0, 0, 11 },
	{ "bare CR beats size", S("123456789012\r\na\rb\r\n.\r\n"), NULL, 0,
	    BARE_CR, 0, 0, 10 },
	{ "NUL beats long line", S("1234567890123\r\n\0\r\n.\r\n"), NULL, 0,
	    NUL_REP, 0, 10 },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

/* Feeds c in pieces of at most step octets starting after split. */
static void
run_case(const struct dcase *c, size_t split, size_t step)
{
	struct smtp_data	 d;
	struct buf		 out;
	size_t			 off = 0, n, used, rest = NOEND;

	buf_init(&out);
	buf_append(&out, "Received: x\r\n", 14);	/* kept as is */
	smtp_data_init(&d, &out, c->max_size ? c->max_size : 1 << 20,
	    c->max_line ? c->max_line : 1000);
	while (off < c->inlen) {
		n = off < split ? split - off : step;
		if (n > c->inlen - off)
			n = c->inlen - off;
		used = smtp_data_feed(&d, c->in + off, n);
		off += used;
		if (smtp_data_done(&d)) {
			rest = c->inlen - off;
			break;
		}
		assert_int_equal(used, n);
	}
	if (rest != c->rest)
		fail_msg("%s (split %zu step %zu): rest %zd want %zd", c->name,
		    split, step, (ssize_t)rest, (ssize_t)c->rest);
	if (rest == NOEND)
		goto done;
	if (c->verdict == NULL) {
		assert_null(smtp_data_verdict(&d));
		assert_int_equal(out.len, 14 + c->storedlen);
		if (memcmp(out.data + 14, c->stored, c->storedlen) != 0)
			fail_msg("%s (split %zu step %zu): stored \"%.*s\"",
			    c->name, split, step, (int)out.len - 14,
			    out.data + 14);
		assert_int_equal(d.size, c->storedlen);
	} else {
		if (smtp_data_verdict(&d) == NULL ||
		    strcmp(smtp_data_verdict(&d), c->verdict) != 0)
			fail_msg("%s: verdict %s", c->name,
			    smtp_data_verdict(&d) ? smtp_data_verdict(&d) :
			    "(none)");
		/* Nothing of a refused message is kept. */
		assert_int_equal(out.len, 14);
	}
	assert_memory_equal(out.data, "Received: x\r\n", 14);
done:
	buf_free(&out);
}

static void
test_whole(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES; i++)
		run_case(&cases[i], 0, cases[i].inlen);
}

/* Every case split in two at every octet: the reads of a socket can
 * cut a line, a CR LF pair or the end sequence anywhere. */
static void
test_split(void **state)
{
	size_t	 i, split;

	(void)state;
	for (i = 0; i < NCASES; i++)
		for (split = 1; split < cases[i].inlen; split++)
			run_case(&cases[i], split, cases[i].inlen);
}

static void
test_bytewise(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES; i++)
		run_case(&cases[i], 0, 1);
}

/* The reader cut a line it could not hold. */
static void
test_overlong(void **state)
{
	struct smtp_data	 d;
	struct buf		 out;

	(void)state;
	buf_init(&out);
	/* Ended in CR LF: the next ".\r\n" ends the data. */
	smtp_data_init(&d, &out, 1000, 1000);
	assert_int_equal(smtp_data_feed(&d, S("a\r\n")), 3);
	smtp_data_overlong(&d, 1);
	assert_int_equal(smtp_data_feed(&d, S(".\r\nQUIT\r\n")), 3);
	assert_true(smtp_data_done(&d));
	assert_string_equal(smtp_data_verdict(&d), LONG);
	assert_int_equal(out.len, 0);
	/* Ended in a bare LF (or unknown): ".\r\n" is data, not the end. */
	smtp_data_init(&d, &out, 1000, 1000);
	smtp_data_overlong(&d, 0);
	assert_int_equal(smtp_data_feed(&d, S(".\r\n")), 3);
	assert_false(smtp_data_done(&d));
	assert_int_equal(smtp_data_feed(&d, S(".\r\n")), 3);
	assert_true(smtp_data_done(&d));
	assert_string_equal(smtp_data_verdict(&d), LONG);
	buf_free(&out);
}

/* A big message: stored whole, memory bounded when refused. */
static void
test_big(void **state)
{
	struct smtp_data	 d;
	struct buf		 out;
	char			 line[80];
	size_t			 i;

	(void)state;
	memset(line, 'x', sizeof(line));
	line[78] = '\r';
	line[79] = '\n';
	buf_init(&out);
	smtp_data_init(&d, &out, 80 * 1000, 1000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(smtp_data_feed(&d, line, sizeof(line)), 80);
	assert_int_equal(smtp_data_feed(&d, S(".\r\n")), 3);
	assert_null(smtp_data_verdict(&d));
	assert_int_equal(out.len, 80 * 1000);
	buf_free(&out);
	smtp_data_init(&d, &out, 80 * 100, 1000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(smtp_data_feed(&d, line, sizeof(line)), 80);
	assert_true(out.cap <= 4 * 80 * 100);
	assert_int_equal(smtp_data_feed(&d, S(".\r\n")), 3);
	assert_string_equal(smtp_data_verdict(&d), BIG);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_bytewise),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
