/*
 * tls_policy: how to protect a delivery to one MX host.  Levels per
 * destination (docs and postern.conf(5)): none, may, encrypt, verify,
 * dane, mta-sts.  Decision order: local table -> DANE (secure TLSA) ->
 * MTA-STS enforce -> may.  Security decisions are named predicates, each
 * with the rule it implements, unit-tested case by case.
 */
#ifndef POSTERN_TLS_POLICY_H
#define POSTERN_TLS_POLICY_H

#include <stddef.h>

enum tls_level {
	TLS_LEVEL_NONE = 0,
	TLS_LEVEL_MAY,
	TLS_LEVEL_ENCRYPT,
	TLS_LEVEL_VERIFY,
	TLS_LEVEL_DANE,
	TLS_LEVEL_MTA_STS
};

struct tls_decision {
	enum tls_level	 level;
	char		 why[128];	/* "default", "tls_policy:12", ... */
	char		 sni[256];	/* server name to send and match */
};

const char	*tls_level_name(enum tls_level);
/* NULL or the level in *out. */
const char	*tls_level_parse(const char *, enum tls_level *);

/* RFC 3207 §4.1 + RFC 7435: only opportunistic TLS may continue in clear
 * after STARTTLS is missing or fails. */
int	tls_plaintext_fallback_ok(enum tls_level);
/* Whether STARTTLS is attempted at all. */
int	tls_starttls_wanted(enum tls_level);
/* Whether the peer certificate must be authenticated. */
int	tls_auth_required(enum tls_level);

#endif
