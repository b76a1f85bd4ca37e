/*
 * smtp_path: the path of MAIL FROM and RCPT TO (RFC 5321 §4.1.2), for
 * the parsers of smtp_parse.h.  A path is "<" [route ":"] mailbox ">"
 * with its limits (§4.5.3.1.1-3); the route is dropped, the null path
 * is allowed for MAIL only, "<postmaster>" for RCPT only (§4.1.1.3).
 * Each error has a constant reply for MAIL and one for RCPT.  Pure,
 * never past (ptr, len).
 */
#ifndef POSTERN_SMTP_PATH_H
#define POSTERN_SMTP_PATH_H

#include <stddef.h>

struct smtp_path;

/* Path errors, each with its MAIL and its RCPT reply. */
enum smtp_perr {
	SMTP_PE_OK = 0,
	SMTP_PE_SYNTAX,
	SMTP_PE_LOCAL_LONG,
	SMTP_PE_DOMAIN_LONG,
	SMTP_PE_PATH_LONG,
	SMTP_PE_LITERAL,
	SMTP_PE_NULL
};

/* [error][0] for MAIL, [error][1] for RCPT; NULL for SMTP_PE_OK. */
extern const char *const smtp_perr_reply[][2];

#define SMTP_PATH_NULL_OK	0x01	/* "<>" (MAIL) */
#define SMTP_PATH_POSTMASTER	0x02	/* "<postmaster>" (RCPT) */

/* "<" ... ">" at the start of p, filling out; *used is its length. */
enum smtp_perr smtp_path_parse(const char *p, size_t len, unsigned flags,
	    struct smtp_path *out, size_t *used);

/* Letters and digits of US-ASCII only, whatever the locale says. */
int	smtp_ascii_alnum(unsigned char c);
/* atext, RFC 5322 §3.2.3 */
int	smtp_is_atext(unsigned char c);

#endif
