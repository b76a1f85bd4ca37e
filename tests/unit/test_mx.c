/* dns, mx: wire names, MX rdata, ordering, own-preference truncation,
 * resolver context set-up. */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "compat.h"
#include "config.h"
#include "dns.h"
#include "mx.h"

#define W(s)	(const uint8_t *)(s), sizeof(s) - 1

static void
test_name_to_text(void **state)
{
	static const struct {
		const uint8_t	*in;
		size_t		 len, off, outlen;
		int		 rc;
		const char	*want;
	} cases[] = {
		{ W("\3mx1\7example\0"), 0, 256, 13, "mx1.example" },
		{ W("\0"), 0, 256, 1, "" },			/* root */
		{ W("\3MX1\2Ex\0"), 0, 256, 8, "mx1.ex" },	/* lower */
		{ W("\0\12\3mx1\0"), 2, 256, 5, "mx1" },	/* offset */
		{ W("\3mx1\0trailing"), 0, 256, 5, "mx1" },
		{ W("\3a.b\0"), 0, 256, 5, "a\\.b" },		/* escapes */
		{ W("\2a\\\0"), 0, 256, 4, "a\\\\" },
		{ W("\1\0\0"), 0, 256, 3, "\\000" },
		{ W("\2a \0"), 0, 256, 4, "a\\032" },
		{ W("\3mx1\7example\0"), 0, 12, 13, "mx1.example" },
		{ W("\3mx1\7example\0"), 0, 11, -1, NULL },	/* no room */
		{ W("\1\0\0"), 0, 4, -1, NULL },
		{ W("\300\014"), 0, 256, -1, NULL },	/* compression */
		{ W("\3mx1\300\014"), 0, 256, -1, NULL },
		{ W("\101abc\0"), 0, 256, -1, NULL },	/* 0x41: extended */
		{ W("\5ab"), 0, 256, -1, NULL },	/* label past end */
		{ W("\2ab"), 0, 256, -1, NULL },	/* no root label */
		{ W(""), 0, 256, -1, NULL },
		{ W("\0"), 1, 256, -1, NULL },		/* offset at end */
		{ W("\0"), 7, 256, -1, NULL },		/* offset past end */
		{ W("\3mx1\0"), 0, 0, -1, NULL },
	};
	char	 out[256];
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = dns_name_to_text(cases[i].in, cases[i].len, cases[i].off,
		    out, cases[i].outlen);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
		if (rc != -1)
			assert_string_equal(out, cases[i].want);
	}
}

/* RFC 1035 §2.3.4: 63-octet labels, 255-octet names. */
static void
test_name_limits(void **state)
{
	uint8_t	 wire[300];
	char	 out[1100];
	size_t	 n = 0, i;

	(void)state;
	/* Three 63-octet labels and one of 61: 3*64 + 62 + 1 = 255. */
	for (i = 0; i < 4; i++) {
		size_t l = i < 3 ? 63 : 61;

		wire[n++] = (uint8_t)l;
		memset(wire + n, 'a', l);
		n += l;
	}
	wire[n++] = 0;
	assert_int_equal(dns_name_to_text(wire, n, 0, out, sizeof(out)), 255);
	assert_int_equal(strlen(out), 253);
	/* One octet more is over the limit. */
	wire[192] = 62;
	memset(wire + 193, 'a', 62);
	wire[255] = 0;
	assert_int_equal(dns_name_to_text(wire, 256, 0, out, sizeof(out)),
	    -1);
	/* A 64-octet label is not a label. */
	wire[0] = 64;
	memset(wire + 1, 'a', 64);
	wire[65] = 0;
	assert_int_equal(dns_name_to_text(wire, 66, 0, out, sizeof(out)), -1);
}

static void
test_parse_rdata(void **state)
{
	static const struct {
		const uint8_t	*in;
		size_t		 len;
		int		 ok, pref;
		const char	*name;
	} cases[] = {
		{ W("\0\12\3mx1\7example\0"), 1, 10, "mx1.example" },
		{ W("\0\0\0"), 1, 0, "" },			/* null MX */
		{ W("\377\377\2mx\0"), 1, 65535, "mx" },
		{ W("\1\0\2MX\0"), 1, 256, "mx" },
		{ W("\0\12"), 0, 0, NULL },			/* no name */
		{ W("\0"), 0, 0, NULL },
		{ W(""), 0, 0, NULL },
		{ W("\0\12\3mx1\0x"), 0, 0, NULL },		/* trailing */
		{ W("\0\12\3mx1"), 0, 0, NULL },		/* unterminated */
		{ W("\0\12\300\014"), 0, 0, NULL },		/* pointer */
		{ W("\0\12\7mx\0"), 0, 0, NULL },		/* label past end */
	};
	char		 name[256];
	const char	*err;
	size_t		 i;
	int		 pref;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pref = -1;
		err = mx_parse_rdata(cases[i].in, cases[i].len, &pref, name,
		    sizeof(name));
		if ((err == NULL) != cases[i].ok)
			fail_msg("case %zu: %s", i, err ? err : "accepted");
		if (err != NULL)
			continue;
		assert_int_equal(pref, cases[i].pref);
		assert_string_equal(name, cases[i].name);
	}
}

