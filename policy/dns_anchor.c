/*
 * The DNSSEC root trust anchor and the start-up check of the resolver.
 * libunbound validates only against an anchor it is given: when postern
 * cannot find one it says so and stops, rather than run with every
 * answer "insecure" (RFC 4033 §5: no anchor, no validation).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dns.h"
#include "dns_anchor.h"

#define DNS_TYPE_DNSKEY	48	/* RFC 4034 §2 */

const char *const dns_anchor_paths[] = {
	"/usr/share/dns/root.key",		/* Debian dns-root-data */
	"/var/lib/unbound/root.key",		/* Debian unbound-anchor */
	"/var/unbound/root.key",		/* FreeBSD local_unbound */
	"/usr/local/etc/unbound/root.key",	/* FreeBSD dns/unbound */
	NULL
};

const char *
dns_anchor_pick(const char *configured, const char *const *paths,
    int (*readable)(const char *))
{
	size_t	 i;

	if (configured != NULL && *configured != '\0')
		return configured;
	for (i = 0; paths[i] != NULL; i++)
		if (readable(paths[i]))
			return paths[i];
	return NULL;
}

static int
anchor_readable(const char *path)
{
	return access(path, R_OK) == 0;
}

int
dns_anchor_find(const struct config *conf, const char **anchor, char *err,
    size_t errlen)
{
	size_t	 i, o;

	*anchor = NULL;
	if (!conf->dnssec)
		return 0;
	*anchor = dns_anchor_pick(conf->resolver_trust_anchor,
	    dns_anchor_paths, anchor_readable);
	if (*anchor != NULL)
		return 0;
	o = (size_t)snprintf(err, errlen, "no DNSSEC trust anchor: none of");
	for (i = 0; dns_anchor_paths[i] != NULL && o < errlen; i++)
		o += (size_t)snprintf(err + o, errlen - o, " %s",
		    dns_anchor_paths[i]);
	if (o < errlen)
		(void)snprintf(err + o, errlen - o, " is readable; install "
		    "the root key (Debian: dns-root-data; FreeBSD: "
		    "local_unbound or unbound-anchor), name it with "
		    "resolver_trust_anchor, or write dnssec = off");
	return -1;
}

const char *
dns_anchor_describe(const struct config *conf, char *buf, size_t len)
{
	const char	*ta;
	char		 err[512];

	if (!conf->dnssec)
		(void)snprintf(buf, len, "OFF (dnssec = off): nothing is "
		    "validated, DANE is never used, a forged answer is "
		    "believed");
	else if (dns_anchor_find(conf, &ta, err, sizeof(err)) == -1)
		(void)snprintf(buf, len, "on, but %s", err);
	else
		(void)snprintf(buf, len, "on, trust anchor %s", ta);
	return buf;
}

enum dns_probe
dns_probe_judge(enum dns_rc rc, enum dns_sec sec)
{
	if (sec == DNS_SECURE && rc == DNS_FOUND)
		return DNS_PROBE_OK;
	if (sec == DNS_INDETERMINATE)
		return DNS_PROBE_UNREACHED;
	/* Bogus, or an answer that could not be validated against the
	 * root anchor: the forwarder drops RRSIGs or the DO bit. */
	return DNS_PROBE_STRIPPED;
}

static const char *
probe_target(const struct config *conf)
{
	if (conf->resolver == RESOLVER_FORWARD)
		return conf->resolver_forward;
	return "the forwarders of /etc/resolv.conf";
}

int
dns_probe_root(const struct config *conf, int msec, char *err, size_t errlen)
{
	struct dns_ctx	*ctx;
	struct dns_reply r;
	int		 rc;

	/* Recursion asks the root itself; with dnssec = off nothing is
	 * validated, so there is nothing to check. */
	if (!conf->dnssec || conf->resolver == RESOLVER_RECURSIVE)
		return 0;
	if ((ctx = dns_new(conf, err, errlen)) == NULL)
		return -1;
	dns_set_timeout(ctx, msec);
	if (dns_query(ctx, ".", DNS_TYPE_DNSKEY, &r) == -1) {
		(void)snprintf(err, errlen, "resolver check: %s", r.why);
		dns_free(ctx);
		return 1;
	}
	switch (dns_probe_judge(r.rc, r.sec)) {
	case DNS_PROBE_OK:
		rc = 0;
		break;
	case DNS_PROBE_UNREACHED:
		(void)snprintf(err, errlen, "resolver check: no answer from %s "
		    "for the root DNSKEY (%s); deliveries defer until it "
		    "answers", probe_target(conf), r.why);
		rc = 1;
		break;
	default:
		(void)snprintf(err, errlen, "resolver %s does not pass DNSSEC "
		    "data: the root DNSKEY does not validate (%s, %s); use "
		    "resolver = recursive, or a forwarder that validates or "
		    "passes RRSIG records", probe_target(conf),
		    dns_sec_name(r.sec), *r.why ? r.why : dns_rc_name(r.rc));
		rc = -1;
		break;
	}
	dns_reply_free(&r);
	dns_free(ctx);
	return rc;
}
