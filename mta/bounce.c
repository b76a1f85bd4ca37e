/*
 * Delivery status notifications, RFC 3464 inside an RFC 6522
 * multipart/report, marked Auto-Submitted (RFC 3834 §5).  Every line ends
 * in CRLF and none is longer than 998 octets (RFC 5322 §2.1.1): header
 * fields are folded at white space, over-long tokens and original lines
 * are broken.  Whether a DSN is due at all (null sender, NOTIFY, DSN of a
 * DSN) is decided by bounce_suppressed(), so the caller can log why not.
 */
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "compat.h"
#include "util.h"

#define LINE_MAX_OCTETS	998	/* RFC 5322 §2.1.1, without CRLF */
#define FOLD_WIDTH	78	/* RFC 5322 §2.1.1 "SHOULD" */
#define HARD_CHUNK	990	/* a token longer than this is broken */

struct bounce_storage {
	struct qmsg	 msg;
	struct qrcpt	 rcpt;
	struct buf	 body;
};

/* Header-safe copy: CR, LF and NUL become spaces. */
static char *
clean_dup(const char *s)
{
	char	*p, *c;

	p = xstrdup(s ? s : "");
	for (c = p; *c; c++)
		if (*c == '\r' || *c == '\n')
			*c = ' ';
	return p;
}

/* Appends one piece of a folded line, breaking a piece too long to fit
 * any line at all. */
static void
put_token(struct buf *b, const char *tok, size_t len, size_t *col,
    const char *cont)
{
	size_t	 room, n;

	while (len > 0) {
		room = *col < HARD_CHUNK ? HARD_CHUNK - *col : 0;
		if (room == 0) {
			buf_appendstr(b, "\r\n");
			buf_appendstr(b, cont);
			*col = strlen(cont);
			continue;
		}
		n = len < room ? len : room;
		buf_append(b, tok, n);
		*col += n;
		tok += n;
		len -= n;
	}
}

/*
 * Appends first + text as one logical line, wrapped at white space before
 * FOLD_WIDTH; continuation lines start with cont (white space for a header
 * field, RFC 5322 §2.2.3 folding).  Ends with CRLF.
 */
static void
put_folded(struct buf *b, const char *first, const char *text,
    const char *cont)
{
	char		*t = clean_dup(text);
	const char	*p = t, *e;
	size_t		 col, len;
	int		 start = 1;

	buf_appendstr(b, first);
	col = strlen(first);
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			;
		len = (size_t)(e - p);
		if (!start && col + 1 + len > FOLD_WIDTH &&
		    col > strlen(cont)) {
			buf_appendstr(b, "\r\n");
			buf_appendstr(b, cont);
			col = strlen(cont);
		} else if (!start) {
			buf_append(b, " ", 1);
			col++;
		}
		put_token(b, p, len, &col, cont);
		start = 0;
		p = e;
	}
	buf_appendstr(b, "\r\n");
	free(t);
}

static void
put_field(struct buf *b, const char *name, const char *value)
{
	char	*first = xasprintf("%s: ", name);

	put_folded(b, first, value, " ");
	free(first);
}

/*
 * Copies original lines with CRLF endings; a line over 998 octets is
 * broken (a header line continues with a space, RFC 5322 §2.2.3).
 * Returns non-zero when a byte above 0x7f was copied.
 */
static int
put_lines(struct buf *b, const char *p, size_t len, int header)
{
	size_t		 i, n, ll;
	const char	*nl;
	int		 eight = 0;

	while (len > 0) {
		nl = memchr(p, '\n', len);
		n = nl ? (size_t)(nl - p) + 1 : len;
		ll = nl ? (size_t)(nl - p) : len;
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		for (i = 0; i < ll; i++)
			if ((unsigned char)p[i] > 0x7f)
				eight = 1;
		for (i = 0; ll - i > LINE_MAX_OCTETS; i += LINE_MAX_OCTETS - 1) {
			buf_append(b, p + i, LINE_MAX_OCTETS - 1);
			buf_appendstr(b, header ? "\r\n " : "\r\n");
		}
		buf_append(b, p + i, ll - i);
		buf_appendstr(b, "\r\n");
		p += n;
		len -= n;
	}
	return eight;
}

