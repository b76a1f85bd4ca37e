/*
 * tls_policy: how to protect a delivery to one MX host.  Levels per
 * destination (docs and postern.conf(5)): none, may, encrypt, verify,
 * dane, mta-sts.  Decision order: local table -> DANE (secure TLSA) ->
 * MTA-STS enforce -> may.  Security decisions are named predicates, each
 * with the rule it implements, unit-tested case by case.
 * Invariant: a decision says TLS_LEVEL_DANE only when it carries at least
 * one usable TLSA record (RFC 7672 §2.2); otherwise the decider makes it
 * TLS_LEVEL_ENCRYPT (DNSSEC-secure zone, no usable TLSA; MTA_STS instead
 * when the domain enforces an MTA-STS policy) or MAY.
 */
#ifndef POSTERN_TLS_POLICY_H
#define POSTERN_TLS_POLICY_H

#include <stddef.h>
#include <stdint.h>

enum tls_level {
	TLS_LEVEL_NONE = 0,
	TLS_LEVEL_MAY,
	TLS_LEVEL_ENCRYPT,
	TLS_LEVEL_VERIFY,
	TLS_LEVEL_DANE,
	TLS_LEVEL_MTA_STS
};

/* One TLSA record, RFC 6698 §2.1; data is owned by whoever fills it. */
struct tls_tlsa {
	uint8_t		 usage;		/* 2 DANE-TA, 3 DANE-EE (RFC 7672 §3.1) */
	uint8_t		 selector;	/* 0 Cert, 1 SPKI */
	uint8_t		 mtype;		/* 0 Full, 1 SHA2-256, 2 SHA2-512 */
	const uint8_t	*data;
	size_t		 len;
};

#define TLS_MAX_MATCH	4

struct tls_decision {
	enum tls_level	 level;
	char		 why[128];	/* "default", "tls_policy:12", ... */
	char		 sni[256];	/* server name to send and match */
	/* DANE: the usable TLSA RRset of the MX host (RFC 7672 §2.2). */
	const struct tls_tlsa *tlsa;
	size_t		 ntlsa;
	/* VERIFY / MTA-STS: names the certificate may match (RFC 8461 §4.1
	 * patterns allowed, "*.example.org"); empty: sni alone. */
	char		 match[TLS_MAX_MATCH][256];
	size_t		 nmatch;
	/* Lowest protocol version (TLS1_3_VERSION), 0: TLS 1.2 floor. */
	int		 min_proto;
	/* MTA-STS testing (RFC 8461 §5): delivered as MAY, and a failed
	 * check of the MX host name and chain is logged, not enforced. */
	int		 sts_testing;
};

const char	*tls_level_name(enum tls_level);
/* NULL or the level in *out. */
const char	*tls_level_parse(const char *, enum tls_level *);
/* Fills d with level, why and sni (no TLSA, no extra names). */
void		 tls_decision_init(struct tls_decision *, enum tls_level,
		    const char *why, const char *sni);

/* RFC 3207 §4.1 + RFC 7435: only opportunistic TLS may continue in clear
 * after STARTTLS is missing or fails. */
int	tls_plaintext_fallback_ok(enum tls_level);
/* Whether STARTTLS is attempted at all. */
int	tls_starttls_wanted(enum tls_level);
/* Whether the peer certificate must be authenticated. */
int	tls_auth_required(enum tls_level);

/*
 * Strength order: none < may < encrypt < verify = dane = mta-sts (the
 * three authenticate the host, each its own way); an unknown level
 * ranks above all, so it is never taken for a weaker one.
 */
int	tls_level_rank(enum tls_level);
/* The stronger of the recipient domain's level and the next hop's; on
 * equal rank the next hop's (it says how that very host is checked). */
enum tls_level	tls_level_stricter(enum tls_level dest, enum tls_level hop);
/*
 * The level for a next hop postern sends AUTH credentials to (RFC 4954
 * §4, RFC 8314 §3): the decided level when it authenticates the host,
 * else verify.  Only a tls_policy_file entry for that next hop itself
 * (hop_entry, with hop_level below verify) keeps a weaker level, and
 * never below encrypt: credentials are never sent in clear.
 */
enum tls_level	tls_cred_level(enum tls_level decided, int hop_entry,
		    enum tls_level hop_level);

#endif
