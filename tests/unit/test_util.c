/* util: bounded parsing, buffers, outcomes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "outcome.h"
#include "util.h"

static void
test_parse_ull(void **state)
{
	static const struct { const char *in; unsigned long long max; int rc;
	    unsigned long long want; } cases[] = {
		{ "0", 10, 0, 0 },
		{ "10", 10, 0, 10 },
		{ "11", 10, -1, 0 },
		{ "", 10, -1, 0 },
		{ "-1", 10, -1, 0 },
		{ "1x", 10, -1, 0 },
		{ " 1", 10, -1, 0 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -1, 0 },
	};
	unsigned long long	 v;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 0;
		assert_int_equal(parse_ull(cases[i].in, cases[i].max, &v),
		    cases[i].rc);
		if (cases[i].rc == 0)
			assert_true(v == cases[i].want);
	}
}

static void
test_parse_duration(void **state)
{
	static const struct { const char *in; int rc; long long want; } cases[] = {
		{ "30", 0, 30 }, { "30s", 0, 30 }, { "5m", 0, 300 },
		{ "4h", 0, 14400 }, { "5d", 0, 432000 }, { "1w", 0, 604800 },
		{ "", -1, 0 }, { "m", -1, 0 }, { "5x", -1, 0 }, { "5mm", -1, 0 },
		{ "99999999999999999999d", -1, 0 },
	};
	long long	 v;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_duration(cases[i].in, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(v, cases[i].want);
	}
}

static void
test_parse_size(void **state)
{
	unsigned long long	 v;

	(void)state;
	assert_int_equal(parse_size("10M", &v), 0);
	assert_true(v == 10485760ULL);
	assert_int_equal(parse_size("2k", &v), 0);
	assert_true(v == 2048);
	assert_int_equal(parse_size("1G", &v), 0);
	assert_true(v == 1073741824ULL);
	assert_int_equal(parse_size("1T", &v), -1);
	assert_int_equal(parse_size("9999999999999999999G", &v), -1);
}

static void
test_buf(void **state)
{
	struct buf	 b;
	int		 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%04d", i);
	assert_int_equal(b.len, 4000);
	assert_memory_equal(b.data + 3996, "0999", 4);
	assert_int_equal(b.data[b.len], '\0');
	buf_reset(&b);
	buf_appendstr(&b, "x");
	assert_string_equal(b.data, "x");
	buf_free(&b);
	assert_null(b.data);
}

static void
test_strings(void **state)
{
	char	 d[] = "Example.ORG.";

	(void)state;
	assert_true(strn_caseeq("EHLO", 4, "ehlo"));
	assert_false(strn_caseeq("EHL", 3, "ehlo"));
	assert_false(strn_caseeq("EHLOX", 5, "ehlo"));
	assert_string_equal(domain_normalize(d), "example.org");
}

static void
test_outcome(void **state)
{
	struct outcome	 o;

	(void)state;
	outcome_set(&o, OUTCOME_DEFER, "4.4.1", "connect to %s: %s\r\nx",
	    "mx[127.0.0.1]:25", "refused");
	assert_int_equal(o.kind, OUTCOME_DEFER);
	assert_string_equal(o.status, "4.4.1");
	assert_null(strchr(o.text, '\n'));
	assert_null(strchr(o.text, '\r'));
	assert_string_equal(outcome_kind_name(OUTCOME_BOUNCE), "bounced");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ull),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_outcome),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
