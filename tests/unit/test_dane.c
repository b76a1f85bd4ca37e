/* dane: TLSA rdata parsing, usability for SMTP, RRset states. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dane.h"

static uint8_t	 d32[35], d64[67];

static const struct {
	uint8_t		 usage, selector, mtype;
	size_t		 len;		/* association data bytes */
	int		 usable;
} usab[] = {
	{ 3, 1, 1, 32, 1 },	/* DANE-EE SPKI SHA2-256 */
	{ 2, 1, 1, 32, 1 },	/* DANE-TA SPKI SHA2-256 */
	{ 3, 0, 1, 32, 1 },
	{ 2, 0, 2, 64, 1 },
	{ 3, 1, 0, 20, 1 },	/* full SPKI */
	{ 0, 1, 1, 32, 0 },	/* PKIX-TA */
	{ 1, 1, 1, 32, 0 },	/* PKIX-EE */
	{ 4, 1, 1, 32, 0 },	/* unknown usage */
	{ 3, 2, 1, 32, 0 },	/* unknown selector */
	{ 3, 1, 3, 32, 0 },	/* unknown matching type */
	{ 3, 1, 1, 31, 0 },	/* SHA2-256 of the wrong length */
	{ 3, 1, 2, 32, 0 },	/* SHA2-512 of the wrong length */
	{ 3, 1, 0, 0, 0 },	/* empty full data */
};

static void
test_usable(void **state)
{
	struct tls_tlsa	 t;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(usab) / sizeof(usab[0]); i++) {
		d64[0] = usab[i].usage;
		d64[1] = usab[i].selector;
		d64[2] = usab[i].mtype;
		assert_null(dane_tlsa_parse(d64, 3 + usab[i].len, &t));
		assert_int_equal(t.usage, usab[i].usage);
		assert_int_equal(t.len, usab[i].len);
		if ((dane_tlsa_unusable(&t) == NULL) != usab[i].usable)
			fail_msg("case %zu", i);
	}
	assert_non_null(dane_tlsa_parse(d64, 2, &t));
	assert_non_null(dane_tlsa_parse(d64, 0, &t));
}

static void
test_rrset(void **state)
{
	struct dane_result	 r;
	struct dns_rr		 rr[3];
	char			 text[128];

	(void)state;
	memset(&r, 0, sizeof(r));
	memcpy(d32, "\x03\x01\x01", 3);
	memset(d32 + 3, 0xab, 32);
	memcpy(d64, "\x01\x01\x01", 3);
	rr[0].data = d64;		/* PKIX-EE: unusable */
	rr[0].len = 35;
	rr[1].data = d32;		/* DANE-EE: usable */
	rr[1].len = 35;
	rr[2].data = d32;		/* malformed: skipped */
	rr[2].len = 2;
	dane_result_set(&r, "mx.a.test", rr, 3);
	assert_int_equal(r.state, DANE_USABLE);
	assert_int_equal(r.nrr, 2);
	assert_int_equal(r.nusable, 1);
	assert_int_equal(r.usable[0].usage, 3);
	assert_string_equal(r.base, "mx.a.test");
	dane_tlsa_format(&r.usable[0], text, sizeof(text));
	assert_int_equal(strncmp(text, "3 1 1 abababab", 14), 0);
	assert_int_equal(strlen(text), 6 + 64);
	dane_tlsa_format(&r.usable[0], text, 12);
	assert_string_equal(text, "3 1 1 abab");

	dane_result_set(&r, "mx.a.test", rr, 1);
	assert_int_equal(r.state, DANE_UNUSABLE);
	assert_int_equal(r.nusable, 0);
	dane_result_set(&r, "mx.a.test", rr + 2, 1);
	assert_int_equal(r.state, DANE_UNUSABLE);
	dane_result_free(&r);
	assert_string_equal(dane_state_name(DANE_BOGUS), "bogus");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_rrset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
