/*
 * smtp_parse: pure parsing of SMTP server input, RFC 5321 §4.1 grammar.
 * Command lines, MAIL/RCPT paths (dot-atom or quoted local part, domain or
 * address literal, the null path, source routes accepted and stripped per
 * §4.1.2 / Appendix C) and their ESMTP parameters: SIZE (RFC 1870), BODY
 * (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461).
 * Input is (ptr, len), never read past len; NUL, CR and LF inside are
 * errors.  Errors are constant, complete SMTP replies ("501 5.1.3 ...").
 * The domain of an address is the part after its last "@": "%" and "!"
 * in the local part carry no routing meaning here.
 */
#ifndef POSTERN_SMTP_PARSE_H
#define POSTERN_SMTP_PARSE_H

#include <stddef.h>

/* Size limits, RFC 5321 §4.5.3.1 (octets). */
#define SMTP_LOCAL_MAX		64	/* §4.5.3.1.1 local-part */
#define SMTP_DOMAIN_MAX		255	/* §4.5.3.1.2 domain */
#define SMTP_LABEL_MAX		63	/* RFC 1035 §2.3.4 label */
#define SMTP_PATH_MAX		256	/* §4.5.3.1.3 path, with "<" ">" */
#define SMTP_CMD_LINE_MAX	512	/* §4.5.3.1.4 command line, with CRLF */
/* §4.5.3.1.4: each extension adds to the command line limit; SIZE,
 * BODY, RET, ENVID (RFC 3461 §4.3: 3 * 100 as xtext), NOTIFY, ORCPT
 * (RFC 3461 §4.2: 500) and SMTPUTF8 fit in this allowance. */
#define SMTP_CMD_LINE_EXT	1024
#define SMTP_CMD_LINE_ACCEPT	(SMTP_CMD_LINE_MAX + SMTP_CMD_LINE_EXT)
#define SMTP_TEXT_LINE_MAX	1000	/* §4.5.3.1.6 text line, with CRLF */
#define SMTP_RCPT_MIN		100	/* §4.5.3.1.8 recipients to accept */
#define SMTP_ENVID_MAX		100	/* RFC 3461 §4.4, decoded */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 §4.2, as received */

enum smtp_verb {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*arg;		/* after "VERB ", not NUL-terminated */
	size_t		 arglen;	/* 0: no argument */
};

/*
 * One command line as read, with its CR LF (a bare LF is tolerated as
 * the terminator of a command; RFC 5321 §2.3.8 only forbids it in data
 * that is relayed).  Checks the argument rules of the verb (none for
 * DATA/RSET/QUIT/STARTTLS, required for HELO/EHLO/VRFY/EXPN/MAIL/RCPT).
 * NULL, or the reply; an unknown verb is not an error here: verb is
 * SMTP_CMD_UNKNOWN.
 */
const char	*smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *);

/* HELO/EHLO argument: a domain, an address literal, or (tolerated) any
 * single word of visible ASCII, at most SMTP_DOMAIN_MAX.  Copied to
 * out (NUL-terminated).  NULL or the reply. */
const char	*smtp_helo_parse(const char *arg, size_t len,
		    char out[SMTP_DOMAIN_MAX + 1]);

struct smtp_path {
	/* "local@domain" without brackets or route; "" for <>; a bare
	 * "postmaster" stays unqualified here. */
	char	 mailbox[SMTP_PATH_MAX + 1];
	char	 domain[SMTP_DOMAIN_MAX + 1];	/* as written; "" if none */
	size_t	 locallen;	/* length of the local part in mailbox */
	int	 literal;	/* domain is an address literal "[...]" */
	int	 utf8;		/* non-ASCII octets: needs SMTPUTF8 */
	int	 postmaster;	/* RFC 5321 §4.1.1.3 "<Postmaster>" */
};

#define SMTP_BODY_NONE		0
#define SMTP_BODY_7BIT		1
#define SMTP_BODY_8BITMIME	2

#define SMTP_RET_NONE		0
#define SMTP_RET_FULL		1
#define SMTP_RET_HDRS		2

/* NOTIFY bits have the values of QNOTIFY_* in queue.h. */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

struct smtp_mail {
	struct smtp_path	 path;
	unsigned long long	 size;		/* SIZE=, 0 when not given */
	int			 body;		/* SMTP_BODY_* */
	int			 smtputf8;
	int			 ret;		/* SMTP_RET_* */
	/* ENVID as received (xtext, RFC 3461 §4.4); "" when not given */
	char			 envid[3 * SMTP_ENVID_MAX + 1];
};

struct smtp_rcpt {
	struct smtp_path	 path;
	unsigned		 notify;	/* SMTP_NOTIFY_*, 0 not given */
	/* ORCPT as received, "addr-type;xtext" (RFC 3461 §4.2); "" */
	char			 orcpt[SMTP_ORCPT_MAX + 1];
};

/* The argument of MAIL ("FROM:<path> params").  NULL or the reply.
 * A path with non-ASCII octets and no SMTPUTF8 parameter is refused
 * (RFC 6531 §3.5: 553 5.6.7). */
const char	*smtp_mail_parse(const char *arg, size_t len, struct smtp_mail *);
/* The argument of RCPT ("TO:<path> params"); smtputf8: the transaction
 * has SMTPUTF8 (else non-ASCII is refused).  NULL or the reply. */
const char	*smtp_rcpt_parse(const char *arg, size_t len, int smtputf8,
		    struct smtp_rcpt *);

/* xtext (RFC 3461 §4): "+XX" hex escapes of octets 33..126; decodes into
 * out (NUL-terminated).  Returns the decoded length, or -1 when the
 * input is not xtext or out is too small. */
int		 xtext_decode(const char *in, size_t len, char *out,
		    size_t outlen);
/* Encodes a string as xtext into out.  Returns the length, or -1 when
 * out is too small. */
int		 xtext_encode(const char *in, char *out, size_t outlen);

#endif
