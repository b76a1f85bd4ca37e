/* tls_lookup: the context that gathers a decision's inputs (no DNS here:
 * a NULL resolver means nothing is looked up). */
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

/* Through a relay the recipient domain's entry still applies (stricter
 * of the two entries), and MTA-STS is not used. */
static void
test_ctx_relayed(void **state)
{
	struct tls_table_entry	 e[2];
	struct tls_table	 t = { NULL, e, 2 };
	struct tls_policy_ctx	 c;
	struct config		 conf;
	struct mx_route		 rt;
	struct mx_host		 h;
	struct tls_decision	 d;
	struct outcome		 o;

	(void)state;
	config_defaults(&conf);
	assert_null(tls_table_parse_line("a.test verify match=mx.a.test",
	    &e[0]));
	e[0].line = 1;
	assert_null(tls_table_parse_line("10.1.2.3 encrypt", &e[1]));
	e[1].line = 2;
	memset(&rt, 0, sizeof(rt));
	memset(&h, 0, sizeof(h));
	(void)strlcpy(h.name, "10.1.2.3", sizeof(h.name));

	tls_policy_ctx_init(&c, &conf, NULL, NULL, &t, "A.test", "10.1.2.3");
	assert_ptr_equal(c.dest_entry, &e[0]);
	assert_ptr_equal(c.hop_entry, &e[1]);
	assert_int_equal(c.entry->level, TLS_LEVEL_VERIFY);
	assert_false(c.use_sts);
	assert_int_equal(tls_policy_host(&c, &rt, &h, 25, &d, &o), 0);
	assert_int_equal(d.level, TLS_LEVEL_VERIFY);
	assert_string_equal(d.sni, "10.1.2.3");
	assert_int_equal(d.nmatch, 1);
	assert_string_equal(d.match[0], "mx.a.test");
	assert_string_equal(d.why, "tls_policy:1");
	tls_policy_ctx_free(&c);

	/* The domain's own MX hosts: one entry, MTA-STS used. */
	tls_policy_ctx_init(&c, &conf, NULL, NULL, &t, "a.test", NULL);
	assert_null(c.hop_entry);
	assert_int_equal(c.entry->level, TLS_LEVEL_VERIFY);
	assert_true(c.use_sts);
	tls_policy_ctx_free(&c);

	/* A next hop without an entry for the domain: the hop's alone.  With
	 * credentials its own "encrypt" is kept, and said (warn). */
	tls_policy_ctx_init(&c, &conf, NULL, NULL, &t, "b.test", "10.1.2.3");
	assert_null(c.dest_entry);
	assert_int_equal(c.entry->level, TLS_LEVEL_ENCRYPT);
	assert_int_equal(tls_policy_host(&c, &rt, &h, 25, &d, &o), 0);
	d.min_proto = TLS1_3_VERSION;
	assert_int_equal(tls_policy_cred(&c, &h, &d), 1);
	assert_int_equal(d.level, TLS_LEVEL_ENCRYPT);
	tls_policy_ctx_free(&c);

	/* No entry for the next hop: credentials need verify of its name. */
	(void)strlcpy(h.name, "relay.test", sizeof(h.name));
	tls_policy_ctx_init(&c, &conf, NULL, NULL, &t, "b.test", "relay.test");
	assert_null(c.entry);
	assert_int_equal(tls_policy_host(&c, &rt, &h, 25, &d, &o), 0);
	assert_int_equal(d.level, TLS_LEVEL_MAY);
	d.min_proto = TLS1_3_VERSION;
	assert_int_equal(tls_policy_cred(&c, &h, &d), 0);
	assert_int_equal(d.level, TLS_LEVEL_VERIFY);
	assert_string_equal(d.why, "relayhost_auth_file");
	assert_string_equal(d.sni, "relay.test");
	assert_int_equal(d.min_proto, TLS1_3_VERSION);
	tls_policy_ctx_free(&c);
	config_free(&conf);
}

/* A name that does not fit the context is never cut to another domain's
 * table entry or policy: every host defers. */
static void
test_ctx_name_long(void **state)
{
	struct tls_table_entry	 e;
	struct tls_table	 t = { NULL, &e, 1 };
	struct tls_policy_ctx	 c;
	struct config		 conf;
	struct mx_route		 rt;
	struct mx_host		 h;
	struct tls_decision	 d;
	struct outcome		 o;
	char			 name[300];
	size_t			 i;
	static const struct {
		int	 rcpt_long, hop;	/* hop: 0 none, 1 short, 2 long */
		int	 name_long;
	} cases[] = {
		{ 0, 0, 0 }, { 1, 0, 1 }, { 0, 1, 0 }, { 1, 1, 1 }, { 0, 2, 1 },
	};

	(void)state;
	config_defaults(&conf);
	/* 299 octets ending in ".a.test": cut, it would not be a.test */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = name[255] = '.';
	memcpy(name + sizeof(name) - 8, ".a.test", 8);
	assert_null(tls_table_parse_line("a.test encrypt", &e));
	e.line = 1;
	memset(&rt, 0, sizeof(rt));
	memset(&h, 0, sizeof(h));
	(void)strlcpy(h.name, "mx.a.test", sizeof(h.name));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *dom = cases[i].rcpt_long ? name : "b.test";
		const char *hop = cases[i].hop == 0 ? NULL :
		    cases[i].hop == 1 ? "relay.test" : name;

		tls_policy_ctx_init(&c, &conf, NULL, NULL, &t, dom, hop);
		if (c.name_long != cases[i].name_long)
			fail_msg("case %zu: name_long %d", i, c.name_long);
		if (cases[i].name_long) {
			assert_int_equal(tls_policy_host(&c, &rt, &h, 25, &d,
			    &o), -1);
			assert_int_equal(o.kind, OUTCOME_DEFER);
			assert_string_equal(o.status, "4.7.5");
			assert_int_equal(tls_policy_sts(&c), 0);
			assert_string_equal(c.sts_why, "domain name too long");
		} else
			assert_int_equal(tls_policy_host(&c, &rt, &h, 25, &d,
			    &o), 0);
		tls_policy_ctx_free(&c);
	}
	/* at the limit: 255 octets decide as usual */
	memcpy(name + 248, ".a.test", 8);
	assert_int_equal(strlen(name), 255);
	tls_policy_ctx_init(&c, &conf, NULL, NULL, &t, name, NULL);
	assert_false(c.name_long);
	assert_int_equal(tls_policy_host(&c, &rt, &h, 25, &d, &o), 0);
	tls_policy_ctx_free(&c);
	config_free(&conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_relayed),
		cmocka_unit_test(test_ctx_name_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
