/*
 * smtp_reply: pure parsing of what an SMTP server answers, RFC 5321 §4.2:
 * reply lines "250-text" / "250 text", multi-line replies gathered into
 * one, RFC 3463 enhanced status codes (RFC 2034 §3: "X.Y.Z " after the
 * code, its class matching the code's first digit), and the EHLO keywords
 * (RFC 5321 §4.1.1.1) postern acts on.  Input is (ptr, len); nothing here
 * reads past it or touches the network.
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stddef.h>

/* RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with CRLF; we
 * accept longer ones from the wild up to this, and discard beyond it. */
#define SMTP_REPLY_LINE_MAX	2048
/* Lines in one reply: a server that never ends its reply is broken. */
#define SMTP_REPLY_MAX_LINES	200

/* EHLO keywords (RFC 5321 §4.1.1.1 ehlo-keyword) postern uses. */
#define EHLO_STARTTLS		0x0001	/* RFC 3207 */
#define EHLO_PIPELINING		0x0002	/* RFC 2920 */
#define EHLO_SIZE		0x0004	/* RFC 1870 */
#define EHLO_8BITMIME		0x0008	/* RFC 6152 */
#define EHLO_SMTPUTF8		0x0010	/* RFC 6531 */
#define EHLO_DSN		0x0020	/* RFC 3461 */
#define EHLO_ENHANCEDSTATUSCODES 0x0040	/* RFC 2034 */
#define EHLO_CHUNKING		0x0080	/* RFC 3030 */
#define EHLO_AUTH		0x0100	/* RFC 4954 */

struct smtp_reply {
	int		 code;		/* 200..599 once complete */
	int		 done;		/* the last line ("ddd ") was seen */
	int		 nlines;
	int		 ehlo;		/* set by the caller: lines 2.. are
					 * EHLO keywords */
	unsigned	 ext;		/* EHLO_* seen */
	unsigned long long size;	/* SIZE parameter, 0: none given */
	/* AUTH parameters, the SASL mechanisms offered ("PLAIN LOGIN");
	 * "AUTH=" lines of older servers are added too. */
	char		 auth[128];
	char		 status[12];	/* enhanced status, "" when none */
	/* "550 5.1.1 <x@y>: user unknown", continuation texts appended after
	 * a space, controls replaced: one line for logs and DSNs. */
	char		 text[1024];
	size_t		 textlen;
};

void	smtp_reply_init(struct smtp_reply *, int ehlo);
/*
 * Adds one line (the trailing CRLF or LF, if present, is ignored).
 * 1: the reply is complete; 0: more lines follow; -1: not a reply line
 * (or too many lines), with a reason in *why.
 */
int	smtp_reply_add(struct smtp_reply *, const char *, size_t,
	    const char **why);

/* Splits one line: code, whether it is the last one, and its text. */
const char *smtp_reply_line(const char *, size_t, int *code, int *last,
	    const char **text, size_t *textlen);
/* Length of an RFC 3463 status code at the start of (p, len) whose class
 * is cls ('2', '4', '5'), followed by SP or the end; 0 if none. */
size_t	smtp_status_parse(const char *, size_t, char cls);
/* One EHLO line's text: its EHLO_* flag (0 if unknown), and the SIZE
 * parameter into *size when present and valid. */
unsigned smtp_ehlo_keyword(const char *, size_t, unsigned long long *size);
/* The status a reply carries, or one derived from its code: "4.0.0". */
const char *smtp_reply_status(const struct smtp_reply *, char *, size_t);

#endif
