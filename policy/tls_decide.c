/*
 * The TLS decision per MX host.  The order and every rule live in
 * tls_policy_decide(), free of I/O: this file links with tls_policy.o,
 * tls_table.o, mta_sts.o and util.o alone (no Berkeley DB, libunbound or
 * OpenSSL).  tls_lookup.c gathers its inputs (table entry, TLSA RRset,
 * MTA-STS policy).
 */
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "tls_decide.h"
#include "util.h"

#define TABLE_WHY_LEN	64

static void
table_why(const struct tls_table_entry *e, char *out, size_t outlen)
{
	(void)snprintf(out, outlen, "tls_policy:%d", e->line);
}

static void
set_match(struct tls_decision *d, const char *name)
{
	if (d->nmatch < TLS_MAX_MATCH &&
	    strlcpy(d->match[d->nmatch], name, sizeof(d->match[0])) <
	    sizeof(d->match[0]))
		d->nmatch++;
}

/* RFC 7672 §2.2 and §3: usable TLSA authenticate; the SNI and the
 * DANE-TA reference identifiers are the TLSA base domain and, when a
 * CNAME led elsewhere, the MX host name too (§3.2.2). */
static void
decide_dane(const struct tls_policy_src *s, struct tls_decision *d,
    const char *why)
{
	tls_decision_init(d, TLS_LEVEL_DANE, why, s->dane->base);
	d->tlsa = s->dane->usable;
	d->ntlsa = s->dane->nusable;
	if (strcasecmp(s->dane->base, s->host) != 0)
		set_match(d, s->host);
}

/* RFC 8461 §4.1 and §4.2: the MX host matches a policy pattern and its
 * certificate chains to a trusted root and names that host. */
static int
decide_sts(const struct tls_policy_src *s, struct tls_decision *d,
    const char *why, struct outcome *o)
{
	if (!sts_policy_mx_ok(s->sts, s->host)) {
		outcome_set(o, OUTCOME_DEFER, "4.7.5", "MX host %s does not "
		    "match the MTA-STS policy of %s (RFC 8461 §4.1)", s->host,
		    s->domain);
		return -1;
	}
	tls_decision_init(d, TLS_LEVEL_MTA_STS, why, s->host);
	return 0;
}

/* A table entry whose level demands DANE: none found means defer. */
static int
table_dane(const struct tls_policy_src *s, struct tls_decision *d,
    const char *why, struct outcome *o)
{
	if (s->dane != NULL && s->dane->state == DANE_USABLE) {
		decide_dane(s, d, why);
		return 0;
	}
	if (s->dane != NULL && s->dane->state == DANE_UNUSABLE) {
		tls_decision_init(d, TLS_LEVEL_ENCRYPT, why, s->host);
		return 0;
	}
	outcome_set(o, OUTCOME_DEFER, "4.7.5", "%s demands DANE for %s but "
	    "%s", why, s->host, s->dane ? s->dane->why : "no TLSA lookup");
	return -1;
}

static int
table_sts(const struct tls_policy_src *s, struct tls_decision *d,
    const char *why, struct outcome *o)
{
	if (s->sts == NULL || s->sts->mode == STS_MODE_NONE) {
		outcome_set(o, OUTCOME_DEFER, "4.7.5", "%s demands MTA-STS for "
		    "%s but it has no policy: %s", why, s->domain,
		    s->sts_why ? s->sts_why : "none");
		return -1;
	}
	return decide_sts(s, d, why, o);
}

/* Entries other than "may" decide alone (the table comes first). */
static int
decide_table(const struct tls_policy_src *s, struct tls_decision *d,
    struct outcome *o)
{
	const struct tls_table_entry	*e = s->entry;
	char				 why[TABLE_WHY_LEN];
	size_t				 i;
	int				 rc = 0;

	table_why(e, why, sizeof(why));
	switch (e->level) {
	case TLS_LEVEL_DANE:
		rc = table_dane(s, d, why, o);
		break;
	case TLS_LEVEL_MTA_STS:
		rc = table_sts(s, d, why, o);
		break;
	default:
		tls_decision_init(d, e->level, why, s->host);
		for (i = 0; i < e->nmatch; i++)
			set_match(d, e->match[i]);
		break;
	}
	return rc;
}