static size_t
make_hosts(struct mx_host *h, const int *prefs, size_t n)
{
	size_t	 i;

	memset(h, 0, n * sizeof(*h));
	for (i = 0; i < n; i++) {
		h[i].pref = prefs[i];
		(void)snprintf(h[i].name, sizeof(h[i].name), "h%zu", i);
	}
	return n;
}

static void
test_sort_order(void **state)
{
	static const struct {
		int	 in[6];
		size_t	 n;
		int	 want[6];
	} cases[] = {
		{ { 30, 10, 20 }, 3, { 10, 20, 30 } },
		{ { 10 }, 1, { 10 } },
		{ { 0 }, 0, { 0 } },
		{ { 5, 5, 0, 65535, 5, 0 }, 6, { 0, 0, 5, 5, 5, 65535 } },
		{ { 20, 10, 20, 10, 20, 10 }, 6, { 10, 10, 10, 20, 20, 20 } },
	};
	struct mx_host	 h[6], h2[6];
	uint32_t	 seed;
	size_t		 i, j, k, n;
	int		 seen;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (seed = 0; seed < 50; seed++) {
			n = make_hosts(h, cases[i].in, cases[i].n);
			mx_sort(h, n, seed);
			for (j = 0; j < n; j++)
				assert_int_equal(h[j].pref, cases[i].want[j]);
			/* Every host still there, with its own preference. */
			for (k = 0; k < n; k++) {
				for (seen = 0, j = 0; j < n; j++)
					if ((size_t)(h[j].name[1] - '0') == k) {
						assert_int_equal(h[j].pref,
						    cases[i].in[k]);
						seen++;
					}
				assert_int_equal(seen, 1);
			}
			/* Pure: the same seed gives the same order. */
			make_hosts(h2, cases[i].in, cases[i].n);
			mx_sort(h2, n, seed);
			for (j = 0; j < n; j++)
				assert_string_equal(h[j].name, h2[j].name);
		}
}

/* RFC 5321 §5.1: equal preferences in random order, over seeds. */
static void
test_sort_shuffle(void **state)
{
	static const int prefs[] = { 20, 10, 10, 10, 5 };
	struct mx_host	 h[5];
	unsigned	 first[5] = { 0 }, pos_h1[5] = { 0 };
	uint32_t	 seed;
	size_t		 j;

	(void)state;
	for (seed = 0; seed < 300; seed++) {
		make_hosts(h, prefs, 5);
		mx_sort(h, 5, seed);
		assert_string_equal(h[0].name, "h4");
		assert_string_equal(h[4].name, "h0");
		first[h[1].name[1] - '0']++;
		for (j = 0; j < 5; j++)
			if (strcmp(h[j].name, "h1") == 0)
				pos_h1[j]++;
	}
	/* Each of the three pref-10 hosts leads its group sometimes. */
	for (j = 1; j <= 3; j++)
		assert_true(first[j] > 30);
	for (j = 1; j <= 3; j++)
		assert_true(pos_h1[j] > 30);
}

struct cut_host {
	const char	*name;
	int		 pref;
	const char	*addr;
};

static void
fill_cut(struct mx_host *h, struct mx_addr *a, const struct cut_host *in,
    size_t n)
{
	size_t	 i;

	memset(h, 0, n * sizeof(*h));
	for (i = 0; i < n; i++) {
		(void)strlcpy(h[i].name, in[i].name, sizeof(h[i].name));
		h[i].pref = in[i].pref;
		if (in[i].addr == NULL)
			continue;
		memset(&a[i], 0, sizeof(a[i]));
		a[i].family = strchr(in[i].addr, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(a[i].family, in[i].addr,
		    a[i].addr), 1);
		h[i].addrs = &a[i];
		h[i].naddrs = 1;
	}
}

