/*
 * smtp_auth: client SMTP AUTH (RFC 4954) to a relayhost or transport next
 * hop.  The credentials file holds "nexthop user password" lines, the next
 * hop written as in relayhost ("[host]:port", "host:port", "host"); it is
 * refused when world-readable.  The SASL encodings are PLAIN (RFC 4616,
 * preferred) and LOGIN, base64 per RFC 4648 §4.  Everything here except
 * smtp_auth_load() is pure; nothing here writes a password to a log.
 */
#ifndef POSTERN_SMTP_AUTH_H
#define POSTERN_SMTP_AUTH_H

#include <stddef.h>

#include "util.h"

/* Longest field of a credentials line, and the largest file read. */
#define SMTP_AUTH_FIELD_MAX	256
#define SMTP_AUTH_FILE_MAX	65536

struct smtp_auth_cred {
	char	 nexthop[SMTP_AUTH_FIELD_MAX];
	char	 user[SMTP_AUTH_FIELD_MAX];
	char	 pass[SMTP_AUTH_FIELD_MAX];
	int	 line;
};

enum smtp_auth_mech {
	SMTP_AUTH_NONE = 0,	/* no mechanism postern speaks */
	SMTP_AUTH_PLAIN,	/* RFC 4616 */
	SMTP_AUTH_LOGIN		/* draft-murchison-sasl-login */
};

/*
 * Finds the line for nexthop in the file text (p, len): an exact match
 * (host compared without case), else a line without a port matching
 * nexthop without its ":port".  1 found (*out filled), 0 none, -1 with
 * "name:line: reason" in err.  Every line is checked, not only up to the
 * match, so a broken file is reported the same way whatever is looked up.
 */
int	smtp_auth_find(const char *name, const char *p, size_t len,
	    const char *nexthop, struct smtp_auth_cred *out, char *err,
	    size_t errlen);
/* The same from a file, which must be a regular file that others cannot
 * read (mode & 0004 is refused: it holds passwords). */
int	smtp_auth_load(const char *path, const char *nexthop,
	    struct smtp_auth_cred *out, char *err, size_t errlen);
/* Overwrites the password (explicit_bzero). */
void	smtp_auth_clear(struct smtp_auth_cred *);

/* The mechanism to use from the parameters of the EHLO AUTH keyword
 * ("LOGIN PLAIN CRAM-MD5"): PLAIN when offered, else LOGIN. */
enum smtp_auth_mech smtp_auth_choose(const char *, size_t);
const char *smtp_auth_mech_name(enum smtp_auth_mech);

/* RFC 4648 §4 base64 of (p, len) appended to b. */
void	smtp_auth_base64(struct buf *, const void *, size_t);
/* "AUTH PLAIN " base64(NUL user NUL pass): RFC 4616 §2 message with an
 * empty authorization identity, as the RFC 4954 §4 initial response. */
void	smtp_auth_plain(struct buf *, const char *user, const char *pass);

#endif
