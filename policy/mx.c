/*
 * The route to a domain, RFC 5321 §5.1: MX hosts in preference order,
 * equal preferences shuffled, implicit MX when the domain has no MX
 * RRset, null MX (RFC 7505), own-preference truncation, then each
 * remaining host's AAAA and A addresses with their DNSSEC status.
 * A bogus answer never yields a host or an address: the MX RRset being
 * bogus defers the whole route, a host's bogus address drops that host.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dns.h"
#include "log.h"
#include "mx.h"
#include "outcome.h"
#include "util.h"

#define RR_A		1
#define RR_MX		15
#define RR_AAAA		28
/* Bounds on what one hostile zone can make a worker do. */
#define MX_MAX_HOSTS	16
#define MX_MAX_ADDRS	16

/* Weakest first: a chain is only as strong as its weakest answer, and
 * no answer at all is weaker than a proof of no signature. */
static int
sec_rank(enum dns_sec s)
{
	switch (s) {
	case DNS_BOGUS:
		return 0;
	case DNS_INSECURE:
		return 2;
	case DNS_SECURE:
		return 3;
	default:
		return 1;
	}
}

static enum dns_sec
sec_weakest(enum dns_sec a, enum dns_sec b)
{
	return sec_rank(a) <= sec_rank(b) ? a : b;
}

enum dns_sec
mx_addr_sec(enum dns_sec aaaa, enum dns_sec a)
{
	if (aaaa == DNS_BOGUS || a == DNS_BOGUS)
		return DNS_BOGUS;
	if (aaaa == DNS_INDETERMINATE)
		return a;
	if (a == DNS_INDETERMINATE)
		return aaaa;
	return sec_weakest(aaaa, a);
}

const char *
mx_parse_rdata(const uint8_t *rd, size_t len, int *pref, char *name,
    size_t namelen)
{
	int	 n;

	/* RFC 1035 §3.3.9: PREFERENCE (16 bits), EXCHANGE (a name). */
	if (len < 3)
		return "MX rdata too short";
	*pref = (rd[0] << 8) | rd[1];
	if ((n = dns_name_to_text(rd, len, 2, name, namelen)) == -1)
		return "malformed MX exchange name";
	if ((size_t)n != len - 2)
		return "trailing bytes after MX exchange name";
	return NULL;
}

/* Small deterministic generator (splitmix32): same seed, same order. */
static uint32_t
mx_rand(uint32_t *state)
{
	uint32_t	 z;

	*state += 0x9e3779b9U;
	z = *state;
	z = (z ^ (z >> 16)) * 0x85ebca6bU;
	z = (z ^ (z >> 13)) * 0xc2b2ae35U;
	return z ^ (z >> 16);
}

static void
mx_swap(struct mx_host *a, struct mx_host *b)
{
	struct mx_host	 t = *a;

	*a = *b;
	*b = t;
}

void
mx_sort(struct mx_host *h, size_t n, uint32_t seed)
{
	size_t		 i, j, run, k;
	uint32_t	 state = seed;

	/* Insertion sort: stable, and n is bounded by MX_MAX_HOSTS in
	 * practice (a full RRset fits one DNS message). */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && h[j - 1].pref > h[j].pref; j--)
			mx_swap(&h[j - 1], &h[j]);
	/* RFC 5321 §5.1: equal preferences are tried in random order so
	 * load spreads over them; Fisher-Yates over each run. */
	for (i = 0; i < n; i = run) {
		for (run = i + 1; run < n && h[run].pref == h[i].pref; run++)
			;
		for (k = run - i; k > 1; k--) {
			j = mx_rand(&state) % k;
			mx_swap(&h[i + k - 1], &h[i + j]);
		}
	}
}

static int
mx_is_self(const struct mx_host *h, const struct mx_self *self)
{
	size_t	 i, j, alen;

	for (i = 0; i < self->nnames; i++) {
		const char	*s = self->names[i];
		size_t		 sl = strlen(s);

		/* Trailing dot and case do not make a different host. */
		if (sl > 0 && s[sl - 1] == '.')
			sl--;
		if (strlen(h->name) == sl && strncasecmp(h->name, s, sl) == 0)
			return 1;
	}
	for (i = 0; i < h->naddrs; i++)
		for (j = 0; j < self->naddrs; j++) {
			if (h->addrs[i].family != self->addrs[j].family)
				continue;
			alen = h->addrs[i].family == AF_INET6 ? 16 : 4;
			if (memcmp(h->addrs[i].addr, self->addrs[j].addr,
			    alen) == 0)
				return 1;
		}
	return 0;
}

