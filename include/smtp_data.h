/*
 * smtp_data: the DATA phase of an inbound session as a pure byte-stream
 * filter (RFC 5321 §4.1.1.4, §4.5.2), fed in pieces of any size.
 *
 * Rules (the SMTP smuggling defence; docs/smtp.md repeats them):
 *  - The end of data is exactly CR LF "." CR LF: a line "." ending in
 *    CR LF that follows a line ending in CR LF (or the DATA command).
 *    Nothing else ends it.
 *  - A line ending in a bare LF is data; it is stored with CR LF.  So
 *    "\n.\n", "\n.\r\n" and "\r\n.\n" are data lines "." (stored as
 *    ".\r\n" and dot-stuffed again when relayed).
 *  - A bare CR (not followed by LF) anywhere: after the end of data the
 *    message is refused, "550 5.6.11 bare CR in message".
 *  - A NUL octet: refused after the end, "550 5.6.0 NUL byte in message".
 *  - A line longer than max_line (octets with its CR LF): refused after
 *    the end, "552 5.6.0 line too long".
 *  - More than max_size stored octets: refused after the end,
 *    "552 5.3.4 Message size exceeds fixed maximum message size".
 *  - A leading "." on a line with more on it is removed (unstuffing).
 * When a message is refused the session still reads to the real end of
 * data, stays in sync, and stores nothing.  Several faults: the first in
 * the order of the list above decides the reply.
 */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <stddef.h>

struct buf;

#define SMTP_DATA_BARE_CR	0x01
#define SMTP_DATA_NUL		0x02
#define SMTP_DATA_LONG_LINE	0x04
#define SMTP_DATA_TOO_BIG	0x08

struct smtp_data {
	struct buf	*out;		/* stored body is appended here */
	size_t		 max_size;	/* stored octets allowed */
	size_t		 max_line;	/* octets per line, with CR LF */
	size_t		 size;		/* octets stored so far */
	size_t		 linelen;	/* octets of the current line seen */
	unsigned	 flags;		/* SMTP_DATA_* faults */
	int		 prev_crlf;	/* the last line ended in CR LF */
	int		 cr;		/* the last octet seen was CR */
	int		 done;		/* the end of data was seen */
	char		 head;		/* first octet of the current line */
	size_t		 base;		/* out->len before the message */
	size_t		 start;		/* out->len where this line begins */
};

/* out receives the unstuffed body in CR LF lines (appended). */
void	smtp_data_init(struct smtp_data *, struct buf *out, size_t max_size,
	    size_t max_line);
/* Feeds octets; returns how many were used: all of them, or fewer when
 * the end of data came first (the rest are the next commands). */
size_t	smtp_data_feed(struct smtp_data *, const char *, size_t);
/* A line the reader had to cut (over its own limit): counts as a long
 * line; crlf says whether it ended in CR LF (unknown: pass 0, which can
 * only keep the session reading, never end the data early). */
void	smtp_data_overlong(struct smtp_data *, int crlf);
int	smtp_data_done(const struct smtp_data *);
/* After the end: NULL when the message may be queued, else the reply. */
const char *smtp_data_verdict(const struct smtp_data *);

#endif
