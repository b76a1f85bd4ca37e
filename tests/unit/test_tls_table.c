/* tls_table: line parsing, file loading with file:line errors, lookup. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "compat.h"
#include "tls_table.h"

static const struct {
	const char	*line;
	const char	*domain;	/* NULL: must fail */
	enum tls_level	 level;
	size_t		 nmatch;
	int		 min_proto, no_sts, no_dane;
} lines[] = {
	{ "example.org may", "example.org", TLS_LEVEL_MAY, 0, 0, 0, 0 },
	{ "Example.ORG. none", "example.org", TLS_LEVEL_NONE, 0, 0, 0, 0 },
	{ ".example.org encrypt", ".example.org", TLS_LEVEL_ENCRYPT, 0, 0, 0, 0 },
	{ "a.test verify match=mx1.a.test:mx2.a.test", "a.test",
	    TLS_LEVEL_VERIFY, 2, 0, 0, 0 },
	{ "a.test verify match=*.a.test", "a.test", TLS_LEVEL_VERIFY, 1, 0, 0, 0 },
	{ "a.test dane protocols=>=TLSv1.3", "a.test", TLS_LEVEL_DANE, 0,
	    TLS1_3_VERSION, 0, 0 },
	{ "a.test encrypt protocols=>=TLSv1.2", "a.test", TLS_LEVEL_ENCRYPT,
	    0, 0, 0, 0 },
	{ "a.test\tmay\tsts=off dane=off", "a.test", TLS_LEVEL_MAY, 0, 0, 1, 1 },
	{ "a.test mta-sts", "a.test", TLS_LEVEL_MTA_STS, 0, 0, 0, 0 },
	{ "a.test", NULL, 0, 0, 0, 0, 0 },
	{ "a.test secure", NULL, 0, 0, 0, 0, 0 },
	{ "a.test MAY", NULL, 0, 0, 0, 0, 0 },
	{ "a.test may match=x.a.test", NULL, 0, 0, 0, 0, 0 },
	{ "a.test verify match=", NULL, 0, 0, 0, 0, 0 },
	{ "a.test verify match=a::b", NULL, 0, 0, 0, 0, 0 },
	{ "a.test verify match=a:b:c:d:e", NULL, 0, 0, 0, 0, 0 },
	{ "a.test may protocols=TLSv1.3", NULL, 0, 0, 0, 0, 0 },
	{ "a.test may protocols=>=TLSv1.1", NULL, 0, 0, 0, 0, 0 },
	{ "a.test may sts=on", NULL, 0, 0, 0, 0, 0 },
	{ "a.test may foo", NULL, 0, 0, 0, 0, 0 },
	{ "a..test may", NULL, 0, 0, 0, 0, 0 },
	{ "*.a.test may", NULL, 0, 0, 0, 0, 0 },
	{ "a/test may", NULL, 0, 0, 0, 0, 0 },
};

static void
test_parse_lines(void **state)
{
	struct tls_table_entry	 e;
	const char		*err;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		err = tls_table_parse_line(lines[i].line, &e);
		if (lines[i].domain == NULL) {
			if (err == NULL)
				fail_msg("accepted: %s", lines[i].line);
			continue;
		}
		if (err != NULL)
			fail_msg("%s: %s", lines[i].line, err);
		assert_string_equal(e.domain, lines[i].domain);
		assert_int_equal(e.level, lines[i].level);
		assert_int_equal(e.nmatch, lines[i].nmatch);
		assert_int_equal(e.min_proto, lines[i].min_proto);
		assert_int_equal(e.no_sts, lines[i].no_sts);
		assert_int_equal(e.no_dane, lines[i].no_dane);
	}
}

