/*
 * The pure half of sendmail(8): command line options as sendmail 8
 * knows them, RFC 5322 address lists, and the header rewrite of a
 * locally submitted message.  No I/O here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sendmail.h"
#include "util.h"

/* -- command line --------------------------------------------------- */

static void
warn_opt(struct buf *w, const char *what, const char *opt)
{
	buf_printf(w, "postern: warning: %s %s ignored\n", what, opt);
}

static const char *
set_sender(struct sm_args *a, const char *v)
{
	size_t	 len = strlen(v);

	if (a->sender != NULL)
		return "more than one \"from\" person (-f/-r)";
	/* "<>" and "<addr>" as scripts pass them; the brackets go. */
	if (len >= 2 && v[0] == '<' && v[len - 1] == '>')
		a->sender = len == 2 ? "" : v + 1;
	else
		a->sender = v;
	return NULL;
}

static const char *
mode_letter(struct sm_args *a, const char *v)
{
	switch (v[0]) {
	case 'm':
		a->mode = SM_SUBMIT;
		break;
	case 's':
		a->mode = SM_SMTP;
		break;
	case 'D':
		a->foreground = 1;
		/* FALLTHROUGH */
	case 'd':
		a->mode = SM_DAEMON;
		break;
	case 'p':
	case 'P':
		a->mode = SM_PRINT;
		break;
	case 'i':
		a->mode = SM_NEWALIASES;
		break;
	case 'v':
		a->mode = SM_VERIFY;
		break;
	case 'h':
		a->mode = SM_HOSTSTAT;
		break;
	case 'H':
		a->mode = SM_PURGESTAT;
		break;
	case 't':
		return "address test mode (-bt) is not supported; use -bv";
	default:
		return "unknown mode for -b";
	}
	return v[1] == '\0' ? NULL : "unknown mode for -b";
}

static int
truth(const char *v)
{
	return *v == '\0' || strchr("tTyY1", *v) != NULL;
}

static void
delivery_mode(struct sm_args *a, const char *v)
{
	switch (*v) {
	case 'i':
	case 'I':
		a->delivery = SM_DELIVER_INTERACTIVE;
		break;
	case 'q':
	case 'd':
		a->delivery = SM_DELIVER_QUEUE;
		break;
	default:	/* 'b', 'w' and empty: background */
		a->delivery = SM_DELIVER_BACKGROUND;
	}
}

/* -oX...: one letter, value attached. */
static void
short_option(struct sm_args *a, const char *v, struct buf *w)
{
	switch (v[0]) {
	case 'i':
		a->ignore_dots = truth(v + 1);
		break;
	case 'd':
		delivery_mode(a, v + 1);
		break;
	case 'e':	/* error mode: errors always go back as DSNs */
	case 'm':	/* "me too": the sender never expands its own alias */
		break;
	default:
		warn_opt(w, "option", v - 2);
	}
}

/* -O Name=value: sendmail's long option names. */
static void
long_option(struct sm_args *a, const char *v, struct buf *w)
{
	const char	*eq = strchr(v, '=');
	size_t		 n = eq ? (size_t)(eq - v) : strlen(v);
	const char	*val = eq ? eq + 1 : "";

	if (n == 10 && strncasecmp(v, "IgnoreDots", n) == 0)
		a->ignore_dots = truth(val);
	else if (n == 12 && strncasecmp(v, "DeliveryMode", n) == 0)
		delivery_mode(a, val);
	else if (n == 9 && strncasecmp(v, "ErrorMode", n) == 0)
		;
	else
		warn_opt(w, "option -O", v);
}

/* -q, -q30m, -qR domain, -qIqid, -qSsender. */
static const char *
queue_option(struct sm_args *a, const char *v, int argc, char **argv, int *i,
    struct buf *w)
{
	if (a->mode == SM_SUBMIT)
		a->mode = SM_QUEUE;
	if (*v == '\0')
		return NULL;
	if (*v == 'R' || *v == 'I' || *v == 'S') {
		if (v[1] != '\0')
			a->queue_dest = v + 1;
		else if (*i + 1 < argc)
			a->queue_dest = argv[++*i];
		else
			return "-qR, -qI and -qS need a value";
		if (*v == 'S')
			warn_opt(w, "sender selection -qS", a->queue_dest);
		if (*v == 'S')
			a->queue_dest = NULL;
		return NULL;
	}
	if (*v == 'p')
		v++;
	/* -q30m: a queue-run interval; the daemon has its own. */
	if (strspn(v, "0123456789smhdw") != strlen(v))
		return "bad -q value";
	if (*v != '\0')
		warn_opt(w, "queue interval", v);
	return NULL;
}

