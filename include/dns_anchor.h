/*
 * dns_anchor: where the DNSSEC root trust anchor comes from, and whether
 * the resolver in front of postern passes DNSSEC data at all.  Without
 * an anchor nothing validates: DANE is never used and a forged NXDOMAIN
 * bounces mail, so a missing anchor is a start-up error unless the
 * administrator writes "dnssec = off".
 */
#ifndef POSTERN_DNS_ANCHOR_H
#define POSTERN_DNS_ANCHOR_H

#include <stddef.h>

#include "dns.h"

struct config;

/* Where each system keeps the root key, NULL-terminated: Debian's
 * dns-root-data, Debian's unbound (unbound-anchor), FreeBSD base
 * local_unbound, the FreeBSD unbound package. */
extern const char *const dns_anchor_paths[];

/* The anchor file to use: the configured one when set, else the first
 * of paths that readable() accepts; NULL when there is none. */
const char	*dns_anchor_pick(const char *configured,
		    const char *const *paths, int (*readable)(const char *));

/* The trust anchor for conf (NULL with dnssec = off), or NULL with the
 * reason, naming the places searched and the fixes, in err. */
int		 dns_anchor_find(const struct config *, const char **anchor,
		    char *err, size_t errlen);

/* One line for postern status, postern policy and the start-up log:
 * "on, trust anchor FILE", or "OFF (dnssec = off): ...". */
const char	*dns_anchor_describe(const struct config *, char *buf,
		    size_t len);

enum dns_probe {
	DNS_PROBE_OK,		/* the root DNSKEY validated */
	DNS_PROBE_STRIPPED,	/* answered, but not validatable */
	DNS_PROBE_UNREACHED	/* no answer: says nothing of DNSSEC */
};

/* What a query for the root DNSKEY through the resolver says about it. */
enum dns_probe	 dns_probe_judge(enum dns_rc, enum dns_sec);

/* Asks the configured forwarders for the root DNSKEY with validation.
 * 0 when it validated or nothing was asked (dnssec = off, recursion),
 * 1 when no answer came (err says so: a warning), -1 when the
 * forwarder strips DNSSEC data (err names it and the fix). */
int		 dns_probe_root(const struct config *, int msec, char *err,
		    size_t errlen);

#endif
