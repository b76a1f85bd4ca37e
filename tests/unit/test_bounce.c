/*
 * bounce: DSNs built for tables of cases, checked for structure (RFC 3464,
 * RFC 6522, RFC 5322 line rules) by a small MIME reader written here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "bounce.h"
#include "outcome.h"
#include "queue.h"
#include "util.h"

#define MTA	"mx.postern.test"
#define PM	"postmaster@mx.postern.test"
#define FULL_MAX	65536	/* bounce_full_max_size default */

static const char ORIG[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: hello\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "The body line one.\r\n"
    "SECRET-BODY-MARKER\r\n";

struct rc_case {
	const char	*addr;
	const char	*orcpt;
	uint32_t	 notify;
	const char	*status;
	const char	*text;
	const char	*remote;
};

static const struct {
	const char	*name;
	enum bounce_kind kind;
	const char	*sender;
	uint32_t	 flags;
	const char	*envid;
	struct rc_case	 r[3];
	size_t		 n;
	int		 want_rc;	/* 0 built, 1 suppressed */
	const char	*want_to;	/* DSN recipient */
	int		 want_nrep;	/* recipients reported */
	const char	*want_part3;	/* Content-Type of part 3 */
	const char	*want_subject;
} cases[] = {
	{ "plain failure", BOUNCE_FAILED, "alice@Example.ORG", 0, NULL,
	    { { "bob@example.net", NULL, 0, "5.1.1",
	    "550 5.1.1 <bob@example.net>: user unknown", "mx.example.net" } },
	    1, 0, "alice@Example.ORG", 1, "text/rfc822-headers",
	    "Undelivered Mail Returned to Sender" },
	{ "RET=FULL", BOUNCE_FAILED, "alice@example.org", QMSG_RET_FULL,
	    "env-42", { { "bob@example.net", "rfc822;bob+2Bx@example.net",
	    QNOTIFY_FAILURE, "5.7.1", "554 5.7.1 rejected", "mx.example.net" } },
	    1, 0, "alice@example.org", 1, "message/rfc822",
	    "Undelivered Mail Returned to Sender" },
	{ "RET=HDRS", BOUNCE_FAILED, "alice@example.org", QMSG_RET_HDRS,
	    NULL, { { "bob@example.net", NULL, 0, "5.1.1", "550 no", NULL } },
	    1, 0, "alice@example.org", 1, "text/rfc822-headers",
	    "Undelivered Mail Returned to Sender" },
	{ "delay", BOUNCE_DELAYED, "alice@example.org", QMSG_RET_FULL, NULL,
	    { { "bob@example.net", NULL, 0, "4.4.1",
	    "connect to mx.example.net[127.0.0.2]:25: Connection refused",
	    NULL } }, 1, 0, "alice@example.org", 1, "text/rfc822-headers",
	    "Delayed Mail (still being retried)" },
	{ "null sender", BOUNCE_FAILED, "", 0, NULL,
	    { { "bob@example.net", NULL, 0, "5.1.1", "550 no", NULL } },
	    1, 1, NULL, 0, NULL, NULL },
	{ "NOTIFY=NEVER", BOUNCE_FAILED, "alice@example.org", 0, NULL,
	    { { "bob@example.net", NULL, QNOTIFY_NEVER, "5.1.1", "550 no",
	    NULL } }, 1, 1, NULL, 0, NULL, NULL },
	{ "NOTIFY=SUCCESS only", BOUNCE_FAILED, "alice@example.org", 0, NULL,
	    { { "bob@example.net", NULL, QNOTIFY_SUCCESS, "5.1.1", "550 no",
	    NULL } }, 1, 1, NULL, 0, NULL, NULL },
	{ "NOTIFY=FAILURE, delay", BOUNCE_DELAYED, "alice@example.org", 0,
	    NULL, { { "bob@example.net", NULL, QNOTIFY_FAILURE, "4.4.1",
	    "timeout", NULL } }, 1, 1, NULL, 0, NULL, NULL },
	{ "NOTIFY=DELAY, delay", BOUNCE_DELAYED, "alice@example.org", 0,
	    NULL, { { "bob@example.net", NULL, QNOTIFY_DELAY, "4.4.1",
	    "timeout", NULL } }, 1, 0, "alice@example.org", 1,
	    "text/rfc822-headers", "Delayed Mail (still being retried)" },
	{ "mixed NOTIFY", BOUNCE_FAILED, "alice@example.org", 0, NULL,
	    { { "a@example.net", NULL, QNOTIFY_NEVER, "5.1.1", "550 a", NULL },
	      { "b@example.net", NULL, QNOTIFY_FAILURE | QNOTIFY_DELAY,
	      "5.1.1", "550 b", "mx.example.net" },
	      { "c@example.net", NULL, 0, "", "550 c", NULL } },
	    3, 0, "alice@example.org", 2, "text/rfc822-headers",
	    "Undelivered Mail Returned to Sender" },
	{ "failed DSN to postmaster", BOUNCE_FAILED, "", QMSG_DSN, NULL,
	    { { "alice@example.org", NULL, QNOTIFY_NEVER, "5.1.1", "550 gone",
	    "mx.example.org" } }, 1, 0, PM, 1, "text/rfc822-headers",
	    "Postmaster Copy: Undelivered Mail" },
	{ "failed postmaster notice", BOUNCE_FAILED, "", QMSG_DSN, NULL,
	    { { PM, NULL, 0, "5.1.1", "550 gone", NULL } }, 1, 1, NULL, 0,
	    NULL, NULL },
	{ "bare postmaster", BOUNCE_FAILED, "", QMSG_DSN, NULL,
	    { { "Postmaster", NULL, 0, "5.1.1", "550 gone", NULL } }, 1, 1,
	    NULL, 0, NULL, NULL },
	{ "delay of a DSN", BOUNCE_DELAYED, "", QMSG_DSN, NULL,
	    { { "alice@example.org", NULL, 0, "4.4.1", "timeout", NULL } }, 1,
	    1, NULL, 0, NULL, NULL },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

/* A DSN being read: the whole text and a cursor. */
struct dsn {
	const char	*p;
	size_t		 len;
};

/* Every line ends in CRLF, no bare CR or LF, none over 998 octets. */
static void
check_lines(const char *p, size_t len)
{
	size_t	 i, col = 0;

	assert_true(len >= 2);
	assert_memory_equal(p + len - 2, "\r\n", 2);
	for (i = 0; i < len; i++) {
		if (p[i] == '\r') {
			assert_true(i + 1 < len && p[i + 1] == '\n');
			assert_true(col <= 998);
			col = 0;
			i++;
			continue;
		}
		assert_true(p[i] != '\n');
		col++;
	}
}

/* The unfolded value of header field name in the header block of part
 * (up to the first empty line), or NULL.  Caller frees. */
static char *
field(const char *part, size_t len, const char *name)
{
	const char	*p = part, *end = part + len, *eol;
	size_t		 nl = strlen(name);
	struct buf	 b;

	while (p < end && !(end - p >= 2 && p[0] == '\r' && p[1] == '\n')) {
		eol = strstr(p, "\r\n");
		if (eol == NULL || eol > end)
			break;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			buf_init(&b);
			buf_append(&b, p + nl + 2, (size_t)(eol - p) - nl - 2);
			/* RFC 5322 §2.2.3 unfolding. */
			while (eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t')) {
				p = eol + 2;
				eol = strstr(p, "\r\n");
				buf_append(&b, p, (size_t)(eol - p));
			}
			return b.data;
		}
		p = eol + 2;
	}
	return NULL;
}

static int
count(const char *hay, size_t len, const char *needle)
{
	const char	*p = hay, *end = hay + len;
	int		 n = 0;

	while ((p = memmem(p, (size_t)(end - p), needle, strlen(needle)))) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* Splits the multipart body into parts; returns how many. */
static int
split_parts(const char *body, size_t len, const char *boundary,
    const char *part[4], size_t plen[4])
{
	char		 delim[256];
	const char	*p = body, *end = body + len, *q;
	int		 n = 0;

	(void)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	while ((q = memmem(p, (size_t)(end - p), delim, strlen(delim)))) {
		q += strlen(delim);
		if (n > 0)
			plen[n - 1] = (size_t)(q - strlen(delim) - part[n - 1]);
		if (q + 2 <= end && memcmp(q, "--", 2) == 0)
			break;
		assert_memory_equal(q, "\r\n", 2);
		assert_true(n < 4);
		part[n++] = q + 2;
		p = q;
	}
	return n;
}

static void
check_case(size_t ci, const struct qnew *dsn)
{
	const char	*part[4];
	size_t		 plen[4];
	char		*ct, *v, *boundary, *e;
	int		 nparts;

	check_lines(dsn->body, dsn->bodylen);
	assert_int_equal(dsn->nrcpt, 1);
	assert_string_equal(dsn->msg->sender, "");
	assert_true(dsn->msg->flags & QMSG_DSN);
	assert_string_equal(dsn->rcpts[0].addr, cases[ci].want_to);
	assert_non_null(strchr(cases[ci].want_to, '@'));
	v = xstrdup(strchr(cases[ci].want_to, '@') + 1);
	assert_string_equal(dsn->rcpts[0].dest, domain_normalize(v));
	free(v);

	v = field(dsn->body, dsn->bodylen, "From");
	assert_string_equal(v, "Mail Delivery System <MAILER-DAEMON@" MTA ">");
	free(v);
	v = field(dsn->body, dsn->bodylen, "Subject");
	assert_string_equal(v, cases[ci].want_subject);
	free(v);
	v = field(dsn->body, dsn->bodylen, "Auto-Submitted");
	assert_string_equal(v, "auto-replied");
	free(v);
	v = field(dsn->body, dsn->bodylen, "MIME-Version");
	assert_string_equal(v, "1.0");
	free(v);
	v = field(dsn->body, dsn->bodylen, "To");
	assert_non_null(strstr(v, cases[ci].want_to));
	free(v);
	v = field(dsn->body, dsn->bodylen, "Date");
	assert_non_null(v);
	free(v);
	v = field(dsn->body, dsn->bodylen, "Message-ID");
	assert_true(v != NULL && v[0] == '<' && strstr(v, "@" MTA ">"));
	free(v);

	ct = field(dsn->body, dsn->bodylen, "Content-Type");
	assert_non_null(strstr(ct, "multipart/report;"));
	assert_non_null(strstr(ct, "report-type=delivery-status"));
	boundary = strstr(ct, "boundary=\"");
	assert_non_null(boundary);
	boundary += strlen("boundary=\"");
	e = strchr(boundary, '"');
	assert_non_null(e);
	*e = '\0';
	assert_true(strlen(boundary) >= 1 && strlen(boundary) <= 70);

	nparts = split_parts(dsn->body, dsn->bodylen, boundary, part, plen);
	assert_int_equal(nparts, 3);
	free(ct);

	ct = field(part[0], plen[0], "Content-Type");
	assert_non_null(strstr(ct, "text/plain"));
	free(ct);
	/* The human part names each reported recipient with its reply. */
	assert_int_equal(count(part[0], plen[0], "\r\n<"), cases[ci].want_nrep);
	ct = field(part[1], plen[1], "Content-Type");
	assert_string_equal(ct, "message/delivery-status");
	free(ct);
	ct = field(part[2], plen[2], "Content-Type");
	assert_string_equal(ct, cases[ci].want_part3);
	free(ct);

	/* Per-message block first: it holds Reporting-MTA. */
	v = strstr(part[1], "\r\n\r\n");
	assert_non_null(v);
	assert_memory_equal(v + 4, "Reporting-MTA: dns; " MTA "\r\n",
	    strlen("Reporting-MTA: dns; " MTA "\r\n"));
	assert_int_equal(count(part[1], plen[1], "Arrival-Date: "), 1);
	assert_int_equal(count(part[1], plen[1], "\r\nFinal-Recipient: rfc822; "),
	    cases[ci].want_nrep);
	assert_int_equal(count(part[1], plen[1], "\r\nStatus: "),
	    cases[ci].want_nrep);
	assert_int_equal(count(part[1], plen[1], "\r\nLast-Attempt-Date: "),
	    cases[ci].want_nrep);
	assert_int_equal(count(part[1], plen[1], "\r\nDiagnostic-Code: "),
	    cases[ci].want_nrep);
	assert_int_equal(count(part[1], plen[1],
	    cases[ci].kind == BOUNCE_FAILED ? "\r\nAction: failed\r\n" :
	    "\r\nAction: delayed\r\n"), cases[ci].want_nrep);
	assert_int_equal(count(part[1], plen[1], "Original-Envelope-Id: "),
	    cases[ci].envid != NULL);
	if (cases[ci].envid != NULL)
		assert_int_equal(count(part[1], plen[1],
		    "Original-Envelope-Id: env-42\r\n"), 1);

	/* The original: headers always, the body only for RET=FULL. */
	assert_int_equal(count(part[2], plen[2], "Subject: hello\r\n"), 1);
	assert_int_equal(count(part[2], plen[2], "SECRET-BODY-MARKER"),
	    strcmp(cases[ci].want_part3, "message/rfc822") == 0);
}

static void
build_case(size_t ci, struct qnew *dsn, struct bounce_storage **st, int *rc)
{
	struct qmsg		 m;
	struct qrcpt		 r[3];
	struct outcome		 o[3];
	struct bounce_rcpt	 br[3];
	size_t			 i;

	memset(&m, 0, sizeof(m));
	memcpy(m.qid, "0000000000000001", QID_LEN + 1);
	m.arrival = 1700000000;
	m.flags = cases[ci].flags;
	m.sender = (char *)cases[ci].sender;
	m.envid = (char *)cases[ci].envid;
	for (i = 0; i < cases[ci].n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].idx = (uint32_t)i;
		r[i].notify = cases[ci].r[i].notify;
		r[i].addr = (char *)cases[ci].r[i].addr;
		r[i].orcpt = (char *)cases[ci].r[i].orcpt;
		outcome_set(&o[i], cases[ci].kind == BOUNCE_FAILED ?
		    OUTCOME_BOUNCE : OUTCOME_DEFER, cases[ci].r[i].status,
		    "%s", cases[ci].r[i].text);
		memset(&br[i], 0, sizeof(br[i]));
		br[i].rcpt = &r[i];
		br[i].outcome = &o[i];
		br[i].remote_mta = cases[ci].r[i].remote;
		br[i].retry_until = m.arrival + 5 * 86400;
	}
	*rc = bounce_build(MTA, PM, cases[ci].kind, &m, ORIG, strlen(ORIG),
	    FULL_MAX, br, cases[ci].n, dsn, st);
	assert_int_equal(*rc, cases[ci].want_rc);
	assert_int_equal(bounce_suppressed(cases[ci].kind, &m, br,
	    cases[ci].n, PM) != NULL, cases[ci].want_rc);
}

static void
test_cases(void **state)
{
	struct qnew		 dsn;
	struct bounce_storage	*st;
	size_t			 ci;
	int			 rc;

	(void)state;
	for (ci = 0; ci < NCASES; ci++) {
		print_message("case: %s\n", cases[ci].name);
		build_case(ci, &dsn, &st, &rc);
		if (rc == 0)
			check_case(ci, &dsn);
		else
			assert_null(st);
		bounce_free(st);
	}
}

/* One recipient with a given reply and original; returns the DSN. */
static int
build_one(enum bounce_kind kind, uint32_t flags, const char *orcpt,
    const char *reply, const char *remote, const char *orig, size_t olen,
    struct qnew *dsn, struct bounce_storage **st)
{
	struct qmsg		 m;
	struct qrcpt		 r;
	struct outcome		 o;
	struct bounce_rcpt	 br;

	memset(&m, 0, sizeof(m));
	memset(&r, 0, sizeof(r));
	memset(&br, 0, sizeof(br));
	m.arrival = 1700000000;
	m.flags = flags;
	m.sender = "alice@example.org";
	r.addr = "bob@example.net";
	r.orcpt = (char *)orcpt;
	outcome_set(&o, kind == BOUNCE_FAILED ? OUTCOME_BOUNCE : OUTCOME_DEFER,
	    kind == BOUNCE_FAILED ? "5.0.0" : "4.0.0", "%s", reply);
	br.rcpt = &r;
	br.outcome = &o;
	br.remote_mta = remote;
	br.last_attempt = 1700000100;
	br.retry_until = 1700432000;
	return bounce_build(MTA, PM, kind, &m, orig, olen, FULL_MAX, &br, 1,
	    dsn, st);
}

static char *
dsn_field(const struct qnew *dsn, const char *name)
{
	const char	*p = strstr(dsn->body, "message/delivery-status\r\n\r\n");

	assert_non_null(p);
	p += strlen("message/delivery-status\r\n\r\n");
	/* Skip the per-message block to the recipient block. */
	p = strstr(p, "\r\n\r\n");
	assert_non_null(p);
	p += 4;
	return field(p, strlen(p), name);
}

static void
test_long_reply(void **state)
{
	struct qnew		 dsn;
	struct bounce_storage	*st;
	char			 reply[511], *v;
	size_t			 i;

	(void)state;
	/* Many words: folded at white space, unfolds to the same text. */
	for (i = 0; i < sizeof(reply) - 1; i++)
		reply[i] = i % 7 == 6 ? ' ' : 'a' + (char)(i % 26);
	reply[sizeof(reply) - 1] = '\0';
	assert_int_equal(build_one(BOUNCE_FAILED, 0, NULL, reply, "mx.b",
	    ORIG, strlen(ORIG), &dsn, &st), 0);
	check_lines(dsn.body, dsn.bodylen);
	v = dsn_field(&dsn, "Diagnostic-Code");
	assert_non_null(v);
	assert_memory_equal(v, "smtp; ", 6);
	assert_int_equal(strncmp(v + 6, reply, 20), 0);
	free(v);
	/* Folded lines stay near 78 columns. */
	v = strstr(dsn.body, "Diagnostic-Code: ");
	assert_true(strstr(v, "\r\n") - v <= 78);
	bounce_free(st);

	/* One word of 511 octets: no white space to fold at, under 998. */
	memset(reply, 'x', sizeof(reply) - 1);
	assert_int_equal(build_one(BOUNCE_FAILED, 0, NULL, reply, NULL,
	    ORIG, strlen(ORIG), &dsn, &st), 0);
	check_lines(dsn.body, dsn.bodylen);
	v = dsn_field(&dsn, "Diagnostic-Code");
	assert_string_equal(v + strlen("X-Postern; "), reply);
	free(v);
	bounce_free(st);
}

static void
test_long_original_lines(void **state)
{
	struct qnew		 dsn;
	struct bounce_storage	*st;
	struct buf		 o;
	size_t			 i;

	(void)state;
	/* A 3000-octet header line and body line, bare LF endings. */
	buf_init(&o);
	buf_appendstr(&o, "Subject: hello\nX-Long: ");
	for (i = 0; i < 3000; i++)
		buf_append(&o, "h", 1);
	buf_appendstr(&o, "\n\nbody ");
	for (i = 0; i < 3000; i++)
		buf_append(&o, "b", 1);
	buf_appendstr(&o, "\n");
	assert_int_equal(build_one(BOUNCE_FAILED, QMSG_RET_FULL, NULL, "550 x",
	    NULL, o.data, o.len, &dsn, &st), 0);
	check_lines(dsn.body, dsn.bodylen);
	assert_non_null(strstr(dsn.body, "\r\nSubject: hello\r\nX-Long: hhh"));
	bounce_free(st);
	assert_int_equal(build_one(BOUNCE_FAILED, 0, NULL, "550 x",
	    NULL, o.data, o.len, &dsn, &st), 0);
	check_lines(dsn.body, dsn.bodylen);
	assert_null(strstr(dsn.body, "bbbb"));
	bounce_free(st);
	buf_free(&o);
}

static void
test_fields(void **state)
{
	static const struct {
		const char	*orcpt;
		const char	*want;
	} oc[] = {
		{ "rfc822;bob+2Bx@example.net", "rfc822; bob+x@example.net" },
		{ "rfc822;plain@example.net", "rfc822; plain@example.net" },
		{ "bob@example.net", "rfc822; bob@example.net" },
		{ "rfc822;bad+ZZescape", "rfc822; bad+ZZescape" },
		{ "rfc822;cr+0Dlf+0A", "rfc822; cr lf" },
		{ "rfc822;end+4", "rfc822; end+4" },
	};
	struct qnew		 dsn;
	struct bounce_storage	*st;
	char			*v;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(oc) / sizeof(oc[0]); i++) {
		assert_int_equal(build_one(BOUNCE_FAILED, 0, oc[i].orcpt,
		    "550 x", NULL, ORIG, strlen(ORIG), &dsn, &st), 0);
		check_lines(dsn.body, dsn.bodylen);
		v = dsn_field(&dsn, "Original-Recipient");
		assert_string_equal(v, oc[i].want);
		free(v);
		bounce_free(st);
	}
	/* Delayed: Will-Retry-Until, Remote-MTA when known. */
	assert_int_equal(build_one(BOUNCE_DELAYED, 0, NULL, "451 later",
	    "mx.example.net", ORIG, strlen(ORIG), &dsn, &st), 0);
	v = dsn_field(&dsn, "Will-Retry-Until");
	assert_non_null(v);
	free(v);
	v = dsn_field(&dsn, "Remote-MTA");
	assert_string_equal(v, "dns; mx.example.net");
	free(v);
	v = dsn_field(&dsn, "Status");
	assert_string_equal(v, "4.0.0");
	free(v);
	assert_null(dsn_field(&dsn, "Original-Recipient"));
	assert_int_equal(dsn.msg->flags, QMSG_DSN);
	assert_int_equal(dsn.msg->size, dsn.bodylen);
	assert_int_equal(dsn.rcpts[0].state, QRCPT_QUEUED);
	bounce_free(st);
	/* Failed: no Will-Retry-Until. */
	assert_int_equal(build_one(BOUNCE_FAILED, 0, NULL, "550 x", NULL,
	    ORIG, strlen(ORIG), &dsn, &st), 0);
	assert_null(dsn_field(&dsn, "Will-Retry-Until"));
	assert_null(dsn_field(&dsn, "Remote-MTA"));
	bounce_free(st);
}