size_t
mx_self_cut(const struct mx_host *h, size_t n, const struct mx_self *self)
{
	size_t	 i, cut;
	int	 found = 0, lowest = 0;

	if (self == NULL)
		return n;
	for (i = 0; i < n; i++)
		if (mx_is_self(&h[i], self) && (!found || h[i].pref < lowest)) {
			found = 1;
			lowest = h[i].pref;
		}
	if (!found)
		return n;
	/* RFC 5321 §5.1: only hosts strictly more preferred than us. */
	for (cut = 0; cut < n && h[cut].pref < lowest; cut++)
		;
	return cut;
}

static void
mx_host_clear(struct mx_host *h)
{
	free(h->addrs);
	h->addrs = NULL;
	h->naddrs = 0;
}

void
mx_route_free(struct mx_route *r)
{
	size_t	 i;

	for (i = 0; i < r->nhosts; i++)
		mx_host_clear(&r->hosts[i]);
	free(r->hosts);
	r->hosts = NULL;
	r->nhosts = 0;
}

static struct mx_host *
mx_add_host(struct mx_route *r, const char *name, int pref)
{
	struct mx_host	*h;

	r->hosts = xreallocarray(r->hosts, r->nhosts + 1, sizeof(*r->hosts));
	h = &r->hosts[r->nhosts++];
	memset(h, 0, sizeof(*h));
	(void)strlcpy(h->name, name, sizeof(h->name));
	domain_normalize(h->name);
	h->pref = pref;
	h->addr_sec = DNS_INDETERMINATE;
	h->addr_rc = DNS_NODATA;
	return h;
}

static void
mx_add_addr(struct mx_host *h, int family, const uint8_t *a)
{
	struct mx_addr	*ma;

	if (h->naddrs >= MX_MAX_ADDRS)
		return;
	h->addrs = xreallocarray(h->addrs, h->naddrs + 1, sizeof(*h->addrs));
	ma = &h->addrs[h->naddrs++];
	memset(ma, 0, sizeof(*ma));
	ma->family = family;
	memcpy(ma->addr, a, family == AF_INET6 ? 16 : 4);
	(void)inet_ntop(family, a, ma->text, sizeof(ma->text));
}

/* One address family of a host: its addresses, and the answer's status
 * and code.  Bogus data is never used. */
static enum dns_sec
mx_host_family(struct dns_ctx *ctx, struct mx_host *h, int rrtype,
    enum dns_rc *rc)
{
	struct dns_reply r;
	enum dns_sec	 sec;
	size_t		 i, alen = rrtype == RR_AAAA ? 16 : 4;
	const char	*type = rrtype == RR_A ? "A" : "AAAA";

	(void)dns_query(ctx, h->name, rrtype, &r);
	*rc = r.rc;
	sec = r.sec;
	if (sec == DNS_BOGUS)
		log_warnx("mx: skipping %s: DNSSEC validation failed for "
		    "its %s: %s", h->name, type, r.why);
	else if (sec == DNS_INDETERMINATE)
		log_info("mx: %s: %s lookup failed: %s", h->name, type, r.why);
	for (i = 0; sec != DNS_BOGUS && r.rc == DNS_FOUND && i < r.nrr; i++)
		if (r.rr[i].len == alen)
			mx_add_addr(h, rrtype == RR_AAAA ? AF_INET6 : AF_INET,
			    r.rr[i].data);
	/* RFC 7672 §2.2.2: TLSA may live at the end of a secure CNAME. */
	if (sec == DNS_SECURE && r.rc == DNS_FOUND && h->cname[0] == '\0' &&
	    r.canon[0] != '\0' && strcasecmp(r.canon, h->name) != 0)
		(void)strlcpy(h->cname, r.canon, sizeof(h->cname));
	dns_reply_free(&r);
	return sec;
}

/* IPv6 first, then IPv4.  A family whose lookup failed adds nothing and
 * takes nothing away: the other family's status stands (mx_addr_sec). */
