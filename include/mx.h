/*
 * mx: the route to a domain, RFC 5321 §5.1.  MX hosts in preference order
 * with equal preferences shuffled per attempt, implicit MX (the domain's
 * own addresses) when there is no MX RRset, null MX (RFC 7505), each
 * host's IPv6 and IPv4 addresses with their DNSSEC status.  A failed
 * address lookup never makes a host "insecure" (mx_addr_sec()).  When postern
 * is itself an MX, hosts at or below its own preference are dropped
 * (mail crosses firewalls by going only to more preferred hosts).
 * Ordering and truncation are pure functions, unit-tested by tables.
 */
#ifndef POSTERN_MX_H
#define POSTERN_MX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "dns.h"

struct outcome;

struct mx_addr {
	int		 family;	/* AF_INET, AF_INET6 */
	uint8_t		 addr[16];
	char		 text[48];	/* numeric form */
};

struct mx_host {
	char		 name[256];	/* lower case, no trailing dot */
	int		 pref;
	enum dns_sec	 addr_sec;	/* of its A/AAAA answers: mx_addr_sec() */
	enum dns_rc	 addr_rc;	/* DNS_FOUND if any address */
	int		 addr_partial;	/* one family's lookup failed */
	char		 cname[256];	/* target of a secure CNAME, or "" */
	struct mx_addr	*addrs;
	size_t		 naddrs;
};

struct mx_route {
	char		 domain[256];
	enum dns_sec	 mx_sec;	/* of the MX RRset (or of the A/AAAA for implicit MX) */
	int		 implicit;	/* no MX RRset: the domain itself */
	int		 nullmx;	/* "0 ." RFC 7505 */
	struct mx_host	*hosts;
	size_t		 nhosts;
};

/* Who "myself" is, for own-preference truncation. */
struct mx_self {
	const char	*const *names;	/* configured host names */
	size_t		 nnames;
	const struct mx_addr *addrs;	/* local addresses */
	size_t		 naddrs;
};

/*
 * Resolves the route.  0 with at least one usable host, or -1 with why set:
 *   DEFER 4.4.3  MX lookup failed or bogus ("DNSSEC validation failed for
 *                MX of D: why"), or every host's addresses failed or bogus
 *   DEFER 5.4.6  "mail for D loops back to myself": own-preference
 *                truncation left nothing (the caller decides permanence)
 *   BOUNCE 5.1.2 NXDOMAIN;  5.1.10 null MX;  5.4.4 no host has an address
 * A host whose A or AAAA answer is bogus is dropped (logged).  self may be
 * NULL.  seed orders equal preferences (mx_sort).
 */
int	mx_route_build(struct dns_ctx *, const char *domain,
	    const struct mx_self *, uint32_t seed, struct mx_route *,
	    struct outcome *why);
/* A route to one fixed host (relayhost, transport): "[host]" means no MX
 * lookup, bare host means MX lookup of host. */
int	mx_route_host(struct dns_ctx *, const char *host, int no_mx,
	    struct mx_route *, struct outcome *why);
void	mx_route_free(struct mx_route *);

/* Pure: MX rdata (RFC 1035 §3.3.9) to preference and exchange name ("" for
 * the root, as in a null MX).  NULL, or a reason when malformed. */
const char *mx_parse_rdata(const uint8_t *rdata, size_t len, int *pref,
	    char *name, size_t namelen);
/* Pure: the DNSSEC status of a host's addresses from the status of its
 * AAAA and A answers (RFC 7672 §2.1.1, §2.2.1).  Bogus when either is
 * bogus; an indeterminate answer (no complete reply) proves nothing, so
 * the other family's complete answer decides; two complete answers give
 * the weaker; two indeterminate ones stay indeterminate. */
enum dns_sec mx_addr_sec(enum dns_sec aaaa, enum dns_sec a);
/* Pure: sorts by preference, shuffling equal preferences with seed. */
void	mx_sort(struct mx_host *, size_t, uint32_t seed);
/* Pure: index of the first host whose preference is >= the lowest
 * preference at which self appears, or n when self is not listed. */
size_t	mx_self_cut(const struct mx_host *, size_t, const struct mx_self *);

#endif