static void
test_eightbit_and_boundary(void **state)
{
	static const char eight[] = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
	struct qnew		 dsn;
	struct bounce_storage	*st;
	char			*ct, *b;

	(void)state;
	assert_int_equal(build_one(BOUNCE_FAILED, 0, NULL, "550 x", NULL,
	    eight, strlen(eight), &dsn, &st), 0);
	assert_true(dsn.msg->flags & QMSG_8BITMIME);
	bounce_free(st);
	assert_int_equal(build_one(BOUNCE_FAILED, QMSG_SMTPUTF8, NULL, "550 x",
	    NULL, ORIG, strlen(ORIG), &dsn, &st), 0);
	assert_true(dsn.msg->flags & QMSG_SMTPUTF8);
	/* The boundary occurs only as a delimiter (4 times: 3 parts, end). */
	ct = field(dsn.body, dsn.bodylen, "Content-Type");
	b = strstr(ct, "boundary=\"") + strlen("boundary=\"");
	*strchr(b, '"') = '\0';
	assert_int_equal(count(dsn.body, dsn.bodylen, b), 5);
	free(ct);
	bounce_free(st);
	/* No header/body separator: the whole original is headers. */
	assert_int_equal(build_one(BOUNCE_FAILED, 0, NULL, "550 x", NULL,
	    "Subject: only", 13, &dsn, &st), 0);
	check_lines(dsn.body, dsn.bodylen);
	assert_non_null(strstr(dsn.body, "\r\nSubject: only\r\n"));
	bounce_free(st);
	/* Empty original. */
	assert_int_equal(build_one(BOUNCE_FAILED, 0, NULL, "550 x", NULL,
	    "", 0, &dsn, &st), 0);
	check_lines(dsn.body, dsn.bodylen);
	bounce_free(st);
}

