/*
 * sendmail: the sendmail(8) command line of the same binary, chosen by
 * argv[0] (sendmail, send-mail, mailq, newaliases, hoststat, purgestat).
 * Submission writes one file into the maildrop directory (maildrop.h)
 * and exits 0 only once it is there and synced, whether or not the
 * daemon runs.  Argument and header handling are pure functions here
 * (mta/sendmail_args.c), unit-tested; exit codes come from sysexits.h.
 * Headers follow RFC 5322: Bcc is removed (§3.6.3), Date, From and
 * Message-ID are added when missing (§3.6).
 */
#ifndef POSTERN_SENDMAIL_H
#define POSTERN_SENDMAIL_H

#include <stddef.h>

struct config;
struct buf;

enum sm_mode {
	SM_SUBMIT,	/* -bm, the default */
	SM_SMTP,	/* -bs: SMTP on stdin/stdout */
	SM_DAEMON,	/* -bd, -bD */
	SM_PRINT,	/* -bp, mailq */
	SM_NEWALIASES,	/* -bi, newaliases */
	SM_QUEUE,	/* -q, -qRdomain: run the queue now */
	SM_VERIFY,	/* -bv: print how each address is routed */
	SM_HOSTSTAT,	/* -bh, hoststat */
	SM_PURGESTAT	/* -bH, purgestat */
};

enum sm_delivery {
	SM_DELIVER_BACKGROUND,	/* -odb, the default */
	SM_DELIVER_INTERACTIVE,	/* -odi: wait until the daemon has it */
	SM_DELIVER_QUEUE	/* -odq, -odd: leave it to the next run */
};

struct sm_args {
	enum sm_mode	 mode;
	enum sm_delivery delivery;
	int		 extract;	/* -t */
	int		 ignore_dots;	/* -i, -oi, -O IgnoreDots */
	int		 verbose;	/* -v */
	int		 foreground;	/* -bD */
	const char	*sender;	/* -f, -r: NULL when not given */
	const char	*fullname;	/* -F */
	const char	*config;	/* -C */
	const char	*queue_dest;	/* -qR, -qI, -qS: NULL for all */
	char		**rcpts;	/* the operands, pointers into argv */
	size_t		 nrcpts;
};

/*
 * Parses a sendmail command line.  progname selects the default mode.
 * Ignorable and unknown -o/-O options add a line to warnings.  NULL, or
 * a usage error.
 */
const char *sm_args_parse(int argc, char **argv, const char *progname,
	    struct sm_args *, struct buf *warnings);

/* Addresses (addr-spec, no brackets) of an RFC 5322 address-list field
 * body, groups and comments included; each one malloc'd into *v. */
int	sm_addr_list(const char *val, size_t len, char ***v, size_t *n);

/* What sm_prepare adds and needs. */
struct sm_header_ctx {
	const char	*from;		/* envelope sender for From: */
	const char	*fullname;	/* phrase for From:, or NULL */
	const char	*date;		/* RFC 5322 date */
	const char	*msgid;		/* "<...>" */
	char		**exclude;	/* -t: argument addresses left out */
	size_t		 nexclude;
};

/*
 * Rewrites msg (ptr, len) into out: Bcc and Resent-Bcc fields removed,
 * the missing From, Date and Message-ID added at the end of the header.
 * With rcpts non-NULL (-t), fills them from To, Cc and Bcc (the Resent-
 * ones when any is present) minus the excluded addresses.  NULL or a
 * reason.
 */
const char *sm_prepare(const char *msg, size_t len,
	    const struct sm_header_ctx *, struct buf *out, char ***rcpts,
	    size_t *nrcpts);

/* Runs the command.  argv[0] names it; returns the exit status. */
int	sendmail_main(int argc, char **argv);
/* 1 if a program name (no directory) is one of sendmail's. */
int	sendmail_name(const char *);
/* Gives up a setgid group for good (every mode but submission). */
void	sendmail_drop_setgid(void);

#endif