/* Options that take a value and the way each one is handled. */
static const char *
value_option(struct sm_args *a, int c, const char *v, int argc, char **argv,
    int *i, struct buf *w)
{
	switch (c) {
	case 'b':
		return mode_letter(a, v);
	case 'f':
	case 'r':
		return set_sender(a, v);
	case 'F':
		a->fullname = v;
		return NULL;
	case 'C':
		a->config = v;
		return NULL;
	case 'o':
		short_option(a, v, w);
		return NULL;
	case 'O':
		long_option(a, v, w);
		return NULL;
	case 'q':
		return queue_option(a, v, argc, argv, i, w);
	case 'B':	/* body type: 8BITMIME is detected from the bytes */
	case 'L':	/* syslog tag */
	case 'p':	/* protocol name */
	case 'h':	/* hop count */
	case 'A':	/* mail submission program or MTA */
	case 'e':	/* error mode */
		return NULL;
	default:	/* d, D, N, R, V, X, M, Q */
		buf_printf(w, "postern: warning: option -%c %s ignored\n", c, v);
		return NULL;
	}
}

static const char *
one_arg(struct sm_args *a, int argc, char **argv, int *i, struct buf *w)
{
	const char	*s = argv[*i];
	const char	*v;
	int		 j, c;

	for (j = 1; (c = (unsigned char)s[j]) != '\0'; j++) {
		if (strchr("tivGUmnscIT", c) != NULL) {
			if (c == 't')
				a->extract = 1;
			else if (c == 'i')
				a->ignore_dots = 1;
			else if (c == 'v')
				a->verbose++;
			else if (c == 'I')
				a->mode = SM_NEWALIASES;
			else if (c == 'n' || c == 'c' || c == 'T')
				buf_printf(w, "postern: warning: option -%c "
				    "ignored\n", c);
			continue;
		}
		if (c == 'q') {
			/* Its value is optional and always attached, except
			 * the -qR/-qI/-qS selectors. */
			return value_option(a, c, s + j + 1, argc, argv, i, w);
		}
		if (strchr("AbBCdDeFfhLMNOopQRrVX", c) == NULL)
			return "unknown option";
		if (s[j + 1] != '\0')
			v = s + j + 1;
		else if (*i + 1 < argc)
			v = argv[++*i];
		else
			return "option requires a value";
		return value_option(a, c, v, argc, argv, i, w);
	}
	return NULL;
}

const char *
sm_args_parse(int argc, char **argv, const char *progname, struct sm_args *a,
    struct buf *w)
{
	const char	*why;
	int		 i;

	memset(a, 0, sizeof(*a));
	if (strcmp(progname, "mailq") == 0)
		a->mode = SM_PRINT;
	else if (strcmp(progname, "newaliases") == 0)
		a->mode = SM_NEWALIASES;
	else if (strcmp(progname, "hoststat") == 0)
		a->mode = SM_HOSTSTAT;
	else if (strcmp(progname, "purgestat") == 0)
		a->mode = SM_PURGESTAT;
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if ((why = one_arg(a, argc, argv, &i, w)) != NULL)
			return why;
	}
	a->rcpts = argv + i;
	a->nrcpts = (size_t)(argc - i);
	if (a->mode == SM_SUBMIT && !a->extract && a->nrcpts == 0)
		return "recipient names must be specified";
	return NULL;
}

/* -- RFC 5322 §3.4 address lists ------------------------------------ */

struct alist {
	char		**v;
	size_t		  n;
	struct buf	  cur;	/* bare addr-spec text */
	struct buf	  angle;	/* <...> content */
	int		  have_angle;
};

