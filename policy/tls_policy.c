/*
 * TLS security levels and the predicates every delivery consults.
 * The level names are declared once, here; postern.conf(5) and the
 * tls_policy_file use the same spelling.
 */
#include <string.h>

#include "compat.h"
#include "tls_policy.h"

static const struct {
	const char	*name;
	enum tls_level	 level;
} levels[] = {
	{ "none",	TLS_LEVEL_NONE },
	{ "may",	TLS_LEVEL_MAY },
	{ "encrypt",	TLS_LEVEL_ENCRYPT },
	{ "verify",	TLS_LEVEL_VERIFY },
	{ "dane",	TLS_LEVEL_DANE },
	{ "mta-sts",	TLS_LEVEL_MTA_STS },
};

#define NLEVELS	(sizeof(levels) / sizeof(levels[0]))

const char *
tls_level_name(enum tls_level l)
{
	size_t	 i;

	for (i = 0; i < NLEVELS; i++)
		if (levels[i].level == l)
			return levels[i].name;
	return "unknown";
}

const char *
tls_level_parse(const char *s, enum tls_level *out)
{
	size_t	 i;

	if (s == NULL)
		return "missing TLS level";
	for (i = 0; i < NLEVELS; i++) {
		if (strcmp(levels[i].name, s) == 0) {
			*out = levels[i].level;
			return NULL;
		}
	}
	return "unknown TLS level (none, may, encrypt, verify, dane, mta-sts)";
}

void
tls_decision_init(struct tls_decision *d, enum tls_level level,
    const char *why, const char *sni)
{
	memset(d, 0, sizeof(*d));
	d->level = level;
	(void)strlcpy(d->why, why ? why : "", sizeof(d->why));
	(void)strlcpy(d->sni, sni ? sni : "", sizeof(d->sni));
}

/*
 * RFC 3207 §4.1: a client that wants protection must not continue in clear
 * when STARTTLS is missing or fails; RFC 7435 §1.3 (opportunistic security)
 * allows it only when no protection was promised.  Only MAY promises
 * nothing; NONE never tries STARTTLS, so it has nothing to fall back from.
 * ENCRYPT, VERIFY, DANE (RFC 7672 §2.2: usable TLSA forbid cleartext) and
 * MTA-STS (RFC 8461 §5: enforce mode) must defer instead.
 */
int
tls_plaintext_fallback_ok(enum tls_level l)
{
	return l == TLS_LEVEL_MAY;
}

/* Every level except NONE attempts STARTTLS when offered (RFC 3207 §4). */
int
tls_starttls_wanted(enum tls_level l)
{
	switch (l) {
	case TLS_LEVEL_MAY:
	case TLS_LEVEL_ENCRYPT:
	case TLS_LEVEL_VERIFY:
	case TLS_LEVEL_DANE:
	case TLS_LEVEL_MTA_STS:
		return 1;
	default:
		return 0;
	}
}

/*
 * The peer certificate must be authenticated for VERIFY (PKIX chain and
 * host name, RFC 6125), DANE (RFC 7672 §3: match a usable TLSA record;
 * the decision says DANE only when such records exist, see the header)
 * and MTA-STS (RFC 8461 §4.2: PKIX and an MX pattern).  MAY and ENCRYPT
 * accept any certificate (RFC 7435 §3: unauthenticated encryption).
 */
int
tls_auth_required(enum tls_level l)
{
	switch (l) {
	case TLS_LEVEL_VERIFY:
	case TLS_LEVEL_DANE:
	case TLS_LEVEL_MTA_STS:
		return 1;
	default:
		return 0;
	}
}

int
tls_level_rank(enum tls_level l)
{
	switch (l) {
	case TLS_LEVEL_NONE:
		return 0;
	case TLS_LEVEL_MAY:
		return 1;
	case TLS_LEVEL_ENCRYPT:
		return 2;
	case TLS_LEVEL_VERIFY:
	case TLS_LEVEL_DANE:
	case TLS_LEVEL_MTA_STS:
		return 3;
	default:
		return 4;
	}
}

/*
 * The recipient domain's entry applies whatever the next hop (a relayhost
 * or transport_table entry must not silently drop it to may); the next
 * hop's entry applies too.  The stricter wins; between two authenticated
 * levels the next hop's, since it names how that host can be checked.
 */
enum tls_level
tls_level_stricter(enum tls_level dest, enum tls_level hop)
{
	return tls_level_rank(dest) > tls_level_rank(hop) ? dest : hop;
}

/*
 * RFC 4954 §4 and RFC 8314 §3: credentials go over TLS only, and TLS
 * without authentication lets anyone on the path with a self-signed
 * certificate collect them (RFC 7435 §3 unauthenticated encryption
 * protects only against passive attackers).  So a next hop with
 * credentials is authenticated unless the administrator wrote a weaker
 * level for that next hop; even then never in clear.
 */
enum tls_level
tls_cred_level(enum tls_level decided, int hop_entry, enum tls_level hop_level)
{
	if (tls_auth_required(decided))
		return decided;
	if (tls_level_rank(decided) > tls_level_rank(TLS_LEVEL_MTA_STS))
		return TLS_LEVEL_VERIFY;
	if (hop_entry && tls_level_rank(hop_level) <
	    tls_level_rank(TLS_LEVEL_VERIFY))
		return TLS_LEVEL_ENCRYPT;
	return TLS_LEVEL_VERIFY;
}
