/*
 * dane: DANE for SMTP, RFC 7672 and RFC 7671.  The TLSA RRset of an MX
 * host is looked up at _25._tcp.<host> (the TLSA base domain, after a
 * secure CNAME expansion, §2.2.2) only when the MX RRset and the host's
 * addresses are DNSSEC-secure (§2.2.1).  Usable records: DANE-TA(2) and
 * DANE-EE(3) with a known selector and matching type (§3.1); PKIX-TA(0)
 * and PKIX-EE(1) are unusable.  Secure TLSA with none usable means
 * mandatory unauthenticated TLS; a bogus or failed TLSA lookup means the
 * host must not be used (§2.2), and so does an MX or address status that
 * a failed lookup left indeterminate (§2.1.1); only a complete answer
 * proven insecure means no DANE.
 */
#ifndef POSTERN_DANE_H
#define POSTERN_DANE_H

#include <stddef.h>
#include <stdint.h>
#include "dns.h"
#include "mx.h"
#include "tls_policy.h"

enum dane_state {
	DANE_NONE = 0,		/* not applicable (insecure, or no TLSA) */
	DANE_USABLE,		/* at least one usable record: authenticate */
	DANE_UNUSABLE,		/* secure TLSA, none usable: encrypt */
	DANE_BOGUS		/* bogus or failed lookup: defer the host */
};

struct dane_result {
	enum dane_state	 state;
	char		 base[256];	/* TLSA base domain */
	struct tls_tlsa	*rr;		/* every well-formed record */
	size_t		 nrr;
	struct tls_tlsa	*usable;	/* the usable ones (same data) */
	size_t		 nusable;
	char		 why[640];
};

/* Pure: TLSA rdata (RFC 6698 §2.1); out->data points into rdata.  NULL
 * or a reason. */
const char	*dane_tlsa_parse(const uint8_t *rdata, size_t len,
		    struct tls_tlsa *out);
/* Pure: NULL when usable for SMTP (RFC 7672 §3.1), else why not. */
const char	*dane_tlsa_unusable(const struct tls_tlsa *);
/* Pure: the state from a secure TLSA RRset; copies the rdata. */
void		 dane_result_set(struct dane_result *, const char *base,
		    const struct dns_rr *, size_t n);
/* Looks up the host's TLSA RRset (port: the SMTP port of the route).
 * Always fills r; r->state says what to do. */
void		 dane_lookup(struct dns_ctx *, const struct mx_route *,
		    const struct mx_host *, int port, struct dane_result *r);
void		 dane_result_free(struct dane_result *);
const char	*dane_state_name(enum dane_state);
/* "3 1 1 ab12...", hex data cut to fit out. */
void		 dane_tlsa_format(const struct tls_tlsa *, char *out,
		    size_t outlen);

#endif