static void
alist_emit(struct alist *l)
{
	const struct buf *b = l->have_angle ? &l->angle : &l->cur;
	const char	*p = b->data ? b->data : "", *colon;

	/* Obsolete source routes "<@a,@b:user@c>", RFC 5322 §4.4. */
	if (l->have_angle && *p == '@' && (colon = strchr(p, ':')) != NULL)
		p = colon + 1;
	if (*p != '\0' && l->n < 100000) {
		l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = xstrdup(p);
	}
	buf_reset(&l->cur);
	buf_reset(&l->angle);
	buf_append(&l->cur, "", 0);
	buf_append(&l->angle, "", 0);
	l->have_angle = 0;
}

/* Skips a comment or quoted string starting at p; returns past its end. */
static size_t
skip_delimited(const char *p, size_t len, char open, char close,
    struct buf *keep)
{
	size_t	 i = 1;
	int	 depth = 1;

	if (keep)
		buf_append(keep, p, 1);
	for (; i < len && depth > 0; i++) {
		if (p[i] == '\\' && i + 1 < len) {
			if (keep)
				buf_append(keep, p + i, 2);
			i++;
			continue;
		}
		if (p[i] == close)
			depth--;
		else if (p[i] == open && open != close)
			depth++;
		if (keep)
			buf_append(keep, p + i, 1);
	}
	return i;
}

int
sm_addr_list(const char *val, size_t len, char ***v, size_t *n)
{
	struct alist	 l;
	size_t		 i = 0;
	int		 in_angle = 0;

	memset(&l, 0, sizeof(l));
	buf_append(&l.cur, "", 0);
	buf_append(&l.angle, "", 0);
	while (i < len) {
		char c = val[i];

		if (c == '(') {
			i += skip_delimited(val + i, len - i, '(', ')', NULL);
			continue;
		}
		if (c == '"') {
			i += skip_delimited(val + i, len - i, '"', '"',
			    in_angle ? &l.angle : &l.cur);
			continue;
		}
		i++;
		if (in_angle) {
			if (c == '>')
				in_angle = 0;
			else if (!isspace((unsigned char)c))
				buf_append(&l.angle, &c, 1);
		} else if (c == '<') {
			in_angle = l.have_angle = 1;
			buf_reset(&l.angle);
			buf_append(&l.angle, "", 0);
		} else if (c == ':') {
			buf_reset(&l.cur);	/* a group's display name */
			buf_append(&l.cur, "", 0);
		} else if (c == ',' || c == ';') {
			alist_emit(&l);
		} else if (!isspace((unsigned char)c)) {
			/* Blanks outside quotes are folding ("a @b"). */
			buf_append(&l.cur, &c, 1);
		}
	}
	alist_emit(&l);
	buf_free(&l.cur);
	buf_free(&l.angle);
	*v = l.v;
	*n = l.n;
	return 0;
}

/* -- the header rewrite --------------------------------------------- */

struct field {
	const char	*start;	/* the whole field, continuations included */
	size_t		 len;
	size_t		 namelen;
};

static int
field_is(const struct field *f, const char *name)
{
	return strn_caseeq(f->start, f->namelen, name);
}

/* RFC 5322 §3.6.8: printable US-ASCII but ':' and space. */
static size_t
field_name_len(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && p[i] != ':'; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] > '~')
			return 0;
	return i < len ? i : 0;
}

static size_t
line_len(const char *p, const char *end)
{
	const char	*nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
}

static int
blank_line(const char *p, size_t len)
{
	return (len == 1 && p[0] == '\n') || (len == 2 && p[0] == '\r' &&
	    p[1] == '\n') || len == 0;
}

/* Splits the header into fields; returns the offset of the body: past
 * the empty line, or at the first line that is not a field. */
static size_t
split_header(const char *msg, size_t len, struct field **fv, size_t *nf)
{
	const char	*p = msg, *end = msg + len;
	size_t		 ll, nl;

	*fv = NULL;
	*nf = 0;
	/* A leading mbox "From " line is an envelope, not a header. */
	if (len > 5 && memcmp(p, "From ", 5) == 0)
		p += line_len(p, end);
	while (p < end) {
		ll = line_len(p, end);
		if (blank_line(p, ll))
			return (size_t)(p + ll - msg);
		if ((nl = field_name_len(p, ll)) == 0)
			break;
		*fv = xreallocarray(*fv, *nf + 1, sizeof(**fv));
		(*fv)[*nf].start = p;
		(*fv)[*nf].namelen = nl;
		p += ll;
		while (p < end && (*p == ' ' || *p == '\t'))
			p += line_len(p, end);
		(*fv)[*nf].len = (size_t)(p - (*fv)[*nf].start);
		(*nf)++;
	}
	return (size_t)(p - msg);
}

