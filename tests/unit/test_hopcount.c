/*
 * hopcount: Received fields counted in the header section only, by name
 * in any case, with folding; Delivered-To matched; the loop predicate.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hopcount.h"

#define S(x)	x, sizeof(x) - 1

struct ccase {
	const char	*name;
	const char	*msg;
	size_t		 len;
	size_t		 want;
};

static const struct ccase count_cases[] = {
	{ "empty", S(""), 0 },
	{ "no header", S("\r\nReceived: x\r\n"), 0 },
	{ "one", S("Received: from a\r\n\r\nbody\r\n"), 1 },
	{ "case", S("RECEIVED: a\r\nreceived: b\r\nReCeIvEd: c\r\n\r\n"), 3 },
	{ "space before colon", S("Received : a\r\nReceived\t: b\r\n\r\n"), 2 },
	{ "folded, one field", S("Received: from a\r\n\tby b\r\n  id c;\r\n"
	    " date\r\n\r\n"), 1 },
	{ "folded line looks like one", S("X-Note: a\r\n Received: b\r\n"
	    "\tReceived: c\r\n\r\n"), 0 },
	{ "body not counted", S("Received: a\r\n\r\nReceived: b\r\n"
	    "Received: c\r\n"), 1 },
	{ "LF lines", S("Received: a\nReceived: b\n\nReceived: c\n"), 2 },
	{ "no final line end", S("Subject: x\r\nReceived: a"), 1 },
	{ "prefix of the name", S("Received-SPF: pass\r\nX-Received: a\r\n"
	    "Receive: b\r\n\r\n"), 0 },
	{ "no colon", S("Received from a\r\nReceived: b\r\n\r\n"), 1 },
	{ "empty name", S(": a\r\nReceived:\r\n\r\n"), 1 },
	{ "NUL in the name", S("Rec\0ived: a\r\nReceived: b\r\n\r\n"), 1 },
	{ "bare CR is no end", S("Received: a\r\r\nReceived: b\r\n\r\n"), 2 },
	{ "blank line with CR only ends", S("Received: a\r\n\r\nReceived: b"),
	    1 },
	{ "stray continuation first", S(" Received: a\r\nReceived: b\r\n"),
	    1 },
	{ "mbox From line", S("Return-Path: <a@b>\r\nFrom a@b Mon\r\n"
	    "Received: x\r\n\r\n"), 1 },
};

static void
test_count(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(count_cases) / sizeof(count_cases[0]); i++) {
		const struct ccase *c = &count_cases[i];

		if (hop_count(c->msg, c->len) != c->want)
			fail_msg("%s: %zu, want %zu", c->name,
			    hop_count(c->msg, c->len), c->want);
	}
}

/* Every prefix is read within its bounds (ASan catches an overread of
 * the exactly sized copy) and counts no more than the whole. */
static void
test_count_prefixes(void **state)
{
	static const char msg[] = "Received: a\r\n b\r\nReceived : c\r\n"
	    "\r\nReceived: d\r\n";
	char	 copy[sizeof(msg)];
	size_t	 n;

	(void)state;
	for (n = 0; n < sizeof(msg) - 1; n++) {
		memcpy(copy, msg, n);
		assert_true(hop_count(copy, n) <= 2);
	}
	assert_int_equal(hop_count(msg, sizeof(msg) - 1), 2);
}

static void
test_many(void **state)
{
	char	 buf[51 * 16 + 8];
	size_t	 i, len = 0;

	(void)state;
	for (i = 0; i < 51; i++) {
		memcpy(buf + len, "Received: x\r\n", 13);
		len += 13;
	}
	memcpy(buf + len, "\r\nx\r\n", 5);
	len += 5;
	assert_int_equal(hop_count(buf, len), 51);
	assert_int_equal(hop_count(buf, len - 5 - 13), 50);
}

struct dcase {
	const char	*name;
	const char	*msg;
	size_t		 len;
	const char	*addr;
	int		 want;
};

static const struct dcase dt_cases[] = {
	{ "none", S("Subject: x\r\n\r\n"), "a@b", 0 },
	{ "same", S("Delivered-To: a@b\r\n\r\n"), "a@b", 1 },
	{ "case", S("delivered-to:   A@B.example  \r\n\r\n"), "a@b.example",
	    1 },
	{ "angle brackets", S("Delivered-To: <a@b>\r\n\r\n"), "a@b", 1 },
	{ "folded", S("Delivered-To:\r\n a@b\r\n\r\n"), "a@b", 1 },
	{ "other", S("Delivered-To: c@b\r\n\r\n"), "a@b", 0 },
	{ "prefix only", S("Delivered-To: a@bc\r\n\r\n"), "a@b", 0 },
	{ "longer address", S("Delivered-To: a@b\r\n\r\n"), "a@bc", 0 },
	{ "in the body", S("X: y\r\n\r\nDelivered-To: a@b\r\n"), "a@b", 0 },
	{ "second of several", S("Delivered-To: c@b\r\nDelivered-To: a@b\r\n"
	    "\r\n"), "a@b", 1 },
	{ "empty value", S("Delivered-To:\r\n\r\n"), "", 0 },
	{ "NUL inside", S("Delivered-To: a\0@b\r\n\r\n"), "a", 0 },
	{ "no final line end", S("Delivered-To: a@b"), "a@b", 1 },
};

static void
test_delivered_to(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(dt_cases) / sizeof(dt_cases[0]); i++) {
		const struct dcase *c = &dt_cases[i];

		if (hop_delivered_to(c->msg, c->len, c->addr) != c->want)
			fail_msg("%s: want %d", c->name, c->want);
	}
}

struct lcase {
	size_t		 hops;
	long long	 max;
	int		 want;
};

static const struct lcase limit_cases[] = {
	{ 0, 50, 0 }, { 49, 50, 0 }, { 50, 50, 0 }, { 51, 50, 1 },
	{ 1, 1, 0 }, { 2, 1, 1 }, { 0, 0, 0 }, { 1, 0, 1 },
	/* A negative limit is never more permissive than 0. */
	{ 1, -1, 1 }, { 0, -5, 0 },
	{ (size_t)-1, 1000, 1 },
};

static void
test_limit(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		const struct lcase *c = &limit_cases[i];

		if (hop_limit_exceeded(c->hops, c->max) != c->want)
			fail_msg("hops %zu max %lld: want %d", c->hops, c->max,
			    c->want);
	}
}

static void
test_fields(void **state)
{
	static const char msg[] = "A: 1\r\n\tx\r\nB :2\r\n\r\nC: 3\r\n";
	struct hop_field f;
	size_t	 off = 0;

	(void)state;
	assert_int_equal(hop_next_field(msg, sizeof(msg) - 1, &off, &f), 1);
	assert_int_equal(f.namelen, 1);
	assert_memory_equal(f.name, "A", 1);
	assert_int_equal(f.valuelen, 6);
	assert_memory_equal(f.value, " 1\r\n\tx", 6);
	assert_int_equal(hop_next_field(msg, sizeof(msg) - 1, &off, &f), 1);
	assert_memory_equal(f.name, "B", 1);
	assert_int_equal(f.namelen, 1);
	assert_int_equal(f.valuelen, 1);
	assert_int_equal(hop_next_field(msg, sizeof(msg) - 1, &off, &f), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_count_prefixes),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_delivered_to),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