static void
mx_host_resolve(struct dns_ctx *ctx, struct mx_host *h)
{
	enum dns_rc	 rc6, rc4;
	enum dns_sec	 s6, s4;

	s6 = mx_host_family(ctx, h, RR_AAAA, &rc6);
	s4 = mx_host_family(ctx, h, RR_A, &rc4);
	h->addr_sec = mx_addr_sec(s6, s4);
	h->addr_partial = (s6 == DNS_INDETERMINATE) != (s4 ==
	    DNS_INDETERMINATE);
	if (h->addr_sec == DNS_BOGUS) {
		mx_host_clear(h);
		h->addr_rc = DNS_TEMPFAIL;
	} else if (h->naddrs > 0)
		h->addr_rc = DNS_FOUND;
	else if (rc6 == DNS_TEMPFAIL || rc4 == DNS_TEMPFAIL)
		h->addr_rc = DNS_TEMPFAIL;
	else if (rc6 == DNS_NXDOMAIN || rc4 == DNS_NXDOMAIN)
		h->addr_rc = DNS_NXDOMAIN;
	else
		h->addr_rc = DNS_NODATA;
}

/* MX RRset to hosts; -1 with why set for a null MX. */
static int
mx_from_reply(struct mx_route *rt, const struct dns_reply *r,
    struct outcome *why)
{
	char	 name[256];
	size_t	 i;
	int	 pref;
	const char *err;

	for (i = 0; i < r->nrr; i++) {
		err = mx_parse_rdata(r->rr[i].data, r->rr[i].len, &pref,
		    name, sizeof(name));
		if (err != NULL) {
			log_warnx("mx: %s: %s", rt->domain, err);
			continue;
		}
		/* RFC 7505 §3: "0 ." alone says no mail; a "." among
		 * other MX records is just a host that cannot be used. */
		if (name[0] == '\0') {
			if (r->nrr == 1 && pref == 0) {
				rt->nullmx = 1;
				outcome_set(why, OUTCOME_BOUNCE, "5.1.10",
				    "domain %s does not accept mail "
				    "(null MX)", rt->domain);
				return -1;
			}
			continue;
		}
		(void)mx_add_host(rt, name, pref);
	}
	return 0;
}

static int
mx_lookup(struct dns_ctx *ctx, struct mx_route *rt, struct outcome *why)
{
	struct dns_reply r;
	int		 rc = 0;

	(void)dns_query(ctx, rt->domain, RR_MX, &r);
	rt->mx_sec = r.sec;
	if (r.sec == DNS_BOGUS) {
		outcome_set(why, OUTCOME_DEFER, "4.4.3", "DNSSEC validation "
		    "failed for MX of %s: %s", rt->domain, r.why);
		rc = -1;
	} else if (r.rc == DNS_TEMPFAIL) {
		outcome_set(why, OUTCOME_DEFER, "4.4.3", "MX lookup for %s "
		    "failed: %s", rt->domain, r.why);
		rc = -1;
	} else if (r.rc == DNS_NXDOMAIN) {
		outcome_set(why, OUTCOME_BOUNCE, "5.1.2", "domain %s not "
		    "found", rt->domain);
		rc = -1;
	} else if (r.rc == DNS_NODATA) {
		/* RFC 5321 §5.1: no MX RRset, the domain is its own MX. */
		rt->implicit = 1;
		(void)mx_add_host(rt, rt->domain, 0);
	} else
		rc = mx_from_reply(rt, &r, why);
	dns_reply_free(&r);
	return rc;
}

static void
mx_truncate(struct mx_route *rt, size_t n)
{
	while (rt->nhosts > n)
		mx_host_clear(&rt->hosts[--rt->nhosts]);
}

static int
mx_cut(struct mx_route *rt, const struct mx_self *self, struct outcome *why)
{
	size_t	 had = rt->nhosts;

	mx_truncate(rt, mx_self_cut(rt->hosts, rt->nhosts, self));
	if (rt->nhosts == 0 && had > 0) {
		outcome_set(why, OUTCOME_DEFER, "5.4.6",
		    "mail for %s loops back to myself", rt->domain);
		return -1;
	}
	return 0;
}

/* Drops hosts without a usable address; says why when none is left. */
static int
mx_prune(struct mx_route *rt, struct outcome *why)
{
	size_t	 i, kept = 0;
	int	 tempfail = 0, bogus = 0;

	for (i = 0; i < rt->nhosts; i++) {
		struct mx_host	*h = &rt->hosts[i];

		tempfail |= h->addr_rc == DNS_TEMPFAIL;
		bogus |= h->addr_sec == DNS_BOGUS;
		if (h->naddrs == 0 || h->addr_sec == DNS_BOGUS) {
			mx_host_clear(h);
			continue;
		}
		rt->hosts[kept++] = *h;
	}
	rt->nhosts = kept;
	if (kept > 0)
		return 0;
	if (bogus)
		outcome_set(why, OUTCOME_DEFER, "4.4.3", "DNSSEC validation "
		    "failed for the addresses of every MX of %s", rt->domain);
	else if (tempfail)
		outcome_set(why, OUTCOME_DEFER, "4.4.3", "address lookup "
		    "failed for the MX hosts of %s", rt->domain);
	else if (rt->implicit)
		outcome_set(why, OUTCOME_BOUNCE, "5.4.4", "domain %s has "
		    "no MX and no address", rt->domain);
	else
		outcome_set(why, OUTCOME_BOUNCE, "5.4.4", "no address for "
		    "the mail exchangers of %s", rt->domain);
	return -1;
}