static int
excluded(const struct sm_header_ctx *c, const char *addr)
{
	size_t	 i;

	for (i = 0; i < c->nexclude; i++)
		if (strcasecmp(c->exclude[i], addr) == 0)
			return 1;
	return 0;
}

static void
add_rcpts(const struct field *f, const struct sm_header_ctx *c,
    char ***rcpts, size_t *nrcpts)
{
	char	**v;
	size_t	  n, i, j;

	(void)sm_addr_list(f->start + f->namelen + 1, f->len - f->namelen - 1,
	    &v, &n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < *nrcpts; j++)
			if (strcasecmp((*rcpts)[j], v[i]) == 0)
				break;
		if (j < *nrcpts || excluded(c, v[i])) {
			free(v[i]);
			continue;
		}
		*rcpts = xreallocarray(*rcpts, *nrcpts + 1, sizeof(**rcpts));
		(*rcpts)[(*nrcpts)++] = v[i];
	}
	free(v);
}

static void
add_from(struct buf *out, const struct sm_header_ctx *c, const char *eol)
{
	const char	*p;

	if (c->fullname == NULL || *c->fullname == '\0') {
		buf_printf(out, "From: %s%s", c->from, eol);
		return;
	}
	/* The phrase as a quoted string, RFC 5322 §3.2.4. */
	buf_appendstr(out, "From: \"");
	for (p = c->fullname; *p; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == '"' || *p == '\\')
			buf_append(out, "\\", 1);
		buf_append(out, p, 1);
	}
	buf_printf(out, "\" <%s>%s", c->from, eol);
}

const char *
sm_prepare(const char *msg, size_t len, const struct sm_header_ctx *c,
    struct buf *out, char ***rcpts, size_t *nrcpts)
{
	struct field	*fv;
	const char	*eol = "\n", *nl;
	size_t		 nf, i, body;
	int		 resent = 0, from = 0, date = 0, mid = 0;

	body = split_header(msg, len, &fv, &nf);
	/* The writer's line ends, from the first line.  A message that
	 * starts with its newline has no byte before it to look at. */
	nl = len > 0 ? memchr(msg, '\n', len) : NULL;
	if (nl != NULL && nl > msg && nl[-1] == '\r')
		eol = "\r\n";
	for (i = 0; i < nf; i++) {
		if (field_is(&fv[i], "resent-to") || field_is(&fv[i], "resent-cc")
		    || field_is(&fv[i], "resent-bcc"))
			resent = 1;
		from |= field_is(&fv[i], "from");
		date |= field_is(&fv[i], "date");
		mid |= field_is(&fv[i], "message-id");
	}
	if (rcpts != NULL) {
		*rcpts = NULL;
		*nrcpts = 0;
	}
	for (i = 0; i < nf; i++) {
		const struct field *f = &fv[i];
		int bcc = field_is(f, "bcc") || field_is(f, "resent-bcc");

		if (rcpts != NULL && (resent ? (field_is(f, "resent-to") ||
		    field_is(f, "resent-cc") || field_is(f, "resent-bcc")) :
		    (field_is(f, "to") || field_is(f, "cc") || bcc)))
			add_rcpts(f, c, rcpts, nrcpts);
		if (!bcc)	/* RFC 5322 §3.6.3: Bcc is not passed on */
			buf_append(out, f->start, f->len);
	}
	free(fv);
	if (!from)
		add_from(out, c, eol);
	if (!date)
		buf_printf(out, "Date: %s%s", c->date, eol);
	if (!mid)
		buf_printf(out, "Message-ID: %s%s", c->msgid, eol);
	/* One empty line between header and body, RFC 5322 §2.1; it was
	 * consumed with the header, or was missing. */
	buf_appendstr(out, eol);
	buf_append(out, msg + body, len - body);
	if (rcpts != NULL && *nrcpts == 0)
		return "no recipient addresses found in header";
	return NULL;
}
