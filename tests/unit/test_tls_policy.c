/* tls_policy: level names and the security predicates, case by case. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tls_policy.h"

static const struct {
	enum tls_level	 level;
	const char	*name;
	int		 fallback, starttls, auth;
} cases[] = {
	/* level		name		clear	STARTTLS auth */
	{ TLS_LEVEL_NONE,	"none",		0,	0,	0 },
	{ TLS_LEVEL_MAY,	"may",		1,	1,	0 },
	{ TLS_LEVEL_ENCRYPT,	"encrypt",	0,	1,	0 },
	{ TLS_LEVEL_VERIFY,	"verify",	0,	1,	1 },
	{ TLS_LEVEL_DANE,	"dane",		0,	1,	1 },
	{ TLS_LEVEL_MTA_STS,	"mta-sts",	0,	1,	1 },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static void
test_names(void **state)
{
	enum tls_level	 l;
	size_t		 i;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		assert_string_equal(tls_level_name(cases[i].level),
		    cases[i].name);
		l = (enum tls_level)-1;
		assert_null(tls_level_parse(cases[i].name, &l));
		assert_int_equal(l, cases[i].level);
	}
}

static void
test_parse_bad(void **state)
{
	static const char *bad[] = { "", "MAY", "dane-only", "mta_sts",
	    "secure", " may", "may ", "verify\n" };
	enum tls_level	 l = TLS_LEVEL_VERIFY;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_non_null(tls_level_parse(bad[i], &l));
		assert_int_equal(l, TLS_LEVEL_VERIFY);
	}
	assert_non_null(tls_level_parse(NULL, &l));
	assert_string_equal(tls_level_name((enum tls_level)42), "unknown");
}

static void
test_predicates(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		assert_int_equal(!!tls_plaintext_fallback_ok(cases[i].level),
		    cases[i].fallback);
		assert_int_equal(!!tls_starttls_wanted(cases[i].level),
		    cases[i].starttls);
		assert_int_equal(!!tls_auth_required(cases[i].level),
		    cases[i].auth);
	}
	/* An unknown level is never permissive about cleartext. */
	assert_false(tls_plaintext_fallback_ok((enum tls_level)42));
}

static void
test_decision_init(void **state)
{
	struct tls_decision	 d;
	char			 longname[400];

	(void)state;
	memset(&d, 0x55, sizeof(d));
	tls_decision_init(&d, TLS_LEVEL_MAY, "default", "mx.example.org");
	assert_int_equal(d.level, TLS_LEVEL_MAY);
	assert_string_equal(d.why, "default");
	assert_string_equal(d.sni, "mx.example.org");
	assert_null(d.tlsa);
	assert_int_equal(d.ntlsa, 0);
	assert_int_equal(d.nmatch, 0);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	tls_decision_init(&d, TLS_LEVEL_NONE, NULL, longname);
	assert_string_equal(d.why, "");
	assert_int_equal(strlen(d.sni), sizeof(d.sni) - 1);
}

/* none < may < encrypt < verify = dane = mta-sts; ties: the next hop's. */
static const struct {
	enum tls_level	 dest, hop, want;
} stricter[] = {
	{ TLS_LEVEL_VERIFY,	TLS_LEVEL_MAY,		TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_MAY,	TLS_LEVEL_VERIFY,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_VERIFY,	TLS_LEVEL_NONE,		TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_NONE,	TLS_LEVEL_MAY,		TLS_LEVEL_MAY },
	{ TLS_LEVEL_MAY,	TLS_LEVEL_NONE,		TLS_LEVEL_MAY },
	{ TLS_LEVEL_ENCRYPT,	TLS_LEVEL_MAY,		TLS_LEVEL_ENCRYPT },
	{ TLS_LEVEL_MAY,	TLS_LEVEL_ENCRYPT,	TLS_LEVEL_ENCRYPT },
	{ TLS_LEVEL_DANE,	TLS_LEVEL_ENCRYPT,	TLS_LEVEL_DANE },
	{ TLS_LEVEL_ENCRYPT,	TLS_LEVEL_DANE,		TLS_LEVEL_DANE },
	{ TLS_LEVEL_MTA_STS,	TLS_LEVEL_MAY,		TLS_LEVEL_MTA_STS },
	{ TLS_LEVEL_DANE,	TLS_LEVEL_VERIFY,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_VERIFY,	TLS_LEVEL_DANE,		TLS_LEVEL_DANE },
	{ TLS_LEVEL_MTA_STS,	TLS_LEVEL_VERIFY,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_MAY,	TLS_LEVEL_MAY,		TLS_LEVEL_MAY },
	/* an unknown level is never taken for a weaker one */
	{ (enum tls_level)42,	TLS_LEVEL_VERIFY,	(enum tls_level)42 },
	{ TLS_LEVEL_NONE,	(enum tls_level)42,	(enum tls_level)42 },
};