/* MTA-STS testing: what enforce would have done, for the log. */
static void
testing_note(const struct tls_policy_src *s, struct tls_decision *d,
    char *note, size_t notelen)
{
	if (!sts_policy_mx_ok(s->sts, s->host))
		(void)snprintf(note, notelen, "mta-sts testing: enforce would "
		    "defer %s: MX host does not match the policy of %s",
		    s->host, s->domain);
	else
		(void)snprintf(note, notelen, "mta-sts testing: enforce would "
		    "require TLS with a valid certificate for %s", s->host);
	d->sts_testing = 1;
}

/* No usable TLSA: MTA-STS enforce, else encrypt (secure but unusable
 * TLSA, RFC 7672 §2.2) or may. */
static int
decide_auto(const struct tls_policy_src *s, struct tls_decision *d,
    const char *why, char *note, size_t notelen, struct outcome *o)
{
	enum sts_mode	 mode = s->sts != NULL ? s->sts->mode : STS_MODE_NONE;
	int		 unusable;

	unusable = s->dane != NULL && s->dane->state == DANE_UNUSABLE;
	if (s->sts_bogus) {
		/* Never downgrade past a bogus MTA-STS TXT lookup. */
		outcome_set(o, OUTCOME_DEFER, "4.7.5", "MTA-STS: %s",
		    s->sts_why ? s->sts_why : "DNSSEC bogus");
		return -1;
	}
	if (unusable && !dane_unusable_yields_to_sts(s->dane->state, mode))
		tls_decision_init(d, TLS_LEVEL_ENCRYPT, "dane-unusable",
		    s->host);
	else if (mode == STS_MODE_ENFORCE)
		return decide_sts(s, d, unusable ? "mta-sts, dane-unusable" :
		    "mta-sts", o);
	else
		tls_decision_init(d, TLS_LEVEL_MAY, why, s->host);
	if (mode == STS_MODE_TESTING)
		testing_note(s, d, note, notelen);
	return 0;
}

int
tls_policy_decide(const struct tls_policy_src *s, struct tls_decision *d,
    char *note, size_t notelen, struct outcome *o)
{
	const struct tls_table_entry	*e = s->entry;
	char				 why[TABLE_WHY_LEN] = "default";
	int				 rc = 0;

	*note = '\0';
	memset(o, 0, sizeof(*o));
	if (e != NULL && e->level != TLS_LEVEL_MAY)
		rc = decide_table(s, d, o);
	else {
		if (e != NULL)
			table_why(e, why, sizeof(why));
		if (s->dane != NULL && s->dane->state == DANE_BOGUS) {
			/* RFC 7672 §2.2: never downgrade past a bogus or
			 * failed TLSA lookup. */
			outcome_set(o, OUTCOME_DEFER, "4.7.5", "DANE: %s",
			    s->dane->why);
			return -1;
		} else if (s->dane != NULL && s->dane->state == DANE_USABLE)
			decide_dane(s, d, "dane");
		else
			rc = decide_auto(s, d, why, note, notelen, o);
	}
	if (rc == 0 && e != NULL)
		d->min_proto = e->min_proto;
	return rc;
}

int
dane_unusable_yields_to_sts(enum dane_state st, enum sts_mode mode)
{
	return st == DANE_UNUSABLE && mode == STS_MODE_ENFORCE;
}

int
tls_policy_wants_dane(const struct tls_table_entry *e)
{
	if (e == NULL)
		return 1;
	if (e->level == TLS_LEVEL_MAY)
		return !e->no_dane;
	return e->level == TLS_LEVEL_DANE;
}

int
tls_policy_wants_sts(const struct tls_table_entry *e)
{
	if (e == NULL)
		return 1;
	if (e->level == TLS_LEVEL_MAY)
		return !e->no_sts;
	return e->level == TLS_LEVEL_MTA_STS;
}