static char *
write_file(const char *text)
{
	static char	 path[64];
	FILE		*fp;
	int		 fd;

	(void)snprintf(path, sizeof(path), "/tmp/test_tls_table.XXXXXX");
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(fp = fdopen(fd, "w"));
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static const struct {
	const char	*domain;
	const char	*want;	/* entry domain, NULL: none */
} lookups[] = {
	{ "example.org", "example.org" },
	{ "EXAMPLE.org.", "example.org" },
	{ "mx.example.org", ".example.org" },
	{ "a.b.example.org", ".b.example.org" },
	{ "b.example.org", ".example.org" },
	{ "example.net", NULL },
	{ "org", NULL },
	{ "xexample.org", NULL },
};

static void
test_load_lookup(void **state)
{
	struct tls_table	 t;
	const struct tls_table_entry *e;
	char			 err[256], *path;
	size_t			 i;

	(void)state;
	memset(&t, 0, sizeof(t));
	path = write_file("# comment\n\nexample.org verify match=mx.example.org"
	    " # why\n.example.org encrypt\n  .b.example.org none\n");
	assert_int_equal(tls_table_load(&t, path, err, sizeof(err)), 0);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.e[0].line, 3);
	for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		e = tls_table_lookup(&t, lookups[i].domain);
		if (lookups[i].want == NULL) {
			assert_null(e);
			continue;
		}
		assert_non_null(e);
		assert_string_equal(e->domain, lookups[i].want);
	}
	(void)unlink(path);

	/* A bad line: file:line error, the old table stays. */
	path = write_file("a.test may\nb.test maybe\n");
	assert_int_equal(tls_table_load(&t, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: unknown TLS level"));
	assert_int_equal(t.n, 3);
	assert_non_null(tls_table_lookup(&t, "example.org"));
	(void)unlink(path);

	assert_int_equal(tls_table_load(&t, "/nonexistent/tls_policy", err,
	    sizeof(err)), -1);
	assert_int_equal(t.n, 3);
	assert_int_equal(tls_table_load(&t, "", err, sizeof(err)), 0);
	assert_int_equal(t.n, 0);
	assert_null(tls_table_lookup(&t, "example.org"));
	tls_table_free(&t);
}

/* The recipient domain's entry and the next hop's: the stricter, with
 * the match= names of each verify entry and the higher protocols=. */
static const struct {
	const char	*dest, *hop;	/* table lines, NULL: no entry */
	int		 relayed;
	int		 null;		/* no entry applies */
	enum tls_level	 level;
	int		 line;		/* the deciding entry: 1 dest, 2 hop */
	const char	*match;		/* names joined by ':', "" none */
	int		 min_proto, no_sts, no_dane;
} merge[] = {
	{ NULL, NULL, 1, 1, 0, 0, "", 0, 0, 0 },
	/* the recipient domain's entry applies through a relay */
	{ "a.test verify", NULL, 1, 0, TLS_LEVEL_VERIFY, 1, "", 0, 0, 0 },
	{ "a.test verify", "10.1.2.3 may", 1, 0, TLS_LEVEL_VERIFY, 1, "", 0,
	    0, 0 },
	{ "a.test encrypt", "relay.test may sts=off", 1, 0, TLS_LEVEL_ENCRYPT,
	    1, "", 0, 0, 0 },
	{ "a.test may", "relay.test encrypt", 1, 0, TLS_LEVEL_ENCRYPT, 2, "",
	    0, 0, 0 },
	{ "a.test none", "relay.test may", 1, 0, TLS_LEVEL_MAY, 2, "", 0, 0,
	    0 },
	{ NULL, "relay.test encrypt", 1, 0, TLS_LEVEL_ENCRYPT, 2, "", 0, 0,
	    0 },
	/* two authenticated levels: the next hop's says how */
	{ "a.test dane", "relay.test verify", 1, 0, TLS_LEVEL_VERIFY, 2, "",
	    0, 0, 0 },
	{ "a.test verify", "relay.test dane", 1, 0, TLS_LEVEL_DANE, 2, "", 0,
	    0, 0 },
	{ "a.test dane", "relay.test may", 1, 0, TLS_LEVEL_DANE, 1, "", 0, 0,
	    0 },
	/* MTA-STS lists MX hosts; a relay is verified by its own name */
	{ "a.test mta-sts", NULL, 1, 0, TLS_LEVEL_VERIFY, 1, "", 0, 0, 0 },
	{ "a.test mta-sts", NULL, 0, 0, TLS_LEVEL_MTA_STS, 1, "", 0, 0, 0 },
	{ "a.test mta-sts", "relay.test encrypt", 1, 0, TLS_LEVEL_VERIFY, 1,
	    "", 0, 0, 0 },
	/* match= names of each verify entry */
	{ "a.test verify match=mx.a.test", "relay.test may", 1, 0,
	    TLS_LEVEL_VERIFY, 1, "mx.a.test", 0, 0, 0 },
	{ "a.test verify match=mx.a.test", "relay.test verify "
	    "match=r1.test:mx.a.test", 1, 0, TLS_LEVEL_VERIFY, 2,
	    "r1.test:mx.a.test", 0, 0, 0 },
	{ "a.test verify match=mx.a.test", "relay.test dane", 1, 0,
	    TLS_LEVEL_DANE, 2, "", 0, 0, 0 },
	{ "a.test verify match=a:b:c:d", "relay.test verify match=e", 1, 0,
	    TLS_LEVEL_VERIFY, 2, "e:a:b:c", 0, 0, 0 },
	/* protocols= the higher; sts=off and dane=off only from both */
	{ "a.test may protocols=>=TLSv1.3", "relay.test encrypt", 1, 0,
	    TLS_LEVEL_ENCRYPT, 2, "", TLS1_3_VERSION, 0, 0 },
	{ "a.test may dane=off", "relay.test may dane=off sts=off", 1, 0,
	    TLS_LEVEL_MAY, 2, "", 0, 0, 1 },
	{ "a.test may sts=off", "relay.test may dane=off", 1, 0,
	    TLS_LEVEL_MAY, 2, "", 0, 0, 0 },
};

static void
test_entry_stricter(void **state)
{
	struct tls_table_entry		 d, h, out;
	const struct tls_table_entry	*r;
	char				 names[1200];
	size_t				 i, j;

	(void)state;
	for (i = 0; i < sizeof(merge) / sizeof(merge[0]); i++) {
		if (merge[i].dest != NULL) {
			assert_null(tls_table_parse_line(merge[i].dest, &d));
			d.line = 1;
		}
		if (merge[i].hop != NULL) {
			assert_null(tls_table_parse_line(merge[i].hop, &h));
			h.line = 2;
		}
		r = tls_entry_stricter(merge[i].dest ? &d : NULL,
		    merge[i].hop ? &h : NULL, merge[i].relayed, &out);
		if (merge[i].null) {
			assert_null(r);
			continue;
		}
		assert_ptr_equal(r, &out);
		if (r->level != merge[i].level || r->line != merge[i].line)
			fail_msg("case %zu: %s line %d", i,
			    tls_level_name(r->level), r->line);
		names[0] = '\0';
		for (j = 0; j < r->nmatch; j++) {
			if (j > 0)
				(void)strlcat(names, ":", sizeof(names));
			(void)strlcat(names, r->match[j], sizeof(names));
		}
		if (strcmp(names, merge[i].match) != 0)
			fail_msg("case %zu: match %s", i, names);
		assert_int_equal(r->min_proto, merge[i].min_proto);
		assert_int_equal(r->no_sts, merge[i].no_sts);
		assert_int_equal(r->no_dane, merge[i].no_dane);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test(test_load_lookup),
		cmocka_unit_test(test_entry_stricter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
