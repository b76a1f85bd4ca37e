/* tls_decide: the decision order, case by case (pure, no lookups). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "compat.h"
#include "config.h"
#include "tls_decide.h"

enum { D_NO = 0, D_INSEC, D_USABLE, D_UNUSABLE, D_BOGUS };
enum { S_NO = 0, S_ENFORCE, S_TESTING, S_NONE, S_BOGUS };

static const struct {
	const char	*table;		/* table line, NULL: no entry */
	int		 dane, sts;
	const char	*host;
	int		 rc;
	enum tls_level	 level;
	const char	*status;	/* when rc == -1 */
	int		 testing;
} cases[] = {
	/* nothing known: opportunistic */
	{ NULL, D_NO, S_NO, "mx.a.test", 0, TLS_LEVEL_MAY, NULL, 0 },
	{ NULL, D_INSEC, S_NO, "mx.a.test", 0, TLS_LEVEL_MAY, NULL, 0 },
	/* DANE first */
	{ NULL, D_USABLE, S_NO, "mx.a.test", 0, TLS_LEVEL_DANE, NULL, 0 },
	{ NULL, D_USABLE, S_ENFORCE, "other.b.test", 0, TLS_LEVEL_DANE, NULL,
	    0 },
	{ NULL, D_UNUSABLE, S_NO, "mx.a.test", 0, TLS_LEVEL_ENCRYPT, NULL, 0 },
	/* unusable TLSA are a floor: an MTA-STS enforce policy still holds */
	{ NULL, D_UNUSABLE, S_ENFORCE, "mx.a.test", 0, TLS_LEVEL_MTA_STS,
	    NULL, 0 },
	{ NULL, D_UNUSABLE, S_ENFORCE, "mx.b.test", -1, 0, "4.7.5", 0 },
	{ NULL, D_UNUSABLE, S_TESTING, "mx.a.test", 0, TLS_LEVEL_ENCRYPT,
	    NULL, 1 },
	{ NULL, D_UNUSABLE, S_NONE, "mx.a.test", 0, TLS_LEVEL_ENCRYPT, NULL,
	    0 },
	{ NULL, D_UNUSABLE, S_BOGUS, "mx.a.test", -1, 0, "4.7.5", 0 },
	{ "a.test may", D_UNUSABLE, S_ENFORCE, "mx.a.test", 0,
	    TLS_LEVEL_MTA_STS, NULL, 0 },
	{ "a.test may sts=off", D_UNUSABLE, S_ENFORCE, "mx.a.test", 0,
	    TLS_LEVEL_ENCRYPT, NULL, 0 },
	{ NULL, D_BOGUS, S_NO, "mx.a.test", -1, 0, "4.7.5", 0 },
	/* then MTA-STS */
	{ NULL, D_INSEC, S_ENFORCE, "mx.a.test", 0, TLS_LEVEL_MTA_STS, NULL,
	    0 },
	{ NULL, D_INSEC, S_ENFORCE, "mx1.sub.a.test", 0, TLS_LEVEL_MTA_STS,
	    NULL, 0 },
	{ NULL, D_INSEC, S_ENFORCE, "x.mx1.sub.a.test", -1, 0, "4.7.5", 0 },
	{ NULL, D_INSEC, S_ENFORCE, "mx.b.test", -1, 0, "4.7.5", 0 },
	{ NULL, D_INSEC, S_TESTING, "mx.b.test", 0, TLS_LEVEL_MAY, NULL, 1 },
	{ NULL, D_INSEC, S_TESTING, "mx.a.test", 0, TLS_LEVEL_MAY, NULL, 1 },
	{ NULL, D_INSEC, S_NONE, "mx.b.test", 0, TLS_LEVEL_MAY, NULL, 0 },
	{ NULL, D_NO, S_BOGUS, "mx.a.test", -1, 0, "4.7.5", 0 },
	/* the local table comes first */
	{ "a.test none", D_USABLE, S_ENFORCE, "mx.a.test", 0, TLS_LEVEL_NONE,
	    NULL, 0 },
	{ "a.test encrypt", D_BOGUS, S_NO, "mx.a.test", 0, TLS_LEVEL_ENCRYPT,
	    NULL, 0 },
	{ "a.test verify", D_NO, S_ENFORCE, "mx.b.test", 0, TLS_LEVEL_VERIFY,
	    NULL, 0 },
	{ "a.test dane", D_USABLE, S_NO, "mx.a.test", 0, TLS_LEVEL_DANE, NULL,
	    0 },
	{ "a.test dane", D_UNUSABLE, S_NO, "mx.a.test", 0, TLS_LEVEL_ENCRYPT,
	    NULL, 0 },
	{ "a.test dane", D_INSEC, S_NO, "mx.a.test", -1, 0, "4.7.5", 0 },
	{ "a.test dane", D_BOGUS, S_NO, "mx.a.test", -1, 0, "4.7.5", 0 },
	{ "a.test mta-sts", D_NO, S_ENFORCE, "mx.a.test", 0,
	    TLS_LEVEL_MTA_STS, NULL, 0 },
	{ "a.test mta-sts", D_NO, S_TESTING, "mx.a.test", 0,
	    TLS_LEVEL_MTA_STS, NULL, 0 },
	{ "a.test mta-sts", D_NO, S_NO, "mx.a.test", -1, 0, "4.7.5", 0 },
	{ "a.test mta-sts", D_NO, S_NONE, "mx.a.test", -1, 0, "4.7.5", 0 },
	/* "may" entries keep the automatic steps they do not switch off */
	{ "a.test may", D_USABLE, S_NO, "mx.a.test", 0, TLS_LEVEL_DANE, NULL,
	    0 },
	{ "a.test may dane=off", D_NO, S_ENFORCE, "mx.a.test", 0,
	    TLS_LEVEL_MTA_STS, NULL, 0 },
	{ "a.test may sts=off dane=off", D_NO, S_NO, "mx.a.test", 0,
	    TLS_LEVEL_MAY, NULL, 0 },
};