static void
test_stricter(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(stricter) / sizeof(stricter[0]); i++)
		if (tls_level_stricter(stricter[i].dest, stricter[i].hop) !=
		    stricter[i].want)
			fail_msg("case %zu: %s", i, tls_level_name(
			    tls_level_stricter(stricter[i].dest,
			    stricter[i].hop)));
	for (i = 0; i < NCASES; i++)
		assert_int_equal(tls_level_rank(cases[i].level) == 3,
		    cases[i].auth);
}

/* A next hop with credentials: authenticated unless its own entry says
 * less, and never in clear. */
static const struct {
	enum tls_level	 decided;
	int		 hop_entry;
	enum tls_level	 hop_level, want;
} cred[] = {
	/* no entry for the next hop: verify, or what authenticates */
	{ TLS_LEVEL_MAY,	0, TLS_LEVEL_VERIFY,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_NONE,	0, TLS_LEVEL_VERIFY,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_ENCRYPT,	0, TLS_LEVEL_VERIFY,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_VERIFY,	0, TLS_LEVEL_VERIFY,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_DANE,	0, TLS_LEVEL_VERIFY,	TLS_LEVEL_DANE },
	{ TLS_LEVEL_MTA_STS,	0, TLS_LEVEL_VERIFY,	TLS_LEVEL_MTA_STS },
	/* the next hop's own entry authenticates: so does the delivery */
	{ TLS_LEVEL_DANE,	1, TLS_LEVEL_MAY,	TLS_LEVEL_DANE },
	{ TLS_LEVEL_VERIFY,	1, TLS_LEVEL_VERIFY,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_MAY,	1, TLS_LEVEL_DANE,	TLS_LEVEL_VERIFY },
	/* the administrator wrote a weaker level for the next hop */
	{ TLS_LEVEL_ENCRYPT,	1, TLS_LEVEL_ENCRYPT,	TLS_LEVEL_ENCRYPT },
	{ TLS_LEVEL_MAY,	1, TLS_LEVEL_MAY,	TLS_LEVEL_ENCRYPT },
	{ TLS_LEVEL_NONE,	1, TLS_LEVEL_NONE,	TLS_LEVEL_ENCRYPT },
	/* unknown levels are never permissive */
	{ (enum tls_level)42,	1, TLS_LEVEL_ENCRYPT,	TLS_LEVEL_VERIFY },
	{ TLS_LEVEL_MAY,	1, (enum tls_level)42,	TLS_LEVEL_VERIFY },
};

static void
test_cred_level(void **state)
{
	enum tls_level	 l;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cred) / sizeof(cred[0]); i++) {
		l = tls_cred_level(cred[i].decided, cred[i].hop_entry,
		    cred[i].hop_level);
		if (l != cred[i].want)
			fail_msg("case %zu: %s", i, tls_level_name(l));
		/* Credentials never go where clear text is allowed. */
		assert_false(tls_plaintext_fallback_ok(l));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_decision_init),
		cmocka_unit_test(test_stricter),
		cmocka_unit_test(test_cred_level),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
