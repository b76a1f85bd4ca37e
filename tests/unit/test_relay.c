/* relay: CIDR parsing and matching (IPv4, IPv6, mapped), domain lists. */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "relay.h"

/* A sockaddr for a numeric address. */
static const struct sockaddr *
sa_of(const char *addr, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return (struct sockaddr *)ss;
	}
	assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
	sin6->sin6_family = AF_INET6;
	return (struct sockaddr *)ss;
}

static void
test_netmask_parse(void **state)
{
	static const struct {
		const char	*in;
		int		 ok, family, prefix;
	} cases[] = {
		{ "127.0.0.0/8",	1, AF_INET,	8 },
		{ "192.0.2.7",		1, AF_INET,	32 },
		{ "0.0.0.0/0",		1, AF_INET,	0 },
		{ "10.1.2.3/32",	1, AF_INET,	32 },
		{ "::1",		1, AF_INET6,	128 },
		{ "2001:db8::/32",	1, AF_INET6,	32 },
		{ "::/0",		1, AF_INET6,	0 },
		{ "::ffff:192.0.2.0/120", 1, AF_INET6,	120 },
		{ "",			0, 0,		0 },
		{ "/8",			0, 0,		0 },
		{ "10.0.0.0/",		0, 0,		0 },
		{ "10.0.0.0/33",	0, 0,		0 },
		{ "10.0.0.0/-1",	0, 0,		0 },
		{ "10.0.0.0/8x",	0, 0,		0 },
		{ "10.0.0/8",		0, 0,		0 },
		{ "2001:db8::/129",	0, 0,		0 },
		{ "example.org",	0, 0,		0 },
		{ "[::1]",		0, 0,		0 },
		{ "1.2.3.4 /8",		0, 0,		0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/8",
					0, 0,		0 },
	};
	struct netmask	 m;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *r = netmask_parse(cases[i].in, &m);

		if (!cases[i].ok) {
			assert_non_null(r);
			continue;
		}
		assert_null(r);
		assert_int_equal(m.family, cases[i].family);
		assert_int_equal(m.prefix, cases[i].prefix);
	}
	assert_non_null(netmask_parse(NULL, &m));
}

static void
test_netmask_match(void **state)
{
	static const struct {
		const char	*mask, *addr;
		int		 want;
	} cases[] = {
		{ "127.0.0.0/8",	"127.0.0.1",		1 },
		{ "127.0.0.0/8",	"127.255.255.254",	1 },
		{ "127.0.0.0/8",	"128.0.0.1",		0 },
		{ "192.0.2.0/25",	"192.0.2.127",		1 },
		{ "192.0.2.0/25",	"192.0.2.128",		0 },
		{ "192.0.2.7",		"192.0.2.7",		1 },
		{ "192.0.2.7",		"192.0.2.6",		0 },
		{ "192.0.2.77/24",	"192.0.2.1",		1 },
		{ "0.0.0.0/0",		"203.0.113.9",		1 },
		{ "0.0.0.0/0",		"::1",			0 },
		{ "10.0.0.0/8",		"::ffff:10.9.8.7",	1 },
		{ "10.0.0.0/8",		"::ffff:11.9.8.7",	0 },
		{ "10.0.0.0/8",		"::10.9.8.7",		0 },
		{ "::1",		"::1",			1 },
		{ "::1",		"::2",			0 },
		{ "::1",		"127.0.0.1",		0 },
		{ "2001:db8::/32",	"2001:db8:ffff::1",	1 },
		{ "2001:db8::/32",	"2001:db9::1",		0 },
		{ "2001:db8::/33",	"2001:db8:7fff::1",	1 },
		{ "2001:db8::/33",	"2001:db8:8000::1",	0 },
		{ "::/0",		"fe80::1",		1 },
		{ "::/0",		"192.0.2.1",		0 },
	};
	struct sockaddr_storage	 ss;
	struct netmask		 m;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_null(netmask_parse(cases[i].mask, &m));
		if (netmask_match(&m, sa_of(cases[i].addr, &ss)) !=
		    cases[i].want)
			fail_msg("%s in %s: want %d", cases[i].addr,
			    cases[i].mask, cases[i].want);
	}
	assert_int_equal(netmask_match(&m, NULL), 0);
}

static char *trusted[] = { "127.0.0.0/8", "bogus", "2001:db8:1::/48" };
static char *locals[] = { "example.org", "Example.NET.", ".sub.example.com" };
static char *relays[] = { "relay.example" };

static void
conf_fill(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->hostname = "mx.example.org";
	c->trusted_networks.v = trusted;
	c->trusted_networks.n = 3;
	c->local_domains.v = locals;
	c->local_domains.n = 3;
	c->relay_domains.v = relays;
	c->relay_domains.n = 1;
}

static void
test_trusted(void **state)
{
	static const struct {
		const char	*addr;
		int		 want;
	} cases[] = {
		{ "127.0.0.1",		1 },
		{ "::ffff:127.0.0.2",	1 },
		{ "192.0.2.1",		0 },
		{ "2001:db8:1:2::3",	1 },
		{ "2001:db8:2::3",	0 },
		{ "::1",		0 },
	};
	struct sockaddr_storage	 ss;
	struct config		 c;
	size_t			 i;

	(void)state;
	conf_fill(&c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (relay_client_trusted(&c, sa_of(cases[i].addr, &ss)) !=
		    cases[i].want)
			fail_msg("%s: want %d", cases[i].addr, cases[i].want);
	c.trusted_networks.n = 0;
	assert_int_equal(relay_client_trusted(&c, sa_of("127.0.0.1", &ss)), 0);
}

static void
test_domains(void **state)
{
	static const struct {
		const char	*domain;
		int		 local, accepted;
	} cases[] = {
		{ "example.org",	1, 1 },
		{ "EXAMPLE.ORG",	1, 1 },
		{ "example.org.",	1, 1 },
		{ "mx.example.org",	1, 1 },	/* the hostname */
		{ "MX.Example.Org.",	1, 1 },
		{ "example.net",	1, 1 },
		{ "a.sub.example.com",	1, 1 },
		{ "x.a.sub.example.com", 1, 1 },
		{ "sub.example.com",	0, 0 },	/* ".sub": below only */
		{ "xsub.example.com",	0, 0 },
		{ "relay.example",	0, 1 },
		{ "Relay.Example",	0, 1 },
		{ "a.relay.example",	0, 0 },
		{ "example.org.evil",	0, 0 },
		{ "evil-example.org",	0, 0 },
		{ "xexample.org",	0, 0 },
		{ "org",		0, 0 },
		{ "",			0, 0 },
		{ ".",			0, 0 },
	};
	struct config	 c;
	size_t		 i;

	(void)state;
	conf_fill(&c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (relay_domain_local(&c, cases[i].domain) != cases[i].local)
			fail_msg("local %s", cases[i].domain);
		if (relay_domain_accepted(&c, cases[i].domain) !=
		    cases[i].accepted)
			fail_msg("accepted %s", cases[i].domain);
	}
	assert_int_equal(relay_domain_local(&c, NULL), 0);
	assert_int_equal(relay_domain_accepted(&c, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netmask_parse),
		cmocka_unit_test(test_netmask_match),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_domains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
