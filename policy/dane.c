/*
 * DANE TLSA discovery and usability for SMTP, RFC 7672 §2.2 and §3.1.
 * Only DNSSEC-secure answers ever enable DANE; a bogus or failed TLSA
 * lookup makes the host unusable (the delivery defers), it never
 * downgrades to opportunistic TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dane.h"
#include "dns.h"
#include "util.h"

#define RR_A		1
#define RR_AAAA		28
#define RR_TLSA		52

/* RFC 6698 §2.1 and RFC 7671 §5: usages, selectors, matching types. */
#define USAGE_PKIX_TA	0
#define USAGE_PKIX_EE	1
#define USAGE_DANE_TA	2
#define USAGE_DANE_EE	3
#define SEL_CERT	0
#define SEL_SPKI	1
#define MT_FULL		0
#define MT_SHA256	1
#define MT_SHA512	2

const char *
dane_state_name(enum dane_state s)
{
	switch (s) {
	case DANE_USABLE:
		return "usable";
	case DANE_UNUSABLE:
		return "unusable";
	case DANE_BOGUS:
		return "bogus";
	default:
		return "none";
	}
}

const char *
dane_tlsa_parse(const uint8_t *rd, size_t len, struct tls_tlsa *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 3)
		return "TLSA record too short";
	out->usage = rd[0];
	out->selector = rd[1];
	out->mtype = rd[2];
	out->data = rd + 3;
	out->len = len - 3;
	return NULL;
}

const char *
dane_tlsa_unusable(const struct tls_tlsa *t)
{
	/* RFC 7672 §3.1.3: PKIX-TA and PKIX-EE are not for SMTP. */
	if (t->usage == USAGE_PKIX_TA || t->usage == USAGE_PKIX_EE)
		return "PKIX usage, unusable for SMTP (RFC 7672 §3.1.3)";
	if (t->usage != USAGE_DANE_TA && t->usage != USAGE_DANE_EE)
		return "unknown certificate usage";
	if (t->selector != SEL_CERT && t->selector != SEL_SPKI)
		return "unknown selector";
	switch (t->mtype) {
	case MT_FULL:
		return t->len > 0 ? NULL : "empty association data";
	case MT_SHA256:
		return t->len == 32 ? NULL : "SHA2-256 data is not 32 bytes";
	case MT_SHA512:
		return t->len == 64 ? NULL : "SHA2-512 data is not 64 bytes";
	default:
		return "unknown matching type";
	}
}

void
dane_result_free(struct dane_result *r)
{
	size_t	 i;

	for (i = 0; i < r->nrr; i++)
		free((void *)r->rr[i].data);
	free(r->rr);
	free(r->usable);
	r->rr = r->usable = NULL;
	r->nrr = r->nusable = 0;
}

void
dane_result_set(struct dane_result *r, const char *base,
    const struct dns_rr *rr, size_t n)
{
	struct tls_tlsa	 t;
	uint8_t		*copy;
	size_t		 i;

	dane_result_free(r);
	(void)strlcpy(r->base, base, sizeof(r->base));
	r->rr = xcalloc(n ? n : 1, sizeof(*r->rr));
	r->usable = xcalloc(n ? n : 1, sizeof(*r->usable));
	for (i = 0; i < n; i++) {
		if (dane_tlsa_parse(rr[i].data, rr[i].len, &t) != NULL)
			continue;
		copy = xmalloc(t.len ? t.len : 1);
		memcpy(copy, t.data, t.len);
		t.data = copy;
		r->rr[r->nrr++] = t;
		if (dane_tlsa_unusable(&t) == NULL)
			r->usable[r->nusable++] = t;
	}
	/* RFC 7672 §2.2: secure TLSA, none usable: TLS still mandatory. */
	r->state = r->nusable > 0 ? DANE_USABLE : DANE_UNUSABLE;
	(void)snprintf(r->why, sizeof(r->why), "%zu of %zu TLSA records at "
	    "%s usable", r->nusable, r->nrr, base);
}

/* 1 found (r filled), 0 none at this base, -1 bogus/failed (r says). */
static int
dane_query(struct dns_ctx *dns, const char *base, int port,
    struct dane_result *r)
{
	struct dns_reply q;
	char		 name[300];
	int		 rc = 0;

	if ((size_t)snprintf(name, sizeof(name), "_%d._tcp.%s", port, base) >=
	    sizeof(name)) {
		(void)snprintf(r->why, sizeof(r->why), "TLSA name too long");
		r->state = DANE_BOGUS;
		return -1;
	}
	(void)dns_query(dns, name, RR_TLSA, &q);
	if (q.sec == DNS_BOGUS || q.sec == DNS_INDETERMINATE ||
	    q.rc == DNS_TEMPFAIL) {
		/* RFC 7672 §2.2: the host cannot be used securely. */
		(void)snprintf(r->why, sizeof(r->why), "TLSA lookup of %s "
		    "%s: %s", name, q.sec == DNS_BOGUS ? "is bogus" : "failed",
		    q.why);
		r->state = DANE_BOGUS;
		rc = -1;
	} else if (q.sec != DNS_SECURE) {
		(void)snprintf(r->why, sizeof(r->why), "TLSA at %s insecure",
		    name);
	} else if (q.rc == DNS_FOUND) {
		dane_result_set(r, base, q.rr, q.nrr);
		rc = 1;
	} else
		(void)snprintf(r->why, sizeof(r->why), "no TLSA at %s", name);
	dns_reply_free(&q);
	return rc;
}

void
dane_lookup(struct dns_ctx *dns, const struct mx_route *rt,
    const struct mx_host *h, int port, struct dane_result *r)
{
	memset(r, 0, sizeof(*r));
	(void)strlcpy(r->base, h->name, sizeof(r->base));
	/* RFC 7672 §2.1.1: a lookup that gave no answer proves nothing,
	 * so it can never make DANE "not applicable". */
	if (rt->mx_sec == DNS_INDETERMINATE ||
	    h->addr_sec == DNS_INDETERMINATE) {
		(void)snprintf(r->why, sizeof(r->why), "DNSSEC status of %s "
		    "unknown: %s lookup failed", h->name, rt->mx_sec ==
		    DNS_INDETERMINATE ? "MX" : "address");
		r->state = DANE_BOGUS;
		return;
	}
	/* RFC 7672 §2.2.1: DANE needs a secure MX RRset (or a secure
	 * implicit MX) and secure addresses of the host. */
	if (rt->mx_sec != DNS_SECURE) {
		(void)snprintf(r->why, sizeof(r->why), "MX RRset of %s is %s",
		    rt->domain, dns_sec_name(rt->mx_sec));
		return;
	}
	if (h->addr_sec != DNS_SECURE) {
		(void)snprintf(r->why, sizeof(r->why), "addresses of %s are "
		    "%s", h->name, dns_sec_name(h->addr_sec));
		return;
	}
	/* §2.2.2: the secure CNAME target first, then the host name. */
	if (h->cname[0] != '\0' && dane_query(dns, h->cname, port, r) != 0)
		return;
	(void)dane_query(dns, h->name, port, r);
}

void
dane_tlsa_format(const struct tls_tlsa *t, char *out, size_t outlen)
{
	size_t	 i, o;
	int	 n;

	n = snprintf(out, outlen, "%u %u %u ", t->usage, t->selector,
	    t->mtype);
	if (n < 0 || (size_t)n >= outlen)
		return;
	for (i = 0, o = (size_t)n; i < t->len && o + 3 <= outlen; i++, o += 2)
		(void)snprintf(out + o, outlen - o, "%02x", t->data[i]);
}