static void
test_return(void **state)
{
	static const struct {
		const char		*what;
		enum bounce_kind	 kind;
		uint32_t		 flags;
		size_t			 len;
		long long		 max;
		enum bounce_return	 want;
	} cases[] = {
		{ "no RET", BOUNCE_FAILED, 0, 10, 100, BOUNCE_RETURN_HEADERS },
		{ "RET=HDRS", BOUNCE_FAILED, QMSG_RET_HDRS, 10, 100,
		    BOUNCE_RETURN_HEADERS },
		{ "small untrusted", BOUNCE_FAILED, QMSG_RET_FULL, 10, 100,
		    BOUNCE_RETURN_FULL },
		{ "at the limit", BOUNCE_FAILED, QMSG_RET_FULL, 100, 100,
		    BOUNCE_RETURN_FULL },
		{ "one over", BOUNCE_FAILED, QMSG_RET_FULL, 101, 100,
		    BOUNCE_RETURN_HEADERS_SIZE },
		{ "limit 0", BOUNCE_FAILED, QMSG_RET_FULL, 1, 0,
		    BOUNCE_RETURN_HEADERS_SIZE },
		{ "large trusted", BOUNCE_FAILED, QMSG_RET_FULL | QMSG_TRUSTED,
		    1 << 20, 100, BOUNCE_RETURN_FULL },
		{ "trusted, no RET", BOUNCE_FAILED, QMSG_TRUSTED, 10, 100,
		    BOUNCE_RETURN_HEADERS },
		/* RFC 3461 §4.3: delays return headers whatever RET says. */
		{ "delay", BOUNCE_DELAYED, QMSG_RET_FULL | QMSG_TRUSTED, 10,
		    100, BOUNCE_RETURN_HEADERS },
		{ "success", BOUNCE_SUCCESS, QMSG_RET_FULL, 10, 100,
		    BOUNCE_RETURN_HEADERS },
		{ "negative limit", BOUNCE_FAILED, QMSG_RET_FULL, 0, -1,
		    BOUNCE_RETURN_HEADERS_SIZE },
	};
	struct qmsg	 m;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.flags = cases[i].flags;
		if (bounce_return(cases[i].kind, &m, cases[i].len,
		    cases[i].max) != cases[i].want)
			fail_msg("%s", cases[i].what);
	}
}