static void
fill_dane(struct dane_result *d, int kind, struct tls_tlsa *t)
{
	memset(d, 0, sizeof(*d));
	(void)strlcpy(d->base, "mx.a.test", sizeof(d->base));
	(void)strlcpy(d->why, "test", sizeof(d->why));
	switch (kind) {
	case D_USABLE:
		d->state = DANE_USABLE;
		d->usable = t;
		d->nusable = 1;
		break;
	case D_UNUSABLE:
		d->state = DANE_UNUSABLE;
		break;
	case D_BOGUS:
		d->state = DANE_BOGUS;
		break;
	default:
		d->state = DANE_NONE;
	}
}

static void
fill_sts(struct sts_policy *p, int kind)
{
	memset(p, 0, sizeof(*p));
	p->mode = kind == S_ENFORCE ? STS_MODE_ENFORCE : kind == S_TESTING ?
	    STS_MODE_TESTING : STS_MODE_NONE;
	(void)strlcpy(p->mx[0], "mx.a.test", sizeof(p->mx[0]));
	(void)strlcpy(p->mx[1], "*.sub.a.test", sizeof(p->mx[1]));
	p->nmx = 2;
	p->max_age = 86400;
}

static void
test_decide(void **state)
{
	struct tls_table_entry	 e;
	struct dane_result	 dane;
	struct sts_policy	 sts;
	struct tls_policy_src	 s;
	struct tls_decision	 d;
	struct tls_tlsa		 t = { 3, 1, 1, (const uint8_t *)"x", 1 };
	struct outcome		 o;
	char			 note[256];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.domain = "a.test";
		s.host = cases[i].host;
		if (cases[i].table != NULL) {
			assert_null(tls_table_parse_line(cases[i].table, &e));
			e.line = 7;
			s.entry = &e;
		}
		fill_dane(&dane, cases[i].dane, &t);
		if (cases[i].dane != D_NO && tls_policy_wants_dane(s.entry))
			s.dane = &dane;
		fill_sts(&sts, cases[i].sts);
		if (!tls_policy_wants_sts(s.entry))
			;	/* not looked up, as tls_policy_host() */
		else if (cases[i].sts == S_BOGUS)
			s.sts_bogus = 1;
		else if (cases[i].sts != S_NO)
			s.sts = &sts;
		memset(&d, 0, sizeof(d));
		rc = tls_policy_decide(&s, &d, note, sizeof(note), &o);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d (%s)", i, rc, o.text);
		if (rc == -1) {
			assert_int_equal(o.kind, OUTCOME_DEFER);
			assert_string_equal(o.status, cases[i].status);
			continue;
		}
		if (d.level != cases[i].level)
			fail_msg("case %zu: level %s", i,
			    tls_level_name(d.level));
		assert_int_equal(d.sts_testing, cases[i].testing);
		assert_int_equal(note[0] != '\0', cases[i].testing);
		if (d.level == TLS_LEVEL_DANE) {
			assert_int_equal(d.ntlsa, 1);
			assert_string_equal(d.sni, "mx.a.test");
		}
		if (cases[i].table != NULL && e.level != TLS_LEVEL_MAY)
			assert_string_equal(d.why, "tls_policy:7");
	}
}

static void
test_options(void **state)
{
	struct tls_table_entry	 e;
	struct tls_policy_src	 s;
	struct tls_decision	 d;
	struct outcome		 o;
	char			 note[64];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.domain = "a.test";
	s.host = "mx.a.test";
	s.entry = &e;
	assert_null(tls_table_parse_line("a.test verify match=x.a.test:y.a.test "
	    "protocols=>=TLSv1.3", &e));
	assert_int_equal(tls_policy_decide(&s, &d, note, sizeof(note), &o), 0);
	assert_int_equal(d.level, TLS_LEVEL_VERIFY);
	assert_int_equal(d.nmatch, 2);
	assert_string_equal(d.match[1], "y.a.test");
	assert_string_equal(d.sni, "mx.a.test");
	assert_int_not_equal(d.min_proto, 0);
	assert_false(tls_policy_wants_dane(&e));
	assert_false(tls_policy_wants_sts(&e));
	assert_true(tls_policy_wants_dane(NULL));
}

static const struct {
	enum dane_state	 dane;
	enum sts_mode	 sts;
	int		 yields;
} yields[] = {
	{ DANE_UNUSABLE,	STS_MODE_ENFORCE,	1 },
	{ DANE_UNUSABLE,	STS_MODE_TESTING,	0 },
	{ DANE_UNUSABLE,	STS_MODE_NONE,		0 },
	/* usable TLSA authenticate by themselves (RFC 8461 §2) */
	{ DANE_USABLE,		STS_MODE_ENFORCE,	0 },
	/* bogus defers before MTA-STS is asked; none is no DANE at all */
	{ DANE_BOGUS,		STS_MODE_ENFORCE,	0 },
	{ DANE_NONE,		STS_MODE_ENFORCE,	0 },
};

static void
test_unusable_yields(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(yields) / sizeof(yields[0]); i++)
		if (dane_unusable_yields_to_sts(yields[i].dane, yields[i].sts) !=
		    yields[i].yields)
			fail_msg("case %zu", i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_unusable_yields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