static int
mx_route_init(struct mx_route *rt, const char *domain, struct outcome *why)
{
	memset(rt, 0, sizeof(*rt));
	if (strlcpy(rt->domain, domain, sizeof(rt->domain)) >=
	    sizeof(rt->domain) || *domain == '\0') {
		outcome_set(why, OUTCOME_BOUNCE, "5.1.2", "bad destination "
		    "domain");
		return -1;
	}
	domain_normalize(rt->domain);
	return 0;
}

int
mx_route_build(struct dns_ctx *ctx, const char *domain,
    const struct mx_self *self, uint32_t seed, struct mx_route *rt,
    struct outcome *why)
{
	size_t	 i;

	if (mx_route_init(rt, domain, why) == -1)
		return -1;
	if (mx_lookup(ctx, rt, why) == -1)
		goto fail;
	mx_sort(rt->hosts, rt->nhosts, seed);
	/* Names first: no need to resolve what is cut anyway. */
	if (mx_cut(rt, self, why) == -1)
		goto fail;
	if (rt->nhosts > MX_MAX_HOSTS) {
		log_warnx("mx: %s: using the first %d of %zu MX hosts",
		    rt->domain, MX_MAX_HOSTS, rt->nhosts);
		mx_truncate(rt, MX_MAX_HOSTS);
	}
	for (i = 0; i < rt->nhosts; i++)
		mx_host_resolve(ctx, &rt->hosts[i]);
	if (rt->implicit && rt->nhosts == 1)
		rt->mx_sec = sec_weakest(rt->mx_sec, rt->hosts[0].addr_sec);
	if (mx_cut(rt, self, why) == -1 || mx_prune(rt, why) == -1)
		goto fail;
	return 0;
fail:
	mx_route_free(rt);
	return -1;
}

/* A literal address needs no DNS; it is not DNSSEC data either. */
static int
mx_literal(struct mx_host *h)
{
	uint8_t	 a[16];
	char	 s[sizeof(h->name)];

	(void)strlcpy(s, h->name, sizeof(s));
	if (strncasecmp(s, "ipv6:", 5) == 0)	/* RFC 5321 §4.1.3 */
		memmove(s, s + 5, strlen(s + 5) + 1);
	if (inet_pton(AF_INET6, s, a) == 1)
		mx_add_addr(h, AF_INET6, a);
	else if (inet_pton(AF_INET, s, a) == 1)
		mx_add_addr(h, AF_INET, a);
	else
		return 0;
	h->addr_sec = DNS_INSECURE;
	h->addr_rc = DNS_FOUND;
	return 1;
}

int
mx_route_host(struct dns_ctx *ctx, const char *host, int no_mx,
    struct mx_route *rt, struct outcome *why)
{
	char		 name[256];
	size_t		 len;
	struct mx_host	*h;

	if (strlcpy(name, host, sizeof(name)) >= sizeof(name) ||
	    (len = strlen(name)) == 0) {
		outcome_set(why, OUTCOME_DEFER, "4.4.3", "bad next hop");
		return -1;
	}
	if (name[0] == '[' && len > 2 && name[len - 1] == ']') {
		memmove(name, name + 1, len - 2);
		name[len - 2] = '\0';
		no_mx = 1;
	}
	if (!no_mx)
		return mx_route_build(ctx, name, NULL, (uint32_t)mono_msec(),
		    rt, why);
	if (mx_route_init(rt, name, why) == -1)
		return -1;
	h = mx_add_host(rt, rt->domain, 0);
	if (!mx_literal(h))
		mx_host_resolve(ctx, h);
	rt->mx_sec = h->addr_sec;
	if (h->naddrs == 0 || h->addr_sec == DNS_BOGUS) {
		outcome_set(why, OUTCOME_DEFER, "4.4.3", "next hop %s: %s",
		    rt->domain, h->addr_sec == DNS_BOGUS ? "DNSSEC "
		    "validation failed for its address" : "no address");
		mx_route_free(rt);
		return -1;
	}
	return 0;
}
