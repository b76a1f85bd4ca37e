/* dns_anchor: which root key file is used, and what the start-up query
 * for the root DNSKEY says about the resolver in front of postern. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "dns_anchor.h"

#define NCASES(a)	(sizeof(a) / sizeof((a)[0]))

/* Which of the candidate files "exist" in one row of the table. */
static const char *present[4];

static int
fake_readable(const char *path)
{
	size_t	 i;

	for (i = 0; i < NCASES(present); i++)
		if (present[i] != NULL && strcmp(present[i], path) == 0)
			return 1;
	return 0;
}

static void
test_pick(void **state)
{
	static const char *const paths[] = { "/a/root.key", "/b/root.key",
	    "/c/root.key", NULL };
	static const struct {
		const char	*configured;
		const char	*have[3];
		const char	*want;
	} cases[] = {
		{ NULL, { NULL }, NULL },			/* none at all */
		{ "", { NULL }, NULL },
		{ "", { "/a/root.key" }, "/a/root.key" },
		{ "", { "/c/root.key" }, "/c/root.key" },	/* FreeBSD pkg */
		{ "", { "/c/root.key", "/b/root.key" }, "/b/root.key" },
		{ "/mine.key", { NULL }, "/mine.key" },	/* configured wins */
		{ "/mine.key", { "/a/root.key" }, "/mine.key" },
		{ "", { "/elsewhere.key" }, NULL },		/* not a candidate */
	};
	const char	*got;
	size_t		 i, j;

	(void)state;
	for (i = 0; i < NCASES(cases); i++) {
		memset(present, 0, sizeof(present));
		for (j = 0; j < 3; j++)
			present[j] = cases[i].have[j];
		got = dns_anchor_pick(cases[i].configured, paths,
		    fake_readable);
		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got != NULL && strcmp(got, cases[i].want) != 0))
			fail_msg("case %zu: got %s", i, got ? got : "NULL");
	}
}

static void
test_system_paths(void **state)
{
	static const char *const want[] = { "/usr/share/dns/root.key",
	    "/var/unbound/root.key", "/usr/local/etc/unbound/root.key" };
	size_t	 i, j;
	int	 found;

	(void)state;
	/* Debian, FreeBSD base and FreeBSD packages are all searched. */
	for (i = 0; i < NCASES(want); i++) {
		found = 0;
		for (j = 0; dns_anchor_paths[j] != NULL; j++)
			found |= strcmp(dns_anchor_paths[j], want[i]) == 0;
		if (!found)
			fail_msg("%s is not searched", want[i]);
	}
}

static void
test_judge(void **state)
{
	static const struct {
		enum dns_rc	 rc;
		enum dns_sec	 sec;
		enum dns_probe	 want;
	} cases[] = {
		{ DNS_FOUND, DNS_SECURE, DNS_PROBE_OK },
		{ DNS_TEMPFAIL, DNS_BOGUS, DNS_PROBE_STRIPPED },
		/* An unsigned root under an anchor: RRSIGs were dropped. */
		{ DNS_FOUND, DNS_INSECURE, DNS_PROBE_STRIPPED },
		{ DNS_NODATA, DNS_INSECURE, DNS_PROBE_STRIPPED },
		{ DNS_NXDOMAIN, DNS_INSECURE, DNS_PROBE_STRIPPED },
		{ DNS_NODATA, DNS_SECURE, DNS_PROBE_STRIPPED },
		/* No answer proves nothing about DNSSEC. */
		{ DNS_TEMPFAIL, DNS_INDETERMINATE, DNS_PROBE_UNREACHED },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (dns_probe_judge(cases[i].rc, cases[i].sec) !=
		    cases[i].want)
			fail_msg("case %zu", i);
}

static void
test_find_off(void **state)
{
	struct config	 c;
	const char	*ta = "x";
	char		 err[512], line[512];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.resolver_trust_anchor = (char *)"/nonexistent/anchor.key";
	c.dnssec = 0;
	assert_int_equal(dns_anchor_find(&c, &ta, err, sizeof(err)), 0);
	assert_null(ta);
	assert_non_null(strstr(dns_anchor_describe(&c, line, sizeof(line)),
	    "OFF"));
	c.dnssec = 1;
	assert_int_equal(dns_anchor_find(&c, &ta, err, sizeof(err)), 0);
	assert_string_equal(ta, "/nonexistent/anchor.key");
	assert_non_null(strstr(dns_anchor_describe(&c, line, sizeof(line)),
	    "/nonexistent/anchor.key"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_system_paths),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_find_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
