/*
 * The inputs of a TLS decision, looked up per destination: the table
 * entry (recipient domain and next hop), the TLSA RRset of each MX host
 * (dane.c, DNS) and the MTA-STS policy (sts_fetch.c: DNS, HTTPS, the
 * queue's cache); tls_policy_decide() then decides, and what MTA-STS
 * testing mode would have enforced is logged (RFC 8461 §5).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "config.h"
#include "log.h"
#include "tls_decide.h"
#include "util.h"

void
tls_policy_ctx_init(struct tls_policy_ctx *c, const struct config *conf,
    struct dns_ctx *dns, struct queue *q, const struct tls_table *t,
    const char *domain, const char *nexthop)
{
	memset(c, 0, sizeof(*c));
	c->dns = dns;
	c->q = q;
	/* A cut name would be looked up in the table (and for MTA-STS) as
	 * another domain: such a destination gets no decision at all. */
	c->name_long = strlcpy(c->rcpt_domain, domain,
	    sizeof(c->rcpt_domain)) >= sizeof(c->rcpt_domain) ||
	    strlcpy(c->domain, nexthop != NULL ? nexthop : domain,
	    sizeof(c->domain)) >= sizeof(c->domain);
	domain_normalize(c->rcpt_domain);
	domain_normalize(c->domain);
	c->relayed = nexthop != NULL;
	c->dest_entry = tls_table_lookup(t, c->rcpt_domain);
	if (c->relayed)
		c->hop_entry = tls_table_lookup(t, c->domain);
	c->entry = tls_entry_stricter(c->dest_entry, c->hop_entry, c->relayed,
	    &c->merged);
	c->use_sts = !c->relayed;
	c->sts_opts.cafile = conf->sts_ca_file;
	c->sts_opts.port = (int)conf->sts_port;
	c->sts_opts.timeout_ms = (int)conf->sts_timeout * 1000;
	c->sts_state = -1;
}

int
tls_policy_sts(struct tls_policy_ctx *c)
{
	if (c->sts_state != -1)
		return c->sts_state;
	if (c->name_long) {
		(void)strlcpy(c->sts_why, "domain name too long",
		    sizeof(c->sts_why));
		return c->sts_state = 0;
	}
	if (!c->use_sts || c->dns == NULL) {
		(void)strlcpy(c->sts_why, "MTA-STS not used for this next hop",
		    sizeof(c->sts_why));
		return c->sts_state = 0;
	}
	c->sts_state = sts_get(c->dns, c->q, c->domain, &c->sts_opts,
	    (long long)time(NULL), &c->sts, c->sts_why, sizeof(c->sts_why));
	return c->sts_state;
}

int
tls_policy_host(struct tls_policy_ctx *c, const struct mx_route *rt,
    const struct mx_host *h, int port, struct tls_decision *d,
    struct outcome *why)
{
	struct tls_policy_src	 s;
	char			 note[512];
	int			 rc;

	if (c->name_long) {
		outcome_set(why, OUTCOME_DEFER, "4.7.5", "domain name too long "
		    "for a TLS policy decision");
		return -1;
	}
	memset(&s, 0, sizeof(s));
	s.domain = c->domain;
	s.host = h->name;
	s.entry = c->entry;
	dane_result_free(&c->dane);
	if (tls_policy_wants_dane(c->entry) && c->dns != NULL) {
		dane_lookup(c->dns, rt, h, port, &c->dane);
		s.dane = &c->dane;
	}
	/* DANE comes first: MTA-STS is looked up only when it matters,
	 * which includes unusable TLSA (dane_unusable_yields_to_sts()). */
	if ((s.dane == NULL || s.dane->state == DANE_NONE ||
	    s.dane->state == DANE_UNUSABLE) &&
	    tls_policy_wants_sts(c->entry)) {
		rc = tls_policy_sts(c);
		s.sts = rc == 1 ? &c->sts : NULL;
		s.sts_bogus = rc == -1;
		s.sts_why = c->sts_why;
	}
	if (tls_policy_decide(&s, d, note, sizeof(note), why) == -1)
		return -1;
	if (note[0] != '\0')
		log_info("%s: %s", c->domain, note);
	return 0;
}

int
tls_policy_cred(const struct tls_policy_ctx *c, const struct mx_host *h,
    struct tls_decision *d)
{
	const struct tls_table_entry	*he = c->hop_entry;
	enum tls_level			 l;
	int				 min_proto = d->min_proto;

	/* Only an entry for the next hop itself may weaken what its
	 * credentials need, never a ".parent" one written for a domain. */
	if (he != NULL && he->domain[0] == '.')
		he = NULL;
	l = tls_cred_level(d->level, he != NULL, he ? he->level :
	    TLS_LEVEL_VERIFY);
	if (l != d->level) {
		tls_decision_init(d, l, "relayhost_auth_file", h->name);
		d->min_proto = min_proto;
	}
	return !tls_auth_required(d->level) && he != NULL;
}

void
tls_policy_ctx_free(struct tls_policy_ctx *c)
{
	dane_result_free(&c->dane);
}