/* Length of the header section, RFC 5322 §2.1: up to the first empty
 * line (CRLF or bare LF), or everything when there is none. */
static size_t
header_len(const char *body, size_t len)
{
	size_t	 i;

	if (len > 0 && body[0] == '\n')
		return 0;
	if (len > 1 && body[0] == '\r' && body[1] == '\n')
		return 0;
	for (i = 0; i + 1 < len; i++) {
		if (body[i] != '\n')
			continue;
		if (body[i + 1] == '\n')
			return i + 1;
		if (i + 2 < len && body[i + 1] == '\r' && body[i + 2] == '\n')
			return i + 1;
	}
	return len;
}

static int
rcpt_wants(const struct qrcpt *r, enum bounce_kind kind)
{
	uint32_t	 want = kind == BOUNCE_FAILED ? QNOTIFY_FAILURE :
	    kind == BOUNCE_SUCCESS ? QNOTIFY_SUCCESS : QNOTIFY_DELAY;

	/* RFC 3461 §4.1: NEVER excludes all; absent NOTIFY means FAILURE
	 * (and DELAY at the MTA's discretion: postern sends it). */
	if (r->notify & QNOTIFY_NEVER)
		return 0;
	/* Success is reported only when asked for (§4.1). */
	if (kind == BOUNCE_SUCCESS)
		return (r->notify & want) != 0;
	return r->notify == 0 || (r->notify & want);
}

static int
is_postmaster(const char *addr, const char *postmaster)
{
	/* RFC 5321 §4.5.1: "postmaster" alone is the same mailbox. */
	return strcasecmp(addr, postmaster) == 0 ||
	    strcasecmp(addr, "postmaster") == 0;
}

/* Whether recipient i goes into the report. */
static int
rcpt_included(enum bounce_kind kind, const struct qmsg *orig,
    const struct bounce_rcpt *r)
{
	/* A DSN carries NOTIFY of its own recipient, not of the one it
	 * reports on; the postmaster copy ignores it. */
	if (orig->flags & QMSG_DSN)
		return 1;
	return rcpt_wants(r->rcpt, kind);
}

const char *
bounce_suppressed(enum bounce_kind kind, const struct qmsg *orig,
    const struct bounce_rcpt *r, size_t n, const char *postmaster)
{
	size_t	 i;

	if (orig->flags & QMSG_DSN) {
		/* RFC 3461 §6.2: never a DSN about a DSN to its (null)
		 * sender.  A failed DSN goes to postmaster once; a notice to
		 * postmaster that fails is dropped, so nothing loops. */
		if (kind == BOUNCE_DELAYED)
			return "no delay notice for a delivery status notification";
		if (kind == BOUNCE_SUCCESS)
			return "no success notice for a delivery status "
			    "notification";
		for (i = 0; i < n; i++)
			if (!is_postmaster(r[i].rcpt->addr, postmaster))
				return NULL;
		return "undeliverable notice to postmaster dropped";
	}
	if (orig->sender == NULL || orig->sender[0] == '\0')
		return "null sender";
	for (i = 0; i < n; i++)
		if (rcpt_included(kind, orig, &r[i]))
			return NULL;
	return "NOTIFY excludes it";
}