static void
test_self_cut(void **state)
{
	static const struct {
		struct cut_host	 hosts[4];
		size_t		 n;
		const char	*names[2];
		const char	*addrs[2];
		size_t		 want;
	} cases[] = {
		/* not listed */
		{ { { "a.ex", 10, "192.0.2.1" }, { "b.ex", 20, "192.0.2.2" } },
		    2, { "me.ex" }, { "192.0.2.9" }, 2 },
		/* by name, at the second preference */
		{ { { "a.ex", 10, NULL }, { "me.ex", 20, NULL },
		    { "c.ex", 30, NULL } }, 3, { "me.ex" }, { NULL }, 1 },
		/* most preferred: nothing left */
		{ { { "me.ex", 10, NULL }, { "b.ex", 20, NULL } }, 2,
		    { "me.ex" }, { NULL }, 0 },
		/* equal preference peers go too */
		{ { { "a.ex", 10, NULL }, { "b.ex", 20, NULL },
		    { "me.ex", 20, NULL }, { "d.ex", 30, NULL } }, 4,
		    { "me.ex" }, { NULL }, 1 },
		/* case and trailing dot do not matter */
		{ { { "a.ex", 10, NULL }, { "me.ex", 20, NULL } }, 2,
		    { "ME.Ex." }, { NULL }, 1 },
		/* a suffix is not the same name */
		{ { { "a.ex", 10, NULL }, { "xme.ex", 20, NULL } }, 2,
		    { "me.ex" }, { NULL }, 2 },
		/* by IPv4 address */
		{ { { "a.ex", 10, "192.0.2.1" }, { "b.ex", 20, "192.0.2.2" } },
		    2, { "me.ex" }, { "192.0.2.2" }, 1 },
		/* by IPv6 address, second self name unused */
		{ { { "a.ex", 10, "2001:db8::1" }, { "b.ex", 20, "2001:db8::2" } },
		    2, { "x.ex", "y.ex" }, { "2001:db8::1" }, 0 },
		/* IPv4 bytes inside an IPv6 address are not that address */
		{ { { "a.ex", 10, "c000:201::" } }, 1, { "x.ex" },
		    { "192.0.2.1" }, 1 },
		/* listed twice: the lowest preference counts */
		{ { { "a.ex", 10, NULL }, { "me.ex", 20, NULL },
		    { "b.ex", 30, "192.0.2.9" } }, 3, { "me.ex" },
		    { "192.0.2.9" }, 1 },
		{ { { "a.ex", 0, NULL } }, 0, { "a.ex" }, { NULL }, 0 },
	};
	struct mx_host	 h[4];
	struct mx_addr	 ha[4], sa[2];
	struct mx_self	 self;
	size_t		 i, j, got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill_cut(h, ha, cases[i].hosts, cases[i].n);
		memset(&self, 0, sizeof(self));
		self.names = cases[i].names;
		self.nnames = cases[i].names[1] ? 2 : 1;
		for (j = 0; j < 2 && cases[i].addrs[j]; j++) {
			memset(&sa[j], 0, sizeof(sa[j]));
			sa[j].family = strchr(cases[i].addrs[j], ':') ?
			    AF_INET6 : AF_INET;
			assert_int_equal(inet_pton(sa[j].family,
			    cases[i].addrs[j], sa[j].addr), 1);
		}
		self.addrs = sa;
		self.naddrs = j;
		got = mx_self_cut(h, cases[i].n, &self);
		if (got != cases[i].want)
			fail_msg("case %zu: cut %zu, want %zu", i, got,
			    cases[i].want);
	}
	assert_int_equal(mx_self_cut(h, 2, NULL), 2);
}

/* RFC 7672 §2.1.1: a failed lookup of one family never makes a host
 * insecure; only complete answers say what the host's status is. */
