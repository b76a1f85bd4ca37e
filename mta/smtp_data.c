/*
 * DATA phase filter, RFC 5321 §4.1.1.4 and §4.5.2.  Pure: octets in,
 * unstuffed CR LF lines out, a verdict at the end.
 *
 * Documented behaviour (also in include/smtp_data.h and docs):
 *  - The end of data is exactly CR LF "." CR LF.  Nothing else ends it:
 *    a relay that reads "\n.\n" or "\n.\r\n" differently from us must not
 *    be able to make us see a second message inside the first (SMTP
 *    smuggling).
 *  - A line ending in a bare LF is data and is stored with CR LF, so
 *    "\n.\n", "\n.\r\n" and "\r\n.\n" are data lines "." (stored ".\r\n";
 *    the client side stuffs them again when relaying).
 *  - A bare CR anywhere: refused after the end, 550 5.6.11.
 *  - A NUL octet: refused after the end, 550 5.6.0.
 *  - A line over max_line octets (with its CR LF): refused, 552 5.6.0.
 *  - Over max_size stored octets: refused, 552 5.3.4.
 *  - "." followed by more on a line loses the "." (unstuffing, §4.5.2).
 * A refused message is still read to its real end, so the session stays
 * in sync, and nothing of it is kept: the buffer goes back to where it
 * was and stops growing, which also bounds memory by max_size plus one
 * line.
 */
#include <string.h>

#include "smtp_data.h"
#include "util.h"

void
smtp_data_init(struct smtp_data *d, struct buf *out, size_t max_size,
    size_t max_line)
{
	memset(d, 0, sizeof(*d));
	d->out = out;
	d->max_size = max_size;
	d->max_line = max_line;
	/* The CR LF of the DATA command counts as the first one of the
	 * end sequence, so an empty message is just ".\r\n". */
	d->prev_crlf = 1;
	d->base = d->start = out->len;
}

/* A fault refuses the message: drop what was stored, store no more. */
static void
fault(struct smtp_data *d, unsigned flag)
{
	d->flags |= flag;
	d->out->len = d->base;
	d->start = d->base;
}

/* n octets of the current line, none of them LF. */
static void
data_bytes(struct smtp_data *d, const char *p, size_t n)
{
	unsigned	 seen = 0;
	size_t		 i;

	if (n == 0)
		return;
	if (d->linelen == 0)
		d->head = p[0];
	for (i = 0; i < n; i++) {
		/* LF never comes here: an octet after a CR makes it bare. */
		if (d->cr)
			seen |= SMTP_DATA_BARE_CR;
		d->cr = p[i] == '\r';
		if (p[i] == '\0')
			seen |= SMTP_DATA_NUL;
	}
	d->linelen += n;
	/* Even if the last octet is the CR of the terminator, the line is
	 * already linelen - 1 + 2 long. */
	if (d->linelen >= d->max_line)
		seen |= SMTP_DATA_LONG_LINE;
	if (seen != 0)
		fault(d, seen);
	if (d->flags == 0)
		buf_append(d->out, p, n);
}

/* The LF of the current line. */
static void
data_eol(struct smtp_data *d)
{
	int	 crlf = d->cr;
	size_t	 content = d->linelen - (crlf ? 1 : 0);

	d->cr = 0;
	d->linelen = 0;
	if (d->prev_crlf && crlf && content == 1 && d->head == '.') {
		d->done = 1;
		if (d->flags == 0)
			d->out->len = d->start;	/* drop the stored ".\r" */
		return;
	}
	d->prev_crlf = crlf;
	if (content + 2 > d->max_line)
		fault(d, SMTP_DATA_LONG_LINE);
	if (d->flags != 0)
		return;
	if (crlf)
		d->out->len--;
	if (content >= 2 && d->head == '.') {
		memmove(d->out->data + d->start, d->out->data + d->start + 1,
		    content - 1);
		d->out->len--;
		content--;
	}
	buf_append(d->out, "\r\n", 2);
	d->size += content + 2;
	d->start = d->out->len;
	if (d->size > d->max_size)
		fault(d, SMTP_DATA_TOO_BIG);
}

size_t
smtp_data_feed(struct smtp_data *d, const char *p, size_t len)
{
	const char	*lf;
	size_t		 used = 0, n;

	while (used < len && !d->done) {
		lf = memchr(p + used, '\n', len - used);
		n = lf != NULL ? (size_t)(lf - (p + used)) : len - used;
		data_bytes(d, p + used, n);
		used += n;
		if (lf != NULL) {
			used++;
			data_eol(d);
		}
	}
	return used;
}

void
smtp_data_overlong(struct smtp_data *d, int crlf)
{
	fault(d, SMTP_DATA_LONG_LINE);
	d->cr = 0;
	d->linelen = 0;
	d->prev_crlf = crlf;
}

int
smtp_data_done(const struct smtp_data *d)
{
	return d->done;
}

const char *
smtp_data_verdict(const struct smtp_data *d)
{
	if (d->flags & SMTP_DATA_BARE_CR)
		return "550 5.6.11 bare CR in message";
	if (d->flags & SMTP_DATA_NUL)
		return "550 5.6.0 NUL byte in message";
	if (d->flags & SMTP_DATA_LONG_LINE)
		return "552 5.6.0 line too long";
	if (d->flags & SMTP_DATA_TOO_BIG)
		return "552 5.3.4 Message size exceeds fixed maximum message "
		    "size";
	return NULL;
}
