/*
 * tls_decide: the TLS decision for one MX host, in the order of
 * tls_policy.h: local table (tls_table.h) -> DANE (dane.h, secure usable
 * TLSA) -> MTA-STS enforce (mta_sts.h) -> may.  The table entry is the
 * stricter of the recipient domain's and the next hop's
 * (tls_entry_stricter()), so a relayhost or transport_table route never
 * drops the recipient domain's level.  Secure TLSA that are all unusable
 * never weaken an MTA-STS enforce policy (dane_unusable_yields_to_sts()).
 * tls_policy_decide() and the other pure functions (policy/tls_decide.c)
 * are unit-tested by tables and link without Berkeley DB, libunbound or
 * OpenSSL; the context below (policy/tls_lookup.c) does the lookups.
 * A host that must not be used (bogus TLSA, MX outside an enforced
 * MTA-STS policy, a table demand that cannot be met) gets -1 and a 4.7.x
 * DEFER outcome: the caller tries the next MX under its own decision.
 */
#ifndef POSTERN_TLS_DECIDE_H
#define POSTERN_TLS_DECIDE_H

#include <stddef.h>
#include "dane.h"
#include "mta_sts.h"
#include "mx.h"
#include "outcome.h"
#include "tls_policy.h"
#include "tls_table.h"

struct config;
struct queue;

/* What one decision is made from; NULL members were not looked up. */
struct tls_policy_src {
	const char			*domain;	/* recipient domain */
	const char			*host;		/* MX host */
	const struct tls_table_entry	*entry;
	const struct dane_result	*dane;
	const struct sts_policy		*sts;
	int				 sts_bogus;	/* TXT bogus */
	const char			*sts_why;	/* no policy: why */
};

/* Pure.  0 with d filled (note: what MTA-STS testing would enforce, or
 * ""), or -1 with why a DEFER 4.7.x. */
int	tls_policy_decide(const struct tls_policy_src *, struct tls_decision *d,
	    char *note, size_t notelen, struct outcome *why);
/* Whether the decision for this entry needs DANE or MTA-STS lookups. */
int	tls_policy_wants_dane(const struct tls_table_entry *);
int	tls_policy_wants_sts(const struct tls_table_entry *);
/* Pure.  RFC 7672 §2.2 makes secure but unusable TLSA mean mandatory
 * unauthenticated TLS, a floor, not a ceiling: with an MTA-STS enforce
 * policy (RFC 8461 §5) the host must pass the policy's PKIX check.  1
 * when the MTA-STS check replaces the encrypt of unusable TLSA. */
int	dane_unusable_yields_to_sts(enum dane_state, enum sts_mode);

/* Lookups for the hosts of one destination (policy/tls_lookup.c); owns
 * the TLSA data that a decision points to (valid until the next
 * tls_policy_host()). */
struct tls_policy_ctx {
	struct dns_ctx			*dns;
	struct queue			*q;		/* sts_cache, or NULL */
	const struct tls_table_entry	*entry;		/* what applies */
	const struct tls_table_entry	*dest_entry;	/* recipient domain */
	const struct tls_table_entry	*hop_entry;	/* relay, or NULL */
	struct tls_table_entry		 merged;	/* entry points here */
	char				 domain[256];	/* next hop */
	char				 rcpt_domain[256];
	int				 relayed;
	int				 name_long;	/* did not fit */
	int				 use_sts;	/* recipient domain */
	struct sts_opts			 sts_opts;
	int				 sts_state;	/* -1 not yet */
	struct sts_policy		 sts;
	char				 sts_why[256];
	struct dane_result		 dane;
};

/* domain: the recipient domain; nexthop: the relay's host name (no
 * brackets) when a relayhost or transport entry routes the domain, NULL
 * for the domain's own MX hosts.  MTA-STS only for the latter (RFC 8461
 * §2: it is about a recipient domain's MX hosts). */
void	tls_policy_ctx_init(struct tls_policy_ctx *, const struct config *,
	    struct dns_ctx *, struct queue *, const struct tls_table *,
	    const char *domain, const char *nexthop);
/* 0 with d, or -1 with why (DEFER): skip this host; always -1 when a
 * name given to tls_policy_ctx_init() did not fit (255 octets at most). */
int	tls_policy_host(struct tls_policy_ctx *, const struct mx_route *,
	    const struct mx_host *, int port, struct tls_decision *d,
	    struct outcome *why);
/* A next hop with credentials: d raised as tls_cred_level() says (why
 * "relayhost_auth_file", the host's name, protocols= kept).  1 when the
 * next hop's own entry leaves it unauthenticated (warn), else 0. */
int	tls_policy_cred(const struct tls_policy_ctx *, const struct mx_host *,
	    struct tls_decision *d);
/* The MTA-STS policy (loading it once): 1 have, 0 none, -1 bogus. */
int	tls_policy_sts(struct tls_policy_ctx *);
void	tls_policy_ctx_free(struct tls_policy_ctx *);

#endif