static void
test_addr_sec(void **state)
{
	static const struct {
		enum dns_sec	 aaaa, a, want;
	} t[] = {
		{ DNS_SECURE, DNS_SECURE, DNS_SECURE },
		{ DNS_SECURE, DNS_INSECURE, DNS_INSECURE },
		{ DNS_INSECURE, DNS_SECURE, DNS_INSECURE },
		{ DNS_INSECURE, DNS_INSECURE, DNS_INSECURE },
		/* a dropped AAAA under a secure A: still secure */
		{ DNS_INDETERMINATE, DNS_SECURE, DNS_SECURE },
		{ DNS_SECURE, DNS_INDETERMINATE, DNS_SECURE },
		{ DNS_INDETERMINATE, DNS_INSECURE, DNS_INSECURE },
		{ DNS_INSECURE, DNS_INDETERMINATE, DNS_INSECURE },
		/* nothing came back: nothing is proven */
		{ DNS_INDETERMINATE, DNS_INDETERMINATE, DNS_INDETERMINATE },
		/* bogus anywhere wins */
		{ DNS_BOGUS, DNS_SECURE, DNS_BOGUS },
		{ DNS_SECURE, DNS_BOGUS, DNS_BOGUS },
		{ DNS_BOGUS, DNS_INDETERMINATE, DNS_BOGUS },
		{ DNS_INDETERMINATE, DNS_BOGUS, DNS_BOGUS },
		{ DNS_INSECURE, DNS_BOGUS, DNS_BOGUS },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(mx_addr_sec(t[i].aaaa, t[i].a), t[i].want);
	/* A reply nobody filled in is indeterminate, never insecure. */
	assert_int_equal((enum dns_sec)0, DNS_INDETERMINATE);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(dns_rc_name(DNS_FOUND), "found");
	assert_string_equal(dns_rc_name(DNS_NODATA), "nodata");
	assert_string_equal(dns_rc_name(DNS_NXDOMAIN), "nxdomain");
	assert_string_equal(dns_rc_name(DNS_TEMPFAIL), "tempfail");
	assert_string_equal(dns_sec_name(DNS_SECURE), "secure");
	assert_string_equal(dns_sec_name(DNS_INSECURE), "insecure");
	assert_string_equal(dns_sec_name(DNS_BOGUS), "bogus");
	assert_string_equal(dns_sec_name(DNS_INDETERMINATE), "indeterminate");
}

/* Resolver set-up errors are start-up errors (no query is sent). */
static void
test_dns_new(void **state)
{
	static const struct {
		enum resolver_mode	 mode;
		const char		*fwd, *hints, *anchor;
		const char		*opt;
		int			 ok;
	} cases[] = {
		{ RESOLVER_FORWARD, "127.0.0.1@5353", "", "", NULL, 1 },
		{ RESOLVER_FORWARD, "::1", "", "", NULL, 1 },
		{ RESOLVER_FORWARD, "", "", "", NULL, 0 },
		{ RESOLVER_FORWARD, "not-an-address", "", "", NULL, 0 },
		{ RESOLVER_RECURSIVE, "", "/usr/share/dns/root.hints",
		    "/usr/share/dns/root.ds", NULL, 1 },
		{ RESOLVER_RECURSIVE, "", "/nonexistent/hints", "", NULL, 0 },
		{ RESOLVER_RECURSIVE, "", "", "/nonexistent/anchor", NULL, 0 },
		{ RESOLVER_FORWARD, "127.0.0.1", "", "",
		    "do-not-query-localhost: no", 1 },
		{ RESOLVER_FORWARD, "127.0.0.1", "", "",
		    "local-zone: \"test.\" nodefault", 1 },
		{ RESOLVER_FORWARD, "127.0.0.1", "", "",
		    "qname-minimisation:no", 1 },
		{ RESOLVER_FORWARD, "127.0.0.1", "", "",
		    "no-such-option: yes", 0 },
		{ RESOLVER_FORWARD, "127.0.0.1", "", "",
		    "do-not-query-localhost: maybe", 0 },
		{ RESOLVER_FORWARD, "127.0.0.1", "", "", "no colon", 0 },
		{ RESOLVER_FORWARD, "127.0.0.1", "", "", ": value", 0 },
	};
	struct config	 conf;
	struct dns_ctx	*ctx;
	char		 err[256], *opts[1];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&conf, 0, sizeof(conf));
		conf.dnssec = 1;
		conf.resolver = cases[i].mode;
		conf.resolver_forward = (char *)cases[i].fwd;
		conf.resolver_root_hints = (char *)cases[i].hints;
		conf.resolver_trust_anchor = (char *)cases[i].anchor;
		opts[0] = (char *)cases[i].opt;
		conf.resolver_options.v = opts;
		conf.resolver_options.n = cases[i].opt ? 1 : 0;
		err[0] = '\0';
		ctx = dns_new(&conf, err, sizeof(err));
		if ((ctx != NULL) != cases[i].ok)
			fail_msg("case %zu: %s", i, ctx ? "accepted" : err);
		if (ctx == NULL)
			assert_true(err[0] != '\0');
		dns_free(ctx);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_to_text),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_parse_rdata),
		cmocka_unit_test(test_sort_order),
		cmocka_unit_test(test_sort_shuffle),
		cmocka_unit_test(test_self_cut),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_addr_sec),
		cmocka_unit_test(test_dns_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
