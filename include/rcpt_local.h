/*
 * rcpt_local: whether a local recipient exists, decided at RCPT time so
 * that mail for an unknown user is refused in the SMTP dialogue (550
 * 5.1.1) instead of accepted and bounced later to a sender that may be
 * forged (backscatter).  Postfix's local_recipient_maps: a local part is
 * known when the aliases map or the password database names it.
 *
 * Names are compared as local delivery sees them: lower-cased (aliases.h;
 * RFC 5321 §2.4 leaves local-part case to the receiving host).  There is
 * no recipient delimiter: "user+ext" is a name of its own.  postmaster
 * (RFC 5321 §4.5.1) and MAILER-DAEMON are always known: aliases_expand()
 * gives them to root when no alias names them.  A catch-all name
 * (local_catchall) makes every local part known; local delivery then
 * hands unknown names to it (local_request.c), with the same lookups.
 *
 * The decision is pure (rcpt_local_decide); rcpt_local_lookup() does the
 * I/O around it and works in the session process as the unprivileged
 * user: the aliases map (FILE.db, made 0644 by newaliases) or its text,
 * and getpwnam_r().
 */
#ifndef POSTERN_RCPT_LOCAL_H
#define POSTERN_RCPT_LOCAL_H

#include <stddef.h>

struct config;

enum rcpt_lookup {
	RCPT_LOOKUP_NOTFOUND,
	RCPT_LOOKUP_FOUND,
	RCPT_LOOKUP_TEMPFAIL	/* the map or the database could not answer */
};

enum rcpt_verdict {
	RCPT_ACCEPT,
	RCPT_REJECT,		/* 550 5.1.1 user unknown */
	RCPT_TEMPFAIL		/* 451 4.3.0: try again later */
};

struct rcpt_facts {
	int		 check;		/* local_recipient_check */
	int		 catchall;	/* local_catchall is set */
	const char	*name;		/* lower-cased local part */
	enum rcpt_lookup alias;		/* aliases map */
	enum rcpt_lookup user;		/* password database */
};

/*
 * The local part of addr (everything before the last "@"), lower-cased,
 * into name.  NULL, or a reason when it is empty or longer than
 * ALIAS_MAX_NAME (local delivery would refuse it too).
 */
const char *rcpt_local_name(const char *addr, char *name, size_t len);

/* 1 for the names that always exist: postmaster, MAILER-DAEMON. */
int	rcpt_local_reserved(const char *name);

/* Pure: the verdict on the facts.  Never rejects when check is off, a
 * catch-all is set or the name is reserved; an alias or a user found
 * accepts even when the other lookup failed; otherwise a failed lookup
 * is temporary, never a rejection. */
enum rcpt_verdict rcpt_local_decide(const struct rcpt_facts *);

/*
 * Fills f for name (from rcpt_local_name) with the configuration and
 * the lookups: none for a reserved name, the password database only when
 * no alias matched.  why gets a reason for a failed lookup (for the log).
 */
void	rcpt_local_lookup(const struct config *, const char *name,
	    struct rcpt_facts *f, char *why, size_t whylen);

#endif