/* Unique enough for Message-ID and boundary: time, pid, counter. */
static void
make_token(char *out, size_t len)
{
	static unsigned	 seq;

	(void)snprintf(out, len, "%lld.%ld.%u", (long long)now_usec(),
	    (long)getpid(), seq++);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 3461 §4: ORCPT is "addr-type;xtext"; RFC 3464 §2.3.1 wants it
 * decoded.  Bad escapes are kept literally; CR/LF are cleaned later. */
static char *
orcpt_decode(const char *s)
{
	struct buf	 b;
	const char	*semi = strchr(s, ';');
	int		 hi, lo;
	char		 c;

	buf_init(&b);
	if (semi == NULL) {
		buf_appendstr(&b, "rfc822; ");
		semi = s - 1;
	} else {
		buf_append(&b, s, (size_t)(semi - s));
		buf_appendstr(&b, "; ");
	}
	for (s = semi + 1; *s; s++) {
		if (*s == '+' && (hi = hexval(s[1])) != -1 &&
		    (lo = hexval(s[2])) != -1 && hi * 16 + lo > 0) {
			c = (char)(hi * 16 + lo);
			buf_append(&b, &c, 1);
			s += 2;
		} else
			buf_append(&b, s, 1);
	}
	return b.data ? b.data : xstrdup("");
}

static const char *
default_status(const struct bounce_rcpt *r, enum bounce_kind kind)
{
	if (r->outcome->status[0] != '\0')
		return r->outcome->status;
	return kind == BOUNCE_FAILED ? "5.0.0" : kind == BOUNCE_SUCCESS ?
	    "2.0.0" : "4.0.0";
}

static void
put_explanation(struct buf *b, const char *mta, enum bounce_kind kind,
    int to_postmaster)
{
	buf_printf(b, "This is the mail system at host %s.\r\n\r\n", mta);
	if (kind == BOUNCE_SUCCESS) {
		buf_appendstr(b, "Your message was successfully delivered to "
		    "the destination(s)\r\nlisted below.  If the message was "
		    "relayed to a system that\r\ndoes not report delivery "
		    "status, this is the last report.\r\n\r\n");
		return;
	}
	if (kind == BOUNCE_DELAYED) {
		buf_appendstr(b, "####### THIS IS A WARNING ONLY.  YOU DO NOT "
		    "NEED TO RESEND YOUR MESSAGE. #######\r\n\r\n"
		    "Your message could not be delivered yet to the\r\n"
		    "recipients below.  The mail system will keep trying;\r\n"
		    "you will be told if it finally gives up.\r\n\r\n");
		return;
	}
	if (to_postmaster)
		buf_appendstr(b, "A delivery status notification could not "
		    "be delivered to its\r\nrecipient.  It is returned to "
		    "the postmaster, below.\r\n\r\n");
	else
		buf_appendstr(b, "I'm sorry to have to inform you that your "
		    "message could not\r\nbe delivered to one or more "
		    "recipients.  It's attached below.\r\n\r\n");
	buf_appendstr(b, "For further assistance, please send mail to "
	    "postmaster.\r\n\r\n");
}

static void
put_human(struct buf *b, const char *mta, enum bounce_kind kind,
    const struct qmsg *orig, const struct bounce_rcpt *r, size_t n,
    int to_postmaster, long long full_max)
{
	char	*first, *text;
	size_t	 i;

	put_explanation(b, mta, kind, to_postmaster);
	if (full_max >= 0)
		buf_printf(b, "The full message was asked for (RET=FULL), but "
		    "it is larger than\r\n%lld bytes and did not come from a "
		    "trusted client: only its\r\nheaders are returned "
		    "below.\r\n\r\n", full_max);
	for (i = 0; i < n; i++) {
		if (!rcpt_included(kind, orig, &r[i]))
			continue;
		first = xasprintf("<%s>: ", r[i].rcpt->addr);
		if (r[i].remote_mta != NULL)
			text = xasprintf("host %s said: %s", r[i].remote_mta,
			    r[i].outcome->text);
		else
			text = xstrdup(r[i].outcome->text);
		put_folded(b, first, text, "    ");
		buf_appendstr(b, "\r\n");
		free(first);
		free(text);
	}
}

static void
put_date_field(struct buf *b, const char *name, long long t)
{
	char	 date[64];

	rfc5322_date(date, sizeof(date), t);
	put_field(b, name, date);
}

/* Per-recipient fields, RFC 3464 §2.3. */
static void
put_rcpt_status(struct buf *b, enum bounce_kind kind,
    const struct bounce_rcpt *r, long long now)
{
	char	*v;

	buf_appendstr(b, "\r\n");
	if (r->rcpt->orcpt != NULL && r->rcpt->orcpt[0] != '\0') {
		v = orcpt_decode(r->rcpt->orcpt);
		put_field(b, "Original-Recipient", v);
		free(v);
	}
	v = xasprintf("rfc822; %s", r->rcpt->addr);
	put_field(b, "Final-Recipient", v);
	free(v);
	put_field(b, "Action", r->action != NULL ? r->action :
	    kind == BOUNCE_FAILED ? "failed" : kind == BOUNCE_SUCCESS ?
	    "relayed" : "delayed");
	put_field(b, "Status", default_status(r, kind));
	if (r->remote_mta != NULL) {
		v = xasprintf("dns; %s", r->remote_mta);
		put_field(b, "Remote-MTA", v);
		free(v);
	}
	/* §2.3.6: "smtp" only for a reply a remote SMTP server gave. */
	v = xasprintf("%s; %s", r->remote_mta ? "smtp" : "X-Postern",
	    r->outcome->text);
	put_field(b, "Diagnostic-Code", v);
	free(v);
	put_date_field(b, "Last-Attempt-Date",
	    r->last_attempt > 0 ? r->last_attempt : now);
	if (kind == BOUNCE_DELAYED && r->retry_until > 0)
		put_date_field(b, "Will-Retry-Until", r->retry_until);
}

static void
put_status(struct buf *b, const char *mta, enum bounce_kind kind,
    const struct qmsg *orig, const struct bounce_rcpt *r, size_t n,
    long long now)
{
	char	*v;
	size_t	 i;

	v = xasprintf("dns; %s", mta);
	put_field(b, "Reporting-MTA", v);
	free(v);
	if (orig->envid != NULL && orig->envid[0] != '\0')
		put_field(b, "Original-Envelope-Id", orig->envid);
	put_date_field(b, "Arrival-Date", orig->arrival);
	for (i = 0; i < n; i++)
		if (rcpt_included(kind, orig, &r[i]))
			put_rcpt_status(b, kind, &r[i], now);
}

enum bounce_return
bounce_return(enum bounce_kind kind, const struct qmsg *orig, size_t bodylen,
    long long full_max)
{
	/* RFC 3461 §4.3: RET=FULL only for failures; delays send headers. */
	if (!(orig->flags & QMSG_RET_FULL) || kind != BOUNCE_FAILED)
		return BOUNCE_RETURN_HEADERS;
	if (orig->flags & QMSG_TRUSTED)
		return BOUNCE_RETURN_FULL;
	/* Anyone can forge a sender and ask for RET=FULL: the whole of a
	 * large message would go to a third party (backscatter with its
	 * payload).  The headers still tell the real sender what failed. */
	if (full_max < 0 || (unsigned long long)bodylen >
	    (unsigned long long)full_max)
		return BOUNCE_RETURN_HEADERS_SIZE;
	return BOUNCE_RETURN_FULL;
}

/* Returns non-zero when 8-bit octets were copied. */
static int
put_original(struct buf *b, const char *boundary, enum bounce_return ret,
    const char *body, size_t bodylen)
{
	size_t	 hl;

	buf_printf(b, "--%s\r\n", boundary);
	if (ret == BOUNCE_RETURN_FULL) {
		buf_appendstr(b, "Content-Description: Undelivered Message\r\n"
		    "Content-Type: message/rfc822\r\n\r\n");
		return put_lines(b, body, bodylen, 0);
	}
	/* RFC 6522 §3 (was RFC 3462): the header section alone. */
	buf_appendstr(b, ret == BOUNCE_RETURN_HEADERS_SIZE ?
	    "Content-Description: Undelivered Message Headers (message too "
	    "large to return)\r\n" :
	    "Content-Description: Undelivered Message Headers\r\n");
	buf_appendstr(b, "Content-Type: text/rfc822-headers\r\n\r\n");
	hl = header_len(body, bodylen);
	return put_lines(b, body, hl, 1);
}

/* A boundary that occurs nowhere in the original (RFC 2046 §5.1.1). */
static void
make_boundary(char *out, size_t len, const char *body, size_t bodylen)
{
	char	 tok[64];
	int	 tries;

	for (tries = 0; tries < 100; tries++) {
		make_token(tok, sizeof(tok));
		(void)snprintf(out, len, "=_postern-%s", tok);
		if (memmem(body, bodylen, out, strlen(out)) == NULL)
			return;
	}
}

static void
put_headers(struct buf *b, const char *mta, enum bounce_kind kind,
    const char *to, const char *boundary, int to_postmaster, long long now)
{
	char	 tok[64], *v;

	v = xasprintf("Mail Delivery System <MAILER-DAEMON@%s>", mta);
	put_field(b, "From", v);
	free(v);
	v = xasprintf("<%s>", to);
	put_field(b, "To", v);
	free(v);
	put_field(b, "Subject", kind == BOUNCE_DELAYED ?
	    "Delayed Mail (still being retried)" : kind == BOUNCE_SUCCESS ?
	    "Successful Mail Delivery Report" : to_postmaster ?
	    "Postmaster Copy: Undelivered Mail" :
	    "Undelivered Mail Returned to Sender");
	put_date_field(b, "Date", now);
	make_token(tok, sizeof(tok));
	v = xasprintf("<%s.dsn@%s>", tok, mta);
	put_field(b, "Message-ID", v);
	free(v);
	put_field(b, "Auto-Submitted", "auto-replied");	/* RFC 3834 §5 */
	put_field(b, "MIME-Version", "1.0");
	v = xasprintf("multipart/report; report-type=delivery-status; "
	    "boundary=\"%s\"", boundary);
	put_field(b, "Content-Type", v);
	free(v);
	buf_appendstr(b, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");
}

/* The next-hop key of addr: its lower-case domain. */
static char *
addr_dest(const char *addr, const char *fallback)
{
	const char	*at = strrchr(addr, '@');

	return domain_normalize(xstrdup(at && at[1] ? at + 1 : fallback));
}

static void
fill_envelope(struct bounce_storage *s, const char *mta, const char *to,
    uint32_t flags, long long now)
{
	s->msg.arrival = now;
	s->msg.size = s->body.len;
	s->msg.flags = flags;
	s->msg.nrcpt = 1;
	s->msg.sender = xstrdup("");	/* RFC 3464 §2: null return path */
	s->msg.envid = NULL;
	s->msg.helo = xstrdup(mta);
	s->msg.client_addr = xstrdup("local");
	s->msg.client_name = xstrdup(mta);
	s->rcpt.state = QRCPT_QUEUED;
	s->rcpt.next_attempt = now;
	s->rcpt.addr = xstrdup(to);
	s->rcpt.dest = addr_dest(to, mta);
}

int
bounce_build(const char *mta, const char *postmaster, enum bounce_kind kind,
    const struct qmsg *orig, const char *body, size_t bodylen,
    long long full_max, const struct bounce_rcpt *r, size_t n,
    struct qnew *out, struct bounce_storage **storage)
{
	struct bounce_storage	*s;
	char			 boundary[160];
	const char		*to;
	uint32_t		 flags = QMSG_DSN;
	long long		 now = (long long)time(NULL);
	enum bounce_return	 ret;
	int			 pm;

	*storage = NULL;
	if (bounce_suppressed(kind, orig, r, n, postmaster) != NULL)
		return 1;
	pm = (orig->flags & QMSG_DSN) != 0;
	to = pm ? postmaster : orig->sender;
	ret = bounce_return(kind, orig, bodylen, full_max);
	s = xcalloc(1, sizeof(*s));
	buf_init(&s->body);
	make_boundary(boundary, sizeof(boundary), body, bodylen);
	put_headers(&s->body, mta, kind, to, boundary, pm, now);
	buf_printf(&s->body, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	put_human(&s->body, mta, kind, orig, r, n, pm,
	    ret == BOUNCE_RETURN_HEADERS_SIZE ? full_max : -1);
	buf_printf(&s->body, "--%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", boundary);
	put_status(&s->body, mta, kind, orig, r, n, now);
	buf_appendstr(&s->body, "\r\n");
	if (put_original(&s->body, boundary, ret, body, bodylen))
		flags |= QMSG_8BITMIME;	/* RFC 6152: raw octets inside */
	buf_printf(&s->body, "\r\n--%s--\r\n", boundary);
	flags |= orig->flags & (QMSG_8BITMIME | QMSG_SMTPUTF8);
	fill_envelope(s, mta, to, flags, now);
	memset(out, 0, sizeof(*out));
	out->msg = &s->msg;
	out->rcpts = &s->rcpt;
	out->nrcpt = 1;
	out->body = s->body.data;
	out->bodylen = s->body.len;
	*storage = s;
	return 0;
}

void
bounce_free(struct bounce_storage *s)
{
	if (s == NULL)
		return;
	free(s->msg.sender);
	free(s->msg.helo);
	free(s->msg.client_addr);
	free(s->msg.client_name);
	free(s->rcpt.addr);
	free(s->rcpt.dest);
	buf_free(&s->body);
	free(s);
}
