/*
 * Relay control: mail for the host name, local_domains and relay_domains
 * is accepted from anyone; any other destination only from a client in
 * trusted_networks.  Without this an MTA is an open relay (RFC 5321
 * §3.6.2 leaves relaying to local policy; RFC 2505 §2 asks for this one).
 *
 * Domain entries match case-insensitively and ignore one trailing dot;
 * an entry starting with "." (".example.org") matches every subdomain
 * of example.org but not example.org itself.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "config.h"
#include "relay.h"
#include "util.h"

/* Longest text form we parse: an IPv6 address and "/128". */
#define NETMASK_TEXT_MAX	(INET6_ADDRSTRLEN + 4)

const char *
netmask_parse(const char *s, struct netmask *m)
{
	char			 addr[NETMASK_TEXT_MAX + 1];
	const char		*slash;
	size_t			 alen;
	unsigned long long	 prefix;
	int			 max;

	memset(m, 0, sizeof(*m));
	if (s == NULL || *s == '\0')
		return "empty network";
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		return "bad network address";
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, m->addr) == 1) {
		m->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, m->addr) == 1) {
		m->family = AF_INET6;
		max = 128;
	} else
		return "bad network address";
	m->prefix = max;
	if (slash != NULL) {
		if (parse_ull(slash + 1, (unsigned long long)max, &prefix) == -1)
			return "bad prefix length";
		m->prefix = (int)prefix;
	}
	return NULL;
}

/* Compares the first prefix bits of a and b. */
static int
prefix_eq(const unsigned char *a, const unsigned char *b, int prefix)
{
	int		 bytes = prefix / 8, bits = prefix % 8;
	unsigned char	 mask;

	if (bytes > 0 && memcmp(a, b, (size_t)bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

int
netmask_match(const struct netmask *m, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const unsigned char		*a;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		if (m->family != AF_INET)
			return 0;
		return prefix_eq((const unsigned char *)&sin->sin_addr,
		    m->addr, m->prefix);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)sa;
	a = (const unsigned char *)&sin6->sin6_addr;
	if (m->family == AF_INET6)
		return prefix_eq(a, m->addr, m->prefix);
	/* An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d
	 * (RFC 4291 §2.5.5.2): it is the IPv4 client for policy. */
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return prefix_eq(a + 12, m->addr, m->prefix);
	return 0;
}

int
relay_client_trusted(const struct config *conf, const struct sockaddr *sa)
{
	struct netmask	 m;
	size_t		 i;

	for (i = 0; i < conf->trusted_networks.n; i++) {
		/* postern -n and start refuse bad entries (check.c). */
		if (netmask_parse(conf->trusted_networks.v[i], &m) != NULL)
			continue;
		if (netmask_match(&m, sa))
			return 1;
	}
	return 0;
}

/* (ptr,len) without one trailing dot. */
static size_t
dlen(const char *d)
{
	size_t	 n = strlen(d);

	if (n > 0 && d[n - 1] == '.')
		n--;
	return n;
}

static int
domain_match(const char *pattern, const char *domain)
{
	size_t	 plen = dlen(pattern), len = dlen(domain);

	if (plen == 0 || len == 0)
		return 0;
	if (pattern[0] == '.') {
		/* ".example.org": strictly below example.org */
		if (len <= plen)
			return 0;
		return strncasecmp(domain + len - plen, pattern, plen) == 0;
	}
	return len == plen && strncasecmp(domain, pattern, len) == 0;
}

static int
list_match(const struct strlist *l, const char *domain)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (domain_match(l->v[i], domain))
			return 1;
	return 0;
}

int
relay_domain_local(const struct config *conf, const char *domain)
{
	if (domain == NULL || *domain == '\0')
		return 0;
	if (conf->hostname != NULL && domain_match(conf->hostname, domain))
		return 1;
	return list_match(&conf->local_domains, domain);
}

int
relay_domain_accepted(const struct config *conf, const char *domain)
{
	if (relay_domain_local(conf, domain))
		return 1;
	if (domain == NULL || *domain == '\0')
		return 0;
	return list_match(&conf->relay_domains, domain);
}
