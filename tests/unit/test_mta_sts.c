/* mta_sts: TXT record, policy text, MX patterns, HTTP response, cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compat.h"
#include "mta_sts.h"

static const struct {
	const char	*txt;
	const char	*id;	/* NULL: invalid */
} txts[] = {
	{ "v=STSv1; id=20160831085700Z;", "20160831085700Z" },
	{ "v=STSv1;id=abc", "abc" },
	{ "v=STSv1; id=abc ; ext=1", "abc" },
	{ "v=STSv1; foo=bar; id=X1", "X1" },
	{ "v=STSv1; id=12345678901234567890123456789012",
	    "12345678901234567890123456789012" },
	{ "v=STSv1; id=123456789012345678901234567890123", NULL },
	{ "v=STSv1;", NULL },
	{ "v=STSv1", NULL },
	{ "id=abc; v=STSv1", NULL },
	{ "v=STSv2; id=abc", NULL },
	{ "v=STSv1; id=ab-c", NULL },
	{ "v=STSv1; id=", NULL },
	{ "v=STSv1; id=a; id=b", NULL },
	{ "", NULL },
};

static void
test_txt(void **state)
{
	char		 id[STS_ID_MAX + 1];
	const char	*err;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(txts) / sizeof(txts[0]); i++) {
		err = sts_txt_parse(txts[i].txt, strlen(txts[i].txt), id,
		    sizeof(id));
		if (txts[i].id == NULL) {
			if (err == NULL)
				fail_msg("accepted: %s", txts[i].txt);
			continue;
		}
		if (err != NULL)
			fail_msg("%s: %s", txts[i].txt, err);
		assert_string_equal(id, txts[i].id);
	}
}

static const struct {
	const char	*text;
	int		 ok;
	enum sts_mode	 mode;
	long long	 max_age;
	size_t		 nmx;
} policies[] = {
	{ "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	    "mx: *.example.net\r\nmax_age: 604800\r\n", 1, STS_MODE_ENFORCE,
	    604800, 2 },
	{ "version: STSv1\nmode: testing\nmx: mx.a.test\nmax_age: 86400",
	    1, STS_MODE_TESTING, 86400, 1 },
	{ "version: STSv1\nmode: none\nmax_age: 0\n", 1, STS_MODE_NONE, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 9999999999\n",
	    1, STS_MODE_ENFORCE, 31557600, 1 },
	{ "version:STSv1\nmode:enforce\nmx:a.test\nmax_age:1\nfoo: bar\n",
	    1, STS_MODE_ENFORCE, 1, 1 },
	{ "version: STSv1\nmode: enforce\nmax_age: 1\n", 0, 0, 0, 0 },
	{ "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
	    0, 0, 0, 0 },
	{ "mode: enforce\nmx: a.test\nmax_age: 1\n", 0, 0, 0, 0 },
	{ "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
	    0, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a.test\n", 0, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
	    0, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901\n",
	    0, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\n"
	    "mode: testing\n", 0, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: **.a.test\nmax_age: 1\n",
	    0, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: a test\nmax_age: 1\n",
	    0, 0, 0, 0 },
	{ "version: STSv1\nmode enforce\nmx: a.test\nmax_age: 1\n",
	    0, 0, 0, 0 },
	{ "<html>not found</html>", 0, 0, 0, 0 },
};

static void
test_policy(void **state)
{
	struct sts_policy	 p;
	const char		*err;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		err = sts_policy_parse(policies[i].text,
		    strlen(policies[i].text), &p);
		if (!policies[i].ok) {
			if (err == NULL)
				fail_msg("accepted case %zu", i);
			continue;
		}
		if (err != NULL)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(p.mode, policies[i].mode);
		assert_int_equal(p.max_age, policies[i].max_age);
		assert_int_equal(p.nmx, policies[i].nmx);
	}
}

static const struct {
	const char	*pattern, *host;
	int		 want;
} matches[] = {
	{ "mail.example.com", "mail.example.com", 1 },
	{ "mail.example.com", "MAIL.Example.COM.", 1 },
	{ "mail.example.com", "mail2.example.com", 0 },
	{ "*.example.net", "mx1.example.net", 1 },
	{ "*.example.net", "MX1.example.net.", 1 },
	{ "*.example.net", "a.mx1.example.net", 0 },
	{ "*.example.net", "example.net", 0 },
	{ "*.example.net", ".example.net", 0 },
	{ "*.example.net", "mx1.example.org", 0 },
	{ "*.example.net", "xexample.net", 0 },
};

static void
test_mx_match(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(matches) / sizeof(matches[0]); i++)
		if (sts_mx_match(matches[i].pattern, matches[i].host) !=
		    matches[i].want)
			fail_msg("%s vs %s", matches[i].pattern,
			    matches[i].host);
}

static const struct {
	const char	*resp;
	const char	*body;	/* NULL: error */
} https[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 5\r\n\r\nhelloXX", "hello" },
	{ "HTTP/1.0 200 OK\r\nContent-type: text/plain; charset=utf-8\r\n\r\n"
	    "abc", "abc" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nab", NULL },
	{ "HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n\r\n", NULL },
	{ "HTTP/1.1 404 Not Found\r\n\r\n", NULL },
	{ "HTTP/1.1 2000 OK\r\n\r\n", NULL },
	{ "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nabc", NULL },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", NULL },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\nabc", NULL },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 3", NULL },
	{ "SSH-2.0-OpenSSH\r\n", NULL },
};

static void
test_http(void **state)
{
	char		 body[64];
	const char	*err;
	size_t		 i, blen;

	(void)state;
	for (i = 0; i < sizeof(https) / sizeof(https[0]); i++) {
		err = sts_http_parse(https[i].resp, strlen(https[i].resp),
		    body, sizeof(body), &blen);
		if (https[i].body == NULL) {
			if (err == NULL)
				fail_msg("accepted case %zu", i);
			continue;
		}
		if (err != NULL)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(blen, strlen(https[i].body));
		assert_memory_equal(body, https[i].body, blen);
	}
	/* Larger than the caller's buffer (64 KiB in production). */
	assert_non_null(sts_http_parse("HTTP/1.1 200 OK\r\n\r\n"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "45", 86, body, sizeof(body), &blen));
}

static void
test_cache(void **state)
{
	static const char text[] = "version: STSv1\nmode: enforce\n"
	    "mx: *.a.test\nmax_age: 3600\n";
	struct sts_policy	 p, q;
	char			*rec;
	size_t			 len;

	(void)state;
	assert_null(sts_policy_parse(text, sizeof(text) - 1, &p));
	p.fetched = 1700000000;
	(void)strlcpy(p.id, "abc1", sizeof(p.id));
	rec = sts_cache_encode(&p, text, sizeof(text) - 1, &len);
	assert_null(sts_cache_decode(rec, len, &q));
	assert_int_equal(q.fetched, 1700000000);
	assert_string_equal(q.id, "abc1");
	assert_int_equal(q.mode, STS_MODE_ENFORCE);
	assert_int_equal(q.max_age, 3600);
	assert_true(q.cached);
	assert_true(sts_policy_mx_ok(&q, "mx1.a.test"));
	assert_false(sts_policy_mx_ok(&q, "mx1.b.test"));
	assert_non_null(sts_cache_decode(rec, 5, &q));
	rec[0] = '9';
	assert_non_null(sts_cache_decode(rec, len, &q));
	free(rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_mx_match),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