/* Above the limit: headers only, said in the text and the part. */
static void
test_large_untrusted_headers_only(void **state)
{
	struct qnew		 dsn;
	struct bounce_storage	*st;
	struct buf		 o;
	size_t			 i;

	(void)state;
	buf_init(&o);
	buf_appendstr(&o, "Subject: big\r\n\r\n");
	for (i = 0; i < FULL_MAX / 64 + 1; i++)
		buf_appendstr(&o, "0123456789abcdef0123456789abcdef"
		    "0123456789abcdef012345678901ZZ\r\n");
	assert_int_equal(build_one(BOUNCE_FAILED, QMSG_RET_FULL, NULL, "550 x",
	    NULL, o.data, o.len, &dsn, &st), 0);
	check_lines(dsn.body, dsn.bodylen);
	assert_non_null(strstr(dsn.body, "\r\nSubject: big\r\n"));
	assert_null(strstr(dsn.body, "01ZZ"));
	assert_null(strstr(dsn.body, "message/rfc822"));
	assert_non_null(strstr(dsn.body, "Content-Type: text/rfc822-headers"));
	assert_non_null(strstr(dsn.body, "too large to return"));
	assert_non_null(strstr(dsn.body, "only its\r\nheaders are returned"));
	bounce_free(st);
	/* The same from a trusted client: all of it. */
	assert_int_equal(build_one(BOUNCE_FAILED, QMSG_RET_FULL | QMSG_TRUSTED,
	    NULL, "550 x", NULL, o.data, o.len, &dsn, &st), 0);
	assert_non_null(strstr(dsn.body, "01ZZ"));
	assert_non_null(strstr(dsn.body, "message/rfc822"));
	assert_null(strstr(dsn.body, "headers are returned"));
	bounce_free(st);
	buf_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_long_reply),
		cmocka_unit_test(test_long_original_lines),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_eightbit_and_boundary),
		cmocka_unit_test(test_return),
		cmocka_unit_test(test_large_untrusted_headers_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
