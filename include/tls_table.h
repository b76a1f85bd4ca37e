/*
 * tls_table: the local TLS policy file (tls_policy_file), one destination
 * per line: "domain level [option ...]".  "example.org" matches that
 * domain only, ".example.org" every domain below it; the most specific
 * entry wins.  Options: match=host1:host2 (names a "verify" certificate
 * may carry, RFC 6125), protocols=>=TLSv1.2|>=TLSv1.3 (minimum
 * protocol), sts=off and dane=off (skip MTA-STS / DANE for a "may"
 * entry).  A bad line is "file:line: reason" and the whole file is
 * refused, so a caller keeps the table it had (SIGHUP).
 */
#ifndef POSTERN_TLS_TABLE_H
#define POSTERN_TLS_TABLE_H

#include <stddef.h>
#include "tls_policy.h"

struct tls_table_entry {
	char		 domain[256];	/* lower case; leading '.' = below */
	enum tls_level	 level;
	char		 match[TLS_MAX_MATCH][256];
	size_t		 nmatch;
	int		 min_proto;	/* 0 (TLS 1.2, the floor) or TLS1_3_VERSION */
	int		 no_sts;
	int		 no_dane;
	int		 line;
};

struct tls_table {
	char			*path;
	struct tls_table_entry	*e;
	size_t			 n;
};

/* Pure: one line (no comment, not blank) to e.  NULL or a reason. */
const char	*tls_table_parse_line(const char *line, struct tls_table_entry *e);
/* Reads path into t (empty path: empty table).  0, or -1 with
 * "file:line: reason" in err and t unchanged. */
int		 tls_table_load(struct tls_table *t, const char *path,
		    char *err, size_t errlen);
/* The most specific entry for domain, or NULL. */
const struct tls_table_entry *tls_table_lookup(const struct tls_table *,
		    const char *domain);
/*
 * Pure: the entry that applies to a delivery to the recipient domain's
 * entry dest through the next hop's entry hop (either may be NULL; NULL
 * when both are).  relayed: the next hop is a relayhost or transport
 * entry, not the domain's own MX hosts.  The level is
 * tls_level_stricter() of the two; a dest "mta-sts" through a relay is
 * "verify" of the relay's name (an MTA-STS policy lists MX hosts, and a
 * relay is none of them, RFC 8461 §4.1).  When the result is "verify"
 * the names a certificate may carry are the next hop's host name plus
 * the match= names of every "verify" entry of the two (names beyond
 * TLS_MAX_MATCH are dropped: fewer names, never a weaker check).
 * protocols= is the higher of the two; sts=off and dane=off hold only
 * when both entries say so.  line and domain: the deciding entry's.
 */
const struct tls_table_entry *tls_entry_stricter(
		    const struct tls_table_entry *dest,
		    const struct tls_table_entry *hop, int relayed,
		    struct tls_table_entry *out);
void		 tls_table_free(struct tls_table *);
/* "TLSv1.2", "TLSv1.3" for a min_proto value. */
const char	*tls_table_proto_name(int);

#endif
